/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gstdio.h>
#include <adwaita.h>

#include "app/td-application.h"
#include "app/td-feed-row.h"
#include "app/td-feeds-app.h"
#include "app/td-feeds-view.h"
#include "app/td-item-object.h"
#include "app/td-item-row.h"
#include "app/td-window.h"
#include "td-test-widgets.h"

/*
 * The Feeds view in the running application (in-process, not unique),
 * with the app database in a temporary file (TIDINGS_DB): subscribe to a
 * local feed, read, star, search, export and import OPML, and see what
 * survives a restart on the same database.
 */

#define DEADLINE_MS 15000

typedef void (*AppCheck) (TdApplication *app, TdFeedsView *view);

static char *tmp_dir;

static char *
fixture_uri (const char *name)
{
  g_autofree char *path = g_build_filename (g_getenv ("TD_TEST_SRCDIR"), "fixtures", "feeds-view", name, NULL);

  return g_filename_to_uri (path, NULL, NULL);
}

typedef gboolean (*Cond) (TdFeedsView *view, gconstpointer data);

static void
wait_for (Cond           cond,
          TdFeedsView   *view,
          gconstpointer  data,
          const char    *what)
{
  gint64 deadline = g_get_monotonic_time () + DEADLINE_MS * 1000;

  while (!cond (view, data))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("timed out waiting for %s", what);
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (1000);
    }
}

static TdFeedsView *
find_view (GtkWidget *widget)
{
  return (TdFeedsView *) td_test_find_of_type (widget, TD_TYPE_FEEDS_VIEW);
}

static void
activate_cb (GApplication *app,
             gpointer      user_data)
{
  AppCheck check = user_data;
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (app));
  TdFeedsView *view;

  g_assert_true (TD_IS_WINDOW (window));
  td_window_show_view (TD_WINDOW (window), "feeds");
  view = find_view (GTK_WIDGET (window));
  g_assert_nonnull (view);
  check (TD_APPLICATION (app), view);
  g_application_quit (app);
}

static void
run_app (AppCheck check)
{
  g_autoptr(TdApplication) app = td_application_new (APP_ID, G_APPLICATION_NON_UNIQUE);
  g_autoptr(GSettings) settings = g_settings_new ("io.github.tidings.Tidings");
  char *argv[] = { (char *) "tidings", NULL };

  g_settings_set_boolean (settings, "local-server", FALSE);
  g_signal_connect_after (app, "activate", G_CALLBACK (activate_cb), check);
  g_assert_cmpint (g_application_run (G_APPLICATION (app), 1, argv), ==, 0);
}

/* ------------------------------------------------------------------ */
/* Conditions                                                          */

static guint
n_feed_rows (TdFeedsView *view)
{
  GListModel *model = td_feeds_view_get_sidebar_model (view);
  guint n = 0;

  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr(TdFeedRow) row = g_list_model_get_item (model, i);

      if (td_feed_row_get_kind (row) == TD_FEED_ROW_FEED)
        n++;
    }
  return n;
}

static gboolean
has_feeds (TdFeedsView   *view,
           gconstpointer  data)
{
  return n_feed_rows (view) == GPOINTER_TO_UINT (data);
}

/* TRUE when the item list has exactly @data rows, all loaded. */
static gboolean
has_items (TdFeedsView   *view,
           gconstpointer  data)
{
  GListModel *model = td_feeds_view_get_item_model (view);
  guint n;

  if (model == NULL || (n = g_list_model_get_n_items (model)) != GPOINTER_TO_UINT (data))
    return FALSE;
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(TdItemObject) item = g_list_model_get_item (model, i);

      if (!td_item_object_is_loaded (item))
        return FALSE;
    }
  return TRUE;
}

static gboolean
article_contains (TdFeedsView   *view,
                  gconstpointer  data)
{
  g_autofree char *text = td_article_view_get_text (td_feeds_view_get_article_view (view));

  return strstr (text, data) != NULL;
}

static gboolean
message_is (TdFeedsView   *view,
            gconstpointer  data)
{
  return g_strcmp0 (td_feeds_view_get_last_message (view), data) == 0;
}

static TdItemObject *
item_at (TdFeedsView *view,
         guint        position)
{
  return g_list_model_get_item (td_feeds_view_get_item_model (view), position);
}

static TdItemObject *
item_titled (TdFeedsView *view,
             const char  *title)
{
  GListModel *model = td_feeds_view_get_item_model (view);

  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      TdItemObject *item = g_list_model_get_item (model, i);

      if (g_strcmp0 (td_item_object_get_title (item), title) == 0)
        return item;
      g_object_unref (item);
    }
  g_error ("no item titled %s", title);
  return NULL;
}

/* Waits until the recorder has written what the view sent, so that the
 * next run sees it: a list query is answered after every earlier save. */
static gboolean
got_reply (TdFeedsView   *view,
           gconstpointer  data)
{
  return *(TdFeedReply * const *) data != NULL;
}

typedef struct { TdFeedReply *reply; } Wait;

static void
reply_cb (TdMailboxId  id,
          TdMail      *mail,
          gpointer     user_data)
{
  Wait *w = user_data;

  w->reply = td_mail_steal_data (mail);
}

static GPtrArray *
list_feeds (TdApplication *app,
            TdFeedsView   *view)
{
  Wait w = { NULL };
  TdMailboxId mailbox = td_mailbox_open (NULL, G_PRIORITY_DEFAULT, reply_cb, &w, NULL);
  GPtrArray *feeds;

  td_feed_manager_list_feeds (td_feeds_app_get_manager (td_feeds_app_get (app)), mailbox, 1, 0);
  wait_for (got_reply, view, &w.reply, "the feed list");
  td_mailbox_close (mailbox);
  g_assert_no_error (w.reply->error);
  feeds = g_steal_pointer (&w.reply->feeds);
  td_feed_reply_free (w.reply);
  return feeds;
}

static gboolean
is_error_badge (GtkWidget     *widget,
                gconstpointer  data)
{
  return GTK_IS_IMAGE (widget) && gtk_widget_has_css_class (widget, "td-error-badge") && gtk_widget_get_mapped (widget);
}

/* The visible error badge of the sidebar, or NULL. */
static GtkWidget *
find_error_badge (GtkWidget *widget)
{
  return td_test_find (widget, is_error_badge, NULL);
}

static gboolean
has_error_badge (TdFeedsView   *view,
                 gconstpointer  data)
{
  return find_error_badge (GTK_WIDGET (view)) != NULL;
}

static gboolean
tooltip_shows (TdFeedsView   *view,
               gconstpointer  data)
{
  const char *text = td_feeds_view_get_error_tooltip (view);

  return text != NULL && strstr (text, data) != NULL;
}

/* The pointer entering or leaving @badge, as its motion controller sees it. */
static void
hover_badge (GtkWidget *badge,
             gboolean   enter)
{
  g_autoptr(GListModel) controllers = gtk_widget_observe_controllers (badge);

  for (guint i = 0; i < g_list_model_get_n_items (controllers); i++)
    {
      g_autoptr(GObject) controller = g_list_model_get_item (controllers, i);

      if (!GTK_IS_EVENT_CONTROLLER_MOTION (controller))
        continue;
      if (enter)
        g_signal_emit_by_name (controller, "enter", 2.0, 2.0);
      else
        g_signal_emit_by_name (controller, "leave");
      return;
    }
  g_error ("the error badge has no motion controller");
}

static void
iterate_ms (guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;

  while (g_get_monotonic_time () < end)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
}

/* A feed that stops working gets an error badge; resting the pointer on
 * it shows the reason after the hover delay, leaving hides it, and a
 * pass over it shorter than the delay shows nothing. */
static void
check_error_badge (TdApplication *app,
                   TdFeedsView   *view,
                   guint          n_feeds)
{
  g_autofree char *path = g_build_filename (tmp_dir, "breaking.xml", NULL);
  g_autofree char *uri = g_filename_to_uri (path, NULL, NULL);
  g_autoptr(GPtrArray) feeds = NULL;
  TdFeedManager *manager = td_feeds_app_get_manager (td_feeds_app_get (app));
  GtkWidget *badge;
  gint64 id = 0;

  g_assert_true (g_file_set_contents (path, "<rss version=\"2.0\"><channel><title>Breaking</title>"
                                      "<item><guid>b1</guid><title>Soon gone</title></item>"
                                      "</channel></rss>", -1, NULL));
  td_feeds_view_subscribe (view, uri);
  wait_for (has_feeds, view, GUINT_TO_POINTER (n_feeds + 1), "the feed that will break");
  g_assert_null (find_error_badge (GTK_WIDGET (view)));

  g_remove (path);
  feeds = list_feeds (app, view);
  for (guint i = 0; i < feeds->len; i++)
    if (g_strcmp0 (((TdFeedInfo *) g_ptr_array_index (feeds, i))->url, uri) == 0)
      id = ((TdFeedInfo *) g_ptr_array_index (feeds, i))->id;
  g_assert_cmpint (id, >, 0);
  td_feed_manager_refresh (manager, id, TRUE);
  wait_for (has_error_badge, view, NULL, "the error badge");
  badge = find_error_badge (GTK_WIDGET (view));

  /* No tooltip of GTK's own: the reason comes through the mailbox. */
  g_assert_null (gtk_widget_get_tooltip_text (badge));
  hover_badge (badge, TRUE);
  g_assert_null (td_feeds_view_get_error_tooltip (view));
  wait_for (tooltip_shows, view, "breaking.xml", "the error tooltip");
  hover_badge (badge, FALSE);
  g_assert_null (td_feeds_view_get_error_tooltip (view));

  /* Passing over it: cancelled before the delay is up. */
  hover_badge (badge, TRUE);
  iterate_ms (100);
  hover_badge (badge, FALSE);
  iterate_ms (800);
  g_assert_null (td_feeds_view_get_error_tooltip (view));

  td_feed_manager_remove (manager, id, TD_MAILBOX_NONE, 0, 0);
  wait_for (has_feeds, view, GUINT_TO_POINTER (n_feeds), "the broken feed removed");
}

static gboolean
has_n_rows (TdFeedsView   *view,
            gconstpointer  data)
{
  GListModel *model = td_feeds_view_get_item_model (view);

  return model != NULL && g_list_model_get_n_items (model) == GPOINTER_TO_UINT (data);
}

static gboolean
second_starred_unread (TdFeedsView   *view,
                       gconstpointer  data)
{
  GListModel *model = td_feeds_view_get_item_model (view);
  g_autoptr(TdItemObject) item = NULL;

  if (model == NULL || g_list_model_get_n_items (model) < 2)
    return FALSE;
  item = g_list_model_get_item (model, 1);
  return td_item_object_is_loaded (item) && td_item_object_get_starred (item) &&
         !td_item_object_get_read (item);
}

/* A row selected (clicked) before its page of the list has arrived
 * opens once it has. */
static void
check_unloaded_row (TdApplication *app,
                    TdFeedsView   *view,
                    guint          n_feeds)
{
  g_autofree char *path = g_build_filename (tmp_dir, "bulk.xml", NULL);
  g_autofree char *uri = g_filename_to_uri (path, NULL, NULL);
  g_autoptr(GString) rss = g_string_new ("<rss version=\"2.0\"><channel><title>Bulk</title>");
  g_autoptr(GPtrArray) feeds = NULL;
  g_autoptr(TdItemObject) item = NULL;
  TdFeedManager *manager = td_feeds_app_get_manager (td_feeds_app_get (app));
  const guint n = 300;

  for (guint i = 1; i <= n; i++)
    g_string_append_printf (rss, "<item><guid>bulk-%u</guid><title>Bulk item %u</title>"
                            "<description>Body of bulk number %u.</description>"
                            "<pubDate>Mon, 01 Jan 2024 %02u:%02u:00 +0000</pubDate></item>",
                            i, i, i, i / 60, i % 60);
  g_string_append (rss, "</channel></rss>");
  g_assert_true (g_file_set_contents (path, rss->str, -1, NULL));

  /* Subscribing selects the feed: its first page of rows is loaded. */
  td_feeds_view_subscribe (view, uri);
  wait_for (has_feeds, view, GUINT_TO_POINTER (n_feeds + 1), "the bulk feed");
  wait_for (has_n_rows, view, GUINT_TO_POINTER (n), "the bulk rows");
  /* The list may reload once more meanwhile (new items, coalesced): the
   * selected row keeps its place and still opens. */
  item = item_at (view, n - 10);
  g_assert_false (td_item_object_is_loaded (item));
  td_feeds_view_select_item (view, n - 10);
  wait_for (article_contains, view, "Body of bulk number 10.", "the article of a row loaded late");
  g_clear_object (&item);
  item = item_at (view, n - 10);
  g_assert_true (td_item_object_is_loaded (item));
  g_assert_true (td_item_object_get_read (item));

  feeds = list_feeds (app, view);
  for (guint i = 0; i < feeds->len; i++)
    if (g_strcmp0 (((TdFeedInfo *) g_ptr_array_index (feeds, i))->url, uri) == 0)
      td_feed_manager_remove (manager, ((TdFeedInfo *) g_ptr_array_index (feeds, i))->id, TD_MAILBOX_NONE, 0, 0);
  wait_for (has_feeds, view, GUINT_TO_POINTER (n_feeds), "the bulk feed removed");
  g_remove (path);
}

/* A feed titled @title of @n items: item I is "@kind item I" (its guid
 * "@kind-I", in lower case), published on @day at @minute + I minutes and
 * @second seconds. */
static void
write_feed (const char *path,
            const char *title,
            const char *kind,
            guint       n,
            const char *day,
            guint       minute,
            guint       second)
{
  g_autoptr(GString) rss = g_string_new (NULL);
  g_autofree char *guid = g_ascii_strdown (kind, -1);

  g_string_append_printf (rss, "<rss version=\"2.0\"><channel><title>%s</title>", title);
  for (guint i = 1; i <= n; i++)
    g_string_append_printf (rss, "<item><guid>%s-%u</guid><title>%s item %u</title>"
                            "<pubDate>%s %02u:%02u:%02u +0000</pubDate></item>",
                            guid, i, kind, i, day, (minute + i) / 60, (minute + i) % 60, second);
  g_string_append (rss, "</channel></rss>");
  g_assert_true (g_file_set_contents (path, rss->str, -1, NULL));
}

/* The feed @title with @n items, "Grow item 1" to "Grow item @n". */
static void
write_grow_feed (const char *path,
                 const char *title,
                 guint       n)
{
  write_feed (path, title, "Grow", n, "Tue, 02 Jan 2024", 10 * 60, 0);
}

static gboolean
first_item_is (TdFeedsView   *view,
               gconstpointer  data)
{
  GListModel *model = td_feeds_view_get_item_model (view);
  g_autoptr(TdItemObject) item = NULL;

  if (model == NULL || g_list_model_get_n_items (model) == 0)
    return FALSE;
  item = g_list_model_get_item (model, 0);
  return td_item_object_is_loaded (item) && g_strcmp0 (td_item_object_get_title (item), data) == 0;
}

/* The feed "Aa Grow" with @n items of its own, each half a minute
 * newer than the grow item of the same number. */
static void
write_between_feed (const char *path,
                    guint       n)
{
  write_feed (path, "Aa Grow", "Between", n, "Tue, 02 Jan 2024", 10 * 60, 30);
}

/* TRUE once the feed database has a feed titled @data. */
static gboolean
stored_title_is (TdFeedsView   *view,
                 gconstpointer  data)
{
  GtkWindow *window = GTK_WINDOW (gtk_widget_get_root (GTK_WIDGET (view)));
  TdApplication *app = TD_APPLICATION (gtk_window_get_application (window));
  g_autoptr(GPtrArray) feeds = list_feeds (app, view);

  for (guint i = 0; i < feeds->len; i++)
    if (g_strcmp0 (((TdFeedInfo *) g_ptr_array_index (feeds, i))->title, data) == 0)
      return TRUE;
  return FALSE;
}

static gboolean
view_mapped (TdFeedsView   *view,
             gconstpointer  data)
{
  return gtk_widget_get_mapped (GTK_WIDGET (view)) == GPOINTER_TO_INT (data);
}

static TdFeedRow *
sidebar_row_titled (TdFeedsView *view,
                    const char  *title,
                    guint       *position)
{
  GListModel *model = td_feeds_view_get_sidebar_model (view);

  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      TdFeedRow *row = g_list_model_get_item (model, i);

      if (g_strcmp0 (td_feed_row_get_title (row), title) == 0)
        {
          *position = i;
          return row;
        }
      g_object_unref (row);
    }
  return NULL;
}

static gboolean
has_sidebar_title (TdFeedsView   *view,
                   gconstpointer  data)
{
  guint position;
  g_autoptr(TdFeedRow) row = sidebar_row_titled (view, data, &position);

  return row != NULL;
}

/* A refresh that brings new items keeps the objects of the rows that were
 * there (so their widgets are not rebuilt): the new items come in above
 * them. The sidebar keeps its row objects too, even when a new title
 * moves a feed to another place. */
static void
check_reload_keeps_rows (TdApplication *app,
                         TdFeedsView   *view,
                         guint          n_feeds)
{
  g_autofree char *path = g_build_filename (tmp_dir, "grow.xml", NULL);
  g_autofree char *uri = g_filename_to_uri (path, NULL, NULL);
  g_autoptr(GPtrArray) before = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) feeds = NULL;
  g_autoptr(TdFeedRow) row = NULL;
  g_autoptr(TdFeedRow) moved = NULL;
  g_autoptr(TdItemObject) newest = NULL;
  TdFeedManager *manager = td_feeds_app_get_manager (td_feeds_app_get (app));
  gint64 feed_id = 0;
  guint position = 0, new_position = 0;

  write_grow_feed (path, "Zz Grow", 4);
  td_feeds_view_subscribe (view, uri);
  wait_for (has_feeds, view, GUINT_TO_POINTER (n_feeds + 1), "the growing feed");
  wait_for (first_item_is, view, "Grow item 4", "its items");
  wait_for (has_items, view, GUINT_TO_POINTER (4), "its four items");
  wait_for (has_sidebar_title, view, "Zz Grow", "its title in the sidebar");
  for (guint i = 0; i < 4; i++)
    g_ptr_array_add (before, item_at (view, i));
  row = sidebar_row_titled (view, "Zz Grow", &position);
  g_assert_cmpuint (td_feed_row_get_unread (row), ==, 4);

  feeds = list_feeds (app, view);
  for (guint i = 0; i < feeds->len; i++)
    if (g_strcmp0 (((TdFeedInfo *) g_ptr_array_index (feeds, i))->url, uri) == 0)
      feed_id = ((TdFeedInfo *) g_ptr_array_index (feeds, i))->id;
  g_assert_cmpint (feed_id, >, 0);

  /* Two newer items, and a title that sorts first. */
  write_grow_feed (path, "Aa Grow", 6);
  td_feed_manager_refresh (manager, feed_id, TRUE);
  wait_for (first_item_is, view, "Grow item 6", "the new items");
  wait_for (has_items, view, GUINT_TO_POINTER (6), "six items");
  wait_for (has_sidebar_title, view, "Aa Grow", "the new title");

  newest = item_at (view, 0);
  g_assert_cmpstr (td_item_object_get_title (newest), ==, "Grow item 6");
  for (guint i = 0; i < 4; i++)
    {
      g_autoptr(TdItemObject) item = item_at (view, i + 2);

      g_assert_true (item == g_ptr_array_index (before, i));
      g_assert_cmpstr (td_item_object_get_title (item), ==, td_item_object_get_title (g_ptr_array_index (before, i)));
    }

  /* Items that come in between the ones shown: every row keeps its
   * object and shows what is now at its place. */
  g_ptr_array_set_size (before, 0);
  for (guint i = 0; i < 6; i++)
    g_ptr_array_add (before, item_at (view, i));
  write_between_feed (path, 6);
  td_feed_manager_refresh (manager, feed_id, TRUE);
  wait_for (first_item_is, view, "Between item 6", "the items in between");
  wait_for (has_items, view, GUINT_TO_POINTER (12), "twelve items");
  for (guint i = 0; i < 6; i++)
    {
      g_autoptr(TdItemObject) item = item_at (view, i);
      g_autofree char *title = g_strdup_printf (i % 2 ? "Grow item %u" : "Between item %u", 6 - i / 2);

      g_assert_true (item == g_ptr_array_index (before, i));
      g_assert_cmpstr (td_item_object_get_title (item), ==, title);
    }

  /* Another query (a search) lists other rows: nothing is kept. */
  td_feeds_view_set_search (view, "Between item 6");
  wait_for (has_items, view, GUINT_TO_POINTER (1), "the search result");
  {
    g_autoptr(TdItemObject) found = item_at (view, 0);

    g_assert_cmpstr (td_item_object_get_title (found), ==, "Between item 6");
    for (guint i = 0; i < before->len; i++)
      g_assert_true (found != g_ptr_array_index (before, i));
  }
  td_feeds_view_set_search (view, NULL);
  wait_for (has_items, view, GUINT_TO_POINTER (12), "the feed's items again");

  moved = sidebar_row_titled (view, "Aa Grow", &new_position);
  g_assert_true (moved == row);
  g_assert_cmpuint (new_position, <, position);
  g_assert_cmpuint (td_feed_row_get_unread (moved), ==, 12);
  /* The feed is still the one shown. */
  g_assert_cmpuint (g_list_model_get_n_items (td_feeds_view_get_item_model (view)), ==, 12);

  /* Hidden, the view leaves its item list as it is while a refresh
   * brings new items (the sidebar follows); shown again, it catches up. */
  td_window_show_view (TD_WINDOW (gtk_widget_get_root (GTK_WIDGET (view))), "chat");
  wait_for (view_mapped, view, GINT_TO_POINTER (FALSE), "the view hidden");
  write_grow_feed (path, "Mm Grow", 8);
  td_feed_manager_refresh (manager, feed_id, TRUE);
  wait_for (stored_title_is, view, "Mm Grow", "the refresh stored");
  iterate_ms (2 * TD_FEEDS_VIEW_RELOAD_DELAY_MS);
  wait_for (has_sidebar_title, view, "Mm Grow", "the new title, hidden");
  g_assert_cmpuint (g_list_model_get_n_items (td_feeds_view_get_item_model (view)), ==, 12);
  td_window_show_view (TD_WINDOW (gtk_widget_get_root (GTK_WIDGET (view))), "feeds");
  wait_for (has_items, view, GUINT_TO_POINTER (14), "the new items, shown");

  /* A long list builds rows only around the ones in view (GTK 4.8's list
   * view would build 200, each measured and restyled as rows come and go;
   * the item list is a one-column grid view). */
  {
    GtkWidget *list = gtk_widget_get_ancestor (td_test_find_of_type (GTK_WIDGET (view), TD_TYPE_ITEM_ROW),
                                               GTK_TYPE_GRID_VIEW);
    g_autoptr(GPtrArray) rows = g_ptr_array_new ();
    guint n_items = 14 + 250;

    write_feed (path, "Many", "Many", n_items - 14, "Wed, 03 Jan 2024", 0, 0);
    td_feed_manager_refresh (manager, feed_id, TRUE);
    wait_for (stored_title_is, view, "Many", "the long feed stored");
    wait_for (has_items, view, GUINT_TO_POINTER (n_items), "the long feed's items");
    iterate_ms (100);
    td_test_collect (list, td_test_is_of_type, GSIZE_TO_POINTER (TD_TYPE_ITEM_ROW), rows);
    g_test_message ("%u row widgets for %u items", rows->len, n_items);
    g_assert_cmpuint (rows->len, >, 0);
    g_assert_cmpuint (rows->len, <, 64);
  }

  td_feed_manager_remove (manager, feed_id, TD_MAILBOX_NONE, 0, 0);
  wait_for (has_feeds, view, GUINT_TO_POINTER (n_feeds), "the growing feed removed");
  g_remove (path);
}

/* ------------------------------------------------------------------ */
/* First run                                                           */

static void
check_first_run (TdApplication *app,
                 TdFeedsView   *view)
{
  g_autofree char *uri = fixture_uri ("news.xml");
  g_autofree char *second = fixture_uri ("second.atom");
  g_autofree char *opml_path = g_build_filename (tmp_dir, "subscriptions.opml", NULL);
  g_autoptr(GFile) opml = g_file_new_for_path (opml_path);
  g_autoptr(TdItemObject) alpha = NULL;
  g_autoptr(TdItemObject) beta = NULL;
  g_autoptr(TdItemObject) found = NULL;
  g_autoptr(GPtrArray) feeds = NULL;
  g_autofree char *written = NULL;
  g_autofree char *text = NULL;

  /* No feeds yet: the empty state offers to subscribe. */
  wait_for (has_feeds, view, GUINT_TO_POINTER (0), "the feed list");

  td_feeds_view_subscribe (view, uri);
  wait_for (has_feeds, view, GUINT_TO_POINTER (1), "the subscription");
  wait_for (has_items, view, GUINT_TO_POINTER (3), "three items");
  wait_for (message_is, view, "Subscribed to “Tidings Test News”", "the subscribed toast");

  /* Newest first, all unread. */
  alpha = item_at (view, 0);
  g_assert_cmpstr (td_item_object_get_title (alpha), ==, "Alpha launch");
  g_assert_false (td_item_object_get_read (alpha));

  /* Opening an item shows it as text (no script, no remote image) and
   * reads it. */
  td_feeds_view_select_item (view, 0);
  wait_for (article_contains, view, "Hello world, this is the alpha article.", "the article");
  text = td_article_view_get_text (td_feeds_view_get_article_view (view));
  g_assert_null (strstr (text, "alert"));
  g_assert_nonnull (strstr (text, "[Image: chart]"));
  g_assert_nonnull (strstr (text, "• first point"));
  g_assert_true (td_item_object_get_read (alpha));

  /* j moves on; s stars; m toggles read back to unread. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (view), "feeds.next", NULL));
  beta = item_at (view, 1);
  wait_for (article_contains, view, "zeppelin", "the second article");
  g_assert_true (td_item_object_get_read (beta));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (view), "feeds.toggle-star", NULL));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (view), "feeds.toggle-read", NULL));
  /* The list may be reloaded meanwhile (reading an item changes the
   * counts), replacing its row objects: what counts is the row as shown
   * once things settle. */
  wait_for (second_starred_unread, view, NULL, "the second item starred and unread");

  /* Search goes through the full-text index. */
  td_feeds_view_set_search (view, "zeppelin");
  wait_for (has_items, view, GUINT_TO_POINTER (1), "the search result");
  found = item_at (view, 0);
  g_assert_cmpstr (td_item_object_get_title (found), ==, "Beta release");
  td_feeds_view_set_search (view, "nothing-matches-this");
  wait_for (has_items, view, GUINT_TO_POINTER (0), "no search result");
  td_feeds_view_set_search (view, NULL);
  wait_for (has_items, view, GUINT_TO_POINTER (3), "the full list again");

  /* A second feed, then export both. */
  td_feeds_view_subscribe (view, second);
  wait_for (has_feeds, view, GUINT_TO_POINTER (2), "the second subscription");
  td_feeds_view_export_opml (view, opml);
  wait_for (message_is, view, "Exported 2 feeds", "the export");
  g_assert_true (g_file_get_contents (opml_path, &written, NULL, NULL));
  g_assert_nonnull (strstr (written, uri));
  g_assert_nonnull (strstr (written, second));

  check_error_badge (app, view, 2);
  check_unloaded_row (app, view, 2);
  check_reload_keeps_rows (app, view, 2);

  /* Everything the view sent is stored before the app quits. */
  feeds = list_feeds (app, view);
  g_assert_cmpuint (feeds->len, ==, 2);
}

/* ------------------------------------------------------------------ */
/* Second run, same database                                           */

static void
check_second_run (TdApplication *app,
                  TdFeedsView   *view)
{
  g_autofree char *opml_path = g_build_filename (tmp_dir, "subscriptions.opml", NULL);
  g_autoptr(GFile) opml = g_file_new_for_path (opml_path);
  g_autoptr(GPtrArray) feeds = NULL;
  g_autoptr(TdItemObject) alpha = NULL;
  g_autoptr(TdItemObject) beta = NULL;
  g_autoptr(TdItemObject) gamma = NULL;
  g_autoptr(TdItemObject) delta = NULL;
  TdFeedManager *manager = td_feeds_app_get_manager (td_feeds_app_get (app));

  wait_for (has_feeds, view, GUINT_TO_POINTER (2), "the stored feeds");
  wait_for (has_items, view, GUINT_TO_POINTER (4), "the stored items");

  alpha = item_titled (view, "Alpha launch");
  beta = item_titled (view, "Beta release");
  gamma = item_titled (view, "Gamma notes");
  delta = item_titled (view, "Delta digest");
  g_assert_true (td_item_object_get_read (alpha));
  g_assert_false (td_item_object_get_starred (alpha));
  g_assert_false (td_item_object_get_read (beta));
  g_assert_true (td_item_object_get_starred (beta));
  g_assert_false (td_item_object_get_read (gamma));
  g_assert_false (td_item_object_get_read (delta));

  /* OPML round trip: unsubscribe from both, import the file. */
  feeds = list_feeds (app, view);
  for (guint i = 0; i < feeds->len; i++)
    td_feed_manager_remove (manager, ((TdFeedInfo *) g_ptr_array_index (feeds, i))->id, TD_MAILBOX_NONE, 0, 0);
  wait_for (has_feeds, view, GUINT_TO_POINTER (0), "no feeds");
  wait_for (has_items, view, GUINT_TO_POINTER (0), "no items");

  td_feeds_view_import_opml (view, opml);
  wait_for (message_is, view, "Imported 2 feeds", "the import");
  wait_for (has_feeds, view, GUINT_TO_POINTER (2), "the imported feeds");
  wait_for (has_items, view, GUINT_TO_POINTER (4), "the imported feeds' items");
}

static void
test_restart (void)
{
  run_app (check_first_run);
  run_app (check_second_run);
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *db = NULL;
  int status;

  tmp_dir = g_dir_make_tmp ("td-feeds-view-XXXXXX", NULL);
  db = g_build_filename (tmp_dir, "app.db", NULL);
  g_setenv ("TIDINGS_DB", db, TRUE);

  gtk_test_init (&argc, &argv, NULL);
  adw_init ();

  g_test_add_func ("/td/feeds-view/subscribe-read-restart-opml", test_restart);

  status = g_test_run ();

  {
    const char *names[] = { "app.db", "app.db-wal", "app.db-shm", "subscriptions.opml" };

    for (guint i = 0; i < G_N_ELEMENTS (names); i++)
      {
        g_autofree char *path = g_build_filename (tmp_dir, names[i], NULL);

        g_remove (path);
      }
    g_rmdir (tmp_dir);
    g_free (tmp_dir);
  }
  return status;
}
