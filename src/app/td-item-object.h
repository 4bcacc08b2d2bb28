/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

#include "feeds/td-feed-manager.h"

G_BEGIN_DECLS

#define TD_TYPE_ITEM_OBJECT (td_item_object_get_type ())

G_DECLARE_FINAL_TYPE (TdItemObject, td_item_object, TD, ITEM_OBJECT, GObject)

TdItemObject *td_item_object_new          (void);
/* Fills a placeholder (or refreshes a row) from @item. */
void          td_item_object_set_item     (TdItemObject     *self,
                                           const TdFeedItem *item);
gboolean      td_item_object_is_loaded    (TdItemObject     *self);
gint64        td_item_object_get_id       (TdItemObject     *self);
gint64        td_item_object_get_feed_id  (TdItemObject     *self);
const char   *td_item_object_get_title    (TdItemObject     *self);
const char   *td_item_object_get_link     (TdItemObject     *self);
gboolean      td_item_object_get_read     (TdItemObject     *self);
void          td_item_object_set_read     (TdItemObject     *self,
                                           gboolean          read);
gboolean      td_item_object_get_starred  (TdItemObject     *self);
void          td_item_object_set_starred  (TdItemObject     *self,
                                           gboolean          starred);

G_END_DECLS
