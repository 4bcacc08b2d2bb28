/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "chat/td-irc-accounts.h"
#include "store/td-recorder.h"

G_BEGIN_DECLS

/*
 * TdFileHost: the HTTP file host of tidingsd (libsoup 3 SoupServer), the
 * server half of files and images in chat.
 *
 *   POST /upload              multipart/form-data, field `file` (and an
 *                             optional `caption`); HTTP Basic with a chat
 *                             account. Answers 201 and JSON
 *                             {"url", "name", "type", "size", "sha256"}.
 *   GET|HEAD /f/HASH/NAME     the file, with the sniffed Content-Type and
 *                             headers that keep a browser from running it.
 *
 * Every refusal is a 4xx with a JSON body {"error": CODE, "message": TEXT}.
 *
 * Files live under `data_dir/XX/REST` named by SHA-256 (identical uploads
 * share one file); each upload is a row of the `files` table, written
 * through the recorder. An upload is streamed into `data_dir/tmp` and only
 * renamed into place once complete and accepted, so a refused or truncated
 * upload leaves nothing behind. Types are sniffed from the bytes, never
 * taken from the name or the client's Content-Type.
 *
 * The host runs on one GMainContext (the server's). Passwords are checked
 * on the task loop while the request is paused. Accounts are the chat
 * server's (same table, same failed-login rate limit as SASL).
 */

/* One file: big enough for photos and screenshots, small enough that a
 * burst of uploads cannot fill a laptop's disk. */
#define TD_FILE_HOST_DEFAULT_MAX_SIZE     (25 * 1024 * 1024)
/* Per account, over all its unexpired files: forty full-size files. */
#define TD_FILE_HOST_DEFAULT_QUOTA        (1024 * 1024 * 1024)
/* Files are links in chat history, which scrolls away; a month keeps
 * them for the conversation that shared them. 0 keeps them forever. */
#define TD_FILE_HOST_DEFAULT_EXPIRY_DAYS  30
/* How often expired files are removed. */
#define TD_FILE_HOST_DEFAULT_CLEAN_INTERVAL_MS (60 * 60 * 1000)
/* Stored names are cut to this many bytes (at a character boundary,
 * keeping the extension): long enough for any real name, and the URL
 * stays well under what chat lines can carry. */
#define TD_FILE_HOST_MAX_NAME             120
/* A caption is echoed back to the uploader; it is one chat line. */
#define TD_FILE_HOST_MAX_CAPTION          400
/* Uploads in progress at once (on the whole host): each holds a temp
 * file and possibly a worker checking its password. */
#define TD_FILE_HOST_MAX_UPLOADS          16

typedef struct
{
  char     *data_dir;        /* where files are stored (required) */
  char     *public_url;      /* base of returned URLs; NULL: http://ADDRESS:PORT */
  gint64    max_size;        /* bytes per file; 0: default */
  gint64    quota;           /* bytes per account; 0: default, < 0: none */
  int       expiry_days;     /* 0: never; < 0: default */
  gint64    expiry_usec;     /* tests: overrides expiry_days when > 0 */
  guint     clean_interval_ms; /* 0: default */
  gboolean  anonymous;       /* accept uploads without credentials */
} TdFileHostConfig;

typedef struct _TdFileHost TdFileHost;

TdFileHostConfig *td_file_host_config_new           (void);
TdFileHostConfig *td_file_host_config_copy          (const TdFileHostConfig *config);
void              td_file_host_config_free          (TdFileHostConfig       *config);

/* @recorder (the server database, nullable: metadata in memory only) and
 * @accounts (nullable: only anonymous uploads) are borrowed and must
 * outlive the host. */
TdFileHost       *td_file_host_new                  (const TdFileHostConfig *config,
                                                     TdRecorder             *recorder,
                                                     TdIrcAccounts          *accounts);
gboolean          td_file_host_listen               (TdFileHost             *host,
                                                     GMainContext           *context,
                                                     const char             *address,
                                                     int                     port,
                                                     GError                **error);
guint16           td_file_host_get_port             (TdFileHost             *host);
const char       *td_file_host_get_url              (TdFileHost             *host);
gboolean          td_file_host_is_ready             (TdFileHost             *host);
guint             td_file_host_get_n_files          (TdFileHost             *host);
gint64            td_file_host_get_usage            (TdFileHost             *host,
                                                     const char             *account);
guint             td_file_host_clean_expired        (TdFileHost             *host);
guint             td_file_host_delete_account_files (TdFileHost             *host,
                                                     const char             *account);
void              td_file_host_stop                 (TdFileHost             *host);
void              td_file_host_free                 (TdFileHost             *host);

/* Offline: removes every file uploaded by @account from the database at
 * @db_path and from @data_dir (tidingsd must not be running). Returns the
 * number of uploads removed, or -1 with @error set. */
int               td_file_store_delete_account      (const char             *db_path,
                                                     const char             *data_dir,
                                                     const char             *account,
                                                     GError                **error);
/* The directory files go to for the database at @db_path. */
char             *td_file_store_dir_for_db          (const char             *db_path);

/* Helpers shared with the client and tests. */
const char       *td_file_sniff_type                (const guint8           *data,
                                                     gsize                   len,
                                                     gboolean                valid_text);
char             *td_file_sanitize_name             (const char             *name,
                                                     const char             *type);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdFileHostConfig, td_file_host_config_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdFileHost, td_file_host_free)

G_END_DECLS
