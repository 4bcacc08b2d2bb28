/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "app/td-feeds-app.h"

G_BEGIN_DECLS

#define TD_TYPE_ITEM_LIST (td_item_list_get_type ())

G_DECLARE_FINAL_TYPE (TdItemList, td_item_list, TD, ITEM_LIST, GObject)

/* A GListModel of TdItemObject over a feed query, loaded a page at a
 * time as the list view asks for rows, so that a list of 100,000 items
 * costs a count and the pages on screen. */
TdItemList *td_item_list_new          (TdFeedsApp        *feeds);
/* Runs @query (copied) from the start; the old rows stay until the
 * first page arrives, then "reloaded" is emitted. */
void        td_item_list_set_query    (TdItemList        *self,
                                       const TdFeedQuery *query);
void        td_item_list_reload       (TdItemList        *self);
gboolean    td_item_list_is_loading   (TdItemList        *self);
/* The position of the loaded item @id, or -1. */
int         td_item_list_find         (TdItemList        *self,
                                       gint64             id);

G_END_DECLS
