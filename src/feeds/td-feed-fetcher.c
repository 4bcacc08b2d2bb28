/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-feed-fetcher"

#include "config.h"

#include <string.h>

#include <libsoup/soup.h>

#include "feeds/td-feed-fetcher.h"
#include "core/td-thread.h"
#include "feeds/td-feed-parser.h"

/* Bytes asked for per read: large enough to keep syscalls few, small
 * enough that the size cap is checked often. */
#define TD_FEED_FETCH_READ_CHUNK (64 * 1024)

/* How long an idle keep-alive connection is kept: refreshes come in
 * bursts, so a connection rarely helps after a minute. */
#define TD_FEED_FETCHER_IDLE_TIMEOUT_S 60

#define TD_FEED_FETCHER_USER_AGENT "Tidings/" PACKAGE_VERSION " (+https://github.com/tidings)"

/* Feed types first; generic XML and JSON lower; anything as a last
 * resort, because many servers send feeds as text/html or octet-stream. */
#define TD_FEED_FETCHER_ACCEPT \
  "application/atom+xml, application/rss+xml, application/feed+json, " \
  "application/rdf+xml;q=0.9, application/json;q=0.8, application/xml;q=0.8, " \
  "text/xml;q=0.8, */*;q=0.1"

G_DEFINE_QUARK (td-feed-fetch-error-quark, td_feed_fetch_error)

struct _TdFeedFetcher
{
  TdFeedFetcherConfig  config;
  char                *user_agent;
  GTlsDatabase        *tls_database;

  GThread             *thread;
  GMainContext        *context;
  GMainLoop           *loop;
  SoupSession         *session;        /* fetch thread only */
  GHashTable          *ops;            /* fetch thread only: running ops */
  gboolean             shutting_down;  /* fetch thread only */

  GMutex               mutex;          /* guards started and op->done */
  GCond                cond;
  gboolean             started;
};

typedef struct _FetchOp FetchOp;
typedef void (*FetchOpDone) (FetchOp *op);

struct _FetchOp
{
  TdFeedFetcher      *fetcher;
  TdFeedFetchRequest *request;
  GCancellable       *user_cancellable;
  gulong              user_cancel_id;
  GCancellable       *cancellable;     /* ours: user cancel, deadline, shutdown */
  GCancellable       *hop_cancellable; /* this HTTP exchange: cancelling it aborts the transfer */
  gulong              hop_cancel_id;
  gboolean            body_complete;   /* the stream was read to its end */
  GSource            *deadline;
  gboolean            timed_out;

  char               *current_url;
  char               *permanent_url;
  gboolean            still_permanent;
  guint               hops;

  SoupMessage        *msg;
  GInputStream       *stream;
  GFile              *file;
  GByteArray         *body;

  TdFeedFetchResult  *result;

  /* How completion is delivered. */
  FetchOpDone         done_func;
  GTask              *task;            /* async callers */
  gboolean            done;            /* sync callers, under fetcher->mutex */
};

/* ------------------------------------------------------------------ */
/* Requests, results, classification                                   */
/* ------------------------------------------------------------------ */

TdFeedFetchRequest *
td_feed_fetch_request_new (const char *url,
                           const char *etag,
                           const char *last_modified)
{
  TdFeedFetchRequest *request = g_new0 (TdFeedFetchRequest, 1);

  request->url = g_strdup (url);
  request->etag = g_strdup (etag);
  request->last_modified = g_strdup (last_modified);
  return request;
}

static TdFeedFetchRequest *
request_copy (const TdFeedFetchRequest *request)
{
  return td_feed_fetch_request_new (request->url, request->etag, request->last_modified);
}

void
td_feed_fetch_request_free (TdFeedFetchRequest *request)
{
  if (request == NULL)
    return;
  g_free (request->url);
  g_free (request->etag);
  g_free (request->last_modified);
  g_free (request);
}

static TdFeedFetchResult *
result_new (void)
{
  TdFeedFetchResult *result = g_new0 (TdFeedFetchResult, 1);

  result->status = TD_FEED_FETCH_FAILED;
  result->retry_after = -1;
  return result;
}

void
td_feed_fetch_result_free (TdFeedFetchResult *result)
{
  if (result == NULL)
    return;
  g_free (result->final_url);
  g_free (result->new_url);
  g_free (result->etag);
  g_free (result->last_modified);
  g_free (result->content_type);
  g_clear_pointer (&result->body, g_bytes_unref);
  g_clear_error (&result->error);
  g_free (result);
}

gboolean
td_feed_fetch_error_is_transient (const GError *error)
{
  if (error == NULL)
    return FALSE;

  if (error->domain == TD_FEED_FETCH_ERROR)
    return error->code == TD_FEED_FETCH_ERROR_TIMEOUT;

  if (error->domain == G_RESOLVER_ERROR)
    return TRUE;

  if (error->domain == G_TLS_ERROR)
    return FALSE;

  if (error->domain == G_IO_ERROR)
    {
      switch (error->code)
        {
        case G_IO_ERROR_CANCELLED:
        case G_IO_ERROR_NOT_FOUND:
        case G_IO_ERROR_PERMISSION_DENIED:
        case G_IO_ERROR_INVALID_ARGUMENT:
        case G_IO_ERROR_NOT_SUPPORTED:
        case G_IO_ERROR_IS_DIRECTORY:
        case G_IO_ERROR_NOT_REGULAR_FILE:
          return FALSE;
        default:
          /* refused, unreachable, reset, timed out, closed ... */
          return TRUE;
        }
    }

  return FALSE;
}

static gboolean
http_status_is_transient (guint status)
{
  return status == 408 || status == 429 || (status >= 500 && status <= 599);
}

gint64
td_feed_parse_retry_after (const char *value,
                           gint64      now_unix)
{
  g_autoptr(GDateTime) date = NULL;
  guint64 seconds;
  gint64 delta;

  if (value == NULL)
    return -1;
  while (g_ascii_isspace (*value))
    value++;
  if (*value == '\0')
    return -1;

  if (g_ascii_isdigit (*value))
    {
      g_autofree char *trimmed = g_strstrip (g_strdup (value));

      if (!g_ascii_string_to_unsigned (trimmed, 10, 0, G_MAXUINT64, &seconds, NULL))
        return -1;
      return (gint64) MIN (seconds, (guint64) TD_FEED_FETCHER_MAX_RETRY_AFTER_S);
    }

  date = soup_date_time_new_from_http_string (value);
  if (date == NULL)
    return -1;

  delta = g_date_time_to_unix (date) - now_unix;
  return CLAMP (delta, 0, TD_FEED_FETCHER_MAX_RETRY_AFTER_S);
}

/* ------------------------------------------------------------------ */
/* The fetch thread                                                    */
/* ------------------------------------------------------------------ */

static void op_start_hop (FetchOp *op);

static void
op_free (FetchOp *op)
{
  td_feed_fetch_request_free (op->request);
  g_clear_object (&op->user_cancellable);
  g_clear_object (&op->cancellable);
  g_free (op->current_url);
  g_free (op->permanent_url);
  g_clear_object (&op->msg);
  g_clear_object (&op->stream);
  g_clear_object (&op->file);
  g_clear_pointer (&op->body, g_byte_array_unref);
  g_clear_pointer (&op->result, td_feed_fetch_result_free);
  g_clear_object (&op->task);
  g_free (op);
}

static void
cancel_hop_cb (GCancellable *cancellable,
               gpointer      user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
}

/* Starts a new HTTP exchange: its own cancellable, cancelled with the op's. */
static void
hop_begin (FetchOp *op)
{
  op->hop_cancellable = g_cancellable_new ();
  op->body_complete = FALSE;
  op->hop_cancel_id = g_cancellable_connect (op->cancellable, G_CALLBACK (cancel_hop_cb),
                                             g_object_ref (op->hop_cancellable), g_object_unref);
}

/* Ends the current exchange on the fetch thread. Unless the body was read
 * to its end, the transfer is aborted first: closing a libsoup body
 * stream otherwise reads the rest of it, which could be endless. */
static void
hop_end (FetchOp *op)
{
  if (op->hop_cancellable != NULL && !op->body_complete)
    g_cancellable_cancel (op->hop_cancellable);

  g_clear_object (&op->stream);
  g_clear_object (&op->msg);

  if (op->hop_cancel_id != 0)
    g_cancellable_disconnect (op->cancellable, op->hop_cancel_id);
  op->hop_cancel_id = 0;
  g_clear_object (&op->hop_cancellable);
}

static gboolean
cancel_on_fetch_thread_cb (gpointer user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
  return G_SOURCE_REMOVE;
}

/* Runs on the cancelling thread (a task-loop worker's farm, a caller).
 * The op's cancellable is cancelled on the fetch thread instead: libsoup
 * and GIO watch it (through the hop's) with GCancellableSources that they
 * dispose on the fetch thread, and GLib (2.74) leaks such a source when
 * it is disposed while another thread is still emitting "cancelled" on
 * its cancellable. The idle holds the cancellable, not the op, so it is
 * harmless when the op has completed meanwhile. */
static void
user_cancelled_cb (GCancellable *cancellable,
                   gpointer      user_data)
{
  FetchOp *op = user_data;
  GSource *source = g_idle_source_new ();

  g_source_set_priority (source, G_PRIORITY_HIGH);
  g_source_set_callback (source, cancel_on_fetch_thread_cb, g_object_ref (op->cancellable), g_object_unref);
  g_source_set_static_name (source, "[td-feed-fetch] cancel");
  g_source_attach (source, op->fetcher->context);
  g_source_unref (source);
}

static gboolean
deadline_cb (gpointer user_data)
{
  FetchOp *op = user_data;

  op->timed_out = TRUE;
  g_cancellable_cancel (op->cancellable);
  g_clear_pointer (&op->deadline, g_source_unref);
  return G_SOURCE_REMOVE;
}

static void
maybe_quit (TdFeedFetcher *fetcher)
{
  if (fetcher->shutting_down && g_hash_table_size (fetcher->ops) == 0)
    g_main_loop_quit (fetcher->loop);
}

/* Delivers op->result and forgets the op. */
static void
op_complete (FetchOp *op)
{
  TdFeedFetcher *fetcher = op->fetcher;

  if (op->deadline != NULL)
    {
      g_source_destroy (op->deadline);
      g_clear_pointer (&op->deadline, g_source_unref);
    }
  if (op->user_cancel_id != 0)
    {
      g_cancellable_disconnect (op->user_cancellable, op->user_cancel_id);
      op->user_cancel_id = 0;
    }

  /* libsoup objects belong to this thread: release them here. */
  hop_end (op);
  g_clear_object (&op->file);

  g_hash_table_remove (fetcher->ops, op);
  op->done_func (op);
  maybe_quit (fetcher);
}

/* Fails the op with @error (taken), classifying it. */
static void
op_fail (FetchOp *op,
         GError  *error)
{
  TdFeedFetchResult *result = op->result;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && op->timed_out)
    {
      g_clear_error (&error);
      error = g_error_new (TD_FEED_FETCH_ERROR, TD_FEED_FETCH_ERROR_TIMEOUT,
                           "no complete response within %u ms", op->fetcher->config.deadline_ms);
    }
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) && op->fetcher->shutting_down &&
           (op->user_cancellable == NULL || !g_cancellable_is_cancelled (op->user_cancellable)))
    {
      g_clear_error (&error);
      error = g_error_new (TD_FEED_FETCH_ERROR, TD_FEED_FETCH_ERROR_SHUTDOWN,
                           "the fetcher shut down");
    }

  result->status = TD_FEED_FETCH_FAILED;
  g_clear_pointer (&result->body, g_bytes_unref);
  if (error->domain == TD_FEED_FETCH_ERROR && error->code == TD_FEED_FETCH_ERROR_HTTP)
    result->transient = http_status_is_transient (result->http_status);
  else
    result->transient = td_feed_fetch_error_is_transient (error);
  g_clear_error (&result->error);
  result->error = error;

  op_complete (op);
}

static void
op_fail_literal (FetchOp    *op,
                 int         code,
                 const char *format,
                 ...) G_GNUC_PRINTF (3, 4);

static void
op_fail_literal (FetchOp    *op,
                 int         code,
                 const char *format,
                 ...)
{
  va_list args;
  GError *error;

  va_start (args, format);
  error = g_error_new_valist (TD_FEED_FETCH_ERROR, code, format, args);
  va_end (args);
  op_fail (op, error);
}

static void
op_succeed (FetchOp *op)
{
  TdFeedFetchResult *result = op->result;

  result->status = TD_FEED_FETCH_OK;
  result->body = g_byte_array_free_to_bytes (g_steal_pointer (&op->body));
  op_complete (op);
}

/* ---- reading a body (HTTP or file), size-capped ---- */

static void read_next (FetchOp *op);

static void
read_cb (GObject      *source,
         GAsyncResult *res,
         gpointer      user_data)
{
  FetchOp *op = user_data;
  g_autoptr(GBytes) chunk = NULL;
  GError *error = NULL;
  gsize n;

  chunk = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), res, &error);
  if (chunk == NULL)
    {
      op_fail (op, error);
      return;
    }

  n = g_bytes_get_size (chunk);
  if (n == 0)
    {
      op->body_complete = TRUE;
      op_succeed (op);
      return;
    }

  if (op->body->len + n > op->fetcher->config.max_body_size)
    {
      /* Abort the transfer: dropping the stream closes the connection. */
      op_fail_literal (op, TD_FEED_FETCH_ERROR_TOO_LARGE,
                       "response larger than %" G_GSIZE_FORMAT " bytes",
                       op->fetcher->config.max_body_size);
      return;
    }

  g_byte_array_append (op->body, g_bytes_get_data (chunk, NULL), n);
  read_next (op);
}

static void
read_next (FetchOp *op)
{
  g_input_stream_read_bytes_async (op->stream, TD_FEED_FETCH_READ_CHUNK, G_PRIORITY_DEFAULT,
                                   op->hop_cancellable ? op->hop_cancellable : op->cancellable,
                                   read_cb, op);
}

static void
read_body (FetchOp      *op,
           GInputStream *stream)
{
  if (op->stream != stream)
    g_set_object (&op->stream, stream);
  op->body = g_byte_array_new ();
  read_next (op);
}

/* ---- file:// ---- */

static void
file_read_cb (GObject      *source,
              GAsyncResult *res,
              gpointer      user_data)
{
  FetchOp *op = user_data;
  g_autoptr(GFileInputStream) stream = NULL;
  GError *error = NULL;

  stream = g_file_read_finish (G_FILE (source), res, &error);
  if (stream == NULL)
    {
      op_fail (op, error);
      return;
    }

  read_body (op, G_INPUT_STREAM (stream));
}

static void
file_info_cb (GObject      *source,
              GAsyncResult *res,
              gpointer      user_data)
{
  FetchOp *op = user_data;
  g_autoptr(GFileInfo) info = NULL;
  GError *error = NULL;

  info = g_file_query_info_finish (G_FILE (source), res, &error);
  if (info == NULL)
    {
      op_fail (op, error);
      return;
    }

  /* A FIFO or a device would block or never end. */
  if (g_file_info_get_file_type (info) != G_FILE_TYPE_REGULAR)
    {
      op_fail_literal (op, TD_FEED_FETCH_ERROR_NOT_A_FILE, "%s is not a regular file", op->current_url);
      return;
    }

  if ((guint64) g_file_info_get_size (info) > op->fetcher->config.max_body_size)
    {
      op_fail_literal (op, TD_FEED_FETCH_ERROR_TOO_LARGE,
                       "file larger than %" G_GSIZE_FORMAT " bytes", op->fetcher->config.max_body_size);
      return;
    }

  g_file_read_async (op->file, G_PRIORITY_DEFAULT, op->cancellable, file_read_cb, op);
}

static void
op_start_file (FetchOp *op)
{
  op->file = g_file_new_for_uri (op->current_url);
  op->result->final_url = g_strdup (op->current_url);
  g_file_query_info_async (op->file,
                           G_FILE_ATTRIBUTE_STANDARD_TYPE "," G_FILE_ATTRIBUTE_STANDARD_SIZE,
                           G_FILE_QUERY_INFO_NONE, G_PRIORITY_DEFAULT, op->cancellable,
                           file_info_cb, op);
}

/* ---- HTTP ---- */

static char *
header_copy (SoupMessageHeaders *headers,
             const char         *name)
{
  const char *value = soup_message_headers_get_one (headers, name);

  return value != NULL && *value != '\0' ? g_strdup (value) : NULL;
}

static void
send_cb (GObject      *source,
         GAsyncResult *res,
         gpointer      user_data)
{
  FetchOp *op = user_data;
  TdFeedFetchResult *result = op->result;
  SoupMessageHeaders *headers;
  GError *error = NULL;
  guint status;

  op->stream = soup_session_send_finish (SOUP_SESSION (source), res, &error);
  if (op->stream == NULL)
    {
      op_fail (op, error);
      return;
    }

  status = soup_message_get_status (op->msg);
  headers = soup_message_get_response_headers (op->msg);
  result->http_status = status;

  g_clear_pointer (&result->final_url, g_free);
  result->final_url = g_strdup (op->current_url);

  if (SOUP_STATUS_IS_REDIRECTION (status) && status != SOUP_STATUS_NOT_MODIFIED &&
      status != 300 && status != 305 && status != 306)
    {
      const char *location = soup_message_headers_get_one (headers, "Location");
      g_autoptr(GUri) next = NULL;
      const char *scheme;

      if (location == NULL)
        {
          op_fail_literal (op, TD_FEED_FETCH_ERROR_BAD_REDIRECT, "HTTP %u without a Location", status);
          return;
        }

      next = g_uri_parse_relative (soup_message_get_uri (op->msg), location,
                                   SOUP_HTTP_URI_FLAGS, NULL);
      scheme = next ? g_uri_get_scheme (next) : NULL;
      if (next == NULL || (g_strcmp0 (scheme, "http") != 0 && g_strcmp0 (scheme, "https") != 0))
        {
          op_fail_literal (op, TD_FEED_FETCH_ERROR_BAD_REDIRECT, "HTTP %u to an unusable location", status);
          return;
        }

      if (++op->hops > op->fetcher->config.max_redirects)
        {
          op_fail_literal (op, TD_FEED_FETCH_ERROR_TOO_MANY_REDIRECTS,
                           "more than %u redirects", op->fetcher->config.max_redirects);
          return;
        }

      g_free (op->current_url);
      op->current_url = g_uri_to_string (next);

      /* The feed moved for good only while every hop so far said so. */
      if (op->still_permanent && (status == SOUP_STATUS_MOVED_PERMANENTLY ||
                                  status == SOUP_STATUS_PERMANENT_REDIRECT))
        {
          g_free (op->permanent_url);
          op->permanent_url = g_strdup (op->current_url);
        }
      else
        op->still_permanent = FALSE;

      hop_end (op);
      op_start_hop (op);
      return;
    }

  g_clear_pointer (&result->new_url, g_free);
  result->new_url = g_strdup (op->permanent_url);

  if (status == SOUP_STATUS_NOT_MODIFIED)
    {
      /* Keep the validators that produced the 304, verbatim. A 304 has
       * no body, so the connection stays open for the next request. */
      op->body_complete = TRUE;
      result->status = TD_FEED_FETCH_NOT_MODIFIED;
      result->etag = g_strdup (op->request->etag);
      result->last_modified = g_strdup (op->request->last_modified);
      op_complete (op);
      return;
    }

  if (status == SOUP_STATUS_GONE)
    {
      result->status = TD_FEED_FETCH_GONE;
      op_complete (op);
      return;
    }

  if (!SOUP_STATUS_IS_SUCCESSFUL (status))
    {
      const char *reason = soup_message_get_reason_phrase (op->msg);
      const char *retry_after = soup_message_headers_get_one (headers, "Retry-After");

      if (retry_after != NULL)
        result->retry_after = td_feed_parse_retry_after (retry_after, g_get_real_time () / G_USEC_PER_SEC);

      op_fail_literal (op, TD_FEED_FETCH_ERROR_HTTP, "HTTP %u %s", status,
                       reason && *reason ? reason : soup_status_get_phrase (status));
      return;
    }

  if (soup_message_headers_get_encoding (headers) == SOUP_ENCODING_CONTENT_LENGTH &&
      soup_message_headers_get_list (headers, "Content-Encoding") == NULL &&
      (guint64) soup_message_headers_get_content_length (headers) > op->fetcher->config.max_body_size)
    {
      op_fail_literal (op, TD_FEED_FETCH_ERROR_TOO_LARGE,
                       "response of %" G_GINT64_FORMAT " bytes is larger than %" G_GSIZE_FORMAT,
                       soup_message_headers_get_content_length (headers),
                       op->fetcher->config.max_body_size);
      return;
    }

  /* Both validators replace the stored ones, as one unit. */
  result->etag = header_copy (headers, "ETag");
  result->last_modified = header_copy (headers, "Last-Modified");
  result->content_type = header_copy (headers, "Content-Type");

  read_body (op, op->stream);
}

static void
op_start_hop (FetchOp *op)
{
  TdFeedFetcher *fetcher = op->fetcher;
  SoupMessageHeaders *headers;

  op->msg = soup_message_new (SOUP_METHOD_GET, op->current_url);
  if (op->msg == NULL)
    {
      op_fail_literal (op, TD_FEED_FETCH_ERROR_INVALID_URL, "invalid URL");
      return;
    }

  hop_begin (op);
  soup_message_add_flags (op->msg, SOUP_MESSAGE_NO_REDIRECT);
  headers = soup_message_get_request_headers (op->msg);
  soup_message_headers_replace (headers, "Accept", TD_FEED_FETCHER_ACCEPT);
  if (op->request->etag != NULL && *op->request->etag != '\0')
    soup_message_headers_replace (headers, "If-None-Match", op->request->etag);
  if (op->request->last_modified != NULL && *op->request->last_modified != '\0')
    soup_message_headers_replace (headers, "If-Modified-Since", op->request->last_modified);

  soup_session_send_async (fetcher->session, op->msg, G_PRIORITY_DEFAULT, op->hop_cancellable,
                           send_cb, op);
}

/* Runs on the fetch thread. */
static gboolean
op_start_cb (gpointer user_data)
{
  FetchOp *op = user_data;
  TdFeedFetcher *fetcher = op->fetcher;
  g_autoptr(GUri) uri = NULL;
  const char *scheme;

  g_hash_table_add (fetcher->ops, op);

  op->result = result_new ();
  op->current_url = g_strdup (op->request->url);
  op->still_permanent = TRUE;

  if (op->user_cancellable != NULL)
    op->user_cancel_id = g_cancellable_connect (op->user_cancellable, G_CALLBACK (user_cancelled_cb), op, NULL);

  if (fetcher->shutting_down ||
      (op->user_cancellable != NULL && g_cancellable_is_cancelled (op->user_cancellable)))
    g_cancellable_cancel (op->cancellable);

  op->deadline = g_timeout_source_new (fetcher->config.deadline_ms);
  g_source_set_callback (op->deadline, deadline_cb, op, NULL);
  g_source_attach (op->deadline, fetcher->context);

  if (g_cancellable_is_cancelled (op->cancellable))
    {
      op_fail (op, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "cancelled"));
      return G_SOURCE_REMOVE;
    }

  uri = op->current_url ? g_uri_parse (op->current_url, SOUP_HTTP_URI_FLAGS, NULL) : NULL;
  scheme = uri ? g_uri_get_scheme (uri) : NULL;

  if (uri == NULL)
    op_fail_literal (op, TD_FEED_FETCH_ERROR_INVALID_URL, "invalid URL");
  else if (g_ascii_strcasecmp (scheme, "file") == 0)
    op_start_file (op);
  else if (g_ascii_strcasecmp (scheme, "http") == 0 || g_ascii_strcasecmp (scheme, "https") == 0)
    op_start_hop (op);
  else
    op_fail_literal (op, TD_FEED_FETCH_ERROR_UNSUPPORTED, "unsupported URL scheme \"%s\"", scheme);

  return G_SOURCE_REMOVE;
}

static gboolean
shutdown_cb (gpointer user_data)
{
  TdFeedFetcher *fetcher = user_data;
  GHashTableIter iter;
  gpointer key;

  fetcher->shutting_down = TRUE;

  g_hash_table_iter_init (&iter, fetcher->ops);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_cancellable_cancel (((FetchOp *) key)->cancellable);

  soup_session_abort (fetcher->session);
  maybe_quit (fetcher);
  return G_SOURCE_REMOVE;
}

static gpointer
fetch_thread (gpointer user_data)
{
  TdFeedFetcher *fetcher = user_data;

  td_thread_enter_background ();
  g_main_context_push_thread_default (fetcher->context);

  fetcher->session = soup_session_new_with_options ("max-conns", fetcher->config.max_conns,
                                                    "max-conns-per-host", fetcher->config.max_conns_per_host,
                                                    "timeout", fetcher->config.io_timeout_s,
                                                    "idle-timeout", TD_FEED_FETCHER_IDLE_TIMEOUT_S,
                                                    "user-agent", fetcher->user_agent,
                                                    NULL);
  if (fetcher->tls_database != NULL)
    soup_session_set_tls_database (fetcher->session, fetcher->tls_database);
  /* gzip and deflate; libsoup 3 adds the decoder by default, but make
   * sure, since the size cap counts decoded bytes. */
  if (!soup_session_has_feature (fetcher->session, SOUP_TYPE_CONTENT_DECODER))
    soup_session_add_feature_by_type (fetcher->session, SOUP_TYPE_CONTENT_DECODER);

  fetcher->ops = g_hash_table_new (NULL, NULL);

  g_mutex_lock (&fetcher->mutex);
  fetcher->started = TRUE;
  g_cond_broadcast (&fetcher->cond);
  g_mutex_unlock (&fetcher->mutex);

  g_main_loop_run (fetcher->loop);

  /* Requests queued behind the shutdown start, see it, and fail. */
  while (g_main_context_iteration (fetcher->context, FALSE))
    ;

  g_assert (g_hash_table_size (fetcher->ops) == 0);
  g_clear_pointer (&fetcher->ops, g_hash_table_unref);
  g_clear_object (&fetcher->session);

  /* Let libsoup's pending idle callbacks run before the context goes. */
  while (g_main_context_iteration (fetcher->context, FALSE))
    ;

  g_main_context_pop_thread_default (fetcher->context);
  return NULL;
}

/* ------------------------------------------------------------------ */
/* Public API                                                          */
/* ------------------------------------------------------------------ */

TdFeedFetcher *
td_feed_fetcher_new (const TdFeedFetcherConfig *config)
{
  TdFeedFetcher *fetcher = g_new0 (TdFeedFetcher, 1);

  if (config != NULL)
    fetcher->config = *config;
  if (fetcher->config.max_conns == 0)
    fetcher->config.max_conns = TD_FEED_FETCHER_DEFAULT_MAX_CONNS;
  if (fetcher->config.max_conns_per_host == 0)
    fetcher->config.max_conns_per_host = TD_FEED_FETCHER_DEFAULT_MAX_CONNS_PER_HOST;
  fetcher->config.max_conns_per_host = MIN (fetcher->config.max_conns_per_host, fetcher->config.max_conns);
  if (fetcher->config.io_timeout_s == 0)
    fetcher->config.io_timeout_s = TD_FEED_FETCHER_DEFAULT_IO_TIMEOUT_S;
  if (fetcher->config.deadline_ms == 0)
    fetcher->config.deadline_ms = TD_FEED_FETCHER_DEFAULT_DEADLINE_MS;
  if (fetcher->config.max_body_size == 0)
    fetcher->config.max_body_size = TD_FEED_MAX_DOCUMENT_SIZE;
  if (fetcher->config.max_redirects == 0)
    fetcher->config.max_redirects = TD_FEED_FETCHER_DEFAULT_MAX_REDIRECTS;

  fetcher->user_agent = g_strdup (fetcher->config.user_agent ? fetcher->config.user_agent
                                                             : TD_FEED_FETCHER_USER_AGENT);
  fetcher->config.user_agent = fetcher->user_agent;
  if (fetcher->config.tls_database != NULL)
    fetcher->tls_database = g_object_ref (fetcher->config.tls_database);
  fetcher->config.tls_database = fetcher->tls_database;

  g_mutex_init (&fetcher->mutex);
  g_cond_init (&fetcher->cond);
  fetcher->context = g_main_context_new ();
  fetcher->loop = g_main_loop_new (fetcher->context, FALSE);
  fetcher->thread = g_thread_new ("td-feed-fetch", fetch_thread, fetcher);

  g_mutex_lock (&fetcher->mutex);
  while (!fetcher->started)
    g_cond_wait (&fetcher->cond, &fetcher->mutex);
  g_mutex_unlock (&fetcher->mutex);

  return fetcher;
}

void
td_feed_fetcher_free (TdFeedFetcher *fetcher)
{
  if (fetcher == NULL)
    return;

  g_return_if_fail (g_thread_self () != fetcher->thread);

  /* Every running op is cancelled and completed; then the loop quits. */
  g_main_context_invoke (fetcher->context, shutdown_cb, fetcher);
  g_thread_join (fetcher->thread);

  g_main_loop_unref (fetcher->loop);
  g_main_context_unref (fetcher->context);
  g_mutex_clear (&fetcher->mutex);
  g_cond_clear (&fetcher->cond);
  g_clear_object (&fetcher->tls_database);
  g_free (fetcher->user_agent);
  g_free (fetcher);
}

guint
td_feed_fetcher_get_max_conns (TdFeedFetcher *fetcher)
{
  g_return_val_if_fail (fetcher != NULL, 0);
  return fetcher->config.max_conns;
}

guint
td_feed_fetcher_get_max_conns_per_host (TdFeedFetcher *fetcher)
{
  g_return_val_if_fail (fetcher != NULL, 0);
  return fetcher->config.max_conns_per_host;
}

static FetchOp *
op_new (TdFeedFetcher            *fetcher,
        const TdFeedFetchRequest *request,
        GCancellable             *cancellable)
{
  FetchOp *op = g_new0 (FetchOp, 1);

  op->fetcher = fetcher;
  op->request = request_copy (request);
  op->user_cancellable = cancellable ? g_object_ref (cancellable) : NULL;
  op->cancellable = g_cancellable_new ();
  return op;
}

static void
op_done_sync (FetchOp *op)
{
  TdFeedFetcher *fetcher = op->fetcher;

  /* After the unlock the waiter owns the op: do not touch it again. */
  g_mutex_lock (&fetcher->mutex);
  op->done = TRUE;
  g_cond_broadcast (&fetcher->cond);
  g_mutex_unlock (&fetcher->mutex);
}

TdFeedFetchResult *
td_feed_fetcher_fetch (TdFeedFetcher            *fetcher,
                       const TdFeedFetchRequest *request,
                       GCancellable             *cancellable)
{
  TdFeedFetchResult *result;
  FetchOp *op;

  g_return_val_if_fail (fetcher != NULL, NULL);
  g_return_val_if_fail (request != NULL, NULL);
  g_return_val_if_fail (g_thread_self () != fetcher->thread, NULL);

  op = op_new (fetcher, request, cancellable);
  op->done_func = op_done_sync;

  g_main_context_invoke (fetcher->context, op_start_cb, op);

  g_mutex_lock (&fetcher->mutex);
  while (!op->done)
    g_cond_wait (&fetcher->cond, &fetcher->mutex);
  g_mutex_unlock (&fetcher->mutex);

  result = g_steal_pointer (&op->result);
  op_free (op);
  return result;
}

static void
op_done_async (FetchOp *op)
{
  GTask *task = g_steal_pointer (&op->task);

  g_task_return_pointer (task, g_steal_pointer (&op->result),
                         (GDestroyNotify) td_feed_fetch_result_free);
  g_object_unref (task);
  op_free (op);
}

void
td_feed_fetcher_fetch_async (TdFeedFetcher            *fetcher,
                             const TdFeedFetchRequest *request,
                             GCancellable             *cancellable,
                             GAsyncReadyCallback       callback,
                             gpointer                  user_data)
{
  FetchOp *op;

  g_return_if_fail (fetcher != NULL);
  g_return_if_fail (request != NULL);

  op = op_new (fetcher, request, cancellable);
  op->done_func = op_done_async;
  /* No cancellable on the task: a cancelled fetch still returns a
   * result saying so. */
  op->task = g_task_new (NULL, NULL, callback, user_data);
  g_task_set_source_tag (op->task, td_feed_fetcher_fetch_async);

  g_main_context_invoke (fetcher->context, op_start_cb, op);
}

TdFeedFetchResult *
td_feed_fetcher_fetch_finish (TdFeedFetcher *fetcher,
                              GAsyncResult  *result)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);

  return g_task_propagate_pointer (G_TASK (result), NULL);
}
