/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <adwaita.h>

#include "app/td-application.h"
#include "app/td-window.h"

/* Runs the app in-process (not unique, so it never takes the bus name),
 * with the local server on port 0 so parallel runs never collide. */

typedef void (*AppCheck) (TdApplication *app);

static void
drain (void)
{
  while (g_main_context_pending (NULL))
    g_main_context_iteration (NULL, FALSE);
}

static void
wait_ms (guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * G_TIME_SPAN_MILLISECOND;

  while (g_get_monotonic_time () < end)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
}

static void
activate_cb (GApplication *app,
             gpointer      user_data)
{
  AppCheck check = user_data;

  drain ();
  check (TD_APPLICATION (app));
  g_application_quit (app);
}

static void
run_app (AppCheck check)
{
  g_autoptr(TdApplication) app = td_application_new (APP_ID, G_APPLICATION_NON_UNIQUE);
  g_autoptr(GSettings) settings = g_settings_new ("io.github.tidings.Tidings");
  char *argv[] = { (char *) "tidings", NULL };

  g_settings_set_int (settings, "local-pubsub-port", 0);
  g_settings_set_int (settings, "local-line-port", 0);
  g_settings_set_int (settings, "local-chat-port", 0);

  g_signal_connect_after (app, "activate", G_CALLBACK (activate_cb), check);
  g_assert_cmpint (g_application_run (G_APPLICATION (app), 1, argv), ==, 0);
}

static TdWindow *
main_window (TdApplication *app)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (app));

  g_assert_true (TD_IS_WINDOW (window));
  return TD_WINDOW (window);
}

static void
check_three_views (TdApplication *app)
{
  TdWindow *window = main_window (app);
  const char *views[] = { "chat", "pubsub", "feeds" };

  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (window)));
  for (guint i = 0; i < G_N_ELEMENTS (views); i++)
    {
      td_window_show_view (window, views[i]);
      g_assert_cmpstr (td_window_get_visible_view (window), ==, views[i]);
    }
}

static void
test_three_views (void)
{
  run_app (check_three_views);
}

static void
check_view_actions (TdApplication *app)
{
  TdWindow *window = main_window (app);

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.show-view", "s", "feeds"));
  g_assert_cmpstr (td_window_get_visible_view (window), ==, "feeds");

  g_action_group_activate_action (G_ACTION_GROUP (app), "show-view", g_variant_new_string ("pubsub"));
  g_assert_cmpstr (td_window_get_visible_view (window), ==, "pubsub");

  /* An unknown view changes nothing. */
  g_action_group_activate_action (G_ACTION_GROUP (app), "show-view", g_variant_new_string ("nonsense"));
  g_assert_cmpstr (td_window_get_visible_view (window), ==, "pubsub");
}

static void
test_view_actions (void)
{
  run_app (check_view_actions);
}

static GtkWindow *
find_toplevel (GType type)
{
  GListModel *toplevels = gtk_window_get_toplevels ();

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GtkWindow) window = g_list_model_get_item (toplevels, i);

      if (G_TYPE_CHECK_INSTANCE_TYPE (window, type))
        return window;
    }
  return NULL;
}

static void
check_dialogs (TdApplication *app)
{
  GtkWindow *prefs, *about;

  g_action_group_activate_action (G_ACTION_GROUP (app), "preferences", NULL);
  drain ();
  prefs = find_toplevel (ADW_TYPE_PREFERENCES_WINDOW);
  g_assert_nonnull (prefs);
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (prefs)));
  gtk_window_close (prefs);
  drain ();

  g_action_group_activate_action (G_ACTION_GROUP (app), "about", NULL);
  drain ();
  about = find_toplevel (ADW_TYPE_ABOUT_WINDOW);
  g_assert_nonnull (about);
  gtk_window_close (about);
  drain ();
  g_assert_null (find_toplevel (ADW_TYPE_ABOUT_WINDOW));
}

static void
test_dialogs (void)
{
  run_app (check_dialogs);
}

static void
check_size_saved (TdApplication *app)
{
  TdWindow *window = main_window (app);
  g_autoptr(GSettings) settings = g_settings_new ("io.github.tidings.Tidings");
  g_autofree char *last_view = NULL;

  gtk_window_set_default_size (GTK_WINDOW (window), 777, 555);
  td_window_show_view (window, "feeds");
  wait_ms (50);
  gtk_window_close (GTK_WINDOW (window));
  drain ();

  g_assert_cmpint (g_settings_get_int (settings, "window-width"), ==, 777);
  g_assert_cmpint (g_settings_get_int (settings, "window-height"), ==, 555);
  last_view = g_settings_get_string (settings, "last-view");
  g_assert_cmpstr (last_view, ==, "feeds");
}

static void
test_size_saved (void)
{
  run_app (check_size_saved);
}

int
main (int   argc,
      char *argv[])
{
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();

  g_test_add_func ("/td/app/three-views", test_three_views);
  g_test_add_func ("/td/app/view-actions", test_view_actions);
  g_test_add_func ("/td/app/dialogs", test_dialogs);
  g_test_add_func ("/td/app/size-saved", test_size_saved);

  return g_test_run ();
}
