/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <adwaita.h>
#include <glib/gstdio.h>
#include <string.h>

#include "app/td-application.h"
#include "app/td-chat-view.h"
#include "app/td-window.h"
#include "chat/td-irc-client.h"
#include "../chat/td-irc-test.h"

/*
 * The Chat view in the running app (in-process, not unique, local
 * servers on port 0, a temporary database), against an IRC server that
 * the test runs on a thread, with a second client in the test that
 * speaks to the view.
 */

#define DEADLINE_MS 10000
#define NET "test"

static TdIrcTestServer *server;
static char *tmp_dir;

typedef void (*AppCheck) (TdApplication *app);

static gboolean
wait_until (gboolean (*predicate) (gpointer), gpointer data)
{
  gint64 deadline = g_get_monotonic_time () + DEADLINE_MS * G_TIME_SPAN_MILLISECOND;

  while (!predicate (data))
    {
      if (g_get_monotonic_time () > deadline)
        return FALSE;
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
  return TRUE;
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
  g_settings_set_string (settings, "last-view", "chat");
  g_settings_set_string (settings, "chat-nick", "viewer");

  g_signal_connect_after (app, "activate", G_CALLBACK (activate_cb), check);
  g_assert_cmpint (g_application_run (G_APPLICATION (app), 1, argv), ==, 0);
}

static GtkWidget *
find_widget (GtkWidget *root,
             GType      type)
{
  if (G_TYPE_CHECK_INSTANCE_TYPE (root, type))
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child; child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_widget (child, type);

      if (found != NULL)
        return found;
    }
  return NULL;
}

static TdChatView *
chat_view (TdApplication *app)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (app));
  GtkWidget *view;

  g_assert_true (TD_IS_WINDOW (window));
  td_window_show_view (TD_WINDOW (window), "chat");
  view = find_widget (GTK_WIDGET (window), TD_TYPE_CHAT_VIEW);
  g_assert_nonnull (view);
  return TD_CHAT_VIEW (view);
}

static gboolean
view_ready (gpointer data)
{
  return td_chat_view_is_ready (data);
}

/* ------------------------------------------------------------------ */
/* Predicates over the view's models                                   */
/* ------------------------------------------------------------------ */

typedef struct
{
  TdChatView *view;
  const char *network;
  const char *buffer;
  const char *text;
  guint       number;
} Query;

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
network_connected (gpointer data)
{
  Query *q = data;
  TdChatBuffer *buffer = td_chat_view_find_buffer (q->view, q->network, NULL);

  return buffer != NULL && g_str_has_prefix (td_chat_buffer_get_status (buffer) ?: "", "Connected");
}

static gboolean
joined (gpointer data)
{
  Query *q = data;
  TdChatBuffer *buffer = td_chat_view_find_buffer (q->view, q->network, q->buffer);

  return buffer != NULL && td_chat_buffer_get_joined (buffer) &&
         g_list_model_get_n_items (td_chat_buffer_get_members (buffer)) >= q->number;
}

static gboolean
mentions_at_least (gpointer data)
{
  Query *q = data;
  TdChatBuffer *buffer = td_chat_view_find_buffer (q->view, q->network, q->buffer);

  return buffer != NULL && td_chat_buffer_get_mentions (buffer) >= q->number;
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

/* ------------------------------------------------------------------ */
/* A second client, spoken by the test                                 */
/* ------------------------------------------------------------------ */

typedef struct
{
  TdMailboxId  mailbox;
  GPtrArray   *events;
  TdIrcClient *client;
} Friend;

static void
friend_mail_cb (TdMailboxId  id,
                TdMail      *mail,
                gpointer     user_data)
{
  Friend *f = user_data;
  TdIrcEventBatch *batch = mail->data;

  for (guint i = 0; i < batch->events->len; i++)
    g_ptr_array_add (f->events, g_steal_pointer (&g_ptr_array_index (batch->events, i)));
  g_ptr_array_set_free_func (batch->events, NULL);
}

static TdIrcEventType friend_wanted;

static gboolean
friend_has (gpointer data)
{
  Friend *f = data;

  for (guint i = 0; i < f->events->len; i++)
    {
      TdIrcEvent *event = g_ptr_array_index (f->events, i);

      if (event->type == friend_wanted)
        return TRUE;
    }
  return FALSE;
}

static Friend *
friend_new (const char *nick,
            const char *channel)
{
  Friend *f = g_new0 (Friend, 1);
  g_autoptr(TdIrcClientConfig) config = td_irc_client_config_new ();

  f->events = g_ptr_array_new_with_free_func ((GDestroyNotify) td_irc_event_free);
  f->mailbox = td_mailbox_open (g_main_context_default (), G_PRIORITY_DEFAULT, friend_mail_cb, f, NULL);
  config->port = server->port;
  config->nick = g_strdup (nick);
  f->client = td_irc_client_new (config, f->mailbox, 1);
  td_irc_client_connect (f->client);
  friend_wanted = TD_IRC_EVENT_REGISTERED;
  g_assert_true (wait_until (friend_has, f));
  td_irc_client_join (f->client, channel, NULL);
  friend_wanted = TD_IRC_EVENT_JOINED;
  g_assert_true (wait_until (friend_has, f));
  return f;
}

static void
friend_free (Friend *f)
{
  td_irc_client_free (f->client, NULL);
  td_mailbox_close (f->mailbox);
  g_ptr_array_unref (f->events);
  g_free (f);
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */
/* ------------------------------------------------------------------ */

static void
type_and_send (TdChatView *view,
               const char *text)
{
  GtkWidget *composer = GTK_WIDGET (gtk_widget_get_template_child (GTK_WIDGET (view), TD_TYPE_CHAT_VIEW, "composer"));

  g_assert_true (GTK_IS_TEXT_VIEW (composer));
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (GTK_TEXT_VIEW (composer)), text, -1);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (view), "chat.send", NULL));
}

static void
check_conversation (TdApplication *app)
{
  TdChatView *view = chat_view (app);
  Query q = { view, NET, "#room", NULL, 0 };
  TdChatBuffer *room, *server_buffer;
  TdChatLine *line;
  Friend *f;
  AdwMessageDialog *dialog = NULL;

  g_assert_true (wait_until (view_ready, view));
  /* The embedded server's network is always there, first. */
  g_assert_nonnull (td_chat_view_find_buffer (view, TD_CHAT_LOCAL_NETWORK, NULL));

  g_assert_true (td_chat_view_add_network (view, NET, "127.0.0.1", server->port, FALSE, "viewer", NULL, NULL));
  g_assert_false (td_chat_view_add_network (view, NET, "127.0.0.1", server->port, FALSE, "viewer", NULL, NULL));
  g_assert_true (wait_until (network_connected, &q));
  server_buffer = td_chat_view_find_buffer (view, NET, NULL);
  g_assert_true (td_chat_view_get_selected (view) == server_buffer);

  /* /join from the composer: the channel appears once the server has
   * echoed the JOIN, and is selected. */
  type_and_send (view, "/join #room");
  q.number = 1;
  g_assert_true (wait_until (joined, &q));
  room = td_chat_view_find_buffer (view, NET, "#room");
  g_assert_true (td_chat_view_get_selected (view) == room);
  {
    g_autoptr(TdChatMember) me = g_list_model_get_item (td_chat_buffer_get_members (room), 0);

    g_assert_cmpstr (td_chat_member_get_nick (me), ==, "viewer");
    g_assert_cmpstr (td_chat_member_get_prefix (me), ==, "@");
  }

  /* Send: the line comes back from the server (echo-message). */
  type_and_send (view, "hello room, see https://example.org/a?b=1&c=2. <b>not bold</b>");
  q.text = "hello room";
  g_assert_true (wait_until (has_line, &q));
  line = find_line (room, "hello room");
  g_assert_cmpstr (td_chat_line_get_nick (line), ==, "viewer");
  g_assert_true (td_chat_line_get_flags (line) & TD_CHAT_LINE_SELF);
  {
    g_autofree char *markup = td_chat_markup_from_text (td_chat_line_get_text (line));

    g_assert_nonnull (strstr (markup, "<a href=\"https://example.org/a?b=1&amp;c=2\">https://example.org/a?b=1&amp;c=2</a>. "));
    g_assert_nonnull (strstr (markup, "&lt;b&gt;not bold&lt;/b&gt;"));
  }

  /* Receive, from someone else; the nick list shows them. */
  f = friend_new ("friend", "#room");
  q.number = 2;
  g_assert_true (wait_until (joined, &q));

  /* Unread and mention badges count where the user is not looking. */
  td_chat_view_select (view, server_buffer);
  td_irc_client_privmsg (f->client, "#room", "just chatting");
  td_irc_client_privmsg (f->client, "#room", "viewer: are you there?");
  q.number = 1;
  g_assert_true (wait_until (mentions_at_least, &q));
  q.text = "just chatting";
  g_assert_true (has_line (&q));
  g_assert_cmpuint (td_chat_buffer_get_unread (room), ==, 2);
  g_assert_cmpuint (td_chat_buffer_get_mentions (room), ==, 1);
  line = find_line (room, "are you there");
  g_assert_true (td_chat_line_get_flags (line) & TD_CHAT_LINE_MENTION);
  g_assert_false (td_chat_line_get_flags (find_line (room, "just chatting")) & TD_CHAT_LINE_MENTION);
  /* Selecting the channel reads it. */
  td_chat_view_select (view, room);
  g_assert_cmpuint (td_chat_buffer_get_unread (room), ==, 0);
  g_assert_cmpuint (td_chat_buffer_get_mentions (room), ==, 0);

  /* A private message opens a query. */
  td_irc_client_privmsg (f->client, "viewer", "psst");
  q.buffer = "friend";
  q.text = "psst";
  g_assert_true (wait_until (has_line, &q));
  g_assert_cmpint (td_chat_buffer_get_kind (td_chat_view_find_buffer (view, NET, "friend")), ==, TD_CHAT_BUFFER_QUERY);

  /* /help lists the commands inline. */
  type_and_send (view, "/help");
  g_assert_nonnull (find_line (room, "/join"));
  g_assert_nonnull (find_line (room, "/quote"));
  g_assert_nonnull (find_line (room, "/whois"));

  /* Errors are shown where the user looks, never swallowed. */
  type_and_send (view, "/frobnicate");
  g_assert_nonnull (find_line (room, "Unknown command /frobnicate"));
  type_and_send (view, "/quote NOSUCHCOMMAND x");
  q.buffer = "#room";
  q.text = "NOSUCHCOMMAND";
  g_assert_true (wait_until (has_line, &q));
  g_assert_cmpint (td_chat_line_get_kind (find_line (room, "NOSUCHCOMMAND")), ==, TD_CHAT_LINE_ERROR);

  /* /me. */
  type_and_send (view, "/me waves");
  q.text = "waves";
  g_assert_true (wait_until (has_line, &q));
  g_assert_cmpint (td_chat_line_get_kind (find_line (room, "waves")), ==, TD_CHAT_LINE_ACTION);

  /* Several lines ask first; sent after the answer. */
  type_and_send (view, "first line\nsecond line");
  g_assert_true (wait_until (dialog_shown, &dialog));
  adw_message_dialog_response (dialog, "send");
  q.text = "second line";
  g_assert_true (wait_until (has_line, &q));

  /* Up brings back what was sent, newest first; Down goes forward. */
  {
    GtkWidget *composer = GTK_WIDGET (gtk_widget_get_template_child (GTK_WIDGET (view), TD_TYPE_CHAT_VIEW, "composer"));
    GtkTextBuffer *text = gtk_text_view_get_buffer (GTK_TEXT_VIEW (composer));
    GtkTextIter start, end;
    g_autofree char *first = NULL;
    g_autofree char *second = NULL;

    gtk_text_buffer_set_text (text, "", -1);
    g_assert_true (gtk_widget_activate_action (GTK_WIDGET (view), "chat.history-previous", NULL));
    gtk_text_buffer_get_bounds (text, &start, &end);
    first = gtk_text_buffer_get_text (text, &start, &end, FALSE);
    g_assert_cmpstr (first, ==, "first line\nsecond line");
    g_assert_true (gtk_widget_activate_action (GTK_WIDGET (view), "chat.history-previous", NULL));
    gtk_text_buffer_get_bounds (text, &start, &end);
    second = gtk_text_buffer_get_text (text, &start, &end, FALSE);
    g_assert_cmpstr (second, ==, "/me waves");
    g_assert_true (gtk_widget_activate_action (GTK_WIDGET (view), "chat.history-next", NULL));
    g_assert_true (gtk_widget_activate_action (GTK_WIDGET (view), "chat.history-next", NULL));
    gtk_text_buffer_get_bounds (text, &start, &end);
    g_assert_true (gtk_text_iter_equal (&start, &end));
  }

  /* The members' nick list; Tab completes from it. */
  {
    GtkWidget *composer = GTK_WIDGET (gtk_widget_get_template_child (GTK_WIDGET (view), TD_TYPE_CHAT_VIEW, "composer"));
    GtkTextBuffer *text = gtk_text_view_get_buffer (GTK_TEXT_VIEW (composer));
    GtkTextIter start, end;
    g_autofree char *completed = NULL;
    gtk_text_buffer_set_text (text, "fri", -1);
    g_assert_true (gtk_widget_activate_action (GTK_WIDGET (view), "chat.complete", NULL));
    gtk_text_buffer_get_bounds (text, &start, &end);
    completed = gtk_text_buffer_get_text (text, &start, &end, FALSE);
    g_assert_cmpstr (completed, ==, "friend: ");
    gtk_text_buffer_set_text (text, "", -1);
  }

  friend_free (f);
}

static void
test_conversation (void)
{
  run_app (check_conversation);
}

/* A channel full of history: the view shows the latest lines at once and
 * older ones when scrolled to the top. */
static void
check_scrollback (TdApplication *app)
{
  TdChatView *view = chat_view (app);
  Query q = { view, NET, "#history", NULL, 0 };
  Friend *f = friend_new ("elder", "#history");
  TdChatBuffer *buffer;
  GtkWidget *scroller;
  GtkAdjustment *adj;
  guint before;

  for (guint i = 0; i < 250; i++)
    {
      g_autofree char *text = g_strdup_printf ("old line %03u", i);

      td_irc_client_privmsg (f->client, "#history", text);
    }

  g_assert_true (wait_until (view_ready, view));
  /* The network from the first run came back from the database. */
  g_assert_true (wait_until (network_connected, &q));
  td_chat_view_select (view, td_chat_view_find_buffer (view, NET, NULL));
  type_and_send (view, "/join #history");
  q.text = "old line 249";
  g_assert_true (wait_until (has_line, &q));
  buffer = td_chat_view_find_buffer (view, NET, "#history");
  g_assert_true (td_chat_view_get_selected (view) == buffer);
  before = g_list_model_get_n_items (td_chat_buffer_get_lines (buffer));
  q.text = "old line 100";
  g_assert_false (has_line (&q));

  /* Scroll to the top: older lines come from CHATHISTORY BEFORE. */
  scroller = GTK_WIDGET (gtk_widget_get_template_child (GTK_WIDGET (view), TD_TYPE_CHAT_VIEW, "message_scroller"));
  adj = gtk_scrolled_window_get_vadjustment (GTK_SCROLLED_WINDOW (scroller));
  {
    gint64 deadline = g_get_monotonic_time () + DEADLINE_MS * 1000;

    while (gtk_adjustment_get_upper (adj) <= gtk_adjustment_get_page_size (adj) * 2 &&
           g_get_monotonic_time () < deadline)
      g_main_context_iteration (NULL, FALSE);
  }
  gtk_adjustment_set_value (adj, 0);
  g_assert_true (wait_until (has_line, &q));
  g_assert_cmpuint (g_list_model_get_n_items (td_chat_buffer_get_lines (buffer)), >, before);

  /* The log of the first run is there from the start: #room and its
   * lines, before anything new was said. */
  q.buffer = "#room";
  q.text = "hello room";
  g_assert_true (has_line (&q));

  /* Search the log (FTS). */
  td_chat_view_search (view, "are you there");
  q.network = "";
  q.buffer = "Search Results";
  {
    TdChatBuffer *results;
    gint64 deadline = g_get_monotonic_time () + DEADLINE_MS * 1000;

    while ((results = td_chat_view_get_selected (view)) == NULL ||
           td_chat_buffer_get_kind (results) != TD_CHAT_BUFFER_SEARCH)
      {
        g_assert_cmpint (g_get_monotonic_time (), <, deadline);
        g_main_context_iteration (NULL, FALSE);
      }
    g_assert_nonnull (find_line (results, "viewer: are you there?"));
    g_assert_nonnull (find_line (results, "#room"));
  }

  friend_free (f);
}

static void
test_scrollback (void)
{
  run_app (check_scrollback);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(TdIrcServerConfig) config = NULL;
  g_autofree char *db = NULL;
  int ret;

  gtk_test_init (&argc, &argv, NULL);
  adw_init ();

  tmp_dir = g_dir_make_tmp ("tidings-chat-test-XXXXXX", NULL);
  db = g_build_filename (tmp_dir, "tidings.db", NULL);
  g_setenv ("TIDINGS_DB", db, TRUE);

  config = td_irc_server_config_new ();
  config->flood_control = FALSE;
  server = td_irc_test_server_start (td_irc_server_new (config));

  g_test_add_func ("/td/chat-view/conversation", test_conversation);
  g_test_add_func ("/td/chat-view/scrollback", test_scrollback);

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
  return ret;
}
