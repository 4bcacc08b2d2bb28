/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <string.h>

#include "chat/td-irc-message.h"
#include "chat/td-irc-server.h"

G_BEGIN_DECLS

/* Generous for an ASan build on a loaded CI machine, yet a hang fails. */
#define TD_IRC_TEST_TIMEOUT_S 10

/* ------------------------------------------------------------------ */
/* A server on a thread of its own, on 127.0.0.1 port 0                */
/* ------------------------------------------------------------------ */

typedef struct
{
  TdIrcServer  *server;
  GThread      *thread;
  GMainContext *context;
  GMainLoop    *loop;
  guint16       port;
  GMutex        lock;
  GCond         cond;
  gboolean      ready;
} TdIrcTestServer;

static gpointer
td_irc_test_server_main (gpointer data)
{
  TdIrcTestServer *ts = data;
  g_autoptr(GError) error = NULL;

  g_main_context_push_thread_default (ts->context);
  if (!td_irc_server_listen (ts->server, ts->context, "127.0.0.1", 0, &error))
    g_error ("listen: %s", error->message);
  g_mutex_lock (&ts->lock);
  ts->port = td_irc_server_get_port (ts->server);
  ts->ready = TRUE;
  g_cond_signal (&ts->cond);
  g_mutex_unlock (&ts->lock);
  g_main_loop_run (ts->loop);
  td_irc_server_stop (ts->server);
  g_main_context_pop_thread_default (ts->context);
  return NULL;
}

/* Starts @server (owned) on its own thread and context. Accounts can be
 * added to it before this call. */
static inline TdIrcTestServer *
td_irc_test_server_start (TdIrcServer *server)
{
  TdIrcTestServer *ts = g_new0 (TdIrcTestServer, 1);

  ts->server = server;
  ts->context = g_main_context_new ();
  ts->loop = g_main_loop_new (ts->context, FALSE);
  g_mutex_init (&ts->lock);
  g_cond_init (&ts->cond);
  ts->thread = g_thread_new ("irc-server", td_irc_test_server_main, ts);
  g_mutex_lock (&ts->lock);
  while (!ts->ready)
    g_cond_wait (&ts->cond, &ts->lock);
  g_mutex_unlock (&ts->lock);
  return ts;
}

static gboolean
td_irc_test_quit_cb (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

static inline void
td_irc_test_server_free (TdIrcTestServer *ts)
{
  GSource *source = g_idle_source_new ();

  g_source_set_callback (source, td_irc_test_quit_cb, ts->loop, NULL);
  g_source_attach (source, ts->context);
  g_source_unref (source);
  g_thread_join (ts->thread);
  td_irc_server_free (ts->server);
  g_main_loop_unref (ts->loop);
  g_main_context_unref (ts->context);
  g_mutex_clear (&ts->lock);
  g_cond_clear (&ts->cond);
  g_free (ts);
}

/* ------------------------------------------------------------------ */
/* A blocking line client                                              */
/* ------------------------------------------------------------------ */

typedef struct
{
  GSocket *socket;
  GString *buf;
  char    *name;
} TdIrcTestClient;

static inline TdIrcTestClient *
td_irc_test_client_new (guint16     port,
                        const char *name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) inet = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (inet, port);
  TdIrcTestClient *c = g_new0 (TdIrcTestClient, 1);

  c->socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_socket_set_timeout (c->socket, TD_IRC_TEST_TIMEOUT_S);
  g_socket_connect (c->socket, address, NULL, &error);
  g_assert_no_error (error);
  c->buf = g_string_new (NULL);
  c->name = g_strdup (name);
  return c;
}

static inline void
td_irc_test_client_free (TdIrcTestClient *c)
{
  if (c == NULL)
    return;
  g_socket_close (c->socket, NULL);
  g_object_unref (c->socket);
  g_string_free (c->buf, TRUE);
  g_free (c->name);
  g_free (c);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdIrcTestClient, td_irc_test_client_free)

static inline void
td_irc_test_send_len (TdIrcTestClient *c,
                      const char      *data,
                      gsize            len)
{
  gsize done = 0;

  while (done < len)
    {
      g_autoptr(GError) error = NULL;
      gssize n = g_socket_send (c->socket, data + done, len - done, NULL, &error);

      if (n < 0)
        {
          /* The server may have closed us on purpose (flood tests). */
          g_test_message ("%s: send: %s", c->name, error->message);
          return;
        }
      done += n;
    }
}

static inline void
td_irc_test_send (TdIrcTestClient *c,
                  const char      *format,
                  ...) G_GNUC_PRINTF (2, 3);

static inline void
td_irc_test_send (TdIrcTestClient *c,
                  const char      *format,
                  ...)
{
  g_autoptr(GString) line = g_string_new (NULL);
  va_list args;

  va_start (args, format);
  g_string_append_vprintf (line, format, args);
  va_end (args);
  g_string_append (line, "\r\n");
  td_irc_test_send_len (c, line->str, line->len);
}

/* Returns the next line without CR LF, or NULL at EOF (or on timeout
 * when @may_time_out, else the test fails). */
static inline char *
td_irc_test_read_line_full (TdIrcTestClient *c,
                            gboolean         may_time_out)
{
  for (;;)
    {
      char *nl = memchr (c->buf->str, '\n', c->buf->len);
      char chunk[4096];
      g_autoptr(GError) error = NULL;
      gssize n;

      if (nl != NULL)
        {
          gsize len = nl - c->buf->str;
          char *line = g_strndup (c->buf->str, len > 0 && c->buf->str[len - 1] == '\r' ? len - 1 : len);

          g_string_erase (c->buf, 0, len + 1);
          return line;
        }
      n = g_socket_receive (c->socket, chunk, sizeof chunk, NULL, &error);
      if (n == 0)
        return NULL;
      if (n < 0)
        {
          if (may_time_out || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED) ||
              g_error_matches (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE))
            return NULL;
          g_error ("%s: read: %s (buffered: %s)", c->name, error->message, c->buf->str);
        }
      g_string_append_len (c->buf, chunk, n);
    }
}

static inline char *
td_irc_test_read_line (TdIrcTestClient *c)
{
  return td_irc_test_read_line_full (c, FALSE);
}

/* Reads lines until one contains @needle; returns it. Fails on EOF. */
static inline char *
td_irc_test_expect (TdIrcTestClient *c,
                    const char      *needle)
{
  for (;;)
    {
      char *line = td_irc_test_read_line (c);

      if (line == NULL)
        g_error ("%s: EOF while waiting for “%s”", c->name, needle);
      if (g_test_verbose ())
        g_test_message ("%s <- %s", c->name, line);
      if (strstr (line, needle) != NULL)
        return line;
      g_free (line);
    }
}

/* Reads lines until one whose command is @command; returns it parsed. */
static inline TdIrcMessage *
td_irc_test_expect_cmd (TdIrcTestClient *c,
                        const char      *command)
{
  for (;;)
    {
      g_autofree char *line = td_irc_test_read_line (c);
      TdIrcMessage *message;

      if (line == NULL)
        g_error ("%s: EOF while waiting for %s", c->name, command);
      if (g_test_verbose ())
        g_test_message ("%s <- %s", c->name, line);
      message = td_irc_message_parse (line, -1, NULL);
      g_assert_nonnull (message);
      if (g_str_equal (message->command, command))
        return message;
      td_irc_message_free (message);
    }
}

/* Reads until the server closes the connection; returns the ERROR line
 * seen on the way (or NULL). */
static inline char *
td_irc_test_expect_closed (TdIrcTestClient *c)
{
  char *error_line = NULL;
  char *line;

  while ((line = td_irc_test_read_line (c)) != NULL)
    {
      if (g_str_has_prefix (line, "ERROR"))
        {
          g_free (error_line);
          error_line = line;
        }
      else
        g_free (line);
    }
  return error_line;
}

/* Checks that no line arrives within @ms (ms granularity of the socket
 * timeout is seconds, so this uses a poll). */
static inline gboolean
td_irc_test_quiet_for (TdIrcTestClient *c,
                       guint            ms)
{
  if (memchr (c->buf->str, '\n', c->buf->len) != NULL)
    return FALSE;
  return !g_socket_condition_timed_wait (c->socket, G_IO_IN, (gint64) ms * 1000, NULL, NULL);
}

/* Connects and registers as @nick; returns after the end of the MOTD. */
static inline TdIrcTestClient *
td_irc_test_connect (guint16     port,
                     const char *nick,
                     const char *caps)
{
  TdIrcTestClient *c = td_irc_test_client_new (port, nick);

  if (caps != NULL)
    {
      td_irc_test_send (c, "CAP LS 302");
      td_irc_test_send (c, "CAP REQ :%s", caps);
    }
  td_irc_test_send (c, "NICK %s", nick);
  td_irc_test_send (c, "USER %s 0 * :Test %s", nick, nick);
  if (caps != NULL)
    {
      g_autofree char *ack = NULL;

      g_free (td_irc_test_expect (c, " LS "));
      ack = td_irc_test_expect (c, " CAP ");

      g_assert_nonnull (strstr (ack, " ACK "));
      td_irc_test_send (c, "CAP END");
    }
  g_free (td_irc_test_expect (c, " 001 "));
  for (;;)
    {
      g_autofree char *line = td_irc_test_read_line (c);

      g_assert_nonnull (line);
      if (strstr (line, " 376 ") != NULL || strstr (line, " 422 ") != NULL)
        break;
    }
  return c;
}

G_END_DECLS
