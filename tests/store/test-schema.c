/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "store/td-schema.h"
#include "store/td-store.h"
#include "td-store-test.h"

static sqlite3 *
open_db (const char *path)
{
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  return db;
}

static void
exec_ok (sqlite3    *db,
         const char *sql)
{
  char *msg = NULL;

  if (sqlite3_exec (db, sql, NULL, NULL, &msg) != SQLITE_OK)
    g_error ("%s: %s", sql, msg);
}

static gint64
query_int (sqlite3    *db,
           const char *sql)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;

  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  return sqlite3_column_int64 (stmt, 0);
}

static char *
query_text (sqlite3    *db,
            const char *sql)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;

  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  return g_strdup ((const char *) sqlite3_column_text (stmt, 0));
}

static void
test_fts5_available (void)
{
  g_assert_true (sqlite3_compileoption_used ("ENABLE_FTS5"));
}

static void
test_fresh_app (void)
{
  TdStoreFixture f;
  g_autoptr(sqlite3) db = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *mode = NULL;

  td_store_fixture_init (&f);
  db = open_db (f.path);

  g_assert_true (td_schema_open (db, td_schema_app (), 1000, &error));
  g_assert_no_error (error);
  g_assert_cmpint (td_schema_get_version (db), ==, td_schema_get_latest (td_schema_app ()));
  g_assert_cmpuint (td_schema_get_latest (td_schema_app ()), >=, 2);

  mode = query_text (db, "PRAGMA journal_mode");
  g_assert_cmpstr (mode, ==, "wal");
  g_assert_cmpint (query_int (db, "PRAGMA foreign_keys"), ==, 1);
  g_assert_cmpint (query_int (db, "PRAGMA synchronous"), ==, 1);  /* NORMAL */
  g_assert_cmpint (query_int (db, "PRAGMA application_id"), !=, 0);

  for (guint i = 0; i < 9; i++)
    {
      static const char * const tables[] = {
        "feeds", "items", "chat_networks", "chat_buffers", "chat_messages",
        "pubsub_connections", "pubsub_subscriptions", "pubsub_messages", "deleted_items",
      };
      g_autofree char *sql = g_strdup_printf ("SELECT count(*) FROM sqlite_master "
                                              "WHERE type = 'table' AND name = '%s'",
                                              tables[i]);
      g_assert_cmpint (query_int (db, sql), ==, 1);
    }

  /* A second open of an up-to-date file changes nothing. */
  g_assert_true (td_schema_open (db, td_schema_app (), 1000, &error));
  g_assert_no_error (error);

  g_clear_pointer (&db, sqlite3_close);
  td_store_fixture_clear (&f);
}

/* Feeds, items, FTS triggers and cascades in the app schema. */
static void
test_app_fts_and_cascade (void)
{
  TdStoreFixture f;
  g_autoptr(sqlite3) db = NULL;
  g_autoptr(GError) error = NULL;

  td_store_fixture_init (&f);
  db = open_db (f.path);
  g_assert_true (td_schema_open (db, td_schema_app (), 1000, &error));
  g_assert_no_error (error);

  exec_ok (db, "INSERT INTO feeds (id, url) VALUES (1, 'https://a.example/feed');"
               "INSERT INTO items (feed_id, guid, title, summary, content, fetched_at)"
               " VALUES (1, 'g1', 'Ünicode Pelican', 'a bird', '<p>fish</p>', 0),"
               "        (1, 'g2', 'Other', 'nothing here', NULL, 0);");

  g_assert_cmpint (query_int (db, "SELECT count(*) FROM items_fts WHERE items_fts MATCH 'pelican'"), ==, 1);
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM items_fts WHERE items_fts MATCH 'unicode'"), ==, 1);
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM items_fts WHERE items_fts MATCH 'fish'"), ==, 1);

  /* Upsert updates the text and the index; the read flag survives. */
  exec_ok (db, "UPDATE items SET read = 1 WHERE guid = 'g1';"
               "INSERT INTO items (feed_id, guid, title, fetched_at) VALUES (1, 'g1', 'Heron', 1)"
               " ON CONFLICT (feed_id, guid) DO UPDATE SET title = excluded.title;");
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM items"), ==, 2);
  g_assert_cmpint (query_int (db, "SELECT read FROM items WHERE guid = 'g1'"), ==, 1);
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM items_fts WHERE items_fts MATCH 'pelican'"), ==, 0);
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM items_fts WHERE items_fts MATCH 'heron'"), ==, 1);

  /* The unique key is per feed. */
  g_assert_cmpint (sqlite3_exec (db, "INSERT INTO items (feed_id, guid, fetched_at) VALUES (1, 'g2', 0)",
                                 NULL, NULL, NULL), ==, SQLITE_CONSTRAINT);

  /* Chat messages are searchable too. */
  exec_ok (db, "INSERT INTO chat_networks (id, name, host) VALUES (1, 'local', '127.0.0.1');"
               "INSERT INTO chat_buffers (id, network_id, name) VALUES (1, 1, '#tidings');"
               "INSERT INTO chat_messages (network_id, buffer_id, msgid, time, sender, text)"
               " VALUES (1, 1, 'm1', 10, 'ada', 'the analytical engine');");
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM chat_messages_fts WHERE chat_messages_fts MATCH 'analytical'"), ==, 1);

  /* Foreign keys are on: deleting a feed removes its items and their
   * index entries, deleting a network its buffers and messages. */
  exec_ok (db, "INSERT INTO deleted_items (feed_id, guid, deleted_at) VALUES (1, 'gone', 5);");
  g_assert_cmpint (sqlite3_exec (db, "INSERT INTO deleted_items (feed_id, guid, deleted_at) VALUES (1, 'gone', 6)",
                                 NULL, NULL, NULL) & 0xff, ==, SQLITE_CONSTRAINT);
  exec_ok (db, "DELETE FROM feeds WHERE id = 1; DELETE FROM chat_networks WHERE id = 1;");
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM items"), ==, 0);
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM deleted_items"), ==, 0);
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM items_fts WHERE items_fts MATCH 'heron'"), ==, 0);
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM chat_messages"), ==, 0);
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM chat_messages_fts WHERE chat_messages_fts MATCH 'analytical'"), ==, 0);
  g_assert_cmpint (sqlite3_exec (db, "INSERT INTO items (feed_id, guid, fetched_at) VALUES (42, 'x', 0)",
                                 NULL, NULL, NULL) & 0xff, ==, SQLITE_CONSTRAINT);

  /* The queries of the views use the indexes. */
  {
    static const struct { const char *sql; const char *index; } plans[] = {
      { "SELECT id FROM items WHERE feed_id = 1 ORDER BY published DESC", "items_feed_published" },
      { "SELECT id FROM items ORDER BY published DESC LIMIT 50", "items_published" },
      { "SELECT count(*) FROM items WHERE read = 0 AND feed_id = 1", "items_read" },
      { "SELECT id FROM items WHERE starred = 1 ORDER BY published DESC", "items_starred" },
      { "SELECT text FROM chat_messages WHERE buffer_id = 1 ORDER BY time DESC LIMIT 100",
        "chat_messages_buffer_time" },
    };

    for (guint i = 0; i < G_N_ELEMENTS (plans); i++)
      {
        g_autofree char *sql = g_strconcat ("EXPLAIN QUERY PLAN ", plans[i].sql, NULL);
        g_autoptr(sqlite3_stmt) stmt = NULL;

        g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
        g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
        g_assert_nonnull (strstr ((const char *) sqlite3_column_text (stmt, 3), plans[i].index));
      }
  }

  g_clear_pointer (&db, sqlite3_close);
  td_store_fixture_clear (&f);
}

static void
test_server_schema (void)
{
  TdStoreFixture f;
  g_autoptr(sqlite3) db = NULL;
  g_autoptr(GError) error = NULL;

  td_store_fixture_init (&f);
  db = open_db (f.path);
  g_assert_true (td_schema_open (db, td_schema_server (), 1000, &error));
  g_assert_no_error (error);
  g_assert_cmpint (td_schema_get_version (db), ==, td_schema_get_latest (td_schema_server ()));

  exec_ok (db, "INSERT INTO accounts (name, password_hash, created) VALUES ('Ada', 'x', 0)");
  g_assert_cmpint (sqlite3_exec (db, "INSERT INTO accounts (name, password_hash, created) VALUES ('ADA', 'y', 0)",
                                 NULL, NULL, NULL), ==, SQLITE_CONSTRAINT);
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM accounts WHERE name = 'aDa'"), ==, 1);

  exec_ok (db, "INSERT INTO history (msgid, target, time, sender, text) VALUES"
               " ('a', '#c', 1, 'ada', 'x'), ('b', '#c', 5, 'bob', 'y'), ('c', 'bob', 3, 'ada', 'z');"
               "INSERT INTO files (hash, name, size, created) VALUES ('abc', 'f.png', 3, 0);");
  g_assert_cmpint (sqlite3_exec (db, "INSERT INTO history (msgid, target, time, sender) VALUES ('a', '#d', 1, 'x')",
                                 NULL, NULL, NULL), ==, SQLITE_CONSTRAINT);
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM history_targets"), ==, 2);
  g_assert_cmpint (query_int (db, "SELECT latest FROM history_targets WHERE target = '#c'"), ==, 5);

  g_clear_pointer (&db, sqlite3_close);
  td_store_fixture_clear (&f);
}

/* Captured pub/sub traffic: text payloads are searchable by content,
 * binary ones by channel only; unsubscribing removes what a subscription
 * captured, from the index too. */
static void
test_pubsub_capture (void)
{
  TdStoreFixture f;
  g_autoptr(sqlite3) db = NULL;
  g_autoptr(GError) error = NULL;

  td_store_fixture_init (&f);
  db = open_db (f.path);
  g_assert_true (td_schema_open (db, td_schema_app (), 1000, &error));
  g_assert_no_error (error);

  exec_ok (db, "INSERT INTO pubsub_connections (id, name, host, port) VALUES (1, 'builtin', 'h', 1);"
               "INSERT INTO pubsub_subscriptions (id, connection_id, topic, capture) VALUES (1, 1, 'sensors', 1),"
               " (2, 1, 'other', 1);"
               "INSERT INTO pubsub_messages (connection_id, subscription_id, channel, payload, is_text, time)"
               " VALUES (1, 1, 'sensors', CAST ('Température élevée' AS BLOB), 1, 1),"
               "        (1, 1, 'sensors', X'00ff676f6c64', 0, 2),"
               "        (1, 2, 'other', CAST ('temperature fine' AS BLOB), 1, 3);");

  g_assert_cmpint (query_int (db, "SELECT count(*) FROM pubsub_messages_fts"
                                  " WHERE pubsub_messages_fts MATCH 'temperature'"), ==, 2);
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM pubsub_messages_fts"
                                  " WHERE pubsub_messages_fts MATCH 'gold'"), ==, 0);
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM pubsub_messages_fts"
                                  " WHERE pubsub_messages_fts MATCH 'sensors'"), ==, 2);

  exec_ok (db, "DELETE FROM pubsub_subscriptions WHERE id = 1");
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM pubsub_messages"), ==, 1);
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM pubsub_messages_fts"
                                  " WHERE pubsub_messages_fts MATCH 'temperature'"), ==, 1);
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM pubsub_messages_fts"
                                  " WHERE pubsub_messages_fts MATCH 'sensors'"), ==, 0);
  exec_ok (db, "INSERT INTO pubsub_messages_fts (pubsub_messages_fts) VALUES ('integrity-check')");

  g_clear_pointer (&db, sqlite3_close);
  td_store_fixture_clear (&f);
}

/* Puts rows into a database at @version of the app schema, as that version
 * of Tidings would have. */
static void
fill_app_version (sqlite3 *db,
                  guint    version)
{
  if (version >= 1)
    exec_ok (db, "INSERT INTO feeds (id, url, title) VALUES (7, 'file:///f.xml', 'F');"
                 "INSERT INTO items (feed_id, guid, title, summary, fetched_at)"
                 " VALUES (7, 'old', 'Archaeopteryx', 'from before', 0);"
                 "INSERT INTO chat_networks (id, name, host) VALUES (1, 'n', 'h');"
                 "INSERT INTO chat_buffers (id, network_id, name) VALUES (1, 1, '#b');"
                 "INSERT INTO chat_messages (network_id, buffer_id, time, text)"
                 " VALUES (1, 1, 1, 'trilobite fossils');");
  if (version >= 1)
    exec_ok (db, "INSERT INTO pubsub_connections (id, name, host, port) VALUES (1, 'builtin', 'h', 1);"
                 "INSERT INTO pubsub_subscriptions (id, connection_id, topic) VALUES (1, 1, 'weather');"
                 "INSERT INTO pubsub_messages (connection_id, channel, payload, time)"
                 " VALUES (1, 'weather', CAST ('drizzle' AS BLOB), 1);");
  /* Queries: one whose peer spoke (as "Bo[B]", folded to "bo{b}"), one
   * where only the user did. */
  if (version >= 1)
    exec_ok (db, "INSERT INTO chat_buffers (id, network_id, name, kind) VALUES (2, 1, 'bo{b}', 'query'),"
                 " (3, 1, 'quiet', 'query');"
                 "INSERT INTO chat_messages (network_id, buffer_id, time, sender, text)"
                 " VALUES (1, 2, 1, 'bo[b]', 'older spelling'), (1, 2, 2, 'Bo[B]', 'hi'),"
                 "        (1, 2, 3, 'me', 'hello'), (1, 3, 1, 'me', 'anyone?');");
  if (version >= 4)
    exec_ok (db, "INSERT INTO deleted_items (feed_id, guid, deleted_at) VALUES (7, 'dodo', 1);");
  if (version >= 5)
    exec_ok (db, "UPDATE pubsub_subscriptions SET capture = 1, n_captured = 1 WHERE id = 1;"
                 "INSERT INTO pubsub_messages (connection_id, subscription_id, channel, payload, is_text, time)"
                 " VALUES (1, 1, 'weather', CAST ('sleet' AS BLOB), 1, 2);");
  if (version >= 6)
    exec_ok (db, "UPDATE chat_buffers SET display_name = 'Bo[B]' WHERE id = 2;");
}

static void
fill_server_version (sqlite3 *db,
                     guint    version)
{
  if (version >= 1)
    exec_ok (db, "INSERT INTO accounts (name, password_hash, created) VALUES ('ada', 'h', 0);"
                 "INSERT INTO history (msgid, target, time, sender, text)"
                 " VALUES ('m1', '#c', 1, 'ada', 'hello');");
  if (version >= 3)
    exec_ok (db, "UPDATE history SET target_name = '#C' WHERE msgid = 'm1';");
}

typedef struct
{
  const TdSchema *(*schema) (void);
  void (*fill) (sqlite3 *db, guint version);
} MigrationCase;

/* Every earlier version upgrades to the latest, keeping its rows; and
 * rows written before FTS existed become searchable. */
static void
test_migrations (gconstpointer data)
{
  const MigrationCase *mc = data;
  const TdSchema *schema = mc->schema ();
  guint latest = td_schema_get_latest (schema);

  for (guint from = 0; from < latest; from++)
    {
      TdStoreFixture f;
      g_autoptr(sqlite3) db = NULL;
      g_autoptr(GError) error = NULL;

      td_store_fixture_init (&f);
      db = open_db (f.path);
      g_assert_true (td_schema_migrate_to (db, schema, from, &error));
      g_assert_no_error (error);
      g_assert_cmpint (td_schema_get_version (db), ==, from);
      mc->fill (db, from);
      g_clear_pointer (&db, sqlite3_close);

      db = open_db (f.path);
      g_assert_true (td_schema_open (db, schema, 1000, &error));
      g_assert_no_error (error);
      g_assert_cmpint (td_schema_get_version (db), ==, latest);

      if (schema == td_schema_app () && from >= 1)
        {
          g_assert_cmpint (query_int (db, "SELECT count(*) FROM items WHERE guid = 'old'"), ==, 1);
          g_assert_cmpint (query_int (db, "SELECT count(*) FROM items_fts WHERE items_fts MATCH 'archaeopteryx'"), ==, 1);
          g_assert_cmpint (query_int (db, "SELECT count(*) FROM chat_messages_fts WHERE chat_messages_fts MATCH 'trilobite'"), ==, 1);
          /* v4's tombstones: an upgraded file has the table (empty when
           * it comes from before v4, with its tombstone from v4 on), and it
           * takes tombstones of the items it already had. */
          g_assert_cmpint (query_int (db, "SELECT count(*) FROM deleted_items"), ==, from >= 4 ? 1 : 0);
          exec_ok (db, "INSERT INTO deleted_items (feed_id, guid, deleted_at)"
                       " SELECT feed_id, guid, 1 FROM items WHERE guid = 'old'");
          g_assert_cmpint (query_int (db, "SELECT count(*) FROM deleted_items WHERE feed_id = 7"), ==,
                           from >= 4 ? 2 : 1);
          /* v5's capture: a message from before is indexed by its channel
           * only (it was never known to be text); new captures by text. A
           * file from v5 on has its own capture ("sleet") already. */
          g_assert_cmpint (query_int (db, "SELECT count(*) FROM pubsub_messages_fts"
                                          " WHERE pubsub_messages_fts MATCH 'weather'"), ==, from >= 5 ? 2 : 1);
          g_assert_cmpint (query_int (db, "SELECT count(*) FROM pubsub_messages_fts"
                                          " WHERE pubsub_messages_fts MATCH 'drizzle'"), ==, 0);
          g_assert_cmpint (query_int (db, "SELECT capture FROM pubsub_subscriptions WHERE id = 1"), ==,
                           from >= 5 ? 1 : 0);
          exec_ok (db, "UPDATE pubsub_subscriptions SET capture = 1 WHERE id = 1;"
                       "INSERT INTO pubsub_messages (connection_id, subscription_id, channel, payload, is_text, time)"
                       " VALUES (1, 1, 'weather', CAST ('hail' AS BLOB), 1, 3);");
          g_assert_cmpint (query_int (db, "SELECT count(*) FROM pubsub_messages_fts"
                                          " WHERE pubsub_messages_fts MATCH 'hail'"), ==, 1);
          g_assert_cmpint (query_int (db, "SELECT count(*) FROM pubsub_messages_fts"
                                          " WHERE pubsub_messages_fts MATCH 'weather'"), ==, from >= 5 ? 3 : 2);
          /* v6's display names: a query takes its peer's newest spelling
           * (not the user's own lines); one the peer never spoke in, and
           * channels, have none and show their key. */
          {
            g_autofree char *bob = query_text (db, "SELECT display_name FROM chat_buffers WHERE id = 2");

            g_assert_cmpstr (bob, ==, "Bo[B]");
          }
          g_assert_cmpint (query_int (db, "SELECT count(*) FROM chat_buffers WHERE display_name IS NULL"), ==, 2);
          exec_ok (db, "UPDATE chat_buffers SET display_name = 'Quiet' WHERE id = 3");
        }
      if (schema == td_schema_server () && from >= 1)
        {
          g_assert_cmpint (query_int (db, "SELECT count(*) FROM history_targets"), ==, 1);
          g_assert_cmpint (query_int (db, "SELECT count(*) FROM accounts"), ==, 1);
          /* v3: rows from before have no spelling of their target; new
           * ones keep it. */
          g_assert_cmpint (query_int (db, "SELECT count(*) FROM history WHERE target_name IS NULL"), ==,
                           from >= 3 ? 0 : 1);
          exec_ok (db, "INSERT INTO history (msgid, target, target_name, time, sender, text)"
                       " VALUES ('m2', 'ada\001bob', 'Bob', 2, 'ada', 'hi')");
        }

      /* The upgraded file has the same shape as a fresh one. */
      {
        TdStoreFixture g;
        g_autoptr(sqlite3) fresh = NULL;
        g_autofree char *a = NULL, *b = NULL;
        const char *shape = "SELECT group_concat (type || ':' || name, ',') FROM"
                            " (SELECT type, name FROM sqlite_master ORDER BY name)";

        td_store_fixture_init (&g);
        fresh = open_db (g.path);
        g_assert_true (td_schema_open (fresh, schema, 1000, &error));
        a = query_text (db, shape);
        b = query_text (fresh, shape);
        g_assert_cmpstr (a, ==, b);
        g_clear_pointer (&fresh, sqlite3_close);
        td_store_fixture_clear (&g);
      }

      g_clear_pointer (&db, sqlite3_close);
      td_store_fixture_clear (&f);
    }
}

/* A migration that fails leaves the database at the previous version. */
static void
test_migration_failure_rolls_back (void)
{
  static const TdMigration bad[] = {
    { 1, "CREATE TABLE a (x);" },
    { 2, "CREATE TABLE b (y); THIS IS NOT SQL;" },
  };
  static const TdSchema bad_schema = { "test", 0x54657374u, bad, G_N_ELEMENTS (bad) };
  TdStoreFixture f;
  g_autoptr(sqlite3) db = NULL;
  g_autoptr(GError) error = NULL;

  td_store_fixture_init (&f);
  db = open_db (f.path);
  g_assert_false (td_schema_open (db, &bad_schema, 1000, &error));
  g_assert_error (error, TD_STORE_ERROR, TD_STORE_ERROR_MIGRATION);
  g_assert_cmpint (td_schema_get_version (db), ==, 1);
  g_assert_cmpint (query_int (db, "SELECT count(*) FROM sqlite_master WHERE name = 'b'"), ==, 0);

  g_clear_pointer (&db, sqlite3_close);
  td_store_fixture_clear (&f);
}

static void
test_check_refuses (void)
{
  TdStoreFixture f;
  g_autoptr(GError) error = NULL;
  sqlite3 *db;

  td_store_fixture_init (&f);

  /* Not a database at all. */
  g_assert_true (g_file_set_contents (f.path, "<?xml version='1.0'?><opml/>\n"
                                      "and quite a bit more text so that it is longer "
                                      "than the one hundred bytes of an sqlite header", -1, NULL));
  db = open_db (f.path);
  g_assert_false (td_schema_open (db, td_schema_app (), 1000, &error));
  g_assert_error (error, TD_STORE_ERROR, TD_STORE_ERROR_NOT_A_DATABASE);
  g_clear_error (&error);
  sqlite3_close (db);
  g_unlink (f.path);

  /* Someone else's sqlite database. */
  db = open_db (f.path);
  exec_ok (db, "CREATE TABLE moz_places (id INTEGER PRIMARY KEY)");
  g_assert_false (td_schema_open (db, td_schema_app (), 1000, &error));
  g_assert_error (error, TD_STORE_ERROR, TD_STORE_ERROR_FOREIGN);
  g_clear_error (&error);
  sqlite3_close (db);
  g_unlink (f.path);

  /* The server's database is not the app's. */
  db = open_db (f.path);
  g_assert_true (td_schema_open (db, td_schema_server (), 1000, &error));
  g_assert_false (td_schema_open (db, td_schema_app (), 1000, &error));
  g_assert_error (error, TD_STORE_ERROR, TD_STORE_ERROR_FOREIGN);
  g_assert_nonnull (strstr (error->message, "tidingsd"));
  g_clear_error (&error);
  sqlite3_close (db);

  td_store_fixture_clear (&f);
}

static const MigrationCase app_case = { td_schema_app, fill_app_version };
static const MigrationCase server_case = { td_schema_server, fill_server_version };

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/td/store/schema/fts5-available", test_fts5_available);
  g_test_add_func ("/td/store/schema/fresh-app", test_fresh_app);
  g_test_add_func ("/td/store/schema/app-fts-and-cascade", test_app_fts_and_cascade);
  g_test_add_func ("/td/store/schema/pubsub-capture", test_pubsub_capture);
  g_test_add_func ("/td/store/schema/server", test_server_schema);
  g_test_add_data_func ("/td/store/schema/migrations/app", &app_case, test_migrations);
  g_test_add_data_func ("/td/store/schema/migrations/server", &server_case, test_migrations);
  g_test_add_func ("/td/store/schema/migration-failure-rolls-back", test_migration_failure_rolls_back);
  g_test_add_func ("/td/store/schema/check-refuses", test_check_refuses);

  return g_test_run ();
}
