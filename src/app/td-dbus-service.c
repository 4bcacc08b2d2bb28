/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-dbus-service"

#include "config.h"

#include <string.h>

#include "app/td-application.h"
#include "app/td-chat-view.h"
#include "app/td-window.h"
#include "app/td-dbus-generated.h"
#include "app/td-dbus-service.h"
#include "app/td-feeds-app.h"
#include "core/td-mailbox.h"
#include "pubsub/td-pubsub-client.h"

/* ------------------------------------------------------------------ */
/* The service                                                          */

/* Answers a call that can no longer be carried out because the
 * application is quitting; takes @invocation. */
static void
return_shutting_down (GDBusMethodInvocation *invocation)
{
  g_dbus_method_invocation_return_error_literal (invocation, TD_DBUS_ERROR, TD_DBUS_ERROR_FAILED,
                                                 "Tidings is shutting down");
}

/* A Publish waits this long for the server's receiver count before it is
 * answered with NotConnected: a server that is down is retried with
 * backoff for ever, a script must not wait for ever. */
#define TD_DBUS_PUBLISH_TIMEOUT_S      10
/* MessageReceived signals sent for one batch of pub/sub messages; the
 * rest of a flood is not broadcast on the bus (it is still counted). */
#define TD_DBUS_MAX_SIGNALS_PER_BATCH  256
/* Brokers the D-Bus service keeps connections to (each has a thread of
 * its own): plenty for scripts, and a bound on what callers can open. */
#define TD_DBUS_MAX_LINKS              16

struct _TdDBusService
{
  TdApplication  *app;          /* borrowed: the service lives inside it */
  TdDBusTidings1 *skeleton;     /* owned ref */
  TdFeedsApp     *feeds;        /* owned ref */
  TdMailboxId     feed_events;  /* listener mailbox of the feed manager */
  GPtrArray      *feed_list;    /* TdFeedInfo, from the last FEEDS event; NULL before */
  GHashTable     *links;        /* connection name -> PubsubLink */
  GPtrArray      *waiting;      /* PubsubOp: calls for the local broker while it starts */
  gulong          server_changed_id;
  gulong          window_added_id;
  guint64         n_signals_dropped;
  GPtrArray      *chat_ops;     /* ChatOp waiting for a network to connect */
  guint           hidden_close_id;
  GArray         *new_items;    /* NewItemsSignal not emitted yet */
  guint           new_items_id; /* the idle that emits them */
};

/* NewItems signals are emitted this many at a time, from an idle: a
 * round over a thousand feeds ends with a thousand signals, about 20 ms
 * of the main loop at once. */
#define TD_DBUS_NEW_ITEMS_PER_SLICE 50

typedef struct
{
  gint64 feed_id;
  guint  count;
} NewItemsSignal;

/* A chat command waits this long for its network to connect (and for the
 * channels of the last session to be joined again) before it fails: an
 * instance started for the command connects first. */
#define TD_DBUS_CHAT_WAIT_MS        10000
#define TD_DBUS_CHAT_POLL_MS        100
/* A window made only to carry out commands is closed this long after the
 * last one, so the line has left and the instance can quit when idle. */
#define TD_DBUS_HIDDEN_WINDOW_MS    5000

enum {
  MAIL_FEED_EVENT = 1,
  MAIL_FEED_REPLY,
};

typedef enum
{
  CALL_ADD_FEED,
  CALL_REMOVE_FEED,
  CALL_LIST_FEEDS,
  CALL_MARK_READ,
} CallKind;

/* One method call waiting for the feed manager's answer. */
typedef struct
{
  CallKind               kind;
  GDBusMethodInvocation *invocation;   /* owned */
  TdDBusService         *service;      /* borrowed; the mailbox is closed before it goes */
  gint64                 id;
} Call;

static void
call_free (Call *call)
{
  /* A call that never got an answer (the app is quitting) still gets one. */
  if (call->invocation != NULL)
    return_shutting_down (call->invocation);
  g_free (call);
}

static void
return_manager_error (GDBusMethodInvocation *invocation,
                      const GError          *error)
{
  TdDBusError code = TD_DBUS_ERROR_FAILED;

  if (error->domain == TD_FEED_MANAGER_ERROR)
    switch (error->code)
      {
      case TD_FEED_MANAGER_ERROR_EXISTS:
        code = TD_DBUS_ERROR_EXISTS;
        break;
      case TD_FEED_MANAGER_ERROR_NOT_FOUND:
      case TD_FEED_MANAGER_ERROR_REMOVED:
        code = TD_DBUS_ERROR_NO_SUCH_FEED;
        break;
      case TD_FEED_MANAGER_ERROR_INVALID:
      case TD_FEED_MANAGER_ERROR_NO_FEED:
        code = TD_DBUS_ERROR_INVALID_URL;
        break;
      default:
        break;
      }
  g_dbus_method_invocation_return_error_literal (invocation, TD_DBUS_ERROR, code, error->message);
}

static GVariant *
feed_list_variant (GPtrArray *feeds)
{
  GVariantBuilder builder;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a(xssuu)"));
  for (guint i = 0; feeds != NULL && i < feeds->len; i++)
    {
      TdFeedInfo *info = g_ptr_array_index (feeds, i);

      g_variant_builder_add (&builder, "(xssuu)", info->id, info->url,
                             info->title ? info->title : "", info->unread, info->error_count);
    }
  return g_variant_builder_end (&builder);
}

static void
feed_reply_cb (TdMailboxId  id,
               TdMail      *mail,
               gpointer     user_data)
{
  Call *call = user_data;
  TdFeedReply *reply = mail->data;
  g_autoptr(GDBusMethodInvocation) invocation = g_steal_pointer (&call->invocation);

  if (reply->error != NULL)
    {
      if (call->kind == CALL_MARK_READ && g_error_matches (reply->error, TD_FEED_MANAGER_ERROR,
                                                           TD_FEED_MANAGER_ERROR_NOT_FOUND))
        g_dbus_method_invocation_return_error (g_steal_pointer (&invocation), TD_DBUS_ERROR, TD_DBUS_ERROR_NO_SUCH_ITEM,
                                               "No item with id %" G_GINT64_FORMAT, call->id);
      else
        return_manager_error (g_steal_pointer (&invocation), reply->error);
      return;
    }

  switch (call->kind)
    {
    case CALL_ADD_FEED:
      if (reply->feed == NULL && reply->choices != NULL && reply->choices->len > 0)
        {
          g_autoptr(GString) urls = g_string_new (NULL);

          for (guint i = 0; i < reply->choices->len; i++)
            {
              TdFeedChoice *choice = g_ptr_array_index (reply->choices, i);

              g_string_append_printf (urls, "%s%s", i ? ", " : "", choice->url);
            }
          g_dbus_method_invocation_return_error (g_steal_pointer (&invocation), TD_DBUS_ERROR, TD_DBUS_ERROR_SEVERAL_FEEDS,
                                                 "The page offers several feeds; add one of: %s", urls->str);
          return;
        }
      g_return_if_fail (reply->feed != NULL);
      td_dbus_tidings1_complete_add_feed (call->service->skeleton, g_steal_pointer (&invocation),
                                          reply->feed->id);
      break;

    case CALL_REMOVE_FEED:
      td_dbus_tidings1_complete_remove_feed (call->service->skeleton, g_steal_pointer (&invocation));
      break;

    case CALL_LIST_FEEDS:
      td_dbus_tidings1_complete_list_feeds (call->service->skeleton, g_steal_pointer (&invocation),
                                            feed_list_variant (reply->feeds));
      break;

    case CALL_MARK_READ:
      {
        TdFeedManager *manager = td_feeds_app_get_manager (call->service->feeds);

        if (manager != NULL)
          td_feed_manager_set_read (manager, &call->id, 1, TRUE);
        td_dbus_tidings1_complete_mark_read (call->service->skeleton, g_steal_pointer (&invocation));
      }
      break;

    default:
      g_assert_not_reached ();
    }
}

/* Sends the manager's answer for @invocation to a mailbox of its own,
 * which closes after the one reply. */
static TdMailboxId
call_mailbox (TdDBusService         *service,
              CallKind               kind,
              GDBusMethodInvocation *invocation,
              gint64                 id)
{
  Call *call = g_new0 (Call, 1);

  call->kind = kind;
  call->invocation = invocation;   /* the handler's reference, answered once */
  call->service = service;
  call->id = id;
  return td_mailbox_open_transient (NULL, G_PRIORITY_DEFAULT, feed_reply_cb, call,
                                    (GDestroyNotify) call_free);
}

static TdFeedManager *
require_manager (TdDBusService         *service,
                 GDBusMethodInvocation *invocation)
{
  TdFeedManager *manager = td_feeds_app_get_manager (service->feeds);

  if (manager == NULL)
    return_shutting_down (invocation);
  return manager;
}

static gboolean
feed_known (TdDBusService *service,
            gint64         id)
{
  for (guint i = 0; service->feed_list != NULL && i < service->feed_list->len; i++)
    if (((TdFeedInfo *) g_ptr_array_index (service->feed_list, i))->id == id)
      return TRUE;
  return FALSE;
}

static gboolean
handle_add_feed_cb (TdDBusTidings1        *skeleton,
                    GDBusMethodInvocation *invocation,
                    const char            *url,
                    TdDBusService         *service)
{
  TdFeedManager *manager;

  if (!td_dbus_args_check_call (invocation))
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  if ((manager = require_manager (service, invocation)) == NULL)
    return G_DBUS_METHOD_INVOCATION_HANDLED;

  td_feed_manager_add (manager, url, NULL, call_mailbox (service, CALL_ADD_FEED, invocation, 0),
                       MAIL_FEED_REPLY, 0);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_remove_feed_cb (TdDBusTidings1        *skeleton,
                       GDBusMethodInvocation *invocation,
                       gint64                 feed_id,
                       TdDBusService         *service)
{
  TdFeedManager *manager;

  if (!td_dbus_args_check_call (invocation))
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  if ((manager = require_manager (service, invocation)) == NULL)
    return G_DBUS_METHOD_INVOCATION_HANDLED;

  td_feed_manager_remove (manager, feed_id, call_mailbox (service, CALL_REMOVE_FEED, invocation, feed_id),
                          MAIL_FEED_REPLY, 0);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_refresh_feeds_cb (TdDBusTidings1        *skeleton,
                         GDBusMethodInvocation *invocation,
                         GVariant              *ids_variant,
                         TdDBusService         *service)
{
  TdFeedManager *manager;
  const gint64 *ids;
  gsize n_ids;

  if (!td_dbus_args_check_call (invocation))
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  if ((manager = require_manager (service, invocation)) == NULL)
    return G_DBUS_METHOD_INVOCATION_HANDLED;

  ids = g_variant_get_fixed_array (ids_variant, &n_ids, sizeof (gint64));

  /* All or nothing: every id is checked before any refresh starts. */
  for (gsize i = 0; i < n_ids; i++)
    if (!feed_known (service, ids[i]))
      {
        g_dbus_method_invocation_return_error (invocation, TD_DBUS_ERROR, TD_DBUS_ERROR_NO_SUCH_FEED,
                                               "No feed with id %" G_GINT64_FORMAT, ids[i]);
        return G_DBUS_METHOD_INVOCATION_HANDLED;
      }

  if (n_ids == 0)
    td_feed_manager_refresh_all (manager, TRUE);
  for (gsize i = 0; i < n_ids; i++)
    td_feed_manager_refresh (manager, ids[i], TRUE);

  td_dbus_tidings1_complete_refresh_feeds (skeleton, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_list_feeds_cb (TdDBusTidings1        *skeleton,
                      GDBusMethodInvocation *invocation,
                      TdDBusService         *service)
{
  TdFeedManager *manager;

  if (!td_dbus_args_check_call (invocation))
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  if ((manager = require_manager (service, invocation)) == NULL)
    return G_DBUS_METHOD_INVOCATION_HANDLED;

  td_feed_manager_list_feeds (manager, call_mailbox (service, CALL_LIST_FEEDS, invocation, 0),
                              MAIL_FEED_REPLY, 0);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_mark_read_cb (TdDBusTidings1        *skeleton,
                     GDBusMethodInvocation *invocation,
                     gint64                 item_id,
                     TdDBusService         *service)
{
  TdFeedManager *manager;

  if (!td_dbus_args_check_call (invocation))
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  if ((manager = require_manager (service, invocation)) == NULL)
    return G_DBUS_METHOD_INVOCATION_HANDLED;

  /* Look the item up first, so an unknown id is an error, not a no-op. */
  td_feed_manager_load_item (manager, item_id, call_mailbox (service, CALL_MARK_READ, invocation, item_id),
                             MAIL_FEED_REPLY, 0);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_get_unread_counts_cb (TdDBusTidings1        *skeleton,
                             GDBusMethodInvocation *invocation,
                             TdDBusService         *service)
{
  GVariantBuilder builder;
  guint feeds_unread = 0;

  if (!td_dbus_args_check_call (invocation))
    return G_DBUS_METHOD_INVOCATION_HANDLED;
  for (guint i = 0; service->feed_list != NULL && i < service->feed_list->len; i++)
    feeds_unread += ((TdFeedInfo *) g_ptr_array_index (service->feed_list, i))->unread;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a{su}"));
  g_variant_builder_add (&builder, "{su}", "feeds", feeds_unread);
  td_dbus_tidings1_complete_get_unread_counts (skeleton, invocation, g_variant_builder_end (&builder));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
emit_new_items_cb (gpointer user_data)
{
  TdDBusService *service = user_data;
  guint n = MIN (service->new_items->len, TD_DBUS_NEW_ITEMS_PER_SLICE);

  for (guint i = 0; i < n; i++)
    {
      const NewItemsSignal *pending = &g_array_index (service->new_items, NewItemsSignal, i);

      td_dbus_tidings1_emit_new_items (service->skeleton, pending->feed_id, pending->count);
    }
  g_array_remove_range (service->new_items, 0, n);
  if (service->new_items->len > 0)
    return G_SOURCE_CONTINUE;
  service->new_items_id = 0;
  return G_SOURCE_REMOVE;
}

static void
feed_event_cb (TdMailboxId  id,
               TdMail      *mail,
               gpointer     user_data)
{
  TdDBusService *service = user_data;
  TdFeedEvent *event = mail->data;

  switch (event->type)
    {
    case TD_FEED_EVENT_FEEDS:
      g_clear_pointer (&service->feed_list, g_ptr_array_unref);
      service->feed_list = event->feeds ? g_ptr_array_ref (event->feeds) : NULL;
      break;

    case TD_FEED_EVENT_SUMMARY:
      for (guint i = 0; event->new_items != NULL && i < event->new_items->len; i++)
        {
          TdFeedNewItems *items = g_ptr_array_index (event->new_items, i);
          NewItemsSignal pending = { items->feed_id, items->n_new };

          if (items->n_new > 0)
            g_array_append_val (service->new_items, pending);
        }
      if (service->new_items->len > 0 && service->new_items_id == 0)
        service->new_items_id = g_idle_add_full (G_PRIORITY_DEFAULT_IDLE, emit_new_items_cb, service, NULL);
      break;

    default:
      break;
    }
}

/* ------------------------------------------------------------------ */
/* Pub/sub commands                                                     */

typedef enum
{
  OP_PUBLISH,
  OP_SUBSCRIBE,
  OP_UNSUBSCRIBE,
} PubsubOpKind;

typedef struct
{
  PubsubOpKind           kind;
  GDBusMethodInvocation *invocation;   /* owned */
  char                  *connection;
  char                  *channel;
  char                  *message;
} PubsubOp;

static void
pubsub_op_free (PubsubOp *op)
{
  if (op->invocation != NULL)
    return_shutting_down (op->invocation);
  g_free (op->connection);
  g_free (op->channel);
  g_free (op->message);
  g_free (op);
}

/* One connection of the D-Bus service to a broker: "" is the embedded
 * broker, anything else HOST:PORT. */
typedef struct
{
  TdDBusService  *service;
  char           *name;
  TdPubsubClient *client;
  TdMailboxId     mailbox;
  TdPubsubState   state;
  char           *last_error;
  GHashTable     *publishes;       /* guint64 request -> PendingPublish */
  GHashTable     *subscriptions;   /* channel or pattern names */
} PubsubLink;

typedef struct
{
  GDBusMethodInvocation *invocation;   /* owned */
  guint                  timeout_id;
  PubsubLink            *link;         /* borrowed */
  guint64                request;
} PendingPublish;

static void
pending_publish_free (PendingPublish *pending)
{
  g_clear_handle_id (&pending->timeout_id, g_source_remove);
  if (pending->invocation != NULL)
    return_shutting_down (pending->invocation);
  g_free (pending);
}

static void
pubsub_link_free (PubsubLink *link)
{
  /* Pending calls are answered (by pending_publish_free) before the
   * client goes away. */
  g_hash_table_destroy (link->publishes);
  if (link->client != NULL)
    {
      td_pubsub_client_stop (link->client);
      td_pubsub_client_free (link->client);
    }
  td_mailbox_close (link->mailbox);
  g_hash_table_destroy (link->subscriptions);
  g_free (link->last_error);
  g_free (link->name);
  g_free (link);
}

static const char *
state_name (TdPubsubState state)
{
  switch (state)
    {
    case TD_PUBSUB_STATE_CONNECTED:
      return "connected";
    case TD_PUBSUB_STATE_CONNECTING:
      return "connecting";
    case TD_PUBSUB_STATE_RETRYING:
      return "retrying";
    case TD_PUBSUB_STATE_DISCONNECTED:
    default:
      return "disconnected";
    }
}

static gboolean
publish_timeout_cb (gpointer user_data)
{
  PendingPublish *pending = user_data;
  PubsubLink *link = pending->link;
  g_autoptr(GDBusMethodInvocation) invocation = g_steal_pointer (&pending->invocation);

  pending->timeout_id = 0;
  g_dbus_method_invocation_return_error (g_steal_pointer (&invocation), TD_DBUS_ERROR, TD_DBUS_ERROR_NOT_CONNECTED,
                                         "No answer from the pub/sub server%s%s",
                                         link->last_error ? ": " : "",
                                         link->last_error ? link->last_error : "");
  g_hash_table_remove (link->publishes, &pending->request);
  return G_SOURCE_REMOVE;
}

static void
link_published (PubsubLink         *link,
                TdPubsubPublished  *published)
{
  PendingPublish *pending = g_hash_table_lookup (link->publishes, &published->request);
  g_autoptr(GDBusMethodInvocation) invocation = NULL;

  if (pending == NULL)
    return;   /* answered already (timed out) */

  invocation = g_steal_pointer (&pending->invocation);
  if (published->error != NULL)
    g_dbus_method_invocation_return_error_literal (g_steal_pointer (&invocation), TD_DBUS_ERROR, TD_DBUS_ERROR_FAILED,
                                                   published->error->message);
  else
    td_dbus_tidings1_complete_publish (link->service->skeleton, g_steal_pointer (&invocation),
                                       (gint32) CLAMP (published->receivers, 0, G_MAXINT32));
  g_hash_table_remove (link->publishes, &published->request);
}

static void
link_messages (PubsubLink    *link,
               TdPubsubBatch *batch)
{
  TdDBusService *service = link->service;

  for (guint i = 0; i < batch->messages->len; i++)
    {
      TdPubsubMessage *message = g_ptr_array_index (batch->messages, i);
      g_autofree char *channel = NULL;
      g_autofree char *text = NULL;
      gsize size;
      const char *data;

      if (i >= TD_DBUS_MAX_SIGNALS_PER_BATCH)
        {
          service->n_signals_dropped += batch->messages->len - i;
          break;
        }

      /* D-Bus strings are UTF-8: anything else is made valid, never sent raw. */
      data = g_bytes_get_data (message->payload, &size);
      channel = g_utf8_make_valid (message->channel, message->channel_len);
      text = g_utf8_make_valid (data ? data : "", size);
      td_dbus_tidings1_emit_message_received (service->skeleton, "pubsub", channel,
                                              message->pattern ? message->pattern : channel, text);
    }
}

static void
link_mail_cb (TdMailboxId  id,
              TdMail      *mail,
              gpointer     user_data)
{
  PubsubLink *link = user_data;

  switch (mail->kind)
    {
    case TD_PUBSUB_MAIL_STATUS:
      {
        TdPubsubStatus *status = mail->data;

        g_clear_pointer (&link->last_error, g_free);
        if (status->error != NULL)
          link->last_error = g_strdup (status->error->message);
        if (status->state != link->state)
          {
            link->state = status->state;
            td_dbus_tidings1_emit_connection_state_changed (link->service->skeleton, "pubsub",
                                                            *link->name ? link->name : "local",
                                                            state_name (status->state));
          }
      }
      break;

    case TD_PUBSUB_MAIL_MESSAGES:
      link_messages (link, mail->data);
      break;

    case TD_PUBSUB_MAIL_PUBLISHED:
      link_published (link, mail->data);
      break;

    default:
      break;
    }
}

/* Returns the link for @connection, creating it; NULL with @error when
 * the name is no HOST:PORT or the local server is not running. */
static PubsubLink *
pubsub_link (TdDBusService  *service,
             const char     *connection,
             GError        **error)
{
  PubsubLink *link = g_hash_table_lookup (service->links, connection);
  TdPubsubClientOptions options;
  g_autofree char *host = NULL;
  guint16 port;

  if (link != NULL)
    return link;

  if (g_hash_table_size (service->links) >= TD_DBUS_MAX_LINKS)
    {
      g_set_error (error, TD_DBUS_ERROR, TD_DBUS_ERROR_NO_SUCH_CONNECTION,
                   "At most %d pub/sub connections can be used from D-Bus", TD_DBUS_MAX_LINKS);
      return NULL;
    }

  if (*connection == '\0')
    {
      port = td_application_get_local_port (service->app, "pubsub");
      if (port == 0)
        {
          g_set_error (error, TD_DBUS_ERROR, TD_DBUS_ERROR_NOT_CONNECTED,
                       "The local pub/sub server is not running: %s",
                       td_application_get_local_server_error (service->app));
          return NULL;
        }
      host = g_strdup ("127.0.0.1");
    }
  else if (!td_dbus_args_parse_connection (connection, &host, &port, error))
    return NULL;

  link = g_new0 (PubsubLink, 1);
  link->service = service;
  link->name = g_strdup (connection);
  link->publishes = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL,
                                           (GDestroyNotify) pending_publish_free);
  link->subscriptions = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  link->mailbox = td_mailbox_open (NULL, G_PRIORITY_DEFAULT, link_mail_cb, link, NULL);

  td_pubsub_client_options_init (&options);
  options.host = g_steal_pointer (&host);
  options.port = port;
  link->client = td_pubsub_client_new (&options, link->mailbox);
  td_pubsub_client_options_clear (&options);
  td_pubsub_client_start (link->client);

  g_hash_table_insert (service->links, link->name, link);
  return link;
}

/* Runs a pub/sub call; takes @op. */
static void
pubsub_run (TdDBusService *service,
            PubsubOp      *op)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusMethodInvocation) invocation = g_steal_pointer (&op->invocation);
  PubsubLink *link;
  gboolean pattern = td_pubsub_is_pattern (op->channel);

  /* The local broker binds on its own thread; calls wait for it. */
  if (*op->connection == '\0' && td_application_is_local_server_starting (service->app))
    {
      op->invocation = g_steal_pointer (&invocation);
      g_ptr_array_add (service->waiting, op);
      return;
    }

  link = pubsub_link (service, op->connection, &error);
  if (link == NULL)
    {
      g_dbus_method_invocation_return_gerror (g_steal_pointer (&invocation), error);
      pubsub_op_free (op);
      return;
    }

  switch (op->kind)
    {
    case OP_PUBLISH:
      {
        PendingPublish *pending = g_new0 (PendingPublish, 1);

        pending->link = link;
        pending->invocation = g_steal_pointer (&invocation);
        pending->request = td_pubsub_client_publish (link->client, op->channel,
                                                     op->message, strlen (op->message));
        pending->timeout_id = g_timeout_add_seconds (TD_DBUS_PUBLISH_TIMEOUT_S, publish_timeout_cb, pending);
        g_hash_table_insert (link->publishes, &pending->request, pending);
      }
      break;

    case OP_SUBSCRIBE:
      if (pattern)
        td_pubsub_client_psubscribe (link->client, op->channel);
      else
        td_pubsub_client_subscribe (link->client, op->channel);
      g_hash_table_add (link->subscriptions, g_strdup (op->channel));
      td_dbus_tidings1_complete_subscribe (service->skeleton, g_steal_pointer (&invocation));
      break;

    case OP_UNSUBSCRIBE:
      if (!g_hash_table_remove (link->subscriptions, op->channel))
        {
          g_dbus_method_invocation_return_error (g_steal_pointer (&invocation), TD_DBUS_ERROR, TD_DBUS_ERROR_INVALID_ARGS,
                                                 "Not subscribed to “%s”", op->channel);
          break;
        }
      if (pattern)
        td_pubsub_client_punsubscribe (link->client, op->channel);
      else
        td_pubsub_client_unsubscribe (link->client, op->channel);
      td_dbus_tidings1_complete_unsubscribe (service->skeleton, g_steal_pointer (&invocation));
      break;

    default:
      g_assert_not_reached ();
    }

  pubsub_op_free (op);
}

static void
local_server_changed_cb (TdApplication *app,
                         TdDBusService *service)
{
  g_autoptr(GPtrArray) waiting = g_steal_pointer (&service->waiting);

  service->waiting = g_ptr_array_new_with_free_func ((GDestroyNotify) pubsub_op_free);
  for (guint i = 0; i < waiting->len; i++)
    pubsub_run (service, g_ptr_array_steal_index (waiting, i--));
}

static void
pubsub_call (TdDBusService         *service,
             PubsubOpKind           kind,
             GDBusMethodInvocation *invocation,
             const char            *connection,
             const char            *channel,
             const char            *message)
{
  PubsubOp *op;

  if (!td_dbus_args_check_call (invocation))
    return;

  op = g_new0 (PubsubOp, 1);
  op->kind = kind;
  op->invocation = invocation;     /* the handler's reference, answered once */
  op->connection = g_strdup (connection);
  op->channel = g_strdup (channel);
  op->message = g_strdup (message);
  pubsub_run (service, op);
}

static gboolean
handle_publish_cb (TdDBusTidings1        *skeleton,
                   GDBusMethodInvocation *invocation,
                   const char            *connection,
                   const char            *channel,
                   const char            *message,
                   TdDBusService         *service)
{
  pubsub_call (service, OP_PUBLISH, invocation, connection, channel, message);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_subscribe_cb (TdDBusTidings1        *skeleton,
                     GDBusMethodInvocation *invocation,
                     const char            *connection,
                     const char            *channel,
                     TdDBusService         *service)
{
  pubsub_call (service, OP_SUBSCRIBE, invocation, connection, channel, NULL);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_unsubscribe_cb (TdDBusTidings1        *skeleton,
                       GDBusMethodInvocation *invocation,
                       const char            *connection,
                       const char            *channel,
                       TdDBusService         *service)
{
  pubsub_call (service, OP_UNSUBSCRIBE, invocation, connection, channel, NULL);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

/* ------------------------------------------------------------------ */
/* Chat commands                                                        */

typedef struct
{
  TdDBusService         *service;      /* borrowed */
  gboolean               join;
  GDBusMethodInvocation *invocation;   /* owned */
  char                  *network;
  char                  *target;
  char                  *text;
  gint64                 deadline;
  guint                  retry_id;
} ChatOp;

static void
chat_op_free (ChatOp *op)
{
  g_clear_handle_id (&op->retry_id, g_source_remove);
  if (op->invocation != NULL)
    return_shutting_down (op->invocation);
  g_free (op->network);
  g_free (op->target);
  g_free (op->text);
  g_free (op);
}

static gboolean
close_hidden_windows_cb (gpointer user_data)
{
  TdDBusService *service = user_data;

  service->hidden_close_id = 0;
  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (service->app)); l != NULL; )
    {
      GtkWindow *window = l->data;

      l = l->next;
      if (!gtk_widget_get_visible (GTK_WIDGET (window)))
        gtk_window_destroy (window);
    }
  return G_SOURCE_REMOVE;
}

static gboolean chat_op_retry_cb (gpointer user_data);

/* Tries @op once; takes it when it is done (answered), re-arms it when
 * its network is not ready yet and time is left. */
static void
chat_op_try (ChatOp *op)
{
  TdDBusService *service = op->service;
  g_autoptr(GError) error = NULL;
  TdChatView *view = td_application_get_chat_view (service->app);
  gboolean ok;
  TdDBusError code = TD_DBUS_ERROR_FAILED;

  if (op->join)
    ok = td_chat_view_join_channel (view, op->network, op->target, &error);
  else
    ok = td_chat_view_send_message (view, op->network, op->target, op->text, &error);

  if (!ok && error->domain == TD_CHAT_VIEW_ERROR && error->code != TD_CHAT_VIEW_ERROR_INVALID &&
      g_get_monotonic_time () < op->deadline)
    {
      op->retry_id = g_timeout_add (TD_DBUS_CHAT_POLL_MS, chat_op_retry_cb, op);
      return;
    }

  {
    guint index;

    /* Taken out without freeing: it is answered and freed below. */
    if (g_ptr_array_find (service->chat_ops, op, &index))
      g_ptr_array_steal_index_fast (service->chat_ops, index);
  }
  if (ok)
    {
      if (op->join)
        td_dbus_tidings1_complete_join_channel (service->skeleton, g_steal_pointer (&op->invocation));
      else
        td_dbus_tidings1_complete_send_message (service->skeleton, g_steal_pointer (&op->invocation));
    }
  else
    {
      if (error->domain == TD_CHAT_VIEW_ERROR)
        switch (error->code)
          {
          case TD_CHAT_VIEW_ERROR_NO_NETWORK:
            code = TD_DBUS_ERROR_NO_SUCH_CONNECTION;
            break;
          case TD_CHAT_VIEW_ERROR_NOT_CONNECTED:
            code = TD_DBUS_ERROR_NOT_CONNECTED;
            break;
          default:
            code = TD_DBUS_ERROR_INVALID_ARGS;
            break;
          }
      g_dbus_method_invocation_return_error_literal (g_steal_pointer (&op->invocation),
                                                     TD_DBUS_ERROR, code, error->message);
    }
  chat_op_free (op);

  /* A window made just for commands goes once they are done. */
  g_clear_handle_id (&service->hidden_close_id, g_source_remove);
  service->hidden_close_id = g_timeout_add (TD_DBUS_HIDDEN_WINDOW_MS, close_hidden_windows_cb, service);
}

static gboolean
chat_op_retry_cb (gpointer user_data)
{
  ChatOp *op = user_data;

  op->retry_id = 0;
  chat_op_try (op);
  return G_SOURCE_REMOVE;
}

static void
chat_call (TdDBusService         *service,
           gboolean               join,
           GDBusMethodInvocation *invocation,
           const char            *network,
           const char            *target,
           const char            *text)
{
  ChatOp *op;

  if (!td_dbus_args_check_call (invocation))
    return;

  op = g_new0 (ChatOp, 1);
  op->service = service;
  op->join = join;
  op->invocation = invocation;     /* the handler's reference, answered once */
  op->network = g_strdup (network);
  op->target = g_strdup (target);
  op->text = g_strdup (text);
  op->deadline = g_get_monotonic_time () + TD_DBUS_CHAT_WAIT_MS * G_TIME_SPAN_MILLISECOND;
  g_ptr_array_add (service->chat_ops, op);
  chat_op_try (op);
}

static gboolean
handle_send_message_cb (TdDBusTidings1        *skeleton,
                        GDBusMethodInvocation *invocation,
                        const char            *network,
                        const char            *target,
                        const char            *text,
                        TdDBusService         *service)
{
  chat_call (service, FALSE, invocation, network, target, text);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_join_channel_cb (TdDBusTidings1        *skeleton,
                        GDBusMethodInvocation *invocation,
                        const char            *network,
                        const char            *channel,
                        TdDBusService         *service)
{
  chat_call (service, TRUE, invocation, network, channel, NULL);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static void
chat_message_cb (TdChatView    *view,
                 const char    *kind,
                 const char    *source,
                 const char    *target,
                 const char    *text,
                 TdDBusService *service)
{
  td_dbus_tidings1_emit_message_received (service->skeleton, kind, source ? source : "",
                                          target ? target : "", text ? text : "");
}

static void
chat_state_cb (TdChatView    *view,
               const char    *network,
               const char    *state,
               TdDBusService *service)
{
  td_dbus_tidings1_emit_connection_state_changed (service->skeleton, "chat", network, state);
}

static void
window_added_cb (GtkApplication *app,
                 GtkWindow      *window,
                 TdDBusService  *service)
{
  if (TD_IS_WINDOW (window))
    {
      g_signal_connect (td_window_get_chat_view (TD_WINDOW (window)), "message-received",
                        G_CALLBACK (chat_message_cb), service);
      g_signal_connect (td_window_get_chat_view (TD_WINDOW (window)), "network-state-changed",
                        G_CALLBACK (chat_state_cb), service);
    }
}

TdDBusService *
td_dbus_service_new (gpointer app,
                     gpointer skeleton)
{
  TdDBusService *service;

  g_return_val_if_fail (TD_IS_APPLICATION (app), NULL);
  g_return_val_if_fail (TD_DBUS_IS_TIDINGS1 (skeleton), NULL);

  service = g_new0 (TdDBusService, 1);
  service->app = app;
  service->skeleton = g_object_ref (skeleton);
  service->new_items = g_array_new (FALSE, FALSE, sizeof (NewItemsSignal));

  g_signal_connect (skeleton, "handle-add-feed", G_CALLBACK (handle_add_feed_cb), service);
  g_signal_connect (skeleton, "handle-remove-feed", G_CALLBACK (handle_remove_feed_cb), service);
  g_signal_connect (skeleton, "handle-refresh-feeds", G_CALLBACK (handle_refresh_feeds_cb), service);
  g_signal_connect (skeleton, "handle-list-feeds", G_CALLBACK (handle_list_feeds_cb), service);
  g_signal_connect (skeleton, "handle-mark-read", G_CALLBACK (handle_mark_read_cb), service);
  g_signal_connect (skeleton, "handle-get-unread-counts", G_CALLBACK (handle_get_unread_counts_cb), service);
  g_signal_connect (skeleton, "handle-publish", G_CALLBACK (handle_publish_cb), service);
  g_signal_connect (skeleton, "handle-subscribe", G_CALLBACK (handle_subscribe_cb), service);
  g_signal_connect (skeleton, "handle-unsubscribe", G_CALLBACK (handle_unsubscribe_cb), service);
  g_signal_connect (skeleton, "handle-send-message", G_CALLBACK (handle_send_message_cb), service);
  g_signal_connect (skeleton, "handle-join-channel", G_CALLBACK (handle_join_channel_cb), service);

  service->chat_ops = g_ptr_array_new_with_free_func ((GDestroyNotify) chat_op_free);
  service->window_added_id = g_signal_connect (app, "window-added", G_CALLBACK (window_added_cb), service);
  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (app)); l != NULL; l = l->next)
    window_added_cb (app, l->data, service);

  service->links = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) pubsub_link_free);
  service->waiting = g_ptr_array_new_with_free_func ((GDestroyNotify) pubsub_op_free);
  service->server_changed_id = g_signal_connect (app, "local-server-changed",
                                                 G_CALLBACK (local_server_changed_cb), service);

  service->feeds = td_feeds_app_ref (td_feeds_app_get (app));
  service->feed_events = td_mailbox_open (NULL, G_PRIORITY_DEFAULT, feed_event_cb, service, NULL);
  if (td_feeds_app_get_manager (service->feeds) != NULL)
    td_feed_manager_add_listener (td_feeds_app_get_manager (service->feeds), service->feed_events,
                                  MAIL_FEED_EVENT);
  return service;
}

void
td_dbus_service_free (TdDBusService *service)
{
  TdFeedManager *manager;

  if (service == NULL)
    return;

  g_signal_handlers_disconnect_by_data (service->skeleton, service);
  g_clear_signal_handler (&service->server_changed_id, service->app);
  g_clear_signal_handler (&service->window_added_id, service->app);
  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (service->app)); l != NULL; l = l->next)
    if (TD_IS_WINDOW (l->data))
      g_signal_handlers_disconnect_by_data (td_window_get_chat_view (l->data), service);
  g_clear_handle_id (&service->hidden_close_id, g_source_remove);
  g_clear_handle_id (&service->new_items_id, g_source_remove);
  g_clear_pointer (&service->new_items, g_array_unref);
  g_clear_pointer (&service->chat_ops, g_ptr_array_unref);
  g_clear_pointer (&service->waiting, g_ptr_array_unref);
  g_clear_pointer (&service->links, g_hash_table_destroy);
  manager = td_feeds_app_get_manager (service->feeds);
  if (manager != NULL)
    td_feed_manager_remove_listener (manager, service->feed_events);
  td_mailbox_close (service->feed_events);
  g_clear_pointer (&service->feeds, td_feeds_app_unref);
  g_clear_pointer (&service->feed_list, g_ptr_array_unref);
  g_clear_object (&service->skeleton);
  g_free (service);
}
