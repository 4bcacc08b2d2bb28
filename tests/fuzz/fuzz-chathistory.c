/* SPDX-License-Identifier: GPL-3.0-or-later */
/* CHATHISTORY from a client: the subcommand, selectors (`*`, msgid=,
 * timestamp=) and limit as td-irc-commands.c parses them, then the query
 * against an in-memory history whose shape (size, wrap-around, equal
 * times) also comes from the input. The answer is checked against the
 * definition of each subcommand. */
#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chat/td-chat-history.h"
#include "chat/td-irc-server-private.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define FUZZ_RING 16
#define FUZZ_KEY  "#c"
/* Messages are 2023-11-14T22:13:20Z plus a few seconds each. */
#define FUZZ_T0   (G_GINT64_CONSTANT (1700000000) * G_USEC_PER_SEC)

static guint
entry_index (const TdChatHistoryEntry *entry)
{
  return (guint) strtoul (entry->msgid + 1, NULL, 10);
}

/* Position of @sel among the messages: those with index < *lo are before
 * it, those with index >= *hi after it. FALSE for an unknown msgid. */
static gboolean
locate (const gint64                *times,
        guint                        n,
        guint                        first,
        const TdChatHistorySelector *sel,
        guint                       *lo,
        guint                       *hi)
{
  if (sel->type == TD_CHAT_HISTORY_SEL_MSGID)
    {
      for (guint i = first; i < n; i++)
        {
          g_autofree char *id = g_strdup_printf ("m%u", i);

          if (g_str_equal (id, sel->msgid))
            {
              *lo = i;
              *hi = i + 1;
              return TRUE;
            }
        }
      return FALSE;
    }
  if (sel->type == TD_CHAT_HISTORY_SEL_TIME)
    {
      *lo = *hi = 0;
      for (guint i = 0; i < n; i++)
        {
          if (times[i] < sel->time)
            *lo = i + 1;
          if (times[i] <= sel->time)
            *hi = i + 1;
        }
      return TRUE;
    }
  *lo = *hi = n;
  return TRUE;
}

static void
check_answer (const TdChatHistoryQuery *query,
              GPtrArray                *entries,
              const gint64             *times,
              guint                     n,
              guint                     first)
{
  guint lo_a = 0, hi_a = 0, lo_b = 0, hi_b = 0;
  gboolean in_a, in_b = TRUE;

  g_assert_cmpuint (entries->len, <=, query->limit);
  /* Oldest first, no gaps, only messages the ring still holds. */
  for (guint i = 0; i < entries->len; i++)
    {
      guint index = entry_index (g_ptr_array_index (entries, i));

      g_assert_cmpuint (index, >=, first);
      g_assert_cmpuint (index, <, n);
      if (i > 0)
        g_assert_cmpuint (index, ==, entry_index (g_ptr_array_index (entries, i - 1)) + 1);
    }
  if (entries->len == 0)
    return;

  in_a = locate (times, n, first, &query->a, &lo_a, &hi_a);
  /* Once the ring has wrapped, a msgid it does not hold may be older than
   * everything in it: LATEST then answers as if from the oldest kept. */
  if (!in_a && query->kind == TD_CHAT_HISTORY_LATEST && n > FUZZ_RING)
    {
      in_a = TRUE;
      lo_a = hi_a = first;
    }
  if (query->kind == TD_CHAT_HISTORY_BETWEEN)
    in_b = locate (times, n, first, &query->b, &lo_b, &hi_b);
  g_assert_true (in_a && in_b);

  {
    guint oldest = entry_index (g_ptr_array_index (entries, 0));
    guint newest = entry_index (g_ptr_array_index (entries, entries->len - 1));

    switch (query->kind)
      {
      case TD_CHAT_HISTORY_LATEST:
        /* After the point (or anything for `*`), ending at the newest. */
        g_assert_cmpuint (newest, ==, n - 1);
        if (query->a.type != TD_CHAT_HISTORY_SEL_NONE)
          g_assert_cmpuint (oldest, >=, hi_a);
        break;
      case TD_CHAT_HISTORY_BEFORE:
        g_assert_cmpuint (newest + 1, ==, lo_a);
        break;
      case TD_CHAT_HISTORY_AFTER:
        /* From the first message after the point that memory still
         * holds (no store here to ask for older ones). */
        g_assert_cmpuint (oldest, ==, MAX (hi_a, first));
        break;
      case TD_CHAT_HISTORY_AROUND:
        g_assert_cmpuint (oldest, <=, MAX (lo_a, first));
        break;
      case TD_CHAT_HISTORY_BETWEEN:
        /* Strictly between the two points, whichever comes first. */
        if (lo_a <= lo_b)
          {
            g_assert_cmpuint (oldest, >=, hi_a);
            g_assert_cmpuint (newest, <, lo_b);
          }
        else
          {
            g_assert_cmpuint (oldest, >=, hi_b);
            g_assert_cmpuint (newest, <, lo_a);
          }
        break;
      }
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) entries = NULL;
  TdChatHistory *history;
  TdChatHistoryQuery query = { 0 };
  TdIrcMessage *message;
  gint64 times[4 * FUZZ_RING];
  g_autofree char *sub = NULL;
  guint n, first, n_needed;

  /* Byte 0: messages in the history; bytes 1..n: the gaps between their
   * times in seconds (0 gives equal times); then the CHATHISTORY line. */
  if (size < 1 || size > TD_IRC_MAX_LINE + 4 * FUZZ_RING)
    return 0;
  n = data[0] % (4 * FUZZ_RING);
  if (size < 1 + (gsize) n)
    return 0;
  history = td_chat_history_new (FUZZ_RING);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(TdChatHistoryEntry) entry = td_chat_history_entry_new ();

      times[i] = (i > 0 ? times[i - 1] : FUZZ_T0) + (gint64) (data[1 + i] % 4) * G_USEC_PER_SEC;
      entry->msgid = g_strdup_printf ("m%u", i);
      entry->time = times[i];
      entry->key = g_strdup (FUZZ_KEY);
      entry->target = g_strdup ("#c");
      entry->sender = g_strdup ("a!a@h");
      entry->command = g_strdup ("PRIVMSG");
      entry->text = g_strdup ("hi");
      td_chat_history_add (history, entry);
    }
  first = n > FUZZ_RING ? n - FUZZ_RING : 0;
  data += 1 + n;
  size -= 1 + n;

  message = td_irc_message_parse ((const char *) data, (gssize) size, &error);
  if (message == NULL || g_ascii_strcasecmp (message->command, "CHATHISTORY") != 0 ||
      message->n_params < 3)
    goto out;

  /* The same steps as td_irc_cmd_chathistory(). */
  sub = g_ascii_strup (message->params[0], -1);
  if (g_str_equal (sub, "TARGETS"))
    {
      TdChatHistorySelector a = { 0 }, b = { 0 };
      guint limit;

      if (message->n_params >= 4 &&
          _td_irc_parse_history_selector (message->params[1], &a, FALSE) &&
          _td_irc_parse_history_selector (message->params[2], &b, FALSE) &&
          _td_irc_parse_history_limit (message->params[3], &limit))
        {
          g_autoptr(GPtrArray) targets = td_chat_history_targets (history, a.time, b.time, limit, NULL, NULL);

          g_assert_cmpuint (targets->len, <=, limit);
        }
      g_free (a.msgid);
      g_free (b.msgid);
      goto out;
    }
  if (g_str_equal (sub, "LATEST")) query.kind = TD_CHAT_HISTORY_LATEST;
  else if (g_str_equal (sub, "BEFORE")) query.kind = TD_CHAT_HISTORY_BEFORE;
  else if (g_str_equal (sub, "AFTER")) query.kind = TD_CHAT_HISTORY_AFTER;
  else if (g_str_equal (sub, "AROUND")) query.kind = TD_CHAT_HISTORY_AROUND;
  else if (g_str_equal (sub, "BETWEEN")) query.kind = TD_CHAT_HISTORY_BETWEEN;
  else
    goto out;
  n_needed = query.kind == TD_CHAT_HISTORY_BETWEEN ? 5 : 4;
  if (message->n_params < n_needed ||
      !_td_irc_parse_history_selector (message->params[2], &query.a, query.kind == TD_CHAT_HISTORY_LATEST) ||
      (query.kind == TD_CHAT_HISTORY_BETWEEN && !_td_irc_parse_history_selector (message->params[3], &query.b, FALSE)) ||
      !_td_irc_parse_history_limit (message->params[n_needed - 1], &query.limit))
    goto out;
  g_assert_cmpuint (query.limit, <=, TD_IRC_CHATHISTORY_MAX);

  /* Without a store the memory answers everything. */
  g_assert_true (td_chat_history_query (history, FUZZ_KEY, &query, &entries));
  check_answer (&query, entries, times, n, first);

out:
  td_chat_history_query_clear (&query);
  g_clear_pointer (&message, td_irc_message_free);
  td_chat_history_free (history);
  return 0;
}
