/* SPDX-License-Identifier: GPL-3.0-or-later */
/* RESP requests as tidingsd reads them: multibulk and inline (telnet)
 * requests from one query buffer, fed whole and fed in pieces; plus the
 * inline argument splitter on its own. */
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "pubsub/td-resp.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Inputs are kept under the 64 KiB inline and header limits: past them the
 * server's answer depends on how the bytes were split into reads (as in
 * Redis), so the whole-versus-pieces comparison would not hold. */
#define FUZZ_RESP_MAX (48 * 1024)

/* Appends one parse outcome to @log so two runs can be compared. */
static void
log_request (GString      *log,
             TdRespParser *parser)
{
  guint argc = td_resp_parser_get_argc (parser);
  const TdRespArg *argv = td_resp_parser_get_argv (parser);

  g_string_append_printf (log, "R%u:", argc);
  for (guint i = 0; i < argc; i++)
    {
      g_assert (argv[i].data != NULL || argv[i].len == 0);
      g_string_append_printf (log, "%" G_GSIZE_FORMAT ":", argv[i].len);
      g_string_append_len (log, argv[i].data, (gssize) argv[i].len);
    }
}

/* Parses @data as the server does when everything arrived in one read. */
static void
run_whole (const char *data,
           gsize       len,
           gboolean    authenticated,
           gsize       max_bulk,
           GString    *log)
{
  g_autoptr(TdRespParser) parser = td_resp_parser_new ();
  gsize pos = 0;

  td_resp_parser_set_max_bulk_len (parser, max_bulk);
  while (pos < len)
    {
      gsize consumed = 0;
      TdRespParseStatus status = td_resp_parser_parse (parser, data + pos, len - pos,
                                                       authenticated, &consumed);

      if (status == TD_RESP_PARSE_INCOMPLETE)
        break;
      if (status == TD_RESP_PARSE_ERROR)
        {
          const char *error = td_resp_parser_get_error (parser);

          g_assert_nonnull (error);
          g_assert_null (strpbrk (error, "\r\n"));
          g_string_append_printf (log, "E:%s", error);
          return;
        }
      g_assert_cmpuint (consumed, >, 0);
      g_assert_cmpuint (consumed, <=, len - pos);
      log_request (log, parser);
      pos += consumed;
    }
  g_string_append (log, "I");
}

/* Parses @data arriving in pieces of varying sizes; each time more arrives
 * the unparsed bytes move to a fresh allocation, as the server's query
 * buffer may move, so a pointer kept from an earlier call is caught. */
static void
run_pieces (const char *data,
            gsize       len,
            gboolean    authenticated,
            gsize       max_bulk,
            guint8      seed,
            GString    *log)
{
  g_autoptr(TdRespParser) parser = td_resp_parser_new ();
  gsize pos = 0, avail = 0;
  guint32 rng = seed * 2654435761u + 1;

  td_resp_parser_set_max_bulk_len (parser, max_bulk);
  while (pos < len)
    {
      g_autofree char *copy = NULL;
      gsize consumed = 0;
      TdRespParseStatus status;

      if (avail == pos)
        {
          rng = rng * 1103515245u + 12345u;
          avail = MIN (len, avail + 1 + (rng >> 16) % 64);
        }
      copy = g_memdup2 (data + pos, avail - pos);
      status = td_resp_parser_parse (parser, copy, avail - pos, authenticated, &consumed);
      if (status == TD_RESP_PARSE_INCOMPLETE)
        {
          if (avail == len)
            break;
          rng = rng * 1103515245u + 12345u;
          avail = MIN (len, avail + 1 + (rng >> 16) % 64);
          continue;
        }
      if (status == TD_RESP_PARSE_ERROR)
        {
          g_string_append_printf (log, "E:%s", td_resp_parser_get_error (parser));
          return;
        }
      log_request (log, parser);
      pos += consumed;
      if (avail < pos)
        avail = pos;
    }
  g_string_append (log, "I");
}

static void
check_split_args (const char *data,
                  gsize       len)
{
  g_autofree gsize *lengths = NULL;
  guint argc = 0;
  char **argv = td_resp_split_args (data, len, &lengths, &argc);

  if (argv == NULL)
    return;
  g_assert_cmpuint (g_strv_length (argv), <=, argc);
  for (guint i = 0; i < argc; i++)
    {
      g_assert_nonnull (argv[i]);
      g_assert_cmpuint (lengths[i], <=, len);
      g_assert_cmpint (argv[i][lengths[i]], ==, '\0');
    }
  g_assert_null (argv[argc]);
  g_strfreev (argv);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GString) whole = g_string_new (NULL);
  g_autoptr(GString) pieces = g_string_new (NULL);
  gboolean authenticated;
  gsize max_bulk;
  guint8 flags;

  if (size < 1 || size > FUZZ_RESP_MAX)
    return 0;
  /* The first byte picks the session state and how the bytes arrive. */
  flags = data[0];
  authenticated = (flags & 1) == 0;
  max_bulk = (flags & 2) ? TD_RESP_MIN_MAX_BULK_LEN : TD_RESP_DEFAULT_MAX_BULK_LEN;
  data++;
  size--;

  run_whole ((const char *) data, size, authenticated, max_bulk, whole);
  run_pieces ((const char *) data, size, authenticated, max_bulk, flags, pieces);
  g_assert_cmpstr (whole->str, ==, pieces->str);

  check_split_args ((const char *) data, size);
  return 0;
}
