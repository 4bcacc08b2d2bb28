/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/*
 * The main-loop probe: how long each main-context iteration takes (a
 * stall), how late a high-priority timer fires, and the intervals between
 * frames of a window. On only when TIDINGS_DEBUG contains "latency"
 * (timer, stalls and frames; the window's frame clock is kept running so
 * that frame intervals say how often a frame could be drawn) or "wakeups"
 * (counts iterations and arms nothing, for idle checks); when off nothing
 * is installed. With "first-frame" as well (or alone), the monotonic time
 * of the window's first frame is printed on stderr once, for cold-start
 * measurements.
 */

/* The probe's timer period: short enough to see a one-frame stall, long
 * enough that the probe itself costs nothing measurable. */
#define TD_LATENCY_PROBE_TIMER_MS  10

/* Histogram buckets, in milliseconds (upper bounds; the last is open). */
#define TD_LATENCY_PROBE_N_BUCKETS 10

typedef struct _TdLatencyProbe TdLatencyProbe;

TdLatencyProbe *td_latency_probe_new_from_env (void);
TdLatencyProbe *td_latency_probe_new          (gboolean        arm_timer);
void            td_latency_probe_watch_window (TdLatencyProbe *probe,
                                               GtkWidget      *window);
void            td_latency_probe_reset        (TdLatencyProbe *probe);
GVariant       *td_latency_probe_get_stats    (TdLatencyProbe *probe);
char           *td_latency_probe_format       (TdLatencyProbe *probe);
void            td_latency_probe_free         (TdLatencyProbe *probe);

const double   *td_latency_probe_get_bucket_bounds (void);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdLatencyProbe, td_latency_probe_free)

G_END_DECLS
