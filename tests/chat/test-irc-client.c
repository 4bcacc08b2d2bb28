/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <string.h>

#include "chat/td-irc-accounts.h"
#include "chat/td-irc-client.h"
#include "td-irc-test.h"

/*
 * The IRC client against the tidingsd IRC server in-process, against a
 * scripted server that says exactly what a test needs (and garbage), and
 * against Debian's ngircd (plain IRC) and inspircd (IRCv3) when they are
 * installed.
 */

#define MAIL_EVENTS 1
#define SASL_PASSWORD "correct horse battery"

/* ------------------------------------------------------------------ */
/* The owner side: a mailbox on the test's context that logs events    */
/* ------------------------------------------------------------------ */

typedef struct
{
  GMainContext *context;
  TdMailboxId   mailbox;
  GPtrArray    *events;    /* TdIrcEvent, every batch flattened */
  guint         n_batches;
} Owner;

static void
owner_mail_cb (TdMailboxId  id,
               TdMail      *mail,
               gpointer     user_data)
{
  Owner *owner = user_data;
  TdIrcEventBatch *batch = mail->data;

  g_assert_cmpuint (mail->kind, ==, MAIL_EVENTS);
  g_assert_cmpuint (batch->events->len, >, 0);
  owner->n_batches++;
  for (guint i = 0; i < batch->events->len; i++)
    g_ptr_array_add (owner->events, g_steal_pointer (&g_ptr_array_index (batch->events, i)));
  g_ptr_array_set_free_func (batch->events, NULL);
}

static Owner *
owner_new (void)
{
  Owner *owner = g_new0 (Owner, 1);

  owner->context = g_main_context_ref_thread_default ();
  owner->events = g_ptr_array_new_with_free_func ((GDestroyNotify) td_irc_event_free);
  owner->mailbox = td_mailbox_open (owner->context, G_PRIORITY_DEFAULT, owner_mail_cb, owner, NULL);
  return owner;
}

static void
owner_free (Owner *owner)
{
  td_mailbox_close (owner->mailbox);
  g_ptr_array_unref (owner->events);
  g_main_context_unref (owner->context);
  g_free (owner);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Owner, owner_free)

typedef gboolean (*EventMatch) (TdIrcEvent *event, gconstpointer data);

/* Iterates until an event after @from matches; returns it (borrowed) or
 * fails the test at the deadline. *@from moves past it. */
static TdIrcEvent *
wait_event_full (Owner        *owner,
                 guint        *from,
                 EventMatch    match,
                 gconstpointer data,
                 const char   *what)
{
  gint64 deadline = g_get_monotonic_time () + TD_IRC_TEST_TIMEOUT_S * G_USEC_PER_SEC;

  for (;;)
    {
      for (; *from < owner->events->len; (*from)++)
        {
          TdIrcEvent *event = g_ptr_array_index (owner->events, *from);

          if (match (event, data))
            {
              (*from)++;
              return event;
            }
        }
      if (g_get_monotonic_time () > deadline)
        g_error ("timed out waiting for %s", what);
      g_main_context_iteration (owner->context, FALSE);
      g_usleep (500);
    }
}

static gboolean
match_type (TdIrcEvent *event, gconstpointer data)
{
  return event->type == GPOINTER_TO_UINT (data);
}

static gboolean
match_state (TdIrcEvent *event, gconstpointer data)
{
  return event->type == TD_IRC_EVENT_STATE && event->state == GPOINTER_TO_UINT (data);
}

static gboolean
match_numeric (TdIrcEvent *event, gconstpointer data)
{
  return event->type == TD_IRC_EVENT_NUMERIC && g_strcmp0 (event->command, data) == 0;
}

static gboolean
match_text (TdIrcEvent *event, gconstpointer data)
{
  return event->type == TD_IRC_EVENT_MESSAGE && g_strcmp0 (event->text, data) == 0;
}

static gboolean
match_error_containing (TdIrcEvent *event, gconstpointer data)
{
  return event->type == TD_IRC_EVENT_ERROR && event->text != NULL && strstr (event->text, data) != NULL;
}

#define wait_type(o, f, t) wait_event_full ((o), (f), match_type, GUINT_TO_POINTER (t), #t)
#define wait_state(o, f, s) wait_event_full ((o), (f), match_state, GUINT_TO_POINTER (s), #s)
#define wait_numeric(o, f, n) wait_event_full ((o), (f), match_numeric, (n), "numeric " n)
#define wait_text(o, f, t) wait_event_full ((o), (f), match_text, (t), "message " t)

/* The MEMBERS snapshot of @channel that is the latest one so far. */
static TdIrcEvent *
last_members (Owner      *owner,
              const char *channel)
{
  for (guint i = owner->events->len; i > 0; i--)
    {
      TdIrcEvent *event = g_ptr_array_index (owner->events, i - 1);

      if (event->type == TD_IRC_EVENT_MEMBERS && td_irc_equal (event->target, channel))
        return event;
    }
  return NULL;
}

static char *
members_string (TdIrcEvent *event)
{
  GString *out = g_string_new (NULL);

  for (guint i = 0; event && i < event->members->len; i++)
    {
      TdIrcMemberInfo *m = g_ptr_array_index (event->members, i);

      g_string_append_printf (out, "%s%s%s%s", i ? " " : "", m->prefix, m->nick, m->away ? "(away)" : "");
    }
  return g_string_free (out, FALSE);
}

/* Waits until the latest member list of @channel reads @expected. */
static void
wait_members (Owner      *owner,
              const char *channel,
              const char *expected)
{
  gint64 deadline = g_get_monotonic_time () + TD_IRC_TEST_TIMEOUT_S * G_USEC_PER_SEC;

  for (;;)
    {
      g_autofree char *now = members_string (last_members (owner, channel));

      if (g_str_equal (now, expected))
        return;
      if (g_get_monotonic_time () > deadline)
        g_error ("members of %s are “%s”, not “%s”", channel, now, expected);
      g_main_context_iteration (owner->context, FALSE);
      g_usleep (500);
    }
}

/* Iterates for @ms, to show that something does not happen. */
static void
spin_ms (Owner *owner,
         guint  ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;

  while (g_get_monotonic_time () < end)
    {
      g_main_context_iteration (owner->context, FALSE);
      g_usleep (500);
    }
}

static TdIrcClient *
client_new (Owner      *owner,
            guint16     port,
            const char *nick)
{
  g_autoptr(TdIrcClientConfig) config = td_irc_client_config_new ();
  TdIrcClient *client;

  config->port = port;
  config->nick = g_strdup (nick);
  config->retry = (TdRetryPolicy) { 100, 2.0, 400, 0.25 };
  client = td_irc_client_new (config, owner->mailbox, MAIL_EVENTS);
  td_irc_client_connect (client);
  return client;
}

static TdIrcTestServer *
server_start (void)
{
  g_autoptr(TdIrcServerConfig) config = td_irc_server_config_new ();

  config->flood_control = FALSE;
  return td_irc_test_server_start (td_irc_server_new (config));
}

/* ------------------------------------------------------------------ */
/* Text helpers                                                        */
/* ------------------------------------------------------------------ */

static void
test_split (void)
{
  g_auto(GStrv) words = td_irc_split_text ("aaaa bbbb cccc dddd", 10);
  g_auto(GStrv) short_text = td_irc_split_text ("short", 100);
  g_autofree char *long_text = g_strnfill (1000, 'x');
  g_auto(GStrv) hard = td_irc_split_text (long_text, 300);
  /* "é" is two bytes: a cut at an odd byte would split it. */
  g_autofree char *accents = g_strjoinv ("", (char *[]) { "é", "é", "é", "é", "é", "é", "é", "é", NULL });
  g_auto(GStrv) utf8 = td_irc_split_text (accents, 9);
  g_autofree char *cp1252 = td_irc_to_utf8 ("caf\xe9 \x80", -1);
  g_autofree char *valid = td_irc_to_utf8 ("já", -1);

  g_assert_cmpstrv (words, ((const char *[]) { "aaaa bbbb", "cccc dddd", NULL }));
  g_assert_cmpstrv (short_text, ((const char *[]) { "short", NULL }));
  g_assert_cmpuint (g_strv_length (hard), ==, 4);
  for (guint i = 0; hard[i]; i++)
    g_assert_cmpuint (strlen (hard[i]), <=, 300);
  for (guint i = 0; utf8[i]; i++)
    {
      g_assert_true (g_utf8_validate (utf8[i], -1, NULL));
      g_assert_cmpuint (strlen (utf8[i]), <=, 9);
    }
  g_assert_cmpstr (cp1252, ==, "café €");
  g_assert_cmpstr (valid, ==, "já");
}

/* ------------------------------------------------------------------ */
/* Against the tidingsd IRC server                                     */
/* ------------------------------------------------------------------ */

static void
test_register (void)
{
  g_autoptr(Owner) owner = owner_new ();
  TdIrcTestServer *ts = server_start ();
  TdIrcClient *client = client_new (owner, ts->port, "alice");
  TdIrcEvent *event;
  guint from = 0;
  const char *wanted[] = { "account-tag", "away-notify", "batch", "draft/chathistory", "echo-message",
                           "labeled-response", "message-tags", "multi-prefix", "server-time" };

  wait_state (owner, &from, TD_IRC_STATE_CONNECTING);
  wait_state (owner, &from, TD_IRC_STATE_REGISTERING);
  event = wait_type (owner, &from, TD_IRC_EVENT_CAPS);
  for (guint i = 0; i < G_N_ELEMENTS (wanted); i++)
    g_assert_true (g_strv_contains ((const char * const *) event->params, wanted[i]));
  /* No account configured: no SASL. */
  g_assert_false (g_strv_contains ((const char * const *) event->params, "sasl"));

  from = 0;
  event = wait_numeric (owner, &from, "001");
  g_assert_nonnull (event->text);
  wait_state (owner, &from, TD_IRC_STATE_CONNECTED);
  event = wait_type (owner, &from, TD_IRC_EVENT_REGISTERED);
  g_assert_cmpstr (event->nick, ==, "alice");
  /* The MOTD and ISUPPORT are numerics like any other: delivered. */
  from = 0;
  wait_numeric (owner, &from, "005");

  /* Events come in batches: far fewer mails than events. */
  g_assert_cmpuint (owner->n_batches, <, owner->events->len);

  td_irc_client_free (client, "bye");
  td_irc_test_server_free (ts);
}

/* The file host the server names in ISUPPORT is reported once, and a
 * server that names none reports nothing. */
static void
test_filehost (void)
{
  g_autoptr(Owner) owner = owner_new ();
  g_autoptr(Owner) plain_owner = owner_new ();
  g_autoptr(TdIrcServerConfig) config = td_irc_server_config_new ();
  TdIrcTestServer *ts, *plain;
  TdIrcClient *client, *plain_client;
  TdIrcEvent *event;
  guint from = 0;
  guint n_filehost = 0;

  config->flood_control = FALSE;
  config->filehost = g_strdup ("http://127.0.0.1:6681");
  ts = td_irc_test_server_start (td_irc_server_new (config));
  client = client_new (owner, ts->port, "alice");
  event = wait_type (owner, &from, TD_IRC_EVENT_FILEHOST);
  g_assert_cmpstr (event->text, ==, "http://127.0.0.1:6681");
  /* It comes with the ISUPPORT that says it, after the welcome. */
  from = 0;
  wait_type (owner, &from, TD_IRC_EVENT_REGISTERED);
  wait_type (owner, &from, TD_IRC_EVENT_FILEHOST);

  plain = server_start ();
  plain_client = client_new (plain_owner, plain->port, "bob");
  from = 0;
  wait_numeric (plain_owner, &from, "005");
  /* The MOTD (or its absence) ends the welcome: ISUPPORT is all said. */
  {
    guint motd_from = from;
    gint64 deadline = g_get_monotonic_time () + TD_IRC_TEST_TIMEOUT_S * G_USEC_PER_SEC;
    gboolean ended = FALSE;

    while (!ended && g_get_monotonic_time () < deadline)
      {
        for (; motd_from < plain_owner->events->len; motd_from++)
          {
            TdIrcEvent *e = g_ptr_array_index (plain_owner->events, motd_from);

            if (e->type == TD_IRC_EVENT_NUMERIC && (g_strcmp0 (e->command, "376") == 0 ||
                                                   g_strcmp0 (e->command, "422") == 0))
              ended = TRUE;
          }
        g_main_context_iteration (plain_owner->context, FALSE);
        g_usleep (500);
      }
    g_assert_true (ended);
  }
  for (guint i = 0; i < plain_owner->events->len; i++)
    g_assert_cmpint (((TdIrcEvent *) g_ptr_array_index (plain_owner->events, i))->type, !=, TD_IRC_EVENT_FILEHOST);

  /* A reconnect forgets it first, then learns it again. */
  td_irc_client_disconnect (client, "brb");
  wait_state (owner, &from, TD_IRC_STATE_DISCONNECTED);
  td_irc_client_connect (client);
  event = wait_type (owner, &from, TD_IRC_EVENT_FILEHOST);
  g_assert_null (event->text);
  event = wait_type (owner, &from, TD_IRC_EVENT_FILEHOST);
  g_assert_cmpstr (event->text, ==, "http://127.0.0.1:6681");
  for (guint i = 0; i < owner->events->len; i++)
    if (((TdIrcEvent *) g_ptr_array_index (owner->events, i))->type == TD_IRC_EVENT_FILEHOST)
      n_filehost++;
  g_assert_cmpuint (n_filehost, ==, 3);

  td_irc_client_free (plain_client, "bye");
  td_irc_client_free (client, "bye");
  td_irc_test_server_free (plain);
  td_irc_test_server_free (ts);
}

static void
test_channel (void)
{
  g_autoptr(Owner) oa = owner_new ();
  g_autoptr(Owner) ob = owner_new ();
  TdIrcTestServer *ts = server_start ();
  TdIrcClient *a = client_new (oa, ts->port, "alice");
  TdIrcClient *b = NULL;
  TdIrcEvent *event;
  guint fa = 0, fb = 0;

  wait_type (oa, &fa, TD_IRC_EVENT_REGISTERED);

  /* A channel exists only after the server's echo, with us as operator. */
  td_irc_client_join (a, "#tidings", NULL);
  event = wait_type (oa, &fa, TD_IRC_EVENT_JOINED);
  g_assert_cmpstr (event->target, ==, "#tidings");
  g_assert_true (event->flags & TD_IRC_EVENT_FLAG_SELF);
  wait_members (oa, "#tidings", "@alice");

  b = client_new (ob, ts->port, "bob");
  wait_type (ob, &fb, TD_IRC_EVENT_REGISTERED);
  td_irc_client_join (b, "#TIDINGS", NULL);
  event = wait_type (ob, &fb, TD_IRC_EVENT_JOINED);
  event = wait_type (oa, &fa, TD_IRC_EVENT_JOIN);
  g_assert_cmpstr (event->nick, ==, "bob");
  wait_members (oa, "#tidings", "@alice bob");
  wait_members (ob, "#tidings", "@alice bob");

  /* A message, with server-time and msgid; the sender gets the echo. */
  td_irc_client_privmsg (b, "#tidings", "hello, alice");
  event = wait_text (oa, &fa, "hello, alice");
  g_assert_cmpstr (event->nick, ==, "bob");
  g_assert_cmpstr (event->target, ==, "#tidings");
  g_assert_nonnull (event->msgid);
  g_assert_cmpint (ABS (event->time - g_get_real_time ()), <, 60 * G_USEC_PER_SEC);
  g_assert_false (event->flags & TD_IRC_EVENT_FLAG_SELF);
  event = wait_text (ob, &fb, "hello, alice");
  g_assert_true (event->flags & TD_IRC_EVENT_FLAG_SELF);

  /* /me, a private message (which opens a query) and a long message that
   * has to be split. */
  td_irc_client_action (b, "#tidings", "waves");
  event = wait_type (oa, &fa, TD_IRC_EVENT_ACTION);
  g_assert_cmpstr (event->text, ==, "waves");
  td_irc_client_privmsg (b, "alice", "psst");
  event = wait_text (oa, &fa, "psst");
  g_assert_cmpstr (event->target, ==, "bob");
  g_assert_true (event->flags & TD_IRC_EVENT_FLAG_QUERY);
  {
    GString *big = g_string_new (NULL);
    guint got = 0;
    guint pieces = 0;

    for (guint i = 0; i < 200; i++)
      g_string_append_printf (big, "%sw%03u", i ? " " : "", i);
    td_irc_client_privmsg (b, "#tidings", big->str);
    while (got < big->len)
      {
        event = wait_type (oa, &fa, TD_IRC_EVENT_MESSAGE);
        /* What the server relayed fits in 510 bytes, and nothing was cut. */
        g_assert_nonnull (event->userhost);
        g_assert_cmpuint (strlen (":bob! PRIVMSG #tidings :") + strlen (event->userhost) +
                          strlen (event->text), <=, TD_IRC_MAX_LINE_CONTENT);
        pieces++;
        got += strlen (event->text) + 1;
      }
    g_assert_cmpuint (got, ==, big->len + 1);
    g_assert_cmpuint (pieces, ==, 3);
    g_string_free (big, TRUE);
  }

  /* Modes show in the member list; so does away-notify. */
  td_irc_client_mode (a, "#tidings", "+v bob");
  event = wait_type (oa, &fa, TD_IRC_EVENT_MODE);
  g_assert_cmpstr (event->text, ==, "+v bob");
  wait_members (oa, "#tidings", "@alice +bob");
  td_irc_client_set_away (b, "lunch");
  wait_members (oa, "#tidings", "@alice +bob(away)");
  td_irc_client_set_away (b, NULL);
  wait_members (oa, "#tidings", "@alice +bob");

  /* Topic. */
  td_irc_client_set_topic (a, "#tidings", "News and chat");
  event = wait_type (ob, &fb, TD_IRC_EVENT_TOPIC);
  g_assert_cmpstr (event->text, ==, "News and chat");
  g_assert_cmpstr (event->nick, ==, "alice");

  /* Nick change, then part. */
  td_irc_client_set_nick (b, "robert");
  event = wait_type (oa, &fa, TD_IRC_EVENT_NICK);
  g_assert_cmpstr (event->nick, ==, "bob");
  g_assert_cmpstr (event->text, ==, "robert");
  wait_members (oa, "#tidings", "@alice +robert");
  td_irc_client_part (b, "#tidings", "later");
  event = wait_type (ob, &fb, TD_IRC_EVENT_PARTED);
  g_assert_cmpstr (event->target, ==, "#tidings");
  event = wait_type (oa, &fa, TD_IRC_EVENT_PART);
  g_assert_cmpstr (event->text, ==, "later");
  wait_members (oa, "#tidings", "@alice");

  /* Kick: the kicked client loses the channel. */
  td_irc_client_join (b, "#tidings", NULL);
  wait_members (oa, "#tidings", "@alice robert");
  td_irc_client_kick (a, "#tidings", "robert", "out");
  event = wait_type (ob, &fb, TD_IRC_EVENT_PARTED);
  g_assert_true (event->flags & TD_IRC_EVENT_FLAG_KICKED);
  g_assert_cmpstr (event->text, ==, "out");

  /* Quit: shown in the channel. */
  td_irc_client_join (b, "#tidings", NULL);
  wait_members (oa, "#tidings", "@alice robert");
  td_irc_client_free (b, "gone");
  event = wait_type (oa, &fa, TD_IRC_EVENT_QUIT);
  g_assert_cmpstr (event->target, ==, "#tidings");
  wait_members (oa, "#tidings", "@alice");

  td_irc_client_free (a, NULL);
  td_irc_test_server_free (ts);
}

static void
test_never_fake (void)
{
  g_autoptr(Owner) owner = owner_new ();
  TdIrcTestServer *ts = server_start ();
  TdIrcClient *client = client_new (owner, ts->port, "carol");
  TdIrcEvent *event;
  guint from = 0;

  wait_type (owner, &from, TD_IRC_EVENT_REGISTERED);

  /* Not a channel name: the server refuses, the client shows why and
   * makes no channel. */
  td_irc_client_join (client, "nochannel", NULL);
  event = wait_numeric (owner, &from, "403");
  g_assert_nonnull (strstr (event->text, "nochannel"));
  /* Errors of every kind are events: unknown command, unknown nick. */
  td_irc_client_send_raw (client, "FROBNICATE now");
  event = wait_numeric (owner, &from, "421");
  g_assert_nonnull (strstr (event->text, "FROBNICATE"));
  td_irc_client_whois (client, "nobody-here");
  wait_numeric (owner, &from, "401");
  spin_ms (owner, 200);
  for (guint i = 0; i < owner->events->len; i++)
    g_assert_cmpint (((TdIrcEvent *) g_ptr_array_index (owner->events, i))->type, !=, TD_IRC_EVENT_JOINED);

  td_irc_client_free (client, NULL);
  td_irc_test_server_free (ts);
}

static void
test_nick_in_use (void)
{
  g_autoptr(Owner) owner = owner_new ();
  TdIrcTestServer *ts = server_start ();
  TdIrcClient *first = client_new (owner, ts->port, "dup");
  TdIrcClient *second = NULL;
  g_autoptr(Owner) o2 = owner_new ();
  TdIrcEvent *event;
  guint from = 0, f2 = 0;

  wait_type (owner, &from, TD_IRC_EVENT_REGISTERED);
  second = client_new (o2, ts->port, "dup");
  event = wait_type (o2, &f2, TD_IRC_EVENT_NICK_IN_USE);
  g_assert_cmpstr (event->text, ==, "dup");
  g_assert_cmpstr (event->nick, ==, "dup_");
  event = wait_type (o2, &f2, TD_IRC_EVENT_REGISTERED);
  g_assert_cmpstr (event->nick, ==, "dup_");
  f2 = 0;
  wait_numeric (o2, &f2, "433");

  td_irc_client_free (second, NULL);
  td_irc_client_free (first, NULL);
  td_irc_test_server_free (ts);
}

static void
test_history (void)
{
  g_autoptr(Owner) oa = owner_new ();
  g_autoptr(Owner) ob = owner_new ();
  TdIrcTestServer *ts = server_start ();
  TdIrcClient *a = client_new (oa, ts->port, "alice");
  TdIrcClient *b = NULL;
  TdIrcEvent *event;
  guint fa = 0, fb = 0;
  const char *oldest_msgid;

  wait_type (oa, &fa, TD_IRC_EVENT_REGISTERED);
  td_irc_client_join (a, "#log", NULL);
  wait_type (oa, &fa, TD_IRC_EVENT_JOINED);
  for (guint i = 0; i < 30; i++)
    {
      g_autofree char *text = g_strdup_printf ("line %u", i);

      td_irc_client_privmsg (a, "#log", text);
    }
  wait_text (oa, &fa, "line 29");

  b = client_new (ob, ts->port, "bob");
  wait_type (ob, &fb, TD_IRC_EVENT_REGISTERED);
  td_irc_client_join (b, "#log", NULL);
  wait_type (ob, &fb, TD_IRC_EVENT_JOINED);

  td_irc_client_history_latest (b, "#log", 10);
  event = wait_type (ob, &fb, TD_IRC_EVENT_HISTORY);
  g_assert_cmpstr (event->target, ==, "#log");
  g_assert_false (event->flags & TD_IRC_EVENT_FLAG_BEFORE);
  g_assert_cmpuint (event->history->len, ==, 10);
  g_assert_cmpstr (((TdIrcEvent *) g_ptr_array_index (event->history, 0))->text, ==, "line 20");
  g_assert_cmpstr (((TdIrcEvent *) g_ptr_array_index (event->history, 9))->text, ==, "line 29");
  g_assert_true (((TdIrcEvent *) g_ptr_array_index (event->history, 0))->flags & TD_IRC_EVENT_FLAG_HISTORY);
  oldest_msgid = ((TdIrcEvent *) g_ptr_array_index (event->history, 0))->msgid;
  g_assert_nonnull (oldest_msgid);

  td_irc_client_history_before (b, "#log", oldest_msgid, 0, 15);
  event = wait_type (ob, &fb, TD_IRC_EVENT_HISTORY);
  g_assert_true (event->flags & TD_IRC_EVENT_FLAG_BEFORE);
  g_assert_cmpuint (event->history->len, ==, 15);
  g_assert_cmpstr (((TdIrcEvent *) g_ptr_array_index (event->history, 0))->text, ==, "line 5");
  g_assert_cmpstr (((TdIrcEvent *) g_ptr_array_index (event->history, 14))->text, ==, "line 19");

  /* History replay is not live: nothing was delivered as a new message. */
  fb = 0;
  for (; fb < ob->events->len; fb++)
    {
      TdIrcEvent *e = g_ptr_array_index (ob->events, fb);

      g_assert_false (e->type == TD_IRC_EVENT_MESSAGE && g_str_has_prefix (e->text, "line "));
    }

  td_irc_client_free (b, NULL);
  td_irc_client_free (a, NULL);
  td_irc_test_server_free (ts);
}

static gboolean
match_query_nick (TdIrcEvent *event, gconstpointer data)
{
  return event->type == TD_IRC_EVENT_NICK && (event->flags & TD_IRC_EVENT_FLAG_QUERY) &&
         g_strcmp0 (event->text, data) == 0;
}

/* A query follows its peer from nick to nick: every change is reported
 * for it under the name it had, and later lines are filed under the new
 * one. */
static void
test_query_follows_nick (void)
{
  g_autoptr(Owner) oa = owner_new ();
  g_autoptr(Owner) ob = owner_new ();
  TdIrcTestServer *ts = server_start ();
  TdIrcClient *a = client_new (oa, ts->port, "alice");
  TdIrcClient *b = client_new (ob, ts->port, "bob");
  TdIrcEvent *event;
  guint fa = 0, fb = 0;

  wait_type (oa, &fa, TD_IRC_EVENT_REGISTERED);
  wait_type (ob, &fb, TD_IRC_EVENT_REGISTERED);
  td_irc_client_join (a, "#room", NULL);
  wait_type (oa, &fa, TD_IRC_EVENT_JOINED);
  td_irc_client_join (b, "#room", NULL);
  wait_type (ob, &fb, TD_IRC_EVENT_JOINED);

  td_irc_client_privmsg (b, "alice", "hi");
  event = wait_text (oa, &fa, "hi");
  g_assert_cmpstr (event->target, ==, "bob");
  g_assert_true (event->flags & TD_IRC_EVENT_FLAG_QUERY);

  td_irc_client_set_nick (b, "Robert");
  event = wait_event_full (oa, &fa, match_query_nick, "Robert", "the query's first nick change");
  g_assert_cmpstr (event->target, ==, "bob");
  /* No line in between: the query is known by its new name already. */
  td_irc_client_set_nick (b, "Rob");
  event = wait_event_full (oa, &fa, match_query_nick, "Rob", "the query's second nick change");
  g_assert_cmpstr (event->target, ==, "Robert");

  td_irc_client_privmsg (b, "alice", "again");
  event = wait_text (oa, &fa, "again");
  g_assert_cmpstr (event->target, ==, "Rob");

  td_irc_client_free (b, NULL);
  td_irc_client_free (a, NULL);
  td_irc_test_server_free (ts);
}

static void
test_sasl (void)
{
  g_autoptr(Owner) owner = owner_new ();
  g_autoptr(TdIrcServerConfig) sconfig = td_irc_server_config_new ();
  g_autofree char *hash = td_irc_accounts_hash_password (SASL_PASSWORD, NULL);
  TdIrcServer *server;
  TdIrcTestServer *ts;
  g_autoptr(TdIrcClientConfig) config = td_irc_client_config_new ();
  TdIrcClient *good, *bad;
  TdIrcEvent *event;
  guint from = 0;

  sconfig->flood_control = FALSE;
  server = td_irc_server_new (sconfig);
  td_irc_accounts_add (td_irc_server_get_accounts (server), "dana", hash, FALSE);
  ts = td_irc_test_server_start (server);

  config->port = ts->port;
  config->nick = g_strdup ("dana");
  config->sasl_account = g_strdup ("dana");
  config->sasl_password = g_strdup (SASL_PASSWORD);
  good = td_irc_client_new (config, owner->mailbox, MAIL_EVENTS);
  td_irc_client_connect (good);
  event = wait_type (owner, &from, TD_IRC_EVENT_CAPS);
  g_assert_true (g_strv_contains ((const char * const *) event->params, "sasl"));
  wait_numeric (owner, &from, "903");
  wait_type (owner, &from, TD_IRC_EVENT_REGISTERED);
  td_irc_client_free (good, NULL);

  g_free (config->sasl_password);
  config->sasl_password = g_strdup ("wrong");
  g_free (config->nick);
  config->nick = g_strdup ("mallory");
  bad = td_irc_client_new (config, owner->mailbox, MAIL_EVENTS);
  td_irc_client_connect (bad);
  wait_numeric (owner, &from, "904");
  wait_event_full (owner, &from, match_error_containing, "SASL", "SASL error");
  /* The connection goes on without the account. */
  event = wait_type (owner, &from, TD_IRC_EVENT_REGISTERED);
  g_assert_cmpstr (event->nick, ==, "mallory");
  td_irc_client_free (bad, NULL);

  td_irc_test_server_free (ts);
}

static gpointer
run_loop_thread (gpointer data)
{
  GMainLoop *loop = data;

  g_main_context_push_thread_default (g_main_loop_get_context (loop));
  g_main_loop_run (loop);
  g_main_context_pop_thread_default (g_main_loop_get_context (loop));
  return NULL;
}

/* The server goes away and comes back on the same port: the client
 * retries with backoff, then rejoins its channel and keeps its query. */
static void
test_reconnect (void)
{
  g_autoptr(Owner) owner = owner_new ();
  TdIrcTestServer *ts = server_start ();
  guint16 port = ts->port;
  TdIrcClient *client = client_new (owner, port, "erin");
  TdIrcEvent *event;
  guint from = 0;
  guint retries = 0;

  wait_type (owner, &from, TD_IRC_EVENT_REGISTERED);
  td_irc_client_join (client, "#stay", NULL);
  wait_type (owner, &from, TD_IRC_EVENT_JOINED);

  td_irc_test_server_free (ts);
  event = wait_state (owner, &from, TD_IRC_STATE_RETRYING);
  g_assert_cmpuint (event->retry_in_ms, <=, 400);
  g_assert_nonnull (event->text);
  /* A few failed attempts while nobody listens. */
  while (retries < 2)
    {
      wait_state (owner, &from, TD_IRC_STATE_RETRYING);
      retries++;
    }

  {
    g_autoptr(TdIrcServerConfig) config = td_irc_server_config_new ();
    TdIrcServer *server;
    g_autoptr(GError) error = NULL;
    GMainContext *context = g_main_context_new ();
    GThread *thread;
    GMainLoop *loop = g_main_loop_new (context, FALSE);

    config->flood_control = FALSE;
    server = td_irc_server_new (config);
    g_assert_true (td_irc_server_listen (server, context, "127.0.0.1", port, &error));
    g_assert_no_error (error);
    thread = g_thread_new ("irc-server", run_loop_thread, loop);

    wait_state (owner, &from, TD_IRC_STATE_CONNECTED);
    event = wait_type (owner, &from, TD_IRC_EVENT_JOINED);
    g_assert_cmpstr (event->target, ==, "#stay");

    td_irc_client_free (client, NULL);
    g_main_context_invoke (context, td_irc_test_quit_cb, loop);
    g_thread_join (thread);
    td_irc_server_free (server);
    g_main_loop_unref (loop);
    g_main_context_unref (context);
  }
}

/* Sending while disconnected is reported, not dropped silently. */
static void
test_not_connected (void)
{
  g_autoptr(Owner) owner = owner_new ();
  g_autoptr(TdIrcClientConfig) config = td_irc_client_config_new ();
  TdIrcClient *client;
  guint from = 0;

  config->nick = g_strdup ("lonely");
  client = td_irc_client_new (config, owner->mailbox, MAIL_EVENTS);
  td_irc_client_privmsg (client, "#x", "anyone?");
  wait_event_full (owner, &from, match_error_containing, "Not connected", "not connected");
  td_irc_client_history_latest (client, "#x", 5);
  wait_type (owner, &from, TD_IRC_EVENT_HISTORY);
  td_irc_client_free (client, NULL);
}

/* ------------------------------------------------------------------ */
/* A scripted server                                                   */
/* ------------------------------------------------------------------ */

typedef struct
{
  GSocket  *listener;
  guint16   port;
  GThread  *thread;
  gboolean  garbage;
  gboolean  silent;       /* welcomes, then answers nothing */
  GString  *log;          /* lines the client sent */
  GMutex    lock;
} Script;

static char *
script_read_line (GSocket *socket,
                  GString *buf)
{
  for (;;)
    {
      char chunk[512];
      char *nl = strchr (buf->str, '\n');
      gssize n;

      if (nl != NULL)
        {
          char *line = g_strndup (buf->str, nl - buf->str);

          g_string_erase (buf, 0, nl - buf->str + 1);
          g_strchomp (line);
          return line;
        }
      n = g_socket_receive (socket, chunk, sizeof chunk, NULL, NULL);
      if (n <= 0)
        return NULL;
      g_string_append_len (buf, chunk, n);
    }
}

static void
script_send (GSocket    *socket,
             const char *data,
             gsize       len)
{
  gsize done = 0;

  while (done < len)
    {
      gssize n = g_socket_send (socket, data + done, len - done, NULL, NULL);

      if (n <= 0)
        return;
      done += n;
    }
}

#define SEND(s, text) script_send ((s), text "\r\n", strlen (text "\r\n"))

/* Reads until a line starting with @prefix; returns FALSE on EOF. */
static gboolean
script_expect (Script     *script,
               GSocket    *socket,
               GString    *buf,
               const char *prefix)
{
  for (;;)
    {
      g_autofree char *line = script_read_line (socket, buf);

      if (line == NULL)
        return FALSE;
      g_mutex_lock (&script->lock);
      g_string_append_printf (script->log, "%s\n", line);
      g_mutex_unlock (&script->lock);
      if (g_str_has_prefix (line, prefix))
        return TRUE;
    }
}

static gpointer
script_thread (gpointer data)
{
  Script *script = data;
  g_autoptr(GSocket) socket = g_socket_accept (script->listener, NULL, NULL);
  g_autoptr(GString) buf = g_string_new (NULL);

  if (socket == NULL)
    return NULL;
  g_socket_set_timeout (socket, TD_IRC_TEST_TIMEOUT_S);
  if (!script_expect (script, socket, buf, "USER "))
    return NULL;
  if (script->silent)
    {
      SEND (socket, ":fake 001 tester :Welcome");
      /* Logs what comes until the client hangs up. */
      script_expect (script, socket, buf, "\n");
      return NULL;
    }
  /* CAP LS in two lines (302 continuation), one cap we do not offer. */
  SEND (socket, ":fake CAP * LS * :multi-prefix sasl=PLAIN");
  SEND (socket, ":fake CAP * LS :server-time foo/bar");
  if (!script_expect (script, socket, buf, "CAP REQ"))
    return NULL;
  SEND (socket, ":fake CAP * ACK :multi-prefix server-time");
  if (!script_expect (script, socket, buf, "CAP END"))
    return NULL;
  SEND (socket, ":fake 433 * tester :Nickname is already in use");
  if (!script_expect (script, socket, buf, "NICK tester_"))
    return NULL;
  SEND (socket, ":fake 001 tester_ :Welcome");
  SEND (socket, ":fake 005 tester_ PREFIX=(qov)~@+ CHANTYPES=#& :are supported");
  SEND (socket, "PING :are-you-there");
  if (!script_expect (script, socket, buf, "PONG"))
    return NULL;
  SEND (socket, "@time=2020-02-02T02:02:02.000Z :fake NOTICE tester_ :server notice");
  SEND (socket, ":tester_!u@h JOIN #q");
  SEND (socket, ":fake 353 tester_ = #q :~owner @op +voice tester_");
  SEND (socket, ":fake 366 tester_ #q :End of NAMES");
  SEND (socket, ":someone!u@h PRIVMSG tester_ :\001VERSION\001");
  if (!script_expect (script, socket, buf, "NOTICE someone :\001VERSION"))
    return NULL;
  SEND (socket, ":fake 999 tester_ #q :a numeric nobody knows");

  if (script->garbage)
    {
      static const char binary[] = "\x01\x02\xff\xfe garbage\r\n:::\r\n@\r\n:x\r\n\xc3\x28 PRIVMSG\r\n";
      static const char nul[] = "PRIVMSG #q :a\0b\r\n";
      g_autofree char *huge = g_strnfill (TD_IRC_MAX_WIRE_LINE + 100, 'A');

      script_send (socket, binary, sizeof binary - 1);
      script_send (socket, nul, sizeof nul - 1);
      /* Latin-1 text is not valid UTF-8: it arrives decoded. */
      SEND (socket, ":someone!u@h PRIVMSG #q :caf\xe9");
      script_send (socket, huge, strlen (huge));
      /* The client hangs up on a line that never ends. */
      script_read_line (socket, buf);
    }
  else
    SEND (socket, "ERROR :Closing link");
  return NULL;
}

static Script *
script_start_full (gboolean garbage,
                   gboolean silent)
{
  Script *script = g_new0 (Script, 1);
  g_autoptr(GInetAddress) inet = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (inet, 0);
  g_autoptr(GSocketAddress) local = NULL;

  script->listener = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_assert_true (g_socket_bind (script->listener, address, TRUE, NULL));
  g_assert_true (g_socket_listen (script->listener, NULL));
  local = g_socket_get_local_address (script->listener, NULL);
  script->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
  script->garbage = garbage;
  script->silent = silent;
  script->log = g_string_new (NULL);
  g_mutex_init (&script->lock);
  script->thread = g_thread_new ("script", script_thread, script);
  return script;
}

static Script *
script_start (gboolean garbage)
{
  return script_start_full (garbage, FALSE);
}

static void
script_free (Script *script)
{
  g_thread_join (script->thread);
  g_socket_close (script->listener, NULL);
  g_object_unref (script->listener);
  g_string_free (script->log, TRUE);
  g_mutex_clear (&script->lock);
  g_free (script);
}

static void
run_script (gboolean garbage)
{
  g_autoptr(Owner) owner = owner_new ();
  Script *script = script_start (garbage);
  g_autoptr(TdIrcClientConfig) config = td_irc_client_config_new ();
  TdIrcClient *client;
  TdIrcEvent *event;
  guint from = 0;

  config->port = script->port;
  config->nick = g_strdup ("tester");
  config->reconnect = FALSE;
  client = td_irc_client_new (config, owner->mailbox, MAIL_EVENTS);
  td_irc_client_connect (client);

  event = wait_type (owner, &from, TD_IRC_EVENT_CAPS);
  g_assert_cmpstr (event->text, ==, "multi-prefix server-time");
  event = wait_type (owner, &from, TD_IRC_EVENT_NICK_IN_USE);
  g_assert_cmpstr (event->text, ==, "tester");
  g_assert_cmpstr (event->nick, ==, "tester_");
  event = wait_type (owner, &from, TD_IRC_EVENT_REGISTERED);
  g_assert_cmpstr (event->nick, ==, "tester_");
  event = wait_type (owner, &from, TD_IRC_EVENT_NOTICE);
  g_assert_null (event->target);
  g_assert_cmpint (event->time, ==, G_GINT64_CONSTANT (1580608922) * G_USEC_PER_SEC);
  wait_type (owner, &from, TD_IRC_EVENT_JOINED);
  wait_members (owner, "#q", "~owner @op +voice tester_");
  event = wait_type (owner, &from, TD_IRC_EVENT_CTCP);
  g_assert_cmpstr (event->command, ==, "VERSION");
  event = wait_numeric (owner, &from, "999");
  g_assert_cmpstr (event->target, ==, "#q");
  g_assert_cmpstr (event->text, ==, "#q: a numeric nobody knows");

  if (garbage)
    {
      wait_event_full (owner, &from, match_error_containing, "not IRC", "a parse error");
      event = wait_event_full (owner, &from, match_text, "café", "decoded latin-1");
      wait_event_full (owner, &from, match_error_containing, "longer than", "the long line");
      event = wait_state (owner, &from, TD_IRC_STATE_DISCONNECTED);
      g_assert_cmpstr (event->text, ==, "The server does not speak IRC");
    }
  else
    {
      event = wait_type (owner, &from, TD_IRC_EVENT_ERROR);
      g_assert_true (event->flags & TD_IRC_EVENT_FLAG_FATAL);
      g_assert_cmpstr (event->text, ==, "Closing link");
      wait_state (owner, &from, TD_IRC_STATE_DISCONNECTED);
    }

  g_mutex_lock (&script->lock);
  g_assert_nonnull (strstr (script->log->str, "CAP LS 302\n"));
  g_assert_nonnull (strstr (script->log->str, "CAP REQ :server-time multi-prefix\n"));
  g_assert_nonnull (strstr (script->log->str, "PONG :are-you-there\n"));
  g_mutex_unlock (&script->lock);

  td_irc_client_free (client, NULL);
  script_free (script);
}

static void
test_script (void)
{
  run_script (FALSE);
}

/* An idle connection is checked with a PING after the ping interval, and
 * dropped when the server does not answer within the timeout (the timer
 * runs then, not every second). */
static void
test_keepalive (void)
{
  g_autoptr(Owner) owner = owner_new ();
  Script *script = script_start_full (FALSE, TRUE);
  g_autoptr(TdIrcClientConfig) config = td_irc_client_config_new ();
  TdIrcClient *client;
  TdIrcEvent *event;
  guint from = 0;
  gint64 registered, lost;

  config->port = script->port;
  config->nick = g_strdup ("tester");
  config->reconnect = FALSE;
  config->ping_interval_s = 1;
  config->ping_timeout_s = 1;
  client = td_irc_client_new (config, owner->mailbox, MAIL_EVENTS);
  td_irc_client_connect (client);

  wait_type (owner, &from, TD_IRC_EVENT_REGISTERED);
  registered = g_get_monotonic_time ();
  event = wait_state (owner, &from, TD_IRC_STATE_DISCONNECTED);
  lost = g_get_monotonic_time ();
  g_assert_cmpstr (event->text, ==, "Ping timeout");
  /* One interval of silence, a PING, one timeout of silence. */
  g_assert_cmpint (lost - registered, >=, 2 * G_USEC_PER_SEC - 100 * 1000);
  g_assert_cmpint (lost - registered, <, TD_IRC_TEST_TIMEOUT_S * G_USEC_PER_SEC);

  g_mutex_lock (&script->lock);
  g_assert_nonnull (strstr (script->log->str, "PING :tidings\n"));
  g_mutex_unlock (&script->lock);
  td_irc_client_free (client, NULL);
  script_free (script);
}

static void
test_garbage (void)
{
  run_script (TRUE);
}

/* ------------------------------------------------------------------ */
/* Against ngircd                                                      */
/* ------------------------------------------------------------------ */

static guint16
free_port (void)
{
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) inet = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (inet, 0);
  g_autoptr(GSocketAddress) local = NULL;

  g_assert_true (g_socket_bind (socket, address, TRUE, NULL));
  local = g_socket_get_local_address (socket, NULL);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
}

static gboolean
port_open (guint16 port)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) connection = g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, NULL);

  return connection != NULL;
}

static void
test_ngircd (void)
{
  const char *ngircd = "/usr/sbin/ngircd";
  g_autofree char *dir = NULL;
  g_autofree char *conf = NULL;
  g_autofree char *motd = NULL;
  g_autofree char *text = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(Owner) oa = owner_new ();
  g_autoptr(Owner) ob = owner_new ();
  TdIrcClient *a, *b;
  TdIrcEvent *event;
  guint fa = 0, fb = 0;
  guint16 port;
  gint64 deadline;

  if (!g_file_test (ngircd, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("ngircd is not installed");
      return;
    }

  dir = g_dir_make_tmp ("td-ngircd-XXXXXX", &error);
  g_assert_no_error (error);
  conf = g_build_filename (dir, "ngircd.conf", NULL);
  motd = g_build_filename (dir, "motd", NULL);
  port = free_port ();
  g_assert_true (g_file_set_contents (motd, "Tidings test\n", -1, NULL));
  text = g_strdup_printf ("[Global]\n"
                          "  Name = irc.test.local\n"
                          "  Info = Tidings client test\n"
                          "  Listen = 127.0.0.1\n"
                          "  Ports = %u\n"
                          "  MotdFile = %s\n"
                          "  ServerUID = %u\n"
                          "  ServerGID = %u\n"
                          "[Limits]\n"
                          "  MaxNickLength = 20\n"
                          "[Options]\n"
                          "  PAM = no\n"
                          "  Ident = no\n"
                          "  DNS = no\n"
                          "  OperCanUseMode = yes\n",
                          port, motd, (guint) getuid (), (guint) getgid ());
  g_assert_true (g_file_set_contents (conf, text, -1, NULL));

  process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE,
                              &error, ngircd, "-n", "-f", conf, NULL);
  g_assert_no_error (error);
  deadline = g_get_monotonic_time () + TD_IRC_TEST_TIMEOUT_S * G_USEC_PER_SEC;
  while (!port_open (port))
    {
      if (g_get_monotonic_time () > deadline)
        {
          g_subprocess_force_exit (process);
          g_test_skip ("ngircd did not start");
          return;
        }
      g_usleep (20000);
    }

  a = client_new (oa, port, "alice");
  b = client_new (ob, port, "bob");
  wait_type (oa, &fa, TD_IRC_EVENT_REGISTERED);
  wait_type (ob, &fb, TD_IRC_EVENT_REGISTERED);
  /* Plain IRC plus multi-prefix: no echo-message, so our own lines are
   * echoed locally. */
  td_irc_client_join (a, "#ng", NULL);
  wait_type (oa, &fa, TD_IRC_EVENT_JOINED);
  wait_members (oa, "#ng", "@alice");
  td_irc_client_join (b, "#ng", NULL);
  wait_type (ob, &fb, TD_IRC_EVENT_JOINED);
  wait_members (oa, "#ng", "@alice bob");
  td_irc_client_privmsg (b, "#ng", "plain irc works");
  event = wait_text (oa, &fa, "plain irc works");
  g_assert_cmpstr (event->nick, ==, "bob");
  event = wait_text (ob, &fb, "plain irc works");
  g_assert_true (event->flags & TD_IRC_EVENT_FLAG_SELF);
  /* No chathistory there: the answer says so at once. */
  td_irc_client_history_latest (b, "#ng", 10);
  event = wait_type (ob, &fb, TD_IRC_EVENT_HISTORY);
  g_assert_cmpstr (event->text, ==, "unsupported");
  td_irc_client_whois (b, "alice");
  wait_numeric (ob, &fb, "311");
  wait_numeric (ob, &fb, "318");

  td_irc_client_free (b, NULL);
  td_irc_client_free (a, NULL);
  g_subprocess_send_signal (process, SIGTERM);
  g_subprocess_wait (process, NULL, NULL);
  g_unlink (conf);
  g_unlink (motd);
  g_rmdir (dir);
}

/* ------------------------------------------------------------------ */
/* Against inspircd (IRCv3)                                             */
/* ------------------------------------------------------------------ */

/* The IRCv3 modules of Debian's inspircd 3 that a client sees, each
 * loaded when the package ships it (SASL is left out: inspircd only
 * offers it with a services server linked). */
static const char * const inspircd_modules[] = {
  "cap", "ircv3", "ircv3_accounttag", "ircv3_batch", "ircv3_capnotify", "ircv3_chghost",
  "ircv3_ctctags", "ircv3_echomessage", "ircv3_invitenotify", "ircv3_labeledresponse",
  "ircv3_msgid", "ircv3_servertime", "namesx", "uhnames", "monitor", "setname",
};

#define INSPIRCD "/usr/sbin/inspircd"
#define INSPIRCD_MODULES "/usr/lib/inspircd/modules"

static void
die_with_parent (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

/* Writes @dir/inspircd.conf for 127.0.0.1:@port (flood limits raised: the
 * test sends in bursts) and starts inspircd on it; returns NULL when it
 * does not listen within the timeout. */
static GSubprocess *
inspircd_start (const char *dir,
                guint16     port,
                const char *network)
{
  g_autofree char *conf = g_build_filename (dir, "inspircd.conf", NULL);
  g_autofree char *motd = g_build_filename (dir, "motd", NULL);
  g_autofree char *config_arg = g_strdup_printf ("--config=%s", conf);
  g_autoptr(GString) text = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  GSubprocess *process;
  gint64 deadline;

  g_assert_true (g_file_set_contents (motd, "Tidings test\n", -1, NULL));
  g_string_append_printf (text,
                          "<config format=\"xml\">\n"
                          "<server name=\"irc.test.local\" description=\"Tidings client test\" network=\"%s\">\n"
                          "<admin name=\"test\" nick=\"test\" email=\"test@test.local\">\n"
                          "<bind address=\"127.0.0.1\" port=\"%u\" type=\"clients\">\n"
                          "<connect name=\"main\" allow=\"*\" timeout=\"20\" pingfreq=\"120\""
                          " threshold=\"1000000\" commandrate=\"100000000\" fakelag=\"off\""
                          " localmax=\"100\" globalmax=\"100\" useident=\"no\" resolvehostnames=\"no\">\n"
                          "<pid file=\"%s/inspircd.pid\">\n"
                          "<files motd=\"%s\">\n<dns timeout=\"1\">\n"
                          "<log method=\"file\" type=\"* -USERINPUT -USEROUTPUT\" level=\"default\""
                          " target=\"%s/inspircd.log\">\n",
                          network, port, dir, motd, dir);
  for (guint i = 0; i < G_N_ELEMENTS (inspircd_modules); i++)
    {
      g_autofree char *so = g_strdup_printf ("%s/m_%s.so", INSPIRCD_MODULES, inspircd_modules[i]);

      if (g_file_test (so, G_FILE_TEST_EXISTS))
        g_string_append_printf (text, "<module name=\"%s\">\n", inspircd_modules[i]);
    }
  g_assert_true (g_file_set_contents (conf, text->str, -1, NULL));

  /* A test that fails does not leave inspircd running; and inspircd
   * refuses to run as root unless told that it is meant. */
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE);
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  process = g_subprocess_launcher_spawn (launcher, &error, INSPIRCD, "--nofork", config_arg,
                                         getuid () == 0 ? "--runasroot" : NULL, NULL);
  g_assert_no_error (error);
  deadline = g_get_monotonic_time () + TD_IRC_TEST_TIMEOUT_S * G_USEC_PER_SEC;
  while (!port_open (port))
    {
      if (g_get_monotonic_time () > deadline || g_subprocess_get_identifier (process) == NULL)
        {
          g_subprocess_force_exit (process);
          g_subprocess_wait (process, NULL, NULL);
          g_object_unref (process);
          return NULL;
        }
      g_usleep (20000);
    }
  return process;
}

static void
inspircd_kill (GSubprocess *process)
{
  g_subprocess_send_signal (process, SIGKILL);
  g_subprocess_wait (process, NULL, NULL);
}

/* How many MESSAGE events after @from carry @text. */
static guint
count_text (Owner      *owner,
            guint       from,
            const char *text)
{
  guint n = 0;

  for (guint i = from; i < owner->events->len; i++)
    {
      TdIrcEvent *event = g_ptr_array_index (owner->events, i);

      if (event->type == TD_IRC_EVENT_MESSAGE && g_strcmp0 (event->text, text) == 0)
        n++;
    }
  return n;
}

/* @event came through inspircd with its IRCv3 tags: a msgid, and the
 * server's time (inspircd stamps milliseconds, the local clock would
 * give microseconds), close to now. */
static void
assert_tagged (TdIrcEvent *event)
{
  g_assert_nonnull (event->msgid);
  g_assert_cmpuint (strlen (event->msgid), >, 0);
  g_assert_cmpint (event->time % 1000, ==, 0);
  g_assert_cmpint (ABS (event->time - g_get_real_time ()), <, 60 * G_USEC_PER_SEC);
}

static void
test_inspircd (void)
{
  g_autofree char *dir = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(Owner) oa = owner_new ();
  g_autoptr(Owner) ob = owner_new ();
  g_autoptr(Owner) oc = owner_new ();
  GSubprocess *process;
  TdIrcClient *a, *b, *c;
  TdIrcEvent *event;
  guint fa = 0, fb = 0, fc = 0, mark;
  guint16 port;
  const char *wanted[] = { "account-tag", "away-notify", "batch", "echo-message", "labeled-response",
                           "message-tags", "multi-prefix", "server-time" };

  if (!g_file_test (INSPIRCD, G_FILE_TEST_IS_EXECUTABLE))
    {
      g_test_skip ("inspircd is not installed (apt-get install inspircd)");
      return;
    }
  dir = g_dir_make_tmp ("td-inspircd-XXXXXX", &error);
  g_assert_no_error (error);
  port = free_port ();
  process = inspircd_start (dir, port, "TestNet");
  if (process == NULL)
    {
      g_test_skip ("inspircd did not start");
      goto out;
    }

  /* Registration and CAP negotiation: every IRCv3 capability the client
   * wants that inspircd offers, and none it does not (no chathistory, no
   * SASL without services). */
  a = client_new (oa, port, "alice");
  wait_state (oa, &fa, TD_IRC_STATE_REGISTERING);
  event = wait_type (oa, &fa, TD_IRC_EVENT_CAPS);
  for (guint i = 0; i < G_N_ELEMENTS (wanted); i++)
    if (!g_strv_contains ((const char * const *) event->params, wanted[i]))
      g_error ("inspircd did not enable %s (enabled: %s)", wanted[i], event->text);
  g_assert_false (g_strv_contains ((const char * const *) event->params, "draft/chathistory"));
  g_assert_false (g_strv_contains ((const char * const *) event->params, "sasl"));
  wait_state (oa, &fa, TD_IRC_STATE_CONNECTED);
  event = wait_type (oa, &fa, TD_IRC_EVENT_REGISTERED);
  g_assert_cmpstr (event->nick, ==, "alice");
  /* ISUPPORT comes in several lines; one names the network. */
  {
    guint f = 0;

    do
      event = wait_numeric (oa, &f, "005");
    while (strstr (event->text, "NETWORK=") == NULL);
    g_assert_nonnull (strstr (event->text, "NETWORK=TestNet"));
  }
  b = client_new (ob, port, "bob");
  wait_type (ob, &fb, TD_IRC_EVENT_REGISTERED);

  /* Join: the channel exists once inspircd echoes it, with its members. */
  td_irc_client_join (a, "#insp", NULL);
  event = wait_type (oa, &fa, TD_IRC_EVENT_JOINED);
  g_assert_cmpstr (event->target, ==, "#insp");
  wait_members (oa, "#insp", "@alice");
  td_irc_client_join (b, "#INSP", NULL);
  wait_type (ob, &fb, TD_IRC_EVENT_JOINED);
  event = wait_type (oa, &fa, TD_IRC_EVENT_JOIN);
  g_assert_cmpstr (event->nick, ==, "bob");
  wait_members (oa, "#insp", "@alice bob");
  wait_members (ob, "#insp", "@alice bob");

  /* A message both ways, with server-time and msgid; the sender sees its
   * own line once, as inspircd echoes it (echo-message), not twice. */
  mark = fb;
  td_irc_client_privmsg (b, "#insp", "hello from bob");
  event = wait_text (oa, &fa, "hello from bob");
  g_assert_cmpstr (event->nick, ==, "bob");
  g_assert_cmpstr (event->target, ==, "#insp");
  g_assert_false (event->flags & TD_IRC_EVENT_FLAG_SELF);
  assert_tagged (event);
  event = wait_text (ob, &fb, "hello from bob");
  g_assert_true (event->flags & TD_IRC_EVENT_FLAG_SELF);
  g_assert_cmpstr (event->target, ==, "#insp");
  assert_tagged (event);
  td_irc_client_privmsg (a, "#insp", "hello from alice");
  event = wait_text (ob, &fb, "hello from alice");
  assert_tagged (event);
  g_assert_cmpstr (event->nick, ==, "alice");
  wait_text (oa, &fa, "hello from alice");
  spin_ms (ob, 300);
  g_assert_cmpuint (count_text (ob, mark, "hello from bob"), ==, 1);
  g_assert_cmpuint (count_text (oa, 0, "hello from alice"), ==, 1);

  /* A private message opens a query on both sides, echoed once. */
  mark = fa;
  td_irc_client_privmsg (a, "bob", "psst");
  event = wait_text (ob, &fb, "psst");
  g_assert_cmpstr (event->target, ==, "alice");
  g_assert_true (event->flags & TD_IRC_EVENT_FLAG_QUERY);
  assert_tagged (event);
  event = wait_text (oa, &fa, "psst");
  g_assert_cmpstr (event->target, ==, "bob");
  g_assert_true (event->flags & (TD_IRC_EVENT_FLAG_QUERY));
  g_assert_true (event->flags & (TD_IRC_EVENT_FLAG_SELF));
  spin_ms (oa, 300);
  g_assert_cmpuint (count_text (oa, mark, "psst"), ==, 1);

  /* /me, and a long message split so that what inspircd relays fits in
   * its 512-byte lines with nothing cut. */
  td_irc_client_action (b, "#insp", "waves");
  event = wait_type (oa, &fa, TD_IRC_EVENT_ACTION);
  g_assert_cmpstr (event->text, ==, "waves");
  g_assert_cmpstr (event->nick, ==, "bob");
  {
    g_autoptr(GString) big = g_string_new (NULL);
    guint got = 0;
    guint pieces = 0;

    for (guint i = 0; i < 200; i++)
      g_string_append_printf (big, "%sw%03u", i ? " " : "", i);
    td_irc_client_privmsg (b, "#insp", big->str);
    while (got < big->len)
      {
        event = wait_type (oa, &fa, TD_IRC_EVENT_MESSAGE);
        g_assert_nonnull (event->userhost);
        g_assert_cmpuint (strlen (":bob! PRIVMSG #insp :") + strlen (event->userhost) +
                          strlen (event->text), <=, TD_IRC_MAX_LINE_CONTENT);
        g_assert_true (g_str_has_prefix (big->str + got, event->text));
        pieces++;
        got += strlen (event->text) + 1;
      }
    g_assert_cmpuint (got, ==, big->len + 1);
    g_assert_cmpuint (pieces, ==, 3);
  }

  /* Topic, and a nick change seen in the member list. */
  td_irc_client_set_topic (a, "#insp", "IRCv3 here");
  event = wait_type (ob, &fb, TD_IRC_EVENT_TOPIC);
  g_assert_cmpstr (event->text, ==, "IRCv3 here");
  g_assert_cmpstr (event->nick, ==, "alice");
  td_irc_client_set_nick (b, "robert");
  event = wait_type (oa, &fa, TD_IRC_EVENT_NICK);
  g_assert_cmpstr (event->nick, ==, "bob");
  g_assert_cmpstr (event->text, ==, "robert");
  wait_members (oa, "#insp", "@alice robert");
  td_irc_client_set_nick (b, "bob");
  wait_members (oa, "#insp", "@alice bob");

  /* multi-prefix: both of alice's prefixes, best first; away-notify. */
  td_irc_client_mode (a, "#insp", "+v alice");
  wait_members (ob, "#insp", "@+alice bob");
  td_irc_client_names (b, "#insp");
  wait_numeric (ob, &fb, "353");
  wait_numeric (ob, &fb, "366");
  wait_members (ob, "#insp", "@+alice bob");
  td_irc_client_set_away (b, "lunch");
  wait_members (oa, "#insp", "@+alice bob(away)");
  td_irc_client_set_away (b, NULL);
  wait_members (oa, "#insp", "@+alice bob");

  /* A nick that is taken: the alternate, and the reason shown. */
  c = client_new (oc, port, "alice");
  event = wait_type (oc, &fc, TD_IRC_EVENT_NICK_IN_USE);
  g_assert_cmpstr (event->text, ==, "alice");
  g_assert_cmpstr (event->nick, ==, "alice_");
  event = wait_type (oc, &fc, TD_IRC_EVENT_REGISTERED);
  g_assert_cmpstr (event->nick, ==, "alice_");
  fc = 0;
  wait_numeric (oc, &fc, "433");
  td_irc_client_free (c, NULL);

  /* A nick change that inspircd refuses leaves bob who he was, now and
   * after the restart below (however fast he reconnects). */
  td_irc_client_set_nick (b, "alice");
  event = wait_numeric (ob, &fb, "433");
  g_assert_nonnull (strstr (event->text, "alice"));

  /* inspircd dies and comes back on the same port: both retry, register
   * again, rejoin the channel and talk. */
  inspircd_kill (process);
  g_clear_object (&process);
  wait_state (oa, &fa, TD_IRC_STATE_RETRYING);
  wait_state (ob, &fb, TD_IRC_STATE_RETRYING);
  process = inspircd_start (dir, port, "OtherNet");
  g_assert_nonnull (process);
  wait_state (oa, &fa, TD_IRC_STATE_CONNECTED);
  /* What the old server said about itself is forgotten: the network's
   * name comes from the new one's ISUPPORT, after the welcome. */
  mark = fa;
  event = wait_type (oa, &fa, TD_IRC_EVENT_REGISTERED);
  g_assert_null (event->text);
  do
    event = wait_numeric (oa, &mark, "005");
  while (strstr (event->text, "NETWORK=") == NULL);
  g_assert_nonnull (strstr (event->text, "NETWORK=OtherNet"));
  event = wait_type (oa, &fa, TD_IRC_EVENT_JOINED);
  g_assert_cmpstr (event->target, ==, "#insp");
  wait_state (ob, &fb, TD_IRC_STATE_CONNECTED);
  event = wait_type (ob, &fb, TD_IRC_EVENT_REGISTERED);
  g_assert_cmpstr (event->nick, ==, "bob");
  event = wait_type (ob, &fb, TD_IRC_EVENT_JOINED);
  g_assert_cmpstr (event->target, ==, "#insp");
  /* Whoever rejoined first is the operator now. */
  {
    gint64 deadline = g_get_monotonic_time () + TD_IRC_TEST_TIMEOUT_S * G_USEC_PER_SEC;
    g_autofree char *now = NULL;

    for (;;)
      {
        g_free (now);
        now = members_string (last_members (oa, "#insp"));
        if (g_str_equal (now, "@alice bob") || g_str_equal (now, "@bob alice"))
          break;
        if (g_get_monotonic_time () > deadline)
          g_error ("members of #insp are “%s” after the restart", now);
        g_main_context_iteration (oa->context, FALSE);
        g_usleep (500);
      }
  }
  td_irc_client_privmsg (a, "#insp", "back again");
  event = wait_text (ob, &fb, "back again");
  assert_tagged (event);
  event = wait_text (oa, &fa, "back again");
  g_assert_true (event->flags & TD_IRC_EVENT_FLAG_SELF);

  td_irc_client_free (b, "bye");
  td_irc_client_free (a, "bye");
  g_subprocess_send_signal (process, SIGTERM);
  g_subprocess_wait (process, NULL, NULL);
  g_clear_object (&process);

out:
  {
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", dir);

    g_assert_cmpint (system (cmd), ==, 0);
  }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/td/irc-client/split", test_split);
  g_test_add_func ("/td/irc-client/register", test_register);
  g_test_add_func ("/td/irc-client/filehost", test_filehost);
  g_test_add_func ("/td/irc-client/channel", test_channel);
  g_test_add_func ("/td/irc-client/never-fake", test_never_fake);
  g_test_add_func ("/td/irc-client/nick-in-use", test_nick_in_use);
  g_test_add_func ("/td/irc-client/history", test_history);
  g_test_add_func ("/td/irc-client/query-follows-nick", test_query_follows_nick);
  g_test_add_func ("/td/irc-client/sasl", test_sasl);
  g_test_add_func ("/td/irc-client/reconnect", test_reconnect);
  g_test_add_func ("/td/irc-client/not-connected", test_not_connected);
  g_test_add_func ("/td/irc-client/script", test_script);
  g_test_add_func ("/td/irc-client/keepalive", test_keepalive);
  g_test_add_func ("/td/irc-client/garbage", test_garbage);
  g_test_add_func ("/td/irc-client/ngircd", test_ngircd);
  g_test_add_func ("/td/irc-client/inspircd", test_inspircd);

  return g_test_run ();
}
