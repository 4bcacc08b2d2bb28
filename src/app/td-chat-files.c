/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-chat-files"

#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "app/td-chat-files.h"
#include "core/td-mailbox.h"
#include "core/td-task-loop.h"

enum {
  MAIL_THUMBNAIL = 1,
  MAIL_UPLOAD,
  MAIL_UPLOAD_PROGRESS,
  MAIL_DOWNLOAD,
  MAIL_PREVIEW,
  MAIL_PNG,
};

typedef struct
{
  TdChatThumbnailState  state;
  GdkTexture           *texture;   /* owned, when READY */
  char                 *error;     /* owned, when FAILED */
} Thumb;

struct _TdChatFiles
{
  GObject       parent_instance;

  TdFileClient *client;       /* owned */
  TdMailboxId   mailbox;
  GHashTable   *hosts;        /* network name -> FILEHOST URL */
  GHashTable   *thumbs;       /* URL -> Thumb */
  GQueue        ready_order;  /* URLs (owned by thumbs' keys) of READY thumbs, oldest first */
  GHashTable   *sizes;        /* URL -> gint64* */
  GCancellable *cancellable;  /* thumbnails; cancelled at dispose */
  gboolean      allow_unknown;
};

G_DEFINE_FINAL_TYPE (TdChatFiles, td_chat_files, G_TYPE_OBJECT)

enum {
  HOSTS_CHANGED,
  THUMBNAIL_CHANGED,
  UPLOAD_PROGRESS,
  UPLOAD_FINISHED,
  DOWNLOAD_FINISHED,
  PREVIEW_LOADED,
  PNG_ENCODED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* ------------------------------------------------------------------ */
/* Local work: a preview of a file about to be sent, a pasted image    */
/* ------------------------------------------------------------------ */

static gint next_local_id = 1 << 30;   /* apart from the file client's ids */

typedef struct
{
  guint64  id;
  char    *path;
} PreviewRequest;

typedef struct
{
  GdkPixbuf *pixbuf;        /* NULL when not an image we preview */
  gint64     size;
  char      *content_type;
} PreviewResult;

static void
preview_request_free (PreviewRequest *request)
{
  g_free (request->path);
  g_free (request);
}

static void
preview_result_free (PreviewResult *result)
{
  g_clear_object (&result->pixbuf);
  g_free (result->content_type);
  g_free (result);
}

/* Size, type and (for the image types a preview decodes) a thumbnail of
 * a local file, with the same pixel limit as previews of links. */
static gpointer
preview_worker (TdTask        *task,
                gpointer       task_data,
                GCancellable  *cancellable,
                GError       **error)
{
  PreviewRequest *request = task_data;
  g_autoptr(GFile) file = g_file_new_for_path (request->path);
  g_autoptr(GFileInfo) info = NULL;
  PreviewResult *result;
  const char *type;
  int width = 0, height = 0;

  info = g_file_query_info (file, G_FILE_ATTRIBUTE_STANDARD_SIZE "," G_FILE_ATTRIBUTE_STANDARD_TYPE ","
                            G_FILE_ATTRIBUTE_STANDARD_CONTENT_TYPE, G_FILE_QUERY_INFO_NONE, cancellable, error);
  if (info == NULL)
    return NULL;
  if (g_file_info_get_file_type (info) != G_FILE_TYPE_REGULAR)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE, _("%s is not a file"), request->path);
      return NULL;
    }
  result = g_new0 (PreviewResult, 1);
  result->size = g_file_info_get_size (info);
  type = g_file_info_get_content_type (info);
  result->content_type = g_strdup (type ? type : "application/octet-stream");
  if (g_content_type_is_a (result->content_type, "image/png") ||
      g_content_type_is_a (result->content_type, "image/jpeg") ||
      g_content_type_is_a (result->content_type, "image/gif") ||
      g_content_type_is_a (result->content_type, "image/webp"))
    {
      /* The header first: a decompression bomb is refused before any
       * pixel buffer exists. A file that does not decode is sent as a
       * file all the same. */
      if (gdk_pixbuf_get_file_info (request->path, &width, &height) != NULL &&
          width > 0 && height > 0 && (gint64) width * height <= TD_FILE_THUMBNAIL_MAX_PIXELS)
        result->pixbuf = gdk_pixbuf_new_from_file_at_scale (request->path, TD_CHAT_FILES_ATTACH_PX,
                                                            TD_CHAT_FILES_ATTACH_PX, TRUE, NULL);
    }
  return result;
}

typedef struct
{
  guint64  id;
  GBytes  *pixels;   /* GDK_MEMORY_DEFAULT */
  int      width;
  int      height;
  gsize    stride;
} PngRequest;

static void
png_request_free (PngRequest *request)
{
  g_bytes_unref (request->pixels);
  g_free (request);
}

typedef struct
{
  GBytes    *png;
  GdkPixbuf *thumbnail;    /* at most TD_CHAT_FILES_ATTACH_PX */
} PngResult;

static void
png_result_free (PngResult *result)
{
  g_clear_pointer (&result->png, g_bytes_unref);
  g_clear_object (&result->thumbnail);
  g_free (result);
}

/* The texture made here is this worker's own: nothing else touches it. */
static gpointer
png_worker (TdTask        *task,
            gpointer       task_data,
            GCancellable  *cancellable,
            GError       **error)
{
  PngRequest *request = task_data;
  g_autoptr(GdkTexture) texture = gdk_memory_texture_new (request->width, request->height, GDK_MEMORY_DEFAULT,
                                                          request->pixels, request->stride);
  g_autoptr(GInputStream) stream = NULL;
  PngResult *result;
  GBytes *png = gdk_texture_save_to_png_bytes (texture);

  if (png == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, _("The image could not be saved as PNG"));
      return NULL;
    }
  result = g_new0 (PngResult, 1);
  result->png = png;
  stream = g_memory_input_stream_new_from_bytes (png);
  result->thumbnail = gdk_pixbuf_new_from_stream_at_scale (stream, TD_CHAT_FILES_ATTACH_PX, TD_CHAT_FILES_ATTACH_PX,
                                                           TRUE, cancellable, NULL);
  return result;
}

/* ------------------------------------------------------------------ */
/* Mail                                                                */
/* ------------------------------------------------------------------ */

static void
thumb_free (Thumb *thumb)
{
  g_clear_object (&thumb->texture);
  g_free (thumb->error);
  g_free (thumb);
}

static void
handle_thumbnail (TdChatFiles  *self,
                  TdTaskResult *result)
{
  TdFileRequest *request = result->task_data;
  TdFileThumbnail *thumbnail = result->result;
  char *url = NULL;
  Thumb *thumb = NULL;

  if (!g_hash_table_lookup_extended (self->thumbs, request->url, (gpointer *) &url, (gpointer *) &thumb) ||
      thumb->state != TD_CHAT_THUMBNAIL_LOADING)
    return;
  if (result->error != NULL && g_error_matches (result->error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_hash_table_remove (self->thumbs, request->url);
      return;
    }
  if (thumbnail != NULL && thumbnail->pixbuf != NULL)
    {
      thumb->state = TD_CHAT_THUMBNAIL_READY;
      thumb->texture = gdk_texture_new_for_pixbuf (thumbnail->pixbuf);
      g_queue_push_tail (&self->ready_order, url);
      while (g_queue_get_length (&self->ready_order) > TD_CHAT_FILES_MAX_TEXTURES)
        {
          const char *oldest = g_queue_pop_head (&self->ready_order);

          g_hash_table_remove (self->thumbs, oldest);
        }
    }
  else
    {
      thumb->state = TD_CHAT_THUMBNAIL_FAILED;
      thumb->error = g_strdup (result->error ? result->error->message : _("No preview"));
      g_debug ("No preview of %s: %s", request->url, thumb->error);
    }
  g_signal_emit (self, signals[THUMBNAIL_CHANGED], 0, request->url);
}

static void
files_mail_cb (TdMailboxId  id,
               TdMail      *mail,
               gpointer     user_data)
{
  TdChatFiles *self = user_data;
  TdTaskResult *result = mail->data;

  switch (mail->kind)
    {
    case MAIL_THUMBNAIL:
      handle_thumbnail (self, result);
      break;

    case MAIL_UPLOAD_PROGRESS:
      {
        TdFileProgress *progress = mail->data;

        g_signal_emit (self, signals[UPLOAD_PROGRESS], 0, progress->id, progress->done, progress->total);
      }
      break;

    case MAIL_UPLOAD:
      {
        TdFileRequest *request = result->task_data;
        TdFileUploadResult *upload = result->result;

        if (upload != NULL)
          td_chat_files_note_size (self, upload->url, upload->size);
        g_signal_emit (self, signals[UPLOAD_FINISHED], 0, request->id, upload, result->error);
      }
      break;

    case MAIL_DOWNLOAD:
      {
        TdFileRequest *request = result->task_data;

        g_signal_emit (self, signals[DOWNLOAD_FINISHED], 0, request->id, request->path, result->error);
      }
      break;

    case MAIL_PREVIEW:
      {
        PreviewRequest *request = result->task_data;
        PreviewResult *preview = result->result;
        g_autoptr(GdkTexture) texture = NULL;

        if (preview != NULL && preview->pixbuf != NULL)
          texture = gdk_texture_new_for_pixbuf (preview->pixbuf);
        g_signal_emit (self, signals[PREVIEW_LOADED], 0, request->id, texture,
                       preview ? preview->size : (gint64) -1,
                       preview ? preview->content_type : NULL, result->error);
      }
      break;

    case MAIL_PNG:
      {
        PngRequest *request = result->task_data;
        PngResult *png = result->result;
        g_autoptr(GdkTexture) texture = png && png->thumbnail ? gdk_texture_new_for_pixbuf (png->thumbnail) : NULL;

        g_signal_emit (self, signals[PNG_ENCODED], 0, request->id, png ? png->png : NULL, texture, result->error);
      }
      break;

    default:
      break;
    }
}

/* ------------------------------------------------------------------ */
/* Lifecycle                                                           */
/* ------------------------------------------------------------------ */

static void
td_chat_files_dispose (GObject *object)
{
  TdChatFiles *self = TD_CHAT_FILES (object);

  if (self->cancellable != NULL)
    g_cancellable_cancel (self->cancellable);
  /* Replies still on their way are dropped with the mailbox. */
  if (self->mailbox != TD_MAILBOX_NONE)
    {
      td_mailbox_close (self->mailbox);
      self->mailbox = TD_MAILBOX_NONE;
    }
  g_queue_clear (&self->ready_order);
  if (self->thumbs != NULL)
    g_hash_table_remove_all (self->thumbs);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (td_chat_files_parent_class)->dispose (object);
}

static void
td_chat_files_finalize (GObject *object)
{
  TdChatFiles *self = TD_CHAT_FILES (object);

  g_clear_pointer (&self->client, td_file_client_free);
  g_clear_pointer (&self->hosts, g_hash_table_unref);
  g_clear_pointer (&self->thumbs, g_hash_table_unref);
  g_clear_pointer (&self->sizes, g_hash_table_unref);

  G_OBJECT_CLASS (td_chat_files_parent_class)->finalize (object);
}

static void
td_chat_files_class_init (TdChatFilesClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = td_chat_files_dispose;
  object_class->finalize = td_chat_files_finalize;

  /* A network's file host, or whether unknown hosts are previewed,
   * changed: links may be shown differently. */
  signals[HOSTS_CHANGED] =
    g_signal_new ("hosts-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  /* The thumbnail of the URL is ready or failed. */
  signals[THUMBNAIL_CHANGED] =
    g_signal_new ("thumbnail-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  /* id, bytes sent, bytes in all (-1 unknown). */
  signals[UPLOAD_PROGRESS] =
    g_signal_new ("upload-progress", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 3, G_TYPE_UINT64, G_TYPE_INT64, G_TYPE_INT64);
  /* id, the TdFileUploadResult (borrowed; NULL on error), the error. */
  signals[UPLOAD_FINISHED] =
    g_signal_new ("upload-finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 3, G_TYPE_UINT64, G_TYPE_POINTER, G_TYPE_ERROR);
  /* id, the destination, the error (NULL: saved). */
  signals[DOWNLOAD_FINISHED] =
    g_signal_new ("download-finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 3, G_TYPE_UINT64, G_TYPE_STRING, G_TYPE_ERROR);
  /* id, a thumbnail (NULL: not an image we preview), size, content
   * type, the error (the file cannot be read). */
  signals[PREVIEW_LOADED] =
    g_signal_new ("preview-loaded", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 5, G_TYPE_UINT64, GDK_TYPE_TEXTURE,
                  G_TYPE_INT64, G_TYPE_STRING, G_TYPE_ERROR);
  /* id, the PNG (NULL on error), a thumbnail of it (nullable), the
   * error. */
  signals[PNG_ENCODED] =
    g_signal_new ("png-encoded", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 4, G_TYPE_UINT64, G_TYPE_BYTES, GDK_TYPE_TEXTURE, G_TYPE_ERROR);
}

static void
td_chat_files_init (TdChatFiles *self)
{
  self->hosts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->thumbs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) thumb_free);
  self->sizes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->cancellable = g_cancellable_new ();
  self->mailbox = td_mailbox_open (g_main_context_default (), G_PRIORITY_DEFAULT, files_mail_cb, self, NULL);
}

/* ------------------------------------------------------------------ */
/* Public API                                                          */
/* ------------------------------------------------------------------ */

/* @cache_dir: where thumbnails are cached on disk; NULL for the user's
 * cache directory. */
TdChatFiles *
td_chat_files_new (const char *cache_dir)
{
  TdChatFiles *self = g_object_new (TD_TYPE_CHAT_FILES, NULL);

  self->client = td_file_client_new (cache_dir);
  return self;
}

TdFileClient *
td_chat_files_get_client (TdChatFiles *self)
{
  g_return_val_if_fail (TD_IS_CHAT_FILES (self), NULL);
  return self->client;
}

/* @url: the network's FILEHOST, or NULL when it has none. */
void
td_chat_files_set_host (TdChatFiles *self,
                        const char  *network,
                        const char  *url)
{
  g_return_if_fail (TD_IS_CHAT_FILES (self));
  g_return_if_fail (network != NULL);

  if (g_strcmp0 (g_hash_table_lookup (self->hosts, network), url) == 0)
    return;
  if (url != NULL)
    g_hash_table_replace (self->hosts, g_strdup (network), g_strdup (url));
  else
    g_hash_table_remove (self->hosts, network);
  g_signal_emit (self, signals[HOSTS_CHANGED], 0);
}

const char *
td_chat_files_get_host (TdChatFiles *self,
                        const char  *network)
{
  g_return_val_if_fail (TD_IS_CHAT_FILES (self), NULL);
  return network ? g_hash_table_lookup (self->hosts, network) : NULL;
}

gboolean
td_chat_files_get_allow_unknown (TdChatFiles *self)
{
  g_return_val_if_fail (TD_IS_CHAT_FILES (self), FALSE);
  return self->allow_unknown;
}

void
td_chat_files_set_allow_unknown (TdChatFiles *self,
                                 gboolean     allow)
{
  g_return_if_fail (TD_IS_CHAT_FILES (self));

  if (self->allow_unknown == !!allow)
    return;
  self->allow_unknown = !!allow;
  g_signal_emit (self, signals[HOSTS_CHANGED], 0);
}

/* How a link in a line of @network is shown: the network's own file host
 * is known; images elsewhere only when the user allows unknown hosts. */
TdFileUrlKind
td_chat_files_classify (TdChatFiles *self,
                        const char  *network,
                        const char  *url)
{
  const char *hosts[2] = { NULL, NULL };

  g_return_val_if_fail (TD_IS_CHAT_FILES (self), TD_FILE_URL_NONE);

  hosts[0] = td_chat_files_get_host (self, network);
  return td_file_url_classify (url, hosts, self->allow_unknown);
}

/* The thumbnail of @url: asked for on the first call, READY with
 * @texture (borrowed) or FAILED with @error (borrowed) once the task loop
 * has answered ("thumbnail-changed" tells when). */
TdChatThumbnailState
td_chat_files_get_thumbnail (TdChatFiles  *self,
                             const char   *url,
                             GdkTexture  **texture,
                             const char  **error)
{
  Thumb *thumb;

  g_return_val_if_fail (TD_IS_CHAT_FILES (self), TD_CHAT_THUMBNAIL_NONE);
  g_return_val_if_fail (url != NULL, TD_CHAT_THUMBNAIL_NONE);

  if (texture != NULL)
    *texture = NULL;
  if (error != NULL)
    *error = NULL;
  thumb = g_hash_table_lookup (self->thumbs, url);
  if (thumb == NULL)
    {
      thumb = g_new0 (Thumb, 1);
      thumb->state = TD_CHAT_THUMBNAIL_LOADING;
      g_hash_table_insert (self->thumbs, g_strdup (url), thumb);
      td_file_thumbnail_request (self->client, url, TD_CHAT_FILES_THUMBNAIL_PX, self->mailbox, MAIL_THUMBNAIL,
                                 self->cancellable);
    }
  if (texture != NULL)
    *texture = thumb->texture;
  if (error != NULL)
    *error = thumb->error;
  return thumb->state;
}

/* Remembers the size of a file the user uploaded, for its card. */
void
td_chat_files_note_size (TdChatFiles *self,
                         const char  *url,
                         gint64       size)
{
  g_return_if_fail (TD_IS_CHAT_FILES (self));

  if (url != NULL && size >= 0)
    g_hash_table_replace (self->sizes, g_strdup (url), g_memdup2 (&size, sizeof size));
}

/* The size of the file at @url, or -1 when not known. */
gint64
td_chat_files_get_size (TdChatFiles *self,
                        const char  *url)
{
  gint64 *size;

  g_return_val_if_fail (TD_IS_CHAT_FILES (self), -1);
  size = url ? g_hash_table_lookup (self->sizes, url) : NULL;
  return size ? *size : -1;
}

/* Uploads @path or @bytes to the file host at @url_base; "upload-progress"
 * and then "upload-finished" follow with the returned id. */
guint64
td_chat_files_upload (TdChatFiles  *self,
                      const char   *url_base,
                      const char   *user,
                      const char   *password,
                      const char   *path,
                      GBytes       *bytes,
                      const char   *name,
                      GCancellable *cancellable)
{
  TdFileUploadParams params = { 0 };

  g_return_val_if_fail (TD_IS_CHAT_FILES (self), 0);
  g_return_val_if_fail (url_base != NULL, 0);

  params.url_base = url_base;
  params.user = user;
  params.password = password;
  params.path = path;
  params.bytes = bytes;
  params.name = name;
  params.progress_mailbox = self->mailbox;
  params.progress_kind = MAIL_UPLOAD_PROGRESS;
  params.reply_mailbox = self->mailbox;
  params.reply_kind = MAIL_UPLOAD;
  params.cancellable = cancellable;
  return td_file_client_upload (self->client, &params);
}

/* Saves @url as @dest_path; "download-finished" follows. */
guint64
td_chat_files_download (TdChatFiles  *self,
                        const char   *url,
                        const char   *dest_path,
                        GCancellable *cancellable)
{
  g_return_val_if_fail (TD_IS_CHAT_FILES (self), 0);

  return td_file_client_download (self->client, url, dest_path, 0, TD_MAILBOX_NONE, 0,
                                  self->mailbox, MAIL_DOWNLOAD, cancellable);
}

/* Reads the size and type of the local file @path, and a thumbnail when
 * it is an image, on the task loop; "preview-loaded" follows. */
guint64
td_chat_files_load_preview (TdChatFiles  *self,
                            const char   *path,
                            GCancellable *cancellable)
{
  PreviewRequest *request;
  TdTask *task;

  g_return_val_if_fail (TD_IS_CHAT_FILES (self), 0);
  g_return_val_if_fail (path != NULL, 0);

  request = g_new0 (PreviewRequest, 1);
  request->id = (guint64) g_atomic_int_add (&next_local_id, 1);
  request->path = g_strdup (path);
  task = td_task_new (preview_worker, request, (GDestroyNotify) preview_request_free,
                      (GDestroyNotify) preview_result_free);
  td_task_set_reply (task, self->mailbox, MAIL_PREVIEW);
  if (cancellable != NULL)
    td_task_set_cancellable (task, cancellable);
  td_task_loop_push_front (td_task_loop_get_default (), task);
  return request->id;
}

/* Encodes @texture (a pasted image) as PNG, and makes a thumbnail of it,
 * on the task loop; "png-encoded" follows. Returns 0 (and encodes nothing) when the image
 * is larger than any preview may be. The pixels are copied here, on the
 * caller's thread, because a texture belongs to the thread that made it. */
guint64
td_chat_files_encode_png (TdChatFiles  *self,
                          GdkTexture   *texture,
                          GCancellable *cancellable)
{
  PngRequest *request;
  TdTask *task;
  int width, height;
  guchar *pixels;
  guint64 id;

  g_return_val_if_fail (TD_IS_CHAT_FILES (self), 0);
  g_return_val_if_fail (GDK_IS_TEXTURE (texture), 0);

  width = gdk_texture_get_width (texture);
  height = gdk_texture_get_height (texture);
  if (width <= 0 || height <= 0 || (gint64) width * height > TD_FILE_THUMBNAIL_MAX_PIXELS)
    return 0;
  request = g_new0 (PngRequest, 1);
  request->id = id = (guint64) g_atomic_int_add (&next_local_id, 1);
  request->width = width;
  request->height = height;
  request->stride = (gsize) width * 4;
  pixels = g_malloc (request->stride * height);
  gdk_texture_download (texture, pixels, request->stride);
  request->pixels = g_bytes_new_take (pixels, request->stride * height);
  task = td_task_new (png_worker, request, (GDestroyNotify) png_request_free, (GDestroyNotify) png_result_free);
  td_task_set_reply (task, self->mailbox, MAIL_PNG);
  if (cancellable != NULL)
    td_task_set_cancellable (task, cancellable);
  td_task_loop_push_front (td_task_loop_get_default (), task);
  return id;
}
