/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "feeds/td-opml.h"
#include "feeds-test-util.h"

/*
 * OPML import (folders, attribute variants, URL hygiene, hostile input)
 * and export, round-tripped.
 */

static TdOpmlOutline *
at (GPtrArray *outlines,
    guint      i)
{
  g_assert_nonnull (outlines);
  g_assert_cmpuint (i, <, outlines->len);
  return g_ptr_array_index (outlines, i);
}

static TdOpml *
parse_fixture (const char *name,
               const char *base_url)
{
  g_autoptr(GBytes) bytes = feeds_load_fixture (name);
  g_autoptr(GError) error = NULL;
  TdOpml *opml;
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);

  opml = td_opml_parse (data, len, base_url, &error);
  g_assert_no_error (error);
  g_assert_nonnull (opml);
  return opml;
}

static void
check_subscriptions (TdOpml *opml)
{
  TdOpmlOutline *tech, *nested;

  g_assert_cmpstr (opml->title, ==, "My & subscriptions");
  g_assert_cmpuint (opml->outlines->len, ==, 7);

  g_assert_cmpstr (at (opml->outlines, 0)->title, ==, "Top feed");
  g_assert_cmpstr (at (opml->outlines, 0)->xml_url, ==, "https://example.com/top.xml");
  g_assert_cmpstr (at (opml->outlines, 0)->html_url, ==, "https://example.com/");
  g_assert_null (at (opml->outlines, 0)->children);

  tech = at (opml->outlines, 1);
  g_assert_cmpstr (tech->title, ==, "Technology");
  g_assert_null (tech->xml_url);
  /* the empty folder is dropped */
  g_assert_cmpuint (tech->children->len, ==, 2);
  g_assert_cmpstr (at (tech->children, 0)->title, ==, "LWN.net");
  g_assert_cmpstr (at (tech->children, 0)->xml_url, ==, "https://lwn.net/headlines/rss");
  nested = at (tech->children, 1);
  g_assert_cmpstr (nested->title, ==, "Nested");
  g_assert_cmpstr (at (nested->children, 0)->xml_url, ==, "http://deep.example/feed");

  g_assert_cmpstr (at (opml->outlines, 3)->xml_url, ==, "http://example.org/feed.rss");
  g_assert_cmpstr (at (opml->outlines, 4)->xml_url, ==, "https://example.org/secure.rss");
  g_assert_cmpstr (at (opml->outlines, 5)->xml_url, ==, "file:///var/feeds/local.xml");
  g_assert_cmpstr (at (opml->outlines, 6)->title, ==, "https://untitled.example/feed");

  g_assert_cmpuint (td_opml_count_feeds (opml), ==, 8);
}

static void
test_import (void)
{
  g_autoptr(TdOpml) opml = parse_fixture ("subscriptions.opml", "https://me.example/lists/subs.opml");

  check_subscriptions (opml);
  g_assert_cmpstr (at (opml->outlines, 2)->xml_url, ==, "https://me.example/lists/feeds/rel.xml");

  /* javascript: is dropped, and said so */
  g_assert_cmpuint (opml->warnings->len, ==, 1);
  g_assert_nonnull (strstr (g_ptr_array_index (opml->warnings, 0), "javascript:"));
}

static void
test_round_trip (void)
{
  g_autoptr(TdOpml) opml = parse_fixture ("subscriptions.opml", "https://me.example/lists/subs.opml");
  g_autoptr(TdOpml) again = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree char *text2 = NULL;
  gsize len = 0, len2 = 0;

  text = td_opml_to_string (opml, &len);
  g_assert_cmpuint (len, ==, strlen (text));
  g_assert_true (g_str_has_prefix (text, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
  g_assert_nonnull (strstr (text, "<opml version=\"2.0\">"));
  g_assert_nonnull (strstr (text, "<dateCreated>"));
  g_assert_nonnull (strstr (text, "My &amp; subscriptions"));

  again = td_opml_parse (text, len, NULL, &error);
  g_assert_no_error (error);
  check_subscriptions (again);
  g_assert_cmpstr (at (again->outlines, 2)->xml_url, ==, "https://me.example/lists/feeds/rel.xml");
  g_assert_cmpuint (again->warnings->len, ==, 0);

  /* A second trip changes nothing but the date. */
  text2 = td_opml_to_string (again, &len2);
  g_assert_cmpstr (strstr (text2, "</head>"), ==, strstr (text, "</head>"));
}

static void
test_export_built (void)
{
  g_autoptr(TdOpml) opml = td_opml_new ("Built \"list\" <with> markup & \x01" "control");
  g_autoptr(TdOpml) back = NULL;
  TdOpmlOutline *folder = td_opml_outline_new_folder ("Folder & \"quotes\"");
  TdOpmlOutline *inner = td_opml_outline_new_folder ("Inner");
  g_autofree char *text = NULL;
  gsize len;

  td_opml_outline_add (inner, td_opml_outline_new_feed ("A <b>", "https://a.example/feed?x=1&y=2", NULL));
  td_opml_outline_add (folder, inner);
  td_opml_outline_add (folder, td_opml_outline_new_feed (NULL, "https://b.example/feed", "https://b.example/"));
  g_ptr_array_add (opml->outlines, folder);

  text = td_opml_to_string (opml, &len);
  back = td_opml_parse (text, len, NULL, NULL);
  g_assert_nonnull (back);
  g_assert_cmpuint (back->warnings->len, ==, 0);
  g_assert_cmpstr (back->title, ==, "Built \"list\" <with> markup & control");
  g_assert_cmpstr (at (back->outlines, 0)->title, ==, "Folder & \"quotes\"");
  g_assert_cmpstr (at (at (at (back->outlines, 0)->children, 0)->children, 0)->xml_url, ==,
                   "https://a.example/feed?x=1&y=2");
  g_assert_cmpstr (at (at (at (back->outlines, 0)->children, 0)->children, 0)->title, ==, "A <b>");
  g_assert_cmpstr (at (at (back->outlines, 0)->children, 1)->title, ==, "https://b.example/feed");
  g_assert_cmpstr (at (at (back->outlines, 0)->children, 1)->html_url, ==, "https://b.example/");
}

static void
test_hostile (void)
{
  g_autoptr(TdOpml) opml = parse_fixture ("hostile.opml", NULL);
  g_autofree char *text = NULL;

  /* Recovered with a warning, and nothing from /etc/passwd. */
  g_assert_cmpuint (opml->warnings->len, >=, 1);
  g_assert_nonnull (strstr (g_ptr_array_index (opml->warnings, 0), "not well-formed"));
  text = td_opml_to_string (opml, NULL);
  g_assert_null (strstr (text, "root:"));
  for (guint i = 0; i < opml->outlines->len; i++)
    {
      TdOpmlOutline *o = at (opml->outlines, i);
      g_assert_true (o->title == NULL || strlen (o->title) <= TD_FEED_MAX_ENTITY_EXPANSION);
      g_assert_null (strstr (o->xml_url, "root:"));
    }
}

static void
test_deep_and_many (void)
{
  GString *doc = g_string_new ("<opml version=\"2.0\"><body>");
  g_autoptr(TdOpml) opml = NULL;
  TdOpmlOutline *o;
  guint depth = 0;

  /* 100 nested folders with a feed at the bottom: kept, flattened below
   * TD_OPML_MAX_FOLDER_DEPTH. */
  for (int i = 0; i < 100; i++)
    g_string_append_printf (doc, "<outline text=\"f%d\">", i);
  g_string_append (doc, "<outline text=\"bottom\" xmlUrl=\"http://bottom.example/\"/>");
  for (int i = 0; i < 100; i++)
    g_string_append (doc, "</outline>");
  g_string_append (doc, "</body></opml>");

  opml = td_opml_parse (doc->str, doc->len, NULL, NULL);
  g_assert_nonnull (opml);
  g_assert_cmpuint (td_opml_count_feeds (opml), ==, 1);
  for (o = at (opml->outlines, 0); o->children != NULL; o = at (o->children, 0))
    depth++;
  g_assert_cmpuint (depth, ==, TD_OPML_MAX_FOLDER_DEPTH);
  g_assert_cmpstr (o->xml_url, ==, "http://bottom.example/");
  g_string_free (doc, TRUE);
}

static void
test_not_opml (void)
{
  const char *inputs[] = { "", "garbage", "<rss version=\"2.0\"/>", "<html><body/></html>" };

  for (guint i = 0; i < G_N_ELEMENTS (inputs); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(TdOpml) opml = td_opml_parse (inputs[i], strlen (inputs[i]), NULL, &error);

      g_assert_null (opml);
      g_assert_error (error, TD_OPML_ERROR, TD_OPML_ERROR_INVALID);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/td/opml/import", test_import);
  g_test_add_func ("/td/opml/round-trip", test_round_trip);
  g_test_add_func ("/td/opml/export-built", test_export_built);
  g_test_add_func ("/td/opml/hostile", test_hostile);
  g_test_add_func ("/td/opml/deep-and-many", test_deep_and_many);
  g_test_add_func ("/td/opml/not-opml", test_not_opml);

  return g_test_run ();
}
