/* SPDX-License-Identifier: GPL-3.0-or-later */
/* RESP2 replies as the Pub/Sub client reads them from a server: the same
 * stream fed whole and fed in pieces must give the same values. */
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "pubsub/td-resp.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Under the reader's longest reply line (1 MiB), past which the outcome
 * depends on how the bytes were split (a line that is too long is refused
 * as soon as that much has arrived without its newline), and over its
 * 64 KiB compaction threshold. */
#define FUZZ_REPLY_MAX (200 * 1024)

/* Writes @value to @log in a form that tells every field apart. */
static void
dump_value (GString           *log,
            const TdRespValue *value,
            guint              depth)
{
  g_assert_cmpuint (depth, <=, TD_RESP_READER_MAX_DEPTH + 1);
  switch (value->type)
    {
    case TD_RESP_VALUE_SIMPLE:
    case TD_RESP_VALUE_ERROR:
    case TD_RESP_VALUE_BULK:
      g_assert_nonnull (value->str);
      g_assert_cmpint (value->str[value->len], ==, '\0');
      g_string_append_printf (log, "%d:%" G_GSIZE_FORMAT ":", value->type, value->len);
      g_string_append_len (log, value->str, (gssize) value->len);
      break;
    case TD_RESP_VALUE_INTEGER:
      g_string_append_printf (log, "i%" G_GINT64_FORMAT, value->integer);
      break;
    case TD_RESP_VALUE_NULL:
      g_string_append (log, "n");
      break;
    case TD_RESP_VALUE_NULL_ARRAY:
      g_string_append (log, "N");
      break;
    case TD_RESP_VALUE_ARRAY:
      g_string_append_printf (log, "[%" G_GSIZE_FORMAT, value->n_elements);
      for (gsize i = 0; i < value->n_elements; i++)
        dump_value (log, value->elements[i], depth + 1);
      g_string_append (log, "]");
      break;
    default:
      g_assert_not_reached ();
    }
  /* Exercised on every value, as the client does on every reply. */
  (void) td_resp_value_is_push (value, "message");
}

/* Reads every value from @reader into @log; TRUE if the stream broke. */
static gboolean
drain (TdRespReader *reader,
       GString      *log)
{
  for (;;)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(TdRespValue) value = NULL;
      TdRespReadStatus status = td_resp_reader_pop (reader, &value, &error);

      if (status == TD_RESP_READ_NEED_MORE)
        {
          g_assert_null (error);
          return FALSE;
        }
      if (status == TD_RESP_READ_ERROR)
        {
          g_assert_nonnull (error);
          g_string_append_printf (log, "E%d:%s", error->code, error->message);
          return TRUE;
        }
      dump_value (log, value, 0);
      g_string_append_c (log, ';');
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GString) whole = g_string_new (NULL);
  g_autoptr(GString) pieces = g_string_new (NULL);
  g_autoptr(TdRespReader) a = NULL;
  g_autoptr(TdRespReader) b = NULL;
  gsize max_bulk;
  guint32 rng;
  gsize pos = 0;

  if (size < 1 || size > FUZZ_REPLY_MAX)
    return 0;
  /* The first byte picks the bulk limit and how the bytes arrive. */
  max_bulk = (data[0] & 1) ? 16 : 0;
  rng = data[0] * 2654435761u + 1;
  data++;
  size--;

  a = td_resp_reader_new (max_bulk);
  td_resp_reader_feed (a, (const char *) data, size);
  drain (a, whole);

  b = td_resp_reader_new (max_bulk);
  while (pos < size)
    {
      gsize n;

      rng = rng * 1103515245u + 12345u;
      n = MIN (size - pos, 1 + (rng >> 16) % (size > 8192 ? 4096 : 64));
      td_resp_reader_feed (b, (const char *) data + pos, n);
      pos += n;
      if (drain (b, pieces))
        break;
    }
  g_assert_cmpstr (whole->str, ==, pieces->str);
  return 0;
}
