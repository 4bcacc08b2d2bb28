/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/*
 * TdPubsubChannel: message counts of one channel over the last
 * TD_PUBSUB_CHANNEL_N_SAMPLES buckets of TD_PUBSUB_CHANNEL_BUCKET_MS, for
 * the rate sparkline. The view advances the buckets from its animation
 * ticks; "changed" is emitted on every tick so that sparklines redraw.
 */

/* A quarter of a second per bucket and ten seconds of history: fine
 * enough to see bursts, long enough to see a trend. */
#define TD_PUBSUB_CHANNEL_BUCKET_MS  250
#define TD_PUBSUB_CHANNEL_N_SAMPLES  40

#define TD_TYPE_PUBSUB_CHANNEL (td_pubsub_channel_get_type ())

G_DECLARE_FINAL_TYPE (TdPubsubChannel, td_pubsub_channel, TD, PUBSUB_CHANNEL, GObject)

TdPubsubChannel *td_pubsub_channel_new         (const char      *name);
const char      *td_pubsub_channel_get_name    (TdPubsubChannel *self);
guint64          td_pubsub_channel_get_total   (TdPubsubChannel *self);
void             td_pubsub_channel_count       (TdPubsubChannel *self,
                                                guint            n);
gboolean         td_pubsub_channel_shift       (TdPubsubChannel *self);
void             td_pubsub_channel_tick        (TdPubsubChannel *self,
                                                double           phase);
double           td_pubsub_channel_get_phase   (TdPubsubChannel *self);
const guint     *td_pubsub_channel_get_samples (TdPubsubChannel *self);
double           td_pubsub_channel_get_rate    (TdPubsubChannel *self);
gboolean         td_pubsub_channel_is_idle     (TdPubsubChannel *self);

G_END_DECLS
