/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>
#include <sqlite3.h>

#include "core/td-mailbox.h"
#include "store/td-schema.h"
#include "store/td-store.h"

G_BEGIN_DECLS

/*
 * The recorder: one thread that owns an sqlite connection.
 *
 * Every request goes into one FIFO. Saves are fire-and-forget; the thread
 * takes every save already queued (up to TD_RECORDER_MAX_BATCH) into one
 * transaction. Loads and flushes are answered by mail after every save
 * queued before them is committed (read-your-writes). The database is
 * opened and migrated on the thread, so td_recorder_new() returns at once
 * and the work queued meanwhile is applied when the database is ready.
 *
 * Writing: a record is one SQL statement plus its parameters. The SQL text
 * is not copied: it must be a string that outlives the recorder (a literal
 * or g_intern_string()), and it is the key of the prepared-statement cache.
 * Parameters are copied. A feed upsert is a one-liner:
 *
 *   #define UPSERT_ITEM \
 *     "INSERT INTO items (feed_id, guid, title, link, published, fetched_at)" \
 *     " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (feed_id, guid) DO UPDATE SET" \
 *     " title = excluded.title, link = excluded.link, published = excluded.published"
 *
 *   td_recorder_save_values (rec, UPSERT_ITEM, TD_INT (feed_id), TD_TEXT (guid),
 *                            TD_TEXT (title), TD_TEXT (link),
 *                            TD_INT (published), TD_INT (g_get_real_time ()));
 *
 * and so is a chat line:
 *
 *   td_recorder_save_values (rec, "INSERT INTO chat_messages (network_id,"
 *                            " buffer_id, msgid, time, sender, kind, text)"
 *                            " VALUES (?, ?, ?, ?, ?, ?, ?)",
 *                            TD_INT (net), TD_INT (buf), TD_TEXT (msgid),
 *                            TD_INT (time), TD_TEXT (nick), TD_TEXT ("privmsg"),
 *                            TD_TEXT (text));
 *
 * Work that needs several statements or reads before it writes (create a
 * buffer if missing, then insert into it) is a TdRecordApplyFunc run on the
 * recorder thread inside the batch transaction, with the same statement
 * cache through TdStoreConn.
 *
 * The queue is unbounded, since a save never blocks: a producer that
 * outruns the disk for long grows memory, and can watch
 * td_recorder_get_n_saved() to pace itself.
 *
 * Failures: a batch that fails for a reason that may pass (busy, disk full,
 * read-only, I/O error) is rolled back, kept and retried with exponential
 * backoff; every failure and the recovery are mailed to the error mailbox.
 * A record that can never apply (bad SQL, constraint violation) is dropped
 * and reported there too. A file that is damaged, foreign or from a newer
 * version is never written to: the recorder reports it, keeps the saves,
 * answers loads and flushes with TD_STORE_ERROR_BROKEN, and waits for
 * td_recorder_reopen() (after td_store_move_aside()) or td_recorder_close().
 */

/* The most saves in one transaction: large enough that a burst costs a
 * handful of commits, small enough that a load queued behind a burst waits
 * only a few milliseconds and a retried batch is cheap to replay. */
#define TD_RECORDER_MAX_BATCH           8192

/* How long the thread lets saves gather after the first one arrives before
 * committing a partial batch (group commit). A burst of saves then costs
 * one commit per window instead of one per wake-up; loads, flushes and
 * close are not delayed by it. */
#define TD_RECORDER_COALESCE_USEC       2000

/* Backoff between retries of a failed batch or open: starts here, doubles
 * each time, and is capped so that a cleared fault (disk space freed, lock
 * released) is noticed within half a minute. */
#define TD_RECORDER_RETRY_INITIAL_MS    100
#define TD_RECORDER_RETRY_MAX_MS        30000

/* How long td_recorder_close() keeps retrying a failing batch before it
 * gives up and reports the records it could not write, so that quitting
 * the app with a full disk does not hang forever. */
#define TD_RECORDER_CLOSE_GIVE_UP_MS    10000

typedef struct _TdRecorder  TdRecorder;
typedef struct _TdRecord    TdRecord;
typedef struct _TdStoreConn TdStoreConn;

/* Runs on the recorder thread inside the batch transaction (under a
 * savepoint). Must be repeatable: if the batch is rolled back because of a
 * transient error it runs again. Returns FALSE and sets @error to undo its
 * own writes; errors from sqlite should be TD_SQLITE_ERROR so that transient
 * ones are retried. */
typedef gboolean (*TdRecordApplyFunc) (TdStoreConn  *conn,
                                       gpointer      data,
                                       GError      **error);

/* Runs on the recorder thread after every earlier save is committed, and
 * builds the caller's own result (plain structs). Returns NULL and sets
 * @error on failure. */
typedef gpointer (*TdRecorderLoadFunc) (TdStoreConn  *conn,
                                        gpointer      data,
                                        GError      **error);

/* Payload of the reply to td_recorder_load_func(). */
typedef struct
{
  gpointer        result;          /* NULL on error */
  GDestroyNotify  result_destroy;
  GError         *error;
} TdStoreResult;

void      td_store_result_free  (TdStoreResult *result);
gpointer  td_store_result_steal (TdStoreResult *result);

/* What the error mailbox receives (payload of its mail). */
typedef enum
{
  TD_RECORDER_ERROR_RETRYING,    /* a batch or the open failed and will be retried */
  TD_RECORDER_ERROR_RECOVERED,   /* work that had failed is now committed; error is NULL */
  TD_RECORDER_ERROR_REJECTED,    /* one record can never apply and was dropped */
  TD_RECORDER_ERROR_BROKEN,      /* the file is damaged, foreign or newer: not opened */
  TD_RECORDER_ERROR_LOST,        /* close gave up: records were not written */
} TdRecorderErrorKind;

typedef struct
{
  TdRecorderErrorKind  kind;
  GError              *error;        /* with sqlite's message; NULL for RECOVERED */
  char                *path;         /* the database file */
  char                *sql;          /* the rejected statement, for REJECTED */
  guint                retry_in_ms;  /* for RETRYING */
  guint                n_kept;       /* saves waiting to be written */
} TdRecorderError;

void td_recorder_error_free (TdRecorderError *err);

/* Knobs, mostly for tests; zero fields take the defaults above. */
typedef struct
{
  guint       max_batch;
  guint       coalesce_usec;
  guint       retry_initial_ms;
  guint       retry_max_ms;
  guint       close_give_up_ms;
  guint       busy_timeout_ms;
  const char *vfs;              /* sqlite VFS name; NULL: the default */
  guint       open_delay_ms;    /* test hook: a slow disk at open */
} TdRecorderOptions;

/* ---------------------------------------------------------------------- */
/* Records                                                                 */
/* ---------------------------------------------------------------------- */

/* A record of @sql (not copied; see above) with @n_values parameters, all
 * NULL until set. The recorder takes ownership in td_recorder_save(). */
TdRecord   *td_record_new         (const char        *sql,
                                   guint              n_values);
/* A record with @values copied in one allocation: the fast path. */
TdRecord   *td_record_new_values  (const char        *sql,
                                   const TdValue     *values,
                                   guint              n_values);
/* A record that runs @func; @destroy frees @data once it is applied. */
TdRecord   *td_record_new_func    (TdRecordApplyFunc  func,
                                   gpointer           data,
                                   GDestroyNotify     destroy);
void        td_record_set_int     (TdRecord          *record,
                                   guint              index,
                                   gint64             value);
void        td_record_set_double  (TdRecord          *record,
                                   guint              index,
                                   double             value);
void        td_record_set_text    (TdRecord          *record,
                                   guint              index,
                                   const char        *text);
void        td_record_set_blob    (TdRecord          *record,
                                   guint              index,
                                   gconstpointer      data,
                                   gsize              size);
void        td_record_set_null    (TdRecord          *record,
                                   guint              index);
void        td_record_free        (TdRecord          *record);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdRecord, td_record_free)

/* ---------------------------------------------------------------------- */
/* The recorder                                                            */
/* ---------------------------------------------------------------------- */

/* Starts a recorder for the database at @path (created if missing, with its
 * parent directories) with @schema. Returns at once; the open happens on
 * the recorder thread. */
TdRecorder *td_recorder_new            (const char               *path,
                                        const TdSchema           *schema);
TdRecorder *td_recorder_new_full       (const char               *path,
                                        const TdSchema           *schema,
                                        const TdRecorderOptions  *options);

/* Errors are mailed to @mailbox as TdRecorderError of @kind. Errors that
 * happened before a mailbox was set are delivered now. Any thread. */
void        td_recorder_set_error_mailbox (TdRecorder            *rec,
                                        TdMailboxId               mailbox,
                                        guint                     kind);

/* Queues @record (taking it). Never blocks on the disk, never fails; any
 * thread. */
void        td_recorder_save           (TdRecorder               *rec,
                                        TdRecord                 *record);
/* Queues @sql with a copy of @values: see the one-liner above. */
void        td_recorder_save_valuesv   (TdRecorder               *rec,
                                        const char               *sql,
                                        const TdValue            *values,
                                        guint                     n_values);
#define td_recorder_save_values(rec, sql, ...) \
  td_recorder_save_valuesv ((rec), (sql), (const TdValue[]) { __VA_ARGS__ }, \
                            TD_N_VALUES (__VA_ARGS__))
/* Queues a record that runs @func on the recorder thread. */
void        td_recorder_save_func      (TdRecorder               *rec,
                                        TdRecordApplyFunc         func,
                                        gpointer                  data,
                                        GDestroyNotify            destroy);

/* Runs the query @sql (copied; one statement) with @params after every
 * save queued before it, and mails a TdRows of @reply_kind to @reply (with
 * rows->error set on failure). Any thread. */
void        td_recorder_load           (TdRecorder               *rec,
                                        const char               *sql,
                                        const TdValue            *params,
                                        guint                     n_params,
                                        TdMailboxId               reply,
                                        guint                     reply_kind);
#define td_recorder_load_values(rec, sql, reply, reply_kind, ...) \
  td_recorder_load ((rec), (sql), (const TdValue[]) { __VA_ARGS__ }, \
                    TD_N_VALUES (__VA_ARGS__), (reply), (reply_kind))
/* Runs @func on the recorder thread after every save queued before it and
 * mails a TdStoreResult of @reply_kind to @reply. @destroy frees @data;
 * @result_destroy frees what @func returns. */
void        td_recorder_load_func      (TdRecorder               *rec,
                                        TdRecorderLoadFunc        func,
                                        gpointer                  data,
                                        GDestroyNotify            destroy,
                                        GDestroyNotify            result_destroy,
                                        TdMailboxId               reply,
                                        guint                     reply_kind);

/* Mails @reply_kind to @reply once every save queued before it is
 * committed to disk (crash-safe). The mail's data is NULL on success, or a
 * GError (freed with the mail) if the database is broken or closed. */
void        td_recorder_flush          (TdRecorder               *rec,
                                        TdMailboxId               reply,
                                        guint                     reply_kind);

/* After td_store_move_aside() of a broken file: try to open again. Saves
 * kept meanwhile go into the new database. Any thread. */
void        td_recorder_reopen         (TdRecorder               *rec);

/* Persists everything queued, closes the database and joins the thread.
 * Returns FALSE and sets @error (TD_STORE_ERROR_LOST) if some saves could
 * not be written. Later calls return TRUE and do nothing. */
gboolean    td_recorder_close          (TdRecorder               *rec,
                                        GError                  **error);
/* Closes (if not yet) and frees. */
void        td_recorder_free           (TdRecorder               *rec);

const char *td_recorder_get_path       (TdRecorder               *rec);
/* TRUE once the database is open and migrated. */
gboolean    td_recorder_is_ready       (TdRecorder               *rec);
/* Transactions committed so far (batches, not records). */
guint64     td_recorder_get_n_commits  (TdRecorder               *rec);
/* Records applied and committed so far. */
guint64     td_recorder_get_n_saved    (TdRecorder               *rec);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdRecorder, td_recorder_free)

/* ---------------------------------------------------------------------- */
/* The connection, inside apply and load functions (recorder thread only)  */
/* ---------------------------------------------------------------------- */

sqlite3      *td_store_conn_get_db       (TdStoreConn    *conn);
/* Returns the cached prepared statement for @sql (which must outlive the
 * recorder, as for records), reset and with bindings cleared; the cache
 * owns it. NULL and @error on failure. */
sqlite3_stmt *td_store_conn_prepare      (TdStoreConn    *conn,
                                          const char     *sql,
                                          GError        **error);
/* Runs one statement with @values to completion. */
gboolean      td_store_conn_exec         (TdStoreConn    *conn,
                                          const char     *sql,
                                          const TdValue  *values,
                                          guint           n_values,
                                          GError        **error);
/* Runs one query with @values and collects its rows. */
TdRows       *td_store_conn_query        (TdStoreConn    *conn,
                                          const char     *sql,
                                          const TdValue  *values,
                                          guint           n_values,
                                          GError        **error);

G_END_DECLS
