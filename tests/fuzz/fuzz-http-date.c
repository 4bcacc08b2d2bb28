/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Retry-After from an HTTP response: delta-seconds or an HTTP-date. */
#include <glib.h>
#include <stdint.h>

#include "feeds/td-feed-fetcher.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* A header value longer than this is not a date; the fuzzer should spend
 * its time on plausible lengths. */
#define FUZZ_DATE_MAX 256

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autofree char *text = NULL;
  gint64 now = 1700000000;
  gint64 seconds;

  if (size > FUZZ_DATE_MAX)
    return 0;
  text = g_strndup ((const char *) data, size);
  seconds = td_feed_parse_retry_after (text, now);
  g_assert_cmpint (seconds, >=, -1);
  g_assert_cmpint (seconds, <=, TD_FEED_FETCHER_MAX_RETRY_AFTER_S);
  /* The far ends of the clock must not overflow either. */
  seconds = td_feed_parse_retry_after (text, G_MININT64 / 2);
  g_assert_cmpint (seconds, >=, -1);
  seconds = td_feed_parse_retry_after (text, G_MAXINT64 / 2);
  g_assert_cmpint (seconds, >=, -1);
  return 0;
}
