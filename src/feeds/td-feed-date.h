/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Dates as feeds write them: RFC 822/2822 with the real-world variants
 * (missing weekday or seconds, full month names, asctime, JavaScript,
 * Perforce, zone names) and RFC 3339 / W3DTF. A date that cannot be read,
 * or has a field out of range, is rejected: never replaced by "now".
 * Results are seconds since the Unix epoch, UTC, within years 1..9999.
 */

/* Returns TRUE and sets @out when @text is a date in any supported form. */
gboolean td_feed_date_parse          (const char *text,
                                      gint64     *out);
/* The RFC 822 family only (with the variants above). */
gboolean td_feed_date_parse_rfc822   (const char *text,
                                      gint64     *out);
/* RFC 3339 / W3DTF / ISO 8601 calendar dates only. */
gboolean td_feed_date_parse_iso8601  (const char *text,
                                      gint64     *out);

/* Returns FALSE when a field is out of range or the result is outside
 * years 1..9999. @offset is the zone's offset from UTC in seconds. */
gboolean td_feed_date_from_civil     (int         year,
                                      int         month,
                                      int         day,
                                      int         hour,
                                      int         minute,
                                      int         second,
                                      int         offset,
                                      gint64     *out);
gboolean td_feed_date_to_civil       (gint64      date,
                                      int        *year,
                                      int        *month,
                                      int        *day,
                                      int        *hour,
                                      int        *minute,
                                      int        *second);

G_END_DECLS
