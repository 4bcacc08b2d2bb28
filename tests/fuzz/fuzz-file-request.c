/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A request to tidingsd's file host, as a client sends it: the head goes
 * through libsoup's request parser (as SoupServer runs it) and
 * td_file_request_parse(); an upload's body goes through the multipart
 * reader twice, in one piece and in pieces of 1 to 64 bytes, and both
 * readings must tell the same story: the same parts, the same bytes in
 * each, the same ending. The text check of each file part must agree
 * with a check of the whole part. */
#include <glib.h>
#include <libsoup/soup.h>
#include <stdint.h>
#include <string.h>

#include "chat/td-file-request.h"
#include "chat/td-irc-accounts.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* The largest file the host is configured for, in this target. */
#define FUZZ_MAX_SIZE (1024 * 1024)

static guint32
next_random (guint32 *state)
{
  /* xorshift32: the piece sizes come from the input, so that a finding
   * replays the same way. */
  *state ^= *state << 13;
  *state ^= *state >> 17;
  *state ^= *state << 5;
  return *state;
}

static gboolean
contains (const guint8 *haystack,
          gsize         len,
          const char   *needle)
{
  gsize n = strlen (needle);

  for (gsize i = 0; i + n <= len; i++)
    if (memcmp (haystack + i, needle, n) == 0)
      return TRUE;
  return FALSE;
}

/* Reads @body as the form with @boundary, fed whole or in pieces, and
 * writes what was read to @out. */
static void
read_form (const char   *boundary,
           const guint8 *body,
           gsize         len,
           guint32       seed,
           GString      *out)
{
  g_autoptr(TdFormReader) reader = td_form_reader_new (boundary);
  g_autoptr(GByteArray) part = g_byte_array_new ();
  g_autofree char *delimiter = g_strconcat ("\r\n--", boundary, NULL);
  gsize limit = MAX (TD_FORM_PART_HEADERS_MAX, strlen (delimiter));
  TdFormField field = TD_FORM_FIELD_OTHER;
  gboolean in_part = FALSE;
  TdTextCheck text;
  guint32 state = seed | 1;
  gsize offset = 0;

  td_text_check_init (&text);
  for (;;)
    {
      gsize n = len - offset;
      TdFormEvent event;

      if (seed != 0 && n > 0)
        {
          gsize piece = 1 + next_random (&state) % 64;

          n = MIN (n, piece);
        }
      td_form_reader_feed (reader, body + offset, n);
      offset += n;

      do
        {
          g_autoptr(GError) error = NULL;
          const guint8 *bytes = NULL;
          gsize n_bytes = 0;

          event = td_form_reader_next (reader, &bytes, &n_bytes, &error);
          g_assert ((event == TD_FORM_ERROR) == (error != NULL));
          switch (event)
            {
            case TD_FORM_NEED_MORE:
              /* Memory stays flat whatever the body. */
              g_assert_cmpuint (td_form_reader_get_n_held (reader), <, limit);
              break;

            case TD_FORM_PART:
              g_assert_false (in_part);
              in_part = TRUE;
              field = td_form_reader_get_field (reader);
              g_byte_array_set_size (part, 0);
              td_text_check_init (&text);
              g_string_append_printf (out, "part %d filename %s\n", field,
                                      td_form_reader_get_filename (reader)
                                      ? td_form_reader_get_filename (reader) : "(none)");
              break;

            case TD_FORM_DATA:
              g_assert_true (in_part);
              g_assert_nonnull (bytes);
              g_assert_cmpuint (n_bytes, >, 0);
              g_byte_array_append (part, bytes, n_bytes);
              td_text_check_feed (&text, bytes, n_bytes);
              break;

            case TD_FORM_PART_END:
              {
                gboolean text_ok = td_text_check_finish (&text);
                gboolean expected = part->len == 0 ||
                                    (memchr (part->data, '\0', part->len) == NULL &&
                                     g_utf8_validate_len ((const char *) part->data, part->len, NULL));

                g_assert_true (in_part);
                in_part = FALSE;
                /* A part never carries the delimiter that ends it. */
                g_assert_false (contains (part->data, part->len, delimiter));
                g_assert_cmpint (text_ok, ==, expected);
                g_string_append_printf (out, "end %u bytes, text %d: ", part->len, text_ok);
                g_string_append_len (out, (const char *) part->data, part->len);
                g_string_append_c (out, '\n');
              }
              break;

            case TD_FORM_DONE:
              g_assert_false (in_part);
              g_assert_true (td_form_reader_is_done (reader));
              g_string_append (out, "done\n");
              break;

            case TD_FORM_ERROR:
            default:
              g_assert_true (g_error_matches (error, TD_FILE_REQUEST_ERROR, TD_FILE_REQUEST_ERROR_BAD_FORM));
              g_assert_true (g_utf8_validate (error->message, -1, NULL));
              g_assert_false (td_form_reader_is_done (reader));
              g_string_append_printf (out, "error %s\n", error->message);
              break;
            }
        }
      while (event != TD_FORM_NEED_MORE && event != TD_FORM_DONE && event != TD_FORM_ERROR);

      if (event == TD_FORM_DONE || event == TD_FORM_ERROR)
        {
          g_autoptr(GError) again = NULL;
          const guint8 *bytes;
          gsize n_bytes;

          /* The end is final: more bytes change nothing. */
          td_form_reader_feed (reader, (const guint8 *) "\r\n--x\r\n", 7);
          g_assert_cmpint (td_form_reader_next (reader, &bytes, &n_bytes, &again), ==, event);
          g_assert_cmpuint (td_form_reader_get_n_held (reader), ==, 0);
          return;
        }
      if (offset == len)
        {
          g_string_append (out, "ends early\n");
          return;
        }
    }
}

static void
check_request (const TdFileRequest *request,
               const guint8        *body,
               gsize                len)
{
  switch (request->kind)
    {
    case TD_FILE_REQUEST_UPLOAD:
      {
        g_autoptr(GString) whole = g_string_new (NULL);
        g_autoptr(GString) pieces = g_string_new (NULL);
        guint32 seed = 2166136261u;

        g_assert_nonnull (request->boundary);
        g_assert_cmpuint (strlen (request->boundary), >=, 1);
        g_assert_cmpuint (strlen (request->boundary), <=, TD_FILE_REQUEST_BOUNDARY_MAX);
        g_assert_cmpint (request->content_length, <=, FUZZ_MAX_SIZE + TD_FILE_REQUEST_FORM_OVERHEAD);
        g_assert_true ((request->user == NULL) == (request->password == NULL));
        if (request->user != NULL)
          {
            g_assert_cmpuint (strlen (request->user), >, 0);
            g_assert_null (strchr (request->user, ':'));
            g_assert_true (g_utf8_validate (request->user, -1, NULL));
            g_assert_true (g_utf8_validate (request->password, -1, NULL));
            g_assert_cmpuint (strlen (request->password), <=, TD_IRC_ACCOUNT_MAX_PASSWORD);
          }

        for (gsize i = 0; i < len; i++)
          seed = (seed ^ body[i]) * 16777619u;
        read_form (request->boundary, body, len, 0, whole);
        read_form (request->boundary, body, len, seed ? seed : 1, pieces);
        g_assert_cmpstr (whole->str, ==, pieces->str);
      }
      break;

    case TD_FILE_REQUEST_DOWNLOAD:
      g_assert_true (td_file_is_hash (request->hash));
      g_assert_nonnull (request->name);
      g_assert_null (request->boundary);
      g_assert_null (request->user);
      break;

    case TD_FILE_REQUEST_OTHER:
    default:
      g_assert_null (request->hash);
      g_assert_null (request->boundary);
      break;
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(SoupMessageHeaders) headers = soup_message_headers_new (SOUP_MESSAGE_HEADERS_REQUEST);
  g_autoptr(TdFileRequest) request = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *method = NULL;
  g_autofree char *target = NULL;
  g_autofree char *url = NULL;
  g_autoptr(GUri) uri = NULL;
  g_autofree char *path = NULL;
  const guint8 *end = NULL;
  gsize head_len;
  guint status;

  if (size > G_MAXINT)
    return 0;
  for (gsize i = 0; i + 4 <= size; i++)
    if (memcmp (data + i, "\r\n\r\n", 4) == 0)
      {
        end = data + i + 4;
        break;
      }
  head_len = end != NULL ? (gsize) (end - data) : size;

  /* SoupServer reads the head up to its blank line with this parser and
   * answers a malformed one by itself. */
  status = soup_headers_parse_request ((const char *) data, (int) head_len, headers, &method, &target, NULL);
  if (!SOUP_STATUS_IS_SUCCESSFUL (status) || method == NULL || target == NULL)
    return 0;

  /* Handlers get the path of the request's URI, decoded, as SoupServer
   * makes it; a target that does not parse or decode is a 400 from
   * libsoup. */
  url = target[0] == '/' ? g_strconcat ("http://127.0.0.1", target, NULL) : g_strdup (target);
  uri = g_uri_parse (url, G_URI_FLAGS_HAS_PASSWORD | G_URI_FLAGS_ENCODED_PATH | G_URI_FLAGS_ENCODED_QUERY |
                     G_URI_FLAGS_ENCODED_FRAGMENT | G_URI_FLAGS_SCHEME_NORMALIZE, NULL);
  if (uri == NULL)
    return 0;
  path = g_uri_unescape_string (g_uri_get_path (uri), NULL);
  if (path == NULL)
    return 0;

  request = td_file_request_parse (method, path, headers, FUZZ_MAX_SIZE, &error);
  g_assert ((request == NULL) == (error != NULL));
  if (request == NULL)
    {
      guint code = td_file_request_error_status (error);

      g_assert_true (error->domain == TD_FILE_REQUEST_ERROR);
      g_assert_true (code == 401 || code == 404 || code == 405 || code == 413 || code == 415);
      g_assert_nonnull (td_file_request_error_code (error));
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      return 0;
    }
  check_request (request, data + head_len, size - head_len);
  return 0;
}
