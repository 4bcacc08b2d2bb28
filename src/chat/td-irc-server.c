/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-irc-server"

#include "config.h"

#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "chat/td-chat-store.h"
#include "chat/td-irc-account-store.h"
#include "chat/td-irc-server-private.h"
#include "core/td-task-loop.h"
#include "core/td-timers.h"

/*
 * Connections, output, timers and flood control of the IRC server.
 *
 * Every callback (accept, input, output, timer, mail) ends in
 * after_dispatch(): clients killed during the callback are torn down there
 * (so that no handler ever sees a freed client while it iterates a member
 * list) and every client with queued output is flushed with as few
 * writes as possible, Redis's beforeSleep() in small.
 *
 * A client is plain (reads and writes on its GSocket) or TLS (the same
 * through the pollable streams of its GTlsServerConnection, once the
 * handshake, run asynchronously on the server's context, is done); the
 * rest of the server does not know which.
 */

enum
{
  MAIL_AUTH = 1,
  MAIL_FLUSHED,
  MAIL_LOADED_HISTORY,
  MAIL_LOADED_ACCOUNTS,
};

/* ------------------------------------------------------------------ */
/* Config                                                              */
/* ------------------------------------------------------------------ */

TdIrcServerConfig *
td_irc_server_config_new (void)
{
  TdIrcServerConfig *config = g_new0 (TdIrcServerConfig, 1);

  config->server_name = g_strdup (TD_IRC_DEFAULT_SERVER_NAME);
  config->network_name = g_strdup (TD_IRC_DEFAULT_NETWORK);
  config->motd = g_strdup ("Welcome to Tidings chat.");
  config->flood_control = TRUE;
  config->flood_penalty_ms = TD_IRC_DEFAULT_FLOOD_PENALTY_MS;
  config->flood_window_ms = TD_IRC_DEFAULT_FLOOD_WINDOW_MS;
  config->flood_backlog = TD_IRC_DEFAULT_FLOOD_BACKLOG;
  config->max_per_ip = TD_IRC_DEFAULT_MAX_PER_IP;
  config->max_clients = TD_IRC_DEFAULT_MAX_CLIENTS;
  config->max_channels = TD_IRC_DEFAULT_MAX_CHANNELS;
  config->ping_interval_s = TD_IRC_DEFAULT_PING_INTERVAL_S;
  config->ping_timeout_s = TD_IRC_DEFAULT_PING_TIMEOUT_S;
  config->register_timeout_s = TD_IRC_DEFAULT_REGISTER_TIMEOUT_S;
  config->nick_grace_s = TD_IRC_DEFAULT_NICK_GRACE_S;
  config->sendq_max = TD_IRC_DEFAULT_SENDQ_MAX;
  config->history_ring = TD_CHAT_HISTORY_DEFAULT_RING;
  return config;
}

TdIrcServerConfig *
td_irc_server_config_copy (const TdIrcServerConfig *config)
{
  TdIrcServerConfig *copy = g_memdup2 (config, sizeof *config);

  copy->server_name = g_strdup (config->server_name);
  copy->network_name = g_strdup (config->network_name);
  copy->motd = g_strdup (config->motd);
  copy->password = g_strdup (config->password);
  copy->filehost = g_strdup (config->filehost);
  return copy;
}

void
td_irc_server_config_free (TdIrcServerConfig *config)
{
  if (config == NULL)
    return;
  g_free (config->server_name);
  g_free (config->network_name);
  g_free (config->motd);
  g_free (config->password);
  g_free (config->filehost);
  g_free (config);
}

/* ------------------------------------------------------------------ */
/* Capabilities                                                        */
/* ------------------------------------------------------------------ */

static const struct
{
  guint       cap;
  const char *name;
  const char *value;   /* shown with CAP LS 302 */
} caps_table[] = {
  { CAP_ACCOUNT_TAG, "account-tag", NULL },
  { CAP_AWAY_NOTIFY, "away-notify", NULL },
  { CAP_BATCH, "batch", NULL },
  { CAP_CAP_NOTIFY, "cap-notify", NULL },
  { CAP_ACCOUNT_REGISTRATION, "draft/account-registration", "before-connect" },
  { CAP_CHATHISTORY, "draft/chathistory", NULL },
  { CAP_ECHO_MESSAGE, "echo-message", NULL },
  { CAP_LABELED_RESPONSE, "labeled-response", NULL },
  { CAP_MESSAGE_TAGS, "message-tags", NULL },
  { CAP_MULTI_PREFIX, "multi-prefix", NULL },
  { CAP_SASL, "sasl", "PLAIN" },
  { CAP_SERVER_TIME, "server-time", NULL },
};

const char *
_td_irc_cap_names (guint cap)
{
  for (guint i = 0; i < G_N_ELEMENTS (caps_table); i++)
    if (caps_table[i].cap == cap)
      return caps_table[i].name;
  return NULL;
}

/* Returns the CAP_* bit of @name, or 0 when unknown. */
guint
_td_irc_cap_lookup (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (caps_table); i++)
    if (g_ascii_strcasecmp (caps_table[i].name, name) == 0)
      return caps_table[i].cap;
  return 0;
}

/* The CAP LS list; values only for version 302 and later. */
const char *
_td_irc_cap_ls_string (guint version)
{
  static char *ls301, *ls302;
  char **slot = version >= 302 ? &ls302 : &ls301;

  if (g_once_init_enter (slot))
    {
      GString *out = g_string_new (NULL);

      for (guint i = 0; i < G_N_ELEMENTS (caps_table); i++)
        {
          if (out->len > 0)
            g_string_append_c (out, ' ');
          g_string_append (out, caps_table[i].name);
          if (version >= 302 && caps_table[i].value != NULL)
            g_string_append_printf (out, "=%s", caps_table[i].value);
        }
      g_once_init_leave (slot, g_string_free (out, FALSE));
    }
  return *slot;
}

/* ------------------------------------------------------------------ */
/* Ids and time                                                        */
/* ------------------------------------------------------------------ */

char *
_td_irc_new_msgid (TdIrcServer *server)
{
  return g_strdup_printf ("%s%" G_GINT64_MODIFIER "x", server->msgid_prefix, server->next_msgid++);
}

char *
_td_irc_new_batch_id (TdIrcServer *server)
{
  return g_strdup_printf ("b%" G_GINT64_MODIFIER "x", server->next_batch++);
}

/* The time of a stored message: real time at millisecond resolution (what
 * server-time and chathistory timestamps carry), never going backwards, so
 * the history stays in order when the clock is stepped back. */
gint64
_td_irc_message_time (TdIrcServer *server)
{
  gint64 now = g_get_real_time () / 1000 * 1000;

  if (now < server->last_time)
    now = server->last_time;
  server->last_time = now;
  return now;
}

/* ------------------------------------------------------------------ */
/* Output                                                              */
/* ------------------------------------------------------------------ */

static void
mark_pending (TdIrcClient *client)
{
  if (!client->in_pending)
    {
      client->in_pending = TRUE;
      g_ptr_array_add (client->server->pending_writes, client);
    }
}

static void
queue_bytes (TdIrcClient *client,
             const char  *line,
             gsize        len)
{
  g_byte_array_append (client->outbuf, (const guint8 *) line, len);
  mark_pending (client);
  if (client->outbuf->len - client->out_off > client->server->config->sendq_max)
    _td_irc_client_kill (client, "SendQ exceeded", NULL);
}

/* Queues one wire line (with CR LF) for @client; while a labeled command
 * runs, the client's own lines are captured instead. */
void
_td_irc_send_raw (TdIrcClient *client,
                  const char  *line,
                  gsize        len)
{
  if (client->dead)
    return;
  if (client->capture != NULL)
    {
      g_ptr_array_add (client->capture, g_strndup (line, len));
      return;
    }
  queue_bytes (client, line, len);
}

/* Sends a formatted line; the format has no CR LF. */
void
_td_irc_send (TdIrcClient *client,
              const char  *format,
              ...)
{
  g_autoptr(GString) line = g_string_new (NULL);
  va_list args;

  if (client->dead)
    return;
  va_start (args, format);
  g_string_append_vprintf (line, format, args);
  va_end (args);
  g_string_append (line, "\r\n");
  _td_irc_send_raw (client, line->str, line->len);
}

const char *
_td_irc_client_nick (TdIrcClient *client)
{
  return client->nick != NULL ? client->nick : "*";
}

/* Sends ":server NUMERIC nick <text>". */
void
_td_irc_numeric (TdIrcClient *client,
                 const char  *numeric,
                 const char  *format,
                 ...)
{
  g_autoptr(GString) line = g_string_new (NULL);
  va_list args;

  if (client->dead)
    return;
  g_string_printf (line, ":%s %s %s ", client->server->config->server_name,
                   numeric, _td_irc_client_nick (client));
  va_start (args, format);
  g_string_append_vprintf (line, format, args);
  va_end (args);
  g_string_append (line, "\r\n");
  _td_irc_send_raw (client, line->str, line->len);
}

char *
_td_irc_client_prefix (TdIrcClient *client)
{
  return g_strdup_printf ("%s!%s@%s", _td_irc_client_nick (client),
                          client->user ? client->user : "~u", client->host);
}

void
_td_irc_event_init (TdIrcEvent *event,
                    gint64      time)
{
  memset (event, 0, sizeof *event);
  event->body = g_string_new (NULL);
  event->time = time;
}

void
_td_irc_event_clear (TdIrcEvent *event)
{
  g_string_free (event->body, TRUE);
  for (guint i = 0; i < TD_IRC_N_VARIANTS; i++)
    if (event->variants[i] != NULL)
      g_string_free (event->variants[i], TRUE);
}

/* Returns the line of @event for a client whose variant bits are @variant
 * (CAP_MESSAGE_TAGS | CAP_SERVER_TIME | CAP_ACCOUNT_TAG), built on first use. */
static GString *
event_variant (TdIrcEvent *event,
               guint       variant)
{
  GString *line;
  gboolean any = FALSE;

  if (event->variants[variant] != NULL)
    return event->variants[variant];

  line = g_string_sized_new (event->body->len + 96);
  g_string_append_c (line, '@');
  if ((variant & CAP_SERVER_TIME) && event->time > 0)
    {
      g_autofree char *time = td_irc_format_time (event->time);

      g_string_append_printf (line, "time=%s", time);
      any = TRUE;
    }
  if ((variant & CAP_MESSAGE_TAGS) && event->msgid != NULL)
    {
      g_string_append_printf (line, "%smsgid=%s", any ? ";" : "", event->msgid);
      any = TRUE;
    }
  if ((variant & CAP_ACCOUNT_TAG) && event->account != NULL)
    {
      g_string_append_printf (line, "%saccount=%s", any ? ";" : "", event->account);
      any = TRUE;
    }
  if ((variant & CAP_MESSAGE_TAGS) && event->client_tags != NULL)
    {
      g_string_append_printf (line, "%s%s", any ? ";" : "", event->client_tags);
      any = TRUE;
    }
  if (any)
    g_string_append_c (line, ' ');
  else
    g_string_truncate (line, 0);
  g_string_append_len (line, event->body->str, event->body->len);
  event->variants[variant] = line;
  return line;
}

void
_td_irc_event_send (TdIrcEvent  *event,
                    TdIrcClient *client)
{
  GString *line;

  if (client->dead)
    return;
  line = event_variant (event, client->caps & TD_IRC_VARIANT_MASK);
  _td_irc_send_raw (client, line->str, line->len);
}

static void
event_vprintf (TdIrcEvent  *event,
               TdIrcClient *from,
               const char  *format,
               va_list      args)
{
  g_autofree char *prefix = _td_irc_client_prefix (from);

  g_string_printf (event->body, ":%s ", prefix);
  g_string_append_vprintf (event->body, format, args);
  g_string_append (event->body, "\r\n");
  event->account = from->account;
}

/* Sends a line with @from's prefix (JOIN, NICK, INVITE ...) to @to, with
 * the time and account tags @to asked for. */
void
_td_irc_send_from (TdIrcClient *to,
                   TdIrcClient *from,
                   const char  *format,
                   ...)
{
  TdIrcEvent event;
  va_list args;

  if (to->dead)
    return;
  _td_irc_event_init (&event, g_get_real_time ());
  va_start (args, format);
  event_vprintf (&event, from, format, args);
  va_end (args);
  _td_irc_event_send (&event, to);
  _td_irc_event_clear (&event);
}

/* Sends a line from @client to everyone sharing a channel with it, once
 * each (and to @client itself with @include_self), only to clients that
 * have every cap in @required_cap. */
void
_td_irc_broadcast_peers (TdIrcClient *client,
                         gboolean     include_self,
                         guint        required_cap,
                         const char  *format,
                         ...)
{
  TdIrcServer *server = client->server;
  TdIrcEvent event;
  GHashTableIter iter;
  gpointer key;
  guint64 gen = ++server->broadcast_gen;
  va_list args;

  _td_irc_event_init (&event, g_get_real_time ());
  va_start (args, format);
  event_vprintf (&event, client, format, args);
  va_end (args);

  client->seen_gen = gen;
  if (include_self && (client->caps & required_cap) == required_cap)
    _td_irc_event_send (&event, client);

  g_hash_table_iter_init (&iter, client->channels);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      TdIrcChannel *channel = key;
      GHashTableIter members;
      gpointer peer_ptr;

      g_hash_table_iter_init (&members, channel->members);
      while (g_hash_table_iter_next (&members, &peer_ptr, NULL))
        {
          TdIrcClient *peer = peer_ptr;

          if (peer->seen_gen == gen)
            continue;
          peer->seen_gen = gen;
          if ((peer->caps & required_cap) == required_cap)
            _td_irc_event_send (&event, peer);
        }
    }
  _td_irc_event_clear (&event);
}

/* ------------------------------------------------------------------ */
/* Transport: plain socket or TLS                                      */
/* ------------------------------------------------------------------ */

/* Writes without blocking; G_IO_ERROR_WOULD_BLOCK when the peer is full. */
static gssize
client_write (TdIrcClient  *client,
              const char   *data,
              gsize         len,
              GError      **error)
{
  if (client->tls != NULL)
    return g_pollable_output_stream_write_nonblocking (
             G_POLLABLE_OUTPUT_STREAM (g_io_stream_get_output_stream (client->tls)),
             data, MIN (len, TD_IRC_TLS_WRITE_CHUNK), NULL, error);
  return g_socket_send (client->socket, data, len, NULL, error);
}

/* Reads without blocking: 0 at the end of the stream. */
static gssize
client_read (TdIrcClient  *client,
             char         *data,
             gsize         len,
             GError      **error)
{
  if (client->tls != NULL)
    return g_pollable_input_stream_read_nonblocking (
             G_POLLABLE_INPUT_STREAM (g_io_stream_get_input_stream (client->tls)),
             data, len, NULL, error);
  return g_socket_receive (client->socket, data, len, NULL, error);
}

static gboolean out_cb (GSocket *socket, GIOCondition condition, gpointer user_data);
static gboolean out_stream_cb (GObject *stream, gpointer user_data);
static gboolean in_cb (GSocket *socket, GIOCondition condition, gpointer user_data);
static gboolean in_stream_cb (GObject *stream, gpointer user_data);

/* A source for @condition (G_IO_IN or G_IO_OUT) on @client's transport,
 * attached to the server's context. */
static GSource *
client_watch (TdIrcClient  *client,
              GIOCondition  condition)
{
  GSource *source;

  if (client->tls != NULL && condition == G_IO_OUT)
    {
      source = g_pollable_output_stream_create_source (
                 G_POLLABLE_OUTPUT_STREAM (g_io_stream_get_output_stream (client->tls)), NULL);
      g_source_set_callback (source, G_SOURCE_FUNC (out_stream_cb), client, NULL);
    }
  else if (client->tls != NULL)
    {
      source = g_pollable_input_stream_create_source (
                 G_POLLABLE_INPUT_STREAM (g_io_stream_get_input_stream (client->tls)), NULL);
      g_source_set_callback (source, G_SOURCE_FUNC (in_stream_cb), client, NULL);
    }
  else if (condition == G_IO_OUT)
    {
      source = g_socket_create_source (client->socket, G_IO_OUT, NULL);
      g_source_set_callback (source, G_SOURCE_FUNC (out_cb), client, NULL);
    }
  else
    {
      source = g_socket_create_source (client->socket, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
      g_source_set_callback (source, G_SOURCE_FUNC (in_cb), client, NULL);
    }
  g_source_attach (source, client->server->context);
  return source;
}

/* A TLS handshake on its way; it outlives a client that dies meanwhile
 * (the callback then only frees it). */
typedef struct
{
  TdIrcClient  *client;        /* NULL once abandoned */
  GCancellable *cancellable;
} Handshake;

static void reap_dead (TdIrcServer *server);
static gint64 client_deadline (TdIrcClient       *client,
                               TdIrcServerConfig *config);

static void
handshake_abandon (Handshake *handshake)
{
  handshake->client = NULL;
  g_cancellable_cancel (handshake->cancellable);
}

static void
handshake_free (Handshake *handshake)
{
  g_object_unref (handshake->cancellable);
  g_free (handshake);
}

static void
handshake_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Handshake *handshake = user_data;
  TdIrcClient *client = handshake->client;
  g_autoptr(GError) error = NULL;
  gboolean ok = g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result, &error);

  handshake_free (handshake);
  if (client == NULL)
    return;
  client->handshake = NULL;
  if (!ok)
    {
      g_debug ("TLS handshake with %s: %s", client->ip, error->message);
      _td_irc_client_kill (client, "TLS handshake failed", NULL);
    }
  else
    {
      client->in_source = client_watch (client, G_IO_IN);
      if (client->outbuf->len > client->out_off)
        mark_pending (client);
    }
  reap_dead (client->server);
}

/* Starts the server side of the TLS handshake on the server's context. */
static void
handshake_start (TdIrcClient *client)
{
  Handshake *handshake = g_new0 (Handshake, 1);
  GMainContext *context = client->server->context;

  handshake->client = client;
  handshake->cancellable = g_cancellable_new ();
  client->handshake = handshake;
  /* The callback goes to the thread-default context of the caller. */
  g_main_context_push_thread_default (context);
  g_tls_connection_handshake_async (G_TLS_CONNECTION (client->tls), G_PRIORITY_DEFAULT,
                                    handshake->cancellable, handshake_cb, handshake);
  g_main_context_pop_thread_default (context);
}

/* Where writing must stop for now: the first hold, or the end. */
static gsize
client_write_limit (TdIrcClient *client)
{
  if (client->holds != NULL && client->holds->len > 0)
    return g_array_index (client->holds, HoldPoint, 0).offset;
  return client->outbuf->len;
}

/* Writes as much queued output as the peer takes and durability allows;
 * waits for G_IO_OUT for the rest. */
static void
flush_client (TdIrcClient *client)
{
  gsize limit;

  if (client->handshake != NULL)
    return;   /* written once the TLS session is up */

  limit = client_write_limit (client);
  while (client->out_off < limit)
    {
      g_autoptr(GError) error = NULL;
      gssize n = client_write (client, (const char *) client->outbuf->data + client->out_off,
                               limit - client->out_off, &error);

      if (n < 0)
        {
          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            break;
          _td_irc_client_kill (client, "Write error", NULL);
          return;
        }
      client->out_off += n;
    }

  if (client->out_off == client->outbuf->len)
    {
      g_byte_array_set_size (client->outbuf, 0);
      client->out_off = 0;
      if (client->holds != NULL)
        for (guint i = 0; i < client->holds->len; i++)
          g_array_index (client->holds, HoldPoint, i).offset = 0;
      if (client->out_source != NULL)
        {
          g_source_destroy (client->out_source);
          g_clear_pointer (&client->out_source, g_source_unref);
        }
      return;
    }

  /* Keep the buffer from growing without bound at the front. */
  if (client->out_off > client->outbuf->len / 2)
    {
      g_byte_array_remove_range (client->outbuf, 0, client->out_off);
      if (client->holds != NULL)
        for (guint i = 0; i < client->holds->len; i++)
          g_array_index (client->holds, HoldPoint, i).offset -= client->out_off;
      limit -= client->out_off;
      client->out_off = 0;
    }
  if (client->out_off < limit)
    {
      if (client->out_source == NULL)
        client->out_source = client_watch (client, G_IO_OUT);
    }
  else if (client->out_source != NULL)
    {
      /* Only held output is left: the release marks the client again. */
      g_source_destroy (client->out_source);
      g_clear_pointer (&client->out_source, g_source_unref);
    }
}

/* ------------------------------------------------------------------ */
/* Teardown                                                            */
/* ------------------------------------------------------------------ */

/* Marks @client for teardown at the end of the current dispatch: others
 * see QUIT with @quit_reason, the client gets ERROR with @error_reason (or
 * the quit reason). Safe to call more than once and while iterating. */
void
_td_irc_client_kill (TdIrcClient *client,
                     const char  *quit_reason,
                     const char  *error_reason)
{
  if (client->dead)
    return;
  client->dead = TRUE;
  client->quit_reason = g_strdup (quit_reason);
  client->error_reason = g_strdup (error_reason);
  g_ptr_array_add (client->server->dead, client);
}

static void
client_free (TdIrcClient *client)
{
  g_clear_pointer (&client->inbuf, g_byte_array_unref);
  g_clear_pointer (&client->outbuf, g_byte_array_unref);
  g_clear_pointer (&client->holds, g_array_unref);
  g_clear_object (&client->tls);
  g_clear_object (&client->socket);
  g_free (client->ip);
  g_free (client->host);
  g_free (client->nick);
  g_free (client->user);
  g_free (client->realname);
  if (client->pass != NULL)
    memset (client->pass, 0, strlen (client->pass));
  g_free (client->pass);
  g_free (client->account);
  if (client->sasl_buf != NULL)
    {
      memset (client->sasl_buf->str, 0, client->sasl_buf->len);
      g_string_free (client->sasl_buf, TRUE);
    }
  g_free (client->away);
  g_free (client->quit_reason);
  g_free (client->error_reason);
  g_clear_pointer (&client->channels, g_hash_table_unref);
  g_clear_pointer (&client->capture, g_ptr_array_unref);
  g_free (client);
}

static void
destroy_source (GSource **source)
{
  if (*source != NULL)
    {
      g_source_destroy (*source);
      g_clear_pointer (source, g_source_unref);
    }
}

/* Tears @client down: QUIT to its peers, out of every channel and index,
 * a last ERROR line, then the socket is closed. */
static void
client_destroy (TdIrcClient *client,
                gboolean     notify)
{
  TdIrcServer *server = client->server;
  const char *reason = client->quit_reason ? client->quit_reason : "Client exited";
  g_autofree char *error_line = NULL;
  GHashTableIter iter;
  gpointer key;
  guint count;

  client->dead = FALSE;   /* let the QUIT broadcast skip only others that are dead */
  if (notify && client->registered && g_hash_table_size (client->channels) > 0)
    _td_irc_broadcast_peers (client, FALSE, 0, "QUIT :%s", reason);
  client->dead = TRUE;

  g_hash_table_iter_init (&iter, client->channels);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      g_hash_table_iter_steal (&iter);
      _td_irc_channel_remove (key, client);
    }
  if (client->nick != NULL && g_hash_table_lookup (server->nicks, client->nick) == client)
    g_hash_table_remove (server->nicks, client->nick);

  if (client->holds != NULL && client->holds->len > 0)
    {
      /* What is held was never acknowledged: it goes unsent. */
      g_byte_array_set_size (client->outbuf, client_write_limit (client));
      g_array_set_size (client->holds, 0);
      g_ptr_array_remove_fast (server->held, client);
    }
  if (client->handshake != NULL)
    {
      handshake_abandon (client->handshake);
      client->handshake = NULL;
      notify = FALSE;   /* no TLS session to say goodbye on */
    }

  /* The last words, written without waiting: the client is going away. */
  if (notify)
    {
      gsize off = client->out_off;

      g_clear_pointer (&client->capture, g_ptr_array_unref);
      error_line = g_strdup_printf ("ERROR :Closing Link: %s (%s)\r\n", client->host,
                                    client->error_reason ? client->error_reason : reason);
      g_byte_array_append (client->outbuf, (const guint8 *) error_line, strlen (error_line));
      while (off < client->outbuf->len)
        {
          gssize n = client_write (client, (const char *) client->outbuf->data + off,
                                   client->outbuf->len - off, NULL);

          if (n <= 0)
            break;
          off += n;
        }
    }

  destroy_source (&client->in_source);
  destroy_source (&client->out_source);
  destroy_source (&client->resume_source);

  /* Unread input makes close() send a reset, which can discard the ERROR
   * line at the peer: read what is there, then close the write side first.
   * Under TLS the socket is closed beneath the session, without waiting
   * for a close_notify exchange. */
  if (client->socket != NULL)
    {
      char sink[4096];

      for (guint i = 0; i < 16 && client_read (client, sink, sizeof sink, NULL) > 0; i++)
        ;
      g_socket_shutdown (client->socket, FALSE, TRUE, NULL);
      g_socket_close (client->socket, NULL);
    }

  count = GPOINTER_TO_UINT (g_hash_table_lookup (server->per_ip, client->ip));
  if (count <= 1)
    g_hash_table_remove (server->per_ip, client->ip);
  else
    g_hash_table_insert (server->per_ip, g_strdup (client->ip), GUINT_TO_POINTER (count - 1));

  if (client->in_pending)
    g_ptr_array_remove_fast (server->pending_writes, client);
  g_hash_table_remove (server->clients_by_id, &client->id);
  g_queue_unlink (&server->clients, &client->link);
  client_free (client);
}

/* The end of every dispatch: tear down the dead, flush the living. */
static void
after_dispatch (TdIrcServer *server)
{
  while (server->dead->len > 0 || server->pending_writes->len > 0)
    {
      for (guint i = 0; i < server->dead->len; i++)
        client_destroy (g_ptr_array_index (server->dead, i), TRUE);
      g_ptr_array_set_size (server->dead, 0);

      while (server->pending_writes->len > 0)
        {
          TdIrcClient *client = g_ptr_array_steal_index_fast (server->pending_writes,
                                                              server->pending_writes->len - 1);

          client->in_pending = FALSE;
          if (!client->dead)
            flush_client (client);
        }
    }
}

/* Callbacks only reap; output is written once per main-loop iteration,
 * just before the context polls (Redis's beforeSleep()), so that every
 * line queued for a client during one iteration goes out in one write. */
static void
reap_dead (TdIrcServer *server)
{
  while (server->dead->len > 0)
    {
      for (guint i = 0; i < server->dead->len; i++)
        client_destroy (g_ptr_array_index (server->dead, i), TRUE);
      g_ptr_array_set_size (server->dead, 0);
    }
}

typedef struct
{
  GSource      source;
  TdIrcServer *server;
} FlushSource;

static void issue_flush (TdIrcServer *server);

static gboolean
flush_prepare (GSource *source,
               gint    *timeout)
{
  TdIrcServer *server = ((FlushSource *) source)->server;

  *timeout = -1;
  if (server->dead->len > 0 || server->pending_writes->len > 0)
    after_dispatch (server);
  issue_flush (server);
  return FALSE;
}

static gboolean
flush_dispatch (GSource     *source,
                GSourceFunc  callback,
                gpointer     user_data)
{
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs flush_funcs = { flush_prepare, NULL, flush_dispatch, NULL, NULL, NULL };

static gboolean
out_cb (GSocket      *socket,
        GIOCondition  condition,
        gpointer      user_data)
{
  TdIrcClient *client = user_data;
  TdIrcServer *server = client->server;

  flush_client (client);
  after_dispatch (server);
  return G_SOURCE_CONTINUE;
}

static gboolean
out_stream_cb (GObject  *stream,
               gpointer  user_data)
{
  return out_cb (NULL, G_IO_OUT, user_data);
}

/* ------------------------------------------------------------------ */
/* Input                                                               */
/* ------------------------------------------------------------------ */

static void
finish_label (TdIrcClient *client,
              const char  *label)
{
  g_autoptr(GPtrArray) lines = g_steal_pointer (&client->capture);
  g_autoptr(GString) out = g_string_new (NULL);
  g_autoptr(GString) tag = g_string_new ("label=");

  if (client->dead || lines == NULL)
    return;
  td_irc_tag_escape_append (tag, label);

  if (lines->len == 0)
    {
      _td_irc_send (client, "@%s :%s ACK", tag->str, client->server->config->server_name);
      return;
    }
  if (lines->len == 1 || !(client->caps & CAP_BATCH))
    {
      for (guint i = 0; i < lines->len; i++)
        {
          const char *line = g_ptr_array_index (lines, i);

          g_string_truncate (out, 0);
          if (i == 0 && line[0] == '@')
            g_string_append_printf (out, "@%s;%s", tag->str, line + 1);
          else if (i == 0)
            g_string_append_printf (out, "@%s %s", tag->str, line);
          else
            g_string_append (out, line);
          _td_irc_send_raw (client, out->str, out->len);
        }
      return;
    }

  {
    g_autofree char *id = _td_irc_new_batch_id (client->server);

    _td_irc_send (client, "@%s :%s BATCH +%s labeled-response", tag->str,
                  client->server->config->server_name, id);
    for (guint i = 0; i < lines->len; i++)
      {
        const char *line = g_ptr_array_index (lines, i);

        g_string_truncate (out, 0);
        /* Lines of a nested batch keep their own batch tag; only the
         * nested BATCH lines themselves join the outer batch. */
        if (line[0] == '@' && (g_str_has_prefix (line, "@batch=") || strstr (line, ";batch=") != NULL) &&
            strstr (line, " BATCH ") == NULL)
          g_string_append (out, line);
        else if (line[0] == '@')
          g_string_append_printf (out, "@batch=%s;%s", id, line + 1);
        else
          g_string_append_printf (out, "@batch=%s %s", id, line);
        _td_irc_send_raw (client, out->str, out->len);
      }
    _td_irc_send (client, ":%s BATCH -%s", client->server->config->server_name, id);
  }
}

/* Runs one parsed line: the command table, registration and parameter
 * checks, and labeled-response around the handler. */
static void
dispatch_message (TdIrcClient        *client,
                  const TdIrcMessage *message)
{
  const TdIrcCommand *command = g_hash_table_lookup (client->server->commands, message->command);
  const char *label = NULL;

  if ((client->caps & CAP_LABELED_RESPONSE) && client->capture == NULL)
    {
      label = td_irc_message_get_tag (message, "label", NULL);
      /* A label is an opaque token from the client; keep it short. */
      if (label != NULL && strlen (label) <= 64)
        client->capture = g_ptr_array_new_with_free_func (g_free);
      else
        label = NULL;
    }
  client->label = label;

  if (command == NULL)
    {
      if (client->registered)
        _td_irc_numeric (client, "421", "%s :Unknown command", message->command);
      else
        _td_irc_numeric (client, "451", ":You have not registered");
    }
  else if (command->needs_registration && !client->registered)
    _td_irc_numeric (client, "451", ":You have not registered");
  else if (message->n_params < command->min_params)
    _td_irc_numeric (client, "461", "%s :Not enough parameters", message->command);
  else
    command->func (client, message);

  if (label != NULL && !client->label_deferred)
    finish_label (client, label);
  client->label = NULL;
  client->label_deferred = FALSE;
}

static void schedule_resume (TdIrcClient *client);

/* For a handler whose answer comes later (from the disk): returns the
 * label of the command (owned, NULL without one) to hand back to
 * _td_irc_deferred_begin() / _td_irc_deferred_end(), and pauses the
 * client's input until then so that answers keep the commands' order.
 * Call it before sending anything for the command. */
char *
_td_irc_defer_reply (TdIrcClient *client)
{
  g_assert (!client->label_deferred);

  client->waiting++;
  if (client->label == NULL)
    return NULL;
  client->label_deferred = TRUE;
  g_clear_pointer (&client->capture, g_ptr_array_unref);
  return g_strdup (client->label);
}

/* Opens the labeled response of a deferred answer: lines sent to @client
 * until _td_irc_deferred_end() are its answer. */
void
_td_irc_deferred_begin (TdIrcClient *client,
                        const char  *label)
{
  if (label != NULL && client->capture == NULL && !client->dead)
    client->capture = g_ptr_array_new_with_free_func (g_free);
}

/* Closes a deferred answer and lets the client's input run again. */
void
_td_irc_deferred_end (TdIrcClient *client,
                      const char  *label)
{
  if (label != NULL)
    finish_label (client, label);
  g_clear_pointer (&client->capture, g_ptr_array_unref);
  g_assert (client->waiting > 0);
  client->waiting--;
  schedule_resume (client);
}

static gboolean resume_cb (gpointer user_data);

/* Flood control (RFC 1459 §8.10): every line moves the client's timer
 * ahead by the penalty; once it is more than the window ahead of now the
 * client is throttled until it falls back. Returns FALSE when throttled. */
static gboolean
flood_admit (TdIrcClient *client,
             gint64       now)
{
  TdIrcServerConfig *config = client->server->config;
  gint64 window = (gint64) config->flood_window_ms * 1000;

  if (!config->flood_control)
    return TRUE;
  if (client->flood_time < now)
    client->flood_time = now;
  if (client->flood_time - now >= window)
    {
      if (client->resume_source == NULL)
        {
          guint delay_ms = (guint) ((client->flood_time - now - window) / 1000) + 1;

          client->throttled = TRUE;
          client->resume_source = g_timeout_source_new (delay_ms);
          g_source_set_callback (client->resume_source, resume_cb, client, NULL);
          g_source_attach (client->resume_source, client->server->context);
        }
      return FALSE;
    }
  client->flood_time += (gint64) config->flood_penalty_ms * 1000;
  return TRUE;
}

/* Handles the complete lines in @client's input buffer. */
static void
process_input (TdIrcClient *client)
{
  GByteArray *inbuf = client->inbuf;
  gsize consumed = 0;
  gint64 now = g_get_monotonic_time ();

  for (guint n = 0; n < TD_IRC_LINES_PER_DISPATCH && !client->dead && client->waiting == 0; n++)
    {
      const char *start = (const char *) inbuf->data + consumed;
      gsize avail = inbuf->len - consumed;
      const char *nl = memchr (start, '\n', avail);
      gsize len;
      g_autoptr(GError) error = NULL;
      g_autoptr(TdIrcMessage) message = NULL;

      if (nl == NULL)
        {
          if (avail > TD_IRC_MAX_WIRE_LINE)
            _td_irc_client_kill (client, "Input line too long", NULL);
          break;
        }
      len = nl - start;
      if (len > 0 && start[len - 1] == '\r')
        len--;
      if (len == 0)
        {
          consumed += nl - start + 1;
          continue;
        }
      if (!flood_admit (client, now))
        break;
      consumed += nl - start + 1;

      message = td_irc_message_parse (start, len, &error);
      if (message == NULL)
        {
          if (g_error_matches (error, TD_IRC_ERROR, TD_IRC_ERROR_LINE_TOO_LONG) ||
              g_error_matches (error, TD_IRC_ERROR, TD_IRC_ERROR_TAGS_TOO_LONG))
            _td_irc_numeric (client, "417", ":Input line was too long");
          else if (!g_error_matches (error, TD_IRC_ERROR, TD_IRC_ERROR_EMPTY))
            {
              g_autofree char *why = g_strdup_printf ("Malformed message: %s", error->message);

              _td_irc_client_kill (client, "Malformed message", why);
            }
          continue;
        }
      client->last_read = now;
      dispatch_message (client, message);
    }

  if (consumed > 0 && client->inbuf != NULL)
    g_byte_array_remove_range (inbuf, 0, consumed);

  if (!client->dead && client->throttled && inbuf->len > client->server->config->flood_backlog)
    _td_irc_client_kill (client, "Excess Flood", NULL);
}

static gboolean
resume_cb (gpointer user_data)
{
  TdIrcClient *client = user_data;
  TdIrcServer *server = client->server;

  g_clear_pointer (&client->resume_source, g_source_unref);
  client->throttled = FALSE;
  process_input (client);
  schedule_resume (client);
  reap_dead (server);
  return G_SOURCE_REMOVE;
}

/* Lines left over (the per-dispatch cap, or input paused while an
 * answer came from the disk): come back soon. */
static void
schedule_resume (TdIrcClient *client)
{
  if (!client->dead && !client->throttled && client->waiting == 0 &&
      client->resume_source == NULL && client->inbuf != NULL &&
      memchr (client->inbuf->data, '\n', client->inbuf->len) != NULL)
    {
      client->resume_source = g_idle_source_new ();
      g_source_set_callback (client->resume_source, resume_cb, client, NULL);
      g_source_attach (client->resume_source, client->server->context);
    }
}

static void
handle_input (TdIrcClient *client)
{
  TdIrcServer *server = client->server;
  g_autoptr(GError) error = NULL;
  gsize old_len = client->inbuf->len;
  gssize n;

  g_byte_array_set_size (client->inbuf, old_len + TD_IRC_READ_CHUNK);
  n = client_read (client, (char *) client->inbuf->data + old_len, TD_IRC_READ_CHUNK, &error);
  if (n <= 0)
    {
      g_byte_array_set_size (client->inbuf, old_len);
      if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        return;
      _td_irc_client_kill (client, n == 0 ? "Connection closed" : "Read error", NULL);
      reap_dead (server);
      return;
    }
  g_byte_array_set_size (client->inbuf, old_len + n);
  client->last_read = g_get_monotonic_time ();
  client->ping_sent = 0;

  if (!client->throttled && client->waiting == 0)
    process_input (client);
  else if (client->inbuf->len > server->config->flood_backlog)
    _td_irc_client_kill (client, "Excess Flood", NULL);

  schedule_resume (client);
  reap_dead (server);
}

static gboolean
in_cb (GSocket      *socket,
       GIOCondition  condition,
       gpointer      user_data)
{
  handle_input (user_data);
  return G_SOURCE_CONTINUE;
}

static gboolean
in_stream_cb (GObject  *stream,
              gpointer  user_data)
{
  handle_input (user_data);
  return G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------------------ */
/* Accept                                                              */
/* ------------------------------------------------------------------ */

static void
client_new (TdIrcServer *server,
            GSocket     *socket,
            gboolean     tls)
{
  g_autoptr(GSocketAddress) remote = g_socket_get_remote_address (socket, NULL);
  TdIrcClient *client;
  guint count;
  int one = 1;

  client = g_new0 (TdIrcClient, 1);
  client->server = server;
  client->id = ++server->next_client_id;
  client->socket = g_object_ref (socket);
  client->link.data = client;
  client->inbuf = g_byte_array_new ();
  client->outbuf = g_byte_array_new ();
  client->channels = g_hash_table_new (NULL, NULL);
  client->connected_at = client->last_read = client->last_message = g_get_monotonic_time ();
  client->signon = g_get_real_time () / G_USEC_PER_SEC;
  _td_irc_server_tick_for (client);
  if (G_IS_INET_SOCKET_ADDRESS (remote))
    client->ip = g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote)));
  else
    client->ip = g_strdup ("unknown");
  /* No reverse DNS: it would block, and on loopback it says nothing. */
  client->host = g_strdup (client->ip);
  if (strchr (client->host, ':') != NULL && client->host[0] == ':')
    {
      /* "::1" would read as a parameter separator in a prefix. */
      g_free (client->host);
      client->host = g_strconcat ("0", client->ip, NULL);
    }

  g_socket_set_blocking (socket, FALSE);
  /* Chat lines are small and latency matters more than packet count. */
  setsockopt (g_socket_get_fd (socket), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

  g_queue_push_tail_link (&server->clients, &client->link);
  g_hash_table_insert (server->clients_by_id, &client->id, client);
  count = GPOINTER_TO_UINT (g_hash_table_lookup (server->per_ip, client->ip)) + 1;
  g_hash_table_insert (server->per_ip, g_strdup (client->ip), GUINT_TO_POINTER (count));

  if (count > server->config->max_per_ip)
    {
      _td_irc_client_kill (client, "Too many connections", "Too many connections from your address");
      return;
    }
  if (g_queue_get_length (&server->clients) > server->config->max_clients)
    {
      _td_irc_client_kill (client, "Server full", "The server is full");
      return;
    }

  if (tls)
    {
      g_autoptr(GSocketConnection) base = g_socket_connection_factory_create_connection (socket);
      g_autoptr(GError) error = NULL;

      /* g_tls_server_connection_new() would load the system's trusted CAs
       * (blocking, on the server loop) to check client certificates,
       * which IRC clients do not send: no database. A client that just
       * drops the connection is done, not an attack: no close_notify. */
      client->tls = g_initable_new (g_tls_backend_get_server_connection_type (g_tls_backend_get_default ()),
                                    NULL, &error,
                                    "base-io-stream", base,
                                    "certificate", server->certificate,
                                    "database", NULL,
                                    "require-close-notify", FALSE,
                                    NULL);
      if (client->tls == NULL)
        {
          g_message ("TLS connection from %s: %s", client->ip, error->message);
          _td_irc_client_kill (client, "TLS is not available", NULL);
          return;
        }
      handshake_start (client);
      return;
    }
  client->in_source = client_watch (client, G_IO_IN);
}

static gboolean
accept_cb (GSocket      *listener,
           GIOCondition  condition,
           gpointer      user_data)
{
  TdIrcServer *server = user_data;
  gboolean tls = listener == server->tls_listener;

  for (guint i = 0; i < TD_IRC_ACCEPTS_PER_DISPATCH; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GSocket) socket = g_socket_accept (listener, NULL, &error);

      if (socket == NULL)
        {
          if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            g_debug ("accept: %s", error->message);
          break;
        }
      client_new (server, socket, tls);
    }
  reap_dead (server);
  return G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------------------ */
/* Timer: pings, registration timeout, nick grace                      */
/* ------------------------------------------------------------------ */

/* The timer runs when something is due (a deadline source), not every
 * second: a server with idle clients wakes once a ping interval. */

/* When tick_cb() next has something to do for @client (monotonic), or -1. */
static gint64
client_deadline (TdIrcClient       *client,
                 TdIrcServerConfig *config)
{
  gint64 due;

  if (client->dead)
    return -1;
  if (!client->registered)
    return client->connected_at + (gint64) config->register_timeout_s * G_USEC_PER_SEC;
  if (client->ping_sent != 0)
    due = client->ping_sent + (gint64) config->ping_timeout_s * G_USEC_PER_SEC;
  else
    due = client->last_read + (gint64) config->ping_interval_s * G_USEC_PER_SEC;
  if (client->guest_deadline != 0)
    due = MIN (due, client->guest_deadline);
  return due;
}

/* Makes sure the timer runs by the time something is due for @client:
 * after what could make that sooner (connecting, registering, a nick's
 * grace starting). Input only makes it later. */
void
_td_irc_server_tick_for (TdIrcClient *client)
{
  TdIrcServer *server = client->server;

  if (server->tick_source != NULL)
    td_deadline_source_set_earlier (server->tick_source, client_deadline (client, server->config));
}

static gboolean
tick_cb (gpointer user_data)
{
  TdIrcServer *server = user_data;
  TdIrcServerConfig *config = server->config;
  gint64 now = g_get_monotonic_time ();

  for (GList *l = server->clients.head; l != NULL; l = l->next)
    {
      TdIrcClient *client = l->data;

      if (client->dead)
        continue;
      if (!client->registered)
        {
          if (now - client->connected_at > (gint64) config->register_timeout_s * G_USEC_PER_SEC)
            _td_irc_client_kill (client, "Registration timed out", NULL);
          continue;
        }
      if (client->ping_sent != 0)
        {
          if (now - client->ping_sent > (gint64) config->ping_timeout_s * G_USEC_PER_SEC)
            {
              g_autofree char *why = g_strdup_printf ("Ping timeout: %u seconds",
                                                      config->ping_timeout_s);

              _td_irc_client_kill (client, why, NULL);
              continue;
            }
        }
      else if (now - client->last_read > (gint64) config->ping_interval_s * G_USEC_PER_SEC)
        {
          client->ping_sent = now;
          _td_irc_send (client, "PING :%s", config->server_name);
        }
      if (client->guest_deadline != 0 && now >= client->guest_deadline)
        {
          g_autofree char *guest = NULL;

          client->guest_deadline = 0;
          do
            guest = (g_free (guest), g_strdup_printf ("Guest%05u", ++server->guest_counter % 100000));
          while (g_hash_table_contains (server->nicks, guest));
          _td_irc_send (client, ":%s NOTICE %s :You did not log in to this nickname in time; "
                        "you are now %s", config->server_name, client->nick, guest);
          _td_irc_set_nick (client, guest);
        }
    }
  td_irc_accounts_expire_failures (server->accounts, g_get_real_time ());
  reap_dead (server);

  /* The next time something is due; a reply to a ping moves a client's
   * next ping later, and the timer then finds nothing to do but wait. */
  {
    gint64 next = -1;

    for (GList *l = server->clients.head; l != NULL; l = l->next)
      {
        gint64 due = client_deadline (l->data, config);

        if (due >= 0 && (next < 0 || due < next))
          next = due;
      }
    td_deadline_source_set (server->tick_source, next);
  }
  return G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------------------ */
/* Password work on the task loop                                      */
/* ------------------------------------------------------------------ */

typedef struct
{
  guint64   client_id;
  gboolean  register_account;
  char     *account;
  char     *password;
  char     *hash;          /* to verify against */
} AuthTask;

static void
auth_task_free (gpointer data)
{
  AuthTask *task = data;

  if (task->password != NULL)
    memset (task->password, 0, strlen (task->password));
  g_free (task->password);
  g_free (task->account);
  g_free (task->hash);
  g_free (task);
}

/* Hashing or verifying: argon2id, slow on purpose, so on a worker. */
static gpointer
auth_worker (TdTask        *task,
             gpointer       task_data,
             GCancellable  *cancellable,
             GError       **error)
{
  AuthTask *auth = task_data;

  if (auth->register_account)
    return td_irc_accounts_hash_password (auth->password, error);
  if (auth->hash != NULL && td_irc_accounts_verify_password (auth->hash, auth->password))
    return g_strdup ("ok");
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED, "Wrong password");
  return NULL;
}

/* Hashes (@register_account) or verifies @password on the task loop; the
 * answer comes back as mail and ends in _td_irc_auth_done(). */
void
_td_irc_push_auth_task (TdIrcClient *client,
                        gboolean     register_account,
                        const char  *account,
                        const char  *password,
                        const char  *hash)
{
  AuthTask *auth = g_new0 (AuthTask, 1);
  TdTask *task;

  auth->client_id = client->id;
  auth->register_account = register_account;
  auth->account = g_strdup (account);
  auth->password = g_strdup (password);
  auth->hash = g_strdup (hash);
  client->auth_pending = TRUE;

  task = td_task_new (auth_worker, auth, auth_task_free, g_free);
  td_task_set_reply (task, client->server->mailbox, MAIL_AUTH);
  td_task_loop_push (td_task_loop_get_default (), task);
}

/* ------------------------------------------------------------------ */
/* Persistence: durable acknowledgements, loading at start             */
/* ------------------------------------------------------------------ */

/* Holds back everything queued for @client from now on until a flush of
 * the recorder has committed what was saved so far: call it when a
 * message or account of @client has been saved, before its echo or
 * reply is queued. Without a recorder nothing is durable and nothing is
 * held. */
void
_td_irc_hold_until_durable (TdIrcClient *client)
{
  TdIrcServer *server = client->server;
  HoldPoint point;

  if (server->recorder == NULL || client->dead)
    return;
  /* The flush that covers this save is the next one asked for: it is
   * asked for before the next poll, after every save of this dispatch. */
  server->flush_wanted = TRUE;
  point.offset = client->outbuf->len;
  point.gen = server->flush_issued + 1;
  if (client->holds == NULL)
    client->holds = g_array_new (FALSE, FALSE, sizeof (HoldPoint));
  if (client->holds->len == 0)
    g_ptr_array_add (server->held, client);
  else if (g_array_index (client->holds, HoldPoint, client->holds->len - 1).gen == point.gen)
    return;
  g_array_append_val (client->holds, point);
}

/* Asks for a flush when saves wait for one and none is on the way: one
 * flush (a commit and a checkpoint) covers every save made while the
 * previous one was in flight, so a busy server pays for one per round
 * trip to the disk, not one per message. */
static void
issue_flush (TdIrcServer *server)
{
  if (!server->flush_wanted || server->flush_in_flight || server->recorder == NULL ||
      server->mailbox == TD_MAILBOX_NONE)
    return;
  server->flush_wanted = FALSE;
  server->flush_in_flight = TRUE;
  server->flush_issued++;
  td_recorder_flush (server->recorder, server->mailbox, MAIL_FLUSHED);
}

/* The flush asked for last is done: release the output it was holding. */
static void
flush_done (TdIrcServer  *server,
            const GError *error)
{
  guint64 done = server->flush_issued;

  server->flush_in_flight = FALSE;
  if (error != NULL && !server->flush_failed)
    {
      /* A broken or closed database: holding output for ever would only
       * drop every client that talks, so it goes out unacknowledged. */
      g_warning ("Chat messages are not being saved: %s", error->message);
      server->flush_failed = TRUE;
    }
  for (guint i = 0; i < server->held->len;)
    {
      TdIrcClient *client = g_ptr_array_index (server->held, i);
      guint n = 0;

      while (n < client->holds->len && g_array_index (client->holds, HoldPoint, n).gen <= done)
        n++;
      if (n > 0)
        {
          g_array_remove_range (client->holds, 0, n);
          mark_pending (client);
        }
      if (client->holds->len == 0)
        g_ptr_array_remove_index_fast (server->held, i);
      else
        i++;
    }
}

static gboolean accept_cb (GSocket *listener, GIOCondition condition, gpointer user_data);

/* Starts accepting on every bound listener, unless the start-up loads
 * are still out: connections wait in the backlog until the accounts and
 * the recent history are in memory. */
static void
attach_accept (TdIrcServer *server)
{
  if (server->loading > 0 || server->context == NULL)
    return;
  if (server->listener != NULL && server->accept_source == NULL)
    {
      server->accept_source = g_socket_create_source (server->listener, G_IO_IN, NULL);
      g_source_set_callback (server->accept_source, G_SOURCE_FUNC (accept_cb), server, NULL);
      g_source_attach (server->accept_source, server->context);
    }
  if (server->tls_listener != NULL && server->tls_accept_source == NULL)
    {
      server->tls_accept_source = g_socket_create_source (server->tls_listener, G_IO_IN, NULL);
      g_source_set_callback (server->tls_accept_source, G_SOURCE_FUNC (accept_cb), server, NULL);
      g_source_attach (server->tls_accept_source, server->context);
    }
}

static void
loaded_history (TdIrcServer   *server,
                TdStoreResult *result)
{
  TdChatStoreSnapshot *snapshot;

  if (result == NULL || result->error != NULL)
    {
      g_warning ("The chat history could not be loaded; older messages are read from the disk "
                 "when asked for: %s", result ? result->error->message : "no answer");
      return;
    }
  snapshot = result->result;
  for (guint i = 0; i < snapshot->entries->len; i++)
    td_chat_history_preload (server->history, g_ptr_array_index (snapshot->entries, i));
  td_chat_history_loaded (server->history, (const char * const *) snapshot->truncated->pdata);
  /* Times of new messages continue after the stored ones. */
  server->last_time = MAX (server->last_time, snapshot->last_time);
  g_debug ("%u messages of %u targets loaded", snapshot->entries->len, snapshot->n_targets);
}

static void
loaded_accounts (TdIrcServer   *server,
                 TdStoreResult *result)
{
  GPtrArray *accounts;

  if (result == NULL || result->error != NULL)
    {
      g_warning ("The chat accounts could not be loaded: %s",
                 result ? result->error->message : "no answer");
      return;
    }
  accounts = result->result;
  for (guint i = 0; i < accounts->len; i++)
    {
      TdIrcStoredAccount *account = g_ptr_array_index (accounts, i);

      if (!td_irc_accounts_add (server->accounts, account->name, account->hash, FALSE))
        g_message ("Account “%s” is stored twice; the first one counts", account->name);
    }
}

static void
mail_cb (TdMailboxId  id,
         TdMail      *mail,
         gpointer     user_data)
{
  TdIrcServer *server = user_data;
  TdTaskResult *result = mail->data;
  AuthTask *auth;
  TdIrcClient *client;

  switch (mail->kind)
    {
    case MAIL_FLUSHED:
      flush_done (server, mail->data);
      return;
    case MAIL_LOADED_HISTORY:
    case MAIL_LOADED_ACCOUNTS:
      if (mail->kind == MAIL_LOADED_HISTORY)
        loaded_history (server, mail->data);
      else
        loaded_accounts (server, mail->data);
      g_assert (server->loading > 0);
      if (--server->loading == 0)
        attach_accept (server);
      return;
    default:
      break;
    }
  if (mail->kind != MAIL_AUTH || result == NULL)
    return;
  auth = result->task_data;
  client = g_hash_table_lookup (server->clients_by_id, &auth->client_id);
  if (client == NULL || client->dead)
    {
      if (auth->register_account)
        td_irc_accounts_unreserve (server->accounts, auth->account);
      return;
    }
  client->auth_pending = FALSE;
  _td_irc_auth_done (client, auth->register_account, auth->account,
                     result->result, result->result != NULL);
  reap_dead (server);
}

/* ------------------------------------------------------------------ */
/* Public API                                                          */
/* ------------------------------------------------------------------ */

TdIrcServer *
td_irc_server_new (const TdIrcServerConfig *config)
{
  TdIrcServer *server = g_new0 (TdIrcServer, 1);
  g_autoptr(TdIrcServerConfig) defaults = NULL;

  if (config == NULL)
    config = defaults = td_irc_server_config_new ();
  server->config = td_irc_server_config_copy (config);
  server->clients_by_id = g_hash_table_new (g_int64_hash, g_int64_equal);
  server->nicks = g_hash_table_new_full (td_irc_casefold_hash, td_irc_casefold_equal, g_free, NULL);
  server->channels = g_hash_table_new (g_str_hash, g_str_equal);
  server->per_ip = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  server->pending_writes = g_ptr_array_new ();
  server->dead = g_ptr_array_new ();
  server->held = g_ptr_array_new ();
  server->commands = g_hash_table_new (g_str_hash, g_str_equal);
  server->history = td_chat_history_new (config->history_ring);
  server->accounts = td_irc_accounts_new ();
  server->msgid_prefix = g_strdup_printf ("%08x", g_random_int ());
  server->created = g_get_real_time () / G_USEC_PER_SEC;
  server->guest_counter = g_random_int_range (0, 50000);
  _td_irc_commands_register (server);
  return server;
}

/* Binds a non-blocking listening socket on @address:@port (0 = any free
 * port); the port it got goes to @bound. */
static GSocket *
bind_listener (const char  *address,
               int          port,
               const char  *what,
               guint16     *bound,
               GError     **error)
{
  g_autoptr(GInetAddress) inet = NULL;
  g_autoptr(GSocketAddress) sockaddr = NULL;
  g_autoptr(GSocketAddress) local = NULL;
  g_autoptr(GSocket) socket = NULL;

  inet = g_inet_address_new_from_string (address ? address : "127.0.0.1");
  if (inet == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "“%s” is not an IP address", address);
      return NULL;
    }
  sockaddr = g_inet_socket_address_new (inet, port);
  socket = g_socket_new (g_inet_address_get_family (inet), G_SOCKET_TYPE_STREAM,
                         G_SOCKET_PROTOCOL_TCP, error);
  if (socket == NULL)
    return NULL;
  g_socket_set_blocking (socket, FALSE);
  /* Room for a burst of connections (a client reconnecting many
   * networks, the fan-out benchmark's 210 at once). */
  g_socket_set_listen_backlog (socket, 512);
  if (!g_socket_bind (socket, sockaddr, TRUE, error) || !g_socket_listen (socket, error))
    {
      g_prefix_error (error, "%s on %s:%d: ", what, address ? address : "127.0.0.1", port);
      return NULL;
    }
  local = g_socket_get_local_address (socket, error);
  if (local == NULL)
    return NULL;
  *bound = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
  return g_steal_pointer (&socket);
}

/* The first listen: the context, timers, mailbox and, with a recorder,
 * the loads of the accounts and recent history that must be in memory
 * before the first client is accepted. */
static void
server_start (TdIrcServer  *server,
              GMainContext *context)
{
  if (server->context != NULL)
    return;
  server->context = context ? g_main_context_ref (context) : g_main_context_ref_thread_default ();
  server->tick_source = td_deadline_source_new (tick_cb, server);
  g_source_attach (server->tick_source, server->context);
  server->flush_source = g_source_new (&flush_funcs, sizeof (FlushSource));
  ((FlushSource *) server->flush_source)->server = server;
  g_source_attach (server->flush_source, server->context);
  server->mailbox = td_mailbox_open (server->context, G_PRIORITY_DEFAULT, mail_cb, server, NULL);

  if (server->recorder != NULL)
    {
      td_chat_history_set_store (server->history, td_chat_store_new (server->recorder, server->context));
      server->loading = 2;
      td_chat_store_load_snapshot (server->recorder, server->config->history_ring,
                                   server->mailbox, MAIL_LOADED_HISTORY);
      td_irc_account_store_load (server->recorder, server->mailbox, MAIL_LOADED_ACCOUNTS);
    }
}

/* Binds @address:@port (0 = any free port) and serves on @context (NULL:
 * the thread-default context). Returns FALSE with @error set when the
 * address cannot be bound. With a recorder, connections are accepted
 * once the accounts and history are loaded (td_irc_server_is_ready()). */
gboolean
td_irc_server_listen (TdIrcServer   *server,
                      GMainContext  *context,
                      const char    *address,
                      int            port,
                      GError       **error)
{
  g_return_val_if_fail (server != NULL, FALSE);
  g_return_val_if_fail (server->listener == NULL, FALSE);
  g_return_val_if_fail (port >= 0 && port <= 65535, FALSE);

  server->listener = bind_listener (address, port, "IRC listener", &server->port, error);
  if (server->listener == NULL)
    return FALSE;
  server_start (server, context);
  attach_accept (server);
  return TRUE;
}

/* Like td_irc_server_listen(), for IRC over TLS with @certificate (which
 * must hold its private key): every connection does the TLS handshake
 * first, then is served like any other. The same context must be used
 * for both listeners. */
gboolean
td_irc_server_listen_tls (TdIrcServer      *server,
                          GMainContext     *context,
                          const char       *address,
                          int               port,
                          GTlsCertificate  *certificate,
                          GError          **error)
{
  g_return_val_if_fail (server != NULL, FALSE);
  g_return_val_if_fail (server->tls_listener == NULL, FALSE);
  g_return_val_if_fail (G_IS_TLS_CERTIFICATE (certificate), FALSE);
  g_return_val_if_fail (port >= 0 && port <= 65535, FALSE);

  if (!g_tls_backend_supports_tls (g_tls_backend_get_default ()))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           "TLS is not available (is glib-networking installed?)");
      return FALSE;
    }
  server->tls_listener = bind_listener (address, port, "IRC TLS listener", &server->tls_port, error);
  if (server->tls_listener == NULL)
    return FALSE;
  g_set_object (&server->certificate, certificate);
  server_start (server, context);
  attach_accept (server);
  return TRUE;
}

/* Keeps history and accounts in the server database through @recorder
 * (borrowed: it must outlive the server). Call before listening. */
void
td_irc_server_set_recorder (TdIrcServer *server,
                            TdRecorder  *recorder)
{
  g_return_if_fail (server != NULL);
  g_return_if_fail (server->context == NULL);

  server->recorder = recorder;
  td_irc_accounts_set_store (server->accounts, recorder ? td_irc_account_store_new (recorder) : NULL);
}

/* TRUE once the server listens and accepts: the loads at start are in. */
gboolean
td_irc_server_is_ready (TdIrcServer *server)
{
  g_return_val_if_fail (server != NULL, FALSE);
  return server->context != NULL && server->loading == 0;
}

guint16
td_irc_server_get_tls_port (TdIrcServer *server)
{
  g_return_val_if_fail (server != NULL, 0);
  return server->tls_port;
}

guint16
td_irc_server_get_port (TdIrcServer *server)
{
  g_return_val_if_fail (server != NULL, 0);
  return server->port;
}

TdChatHistory *
td_irc_server_get_history (TdIrcServer *server)
{
  g_return_val_if_fail (server != NULL, NULL);
  return server->history;
}

TdIrcAccounts *
td_irc_server_get_accounts (TdIrcServer *server)
{
  g_return_val_if_fail (server != NULL, NULL);
  return server->accounts;
}

guint
td_irc_server_get_n_clients (TdIrcServer *server)
{
  g_return_val_if_fail (server != NULL, 0);
  return g_queue_get_length (&server->clients);
}

/* Advertises @url (nullable: nothing) as FILEHOST in ISUPPORT to clients
 * that register from now on: where they upload files. Call on the
 * server's context thread, or before td_irc_server_listen(). */
void
td_irc_server_set_filehost (TdIrcServer *server,
                            const char  *url)
{
  g_return_if_fail (server != NULL);

  g_free (server->config->filehost);
  server->config->filehost = g_strdup (url);
}

/* Closes the listener and every connection (clients get ERROR). Must run
 * on the server's context thread, or after that thread has stopped. */
void
td_irc_server_stop (TdIrcServer *server)
{
  g_return_if_fail (server != NULL);

  if (server->mailbox != TD_MAILBOX_NONE)
    {
      td_mailbox_close (server->mailbox);
      server->mailbox = TD_MAILBOX_NONE;
    }
  destroy_source (&server->accept_source);
  destroy_source (&server->tls_accept_source);
  destroy_source (&server->tick_source);
  destroy_source (&server->flush_source);
  if (server->listener != NULL)
    {
      g_socket_close (server->listener, NULL);
      g_clear_object (&server->listener);
    }
  if (server->tls_listener != NULL)
    {
      g_socket_close (server->tls_listener, NULL);
      g_clear_object (&server->tls_listener);
    }
  for (GList *l = server->clients.head; l != NULL; l = l->next)
    _td_irc_client_kill (l->data, "Server shutting down", NULL);
  after_dispatch (server);
  g_clear_pointer (&server->context, g_main_context_unref);
}

void
td_irc_server_free (TdIrcServer *server)
{
  GHashTableIter iter;
  gpointer value;

  if (server == NULL)
    return;
  td_irc_server_stop (server);
  /* First: loads still on the way answer into an empty server. */
  g_clear_pointer (&server->history, td_chat_history_free);
  g_hash_table_iter_init (&iter, server->channels);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    _td_irc_channel_free (value);
  g_hash_table_unref (server->channels);
  g_hash_table_unref (server->clients_by_id);
  g_hash_table_unref (server->nicks);
  g_hash_table_unref (server->per_ip);
  g_hash_table_unref (server->commands);
  g_ptr_array_unref (server->pending_writes);
  g_ptr_array_unref (server->dead);
  g_ptr_array_unref (server->held);
  g_clear_object (&server->certificate);
  td_irc_accounts_free (server->accounts);
  g_free (server->msgid_prefix);
  td_irc_server_config_free (server->config);
  g_free (server);
}
