/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-store"

#include "config.h"

#include <errno.h>
#include <string.h>
#include <glib/gstdio.h>

#include "store/td-store.h"

/* Companion files sqlite may keep next to a database; they belong to it and
 * move with it, or a later open would replay a stale log into a new file. */
static const char * const companion_suffixes[] = { "-wal", "-shm", "-journal" };

/* How many `.broken-TIMESTAMP.N` names to try when a file was already moved
 * aside in the same second. */
#define TD_STORE_MOVE_ASIDE_MAX_TRIES 100

G_DEFINE_QUARK (td-sqlite-error-quark, td_sqlite_error)
G_DEFINE_QUARK (td-store-error-quark, td_store_error)

gboolean
td_sqlite_code_is_transient (int code)
{
  switch (code & 0xff)
    {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_NOMEM:
    case SQLITE_READONLY:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL:
    case SQLITE_INTERRUPT:
      return TRUE;
    default:
      return FALSE;
    }
}

void
td_sqlite_set_error (GError     **error,
                     sqlite3     *db,
                     int          code,
                     const char  *what)
{
  const char *msg = db != NULL ? sqlite3_errmsg (db) : sqlite3_errstr (code);

  if (db != NULL && sqlite3_extended_errcode (db) != SQLITE_OK)
    code = sqlite3_extended_errcode (db);

  g_set_error (error, TD_SQLITE_ERROR, code, "%s: %s (sqlite %d)",
               what, msg, code);
}

/* ---------------------------------------------------------------------- */
/* Values                                                                  */
/* ---------------------------------------------------------------------- */

gboolean
td_stmt_bind_values (sqlite3_stmt   *stmt,
                     const TdValue  *values,
                     guint           n_values,
                     GError        **error)
{
  if ((int) n_values != sqlite3_bind_parameter_count (stmt))
    {
      g_set_error (error, TD_STORE_ERROR, TD_STORE_ERROR_INVALID,
                   "%u values given for %d parameters in “%s”",
                   n_values, sqlite3_bind_parameter_count (stmt),
                   sqlite3_sql (stmt));
      return FALSE;
    }

  for (guint i = 0; i < n_values; i++)
    {
      const TdValue *v = &values[i];
      int rc;

      switch (v->type)
        {
        case TD_VALUE_INT:
          rc = sqlite3_bind_int64 (stmt, i + 1, v->v.i);
          break;
        case TD_VALUE_DOUBLE:
          rc = sqlite3_bind_double (stmt, i + 1, v->v.d);
          break;
        case TD_VALUE_TEXT:
          if (v->v.text == NULL)
            rc = sqlite3_bind_null (stmt, i + 1);
          else
            rc = sqlite3_bind_text64 (stmt, i + 1, v->v.text,
                                      v->size < 0 ? strlen (v->v.text) : (gsize) v->size,
                                      SQLITE_STATIC, SQLITE_UTF8);
          break;
        case TD_VALUE_BLOB:
          if (v->v.blob == NULL)
            rc = sqlite3_bind_null (stmt, i + 1);
          else
            rc = sqlite3_bind_blob64 (stmt, i + 1, v->v.blob, MAX (v->size, 0),
                                      SQLITE_STATIC);
          break;
        case TD_VALUE_NULL:
        default:
          rc = sqlite3_bind_null (stmt, i + 1);
          break;
        }

      if (rc != SQLITE_OK)
        {
          td_sqlite_set_error (error, sqlite3_db_handle (stmt), rc, "bind");
          return FALSE;
        }
    }

  return TRUE;
}

/* ---------------------------------------------------------------------- */
/* Rows                                                                    */
/* ---------------------------------------------------------------------- */

static void
td_value_clear (TdValue *v)
{
  if (v->type == TD_VALUE_TEXT)
    g_free ((char *) v->v.text);
  else if (v->type == TD_VALUE_BLOB)
    g_free ((gpointer) v->v.blob);
  v->type = TD_VALUE_NULL;
}

/* Copies column @col of the current row of @stmt into @out, owning it. */
static void
td_value_from_column (TdValue      *out,
                      sqlite3_stmt *stmt,
                      int           col)
{
  switch (sqlite3_column_type (stmt, col))
    {
    case SQLITE_INTEGER:
      *out = TD_INT (sqlite3_column_int64 (stmt, col));
      break;
    case SQLITE_FLOAT:
      *out = TD_DOUBLE (sqlite3_column_double (stmt, col));
      break;
    case SQLITE_TEXT:
      {
        const char *text = (const char *) sqlite3_column_text (stmt, col);
        int len = sqlite3_column_bytes (stmt, col);

        *out = (TdValue) { .type = TD_VALUE_TEXT, .size = len,
                           .v.text = g_strndup (text, len) };
      }
      break;
    case SQLITE_BLOB:
      {
        int len = sqlite3_column_bytes (stmt, col);

        *out = (TdValue) { .type = TD_VALUE_BLOB, .size = len,
                           .v.blob = g_memdup2 (sqlite3_column_blob (stmt, col), len) };
      }
      break;
    case SQLITE_NULL:
    default:
      *out = TD_NULL;
      break;
    }
}

TdRows *
td_rows_collect (sqlite3_stmt  *stmt,
                 GError       **error)
{
  g_autoptr(TdRows) rows = g_new0 (TdRows, 1);
  g_autoptr(GArray) cells = NULL;
  int rc;

  rows->n_columns = sqlite3_column_count (stmt);
  rows->columns = g_new0 (char *, rows->n_columns + 1);
  for (guint c = 0; c < rows->n_columns; c++)
    rows->columns[c] = g_strdup (sqlite3_column_name (stmt, c));

  cells = g_array_new (FALSE, FALSE, sizeof (TdValue));
  g_array_set_clear_func (cells, (GDestroyNotify) td_value_clear);

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      guint base = cells->len;

      g_array_set_size (cells, base + rows->n_columns);
      for (guint c = 0; c < rows->n_columns; c++)
        td_value_from_column (&g_array_index (cells, TdValue, base + c), stmt, c);
      rows->n_rows++;
    }

  if (rc != SQLITE_DONE)
    {
      td_sqlite_set_error (error, sqlite3_db_handle (stmt), rc, "query");
      sqlite3_reset (stmt);
      return NULL;
    }

  sqlite3_reset (stmt);
  g_array_set_clear_func (cells, NULL);
  rows->values = (TdValue *) (gpointer) g_array_free (g_steal_pointer (&cells), FALSE);

  return g_steal_pointer (&rows);
}

TdRows *
td_rows_new_error (GError *error)
{
  TdRows *rows = g_new0 (TdRows, 1);

  rows->columns = g_new0 (char *, 1);
  rows->error = error;

  return rows;
}

void
td_rows_free (TdRows *rows)
{
  if (rows == NULL)
    return;

  if (rows->values != NULL)
    for (gsize i = 0; i < (gsize) rows->n_rows * rows->n_columns; i++)
      td_value_clear (&rows->values[i]);
  g_free (rows->values);
  g_strfreev (rows->columns);
  g_clear_error (&rows->error);
  g_free (rows);
}

int
td_rows_find_column (const TdRows *rows,
                     const char   *name)
{
  g_return_val_if_fail (rows != NULL, -1);

  for (guint c = 0; c < rows->n_columns; c++)
    if (g_strcmp0 (rows->columns[c], name) == 0)
      return c;

  return -1;
}

const TdValue *
td_rows_get (const TdRows *rows,
             guint         row,
             guint         column)
{
  g_return_val_if_fail (rows != NULL, NULL);
  g_return_val_if_fail (row < rows->n_rows, NULL);
  g_return_val_if_fail (column < rows->n_columns, NULL);

  return &rows->values[(gsize) row * rows->n_columns + column];
}

/* Returns the integer in the cell, converting a double; 0 for anything else. */
gint64
td_rows_get_int (const TdRows *rows,
                 guint         row,
                 guint         column)
{
  const TdValue *v = td_rows_get (rows, row, column);

  if (v == NULL)
    return 0;
  if (v->type == TD_VALUE_INT)
    return v->v.i;
  if (v->type == TD_VALUE_DOUBLE)
    return (gint64) v->v.d;
  return 0;
}

/* Returns the number in the cell; 0.0 for anything else. */
double
td_rows_get_double (const TdRows *rows,
                    guint         row,
                    guint         column)
{
  const TdValue *v = td_rows_get (rows, row, column);

  if (v == NULL)
    return 0.0;
  if (v->type == TD_VALUE_DOUBLE)
    return v->v.d;
  if (v->type == TD_VALUE_INT)
    return (double) v->v.i;
  return 0.0;
}

/* Returns the text in the cell (owned by @rows), or NULL if it is not text. */
const char *
td_rows_get_text (const TdRows *rows,
                  guint         row,
                  guint         column)
{
  const TdValue *v = td_rows_get (rows, row, column);

  if (v == NULL || v->type != TD_VALUE_TEXT)
    return NULL;
  return v->v.text;
}

/* ---------------------------------------------------------------------- */
/* Files                                                                   */
/* ---------------------------------------------------------------------- */

char *
td_store_move_aside (const char  *path,
                     GError     **error)
{
  g_autoptr(GDateTime) now = NULL;
  g_autofree char *stamp = NULL;
  g_autofree char *target = NULL;

  g_return_val_if_fail (path != NULL, NULL);

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
                   "Cannot move aside “%s”: no such file", path);
      return NULL;
    }

  now = g_date_time_new_now_local ();
  stamp = g_date_time_format (now, "%Y%m%d-%H%M%S");

  for (guint n = 0; n < TD_STORE_MOVE_ASIDE_MAX_TRIES && target == NULL; n++)
    {
      g_autofree char *candidate = NULL;
      gboolean taken = FALSE;

      if (n == 0)
        candidate = g_strdup_printf ("%s.broken-%s", path, stamp);
      else
        candidate = g_strdup_printf ("%s.broken-%s.%u", path, stamp, n);

      taken = g_file_test (candidate, G_FILE_TEST_EXISTS);
      for (guint i = 0; i < G_N_ELEMENTS (companion_suffixes) && !taken; i++)
        {
          g_autofree char *c = g_strconcat (candidate, companion_suffixes[i], NULL);
          taken = g_file_test (c, G_FILE_TEST_EXISTS);
        }

      if (!taken)
        target = g_steal_pointer (&candidate);
    }

  if (target == NULL)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_EXIST,
                   "Cannot move aside “%s”: too many broken copies", path);
      return NULL;
    }

  /* Companions first: if the main rename then fails, the main file is still
   * in place and sqlite only loses an uncommitted log, never the database. */
  for (guint i = 0; i < G_N_ELEMENTS (companion_suffixes); i++)
    {
      g_autofree char *from = g_strconcat (path, companion_suffixes[i], NULL);
      g_autofree char *to = g_strconcat (target, companion_suffixes[i], NULL);

      if (g_rename (from, to) != 0 && errno != ENOENT)
        {
          int saved = errno;

          g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                       "Cannot rename “%s” to “%s”: %s", from, to, g_strerror (saved));
          return NULL;
        }
    }

  if (g_rename (path, target) != 0)
    {
      int saved = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                   "Cannot rename “%s” to “%s”: %s", path, target, g_strerror (saved));
      return NULL;
    }

  return g_steal_pointer (&target);
}
