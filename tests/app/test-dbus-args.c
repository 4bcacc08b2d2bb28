/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "app/td-dbus-args.h"

/*
 * The checks every io.github.tidings.Tidings1 handler runs first, without
 * a bus or a display: each refusal carries its named error, and the calls
 * scripts make pass.
 */

typedef struct
{
  const char *method;
  const char *parameters;    /* GVariant text format */
  int         error;         /* TdDBusError, -1: accepted */
} ArgsCase;

static const ArgsCase cases[] = {
  { "AddFeed", "('https://planet.gnome.org/',)", -1 },
  { "AddFeed", "('/home/me/feed.xml',)", -1 },
  { "AddFeed", "('FILE:///tmp/feed.xml',)", -1 },
  { "AddFeed", "('',)", TD_DBUS_ERROR_INVALID_URL },
  { "AddFeed", "('javascript:alert(1)',)", TD_DBUS_ERROR_INVALID_URL },
  { "AddFeed", "('feed.xml',)", TD_DBUS_ERROR_INVALID_URL },
  /* What GLib's relaxed parser lets through: a space in the host, a bad
   * escape, a control character, a host of punctuation, no host. */
  { "AddFeed", "('http://exa mple.org/feed',)", TD_DBUS_ERROR_INVALID_URL },
  { "AddFeed", "('http://example.org/%zz',)", TD_DBUS_ERROR_INVALID_URL },
  { "AddFeed", "('http://example.org/a\\tb',)", TD_DBUS_ERROR_INVALID_URL },
  { "AddFeed", "('http://exa!mple.org/',)", TD_DBUS_ERROR_INVALID_URL },
  { "AddFeed", "('https:///feed',)", TD_DBUS_ERROR_INVALID_URL },
  /* And what is fine: escapes, a port, IPv4 and IPv6, a non-ASCII host. */
  { "AddFeed", "('http://example.org:8080/a%20b?q=1#top',)", -1 },
  { "AddFeed", "('http://127.0.0.1/feed',)", -1 },
  { "AddFeed", "('http://[::1]:8080/feed',)", -1 },
  { "AddFeed", "('https://bücher.example/feed',)", -1 },
  /* A file URL typed with a space in its path, as GIO reads it. */
  { "AddFeed", "('file:///tmp/my feeds/a.xml',)", -1 },
  { "AddFeed", "('file:///tmp/a%zz.xml',)", TD_DBUS_ERROR_INVALID_URL },
  /* GLib's relaxed parse drops space around a URL; the check does not. */
  { "AddFeed", "(' file:/tmp/a.xml',)", TD_DBUS_ERROR_INVALID_URL },
  { "AddFeed", "('file:/tmp/a.xml ',)", TD_DBUS_ERROR_INVALID_URL },
  { "AddFeed", "(' https://example.org/feed',)", TD_DBUS_ERROR_INVALID_URL },
  { "AddFeed", "(5,)", TD_DBUS_ERROR_INVALID_ARGS },
  { "RefreshFeeds", "(@ax [],)", -1 },
  { "RefreshFeeds", "([int64 1, 2, 3],)", -1 },
  { "Publish", "('', 'alerts', 'disk almost full')", -1 },
  { "Publish", "('127.0.0.1:6380', 'news', '')", -1 },
  { "Publish", "('[::1]:6380', 'news', 'x')", -1 },
  { "Publish", "('', '', 'x')", TD_DBUS_ERROR_INVALID_ARGS },
  { "Publish", "('redis.example.org', 'news', 'x')", TD_DBUS_ERROR_NO_SUCH_CONNECTION },
  { "Publish", "('host:0', 'news', 'x')", TD_DBUS_ERROR_NO_SUCH_CONNECTION },
  { "Subscribe", "('', 'news.*')", -1 },
  { "Unsubscribe", "('host:99999', 'news')", TD_DBUS_ERROR_NO_SUCH_CONNECTION },
  { "SendMessage", "('Tidings', '#builds', 'build 1234 passed')", -1 },
  { "SendMessage", "('', '#builds', 'x')", TD_DBUS_ERROR_INVALID_ARGS },
  { "JoinChannel", "('Libera', '')", TD_DBUS_ERROR_INVALID_ARGS },
  { "ShowView", "('pubsub',)", -1 },
  { "ShowView", "('nowhere',)", TD_DBUS_ERROR_INVALID_ARGS },
  { "ShowView", "()", TD_DBUS_ERROR_INVALID_ARGS },
  { "ListFeeds", "()", -1 },
  { "RemoveFeed", "(int64 -1,)", -1 },
  { "Explode", "()", TD_DBUS_ERROR_INVALID_ARGS },
};

static void
test_args (gconstpointer data)
{
  const ArgsCase *c = data;
  g_autoptr(GVariant) parameters = g_variant_ref_sink (g_variant_new_parsed (c->parameters));
  g_autoptr(GError) error = NULL;
  gboolean ok = td_dbus_args_check (c->method, parameters, &error);

  if (c->error < 0)
    {
      g_assert_no_error (error);
      g_assert_true (ok);
    }
  else
    {
      g_autofree char *name = NULL;

      g_assert_false (ok);
      g_assert_error (error, TD_DBUS_ERROR, c->error);
      name = g_dbus_error_encode_gerror (error);
      g_assert_true (g_str_has_prefix (name, "io.github.tidings.Tidings1.Error."));
    }
}

/* Every limit is enforced at its edge. */
static void
test_limits (void)
{
  g_autofree char *channel = g_strnfill (TD_DBUS_MAX_CHANNEL, 'c');
  g_autofree char *long_channel = g_strnfill (TD_DBUS_MAX_CHANNEL + 1, 'c');
  g_autofree char *text = g_strnfill (TD_DBUS_MAX_CHAT_TEXT, 't');
  g_autofree char *long_text = g_strnfill (TD_DBUS_MAX_CHAT_TEXT + 1, 't');
  g_autofree char *url_tail = g_strnfill (TD_DBUS_MAX_URL_LEN - strlen ("https://x/"), 'u');
  g_autofree char *url = g_strconcat ("https://x/", url_tail, NULL);
  g_autofree char *long_url = g_strconcat (url, "u", NULL);
  g_autofree gint64 *ids = g_new0 (gint64, TD_DBUS_MAX_IDS + 1);
  struct { const char *method; GVariant *parameters; gboolean ok; } edges[] = {
    { "Subscribe", g_variant_new ("(ss)", "", channel), TRUE },
    { "Subscribe", g_variant_new ("(ss)", "", long_channel), FALSE },
    { "SendMessage", g_variant_new ("(sss)", "n", "#c", text), TRUE },
    { "SendMessage", g_variant_new ("(sss)", "n", "#c", long_text), FALSE },
    { "AddFeed", g_variant_new ("(s)", url), TRUE },
    { "AddFeed", g_variant_new ("(s)", long_url), FALSE },
    { "RefreshFeeds", g_variant_new ("(@ax)", g_variant_new_fixed_array (G_VARIANT_TYPE_INT64, ids, TD_DBUS_MAX_IDS,
                                                                         sizeof (gint64))), TRUE },
    { "RefreshFeeds", g_variant_new ("(@ax)", g_variant_new_fixed_array (G_VARIANT_TYPE_INT64, ids, TD_DBUS_MAX_IDS + 1,
                                                                         sizeof (gint64))), FALSE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (edges); i++)
    {
      g_autoptr(GVariant) parameters = g_variant_ref_sink (edges[i].parameters);
      g_autoptr(GError) error = NULL;

      g_assert_cmpint (td_dbus_args_check (edges[i].method, parameters, &error), ==, edges[i].ok);
      if (!edges[i].ok)
        g_assert_nonnull (error);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/td/dbus-args/%s/%u", cases[i].method, i);

      g_test_add_data_func (name, &cases[i], test_args);
    }
  g_test_add_func ("/td/dbus-args/limits", test_limits);
  return g_test_run ();
}
