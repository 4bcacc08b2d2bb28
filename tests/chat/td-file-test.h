/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <string.h>

#include "chat/td-file-host.h"
#include "chat/td-irc-accounts.h"
#include "store/td-recorder.h"

G_BEGIN_DECLS

/* Generous for an ASan build on a loaded machine, yet a hang fails. */
#define TD_FILE_TEST_TIMEOUT_S 20

#define TD_FILE_TEST_USER     "alice"
#define TD_FILE_TEST_PASSWORD "correct horse battery"

/* ------------------------------------------------------------------ */
/* A file host on a thread of its own, on 127.0.0.1 port 0             */
/* ------------------------------------------------------------------ */

typedef struct
{
  TdFileHost    *host;
  TdIrcAccounts *accounts;
  TdRecorder    *recorder;
  char          *dir;        /* temp dir: db and files */
  char          *db_path;
  char          *data_dir;
  GThread       *thread;
  GMainContext  *context;
  GMainLoop     *loop;
  guint16        port;
  char          *url;
  GMutex         lock;
  GCond          cond;
  gboolean       ready;
} TdFileTestHost;

static gpointer
td_file_test_host_main (gpointer data)
{
  TdFileTestHost *ts = data;
  g_autoptr(GError) error = NULL;

  g_main_context_push_thread_default (ts->context);
  if (!td_file_host_listen (ts->host, ts->context, "127.0.0.1", 0, &error))
    g_error ("listen: %s", error->message);
  g_mutex_lock (&ts->lock);
  ts->port = td_file_host_get_port (ts->host);
  ts->url = g_strdup (td_file_host_get_url (ts->host));
  ts->ready = TRUE;
  g_cond_signal (&ts->cond);
  g_mutex_unlock (&ts->lock);
  g_main_loop_run (ts->loop);
  td_file_host_stop (ts->host);
  g_main_context_pop_thread_default (ts->context);
  return NULL;
}

/* Starts a host with @config (data_dir and the database are filled in;
 * NULL: defaults) over a fresh temp dir, or over @reuse_dir to restart
 * on the files of an earlier host. Account "alice" exists with @hash. */
static inline TdFileTestHost *
td_file_test_host_start_full (TdFileHostConfig *config,
                              const char       *hash,
                              const char       *reuse_dir)
{
  TdFileTestHost *ts = g_new0 (TdFileTestHost, 1);
  g_autoptr(TdFileHostConfig) owned = config ? config : td_file_host_config_new ();
  g_autoptr(GError) error = NULL;

  ts->dir = reuse_dir ? g_strdup (reuse_dir) : g_dir_make_tmp ("td-file-host-XXXXXX", &error);
  g_assert_no_error (error);
  ts->db_path = g_build_filename (ts->dir, "tidingsd.db", NULL);
  ts->data_dir = td_file_store_dir_for_db (ts->db_path);
  g_free (owned->data_dir);
  owned->data_dir = g_strdup (ts->data_dir);
  ts->recorder = td_recorder_new (ts->db_path, td_schema_server ());
  ts->accounts = td_irc_accounts_new ();
  if (hash != NULL)
    td_irc_accounts_add (ts->accounts, TD_FILE_TEST_USER, hash, FALSE);
  ts->host = td_file_host_new (owned, ts->recorder, ts->accounts);
  ts->context = g_main_context_new ();
  ts->loop = g_main_loop_new (ts->context, FALSE);
  g_mutex_init (&ts->lock);
  g_cond_init (&ts->cond);
  ts->thread = g_thread_new ("file-host", td_file_test_host_main, ts);
  g_mutex_lock (&ts->lock);
  while (!ts->ready)
    g_cond_wait (&ts->cond, &ts->lock);
  g_mutex_unlock (&ts->lock);
  return ts;
}

static gboolean
td_file_test_quit_cb (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

static inline void
td_file_test_rm_rf (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        td_file_test_rm_rf (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

/* Stops the host; with @keep_dir the files and database stay for a
 * restart (the caller owns the returned dir), else all is removed. */
static inline char *
td_file_test_host_stop (TdFileTestHost *ts,
                        gboolean        keep_dir)
{
  GSource *source = g_idle_source_new ();
  char *dir = NULL;

  g_source_set_callback (source, td_file_test_quit_cb, ts->loop, NULL);
  g_source_attach (source, ts->context);
  g_source_unref (source);
  g_thread_join (ts->thread);
  td_file_host_free (ts->host);
  g_assert_true (td_recorder_close (ts->recorder, NULL));
  td_recorder_free (ts->recorder);
  td_irc_accounts_free (ts->accounts);
  g_main_loop_unref (ts->loop);
  g_main_context_unref (ts->context);
  g_mutex_clear (&ts->lock);
  g_cond_clear (&ts->cond);
  if (keep_dir)
    dir = g_strdup (ts->dir);
  else
    td_file_test_rm_rf (ts->dir);
  g_free (ts->dir);
  g_free (ts->db_path);
  g_free (ts->data_dir);
  g_free (ts->url);
  g_free (ts);
  return dir;
}

static inline void
td_file_test_host_free (TdFileTestHost *ts)
{
  g_free (td_file_test_host_stop (ts, FALSE));
}

typedef struct
{
  TdFileTestHost *ts;
  gint64        (*func) (TdFileHost *host, gconstpointer arg);
  gconstpointer   arg;
  gint64          result;
  gboolean        done;
} TdFileTestCall;

static gboolean
td_file_test_call_cb (gpointer data)
{
  TdFileTestCall *call = data;
  gint64 result = call->func (call->ts->host, call->arg);

  g_mutex_lock (&call->ts->lock);
  call->result = result;
  call->done = TRUE;
  g_cond_broadcast (&call->ts->cond);
  g_mutex_unlock (&call->ts->lock);
  return G_SOURCE_REMOVE;
}

/* Runs @func on the host's thread (where its state lives) and returns
 * its result. */
static inline gint64
td_file_test_host_call (TdFileTestHost *ts,
                        gint64        (*func) (TdFileHost *host, gconstpointer arg),
                        gconstpointer   arg)
{
  TdFileTestCall call = { ts, func, arg, 0, FALSE };
  gint64 deadline = g_get_monotonic_time () + TD_FILE_TEST_TIMEOUT_S * G_USEC_PER_SEC;

  g_main_context_invoke (ts->context, td_file_test_call_cb, &call);
  g_mutex_lock (&ts->lock);
  while (!call.done)
    if (!g_cond_wait_until (&ts->cond, &ts->lock, deadline))
      g_error ("the host thread did not answer in time");
  g_mutex_unlock (&ts->lock);
  return call.result;
}

static inline gint64
td_file_test_n_files_func (TdFileHost *host, gconstpointer arg)
{
  return td_file_host_get_n_files (host);
}

static inline gint64
td_file_test_usage_func (TdFileHost *host, gconstpointer arg)
{
  return td_file_host_get_usage (host, arg);
}

/* Regular files under the data dir, temp files apart. */
static inline guint
td_file_test_count_blobs (const char *data_dir,
                          guint      *n_tmp)
{
  g_autoptr(GDir) dir = g_dir_open (data_dir, 0, NULL);
  const char *name;
  guint n = 0;

  if (n_tmp != NULL)
    *n_tmp = 0;
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *sub = g_build_filename (data_dir, name, NULL);
      g_autoptr(GDir) subdir = g_dir_open (sub, 0, NULL);
      const char *leaf;

      while (subdir != NULL && (leaf = g_dir_read_name (subdir)) != NULL)
        {
          if (g_str_equal (name, "tmp"))
            {
              if (n_tmp != NULL)
                (*n_tmp)++;
            }
          else
            n++;
        }
    }
  return n;
}

/* ------------------------------------------------------------------ */
/* Raw HTTP over a blocking socket: exact control of what is sent      */
/* ------------------------------------------------------------------ */

typedef struct
{
  guint               status;
  SoupMessageHeaders *headers;
  GBytes             *body;
  GString            *raw;
} TdFileTestResponse;

static inline void
td_file_test_response_free (TdFileTestResponse *response)
{
  if (response == NULL)
    return;
  g_clear_pointer (&response->headers, soup_message_headers_unref);
  g_clear_pointer (&response->body, g_bytes_unref);
  g_string_free (response->raw, TRUE);
  g_free (response);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdFileTestResponse, td_file_test_response_free)

static inline GSocket *
td_file_test_connect (guint16 port)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) inet = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (inet, port);
  GSocket *socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);

  g_assert_no_error (error);
  g_socket_set_timeout (socket, TD_FILE_TEST_TIMEOUT_S);
  g_socket_connect (socket, address, NULL, &error);
  g_assert_no_error (error);
  return socket;
}

/* Sends @len bytes; returns FALSE if the peer closed meanwhile. */
static inline gboolean
td_file_test_send (GSocket      *socket,
                   gconstpointer data,
                   gsize         len)
{
  gsize done = 0;

  while (done < len)
    {
      g_autoptr(GError) error = NULL;
      gssize n = g_socket_send_with_blocking (socket, (const char *) data + done, len - done,
                                              TRUE, NULL, &error);

      if (n <= 0)
        return FALSE;
      done += n;
    }
  return TRUE;
}

/* Reads one response (the server closes after it: requests say
 * "Connection: close"). Fails the test on a timeout. */
static inline TdFileTestResponse *
td_file_test_read_response (GSocket *socket)
{
  TdFileTestResponse *response = g_new0 (TdFileTestResponse, 1);
  const char *end;

  response->raw = g_string_new (NULL);
  for (;;)
    {
      char chunk[16384];
      g_autoptr(GError) error = NULL;
      gssize n = g_socket_receive (socket, chunk, sizeof chunk, NULL, &error);

      if (n == 0 || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED) ||
          g_error_matches (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE))
        break;
      if (n < 0)
        {
          if (response->raw->len > 0 && strstr (response->raw->str, "\r\n\r\n") != NULL)
            break;
          g_error ("read: %s", error->message);
        }
      g_string_append_len (response->raw, chunk, n);
    }
  end = strstr (response->raw->str, "\r\n\r\n");
  if (end == NULL)
    return response;   /* status 0: no response at all */
  response->headers = soup_message_headers_new (SOUP_MESSAGE_HEADERS_RESPONSE);
  g_assert_true (soup_headers_parse_response (response->raw->str, end + 2 - response->raw->str,
                                              response->headers, NULL, &response->status, NULL));
  response->body = g_bytes_new (end + 4, response->raw->len - (end + 4 - response->raw->str));
  return response;
}

/* One request with @extra_headers (each ending in CRLF) and @body. */
static inline TdFileTestResponse *
td_file_test_http (guint16       port,
                   const char   *method,
                   const char   *path,
                   const char   *extra_headers,
                   GBytes       *body)
{
  g_autoptr(GSocket) socket = td_file_test_connect (port);
  g_autoptr(GString) head = g_string_new (NULL);
  TdFileTestResponse *response;

  g_string_append_printf (head, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: close\r\n%s",
                          method, path, port, extra_headers ? extra_headers : "");
  if (body != NULL)
    g_string_append_printf (head, "Content-Length: %" G_GSIZE_FORMAT "\r\n", g_bytes_get_size (body));
  g_string_append (head, "\r\n");
  td_file_test_send (socket, head->str, head->len);
  if (body != NULL)
    td_file_test_send (socket, g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  response = td_file_test_read_response (socket);
  g_socket_close (socket, NULL);
  return response;
}

#define TD_FILE_TEST_BOUNDARY "td-test-boundary-7d9a"

/* A multipart/form-data body with a `file` field (and a caption). */
static inline GBytes *
td_file_test_form (const char   *filename,
                   gconstpointer data,
                   gsize         len,
                   const char   *caption)
{
  g_autoptr(GByteArray) body = g_byte_array_new ();
  g_autoptr(GString) head = g_string_new (NULL);
  const char *tail = "\r\n--" TD_FILE_TEST_BOUNDARY "--\r\n";

  if (caption != NULL)
    g_string_append_printf (head, "--%s\r\nContent-Disposition: form-data; name=\"caption\"\r\n\r\n%s\r\n",
                            TD_FILE_TEST_BOUNDARY, caption);
  g_string_append_printf (head, "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
                          "Content-Type: image/png\r\n\r\n", TD_FILE_TEST_BOUNDARY, filename);
  g_byte_array_append (body, (const guint8 *) head->str, head->len);
  g_byte_array_append (body, data, len);
  g_byte_array_append (body, (const guint8 *) tail, strlen (tail));
  return g_byte_array_free_to_bytes (g_steal_pointer (&body));
}

#define TD_FILE_TEST_FORM_TYPE "Content-Type: multipart/form-data; boundary=" TD_FILE_TEST_BOUNDARY "\r\n"

/* "Authorization: Basic ..." CRLF for @user:@password. */
static inline char *
td_file_test_basic (const char *user,
                    const char *password)
{
  g_autofree char *pair = g_strdup_printf ("%s:%s", user, password);
  g_autofree char *b64 = g_base64_encode ((const guchar *) pair, strlen (pair));

  return g_strdup_printf ("Authorization: Basic %s\r\n", b64);
}

G_END_DECLS
