/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "feeds/td-feed-discover.h"
#include "feeds-test-util.h"

/*
 * Autodiscovery: every feed <link rel="alternate"> of a page, in
 * document order, resolved against the page URL and <base href>.
 */

static TdFeedLink *
link_at (GPtrArray *links,
         guint      i)
{
  g_assert_cmpuint (i, <, links->len);
  return g_ptr_array_index (links, i);
}

static void
test_discover_page (void)
{
  g_autoptr(GBytes) page = feeds_load_fixture ("discover.html");
  g_autoptr(GPtrArray) links = NULL;
  gsize len;
  const char *data = g_bytes_get_data (page, &len);

  links = td_feed_discover (data, len, "https://blog.example.com/2024/post.html", "text/html");

  /* rss, atom, json, comments (rel="feed alternate"), the one in <body>;
   * not: stylesheets, the duplicate, hreflang without type, oEmbed, the
   * link without href. */
  g_assert_cmpuint (links->len, ==, 5);

  g_assert_cmpstr (link_at (links, 0)->href, ==, "https://blog.example.com/base/feed.rss");
  g_assert_cmpstr (link_at (links, 0)->type, ==, "application/rss+xml");
  g_assert_cmpstr (link_at (links, 0)->title, ==, "RSS & more");
  g_assert_cmpstr (link_at (links, 0)->rel, ==, "alternate");

  g_assert_cmpstr (link_at (links, 1)->href, ==, "https://blog.example.com/atom.xml");
  g_assert_cmpstr (link_at (links, 1)->type, ==, "application/atom+xml");
  g_assert_cmpstr (link_at (links, 1)->title, ==, "Atom");

  g_assert_cmpstr (link_at (links, 2)->href, ==, "https://other.example/feed.json");
  g_assert_cmpstr (link_at (links, 2)->type, ==, "application/feed+json");

  g_assert_cmpstr (link_at (links, 3)->href, ==, "https://blog.example.com/base/comments.rss");
  g_assert_cmpstr (link_at (links, 3)->title, ==, "Comments");

  g_assert_cmpstr (link_at (links, 4)->href, ==, "https://blog.example.com/base/late.rss");
}

static void
test_discover_without_base (void)
{
  const char *page = "<html><head><link rel=alternate type=application/atom+xml href=../feed.atom></head></html>";
  g_autoptr(GPtrArray) links = td_feed_discover (page, strlen (page), "http://example.org/a/b/", NULL);

  g_assert_cmpuint (links->len, ==, 1);
  g_assert_cmpstr (link_at (links, 0)->href, ==, "http://example.org/a/feed.atom");
  g_assert_null (link_at (links, 0)->title);
}

static void
test_discover_charset (void)
{
  g_autoptr(GBytes) page = feeds_load_fixture ("discover-latin1.html");
  g_autoptr(GPtrArray) links = NULL;
  gsize len;
  const char *data = g_bytes_get_data (page, &len);

  links = td_feed_discover (data, len, "http://example.com/", NULL);
  g_assert_cmpuint (links->len, ==, 1);
  g_assert_cmpstr (link_at (links, 0)->title, ==, "Café crème");
}

static void
test_discover_nothing (void)
{
  const char *inputs[] = {
    "",
    "<html><body>no feeds here</body></html>",
    "not html at all",
    "<link rel=\"alternate\" type=\"text/html\" href=\"/page\">",
    "\xff\xfe\x00\x00garbage",
  };

  for (guint i = 0; i < G_N_ELEMENTS (inputs); i++)
    {
      g_autoptr(GPtrArray) links = td_feed_discover (inputs[i], strlen (inputs[i]), "http://example.com/", NULL);
      g_assert_cmpuint (links->len, ==, 0);
    }
}

static void
test_discover_hostile (void)
{
  GString *page = g_string_new ("<html><head>");
  g_autoptr(GPtrArray) links = NULL;

  /* Deep nesting and a flood of links: bounded, no crash. */
  for (int i = 0; i < 50000; i++)
    g_string_append (page, "<div>");
  for (int i = 0; i < 1000; i++)
    g_string_append_printf (page, "<link rel=alternate type=application/rss+xml href=/f%d>", i);

  links = td_feed_discover (page->str, page->len, "http://example.com/", NULL);
  g_assert_cmpuint (links->len, <=, TD_FEED_DISCOVER_MAX_LINKS);
  g_string_free (page, TRUE);
}

static void
test_is_feed_type (void)
{
  g_assert_true (td_feed_discover_is_feed_type ("application/rss+xml"));
  g_assert_true (td_feed_discover_is_feed_type ("Application/Atom+XML"));
  g_assert_true (td_feed_discover_is_feed_type ("application/feed+json; charset=utf-8"));
  g_assert_false (td_feed_discover_is_feed_type ("text/html"));
  g_assert_false (td_feed_discover_is_feed_type ("application/json+oembed"));
  g_assert_false (td_feed_discover_is_feed_type (NULL));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/td/feed-discover/page", test_discover_page);
  g_test_add_func ("/td/feed-discover/without-base", test_discover_without_base);
  g_test_add_func ("/td/feed-discover/charset", test_discover_charset);
  g_test_add_func ("/td/feed-discover/nothing", test_discover_nothing);
  g_test_add_func ("/td/feed-discover/hostile", test_discover_hostile);
  g_test_add_func ("/td/feed-discover/is-feed-type", test_is_feed_type);

  return g_test_run ();
}
