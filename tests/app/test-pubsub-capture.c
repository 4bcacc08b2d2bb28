/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>
#include <sqlite3.h>
#include <glib/gstdio.h>
#include <adwaita.h>

#include "app/td-application.h"
#include "app/td-pubsub-message.h"
#include "app/td-pubsub-view.h"
#include "app/td-window.h"
#include "td-test-widgets.h"

/*
 * Capturing pub/sub traffic to the database, in the running app (in
 * process, not unique, local ports 0, a private database per test):
 * captured messages come back at the next start before live ones and
 * marked as such, are found by a word of their payload (binary ones by
 * channel only), nothing is stored without capture, and the cap per
 * subscription prunes the oldest. Every wait has a deadline.
 */

#define DEADLINE_MS 10000

typedef void (*ViewCheck) (TdPubsubView *view);

static char *db_dir;

static char *
db_path (const char *name)
{
  return g_build_filename (db_dir, name, NULL);
}

static void
use_db (const char *name)
{
  g_autofree char *path = db_path (name);

  g_setenv ("TIDINGS_DB", path, TRUE);
}

typedef gboolean (*Condition) (TdPubsubView *view, gconstpointer data);

static void
wait_for (TdPubsubView  *view,
          Condition      cond,
          gconstpointer  data,
          const char    *what)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) DEADLINE_MS * 1000;

  while (!cond (view, data))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("Timed out waiting for %s (counts: %s)", what, td_pubsub_view_get_counts_text (view));
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
}

/* Whether a mapped row under @widget shows the mark of a captured
 * message. */
static gboolean
is_logged_mark (GtkWidget     *widget,
                gconstpointer  data)
{
  return GTK_IS_IMAGE (widget) && gtk_widget_get_mapped (widget) &&
         g_strcmp0 (gtk_image_get_icon_name (GTK_IMAGE (widget)), "document-open-recent-symbolic") == 0;
}

static gboolean
shows_logged_mark (GtkWidget *widget)
{
  return td_test_find (widget, is_logged_mark, NULL) != NULL;
}

static gboolean
logged_mark_shown (TdPubsubView  *view,
                   gconstpointer  data)
{
  return shows_logged_mark (GTK_WIDGET (view));
}

static void
activate_cb (GApplication *app,
             gpointer      user_data)
{
  ViewCheck check = user_data;
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (app));
  GtkWidget *view;

  g_assert_true (TD_IS_WINDOW (window));
  td_window_show_view (TD_WINDOW (window), "pubsub");
  view = td_test_find_of_type (GTK_WIDGET (window), TD_TYPE_PUBSUB_VIEW);
  g_assert_nonnull (view);
  check (TD_PUBSUB_VIEW (view));
  g_application_quit (app);
}

/* Runs the app until @check returns; the recorder has written
 * everything when this returns. */
static void
run_app (ViewCheck check)
{
  g_autoptr(TdApplication) app = td_application_new (APP_ID, G_APPLICATION_NON_UNIQUE);
  g_autoptr(GSettings) settings = g_settings_new ("io.github.tidings.Tidings");
  char *argv[] = { (char *) "tidings", NULL };

  g_settings_set_int (settings, "local-pubsub-port", 0);
  g_settings_set_int (settings, "local-line-port", 0);
  g_settings_set_int (settings, "local-chat-port", 0);
  g_settings_reset (settings, "pubsub-ring-size");

  g_signal_connect_after (app, "activate", G_CALLBACK (activate_cb), check);
  g_assert_cmpint (g_application_run (G_APPLICATION (app), 1, argv), ==, 0);
}

/* A one-number query on the database of a test, after the app quit. */
static gint64
db_int (const char *name,
        const char *sql)
{
  g_autofree char *path = db_path (name);
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  gint64 value;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
  if (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) != SQLITE_OK)
    g_error ("%s: %s", sql, sqlite3_errmsg (db));
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  value = sqlite3_column_int64 (stmt, 0);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return value;
}

/* ------------------------------------------------------------------ */
/* Conditions                                                          */

static gboolean
builtin_connected (TdPubsubView  *view,
                   gconstpointer  data)
{
  TdPubsubConnection *connection = td_pubsub_view_get_selected (view);

  return connection != NULL && td_pubsub_connection_get_builtin (connection) &&
         td_pubsub_connection_get_state (connection) == TD_PUBSUB_STATE_CONNECTED;
}

static gboolean
topic_active (TdPubsubView  *view,
              gconstpointer  data)
{
  return td_pubsub_topic_get_active ((TdPubsubTopic *) data);
}

static gboolean
received (TdPubsubView  *view,
          gconstpointer  data)
{
  return td_pubsub_view_get_n_received (view) >= GPOINTER_TO_UINT (data);
}

static gboolean
ring_has (TdPubsubView  *view,
          gconstpointer  data)
{
  return g_list_model_get_n_items (G_LIST_MODEL (td_pubsub_view_get_ring (view))) >= GPOINTER_TO_UINT (data);
}

static gboolean
search_done (TdPubsubView  *view,
             gconstpointer  data)
{
  return !td_pubsub_view_get_search_busy (view);
}

/* The saved subscriptions of the built-in broker are back. */
static gboolean
topics_restored (TdPubsubView  *view,
                 gconstpointer  data)
{
  GListModel *connections = td_pubsub_view_get_connections (view);
  g_autoptr(TdPubsubConnection) builtin = NULL;

  if (g_list_model_get_n_items (connections) < 1)
    return FALSE;
  builtin = g_list_model_get_item (connections, 0);
  return g_list_model_get_n_items (td_pubsub_connection_get_topics (builtin)) == GPOINTER_TO_UINT (data);
}

static TdPubsubMessageItem *
model_item (GListModel *model,
            guint       i)
{
  TdPubsubMessageItem *item = g_list_model_get_item (model, i);

  /* The model keeps it alive; the tests only read it. */
  g_object_unref (item);
  return item;
}

static gboolean
payload_is (TdPubsubMessageItem *item,
            const char          *text)
{
  gsize len;
  const char *data = g_bytes_get_data (td_pubsub_message_item_get_payload (item), &len);

  return len == strlen (text) && memcmp (data, text, len) == 0;
}

static TdPubsubTopic *
subscribe (TdPubsubView *view,
           const char   *name,
           gboolean      capture)
{
  TdPubsubTopic *topic = td_pubsub_view_subscribe (view, name, FALSE);

  g_assert_nonnull (topic);
  td_pubsub_view_set_capture (view, topic, capture);
  g_assert_true (!td_pubsub_topic_get_capture (topic) == !capture);
  wait_for (view, topic_active, topic, "subscription confirmed");
  return topic;
}

static void
publish_n (TdPubsubView *view,
           const char   *channel,
           const char   *prefix,
           guint         n)
{
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *payload = g_strdup_printf ("%s%u", prefix, i);

      td_pubsub_view_publish (view, channel, payload);
    }
}

/* ------------------------------------------------------------------ */
/* Captured traffic survives a restart and is searchable               */

#define N_READINGS 20

static void
check_capture (TdPubsubView *view)
{
  wait_for (view, builtin_connected, NULL, "the built-in broker");
  subscribe (view, "sensors", TRUE);
  subscribe (view, "chatter", FALSE);
  subscribe (view, "logs.*", TRUE);

  publish_n (view, "sensors", "reading ", N_READINGS);
  td_pubsub_view_publish (view, "sensors", "the quick zebra jumps");
  td_pubsub_view_publish (view, "sensors", "\x01\x02 gold");
  publish_n (view, "chatter", "idle talk ", 5);
  publish_n (view, "logs.app", "log line ", 3);
  wait_for (view, received, GUINT_TO_POINTER (N_READINGS + 2 + 5 + 3), "every message");
}

static void
check_after_restart (TdPubsubView *view)
{
  TdPubsubRing *ring = td_pubsub_view_get_ring (view);
  GListModel *visible = td_pubsub_view_get_visible_messages (view);
  g_autoptr(TdPubsubConnection) builtin = NULL;
  g_autoptr(TdPubsubTopic) sensors = NULL;
  g_autoptr(TdPubsubTopic) chatter = NULL;
  const guint n_logged = N_READINGS + 2 + 3;
  TdPubsubMessageItem *item;

  /* The captured messages are in the list, marked, in arrival order;
   * the uncaptured channel's are not. */
  wait_for (view, ring_has, GUINT_TO_POINTER (n_logged), "captured messages in the list");
  for (guint i = 0; i < n_logged; i++)
    {
      item = model_item (G_LIST_MODEL (ring), i);
      g_assert_true (td_pubsub_message_item_get_logged (item));
      g_assert_cmpstr (td_pubsub_message_item_get_channel (item), !=, "chatter");
    }
  /* Their rows carry the mark (made for the first row that needs it). */
  wait_for (view, logged_mark_shown, NULL, "the mark of captured messages");
  g_assert_true (payload_is (model_item (G_LIST_MODEL (ring), 0), "reading 0"));
  g_assert_true (payload_is (model_item (G_LIST_MODEL (ring), N_READINGS - 1), "reading 19"));
  item = model_item (G_LIST_MODEL (ring), N_READINGS + 1);
  g_assert_cmpint (td_pubsub_message_item_get_format (item), ==, TD_PAYLOAD_BINARY);
  item = model_item (G_LIST_MODEL (ring), n_logged - 1);
  g_assert_true (payload_is (item, "log line 2"));
  g_assert_cmpstr (td_pubsub_message_item_get_pattern (item), ==, "logs.*");
  g_assert_cmpuint (td_pubsub_view_get_n_received (view), ==, 0);

  /* The capture setting came back with the subscriptions. */
  wait_for (view, topics_restored, GUINT_TO_POINTER (3), "restored subscriptions");
  builtin = g_list_model_get_item (td_pubsub_view_get_connections (view), 0);
  sensors = g_list_model_get_item (td_pubsub_connection_get_topics (builtin), 0);
  chatter = g_list_model_get_item (td_pubsub_connection_get_topics (builtin), 1);
  g_assert_cmpstr (td_pubsub_topic_get_name (sensors), ==, "sensors");
  g_assert_true (td_pubsub_topic_get_capture (sensors));
  g_assert_false (td_pubsub_topic_get_capture (chatter));

  /* Live traffic comes after them, unmarked, and is captured too. */
  wait_for (view, builtin_connected, NULL, "the built-in broker");
  wait_for (view, topic_active, sensors, "restored subscription confirmed");
  td_pubsub_view_publish (view, "sensors", "fresh zebra crossing");
  wait_for (view, ring_has, GUINT_TO_POINTER (n_logged + 1), "a live message");
  item = model_item (G_LIST_MODEL (ring), n_logged);
  g_assert_false (td_pubsub_message_item_get_logged (item));
  g_assert_true (payload_is (item, "fresh zebra crossing"));

  /* A word of a payload finds it; newest first. */
  td_pubsub_view_search (view, "zebra");
  g_assert_true (td_pubsub_view_get_searching (view));
  wait_for (view, search_done, NULL, "search results");
  g_assert_cmpuint (g_list_model_get_n_items (visible), ==, 2);
  g_assert_true (payload_is (model_item (visible, 0), "fresh zebra crossing"));
  g_assert_true (payload_is (model_item (visible, 1), "the quick zebra jumps"));
  g_assert_true (td_pubsub_message_item_get_logged (model_item (visible, 0)));
  g_assert_nonnull (strstr (td_pubsub_view_get_counts_text (view), "2 captured messages found"));

  /* Prefixes, case and diacritics do not matter. */
  td_pubsub_view_search (view, "Quíck zeb");
  wait_for (view, search_done, NULL, "search results");
  g_assert_cmpuint (g_list_model_get_n_items (visible), ==, 1);

  /* A binary payload is found by its channel, never by its bytes. */
  td_pubsub_view_search (view, "gold");
  wait_for (view, search_done, NULL, "search results");
  g_assert_cmpuint (g_list_model_get_n_items (visible), ==, 0);
  td_pubsub_view_search (view, "sensors");
  wait_for (view, search_done, NULL, "search results");
  g_assert_cmpuint (g_list_model_get_n_items (visible), ==, N_READINGS + 3);

  /* Nothing of the uncaptured channel; quotes are only text. */
  td_pubsub_view_search (view, "idle");
  wait_for (view, search_done, NULL, "search results");
  g_assert_cmpuint (g_list_model_get_n_items (visible), ==, 0);
  td_pubsub_view_search (view, "\"zebra OR");
  wait_for (view, search_done, NULL, "search results");
  g_assert_cmpuint (g_list_model_get_n_items (visible), ==, 0);
  g_assert_null (strstr (td_pubsub_view_get_counts_text (view), "failed"));

  /* No words: every captured message. The channel filter applies. */
  td_pubsub_view_search (view, "");
  wait_for (view, search_done, NULL, "search results");
  g_assert_cmpuint (g_list_model_get_n_items (visible), ==, n_logged + 1);
  td_pubsub_view_set_filter (view, "logs", NULL);
  g_assert_cmpuint (g_list_model_get_n_items (visible), ==, 3);
  td_pubsub_view_set_filter (view, NULL, NULL);

  /* Leaving search mode shows the live list again. */
  td_pubsub_view_set_searching (view, FALSE);
  g_assert_cmpuint (g_list_model_get_n_items (visible), ==, n_logged + 1);
  g_assert_false (td_pubsub_message_item_get_logged (model_item (visible, n_logged)));
}

static void
test_restart_and_search (void)
{
  use_db ("capture.db");
  run_app (check_capture);
  g_assert_cmpint (db_int ("capture.db", "SELECT count(*) FROM pubsub_messages"), ==, N_READINGS + 2 + 3);
  run_app (check_after_restart);
  g_assert_cmpint (db_int ("capture.db", "SELECT count(*) FROM pubsub_messages"), ==, N_READINGS + 2 + 3 + 1);
}

/* ------------------------------------------------------------------ */
/* Capture off stores nothing                                          */

static void
check_off (TdPubsubView *view)
{
  TdPubsubTopic *toggled;

  wait_for (view, builtin_connected, NULL, "the built-in broker");
  subscribe (view, "quiet", FALSE);
  toggled = subscribe (view, "toggled", TRUE);

  publish_n (view, "quiet", "not kept ", 10);
  publish_n (view, "toggled", "kept ", 3);
  wait_for (view, received, GUINT_TO_POINTER (13), "the first messages");

  td_pubsub_view_set_capture (view, toggled, FALSE);
  publish_n (view, "toggled", "after ", 5);
  wait_for (view, received, GUINT_TO_POINTER (18), "the last messages");
}

static void
test_capture_off (void)
{
  use_db ("off.db");
  run_app (check_off);
  g_assert_cmpint (db_int ("off.db", "SELECT count(*) FROM pubsub_messages WHERE channel = 'quiet'"), ==, 0);
  g_assert_cmpint (db_int ("off.db", "SELECT count(*) FROM pubsub_messages WHERE channel = 'toggled'"), ==, 3);
  g_assert_cmpint (db_int ("off.db", "SELECT count(*) FROM pubsub_messages"
                                     " WHERE CAST (payload AS TEXT) LIKE 'after%'"), ==, 0);
  g_assert_cmpint (db_int ("off.db", "SELECT capture FROM pubsub_subscriptions WHERE topic = 'toggled'"), ==, 0);
}

/* ------------------------------------------------------------------ */
/* Unsubscribing from a captured subscription asks first               */

static AdwMessageDialog *
find_dialog (void)
{
  GListModel *toplevels = gtk_window_get_toplevels ();  /* not owned */

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GObject) window = g_list_model_get_item (toplevels, i);

      if (ADW_IS_MESSAGE_DIALOG (window) && gtk_widget_get_visible (GTK_WIDGET (window)))
        return ADW_MESSAGE_DIALOG (window);
    }
  return NULL;
}

static gboolean
no_dialog (TdPubsubView  *view,
           gconstpointer  data)
{
  return find_dialog () == NULL;
}

static gboolean
topic_gone (TdPubsubView  *view,
            gconstpointer  data)
{
  GListModel *topics = td_pubsub_connection_get_topics (td_pubsub_view_get_selected (view));

  for (guint i = 0; i < g_list_model_get_n_items (topics); i++)
    {
      g_autoptr(TdPubsubTopic) topic = g_list_model_get_item (topics, i);

      if (g_strcmp0 (td_pubsub_topic_get_name (topic), data) == 0)
        return FALSE;
    }
  return TRUE;
}

static void
check_unsubscribe (TdPubsubView *view)
{
  TdPubsubTopic *plain;
  TdPubsubTopic *kept;
  AdwMessageDialog *dialog;

  wait_for (view, builtin_connected, NULL, "the built-in broker");
  plain = subscribe (view, "plain", FALSE);
  kept = subscribe (view, "kept", TRUE);
  publish_n (view, "kept", "kept ", 3);
  wait_for (view, received, GUINT_TO_POINTER (3), "the captured messages");

  /* Nothing captured: gone at once, no question. */
  g_assert_true (td_pubsub_view_unsubscribe (view, plain));
  g_assert_null (find_dialog ());
  wait_for (view, topic_gone, "plain", "the plain subscription gone");

  /* Captured: asked first; cancelling keeps it. */
  g_assert_false (td_pubsub_view_unsubscribe (view, kept));
  dialog = find_dialog ();
  g_assert_nonnull (dialog);
  g_assert_nonnull (strstr (adw_message_dialog_get_body (dialog), "“kept”"));
  /* As a click on a response button does. */
  adw_message_dialog_response (dialog, "cancel");
  gtk_window_close (GTK_WINDOW (dialog));
  wait_for (view, no_dialog, NULL, "the dialog closed");
  g_assert_false (topic_gone (view, "kept"));

  /* Confirmed: gone, and its captures with it (checked after quit). */
  g_assert_false (td_pubsub_view_unsubscribe (view, kept));
  dialog = find_dialog ();
  g_assert_nonnull (dialog);
  adw_message_dialog_response (dialog, "unsubscribe");
  gtk_window_close (GTK_WINDOW (dialog));
  wait_for (view, no_dialog, NULL, "the dialog closed");
  wait_for (view, topic_gone, "kept", "the captured subscription gone");
}

static void
test_unsubscribe (void)
{
  use_db ("unsubscribe.db");
  run_app (check_unsubscribe);
  g_assert_cmpint (db_int ("unsubscribe.db", "SELECT count(*) FROM pubsub_subscriptions"
                                             " WHERE topic IN ('plain', 'kept')"), ==, 0);
  g_assert_cmpint (db_int ("unsubscribe.db", "SELECT count(*) FROM pubsub_messages WHERE channel = 'kept'"), ==, 0);
}

/* ------------------------------------------------------------------ */
/* The cap prunes the oldest                                           */

#define CAP 10
#define N_FLOOD 35

static void
check_cap (TdPubsubView *view)
{
  wait_for (view, builtin_connected, NULL, "the built-in broker");
  td_pubsub_view_set_capture_max (view, CAP);
  subscribe (view, "flood", TRUE);
  subscribe (view, "trickle", TRUE);
  td_pubsub_view_publish (view, "trickle", "kept 0");
  publish_n (view, "flood", "", N_FLOOD);
  td_pubsub_view_publish (view, "trickle", "kept 1");
  wait_for (view, received, GUINT_TO_POINTER (N_FLOOD + 2), "the flood");
}

static void
test_cap (void)
{
  use_db ("cap.db");
  run_app (check_cap);
  /* Only the newest CAP of the flood, and the other subscription's
   * messages are untouched. */
  g_assert_cmpint (db_int ("cap.db", "SELECT count(*) FROM pubsub_messages WHERE channel = 'flood'"), ==, CAP);
  g_assert_cmpint (db_int ("cap.db", "SELECT min (CAST (CAST (payload AS TEXT) AS INTEGER))"
                                     " FROM pubsub_messages WHERE channel = 'flood'"), ==, N_FLOOD - CAP);
  g_assert_cmpint (db_int ("cap.db", "SELECT n_captured FROM pubsub_subscriptions WHERE topic = 'flood'"), ==, CAP);
  g_assert_cmpint (db_int ("cap.db", "SELECT count(*) FROM pubsub_messages WHERE channel = 'trickle'"), ==, 2);
  /* The index follows the pruning. */
  g_assert_cmpint (db_int ("cap.db", "SELECT count(*) FROM pubsub_messages_fts"
                                     " WHERE pubsub_messages_fts MATCH 'flood'"), ==, CAP);
  g_assert_cmpint (db_int ("cap.db", "SELECT count(*) FROM pubsub_messages_fts"
                                     " WHERE pubsub_messages_fts MATCH 'flood \"0\"'"), ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  int ret;

  gtk_test_init (&argc, &argv, NULL);
  adw_init ();

  db_dir = g_dir_make_tmp ("td-pubsub-capture-XXXXXX", NULL);
  g_assert_nonnull (db_dir);

  g_test_add_func ("/td/pubsub-capture/restart-and-search", test_restart_and_search);
  g_test_add_func ("/td/pubsub-capture/off", test_capture_off);
  g_test_add_func ("/td/pubsub-capture/cap", test_cap);
  g_test_add_func ("/td/pubsub-capture/unsubscribe", test_unsubscribe);

  ret = g_test_run ();

  {
    g_autoptr(GDir) d = g_dir_open (db_dir, 0, NULL);
    const char *name;

    while (d != NULL && (name = g_dir_read_name (d)) != NULL)
      {
        g_autofree char *path = g_build_filename (db_dir, name, NULL);

        g_unlink (path);
      }
  }
  g_rmdir (db_dir);
  g_free (db_dir);
  return ret;
}
