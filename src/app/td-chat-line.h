/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/*
 * TdChatLine: one line of a chat buffer, as shown in the message list and
 * saved in the local log. Immutable once it is in a buffer.
 */

typedef enum
{
  TD_CHAT_LINE_MESSAGE,
  TD_CHAT_LINE_ACTION,
  TD_CHAT_LINE_NOTICE,
  TD_CHAT_LINE_JOIN,
  TD_CHAT_LINE_PART,
  TD_CHAT_LINE_QUIT,
  TD_CHAT_LINE_KICK,
  TD_CHAT_LINE_NICK,
  TD_CHAT_LINE_MODE,
  TD_CHAT_LINE_TOPIC,
  TD_CHAT_LINE_NUMERIC,
  TD_CHAT_LINE_ERROR,
  TD_CHAT_LINE_INFO,
} TdChatLineKind;

typedef enum
{
  TD_CHAT_LINE_SELF    = 1 << 0,   /* we sent it */
  TD_CHAT_LINE_MENTION = 1 << 1,   /* it names us */
  TD_CHAT_LINE_GROUPED = 1 << 2,   /* same sender as the line before, shortly after */
  TD_CHAT_LINE_HISTORY = 1 << 3,   /* from the log or CHATHISTORY, not live */
} TdChatLineFlags;

#define TD_TYPE_CHAT_LINE (td_chat_line_get_type ())

G_DECLARE_FINAL_TYPE (TdChatLine, td_chat_line, TD, CHAT_LINE, GObject)

TdChatLine     *td_chat_line_new            (TdChatLineKind  kind,
                                             gint64          time,
                                             const char     *nick,
                                             const char     *text,
                                             const char     *msgid);
TdChatLineKind  td_chat_line_get_kind       (TdChatLine     *self);
gint64          td_chat_line_get_time       (TdChatLine     *self);
const char     *td_chat_line_get_nick       (TdChatLine     *self);
const char     *td_chat_line_get_text       (TdChatLine     *self);
const char     *td_chat_line_get_msgid      (TdChatLine     *self);
guint           td_chat_line_get_flags      (TdChatLine     *self);
void            td_chat_line_set_flags      (TdChatLine     *self,
                                             guint           flags);
gboolean        td_chat_line_is_talk        (TdChatLine     *self);

const char     *td_chat_line_kind_to_string (TdChatLineKind  kind);
TdChatLineKind  td_chat_line_kind_from_string (const char    *name);

/* A link in a line's text: where it is, in bytes of the plain text, and
 * the http(s) address it opens. */
typedef struct
{
  guint  start;
  guint  end;
  char  *uri;
} TdChatLink;

/* Untrusted @text as a line shows it: IRC formatting codes and control
 * characters removed, invalid UTF-8 replaced. If @links is not NULL, it
 * gets the text's http(s) links (an array of TdChatLink that frees their
 * addresses), or NULL when there are none. */
char           *td_chat_text_to_plain       (const char     *text,
                                             GArray        **links);
/* Pango markup for untrusted @text, for a GtkLabel: the plain text,
 * escaped, with its links as <a> elements. */
char           *td_chat_markup_from_text    (const char     *text);
/* The http(s) links of @text, as td_chat_text_to_plain() finds them. */
GStrv           td_chat_text_get_links      (const char     *text);
/* TRUE if @text names @nick as a word, case-insensitively. */
gboolean        td_chat_text_mentions       (const char     *text,
                                             const char     *nick);

G_END_DECLS
