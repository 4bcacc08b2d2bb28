/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-chat-line"

#include "config.h"

#include <string.h>

#include "app/td-chat-line.h"
#include "chat/td-irc-message.h"

struct _TdChatLine
{
  GObject         parent_instance;

  TdChatLineKind  kind;
  guint           flags;
  gint64          time;        /* unix microseconds */
  char           *nick;        /* owned; nullable */
  char           *text;        /* owned */
  char           *msgid;       /* owned; nullable */
};

G_DEFINE_FINAL_TYPE (TdChatLine, td_chat_line, G_TYPE_OBJECT)

static const char * const kind_names[] = {
  "privmsg", "action", "notice", "join", "part", "quit", "kick", "nick",
  "mode", "topic", "numeric", "error", "info",
};

G_STATIC_ASSERT (G_N_ELEMENTS (kind_names) == TD_CHAT_LINE_INFO + 1);

static void
td_chat_line_finalize (GObject *object)
{
  TdChatLine *self = TD_CHAT_LINE (object);

  g_free (self->nick);
  g_free (self->text);
  g_free (self->msgid);

  G_OBJECT_CLASS (td_chat_line_parent_class)->finalize (object);
}

static void
td_chat_line_class_init (TdChatLineClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = td_chat_line_finalize;
}

static void
td_chat_line_init (TdChatLine *self)
{
}

TdChatLine *
td_chat_line_new (TdChatLineKind  kind,
                  gint64          time,
                  const char     *nick,
                  const char     *text,
                  const char     *msgid)
{
  TdChatLine *self = g_object_new (TD_TYPE_CHAT_LINE, NULL);

  self->kind = kind;
  self->time = time;
  self->nick = g_strdup (nick);
  self->text = g_strdup (text ? text : "");
  self->msgid = g_strdup (msgid);
  return self;
}

TdChatLineKind
td_chat_line_get_kind (TdChatLine *self)
{
  g_return_val_if_fail (TD_IS_CHAT_LINE (self), TD_CHAT_LINE_INFO);
  return self->kind;
}

gint64
td_chat_line_get_time (TdChatLine *self)
{
  g_return_val_if_fail (TD_IS_CHAT_LINE (self), 0);
  return self->time;
}

const char *
td_chat_line_get_nick (TdChatLine *self)
{
  g_return_val_if_fail (TD_IS_CHAT_LINE (self), NULL);
  return self->nick;
}

const char *
td_chat_line_get_text (TdChatLine *self)
{
  g_return_val_if_fail (TD_IS_CHAT_LINE (self), NULL);
  return self->text;
}

const char *
td_chat_line_get_msgid (TdChatLine *self)
{
  g_return_val_if_fail (TD_IS_CHAT_LINE (self), NULL);
  return self->msgid;
}

guint
td_chat_line_get_flags (TdChatLine *self)
{
  g_return_val_if_fail (TD_IS_CHAT_LINE (self), 0);
  return self->flags;
}

void
td_chat_line_set_flags (TdChatLine *self,
                        guint       flags)
{
  g_return_if_fail (TD_IS_CHAT_LINE (self));
  self->flags = flags;
}

/* TRUE for what people say (messages, actions, notices), as opposed to
 * joins, modes and server replies. */
gboolean
td_chat_line_is_talk (TdChatLine *self)
{
  g_return_val_if_fail (TD_IS_CHAT_LINE (self), FALSE);
  return self->kind == TD_CHAT_LINE_MESSAGE || self->kind == TD_CHAT_LINE_ACTION ||
         self->kind == TD_CHAT_LINE_NOTICE;
}

const char *
td_chat_line_kind_to_string (TdChatLineKind kind)
{
  return kind <= TD_CHAT_LINE_INFO ? kind_names[kind] : "info";
}

TdChatLineKind
td_chat_line_kind_from_string (const char *name)
{
  for (guint i = 0; name != NULL && i < G_N_ELEMENTS (kind_names); i++)
    if (g_str_equal (kind_names[i], name))
      return i;
  return TD_CHAT_LINE_INFO;
}

/* mIRC formatting: bold, colour (with up to two 2-digit numbers), hex
 * colour, reset, monospace, reverse, italic, strike, underline. */
static gsize
formatting_length (const char *p)
{
  switch (*p)
    {
    case '\x02': case '\x0f': case '\x11': case '\x16':
    case '\x1d': case '\x1e': case '\x1f':
      return 1;
    case '\x03':
      {
        gsize n = 1;

        for (guint i = 0; i < 2 && g_ascii_isdigit (p[n]); i++)
          n++;
        if (n > 1 && p[n] == ',' && g_ascii_isdigit (p[n + 1]))
          {
            n++;
            for (guint i = 0; i < 2 && g_ascii_isdigit (p[n]); i++)
              n++;
          }
        return n;
      }
    case '\x04':
      {
        gsize n = 1;

        for (guint i = 0; i < 6 && g_ascii_isxdigit (p[n]); i++)
          n++;
        return n;
      }
    default:
      return 0;
    }
}

/* The links a line shows. */
static GRegex *
links_regex (void)
{
  static GRegex *links;
  static gsize links_init;

  if (g_once_init_enter (&links_init))
    {
      links = g_regex_new ("(https?://|www\\.)[^\\s<>\"]+[^\\s<>\".,;:!?)\\]'’”]",
                           G_REGEX_CASELESS | G_REGEX_OPTIMIZE, 0, NULL);
      g_once_init_leave (&links_init, 1);
    }
  return links;
}

static void
chat_link_clear (TdChatLink *link)
{
  g_free (link->uri);
}

char *
td_chat_text_to_plain (const char  *text,
                       GArray     **links)
{
  GString *plain = g_string_new (NULL);
  g_autoptr(GMatchInfo) match = NULL;
  GArray *found = NULL;

  for (const char *p = text ? text : ""; *p;)
    {
      gsize skip = formatting_length (p);

      if (skip > 0)
        p += skip;
      else if ((guchar) *p < 0x20 && *p != '\t')
        p++;   /* other control characters would not render */
      else
        g_string_append_c (plain, *p++);
    }
  if (!g_utf8_validate_len (plain->str, plain->len, NULL))
    {
      char *valid = g_utf8_make_valid (plain->str, plain->len);

      g_string_assign (plain, valid);
      g_free (valid);
    }
  if (links == NULL)
    return g_string_free (plain, FALSE);

  g_regex_match (links_regex (), plain->str, 0, &match);
  while (g_match_info_matches (match))
    {
      TdChatLink link;
      gint start, end;

      g_match_info_fetch_pos (match, 0, &start, &end);
      link.start = start;
      link.end = end;
      if (g_ascii_strncasecmp (plain->str + start, "www.", 4) == 0)
        link.uri = g_strdup_printf ("https://%.*s", end - start, plain->str + start);
      else
        link.uri = g_strndup (plain->str + start, end - start);
      if (found == NULL)
        {
          found = g_array_new (FALSE, FALSE, sizeof (TdChatLink));
          g_array_set_clear_func (found, (GDestroyNotify) chat_link_clear);
        }
      g_array_append_val (found, link);
      g_match_info_next (match, NULL);
    }
  *links = found;
  return g_string_free (plain, FALSE);
}

char *
td_chat_markup_from_text (const char *text)
{
  g_autoptr(GArray) links = NULL;
  g_autofree char *plain = td_chat_text_to_plain (text, &links);
  GString *out = g_string_new (NULL);
  guint last = 0;

  for (guint i = 0; links != NULL && i < links->len; i++)
    {
      const TdChatLink *link = &g_array_index (links, TdChatLink, i);
      g_autofree char *before = g_markup_escape_text (plain + last, link->start - last);
      g_autofree char *shown = g_markup_escape_text (plain + link->start, link->end - link->start);
      g_autofree char *href = g_markup_escape_text (link->uri, -1);

      g_string_append_printf (out, "%s<a href=\"%s\">%s</a>", before, href, shown);
      last = link->end;
    }
  {
    g_autofree char *rest = g_markup_escape_text (plain + last, -1);

    g_string_append (out, rest);
  }
  return g_string_free (out, FALSE);
}

/* The http(s) links in @text, in order; the caller owns the array. */
GStrv
td_chat_text_get_links (const char *text)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_autoptr(GArray) links = NULL;
  g_autofree char *plain = td_chat_text_to_plain (text, &links);

  for (guint i = 0; links != NULL && i < links->len; i++)
    g_strv_builder_add (builder, g_array_index (links, TdChatLink, i).uri);
  return g_strv_builder_end (builder);
}

static gboolean
is_nick_char (char c)
{
  return g_ascii_isalnum (c) || strchr ("-_[]{}\\`^|", c) != NULL;
}

gboolean
td_chat_text_mentions (const char *text,
                       const char *nick)
{
  gsize len;

  if (text == NULL || nick == NULL || *nick == '\0')
    return FALSE;
  len = strlen (nick);
  for (const char *p = text; *p; p++)
    {
      gboolean match = TRUE;

      if (p != text && is_nick_char (p[-1]))
        continue;
      for (gsize i = 0; i < len; i++)
        if (p[i] == '\0' || td_irc_casefold_char (p[i]) != td_irc_casefold_char (nick[i]))
          {
            match = FALSE;
            break;
          }
      if (match && !is_nick_char (p[len]))
        return TRUE;
    }
  return FALSE;
}
