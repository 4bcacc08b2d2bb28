/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-glob"

#include "config.h"

#include <string.h>

#include "pubsub/td-glob.h"

typedef struct
{
  const char *pattern;
  const char *string;
  gboolean    nocase;
  gboolean    match;
} GlobCase;

static const GlobCase glob_cases[] = {
  { "*", "", FALSE, FALSE },                        /* as in Redis: the loop needs a character */
  { "*", "anything", FALSE, TRUE },
  { "", "", FALSE, TRUE },
  { "", "a", FALSE, FALSE },
  { "a", "", FALSE, FALSE },
  { "news.*", "news.tech", FALSE, TRUE },
  { "news.*", "news.", FALSE, TRUE },
  { "news.*", "news", FALSE, FALSE },
  { "h?llo", "hello", FALSE, TRUE },
  { "h?llo", "hllo", FALSE, FALSE },
  { "h*llo", "hllo", FALSE, TRUE },
  { "h*llo", "heeeello", FALSE, TRUE },
  { "h[ae]llo", "hallo", FALSE, TRUE },
  { "h[ae]llo", "hillo", FALSE, FALSE },
  { "h[^e]llo", "hallo", FALSE, TRUE },
  { "h[^e]llo", "hello", FALSE, FALSE },
  { "h[a-b]llo", "hbllo", FALSE, TRUE },
  { "h[a-b]llo", "hcllo", FALSE, FALSE },
  { "h[b-a]llo", "hallo", FALSE, TRUE },          /* reversed range */
  { "h\\*llo", "h*llo", FALSE, TRUE },
  { "h\\*llo", "hello", FALSE, FALSE },
  { "h[\\]]llo", "h]llo", FALSE, TRUE },
  { "a\\", "a\\", FALSE, TRUE },                   /* trailing backslash is literal */
  { "[abc", "a", FALSE, TRUE },                     /* unterminated class */
  { "[abc", "d", FALSE, FALSE },
  { "[", "[", FALSE, FALSE },
  { "a[", "a", FALSE, FALSE },
  { "[a-]", "-", FALSE, FALSE },
  { "[a-]", "a", FALSE, TRUE },
  { "[]", "]", FALSE, FALSE },
  { "**a", "a", FALSE, TRUE },
  { "a*", "a", FALSE, TRUE },
  { "a**", "a", FALSE, TRUE },
  { "*a", "ba", FALSE, TRUE },
  { "*a", "ab", FALSE, FALSE },
  { "?", "", FALSE, FALSE },
  { "HELLO", "hello", TRUE, TRUE },
  { "HELLO", "hello", FALSE, FALSE },
  { "[A-C]x", "bx", TRUE, TRUE },
  { "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", FALSE, FALSE },
  { "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", FALSE, TRUE },
};

static void
test_glob_case (gconstpointer user_data)
{
  const GlobCase *row = user_data;

  g_assert_cmpint (td_glob_match (row->pattern, strlen (row->pattern),
                                  row->string, strlen (row->string), row->nocase), ==, row->match);
}

static void
test_glob_binary (void)
{
  /* NUL bytes are ordinary characters on both sides. */
  g_assert_true (td_glob_match ("a?c", 3, "a\0c", 3, FALSE));
  g_assert_true (td_glob_match ("a\0*", 3, "a\0xyz", 5, FALSE));
  g_assert_false (td_glob_match ("a\0*", 3, "a", 1, FALSE));
  /* High bytes compare as signed chars, as in Redis on x86. */
  g_assert_true (td_glob_match ("[\x80-\xff]", 5, "\x90", 1, FALSE));
}

static void
test_glob_pathological (void)
{
  g_autofree char *pattern = NULL;
  g_autofree char *subject = g_strnfill (20000, 'a');
  g_autoptr(GString) p = g_string_new (NULL);
  gint64 start;

  for (int i = 0; i < 2000; i++)
    g_string_append (p, "*a");
  g_string_append (p, "b");
  pattern = g_string_free (g_steal_pointer (&p), FALSE);

  start = g_get_monotonic_time ();
  g_assert_false (td_glob_match (pattern, strlen (pattern), subject, strlen (subject), FALSE));
  /* Deep nesting is cut off rather than recursing without bound. */
  g_assert_false (td_glob_match (pattern, strlen (pattern), subject, 1500, FALSE));
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
}

static void
test_glob_random (void)
{
  static const char alphabet[] = "ab*?[]^-\\c";
  g_autoptr(GRand) rand = g_rand_new_with_seed (5);

  for (int i = 0; i < 200000; i++)
    {
      char pattern[16], subject[16];
      int plen = g_rand_int_range (rand, 0, sizeof pattern);
      int slen = g_rand_int_range (rand, 0, sizeof subject);

      for (int j = 0; j < plen; j++)
        pattern[j] = alphabet[g_rand_int_range (rand, 0, sizeof alphabet - 1)];
      for (int j = 0; j < slen; j++)
        subject[j] = "abc-]"[g_rand_int_range (rand, 0, 5)];
      /* Never reads out of bounds (ASan checks) and never hangs. */
      (void) td_glob_match (pattern, (gsize) plen, subject, (gsize) slen, g_rand_boolean (rand));
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (glob_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/td/pubsub/glob/case-%02u", i);
      g_test_add_data_func (path, &glob_cases[i], test_glob_case);
    }
  g_test_add_func ("/td/pubsub/glob/binary", test_glob_binary);
  g_test_add_func ("/td/pubsub/glob/pathological", test_glob_pathological);
  g_test_add_func ("/td/pubsub/glob/random", test_glob_random);
  return g_test_run ();
}
