/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Benchmarks of the feeds layer.
 *
 *   bench-feeds --list          names, one per line
 *   bench-feeds [NAME...]       run them (all if none), one line each:
 *   NAME: tidings X UNIT, peer Y UNIT, ratio R      (R = X / Y)
 *
 * feed-parse: td_feed_parse() throughput over a generated corpus of RSS 2.0
 * and Atom 1.0 documents of about 24 KB (50 entries) each, against a bare
 * libxml2 parse (xmlReadMemory + xmlFreeDoc) of the same bytes, which is
 * the practical limit for any libxml2-based reader. Target: ratio >= 0.5.
 *
 * Details go to stderr.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <libxml/parser.h>

#include "feeds/td-feed-parser.h"

/* Documents in the corpus: enough that caches see a working set like a
 * refresh of many feeds, few enough to generate in a blink. */
#define CORPUS_DOCUMENTS 200
/* Entries per document: the "50 items of about 24 KB". */
#define ENTRIES_PER_DOCUMENT 50
/* Passes over the corpus per round; rounds alternate between the two
 * parsers so both see the same background load, and the best round of
 * each is reported. */
#define PASSES_PER_ROUND 3
#define ROUNDS 7

/* ------------------------------------------------------------------ */
/* Corpus                                                              */
/* ------------------------------------------------------------------ */

static const char *words[] = {
  "feed", "reader", "gnome", "desktop", "release", "kernel", "parser", "network",
  "update", "thread", "window", "library", "benchmark", "server", "message", "storage",
};

static void
append_sentence (GString *s,
                 guint    seed,
                 guint    n_words)
{
  for (guint i = 0; i < n_words; i++)
    {
      g_string_append (s, words[(seed * 7 + i * 13) % G_N_ELEMENTS (words)]);
      g_string_append_c (s, i + 1 < n_words ? ' ' : '.');
    }
}

static GBytes *
make_rss (guint doc)
{
  GString *s = g_string_new (NULL);

  g_string_append_printf (s,
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<rss version=\"2.0\" xmlns:content=\"http://purl.org/rss/1.0/modules/content/\" "
    "xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:atom=\"http://www.w3.org/2005/Atom\">\n"
    "<channel>\n<title>Site %u</title>\n<link>https://site%u.example/</link>\n"
    "<description>News from site %u</description>\n<language>en</language>\n"
    "<atom:link href=\"https://site%u.example/feed.xml\" rel=\"self\" type=\"application/rss+xml\"/>\n"
    "<lastBuildDate>Mon, 01 Jan 2024 08:00:00 GMT</lastBuildDate>\n",
    doc, doc, doc, doc);

  for (guint i = 0; i < ENTRIES_PER_DOCUMENT; i++)
    {
      g_string_append (s, "<item>\n<title>");
      append_sentence (s, doc + i, 6);
      g_string_append_printf (s, "</title>\n<link>https://site%u.example/posts/%u</link>\n"
                                 "<guid isPermaLink=\"false\">site%u-post-%u</guid>\n"
                                 "<pubDate>%s, %02u Jan 2024 %02u:%02u:00 +0100</pubDate>\n"
                                 "<dc:creator>Author %u</dc:creator>\n<category>cat%u</category>\n"
                                 "<description>&lt;p&gt;",
                              doc, i, doc, i, i % 2 ? "Tue" : "Wed", 1 + i % 28, i % 24, i % 60,
                              i % 5, i % 7);
      append_sentence (s, doc * 3 + i, 10);
      g_string_append (s, "&lt;/p&gt;</description>\n<content:encoded><![CDATA[<p>");
      append_sentence (s, doc * 5 + i, 14);
      g_string_append_printf (s, " <a href=\"/posts/%u/more\">more</a></p>]]></content:encoded>\n</item>\n", i);
    }

  g_string_append (s, "</channel>\n</rss>\n");
  return g_string_free_to_bytes (s);
}

static GBytes *
make_atom (guint doc)
{
  GString *s = g_string_new (NULL);

  g_string_append_printf (s,
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
    "<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"en\">\n"
    "<title>Blog %u</title>\n<subtitle>Notes from blog %u</subtitle>\n"
    "<link href=\"https://blog%u.example/\"/>\n"
    "<link rel=\"self\" type=\"application/atom+xml\" href=\"https://blog%u.example/atom.xml\"/>\n"
    "<id>urn:blog:%u</id>\n<updated>2024-01-01T08:00:00Z</updated>\n"
    "<author><name>Blogger %u</name></author>\n",
    doc, doc, doc, doc, doc, doc);

  for (guint i = 0; i < ENTRIES_PER_DOCUMENT; i++)
    {
      g_string_append (s, "<entry>\n<title>");
      append_sentence (s, doc + i, 6);
      g_string_append_printf (s, "</title>\n<link rel=\"alternate\" type=\"text/html\" href=\"https://blog%u.example/%u\"/>\n"
                                 "<id>urn:blog:%u:%u</id>\n<updated>2024-01-%02uT%02u:%02u:00Z</updated>\n"
                                 "<published>2024-01-%02uT08:00:00+01:00</published>\n"
                                 "<category term=\"cat%u\"/>\n<summary>",
                              doc, i, doc, i, 1 + i % 28, i % 24, i % 60, 1 + i % 28, i % 7);
      append_sentence (s, doc * 3 + i, 9);
      g_string_append (s, "</summary>\n<content type=\"html\">&lt;p&gt;");
      append_sentence (s, doc * 5 + i, 14);
      g_string_append_printf (s, " &lt;a href=\"/%u/more\"&gt;more&lt;/a&gt;&lt;/p&gt;</content>\n</entry>\n", i);
    }

  g_string_append (s, "</feed>\n");
  return g_string_free_to_bytes (s);
}

static GPtrArray *
make_corpus (gsize *total)
{
  GPtrArray *corpus = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);

  *total = 0;
  for (guint i = 0; i < CORPUS_DOCUMENTS; i++)
    {
      GBytes *doc = i % 2 ? make_atom (i) : make_rss (i);

      *total += g_bytes_get_size (doc);
      g_ptr_array_add (corpus, doc);
    }
  return corpus;
}

/* ------------------------------------------------------------------ */
/* feed-parse                                                          */
/* ------------------------------------------------------------------ */

static double
run_tidings (GPtrArray *corpus)
{
  gint64 start = g_get_monotonic_time ();

  for (guint pass = 0; pass < PASSES_PER_ROUND; pass++)
    for (guint i = 0; i < corpus->len; i++)
      {
        GBytes *doc = g_ptr_array_index (corpus, i);
        gsize len;
        const char *data = g_bytes_get_data (doc, &len);
        TdFeed *feed = td_feed_parse (data, len, "https://example.com/feed", NULL, NULL);

        if (feed == NULL || feed->entries->len != ENTRIES_PER_DOCUMENT)
          g_error ("document %u did not parse", i);
        td_feed_free (feed);
      }

  return (g_get_monotonic_time () - start) / 1e6;
}

static double
run_libxml2 (GPtrArray *corpus)
{
  gint64 start = g_get_monotonic_time ();

  for (guint pass = 0; pass < PASSES_PER_ROUND; pass++)
    for (guint i = 0; i < corpus->len; i++)
      {
        GBytes *doc = g_ptr_array_index (corpus, i);
        gsize len;
        const char *data = g_bytes_get_data (doc, &len);
        xmlDocPtr xml = xmlReadMemory (data, (int) len, "https://example.com/feed", NULL, 0);

        if (xml == NULL)
          g_error ("libxml2 could not parse document %u", i);
        xmlFreeDoc (xml);
      }

  return (g_get_monotonic_time () - start) / 1e6;
}

static gboolean
bench_feed_parse (const char *name)
{
  gsize total;
  g_autoptr(GPtrArray) corpus = make_corpus (&total);
  double best_tidings = G_MAXDOUBLE, best_peer = G_MAXDOUBLE;
  double mb = (double) total * PASSES_PER_ROUND / (1024.0 * 1024.0);
  double tidings_mbs, peer_mbs;

  xmlInitParser ();

  /* Warm both paths up (page faults, allocator, libxml2 dictionaries). */
  run_tidings (corpus);
  run_libxml2 (corpus);

  for (guint round = 0; round < ROUNDS; round++)
    {
      best_tidings = MIN (best_tidings, run_tidings (corpus));
      best_peer = MIN (best_peer, run_libxml2 (corpus));
    }

  tidings_mbs = mb / best_tidings;
  peer_mbs = mb / best_peer;

  fprintf (stderr, "%s: %u documents, %.1f KB on average, %u entries each; best of %u rounds of %u passes\n",
           name, CORPUS_DOCUMENTS, total / 1024.0 / CORPUS_DOCUMENTS, ENTRIES_PER_DOCUMENT,
           ROUNDS, PASSES_PER_ROUND);
  printf ("%s: tidings %.1f MB/s, peer %.1f MB/s, ratio %.2f\n",
          name, tidings_mbs, peer_mbs, tidings_mbs / peer_mbs);
  fflush (stdout);
  return TRUE;
}

/* ------------------------------------------------------------------ */

typedef struct
{
  const char *name;
  gboolean  (*run) (const char *name);
} Benchmark;

static const Benchmark benchmarks[] = {
  { "feed-parse", bench_feed_parse },
};

int
main (int   argc,
      char *argv[])
{
  gboolean ok = TRUE;

  if (argc > 1 && g_str_equal (argv[1], "--list"))
    {
      for (guint i = 0; i < G_N_ELEMENTS (benchmarks); i++)
        printf ("%s\n", benchmarks[i].name);
      return 0;
    }

  if (argc == 1)
    {
      for (guint i = 0; i < G_N_ELEMENTS (benchmarks); i++)
        ok &= benchmarks[i].run (benchmarks[i].name);
      return ok ? 0 : 1;
    }

  for (int arg = 1; arg < argc; arg++)
    {
      gboolean found = FALSE;

      for (guint i = 0; i < G_N_ELEMENTS (benchmarks); i++)
        if (g_str_equal (argv[arg], benchmarks[i].name))
          {
            ok &= benchmarks[i].run (benchmarks[i].name);
            found = TRUE;
          }
      if (!found)
        {
          fprintf (stderr, "bench-feeds: unknown benchmark %s (try --list)\n", argv[arg]);
          ok = FALSE;
        }
    }

  return ok ? 0 : 1;
}
