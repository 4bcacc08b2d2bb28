/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "feeds/td-feed-cli.h"
#include "feeds/td-feed-json.h"
#include "feeds/td-feed-parser.h"
#include "feeds-test-util.h"

/*
 * The JSON dump behind `tidings --parse-feed`: exact output for a few
 * fixtures, and td_feed_parse_cli() on paths, file:// URLs and failures.
 */

typedef struct
{
  const char *fixture;
  const char *base_url;
  const char *expected;
} DumpCase;

static const DumpCase dump_cases[] = {
  { "rss20-basic.xml", "https://example.com/feed.xml", "expected/rss20-basic.json" },
  { "atom10-full.xml", "http://example.org/feed/", "expected/atom10-full.json" },
  { "json11.json", "https://example.org/fetched/feed.json", "expected/json11.json" },
  { "malformed-unclosed.xml", NULL, "expected/malformed-unclosed.json" },
  { "rss10.xml", NULL, "expected/rss10.json" },
};

static void
assert_same_text (const char *actual,
                  const char *expected,
                  const char *what)
{
  if (strcmp (actual, expected) != 0)
    {
      gsize i = 0;
      int line = 1;

      while (actual[i] != '\0' && actual[i] == expected[i])
        {
          if (actual[i] == '\n')
            line++;
          i++;
        }
      g_test_fail_printf ("%s differs from the expected dump at line %d: got \"%.60s\", expected \"%.60s\"",
                          what, line, actual + i, expected + i);
    }
}

static void
test_dump (gconstpointer data)
{
  const DumpCase *c = data;
  g_autoptr(GBytes) input = feeds_load_fixture (c->fixture);
  g_autoptr(GBytes) expected = feeds_load_fixture (c->expected);
  g_autoptr(GError) error = NULL;
  g_autoptr(TdFeed) feed = NULL;
  g_autofree char *json = NULL;
  g_autofree char *expected_text = NULL;
  gsize len;
  const char *text = g_bytes_get_data (input, &len);

  feed = td_feed_parse (text, len, c->base_url, NULL, &error);
  g_assert_no_error (error);

  json = td_feed_to_json (feed);
  expected_text = g_strndup (g_bytes_get_data (expected, NULL), g_bytes_get_size (expected));
  assert_same_text (json, expected_text, c->fixture);
}

/* Keys appear only when present, and in the documented order. */
static void
test_key_order_and_presence (void)
{
  g_autoptr(TdFeed) feed = td_feed_new ();
  TdFeedEntry *entry = td_feed_entry_new ();
  g_autofree char *json = NULL;
  const char *keys[] = { "\"title\"", "\"title_type\"", "\"link\"", "\"id\"", "\"summary\"",
                         "\"summary_type\"", "\"published\"", "\"updated\"", "\"language\"" };
  const char *last = NULL;

  feed->version = TD_FEED_VERSION_ATOM10;
  entry->title = g_strdup ("t");
  entry->title_type = TD_FEED_TEXT_HTML;
  entry->link = g_strdup ("http://x/");
  entry->id = g_strdup ("id");
  entry->summary = g_strdup ("s");
  entry->summary_type = TD_FEED_TEXT_XHTML;
  entry->published = 0;
  entry->updated = TD_FEED_DATE_INVALID;
  entry->language = g_strdup ("en");
  g_ptr_array_add (feed->entries, entry);
  td_feed_add_warning (feed, "w %d", 1);

  json = td_feed_to_json (feed);
  g_assert_nonnull (strstr (json, "\"version\" : \"atom10\""));
  g_assert_nonnull (strstr (json, "\"feed\" : {"));
  g_assert_nonnull (strstr (json, "\"title_type\" : \"html\""));
  g_assert_nonnull (strstr (json, "\"summary_type\" : \"xhtml\""));
  g_assert_nonnull (strstr (json, "\"published\" : \"1970-01-01T00:00:00Z\""));
  g_assert_nonnull (strstr (json, "\"updated\" : null"));
  g_assert_nonnull (strstr (json, "\"warnings\" : [\n    \"w 1\"\n  ]"));
  g_assert_null (strstr (json, "\"authors\""));
  g_assert_null (strstr (json, "\"content\""));

  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      const char *at = strstr (json, keys[i]);
      g_assert_nonnull (at);
      g_assert_true (last == NULL || at > last);
      last = at;
    }
  g_assert_true (g_str_has_suffix (json, "}\n"));
}

static char *
run_cli (const char  *arg,
         int         *status,
         GError     **error)
{
  g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable ();
  char *text;

  *status = td_feed_parse_cli (arg, out, error);
  g_output_stream_write_all (out, "", 1, NULL, NULL, NULL);
  g_output_stream_close (out, NULL, NULL);
  text = g_memory_output_stream_steal_data (G_MEMORY_OUTPUT_STREAM (out));
  return text;
}

static void
test_cli_path_and_file_url (void)
{
  g_autofree char *path = feeds_fixture_path ("rss10.xml");
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autofree char *uri = g_file_get_uri (file);
  g_autoptr(GBytes) expected = feeds_load_fixture ("expected/rss10.json");
  g_autofree char *expected_text = g_strndup (g_bytes_get_data (expected, NULL), g_bytes_get_size (expected));
  const char *args[] = { path, uri };

  for (guint i = 0; i < G_N_ELEMENTS (args); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *output = NULL;
      int status;

      output = run_cli (args[i], &status, &error);
      g_assert_no_error (error);
      g_assert_cmpint (status, ==, 0);
      assert_same_text (output, expected_text, args[i]);
    }
}

static void
test_cli_relative_links_use_file_url (void)
{
  g_autofree char *path = feeds_fixture_path ("rss20-relative.xml");
  g_autofree char *dir = g_path_get_dirname (path);
  g_autoptr(GFile) dir_file = g_file_new_for_path (dir);
  g_autofree char *dir_uri = g_file_get_uri (dir_file);
  g_autofree char *expected = g_strconcat ("\"link\" : \"", dir_uri, "/posts/1.html\"", NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *output = NULL;
  int status;

  output = run_cli (path, &status, &error);
  g_assert_no_error (error);
  g_assert_cmpint (status, ==, 0);
  g_assert_nonnull (strstr (output, expected));
}

static void
test_cli_malformed_still_succeeds (void)
{
  g_autofree char *path = feeds_fixture_path ("malformed-unclosed.xml");
  g_autoptr(GError) error = NULL;
  g_autofree char *output = NULL;
  int status;

  output = run_cli (path, &status, &error);
  g_assert_no_error (error);
  g_assert_cmpint (status, ==, 0);
  g_assert_nonnull (strstr (output, "not well-formed: "));
}

typedef struct
{
  const char *name;
  const char *arg;       /* a fixture name, or an absolute argument when it has a '/' or ':' */
  const char *message;
} CliFailure;

static const CliFailure cli_failures[] = {
  { "html", "not-a-feed.html", "not a feed" },
  { "empty", "empty.xml", "empty" },
  { "missing", "/nonexistent/feed.xml", "" },
  { "directory", "/", "not a regular file" },
  { "scheme", "gopher://example.com/feed", "unsupported" },
};

static void
test_cli_failure (gconstpointer data)
{
  const CliFailure *c = data;
  g_autofree char *arg = strchr (c->arg, '/') || strchr (c->arg, ':') ? g_strdup (c->arg)
                                                                      : feeds_fixture_path (c->arg);
  g_autoptr(GError) error = NULL;
  g_autofree char *output = NULL;
  int status;

  output = run_cli (arg, &status, &error);
  g_assert_cmpint (status, !=, 0);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, c->message));
  g_assert_cmpstr (output, ==, "");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (dump_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/td/feed-json/dump/%s", dump_cases[i].fixture);
      g_test_add_data_func (path, &dump_cases[i], test_dump);
    }
  g_test_add_func ("/td/feed-json/key-order-and-presence", test_key_order_and_presence);
  g_test_add_func ("/td/feed-json/cli/path-and-file-url", test_cli_path_and_file_url);
  g_test_add_func ("/td/feed-json/cli/relative-links-use-file-url", test_cli_relative_links_use_file_url);
  g_test_add_func ("/td/feed-json/cli/malformed-still-succeeds", test_cli_malformed_still_succeeds);
  for (guint i = 0; i < G_N_ELEMENTS (cli_failures); i++)
    {
      g_autofree char *path = g_strdup_printf ("/td/feed-json/cli/fails/%s", cli_failures[i].name);
      g_test_add_data_func (path, &cli_failures[i], test_cli_failure);
    }

  return g_test_run ();
}
