/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-chat-history"

#include "config.h"

#include <string.h>

#include "chat/td-chat-history.h"
#include "chat/td-irc-message.h"

/* A ring of the newest entries of one key, oldest first. */
typedef struct
{
  TdChatHistoryEntry **slots;
  guint                capacity;
  guint                start;
  guint                len;
  /* TRUE while the ring holds every message the key ever had (nothing
   * evicted, and no store that may know older ones). */
  gboolean             complete;
} Ring;

struct _TdChatHistory
{
  GHashTable         *rings;    /* key -> Ring */
  guint               ring_size;
  TdChatHistoryStore *store;    /* owned, nullable */
  /* TRUE once the store's recent history is in the rings: a key the
   * store did not mention then has nothing older on disk. */
  gboolean            store_loaded;
  gint64              next_seq;
  guint64             count;
};

/* ------------------------------------------------------------------ */
/* Entries                                                             */
/* ------------------------------------------------------------------ */

TdChatHistoryEntry *
td_chat_history_entry_new (void)
{
  TdChatHistoryEntry *entry = g_new0 (TdChatHistoryEntry, 1);

  entry->ref_count = 1;
  return entry;
}

TdChatHistoryEntry *
td_chat_history_entry_ref (TdChatHistoryEntry *entry)
{
  g_return_val_if_fail (entry != NULL, NULL);
  entry->ref_count++;
  return entry;
}

/* Entries live on the server's context only, so the count is not atomic. */
void
td_chat_history_entry_unref (TdChatHistoryEntry *entry)
{
  if (entry == NULL || --entry->ref_count > 0)
    return;
  g_free (entry->msgid);
  g_free (entry->key);
  g_free (entry->target);
  g_free (entry->sender);
  g_free (entry->account);
  g_free (entry->command);
  g_free (entry->text);
  g_free (entry->client_tags);
  g_free (entry);
}

/* ------------------------------------------------------------------ */
/* Rings                                                               */
/* ------------------------------------------------------------------ */

static Ring *
ring_new (guint    capacity,
          gboolean complete)
{
  Ring *ring = g_new0 (Ring, 1);

  ring->capacity = capacity;
  ring->slots = g_new0 (TdChatHistoryEntry *, capacity);
  ring->complete = complete;
  return ring;
}

static void
ring_free (gpointer data)
{
  Ring *ring = data;

  for (guint i = 0; i < ring->len; i++)
    td_chat_history_entry_unref (ring->slots[(ring->start + i) % ring->capacity]);
  g_free (ring->slots);
  g_free (ring);
}

static TdChatHistoryEntry *
ring_get (Ring  *ring,
          guint  i)
{
  return ring->slots[(ring->start + i) % ring->capacity];
}

static void
ring_push (Ring               *ring,
           TdChatHistoryEntry *entry)
{
  if (ring->len == ring->capacity)
    {
      td_chat_history_entry_unref (ring->slots[ring->start]);
      ring->slots[ring->start] = entry;
      ring->start = (ring->start + 1) % ring->capacity;
      ring->complete = FALSE;
      return;
    }
  ring->slots[(ring->start + ring->len) % ring->capacity] = entry;
  ring->len++;
}

/* First index whose time is >= @time (or > @time when @after). */
static guint
ring_bound (Ring     *ring,
            gint64    time,
            gboolean  after)
{
  guint lo = 0, hi = ring->len;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      gint64 t = ring_get (ring, mid)->time;

      if (t < time || (after && t == time))
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo;
}

/* Index of @msgid, or -1. Recent messages are asked for most, so the
 * scan runs from the newest. */
static gint
ring_find_msgid (Ring       *ring,
                 const char *msgid)
{
  for (guint i = ring->len; i > 0; i--)
    if (g_strcmp0 (ring_get (ring, i - 1)->msgid, msgid) == 0)
      return (gint) i - 1;
  return -1;
}

/* Resolves a selector to the boundary indexes [@lo_out, @hi_out): the
 * messages strictly before the point end at lo, those strictly after
 * start at hi. Returns FALSE when the point is not inside the ring. */
static gboolean
ring_locate (Ring                        *ring,
             const TdChatHistorySelector *sel,
             guint                       *lo_out,
             guint                       *hi_out)
{
  if (sel->type == TD_CHAT_HISTORY_SEL_MSGID)
    {
      gint i = ring_find_msgid (ring, sel->msgid);

      if (i < 0)
        return FALSE;
      *lo_out = (guint) i;
      *hi_out = (guint) i + 1;
      return TRUE;
    }
  if (sel->type == TD_CHAT_HISTORY_SEL_TIME)
    {
      *lo_out = ring_bound (ring, sel->time, FALSE);
      *hi_out = ring_bound (ring, sel->time, TRUE);
      /* A time older than the oldest kept message may have older
       * messages in the store. */
      return ring->len > 0 && sel->time >= ring_get (ring, 0)->time;
    }
  *lo_out = *hi_out = ring->len;
  return TRUE;
}

static void
take_range (Ring      *ring,
            guint      from,
            guint      to,
            GPtrArray *out)
{
  for (guint i = from; i < to; i++)
    g_ptr_array_add (out, td_chat_history_entry_ref (ring_get (ring, i)));
}

/* Answers @query from @ring into @out. Returns FALSE when the ring may
 * not hold the whole answer (the store has to be asked). */
static gboolean
ring_query (Ring                     *ring,
            const TdChatHistoryQuery *query,
            GPtrArray                *out)
{
  guint limit = query->limit;
  guint lo, hi, lo2, hi2;
  gboolean inside;

  switch (query->kind)
    {
    case TD_CHAT_HISTORY_LATEST:
      if (query->a.type == TD_CHAT_HISTORY_SEL_NONE)
        hi = 0;
      else if (!ring_locate (ring, &query->a, &lo, &hi))
        {
          /* The point is older than the ring (or unknown): everything in
           * the ring is after it. */
          if (ring->len < limit && !ring->complete)
            return FALSE;
          if (query->a.type == TD_CHAT_HISTORY_SEL_MSGID && ring->complete)
            return TRUE;
          hi = 0;
        }
      if (hi == 0 && ring->len < limit && !ring->complete)
        return FALSE;
      take_range (ring, MAX (hi, ring->len > limit ? ring->len - limit : 0), ring->len, out);
      return TRUE;

    case TD_CHAT_HISTORY_BEFORE:
      inside = ring_locate (ring, &query->a, &lo, &hi);
      if (!inside && !(query->a.type == TD_CHAT_HISTORY_SEL_TIME && ring->len > 0 &&
                       query->a.time > ring_get (ring, ring->len - 1)->time))
        return ring->complete;
      if (lo < limit && !ring->complete)
        return FALSE;
      take_range (ring, lo > limit ? lo - limit : 0, lo, out);
      return TRUE;

    case TD_CHAT_HISTORY_AFTER:
      inside = ring_locate (ring, &query->a, &lo, &hi);
      if (!inside)
        {
          if (query->a.type == TD_CHAT_HISTORY_SEL_TIME && (ring->complete || ring->len == 0))
            hi = 0;
          else
            return ring->complete;
        }
      take_range (ring, hi, MIN (ring->len, hi + limit), out);
      return TRUE;

    case TD_CHAT_HISTORY_AROUND:
      {
        guint before = limit / 2;

        inside = ring_locate (ring, &query->a, &lo, &hi);
        if (!inside)
          return ring->complete;
        if (lo < before && !ring->complete)
          return FALSE;
        /* The message at the point itself counts towards the "after" half. */
        take_range (ring, lo > before ? lo - before : 0, MIN (ring->len, lo + (limit - before)), out);
        return TRUE;
      }

    case TD_CHAT_HISTORY_BETWEEN:
      {
        gboolean in_a = ring_locate (ring, &query->a, &lo, &hi);
        gboolean in_b = ring_locate (ring, &query->b, &lo2, &hi2);
        gboolean forward;

        if ((!in_a && query->a.type == TD_CHAT_HISTORY_SEL_MSGID) ||
            (!in_b && query->b.type == TD_CHAT_HISTORY_SEL_MSGID))
          return ring->complete;
        forward = lo <= lo2;
        if (forward)
          {
            if (!in_a && !ring->complete)
              return FALSE;
            if (hi < lo2)
              take_range (ring, hi, MIN (lo2, hi + limit), out);
          }
        else
          {
            if (!in_b && !ring->complete && lo - hi2 < limit)
              return FALSE;
            if (hi2 < lo)
              take_range (ring, lo - hi2 > limit ? lo - limit : hi2, lo, out);
          }
        return TRUE;
      }
    }
  return FALSE;
}

/* ------------------------------------------------------------------ */
/* Public API                                                          */
/* ------------------------------------------------------------------ */

TdChatHistory *
td_chat_history_new (guint ring_size)
{
  TdChatHistory *history = g_new0 (TdChatHistory, 1);

  history->ring_size = ring_size > 0 ? ring_size : TD_CHAT_HISTORY_DEFAULT_RING;
  history->rings = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, ring_free);
  history->next_seq = 1;
  return history;
}

void
td_chat_history_free (TdChatHistory *history)
{
  if (history == NULL)
    return;
  g_hash_table_unref (history->rings);
  if (history->store != NULL && history->store->free != NULL)
    history->store->free (history->store);
  g_free (history);
}

/* Puts @store (owned) behind the rings. Rings made from now on are not
 * complete: the store may know older messages. */
void
td_chat_history_set_store (TdChatHistory      *history,
                           TdChatHistoryStore *store)
{
  GHashTableIter iter;
  gpointer value;

  g_return_if_fail (history != NULL);

  if (history->store != NULL && history->store->free != NULL)
    history->store->free (history->store);
  history->store = store;
  history->store_loaded = FALSE;
  g_hash_table_iter_init (&iter, history->rings);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    ((Ring *) value)->complete = store == NULL;
}

static Ring *
lookup_ring (TdChatHistory *history,
             const char    *key,
             gboolean       create)
{
  Ring *ring = g_hash_table_lookup (history->rings, key);

  if (ring == NULL && create)
    {
      ring = ring_new (history->ring_size, history->store == NULL || history->store_loaded);
      g_hash_table_insert (history->rings, g_strdup (key), ring);
    }
  return ring;
}

/* Adds an entry loaded from the store (at start): it goes into the ring
 * but is not saved again. Entries must come oldest first. */
void
td_chat_history_preload (TdChatHistory      *history,
                         TdChatHistoryEntry *entry)
{
  Ring *ring;

  g_return_if_fail (history != NULL);
  g_return_if_fail (entry != NULL && entry->key != NULL);

  ring = lookup_ring (history, entry->key, TRUE);
  entry->seq = history->next_seq++;
  ring_push (ring, td_chat_history_entry_ref (entry));
}

/* Ends the preload at start: every ring now holds all its key ever had,
 * except the keys in @truncated (nullable), whose store has older
 * messages than the ring; keys seen from now on start complete. So
 * LATEST is answered from memory unless a ring was cut. */
void
td_chat_history_loaded (TdChatHistory      *history,
                        const char * const *truncated)
{
  GHashTableIter iter;
  gpointer value;

  g_return_if_fail (history != NULL);

  history->store_loaded = TRUE;
  g_hash_table_iter_init (&iter, history->rings);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    ((Ring *) value)->complete = TRUE;
  for (guint i = 0; truncated != NULL && truncated[i] != NULL; i++)
    {
      Ring *ring = lookup_ring (history, truncated[i], TRUE);

      ring->complete = FALSE;
    }
}

/* Records @entry (a reference is taken): into the ring of its key and,
 * with a store, saved without waiting. Times must not go backwards. */
void
td_chat_history_add (TdChatHistory      *history,
                     TdChatHistoryEntry *entry)
{
  g_return_if_fail (history != NULL);
  g_return_if_fail (entry != NULL && entry->key != NULL);

  td_chat_history_preload (history, entry);
  history->count++;
  if (history->store != NULL)
    history->store->save (history->store, entry);
}

/* Answers @query for @key from memory. Returns TRUE with @entries (owned,
 * oldest first) when memory holds the whole answer; FALSE when the store
 * must be asked (td_chat_history_query_async()). */
gboolean
td_chat_history_query (TdChatHistory             *history,
                       const char                *key,
                       const TdChatHistoryQuery  *query,
                       GPtrArray                **entries)
{
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) td_chat_history_entry_unref);
  Ring *ring;

  g_return_val_if_fail (history != NULL, FALSE);
  g_return_val_if_fail (key != NULL && query != NULL && entries != NULL, FALSE);

  ring = lookup_ring (history, key, FALSE);
  if (ring == NULL)
    {
      if (history->store != NULL)
        return FALSE;
      *entries = g_steal_pointer (&out);
      return TRUE;
    }
  if (!ring_query (ring, query, out))
    {
      if (history->store != NULL)
        return FALSE;
      /* No store: what memory holds is all there is. */
      g_ptr_array_set_size (out, 0);
      ring->complete = TRUE;
      ring_query (ring, query, out);
      ring->complete = FALSE;
    }
  *entries = g_steal_pointer (&out);
  return TRUE;
}

/* Answers @query, from memory when it can, else from the store; @reply
 * runs once, maybe before this returns. */
void
td_chat_history_query_async (TdChatHistory            *history,
                             const char               *key,
                             const TdChatHistoryQuery *query,
                             TdChatHistoryReplyFunc    reply,
                             gpointer                  user_data)
{
  GPtrArray *entries = NULL;

  g_return_if_fail (history != NULL);

  if (td_chat_history_query (history, key, query, &entries))
    {
      reply (entries, user_data);
      return;
    }
  history->store->load (history->store, key, query, reply, user_data);
}

static gint
compare_targets (gconstpointer a,
                 gconstpointer b)
{
  const TdChatHistoryTarget *ta = *(TdChatHistoryTarget * const *) a;
  const TdChatHistoryTarget *tb = *(TdChatHistoryTarget * const *) b;

  return ta->last_time < tb->last_time ? -1 : ta->last_time > tb->last_time;
}

TdChatHistoryTarget *
td_chat_history_target_new (const char *key,
                            gint64      last_time)
{
  TdChatHistoryTarget *target = g_new0 (TdChatHistoryTarget, 1);

  target->key = g_strdup (key);
  target->last_time = last_time;
  return target;
}

void
td_chat_history_target_free (TdChatHistoryTarget *target)
{
  if (target == NULL)
    return;
  g_free (target->key);
  g_free (target);
}

static void
target_free (gpointer data)
{
  td_chat_history_target_free (data);
}

/* Returns the keys with a message between @from and @to (exclusive, in
 * either order) that @filter accepts, with their newest time, oldest first,
 * at most @limit. */
GPtrArray *
td_chat_history_targets (TdChatHistory *history,
                         gint64         from,
                         gint64         to,
                         guint          limit,
                         gboolean     (*filter) (const char *key,
                                                 gpointer    data),
                         gpointer       filter_data)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (target_free);
  gint64 lo = MIN (from, to), hi = MAX (from, to);
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, history->rings);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      Ring *ring = value;
      guint i;
      TdChatHistoryTarget *target;

      if (ring->len == 0 || (filter != NULL && !filter (key, filter_data)))
        continue;
      /* The newest message of the key inside the window. */
      i = ring_bound (ring, hi, FALSE);
      if (i == 0 || ring_get (ring, i - 1)->time <= lo)
        continue;
      target = g_new0 (TdChatHistoryTarget, 1);
      target->key = g_strdup (key);
      target->last_time = ring_get (ring, i - 1)->time;
      g_ptr_array_add (out, target);
    }
  g_ptr_array_sort (out, compare_targets);
  if (out->len > limit)
    g_ptr_array_set_size (out, limit);
  return out;
}

/* Returns TRUE when the rings know the newest message of every key inside
 * the window (lo, hi): a ring cut by eviction may only miss messages
 * older than its oldest one. */
static gboolean
targets_in_memory (TdChatHistory *history,
                   gint64         lo,
                   gint64         hi)
{
  GHashTableIter iter;
  gpointer value;

  if (history->store == NULL)
    return TRUE;
  if (!history->store_loaded || history->store->load_targets == NULL)
    return history->store->load_targets == NULL;
  g_hash_table_iter_init (&iter, history->rings);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Ring *ring = value;
      guint i;

      if (ring->complete || ring->len == 0 || ring_get (ring, 0)->time <= lo)
        continue;
      i = ring_bound (ring, hi, FALSE);
      if (i == 0)
        return FALSE;
    }
  return TRUE;
}

/* Calls @reply once (maybe before this returns) with every key that has a
 * message between @from and @to (exclusive, in either order) and its
 * newest time there, unsorted: from memory when the rings are enough for
 * that window, else from the store. */
void
td_chat_history_targets_async (TdChatHistory            *history,
                               gint64                    from,
                               gint64                    to,
                               TdChatHistoryTargetsFunc  reply,
                               gpointer                  user_data)
{
  g_return_if_fail (history != NULL && reply != NULL);

  if (targets_in_memory (history, MIN (from, to), MAX (from, to)))
    {
      reply (td_chat_history_targets (history, from, to, G_MAXUINT, NULL, NULL), user_data);
      return;
    }
  history->store->load_targets (history->store, from, to, reply, user_data);
}

guint64
td_chat_history_get_count (TdChatHistory *history)
{
  return history->count;
}

/* The key of the private conversation between two nicks: both casefolded,
 * sorted, joined by TD_CHAT_HISTORY_DM_SEPARATOR. */
char *
td_chat_history_dm_key (const char *nick_a,
                        const char *nick_b)
{
  g_autofree char *a = td_irc_casefold (nick_a);
  g_autofree char *b = td_irc_casefold (nick_b);

  if (strcmp (a, b) > 0)
    return g_strconcat (b, TD_CHAT_HISTORY_DM_SEPARATOR, a, NULL);
  return g_strconcat (a, TD_CHAT_HISTORY_DM_SEPARATOR, b, NULL);
}

void
td_chat_history_query_clear (TdChatHistoryQuery *query)
{
  g_clear_pointer (&query->a.msgid, g_free);
  g_clear_pointer (&query->b.msgid, g_free);
}
