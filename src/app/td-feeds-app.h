/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "app/td-application.h"
#include "feeds/td-feed-manager.h"

G_BEGIN_DECLS

/*
 * The application's one feed manager, shared by every Feeds view (and by
 * the D-Bus service): created on first use with the app database and the
 * default task loop, configured from GSettings (feed-refresh-interval,
 * feed-items-kept) and freed when the application shuts down, before the
 * database is closed. Holders keep a reference to this handle, not to the
 * manager, and ask for the manager each time: after shutdown it is NULL.
 */

/* Refresh the due feeds this long after start: the window is up and the
 * first paint done before any network work begins. */
#define TD_FEEDS_APP_STARTUP_DELAY_MS 10000

typedef struct _TdFeedsApp TdFeedsApp;

/* Returns the application's handle (borrowed), creating the manager. */
TdFeedsApp    *td_feeds_app_get          (TdApplication *app);
TdFeedsApp    *td_feeds_app_ref          (TdFeedsApp    *feeds);
void           td_feeds_app_unref        (TdFeedsApp    *feeds);
/* The manager, or NULL once the application has shut down. */
TdFeedManager *td_feeds_app_get_manager  (TdFeedsApp    *feeds);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdFeedsApp, td_feeds_app_unref)

G_END_DECLS
