/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "app/td-pubsub-connection.h"
#include "app/td-pubsub-ring.h"
#include "store/td-recorder.h"

G_BEGIN_DECLS

/*
 * TdPubsubView: the Pub/Sub page. Connections (the embedded broker first,
 * then any Redis server the user adds) with their state, subscriptions of
 * the selected connection, a live list of every message received (a
 * bounded ring, filtered by channel and text, pausable), per-channel rate
 * sparklines, and a publish box.
 *
 * Connections and subscriptions are saved with the app's recorder and
 * restored at start; passwords are kept for the session only.
 *
 * A subscription can capture its messages to the database (one save per
 * incoming batch, at most a cap per subscription with the oldest
 * pruned). Captured messages are shown, marked, at the next start before
 * live traffic, and are searchable (full text over text payloads, by
 * channel for binary ones) in the view's search mode.
 */

/* Live messages go into the list only while the view is shown, except
 * while the list holds fewer than TD_PUBSUB_VIEW_PREBUILD: then they go in
 * even while it is hidden, at most TD_PUBSUB_VIEW_PREBUILD_STEP per flush,
 * so that the list builds and styles its rows a few at a time in the
 * background, not all in the frame that first shows the view. */
#define TD_PUBSUB_VIEW_PREBUILD      256
#define TD_PUBSUB_VIEW_PREBUILD_STEP 64

#define TD_TYPE_PUBSUB_VIEW (td_pubsub_view_get_type ())

G_DECLARE_FINAL_TYPE (TdPubsubView, td_pubsub_view, TD, PUBSUB_VIEW, AdwBin)

GtkWidget          *td_pubsub_view_new                 (void);

void                td_pubsub_view_set_recorder        (TdPubsubView       *self,
                                                        TdRecorder         *recorder);
void                td_pubsub_view_set_builtin_port    (TdPubsubView       *self,
                                                        guint16             port);
TdPubsubConnection *td_pubsub_view_add_connection      (TdPubsubView       *self,
                                                        const char         *host,
                                                        guint16             port,
                                                        gboolean            tls,
                                                        const char         *password);
void                td_pubsub_view_remove_connection   (TdPubsubView       *self,
                                                        TdPubsubConnection *connection);
GListModel         *td_pubsub_view_get_connections     (TdPubsubView       *self);
TdPubsubConnection *td_pubsub_view_get_selected        (TdPubsubView       *self);
void                td_pubsub_view_select              (TdPubsubView       *self,
                                                        TdPubsubConnection *connection);

TdPubsubTopic      *td_pubsub_view_subscribe           (TdPubsubView       *self,
                                                        const char         *name,
                                                        gboolean            force_pattern);
gboolean            td_pubsub_view_unsubscribe         (TdPubsubView       *self,
                                                        TdPubsubTopic      *topic);
guint64             td_pubsub_view_publish             (TdPubsubView       *self,
                                                        const char         *channel,
                                                        const char         *message);
const char         *td_pubsub_view_get_publish_result  (TdPubsubView       *self);

TdPubsubRing       *td_pubsub_view_get_ring            (TdPubsubView       *self);
GListModel         *td_pubsub_view_get_visible_messages (TdPubsubView      *self);
GListModel         *td_pubsub_view_get_channels        (TdPubsubView       *self);
guint64             td_pubsub_view_get_n_received      (TdPubsubView       *self);
guint64             td_pubsub_view_get_n_dropped       (TdPubsubView       *self);
const char         *td_pubsub_view_get_counts_text     (TdPubsubView       *self);
void                td_pubsub_view_set_paused          (TdPubsubView       *self,
                                                        gboolean            paused);
gboolean            td_pubsub_view_get_paused          (TdPubsubView       *self);
void                td_pubsub_view_set_filter          (TdPubsubView       *self,
                                                        const char         *channel,
                                                        const char         *text);
void                td_pubsub_view_clear               (TdPubsubView       *self);

void                td_pubsub_view_set_capture         (TdPubsubView       *self,
                                                        TdPubsubTopic      *topic,
                                                        gboolean            capture);
void                td_pubsub_view_set_capture_max     (TdPubsubView       *self,
                                                        guint               max);
void                td_pubsub_view_set_searching       (TdPubsubView       *self,
                                                        gboolean            searching);
gboolean            td_pubsub_view_get_searching       (TdPubsubView       *self);
void                td_pubsub_view_search              (TdPubsubView       *self,
                                                        const char         *text);
gboolean            td_pubsub_view_get_search_busy     (TdPubsubView       *self);
gboolean            td_pubsub_view_is_animating        (TdPubsubView       *self);

G_END_DECLS
