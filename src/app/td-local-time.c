/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-local-time"

#include "config.h"

#include "app/td-local-time.h"

/* How long the local time zone is trusted before it is read again, so a
 * change of zone shows within a minute. */
#define TD_LOCAL_ZONE_MAX_AGE_US (60 * G_USEC_PER_SEC)

/* The local time zone for the main thread's list rows. GLib 2.74 reads
 * /etc/localtime again (a readlink and two stats) on every
 * g_time_zone_new_local() when TZ is unset, and every row of every list
 * shows a time. Main thread only; the zone is borrowed. */
GTimeZone *
td_local_zone (void)
{
  static GTimeZone *zone;
  static gint64 read_at;
  gint64 now = g_get_monotonic_time ();

  if (zone == NULL || now - read_at > TD_LOCAL_ZONE_MAX_AGE_US)
    {
      g_clear_pointer (&zone, g_time_zone_unref);
      zone = g_time_zone_new_local ();
      read_at = now;
    }
  return zone;
}

/* @usec since the epoch as local time, or NULL if out of range. */
GDateTime *
td_local_time_new (gint64 usec)
{
  g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc (usec / G_USEC_PER_SEC);

  return utc != NULL ? g_date_time_to_timezone (utc, td_local_zone ()) : NULL;
}

GDateTime *
td_local_time_now (void)
{
  return g_date_time_new_now (td_local_zone ());
}
