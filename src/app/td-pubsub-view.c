/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-pubsub-view"

#include "config.h"

#include <string.h>
#include <glib/gi18n.h>

#include "app/td-after-layout.h"
#include "app/td-application.h"
#include "app/td-lazy-tooltip.h"
#include "app/td-local-time.h"
#include "app/td-pubsub-channel.h"
#include "app/td-pubsub-message.h"
#include "app/td-pubsub-row.h"
#include "app/td-pubsub-view.h"
#include "app/td-row-text.h"
#include "app/td-sparkline.h"
#include "core/td-timers.h"

/* The key of the embedded broker's connection in the database. */
#define BUILTIN_KEY "builtin"

/* Channels tracked for rate sparklines. Past this, new channels are
 * still listed in messages but get no sparkline: every tracked channel
 * costs work on each animation frame. */
#define TD_PUBSUB_VIEW_MAX_CHANNELS 200

/* How often, and for how long, the view looks for the embedded server's
 * port while the application is still binding it. */
#define PORT_POLL_MS        100
#define PORT_POLL_GIVE_UP_S 30

/* The most messages one captured subscription keeps in the database;
 * the oldest are pruned as new ones come. Enough for a long debugging
 * session, few enough that a capture left on does not fill the disk
 * (100,000 payloads of a few hundred bytes are some tens of MB). */
#define TD_PUBSUB_VIEW_CAPTURE_MAX 100000

/* Captured messages of each captured subscription shown at start, before
 * live traffic: enough to see where things stood, quick to load. */
#define TD_PUBSUB_VIEW_HISTORY 200

/* Search results are loaded in pages of this many, one recorder load
 * each, so that a broad query neither holds the recorder (saves wait
 * behind a load) nor adds thousands of rows to the list at once. */
#define TD_PUBSUB_VIEW_SEARCH_PAGE 500

/* Live messages go into the list at most this often, and only while the
 * view is shown (but see TD_PUBSUB_VIEW_PREBUILD); in between they wait
 * with the held ones (within the ring size). The list keeps rows bound
 * around its anchor: shown, the anchor follows the newest message, so
 * every batch appended on its own was bound and measured row by row (a
 * busy channel, thousands of messages a second in a hundred batches, kept
 * the main loop from drawing); hidden, the anchor stays on an old message
 * that the ring soon drops, and each append rebuilt the rows around it. */
#define TD_PUBSUB_VIEW_LIST_FLUSH_MS 100

/* Widths of a message row's captions, in characters: a time with its date
 * ("2026-11-25 12:34:56.789", for captured messages) and a channel or
 * pattern name, ellipsized past that. */
#define TD_PUBSUB_VIEW_TIME_CHARS    23
#define TD_PUBSUB_VIEW_CHANNEL_CHARS 16

/* Mail kinds of the view's own mailboxes. */
enum
{
  MAIL_TICK,
  MAIL_LOADED,
  MAIL_HISTORY,
  MAIL_FOUND,
  MAIL_FLUSH,
};

#define SQL_UPSERT_CONNECTION \
  "INSERT INTO pubsub_connections (name, protocol, host, port, tls, auto_connect, created)" \
  " VALUES (?, 'resp', ?, ?, ?, 1, ?) ON CONFLICT (name) DO UPDATE SET" \
  " host = excluded.host, port = excluded.port, tls = excluded.tls"
#define SQL_DELETE_CONNECTION \
  "DELETE FROM pubsub_connections WHERE name = ?"
#define SQL_INSERT_SUBSCRIPTION \
  "INSERT OR IGNORE INTO pubsub_subscriptions (connection_id, topic, is_pattern, created)" \
  " SELECT id, ?, ?, ? FROM pubsub_connections WHERE name = ?"
#define SQL_DELETE_SUBSCRIPTION \
  "DELETE FROM pubsub_subscriptions WHERE topic = ? AND is_pattern = ? AND connection_id =" \
  " (SELECT id FROM pubsub_connections WHERE name = ?)"
#define SQL_SET_CAPTURE \
  "UPDATE pubsub_subscriptions SET capture = ? WHERE topic = ? AND is_pattern = ? AND connection_id =" \
  " (SELECT id FROM pubsub_connections WHERE name = ?)"
#define SQL_LOAD \
  "SELECT c.name, c.host, c.port, c.tls, s.topic, s.is_pattern, s.capture FROM pubsub_connections c" \
  " LEFT JOIN pubsub_subscriptions s ON s.connection_id = c.id ORDER BY c.id, s.id"

/* Capturing, on the recorder thread. The subscription is looked up by
 * its connection's name when the batch is written, so a capture switched
 * off (or a subscription removed) in between writes nothing. */
#define SQL_CAPTURE_TARGET \
  "SELECT s.id, s.connection_id, s.n_captured FROM pubsub_subscriptions s" \
  " JOIN pubsub_connections c ON c.id = s.connection_id" \
  " WHERE c.name = ? AND s.topic = ? AND s.is_pattern = ? AND s.capture = 1"
#define SQL_CAPTURE_INSERT \
  "INSERT INTO pubsub_messages (connection_id, subscription_id, channel, pattern, payload, is_text, time)" \
  " VALUES (?, ?, ?, ?, ?, ?, ?)"
#define SQL_CAPTURE_COUNT \
  "UPDATE pubsub_subscriptions SET n_captured = ? WHERE id = ?"
#define SQL_CAPTURE_PRUNE \
  "DELETE FROM pubsub_messages WHERE id IN" \
  " (SELECT id FROM pubsub_messages WHERE subscription_id = ? ORDER BY id LIMIT ?)"

/* Reading captured traffic back: every row is (id, channel, pattern,
 * payload, time), newest first. */
#define SQL_HISTORY_SUBSCRIPTIONS \
  "SELECT id FROM pubsub_subscriptions WHERE capture = 1"
#define SQL_HISTORY \
  "SELECT id, channel, pattern, payload, time FROM pubsub_messages" \
  " WHERE subscription_id = ? ORDER BY id DESC LIMIT ?"
#define SQL_SEARCH \
  "SELECT m.id, m.channel, m.pattern, m.payload, m.time FROM pubsub_messages_fts f" \
  " JOIN pubsub_messages m ON m.id = f.rowid" \
  " WHERE pubsub_messages_fts MATCH ? AND f.rowid < ? ORDER BY f.rowid DESC LIMIT ?"
#define SQL_BROWSE \
  "SELECT id, channel, pattern, payload, time FROM pubsub_messages" \
  " WHERE id < ? ORDER BY id DESC LIMIT ?"

struct _TdPubsubView
{
  AdwBin               parent_instance;

  /* Template widgets */
  GtkMenuButton       *add_connection_button;
  GtkListView         *connections_list;
  GtkListView         *topics_list;
  GtkListView         *channels_list;
  GtkLabel            *channels_empty_label;
  GtkGridView         *messages_list;      /* one column: see ui/style.css */
  GtkScrolledWindow   *messages_scroller;
  GtkStack            *list_stack;
  GtkEntry            *subscribe_entry;
  GtkCheckButton      *pattern_check;
  GtkSearchEntry      *text_filter_entry;
  GtkEntry            *channel_filter_entry;
  GtkLabel            *counts_label;
  GtkEntry            *publish_channel_entry;
  GtkEntry            *publish_message_entry;
  GtkLabel            *publish_result_label;
  GtkPopover          *add_connection_popover;
  GtkEntry            *host_entry;
  GtkSpinButton       *port_spin;
  GtkPasswordEntry    *password_entry;
  GtkCheckButton      *tls_check;
  GtkToggleButton     *search_button;

  /* Owned */
  GSettings           *settings;
  GListStore          *connections;      /* TdPubsubConnection */
  GtkSingleSelection  *connection_selection;
  TdPubsubRing        *ring;             /* TdPubsubMessageItem */
  GtkCustomFilter     *filter;
  GtkFilterListModel  *filtered;
  GObject             *top_item;         /* the list's first item: a note, never a message */
  TdPubsubRow         *top_row;          /* the row showing top_item, while one is bound */
  GListStore          *channels;         /* TdPubsubChannel, by first arrival */
  GHashTable          *channel_index;    /* name -> TdPubsubChannel (borrowed from channels) */
  GPtrArray           *held;             /* TdPubsubMessageItem received while paused */
  char                *filter_channel;   /* casefolded; NULL = any */
  char                *filter_text;      /* casefolded; NULL = any */
  TdTicker            *ticker;
  TdMailboxId          mailbox;
  TdRecorder          *recorder;         /* borrowed: the application's, while rooted */
  GHashTable          *saved_topics;     /* key -> GPtrArray of "<pattern><capture>name" ("01news"), until the connection exists */
  GListStore          *found;            /* TdPubsubMessageItem: search results, newest first */
  GCancellable        *search_cancellable;
  TdMailboxId          search_mailbox;   /* reopened per search: replies to an older one are stale */
  char                *search_text;      /* what the running search looks for */
  char                *search_error;
  char                *counts_text;
  char                *publish_result;

  guint                animation;        /* ticker animation, 0 when idle */
  guint                flush_timeout;    /* pending MAIL_FLUSH, 0 when none */
  gint64               last_flush;       /* monotonic time live messages last went into the list */
  gint64               last_shift;       /* frame time of the last bucket shift */
  guint                port_poll;        /* GSource id */
  gint64               port_poll_since;
  guint64              n_received;
  guint64              n_dropped;        /* held or ring overflow, plus client drops */
  guint64              publish_request;
  TdPubsubConnection  *publish_connection; /* borrowed; the one publish_request went to */
  gboolean             paused;
  gboolean             follow;           /* keep the newest message in view */
  TdAfterLayout        follow_later;     /* follow once the list is allocated */
  gboolean             loaded;           /* saved connections were read (or there is no store) */
  gboolean             history_pending;  /* captured messages are being read: live ones wait */
  gboolean             searching;        /* the list shows captured messages found, not the ring */
  gboolean             search_busy;      /* more pages of results are coming */
  guint                capture_max;      /* per subscription, in the database */
};

G_DEFINE_FINAL_TYPE (TdPubsubView, td_pubsub_view, ADW_TYPE_BIN)

enum {
  PROP_0,
  PROP_PAUSED,
  PROP_SEARCHING,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

static TdPubsubConnection *
find_connection (TdPubsubView *self,
                 const char   *key)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->connections));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(TdPubsubConnection) connection = g_list_model_get_item (G_LIST_MODEL (self->connections), i);

      if (g_strcmp0 (td_pubsub_connection_get_key (connection), key) == 0)
        return connection;   /* the store keeps it alive */
    }
  return NULL;
}

static char *
format_count (guint64 n)
{
  /* %'"G_GUINT64_FORMAT would follow the locale's grouping. */
  return g_strdup_printf ("%'" G_GUINT64_FORMAT, n);
}

static void update_top_note (TdPubsubView *self);

/* The counts label and the list page while the list shows search
 * results. */
static void
update_search_counts (TdPubsubView *self)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->found));
  g_autofree char *found = format_count (n);
  const char *page;

  g_free (self->counts_text);
  if (self->search_error != NULL)
    /* Translators: %s is the reason */
    self->counts_text = g_strdup_printf (_("Search failed: %s"), self->search_error);
  else if (self->recorder == NULL)
    self->counts_text = g_strdup (_("No database"));
  else if (self->search_busy && n == 0)
    self->counts_text = g_strdup (_("Searching…"));
  else
    /* Translators: %s is a number of messages read back from the database */
    self->counts_text = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%s captured message found",
                                                      "%s captured messages found", n),
                                         found);
  gtk_label_set_label (self->counts_label, self->counts_text);

  page = n > 0 || self->search_busy ? "list" : "no-results";
  gtk_stack_set_visible_child_name (self->list_stack, page);
}

static void
update_counts (TdPubsubView *self)
{
  g_autofree char *received = format_count (self->n_received);
  GString *text;

  update_top_note (self);
  if (self->searching)
    {
      update_search_counts (self);
      return;
    }

  text = g_string_new (NULL);

  /* Translators: %s is a number of messages */
  g_string_append_printf (text, g_dngettext (GETTEXT_PACKAGE, "%s received", "%s received",
                                             (gulong) MIN (self->n_received, G_MAXULONG)),
                          received);
  if (self->n_dropped > 0)
    {
      g_autofree char *dropped = format_count (self->n_dropped);

      g_string_append (text, " · ");
      /* Translators: %s is a number of messages no longer kept in memory */
      g_string_append_printf (text, g_dngettext (GETTEXT_PACKAGE, "%s dropped", "%s dropped",
                                                 (gulong) MIN (self->n_dropped, G_MAXULONG)),
                              dropped);
    }
  if (self->paused)
    {
      g_autofree char *held = format_count (self->held->len);

      g_string_append (text, " · ");
      /* Translators: %s is a number of messages waiting while the list is paused */
      g_string_append_printf (text, _("Paused, %s waiting"), held);
    }
  g_free (self->counts_text);
  self->counts_text = g_string_free (text, FALSE);
  gtk_label_set_label (self->counts_label, self->counts_text);

  gtk_stack_set_visible_child_name (self->list_stack,
                                    g_list_model_get_n_items (G_LIST_MODEL (self->ring)) > 0 ? "list" : "empty");
}

static void
update_actions (TdPubsubView *self)
{
  TdPubsubConnection *connection = td_pubsub_view_get_selected (self);
  const char *host = gtk_editable_get_text (GTK_EDITABLE (self->host_entry));

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "pubsub.subscribe",
                                 connection != NULL &&
                                 *gtk_editable_get_text (GTK_EDITABLE (self->subscribe_entry)) != '\0');
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "pubsub.publish",
                                 connection != NULL &&
                                 *gtk_editable_get_text (GTK_EDITABLE (self->publish_channel_entry)) != '\0');
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "pubsub.add-connection", *host != '\0');
}

static void follow_newest (TdPubsubView *self);

/* ------------------------------------------------------------------ */
/* Persistence                                                         */

static void
save_connection (TdPubsubView       *self,
                 TdPubsubConnection *connection)
{
  if (self->recorder == NULL)
    return;
  td_recorder_save_values (self->recorder, SQL_UPSERT_CONNECTION,
                           TD_TEXT (td_pubsub_connection_get_key (connection)),
                           TD_TEXT (td_pubsub_connection_get_host (connection)),
                           TD_INT (td_pubsub_connection_get_port (connection)),
                           TD_BOOL (td_pubsub_connection_get_tls (connection)),
                           TD_INT (g_get_real_time ()));
}

static void
save_topic (TdPubsubView       *self,
            TdPubsubConnection *connection,
            TdPubsubTopic      *topic,
            gboolean            subscribed)
{
  if (self->recorder == NULL)
    return;
  if (subscribed)
    td_recorder_save_values (self->recorder, SQL_INSERT_SUBSCRIPTION,
                             TD_TEXT (td_pubsub_topic_get_name (topic)),
                             TD_BOOL (td_pubsub_topic_get_is_pattern (topic)),
                             TD_INT (g_get_real_time ()),
                             TD_TEXT (td_pubsub_connection_get_key (connection)));
  else
    td_recorder_save_values (self->recorder, SQL_DELETE_SUBSCRIPTION,
                             TD_TEXT (td_pubsub_topic_get_name (topic)),
                             TD_BOOL (td_pubsub_topic_get_is_pattern (topic)),
                             TD_TEXT (td_pubsub_connection_get_key (connection)));
}

static void
save_capture (TdPubsubView       *self,
              TdPubsubConnection *connection,
              TdPubsubTopic      *topic)
{
  if (self->recorder == NULL)
    return;
  td_recorder_save_values (self->recorder, SQL_SET_CAPTURE,
                           TD_BOOL (td_pubsub_topic_get_capture (topic)),
                           TD_TEXT (td_pubsub_topic_get_name (topic)),
                           TD_BOOL (td_pubsub_topic_get_is_pattern (topic)),
                           TD_TEXT (td_pubsub_connection_get_key (connection)));
}

/* Returns @connection's subscription to @name (borrowed), or NULL. */
static TdPubsubTopic *
find_topic (TdPubsubConnection *connection,
            const char         *name,
            gboolean            is_pattern)
{
  GListModel *topics = td_pubsub_connection_get_topics (connection);
  guint n = g_list_model_get_n_items (topics);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(TdPubsubTopic) topic = g_list_model_get_item (topics, i);

      if (!td_pubsub_topic_get_is_pattern (topic) == !is_pattern &&
          strcmp (td_pubsub_topic_get_name (topic), name) == 0)
        return topic;   /* the connection keeps it alive */
    }
  return NULL;
}

/* Returns the connection that @topic belongs to (borrowed), or NULL. */
static TdPubsubConnection *
connection_of_topic (TdPubsubView  *self,
                     TdPubsubTopic *topic)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->connections));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(TdPubsubConnection) connection = g_list_model_get_item (G_LIST_MODEL (self->connections), i);
      GListModel *topics = td_pubsub_connection_get_topics (connection);

      for (guint j = 0; j < g_list_model_get_n_items (topics); j++)
        {
          g_autoptr(TdPubsubTopic) other = g_list_model_get_item (topics, j);

          if (other == topic)
            return connection;   /* the store keeps it alive */
        }
    }
  return NULL;
}

/* Subscribes @connection to the saved topics of its key, if any, with
 * their capture setting. */
static void
restore_topics (TdPubsubView       *self,
                TdPubsubConnection *connection)
{
  GPtrArray *topics = g_hash_table_lookup (self->saved_topics, td_pubsub_connection_get_key (connection));

  if (topics == NULL)
    return;
  for (guint i = 0; i < topics->len; i++)
    {
      const char *entry = g_ptr_array_index (topics, i);
      gboolean is_pattern = entry[0] == '1';
      TdPubsubTopic *topic;

      topic = td_pubsub_connection_subscribe (connection, entry + 2, is_pattern);
      /* Subscribed already in this session, before the store answered. */
      if (topic == NULL)
        topic = find_topic (connection, entry + 2, is_pattern);
      if (topic != NULL && entry[1] == '1')
        td_pubsub_topic_set_capture (topic, TRUE);
    }
  g_hash_table_remove (self->saved_topics, td_pubsub_connection_get_key (connection));
}

/* ------------------------------------------------------------------ */
/* Capture: the recorder thread's side                                 */

/* A captured subscription that messages of one batch belong to. */
typedef struct
{
  char     *topic;
  gboolean  is_pattern;
  guint     n;                   /* messages of the batch for it */
  gint64    subscription_id;     /* recorder thread: 0 if not captured there */
  gint64    connection_id;
  gint64    n_captured;
} CaptureTarget;

typedef struct
{
  gint64  time;
  guint   target;                /* index into targets */
  char   *channel;               /* NUL-terminated; may hold NULs up to channel_len */
  gsize   channel_len;
  GBytes *payload;
} CaptureRow;

/* What one incoming batch adds to the database: one save. */
typedef struct
{
  char   *connection;            /* the connection's key */
  GArray *targets;               /* CaptureTarget */
  GArray *rows;                  /* CaptureRow, oldest first */
  guint   max;                   /* messages kept per subscription */
} CaptureBatch;

static void
capture_target_clear (gpointer data)
{
  CaptureTarget *target = data;

  g_free (target->topic);
}

static void
capture_row_clear (gpointer data)
{
  CaptureRow *row = data;

  g_free (row->channel);
  g_bytes_unref (row->payload);
}

static CaptureBatch *
capture_batch_new (const char *connection,
                   guint       max)
{
  CaptureBatch *batch = g_new0 (CaptureBatch, 1);

  batch->connection = g_strdup (connection);
  batch->targets = g_array_new (FALSE, TRUE, sizeof (CaptureTarget));
  g_array_set_clear_func (batch->targets, capture_target_clear);
  batch->rows = g_array_new (FALSE, TRUE, sizeof (CaptureRow));
  g_array_set_clear_func (batch->rows, capture_row_clear);
  batch->max = max;
  return batch;
}

static void
capture_batch_free (gpointer data)
{
  CaptureBatch *batch = data;

  g_free (batch->connection);
  g_array_unref (batch->targets);
  g_array_unref (batch->rows);
  g_free (batch);
}

/* Writes a batch inside the recorder's transaction: finds each target's
 * subscription (still captured?), inserts its messages, and prunes the
 * oldest past the cap. Repeatable: everything it reads is read again when
 * a failed transaction is replayed. */
static gboolean
capture_apply (TdStoreConn  *conn,
               gpointer      data,
               GError      **error)
{
  CaptureBatch *batch = data;

  for (guint i = 0; i < batch->targets->len; i++)
    {
      CaptureTarget *target = &g_array_index (batch->targets, CaptureTarget, i);
      const TdValue params[] = {
        TD_TEXT (batch->connection), TD_TEXT (target->topic), TD_BOOL (target->is_pattern),
      };
      g_autoptr(TdRows) rows = td_store_conn_query (conn, SQL_CAPTURE_TARGET, params,
                                                    G_N_ELEMENTS (params), error);

      if (rows == NULL)
        return FALSE;
      target->subscription_id = rows->n_rows > 0 ? td_rows_get_int (rows, 0, 0) : 0;
      target->connection_id = rows->n_rows > 0 ? td_rows_get_int (rows, 0, 1) : 0;
      target->n_captured = rows->n_rows > 0 ? td_rows_get_int (rows, 0, 2) : 0;
    }

  for (guint i = 0; i < batch->rows->len; i++)
    {
      const CaptureRow *row = &g_array_index (batch->rows, CaptureRow, i);
      const CaptureTarget *target = &g_array_index (batch->targets, CaptureTarget, row->target);
      gsize len;
      const char *payload = g_bytes_get_data (row->payload, &len);
      TdValue values[] = {
        TD_INT (target->connection_id),
        TD_INT (target->subscription_id),
        { .type = TD_VALUE_TEXT, .size = (gssize) row->channel_len, .v.text = row->channel },
        target->is_pattern ? TD_TEXT (target->topic) : TD_NULL,
        TD_BLOB (payload != NULL ? payload : "", len),
        /* Only what the view shows as text is indexed by content. */
        TD_BOOL (td_payload_is_text (payload, len)),
        TD_INT (row->time),
      };

      if (target->subscription_id == 0)
        continue;
      if (!td_store_conn_exec (conn, SQL_CAPTURE_INSERT, values, G_N_ELEMENTS (values), error))
        return FALSE;
    }

  for (guint i = 0; i < batch->targets->len; i++)
    {
      const CaptureTarget *target = &g_array_index (batch->targets, CaptureTarget, i);
      gint64 n_captured = target->n_captured + target->n;

      if (target->subscription_id == 0)
        continue;
      if (n_captured > (gint64) batch->max)
        {
          const TdValue prune[] = { TD_INT (target->subscription_id), TD_INT (n_captured - batch->max) };

          if (!td_store_conn_exec (conn, SQL_CAPTURE_PRUNE, prune, G_N_ELEMENTS (prune), error))
            return FALSE;
          n_captured = batch->max;
        }
      {
        const TdValue count[] = { TD_INT (n_captured), TD_INT (target->subscription_id) };

        if (!td_store_conn_exec (conn, SQL_CAPTURE_COUNT, count, G_N_ELEMENTS (count), error))
          return FALSE;
      }
    }
  return TRUE;
}

/* A captured message read back, with its row id for ordering. */
typedef struct
{
  gint64           id;
  TdPubsubMessage *message;
} LoggedRow;

static void
logged_row_clear (gpointer data)
{
  LoggedRow *row = data;

  g_clear_pointer (&row->message, td_pubsub_message_free);
}

static GArray *
logged_rows_new (void)
{
  GArray *rows = g_array_new (FALSE, TRUE, sizeof (LoggedRow));

  g_array_set_clear_func (rows, logged_row_clear);
  return rows;
}

/* Steps @stmt (bound; columns id, channel, pattern, payload, time) to the
 * end and appends its rows to @rows. Returns FALSE and sets @error if a
 * step fails. */
static gboolean
collect_logged (TdStoreConn   *conn,
                sqlite3_stmt  *stmt,
                GArray        *rows,
                GError       **error)
{
  int rc;

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      TdPubsubMessage *message = g_new0 (TdPubsubMessage, 1);
      const char *channel = (const char *) sqlite3_column_text (stmt, 1);
      gsize channel_len = (gsize) sqlite3_column_bytes (stmt, 1);
      gconstpointer payload = sqlite3_column_blob (stmt, 3);
      gsize payload_len = (gsize) sqlite3_column_bytes (stmt, 3);
      LoggedRow row = { sqlite3_column_int64 (stmt, 0), message };

      message->channel = g_malloc (channel_len + 1);
      if (channel_len > 0)
        memcpy (message->channel, channel, channel_len);
      message->channel[channel_len] = '\0';
      message->channel_len = channel_len;
      message->pattern = g_strdup ((const char *) sqlite3_column_text (stmt, 2));
      message->payload = g_bytes_new (payload, payload_len);
      message->time = sqlite3_column_int64 (stmt, 4);
      g_array_append_val (rows, row);
    }
  if (rc != SQLITE_DONE)
    {
      td_sqlite_set_error (error, td_store_conn_get_db (conn), rc, "read captured pub/sub messages");
      sqlite3_reset (stmt);
      return FALSE;
    }
  sqlite3_reset (stmt);
  return TRUE;
}

/* Returns the messages of @rows in order as a GPtrArray of
 * TdPubsubMessage (which it takes from @rows). */
static GPtrArray *
logged_messages (GArray *rows)
{
  GPtrArray *messages = g_ptr_array_new_full (rows->len, (GDestroyNotify) td_pubsub_message_free);

  for (guint i = 0; i < rows->len; i++)
    g_ptr_array_add (messages, g_steal_pointer (&g_array_index (rows, LoggedRow, i).message));
  return messages;
}

static int
logged_row_compare (gconstpointer a,
                    gconstpointer b)
{
  const LoggedRow *ra = a, *rb = b;

  return (ra->id > rb->id) - (ra->id < rb->id);
}

typedef struct
{
  guint per_subscription;
  guint max_total;
} HistoryQuery;

/* The newest captured messages of every captured subscription, oldest
 * first, at most max_total in all. Returns a GPtrArray of
 * TdPubsubMessage. */
static gpointer
history_worker (TdStoreConn  *conn,
                gpointer      data,
                GError      **error)
{
  HistoryQuery *query = data;
  g_autoptr(TdRows) subscriptions = NULL;
  g_autoptr(GArray) rows = logged_rows_new ();

  subscriptions = td_store_conn_query (conn, SQL_HISTORY_SUBSCRIPTIONS, NULL, 0, error);
  if (subscriptions == NULL)
    return NULL;

  for (guint r = 0; r < subscriptions->n_rows; r++)
    {
      const TdValue params[] = { TD_INT (td_rows_get_int (subscriptions, r, 0)), TD_INT (query->per_subscription) };
      sqlite3_stmt *stmt = td_store_conn_prepare (conn, SQL_HISTORY, error);

      if (stmt == NULL ||
          !td_stmt_bind_values (stmt, params, G_N_ELEMENTS (params), error) ||
          !collect_logged (conn, stmt, rows, error))
        return NULL;
    }

  /* Row ids grow with every insert: their order is arrival order across
   * subscriptions. */
  g_array_sort (rows, logged_row_compare);
  if (rows->len > query->max_total)
    g_array_remove_range (rows, 0, rows->len - query->max_total);
  return logged_messages (rows);
}

/* Builds an FTS5 query from words a person typed: every word must occur
 * (in the channel or a text payload), as a prefix; quotes make any
 * character literal, so the text can never be FTS syntax. Returns NULL
 * when there is no word. */
static char *
fts_query (const char *text)
{
  g_auto(GStrv) words = g_strsplit_set (text != NULL ? text : "", " \t\r\n", -1);
  GString *query = g_string_new (NULL);

  for (guint i = 0; words[i] != NULL; i++)
    {
      g_autofree char *word = g_strdup (words[i]);

      g_strdelimit (word, "\"", ' ');
      g_strstrip (word);
      if (*word == '\0')
        continue;
      if (query->len > 0)
        g_string_append_c (query, ' ');
      g_string_append_printf (query, "\"%s\"*", word);
    }
  if (query->len == 0)
    {
      g_string_free (query, TRUE);
      return NULL;
    }
  return g_string_free (query, FALSE);
}

typedef struct
{
  char         *match;           /* FTS query; NULL: every captured message */
  gint64        before;          /* row ids below this one */
  guint         limit;
  GCancellable *cancellable;
} SearchQuery;

typedef struct
{
  GPtrArray *messages;           /* TdPubsubMessage, newest first */
  gint64     last_id;            /* of the oldest one: where the next page starts */
  guint      limit;              /* what was asked: fewer means no more pages */
} SearchPage;

static void
search_query_free (gpointer data)
{
  SearchQuery *query = data;

  g_free (query->match);
  g_clear_object (&query->cancellable);
  g_free (query);
}

static void
search_page_free (gpointer data)
{
  SearchPage *page = data;

  g_ptr_array_unref (page->messages);
  g_free (page);
}

/* One page of search results, newest first. Returns a SearchPage. */
static gpointer
search_worker (TdStoreConn  *conn,
               gpointer      data,
               GError      **error)
{
  SearchQuery *query = data;
  g_autoptr(GArray) rows = logged_rows_new ();
  sqlite3_stmt *stmt;
  SearchPage *page;
  gboolean ok;

  /* A newer search, or the view went away, while this one waited. */
  if (g_cancellable_set_error_if_cancelled (query->cancellable, error))
    return NULL;

  stmt = td_store_conn_prepare (conn, query->match != NULL ? SQL_SEARCH : SQL_BROWSE, error);
  if (stmt == NULL)
    return NULL;
  if (query->match != NULL)
    {
      const TdValue params[] = { TD_TEXT (query->match), TD_INT (query->before), TD_INT (query->limit) };

      ok = td_stmt_bind_values (stmt, params, G_N_ELEMENTS (params), error);
    }
  else
    {
      const TdValue params[] = { TD_INT (query->before), TD_INT (query->limit) };

      ok = td_stmt_bind_values (stmt, params, G_N_ELEMENTS (params), error);
    }
  if (!ok || !collect_logged (conn, stmt, rows, error))
    return NULL;

  page = g_new0 (SearchPage, 1);
  page->last_id = rows->len > 0 ? g_array_index (rows, LoggedRow, rows->len - 1).id : 0;
  page->limit = query->limit;
  page->messages = logged_messages (rows);
  return page;
}

/* ------------------------------------------------------------------ */
/* Capture: the view's side                                            */

/* Queues one save for the messages (TdPubsubMessage, borrowed) of one
 * batch from @connection that belong to its captured subscriptions. */
static void
capture_messages (TdPubsubView        *self,
                  TdPubsubConnection  *connection,
                  gpointer            *messages,
                  gsize                n)
{
  GListModel *topics = td_pubsub_connection_get_topics (connection);
  g_autoptr(GHashTable) channels = NULL;   /* name -> target index + 1; names borrowed */
  g_autoptr(GHashTable) patterns = NULL;
  CaptureBatch *batch = NULL;

  if (self->recorder == NULL || n == 0)
    return;

  for (guint i = 0; i < g_list_model_get_n_items (topics); i++)
    {
      g_autoptr(TdPubsubTopic) topic = g_list_model_get_item (topics, i);
      CaptureTarget target = { 0 };

      if (!td_pubsub_topic_get_capture (topic))
        continue;
      if (batch == NULL)
        {
          batch = capture_batch_new (td_pubsub_connection_get_key (connection), self->capture_max);
          channels = g_hash_table_new (g_str_hash, g_str_equal);
          patterns = g_hash_table_new (g_str_hash, g_str_equal);
        }
      target.topic = g_strdup (td_pubsub_topic_get_name (topic));
      target.is_pattern = td_pubsub_topic_get_is_pattern (topic);
      g_array_append_val (batch->targets, target);
      g_hash_table_insert (target.is_pattern ? patterns : channels, target.topic,
                           GUINT_TO_POINTER (batch->targets->len));
    }
  if (batch == NULL)
    return;

  for (gsize i = 0; i < n; i++)
    {
      TdPubsubMessage *message = messages[i];
      /* A pmessage belongs to its pattern's subscription, a message to
       * its channel's. */
      guint index = GPOINTER_TO_UINT (message->pattern != NULL
                                      ? g_hash_table_lookup (patterns, message->pattern)
                                      : g_hash_table_lookup (channels, message->channel));
      CaptureRow row;

      if (index == 0)
        continue;
      row.time = message->time;
      row.target = index - 1;
      row.channel = g_memdup2 (message->channel, message->channel_len + 1);
      row.channel_len = message->channel_len;
      row.payload = message->payload != NULL ? g_bytes_ref (message->payload) : g_bytes_new (NULL, 0);
      g_array_append_val (batch->rows, row);
      g_array_index (batch->targets, CaptureTarget, index - 1).n++;
    }

  if (batch->rows->len == 0)
    {
      capture_batch_free (batch);
      return;
    }
  td_recorder_save_func (self->recorder, capture_apply, batch, capture_batch_free);
}

/* ------------------------------------------------------------------ */
/* Messages                                                            */

static void
start_animation (TdPubsubView *self)
{
  if (self->animation != 0)
    return;
  self->last_shift = g_get_monotonic_time ();
  self->animation = td_ticker_add (self->ticker, self->mailbox, MAIL_TICK);
}

/* Advances the rate buckets of every channel to @frame_time and redraws
 * them; stops the ticker once no channel has seen a message for the
 * whole sparkline history. */
static void
tick (TdPubsubView *self,
      gint64        frame_time)
{
  const gint64 bucket = TD_PUBSUB_CHANNEL_BUCKET_MS * G_TIME_SPAN_MILLISECOND;
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->channels));
  gboolean busy = FALSE;
  double phase;

  while (frame_time - self->last_shift >= bucket)
    {
      for (guint i = 0; i < n; i++)
        {
          g_autoptr(TdPubsubChannel) channel = g_list_model_get_item (G_LIST_MODEL (self->channels), i);

          td_pubsub_channel_shift (channel);
        }
      self->last_shift += bucket;
    }

  phase = (double) (frame_time - self->last_shift) / bucket;
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(TdPubsubChannel) channel = g_list_model_get_item (G_LIST_MODEL (self->channels), i);

      if (!td_pubsub_channel_is_idle (channel))
        {
          busy = TRUE;
          td_pubsub_channel_tick (channel, phase);
        }
    }

  if (!busy)
    {
      /* A last frame so every sparkline shows its flat line. */
      for (guint i = 0; i < n; i++)
        {
          g_autoptr(TdPubsubChannel) channel = g_list_model_get_item (G_LIST_MODEL (self->channels), i);

          td_pubsub_channel_tick (channel, 0.0);
        }
      td_ticker_remove (self->ticker, self->animation);
      self->animation = 0;
    }
}

static void
count_channel (TdPubsubView *self,
               const char   *name,
               guint         n)
{
  TdPubsubChannel *channel = g_hash_table_lookup (self->channel_index, name);

  if (channel == NULL)
    {
      g_autoptr(TdPubsubChannel) created = NULL;

      if (g_hash_table_size (self->channel_index) >= TD_PUBSUB_VIEW_MAX_CHANNELS)
        return;
      created = td_pubsub_channel_new (name);
      g_hash_table_insert (self->channel_index, g_strdup (name), created);
      g_list_store_append (self->channels, created);
      gtk_widget_set_visible (GTK_WIDGET (self->channels_empty_label), FALSE);
      channel = created;
    }
  td_pubsub_channel_count (channel, n);
}

/* Keeps the held messages of a pause within the ring size. */
static void
trim_held (TdPubsubView *self)
{
  guint capacity = td_pubsub_ring_get_capacity (self->ring);

  if (self->held->len > capacity)
    {
      guint excess = self->held->len - capacity;

      g_ptr_array_remove_range (self->held, 0, excess);
      self->n_dropped += excess;
    }
}

/* Moves the oldest @n held messages to the list in one change. */
static void
flush_held (TdPubsubView *self,
            guint         n)
{
  g_autofree gpointer *items = NULL;

  n = MIN (n, self->held->len);
  if (n == 0)
    return;
  items = g_memdup2 (self->held->pdata, n * sizeof (gpointer));
  g_ptr_array_set_free_func (self->held, NULL);
  g_ptr_array_remove_range (self->held, 0, n);
  g_ptr_array_set_free_func (self->held, g_object_unref);
  self->n_dropped += td_pubsub_ring_append (self->ring, items, n);
}

/* Whether live messages may go into the list while the view is hidden
 * (see TD_PUBSUB_VIEW_PREBUILD). */
static gboolean
prebuilding (TdPubsubView *self)
{
  guint limit = MIN (TD_PUBSUB_VIEW_PREBUILD, td_pubsub_ring_get_capacity (self->ring));

  return !self->searching && g_list_model_get_n_items (G_LIST_MODEL (self->ring)) < limit;
}

/* Moves live messages that waited (see TD_PUBSUB_VIEW_LIST_FLUSH_MS) to
 * the list, unless a pause or the captured messages being read keep them
 * waiting. */
static void
flush_live (TdPubsubView *self)
{
  guint capacity = td_pubsub_ring_get_capacity (self->ring);
  guint n_items = g_list_model_get_n_items (G_LIST_MODEL (self->ring));

  if (self->paused || self->history_pending || self->held->len == 0)
    return;
  if (!gtk_widget_get_mapped (GTK_WIDGET (self)))
    {
      if (prebuilding (self))
        {
          flush_held (self, TD_PUBSUB_VIEW_PREBUILD_STEP);
          self->last_flush = g_get_monotonic_time ();
          update_counts (self);
          /* The next step, whether or not more messages come. */
          if (self->held->len > 0 && prebuilding (self) && self->flush_timeout == 0)
            self->flush_timeout = td_mail_send_after (self->mailbox, TD_PUBSUB_VIEW_LIST_FLUSH_MS,
                                                      td_mail_new (MAIL_FLUSH, NULL, NULL));
        }
      return;
    }

  if (self->follow && !self->searching && n_items + self->held->len > capacity)
    {
      /* The ring is full: as many old messages go as new ones come.
       * Dropping first would take away the rows the list shows whenever
       * more came than it shows (always, after the view was hidden), and
       * the list would destroy those rows and build new ones. Growing the
       * ring for a moment lets the rows move to the newest first
       * (rebound, not rebuilt); then the oldest go. */
      td_pubsub_ring_set_capacity (self->ring, n_items + self->held->len);
      flush_held (self, self->held->len);
      follow_newest (self);
      n_items = g_list_model_get_n_items (G_LIST_MODEL (self->ring));
      td_pubsub_ring_set_capacity (self->ring, capacity);
      self->n_dropped += n_items - MIN (n_items, capacity);
    }
  else
    {
      flush_held (self, self->held->len);
      follow_newest (self);
    }
  self->last_flush = g_get_monotonic_time ();
  update_counts (self);
}

/* One batch from a connection: one change of the list, however many
 * messages it carries. */
static void
messages_cb (TdPubsubConnection *connection,
             TdPubsubBatch      *batch,
             TdPubsubView       *self)
{
  g_autofree gpointer *items = NULL;
  gsize n = 0;
  const char *run_channel = NULL;
  guint run = 0;

  g_ptr_array_set_free_func (batch->messages, NULL);
  items = (gpointer *) g_ptr_array_steal (batch->messages, &n);

  /* Captured whether or not the list shows them now. */
  capture_messages (self, connection, items, n);

  for (gsize i = 0; i < n; i++)
    {
      TdPubsubMessage *message = items[i];

      /* Consecutive messages of one channel are counted in one go. */
      if (run_channel != NULL && strcmp (run_channel, message->channel) != 0)
        {
          count_channel (self, run_channel, run);
          run = 0;
        }
      items[i] = td_pubsub_message_item_new (message);
      run_channel = message->channel;
      run++;
    }
  if (run > 0)
    count_channel (self, run_channel, run);

  self->n_received += n;
  self->n_dropped += batch->n_dropped;

  /* Live messages wait behind a pause, and behind the captured ones that
   * are being read so that those come first; while the view is hidden;
   * and right after a batch went into the list, for the next flush
   * (TD_PUBSUB_VIEW_LIST_FLUSH_MS). */
  for (gsize i = 0; i < n; i++)
    g_ptr_array_add (self->held, items[i]);
  trim_held (self);
  if (n > 0 && !self->paused && !self->history_pending &&
      (gtk_widget_get_mapped (GTK_WIDGET (self)) || prebuilding (self)))
    {
      if (g_get_monotonic_time () - self->last_flush >= TD_PUBSUB_VIEW_LIST_FLUSH_MS * 1000)
        flush_live (self);
      else if (self->flush_timeout == 0)
        self->flush_timeout = td_mail_send_after (self->mailbox, TD_PUBSUB_VIEW_LIST_FLUSH_MS,
                                                  td_mail_new (MAIL_FLUSH, NULL, NULL));
    }

  if (n > 0)
    start_animation (self);
  update_counts (self);
}

static void
published_cb (TdPubsubConnection *connection,
              guint64             request,
              gint64              receivers,
              const char         *error,
              TdPubsubView       *self)
{
  g_autofree char *text = NULL;

  if (connection != self->publish_connection || request != self->publish_request)
    return;

  if (error != NULL)
    /* Translators: %s is the reason */
    text = g_strdup_printf (_("Not published: %s"), error);
  else
    /* Translators: %u is how many subscribers the server delivered the message to */
    text = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "Published (%u receiver)", "Published (%u receivers)",
                                         (gulong) receivers),
                            (guint) receivers);
  g_free (self->publish_result);
  self->publish_result = g_steal_pointer (&text);
  gtk_label_set_label (self->publish_result_label, self->publish_result);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->publish_result_label), self->publish_result);
}

static void
reconnected_cb (TdPubsubConnection *connection,
                guint               n_resubscribed,
                TdPubsubView       *self)
{
  GtkWidget *window = gtk_widget_get_ancestor (GTK_WIDGET (self), ADW_TYPE_APPLICATION_WINDOW);
  GtkWidget *overlay;
  g_autofree char *text = NULL;

  /* Translators: %s is a server, %u how many channels and patterns were subscribed again */
  text = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "Reconnected to %s, %u subscription restored",
                                       "Reconnected to %s, %u subscriptions restored", n_resubscribed),
                          td_pubsub_connection_get_title (connection), n_resubscribed);
  g_message ("%s", text);

  /* The window's toast overlay is its content. */
  overlay = window ? adw_application_window_get_content (ADW_APPLICATION_WINDOW (window)) : NULL;
  if (ADW_IS_TOAST_OVERLAY (overlay))
    adw_toast_overlay_add_toast (ADW_TOAST_OVERLAY (overlay), adw_toast_new (text));
}

static gboolean
filter_match (gpointer item,
              gpointer user_data)
{
  TdPubsubView *self = user_data;
  TdPubsubMessageItem *message = item;

  if (self->filter_channel != NULL)
    {
      g_autofree char *folded = g_utf8_casefold (td_pubsub_message_item_get_channel (message), -1);

      if (strstr (folded, self->filter_channel) == NULL)
        return FALSE;
    }
  /* Search results matched the text in the database already, by words
   * rather than by substring. */
  if (self->searching)
    return TRUE;
  return td_pubsub_message_item_contains (message, self->filter_text);
}

/* Shows the newest message, unless the user scrolled away from it. */
static void
follow_newest (TdPubsubView *self)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->filtered));

  if (self->searching)
    return;
  /* The list's item n is the newest message: the note comes first. */
  if (self->follow && n > 0 && gtk_widget_get_mapped (GTK_WIDGET (self->messages_list)))
    gtk_widget_activate_action (GTK_WIDGET (self->messages_list), "list.scroll-to-item", "u", n);
}

/* Only the user's own scrolling stops the list from following the newest
 * message (the wheel or touchpad, the scrollbar, the keys, below); coming
 * back to the newest message, by any means, follows again. The list moves
 * the adjustment itself while it lays out a change (it keeps the row it
 * shows in place as the oldest messages go), so a move of the adjustment
 * says nothing about the user: taking one for scrolling away left the
 * list on messages the ring then dropped, rebuilding every row. */
static void
adjustment_value_changed_cb (GtkAdjustment *adj,
                             TdPubsubView  *self)
{
  if (gtk_adjustment_get_value (adj) + gtk_adjustment_get_page_size (adj) >=
      gtk_adjustment_get_upper (adj) - 2)
    self->follow = TRUE;
}

static gboolean
user_scrolled_cb (GtkEventControllerScroll *controller,
                  double                    dx,
                  double                    dy,
                  TdPubsubView             *self)
{
  if (dy < 0)
    self->follow = FALSE;
  return GDK_EVENT_PROPAGATE;
}

static void
scrollbar_pressed_cb (GtkGestureClick *gesture,
                      int              n_press,
                      double           x,
                      double           y,
                      TdPubsubView    *self)
{
  self->follow = FALSE;
}

static gboolean
list_key_pressed_cb (GtkEventControllerKey *controller,
                     guint                  keyval,
                     guint                  keycode,
                     GdkModifierType        state,
                     TdPubsubView          *self)
{
  switch (keyval)
    {
    case GDK_KEY_Up: case GDK_KEY_KP_Up:
    case GDK_KEY_Page_Up: case GDK_KEY_KP_Page_Up:
    case GDK_KEY_Home: case GDK_KEY_KP_Home:
      self->follow = FALSE;
      break;
    default:
      break;
    }
  return GDK_EVENT_PROPAGATE;
}

/* ------------------------------------------------------------------ */
/* Mail                                                                */

static void add_builtin (TdPubsubView *self, guint16 port);

static void
loaded (TdPubsubView *self,
        TdRows       *rows)
{
  self->loaded = TRUE;
  if (rows->error != NULL)
    {
      g_message ("Saved pub/sub connections could not be read: %s", rows->error->message);
      return;
    }

  for (guint r = 0; r < rows->n_rows; r++)
    {
      const char *key = td_rows_get_text (rows, r, 0);
      const char *topic = td_rows_get_text (rows, r, 4);

      if (key == NULL)
        continue;
      if (strcmp (key, BUILTIN_KEY) != 0 && find_connection (self, key) == NULL)
        {
          TdPubsubConnection *connection;
          const char *host = td_rows_get_text (rows, r, 1);
          gint64 port = td_rows_get_int (rows, r, 2);

          if (host == NULL || port <= 0 || port > G_MAXUINT16)
            continue;
          connection = td_pubsub_view_add_connection (self, host, (guint16) port,
                                                      td_rows_get_int (rows, r, 3) != 0, NULL);
          (void) connection;
        }
      if (topic != NULL)
        {
          GPtrArray *topics = g_hash_table_lookup (self->saved_topics, key);

          if (topics == NULL)
            {
              topics = g_ptr_array_new_with_free_func (g_free);
              g_hash_table_insert (self->saved_topics, g_strdup (key), topics);
            }
          g_ptr_array_add (topics, g_strdup_printf ("%c%c%s", td_rows_get_int (rows, r, 5) ? '1' : '0',
                                                    td_rows_get_int (rows, r, 6) ? '1' : '0', topic));
        }
    }

  /* Connections that exist already (added above, or the built-in one). */
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (self->connections)); i++)
    {
      g_autoptr(TdPubsubConnection) connection = g_list_model_get_item (G_LIST_MODEL (self->connections), i);

      restore_topics (self, connection);
    }
}

/* Captured messages from before are in: they go first in the list,
 * then whatever arrived live meanwhile. */
static void
history_loaded (TdPubsubView  *self,
                TdStoreResult *result)
{
  self->history_pending = FALSE;

  if (result->error != NULL)
    g_message ("Captured pub/sub messages could not be read: %s", result->error->message);
  else
    {
      GPtrArray *messages = result->result;
      g_autofree gpointer *items = NULL;
      gsize n = 0;

      g_ptr_array_set_free_func (messages, NULL);
      items = (gpointer *) g_ptr_array_steal (messages, &n);
      for (gsize i = 0; i < n; i++)
        items[i] = td_pubsub_message_item_new_logged (items[i]);
      /* Not received in this session: neither counted nor dropped. */
      if (n > 0)
        td_pubsub_ring_append (self->ring, items, (guint) n);
    }

  if (!self->paused)
    flush_held (self, self->held->len);
  update_counts (self);
  follow_newest (self);
}

static void request_page (TdPubsubView *self, gint64 before);

/* One page of search results: appended, and the next one asked for
 * while pages come full and the list has room. */
static void
found (TdPubsubView  *self,
       TdStoreResult *result)
{
  SearchPage *page = result->result;
  g_autofree gpointer *items = NULL;
  gsize n = 0;
  guint total;

  if (result->error != NULL)
    {
      self->search_busy = FALSE;
      if (!g_error_matches (result->error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_free (self->search_error);
          self->search_error = g_strdup (result->error->message);
        }
      update_counts (self);
      return;
    }

  g_ptr_array_set_free_func (page->messages, NULL);
  items = (gpointer *) g_ptr_array_steal (page->messages, &n);
  for (gsize i = 0; i < n; i++)
    items[i] = td_pubsub_message_item_new_logged (items[i]);
  total = g_list_model_get_n_items (G_LIST_MODEL (self->found));
  g_list_store_splice (self->found, total, 0, items, (guint) n);
  for (gsize i = 0; i < n; i++)
    g_object_unref (items[i]);
  total += (guint) n;

  if (n == page->limit && total < td_pubsub_ring_get_capacity (self->ring))
    request_page (self, page->last_id);
  else
    self->search_busy = FALSE;
  update_counts (self);
}

static void
mail_cb (TdMailboxId  id,
         TdMail      *mail,
         gpointer     user_data)
{
  TdPubsubView *self = user_data;

  switch (mail->kind)
    {
    case MAIL_TICK:
      tick (self, ((TdTick *) mail->data)->frame_time);
      break;
    case MAIL_LOADED:
      loaded (self, mail->data);
      break;
    case MAIL_HISTORY:
      history_loaded (self, mail->data);
      break;
    case MAIL_FOUND:
      found (self, mail->data);
      break;
    case MAIL_FLUSH:
      self->flush_timeout = 0;
      flush_live (self);
      break;
    default:
      g_assert_not_reached ();
    }
}

/* ------------------------------------------------------------------ */
/* Search                                                              */

/* Asks the recorder for the page of results below row id @before. */
static void
request_page (TdPubsubView *self,
              gint64        before)
{
  SearchQuery *query = g_new0 (SearchQuery, 1);
  guint have = g_list_model_get_n_items (G_LIST_MODEL (self->found));
  guint room = td_pubsub_ring_get_capacity (self->ring) - MIN (have, td_pubsub_ring_get_capacity (self->ring));

  g_assert (self->recorder != NULL);

  query->match = fts_query (self->search_text);
  query->before = before;
  query->limit = MAX (1, MIN (TD_PUBSUB_VIEW_SEARCH_PAGE, room));
  query->cancellable = g_object_ref (self->search_cancellable);
  td_recorder_load_func (self->recorder, search_worker, query, search_query_free, search_page_free,
                         self->search_mailbox, MAIL_FOUND);
}

/* Replaces the results with those of @text (every word, as a prefix, in
 * the channel or a text payload; "" lists every captured message). */
static void
start_search (TdPubsubView *self,
              const char   *text)
{
  g_cancellable_cancel (self->search_cancellable);
  g_clear_object (&self->search_cancellable);
  /* Pages of the previous search still on their way become stale. */
  self->search_mailbox = td_mailbox_reopen (self->search_mailbox);
  g_list_store_remove_all (self->found);
  g_free (self->search_text);
  self->search_text = g_strdup (text != NULL ? text : "");
  g_clear_pointer (&self->search_error, g_free);
  self->search_busy = FALSE;

  if (self->recorder != NULL)
    {
      self->search_cancellable = g_cancellable_new ();
      self->search_busy = TRUE;
      request_page (self, G_MAXINT64);
    }
  update_counts (self);
}

static void
stop_search (TdPubsubView *self)
{
  g_cancellable_cancel (self->search_cancellable);
  g_clear_object (&self->search_cancellable);
  if (self->search_mailbox != TD_MAILBOX_NONE)
    self->search_mailbox = td_mailbox_reopen (self->search_mailbox);
  g_list_store_remove_all (self->found);
  g_clear_pointer (&self->search_text, g_free);
  g_clear_pointer (&self->search_error, g_free);
  self->search_busy = FALSE;
}

/* ------------------------------------------------------------------ */
/* The embedded broker                                                 */

static void
add_builtin (TdPubsubView *self,
             guint16       port)
{
  g_autoptr(TdPubsubConnection) connection = NULL;

  if (find_connection (self, BUILTIN_KEY) != NULL)
    return;

  connection = td_pubsub_connection_new (BUILTIN_KEY, _("Built-in Broker"), "127.0.0.1", port,
                                         FALSE, NULL, TRUE);
  g_signal_connect_object (connection, "messages", G_CALLBACK (messages_cb), self, 0);
  g_signal_connect_object (connection, "published", G_CALLBACK (published_cb), self, 0);
  g_signal_connect_object (connection, "reconnected", G_CALLBACK (reconnected_cb), self, 0);
  g_list_store_insert (self->connections, 0, connection);
  /* The user may have picked another server meanwhile: keep that. */
  if (g_list_model_get_n_items (G_LIST_MODEL (self->connections)) == 1)
    gtk_single_selection_set_selected (self->connection_selection, 0);
  save_connection (self, connection);
  restore_topics (self, connection);
  td_pubsub_connection_start (connection);
}

/* Waits for the application to have bound the embedded server and its
 * database: both start in the background. */
static gboolean
port_poll_cb (gpointer user_data)
{
  TdPubsubView *self = user_data;
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  GtkApplication *app = GTK_IS_WINDOW (root) ? gtk_window_get_application (GTK_WINDOW (root)) : NULL;
  guint16 port;

  if (TD_IS_APPLICATION (app))
    {
      TdApplication *td_app = TD_APPLICATION (app);

      if (self->recorder == NULL && td_application_get_recorder (td_app) != NULL)
        td_pubsub_view_set_recorder (self, td_application_get_recorder (td_app));

      port = td_application_get_local_port (td_app, "pubsub");
      if (port != 0)
        {
          add_builtin (self, port);
          self->port_poll = 0;
          return G_SOURCE_REMOVE;
        }
      if (!g_settings_get_boolean (self->settings, "local-server"))
        {
          self->port_poll = 0;
          return G_SOURCE_REMOVE;
        }
    }

  if (g_get_monotonic_time () - self->port_poll_since > PORT_POLL_GIVE_UP_S * G_USEC_PER_SEC)
    {
      g_message ("The built-in broker did not come up; the Pub/Sub view shows other servers only");
      self->port_poll = 0;
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------------------ */
/* Rows                                                                */

static TdPubsubView *
view_of (GtkWidget *widget)
{
  return TD_PUBSUB_VIEW (gtk_widget_get_ancestor (widget, TD_TYPE_PUBSUB_VIEW));
}

static GtkWidget *
row_button (const char *icon_name,
            const char *label)
{
  GtkWidget *button = gtk_button_new_from_icon_name (icon_name);

  gtk_widget_add_css_class (button, "flat");
  gtk_widget_add_css_class (button, "circular");
  gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
  td_lazy_tooltip_set (button, label);
  gtk_accessible_update_property (GTK_ACCESSIBLE (button), GTK_ACCESSIBLE_PROPERTY_LABEL, label, -1);
  return button;
}

/* A dim caption whose width is @chars characters whatever its text. */
static GtkWidget *
caption_label (void)
{
  GtkWidget *label = gtk_label_new (NULL);

  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
  gtk_widget_add_css_class (label, "caption");
  gtk_widget_add_css_class (label, "dim-label");
  return label;
}

/* Connections: a state dot, the title and the state, and a remove button. */

static void
remove_connection_clicked_cb (GtkButton *button,
                              gpointer   user_data)
{
  TdPubsubConnection *connection = g_object_get_data (G_OBJECT (button), "connection");
  TdPubsubView *self = view_of (GTK_WIDGET (button));

  if (connection != NULL && self != NULL)
    td_pubsub_view_remove_connection (self, connection);
}

static void
connection_setup_cb (GtkSignalListItemFactory *factory,
                     GtkListItem              *item,
                     gpointer                  user_data)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 8);
  GtkWidget *dot = gtk_image_new_from_icon_name ("media-record-symbolic");
  GtkWidget *texts = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
  GtkWidget *title = gtk_label_new (NULL);
  GtkWidget *status = caption_label ();
  GtkWidget *remove = row_button ("user-trash-symbolic", _("Remove Connection"));

  gtk_image_set_pixel_size (GTK_IMAGE (dot), 10);
  gtk_widget_set_valign (dot, GTK_ALIGN_CENTER);
  gtk_label_set_xalign (GTK_LABEL (title), 0);
  gtk_label_set_ellipsize (GTK_LABEL (title), PANGO_ELLIPSIZE_END);
  gtk_label_set_wrap (GTK_LABEL (status), TRUE);
  gtk_label_set_wrap_mode (GTK_LABEL (status), PANGO_WRAP_WORD_CHAR);
  gtk_label_set_ellipsize (GTK_LABEL (status), PANGO_ELLIPSIZE_END);
  gtk_label_set_lines (GTK_LABEL (status), 3);
  gtk_label_set_max_width_chars (GTK_LABEL (status), 28);
  gtk_widget_set_hexpand (texts, TRUE);
  gtk_box_append (GTK_BOX (texts), title);
  gtk_box_append (GTK_BOX (texts), status);
  gtk_box_append (GTK_BOX (box), dot);
  gtk_box_append (GTK_BOX (box), texts);
  gtk_box_append (GTK_BOX (box), remove);
  g_signal_connect (remove, "clicked", G_CALLBACK (remove_connection_clicked_cb), NULL);

  g_object_set_data (G_OBJECT (item), "dot", dot);
  g_object_set_data (G_OBJECT (item), "title", title);
  g_object_set_data (G_OBJECT (item), "status", status);
  g_object_set_data (G_OBJECT (item), "remove", remove);
  gtk_list_item_set_child (item, box);
}

static void
connection_state_cb (TdPubsubConnection *connection,
                     GParamSpec         *pspec,
                     GtkListItem        *item)
{
  GtkWidget *dot = g_object_get_data (G_OBJECT (item), "dot");
  GtkWidget *status = g_object_get_data (G_OBJECT (item), "status");
  static const char * const classes[] = { "success", "warning", "error", "dim-label", NULL };
  const char *class;

  switch (td_pubsub_connection_get_state (connection))
    {
    case TD_PUBSUB_STATE_CONNECTED:  class = "success"; break;
    case TD_PUBSUB_STATE_CONNECTING: class = "warning"; break;
    case TD_PUBSUB_STATE_RETRYING:   class = "error"; break;
    default:                         class = "dim-label"; break;
    }
  for (guint i = 0; classes[i] != NULL; i++)
    gtk_widget_remove_css_class (dot, classes[i]);
  gtk_widget_add_css_class (dot, class);
  gtk_label_set_label (GTK_LABEL (status), td_pubsub_connection_get_status_text (connection));
  td_lazy_tooltip_set (status, td_pubsub_connection_get_last_error (connection));
}

static void
connection_bind_cb (GtkSignalListItemFactory *factory,
                    GtkListItem              *item,
                    gpointer                  user_data)
{
  TdPubsubConnection *connection = gtk_list_item_get_item (item);
  GtkWidget *title = g_object_get_data (G_OBJECT (item), "title");
  GtkWidget *remove = g_object_get_data (G_OBJECT (item), "remove");
  g_autofree char *subtitle = NULL;

  gtk_label_set_label (GTK_LABEL (title), td_pubsub_connection_get_title (connection));
  subtitle = g_strdup_printf ("%s:%u%s", td_pubsub_connection_get_host (connection),
                              td_pubsub_connection_get_port (connection),
                              td_pubsub_connection_get_tls (connection) ? " (TLS)" : "");
  td_lazy_tooltip_set (title, subtitle);
  gtk_widget_set_visible (remove, !td_pubsub_connection_get_builtin (connection));
  g_object_set_data (G_OBJECT (remove), "connection", connection);
  g_signal_connect (connection, "notify::status-text", G_CALLBACK (connection_state_cb), item);
  connection_state_cb (connection, NULL, item);
}

static void
connection_unbind_cb (GtkSignalListItemFactory *factory,
                      GtkListItem              *item,
                      gpointer                  user_data)
{
  TdPubsubConnection *connection = gtk_list_item_get_item (item);
  GtkWidget *remove = g_object_get_data (G_OBJECT (item), "remove");

  g_object_set_data (G_OBJECT (remove), "connection", NULL);
  g_signal_handlers_disconnect_by_func (connection, connection_state_cb, item);
}

/* Subscriptions: the name, "pattern", a capture toggle and an
 * unsubscribe button. */

static void
capture_toggled_cb (GtkToggleButton *button,
                    gpointer         user_data)
{
  TdPubsubTopic *topic = g_object_get_data (G_OBJECT (button), "topic");
  TdPubsubView *self = view_of (GTK_WIDGET (button));

  if (topic != NULL && self != NULL)
    td_pubsub_view_set_capture (self, topic, gtk_toggle_button_get_active (button));
}

static void
unsubscribe_now (TdPubsubView       *self,
                 TdPubsubConnection *connection,
                 TdPubsubTopic      *topic)
{
  g_autoptr(TdPubsubTopic) keep = g_object_ref (topic);

  if (td_pubsub_connection_unsubscribe (connection, keep))
    save_topic (self, connection, keep, FALSE);
}

typedef struct
{
  GWeakRef       view;
  GWeakRef       connection;
  TdPubsubTopic *topic;
} Unsubscribing;

static void
unsubscribing_free (gpointer  data,
                    GClosure *closure)
{
  Unsubscribing *u = data;

  g_weak_ref_clear (&u->view);
  g_weak_ref_clear (&u->connection);
  g_object_unref (u->topic);
  g_free (u);
}

static void
unsubscribe_response_cb (AdwMessageDialog *dialog,
                         const char       *response,
                         Unsubscribing    *u)
{
  g_autoptr(TdPubsubView) self = g_weak_ref_get (&u->view);
  g_autoptr(TdPubsubConnection) connection = g_weak_ref_get (&u->connection);

  if (g_strcmp0 (response, "unsubscribe") == 0 && self != NULL && connection != NULL)
    unsubscribe_now (self, connection, u->topic);
}

/**
 * td_pubsub_view_unsubscribe:
 *
 * Unsubscribes the selected connection from @topic. Removing a captured
 * subscription deletes what it captured, so then the user is asked first
 * (an AdwMessageDialog) and this returns FALSE; otherwise it is done at
 * once and this returns TRUE.
 */
gboolean
td_pubsub_view_unsubscribe (TdPubsubView  *self,
                            TdPubsubTopic *topic)
{
  TdPubsubConnection *connection;
  GtkRoot *root;
  AdwMessageDialog *dialog;
  Unsubscribing *u;

  g_return_val_if_fail (TD_IS_PUBSUB_VIEW (self), FALSE);
  g_return_val_if_fail (TD_IS_PUBSUB_TOPIC (topic), FALSE);

  connection = td_pubsub_view_get_selected (self);
  if (connection == NULL)
    return FALSE;
  if (!td_pubsub_topic_get_capture (topic))
    {
      unsubscribe_now (self, connection, topic);
      return TRUE;
    }

  root = gtk_widget_get_root (GTK_WIDGET (self));
  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                                       _("Unsubscribe?"), NULL));
  adw_message_dialog_format_body (dialog,
                                  td_pubsub_topic_get_is_pattern (topic)
                                  /* Translators: %s is a pattern such as news.* */
                                  ? _("The messages captured from the pattern “%s” will be deleted.")
                                  /* Translators: %s is a channel name */
                                  : _("The messages captured from the channel “%s” will be deleted."),
                                  td_pubsub_topic_get_name (topic));
  adw_message_dialog_add_responses (dialog,
                                    "cancel", _("_Cancel"),
                                    "unsubscribe", _("_Unsubscribe"),
                                    NULL);
  adw_message_dialog_set_response_appearance (dialog, "unsubscribe", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (dialog, "cancel");
  adw_message_dialog_set_close_response (dialog, "cancel");
  u = g_new0 (Unsubscribing, 1);
  g_weak_ref_init (&u->view, self);
  g_weak_ref_init (&u->connection, connection);
  u->topic = g_object_ref (topic);
  g_signal_connect_data (dialog, "response", G_CALLBACK (unsubscribe_response_cb), u,
                         unsubscribing_free, 0);
  gtk_window_present (GTK_WINDOW (dialog));
  return FALSE;
}

static void
unsubscribe_clicked_cb (GtkButton *button,
                        gpointer   user_data)
{
  TdPubsubTopic *topic = g_object_get_data (G_OBJECT (button), "topic");
  TdPubsubView *self = view_of (GTK_WIDGET (button));

  if (topic != NULL && self != NULL)
    td_pubsub_view_unsubscribe (self, topic);
}

static void
topic_setup_cb (GtkSignalListItemFactory *factory,
                GtkListItem              *item,
                gpointer                  user_data)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *name = gtk_label_new (NULL);
  GtkWidget *kind = caption_label ();
  GtkWidget *capture = gtk_toggle_button_new ();
  GtkWidget *remove = row_button ("window-close-symbolic", _("Unsubscribe"));

  gtk_button_set_icon_name (GTK_BUTTON (capture), "document-save-symbolic");
  gtk_widget_add_css_class (capture, "flat");
  gtk_widget_add_css_class (capture, "circular");
  gtk_widget_set_valign (capture, GTK_ALIGN_CENTER);
  td_lazy_tooltip_set (capture, _("Capture to the database, to keep and search"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (capture), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Capture"), -1);
  g_signal_connect (capture, "toggled", G_CALLBACK (capture_toggled_cb), NULL);
  gtk_label_set_xalign (GTK_LABEL (name), 0);
  gtk_label_set_ellipsize (GTK_LABEL (name), PANGO_ELLIPSIZE_MIDDLE);
  gtk_widget_set_hexpand (name, TRUE);
  gtk_label_set_label (GTK_LABEL (kind), _("pattern"));
  gtk_box_append (GTK_BOX (box), name);
  gtk_box_append (GTK_BOX (box), kind);
  gtk_box_append (GTK_BOX (box), capture);
  gtk_box_append (GTK_BOX (box), remove);
  g_signal_connect (remove, "clicked", G_CALLBACK (unsubscribe_clicked_cb), NULL);

  g_object_set_data (G_OBJECT (item), "name", name);
  g_object_set_data (G_OBJECT (item), "kind", kind);
  g_object_set_data (G_OBJECT (item), "capture", capture);
  g_object_set_data (G_OBJECT (item), "remove", remove);
  gtk_list_item_set_child (item, box);
}

static void
topic_active_cb (TdPubsubTopic *topic,
                 GParamSpec    *pspec,
                 GtkListItem   *item)
{
  GtkWidget *name = g_object_get_data (G_OBJECT (item), "name");

  /* Not yet confirmed by the server (or lost with the connection): dim. */
  gtk_widget_set_opacity (name, td_pubsub_topic_get_active (topic) ? 1.0 : 0.55);
  td_lazy_tooltip_set (name, td_pubsub_topic_get_active (topic) ? NULL : _("Waiting for the server"));
}

static void
topic_capture_cb (TdPubsubTopic *topic,
                  GParamSpec    *pspec,
                  GtkListItem   *item)
{
  GtkWidget *capture = g_object_get_data (G_OBJECT (item), "capture");

  gboolean on = td_pubsub_topic_get_capture (topic);

  g_signal_handlers_block_by_func (capture, capture_toggled_cb, NULL);
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (capture), on);
  g_signal_handlers_unblock_by_func (capture, capture_toggled_cb, NULL);
  if (on)
    gtk_widget_add_css_class (capture, "accent");
  else
    gtk_widget_remove_css_class (capture, "accent");
  td_lazy_tooltip_set (capture, on ? _("Capturing to the database: click to stop")
                                   : _("Capture to the database, to keep and search"));
}

static void
topic_bind_cb (GtkSignalListItemFactory *factory,
               GtkListItem              *item,
               gpointer                  user_data)
{
  TdPubsubTopic *topic = gtk_list_item_get_item (item);

  g_object_set_data (g_object_get_data (G_OBJECT (item), "capture"), "topic", topic);
  g_signal_connect (topic, "notify::capture", G_CALLBACK (topic_capture_cb), item);
  topic_capture_cb (topic, NULL, item);

  gtk_label_set_label (g_object_get_data (G_OBJECT (item), "name"), td_pubsub_topic_get_name (topic));
  gtk_widget_set_visible (g_object_get_data (G_OBJECT (item), "kind"), td_pubsub_topic_get_is_pattern (topic));
  g_object_set_data (g_object_get_data (G_OBJECT (item), "remove"), "topic", topic);
  g_signal_connect (topic, "notify::active", G_CALLBACK (topic_active_cb), item);
  topic_active_cb (topic, NULL, item);
}

static void
topic_unbind_cb (GtkSignalListItemFactory *factory,
                 GtkListItem              *item,
                 gpointer                  user_data)
{
  TdPubsubTopic *topic = gtk_list_item_get_item (item);

  g_object_set_data (g_object_get_data (G_OBJECT (item), "remove"), "topic", NULL);
  g_object_set_data (g_object_get_data (G_OBJECT (item), "capture"), "topic", NULL);
  g_signal_handlers_disconnect_by_func (topic, topic_active_cb, item);
  g_signal_handlers_disconnect_by_func (topic, topic_capture_cb, item);
}

/* Channels: the name, the rate sparkline, the rate and the total. */

static void
channel_setup_cb (GtkSignalListItemFactory *factory,
                  GtkListItem              *item,
                  gpointer                  user_data)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *name = gtk_label_new (NULL);
  GtkWidget *spark = td_sparkline_new ();
  GtkWidget *rate = caption_label ();

  gtk_label_set_xalign (GTK_LABEL (name), 0);
  gtk_label_set_ellipsize (GTK_LABEL (name), PANGO_ELLIPSIZE_MIDDLE);
  gtk_widget_set_hexpand (name, TRUE);
  gtk_widget_set_size_request (spark, 56, 18);
  gtk_widget_set_valign (spark, GTK_ALIGN_CENTER);
  gtk_label_set_xalign (GTK_LABEL (rate), 1);
  gtk_label_set_width_chars (GTK_LABEL (rate), 6);
  gtk_widget_add_css_class (rate, "numeric");
  gtk_box_append (GTK_BOX (box), name);
  gtk_box_append (GTK_BOX (box), spark);
  gtk_box_append (GTK_BOX (box), rate);

  g_object_set_data (G_OBJECT (item), "name", name);
  g_object_set_data (G_OBJECT (item), "spark", spark);
  g_object_set_data (G_OBJECT (item), "rate", rate);
  gtk_list_item_set_child (item, box);
}

static void
channel_changed_cb (TdPubsubChannel *channel,
                    GtkListItem     *item)
{
  GtkWidget *rate = g_object_get_data (G_OBJECT (item), "rate");
  GtkWidget *spark = g_object_get_data (G_OBJECT (item), "spark");
  g_autofree char *text = NULL;
  g_autofree char *total = format_count (td_pubsub_channel_get_total (channel));
  g_autofree char *tooltip = NULL;

  /* Translators: a message rate, messages per second */
  text = g_strdup_printf (_("%.0f/s"), td_pubsub_channel_get_rate (channel));
  gtk_label_set_label (GTK_LABEL (rate), text);
  /* Translators: %s is a number of messages */
  tooltip = g_strdup_printf (_("%s messages in total"), total);
  td_lazy_tooltip_set (gtk_widget_get_parent (rate), tooltip);
  gtk_accessible_update_property (GTK_ACCESSIBLE (spark), GTK_ACCESSIBLE_PROPERTY_LABEL, text, -1);
}

static void
channel_bind_cb (GtkSignalListItemFactory *factory,
                 GtkListItem              *item,
                 gpointer                  user_data)
{
  TdPubsubChannel *channel = gtk_list_item_get_item (item);

  gtk_label_set_label (g_object_get_data (G_OBJECT (item), "name"), td_pubsub_channel_get_name (channel));
  td_sparkline_set_channel (g_object_get_data (G_OBJECT (item), "spark"), channel);
  g_signal_connect (channel, "changed", G_CALLBACK (channel_changed_cb), item);
  channel_changed_cb (channel, item);
}

static void
channel_unbind_cb (GtkSignalListItemFactory *factory,
                   GtkListItem              *item,
                   gpointer                  user_data)
{
  TdPubsubChannel *channel = gtk_list_item_get_item (item);

  td_sparkline_set_channel (g_object_get_data (G_OBJECT (item), "spark"), NULL);
  g_signal_handlers_disconnect_by_func (channel, channel_changed_cb, item);
}

/* Messages: time, channel, pattern, payload. */

static void
message_setup_cb (GtkSignalListItemFactory *factory,
                  GtkListItem              *item,
                  gpointer                  user_data)
{
  /* Texts of a fixed size, placed by the row itself: the list measures a
   * row without laying out any of its text. The list rebinds the rows it
   * keeps (about 30, see ui/style.css) on every flush while a busy
   * channel scrolls. */
  gtk_list_item_set_child (item, td_pubsub_row_new (TD_PUBSUB_VIEW_TIME_CHARS, TD_PUBSUB_VIEW_CHANNEL_CHARS));
}

/* What the note above the first message says. */
static char *
top_note_text (TdPubsubView *self)
{
  g_autofree char *kept = NULL;
  guint capacity;

  if (self->searching)
    return g_strdup (_("Messages found, newest first"));
  if (self->n_dropped == 0)
    return g_strdup (_("Start of the list"));
  capacity = td_pubsub_ring_get_capacity (self->ring);
  kept = format_count (capacity);
  /* Translators: %s is how many messages the list keeps (a setting) */
  return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "Older messages are not kept: the list keeps the newest %s",
                                       "Older messages are not kept: the list keeps the newest %s", capacity),
                          kept);
}

static void
show_top_note (TdPubsubView *self,
               TdPubsubRow  *row)
{
  g_autofree char *text = top_note_text (self);
  GtkWidget *payload = td_pubsub_row_get_text (row, TD_PUBSUB_ROW_PAYLOAD);

  td_pubsub_row_set_logged (row, FALSE);
  td_pubsub_row_set_note (row, TRUE);
  td_row_text_set (TD_ROW_TEXT (payload), text, NULL, NULL);
  gtk_widget_remove_css_class (payload, "monospace");
}

/* Says again what the note says, when that may have changed. */
static void
update_top_note (TdPubsubView *self)
{
  if (self->top_row != NULL)
    show_top_note (self, self->top_row);
}

static void
message_bind_cb (GtkSignalListItemFactory *factory,
                 GtkListItem              *item,
                 TdPubsubView             *self)
{
  TdPubsubMessageItem *message;
  TdPubsubRow *row = TD_PUBSUB_ROW (gtk_list_item_get_child (item));
  GtkWidget *payload = td_pubsub_row_get_text (row, TD_PUBSUB_ROW_PAYLOAD);
  GtkWidget *pattern = td_pubsub_row_get_text (row, TD_PUBSUB_ROW_PATTERN);
  gint64 usec;
  gboolean logged, today;
  g_autoptr(GDateTime) time = NULL;
  g_autoptr(GDateTime) now = NULL;
  g_autofree char *stamp = NULL;
  g_autofree char *full = NULL;
  const char *pattern_name;
  g_autofree char *pattern_text = NULL;

  if (gtk_list_item_get_item (item) == self->top_item)
    {
      self->top_row = row;
      show_top_note (self, row);
      return;
    }

  message = gtk_list_item_get_item (item);
  usec = td_pubsub_message_item_get_time (message);
  logged = td_pubsub_message_item_get_logged (message);
  time = td_local_time_new (usec);
  now = td_local_time_now ();
  today = time != NULL && g_date_time_get_year (time) == g_date_time_get_year (now) &&
          g_date_time_get_day_of_year (time) == g_date_time_get_day_of_year (now);
  /* Captured messages may be from another day. */
  stamp = time != NULL ? g_date_time_format (time, logged && !today ? "%Y-%m-%d %H:%M:%S" : "%H:%M:%S")
                       : g_strdup ("");
  full = g_strdup_printf ("%s.%03d", stamp, (int) (usec % G_USEC_PER_SEC / 1000));
  pattern_name = td_pubsub_message_item_get_pattern (message);

  td_pubsub_row_set_note (row, FALSE);
  td_pubsub_row_set_logged (row, logged);
  td_row_text_set (TD_ROW_TEXT (td_pubsub_row_get_text (row, TD_PUBSUB_ROW_TIME)), full, NULL,
                   td_row_text_tabular_digits ());
  td_row_text_set (TD_ROW_TEXT (td_pubsub_row_get_text (row, TD_PUBSUB_ROW_CHANNEL)),
                   td_pubsub_message_item_get_channel (message), NULL, NULL);
  if (pattern_name != NULL)
    /* Translators: %s is the pattern a message matched */
    pattern_text = g_strdup_printf (_("via %s"), pattern_name);
  td_row_text_set (TD_ROW_TEXT (pattern), pattern_text, NULL, NULL);
  gtk_widget_set_visible (pattern, pattern_name != NULL);
  td_row_text_set (TD_ROW_TEXT (payload), td_pubsub_message_item_get_display (message), NULL, NULL);
  if (td_pubsub_message_item_get_format (message) == TD_PAYLOAD_TEXT)
    gtk_widget_remove_css_class (payload, "monospace");
  else
    gtk_widget_add_css_class (payload, "monospace");
}

static void
message_unbind_cb (GtkSignalListItemFactory *factory,
                   GtkListItem              *item,
                   TdPubsubView             *self)
{
  if (gtk_list_item_get_item (item) == self->top_item)
    self->top_row = NULL;
}

static GtkListItemFactory *
factory_new (GCallback setup,
             GCallback bind,
             GCallback unbind)
{
  GtkListItemFactory *factory = gtk_signal_list_item_factory_new ();

  g_signal_connect (factory, "setup", setup, NULL);
  g_signal_connect (factory, "bind", bind, NULL);
  if (unbind != NULL)
    g_signal_connect (factory, "unbind", unbind, NULL);
  return factory;
}

/* ------------------------------------------------------------------ */
/* Template callbacks and actions                                      */

static void
ring_size_changed_cb (TdPubsubView *self)
{
  td_pubsub_ring_set_capacity (self->ring, g_settings_get_uint (self->settings, "pubsub-ring-size"));
  trim_held (self);
  update_counts (self);
}

static void
selection_changed_cb (TdPubsubView *self)
{
  TdPubsubConnection *connection = td_pubsub_view_get_selected (self);
  g_autoptr(GtkNoSelection) topics = NULL;

  if (connection != NULL)
    topics = gtk_no_selection_new (g_object_ref (td_pubsub_connection_get_topics (connection)));
  gtk_list_view_set_model (self->topics_list, GTK_SELECTION_MODEL (topics));
  update_actions (self);
}

static void
entry_changed_cb (TdPubsubView *self)
{
  update_actions (self);
}

static void
filter_changed_cb (TdPubsubView *self)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->text_filter_entry));

  td_pubsub_view_set_filter (self,
                             gtk_editable_get_text (GTK_EDITABLE (self->channel_filter_entry)),
                             text);
  if (self->searching && g_strcmp0 (text, self->search_text) != 0)
    start_search (self, text);
}

static void
subscribe_action (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  TdPubsubView *self = TD_PUBSUB_VIEW (widget);
  g_autofree char *name = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->subscribe_entry))));

  if (*name == '\0')
    return;
  td_pubsub_view_subscribe (self, name, gtk_check_button_get_active (self->pattern_check));
  gtk_editable_set_text (GTK_EDITABLE (self->subscribe_entry), "");
}

static void
subscribe_entry_activate_cb (TdPubsubView *self)
{
  gtk_widget_activate_action (GTK_WIDGET (self), "pubsub.subscribe", NULL);
}

static void
publish_action (GtkWidget  *widget,
                const char *action_name,
                GVariant   *parameter)
{
  TdPubsubView *self = TD_PUBSUB_VIEW (widget);

  td_pubsub_view_publish (self,
                          gtk_editable_get_text (GTK_EDITABLE (self->publish_channel_entry)),
                          gtk_editable_get_text (GTK_EDITABLE (self->publish_message_entry)));
}

static void
publish_entry_activate_cb (TdPubsubView *self)
{
  gtk_widget_activate_action (GTK_WIDGET (self), "pubsub.publish", NULL);
}

static void
clear_action (GtkWidget  *widget,
              const char *action_name,
              GVariant   *parameter)
{
  td_pubsub_view_clear (TD_PUBSUB_VIEW (widget));
}

static void
add_connection_action (GtkWidget  *widget,
                       const char *action_name,
                       GVariant   *parameter)
{
  TdPubsubView *self = TD_PUBSUB_VIEW (widget);
  g_autofree char *host = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->host_entry))));
  TdPubsubConnection *connection;

  if (*host == '\0')
    return;
  connection = td_pubsub_view_add_connection (self, host,
                                              (guint16) gtk_spin_button_get_value_as_int (self->port_spin),
                                              gtk_check_button_get_active (self->tls_check),
                                              gtk_editable_get_text (GTK_EDITABLE (self->password_entry)));
  gtk_editable_set_text (GTK_EDITABLE (self->password_entry), "");
  gtk_popover_popdown (self->add_connection_popover);
  td_pubsub_view_select (self, connection);
}

/* ------------------------------------------------------------------ */
/* GObject                                                             */

static void
follow_newest_cb (gpointer data)
{
  follow_newest (data);
}

static void
td_pubsub_view_map (GtkWidget *widget)
{
  TdPubsubView *self = TD_PUBSUB_VIEW (widget);

  GTK_WIDGET_CLASS (td_pubsub_view_parent_class)->map (widget);

  /* What came while the view was hidden. Messages that went into the
   * list then (TD_PUBSUB_VIEW_PREBUILD) were not followed, and the list
   * can only scroll to a row once it is allocated. */
  flush_live (self);
  td_after_layout_queue (&self->follow_later, widget, follow_newest_cb, self);
}

/* The application closes its recorder at shutdown, after its windows
 * went away: a view that is no longer in a window saves nothing more. */
static void
td_pubsub_view_unroot (GtkWidget *widget)
{
  TdPubsubView *self = TD_PUBSUB_VIEW (widget);

  self->recorder = NULL;
  g_clear_handle_id (&self->port_poll, g_source_remove);

  GTK_WIDGET_CLASS (td_pubsub_view_parent_class)->unroot (widget);
}

static void
td_pubsub_view_dispose (GObject *object)
{
  TdPubsubView *self = TD_PUBSUB_VIEW (object);

  g_clear_handle_id (&self->port_poll, g_source_remove);
  g_clear_handle_id (&self->flush_timeout, td_mail_cancel_timeout);
  td_after_layout_cancel (&self->follow_later);
  if (self->mailbox != TD_MAILBOX_NONE)
    {
      td_mailbox_close (self->mailbox);
      self->mailbox = TD_MAILBOX_NONE;
    }
  g_cancellable_cancel (self->search_cancellable);
  g_clear_object (&self->search_cancellable);
  if (self->search_mailbox != TD_MAILBOX_NONE)
    {
      td_mailbox_close (self->search_mailbox);
      self->search_mailbox = TD_MAILBOX_NONE;
    }
  g_clear_pointer (&self->ticker, td_ticker_free);
  self->animation = 0;
  if (self->connections != NULL)
    {
      guint n = g_list_model_get_n_items (G_LIST_MODEL (self->connections));

      for (guint i = 0; i < n; i++)
        {
          g_autoptr(TdPubsubConnection) connection = g_list_model_get_item (G_LIST_MODEL (self->connections), i);

          g_signal_handlers_disconnect_by_data (connection, self);
        }
    }

  gtk_widget_dispose_template (GTK_WIDGET (self), TD_TYPE_PUBSUB_VIEW);

  g_clear_object (&self->connection_selection);
  g_clear_object (&self->connections);
  g_clear_object (&self->filtered);
  g_clear_object (&self->top_item);
  g_clear_object (&self->filter);
  g_clear_object (&self->ring);
  g_clear_object (&self->found);
  g_clear_object (&self->channels);
  g_clear_pointer (&self->channel_index, g_hash_table_unref);
  g_clear_pointer (&self->held, g_ptr_array_unref);
  g_clear_pointer (&self->saved_topics, g_hash_table_unref);
  g_clear_object (&self->settings);
  self->recorder = NULL;
  self->publish_connection = NULL;

  G_OBJECT_CLASS (td_pubsub_view_parent_class)->dispose (object);
}

static void
td_pubsub_view_finalize (GObject *object)
{
  TdPubsubView *self = TD_PUBSUB_VIEW (object);

  g_free (self->filter_channel);
  g_free (self->filter_text);
  g_free (self->counts_text);
  g_free (self->publish_result);
  g_free (self->search_text);
  g_free (self->search_error);

  G_OBJECT_CLASS (td_pubsub_view_parent_class)->finalize (object);
}

static void
td_pubsub_view_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  TdPubsubView *self = TD_PUBSUB_VIEW (object);

  switch (prop_id)
    {
    case PROP_PAUSED:
      g_value_set_boolean (value, self->paused);
      break;
    case PROP_SEARCHING:
      g_value_set_boolean (value, self->searching);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
td_pubsub_view_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  TdPubsubView *self = TD_PUBSUB_VIEW (object);

  switch (prop_id)
    {
    case PROP_PAUSED:
      td_pubsub_view_set_paused (self, g_value_get_boolean (value));
      break;
    case PROP_SEARCHING:
      td_pubsub_view_set_searching (self, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
td_pubsub_view_class_init (TdPubsubViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = td_pubsub_view_dispose;
  object_class->finalize = td_pubsub_view_finalize;
  object_class->get_property = td_pubsub_view_get_property;
  object_class->set_property = td_pubsub_view_set_property;
  widget_class->unroot = td_pubsub_view_unroot;
  widget_class->map = td_pubsub_view_map;

  properties[PROP_PAUSED] =
    g_param_spec_boolean ("paused", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_SEARCHING] =
    g_param_spec_boolean ("searching", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/tidings/Tidings/td-pubsub-view.ui");
  gtk_widget_class_bind_template_child (widget_class, TdPubsubView, add_connection_button);
  gtk_widget_class_bind_template_child (widget_class, TdPubsubView, connections_list);
  gtk_widget_class_bind_template_child (widget_class, TdPubsubView, topics_list);
  gtk_widget_class_bind_template_child (widget_class, TdPubsubView, channels_list);
  gtk_widget_class_bind_template_child (widget_class, TdPubsubView, channels_empty_label);
  gtk_widget_class_bind_template_child (widget_class, TdPubsubView, messages_list);
  gtk_widget_class_bind_template_child (widget_class, TdPubsubView, messages_scroller);
  gtk_widget_class_bind_template_child (widget_class, TdPubsubView, list_stack);
  gtk_widget_class_bind_template_child (widget_class, TdPubsubView, subscribe_entry);
  gtk_widget_class_bind_template_child (widget_class, TdPubsubView, pattern_check);
  gtk_widget_class_bind_template_child (widget_class, TdPubsubView, text_filter_entry);
  gtk_widget_class_bind_template_child (widget_class, TdPubsubView, channel_filter_entry);
  gtk_widget_class_bind_template_child (widget_class, TdPubsubView, counts_label);
  gtk_widget_class_bind_template_child (widget_class, TdPubsubView, publish_channel_entry);
  gtk_widget_class_bind_template_child (widget_class, TdPubsubView, publish_message_entry);
  gtk_widget_class_bind_template_child (widget_class, TdPubsubView, publish_result_label);
  gtk_widget_class_bind_template_child (widget_class, TdPubsubView, add_connection_popover);
  gtk_widget_class_bind_template_child (widget_class, TdPubsubView, host_entry);
  gtk_widget_class_bind_template_child (widget_class, TdPubsubView, port_spin);
  gtk_widget_class_bind_template_child (widget_class, TdPubsubView, password_entry);
  gtk_widget_class_bind_template_child (widget_class, TdPubsubView, tls_check);
  gtk_widget_class_bind_template_child (widget_class, TdPubsubView, search_button);
  gtk_widget_class_bind_template_callback (widget_class, entry_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, filter_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, subscribe_entry_activate_cb);
  gtk_widget_class_bind_template_callback (widget_class, publish_entry_activate_cb);

  gtk_widget_class_install_action (widget_class, "pubsub.subscribe", NULL, subscribe_action);
  gtk_widget_class_install_action (widget_class, "pubsub.publish", NULL, publish_action);
  gtk_widget_class_install_action (widget_class, "pubsub.clear", NULL, clear_action);
  gtk_widget_class_install_action (widget_class, "pubsub.add-connection", NULL, add_connection_action);
  gtk_widget_class_install_property_action (widget_class, "pubsub.paused", "paused");
  gtk_widget_class_install_property_action (widget_class, "pubsub.search-captured", "searching");

  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_space, GDK_CONTROL_MASK, "pubsub.paused", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_l, GDK_CONTROL_MASK, "pubsub.clear", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_f, GDK_CONTROL_MASK | GDK_SHIFT_MASK,
                                       "pubsub.search-captured", NULL);

  g_type_ensure (TD_TYPE_SPARKLINE);
}

static void
td_pubsub_view_init (TdPubsubView *self)
{
  g_autoptr(GtkListItemFactory) connection_factory = NULL;
  g_autoptr(GtkListItemFactory) topic_factory = NULL;
  g_autoptr(GtkListItemFactory) channel_factory = NULL;
  g_autoptr(GtkListItemFactory) message_factory = NULL;
  g_autoptr(GtkNoSelection) channel_selection = NULL;
  g_autoptr(GtkNoSelection) message_selection = NULL;
  g_autoptr(GListStore) top = NULL;
  g_autoptr(GListStore) parts = NULL;
  GtkAdjustment *adj;
  GtkEventController *controller;

  gtk_widget_init_template (GTK_WIDGET (self));

  self->settings = g_settings_new ("io.github.tidings.Tidings");
  self->mailbox = td_mailbox_open (NULL, G_PRIORITY_DEFAULT, mail_cb, self, NULL);
  self->search_mailbox = td_mailbox_open (NULL, G_PRIORITY_DEFAULT, mail_cb, self, NULL);
  self->capture_max = TD_PUBSUB_VIEW_CAPTURE_MAX;
  self->found = g_list_store_new (TD_TYPE_PUBSUB_MESSAGE_ITEM);
  self->ticker = td_ticker_new (NULL, 0);
  self->follow = TRUE;
  self->held = g_ptr_array_new_with_free_func (g_object_unref);
  self->channel_index = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->saved_topics = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_ptr_array_unref);

  /* Connections */
  self->connections = g_list_store_new (TD_TYPE_PUBSUB_CONNECTION);
  self->connection_selection = gtk_single_selection_new (g_object_ref (G_LIST_MODEL (self->connections)));
  g_signal_connect_swapped (self->connection_selection, "notify::selected-item",
                            G_CALLBACK (selection_changed_cb), self);
  connection_factory = factory_new (G_CALLBACK (connection_setup_cb), G_CALLBACK (connection_bind_cb),
                                    G_CALLBACK (connection_unbind_cb));
  gtk_list_view_set_factory (self->connections_list, connection_factory);
  gtk_list_view_set_model (self->connections_list, GTK_SELECTION_MODEL (self->connection_selection));

  topic_factory = factory_new (G_CALLBACK (topic_setup_cb), G_CALLBACK (topic_bind_cb),
                               G_CALLBACK (topic_unbind_cb));
  gtk_list_view_set_factory (self->topics_list, topic_factory);

  /* Channels */
  self->channels = g_list_store_new (TD_TYPE_PUBSUB_CHANNEL);
  channel_selection = gtk_no_selection_new (g_object_ref (G_LIST_MODEL (self->channels)));
  channel_factory = factory_new (G_CALLBACK (channel_setup_cb), G_CALLBACK (channel_bind_cb),
                                 G_CALLBACK (channel_unbind_cb));
  gtk_list_view_set_factory (self->channels_list, channel_factory);
  gtk_list_view_set_model (self->channels_list, GTK_SELECTION_MODEL (channel_selection));

  /* Messages */
  self->ring = td_pubsub_ring_new (TD_TYPE_PUBSUB_MESSAGE_ITEM,
                                   g_settings_get_uint (self->settings, "pubsub-ring-size"));
  g_signal_connect_object (self->settings, "changed::pubsub-ring-size",
                           G_CALLBACK (ring_size_changed_cb), self, G_CONNECT_SWAPPED);
  self->filter = gtk_custom_filter_new (filter_match, self, NULL);
  self->filtered = gtk_filter_list_model_new (g_object_ref (G_LIST_MODEL (self->ring)), NULL);
  /* A note comes first and stays first. GTK 4.8 keeps a row for the
   * item its focus and selection trackers point at, and they point at the
   * first item once the list has one. Were that a message, each flush of
   * a full ring would drop it, destroy its row and put a new row first;
   * and a new first row restyles every row after it (1,000 styles, 10 ms
   * of every flush at 5,000 messages a second). */
  self->top_item = g_object_new (G_TYPE_OBJECT, NULL);
  top = g_list_store_new (G_TYPE_OBJECT);
  g_list_store_append (top, self->top_item);
  parts = g_list_store_new (G_TYPE_LIST_MODEL);
  g_list_store_append (parts, top);
  g_list_store_append (parts, self->filtered);
  message_selection = gtk_no_selection_new (G_LIST_MODEL (gtk_flatten_list_model_new (G_LIST_MODEL (g_steal_pointer (&parts)))));
  message_factory = gtk_signal_list_item_factory_new ();
  g_signal_connect (message_factory, "setup", G_CALLBACK (message_setup_cb), NULL);
  g_signal_connect (message_factory, "bind", G_CALLBACK (message_bind_cb), self);
  g_signal_connect (message_factory, "unbind", G_CALLBACK (message_unbind_cb), self);
  gtk_grid_view_set_factory (self->messages_list, message_factory);
  gtk_grid_view_set_model (self->messages_list, GTK_SELECTION_MODEL (message_selection));

  adj = gtk_scrolled_window_get_vadjustment (self->messages_scroller);
  g_signal_connect (adj, "value-changed", G_CALLBACK (adjustment_value_changed_cb), self);
  controller = gtk_event_controller_scroll_new (GTK_EVENT_CONTROLLER_SCROLL_VERTICAL);
  gtk_event_controller_set_propagation_phase (controller, GTK_PHASE_CAPTURE);
  g_signal_connect (controller, "scroll", G_CALLBACK (user_scrolled_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self->messages_scroller), controller);
  controller = GTK_EVENT_CONTROLLER (gtk_gesture_click_new ());
  gtk_event_controller_set_propagation_phase (controller, GTK_PHASE_CAPTURE);
  g_signal_connect (controller, "pressed", G_CALLBACK (scrollbar_pressed_cb), self);
  gtk_widget_add_controller (gtk_scrolled_window_get_vscrollbar (self->messages_scroller), controller);
  controller = gtk_event_controller_key_new ();
  gtk_event_controller_set_propagation_phase (controller, GTK_PHASE_CAPTURE);
  g_signal_connect (controller, "key-pressed", G_CALLBACK (list_key_pressed_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self->messages_list), controller);

  update_counts (self);
  update_actions (self);

  self->port_poll_since = g_get_monotonic_time ();
  self->port_poll = g_timeout_add (PORT_POLL_MS, port_poll_cb, self);
}

/* ------------------------------------------------------------------ */
/* Public API                                                          */

GtkWidget *
td_pubsub_view_new (void)
{
  return g_object_new (TD_TYPE_PUBSUB_VIEW, NULL);
}

/* Saves connections and subscriptions with @recorder from now on, and
 * restores what it holds. Call once; the recorder must outlive the view. */
void
td_pubsub_view_set_recorder (TdPubsubView *self,
                             TdRecorder   *recorder)
{
  g_return_if_fail (TD_IS_PUBSUB_VIEW (self));
  g_return_if_fail (recorder != NULL);
  g_return_if_fail (self->recorder == NULL);

  self->recorder = recorder;
  /* What was added before the store was known is saved now; the load
   * below runs after these saves. */
  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (self->connections)); i++)
    {
      g_autoptr(TdPubsubConnection) connection = g_list_model_get_item (G_LIST_MODEL (self->connections), i);
      GListModel *topics = td_pubsub_connection_get_topics (connection);

      save_connection (self, connection);
      for (guint j = 0; j < g_list_model_get_n_items (topics); j++)
        {
          g_autoptr(TdPubsubTopic) topic = g_list_model_get_item (topics, j);

          save_topic (self, connection, topic, TRUE);
          if (td_pubsub_topic_get_capture (topic))
            save_capture (self, connection, topic);
        }
    }
  td_recorder_load (recorder, SQL_LOAD, NULL, 0, self->mailbox, MAIL_LOADED);

  /* Captured traffic from before shows first: live messages wait for it. */
  {
    HistoryQuery *query = g_new0 (HistoryQuery, 1);

    query->per_subscription = TD_PUBSUB_VIEW_HISTORY;
    query->max_total = td_pubsub_ring_get_capacity (self->ring);
    self->history_pending = TRUE;
    td_recorder_load_func (recorder, history_worker, query, g_free, (GDestroyNotify) g_ptr_array_unref,
                           self->mailbox, MAIL_HISTORY);
  }
}

/* Points the built-in broker's connection at @port (creating it if
 * needed), instead of the application's embedded server. */
void
td_pubsub_view_set_builtin_port (TdPubsubView *self,
                                 guint16       port)
{
  g_return_if_fail (TD_IS_PUBSUB_VIEW (self));
  g_return_if_fail (port > 0);

  g_clear_handle_id (&self->port_poll, g_source_remove);
  add_builtin (self, port);
}

/* Adds (and connects) a Redis server; returns the connection, owned by
 * the view. An existing connection to the same host and port is
 * returned as is. */
TdPubsubConnection *
td_pubsub_view_add_connection (TdPubsubView *self,
                               const char   *host,
                               guint16       port,
                               gboolean      tls,
                               const char   *password)
{
  g_autoptr(TdPubsubConnection) connection = NULL;
  g_autofree char *key = NULL;
  TdPubsubConnection *existing;

  g_return_val_if_fail (TD_IS_PUBSUB_VIEW (self), NULL);
  g_return_val_if_fail (host != NULL && *host != '\0', NULL);
  g_return_val_if_fail (port > 0, NULL);

  key = g_strdup_printf ("%s%s:%u", tls ? "tls://" : "", host, port);
  existing = find_connection (self, key);
  if (existing != NULL)
    return existing;

  connection = td_pubsub_connection_new (key, key, host, port, tls, password, FALSE);
  g_signal_connect_object (connection, "messages", G_CALLBACK (messages_cb), self, 0);
  g_signal_connect_object (connection, "published", G_CALLBACK (published_cb), self, 0);
  g_signal_connect_object (connection, "reconnected", G_CALLBACK (reconnected_cb), self, 0);
  g_list_store_append (self->connections, connection);
  save_connection (self, connection);
  restore_topics (self, connection);
  td_pubsub_connection_start (connection);
  update_actions (self);
  return connection;
}

/* Disconnects and forgets @connection (the built-in one stays). */
void
td_pubsub_view_remove_connection (TdPubsubView       *self,
                                  TdPubsubConnection *connection)
{
  guint position;

  g_return_if_fail (TD_IS_PUBSUB_VIEW (self));
  g_return_if_fail (TD_IS_PUBSUB_CONNECTION (connection));

  if (td_pubsub_connection_get_builtin (connection) ||
      !g_list_store_find (self->connections, connection, &position))
    return;

  if (self->recorder != NULL)
    td_recorder_save_values (self->recorder, SQL_DELETE_CONNECTION,
                             TD_TEXT (td_pubsub_connection_get_key (connection)));
  if (self->publish_connection == connection)
    self->publish_connection = NULL;
  g_signal_handlers_disconnect_by_data (connection, self);
  td_pubsub_connection_stop (connection);
  g_list_store_remove (self->connections, position);
  update_actions (self);
}

GListModel *
td_pubsub_view_get_connections (TdPubsubView *self)
{
  g_return_val_if_fail (TD_IS_PUBSUB_VIEW (self), NULL);
  return G_LIST_MODEL (self->connections);
}

/* The connection that subscribe and publish go to, or NULL. */
TdPubsubConnection *
td_pubsub_view_get_selected (TdPubsubView *self)
{
  g_return_val_if_fail (TD_IS_PUBSUB_VIEW (self), NULL);
  return gtk_single_selection_get_selected_item (self->connection_selection);
}

void
td_pubsub_view_select (TdPubsubView       *self,
                       TdPubsubConnection *connection)
{
  guint position;

  g_return_if_fail (TD_IS_PUBSUB_VIEW (self));
  g_return_if_fail (TD_IS_PUBSUB_CONNECTION (connection));

  if (g_list_store_find (self->connections, connection, &position))
    gtk_single_selection_set_selected (self->connection_selection, position);
}

/* Subscribes the selected connection to @name: as a pattern when
 * @force_pattern is set or @name has glob characters. Returns the new
 * topic, or NULL if there is no connection or it was subscribed already. */
TdPubsubTopic *
td_pubsub_view_subscribe (TdPubsubView *self,
                          const char   *name,
                          gboolean      force_pattern)
{
  TdPubsubConnection *connection;
  TdPubsubTopic *topic;

  g_return_val_if_fail (TD_IS_PUBSUB_VIEW (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);

  connection = td_pubsub_view_get_selected (self);
  if (connection == NULL || *name == '\0')
    return NULL;
  topic = td_pubsub_connection_subscribe (connection, name, force_pattern || td_pubsub_is_pattern (name));
  if (topic != NULL)
    save_topic (self, connection, topic, TRUE);
  return topic;
}

/* Publishes on the selected connection; the result shows as "Published
 * (N receivers)". Returns the request id, 0 if nothing was sent. */
guint64
td_pubsub_view_publish (TdPubsubView *self,
                        const char   *channel,
                        const char   *message)
{
  TdPubsubConnection *connection;

  g_return_val_if_fail (TD_IS_PUBSUB_VIEW (self), 0);
  g_return_val_if_fail (channel != NULL && message != NULL, 0);

  connection = td_pubsub_view_get_selected (self);
  if (connection == NULL || *channel == '\0')
    return 0;

  self->publish_connection = connection;
  self->publish_request = td_pubsub_connection_publish (connection, channel, message);
  g_free (self->publish_result);
  self->publish_result = g_strdup (_("Publishing…"));
  gtk_label_set_label (self->publish_result_label, self->publish_result);
  return self->publish_request;
}

const char *
td_pubsub_view_get_publish_result (TdPubsubView *self)
{
  g_return_val_if_fail (TD_IS_PUBSUB_VIEW (self), NULL);
  return self->publish_result;
}

/* Every message kept, oldest first (TdPubsubMessageItem). */
TdPubsubRing *
td_pubsub_view_get_ring (TdPubsubView *self)
{
  g_return_val_if_fail (TD_IS_PUBSUB_VIEW (self), NULL);
  return self->ring;
}

/* The messages the list shows: the ring through the filter. */
GListModel *
td_pubsub_view_get_visible_messages (TdPubsubView *self)
{
  g_return_val_if_fail (TD_IS_PUBSUB_VIEW (self), NULL);
  return G_LIST_MODEL (self->filtered);
}

/* Channels seen (TdPubsubChannel), with their rates. */
GListModel *
td_pubsub_view_get_channels (TdPubsubView *self)
{
  g_return_val_if_fail (TD_IS_PUBSUB_VIEW (self), NULL);
  return G_LIST_MODEL (self->channels);
}

guint64
td_pubsub_view_get_n_received (TdPubsubView *self)
{
  g_return_val_if_fail (TD_IS_PUBSUB_VIEW (self), 0);
  return self->n_received;
}

/* Messages no longer in memory: pushed out of the ring, or of the
 * pause buffer, or dropped by a client whose receiver fell behind. */
guint64
td_pubsub_view_get_n_dropped (TdPubsubView *self)
{
  g_return_val_if_fail (TD_IS_PUBSUB_VIEW (self), 0);
  return self->n_dropped;
}

const char *
td_pubsub_view_get_counts_text (TdPubsubView *self)
{
  g_return_val_if_fail (TD_IS_PUBSUB_VIEW (self), NULL);
  return self->counts_text;
}

/* While paused, messages are counted and kept aside (up to the ring
 * size); resuming adds them to the list in one change. */
void
td_pubsub_view_set_paused (TdPubsubView *self,
                           gboolean      paused)
{
  g_return_if_fail (TD_IS_PUBSUB_VIEW (self));

  paused = !!paused;
  if (self->paused == paused)
    return;
  self->paused = paused;

  if (!paused && !self->history_pending)
    flush_held (self, self->held->len);
  update_counts (self);
  follow_newest (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PAUSED]);
}

gboolean
td_pubsub_view_get_paused (TdPubsubView *self)
{
  g_return_val_if_fail (TD_IS_PUBSUB_VIEW (self), FALSE);
  return self->paused;
}

/* Shows only messages whose channel contains @channel and whose payload
 * contains @text (both case-insensitive; NULL or "" matches all). */
void
td_pubsub_view_set_filter (TdPubsubView *self,
                           const char   *channel,
                           const char   *text)
{
  g_return_if_fail (TD_IS_PUBSUB_VIEW (self));

  g_clear_pointer (&self->filter_channel, g_free);
  g_clear_pointer (&self->filter_text, g_free);
  if (channel != NULL && *channel != '\0')
    self->filter_channel = g_utf8_casefold (channel, -1);
  if (text != NULL && *text != '\0')
    self->filter_text = g_utf8_casefold (text, -1);

  if (self->filter_channel == NULL && self->filter_text == NULL)
    gtk_filter_list_model_set_filter (self->filtered, NULL);
  else
    {
      gtk_filter_list_model_set_filter (self->filtered, GTK_FILTER (self->filter));
      gtk_filter_changed (GTK_FILTER (self->filter), GTK_FILTER_CHANGE_DIFFERENT);
    }
}

/* Empties the list and the counters (the channels' rates stay). */
void
td_pubsub_view_clear (TdPubsubView *self)
{
  g_return_if_fail (TD_IS_PUBSUB_VIEW (self));

  td_pubsub_ring_clear (self->ring);
  g_ptr_array_set_size (self->held, 0);
  self->n_received = 0;
  self->n_dropped = 0;
  self->follow = TRUE;
  update_counts (self);
}

/* TRUE while the rate sparklines animate (messages arrived recently). */
gboolean
td_pubsub_view_is_animating (TdPubsubView *self)
{
  g_return_val_if_fail (TD_IS_PUBSUB_VIEW (self), FALSE);
  return self->animation != 0 && td_ticker_is_armed (self->ticker);
}

/* Turns capturing of @topic's messages to the database on or off, and
 * saves the choice with the subscription. What was captured stays
 * (searchable, shown at the next start) until the subscription is
 * removed; while off, nothing more is stored. */
void
td_pubsub_view_set_capture (TdPubsubView  *self,
                            TdPubsubTopic *topic,
                            gboolean       capture)
{
  TdPubsubConnection *connection;

  g_return_if_fail (TD_IS_PUBSUB_VIEW (self));
  g_return_if_fail (TD_IS_PUBSUB_TOPIC (topic));

  if (!td_pubsub_topic_get_capture (topic) == !capture)
    return;
  td_pubsub_topic_set_capture (topic, capture);
  connection = connection_of_topic (self, topic);
  if (connection != NULL)
    save_capture (self, connection, topic);
}

/* How many messages each captured subscription keeps in the database
 * (TD_PUBSUB_VIEW_CAPTURE_MAX unless changed); applies from the next
 * batch on. */
void
td_pubsub_view_set_capture_max (TdPubsubView *self,
                                guint         max)
{
  g_return_if_fail (TD_IS_PUBSUB_VIEW (self));
  g_return_if_fail (max > 0);

  self->capture_max = max;
}

/* In search mode the list shows captured messages from the database that
 * match the text of the filter entry (every word, as a prefix, in the
 * channel or a text payload), newest first, instead of the live ring.
 * Live traffic keeps coming into the ring meanwhile. */
void
td_pubsub_view_set_searching (TdPubsubView *self,
                              gboolean      searching)
{
  g_return_if_fail (TD_IS_PUBSUB_VIEW (self));

  searching = !!searching;
  if (self->searching == searching)
    return;
  self->searching = searching;

  if (searching)
    {
      g_object_set (self->text_filter_entry, "placeholder-text", _("Search captured messages"), NULL);
      gtk_filter_list_model_set_model (self->filtered, G_LIST_MODEL (self->found));
      start_search (self, gtk_editable_get_text (GTK_EDITABLE (self->text_filter_entry)));
    }
  else
    {
      stop_search (self);
      g_object_set (self->text_filter_entry, "placeholder-text", _("Filter messages"), NULL);
      gtk_filter_list_model_set_model (self->filtered, G_LIST_MODEL (self->ring));
      self->follow = TRUE;
    }
  /* The text part of the filter applies to the live list only. */
  filter_changed_cb (self);
  update_counts (self);
  follow_newest (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SEARCHING]);
}

gboolean
td_pubsub_view_get_searching (TdPubsubView *self)
{
  g_return_val_if_fail (TD_IS_PUBSUB_VIEW (self), FALSE);
  return self->searching;
}

/* Searches captured messages for @text ("" lists them all) and shows the
 * results; see td_pubsub_view_set_searching(). */
void
td_pubsub_view_search (TdPubsubView *self,
                       const char   *text)
{
  g_return_if_fail (TD_IS_PUBSUB_VIEW (self));

  if (text == NULL)
    text = "";
  gtk_editable_set_text (GTK_EDITABLE (self->text_filter_entry), text);
  if (!self->searching)
    td_pubsub_view_set_searching (self, TRUE);
  else if (g_strcmp0 (text, self->search_text) != 0)
    start_search (self, text);
}

/* TRUE while pages of search results are still coming. */
gboolean
td_pubsub_view_get_search_busy (TdPubsubView *self)
{
  g_return_val_if_fail (TD_IS_PUBSUB_VIEW (self), FALSE);
  return self->search_busy;
}
