/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-dbus-service"

#include "config.h"

#include <string.h>

#include "app/td-application.h"
#include "app/td-dbus-generated.h"
#include "app/td-dbus-service.h"
#include "app/td-feeds-app.h"
#include "core/td-mailbox.h"

static const GDBusErrorEntry td_dbus_error_entries[] = {
  { TD_DBUS_ERROR_INVALID_ARGS, "io.github.tidings.Tidings1.Error.InvalidArgs" },
  { TD_DBUS_ERROR_INVALID_URL, "io.github.tidings.Tidings1.Error.InvalidUrl" },
  { TD_DBUS_ERROR_NO_SUCH_FEED, "io.github.tidings.Tidings1.Error.NoSuchFeed" },
  { TD_DBUS_ERROR_NO_SUCH_CONNECTION, "io.github.tidings.Tidings1.Error.NoSuchConnection" },
  { TD_DBUS_ERROR_NOT_CONNECTED, "io.github.tidings.Tidings1.Error.NotConnected" },
  { TD_DBUS_ERROR_FAILED, "io.github.tidings.Tidings1.Error.Failed" },
  { TD_DBUS_ERROR_EXISTS, "io.github.tidings.Tidings1.Error.Exists" },
  { TD_DBUS_ERROR_SEVERAL_FEEDS, "io.github.tidings.Tidings1.Error.SeveralFeeds" },
  { TD_DBUS_ERROR_NO_SUCH_ITEM, "io.github.tidings.Tidings1.Error.NoSuchItem" },
};

GQuark
td_dbus_error_quark (void)
{
  static gsize quark = 0;

  g_dbus_error_register_error_domain ("td-dbus-error-quark", &quark,
                                      td_dbus_error_entries,
                                      G_N_ELEMENTS (td_dbus_error_entries));
  return (GQuark) quark;
}

/* ------------------------------------------------------------------ */
/* The service                                                          */

struct _TdDBusService
{
  TdApplication  *app;          /* borrowed: the service lives inside it */
  TdDBusTidings1 *skeleton;     /* owned ref */
  TdFeedsApp     *feeds;        /* owned ref */
  TdMailboxId     feed_events;  /* listener mailbox of the feed manager */
  GPtrArray      *feed_list;    /* TdFeedInfo, from the last FEEDS event; NULL before */
};

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
    g_dbus_method_invocation_return_error (call->invocation, TD_DBUS_ERROR, TD_DBUS_ERROR_FAILED,
                                           "Tidings is shutting down");
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
        g_dbus_method_invocation_return_error (invocation, TD_DBUS_ERROR, TD_DBUS_ERROR_NO_SUCH_ITEM,
                                               "No item with id %" G_GINT64_FORMAT, call->id);
      else
        return_manager_error (invocation, reply->error);
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
          g_dbus_method_invocation_return_error (invocation, TD_DBUS_ERROR, TD_DBUS_ERROR_SEVERAL_FEEDS,
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
  call->invocation = g_object_ref (invocation);
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
    g_dbus_method_invocation_return_error (invocation, TD_DBUS_ERROR, TD_DBUS_ERROR_FAILED,
                                           "Tidings is shutting down");
  return manager;
}

/* TRUE if @url is something a feed can be added from: an http(s) or
 * file URL, or an absolute path; never other schemes. */
static gboolean
feed_url_acceptable (const char *url)
{
  g_autofree char *scheme = NULL;

  if (url == NULL || *url == '\0' || strlen (url) > TD_DBUS_MAX_URL_LEN || !g_utf8_validate (url, -1, NULL))
    return FALSE;
  if (g_path_is_absolute (url))
    return TRUE;
  if (!g_uri_is_valid (url, G_URI_FLAGS_PARSE_RELAXED, NULL))
    return FALSE;
  scheme = g_uri_parse_scheme (url);
  return scheme != NULL && (g_ascii_strcasecmp (scheme, "http") == 0 ||
                            g_ascii_strcasecmp (scheme, "https") == 0 ||
                            g_ascii_strcasecmp (scheme, "file") == 0);
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

  if (!feed_url_acceptable (url))
    {
      g_dbus_method_invocation_return_error (invocation, TD_DBUS_ERROR, TD_DBUS_ERROR_INVALID_URL,
                                             "Not a feed URL: expected http://, https://, file:// or an absolute path");
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }
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

  if ((manager = require_manager (service, invocation)) == NULL)
    return G_DBUS_METHOD_INVOCATION_HANDLED;

  ids = g_variant_get_fixed_array (ids_variant, &n_ids, sizeof (gint64));
  if (n_ids > TD_DBUS_MAX_IDS)
    {
      g_dbus_method_invocation_return_error (invocation, TD_DBUS_ERROR, TD_DBUS_ERROR_INVALID_ARGS,
                                             "At most %d feed ids at once", TD_DBUS_MAX_IDS);
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }

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

  for (guint i = 0; service->feed_list != NULL && i < service->feed_list->len; i++)
    feeds_unread += ((TdFeedInfo *) g_ptr_array_index (service->feed_list, i))->unread;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a{su}"));
  g_variant_builder_add (&builder, "{su}", "feeds", feeds_unread);
  td_dbus_tidings1_complete_get_unread_counts (skeleton, invocation, g_variant_builder_end (&builder));
  return G_DBUS_METHOD_INVOCATION_HANDLED;
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

          if (items->n_new > 0)
            td_dbus_tidings1_emit_new_items (service->skeleton, items->feed_id, items->n_new);
        }
      break;

    default:
      break;
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

  g_signal_connect (skeleton, "handle-add-feed", G_CALLBACK (handle_add_feed_cb), service);
  g_signal_connect (skeleton, "handle-remove-feed", G_CALLBACK (handle_remove_feed_cb), service);
  g_signal_connect (skeleton, "handle-refresh-feeds", G_CALLBACK (handle_refresh_feeds_cb), service);
  g_signal_connect (skeleton, "handle-list-feeds", G_CALLBACK (handle_list_feeds_cb), service);
  g_signal_connect (skeleton, "handle-mark-read", G_CALLBACK (handle_mark_read_cb), service);
  g_signal_connect (skeleton, "handle-get-unread-counts", G_CALLBACK (handle_get_unread_counts_cb), service);

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
  manager = td_feeds_app_get_manager (service->feeds);
  if (manager != NULL)
    td_feed_manager_remove_listener (manager, service->feed_events);
  td_mailbox_close (service->feed_events);
  g_clear_pointer (&service->feeds, td_feeds_app_unref);
  g_clear_pointer (&service->feed_list, g_ptr_array_unref);
  g_clear_object (&service->skeleton);
  g_free (service);
}
