/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-schema"

#include "config.h"

#include "store/td-schema.h"
#include "store/td-store.h"

/* PRAGMA application_id of our files: 'TdAp' for the app, 'TdSv' for
 * tidingsd, so neither opens the other's database nor a stranger's. */
#define TD_SCHEMA_APP_ID    0x54644170u
#define TD_SCHEMA_SERVER_ID 0x54645376u

/* ---------------------------------------------------------------------- */
/* The app database                                                        */
/* ---------------------------------------------------------------------- */

/* v1: the base tables. feeds.refresh_interval is in seconds (NULL: the app
 * default); items.enclosures is a JSON array of {url, type, length}. */
static const char app_v1[] =
  "CREATE TABLE feeds ("
  "  id               INTEGER PRIMARY KEY,"
  "  url              TEXT NOT NULL UNIQUE,"
  "  title            TEXT,"
  "  title_override   TEXT,"
  "  site_link        TEXT,"
  "  icon_url         TEXT,"
  "  etag             TEXT,"
  "  last_modified    TEXT,"
  "  last_fetch       INTEGER,"
  "  next_fetch       INTEGER,"
  "  error_count      INTEGER NOT NULL DEFAULT 0,"
  "  error_text       TEXT,"
  "  refresh_interval INTEGER,"
  "  folder           TEXT,"
  "  gone             INTEGER NOT NULL DEFAULT 0"
  ");"
  "CREATE TABLE items ("
  "  id         INTEGER PRIMARY KEY,"
  "  feed_id    INTEGER NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,"
  "  guid       TEXT NOT NULL,"
  "  title      TEXT,"
  "  link       TEXT,"
  "  author     TEXT,"
  "  published  INTEGER,"
  "  updated    INTEGER,"
  "  summary    TEXT,"
  "  content    TEXT,"
  "  enclosures TEXT,"
  "  read       INTEGER NOT NULL DEFAULT 0,"
  "  starred    INTEGER NOT NULL DEFAULT 0,"
  "  fetched_at INTEGER NOT NULL,"
  "  UNIQUE (feed_id, guid)"
  ");"
  "CREATE TABLE chat_networks ("
  "  id           INTEGER PRIMARY KEY,"
  "  name         TEXT NOT NULL UNIQUE,"
  "  host         TEXT NOT NULL,"
  "  port         INTEGER NOT NULL DEFAULT 6667,"
  "  tls          INTEGER NOT NULL DEFAULT 0,"
  "  nick         TEXT,"
  "  username     TEXT,"
  "  realname     TEXT,"
  "  sasl_account TEXT,"
  "  auto_connect INTEGER NOT NULL DEFAULT 1,"
  "  created      INTEGER"
  ");"
  "CREATE TABLE chat_buffers ("
  "  id         INTEGER PRIMARY KEY,"
  "  network_id INTEGER NOT NULL REFERENCES chat_networks (id) ON DELETE CASCADE,"
  "  name       TEXT NOT NULL,"
  "  kind       TEXT NOT NULL DEFAULT 'channel',"
  "  topic      TEXT,"
  "  joined     INTEGER NOT NULL DEFAULT 0,"
  "  last_read  INTEGER,"
  "  UNIQUE (network_id, name)"
  ");"
  "CREATE TABLE chat_messages ("
  "  id         INTEGER PRIMARY KEY,"
  "  network_id INTEGER NOT NULL REFERENCES chat_networks (id) ON DELETE CASCADE,"
  "  buffer_id  INTEGER NOT NULL REFERENCES chat_buffers (id) ON DELETE CASCADE,"
  "  msgid      TEXT,"
  "  time       INTEGER NOT NULL,"
  "  sender     TEXT,"
  "  kind       TEXT NOT NULL DEFAULT 'privmsg',"
  "  text       TEXT,"
  "  UNIQUE (buffer_id, msgid)"
  ");"
  "CREATE TABLE pubsub_connections ("
  "  id           INTEGER PRIMARY KEY,"
  "  name         TEXT NOT NULL UNIQUE,"
  "  protocol     TEXT NOT NULL DEFAULT 'resp',"
  "  host         TEXT NOT NULL,"
  "  port         INTEGER NOT NULL,"
  "  tls          INTEGER NOT NULL DEFAULT 0,"
  "  username     TEXT,"
  "  auto_connect INTEGER NOT NULL DEFAULT 1,"
  "  created      INTEGER"
  ");"
  "CREATE TABLE pubsub_subscriptions ("
  "  id            INTEGER PRIMARY KEY,"
  "  connection_id INTEGER NOT NULL REFERENCES pubsub_connections (id) ON DELETE CASCADE,"
  "  topic         TEXT NOT NULL,"
  "  is_pattern    INTEGER NOT NULL DEFAULT 0,"
  "  created       INTEGER,"
  "  UNIQUE (connection_id, topic, is_pattern)"
  ");"
  "CREATE TABLE pubsub_messages ("
  "  id            INTEGER PRIMARY KEY,"
  "  connection_id INTEGER NOT NULL REFERENCES pubsub_connections (id) ON DELETE CASCADE,"
  "  channel       TEXT NOT NULL,"
  "  pattern       TEXT,"
  "  payload       BLOB,"
  "  time          INTEGER NOT NULL"
  ");";

/* v2: the indexes behind what the views ask: a feed's items by date, all
 * items by date, unread counts (all and per feed), the starred view by
 * date, a chat buffer's scrollback,
 * the fetch schedule, and the child side of every cascading foreign key. */
static const char app_v2[] =
  "CREATE INDEX items_feed_published ON items (feed_id, published);"
  "CREATE INDEX items_published ON items (published);"
  "CREATE INDEX items_read ON items (read, feed_id);"
  "CREATE INDEX items_starred ON items (starred, published);"
  "CREATE INDEX feeds_next_fetch ON feeds (next_fetch);"
  "CREATE INDEX chat_messages_buffer_time ON chat_messages (buffer_id, time);"
  "CREATE INDEX chat_messages_network ON chat_messages (network_id);"
  "CREATE INDEX pubsub_messages_connection_time ON pubsub_messages (connection_id, time);";

/* v3: full-text search. External-content FTS5 tables (the text is stored
 * once, in the base table) kept in step by triggers; the update triggers
 * fire only when indexed text changes, so marking read costs nothing here.
 * The final 'rebuild' indexes rows written by an older version. */
static const char app_v3[] =
  "CREATE VIRTUAL TABLE items_fts USING fts5 ("
  "  title, summary, content,"
  "  content = 'items', content_rowid = 'id',"
  "  tokenize = 'unicode61 remove_diacritics 2'"
  ");"
  "CREATE TRIGGER items_fts_insert AFTER INSERT ON items BEGIN"
  "  INSERT INTO items_fts (rowid, title, summary, content)"
  "    VALUES (new.id, new.title, new.summary, new.content);"
  "END;"
  "CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN"
  "  INSERT INTO items_fts (items_fts, rowid, title, summary, content)"
  "    VALUES ('delete', old.id, old.title, old.summary, old.content);"
  "END;"
  "CREATE TRIGGER items_fts_update AFTER UPDATE OF title, summary, content ON items BEGIN"
  "  INSERT INTO items_fts (items_fts, rowid, title, summary, content)"
  "    VALUES ('delete', old.id, old.title, old.summary, old.content);"
  "  INSERT INTO items_fts (rowid, title, summary, content)"
  "    VALUES (new.id, new.title, new.summary, new.content);"
  "END;"
  "INSERT INTO items_fts (items_fts) VALUES ('rebuild');"
  "CREATE VIRTUAL TABLE chat_messages_fts USING fts5 ("
  "  text,"
  "  content = 'chat_messages', content_rowid = 'id',"
  "  tokenize = 'unicode61 remove_diacritics 2'"
  ");"
  "CREATE TRIGGER chat_messages_fts_insert AFTER INSERT ON chat_messages BEGIN"
  "  INSERT INTO chat_messages_fts (rowid, text) VALUES (new.id, new.text);"
  "END;"
  "CREATE TRIGGER chat_messages_fts_delete AFTER DELETE ON chat_messages BEGIN"
  "  INSERT INTO chat_messages_fts (chat_messages_fts, rowid, text)"
  "    VALUES ('delete', old.id, old.text);"
  "END;"
  "CREATE TRIGGER chat_messages_fts_update AFTER UPDATE OF text ON chat_messages BEGIN"
  "  INSERT INTO chat_messages_fts (chat_messages_fts, rowid, text)"
  "    VALUES ('delete', old.id, old.text);"
  "  INSERT INTO chat_messages_fts (rowid, text) VALUES (new.id, new.text);"
  "END;"
  "INSERT INTO chat_messages_fts (chat_messages_fts) VALUES ('rebuild');";

/* v4: tombstones of deleted feed items, so that a refresh that still
 * carries an item the user deleted does not bring it back. A tombstone
 * lives while the feed still carries its item: the refresh that no
 * longer does removes it, as does unsubscribing (cascade). */
static const char app_v4[] =
  "CREATE TABLE deleted_items ("
  "  feed_id    INTEGER NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,"
  "  guid       TEXT NOT NULL,"
  "  deleted_at INTEGER NOT NULL,"
  "  PRIMARY KEY (feed_id, guid)"
  ") WITHOUT ROWID;";

/* v5: capturing pub/sub traffic per subscription. A captured message
 * belongs to its subscription (unsubscribing forgets what it captured);
 * n_captured counts what a subscription has stored so that pruning to its
 * cap deletes exactly the oldest excess without counting rows. is_text
 * says the payload is UTF-8 text: only those are indexed by content,
 * binary payloads by channel only. The FTS table reads through a view
 * that applies that rule, so 'rebuild' and the triggers agree. */
static const char app_v5[] =
  "ALTER TABLE pubsub_subscriptions ADD COLUMN capture INTEGER NOT NULL DEFAULT 0;"
  "ALTER TABLE pubsub_subscriptions ADD COLUMN n_captured INTEGER NOT NULL DEFAULT 0;"
  "ALTER TABLE pubsub_messages ADD COLUMN subscription_id INTEGER"
  "  REFERENCES pubsub_subscriptions (id) ON DELETE CASCADE;"
  "ALTER TABLE pubsub_messages ADD COLUMN is_text INTEGER NOT NULL DEFAULT 0;"
  "CREATE INDEX pubsub_messages_subscription ON pubsub_messages (subscription_id, id);"
  "CREATE VIEW pubsub_messages_text AS"
  "  SELECT id, channel, CASE WHEN is_text THEN CAST (payload AS TEXT) END AS text"
  "  FROM pubsub_messages;"
  "CREATE VIRTUAL TABLE pubsub_messages_fts USING fts5 ("
  "  channel, text,"
  "  content = 'pubsub_messages_text', content_rowid = 'id',"
  "  tokenize = 'unicode61 remove_diacritics 2'"
  ");"
  "CREATE TRIGGER pubsub_messages_fts_insert AFTER INSERT ON pubsub_messages BEGIN"
  "  INSERT INTO pubsub_messages_fts (rowid, channel, text) VALUES (new.id, new.channel,"
  "    CASE WHEN new.is_text THEN CAST (new.payload AS TEXT) END);"
  "END;"
  "CREATE TRIGGER pubsub_messages_fts_delete AFTER DELETE ON pubsub_messages BEGIN"
  "  INSERT INTO pubsub_messages_fts (pubsub_messages_fts, rowid, channel, text)"
  "    VALUES ('delete', old.id, old.channel,"
  "            CASE WHEN old.is_text THEN CAST (old.payload AS TEXT) END);"
  "END;"
  "CREATE TRIGGER pubsub_messages_fts_update AFTER UPDATE OF channel, payload, is_text"
  "  ON pubsub_messages BEGIN"
  "  INSERT INTO pubsub_messages_fts (pubsub_messages_fts, rowid, channel, text)"
  "    VALUES ('delete', old.id, old.channel,"
  "            CASE WHEN old.is_text THEN CAST (old.payload AS TEXT) END);"
  "  INSERT INTO pubsub_messages_fts (rowid, channel, text) VALUES (new.id, new.channel,"
  "    CASE WHEN new.is_text THEN CAST (new.payload AS TEXT) END);"
  "END;"
  "INSERT INTO pubsub_messages_fts (pubsub_messages_fts) VALUES ('rebuild');";

/* v6: the name of a chat buffer as it was seen (chat_buffers.name is the
 * casefolded key, so a query with "Bob" came back as "bob"). A query
 * written before takes the casing of the newest line its peer sent, found
 * by folding the senders as CASEMAPPING=rfc1459 does (A-Z, []\~ to
 * a-z, {}|^); one with no such line stays NULL and shows its key. */
static const char app_v6[] =
  "ALTER TABLE chat_buffers ADD COLUMN display_name TEXT;"
  "UPDATE chat_buffers SET display_name = ("
  "  SELECT m.sender FROM chat_messages m WHERE m.buffer_id = chat_buffers.id"
  "  AND replace (replace (replace (replace (lower (m.sender), '[', '{'), ']', '}'),"
  "               '\\', '|'), '~', '^') = chat_buffers.name"
  "  ORDER BY m.time DESC, m.id DESC LIMIT 1)"
  " WHERE kind = 'query';";

static const TdMigration app_migrations[] = {
  { 1, app_v1 },
  { 2, app_v2 },
  { 3, app_v3 },
  { 4, app_v4 },
  { 5, app_v5 },
  { 6, app_v6 },
};

static const TdSchema app_schema = {
  "Tidings", TD_SCHEMA_APP_ID, app_migrations, G_N_ELEMENTS (app_migrations),
};

/* ---------------------------------------------------------------------- */
/* The server database                                                     */
/* ---------------------------------------------------------------------- */

/* v1: accounts and chat history. history.target is casefolded by the
 * server (channel name, or the conversation key of a private query);
 * history.tags is the IRCv3 tag string as received. */
static const char server_v1[] =
  "CREATE TABLE accounts ("
  "  id            INTEGER PRIMARY KEY,"
  "  name          TEXT NOT NULL UNIQUE COLLATE NOCASE,"
  "  password_hash TEXT NOT NULL,"
  "  created       INTEGER NOT NULL,"
  "  email         TEXT"
  ");"
  "CREATE TABLE history ("
  "  id      INTEGER PRIMARY KEY,"
  "  msgid   TEXT NOT NULL UNIQUE,"
  "  target  TEXT NOT NULL,"
  "  time    INTEGER NOT NULL,"
  "  sender  TEXT NOT NULL,"
  "  account TEXT,"
  "  command TEXT NOT NULL DEFAULT 'PRIVMSG',"
  "  text    TEXT,"
  "  tags    TEXT"
  ");";

/* v2: what CHATHISTORY needs to be fast (a target's messages by time, and
 * the list of targets with their latest message for CHATHISTORY TARGETS),
 * and metadata of uploaded files (the bytes live on disk, named by hash). */
static const char server_v2[] =
  "CREATE INDEX history_target_time ON history (target, time);"
  "CREATE VIEW history_targets AS"
  "  SELECT target, MAX (time) AS latest, COUNT (*) AS n_messages"
  "  FROM history GROUP BY target;"
  "CREATE TABLE files ("
  "  id       INTEGER PRIMARY KEY,"
  "  hash     TEXT NOT NULL,"
  "  name     TEXT NOT NULL,"
  "  type     TEXT,"
  "  size     INTEGER NOT NULL,"
  "  uploader TEXT,"
  "  created  INTEGER NOT NULL,"
  "  expires  INTEGER"
  ");"
  "CREATE INDEX files_hash ON files (hash);"
  "CREATE INDEX files_expires ON files (expires);";

/* v3: the target of a message as its sender wrote it. history.target is
 * the casefolded key, which is all a private message read back from disk
 * had for its recipient ("bob" for "Bob"). Rows written before keep NULL
 * and fall back to the key. */
static const char server_v3[] =
  "ALTER TABLE history ADD COLUMN target_name TEXT;";

static const TdMigration server_migrations[] = {
  { 1, server_v1 },
  { 2, server_v2 },
  { 3, server_v3 },
};

static const TdSchema server_schema = {
  "tidingsd", TD_SCHEMA_SERVER_ID, server_migrations, G_N_ELEMENTS (server_migrations),
};

/* ---------------------------------------------------------------------- */
/* Helpers                                                                 */
/* ---------------------------------------------------------------------- */

const TdSchema *
td_schema_app (void)
{
  return &app_schema;
}

const TdSchema *
td_schema_server (void)
{
  return &server_schema;
}

guint
td_schema_get_latest (const TdSchema *schema)
{
  g_return_val_if_fail (schema != NULL, 0);

  return schema->n_migrations;
}

/* Runs a one-row integer query. Returns FALSE and sets @error on failure. */
static gboolean
query_int (sqlite3     *db,
           const char  *sql,
           gint64      *out,
           GError     **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  int rc;

  rc = sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW)
    {
      td_sqlite_set_error (error, db, rc, sql);
      return FALSE;
    }

  *out = sqlite3_column_int64 (stmt, 0);
  return TRUE;
}

static gboolean
exec (sqlite3     *db,
      const char  *sql,
      GError     **error)
{
  int rc = sqlite3_exec (db, sql, NULL, NULL, NULL);

  if (rc != SQLITE_OK)
    {
      td_sqlite_set_error (error, db, rc, sql);
      return FALSE;
    }
  return TRUE;
}

int
td_schema_get_version (sqlite3 *db)
{
  gint64 v = -1;

  if (!query_int (db, "PRAGMA user_version", &v, NULL))
    return -1;
  return (int) v;
}

/* A damaged or non-database file shows up as one of these on first read. */
static gboolean
is_not_a_database (int code)
{
  return (code & 0xff) == SQLITE_NOTADB || (code & 0xff) == SQLITE_CORRUPT;
}

/* Turns a failed read of the header into the error the caller shows. */
static void
propagate_check_error (GError         **error,
                       GError          *local,
                       sqlite3         *db,
                       const TdSchema  *schema)
{
  if (local->domain == TD_SQLITE_ERROR && is_not_a_database (local->code))
    {
      const char *file = sqlite3_db_filename (db, "main");

      g_set_error (error, TD_STORE_ERROR, TD_STORE_ERROR_NOT_A_DATABASE,
                   "%s is not a %s database or is damaged: %s",
                   file != NULL && *file ? file : "The file", schema->name,
                   sqlite3_errmsg (db));
      g_error_free (local);
    }
  else
    g_propagate_error (error, local);
}

gboolean
td_schema_check (sqlite3         *db,
                 const TdSchema  *schema,
                 TdSchemaState   *out_state,
                 guint           *out_version,
                 GError         **error)
{
  const char *file = sqlite3_db_filename (db, "main");
  GError *local = NULL;
  gint64 app_id = 0, version = 0, n_objects = 0;

  g_return_val_if_fail (db != NULL, FALSE);
  g_return_val_if_fail (schema != NULL, FALSE);

  if (file == NULL || *file == '\0')
    file = "The database";

  /* Reading sqlite_master walks the schema pages: a file that is damaged
   * beyond its header fails here rather than in the middle of a batch. */
  if (!query_int (db, "PRAGMA application_id", &app_id, &local) ||
      !query_int (db, "PRAGMA user_version", &version, &local) ||
      !query_int (db, "SELECT count(*) FROM sqlite_master", &n_objects, &local))
    {
      propagate_check_error (error, local, db, schema);
      return FALSE;
    }

  if (app_id == 0 && version == 0 && n_objects == 0)
    {
      if (out_state)
        *out_state = TD_SCHEMA_STATE_EMPTY;
      if (out_version)
        *out_version = 0;
      return TRUE;
    }

  if ((guint32) app_id != schema->application_id)
    {
      if ((guint32) app_id == app_schema.application_id ||
          (guint32) app_id == server_schema.application_id)
        g_set_error (error, TD_STORE_ERROR, TD_STORE_ERROR_FOREIGN,
                     "%s is a %s database, not a %s one", file,
                     (guint32) app_id == app_schema.application_id
                       ? app_schema.name : server_schema.name,
                     schema->name);
      else
        g_set_error (error, TD_STORE_ERROR, TD_STORE_ERROR_FOREIGN,
                     "%s is an sqlite database that does not belong to %s "
                     "(application id 0x%08x, %" G_GINT64_FORMAT " objects)",
                     file, schema->name, (guint32) app_id, n_objects);
      return FALSE;
    }

  if (version > (gint64) schema->n_migrations || version < 0)
    {
      g_set_error (error, TD_STORE_ERROR, TD_STORE_ERROR_NEWER,
                   "%s was written by a newer version of %s (schema version "
                   "%" G_GINT64_FORMAT ", this version knows up to %u)",
                   file, schema->name, version, schema->n_migrations);
      return FALSE;
    }

  if (out_state)
    *out_state = TD_SCHEMA_STATE_OURS;
  if (out_version)
    *out_version = (guint) version;
  return TRUE;
}

gboolean
td_schema_configure (sqlite3  *db,
                     guint     busy_timeout_ms,
                     GError  **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  const char *mode;
  int rc;

  sqlite3_busy_timeout (db, busy_timeout_ms);

  /* journal_mode answers with the mode in force; WAL can be refused (for
   * example on a read-only medium) without an error code. */
  rc = sqlite3_prepare_v2 (db, "PRAGMA journal_mode = WAL", -1, &stmt, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW)
    {
      td_sqlite_set_error (error, db, rc, "PRAGMA journal_mode = WAL");
      return FALSE;
    }
  mode = (const char *) sqlite3_column_text (stmt, 0);
  if (g_ascii_strcasecmp (mode, "wal") != 0)
    {
      g_set_error (error, TD_SQLITE_ERROR, SQLITE_READONLY,
                   "Cannot switch the database to WAL mode (it stays in %s mode)", mode);
      return FALSE;
    }

  return exec (db, "PRAGMA foreign_keys = ON;"
                   "PRAGMA synchronous = NORMAL;", error);
}

gboolean
td_schema_migrate_to (sqlite3         *db,
                      const TdSchema  *schema,
                      guint            target_version,
                      GError         **error)
{
  int current;

  g_return_val_if_fail (db != NULL, FALSE);
  g_return_val_if_fail (schema != NULL, FALSE);
  g_return_val_if_fail (target_version <= schema->n_migrations, FALSE);

  current = td_schema_get_version (db);
  if (current < 0)
    {
      td_sqlite_set_error (error, db, sqlite3_errcode (db), "PRAGMA user_version");
      return FALSE;
    }

  for (guint i = 0; i < schema->n_migrations; i++)
    {
      const TdMigration *m = &schema->migrations[i];
      g_autofree char *stamp = NULL;
      GError *local = NULL;

      g_assert (m->version == i + 1);

      if (m->version <= (guint) current || m->version > target_version)
        continue;

      if (!exec (db, "BEGIN IMMEDIATE", error))
        return FALSE;

      /* Another connection (tidingsd and a tool, two app instances) may
       * have run this migration while we waited for the write lock. */
      current = td_schema_get_version (db);
      if (current >= (int) m->version)
        {
          if (!exec (db, "COMMIT", error))
            return FALSE;
          continue;
        }

      /* The id is stamped with every migration so that a file we created
       * is recognised as ours from version 1 on. */
      stamp = g_strdup_printf ("PRAGMA application_id = %d;"
                               "PRAGMA user_version = %u;",
                               (gint32) schema->application_id, m->version);

      if (!exec (db, m->sql, &local) ||
          !exec (db, stamp, &local) ||
          !exec (db, "COMMIT", &local))
        {
          sqlite3_exec (db, "ROLLBACK", NULL, NULL, NULL);
          if (local->domain == TD_SQLITE_ERROR && td_sqlite_code_is_transient (local->code))
            g_propagate_error (error, local);
          else
            {
              g_set_error (error, TD_STORE_ERROR, TD_STORE_ERROR_MIGRATION,
                           "Cannot upgrade the %s database to version %u: %s",
                           schema->name, m->version, local->message);
              g_error_free (local);
            }
          return FALSE;
        }
    }

  return TRUE;
}

gboolean
td_schema_open (sqlite3         *db,
                const TdSchema  *schema,
                guint            busy_timeout_ms,
                GError         **error)
{
  GError *local = NULL;

  g_return_val_if_fail (db != NULL, FALSE);
  g_return_val_if_fail (schema != NULL, FALSE);

  sqlite3_busy_timeout (db, busy_timeout_ms);

  if (!td_schema_check (db, schema, NULL, NULL, error))
    return FALSE;

  if (!td_schema_configure (db, busy_timeout_ms, &local))
    {
      propagate_check_error (error, local, db, schema);
      return FALSE;
    }

  return td_schema_migrate_to (db, schema, schema->n_migrations, error);
}
