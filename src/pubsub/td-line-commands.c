/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-pubsub"

#include "config.h"

#include <string.h>

#include "pubsub/td-pubsub-private.h"

/*
 * The classic line protocol, on its own listener and the same broker:
 *
 *   SUB topic [topic ...]      subscribe (no reply)
 *   UNSUB [topic ...]          unsubscribe; without topics, from all (no reply)
 *   PUB topic message text     publish the rest of the line (no reply)
 *   PING                       answers `PONG` (a barrier: the commands before
 *                              it have taken effect)
 *   QUIT                       close the connection
 *   AUTH password              when the server has a password (tidingsd
 *                              --requirepass), required before SUB, UNSUB
 *                              and PUB; answers `OK` or `ERR invalid password`
 *
 * Subscribers receive `UPDATED topic message text`. Lines end with `\n`; a
 * `\r` before it is dropped, so telnet's `\r\n` works. Everything the
 * server sends ends with a bare `\n`. Verbs are case-insensitive, topics
 * are separated by spaces or tabs, and the message of PUB is everything
 * after the single space that follows the topic (it may be empty and may
 * hold more spaces). Errors are one `ERR reason` line and the connection
 * stays open, except for an over-long line (more than 64 KiB), which is
 * answered with `ERR line too long` and closed. Messages published from
 * RESP with CR or LF in them reach line subscribers with those bytes
 * turned into spaces.
 */

static void
reply_line (TdConn     *conn,
            const char *text)
{
  GByteArray *out = _td_conn_reply (conn);

  g_byte_array_append (out, (const guint8 *) text, (guint) strlen (text));
  g_byte_array_append (out, (const guint8 *) "\n", 1);
}

static gboolean
is_blank (char c)
{
  return c == ' ' || c == '\t';
}

/* Returns the next blank-separated token of [*p, end) and moves *p past
 * it; FALSE when none is left. */
static gboolean
next_token (const char **p,
            const char  *end,
            const char **token,
            gsize       *token_len)
{
  const char *q = *p;

  while (q < end && is_blank (*q))
    q++;
  if (q == end)
    {
      *p = q;
      return FALSE;
    }
  *token = q;
  while (q < end && !is_blank (*q))
    q++;
  *token_len = (gsize) (q - *token);
  *p = q;
  return TRUE;
}

static gboolean
verb_is (const char *verb,
         gsize       len,
         const char *lit)
{
  return len == strlen (lit) && g_ascii_strncasecmp (verb, lit, len) == 0;
}

static void
td_line_cmd_sub (TdConn     *conn,
                 const char *p,
                 const char *end)
{
  const char *topic;
  gsize len;
  gboolean any = FALSE;

  while (next_token (&p, end, &topic, &len))
    {
      td_broker_subscribe (conn->sub, topic, len);
      any = TRUE;
    }
  if (!any)
    reply_line (conn, "ERR usage: SUB topic [topic ...]");
}

static void
td_line_cmd_unsub (TdConn     *conn,
                   const char *p,
                   const char *end)
{
  const char *topic;
  gsize len;
  gboolean any = FALSE;

  while (next_token (&p, end, &topic, &len))
    {
      td_broker_unsubscribe (conn->sub, topic, len);
      any = TRUE;
    }
  if (!any)
    td_broker_unsubscribe_all (conn->sub, NULL, NULL);
}

static void
td_line_cmd_pub (TdConn     *conn,
                 const char *p,
                 const char *end)
{
  const char *topic, *message;
  gsize len;

  if (!next_token (&p, end, &topic, &len))
    {
      reply_line (conn, "ERR usage: PUB topic message");
      return;
    }
  /* One separator after the topic; the rest is the message verbatim. */
  message = p < end ? p + 1 : p;
  td_broker_publish (_td_conn_broker (conn), topic, len, message, (gsize) (end - message));
}

/* Constant-time comparison of digests, as for RESP AUTH. */
static gboolean
password_matches (const char *password,
                  const char *given,
                  gsize       given_len)
{
  g_autoptr(GChecksum) a = g_checksum_new (G_CHECKSUM_SHA256);
  g_autoptr(GChecksum) b = g_checksum_new (G_CHECKSUM_SHA256);
  guint8 da[32], db[32];
  gsize la = sizeof da, lb = sizeof db;
  guint8 diff = 0;

  g_checksum_update (a, (const guchar *) password, (gssize) strlen (password));
  g_checksum_update (b, (const guchar *) given, (gssize) given_len);
  g_checksum_get_digest (a, da, &la);
  g_checksum_get_digest (b, db, &lb);
  for (gsize i = 0; i < sizeof da; i++)
    diff |= da[i] ^ db[i];
  return diff == 0;
}

static void
td_line_cmd_auth (TdConn     *conn,
                  const char *p,
                  const char *end)
{
  const char *password = _td_conn_config (conn)->password;
  const char *given;
  gsize len;

  if (!next_token (&p, end, &given, &len))
    {
      reply_line (conn, "ERR usage: AUTH password");
      return;
    }
  if (password != NULL && !password_matches (password, given, len))
    {
      reply_line (conn, "ERR invalid password");
      return;
    }
  conn->authenticated = TRUE;
  reply_line (conn, "OK");
}

/* Runs one line (without its line ending). */
void
_td_line_execute (TdConn     *conn,
                  const char *line,
                  gsize       len)
{
  const char *end = line + len;
  const char *p = line;
  const char *verb;
  gsize verb_len;

  if (!next_token (&p, end, &verb, &verb_len))
    return;

  if (!conn->authenticated &&
      (verb_is (verb, verb_len, "PUB") || verb_is (verb, verb_len, "SUB") ||
       verb_is (verb, verb_len, "UNSUB")))
    reply_line (conn, "ERR authentication required");
  else if (verb_is (verb, verb_len, "PUB"))
    td_line_cmd_pub (conn, p, end);
  else if (verb_is (verb, verb_len, "SUB"))
    td_line_cmd_sub (conn, p, end);
  else if (verb_is (verb, verb_len, "UNSUB"))
    td_line_cmd_unsub (conn, p, end);
  else if (verb_is (verb, verb_len, "PING"))
    reply_line (conn, "PONG");
  else if (verb_is (verb, verb_len, "QUIT"))
    _td_conn_close_after_reply (conn);
  else if (verb_is (verb, verb_len, "AUTH"))
    td_line_cmd_auth (conn, p, end);
  else
    {
      g_autofree char *shown = g_strndup (verb, MIN (verb_len, 64));
      g_autofree char *msg = NULL;

      /* Keep the error one printable line whatever the peer sent. */
      for (char *q = shown; *q != '\0'; q++)
        if ((guchar) *q < ' ' || *q == 0x7f)
          *q = '?';
      msg = g_strdup_printf ("ERR unknown command '%s'", shown);
      reply_line (conn, msg);
    }
}
