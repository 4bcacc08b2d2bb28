/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-chat-member"

#include "config.h"

#include "app/td-chat-member.h"

struct _TdChatMember
{
  GObject   parent_instance;

  char     *nick;     /* owned */
  char     *prefix;   /* owned; "" when none */
  gboolean  away;
};

G_DEFINE_FINAL_TYPE (TdChatMember, td_chat_member, G_TYPE_OBJECT)

static void
td_chat_member_finalize (GObject *object)
{
  TdChatMember *self = TD_CHAT_MEMBER (object);

  g_free (self->nick);
  g_free (self->prefix);

  G_OBJECT_CLASS (td_chat_member_parent_class)->finalize (object);
}

static void
td_chat_member_class_init (TdChatMemberClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = td_chat_member_finalize;
}

static void
td_chat_member_init (TdChatMember *self)
{
}

TdChatMember *
td_chat_member_new (const char *nick,
                    const char *prefix,
                    gboolean    away)
{
  TdChatMember *self = g_object_new (TD_TYPE_CHAT_MEMBER, NULL);

  self->nick = g_strdup (nick);
  self->prefix = g_strdup (prefix ? prefix : "");
  self->away = away;
  return self;
}

const char *
td_chat_member_get_nick (TdChatMember *self)
{
  g_return_val_if_fail (TD_IS_CHAT_MEMBER (self), NULL);
  return self->nick;
}

const char *
td_chat_member_get_prefix (TdChatMember *self)
{
  g_return_val_if_fail (TD_IS_CHAT_MEMBER (self), NULL);
  return self->prefix;
}

gboolean
td_chat_member_get_away (TdChatMember *self)
{
  g_return_val_if_fail (TD_IS_CHAT_MEMBER (self), FALSE);
  return self->away;
}
