/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>
#include <glib/gstdio.h>
#include <adwaita.h>

#include "app/td-application.h"
#include "app/td-pubsub-message.h"
#include "app/td-pubsub-row.h"
#include "app/td-pubsub-view.h"
#include "app/td-row-text.h"
#include "app/td-window.h"
#include "server/td-server.h"
#include "td-test-widgets.h"

/*
 * The Pub/Sub view inside the running app (in-process, not unique, local
 * ports 0, a private database): subscribe, publish, see the message,
 * pause, filter, the ring's drop count, reconnecting after a server
 * restart, and subscriptions restored at the next start. Every wait has
 * a deadline.
 */

#define DEADLINE_MS 10000

typedef void (*ViewCheck) (TdPubsubView *view);

static char *db_dir;

/* Each test starts with a database of its own. */
static void
use_db (const char *name)
{
  g_autofree char *path = g_build_filename (db_dir, name, NULL);

  g_setenv ("TIDINGS_DB", path, TRUE);
}

typedef gboolean (*Condition) (TdPubsubView *view, gconstpointer data);

static void
wait_for (TdPubsubView  *view,
          Condition      cond,
          gconstpointer  data,
          guint          ms,
          const char    *what)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) ms * 1000;

  while (!cond (view, data))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("Timed out waiting for %s (counts: %s; publish: %s)", what,
                 td_pubsub_view_get_counts_text (view), td_pubsub_view_get_publish_result (view));
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
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
ring_has (TdPubsubView  *view,
          gconstpointer  data)
{
  return g_list_model_get_n_items (G_LIST_MODEL (td_pubsub_view_get_ring (view))) >= GPOINTER_TO_UINT (data);
}

/* The list shows live messages in batches, a little after they came. */
static gboolean
ring_ends_with (TdPubsubView  *view,
                gconstpointer  data)
{
  GListModel *ring = G_LIST_MODEL (td_pubsub_view_get_ring (view));
  guint n = g_list_model_get_n_items (ring);
  g_autoptr(TdPubsubMessageItem) last = n > 0 ? g_list_model_get_item (ring, n - 1) : NULL;
  GBytes *payload = last ? td_pubsub_message_item_get_payload (last) : NULL;

  return payload != NULL && g_bytes_get_size (payload) == strlen (data) &&
         memcmp (g_bytes_get_data (payload, NULL), data, strlen (data)) == 0;
}

static gboolean
received (TdPubsubView  *view,
          gconstpointer  data)
{
  return td_pubsub_view_get_n_received (view) >= GPOINTER_TO_UINT (data);
}

static gboolean
publish_result_is (TdPubsubView  *view,
                   gconstpointer  data)
{
  return g_strcmp0 (td_pubsub_view_get_publish_result (view), data) == 0;
}

static gboolean
state_is (TdPubsubView  *view,
          gconstpointer  data)
{
  const struct { TdPubsubConnection *connection; TdPubsubState state; } *want = data;

  return td_pubsub_connection_get_state (want->connection) == want->state;
}

static TdPubsubMessageItem *
ring_item (TdPubsubView *view,
           guint         i)
{
  TdPubsubMessageItem *item = g_list_model_get_item (G_LIST_MODEL (td_pubsub_view_get_ring (view)), i);

  /* The ring keeps it alive; the tests only read it. */
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

/* The first row the message list keeps, in widget order: the note
 * above the first message. */
static GtkWidget *
first_row (TdPubsubView *view)
{
  return td_test_find_of_type (GTK_WIDGET (view), TD_TYPE_PUBSUB_ROW);
}

static const char *
row_payload (GtkWidget *row)
{
  return td_row_text_get_text (TD_ROW_TEXT (td_pubsub_row_get_text (TD_PUBSUB_ROW (row), TD_PUBSUB_ROW_PAYLOAD)));
}

/* TRUE once the list's first row shows the note @data. */
static gboolean
first_row_is_note (TdPubsubView  *view,
                   gconstpointer  data)
{
  GtkWidget *row = first_row (view);

  return row != NULL && g_strcmp0 (row_payload (row), data) == 0;
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */

static void
check_live (TdPubsubView *view)
{
  TdPubsubTopic *topic;
  TdPubsubTopic *pattern;
  TdPubsubMessageItem *item;
  GListModel *visible = td_pubsub_view_get_visible_messages (view);
  guint n;

  wait_for (view, builtin_connected, NULL, DEADLINE_MS, "the built-in broker");
  g_assert_cmpstr (td_pubsub_connection_get_status_text (td_pubsub_view_get_selected (view)), ==, "Connected");

  topic = td_pubsub_view_subscribe (view, "news", FALSE);
  g_assert_nonnull (topic);
  g_assert_false (td_pubsub_topic_get_is_pattern (topic));
  g_assert_null (td_pubsub_view_subscribe (view, "news", FALSE));   /* already */
  pattern = td_pubsub_view_subscribe (view, "sport.*", FALSE);
  g_assert_true (td_pubsub_topic_get_is_pattern (pattern));
  wait_for (view, topic_active, topic, DEADLINE_MS, "SUBSCRIBE confirmed");
  wait_for (view, topic_active, pattern, DEADLINE_MS, "PSUBSCRIBE confirmed");

  /* Publish through the view; the message comes back through it. */
  g_assert_cmpuint (td_pubsub_view_publish (view, "news", "hello world"), >, 0);
  wait_for (view, publish_result_is, "Published (1 receiver)", DEADLINE_MS, "publish result");
  wait_for (view, ring_has, GUINT_TO_POINTER (1), DEADLINE_MS, "the message in the list");
  item = ring_item (view, 0);
  g_assert_cmpstr (td_pubsub_message_item_get_channel (item), ==, "news");
  g_assert_null (td_pubsub_message_item_get_pattern (item));
  g_assert_true (payload_is (item, "hello world"));
  g_assert_cmpint (td_pubsub_message_item_get_format (item), ==, TD_PAYLOAD_TEXT);
  g_assert_cmpuint (g_list_model_get_n_items (visible), ==, 1);
  /* A note comes first in the list, then the message. */
  g_assert_nonnull (first_row (view));
  g_assert_cmpstr (row_payload (first_row (view)), ==, "Start of the list");
  {
    GtkWidget *list = gtk_widget_get_ancestor (first_row (view), GTK_TYPE_GRID_VIEW);
    GListModel *shown = G_LIST_MODEL (gtk_grid_view_get_model (GTK_GRID_VIEW (list)));
    g_autoptr(GObject) note = g_list_model_get_item (shown, 0);
    g_autoptr(GObject) message = g_list_model_get_item (shown, 1);

    g_assert_cmpuint (g_list_model_get_n_items (shown), ==, 2);
    g_assert_false (TD_IS_PUBSUB_MESSAGE_ITEM (note));
    g_assert_true (TD_IS_PUBSUB_MESSAGE_ITEM (message));
  }

  /* Pattern match, JSON pretty-printed. */
  td_pubsub_view_publish (view, "sport.tennis", "{\"score\":[6,4]}");
  wait_for (view, ring_has, GUINT_TO_POINTER (2), DEADLINE_MS, "the pattern message");
  item = ring_item (view, 1);
  g_assert_cmpstr (td_pubsub_message_item_get_pattern (item), ==, "sport.*");
  g_assert_cmpint (td_pubsub_message_item_get_format (item), ==, TD_PAYLOAD_JSON);
  g_assert_nonnull (strstr (td_pubsub_message_item_get_display (item), "\n  \"score\" : ["));

  /* Binary as hex. */
  td_pubsub_view_publish (view, "news", "\x01\x02 binary");
  wait_for (view, ring_has, GUINT_TO_POINTER (3), DEADLINE_MS, "the binary message");
  item = ring_item (view, 2);
  g_assert_cmpint (td_pubsub_message_item_get_format (item), ==, TD_PAYLOAD_BINARY);
  g_assert_true (g_str_has_prefix (td_pubsub_message_item_get_display (item), "00000000  01 02 20 62"));

  /* The channel list counts, and the sparklines animate while messages come. */
  g_assert_cmpuint (g_list_model_get_n_items (td_pubsub_view_get_channels (view)), ==, 2);
  g_assert_true (td_pubsub_view_is_animating (view));

  /* Pause: counting goes on, the list stays; resume adds what came. */
  n = g_list_model_get_n_items (G_LIST_MODEL (td_pubsub_view_get_ring (view)));
  td_pubsub_view_set_paused (view, TRUE);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (view), "pubsub.clear", NULL));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (td_pubsub_view_get_ring (view))), ==, 0);
  g_assert_cmpuint (td_pubsub_view_get_n_received (view), ==, 0);
  td_pubsub_view_publish (view, "news", "one");
  td_pubsub_view_publish (view, "news", "two");
  td_pubsub_view_publish (view, "sport.golf", "three");
  wait_for (view, received, GUINT_TO_POINTER (3), DEADLINE_MS, "counting while paused");
  td_test_spin (100);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (td_pubsub_view_get_ring (view))), ==, 0);
  g_assert_nonnull (strstr (td_pubsub_view_get_counts_text (view), "3 received"));
  g_assert_nonnull (strstr (td_pubsub_view_get_counts_text (view), "Paused, 3 waiting"));
  /* The pause toggle is the view's property action. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (view), "pubsub.paused", NULL));
  g_assert_false (td_pubsub_view_get_paused (view));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (td_pubsub_view_get_ring (view))), ==, 3);
  g_assert_true (payload_is (ring_item (view, 0), "one"));
  g_assert_true (payload_is (ring_item (view, 2), "three"));
  (void) n;

  /* Filter by channel and by text, case-insensitive. */
  td_pubsub_view_set_filter (view, "NEWS", NULL);
  g_assert_cmpuint (g_list_model_get_n_items (visible), ==, 2);
  td_pubsub_view_set_filter (view, "news", "TWO");
  g_assert_cmpuint (g_list_model_get_n_items (visible), ==, 1);
  g_assert_true (payload_is (g_list_model_get_item (visible, 0), "two"));
  g_object_unref (g_list_model_get_item (visible, 0));
  td_pubsub_view_set_filter (view, NULL, "nothing like this");
  g_assert_cmpuint (g_list_model_get_n_items (visible), ==, 0);
  /* New messages go through the filter as they arrive. */
  td_pubsub_view_set_filter (view, "golf", NULL);
  td_pubsub_view_publish (view, "sport.golf", "four");
  td_pubsub_view_publish (view, "news", "five");
  wait_for (view, ring_has, GUINT_TO_POINTER (5), DEADLINE_MS, "two more");
  g_assert_cmpuint (g_list_model_get_n_items (visible), ==, 2);
  td_pubsub_view_set_filter (view, "", "");
  g_assert_cmpuint (g_list_model_get_n_items (visible), ==, 5);

  /* Unsubscribing: the server reports no receiver. */
  g_assert_true (td_pubsub_connection_unsubscribe (td_pubsub_view_get_selected (view), pattern));
  td_pubsub_view_publish (view, "sport.golf", "nobody");
  wait_for (view, publish_result_is, "Published (0 receivers)", DEADLINE_MS, "publish to nobody");
}

static void
test_live (void)
{
  use_db ("live.db");
  run_app (check_live);
}

/* The ring keeps pubsub-ring-size messages and counts what it drops. */
static void
check_ring (TdPubsubView *view)
{
  g_autoptr(GSettings) settings = g_settings_new ("io.github.tidings.Tidings");
  TdPubsubTopic *topic;
  TdPubsubRing *ring = td_pubsub_view_get_ring (view);
  guint64 changes;
  g_autoptr(GObject) note = NULL;
  GtkWidget *list;
  GListModel *shown;

  wait_for (view, builtin_connected, NULL, DEADLINE_MS, "the built-in broker");
  g_settings_set_uint (settings, "pubsub-ring-size", 100);
  td_test_spin (50);
  g_assert_cmpuint (td_pubsub_ring_get_capacity (ring), ==, 100);

  topic = td_pubsub_view_subscribe (view, "flood", FALSE);
  wait_for (view, topic_active, topic, DEADLINE_MS, "SUBSCRIBE confirmed");
  changes = td_pubsub_ring_get_n_changes (ring);
  for (guint i = 0; i < 250; i++)
    {
      g_autofree char *payload = g_strdup_printf ("%u", i);

      td_pubsub_view_publish (view, "flood", payload);
    }
  wait_for (view, received, GUINT_TO_POINTER (250), DEADLINE_MS, "the flood");
  wait_for (view, ring_ends_with, "249", DEADLINE_MS, "the flood in the list");
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (ring)), ==, 100);
  g_assert_cmpuint (td_pubsub_view_get_n_dropped (view), ==, 150);
  g_assert_true (payload_is (ring_item (view, 0), "150"));
  g_assert_true (payload_is (ring_item (view, 99), "249"));
  g_assert_nonnull (strstr (td_pubsub_view_get_counts_text (view), "150 dropped"));
  /* Batches: far fewer model changes than messages. */
  g_test_message ("%" G_GUINT64_FORMAT " model changes for 250 messages",
                  td_pubsub_ring_get_n_changes (ring) - changes);
  g_assert_cmpuint (td_pubsub_ring_get_n_changes (ring) - changes, <, 250);

  /* The note stays the list's first item however many old messages go:
   * a new first item would restyle every row after it. */
  list = gtk_widget_get_ancestor (first_row (view), GTK_TYPE_GRID_VIEW);
  shown = G_LIST_MODEL (gtk_grid_view_get_model (GTK_GRID_VIEW (list)));
  note = g_list_model_get_item (shown, 0);
  for (guint i = 250; i < 400; i++)
    {
      g_autofree char *payload = g_strdup_printf ("%u", i);

      td_pubsub_view_publish (view, "flood", payload);
    }
  wait_for (view, ring_ends_with, "399", DEADLINE_MS, "more of the flood in the list");
  g_assert_true (payload_is (ring_item (view, 0), "300"));
  {
    g_autoptr(GObject) first = g_list_model_get_item (shown, 0);

    g_assert_true (first == note);
  }
  /* Scrolled to the top, it says that older messages are not kept (a
   * grid view builds rows only near the one in view). */
  gtk_widget_activate_action (list, "list.scroll-to-item", "u", 0);
  wait_for (view, first_row_is_note, "Older messages are not kept: the list keeps the newest 100",
            DEADLINE_MS, "the note at the top");
}

static void
test_ring (void)
{
  use_db ("ring.db");
  run_app (check_ring);
}

static gboolean
view_mapped (TdPubsubView  *view,
             gconstpointer  data)
{
  return gtk_widget_get_mapped (GTK_WIDGET (view)) == GPOINTER_TO_INT (data);
}

/* TRUE once the message list shows its end, and is taller than its
 * window. */
static gboolean
list_at_bottom (TdPubsubView  *view,
                gconstpointer  data)
{
  GtkWidget *row = first_row (view);
  GtkWidget *scroller = row ? gtk_widget_get_ancestor (row, GTK_TYPE_SCROLLED_WINDOW) : NULL;
  GtkAdjustment *adj = scroller ? gtk_scrolled_window_get_vadjustment (GTK_SCROLLED_WINDOW (scroller)) : NULL;

  return adj != NULL && gtk_adjustment_get_upper (adj) > gtk_adjustment_get_page_size (adj) &&
         gtk_adjustment_get_value (adj) + gtk_adjustment_get_page_size (adj) >= gtk_adjustment_get_upper (adj) - 2;
}

/* Hidden, the view lets the first TD_PUBSUB_VIEW_PREBUILD messages into
 * its list a few at a time (the list builds its rows in the background);
 * the rest wait until it shows. */
static void
check_hidden (TdPubsubView *view)
{
  TdWindow *window = TD_WINDOW (gtk_widget_get_root (GTK_WIDGET (view)));
  TdPubsubRing *ring = td_pubsub_view_get_ring (view);
  TdPubsubTopic *topic;
  guint total = TD_PUBSUB_VIEW_PREBUILD + 3 * TD_PUBSUB_VIEW_PREBUILD_STEP;
  guint64 changes;
  guint n;
  g_autofree char *last = NULL;

  wait_for (view, builtin_connected, NULL, DEADLINE_MS, "the built-in broker");
  topic = td_pubsub_view_subscribe (view, "bg", FALSE);
  wait_for (view, topic_active, topic, DEADLINE_MS, "SUBSCRIBE confirmed");
  td_window_show_view (window, "chat");
  wait_for (view, view_mapped, GINT_TO_POINTER (FALSE), DEADLINE_MS, "the view hidden");

  /* A few, all in the list while hidden: shown, the list follows them
   * to the newest. */
  for (guint i = 0; i < TD_PUBSUB_VIEW_PREBUILD_STEP; i++)
    td_pubsub_view_publish (view, "bg", "early");
  wait_for (view, ring_has, GUINT_TO_POINTER (TD_PUBSUB_VIEW_PREBUILD_STEP), DEADLINE_MS, "the early messages in the list");
  td_window_show_view (window, "pubsub");
  wait_for (view, list_at_bottom, NULL, DEADLINE_MS, "the list at the newest message");
  td_window_show_view (window, "chat");
  wait_for (view, view_mapped, GINT_TO_POINTER (FALSE), DEADLINE_MS, "the view hidden again");
  td_pubsub_view_clear (view);

  changes = td_pubsub_ring_get_n_changes (ring);
  for (guint i = 0; i < total; i++)
    {
      g_autofree char *payload = g_strdup_printf ("%u", i);

      td_pubsub_view_publish (view, "bg", payload);
    }
  wait_for (view, received, GUINT_TO_POINTER (total), DEADLINE_MS, "the messages");
  wait_for (view, ring_has, GUINT_TO_POINTER (TD_PUBSUB_VIEW_PREBUILD), DEADLINE_MS, "the first messages in the list");
  td_test_spin (3 * 100);
  n = g_list_model_get_n_items (G_LIST_MODEL (ring));
  g_assert_cmpuint (n, <, TD_PUBSUB_VIEW_PREBUILD + TD_PUBSUB_VIEW_PREBUILD_STEP);
  /* In steps of at most TD_PUBSUB_VIEW_PREBUILD_STEP, in order. */
  g_assert_cmpuint (td_pubsub_ring_get_n_changes (ring) - changes, >=, n / TD_PUBSUB_VIEW_PREBUILD_STEP);
  g_assert_true (payload_is (ring_item (view, 0), "0"));
  last = g_strdup_printf ("%u", n - 1);
  g_assert_true (payload_is (ring_item (view, n - 1), last));
  g_assert_false (gtk_widget_get_mapped (GTK_WIDGET (view)));

  /* Shown, the list takes the rest at once. */
  td_window_show_view (window, "pubsub");
  wait_for (view, ring_has, GUINT_TO_POINTER (total), DEADLINE_MS, "the rest in the list");
  g_free (last);
  last = g_strdup_printf ("%u", total - 1);
  g_assert_true (payload_is (ring_item (view, total - 1), last));
}

static void
test_hidden (void)
{
  use_db ("hidden.db");
  run_app (check_hidden);
}

/* A server the test owns: stop it, see "retrying", start it again on the
 * same port, see the subscription come back. */
static TdServer *
server_start (guint16 port)
{
  g_autoptr(TdServerConfig) config = td_server_config_new ();
  g_autoptr(GError) error = NULL;
  TdServer *server;

  config->pubsub_port = port;
  config->line_port = -1;
  config->chat_port = -1;
  config->chat_tls_port = -1;
  config->files_port = -1;
  server = td_server_new (config);
  g_assert_true (td_server_start_thread (server, &error));
  g_assert_no_error (error);
  return server;
}

static void
check_reconnect (TdPubsubView *view)
{
  TdServer *server = server_start (0);
  guint16 port = td_server_get_port (server, "pubsub");
  TdPubsubConnection *connection;
  TdPubsubTopic *topic;
  struct { TdPubsubConnection *connection; TdPubsubState state; } want;
  guint64 before;

  connection = td_pubsub_view_add_connection (view, "127.0.0.1", port, FALSE, NULL);
  g_assert_true (connection == td_pubsub_view_add_connection (view, "127.0.0.1", port, FALSE, NULL));
  td_pubsub_view_select (view, connection);
  g_assert_true (td_pubsub_view_get_selected (view) == connection);
  topic = td_pubsub_view_subscribe (view, "alive", FALSE);
  wait_for (view, topic_active, topic, DEADLINE_MS, "SUBSCRIBE confirmed");
  td_pubsub_view_publish (view, "alive", "before");
  wait_for (view, received, GUINT_TO_POINTER (1), DEADLINE_MS, "a message");

  td_server_free (server);
  want.connection = connection;
  want.state = TD_PUBSUB_STATE_RETRYING;
  wait_for (view, state_is, &want, DEADLINE_MS, "retrying");
  g_assert_true (g_str_has_prefix (td_pubsub_connection_get_status_text (connection), "Retrying in "));
  g_assert_false (td_pubsub_topic_get_active (topic));

  server = server_start (port);
  want.state = TD_PUBSUB_STATE_CONNECTED;
  wait_for (view, state_is, &want, DEADLINE_MS * 2, "reconnected");
  wait_for (view, topic_active, topic, DEADLINE_MS, "resubscribed");
  before = td_pubsub_view_get_n_received (view);
  td_pubsub_view_publish (view, "alive", "after");
  wait_for (view, publish_result_is, "Published (1 receiver)", DEADLINE_MS, "publish after restart");
  wait_for (view, received, GUINT_TO_POINTER (before + 1), DEADLINE_MS, "a message after restart");

  td_pubsub_view_remove_connection (view, connection);
  g_assert_cmpuint (g_list_model_get_n_items (td_pubsub_view_get_connections (view)), ==, 1);
  td_server_free (server);
}

static void
test_reconnect (void)
{
  use_db ("reconnect.db");
  run_app (check_reconnect);
}

/* Subscriptions and connections are saved and come back at the next start. */
static void
check_save (TdPubsubView *view)
{
  wait_for (view, builtin_connected, NULL, DEADLINE_MS, "the built-in broker");
  g_assert_nonnull (td_pubsub_view_subscribe (view, "kept", FALSE));
  g_assert_nonnull (td_pubsub_view_subscribe (view, "kept.*", FALSE));
  g_assert_nonnull (td_pubsub_view_add_connection (view, "127.0.0.1", 1, FALSE, "secret"));
}

static gboolean
restored (TdPubsubView  *view,
          gconstpointer  data)
{
  GListModel *connections = td_pubsub_view_get_connections (view);
  g_autoptr(TdPubsubConnection) builtin = NULL;
  g_autoptr(TdPubsubConnection) other = NULL;
  GListModel *topics;

  if (g_list_model_get_n_items (connections) < 2)
    return FALSE;
  builtin = g_list_model_get_item (connections, 0);
  other = g_list_model_get_item (connections, 1);
  topics = td_pubsub_connection_get_topics (builtin);
  return td_pubsub_connection_get_builtin (builtin) &&
         g_strcmp0 (td_pubsub_connection_get_key (other), "127.0.0.1:1") == 0 &&
         g_list_model_get_n_items (topics) == 2;
}

static void
check_restored (TdPubsubView *view)
{
  GListModel *topics;
  g_autoptr(TdPubsubConnection) builtin = NULL;
  g_autoptr(TdPubsubTopic) first = NULL;
  g_autoptr(TdPubsubTopic) second = NULL;

  wait_for (view, restored, NULL, DEADLINE_MS, "restored connections");
  builtin = g_list_model_get_item (td_pubsub_view_get_connections (view), 0);
  topics = td_pubsub_connection_get_topics (builtin);
  first = g_list_model_get_item (topics, 0);
  second = g_list_model_get_item (topics, 1);
  g_assert_cmpstr (td_pubsub_topic_get_name (first), ==, "kept");
  g_assert_false (td_pubsub_topic_get_is_pattern (first));
  g_assert_cmpstr (td_pubsub_topic_get_name (second), ==, "kept.*");
  g_assert_true (td_pubsub_topic_get_is_pattern (second));
  wait_for (view, topic_active, second, DEADLINE_MS, "restored subscription confirmed");

  /* Removed for good. */
  {
    g_autoptr(TdPubsubConnection) other = g_list_model_get_item (td_pubsub_view_get_connections (view), 1);

    td_pubsub_view_remove_connection (view, other);
  }
}

static void
check_removed (TdPubsubView *view)
{
  wait_for (view, builtin_connected, NULL, DEADLINE_MS, "the built-in broker");
  td_test_spin (300);
  g_assert_cmpuint (g_list_model_get_n_items (td_pubsub_view_get_connections (view)), ==, 1);
}

static void
test_save (void)
{
  use_db ("save.db");
  run_app (check_save);
  run_app (check_restored);
  run_app (check_removed);
}

int
main (int   argc,
      char *argv[])
{
  int ret;

  gtk_test_init (&argc, &argv, NULL);
  adw_init ();

  db_dir = g_dir_make_tmp ("td-pubsub-view-XXXXXX", NULL);
  g_assert_nonnull (db_dir);

  g_test_add_func ("/td/pubsub-view/live", test_live);
  g_test_add_func ("/td/pubsub-view/ring", test_ring);
  g_test_add_func ("/td/pubsub-view/hidden", test_hidden);
  g_test_add_func ("/td/pubsub-view/reconnect", test_reconnect);
  g_test_add_func ("/td/pubsub-view/save", test_save);

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
