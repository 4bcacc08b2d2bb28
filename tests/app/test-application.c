/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <adwaita.h>

#include "app/td-application.h"
#include "app/td-window.h"
#include "td-test-widgets.h"

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
  g_settings_set_int (settings, "local-files-port", 0);

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

static gboolean
first_round_done (gpointer data)
{
  return td_warm_up_get_n_passes (data) >= 2 * TD_WARM_UP_PASSES;
}

/* After the window's first frame, the pages it does not show are laid
 * out at its size (TdWarmUp) and stay hidden. */
static void
check_warm_up (TdApplication *app)
{
  TdWindow *window = main_window (app);
  GtkWidget *stack = gtk_widget_get_parent (GTK_WIDGET (td_window_get_chat_view (window)));
  TdWarmUp *warm_up = td_window_get_warm_up (window);
  guint hidden = 0;

  g_assert_nonnull (warm_up);
  g_assert_true (td_test_wait_until (first_round_done, warm_up, 20000));
  for (GtkWidget *page = gtk_widget_get_first_child (stack); page; page = gtk_widget_get_next_sibling (page))
    {
      if (gtk_widget_get_mapped (page))
        continue;
      hidden++;
      g_assert_cmpint (gtk_widget_get_width (page), ==, gtk_widget_get_width (stack));
      g_assert_cmpint (gtk_widget_get_height (page), ==, gtk_widget_get_height (stack));
    }
  g_assert_cmpuint (hidden, ==, 2);
}

static void
test_warm_up (void)
{
  run_app (check_warm_up);
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

static GtkWindow *find_toplevel (GType type);

static void
assert_accel (TdApplication *app,
              const char    *action,
              const char    *accel)
{
  g_auto(GStrv) accels = gtk_application_get_accels_for_action (GTK_APPLICATION (app), action);

  g_assert_true (g_strv_contains ((const char * const *) accels, accel));
}

static void
check_shortcuts (TdApplication *app)
{
  TdWindow *window = main_window (app);
  GtkWidget *menu_button = NULL;

  assert_accel (app, "app.quit", "<Control>q");
  assert_accel (app, "app.preferences", "<Control>comma");
  assert_accel (app, "app.show-view::chat", "<Alt>1");
  assert_accel (app, "app.show-view::pubsub", "<Alt>2");
  assert_accel (app, "app.show-view::feeds", "<Alt>3");

  /* F10 opens the primary menu. */
  menu_button = GTK_WIDGET (gtk_widget_get_template_child (GTK_WIDGET (window), TD_TYPE_WINDOW, "menu_button"));
  g_assert_true (GTK_IS_MENU_BUTTON (menu_button));
  g_assert_true (gtk_menu_button_get_primary (GTK_MENU_BUTTON (menu_button)));

  /* The shortcuts window is built from the resource and opens. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.show-help-overlay", NULL));
  drain ();
  g_assert_nonnull (find_toplevel (GTK_TYPE_SHORTCUTS_WINDOW));
}

static void
test_shortcuts (void)
{
  run_app (check_shortcuts);
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
  td_test_spin (50);
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

static char *tmp_dir;
static char *db_default;

static gboolean
dialog_shown (gpointer data)
{
  return find_toplevel (ADW_TYPE_MESSAGE_DIALOG) != NULL;
}

static gboolean
moved_aside (gpointer data)
{
  g_autoptr(GDir) dir = g_dir_open (tmp_dir, 0, NULL);
  const char *name;
  gboolean aside = FALSE;

  while ((name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_prefix (name, "broken.db.broken-"))
      aside = TRUE;
  return aside;
}

static gboolean
fresh_db_ready (gpointer data)
{
  return td_recorder_is_ready (data);
}

static void
check_broken_store (TdApplication *app)
{
  AdwMessageDialog *dialog;

  g_assert_true (td_test_wait_until (dialog_shown, NULL, 5000));
  dialog = ADW_MESSAGE_DIALOG (find_toplevel (ADW_TYPE_MESSAGE_DIALOG));
  g_assert_true (adw_message_dialog_has_response (dialog, "fresh"));
  adw_message_dialog_response (dialog, "fresh");

  g_assert_true (td_test_wait_until (moved_aside, NULL, 5000));
  g_assert_true (td_test_wait_until (fresh_db_ready, td_application_get_recorder (app), 5000));
}

static void
test_broken_store (void)
{
  g_autofree char *path = g_build_filename (tmp_dir, "broken.db", NULL);
  g_autoptr(GDir) dir = NULL;
  const char *name;
  gboolean kept = FALSE;

  /* Not an sqlite file: the app must not overwrite it. */
  g_assert_true (g_file_set_contents (path, "this is not a database, but my notes\n", -1, NULL));
  g_setenv ("TIDINGS_DB", path, TRUE);
  run_app (check_broken_store);

  dir = g_dir_open (tmp_dir, 0, NULL);
  while ((name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_prefix (name, "broken.db.broken-"))
      {
        g_autofree char *aside = g_build_filename (tmp_dir, name, NULL);
        g_autofree char *contents = NULL;

        g_assert_true (g_file_get_contents (aside, &contents, NULL, NULL));
        g_assert_cmpstr (contents, ==, "this is not a database, but my notes\n");
        kept = TRUE;
      }
  g_assert_true (kept);
  g_setenv ("TIDINGS_DB", db_default, TRUE);
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *db = NULL;
  int ret;

  gtk_test_init (&argc, &argv, NULL);
  adw_init ();

  tmp_dir = g_dir_make_tmp ("tidings-test-XXXXXX", NULL);
  db = g_build_filename (tmp_dir, "tidings.db", NULL);
  g_setenv ("TIDINGS_DB", db, TRUE);
  db_default = db;

  g_test_add_func ("/td/app/three-views", test_three_views);
  g_test_add_func ("/td/app/view-actions", test_view_actions);
  g_test_add_func ("/td/app/warm-up", test_warm_up);
  g_test_add_func ("/td/app/dialogs", test_dialogs);
  g_test_add_func ("/td/app/size-saved", test_size_saved);
  g_test_add_func ("/td/app/shortcuts", test_shortcuts);
  g_test_add_func ("/td/app/broken-store", test_broken_store);

  ret = g_test_run ();
  /* Leave no files behind. */
  {
    g_autoptr(GFile) dir = g_file_new_for_path (tmp_dir);
    g_autoptr(GFileEnumerator) children = g_file_enumerate_children (dir, G_FILE_ATTRIBUTE_STANDARD_NAME, 0, NULL, NULL);
    GFileInfo *info;

    while (children && (info = g_file_enumerator_next_file (children, NULL, NULL)))
      {
        g_autoptr(GFile) child = g_file_get_child (dir, g_file_info_get_name (info));
        g_file_delete (child, NULL, NULL);
        g_object_unref (info);
      }
    g_file_delete (dir, NULL, NULL);
  }
  g_free (tmp_dir);
  return ret;
}
