/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <signal.h>
#include <string.h>
#include <glib/gstdio.h>

#include "chat/td-irc-server.h"
#include "store/td-recorder.h"
#include "td-irc-test.h"

/*
 * History and accounts in the server database.
 *
 * In process: an IRC server with a ring of RING messages per target on a
 * recorder, restarted on the same file, must answer every CHATHISTORY
 * subcommand as if it remembered everything (from memory inside the ring,
 * from sqlite beyond it), with the label of a labeled request and in the
 * order of the requests.
 *
 * The real `tidingsd` ($TD_TIDINGSD): what it acknowledged (an echo, the
 * PONG after a message, REGISTER SUCCESS) survives SIGTERM and SIGKILL;
 * `account add|delete|list` work and refuse bad input.
 */

#define RING        10
#define N_MESSAGES  50
#define CAPS        "batch server-time message-tags echo-message labeled-response draft/chathistory"
#define PASSWORD    "correct-horse-battery"
#define N_BURST      10
#define N_BURST_LAST 9

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static char *
make_dir (void)
{
  g_autoptr(GError) error = NULL;
  char *dir = g_dir_make_tmp ("td-chat-persist-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

static void
remove_dir (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      g_remove (path);
    }
  g_rmdir (dir);
}

/* Iterates the thread-default context until *@done, failing the test at
 * the deadline. */
static void
wait_for (gboolean   *done,
          const char *what)
{
  gint64 deadline = g_get_monotonic_time () + 2 * TD_IRC_TEST_TIMEOUT_S * G_USEC_PER_SEC;

  while (!*done)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("timed out waiting for %s", what);
      g_main_context_iteration (NULL, FALSE);
      if (!*done)
        g_usleep (1000);
    }
}

/* Sends @command and returns the PRIVMSG/NOTICE texts of its batch, in
 * order. Fails on FAIL. */
static GPtrArray *
chathistory (TdIrcTestClient *c,
             const char      *command)
{
  GPtrArray *texts = g_ptr_array_new_with_free_func (g_free);

  td_irc_test_send (c, "%s", command);
  for (;;)
    {
      g_autofree char *line = td_irc_test_read_line (c);
      g_autoptr(TdIrcMessage) message = NULL;

      g_assert_nonnull (line);
      if (g_test_verbose ())
        g_test_message ("%s <- %s", c->name, line);
      if (strstr (line, "FAIL ") != NULL)
        g_error ("%s: %s", command, line);
      if (strstr (line, " BATCH -") != NULL)
        break;
      message = td_irc_message_parse (line, -1, NULL);
      g_assert_nonnull (message);
      if ((g_str_equal (message->command, "PRIVMSG") || g_str_equal (message->command, "NOTICE")) &&
          message->n_params >= 2)
        g_ptr_array_add (texts, g_strdup (message->params[1]));
    }
  return texts;
}

static char *
join_texts (GPtrArray *texts)
{
  g_ptr_array_add (texts, NULL);
  return g_strjoinv (" ", (char **) texts->pdata);
}

/* The texts "m<from>" .. "m<to - 1>" joined like join_texts(). */
static char *
range (guint from,
       guint to)
{
  g_autoptr(GString) out = g_string_new (NULL);

  for (guint i = from; i < to; i++)
    g_string_append_printf (out, "%sm%u", out->len ? " " : "", i);
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* @format with its first "%s" replaced by @a and the second by @b. */
static char *
expand (const char *format,
        const char *a,
        const char *b)
{
  g_auto(GStrv) parts = g_strsplit (format, "%s", 3);
  g_autoptr(GString) out = g_string_new (parts[0]);

  for (guint i = 1; parts[i] != NULL; i++)
    {
      g_string_append (out, i == 1 ? a : b);
      g_string_append (out, parts[i]);
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* Returns the value of tag @key of @line (owned) or NULL. */
static char *
tag_of (const char *line,
        const char *key)
{
  g_autoptr(TdIrcMessage) message = td_irc_message_parse (line, -1, NULL);
  const char *value;

  g_assert_nonnull (message);
  value = td_irc_message_get_tag (message, key, NULL);
  return g_strdup (value);
}

/* ------------------------------------------------------------------ */
/* In process: a server with a small ring, restarted                   */
/* ------------------------------------------------------------------ */

typedef struct
{
  char            *dir;
  char            *db;
  TdRecorder      *recorder;
  TdIrcTestServer *ts;
} Persisted;

static void
persisted_start (Persisted *p)
{
  g_autoptr(TdIrcServerConfig) config = td_irc_server_config_new ();
  TdIrcServer *server;

  config->history_ring = RING;
  config->flood_control = FALSE;
  p->recorder = td_recorder_new (p->db, td_schema_server ());
  server = td_irc_server_new (config);
  td_irc_server_set_recorder (server, p->recorder);
  p->ts = td_irc_test_server_start (server);
}

static void
persisted_stop (Persisted *p)
{
  g_autoptr(GError) error = NULL;

  g_clear_pointer (&p->ts, td_irc_test_server_free);
  g_assert_true (td_recorder_close (p->recorder, &error));
  g_assert_no_error (error);
  g_clear_pointer (&p->recorder, td_recorder_free);
}

/* Every subcommand beyond the ring after a restart; the times of m<i> are
 * those the server gave (server-time of the echoes), so that time
 * selectors are checked against the server's own clock. */
static void
test_beyond_ring (void)
{
  Persisted p = { 0 };
  g_autoptr(TdIrcTestClient) alice = NULL;
  g_autoptr(TdIrcTestClient) bob = NULL;
  char *msgids[N_MESSAGES] = { 0 };
  char *times[N_MESSAGES] = { 0 };

  p.dir = make_dir ();
  p.db = g_build_filename (p.dir, "tidingsd.db", NULL);
  persisted_start (&p);

  alice = td_irc_test_connect (p.ts->port, "alice", CAPS);
  bob = td_irc_test_connect (p.ts->port, "Bob", CAPS);
  td_irc_test_send (alice, "JOIN #a");
  g_free (td_irc_test_expect (alice, " 366 "));
  for (guint i = 0; i < N_MESSAGES; i++)
    {
      g_autofree char *needle = g_strdup_printf ("PRIVMSG #a :m%u", i);
      g_autofree char *echo = NULL;

      td_irc_test_send (alice, "PRIVMSG #a :m%u", i);
      echo = td_irc_test_expect (alice, needle);
      msgids[i] = tag_of (echo, "msgid");
      times[i] = tag_of (echo, "time");
      /* Mostly distinct milliseconds, so time selectors mean something. */
      g_usleep (2000);
    }
  td_irc_test_send (alice, "PRIVMSG Bob :dm0");
  g_free (td_irc_test_expect (alice, "PRIVMSG Bob :dm0"));
  td_irc_test_send (bob, "PRIVMSG alice :dm1");
  g_free (td_irc_test_expect (bob, "PRIVMSG alice :dm1"));
  g_clear_pointer (&alice, td_irc_test_client_free);
  g_clear_pointer (&bob, td_irc_test_client_free);
  persisted_stop (&p);

  /* Restarted: the ring holds m40..m49, the rest is on disk. */
  persisted_start (&p);
  alice = td_irc_test_connect (p.ts->port, "alice", CAPS);
  td_irc_test_send (alice, "JOIN #a");
  g_free (td_irc_test_expect (alice, " 366 "));

  {
    struct { const char *format; guint a, b; char *expected; } cases[] = {
      { "CHATHISTORY LATEST #a * 5", 0, 0, range (45, 50) },
      { "CHATHISTORY LATEST #a * 30", 0, 0, range (20, 50) },
      { "CHATHISTORY LATEST #a msgid=%s 100", 30, 0, range (31, 50) },
      { "CHATHISTORY BEFORE #a msgid=%s 5", 20, 0, range (15, 20) },
      { "CHATHISTORY BEFORE #a msgid=%s 100", 3, 0, range (0, 3) },
      { "CHATHISTORY AFTER #a msgid=%s 3", 5, 0, range (6, 9) },
      { "CHATHISTORY AFTER #a msgid=%s 100", 44, 0, range (45, 50) },
      { "CHATHISTORY AROUND #a msgid=%s 6", 20, 0, range (17, 23) },
      { "CHATHISTORY BETWEEN #a msgid=%s msgid=%s 100", 10, 15, range (11, 15) },
      { "CHATHISTORY BETWEEN #a msgid=%s msgid=%s 2", 15, 10, range (13, 15) },
      { "CHATHISTORY BEFORE #a msgid=unknown 5", 0, 0, g_strdup ("") },
    };

    for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
      {
        g_autofree char *command = expand (cases[i].format, msgids[cases[i].a], msgids[cases[i].b]);
        g_autoptr(GPtrArray) texts = chathistory (alice, command);
        g_autofree char *got = join_texts (g_steal_pointer (&texts));

        g_test_message ("%s", command);
        g_assert_cmpstr (got, ==, cases[i].expected);
        g_free (cases[i].expected);
      }
  }

  /* Time selectors: the oracle is the list of times the server gave. */
  {
    guint pivot = 20;
    g_autofree char *before = g_strdup_printf ("CHATHISTORY BEFORE #a timestamp=%s 5", times[pivot]);
    g_autofree char *after = g_strdup_printf ("CHATHISTORY AFTER #a timestamp=%s 4", times[pivot]);
    g_autoptr(GPtrArray) got_before = chathistory (alice, before);
    g_autoptr(GPtrArray) got_after = chathistory (alice, after);
    g_autoptr(GString) want_before = g_string_new (NULL);
    g_autoptr(GString) want_after = g_string_new (NULL);
    g_autofree char *b = NULL, *a = NULL;
    guint lo = 0, hi = 0, n = 0;

    for (guint i = 0; i < N_MESSAGES; i++)
      if (g_strcmp0 (times[i], times[pivot]) < 0)
        lo = i + 1;
    for (guint i = lo > 5 ? lo - 5 : 0; i < lo; i++)
      g_string_append_printf (want_before, "%sm%u", want_before->len ? " " : "", i);
    for (hi = 0; hi < N_MESSAGES && g_strcmp0 (times[hi], times[pivot]) <= 0; hi++)
      ;
    for (guint i = hi; i < N_MESSAGES && n < 4; i++, n++)
      g_string_append_printf (want_after, "%sm%u", want_after->len ? " " : "", i);
    b = join_texts (g_steal_pointer (&got_before));
    a = join_texts (g_steal_pointer (&got_after));
    g_assert_cmpstr (b, ==, want_before->str);
    g_assert_cmpstr (a, ==, want_after->str);
  }

  /* Private messages come back from the restarted ring too. */
  {
    g_autoptr(GPtrArray) dm = chathistory (alice, "CHATHISTORY LATEST bob * 10");
    g_autofree char *got = join_texts (g_steal_pointer (&dm));

    g_assert_cmpstr (got, ==, "dm0 dm1");
  }

  /* ... with their recipient as it was written, not the casefolded key. */
  {
    gboolean seen = FALSE;

    td_irc_test_send (alice, "CHATHISTORY LATEST bob * 10");
    for (;;)
      {
        g_autofree char *line = td_irc_test_read_line (alice);

        g_assert_nonnull (line);
        if (strstr (line, " BATCH -") != NULL)
          break;
        if (strstr (line, ":dm0") != NULL)
          {
            g_assert_nonnull (strstr (line, " PRIVMSG Bob :dm0"));
            seen = TRUE;
          }
      }
    g_assert_true (seen);
  }

  /* TARGETS over a window the ring no longer covers: from sqlite. */
  {
    g_autofree char *command = g_strdup_printf ("CHATHISTORY TARGETS timestamp=%s timestamp=%s 10",
                                                times[5], times[25]);
    g_autofree char *line = NULL;
    gboolean seen = FALSE;

    td_irc_test_send (alice, "%s", command);
    for (;;)
      {
        g_free (line);
        line = td_irc_test_read_line (alice);
        g_assert_nonnull (line);
        g_assert_null (strstr (line, "FAIL "));
        if (strstr (line, " BATCH -") != NULL)
          break;
        if (strstr (line, "CHATHISTORY TARGETS #a ") != NULL)
          seen = TRUE;
      }
    g_assert_true (seen);
  }

  /* An answer from the disk keeps the label, and a later command is
   * answered after it. */
  {
    g_autofree char *first = NULL;
    gboolean closed = FALSE, got_rows = FALSE;

    td_irc_test_send (alice, "@label=old CHATHISTORY BEFORE #a msgid=%s 3", msgids[10]);
    td_irc_test_send (alice, "PING :after-history");
    first = td_irc_test_read_line (alice);
    g_assert_nonnull (first);
    g_assert_true (g_str_has_prefix (first, "@label=old "));
    g_assert_nonnull (strstr (first, " BATCH +"));
    for (;;)
      {
        g_autofree char *line = td_irc_test_read_line (alice);

        g_assert_nonnull (line);
        if (strstr (line, "PONG") != NULL)
          {
            g_assert_true (closed);
            break;
          }
        if (strstr (line, "PRIVMSG #a :m7") != NULL)
          got_rows = TRUE;
        if (g_str_has_prefix (line, ":") && strstr (line, " BATCH -") != NULL)
          closed = TRUE;
      }
    g_assert_true (got_rows);
  }

  g_clear_pointer (&alice, td_irc_test_client_free);
  persisted_stop (&p);
  for (guint i = 0; i < N_MESSAGES; i++)
    {
      g_free (msgids[i]);
      g_free (times[i]);
    }
  remove_dir (p.dir);
  g_free (p.dir);
  g_free (p.db);
}

/* ------------------------------------------------------------------ */
/* The real tidingsd                                                   */
/* ------------------------------------------------------------------ */

typedef struct
{
  GSubprocess *process;
  guint16      chat_port;
} Daemon;

typedef struct
{
  gboolean  done;
  char     *line;
  GError   *error;
} LineWait;

static void
read_line_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  LineWait *wait = user_data;

  wait->line = g_data_input_stream_read_line_finish (G_DATA_INPUT_STREAM (source), result, NULL,
                                                     &wait->error);
  wait->done = TRUE;
}

static Daemon *
daemon_start (const char *db)
{
  const char *exe = g_getenv ("TD_TIDINGSD");
  g_autoptr(GError) error = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  Daemon *d = g_new0 (Daemon, 1);

  d->process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, exe, "--db", db,
                                 "--chat-port", "0", "--pubsub-port", "-1", "--line-port", "-1",
                                 "--files-port", "-1", NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (d->process));
  for (;;)
    {
      LineWait wait = { 0 };
      g_autofree char *line = NULL;

      g_data_input_stream_read_line_async (out, G_PRIORITY_DEFAULT, NULL, read_line_cb, &wait);
      wait_for (&wait.done, "tidingsd to start");
      g_assert_no_error (wait.error);
      line = wait.line;
      g_assert_nonnull (line);
      if (g_str_has_prefix (line, "listening chat 127.0.0.1:"))
        d->chat_port = (guint16) g_ascii_strtoull (line + strlen ("listening chat 127.0.0.1:"), NULL, 10);
      if (g_str_equal (line, "ready"))
        break;
    }
  g_assert_cmpuint (d->chat_port, >, 0);
  return d;
}

static void
wait_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  *(gboolean *) user_data = TRUE;
}

/* Stops @d with @signum and checks how it ended. */
static void
daemon_stop (Daemon *d,
             int     signum)
{
  gboolean done = FALSE;

  g_subprocess_send_signal (d->process, signum);
  g_subprocess_wait_async (d->process, NULL, wait_cb, &done);
  wait_for (&done, "tidingsd to exit");
  if (signum == SIGKILL)
    g_assert_true (g_subprocess_get_if_signaled (d->process));
  else
    {
      g_assert_true (g_subprocess_get_if_exited (d->process));
      g_assert_cmpint (g_subprocess_get_exit_status (d->process), ==, 0);
    }
  g_object_unref (d->process);
  g_free (d);
}

/* SASL PLAIN as @account; returns the client after 001, or NULL when the
 * server said 904. */
static TdIrcTestClient *
sasl_login (guint16     port,
            const char *nick,
            const char *account,
            const char *password)
{
  g_autoptr(TdIrcTestClient) c = td_irc_test_client_new (port, nick);
  g_autofree char *plain = g_strdup_printf ("%s%c%s%c%s", account, 0, account, 0, password);
  g_autofree char *b64 = g_base64_encode ((const guchar *) plain,
                                          strlen (account) * 2 + strlen (password) + 2);

  td_irc_test_send (c, "CAP LS 302");
  td_irc_test_send (c, "CAP REQ :sasl");
  td_irc_test_send (c, "NICK %s", nick);
  td_irc_test_send (c, "USER %s 0 * :%s", nick, nick);
  g_free (td_irc_test_expect (c, " ACK "));
  td_irc_test_send (c, "AUTHENTICATE PLAIN");
  g_free (td_irc_test_expect (c, "AUTHENTICATE +"));
  td_irc_test_send (c, "AUTHENTICATE %s", b64);
  for (;;)
    {
      g_autofree char *line = td_irc_test_read_line (c);

      g_assert_nonnull (line);
      if (strstr (line, " 904 ") != NULL)
        return NULL;
      if (strstr (line, " 903 ") != NULL)
        break;
    }
  td_irc_test_send (c, "CAP END");
  g_free (td_irc_test_expect (c, " 001 "));
  return g_steal_pointer (&c);
}

/* Messages and an account acknowledged before a stop with @signum are
 * all there after a restart. Acknowledgements: echoes (echo-message), the
 * PONG of a PING sent after plain PRIVMSGs, REGISTER SUCCESS. */
static void
restart_after (int signum)
{
  g_autofree char *dir = make_dir ();
  g_autofree char *db = g_build_filename (dir, "tidingsd.db", NULL);
  g_autoptr(TdIrcTestClient) echoer = NULL;
  g_autoptr(TdIrcTestClient) plain = NULL;
  g_autoptr(TdIrcTestClient) reader = NULL;
  g_autoptr(GPtrArray) channel = NULL;
  g_autoptr(GPtrArray) dm = NULL;
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  Daemon *d;

  if (g_getenv ("TD_TIDINGSD") == NULL)
    {
      g_test_skip ("TD_TIDINGSD is not set");
      return;
    }
  d = daemon_start (db);
  echoer = td_irc_test_connect (d->chat_port, "echoer", CAPS " draft/account-registration");
  plain = td_irc_test_connect (d->chat_port, "plain", NULL);
  td_irc_test_send (echoer, "JOIN #keep");
  g_free (td_irc_test_expect (echoer, " 366 "));
  td_irc_test_send (plain, "JOIN #keep");
  g_free (td_irc_test_expect (plain, " 366 "));

  /* A burst, acknowledged by the echo of the last one (echoes come in
   * order), then private messages the same way. The counts stay inside
   * tidingsd's flood-control burst (20 lines with registration). */
  for (guint i = 0; i < N_BURST; i++)
    td_irc_test_send (echoer, "PRIVMSG #keep :echoed %u", i);
  g_free (td_irc_test_expect (echoer, "PRIVMSG #keep :echoed " G_STRINGIFY (N_BURST_LAST)));
  td_irc_test_send (echoer, "PRIVMSG plain :private 0");
  td_irc_test_send (echoer, "PRIVMSG plain :private 1");
  g_free (td_irc_test_expect (echoer, "PRIVMSG plain :private 1"));
  /* Without echo-message, the PONG after the messages is the answer. */
  for (guint i = 0; i < N_BURST; i++)
    td_irc_test_send (plain, "PRIVMSG #keep :plain %u", i);
  td_irc_test_send (plain, "PING :acknowledged");
  g_free (td_irc_test_expect (plain, "PONG"));
  /* An account. */
  td_irc_test_send (echoer, "REGISTER keeper * " PASSWORD);
  g_free (td_irc_test_expect (echoer, "REGISTER SUCCESS keeper"));

  daemon_stop (d, signum);
  g_clear_pointer (&echoer, td_irc_test_client_free);
  g_clear_pointer (&plain, td_irc_test_client_free);

  d = daemon_start (db);
  reader = td_irc_test_connect (d->chat_port, "reader", CAPS);
  td_irc_test_send (reader, "JOIN #keep");
  g_free (td_irc_test_expect (reader, " 366 "));
  channel = chathistory (reader, "CHATHISTORY LATEST #keep * 1000");
  for (guint i = 0; i < channel->len; i++)
    g_hash_table_add (seen, g_ptr_array_index (channel, i));
  for (guint i = 0; i < N_BURST; i++)
    {
      g_autofree char *text = g_strdup_printf ("echoed %u", i);

      g_assert_true (g_hash_table_contains (seen, text));
    }
  for (guint i = 0; i < N_BURST; i++)
    {
      g_autofree char *text = g_strdup_printf ("plain %u", i);

      g_assert_true (g_hash_table_contains (seen, text));
    }
  g_clear_pointer (&reader, td_irc_test_client_free);

  /* The account holds, and its owner reads the private history. */
  reader = sasl_login (d->chat_port, "keeper", "keeper", PASSWORD);
  g_assert_nonnull (reader);
  g_clear_pointer (&reader, td_irc_test_client_free);
  reader = td_irc_test_connect (d->chat_port, "plain", CAPS);
  dm = chathistory (reader, "CHATHISTORY LATEST echoer * 10");
  {
    g_autofree char *got = join_texts (g_steal_pointer (&dm));

    g_assert_cmpstr (got, ==, "private 0 private 1");
  }
  g_clear_pointer (&reader, td_irc_test_client_free);

  daemon_stop (d, SIGTERM);
  remove_dir (dir);
}

static void
test_restart_sigterm (void)
{
  restart_after (SIGTERM);
}

static void
test_restart_sigkill (void)
{
  restart_after (SIGKILL);
}

/* ------------------------------------------------------------------ */
/* tidingsd account ...                                                */
/* ------------------------------------------------------------------ */

typedef struct
{
  gboolean  done;
  char     *out;
  char     *err;
} CliWait;

static void
communicate_cb (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  CliWait *wait = user_data;
  g_autoptr(GError) error = NULL;

  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), result, &wait->out, &wait->err, &error);
  g_assert_no_error (error);
  wait->done = TRUE;
}

/* Runs `tidingsd --db @db account ARGS...` with @input on stdin; returns
 * the exit status, and stdout in @out (owned) when asked. */
static int
run_cli (const char  *db,
         const char  *input,
         char       **out,
         ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autofree char *db_dir = g_path_get_dirname (db);
  g_autofree char *input_path = NULL;
  g_autoptr(GError) error = NULL;
  CliWait wait = { 0 };
  const char *arg;
  va_list args;

  g_ptr_array_add (argv, (gpointer) g_getenv ("TD_TIDINGSD"));
  g_ptr_array_add (argv, (gpointer) "--db");
  g_ptr_array_add (argv, (gpointer) db);
  g_ptr_array_add (argv, (gpointer) "account");
  va_start (args, out);
  while ((arg = va_arg (args, const char *)) != NULL)
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);

  /* The input comes from a file, not a pipe: a command that refuses it
   * may exit before reading it all, and writing to a closed pipe would
   * fail the test (EPIPE), not the command. */
  input_path = g_build_filename (db_dir, "cli-input", NULL);
  g_assert_true (g_file_set_contents (input_path, input ? input : "", -1, &error));
  g_assert_no_error (error);
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_set_stdin_file_path (launcher, input_path);
  process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8_async (process, NULL, NULL, communicate_cb, &wait);
  wait_for (&wait.done, "tidingsd account");
  g_test_message ("account %s: %s%s", (const char *) argv->pdata[4],
                  wait.out ? wait.out : "", wait.err ? wait.err : "");
  if (out != NULL)
    *out = g_steal_pointer (&wait.out);
  g_free (wait.out);
  g_free (wait.err);
  g_assert_true (g_subprocess_get_if_exited (process));
  g_remove (input_path);
  return g_subprocess_get_exit_status (process);
}

static void
test_account_cli (void)
{
  g_autofree char *dir = make_dir ();
  g_autofree char *db = g_build_filename (dir, "tidingsd.db", NULL);
  g_autofree char *list = NULL;
  g_autofree char *long_password = g_strnfill (301, 'x');
  g_autofree char *long_input = g_strconcat (long_password, "\n", NULL);
  g_autoptr(TdIrcTestClient) c = NULL;
  Daemon *d;

  if (g_getenv ("TD_TIDINGSD") == NULL)
    {
      g_test_skip ("TD_TIDINGSD is not set");
      return;
    }

  /* Nothing to list or delete before the database exists. */
  g_assert_cmpint (run_cli (db, "", NULL, "list", NULL), ==, 1);
  g_assert_cmpint (run_cli (db, "", NULL, "delete", "nobody", NULL), ==, 1);

  /* Bad input: exit status 2, nothing created. */
  g_assert_cmpint (run_cli (db, "\n", NULL, "add", "empty", NULL), ==, 2);
  g_assert_cmpint (run_cli (db, "", NULL, "add", "empty", NULL), ==, 2);
  g_assert_cmpint (run_cli (db, "short\n", NULL, "add", "shorty", NULL), ==, 2);
  g_assert_cmpint (run_cli (db, long_input, NULL, "add", "longer", NULL), ==, 2);
  g_assert_cmpint (run_cli (db, PASSWORD "\n", NULL, "add", "9lives", NULL), ==, 2);
  g_assert_cmpint (run_cli (db, PASSWORD "\n", NULL, "add", "has space", NULL), ==, 2);
  g_assert_cmpint (run_cli (db, PASSWORD "\n", NULL, "add", "", NULL), ==, 2);
  g_assert_cmpint (run_cli (db, PASSWORD "\n", NULL, "add", NULL), ==, 2);
  g_assert_cmpint (run_cli (db, PASSWORD "\n", NULL, "frobnicate", "x", NULL), ==, 2);

  /* Added, listed; a second add of the same name (IRC casefolding) fails. */
  g_assert_cmpint (run_cli (db, PASSWORD "\r\n", NULL, "add", "Carol[1]", NULL), ==, 0);
  g_assert_cmpint (run_cli (db, PASSWORD "\n", NULL, "add", "dave", NULL), ==, 0);
  g_assert_cmpint (run_cli (db, PASSWORD "\n", NULL, "add", "carol{1}", NULL), ==, 1);
  g_assert_cmpint (run_cli (db, "", &list, "list", NULL), ==, 0);
  g_assert_true (g_str_has_prefix (list, "Carol[1]\t"));
  g_assert_nonnull (strstr (list, "\ndave\t"));

  /* SASL PLAIN with the password given on stdin; a wrong one fails. */
  d = daemon_start (db);
  c = sasl_login (d->chat_port, "carol", "carol{1}", PASSWORD);
  g_assert_nonnull (c);
  g_clear_pointer (&c, td_irc_test_client_free);
  c = sasl_login (d->chat_port, "mallory", "dave", "not-the-password");
  g_assert_null (c);
  daemon_stop (d, SIGTERM);

  /* Deleted: gone from the list and from the server. */
  g_assert_cmpint (run_cli (db, "", NULL, "delete", "DAVE", NULL), ==, 0);
  g_assert_cmpint (run_cli (db, "", NULL, "delete", "dave", NULL), ==, 1);
  g_clear_pointer (&list, g_free);
  g_assert_cmpint (run_cli (db, "", &list, "list", NULL), ==, 0);
  g_assert_null (strstr (list, "dave"));
  d = daemon_start (db);
  c = sasl_login (d->chat_port, "dave", "dave", PASSWORD);
  g_assert_null (c);
  daemon_stop (d, SIGTERM);

  remove_dir (dir);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/td/chat-persist/beyond-ring", test_beyond_ring);
  g_test_add_func ("/td/chat-persist/restart-sigterm", test_restart_sigterm);
  g_test_add_func ("/td/chat-persist/restart-sigkill", test_restart_sigkill);
  g_test_add_func ("/td/chat-persist/account-cli", test_account_cli);
  return g_test_run ();
}
