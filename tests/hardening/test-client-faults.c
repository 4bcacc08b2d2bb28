/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The Pub/Sub client against a tidingsd process that dies with SIGKILL
 * (no goodbye: the kernel resets the connection), then a stranger on the
 * same port that answers garbage, then tidingsd again. The client must
 * report each failure with its reason, back off between attempts, and
 * come back with its subscriptions once a real server answers.
 *
 * tests/pubsub/test-pubsub-client.c covers a graceful in-process stop and
 * garbage at the first connect; this is the sequence a user sees when
 * the server crashes and something else takes its port for a while. The
 * IRC client goes through the same sequence (tests/chat/test-irc-client.c
 * covers an in-process stop and a garbage script).
 */
#include "config.h"

#include "chat/td-irc-client.h"
#include "pubsub/td-pubsub-client.h"
#include "td-hardening-test.h"

typedef struct
{
  TdMailboxId  mailbox;
  GPtrArray   *statuses;        /* TdPubsubStatus */
  GPtrArray   *messages;        /* TdPubsubMessage */
  guint        n_subscriptions;
} Owner;

static void
owner_mail_cb (TdMailboxId  id,
               TdMail      *mail,
               gpointer     user_data)
{
  Owner *owner = user_data;

  switch (mail->kind)
    {
    case TD_PUBSUB_MAIL_STATUS:
      g_ptr_array_add (owner->statuses, td_mail_steal_data (mail));
      break;
    case TD_PUBSUB_MAIL_MESSAGES:
      {
        g_autoptr(TdPubsubBatch) batch = td_mail_steal_data (mail);

        g_ptr_array_set_free_func (batch->messages, NULL);
        g_ptr_array_extend_and_steal (owner->messages, g_steal_pointer (&batch->messages));
      }
      break;
    case TD_PUBSUB_MAIL_SUBSCRIPTION:
      td_pubsub_subscription_free (td_mail_steal_data (mail));
      owner->n_subscriptions++;
      break;
    case TD_PUBSUB_MAIL_PUBLISHED:
      td_pubsub_published_free (td_mail_steal_data (mail));
      break;
    default:
      g_assert_not_reached ();
    }
}

static Owner *
owner_new (void)
{
  Owner *owner = g_new0 (Owner, 1);

  owner->mailbox = td_mailbox_open (NULL, G_PRIORITY_DEFAULT, owner_mail_cb, owner, NULL);
  owner->statuses = g_ptr_array_new_with_free_func ((GDestroyNotify) td_pubsub_status_free);
  owner->messages = g_ptr_array_new_with_free_func ((GDestroyNotify) td_pubsub_message_free);
  return owner;
}

static void
owner_free (Owner *owner)
{
  td_mailbox_close (owner->mailbox);
  g_ptr_array_unref (owner->statuses);
  g_ptr_array_unref (owner->messages);
  g_free (owner);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Owner, owner_free)

typedef gboolean (*Condition) (Owner *owner, gconstpointer data);

static void
wait_for (Owner         *owner,
          Condition      cond,
          gconstpointer  data,
          const char    *what)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) TD_HARD_TIMEOUT_MS * 1000;

  while (!cond (owner, data))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("timed out waiting for %s", what);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
}

/* Statuses from index @data on include one of state CONNECTED. */
static gboolean
connected_since (Owner         *owner,
                 gconstpointer  data)
{
  for (guint i = GPOINTER_TO_UINT (data); i < owner->statuses->len; i++)
    if (((TdPubsubStatus *) g_ptr_array_index (owner->statuses, i))->state == TD_PUBSUB_STATE_CONNECTED)
      return TRUE;
  return FALSE;
}

static gboolean
retrying_since (Owner         *owner,
                gconstpointer  data)
{
  for (guint i = GPOINTER_TO_UINT (data); i < owner->statuses->len; i++)
    if (((TdPubsubStatus *) g_ptr_array_index (owner->statuses, i))->state == TD_PUBSUB_STATE_RETRYING)
      return TRUE;
  return FALSE;
}

static gboolean
has_message (Owner         *owner,
             gconstpointer  data)
{
  for (guint i = 0; i < owner->messages->len; i++)
    {
      TdPubsubMessage *message = g_ptr_array_index (owner->messages, i);
      gsize len;
      const char *payload = g_bytes_get_data (message->payload, &len);

      if (len == strlen (data) && memcmp (payload, data, len) == 0)
        return TRUE;
    }
  return FALSE;
}

static gboolean
has_subscriptions (Owner         *owner,
                   gconstpointer  data)
{
  return owner->n_subscriptions >= GPOINTER_TO_UINT (data);
}

static guint16
free_port (void)
{
  struct sockaddr_in addr = { 0 };
  socklen_t len = sizeof addr;
  int fd = socket (AF_INET, SOCK_STREAM, 0);
  guint16 port;

  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &addr, sizeof addr), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &addr, &len), ==, 0);
  port = ntohs (addr.sin_port);
  close (fd);
  return port;
}

static TdHardServer *
start_tidingsd (const char *db,
                guint16     port)
{
  g_autofree char *port_text = g_strdup_printf ("%u", port);
  const char * const args[] = {
    "--chat-port", "-1", "--pubsub-port", port_text, "--line-port", "-1", "--files-port", "-1", NULL
  };
  gint64 deadline = g_get_monotonic_time () + (gint64) TD_HARD_TIMEOUT_MS * 1000;

  /* The port of a killed server may take a moment to be free for bind. */
  for (;;)
    {
      int fd = td_hard_connect_from (port, 0);

      if (fd < 0)
        break;
      close (fd);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (10 * 1000);
    }
  return td_hard_server_start (db, args);
}

static void
publish_raw (guint16     port,
             const char *channel,
             const char *text)
{
  g_autoptr(TdHardConn) conn = td_hard_conn_new (td_hard_connect (port));
  g_autofree char *request = g_strdup_printf ("PUBLISH %s %s\r\n", channel, text);

  td_hard_send (conn->fd, request);
  g_free (td_hard_conn_expect (conn, ":"));
}

/* A stranger on the port: every connection gets an HTTP error. */
static gboolean
garbage_incoming_cb (GSocketService    *service,
                     GSocketConnection *connection,
                     GObject           *source,
                     gpointer           user_data)
{
  static const char reply[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (connection));

  g_output_stream_write_all (out, reply, sizeof reply - 1, NULL, NULL, NULL);
  g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
  (*(guint *) user_data)++;
  return TRUE;
}

static void
test_pubsub_client_kill_garbage_restart (void)
{
  g_autofree char *dir = g_dir_make_tmp ("td-hard-XXXXXX", NULL);
  g_autofree char *db = g_build_filename (dir, "tidingsd.db", NULL);
  g_autoptr(Owner) owner = owner_new ();
  TdPubsubClientOptions options;
  TdPubsubClient *client;
  TdHardServer *server;
  guint16 port = free_port ();
  guint mark, n_retrying = 0, last_attempt = 0, garbage_hits = 0, max_delay = 0;
  g_autoptr(GSocketService) garbage = NULL;
  g_autoptr(GError) error = NULL;
  TdPubsubStatus *status = NULL;

  server = start_tidingsd (db, port);

  td_pubsub_client_options_init (&options);
  options.port = port;
  options.retry = (TdRetryPolicy) { 50, 2.0, 400, 0.25 };
  client = td_pubsub_client_new (&options, owner->mailbox);
  td_pubsub_client_options_clear (&options);
  td_pubsub_client_subscribe (client, "alive");
  td_pubsub_client_psubscribe (client, "al*");
  td_pubsub_client_start (client);
  wait_for (owner, connected_since, GUINT_TO_POINTER (0), "connected");
  wait_for (owner, has_subscriptions, GUINT_TO_POINTER (2), "subscribed");
  publish_raw (server->pubsub_port, "alive", "before");
  wait_for (owner, has_message, "before", "a message before the kill");

  /* SIGKILL: the client learns it from a reset or an end of stream. */
  mark = owner->statuses->len;
  td_hard_server_stop (server, SIGKILL);
  wait_for (owner, retrying_since, GUINT_TO_POINTER (mark), "retrying after SIGKILL");

  /* Something else takes the port and answers garbage for a while. */
  garbage = g_socket_service_new ();
  {
    g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
    g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, port);
    gint64 until = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

    while (!g_socket_listener_add_address (G_SOCKET_LISTENER (garbage), address, G_SOCKET_TYPE_STREAM,
                                           G_SOCKET_PROTOCOL_TCP, NULL, NULL, &error))
      {
        g_assert_cmpint (g_get_monotonic_time (), <, until);
        g_clear_error (&error);
        g_usleep (10 * 1000);
      }
  }
  g_signal_connect (garbage, "incoming", G_CALLBACK (garbage_incoming_cb), &garbage_hits);
  g_socket_service_start (garbage);
  mark = owner->statuses->len;
  {
    gint64 until = g_get_monotonic_time () + 1500 * 1000;

    while (g_get_monotonic_time () < until)
      {
        g_main_context_iteration (NULL, FALSE);
        g_usleep (1000);
      }
  }
  g_socket_service_stop (garbage);
  g_socket_listener_close (G_SOCKET_LISTENER (garbage));

  /* Every attempt failed, said why, and waited longer (up to the cap). */
  for (guint i = mark; i < owner->statuses->len; i++)
    {
      status = g_ptr_array_index (owner->statuses, i);
      g_assert_cmpint (status->state, !=, TD_PUBSUB_STATE_CONNECTED);
      if (status->state != TD_PUBSUB_STATE_RETRYING)
        continue;
      n_retrying++;
      g_assert_nonnull (status->error);
      g_assert_cmpuint (status->attempt, >, last_attempt);
      g_assert_cmpuint (status->retry_in_ms, <=, 400);
      last_attempt = status->attempt;
      max_delay = MAX (max_delay, status->retry_in_ms);
    }
  g_test_message ("%u connections answered with garbage, %u retries reported, attempts up to %u, "
                  "longest delay %u ms", garbage_hits, n_retrying, last_attempt, max_delay);
  g_assert_cmpuint (garbage_hits, >=, 2);
  g_assert_cmpuint (n_retrying, >=, 2);
  /* Backed off to the cap: more than the first delays (50, 100 ms). */
  g_assert_cmpuint (max_delay, >=, 200);
  g_assert_true (status != NULL && status->error != NULL);
  g_test_message ("last reason: %s", status->error->message);

  /* tidingsd is back: reconnected, resubscribed, messages flow. */
  mark = owner->statuses->len;
  server = start_tidingsd (db, port);
  wait_for (owner, connected_since, GUINT_TO_POINTER (mark), "reconnected");
  for (guint i = mark; i < owner->statuses->len; i++)
    {
      status = g_ptr_array_index (owner->statuses, i);
      if (status->state == TD_PUBSUB_STATE_CONNECTED)
        break;
    }
  g_assert_true (status->reconnected);
  g_assert_cmpuint (status->n_resubscribed, ==, 2);
  wait_for (owner, has_subscriptions, GUINT_TO_POINTER (4), "subscribed again");
  publish_raw (server->pubsub_port, "alive", "after");
  wait_for (owner, has_message, "after", "a message after the restart");

  td_pubsub_client_free (client);
  td_hard_server_stop (server, SIGTERM);
}


/* ------------------------------------------------------------------ */
/* IRC client                                                          */

#define IRC_MAIL 1

typedef struct
{
  TdMailboxId  mailbox;
  GPtrArray   *events;          /* TdIrcEvent */
} IrcOwner;

static void
irc_owner_mail_cb (TdMailboxId  id,
                   TdMail      *mail,
                   gpointer     user_data)
{
  IrcOwner *owner = user_data;
  TdIrcEventBatch *batch = mail->data;

  for (guint i = 0; i < batch->events->len; i++)
    g_ptr_array_add (owner->events, g_steal_pointer (&g_ptr_array_index (batch->events, i)));
  g_ptr_array_set_free_func (batch->events, NULL);
}

/* Iterates until an event from *@from on has @type (and, for STATE,
 * @state); returns it and moves *@from past it. */
static TdIrcEvent *
irc_wait (IrcOwner      *owner,
          guint         *from,
          TdIrcEventType type,
          TdIrcState     state)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) TD_HARD_TIMEOUT_MS * 1000;

  for (;;)
    {
      for (; *from < owner->events->len; (*from)++)
        {
          TdIrcEvent *event = g_ptr_array_index (owner->events, *from);

          if (event->type == type && (type != TD_IRC_EVENT_STATE || event->state == state))
            {
              (*from)++;
              return event;
            }
        }
      if (g_get_monotonic_time () > deadline)
        g_error ("timed out waiting for IRC event %d (state %d)", type, state);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
}

static TdHardServer *
start_chat (const char *db,
            guint16     port)
{
  g_autofree char *port_text = g_strdup_printf ("%u", port);
  const char * const args[] = {
    "--chat-port", port_text, "--pubsub-port", "-1", "--line-port", "-1", "--files-port", "-1", NULL
  };

  return td_hard_server_start (db, args);
}

static void
test_irc_client_kill_garbage_restart (void)
{
  g_autofree char *dir = g_dir_make_tmp ("td-hard-XXXXXX", NULL);
  g_autofree char *db = g_build_filename (dir, "tidingsd.db", NULL);
  g_autoptr(TdIrcClientConfig) config = td_irc_client_config_new ();
  IrcOwner owner = { 0 };
  TdIrcClient *client;
  TdHardServer *server;
  TdIrcEvent *event;
  guint16 port = free_port ();
  guint from = 0, n_retrying = 0, max_delay = 0, garbage_hits = 0;
  g_autoptr(GSocketService) garbage = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(TdHardConn) peer = NULL;

  owner.events = g_ptr_array_new_with_free_func ((GDestroyNotify) td_irc_event_free);
  owner.mailbox = td_mailbox_open (NULL, G_PRIORITY_DEFAULT, irc_owner_mail_cb, &owner, NULL);

  server = start_chat (db, port);
  config->port = port;
  config->nick = g_strdup ("erin");
  config->retry = (TdRetryPolicy) { 100, 2.0, 400, 0.25 };
  client = td_irc_client_new (config, owner.mailbox, IRC_MAIL);
  td_irc_client_connect (client);
  irc_wait (&owner, &from, TD_IRC_EVENT_REGISTERED, 0);
  td_irc_client_join (client, "#stay", NULL);
  irc_wait (&owner, &from, TD_IRC_EVENT_JOINED, 0);

  td_hard_server_stop (server, SIGKILL);
  event = irc_wait (&owner, &from, TD_IRC_EVENT_STATE, TD_IRC_STATE_RETRYING);
  g_assert_nonnull (event->text);
  g_test_message ("after SIGKILL: retrying in %u ms: %s", event->retry_in_ms, event->text);

  garbage = g_socket_service_new ();
  {
    g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
    g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, port);
    gint64 until = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

    while (!g_socket_listener_add_address (G_SOCKET_LISTENER (garbage), address, G_SOCKET_TYPE_STREAM,
                                           G_SOCKET_PROTOCOL_TCP, NULL, NULL, &error))
      {
        g_assert_cmpint (g_get_monotonic_time (), <, until);
        g_clear_error (&error);
        g_usleep (10 * 1000);
      }
  }
  g_signal_connect (garbage, "incoming", G_CALLBACK (garbage_incoming_cb), &garbage_hits);
  g_socket_service_start (garbage);
  {
    gint64 until = g_get_monotonic_time () + 2000 * 1000;

    while (g_get_monotonic_time () < until)
      {
        g_main_context_iteration (NULL, FALSE);
        g_usleep (1000);
      }
  }
  g_socket_service_stop (garbage);
  g_socket_listener_close (G_SOCKET_LISTENER (garbage));
  for (; from < owner.events->len; from++)
    {
      event = g_ptr_array_index (owner.events, from);
      g_assert_false (event->type == TD_IRC_EVENT_STATE && event->state == TD_IRC_STATE_CONNECTED);
      if (event->type == TD_IRC_EVENT_STATE && event->state == TD_IRC_STATE_RETRYING)
        {
          n_retrying++;
          g_assert_nonnull (event->text);
          g_assert_cmpuint (event->retry_in_ms, <=, 400);
          max_delay = MAX (max_delay, event->retry_in_ms);
        }
    }
  g_test_message ("%u connections answered with garbage, %u retries reported, longest delay %u ms",
                  garbage_hits, n_retrying, max_delay);
  g_assert_cmpuint (garbage_hits, >=, 2);
  g_assert_cmpuint (n_retrying, >=, 2);
  g_assert_cmpuint (max_delay, >=, 200);

  /* tidingsd again: welcomed, back in its channel, talking. */
  server = start_chat (db, port);
  irc_wait (&owner, &from, TD_IRC_EVENT_STATE, TD_IRC_STATE_CONNECTED);
  event = irc_wait (&owner, &from, TD_IRC_EVENT_JOINED, 0);
  g_assert_cmpstr (event->target, ==, "#stay");
  peer = td_hard_conn_new (td_hard_connect (server->chat_port));
  td_hard_send (peer->fd, "NICK peer\r\nUSER peer 0 * :peer\r\nJOIN #stay\r\n");
  g_free (td_hard_conn_expect (peer, " 366 "));
  td_irc_client_privmsg (client, "#stay", "back again");
  g_free (td_hard_conn_expect (peer, "back again"));

  td_irc_client_free (client, NULL);
  td_mailbox_close (owner.mailbox);
  g_ptr_array_unref (owner.events);
  td_hard_server_stop (server, SIGTERM);
}

int
main (int   argc,
      char *argv[])
{
  signal (SIGPIPE, SIG_IGN);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/td/hardening/client/pubsub-kill-garbage-restart", test_pubsub_client_kill_garbage_restart);
  g_test_add_func ("/td/hardening/client/irc-kill-garbage-restart", test_irc_client_kill_garbage_restart);
  return g_test_run ();
}
