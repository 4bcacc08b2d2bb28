/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "chat/td-file-host.h"
#include "chat/td-irc-server.h"
#include "core/td-task-loop.h"
#include "server/td-server.h"
#include "td-file-test.h"
#include "td-irc-test.h"

/*
 * The file host over real sockets: the host runs on a thread of its own
 * (its own GMainContext, 127.0.0.1 port 0) with a real recorder on a temp
 * database, and each test talks raw HTTP to it, so that what is sent (a
 * lying Content-Length, a body cut short, chunked encoding) is exact.
 */

static char *alice_hash;   /* computed once: argon2id is slow on purpose */

static GBytes *
fixture (const char *name)
{
  g_autofree char *path = g_build_filename (g_getenv ("TD_TEST_SRCDIR"), "fixtures", "files", name, NULL);
  g_autoptr(GError) error = NULL;
  char *data = NULL;
  gsize len = 0;

  g_file_get_contents (path, &data, &len, &error);
  g_assert_no_error (error);
  return g_bytes_new_take (data, len);
}

static TdFileTestHost *
start_host (TdFileHostConfig *config)
{
  return td_file_test_host_start_full (config, alice_hash, NULL);
}

static JsonObject *
response_json (TdFileTestResponse *response)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonNode *root;

  g_assert_nonnull (response->body);
  g_assert_cmpstr (soup_message_headers_get_content_type (response->headers, NULL), ==, "application/json");
  json_parser_load_from_data (parser, g_bytes_get_data (response->body, NULL),
                              g_bytes_get_size (response->body), &error);
  g_assert_no_error (error);
  root = json_parser_get_root (parser);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (root));
  return json_object_ref (json_node_get_object (root));
}

/* Asserts @status, showing the whole response when it differs. */
static void
assert_status (TdFileTestResponse *response,
               guint               status)
{
  if (response->status != status)
    g_test_message ("response: %s", response->raw->str);
  g_assert_cmpuint (response->status, ==, status);
}

/* Asserts a refusal: @status and a JSON body with error @code. */
static void
assert_error (TdFileTestResponse *response,
              guint               status,
              const char         *code)
{
  g_autoptr(JsonObject) object = NULL;

  if (response->status != status)
    g_test_message ("response: %s", response->raw->str);
  g_assert_cmpuint (response->status, ==, status);
  object = response_json (response);
  g_assert_cmpstr (json_object_get_string_member (object, "error"), ==, code);
  g_assert_true (strlen (json_object_get_string_member (object, "message")) > 0);
  g_assert_cmpstr (soup_message_headers_get_one (response->headers, "X-Content-Type-Options"), ==, "nosniff");
}

static TdFileTestResponse *
upload (TdFileTestHost *ts,
        const char     *user,
        const char     *password,
        const char     *filename,
        GBytes         *data,
        const char     *caption)
{
  g_autoptr(GBytes) body = td_file_test_form (filename, g_bytes_get_data (data, NULL),
                                              g_bytes_get_size (data), caption);
  g_autofree char *auth = user ? td_file_test_basic (user, password) : g_strdup ("");
  g_autofree char *headers = g_strconcat (TD_FILE_TEST_FORM_TYPE, auth, NULL);

  return td_file_test_http (ts->port, "POST", "/upload", headers, body);
}

static TdFileTestResponse *
upload_alice (TdFileTestHost *ts,
              const char     *filename,
              GBytes         *data)
{
  return upload (ts, TD_FILE_TEST_USER, TD_FILE_TEST_PASSWORD, filename, data, NULL);
}

/* The path part of @url, which must be on @ts. */
static char *
url_path (TdFileTestHost *ts,
          const char     *url)
{
  g_assert_true (g_str_has_prefix (url, ts->url));
  return g_strdup (url + strlen (ts->url));
}

static TdFileTestResponse *
get (TdFileTestHost *ts,
     const char     *url)
{
  g_autofree char *path = url_path (ts, url);

  return td_file_test_http (ts->port, "GET", path, NULL, NULL);
}

static void
assert_nothing_stored (TdFileTestHost *ts)
{
  guint n_tmp = 0;

  g_assert_cmpuint (td_file_test_count_blobs (ts->data_dir, &n_tmp), ==, 0);
  g_assert_cmpuint (n_tmp, ==, 0);
  g_assert_cmpint (td_file_test_host_call (ts, td_file_test_n_files_func, NULL), ==, 0);
}

/* Waits until @func on the host thread returns @want. */
static void
wait_for_host (TdFileTestHost *ts,
               gint64        (*func) (TdFileHost *, gconstpointer),
               gconstpointer   arg,
               gint64          want)
{
  gint64 deadline = g_get_monotonic_time () + TD_FILE_TEST_TIMEOUT_S * G_USEC_PER_SEC;

  while (td_file_test_host_call (ts, func, arg) != want)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (10000);
    }
}

/* ------------------------------------------------------------------ */
/* Round trip                                                          */
/* ------------------------------------------------------------------ */

static void
test_round_trip (void)
{
  TdFileTestHost *ts = start_host (NULL);
  g_autoptr(GBytes) png = fixture ("tiny.png");
  g_autoptr(TdFileTestResponse) response = upload (ts, TD_FILE_TEST_USER, TD_FILE_TEST_PASSWORD,
                                                   "holiday photo.png", png, "look at this");
  g_autoptr(TdFileTestResponse) served = NULL;
  g_autoptr(JsonObject) object = NULL;
  g_autofree char *sha256 = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, png);
  g_autofree char *expected_url = NULL;
  g_autofree char *reopened_dir = NULL;
  const char *url;

  assert_status (response, 201);
  object = response_json (response);
  url = json_object_get_string_member (object, "url");
  expected_url = g_strdup_printf ("%s/f/%s/holiday%%20photo.png", ts->url, sha256);
  g_assert_cmpstr (url, ==, expected_url);
  g_assert_cmpstr (soup_message_headers_get_one (response->headers, "Location"), ==, url);
  g_assert_cmpstr (json_object_get_string_member (object, "name"), ==, "holiday photo.png");
  g_assert_cmpstr (json_object_get_string_member (object, "type"), ==, "image/png");
  g_assert_cmpint (json_object_get_int_member (object, "size"), ==, g_bytes_get_size (png));
  g_assert_cmpstr (json_object_get_string_member (object, "sha256"), ==, sha256);
  g_assert_cmpstr (json_object_get_string_member (object, "caption"), ==, "look at this");
  g_assert_true (g_str_has_prefix (ts->url, "http://127.0.0.1:"));

  /* Download: the same bytes, with the headers that keep it inert. */
  served = get (ts, url);
  assert_status (served, 200);
  g_assert_true (g_bytes_equal (served->body, png));
  {
    g_autofree char *got = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, served->body);

    g_assert_cmpstr (got, ==, sha256);
  }
  g_assert_cmpstr (soup_message_headers_get_content_type (served->headers, NULL), ==, "image/png");
  g_assert_cmpstr (soup_message_headers_get_one (served->headers, "X-Content-Type-Options"), ==, "nosniff");
  g_assert_cmpstr (soup_message_headers_get_one (served->headers, "Content-Security-Policy"), ==,
                   "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox");
  g_assert_cmpstr (soup_message_headers_get_one (served->headers, "Content-Disposition"), ==,
                   "inline; filename=\"holiday photo.png\"; filename*=UTF-8''holiday%20photo.png");
  g_assert_nonnull (strstr (soup_message_headers_get_one (served->headers, "Cache-Control"), "max-age="));
  g_assert_cmpuint (td_file_test_count_blobs (ts->data_dir, NULL), ==, 1);
  g_assert_cmpint (td_file_test_host_call (ts, td_file_test_usage_func, "ALICE"), ==, g_bytes_get_size (png));

  /* The metadata went to the database: a new host on the same files
   * serves it. */
  reopened_dir = td_file_test_host_stop (ts, TRUE);
  ts = td_file_test_host_start_full (NULL, alice_hash, reopened_dir);
  g_assert_cmpint (td_file_test_host_call (ts, td_file_test_n_files_func, NULL), ==, 1);
  g_clear_pointer (&served, td_file_test_response_free);
  {
    g_autofree char *path = g_strdup_printf ("/f/%s/holiday%%20photo.png", sha256);

    served = td_file_test_http (ts->port, "GET", path, NULL, NULL);
  }
  assert_status (served, 200);
  g_assert_true (g_bytes_equal (served->body, png));
  td_file_test_host_free (ts);
}

static void
test_headers (void)
{
  TdFileTestHost *ts = start_host (NULL);
  g_autoptr(GBytes) text = fixture ("notes.txt");
  g_autoptr(TdFileTestResponse) response = upload_alice (ts, "Café notes.txt", text);
  g_autoptr(TdFileTestResponse) served = NULL;
  g_autoptr(TdFileTestResponse) cached = NULL;
  g_autoptr(TdFileTestResponse) head = NULL;
  g_autoptr(JsonObject) object = NULL;
  g_autofree char *path = NULL;
  g_autofree char *etag_header = NULL;

  assert_status (response, 201);
  object = response_json (response);
  g_assert_cmpstr (json_object_get_string_member (object, "type"), ==, "text/plain");
  path = url_path (ts, json_object_get_string_member (object, "url"));

  /* Not an image: an attachment, with an ASCII fallback name. */
  served = td_file_test_http (ts->port, "GET", path, NULL, NULL);
  assert_status (served, 200);
  g_assert_cmpstr (soup_message_headers_get_one (served->headers, "Content-Type"), ==,
                   "text/plain; charset=utf-8");
  g_assert_cmpstr (soup_message_headers_get_one (served->headers, "Content-Disposition"), ==,
                   "attachment; filename=\"Cafe notes.txt\"; filename*=UTF-8''Caf%C3%A9%20notes.txt");
  g_assert_cmpstr (soup_message_headers_get_one (served->headers, "X-Content-Type-Options"), ==, "nosniff");
  g_assert_nonnull (soup_message_headers_get_one (served->headers, "Content-Security-Policy"));
  g_assert_true (g_bytes_equal (served->body, text));

  /* Revalidation and HEAD. */
  etag_header = g_strdup_printf ("If-None-Match: %s\r\n", soup_message_headers_get_one (served->headers, "ETag"));
  cached = td_file_test_http (ts->port, "GET", path, etag_header, NULL);
  assert_status (cached, 304);
  head = td_file_test_http (ts->port, "HEAD", path, NULL, NULL);
  assert_status (head, 200);
  g_assert_cmpuint (g_bytes_get_size (head->body), ==, 0);
  g_assert_cmpstr (soup_message_headers_get_one (head->headers, "X-Content-Type-Options"), ==, "nosniff");
  td_file_test_host_free (ts);
}

/* ------------------------------------------------------------------ */
/* Authentication                                                      */
/* ------------------------------------------------------------------ */

static void
test_auth_required (void)
{
  TdFileTestHost *ts = start_host (NULL);
  g_autoptr(GBytes) png = fixture ("tiny.png");
  g_autoptr(TdFileTestResponse) none = upload (ts, NULL, NULL, "a.png", png, NULL);
  g_autoptr(TdFileTestResponse) wrong = upload (ts, TD_FILE_TEST_USER, "not the password", "a.png", png, NULL);
  g_autoptr(TdFileTestResponse) unknown = upload (ts, "mallory", "whatever1234", "a.png", png, NULL);
  g_autoptr(TdFileTestResponse) garbage = NULL;
  g_autoptr(TdFileTestResponse) limited = NULL;
  g_autoptr(GBytes) body = td_file_test_form ("a.png", g_bytes_get_data (png, NULL), g_bytes_get_size (png), NULL);

  assert_error (none, 401, "auth_required");
  g_assert_nonnull (strstr (soup_message_headers_get_one (none->headers, "WWW-Authenticate"), "Basic realm="));
  assert_error (wrong, 401, "bad_credentials");
  assert_error (unknown, 401, "bad_credentials");
  garbage = td_file_test_http (ts->port, "POST", "/upload",
                               TD_FILE_TEST_FORM_TYPE "Authorization: Basic !!!notbase64\r\n", body);
  assert_error (garbage, 401, "bad_credentials");
  assert_nothing_stored (ts);

  /* Failures count against the account as for SASL: after the limit even
   * the right password is refused without being checked. */
  for (guint i = 0; i < TD_IRC_LOGIN_MAX_FAILURES; i++)
    {
      g_autoptr(TdFileTestResponse) again = upload (ts, TD_FILE_TEST_USER, "still wrong", "a.png", png, NULL);

      g_assert_true (again->status == 401 || again->status == 429);
    }
  limited = upload_alice (ts, "a.png", png);
  assert_error (limited, 429, "too_many_attempts");
  g_assert_nonnull (soup_message_headers_get_one (limited->headers, "Retry-After"));
  assert_nothing_stored (ts);
  td_file_test_host_free (ts);
}

static void
test_anonymous (void)
{
  TdFileHostConfig *config = td_file_host_config_new ();
  TdFileTestHost *ts;
  g_autoptr(GBytes) png = fixture ("tiny.png");
  g_autoptr(TdFileTestResponse) response = NULL;
  g_autoptr(TdFileTestResponse) served = NULL;
  g_autoptr(JsonObject) object = NULL;

  config->anonymous = TRUE;
  ts = start_host (config);
  response = upload (ts, NULL, NULL, "anon.png", png, NULL);
  assert_status (response, 201);
  object = response_json (response);
  served = get (ts, json_object_get_string_member (object, "url"));
  assert_status (served, 200);
  g_assert_true (g_bytes_equal (served->body, png));
  g_assert_cmpint (td_file_test_host_call (ts, td_file_test_usage_func, TD_FILE_TEST_USER), ==, 0);
  td_file_test_host_free (ts);
}

/* ------------------------------------------------------------------ */
/* Limits                                                              */
/* ------------------------------------------------------------------ */

#define SMALL_MAX (64 * 1024)

static TdFileTestHost *
start_small_host (void)
{
  TdFileHostConfig *config = td_file_host_config_new ();

  config->max_size = SMALL_MAX;
  return start_host (config);
}

static GBytes *
random_png (gsize len)
{
  guint8 *data = g_malloc (len);

  for (gsize i = 0; i < len; i++)
    data[i] = g_test_rand_int_range (0, 256);
  memcpy (data, "\x89PNG\r\n\x1a\n", 8);
  return g_bytes_new_take (data, len);
}

static void
test_oversize_content_length (void)
{
  TdFileTestHost *ts = start_small_host ();
  g_autoptr(GSocket) socket = td_file_test_connect (ts->port);
  g_autofree char *auth = td_file_test_basic (TD_FILE_TEST_USER, TD_FILE_TEST_PASSWORD);
  g_autofree char *head = g_strdup_printf ("POST /upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                           TD_FILE_TEST_FORM_TYPE "%sContent-Length: %d\r\n"
                                           "Expect: 100-continue\r\n\r\n",
                                           auth, 100 * 1024 * 1024);
  g_autoptr(TdFileTestResponse) response = NULL;
  g_autoptr(GBytes) big = random_png (SMALL_MAX + 1);
  g_autoptr(TdFileTestResponse) just_over = NULL;

  /* Only the headers are sent, as a client that expects 100 Continue
   * does: the answer must come without the body. */
  g_assert_true (td_file_test_send (socket, head, strlen (head)));
  response = td_file_test_read_response (socket);
  assert_error (response, 413, "too_large");

  /* One byte over, within the form overhead allowance: caught while
   * streaming. */
  just_over = upload_alice (ts, "big.png", big);
  assert_error (just_over, 413, "too_large");
  assert_nothing_stored (ts);
  td_file_test_host_free (ts);
}

static void
test_oversize_streaming (void)
{
  TdFileTestHost *ts = start_small_host ();
  g_autoptr(GSocket) socket = td_file_test_connect (ts->port);
  g_autofree char *auth = td_file_test_basic (TD_FILE_TEST_USER, TD_FILE_TEST_PASSWORD);
  g_autofree char *head = g_strdup_printf ("POST /upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                           TD_FILE_TEST_FORM_TYPE "%sTransfer-Encoding: chunked\r\n\r\n", auth);
  g_autoptr(GBytes) big = random_png (4 * SMALL_MAX);
  g_autoptr(GBytes) body = td_file_test_form ("big.png", g_bytes_get_data (big, NULL), g_bytes_get_size (big), NULL);
  g_autoptr(TdFileTestResponse) response = NULL;
  const guint8 *data = g_bytes_get_data (body, NULL);
  gsize len = g_bytes_get_size (body);

  /* No Content-Length to judge by: chunked, 8 KiB at a time. */
  g_assert_true (td_file_test_send (socket, head, strlen (head)));
  for (gsize off = 0; off < len; off += 8192)
    {
      gsize n = MIN (8192, len - off);
      g_autofree char *size = g_strdup_printf ("%" G_GSIZE_MODIFIER "x\r\n", n);

      if (!td_file_test_send (socket, size, strlen (size)) ||
          !td_file_test_send (socket, data + off, n) ||
          !td_file_test_send (socket, "\r\n", 2))
        break;
    }
  td_file_test_send (socket, "0\r\n\r\n", 5);
  response = td_file_test_read_response (socket);
  assert_error (response, 413, "too_large");
  assert_nothing_stored (ts);
  td_file_test_host_free (ts);
}

static void
test_quota (void)
{
  TdFileHostConfig *config = td_file_host_config_new ();
  TdFileTestHost *ts;
  g_autoptr(GBytes) first = random_png (60 * 1024);
  g_autoptr(GBytes) second = random_png (60 * 1024);
  g_autoptr(TdFileTestResponse) ok = NULL;
  g_autoptr(TdFileTestResponse) over = NULL;

  config->quota = 100 * 1024;
  ts = start_host (config);
  ok = upload_alice (ts, "first.png", first);
  assert_status (ok, 201);
  over = upload_alice (ts, "second.png", second);
  assert_error (over, 413, "quota_exceeded");
  g_assert_cmpint (td_file_test_host_call (ts, td_file_test_usage_func, TD_FILE_TEST_USER), ==, 60 * 1024);
  g_assert_cmpuint (td_file_test_count_blobs (ts->data_dir, NULL), ==, 1);
  td_file_test_host_free (ts);
}

/* ------------------------------------------------------------------ */
/* Types and names                                                     */
/* ------------------------------------------------------------------ */

static void
test_wrong_type (void)
{
  TdFileTestHost *ts = start_host (NULL);
  const char *refused[] = { "page.png", "program.png", "drawing.svg" };
  g_autoptr(GBytes) png = fixture ("tiny.png");
  g_autoptr(TdFileTestResponse) renamed = NULL;
  g_autoptr(JsonObject) object = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autoptr(GBytes) data = fixture (refused[i]);
      g_autoptr(TdFileTestResponse) response = upload_alice (ts, refused[i], data);

      g_test_message ("%s", refused[i]);
      assert_error (response, 415, "unsupported_type");
    }
  assert_nothing_stored (ts);

  /* A real PNG named like a program is stored as what it is. */
  renamed = upload_alice (ts, "setup.exe", png);
  assert_status (renamed, 201);
  object = response_json (renamed);
  g_assert_cmpstr (json_object_get_string_member (object, "type"), ==, "image/png");
  g_assert_cmpstr (json_object_get_string_member (object, "name"), ==, "setup.exe.png");
  td_file_test_host_free (ts);
}

static void
test_sniff (void)
{
  static const struct { const char *data; gsize len; gboolean text; const char *type; } cases[] = {
    { "\x89PNG\r\n\x1a\n\0\0", 10, FALSE, "image/png" },
    { "\xff\xd8\xff\xe0", 4, FALSE, "image/jpeg" },
    { "GIF89a..", 8, FALSE, "image/gif" },
    { "GIF87a..", 8, FALSE, "image/gif" },
    { "RIFF\0\0\0\0WEBPVP8 ", 16, FALSE, "image/webp" },
    { "RIFF\0\0\0\0WAVEfmt ", 16, FALSE, NULL },
    { "%PDF-1.7\n", 9, FALSE, "application/pdf" },
    { "PK\x03\x04", 4, FALSE, "application/zip" },
    { "\x1f\x8b\x08\0", 4, FALSE, "application/gzip" },
    { "\x7f" "ELF\x02\x01", 6, FALSE, NULL },
    { "MZ\x90\0", 4, FALSE, NULL },
    { "hello world\n", 12, TRUE, "text/plain" },
    { "hello world\n", 12, FALSE, NULL },
    { "<!DOCTYPE html><p>", 18, TRUE, NULL },
    { "  \n<HTML>", 9, TRUE, NULL },
    { "\xef\xbb\xbf<script>x", 12, TRUE, NULL },
    { "<svg xmlns=", 11, TRUE, NULL },
    { "<?xml version", 13, TRUE, NULL },
    { "<!-- c -->", 10, TRUE, NULL },
    { "<b", 2, TRUE, NULL },
    { "<bold claim", 11, TRUE, "text/plain" },
    { "a < b and c > d", 15, TRUE, "text/plain" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    g_assert_cmpstr (td_file_sniff_type ((const guint8 *) cases[i].data, cases[i].len, cases[i].text), ==,
                     cases[i].type);
}

static void
test_sanitize_name (void)
{
  static const struct { const char *in; const char *type; const char *out; } cases[] = {
    { "photo.png", "image/png", "photo.png" },
    { "../../etc/passwd", "text/plain", "passwd.txt" },
    { "..\\..\\windows\\win.ini", "text/plain", "win.ini" },
    { "/absolute/path/x.jpg", "image/jpeg", "x.jpg" },
    { "..", "image/png", "file.png" },
    { "", "image/png", "file.png" },
    { NULL, "application/pdf", "file.pdf" },
    { ".bashrc", "text/plain", "bashrc.txt" },
    { "-rf.png", "image/png", "rf.png" },
    { "a\tb\nc\rd.png", "image/png", "a b c d.png" },
    { "ctrl\x01\x1f\x7f.png", "image/png", "ctrl.png" },
    { "invoice\xe2\x80\xaegnp.exe", "image/png", "invoicegnp.exe.png" },   /* U+202E */
    { "zero\xe2\x80\x8bwidth.gif", "image/gif", "zerowidth.gif" },        /* U+200B */
    { "bad\xff\xfeutf8.png", "image/png", "bad\xef\xbf\xbd\xef\xbf\xbdutf8.png" },
    { "quote\"semi;colon<>|?*.png", "image/png", "quote_semi;colon_____.png" },
    { "page.html", "text/plain", "page.html.txt" },
    { "run.BAT", "text/plain", "run.BAT.txt" },
    { "notes.md", "text/plain", "notes.md" },
    { "photo.JPEG", "image/jpeg", "photo.JPEG" },
    { "photo.jpeg", "image/png", "photo.jpeg.png" },
    { "archive.docx", "application/zip", "archive.docx" },
    { "tool.jar", "application/zip", "tool.jar.zip" },
    { "trailing dots...", "application/pdf", "trailing dots.pdf" },
    { "  spaced   out  .png", "image/png", "spaced out.png" },
  };
  g_autoptr(GString) long_name = g_string_new (NULL);
  g_autofree char *cut = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *out = td_file_sanitize_name (cases[i].in, cases[i].type);
      g_autofree char *in_escaped = g_strescape (cases[i].in ? cases[i].in : "(null)", NULL);
      g_autofree char *out_escaped = g_strescape (out, NULL);

      g_test_message ("%s -> %s", in_escaped, out_escaped);
      g_assert_cmpstr (out, ==, cases[i].out);
      g_assert_true (g_utf8_validate (out, -1, NULL));
      g_assert_null (strchr (out, '/'));
    }

  /* Long names are cut at a character boundary and keep the extension. */
  for (guint i = 0; i < 100; i++)
    g_string_append (long_name, "\xc3\xa9");   /* é: two bytes */
  g_string_append (long_name, ".png");
  cut = td_file_sanitize_name (long_name->str, "image/png");
  g_assert_cmpuint (strlen (cut), <=, TD_FILE_HOST_MAX_NAME);
  g_assert_true (g_str_has_suffix (cut, ".png"));
  g_assert_true (g_utf8_validate (cut, -1, NULL));
}

static void
test_path_tricks (void)
{
  TdFileTestHost *ts = start_host (NULL);
  g_autoptr(GBytes) text = fixture ("notes.txt");
  g_autoptr(TdFileTestResponse) response = upload_alice (ts, "../../../../etc/passwd", text);
  g_autoptr(TdFileTestResponse) served = NULL;
  g_autoptr(TdFileTestResponse) dotdot = NULL;
  g_autoptr(TdFileTestResponse) encoded = NULL;
  g_autoptr(JsonObject) object = NULL;
  g_autofree char *outside = g_build_filename (ts->dir, "passwd", NULL);
  g_autofree char *sha256 = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, text);
  g_autofree char *escape = NULL;

  assert_status (response, 201);
  object = response_json (response);
  g_assert_cmpstr (json_object_get_string_member (object, "name"), ==, "passwd.txt");
  g_assert_false (g_file_test (outside, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (td_file_test_count_blobs (ts->data_dir, NULL), ==, 1);
  served = get (ts, json_object_get_string_member (object, "url"));
  assert_status (served, 200);

  /* Reading never leaves the index: no path from the URL reaches the
   * disk. */
  escape = g_strdup_printf ("/f/%s/..%%2F..%%2Ftidingsd.db", sha256);
  encoded = td_file_test_http (ts->port, "GET", escape, NULL, NULL);
  g_assert_cmpuint (encoded->status / 100, ==, 4);
  dotdot = td_file_test_http (ts->port, "GET", "/f/../../tidingsd.db", NULL, NULL);
  g_assert_cmpuint (dotdot->status / 100, ==, 4);
  td_file_test_host_free (ts);
}

/* ------------------------------------------------------------------ */
/* Bad requests                                                        */
/* ------------------------------------------------------------------ */

static void
test_bad_requests (void)
{
  TdFileTestHost *ts = start_host (NULL);
  g_autofree char *auth = td_file_test_basic (TD_FILE_TEST_USER, TD_FILE_TEST_PASSWORD);
  g_autofree char *form_auth = g_strconcat (TD_FILE_TEST_FORM_TYPE, auth, NULL);
  g_autofree char *text_auth = g_strconcat ("Content-Type: text/plain\r\n", auth, NULL);
  g_autoptr(GBytes) png = fixture ("tiny.png");
  g_autofree char *sha256 = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, png);
  struct {
    const char *method;
    const char *path;
    const char *headers;
    const char *body;
    guint       status;
    const char *code;
  } cases[] = {
    { "GET", "/", NULL, NULL, 404, "not_found" },
    { "GET", "/f/", NULL, NULL, 404, "not_found" },
    { "GET", "/f/abc/name.png", NULL, NULL, 404, "not_found" },
    { "GET", "/upload", NULL, NULL, 405, "method" },
    { "PUT", "/upload", NULL, "x", 405, "method" },
    { "DELETE", "/f/0000000000000000000000000000000000000000000000000000000000000000/x", NULL, NULL, 405, "method" },
    { "POST", "/upload", text_auth, "hello", 415, "bad_form" },
    { "POST", "/upload", form_auth,
      "--" TD_FILE_TEST_BOUNDARY "\r\nContent-Disposition: form-data; name=\"caption\"\r\n\r\nhi\r\n"
      "--" TD_FILE_TEST_BOUNDARY "--\r\n", 400, "no_file" },
    { "POST", "/upload", form_auth,
      "--" TD_FILE_TEST_BOUNDARY "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\n"
      "\r\n--" TD_FILE_TEST_BOUNDARY "--\r\n", 400, "empty_file" },
    { "POST", "/upload", form_auth,
      "--" TD_FILE_TEST_BOUNDARY "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\n"
      "no closing boundary", 400, "bad_form" },
    { "POST", "/upload", form_auth,
      "--" TD_FILE_TEST_BOUNDARY "\r\nContent-Type: text/plain\r\n\r\nno disposition\r\n"
      "--" TD_FILE_TEST_BOUNDARY "--\r\n", 400, "bad_form" },
    { "POST", "/upload", form_auth,
      "--" TD_FILE_TEST_BOUNDARY "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nA"
      "\r\n--" TD_FILE_TEST_BOUNDARY "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"b.txt\"\r\n\r\nB"
      "\r\n--" TD_FILE_TEST_BOUNDARY "--\r\n", 400, "bad_form" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GBytes) body = cases[i].body ? g_bytes_new_static (cases[i].body, strlen (cases[i].body)) : NULL;
      g_autoptr(TdFileTestResponse) response = td_file_test_http (ts->port, cases[i].method, cases[i].path,
                                                                  cases[i].headers, body);

      g_test_message ("%s %s", cases[i].method, cases[i].path);
      assert_error (response, cases[i].status, cases[i].code);
    }

  /* A stored file under a name it was not uploaded with. */
  {
    g_autoptr(TdFileTestResponse) ok = upload_alice (ts, "real.png", png);
    g_autofree char *path = g_strdup_printf ("/f/%s/other.png", sha256);
    g_autoptr(TdFileTestResponse) other = td_file_test_http (ts->port, "GET", path, NULL, NULL);

    assert_status (ok, 201);
    assert_error (other, 404, "not_found");
  }
  td_file_test_host_free (ts);
}

static void
test_truncated (void)
{
  TdFileTestHost *ts = start_host (NULL);
  g_autoptr(GBytes) data = random_png (256 * 1024);
  g_autoptr(GBytes) body = td_file_test_form ("cut.png", g_bytes_get_data (data, NULL), g_bytes_get_size (data), NULL);
  g_autofree char *auth = td_file_test_basic (TD_FILE_TEST_USER, TD_FILE_TEST_PASSWORD);
  g_autofree char *head = g_strdup_printf ("POST /upload HTTP/1.1\r\nHost: x\r\n" TD_FILE_TEST_FORM_TYPE
                                           "%sContent-Length: %" G_GSIZE_FORMAT "\r\n\r\n",
                                           auth, g_bytes_get_size (body));
  GSocket *socket = td_file_test_connect (ts->port);
  gint64 deadline = g_get_monotonic_time () + TD_FILE_TEST_TIMEOUT_S * G_USEC_PER_SEC;
  guint n_tmp = 0;

  g_assert_true (td_file_test_send (socket, head, strlen (head)));
  g_assert_true (td_file_test_send (socket, g_bytes_get_data (body, NULL), g_bytes_get_size (body) / 2));

  /* The upload is under way (a temp file exists) ... */
  while (td_file_test_count_blobs (ts->data_dir, &n_tmp) == 0 && n_tmp == 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (10000);
    }
  /* ... and the client goes away mid-body. */
  g_socket_close (socket, NULL);
  g_object_unref (socket);
  do
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (10000);
    }
  while (td_file_test_count_blobs (ts->data_dir, &n_tmp) != 0 || n_tmp != 0);
  assert_nothing_stored (ts);
  td_file_test_host_free (ts);
}

/* ------------------------------------------------------------------ */
/* Sharing, expiry, deletion                                           */
/* ------------------------------------------------------------------ */

static void
test_dedup (void)
{
  TdFileTestHost *ts = start_host (NULL);
  g_autoptr(GBytes) png = fixture ("tiny.png");
  g_autoptr(TdFileTestResponse) a = upload_alice (ts, "a.png", png);
  g_autoptr(TdFileTestResponse) again = upload_alice (ts, "a.png", png);
  g_autoptr(TdFileTestResponse) b = upload_alice (ts, "b.png", png);
  g_autoptr(JsonObject) oa = NULL;
  g_autoptr(JsonObject) oagain = NULL;

  assert_status (a, 201);
  assert_status (again, 200);
  assert_status (b, 201);
  oa = response_json (a);
  oagain = response_json (again);
  g_assert_cmpstr (json_object_get_string_member (oa, "url"), ==, json_object_get_string_member (oagain, "url"));
  g_assert_cmpint (td_file_test_host_call (ts, td_file_test_n_files_func, NULL), ==, 2);
  g_assert_cmpuint (td_file_test_count_blobs (ts->data_dir, NULL), ==, 1);
  td_file_test_host_free (ts);
}

static gint64
clean_func (TdFileHost *host, gconstpointer arg)
{
  return td_file_host_clean_expired (host);
}

static void
test_expiry (void)
{
  TdFileHostConfig *config = td_file_host_config_new ();
  TdFileTestHost *ts;
  g_autoptr(GBytes) png = fixture ("tiny.png");
  g_autoptr(TdFileTestResponse) response = NULL;
  g_autoptr(TdFileTestResponse) before = NULL;
  g_autoptr(TdFileTestResponse) after = NULL;
  g_autoptr(JsonObject) object = NULL;
  g_autofree char *dir = NULL;

  config->expiry_usec = 400 * 1000;
  config->clean_interval_ms = 50;
  ts = start_host (config);
  response = upload_alice (ts, "soon-gone.png", png);
  assert_status (response, 201);
  object = response_json (response);
  g_assert_true (json_object_has_member (object, "expires"));
  before = get (ts, json_object_get_string_member (object, "url"));
  assert_status (before, 200);

  /* The timer removes the file, its row and its bytes. */
  wait_for_host (ts, td_file_test_n_files_func, NULL, 0);
  after = get (ts, json_object_get_string_member (object, "url"));
  assert_error (after, 404, "not_found");
  g_assert_cmpuint (td_file_test_count_blobs (ts->data_dir, NULL), ==, 0);
  g_assert_cmpint (td_file_test_host_call (ts, td_file_test_usage_func, TD_FILE_TEST_USER), ==, 0);

  /* The row is gone from the database too. */
  dir = td_file_test_host_stop (ts, TRUE);
  ts = td_file_test_host_start_full (NULL, alice_hash, dir);
  g_assert_cmpint (td_file_test_host_call (ts, td_file_test_n_files_func, NULL), ==, 0);
  g_assert_cmpint (td_file_test_host_call (ts, clean_func, NULL), ==, 0);
  td_file_test_host_free (ts);
}

static gint64
delete_func (TdFileHost *host, gconstpointer arg)
{
  return td_file_host_delete_account_files (host, arg);
}

static void
test_delete_account (void)
{
  TdFileHostConfig *config = td_file_host_config_new ();
  TdFileTestHost *ts;
  g_autoptr(GBytes) png = fixture ("tiny.png");
  g_autoptr(GBytes) jpg = fixture ("photo.jpg");
  g_autoptr(GBytes) gif = fixture ("anim.gif");
  g_autoptr(GBytes) txt = fixture ("notes.txt");
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *db_path = NULL;
  g_autofree char *data_dir = NULL;

  config->anonymous = TRUE;
  ts = start_host (config);
  {
    g_autoptr(TdFileTestResponse) r1 = upload_alice (ts, "a.png", png);
    g_autoptr(TdFileTestResponse) r2 = upload_alice (ts, "b.jpg", jpg);
    g_autoptr(TdFileTestResponse) r3 = upload (ts, NULL, NULL, "shared.png", png, NULL);
    g_autoptr(TdFileTestResponse) r4 = upload (ts, NULL, NULL, "anon.gif", gif, NULL);

    assert_status (r1, 201);
    assert_status (r2, 201);
    assert_status (r3, 201);
    assert_status (r4, 201);
  }
  g_assert_cmpuint (td_file_test_count_blobs (ts->data_dir, NULL), ==, 3);

  /* alice's two go; the PNG stays, since an anonymous upload shares it. */
  g_assert_cmpint (td_file_test_host_call (ts, delete_func, "ALICE"), ==, 2);
  g_assert_cmpint (td_file_test_host_call (ts, td_file_test_n_files_func, NULL), ==, 2);
  g_assert_cmpuint (td_file_test_count_blobs (ts->data_dir, NULL), ==, 2);
  g_assert_cmpint (td_file_test_host_call (ts, td_file_test_usage_func, TD_FILE_TEST_USER), ==, 0);

  /* Offline, as `tidingsd account delete-files` does it. */
  {
    g_autoptr(TdFileTestResponse) r5 = upload_alice (ts, "notes.txt", txt);

    assert_status (r5, 201);
  }
  dir = td_file_test_host_stop (ts, TRUE);
  db_path = g_build_filename (dir, "tidingsd.db", NULL);
  data_dir = td_file_store_dir_for_db (db_path);
  g_assert_cmpuint (td_file_test_count_blobs (data_dir, NULL), ==, 3);
  g_assert_cmpint (td_file_store_delete_account (db_path, data_dir, "Alice", &error), ==, 1);
  g_assert_no_error (error);
  g_assert_cmpuint (td_file_test_count_blobs (data_dir, NULL), ==, 2);
  g_assert_cmpint (td_file_store_delete_account (db_path, data_dir, "nobody", &error), ==, 0);
  g_assert_no_error (error);

  ts = td_file_test_host_start_full (NULL, alice_hash, dir);
  g_assert_cmpint (td_file_test_host_call (ts, td_file_test_n_files_func, NULL), ==, 2);
  td_file_test_host_free (ts);
}

/* ------------------------------------------------------------------ */
/* Discovery: FILEHOST in ISUPPORT                                     */
/* ------------------------------------------------------------------ */

static void
test_isupport (void)
{
  g_autoptr(TdIrcServerConfig) config = td_irc_server_config_new ();
  TdIrcServer *server;
  TdIrcTestServer *ts;
  g_autoptr(TdIrcTestClient) c = NULL;
  g_autoptr(GString) isupport = g_string_new (NULL);
  char *line;

  config->flood_control = FALSE;
  server = td_irc_server_new (config);
  td_irc_server_set_filehost (server, "http://127.0.0.1:6681");
  ts = td_irc_test_server_start (server);
  c = td_irc_test_client_new (ts->port, "c");
  td_irc_test_send (c, "NICK bob");
  td_irc_test_send (c, "USER bob 0 * :Bob");
  while ((line = td_irc_test_read_line (c)) != NULL)
    {
      gboolean end = strstr (line, " 376 ") != NULL || strstr (line, " 422 ") != NULL;

      if (strstr (line, " 005 ") != NULL)
        g_string_append (isupport, line);
      g_free (line);
      if (end)
        break;
    }
  g_assert_nonnull (strstr (isupport->str, " FILEHOST=http://127.0.0.1:6681 "));
  td_irc_test_server_free (ts);
}

/* tidingsd wiring: the "files" listener is recorded, advertised to chat
 * clients, and takes the chat server's accounts. */
static void
test_tidingsd (void)
{
  g_autoptr(TdServerConfig) config = td_server_config_new ();
  g_autoptr(TdServer) server = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("td-file-server-XXXXXX", &error);
  g_autoptr(TdIrcTestClient) c = NULL;
  g_autoptr(GString) isupport = g_string_new (NULL);
  g_autofree char *expected = NULL;
  g_autoptr(GBytes) png = fixture ("tiny.png");
  g_autoptr(GBytes) body = td_file_test_form ("x.png", g_bytes_get_data (png, NULL), g_bytes_get_size (png), NULL);
  g_autoptr(TdFileTestResponse) anonymous = NULL;
  g_auto(GStrv) listeners = NULL;
  guint16 files_port;
  char *line;

  g_assert_no_error (error);
  config->pubsub_port = -1;
  config->line_port = -1;
  config->chat_port = 0;
  config->files_port = 0;
  config->db_path = g_build_filename (dir, "tidingsd.db", NULL);
  server = td_server_new (config);
  g_assert_true (td_server_start_thread (server, &error));
  g_assert_no_error (error);
  listeners = td_server_list_listeners (server);
  g_assert_true (g_strv_contains ((const char *const *) listeners, "files"));
  files_port = td_server_get_port (server, "files");
  g_assert_cmpuint (files_port, >, 0);

  c = td_irc_test_client_new (td_server_get_port (server, "chat"), "c");
  td_irc_test_send (c, "NICK bob");
  td_irc_test_send (c, "USER bob 0 * :Bob");
  while ((line = td_irc_test_read_line (c)) != NULL)
    {
      gboolean end = strstr (line, " 376 ") != NULL || strstr (line, " 422 ") != NULL;

      if (strstr (line, " 005 ") != NULL)
        g_string_append (isupport, line);
      g_free (line);
      if (end)
        break;
    }
  expected = g_strdup_printf (" FILEHOST=http://127.0.0.1:%u ", files_port);
  g_assert_nonnull (strstr (isupport->str, expected));

  /* Anonymous uploads are off unless asked for. */
  anonymous = td_file_test_http (files_port, "POST", "/upload", TD_FILE_TEST_FORM_TYPE, body);
  assert_error (anonymous, 401, "auth_required");

  td_server_stop (server);
  td_file_test_rm_rf (dir);
}

int
main (int   argc,
      char *argv[])
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  alice_hash = td_irc_accounts_hash_password (TD_FILE_TEST_PASSWORD, NULL);
  g_assert_nonnull (alice_hash);

  g_test_add_func ("/td/file-host/sniff", test_sniff);
  g_test_add_func ("/td/file-host/sanitize-name", test_sanitize_name);
  g_test_add_func ("/td/file-host/round-trip", test_round_trip);
  g_test_add_func ("/td/file-host/headers", test_headers);
  g_test_add_func ("/td/file-host/auth-required", test_auth_required);
  g_test_add_func ("/td/file-host/anonymous", test_anonymous);
  g_test_add_func ("/td/file-host/oversize-content-length", test_oversize_content_length);
  g_test_add_func ("/td/file-host/oversize-streaming", test_oversize_streaming);
  g_test_add_func ("/td/file-host/quota", test_quota);
  g_test_add_func ("/td/file-host/wrong-type", test_wrong_type);
  g_test_add_func ("/td/file-host/path-tricks", test_path_tricks);
  g_test_add_func ("/td/file-host/bad-requests", test_bad_requests);
  g_test_add_func ("/td/file-host/truncated", test_truncated);
  g_test_add_func ("/td/file-host/dedup", test_dedup);
  g_test_add_func ("/td/file-host/expiry", test_expiry);
  g_test_add_func ("/td/file-host/delete-account", test_delete_account);
  g_test_add_func ("/td/file-host/isupport", test_isupport);
  g_test_add_func ("/td/file-host/tidingsd", test_tidingsd);

  ret = g_test_run ();
  td_task_loop_shutdown (td_task_loop_get_default (), 5000);
  g_free (alice_hash);
  return ret;
}
