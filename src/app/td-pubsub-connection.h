/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "app/td-pubsub-topic.h"
#include "pubsub/td-pubsub-client.h"

G_BEGIN_DECLS

/*
 * TdPubsubConnection: one server in the Pub/Sub view. It owns a
 * TdPubsubClient and the mailbox (on the GTK main context) that the
 * client mails to, keeps the list of subscriptions, and turns the mail
 * into properties and signals:
 *
 *   "messages"  (TdPubsubBatch *batch)       once per batch; handlers may
 *                                            take batch->messages
 *   "published" (guint64 request, gint64 receivers, const char *error)
 *   "reconnected" (guint n_resubscribed)
 *   notify::state, notify::status-text       ("Retrying in 3 s …" counts down)
 */

#define TD_TYPE_PUBSUB_CONNECTION (td_pubsub_connection_get_type ())

G_DECLARE_FINAL_TYPE (TdPubsubConnection, td_pubsub_connection, TD, PUBSUB_CONNECTION, GObject)

TdPubsubConnection *td_pubsub_connection_new               (const char         *key,
                                                            const char         *title,
                                                            const char         *host,
                                                            guint16             port,
                                                            gboolean            tls,
                                                            const char         *password,
                                                            gboolean            builtin);
const char         *td_pubsub_connection_get_key           (TdPubsubConnection *self);
const char         *td_pubsub_connection_get_title         (TdPubsubConnection *self);
const char         *td_pubsub_connection_get_host          (TdPubsubConnection *self);
guint16             td_pubsub_connection_get_port          (TdPubsubConnection *self);
gboolean            td_pubsub_connection_get_tls           (TdPubsubConnection *self);
gboolean            td_pubsub_connection_get_builtin       (TdPubsubConnection *self);
TdPubsubState       td_pubsub_connection_get_state         (TdPubsubConnection *self);
const char         *td_pubsub_connection_get_status_text   (TdPubsubConnection *self);
const char         *td_pubsub_connection_get_last_error    (TdPubsubConnection *self);
GListModel         *td_pubsub_connection_get_topics        (TdPubsubConnection *self);
void                td_pubsub_connection_set_retry_policy  (TdPubsubConnection *self,
                                                            const TdRetryPolicy *policy);

void                td_pubsub_connection_start             (TdPubsubConnection *self);
void                td_pubsub_connection_stop              (TdPubsubConnection *self);
TdPubsubTopic      *td_pubsub_connection_subscribe         (TdPubsubConnection *self,
                                                            const char         *name,
                                                            gboolean            is_pattern);
gboolean            td_pubsub_connection_unsubscribe       (TdPubsubConnection *self,
                                                            TdPubsubTopic      *topic);
guint64             td_pubsub_connection_publish           (TdPubsubConnection *self,
                                                            const char         *channel,
                                                            const char         *message);

G_END_DECLS
