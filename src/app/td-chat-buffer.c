/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-chat-buffer"

#include "config.h"

#include "app/td-chat-buffer.h"
#include "app/td-chat-member.h"
#include "chat/td-irc-message.h"

struct _TdChatBuffer
{
  GObject           parent_instance;

  TdChatBufferKind  kind;
  char             *network;     /* owned */
  char             *name;        /* owned; as shown */
  char             *key;         /* owned; casefolded name */
  GListStore       *lines;       /* owned; TdChatLine, oldest first */
  GListStore       *members;     /* owned; TdChatMember */
  GHashTable       *msgids;      /* owned; msgids of the lines */
  guint             unread;
  guint             mentions;
  gboolean          joined;
  char             *topic;       /* owned */
  char             *status;      /* owned */
  gboolean          loading;
  gboolean          server_done;
  gboolean          local_done;
};

G_DEFINE_FINAL_TYPE (TdChatBuffer, td_chat_buffer, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_NAME,
  PROP_UNREAD,
  PROP_MENTIONS,
  PROP_JOINED,
  PROP_TOPIC,
  PROP_STATUS,
  PROP_KIND,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
td_chat_buffer_finalize (GObject *object)
{
  TdChatBuffer *self = TD_CHAT_BUFFER (object);

  g_free (self->network);
  g_free (self->name);
  g_free (self->key);
  g_clear_object (&self->lines);
  g_clear_object (&self->members);
  g_hash_table_unref (self->msgids);
  g_free (self->topic);
  g_free (self->status);

  G_OBJECT_CLASS (td_chat_buffer_parent_class)->finalize (object);
}

static void
td_chat_buffer_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  TdChatBuffer *self = TD_CHAT_BUFFER (object);

  switch (prop_id)
    {
    case PROP_NAME:
      g_value_set_string (value, self->name);
      break;
    case PROP_UNREAD:
      g_value_set_uint (value, self->unread);
      break;
    case PROP_MENTIONS:
      g_value_set_uint (value, self->mentions);
      break;
    case PROP_JOINED:
      g_value_set_boolean (value, self->joined);
      break;
    case PROP_TOPIC:
      g_value_set_string (value, self->topic);
      break;
    case PROP_STATUS:
      g_value_set_string (value, self->status);
      break;
    case PROP_KIND:
      g_value_set_uint (value, self->kind);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
td_chat_buffer_class_init (TdChatBufferClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = td_chat_buffer_finalize;
  object_class->get_property = td_chat_buffer_get_property;

  properties[PROP_NAME] = g_param_spec_string ("name", NULL, NULL, NULL,
                                               G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_UNREAD] = g_param_spec_uint ("unread", NULL, NULL, 0, G_MAXUINT, 0,
                                               G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_MENTIONS] = g_param_spec_uint ("mentions", NULL, NULL, 0, G_MAXUINT, 0,
                                                 G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_JOINED] = g_param_spec_boolean ("joined", NULL, NULL, FALSE,
                                                  G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_TOPIC] = g_param_spec_string ("topic", NULL, NULL, NULL,
                                                G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_STATUS] = g_param_spec_string ("status", NULL, NULL, NULL,
                                                 G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_KIND] = g_param_spec_uint ("kind", NULL, NULL, 0, TD_CHAT_BUFFER_SEARCH, 0,
                                             G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
td_chat_buffer_init (TdChatBuffer *self)
{
  self->lines = g_list_store_new (TD_TYPE_CHAT_LINE);
  self->members = g_list_store_new (TD_TYPE_CHAT_MEMBER);
  self->msgids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

TdChatBuffer *
td_chat_buffer_new (TdChatBufferKind  kind,
                    const char       *network,
                    const char       *name)
{
  TdChatBuffer *self = g_object_new (TD_TYPE_CHAT_BUFFER, NULL);

  self->kind = kind;
  self->network = g_strdup (network);
  self->name = g_strdup (name);
  self->key = td_irc_casefold (name);
  return self;
}

TdChatBufferKind
td_chat_buffer_get_kind (TdChatBuffer *self)
{
  g_return_val_if_fail (TD_IS_CHAT_BUFFER (self), TD_CHAT_BUFFER_SERVER);
  return self->kind;
}

const char *
td_chat_buffer_get_network (TdChatBuffer *self)
{
  g_return_val_if_fail (TD_IS_CHAT_BUFFER (self), NULL);
  return self->network;
}

const char *
td_chat_buffer_get_name (TdChatBuffer *self)
{
  g_return_val_if_fail (TD_IS_CHAT_BUFFER (self), NULL);
  return self->name;
}

/* The display name only (a channel's case as the server spells it);
 * the key stays. */
void
td_chat_buffer_set_name (TdChatBuffer *self,
                         const char   *name)
{
  g_return_if_fail (TD_IS_CHAT_BUFFER (self));
  if (g_strcmp0 (self->name, name) == 0)
    return;
  g_free (self->name);
  self->name = g_strdup (name);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_NAME]);
}

/* The buffer is now @name, key and all: a query whose peer changed nick. */
void
td_chat_buffer_rename (TdChatBuffer *self,
                       const char   *name)
{
  g_return_if_fail (TD_IS_CHAT_BUFFER (self));
  g_return_if_fail (name != NULL);

  g_free (self->key);
  self->key = td_irc_casefold (name);
  td_chat_buffer_set_name (self, name);
}

const char *
td_chat_buffer_get_key (TdChatBuffer *self)
{
  g_return_val_if_fail (TD_IS_CHAT_BUFFER (self), NULL);
  return self->key;
}

GListModel *
td_chat_buffer_get_lines (TdChatBuffer *self)
{
  g_return_val_if_fail (TD_IS_CHAT_BUFFER (self), NULL);
  return G_LIST_MODEL (self->lines);
}

GListModel *
td_chat_buffer_get_members (TdChatBuffer *self)
{
  g_return_val_if_fail (TD_IS_CHAT_BUFFER (self), NULL);
  return G_LIST_MODEL (self->members);
}

/* Replaces the nick list with @members (TdChatMember), in one change. */
void
td_chat_buffer_set_members (TdChatBuffer *self,
                            GPtrArray    *members)
{
  g_return_if_fail (TD_IS_CHAT_BUFFER (self));
  g_list_store_splice (self->members, 0, g_list_model_get_n_items (G_LIST_MODEL (self->members)),
                       members ? members->pdata : NULL, members ? members->len : 0);
}

TdChatMember *
td_chat_buffer_find_member (TdChatBuffer *self,
                            const char   *nick)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->members));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(TdChatMember) member = g_list_model_get_item (G_LIST_MODEL (self->members), i);

      if (td_irc_equal (td_chat_member_get_nick (member), nick))
        return member;
    }
  return NULL;
}

static gboolean
td_chat_buffer_take_msgid (TdChatBuffer *self,
                           TdChatLine   *line)
{
  const char *msgid = td_chat_line_get_msgid (line);

  if (msgid == NULL)
    return TRUE;
  if (g_hash_table_contains (self->msgids, msgid))
    return FALSE;
  g_hash_table_add (self->msgids, g_strdup (msgid));
  return TRUE;
}

/* Marks @line grouped when @prev is said by the same nick shortly before. */
static void
update_grouping (TdChatLine *prev,
                 TdChatLine *line)
{
  guint flags = td_chat_line_get_flags (line) & ~TD_CHAT_LINE_GROUPED;

  if (prev != NULL && td_chat_line_get_kind (line) == TD_CHAT_LINE_MESSAGE &&
      td_chat_line_get_kind (prev) == TD_CHAT_LINE_MESSAGE &&
      g_strcmp0 (td_chat_line_get_nick (prev), td_chat_line_get_nick (line)) == 0 &&
      td_chat_line_get_time (line) - td_chat_line_get_time (prev) < TD_CHAT_GROUP_USEC &&
      td_chat_line_get_time (line) >= td_chat_line_get_time (prev))
    flags |= TD_CHAT_LINE_GROUPED;
  td_chat_line_set_flags (line, flags);
}

guint
td_chat_buffer_append (TdChatBuffer *self,
                       GPtrArray    *lines)
{
  g_autoptr(GPtrArray) fresh = g_ptr_array_new ();
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->lines));
  g_autoptr(TdChatLine) prev = n > 0 ? g_list_model_get_item (G_LIST_MODEL (self->lines), n - 1) : NULL;

  g_return_val_if_fail (TD_IS_CHAT_BUFFER (self), 0);

  for (guint i = 0; i < lines->len; i++)
    {
      TdChatLine *line = g_ptr_array_index (lines, i);

      if (!td_chat_buffer_take_msgid (self, line))
        continue;
      update_grouping (fresh->len > 0 ? g_ptr_array_index (fresh, fresh->len - 1) : prev, line);
      g_ptr_array_add (fresh, line);
    }
  if (fresh->len > 0)
    g_list_store_splice (self->lines, n, 0, fresh->pdata, fresh->len);
  return fresh->len;
}

/* Index of the first line later than @time (binary search). */
static guint
position_for_time (TdChatBuffer *self,
                   gint64        time)
{
  guint lo = 0, hi = g_list_model_get_n_items (G_LIST_MODEL (self->lines));

  while (lo < hi)
    {
      guint mid = (lo + hi) / 2;
      g_autoptr(TdChatLine) line = g_list_model_get_item (G_LIST_MODEL (self->lines), mid);

      if (td_chat_line_get_time (line) <= time)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo;
}

guint
td_chat_buffer_merge (TdChatBuffer *self,
                      GPtrArray    *lines)
{
  g_autoptr(GPtrArray) run = g_ptr_array_new ();
  guint added = 0;
  guint i = 0;

  g_return_val_if_fail (TD_IS_CHAT_BUFFER (self), 0);

  /* Consecutive lines that land at the same place go in with one splice:
   * a page of older history is one change, not a hundred. */
  while (i < lines->len)
    {
      TdChatLine *first = g_ptr_array_index (lines, i);
      guint pos = position_for_time (self, td_chat_line_get_time (first));
      g_autoptr(TdChatLine) next = pos < g_list_model_get_n_items (G_LIST_MODEL (self->lines)) ?
                                   g_list_model_get_item (G_LIST_MODEL (self->lines), pos) : NULL;
      g_autoptr(TdChatLine) prev = pos > 0 ? g_list_model_get_item (G_LIST_MODEL (self->lines), pos - 1) : NULL;

      g_ptr_array_set_size (run, 0);
      for (; i < lines->len; i++)
        {
          TdChatLine *line = g_ptr_array_index (lines, i);

          if (next != NULL && td_chat_line_get_time (line) > td_chat_line_get_time (next))
            break;
          if (!td_chat_buffer_take_msgid (self, line))
            continue;
          update_grouping (run->len > 0 ? g_ptr_array_index (run, run->len - 1) : prev, line);
          g_ptr_array_add (run, line);
        }
      if (run->len > 0)
        {
          if (next != NULL)
            update_grouping (g_ptr_array_index (run, run->len - 1), next);
          g_list_store_splice (self->lines, pos, 0, run->pdata, run->len);
          added += run->len;
        }
    }
  return added;
}

void
td_chat_buffer_clear (TdChatBuffer *self)
{
  g_return_if_fail (TD_IS_CHAT_BUFFER (self));
  g_list_store_remove_all (self->lines);
  g_hash_table_remove_all (self->msgids);
}

/* The oldest line, or NULL; the caller owns the reference. */
TdChatLine *
td_chat_buffer_get_oldest (TdChatBuffer *self)
{
  g_return_val_if_fail (TD_IS_CHAT_BUFFER (self), NULL);
  if (g_list_model_get_n_items (G_LIST_MODEL (self->lines)) == 0)
    return NULL;
  return g_list_model_get_item (G_LIST_MODEL (self->lines), 0);
}

/* The oldest line that carries the server's msgid, or NULL; the caller
 * owns the reference. Older history is asked for from this line: a line
 * of our own (a join, a topic) has only a time, and every message of the
 * same millisecond, or of a later one when the clocks disagree, is not
 * before that time and would never come. */
TdChatLine *
td_chat_buffer_get_oldest_id (TdChatBuffer *self)
{
  guint n;

  g_return_val_if_fail (TD_IS_CHAT_BUFFER (self), NULL);
  n = g_list_model_get_n_items (G_LIST_MODEL (self->lines));
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(TdChatLine) line = g_list_model_get_item (G_LIST_MODEL (self->lines), i);
      const char *msgid = td_chat_line_get_msgid (line);

      if (msgid != NULL && msgid[0] != '\0')
        return g_steal_pointer (&line);
    }
  return NULL;
}

guint
td_chat_buffer_get_unread (TdChatBuffer *self)
{
  g_return_val_if_fail (TD_IS_CHAT_BUFFER (self), 0);
  return self->unread;
}

guint
td_chat_buffer_get_mentions (TdChatBuffer *self)
{
  g_return_val_if_fail (TD_IS_CHAT_BUFFER (self), 0);
  return self->mentions;
}

void
td_chat_buffer_add_unread (TdChatBuffer *self,
                           guint         unread,
                           guint         mentions)
{
  g_return_if_fail (TD_IS_CHAT_BUFFER (self));
  if (unread > 0)
    {
      self->unread += unread;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_UNREAD]);
    }
  if (mentions > 0)
    {
      self->mentions += mentions;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MENTIONS]);
    }
}

void
td_chat_buffer_mark_read (TdChatBuffer *self)
{
  g_return_if_fail (TD_IS_CHAT_BUFFER (self));
  if (self->unread > 0)
    {
      self->unread = 0;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_UNREAD]);
    }
  if (self->mentions > 0)
    {
      self->mentions = 0;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MENTIONS]);
    }
}

gboolean
td_chat_buffer_get_joined (TdChatBuffer *self)
{
  g_return_val_if_fail (TD_IS_CHAT_BUFFER (self), FALSE);
  return self->joined;
}

void
td_chat_buffer_set_joined (TdChatBuffer *self,
                           gboolean      joined)
{
  g_return_if_fail (TD_IS_CHAT_BUFFER (self));
  joined = !!joined;
  if (self->joined == joined)
    return;
  self->joined = joined;
  if (!joined)
    td_chat_buffer_set_members (self, NULL);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_JOINED]);
}

const char *
td_chat_buffer_get_topic (TdChatBuffer *self)
{
  g_return_val_if_fail (TD_IS_CHAT_BUFFER (self), NULL);
  return self->topic;
}

void
td_chat_buffer_set_topic (TdChatBuffer *self,
                          const char   *topic)
{
  g_return_if_fail (TD_IS_CHAT_BUFFER (self));
  if (g_strcmp0 (self->topic, topic) == 0)
    return;
  g_free (self->topic);
  self->topic = g_strdup (topic);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TOPIC]);
}

const char *
td_chat_buffer_get_status (TdChatBuffer *self)
{
  g_return_val_if_fail (TD_IS_CHAT_BUFFER (self), NULL);
  return self->status;
}

void
td_chat_buffer_set_status (TdChatBuffer *self,
                           const char   *status)
{
  g_return_if_fail (TD_IS_CHAT_BUFFER (self));
  if (g_strcmp0 (self->status, status) == 0)
    return;
  g_free (self->status);
  self->status = g_strdup (status);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS]);
}

gboolean
td_chat_buffer_get_loading (TdChatBuffer *self)
{
  return self->loading;
}

void
td_chat_buffer_set_loading (TdChatBuffer *self,
                            gboolean      loading)
{
  self->loading = loading;
}

gboolean
td_chat_buffer_get_server_done (TdChatBuffer *self)
{
  return self->server_done;
}

void
td_chat_buffer_set_server_done (TdChatBuffer *self,
                                gboolean      done)
{
  self->server_done = done;
}

gboolean
td_chat_buffer_get_local_done (TdChatBuffer *self)
{
  return self->local_done;
}

void
td_chat_buffer_set_local_done (TdChatBuffer *self,
                               gboolean      done)
{
  self->local_done = done;
}
