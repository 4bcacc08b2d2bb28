/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

#include "app/td-pubsub-channel.h"

G_BEGIN_DECLS

/* A small line chart of a channel's message rate that scrolls smoothly
 * with the channel's animation phase. */

#define TD_TYPE_SPARKLINE (td_sparkline_get_type ())

G_DECLARE_FINAL_TYPE (TdSparkline, td_sparkline, TD, SPARKLINE, GtkWidget)

GtkWidget       *td_sparkline_new         (void);
void             td_sparkline_set_channel (TdSparkline     *self,
                                           TdPubsubChannel *channel);
TdPubsubChannel *td_sparkline_get_channel (TdSparkline     *self);

G_END_DECLS
