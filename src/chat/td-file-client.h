/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <gdk-pixbuf/gdk-pixbuf.h>

#include "core/td-mailbox.h"

G_BEGIN_DECLS

/*
 * TdFileClient: the client half of files in chat, for the Chat view.
 *
 * Every request runs on the task loop (never on the caller's thread) with
 * one shared SoupSession, and is answered exactly once by mail to the
 * caller's reply mailbox: a TdTaskResult (see core/td-task-loop.h) whose
 * task_data is the TdFileRequest and whose result is a
 * TdFileUploadResult, TdFileDownloadResult or TdFileThumbnail, or NULL
 * with error set (G_IO_ERROR_CANCELLED when cancelled, TD_FILE_ERROR or
 * a GIO/libsoup error otherwise). Progress, when asked for, is mailed as
 * TdFileProgress.
 *
 * Thumbnails: fetched (at most TD_FILE_THUMBNAIL_MAX_BYTES), checked by
 * magic bytes (PNG, JPEG, GIF, WebP when gdk-pixbuf has a loader), decoded
 * on the task loop with a pixel limit checked before any pixel buffer is
 * allocated, scaled to fit max_px, and cached on disk as PNG under
 * $XDG_CACHE_HOME/tidings/thumbnails, named by the SHA-256 of the URL.
 */

#define TD_FILE_ERROR (td_file_error_quark ())

typedef enum
{
  TD_FILE_ERROR_HTTP,             /* the server refused: message is its own */
  TD_FILE_ERROR_BAD_RESPONSE,     /* not the answer a file host gives */
  TD_FILE_ERROR_INSECURE,         /* a password would go over plain HTTP to another host */
  TD_FILE_ERROR_INVALID_URL,
  TD_FILE_ERROR_TOO_LARGE,        /* more bytes than the limit */
  TD_FILE_ERROR_TOO_MANY_PIXELS,  /* an image larger than TD_FILE_THUMBNAIL_MAX_PIXELS */
  TD_FILE_ERROR_UNSUPPORTED,      /* not an image type we decode */
  TD_FILE_ERROR_MALFORMED,        /* an image that does not decode */
} TdFileError;

/* Images above 50 megapixels (a 200 MB pixel buffer) are not previewed:
 * larger than any camera photo, and a classic decompression bomb. */
#define TD_FILE_THUMBNAIL_MAX_PIXELS   (50 * 1000 * 1000)
/* Bytes fetched for a preview; the file host's own limit per file. */
#define TD_FILE_THUMBNAIL_MAX_BYTES    (25 * 1024 * 1024)
/* Largest thumbnail edge a caller may ask for. */
#define TD_FILE_THUMBNAIL_MAX_PX       1024
/* Bytes of a download when the caller gives no limit. */
#define TD_FILE_DOWNLOAD_DEFAULT_MAX   ((gint64) 1024 * 1024 * 1024)
/* Progress mail at most this often per request (and once at the end):
 * smooth for a progress bar, nothing for the main loop. */
#define TD_FILE_PROGRESS_INTERVAL_MS   50

typedef enum
{
  TD_FILE_REQUEST_UPLOAD,
  TD_FILE_REQUEST_DOWNLOAD,
  TD_FILE_REQUEST_THUMBNAIL,
} TdFileRequestKind;

/* The task data of every reply: read-only for the receiver. */
typedef struct
{
  guint64            id;          /* returned by the call that made it */
  TdFileRequestKind  kind;
  char              *url;         /* upload: the url_base; else the file's URL */
  char              *path;        /* upload source or download destination */
  char              *name;
  guint              max_px;      /* thumbnails */
  /*< private >*/
  char              *user;
  char              *password;
  char              *caption;
  GBytes            *bytes;
  gint64             max_size;
  TdMailboxId        progress_mailbox;
  guint              progress_kind;
  gpointer           client;      /* TdFileClientShared */
} TdFileRequest;

typedef struct
{
  guint64 id;
  gint64  done;     /* bytes sent or received */
  gint64  total;    /* -1 when unknown */
} TdFileProgress;

typedef struct
{
  char   *url;        /* what to post in chat */
  char   *name;       /* as stored (sanitized by the server) */
  char   *type;       /* sniffed by the server */
  char   *sha256;
  gint64  size;
} TdFileUploadResult;

typedef struct
{
  char   *path;
  char   *content_type;
  gint64  size;
} TdFileDownloadResult;

typedef struct
{
  GdkPixbuf *pixbuf;        /* at most max_px on its longer edge */
  int        width;         /* of the original image (0 when from the cache) */
  int        height;
  gboolean   from_cache;
  GThread   *decoded_on;    /* the worker that decoded it (tests) */
} TdFileThumbnail;

/* Arguments of td_file_client_upload(); copied by the call. */
typedef struct
{
  const char   *url_base;          /* the server's FILEHOST value */
  const char   *user;              /* NULL: anonymous */
  const char   *password;
  const char   *path;              /* the file to send, or NULL and bytes */
  GBytes       *bytes;
  const char   *name;              /* NULL: the basename of path */
  const char   *caption;           /* nullable */
  TdMailboxId   progress_mailbox;  /* TD_MAILBOX_NONE: no progress mail */
  guint         progress_kind;
  TdMailboxId   reply_mailbox;
  guint         reply_kind;
  GCancellable *cancellable;       /* nullable */
} TdFileUploadParams;

typedef enum
{
  TD_FILE_URL_NONE,    /* show as a plain link */
  TD_FILE_URL_IMAGE,   /* inline preview (td_file_thumbnail_request) */
  TD_FILE_URL_FILE,    /* a file on a known file host: a card with a Save button */
} TdFileUrlKind;

typedef struct _TdFileClient TdFileClient;

GQuark         td_file_error_quark              (void);

TdFileClient  *td_file_client_new               (const char               *cache_dir);
void           td_file_client_free              (TdFileClient             *client);
const char    *td_file_client_get_cache_dir     (TdFileClient             *client);

guint64        td_file_client_upload            (TdFileClient             *client,
                                                 const TdFileUploadParams *params);
guint64        td_file_client_download          (TdFileClient             *client,
                                                 const char               *url,
                                                 const char               *dest_path,
                                                 gint64                    max_size,
                                                 TdMailboxId               progress_mailbox,
                                                 guint                     progress_kind,
                                                 TdMailboxId               reply_mailbox,
                                                 guint                     reply_kind,
                                                 GCancellable             *cancellable);
guint64        td_file_thumbnail_request        (TdFileClient             *client,
                                                 const char               *url,
                                                 guint                     max_px,
                                                 TdMailboxId               reply_mailbox,
                                                 guint                     reply_kind,
                                                 GCancellable             *cancellable);

TdFileUrlKind  td_file_url_classify             (const char               *url,
                                                 const char *const        *file_hosts,
                                                 gboolean                  allow_unknown_hosts);
char          *td_file_url_get_name             (const char               *url);

void           td_file_upload_result_free       (TdFileUploadResult       *result);
void           td_file_download_result_free     (TdFileDownloadResult     *result);
void           td_file_thumbnail_free           (TdFileThumbnail          *thumbnail);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdFileClient, td_file_client_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdFileUploadResult, td_file_upload_result_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdFileDownloadResult, td_file_download_result_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdFileThumbnail, td_file_thumbnail_free)

G_END_DECLS
