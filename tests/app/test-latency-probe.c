/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <gtk/gtk.h>

#include "app/td-latency-probe.h"

static gboolean
block_cb (gpointer user_data)
{
  g_usleep (GPOINTER_TO_UINT (user_data) * 1000);
  return G_SOURCE_REMOVE;
}

static gboolean
flag_cb (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

static void
run_for_ms (guint ms)
{
  gboolean done = FALSE;

  g_timeout_add (ms, flag_cb, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

static double
stat (GVariant   *stats,
      const char *name)
{
  g_autoptr(GVariant) dict = g_variant_get_child_value (stats, 0);
  double value = -1;

  g_assert_true (g_variant_lookup (dict, name, "d", &value));
  return value;
}

/* A callback that blocks the loop for 40 ms shows as a stall of at least
 * 40 ms, lands in the right bucket, and makes the probe's timer late. */
static void
test_stall_measured (void)
{
  g_autoptr(TdLatencyProbe) probe = td_latency_probe_new (TRUE);
  g_autoptr(GVariant) stats = NULL;
  g_autoptr(GVariant) histogram = NULL;
  const guint64 *buckets;
  const double *bounds = td_latency_probe_get_bucket_bounds ();
  gsize n;
  guint64 above_33 = 0;

  run_for_ms (30);
  g_idle_add (block_cb, GUINT_TO_POINTER (40));
  run_for_ms (60);

  stats = g_variant_ref_sink (td_latency_probe_get_stats (probe));
  g_assert_cmpfloat (stat (stats, "stall-max-ms"), >=, 40.0);
  g_assert_cmpfloat (stat (stats, "stall-max-ms"), <, 1000.0);
  g_assert_cmpfloat (stat (stats, "timer-late-max-ms"), >=, 20.0);
  g_assert_cmpfloat (stat (stats, "iterations"), >, 3);

  histogram = g_variant_get_child_value (stats, 1);
  buckets = g_variant_get_fixed_array (histogram, &n, sizeof (guint64));
  g_assert_cmpuint (n, ==, TD_LATENCY_PROBE_N_BUCKETS);
  for (gsize i = 0; i < n; i++)
    if (i > 0 && bounds[i - 1] >= 33)
      above_33 += buckets[i];
  g_assert_cmpuint (above_33, >=, 1);

  /* After a reset, the stall is forgotten. */
  td_latency_probe_reset (probe);
  g_clear_pointer (&stats, g_variant_unref);
  run_for_ms (30);
  stats = g_variant_ref_sink (td_latency_probe_get_stats (probe));
  g_assert_cmpfloat (stat (stats, "stall-max-ms"), <, 40.0);
}

/* In "wakeups" mode the probe arms no timer: an idle loop wakes up only
 * for the one timeout the test itself armed. */
static void
test_wakeups_idle (void)
{
  g_autoptr(TdLatencyProbe) probe = td_latency_probe_new (FALSE);
  g_autoptr(GVariant) stats = NULL;

  while (g_main_context_pending (NULL))
    g_main_context_iteration (NULL, FALSE);
  td_latency_probe_reset (probe);
  run_for_ms (300);

  stats = g_variant_ref_sink (td_latency_probe_get_stats (probe));
  g_assert_cmpfloat (stat (stats, "iterations"), <=, 3);
  g_assert_cmpfloat (stat (stats, "timer-late-max-ms"), ==, 0);
}

static void
test_env (void)
{
  g_setenv ("TIDINGS_DEBUG", "", TRUE);
  g_assert_null (td_latency_probe_new_from_env ());
  g_setenv ("TIDINGS_DEBUG", "other,things", TRUE);
  g_assert_null (td_latency_probe_new_from_env ());
  g_setenv ("TIDINGS_DEBUG", "other,latency", TRUE);
  {
    g_autoptr(TdLatencyProbe) probe = td_latency_probe_new_from_env ();
    g_assert_nonnull (probe);
  }
  g_unsetenv ("TIDINGS_DEBUG");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/td/latency-probe/stall", test_stall_measured);
  g_test_add_func ("/td/latency-probe/wakeups-idle", test_wakeups_idle);
  g_test_add_func ("/td/latency-probe/env", test_env);

  return g_test_run ();
}
