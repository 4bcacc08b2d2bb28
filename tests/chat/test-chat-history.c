/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "chat/td-chat-history.h"

/* Messages m1..mN at times 1000, 2000, ... (microseconds). */
static TdChatHistory *
make_history (guint ring,
              guint n)
{
  TdChatHistory *history = td_chat_history_new (ring);

  for (guint i = 1; i <= n; i++)
    {
      TdChatHistoryEntry *entry = td_chat_history_entry_new ();

      entry->msgid = g_strdup_printf ("m%u", i);
      entry->time = (gint64) i * 1000;
      entry->key = g_strdup ("#a");
      entry->target = g_strdup ("#a");
      entry->sender = g_strdup ("n!u@h");
      entry->command = g_strdup ("PRIVMSG");
      entry->text = g_strdup_printf ("text %u", i);
      td_chat_history_add (history, entry);
      td_chat_history_entry_unref (entry);
    }
  return history;
}

/* Runs a query and returns the msgids joined by spaces. */
static char *
run (TdChatHistory     *history,
     TdChatHistoryKind  kind,
     const char        *a,
     const char        *b,
     guint              limit)
{
  TdChatHistoryQuery query = { .kind = kind, .limit = limit };
  g_autoptr(GPtrArray) entries = NULL;
  g_autoptr(GString) out = g_string_new (NULL);
  const char *sels[2] = { a, b };
  TdChatHistorySelector *targets[2] = { &query.a, &query.b };

  for (guint i = 0; i < 2; i++)
    {
      if (sels[i] == NULL || g_str_equal (sels[i], "*"))
        continue;
      if (sels[i][0] == 't')
        {
          targets[i]->type = TD_CHAT_HISTORY_SEL_TIME;
          targets[i]->time = g_ascii_strtoll (sels[i] + 1, NULL, 10);
        }
      else
        {
          targets[i]->type = TD_CHAT_HISTORY_SEL_MSGID;
          targets[i]->msgid = g_strdup (sels[i]);
        }
    }
  g_assert_true (td_chat_history_query (history, "#a", &query, &entries));
  td_chat_history_query_clear (&query);
  for (guint i = 0; i < entries->len; i++)
    g_string_append_printf (out, "%s%s", i ? " " : "",
                            ((TdChatHistoryEntry *) g_ptr_array_index (entries, i))->msgid);
  return g_string_free (g_steal_pointer (&out), FALSE);
}

#define CHECK(h, kind, a, b, limit, expected) \
  G_STMT_START { \
    g_autofree char *got = run (h, kind, a, b, limit); \
    g_assert_cmpstr (got, ==, expected); \
  } G_STMT_END

static void
test_queries (void)
{
  TdChatHistory *h = make_history (100, 10);

  CHECK (h, TD_CHAT_HISTORY_LATEST, "*", NULL, 3, "m8 m9 m10");
  CHECK (h, TD_CHAT_HISTORY_LATEST, "*", NULL, 50, "m1 m2 m3 m4 m5 m6 m7 m8 m9 m10");
  CHECK (h, TD_CHAT_HISTORY_LATEST, "m7", NULL, 50, "m8 m9 m10");
  CHECK (h, TD_CHAT_HISTORY_LATEST, "t7000", NULL, 2, "m9 m10");
  CHECK (h, TD_CHAT_HISTORY_BEFORE, "m5", NULL, 2, "m3 m4");
  CHECK (h, TD_CHAT_HISTORY_BEFORE, "t5000", NULL, 10, "m1 m2 m3 m4");
  CHECK (h, TD_CHAT_HISTORY_BEFORE, "m1", NULL, 10, "");
  CHECK (h, TD_CHAT_HISTORY_AFTER, "m5", NULL, 2, "m6 m7");
  CHECK (h, TD_CHAT_HISTORY_AFTER, "t5500", NULL, 2, "m6 m7");
  CHECK (h, TD_CHAT_HISTORY_AFTER, "m10", NULL, 2, "");
  CHECK (h, TD_CHAT_HISTORY_AROUND, "m5", NULL, 4, "m3 m4 m5 m6");
  CHECK (h, TD_CHAT_HISTORY_AROUND, "m1", NULL, 3, "m1 m2");
  CHECK (h, TD_CHAT_HISTORY_BETWEEN, "m2", "m6", 10, "m3 m4 m5");
  CHECK (h, TD_CHAT_HISTORY_BETWEEN, "m2", "m6", 2, "m3 m4");
  CHECK (h, TD_CHAT_HISTORY_BETWEEN, "m6", "m2", 2, "m4 m5");
  CHECK (h, TD_CHAT_HISTORY_BETWEEN, "t1500", "t4500", 10, "m2 m3 m4");
  CHECK (h, TD_CHAT_HISTORY_AFTER, "nosuch", NULL, 5, "");
  td_chat_history_free (h);
}

/* After eviction, memory still answers what it holds; without a store
 * that is all there is. */
static void
test_ring_eviction (void)
{
  TdChatHistory *h = make_history (5, 12);

  CHECK (h, TD_CHAT_HISTORY_LATEST, "*", NULL, 3, "m10 m11 m12");
  CHECK (h, TD_CHAT_HISTORY_LATEST, "*", NULL, 100, "m8 m9 m10 m11 m12");
  CHECK (h, TD_CHAT_HISTORY_BEFORE, "m9", NULL, 100, "m8");
  CHECK (h, TD_CHAT_HISTORY_AFTER, "m2", NULL, 100, "");
  g_assert_cmpuint (td_chat_history_get_count (h), ==, 12);
  td_chat_history_free (h);
}

typedef struct
{
  TdChatHistoryStore  parent;
  guint               saves;
  guint               loads;
} FakeStore;

static void
fake_save (TdChatHistoryStore *store,
           TdChatHistoryEntry *entry)
{
  ((FakeStore *) store)->saves++;
}

static void
fake_load (TdChatHistoryStore       *store,
           const char               *key,
           const TdChatHistoryQuery *query,
           TdChatHistoryReplyFunc    reply,
           gpointer                  user_data)
{
  ((FakeStore *) store)->loads++;
  reply (g_ptr_array_new (), user_data);
}

static void
reply_cb (GPtrArray *entries,
          gpointer   user_data)
{
  *(guint *) user_data = entries->len + 1;
  g_ptr_array_unref (entries);
}

/* With a store, LATEST that the ring covers never loads; an older
 * BEFORE goes to the store. */
static void
test_store (void)
{
  TdChatHistory *h = td_chat_history_new (5);
  FakeStore *store = g_new0 (FakeStore, 1);
  TdChatHistoryQuery latest = { .kind = TD_CHAT_HISTORY_LATEST, .limit = 3 };
  TdChatHistoryQuery before = { .kind = TD_CHAT_HISTORY_BEFORE, .limit = 3,
                                .a = { .type = TD_CHAT_HISTORY_SEL_TIME, .time = 2000 } };
  guint got = 0;

  store->parent.save = fake_save;
  store->parent.load = fake_load;
  store->parent.free = (void (*) (TdChatHistoryStore *)) g_free;
  td_chat_history_set_store (h, &store->parent);
  for (guint i = 1; i <= 8; i++)
    {
      TdChatHistoryEntry *entry = td_chat_history_entry_new ();

      entry->msgid = g_strdup_printf ("m%u", i);
      entry->time = (gint64) i * 1000;
      entry->key = g_strdup ("#a");
      td_chat_history_add (h, entry);
      td_chat_history_entry_unref (entry);
    }
  g_assert_cmpuint (store->saves, ==, 8);
  td_chat_history_query_async (h, "#a", &latest, reply_cb, &got);
  g_assert_cmpuint (got, ==, 4);
  g_assert_cmpuint (store->loads, ==, 0);
  td_chat_history_query_async (h, "#a", &before, reply_cb, &got);
  g_assert_cmpuint (store->loads, ==, 1);
  td_chat_history_free (h);
}

static void
test_dm_key (void)
{
  g_autofree char *a = td_chat_history_dm_key ("Bob", "alice");
  g_autofree char *b = td_chat_history_dm_key ("ALICE", "bob");

  g_assert_cmpstr (a, ==, b);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/td/chat-history/queries", test_queries);
  g_test_add_func ("/td/chat-history/ring-eviction", test_ring_eviction);
  g_test_add_func ("/td/chat-history/store", test_store);
  g_test_add_func ("/td/chat-history/dm-key", test_dm_key);
  return g_test_run ();
}
