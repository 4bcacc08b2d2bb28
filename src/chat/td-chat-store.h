/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

#include "chat/td-chat-history.h"
#include "core/td-mailbox.h"
#include "store/td-recorder.h"

G_BEGIN_DECLS

/*
 * Chat history in the server database (table `history` of
 * td_schema_server()), through the recorder: the TdChatHistoryStore
 * behind the in-memory rings, and the snapshot of recent history that
 * fills the rings at start.
 *
 * Rows keep the history key in `target` (the casefolded channel, or the
 * conversation key of td_chat_history_dm_key()), the target as the sender
 * wrote it in `target_name`, `time` in unix microseconds, and the
 * client-only tags in `tags`. Loaded entries carry that spelling as their
 * target; rows written before it was kept carry the key for channels (the
 * caller knows the channel's spelling) and the casefolded recipient for
 * private messages.
 */

/* What the store knows at start: each key's newest messages (at most the
 * ring size), ready for td_chat_history_preload(). */
typedef struct
{
  GPtrArray *entries;     /* TdChatHistoryEntry; per key, oldest first */
  GPtrArray *truncated;   /* keys with older messages on disk; NULL-terminated */
  gint64     last_time;   /* the newest time of all, 0 when empty */
  guint      n_targets;
} TdChatStoreSnapshot;

/* Returns a store that saves through @recorder (borrowed: it must outlive
 * the store) and answers loads on @context, the server's. */
TdChatHistoryStore  *td_chat_store_new                (TdRecorder          *recorder,
                                                       GMainContext        *context);

/* Reads the newest @ring_size messages of every key and mails a
 * TdStoreResult holding a TdChatStoreSnapshot to @reply as @reply_kind. */
void                 td_chat_store_load_snapshot      (TdRecorder          *recorder,
                                                       guint                ring_size,
                                                       TdMailboxId          reply,
                                                       guint                reply_kind);
void                 td_chat_store_snapshot_free      (TdChatStoreSnapshot *snapshot);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdChatStoreSnapshot, td_chat_store_snapshot_free)

G_END_DECLS
