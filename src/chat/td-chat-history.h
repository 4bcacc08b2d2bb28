/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Chat history for the IRC server: an in-memory ring of recent messages
 * per target (so CHATHISTORY LATEST never touches the disk) in front of an
 * optional persistent store (the recorder). Keys are casefolded targets:
 * a channel name, or for private messages the two nicks joined by
 * TD_CHAT_HISTORY_DM_SEPARATOR in sorted order (td_chat_history_dm_key()).
 *
 * Everything here runs on the server's context; the store, when there is
 * one, answers loads later on that context.
 */

/* Messages kept in memory per target: enough to fill a client's window
 * and answer the usual LATEST 50..500 without a disk read. */
#define TD_CHAT_HISTORY_DEFAULT_RING 1000

#define TD_CHAT_HISTORY_DM_SEPARATOR "\x01"

typedef struct
{
  char   *msgid;
  gint64  time;        /* unix microseconds, server clock */
  char   *key;         /* the history key (see above) */
  char   *target;      /* the target as the sender wrote it: #chan or nick */
  char   *sender;      /* nick!user@host */
  char   *account;     /* NULL when not logged in */
  char   *command;     /* PRIVMSG or NOTICE */
  char   *text;
  char   *client_tags; /* escaped `+a=b;+c` client tags, or NULL */

  /*< private >*/
  gint    ref_count;
  gint64  seq;         /* order within the history; assigned on add */
} TdChatHistoryEntry;

typedef enum
{
  TD_CHAT_HISTORY_LATEST,
  TD_CHAT_HISTORY_BEFORE,
  TD_CHAT_HISTORY_AFTER,
  TD_CHAT_HISTORY_AROUND,
  TD_CHAT_HISTORY_BETWEEN,
} TdChatHistoryKind;

/* A point in a target's history: a msgid, a time, or none (`*`). */
typedef struct
{
  enum { TD_CHAT_HISTORY_SEL_NONE, TD_CHAT_HISTORY_SEL_MSGID, TD_CHAT_HISTORY_SEL_TIME } type;
  char   *msgid;
  gint64  time;
} TdChatHistorySelector;

typedef struct
{
  TdChatHistoryKind     kind;
  TdChatHistorySelector a;
  TdChatHistorySelector b;   /* BETWEEN only */
  guint                 limit;
} TdChatHistoryQuery;

typedef struct
{
  char   *key;
  gint64  last_time;
} TdChatHistoryTarget;

/* Persistence behind the ring. save() must not block (fire-and-forget);
 * load() calls @reply later on the server's context with the entries in
 * ascending order (NULL when the store failed); load_targets() likewise
 * with every key that has a message between @from and @to (exclusive, in
 * either order) and its newest time there, unsorted and unfiltered.
 * Either reply runs exactly once, also when the store is freed first. */
typedef struct _TdChatHistoryStore TdChatHistoryStore;
typedef void (*TdChatHistoryReplyFunc)   (GPtrArray *entries,   /* TdChatHistoryEntry, owned */
                                          gpointer   user_data);
typedef void (*TdChatHistoryTargetsFunc) (GPtrArray *targets,   /* TdChatHistoryTarget, owned */
                                          gpointer   user_data);
struct _TdChatHistoryStore
{
  void (*save)          (TdChatHistoryStore       *store,
                         TdChatHistoryEntry       *entry);
  void (*load)          (TdChatHistoryStore       *store,
                         const char               *key,
                         const TdChatHistoryQuery *query,
                         TdChatHistoryReplyFunc    reply,
                         gpointer                  user_data);
  void (*free)          (TdChatHistoryStore       *store);
  /* Optional: without it TARGETS is answered from memory only. */
  void (*load_targets)  (TdChatHistoryStore       *store,
                         gint64                    from,
                         gint64                    to,
                         TdChatHistoryTargetsFunc  reply,
                         gpointer                  user_data);
};

typedef struct _TdChatHistory TdChatHistory;

TdChatHistoryEntry *td_chat_history_entry_new    (void);
TdChatHistoryEntry *td_chat_history_entry_ref    (TdChatHistoryEntry       *entry);
void                td_chat_history_entry_unref  (TdChatHistoryEntry       *entry);

TdChatHistory      *td_chat_history_new          (guint                     ring_size);
void                td_chat_history_free         (TdChatHistory            *history);
void                td_chat_history_set_store    (TdChatHistory            *history,
                                                  TdChatHistoryStore       *store);
void                td_chat_history_add          (TdChatHistory            *history,
                                                  TdChatHistoryEntry       *entry);
void                td_chat_history_preload      (TdChatHistory            *history,
                                                  TdChatHistoryEntry       *entry);
void                td_chat_history_loaded       (TdChatHistory            *history,
                                                  const char * const       *truncated);
gboolean            td_chat_history_query        (TdChatHistory            *history,
                                                  const char               *key,
                                                  const TdChatHistoryQuery *query,
                                                  GPtrArray               **entries);
void                td_chat_history_query_async  (TdChatHistory            *history,
                                                  const char               *key,
                                                  const TdChatHistoryQuery *query,
                                                  TdChatHistoryReplyFunc    reply,
                                                  gpointer                  user_data);
GPtrArray          *td_chat_history_targets      (TdChatHistory            *history,
                                                  gint64                    from,
                                                  gint64                    to,
                                                  guint                     limit,
                                                  gboolean                (*filter) (const char *key,
                                                                                     gpointer    data),
                                                  gpointer                  filter_data);
void                td_chat_history_targets_async (TdChatHistory           *history,
                                                  gint64                    from,
                                                  gint64                    to,
                                                  TdChatHistoryTargetsFunc  reply,
                                                  gpointer                  user_data);
TdChatHistoryTarget *td_chat_history_target_new  (const char               *key,
                                                  gint64                    last_time);
void                td_chat_history_target_free  (TdChatHistoryTarget      *target);
guint64             td_chat_history_get_count    (TdChatHistory            *history);

char               *td_chat_history_dm_key       (const char               *nick_a,
                                                  const char               *nick_b);
void                td_chat_history_query_clear  (TdChatHistoryQuery       *query);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdChatHistoryEntry, td_chat_history_entry_unref)

G_END_DECLS
