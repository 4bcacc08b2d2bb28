/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "app/td-chat-line.h"
#include "app/td-chat-member.h"

G_BEGIN_DECLS

/*
 * TdChatBuffer: one entry of the chat sidebar and what it shows: a
 * network's server buffer (numerics, notices, connection state), a
 * channel, a private query, or search results. Lines arrive in batches
 * (td_chat_buffer_append / _prepend / _merge), so a burst costs the
 * message list one items-changed.
 */

typedef enum
{
  TD_CHAT_BUFFER_SERVER,
  TD_CHAT_BUFFER_CHANNEL,
  TD_CHAT_BUFFER_QUERY,
  TD_CHAT_BUFFER_SEARCH,
} TdChatBufferKind;

/* Lines from one sender closer together than this are grouped under one
 * nick, like a paragraph. */
#define TD_CHAT_GROUP_USEC (5 * 60 * G_USEC_PER_SEC)

#define TD_TYPE_CHAT_BUFFER (td_chat_buffer_get_type ())

G_DECLARE_FINAL_TYPE (TdChatBuffer, td_chat_buffer, TD, CHAT_BUFFER, GObject)

TdChatBuffer     *td_chat_buffer_new            (TdChatBufferKind  kind,
                                                 const char       *network,
                                                 const char       *name);
TdChatBufferKind  td_chat_buffer_get_kind       (TdChatBuffer     *self);
const char       *td_chat_buffer_get_network    (TdChatBuffer     *self);
const char       *td_chat_buffer_get_name       (TdChatBuffer     *self);
void              td_chat_buffer_set_name       (TdChatBuffer     *self,
                                                 const char       *name);
void              td_chat_buffer_rename         (TdChatBuffer     *self,
                                                 const char       *name);
const char       *td_chat_buffer_get_key        (TdChatBuffer     *self);
GListModel       *td_chat_buffer_get_lines      (TdChatBuffer     *self);
GListModel       *td_chat_buffer_get_members    (TdChatBuffer     *self);
void              td_chat_buffer_set_members    (TdChatBuffer     *self,
                                                 GPtrArray        *members);
TdChatMember     *td_chat_buffer_find_member    (TdChatBuffer     *self,
                                                 const char       *nick);

/* Appends @lines (TdChatLine) at the end, in one change. Lines whose
 * msgid is already in the buffer are skipped. Returns how many went in. */
guint             td_chat_buffer_append         (TdChatBuffer     *self,
                                                 GPtrArray        *lines);
/* Adds older or out-of-order @lines (oldest first) where their time puts
 * them; duplicates by msgid are skipped. Returns how many went in. */
guint             td_chat_buffer_merge          (TdChatBuffer     *self,
                                                 GPtrArray        *lines);
void              td_chat_buffer_clear          (TdChatBuffer     *self);
TdChatLine       *td_chat_buffer_get_oldest     (TdChatBuffer     *self);
TdChatLine       *td_chat_buffer_get_oldest_id  (TdChatBuffer     *self);

guint             td_chat_buffer_get_unread     (TdChatBuffer     *self);
guint             td_chat_buffer_get_mentions   (TdChatBuffer     *self);
void              td_chat_buffer_add_unread     (TdChatBuffer     *self,
                                                 guint             unread,
                                                 guint             mentions);
void              td_chat_buffer_mark_read      (TdChatBuffer     *self);
gboolean          td_chat_buffer_get_joined     (TdChatBuffer     *self);
void              td_chat_buffer_set_joined     (TdChatBuffer     *self,
                                                 gboolean          joined);
const char       *td_chat_buffer_get_topic      (TdChatBuffer     *self);
void              td_chat_buffer_set_topic      (TdChatBuffer     *self,
                                                 const char       *topic);
const char       *td_chat_buffer_get_status     (TdChatBuffer     *self);
void              td_chat_buffer_set_status     (TdChatBuffer     *self,
                                                 const char       *status);

/* Scrollback state, kept by the view. */
gboolean          td_chat_buffer_get_loading    (TdChatBuffer     *self);
void              td_chat_buffer_set_loading    (TdChatBuffer     *self,
                                                 gboolean          loading);
gboolean          td_chat_buffer_get_server_done (TdChatBuffer    *self);
void              td_chat_buffer_set_server_done (TdChatBuffer    *self,
                                                 gboolean          done);
gboolean          td_chat_buffer_get_local_done (TdChatBuffer     *self);
void              td_chat_buffer_set_local_done (TdChatBuffer     *self,
                                                 gboolean          done);

G_END_DECLS
