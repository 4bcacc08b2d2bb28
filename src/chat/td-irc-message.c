/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-irc-message"

#include "config.h"

#include <string.h>

#include "chat/td-irc-message.h"

G_DEFINE_QUARK (td-irc-error-quark, td_irc_error)

/* ------------------------------------------------------------------ */
/* Tags                                                                */
/* ------------------------------------------------------------------ */

static gboolean
is_key_char (char c)
{
  return g_ascii_isalnum (c) || c == '-';
}

static gboolean
is_vendor_char (char c)
{
  return g_ascii_isalnum (c) || c == '-' || c == '.';
}

/* Returns TRUE if @key is `[+][vendor/]name` with a non-empty name of
 * letters, digits and hyphens, as IRCv3 message-tags requires. */
gboolean
td_irc_tag_key_is_valid (const char *key,
                         gssize      len)
{
  gsize n = len < 0 ? strlen (key) : (gsize) len;
  gsize i = 0;
  gsize name_start;
  const char *slash;

  if (n > 0 && key[0] == '+')
    i = 1;
  slash = memchr (key + i, '/', n - i);
  if (slash != NULL)
    {
      gsize vendor_end = slash - key;

      if (vendor_end == i)
        return FALSE;
      for (gsize j = i; j < vendor_end; j++)
        if (!is_vendor_char (key[j]))
          return FALSE;
      i = vendor_end + 1;
    }
  name_start = i;
  for (; i < n; i++)
    if (!is_key_char (key[i]))
      return FALSE;
  return i > name_start;
}

/* Appends @value to @out escaped for a tag value (`\:` `\s` `\\` `\r` `\n`). */
void
td_irc_tag_escape_append (GString    *out,
                          const char *value)
{
  for (const char *p = value; *p != '\0'; p++)
    {
      switch (*p)
        {
        case ';':  g_string_append (out, "\\:"); break;
        case ' ':  g_string_append (out, "\\s"); break;
        case '\\': g_string_append (out, "\\\\"); break;
        case '\r': g_string_append (out, "\\r"); break;
        case '\n': g_string_append (out, "\\n"); break;
        default:   g_string_append_c (out, *p); break;
        }
    }
}

/* Returns the unescaped tag value; the caller owns it. An unknown escape
 * gives the character itself and a lone trailing backslash is dropped, as
 * the message-tags specification says. */
char *
td_irc_tag_unescape (const char *value,
                     gssize      len)
{
  gsize n = len < 0 ? strlen (value) : (gsize) len;
  GString *out = g_string_sized_new (n);

  for (gsize i = 0; i < n; i++)
    {
      char c = value[i];

      if (c != '\\')
        {
          g_string_append_c (out, c);
          continue;
        }
      if (++i == n)
        break;
      switch (value[i])
        {
        case ':': g_string_append_c (out, ';'); break;
        case 's': g_string_append_c (out, ' '); break;
        case 'r': g_string_append_c (out, '\r'); break;
        case 'n': g_string_append_c (out, '\n'); break;
        default:  g_string_append_c (out, value[i]); break;
        }
    }
  return g_string_free (out, FALSE);
}

/* ------------------------------------------------------------------ */
/* Messages                                                            */
/* ------------------------------------------------------------------ */

void
td_irc_message_free (TdIrcMessage *message)
{
  if (message == NULL)
    return;
  for (guint i = 0; i < message->n_tags; i++)
    {
      g_free (message->tags[i].key);
      g_free (message->tags[i].value);
    }
  g_free (message->tags);
  g_free (message->source);
  g_free (message->command);
  for (guint i = 0; i < message->n_params; i++)
    g_free (message->params[i]);
  g_free (message);
}

/* Returns a new message with @source (may be NULL), @command and the
 * NULL-terminated parameters that follow (at most TD_IRC_MAX_PARAMS). */
TdIrcMessage *
td_irc_message_new (const char *source,
                    const char *command,
                    ...)
{
  TdIrcMessage *message;
  const char *param;
  va_list args;

  g_return_val_if_fail (command != NULL, NULL);

  message = g_new0 (TdIrcMessage, 1);
  message->source = g_strdup (source);
  message->command = g_strdup (command);
  va_start (args, command);
  while ((param = va_arg (args, const char *)) != NULL)
    td_irc_message_add_param (message, param);
  va_end (args);
  return message;
}

void
td_irc_message_add_param (TdIrcMessage *message,
                          const char   *param)
{
  g_return_if_fail (message != NULL);
  g_return_if_fail (param != NULL);
  g_return_if_fail (message->n_params < TD_IRC_MAX_PARAMS);

  message->params[message->n_params++] = g_strdup (param);
  message->params[message->n_params] = NULL;
}

static TdIrcTag *
find_tag (const TdIrcMessage *message,
          const char         *key,
          gsize               key_len)
{
  for (guint i = 0; i < message->n_tags; i++)
    if (strlen (message->tags[i].key) == key_len &&
        memcmp (message->tags[i].key, key, key_len) == 0)
      return &message->tags[i];
  return NULL;
}

static void
set_tag_len (TdIrcMessage *message,
             const char   *key,
             gsize         key_len,
             char         *value)
{
  TdIrcTag *tag = find_tag (message, key, key_len);

  if (tag != NULL)
    {
      /* A repeated key: the last value wins (message-tags). */
      g_free (tag->value);
      tag->value = value;
      return;
    }
  message->tags = g_renew (TdIrcTag, message->tags, message->n_tags + 1);
  message->tags[message->n_tags].key = g_strndup (key, key_len);
  message->tags[message->n_tags].value = value;
  message->n_tags++;
}

/* Sets tag @key to @value (NULL or "" for a tag without a value). */
void
td_irc_message_set_tag (TdIrcMessage *message,
                        const char   *key,
                        const char   *value)
{
  g_return_if_fail (message != NULL);
  g_return_if_fail (key != NULL);

  set_tag_len (message, key, strlen (key),
               value != NULL && *value != '\0' ? g_strdup (value) : NULL);
}

/* Returns the value of tag @key, or NULL; @present (optional) tells a tag
 * without a value from a missing one. */
const char *
td_irc_message_get_tag (const TdIrcMessage *message,
                        const char         *key,
                        gboolean           *present)
{
  TdIrcTag *tag;

  g_return_val_if_fail (message != NULL, NULL);
  g_return_val_if_fail (key != NULL, NULL);

  tag = find_tag (message, key, strlen (key));
  if (present != NULL)
    *present = tag != NULL;
  return tag != NULL ? tag->value : NULL;
}

const char *
td_irc_message_get_param (const TdIrcMessage *message,
                          guint               index)
{
  g_return_val_if_fail (message != NULL, NULL);
  return index < message->n_params ? message->params[index] : NULL;
}

static gboolean
parse_tags (TdIrcMessage  *message,
            const char    *p,
            const char    *end,
            GError       **error)
{
  while (p < end)
    {
      const char *item_end = memchr (p, ';', end - p);
      const char *eq;

      if (item_end == NULL)
        item_end = end;
      if (item_end == p)
        {
          /* An empty item, e.g. a trailing ';': nothing to keep. */
          p = item_end + 1;
          continue;
        }
      eq = memchr (p, '=', item_end - p);
      if (!td_irc_tag_key_is_valid (p, (eq ? eq : item_end) - p))
        {
          g_set_error (error, TD_IRC_ERROR, TD_IRC_ERROR_BAD_TAG,
                       "Invalid tag key “%.*s”", (int) MIN ((eq ? eq : item_end) - p, 64), p);
          return FALSE;
        }
      if (eq != NULL && eq + 1 < item_end)
        set_tag_len (message, p, eq - p, td_irc_tag_unescape (eq + 1, item_end - eq - 1));
      else
        set_tag_len (message, p, (eq ? eq : item_end) - p, NULL);
      p = item_end + 1;
    }
  return TRUE;
}

static gboolean
command_is_valid (const char *p,
                  gsize       len)
{
  if (len == 3 && g_ascii_isdigit (p[0]) && g_ascii_isdigit (p[1]) && g_ascii_isdigit (p[2]))
    return TRUE;
  if (len == 0)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isalpha (p[i]))
      return FALSE;
  return TRUE;
}

/* Parses one line (without its CR LF). Returns the message, or NULL with
 * @error set (TD_IRC_ERROR) when the line is malformed or over a limit. */
TdIrcMessage *
td_irc_message_parse (const char  *line,
                      gssize       len,
                      GError     **error)
{
  g_autoptr(TdIrcMessage) message = NULL;
  gsize n;
  const char *p, *end, *word_end;

  g_return_val_if_fail (line != NULL, NULL);

  n = len < 0 ? strlen (line) : (gsize) len;
  end = line + n;

  for (gsize i = 0; i < n; i++)
    {
      if (line[i] == '\0')
        {
          g_set_error_literal (error, TD_IRC_ERROR, TD_IRC_ERROR_NUL, "NUL byte in message");
          return NULL;
        }
      if (line[i] == '\r' || line[i] == '\n')
        {
          g_set_error_literal (error, TD_IRC_ERROR, TD_IRC_ERROR_BARE_CR,
                               "CR or LF inside a message");
          return NULL;
        }
    }

  message = g_new0 (TdIrcMessage, 1);
  p = line;

  if (p < end && *p == '@')
    {
      const char *space = memchr (p, ' ', end - p);

      if (space == NULL)
        {
          if ((gsize) (end - p) + 1 > TD_IRC_MAX_TAGS)
            goto tags_too_long;
          g_set_error_literal (error, TD_IRC_ERROR, TD_IRC_ERROR_BAD_COMMAND,
                               "Message has tags but no command");
          return NULL;
        }
      if ((gsize) (space - p) + 1 > TD_IRC_MAX_TAGS)
        goto tags_too_long;
      if (!parse_tags (message, p + 1, space, error))
        return NULL;
      p = space + 1;
    }

  while (p < end && *p == ' ')
    p++;
  if (p == end)
    {
      g_set_error_literal (error, TD_IRC_ERROR, TD_IRC_ERROR_EMPTY, "Empty message");
      return NULL;
    }
  if ((gsize) (end - p) > TD_IRC_MAX_LINE_CONTENT)
    {
      g_set_error (error, TD_IRC_ERROR, TD_IRC_ERROR_LINE_TOO_LONG,
                   "Message is longer than %d bytes", TD_IRC_MAX_LINE_CONTENT);
      return NULL;
    }

  if (*p == ':')
    {
      p++;
      word_end = memchr (p, ' ', end - p);
      if (word_end == NULL)
        word_end = end;
      if (word_end == p)
        {
          g_set_error_literal (error, TD_IRC_ERROR, TD_IRC_ERROR_BAD_SOURCE, "Empty source");
          return NULL;
        }
      message->source = g_strndup (p, word_end - p);
      p = word_end;
      while (p < end && *p == ' ')
        p++;
    }

  word_end = memchr (p, ' ', end - p);
  if (word_end == NULL)
    word_end = end;
  if (!command_is_valid (p, word_end - p))
    {
      g_set_error_literal (error, TD_IRC_ERROR, TD_IRC_ERROR_BAD_COMMAND,
                           p == word_end ? "Missing command" : "Invalid command");
      return NULL;
    }
  message->command = g_ascii_strup (p, word_end - p);
  p = word_end;

  for (;;)
    {
      while (p < end && *p == ' ')
        p++;
      if (p == end)
        break;
      if (message->n_params == TD_IRC_MAX_PARAMS)
        {
          g_set_error (error, TD_IRC_ERROR, TD_IRC_ERROR_TOO_MANY_PARAMS,
                       "More than %d parameters", TD_IRC_MAX_PARAMS);
          return NULL;
        }
      if (*p == ':')
        {
          message->params[message->n_params++] = g_strndup (p + 1, end - p - 1);
          break;
        }
      word_end = memchr (p, ' ', end - p);
      if (word_end == NULL)
        word_end = end;
      message->params[message->n_params++] = g_strndup (p, word_end - p);
      p = word_end;
    }
  message->params[message->n_params] = NULL;

  return g_steal_pointer (&message);

tags_too_long:
  g_set_error (error, TD_IRC_ERROR, TD_IRC_ERROR_TAGS_TOO_LONG,
               "Tags are longer than %d bytes", TD_IRC_MAX_TAGS);
  return NULL;
}

static gboolean
has_line_breaks (const char *s)
{
  return strpbrk (s, "\r\n") != NULL;
}

/* Appends @message as a wire line with CR LF to @out. Returns FALSE and
 * leaves @out as it was when a part cannot be written (a middle
 * parameter with a space, a line break anywhere, the message part over
 * 510 bytes). */
gboolean
td_irc_message_append (const TdIrcMessage  *message,
                       GString             *out,
                       GError             **error)
{
  gsize start_len, body_start;

  g_return_val_if_fail (message != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  start_len = out->len;

  if (message->command == NULL || !command_is_valid (message->command, strlen (message->command)))
    {
      g_set_error_literal (error, TD_IRC_ERROR, TD_IRC_ERROR_BAD_COMMAND, "Invalid command");
      return FALSE;
    }

  if (message->n_tags > 0)
    {
      g_string_append_c (out, '@');
      for (guint i = 0; i < message->n_tags; i++)
        {
          const TdIrcTag *tag = &message->tags[i];

          if (!td_irc_tag_key_is_valid (tag->key, -1))
            {
              g_set_error (error, TD_IRC_ERROR, TD_IRC_ERROR_BAD_TAG, "Invalid tag key “%s”", tag->key);
              goto fail;
            }
          if (i > 0)
            g_string_append_c (out, ';');
          g_string_append (out, tag->key);
          if (tag->value != NULL && *tag->value != '\0')
            {
              g_string_append_c (out, '=');
              td_irc_tag_escape_append (out, tag->value);
            }
        }
      g_string_append_c (out, ' ');
      if (out->len - start_len > TD_IRC_MAX_TAGS)
        {
          g_set_error (error, TD_IRC_ERROR, TD_IRC_ERROR_TAGS_TOO_LONG,
                       "Tags are longer than %d bytes", TD_IRC_MAX_TAGS);
          goto fail;
        }
    }

  body_start = out->len;
  if (message->source != NULL)
    {
      if (*message->source == '\0' || strchr (message->source, ' ') || has_line_breaks (message->source))
        {
          g_set_error_literal (error, TD_IRC_ERROR, TD_IRC_ERROR_BAD_SOURCE, "Invalid source");
          goto fail;
        }
      g_string_append_c (out, ':');
      g_string_append (out, message->source);
      g_string_append_c (out, ' ');
    }
  g_string_append (out, message->command);

  for (guint i = 0; i < message->n_params; i++)
    {
      const char *param = message->params[i];
      gboolean last = i + 1 == message->n_params;
      gboolean needs_colon = *param == '\0' || *param == ':' || strchr (param, ' ') != NULL;

      if (has_line_breaks (param) || (needs_colon && !last))
        {
          g_set_error (error, TD_IRC_ERROR, TD_IRC_ERROR_BAD_PARAM,
                       "Parameter %u cannot be written", i + 1);
          goto fail;
        }
      g_string_append_c (out, ' ');
      if (needs_colon)
        g_string_append_c (out, ':');
      g_string_append (out, param);
    }

  if (out->len - body_start > TD_IRC_MAX_LINE_CONTENT)
    {
      g_set_error (error, TD_IRC_ERROR, TD_IRC_ERROR_LINE_TOO_LONG,
                   "Message is longer than %d bytes", TD_IRC_MAX_LINE_CONTENT);
      goto fail;
    }
  g_string_append (out, "\r\n");
  return TRUE;

fail:
  g_string_truncate (out, start_len);
  return FALSE;
}

/* Returns the wire form of @message with CR LF (the caller owns it), or
 * NULL with @error set. */
char *
td_irc_message_serialize (const TdIrcMessage  *message,
                          GError             **error)
{
  g_autoptr(GString) out = g_string_new (NULL);

  if (!td_irc_message_append (message, out, error))
    return NULL;
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* ------------------------------------------------------------------ */
/* Names                                                               */
/* ------------------------------------------------------------------ */

/* CASEMAPPING=rfc1459: A-Z are a-z, and []\~ are the upper case of {}|^. */
char
td_irc_casefold_char (char c)
{
  if (c >= 'A' && c <= 'Z')
    return c + ('a' - 'A');
  switch (c)
    {
    case '[': return '{';
    case ']': return '}';
    case '\\': return '|';
    case '~': return '^';
    default: return c;
    }
}

char *
td_irc_casefold (const char *name)
{
  char *folded;

  g_return_val_if_fail (name != NULL, NULL);

  folded = g_strdup (name);
  for (char *p = folded; *p != '\0'; p++)
    *p = td_irc_casefold_char (*p);
  return folded;
}

gboolean
td_irc_equal (const char *a,
              const char *b)
{
  if (a == NULL || b == NULL)
    return a == b;
  for (; *a != '\0' && *b != '\0'; a++, b++)
    if (td_irc_casefold_char (*a) != td_irc_casefold_char (*b))
      return FALSE;
  return *a == *b;
}

/* A GHashFunc that hashes names as their casefolded form. */
guint
td_irc_casefold_hash (gconstpointer name)
{
  guint32 h = 5381;

  for (const char *p = name; *p != '\0'; p++)
    h = (h << 5) + h + (guchar) td_irc_casefold_char (*p);
  return h;
}

gboolean
td_irc_casefold_equal (gconstpointer a,
                       gconstpointer b)
{
  return td_irc_equal (a, b);
}

static gboolean
is_nick_special (char c)
{
  return strchr ("[]\\`_^{|}", c) != NULL;
}

/* RFC 2812 §2.3.1: a letter or special first, then letters, digits,
 * specials and '-', at most @max_len bytes. */
gboolean
td_irc_nick_is_valid (const char *nick,
                      guint       max_len)
{
  gsize n;

  if (nick == NULL || *nick == '\0')
    return FALSE;
  n = strlen (nick);
  if (n > max_len)
    return FALSE;
  if (!g_ascii_isalpha (nick[0]) && !is_nick_special (nick[0]))
    return FALSE;
  for (gsize i = 1; i < n; i++)
    if (!g_ascii_isalnum (nick[i]) && !is_nick_special (nick[i]) && nick[i] != '-')
      return FALSE;
  return TRUE;
}

/* A '#' channel (CHANTYPES=#) of at most @max_len bytes with no space,
 * comma, BEL or other control character (RFC 2812 §1.3). */
gboolean
td_irc_channel_is_valid (const char *name,
                         guint       max_len)
{
  gsize n;

  if (name == NULL || name[0] != '#')
    return FALSE;
  n = strlen (name);
  if (n < 2 || n > max_len)
    return FALSE;
  for (gsize i = 1; i < n; i++)
    if ((guchar) name[i] <= ' ' || name[i] == ',' || name[i] == 0x7f)
      return FALSE;
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Time (server-time)                                                  */
/* ------------------------------------------------------------------ */

/* Returns @unix_usec as `YYYY-MM-DDThh:mm:ss.sssZ` (UTC, milliseconds). */
char *
td_irc_format_time (gint64 unix_usec)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc (unix_usec / G_USEC_PER_SEC);

  if (dt == NULL)
    return g_strdup ("1970-01-01T00:00:00.000Z");
  return g_strdup_printf ("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                          g_date_time_get_year (dt), g_date_time_get_month (dt),
                          g_date_time_get_day_of_month (dt), g_date_time_get_hour (dt),
                          g_date_time_get_minute (dt), g_date_time_get_second (dt),
                          (int) ((unix_usec % G_USEC_PER_SEC) / 1000));
}

/* Parses an ISO 8601 time with a zone (server-time, chathistory
 * timestamps). Returns FALSE when @text is not one. */
gboolean
td_irc_parse_time (const char *text,
                   gint64     *unix_usec)
{
  g_autoptr(GDateTime) dt = NULL;

  if (text == NULL || strlen (text) > 64)
    return FALSE;
  dt = g_date_time_new_from_iso8601 (text, NULL);
  if (dt == NULL)
    return FALSE;
  *unix_usec = g_date_time_to_unix (dt) * G_USEC_PER_SEC + g_date_time_get_microsecond (dt);
  return TRUE;
}
