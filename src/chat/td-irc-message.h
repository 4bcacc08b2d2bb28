/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * The IRC message codec, shared by the server, the client and the view.
 *
 * A line on the wire is
 *   ['@' tags SPACE] [':' source SPACE] command *(SPACE param) [SPACE ':' trailing]
 * without its CR LF. td_irc_message_parse() takes one such line (the framer
 * has already removed the line ending) and is strict: every input is
 * untrusted, so anything malformed is an error, never a crash.
 */

/* RFC 1459 §2.3: a message is at most 512 bytes including CR LF, so 510 of
 * content. Tags do not count towards this (IRCv3 message-tags). */
#define TD_IRC_MAX_LINE         512
#define TD_IRC_MAX_LINE_CONTENT (TD_IRC_MAX_LINE - 2)
/* IRCv3 message-tags: the tag section, including the leading '@' and the
 * space after it, is at most 8191 bytes when a server receives it. */
#define TD_IRC_MAX_TAGS         8191
/* IRCv3 message-tags: clients may send at most 4094 bytes of tag data
 * (their own tags); the server refuses more in client-only tags. */
#define TD_IRC_MAX_CLIENT_TAGS  4094
/* RFC 1459 §2.3: at most 15 parameters (14 middle and a trailing one). */
#define TD_IRC_MAX_PARAMS       15
/* The longest line a reader must buffer before it is a protocol error:
 * the biggest tag section plus the biggest message. */
#define TD_IRC_MAX_WIRE_LINE    (TD_IRC_MAX_TAGS + TD_IRC_MAX_LINE)

#define TD_IRC_ERROR (td_irc_error_quark ())

typedef enum
{
  TD_IRC_ERROR_EMPTY,            /* nothing but spaces */
  TD_IRC_ERROR_NUL,              /* a NUL byte inside the line */
  TD_IRC_ERROR_BARE_CR,          /* a CR or LF inside the line */
  TD_IRC_ERROR_LINE_TOO_LONG,    /* the message part is over 510 bytes */
  TD_IRC_ERROR_TAGS_TOO_LONG,    /* the tag section is over 8191 bytes */
  TD_IRC_ERROR_TOO_MANY_PARAMS,  /* more than 15 parameters */
  TD_IRC_ERROR_BAD_TAG,          /* empty or invalid tag key */
  TD_IRC_ERROR_BAD_SOURCE,       /* empty source after ':' */
  TD_IRC_ERROR_BAD_COMMAND,      /* missing, or not letters / 3 digits */
  TD_IRC_ERROR_BAD_PARAM,        /* a parameter that cannot be serialized */
} TdIrcError;

typedef struct
{
  char *key;     /* with its '+' client prefix and vendor, if any */
  char *value;   /* unescaped; NULL when the tag has no value */
} TdIrcTag;

typedef struct
{
  TdIrcTag *tags;
  guint     n_tags;
  char     *source;                       /* without ':'; NULL when absent */
  char     *command;                      /* as sent; upper-cased for letters */
  char     *params[TD_IRC_MAX_PARAMS + 1]; /* NULL-terminated */
  guint     n_params;
} TdIrcMessage;

GQuark        td_irc_error_quark          (void);

TdIrcMessage *td_irc_message_new          (const char          *source,
                                           const char          *command,
                                           ...) G_GNUC_NULL_TERMINATED;
TdIrcMessage *td_irc_message_parse        (const char          *line,
                                           gssize               len,
                                           GError             **error);
void          td_irc_message_free         (TdIrcMessage        *message);

void          td_irc_message_add_param    (TdIrcMessage        *message,
                                           const char          *param);
void          td_irc_message_set_tag      (TdIrcMessage        *message,
                                           const char          *key,
                                           const char          *value);
const char   *td_irc_message_get_tag      (const TdIrcMessage  *message,
                                           const char          *key,
                                           gboolean            *present);
const char   *td_irc_message_get_param    (const TdIrcMessage  *message,
                                           guint                index);

gboolean      td_irc_message_append       (const TdIrcMessage  *message,
                                           GString             *out,
                                           GError             **error);
char         *td_irc_message_serialize    (const TdIrcMessage  *message,
                                           GError             **error);

void          td_irc_tag_escape_append    (GString             *out,
                                           const char          *value);
char         *td_irc_tag_unescape         (const char          *value,
                                           gssize               len);
gboolean      td_irc_tag_key_is_valid     (const char          *key,
                                           gssize               len);

char          td_irc_casefold_char        (char                 c);
char         *td_irc_casefold             (const char          *name);
gboolean      td_irc_equal                (const char          *a,
                                           const char          *b);
guint         td_irc_casefold_hash        (gconstpointer        name);
gboolean      td_irc_casefold_equal       (gconstpointer        a,
                                           gconstpointer        b);

gboolean      td_irc_nick_is_valid        (const char          *nick,
                                           guint                max_len);
gboolean      td_irc_channel_is_valid     (const char          *name,
                                           guint                max_len);

char         *td_irc_format_time          (gint64               unix_usec);
gboolean      td_irc_parse_time           (const char          *text,
                                           gint64              *unix_usec);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdIrcMessage, td_irc_message_free)

G_END_DECLS
