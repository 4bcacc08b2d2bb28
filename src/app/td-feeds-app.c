/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-feeds-app"

#include "config.h"

#include "app/td-feeds-app.h"
#include "core/td-task-loop.h"

#define TD_FEEDS_APP_KEY "td-feeds-app"

struct _TdFeedsApp
{
  gatomicrefcount  ref_count;
  TdFeedManager   *manager;      /* owned; NULL after shutdown */
  GSettings       *settings;     /* owned ref */
  gulong           interval_id;
  gulong           kept_id;
  gulong           shutdown_id;
  GApplication    *app;          /* borrowed until shutdown */
};

TdFeedsApp *
td_feeds_app_ref (TdFeedsApp *feeds)
{
  g_return_val_if_fail (feeds != NULL, NULL);

  g_atomic_ref_count_inc (&feeds->ref_count);
  return feeds;
}

/* Frees the manager and lets go of the settings; the handle lives on
 * for whoever still holds it. */
static void
td_feeds_app_close (TdFeedsApp *feeds)
{
  g_clear_pointer (&feeds->manager, td_feed_manager_free);
  if (feeds->settings != NULL)
    {
      g_clear_signal_handler (&feeds->interval_id, feeds->settings);
      g_clear_signal_handler (&feeds->kept_id, feeds->settings);
      g_clear_object (&feeds->settings);
    }
  if (feeds->app != NULL)
    g_clear_signal_handler (&feeds->shutdown_id, feeds->app);
  feeds->app = NULL;
}

void
td_feeds_app_unref (TdFeedsApp *feeds)
{
  if (feeds == NULL || !g_atomic_ref_count_dec (&feeds->ref_count))
    return;

  td_feeds_app_close (feeds);
  g_free (feeds);
}

TdFeedManager *
td_feeds_app_get_manager (TdFeedsApp *feeds)
{
  g_return_val_if_fail (feeds != NULL, NULL);

  return feeds->manager;
}

static void
interval_changed_cb (GSettings  *settings,
                     const char *key,
                     TdFeedsApp *feeds)
{
  if (feeds->manager != NULL)
    td_feed_manager_set_refresh_interval (feeds->manager, g_settings_get_uint (settings, key) * 60);
}

static void
kept_changed_cb (GSettings  *settings,
                 const char *key,
                 TdFeedsApp *feeds)
{
  if (feeds->manager != NULL)
    td_feed_manager_set_items_kept (feeds->manager, g_settings_get_uint (settings, key));
}

/* Runs before the application's own shutdown closes the database. */
static void
shutdown_cb (GApplication *app,
             TdFeedsApp   *feeds)
{
  td_feeds_app_close (feeds);
  g_object_set_data (G_OBJECT (app), TD_FEEDS_APP_KEY, NULL);
}

TdFeedsApp *
td_feeds_app_get (TdApplication *app)
{
  TdFeedsApp *feeds;
  TdFeedManagerConfig config = { 0 };

  g_return_val_if_fail (TD_IS_APPLICATION (app), NULL);

  feeds = g_object_get_data (G_OBJECT (app), TD_FEEDS_APP_KEY);
  if (feeds != NULL)
    return feeds;

  feeds = g_new0 (TdFeedsApp, 1);
  g_atomic_ref_count_init (&feeds->ref_count);
  feeds->settings = g_object_ref (td_application_get_settings (app));
  feeds->app = G_APPLICATION (app);

  config.refresh_interval = g_settings_get_uint (feeds->settings, "feed-refresh-interval") * 60;
  config.items_kept = g_settings_get_uint (feeds->settings, "feed-items-kept");
  config.startup_delay_ms = TD_FEEDS_APP_STARTUP_DELAY_MS;
  feeds->manager = td_feed_manager_new (td_application_get_recorder (app),
                                        td_task_loop_get_default (), &config);

  feeds->interval_id = g_signal_connect (feeds->settings, "changed::feed-refresh-interval",
                                         G_CALLBACK (interval_changed_cb), feeds);
  feeds->kept_id = g_signal_connect (feeds->settings, "changed::feed-items-kept",
                                     G_CALLBACK (kept_changed_cb), feeds);
  feeds->shutdown_id = g_signal_connect (app, "shutdown", G_CALLBACK (shutdown_cb), feeds);

  g_object_set_data_full (G_OBJECT (app), TD_FEEDS_APP_KEY, feeds,
                          (GDestroyNotify) td_feeds_app_unref);
  return feeds;
}
