/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* TdChatMember: one entry of a channel's nick list. */

#define TD_TYPE_CHAT_MEMBER (td_chat_member_get_type ())

G_DECLARE_FINAL_TYPE (TdChatMember, td_chat_member, TD, CHAT_MEMBER, GObject)

TdChatMember *td_chat_member_new        (const char   *nick,
                                         const char   *prefix,
                                         gboolean      away);
const char   *td_chat_member_get_nick   (TdChatMember *self);
const char   *td_chat_member_get_prefix (TdChatMember *self);
gboolean      td_chat_member_get_away   (TdChatMember *self);

G_END_DECLS
