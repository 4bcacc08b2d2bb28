/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/td-recorder.h"
#include "td-fault-vfs.h"
#include "td-store-test.h"

#define INSERT_FEED \
  "INSERT INTO feeds (id, url, title) VALUES (?, ?, ?)"
#define UPSERT_ITEM \
  "INSERT INTO items (feed_id, guid, title, summary, published, fetched_at)" \
  " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (feed_id, guid) DO UPDATE SET"     \
  " title = excluded.title, summary = excluded.summary"
#define INSERT_CAPTURE \
  "INSERT INTO pubsub_messages (connection_id, channel, payload, time) VALUES (?, ?, ?, ?)"
#define INSERT_CONNECTION \
  "INSERT INTO pubsub_connections (id, name, host, port) VALUES (?, ?, '127.0.0.1', 6380)"

/* Test options: fast retries so that fault tests take milliseconds. */
static const TdRecorderOptions fast_options = {
  .retry_initial_ms = 5,
  .retry_max_ms = 50,
  .busy_timeout_ms = 20,
};

static void
save_connection (TdRecorder *rec)
{
  td_recorder_save_values (rec, INSERT_CONNECTION, TD_INT (1), TD_TEXT ("local"));
}

static void
save_capture (TdRecorder *rec,
              gint64      i)
{
  char payload[32];
  int len = g_snprintf (payload, sizeof payload, "payload %" G_GINT64_FORMAT, i);

  td_recorder_save_values (rec, INSERT_CAPTURE, TD_INT (1), TD_TEXT ("news"),
                           TD_BLOB (payload, len), TD_INT (i));
}

/* Loads a single integer through the recorder and waits for it. */
static gint64
load_int (TdStoreFixture *f,
          TdRecorder     *rec,
          const char     *sql)
{
  g_autoptr(TdGotMail) got = NULL;
  TdRows *rows;

  td_recorder_load (rec, sql, NULL, 0, f->box, KIND_ROWS);
  got = td_store_fixture_wait (f, KIND_ROWS);
  rows = got->data;
  g_assert_no_error (rows->error);
  g_assert_cmpuint (rows->n_rows, ==, 1);
  return td_rows_get_int (rows, 0, 0);
}

static void
flush_and_wait (TdStoreFixture *f,
                TdRecorder     *rec)
{
  g_autoptr(TdGotMail) got = NULL;

  td_recorder_flush (rec, f->box, KIND_FLUSH);
  got = td_store_fixture_wait (f, KIND_FLUSH);
  g_assert_null (got->data);
}

/* Counts rows with a connection of our own, outside the recorder. */
static gint64
count_on_disk (const char *path,
               const char *sql)
{
  g_autoptr(sqlite3) db = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  return sqlite3_column_int64 (stmt, 0);
}

/* ---------------------------------------------------------------------- */

static void
test_roundtrip (void)
{
  TdStoreFixture f;
  g_autoptr(TdRecorder) rec = NULL;
  g_autoptr(TdGotMail) got = NULL;
  g_autoptr(TdRecord) unused = NULL;
  TdRecord *record;
  TdRows *rows;
  const TdValue *v;

  td_store_fixture_init (&f);
  rec = td_recorder_new (f.path, td_schema_app ());
  td_recorder_set_error_mailbox (rec, f.box, KIND_ERROR);

  td_recorder_save_values (rec, INSERT_FEED, TD_INT (1), TD_TEXT ("https://x.example/"), TD_NULL);
  td_recorder_save_values (rec, UPSERT_ITEM, TD_INT (1), TD_TEXT ("a"), TD_TEXT ("Title “quoted”"),
                           TD_TEXT (NULL), TD_INT (G_GINT64_CONSTANT (1700000000000000)), TD_INT (5));

  /* The builder form, with a value set twice. */
  record = td_record_new (UPSERT_ITEM, 6);
  td_record_set_int (record, 0, 1);
  td_record_set_text (record, 1, "b");
  td_record_set_text (record, 2, "first");
  td_record_set_text (record, 2, "second");
  td_record_set_null (record, 3);
  td_record_set_double (record, 4, 2.5);
  td_record_set_int (record, 5, 6);
  td_recorder_save (rec, record);

  /* A record that is never saved is freed by its owner. */
  unused = td_record_new_values (UPSERT_ITEM, (const TdValue[]) { TD_TEXT ("x") }, 1);

  td_recorder_load_values (rec, "SELECT i.guid, i.title, i.summary, i.published, f.title, f.url"
                                " FROM items i JOIN feeds f ON f.id = i.feed_id"
                                " WHERE i.feed_id = ? ORDER BY i.guid",
                           f.box, KIND_ROWS, TD_INT (1));
  got = td_store_fixture_wait (&f, KIND_ROWS);
  rows = got->data;
  g_assert_no_error (rows->error);
  g_assert_cmpuint (rows->n_rows, ==, 2);
  g_assert_cmpuint (rows->n_columns, ==, 6);
  g_assert_cmpstr (rows->columns[1], ==, "title");
  g_assert_cmpint (td_rows_find_column (rows, "url"), ==, 5);
  g_assert_cmpint (td_rows_find_column (rows, "nope"), ==, -1);
  g_assert_cmpstr (td_rows_get_text (rows, 0, 0), ==, "a");
  g_assert_cmpstr (td_rows_get_text (rows, 0, 1), ==, "Title “quoted”");
  g_assert_cmpint (td_rows_get (rows, 0, 2)->type, ==, TD_VALUE_NULL);
  g_assert_cmpint (td_rows_get_int (rows, 0, 3), ==, G_GINT64_CONSTANT (1700000000000000));
  g_assert_cmpint (td_rows_get (rows, 0, 4)->type, ==, TD_VALUE_NULL);
  g_assert_cmpstr (td_rows_get_text (rows, 0, 5), ==, "https://x.example/");
  g_assert_cmpstr (td_rows_get_text (rows, 1, 1), ==, "second");
  v = td_rows_get (rows, 1, 3);
  g_assert_cmpint (v->type, ==, TD_VALUE_DOUBLE);
  g_assert_cmpfloat (td_rows_get_double (rows, 1, 3), ==, 2.5);
  g_clear_pointer (&got, td_got_mail_free);

  /* Blobs come back byte for byte. */
  save_connection (rec);
  td_recorder_save_values (rec, INSERT_CAPTURE, TD_INT (1), TD_TEXT ("c"),
                           TD_BLOB ("a\0b", 3), TD_INT (1));
  td_recorder_load_values (rec, "SELECT payload FROM pubsub_messages", f.box, KIND_ROWS);
  got = td_store_fixture_wait (&f, KIND_ROWS);
  rows = got->data;
  v = td_rows_get (rows, 0, 0);
  g_assert_cmpint (v->type, ==, TD_VALUE_BLOB);
  g_assert_cmpint (v->size, ==, 3);
  g_assert_cmpmem (v->v.blob, 3, "a\0b", 3);
  g_clear_pointer (&got, td_got_mail_free);

  /* A query that fails answers with an error, not silence. */
  td_recorder_load_values (rec, "SELECT nope FROM nowhere", f.box, KIND_ROWS);
  got = td_store_fixture_wait (&f, KIND_ROWS);
  rows = got->data;
  g_assert_error (rows->error, TD_SQLITE_ERROR, SQLITE_ERROR);
  g_assert_cmpuint (rows->n_rows, ==, 0);
  g_clear_pointer (&got, td_got_mail_free);

  g_assert_true (td_recorder_close (rec, NULL));
  g_assert_null (td_store_fixture_peek (&f, KIND_ERROR));
  g_clear_pointer (&rec, td_recorder_free);
  td_store_fixture_clear (&f);
}

/* A burst of saves becomes a handful of transactions. */
static void
test_batching (void)
{
  TdStoreFixture f;
  g_autoptr(TdRecorder) rec = NULL;
  guint64 commits_before, commits;
  const guint n = 10000;

  td_store_fixture_init (&f);
  rec = td_recorder_new (f.path, td_schema_app ());
  save_connection (rec);
  flush_and_wait (&f, rec);
  commits_before = td_recorder_get_n_commits (rec);
  g_assert_cmpuint (commits_before, ==, 1);

  for (guint i = 0; i < n; i++)
    save_capture (rec, i);
  flush_and_wait (&f, rec);

  commits = td_recorder_get_n_commits (rec) - commits_before;
  g_test_message ("%u saves in %" G_GUINT64_FORMAT " commits", n, commits);
  g_assert_cmpuint (commits, >=, 2);  /* bounded by TD_RECORDER_MAX_BATCH */
  g_assert_cmpuint (commits, <=, 20);
  g_assert_cmpuint (td_recorder_get_n_saved (rec), ==, n + 1);
  g_assert_cmpint (load_int (&f, rec, "SELECT count(*) FROM pubsub_messages"), ==, n);

  g_clear_pointer (&rec, td_recorder_free);
  td_store_fixture_clear (&f);
}

/* Each load sees exactly the saves queued before it, even with the loads
 * and saves coming from several threads in turn. */
static void
test_read_your_writes (void)
{
  TdStoreFixture f;
  g_autoptr(TdRecorder) rec = NULL;
  const guint n = 200;

  td_store_fixture_init (&f);
  rec = td_recorder_new (f.path, td_schema_app ());
  save_connection (rec);

  for (guint i = 0; i < n; i++)
    {
      save_capture (rec, i);
      if (i % 3 == 0)
        save_capture (rec, i + 100000);
      td_recorder_load (rec, "SELECT count(*), max (time) FROM pubsub_messages WHERE time < 100000",
                        NULL, 0, f.box, KIND_ROWS);
    }

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(TdGotMail) got = td_store_fixture_wait (&f, KIND_ROWS);
      TdRows *rows = got->data;

      g_assert_no_error (rows->error);
      g_assert_cmpint (td_rows_get_int (rows, 0, 0), ==, i + 1);
      g_assert_cmpint (td_rows_get_int (rows, 0, 1), ==, i);
    }

  g_clear_pointer (&rec, td_recorder_free);
  td_store_fixture_clear (&f);
}

/* The child side of test_flush_durability: saves, flushes, reports the
 * flushed count on stdout, and keeps saving until it is killed. */
static int
flush_child (const char *path)
{
  TdStoreFixture f = { 0 };
  TdRecorder *rec;

  f.context = g_main_context_new ();
  f.box = td_mailbox_open (f.context, G_PRIORITY_DEFAULT, td_store_fixture_mail_cb, &f, NULL);
  rec = td_recorder_new (path, td_schema_app ());
  save_connection (rec);

  for (gint64 round = 0; round < 5; round++)
    {
      g_autoptr(TdGotMail) got = NULL;

      for (gint64 i = 0; i < 1000; i++)
        save_capture (rec, round * 1000 + i);
      td_recorder_flush (rec, f.box, KIND_FLUSH);
      got = td_store_fixture_wait (&f, KIND_FLUSH);
      g_assert_null (got->data);
    }

  printf ("flushed %d\n", 5000);
  fflush (stdout);

  /* Unflushed work in flight when the kill comes. */
  for (gint64 i = 5000; ; i++)
    {
      save_capture (rec, i);
      if (i % 1000 == 0)
        g_usleep (1000);
    }

  return 1;
}

static void
test_flush_durability (void)
{
  TdStoreFixture f;
  g_autoptr(GError) error = NULL;
  g_autoptr(GIOChannel) channel = NULL;
  g_autofree char *line = NULL;
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  const char *argv[] = { self, "--flush-child", NULL, NULL };
  GPid pid;
  int out_fd, status;
  gint64 n_flushed;

  g_assert_nonnull (self);
  td_store_fixture_init (&f);
  argv[2] = f.path;

  g_assert_true (g_spawn_async_with_pipes (NULL, (char **) argv, NULL,
                                           G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                           &pid, NULL, &out_fd, NULL, &error));
  g_assert_no_error (error);

  channel = g_io_channel_unix_new (out_fd);
  g_io_channel_set_close_on_unref (channel, TRUE);
  g_assert_cmpint (g_io_channel_read_line (channel, &line, NULL, NULL, &error), ==, G_IO_STATUS_NORMAL);
  g_assert_true (g_str_has_prefix (line, "flushed "));
  n_flushed = g_ascii_strtoll (line + strlen ("flushed "), NULL, 10);
  g_assert_cmpint (n_flushed, ==, 5000);

  g_usleep (5000);
  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL);
  g_spawn_close_pid (pid);

  /* Every flushed record is there, whatever happened to the rest. */
  g_assert_cmpint (count_on_disk (f.path, "SELECT count(*) FROM pubsub_messages WHERE time < 5000"),
                   ==, n_flushed);
  g_assert_cmpint (count_on_disk (f.path, "SELECT count(DISTINCT time) FROM pubsub_messages"),
                   >=, n_flushed);

  /* And the recorder opens what the killed one left. */
  {
    g_autoptr(TdRecorder) rec = td_recorder_new (f.path, td_schema_app ());
    g_assert_cmpint (load_int (&f, rec, "SELECT count(*) FROM pubsub_messages WHERE time < 5000"),
                     ==, n_flushed);
  }

  td_store_fixture_clear (&f);
}

/* Close returns only once everything queued is on disk. */
static void
test_close_persists (void)
{
  TdStoreFixture f;
  g_autoptr(GError) error = NULL;
  TdRecorder *rec;
  const guint n = 20000;

  td_store_fixture_init (&f);
  rec = td_recorder_new (f.path, td_schema_app ());
  save_connection (rec);
  for (guint i = 0; i < n; i++)
    save_capture (rec, i);
  g_assert_true (td_recorder_close (rec, &error));
  g_assert_no_error (error);
  g_assert_true (td_recorder_close (rec, &error));
  td_recorder_free (rec);

  g_assert_cmpint (count_on_disk (f.path, "SELECT count(*) FROM pubsub_messages"), ==, n);
  td_store_fixture_clear (&f);
}

/* Work queued while the database is still opening is applied once it is
 * ready, in order, and nothing waits in the caller. */
static void
test_delayed_open (void)
{
  TdStoreFixture f;
  TdRecorderOptions options = { .open_delay_ms = 300 };
  g_autoptr(TdRecorder) rec = NULL;
  g_autoptr(TdGotMail) got = NULL;
  gint64 start = g_get_monotonic_time ();
  TdRows *rows;

  td_store_fixture_init (&f);
  rec = td_recorder_new_full (f.path, td_schema_app (), &options);
  save_connection (rec);
  for (guint i = 0; i < 100; i++)
    save_capture (rec, i);
  td_recorder_load_values (rec, "SELECT count(*) FROM pubsub_messages", f.box, KIND_ROWS);

  /* All of that returned long before the open finished. */
  g_assert_cmpint (g_get_monotonic_time () - start, <, 250 * 1000);
  g_assert_false (td_recorder_is_ready (rec));
  g_assert_false (g_file_test (f.path, G_FILE_TEST_EXISTS));

  got = td_store_fixture_wait (&f, KIND_ROWS);
  rows = got->data;
  g_assert_no_error (rows->error);
  g_assert_cmpint (td_rows_get_int (rows, 0, 0), ==, 100);
  g_assert_true (td_recorder_is_ready (rec));
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 300 * 1000);

  g_clear_pointer (&rec, td_recorder_free);
  td_store_fixture_clear (&f);
}

/* Close during a slow open still writes what was queued. */
static void
test_close_before_open (void)
{
  TdStoreFixture f;
  TdRecorderOptions options = { .open_delay_ms = 5000 };
  TdRecorder *rec;
  gint64 start = g_get_monotonic_time ();

  td_store_fixture_init (&f);
  rec = td_recorder_new_full (f.path, td_schema_app (), &options);
  save_connection (rec);
  save_capture (rec, 1);
  g_assert_true (td_recorder_close (rec, NULL));
  td_recorder_free (rec);

  g_assert_cmpint (g_get_monotonic_time () - start, <, 4000 * 1000);
  g_assert_cmpint (count_on_disk (f.path, "SELECT count(*) FROM pubsub_messages"), ==, 1);
  td_store_fixture_clear (&f);
}

/* Waits for a RETRYING error and checks that it carries sqlite's reason. */
static void
expect_retrying (TdStoreFixture *f,
                 int             code)
{
  g_autoptr(TdGotMail) got = td_store_fixture_wait (f, KIND_ERROR);
  TdRecorderError *err = got->data;

  g_assert_cmpint (err->kind, ==, TD_RECORDER_ERROR_RETRYING);
  g_assert_nonnull (err->error);
  g_assert_true (err->error->domain == TD_SQLITE_ERROR);
  if (code != 0)
    g_assert_cmpint (err->error->code & 0xff, ==, code);
  g_assert_true (td_sqlite_code_is_transient (err->error->code));
  g_assert_cmpuint (err->retry_in_ms, >, 0);
  g_assert_cmpuint (err->n_kept, >, 0);
  g_assert_nonnull (strstr (err->error->message, "sqlite"));
  g_test_message ("mailed: %s (retry in %u ms, %u kept)", err->error->message,
                  err->retry_in_ms, err->n_kept);
}

/* Waits for the RECOVERED notice, skipping further RETRYING ones. */
static void
expect_recovered (TdStoreFixture *f)
{
  for (;;)
    {
      g_autoptr(TdGotMail) got = td_store_fixture_wait (f, KIND_ERROR);
      TdRecorderError *err = got->data;

      if (err->kind == TD_RECORDER_ERROR_RECOVERED)
        {
          g_assert_null (err->error);
          return;
        }
      g_assert_cmpint (err->kind, ==, TD_RECORDER_ERROR_RETRYING);
    }
}

/* A fault on the disk: the batch is kept and retried, the error is mailed,
 * the load behind it waits, and everything is there once the fault goes. */
static void
test_fault (gconstpointer data)
{
  TdFault fault = GPOINTER_TO_INT (data);
  TdStoreFixture f;
  TdRecorderOptions options = fast_options;
  g_autoptr(TdRecorder) rec = NULL;
  g_autoptr(TdGotMail) got = NULL;
  guint refused_before;

  td_fault_vfs_register ();
  td_store_fixture_init (&f);
  options.vfs = TD_FAULT_VFS_NAME;
  rec = td_recorder_new_full (f.path, td_schema_app (), &options);
  td_recorder_set_error_mailbox (rec, f.box, KIND_ERROR);
  save_connection (rec);
  flush_and_wait (&f, rec);

  refused_before = td_fault_vfs_get_n_refused ();
  td_fault_vfs_set (fault);
  for (guint i = 0; i < 500; i++)
    save_capture (rec, i);
  td_recorder_load_values (rec, "SELECT count(*) FROM pubsub_messages", f.box, KIND_ROWS);

  expect_retrying (&f, fault == TD_FAULT_DISK_FULL ? SQLITE_FULL :
                       fault == TD_FAULT_IO_ERROR ? SQLITE_IOERR : 0);
  g_assert_cmpuint (td_fault_vfs_get_n_refused (), >, refused_before);

  /* Still failing a while later: kept, retried, and the load waits. */
  td_store_fixture_iterate_for (&f, 100);
  g_assert_null (td_store_fixture_peek (&f, KIND_ROWS));
  g_assert_cmpuint (td_recorder_get_n_saved (rec), ==, 1);

  td_fault_vfs_set (TD_FAULT_NONE);
  got = td_store_fixture_wait (&f, KIND_ROWS);
  g_assert_no_error (((TdRows *) got->data)->error);
  g_assert_cmpint (td_rows_get_int (got->data, 0, 0), ==, 500);
  expect_recovered (&f);

  g_assert_true (td_recorder_close (rec, NULL));
  g_assert_cmpint (count_on_disk (f.path, "SELECT count(*) FROM pubsub_messages"), ==, 500);
  g_clear_pointer (&rec, td_recorder_free);
  td_store_fixture_clear (&f);
}

/* Another connection holds the write lock: SQLITE_BUSY is retried until
 * the lock goes. */
static void
test_busy (void)
{
  TdStoreFixture f;
  g_autoptr(TdRecorder) rec = NULL;
  g_autoptr(TdGotMail) got = NULL;
  g_autoptr(sqlite3) other = NULL;

  td_store_fixture_init (&f);
  rec = td_recorder_new_full (f.path, td_schema_app (), &fast_options);
  td_recorder_set_error_mailbox (rec, f.box, KIND_ERROR);
  save_connection (rec);
  flush_and_wait (&f, rec);

  g_assert_cmpint (sqlite3_open (f.path, &other), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (other, "BEGIN IMMEDIATE", NULL, NULL, NULL), ==, SQLITE_OK);

  for (guint i = 0; i < 50; i++)
    save_capture (rec, i);
  td_recorder_flush (rec, f.box, KIND_FLUSH);
  expect_retrying (&f, SQLITE_BUSY);
  g_assert_null (td_store_fixture_peek (&f, KIND_FLUSH));

  g_assert_cmpint (sqlite3_exec (other, "COMMIT", NULL, NULL, NULL), ==, SQLITE_OK);
  got = td_store_fixture_wait (&f, KIND_FLUSH);
  g_assert_null (got->data);
  expect_recovered (&f);
  g_assert_cmpint (load_int (&f, rec, "SELECT count(*) FROM pubsub_messages"), ==, 50);

  g_clear_pointer (&rec, td_recorder_free);
  td_store_fixture_clear (&f);
}

/* A fault that never clears: close gives up after its deadline and says
 * how much was lost, instead of hanging or dropping it silently. */
static void
test_close_gives_up (void)
{
  TdStoreFixture f;
  TdRecorderOptions options = fast_options;
  g_autoptr(GError) error = NULL;
  TdRecorder *rec;

  td_fault_vfs_register ();
  td_store_fixture_init (&f);
  options.vfs = TD_FAULT_VFS_NAME;
  options.close_give_up_ms = 200;
  rec = td_recorder_new_full (f.path, td_schema_app (), &options);
  td_recorder_set_error_mailbox (rec, f.box, KIND_ERROR);
  save_connection (rec);
  flush_and_wait (&f, rec);

  td_fault_vfs_set (TD_FAULT_DISK_FULL);
  for (guint i = 0; i < 10; i++)
    save_capture (rec, i);
  expect_retrying (&f, SQLITE_FULL);

  g_assert_false (td_recorder_close (rec, &error));
  td_fault_vfs_set (TD_FAULT_NONE);
  g_assert_error (error, TD_STORE_ERROR, TD_STORE_ERROR_LOST);
  g_assert_nonnull (strstr (error->message, "10 changes"));
  td_recorder_free (rec);

  for (;;)
    {
      g_autoptr(TdGotMail) got = td_store_fixture_wait (&f, KIND_ERROR);
      if (((TdRecorderError *) got->data)->kind == TD_RECORDER_ERROR_LOST)
        break;
    }

  td_store_fixture_clear (&f);
}

/* A record that can never apply is dropped and reported; the others in its
 * batch are written. */
static void
test_rejected (void)
{
  TdStoreFixture f;
  g_autoptr(TdRecorder) rec = NULL;
  g_autoptr(TdGotMail) got = NULL;
  TdRecorderError *err;

  td_store_fixture_init (&f);
  rec = td_recorder_new (f.path, td_schema_app ());
  td_recorder_set_error_mailbox (rec, f.box, KIND_ERROR);
  save_connection (rec);
  save_capture (rec, 1);
  td_recorder_save_values (rec, INSERT_CONNECTION, TD_INT (1), TD_TEXT ("duplicate id"));
  td_recorder_save_values (rec, "INSERT INTO nowhere VALUES (?)", TD_INT (1));
  td_recorder_save_values (rec, "INSERT INTO feeds (url) VALUES ('a'); DELETE FROM feeds");
  save_capture (rec, 2);
  flush_and_wait (&f, rec);

  got = td_store_fixture_wait (&f, KIND_ERROR);
  err = got->data;
  g_assert_cmpint (err->kind, ==, TD_RECORDER_ERROR_REJECTED);
  g_assert_error (err->error, TD_SQLITE_ERROR, SQLITE_CONSTRAINT_PRIMARYKEY);
  g_assert_cmpstr (err->sql, ==, INSERT_CONNECTION);
  g_clear_pointer (&got, td_got_mail_free);

  got = td_store_fixture_wait (&f, KIND_ERROR);
  err = got->data;
  g_assert_cmpint (err->kind, ==, TD_RECORDER_ERROR_REJECTED);
  g_assert_nonnull (strstr (err->error->message, "no such table"));
  g_clear_pointer (&got, td_got_mail_free);

  got = td_store_fixture_wait (&f, KIND_ERROR);
  err = got->data;
  g_assert_error (err->error, TD_STORE_ERROR, TD_STORE_ERROR_INVALID);
  g_clear_pointer (&got, td_got_mail_free);

  g_assert_cmpint (load_int (&f, rec, "SELECT count(*) FROM pubsub_messages"), ==, 2);
  g_assert_cmpint (load_int (&f, rec, "SELECT count(*) FROM feeds"), ==, 0);
  g_assert_cmpuint (td_recorder_get_n_saved (rec), ==, 3);

  g_clear_pointer (&rec, td_recorder_free);
  td_store_fixture_clear (&f);
}

/* Inserts an item of a feed that does not exist, with the foreign key
 * check deferred to COMMIT. */
static gboolean
insert_orphan_deferred (TdStoreConn  *conn,
                        gpointer      data,
                        GError      **error)
{
  return td_store_conn_exec (conn, "PRAGMA defer_foreign_keys = ON", NULL, 0, error) &&
         td_store_conn_exec (conn, "INSERT INTO items (feed_id, guid, fetched_at) VALUES (999, 'orphan', 0)",
                             NULL, 0, error);
}

/* A batch that fails at COMMIT because of one record: that record alone is
 * rejected and the rest of the batch is written. */
static void
test_rejected_at_commit (void)
{
  TdStoreFixture f;
  g_autoptr(TdRecorder) rec = NULL;
  g_autoptr(TdGotMail) got = NULL;
  TdRecorderError *err;

  td_store_fixture_init (&f);
  rec = td_recorder_new (f.path, td_schema_app ());
  td_recorder_set_error_mailbox (rec, f.box, KIND_ERROR);
  save_connection (rec);
  save_capture (rec, 1);
  td_recorder_save_func (rec, insert_orphan_deferred, NULL, NULL);
  save_capture (rec, 2);
  flush_and_wait (&f, rec);

  got = td_store_fixture_wait (&f, KIND_ERROR);
  err = got->data;
  g_assert_cmpint (err->kind, ==, TD_RECORDER_ERROR_REJECTED);
  g_assert_error (err->error, TD_SQLITE_ERROR, SQLITE_CONSTRAINT_FOREIGNKEY);

  g_assert_cmpint (load_int (&f, rec, "SELECT count(*) FROM pubsub_messages"), ==, 2);
  g_assert_cmpint (load_int (&f, rec, "SELECT count(*) FROM items"), ==, 0);
  g_assert_cmpuint (td_recorder_get_n_saved (rec), ==, 3);
  g_assert_null (td_store_fixture_peek (&f, KIND_ERROR));

  g_clear_pointer (&rec, td_recorder_free);
  td_store_fixture_clear (&f);
}

typedef struct
{
  char   *buffer;
  char   *text;
  gint64  time;
} ChatLine;

static void
chat_line_free (gpointer data)
{
  ChatLine *line = data;

  g_free (line->buffer);
  g_free (line->text);
  g_free (line);
}

/* Creates the buffer on first use, then appends the line to it. */
static gboolean
append_chat_line (TdStoreConn  *conn,
                  gpointer      data,
                  GError      **error)
{
  ChatLine *line = data;
  g_autoptr(TdRows) rows = NULL;

  if (!td_store_conn_exec (conn, "INSERT OR IGNORE INTO chat_buffers (network_id, name) VALUES (1, ?)",
                           (const TdValue[]) { TD_TEXT (line->buffer) }, 1, error))
    return FALSE;

  rows = td_store_conn_query (conn, "SELECT id FROM chat_buffers WHERE network_id = 1 AND name = ?",
                              (const TdValue[]) { TD_TEXT (line->buffer) }, 1, error);
  if (rows == NULL)
    return FALSE;

  if (line->text == NULL)
    {
      g_set_error (error, TD_STORE_ERROR, TD_STORE_ERROR_INVALID, "empty line");
      return FALSE;
    }

  return td_store_conn_exec (conn, "INSERT INTO chat_messages (network_id, buffer_id, time, text)"
                                   " VALUES (1, ?, ?, ?)",
                             (const TdValue[]) { TD_INT (td_rows_get_int (rows, 0, 0)),
                                                 TD_INT (line->time), TD_TEXT (line->text) }, 3,
                             error);
}

typedef struct
{
  guint  n_buffers;
  char  *first_text;
} Summary;

static void
summary_free (gpointer data)
{
  Summary *s = data;

  g_free (s->first_text);
  g_free (s);
}

/* Builds the caller's own struct on the recorder thread. */
static gpointer
load_summary (TdStoreConn  *conn,
              gpointer      data,
              GError      **error)
{
  sqlite3_stmt *stmt;
  Summary *s = g_new0 (Summary, 1);

  g_assert_cmpstr (data, ==, "payload");

  stmt = td_store_conn_prepare (conn, "SELECT count(*) FROM chat_buffers", error);
  g_assert_nonnull (stmt);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  s->n_buffers = sqlite3_column_int (stmt, 0);
  sqlite3_reset (stmt);

  stmt = td_store_conn_prepare (conn, "SELECT text FROM chat_messages_fts WHERE chat_messages_fts MATCH ?"
                                      " ORDER BY rowid LIMIT 1", error);
  sqlite3_bind_text (stmt, 1, "engine", -1, SQLITE_STATIC);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  s->first_text = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  sqlite3_reset (stmt);

  return s;
}

static gpointer
load_fails (TdStoreConn  *conn,
            gpointer      data,
            GError      **error)
{
  g_set_error (error, TD_STORE_ERROR, TD_STORE_ERROR_INVALID, "as asked");
  return NULL;
}

static void
test_functions (void)
{
  TdStoreFixture f;
  g_autoptr(TdRecorder) rec = NULL;
  g_autoptr(TdGotMail) got = NULL;
  TdStoreResult *result;
  Summary *s;
  static const char * const buffers[] = { "#a", "#b", "#a", "#c", "#a" };

  td_store_fixture_init (&f);
  rec = td_recorder_new (f.path, td_schema_app ());
  td_recorder_set_error_mailbox (rec, f.box, KIND_ERROR);
  td_recorder_save_values (rec, "INSERT INTO chat_networks (id, name, host) VALUES (1, 'n', 'h')");

  for (guint i = 0; i < G_N_ELEMENTS (buffers); i++)
    {
      ChatLine *line = g_new0 (ChatLine, 1);

      line->buffer = g_strdup (buffers[i]);
      line->text = g_strdup_printf ("difference engine %u", i);
      line->time = i;
      td_recorder_save_func (rec, append_chat_line, line, chat_line_free);
    }

  /* One that fails half-way leaves nothing behind (not even its buffer). */
  {
    ChatLine *line = g_new0 (ChatLine, 1);

    line->buffer = g_strdup ("#never");
    td_recorder_save (rec, td_record_new_func (append_chat_line, line, chat_line_free));
  }

  td_recorder_load_func (rec, load_summary, g_strdup ("payload"), g_free, summary_free,
                         f.box, KIND_RESULT);
  got = td_store_fixture_wait (&f, KIND_RESULT);
  result = got->data;
  g_assert_no_error (result->error);
  s = result->result;
  g_assert_cmpuint (s->n_buffers, ==, 3);
  g_assert_cmpstr (s->first_text, ==, "difference engine 0");
  s = td_store_result_steal (result);
  summary_free (s);
  g_clear_pointer (&got, td_got_mail_free);

  {
    g_autoptr(TdGotMail) err = td_store_fixture_wait (&f, KIND_ERROR);
    g_assert_cmpint (((TdRecorderError *) err->data)->kind, ==, TD_RECORDER_ERROR_REJECTED);
    g_assert_nonnull (strstr (((TdRecorderError *) err->data)->error->message, "empty line"));
  }

  td_recorder_load_func (rec, load_fails, NULL, NULL, NULL, f.box, KIND_RESULT);
  got = td_store_fixture_wait (&f, KIND_RESULT);
  result = got->data;
  g_assert_error (result->error, TD_STORE_ERROR, TD_STORE_ERROR_INVALID);
  g_assert_null (result->result);
  g_clear_pointer (&got, td_got_mail_free);

  g_assert_cmpint (load_int (&f, rec, "SELECT count(*) FROM chat_messages"), ==, 5);

  g_clear_pointer (&rec, td_recorder_free);
  td_store_fixture_clear (&f);
}

/* Full-text search through the recorder finds what was just saved. */
static void
test_search (void)
{
  TdStoreFixture f;
  g_autoptr(TdRecorder) rec = NULL;
  g_autoptr(TdGotMail) got = NULL;
  TdRows *rows;

  td_store_fixture_init (&f);
  rec = td_recorder_new (f.path, td_schema_app ());
  td_recorder_save_values (rec, INSERT_FEED, TD_INT (1), TD_TEXT ("u"), TD_TEXT ("t"));
  for (guint i = 0; i < 1000; i++)
    {
      g_autofree char *guid = g_strdup_printf ("%u", i);
      g_autofree char *title = g_strdup_printf ("Item %u about %s", i, i == 617 ? "quokkas" : "weather");

      td_recorder_save_values (rec, UPSERT_ITEM, TD_INT (1), TD_TEXT (guid), TD_TEXT (title),
                               TD_TEXT ("Summary text"), TD_INT (i), TD_INT (0));
    }

  td_recorder_load_values (rec, "SELECT i.guid, i.title FROM items_fts"
                                " JOIN items i ON i.id = items_fts.rowid"
                                " WHERE items_fts MATCH ? ORDER BY rank",
                           f.box, KIND_ROWS, TD_TEXT ("quokka*"));
  got = td_store_fixture_wait (&f, KIND_ROWS);
  rows = got->data;
  g_assert_no_error (rows->error);
  g_assert_cmpuint (rows->n_rows, ==, 1);
  g_assert_cmpstr (td_rows_get_text (rows, 0, 0), ==, "617");
  g_clear_pointer (&got, td_got_mail_free);

  g_assert_cmpint (load_int (&f, rec, "SELECT count(*) FROM items_fts WHERE items_fts MATCH 'weather'"), ==, 999);

  g_clear_pointer (&rec, td_recorder_free);
  td_store_fixture_clear (&f);
}

static GBytes *
read_bytes (const char *path)
{
  char *contents = NULL;
  gsize len = 0;

  g_assert_true (g_file_get_contents (path, &contents, &len, NULL));
  return g_bytes_new_take (contents, len);
}

/* A file the recorder must not use: it says why, keeps the saves, answers
 * loads and flushes with an error, and never writes to the file. After
 * the file is moved aside, a reopen starts fresh with the kept saves. */
static void
check_refused_file (TdStoreFixture *f,
                    const TdSchema *schema,
                    int             expected_code)
{
  g_autoptr(GBytes) before = read_bytes (f->path);
  g_autoptr(GBytes) after = NULL;
  g_autoptr(GBytes) aside_bytes = NULL;
  g_autoptr(TdRecorder) rec = NULL;
  g_autoptr(TdGotMail) got = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *aside = NULL;
  TdRecorderError *err;

  rec = td_recorder_new (f->path, schema);
  save_connection (rec);
  save_capture (rec, 1);

  /* Set late on purpose: the error that came first is still delivered. */
  g_usleep (50 * 1000);
  td_recorder_set_error_mailbox (rec, f->box, KIND_ERROR);
  got = td_store_fixture_wait (f, KIND_ERROR);
  err = got->data;
  g_assert_cmpint (err->kind, ==, TD_RECORDER_ERROR_BROKEN);
  g_assert_error (err->error, TD_STORE_ERROR, expected_code);
  g_assert_nonnull (strstr (err->error->message, f->path));
  g_assert_cmpstr (err->path, ==, f->path);
  g_test_message ("mailed: %s", err->error->message);
  g_clear_pointer (&got, td_got_mail_free);

  td_recorder_load_values (rec, "SELECT 1", f->box, KIND_ROWS);
  got = td_store_fixture_wait (f, KIND_ROWS);
  g_assert_error (((TdRows *) got->data)->error, TD_STORE_ERROR, expected_code);
  g_clear_pointer (&got, td_got_mail_free);

  td_recorder_flush (rec, f->box, KIND_FLUSH);
  got = td_store_fixture_wait (f, KIND_FLUSH);
  g_assert_nonnull (got->data);
  g_clear_pointer (&got, td_got_mail_free);

  after = read_bytes (f->path);
  g_assert_true (g_bytes_equal (before, after));
  g_assert_false (td_recorder_is_ready (rec));

  /* Start fresh: the old file is kept under another name, byte for byte. */
  aside = td_store_move_aside (f->path, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (aside, f->path));
  g_assert_nonnull (strstr (aside, ".broken-"));
  g_assert_false (g_file_test (f->path, G_FILE_TEST_EXISTS));
  aside_bytes = read_bytes (aside);
  g_assert_true (g_bytes_equal (before, aside_bytes));

  save_capture (rec, 2);
  td_recorder_reopen (rec);
  g_assert_cmpint (load_int (f, rec, "SELECT count(*) FROM pubsub_messages"), ==, 2);
  g_assert_true (td_recorder_is_ready (rec));
  g_assert_true (td_recorder_close (rec, NULL));
}

static void
test_not_a_database (void)
{
  TdStoreFixture f;
  g_autofree char *junk = g_strnfill (8192, 'x');

  td_store_fixture_init (&f);
  g_assert_true (g_file_set_contents (f.path, junk, -1, NULL));
  check_refused_file (&f, td_schema_app (), TD_STORE_ERROR_NOT_A_DATABASE);
  td_store_fixture_clear (&f);
}

/* An sqlite file whose schema pages are damaged. */
static void
test_damaged (void)
{
  TdStoreFixture f;
  g_autoptr(sqlite3) db = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize len;

  td_store_fixture_init (&f);
  g_assert_cmpint (sqlite3_open (f.path, &db), ==, SQLITE_OK);
  g_assert_true (td_schema_open (db, td_schema_app (), 1000, &error));
  g_assert_cmpint (sqlite3_exec (db, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL), ==, SQLITE_OK);
  g_clear_pointer (&db, sqlite3_close);

  /* Keep the 100-byte header, scribble over the rest of page 1 (the root
   * of sqlite_master). */
  g_assert_true (g_file_get_contents (f.path, &contents, &len, NULL));
  g_assert_cmpuint (len, >, 4096);
  memset (contents + 100, 0x5a, 4096 - 100);
  g_assert_true (g_file_set_contents (f.path, contents, len, NULL));

  check_refused_file (&f, td_schema_app (), TD_STORE_ERROR_NOT_A_DATABASE);
  td_store_fixture_clear (&f);
}

static void
test_foreign (void)
{
  TdStoreFixture f;
  g_autoptr(sqlite3) db = NULL;

  td_store_fixture_init (&f);
  g_assert_cmpint (sqlite3_open (f.path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, "CREATE TABLE moz_bookmarks (id INTEGER PRIMARY KEY, title TEXT);"
                                     "INSERT INTO moz_bookmarks (title) VALUES ('keep me')",
                                 NULL, NULL, NULL), ==, SQLITE_OK);
  g_clear_pointer (&db, sqlite3_close);

  check_refused_file (&f, td_schema_app (), TD_STORE_ERROR_FOREIGN);
  td_store_fixture_clear (&f);
}

/* The server's database given to the app, and the other way round. */
static void
test_wrong_schema (void)
{
  TdStoreFixture f;
  TdRecorder *rec;

  td_store_fixture_init (&f);
  rec = td_recorder_new (f.path, td_schema_server ());
  g_assert_true (td_recorder_close (rec, NULL));
  td_recorder_free (rec);

  check_refused_file (&f, td_schema_app (), TD_STORE_ERROR_FOREIGN);
  td_store_fixture_clear (&f);
}

static void
test_newer (void)
{
  TdStoreFixture f;
  g_autoptr(sqlite3) db = NULL;
  g_autoptr(GError) error = NULL;

  td_store_fixture_init (&f);
  g_assert_cmpint (sqlite3_open (f.path, &db), ==, SQLITE_OK);
  g_assert_true (td_schema_open (db, td_schema_app (), 1000, &error));
  g_assert_cmpint (sqlite3_exec (db, "PRAGMA user_version = 99; PRAGMA journal_mode = DELETE",
                                 NULL, NULL, NULL), ==, SQLITE_OK);
  g_clear_pointer (&db, sqlite3_close);

  check_refused_file (&f, td_schema_app (), TD_STORE_ERROR_NEWER);
  td_store_fixture_clear (&f);
}

/* Close while broken reports the saves that had nowhere to go. */
static void
test_close_while_broken (void)
{
  TdStoreFixture f;
  g_autoptr(GError) error = NULL;
  TdRecorder *rec;

  td_store_fixture_init (&f);
  g_assert_true (g_file_set_contents (f.path, "not a database, definitely not one, "
                                      "padded to more than a hundred bytes ......"
                                      "..........................................", -1, NULL));
  rec = td_recorder_new (f.path, td_schema_app ());
  td_recorder_set_error_mailbox (rec, f.box, KIND_ERROR);
  save_connection (rec);
  save_capture (rec, 1);
  g_assert_false (td_recorder_close (rec, &error));
  g_assert_error (error, TD_STORE_ERROR, TD_STORE_ERROR_LOST);
  g_assert_nonnull (strstr (error->message, "2 changes"));
  td_recorder_free (rec);
  td_store_fixture_clear (&f);
}

static void
test_move_aside (void)
{
  TdStoreFixture f;
  g_autoptr(GError) error = NULL;
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;
  g_autofree char *wal = NULL;
  g_autofree char *moved_wal = NULL;
  g_autofree char *contents = NULL;

  td_store_fixture_init (&f);

  g_assert_null (td_store_move_aside (f.path, &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_clear_error (&error);

  wal = g_strconcat (f.path, "-wal", NULL);
  g_assert_true (g_file_set_contents (f.path, "main", -1, NULL));
  g_assert_true (g_file_set_contents (wal, "log", -1, NULL));
  first = td_store_move_aside (f.path, &error);
  g_assert_no_error (error);
  g_assert_false (g_file_test (f.path, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (wal, G_FILE_TEST_EXISTS));
  moved_wal = g_strconcat (first, "-wal", NULL);
  g_assert_true (g_file_get_contents (moved_wal, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "log");

  /* A second one in the same second gets a name of its own. */
  g_assert_true (g_file_set_contents (f.path, "again", -1, NULL));
  second = td_store_move_aside (f.path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (first, !=, second);
  g_assert_true (g_file_test (first, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (second, G_FILE_TEST_EXISTS));

  td_store_fixture_clear (&f);
}

/* Saves from many threads at once all arrive. */
typedef struct
{
  TdRecorder *rec;
  gint64      base;
} Producer;

static gpointer
producer_thread (gpointer data)
{
  Producer *p = data;

  for (gint64 i = 0; i < 2000; i++)
    save_capture (p->rec, p->base + i);
  return NULL;
}

static void
test_many_threads (void)
{
  TdStoreFixture f;
  g_autoptr(TdRecorder) rec = NULL;
  Producer producers[4];
  GThread *threads[4];

  td_store_fixture_init (&f);
  rec = td_recorder_new (f.path, td_schema_app ());
  save_connection (rec);

  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    {
      producers[i] = (Producer) { rec, i * 100000 };
      threads[i] = g_thread_new ("producer", producer_thread, &producers[i]);
    }
  for (guint i = 0; i < G_N_ELEMENTS (threads); i++)
    g_thread_join (threads[i]);

  g_assert_cmpint (load_int (&f, rec, "SELECT count(DISTINCT time) FROM pubsub_messages"), ==, 8000);

  g_clear_pointer (&rec, td_recorder_free);
  td_store_fixture_clear (&f);
}

int
main (int   argc,
      char *argv[])
{
  if (argc == 3 && g_str_equal (argv[1], "--flush-child"))
    return flush_child (argv[2]);

  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/td/store/recorder/roundtrip", test_roundtrip);
  g_test_add_func ("/td/store/recorder/batching", test_batching);
  g_test_add_func ("/td/store/recorder/read-your-writes", test_read_your_writes);
  g_test_add_func ("/td/store/recorder/flush-durability", test_flush_durability);
  g_test_add_func ("/td/store/recorder/close-persists", test_close_persists);
  g_test_add_func ("/td/store/recorder/delayed-open", test_delayed_open);
  g_test_add_func ("/td/store/recorder/close-before-open", test_close_before_open);
  g_test_add_data_func ("/td/store/recorder/fault/disk-full",
                        GINT_TO_POINTER (TD_FAULT_DISK_FULL), test_fault);
  g_test_add_data_func ("/td/store/recorder/fault/io-error",
                        GINT_TO_POINTER (TD_FAULT_IO_ERROR), test_fault);
  g_test_add_data_func ("/td/store/recorder/fault/read-only",
                        GINT_TO_POINTER (TD_FAULT_READ_ONLY), test_fault);
  g_test_add_func ("/td/store/recorder/fault/busy", test_busy);
  g_test_add_func ("/td/store/recorder/fault/close-gives-up", test_close_gives_up);
  g_test_add_func ("/td/store/recorder/rejected", test_rejected);
  g_test_add_func ("/td/store/recorder/rejected-at-commit", test_rejected_at_commit);
  g_test_add_func ("/td/store/recorder/functions", test_functions);
  g_test_add_func ("/td/store/recorder/search", test_search);
  g_test_add_func ("/td/store/recorder/open/not-a-database", test_not_a_database);
  g_test_add_func ("/td/store/recorder/open/damaged", test_damaged);
  g_test_add_func ("/td/store/recorder/open/foreign", test_foreign);
  g_test_add_func ("/td/store/recorder/open/wrong-schema", test_wrong_schema);
  g_test_add_func ("/td/store/recorder/open/newer", test_newer);
  g_test_add_func ("/td/store/recorder/open/close-while-broken", test_close_while_broken);
  g_test_add_func ("/td/store/recorder/move-aside", test_move_aside);
  g_test_add_func ("/td/store/recorder/many-threads", test_many_threads);

  return g_test_run ();
}
