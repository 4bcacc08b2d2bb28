/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-application"

#include "config.h"

#include <glib/gi18n.h>

#include "app/td-application.h"
#include "app/td-cli.h"
#include "app/td-dbus-generated.h"
#include "app/td-dbus-service.h"
#include "app/td-latency-probe.h"
#include "app/td-preferences-window.h"
#include "app/td-window.h"
#include <gio/gunixoutputstream.h>

#include "core/td-mailbox.h"
#include "feeds/td-feed-cli.h"
#include "core/td-task-loop.h"
#include "server/td-server.h"
#include "store/td-recorder.h"
#include "store/td-schema.h"

/* How long an instance started only to serve commands stays after the
 * last one, so that a script issuing several commands reuses it. */
#define TD_SERVICE_IDLE_TIMEOUT_MS 10000

struct _TdApplication
{
  AdwApplication  parent_instance;

  GSettings      *settings;        /* owned */
  TdServer       *server;          /* owned; the embedded tidingsd, NULL when off */
  GCancellable   *cancellable;     /* owned; cancelled on shutdown */
  char           *server_error;    /* owned; why the embedded server did not start */
  gboolean        server_starting;
  TdDBusTidings1 *dbus_service;    /* owned; exported while registered */
  TdDBusService  *dbus_commands;   /* owned; the Tidings1 method handlers */
  TdRecorder     *recorder;        /* owned; the app database */
  TdMailboxId     store_mailbox;   /* recorder errors and move-aside replies */
  gboolean        store_failing;   /* a "saving fails" toast was shown */
  TdLatencyProbe *probe;           /* owned; only with TIDINGS_DEBUG=latency|wakeups */
};

G_DEFINE_FINAL_TYPE (TdApplication, td_application, ADW_TYPE_APPLICATION)

enum {
  LOCAL_SERVER_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static TdWindow *
td_application_get_main_window (TdApplication *self)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));

  if (TD_IS_WINDOW (window))
    return TD_WINDOW (window);

  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (self)); l; l = l->next)
    if (TD_IS_WINDOW (l->data))
      return l->data;

  return NULL;
}

static TdWindow *
td_application_ensure_window (TdApplication *self)
{
  TdWindow *window = td_application_get_main_window (self);

  if (window == NULL)
    {
      window = td_window_new (self);
      if (self->probe != NULL)
        td_latency_probe_watch_window (self->probe, GTK_WIDGET (window));
    }
  return window;
}

/* ------------------------------------------------------------------ */
/* The embedded server                                                 */

/* Publishes the bound ports of the embedded server as the D-Bus property
 * LocalServerPorts (empty while the server is off or starting). */
static void
td_application_update_ports (TdApplication *self)
{
  GVariantBuilder builder;

  if (self->dbus_service == NULL)
    return;

  g_variant_builder_init (&builder, G_VARIANT_TYPE ("a{sq}"));
  if (self->server != NULL)
    {
      g_auto(GStrv) listeners = td_server_list_listeners (self->server);

      for (guint i = 0; listeners[i] != NULL; i++)
        g_variant_builder_add (&builder, "{sq}", listeners[i],
                               td_server_get_port (self->server, listeners[i]));
    }
  td_dbus_tidings1_set_local_server_ports (self->dbus_service, g_variant_builder_end (&builder));
}

static void
start_server_worker (GTask        *task,
                     gpointer      source_object,
                     gpointer      task_data,
                     GCancellable *cancellable)
{
  g_autoptr(TdServer) server = td_server_new (task_data);
  GError *error = NULL;

  if (td_server_start_thread (server, &error))
    g_task_return_pointer (task, g_steal_pointer (&server), (GDestroyNotify) td_server_free);
  else
    g_task_return_error (task, error);
}

static void
start_server_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(TdApplication) self = user_data;
  g_autoptr(GError) error = NULL;
  TdServer *server;

  self->server_starting = FALSE;
  server = g_task_propagate_pointer (G_TASK (result), &error);
  if (server == NULL)
    {
      g_message ("The local server did not start: %s", error->message);
      g_free (self->server_error);
      self->server_error = g_strdup (error->message);
      g_signal_emit (self, signals[LOCAL_SERVER_CHANGED], 0);
      return;
    }

  if (g_cancellable_is_cancelled (self->cancellable))
    {
      td_server_free (server);
      return;
    }

  self->server = server;
  td_application_update_ports (self);
  g_signal_emit (self, signals[LOCAL_SERVER_CHANGED], 0);
}

/* Binds the embedded server's listeners on a thread of their own; the
 * main thread never waits for the sockets. */
static void
td_application_start_server (TdApplication *self)
{
  TdServerConfig *config;
  g_autoptr(GTask) task = NULL;

  if (self->server != NULL || self->server_starting ||
      !g_settings_get_boolean (self->settings, "local-server"))
    return;

  config = td_server_config_new ();
  config->pubsub_port = g_settings_get_int (self->settings, "local-pubsub-port");
  config->line_port = g_settings_get_int (self->settings, "local-line-port");
  config->chat_port = g_settings_get_int (self->settings, "local-chat-port");
  config->files_port = g_settings_get_int (self->settings, "local-files-port");

  /* Tests and side-by-side instances ask for any free ports. */
  if (g_strcmp0 (g_getenv ("TIDINGS_LOCAL_PORTS"), "any") == 0)
    config->pubsub_port = config->line_port = config->chat_port = config->files_port = 0;
  config->db_path = g_build_filename (g_get_user_data_dir (), "tidings", "server.db", NULL);

  self->server_starting = TRUE;
  task = g_task_new (NULL, NULL, start_server_cb, g_object_ref (self));
  g_task_set_source_tag (task, td_application_start_server);
  g_task_set_task_data (task, config, (GDestroyNotify) td_server_config_free);
  g_task_run_in_thread (task, start_server_worker);
}

/* TRUE while the embedded server is binding its listeners. */
gboolean
td_application_is_local_server_starting (TdApplication *self)
{
  g_return_val_if_fail (TD_IS_APPLICATION (self), FALSE);

  return self->server_starting;
}

/* Why the embedded server is not running, or NULL. */
const char *
td_application_get_local_server_error (TdApplication *self)
{
  g_return_val_if_fail (TD_IS_APPLICATION (self), NULL);

  if (self->server != NULL || self->server_starting)
    return NULL;
  if (self->server_error != NULL)
    return self->server_error;
  return _("The local server is turned off in Preferences");
}

/* The chat view of the main window; with no window, one is made but not
 * shown (commands from D-Bus and the command line need the networks). */
TdChatView *
td_application_get_chat_view (TdApplication *self)
{
  g_return_val_if_fail (TD_IS_APPLICATION (self), NULL);

  return td_window_get_chat_view (td_application_ensure_window (self));
}

guint16
td_application_get_local_port (TdApplication *self,
                               const char    *listener)
{
  g_return_val_if_fail (TD_IS_APPLICATION (self), 0);

  if (self->server == NULL)
    return 0;
  return td_server_get_port (self->server, listener);
}

/* ------------------------------------------------------------------ */
/* The app database                                                    */

enum {
  STORE_MAIL_ERROR = 1,
  STORE_MAIL_MOVED_ASIDE,
};

static gpointer
move_aside_worker (TdTask        *task,
                   gpointer       task_data,
                   GCancellable  *cancellable,
                   GError       **error)
{
  return td_store_move_aside (task_data, error);
}

static void
td_application_toast (TdApplication *self,
                      const char    *message)
{
  TdWindow *window = td_application_get_main_window (self);

  if (window != NULL)
    td_window_add_toast (window, message);
  else
    g_message ("%s", message);
}

static void
broken_response_cb (AdwMessageDialog *dialog,
                    const char       *response,
                    TdApplication    *self)
{
  g_autoptr(TdTask) task = NULL;

  if (g_strcmp0 (response, "fresh") != 0)
    {
      g_action_group_activate_action (G_ACTION_GROUP (self), "quit", NULL);
      return;
    }

  /* Renaming is file I/O: it runs on the task loop, never here. */
  task = td_task_new (move_aside_worker, g_strdup (td_recorder_get_path (self->recorder)),
                      g_free, g_free);
  td_task_set_reply (task, self->store_mailbox, STORE_MAIL_MOVED_ASIDE);
  td_task_loop_push (td_task_loop_get_default (), g_steal_pointer (&task));
}

/* The database file is damaged, foreign or newer: say so and offer to
 * move it aside; it is never overwritten without the user's word. */
static void
td_application_show_broken_store (TdApplication *self,
                                  const GError  *error)
{
  TdWindow *window = td_application_ensure_window (self);
  AdwMessageDialog *dialog;

  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (GTK_WINDOW (window),
                                                       _("Cannot Open the Database"), NULL));
  adw_message_dialog_format_body (dialog,
                                  _("%s\n\nTidings can move the file aside (it is kept, renamed) and start with a new, empty database."),
                                  error ? error->message : _("The file is damaged."));
  adw_message_dialog_add_responses (dialog,
                                    "quit", _("_Quit"),
                                    "fresh", _("_Move Aside and Start Fresh"),
                                    NULL);
  adw_message_dialog_set_response_appearance (dialog, "fresh", ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (dialog, "fresh");
  adw_message_dialog_set_close_response (dialog, "quit");
  g_signal_connect (dialog, "response", G_CALLBACK (broken_response_cb), self);
  gtk_window_present (GTK_WINDOW (window));
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
store_mail_cb (TdMailboxId  id,
               TdMail      *mail,
               gpointer     user_data)
{
  TdApplication *self = user_data;

  if (mail->kind == STORE_MAIL_MOVED_ASIDE)
    {
      TdTaskResult *result = mail->data;

      if (result->error != NULL)
        {
          g_autofree char *text = g_strdup_printf (_("Could not move the database aside: %s"),
                                                   result->error->message);
          td_application_toast (self, text);
          return;
        }
      td_recorder_reopen (self->recorder);
      td_application_toast (self, _("Started with a new database"));
      return;
    }

  if (mail->kind == STORE_MAIL_ERROR)
    {
      TdRecorderError *err = mail->data;
      g_autofree char *text = NULL;

      switch (err->kind)
        {
        case TD_RECORDER_ERROR_BROKEN:
          td_application_show_broken_store (self, err->error);
          break;

        case TD_RECORDER_ERROR_RETRYING:
          /* One toast per episode, not one per retry. */
          if (self->store_failing)
            break;
          self->store_failing = TRUE;
          text = g_strdup_printf (_("Saving fails: %s. Nothing is lost; Tidings keeps trying."),
                                  err->error ? err->error->message : _("unknown error"));
          td_application_toast (self, text);
          break;

        case TD_RECORDER_ERROR_RECOVERED:
          if (self->store_failing)
            td_application_toast (self, _("Saving works again"));
          self->store_failing = FALSE;
          break;

        case TD_RECORDER_ERROR_REJECTED:
          g_warning ("A record was rejected by the database: %s (%s)",
                     err->error ? err->error->message : "?", err->sql ? err->sql : "");
          break;

        case TD_RECORDER_ERROR_LOST:
          text = g_strdup_printf (_("Some changes could not be saved: %s"),
                                  err->error ? err->error->message : _("unknown error"));
          td_application_toast (self, text);
          break;

        default:
          g_assert_not_reached ();
        }
    }
}

/* Opens the app database on the recorder thread; returns at once. */
static void
td_application_open_store (TdApplication *self)
{
  g_autofree char *path = NULL;
  const char *override = g_getenv ("TIDINGS_DB");

  path = override && *override ? g_strdup (override)
                               : g_build_filename (g_get_user_data_dir (), "tidings", "tidings.db", NULL);
  self->store_mailbox = td_mailbox_open (NULL, G_PRIORITY_DEFAULT, store_mail_cb, self, NULL);
  self->recorder = td_recorder_new (path, td_schema_app ());
  td_recorder_set_error_mailbox (self->recorder, self->store_mailbox, STORE_MAIL_ERROR);
}

TdRecorder *
td_application_get_recorder (TdApplication *self)
{
  g_return_val_if_fail (TD_IS_APPLICATION (self), NULL);

  return self->recorder;
}

/* ------------------------------------------------------------------ */
/* Actions                                                             */

static void
quit_action (GSimpleAction *action,
             GVariant      *parameter,
             gpointer       user_data)
{
  TdApplication *self = user_data;

  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (self)); l; )
    {
      GtkWindow *window = l->data;

      l = l->next;
      gtk_window_close (window);
    }
  g_application_quit (G_APPLICATION (self));
}

static void
about_action (GSimpleAction *action,
              GVariant      *parameter,
              gpointer       user_data)
{
  TdApplication *self = user_data;
  static const char *developers[] = { "The Tidings developers", NULL };
  GtkWindow *about;

  about = g_object_new (ADW_TYPE_ABOUT_WINDOW,
                        "transient-for", gtk_application_get_active_window (GTK_APPLICATION (self)),
                        "application-name", "Tidings",
                        "application-icon", APP_ID,
                        "developer-name", _("The Tidings developers"),
                        "version", PACKAGE_VERSION,
                        "comments", _("Chat, pub/sub and feeds in one place"),
                        "website", "https://github.com/tidings/tidings",
                        "issue-url", "https://github.com/tidings/tidings/issues",
                        "developers", developers,
                        /* Translators: Replace "translator-credits" with your names, one name per line */
                        "translator-credits", _("translator-credits"),
                        "license-type", GTK_LICENSE_GPL_3_0,
                        "copyright", "© 2026 The Tidings developers",
                        NULL);
  gtk_window_present (about);
}

static void
preferences_action (GSimpleAction *action,
                    GVariant      *parameter,
                    gpointer       user_data)
{
  TdApplication *self = user_data;
  TdWindow *window = td_application_ensure_window (self);
  TdPreferencesWindow *prefs = td_preferences_window_new (self->settings);

  gtk_window_set_transient_for (GTK_WINDOW (prefs), GTK_WINDOW (window));
  gtk_window_present (GTK_WINDOW (prefs));
}

static void
show_view_action (GSimpleAction *action,
                  GVariant      *parameter,
                  gpointer       user_data)
{
  TdApplication *self = user_data;
  const char *view = g_variant_get_string (parameter, NULL);
  TdWindow *window;

  if (!td_dbus_args_is_view_name (view))
    {
      g_message ("show-view: no view named “%s” (chat, pubsub, feeds)", view);
      return;
    }

  window = td_application_ensure_window (self);
  td_window_show_view (window, view);
  gtk_window_present (GTK_WINDOW (window));
}

static const GActionEntry app_actions[] = {
  { "quit", quit_action },
  { "about", about_action },
  { "preferences", preferences_action },
  { "show-view", show_view_action, "s" },
};

/* ------------------------------------------------------------------ */
/* D-Bus commands                                                      */

static gboolean
handle_show_view_cb (TdDBusTidings1        *service,
                     GDBusMethodInvocation *invocation,
                     const char            *view,
                     TdApplication         *self)
{
  if (!td_dbus_args_check_call (invocation))
    return G_DBUS_METHOD_INVOCATION_HANDLED;

  g_action_group_activate_action (G_ACTION_GROUP (self), "show-view", g_variant_new_string (view));
  td_dbus_tidings1_complete_show_view (service, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_get_latency_stats_cb (TdDBusTidings1        *service,
                             GDBusMethodInvocation *invocation,
                             TdApplication         *self)
{
  g_autoptr(GVariant) stats = NULL;
  g_autoptr(GVariant) dict = NULL;
  g_autoptr(GVariant) histogram = NULL;

  if (self->probe == NULL)
    {
      g_dbus_method_invocation_return_error (invocation, TD_DBUS_ERROR, TD_DBUS_ERROR_FAILED,
                                             "The latency probe is off; start Tidings with TIDINGS_DEBUG=latency");
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }

  stats = g_variant_ref_sink (td_latency_probe_get_stats (self->probe));
  g_variant_get (stats, "(@a{sd}@at)", &dict, &histogram);
  td_dbus_tidings1_complete_get_latency_stats (service, invocation, dict, histogram);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
handle_reset_latency_stats_cb (TdDBusTidings1        *service,
                               GDBusMethodInvocation *invocation,
                               TdApplication         *self)
{
  if (self->probe == NULL)
    {
      g_dbus_method_invocation_return_error (invocation, TD_DBUS_ERROR, TD_DBUS_ERROR_FAILED,
                                             "The latency probe is off; start Tidings with TIDINGS_DEBUG=latency");
      return G_DBUS_METHOD_INVOCATION_HANDLED;
    }

  td_latency_probe_reset (self->probe);
  td_dbus_tidings1_complete_reset_latency_stats (service, invocation);
  return G_DBUS_METHOD_INVOCATION_HANDLED;
}

static gboolean
td_application_dbus_register (GApplication     *app,
                              GDBusConnection  *connection,
                              const char       *object_path,
                              GError          **error)
{
  TdApplication *self = TD_APPLICATION (app);

  if (!G_APPLICATION_CLASS (td_application_parent_class)->dbus_register (app, connection, object_path, error))
    return FALSE;

  /* Make sure the error names are known before the first call. */
  (void) TD_DBUS_ERROR;

  self->dbus_service = td_dbus_tidings1_skeleton_new ();
  td_dbus_tidings1_set_version (self->dbus_service, PACKAGE_VERSION);
  g_signal_connect (self->dbus_service, "handle-show-view", G_CALLBACK (handle_show_view_cb), self);
  g_signal_connect (self->dbus_service, "handle-get-latency-stats", G_CALLBACK (handle_get_latency_stats_cb), self);
  g_signal_connect (self->dbus_service, "handle-reset-latency-stats", G_CALLBACK (handle_reset_latency_stats_cb), self);
  td_application_update_ports (self);

  return g_dbus_interface_skeleton_export (G_DBUS_INTERFACE_SKELETON (self->dbus_service),
                                           connection, object_path, error);
}

static void
td_application_dbus_unregister (GApplication    *app,
                                GDBusConnection *connection,
                                const char      *object_path)
{
  TdApplication *self = TD_APPLICATION (app);

  if (self->dbus_service != NULL)
    {
      g_dbus_interface_skeleton_unexport (G_DBUS_INTERFACE_SKELETON (self->dbus_service));
      g_clear_pointer (&self->dbus_commands, td_dbus_service_free);
      g_signal_handlers_disconnect_by_data (self->dbus_service, self);
      g_clear_object (&self->dbus_service);
    }

  G_APPLICATION_CLASS (td_application_parent_class)->dbus_unregister (app, connection, object_path);
}

/* ------------------------------------------------------------------ */
/* GApplication                                                        */

static void
td_application_startup (GApplication *app)
{
  TdApplication *self = TD_APPLICATION (app);
  static const char *quit_accels[] = { "<Control>q", NULL };
  static const char *prefs_accels[] = { "<Control>comma", NULL };
  static const char *view_accels[][2] = { { "<Alt>1", NULL }, { "<Alt>2", NULL }, { "<Alt>3", NULL } };

  G_APPLICATION_CLASS (td_application_parent_class)->startup (app);

  /* Only the primary instance reads settings: --parse-feed, --version and
   * forwarded commands work without the schema. */
  if (self->settings == NULL)
    self->settings = g_settings_new ("io.github.tidings.Tidings");

  self->probe = td_latency_probe_new_from_env ();

  g_action_map_add_action_entries (G_ACTION_MAP (self), app_actions,
                                   G_N_ELEMENTS (app_actions), self);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.quit", quit_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.preferences", prefs_accels);
  for (guint i = 0; td_dbus_args_view_names[i] != NULL; i++)
    {
      g_autofree char *detailed = g_strdup_printf ("app.show-view::%s", td_dbus_args_view_names[i]);

      gtk_application_set_accels_for_action (GTK_APPLICATION (self), detailed, view_accels[i]);
    }

  /* Started for a command (D-Bus activation or the command line): no
   * window, and quit once idle. */
  if (g_application_get_flags (app) & G_APPLICATION_IS_SERVICE)
    g_application_set_inactivity_timeout (app, TD_SERVICE_IDLE_TIMEOUT_MS);

  td_application_open_store (self);
  td_application_start_server (self);

  /* Registration comes before startup: the commands need the database. */
  if (self->dbus_service != NULL)
    self->dbus_commands = td_dbus_service_new (self, self->dbus_service);
}

static void
td_application_activate (GApplication *app)
{
  TdApplication *self = TD_APPLICATION (app);

  gtk_window_present (GTK_WINDOW (td_application_ensure_window (self)));
}

static int
td_application_handle_local_options (GApplication *app,
                                     GVariantDict *options)
{
  const char *path = NULL;

  if (g_variant_dict_contains (options, "version"))
    {
      g_print ("tidings %s\n", PACKAGE_VERSION);
      return 0;
    }

  if (g_variant_dict_lookup (options, "parse-feed", "^&ay", &path))
    {
      g_autoptr(GOutputStream) out = g_unix_output_stream_new (1, FALSE);
      g_autoptr(GError) error = NULL;
      int status = td_feed_parse_cli (path, out, &error);

      if (error != NULL)
        g_printerr ("tidings: %s\n", error->message);
      return status;
    }

  return td_cli_run (app, options);
}

static int
td_application_command_line (GApplication            *app,
                             GApplicationCommandLine *cmdline)
{
  TdApplication *self = TD_APPLICATION (app);
  GVariantDict *options = g_application_command_line_get_options_dict (cmdline);
  const char *view = NULL;

  if (g_variant_dict_lookup (options, "show", "&s", &view))
    {
      if (!td_dbus_args_is_view_name (view))
        {
          g_application_command_line_printerr (cmdline,
                                               _("No view named “%s”; use chat, pubsub or feeds\n"),
                                               view);
          return 2;
        }
      g_action_group_activate_action (G_ACTION_GROUP (self), "show-view",
                                      g_variant_new_string (view));
      return 0;
    }

  g_application_activate (app);
  return 0;
}

static void
td_application_shutdown (GApplication *app)
{
  TdApplication *self = TD_APPLICATION (app);

  g_cancellable_cancel (self->cancellable);
  /* Binding takes milliseconds; let a start in progress finish so that
   * its thread is joined and nothing outlives the application. */
  while (self->server_starting)
    g_main_context_iteration (NULL, TRUE);
  g_clear_pointer (&self->server, td_server_free);

  if (self->probe != NULL)
    {
      g_autofree char *report = td_latency_probe_format (self->probe);

      g_printerr ("%s", report);
      g_clear_pointer (&self->probe, td_latency_probe_free);
    }

  /* Everything queued is written before the process ends. */
  if (self->recorder != NULL)
    {
      g_autoptr(GError) error = NULL;

      if (!td_recorder_close (self->recorder, &error))
        g_warning ("Closing the database: %s", error->message);
      g_clear_pointer (&self->recorder, td_recorder_free);
    }
  if (self->store_mailbox != TD_MAILBOX_NONE)
    td_mailbox_close (self->store_mailbox);
  self->store_mailbox = TD_MAILBOX_NONE;

  G_APPLICATION_CLASS (td_application_parent_class)->shutdown (app);
}

static void
td_application_dispose (GObject *object)
{
  TdApplication *self = TD_APPLICATION (object);

  g_clear_pointer (&self->server, td_server_free);
  g_clear_pointer (&self->dbus_commands, td_dbus_service_free);
  g_clear_object (&self->dbus_service);
  g_clear_object (&self->settings);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (td_application_parent_class)->dispose (object);
}

static void
td_application_finalize (GObject *object)
{
  TdApplication *self = TD_APPLICATION (object);

  g_free (self->server_error);

  G_OBJECT_CLASS (td_application_parent_class)->finalize (object);
}

static void
td_application_class_init (TdApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  object_class->dispose = td_application_dispose;
  object_class->finalize = td_application_finalize;

  app_class->startup = td_application_startup;
  app_class->activate = td_application_activate;
  app_class->command_line = td_application_command_line;
  app_class->handle_local_options = td_application_handle_local_options;
  app_class->shutdown = td_application_shutdown;

  /* The embedded server finished starting: its ports are known, or it
   * failed (td_application_get_local_server_error()). */
  signals[LOCAL_SERVER_CHANGED] =
    g_signal_new ("local-server-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  app_class->dbus_register = td_application_dbus_register;
  app_class->dbus_unregister = td_application_dbus_unregister;
}

static void
td_application_init (TdApplication *self)
{
  static const GOptionEntry entries[] = {
    { "version", 0, 0, G_OPTION_ARG_NONE, NULL, N_("Print the version and exit"), NULL },
    { "show", 0, 0, G_OPTION_ARG_STRING, NULL, N_("Show a view: chat, pubsub or feeds"), N_("VIEW") },
    { "parse-feed", 0, 0, G_OPTION_ARG_FILENAME, NULL, N_("Print a feed as Tidings reads it, as JSON, and exit"), N_("PATH_OR_URL") },
    { NULL }
  };

  self->cancellable = g_cancellable_new ();

  g_application_add_main_option_entries (G_APPLICATION (self), entries);
  td_cli_add_options (G_APPLICATION (self));
  g_application_set_option_context_summary (G_APPLICATION (self),
    _("Chat over IRC, watch and publish pub/sub channels, and read feeds."));
}

TdApplication *
td_application_new (const char        *application_id,
                    GApplicationFlags  flags)
{
  g_return_val_if_fail (application_id != NULL, NULL);

  return g_object_new (TD_TYPE_APPLICATION,
                       "application-id", application_id,
                       "flags", flags,
                       "resource-base-path", "/io/github/tidings/Tidings",
                       NULL);
}

GSettings *
td_application_get_settings (TdApplication *self)
{
  g_return_val_if_fail (TD_IS_APPLICATION (self), NULL);

  if (self->settings == NULL)
    self->settings = g_settings_new ("io.github.tidings.Tidings");
  return self->settings;
}
