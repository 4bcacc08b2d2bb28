/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <signal.h>
#include <string.h>

#include "pubsub/td-pubsub-client.h"
#include "server/td-server.h"

/*
 * The pub/sub client against two peers: the in-process tidingsd broker
 * (a TdServer on a thread of its own, RESP listener on port 0) and, when
 * it is installed, a real redis-server started on a free loopback port.
 * Every wait has a deadline, so a bug fails the test instead of hanging.
 */

#define DEADLINE_MS 5000

/* ------------------------------------------------------------------ */
/* Peers                                                               */

typedef enum
{
  PEER_TIDINGSD,
  PEER_REDIS,
} PeerKind;

typedef struct
{
  PeerKind    kind;
  guint16     port;
  char       *password;
  TdServer   *server;
  GSubprocess *redis;
} Peer;

static guint16
free_port (void)
{
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                            G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;

  g_assert_true (g_socket_bind (socket, address, TRUE, NULL));
  bound = g_socket_get_local_address (socket, NULL);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

static gboolean
port_accepts (guint16 port)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) connection = NULL;

  connection = g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, NULL);
  return connection != NULL;
}

/* Starts the peer; @port 0 picks one (and keeps it for restarts). */
static void
peer_start (Peer *peer)
{
  if (peer->kind == PEER_TIDINGSD)
    {
      g_autoptr(TdServerConfig) config = td_server_config_new ();
      g_autoptr(GError) error = NULL;

      config->pubsub_port = peer->port;
      config->line_port = -1;
      config->chat_port = -1;
      config->chat_tls_port = -1;
      config->files_port = -1;
      config->password = g_strdup (peer->password);
      peer->server = td_server_new (config);
      g_assert_true (td_server_start_thread (peer->server, &error));
      g_assert_no_error (error);
      peer->port = td_server_get_port (peer->server, "pubsub");
      g_assert_cmpuint (peer->port, >, 0);
    }
  else
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *port = NULL;
      gint64 deadline;

      if (peer->port == 0)
        peer->port = free_port ();
      port = g_strdup_printf ("%u", peer->port);
      if (peer->password != NULL)
        peer->redis = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &error,
                                        "redis-server", "--port", port, "--bind", "127.0.0.1",
                                        "--save", "", "--appendonly", "no", "--daemonize", "no",
                                        "--requirepass", peer->password, NULL);
      else
        peer->redis = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &error,
                                        "redis-server", "--port", port, "--bind", "127.0.0.1",
                                        "--save", "", "--appendonly", "no", "--daemonize", "no",
                                        NULL);
      g_assert_no_error (error);
      deadline = g_get_monotonic_time () + DEADLINE_MS * 1000;
      while (!port_accepts (peer->port))
        {
          g_assert_cmpint (g_get_monotonic_time (), <, deadline);
          g_usleep (20000);
        }
    }
}

static void
peer_stop (Peer *peer)
{
  if (peer->server != NULL)
    g_clear_pointer (&peer->server, td_server_free);
  if (peer->redis != NULL)
    {
      g_subprocess_send_signal (peer->redis, SIGTERM);
      g_assert_true (g_subprocess_wait (peer->redis, NULL, NULL));
      g_clear_object (&peer->redis);
    }
}

static Peer *
peer_new (PeerKind    kind,
          const char *password)
{
  Peer *peer = g_new0 (Peer, 1);

  peer->kind = kind;
  peer->password = g_strdup (password);
  peer_start (peer);
  return peer;
}

static void
peer_free (Peer *peer)
{
  peer_stop (peer);
  g_free (peer->password);
  g_free (peer);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Peer, peer_free)

static gboolean
skip_without_peer (PeerKind kind)
{
  g_autofree char *path = NULL;

  if (kind != PEER_REDIS)
    return FALSE;
  path = g_find_program_in_path ("redis-server");
  if (path == NULL)
    {
      g_test_skip ("redis-server is not installed");
      return TRUE;
    }
  return FALSE;
}

/* ------------------------------------------------------------------ */
/* The owner: a mailbox on the test's context that records all mail    */

typedef struct
{
  GMainContext *context;        /* NULL: the default one */
  TdMailboxId  mailbox;
  GPtrArray   *statuses;        /* TdPubsubStatus */
  GPtrArray   *messages;        /* TdPubsubMessage */
  GPtrArray   *subscriptions;   /* TdPubsubSubscription */
  GPtrArray   *published;       /* TdPubsubPublished */
  guint        n_batches;
  guint        max_batch_seen;
  guint64      n_dropped;
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

        owner->n_batches++;
        owner->n_dropped += batch->n_dropped;
        owner->max_batch_seen = MAX (owner->max_batch_seen, batch->messages->len);
        g_ptr_array_set_free_func (batch->messages, NULL);
        g_ptr_array_extend_and_steal (owner->messages, g_steal_pointer (&batch->messages));
      }
      break;
    case TD_PUBSUB_MAIL_SUBSCRIPTION:
      g_ptr_array_add (owner->subscriptions, td_mail_steal_data (mail));
      break;
    case TD_PUBSUB_MAIL_PUBLISHED:
      g_ptr_array_add (owner->published, td_mail_steal_data (mail));
      break;
    default:
      g_assert_not_reached ();
    }
}

static Owner *
owner_new_for_context (GMainContext *context)
{
  Owner *owner = g_new0 (Owner, 1);

  owner->context = context ? g_main_context_ref (context) : NULL;
  owner->mailbox = td_mailbox_open (context, G_PRIORITY_DEFAULT, owner_mail_cb, owner, NULL);
  owner->statuses = g_ptr_array_new_with_free_func ((GDestroyNotify) td_pubsub_status_free);
  owner->messages = g_ptr_array_new_with_free_func ((GDestroyNotify) td_pubsub_message_free);
  owner->subscriptions = g_ptr_array_new_with_free_func ((GDestroyNotify) td_pubsub_subscription_free);
  owner->published = g_ptr_array_new_with_free_func ((GDestroyNotify) td_pubsub_published_free);
  return owner;
}

static Owner *
owner_new (void)
{
  return owner_new_for_context (NULL);
}

static void
owner_free (Owner *owner)
{
  td_mailbox_close (owner->mailbox);
  g_clear_pointer (&owner->context, g_main_context_unref);
  g_ptr_array_unref (owner->statuses);
  g_ptr_array_unref (owner->messages);
  g_ptr_array_unref (owner->subscriptions);
  g_ptr_array_unref (owner->published);
  g_free (owner);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Owner, owner_free)

typedef gboolean (*Condition) (Owner *owner, gconstpointer data);

/* Iterates the default context until @cond holds; fails the test after
 * @ms milliseconds. */
static void
wait_for (Owner         *owner,
          Condition      cond,
          gconstpointer  data,
          guint          ms,
          const char    *what)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) ms * 1000;

  while (!cond (owner, data))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("Timed out waiting for %s", what);
      g_main_context_iteration (owner->context, FALSE);
      g_usleep (1000);
    }
}

static gboolean
has_state (Owner         *owner,
           gconstpointer  data)
{
  TdPubsubState state = GPOINTER_TO_UINT (data);

  for (guint i = 0; i < owner->statuses->len; i++)
    if (((TdPubsubStatus *) g_ptr_array_index (owner->statuses, i))->state == state)
      return TRUE;
  return FALSE;
}

static gboolean
has_n_messages (Owner         *owner,
                gconstpointer  data)
{
  return owner->messages->len >= GPOINTER_TO_UINT (data);
}

static gboolean
has_n_subscriptions (Owner         *owner,
                     gconstpointer  data)
{
  return owner->subscriptions->len >= GPOINTER_TO_UINT (data);
}

static gboolean
has_n_published (Owner         *owner,
                 gconstpointer  data)
{
  return owner->published->len >= GPOINTER_TO_UINT (data);
}

/* Returns the first status mail of @state. */
static TdPubsubStatus *
find_status (Owner         *owner,
             TdPubsubState  state)
{
  for (guint i = 0; i < owner->statuses->len; i++)
    {
      TdPubsubStatus *status = g_ptr_array_index (owner->statuses, i);

      if (status->state == state)
        return status;
    }
  g_assert_not_reached ();
  return NULL;
}

static TdPubsubStatus *
last_status (Owner *owner)
{
  g_assert_cmpuint (owner->statuses->len, >, 0);
  return g_ptr_array_index (owner->statuses, owner->statuses->len - 1);
}

static TdPubsubMessage *
message_at (Owner *owner,
            guint  i)
{
  return g_ptr_array_index (owner->messages, i);
}

static void
assert_payload (TdPubsubMessage *message,
                const char      *expected)
{
  gsize len;
  const char *data = g_bytes_get_data (message->payload, &len);

  g_assert_cmpmem (data, len, expected, strlen (expected));
}

/* A fast retry policy so that reconnect tests take milliseconds. */
static TdPubsubClient *
client_new (Owner       *owner,
            guint16      port,
            const char  *password)
{
  TdPubsubClientOptions options;
  TdPubsubClient *client;

  td_pubsub_client_options_init (&options);
  options.port = port;
  options.password = g_strdup (password);
  options.retry = (TdRetryPolicy) { 50, 2.0, 400, 0.25 };
  client = td_pubsub_client_new (&options, owner->mailbox);
  td_pubsub_client_options_clear (&options);
  return client;
}

/* Publishes and waits for the receiver count. */
static gint64
publish_sync (TdPubsubClient *client,
              Owner          *owner,
              const char     *channel,
              const char     *payload)
{
  guint before = owner->published->len;
  guint64 request = td_pubsub_client_publish (client, channel, payload, strlen (payload));
  TdPubsubPublished *published;

  wait_for (owner, has_n_published, GUINT_TO_POINTER (before + 1), DEADLINE_MS, "PUBLISH reply");
  published = g_ptr_array_index (owner->published, before);
  g_assert_cmpuint (published->request, ==, request);
  g_assert_no_error (published->error);
  return published->receivers;
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */

static void
test_subscribe (gconstpointer data)
{
  PeerKind kind = GPOINTER_TO_UINT (data);
  g_autoptr(Peer) peer = NULL;
  g_autoptr(Owner) owner = NULL;
  g_autoptr(TdPubsubClient) client = NULL;
  TdPubsubSubscription *sub;
  TdPubsubMessage *message;

  if (skip_without_peer (kind))
    return;
  peer = peer_new (kind, NULL);
  owner = owner_new ();
  client = client_new (owner, peer->port, NULL);

  td_pubsub_client_subscribe (client, "news");
  td_pubsub_client_start (client);
  wait_for (owner, has_n_subscriptions, GUINT_TO_POINTER (1), DEADLINE_MS, "SUBSCRIBE ack");
  g_assert_true (has_state (owner, GUINT_TO_POINTER (TD_PUBSUB_STATE_CONNECTING)));
  g_assert_cmpint (last_status (owner)->state, ==, TD_PUBSUB_STATE_CONNECTED);
  g_assert_false (last_status (owner)->reconnected);
  sub = g_ptr_array_index (owner->subscriptions, 0);
  g_assert_cmpint (sub->kind, ==, TD_PUBSUB_SUBSCRIBE);
  g_assert_cmpstr (sub->name, ==, "news");
  g_assert_cmpint (sub->count, ==, 1);

  g_assert_cmpint (publish_sync (client, owner, "news", "hello"), ==, 1);
  g_assert_cmpint (publish_sync (client, owner, "other", "nobody"), ==, 0);
  wait_for (owner, has_n_messages, GUINT_TO_POINTER (1), DEADLINE_MS, "message");
  message = message_at (owner, 0);
  g_assert_cmpstr (message->channel, ==, "news");
  g_assert_cmpuint (message->channel_len, ==, 4);
  g_assert_null (message->pattern);
  assert_payload (message, "hello");
  g_assert_cmpint (message->time, >, 0);

  /* A binary payload comes through byte for byte. */
  {
    static const char binary[] = { 0, 1, 2, '\r', '\n', (char) 0xff };
    guint64 request = td_pubsub_client_publish (client, "news", binary, sizeof binary);
    gsize len;
    const char *got;

    wait_for (owner, has_n_messages, GUINT_TO_POINTER (2), DEADLINE_MS, "binary message");
    got = g_bytes_get_data (message_at (owner, 1)->payload, &len);
    g_assert_cmpmem (got, len, binary, sizeof binary);
    wait_for (owner, has_n_published, GUINT_TO_POINTER (3), DEADLINE_MS, "PUBLISH reply");
    g_assert_cmpuint (((TdPubsubPublished *) g_ptr_array_index (owner->published, 2))->request, ==, request);
  }

  /* Unsubscribing is confirmed and stops delivery. */
  td_pubsub_client_unsubscribe (client, "news");
  wait_for (owner, has_n_subscriptions, GUINT_TO_POINTER (2), DEADLINE_MS, "UNSUBSCRIBE ack");
  sub = g_ptr_array_index (owner->subscriptions, 1);
  g_assert_cmpint (sub->kind, ==, TD_PUBSUB_UNSUBSCRIBE);
  g_assert_cmpint (sub->count, ==, 0);
  g_assert_cmpint (publish_sync (client, owner, "news", "gone"), ==, 0);

  td_pubsub_client_stop (client);
  wait_for (owner, has_state, GUINT_TO_POINTER (TD_PUBSUB_STATE_DISCONNECTED), DEADLINE_MS, "disconnected");
  g_assert_cmpuint (owner->messages->len, ==, 2);
}

static void
test_pattern (gconstpointer data)
{
  PeerKind kind = GPOINTER_TO_UINT (data);
  g_autoptr(Peer) peer = NULL;
  g_autoptr(Owner) owner = NULL;
  g_autoptr(TdPubsubClient) client = NULL;
  TdPubsubSubscription *sub;

  if (skip_without_peer (kind))
    return;
  peer = peer_new (kind, NULL);
  owner = owner_new ();
  client = client_new (owner, peer->port, NULL);

  g_assert_true (td_pubsub_is_pattern ("news.*"));
  g_assert_true (td_pubsub_is_pattern ("h?llo"));
  g_assert_true (td_pubsub_is_pattern ("[ab]"));
  g_assert_false (td_pubsub_is_pattern ("news.tech"));

  td_pubsub_client_start (client);
  td_pubsub_client_psubscribe (client, "news.*");
  wait_for (owner, has_n_subscriptions, GUINT_TO_POINTER (1), DEADLINE_MS, "PSUBSCRIBE ack");
  td_pubsub_client_subscribe (client, "news.tech");
  wait_for (owner, has_n_subscriptions, GUINT_TO_POINTER (2), DEADLINE_MS, "SUBSCRIBE ack");
  sub = g_ptr_array_index (owner->subscriptions, 0);
  g_assert_cmpint (sub->kind, ==, TD_PUBSUB_PSUBSCRIBE);
  g_assert_cmpstr (sub->name, ==, "news.*");
  g_assert_cmpint (sub->count, ==, 1);
  sub = g_ptr_array_index (owner->subscriptions, 1);
  g_assert_cmpint (sub->count, ==, 2);

  /* Channel and pattern both match: two receivers, message then pmessage. */
  g_assert_cmpint (publish_sync (client, owner, "news.tech", "both"), ==, 2);
  g_assert_cmpint (publish_sync (client, owner, "news.sport", "pattern only"), ==, 1);
  g_assert_cmpint (publish_sync (client, owner, "weather", "neither"), ==, 0);
  wait_for (owner, has_n_messages, GUINT_TO_POINTER (3), DEADLINE_MS, "messages");
  g_assert_cmpstr (message_at (owner, 0)->channel, ==, "news.tech");
  g_assert_null (message_at (owner, 0)->pattern);
  g_assert_cmpstr (message_at (owner, 1)->channel, ==, "news.tech");
  g_assert_cmpstr (message_at (owner, 1)->pattern, ==, "news.*");
  assert_payload (message_at (owner, 1), "both");
  g_assert_cmpstr (message_at (owner, 2)->channel, ==, "news.sport");
  g_assert_cmpstr (message_at (owner, 2)->pattern, ==, "news.*");

  td_pubsub_client_punsubscribe (client, "news.*");
  wait_for (owner, has_n_subscriptions, GUINT_TO_POINTER (3), DEADLINE_MS, "PUNSUBSCRIBE ack");
  sub = g_ptr_array_index (owner->subscriptions, 2);
  g_assert_cmpint (sub->kind, ==, TD_PUBSUB_PUNSUBSCRIBE);
  g_assert_cmpint (sub->count, ==, 1);
  g_assert_cmpint (publish_sync (client, owner, "news.sport", "none"), ==, 0);
  g_assert_cmpuint (owner->messages->len, ==, 3);
}

#define N_BURST 3000

static void
test_batches (gconstpointer data)
{
  PeerKind kind = GPOINTER_TO_UINT (data);
  g_autoptr(Peer) peer = NULL;
  g_autoptr(Owner) owner = NULL;
  g_autoptr(TdPubsubClient) client = NULL;

  if (skip_without_peer (kind))
    return;
  peer = peer_new (kind, NULL);
  owner = owner_new ();
  client = client_new (owner, peer->port, NULL);

  td_pubsub_client_subscribe (client, "burst");
  td_pubsub_client_start (client);
  wait_for (owner, has_n_subscriptions, GUINT_TO_POINTER (1), DEADLINE_MS, "SUBSCRIBE ack");

  for (guint i = 0; i < N_BURST; i++)
    {
      g_autofree char *payload = g_strdup_printf ("%u", i);

      td_pubsub_client_publish (client, "burst", payload, strlen (payload));
    }
  wait_for (owner, has_n_messages, GUINT_TO_POINTER (N_BURST), DEADLINE_MS * 2, "the burst");
  wait_for (owner, has_n_published, GUINT_TO_POINTER (N_BURST), DEADLINE_MS, "PUBLISH replies");

  /* In order, nothing lost, and far fewer mails than messages. */
  for (guint i = 0; i < N_BURST; i++)
    {
      g_autofree char *expected = g_strdup_printf ("%u", i);

      assert_payload (message_at (owner, i), expected);
      g_assert_cmpint (((TdPubsubPublished *) g_ptr_array_index (owner->published, i))->receivers, ==, 1);
    }
  g_assert_cmpuint (owner->n_dropped, ==, 0);
  g_assert_cmpuint (owner->max_batch_seen, <=, TD_PUBSUB_CLIENT_MAX_BATCH);
  g_assert_cmpuint (owner->n_batches, <, N_BURST / 4);
  g_test_message ("%u messages in %u batches", N_BURST, owner->n_batches);
}

/* A receiver that does not read its mail gets at most a bounded number of
 * batches; the rest is dropped and counted, never queued without end. */
static void
test_slow_receiver (void)
{
  g_autoptr(Peer) peer = peer_new (PEER_TIDINGSD, NULL);
  g_autoptr(GMainContext) publisher_context = g_main_context_new ();
  g_autoptr(Owner) owner = owner_new ();
  g_autoptr(Owner) publisher_owner = owner_new_for_context (publisher_context);
  g_autoptr(TdPubsubClient) publisher = client_new (publisher_owner, peer->port, NULL);
  TdPubsubClientOptions options;
  g_autoptr(TdPubsubClient) client = NULL;
  const guint n = 20000;
  guint64 delivered;

  td_pubsub_client_options_init (&options);
  options.port = peer->port;
  options.max_batch = 10;
  client = td_pubsub_client_new (&options, owner->mailbox);
  td_pubsub_client_options_clear (&options);

  td_pubsub_client_subscribe (client, "flood");
  td_pubsub_client_start (client);
  td_pubsub_client_start (publisher);
  wait_for (owner, has_n_subscriptions, GUINT_TO_POINTER (1), DEADLINE_MS, "SUBSCRIBE ack");

  /* The owner's mailbox is not served while the flood comes in. */
  for (guint i = 0; i < n; i++)
    td_pubsub_client_publish (publisher, "flood", "x", 1);
  wait_for (publisher_owner, has_n_published, GUINT_TO_POINTER (n), DEADLINE_MS * 2, "PUBLISH replies");
  {
    gint64 deadline = g_get_monotonic_time () + DEADLINE_MS * 1000;

    /* Everything has reached the client's thread, still unread here. */
    while (td_pubsub_client_get_n_parsed (client) < n)
      {
        g_assert_cmpint (g_get_monotonic_time (), <, deadline);
        g_usleep (1000);
      }
  }

  /* Now drain: every message was either delivered or counted dropped. */
  {
    gint64 deadline = g_get_monotonic_time () + DEADLINE_MS * 1000;

    while (owner->messages->len + owner->n_dropped < n)
      {
        g_assert_cmpint (g_get_monotonic_time (), <, deadline);
        g_main_context_iteration (NULL, FALSE);
        g_usleep (1000);
      }
  }
  delivered = owner->messages->len;
  g_test_message ("%" G_GUINT64_FORMAT " delivered, %" G_GUINT64_FORMAT " dropped in %u batches",
                  delivered, owner->n_dropped, owner->n_batches);
  g_assert_cmpuint (delivered + owner->n_dropped, ==, n);
  g_assert_cmpuint (owner->n_dropped, >, 0);
  g_assert_cmpuint (owner->max_batch_seen, <=, 10);
  /* While nobody read, only the batches in flight plus the one held back
   * were kept. */
  g_assert_cmpuint (delivered, <=, (TD_PUBSUB_CLIENT_MAX_BATCHES_IN_FLIGHT + 1) * 10);
}

static void
test_reconnect (gconstpointer data)
{
  PeerKind kind = GPOINTER_TO_UINT (data);
  g_autoptr(Peer) peer = NULL;
  g_autoptr(Owner) owner = NULL;
  g_autoptr(TdPubsubClient) client = NULL;
  TdPubsubStatus *status = NULL;

  if (skip_without_peer (kind))
    return;
  peer = peer_new (kind, NULL);
  owner = owner_new ();
  client = client_new (owner, peer->port, NULL);

  td_pubsub_client_subscribe (client, "alive");
  td_pubsub_client_psubscribe (client, "al*");
  td_pubsub_client_start (client);
  wait_for (owner, has_n_subscriptions, GUINT_TO_POINTER (2), DEADLINE_MS, "acks");
  g_assert_cmpint (publish_sync (client, owner, "alive", "before"), ==, 2);
  wait_for (owner, has_n_messages, GUINT_TO_POINTER (2), DEADLINE_MS, "messages");

  peer_stop (peer);
  wait_for (owner, has_state, GUINT_TO_POINTER (TD_PUBSUB_STATE_RETRYING), DEADLINE_MS, "retrying");
  status = find_status (owner, TD_PUBSUB_STATE_RETRYING);
  g_assert_nonnull (status->error);
  g_assert_cmpuint (status->attempt, >=, 1);
  g_assert_cmpuint (status->retry_in_ms, <=, 400);
  g_assert_cmpint (status->retry_at, >, 0);

  /* Publishing while the server is away fails, with a reason. */
  {
    guint before = owner->published->len;
    TdPubsubPublished *published;

    td_pubsub_client_publish (client, "alive", "lost", 4);
    wait_for (owner, has_n_published, GUINT_TO_POINTER (before + 1), DEADLINE_MS, "failed PUBLISH");
    published = g_ptr_array_index (owner->published, before);
    g_assert_nonnull (published->error);
    g_assert_cmpint (published->receivers, ==, -1);
  }

  /* Let it fail a few times, then bring the server back on the same port. */
  g_usleep (300 * 1000);
  g_ptr_array_set_size (owner->statuses, 0);
  g_ptr_array_set_size (owner->subscriptions, 0);
  peer_start (peer);
  wait_for (owner, has_state, GUINT_TO_POINTER (TD_PUBSUB_STATE_CONNECTED), DEADLINE_MS, "reconnected");
  status = find_status (owner, TD_PUBSUB_STATE_CONNECTED);
  g_assert_true (status->reconnected);
  g_assert_cmpuint (status->n_resubscribed, ==, 2);
  wait_for (owner, has_n_subscriptions, GUINT_TO_POINTER (2), DEADLINE_MS, "acks after reconnect");

  g_assert_cmpint (publish_sync (client, owner, "alive", "after"), ==, 2);
  wait_for (owner, has_n_messages, GUINT_TO_POINTER (4), DEADLINE_MS, "messages after reconnect");
  assert_payload (message_at (owner, 2), "after");
  assert_payload (message_at (owner, 3), "after");
}

static void
test_auth (gconstpointer data)
{
  PeerKind kind = GPOINTER_TO_UINT (data);
  g_autoptr(Peer) peer = NULL;
  g_autoptr(Owner) owner = NULL;
  g_autoptr(Owner) bad_owner = NULL;
  g_autoptr(Owner) none_owner = NULL;
  g_autoptr(TdPubsubClient) client = NULL;
  g_autoptr(TdPubsubClient) bad = NULL;
  g_autoptr(TdPubsubClient) none = NULL;
  TdPubsubStatus *status;

  if (skip_without_peer (kind))
    return;
  peer = peer_new (kind, "s3cret");
  owner = owner_new ();
  bad_owner = owner_new ();
  none_owner = owner_new ();

  bad = client_new (bad_owner, peer->port, "wrong");
  td_pubsub_client_start (bad);
  wait_for (bad_owner, has_state, GUINT_TO_POINTER (TD_PUBSUB_STATE_RETRYING), DEADLINE_MS, "auth failure");
  status = find_status (bad_owner, TD_PUBSUB_STATE_RETRYING);
  g_assert_error (status->error, TD_PUBSUB_CLIENT_ERROR, TD_PUBSUB_CLIENT_ERROR_AUTH);
  g_assert_false (has_state (bad_owner, GUINT_TO_POINTER (TD_PUBSUB_STATE_CONNECTED)));

  none = client_new (none_owner, peer->port, NULL);
  td_pubsub_client_start (none);
  wait_for (none_owner, has_state, GUINT_TO_POINTER (TD_PUBSUB_STATE_RETRYING), DEADLINE_MS, "NOAUTH");
  g_assert_error (find_status (none_owner, TD_PUBSUB_STATE_RETRYING)->error, TD_PUBSUB_CLIENT_ERROR, TD_PUBSUB_CLIENT_ERROR_AUTH);

  client = client_new (owner, peer->port, "s3cret");
  td_pubsub_client_subscribe (client, "private");
  td_pubsub_client_start (client);
  wait_for (owner, has_n_subscriptions, GUINT_TO_POINTER (1), DEADLINE_MS, "SUBSCRIBE ack");
  g_assert_cmpint (publish_sync (client, owner, "private", "psst"), ==, 1);
  wait_for (owner, has_n_messages, GUINT_TO_POINTER (1), DEADLINE_MS, "message");
}

static void
test_publish_stopped (void)
{
  g_autoptr(Owner) owner = owner_new ();
  g_autoptr(TdPubsubClient) client = client_new (owner, 1, NULL);
  TdPubsubPublished *published;

  td_pubsub_client_publish (client, "x", "y", 1);
  wait_for (owner, has_n_published, GUINT_TO_POINTER (1), DEADLINE_MS, "PUBLISH error");
  published = g_ptr_array_index (owner->published, 0);
  g_assert_error (published->error, TD_PUBSUB_CLIENT_ERROR, TD_PUBSUB_CLIENT_ERROR_STOPPED);
  g_assert_cmpint (published->receivers, ==, -1);
  /* Never started: no state mail at all. */
  g_assert_cmpuint (owner->statuses->len, ==, 0);
}

/* Nothing listens: the client keeps retrying, with growing delays. */
static void
test_refused (void)
{
  g_autoptr(Owner) owner = owner_new ();
  g_autoptr(TdPubsubClient) client = client_new (owner, free_port (), NULL);
  guint n_retrying = 0;
  guint last_attempt = 0;

  td_pubsub_client_start (client);
  wait_for (owner, has_state, GUINT_TO_POINTER (TD_PUBSUB_STATE_RETRYING), DEADLINE_MS, "retrying");
  g_usleep (500 * 1000);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  for (guint i = 0; i < owner->statuses->len; i++)
    {
      TdPubsubStatus *status = g_ptr_array_index (owner->statuses, i);

      g_assert_cmpint (status->state, !=, TD_PUBSUB_STATE_CONNECTED);
      if (status->state == TD_PUBSUB_STATE_RETRYING)
        {
          g_assert_error (status->error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
          g_assert_cmpuint (status->attempt, >, last_attempt);
          last_attempt = status->attempt;
          n_retrying++;
        }
    }
  g_assert_cmpuint (n_retrying, >=, 2);
}

/* ------------------------------------------------------------------ */
/* A server that answers garbage                                       */

typedef struct
{
  const char *name;
  const char *reply;
  gsize       len;      /* 0: strlen */
  int         code;
} Garbage;

static const Garbage garbage_cases[] = {
  { "http", "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", 0, TD_PUBSUB_CLIENT_ERROR_PROTOCOL },
  { "bare-lf", "+PONG\n", 0, TD_PUBSUB_CLIENT_ERROR_PROTOCOL },
  { "huge-bulk", "$999999999999\r\n", 0, TD_PUBSUB_CLIENT_ERROR_LIMIT },
  { "bad-int", ":12x\r\n", 0, TD_PUBSUB_CLIENT_ERROR_PROTOCOL },
  { "nul", "\0\0\0\0\r\n", 6, TD_PUBSUB_CLIENT_ERROR_PROTOCOL },
  { "array-first", "*1\r\n:1\r\n", 0, TD_PUBSUB_CLIENT_ERROR_PROTOCOL },
  { "deep", "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n"
            "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n",
    0, TD_PUBSUB_CLIENT_ERROR_LIMIT },
  /* A well-formed handshake, then a message frame of the wrong shape. */
  { "bad-message", "+PONG\r\n*3\r\n$7\r\nmessage\r\n:1\r\n:2\r\n", 0, TD_PUBSUB_CLIENT_ERROR_PROTOCOL },
  { "closed", "", 0, TD_PUBSUB_CLIENT_ERROR_CLOSED },
};

static gboolean
garbage_incoming_cb (GSocketService     *service,
                     GSocketConnection  *connection,
                     GObject            *source,
                     gpointer            user_data)
{
  const Garbage *garbage = user_data;
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (connection));
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (connection));
  gsize len = garbage->len ? garbage->len : strlen (garbage->reply);
  char request[256];

  /* Read the handshake first: closing with unread input would reset the
   * connection and hide what was written. */
  g_input_stream_read (in, request, sizeof request, NULL, NULL);
  if (len > 0)
    g_output_stream_write_all (out, garbage->reply, len, NULL, NULL, NULL);
  g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
  return TRUE;
}

static void
test_garbage (gconstpointer data)
{
  const Garbage *garbage = data;
  g_autoptr(GSocketService) service = g_socket_service_new ();
  g_autoptr(Owner) owner = owner_new ();
  g_autoptr(TdPubsubClient) client = NULL;
  g_autoptr(GError) error = NULL;
  TdPubsubStatus *status = NULL;
  guint16 port;

  port = g_socket_listener_add_any_inet_port (G_SOCKET_LISTENER (service), NULL, &error);
  g_assert_no_error (error);
  g_signal_connect (service, "incoming", G_CALLBACK (garbage_incoming_cb), (gpointer) garbage);
  g_socket_service_start (service);

  client = client_new (owner, port, NULL);
  td_pubsub_client_subscribe (client, "x");
  td_pubsub_client_start (client);
  wait_for (owner, has_state, GUINT_TO_POINTER (TD_PUBSUB_STATE_RETRYING), DEADLINE_MS, "error state");

  status = find_status (owner, TD_PUBSUB_STATE_RETRYING);
  g_assert_error (status->error, TD_PUBSUB_CLIENT_ERROR, garbage->code);
  g_assert_cmpuint (owner->messages->len, ==, 0);
  g_socket_service_stop (service);
  g_socket_listener_close (G_SOCKET_LISTENER (service));
}

int
main (int   argc,
      char *argv[])
{
  static const struct { const char *name; PeerKind kind; } peers[] = {
    { "tidingsd", PEER_TIDINGSD },
    { "redis", PEER_REDIS },
  };

  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (peers); i++)
    {
      gconstpointer kind = GUINT_TO_POINTER (peers[i].kind);
      g_autofree char *subscribe = g_strdup_printf ("/td/pubsub-client/%s/subscribe", peers[i].name);
      g_autofree char *pattern = g_strdup_printf ("/td/pubsub-client/%s/pattern", peers[i].name);
      g_autofree char *batches = g_strdup_printf ("/td/pubsub-client/%s/batches", peers[i].name);
      g_autofree char *reconnect = g_strdup_printf ("/td/pubsub-client/%s/reconnect", peers[i].name);
      g_autofree char *auth = g_strdup_printf ("/td/pubsub-client/%s/auth", peers[i].name);

      g_test_add_data_func (subscribe, kind, test_subscribe);
      g_test_add_data_func (pattern, kind, test_pattern);
      g_test_add_data_func (batches, kind, test_batches);
      g_test_add_data_func (reconnect, kind, test_reconnect);
      g_test_add_data_func (auth, kind, test_auth);
    }
  g_test_add_func ("/td/pubsub-client/slow-receiver", test_slow_receiver);
  g_test_add_func ("/td/pubsub-client/publish-stopped", test_publish_stopped);
  g_test_add_func ("/td/pubsub-client/refused", test_refused);
  for (guint i = 0; i < G_N_ELEMENTS (garbage_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/td/pubsub-client/garbage/%s", garbage_cases[i].name);

      g_test_add_data_func (path, &garbage_cases[i], test_garbage);
    }

  return g_test_run ();
}
