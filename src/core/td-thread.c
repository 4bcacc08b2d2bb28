/* SPDX-License-Identifier: GPL-3.0-or-later */
#define _GNU_SOURCE  /* gettid () */
#define G_LOG_DOMAIN "td-thread"

#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <unistd.h>

#include "core/td-thread.h"

/* 0 (the default) leaves background threads as they are: tidingsd's
 * recorder is on the path of every acknowledged message and runs at the
 * server's own priority. The app sets TD_THREAD_BACKGROUND_NICE. */
static int background_nice;

/* Sets the nice value that background threads started from now on take;
 * negative values are refused (raising priority needs privileges and is
 * never wanted here). */
void
td_thread_set_background_nice (int nice_value)
{
  g_return_if_fail (nice_value >= 0 && nice_value <= 19);

  g_atomic_int_set (&background_nice, nice_value);
}

int
td_thread_get_background_nice (void)
{
  return g_atomic_int_get (&background_nice);
}

/* Called first thing by a background thread: lowers its own priority to
 * the background nice value. On Linux the nice value belongs to the
 * thread; elsewhere this does nothing. Returns whether it was changed. */
gboolean
td_thread_enter_background (void)
{
  int nice_value = g_atomic_int_get (&background_nice);

  if (nice_value == 0)
    return FALSE;
#ifdef __linux__
  if (setpriority (PRIO_PROCESS, (id_t) gettid (), nice_value) != 0)
    {
      g_debug ("Could not lower the priority of a background thread: %s", g_strerror (errno));
      return FALSE;
    }
  return TRUE;
#else
  return FALSE;
#endif
}
