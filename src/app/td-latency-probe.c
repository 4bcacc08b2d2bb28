/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-latency-probe"

#include "config.h"

#include <math.h>

#include "app/td-latency-probe.h"

/* Samples kept per series for percentiles; older ones are overwritten
 * (a ring), so a long session uses bounded memory. */
#define TD_LATENCY_PROBE_MAX_SAMPLES 65536

/* The longest stalls are kept with when they began, so that a report says
 * which phase (start-up, a refresh, a view switch) they belong to. */
#define TD_LATENCY_PROBE_N_WORST 8

static const double bucket_bounds[TD_LATENCY_PROBE_N_BUCKETS] = {
  1, 2, 4, 8, 16, 33, 50, 100, 250, INFINITY
};

typedef struct
{
  double  ms;
  double  at_ms;       /* when the stall began, ms after the probe started */
} Stall;

typedef struct
{
  double   *samples;     /* milliseconds */
  guint     n;           /* samples written so far (may exceed the ring) */
  double    max;
  guint64   histogram[TD_LATENCY_PROBE_N_BUCKETS];
} Series;

struct _TdLatencyProbe
{
  GMainContext *context;
  GPollFunc     previous_poll;
  gint64        after_poll_us;     /* when the last poll returned, 0 before the first */
  guint64       n_iterations;
  guint64       n_wakeups;         /* polls that slept, then returned */
  gint64        started_us;

  guint         timer_id;
  gint64        timer_due_us;

  gboolean      keep_ticking;      /* latency mode: keep the frame clock running */
  guint         tick_id;
  GtkWidget    *window;            /* borrowed; weak pointer */
  GdkFrameClock *frame_clock;      /* borrowed while connected */
  gulong        after_paint_id;
  gint64        last_frame_us;
  gint64        first_frame_us;    /* monotonic time of the first frame, 0 before; never reset */
  gboolean      print_first_frame; /* TIDINGS_DEBUG=first-frame */
  gint64        created_us;        /* never reset: the base of first_frame_ms */

  Series        stalls;
  Stall         worst[TD_LATENCY_PROBE_N_WORST];  /* longest first */
  Series        timer_late;
  Series        frames;
};

/* Only one probe can own a context's poll function at a time. */
static TdLatencyProbe *active_probe;

static void
series_init (Series *series)
{
  series->samples = g_new0 (double, TD_LATENCY_PROBE_MAX_SAMPLES);
}

static void
series_clear (Series *series)
{
  g_clear_pointer (&series->samples, g_free);
}

static void
series_reset (Series *series)
{
  series->n = 0;
  series->max = 0;
  memset (series->histogram, 0, sizeof series->histogram);
}

static void
series_add (Series *series,
            double  ms)
{
  series->samples[series->n % TD_LATENCY_PROBE_MAX_SAMPLES] = ms;
  series->n++;
  if (ms > series->max)
    series->max = ms;
  for (guint i = 0; i < TD_LATENCY_PROBE_N_BUCKETS; i++)
    if (ms <= bucket_bounds[i])
      {
        series->histogram[i]++;
        break;
      }
}

static int
compare_double (gconstpointer a,
                gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

/* Returns the @pct percentile of the kept samples, 0 when there are none. */
static double
series_percentile (const Series *series,
                   double        pct)
{
  guint n = MIN (series->n, TD_LATENCY_PROBE_MAX_SAMPLES);
  g_autofree double *sorted = NULL;
  guint index;

  if (n == 0)
    return 0;

  sorted = g_memdup2 (series->samples, n * sizeof (double));
  qsort (sorted, n, sizeof (double), compare_double);
  index = (guint) ceil (pct / 100.0 * n);
  index = CLAMP (index, 1, n) - 1;
  return sorted[index];
}

/* Keeps @ms in the sorted list of the longest stalls. */
static void
record_worst (TdLatencyProbe *probe,
              double          ms,
              double          at_ms)
{
  guint i = TD_LATENCY_PROBE_N_WORST - 1;

  while (i > 0 && probe->worst[i - 1].ms < ms)
    {
      probe->worst[i] = probe->worst[i - 1];
      i--;
    }
  probe->worst[i].ms = ms;
  probe->worst[i].at_ms = at_ms;
}

/* The time from one poll's return to the next poll is what the loop spent
 * dispatching (and preparing and checking): how long input waited. */
static int
probe_poll (GPollFD *fds,
            guint    n_fds,
            int      timeout)
{
  TdLatencyProbe *probe = active_probe;
  int ret;

  if (probe != NULL && probe->after_poll_us != 0)
    {
      double ms = (g_get_monotonic_time () - probe->after_poll_us) / 1000.0;

      series_add (&probe->stalls, ms);
      if (ms > probe->worst[TD_LATENCY_PROBE_N_WORST - 1].ms)
        record_worst (probe, ms, (probe->after_poll_us - probe->started_us) / 1000.0);
    }

  ret = probe && probe->previous_poll ? probe->previous_poll (fds, n_fds, timeout)
                                      : g_poll (fds, n_fds, timeout);

  if (probe != NULL)
    {
      probe->after_poll_us = g_get_monotonic_time ();
      probe->n_iterations++;
      /* A poll that was allowed to sleep and returned is a wakeup,
       * whether an fd or a timeout woke it. */
      if (timeout != 0)
        probe->n_wakeups++;
    }
  return ret;
}

static gboolean
probe_timer_cb (gpointer user_data)
{
  TdLatencyProbe *probe = user_data;
  gint64 now = g_get_monotonic_time ();

  series_add (&probe->timer_late, MAX (0, now - probe->timer_due_us) / 1000.0);
  probe->timer_due_us = now + TD_LATENCY_PROBE_TIMER_MS * 1000;
  return G_SOURCE_CONTINUE;
}

static void
after_paint_cb (GdkFrameClock  *clock,
                TdLatencyProbe *probe)
{
  gint64 now = gdk_frame_clock_get_frame_time (clock);

  if (probe->first_frame_us == 0)
    {
      probe->first_frame_us = g_get_monotonic_time ();
      /* For cold-start measurements: the driver compares this with the
       * monotonic time at which it exec'd us. */
      if (probe->print_first_frame)
        g_printerr ("first-frame: %" G_GINT64_FORMAT " us\n", probe->first_frame_us);
    }

  if (probe->last_frame_us != 0 && now > probe->last_frame_us)
    series_add (&probe->frames, (now - probe->last_frame_us) / 1000.0);
  probe->last_frame_us = now;
}

static void
disconnect_frame_clock (TdLatencyProbe *probe)
{
  if (probe->frame_clock != NULL && probe->after_paint_id != 0)
    g_signal_handler_disconnect (probe->frame_clock, probe->after_paint_id);
  probe->after_paint_id = 0;
  probe->frame_clock = NULL;
}

/* Keeps the window's frame clock running, as during an animation, so that
 * frame intervals say how often a frame could be drawn, not how often
 * something happened to change. Draws nothing. */
static gboolean
keep_ticking_cb (GtkWidget     *widget,
                 GdkFrameClock *clock,
                 gpointer       user_data)
{
  return G_SOURCE_CONTINUE;
}

static void
window_realize_cb (GtkWidget      *widget,
                   TdLatencyProbe *probe)
{
  disconnect_frame_clock (probe);
  probe->frame_clock = gtk_widget_get_frame_clock (widget);
  if (probe->frame_clock != NULL)
    probe->after_paint_id = g_signal_connect (probe->frame_clock, "after-paint",
                                              G_CALLBACK (after_paint_cb), probe);
}

static void
window_unrealize_cb (GtkWidget      *widget,
                     TdLatencyProbe *probe)
{
  disconnect_frame_clock (probe);
}

/* Starts a probe on the default main context. With @arm_timer the probe
 * measures timer lateness too (it then wakes up every few ms itself). */
TdLatencyProbe *
td_latency_probe_new (gboolean arm_timer)
{
  TdLatencyProbe *probe;

  g_return_val_if_fail (active_probe == NULL, NULL);

  probe = g_new0 (TdLatencyProbe, 1);
  series_init (&probe->stalls);
  series_init (&probe->timer_late);
  series_init (&probe->frames);
  probe->context = g_main_context_ref (g_main_context_default ());
  probe->previous_poll = g_main_context_get_poll_func (probe->context);
  probe->started_us = g_get_monotonic_time ();
  probe->created_us = probe->started_us;
  probe->keep_ticking = arm_timer;
  active_probe = probe;
  g_main_context_set_poll_func (probe->context, probe_poll);

  if (arm_timer)
    {
      probe->timer_due_us = g_get_monotonic_time () + TD_LATENCY_PROBE_TIMER_MS * 1000;
      probe->timer_id = g_timeout_add_full (G_PRIORITY_HIGH, TD_LATENCY_PROBE_TIMER_MS,
                                            probe_timer_cb, probe, NULL);
    }
  return probe;
}

/* Returns a probe when TIDINGS_DEBUG asks for one, else NULL. */
TdLatencyProbe *
td_latency_probe_new_from_env (void)
{
  const char *debug = g_getenv ("TIDINGS_DEBUG");
  g_auto(GStrv) flags = NULL;
  TdLatencyProbe *probe = NULL;

  if (debug == NULL || *debug == '\0')
    return NULL;

  flags = g_strsplit_set (debug, ", ", -1);
  if (g_strv_contains ((const char * const *) flags, "latency"))
    probe = td_latency_probe_new (TRUE);
  else if (g_strv_contains ((const char * const *) flags, "wakeups") ||
           g_strv_contains ((const char * const *) flags, "first-frame"))
    probe = td_latency_probe_new (FALSE);
  if (probe != NULL)
    probe->print_first_frame = g_strv_contains ((const char * const *) flags, "first-frame");
  return probe;
}

void
td_latency_probe_watch_window (TdLatencyProbe *probe,
                               GtkWidget      *window)
{
  g_return_if_fail (probe != NULL);
  g_return_if_fail (GTK_IS_WIDGET (window));

  if (probe->window != NULL)
    {
      g_signal_handlers_disconnect_by_data (probe->window, probe);
      g_object_remove_weak_pointer (G_OBJECT (probe->window), (gpointer *) &probe->window);
      disconnect_frame_clock (probe);
      if (probe->tick_id != 0)
        gtk_widget_remove_tick_callback (probe->window, probe->tick_id);
    }

  probe->tick_id = 0;
  probe->window = window;
  g_object_add_weak_pointer (G_OBJECT (window), (gpointer *) &probe->window);
  g_signal_connect (window, "realize", G_CALLBACK (window_realize_cb), probe);
  g_signal_connect (window, "unrealize", G_CALLBACK (window_unrealize_cb), probe);
  if (gtk_widget_get_realized (window))
    window_realize_cb (window, probe);
  if (probe->keep_ticking)
    probe->tick_id = gtk_widget_add_tick_callback (window, keep_ticking_cb, NULL, NULL);
}

void
td_latency_probe_reset (TdLatencyProbe *probe)
{
  g_return_if_fail (probe != NULL);

  series_reset (&probe->stalls);
  series_reset (&probe->timer_late);
  series_reset (&probe->frames);
  memset (probe->worst, 0, sizeof probe->worst);
  probe->n_iterations = 0;
  probe->n_wakeups = 0;
  probe->last_frame_us = 0;
  probe->started_us = g_get_monotonic_time ();
}

const double *
td_latency_probe_get_bucket_bounds (void)
{
  return bucket_bounds;
}

/* Returns (a{sd}at): figures by name, and the stall histogram. */
GVariant *
td_latency_probe_get_stats (TdLatencyProbe *probe)
{
  GVariantBuilder stats, histogram;
  double seconds;

  g_return_val_if_fail (probe != NULL, NULL);

  seconds = (g_get_monotonic_time () - probe->started_us) / (double) G_USEC_PER_SEC;

  g_variant_builder_init (&stats, G_VARIANT_TYPE ("a{sd}"));
  g_variant_builder_add (&stats, "{sd}", "seconds", seconds);
  g_variant_builder_add (&stats, "{sd}", "iterations", (double) probe->n_iterations);
  g_variant_builder_add (&stats, "{sd}", "wakeups", (double) probe->n_wakeups);
  g_variant_builder_add (&stats, "{sd}", "wakeups-per-second", seconds > 0 ? probe->n_wakeups / seconds : 0);
  g_variant_builder_add (&stats, "{sd}", "stall-max-ms", probe->stalls.max);
  g_variant_builder_add (&stats, "{sd}", "stall-p99-ms", series_percentile (&probe->stalls, 99));
  g_variant_builder_add (&stats, "{sd}", "timer-late-max-ms", probe->timer_late.max);
  g_variant_builder_add (&stats, "{sd}", "timer-late-p99-ms", series_percentile (&probe->timer_late, 99));
  g_variant_builder_add (&stats, "{sd}", "frame-max-ms", probe->frames.max);
  g_variant_builder_add (&stats, "{sd}", "frame-p99-ms", series_percentile (&probe->frames, 99));
  g_variant_builder_add (&stats, "{sd}", "frames", (double) probe->frames.n);
  /* Monotonic microseconds fit a double exactly (under 2^53). */
  g_variant_builder_add (&stats, "{sd}", "first-frame-monotonic-us", (double) probe->first_frame_us);
  g_variant_builder_add (&stats, "{sd}", "first-frame-ms",
                         probe->first_frame_us ? (probe->first_frame_us - probe->created_us) / 1000.0 : 0);
  for (guint i = 0; i < TD_LATENCY_PROBE_N_WORST && probe->worst[i].ms > 0; i++)
    {
      g_autofree char *ms = g_strdup_printf ("worst-%u-ms", i + 1);
      g_autofree char *at = g_strdup_printf ("worst-%u-at-ms", i + 1);

      g_variant_builder_add (&stats, "{sd}", ms, probe->worst[i].ms);
      g_variant_builder_add (&stats, "{sd}", at, probe->worst[i].at_ms);
    }

  g_variant_builder_init (&histogram, G_VARIANT_TYPE ("at"));
  for (guint i = 0; i < TD_LATENCY_PROBE_N_BUCKETS; i++)
    g_variant_builder_add (&histogram, "t", probe->stalls.histogram[i]);

  return g_variant_new ("(a{sd}at)", &stats, &histogram);
}

/* A human-readable report, for stderr at exit. */
char *
td_latency_probe_format (TdLatencyProbe *probe)
{
  GString *out = g_string_new (NULL);

  g_return_val_if_fail (probe != NULL, NULL);

  g_string_append_printf (out, "main loop: %" G_GUINT64_FORMAT " iterations, %" G_GUINT64_FORMAT " wakeups\n",
                          probe->n_iterations, probe->n_wakeups);
  g_string_append_printf (out, "stall: max %.2f ms, p99 %.2f ms\n",
                          probe->stalls.max, series_percentile (&probe->stalls, 99));
  g_string_append_printf (out, "timer lateness: max %.2f ms, p99 %.2f ms\n",
                          probe->timer_late.max, series_percentile (&probe->timer_late, 99));
  g_string_append_printf (out, "frame interval: max %.2f ms, p99 %.2f ms (%u frames)\n",
                          probe->frames.max, series_percentile (&probe->frames, 99), probe->frames.n);
  if (probe->first_frame_us != 0)
    g_string_append_printf (out, "first frame: %.1f ms after the probe started\n",
                            (probe->first_frame_us - probe->created_us) / 1000.0);
  g_string_append (out, "longest stalls (ms, at ms):");
  for (guint i = 0; i < TD_LATENCY_PROBE_N_WORST && probe->worst[i].ms > 0; i++)
    g_string_append_printf (out, " %.1f@%.0f", probe->worst[i].ms, probe->worst[i].at_ms);
  g_string_append_c (out, '\n');
  g_string_append (out, "stall histogram (ms):");
  for (guint i = 0; i < TD_LATENCY_PROBE_N_BUCKETS; i++)
    {
      if (isinf (bucket_bounds[i]))
        g_string_append_printf (out, " >%g:%" G_GUINT64_FORMAT, bucket_bounds[i - 1], probe->stalls.histogram[i]);
      else
        g_string_append_printf (out, " <=%g:%" G_GUINT64_FORMAT, bucket_bounds[i], probe->stalls.histogram[i]);
    }
  g_string_append_c (out, '\n');
  return g_string_free (out, FALSE);
}

void
td_latency_probe_free (TdLatencyProbe *probe)
{
  if (probe == NULL)
    return;

  if (probe->window != NULL)
    {
      g_signal_handlers_disconnect_by_data (probe->window, probe);
      g_object_remove_weak_pointer (G_OBJECT (probe->window), (gpointer *) &probe->window);
      if (probe->tick_id != 0)
        gtk_widget_remove_tick_callback (probe->window, probe->tick_id);
    }
  disconnect_frame_clock (probe);
  g_clear_handle_id (&probe->timer_id, g_source_remove);
  g_main_context_set_poll_func (probe->context, probe->previous_poll);
  if (active_probe == probe)
    active_probe = NULL;
  g_main_context_unref (probe->context);
  series_clear (&probe->stalls);
  series_clear (&probe->timer_late);
  series_clear (&probe->frames);
  g_free (probe);
}
