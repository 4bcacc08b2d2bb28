/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <adwaita.h>
#include <glib/gstdio.h>
#include <string.h>

#include "app/td-application.h"
#include "app/td-chat-files.h"
#include "app/td-chat-preview.h"
#include "app/td-chat-view.h"
#include "app/td-window.h"
#include "chat/td-file-client.h"
#include "chat/td-irc-client.h"
#include "core/td-task-loop.h"
#include "../chat/td-irc-test.h"
#include "td-test-widgets.h"

/*
 * Files and images in the Chat view, in the running app (in-process, not
 * unique, the embedded server with its file host on free ports, a
 * temporary data and cache directory). A second client in the test
 * uploads with TdFileClient and posts links; the view attaches files
 * through its own API; an IRC server without a file host shows why the
 * attach button is off.
 */

#define DEADLINE_MS 15000
#define CHANNEL     "#pics"
#define FRIEND_PASSWORD "friends-password-1"

enum {
  MAIL_IRC = 1,
  MAIL_UPLOAD,
};

static TdIrcTestServer *plain_server;   /* IRC without FILEHOST */
static char *tmp_dir;
static char *fixtures;

typedef void (*AppCheck) (TdApplication *app);

static gboolean
wait_until (gboolean (*predicate) (gpointer), gpointer data)
{
  return td_test_wait_until (predicate, data, DEADLINE_MS);
}

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
  g_settings_set_int (settings, "local-files-port", 0);
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
  gtk_window_set_default_size (window, 1000, 700);
  view = td_test_find_of_type (GTK_WIDGET (window), TD_TYPE_CHAT_VIEW);
  g_assert_nonnull (view);
  return TD_CHAT_VIEW (view);
}

static GtkWidget *
template_child (TdChatView *view,
                const char *name)
{
  GObject *child = gtk_widget_get_template_child (GTK_WIDGET (view), TD_TYPE_CHAT_VIEW, name);

  g_assert_nonnull (child);
  return GTK_WIDGET (child);
}

static char *
fixture (const char *name)
{
  return g_build_filename (fixtures, name, NULL);
}

/* ------------------------------------------------------------------ */
/* Predicates                                                          */
/* ------------------------------------------------------------------ */

typedef struct
{
  TdChatView *view;
  const char *network;
  const char *buffer;
  const char *text;
  TdFileUrlKind         kind;
  TdChatThumbnailState  state;
} Query;

static gboolean
view_ready (gpointer data)
{
  return td_chat_view_is_ready (data);
}

static TdChatLine *
find_line (TdChatBuffer *buffer,
           const char   *text)
{
  GListModel *lines = td_chat_buffer_get_lines (buffer);

  for (guint i = 0; i < g_list_model_get_n_items (lines); i++)
    {
      g_autoptr(TdChatLine) line = g_list_model_get_item (lines, i);

      if (strstr (td_chat_line_get_text (line), text) != NULL)
        return line;
    }
  return NULL;
}

static gboolean
has_line (gpointer data)
{
  Query *q = data;
  TdChatBuffer *buffer = td_chat_view_find_buffer (q->view, q->network, q->buffer);

  return buffer != NULL && find_line (buffer, q->text) != NULL;
}

static gboolean
joined (gpointer data)
{
  Query *q = data;
  TdChatBuffer *buffer = td_chat_view_find_buffer (q->view, q->network, q->buffer);

  return buffer != NULL && td_chat_buffer_get_joined (buffer);
}

static gboolean
attach_enabled (gpointer data)
{
  Query *q = data;

  return gtk_widget_is_sensitive (template_child (q->view, "attach_button"));
}

static gboolean
send_enabled (gpointer data)
{
  Query *q = data;

  return gtk_widget_is_sensitive (template_child (q->view, "attach_send_button"));
}

/* The first preview in the message list that shows q->text (a URL). */
static gboolean
is_preview_of (GtkWidget     *widget,
               gconstpointer  url)
{
  return TD_IS_CHAT_PREVIEW (widget) && g_strcmp0 (td_chat_preview_get_url (TD_CHAT_PREVIEW (widget)), url) == 0;
}

static TdChatPreview *
find_preview_in (GtkWidget  *root,
                 const char *url)
{
  return (TdChatPreview *) td_test_find (root, is_preview_of, url);
}

static gboolean
preview_shows (gpointer data)
{
  Query *q = data;
  TdChatPreview *preview = find_preview_in (template_child (q->view, "message_list"), q->text);

  return preview != NULL && gtk_widget_get_visible (GTK_WIDGET (preview)) &&
         td_chat_preview_get_kind (preview) == q->kind &&
         (q->kind != TD_FILE_URL_IMAGE || td_chat_preview_get_thumbnail_state (preview) == q->state);
}

/* ------------------------------------------------------------------ */
/* A second client on the embedded server, spoken by the test          */
/* ------------------------------------------------------------------ */

typedef struct
{
  TdMailboxId         mailbox;
  GPtrArray          *events;
  TdIrcClient        *client;
  TdFileClient       *files;
  char               *filehost;
  TdFileUploadResult *uploaded;
  GError             *upload_error;
  gboolean            upload_done;
} Friend;

static void
friend_mail_cb (TdMailboxId  id,
                TdMail      *mail,
                gpointer     user_data)
{
  Friend *f = user_data;

  if (mail->kind == MAIL_IRC)
    {
      TdIrcEventBatch *batch = mail->data;

      for (guint i = 0; i < batch->events->len; i++)
        {
          TdIrcEvent *event = g_ptr_array_index (batch->events, i);

          if (event->type == TD_IRC_EVENT_FILEHOST)
            {
              g_free (f->filehost);
              f->filehost = g_strdup (event->text);
            }
          g_ptr_array_add (f->events, g_steal_pointer (&g_ptr_array_index (batch->events, i)));
        }
      g_ptr_array_set_free_func (batch->events, NULL);
    }
  else if (mail->kind == MAIL_UPLOAD)
    {
      TdTaskResult *result = mail->data;

      f->upload_done = TRUE;
      g_clear_pointer (&f->uploaded, td_file_upload_result_free);
      g_clear_error (&f->upload_error);
      f->uploaded = td_task_result_steal (result);
      if (result->error != NULL)
        f->upload_error = g_error_copy (result->error);
    }
}

static gboolean
friend_event (Friend         *f,
              TdIrcEventType  type,
              const char     *command)
{
  for (guint i = 0; i < f->events->len; i++)
    {
      TdIrcEvent *event = g_ptr_array_index (f->events, i);

      if (event->type == type && (command == NULL || g_strcmp0 (event->command, command) == 0))
        return TRUE;
    }
  return FALSE;
}

static gboolean
friend_registered (gpointer data)
{
  return friend_event (data, TD_IRC_EVENT_REGISTERED, NULL) && ((Friend *) data)->filehost != NULL;
}

static gboolean
friend_joined (gpointer data)
{
  return friend_event (data, TD_IRC_EVENT_JOINED, NULL);
}

static gboolean
friend_has_account (gpointer data)
{
  return friend_event (data, TD_IRC_EVENT_RAW, "REGISTER");
}

static gboolean
friend_upload_done (gpointer data)
{
  return ((Friend *) data)->upload_done;
}

/* A client that joins CHANNEL on the embedded server and has an account
 * there for uploads. */
static Friend *
friend_new (TdApplication *app)
{
  Friend *f = g_new0 (Friend, 1);
  g_autoptr(TdIrcClientConfig) config = td_irc_client_config_new ();
  g_autofree char *cache = g_build_filename (tmp_dir, "friend-cache", NULL);

  f->events = g_ptr_array_new_with_free_func ((GDestroyNotify) td_irc_event_free);
  f->mailbox = td_mailbox_open (g_main_context_default (), G_PRIORITY_DEFAULT, friend_mail_cb, f, NULL);
  f->files = td_file_client_new (cache);
  config->port = td_application_get_local_port (app, "chat");
  g_assert_cmpuint (config->port, >, 0);
  config->nick = g_strdup ("friend");
  config->sasl_account = g_strdup ("friend");
  config->sasl_password = g_strdup (FRIEND_PASSWORD);
  f->client = td_irc_client_new (config, f->mailbox, MAIL_IRC);
  td_irc_client_connect (f->client);
  g_assert_true (wait_until (friend_registered, f));
  /* The first run makes the account; later runs log in to it. */
  if (!friend_event (f, TD_IRC_EVENT_NUMERIC, "903"))
    {
      td_irc_client_send_raw (f->client, "REGISTER friend * " FRIEND_PASSWORD);
      g_assert_true (wait_until (friend_has_account, f));
    }
  td_irc_client_join (f->client, CHANNEL, NULL);
  g_assert_true (wait_until (friend_joined, f));
  return f;
}

/* Uploads the fixture @name as the friend; returns the URL to post. */
static char *
friend_upload (Friend     *f,
               const char *name)
{
  g_autofree char *path = fixture (name);
  TdFileUploadParams params = { 0 };

  params.url_base = f->filehost;
  params.user = "friend";
  params.password = FRIEND_PASSWORD;
  params.path = path;
  params.reply_mailbox = f->mailbox;
  params.reply_kind = MAIL_UPLOAD;
  f->upload_done = FALSE;
  td_file_client_upload (f->files, &params);
  g_assert_true (wait_until (friend_upload_done, f));
  g_assert_no_error (f->upload_error);
  g_assert_nonnull (f->uploaded);
  g_assert_true (g_str_has_prefix (f->uploaded->url, f->filehost));
  return g_strdup (f->uploaded->url);
}

static void
friend_free (Friend *f)
{
  td_irc_client_free (f->client, NULL);
  td_mailbox_close (f->mailbox);
  td_file_client_free (f->files);
  g_ptr_array_unref (f->events);
  g_free (f->filehost);
  g_clear_pointer (&f->uploaded, td_file_upload_result_free);
  g_clear_error (&f->upload_error);
  g_free (f);
}

/* The view in CHANNEL on the embedded server, with its account made. */
static TdChatView *
view_in_channel (TdApplication *app)
{
  TdChatView *view = chat_view (app);
  Query q = { view, TD_CHAT_LOCAL_NETWORK, CHANNEL };
  TdChatBuffer *buffer;

  g_assert_true (wait_until (view_ready, view));
  {
    TdChatBuffer *server = td_chat_view_find_buffer (view, TD_CHAT_LOCAL_NETWORK, NULL);
    gint64 deadline = g_get_monotonic_time () + DEADLINE_MS * G_TIME_SPAN_MILLISECOND;

    while (!g_str_has_prefix (td_chat_buffer_get_status (server) ?: "", "Connected"))
      {
        g_assert_cmpint (g_get_monotonic_time (), <, deadline);
        g_main_context_iteration (NULL, FALSE);
      }
  }
  g_assert_true (td_chat_view_join_channel (view, TD_CHAT_LOCAL_NETWORK, CHANNEL, NULL));
  g_assert_true (wait_until (joined, &q));
  buffer = td_chat_view_find_buffer (view, TD_CHAT_LOCAL_NETWORK, CHANNEL);
  td_chat_view_select (view, buffer);
  /* The file host is known and the local account is made (or logged in
   * to): files can go. */
  g_assert_true (wait_until (attach_enabled, &q));
  g_assert_nonnull (td_chat_files_get_host (td_chat_view_get_files (view), TD_CHAT_LOCAL_NETWORK));
  return view;
}

/* ------------------------------------------------------------------ */
/* Screenshots (TD_CHAT_FILES_SCREENSHOT=path-prefix)                  */
/* ------------------------------------------------------------------ */

static gboolean
frames_pass (gpointer data)
{
  return g_get_monotonic_time () > *(gint64 *) data;
}

static void
screenshot (TdChatView *view,
            const char *suffix)
{
  const char *prefix = g_getenv ("TD_CHAT_FILES_SCREENSHOT");
  GtkWidget *window = GTK_WIDGET (gtk_widget_get_root (GTK_WIDGET (view)));
  g_autoptr(GdkPaintable) paintable = NULL;
  g_autoptr(GtkSnapshot) snapshot = NULL;
  g_autoptr(GskRenderNode) node = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  g_autofree char *path = NULL;
  gint64 until = g_get_monotonic_time () + 700 * G_TIME_SPAN_MILLISECOND;

  if (prefix == NULL)
    return;
  wait_until (frames_pass, &until);
  paintable = gtk_widget_paintable_new (window);
  snapshot = gtk_snapshot_new ();
  gdk_paintable_snapshot (paintable, snapshot, gtk_widget_get_width (window), gtk_widget_get_height (window));
  node = gtk_snapshot_free_to_node (g_steal_pointer (&snapshot));
  texture = gsk_renderer_render_texture (gtk_native_get_renderer (GTK_NATIVE (window)), node, NULL);
  path = g_strdup_printf ("%s-%s.png", prefix, suffix);
  g_assert_true (gdk_texture_save_to_png (texture, path));
  g_test_message ("screenshot: %s", path);
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */
/* ------------------------------------------------------------------ */

/* An image another client uploads and posts shows inline, decoded off
 * the main thread. */
static void
check_image_from_friend (TdApplication *app)
{
  TdChatView *view = view_in_channel (app);
  Friend *f = friend_new (app);
  g_autofree char *url = friend_upload (f, "landscape.png");
  g_autofree char *text = g_strconcat (url, " the view from here", NULL);
  Query q = { view, TD_CHAT_LOCAL_NETWORK, CHANNEL, url, TD_FILE_URL_IMAGE, TD_CHAT_THUMBNAIL_READY };
  GdkTexture *texture = NULL;

  td_irc_client_privmsg (f->client, CHANNEL, text);
  g_assert_true (wait_until (has_line, &q));
  g_assert_true (wait_until (preview_shows, &q));
  g_assert_cmpint (td_chat_files_get_thumbnail (td_chat_view_get_files (view), url, &texture, NULL), ==,
                   TD_CHAT_THUMBNAIL_READY);
  g_assert_nonnull (texture);
  /* 320 x 200: small enough to be kept as it is. */
  g_assert_cmpint (gdk_texture_get_width (texture), ==, 320);
  g_assert_cmpint (gdk_texture_get_height (texture), ==, 200);

  /* A link to any other server stays a plain link (previews of unknown
   * hosts are off), until the setting allows it. */
  {
    g_autoptr(GSettings) settings = g_settings_new ("io.github.tidings.Tidings");
    Query other = { view, TD_CHAT_LOCAL_NETWORK, CHANNEL, "http://127.0.0.1:9/elsewhere.png",
                    TD_FILE_URL_IMAGE, TD_CHAT_THUMBNAIL_FAILED };

    td_irc_client_privmsg (f->client, CHANNEL, "see http://127.0.0.1:9/elsewhere.png");
    g_assert_true (wait_until (has_line, &other));
    g_assert_cmpint (td_chat_files_classify (td_chat_view_get_files (view), TD_CHAT_LOCAL_NETWORK,
                                             other.text), ==, TD_FILE_URL_NONE);
    g_assert_false (preview_shows (&other));
    g_settings_set_boolean (settings, "chat-previews-unknown-hosts", TRUE);
    /* Nothing listens on port 9: a placeholder, no crash. */
    g_assert_true (wait_until (preview_shows, &other));
    g_settings_set_boolean (settings, "chat-previews-unknown-hosts", FALSE);
  }

  friend_free (f);
}

static void
test_image_from_friend (void)
{
  run_app (check_image_from_friend);
}

/* A file attached through the view is uploaded and its URL (with the
 * caption) posted in the channel; it then shows as a card. */
static void
check_attach (TdApplication *app)
{
  TdChatView *view = view_in_channel (app);
  g_autofree char *image = fixture ("landscape.png");
  g_autofree char *notes = fixture ("notes.txt");
  g_autoptr(GFile) image_file = g_file_new_for_path (image);
  g_autoptr(GFile) notes_file = g_file_new_for_path (notes);
  g_autoptr(GError) error = NULL;
  const char *host = td_chat_files_get_host (td_chat_view_get_files (view), TD_CHAT_LOCAL_NETWORK);
  g_autofree char *prefix = g_strconcat (host, "/f/", NULL);
  Query q = { view, TD_CHAT_LOCAL_NETWORK, CHANNEL };
  GtkWidget *caption = template_child (view, "caption_entry");
  TdChatBuffer *buffer = td_chat_view_find_buffer (view, TD_CHAT_LOCAL_NETWORK, CHANNEL);
  TdChatLine *line;

  /* The image, with a caption. */
  g_assert_true (td_chat_view_attach_file (view, image_file, &error));
  g_assert_no_error (error);
  g_assert_true (gtk_revealer_get_reveal_child (GTK_REVEALER (template_child (view, "attach_revealer"))));
  g_assert_true (wait_until (send_enabled, &q));
  gtk_editable_set_text (GTK_EDITABLE (caption), "a hill at noon");
  screenshot (view, "preview");
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (view), "chat.attach-send", NULL));
  q.text = " a hill at noon";
  g_assert_true (wait_until (has_line, &q));
  line = find_line (buffer, q.text);
  g_assert_true (g_str_has_prefix (td_chat_line_get_text (line), prefix));
  g_assert_true (g_str_has_suffix (td_chat_line_get_text (line), "landscape.png a hill at noon"));
  g_assert_true (td_chat_line_get_flags (line) & TD_CHAT_LINE_SELF);
  g_assert_false (gtk_revealer_get_reveal_child (GTK_REVEALER (template_child (view, "attach_revealer"))));
  {
    g_auto(GStrv) links = td_chat_text_get_links (td_chat_line_get_text (line));
    Query shown = { view, TD_CHAT_LOCAL_NETWORK, CHANNEL, links[0], TD_FILE_URL_IMAGE, TD_CHAT_THUMBNAIL_READY };

    g_assert_true (wait_until (preview_shows, &shown));
  }

  /* A file that is no image: no caption, a card with its size. */
  g_assert_true (td_chat_view_attach_file (view, notes_file, &error));
  g_assert_true (wait_until (send_enabled, &q));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (view), "chat.attach-send", NULL));
  q.text = "notes.txt";
  g_assert_true (wait_until (has_line, &q));
  line = find_line (buffer, q.text);
  g_assert_true (g_str_has_prefix (td_chat_line_get_text (line), prefix));
  g_assert_true (g_str_has_suffix (td_chat_line_get_text (line), "/notes.txt"));
  {
    Query shown = { view, TD_CHAT_LOCAL_NETWORK, CHANNEL, td_chat_line_get_text (line), TD_FILE_URL_FILE };

    g_assert_true (wait_until (preview_shows, &shown));
    g_assert_cmpint (td_chat_files_get_size (td_chat_view_get_files (view), shown.text), ==, 73);
  }

  /* Cancel closes the preview without sending. */
  g_assert_true (td_chat_view_attach_file (view, notes_file, &error));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (view), "chat.attach-cancel", NULL));
  g_assert_false (gtk_revealer_get_reveal_child (GTK_REVEALER (template_child (view, "attach_revealer"))));

  screenshot (view, "light");
  adw_style_manager_set_color_scheme (adw_style_manager_get_default (), ADW_COLOR_SCHEME_FORCE_DARK);
  screenshot (view, "dark");
  adw_style_manager_set_color_scheme (adw_style_manager_get_default (), ADW_COLOR_SCHEME_DEFAULT);
}

static void
test_attach (void)
{
  run_app (check_attach);
}

/* Against a server without a file host the attach button is off and
 * says why; attaching fails with the same reason. */
static void
check_no_filehost (TdApplication *app)
{
  TdChatView *view = chat_view (app);
  Query q = { view, "plain", "#room" };
  GtkWidget *button = template_child (view, "attach_button");
  g_autofree char *notes = fixture ("notes.txt");
  g_autoptr(GFile) file = g_file_new_for_path (notes);
  g_autoptr(GError) error = NULL;

  g_assert_true (wait_until (view_ready, view));
  g_assert_true (td_chat_view_add_network (view, "plain", "127.0.0.1", plain_server->port, FALSE, "viewer",
                                           NULL, NULL));
  {
    TdChatBuffer *server = td_chat_view_find_buffer (view, "plain", NULL);
    gint64 deadline = g_get_monotonic_time () + DEADLINE_MS * G_TIME_SPAN_MILLISECOND;

    while (!g_str_has_prefix (td_chat_buffer_get_status (server) ?: "", "Connected"))
      {
        g_assert_cmpint (g_get_monotonic_time (), <, deadline);
        g_main_context_iteration (NULL, FALSE);
      }
  }
  g_assert_true (td_chat_view_join_channel (view, "plain", "#room", NULL));
  g_assert_true (wait_until (joined, &q));
  td_chat_view_select (view, td_chat_view_find_buffer (view, "plain", "#room"));
  g_assert_false (gtk_widget_is_sensitive (button));
  g_assert_cmpstr (gtk_widget_get_tooltip_text (button), ==, "This server does not host files");
  g_assert_null (td_chat_files_get_host (td_chat_view_get_files (view), "plain"));
  g_assert_false (td_chat_view_attach_file (view, file, &error));
  g_assert_error (error, TD_CHAT_VIEW_ERROR, TD_CHAT_VIEW_ERROR_NOT_CONNECTED);
  g_assert_cmpstr (error->message, ==, "This server does not host files");
  g_assert_false (gtk_revealer_get_reveal_child (GTK_REVEALER (template_child (view, "attach_revealer"))));
}

static void
test_no_filehost (void)
{
  run_app (check_no_filehost);
}

/* A decompression bomb and a damaged image show the placeholder, and the
 * view goes on working. */
static void
check_bad_images (TdApplication *app)
{
  TdChatView *view = view_in_channel (app);
  Friend *f = friend_new (app);
  const char *names[] = { "huge.png", "broken.png" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *url = friend_upload (f, names[i]);
      Query q = { view, TD_CHAT_LOCAL_NETWORK, CHANNEL, url, TD_FILE_URL_IMAGE, TD_CHAT_THUMBNAIL_FAILED };
      TdChatPreview *preview;

      td_irc_client_privmsg (f->client, CHANNEL, url);
      g_assert_true (wait_until (has_line, &q));
      g_assert_true (wait_until (preview_shows, &q));
      preview = find_preview_in (template_child (view, "message_list"), url);
      g_assert_true (gtk_widget_get_visible (GTK_WIDGET (preview)));
    }
  /* Still alive: a message after them arrives and shows. */
  {
    Query q = { view, TD_CHAT_LOCAL_NETWORK, CHANNEL, "still here" };

    td_irc_client_privmsg (f->client, CHANNEL, "still here");
    g_assert_true (wait_until (has_line, &q));
  }
  friend_free (f);
}

static void
test_bad_images (void)
{
  run_app (check_bad_images);
}

/* LSan, in ASan builds (called by the sanitizer, unused otherwise):
 * GIO's shared-mime-info code keeps a few small blocks when GTK's
 * icon-loading thread sniffs the theme's file-type icons, which the file
 * cards use; they belong to GLib, not to Tidings. */
const char *__lsan_default_suppressions (void);

const char *
__lsan_default_suppressions (void)
{
  return "leak:g_content_type_guess\n";
}

static void
rm_rf (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        rm_rf (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(TdIrcServerConfig) config = NULL;
  g_autofree char *db = NULL;
  g_autofree char *data = NULL;
  g_autofree char *cache = NULL;
  int ret;

  /* Before anything asks GLib for the user directories: the embedded
   * server's database, the local account and the thumbnail cache all go
   * to the temporary directory. */
  tmp_dir = g_dir_make_tmp ("tidings-chat-files-XXXXXX", NULL);
  data = g_build_filename (tmp_dir, "data", NULL);
  cache = g_build_filename (tmp_dir, "cache", NULL);
  g_setenv ("XDG_DATA_HOME", data, TRUE);
  g_setenv ("XDG_CACHE_HOME", cache, TRUE);
  db = g_build_filename (tmp_dir, "tidings.db", NULL);
  g_setenv ("TIDINGS_DB", db, TRUE);
  fixtures = g_build_filename (g_getenv ("TD_TEST_SRCDIR") ? g_getenv ("TD_TEST_SRCDIR") : "tests",
                               "fixtures", "chat-files", NULL);

  gtk_test_init (&argc, &argv, NULL);
  adw_init ();

  config = td_irc_server_config_new ();
  config->flood_control = FALSE;
  plain_server = td_irc_test_server_start (td_irc_server_new (config));

  g_test_add_func ("/td/chat-files/image-from-friend", test_image_from_friend);
  g_test_add_func ("/td/chat-files/attach", test_attach);
  g_test_add_func ("/td/chat-files/no-filehost", test_no_filehost);
  g_test_add_func ("/td/chat-files/bad-images", test_bad_images);

  ret = g_test_run ();

  td_irc_test_server_free (plain_server);
  rm_rf (tmp_dir);
  g_free (tmp_dir);
  g_free (fixtures);
  return ret;
}
