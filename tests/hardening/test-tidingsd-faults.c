/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * tidingsd killed with SIGKILL: what it acknowledged must survive.
 *
 * "Acknowledged" is what a client can see: with echo-message, the echo of
 * a PRIVMSG (RFC: sent once the server has accepted and relayed the
 * message), and for REGISTER the `REGISTER SUCCESS` reply. Every message
 * echoed before the kill must come back from CHATHISTORY after a restart
 * on the same database; every account created must still exist.
 *
 * Each test first checks that the server persists that kind of data at
 * all (across a clean SIGTERM restart). If it does not, the test is
 * skipped with the reason: a SIGKILL cannot lose what is never stored.
 */
#include "config.h"

#include "td-hardening-test.h"

#define CAPS "echo-message labeled-response message-tags server-time batch draft/chathistory draft/account-registration"

static const char * const chat_only[] = {
  "--chat-port", "0", "--pubsub-port", "-1", "--line-port", "-1", "--files-port", "-1", NULL
};

/* TD_HARD_FORCE=1 runs the kill tests even where the probe says the data
 * is not persisted (to see what is lost). */
static gboolean
force_run (void)
{
  return g_strcmp0 (g_getenv ("TD_HARD_FORCE"), "1") == 0;
}

/* Connects and registers @nick with the capabilities above. */
static TdHardConn *
irc_login (guint16     port,
           const char *nick)
{
  TdHardConn *conn = td_hard_conn_new (td_hard_connect (port));
  g_autofree char *hello = g_strdup_printf ("CAP LS 302\r\nCAP REQ :" CAPS "\r\n"
                                            "NICK %s\r\nUSER %s 0 * :%s\r\nCAP END\r\n",
                                            nick, nick, nick);
  g_autofree char *welcome = NULL;

  td_hard_send (conn->fd, hello);
  welcome = td_hard_conn_expect (conn, " 001 ");
  return conn;
}

static void
irc_join (TdHardConn *conn,
          const char *channel)
{
  g_autofree char *line = g_strdup_printf ("JOIN %s\r\n", channel);
  g_autofree char *end = NULL;

  td_hard_send (conn->fd, line);
  end = td_hard_conn_expect (conn, " 366 ");
}

/* Returns the texts CHATHISTORY LATEST gives for @channel (a set). */
static GHashTable *
irc_history (TdHardConn *conn,
             const char *channel)
{
  GHashTable *texts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *request = g_strdup_printf ("CHATHISTORY LATEST %s * 1000\r\n", channel);

  td_hard_send (conn->fd, request);
  for (;;)
    {
      g_autofree char *line = td_hard_conn_line (conn, TD_HARD_TIMEOUT_MS);
      const char *text;

      g_assert_nonnull (line);
      if (strstr (line, "FAIL CHATHISTORY") != NULL)
        g_error ("%s", line);
      if (strstr (line, " BATCH -") != NULL)
        break;
      text = strstr (line, " PRIVMSG ");
      if (text != NULL && (text = strstr (text, " :")) != NULL)
        g_hash_table_add (texts, g_strdup (text + 2));
    }
  return texts;
}

/* Returns TRUE if a message sent before a clean stop is in the history
 * after a restart. */
static gboolean
history_is_persistent (const char *db)
{
  TdHardServer *server = td_hard_server_start (db, chat_only);
  g_autoptr(TdHardConn) conn = irc_login (server->chat_port, "probe");
  g_autoptr(GHashTable) texts = NULL;
  g_autofree char *echo = NULL;

  irc_join (conn, "#probe");
  td_hard_send (conn->fd, "PRIVMSG #probe :probe-message\r\n");
  echo = td_hard_conn_expect (conn, "probe-message");
  g_clear_pointer (&conn, td_hard_conn_free);
  td_hard_server_stop (server, SIGTERM);

  server = td_hard_server_start (db, chat_only);
  conn = irc_login (server->chat_port, "probe");
  irc_join (conn, "#probe");
  texts = irc_history (conn, "#probe");
  g_clear_pointer (&conn, td_hard_conn_free);
  td_hard_server_stop (server, SIGTERM);
  return g_hash_table_contains (texts, "probe-message");
}

#define N_SENDERS   8
#define N_MESSAGES  12

static void
test_history_sigkill (void)
{
  g_autofree char *dir = g_dir_make_tmp ("td-hard-XXXXXX", NULL);
  g_autofree char *db = g_build_filename (dir, "tidingsd.db", NULL);
  g_autoptr(GHashTable) acked = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GHashTable) texts = NULL;
  TdHardConn *senders[N_SENDERS];
  g_autoptr(TdHardConn) reader = NULL;
  TdHardServer *server;
  guint lost = 0;

  if (!history_is_persistent (db) && !force_run ())
    {
      g_test_skip ("tidingsd keeps chat history in memory only (no TdChatHistoryStore is set in "
                   "src/server/td-server.c), so it is lost on any restart; this test runs once "
                   "history is persisted through the recorder");
      return;
    }

  server = td_hard_server_start (db, chat_only);
  for (guint i = 0; i < N_SENDERS; i++)
    {
      g_autofree char *nick = g_strdup_printf ("sender%u", i);

      senders[i] = irc_login (server->chat_port, nick);
      irc_join (senders[i], "#hist");
    }

  /* Everyone sends everything at once, then the server dies while the
   * echoes are still coming back. */
  for (guint j = 0; j < N_MESSAGES; j++)
    for (guint i = 0; i < N_SENDERS; i++)
      {
        g_autofree char *line = g_strdup_printf ("@label=l%u-%u PRIVMSG #hist :m-%u-%u\r\n", i, j, i, j);

        td_hard_send (senders[i]->fd, line);
      }
  while (g_hash_table_size (acked) < N_SENDERS * N_MESSAGES / 2)
    for (guint i = 0; i < N_SENDERS; i++)
      {
        g_autofree char *line = td_hard_conn_line (senders[i], 1);
        const char *text;

        if (line != NULL && strstr (line, "label=") != NULL &&
            (text = strstr (line, " PRIVMSG #hist :")) != NULL)
          g_hash_table_add (acked, g_strdup (text + strlen (" PRIVMSG #hist :")));
      }
  td_hard_server_stop (server, SIGKILL);

  /* Echoes already in the socket buffers were acknowledged too. */
  for (guint i = 0; i < N_SENDERS; i++)
    {
      char *line;

      while ((line = td_hard_conn_line (senders[i], TD_HARD_TIMEOUT_MS)) != NULL)
        {
          const char *text = strstr (line, " PRIVMSG #hist :");

          if (strstr (line, "label=") != NULL && text != NULL)
            g_hash_table_add (acked, g_strdup (text + strlen (" PRIVMSG #hist :")));
          g_free (line);
        }
      td_hard_conn_free (senders[i]);
    }
  g_test_message ("%u messages acknowledged before SIGKILL", g_hash_table_size (acked));

  server = td_hard_server_start (db, chat_only);
  reader = irc_login (server->chat_port, "reader");
  irc_join (reader, "#hist");
  texts = irc_history (reader, "#hist");
  {
    GHashTableIter iter;
    gpointer key;

    g_hash_table_iter_init (&iter, acked);
    while (g_hash_table_iter_next (&iter, &key, NULL))
      if (!g_hash_table_contains (texts, key))
        {
          g_test_message ("lost: %s", (const char *) key);
          lost++;
        }
  }
  g_clear_pointer (&reader, td_hard_conn_free);
  td_hard_server_stop (server, SIGTERM);
  g_assert_cmpuint (lost, ==, 0);
}

/* REGISTER @account; returns the reply line (owned). */
static char *
irc_register (TdHardConn *conn,
              const char *account)
{
  g_autofree char *line = g_strdup_printf ("REGISTER %s * correct-horse-battery\r\n", account);

  td_hard_send (conn->fd, line);
  for (;;)
    {
      char *reply = td_hard_conn_line (conn, TD_HARD_TIMEOUT_MS);

      g_assert_nonnull (reply);
      if (strstr (reply, "REGISTER ") != NULL)
        return reply;
      g_free (reply);
    }
}

#define N_ACCOUNTS 20

static void
test_accounts_sigkill (void)
{
  g_autofree char *dir = g_dir_make_tmp ("td-hard-XXXXXX", NULL);
  g_autofree char *db = g_build_filename (dir, "tidingsd.db", NULL);
  g_autoptr(GPtrArray) created = g_ptr_array_new_with_free_func (g_free);
  TdHardServer *server;
  g_autoptr(TdHardConn) conn = NULL;
  guint lost = 0;

  /* Does an account survive a clean restart? */
  server = td_hard_server_start (db, chat_only);
  conn = irc_login (server->chat_port, "someone");
  g_free (irc_register (conn, "probeacct"));
  g_clear_pointer (&conn, td_hard_conn_free);
  td_hard_server_stop (server, SIGTERM);
  server = td_hard_server_start (db, chat_only);
  conn = irc_login (server->chat_port, "someone");
  {
    g_autofree char *reply = irc_register (conn, "probeacct");

    if (strstr (reply, "ACCOUNT_EXISTS") == NULL && !force_run ())
      {
        g_clear_pointer (&conn, td_hard_conn_free);
        td_hard_server_stop (server, SIGTERM);
        g_test_skip ("tidingsd keeps chat accounts in memory only (no accounts store is set in "
                     "src/server/td-server.c), so they are lost on any restart; this test runs "
                     "once accounts are persisted");
        return;
      }
  }

  g_clear_pointer (&conn, td_hard_conn_free);
  conn = irc_login (server->chat_port, "someone");

  /* Register many, kill at once after the last success. */
  for (guint i = 0; i < N_ACCOUNTS; i++)
    {
      g_autofree char *account = g_strdup_printf ("acct%u", i);
      g_autofree char *reply = irc_register (conn, account);

      /* One client may hold one account; log in fresh for the next. */
      if (strstr (reply, "REGISTER SUCCESS") != NULL)
        g_ptr_array_add (created, g_steal_pointer (&account));
      g_clear_pointer (&conn, td_hard_conn_free);
      conn = irc_login (server->chat_port, "someone");
    }
  td_hard_server_stop (server, SIGKILL);
  g_clear_pointer (&conn, td_hard_conn_free);
  g_assert_cmpuint (created->len, ==, N_ACCOUNTS);

  server = td_hard_server_start (db, chat_only);
  for (guint i = 0; i < created->len; i++)
    {
      g_autofree char *reply = NULL;

      conn = irc_login (server->chat_port, "checker");
      reply = irc_register (conn, g_ptr_array_index (created, i));
      if (strstr (reply, "ACCOUNT_EXISTS") == NULL)
        {
          g_test_message ("lost account %s: %s", (const char *) g_ptr_array_index (created, i), reply);
          lost++;
        }
      g_clear_pointer (&conn, td_hard_conn_free);
    }
  td_hard_server_stop (server, SIGTERM);
  g_assert_cmpuint (lost, ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  signal (SIGPIPE, SIG_IGN);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/td/hardening/tidingsd/history-survives-sigkill", test_history_sigkill);
  g_test_add_func ("/td/hardening/tidingsd/accounts-survive-sigkill", test_accounts_sigkill);
  return g_test_run ();
}
