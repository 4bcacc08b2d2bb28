/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-recorder"

#include "config.h"

#include <errno.h>
#include <string.h>
#include <glib/gstdio.h>

#include "core/td-sync-private.h"
#include "store/td-recorder.h"
#include "core/td-thread.h"

/* Errors that arrive before anyone set an error mailbox are kept for it, up
 * to this many (the oldest are dropped with a log message): enough for an
 * open failure and a few retries, bounded if nobody ever listens. */
#define TD_RECORDER_MAX_UNDELIVERED_ERRORS 32

/* Queries with SQL built at run time are cached too, up to this many; past
 * it the query cache is emptied so that one-off queries cannot pile up. */
#define TD_RECORDER_MAX_CACHED_QUERIES     64

/* ---------------------------------------------------------------------- */
/* Records and requests                                                    */
/* ---------------------------------------------------------------------- */

typedef enum
{
  ITEM_SAVE_VALUES,
  ITEM_SAVE_FUNC,
  ITEM_LOAD,
  ITEM_LOAD_FUNC,
  ITEM_FLUSH,
  ITEM_CLOSE,
} ItemKind;

#define ITEM_IS_SAVE(r) ((r)->kind == ITEM_SAVE_VALUES || (r)->kind == ITEM_SAVE_FUNC)

/* Everything that goes through the FIFO is a TdRecord; loads, flushes and
 * close are TdRequest, which starts with one. A values record is a single
 * allocation: header, values, then the bytes of its text and blobs. */
struct _TdRecord
{
  TdRecord       *next;
  ItemKind        kind;
  guint           n_values;
  gsize           alloc_size;
  const char     *sql;
  TdValue        *values;
  TdRecordApplyFunc func;
  gpointer        data;
  GDestroyNotify  destroy;
};

typedef struct
{
  TdRecord            base;
  char               *sql;             /* owned copy, for ITEM_LOAD */
  TdRecorderLoadFunc   load_func;
  GDestroyNotify       result_destroy;
  TdMailboxId          reply;
  guint                reply_kind;
} TdRequest;

/* Bytes needed to copy the text and blobs of @values. */
static gsize
values_payload_size (const TdValue *values,
                     guint          n_values)
{
  gsize size = 0;

  for (guint i = 0; i < n_values; i++)
    {
      if (values[i].type == TD_VALUE_TEXT && values[i].v.text != NULL)
        size += (values[i].size < 0 ? strlen (values[i].v.text) : (gsize) values[i].size) + 1;
      else if (values[i].type == TD_VALUE_BLOB && values[i].v.blob != NULL)
        size += MAX (values[i].size, 0);
    }

  return size;
}

/* Allocates a record of @header_size bytes (sizeof TdRecord or TdRequest)
 * with @values copied behind it, all in one block. */
static TdRecord *
record_alloc (gsize          header_size,
              ItemKind       kind,
              const char    *sql,
              const TdValue *values,
              guint          n_values)
{
  gsize values_offset = (header_size + G_ALIGNOF (TdValue) - 1) & ~(gsize) (G_ALIGNOF (TdValue) - 1);
  gsize payload_offset = values_offset + sizeof (TdValue) * n_values;
  gsize size = payload_offset + (values ? values_payload_size (values, n_values) : 0);
  TdRecord *r = g_malloc (size);
  char *payload = (char *) r + payload_offset;

  memset (r, 0, header_size);
  r->kind = kind;
  r->sql = sql;
  r->n_values = n_values;
  r->alloc_size = size;
  r->values = (TdValue *) (gpointer) ((char *) r + values_offset);

  for (guint i = 0; i < n_values; i++)
    {
      TdValue *v = &r->values[i];

      if (values == NULL)
        {
          *v = TD_NULL;
          continue;
        }

      *v = values[i];
      if (v->type == TD_VALUE_TEXT && v->v.text != NULL)
        {
          gsize len = v->size < 0 ? strlen (v->v.text) : (gsize) v->size;

          memcpy (payload, v->v.text, len);
          payload[len] = '\0';
          v->v.text = payload;
          v->size = len;
          payload += len + 1;
        }
      else if (v->type == TD_VALUE_BLOB && v->v.blob != NULL)
        {
          gsize len = MAX (v->size, 0);

          memcpy (payload, v->v.blob, len);
          v->v.blob = payload;
          payload += len;
        }
    }

  return r;
}

/* TRUE if @p points into @r's own block (copied in by record_alloc), FALSE
 * if a setter allocated it separately. */
static inline gboolean
record_owns_inline (const TdRecord *r,
                    gconstpointer   p)
{
  return (const char *) p >= (const char *) r &&
         (const char *) p < (const char *) r + r->alloc_size;
}

static void
record_clear_value (TdRecord *r,
                    guint     index)
{
  TdValue *v = &r->values[index];

  if ((v->type == TD_VALUE_TEXT || v->type == TD_VALUE_BLOB) &&
      v->v.blob != NULL && !record_owns_inline (r, v->v.blob))
    g_free ((gpointer) v->v.blob);
  *v = TD_NULL;
}

TdRecord *
td_record_new (const char *sql,
               guint       n_values)
{
  g_return_val_if_fail (sql != NULL, NULL);

  return record_alloc (sizeof (TdRecord), ITEM_SAVE_VALUES, sql, NULL, n_values);
}

TdRecord *
td_record_new_values (const char    *sql,
                      const TdValue *values,
                      guint          n_values)
{
  g_return_val_if_fail (sql != NULL, NULL);
  g_return_val_if_fail (values != NULL || n_values == 0, NULL);

  return record_alloc (sizeof (TdRecord), ITEM_SAVE_VALUES, sql, values, n_values);
}

TdRecord *
td_record_new_func (TdRecordApplyFunc func,
                    gpointer          data,
                    GDestroyNotify    destroy)
{
  TdRecord *r;

  g_return_val_if_fail (func != NULL, NULL);

  r = record_alloc (sizeof (TdRecord), ITEM_SAVE_FUNC, NULL, NULL, 0);
  r->func = func;
  r->data = data;
  r->destroy = destroy;

  return r;
}

void
td_record_set_int (TdRecord *record,
                   guint     index,
                   gint64    value)
{
  g_return_if_fail (record != NULL && index < record->n_values);

  record_clear_value (record, index);
  record->values[index] = TD_INT (value);
}

void
td_record_set_double (TdRecord *record,
                      guint     index,
                      double    value)
{
  g_return_if_fail (record != NULL && index < record->n_values);

  record_clear_value (record, index);
  record->values[index] = TD_DOUBLE (value);
}

void
td_record_set_text (TdRecord   *record,
                    guint       index,
                    const char *text)
{
  g_return_if_fail (record != NULL && index < record->n_values);

  record_clear_value (record, index);
  if (text != NULL)
    record->values[index] = (TdValue) { .type = TD_VALUE_TEXT, .size = strlen (text),
                                        .v.text = g_strdup (text) };
}

void
td_record_set_blob (TdRecord      *record,
                    guint          index,
                    gconstpointer  data,
                    gsize          size)
{
  g_return_if_fail (record != NULL && index < record->n_values);

  record_clear_value (record, index);
  if (data != NULL)
    record->values[index] = TD_BLOB (g_memdup2 (data, size), size);
}

void
td_record_set_null (TdRecord *record,
                    guint     index)
{
  g_return_if_fail (record != NULL && index < record->n_values);

  record_clear_value (record, index);
}

void
td_record_free (TdRecord *record)
{
  if (record == NULL)
    return;

  for (guint i = 0; i < record->n_values; i++)
    record_clear_value (record, i);

  if (record->destroy != NULL && record->data != NULL)
    record->destroy (record->data);

  if (record->kind == ITEM_LOAD || record->kind == ITEM_LOAD_FUNC)
    g_free (((TdRequest *) record)->sql);

  g_free (record);
}

void
td_store_result_free (TdStoreResult *result)
{
  if (result == NULL)
    return;

  if (result->result != NULL && result->result_destroy != NULL)
    result->result_destroy (result->result);
  g_clear_error (&result->error);
  g_free (result);
}

gpointer
td_store_result_steal (TdStoreResult *result)
{
  g_return_val_if_fail (result != NULL, NULL);

  return g_steal_pointer (&result->result);
}

void
td_recorder_error_free (TdRecorderError *err)
{
  if (err == NULL)
    return;

  g_clear_error (&err->error);
  g_free (err->path);
  g_free (err->sql);
  g_free (err);
}

/* ---------------------------------------------------------------------- */
/* The connection and its statement caches (recorder thread only)          */
/* ---------------------------------------------------------------------- */

struct _TdStoreConn
{
  sqlite3      *db;
  GHashTable   *stmts;       /* static SQL pointer -> sqlite3_stmt */
  GHashTable   *queries;     /* SQL text (owned) -> sqlite3_stmt */
  const char   *last_sql;    /* the last statement looked up in @stmts ... */
  sqlite3_stmt *last_stmt;   /* ... and its statement: a batch repeats one */
};

static void
stmt_free (gpointer stmt)
{
  sqlite3_finalize (stmt);
}

static void
conn_close (TdStoreConn *conn)
{
  g_clear_pointer (&conn->stmts, g_hash_table_unref);
  g_clear_pointer (&conn->queries, g_hash_table_unref);
  conn->last_sql = NULL;
  conn->last_stmt = NULL;
  g_clear_pointer (&conn->db, sqlite3_close);
}

/* Prepares one statement of @sql. Returns NULL and sets @error if it does
 * not compile or holds more than one statement. */
static sqlite3_stmt *
conn_compile (TdStoreConn  *conn,
              const char   *sql,
              GError      **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  const char *tail = NULL;
  int rc;

  rc = sqlite3_prepare_v3 (conn->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
  if (rc != SQLITE_OK)
    {
      td_sqlite_set_error (error, conn->db, rc, sql);
      return NULL;
    }

  if (stmt == NULL)
    {
      g_set_error (error, TD_STORE_ERROR, TD_STORE_ERROR_INVALID,
                   "No SQL statement in “%s”", sql);
      return NULL;
    }

  while (tail != NULL && g_ascii_isspace (*tail))
    tail++;
  if (tail != NULL && *tail != '\0' && *tail != ';')
    {
      g_set_error (error, TD_STORE_ERROR, TD_STORE_ERROR_INVALID,
                   "More than one SQL statement in “%s”", sql);
      return NULL;
    }

  return g_steal_pointer (&stmt);
}

/* Returns the cached statement for the static string @sql; the cache owns
 * it. NULL and @error if it does not compile. */
static inline sqlite3_stmt *
conn_lookup (TdStoreConn  *conn,
             const char   *sql,
             GError      **error)
{
  sqlite3_stmt *stmt;

  if (sql == conn->last_sql)
    return conn->last_stmt;

  stmt = g_hash_table_lookup (conn->stmts, sql);
  if (stmt == NULL)
    {
      stmt = conn_compile (conn, sql, error);
      if (stmt == NULL)
        return NULL;
      g_hash_table_insert (conn->stmts, (gpointer) sql, stmt);
    }

  conn->last_sql = sql;
  conn->last_stmt = stmt;
  return stmt;
}

/* As conn_lookup() for SQL text that may not outlive the call. */
static sqlite3_stmt *
conn_lookup_query (TdStoreConn  *conn,
                   const char   *sql,
                   GError      **error)
{
  sqlite3_stmt *stmt = g_hash_table_lookup (conn->queries, sql);

  if (stmt != NULL)
    return stmt;

  stmt = conn_compile (conn, sql, error);
  if (stmt == NULL)
    return NULL;

  if (g_hash_table_size (conn->queries) >= TD_RECORDER_MAX_CACHED_QUERIES)
    g_hash_table_remove_all (conn->queries);
  g_hash_table_insert (conn->queries, g_strdup (sql), stmt);

  return stmt;
}

/* Steps a bound statement to completion and resets it. */
static inline gboolean
stmt_run (sqlite3_stmt  *stmt,
          GError       **error)
{
  int rc;

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    ;

  if (rc != SQLITE_DONE)
    {
      td_sqlite_set_error (error, sqlite3_db_handle (stmt), rc, sqlite3_sql (stmt));
      sqlite3_reset (stmt);
      return FALSE;
    }

  sqlite3_reset (stmt);
  return TRUE;
}

sqlite3 *
td_store_conn_get_db (TdStoreConn *conn)
{
  g_return_val_if_fail (conn != NULL, NULL);

  return conn->db;
}

sqlite3_stmt *
td_store_conn_prepare (TdStoreConn  *conn,
                       const char   *sql,
                       GError      **error)
{
  sqlite3_stmt *stmt;

  g_return_val_if_fail (conn != NULL, NULL);
  g_return_val_if_fail (sql != NULL, NULL);

  stmt = conn_lookup (conn, sql, error);
  if (stmt != NULL)
    {
      sqlite3_reset (stmt);
      sqlite3_clear_bindings (stmt);
    }

  return stmt;
}

gboolean
td_store_conn_exec (TdStoreConn    *conn,
                    const char     *sql,
                    const TdValue  *values,
                    guint           n_values,
                    GError        **error)
{
  sqlite3_stmt *stmt;
  gboolean ok;

  g_return_val_if_fail (conn != NULL, FALSE);

  stmt = conn_lookup (conn, sql, error);
  if (stmt == NULL)
    return FALSE;

  if (!td_stmt_bind_values (stmt, values, n_values, error))
    return FALSE;

  ok = stmt_run (stmt, error);
  sqlite3_clear_bindings (stmt);
  return ok;
}

TdRows *
td_store_conn_query (TdStoreConn    *conn,
                     const char     *sql,
                     const TdValue  *values,
                     guint           n_values,
                     GError        **error)
{
  sqlite3_stmt *stmt;
  TdRows *rows;

  g_return_val_if_fail (conn != NULL, NULL);

  stmt = conn_lookup_query (conn, sql, error);
  if (stmt == NULL)
    return NULL;

  if (!td_stmt_bind_values (stmt, values, n_values, error))
    return NULL;

  rows = td_rows_collect (stmt, error);
  sqlite3_clear_bindings (stmt);
  return rows;
}

/* ---------------------------------------------------------------------- */
/* The recorder                                                            */
/* ---------------------------------------------------------------------- */

/* What wakes the thread from its wait, set by the thread before it sleeps
 * so that callers signal only when it matters (a futex wake per save would
 * cost more than the save). */
enum
{
  WAKE_ANY    = 1 << 0,   /* idle: any item */
  WAKE_FULL   = 1 << 1,   /* gathering a batch: a full batch */
  WAKE_SYNC   = 1 << 2,   /* a load, flush or close */
  WAKE_CLOSE  = 1 << 3,   /* close or reopen only (backing off, broken) */
};

struct _TdRecorder
{
  /* Set at creation, read-only afterwards. */
  char              *path;
  const TdSchema    *schema;
  TdRecorderOptions  opts;
  char              *vfs;
  GThread           *thread;

  /* Shared with callers, under @lock. */
  GMutex             lock;
  GCond              cond;
  TdRecord          *head;
  TdRecord          *tail;
  guint              n_queued;
  guint              n_sync;
  guint              wake;
  gboolean           close_requested;
  gboolean           reopen_requested;
  gboolean           closed;
  TdMailboxId        error_mailbox;
  guint              error_kind;
  GQueue             undelivered;     /* TdRecorderError, no mailbox yet */
  guint              n_lost;
  GError            *lost_error;

  /* Counters, written by the thread, read by anyone. */
  gint               ready;
  guint64            n_commits;
  guint64            n_saved;

  /* Recorder thread only. */
  TdStoreConn        conn;
  TdRecord          *pending;         /* taken from the shared queue, FIFO */
  TdRecord          *pending_tail;
  guint              n_pending_saves;
  TdRecord         **batch;
  sqlite3_stmt      *begin_stmt;
  sqlite3_stmt      *commit_stmt;
  sqlite3_stmt      *rollback_stmt;
  gboolean           failing;         /* the last attempt failed */
  guint              backoff_ms;
  gint64             give_up_at;      /* monotonic; 0 until close is requested */
};

static void
recorder_mail_error (TdRecorder          *rec,
                     TdRecorderErrorKind  kind,
                     const GError        *error,
                     const char          *sql,
                     guint                retry_in_ms,
                     guint                n_kept)
{
  TdRecorderError *err = g_new0 (TdRecorderError, 1);
  TdMailboxId mailbox;
  guint mail_kind;

  err->kind = kind;
  err->error = error ? g_error_copy (error) : NULL;
  err->path = g_strdup (rec->path);
  err->sql = g_strdup (sql);
  err->retry_in_ms = retry_in_ms;
  err->n_kept = n_kept;

  if (error != NULL)
    g_debug ("%s: %s", rec->path, error->message);

  td_mutex_lock (&rec->lock);
  mailbox = rec->error_mailbox;
  mail_kind = rec->error_kind;
  if (mailbox == TD_MAILBOX_NONE)
    {
      g_queue_push_tail (&rec->undelivered, err);
      if (rec->undelivered.length > TD_RECORDER_MAX_UNDELIVERED_ERRORS)
        {
          TdRecorderError *old = g_queue_pop_head (&rec->undelivered);

          g_message ("%s: dropping undelivered store error: %s", rec->path,
                     old->error ? old->error->message : "(recovered)");
          td_recorder_error_free (old);
        }
      err = NULL;
    }
  td_mutex_unlock (&rec->lock);

  if (err != NULL)
    td_mail_send_new (mailbox, mail_kind, err, (GDestroyNotify) td_recorder_error_free);
}

/* Appends @r to the shared FIFO and wakes the thread if it waits for it. */
static void
recorder_push (TdRecorder *rec,
               TdRecord   *r)
{
  gboolean is_sync = !ITEM_IS_SAVE (r);
  gboolean accepted = TRUE;

  r->next = NULL;

  td_mutex_lock (&rec->lock);
  if (G_UNLIKELY (rec->closed))
    accepted = FALSE;
  else
    {
      if (rec->tail != NULL)
        rec->tail->next = r;
      else
        rec->head = r;
      rec->tail = r;
      rec->n_queued++;
      if (is_sync)
        rec->n_sync++;

      if (rec->wake != 0 &&
          ((rec->wake & WAKE_ANY) ||
           ((rec->wake & WAKE_SYNC) && is_sync) ||
           ((rec->wake & WAKE_FULL) && rec->n_queued >= rec->opts.max_batch)))
        {
          rec->wake = 0;
          g_cond_signal (&rec->cond);
        }
    }
  td_mutex_unlock (&rec->lock);

  if (G_UNLIKELY (!accepted))
    {
      g_critical ("%s: work queued on a closed recorder is dropped", rec->path);
      if (!ITEM_IS_SAVE (r))
        {
          TdRequest *req = (TdRequest *) r;

          if (req->reply != TD_MAILBOX_NONE && r->kind == ITEM_FLUSH)
            td_mail_send_new (req->reply, req->reply_kind,
                              g_error_new (TD_STORE_ERROR, TD_STORE_ERROR_CLOSED,
                                           "The database is closed"),
                              (GDestroyNotify) g_error_free);
        }
      td_record_free (r);
    }
}

/* Moves everything queued by callers to the thread's own list. If @block,
 * waits for at least one item, then lets a partial batch of saves gather
 * for up to the coalesce window. */
static void
recorder_take (TdRecorder *rec,
               gboolean    block)
{
  TdRecord *head;
  TdRecord *tail;
  guint n;

  td_mutex_lock (&rec->lock);

  if (block)
    {
      while (rec->head == NULL)
        {
          rec->wake = WAKE_ANY;
          td_cond_wait (&rec->cond, &rec->lock);
        }

      if (rec->n_sync == 0 && rec->n_queued < rec->opts.max_batch &&
          rec->opts.coalesce_usec > 0 && !rec->close_requested)
        {
          gint64 deadline = g_get_monotonic_time () + rec->opts.coalesce_usec;

          while (rec->n_sync == 0 && rec->n_queued < rec->opts.max_batch)
            {
              rec->wake = WAKE_FULL | WAKE_SYNC;
              if (!td_cond_wait_until (&rec->cond, &rec->lock, deadline))
                break;
            }
        }
    }

  rec->wake = 0;
  head = rec->head;
  tail = rec->tail;
  n = rec->n_queued - rec->n_sync;
  rec->head = rec->tail = NULL;
  rec->n_queued = 0;
  rec->n_sync = 0;

  td_mutex_unlock (&rec->lock);

  if (head == NULL)
    return;

  if (rec->pending_tail != NULL)
    rec->pending_tail->next = head;
  else
    rec->pending = head;
  rec->pending_tail = tail;
  rec->n_pending_saves += n;
}

static TdRecord *
recorder_pop (TdRecorder *rec)
{
  TdRecord *r = rec->pending;

  if (r == NULL)
    return NULL;

  rec->pending = r->next;
  if (rec->pending == NULL)
    rec->pending_tail = NULL;
  r->next = NULL;
  if (ITEM_IS_SAVE (r))
    rec->n_pending_saves--;

  return r;
}

/* Sleeps @ms, or less if close or reopen is requested. Returns TRUE if
 * close has been requested. */
static gboolean
recorder_sleep (TdRecorder *rec,
                guint       ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) ms * 1000;
  gboolean closing;

  td_mutex_lock (&rec->lock);
  while (!rec->close_requested && !rec->reopen_requested)
    {
      rec->wake = WAKE_CLOSE;
      if (!td_cond_wait_until (&rec->cond, &rec->lock, deadline))
        break;
    }
  rec->wake = 0;
  closing = rec->close_requested;
  /* A reopen cuts one wait short; it must not cut every later one. */
  rec->reopen_requested = FALSE;
  td_mutex_unlock (&rec->lock);

  if (closing && rec->give_up_at == 0)
    rec->give_up_at = g_get_monotonic_time () + (gint64) rec->opts.close_give_up_ms * 1000;

  return closing;
}

/* The next backoff delay: doubles from the initial value up to the cap. */
static guint
recorder_next_backoff (TdRecorder *rec)
{
  guint ms = rec->backoff_ms == 0 ? rec->opts.retry_initial_ms : rec->backoff_ms;

  rec->backoff_ms = MIN ((guint64) ms * 2, rec->opts.retry_max_ms);
  return MIN (ms, rec->opts.retry_max_ms);
}

static guint
recorder_count_kept (TdRecorder *rec,
                     guint       in_batch)
{
  guint n;

  td_mutex_lock (&rec->lock);
  n = rec->n_queued - rec->n_sync;
  td_mutex_unlock (&rec->lock);

  return n + rec->n_pending_saves + in_batch;
}

/* Answers a load or flush without running it (broken or closing). */
static void
request_fail (TdRecord     *r,
              const GError *error)
{
  TdRequest *req = (TdRequest *) r;

  switch (r->kind)
    {
    case ITEM_LOAD:
      td_mail_send_new (req->reply, req->reply_kind,
                        td_rows_new_error (g_error_copy (error)),
                        (GDestroyNotify) td_rows_free);
      break;
    case ITEM_LOAD_FUNC:
      {
        TdStoreResult *result = g_new0 (TdStoreResult, 1);

        result->result_destroy = req->result_destroy;
        result->error = g_error_copy (error);
        td_mail_send_new (req->reply, req->reply_kind, result,
                          (GDestroyNotify) td_store_result_free);
      }
      break;
    case ITEM_FLUSH:
      td_mail_send_new (req->reply, req->reply_kind, g_error_copy (error),
                        (GDestroyNotify) g_error_free);
      break;
    case ITEM_SAVE_VALUES:
    case ITEM_SAVE_FUNC:
    case ITEM_CLOSE:
    default:
      break;
    }
}

/* Opens and migrates the database. Returns FALSE and sets @error if it
 * cannot; TD_STORE_ERROR means the file must not be touched again. */
static gboolean
recorder_open_db (TdRecorder  *rec,
                  GError     **error)
{
  g_autoptr(sqlite3) db = NULL;
  g_autofree char *dir = g_path_get_dirname (rec->path);
  int rc;

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved = errno;

      g_set_error (error, TD_SQLITE_ERROR, SQLITE_CANTOPEN,
                   "Cannot create the folder “%s”: %s", dir, g_strerror (saved));
      return FALSE;
    }

  /* One thread owns the connection, so sqlite's own mutexes are not
   * needed on it. */
  rc = sqlite3_open_v2 (rec->path, &db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        rec->vfs);
  if (rc != SQLITE_OK)
    {
      td_sqlite_set_error (error, db, rc, rec->path);
      return FALSE;
    }
  sqlite3_extended_result_codes (db, 1);

  if (!td_schema_open (db, rec->schema, rec->opts.busy_timeout_ms, error))
    return FALSE;

  rec->conn.db = g_steal_pointer (&db);
  rec->conn.stmts = g_hash_table_new_full (NULL, NULL, NULL, stmt_free);
  rec->conn.queries = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, stmt_free);

  rec->begin_stmt = conn_lookup (&rec->conn, "BEGIN IMMEDIATE", error);
  rec->commit_stmt = conn_lookup (&rec->conn, "COMMIT", error);
  rec->rollback_stmt = conn_lookup (&rec->conn, "ROLLBACK", error);
  if (rec->begin_stmt == NULL || rec->commit_stmt == NULL || rec->rollback_stmt == NULL)
    {
      conn_close (&rec->conn);
      return FALSE;
    }

  return TRUE;
}

/* Broken file: answer loads and flushes with @error, keep saves in order,
 * until reopen or close. Returns TRUE on reopen, FALSE on close. */
static gboolean
recorder_wait_broken (TdRecorder   *rec,
                      const GError *error)
{
  for (;;)
    {
      TdRecord *kept = NULL, *kept_tail = NULL;
      gboolean closing = FALSE;
      gboolean reopen;
      TdRecord *r;

      recorder_take (rec, FALSE);

      while ((r = recorder_pop (rec)) != NULL)
        {
          if (ITEM_IS_SAVE (r))
            {
              if (kept_tail != NULL)
                kept_tail->next = r;
              else
                kept = r;
              kept_tail = r;
              rec->n_pending_saves++;
            }
          else
            {
              if (r->kind == ITEM_CLOSE)
                closing = TRUE;
              else
                request_fail (r, error);
              td_record_free (r);
            }
        }
      rec->pending = kept;
      rec->pending_tail = kept_tail;

      if (closing)
        return FALSE;

      td_mutex_lock (&rec->lock);
      while (!rec->reopen_requested && !rec->close_requested && rec->n_sync == 0)
        {
          rec->wake = WAKE_CLOSE | WAKE_SYNC;
          td_cond_wait (&rec->cond, &rec->lock);
        }
      rec->wake = 0;
      reopen = rec->reopen_requested;
      rec->reopen_requested = FALSE;
      td_mutex_unlock (&rec->lock);

      if (reopen)
        return TRUE;
    }
}

/* Opens the database, retrying transient failures with backoff. Returns
 * FALSE if close was requested before the database could be opened. */
static gboolean
recorder_open (TdRecorder *rec)
{
  if (rec->opts.open_delay_ms > 0)
    recorder_sleep (rec, rec->opts.open_delay_ms);

  for (;;)
    {
      g_autoptr(GError) error = NULL;

      td_mutex_lock (&rec->lock);
      rec->reopen_requested = FALSE;
      td_mutex_unlock (&rec->lock);

      if (recorder_open_db (rec, &error))
        {
          /* Recovery is announced when the kept saves are written, not
           * when a connection that may still fail to write is open. */
          if (rec->failing && recorder_count_kept (rec, 0) == 0)
            {
              rec->failing = FALSE;
              rec->backoff_ms = 0;
              recorder_mail_error (rec, TD_RECORDER_ERROR_RECOVERED, NULL, NULL, 0, 0);
            }
          g_atomic_int_set (&rec->ready, 1);
          return TRUE;
        }

      rec->failing = TRUE;

      if (error->domain == TD_SQLITE_ERROR && td_sqlite_code_is_transient (error->code))
        {
          guint ms = recorder_next_backoff (rec);

          recorder_mail_error (rec, TD_RECORDER_ERROR_RETRYING, error, NULL, ms,
                               recorder_count_kept (rec, 0));
          if (rec->give_up_at != 0 && g_get_monotonic_time () >= rec->give_up_at)
            return FALSE;
          recorder_sleep (rec, ms);
          continue;
        }

      recorder_mail_error (rec, TD_RECORDER_ERROR_BROKEN, error, NULL, 0,
                           recorder_count_kept (rec, 0));
      rec->backoff_ms = 0;
      if (!recorder_wait_broken (rec, error))
        return FALSE;
    }
}

static inline gboolean
recorder_apply_one (TdRecorder  *rec,
                    TdRecord    *r,
                    GError     **error)
{
  if (r->kind == ITEM_SAVE_VALUES)
    {
      sqlite3_stmt *stmt = conn_lookup (&rec->conn, r->sql, error);

      if (stmt == NULL)
        return FALSE;
      if (!td_stmt_bind_values (stmt, r->values, r->n_values, error))
        return FALSE;
      return stmt_run (stmt, error);
    }
  else
    {
      /* A savepoint, so that a function failing half-way leaves nothing. */
      if (!td_store_conn_exec (&rec->conn, "SAVEPOINT td_record", NULL, 0, error))
        return FALSE;
      if (!r->func (&rec->conn, r->data, error))
        {
          if (sqlite3_get_autocommit (rec->conn.db) == 0)
            {
              td_store_conn_exec (&rec->conn, "ROLLBACK TO td_record", NULL, 0, NULL);
              td_store_conn_exec (&rec->conn, "RELEASE td_record", NULL, 0, NULL);
            }
          return FALSE;
        }
      return td_store_conn_exec (&rec->conn, "RELEASE td_record", NULL, 0, error);
    }
}

/* TRUE if the work that failed with @error is to be kept and retried: a
 * transient failure, or damage found in the file, which is the file's
 * fault and not the record's. */
static gboolean
is_retryable (const GError *error)
{
  int code = error->code & 0xff;

  return error->domain == TD_SQLITE_ERROR &&
         (td_sqlite_code_is_transient (error->code) ||
          code == SQLITE_CORRUPT || code == SQLITE_NOTADB);
}

/* One attempt at writing batch[0..n) in a transaction. Records that can
 * never apply are reported, freed and set to NULL in @batch. Returns FALSE
 * and sets @error on a transient failure, with everything rolled back. */
static gboolean
recorder_try_batch (TdRecorder  *rec,
                    TdRecord   **batch,
                    guint        n,
                    GError     **error)
{
  GError *local = NULL;

again:
  if (!stmt_run (rec->begin_stmt, error))
    return FALSE;

  for (guint i = 0; i < n; i++)
    {
      if (batch[i] == NULL)
        continue;

      if (G_LIKELY (recorder_apply_one (rec, batch[i], &local)))
        continue;

      if (is_retryable (local))
        {
          g_propagate_error (error, local);
          if (sqlite3_get_autocommit (rec->conn.db) == 0)
            stmt_run (rec->rollback_stmt, NULL);
          return FALSE;
        }

      /* This record can never apply: report it and go on without it. A
       * failed statement undoes only itself, unless sqlite rolled back the
       * whole transaction, in which case the batch starts over. */
      recorder_mail_error (rec, TD_RECORDER_ERROR_REJECTED, local,
                           batch[i]->kind == ITEM_SAVE_VALUES ? batch[i]->sql : NULL,
                           0, 0);
      g_clear_error (&local);
      g_clear_pointer (&batch[i], td_record_free);

      if (sqlite3_get_autocommit (rec->conn.db) != 0)
        goto again;
    }

  if (!stmt_run (rec->commit_stmt, error))
    {
      if (sqlite3_get_autocommit (rec->conn.db) == 0)
        stmt_run (rec->rollback_stmt, NULL);
      return FALSE;
    }

  return TRUE;
}

/* Writes batch[0..n) one record per transaction, after the batch failed
 * at COMMIT for a reason that is some record's own (a deferred constraint):
 * only that record is rejected. Committed records are freed and set to
 * NULL, so a retry after a transient failure resumes where it stopped.
 * Returns FALSE and sets @error on a transient failure. */
static gboolean
recorder_try_each (TdRecorder  *rec,
                   TdRecord   **batch,
                   guint        n,
                   GError     **error)
{
  for (guint i = 0; i < n; i++)
    {
      GError *local = NULL;

      if (batch[i] == NULL)
        continue;

      if (!recorder_try_batch (rec, &batch[i], 1, &local))
        {
          if (is_retryable (local))
            {
              g_propagate_error (error, local);
              return FALSE;
            }

          recorder_mail_error (rec, TD_RECORDER_ERROR_REJECTED, local,
                               batch[i]->kind == ITEM_SAVE_VALUES ? batch[i]->sql : NULL,
                               0, 0);
          g_clear_error (&local);
          g_clear_pointer (&batch[i], td_record_free);
          continue;
        }

      __atomic_add_fetch (&rec->n_commits, 1, __ATOMIC_RELAXED);
      if (batch[i] != NULL)
        {
          __atomic_add_fetch (&rec->n_saved, 1, __ATOMIC_RELAXED);
          g_clear_pointer (&batch[i], td_record_free);
        }
    }

  return TRUE;
}

/* TRUE if a failure with @error may be cured only by a new connection: a
 * connection opened read-only stays so, and after an I/O error the file
 * may have been replaced or remounted. */
static gboolean
needs_reconnect (const GError *error)
{
  int code = error->code & 0xff;

  return error->domain == TD_SQLITE_ERROR &&
         (code == SQLITE_READONLY || code == SQLITE_IOERR || code == SQLITE_CANTOPEN ||
          code == SQLITE_CORRUPT || code == SQLITE_NOTADB);
}

/* Puts the records left in batch[0..n) back at the head of the pending
 * list, in order, for a later attempt. */
static void
recorder_unpop_batch (TdRecorder  *rec,
                      TdRecord   **batch,
                      guint        n)
{
  for (guint i = n; i > 0; i--)
    {
      TdRecord *r = g_steal_pointer (&batch[i - 1]);

      if (r == NULL)
        continue;
      r->next = rec->pending;
      rec->pending = r;
      if (rec->pending_tail == NULL)
        rec->pending_tail = r;
      rec->n_pending_saves++;
    }
}

typedef enum
{
  WRITE_DONE,       /* committed */
  WRITE_REOPEN,     /* the batch is back in the pending list; reconnect */
  WRITE_GAVE_UP,    /* close gave up; the records are counted as lost */
} WriteStatus;

/* Writes batch[0..n) and frees it, retrying transient failures with
 * backoff. */
static WriteStatus
recorder_write_batch (TdRecorder  *rec,
                      TdRecord   **batch,
                      guint        n)
{
  gboolean one_by_one = FALSE;
  guint n_written = 0;

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      guint ms;

      if (recorder_try_batch (rec, batch, n, &error))
        break;

      /* Failed at COMMIT because of some record, not the disk: find it. */
      if (!is_retryable (error))
        {
          g_clear_error (&error);
          if (recorder_try_each (rec, batch, n, &error))
            {
              one_by_one = TRUE;
              break;
            }
        }

      rec->failing = TRUE;
      ms = recorder_next_backoff (rec);

      if (rec->give_up_at != 0 && g_get_monotonic_time () >= rec->give_up_at)
        {
          guint n_lost = 0;

          for (guint i = 0; i < n; i++)
            if (batch[i] != NULL)
              {
                n_lost++;
                g_clear_pointer (&batch[i], td_record_free);
              }

          td_mutex_lock (&rec->lock);
          rec->n_lost += n_lost;
          if (rec->lost_error == NULL)
            rec->lost_error = g_error_copy (error);
          td_mutex_unlock (&rec->lock);
          return WRITE_GAVE_UP;
        }

      recorder_mail_error (rec, TD_RECORDER_ERROR_RETRYING, error, NULL, ms,
                           recorder_count_kept (rec, n));
      recorder_sleep (rec, ms);

      if (needs_reconnect (error))
        {
          recorder_unpop_batch (rec, batch, n);
          conn_close (&rec->conn);
          g_atomic_int_set (&rec->ready, 0);
          return WRITE_REOPEN;
        }
    }

  for (guint i = 0; i < n; i++)
    if (batch[i] != NULL)
      {
        n_written++;
        td_record_free (batch[i]);
      }

  if (!one_by_one)
    __atomic_add_fetch (&rec->n_commits, 1, __ATOMIC_RELAXED);
  __atomic_add_fetch (&rec->n_saved, n_written, __ATOMIC_RELAXED);

  if (rec->failing)
    {
      rec->failing = FALSE;
      recorder_mail_error (rec, TD_RECORDER_ERROR_RECOVERED, NULL, NULL, 0,
                           recorder_count_kept (rec, 0));
    }
  rec->backoff_ms = 0;

  return WRITE_DONE;
}

static void
recorder_run_load (TdRecorder *rec,
                   TdRequest  *req)
{
  if (req->base.kind == ITEM_LOAD)
    {
      GError *error = NULL;
      TdRows *rows = td_store_conn_query (&rec->conn, req->sql,
                                          req->base.values, req->base.n_values,
                                          &error);

      if (rows == NULL)
        rows = td_rows_new_error (error);
      td_mail_send_new (req->reply, req->reply_kind, rows, (GDestroyNotify) td_rows_free);
    }
  else
    {
      TdStoreResult *result = g_new0 (TdStoreResult, 1);

      result->result_destroy = req->result_destroy;
      result->result = req->load_func (&rec->conn, req->base.data, &result->error);
      if (result->result == NULL && result->error == NULL)
        g_set_error (&result->error, TD_STORE_ERROR, TD_STORE_ERROR_INVALID,
                     "The load function returned nothing");
      td_mail_send_new (req->reply, req->reply_kind, result,
                        (GDestroyNotify) td_store_result_free);
    }
}

/* Makes what is committed durable against power loss too: a checkpoint
 * syncs the WAL before copying it into the database. Committing already
 * protects against a crash of the process, so a busy checkpoint is not an
 * error. */
static void
recorder_checkpoint (TdRecorder *rec)
{
  int rc = sqlite3_wal_checkpoint_v2 (rec->conn.db, NULL, SQLITE_CHECKPOINT_PASSIVE,
                                      NULL, NULL);

  if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY)
    g_debug ("%s: checkpoint: %s", rec->path, sqlite3_errmsg (rec->conn.db));
}

/* Frees whatever is still queued at the end, counting saves as lost and
 * answering requests with @error. */
static void
recorder_drop_all (TdRecorder   *rec,
                   const GError *error)
{
  guint n_lost = 0;
  TdRecord *r;

  recorder_take (rec, FALSE);
  while ((r = recorder_pop (rec)) != NULL)
    {
      if (ITEM_IS_SAVE (r))
        n_lost++;
      else
        request_fail (r, error);
      td_record_free (r);
    }

  if (n_lost > 0)
    {
      td_mutex_lock (&rec->lock);
      rec->n_lost += n_lost;
      if (rec->lost_error == NULL)
        rec->lost_error = g_error_copy (error);
      td_mutex_unlock (&rec->lock);
    }
}

static gpointer
recorder_thread (gpointer data)
{
  TdRecorder *rec = data;
  gboolean done = FALSE;

  td_thread_enter_background ();
  rec->batch = g_new (TdRecord *, rec->opts.max_batch);

  while (!done)
    {
      TdRecord *r;

      if (rec->conn.db == NULL && !recorder_open (rec))
        {
          g_autoptr(GError) error = g_error_new (TD_STORE_ERROR, TD_STORE_ERROR_CLOSED,
                                                 "The database %s could not be opened",
                                                 rec->path);

          recorder_drop_all (rec, error);
          break;
        }

      if (rec->pending == NULL)
        recorder_take (rec, TRUE);

      r = rec->pending;
      if (ITEM_IS_SAVE (r))
        {
          guint n = 0;

          while (n < rec->opts.max_batch && rec->pending != NULL && ITEM_IS_SAVE (rec->pending))
            rec->batch[n++] = recorder_pop (rec);

          if (recorder_write_batch (rec, rec->batch, n) == WRITE_GAVE_UP)
            {
              g_autoptr(GError) error = g_error_new (TD_STORE_ERROR, TD_STORE_ERROR_CLOSED,
                                                     "The database %s is closed",
                                                     rec->path);

              recorder_drop_all (rec, error);
              done = TRUE;
            }
          continue;
        }

      r = recorder_pop (rec);
      switch (r->kind)
        {
        case ITEM_LOAD:
        case ITEM_LOAD_FUNC:
          recorder_run_load (rec, (TdRequest *) r);
          break;
        case ITEM_FLUSH:
          recorder_checkpoint (rec);
          td_mail_send_new (((TdRequest *) r)->reply, ((TdRequest *) r)->reply_kind,
                            NULL, NULL);
          break;
        case ITEM_CLOSE:
          done = TRUE;
          break;
        case ITEM_SAVE_VALUES:
        case ITEM_SAVE_FUNC:
        default:
          g_assert_not_reached ();
        }
      td_record_free (r);
    }

  if (rec->conn.db != NULL)
    recorder_checkpoint (rec);
  conn_close (&rec->conn);
  g_clear_pointer (&rec->batch, g_free);

  td_mutex_lock (&rec->lock);
  if (rec->n_lost > 0)
    {
      g_autoptr(GError) lost = g_error_new (TD_STORE_ERROR, TD_STORE_ERROR_LOST,
                                            "%u changes could not be saved to %s: %s",
                                            rec->n_lost, rec->path,
                                            rec->lost_error->message);
      td_mutex_unlock (&rec->lock);
      recorder_mail_error (rec, TD_RECORDER_ERROR_LOST, lost, NULL, 0, 0);
    }
  else
    td_mutex_unlock (&rec->lock);

  return NULL;
}

/* ---------------------------------------------------------------------- */
/* Public API                                                              */
/* ---------------------------------------------------------------------- */

TdRecorder *
td_recorder_new (const char     *path,
                 const TdSchema *schema)
{
  return td_recorder_new_full (path, schema, NULL);
}

TdRecorder *
td_recorder_new_full (const char              *path,
                      const TdSchema          *schema,
                      const TdRecorderOptions *options)
{
  TdRecorder *rec;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (schema != NULL, NULL);

  rec = g_new0 (TdRecorder, 1);
  rec->path = g_strdup (path);
  rec->schema = schema;
  if (options != NULL)
    rec->opts = *options;
  rec->vfs = g_strdup (rec->opts.vfs);
  rec->opts.vfs = rec->vfs;

#define DEFAULT(field, value) if (rec->opts.field == 0) rec->opts.field = (value)
  DEFAULT (max_batch, TD_RECORDER_MAX_BATCH);
  DEFAULT (coalesce_usec, TD_RECORDER_COALESCE_USEC);
  DEFAULT (retry_initial_ms, TD_RECORDER_RETRY_INITIAL_MS);
  DEFAULT (retry_max_ms, TD_RECORDER_RETRY_MAX_MS);
  DEFAULT (close_give_up_ms, TD_RECORDER_CLOSE_GIVE_UP_MS);
  DEFAULT (busy_timeout_ms, TD_SCHEMA_DEFAULT_BUSY_TIMEOUT_MS);
#undef DEFAULT

  g_mutex_init (&rec->lock);
  g_cond_init (&rec->cond);
  g_queue_init (&rec->undelivered);

  rec->thread = g_thread_new ("td-recorder", recorder_thread, rec);

  return rec;
}

void
td_recorder_set_error_mailbox (TdRecorder  *rec,
                               TdMailboxId  mailbox,
                               guint        kind)
{
  GQueue undelivered = G_QUEUE_INIT;
  TdRecorderError *err;

  g_return_if_fail (rec != NULL);

  td_mutex_lock (&rec->lock);
  rec->error_mailbox = mailbox;
  rec->error_kind = kind;
  if (mailbox != TD_MAILBOX_NONE)
    {
      undelivered = rec->undelivered;
      g_queue_init (&rec->undelivered);
    }
  td_mutex_unlock (&rec->lock);

  while ((err = g_queue_pop_head (&undelivered)) != NULL)
    td_mail_send_new (mailbox, kind, err, (GDestroyNotify) td_recorder_error_free);
}

void
td_recorder_save (TdRecorder *rec,
                  TdRecord   *record)
{
  g_return_if_fail (rec != NULL);
  g_return_if_fail (record != NULL && ITEM_IS_SAVE (record));

  recorder_push (rec, record);
}

void
td_recorder_save_valuesv (TdRecorder    *rec,
                          const char    *sql,
                          const TdValue *values,
                          guint          n_values)
{
  g_return_if_fail (rec != NULL);
  g_return_if_fail (sql != NULL);

  recorder_push (rec, record_alloc (sizeof (TdRecord), ITEM_SAVE_VALUES, sql, values, n_values));
}

void
td_recorder_save_func (TdRecorder        *rec,
                       TdRecordApplyFunc  func,
                       gpointer           data,
                       GDestroyNotify     destroy)
{
  g_return_if_fail (rec != NULL);
  g_return_if_fail (func != NULL);

  recorder_push (rec, td_record_new_func (func, data, destroy));
}

static TdRequest *
request_new (ItemKind       kind,
             const TdValue *params,
             guint          n_params,
             TdMailboxId    reply,
             guint          reply_kind)
{
  TdRequest *req = (TdRequest *) record_alloc (sizeof (TdRequest), kind, NULL,
                                               params, n_params);

  req->reply = reply;
  req->reply_kind = reply_kind;
  return req;
}

void
td_recorder_load (TdRecorder    *rec,
                  const char    *sql,
                  const TdValue *params,
                  guint          n_params,
                  TdMailboxId    reply,
                  guint          reply_kind)
{
  TdRequest *req;

  g_return_if_fail (rec != NULL);
  g_return_if_fail (sql != NULL);
  g_return_if_fail (params != NULL || n_params == 0);

  req = request_new (ITEM_LOAD, params, n_params, reply, reply_kind);
  req->sql = g_strdup (sql);
  recorder_push (rec, &req->base);
}

void
td_recorder_load_func (TdRecorder         *rec,
                       TdRecorderLoadFunc  func,
                       gpointer            data,
                       GDestroyNotify      destroy,
                       GDestroyNotify      result_destroy,
                       TdMailboxId         reply,
                       guint               reply_kind)
{
  TdRequest *req;

  g_return_if_fail (rec != NULL);
  g_return_if_fail (func != NULL);

  req = request_new (ITEM_LOAD_FUNC, NULL, 0, reply, reply_kind);
  req->load_func = func;
  req->base.data = data;
  req->base.destroy = destroy;
  req->result_destroy = result_destroy;
  recorder_push (rec, &req->base);
}

void
td_recorder_flush (TdRecorder  *rec,
                   TdMailboxId  reply,
                   guint        reply_kind)
{
  g_return_if_fail (rec != NULL);

  recorder_push (rec, &request_new (ITEM_FLUSH, NULL, 0, reply, reply_kind)->base);
}

void
td_recorder_reopen (TdRecorder *rec)
{
  g_return_if_fail (rec != NULL);

  td_mutex_lock (&rec->lock);
  rec->reopen_requested = TRUE;
  if (rec->wake & WAKE_CLOSE)
    {
      rec->wake = 0;
      g_cond_signal (&rec->cond);
    }
  td_mutex_unlock (&rec->lock);
}

gboolean
td_recorder_close (TdRecorder  *rec,
                   GError     **error)
{
  TdRequest *req;
  guint n_lost;

  g_return_val_if_fail (rec != NULL, FALSE);

  if (rec->thread == NULL)
    return TRUE;

  req = request_new (ITEM_CLOSE, NULL, 0, TD_MAILBOX_NONE, 0);
  /* Close cuts short any wait: an open delay, a backoff, a broken file. */
  td_mutex_lock (&rec->lock);
  rec->close_requested = TRUE;
  rec->wake = 0;
  g_cond_signal (&rec->cond);
  td_mutex_unlock (&rec->lock);
  recorder_push (rec, &req->base);

  td_mutex_lock (&rec->lock);
  rec->closed = TRUE;
  td_mutex_unlock (&rec->lock);

  g_thread_join (g_steal_pointer (&rec->thread));

  td_mutex_lock (&rec->lock);
  n_lost = rec->n_lost;
  if (n_lost > 0)
    g_set_error (error, TD_STORE_ERROR, TD_STORE_ERROR_LOST,
                 "%u changes could not be saved to %s: %s", n_lost, rec->path,
                 rec->lost_error->message);
  td_mutex_unlock (&rec->lock);

  return n_lost == 0;
}

void
td_recorder_free (TdRecorder *rec)
{
  g_autoptr(GError) error = NULL;

  if (rec == NULL)
    return;

  if (!td_recorder_close (rec, &error))
    g_warning ("%s", error->message);

  g_queue_clear_full (&rec->undelivered, (GDestroyNotify) td_recorder_error_free);
  g_clear_error (&rec->lost_error);
  g_mutex_clear (&rec->lock);
  g_cond_clear (&rec->cond);
  g_free (rec->vfs);
  g_free (rec->path);
  g_free (rec);
}

const char *
td_recorder_get_path (TdRecorder *rec)
{
  g_return_val_if_fail (rec != NULL, NULL);

  return rec->path;
}

gboolean
td_recorder_is_ready (TdRecorder *rec)
{
  g_return_val_if_fail (rec != NULL, FALSE);

  return g_atomic_int_get (&rec->ready) != 0;
}

guint64
td_recorder_get_n_commits (TdRecorder *rec)
{
  g_return_val_if_fail (rec != NULL, 0);

  return __atomic_load_n (&rec->n_commits, __ATOMIC_RELAXED);
}

guint64
td_recorder_get_n_saved (TdRecorder *rec)
{
  g_return_val_if_fail (rec != NULL, 0);

  return __atomic_load_n (&rec->n_saved, __ATOMIC_RELAXED);
}
