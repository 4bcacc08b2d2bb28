/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "chat/td-file-request.h"

/*
 * The file host's reading of requests without a server: request heads
 * (table-driven), the multipart reader fed whole and a byte at a time,
 * and the text check across every split of a text.
 */

#define BOUNDARY "----td-test-boundary"
#define HASH "8fe4acd2406a93231a6f883e12c8f70c95dd34a995dbbf351fa4b9826d89f9f2"
#define AUTH "Authorization: Basic YWxpY2U6c2VjcmV0OnBhc3M=\r\n"   /* alice:secret:pass */
#define FORM_TYPE "Content-Type: multipart/form-data; boundary=" BOUNDARY "\r\n"

typedef struct
{
  const char        *head;
  TdFileRequestKind  kind;        /* when accepted */
  int                error;       /* TdFileRequestError, -1: accepted */
  guint              status;      /* of the refusal */
  const char        *detail;      /* boundary, user or hash + name, to compare */
} HeadCase;

static const HeadCase head_cases[] = {
  { "POST /upload HTTP/1.1\r\n" FORM_TYPE AUTH "Content-Length: 100\r\n\r\n",
    TD_FILE_REQUEST_UPLOAD, -1, 0, "alice" },
  { "POST /upload HTTP/1.1\r\n" FORM_TYPE "Transfer-Encoding: chunked\r\n\r\n",
    TD_FILE_REQUEST_UPLOAD, -1, 0, NULL },
  { "GET /upload HTTP/1.1\r\n\r\n", 0, TD_FILE_REQUEST_ERROR_METHOD, 405, NULL },
  /* The method is judged before the type: a PUT of text is a 405. */
  { "PUT /upload HTTP/1.1\r\nContent-Type: text/plain\r\n\r\n", 0, TD_FILE_REQUEST_ERROR_METHOD, 405, NULL },
  { "POST /upload HTTP/1.1\r\nContent-Type: text/plain\r\n" AUTH "\r\n", 0, TD_FILE_REQUEST_ERROR_NOT_A_FORM, 415, NULL },
  { "POST /upload HTTP/1.1\r\nContent-Type: multipart/form-data\r\n\r\n", 0, TD_FILE_REQUEST_ERROR_NOT_A_FORM, 415, NULL },
  { "POST /upload HTTP/1.1\r\nContent-Type: multipart/form-data; boundary="
    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\r\n\r\n",
    0, TD_FILE_REQUEST_ERROR_NOT_A_FORM, 415, NULL },
  /* The size is judged before the credentials. */
  { "POST /upload HTTP/1.1\r\n" FORM_TYPE "Authorization: Basic !!\r\nContent-Length: 1200000\r\n\r\n",
    0, TD_FILE_REQUEST_ERROR_TOO_LARGE, 413, NULL },
  { "POST /upload HTTP/1.1\r\n" FORM_TYPE "Authorization: Basic !!\r\n\r\n",
    0, TD_FILE_REQUEST_ERROR_BAD_CREDENTIALS, 401, NULL },
  { "POST /upload HTTP/1.1\r\n" FORM_TYPE "Authorization: Basic YWxpY2U=\r\n\r\n",   /* no colon */
    0, TD_FILE_REQUEST_ERROR_BAD_CREDENTIALS, 401, NULL },
  { "POST /upload HTTP/1.1\r\n" FORM_TYPE "Authorization: Bearer abc\r\n\r\n",
    0, TD_FILE_REQUEST_ERROR_BAD_CREDENTIALS, 401, NULL },
  { "GET /f/" HASH "/photo.png HTTP/1.1\r\n\r\n", TD_FILE_REQUEST_DOWNLOAD, -1, 0, HASH "/photo.png" },
  { "HEAD /f/" HASH "/../x HTTP/1.1\r\n\r\n", TD_FILE_REQUEST_DOWNLOAD, -1, 0, HASH "/../x" },
  { "POST /f/" HASH "/photo.png HTTP/1.1\r\n\r\n", 0, TD_FILE_REQUEST_ERROR_METHOD, 405, NULL },
  { "GET /f/abc/photo.png HTTP/1.1\r\n\r\n", 0, TD_FILE_REQUEST_ERROR_NOT_FOUND, 404, NULL },
  { "GET /f/8FE4ACD2406A93231A6F883E12C8F70C95DD34A995DBBF351FA4B9826D89F9F2/a HTTP/1.1\r\n\r\n",
    0, TD_FILE_REQUEST_ERROR_NOT_FOUND, 404, NULL },
  { "GET / HTTP/1.1\r\n\r\n", TD_FILE_REQUEST_OTHER, -1, 0, NULL },
};

static void
test_head (gconstpointer data)
{
  const HeadCase *c = data;
  g_autoptr(SoupMessageHeaders) headers = soup_message_headers_new (SOUP_MESSAGE_HEADERS_REQUEST);
  g_autoptr(TdFileRequest) request = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *method = NULL;
  g_autofree char *path = NULL;
  guint status;

  status = soup_headers_parse_request (c->head, (int) strlen (c->head), headers, &method, &path, NULL);
  g_assert_cmpuint (status, ==, SOUP_STATUS_OK);
  request = td_file_request_parse (method, path, headers, 1024 * 1024, &error);

  if (c->error >= 0)
    {
      g_assert_null (request);
      g_assert_error (error, TD_FILE_REQUEST_ERROR, c->error);
      g_assert_cmpuint (td_file_request_error_status (error), ==, c->status);
      return;
    }
  g_assert_no_error (error);
  g_assert_cmpint (request->kind, ==, c->kind);
  if (c->kind == TD_FILE_REQUEST_UPLOAD)
    {
      g_assert_cmpstr (request->boundary, ==, BOUNDARY);
      g_assert_cmpstr (request->user, ==, c->detail);
      if (c->detail != NULL)
        {
          /* Only the first colon separates. */
          g_assert_cmpstr (request->password, ==, "secret:pass");
          g_assert_cmpint (request->content_length, ==, 100);
        }
      else
        g_assert_cmpint (request->content_length, ==, -1);
    }
  else if (c->kind == TD_FILE_REQUEST_DOWNLOAD)
    {
      g_autofree char *both = g_strconcat (request->hash, "/", request->name, NULL);

      g_assert_cmpstr (both, ==, c->detail);
    }
}

/* Reads @body fed in pieces of @piece bytes (0: whole) into a transcript
 * of parts, their bytes and the ending. */
static char *
read_form (const char *body,
           gsize       len,
           gsize       piece)
{
  g_autoptr(TdFormReader) reader = td_form_reader_new (BOUNDARY);
  GString *out = g_string_new (NULL);
  gsize offset = 0;

  for (;;)
    {
      gsize n = piece == 0 ? len - offset : MIN (piece, len - offset);
      TdFormEvent event;

      td_form_reader_feed (reader, (const guint8 *) body + offset, n);
      offset += n;
      do
        {
          g_autoptr(GError) error = NULL;
          const guint8 *bytes;
          gsize n_bytes;

          event = td_form_reader_next (reader, &bytes, &n_bytes, &error);
          if (event == TD_FORM_NEED_MORE)
            g_assert_cmpuint (td_form_reader_get_n_held (reader), <, TD_FORM_PART_HEADERS_MAX);
          else if (event == TD_FORM_PART)
            g_string_append_printf (out, "[%d %s]", td_form_reader_get_field (reader),
                                    td_form_reader_get_filename (reader) ? td_form_reader_get_filename (reader) : "-");
          else if (event == TD_FORM_DATA)
            g_string_append_len (out, (const char *) bytes, n_bytes);
          else if (event == TD_FORM_PART_END)
            g_string_append (out, "[end]");
          else if (event == TD_FORM_DONE)
            g_string_append (out, "[done]");
          else
            g_string_append_printf (out, "[error %s]", error->message);
        }
      while (event == TD_FORM_PART || event == TD_FORM_DATA || event == TD_FORM_PART_END);
      if (event != TD_FORM_NEED_MORE)
        break;
      if (offset == len)
        {
          g_string_append (out, "[early]");
          break;
        }
    }
  return g_string_free (out, FALSE);
}

#define PART(headers, body) "--" BOUNDARY "\r\n" headers "\r\n" body "\r\n"
#define FILE_HEADERS "Content-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n"
#define CAPTION_HEADERS "Content-Disposition: form-data; name=\"caption\"\r\n"
#define CLOSE "--" BOUNDARY "--\r\n"

typedef struct
{
  const char *body;
  const char *expected;
} FormCase;

static const FormCase form_cases[] = {
  { "preamble\r\n" PART (FILE_HEADERS, "hello\r\n--not the boundary") PART (CAPTION_HEADERS, "hi") CLOSE "epilogue",
    "[1 a.txt]hello\r\n--not the boundary[end][2 -]hi[end][done]" },
  { PART (FILE_HEADERS, "") CLOSE, "[1 a.txt][end][done]" },
  { PART ("Content-Disposition: form-data; name=\"other\"\r\n", "x") PART (FILE_HEADERS, "y") CLOSE,
    "[0 -]x[end][1 a.txt]y[end][done]" },
  { PART (FILE_HEADERS, "a") PART (FILE_HEADERS, "b") CLOSE, "[1 a.txt]a[end][error Only one file per upload]" },
  { PART ("Content-Type: text/plain\r\n", "a") CLOSE, "[error A form field has no valid Content-Disposition]" },
  { PART ("Content-Disposition: attachment; name=\"file\"\r\n", "a") CLOSE,
    "[error A form field has no valid Content-Disposition]" },
  /* libsoup finds no disposition type in this one (found by fuzzing). */
  { PART ("Content-Disposition: form\xd3\x9b\x9e\x8b\x9e\xc4\xdf\x89" "ame=\"file\"\r\n", "a") CLOSE,
    "[error A form field has no valid Content-Disposition]" },
  { "--" BOUNDARY "x\r\n" FILE_HEADERS "\r\na\r\n" CLOSE, "[error Malformed multipart boundary]" },
  /* Without the next delimiter, the last bytes could still be its start. */
  { PART (FILE_HEADERS, "abc"), "[1 a.txt][early]" },
  { PART (FILE_HEADERS, "a longer body than a delimiter, whose start is read"),
    "[1 a.txt]a longer body than a delimiter[early]" },
  { "no boundary at all", "[early]" },
};

static void
test_form (gconstpointer data)
{
  const FormCase *c = data;

  /* Whole, a byte at a time and in pieces of 7: the same reading. */
  for (gsize piece = 0; piece <= 7; piece += piece == 0 ? 1 : 6)
    {
      g_autofree char *got = read_form (c->body, strlen (c->body), piece);

      g_assert_cmpstr (got, ==, c->expected);
    }
}

static void
test_form_limits (void)
{
  g_autoptr(GString) many = g_string_new (NULL);
  g_autoptr(GString) long_headers = g_string_new ("--" BOUNDARY "\r\n" FILE_HEADERS "X-Pad: ");
  g_autoptr(GString) fits = NULL;
  g_autofree char *got = NULL;
  gsize pad;

  for (guint i = 0; i <= TD_FORM_MAX_PARTS; i++)
    g_string_append (many, PART ("Content-Disposition: form-data; name=\"x\"\r\n", "v"));
  g_string_append (many, CLOSE);
  got = read_form (many->str, many->len, 0);
  g_assert_true (g_str_has_suffix (got, "[end][error Too many form fields]"));
  g_clear_pointer (&got, g_free);

  /* A header block one byte over the limit is refused whether it comes
   * in one piece or in many; one that fits is read. */
  pad = TD_FORM_PART_HEADERS_MAX - strlen ("\r\n" FILE_HEADERS "X-Pad: \r\n\r\n");
  fits = g_string_new (long_headers->str);
  for (gsize i = 0; i < pad; i++)
    g_string_append_c (fits, 'a');
  g_string_append (fits, "\r\n\r\nbody\r\n" CLOSE);
  for (gsize piece = 0; piece <= 1000; piece += 1000)
    {
      got = read_form (fits->str, fits->len, piece);
      g_assert_cmpstr (got, ==, "[1 a.txt]body[end][done]");
      g_clear_pointer (&got, g_free);
    }
  for (gsize i = 0; i < pad + 1; i++)
    g_string_append_c (long_headers, 'a');
  g_string_append (long_headers, "\r\n\r\nbody\r\n" CLOSE);
  for (gsize piece = 0; piece <= 1000; piece += 1000)
    {
      got = read_form (long_headers->str, long_headers->len, piece);
      g_assert_cmpstr (got, ==, "[error Form field headers too long]");
      g_clear_pointer (&got, g_free);
    }
}

/* Memory stays flat: a large part goes through holding no more than a
 * delimiter's length, and bytes after the end are not kept. */
static void
test_form_flat (void)
{
  g_autoptr(TdFormReader) reader = td_form_reader_new (BOUNDARY);
  static const char head[] = "--" BOUNDARY "\r\n" FILE_HEADERS "\r\n";
  guint8 chunk[4096];
  gsize total = 0;
  const guint8 *bytes;
  gsize n;

  memset (chunk, 'x', sizeof chunk);
  td_form_reader_feed (reader, (const guint8 *) head, strlen (head));
  g_assert_cmpint (td_form_reader_next (reader, &bytes, &n, NULL), ==, TD_FORM_PART);
  for (guint i = 0; i < 1000; i++)
    {
      TdFormEvent event;

      td_form_reader_feed (reader, chunk, sizeof chunk);
      while ((event = td_form_reader_next (reader, &bytes, &n, NULL)) == TD_FORM_DATA)
        total += n;
      g_assert_cmpint (event, ==, TD_FORM_NEED_MORE);
      g_assert_cmpuint (td_form_reader_get_n_held (reader), <, strlen ("\r\n--" BOUNDARY));
    }
  td_form_reader_feed (reader, (const guint8 *) "\r\n" CLOSE, strlen ("\r\n" CLOSE));
  while (td_form_reader_next (reader, &bytes, &n, NULL) == TD_FORM_DATA)
    total += n;
  g_assert_cmpuint (total, ==, 1000 * sizeof chunk);
  g_assert_cmpint (td_form_reader_next (reader, &bytes, &n, NULL), ==, TD_FORM_DONE);
  g_assert_true (td_form_reader_is_done (reader));
  for (guint i = 0; i < 100; i++)
    td_form_reader_feed (reader, chunk, sizeof chunk);
  g_assert_cmpuint (td_form_reader_get_n_held (reader), ==, 0);
  g_assert_cmpint (td_form_reader_next (reader, &bytes, &n, NULL), ==, TD_FORM_DONE);
}

/* Every way of cutting a text in two gives the same answer as the whole. */
static void
test_text_check (void)
{
  static const struct { const char *text; gsize len; gboolean ok; } cases[] = {
    { "plain ascii", 11, TRUE },
    { "na\xc3\xafve \xe2\x82\xac \xf0\x9f\x93\xb7", 15, TRUE },
    { "cut \xe2\x82", 6, FALSE },            /* ends inside a character */
    { "nul\0here", 8, FALSE },
    { "\xc0\xaf overlong", 11, FALSE },
    { "\xed\xa0\x80 surrogate", 13, FALSE },
    { "\xf4\x90\x80\x80 too high", 13, FALSE },
    { "\xe2\x28\xa1", 3, FALSE },
  };

  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    for (gsize cut1 = 0; cut1 <= cases[c].len; cut1++)
      for (gsize cut2 = cut1; cut2 <= cases[c].len; cut2++)
        {
          TdTextCheck check;
          const guint8 *text = (const guint8 *) cases[c].text;

          td_text_check_init (&check);
          td_text_check_feed (&check, text, cut1);
          td_text_check_feed (&check, text + cut1, cut2 - cut1);
          td_text_check_feed (&check, text + cut2, cases[c].len - cut2);
          g_assert_cmpint (td_text_check_finish (&check), ==, cases[c].ok);
        }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (head_cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/td/file-request/head/%u", i);

      g_test_add_data_func (name, &head_cases[i], test_head);
    }
  for (guint i = 0; i < G_N_ELEMENTS (form_cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/td/file-request/form/%u", i);

      g_test_add_data_func (name, &form_cases[i], test_form);
    }
  g_test_add_func ("/td/file-request/form-limits", test_form_limits);
  g_test_add_func ("/td/file-request/form-flat", test_form_flat);
  g_test_add_func ("/td/file-request/text-check", test_text_check);
  return g_test_run ();
}
