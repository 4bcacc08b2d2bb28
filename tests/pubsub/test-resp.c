/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-resp"

#include "config.h"

#include <string.h>

#include "pubsub/td-resp.h"

/* A literal and its length (literals may hold NUL bytes). */
#define L(lit) (lit), (sizeof (lit) - 1)

/* ------------------------------------------------------------------ */
/* Request parser                                                      */

typedef struct
{
  const char *name;
  const char *input;
  gsize       input_len;
  gboolean    authenticated;
  TdRespParseStatus status;
  gsize       consumed;
  const char *args;        /* arguments joined with '|', for REQUEST */
  const char *error;       /* for ERROR */
} ParseCase;

static const ParseCase parse_cases[] = {
  { "inline", L ("PING\r\n"), TRUE, TD_RESP_PARSE_REQUEST, 6, "PING", NULL },
  { "inline-lf", L ("PING\n"), TRUE, TD_RESP_PARSE_REQUEST, 5, "PING", NULL },
  { "inline-args", L ("SET  a\t b \r\n"), TRUE, TD_RESP_PARSE_REQUEST, 12, "SET|a|b", NULL },
  { "inline-empty", L ("\r\n"), TRUE, TD_RESP_PARSE_REQUEST, 2, "", NULL },
  { "inline-incomplete", L ("PING"), TRUE, TD_RESP_PARSE_INCOMPLETE, 0, NULL, NULL },
  { "inline-quotes", L ("ECHO \"a b\" 'c d'\n"), TRUE, TD_RESP_PARSE_REQUEST, 17, "ECHO|a b|c d", NULL },
  { "inline-escapes", L ("ECHO \"\\x41\\n\\q\"\n"), TRUE, TD_RESP_PARSE_REQUEST, 16, "ECHO|A\nq", NULL },
  { "inline-unbalanced", L ("ECHO \"a\n"), TRUE, TD_RESP_PARSE_ERROR, 0, NULL,
    "Protocol error: unbalanced quotes in request" },
  { "inline-quote-then-char", L ("ECHO 'a'b\n"), TRUE, TD_RESP_PARSE_ERROR, 0, NULL,
    "Protocol error: unbalanced quotes in request" },
  { "inline-nul-hides-newline", L ("PI\0NG\n"), TRUE, TD_RESP_PARSE_INCOMPLETE, 0, NULL, NULL },
  { "multibulk", L ("*2\r\n$4\r\nECHO\r\n$3\r\na\0b\r\n"), TRUE, TD_RESP_PARSE_REQUEST, 23, "ECHO|a\\0b", NULL },
  { "multibulk-empty-arg", L ("*1\r\n$0\r\n\r\n"), TRUE, TD_RESP_PARSE_REQUEST, 10, "", NULL },
  { "multibulk-zero", L ("*0\r\n"), TRUE, TD_RESP_PARSE_REQUEST, 4, "", NULL },
  { "multibulk-negative", L ("*-1\r\n"), TRUE, TD_RESP_PARSE_REQUEST, 5, "", NULL },
  { "multibulk-header-incomplete", L ("*2\r"), TRUE, TD_RESP_PARSE_INCOMPLETE, 0, NULL, NULL },
  { "multibulk-bulk-incomplete", L ("*1\r\n$4\r\nPIN"), TRUE, TD_RESP_PARSE_INCOMPLETE, 0, NULL, NULL },
  { "multibulk-trailer-missing", L ("*1\r\n$4\r\nPING"), TRUE, TD_RESP_PARSE_INCOMPLETE, 0, NULL, NULL },
  { "multibulk-bad-count", L ("*x\r\n"), TRUE, TD_RESP_PARSE_ERROR, 0, NULL,
    "Protocol error: invalid multibulk length" },
  { "multibulk-count-over-int", L ("*2147483648\r\n"), TRUE, TD_RESP_PARSE_ERROR, 0, NULL,
    "Protocol error: invalid multibulk length" },
  { "multibulk-count-int-max-waits", L ("*2147483647\r\n"), TRUE, TD_RESP_PARSE_INCOMPLETE, 0, NULL, NULL },
  { "multibulk-expected-dollar", L ("*1\r\nPING\r\n"), TRUE, TD_RESP_PARSE_ERROR, 0, NULL,
    "Protocol error: expected '$', got 'P'" },
  { "multibulk-bulk-negative", L ("*1\r\n$-1\r\n"), TRUE, TD_RESP_PARSE_ERROR, 0, NULL,
    "Protocol error: invalid bulk length" },
  { "multibulk-bulk-over", L ("*1\r\n$536870913\r\n"), TRUE, TD_RESP_PARSE_ERROR, 0, NULL,
    "Protocol error: invalid bulk length" },
  { "multibulk-leading-zero", L ("*01\r\n"), TRUE, TD_RESP_PARSE_ERROR, 0, NULL,
    "Protocol error: invalid multibulk length" },
  { "unauth-count", L ("*11\r\n"), FALSE, TD_RESP_PARSE_ERROR, 0, NULL,
    "Protocol error: unauthenticated multibulk length" },
  { "unauth-bulk", L ("*1\r\n$16385\r\n"), FALSE, TD_RESP_PARSE_ERROR, 0, NULL,
    "Protocol error: unauthenticated bulk length" },
  { "unauth-bulk-ok", L ("*1\r\n$16384\r\n"), FALSE, TD_RESP_PARSE_INCOMPLETE, 0, NULL, NULL },
};

static char *
join_args (TdRespParser *parser)
{
  GString *s = g_string_new (NULL);
  const TdRespArg *argv = td_resp_parser_get_argv (parser);

  for (guint i = 0; i < td_resp_parser_get_argc (parser); i++)
    {
      if (i > 0)
        g_string_append_c (s, '|');
      for (gsize j = 0; j < argv[i].len; j++)
        {
          if (argv[i].data[j] == '\0')
            g_string_append (s, "\\0");
          else
            g_string_append_c (s, argv[i].data[j]);
        }
    }
  return g_string_free (s, FALSE);
}

static void
test_parse_case (gconstpointer user_data)
{
  const ParseCase *row = user_data;
  g_autoptr(TdRespParser) parser = td_resp_parser_new ();
  gsize consumed = 99;
  TdRespParseStatus status;

  status = td_resp_parser_parse (parser, row->input, row->input_len, row->authenticated, &consumed);
  g_assert_cmpint (status, ==, row->status);
  if (status == TD_RESP_PARSE_REQUEST)
    {
      g_autofree char *args = join_args (parser);

      g_assert_cmpuint (consumed, ==, row->consumed);
      g_assert_cmpstr (args, ==, row->args);
    }
  else
    g_assert_cmpuint (consumed, ==, 0);
  if (status == TD_RESP_PARSE_ERROR)
    g_assert_cmpstr (td_resp_parser_get_error (parser), ==, row->error);
}

/* Feeding a request one byte at a time gives the same result as feeding
 * it whole. */
static void
test_parse_incremental (void)
{
  static const char input[] = "*3\r\n$7\r\nPUBLISH\r\n$4\r\nnews\r\n$11\r\nhello world\r\nPING x\r\n";
  g_autoptr(TdRespParser) parser = td_resp_parser_new ();
  gsize start = 0, len = 0, consumed;
  guint requests = 0;

  while (start < sizeof input - 1)
    {
      TdRespParseStatus status;

      if (start + len < sizeof input - 1)
        len++;
      status = td_resp_parser_parse (parser, input + start, len, TRUE, &consumed);
      g_assert_cmpint (status, !=, TD_RESP_PARSE_ERROR);
      if (status == TD_RESP_PARSE_REQUEST)
        {
          g_autofree char *args = join_args (parser);

          g_assert_cmpstr (args, ==, requests == 0 ? "PUBLISH|news|hello world" : "PING|x");
          requests++;
          start += consumed;
          len -= consumed;
        }
    }
  g_assert_cmpuint (requests, ==, 2);
}

static void
test_parse_max_bulk (void)
{
  g_autoptr(TdRespParser) parser = td_resp_parser_new ();
  gsize consumed;

  /* The configurable limit never drops under Redis' 1 MiB floor. */
  td_resp_parser_set_max_bulk_len (parser, 10);
  g_assert_cmpint (td_resp_parser_parse (parser, L ("*1\r\n$1048576\r\n"), TRUE, &consumed), ==,
                   TD_RESP_PARSE_INCOMPLETE);
  td_resp_parser_reset (parser);
  g_assert_cmpint (td_resp_parser_parse (parser, L ("*1\r\n$1048577\r\n"), TRUE, &consumed), ==,
                   TD_RESP_PARSE_ERROR);
  g_assert_cmpuint (td_resp_parser_get_pending_bulk (parser), ==, 0);
}

static void
test_parse_too_big (void)
{
  g_autoptr(TdRespParser) parser = td_resp_parser_new ();
  g_autofree char *big = g_strnfill (TD_RESP_INLINE_MAX + 1, 'a');
  gsize consumed;

  g_assert_cmpint (td_resp_parser_parse (parser, big, TD_RESP_INLINE_MAX, TRUE, &consumed), ==,
                   TD_RESP_PARSE_INCOMPLETE);
  g_assert_cmpint (td_resp_parser_parse (parser, big, TD_RESP_INLINE_MAX + 1, TRUE, &consumed), ==,
                   TD_RESP_PARSE_ERROR);
  g_assert_cmpstr (td_resp_parser_get_error (parser), ==, "Protocol error: too big inline request");

  td_resp_parser_reset (parser);
  big[0] = '*';
  g_assert_cmpint (td_resp_parser_parse (parser, big, TD_RESP_INLINE_MAX + 1, TRUE, &consumed), ==,
                   TD_RESP_PARSE_ERROR);
  g_assert_cmpstr (td_resp_parser_get_error (parser), ==, "Protocol error: too big mbulk count string");
}

/* Random bytes and mutated requests never crash the parser, and it never
 * claims more bytes than it was given. */
static void
test_parse_fuzz (void)
{
  static const char *const seeds[] = {
    "*3\r\n$9\r\nSUBSCRIBE\r\n$1\r\na\r\n$1\r\nb\r\n",
    "PUBLISH \"x\\x41\" 'y'\r\n",
    "*1\r\n$4\r\nPING\r\n",
  };
  g_autoptr(GRand) rand = g_rand_new_with_seed (20240501);

  for (int i = 0; i < 50000; i++)
    {
      g_autoptr(TdRespParser) parser = td_resp_parser_new ();
      g_autoptr(GByteArray) buf = g_byte_array_new ();
      const char *seed = seeds[g_rand_int_range (rand, 0, G_N_ELEMENTS (seeds))];
      gsize pos = 0;

      g_byte_array_append (buf, (const guint8 *) seed, (guint) strlen (seed));
      for (int m = g_rand_int_range (rand, 0, 6); m > 0; m--)
        {
          guint at = (guint) g_rand_int_range (rand, 0, (gint32) buf->len);
          guint8 byte = "*$\r\n0123-\" '\\x"[g_rand_int_range (rand, 0, 14)];

          if (g_rand_boolean (rand))
            buf->data[at] = g_rand_boolean (rand) ? byte : (guint8) g_rand_int_range (rand, 0, 256);
          else
            g_byte_array_remove_index (buf, at);
          if (buf->len == 0)
            break;
        }

      for (;;)
        {
          gsize consumed = 0;
          TdRespParseStatus status =
            td_resp_parser_parse (parser, (const char *) buf->data + pos, buf->len - pos,
                                  g_rand_boolean (rand), &consumed);

          g_assert_cmpuint (consumed, <=, buf->len - pos);
          if (status != TD_RESP_PARSE_REQUEST)
            break;
          g_assert_cmpuint (consumed, >, 0);
          pos += consumed;
        }
    }
}

/* ------------------------------------------------------------------ */
/* sdssplitargs and numbers                                            */

static void
test_split_args (void)
{
  g_autofree gsize *lens = NULL;
  g_auto(GStrv) args = NULL;
  guint argc = 0;

  args = td_resp_split_args (L ("  a \"b c\"\t'd\\'e' \"\\x00z\"  "), &lens, &argc);
  g_assert_nonnull (args);
  g_assert_cmpuint (argc, ==, 4);
  g_assert_cmpstr (args[0], ==, "a");
  g_assert_cmpstr (args[1], ==, "b c");
  g_assert_cmpstr (args[2], ==, "d'e");
  g_assert_cmpuint (lens[3], ==, 2);
  g_assert_cmpint (args[3][0], ==, '\0');
  g_assert_cmpint (args[3][1], ==, 'z');

  g_clear_pointer (&args, g_strfreev);
  g_clear_pointer (&lens, g_free);
  args = td_resp_split_args (L ("\"unterminated"), &lens, &argc);
  g_assert_null (args);
  args = td_resp_split_args (L (""), &lens, &argc);
  g_assert_nonnull (args);
  g_assert_cmpuint (argc, ==, 0);
}

static void
test_string2ll (void)
{
  gint64 v;

  g_assert_true (td_resp_string2ll (L ("0"), &v) && v == 0);
  g_assert_true (td_resp_string2ll (L ("-12"), &v) && v == -12);
  g_assert_true (td_resp_string2ll (L ("9223372036854775807"), &v) && v == G_MAXINT64);
  g_assert_true (td_resp_string2ll (L ("-9223372036854775808"), &v) && v == G_MININT64);
  g_assert_false (td_resp_string2ll (L ("9223372036854775808"), &v));
  g_assert_false (td_resp_string2ll (L ("01"), &v));
  g_assert_false (td_resp_string2ll (L ("+1"), &v));
  g_assert_false (td_resp_string2ll (L ("-"), &v));
  g_assert_false (td_resp_string2ll (L ("-0"), &v));
  g_assert_false (td_resp_string2ll (L (" 1"), &v));
  g_assert_false (td_resp_string2ll (L (""), &v));
}

static void
assert_bytes (GBytes     *bytes,
              const char *expected,
              gsize       len)
{
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), expected, len);
}

/* ------------------------------------------------------------------ */
/* Writers                                                             */

static void
test_writers (void)
{
  g_autoptr(GByteArray) out = g_byte_array_new ();
  g_autoptr(GBytes) msg = td_resp_build_message (L ("ch"), L ("hi"));
  g_autoptr(GBytes) pmsg = td_resp_build_pmessage (L ("c*"), L ("ch"), L (""));
  const char *const argv[] = { "PUBLISH", "a", "b" };
  g_autoptr(GBytes) cmd = td_resp_build_command (3, argv, NULL);

  td_resp_append_simple (out, "OK");
  td_resp_append_error (out, "bad");
  td_resp_append_error (out, "-WRONGPASS x");
  td_resp_append_error_printf (out, "a %s", "b\r\nc");
  td_resp_append_integer (out, -42);
  td_resp_append_integer (out, G_MININT64);
  td_resp_append_bulk (out, L ("a\0b"));
  td_resp_append_null_bulk (out);
  td_resp_append_array_len (out, 0);
  g_byte_array_append (out, (const guint8 *) "", 1);
  g_assert_cmpstr ((const char *) out->data, ==,
                   "+OK\r\n-ERR bad\r\n-WRONGPASS x\r\n-ERR a b  c\r\n:-42\r\n"
                   ":-9223372036854775808\r\n$3\r\na");
  assert_bytes (msg, L ("*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"));
  assert_bytes (pmsg, L ("*4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$2\r\nch\r\n$0\r\n\r\n"));
  assert_bytes (cmd, L ("*3\r\n$7\r\nPUBLISH\r\n$1\r\na\r\n$1\r\nb\r\n"));
}

/* ------------------------------------------------------------------ */
/* Reply reader                                                        */

typedef struct
{
  const char *name;
  const char *input;
  gsize       input_len;
  const char *dump;      /* NULL: expect an error */
} ReadCase;

static const ReadCase read_cases[] = {
  { "simple", L ("+OK\r\n"), "+OK" },
  { "error", L ("-ERR bad thing\r\n"), "-ERR bad thing" },
  { "integer", L (":-7\r\n"), ":-7" },
  { "bulk", L ("$3\r\na\0b\r\n"), "$a.b" },
  { "bulk-empty", L ("$0\r\n\r\n"), "$" },
  { "null-bulk", L ("$-1\r\n"), "nil" },
  { "null-array", L ("*-1\r\n"), "nilarray" },
  { "empty-array", L ("*0\r\n"), "[]" },
  { "message", L ("*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$2\r\nhi\r\n"), "[$message,$c,$hi]" },
  { "nested", L ("*2\r\n*2\r\n:1\r\n$-1\r\n*1\r\n+x\r\n"), "[[:1,nil],[+x]]" },
  { "unsubscribe-null", L ("*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n"), "[$unsubscribe,nil,:0]" },
  { "bad-type", L ("?x\r\n"), NULL },
  { "lf-only", L ("+OK\n"), NULL },
  { "bad-integer", L (":12a\r\n"), NULL },
  { "bad-bulk-len", L ("$-2\r\n"), NULL },
  { "bulk-no-crlf", L ("$1\r\nab\r\n"), NULL },
  { "bad-array-len", L ("*x\r\n"), NULL },
  { "empty-line", L ("\r\n"), NULL },
};

static void
dump_value (GString           *s,
            const TdRespValue *v)
{
  switch (v->type)
    {
    case TD_RESP_VALUE_SIMPLE:
      g_string_append_printf (s, "+%s", v->str);
      break;
    case TD_RESP_VALUE_ERROR:
      g_string_append_printf (s, "-%s", v->str);
      break;
    case TD_RESP_VALUE_INTEGER:
      g_string_append_printf (s, ":%" G_GINT64_FORMAT, v->integer);
      break;
    case TD_RESP_VALUE_BULK:
      g_string_append_c (s, '$');
      for (gsize i = 0; i < v->len; i++)
        g_string_append_c (s, v->str[i] ? v->str[i] : '.');
      break;
    case TD_RESP_VALUE_NULL:
      g_string_append (s, "nil");
      break;
    case TD_RESP_VALUE_NULL_ARRAY:
      g_string_append (s, "nilarray");
      break;
    case TD_RESP_VALUE_ARRAY:
      g_string_append_c (s, '[');
      for (gsize i = 0; i < v->n_elements; i++)
        {
          if (i > 0)
            g_string_append_c (s, ',');
          dump_value (s, v->elements[i]);
        }
      g_string_append_c (s, ']');
      break;
    default:
      g_assert_not_reached ();
    }
}

static void
test_read_case (gconstpointer user_data)
{
  const ReadCase *row = user_data;

  /* Whole, then byte by byte: the same result either way. */
  for (int split = 0; split < 2; split++)
    {
      g_autoptr(TdRespReader) reader = td_resp_reader_new (0);
      g_autoptr(TdRespValue) value = NULL;
      g_autoptr(GError) error = NULL;
      TdRespReadStatus status = TD_RESP_READ_NEED_MORE;

      for (gsize i = 0; i < row->input_len && status == TD_RESP_READ_NEED_MORE; )
        {
          gsize n = split ? 1 : row->input_len;

          td_resp_reader_feed (reader, row->input + i, n);
          i += n;
          status = td_resp_reader_pop (reader, &value, &error);
        }

      if (row->dump == NULL)
        {
          g_assert_cmpint (status, ==, TD_RESP_READ_ERROR);
          g_assert_error (error, TD_RESP_ERROR, TD_RESP_ERROR_PROTOCOL);
        }
      else
        {
          g_autoptr(GString) s = g_string_new (NULL);

          g_assert_no_error (error);
          g_assert_cmpint (status, ==, TD_RESP_READ_VALUE);
          dump_value (s, value);
          g_assert_cmpstr (s->str, ==, row->dump);
          g_assert_cmpuint (td_resp_reader_get_buffered (reader), ==, 0);
        }
    }
}

static void
test_read_stream (void)
{
  g_autoptr(TdRespReader) reader = td_resp_reader_new (0);
  guint messages = 0;

  for (int i = 0; i < 1000; i++)
    {
      g_autoptr(GBytes) frame = td_resp_build_message (L ("news"), L ("payload"));
      TdRespValue *value = NULL;

      td_resp_reader_feed (reader, g_bytes_get_data (frame, NULL), g_bytes_get_size (frame));
      while (td_resp_reader_pop (reader, &value, NULL) == TD_RESP_READ_VALUE)
        {
          g_assert_true (td_resp_value_is_push (value, "message"));
          g_assert_false (td_resp_value_is_push (value, "pmessage"));
          messages++;
          g_clear_pointer (&value, td_resp_value_free);
        }
    }
  g_assert_cmpuint (messages, ==, 1000);
}

static void
test_read_limits (void)
{
  g_autoptr(TdRespReader) reader = td_resp_reader_new (16);
  g_autoptr(TdRespReader) deep = td_resp_reader_new (0);
  g_autoptr(TdRespValue) value = NULL;
  g_autoptr(GError) error = NULL;

  td_resp_reader_feed (reader, L ("$17\r\n"));
  g_assert_cmpint (td_resp_reader_pop (reader, &value, &error), ==, TD_RESP_READ_ERROR);
  g_assert_error (error, TD_RESP_ERROR, TD_RESP_ERROR_LIMIT);
  g_clear_error (&error);
  /* A broken reader stays broken. */
  g_assert_cmpint (td_resp_reader_pop (reader, &value, &error), ==, TD_RESP_READ_ERROR);
  g_clear_error (&error);

  for (int i = 0; i < TD_RESP_READER_MAX_DEPTH + 1; i++)
    td_resp_reader_feed (deep, L ("*1\r\n"));
  g_assert_cmpint (td_resp_reader_pop (deep, &value, &error), ==, TD_RESP_READ_ERROR);
  g_assert_error (error, TD_RESP_ERROR, TD_RESP_ERROR_LIMIT);
}

static void
test_read_fuzz (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (77);
  static const char alphabet[] = "*$:+-\r\n0123456789-x";

  for (int i = 0; i < 20000; i++)
    {
      g_autoptr(TdRespReader) reader = td_resp_reader_new (1024);
      char buf[64];
      int len = g_rand_int_range (rand, 1, sizeof buf);
      TdRespValue *value = NULL;

      for (int j = 0; j < len; j++)
        buf[j] = alphabet[g_rand_int_range (rand, 0, sizeof alphabet - 1)];
      td_resp_reader_feed (reader, buf, (gsize) len);
      while (td_resp_reader_pop (reader, &value, NULL) == TD_RESP_READ_VALUE)
        g_clear_pointer (&value, td_resp_value_free);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (parse_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/td/pubsub/resp/parse/%s", parse_cases[i].name);
      g_test_add_data_func (path, &parse_cases[i], test_parse_case);
    }
  g_test_add_func ("/td/pubsub/resp/parse/incremental", test_parse_incremental);
  g_test_add_func ("/td/pubsub/resp/parse/max-bulk", test_parse_max_bulk);
  g_test_add_func ("/td/pubsub/resp/parse/too-big", test_parse_too_big);
  g_test_add_func ("/td/pubsub/resp/parse/fuzz", test_parse_fuzz);
  g_test_add_func ("/td/pubsub/resp/split-args", test_split_args);
  g_test_add_func ("/td/pubsub/resp/string2ll", test_string2ll);
  g_test_add_func ("/td/pubsub/resp/writers", test_writers);
  for (guint i = 0; i < G_N_ELEMENTS (read_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/td/pubsub/resp/read/%s", read_cases[i].name);
      g_test_add_data_func (path, &read_cases[i], test_read_case);
    }
  g_test_add_func ("/td/pubsub/resp/read/stream", test_read_stream);
  g_test_add_func ("/td/pubsub/resp/read/limits", test_read_limits);
  g_test_add_func ("/td/pubsub/resp/read/fuzz", test_read_fuzz);
  return g_test_run ();
}
