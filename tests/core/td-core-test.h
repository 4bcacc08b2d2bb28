/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Generous for a loaded CI machine or valgrind, yet a hang still fails. */
#define TD_TEST_DEADLINE_MS 10000

typedef gboolean (*TdTestCondition) (gpointer data);

/* Iterates @context until @cond returns TRUE; fails the test if that does
 * not happen within @timeout_ms. */
static inline void
td_test_iterate_until (GMainContext    *context,
                       TdTestCondition  cond,
                       gpointer         data,
                       guint            timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (!cond (data))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("condition not reached within %u ms", timeout_ms);
      /* Non-blocking with a short sleep so the deadline is always checked,
       * even if nothing ever wakes the context. */
      if (!g_main_context_iteration (context, FALSE))
        g_usleep (200);
    }
}

static inline gboolean
td_test_flag_is_set (gpointer data)
{
  return g_atomic_int_get ((gint *) data) != 0;
}

/* Iterates @context until the int at @flag is non-zero. */
static inline void
td_test_iterate_until_flag (GMainContext *context,
                            gint         *flag,
                            guint         timeout_ms)
{
  td_test_iterate_until (context, td_test_flag_is_set, flag, timeout_ms);
}

/* Iterates @context for @ms milliseconds (to show that nothing happens). */
static inline void
td_test_iterate_for (GMainContext *context,
                     guint         ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;

  while (g_get_monotonic_time () < end)
    if (!g_main_context_iteration (context, FALSE))
      g_usleep (200);
}

G_END_DECLS
