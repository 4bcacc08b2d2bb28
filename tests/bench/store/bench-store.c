/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <glib/gstdio.h>

#include "core/td-mailbox.h"
#include "store/td-recorder.h"

/*
 * Benchmarks of the recorder against the ways of writing sqlite it replaces.
 *
 *   recorder-vs-raw    records/s through the recorder (save ... flush) vs a
 *                      raw loop inserting them in one transaction with one
 *                      prepared statement: the practical limit.
 *   recorder-vs-naive  records/s through the recorder vs one autocommit
 *                      insert per record with sqlite's default settings
 *                      (rollback journal, synchronous=FULL), what code that
 *                      writes "when something happens" ends up doing.
 *   recorder-save      the caller's median cost of one save, in ns, vs the
 *                      1 µs budget.
 *
 * Every run uses the same table, the same pragmas for recorder and raw
 * loop (WAL, synchronous=NORMAL), and a fresh database in a temporary
 * directory on disk.
 */

/* Records per measured run: large enough that the recorder's start-up and
 * the final commit are noise. */
#define BENCH_N_RECORDS        1000000

/* The naive way commits (and syncs) once per record; this many are enough
 * for a stable rate without taking minutes. */
#define BENCH_N_NAIVE_RECORDS  20000

/* The caller's cost is timed per block of saves so that reading the clock
 * does not dominate what is measured. */
#define BENCH_SAVES_PER_SAMPLE 16

/* The budget for one save, from the issue. */
#define BENCH_SAVE_BUDGET_NS   1000.0

#define BENCH_INSERT "INSERT INTO bench (k, t, v) VALUES (?, ?, ?)"

enum { KIND_FLUSH = 1 };

static const TdMigration bench_migrations[] = {
  { 1, "CREATE TABLE bench (id INTEGER PRIMARY KEY, k INTEGER NOT NULL,"
       " t INTEGER NOT NULL, v TEXT)" },
};

static const TdSchema bench_schema = {
  "bench", 0x54644265u, bench_migrations, G_N_ELEMENTS (bench_migrations),
};

typedef struct
{
  GMainContext *context;
  TdMailboxId   box;
  gint          flushed;
  char         *dir;
  guint         n_dbs;
} Bench;

static gint64
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

static void
flush_cb (TdMailboxId  id,
          TdMail      *mail,
          gpointer     user_data)
{
  Bench *b = user_data;

  if (mail->data != NULL)
    g_error ("flush failed: %s", ((GError *) mail->data)->message);
  b->flushed++;
}

static char *
bench_new_path (Bench *b)
{
  return g_strdup_printf ("%s/bench-%u.db", b->dir, b->n_dbs++);
}

static void
bench_wait_flush (Bench      *b,
                  TdRecorder *rec)
{
  gint target = b->flushed + 1;

  td_recorder_flush (rec, b->box, KIND_FLUSH);
  while (b->flushed < target)
    g_main_context_iteration (b->context, TRUE);
}

/* The record every run writes: a key, a time and a short text. */
static inline int
make_text (char   *buf,
           gsize   size,
           gint64  i)
{
  return g_snprintf (buf, size, "message %" G_GINT64_FORMAT, i);
}

/* Records per second through the recorder, from the first save to the
 * flush acknowledgement. If @samples is given, also times the caller's
 * saves (ns per save, one entry per block). */
static double
run_recorder (Bench  *b,
              guint   n,
              GArray *samples)
{
  g_autofree char *path = bench_new_path (b);
  g_autoptr(TdRecorder) rec = td_recorder_new (path, &bench_schema);
  gint64 start, end, block_start = 0;
  char text[32];

  /* Open and migrate before the clock starts, as for the raw loop. */
  bench_wait_flush (b, rec);

  start = now_ns ();
  for (guint i = 0; i < n; i++)
    {
      int len;

      if (samples != NULL && i % BENCH_SAVES_PER_SAMPLE == 0)
        block_start = now_ns ();

      len = make_text (text, sizeof text, i);
      td_recorder_save_values (rec, BENCH_INSERT, TD_INT (i % 1000), TD_INT (i),
                               (TdValue) { .type = TD_VALUE_TEXT, .size = len, .v.text = text });

      if (samples != NULL && i % BENCH_SAVES_PER_SAMPLE == BENCH_SAVES_PER_SAMPLE - 1)
        {
          double ns = (double) (now_ns () - block_start) / BENCH_SAVES_PER_SAMPLE;
          g_array_append_val (samples, ns);
        }
    }
  bench_wait_flush (b, rec);
  end = now_ns ();

  g_assert (td_recorder_get_n_saved (rec) == n);
  g_assert (td_recorder_close (rec, NULL));

  return n / ((end - start) / 1e9);
}

static sqlite3 *
open_plain (const char *path)
{
  sqlite3 *db = NULL;

  if (sqlite3_open (path, &db) != SQLITE_OK)
    g_error ("open %s: %s", path, sqlite3_errmsg (db));
  return db;
}

static void
exec_or_die (sqlite3    *db,
             const char *sql)
{
  if (sqlite3_exec (db, sql, NULL, NULL, NULL) != SQLITE_OK)
    g_error ("%s: %s", sql, sqlite3_errmsg (db));
}

/* Inserts @n records with one prepared statement, autocommit or in one
 * transaction; returns records per second. */
static double
run_plain (sqlite3  *db,
           guint     n,
           gboolean  one_transaction)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  gint64 start, end;
  char text[32];

  if (sqlite3_prepare_v2 (db, BENCH_INSERT, -1, &stmt, NULL) != SQLITE_OK)
    g_error ("prepare: %s", sqlite3_errmsg (db));

  start = now_ns ();
  if (one_transaction)
    exec_or_die (db, "BEGIN");
  for (guint i = 0; i < n; i++)
    {
      int len = make_text (text, sizeof text, i);

      sqlite3_bind_int64 (stmt, 1, i % 1000);
      sqlite3_bind_int64 (stmt, 2, i);
      sqlite3_bind_text (stmt, 3, text, len, SQLITE_STATIC);
      if (sqlite3_step (stmt) != SQLITE_DONE)
        g_error ("insert: %s", sqlite3_errmsg (db));
      sqlite3_reset (stmt);
    }
  if (one_transaction)
    exec_or_die (db, "COMMIT");
  end = now_ns ();

  return n / ((end - start) / 1e9);
}

/* The practical limit: the recorder's own settings, one transaction. */
static double
run_raw (Bench *b,
         guint  n)
{
  g_autofree char *path = bench_new_path (b);
  g_autoptr(sqlite3) db = open_plain (path);
  g_autoptr(GError) error = NULL;

  if (!td_schema_open (db, &bench_schema, TD_SCHEMA_DEFAULT_BUSY_TIMEOUT_MS, &error))
    g_error ("%s", error->message);
  return run_plain (db, n, TRUE);
}

/* The naive way: sqlite's defaults, one commit per record. */
static double
run_naive (Bench *b,
           guint  n)
{
  g_autofree char *path = bench_new_path (b);
  g_autoptr(sqlite3) db = open_plain (path);

  exec_or_die (db, bench_migrations[0].sql);
  return run_plain (db, n, FALSE);
}

static int
compare_double (gconstpointer a,
                gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y ? 1 : 0;
}

static void
print_result (const char *name,
              double      tidings,
              double      peer,
              const char *unit)
{
  printf ("%s: tidings %.0f %s, peer %.0f %s, ratio %.2f\n",
          name, tidings, unit, peer, unit, tidings / peer);
  fflush (stdout);
}

static void
bench_recorder_vs_raw (Bench *b)
{
  double raw = run_raw (b, BENCH_N_RECORDS);
  double rec = run_recorder (b, BENCH_N_RECORDS, NULL);

  print_result ("recorder-vs-raw", rec, raw, "records/s");
}

static void
bench_recorder_vs_naive (Bench *b)
{
  double naive = run_naive (b, BENCH_N_NAIVE_RECORDS);
  double rec = run_recorder (b, BENCH_N_RECORDS, NULL);

  print_result ("recorder-vs-naive", rec, naive, "records/s");
}

static void
bench_recorder_save (Bench *b)
{
  g_autoptr(GArray) samples = g_array_new (FALSE, FALSE, sizeof (double));
  double median;

  run_recorder (b, BENCH_N_RECORDS, samples);
  g_array_sort (samples, compare_double);
  median = g_array_index (samples, double, samples->len / 2);

  print_result ("recorder-save", median, BENCH_SAVE_BUDGET_NS, "ns");
}

static const struct
{
  const char *name;
  void      (*run) (Bench *b);
} benchmarks[] = {
  { "recorder-vs-raw", bench_recorder_vs_raw },
  { "recorder-vs-naive", bench_recorder_vs_naive },
  { "recorder-save", bench_recorder_save },
};

/* Removes the benchmark's files (a flat directory). */
static void
remove_dir (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *p = g_build_filename (path, name, NULL);
      g_unlink (p);
    }
  g_rmdir (path);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  Bench b = { 0 };
  int status = 0;

  if (argc == 2 && g_str_equal (argv[1], "--list"))
    {
      for (guint i = 0; i < G_N_ELEMENTS (benchmarks); i++)
        printf ("%s\n", benchmarks[i].name);
      return 0;
    }

  for (int a = 1; a < argc; a++)
    {
      gboolean known = FALSE;

      for (guint i = 0; i < G_N_ELEMENTS (benchmarks); i++)
        known |= g_str_equal (argv[a], benchmarks[i].name);
      if (!known)
        {
          fprintf (stderr, "Unknown benchmark “%s”; see --list\n", argv[a]);
          return 2;
        }
    }

  b.dir = g_dir_make_tmp ("td-bench-store-XXXXXX", &error);
  if (b.dir == NULL)
    {
      fprintf (stderr, "%s\n", error->message);
      return 1;
    }
  b.context = g_main_context_new ();
  b.box = td_mailbox_open (b.context, G_PRIORITY_DEFAULT, flush_cb, &b, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (benchmarks); i++)
    {
      gboolean wanted = argc == 1;

      for (int a = 1; a < argc; a++)
        wanted |= g_str_equal (argv[a], benchmarks[i].name);
      if (wanted)
        benchmarks[i].run (&b);
    }

  td_mailbox_close (b.box);
  while (g_main_context_iteration (b.context, FALSE))
    ;
  g_main_context_unref (b.context);
  remove_dir (b.dir);
  g_free (b.dir);

  return status;
}
