/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "core/td-mailbox.h"
#include "core/td-timers.h"

G_BEGIN_DECLS

/*
 * TdPubsubClient: a Redis (RESP2) pub/sub client that works against
 * tidingsd and redis-server alike.
 *
 * Everything network-related runs on a thread of the client's own, with
 * its own GMainContext: connecting (TCP, optional TLS, optional AUTH),
 * reading, parsing replies and message frames. The owner (usually the GUI
 * thread) calls the API below, which only posts commands to that thread,
 * and receives results as mail in its own mailbox:
 *
 *   TD_PUBSUB_MAIL_STATUS        TdPubsubStatus       connecting, connected, retrying in N s, disconnected
 *   TD_PUBSUB_MAIL_MESSAGES      TdPubsubBatch        every message parsed in one dispatch of the thread
 *   TD_PUBSUB_MAIL_SUBSCRIPTION  TdPubsubSubscription a (p)(un)subscribe confirmed by the server
 *   TD_PUBSUB_MAIL_PUBLISHED     TdPubsubPublished    the receiver count of one PUBLISH, or its error
 *
 * Mail kinds are offset by the `mail_kind_base` of the options so that a
 * client can share a mailbox with other protocols.
 *
 * Subscriptions are the client's desired state: they are sent when the
 * connection comes up and again after every reconnect. PUBLISH goes over
 * a second connection that never subscribes (a subscribed RESP2
 * connection may not publish). A lost connection is retried with
 * exponential backoff and jitter (TdRetry) until td_pubsub_client_stop().
 */

/* A frame (one reply or one message) larger than this ends the
 * connection with an error: a GUI client has no use for bigger payloads,
 * and a broken or hostile server must not make it buffer without bound. */
#define TD_PUBSUB_CLIENT_MAX_FRAME           (32 * 1024 * 1024)

/* The most messages in one TD_PUBSUB_MAIL_MESSAGES batch, so one mail is
 * always a bounded amount of work for the receiver. */
#define TD_PUBSUB_CLIENT_MAX_BATCH           4096

/* Bytes read from the socket in one dispatch before the batch is mailed
 * and the thread goes back to its main loop. */
#define TD_PUBSUB_CLIENT_READ_BUDGET         (1024 * 1024)

/* Batches mailed but not yet freed by the receiver. Past this the thread
 * holds messages back (one batch, up to MAX_BATCH) and then drops and
 * counts them, so a receiver that cannot keep up is never flooded. */
#define TD_PUBSUB_CLIENT_MAX_BATCHES_IN_FLIGHT 32

/* How long connecting, TLS and the AUTH/PING handshake may take. */
#define TD_PUBSUB_CLIENT_CONNECT_TIMEOUT_MS  10000

typedef enum
{
  TD_PUBSUB_MAIL_STATUS,
  TD_PUBSUB_MAIL_MESSAGES,
  TD_PUBSUB_MAIL_SUBSCRIPTION,
  TD_PUBSUB_MAIL_PUBLISHED,
  TD_PUBSUB_N_MAIL_KINDS,
} TdPubsubMailKind;

typedef enum
{
  TD_PUBSUB_STATE_DISCONNECTED,
  TD_PUBSUB_STATE_CONNECTING,
  TD_PUBSUB_STATE_CONNECTED,
  TD_PUBSUB_STATE_RETRYING,
} TdPubsubState;

typedef struct
{
  char          *host;
  guint16        port;
  gboolean       tls;
  char          *username;        /* ACL user for AUTH; NULL = default user */
  char          *password;        /* NULL = no AUTH */
  TdRetryPolicy  retry;           /* zero base_ms = TD_RETRY_POLICY_DEFAULT */
  guint          mail_kind_base;
  gsize          max_frame;       /* 0 = TD_PUBSUB_CLIENT_MAX_FRAME */
  guint          max_batch;       /* 0 = TD_PUBSUB_CLIENT_MAX_BATCH */
} TdPubsubClientOptions;

/* TD_PUBSUB_MAIL_STATUS */
typedef struct
{
  TdPubsubState  state;
  GError        *error;           /* why the last attempt failed (RETRYING, DISCONNECTED) */
  guint          attempt;         /* RETRYING: failed attempts in a row */
  guint          retry_in_ms;     /* RETRYING: delay before the next attempt */
  gint64         retry_at;        /* RETRYING: g_get_monotonic_time() of the next attempt */
  gboolean       reconnected;     /* CONNECTED after an earlier connection was lost */
  guint          n_resubscribed;  /* CONNECTED: channels and patterns sent again */
} TdPubsubStatus;

/* One received message. */
typedef struct
{
  gint64  time;                   /* g_get_real_time() when it was parsed */
  char   *channel;                /* NUL-terminated; may contain NULs up to channel_len */
  gsize   channel_len;
  char   *pattern;                /* the matching pattern of a pmessage, or NULL */
  GBytes *payload;
} TdPubsubMessage;

/* TD_PUBSUB_MAIL_MESSAGES */
typedef struct
{
  GPtrArray *messages;            /* TdPubsubMessage, oldest first */
  guint64    n_dropped;           /* messages dropped just before these (receiver too slow) */
  /*< private >*/
  gpointer   flow;
} TdPubsubBatch;

typedef enum
{
  TD_PUBSUB_SUBSCRIBE,
  TD_PUBSUB_UNSUBSCRIBE,
  TD_PUBSUB_PSUBSCRIBE,
  TD_PUBSUB_PUNSUBSCRIBE,
} TdPubsubSubscriptionKind;

/* TD_PUBSUB_MAIL_SUBSCRIPTION */
typedef struct
{
  TdPubsubSubscriptionKind  kind;
  char                     *name;  /* NULL for an unsubscribe-all with nothing subscribed */
  gint64                    count; /* the connection's channels + patterns afterwards */
} TdPubsubSubscription;

/* TD_PUBSUB_MAIL_PUBLISHED */
typedef struct
{
  guint64  request;               /* what td_pubsub_client_publish() returned */
  gint64   receivers;             /* -1 on error */
  GError  *error;
} TdPubsubPublished;

#define TD_PUBSUB_CLIENT_ERROR (td_pubsub_client_error_quark ())

typedef enum
{
  TD_PUBSUB_CLIENT_ERROR_PROTOCOL,   /* the server does not speak RESP2 */
  TD_PUBSUB_CLIENT_ERROR_LIMIT,      /* a frame over max_frame */
  TD_PUBSUB_CLIENT_ERROR_SERVER,     /* an error reply (-ERR ...) */
  TD_PUBSUB_CLIENT_ERROR_AUTH,       /* AUTH refused, or NOAUTH */
  TD_PUBSUB_CLIENT_ERROR_CLOSED,     /* the server closed the connection */
  TD_PUBSUB_CLIENT_ERROR_TIMEOUT,    /* connect or handshake took too long */
  TD_PUBSUB_CLIENT_ERROR_STOPPED,    /* the client was stopped first */
} TdPubsubClientError;

typedef struct _TdPubsubClient TdPubsubClient;

GQuark          td_pubsub_client_error_quark    (void);

void            td_pubsub_client_options_init   (TdPubsubClientOptions       *options);
void            td_pubsub_client_options_clear  (TdPubsubClientOptions       *options);

TdPubsubClient *td_pubsub_client_new            (const TdPubsubClientOptions *options,
                                                 TdMailboxId                  owner);
void            td_pubsub_client_start          (TdPubsubClient              *client);
void            td_pubsub_client_stop           (TdPubsubClient              *client);
void            td_pubsub_client_free           (TdPubsubClient              *client);

void            td_pubsub_client_subscribe      (TdPubsubClient              *client,
                                                 const char                  *channel);
void            td_pubsub_client_unsubscribe    (TdPubsubClient              *client,
                                                 const char                  *channel);
void            td_pubsub_client_psubscribe     (TdPubsubClient              *client,
                                                 const char                  *pattern);
void            td_pubsub_client_punsubscribe   (TdPubsubClient              *client,
                                                 const char                  *pattern);
guint64         td_pubsub_client_publish        (TdPubsubClient              *client,
                                                 const char                  *channel,
                                                 gconstpointer                payload,
                                                 gsize                        len);
gsize           td_pubsub_client_get_n_parsed   (TdPubsubClient              *client);

const char     *td_pubsub_state_to_string       (TdPubsubState                state);
gboolean        td_pubsub_is_pattern            (const char                  *name);

void            td_pubsub_status_free           (TdPubsubStatus              *status);
void            td_pubsub_message_free          (TdPubsubMessage             *message);
void            td_pubsub_batch_free            (TdPubsubBatch               *batch);
void            td_pubsub_subscription_free     (TdPubsubSubscription        *subscription);
void            td_pubsub_published_free        (TdPubsubPublished           *published);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdPubsubClient, td_pubsub_client_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdPubsubStatus, td_pubsub_status_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdPubsubMessage, td_pubsub_message_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdPubsubBatch, td_pubsub_batch_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdPubsubSubscription, td_pubsub_subscription_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdPubsubPublished, td_pubsub_published_free)

G_END_DECLS
