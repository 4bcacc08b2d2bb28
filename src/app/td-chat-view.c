/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-chat-view"

#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "app/td-after-layout.h"
#include "app/td-application.h"
#include "app/td-chat-files.h"
#include "app/td-chat-preview.h"
#include "app/td-chat-row.h"
#include "app/td-chat-secrets.h"
#include "app/td-chat-view.h"
#include "app/td-lazy-tooltip.h"
#include "app/td-local-time.h"
#include "app/td-nick-color.h"
#include "app/td-row-text.h"
#include "chat/td-irc-client.h"
#include "chat/td-irc-message.h"
#include "core/td-mailbox.h"
#include "core/td-timers.h"
#include "store/td-recorder.h"

/* Sent lines kept for Up/Down in the composer. */
#define INPUT_HISTORY_MAX   100
/* Lines of CHATHISTORY asked for at join and per page when scrolling. */
#define SERVER_PAGE         100
/* How close to the top (in pages) the scrollback asks for older lines. */
#define OLDER_THRESHOLD     0.5
/* Search results shown at most. */
#define SEARCH_LIMIT        200
/* The local account's password: random bytes, base64 (32 characters). */
#define LOCAL_PASSWORD_BYTES 24
/* Account names tried on the local server before giving up (the nick,
 * then the nick with a random suffix when it is taken). */
#define LOCAL_REGISTER_TRIES 3
/* The local account's name and password, one a line, under the user data
 * directory next to the server's database (readable by the user only). */
#define LOCAL_ACCOUNT_FILE   "local-chat-account"
/* How long the keyring may take to give a network's SASL password (it may
 * first ask the user to unlock it) before the network connects without
 * logging in. */
#define KEYRING_TIMEOUT_S    30
/* The longest nick offered at first run: tidingsd's NICKLEN. */
#define FIRST_RUN_NICK_MAX   30
/* The message list's columns, in characters: a time (HH:MM) and a nick
 * (longer nicks are ellipsized, so the text column lines up). */
#define TD_CHAT_VIEW_TIME_CHARS  5
#define TD_CHAT_VIEW_NICK_CHARS  12

enum {
  MAIL_IRC = 1,
  MAIL_NETWORKS,
  MAIL_BUFFERS,
  MAIL_LINES,
  MAIL_OLDER,
  MAIL_SEARCH,
  MAIL_HOVER,
};

/* ------------------------------------------------------------------ */
/* SQL: the app schema's chat tables (see store/td-schema.c)          */
/* ------------------------------------------------------------------ */

#define SQL_ENSURE_NETWORK \
  "INSERT INTO chat_networks (name, host, port, tls, nick, sasl_account, created)" \
  " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET host = excluded.host," \
  " port = excluded.port, tls = excluded.tls, nick = excluded.nick, sasl_account = excluded.sasl_account"

#define SQL_ENSURE_BUFFER \
  "INSERT INTO chat_buffers (network_id, name, kind, joined, display_name)" \
  " SELECT id, ?, ?, ?, ? FROM chat_networks WHERE name = ?" \
  " ON CONFLICT (network_id, name) DO UPDATE SET joined = excluded.joined, kind = excluded.kind," \
  " display_name = excluded.display_name"

/* A query renamed after its peer (?3 on network ?4, key ?1 to key ?2):
 * the buffer under the new key (made, or the one already there), the
 * lines moved over (a line both have stays once), the old buffer gone. */
#define SQL_RENAME_ENSURE \
  "INSERT INTO chat_buffers (network_id, name, kind, joined, display_name)" \
  " SELECT id, ?2, 'query', 1, ?3 FROM chat_networks WHERE name = ?4" \
  " ON CONFLICT (network_id, name) DO UPDATE SET joined = 1, kind = 'query'," \
  " display_name = excluded.display_name"
#define SQL_RENAME_MOVE \
  "UPDATE OR IGNORE chat_messages SET buffer_id =" \
  " (SELECT b.id FROM chat_buffers b JOIN chat_networks n ON n.id = b.network_id" \
  "  WHERE n.name = ?3 AND b.name = ?2)" \
  " WHERE buffer_id = (SELECT b.id FROM chat_buffers b JOIN chat_networks n ON n.id = b.network_id" \
  "  WHERE n.name = ?3 AND b.name = ?1)"
#define SQL_RENAME_DROP \
  "DELETE FROM chat_buffers WHERE name = ?1 AND network_id = (SELECT id FROM chat_networks WHERE name = ?2)"

/* Buffers and lines go with their network (ON DELETE CASCADE). */
#define SQL_DELETE_NETWORK \
  "DELETE FROM chat_networks WHERE name = ?"

#define SQL_SET_TOPIC \
  "UPDATE chat_buffers SET topic = ? WHERE name = ? AND network_id =" \
  " (SELECT id FROM chat_networks WHERE name = ?)"

#define SQL_SAVE_LINE \
  "INSERT INTO chat_messages (network_id, buffer_id, msgid, time, sender, kind, text)" \
  " SELECT b.network_id, b.id, ?, ?, ?, ?, ? FROM chat_buffers b" \
  " JOIN chat_networks n ON n.id = b.network_id WHERE n.name = ? AND b.name = ?" \
  " ON CONFLICT (buffer_id, msgid) DO NOTHING"

#define SQL_LOAD_NETWORKS \
  "SELECT name, host, port, tls, nick, sasl_account FROM chat_networks ORDER BY id"

#define SQL_LOAD_BUFFERS \
  "SELECT n.name, b.name, b.kind, b.topic, b.display_name FROM chat_buffers b" \
  " JOIN chat_networks n ON n.id = b.network_id WHERE b.joined = 1 ORDER BY b.id"

#define SQL_LOAD_RECENT \
  "SELECT n.name, b.name, m.msgid, m.time, m.sender, m.kind, m.text FROM" \
  " (SELECT *, ROW_NUMBER () OVER (PARTITION BY buffer_id ORDER BY time DESC, id DESC) AS rn" \
  "  FROM chat_messages) m" \
  " JOIN chat_buffers b ON b.id = m.buffer_id JOIN chat_networks n ON n.id = b.network_id" \
  " WHERE m.rn <= ? AND (b.joined = 1 OR b.kind = 'server') ORDER BY m.time, m.id"

#define SQL_LOAD_OLDER \
  "SELECT m.msgid, m.time, m.sender, m.kind, m.text FROM chat_messages m" \
  " JOIN chat_buffers b ON b.id = m.buffer_id JOIN chat_networks n ON n.id = b.network_id" \
  " WHERE n.name = ? AND b.name = ? AND m.time < ? ORDER BY m.time DESC, m.id DESC LIMIT ?"

#define SQL_SEARCH \
  "SELECT n.name, b.name, m.time, m.sender, m.kind, m.text FROM chat_messages_fts f" \
  " JOIN chat_messages m ON m.id = f.rowid JOIN chat_buffers b ON b.id = m.buffer_id" \
  " JOIN chat_networks n ON n.id = b.network_id WHERE chat_messages_fts MATCH ?" \
  " ORDER BY m.time DESC LIMIT ?"

/* The server buffer's name in the database. */
#define SERVER_BUFFER_KEY "*"

/* ------------------------------------------------------------------ */
/* Types                                                               */
/* ------------------------------------------------------------------ */

/* A file in the composer: previewed, then uploaded, then posted as its
 * URL (and the caption) to the buffer it was attached in. */
typedef struct
{
  char         *path;             /* the file, or NULL and bytes */
  GBytes       *bytes;
  char         *name;
  gint64        size;             /* -1 until known */
  TdChatBuffer *buffer;           /* owned ref */
  guint64       preview_id;
  guint64       upload_id;
  gboolean      ready;            /* the preview has answered without error */
  GCancellable *cancellable;      /* owned */
} Attachment;

/* Where a network's SASL password stands. */
typedef enum
{
  SECRET_NONE,          /* no account, or its password was given this session */
  SECRET_LOOKING_UP,    /* asked the keyring; connecting waits for it */
  SECRET_FOUND,         /* the keyring had it */
  SECRET_MISSING,       /* the keyring has none: connected without logging in */
  SECRET_UNAVAILABLE,   /* no keyring, or it did not answer: likewise */
} SecretState;

typedef struct
{
  guint         id;
  char         *name;
  char         *host;
  guint16       port;
  gboolean      tls;
  gboolean      local;            /* the embedded server */
  char         *nick_config;
  char         *nick;             /* as the server knows us */
  char         *sasl_account;
  char         *sasl_password;
  SecretState   secret;
  GCancellable *secret_cancellable;  /* owned; the keyring lookup */
  guint         secret_timeout;
  gboolean      secret_timed_out;
  TdIrcClient  *client;           /* owned; NULL until connected once */
  TdIrcState    state;
  gint64        retry_at;         /* monotonic usec, when RETRYING */
  char         *last_error;
  gboolean      chathistory;
  gboolean      registered_once;
  char         *filehost;         /* FILEHOST: where files are uploaded; NULL: none */
  gboolean      logged_in;        /* to an account (SASL or REGISTER), this connection */
  /* The local network only: the account the view registered for uploads. */
  char         *local_account;
  char         *local_password;
  char         *pending_account;  /* REGISTER sent, not answered yet */
  char         *pending_password;
  guint         register_tries;
  GPtrArray    *autojoin;         /* channel names open at the last exit */
  GHashTable   *select_on_join;   /* casefolded channels the user asked for */
  TdChatBuffer *server;           /* owned */
} ChatNetwork;

struct _TdChatView
{
  AdwBin              parent_instance;

  /* Template widgets */
  GtkStack           *main_stack;       /* the chat, or the first-run nick page */
  AdwLeaflet         *leaflet;
  GtkListView        *sidebar_list;
  GtkLabel           *title_label;
  GtkLabel           *topic_label;
  GtkButton          *leave_button;
  GtkButton          *remove_network_button;
  GtkToggleButton    *members_button;
  GtkRevealer        *members_revealer;
  GtkListView        *members_list;
  GtkGridView        *message_list;      /* one column: see ui/style.css */
  GtkScrolledWindow  *message_scroller;
  GtkTextView        *composer;
  GtkSearchBar       *search_bar;
  GtkSearchEntry     *search_entry;
  GtkButton          *back_button;
  GtkButton          *attach_button;
  GtkRevealer        *attach_revealer;
  GtkStack           *attach_thumb_stack;
  GtkImage           *attach_icon;
  GtkPicture         *attach_picture;
  GtkLabel           *attach_name;
  GtkLabel           *attach_detail;
  GtkEntry           *caption_entry;
  GtkProgressBar     *upload_progress;
  GtkButton          *attach_send_button;
  GtkWidget          *composer_box;
  AdwEntryRow        *nick_entry;
  GtkLabel           *nick_error;
  GtkButton          *nick_button;

  /* Owned */
  GListStore         *buffers;          /* TdChatBuffer, sidebar order */
  GtkSingleSelection *selection;
  GtkNoSelection     *message_model;
  GtkNoSelection     *member_model;
  GPtrArray          *networks;         /* ChatNetwork */
  guint               next_network_id;
  TdMailboxId         mailbox;
  GSettings          *settings;
  TdHoverTimer       *hover;
  GtkPopover         *hover_popover;    /* owned; parented to the view */
  GtkLabel           *hover_label;
  GPtrArray          *input_history;
  guint               input_pos;
  char               *completion_prefix;  /* what was typed before the first Tab */
  guint               completion_index;
  int                 completion_start;   /* char offset of the completed word */
  gboolean            completion_line_start;
  TdChatBuffer       *search_buffer;
  guint               poll_source;
  guint               status_source;
  TdAfterLayout       scroll;           /* a scroll to the bottom, waiting for the layout */
  GtkCssProvider     *css;
  TdChatFiles        *files;
  Attachment         *attachment;       /* the file about to be sent, or NULL */
  GCancellable       *cancellable;      /* downloads, clipboard reads; cancelled at dispose */
  guint64             paste_id;         /* PNG encoding of a pasted image */

  /* Borrowed */
  GtkApplication     *app;
  TdRecorder         *recorder;

  gboolean            started;
  gboolean            ready;            /* the log is loaded */
  gboolean            stick_to_bottom;
  gboolean            changing_buffer;
  double              last_value;        /* of the message list's adjustment */
  gboolean            resorting;        /* a buffer moves in the sidebar */
  gboolean            choosing_nick;    /* first run: the nick page shows */
  gboolean            local_account_loading;
  gboolean            local_account_loaded;
};

G_DEFINE_FINAL_TYPE (TdChatView, td_chat_view, ADW_TYPE_BIN)

enum {
  MESSAGE_RECEIVED,
  NETWORK_STATE_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

typedef struct
{
  char      *nick;
  GtkWidget *widget;     /* owned ref */
} HoverData;

static void td_chat_view_update_header    (TdChatView *self);
static void td_chat_view_load_older       (TdChatView *self, TdChatBuffer *buffer);
static void load_older_if_at_top          (TdChatView *self, TdChatBuffer *buffer);
static void td_chat_view_connect_network  (TdChatView *self, ChatNetwork *net);
static void update_attach                 (TdChatView *self);
static void local_account_register        (TdChatView *self, ChatNetwork *net, gboolean fresh);
static void local_account_registered      (TdChatView *self, ChatNetwork *net);
static void start_local                   (TdChatView *self, ChatNetwork *net);
static void remove_buffer                 (TdChatView *self, TdChatBuffer *buffer);
static gboolean is_channel_name           (const char *name);
static void attach_close                  (TdChatView *self);

/* ------------------------------------------------------------------ */
/* Networks and buffers                                                */
/* ------------------------------------------------------------------ */

/* Overwrites a password we allocated, then frees it. */
static void
password_free (char *password)
{
  if (password == NULL)
    return;
  memset (password, 0, strlen (password));
  g_free (password);
}

static void
chat_network_free (ChatNetwork *net)
{
  g_clear_handle_id (&net->secret_timeout, g_source_remove);
  if (net->secret_cancellable != NULL)
    g_cancellable_cancel (net->secret_cancellable);
  g_clear_object (&net->secret_cancellable);
  if (net->client != NULL)
    td_irc_client_free (net->client, _("Tidings closed"));
  g_free (net->name);
  g_free (net->host);
  g_free (net->nick_config);
  g_free (net->nick);
  g_free (net->sasl_account);
  password_free (net->sasl_password);
  g_free (net->last_error);
  g_free (net->filehost);
  g_free (net->local_account);
  if (net->local_password != NULL)
    memset (net->local_password, 0, strlen (net->local_password));
  g_free (net->local_password);
  g_free (net->pending_account);
  if (net->pending_password != NULL)
    memset (net->pending_password, 0, strlen (net->pending_password));
  g_free (net->pending_password);
  g_ptr_array_unref (net->autojoin);
  g_hash_table_unref (net->select_on_join);
  g_clear_object (&net->server);
  g_free (net);
}

static ChatNetwork *
find_network (TdChatView *self,
              const char *name)
{
  for (guint i = 0; i < self->networks->len; i++)
    {
      ChatNetwork *net = g_ptr_array_index (self->networks, i);

      if (g_strcmp0 (net->name, name) == 0)
        return net;
    }
  return NULL;
}

static ChatNetwork *
find_network_by_id (TdChatView *self,
                    guint       id)
{
  for (guint i = 0; i < self->networks->len; i++)
    {
      ChatNetwork *net = g_ptr_array_index (self->networks, i);

      if (net->id == id)
        return net;
    }
  return NULL;
}

TdChatBuffer *
td_chat_view_find_buffer (TdChatView *self,
                          const char *network,
                          const char *name)
{
  g_autofree char *key = NULL;
  guint n;

  g_return_val_if_fail (TD_IS_CHAT_VIEW (self), NULL);

  if (name == NULL)
    {
      ChatNetwork *net = find_network (self, network);

      return net ? net->server : NULL;
    }
  key = td_irc_casefold (name);
  n = g_list_model_get_n_items (G_LIST_MODEL (self->buffers));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(TdChatBuffer) buffer = g_list_model_get_item (G_LIST_MODEL (self->buffers), i);

      if (td_chat_buffer_get_kind (buffer) != TD_CHAT_BUFFER_SERVER &&
          g_strcmp0 (td_chat_buffer_get_network (buffer), network) == 0 &&
          g_str_equal (td_chat_buffer_get_key (buffer), key))
        return buffer;
    }
  return NULL;
}

static gboolean
find_position (TdChatView   *self,
               TdChatBuffer *buffer,
               guint        *position)
{
  return g_list_store_find (self->buffers, buffer, position);
}

/* Puts @buffer in the sidebar: after its network's server buffer, among
 * the network's channels and queries in name order. */
static void
insert_buffer (TdChatView   *self,
               TdChatBuffer *buffer)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->buffers));
  const char *network = td_chat_buffer_get_network (buffer);
  guint pos = n;
  gboolean in_block = FALSE;

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(TdChatBuffer) other = g_list_model_get_item (G_LIST_MODEL (self->buffers), i);
      gboolean same = g_strcmp0 (td_chat_buffer_get_network (other), network) == 0;

      if (td_chat_buffer_get_kind (other) == TD_CHAT_BUFFER_SEARCH)
        continue;
      if (in_block && (!same || td_chat_buffer_get_kind (other) == TD_CHAT_BUFFER_SERVER))
        {
          pos = i;
          break;
        }
      if (same && td_chat_buffer_get_kind (other) == TD_CHAT_BUFFER_SERVER)
        {
          in_block = TRUE;
          continue;
        }
      if (in_block && g_strcmp0 (td_chat_buffer_get_key (other), td_chat_buffer_get_key (buffer)) > 0)
        {
          pos = i;
          break;
        }
    }
  g_list_store_insert (self->buffers, pos, buffer);
}

static void
save_buffer (TdChatView   *self,
             TdChatBuffer *buffer,
             gboolean      open)
{
  const char *kind;

  if (self->recorder == NULL)
    return;
  switch (td_chat_buffer_get_kind (buffer))
    {
    case TD_CHAT_BUFFER_SERVER: kind = "server"; break;
    case TD_CHAT_BUFFER_QUERY: kind = "query"; break;
    case TD_CHAT_BUFFER_CHANNEL: kind = "channel"; break;
    default: return;
    }
  td_recorder_save_values (self->recorder, SQL_ENSURE_BUFFER,
                           TD_TEXT (td_chat_buffer_get_kind (buffer) == TD_CHAT_BUFFER_SERVER ?
                                    SERVER_BUFFER_KEY : td_chat_buffer_get_key (buffer)),
                           TD_TEXT (kind), TD_BOOL (open), TD_TEXT (td_chat_buffer_get_name (buffer)),
                           TD_TEXT (td_chat_buffer_get_network (buffer)));
}

/* The buffer of @name on @net, made (and saved) if @create. */
static TdChatBuffer *
ensure_buffer (TdChatView       *self,
               ChatNetwork      *net,
               const char       *name,
               TdChatBufferKind  kind,
               gboolean          create)
{
  TdChatBuffer *buffer = td_chat_view_find_buffer (self, net->name, name);
  g_autoptr(TdChatBuffer) made = NULL;

  if (buffer != NULL || !create)
    return buffer;
  made = td_chat_buffer_new (kind, net->name, name);
  insert_buffer (self, made);
  save_buffer (self, made, TRUE);
  return made;
}

static void
save_line (TdChatView   *self,
           TdChatBuffer *buffer,
           TdChatLine   *line)
{
  const char *key;

  if (self->recorder == NULL || td_chat_buffer_get_kind (buffer) == TD_CHAT_BUFFER_SEARCH)
    return;
  key = td_chat_buffer_get_kind (buffer) == TD_CHAT_BUFFER_SERVER ? SERVER_BUFFER_KEY : td_chat_buffer_get_key (buffer);
  td_recorder_save_values (self->recorder, SQL_SAVE_LINE,
                           TD_TEXT (td_chat_line_get_msgid (line)),
                           TD_INT (td_chat_line_get_time (line)),
                           TD_TEXT (td_chat_line_get_nick (line)),
                           TD_TEXT (td_chat_line_kind_to_string (td_chat_line_get_kind (line))),
                           TD_TEXT (td_chat_line_get_text (line)),
                           TD_TEXT (td_chat_buffer_get_network (buffer)),
                           TD_TEXT (key));
}

TdChatBuffer *
td_chat_view_get_selected (TdChatView *self)
{
  g_return_val_if_fail (TD_IS_CHAT_VIEW (self), NULL);
  return gtk_single_selection_get_selected_item (self->selection);
}

void
td_chat_view_select (TdChatView   *self,
                     TdChatBuffer *buffer)
{
  guint pos;

  g_return_if_fail (TD_IS_CHAT_VIEW (self));
  if (buffer != NULL && find_position (self, buffer, &pos))
    gtk_single_selection_set_selected (self->selection, pos);
}

static ChatNetwork *
network_of (TdChatView   *self,
            TdChatBuffer *buffer)
{
  return buffer ? find_network (self, td_chat_buffer_get_network (buffer)) : NULL;
}

/* ------------------------------------------------------------------ */
/* Lines                                                               */
/* ------------------------------------------------------------------ */

/* Lines made while handling one batch of events, per buffer; they go into
 * the models together at the end. */
typedef struct
{
  GHashTable *lines;   /* TdChatBuffer -> GPtrArray of TdChatLine */
} Pending;

static void
pending_add (Pending      *pending,
             TdChatBuffer *buffer,
             TdChatLine   *line)
{
  GPtrArray *lines = g_hash_table_lookup (pending->lines, buffer);

  if (lines == NULL)
    {
      lines = g_ptr_array_new_with_free_func (g_object_unref);
      g_hash_table_insert (pending->lines, g_object_ref (buffer), lines);
    }
  g_ptr_array_add (lines, line);
}

static gboolean
window_is_active (TdChatView *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));

  return GTK_IS_WINDOW (root) && gtk_window_is_active (GTK_WINDOW (root));
}

static gboolean
buffer_is_visible (TdChatView   *self,
                   TdChatBuffer *buffer)
{
  return td_chat_view_get_selected (self) == buffer && gtk_widget_get_mapped (GTK_WIDGET (self));
}

static void
notify_line (TdChatView   *self,
             TdChatBuffer *buffer,
             TdChatLine   *line)
{
  g_autoptr(GNotification) notification = NULL;
  g_autofree char *title = NULL;
  g_autofree char *id = NULL;

  if (self->app == NULL || window_is_active (self))
    return;
  if (td_chat_buffer_get_kind (buffer) == TD_CHAT_BUFFER_QUERY)
    title = g_strdup (td_chat_line_get_nick (line));
  else
    title = g_strdup_printf (_("%s in %s"), td_chat_line_get_nick (line), td_chat_buffer_get_name (buffer));
  notification = g_notification_new (title);
  g_notification_set_body (notification, td_chat_line_get_text (line));
  g_notification_set_default_action_and_target (notification, "app.show-view", "s", "chat");
  id = g_strdup_printf ("chat-%s-%s", td_chat_buffer_get_network (buffer), td_chat_buffer_get_key (buffer));
  g_application_send_notification (G_APPLICATION (self->app), id, notification);
}

/* Files a live line: saved in the log, queued for the model, counted as
 * unread or a mention where the user is not looking. Takes @line. */
static void
add_line (TdChatView   *self,
          Pending      *pending,
          ChatNetwork  *net,
          TdChatBuffer *buffer,
          TdChatLine   *line)
{
  guint flags = td_chat_line_get_flags (line);

  if (td_chat_line_is_talk (line) && !(flags & TD_CHAT_LINE_SELF) &&
      (td_chat_buffer_get_kind (buffer) == TD_CHAT_BUFFER_QUERY ||
       td_chat_text_mentions (td_chat_line_get_text (line), net->nick)))
    {
      flags |= TD_CHAT_LINE_MENTION;
      td_chat_line_set_flags (line, flags);
    }

  save_line (self, buffer, line);

  if (!(flags & (TD_CHAT_LINE_SELF | TD_CHAT_LINE_HISTORY)) && td_chat_line_is_talk (line))
    {
      gboolean mention = (flags & TD_CHAT_LINE_MENTION) != 0;

      if (!buffer_is_visible (self, buffer))
        td_chat_buffer_add_unread (buffer, 1, mention ? 1 : 0);
      if (mention)
        notify_line (self, buffer, line);
      g_signal_emit (self, signals[MESSAGE_RECEIVED], 0,
                     mention ? "mention" : "chat", td_chat_line_get_nick (line),
                     td_chat_buffer_get_name (buffer), td_chat_line_get_text (line));
    }
  pending_add (pending, buffer, line);
}

/* Where a line without a buffer of its own goes: the buffer the user
 * looks at when it belongs to @net, else the network's server buffer. */
static TdChatBuffer *
active_buffer_of (TdChatView  *self,
                  ChatNetwork *net)
{
  TdChatBuffer *selected = td_chat_view_get_selected (self);

  if (selected != NULL && g_strcmp0 (td_chat_buffer_get_network (selected), net->name) == 0)
    return selected;
  return net->server;
}

static void
add_info (TdChatView     *self,
          Pending        *pending,
          ChatNetwork    *net,
          TdChatBuffer   *buffer,
          TdChatLineKind  kind,
          const char     *nick,
          const char     *text)
{
  add_line (self, pending, net, buffer ? buffer : net->server,
            td_chat_line_new (kind, g_get_real_time (), nick, text, NULL));
}

static void
pending_flush (TdChatView *self,
               Pending    *pending)
{
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, pending->lines);
  while (g_hash_table_iter_next (&iter, &key, &value))
    td_chat_buffer_append (key, value);
  g_hash_table_unref (pending->lines);
}

static Pending
pending_new (void)
{
  return (Pending) { g_hash_table_new_full (NULL, NULL, g_object_unref, (GDestroyNotify) g_ptr_array_unref) };
}

/* ------------------------------------------------------------------ */
/* Queries that follow a nick change                                   */
/* ------------------------------------------------------------------ */

typedef struct
{
  char *network;
  char *old_key;
  char *new_key;
  char *new_name;
} RenameJob;

static void
rename_job_free (gpointer data)
{
  RenameJob *job = data;

  g_free (job->network);
  g_free (job->old_key);
  g_free (job->new_key);
  g_free (job->new_name);
  g_free (job);
}

/* Recorder thread: the query's row and lines follow it to its new key.
 * Runs again as it is if the batch is retried. */
static gboolean
rename_apply (TdStoreConn  *conn,
              gpointer      data,
              GError      **error)
{
  RenameJob *job = data;
  const TdValue ensure[] = { TD_TEXT (job->old_key), TD_TEXT (job->new_key), TD_TEXT (job->new_name),
                             TD_TEXT (job->network) };
  const TdValue move[] = { TD_TEXT (job->old_key), TD_TEXT (job->new_key), TD_TEXT (job->network) };
  const TdValue drop[] = { TD_TEXT (job->old_key), TD_TEXT (job->network) };

  if (!td_store_conn_exec (conn, SQL_RENAME_ENSURE, ensure, G_N_ELEMENTS (ensure), error))
    return FALSE;
  /* Only the case changed: the same row, spelt anew. */
  if (g_str_equal (job->old_key, job->new_key))
    return TRUE;
  return td_store_conn_exec (conn, SQL_RENAME_MOVE, move, G_N_ELEMENTS (move), error) &&
         td_store_conn_exec (conn, SQL_RENAME_DROP, drop, G_N_ELEMENTS (drop), error);
}

/* Moves @buffer to its place in the sidebar after a rename, keeping the
 * selection on it; nothing is marked read on the way. */
static void
resort_buffer (TdChatView   *self,
               TdChatBuffer *buffer)
{
  g_autoptr(TdChatBuffer) keep = g_object_ref (buffer);
  gboolean selected = td_chat_view_get_selected (self) == buffer;
  guint pos;

  if (!find_position (self, buffer, &pos))
    return;
  self->resorting = TRUE;
  g_list_store_remove (self->buffers, pos);
  insert_buffer (self, buffer);
  if (selected)
    td_chat_view_select (self, buffer);
  self->resorting = FALSE;
}

/* The query @old_name on @net is now @new_name: its peer changed nick.
 * The buffer takes the new name (title, sidebar row, where sends go) with
 * its lines, here and in the log; when a query with the new name is open
 * already, the lines go there (queued ones too) and the old one closes.
 * Returns the buffer that holds the conversation now, or NULL when
 * @old_name has no query. */
static TdChatBuffer *
rename_query (TdChatView  *self,
              Pending     *pending,
              ChatNetwork *net,
              const char  *old_name,
              const char  *new_name)
{
  TdChatBuffer *old = td_chat_view_find_buffer (self, net->name, old_name);
  TdChatBuffer *existing = td_chat_view_find_buffer (self, net->name, new_name);
  g_autoptr(GPtrArray) lines = NULL;
  GListModel *model;
  GPtrArray *queued;

  if (old == NULL || td_chat_buffer_get_kind (old) != TD_CHAT_BUFFER_QUERY)
    return NULL;
  if (self->recorder != NULL)
    {
      RenameJob *job = g_new0 (RenameJob, 1);

      job->network = g_strdup (net->name);
      job->old_key = g_strdup (td_chat_buffer_get_key (old));
      job->new_key = td_irc_casefold (new_name);
      job->new_name = g_strdup (new_name);
      td_recorder_save_func (self->recorder, rename_apply, job, rename_job_free);
    }
  if (existing == NULL || existing == old)
    {
      td_chat_buffer_rename (old, new_name);
      resort_buffer (self, old);
      td_chat_view_update_header (self);
      return old;
    }

  /* Two conversations with the same person become one. */
  model = td_chat_buffer_get_lines (old);
  lines = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    g_ptr_array_add (lines, g_list_model_get_item (model, i));
  td_chat_buffer_merge (existing, lines);
  queued = g_hash_table_lookup (pending->lines, old);
  for (guint i = 0; queued != NULL && i < queued->len; i++)
    pending_add (pending, existing, g_object_ref (g_ptr_array_index (queued, i)));
  g_hash_table_remove (pending->lines, old);
  td_chat_buffer_add_unread (existing, td_chat_buffer_get_unread (old), td_chat_buffer_get_mentions (old));
  td_chat_buffer_set_name (existing, new_name);
  td_chat_buffer_set_joined (existing, TRUE);
  if (td_chat_view_get_selected (self) == old)
    td_chat_view_select (self, existing);
  remove_buffer (self, old);
  td_chat_view_update_header (self);
  return existing;
}

/* ------------------------------------------------------------------ */
/* IRC events                                                          */
/* ------------------------------------------------------------------ */

static char *
retry_status (ChatNetwork *net)
{
  gint64 left = (net->retry_at - g_get_monotonic_time () + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC;

  left = MAX (left, 0);
  return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "Retrying in %d second", "Retrying in %d seconds", left),
                          (int) left);
}

static void
update_network_status (TdChatView  *self,
                       ChatNetwork *net)
{
  g_autofree char *status = NULL;

  switch (net->state)
    {
    case TD_IRC_STATE_DISCONNECTED:
      if (net->local && self->choosing_nick)
        status = g_strdup (_("Choose a nick to connect"));
      else if (net->secret == SECRET_LOOKING_UP)
        status = g_strdup (_("Reading the password from the keyring…"));
      else
        status = g_strdup (net->client == NULL && net->local && net->port == 0 ?
                           _("Waiting for the local server") : _("Disconnected"));
      break;
    case TD_IRC_STATE_CONNECTING:
      status = g_strdup (_("Connecting…"));
      break;
    case TD_IRC_STATE_REGISTERING:
      status = g_strdup (_("Logging in…"));
      break;
    case TD_IRC_STATE_CONNECTED:
      /* Said for as long as it lasts: the account is not in use. */
      if (net->secret == SECRET_UNAVAILABLE)
        status = g_strdup_printf (_("Connected as %s, not logged in: keyring unavailable"), net->nick);
      else if (net->secret == SECRET_MISSING)
        status = g_strdup_printf (_("Connected as %s, not logged in: no password in the keyring"), net->nick);
      else if (!net->local && net->logged_in && net->sasl_account != NULL)
        status = g_strdup_printf (_("Connected as %s, logged in as %s"), net->nick, net->sasl_account);
      else
        status = g_strdup_printf (_("Connected as %s"), net->nick);
      break;
    case TD_IRC_STATE_RETRYING:
      status = retry_status (net);
      break;
    default:
      break;
    }
  td_chat_buffer_set_status (net->server, status);
}

/* Counts down "Retrying in N seconds" once a second while a network
 * waits to retry. */
static gboolean
status_tick_cb (gpointer user_data)
{
  TdChatView *self = user_data;
  gboolean any = FALSE;

  for (guint i = 0; i < self->networks->len; i++)
    {
      ChatNetwork *net = g_ptr_array_index (self->networks, i);

      if (net->state == TD_IRC_STATE_RETRYING)
        {
          update_network_status (self, net);
          any = TRUE;
        }
    }
  if (!any)
    {
      self->status_source = 0;
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static TdChatLineKind
line_kind_for (TdIrcEventType type)
{
  switch (type)
    {
    case TD_IRC_EVENT_MESSAGE: return TD_CHAT_LINE_MESSAGE;
    case TD_IRC_EVENT_ACTION: return TD_CHAT_LINE_ACTION;
    case TD_IRC_EVENT_NOTICE: return TD_CHAT_LINE_NOTICE;
    default: return TD_CHAT_LINE_INFO;
    }
}

static TdChatLine *
line_from_event (TdIrcEvent *event)
{
  TdChatLine *line = td_chat_line_new (line_kind_for (event->type), event->time,
                                       event->nick, event->text, event->msgid);
  guint flags = 0;

  if (event->flags & TD_IRC_EVENT_FLAG_SELF)
    flags |= TD_CHAT_LINE_SELF;
  if (event->flags & TD_IRC_EVENT_FLAG_HISTORY)
    flags |= TD_CHAT_LINE_HISTORY;
  td_chat_line_set_flags (line, flags);
  return line;
}

static void
handle_history (TdChatView  *self,
                ChatNetwork *net,
                TdIrcEvent  *event)
{
  TdChatBuffer *buffer = td_chat_view_find_buffer (self, net->name, event->target);
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func (g_object_unref);
  gboolean before = (event->flags & TD_IRC_EVENT_FLAG_BEFORE) != 0;

  if (buffer == NULL)
    return;
  for (guint i = 0; event->history && i < event->history->len; i++)
    {
      TdIrcEvent *item = g_ptr_array_index (event->history, i);
      TdChatLine *line;

      if (item->type != TD_IRC_EVENT_MESSAGE && item->type != TD_IRC_EVENT_ACTION &&
          item->type != TD_IRC_EVENT_NOTICE)
        continue;
      line = line_from_event (item);
      if (td_chat_text_mentions (td_chat_line_get_text (line), net->nick) &&
          !(td_chat_line_get_flags (line) & TD_CHAT_LINE_SELF))
        td_chat_line_set_flags (line, td_chat_line_get_flags (line) | TD_CHAT_LINE_MENTION);
      save_line (self, buffer, line);
      g_ptr_array_add (lines, line);
    }
  td_chat_buffer_merge (buffer, lines);

  if (before)
    {
      td_chat_buffer_set_loading (buffer, FALSE);
      /* Nothing more on the server: the local log may go further back. */
      if (lines->len == 0)
        {
          td_chat_buffer_set_server_done (buffer, TRUE);
          td_chat_view_load_older (self, buffer);
        }
      /* The view reached the top while this page was on its way: a
       * scroll then asked for nothing, so ask now. */
      else
        load_older_if_at_top (self, buffer);
    }
}

static void
handle_event (TdChatView  *self,
              Pending     *pending,
              ChatNetwork *net,
              TdIrcEvent  *event)
{
  TdChatBuffer *buffer = NULL;
  g_autofree char *text = NULL;

  switch (event->type)
    {
    case TD_IRC_EVENT_STATE:
      {
        TdIrcState old = net->state;

        net->state = event->state;
        if (old != event->state)
          g_signal_emit (self, signals[NETWORK_STATE_CHANGED], 0, net->name,
                         td_irc_state_to_string (event->state));
        if (event->state == TD_IRC_STATE_RETRYING)
          {
            net->retry_at = g_get_monotonic_time () + (gint64) event->retry_in_ms * 1000;
            if (self->status_source == 0)
              self->status_source = g_timeout_add_seconds (1, status_tick_cb, self);
          }
        if (old == TD_IRC_STATE_CONNECTED && event->state != TD_IRC_STATE_CONNECTED)
          {
            guint n = g_list_model_get_n_items (G_LIST_MODEL (self->buffers));

            for (guint i = 0; i < n; i++)
              {
                g_autoptr(TdChatBuffer) b = g_list_model_get_item (G_LIST_MODEL (self->buffers), i);

                if (td_chat_buffer_get_kind (b) == TD_CHAT_BUFFER_CHANNEL &&
                    g_strcmp0 (td_chat_buffer_get_network (b), net->name) == 0)
                  td_chat_buffer_set_joined (b, FALSE);
              }
          }
        if (event->state != TD_IRC_STATE_CONNECTED)
          {
            net->logged_in = FALSE;
            g_clear_pointer (&net->pending_account, g_free);
            g_clear_pointer (&net->pending_password, g_free);
          }
        update_network_status (self, net);
        update_attach (self);
        if (event->state == TD_IRC_STATE_CONNECTING)
          text = g_strdup_printf (_("Connecting to %s port %u…"), net->host, net->port);
        else if (event->state == TD_IRC_STATE_RETRYING)
          text = g_strdup_printf (_("Connection lost (%s). Retrying in %.1f s."),
                                  event->text ? event->text : _("no reason given"),
                                  event->retry_in_ms / 1000.0);
        else if (event->state == TD_IRC_STATE_DISCONNECTED && event->text != NULL)
          text = g_strdup_printf (_("Disconnected: %s"), event->text);
        if (text != NULL)
          add_info (self, pending, net, NULL,
                    event->state == TD_IRC_STATE_CONNECTING ? TD_CHAT_LINE_INFO : TD_CHAT_LINE_ERROR,
                    NULL, text);
        td_chat_view_update_header (self);
      }
      break;

    case TD_IRC_EVENT_REGISTERED:
      g_free (net->nick);
      net->nick = g_strdup (event->nick);
      update_network_status (self, net);
      text = g_strdup_printf (_("Connected as %s"), event->nick);
      add_info (self, pending, net, NULL, TD_CHAT_LINE_INFO, NULL, text);
      if (!net->registered_once)
        {
          net->registered_once = TRUE;
          for (guint i = 0; i < net->autojoin->len; i++)
            td_irc_client_join (net->client, g_ptr_array_index (net->autojoin, i), NULL);
        }
      /* SASL has answered by now: without a login, the local server gets
       * an account made for sharing files. */
      if (net->local && !net->logged_in)
        {
          net->register_tries = 0;
          local_account_register (self, net, net->local_account == NULL);
        }
      update_attach (self);
      break;

    case TD_IRC_EVENT_FILEHOST:
      g_free (net->filehost);
      net->filehost = g_strdup (event->text);
      /* Links to the last file host stay previewed while the network
       * reconnects (which forgets it for a moment); attaching follows
       * the live value. */
      if (event->text != NULL)
        td_chat_files_set_host (self->files, net->name, event->text);
      update_attach (self);
      break;

    case TD_IRC_EVENT_NICK_IN_USE:
      text = g_strdup_printf (_("The nick %s is taken; trying %s"), event->text, event->nick);
      add_info (self, pending, net, NULL, TD_CHAT_LINE_ERROR, NULL, text);
      break;

    case TD_IRC_EVENT_CAPS:
      net->chathistory = event->params != NULL &&
                         (g_strv_contains ((const char * const *) event->params, "draft/chathistory") ||
                          g_strv_contains ((const char * const *) event->params, "chathistory"));
      text = g_strdup_printf (_("Capabilities: %s"), event->text && *event->text ? event->text : _("none"));
      add_info (self, pending, net, NULL, TD_CHAT_LINE_INFO, NULL, text);
      break;

    case TD_IRC_EVENT_MESSAGE:
    case TD_IRC_EVENT_ACTION:
    case TD_IRC_EVENT_NOTICE:
      if (event->target == NULL)
        buffer = event->type == TD_IRC_EVENT_NOTICE && event->userhost == NULL ? net->server
                                                                              : active_buffer_of (self, net);
      else
        buffer = ensure_buffer (self, net, event->target,
                                (event->flags & TD_IRC_EVENT_FLAG_QUERY) ? TD_CHAT_BUFFER_QUERY : TD_CHAT_BUFFER_CHANNEL,
                                (event->flags & TD_IRC_EVENT_FLAG_QUERY) != 0);
      if (buffer == NULL)
        buffer = net->server;
      if (td_chat_buffer_get_kind (buffer) == TD_CHAT_BUFFER_QUERY)
        {
          td_chat_buffer_set_joined (buffer, TRUE);
          /* The peer's own spelling of their nick names the query. */
          if (!(event->flags & (TD_IRC_EVENT_FLAG_SELF | TD_IRC_EVENT_FLAG_HISTORY)) && event->nick != NULL &&
              g_strcmp0 (td_chat_buffer_get_name (buffer), event->nick) != 0 &&
              td_irc_equal (td_chat_buffer_get_name (buffer), event->nick))
            {
              td_chat_buffer_set_name (buffer, event->nick);
              save_buffer (self, buffer, TRUE);
              td_chat_view_update_header (self);
            }
        }
      add_line (self, pending, net, buffer, line_from_event (event));
      break;

    case TD_IRC_EVENT_CTCP:
      text = g_strdup_printf (_("CTCP %s from %s %s"), event->command, event->nick ? event->nick : "?",
                              event->text ? event->text : "");
      add_info (self, pending, net, active_buffer_of (self, net), TD_CHAT_LINE_INFO, NULL, text);
      break;

    case TD_IRC_EVENT_JOINED:
      {
        g_autofree char *key = td_irc_casefold (event->target);

        buffer = ensure_buffer (self, net, event->target, TD_CHAT_BUFFER_CHANNEL, TRUE);
        td_chat_buffer_set_name (buffer, event->target);
        td_chat_buffer_set_joined (buffer, TRUE);
        td_chat_buffer_set_server_done (buffer, FALSE);
        save_buffer (self, buffer, TRUE);
        text = g_strdup_printf (_("You joined %s"), event->target);
        add_line (self, pending, net, buffer, td_chat_line_new (TD_CHAT_LINE_JOIN, event->time, event->nick, text, NULL));
        if (g_hash_table_remove (net->select_on_join, key))
          td_chat_view_select (self, buffer);
        /* What was said while we were away. */
        if (net->chathistory)
          td_irc_client_history_latest (net->client, event->target, SERVER_PAGE);
      }
      break;

    case TD_IRC_EVENT_PARTED:
      buffer = td_chat_view_find_buffer (self, net->name, event->target);
      if (buffer == NULL)
        break;
      td_chat_buffer_set_joined (buffer, FALSE);
      save_buffer (self, buffer, FALSE);
      if (event->flags & TD_IRC_EVENT_FLAG_KICKED)
        text = g_strdup_printf (_("%s kicked you from %s (%s)"), event->nick, event->target,
                                event->text ? event->text : "");
      else
        text = g_strdup_printf (_("You left %s"), event->target);
      add_line (self, pending, net, buffer,
                td_chat_line_new (event->flags & TD_IRC_EVENT_FLAG_KICKED ? TD_CHAT_LINE_KICK : TD_CHAT_LINE_PART,
                                  event->time, event->nick, text, NULL));
      td_chat_view_update_header (self);
      break;

    case TD_IRC_EVENT_JOIN:
    case TD_IRC_EVENT_PART:
    case TD_IRC_EVENT_QUIT:
    case TD_IRC_EVENT_KICK:
    case TD_IRC_EVENT_NICK:
    case TD_IRC_EVENT_MODE:
      {
        TdChatLineKind kind = TD_CHAT_LINE_INFO;

        buffer = event->target ? td_chat_view_find_buffer (self, net->name, event->target) : NULL;
        if (buffer == NULL)
          buffer = active_buffer_of (self, net);
        switch (event->type)
          {
          case TD_IRC_EVENT_JOIN:
            kind = TD_CHAT_LINE_JOIN;
            text = g_strdup_printf (_("%s joined"), event->nick);
            break;
          case TD_IRC_EVENT_PART:
            kind = TD_CHAT_LINE_PART;
            text = event->text && *event->text ? g_strdup_printf (_("%s left (%s)"), event->nick, event->text)
                                               : g_strdup_printf (_("%s left"), event->nick);
            break;
          case TD_IRC_EVENT_QUIT:
            kind = TD_CHAT_LINE_QUIT;
            text = event->text && *event->text ? g_strdup_printf (_("%s quit (%s)"), event->nick, event->text)
                                               : g_strdup_printf (_("%s quit"), event->nick);
            break;
          case TD_IRC_EVENT_KICK:
            kind = TD_CHAT_LINE_KICK;
            text = g_strdup_printf (_("%s kicked %s (%s)"), event->nick,
                                    event->params && event->params[0] && event->params[1] ? event->params[1] : "?",
                                    event->text ? event->text : "");
            break;
          case TD_IRC_EVENT_NICK:
            kind = TD_CHAT_LINE_NICK;
            if (event->flags & TD_IRC_EVENT_FLAG_SELF)
              {
                g_free (net->nick);
                net->nick = g_strdup (event->text);
                update_network_status (self, net);
                if (net->local && event->target == NULL)
                  g_settings_set_string (self->settings, "chat-nick", event->text);
                text = g_strdup_printf (_("You are now known as %s"), event->text);
              }
            else
              {
                text = g_strdup_printf (_("%s is now known as %s"), event->nick, event->text);
                if ((event->flags & TD_IRC_EVENT_FLAG_QUERY) && event->target != NULL &&
                    event->text != NULL && *event->text != '\0' && !is_channel_name (event->text))
                  {
                    TdChatBuffer *query = rename_query (self, pending, net, event->target, event->text);

                    if (query != NULL)
                      buffer = query;
                  }
              }
            break;
          case TD_IRC_EVENT_MODE:
            kind = TD_CHAT_LINE_MODE;
            text = g_strdup_printf (_("%s sets mode %s"), event->nick ? event->nick : "?", event->text);
            break;
          default:
            break;
          }
        add_line (self, pending, net, buffer, td_chat_line_new (kind, event->time, event->nick, text, event->msgid));
      }
      break;

    case TD_IRC_EVENT_TOPIC:
      buffer = td_chat_view_find_buffer (self, net->name, event->target);
      if (buffer == NULL)
        break;
      td_chat_buffer_set_topic (buffer, event->text);
      if (self->recorder != NULL)
        td_recorder_save_values (self->recorder, SQL_SET_TOPIC, TD_TEXT (event->text),
                                 TD_TEXT (td_chat_buffer_get_key (buffer)), TD_TEXT (net->name));
      if (event->nick != NULL)
        text = g_strdup_printf (_("%s changed the topic to: %s"), event->nick, event->text);
      else
        text = g_strdup_printf (_("Topic: %s"), event->text && *event->text ? event->text : _("(none)"));
      add_line (self, pending, net, buffer, td_chat_line_new (TD_CHAT_LINE_TOPIC, event->time, event->nick, text, NULL));
      td_chat_view_update_header (self);
      break;

    case TD_IRC_EVENT_MEMBERS:
      buffer = td_chat_view_find_buffer (self, net->name, event->target);
      if (buffer != NULL)
        {
          g_autoptr(GPtrArray) members = g_ptr_array_new_with_free_func (g_object_unref);

          for (guint i = 0; i < event->members->len; i++)
            {
              TdIrcMemberInfo *info = g_ptr_array_index (event->members, i);

              g_ptr_array_add (members, td_chat_member_new (info->nick, info->prefix, info->away));
            }
          td_chat_buffer_set_members (buffer, members);
        }
      break;

    case TD_IRC_EVENT_AWAY:
      break;

    case TD_IRC_EVENT_INVITE:
      text = g_strdup_printf (_("%s invites you to %s (type /join %s)"), event->nick, event->target, event->target);
      add_info (self, pending, net, active_buffer_of (self, net), TD_CHAT_LINE_INFO, NULL, text);
      break;

    case TD_IRC_EVENT_NUMERIC:
      if (g_strcmp0 (event->command, "900") == 0 || g_strcmp0 (event->command, "903") == 0)
        {
          net->logged_in = TRUE;
          update_network_status (self, net);
          update_attach (self);
        }
      buffer = event->target ? td_chat_view_find_buffer (self, net->name, event->target) : NULL;
      if (buffer == NULL)
        {
          int code = atoi (event->command);

          /* Welcome, MOTD and ISUPPORT belong to the server buffer; the
           * replies to what the user asked go where they look. */
          buffer = (code < 200 || (code >= 372 && code <= 376) || code == 422 || code == 265 || code == 266 ||
                    code == 250 || code == 251 || code == 252 || code == 253 || code == 254 || code == 255 ||
                    (code >= 900 && code <= 908))
                   ? net->server : active_buffer_of (self, net);
        }
      {
        int code = atoi (event->command);

        add_line (self, pending, net, buffer,
                  td_chat_line_new (code >= 400 && code < 600 ? TD_CHAT_LINE_ERROR : TD_CHAT_LINE_NUMERIC,
                                    event->time, event->command, event->text, NULL));
      }
      break;

    case TD_IRC_EVENT_ERROR:
      if (net->pending_account != NULL && g_strcmp0 (event->command, "FAIL") == 0 &&
          event->params != NULL && g_strcmp0 (event->params[0], "REGISTER") == 0)
        {
          const char *code = event->params[1];

          g_clear_pointer (&net->pending_account, g_free);
          g_clear_pointer (&net->pending_password, g_free);
          /* The name is someone else's (or an earlier install's): another
           * name, with a fresh password. */
          if (g_strcmp0 (code, "ACCOUNT_EXISTS") == 0 || g_strcmp0 (code, "BAD_ACCOUNT_NAME") == 0)
            local_account_register (self, net, TRUE);
        }
      buffer = event->target ? td_chat_view_find_buffer (self, net->name, event->target) : NULL;
      add_info (self, pending, net, buffer ? buffer : active_buffer_of (self, net), TD_CHAT_LINE_ERROR,
                NULL, event->text);
      break;

    case TD_IRC_EVENT_HISTORY:
      handle_history (self, net, event);
      break;

    case TD_IRC_EVENT_RAW:
      if (g_strcmp0 (event->command, "REGISTER") == 0 && event->params != NULL &&
          g_strcmp0 (event->params[0], "SUCCESS") == 0 && net->pending_account != NULL)
        {
          local_account_registered (self, net);
          text = g_strdup_printf (_("Registered the account %s on this server, for sharing files"),
                                  net->local_account);
          add_info (self, pending, net, NULL, TD_CHAT_LINE_INFO, NULL, text);
          update_attach (self);
          break;
        }
      add_info (self, pending, net, NULL, TD_CHAT_LINE_INFO, event->command, event->text);
      break;

    default:
      break;
    }
}

static void
handle_batch (TdChatView      *self,
              TdIrcEventBatch *batch)
{
  ChatNetwork *net = find_network_by_id (self, batch->network);
  Pending pending;

  if (net == NULL)
    return;
  pending = pending_new ();
  for (guint i = 0; i < batch->events->len; i++)
    handle_event (self, &pending, net, g_ptr_array_index (batch->events, i));
  pending_flush (self, &pending);
}

/* ------------------------------------------------------------------ */
/* The log                                                             */
/* ------------------------------------------------------------------ */

static TdChatLine *
line_from_row (const TdRows *rows,
               guint         row,
               guint         col_msgid,
               guint         col_time,
               guint         col_sender,
               guint         col_kind,
               guint         col_text)
{
  TdChatLine *line = td_chat_line_new (td_chat_line_kind_from_string (td_rows_get_text (rows, row, col_kind)),
                                       td_rows_get_int (rows, row, col_time),
                                       td_rows_get_text (rows, row, col_sender),
                                       td_rows_get_text (rows, row, col_text),
                                       col_msgid != G_MAXUINT ? td_rows_get_text (rows, row, col_msgid) : NULL);

  td_chat_line_set_flags (line, TD_CHAT_LINE_HISTORY);
  return line;
}

static ChatNetwork *
add_network (TdChatView *self,
             const char *name,
             const char *host,
             guint16     port,
             gboolean    tls,
             const char *nick,
             const char *sasl_account)
{
  ChatNetwork *net = g_new0 (ChatNetwork, 1);

  net->id = ++self->next_network_id;
  net->name = g_strdup (name);
  net->host = g_strdup (host);
  net->port = port;
  net->tls = tls;
  net->local = g_strcmp0 (name, TD_CHAT_LOCAL_NETWORK) == 0;
  net->nick_config = g_strdup (nick);
  net->nick = g_strdup (nick);
  net->sasl_account = g_strdup (sasl_account);
  net->autojoin = g_ptr_array_new_with_free_func (g_free);
  net->select_on_join = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  net->server = td_chat_buffer_new (TD_CHAT_BUFFER_SERVER, name, name);
  td_chat_buffer_set_joined (net->server, TRUE);
  g_ptr_array_add (self->networks, net);
  insert_buffer (self, net->server);
  update_network_status (self, net);
  return net;
}

static char *
default_nick (void)
{
  const char *user = g_get_user_name ();
  GString *nick = g_string_new (NULL);

  for (const char *p = user; p && *p && nick->len < 16; p++)
    if (g_ascii_isalnum (*p) || strchr ("-_[]{}\\`^|", *p))
      g_string_append_c (nick, *p);
  if (nick->len == 0 || g_ascii_isdigit (nick->str[0]) || nick->str[0] == '-')
    g_string_prepend (nick, "user");
  return g_string_free (nick, FALSE);
}

/* The nick chosen at first run (or changed since), or NULL when none has
 * been chosen yet. */
static char *
chosen_nick (TdChatView *self)
{
  g_autofree char *nick = g_settings_get_string (self->settings, "chat-nick");

  return nick != NULL && *nick != '\0' ? g_steal_pointer (&nick) : NULL;
}

/* The chosen nick, or before the first run has chosen one, the one it
 * suggests (nothing is saved). */
static char *
local_nick (TdChatView *self)
{
  char *nick = chosen_nick (self);

  return nick != NULL ? nick : default_nick ();
}

static void
load_networks (TdChatView *self,
               TdRows     *rows)
{
  for (guint i = 0; rows->error == NULL && i < rows->n_rows; i++)
    {
      const char *name = td_rows_get_text (rows, i, 0);

      if (name == NULL || find_network (self, name) != NULL)
        continue;
      add_network (self, name, td_rows_get_text (rows, i, 1), td_rows_get_int (rows, i, 2),
                   td_rows_get_int (rows, i, 3) != 0, td_rows_get_text (rows, i, 4),
                   td_rows_get_text (rows, i, 5));
    }
}

static void
load_buffers (TdChatView *self,
              TdRows     *rows)
{
  for (guint i = 0; rows->error == NULL && i < rows->n_rows; i++)
    {
      ChatNetwork *net = find_network (self, td_rows_get_text (rows, i, 0));
      const char *name = td_rows_get_text (rows, i, 1);
      const char *kind = td_rows_get_text (rows, i, 2);
      TdChatBuffer *buffer;

      if (net == NULL || name == NULL || g_strcmp0 (kind, "server") == 0)
        continue;
      /* The name as it was seen, where the log has it (not the key). */
      if (td_rows_get_text (rows, i, 4) != NULL && td_irc_equal (td_rows_get_text (rows, i, 4), name))
        name = td_rows_get_text (rows, i, 4);
      buffer = ensure_buffer (self, net, name,
                              g_strcmp0 (kind, "query") == 0 ? TD_CHAT_BUFFER_QUERY : TD_CHAT_BUFFER_CHANNEL, TRUE);
      td_chat_buffer_set_topic (buffer, td_rows_get_text (rows, i, 3));
      if (td_chat_buffer_get_kind (buffer) == TD_CHAT_BUFFER_CHANNEL)
        g_ptr_array_add (net->autojoin, g_strdup (name));
      else
        td_chat_buffer_set_joined (buffer, TRUE);
    }
}

static void
load_recent (TdChatView *self,
             TdRows     *rows)
{
  g_autoptr(GHashTable) lines = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) g_ptr_array_unref);
  GHashTableIter iter;
  gpointer key, value;

  for (guint i = 0; rows->error == NULL && i < rows->n_rows; i++)
    {
      const char *network = td_rows_get_text (rows, i, 0);
      const char *name = td_rows_get_text (rows, i, 1);
      TdChatBuffer *buffer = td_chat_view_find_buffer (self, network,
                                                       g_strcmp0 (name, SERVER_BUFFER_KEY) == 0 ? NULL : name);
      GPtrArray *list;

      if (buffer == NULL)
        continue;
      list = g_hash_table_lookup (lines, buffer);
      if (list == NULL)
        {
          list = g_ptr_array_new_with_free_func (g_object_unref);
          g_hash_table_insert (lines, buffer, list);
        }
      g_ptr_array_add (list, line_from_row (rows, i, 2, 3, 4, 5, 6));
    }
  g_hash_table_iter_init (&iter, lines);
  while (g_hash_table_iter_next (&iter, &key, &value))
    td_chat_buffer_merge (key, value);
}

/* Pages of the local log, oldest first, for one buffer. */
static void
older_reply_cb (TdMailboxId  id,
                TdMail      *mail,
                gpointer     user_data)
{
  TdChatBuffer *buffer = user_data;
  TdRows *rows = mail->data;
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func (g_object_unref);

  td_chat_buffer_set_loading (buffer, FALSE);
  if (rows->error != NULL || rows->n_rows == 0)
    {
      td_chat_buffer_set_local_done (buffer, TRUE);
      return;
    }
  for (guint i = rows->n_rows; i > 0; i--)
    g_ptr_array_add (lines, line_from_row (rows, i - 1, 0, 1, 2, 3, 4));
  td_chat_buffer_merge (buffer, lines);
}

static void
td_chat_view_load_older (TdChatView   *self,
                         TdChatBuffer *buffer)
{
  ChatNetwork *net = network_of (self, buffer);
  g_autoptr(TdChatLine) oldest = NULL;
  g_autoptr(TdChatLine) anchor = NULL;
  TdMailboxId reply;
  TdChatBufferKind kind;

  if (net == NULL || td_chat_buffer_get_loading (buffer))
    return;
  kind = td_chat_buffer_get_kind (buffer);
  oldest = td_chat_buffer_get_oldest (buffer);

  if ((kind == TD_CHAT_BUFFER_CHANNEL || kind == TD_CHAT_BUFFER_QUERY) && net->chathistory &&
      net->state == TD_IRC_STATE_CONNECTED && !td_chat_buffer_get_server_done (buffer) &&
      (kind == TD_CHAT_BUFFER_QUERY || td_chat_buffer_get_joined (buffer)))
    {
      /* From the oldest message the server named, not the oldest line:
       * a time alone misses the messages that share it. */
      anchor = td_chat_buffer_get_oldest_id (buffer);
      td_chat_buffer_set_loading (buffer, TRUE);
      td_irc_client_history_before (net->client, td_chat_buffer_get_name (buffer),
                                    anchor ? td_chat_line_get_msgid (anchor) : NULL,
                                    anchor ? td_chat_line_get_time (anchor) :
                                    oldest ? td_chat_line_get_time (oldest) : 0, SERVER_PAGE);
      return;
    }
  if (self->recorder == NULL || td_chat_buffer_get_local_done (buffer))
    return;
  td_chat_buffer_set_loading (buffer, TRUE);
  reply = td_mailbox_open_transient (g_main_context_default (), G_PRIORITY_DEFAULT, older_reply_cb,
                                     g_object_ref (buffer), g_object_unref);
  td_recorder_load_values (self->recorder, SQL_LOAD_OLDER, reply, MAIL_OLDER,
                           TD_TEXT (net->name),
                           TD_TEXT (kind == TD_CHAT_BUFFER_SERVER ? SERVER_BUFFER_KEY : td_chat_buffer_get_key (buffer)),
                           TD_INT (oldest ? td_chat_line_get_time (oldest) : G_MAXINT64),
                           TD_INT (TD_CHAT_LOG_OLDER_PAGE));
}

static void
show_search_results (TdChatView *self,
                     TdRows     *rows)
{
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func (g_object_unref);

  if (self->search_buffer == NULL)
    {
      self->search_buffer = td_chat_buffer_new (TD_CHAT_BUFFER_SEARCH, "", _("Search Results"));
      g_list_store_insert (self->buffers, 0, self->search_buffer);
    }
  td_chat_buffer_clear (self->search_buffer);
  if (rows->error != NULL)
    g_ptr_array_add (lines, td_chat_line_new (TD_CHAT_LINE_ERROR, g_get_real_time (), NULL,
                                              rows->error->message, NULL));
  else if (rows->n_rows == 0)
    g_ptr_array_add (lines, td_chat_line_new (TD_CHAT_LINE_INFO, g_get_real_time (), NULL,
                                              _("Nothing found"), NULL));
  for (guint i = rows->n_rows; rows->error == NULL && i > 0; i--)
    {
      g_autofree char *text = g_strdup_printf ("%s · %s: %s", td_rows_get_text (rows, i - 1, 1),
                                               td_rows_get_text (rows, i - 1, 0),
                                               td_rows_get_text (rows, i - 1, 5));
      TdChatLine *line = td_chat_line_new (td_chat_line_kind_from_string (td_rows_get_text (rows, i - 1, 4)),
                                           td_rows_get_int (rows, i - 1, 2), td_rows_get_text (rows, i - 1, 3),
                                           text, NULL);

      g_ptr_array_add (lines, line);
    }
  td_chat_buffer_append (self->search_buffer, lines);
  td_chat_view_select (self, self->search_buffer);
}

void
td_chat_view_search (TdChatView *self,
                     const char *query)
{
  g_auto(GStrv) words = NULL;
  g_autoptr(GString) match = g_string_new (NULL);

  g_return_if_fail (TD_IS_CHAT_VIEW (self));
  if (self->recorder == NULL || query == NULL)
    return;
  /* Every word as a quoted FTS5 string: what the user types is text, not
   * query syntax. */
  words = g_strsplit_set (query, " \t", -1);
  for (guint i = 0; words[i] != NULL; i++)
    {
      g_autofree char *escaped = NULL;
      g_auto(GStrv) parts = NULL;

      if (words[i][0] == '\0')
        continue;
      parts = g_strsplit (words[i], "\"", -1);
      escaped = g_strjoinv ("\"\"", parts);
      g_string_append_printf (match, "%s\"%s\"", match->len ? " " : "", escaped);
    }
  if (match->len == 0)
    return;
  td_recorder_load_values (self->recorder, SQL_SEARCH, self->mailbox, MAIL_SEARCH,
                           TD_TEXT (match->str), TD_INT (SEARCH_LIMIT));
}

static void
search_activate_cb (TdChatView     *self,
                    GtkSearchEntry *entry)
{
  td_chat_view_search (self, gtk_editable_get_text (GTK_EDITABLE (entry)));
}

/* ------------------------------------------------------------------ */
/* Connecting                                                          */
/* ------------------------------------------------------------------ */

static void
td_chat_view_connect_network (TdChatView  *self,
                              ChatNetwork *net)
{
  g_autoptr(TdIrcClientConfig) config = NULL;

  if (net->client != NULL || net->port == 0)
    return;
  config = td_irc_client_config_new ();
  config->network = net->id;
  g_free (config->host);
  config->host = g_strdup (net->host);
  config->port = net->port;
  config->tls = net->tls;
  config->nick = g_strdup (net->nick_config);
  config->realname = g_strdup (net->nick_config);
  /* The local server: the account the view registered there, if any.
   * An account whose password the keyring did not give is not used. */
  config->sasl_account = g_strdup (net->local ? net->local_account : net->sasl_account);
  config->sasl_password = g_strdup (net->local ? net->local_password : net->sasl_password);
  if (config->sasl_password == NULL)
    g_clear_pointer (&config->sasl_account, g_free);
  net->client = td_irc_client_new (config, self->mailbox, MAIL_IRC);
  td_irc_client_connect (net->client);
}

/* ------------------------------------------------------------------ */
/* SASL passwords in the keyring                                       */
/* ------------------------------------------------------------------ */

/*
 * The SASL password given when a network is added is used at once and
 * stored in the keyring (td-chat-secrets.h). At the next start, a network
 * with an account asks the keyring before it connects. Without an answer
 * (no keyring, nothing stored, or no answer within KEYRING_TIMEOUT_S) the
 * user is told in the network's buffer and state, then it connects without
 * logging in: it never waits for good.
 */

/* A keyring request on the way. The view stays alive until it is
 * answered; the network is found again by id, as it may be gone. */
typedef struct
{
  TdChatView *self;      /* owned ref */
  guint       network;
} SecretRequest;

static SecretRequest *
secret_request_new (TdChatView  *self,
                    ChatNetwork *net)
{
  SecretRequest *request = g_new0 (SecretRequest, 1);

  request->self = g_object_ref (self);
  request->network = net->id;
  return request;
}

static void
secret_request_free (SecretRequest *request)
{
  g_object_unref (request->self);
  g_free (request);
}

static ChatNetwork *
secret_request_network (SecretRequest *request)
{
  TdChatView *self = request->self;

  return self->networks != NULL ? find_network_by_id (self, request->network) : NULL;
}

/* A line in @net's server buffer, now. */
static void
network_say (TdChatView     *self,
             ChatNetwork    *net,
             TdChatLineKind  kind,
             const char     *text)
{
  Pending pending = pending_new ();

  add_info (self, &pending, net, net->server, kind, NULL, text);
  pending_flush (self, &pending);
}

static void
secret_stored_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  SecretRequest *request = user_data;
  g_autoptr(GError) error = NULL;
  gboolean ok = td_chat_secrets_store_finish (result, &error);
  ChatNetwork *net = secret_request_network (request);

  if (net != NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_autofree char *text = NULL;

      if (ok)
        text = g_strdup_printf (_("The password of the account %s is kept in your keyring."), net->sasl_account);
      else
        text = g_strdup_printf (_("The password could not be kept in the keyring (%s): it is used until Tidings quits."),
                                error->message);
      network_say (request->self, net, ok ? TD_CHAT_LINE_INFO : TD_CHAT_LINE_ERROR, text);
    }
  secret_request_free (request);
}

static void
secret_cleared_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autofree char *network = user_data;
  g_autoptr(GError) error = NULL;

  /* Nothing to clear without a keyring: nothing was stored in it. */
  if (!td_chat_secrets_clear_finish (result, &error) && error != NULL)
    g_message ("The keyring kept the password of the removed network %s: %s", network, error->message);
}

static gboolean
secret_timeout_cb (gpointer user_data)
{
  ChatNetwork *net = user_data;

  net->secret_timeout = 0;
  net->secret_timed_out = TRUE;
  g_cancellable_cancel (net->secret_cancellable);
  return G_SOURCE_REMOVE;
}

static void
secret_lookup_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  SecretRequest *request = user_data;
  TdChatView *self = request->self;
  g_autoptr(GError) error = NULL;
  char *password = td_chat_secrets_lookup_finish (result, &error);
  ChatNetwork *net = secret_request_network (request);
  g_autofree char *text = NULL;

  /* Cancelled because the network or the view went away. */
  if (net == NULL || net->secret != SECRET_LOOKING_UP ||
      (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && !net->secret_timed_out))
    {
      td_chat_secrets_free_password (password);
      secret_request_free (request);
      return;
    }
  g_clear_handle_id (&net->secret_timeout, g_source_remove);
  g_clear_object (&net->secret_cancellable);
  if (password != NULL)
    {
      net->secret = SECRET_FOUND;
      password_free (net->sasl_password);
      net->sasl_password = g_strdup (password);
      td_chat_secrets_free_password (password);
    }
  else if (error == NULL)
    {
      net->secret = SECRET_MISSING;
      text = g_strdup_printf (_("The keyring has no password for the account %s: connecting without logging in."),
                              net->sasl_account);
    }
  else
    {
      net->secret = SECRET_UNAVAILABLE;
      if (net->secret_timed_out)
        text = g_strdup_printf (_("The keyring did not answer within %d seconds: connecting without logging in "
                                  "to the account %s."), KEYRING_TIMEOUT_S, net->sasl_account);
      else
        text = g_strdup_printf (_("The keyring is unavailable (%s): connecting without logging in to the "
                                  "account %s."), error->message, net->sasl_account);
    }
  /* Told first, then connected. */
  if (text != NULL)
    network_say (self, net, TD_CHAT_LINE_ERROR, text);
  update_network_status (self, net);
  td_chat_view_connect_network (self, net);
  secret_request_free (request);
}

/* Connects @net, asking the keyring first for the password of its SASL
 * account when this session was not given it. */
static void
network_start (TdChatView  *self,
               ChatNetwork *net)
{
  if (net->local || net->sasl_account == NULL || *net->sasl_account == '\0' || net->sasl_password != NULL)
    {
      td_chat_view_connect_network (self, net);
      return;
    }
  if (net->secret == SECRET_LOOKING_UP)
    return;
  net->secret = SECRET_LOOKING_UP;
  net->secret_timed_out = FALSE;
  net->secret_cancellable = g_cancellable_new ();
  net->secret_timeout = g_timeout_add_seconds (KEYRING_TIMEOUT_S, secret_timeout_cb, net);
  update_network_status (self, net);
  td_chat_secrets_lookup (net->name, net->host, net->sasl_account, net->secret_cancellable,
                          secret_lookup_cb, secret_request_new (self, net));
}

/* ------------------------------------------------------------------ */
/* The local account                                                   */
/* ------------------------------------------------------------------ */

/*
 * Uploads to a file host need an account. On other networks that is the
 * network's SASL account. On the embedded server the view makes one
 * itself the first time (IRC REGISTER, named after the nick, with a
 * random password) and keeps it in LOCAL_ACCOUNT_FILE; later connections
 * log in to it with SASL, and if the server no longer knows it (its
 * database was reset) it is registered again. Anonymous uploads stay off:
 * files on the local server always have an owner, and so a quota.
 */

static char *
local_account_path (void)
{
  return g_build_filename (g_get_user_data_dir (), "tidings", LOCAL_ACCOUNT_FILE, NULL);
}

static void
local_account_loaded_cb (GObject      *object,
                         GAsyncResult *result,
                         gpointer      user_data)
{
  g_autoptr(TdChatView) self = user_data;
  g_autofree char *contents = NULL;
  gsize len = 0;
  ChatNetwork *net;

  self->local_account_loaded = TRUE;
  if (self->networks == NULL || (net = find_network (self, TD_CHAT_LOCAL_NETWORK)) == NULL)
    return;
  if (g_file_load_contents_finish (G_FILE (object), result, &contents, &len, NULL, NULL) &&
      g_utf8_validate (contents, len, NULL))
    {
      g_auto(GStrv) lines = g_strsplit (contents, "\n", 3);

      if (g_strv_length (lines) >= 2 && *lines[0] != '\0' && *lines[1] != '\0')
        {
          g_free (net->local_account);
          net->local_account = g_strdup (lines[0]);
          g_free (net->local_password);
          net->local_password = g_strdup (lines[1]);
        }
      memset (contents, 0, len);
    }
}

static void
local_account_load (TdChatView *self)
{
  g_autofree char *path = local_account_path ();
  g_autoptr(GFile) file = g_file_new_for_path (path);

  if (self->local_account_loading)
    return;
  self->local_account_loading = TRUE;
  g_file_load_contents_async (file, self->cancellable, local_account_loaded_cb, g_object_ref (self));
}

static void
local_account_saved_cb (GObject      *object,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  if (!g_file_replace_contents_finish (G_FILE (object), result, NULL, &error) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_warning ("Could not keep the local chat account: %s", error->message);
}

/* Asks the local server for an account: the stored one again, unless
 * @fresh, else one named after the nick (then with a random suffix). */
static void
local_account_register (TdChatView  *self,
                        ChatNetwork *net,
                        gboolean     fresh)
{
  g_autofree char *command = NULL;

  if (net->client == NULL || net->register_tries >= LOCAL_REGISTER_TRIES)
    return;
  net->register_tries++;
  g_free (net->pending_account);
  if (net->pending_password != NULL)
    memset (net->pending_password, 0, strlen (net->pending_password));
  g_free (net->pending_password);
  if (!fresh && net->local_account != NULL && net->local_password != NULL)
    {
      net->pending_account = g_strdup (net->local_account);
      net->pending_password = g_strdup (net->local_password);
    }
  else
    {
      guint8 random[LOCAL_PASSWORD_BYTES];
      const char *nick = net->nick ? net->nick : net->nick_config;

      for (guint i = 0; i < sizeof random; i++)
        random[i] = (guint8) g_random_int_range (0, 256);
      net->pending_password = g_base64_encode (random, sizeof random);
      memset (random, 0, sizeof random);
      if (net->register_tries <= 1)
        net->pending_account = g_strdup (nick);
      else
        net->pending_account = g_strdup_printf ("%.25s-%04x", nick, g_random_int_range (0, 0x10000));
    }
  command = g_strdup_printf ("REGISTER %s * %s", net->pending_account, net->pending_password);
  td_irc_client_send_raw (net->client, command);
  memset (command, 0, strlen (command));
}

static void
local_account_registered (TdChatView  *self,
                          ChatNetwork *net)
{
  g_autofree char *path = local_account_path ();
  g_autofree char *dir = g_path_get_dirname (path);
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autofree char *contents = NULL;
  g_autoptr(GBytes) bytes = NULL;

  g_free (net->local_account);
  net->local_account = g_steal_pointer (&net->pending_account);
  if (net->local_password != NULL)
    memset (net->local_password, 0, strlen (net->local_password));
  g_free (net->local_password);
  net->local_password = g_steal_pointer (&net->pending_password);
  net->logged_in = TRUE;

  contents = g_strdup_printf ("%s\n%s\n", net->local_account, net->local_password);
  bytes = g_bytes_new_take (g_steal_pointer (&contents), strlen (net->local_account) + strlen (net->local_password) + 2);
  g_mkdir_with_parents (dir, 0700);
  g_file_replace_contents_bytes_async (file, bytes, NULL, FALSE,
                                       G_FILE_CREATE_PRIVATE | G_FILE_CREATE_REPLACE_DESTINATION,
                                       self->cancellable, local_account_saved_cb, NULL);
}

/* The embedded server binds its port on a thread of its own; until it has,
 * the local network waits. */
static gboolean
poll_local_port_cb (gpointer user_data)
{
  TdChatView *self = user_data;
  ChatNetwork *net = find_network (self, TD_CHAT_LOCAL_NETWORK);
  guint16 port;

  if (net == NULL || self->app == NULL)
    {
      self->poll_source = 0;
      return G_SOURCE_REMOVE;
    }
  port = td_application_get_local_port (TD_APPLICATION (self->app), "chat");
  if (port == 0)
    return G_SOURCE_CONTINUE;
  /* The account for files is read first, so that the first connection
   * already logs in with it. */
  if (!self->local_account_loaded)
    {
      local_account_load (self);
      return G_SOURCE_CONTINUE;
    }
  net->port = port;
  td_chat_view_connect_network (self, net);
  self->poll_source = 0;
  return G_SOURCE_REMOVE;
}

/* Connects the embedded server's network once its port is known (unless
 * the local server is turned off). */
static void
start_local (TdChatView  *self,
             ChatNetwork *local)
{
  g_autoptr(GSettings) settings = NULL;

  update_network_status (self, local);
  if (self->app == NULL)
    return;
  settings = g_settings_new ("io.github.tidings.Tidings");
  if (g_settings_get_boolean (settings, "local-server"))
    {
      if (self->poll_source == 0 && poll_local_port_cb (self) == G_SOURCE_CONTINUE)
        self->poll_source = g_timeout_add (200, poll_local_port_cb, self);
    }
  else
    td_chat_buffer_set_status (local->server, _("The local server is off"));
}

/* ------------------------------------------------------------------ */
/* The nick, chosen at first run                                       */
/* ------------------------------------------------------------------ */

/* Why @nick cannot be a nick, or NULL when it can: said so that the user
 * knows what to change. */
static char *
nick_problem (const char *nick)
{
  if (*nick == '\0')
    return g_strdup (_("Type a nick."));
  for (const char *p = nick; *p; p = g_utf8_next_char (p))
    if (g_unichar_isspace (g_utf8_get_char (p)))
      return g_strdup (_("A nick cannot contain spaces."));
  for (const char *p = nick; *p; p = g_utf8_next_char (p))
    if (!g_ascii_isalnum (*p) && strchr ("-[]\\`_^{|}", *p) == NULL)
      {
        char c[7] = { 0 };

        g_unichar_to_utf8 (g_utf8_get_char (p), c);
        return g_strdup_printf (_("“%s” cannot be in a nick: use letters, digits and - _ [ ] { } \\ ` ^ |"), c);
      }
  if (g_ascii_isdigit (nick[0]) || nick[0] == '-')
    return g_strdup (_("A nick cannot start with a digit or a hyphen."));
  if (strlen (nick) > FIRST_RUN_NICK_MAX)
    return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "A nick has at most %d character.",
                                         "A nick has at most %d characters.", FIRST_RUN_NICK_MAX),
                            FIRST_RUN_NICK_MAX);
  if (!td_irc_nick_is_valid (nick, FIRST_RUN_NICK_MAX))
    return g_strdup (_("This cannot be a nick."));
  return NULL;
}

static void
nick_entry_changed_cb (TdChatView *self)
{
  const char *nick = gtk_editable_get_text (GTK_EDITABLE (self->nick_entry));
  g_autofree char *problem = nick_problem (nick);
  /* An empty entry only turns the button off: nothing is wrong yet. */
  gboolean show = problem != NULL && *nick != '\0';

  gtk_label_set_label (self->nick_error, show ? problem : "");
  gtk_widget_set_visible (GTK_WIDGET (self->nick_error), show);
  if (show)
    gtk_widget_add_css_class (GTK_WIDGET (self->nick_entry), "error");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->nick_entry), "error");
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->nick_entry), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION,
                                  show ? problem : "", -1);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "chat.choose-nick", self->choosing_nick && problem == NULL);
}

static void
nick_entry_activated_cb (TdChatView *self)
{
  gtk_widget_activate_action (GTK_WIDGET (self), "chat.choose-nick", NULL);
}

/* First run: the page that asks for a nick, with the user name offered.
 * The embedded server's network waits for it; others connect meanwhile. */
static void
nick_page_show (TdChatView *self)
{
  g_autofree char *suggestion = default_nick ();
  ChatNetwork *local = find_network (self, TD_CHAT_LOCAL_NETWORK);

  self->choosing_nick = TRUE;
  gtk_editable_set_text (GTK_EDITABLE (self->nick_entry), suggestion);
  nick_entry_changed_cb (self);
  gtk_stack_set_visible_child_name (self->main_stack, "nick");
  gtk_widget_grab_focus (GTK_WIDGET (self->nick_entry));
  if (local != NULL)
    update_network_status (self, local);
}

static void
choose_nick_action (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *parameter)
{
  TdChatView *self = TD_CHAT_VIEW (widget);
  g_autofree char *nick = g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->nick_entry)));
  g_autofree char *problem = nick_problem (nick);
  ChatNetwork *local = find_network (self, TD_CHAT_LOCAL_NETWORK);

  if (!self->choosing_nick || problem != NULL)
    return;
  g_settings_set_string (self->settings, "chat-nick", nick);
  self->choosing_nick = FALSE;
  gtk_widget_action_set_enabled (widget, "chat.choose-nick", FALSE);
  gtk_stack_set_visible_child_name (self->main_stack, "chat");
  if (local == NULL)
    return;
  g_free (local->nick_config);
  local->nick_config = g_strdup (nick);
  g_free (local->nick);
  local->nick = g_strdup (nick);
  if (self->recorder != NULL)
    td_recorder_save_values (self->recorder, SQL_ENSURE_NETWORK, TD_TEXT (TD_CHAT_LOCAL_NETWORK),
                             TD_TEXT ("127.0.0.1"), TD_INT (0), TD_BOOL (FALSE), TD_TEXT (nick), TD_NULL,
                             TD_INT (g_get_real_time () / G_USEC_PER_SEC));
  start_local (self, local);
}

static void
td_chat_view_start_connections (TdChatView *self)
{
  ChatNetwork *local = find_network (self, TD_CHAT_LOCAL_NETWORK);
  g_autofree char *nick = chosen_nick (self);

  if (local == NULL)
    local = add_network (self, TD_CHAT_LOCAL_NETWORK, "127.0.0.1", 0, FALSE, nick, NULL);
  /* The local network always uses the chosen nick and the live port. */
  g_free (local->nick_config);
  local->nick_config = g_strdup (nick);
  local->port = 0;

  self->ready = TRUE;
  for (guint i = 0; i < self->networks->len; i++)
    {
      ChatNetwork *net = g_ptr_array_index (self->networks, i);

      if (!net->local)
        network_start (self, net);
    }
  if (nick == NULL)
    nick_page_show (self);
  else
    start_local (self, local);
  if (td_chat_view_get_selected (self) == NULL)
    td_chat_view_select (self, local->server);
}

static void
view_mail_cb (TdMailboxId  id,
              TdMail      *mail,
              gpointer     user_data)
{
  TdChatView *self = user_data;

  switch (mail->kind)
    {
    case MAIL_IRC:
      handle_batch (self, mail->data);
      break;
    case MAIL_NETWORKS:
      load_networks (self, mail->data);
      break;
    case MAIL_BUFFERS:
      load_buffers (self, mail->data);
      break;
    case MAIL_LINES:
      load_recent (self, mail->data);
      td_chat_view_start_connections (self);
      break;
    case MAIL_SEARCH:
      show_search_results (self, mail->data);
      break;
    case MAIL_HOVER:
      {
        HoverData *hover = mail->data;
        TdChatBuffer *buffer = td_chat_view_get_selected (self);
        TdChatMember *member = buffer ? td_chat_buffer_find_member (buffer, hover->nick) : NULL;
        GString *text = g_string_new (NULL);
        graphene_rect_t bounds;

        if (!gtk_widget_get_mapped (hover->widget) ||
            !gtk_widget_compute_bounds (hover->widget, GTK_WIDGET (self), &bounds))
          {
            g_string_free (text, TRUE);
            break;
          }
        g_string_append_printf (text, "<b>%s</b>", hover->nick);
        if (member != NULL)
          {
            const char *prefix = td_chat_member_get_prefix (member);

            if (strchr (prefix, '@'))
              g_string_append_printf (text, "\n%s", _("Channel operator"));
            else if (strchr (prefix, '+'))
              g_string_append_printf (text, "\n%s", _("Voiced"));
            g_string_append_printf (text, "\n%s", td_chat_member_get_away (member) ? _("Away") : _("Here"));
          }
        else if (buffer != NULL && td_chat_buffer_get_kind (buffer) == TD_CHAT_BUFFER_CHANNEL)
          g_string_append_printf (text, "\n%s", _("Not in this channel now"));
        g_string_append_printf (text, "\n<small>%s</small>", _("/whois for details, /query to talk"));
        gtk_label_set_markup (self->hover_label, text->str);
        g_string_free (text, TRUE);
        gtk_popover_set_pointing_to (self->hover_popover,
                                     &(GdkRectangle) { bounds.origin.x, bounds.origin.y,
                                                       MAX (bounds.size.width, 1), MAX (bounds.size.height, 1) });
        gtk_popover_popup (self->hover_popover);
      }
      break;
    default:
      break;
    }
}

/* The application is going away, and its recorder with it: say goodbye to
 * every network now, while the log can still take the last lines. */
static void
app_shutdown_cb (GApplication *app,
                 TdChatView   *self)
{
  g_clear_handle_id (&self->poll_source, g_source_remove);
  g_clear_handle_id (&self->status_source, g_source_remove);
  g_ptr_array_set_size (self->networks, 0);
  self->recorder = NULL;
  self->app = NULL;
}

static void
td_chat_view_startup (TdChatView     *self,
                      GtkApplication *app)
{
  g_autofree char *nick = NULL;

  if (self->started)
    return;
  self->started = TRUE;
  self->app = app;
  g_signal_connect_object (app, "shutdown", G_CALLBACK (app_shutdown_cb), self, 0);
  if (TD_IS_APPLICATION (app))
    self->recorder = td_application_get_recorder (TD_APPLICATION (app));

  if (self->recorder == NULL)
    {
      td_chat_view_start_connections (self);
      return;
    }
  nick = chosen_nick (self);
  td_recorder_save_values (self->recorder, SQL_ENSURE_NETWORK, TD_TEXT (TD_CHAT_LOCAL_NETWORK),
                           TD_TEXT ("127.0.0.1"), TD_INT (0), TD_BOOL (FALSE), TD_TEXT (nick), TD_NULL,
                           TD_INT (g_get_real_time () / G_USEC_PER_SEC));
  /* The recorder answers in order: networks, then buffers, then lines;
   * connecting waits for the last so that live lines come after the log. */
  td_recorder_load (self->recorder, SQL_LOAD_NETWORKS, NULL, 0, self->mailbox, MAIL_NETWORKS);
  td_recorder_load (self->recorder, SQL_LOAD_BUFFERS, NULL, 0, self->mailbox, MAIL_BUFFERS);
  td_recorder_load_values (self->recorder, SQL_LOAD_RECENT, self->mailbox, MAIL_LINES, TD_INT (TD_CHAT_LOG_PAGE));
}

static void
window_application_cb (GtkWindow  *window,
                       GParamSpec *pspec,
                       TdChatView *self)
{
  GtkApplication *app = gtk_window_get_application (window);

  if (app != NULL)
    {
      g_signal_handlers_disconnect_by_func (window, window_application_cb, self);
      td_chat_view_startup (self, app);
    }
}

static void
root_changed_cb (TdChatView *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));

  if (self->started || !GTK_IS_WINDOW (root))
    return;
  if (gtk_window_get_application (GTK_WINDOW (root)) != NULL)
    td_chat_view_startup (self, gtk_window_get_application (GTK_WINDOW (root)));
  else
    g_signal_connect_object (root, "notify::application", G_CALLBACK (window_application_cb), self, 0);
}

gboolean
td_chat_view_add_network (TdChatView *self,
                          const char *name,
                          const char *host,
                          guint16     port,
                          gboolean    tls,
                          const char *nick,
                          const char *sasl_account,
                          const char *sasl_password)
{
  ChatNetwork *net;

  g_return_val_if_fail (TD_IS_CHAT_VIEW (self), FALSE);
  g_return_val_if_fail (name != NULL && host != NULL, FALSE);

  if (find_network (self, name) != NULL)
    return FALSE;
  if (nick == NULL || *nick == '\0')
    {
      g_autofree char *fallback = local_nick (self);

      net = add_network (self, name, host, port, tls, fallback, sasl_account);
    }
  else
    net = add_network (self, name, host, port, tls, nick, sasl_account);
  /* The password is used now and kept in the keyring for the next start
   * (never in the database). */
  if (sasl_account != NULL && *sasl_account != '\0' && sasl_password != NULL && *sasl_password != '\0')
    {
      net->sasl_password = g_strdup (sasl_password);
      td_chat_secrets_store (name, host, sasl_account, sasl_password, self->cancellable,
                             secret_stored_cb, secret_request_new (self, net));
    }
  if (self->recorder != NULL)
    td_recorder_save_values (self->recorder, SQL_ENSURE_NETWORK, TD_TEXT (name), TD_TEXT (host),
                             TD_INT (port), TD_BOOL (tls), TD_TEXT (net->nick_config),
                             TD_TEXT (sasl_account), TD_INT (g_get_real_time () / G_USEC_PER_SEC));
  save_buffer (self, net->server, TRUE);
  if (self->ready)
    network_start (self, net);
  td_chat_view_select (self, net->server);
  return TRUE;
}

/* Removes @network: disconnects, closes its buffers, forgets it and its
 * log, and clears its password from the keyring. Returns FALSE with
 * @error for an unknown network and for the embedded server's. */
gboolean
td_chat_view_remove_network (TdChatView  *self,
                             const char  *network,
                             GError     **error)
{
  ChatNetwork *net;

  g_return_val_if_fail (TD_IS_CHAT_VIEW (self), FALSE);
  g_return_val_if_fail (network != NULL, FALSE);

  net = find_network (self, network);
  if (net == NULL)
    {
      g_set_error (error, TD_CHAT_VIEW_ERROR, TD_CHAT_VIEW_ERROR_NO_NETWORK, _("No network named “%s”"), network);
      return FALSE;
    }
  if (net->local)
    {
      g_set_error_literal (error, TD_CHAT_VIEW_ERROR, TD_CHAT_VIEW_ERROR_INVALID,
                           _("The network of Tidings’ own server cannot be removed"));
      return FALSE;
    }
  if (self->attachment != NULL && g_strcmp0 (td_chat_buffer_get_network (self->attachment->buffer), network) == 0)
    attach_close (self);
  for (guint i = g_list_model_get_n_items (G_LIST_MODEL (self->buffers)); i > 0; i--)
    {
      g_autoptr(TdChatBuffer) buffer = g_list_model_get_item (G_LIST_MODEL (self->buffers), i - 1);

      if (td_chat_buffer_get_kind (buffer) != TD_CHAT_BUFFER_SEARCH &&
          g_strcmp0 (td_chat_buffer_get_network (buffer), network) == 0)
        remove_buffer (self, buffer);
    }
  if (self->recorder != NULL)
    td_recorder_save_values (self->recorder, SQL_DELETE_NETWORK, TD_TEXT (network));
  /* Not cancelled with the view: the password goes even when Tidings
   * quits right after. */
  td_chat_secrets_clear (network, NULL, secret_cleared_cb, g_strdup (network));
  /* Says QUIT and stops its thread; a lookup on the way is cancelled. */
  g_ptr_array_remove (self->networks, net);
  td_chat_view_update_header (self);
  update_attach (self);
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Commands                                                            */
/* ------------------------------------------------------------------ */

static const struct
{
  const char *name;
  const char *args;
  const char *help;
} commands[] = {
  { "join", N_("#channel [key]"), N_("join a channel") },
  { "part", N_("[#channel] [reason]"), N_("leave a channel") },
  { "msg", N_("nick text"), N_("send a private message") },
  { "query", N_("nick [text]"), N_("open a private conversation") },
  { "me", N_("action"), N_("describe what you do") },
  { "nick", N_("new-nick"), N_("change your nick") },
  { "topic", N_("[text]"), N_("show or set the channel topic") },
  { "away", N_("[message]"), N_("set yourself away, or back without a message") },
  { "whois", N_("nick"), N_("ask the server about someone") },
  { "mode", N_("[target] modes"), N_("show or change modes") },
  { "kick", N_("nick [reason]"), N_("remove someone from the channel") },
  { "invite", N_("nick [#channel]"), N_("invite someone to a channel") },
  { "quote", N_("raw line"), N_("send a line to the server as it is") },
  { "help", "", N_("list these commands") },
  { "quit", N_("[reason]"), N_("disconnect from this network") },
};

/* A line in the selected buffer (or @buffer) that only the user sees. */
static void
show_local (TdChatView     *self,
            TdChatBuffer   *buffer,
            TdChatLineKind  kind,
            const char     *text)
{
  ChatNetwork *net = network_of (self, buffer);
  Pending pending = pending_new ();

  if (net != NULL)
    add_line (self, &pending, net, buffer, td_chat_line_new (kind, g_get_real_time (), NULL, text, NULL));
  else
    pending_add (&pending, buffer, td_chat_line_new (kind, g_get_real_time (), NULL, text, NULL));
  pending_flush (self, &pending);
}

static void
show_help (TdChatView   *self,
           TdChatBuffer *buffer)
{
  show_local (self, buffer, TD_CHAT_LINE_INFO, _("Commands:"));
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      g_autofree char *text = g_strdup_printf ("/%s %s — %s", commands[i].name,
                                               commands[i].args[0] ? _(commands[i].args) : "",
                                               _(commands[i].help));

      show_local (self, buffer, TD_CHAT_LINE_INFO, text);
    }
  show_local (self, buffer, TD_CHAT_LINE_INFO, _("Start a message with // to send a line that starts with /."));
}

/* Splits off the first word of @args into @word; returns the rest
 * (leading spaces skipped) or "". */
static const char *
next_word (const char  *args,
           char       **word)
{
  const char *end;

  while (*args == ' ')
    args++;
  end = strchr (args, ' ');
  *word = end ? g_strndup (args, end - args) : g_strdup (args);
  if (end == NULL)
    return "";
  while (*end == ' ')
    end++;
  return end;
}

static gboolean
is_channel_name (const char *name)
{
  return name != NULL && (name[0] == '#' || name[0] == '&');
}

static void
run_command (TdChatView   *self,
             TdChatBuffer *buffer,
             const char   *line)
{
  ChatNetwork *net = network_of (self, buffer);
  g_autofree char *command = NULL;
  g_autofree char *first = NULL;
  const char *args = next_word (line + 1, &command);
  const char *rest;
  const char *here = buffer && td_chat_buffer_get_kind (buffer) != TD_CHAT_BUFFER_SERVER &&
                     td_chat_buffer_get_kind (buffer) != TD_CHAT_BUFFER_SEARCH ? td_chat_buffer_get_name (buffer) : NULL;

  {
    char *lower = g_ascii_strdown (command, -1);

    g_free (command);
    command = lower;
  }

  if (g_str_equal (command, "help"))
    {
      show_help (self, buffer);
      return;
    }
  if (net == NULL || net->client == NULL)
    {
      show_local (self, buffer, TD_CHAT_LINE_ERROR, _("This buffer has no network: select a network or channel first."));
      return;
    }

  rest = next_word (args, &first);
  if (g_str_equal (command, "join") && *first)
    {
      g_autofree char *key = td_irc_casefold (first);

      g_hash_table_add (net->select_on_join, g_steal_pointer (&key));
      td_irc_client_join (net->client, first, *rest ? rest : NULL);
    }
  else if (g_str_equal (command, "part") || g_str_equal (command, "leave"))
    {
      if (is_channel_name (first))
        td_irc_client_part (net->client, first, *rest ? rest : NULL);
      else if (here != NULL && is_channel_name (here))
        td_irc_client_part (net->client, here, *args ? args : NULL);
      else
        show_local (self, buffer, TD_CHAT_LINE_ERROR, _("Usage: /part [#channel] [reason]"));
    }
  else if ((g_str_equal (command, "msg") || g_str_equal (command, "query")) && *first)
    {
      if (g_str_equal (command, "query") && !is_channel_name (first))
        {
          TdChatBuffer *query = ensure_buffer (self, net, first, TD_CHAT_BUFFER_QUERY, TRUE);

          td_chat_buffer_set_joined (query, TRUE);
          td_irc_client_open_query (net->client, first);
          td_chat_view_select (self, query);
        }
      if (*rest)
        td_irc_client_privmsg (net->client, first, rest);
    }
  else if (g_str_equal (command, "me"))
    {
      if (here == NULL)
        show_local (self, buffer, TD_CHAT_LINE_ERROR, _("/me needs a channel or a conversation."));
      else
        td_irc_client_action (net->client, here, args);
    }
  else if (g_str_equal (command, "nick") && *first)
    {
      td_irc_client_set_nick (net->client, first);
      if (net->local)
        g_settings_set_string (self->settings, "chat-nick", first);
      g_free (net->nick_config);
      net->nick_config = g_strdup (first);
    }
  else if (g_str_equal (command, "topic"))
    {
      if (is_channel_name (first))
        td_irc_client_set_topic (net->client, first, *rest ? rest : NULL);
      else if (here != NULL && is_channel_name (here))
        td_irc_client_set_topic (net->client, here, *args ? args : NULL);
      else
        show_local (self, buffer, TD_CHAT_LINE_ERROR, _("Usage: /topic [#channel] [text]"));
    }
  else if (g_str_equal (command, "away"))
    td_irc_client_set_away (net->client, args);
  else if (g_str_equal (command, "whois") && *first)
    td_irc_client_whois (net->client, first);
  else if (g_str_equal (command, "mode"))
    {
      if (*first == '+' || *first == '-' || *first == '\0')
        td_irc_client_mode (net->client, here ? here : net->nick, args);
      else
        td_irc_client_mode (net->client, first, rest);
    }
  else if (g_str_equal (command, "kick") && *first && here != NULL)
    td_irc_client_kick (net->client, here, first, *rest ? rest : NULL);
  else if (g_str_equal (command, "invite") && *first)
    {
      g_autofree char *channel = NULL;

      next_word (rest, &channel);
      if (*channel == '\0' && here != NULL)
        {
          g_free (channel);
          channel = g_strdup (here);
        }
      if (*channel)
        td_irc_client_invite (net->client, first, channel);
      else
        show_local (self, buffer, TD_CHAT_LINE_ERROR, _("Usage: /invite nick #channel"));
    }
  else if ((g_str_equal (command, "quote") || g_str_equal (command, "raw")) && *args)
    td_irc_client_send_raw (net->client, args);
  else if (g_str_equal (command, "quit"))
    td_irc_client_disconnect (net->client, *args ? args : _("Leaving"));
  else
    {
      g_autofree char *text = NULL;
      gboolean known = FALSE;

      for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
        if (g_str_equal (command, commands[i].name))
          {
            known = TRUE;
            text = g_strdup_printf (_("Usage: /%s %s"), commands[i].name, _(commands[i].args));
          }
      if (!known)
        text = g_strdup_printf (_("Unknown command /%s. Type /help for the list."), command);
      show_local (self, buffer, TD_CHAT_LINE_ERROR, text);
    }
}

/* Sends @text (one or more lines) to the selected buffer. */
static void
send_text (TdChatView   *self,
           TdChatBuffer *buffer,
           const char   *text)
{
  ChatNetwork *net = network_of (self, buffer);
  TdChatBufferKind kind = buffer ? td_chat_buffer_get_kind (buffer) : TD_CHAT_BUFFER_SEARCH;

  if (net == NULL || net->client == NULL || (kind != TD_CHAT_BUFFER_CHANNEL && kind != TD_CHAT_BUFFER_QUERY))
    {
      show_local (self, buffer, TD_CHAT_LINE_ERROR,
                  _("Messages go to a channel or a conversation: /join #channel or /query nick first."));
      return;
    }
  if (kind == TD_CHAT_BUFFER_CHANNEL && !td_chat_buffer_get_joined (buffer))
    {
      show_local (self, buffer, TD_CHAT_LINE_ERROR, _("You are not in this channel: /join it first."));
      return;
    }
  td_irc_client_privmsg (net->client, td_chat_buffer_get_name (buffer), text);
}

static void
submit_now (TdChatView   *self,
            TdChatBuffer *buffer,
            const char   *text)
{
  if (text[0] == '/' && text[1] != '/')
    run_command (self, buffer, text);
  else
    send_text (self, buffer, text[0] == '/' ? text + 1 : text);
}

typedef struct
{
  TdChatView   *self;
  TdChatBuffer *buffer;
  char         *text;
} PasteData;

static void
paste_data_free (PasteData *data)
{
  g_object_unref (data->buffer);
  g_free (data->text);
  g_free (data);
}

static void
paste_data_closure_free (gpointer  data,
                         GClosure *closure)
{
  paste_data_free (data);
}

static void
paste_response_cb (AdwMessageDialog *dialog,
                   const char       *response,
                   PasteData        *data)
{
  if (g_strcmp0 (response, "send") == 0)
    send_text (data->self, data->buffer, data->text);
}

void
td_chat_view_submit (TdChatView *self,
                     const char *text)
{
  TdChatBuffer *buffer;
  guint n_lines = 1;

  g_return_if_fail (TD_IS_CHAT_VIEW (self));
  g_return_if_fail (text != NULL);

  buffer = td_chat_view_get_selected (self);
  if (buffer == NULL || *text == '\0')
    return;

  if (self->input_history->len == 0 ||
      g_strcmp0 (g_ptr_array_index (self->input_history, self->input_history->len - 1), text) != 0)
    g_ptr_array_add (self->input_history, g_strdup (text));
  if (self->input_history->len > INPUT_HISTORY_MAX)
    g_ptr_array_remove_index (self->input_history, 0);
  self->input_pos = self->input_history->len;

  for (const char *p = text; *p; p++)
    if (*p == '\n' && p[1] != '\0')
      n_lines++;
  if (n_lines > 1 && text[0] != '/')
    {
      GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
      AdwMessageDialog *dialog;
      PasteData *data = g_new0 (PasteData, 1);

      data->self = self;
      data->buffer = g_object_ref (buffer);
      data->text = g_strdup (text);
      dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                                           _("Send Several Lines?"), NULL));
      adw_message_dialog_format_body (dialog,
                                      g_dngettext (GETTEXT_PACKAGE,
                                                   "This sends %u line to %s.",
                                                   "This sends %u lines to %s, one message each.", n_lines),
                                      n_lines, td_chat_buffer_get_name (buffer));
      adw_message_dialog_add_responses (dialog, "cancel", _("_Cancel"), "send", _("_Send"), NULL);
      adw_message_dialog_set_response_appearance (dialog, "send", ADW_RESPONSE_SUGGESTED);
      adw_message_dialog_set_default_response (dialog, "send");
      adw_message_dialog_set_close_response (dialog, "cancel");
      g_signal_connect_data (dialog, "response", G_CALLBACK (paste_response_cb), data,
                             paste_data_closure_free, 0);
      gtk_window_present (GTK_WINDOW (dialog));
      return;
    }
  submit_now (self, buffer, text);
}

/* ------------------------------------------------------------------ */
/* Composer                                                            */
/* ------------------------------------------------------------------ */

static char *
composer_get_text (TdChatView *self)
{
  GtkTextBuffer *text = gtk_text_view_get_buffer (self->composer);
  GtkTextIter start, end;

  gtk_text_buffer_get_bounds (text, &start, &end);
  return gtk_text_buffer_get_text (text, &start, &end, FALSE);
}

static void
composer_set_text (TdChatView *self,
                   const char *text)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->composer);
  GtkTextIter end;

  gtk_text_buffer_set_text (buffer, text, -1);
  gtk_text_buffer_get_end_iter (buffer, &end);
  gtk_text_buffer_place_cursor (buffer, &end);
}

static void
send_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  TdChatView *self = TD_CHAT_VIEW (widget);
  g_autofree char *text = composer_get_text (self);

  g_strchomp (text);
  if (*text == '\0')
    return;
  composer_set_text (self, "");
  td_chat_view_submit (self, text);
}

/* Tab: completes the word before the cursor with the nicks of the
 * channel; pressing Tab again replaces it with the next match. At the
 * start of the line the nick is addressed ("nick: "). */
static void
complete_nick (TdChatView *self)
{
  TdChatBuffer *buffer = td_chat_view_get_selected (self);
  GtkTextBuffer *text = gtk_text_view_get_buffer (self->composer);
  GtkTextIter cursor, start;
  g_autoptr(GPtrArray) matches = g_ptr_array_new ();
  g_autofree char *replacement = NULL;
  GListModel *members;
  const char *choice;

  if (buffer == NULL)
    return;
  gtk_text_buffer_get_iter_at_mark (text, &cursor, gtk_text_buffer_get_insert (text));
  if (self->completion_prefix == NULL)
    {
      start = cursor;
      while (!gtk_text_iter_starts_line (&start))
        {
          GtkTextIter prev = start;

          gtk_text_iter_backward_char (&prev);
          if (g_unichar_isspace (gtk_text_iter_get_char (&prev)))
            break;
          start = prev;
        }
      self->completion_prefix = gtk_text_buffer_get_text (text, &start, &cursor, FALSE);
      self->completion_index = 0;
      self->completion_start = gtk_text_iter_get_offset (&start);
      self->completion_line_start = gtk_text_iter_starts_line (&start);
    }
  else
    gtk_text_buffer_get_iter_at_offset (text, &start, self->completion_start);

  members = td_chat_buffer_get_members (buffer);
  for (guint i = 0; i < g_list_model_get_n_items (members); i++)
    {
      g_autoptr(TdChatMember) member = g_list_model_get_item (members, i);
      const char *nick = td_chat_member_get_nick (member);

      if (g_ascii_strncasecmp (nick, self->completion_prefix, strlen (self->completion_prefix)) == 0)
        g_ptr_array_add (matches, (gpointer) nick);
    }
  if (td_chat_buffer_get_kind (buffer) == TD_CHAT_BUFFER_QUERY &&
      g_ascii_strncasecmp (td_chat_buffer_get_name (buffer), self->completion_prefix,
                           strlen (self->completion_prefix)) == 0)
    g_ptr_array_add (matches, (gpointer) td_chat_buffer_get_name (buffer));
  if (matches->len == 0 || *self->completion_prefix == '\0')
    {
      g_clear_pointer (&self->completion_prefix, g_free);
      gtk_widget_error_bell (GTK_WIDGET (self->composer));
      return;
    }
  choice = g_ptr_array_index (matches, self->completion_index % matches->len);
  self->completion_index++;
  replacement = g_strconcat (choice, self->completion_line_start ? ": " : " ", NULL);

  gtk_text_buffer_begin_user_action (text);
  gtk_text_buffer_delete (text, &start, &cursor);
  gtk_text_buffer_insert (text, &start, replacement, -1);
  gtk_text_buffer_end_user_action (text);
}

static void
history_previous_action (GtkWidget  *widget,
                         const char *action_name,
                         GVariant   *parameter)
{
  TdChatView *self = TD_CHAT_VIEW (widget);

  if (self->input_pos == 0)
    return;
  self->input_pos--;
  composer_set_text (self, g_ptr_array_index (self->input_history, self->input_pos));
}

static void
history_next_action (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *parameter)
{
  TdChatView *self = TD_CHAT_VIEW (widget);

  if (self->input_pos >= self->input_history->len)
    return;
  self->input_pos++;
  composer_set_text (self, self->input_pos < self->input_history->len ?
                           g_ptr_array_index (self->input_history, self->input_pos) : "");
}

static void
complete_action (GtkWidget  *widget,
                 const char *action_name,
                 GVariant   *parameter)
{
  complete_nick (TD_CHAT_VIEW (widget));
}

static gboolean
composer_key_cb (GtkEventControllerKey *controller,
                 guint                  keyval,
                 guint                  keycode,
                 GdkModifierType        state,
                 TdChatView            *self)
{
  GtkTextBuffer *text = gtk_text_view_get_buffer (self->composer);
  GtkTextIter cursor;

  if (keyval != GDK_KEY_Tab && keyval != GDK_KEY_ISO_Left_Tab)
    g_clear_pointer (&self->completion_prefix, g_free);

  gtk_text_buffer_get_iter_at_mark (text, &cursor, gtk_text_buffer_get_insert (text));
  switch (keyval)
    {
    case GDK_KEY_Return:
    case GDK_KEY_KP_Enter:
      if (state & GDK_SHIFT_MASK)
        return FALSE;
      gtk_widget_activate_action (GTK_WIDGET (self), "chat.send", NULL);
      return TRUE;

    case GDK_KEY_Tab:
      if (state & (GDK_CONTROL_MASK | GDK_ALT_MASK))
        return FALSE;
      {
        g_autofree char *before = NULL;
        GtkTextIter start;

        gtk_text_buffer_get_start_iter (text, &start);
        before = gtk_text_buffer_get_text (text, &start, &cursor, FALSE);
        if (*before == '\0')
          return FALSE;   /* Tab out of an empty composer moves focus */
      }
      complete_nick (self);
      return TRUE;

    case GDK_KEY_Up:
      if (gtk_text_iter_get_line (&cursor) != 0 || self->input_pos == 0)
        return FALSE;
      gtk_widget_activate_action (GTK_WIDGET (self), "chat.history-previous", NULL);
      return TRUE;

    case GDK_KEY_Down:
      if (gtk_text_iter_get_line (&cursor) != gtk_text_buffer_get_line_count (text) - 1 ||
          self->input_pos >= self->input_history->len)
        return FALSE;
      gtk_widget_activate_action (GTK_WIDGET (self), "chat.history-next", NULL);
      return TRUE;

    default:
      return FALSE;
    }
}

/* ------------------------------------------------------------------ */
/* Files: attaching, uploading, saving                                 */
/* ------------------------------------------------------------------ */

static void
attachment_free (Attachment *attachment)
{
  if (attachment == NULL)
    return;
  g_cancellable_cancel (attachment->cancellable);
  g_clear_object (&attachment->cancellable);
  g_free (attachment->path);
  g_clear_pointer (&attachment->bytes, g_bytes_unref);
  g_free (attachment->name);
  g_clear_object (&attachment->buffer);
  g_free (attachment);
}

/* Why files cannot be sent to @buffer now, or NULL when they can. */
static const char *
attach_unavailable_reason (TdChatView   *self,
                           TdChatBuffer *buffer)
{
  ChatNetwork *net = network_of (self, buffer);
  TdChatBufferKind kind = buffer ? td_chat_buffer_get_kind (buffer) : TD_CHAT_BUFFER_SEARCH;

  if (net == NULL || (kind != TD_CHAT_BUFFER_CHANNEL && kind != TD_CHAT_BUFFER_QUERY))
    return _("Files go to a channel or a conversation");
  if (net->client == NULL || net->state != TD_IRC_STATE_CONNECTED)
    return _("Not connected");
  if (net->filehost == NULL)
    return _("This server does not host files");
  if (kind == TD_CHAT_BUFFER_CHANNEL && !td_chat_buffer_get_joined (buffer))
    return _("You are not in this channel");
  if (net->local && (net->local_account == NULL || !net->logged_in))
    return _("Setting up your account on the local server…");
  return NULL;
}

/* The attach button, drop target and the preview's Send follow what the
 * selected buffer's network offers. */
static void
update_attach (TdChatView *self)
{
  const char *reason;
  Attachment *attachment = self->attachment;

  if (self->attach_button == NULL || self->networks == NULL)
    return;
  reason = attach_unavailable_reason (self, td_chat_view_get_selected (self));
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "chat.attach", reason == NULL);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->attach_button), reason ? reason : _("Attach a File…"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->attach_button), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION,
                                  reason ? reason : "", -1);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "chat.attach-send",
                                 attachment != NULL && attachment->ready && attachment->upload_id == 0 &&
                                 attach_unavailable_reason (self, attachment->buffer) == NULL);
}

static void
attach_close (TdChatView *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  GtkWidget *focus = root ? gtk_root_get_focus (root) : NULL;

  /* Typing goes on in the composer, not in a caption that hides. */
  if (focus != NULL && gtk_widget_is_ancestor (focus, GTK_WIDGET (self->attach_revealer)))
    gtk_widget_grab_focus (GTK_WIDGET (self->composer));
  g_clear_pointer (&self->attachment, attachment_free);
  gtk_revealer_set_reveal_child (self->attach_revealer, FALSE);
  gtk_picture_set_paintable (self->attach_picture, NULL);
  gtk_editable_set_text (GTK_EDITABLE (self->caption_entry), "");
  gtk_widget_set_visible (GTK_WIDGET (self->upload_progress), FALSE);
  update_attach (self);
}

/* Opens the preview for a file (@path) or bytes (a pasted image, with
 * @texture to show) bound for the selected buffer. */
static gboolean
attach_open (TdChatView  *self,
             const char  *path,
             GBytes      *bytes,
             const char  *name,
             GdkTexture  *texture,
             GError     **error)
{
  TdChatBuffer *buffer = td_chat_view_get_selected (self);
  const char *reason = attach_unavailable_reason (self, buffer);
  Attachment *attachment;

  if (reason != NULL)
    {
      g_set_error_literal (error, TD_CHAT_VIEW_ERROR, TD_CHAT_VIEW_ERROR_NOT_CONNECTED, reason);
      return FALSE;
    }
  g_clear_pointer (&self->attachment, attachment_free);
  attachment = self->attachment = g_new0 (Attachment, 1);
  attachment->path = g_strdup (path);
  attachment->bytes = bytes ? g_bytes_ref (bytes) : NULL;
  attachment->name = name ? g_strdup (name) : g_path_get_basename (path);
  attachment->size = bytes ? (gint64) g_bytes_get_size (bytes) : -1;
  attachment->buffer = g_object_ref (buffer);
  attachment->cancellable = g_cancellable_new ();

  gtk_label_set_label (self->attach_name, attachment->name);
  gtk_widget_set_visible (GTK_WIDGET (self->upload_progress), FALSE);
  gtk_editable_set_editable (GTK_EDITABLE (self->caption_entry), TRUE);
  gtk_image_set_from_icon_name (self->attach_icon, "text-x-generic-symbolic");
  gtk_picture_set_paintable (self->attach_picture, texture ? GDK_PAINTABLE (texture) : NULL);
  gtk_stack_set_visible_child_name (self->attach_thumb_stack, texture ? "picture" : "icon");
  if (bytes != NULL)
    {
      g_autofree char *size = g_format_size (attachment->size);
      g_autofree char *detail = g_strdup_printf (_("%s · to %s"), size, td_chat_buffer_get_name (buffer));

      gtk_label_set_label (self->attach_detail, detail);
      attachment->ready = TRUE;
    }
  else
    {
      gtk_label_set_label (self->attach_detail, _("Reading…"));
      attachment->preview_id = td_chat_files_load_preview (self->files, path, attachment->cancellable);
    }
  gtk_revealer_set_reveal_child (self->attach_revealer, TRUE);
  gtk_widget_grab_focus (GTK_WIDGET (self->caption_entry));
  update_attach (self);
  return TRUE;
}

static void
preview_loaded_cb (TdChatFiles  *files,
                   guint64       id,
                   GdkTexture   *texture,
                   gint64        size,
                   const char   *content_type,
                   const GError *error,
                   TdChatView   *self)
{
  Attachment *attachment = self->attachment;

  if (attachment == NULL || attachment->preview_id != id)
    return;
  attachment->preview_id = 0;
  if (error != NULL)
    {
      gtk_label_set_label (self->attach_detail, error->message);
      gtk_widget_add_css_class (GTK_WIDGET (self->attach_detail), "error");
      update_attach (self);
      return;
    }
  gtk_widget_remove_css_class (GTK_WIDGET (self->attach_detail), "error");
  attachment->size = size;
  attachment->ready = TRUE;
  {
    g_autofree char *formatted = g_format_size (size);
    g_autofree char *description = content_type ? g_content_type_get_description (content_type) : NULL;
    g_autofree char *detail = g_strdup_printf (_("%s · %s · to %s"), formatted, description ? description : _("File"),
                                               td_chat_buffer_get_name (attachment->buffer));
    g_autoptr(GIcon) icon = content_type ? g_content_type_get_symbolic_icon (content_type) : NULL;

    gtk_label_set_label (self->attach_detail, detail);
    if (icon != NULL)
      gtk_image_set_from_gicon (self->attach_icon, icon);
  }
  if (texture != NULL)
    {
      gtk_picture_set_paintable (self->attach_picture, GDK_PAINTABLE (texture));
      gtk_stack_set_visible_child_name (self->attach_thumb_stack, "picture");
    }
  update_attach (self);
}

static void
upload_progress_cb (TdChatFiles *files,
                    guint64      id,
                    gint64       done,
                    gint64       total,
                    TdChatView  *self)
{
  if (self->attachment == NULL || self->attachment->upload_id != id)
    return;
  if (total > 0)
    gtk_progress_bar_set_fraction (self->upload_progress, CLAMP ((double) done / total, 0.0, 1.0));
  else
    gtk_progress_bar_pulse (self->upload_progress);
}

static void
upload_finished_cb (TdChatFiles        *files,
                    guint64             id,
                    TdFileUploadResult *result,
                    const GError       *error,
                    TdChatView         *self)
{
  Attachment *attachment = self->attachment;
  g_autofree char *caption = NULL;
  g_autofree char *text = NULL;
  ChatNetwork *net;

  if (attachment == NULL || attachment->upload_id != id)
    return;
  attachment->upload_id = 0;
  if (error != NULL)
    {
      g_autofree char *message = NULL;

      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          attach_close (self);
          return;
        }
      message = g_strdup_printf (_("Could not send %s: %s"), attachment->name, error->message);
      gtk_label_set_label (self->attach_detail, message);
      gtk_widget_add_css_class (GTK_WIDGET (self->attach_detail), "error");
      gtk_widget_set_visible (GTK_WIDGET (self->upload_progress), FALSE);
      gtk_editable_set_editable (GTK_EDITABLE (self->caption_entry), TRUE);
      update_attach (self);
      return;
    }

  /* One line: the link first, so that every client links it. */
  caption = g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->caption_entry)));
  g_strdelimit (caption, "\r\n\t", ' ');
  g_strstrip (caption);
  text = *caption ? g_strconcat (result->url, " ", caption, NULL) : g_strdup (result->url);
  net = network_of (self, attachment->buffer);
  if (net != NULL && net->client != NULL && net->state == TD_IRC_STATE_CONNECTED)
    td_irc_client_privmsg (net->client, td_chat_buffer_get_name (attachment->buffer), text);
  else
    show_local (self, attachment->buffer, TD_CHAT_LINE_ERROR, _("Uploaded, but not connected: the link was not sent."));
  attach_close (self);
}

static void
attach_send_action (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *parameter)
{
  TdChatView *self = TD_CHAT_VIEW (widget);
  Attachment *attachment = self->attachment;
  ChatNetwork *net;

  if (attachment == NULL || !attachment->ready || attachment->upload_id != 0 ||
      attach_unavailable_reason (self, attachment->buffer) != NULL)
    return;
  net = network_of (self, attachment->buffer);
  gtk_widget_remove_css_class (GTK_WIDGET (self->attach_detail), "error");
  gtk_progress_bar_set_fraction (self->upload_progress, 0);
  gtk_widget_set_visible (GTK_WIDGET (self->upload_progress), TRUE);
  gtk_editable_set_editable (GTK_EDITABLE (self->caption_entry), FALSE);
  attachment->upload_id = td_chat_files_upload (self->files, net->filehost,
                                                net->local ? net->local_account : net->sasl_account,
                                                net->local ? net->local_password : net->sasl_password,
                                                attachment->path, attachment->bytes, attachment->name,
                                                attachment->cancellable);
  update_attach (self);
}

/* Cancel: stops an upload in progress (the preview closes once it has
 * stopped), or closes the preview. */
static void
attach_cancel_action (GtkWidget  *widget,
                      const char *action_name,
                      GVariant   *parameter)
{
  TdChatView *self = TD_CHAT_VIEW (widget);

  if (self->attachment != NULL && self->attachment->upload_id != 0)
    g_cancellable_cancel (self->attachment->cancellable);
  else
    attach_close (self);
}

static void
caption_activate_cb (TdChatView *self)
{
  gtk_widget_activate_action (GTK_WIDGET (self), "chat.attach-send", NULL);
}

static void
attach_chooser_response_cb (GtkNativeDialog *chooser,
                            int              response,
                            TdChatView      *self)
{
  g_autoptr(GFile) file = NULL;

  if (response == GTK_RESPONSE_ACCEPT)
    file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
  if (file != NULL)
    {
      g_autoptr(GError) error = NULL;

      if (!td_chat_view_attach_file (self, file, &error))
        show_local (self, td_chat_view_get_selected (self), TD_CHAT_LINE_ERROR, error->message);
    }
  gtk_native_dialog_destroy (chooser);
  g_object_unref (chooser);
}

static void
attach_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  TdChatView *self = TD_CHAT_VIEW (widget);
  GtkRoot *root = gtk_widget_get_root (widget);
  GtkFileChooserNative *chooser;

  chooser = gtk_file_chooser_native_new (_("Attach a File"), GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                         GTK_FILE_CHOOSER_ACTION_OPEN, _("_Attach"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  g_signal_connect_object (chooser, "response", G_CALLBACK (attach_chooser_response_cb), self, 0);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

/* Drag and drop: the first local file dropped on the conversation. */
static gboolean
drop_cb (GtkDropTarget *target,
         const GValue  *value,
         double         x,
         double         y,
         TdChatView    *self)
{
  GSList *files = G_VALUE_HOLDS (value, GDK_TYPE_FILE_LIST) ? g_value_get_boxed (value) : NULL;
  g_autoptr(GError) error = NULL;

  if (files == NULL)
    return FALSE;
  if (!td_chat_view_attach_file (self, files->data, &error))
    {
      show_local (self, td_chat_view_get_selected (self), TD_CHAT_LINE_ERROR, error->message);
      return FALSE;
    }
  return TRUE;
}

static GdkDragAction
drop_enter_cb (GtkDropTarget *target,
               double         x,
               double         y,
               TdChatView    *self)
{
  return attach_unavailable_reason (self, td_chat_view_get_selected (self)) == NULL ? GDK_ACTION_COPY : 0;
}

static void
png_encoded_cb (TdChatFiles  *files,
                guint64       id,
                GBytes       *png,
                GdkTexture   *texture,
                const GError *error,
                TdChatView   *self)
{
  g_autoptr(GError) attach_error = NULL;
  g_autoptr(GDateTime) now = NULL;
  g_autofree char *name = NULL;

  if (id != self->paste_id)
    return;
  self->paste_id = 0;
  if (png == NULL)
    {
      show_local (self, td_chat_view_get_selected (self), TD_CHAT_LINE_ERROR,
                  error ? error->message : _("The pasted image could not be read"));
      return;
    }
  now = g_date_time_new_now_local ();
  name = g_date_time_format (now, "pasted-image-%Y%m%d-%H%M%S.png");
  if (!attach_open (self, NULL, png, name, texture, &attach_error))
    show_local (self, td_chat_view_get_selected (self), TD_CHAT_LINE_ERROR, attach_error->message);
}

static void
paste_texture_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(TdChatView) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkTexture) texture = gdk_clipboard_read_texture_finish (GDK_CLIPBOARD (object), result, &error);

  if (texture == NULL || self->files == NULL)
    {
      if (error != NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && self->files != NULL)
        show_local (self, td_chat_view_get_selected (self), TD_CHAT_LINE_ERROR, error->message);
      return;
    }
  self->paste_id = td_chat_files_encode_png (self->files, texture, self->cancellable);
  if (self->paste_id == 0)
    {
      show_local (self, td_chat_view_get_selected (self), TD_CHAT_LINE_ERROR, _("The pasted image is too large"));
      return;
    }
}

static void
paste_files_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  g_autoptr(TdChatView) self = user_data;
  g_autoptr(GError) error = NULL;
  const GValue *value = gdk_clipboard_read_value_finish (GDK_CLIPBOARD (object), result, &error);
  GSList *files;

  if (value == NULL || self->files == NULL)
    return;
  files = g_value_get_boxed (value);
  if (files != NULL && !td_chat_view_attach_file (self, files->data, &error))
    show_local (self, td_chat_view_get_selected (self), TD_CHAT_LINE_ERROR, error->message);
}

/* Paste into the composer: an image or files on the clipboard become an
 * attachment; text is pasted as usual. */
static void
composer_paste_cb (GtkTextView *composer,
                   TdChatView  *self)
{
  GdkClipboard *clipboard = gtk_widget_get_clipboard (GTK_WIDGET (composer));
  GdkContentFormats *formats = gdk_clipboard_get_formats (clipboard);

  if (gdk_content_formats_contain_gtype (formats, G_TYPE_STRING) &&
      !gdk_content_formats_contain_gtype (formats, GDK_TYPE_FILE_LIST))
    return;
  if (gdk_content_formats_contain_gtype (formats, GDK_TYPE_TEXTURE))
    {
      g_signal_stop_emission_by_name (composer, "paste-clipboard");
      gdk_clipboard_read_texture_async (clipboard, self->cancellable, paste_texture_cb, g_object_ref (self));
    }
  else if (gdk_content_formats_contain_gtype (formats, GDK_TYPE_FILE_LIST))
    {
      g_signal_stop_emission_by_name (composer, "paste-clipboard");
      gdk_clipboard_read_value_async (clipboard, GDK_TYPE_FILE_LIST, G_PRIORITY_DEFAULT, self->cancellable,
                                      paste_files_cb, g_object_ref (self));
    }
}

static void
download_finished_cb (TdChatFiles  *files,
                      guint64       id,
                      const char   *path,
                      const GError *error,
                      TdChatView   *self)
{
  TdChatBuffer *buffer = td_chat_view_get_selected (self);
  g_autofree char *text = NULL;

  if (buffer == NULL || (error != NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)))
    return;
  if (error != NULL)
    text = g_strdup_printf (_("Could not save %s: %s"), path, error->message);
  else
    text = g_strdup_printf (_("Saved %s"), path);
  show_local (self, buffer, error ? TD_CHAT_LINE_ERROR : TD_CHAT_LINE_INFO, text);
}

static void
save_chooser_response_cb (GtkNativeDialog *chooser,
                          int              response,
                          TdChatView      *self)
{
  const char *url = g_object_get_data (G_OBJECT (chooser), "td-url");
  g_autoptr(GFile) file = NULL;

  if (response == GTK_RESPONSE_ACCEPT)
    file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
  if (file != NULL && g_file_peek_path (file) != NULL && self->files != NULL)
    td_chat_files_download (self->files, url, g_file_peek_path (file), self->cancellable);
  gtk_native_dialog_destroy (chooser);
  g_object_unref (chooser);
}

/* A file card's Save button. */
static void
save_requested_cb (TdChatPreview *preview,
                   const char    *url,
                   TdChatView    *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  g_autofree char *name = td_file_url_get_name (url);
  GtkFileChooserNative *chooser;

  chooser = gtk_file_chooser_native_new (_("Save a Copy"), GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                         GTK_FILE_CHOOSER_ACTION_SAVE, _("_Save"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  if (name != NULL)
    gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (chooser), name);
  g_object_set_data_full (G_OBJECT (chooser), "td-url", g_strdup (url), g_free);
  g_signal_connect_object (chooser, "response", G_CALLBACK (save_chooser_response_cb), self, 0);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
previews_setting_cb (GSettings  *settings,
                     const char *key,
                     TdChatView *self)
{
  td_chat_files_set_allow_unknown (self->files, g_settings_get_boolean (settings, key));
}

/* ------------------------------------------------------------------ */
/* Rows                                                                */
/* ------------------------------------------------------------------ */

static gboolean
activate_link_cb (TdRowText *text,
                  const char *uri,
                  TdChatView *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));

  /* Only web links: a line cannot open a file or run a handler. */
  if (g_ascii_strncasecmp (uri, "http://", 7) == 0 || g_ascii_strncasecmp (uri, "https://", 8) == 0)
    gtk_show_uri (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL, uri, GDK_CURRENT_TIME);
  return TRUE;
}

static void
hover_data_free (HoverData *data)
{
  g_free (data->nick);
  g_object_unref (data->widget);
  g_free (data);
}

static void
nick_enter_cb (GtkEventControllerMotion *motion,
               double                    x,
               double                    y,
               TdChatView               *self)
{
  GtkWidget *label = gtk_event_controller_get_widget (GTK_EVENT_CONTROLLER (motion));
  const char *nick = g_object_get_data (G_OBJECT (label), "td-nick");
  HoverData *data;

  if (nick == NULL || *nick == '\0')
    return;
  data = g_new0 (HoverData, 1);
  data->nick = g_strdup (nick);
  data->widget = g_object_ref (label);
  td_hover_timer_enter (self->hover, data, (GDestroyNotify) hover_data_free);
}

static void
nick_leave_cb (GtkEventControllerMotion *motion,
               TdChatView               *self)
{
  td_hover_timer_leave (self->hover);
}

/* The line's full date and time, for the tooltip of its time. */
static gboolean
time_query_tooltip_cb (GtkWidget   *widget,
                       int          x,
                       int          y,
                       gboolean     keyboard,
                       GtkTooltip  *tooltip,
                       GtkListItem *item)
{
  TdChatLine *line = gtk_list_item_get_item (item);
  g_autoptr(GDateTime) dt = line ? td_local_time_new (td_chat_line_get_time (line)) : NULL;
  g_autofree char *full = dt ? g_date_time_format (dt, "%c") : NULL;

  if (full == NULL)
    return FALSE;
  gtk_tooltip_set_text (tooltip, full);
  return TRUE;
}

/* The preview under a line's text: an image or a file from a file host.
 * Made only for rows that show a link: it is a template of its own, and
 * most lines have none. */
static GtkWidget *
line_preview_new (TdChatView *self)
{
  GtkWidget *preview = td_chat_preview_new (self->files);

  gtk_widget_set_margin_top (preview, 4);
  gtk_widget_set_margin_bottom (preview, 4);
  g_signal_connect_object (preview, "save-requested", G_CALLBACK (save_requested_cb), self, 0);
  return preview;
}

static void
message_setup_cb (GtkSignalListItemFactory *factory,
                  GtkListItem              *item,
                  TdChatView               *self)
{
  /* Time, nick and text share a baseline, and a preview goes under the
   * text (see line_preview_new). */
  GtkWidget *box;
  GtkWidget *time = td_row_text_new ();
  GtkWidget *nick = td_row_text_new ();
  GtkWidget *text = td_row_text_new ();
  GtkEventController *motion = gtk_event_controller_motion_new ();

  td_row_text_set_fixed (TD_ROW_TEXT (time), TD_CHAT_VIEW_TIME_CHARS, 1, PANGO_ELLIPSIZE_END, 1);
  gtk_widget_add_css_class (time, "chat-time");
  gtk_widget_add_css_class (time, "dim-label");
  /* The full date is made when the tooltip is asked for: setting a
   * tooltip text on every bind costs GTK 4.8 a round trip to the X
   * server for the pointer position, for each of up to 200 rows. */
  gtk_widget_set_has_tooltip (time, TRUE);
  g_signal_connect (time, "query-tooltip", G_CALLBACK (time_query_tooltip_cb), item);

  td_row_text_set_fixed (TD_ROW_TEXT (nick), TD_CHAT_VIEW_NICK_CHARS, 1, PANGO_ELLIPSIZE_END, 1);
  gtk_widget_add_css_class (nick, "chat-nick");
  g_signal_connect (motion, "enter", G_CALLBACK (nick_enter_cb), self);
  g_signal_connect (motion, "leave", G_CALLBACK (nick_leave_cb), self);
  gtk_widget_add_controller (nick, motion);

  gtk_widget_add_css_class (text, "chat-text");
  g_signal_connect (text, "activate-link", G_CALLBACK (activate_link_cb), self);

  box = td_chat_row_new (time, nick, text);
  gtk_list_item_set_child (item, box);
  gtk_list_item_set_activatable (item, FALSE);
  gtk_list_item_set_selectable (item, FALSE);
}

/* Attributes that show the first @len bytes in @nick's colour. */
static PangoAttrList *
nick_color_attrs (const char *nick,
                  gboolean    dark,
                  guint       len)
{
  g_autofree char *hex = td_nick_color_hex (nick ? nick : "", dark);
  PangoAttrList *attrs = pango_attr_list_new ();
  PangoColor color;

  if (pango_color_parse (&color, hex))
    {
      PangoAttribute *attr = pango_attr_foreground_new (color.red, color.green, color.blue);

      attr->start_index = 0;
      attr->end_index = len;
      pango_attr_list_insert (attrs, attr);
    }
  return attrs;
}

static void
message_bind_cb (GtkSignalListItemFactory *factory,
                 GtkListItem              *item,
                 TdChatView               *self)
{
  TdChatLine *line = gtk_list_item_get_item (item);
  GtkWidget *box = gtk_list_item_get_child (item);
  GtkWidget *time = gtk_widget_get_first_child (box);
  GtkWidget *nick = gtk_widget_get_next_sibling (time);
  GtkWidget *text = gtk_widget_get_next_sibling (nick);
  GtkWidget *preview = gtk_widget_get_next_sibling (text);   /* NULL until a line had a link */
  const char *talk = td_chat_line_is_talk (line) ? td_chat_line_get_text (line) : NULL;
  TdChatBuffer *buffer = td_chat_view_get_selected (self);
  guint flags = td_chat_line_get_flags (line);
  const char *who = td_chat_line_get_nick (line);
  g_autoptr(GDateTime) dt = td_local_time_new (td_chat_line_get_time (line));
  g_autofree char *clock = dt ? g_date_time_format (dt, "%H:%M") : g_strdup ("");
  g_autoptr(GArray) links = NULL;
  g_autofree char *plain = td_chat_text_to_plain (td_chat_line_get_text (line), &links);
  g_autoptr(PangoAttrList) attrs = NULL;
  g_autoptr(PangoAttrList) nick_attrs = NULL;
  g_autofree char *nick_text = NULL;
  gboolean dark = adw_style_manager_get_dark (adw_style_manager_get_default ());
  const char *row_class = "talk";

  switch (td_chat_line_get_kind (line))
    {
    case TD_CHAT_LINE_MESSAGE:
      if (!(flags & TD_CHAT_LINE_GROUPED) && who != NULL)
        {
          nick_text = g_strdup (who);
          nick_attrs = nick_color_attrs (who, dark, strlen (who));
        }
      break;
    case TD_CHAT_LINE_ACTION:
      {
        /* "nick does something", in italics, the nick in its colour */
        g_autofree char *action = g_strdup_printf ("%s %s", who ? who : "", plain);
        guint shift = strlen (action) - strlen (plain);

        attrs = nick_color_attrs (who, dark, shift - 1);
        pango_attr_list_insert (attrs, pango_attr_style_new (PANGO_STYLE_ITALIC));
        for (guint i = 0; links != NULL && i < links->len; i++)
          {
            g_array_index (links, TdChatLink, i).start += shift;
            g_array_index (links, TdChatLink, i).end += shift;
          }
        g_free (plain);
        plain = g_steal_pointer (&action);
        nick_text = g_strdup ("•");
      }
      break;
    case TD_CHAT_LINE_NOTICE:
      nick_text = g_strdup_printf ("-%s-", who ? who : "");
      row_class = "notice";
      break;
    case TD_CHAT_LINE_JOIN:
      nick_text = g_strdup ("→");
      row_class = "event";
      break;
    case TD_CHAT_LINE_PART:
    case TD_CHAT_LINE_QUIT:
    case TD_CHAT_LINE_KICK:
      nick_text = g_strdup ("←");
      row_class = "event";
      break;
    case TD_CHAT_LINE_NICK:
    case TD_CHAT_LINE_MODE:
    case TD_CHAT_LINE_TOPIC:
      nick_text = g_strdup ("•");
      row_class = "event";
      break;
    case TD_CHAT_LINE_NUMERIC:
      nick_text = g_strdup (who);
      row_class = "numeric";
      break;
    case TD_CHAT_LINE_ERROR:
      nick_text = g_strdup (who ? who : "!");
      row_class = "error";
      break;
    case TD_CHAT_LINE_INFO:
    default:
      nick_text = g_strdup (who ? who : "*");
      row_class = "info";
      break;
    }

  td_chat_row_set_classes (TD_CHAT_ROW (box), (const char *[]) {
                             "chat-line", row_class,
                             (flags & TD_CHAT_LINE_MENTION) ? "mention" : "plain",
                             (flags & TD_CHAT_LINE_GROUPED) ? "grouped" : "grouped-start",
                             NULL });
  td_row_text_set (TD_ROW_TEXT (time), (flags & TD_CHAT_LINE_GROUPED) ? "" : clock, NULL, td_row_text_tabular_digits ());
  td_row_text_set (TD_ROW_TEXT (nick), nick_text, NULL, nick_attrs);
  g_object_set_data_full (G_OBJECT (nick), "td-nick",
                          td_chat_line_is_talk (line) ? g_strdup (who) : NULL, g_free);
  td_row_text_set (TD_ROW_TEXT (text), plain, links, attrs);
  /* A row gets its preview the first time it shows a line with a link
   * (only those can have one), and keeps it for the lines after. */
  if (preview == NULL && talk != NULL && links != NULL)
    {
      preview = line_preview_new (self);
      td_chat_row_set_preview (TD_CHAT_ROW (box), preview);
    }
  /* Lines of the search buffer belong to no one network: only the
   * previews allowed for any host. */
  if (preview != NULL)
    td_chat_preview_bind (TD_CHAT_PREVIEW (preview),
                          buffer && td_chat_buffer_get_kind (buffer) != TD_CHAT_BUFFER_SEARCH ?
                          td_chat_buffer_get_network (buffer) : NULL,
                          talk);
}

static void
sidebar_setup_cb (GtkSignalListItemFactory *factory,
                  GtkListItem              *item,
                  TdChatView               *self)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *texts = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  GtkWidget *name = gtk_label_new (NULL);
  GtkWidget *status = gtk_label_new (NULL);
  GtkWidget *mentions = gtk_label_new (NULL);
  GtkWidget *unread = gtk_label_new (NULL);

  gtk_label_set_xalign (GTK_LABEL (name), 0);
  gtk_label_set_ellipsize (GTK_LABEL (name), PANGO_ELLIPSIZE_END);
  gtk_label_set_xalign (GTK_LABEL (status), 0);
  gtk_label_set_ellipsize (GTK_LABEL (status), PANGO_ELLIPSIZE_END);
  gtk_widget_add_css_class (status, "chat-sidebar-status");
  gtk_widget_add_css_class (status, "dim-label");
  gtk_widget_set_hexpand (texts, TRUE);
  gtk_widget_set_valign (texts, GTK_ALIGN_CENTER);
  gtk_box_append (GTK_BOX (texts), name);
  gtk_box_append (GTK_BOX (texts), status);
  gtk_widget_add_css_class (mentions, "chat-badge");
  gtk_widget_add_css_class (mentions, "mention");
  gtk_widget_add_css_class (unread, "chat-badge");
  gtk_widget_set_valign (mentions, GTK_ALIGN_CENTER);
  gtk_widget_set_valign (unread, GTK_ALIGN_CENTER);
  gtk_box_append (GTK_BOX (box), texts);
  gtk_box_append (GTK_BOX (box), mentions);
  gtk_box_append (GTK_BOX (box), unread);
  gtk_list_item_set_child (item, box);
}

static void
sidebar_row_update (GtkListItem *item)
{
  TdChatBuffer *buffer = gtk_list_item_get_item (item);
  GtkWidget *box = gtk_list_item_get_child (item);
  GtkWidget *texts, *name, *status, *mentions, *unread;
  TdChatBufferKind kind;
  g_autofree char *mention_text = NULL;
  g_autofree char *unread_text = NULL;
  g_autofree char *accessible = NULL;

  if (buffer == NULL || box == NULL)
    return;
  texts = gtk_widget_get_first_child (box);
  name = gtk_widget_get_first_child (texts);
  status = gtk_widget_get_next_sibling (name);
  mentions = gtk_widget_get_next_sibling (texts);
  unread = gtk_widget_get_next_sibling (mentions);
  kind = td_chat_buffer_get_kind (buffer);

  gtk_label_set_label (GTK_LABEL (name), td_chat_buffer_get_name (buffer));
  gtk_widget_set_margin_start (texts, kind == TD_CHAT_BUFFER_SERVER || kind == TD_CHAT_BUFFER_SEARCH ? 0 : 12);
  if (kind == TD_CHAT_BUFFER_SERVER)
    gtk_widget_add_css_class (name, "chat-sidebar-network");
  else
    gtk_widget_remove_css_class (name, "chat-sidebar-network");
  if (kind == TD_CHAT_BUFFER_CHANNEL && !td_chat_buffer_get_joined (buffer))
    gtk_widget_add_css_class (name, "chat-sidebar-parted");
  else
    gtk_widget_remove_css_class (name, "chat-sidebar-parted");
  gtk_label_set_label (GTK_LABEL (status), td_chat_buffer_get_status (buffer));
  gtk_widget_set_visible (status, kind == TD_CHAT_BUFFER_SERVER && td_chat_buffer_get_status (buffer) != NULL);

  mention_text = g_strdup_printf ("%u", td_chat_buffer_get_mentions (buffer));
  unread_text = g_strdup_printf ("%u", td_chat_buffer_get_unread (buffer));
  gtk_label_set_label (GTK_LABEL (mentions), mention_text);
  gtk_label_set_label (GTK_LABEL (unread), unread_text);
  gtk_widget_set_visible (mentions, td_chat_buffer_get_mentions (buffer) > 0);
  gtk_widget_set_visible (unread, td_chat_buffer_get_unread (buffer) > 0 && td_chat_buffer_get_mentions (buffer) == 0);
  td_lazy_tooltip_set (mentions, g_dngettext (GETTEXT_PACKAGE, "Mention", "Mentions",
                                                      td_chat_buffer_get_mentions (buffer)));
  td_lazy_tooltip_set (unread, g_dngettext (GETTEXT_PACKAGE, "Unread message", "Unread messages",
                                                    td_chat_buffer_get_unread (buffer)));
  accessible = g_strdup_printf (_("%s, %u unread, %u mentions"), td_chat_buffer_get_name (buffer),
                                td_chat_buffer_get_unread (buffer), td_chat_buffer_get_mentions (buffer));
  gtk_accessible_update_property (GTK_ACCESSIBLE (box), GTK_ACCESSIBLE_PROPERTY_LABEL, accessible, -1);
}

static void
sidebar_notify_cb (TdChatBuffer *buffer,
                   GParamSpec   *pspec,
                   GtkListItem  *item)
{
  sidebar_row_update (item);
}

static void
sidebar_bind_cb (GtkSignalListItemFactory *factory,
                 GtkListItem              *item,
                 TdChatView               *self)
{
  TdChatBuffer *buffer = gtk_list_item_get_item (item);

  g_signal_connect_object (buffer, "notify", G_CALLBACK (sidebar_notify_cb), item, 0);
  sidebar_row_update (item);
}

static void
sidebar_unbind_cb (GtkSignalListItemFactory *factory,
                   GtkListItem              *item,
                   TdChatView               *self)
{
  TdChatBuffer *buffer = gtk_list_item_get_item (item);

  if (buffer != NULL)
    g_signal_handlers_disconnect_by_func (buffer, sidebar_notify_cb, item);
}

static void
member_setup_cb (GtkSignalListItemFactory *factory,
                 GtkListItem              *item,
                 TdChatView               *self)
{
  GtkWidget *label = gtk_label_new (NULL);

  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
  gtk_widget_add_css_class (label, "chat-member");
  gtk_list_item_set_child (item, label);
}

static void
member_bind_cb (GtkSignalListItemFactory *factory,
                GtkListItem              *item,
                TdChatView               *self)
{
  TdChatMember *member = gtk_list_item_get_item (item);
  GtkWidget *label = gtk_list_item_get_child (item);
  const char *prefix = td_chat_member_get_prefix (member);
  g_autofree char *text = g_strdup_printf ("%c%s", prefix[0] ? prefix[0] : ' ', td_chat_member_get_nick (member));

  gtk_label_set_label (GTK_LABEL (label), text);
  if (td_chat_member_get_away (member))
    {
      gtk_widget_add_css_class (label, "away");
      td_lazy_tooltip_set (label, _("Away"));
    }
  else
    {
      gtk_widget_remove_css_class (label, "away");
      td_lazy_tooltip_set (label, NULL);
    }
}

static void
member_activate_cb (GtkListView *list,
                    guint        position,
                    TdChatView  *self)
{
  g_autoptr(TdChatMember) member = g_list_model_get_item (G_LIST_MODEL (self->member_model), position);
  g_autofree char *command = g_strdup_printf ("/query %s", td_chat_member_get_nick (member));

  run_command (self, td_chat_view_get_selected (self), command);
}

/* ------------------------------------------------------------------ */
/* Selection, header and scrolling                                     */
/* ------------------------------------------------------------------ */

static void
td_chat_view_update_header (TdChatView *self)
{
  TdChatBuffer *buffer = td_chat_view_get_selected (self);
  TdChatBufferKind kind = buffer ? td_chat_buffer_get_kind (buffer) : TD_CHAT_BUFFER_SEARCH;
  const char *topic = buffer ? td_chat_buffer_get_topic (buffer) : NULL;
  g_autofree char *markup = NULL;

  gtk_label_set_label (self->title_label, buffer ? td_chat_buffer_get_name (buffer) : "");
  if (kind == TD_CHAT_BUFFER_SERVER)
    markup = g_markup_escape_text (td_chat_buffer_get_status (buffer) ? td_chat_buffer_get_status (buffer) : "", -1);
  else if (kind == TD_CHAT_BUFFER_CHANNEL && !td_chat_buffer_get_joined (buffer))
    markup = g_markup_printf_escaped ("%s", _("Not joined"));
  else
    markup = td_chat_markup_from_text (topic ? topic : "");
  gtk_label_set_markup (self->topic_label, markup);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->topic_label), topic);

  gtk_revealer_set_reveal_child (self->members_revealer,
                                 kind == TD_CHAT_BUFFER_CHANNEL && gtk_toggle_button_get_active (self->members_button));
  gtk_widget_set_visible (GTK_WIDGET (self->members_button), kind == TD_CHAT_BUFFER_CHANNEL);
  gtk_widget_set_visible (GTK_WIDGET (self->leave_button), buffer != NULL);
  {
    ChatNetwork *net = kind == TD_CHAT_BUFFER_SERVER ? network_of (self, buffer) : NULL;
    gboolean removable = net != NULL && !net->local;

    gtk_widget_set_visible (GTK_WIDGET (self->remove_network_button), removable);
    gtk_widget_action_set_enabled (GTK_WIDGET (self), "chat.remove-network", removable);
  }
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->leave_button),
                               kind == TD_CHAT_BUFFER_QUERY ? _("Close Conversation") :
                               kind == TD_CHAT_BUFFER_SERVER ? _("Disconnect") :
                               kind == TD_CHAT_BUFFER_SEARCH ? _("Close Search Results") :
                               td_chat_buffer_get_joined (buffer) ? _("Leave Channel") : _("Close Channel"));
}

static void
scroll_to_bottom (gpointer data)
{
  TdChatView *self = data;
  GtkAdjustment *adj = gtk_scrolled_window_get_vadjustment (self->message_scroller);

  gtk_adjustment_set_value (adj, gtk_adjustment_get_upper (adj) - gtk_adjustment_get_page_size (adj));
}

/* Scrolls to the bottom in the next layout, right after the window is
 * allocated (see TdAfterLayout). Not realized, nothing waits: the first
 * allocation configures the adjustment, and adjustment_changed_cb() comes
 * back here. */
static void
queue_scroll_to_bottom (TdChatView *self)
{
  td_after_layout_queue (&self->scroll, GTK_WIDGET (self), scroll_to_bottom, self);
}

static void
adjustment_changed_cb (GtkAdjustment *adj,
                       TdChatView    *self)
{
  if (self->stick_to_bottom)
    queue_scroll_to_bottom (self);
}

/* Asks for older lines when the view is near the top of @buffer, if it
 * is the one shown. */
static void
load_older_if_at_top (TdChatView   *self,
                      TdChatBuffer *buffer)
{
  GtkAdjustment *adj = gtk_scrolled_window_get_vadjustment (self->message_scroller);
  double page = gtk_adjustment_get_page_size (adj);

  if (buffer != NULL && buffer == td_chat_view_get_selected (self) &&
      gtk_adjustment_get_upper (adj) > page && gtk_adjustment_get_value (adj) < page * OLDER_THRESHOLD)
    td_chat_view_load_older (self, buffer);
}

static void
adjustment_value_cb (GtkAdjustment *adj,
                     TdChatView    *self)
{
  double value = gtk_adjustment_get_value (adj);
  gboolean up = value < self->last_value;

  self->last_value = value;
  if (self->changing_buffer)
    return;
  self->stick_to_bottom = value + gtk_adjustment_get_page_size (adj) >= gtk_adjustment_get_upper (adj) - 8;
  /* Only a move up asks for older lines: a fresh list is at the top
   * while its first lines come in, before it goes to the bottom. */
  if (up)
    load_older_if_at_top (self, td_chat_view_get_selected (self));
}

static void
selection_changed_cb (TdChatView *self)
{
  TdChatBuffer *buffer = td_chat_view_get_selected (self);

  if (self->resorting)
    return;
  self->changing_buffer = TRUE;
  gtk_no_selection_set_model (self->message_model, buffer ? td_chat_buffer_get_lines (buffer) : NULL);
  gtk_no_selection_set_model (self->member_model, buffer ? td_chat_buffer_get_members (buffer) : NULL);
  self->changing_buffer = FALSE;
  if (buffer != NULL)
    td_chat_buffer_mark_read (buffer);
  if (self->hover_popover != NULL)
    gtk_popover_popdown (self->hover_popover);
  self->stick_to_bottom = TRUE;
  queue_scroll_to_bottom (self);
  td_chat_view_update_header (self);
  update_attach (self);
  if (buffer != NULL && self->leaflet != NULL)
    adw_leaflet_navigate (self->leaflet, ADW_NAVIGATION_DIRECTION_FORWARD);
}

static void
selected_notify_cb (TdChatView *self)
{
  TdChatBuffer *buffer = td_chat_view_get_selected (self);

  if (self->resorting)
    return;
  /* New lines in the visible buffer are read as they arrive. */
  if (buffer != NULL && gtk_widget_get_mapped (GTK_WIDGET (self)))
    td_chat_buffer_mark_read (buffer);
}

/* ------------------------------------------------------------------ */
/* Dialogs and actions                                                 */
/* ------------------------------------------------------------------ */

static GtkWindow *
parent_window (TdChatView *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));

  return GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL;
}

static void
join_response_cb (AdwMessageDialog *dialog,
                  const char       *response,
                  TdChatView       *self)
{
  GtkEditable *entry = g_object_get_data (G_OBJECT (dialog), "td-entry");
  g_autofree char *channel = NULL;
  g_autofree char *command = NULL;

  if (g_strcmp0 (response, "join") != 0)
    return;
  channel = g_strstrip (g_strdup (gtk_editable_get_text (entry)));
  if (*channel == '\0')
    return;
  command = g_strdup_printf ("/join %s%s", is_channel_name (channel) ? "" : "#", channel);
  run_command (self, td_chat_view_get_selected (self), command);
}

static void
join_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  TdChatView *self = TD_CHAT_VIEW (widget);
  TdChatBuffer *buffer = td_chat_view_get_selected (self);
  ChatNetwork *net = network_of (self, buffer);
  AdwMessageDialog *dialog;
  GtkWidget *entry = gtk_entry_new ();

  if (net == NULL && self->networks->len > 0)
    {
      net = g_ptr_array_index (self->networks, 0);
      td_chat_view_select (self, net->server);
    }
  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (parent_window (self), _("Join a Channel"), NULL));
  adw_message_dialog_format_body (dialog, _("On %s"), net ? net->name : "");
  gtk_entry_set_placeholder_text (GTK_ENTRY (entry), _("#channel"));
  gtk_entry_set_activates_default (GTK_ENTRY (entry), TRUE);
  gtk_accessible_update_property (GTK_ACCESSIBLE (entry), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Channel"), -1);
  adw_message_dialog_set_extra_child (dialog, entry);
  adw_message_dialog_add_responses (dialog, "cancel", _("_Cancel"), "join", _("_Join"), NULL);
  adw_message_dialog_set_response_appearance (dialog, "join", ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (dialog, "join");
  adw_message_dialog_set_close_response (dialog, "cancel");
  g_object_set_data (G_OBJECT (dialog), "td-entry", entry);
  g_signal_connect_object (dialog, "response", G_CALLBACK (join_response_cb), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
add_network_response_cb (AdwMessageDialog *dialog,
                         const char       *response,
                         TdChatView       *self)
{
  const char *host, *port_text, *nick, *account, *password;
  gboolean tls;
  guint64 port = 0;

  if (g_strcmp0 (response, "add") != 0)
    return;
  host = gtk_editable_get_text (g_object_get_data (G_OBJECT (dialog), "td-host"));
  port_text = gtk_editable_get_text (g_object_get_data (G_OBJECT (dialog), "td-port"));
  nick = gtk_editable_get_text (g_object_get_data (G_OBJECT (dialog), "td-nick"));
  account = gtk_editable_get_text (g_object_get_data (G_OBJECT (dialog), "td-account"));
  password = gtk_editable_get_text (g_object_get_data (G_OBJECT (dialog), "td-password"));
  tls = gtk_switch_get_active (g_object_get_data (G_OBJECT (dialog), "td-tls"));

  if (!g_ascii_string_to_unsigned (port_text, 10, 1, 65535, &port, NULL))
    port = tls ? 6697 : 6667;
  if (*host == '\0')
    return;
  if (!td_chat_view_add_network (self, host, host, port, tls, nick, *account ? account : NULL,
                                 *password ? password : NULL))
    {
      TdChatBuffer *buffer = td_chat_view_get_selected (self);

      if (buffer != NULL)
        show_local (self, buffer, TD_CHAT_LINE_ERROR, _("There is already a network with that name."));
    }
}

static GtkWidget *
add_entry_row (GtkWidget  *group,
               const char *title,
               const char *text,
               gboolean    password)
{
  GtkWidget *row = password ? adw_password_entry_row_new () : adw_entry_row_new ();

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  if (text != NULL)
    gtk_editable_set_text (GTK_EDITABLE (row), text);
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (group), row);
  return row;
}

static void
add_network_action (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *parameter)
{
  TdChatView *self = TD_CHAT_VIEW (widget);
  AdwMessageDialog *dialog;
  GtkWidget *group = adw_preferences_group_new ();
  GtkWidget *tls_row = adw_action_row_new ();
  GtkWidget *tls = gtk_switch_new ();
  g_autofree char *nick = local_nick (self);

  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (parent_window (self), _("Add a Network"), NULL));
  adw_message_dialog_set_body (dialog, _("Any IRC server. A SASL password is kept in your keyring."));
  g_object_set_data (G_OBJECT (dialog), "td-host", add_entry_row (group, _("Server"), NULL, FALSE));
  g_object_set_data (G_OBJECT (dialog), "td-port", add_entry_row (group, _("Port"), "6697", FALSE));
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (tls_row), _("Encrypted (TLS)"));
  gtk_switch_set_active (GTK_SWITCH (tls), TRUE);
  gtk_widget_set_valign (tls, GTK_ALIGN_CENTER);
  adw_action_row_add_suffix (ADW_ACTION_ROW (tls_row), tls);
  adw_action_row_set_activatable_widget (ADW_ACTION_ROW (tls_row), tls);
  adw_preferences_group_add (ADW_PREFERENCES_GROUP (group), tls_row);
  g_object_set_data (G_OBJECT (dialog), "td-tls", tls);
  g_object_set_data (G_OBJECT (dialog), "td-nick", add_entry_row (group, _("Nick"), nick, FALSE));
  g_object_set_data (G_OBJECT (dialog), "td-account", add_entry_row (group, _("SASL Account (optional)"), NULL, FALSE));
  g_object_set_data (G_OBJECT (dialog), "td-password", add_entry_row (group, _("SASL Password"), NULL, TRUE));
  adw_message_dialog_set_extra_child (dialog, group);
  adw_message_dialog_add_responses (dialog, "cancel", _("_Cancel"), "add", _("_Add"), NULL);
  adw_message_dialog_set_response_appearance (dialog, "add", ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (dialog, "add");
  adw_message_dialog_set_close_response (dialog, "cancel");
  g_signal_connect_object (dialog, "response", G_CALLBACK (add_network_response_cb), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
remove_buffer (TdChatView   *self,
               TdChatBuffer *buffer)
{
  guint pos;

  if (find_position (self, buffer, &pos))
    {
      g_list_store_remove (self->buffers, pos);
      if (gtk_single_selection_get_selected (self->selection) == GTK_INVALID_LIST_POSITION &&
          g_list_model_get_n_items (G_LIST_MODEL (self->buffers)) > 0)
        gtk_single_selection_set_selected (self->selection, pos > 0 ? pos - 1 : 0);
    }
}

static void
leave_action (GtkWidget  *widget,
              const char *action_name,
              GVariant   *parameter)
{
  TdChatView *self = TD_CHAT_VIEW (widget);
  TdChatBuffer *buffer = td_chat_view_get_selected (self);
  ChatNetwork *net = network_of (self, buffer);

  if (buffer == NULL)
    return;
  switch (td_chat_buffer_get_kind (buffer))
    {
    case TD_CHAT_BUFFER_SEARCH:
      g_clear_object (&self->search_buffer);
      remove_buffer (self, buffer);
      break;
    case TD_CHAT_BUFFER_SERVER:
      if (net != NULL && net->client != NULL)
        {
          if (net->state == TD_IRC_STATE_DISCONNECTED)
            td_irc_client_connect (net->client);
          else
            td_irc_client_disconnect (net->client, _("Leaving"));
        }
      break;
    case TD_CHAT_BUFFER_QUERY:
      if (net != NULL && net->client != NULL)
        td_irc_client_close_query (net->client, td_chat_buffer_get_name (buffer));
      save_buffer (self, buffer, FALSE);
      remove_buffer (self, buffer);
      break;
    case TD_CHAT_BUFFER_CHANNEL:
      if (td_chat_buffer_get_joined (buffer) && net != NULL && net->client != NULL)
        td_irc_client_part (net->client, td_chat_buffer_get_name (buffer), NULL);
      else
        {
          save_buffer (self, buffer, FALSE);
          remove_buffer (self, buffer);
        }
      break;
    default:
      break;
    }
}

static void
remove_network_response_cb (AdwMessageDialog *dialog,
                            const char       *response,
                            TdChatView       *self)
{
  const char *network = g_object_get_data (G_OBJECT (dialog), "td-network");
  g_autoptr(GError) error = NULL;

  if (g_strcmp0 (response, "remove") != 0)
    return;
  if (!td_chat_view_remove_network (self, network, &error))
    {
      TdChatBuffer *buffer = td_chat_view_get_selected (self);

      if (buffer != NULL)
        show_local (self, buffer, TD_CHAT_LINE_ERROR, error->message);
    }
}

/* Asks before removing the selected network. */
static void
remove_network_action (GtkWidget  *widget,
                       const char *action_name,
                       GVariant   *parameter)
{
  TdChatView *self = TD_CHAT_VIEW (widget);
  TdChatBuffer *buffer = td_chat_view_get_selected (self);
  ChatNetwork *net = network_of (self, buffer);
  AdwMessageDialog *dialog;

  if (net == NULL || net->local || td_chat_buffer_get_kind (buffer) != TD_CHAT_BUFFER_SERVER)
    return;
  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (parent_window (self), NULL, NULL));
  adw_message_dialog_format_heading (dialog, _("Remove %s?"), net->name);
  adw_message_dialog_set_body (dialog, _("Its channels and conversations and their log are removed from "
                                         "Tidings, and its password from your keyring."));
  adw_message_dialog_add_responses (dialog, "cancel", _("_Cancel"), "remove", _("_Remove"), NULL);
  adw_message_dialog_set_response_appearance (dialog, "remove", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (dialog, "cancel");
  adw_message_dialog_set_close_response (dialog, "cancel");
  g_object_set_data_full (G_OBJECT (dialog), "td-network", g_strdup (net->name), g_free);
  g_signal_connect_object (dialog, "response", G_CALLBACK (remove_network_response_cb), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
search_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  TdChatView *self = TD_CHAT_VIEW (widget);

  gtk_search_bar_set_search_mode (self->search_bar, !gtk_search_bar_get_search_mode (self->search_bar));
  if (gtk_search_bar_get_search_mode (self->search_bar))
    gtk_widget_grab_focus (GTK_WIDGET (self->search_entry));
}

static void
back_clicked_cb (TdChatView *self)
{
  adw_leaflet_navigate (self->leaflet, ADW_NAVIGATION_DIRECTION_BACK);
}

/* ------------------------------------------------------------------ */
/* Lifecycle                                                           */
/* ------------------------------------------------------------------ */

static void
td_chat_view_dispose (GObject *object)
{
  TdChatView *self = TD_CHAT_VIEW (object);

  g_clear_handle_id (&self->poll_source, g_source_remove);
  g_clear_handle_id (&self->status_source, g_source_remove);
  td_after_layout_cancel (&self->scroll);
  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  g_clear_pointer (&self->attachment, attachment_free);
  if (self->mailbox != TD_MAILBOX_NONE)
    {
      td_mailbox_close (self->mailbox);
      self->mailbox = TD_MAILBOX_NONE;
    }
  g_clear_pointer (&self->hover, td_hover_timer_free);
  /* Clients say QUIT and stop their threads here. */
  g_clear_pointer (&self->networks, g_ptr_array_unref);
  if (self->hover_popover != NULL)
    {
      if (gtk_widget_get_parent (GTK_WIDGET (self->hover_popover)) != NULL)
        gtk_widget_unparent (GTK_WIDGET (self->hover_popover));
      g_clear_object (&self->hover_popover);
    }
  if (self->css != NULL)
    {
      gtk_style_context_remove_provider_for_display (gdk_display_get_default (), GTK_STYLE_PROVIDER (self->css));
      g_clear_object (&self->css);
    }
  /* The bin drops its child first, so that the template does not free
   * the child under it. */
  adw_bin_set_child (ADW_BIN (self), NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), TD_TYPE_CHAT_VIEW);
  g_clear_object (&self->selection);
  g_clear_object (&self->message_model);
  g_clear_object (&self->member_model);
  g_clear_object (&self->buffers);
  g_clear_object (&self->search_buffer);
  g_clear_object (&self->settings);
  if (self->files != NULL)
    g_signal_handlers_disconnect_by_data (self->files, self);
  g_clear_object (&self->files);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (td_chat_view_parent_class)->dispose (object);
}

static void
td_chat_view_finalize (GObject *object)
{
  TdChatView *self = TD_CHAT_VIEW (object);

  g_clear_pointer (&self->input_history, g_ptr_array_unref);
  g_free (self->completion_prefix);

  G_OBJECT_CLASS (td_chat_view_parent_class)->finalize (object);
}

static void
td_chat_view_class_init (TdChatViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = td_chat_view_dispose;
  object_class->finalize = td_chat_view_finalize;

  /* A live message from someone else: kind ("chat" or "mention"), the
   * sender's nick, the buffer (channel or query) and the text. */
  signals[MESSAGE_RECEIVED] =
    g_signal_new ("message-received", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 4,
                  G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);

  /* A network's connection state changed: its name and the new state
   * ("connecting", "connected", "retrying", ...). */
  signals[NETWORK_STATE_CHANGED] =
    g_signal_new ("network-state-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);

  g_type_ensure (TD_TYPE_CHAT_BUFFER);
  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/tidings/Tidings/td-chat-view.ui");
  gtk_widget_class_bind_template_child (widget_class, TdChatView, main_stack);
  gtk_widget_class_bind_template_child (widget_class, TdChatView, leaflet);
  gtk_widget_class_bind_template_child (widget_class, TdChatView, nick_entry);
  gtk_widget_class_bind_template_child (widget_class, TdChatView, nick_error);
  gtk_widget_class_bind_template_child (widget_class, TdChatView, nick_button);
  gtk_widget_class_bind_template_child (widget_class, TdChatView, remove_network_button);
  gtk_widget_class_bind_template_child (widget_class, TdChatView, sidebar_list);
  gtk_widget_class_bind_template_child (widget_class, TdChatView, title_label);
  gtk_widget_class_bind_template_child (widget_class, TdChatView, topic_label);
  gtk_widget_class_bind_template_child (widget_class, TdChatView, leave_button);
  gtk_widget_class_bind_template_child (widget_class, TdChatView, members_button);
  gtk_widget_class_bind_template_child (widget_class, TdChatView, members_revealer);
  gtk_widget_class_bind_template_child (widget_class, TdChatView, members_list);
  gtk_widget_class_bind_template_child (widget_class, TdChatView, message_list);
  gtk_widget_class_bind_template_child (widget_class, TdChatView, message_scroller);
  gtk_widget_class_bind_template_child (widget_class, TdChatView, composer);
  gtk_widget_class_bind_template_child (widget_class, TdChatView, search_bar);
  gtk_widget_class_bind_template_child (widget_class, TdChatView, search_entry);
  gtk_widget_class_bind_template_child (widget_class, TdChatView, back_button);
  gtk_widget_class_bind_template_child (widget_class, TdChatView, attach_button);
  gtk_widget_class_bind_template_child (widget_class, TdChatView, attach_revealer);
  gtk_widget_class_bind_template_child (widget_class, TdChatView, attach_thumb_stack);
  gtk_widget_class_bind_template_child (widget_class, TdChatView, attach_icon);
  gtk_widget_class_bind_template_child (widget_class, TdChatView, attach_picture);
  gtk_widget_class_bind_template_child (widget_class, TdChatView, attach_name);
  gtk_widget_class_bind_template_child (widget_class, TdChatView, attach_detail);
  gtk_widget_class_bind_template_child (widget_class, TdChatView, caption_entry);
  gtk_widget_class_bind_template_child (widget_class, TdChatView, upload_progress);
  gtk_widget_class_bind_template_child (widget_class, TdChatView, attach_send_button);
  gtk_widget_class_bind_template_child (widget_class, TdChatView, composer_box);
  gtk_widget_class_bind_template_callback (widget_class, search_activate_cb);
  gtk_widget_class_bind_template_callback (widget_class, caption_activate_cb);

  gtk_widget_class_install_action (widget_class, "chat.send", NULL, send_action);
  gtk_widget_class_install_action (widget_class, "chat.join", NULL, join_action);
  gtk_widget_class_install_action (widget_class, "chat.leave", NULL, leave_action);
  gtk_widget_class_install_action (widget_class, "chat.add-network", NULL, add_network_action);
  gtk_widget_class_install_action (widget_class, "chat.remove-network", NULL, remove_network_action);
  gtk_widget_class_install_action (widget_class, "chat.choose-nick", NULL, choose_nick_action);
  gtk_widget_class_install_action (widget_class, "chat.search", NULL, search_action);
  gtk_widget_class_install_action (widget_class, "chat.complete", NULL, complete_action);
  gtk_widget_class_install_action (widget_class, "chat.history-previous", NULL, history_previous_action);
  gtk_widget_class_install_action (widget_class, "chat.history-next", NULL, history_next_action);
  gtk_widget_class_install_action (widget_class, "chat.attach", NULL, attach_action);
  gtk_widget_class_install_action (widget_class, "chat.attach-send", NULL, attach_send_action);
  gtk_widget_class_install_action (widget_class, "chat.attach-cancel", NULL, attach_cancel_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_f, GDK_CONTROL_MASK | GDK_SHIFT_MASK, "chat.search", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_j, GDK_CONTROL_MASK, "chat.join", NULL);
}

static GtkListItemFactory *
factory_new (TdChatView *self,
             GCallback   setup,
             GCallback   bind,
             GCallback   unbind)
{
  GtkListItemFactory *factory = gtk_signal_list_item_factory_new ();

  g_signal_connect (factory, "setup", setup, self);
  g_signal_connect (factory, "bind", bind, self);
  if (unbind != NULL)
    g_signal_connect (factory, "unbind", unbind, self);
  return factory;
}

static void
td_chat_view_init (TdChatView *self)
{
  g_autoptr(GtkListItemFactory) sidebar_factory = NULL;
  g_autoptr(GtkListItemFactory) message_factory = NULL;
  g_autoptr(GtkListItemFactory) member_factory = NULL;
  GtkEventController *keys;
  GtkDropTarget *drop;
  GtkAdjustment *adj;

  gtk_widget_init_template (GTK_WIDGET (self));
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "chat.choose-nick", FALSE);
  g_signal_connect_swapped (self->nick_entry, "changed", G_CALLBACK (nick_entry_changed_cb), self);
  g_signal_connect_swapped (self->nick_entry, "entry-activated", G_CALLBACK (nick_entry_activated_cb), self);

  self->settings = g_settings_new ("io.github.tidings.Tidings");
  self->networks = g_ptr_array_new_with_free_func ((GDestroyNotify) chat_network_free);
  self->input_history = g_ptr_array_new_with_free_func (g_free);
  self->mailbox = td_mailbox_open (g_main_context_default (), G_PRIORITY_DEFAULT, view_mail_cb, self, NULL);
  self->hover = td_hover_timer_new (self->mailbox, MAIL_HOVER, 0);
  self->stick_to_bottom = TRUE;
  self->cancellable = g_cancellable_new ();

  self->files = td_chat_files_new (NULL);
  td_chat_files_set_allow_unknown (self->files, g_settings_get_boolean (self->settings, "chat-previews-unknown-hosts"));
  g_signal_connect_object (self->settings, "changed::chat-previews-unknown-hosts",
                           G_CALLBACK (previews_setting_cb), self, 0);
  g_signal_connect (self->files, "preview-loaded", G_CALLBACK (preview_loaded_cb), self);
  g_signal_connect (self->files, "upload-progress", G_CALLBACK (upload_progress_cb), self);
  g_signal_connect (self->files, "upload-finished", G_CALLBACK (upload_finished_cb), self);
  g_signal_connect (self->files, "download-finished", G_CALLBACK (download_finished_cb), self);
  g_signal_connect (self->files, "png-encoded", G_CALLBACK (png_encoded_cb), self);

  self->css = gtk_css_provider_new ();
  gtk_css_provider_load_from_resource (self->css, "/io/github/tidings/Tidings/td-chat-view.css");
  gtk_style_context_add_provider_for_display (gdk_display_get_default (), GTK_STYLE_PROVIDER (self->css),
                                              GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);

  self->buffers = g_list_store_new (TD_TYPE_CHAT_BUFFER);
  self->selection = gtk_single_selection_new (g_object_ref (G_LIST_MODEL (self->buffers)));
  gtk_single_selection_set_autoselect (self->selection, TRUE);
  g_signal_connect_swapped (self->selection, "notify::selected-item", G_CALLBACK (selection_changed_cb), self);
  g_signal_connect_swapped (self->selection, "items-changed", G_CALLBACK (selected_notify_cb), self);
  sidebar_factory = factory_new (self, G_CALLBACK (sidebar_setup_cb), G_CALLBACK (sidebar_bind_cb),
                                 G_CALLBACK (sidebar_unbind_cb));
  gtk_list_view_set_factory (self->sidebar_list, sidebar_factory);
  gtk_list_view_set_model (self->sidebar_list, GTK_SELECTION_MODEL (self->selection));

  self->message_model = gtk_no_selection_new (NULL);
  message_factory = factory_new (self, G_CALLBACK (message_setup_cb), G_CALLBACK (message_bind_cb), NULL);
  gtk_grid_view_set_factory (self->message_list, message_factory);
  gtk_grid_view_set_model (self->message_list, GTK_SELECTION_MODEL (self->message_model));
  g_signal_connect_swapped (self->message_model, "items-changed", G_CALLBACK (selected_notify_cb), self);

  self->member_model = gtk_no_selection_new (NULL);
  member_factory = factory_new (self, G_CALLBACK (member_setup_cb), G_CALLBACK (member_bind_cb), NULL);
  gtk_list_view_set_factory (self->members_list, member_factory);
  gtk_list_view_set_model (self->members_list, GTK_SELECTION_MODEL (self->member_model));
  gtk_list_view_set_single_click_activate (self->members_list, FALSE);
  g_signal_connect (self->members_list, "activate", G_CALLBACK (member_activate_cb), self);

  adj = gtk_scrolled_window_get_vadjustment (self->message_scroller);
  g_signal_connect (adj, "changed", G_CALLBACK (adjustment_changed_cb), self);
  g_signal_connect (adj, "value-changed", G_CALLBACK (adjustment_value_cb), self);

  keys = gtk_event_controller_key_new ();
  gtk_event_controller_set_propagation_phase (keys, GTK_PHASE_CAPTURE);
  g_signal_connect (keys, "key-pressed", G_CALLBACK (composer_key_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self->composer), keys);
  g_signal_connect (self->composer, "paste-clipboard", G_CALLBACK (composer_paste_cb), self);

  /* Files dropped anywhere on the conversation side. */
  drop = gtk_drop_target_new (GDK_TYPE_FILE_LIST, GDK_ACTION_COPY);
  g_signal_connect (drop, "drop", G_CALLBACK (drop_cb), self);
  g_signal_connect (drop, "enter", G_CALLBACK (drop_enter_cb), self);
  gtk_widget_add_controller (gtk_widget_get_parent (self->composer_box), GTK_EVENT_CONTROLLER (drop));

  g_signal_connect_swapped (self->members_button, "toggled", G_CALLBACK (td_chat_view_update_header), self);
  g_signal_connect_swapped (self->back_button, "clicked", G_CALLBACK (back_clicked_cb), self);
  gtk_search_bar_connect_entry (self->search_bar, GTK_EDITABLE (self->search_entry));

  self->hover_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_xalign (self->hover_label, 0);
  self->hover_popover = g_object_ref_sink (GTK_POPOVER (gtk_popover_new ()));
  gtk_popover_set_child (self->hover_popover, GTK_WIDGET (self->hover_label));
  gtk_popover_set_autohide (self->hover_popover, TRUE);
  gtk_widget_set_parent (GTK_WIDGET (self->hover_popover), GTK_WIDGET (self));

  g_signal_connect (self, "notify::root", G_CALLBACK (root_changed_cb), NULL);
  td_chat_view_update_header (self);
  update_attach (self);
}

GtkWidget *
td_chat_view_new (void)
{
  return g_object_new (TD_TYPE_CHAT_VIEW, NULL);
}

GListModel *
td_chat_view_get_buffers (TdChatView *self)
{
  g_return_val_if_fail (TD_IS_CHAT_VIEW (self), NULL);
  return G_LIST_MODEL (self->buffers);
}

gboolean
td_chat_view_is_ready (TdChatView *self)
{
  g_return_val_if_fail (TD_IS_CHAT_VIEW (self), FALSE);
  return self->ready;
}

G_DEFINE_QUARK (td-chat-view-error-quark, td_chat_view_error)

/* Finds @network and checks that it is connected. */
static ChatNetwork *
connected_network (TdChatView  *self,
                   const char  *network,
                   GError     **error)
{
  ChatNetwork *net = find_network (self, network);

  if (net == NULL)
    {
      g_set_error (error, TD_CHAT_VIEW_ERROR, TD_CHAT_VIEW_ERROR_NO_NETWORK,
                   _("No network named “%s”"), network);
      return NULL;
    }
  if (net->local && self->choosing_nick)
    {
      g_set_error_literal (error, TD_CHAT_VIEW_ERROR, TD_CHAT_VIEW_ERROR_NOT_CONNECTED,
                           _("Choose a nick in the Chat view first: Tidings connects to its server with it"));
      return NULL;
    }
  if (net->client == NULL || net->state != TD_IRC_STATE_CONNECTED)
    {
      g_set_error (error, TD_CHAT_VIEW_ERROR, TD_CHAT_VIEW_ERROR_NOT_CONNECTED,
                   _("%s is not connected"), network);
      return NULL;
    }
  return net;
}

/* Sends @text to @target (a channel the user is in, or a nick) on
 * @network, one message per line, as the composer would. Returns FALSE
 * with @error when the network is unknown or not connected, the target is
 * no channel or nick, or the user is not in the channel. */
gboolean
td_chat_view_send_message (TdChatView  *self,
                           const char  *network,
                           const char  *target,
                           const char  *text,
                           GError     **error)
{
  g_auto(GStrv) lines = NULL;
  ChatNetwork *net;
  gboolean channel;
  guint n_sent = 0;

  g_return_val_if_fail (TD_IS_CHAT_VIEW (self), FALSE);
  g_return_val_if_fail (network != NULL && target != NULL && text != NULL, FALSE);

  if ((net = connected_network (self, network, error)) == NULL)
    return FALSE;

  channel = td_irc_channel_is_valid (target, TD_IRC_MAX_LINE);
  if (!channel && !td_irc_nick_is_valid (target, TD_IRC_MAX_LINE))
    {
      g_set_error (error, TD_CHAT_VIEW_ERROR, TD_CHAT_VIEW_ERROR_INVALID,
                   _("“%s” is neither a channel nor a nick"), target);
      return FALSE;
    }
  if (channel)
    {
      TdChatBuffer *buffer = td_chat_view_find_buffer (self, network, target);

      if (buffer == NULL || !td_chat_buffer_get_joined (buffer))
        {
          g_set_error (error, TD_CHAT_VIEW_ERROR, TD_CHAT_VIEW_ERROR_NOT_JOINED,
                       _("Not in %s: join it first"), target);
          return FALSE;
        }
    }

  lines = g_strsplit_set (text, "\r\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (*lines[i] != '\0')
      {
        td_irc_client_privmsg (net->client, target, lines[i]);
        n_sent++;
      }
  if (n_sent == 0)
    {
      g_set_error_literal (error, TD_CHAT_VIEW_ERROR, TD_CHAT_VIEW_ERROR_INVALID,
                           _("The message is empty"));
      return FALSE;
    }
  return TRUE;
}

/* Joins @channel on @network; the channel appears once the server says
 * the user is in it. */
gboolean
td_chat_view_join_channel (TdChatView  *self,
                           const char  *network,
                           const char  *channel,
                           GError     **error)
{
  ChatNetwork *net;

  g_return_val_if_fail (TD_IS_CHAT_VIEW (self), FALSE);
  g_return_val_if_fail (network != NULL && channel != NULL, FALSE);

  if ((net = connected_network (self, network, error)) == NULL)
    return FALSE;
  if (!td_irc_channel_is_valid (channel, TD_IRC_MAX_LINE))
    {
      g_set_error (error, TD_CHAT_VIEW_ERROR, TD_CHAT_VIEW_ERROR_INVALID,
                   _("“%s” is not a channel name"), channel);
      return FALSE;
    }
  td_irc_client_join (net->client, channel, NULL);
  return TRUE;
}

/* Opens the send preview for @file (a local file) in the selected
 * buffer, as the attach button, drag and drop and paste do. Returns
 * FALSE with @error when files cannot be sent there (the reason the
 * attach button gives). */
gboolean
td_chat_view_attach_file (TdChatView  *self,
                          GFile       *file,
                          GError     **error)
{
  g_return_val_if_fail (TD_IS_CHAT_VIEW (self), FALSE);
  g_return_val_if_fail (G_IS_FILE (file), FALSE);

  if (g_file_peek_path (file) == NULL)
    {
      g_set_error_literal (error, TD_CHAT_VIEW_ERROR, TD_CHAT_VIEW_ERROR_INVALID, _("Only local files can be sent"));
      return FALSE;
    }
  return attach_open (self, g_file_peek_path (file), NULL, NULL, NULL, error);
}

/* Files and thumbnails of the view (tests look at them). */
TdChatFiles *
td_chat_view_get_files (TdChatView *self)
{
  g_return_val_if_fail (TD_IS_CHAT_VIEW (self), NULL);
  return self->files;
}
