/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "feeds/td-feed.h"
#include "feeds/td-feed-date.h"

/*
 * The date parser: RFC 822 with the real-world variants (FEEDS.md §5),
 * RFC 3339 / W3DTF, and bad dates rejected (never "now").
 */

typedef struct
{
  const char *input;
  const char *expected;   /* "YYYY-MM-DDTHH:MM:SSZ", or NULL for rejected */
} DateCase;

static const DateCase date_cases[] = {
  /* RFC 822 / 2822 */
  { "Thu, 01 Jan 2004 19:48:21 GMT", "2004-01-01T19:48:21Z" },
  { "Thu, 01 Jan 2004 19:48:21 +0000", "2004-01-01T19:48:21Z" },
  { "Mon, 26 Jan 2004 16:31:00 EST", "2004-01-26T21:31:00Z" },
  { "Mon, 26 Jan 2004 16:31:00 EDT", "2004-01-26T20:31:00Z" },
  { "Mon, 26 Jan 2004 16:31:00 CST", "2004-01-26T22:31:00Z" },
  { "Mon, 26 Jan 2004 16:31:00 PDT", "2004-01-26T23:31:00Z" },
  { "Sat, 17 Jul 2004 12:00:00 +0530", "2004-07-17T06:30:00Z" },
  { "Sat, 17 Jul 2004 12:00:00 -0930", "2004-07-17T21:30:00Z" },
  { "Sun, 16 Dec 2012 11:15:00 UT", "2012-12-16T11:15:00Z" },
  { "Sun, 16 Dec 2012 11:15:00 UTC", "2012-12-16T11:15:00Z" },
  { "Sun, 16 Dec 2012 11:15:00 Z", "2012-12-16T11:15:00Z" },
  /* two-digit years (RFC 2822 §4.3) */
  { "Thu, 01 Jan 04 19:48:21 GMT", "2004-01-01T19:48:21Z" },
  { "Fri, 01 Jan 99 00:00:00 GMT", "1999-01-01T00:00:00Z" },
  /* missing weekday, missing seconds, missing zone */
  { "01 Jan 2004 19:48:21 GMT", "2004-01-01T19:48:21Z" },
  { "Thu, 01 Jan 2004 19:48 GMT", "2004-01-01T19:48:00Z" },
  { "Thu, 01 Jan 2004 19:48:21", "2004-01-01T19:48:21Z" },
  { "Thu, 01 Jan 2004", "2004-01-01T00:00:00Z" },
  /* spacing and punctuation */
  { "Thu,  5 Apr 2004 10:00:00 GMT", "2004-04-05T10:00:00Z" },
  { "Fri,24 Nov 2006 10:00:00 GMT", "2006-11-24T10:00:00Z" },
  { "Thu, 05 Apr, 2004 10:00:00 GMT", "2004-04-05T10:00:00Z" },
  { "  Thu, 01 Jan 2004 19:48:21 GMT  ", "2004-01-01T19:48:21Z" },
  { "Thu, 01-Jan-2004 19:48:21 GMT", "2004-01-01T19:48:21Z" },
  /* full names */
  { "26 January 2004", "2004-01-26T00:00:00Z" },
  { "Monday, 26 January 2004 16:31:00 GMT", "2004-01-26T16:31:00Z" },
  { "Tuesday, 07 September 2010 10:00:00 GMT", "2010-09-07T10:00:00Z" },
  { "7 Sept 2010 10:00 GMT", "2010-09-07T10:00:00Z" },
  /* Perforce, JavaScript, asctime */
  { "Fri, 2006/09/15 08:19:53 EDT", "2006-09-15T12:19:53Z" },
  { "Thu Aug 30 2012 17:26:16 +0200", "2012-08-30T15:26:16Z" },
  { "Thu Aug 30 2012 17:26:16 GMT+0200 (CEST)", "2012-08-30T15:26:16Z" },
  { "Sun Jan  4 16:29:06 2004", "2004-01-04T16:29:06Z" },
  { "Sun Jul 15 01:16:00 +0000 2012", "2012-07-15T01:16:00Z" },
  /* zone forms */
  { "Thu, 01 Jan 2004 19:48:21 Etc/GMT", "2004-01-01T19:48:21Z" },
  { "Thu, 01 Jan 2004 19:48:21 GMT-01:01", "2004-01-01T20:49:21Z" },
  { "Thu, 01 Jan 2004 19:48:21 -01:01", "2004-01-01T20:49:21Z" },
  { "Thu, 01 Jan 2004 19:48:21 MET", "2004-01-01T18:48:21Z" },
  { "Thu, 01 Jul 2004 19:48:21 MEST", "2004-07-01T17:48:21Z" },
  { "Thu, 01 Jan 2004 19:48:21 AT", "2004-01-01T23:48:21Z" },
  { "Thu, 01 Jan 2004 19:48:21 ET", "2004-01-02T00:48:21Z" },
  { "Thu, 01 Jan 2004 19:48:21 CT", "2004-01-02T01:48:21Z" },
  { "Thu, 01 Jan 2004 19:48:21 MT", "2004-01-02T02:48:21Z" },
  { "Thu, 01 Jan 2004 19:48:21 PT", "2004-01-02T03:48:21Z" },
  /* military zones other than Z mean -0000: read as UTC */
  { "Thu, 01 Jan 2004 19:48:21 A", "2004-01-01T19:48:21Z" },
  { "Thu, 01 Jan 2004 19:48:21 Y", "2004-01-01T19:48:21Z" },
  /* am/pm and leap second */
  { "Thu, 01 Jan 2004 7:48:21 PM GMT", "2004-01-01T19:48:21Z" },
  { "Wed, 31 Dec 2008 23:59:60 GMT", "2008-12-31T23:59:59Z" },
  /* leap day */
  { "Tue, 29 Feb 2000 12:00:00 GMT", "2000-02-29T12:00:00Z" },

  /* RFC 3339 / W3DTF */
  { "2003-12-13T18:30:02Z", "2003-12-13T18:30:02Z" },
  { "2003-12-13T18:30:02.25Z", "2003-12-13T18:30:02Z" },
  { "2003-12-13T18:30:02+01:00", "2003-12-13T17:30:02Z" },
  { "2003-12-13T18:30:02-05:30", "2003-12-14T00:00:02Z" },
  { "2003-12-13T18:30:02+0100", "2003-12-13T17:30:02Z" },
  { "2003-12-13t18:30:02z", "2003-12-13T18:30:02Z" },
  { "2003-12-13 18:30:02Z", "2003-12-13T18:30:02Z" },
  { "2003-12-13T18:30Z", "2003-12-13T18:30:00Z" },
  { "2003-12-13T18:30:02", "2003-12-13T18:30:02Z" },
  { "2003-12-13", "2003-12-13T00:00:00Z" },
  { "2003-12", "2003-12-01T00:00:00Z" },
  { "2003", "2003-01-01T00:00:00Z" },
  { "20031213T183002Z", "2003-12-13T18:30:02Z" },
  { "1969-12-31T23:59:59Z", "1969-12-31T23:59:59Z" },
  { "0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z" },
  { "9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z" },

  /* Bad dates: rejected, never "now" */
  { "", NULL },
  { "   ", NULL },
  { "yesterday", NULL },
  { "Thu, 99 Apr 2004 10:00:00 GMT", NULL },
  { "Thu, 31 Apr 2004 10:00:00 GMT", NULL },
  { "Thu, 29 Feb 2001 10:00:00 GMT", NULL },
  { "Thu, 01 Jan 2004 25:00:00 GMT", NULL },
  { "Thu, 01 Jan 2004 10:61:00 GMT", NULL },
  { "Thu, 01 Foo 2004 10:00:00 GMT", NULL },
  { "Thu, 01 Jan 2004 10:00:00 +9900", NULL },
  { "Thu, 00 Jan 2004 10:00:00 GMT", NULL },
  { "Thu, 01 Jan 10:00:00 GMT", NULL },
  { "2003-13-01T00:00:00Z", NULL },
  { "2003-12-32T00:00:00Z", NULL },
  { "2003-12-13T24:00:00Z", NULL },
  { "2003-12-13T18:30:02+25:00", NULL },
  { "2003-12-13T18:30:02 garbage", NULL },
  { "0000-01-01T00:00:00Z", NULL },
  { "9999-12-31T23:59:59-01:00", NULL },
  { "Thu, 01 Jan 2004 19:48:21 GMT then some words", NULL },
  { "1234567890123456789012345678901234567890123456789012345678901234567890"
    "1234567890123456789012345678901234567890123456789012345678901234567890", NULL },
};

static void
test_date_case (gconstpointer data)
{
  const DateCase *c = data;
  gint64 t = 0;
  gboolean ok = td_feed_date_parse (c->input, &t);

  if (c->expected == NULL)
    {
      if (ok)
        {
          char buf[32] = "";
          td_feed_date_format (t, buf);
          g_error ("\"%s\" should be rejected, got %s", c->input, buf);
        }
    }
  else
    {
      char buf[32];

      if (!ok)
        g_error ("\"%s\" should parse as %s", c->input, c->expected);
      g_assert_true (td_feed_date_format (t, buf));
      g_assert_cmpstr (buf, ==, c->expected);
    }
}

static void
test_round_trip (void)
{
  /* Every day of a few leap and non-leap years converts both ways. */
  for (int year = 1899; year <= 2101; year += 101)
    for (gint64 day = 0; day < 366; day++)
      {
        gint64 t, back;
        int y, m, d, h, mi, s;
        char buf[32];

        g_assert_true (td_feed_date_from_civil (year, 1, 1, 12, 34, 56, 0, &t));
        t += day * 86400;
        g_assert_true (td_feed_date_to_civil (t, &y, &m, &d, &h, &mi, &s));
        g_assert_true (td_feed_date_from_civil (y, m, d, h, mi, s, 0, &back));
        g_assert_cmpint (back, ==, t);
        g_assert_true (td_feed_date_format (t, buf));
        g_assert_true (td_feed_date_parse (buf, &back));
        g_assert_cmpint (back, ==, t);
      }
}

static void
test_sentinels (void)
{
  char buf[32];

  g_assert_false (td_feed_date_format (TD_FEED_DATE_NONE, buf));
  g_assert_false (td_feed_date_format (TD_FEED_DATE_INVALID, buf));
  g_assert_false (TD_FEED_DATE_IS_VALID (TD_FEED_DATE_NONE));
  g_assert_false (TD_FEED_DATE_IS_VALID (TD_FEED_DATE_INVALID));
  g_assert_true (TD_FEED_DATE_IS_VALID (0));
  g_assert_true (TD_FEED_DATE_IS_VALID (-1));
  g_assert_true (td_feed_date_format (0, buf));
  g_assert_cmpstr (buf, ==, "1970-01-01T00:00:00Z");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (date_cases); i++)
    {
      g_autofree char *escaped = g_strescape (date_cases[i].input, NULL);
      g_autofree char *path = NULL;

      g_strdelimit (escaped, "/", '|');
      if (strlen (escaped) > 60)
        escaped[60] = '\0';
      path = g_strdup_printf ("/td/feed-date/%03u %s", i, escaped);
      g_test_add_data_func (path, &date_cases[i], test_date_case);
    }

  g_test_add_func ("/td/feed-date/round-trip", test_round_trip);
  g_test_add_func ("/td/feed-date/sentinels", test_sentinels);

  return g_test_run ();
}
