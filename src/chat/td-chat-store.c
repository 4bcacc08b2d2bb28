/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-chat-store"

#include "config.h"

#include <string.h>

#include "chat/td-chat-store.h"
#include "chat/td-irc-message.h"

/*
 * Every query reads a key's rows through the index (target, time), whose
 * implicit last column is the rowid: `ORDER BY time, id` is index order,
 * and a point in the history is the pair (time, id).
 *
 * A selector becomes two bounds. A msgid is its row's own (time, id) on
 * both sides. A time T is (T, 0) on the "before" side, since (time, id) <
 * (T, 0) holds exactly for time < T (ids start at 1), and (T, max) on the
 * "after" side, since (time, id) > (T, max) holds exactly for time > T.
 */

#define COLUMNS "msgid, target, time, sender, account, command, text, tags, target_name"

#define SQL_INSERT \
  "INSERT INTO history (msgid, target, time, sender, account, command, text, tags, target_name)" \
  " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
#define SQL_FIND_MSGID \
  "SELECT time, id FROM history WHERE msgid = ?1 AND target = ?2"
#define SQL_LATEST \
  "SELECT " COLUMNS " FROM history WHERE target = ?1" \
  " ORDER BY time DESC, id DESC LIMIT ?2"
#define SQL_NEWEST_AFTER \
  "SELECT " COLUMNS " FROM history WHERE target = ?1 AND (time, id) > (?2, ?3)" \
  " ORDER BY time DESC, id DESC LIMIT ?4"
#define SQL_NEWEST_BEFORE \
  "SELECT " COLUMNS " FROM history WHERE target = ?1 AND (time, id) < (?2, ?3)" \
  " ORDER BY time DESC, id DESC LIMIT ?4"
#define SQL_OLDEST_AFTER \
  "SELECT " COLUMNS " FROM history WHERE target = ?1 AND (time, id) > (?2, ?3)" \
  " ORDER BY time, id LIMIT ?4"
#define SQL_OLDEST_FROM \
  "SELECT " COLUMNS " FROM history WHERE target = ?1 AND (time, id) >= (?2, ?3)" \
  " ORDER BY time, id LIMIT ?4"
#define SQL_OLDEST_BETWEEN \
  "SELECT " COLUMNS " FROM history WHERE target = ?1 AND (time, id) > (?2, ?3)" \
  " AND (time, id) < (?4, ?5) ORDER BY time, id LIMIT ?6"
#define SQL_NEWEST_BETWEEN \
  "SELECT " COLUMNS " FROM history WHERE target = ?1 AND (time, id) < (?2, ?3)" \
  " AND (time, id) > (?4, ?5) ORDER BY time DESC, id DESC LIMIT ?6"
/* The next key after ?1: one index seek per key, however many rows. */
#define SQL_NEXT_TARGET \
  "SELECT target FROM history WHERE target > ?1 ORDER BY target LIMIT 1"
#define SQL_TARGET_NEWEST \
  "SELECT MAX (time) FROM history WHERE target = ?1 AND time > ?2 AND time < ?3"

typedef struct
{
  TdChatHistoryStore parent;
  TdRecorder        *recorder;     /* borrowed */
  TdMailboxId        mailbox;
  guint              next_request;
  GHashTable        *pending;      /* request id -> Pending */
} ChatStore;

/* A load waiting for its answer; the request id is the mail kind. */
typedef struct
{
  TdChatHistoryReplyFunc    reply;
  TdChatHistoryTargetsFunc  targets_reply;
  gpointer                  user_data;
} Pending;

typedef struct
{
  char               *key;
  TdChatHistoryQuery  query;
  gint64              from;        /* TARGETS */
  gint64              to;
  guint               ring_size;   /* snapshot */
} LoadJob;

/* ------------------------------------------------------------------ */
/* Rows to entries (recorder thread)                                   */
/* ------------------------------------------------------------------ */

static void
load_job_free (gpointer data)
{
  LoadJob *job = data;

  g_free (job->key);
  td_chat_history_query_clear (&job->query);
  g_free (job);
}

static void
entries_free (gpointer data)
{
  g_ptr_array_unref (data);
}

/* The recipient of a private message stored under conversation key @key:
 * the side of the key that is not the sender (both sides for a message
 * to oneself). */
static char *
dm_recipient (const char *key,
              const char *sender)
{
  const char *sep = strstr (key, TD_CHAT_HISTORY_DM_SEPARATOR);
  const char *bang = strchr (sender, '!');
  g_autofree char *nick = g_strndup (sender, bang ? (gsize) (bang - sender) : strlen (sender));
  g_autofree char *folded = td_irc_casefold (nick);

  if (sep == NULL)
    return g_strdup (key);
  if ((gsize) (sep - key) == strlen (folded) && strncmp (key, folded, sep - key) == 0)
    return g_strdup (sep + 1);
  return g_strndup (key, sep - key);
}

static TdChatHistoryEntry *
row_to_entry (const TdRows *rows,
              guint         row)
{
  TdChatHistoryEntry *entry = td_chat_history_entry_new ();

  entry->msgid = g_strdup (td_rows_get_text (rows, row, 0));
  entry->key = g_strdup (td_rows_get_text (rows, row, 1));
  entry->time = td_rows_get_int (rows, row, 2);
  entry->sender = g_strdup (td_rows_get_text (rows, row, 3));
  entry->account = g_strdup (td_rows_get_text (rows, row, 4));
  entry->command = g_strdup (td_rows_get_text (rows, row, 5));
  entry->text = g_strdup (td_rows_get_text (rows, row, 6));
  entry->client_tags = g_strdup (td_rows_get_text (rows, row, 7));
  if (entry->msgid == NULL)
    entry->msgid = g_strdup ("");
  if (entry->sender == NULL)
    entry->sender = g_strdup ("*");
  if (entry->command == NULL)
    entry->command = g_strdup ("PRIVMSG");
  if (entry->text == NULL)
    entry->text = g_strdup ("");
  /* The target as it was written; rows from before schema v3 only have
   * the key. */
  if (td_rows_get_text (rows, row, 8) != NULL)
    entry->target = g_strdup (td_rows_get_text (rows, row, 8));
  else
    entry->target = dm_recipient (entry->key, entry->sender);
  return entry;
}

/* Appends the rows of @rows to @out, reversed when they came newest first. */
static void
append_rows (GPtrArray    *out,
             const TdRows *rows,
             gboolean      newest_first)
{
  for (guint i = 0; i < rows->n_rows; i++)
    g_ptr_array_add (out, row_to_entry (rows, newest_first ? rows->n_rows - 1 - i : i));
}

/* Runs @sql with @values and appends its rows to @out. */
static gboolean
query_into (TdStoreConn    *conn,
            const char     *sql,
            const TdValue  *values,
            guint           n_values,
            gboolean        newest_first,
            GPtrArray      *out,
            GError        **error)
{
  g_autoptr(TdRows) rows = td_store_conn_query (conn, sql, values, n_values, error);

  if (rows == NULL)
    return FALSE;
  append_rows (out, rows, newest_first);
  return TRUE;
}

/* A selector's bounds, as the banner says. @found is FALSE for a msgid
 * that this key does not have. */
typedef struct
{
  gboolean found;
  gint64   time;
  gint64   before_id;
  gint64   after_id;
} Point;

static gboolean
resolve (TdStoreConn                 *conn,
         const char                  *key,
         const TdChatHistorySelector *sel,
         Point                       *point,
         GError                     **error)
{
  memset (point, 0, sizeof *point);
  if (sel->type == TD_CHAT_HISTORY_SEL_TIME)
    {
      point->found = TRUE;
      point->time = sel->time;
      point->before_id = 0;
      point->after_id = G_MAXINT64;
      return TRUE;
    }
  if (sel->type == TD_CHAT_HISTORY_SEL_MSGID)
    {
      const TdValue values[] = { TD_TEXT (sel->msgid), TD_TEXT (key) };
      g_autoptr(TdRows) rows = td_store_conn_query (conn, SQL_FIND_MSGID, values,
                                                    G_N_ELEMENTS (values), error);

      if (rows == NULL)
        return FALSE;
      if (rows->n_rows > 0)
        {
          point->found = TRUE;
          point->time = td_rows_get_int (rows, 0, 0);
          point->before_id = point->after_id = td_rows_get_int (rows, 0, 1);
        }
    }
  return TRUE;
}

static gboolean
point_le (const Point *a,
          const Point *b)
{
  return a->time < b->time || (a->time == b->time && a->before_id <= b->before_id);
}

/* Answers one CHATHISTORY query of a key with the same results as the
 * ring would give if it held everything. */
static gpointer
history_load (TdStoreConn  *conn,
              gpointer      data,
              GError      **error)
{
  LoadJob *job = data;
  const TdChatHistoryQuery *q = &job->query;
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) td_chat_history_entry_unref);
  Point a, b;
  gboolean ok = TRUE;

  if (!resolve (conn, job->key, &q->a, &a, error) ||
      (q->kind == TD_CHAT_HISTORY_BETWEEN && !resolve (conn, job->key, &q->b, &b, error)))
    return NULL;

  switch (q->kind)
    {
    case TD_CHAT_HISTORY_LATEST:
      if (q->a.type == TD_CHAT_HISTORY_SEL_NONE)
        {
          const TdValue v[] = { TD_TEXT (job->key), TD_INT (q->limit) };

          ok = query_into (conn, SQL_LATEST, v, G_N_ELEMENTS (v), TRUE, out, error);
        }
      else if (a.found)
        {
          const TdValue v[] = { TD_TEXT (job->key), TD_INT (a.time), TD_INT (a.after_id), TD_INT (q->limit) };

          ok = query_into (conn, SQL_NEWEST_AFTER, v, G_N_ELEMENTS (v), TRUE, out, error);
        }
      break;

    case TD_CHAT_HISTORY_BEFORE:
      if (a.found)
        {
          const TdValue v[] = { TD_TEXT (job->key), TD_INT (a.time), TD_INT (a.before_id), TD_INT (q->limit) };

          ok = query_into (conn, SQL_NEWEST_BEFORE, v, G_N_ELEMENTS (v), TRUE, out, error);
        }
      break;

    case TD_CHAT_HISTORY_AFTER:
      if (a.found)
        {
          const TdValue v[] = { TD_TEXT (job->key), TD_INT (a.time), TD_INT (a.after_id), TD_INT (q->limit) };

          ok = query_into (conn, SQL_OLDEST_AFTER, v, G_N_ELEMENTS (v), FALSE, out, error);
        }
      break;

    case TD_CHAT_HISTORY_AROUND:
      if (a.found)
        {
          /* The message at the point counts towards the "after" half, as
           * in the ring. */
          guint before = q->limit / 2;
          const TdValue v1[] = { TD_TEXT (job->key), TD_INT (a.time), TD_INT (a.before_id), TD_INT (before) };
          const TdValue v2[] = { TD_TEXT (job->key), TD_INT (a.time), TD_INT (a.before_id), TD_INT (q->limit - before) };

          ok = query_into (conn, SQL_NEWEST_BEFORE, v1, G_N_ELEMENTS (v1), TRUE, out, error) &&
               query_into (conn, SQL_OLDEST_FROM, v2, G_N_ELEMENTS (v2), FALSE, out, error);
        }
      break;

    case TD_CHAT_HISTORY_BETWEEN:
      if (a.found && b.found)
        {
          if (point_le (&a, &b))
            {
              const TdValue v[] = { TD_TEXT (job->key), TD_INT (a.time), TD_INT (a.after_id),
                                    TD_INT (b.time), TD_INT (b.before_id), TD_INT (q->limit) };

              ok = query_into (conn, SQL_OLDEST_BETWEEN, v, G_N_ELEMENTS (v), FALSE, out, error);
            }
          else
            {
              const TdValue v[] = { TD_TEXT (job->key), TD_INT (a.time), TD_INT (a.before_id),
                                    TD_INT (b.time), TD_INT (b.after_id), TD_INT (q->limit) };

              ok = query_into (conn, SQL_NEWEST_BETWEEN, v, G_N_ELEMENTS (v), TRUE, out, error);
            }
        }
      break;
    }
  return ok ? g_steal_pointer (&out) : NULL;
}

/* Calls @func for every key in the history, in key order. */
static gboolean
for_each_key (TdStoreConn  *conn,
              gboolean    (*func) (TdStoreConn *conn, const char *key, gpointer data, GError **error),
              gpointer      data,
              GError      **error)
{
  g_autofree char *key = g_strdup ("");

  for (;;)
    {
      const TdValue v[] = { TD_TEXT (key) };
      g_autoptr(TdRows) rows = td_store_conn_query (conn, SQL_NEXT_TARGET, v, G_N_ELEMENTS (v), error);

      if (rows == NULL)
        return FALSE;
      if (rows->n_rows == 0 || td_rows_get_text (rows, 0, 0) == NULL)
        return TRUE;
      g_free (key);
      key = g_strdup (td_rows_get_text (rows, 0, 0));
      if (!func (conn, key, data, error))
        return FALSE;
    }
}

static gboolean
target_newest (TdStoreConn  *conn,
               const char   *key,
               gpointer      data,
               GError      **error)
{
  struct { LoadJob *job; GPtrArray *out; } *ctx = data;
  const TdValue v[] = { TD_TEXT (key), TD_INT (MIN (ctx->job->from, ctx->job->to)),
                        TD_INT (MAX (ctx->job->from, ctx->job->to)) };
  g_autoptr(TdRows) rows = td_store_conn_query (conn, SQL_TARGET_NEWEST, v, G_N_ELEMENTS (v), error);
  const TdValue *newest;

  if (rows == NULL)
    return FALSE;
  newest = rows->n_rows > 0 ? td_rows_get (rows, 0, 0) : NULL;
  if (newest != NULL && newest->type == TD_VALUE_INT)
    g_ptr_array_add (ctx->out, td_chat_history_target_new (key, newest->v.i));
  return TRUE;
}

static gpointer
targets_load (TdStoreConn  *conn,
              gpointer      data,
              GError      **error)
{
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) td_chat_history_target_free);
  struct { LoadJob *job; GPtrArray *out; } ctx = { data, out };

  if (!for_each_key (conn, target_newest, &ctx, error))
    return NULL;
  return g_steal_pointer (&out);
}

/* ------------------------------------------------------------------ */
/* Snapshot at start (recorder thread)                                 */
/* ------------------------------------------------------------------ */

void
td_chat_store_snapshot_free (TdChatStoreSnapshot *snapshot)
{
  if (snapshot == NULL)
    return;
  g_clear_pointer (&snapshot->entries, g_ptr_array_unref);
  g_clear_pointer (&snapshot->truncated, g_ptr_array_unref);
  g_free (snapshot);
}

static gboolean
snapshot_key (TdStoreConn  *conn,
              const char   *key,
              gpointer      data,
              GError      **error)
{
  struct { TdChatStoreSnapshot *snapshot; guint ring_size; } *ctx = data;
  TdChatStoreSnapshot *snapshot = ctx->snapshot;
  /* One more than the ring holds tells whether the ring will be cut. */
  const TdValue v[] = { TD_TEXT (key), TD_INT ((gint64) ctx->ring_size + 1) };
  g_autoptr(TdRows) rows = td_store_conn_query (conn, SQL_LATEST, v, G_N_ELEMENTS (v), error);
  guint n;

  if (rows == NULL)
    return FALSE;
  n = rows->n_rows;
  if (n > ctx->ring_size)
    {
      g_ptr_array_add (snapshot->truncated, g_strdup (key));
      n = ctx->ring_size;
    }
  for (guint i = n; i > 0; i--)
    {
      TdChatHistoryEntry *entry = row_to_entry (rows, i - 1);

      snapshot->last_time = MAX (snapshot->last_time, entry->time);
      g_ptr_array_add (snapshot->entries, entry);
    }
  snapshot->n_targets++;
  return TRUE;
}

static gpointer
snapshot_load (TdStoreConn  *conn,
               gpointer      data,
               GError      **error)
{
  g_autoptr(TdChatStoreSnapshot) snapshot = g_new0 (TdChatStoreSnapshot, 1);
  struct { TdChatStoreSnapshot *snapshot; guint ring_size; } ctx = { snapshot, GPOINTER_TO_UINT (data) };

  snapshot->entries = g_ptr_array_new_with_free_func ((GDestroyNotify) td_chat_history_entry_unref);
  snapshot->truncated = g_ptr_array_new_with_free_func (g_free);
  if (!for_each_key (conn, snapshot_key, &ctx, error))
    return NULL;
  g_ptr_array_add (snapshot->truncated, NULL);
  return g_steal_pointer (&snapshot);
}

/* Reads the newest @ring_size messages of every key: one indexed query
 * per key, so the cost follows what the rings will hold, not the size of
 * the table. */
void
td_chat_store_load_snapshot (TdRecorder  *recorder,
                             guint        ring_size,
                             TdMailboxId  reply,
                             guint        reply_kind)
{
  g_return_if_fail (recorder != NULL && ring_size > 0);

  td_recorder_load_func (recorder, snapshot_load, GUINT_TO_POINTER (ring_size), NULL,
                         (GDestroyNotify) td_chat_store_snapshot_free, reply, reply_kind);
}

/* ------------------------------------------------------------------ */
/* The store (server context)                                          */
/* ------------------------------------------------------------------ */

static void
store_save (TdChatHistoryStore *store,
            TdChatHistoryEntry *entry)
{
  ChatStore *self = (ChatStore *) store;

  td_recorder_save_values (self->recorder, SQL_INSERT,
                           TD_TEXT (entry->msgid), TD_TEXT (entry->key), TD_INT (entry->time),
                           TD_TEXT (entry->sender), TD_TEXT (entry->account),
                           TD_TEXT (entry->command ? entry->command : "PRIVMSG"),
                           TD_TEXT (entry->text), TD_TEXT (entry->client_tags),
                           TD_TEXT (entry->target));
}

/* Registers a pending answer and returns its request id (never 0). */
static guint
pending_add (ChatStore                *self,
             TdChatHistoryReplyFunc    reply,
             TdChatHistoryTargetsFunc  targets_reply,
             gpointer                  user_data)
{
  Pending *pending = g_new0 (Pending, 1);
  guint id;

  do
    id = ++self->next_request;
  while (id == 0 || g_hash_table_contains (self->pending, GUINT_TO_POINTER (id)));
  pending->reply = reply;
  pending->targets_reply = targets_reply;
  pending->user_data = user_data;
  g_hash_table_insert (self->pending, GUINT_TO_POINTER (id), pending);
  return id;
}

static void
pending_answer (Pending   *pending,
                GPtrArray *result)
{
  if (pending->reply != NULL)
    pending->reply (result, pending->user_data);
  else
    pending->targets_reply (result, pending->user_data);
}

static void
store_load (TdChatHistoryStore       *store,
            const char               *key,
            const TdChatHistoryQuery *query,
            TdChatHistoryReplyFunc    reply,
            gpointer                  user_data)
{
  ChatStore *self = (ChatStore *) store;
  LoadJob *job = g_new0 (LoadJob, 1);

  job->key = g_strdup (key);
  job->query = *query;
  job->query.a.msgid = g_strdup (query->a.msgid);
  job->query.b.msgid = g_strdup (query->b.msgid);
  td_recorder_load_func (self->recorder, history_load, job, load_job_free, entries_free,
                         self->mailbox, pending_add (self, reply, NULL, user_data));
}

static void
store_load_targets (TdChatHistoryStore       *store,
                    gint64                    from,
                    gint64                    to,
                    TdChatHistoryTargetsFunc  reply,
                    gpointer                  user_data)
{
  ChatStore *self = (ChatStore *) store;
  LoadJob *job = g_new0 (LoadJob, 1);

  job->from = from;
  job->to = to;
  td_recorder_load_func (self->recorder, targets_load, job, load_job_free, entries_free,
                         self->mailbox, pending_add (self, NULL, reply, user_data));
}

static void
store_mail_cb (TdMailboxId  id,
               TdMail      *mail,
               gpointer     user_data)
{
  ChatStore *self = user_data;
  TdStoreResult *result = mail->data;
  Pending *pending;

  if (!g_hash_table_steal_extended (self->pending, GUINT_TO_POINTER (mail->kind), NULL,
                                    (gpointer *) &pending))
    return;
  if (result != NULL && result->error != NULL)
    g_message ("Chat history could not be read: %s", result->error->message);
  pending_answer (pending, result ? td_store_result_steal (result) : NULL);
  g_free (pending);
}

static void
store_free (TdChatHistoryStore *store)
{
  ChatStore *self = (ChatStore *) store;
  GHashTableIter iter;
  gpointer value;

  td_mailbox_close (self->mailbox);
  /* Every reply runs once: loads still on the way fail. */
  g_hash_table_iter_init (&iter, self->pending);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      g_hash_table_iter_steal (&iter);
      pending_answer (value, NULL);
      g_free (value);
    }
  g_hash_table_unref (self->pending);
  g_free (self);
}

TdChatHistoryStore *
td_chat_store_new (TdRecorder   *recorder,
                   GMainContext *context)
{
  ChatStore *self;

  g_return_val_if_fail (recorder != NULL, NULL);

  self = g_new0 (ChatStore, 1);
  self->parent.save = store_save;
  self->parent.load = store_load;
  self->parent.load_targets = store_load_targets;
  self->parent.free = store_free;
  self->recorder = recorder;
  self->pending = g_hash_table_new (NULL, NULL);
  self->mailbox = td_mailbox_open (context, G_PRIORITY_DEFAULT, store_mail_cb, self, NULL);
  return &self->parent;
}
