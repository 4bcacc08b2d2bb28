/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

/*
 * What the file host reads from a client, as pure functions: no sockets,
 * no files, no host state. libsoup parses the HTTP framing (request line,
 * headers, chunked bodies); this is everything the host reads on top of
 * it, and what tests/fuzz/fuzz-file-request.c drives with hostile bytes.
 *
 *   td_file_request_parse()   method, path and headers -> an upload (with
 *                             its form boundary and credentials), a
 *                             download (hash and name), or a refusal;
 *   TdFormReader              the multipart/form-data body, streamed:
 *                             bytes in, parts and their bytes out, with
 *                             only a delimiter's length held back;
 *   TdTextCheck               whether a file streamed in pieces is UTF-8
 *                             without NUL, whatever the piece boundaries.
 *
 * Every refusal is a TD_FILE_REQUEST_ERROR; the host turns the code into
 * an HTTP status (td_file_request_error_status()).
 */

#define TD_FILE_REQUEST_ERROR (td_file_request_error_quark ())

typedef enum
{
  TD_FILE_REQUEST_ERROR_METHOD,           /* 405: wrong method for the path */
  TD_FILE_REQUEST_ERROR_NOT_A_FORM,       /* 415: an upload that is not multipart/form-data */
  TD_FILE_REQUEST_ERROR_BAD_FORM,         /* 400: a malformed form body */
  TD_FILE_REQUEST_ERROR_TOO_LARGE,        /* 413 */
  TD_FILE_REQUEST_ERROR_BAD_CREDENTIALS,  /* 401: an Authorization that is not Basic USER:PASSWORD */
  TD_FILE_REQUEST_ERROR_NOT_FOUND,        /* 404: a path that names no file */
} TdFileRequestError;

typedef enum
{
  TD_FILE_REQUEST_UPLOAD,     /* POST /upload */
  TD_FILE_REQUEST_DOWNLOAD,   /* GET or HEAD /f/HASH/NAME */
  TD_FILE_REQUEST_OTHER,      /* any other path: nothing there */
} TdFileRequestKind;

/* Room for the multipart framing (boundaries, part headers, a caption)
 * around the file itself when judging a Content-Length. */
#define TD_FILE_REQUEST_FORM_OVERHEAD    (64 * 1024)
/* RFC 2046 §5.1.1: boundaries are 1 to 70 characters. */
#define TD_FILE_REQUEST_BOUNDARY_MAX     70
/* An Authorization header longer than this is not a user and password. */
#define TD_FILE_REQUEST_AUTH_HEADER_MAX  1024
/* The header block of one part (Content-Disposition and friends), from
 * the end of its boundary line to its blank line included. */
#define TD_FORM_PART_HEADERS_MAX         (8 * 1024)
/* Fields other than `file` and `caption` are skipped; this many are
 * allowed so that a form of a million empty parts is refused. */
#define TD_FORM_MAX_PARTS                8
/* SHA-256 in lowercase hex: how files are named in URLs. */
#define TD_FILE_HASH_LEN                 64

typedef struct
{
  TdFileRequestKind  kind;
  /* Uploads */
  char              *boundary;        /* of the multipart body */
  gint64             content_length;  /* -1: not given (chunked) */
  char              *user;            /* from Authorization; NULL: none given */
  char              *password;        /* wiped when freed */
  /* Downloads */
  char              *hash;            /* 64 lowercase hex digits */
  char              *name;            /* the rest of the path, as sent */
} TdFileRequest;

GQuark         td_file_request_error_quark  (void);
guint          td_file_request_error_status (const GError       *error);
/* The code of the JSON error body for @error ("method", "bad_form", ...). */
const char    *td_file_request_error_code   (const GError       *error);

/* Reads what a request asks for from its @method, @path (decoded, as a
 * SoupServer handler gets it) and request @headers. Uploads are checked
 * in the order the host answers them: method, form type and boundary,
 * Content-Length against @max_size (the largest file) plus the form's
 * overhead, then the syntax of the credentials. Returns NULL with @error
 * set when the request is refused. */
TdFileRequest *td_file_request_parse        (const char         *method,
                                             const char         *path,
                                             SoupMessageHeaders *headers,
                                             gint64              max_size,
                                             GError            **error);
void           td_file_request_free         (TdFileRequest      *request);

/* Splits an `Authorization: Basic` value. Returns FALSE when it is not
 * one; the caller owns (and should wipe) the password. */
gboolean       td_file_parse_basic_auth     (const char         *header,
                                             char              **user,
                                             char              **password);
/* TRUE if @s is a SHA-256 in lowercase hex. */
gboolean       td_file_is_hash              (const char         *s);

/* ------------------------------------------------------------------ */
/* The multipart/form-data reader                                      */
/* ------------------------------------------------------------------ */

typedef enum
{
  TD_FORM_FIELD_OTHER,      /* skipped */
  TD_FORM_FIELD_FILE,       /* name="file" */
  TD_FORM_FIELD_CAPTION,    /* name="caption" */
} TdFormField;

typedef enum
{
  TD_FORM_NEED_MORE,        /* everything fed so far is read */
  TD_FORM_PART,             /* a part begins: see get_field() and get_filename() */
  TD_FORM_DATA,             /* bytes of the current part */
  TD_FORM_PART_END,         /* the current part ended */
  TD_FORM_DONE,             /* the closing delimiter: the rest is ignored */
  TD_FORM_ERROR,            /* the form is malformed; it stays so */
} TdFormEvent;

typedef struct _TdFormReader TdFormReader;

TdFormReader  *td_form_reader_new           (const char         *boundary);
void           td_form_reader_free          (TdFormReader       *reader);
/* Adds body bytes. Bytes after the closing delimiter or an error are
 * dropped. The data of the last TD_FORM_DATA event is invalid after. */
void           td_form_reader_feed          (TdFormReader       *reader,
                                             const guint8       *data,
                                             gsize               len);
/* The next event. TD_FORM_DATA sets @data and @len (valid until the next
 * call of next() or feed()); TD_FORM_ERROR sets @error. The events do
 * not depend on how the body was cut into pieces, except that the bytes
 * of a part may come in more or fewer TD_FORM_DATA events. */
TdFormEvent    td_form_reader_next          (TdFormReader       *reader,
                                             const guint8      **data,
                                             gsize              *len,
                                             GError            **error);
/* The current part's field, and its filename parameter (NULL if none). */
TdFormField    td_form_reader_get_field     (TdFormReader       *reader);
const char    *td_form_reader_get_filename  (TdFormReader       *reader);
/* TRUE once the closing delimiter was read. */
gboolean       td_form_reader_is_done       (TdFormReader       *reader);
/* Bytes held between events: at most TD_FORM_PART_HEADERS_MAX or the
 * delimiter's length once next() answered TD_FORM_NEED_MORE. */
gsize          td_form_reader_get_n_held    (TdFormReader       *reader);

/* ------------------------------------------------------------------ */
/* Text check                                                          */
/* ------------------------------------------------------------------ */

/* Whether a file that comes in pieces is valid UTF-8 without NUL. */
typedef struct
{
  gboolean ok;
  guint8   carry[4];   /* an incomplete character at the end of a piece */
  gsize    carry_len;
} TdTextCheck;

void           td_text_check_init           (TdTextCheck        *check);
void           td_text_check_feed           (TdTextCheck        *check,
                                             const guint8       *data,
                                             gsize               len);
/* TRUE if everything fed is UTF-8 without NUL and ends on a whole
 * character. */
gboolean       td_text_check_finish         (TdTextCheck        *check);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdFileRequest, td_file_request_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdFormReader, td_form_reader_free)

G_END_DECLS
