/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>
#include <sqlite3.h>

G_BEGIN_DECLS

/*
 * Shared vocabulary of the store layer: error domains, the TdValue cell used
 * for bound parameters and loaded rows, TdRows, and file helpers.
 */

/* Errors raised by sqlite itself: the code is sqlite's extended result code
 * and the message carries sqlite's own text (sqlite3_errmsg). */
#define TD_SQLITE_ERROR (td_sqlite_error_quark ())

/* Errors raised by the store layer around sqlite. */
#define TD_STORE_ERROR (td_store_error_quark ())

typedef enum
{
  TD_STORE_ERROR_NOT_A_DATABASE,  /* the file is not an sqlite database or is damaged */
  TD_STORE_ERROR_FOREIGN,         /* an sqlite database that is not ours */
  TD_STORE_ERROR_NEWER,           /* ours, but written by a newer Tidings */
  TD_STORE_ERROR_MIGRATION,       /* a migration failed; the database is left at the previous version */
  TD_STORE_ERROR_BROKEN,          /* the recorder cannot open its database; see the error mailbox */
  TD_STORE_ERROR_CLOSED,          /* the recorder was closed before the work could be done */
  TD_STORE_ERROR_LOST,            /* records could not be written before close gave up */
  TD_STORE_ERROR_INVALID,         /* a record or query the recorder cannot run (for example two statements) */
} TdStoreError;

GQuark td_sqlite_error_quark (void);
GQuark td_store_error_quark  (void);

/* TRUE if a failure with this sqlite result code may go away by itself
 * (lock held by another process, disk full, read-only media, I/O error), so
 * the work is worth keeping and retrying; FALSE for errors in the work
 * itself (SQL error, constraint, type mismatch). */
gboolean td_sqlite_code_is_transient (int code);

/* Sets @error from the state of @db after a failed call that returned
 * @code, prefixed with @what (for example "insert into items"). */
void     td_sqlite_set_error         (GError     **error,
                                      sqlite3     *db,
                                      int          code,
                                      const char  *what);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sqlite3, sqlite3_close)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (sqlite3_stmt, sqlite3_finalize)

/* ---------------------------------------------------------------------- */
/* Values                                                                  */
/* ---------------------------------------------------------------------- */

typedef enum
{
  TD_VALUE_NULL,
  TD_VALUE_INT,
  TD_VALUE_DOUBLE,
  TD_VALUE_TEXT,
  TD_VALUE_BLOB,
} TdValueType;

/* One cell: a bound parameter of a record or query, or a column of a loaded
 * row. Text is UTF-8; @size is its length in bytes, or -1 when it is
 * NUL-terminated (as built by TD_TEXT). A TEXT value whose pointer is NULL
 * is bound as SQL NULL. */
typedef struct
{
  TdValueType type;
  gssize      size;
  union {
    gint64        i;
    double        d;
    const char   *text;
    gconstpointer blob;
  } v;
} TdValue;

/* Builders for parameter lists; the pointers are borrowed until the call
 * that receives them returns (records and queries copy what they keep). */
#define TD_NULL        ((TdValue) { .type = TD_VALUE_NULL })
#define TD_INT(x)      ((TdValue) { .type = TD_VALUE_INT, .v.i = (gint64) (x) })
#define TD_BOOL(x)     ((TdValue) { .type = TD_VALUE_INT, .v.i = (x) ? 1 : 0 })
#define TD_DOUBLE(x)   ((TdValue) { .type = TD_VALUE_DOUBLE, .v.d = (double) (x) })
#define TD_TEXT(s)     ((TdValue) { .type = TD_VALUE_TEXT, .size = -1, .v.text = (s) })
#define TD_BLOB(p, n)  ((TdValue) { .type = TD_VALUE_BLOB, .size = (gssize) (n), .v.blob = (p) })

/* The number of TdValue in a brace list, without evaluating it. */
#define TD_N_VALUES(...) (sizeof ((const TdValue[]) { __VA_ARGS__ }) / sizeof (TdValue))

/* Binds @values to the parameters ?1..?n of @stmt. Returns FALSE and sets
 * @error if sqlite refuses one (wrong count, out of memory). */
gboolean td_stmt_bind_values (sqlite3_stmt   *stmt,
                              const TdValue  *values,
                              guint           n_values,
                              GError        **error);

/* ---------------------------------------------------------------------- */
/* Rows                                                                    */
/* ---------------------------------------------------------------------- */

/* The answer to a load: column names and a row-major table of values that
 * the TdRows owns. When the query failed, @error is set and there are no
 * rows. */
typedef struct
{
  guint     n_columns;
  guint     n_rows;
  char    **columns;    /* n_columns names, NULL-terminated */
  TdValue  *values;     /* n_rows * n_columns cells */
  GError   *error;
} TdRows;

/* Runs @stmt (already bound) to completion and collects every row. Returns
 * NULL and sets @error if a step fails. The statement is left reset. */
TdRows        *td_rows_collect    (sqlite3_stmt  *stmt,
                                   GError       **error);
TdRows        *td_rows_new_error  (GError        *error);
void           td_rows_free       (TdRows        *rows);
int            td_rows_find_column (const TdRows *rows,
                                   const char    *name);
const TdValue *td_rows_get        (const TdRows  *rows,
                                   guint          row,
                                   guint          column);
gint64         td_rows_get_int    (const TdRows  *rows,
                                   guint          row,
                                   guint          column);
double         td_rows_get_double (const TdRows  *rows,
                                   guint          row,
                                   guint          column);
const char    *td_rows_get_text   (const TdRows  *rows,
                                   guint          row,
                                   guint          column);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdRows, td_rows_free)

/* ---------------------------------------------------------------------- */
/* Files                                                                   */
/* ---------------------------------------------------------------------- */

/* Renames the database at @path and its -wal, -shm and -journal companions
 * to `PATH.broken-YYYYmmdd-HHMMSS` (plus the same suffixes), so that the
 * app can start fresh without destroying what was there. Returns the new
 * path of the main file (the caller owns it), or NULL and sets @error. A
 * missing companion is not an error; a missing main file is. */
char    *td_store_move_aside (const char  *path,
                              GError     **error);

G_END_DECLS
