/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* TdPubsubTopic: one subscription of a connection, a channel or a
 * pattern, whether the server has confirmed it, and whether what it
 * receives is captured to the database. */

#define TD_TYPE_PUBSUB_TOPIC (td_pubsub_topic_get_type ())

G_DECLARE_FINAL_TYPE (TdPubsubTopic, td_pubsub_topic, TD, PUBSUB_TOPIC, GObject)

TdPubsubTopic *td_pubsub_topic_new            (const char    *name,
                                               gboolean       is_pattern);
const char    *td_pubsub_topic_get_name       (TdPubsubTopic *self);
gboolean       td_pubsub_topic_get_is_pattern (TdPubsubTopic *self);
gboolean       td_pubsub_topic_get_active     (TdPubsubTopic *self);
void           td_pubsub_topic_set_active     (TdPubsubTopic *self,
                                               gboolean       active);
gboolean       td_pubsub_topic_get_capture    (TdPubsubTopic *self);
void           td_pubsub_topic_set_capture    (TdPubsubTopic *self,
                                               gboolean       capture);

G_END_DECLS
