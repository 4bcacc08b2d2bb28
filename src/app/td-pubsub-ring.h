/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * TdPubsubRing: a GListModel over a fixed-size ring of items, oldest
 * first. Appending past the capacity drops the oldest items and counts
 * them. One append changes the model with at most two items-changed
 * emissions (the dropped head, the new tail), however many items it
 * carries.
 */

#define TD_TYPE_PUBSUB_RING (td_pubsub_ring_get_type ())

G_DECLARE_FINAL_TYPE (TdPubsubRing, td_pubsub_ring, TD, PUBSUB_RING, GObject)

TdPubsubRing *td_pubsub_ring_new            (GType         item_type,
                                             guint         capacity);
guint         td_pubsub_ring_append         (TdPubsubRing *self,
                                             gpointer     *items,
                                             guint         n_items);
void          td_pubsub_ring_clear          (TdPubsubRing *self);
guint         td_pubsub_ring_get_capacity   (TdPubsubRing *self);
void          td_pubsub_ring_set_capacity   (TdPubsubRing *self,
                                             guint         capacity);
guint64       td_pubsub_ring_get_n_dropped  (TdPubsubRing *self);
guint64       td_pubsub_ring_get_n_changes  (TdPubsubRing *self);

G_END_DECLS
