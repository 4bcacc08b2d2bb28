/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>
#include <sqlite3.h>

G_BEGIN_DECLS

/*
 * Database schemas and their migrations.
 *
 * A schema is an ordered list of migrations; migration N takes a database
 * from `PRAGMA user_version` N-1 to N inside its own transaction. Every
 * database we create carries the schema's `PRAGMA application_id`, which is
 * how a file that belongs to someone else is told apart from ours.
 *
 * Timestamps in both schemas are INTEGER microseconds since the Unix epoch
 * (what g_get_real_time() returns), booleans are INTEGER 0/1.
 */

typedef struct
{
  guint       version;  /* user_version after this migration: 1, 2, ... */
  const char *sql;      /* one or more statements, run in one transaction */
} TdMigration;

typedef struct
{
  const char        *name;            /* for messages: "Tidings", "tidingsd" */
  guint32            application_id;  /* PRAGMA application_id of our files */
  const TdMigration *migrations;      /* ordered, versions 1..n_migrations */
  guint              n_migrations;
} TdSchema;

/* What a file at a path is, found without writing to it. */
typedef enum
{
  TD_SCHEMA_STATE_EMPTY,    /* new or empty database: ours to create */
  TD_SCHEMA_STATE_OURS,     /* ours, at a version we know (maybe older) */
} TdSchemaState;

/* How long a connection waits for a lock held by another connection
 * (tidingsd and the app, or a backup tool) before reporting SQLITE_BUSY. */
#define TD_SCHEMA_DEFAULT_BUSY_TIMEOUT_MS 5000

const TdSchema *td_schema_app          (void);
const TdSchema *td_schema_server       (void);
guint           td_schema_get_latest   (const TdSchema  *schema);

/* Reads what @db is without writing to it. Returns FALSE and sets @error
 * (TD_STORE_ERROR_NOT_A_DATABASE, _FOREIGN or _NEWER, or a transient
 * TD_SQLITE_ERROR such as SQLITE_BUSY) if it cannot or must not be used. */
gboolean        td_schema_check        (sqlite3         *db,
                                        const TdSchema  *schema,
                                        TdSchemaState   *out_state,
                                        guint           *out_version,
                                        GError         **error);

/* Sets the connection pragmas (WAL, foreign keys, synchronous=NORMAL,
 * busy timeout). Returns FALSE and sets @error if sqlite refuses. */
gboolean        td_schema_configure    (sqlite3         *db,
                                        guint            busy_timeout_ms,
                                        GError         **error);

/* Runs the migrations after the database's current version up to and
 * including @target_version, each in its own transaction. Returns FALSE and
 * sets @error if one fails; the database then stays at the last version
 * that succeeded. */
gboolean        td_schema_migrate_to   (sqlite3         *db,
                                        const TdSchema  *schema,
                                        guint            target_version,
                                        GError         **error);

/* Checks, configures and migrates @db to the latest version: what a
 * recorder does on open. Never writes to a file that td_schema_check()
 * rejects. */
gboolean        td_schema_open         (sqlite3         *db,
                                        const TdSchema  *schema,
                                        guint            busy_timeout_ms,
                                        GError         **error);

/* Returns PRAGMA user_version of @db, or -1 if it cannot be read. */
int             td_schema_get_version  (sqlite3         *db);

G_END_DECLS
