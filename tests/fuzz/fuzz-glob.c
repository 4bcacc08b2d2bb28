/* SPDX-License-Identifier: GPL-3.0-or-later */
/* PSUBSCRIBE patterns against channel names: both come from clients. The
 * match must be correct on literals and must end fast whatever the
 * pattern (Redis' CVE-2022-36021 was `*a*a*a...` against a long string). */
#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pubsub/td-glob.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Patterns and channels of real size; a channel name is a bulk string,
 * but the broker matches every published channel against every pattern,
 * so what matters is the time for a few KiB. */
#define FUZZ_GLOB_MAX 8192

/* Redis' algorithm is O(pattern x string) in the worst case (every star
 * rescans the rest of the string once; skip_longer stops the exponential
 * blow-up). The bound allows that product at a slow sanitizer build's
 * speed and fails on anything worse. */
#define FUZZ_GLOB_BASE_USEC    (20 * 1000)
#define FUZZ_GLOB_NSEC_PER_CELL 200

/* CPU time, not wall time: on a busy machine the fuzzer may be scheduled
 * out in the middle of a match. */
static gint64
thread_cpu_usec (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return (gint64) ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

static gboolean
timed_match (const char *pattern,
             gsize       pattern_len,
             const char *string,
             gsize       string_len,
             gboolean    nocase)
{
  gint64 start = thread_cpu_usec ();
  gboolean match = td_glob_match (pattern, pattern_len, string, string_len, nocase);
  gint64 spent = thread_cpu_usec () - start;

  gint64 bound = FUZZ_GLOB_BASE_USEC +
                 (gint64) ((pattern_len + 1) * (string_len + 1) * FUZZ_GLOB_NSEC_PER_CELL / 1000);

  if (spent > bound)
    {
      /* abort(), not g_error(): libFuzzer saves the input on SIGABRT. */
      g_printerr ("glob took %" G_GINT64_FORMAT " us (bound %" G_GINT64_FORMAT " us) for a %"
                  G_GSIZE_FORMAT "-byte pattern and a %" G_GSIZE_FORMAT "-byte string\n",
                  spent, bound, pattern_len, string_len);
      abort ();
    }
  return match;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  const char *pattern, *string;
  gsize pattern_len, string_len;
  g_autoptr(GString) escaped = g_string_new (NULL);
  gboolean nocase;

  if (size < 2 || size > FUZZ_GLOB_MAX)
    return 0;
  /* Byte 0: flags; byte 1: where the pattern ends, as a share of the rest. */
  nocase = data[0] & 1;
  pattern = (const char *) data + 2;
  pattern_len = (size - 2) * data[1] / 255;
  string = pattern + pattern_len;
  string_len = size - 2 - pattern_len;

  timed_match (pattern, pattern_len, string, string_len, nocase);

  /* Oracles that hold for any string: `*` matches it (unless it is empty:
   * Redis' `*` needs at least one byte), and so does the string with every
   * byte escaped, in either case mode; one more byte in the string, or in
   * the pattern, breaks the literal match. */
  g_assert_true (timed_match ("*", 1, string, string_len, nocase) == (string_len > 0));
  for (gsize i = 0; i < string_len; i++)
    {
      g_string_append_c (escaped, '\\');
      g_string_append_c (escaped, string[i]);
    }
  g_assert_true (timed_match (escaped->str, escaped->len, string, string_len, nocase));
  if (string_len > 0)
    g_assert_false (timed_match (escaped->str, escaped->len, string, string_len - 1, nocase));
  g_string_append (escaped, "\\x");
  g_assert_false (timed_match (escaped->str, escaped->len, string, string_len, nocase));
  return 0;
}
