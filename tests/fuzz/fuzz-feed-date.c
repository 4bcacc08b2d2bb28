/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Dates in every form feeds use (RFC 822 family, RFC 3339, W3DTF). */
#include <glib.h>
#include <stdint.h>

#include "feeds/td-feed-date.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Dates longer than this are not dates; the parser must refuse them
 * anyway, but the fuzzer should spend its time on plausible lengths. */
#define FUZZ_DATE_MAX 256

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autofree char *text = NULL;
  gint64 when = 0;

  if (size > FUZZ_DATE_MAX)
    return 0;
  text = g_strndup ((const char *) data, size);
  if (td_feed_date_parse (text, &when))
    {
      int year, month, day, hour, minute, second;

      /* Anything accepted converts back to a valid civil date. */
      g_assert_true (td_feed_date_to_civil (when, &year, &month, &day, &hour, &minute, &second));
      g_assert_cmpint (year, >=, 1);
      g_assert_cmpint (year, <=, 9999);
    }
  return 0;
}
