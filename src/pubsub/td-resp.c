/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-resp"

#include "config.h"

#include <stdio.h>
#include <string.h>

#include "pubsub/td-resp.h"

/*
 * The request parser follows Redis 7.0's processInlineBuffer() and
 * processMultibulkBuffer() step by step, including their quirks, because
 * the replies must match byte for byte:
 *  - header lines are searched with strchr(), so a NUL byte before the
 *    `\r` hides the line (find_cstr() reproduces that);
 *  - the byte after a header's `\r` and the two bytes after a bulk are
 *    skipped without being checked;
 *  - inline lines are split as C strings (a NUL ends the line).
 * The reply reader, on the other hand, is strict: it is the client side
 * and refuses anything that is not well-formed RESP2.
 */

G_DEFINE_QUARK (td-resp-error-quark, td_resp_error)

/* ------------------------------------------------------------------ */
/* Numbers                                                             */

/* Digits in the longest long long plus sign and NUL (Redis LONG_STR_SIZE). */
#define TD_RESP_LONG_STR_SIZE 21

/* Redis' string2ll(): strict decimal, no `+`, no leading zeros, no spaces.
 * Returns TRUE and sets @value when the whole of @s is such a number. */
gboolean
td_resp_string2ll (const char *s,
                   gsize       slen,
                   gint64     *value)
{
  const char *p = s;
  gsize plen = 0;
  gboolean negative = FALSE;
  guint64 v;

  if (slen == 0 || slen >= TD_RESP_LONG_STR_SIZE)
    return FALSE;

  if (slen == 1 && p[0] == '0')
    {
      if (value != NULL)
        *value = 0;
      return TRUE;
    }

  if (p[0] == '-')
    {
      negative = TRUE;
      p++;
      plen++;
      if (plen == slen)
        return FALSE;
    }

  if (p[0] >= '1' && p[0] <= '9')
    {
      v = (guint64) (p[0] - '0');
      p++;
      plen++;
    }
  else
    return FALSE;

  while (plen < slen && p[0] >= '0' && p[0] <= '9')
    {
      if (v > G_MAXUINT64 / 10)
        return FALSE;
      v *= 10;
      if (v > G_MAXUINT64 - (guint64) (p[0] - '0'))
        return FALSE;
      v += (guint64) (p[0] - '0');
      p++;
      plen++;
    }

  if (plen < slen)
    return FALSE;

  if (negative)
    {
      if (v > ((guint64) (-(G_MININT64 + 1))) + 1)
        return FALSE;
      if (value != NULL)
        *value = (gint64) (0 - v);
    }
  else
    {
      if (v > G_MAXINT64)
        return FALSE;
      if (value != NULL)
        *value = (gint64) v;
    }
  return TRUE;
}

/* Writes @value in decimal to @buf (at least 21 bytes), no NUL; returns
 * the length. */
gsize
td_resp_format_int (char   *buf,
                    gint64  value)
{
  char tmp[TD_RESP_LONG_STR_SIZE];
  guint64 v;
  gsize n = 0, len = 0;

  if (value < 0)
    {
      buf[len++] = '-';
      v = (guint64) 0 - (guint64) value;
    }
  else
    v = (guint64) value;

  do
    {
      tmp[n++] = (char) ('0' + v % 10);
      v /= 10;
    }
  while (v != 0);

  while (n > 0)
    buf[len++] = tmp[--n];
  return len;
}

/* ------------------------------------------------------------------ */
/* sdssplitargs                                                        */

static gboolean
is_hex_digit (char c)
{
  return g_ascii_isxdigit (c);
}

static int
hex_value (char c)
{
  return g_ascii_xdigit_value (c);
}

/* Splits an inline request like Redis' sdssplitargs(): the line is read as
 * a C string (it ends at the first NUL); blanks separate arguments; "..."
 * understands \xHH, \n, \r, \t, \b, \a and `\c` = c; '...' understands
 * only \'. A closing quote must be followed by a blank or the end.
 * Returns NULL on unbalanced quotes; otherwise a NULL-terminated vector
 * (free with g_strfreev()) whose lengths are in @lengths (g_free()). */
char **
td_resp_split_args (const char  *line,
                    gsize        len,
                    gsize      **lengths,
                    guint       *argc)
{
  g_autoptr(GPtrArray) vector = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GArray) lens = g_array_new (FALSE, FALSE, sizeof (gsize));
  const char *end = line + len;
  const char *p = line;

#define AT(q) ((q) < end ? *(q) : '\0')

  for (;;)
    {
      while (AT (p) != '\0' && g_ascii_isspace (AT (p)))
        p++;
      if (AT (p) == '\0')
        break;
      else
        {
          g_autoptr(GString) current = g_string_new (NULL);
          gboolean inq = FALSE, insq = FALSE, done = FALSE;

          while (!done)
            {
              char c = AT (p);

              if (inq)
                {
                  if (c == '\\' && AT (p + 1) == 'x' &&
                      is_hex_digit (AT (p + 2)) && is_hex_digit (AT (p + 3)))
                    {
                      g_string_append_c (current,
                                         (char) (hex_value (AT (p + 2)) * 16 + hex_value (AT (p + 3))));
                      p += 3;
                    }
                  else if (c == '\\' && AT (p + 1) != '\0')
                    {
                      char e;

                      p++;
                      switch (AT (p))
                        {
                        case 'n': e = '\n'; break;
                        case 'r': e = '\r'; break;
                        case 't': e = '\t'; break;
                        case 'b': e = '\b'; break;
                        case 'a': e = '\a'; break;
                        default: e = AT (p); break;
                        }
                      g_string_append_c (current, e);
                    }
                  else if (c == '"')
                    {
                      if (AT (p + 1) != '\0' && !g_ascii_isspace (AT (p + 1)))
                        return NULL;
                      done = TRUE;
                    }
                  else if (c == '\0')
                    return NULL;
                  else
                    g_string_append_c (current, c);
                }
              else if (insq)
                {
                  if (c == '\\' && AT (p + 1) == '\'')
                    {
                      p++;
                      g_string_append_c (current, '\'');
                    }
                  else if (c == '\'')
                    {
                      if (AT (p + 1) != '\0' && !g_ascii_isspace (AT (p + 1)))
                        return NULL;
                      done = TRUE;
                    }
                  else if (c == '\0')
                    return NULL;
                  else
                    g_string_append_c (current, c);
                }
              else
                {
                  switch (c)
                    {
                    case ' ':
                    case '\n':
                    case '\r':
                    case '\t':
                    case '\0':
                      done = TRUE;
                      break;
                    case '"':
                      inq = TRUE;
                      break;
                    case '\'':
                      insq = TRUE;
                      break;
                    default:
                      g_string_append_c (current, c);
                      break;
                    }
                }
              if (AT (p) != '\0')
                p++;
            }
          g_array_append_val (lens, current->len);
          g_ptr_array_add (vector, g_string_free (g_steal_pointer (&current), FALSE));
        }
    }
#undef AT

  *argc = vector->len;
  g_ptr_array_add (vector, NULL);
  *lengths = (gsize *) (void *) g_array_free (g_steal_pointer (&lens), FALSE);
  return (char **) g_ptr_array_free (g_steal_pointer (&vector), FALSE);
}

/* ------------------------------------------------------------------ */
/* Request parser                                                      */

enum
{
  REQ_UNKNOWN,
  REQ_INLINE,
  REQ_MULTIBULK,
};

typedef struct
{
  gsize offset;   /* from the start of the request */
  gsize len;
} Span;

struct _TdRespParser
{
  gsize       max_bulk_len;
  int         reqtype;
  gsize       scan;            /* bytes of the request already parsed */
  gint64      multibulk_left;  /* arguments still to read; 0 = no header yet */
  gint64      bulklen;         /* length of the bulk being read; -1 = no header yet */
  GArray     *spans;           /* Span, arguments of a multibulk request */
  GArray     *argv;            /* TdRespArg, valid after TD_RESP_PARSE_REQUEST */
  char      **inline_args;     /* owned by the last inline request */
  gsize      *inline_lens;
  const char *error;           /* static or error_buf */
  char        error_buf[64];
};

/* Returns a new parser with Redis' default limits. */
TdRespParser *
td_resp_parser_new (void)
{
  TdRespParser *parser = g_new0 (TdRespParser, 1);

  parser->max_bulk_len = TD_RESP_DEFAULT_MAX_BULK_LEN;
  parser->spans = g_array_new (FALSE, FALSE, sizeof (Span));
  parser->argv = g_array_new (FALSE, FALSE, sizeof (TdRespArg));
  td_resp_parser_reset (parser);
  return parser;
}

void
td_resp_parser_free (TdRespParser *parser)
{
  if (parser == NULL)
    return;
  g_array_unref (parser->spans);
  g_array_unref (parser->argv);
  g_strfreev (parser->inline_args);
  g_free (parser->inline_lens);
  g_free (parser);
}

/* Sets proto-max-bulk-len; values under Redis' 1 MiB floor are raised to
 * it (Redis refuses to configure them). */
void
td_resp_parser_set_max_bulk_len (TdRespParser *parser,
                                 gsize         max_bulk_len)
{
  g_return_if_fail (parser != NULL);
  parser->max_bulk_len = MAX (max_bulk_len, TD_RESP_MIN_MAX_BULK_LEN);
}

/* Forgets the request in progress. */
void
td_resp_parser_reset (TdRespParser *parser)
{
  g_return_if_fail (parser != NULL);
  parser->reqtype = REQ_UNKNOWN;
  parser->scan = 0;
  parser->multibulk_left = 0;
  parser->bulklen = -1;
  parser->error = NULL;
  g_array_set_size (parser->spans, 0);
}

/* Index of the first @ch in buf[from, len) as strchr() would find it in a
 * NUL-terminated buffer: -1 when a NUL comes first or @ch is absent. */
static gssize
find_cstr (const char *buf,
           gsize       from,
           gsize       len,
           char        ch)
{
  const char *start = buf + from;
  gsize n = len - from;
  const char *hit = memchr (start, ch, n);
  gsize span = hit ? (gsize) (hit - start) : n;

  if (memchr (start, '\0', span) != NULL)
    return -1;
  return hit ? (gssize) (from + span) : -1;
}

static TdRespParseStatus
parse_error (TdRespParser *parser,
             const char   *message)
{
  parser->error = message;
  return TD_RESP_PARSE_ERROR;
}

static TdRespParseStatus
parse_inline (TdRespParser *parser,
              const char   *buf,
              gsize         len,
              gsize        *consumed)
{
  gssize newline = find_cstr (buf, 0, len, '\n');
  gsize querylen;
  guint argc = 0;

  if (newline < 0)
    {
      if (len > TD_RESP_INLINE_MAX)
        return parse_error (parser, "Protocol error: too big inline request");
      return TD_RESP_PARSE_INCOMPLETE;
    }

  querylen = (gsize) newline;
  if (querylen > 0 && buf[querylen - 1] == '\r')
    querylen--;

  g_clear_pointer (&parser->inline_args, g_strfreev);
  g_clear_pointer (&parser->inline_lens, g_free);
  parser->inline_args = td_resp_split_args (buf, querylen, &parser->inline_lens, &argc);
  if (parser->inline_args == NULL)
    return parse_error (parser, "Protocol error: unbalanced quotes in request");

  g_array_set_size (parser->argv, argc);
  for (guint i = 0; i < argc; i++)
    {
      TdRespArg *arg = &g_array_index (parser->argv, TdRespArg, i);

      arg->data = parser->inline_args[i];
      arg->len = parser->inline_lens[i];
    }
  *consumed = (gsize) newline + 1;
  return TD_RESP_PARSE_REQUEST;
}

static TdRespParseStatus
parse_multibulk (TdRespParser *parser,
                 const char   *buf,
                 gsize         len,
                 gboolean      authenticated,
                 gsize        *consumed)
{
  gint64 ll;

  if (parser->multibulk_left == 0)
    {
      gssize newline = find_cstr (buf, 0, len, '\r');

      if (newline < 0)
        {
          if (len > TD_RESP_INLINE_MAX)
            return parse_error (parser, "Protocol error: too big mbulk count string");
          return TD_RESP_PARSE_INCOMPLETE;
        }
      if ((gsize) newline + 2 > len)
        return TD_RESP_PARSE_INCOMPLETE;

      if (!td_resp_string2ll (buf + 1, (gsize) newline - 1, &ll) ||
          ll > TD_RESP_MAX_MULTIBULK_LEN)
        return parse_error (parser, "Protocol error: invalid multibulk length");
      if (ll > TD_RESP_UNAUTH_MAX_MULTIBULK && !authenticated)
        return parse_error (parser, "Protocol error: unauthenticated multibulk length");

      parser->scan = (gsize) newline + 2;
      if (ll <= 0)
        {
          g_array_set_size (parser->argv, 0);
          *consumed = parser->scan;
          return TD_RESP_PARSE_REQUEST;
        }
      parser->multibulk_left = ll;
      parser->bulklen = -1;
      g_array_set_size (parser->spans, 0);
    }

  while (parser->multibulk_left > 0)
    {
      if (parser->bulklen == -1)
        {
          gssize newline = find_cstr (buf, parser->scan, len, '\r');

          if (newline < 0)
            {
              if (len - parser->scan > TD_RESP_INLINE_MAX)
                return parse_error (parser, "Protocol error: too big bulk count string");
              return TD_RESP_PARSE_INCOMPLETE;
            }
          if ((gsize) newline + 2 > len)
            return TD_RESP_PARSE_INCOMPLETE;

          if (buf[parser->scan] != '$')
            {
              char got = buf[parser->scan];

              /* addReplyErrorFormat() turns CR and LF into spaces. */
              if (got == '\r' || got == '\n')
                got = ' ';
              g_snprintf (parser->error_buf, sizeof parser->error_buf,
                          "Protocol error: expected '$', got '%c'", got);
              return parse_error (parser, parser->error_buf);
            }

          if (!td_resp_string2ll (buf + parser->scan + 1, (gsize) newline - (parser->scan + 1), &ll) ||
              ll < 0 || (guint64) ll > parser->max_bulk_len)
            return parse_error (parser, "Protocol error: invalid bulk length");
          if (ll > TD_RESP_UNAUTH_MAX_BULK && !authenticated)
            return parse_error (parser, "Protocol error: unauthenticated bulk length");

          parser->scan = (gsize) newline + 2;
          parser->bulklen = ll;
        }

      if (len - parser->scan < (gsize) parser->bulklen + 2)
        return TD_RESP_PARSE_INCOMPLETE;
      else
        {
          Span span = { parser->scan, (gsize) parser->bulklen };

          g_array_append_val (parser->spans, span);
          parser->scan += (gsize) parser->bulklen + 2;
          parser->bulklen = -1;
          parser->multibulk_left--;
        }
    }

  g_array_set_size (parser->argv, parser->spans->len);
  for (guint i = 0; i < parser->spans->len; i++)
    {
      const Span *span = &g_array_index (parser->spans, Span, i);
      TdRespArg *arg = &g_array_index (parser->argv, TdRespArg, i);

      arg->data = buf + span->offset;
      arg->len = span->len;
    }
  *consumed = parser->scan;
  return TD_RESP_PARSE_REQUEST;
}

/* Parses one request from @buf, which must start at the first byte of the
 * request. On TD_RESP_PARSE_INCOMPLETE the parser keeps its place: call
 * again with the same bytes and more appended (the buffer may move). On
 * TD_RESP_PARSE_REQUEST, @consumed bytes form the request and the
 * arguments (pointing into @buf or the parser) are valid until the next
 * call. On TD_RESP_PARSE_ERROR, td_resp_parser_get_error() has the text of
 * the `-ERR` reply and the connection must be closed after it.
 * @authenticated FALSE applies Redis' pre-AUTH limits. */
TdRespParseStatus
td_resp_parser_parse (TdRespParser *parser,
                      const char   *buf,
                      gsize         len,
                      gboolean      authenticated,
                      gsize        *consumed)
{
  TdRespParseStatus status;
  gsize used = 0;

  g_return_val_if_fail (parser != NULL, TD_RESP_PARSE_ERROR);
  g_return_val_if_fail (consumed != NULL, TD_RESP_PARSE_ERROR);

  *consumed = 0;
  if (parser->error != NULL)
    return TD_RESP_PARSE_ERROR;
  if (len == 0)
    return TD_RESP_PARSE_INCOMPLETE;

  if (parser->reqtype == REQ_UNKNOWN)
    parser->reqtype = buf[0] == '*' ? REQ_MULTIBULK : REQ_INLINE;

  if (parser->reqtype == REQ_INLINE)
    status = parse_inline (parser, buf, len, &used);
  else
    status = parse_multibulk (parser, buf, len, authenticated, &used);

  if (status == TD_RESP_PARSE_REQUEST)
    {
      *consumed = used;
      parser->reqtype = REQ_UNKNOWN;
      parser->scan = 0;
      parser->multibulk_left = 0;
      parser->bulklen = -1;
      g_array_set_size (parser->spans, 0);
    }
  return status;
}

guint
td_resp_parser_get_argc (TdRespParser *parser)
{
  g_return_val_if_fail (parser != NULL, 0);
  return parser->argv->len;
}

const TdRespArg *
td_resp_parser_get_argv (TdRespParser *parser)
{
  g_return_val_if_fail (parser != NULL, NULL);
  return (const TdRespArg *) (void *) parser->argv->data;
}

/* Returns the message of the last protocol error, without the `-ERR `. */
const char *
td_resp_parser_get_error (TdRespParser *parser)
{
  g_return_val_if_fail (parser != NULL, NULL);
  return parser->error;
}

/* Returns how many more bytes the bulk being read needs (0 when none is in
 * progress), so a reader can size its next read. */
gsize
td_resp_parser_get_pending_bulk (TdRespParser *parser)
{
  g_return_val_if_fail (parser != NULL, 0);
  if (parser->reqtype != REQ_MULTIBULK || parser->bulklen < 0)
    return 0;
  return (gsize) parser->bulklen + 2;
}

/* ------------------------------------------------------------------ */
/* Reply writers                                                       */

static inline void
append_header (GByteArray *out,
               char        prefix,
               gint64      value)
{
  char buf[TD_RESP_LONG_STR_SIZE + 4];
  gsize n = 0;

  buf[n++] = prefix;
  n += td_resp_format_int (buf + n, value);
  buf[n++] = '\r';
  buf[n++] = '\n';
  g_byte_array_append (out, (const guint8 *) buf, (guint) n);
}

/* Appends `+str\r\n`; @str must not contain CR or LF. */
void
td_resp_append_simple (GByteArray *out,
                       const char *str)
{
  g_byte_array_append (out, (const guint8 *) "+", 1);
  g_byte_array_append (out, (const guint8 *) str, (guint) strlen (str));
  g_byte_array_append (out, (const guint8 *) "\r\n", 2);
}

/* Appends an error reply as Redis' addReplyError(): `-ERR msg\r\n`, or
 * `msg\r\n` when @msg already starts with `-` (its own error code). */
void
td_resp_append_error (GByteArray *out,
                      const char *msg)
{
  if (msg[0] != '-')
    g_byte_array_append (out, (const guint8 *) "-ERR ", 5);
  g_byte_array_append (out, (const guint8 *) msg, (guint) strlen (msg));
  g_byte_array_append (out, (const guint8 *) "\r\n", 2);
}

/* Like addReplyErrorFormat(): formats, turns CR and LF (which may come
 * from client arguments) into spaces, then appends as an error. */
void
td_resp_append_error_printf (GByteArray *out,
                             const char *format,
                             ...)
{
  g_autofree char *msg = NULL;
  va_list args;

  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);

  for (char *p = msg; *p != '\0'; p++)
    if (*p == '\r' || *p == '\n')
      *p = ' ';
  td_resp_append_error (out, msg);
}

void
td_resp_append_integer (GByteArray *out,
                        gint64      value)
{
  append_header (out, ':', value);
}

void
td_resp_append_bulk (GByteArray *out,
                     const char *data,
                     gsize       len)
{
  append_header (out, '$', (gint64) len);
  g_byte_array_append (out, (const guint8 *) data, (guint) len);
  g_byte_array_append (out, (const guint8 *) "\r\n", 2);
}

void
td_resp_append_bulk_str (GByteArray *out,
                         const char *str)
{
  td_resp_append_bulk (out, str, strlen (str));
}

void
td_resp_append_null_bulk (GByteArray *out)
{
  g_byte_array_append (out, (const guint8 *) "$-1\r\n", 5);
}

void
td_resp_append_array_len (GByteArray *out,
                          gint64      len)
{
  append_header (out, '*', len);
}

static inline char *
put_bulk (char       *p,
          const char *data,
          gsize       len)
{
  *p++ = '$';
  p += td_resp_format_int (p, (gint64) len);
  *p++ = '\r';
  *p++ = '\n';
  if (len > 0)
    memcpy (p, data, len);
  p += len;
  *p++ = '\r';
  *p++ = '\n';
  return p;
}

/* Bytes of `$<len>\r\n<data>\r\n` at most. */
#define BULK_SIZE(len) ((len) + TD_RESP_LONG_STR_SIZE + 5)

/* Returns the frame `*3 message <channel> <payload>` as one buffer, built
 * once per PUBLISH and shared by every subscriber. */
GBytes *
td_resp_build_message (const char *channel,
                       gsize       channel_len,
                       const char *payload,
                       gsize       payload_len)
{
  static const char head[] = "*3\r\n$7\r\nmessage\r\n";
  gsize cap = sizeof head - 1 + BULK_SIZE (channel_len) + BULK_SIZE (payload_len);
  char *buf = g_malloc (cap);
  char *p = buf;

  memcpy (p, head, sizeof head - 1);
  p += sizeof head - 1;
  p = put_bulk (p, channel, channel_len);
  p = put_bulk (p, payload, payload_len);
  g_assert ((gsize) (p - buf) <= cap);
  return g_bytes_new_take (buf, (gsize) (p - buf));
}

/* Returns the frame `*4 pmessage <pattern> <channel> <payload>`. */
GBytes *
td_resp_build_pmessage (const char *pattern,
                        gsize       pattern_len,
                        const char *channel,
                        gsize       channel_len,
                        const char *payload,
                        gsize       payload_len)
{
  static const char head[] = "*4\r\n$8\r\npmessage\r\n";
  gsize cap = sizeof head - 1 + BULK_SIZE (pattern_len) + BULK_SIZE (channel_len) +
              BULK_SIZE (payload_len);
  char *buf = g_malloc (cap);
  char *p = buf;

  memcpy (p, head, sizeof head - 1);
  p += sizeof head - 1;
  p = put_bulk (p, pattern, pattern_len);
  p = put_bulk (p, channel, channel_len);
  p = put_bulk (p, payload, payload_len);
  g_assert ((gsize) (p - buf) <= cap);
  return g_bytes_new_take (buf, (gsize) (p - buf));
}

/* Returns a request in multibulk form, for clients. @lengths may be NULL
 * when every argument is a C string. */
GBytes *
td_resp_build_command (guint              argc,
                       const char *const *argv,
                       const gsize       *lengths)
{
  g_autoptr(GByteArray) out = g_byte_array_new ();

  td_resp_append_array_len (out, argc);
  for (guint i = 0; i < argc; i++)
    td_resp_append_bulk (out, argv[i], lengths ? lengths[i] : strlen (argv[i]));
  return g_byte_array_free_to_bytes (g_steal_pointer (&out));
}

/* ------------------------------------------------------------------ */
/* Reply reader                                                        */

/* Longest status, error or integer line accepted from a server; real
 * servers send lines of a few hundred bytes at most. */
#define TD_RESP_READER_MAX_LINE (1024 * 1024)

/* Consumed bytes kept in the buffer before it is compacted. */
#define TD_RESP_READER_COMPACT  (64 * 1024)

typedef struct
{
  TdRespValue *array;
  GPtrArray   *items;
  gsize        expected;
} Frame;

struct _TdRespReader
{
  GByteArray *buf;
  gsize       pos;
  gsize       max_bulk_len;
  GArray     *stack;          /* Frame */
  gint64      pending_bulk;   /* -1, or the length of the bulk whose header was read */
  GError     *failed;
};

void
td_resp_value_free (TdRespValue *value)
{
  if (value == NULL)
    return;
  g_free (value->str);
  for (gsize i = 0; i < value->n_elements; i++)
    td_resp_value_free (value->elements[i]);
  g_free (value->elements);
  g_free (value);
}

/* Returns TRUE if @value is an array whose first element is the bulk
 * string @kind (for example "message" or "pmessage"). */
gboolean
td_resp_value_is_push (const TdRespValue *value,
                       const char        *kind)
{
  const TdRespValue *first;

  if (value == NULL || value->type != TD_RESP_VALUE_ARRAY || value->n_elements == 0)
    return FALSE;
  first = value->elements[0];
  return first->type == TD_RESP_VALUE_BULK &&
         first->len == strlen (kind) && memcmp (first->str, kind, first->len) == 0;
}

/* Returns a reader that refuses bulk strings over @max_bulk_len (0 for
 * Redis' 512 MiB). */
TdRespReader *
td_resp_reader_new (gsize max_bulk_len)
{
  TdRespReader *reader = g_new0 (TdRespReader, 1);

  reader->buf = g_byte_array_new ();
  reader->max_bulk_len = max_bulk_len ? max_bulk_len : TD_RESP_DEFAULT_MAX_BULK_LEN;
  reader->stack = g_array_new (FALSE, FALSE, sizeof (Frame));
  reader->pending_bulk = -1;
  return reader;
}

void
td_resp_reader_free (TdRespReader *reader)
{
  if (reader == NULL)
    return;
  for (guint i = 0; i < reader->stack->len; i++)
    {
      Frame *frame = &g_array_index (reader->stack, Frame, i);

      g_ptr_array_unref (frame->items);
      td_resp_value_free (frame->array);
    }
  g_array_unref (reader->stack);
  g_byte_array_unref (reader->buf);
  g_clear_error (&reader->failed);
  g_free (reader);
}

/* Appends received bytes. */
void
td_resp_reader_feed (TdRespReader *reader,
                     const char   *data,
                     gsize         len)
{
  g_return_if_fail (reader != NULL);

  if (reader->pos > 0 && (reader->pos == reader->buf->len || reader->pos >= TD_RESP_READER_COMPACT))
    {
      g_byte_array_remove_range (reader->buf, 0, (guint) reader->pos);
      reader->pos = 0;
    }
  g_byte_array_append (reader->buf, (const guint8 *) data, (guint) len);
}

/* Bytes received but not yet returned as values. */
gsize
td_resp_reader_get_buffered (TdRespReader *reader)
{
  g_return_val_if_fail (reader != NULL, 0);
  return reader->buf->len - reader->pos;
}

static TdRespReadStatus
reader_fail (TdRespReader  *reader,
             GError       **error,
             int            code,
             const char    *message)
{
  reader->failed = g_error_new_literal (TD_RESP_ERROR, code, message);
  g_set_error_literal (error, TD_RESP_ERROR, code, message);
  return TD_RESP_READ_ERROR;
}

static TdRespValue *
value_new_string (TdRespValueType  type,
                  const char      *data,
                  gsize            len)
{
  TdRespValue *value = g_new0 (TdRespValue, 1);

  value->type = type;
  value->str = g_malloc (len + 1);
  if (len > 0)
    memcpy (value->str, data, len);
  value->str[len] = '\0';
  value->len = len;
  return value;
}

static TdRespValue *
value_new (TdRespValueType type)
{
  TdRespValue *value = g_new0 (TdRespValue, 1);

  value->type = type;
  return value;
}

/* Returns the next complete top-level reply in @value (the caller owns
 * it), TD_RESP_READ_NEED_MORE when more bytes are needed, or
 * TD_RESP_READ_ERROR when the stream is broken; after an error every call
 * fails again. Work is linear in the bytes fed: partial arrays are kept
 * between calls. */
TdRespReadStatus
td_resp_reader_pop (TdRespReader  *reader,
                    TdRespValue  **value,
                    GError       **error)
{
  g_return_val_if_fail (reader != NULL, TD_RESP_READ_ERROR);
  g_return_val_if_fail (value != NULL && *value == NULL, TD_RESP_READ_ERROR);

  if (reader->failed != NULL)
    {
      g_propagate_error (error, g_error_copy (reader->failed));
      return TD_RESP_READ_ERROR;
    }

  for (;;)
    {
      const char *data = (const char *) reader->buf->data;
      gsize len = reader->buf->len;
      TdRespValue *item = NULL;

      /* Nothing buffered (the array may not even be allocated yet, and
       * NULL + 0 is undefined): every kind of reply needs more. */
      if (reader->pos == len)
        return TD_RESP_READ_NEED_MORE;

      if (reader->pending_bulk >= 0)
        {
          gsize need = (gsize) reader->pending_bulk + 2;

          if (len - reader->pos < need)
            return TD_RESP_READ_NEED_MORE;
          if (data[reader->pos + need - 2] != '\r' || data[reader->pos + need - 1] != '\n')
            return reader_fail (reader, error, TD_RESP_ERROR_PROTOCOL,
                                "bulk string not terminated by CRLF");
          item = value_new_string (TD_RESP_VALUE_BULK, data + reader->pos,
                                   (gsize) reader->pending_bulk);
          reader->pos += need;
          reader->pending_bulk = -1;
        }
      else
        {
          const char *start = data + reader->pos;
          const char *nl = memchr (start, '\n', len - reader->pos);
          gsize line_len;
          gint64 ll;

          if (nl == NULL)
            {
              if (len - reader->pos > TD_RESP_READER_MAX_LINE)
                return reader_fail (reader, error, TD_RESP_ERROR_LIMIT, "reply line too long");
              return TD_RESP_READ_NEED_MORE;
            }
          if (nl == start || nl[-1] != '\r')
            return reader_fail (reader, error, TD_RESP_ERROR_PROTOCOL,
                                "reply line not terminated by CRLF");
          line_len = (gsize) (nl - start) - 1;   /* without the CR */
          if (line_len == 0)
            return reader_fail (reader, error, TD_RESP_ERROR_PROTOCOL, "empty reply line");

          switch (start[0])
            {
            case '+':
            case '-':
              if (memchr (start + 1, '\r', line_len - 1) != NULL)
                return reader_fail (reader, error, TD_RESP_ERROR_PROTOCOL, "CR inside a status line");
              item = value_new_string (start[0] == '+' ? TD_RESP_VALUE_SIMPLE : TD_RESP_VALUE_ERROR,
                                       start + 1, line_len - 1);
              break;

            case ':':
              if (!td_resp_string2ll (start + 1, line_len - 1, &ll))
                return reader_fail (reader, error, TD_RESP_ERROR_PROTOCOL, "bad integer reply");
              item = value_new (TD_RESP_VALUE_INTEGER);
              item->integer = ll;
              break;

            case '$':
              if (!td_resp_string2ll (start + 1, line_len - 1, &ll) || ll < -1)
                return reader_fail (reader, error, TD_RESP_ERROR_PROTOCOL, "bad bulk length");
              if (ll > 0 && (guint64) ll > reader->max_bulk_len)
                return reader_fail (reader, error, TD_RESP_ERROR_LIMIT, "bulk string too long");
              if (ll == -1)
                item = value_new (TD_RESP_VALUE_NULL);
              else
                reader->pending_bulk = ll;
              break;

            case '*':
              if (!td_resp_string2ll (start + 1, line_len - 1, &ll) || ll < -1)
                return reader_fail (reader, error, TD_RESP_ERROR_PROTOCOL, "bad array length");
              if (ll > G_MAXINT)
                return reader_fail (reader, error, TD_RESP_ERROR_LIMIT, "array too long");
              if (ll == -1)
                item = value_new (TD_RESP_VALUE_NULL_ARRAY);
              else if (ll == 0)
                item = value_new (TD_RESP_VALUE_ARRAY);
              else
                {
                  Frame frame;

                  if (reader->stack->len >= TD_RESP_READER_MAX_DEPTH)
                    return reader_fail (reader, error, TD_RESP_ERROR_LIMIT, "arrays nested too deep");
                  frame.array = value_new (TD_RESP_VALUE_ARRAY);
                  frame.items = g_ptr_array_new_full ((guint) MIN (ll, TD_RESP_ARGV_PREALLOC),
                                                     (GDestroyNotify) td_resp_value_free);
                  frame.expected = (gsize) ll;
                  g_array_append_val (reader->stack, frame);
                }
              break;

            default:
              return reader_fail (reader, error, TD_RESP_ERROR_PROTOCOL, "unknown reply type");
            }
          reader->pos += (gsize) (nl - start) + 1;
        }

      /* Attach the finished item to its array, closing arrays that are
       * complete, until it is a top-level value or an array still needs
       * elements. */
      while (item != NULL)
        {
          Frame *top;

          if (reader->stack->len == 0)
            {
              *value = item;
              return TD_RESP_READ_VALUE;
            }
          top = &g_array_index (reader->stack, Frame, reader->stack->len - 1);
          g_ptr_array_add (top->items, item);
          item = NULL;
          if (top->items->len == top->expected)
            {
              item = top->array;
              item->n_elements = top->items->len;
              item->elements = (TdRespValue **) g_ptr_array_free (top->items, FALSE);
              g_array_set_size (reader->stack, reader->stack->len - 1);
            }
        }
    }
}
