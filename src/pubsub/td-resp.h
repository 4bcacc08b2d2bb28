/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * RESP2, both directions.
 *
 * Server side: TdRespParser reads requests (multibulk `*N $len ...` and
 * inline telnet lines split with Redis' sdssplitargs rules) incrementally
 * from a query buffer, with Redis' exact protocol errors and limits; the
 * td_resp_append_*() writers format replies.
 *
 * Client side: TdRespReader turns a byte stream of replies (simple
 * strings, errors, integers, bulk and null bulk strings, arrays, nested)
 * into TdRespValue trees, for the Pub/Sub view's client.
 */

/* Longest inline request, and longest `*N` / `$N` header line, that may be
 * buffered without a newline (Redis PROTO_INLINE_MAX_SIZE). */
#define TD_RESP_INLINE_MAX              (64 * 1024)

/* Default and smallest proto-max-bulk-len: Redis' 512 MiB default, and its
 * 1 MiB floor for the configurable value. */
#define TD_RESP_DEFAULT_MAX_BULK_LEN    (512 * 1024 * 1024)
#define TD_RESP_MIN_MAX_BULK_LEN        (1024 * 1024)

/* A multibulk count above INT_MAX is rejected, as in Redis. */
#define TD_RESP_MAX_MULTIBULK_LEN       G_MAXINT

/* Before AUTH, Redis refuses requests with more than 10 arguments or a
 * bulk over 16 KiB, so an unauthenticated peer cannot make the server
 * buffer much. */
#define TD_RESP_UNAUTH_MAX_MULTIBULK    10
#define TD_RESP_UNAUTH_MAX_BULK         16384

/* Elements preallocated for an array (a request's arguments, a reply's
 * elements); a bigger `*N` grows the array as elements arrive, so a huge
 * announced count costs nothing up front. */
#define TD_RESP_ARGV_PREALLOC           1024

/* ------------------------------------------------------------------ */
/* Request parser (server side)                                        */

typedef enum
{
  TD_RESP_PARSE_INCOMPLETE,   /* feed the same bytes again with more appended */
  TD_RESP_PARSE_REQUEST,      /* one request parsed (argc may be 0: ignore it) */
  TD_RESP_PARSE_ERROR,        /* protocol error: reply with it, then close */
} TdRespParseStatus;

typedef struct
{
  const char *data;
  gsize       len;
} TdRespArg;

typedef struct _TdRespParser TdRespParser;

TdRespParser      *td_resp_parser_new              (void);
void               td_resp_parser_free             (TdRespParser *parser);
void               td_resp_parser_set_max_bulk_len (TdRespParser *parser,
                                                    gsize         max_bulk_len);
void               td_resp_parser_reset            (TdRespParser *parser);
TdRespParseStatus  td_resp_parser_parse            (TdRespParser *parser,
                                                    const char   *buf,
                                                    gsize         len,
                                                    gboolean      authenticated,
                                                    gsize        *consumed);
guint              td_resp_parser_get_argc         (TdRespParser *parser);
const TdRespArg   *td_resp_parser_get_argv         (TdRespParser *parser);
const char        *td_resp_parser_get_error        (TdRespParser *parser);
gsize              td_resp_parser_get_pending_bulk (TdRespParser *parser);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdRespParser, td_resp_parser_free)

gboolean           td_resp_string2ll               (const char   *s,
                                                    gsize         len,
                                                    gint64       *value);
char             **td_resp_split_args              (const char   *line,
                                                    gsize         len,
                                                    gsize       **lengths,
                                                    guint        *argc);

/* ------------------------------------------------------------------ */
/* Reply writers                                                       */

void    td_resp_append_simple      (GByteArray *out,
                                    const char *str);
void    td_resp_append_error       (GByteArray *out,
                                    const char *msg);
void    td_resp_append_error_printf (GByteArray *out,
                                    const char *format,
                                    ...) G_GNUC_PRINTF (2, 3);
void    td_resp_append_integer     (GByteArray *out,
                                    gint64      value);
void    td_resp_append_bulk        (GByteArray *out,
                                    const char *data,
                                    gsize       len);
void    td_resp_append_bulk_str    (GByteArray *out,
                                    const char *str);
void    td_resp_append_null_bulk   (GByteArray *out);
void    td_resp_append_array_len   (GByteArray *out,
                                    gint64      len);
gsize   td_resp_format_int         (char       *buf,
                                    gint64      value);

GBytes *td_resp_build_message      (const char *channel,
                                    gsize       channel_len,
                                    const char *payload,
                                    gsize       payload_len);
GBytes *td_resp_build_pmessage     (const char *pattern,
                                    gsize       pattern_len,
                                    const char *channel,
                                    gsize       channel_len,
                                    const char *payload,
                                    gsize       payload_len);
GBytes *td_resp_build_command      (guint       argc,
                                    const char *const *argv,
                                    const gsize *lengths);

/* ------------------------------------------------------------------ */
/* Reply reader (client side)                                          */

#define TD_RESP_ERROR (td_resp_error_quark ())

typedef enum
{
  TD_RESP_ERROR_PROTOCOL,     /* the stream is not RESP2: drop the connection */
  TD_RESP_ERROR_LIMIT,        /* a value exceeds the reader's limits */
} TdRespError;

/* Nested arrays deeper than this are refused (hiredis uses 7; servers
 * send at most 2 levels for pub/sub, 3 for COMMAND DOCS). */
#define TD_RESP_READER_MAX_DEPTH        32

typedef enum
{
  TD_RESP_VALUE_SIMPLE,
  TD_RESP_VALUE_ERROR,
  TD_RESP_VALUE_INTEGER,
  TD_RESP_VALUE_BULK,
  TD_RESP_VALUE_NULL,         /* `$-1` */
  TD_RESP_VALUE_ARRAY,
  TD_RESP_VALUE_NULL_ARRAY,   /* `*-1` */
} TdRespValueType;

typedef struct _TdRespValue TdRespValue;

struct _TdRespValue
{
  TdRespValueType   type;
  gint64            integer;    /* INTEGER */
  char             *str;        /* SIMPLE, ERROR, BULK: NUL-terminated, may hold NULs */
  gsize             len;
  TdRespValue     **elements;   /* ARRAY */
  gsize             n_elements;
};

void         td_resp_value_free     (TdRespValue *value);
gboolean     td_resp_value_is_push  (const TdRespValue *value,
                                     const char        *kind);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdRespValue, td_resp_value_free)

typedef enum
{
  TD_RESP_READ_NEED_MORE,
  TD_RESP_READ_VALUE,
  TD_RESP_READ_ERROR,
} TdRespReadStatus;

typedef struct _TdRespReader TdRespReader;

TdRespReader     *td_resp_reader_new         (gsize          max_bulk_len);
void              td_resp_reader_free        (TdRespReader  *reader);
void              td_resp_reader_feed        (TdRespReader  *reader,
                                              const char    *data,
                                              gsize          len);
TdRespReadStatus  td_resp_reader_pop         (TdRespReader  *reader,
                                              TdRespValue  **value,
                                              GError       **error);
gsize             td_resp_reader_get_buffered (TdRespReader *reader);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdRespReader, td_resp_reader_free)

GQuark       td_resp_error_quark    (void);

G_END_DECLS
