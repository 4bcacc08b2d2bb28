/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <adwaita.h>
#include <glib/gstdio.h>
#include <string.h>

#include "app/td-application.h"
#include "app/td-chat-row.h"
#include "app/td-chat-view.h"
#include "app/td-feeds-view.h"
#include "app/td-row-text.h"
#include "app/td-warm-up.h"
#include "app/td-window.h"
#include "chat/td-chat-history.h"
#include "chat/td-irc-accounts.h"
#include "chat/td-irc-client.h"
#include "../chat/td-irc-test.h"
#include "td-test-widgets.h"

/*
 * The Chat view in the running app (in-process, not unique, local
 * servers on port 0, a temporary database), against an IRC server that
 * the test runs on a thread, with a second client in the test that
 * speaks to the view. The bus has no Secret Service: the keyring is
 * unavailable here (test-chat-keyring.c has one).
 */

#define DEADLINE_MS 10000
#define NET "test"
/* A network with a SASL account on the same server. */
#define SASL_NET      "sasl"
#define SASL_ACCOUNT  "keeper"
#define SASL_PASSWORD "keeper-password-1234"

static TdIrcTestServer *server;
static char *tmp_dir;

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

/* Runs the app with @nick chosen for the local server ("" for a first
 * run that has not chosen one), its window opening on @view. */
static void
run_app_on (const char *nick,
            const char *view,
            AppCheck    check)
{
  g_autoptr(TdApplication) app = td_application_new (APP_ID, G_APPLICATION_NON_UNIQUE);
  g_autoptr(GSettings) settings = g_settings_new ("io.github.tidings.Tidings");
  char *argv[] = { (char *) "tidings", NULL };

  g_settings_set_int (settings, "local-pubsub-port", 0);
  g_settings_set_int (settings, "local-line-port", 0);
  g_settings_set_int (settings, "local-chat-port", 0);
  g_settings_set_string (settings, "last-view", view);
  g_settings_set_string (settings, "chat-nick", nick);

  g_signal_connect_after (app, "activate", G_CALLBACK (activate_cb), check);
  g_assert_cmpint (g_application_run (G_APPLICATION (app), 1, argv), ==, 0);
}

static void
run_app_as (const char *nick,
            AppCheck    check)
{
  run_app_on (nick, "chat", check);
}

static void
run_app (AppCheck check)
{
  run_app_as ("viewer", check);
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

static gboolean
is_mapped_label (GtkWidget     *widget,
                 gconstpointer  text)
{
  return GTK_IS_LABEL (widget) && gtk_widget_get_mapped (widget) &&
         g_strcmp0 (gtk_label_get_label (GTK_LABEL (widget)), text) == 0;
}

/* Whether a mapped label under @root shows @text. */
static gboolean
shows_label (GtkWidget  *root,
             const char *text)
{
  return td_test_find (root, is_mapped_label, text) != NULL;
}

typedef struct
{
  GtkWidget  *root;
  const char *shown;
  const char *gone;
} Labels;

static gboolean
is_mapped_text (GtkWidget     *widget,
                gconstpointer  text)
{
  return TD_IS_ROW_TEXT (widget) && gtk_widget_get_mapped (widget) &&
         g_strcmp0 (td_row_text_get_text (TD_ROW_TEXT (widget)), text) == 0;
}

/* The mapped line text under @root that shows @text, or NULL. */
static TdRowText *
find_text (GtkWidget  *root,
           const char *text)
{
  return (TdRowText *) td_test_find (root, is_mapped_text, text);
}

static gboolean
shows_text (gpointer data)
{
  Labels *l = data;

  return find_text (l->root, l->shown) != NULL;
}

static gboolean
sidebar_shows (gpointer data)
{
  Labels *l = data;

  return shows_label (l->root, l->shown) && (l->gone == NULL || !shows_label (l->root, l->gone));
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
status_is (gpointer data)
{
  Query *q = data;
  TdChatBuffer *buffer = td_chat_view_find_buffer (q->view, q->network, NULL);

  return buffer != NULL && g_strcmp0 (td_chat_buffer_get_status (buffer), q->text) == 0;
}

static gboolean
status_has (gpointer data)
{
  Query *q = data;
  TdChatBuffer *buffer = td_chat_view_find_buffer (q->view, q->network, NULL);

  return buffer != NULL && strstr (td_chat_buffer_get_status (buffer) ?: "", q->text) != NULL;
}

static gboolean
buffer_gone (gpointer data)
{
  Query *q = data;

  return td_chat_view_find_buffer (q->view, q->network, q->buffer) == NULL;
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
static const char *friend_wanted_text;

/* The friend has received a message with friend_wanted_text. */
static gboolean
friend_got_text (gpointer data)
{
  Friend *f = data;

  for (guint i = 0; i < f->events->len; i++)
    {
      TdIrcEvent *event = g_ptr_array_index (f->events, i);

      if (event->type == TD_IRC_EVENT_MESSAGE && g_strcmp0 (event->text, friend_wanted_text) == 0)
        return TRUE;
    }
  return FALSE;
}

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
    /* The row shows the text as sent, markup and all, with its link. */
    const char *sent = "hello room, see https://example.org/a?b=1&c=2. <b>not bold</b>";
    TdRowText *shown;

    g_assert_true (wait_until (shows_text, &(Labels) { GTK_WIDGET (view), sent, NULL }));
    shown = find_text (GTK_WIDGET (view), sent);
    g_assert_cmpuint (td_row_text_get_n_links (shown), ==, 1);
    g_assert_cmpstr (td_row_text_get_link (shown, 0), ==, "https://example.org/a?b=1&c=2");
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

  /* The friend changes nick: the query follows (title, sidebar row,
   * where sends go) with its history. */
  {
    TdChatBuffer *query = td_chat_view_find_buffer (view, NET, "friend");
    GtkWidget *title = GTK_WIDGET (gtk_widget_get_template_child (GTK_WIDGET (view), TD_TYPE_CHAT_VIEW, "title_label"));
    Labels sidebar = {
      GTK_WIDGET (gtk_widget_get_template_child (GTK_WIDGET (view), TD_TYPE_CHAT_VIEW, "sidebar_list")),
      "Buddy", "friend"
    };

    g_assert_nonnull (query);
    td_chat_view_select (view, query);
    td_irc_client_set_nick (f->client, "Buddy");
    q.buffer = "Buddy";
    q.text = "friend is now known as Buddy";
    g_assert_true (wait_until (has_line, &q));
    g_assert_true (td_chat_view_find_buffer (view, NET, "Buddy") == query);
    g_assert_null (td_chat_view_find_buffer (view, NET, "friend"));
    g_assert_cmpstr (td_chat_buffer_get_name (query), ==, "Buddy");
    g_assert_nonnull (find_line (query, "psst"));
    g_assert_true (td_chat_view_get_selected (view) == query);
    g_assert_cmpstr (gtk_label_get_label (GTK_LABEL (title)), ==, "Buddy");
    g_assert_true (wait_until (sidebar_shows, &sidebar));
    type_and_send (view, "after the rename");
    friend_wanted_text = "after the rename";
    g_assert_true (wait_until (friend_got_text, f));
  }

  /* Someone's query is open under the nick the friend takes next: the
   * two conversations become one, under the new name. */
  {
    TdChatBuffer *query = td_chat_view_find_buffer (view, NET, "Buddy");
    TdChatBuffer *pal_query;
    Friend *pal = friend_new ("Pal", "#room");

    td_irc_client_privmsg (pal->client, "viewer", "hello from pal");
    q.buffer = "Pal";
    q.text = "hello from pal";
    g_assert_true (wait_until (has_line, &q));
    pal_query = td_chat_view_find_buffer (view, NET, "Pal");
    g_assert_true (pal_query != NULL && pal_query != query);
    friend_free (pal);
    q.buffer = "#room";
    q.text = "Pal quit";
    g_assert_true (wait_until (has_line, &q));

    td_irc_client_set_nick (f->client, "PAL");
    q.buffer = "Buddy";
    g_assert_true (wait_until (buffer_gone, &q));
    g_assert_true (td_chat_view_find_buffer (view, NET, "pal") == pal_query);
    g_assert_cmpstr (td_chat_buffer_get_name (pal_query), ==, "PAL");
    g_assert_nonnull (find_line (pal_query, "psst"));
    g_assert_nonnull (find_line (pal_query, "hello from pal"));
    g_assert_nonnull (find_line (pal_query, "after the rename"));
    q.buffer = "PAL";
    q.text = "Buddy is now known as PAL";
    g_assert_true (wait_until (has_line, &q));
    /* The one the user was looking at is gone: its successor shows. */
    g_assert_true (td_chat_view_get_selected (view) == pal_query);
    td_chat_view_select (view, room);
  }

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
    /* (The friend is PAL by now.) */
    gtk_text_buffer_set_text (text, "pa", -1);
    g_assert_true (gtk_widget_activate_action (GTK_WIDGET (view), "chat.complete", NULL));
    gtk_text_buffer_get_bounds (text, &start, &end);
    completed = gtk_text_buffer_get_text (text, &start, &end, FALSE);
    g_assert_cmpstr (completed, ==, "PAL: ");
    gtk_text_buffer_set_text (text, "", -1);
  }

  /* Activating a member in the nick list opens a conversation with them. */
  {
    GtkWidget *members = GTK_WIDGET (gtk_widget_get_template_child (GTK_WIDGET (view), TD_TYPE_CHAT_VIEW,
                                                                    "members_list"));
    GListModel *nicks = td_chat_buffer_get_members (room);
    guint pal = G_MAXUINT;

    td_chat_view_select (view, room);
    for (guint i = 0; i < g_list_model_get_n_items (nicks); i++)
      {
        g_autoptr(TdChatMember) member = g_list_model_get_item (nicks, i);

        if (g_strcmp0 (td_chat_member_get_nick (member), "PAL") == 0)
          pal = i;
      }
    g_assert_cmpuint (pal, !=, G_MAXUINT);
    g_signal_emit_by_name (members, "activate", pal);
    g_assert_true (td_chat_view_get_selected (view) == td_chat_view_find_buffer (view, NET, "PAL"));
    g_assert_cmpint (td_chat_buffer_get_kind (td_chat_view_get_selected (view)), ==, TD_CHAT_BUFFER_QUERY);
    td_chat_view_select (view, room);
  }

  /* A SASL account without a keyring: the password works for this
   * session, and the user is told it could not be kept. */
  {
    Query s = { view, SASL_NET, NULL, "could not be kept in the keyring", 0 };

    g_assert_true (td_chat_view_add_network (view, SASL_NET, "127.0.0.1", server->port, FALSE, SASL_ACCOUNT,
                                             SASL_ACCOUNT, SASL_PASSWORD));
    g_assert_true (wait_until (has_line, &s));
    s.text = "Connected as " SASL_ACCOUNT ", logged in as " SASL_ACCOUNT;
    g_assert_true (wait_until (status_is, &s));
  }

  friend_free (f);
}

static void
test_conversation (void)
{
  run_app (check_conversation);
}

/* Scrolls the message list to the top once it is more than two pages
 * long, as a user does; returns its adjustment. */
static GtkAdjustment *
scroll_to_top (TdChatView *view)
{
  GtkWidget *scroller = GTK_WIDGET (gtk_widget_get_template_child (GTK_WIDGET (view), TD_TYPE_CHAT_VIEW,
                                                                   "message_scroller"));
  GtkAdjustment *adj = gtk_scrolled_window_get_vadjustment (GTK_SCROLLED_WINDOW (scroller));
  gint64 deadline = g_get_monotonic_time () + DEADLINE_MS * 1000;

  while (gtk_adjustment_get_upper (adj) <= gtk_adjustment_get_page_size (adj) * 2 &&
         g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  /* To the top, from the bottom so that the value changes (setting the
   * value it has emits nothing), as a user scrolls up. */
  gtk_adjustment_set_value (adj, gtk_adjustment_get_upper (adj) - gtk_adjustment_get_page_size (adj));
  g_main_context_iteration (NULL, FALSE);
  gtk_adjustment_set_value (adj, 0);
  return adj;
}

/* Once the view is ready and its network connected, joins @channel from
 * the server buffer and waits for @last_line; returns the channel's
 * buffer, which the view then shows. */
static TdChatBuffer *
join_and_wait (TdChatView *view,
               Query      *q,
               const char *channel,
               const char *last_line)
{
  g_autofree char *command = g_strdup_printf ("/join %s", channel);
  TdChatBuffer *buffer;

  g_assert_true (wait_until (view_ready, view));
  g_assert_true (wait_until (network_connected, q));
  td_chat_view_select (view, td_chat_view_find_buffer (view, NET, NULL));
  type_and_send (view, command);
  q->text = last_line;
  g_assert_true (wait_until (has_line, q));
  buffer = td_chat_view_find_buffer (view, NET, channel);
  g_assert_true (td_chat_view_get_selected (view) == buffer);
  return buffer;
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
  GtkAdjustment *adj;
  guint before;

  for (guint i = 0; i < 250; i++)
    {
      g_autofree char *text = g_strdup_printf ("old line %03u", i);

      td_irc_client_privmsg (f->client, "#history", text);
    }
  /* The lines go out from the friend's thread: they are history only
   * once the server has them, which its echo of the last one says.
   * Otherwise the view may join while they still come, and see them live. */
  friend_wanted_text = "old line 249";
  g_assert_true (wait_until (friend_got_text, f));

  /* The network from the first run comes back from the database. */
  buffer = join_and_wait (view, &q, "#history", "old line 249");
  before = g_list_model_get_n_items (td_chat_buffer_get_lines (buffer));
  q.text = "old line 100";
  g_assert_false (has_line (&q));

  /* Scroll to the top: older lines come from CHATHISTORY BEFORE. */
  adj = scroll_to_top (view);
  if (!wait_until (has_line, &q))
    g_error ("older lines did not come: upper %g, page %g, value %g, loading %d, server done %d, %u lines (%u before)",
             gtk_adjustment_get_upper (adj), gtk_adjustment_get_page_size (adj), gtk_adjustment_get_value (adj),
             td_chat_buffer_get_loading (buffer), td_chat_buffer_get_server_done (buffer),
             g_list_model_get_n_items (td_chat_buffer_get_lines (buffer)), before);
  g_assert_cmpuint (g_list_model_get_n_items (td_chat_buffer_get_lines (buffer)), >, before);

  /* The log of the first run is there from the start: #room and its
   * lines, before anything new was said. */
  q.buffer = "#room";
  q.text = "hello room";
  g_assert_true (has_line (&q));

  /* The query renamed and merged in the first run is back under the name
   * it was last seen with (not its casefolded key), its lines with it. */
  {
    TdChatBuffer *pal_query = td_chat_view_find_buffer (view, NET, "pal");

    g_assert_nonnull (pal_query);
    g_assert_cmpint (td_chat_buffer_get_kind (pal_query), ==, TD_CHAT_BUFFER_QUERY);
    g_assert_cmpstr (td_chat_buffer_get_name (pal_query), ==, "PAL");
    g_assert_nonnull (find_line (pal_query, "psst"));
    g_assert_nonnull (find_line (pal_query, "hello from pal"));
    g_assert_null (td_chat_view_find_buffer (view, NET, "Buddy"));
    g_assert_null (td_chat_view_find_buffer (view, NET, "friend"));
  }

  /* No keyring: the network with a SASL account says so, then connects
   * without logging in. */
  {
    Query s = { view, SASL_NET, NULL, "The keyring is unavailable", 0 };

    g_assert_true (wait_until (has_line, &s));
    s.text = "not logged in: keyring unavailable";
    g_assert_true (wait_until (status_has, &s));
    g_assert_true (g_str_has_prefix (td_chat_buffer_get_status (td_chat_view_find_buffer (view, SASL_NET, NULL)),
                                     "Connected as "));
  }

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

#define SKEW_LINES 150

typedef struct
{
  const char *channel;
  gint64      time;
  gboolean    done;
} Preload;

/* On the server's thread: SKEW_LINES messages of @data's channel
 * ("#skew": "skew line 000" to "skew line 149") straight into its
 * history, stamped from @data's time on. */
static gboolean
preload_cb (gpointer data)
{
  Preload *p = data;
  TdChatHistory *history = td_irc_server_get_history (server->server);

  for (guint i = 0; i < SKEW_LINES; i++)
    {
      TdChatHistoryEntry *entry = td_chat_history_entry_new ();

      entry->msgid = g_strdup_printf ("%s-%03u", p->channel + 1, i);
      entry->time = p->time + i * G_TIME_SPAN_MILLISECOND;
      entry->key = g_strdup (p->channel);
      entry->target = g_strdup (p->channel);
      entry->sender = g_strdup ("elder!elder@127.0.0.1");
      entry->command = g_strdup ("PRIVMSG");
      entry->text = g_strdup_printf ("%s line %03u", p->channel + 1, i);
      td_chat_history_add (history, entry);
      td_chat_history_entry_unref (entry);
    }
  g_mutex_lock (&server->lock);
  p->done = TRUE;
  g_cond_signal (&server->cond);
  g_mutex_unlock (&server->lock);
  return G_SOURCE_REMOVE;
}

static void
preload (Preload *p)
{
  g_main_context_invoke (server->context, preload_cb, p);
  g_mutex_lock (&server->lock);
  while (!p->done)
    g_cond_wait (&server->cond, &server->lock);
  g_mutex_unlock (&server->lock);
}

/* History that is not older than the view's own join line (messages in
 * the millisecond of the join, or stamped by a clock ahead of it): older
 * lines are asked for from the oldest message the server named, so none
 * are skipped and the server is not taken to have nothing more. */
static void
check_scrollback_skew (TdApplication *app)
{
  TdChatView *view = chat_view (app);
  Query q = { view, NET, "#skew", NULL, 0 };
  Preload p = { "#skew", (g_get_real_time () / 1000 + 3600 * 1000) * 1000, FALSE };

  preload (&p);

  join_and_wait (view, &q, "#skew", "skew line 149");
  q.text = "skew line 000";
  g_assert_false (has_line (&q));

  scroll_to_top (view);
  g_assert_true (wait_until (has_line, &q));
}

static void
test_scrollback_skew (void)
{
  run_app (check_scrollback_skew);
}

static gboolean
at_bottom (gpointer data)
{
  GtkAdjustment *adj = data;

  return gtk_adjustment_get_value (adj) + gtk_adjustment_get_page_size (adj) >= gtk_adjustment_get_upper (adj) - 8;
}

static gboolean
is_mapped (gpointer data)
{
  return gtk_widget_get_mapped (data);
}

static gboolean
has_size (gpointer data)
{
  return gtk_widget_get_width (data) > 0 && gtk_widget_get_height (data) > 0;
}

/* The window opens on another view, and a channel is joined before the
 * Chat view was ever shown; laid out hidden as the window's warm-up does
 * (TdWarmUp), the view makes its rows then, for the newest lines, and
 * its first show starts at the bottom. */
static void
check_warmed_while_hidden (TdApplication *app)
{
  TdWindow *window = TD_WINDOW (gtk_application_get_active_window (GTK_APPLICATION (app)));
  TdChatView *view = td_window_get_chat_view (window);
  GtkWidget *scroller = GTK_WIDGET (gtk_widget_get_template_child (GTK_WIDGET (view), TD_TYPE_CHAT_VIEW,
                                                                   "message_scroller"));
  GtkAdjustment *adj = gtk_scrolled_window_get_vadjustment (GTK_SCROLLED_WINDOW (scroller));
  Query q = { view, NET, "#warm", NULL, 0 };
  Preload p = { "#warm", (g_get_real_time () / 1000 - 3600 * 1000) * 1000, FALSE };
  g_autoptr(TdWarmUp) warm_up = NULL;

  g_assert_false (gtk_widget_get_realized (GTK_WIDGET (view)));
  g_assert_true (wait_until (has_size, td_test_find_of_type (GTK_WIDGET (window), TD_TYPE_FEEDS_VIEW)));
  g_assert_false (gtk_widget_get_mapped (GTK_WIDGET (view)));
  preload (&p);
  join_and_wait (view, &q, "#warm", "warm line 149");

  warm_up = td_warm_up_new (gtk_widget_get_parent (GTK_WIDGET (view)));
  td_warm_up_add (warm_up, GTK_WIDGET (view));
  while (td_warm_up_step (warm_up))
    ;
  g_assert_cmpuint (td_warm_up_get_n_passes (warm_up), ==, TD_WARM_UP_PASSES);
  g_assert_false (gtk_widget_get_mapped (GTK_WIDGET (view)));
  g_assert_nonnull (td_test_find_of_type (scroller, TD_TYPE_CHAT_ROW));
  g_assert_cmpfloat (gtk_adjustment_get_upper (adj), >, gtk_adjustment_get_page_size (adj) * 2);
  g_assert_true (at_bottom (adj));

  td_window_show_view (window, "chat");
  g_assert_true (wait_until (is_mapped, view));
  td_test_spin (200);
  g_assert_true (at_bottom (adj));
}

static void
test_warmed_while_hidden (void)
{
  run_app_on ("viewer", "feeds", check_warmed_while_hidden);
}

/* First run: no nick chosen yet. The view asks for one (the user name
 * offered, bad nicks explained) before it connects to the local server,
 * and keeps the choice. */
static void
check_first_run (TdApplication *app)
{
  TdChatView *view = chat_view (app);
  GtkWidget *widget = GTK_WIDGET (view);
  GtkStack *stack = GTK_STACK (gtk_widget_get_template_child (widget, TD_TYPE_CHAT_VIEW, "main_stack"));
  GtkEditable *entry = GTK_EDITABLE (gtk_widget_get_template_child (widget, TD_TYPE_CHAT_VIEW, "nick_entry"));
  GtkWidget *error = GTK_WIDGET (gtk_widget_get_template_child (widget, TD_TYPE_CHAT_VIEW, "nick_error"));
  GtkWidget *button = GTK_WIDGET (gtk_widget_get_template_child (widget, TD_TYPE_CHAT_VIEW, "nick_button"));
  g_autoptr(GSettings) settings = g_settings_new ("io.github.tidings.Tidings");
  Query q = { view, TD_CHAT_LOCAL_NETWORK, NULL, "Choose a nick to connect", 0 };
  static const struct { const char *nick; const char *why; } bad[] = {
    { "9lives", "cannot start with a digit" },
    { "-dash", "cannot start with a digit or a hyphen" },
    { "two words", "cannot contain spaces" },
    { "café", "“é” cannot be in a nick" },
    { "#channel", "“#” cannot be in a nick" },
    { "a234567890123456789012345678901", "at most 30 characters" },
  };

  g_assert_true (wait_until (view_ready, view));
  g_assert_cmpstr (gtk_stack_get_visible_child_name (stack), ==, "nick");
  g_assert_true (gtk_widget_get_mapped (GTK_WIDGET (entry)));
  {
    g_autofree char *offered = g_strdup (gtk_editable_get_text (entry));

    g_assert_true (td_irc_nick_is_valid (offered, 30));
  }
  g_assert_false (gtk_widget_get_visible (error));
  g_assert_true (gtk_widget_is_sensitive (button));
  /* The local server is up, but not joined without a nick. */
  td_test_spin (500);
  g_assert_true (status_is (&q));

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      gtk_editable_set_text (entry, bad[i].nick);
      g_assert_true (gtk_widget_get_visible (error));
      g_assert_nonnull (strstr (gtk_label_get_label (GTK_LABEL (error)), bad[i].why));
      g_assert_false (gtk_widget_is_sensitive (button));
      g_signal_emit_by_name (entry, "entry-activated");
      g_assert_cmpstr (gtk_stack_get_visible_child_name (stack), ==, "nick");
    }
  /* Empty is not an error yet, but cannot be chosen either. */
  gtk_editable_set_text (entry, "");
  g_assert_false (gtk_widget_get_visible (error));
  g_assert_false (gtk_widget_is_sensitive (button));
  {
    g_autofree char *saved = g_settings_get_string (settings, "chat-nick");

    g_assert_cmpstr (saved, ==, "");
  }

  gtk_editable_set_text (entry, "first_runner");
  g_assert_false (gtk_widget_get_visible (error));
  g_assert_true (gtk_widget_is_sensitive (button));
  g_signal_emit_by_name (entry, "entry-activated");
  g_assert_cmpstr (gtk_stack_get_visible_child_name (stack), ==, "chat");
  {
    g_autofree char *saved = g_settings_get_string (settings, "chat-nick");

    g_assert_cmpstr (saved, ==, "first_runner");
  }
  q.text = "Connected as first_runner";
  g_assert_true (wait_until (status_is, &q));
}

static void
test_first_run (void)
{
  run_app_as ("", check_first_run);
}

/* With a nick chosen, later starts go straight to the chat. */
static void
check_later_run (TdApplication *app)
{
  TdChatView *view = chat_view (app);
  GtkStack *stack = GTK_STACK (gtk_widget_get_template_child (GTK_WIDGET (view), TD_TYPE_CHAT_VIEW, "main_stack"));
  Query q = { view, TD_CHAT_LOCAL_NETWORK, NULL, "Connected as first_runner", 0 };

  g_assert_true (wait_until (view_ready, view));
  g_assert_cmpstr (gtk_stack_get_visible_child_name (stack), ==, "chat");
  g_assert_true (wait_until (status_is, &q));
}

static void
test_later_run (void)
{
  run_app_as ("first_runner", check_later_run);
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
  {
    TdIrcServer *irc = td_irc_server_new (config);
    g_autofree char *hash = td_irc_accounts_hash_password (SASL_PASSWORD, NULL);

    td_irc_accounts_add (td_irc_server_get_accounts (irc), SASL_ACCOUNT, hash, FALSE);
    server = td_irc_test_server_start (irc);
  }

  g_test_add_func ("/td/chat-view/conversation", test_conversation);
  g_test_add_func ("/td/chat-view/scrollback", test_scrollback);
  g_test_add_func ("/td/chat-view/scrollback-skew", test_scrollback_skew);
  g_test_add_func ("/td/chat-view/warmed-while-hidden", test_warmed_while_hidden);
  g_test_add_func ("/td/chat-view/first-run", test_first_run);
  g_test_add_func ("/td/chat-view/later-run", test_later_run);

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
