/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-file-request"

#include "config.h"

#include <string.h>

#include "chat/td-file-request.h"
#include "chat/td-irc-accounts.h"

/*
 * Layers, lowest first: errors; credentials and hashes; the request
 * head; the multipart reader; the text check. Nothing here keeps state
 * between requests or touches the disk.
 */

G_DEFINE_QUARK (td-file-request-error-quark, td_file_request_error)

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

guint
td_file_request_error_status (const GError *error)
{
  g_return_val_if_fail (error != NULL, SOUP_STATUS_BAD_REQUEST);

  if (error->domain != TD_FILE_REQUEST_ERROR)
    return SOUP_STATUS_BAD_REQUEST;
  switch ((TdFileRequestError) error->code)
    {
    case TD_FILE_REQUEST_ERROR_METHOD:
      return SOUP_STATUS_METHOD_NOT_ALLOWED;
    case TD_FILE_REQUEST_ERROR_NOT_A_FORM:
      return SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE;
    case TD_FILE_REQUEST_ERROR_TOO_LARGE:
      return SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE;
    case TD_FILE_REQUEST_ERROR_BAD_CREDENTIALS:
      return SOUP_STATUS_UNAUTHORIZED;
    case TD_FILE_REQUEST_ERROR_NOT_FOUND:
      return SOUP_STATUS_NOT_FOUND;
    case TD_FILE_REQUEST_ERROR_BAD_FORM:
    default:
      return SOUP_STATUS_BAD_REQUEST;
    }
}

const char *
td_file_request_error_code (const GError *error)
{
  g_return_val_if_fail (error != NULL, "bad_request");

  if (error->domain != TD_FILE_REQUEST_ERROR)
    return "bad_request";
  switch ((TdFileRequestError) error->code)
    {
    case TD_FILE_REQUEST_ERROR_METHOD:
      return "method";
    case TD_FILE_REQUEST_ERROR_NOT_A_FORM:
    case TD_FILE_REQUEST_ERROR_BAD_FORM:
      return "bad_form";
    case TD_FILE_REQUEST_ERROR_TOO_LARGE:
      return "too_large";
    case TD_FILE_REQUEST_ERROR_BAD_CREDENTIALS:
      return "bad_credentials";
    case TD_FILE_REQUEST_ERROR_NOT_FOUND:
      return "not_found";
    default:
      return "bad_request";
    }
}

/* ------------------------------------------------------------------ */
/* Credentials and hashes                                              */
/* ------------------------------------------------------------------ */

gboolean
td_file_parse_basic_auth (const char  *header,
                          char       **user,
                          char       **password)
{
  g_autofree guchar *decoded = NULL;
  const char *b64, *colon;
  gsize len = 0;

  g_return_val_if_fail (user != NULL && password != NULL, FALSE);

  if (header == NULL || strlen (header) > TD_FILE_REQUEST_AUTH_HEADER_MAX ||
      g_ascii_strncasecmp (header, "Basic ", 6) != 0)
    return FALSE;
  b64 = header + 6;
  while (*b64 == ' ')
    b64++;
  if (*b64 == '\0' || strlen (b64) % 4 != 0)
    return FALSE;
  for (const char *p = b64; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '+' && *p != '/' && *p != '=')
      return FALSE;
  decoded = g_base64_decode (b64, &len);
  if (decoded == NULL || memchr (decoded, '\0', len) != NULL ||
      !g_utf8_validate_len ((const char *) decoded, len, NULL) ||
      (colon = memchr (decoded, ':', len)) == NULL || colon == (const char *) decoded ||
      len - (colon + 1 - (const char *) decoded) > TD_IRC_ACCOUNT_MAX_PASSWORD)
    {
      if (decoded != NULL)
        memset (decoded, 0, len);
      return FALSE;
    }
  *user = g_strndup ((const char *) decoded, colon - (const char *) decoded);
  *password = g_strndup (colon + 1, len - (colon + 1 - (const char *) decoded));
  memset (decoded, 0, len);
  return TRUE;
}

gboolean
td_file_is_hash (const char *s)
{
  if (s == NULL || strlen (s) != TD_FILE_HASH_LEN)
    return FALSE;
  for (guint i = 0; i < TD_FILE_HASH_LEN; i++)
    if (!g_ascii_isdigit (s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
      return FALSE;
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* The request head                                                    */
/* ------------------------------------------------------------------ */

void
td_file_request_free (TdFileRequest *request)
{
  if (request == NULL)
    return;
  if (request->password != NULL)
    memset (request->password, 0, strlen (request->password));
  g_free (request->password);
  g_free (request->user);
  g_free (request->boundary);
  g_free (request->hash);
  g_free (request->name);
  g_free (request);
}

static gboolean
parse_upload (TdFileRequest       *request,
              const char          *method,
              SoupMessageHeaders  *headers,
              gint64               max_size,
              GError             **error)
{
  g_autoptr(GHashTable) params = NULL;
  const char *type, *boundary, *authorization;
  gint64 max_body = max_size > G_MAXINT64 - TD_FILE_REQUEST_FORM_OVERHEAD
                    ? G_MAXINT64 : max_size + TD_FILE_REQUEST_FORM_OVERHEAD;

  request->kind = TD_FILE_REQUEST_UPLOAD;
  if (!g_str_equal (method, "POST"))
    {
      g_set_error_literal (error, TD_FILE_REQUEST_ERROR, TD_FILE_REQUEST_ERROR_METHOD,
                           "Uploads are POST requests");
      return FALSE;
    }

  type = soup_message_headers_get_content_type (headers, &params);
  boundary = type != NULL && params != NULL ? g_hash_table_lookup (params, "boundary") : NULL;
  if (type == NULL || g_ascii_strcasecmp (type, "multipart/form-data") != 0 ||
      boundary == NULL || *boundary == '\0' || strlen (boundary) > TD_FILE_REQUEST_BOUNDARY_MAX)
    {
      g_set_error_literal (error, TD_FILE_REQUEST_ERROR, TD_FILE_REQUEST_ERROR_NOT_A_FORM,
                           "Uploads are multipart/form-data with a “file” field");
      return FALSE;
    }
  request->boundary = g_strdup (boundary);

  if (soup_message_headers_get_encoding (headers) == SOUP_ENCODING_CONTENT_LENGTH)
    {
      request->content_length = soup_message_headers_get_content_length (headers);
      if (request->content_length > max_body)
        {
          g_set_error (error, TD_FILE_REQUEST_ERROR, TD_FILE_REQUEST_ERROR_TOO_LARGE,
                       "Files may be at most %" G_GINT64_FORMAT " bytes", max_size);
          return FALSE;
        }
    }

  authorization = soup_message_headers_get_one (headers, "Authorization");
  if (authorization != NULL && !td_file_parse_basic_auth (authorization, &request->user, &request->password))
    {
      g_set_error_literal (error, TD_FILE_REQUEST_ERROR, TD_FILE_REQUEST_ERROR_BAD_CREDENTIALS,
                           "Malformed Basic credentials");
      return FALSE;
    }
  return TRUE;
}

static gboolean
parse_download (TdFileRequest  *request,
                const char     *method,
                const char     *path,
                GError        **error)
{
  const char *rest = path + strlen ("/f/");
  const char *slash = strchr (rest, '/');

  request->kind = TD_FILE_REQUEST_DOWNLOAD;
  if (!g_str_equal (method, "GET") && !g_str_equal (method, "HEAD"))
    {
      g_set_error_literal (error, TD_FILE_REQUEST_ERROR, TD_FILE_REQUEST_ERROR_METHOD,
                           "Files are read with GET");
      return FALSE;
    }
  if (slash == NULL || slash - rest != TD_FILE_HASH_LEN)
    {
      g_set_error_literal (error, TD_FILE_REQUEST_ERROR, TD_FILE_REQUEST_ERROR_NOT_FOUND,
                           "No such file");
      return FALSE;
    }
  request->hash = g_strndup (rest, TD_FILE_HASH_LEN);
  if (!td_file_is_hash (request->hash))
    {
      g_set_error_literal (error, TD_FILE_REQUEST_ERROR, TD_FILE_REQUEST_ERROR_NOT_FOUND,
                           "No such file (it may have expired)");
      return FALSE;
    }
  request->name = g_strdup (slash + 1);
  return TRUE;
}

TdFileRequest *
td_file_request_parse (const char          *method,
                       const char          *path,
                       SoupMessageHeaders  *headers,
                       gint64               max_size,
                       GError             **error)
{
  g_autoptr(TdFileRequest) request = NULL;

  g_return_val_if_fail (method != NULL, NULL);
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (headers != NULL, NULL);

  request = g_new0 (TdFileRequest, 1);
  request->content_length = -1;
  if (g_str_equal (path, "/upload"))
    {
      if (!parse_upload (request, method, headers, max_size, error))
        return NULL;
    }
  else if (g_str_has_prefix (path, "/f/"))
    {
      if (!parse_download (request, method, path, error))
        return NULL;
    }
  else
    request->kind = TD_FILE_REQUEST_OTHER;
  return g_steal_pointer (&request);
}

/* ------------------------------------------------------------------ */
/* The multipart/form-data reader                                      */
/* ------------------------------------------------------------------ */

typedef enum
{
  FORM_PREAMBLE,
  FORM_AFTER_BOUNDARY,
  FORM_HEADERS,
  FORM_BODY,
  FORM_DONE,
  FORM_FAILED,
} FormState;

struct _TdFormReader
{
  FormState    state;
  GByteArray  *buf;
  gsize        consumed;       /* bytes at the start of buf handed out by the last event */
  char        *delimiter;      /* "\r\n--" BOUNDARY */
  gsize        delimiter_len;
  gsize        scanned;        /* FORM_HEADERS: bytes of buf searched for the blank line */
  guint        n_parts;
  gboolean     have_file;
  TdFormField  field;
  char        *filename;
  GError      *error;          /* FORM_FAILED: why */
};

TdFormReader *
td_form_reader_new (const char *boundary)
{
  TdFormReader *reader;

  g_return_val_if_fail (boundary != NULL && *boundary != '\0', NULL);

  reader = g_new0 (TdFormReader, 1);
  reader->buf = g_byte_array_new ();
  reader->delimiter = g_strconcat ("\r\n--", boundary, NULL);
  reader->delimiter_len = strlen (reader->delimiter);
  /* The body is read as if it started with CRLF, so the first boundary
   * (which has none before it) matches the delimiter too. */
  g_byte_array_append (reader->buf, (const guint8 *) "\r\n", 2);
  return reader;
}

void
td_form_reader_free (TdFormReader *reader)
{
  if (reader == NULL)
    return;
  g_byte_array_unref (reader->buf);
  g_free (reader->delimiter);
  g_free (reader->filename);
  g_clear_error (&reader->error);
  g_free (reader);
}

static void
drop_consumed (TdFormReader *reader)
{
  if (reader->consumed > 0)
    {
      g_byte_array_remove_range (reader->buf, 0, reader->consumed);
      reader->consumed = 0;
    }
}

void
td_form_reader_feed (TdFormReader *reader,
                     const guint8 *data,
                     gsize         len)
{
  g_return_if_fail (reader != NULL);
  g_return_if_fail (data != NULL || len == 0);

  drop_consumed (reader);
  if (reader->state == FORM_DONE || reader->state == FORM_FAILED)
    return;
  g_byte_array_append (reader->buf, data, len);
}

static gssize
find_bytes (const guint8 *haystack,
            gsize         len,
            const char   *needle,
            gsize         needle_len)
{
  const guint8 *p = haystack, *end = haystack + len;

  if (needle_len == 0 || len < needle_len)
    return -1;
  while ((gsize) (end - p) >= needle_len)
    {
      p = memchr (p, needle[0], (end - p) - needle_len + 1);
      if (p == NULL)
        return -1;
      if (memcmp (p, needle, needle_len) == 0)
        return p - haystack;
      p++;
    }
  return -1;
}

static TdFormEvent G_GNUC_PRINTF (2, 3)
form_fail (TdFormReader *reader,
           const char   *format,
           ...)
{
  va_list args;

  va_start (args, format);
  reader->error = g_error_new_valist (TD_FILE_REQUEST_ERROR, TD_FILE_REQUEST_ERROR_BAD_FORM, format, args);
  va_end (args);
  reader->state = FORM_FAILED;
  g_byte_array_set_size (reader->buf, 0);
  reader->consumed = 0;
  return TD_FORM_ERROR;
}

/* Reads the headers of one part (@text starts with the CRLF that ends
 * its boundary line and ends with the CRLF of its last header). */
static gboolean
part_begin (TdFormReader *reader,
            const char   *text,
            gsize         len)
{
  g_autoptr(SoupMessageHeaders) headers = soup_message_headers_new (SOUP_MESSAGE_HEADERS_MULTIPART);
  g_autofree char *copy = g_strndup (text, len);
  g_autofree char *disposition = NULL;
  g_autoptr(GHashTable) params = NULL;
  const char *name;

  if (++reader->n_parts > TD_FORM_MAX_PARTS)
    {
      form_fail (reader, "Too many form fields");
      return FALSE;
    }
  /* libsoup can answer TRUE with no disposition type for a value that is
   * not UTF-8 (found by fuzzing): that is no form-data either. */
  if (!soup_headers_parse (copy, (int) len, headers) ||
      !soup_message_headers_get_content_disposition (headers, &disposition, &params) ||
      disposition == NULL || params == NULL ||
      g_ascii_strcasecmp (disposition, "form-data") != 0 ||
      (name = g_hash_table_lookup (params, "name")) == NULL)
    {
      form_fail (reader, "A form field has no valid Content-Disposition");
      return FALSE;
    }

  g_clear_pointer (&reader->filename, g_free);
  if (g_str_equal (name, "file"))
    {
      if (reader->have_file)
        {
          form_fail (reader, "Only one file per upload");
          return FALSE;
        }
      reader->have_file = TRUE;
      reader->field = TD_FORM_FIELD_FILE;
      reader->filename = g_strdup (g_hash_table_lookup (params, "filename"));
    }
  else if (g_str_equal (name, "caption"))
    reader->field = TD_FORM_FIELD_CAPTION;
  else
    reader->field = TD_FORM_FIELD_OTHER;
  return TRUE;
}

TdFormEvent
td_form_reader_next (TdFormReader  *reader,
                     const guint8 **data,
                     gsize         *len,
                     GError       **error)
{
  GByteArray *buf;
  gssize at;

  g_return_val_if_fail (reader != NULL, TD_FORM_ERROR);
  g_return_val_if_fail (data != NULL && len != NULL, TD_FORM_ERROR);

  drop_consumed (reader);
  buf = reader->buf;
  *data = NULL;
  *len = 0;

  for (;;)
    switch (reader->state)
      {
      case FORM_PREAMBLE:
        at = find_bytes (buf->data, buf->len, reader->delimiter, reader->delimiter_len);
        if (at < 0)
          {
            /* Keep what could be the start of the delimiter. */
            if (buf->len >= reader->delimiter_len)
              g_byte_array_remove_range (buf, 0, buf->len - reader->delimiter_len + 1);
            return TD_FORM_NEED_MORE;
          }
        g_byte_array_remove_range (buf, 0, at + reader->delimiter_len);
        reader->state = FORM_AFTER_BOUNDARY;
        break;

      case FORM_AFTER_BOUNDARY:
        if (buf->len < 2)
          return TD_FORM_NEED_MORE;
        if (buf->data[0] == '-' && buf->data[1] == '-')
          {
            reader->state = FORM_DONE;
            g_byte_array_set_size (buf, 0);
            return TD_FORM_DONE;
          }
        if (buf->data[0] != '\r' || buf->data[1] != '\n')
          {
            form_fail (reader, "Malformed multipart boundary");
            g_propagate_error (error, g_error_copy (reader->error));
            return TD_FORM_ERROR;
          }
        reader->state = FORM_HEADERS;
        reader->scanned = 0;
        break;

      case FORM_HEADERS:
        {
          /* Only the bytes that came since the last look (and three
           * before, for a blank line cut in two) are searched again. */
          gsize from = reader->scanned > 3 ? reader->scanned - 3 : 0;

          at = find_bytes (buf->data + from, buf->len - from, "\r\n\r\n", 4);
          if (at >= 0)
            at += from;
          /* The limit holds however the body was cut: a block longer
           * than it is refused whether it came in one piece or many. */
          if ((at < 0 && buf->len >= TD_FORM_PART_HEADERS_MAX) ||
              (at >= 0 && (gsize) at + 4 > TD_FORM_PART_HEADERS_MAX))
            {
              form_fail (reader, "Form field headers too long");
              g_propagate_error (error, g_error_copy (reader->error));
              return TD_FORM_ERROR;
            }
          if (at < 0)
            {
              reader->scanned = buf->len;
              return TD_FORM_NEED_MORE;
            }
          if (!part_begin (reader, (const char *) buf->data, at + 2))
            {
              g_propagate_error (error, g_error_copy (reader->error));
              return TD_FORM_ERROR;
            }
          g_byte_array_remove_range (buf, 0, at + 4);
          reader->state = FORM_BODY;
          return TD_FORM_PART;
        }

      case FORM_BODY:
        at = find_bytes (buf->data, buf->len, reader->delimiter, reader->delimiter_len);
        if (at < 0)
          {
            /* Everything but what could be the start of the delimiter. */
            if (buf->len < reader->delimiter_len)
              return TD_FORM_NEED_MORE;
            reader->consumed = buf->len - reader->delimiter_len + 1;
            *data = buf->data;
            *len = reader->consumed;
            return TD_FORM_DATA;
          }
        if (at > 0)
          {
            reader->consumed = at;
            *data = buf->data;
            *len = at;
            return TD_FORM_DATA;
          }
        g_byte_array_remove_range (buf, 0, reader->delimiter_len);
        reader->state = FORM_AFTER_BOUNDARY;
        return TD_FORM_PART_END;

      case FORM_DONE:
        return TD_FORM_DONE;

      case FORM_FAILED:
      default:
        if (reader->error != NULL)
          g_propagate_error (error, g_error_copy (reader->error));
        return TD_FORM_ERROR;
      }
}

TdFormField
td_form_reader_get_field (TdFormReader *reader)
{
  g_return_val_if_fail (reader != NULL, TD_FORM_FIELD_OTHER);
  return reader->field;
}

const char *
td_form_reader_get_filename (TdFormReader *reader)
{
  g_return_val_if_fail (reader != NULL, NULL);
  return reader->filename;
}

gboolean
td_form_reader_is_done (TdFormReader *reader)
{
  g_return_val_if_fail (reader != NULL, FALSE);
  return reader->state == FORM_DONE;
}

gsize
td_form_reader_get_n_held (TdFormReader *reader)
{
  g_return_val_if_fail (reader != NULL, 0);
  return reader->buf->len - reader->consumed;
}

/* ------------------------------------------------------------------ */
/* Text check                                                          */
/* ------------------------------------------------------------------ */

/* Length of the UTF-8 sequence led by @b, or 0 if @b cannot lead one. */
static guint
utf8_sequence_length (guint8 b)
{
  if (b < 0x80)
    return 1;
  if (b >= 0xC2 && b <= 0xDF)
    return 2;
  if (b >= 0xE0 && b <= 0xEF)
    return 3;
  if (b >= 0xF0 && b <= 0xF4)
    return 4;
  return 0;
}

void
td_text_check_init (TdTextCheck *check)
{
  g_return_if_fail (check != NULL);

  memset (check, 0, sizeof *check);
  check->ok = TRUE;
}

void
td_text_check_feed (TdTextCheck  *check,
                    const guint8 *data,
                    gsize         len)
{
  const char *end = NULL;

  g_return_if_fail (check != NULL);

  if (!check->ok || len == 0)
    return;
  if (memchr (data, '\0', len) != NULL)
    {
      check->ok = FALSE;
      return;
    }
  if (check->carry_len > 0)
    {
      guint need = utf8_sequence_length (check->carry[0]) - check->carry_len;
      guint take = MIN (need, len);

      memcpy (check->carry + check->carry_len, data, take);
      check->carry_len += take;
      data += take;
      len -= take;
      if (take < need)
        return;
      if (!g_utf8_validate_len ((const char *) check->carry, check->carry_len, NULL))
        {
          check->ok = FALSE;
          return;
        }
      check->carry_len = 0;
    }
  if (g_utf8_validate_len ((const char *) data, len, &end))
    return;
  {
    gsize rest = data + len - (const guint8 *) end;
    guint need = utf8_sequence_length ((guint8) *end);

    /* A character cut at the end of this piece waits for the next. */
    if (rest < 4 && need > rest)
      {
        for (gsize i = 1; i < rest; i++)
          if ((((const guint8 *) end)[i] & 0xC0) != 0x80)
            {
              check->ok = FALSE;
              return;
            }
        memcpy (check->carry, end, rest);
        check->carry_len = rest;
        return;
      }
  }
  check->ok = FALSE;
}

gboolean
td_text_check_finish (TdTextCheck *check)
{
  g_return_val_if_fail (check != NULL, FALSE);

  if (check->carry_len > 0)
    check->ok = FALSE;
  return check->ok;
}
