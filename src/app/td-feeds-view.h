/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "app/td-article-view.h"

G_BEGIN_DECLS

/* New items arrive in bursts during a refresh; the list reloads at most
 * this often, so a refresh of many feeds costs a few queries, not one
 * per feed. */
#define TD_FEEDS_VIEW_RELOAD_DELAY_MS 400

#define TD_TYPE_FEEDS_VIEW (td_feeds_view_get_type ())

G_DECLARE_FINAL_TYPE (TdFeedsView, td_feeds_view, TD, FEEDS_VIEW, AdwBin)

/* The Feeds page: sidebar (smart views, folders, feeds), item list and
 * article. It talks to the application's feed manager only by mail. */

/* Subscribes to @url as the subscribe dialog does (a choice dialog comes
 * up when a page offers several feeds). */
void           td_feeds_view_subscribe          (TdFeedsView *self,
                                                 const char  *url);
void           td_feeds_view_import_opml        (TdFeedsView *self,
                                                 GFile       *file);
void           td_feeds_view_export_opml        (TdFeedsView *self,
                                                 GFile       *file);
void           td_feeds_view_set_search         (TdFeedsView *self,
                                                 const char  *text);
/* Selects the sidebar row at @position / the item at @position. */
void           td_feeds_view_select_source      (TdFeedsView *self,
                                                 guint        position);
void           td_feeds_view_select_item        (TdFeedsView *self,
                                                 guint        position);
/* TdFeedRow and TdItemObject models, for tests and accessibility. */
GListModel    *td_feeds_view_get_sidebar_model  (TdFeedsView *self);
GListModel    *td_feeds_view_get_item_model     (TdFeedsView *self);
TdArticleView *td_feeds_view_get_article_view   (TdFeedsView *self);
/* The text of the last toast the view showed, for tests. */
const char    *td_feeds_view_get_last_message   (TdFeedsView *self);
/* The reason shown for a feed's error badge, NULL while none is shown. */
const char    *td_feeds_view_get_error_tooltip  (TdFeedsView *self);

G_END_DECLS
