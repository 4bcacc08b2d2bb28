/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-pubsub-client"

#include "config.h"

#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "pubsub/td-pubsub-client.h"
#include "pubsub/td-resp.h"

/*
 * One thread per client runs a GMainContext with two links:
 *
 *  - the subscriber link carries AUTH, PING, (P)SUBSCRIBE and
 *    (P)UNSUBSCRIBE and receives message frames; it is retried with
 *    backoff when it fails;
 *  - the publisher link is opened on the first PUBLISH and kept; a failure
 *    fails the publishes waiting on it, and the next PUBLISH opens it again.
 *
 * A link counts as up only once the server answered the handshake (AUTH
 * if a password is set, then PING), so a server that speaks anything but
 * RESP2 is caught before the owner is told "connected".
 *
 * Sockets are read with pollable streams: one dispatch reads what the
 * kernel has, up to TD_PUBSUB_CLIENT_READ_BUDGET bytes, parses it, and
 * mails the messages as one batch.
 */

G_DEFINE_QUARK (td-pubsub-client-error-quark, td_pubsub_client_error)

/* Read buffer of one non-blocking read. */
#define TD_PUBSUB_CLIENT_READ_CHUNK (64 * 1024)

/* When batches are held back because the receiver is slow, how often the
 * thread looks again whether it caught up. */
#define TD_PUBSUB_CLIENT_HOLD_POLL_MS 20

/* Commands posted to the client's thread. */
enum
{
  CMD_START,
  CMD_STOP,
  CMD_QUIT,
  CMD_SUBSCRIBE,
  CMD_UNSUBSCRIBE,
  CMD_PSUBSCRIBE,
  CMD_PUNSUBSCRIBE,
  CMD_PUBLISH,
  CMD_RETRY,
};

typedef enum
{
  LINK_SUB,
  LINK_PUB,
} LinkRole;

typedef enum
{
  LINK_IDLE,
  LINK_CONNECTING,
  LINK_HANDSHAKE,
  LINK_READY,
} LinkPhase;

typedef enum
{
  EXPECT_AUTH,
  EXPECT_PING,
  EXPECT_PUBLISH,
} ExpectKind;

typedef struct
{
  ExpectKind kind;
  guint64    request;
} Expect;

typedef struct
{
  guint64  request;
  char    *channel;
  GBytes  *payload;
} PublishCmd;

/* Counts batches mailed and not yet freed; shared with the batches, so it
 * outlives the client if the receiver holds a batch longer. */
typedef struct
{
  int in_flight;
} Flow;

typedef struct _Link Link;

struct _Link
{
  TdPubsubClient       *client;       /* borrowed, outlives the link */
  LinkRole              role;
  LinkPhase             phase;
  guint                 generation;   /* bumped on teardown: stale connects are dropped */
  GCancellable         *cancellable;  /* owned; the connect in progress */
  GSocketConnection    *connection;   /* owned */
  GPollableInputStream *in;           /* borrowed from connection */
  GPollableOutputStream *out;         /* borrowed from connection */
  GSource              *in_source;    /* owned */
  GSource              *out_source;   /* owned; only while the socket is full */
  GSource              *timeout;      /* owned; connect + handshake deadline */
  GByteArray           *outbuf;
  gsize                 out_pos;
  TdRespReader         *reader;       /* owned */
  GQueue                expect;       /* Expect, replies still due in order */
  GQueue                queued;       /* PublishCmd waiting for the link (publisher) */
};

typedef struct
{
  Link   *link;
  guint   generation;
} ConnectData;

struct _TdPubsubClient
{
  /* Immutable after new(). */
  TdPubsubClientOptions options;
  TdMailboxId           owner;
  GMainContext         *context;      /* owned; the thread's */
  GThread              *thread;
  TdMailboxId           commands;     /* on context */
  Flow                 *flow;         /* owned ref */
  guint64               next_request; /* owner thread only */
  gsize                 n_parsed;     /* atomic: messages parsed, held and dropped ones too */

  /* Thread only. */
  GSocketClient        *socket_client;
  TdRetry              *retry;
  Link                  sub;
  Link                  pub;
  GHashTable           *channels;     /* desired: name -> NULL */
  GHashTable           *patterns;
  gboolean              running;
  gboolean              quit;
  gboolean              was_connected;
  guint                 n_pending;    /* connects whose callback has not run */
  GPtrArray            *batch;        /* TdPubsubMessage not yet mailed */
  guint64               n_dropped;    /* dropped since the last mailed batch */
  GSource              *hold_source;  /* owned; polls while batches are held */
};

/* ------------------------------------------------------------------ */
/* Payloads                                                            */

void
td_pubsub_client_options_init (TdPubsubClientOptions *options)
{
  g_return_if_fail (options != NULL);

  memset (options, 0, sizeof *options);
  options->host = g_strdup ("127.0.0.1");
  options->port = 6379;
  options->retry = TD_RETRY_POLICY_DEFAULT;
}

void
td_pubsub_client_options_clear (TdPubsubClientOptions *options)
{
  g_return_if_fail (options != NULL);

  g_clear_pointer (&options->host, g_free);
  g_clear_pointer (&options->username, g_free);
  if (options->password != NULL)
    {
      /* Do not leave the secret in freed memory. */
      memset (options->password, 0, strlen (options->password));
      g_clear_pointer (&options->password, g_free);
    }
}

void
td_pubsub_status_free (TdPubsubStatus *status)
{
  if (status == NULL)
    return;
  g_clear_error (&status->error);
  g_free (status);
}

void
td_pubsub_message_free (TdPubsubMessage *message)
{
  if (message == NULL)
    return;
  g_free (message->channel);
  g_free (message->pattern);
  g_clear_pointer (&message->payload, g_bytes_unref);
  g_free (message);
}

static void
flow_release (Flow *flow)
{
  g_atomic_rc_box_release (flow);
}

void
td_pubsub_batch_free (TdPubsubBatch *batch)
{
  if (batch == NULL)
    return;
  g_clear_pointer (&batch->messages, g_ptr_array_unref);
  if (batch->flow != NULL)
    {
      g_atomic_int_add (&((Flow *) batch->flow)->in_flight, -1);
      flow_release (batch->flow);
    }
  g_free (batch);
}

void
td_pubsub_subscription_free (TdPubsubSubscription *subscription)
{
  if (subscription == NULL)
    return;
  g_free (subscription->name);
  g_free (subscription);
}

void
td_pubsub_published_free (TdPubsubPublished *published)
{
  if (published == NULL)
    return;
  g_clear_error (&published->error);
  g_free (published);
}

static void
publish_cmd_free (PublishCmd *cmd)
{
  if (cmd == NULL)
    return;
  g_free (cmd->channel);
  g_clear_pointer (&cmd->payload, g_bytes_unref);
  g_free (cmd);
}

const char *
td_pubsub_state_to_string (TdPubsubState state)
{
  switch (state)
    {
    case TD_PUBSUB_STATE_DISCONNECTED: return "disconnected";
    case TD_PUBSUB_STATE_CONNECTING:   return "connecting";
    case TD_PUBSUB_STATE_CONNECTED:    return "connected";
    case TD_PUBSUB_STATE_RETRYING:     return "retrying";
    default:                           return "unknown";
    }
}

/* Returns TRUE if @name uses Redis glob syntax and so is meant for
 * PSUBSCRIBE rather than SUBSCRIBE. */
gboolean
td_pubsub_is_pattern (const char *name)
{
  g_return_val_if_fail (name != NULL, FALSE);

  return strpbrk (name, "*?[") != NULL;
}

/* ------------------------------------------------------------------ */
/* Mail to the owner (client thread)                                   */

static void
send_owner (TdPubsubClient *self,
            guint           kind,
            gpointer        data,
            GDestroyNotify  destroy)
{
  td_mail_send_new (self->owner, self->options.mail_kind_base + kind, data, destroy);
}

static void
send_status (TdPubsubClient *self,
             TdPubsubState   state,
             const GError   *error,
             guint           retry_in_ms,
             guint           n_resubscribed)
{
  TdPubsubStatus *status = g_new0 (TdPubsubStatus, 1);

  status->state = state;
  status->error = error ? g_error_copy (error) : NULL;
  status->attempt = td_retry_get_attempt (self->retry);
  status->retry_in_ms = retry_in_ms;
  if (state == TD_PUBSUB_STATE_RETRYING)
    status->retry_at = g_get_monotonic_time () + (gint64) retry_in_ms * 1000;
  status->reconnected = state == TD_PUBSUB_STATE_CONNECTED && self->was_connected;
  status->n_resubscribed = n_resubscribed;
  send_owner (self, TD_PUBSUB_MAIL_STATUS, status, (GDestroyNotify) td_pubsub_status_free);
}

static void
send_published (TdPubsubClient *self,
                guint64         request,
                gint64          receivers,
                const GError   *error)
{
  TdPubsubPublished *published = g_new0 (TdPubsubPublished, 1);

  published->request = request;
  published->receivers = error ? -1 : receivers;
  published->error = error ? g_error_copy (error) : NULL;
  send_owner (self, TD_PUBSUB_MAIL_PUBLISHED, published, (GDestroyNotify) td_pubsub_published_free);
}

static guint
max_batch (TdPubsubClient *self)
{
  return self->options.max_batch ? self->options.max_batch : TD_PUBSUB_CLIENT_MAX_BATCH;
}

static gboolean hold_poll_cb (gpointer data);

/* Mails the messages gathered so far as one batch, unless the receiver
 * has too many batches in hand; then they wait (see hold_poll_cb). */
static void
flush_batch (TdPubsubClient *self)
{
  TdPubsubBatch *batch;

  if (self->batch->len == 0 && self->n_dropped == 0)
    return;

  if (g_atomic_int_get (&self->flow->in_flight) >= TD_PUBSUB_CLIENT_MAX_BATCHES_IN_FLIGHT)
    {
      if (self->hold_source == NULL)
        {
          self->hold_source = g_timeout_source_new (TD_PUBSUB_CLIENT_HOLD_POLL_MS);
          g_source_set_static_name (self->hold_source, "TdPubsubClient hold");
          g_source_set_callback (self->hold_source, hold_poll_cb, self, NULL);
          g_source_attach (self->hold_source, self->context);
        }
      return;
    }

  batch = g_new0 (TdPubsubBatch, 1);
  batch->messages = g_steal_pointer (&self->batch);
  batch->n_dropped = self->n_dropped;
  batch->flow = g_atomic_rc_box_acquire (self->flow);
  g_atomic_int_inc (&self->flow->in_flight);
  self->batch = g_ptr_array_new_with_free_func ((GDestroyNotify) td_pubsub_message_free);
  self->n_dropped = 0;
  send_owner (self, TD_PUBSUB_MAIL_MESSAGES, batch, (GDestroyNotify) td_pubsub_batch_free);
}

static gboolean
hold_poll_cb (gpointer data)
{
  TdPubsubClient *self = data;

  g_clear_pointer (&self->hold_source, g_source_unref);
  flush_batch (self);
  return G_SOURCE_REMOVE;
}

static void
add_message (TdPubsubClient  *self,
             TdPubsubMessage *message)
{
  g_atomic_pointer_add (&self->n_parsed, 1);
  if (self->batch->len >= max_batch (self))
    {
      flush_batch (self);
      if (self->batch->len >= max_batch (self))
        {
          /* Held back and full: the receiver is far behind. */
          self->n_dropped++;
          td_pubsub_message_free (message);
          return;
        }
    }
  g_ptr_array_add (self->batch, message);
}

/* ------------------------------------------------------------------ */
/* Links (client thread)                                               */

static void link_connect (Link *link);
static void link_fail    (Link *link, GError *error);

static void
link_init (Link           *link,
           TdPubsubClient *client,
           LinkRole        role)
{
  link->client = client;
  link->role = role;
  link->phase = LINK_IDLE;
  link->outbuf = g_byte_array_new ();
  g_queue_init (&link->expect);
  g_queue_init (&link->queued);
}

/* Closes the connection and forgets everything about it; publishes
 * still queued stay queued. */
static void
link_teardown (Link *link)
{
  link->generation++;
  if (link->cancellable != NULL)
    g_cancellable_cancel (link->cancellable);
  g_clear_object (&link->cancellable);
  if (link->in_source != NULL)
    g_source_destroy (link->in_source);
  g_clear_pointer (&link->in_source, g_source_unref);
  if (link->out_source != NULL)
    g_source_destroy (link->out_source);
  g_clear_pointer (&link->out_source, g_source_unref);
  if (link->timeout != NULL)
    g_source_destroy (link->timeout);
  g_clear_pointer (&link->timeout, g_source_unref);
  link->in = NULL;
  link->out = NULL;
  /* Dropping the last reference closes the socket without blocking. */
  g_clear_object (&link->connection);
  g_byte_array_set_size (link->outbuf, 0);
  link->out_pos = 0;
  g_clear_pointer (&link->reader, td_resp_reader_free);
  g_queue_clear_full (&link->expect, g_free);
  link->phase = LINK_IDLE;
}

static void
link_clear (Link *link)
{
  link_teardown (link);
  g_queue_clear_full (&link->queued, (GDestroyNotify) publish_cmd_free);
  g_clear_pointer (&link->outbuf, g_byte_array_unref);
}

static gboolean link_out_cb (GObject *stream, gpointer data);

/* Writes what the socket takes now; the rest waits for the socket to
 * become writable. Returns FALSE if the link failed. */
static gboolean
link_flush (Link *link)
{
  while (link->out_pos < link->outbuf->len)
    {
      g_autoptr(GError) error = NULL;
      gssize n;

      n = g_pollable_output_stream_write_nonblocking (link->out,
                                                      link->outbuf->data + link->out_pos,
                                                      link->outbuf->len - link->out_pos,
                                                      NULL, &error);
      if (n < 0)
        {
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            {
              if (link->out_source == NULL)
                {
                  link->out_source = g_pollable_output_stream_create_source (link->out, NULL);
                  g_source_set_static_name (link->out_source, "TdPubsubClient out");
                  g_source_set_callback (link->out_source, G_SOURCE_FUNC (link_out_cb), link, NULL);
                  g_source_attach (link->out_source, link->client->context);
                }
              return TRUE;
            }
          link_fail (link, g_steal_pointer (&error));
          return FALSE;
        }
      link->out_pos += (gsize) n;
    }

  g_byte_array_set_size (link->outbuf, 0);
  link->out_pos = 0;
  if (link->out_source != NULL)
    {
      g_source_destroy (link->out_source);
      g_clear_pointer (&link->out_source, g_source_unref);
    }
  return TRUE;
}

static gboolean
link_out_cb (GObject  *stream,
             gpointer  data)
{
  Link *link = data;

  /* link_flush() destroys the source once everything is written. */
  link_flush (link);
  return G_SOURCE_CONTINUE;
}

/* Queues one command; it is written at the next link_flush(). */
static void
link_command (Link              *link,
              guint              argc,
              const char *const *argv,
              const gsize       *lengths)
{
  g_autoptr(GBytes) bytes = td_resp_build_command (argc, argv, lengths);
  gsize size;
  gconstpointer data = g_bytes_get_data (bytes, &size);

  g_byte_array_append (link->outbuf, data, (guint) size);
}

static void
link_expect (Link       *link,
             ExpectKind  kind,
             guint64     request)
{
  Expect *expect = g_new0 (Expect, 1);

  expect->kind = kind;
  expect->request = request;
  g_queue_push_tail (&link->expect, expect);
}

/* Sends one command naming every key of @table (SUBSCRIBE a b c ...);
 * returns how many names it carried. */
static guint
link_command_all (Link       *link,
                  const char *verb,
                  GHashTable *table)
{
  guint n = g_hash_table_size (table);
  g_autofree const char **argv = NULL;
  GHashTableIter iter;
  gpointer key;
  guint i = 1;

  if (n == 0)
    return 0;

  argv = g_new (const char *, n + 1);
  argv[0] = verb;
  g_hash_table_iter_init (&iter, table);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    argv[i++] = key;
  link_command (link, n + 1, argv, NULL);
  return n;
}

static void
link_send_publish (Link       *link,
                   PublishCmd *cmd)
{
  gsize len;
  const char *data = g_bytes_get_data (cmd->payload, &len);
  const char *argv[] = { "PUBLISH", cmd->channel, data ? data : "" };
  gsize lengths[] = { 7, strlen (cmd->channel), len };

  link_command (link, 3, argv, lengths);
  link_expect (link, EXPECT_PUBLISH, cmd->request);
}

/* The handshake is answered: the link is usable. */
static void
link_ready (Link *link)
{
  TdPubsubClient *self = link->client;

  link->phase = LINK_READY;
  if (link->timeout != NULL)
    g_source_destroy (link->timeout);
  g_clear_pointer (&link->timeout, g_source_unref);

  if (link->role == LINK_SUB)
    {
      guint n = 0;

      n += link_command_all (link, "SUBSCRIBE", self->channels);
      n += link_command_all (link, "PSUBSCRIBE", self->patterns);
      td_retry_reset (self->retry);
      send_status (self, TD_PUBSUB_STATE_CONNECTED, NULL, 0, n);
      self->was_connected = TRUE;
    }
  else
    {
      PublishCmd *cmd;

      while ((cmd = g_queue_pop_head (&link->queued)) != NULL)
        {
          link_send_publish (link, cmd);
          publish_cmd_free (cmd);
        }
    }
  link_flush (link);
}

/* Fails every publish waiting on the publisher link with @error. */
static void
fail_publishes (TdPubsubClient *self,
                const GError   *error)
{
  Expect *expect;
  PublishCmd *cmd;

  while ((expect = g_queue_pop_head (&self->pub.expect)) != NULL)
    {
      if (expect->kind == EXPECT_PUBLISH)
        send_published (self, expect->request, -1, error);
      g_free (expect);
    }
  while ((cmd = g_queue_pop_head (&self->pub.queued)) != NULL)
    {
      send_published (self, cmd->request, -1, error);
      publish_cmd_free (cmd);
    }
}

/* Ends the link after an error (taking @error): the subscriber link is
 * retried after a backoff, the publisher link fails its publishes. */
static void
link_fail (Link   *link,
           GError *error)
{
  TdPubsubClient *self = link->client;
  g_autoptr(GError) owned = error;

  g_debug ("%s link to %s:%u failed: %s", link->role == LINK_SUB ? "subscriber" : "publisher",
           self->options.host, self->options.port, error->message);

  if (link->role == LINK_PUB)
    {
      fail_publishes (self, error);
      link_teardown (link);
      return;
    }

  link_teardown (link);
  /* Messages parsed before the failure still go out. */
  flush_batch (self);
  if (self->running)
    {
      guint delay = td_retry_schedule (self->retry, 0);

      send_status (self, TD_PUBSUB_STATE_RETRYING, error, delay, 0);
    }
}

static void
link_fail_literal (Link       *link,
                   int         code,
                   const char *message)
{
  link_fail (link, g_error_new_literal (TD_PUBSUB_CLIENT_ERROR, code, message));
}

static gboolean
is_bulk (const TdRespValue *value)
{
  return value->type == TD_RESP_VALUE_BULK;
}

/* Takes the string out of a bulk value. */
static char *
steal_str (TdRespValue *value,
           gsize       *len)
{
  char *str = g_steal_pointer (&value->str);

  if (len != NULL)
    *len = value->len;
  value->len = 0;
  return str;
}

static gboolean
handle_push (Link        *link,
             TdRespValue *value)
{
  TdPubsubClient *self = link->client;
  TdRespValue **el = value->elements;
  gsize n = value->n_elements;
  static const struct { const char *name; TdPubsubSubscriptionKind kind; } acks[] = {
    { "subscribe", TD_PUBSUB_SUBSCRIBE },
    { "unsubscribe", TD_PUBSUB_UNSUBSCRIBE },
    { "psubscribe", TD_PUBSUB_PSUBSCRIBE },
    { "punsubscribe", TD_PUBSUB_PUNSUBSCRIBE },
  };

  if (td_resp_value_is_push (value, "message") && n == 3 && is_bulk (el[1]) && is_bulk (el[2]))
    {
      TdPubsubMessage *message = g_new0 (TdPubsubMessage, 1);
      gsize len;
      char *payload;

      message->time = g_get_real_time ();
      message->channel = steal_str (el[1], &message->channel_len);
      payload = steal_str (el[2], &len);
      message->payload = g_bytes_new_take (payload, len);
      add_message (self, message);
      return TRUE;
    }

  if (td_resp_value_is_push (value, "pmessage") && n == 4 &&
      is_bulk (el[1]) && is_bulk (el[2]) && is_bulk (el[3]))
    {
      TdPubsubMessage *message = g_new0 (TdPubsubMessage, 1);
      gsize len;
      char *payload;

      message->time = g_get_real_time ();
      message->pattern = steal_str (el[1], NULL);
      message->channel = steal_str (el[2], &message->channel_len);
      payload = steal_str (el[3], &len);
      message->payload = g_bytes_new_take (payload, len);
      add_message (self, message);
      return TRUE;
    }

  for (guint i = 0; i < G_N_ELEMENTS (acks); i++)
    if (td_resp_value_is_push (value, acks[i].name) && n == 3 &&
        (is_bulk (el[1]) || el[1]->type == TD_RESP_VALUE_NULL) &&
        el[2]->type == TD_RESP_VALUE_INTEGER)
      {
        TdPubsubSubscription *sub = g_new0 (TdPubsubSubscription, 1);

        sub->kind = acks[i].kind;
        sub->name = is_bulk (el[1]) ? steal_str (el[1], NULL) : NULL;
        sub->count = el[2]->integer;
        /* Keep the order with the messages around it. */
        flush_batch (self);
        send_owner (self, TD_PUBSUB_MAIL_SUBSCRIPTION, sub, (GDestroyNotify) td_pubsub_subscription_free);
        return TRUE;
      }

  /* `pong` in subscribed mode */
  if (td_resp_value_is_push (value, "pong"))
    return TRUE;

  return FALSE;
}

/* Handles one reply; returns FALSE if the link failed. */
static gboolean
link_handle (Link        *link,
             TdRespValue *value)
{
  TdPubsubClient *self = link->client;
  Expect *expect = g_queue_peek_head (&link->expect);

  if (link->phase == LINK_HANDSHAKE)
    {
      if (expect == NULL)
        {
          link_fail_literal (link, TD_PUBSUB_CLIENT_ERROR_PROTOCOL, "Unexpected reply during the handshake");
          return FALSE;
        }
      g_queue_pop_head (&link->expect);

      if (value->type == TD_RESP_VALUE_ERROR)
        {
          gboolean auth = expect->kind == EXPECT_AUTH ||
                          g_str_has_prefix (value->str, "NOAUTH") ||
                          g_str_has_prefix (value->str, "WRONGPASS");

          link_fail (link, g_error_new (TD_PUBSUB_CLIENT_ERROR,
                                        auth ? TD_PUBSUB_CLIENT_ERROR_AUTH : TD_PUBSUB_CLIENT_ERROR_SERVER,
                                        "%s", value->str));
          g_free (expect);
          return FALSE;
        }
      g_free (expect);
      if (value->type != TD_RESP_VALUE_SIMPLE)
        {
          link_fail_literal (link, TD_PUBSUB_CLIENT_ERROR_PROTOCOL, "Unexpected reply during the handshake");
          return FALSE;
        }
      if (g_queue_is_empty (&link->expect))
        link_ready (link);
      return link->phase != LINK_IDLE;
    }

  if (link->role == LINK_SUB)
    {
      if (value->type == TD_RESP_VALUE_ARRAY && handle_push (link, value))
        return TRUE;
      if (value->type == TD_RESP_VALUE_ERROR)
        {
          g_autoptr(GError) error = g_error_new (TD_PUBSUB_CLIENT_ERROR, TD_PUBSUB_CLIENT_ERROR_SERVER,
                                                 "%s", value->str);

          /* The server refused one command (an ACL, say); the link stays. */
          flush_batch (self);
          send_status (self, TD_PUBSUB_STATE_CONNECTED, error, 0, 0);
          return TRUE;
        }
      link_fail_literal (link, TD_PUBSUB_CLIENT_ERROR_PROTOCOL, "Unexpected reply from the server");
      return FALSE;
    }

  /* Publisher: replies come in the order of the commands. */
  if (expect == NULL || (value->type != TD_RESP_VALUE_INTEGER && value->type != TD_RESP_VALUE_ERROR))
    {
      link_fail_literal (link, TD_PUBSUB_CLIENT_ERROR_PROTOCOL, "Unexpected reply from the server");
      return FALSE;
    }
  g_queue_pop_head (&link->expect);
  if (value->type == TD_RESP_VALUE_INTEGER)
    send_published (self, expect->request, value->integer, NULL);
  else
    {
      g_autoptr(GError) error = g_error_new (TD_PUBSUB_CLIENT_ERROR, TD_PUBSUB_CLIENT_ERROR_SERVER,
                                             "%s", value->str);

      send_published (self, expect->request, -1, error);
    }
  g_free (expect);
  return TRUE;
}

/* Reads what the socket has (up to the budget), handles every complete
 * reply, and mails the messages as one batch. */
static gboolean
link_in_cb (GObject  *stream,
            gpointer  data)
{
  Link *link = data;
  TdPubsubClient *self = link->client;
  guint generation = link->generation;
  gsize total = 0;
  char buf[TD_PUBSUB_CLIENT_READ_CHUNK];

  while (total < TD_PUBSUB_CLIENT_READ_BUDGET)
    {
      g_autoptr(GError) error = NULL;
      gssize n;

      n = g_pollable_input_stream_read_nonblocking (link->in, buf, sizeof buf, NULL, &error);
      if (n < 0)
        {
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            break;
          link_fail (link, g_steal_pointer (&error));
          return G_SOURCE_REMOVE;
        }
      if (n == 0)
        {
          link_fail_literal (link, TD_PUBSUB_CLIENT_ERROR_CLOSED, "The server closed the connection");
          return G_SOURCE_REMOVE;
        }
      total += (gsize) n;
      td_resp_reader_feed (link->reader, buf, (gsize) n);

      for (;;)
        {
          g_autoptr(TdRespValue) value = NULL;
          g_autoptr(GError) parse_error = NULL;
          TdRespReadStatus status = td_resp_reader_pop (link->reader, &value, &parse_error);

          if (status == TD_RESP_READ_NEED_MORE)
            break;
          if (status == TD_RESP_READ_ERROR)
            {
              link_fail (link, g_error_new (TD_PUBSUB_CLIENT_ERROR,
                                            g_error_matches (parse_error, TD_RESP_ERROR, TD_RESP_ERROR_LIMIT)
                                              ? TD_PUBSUB_CLIENT_ERROR_LIMIT : TD_PUBSUB_CLIENT_ERROR_PROTOCOL,
                                            "Not a Redis server or a broken reply: %s", parse_error->message));
              return G_SOURCE_REMOVE;
            }
          if (!link_handle (link, value) || link->generation != generation)
            return G_SOURCE_REMOVE;
        }

      /* An array announced as huge can grow the reader without ever
       * completing; bound what one reply may buffer. */
      if (td_resp_reader_get_buffered (link->reader) > (self->options.max_frame ? self->options.max_frame
                                                                                : TD_PUBSUB_CLIENT_MAX_FRAME))
        {
          link_fail_literal (link, TD_PUBSUB_CLIENT_ERROR_LIMIT, "A reply exceeds the frame size limit");
          return G_SOURCE_REMOVE;
        }
    }

  flush_batch (self);
  return G_SOURCE_CONTINUE;
}

static gboolean
link_timeout_cb (gpointer data)
{
  Link *link = data;

  /* link_fail() destroys this source through link_teardown(). */
  link_fail_literal (link, TD_PUBSUB_CLIENT_ERROR_TIMEOUT, "The server did not answer in time");
  return G_SOURCE_REMOVE;
}

static void
connect_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  g_autofree ConnectData *data = user_data;
  Link *link = data->link;
  TdPubsubClient *self = link->client;
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GError) error = NULL;
  GSocket *socket;

  self->n_pending--;
  connection = g_socket_client_connect_to_host_finish (G_SOCKET_CLIENT (object), result, &error);
  if (data->generation != link->generation || link->phase != LINK_CONNECTING)
    return;   /* stopped or timed out meanwhile */
  if (connection == NULL)
    {
      link_fail (link, g_steal_pointer (&error));
      return;
    }

  g_clear_object (&link->cancellable);
  socket = g_socket_connection_get_socket (connection);
  /* The connect timeout must not apply to an idle subscriber. */
  g_socket_set_timeout (socket, 0);
  g_socket_set_keepalive (socket, TRUE);
  if (g_socket_get_family (socket) != G_SOCKET_FAMILY_UNIX)
    g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);

  link->connection = g_steal_pointer (&connection);
  link->in = G_POLLABLE_INPUT_STREAM (g_io_stream_get_input_stream (G_IO_STREAM (link->connection)));
  link->out = G_POLLABLE_OUTPUT_STREAM (g_io_stream_get_output_stream (G_IO_STREAM (link->connection)));
  link->reader = td_resp_reader_new (self->options.max_frame ? self->options.max_frame
                                                             : TD_PUBSUB_CLIENT_MAX_FRAME);
  link->phase = LINK_HANDSHAKE;

  link->in_source = g_pollable_input_stream_create_source (link->in, NULL);
  g_source_set_static_name (link->in_source, "TdPubsubClient in");
  g_source_set_callback (link->in_source, G_SOURCE_FUNC (link_in_cb), link, NULL);
  g_source_attach (link->in_source, self->context);

  if (self->options.password != NULL)
    {
      if (self->options.username != NULL)
        {
          const char *argv[] = { "AUTH", self->options.username, self->options.password };

          link_command (link, 3, argv, NULL);
        }
      else
        {
          const char *argv[] = { "AUTH", self->options.password };

          link_command (link, 2, argv, NULL);
        }
      link_expect (link, EXPECT_AUTH, 0);
    }
  {
    const char *argv[] = { "PING" };

    link_command (link, 1, argv, NULL);
    link_expect (link, EXPECT_PING, 0);
  }
  link_flush (link);
}

static void
link_connect (Link *link)
{
  TdPubsubClient *self = link->client;
  ConnectData *data;

  g_assert (link->phase == LINK_IDLE);

  link->phase = LINK_CONNECTING;
  link->cancellable = g_cancellable_new ();
  link->timeout = g_timeout_source_new (TD_PUBSUB_CLIENT_CONNECT_TIMEOUT_MS);
  g_source_set_static_name (link->timeout, "TdPubsubClient connect timeout");
  g_source_set_callback (link->timeout, link_timeout_cb, link, NULL);
  g_source_attach (link->timeout, self->context);

  if (link->role == LINK_SUB)
    send_status (self, TD_PUBSUB_STATE_CONNECTING, NULL, 0, 0);

  data = g_new0 (ConnectData, 1);
  data->link = link;
  data->generation = link->generation;
  self->n_pending++;
  g_socket_client_connect_to_host_async (self->socket_client, self->options.host,
                                         self->options.port, link->cancellable,
                                         connect_cb, data);
}

/* ------------------------------------------------------------------ */
/* Commands (client thread)                                            */

static void
sub_command (TdPubsubClient *self,
             const char     *verb,
             const char     *name)
{
  const char *argv[] = { verb, name };

  if (self->sub.phase != LINK_READY)
    return;   /* sent with everything else when the link comes up */
  link_command (&self->sub, 2, argv, NULL);
  link_flush (&self->sub);
}

static void
client_stop (TdPubsubClient *self,
             int             code,
             const char     *message)
{
  g_autoptr(GError) error = g_error_new_literal (TD_PUBSUB_CLIENT_ERROR, code, message);
  gboolean was_running = self->running;

  self->running = FALSE;
  td_retry_reset (self->retry);
  link_teardown (&self->sub);
  fail_publishes (self, error);
  link_teardown (&self->pub);
  flush_batch (self);
  if (was_running)
    send_status (self, TD_PUBSUB_STATE_DISCONNECTED, NULL, 0, 0);
}

static void
commands_cb (TdMailboxId  id,
             TdMail      *mail,
             gpointer     user_data)
{
  TdPubsubClient *self = user_data;

  switch (mail->kind)
    {
    case CMD_START:
      if (!self->running)
        {
          self->running = TRUE;
          self->was_connected = FALSE;
          link_connect (&self->sub);
        }
      break;

    case CMD_STOP:
      client_stop (self, TD_PUBSUB_CLIENT_ERROR_STOPPED, "The connection was closed");
      break;

    case CMD_QUIT:
      client_stop (self, TD_PUBSUB_CLIENT_ERROR_STOPPED, "The connection was closed");
      self->quit = TRUE;
      break;

    case CMD_RETRY:
      if (self->running && self->sub.phase == LINK_IDLE)
        link_connect (&self->sub);
      break;

    case CMD_SUBSCRIBE:
      if (!g_hash_table_contains (self->channels, mail->data))
        {
          g_hash_table_add (self->channels, g_strdup (mail->data));
          sub_command (self, "SUBSCRIBE", mail->data);
        }
      break;

    case CMD_UNSUBSCRIBE:
      if (g_hash_table_remove (self->channels, mail->data))
        sub_command (self, "UNSUBSCRIBE", mail->data);
      break;

    case CMD_PSUBSCRIBE:
      if (!g_hash_table_contains (self->patterns, mail->data))
        {
          g_hash_table_add (self->patterns, g_strdup (mail->data));
          sub_command (self, "PSUBSCRIBE", mail->data);
        }
      break;

    case CMD_PUNSUBSCRIBE:
      if (g_hash_table_remove (self->patterns, mail->data))
        sub_command (self, "PUNSUBSCRIBE", mail->data);
      break;

    case CMD_PUBLISH:
      {
        PublishCmd *cmd = td_mail_steal_data (mail);

        if (!self->running)
          {
            g_autoptr(GError) error = g_error_new_literal (TD_PUBSUB_CLIENT_ERROR, TD_PUBSUB_CLIENT_ERROR_STOPPED,
                                                           "Not connected");

            send_published (self, cmd->request, -1, error);
            publish_cmd_free (cmd);
          }
        else if (self->pub.phase == LINK_READY)
          {
            link_send_publish (&self->pub, cmd);
            publish_cmd_free (cmd);
            link_flush (&self->pub);
          }
        else
          {
            g_queue_push_tail (&self->pub.queued, cmd);
            if (self->pub.phase == LINK_IDLE)
              link_connect (&self->pub);
          }
      }
      break;

    default:
      g_assert_not_reached ();
    }
}

static gpointer
client_thread (gpointer data)
{
  TdPubsubClient *self = data;

  g_main_context_push_thread_default (self->context);

  self->socket_client = g_socket_client_new ();
  g_socket_client_set_timeout (self->socket_client, TD_PUBSUB_CLIENT_CONNECT_TIMEOUT_MS / 1000);
  g_socket_client_set_tls (self->socket_client, self->options.tls);

  /* Runs until asked to quit and every connect in flight has come back,
   * so no callback is left pointing at freed links. */
  while (!self->quit || self->n_pending > 0)
    g_main_context_iteration (self->context, TRUE);

  link_clear (&self->sub);
  link_clear (&self->pub);
  if (self->hold_source != NULL)
    g_source_destroy (self->hold_source);
  g_clear_pointer (&self->hold_source, g_source_unref);
  g_clear_object (&self->socket_client);

  g_main_context_pop_thread_default (self->context);
  return NULL;
}

/* ------------------------------------------------------------------ */
/* Public API (owner thread)                                           */

/* Returns a client for the server in @options (copied) that mails its
 * results to @owner. It does nothing until td_pubsub_client_start(). */
TdPubsubClient *
td_pubsub_client_new (const TdPubsubClientOptions *options,
                      TdMailboxId                  owner)
{
  TdPubsubClient *self;

  g_return_val_if_fail (options != NULL, NULL);
  g_return_val_if_fail (options->host != NULL, NULL);

  self = g_new0 (TdPubsubClient, 1);
  self->options = *options;
  self->options.host = g_strdup (options->host);
  self->options.username = g_strdup (options->username);
  self->options.password = g_strdup (options->password);
  if (self->options.retry.base_ms == 0)
    self->options.retry = TD_RETRY_POLICY_DEFAULT;
  self->owner = owner;
  self->context = g_main_context_new ();
  self->flow = g_atomic_rc_box_new0 (Flow);
  self->next_request = 1;
  self->channels = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->patterns = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->batch = g_ptr_array_new_with_free_func ((GDestroyNotify) td_pubsub_message_free);
  link_init (&self->sub, self, LINK_SUB);
  link_init (&self->pub, self, LINK_PUB);

  /* Commands are handled one by one as they come; they are cheap. */
  self->commands = td_mailbox_open (self->context, G_PRIORITY_DEFAULT, commands_cb, self, NULL);
  self->retry = td_retry_new (&self->options.retry, self->commands, CMD_RETRY);
  self->thread = g_thread_new ("td-pubsub-client", client_thread, self);

  return self;
}

static void
post (TdPubsubClient *self,
      guint           cmd,
      gpointer        data,
      GDestroyNotify  destroy)
{
  td_mail_send_new (self->commands, cmd, data, destroy);
}

/* Connects, and keeps reconnecting with backoff until stopped. */
void
td_pubsub_client_start (TdPubsubClient *self)
{
  g_return_if_fail (self != NULL);

  post (self, CMD_START, NULL, NULL);
}

/* Disconnects and stops retrying; subscriptions are kept for the next
 * start. Publishes in flight fail with TD_PUBSUB_CLIENT_ERROR_STOPPED. */
void
td_pubsub_client_stop (TdPubsubClient *self)
{
  g_return_if_fail (self != NULL);

  post (self, CMD_STOP, NULL, NULL);
}

/* Stops, joins the client's thread and frees the client. Mail already
 * sent to the owner stays valid. */
void
td_pubsub_client_free (TdPubsubClient *self)
{
  if (self == NULL)
    return;

  post (self, CMD_QUIT, NULL, NULL);
  g_thread_join (self->thread);

  td_retry_free (self->retry);
  td_mailbox_close (self->commands);
  g_main_context_unref (self->context);

  g_hash_table_unref (self->channels);
  g_hash_table_unref (self->patterns);
  g_ptr_array_unref (self->batch);
  flow_release (self->flow);
  td_pubsub_client_options_clear (&self->options);
  g_free (self);
}

void
td_pubsub_client_subscribe (TdPubsubClient *self,
                            const char     *channel)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (channel != NULL);

  post (self, CMD_SUBSCRIBE, g_strdup (channel), g_free);
}

void
td_pubsub_client_unsubscribe (TdPubsubClient *self,
                              const char     *channel)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (channel != NULL);

  post (self, CMD_UNSUBSCRIBE, g_strdup (channel), g_free);
}

void
td_pubsub_client_psubscribe (TdPubsubClient *self,
                             const char     *pattern)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (pattern != NULL);

  post (self, CMD_PSUBSCRIBE, g_strdup (pattern), g_free);
}

void
td_pubsub_client_punsubscribe (TdPubsubClient *self,
                               const char     *pattern)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (pattern != NULL);

  post (self, CMD_PUNSUBSCRIBE, g_strdup (pattern), g_free);
}

/* Returns how many messages the client's thread has parsed so far,
 * mailed or not (any thread). */
gsize
td_pubsub_client_get_n_parsed (TdPubsubClient *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return (gsize) g_atomic_pointer_get (&self->n_parsed);
}

/* Publishes @len bytes of @payload to @channel over the publisher link.
 * Returns the request id that the TD_PUBSUB_MAIL_PUBLISHED reply carries. */
guint64
td_pubsub_client_publish (TdPubsubClient *self,
                          const char     *channel,
                          gconstpointer   payload,
                          gsize           len)
{
  PublishCmd *cmd;
  guint64 request;

  g_return_val_if_fail (self != NULL, 0);
  g_return_val_if_fail (channel != NULL, 0);
  g_return_val_if_fail (payload != NULL || len == 0, 0);

  request = self->next_request++;
  cmd = g_new0 (PublishCmd, 1);
  cmd->request = request;
  cmd->channel = g_strdup (channel);
  cmd->payload = g_bytes_new (payload, len);
  post (self, CMD_PUBLISH, cmd, (GDestroyNotify) publish_cmd_free);
  return request;
}
