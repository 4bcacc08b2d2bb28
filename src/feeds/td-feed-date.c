/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-feed-date"

#include "config.h"

#include <string.h>

#include "feeds/td-feed.h"
#include "feeds/td-feed-date.h"

/* Longer strings are not dates; refusing them early bounds the work. */
#define TD_FEED_DATE_MAX_LENGTH 128

/* First and last second we accept: 0001-01-01T00:00:00Z and
 * 9999-12-31T23:59:59Z, the range "YYYY-MM-DDTHH:MM:SSZ" can show. */
#define TD_FEED_DATE_MIN G_GINT64_CONSTANT (-62135596800)
#define TD_FEED_DATE_MAX G_GINT64_CONSTANT (253402300799)

/* ------------------------------------------------------------------ */
/* Civil calendar arithmetic (proleptic Gregorian, no allocation)      */
/* ------------------------------------------------------------------ */

static gint64
days_from_civil (gint64 y,
                 int    m,
                 int    d)
{
  gint64 era;
  gint64 yoe, doy, doe;

  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = y - era * 400;
  doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static void
civil_from_days (gint64  z,
                 int    *year,
                 int    *month,
                 int    *day)
{
  gint64 era, doe, yoe, y, doy, mp, d, m;

  z += 719468;
  era = (z >= 0 ? z : z - 146096) / 146097;
  doe = z - era * 146097;
  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = yoe + era * 400;
  doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;

  *year = (int) (y + (m <= 2));
  *month = (int) m;
  *day = (int) d;
}

static int
days_in_month (int year,
               int month)
{
  static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
  gboolean leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

  if (month == 2 && leap)
    return 29;
  return days[month - 1];
}

gboolean
td_feed_date_from_civil (int     year,
                         int     month,
                         int     day,
                         int     hour,
                         int     minute,
                         int     second,
                         int     offset,
                         gint64 *out)
{
  gint64 t;

  if (year < 1 || year > 9999 || month < 1 || month > 12)
    return FALSE;
  if (day < 1 || day > days_in_month (year, month))
    return FALSE;
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 60)
    return FALSE;
  /* Zones run from -12:00 to +14:00; allow a margin, refuse nonsense. */
  if (offset < -18 * 3600 || offset > 18 * 3600)
    return FALSE;

  /* A leap second is shown as the second before it. */
  if (second == 60)
    second = 59;

  t = days_from_civil (year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset;
  if (t < TD_FEED_DATE_MIN || t > TD_FEED_DATE_MAX)
    return FALSE;

  *out = t;
  return TRUE;
}

gboolean
td_feed_date_to_civil (gint64  date,
                       int    *year,
                       int    *month,
                       int    *day,
                       int    *hour,
                       int    *minute,
                       int    *second)
{
  gint64 days, rem;

  if (!TD_FEED_DATE_IS_VALID (date) || date < TD_FEED_DATE_MIN || date > TD_FEED_DATE_MAX)
    return FALSE;

  days = date / 86400;
  rem = date % 86400;
  if (rem < 0)
    {
      rem += 86400;
      days -= 1;
    }

  civil_from_days (days, year, month, day);
  *hour = (int) (rem / 3600);
  *minute = (int) (rem % 3600 / 60);
  *second = (int) (rem % 60);
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Small scanners                                                      */
/* ------------------------------------------------------------------ */

/* Reads exactly @n digits at *@p. */
static gboolean
read_digits (const char **p,
             int          n,
             int         *out)
{
  int v = 0;

  for (int i = 0; i < n; i++)
    {
      if (!g_ascii_isdigit ((*p)[i]))
        return FALSE;
      v = v * 10 + ((*p)[i] - '0');
    }

  *p += n;
  *out = v;
  return TRUE;
}

static int
count_digits (const char *p)
{
  int n = 0;

  while (g_ascii_isdigit (p[n]))
    n++;
  return n;
}

/* Reads a numeric zone offset after its sign: "hh", "hhmm" or "hh:mm". */
static gboolean
read_offset (const char **p,
             int         *out)
{
  const char *s = *p;
  int sign, hh = 0, mm = 0;
  int n;

  if (*s != '+' && *s != '-')
    return FALSE;
  sign = *s == '-' ? -1 : 1;
  s++;

  n = count_digits (s);
  if (n == 4)
    {
      read_digits (&s, 2, &hh);
      read_digits (&s, 2, &mm);
    }
  else if (n == 1 || n == 2)
    {
      read_digits (&s, n, &hh);
      if (*s == ':' && count_digits (s + 1) == 2)
        {
          s++;
          read_digits (&s, 2, &mm);
        }
    }
  else
    return FALSE;

  if (hh > 18 || mm > 59)
    return FALSE;

  *out = sign * (hh * 3600 + mm * 60);
  *p = s;
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* RFC 3339 / W3DTF                                                    */
/* ------------------------------------------------------------------ */

gboolean
td_feed_date_parse_iso8601 (const char *text,
                            gint64     *out)
{
  const char *p;
  int year, month = 1, day = 1, hour = 0, minute = 0, second = 0, offset = 0;
  gboolean basic;

  g_return_val_if_fail (out != NULL, FALSE);

  if (text == NULL || strnlen (text, TD_FEED_DATE_MAX_LENGTH + 1) > TD_FEED_DATE_MAX_LENGTH)
    return FALSE;

  p = text;
  while (g_ascii_isspace (*p))
    p++;

  if (!read_digits (&p, 4, &year))
    return FALSE;

  /* Basic format: 20040105T151045Z */
  basic = g_ascii_isdigit (*p);

  if (basic)
    {
      if (!read_digits (&p, 2, &month) || !read_digits (&p, 2, &day))
        return FALSE;
    }
  else if (*p == '-')
    {
      p++;
      if (!read_digits (&p, 2, &month))
        return FALSE;
      if (*p == '-')
        {
          p++;
          if (!read_digits (&p, 2, &day))
            return FALSE;
        }
    }

  if ((*p == 'T' || *p == 't' || *p == ' ') && g_ascii_isdigit (p[1]))
    {
      p++;
      if (!read_digits (&p, 2, &hour))
        return FALSE;
      if (*p == ':')
        p++;
      else if (!basic)
        return FALSE;
      if (!read_digits (&p, 2, &minute))
        return FALSE;
      if (*p == ':' || (basic && g_ascii_isdigit (*p)))
        {
          if (*p == ':')
            p++;
          if (!read_digits (&p, 2, &second))
            return FALSE;
          if (*p == '.' || *p == ',')
            {
              p++;
              if (!g_ascii_isdigit (*p))
                return FALSE;
              while (g_ascii_isdigit (*p))
                p++;
            }
        }

      while (*p == ' ')
        p++;

      if (*p == 'Z' || *p == 'z')
        p++;
      else if (*p == '+' || *p == '-')
        {
          if (!read_offset (&p, &offset))
            return FALSE;
        }
      else if (g_ascii_strncasecmp (p, "UTC", 3) == 0 || g_ascii_strncasecmp (p, "GMT", 3) == 0)
        p += 3;
      /* No zone: UTC (FEEDS.md §5). */
    }

  while (g_ascii_isspace (*p))
    p++;
  if (*p != '\0')
    return FALSE;

  return td_feed_date_from_civil (year, month, day, hour, minute, second, offset, out);
}

/* ------------------------------------------------------------------ */
/* RFC 822 and the variants real feeds use                             */
/* ------------------------------------------------------------------ */

typedef struct
{
  const char *name;
  int         offset_minutes;
} ZoneName;

/* North American names from RFC 822, the one-letter US forms feedparser
 * accepts, and common European/Asian names. Each name appears once (IST
 * is ambiguous and deliberately absent). */
static const ZoneName zone_names[] = {
  { "ut", 0 }, { "utc", 0 }, { "gmt", 0 }, { "z", 0 }, { "wet", 0 },
  { "est", -5 * 60 }, { "edt", -4 * 60 }, { "cst", -6 * 60 }, { "cdt", -5 * 60 },
  { "mst", -7 * 60 }, { "mdt", -6 * 60 }, { "pst", -8 * 60 }, { "pdt", -7 * 60 },
  { "at", -4 * 60 }, { "et", -5 * 60 }, { "ct", -6 * 60 }, { "mt", -7 * 60 }, { "pt", -8 * 60 },
  { "ast", -4 * 60 }, { "adt", -3 * 60 }, { "akst", -9 * 60 }, { "akdt", -8 * 60 },
  { "hst", -10 * 60 }, { "nst", -3 * 60 - 30 }, { "ndt", -2 * 60 - 30 },
  { "bst", 1 * 60 }, { "west", 1 * 60 }, { "met", 1 * 60 }, { "mest", 2 * 60 },
  { "cet", 1 * 60 }, { "cest", 2 * 60 }, { "eet", 2 * 60 }, { "eest", 3 * 60 },
  { "msk", 3 * 60 }, { "sast", 2 * 60 }, { "jst", 9 * 60 }, { "kst", 9 * 60 },
  { "hkt", 8 * 60 }, { "sgt", 8 * 60 }, { "awst", 8 * 60 }, { "acst", 9 * 60 + 30 },
  { "aest", 10 * 60 }, { "aedt", 11 * 60 }, { "nzst", 12 * 60 }, { "nzdt", 13 * 60 },
};

static const char * const month_names[12][3] = {
  { "jan", "january", NULL }, { "feb", "february", NULL }, { "mar", "march", NULL },
  { "apr", "april", NULL }, { "may", NULL, NULL }, { "jun", "june", NULL },
  { "jul", "july", NULL }, { "aug", "august", NULL }, { "sep", "sept", "september" },
  { "oct", "october", NULL }, { "nov", "november", NULL }, { "dec", "december", NULL },
};

static const char * const weekday_names[] = {
  "mon", "monday", "tue", "tues", "tuesday", "wed", "weds", "wednesday",
  "thu", "thur", "thurs", "thursday", "fri", "friday", "sat", "saturday",
  "sun", "sunday",
};

static int
lookup_month (const char *word)
{
  for (int m = 0; m < 12; m++)
    for (int i = 0; i < 3 && month_names[m][i] != NULL; i++)
      if (strcmp (word, month_names[m][i]) == 0)
        return m + 1;
  return 0;
}

static gboolean
is_weekday (const char *word)
{
  for (guint i = 0; i < G_N_ELEMENTS (weekday_names); i++)
    if (strcmp (word, weekday_names[i]) == 0)
      return TRUE;
  return FALSE;
}

static gboolean
lookup_zone (const char *word,
             int        *offset)
{
  for (guint i = 0; i < G_N_ELEMENTS (zone_names); i++)
    if (strcmp (word, zone_names[i].name) == 0)
      {
        *offset = zone_names[i].offset_minutes * 60;
        return TRUE;
      }

  /* Military one-letter zones other than Z mean "unknown local time"
   * (-0000, RFC 2822 §4.3): read as UTC. J is not a zone. */
  if (word[0] != '\0' && word[1] == '\0' && word[0] != 'j')
    {
      *offset = 0;
      return TRUE;
    }

  return FALSE;
}

gboolean
td_feed_date_parse_rfc822 (const char *text,
                           gint64     *out)
{
  const char *p;
  int year = -1, month = 0, day = 0, hour = 0, minute = 0, second = 0, offset = 0;
  gboolean have_time = FALSE, have_zone = FALSE;

  g_return_val_if_fail (out != NULL, FALSE);

  if (text == NULL || strnlen (text, TD_FEED_DATE_MAX_LENGTH + 1) > TD_FEED_DATE_MAX_LENGTH)
    return FALSE;

  p = text;
  while (*p != '\0')
    {
      char c = *p;

      if (g_ascii_isspace (c) || c == ',' || c == '.' || c == '/')
        {
          p++;
        }
      else if (c == '(')
        {
          /* An RFC 822 comment, as in "+0200 (CEST)". */
          const char *end = strchr (p, ')');
          if (end == NULL)
            break;
          p = end + 1;
        }
      else if (g_ascii_isalpha (c))
        {
          char word[16];
          gsize n = 0;
          int m, zone;

          while (g_ascii_isalpha (p[n]))
            n++;
          if (n >= sizeof word)
            return FALSE;
          for (gsize i = 0; i < n; i++)
            word[i] = g_ascii_tolower (p[i]);
          word[n] = '\0';
          p += n;

          if (is_weekday (word) || strcmp (word, "etc") == 0)
            continue;

          if ((m = lookup_month (word)) != 0)
            {
              if (month != 0)
                return FALSE;
              month = m;
              continue;
            }

          if (strcmp (word, "am") == 0 || strcmp (word, "pm") == 0)
            {
              if (!have_time || hour < 1 || hour > 12)
                return FALSE;
              if (word[0] == 'p' && hour < 12)
                hour += 12;
              else if (word[0] == 'a' && hour == 12)
                hour = 0;
              continue;
            }

          if (have_zone)
            return FALSE;

          if (lookup_zone (word, &zone))
            {
              int extra = 0;

              /* "GMT+01:00", "GMT-01:01", "UTC+2" */
              if ((*p == '+' || *p == '-') && g_ascii_isdigit (p[1]) &&
                  read_offset (&p, &extra))
                zone += extra;

              offset = zone;
              have_zone = TRUE;
              continue;
            }

          /* An unknown zone name after the time is read as UTC rather than
           * losing the date; any other unknown word means this is not a
           * date. */
          if (have_time && n <= 5)
            {
              offset = 0;
              have_zone = TRUE;
              continue;
            }

          return FALSE;
        }
      else if (g_ascii_isdigit (c))
        {
          int n = count_digits (p);

          if (p[n] == ':')
            {
              if (have_time || n > 2)
                return FALSE;
              read_digits (&p, n, &hour);
              p++;
              if (count_digits (p) != 2)
                return FALSE;
              read_digits (&p, 2, &minute);
              if (*p == ':')
                {
                  p++;
                  if (count_digits (p) != 2)
                    return FALSE;
                  read_digits (&p, 2, &second);
                  if (*p == '.' || *p == ',')
                    {
                      p++;
                      while (g_ascii_isdigit (*p))
                        p++;
                    }
                }
              have_time = TRUE;
            }
          else if (n == 4 && p[n] == '/' && year < 0 && month == 0 && day == 0)
            {
              /* Perforce: 2006/09/15 */
              read_digits (&p, 4, &year);
              p++;
              n = count_digits (p);
              if (n < 1 || n > 2)
                return FALSE;
              read_digits (&p, n, &month);
              if (*p != '/')
                return FALSE;
              p++;
              n = count_digits (p);
              if (n < 1 || n > 2)
                return FALSE;
              read_digits (&p, n, &day);
              if (month < 1 || month > 12)
                return FALSE;
            }
          else if (n == 4)
            {
              if (year >= 0)
                return FALSE;
              read_digits (&p, 4, &year);
            }
          else if (n <= 2)
            {
              int v = 0;

              read_digits (&p, n, &v);
              if (day == 0)
                day = v == 0 ? -1 : v;
              else if (year < 0)
                /* RFC 2822 §4.3: 00-49 are 2000-2049, 50-99 are 1950-1999. */
                year = v < 50 ? 2000 + v : 1900 + v;
              else
                return FALSE;
            }
          else
            return FALSE;
        }
      else if ((c == '+' || c == '-') && g_ascii_isdigit (p[1]) && have_time && !have_zone)
        {
          if (!read_offset (&p, &offset))
            return FALSE;
          have_zone = TRUE;
        }
      else if (c == '-')
        {
          /* "05-Apr-2004" */
          p++;
        }
      else
        return FALSE;
    }

  if (year < 0 || month == 0 || day == 0)
    return FALSE;

  return td_feed_date_from_civil (year, month, day, hour, minute, second, offset, out);
}

gboolean
td_feed_date_parse (const char *text,
                    gint64     *out)
{
  const char *p;

  g_return_val_if_fail (out != NULL, FALSE);

  if (text == NULL)
    return FALSE;

  p = text;
  while (g_ascii_isspace (*p))
    p++;

  /* W3DTF starts with a four-digit year followed by '-' or a digit (or
   * is just a year); the Perforce form "2006/09/15" goes to RFC 822. */
  if (count_digits (p) >= 4 && p[4] != '/')
    {
      if (td_feed_date_parse_iso8601 (p, out))
        return TRUE;
    }

  return td_feed_date_parse_rfc822 (p, out);
}
