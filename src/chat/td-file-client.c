/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-file-client"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "chat/td-file-client.h"
#include "core/td-task-loop.h"

/*
 * Every request is a task-loop task that uses the shared SoupSession with
 * libsoup's blocking API: since libsoup 3.2 messages may be sent from any
 * thread, and a worker is where blocking belongs. The session is
 * configured once, on the thread that creates the client.
 */

/* Bytes read per call while streaming a body. */
#define TD_FILE_CLIENT_READ_CHUNK       (64 * 1024)
/* A file host's JSON answer is a few hundred bytes; anything much larger
 * is not one. */
#define TD_FILE_CLIENT_MAX_REPLY        (64 * 1024)
/* No byte for this long: the peer is gone. */
#define TD_FILE_CLIENT_IO_TIMEOUT_S     30
#define TD_FILE_CLIENT_USER_AGENT       "Tidings/" PACKAGE_VERSION

G_DEFINE_QUARK (td-file-error-quark, td_file_error)

typedef struct
{
  gint         ref_count;
  SoupSession *session;
  char        *cache_dir;
} Shared;

struct _TdFileClient
{
  Shared *shared;
};

static gint next_request_id;

static Shared *
shared_ref (Shared *shared)
{
  g_atomic_int_inc (&shared->ref_count);
  return shared;
}

static void
shared_unref (Shared *shared)
{
  if (!g_atomic_int_dec_and_test (&shared->ref_count))
    return;
  g_object_unref (shared->session);
  g_free (shared->cache_dir);
  g_free (shared);
}

/* ------------------------------------------------------------------ */
/* Results and requests                                                */
/* ------------------------------------------------------------------ */

void
td_file_upload_result_free (TdFileUploadResult *result)
{
  if (result == NULL)
    return;
  g_free (result->url);
  g_free (result->name);
  g_free (result->type);
  g_free (result->sha256);
  g_free (result);
}

void
td_file_download_result_free (TdFileDownloadResult *result)
{
  if (result == NULL)
    return;
  g_free (result->path);
  g_free (result->content_type);
  g_free (result);
}

void
td_file_thumbnail_free (TdFileThumbnail *thumbnail)
{
  if (thumbnail == NULL)
    return;
  g_clear_object (&thumbnail->pixbuf);
  g_free (thumbnail);
}

static void
request_free (gpointer data)
{
  TdFileRequest *request = data;

  g_free (request->url);
  g_free (request->path);
  g_free (request->name);
  g_free (request->user);
  if (request->password != NULL)
    memset (request->password, 0, strlen (request->password));
  g_free (request->password);
  g_free (request->caption);
  g_clear_pointer (&request->bytes, g_bytes_unref);
  g_clear_pointer (&request->client, shared_unref);
  g_free (request);
}

static TdFileRequest *
request_new (TdFileClient      *client,
             TdFileRequestKind  kind,
             const char        *url)
{
  TdFileRequest *request = g_new0 (TdFileRequest, 1);

  request->id = (guint) g_atomic_int_add (&next_request_id, 1) + 1;
  request->kind = kind;
  request->url = g_strdup (url);
  request->client = shared_ref (client->shared);
  return request;
}

static guint64
request_push (TdFileRequest  *request,
              TdTaskFunc      func,
              GDestroyNotify  result_destroy,
              TdMailboxId     reply_mailbox,
              guint           reply_kind,
              GCancellable   *cancellable)
{
  guint64 id = request->id;
  TdTask *task = td_task_new (func, request, request_free, result_destroy);

  td_task_set_reply (task, reply_mailbox, reply_kind);
  if (cancellable != NULL)
    td_task_set_cancellable (task, cancellable);
  /* Previews and transfers are what the user is looking at now. */
  td_task_loop_push_front (td_task_loop_get_default (), task);
  return id;
}

/* ------------------------------------------------------------------ */
/* Progress                                                            */
/* ------------------------------------------------------------------ */

typedef struct
{
  TdFileRequest *request;
  gint64         done;
  gint64         total;
  gint64         last_sent;   /* monotonic usec of the last mail */
} Progress;

static void
progress_report (Progress *progress,
                 gboolean  final)
{
  gint64 now = g_get_monotonic_time ();
  TdFileProgress *mail;

  if (progress->request->progress_mailbox == TD_MAILBOX_NONE)
    return;
  if (!final && now - progress->last_sent < TD_FILE_PROGRESS_INTERVAL_MS * 1000)
    return;
  progress->last_sent = now;
  mail = g_new0 (TdFileProgress, 1);
  mail->id = progress->request->id;
  mail->done = progress->done;
  mail->total = progress->total;
  td_mail_send_new (progress->request->progress_mailbox, progress->request->progress_kind, mail, g_free);
}

/* ------------------------------------------------------------------ */
/* HTTP helpers                                                        */
/* ------------------------------------------------------------------ */

static gboolean
host_is_loopback (const char *host)
{
  g_autoptr(GInetAddress) inet = NULL;

  if (host == NULL)
    return FALSE;
  if (g_ascii_strcasecmp (host, "localhost") == 0)
    return TRUE;
  inet = g_inet_address_new_from_string (host);
  return inet != NULL && g_inet_address_get_is_loopback (inet);
}

/* Parses @url as an http(s) URL. */
static GUri *
parse_http_url (const char  *url,
                GError     **error)
{
  g_autoptr(GUri) uri = url ? g_uri_parse (url, SOUP_HTTP_URI_FLAGS, NULL) : NULL;

  if (uri == NULL || g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0' ||
      (g_strcmp0 (g_uri_get_scheme (uri), "http") != 0 && g_strcmp0 (g_uri_get_scheme (uri), "https") != 0))
    {
      g_set_error (error, TD_FILE_ERROR, TD_FILE_ERROR_INVALID_URL, "Not an http(s) URL: %s",
                   url ? url : "(none)");
      return NULL;
    }
  return g_steal_pointer (&uri);
}

/* Reads at most @max bytes of @stream; more is TD_FILE_ERROR_TOO_LARGE. */
static GBytes *
read_all (GInputStream  *stream,
          gsize          max,
          Progress      *progress,
          GCancellable  *cancellable,
          GError       **error)
{
  g_autoptr(GByteArray) data = g_byte_array_new ();

  for (;;)
    {
      guint8 buf[TD_FILE_CLIENT_READ_CHUNK];
      gssize n = g_input_stream_read (stream, buf, sizeof buf, cancellable, error);

      if (n < 0)
        return NULL;
      if (n == 0)
        break;
      if (data->len + (gsize) n > max)
        {
          g_set_error (error, TD_FILE_ERROR, TD_FILE_ERROR_TOO_LARGE,
                       "More than %" G_GSIZE_FORMAT " bytes", max);
          return NULL;
        }
      g_byte_array_append (data, buf, n);
      if (progress != NULL)
        {
          progress->done += n;
          progress_report (progress, FALSE);
        }
    }
  return g_byte_array_free_to_bytes (g_steal_pointer (&data));
}

/* An error for a non-2xx answer, with the file host's own message when
 * it sent one. */
static void
set_http_error (GError      **error,
                SoupMessage  *msg,
                GBytes       *body)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  const char *message = NULL;

  if (body != NULL && g_bytes_get_size (body) > 0 &&
      json_parser_load_from_data (parser, g_bytes_get_data (body, NULL), g_bytes_get_size (body), NULL) &&
      JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    message = json_object_get_string_member_with_default (json_node_get_object (json_parser_get_root (parser)),
                                                          "message", NULL);
  g_set_error (error, TD_FILE_ERROR, TD_FILE_ERROR_HTTP, "%u %s%s%s",
               soup_message_get_status (msg), soup_message_get_reason_phrase (msg),
               message ? ": " : "", message ? message : "");
}

/* Sends @msg and returns the body stream of a 2xx answer; otherwise
 * reads what the server said and sets @error. */
static GInputStream *
send_checked (Shared        *shared,
              SoupMessage   *msg,
              GCancellable  *cancellable,
              GError       **error)
{
  g_autoptr(GInputStream) stream = soup_session_send (shared->session, msg, cancellable, error);
  g_autoptr(GBytes) body = NULL;

  if (stream == NULL)
    return NULL;
  if (SOUP_STATUS_IS_SUCCESSFUL (soup_message_get_status (msg)))
    return g_steal_pointer (&stream);
  body = read_all (stream, TD_FILE_CLIENT_MAX_REPLY, NULL, cancellable, NULL);
  set_http_error (error, msg, body);
  return NULL;
}

/* ------------------------------------------------------------------ */
/* Upload                                                              */
/* ------------------------------------------------------------------ */

static void
wrote_body_data_cb (SoupMessage *msg,
                    guint        chunk_size,
                    gpointer     user_data)
{
  Progress *progress = user_data;

  progress->done += chunk_size;
  progress_report (progress, FALSE);
}

/* A filename for a quoted-string: the server sanitizes it anyway; this
 * only keeps the header well-formed. */
static char *
quote_filename (const char *name)
{
  g_autoptr(GString) out = g_string_new (NULL);

  for (const char *p = name; *p != '\0'; p++)
    {
      if (*p == '"')
        g_string_append (out, "%22");
      else if (*p == '\\')
        g_string_append (out, "%5C");
      else if ((guchar) *p < 0x20 || *p == 0x7f)
        g_string_append_c (out, ' ');
      else
        g_string_append_c (out, *p);
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static gpointer
upload_worker (TdTask        *task,
               gpointer       task_data,
               GCancellable  *cancellable,
               GError       **error)
{
  TdFileRequest *request = task_data;
  Shared *shared = request->client;
  g_autoptr(GUri) base = NULL;
  g_autoptr(GMappedFile) mapped = NULL;
  g_autoptr(GBytes) content = NULL;
  g_autoptr(GInputStream) body = NULL;
  g_autoptr(GInputStream) reply = NULL;
  g_autoptr(GBytes) reply_bytes = NULL;
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(JsonParser) parser = NULL;
  g_autofree char *boundary = NULL;
  g_autofree char *head = NULL;
  g_autofree char *tail = NULL;
  g_autofree char *filename = NULL;
  g_autofree char *upload_url = NULL;
  g_autofree char *base_url = NULL;
  g_autoptr(TdFileUploadResult) result = NULL;
  g_autoptr(GString) caption = g_string_new (NULL);
  JsonObject *object;
  Progress progress = { request, 0, 0, 0 };
  gint64 length;

  base_url = g_strdup (request->url);
  while (base_url != NULL && g_str_has_suffix (base_url, "/"))
    base_url[strlen (base_url) - 1] = '\0';
  base = parse_http_url (base_url, error);
  if (base == NULL)
    return NULL;
  if (request->user != NULL && g_str_equal (g_uri_get_scheme (base), "http") &&
      !host_is_loopback (g_uri_get_host (base)))
    {
      g_set_error (error, TD_FILE_ERROR, TD_FILE_ERROR_INSECURE,
                   "The file host %s is not encrypted; your password would be readable on the way",
                   g_uri_get_host (base));
      return NULL;
    }

  if (request->bytes != NULL)
    content = g_bytes_ref (request->bytes);
  else
    {
      mapped = g_mapped_file_new (request->path, FALSE, error);
      if (mapped == NULL)
        return NULL;
      content = g_mapped_file_get_bytes (mapped);
    }

  boundary = g_strdup_printf ("tidings-%08x%08x", g_random_int (), g_random_int ());
  filename = quote_filename (request->name);
  if (request->caption != NULL && *request->caption != '\0')
    g_string_append_printf (caption, "--%s\r\nContent-Disposition: form-data; name=\"caption\"\r\n\r\n%s\r\n",
                            boundary, request->caption);
  head = g_strdup_printf ("%s--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
                          "Content-Type: application/octet-stream\r\n\r\n", caption->str, boundary, filename);
  tail = g_strdup_printf ("\r\n--%s--\r\n", boundary);
  body = g_memory_input_stream_new ();
  g_memory_input_stream_add_data (G_MEMORY_INPUT_STREAM (body), g_strdup (head), -1, g_free);
  g_memory_input_stream_add_bytes (G_MEMORY_INPUT_STREAM (body), content);
  g_memory_input_stream_add_data (G_MEMORY_INPUT_STREAM (body), g_strdup (tail), -1, g_free);
  length = strlen (head) + g_bytes_get_size (content) + strlen (tail);

  upload_url = g_strconcat (base_url, "/upload", NULL);
  msg = soup_message_new (SOUP_METHOD_POST, upload_url);
  if (msg == NULL)
    {
      g_set_error (error, TD_FILE_ERROR, TD_FILE_ERROR_INVALID_URL, "Not an http(s) URL: %s", upload_url);
      return NULL;
    }
  {
    g_autofree char *type = g_strdup_printf ("multipart/form-data; boundary=%s", boundary);

    soup_message_set_request_body (msg, type, body, length);
  }
  /* A refusal (too large, quota, password) then comes before the body is
   * sent rather than after. */
  soup_message_headers_set_expectations (soup_message_get_request_headers (msg), SOUP_EXPECTATION_CONTINUE);
  if (request->user != NULL)
    {
      g_autofree char *pair = g_strdup_printf ("%s:%s", request->user, request->password ? request->password : "");
      g_autofree char *b64 = g_base64_encode ((const guchar *) pair, strlen (pair));
      g_autofree char *value = g_strconcat ("Basic ", b64, NULL);

      soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization", value);
      memset (pair, 0, strlen (pair));
    }
  progress.total = length;
  g_signal_connect (msg, "wrote-body-data", G_CALLBACK (wrote_body_data_cb), &progress);

  reply = send_checked (shared, msg, cancellable, error);
  g_signal_handlers_disconnect_by_data (msg, &progress);
  if (reply == NULL)
    return NULL;
  progress.done = progress.total;
  progress_report (&progress, TRUE);

  reply_bytes = read_all (reply, TD_FILE_CLIENT_MAX_REPLY, NULL, cancellable, error);
  if (reply_bytes == NULL)
    return NULL;
  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, g_bytes_get_data (reply_bytes, NULL),
                                   g_bytes_get_size (reply_bytes), NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      g_set_error_literal (error, TD_FILE_ERROR, TD_FILE_ERROR_BAD_RESPONSE, "The file host did not answer JSON");
      return NULL;
    }
  object = json_node_get_object (json_parser_get_root (parser));
  result = g_new0 (TdFileUploadResult, 1);
  result->url = g_strdup (json_object_get_string_member_with_default (object, "url", NULL));
  result->name = g_strdup (json_object_get_string_member_with_default (object, "name", NULL));
  result->type = g_strdup (json_object_get_string_member_with_default (object, "type", NULL));
  result->sha256 = g_strdup (json_object_get_string_member_with_default (object, "sha256", NULL));
  result->size = json_object_get_int_member_with_default (object, "size", -1);

  /* The link we post must be on the host we uploaded to. */
  {
    g_autoptr(GUri) url = result->url ? parse_http_url (result->url, NULL) : NULL;

    if (url == NULL || result->name == NULL ||
        g_strcmp0 (g_uri_get_scheme (url), g_uri_get_scheme (base)) != 0 ||
        g_ascii_strcasecmp (g_uri_get_host (url), g_uri_get_host (base)) != 0 ||
        g_uri_get_port (url) != g_uri_get_port (base))
      {
        g_set_error_literal (error, TD_FILE_ERROR, TD_FILE_ERROR_BAD_RESPONSE,
                             "The file host answered with a link to somewhere else");
        return NULL;
      }
  }
  return g_steal_pointer (&result);
}

/* Uploads a file (params->path) or bytes (params->bytes) to the file host
 * at params->url_base. Returns the request id; the reply is a
 * TdTaskResult with a TdFileUploadResult. */
guint64
td_file_client_upload (TdFileClient             *client,
                       const TdFileUploadParams *params)
{
  TdFileRequest *request;

  g_return_val_if_fail (client != NULL, 0);
  g_return_val_if_fail (params != NULL, 0);
  g_return_val_if_fail (params->url_base != NULL, 0);
  g_return_val_if_fail ((params->path != NULL) != (params->bytes != NULL), 0);

  request = request_new (client, TD_FILE_REQUEST_UPLOAD, params->url_base);
  request->path = g_strdup (params->path);
  request->bytes = params->bytes ? g_bytes_ref (params->bytes) : NULL;
  request->name = params->name ? g_strdup (params->name)
                  : params->path ? g_path_get_basename (params->path) : g_strdup ("file");
  request->user = g_strdup (params->user);
  request->password = g_strdup (params->password);
  request->caption = g_strdup (params->caption);
  request->progress_mailbox = params->progress_mailbox;
  request->progress_kind = params->progress_kind;
  return request_push (request, upload_worker, (GDestroyNotify) td_file_upload_result_free,
                       params->reply_mailbox, params->reply_kind, params->cancellable);
}

/* ------------------------------------------------------------------ */
/* Download                                                            */
/* ------------------------------------------------------------------ */

static gpointer
download_worker (TdTask        *task,
                 gpointer       task_data,
                 GCancellable  *cancellable,
                 GError       **error)
{
  TdFileRequest *request = task_data;
  g_autoptr(GUri) uri = parse_http_url (request->url, error);
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(GInputStream) stream = NULL;
  g_autoptr(TdFileDownloadResult) result = NULL;
  g_autofree char *tmp_path = NULL;
  Progress progress = { request, 0, -1, 0 };
  gint64 length;
  int fd;

  if (uri == NULL)
    return NULL;
  msg = soup_message_new_from_uri (SOUP_METHOD_GET, uri);
  stream = send_checked (request->client, msg, cancellable, error);
  if (stream == NULL)
    return NULL;
  length = soup_message_headers_get_content_length (soup_message_get_response_headers (msg));
  if (length > request->max_size)
    {
      g_set_error (error, TD_FILE_ERROR, TD_FILE_ERROR_TOO_LARGE, "The file is larger than %" G_GINT64_FORMAT " bytes",
                   request->max_size);
      return NULL;
    }
  progress.total = length > 0 ? length : -1;

  /* Written beside the destination, renamed into place when complete: a
   * cancelled or failed download leaves nothing. */
  tmp_path = g_strconcat (request->path, ".part-XXXXXX", NULL);
  fd = g_mkstemp_full (tmp_path, O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "%s: %s", request->path, g_strerror (saved));
      return NULL;
    }
  for (;;)
    {
      guint8 buf[TD_FILE_CLIENT_READ_CHUNK];
      gssize n = g_input_stream_read (stream, buf, sizeof buf, cancellable, error);
      gsize done = 0;

      if (n == 0)
        break;
      if (n > 0 && progress.done + n > request->max_size)
        g_set_error (error, TD_FILE_ERROR, TD_FILE_ERROR_TOO_LARGE,
                     "The file is larger than %" G_GINT64_FORMAT " bytes", request->max_size);
      while (n > 0 && progress.done + n <= request->max_size && done < (gsize) n)
        {
          gssize w = write (fd, buf + done, n - done);

          if (w < 0 && errno == EINTR)
            continue;
          if (w <= 0)
            {
              int saved = errno;

              g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "%s: %s",
                           request->path, g_strerror (saved));
              break;
            }
          done += w;
        }
      if (n < 0 || done < (gsize) n)
        {
          close (fd);
          g_unlink (tmp_path);
          return NULL;
        }
      progress.done += n;
      progress_report (&progress, FALSE);
    }
  if (close (fd) != 0 || g_rename (tmp_path, request->path) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "%s: %s", request->path, g_strerror (saved));
      g_unlink (tmp_path);
      return NULL;
    }
  progress_report (&progress, TRUE);
  result = g_new0 (TdFileDownloadResult, 1);
  result->path = g_strdup (request->path);
  result->content_type = g_strdup (soup_message_headers_get_content_type (soup_message_get_response_headers (msg), NULL));
  result->size = progress.done;
  return g_steal_pointer (&result);
}

/* Saves @url to @dest_path (replaced only once complete). @max_size <= 0
 * means TD_FILE_DOWNLOAD_DEFAULT_MAX. The reply carries a
 * TdFileDownloadResult. */
guint64
td_file_client_download (TdFileClient *client,
                         const char   *url,
                         const char   *dest_path,
                         gint64        max_size,
                         TdMailboxId   progress_mailbox,
                         guint         progress_kind,
                         TdMailboxId   reply_mailbox,
                         guint         reply_kind,
                         GCancellable *cancellable)
{
  TdFileRequest *request;

  g_return_val_if_fail (client != NULL, 0);
  g_return_val_if_fail (url != NULL && dest_path != NULL, 0);

  request = request_new (client, TD_FILE_REQUEST_DOWNLOAD, url);
  request->path = g_strdup (dest_path);
  request->name = td_file_url_get_name (url);
  request->max_size = max_size > 0 ? max_size : TD_FILE_DOWNLOAD_DEFAULT_MAX;
  request->progress_mailbox = progress_mailbox;
  request->progress_kind = progress_kind;
  return request_push (request, download_worker, (GDestroyNotify) td_file_download_result_free,
                       reply_mailbox, reply_kind, cancellable);
}

/* ------------------------------------------------------------------ */
/* Thumbnails                                                          */
/* ------------------------------------------------------------------ */

/* The gdk-pixbuf loader for bytes that start with @data, or NULL: only
 * the formats chat images come in, never whatever loader would claim the
 * bytes (SVG, XPM, TGA, ICNS ...). */
static const char *
image_loader_for (const guint8 *data,
                  gsize         len)
{
  if (len >= 8 && memcmp (data, "\x89PNG\r\n\x1a\n", 8) == 0)
    return "png";
  if (len >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)
    return "jpeg";
  if (len >= 6 && (memcmp (data, "GIF87a", 6) == 0 || memcmp (data, "GIF89a", 6) == 0))
    return "gif";
  if (len >= 12 && memcmp (data, "RIFF", 4) == 0 && memcmp (data + 8, "WEBP", 4) == 0)
    return "webp";
  return NULL;
}

typedef struct
{
  guint    max_px;
  int      width;
  int      height;
  gboolean too_big;
} SizeCheck;

/* Runs once the loader has read the image header, before any pixel
 * buffer exists: a 0x0 size makes the loader stop there. Otherwise the
 * loader scales as it decodes (JPEG even decodes at a smaller scale). */
static void
size_prepared_cb (GdkPixbufLoader *loader,
                  int              width,
                  int              height,
                  gpointer         user_data)
{
  SizeCheck *check = user_data;
  double scale;

  check->width = width;
  check->height = height;
  if (width <= 0 || height <= 0 || (gint64) width * height > TD_FILE_THUMBNAIL_MAX_PIXELS)
    {
      check->too_big = TRUE;
      gdk_pixbuf_loader_set_size (loader, 0, 0);
      return;
    }
  scale = MIN (1.0, (double) check->max_px / MAX (width, height));
  gdk_pixbuf_loader_set_size (loader, MAX (1, (int) (width * scale + 0.5)), MAX (1, (int) (height * scale + 0.5)));
}

/* Decodes @bytes into a pixbuf that fits @max_px. */
static GdkPixbuf *
decode_image (GBytes     *bytes,
              guint       max_px,
              SizeCheck  *check,
              GError    **error)
{
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  const char *type = image_loader_for (data, len);
  g_autoptr(GdkPixbufLoader) loader = NULL;
  g_autoptr(GError) local_error = NULL;
  GdkPixbuf *pixbuf;
  gboolean ok;

  if (type == NULL)
    {
      g_set_error_literal (error, TD_FILE_ERROR, TD_FILE_ERROR_UNSUPPORTED, "Not a PNG, JPEG, GIF or WebP image");
      return NULL;
    }
  loader = gdk_pixbuf_loader_new_with_type (type, NULL);
  if (loader == NULL)
    {
      g_set_error (error, TD_FILE_ERROR, TD_FILE_ERROR_UNSUPPORTED, "No decoder for %s images", type);
      return NULL;
    }
  check->max_px = max_px;
  g_signal_connect (loader, "size-prepared", G_CALLBACK (size_prepared_cb), check);
  ok = gdk_pixbuf_loader_write (loader, data, len, &local_error);
  /* Always close, so the loader is finished with whatever it holds. */
  if (!gdk_pixbuf_loader_close (loader, ok ? &local_error : NULL))
    ok = FALSE;
  if (check->too_big)
    {
      g_set_error (error, TD_FILE_ERROR, TD_FILE_ERROR_TOO_MANY_PIXELS,
                   "The image is %d × %d pixels, more than a preview may decode", check->width, check->height);
      return NULL;
    }
  pixbuf = ok ? gdk_pixbuf_loader_get_pixbuf (loader) : NULL;
  if (pixbuf == NULL)
    {
      g_set_error (error, TD_FILE_ERROR, TD_FILE_ERROR_MALFORMED, "The image is damaged%s%s",
                   local_error ? ": " : "", local_error ? local_error->message : "");
      return NULL;
    }
  pixbuf = gdk_pixbuf_apply_embedded_orientation (pixbuf);
  if (gdk_pixbuf_get_width (pixbuf) > (int) max_px || gdk_pixbuf_get_height (pixbuf) > (int) max_px)
    {
      double scale = (double) max_px / MAX (gdk_pixbuf_get_width (pixbuf), gdk_pixbuf_get_height (pixbuf));
      GdkPixbuf *scaled = gdk_pixbuf_scale_simple (pixbuf,
                                                   MAX (1, (int) (gdk_pixbuf_get_width (pixbuf) * scale)),
                                                   MAX (1, (int) (gdk_pixbuf_get_height (pixbuf) * scale)),
                                                   GDK_INTERP_BILINEAR);

      g_object_unref (pixbuf);
      pixbuf = scaled;
    }
  return pixbuf;
}

static char *
thumbnail_cache_path (Shared     *shared,
                      const char *url,
                      guint       max_px)
{
  g_autofree char *key = g_compute_checksum_for_string (G_CHECKSUM_SHA256, url, -1);
  g_autofree char *name = g_strdup_printf ("%s-%u.png", key, max_px);

  return g_build_filename (shared->cache_dir, name, NULL);
}

static gpointer
thumbnail_worker (TdTask        *task,
                  gpointer       task_data,
                  GCancellable  *cancellable,
                  GError       **error)
{
  TdFileRequest *request = task_data;
  Shared *shared = request->client;
  g_autofree char *cache_path = thumbnail_cache_path (shared, request->url, request->max_px);
  g_autoptr(TdFileThumbnail) thumbnail = g_new0 (TdFileThumbnail, 1);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GUri) uri = NULL;
  g_autoptr(SoupMessage) msg = NULL;
  g_autoptr(GInputStream) stream = NULL;
  SizeCheck check = { 0 };
  char *cached = NULL;
  gsize cached_len = 0;

  /* Our own cache goes through the same decoder and limits: a file in
   * the cache directory is not trusted more than the network. */
  if (g_file_get_contents (cache_path, &cached, &cached_len, NULL))
    {
      g_autoptr(GBytes) cached_bytes = g_bytes_new_take (cached, cached_len);

      thumbnail->pixbuf = decode_image (cached_bytes, request->max_px, &check, NULL);
      if (thumbnail->pixbuf != NULL)
        {
          thumbnail->from_cache = TRUE;
          thumbnail->decoded_on = g_thread_self ();
          return g_steal_pointer (&thumbnail);
        }
      g_unlink (cache_path);
    }

  uri = parse_http_url (request->url, error);
  if (uri == NULL)
    return NULL;
  msg = soup_message_new_from_uri (SOUP_METHOD_GET, uri);
  stream = send_checked (shared, msg, cancellable, error);
  if (stream == NULL)
    return NULL;
  if (soup_message_headers_get_content_length (soup_message_get_response_headers (msg)) > TD_FILE_THUMBNAIL_MAX_BYTES)
    {
      g_set_error (error, TD_FILE_ERROR, TD_FILE_ERROR_TOO_LARGE, "The image is larger than %d bytes",
                   TD_FILE_THUMBNAIL_MAX_BYTES);
      return NULL;
    }
  bytes = read_all (stream, TD_FILE_THUMBNAIL_MAX_BYTES, NULL, cancellable, error);
  if (bytes == NULL)
    return NULL;
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;

  thumbnail->pixbuf = decode_image (bytes, request->max_px, &check, error);
  if (thumbnail->pixbuf == NULL)
    return NULL;
  thumbnail->width = check.width;
  thumbnail->height = check.height;
  thumbnail->decoded_on = g_thread_self ();

  /* A cache that cannot be written only costs a fetch next time. */
  {
    g_autofree char *png = NULL;
    gsize png_len = 0;

    if (g_mkdir_with_parents (shared->cache_dir, 0700) == 0 &&
        gdk_pixbuf_save_to_buffer (thumbnail->pixbuf, &png, &png_len, "png", NULL, NULL))
      g_file_set_contents (cache_path, png, png_len, NULL);
  }
  return g_steal_pointer (&thumbnail);
}

/* Fetches @url and decodes a thumbnail of at most @max_px (clamped to
 * 16..TD_FILE_THUMBNAIL_MAX_PX) on its longer edge, from the disk cache
 * when it is there. The reply carries a TdFileThumbnail; on error the
 * view shows a placeholder. */
guint64
td_file_thumbnail_request (TdFileClient *client,
                           const char   *url,
                           guint         max_px,
                           TdMailboxId   reply_mailbox,
                           guint         reply_kind,
                           GCancellable *cancellable)
{
  TdFileRequest *request;

  g_return_val_if_fail (client != NULL, 0);
  g_return_val_if_fail (url != NULL, 0);

  request = request_new (client, TD_FILE_REQUEST_THUMBNAIL, url);
  request->max_px = CLAMP (max_px, 16, TD_FILE_THUMBNAIL_MAX_PX);
  request->name = td_file_url_get_name (url);
  return request_push (request, thumbnail_worker, (GDestroyNotify) td_file_thumbnail_free,
                       reply_mailbox, reply_kind, cancellable);
}

/* ------------------------------------------------------------------ */
/* URLs                                                                */
/* ------------------------------------------------------------------ */

static const char *const image_exts[] = { "png", "jpg", "jpeg", "gif", "webp" };

/* The last path segment of @url, percent-decoded, or NULL. */
char *
td_file_url_get_name (const char *url)
{
  g_autoptr(GUri) uri = url ? g_uri_parse (url, SOUP_HTTP_URI_FLAGS, NULL) : NULL;
  const char *path = uri ? g_uri_get_path (uri) : NULL;
  const char *slash;

  if (path == NULL || (slash = strrchr (path, '/')) == NULL || slash[1] == '\0')
    return NULL;
  return g_uri_unescape_string (slash + 1, "/");
}

static gboolean
name_is_image (const char *name)
{
  const char *dot = name ? strrchr (name, '.') : NULL;

  for (guint i = 0; dot != NULL && i < G_N_ELEMENTS (image_exts); i++)
    if (g_ascii_strcasecmp (dot + 1, image_exts[i]) == 0)
      return TRUE;
  return FALSE;
}

/* Same scheme, host and port. */
static gboolean
same_origin (GUri *a,
             GUri *b)
{
  return g_ascii_strcasecmp (g_uri_get_scheme (a), g_uri_get_scheme (b)) == 0 &&
         g_ascii_strcasecmp (g_uri_get_host (a), g_uri_get_host (b)) == 0 &&
         g_uri_get_port (a) == g_uri_get_port (b);
}

/* How the chat view shows @url: an inline image, a file card, or a plain
 * link. @file_hosts are FILEHOST values of the networks the user is on
 * (nullable). Images on other hosts are previewed only with
 * @allow_unknown_hosts (off by default: fetching them tells that host
 * who read the message). */
TdFileUrlKind
td_file_url_classify (const char        *url,
                      const char *const *file_hosts,
                      gboolean           allow_unknown_hosts)
{
  g_autoptr(GUri) uri = url ? parse_http_url (url, NULL) : NULL;
  g_autofree char *name = NULL;

  if (uri == NULL)
    return TD_FILE_URL_NONE;
  name = td_file_url_get_name (url);
  for (guint i = 0; file_hosts != NULL && file_hosts[i] != NULL; i++)
    {
      g_autoptr(GUri) host = parse_http_url (file_hosts[i], NULL);

      if (host != NULL && same_origin (uri, host) && g_str_has_prefix (g_uri_get_path (uri), "/f/"))
        return name_is_image (name) ? TD_FILE_URL_IMAGE : TD_FILE_URL_FILE;
    }
  if (allow_unknown_hosts && name_is_image (name))
    return TD_FILE_URL_IMAGE;
  return TD_FILE_URL_NONE;
}

/* ------------------------------------------------------------------ */
/* The client                                                          */
/* ------------------------------------------------------------------ */

/* @cache_dir: where thumbnails go; NULL for
 * $XDG_CACHE_HOME/tidings/thumbnails. */
TdFileClient *
td_file_client_new (const char *cache_dir)
{
  TdFileClient *client = g_new0 (TdFileClient, 1);
  Shared *shared = g_new0 (Shared, 1);

  shared->ref_count = 1;
  shared->cache_dir = cache_dir ? g_strdup (cache_dir)
                      : g_build_filename (g_get_user_cache_dir (), "tidings", "thumbnails", NULL);
  shared->session = soup_session_new_with_options ("user-agent", TD_FILE_CLIENT_USER_AGENT,
                                                   "timeout", TD_FILE_CLIENT_IO_TIMEOUT_S,
                                                   NULL);
  client->shared = shared;
  return client;
}

/* Requests already made finish (each holds what it needs); cancel them
 * with their GCancellable to stop them sooner. */
void
td_file_client_free (TdFileClient *client)
{
  if (client == NULL)
    return;
  shared_unref (client->shared);
  g_free (client);
}

const char *
td_file_client_get_cache_dir (TdFileClient *client)
{
  g_return_val_if_fail (client != NULL, NULL);
  return client->shared->cache_dir;
}
