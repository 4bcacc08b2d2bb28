/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <adwaita.h>
#include <glib/gstdio.h>
#include <string.h>

#include "app/td-application.h"
#include "app/td-chat-secrets.h"
#include "app/td-chat-view.h"
#include "app/td-window.h"
#include "chat/td-irc-accounts.h"
#include "../chat/td-irc-test.h"
#include "td-test-widgets.h"

/*
 * SASL passwords of chat networks in a real keyring: keyring-test.sh runs
 * this on a private bus with gnome-keyring-daemon. The secrets module on
 * its own, then the Chat view across restarts of the app: the password
 * given when a network is added logs it in at the next start, and
 * removing the network clears it.
 */

#define DEADLINE_MS   10000
#define SASL_NET      "sasl"
#define SASL_ACCOUNT  "keeper"
#define SASL_PASSWORD "keyring-test-secret-5521"
#define BARE_NET      "bare"
#define BARE_ACCOUNT  "ghost"

static TdIrcTestServer *server;
static char *tmp_dir;
static char *db_path;

/* The contract with the keyring, written out independently of
 * td-chat-secrets.c: what other tools (Passwords and Keys, secret-tool)
 * see. */
static const SecretSchema contract = {
  "io.github.tidings.Tidings.Network", SECRET_SCHEMA_NONE,
  {
    { "network", SECRET_SCHEMA_ATTRIBUTE_STRING },
    { "host", SECRET_SCHEMA_ATTRIBUTE_STRING },
    { "account", SECRET_SCHEMA_ATTRIBUTE_STRING },
    { NULL, 0 },
  },
};

static gboolean
wait_until (gboolean (*predicate) (gpointer), gpointer data)
{
  return td_test_wait_until (predicate, data, DEADLINE_MS);
}

/* The password the keyring holds for the three attributes, looked up as
 * another program would (blocking is fine in a test). */
static char *
keyring_lookup (const char *network,
                const char *host,
                const char *account)
{
  g_autoptr(GError) error = NULL;
  char *password = secret_password_lookup_sync (&contract, NULL, &error,
                                                "network", network, "host", host, "account", account, NULL);

  g_assert_no_error (error);
  return password;
}

/* ------------------------------------------------------------------ */
/* The secrets module                                                  */
/* ------------------------------------------------------------------ */

static void
result_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static gboolean
has_result (gpointer data)
{
  return *(GAsyncResult **) data != NULL;
}

static void
store (const char *network,
       const char *host,
       const char *account,
       const char *password)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  gboolean ok;

  td_chat_secrets_store (network, host, account, password, NULL, result_cb, &result);
  g_assert_true (wait_until (has_result, &result));
  ok = td_chat_secrets_store_finish (result, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
}

static char *
lookup (const char *network,
        const char *host,
        const char *account)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  char *password;

  td_chat_secrets_lookup (network, host, account, NULL, result_cb, &result);
  g_assert_true (wait_until (has_result, &result));
  password = td_chat_secrets_lookup_finish (result, &error);
  g_assert_no_error (error);
  return password;
}

static gboolean
clear (const char *network)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  gboolean removed;

  td_chat_secrets_clear (network, NULL, result_cb, &result);
  g_assert_true (wait_until (has_result, &result));
  removed = td_chat_secrets_clear_finish (result, &error);
  g_assert_no_error (error);
  return removed;
}

static void
test_secrets (void)
{
  char *password;

  g_assert_cmpstr (td_chat_secrets_get_schema ()->name, ==, contract.name);

  store ("Libera", "irc.example.net", "ada", "first");
  password = keyring_lookup ("Libera", "irc.example.net", "ada");
  g_assert_cmpstr (password, ==, "first");
  secret_password_free (password);
  password = lookup ("Libera", "irc.example.net", "ada");
  g_assert_cmpstr (password, ==, "first");
  td_chat_secrets_free_password (password);

  /* Another account, host or network has nothing: NULL, no error. */
  g_assert_null (lookup ("Libera", "irc.example.net", "bob"));
  g_assert_null (lookup ("Libera", "irc.elsewhere.net", "ada"));
  g_assert_null (lookup ("OFTC", "irc.example.net", "ada"));

  /* Storing again replaces. */
  store ("Libera", "irc.example.net", "ada", "second");
  password = lookup ("Libera", "irc.example.net", "ada");
  g_assert_cmpstr (password, ==, "second");
  td_chat_secrets_free_password (password);

  /* Clearing a network leaves the others. */
  store ("OFTC", "irc.oftc.net", "ada", "third");
  g_assert_true (clear ("Libera"));
  g_assert_null (lookup ("Libera", "irc.example.net", "ada"));
  password = lookup ("OFTC", "irc.oftc.net", "ada");
  g_assert_cmpstr (password, ==, "third");
  td_chat_secrets_free_password (password);
  g_assert_false (clear ("Libera"));
  g_assert_true (clear ("OFTC"));
  g_assert_null (keyring_lookup ("OFTC", "irc.oftc.net", "ada"));
}

/* ------------------------------------------------------------------ */
/* The Chat view across restarts                                       */
/* ------------------------------------------------------------------ */

typedef void (*AppCheck) (TdApplication *app);

static void
activate_cb (GApplication *app,
             gpointer      user_data)
{
  AppCheck check = user_data;

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
  g_settings_set_string (settings, "last-view", "chat");
  g_settings_set_string (settings, "chat-nick", "viewer");

  g_signal_connect_after (app, "activate", G_CALLBACK (activate_cb), check);
  g_assert_cmpint (g_application_run (G_APPLICATION (app), 1, argv), ==, 0);
}

static TdChatView *
chat_view (TdApplication *app)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (app));
  GtkWidget *view;

  g_assert_true (TD_IS_WINDOW (window));
  td_window_show_view (TD_WINDOW (window), "chat");
  view = td_test_find_of_type (GTK_WIDGET (window), TD_TYPE_CHAT_VIEW);
  g_assert_nonnull (view);
  return TD_CHAT_VIEW (view);
}

static gboolean
view_ready (gpointer data)
{
  return td_chat_view_is_ready (data);
}

typedef struct
{
  TdChatView *view;
  const char *network;
  const char *text;
} Query;

static gboolean
has_line (gpointer data)
{
  Query *q = data;
  TdChatBuffer *buffer = td_chat_view_find_buffer (q->view, q->network, NULL);
  GListModel *lines = buffer ? td_chat_buffer_get_lines (buffer) : NULL;

  for (guint i = 0; lines != NULL && i < g_list_model_get_n_items (lines); i++)
    {
      g_autoptr(TdChatLine) line = g_list_model_get_item (lines, i);

      if (strstr (td_chat_line_get_text (line), q->text) != NULL)
        return TRUE;
    }
  return FALSE;
}

static gboolean
status_is (gpointer data)
{
  Query *q = data;
  TdChatBuffer *buffer = td_chat_view_find_buffer (q->view, q->network, NULL);

  return buffer != NULL && g_strcmp0 (td_chat_buffer_get_status (buffer), q->text) == 0;
}

static gboolean
dialog_shown (gpointer data)
{
  GListModel *toplevels = gtk_window_get_toplevels ();

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GtkWindow) window = g_list_model_get_item (toplevels, i);

      if (ADW_IS_MESSAGE_DIALOG (window) && gtk_widget_get_visible (GTK_WIDGET (window)))
        {
          *(AdwMessageDialog **) data = ADW_MESSAGE_DIALOG (window);
          return TRUE;
        }
    }
  return FALSE;
}

static gboolean
secret_cleared (gpointer data)
{
  g_autofree char *password = keyring_lookup (SASL_NET, "127.0.0.1", SASL_ACCOUNT);

  return password == NULL;
}

/* Whether @path holds @needle anywhere (a missing file holds nothing). */
static gboolean
file_contains (const char *path,
               const char *needle)
{
  g_autofree char *contents = NULL;
  gsize len = 0;

  gsize n = strlen (needle);

  if (!g_file_get_contents (path, &contents, &len, NULL))
    return FALSE;
  for (gsize i = 0; i + n <= len; i++)
    if (memcmp (contents + i, needle, n) == 0)
      return TRUE;
  return FALSE;
}

#define LOGGED_IN "Connected as " SASL_ACCOUNT ", logged in as " SASL_ACCOUNT

/* First start: the networks are added; the password logs in and goes to
 * the keyring. */
static void
check_add (TdApplication *app)
{
  TdChatView *view = chat_view (app);
  Query q = { view, SASL_NET, "is kept in your keyring" };
  g_autofree char *stored = NULL;

  g_assert_true (wait_until (view_ready, view));
  g_assert_true (td_chat_view_add_network (view, SASL_NET, "127.0.0.1", server->port, FALSE, SASL_ACCOUNT,
                                           SASL_ACCOUNT, SASL_PASSWORD));
  g_assert_true (wait_until (has_line, &q));
  q.text = LOGGED_IN;
  g_assert_true (wait_until (status_is, &q));
  stored = keyring_lookup (SASL_NET, "127.0.0.1", SASL_ACCOUNT);
  g_assert_cmpstr (stored, ==, SASL_PASSWORD);

  /* An account given without a password: nothing to keep, and at the
   * next start nothing to find. */
  g_assert_true (td_chat_view_add_network (view, BARE_NET, "127.0.0.1", server->port, FALSE, "bare_nick",
                                           BARE_ACCOUNT, NULL));
  q.network = BARE_NET;
  q.text = "Connected as bare_nick, not logged in: no password in the keyring";
  g_assert_true (wait_until (status_is, &q));
}

/* Next start: the password comes from the keyring (it is nowhere in the
 * database); removing the network clears it. */
static void
check_restart (TdApplication *app)
{
  TdChatView *view = chat_view (app);
  Query q = { view, SASL_NET, LOGGED_IN };
  g_autofree char *wal = g_strconcat (db_path, "-wal", NULL);
  GtkWidget *remove_button = GTK_WIDGET (gtk_widget_get_template_child (GTK_WIDGET (view), TD_TYPE_CHAT_VIEW,
                                                                        "remove_network_button"));
  AdwMessageDialog *dialog = NULL;

  g_assert_true (file_contains (db_path, SASL_ACCOUNT) || file_contains (wal, SASL_ACCOUNT));
  g_assert_false (file_contains (db_path, SASL_PASSWORD));
  g_assert_false (file_contains (wal, SASL_PASSWORD));

  g_assert_true (wait_until (view_ready, view));
  g_assert_true (wait_until (status_is, &q));
  q.network = BARE_NET;
  q.text = "The keyring has no password for the account " BARE_ACCOUNT;
  g_assert_true (wait_until (has_line, &q));
  q.text = "Connected as bare_nick, not logged in: no password in the keyring";
  g_assert_true (wait_until (status_is, &q));

  /* The embedded server's network cannot be removed; others can. */
  td_chat_view_select (view, td_chat_view_find_buffer (view, TD_CHAT_LOCAL_NETWORK, NULL));
  g_assert_false (gtk_widget_get_visible (remove_button));
  td_chat_view_select (view, td_chat_view_find_buffer (view, SASL_NET, NULL));
  g_assert_true (gtk_widget_get_visible (remove_button));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (view), "chat.remove-network", NULL));
  g_assert_true (wait_until (dialog_shown, &dialog));
  adw_message_dialog_response (dialog, "remove");
  g_assert_null (td_chat_view_find_buffer (view, SASL_NET, NULL));
  g_assert_nonnull (td_chat_view_find_buffer (view, BARE_NET, NULL));
  g_assert_true (wait_until (secret_cleared, NULL));
}

/* And it stays removed. */
static void
check_removed (TdApplication *app)
{
  TdChatView *view = chat_view (app);

  g_assert_true (wait_until (view_ready, view));
  g_assert_null (td_chat_view_find_buffer (view, SASL_NET, NULL));
  g_assert_nonnull (td_chat_view_find_buffer (view, BARE_NET, NULL));
}

static void
test_view (void)
{
  run_app (check_add);
  run_app (check_restart);
  run_app (check_removed);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(TdIrcServerConfig) config = NULL;
  TdIrcServer *irc;
  int ret;

  gtk_test_init (&argc, &argv, NULL);
  adw_init ();

  tmp_dir = g_dir_make_tmp ("tidings-keyring-test-XXXXXX", NULL);
  db_path = g_build_filename (tmp_dir, "tidings.db", NULL);
  g_setenv ("TIDINGS_DB", db_path, TRUE);

  config = td_irc_server_config_new ();
  config->flood_control = FALSE;
  irc = td_irc_server_new (config);
  {
    g_autofree char *hash = td_irc_accounts_hash_password (SASL_PASSWORD, NULL);

    td_irc_accounts_add (td_irc_server_get_accounts (irc), SASL_ACCOUNT, hash, FALSE);
  }
  server = td_irc_test_server_start (irc);

  g_test_add_func ("/td/chat-keyring/secrets", test_secrets);
  g_test_add_func ("/td/chat-keyring/view", test_view);

  ret = g_test_run ();

  td_irc_test_server_free (server);
  {
    g_autoptr(GDir) dir = g_dir_open (tmp_dir, 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name (dir)) != NULL)
      {
        g_autofree char *path = g_build_filename (tmp_dir, name, NULL);

        g_unlink (path);
      }
    g_rmdir (tmp_dir);
  }
  g_free (tmp_dir);
  g_free (db_path);
  return ret;
}
