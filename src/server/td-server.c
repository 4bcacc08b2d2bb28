/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-server"

#include "config.h"

#include "server/td-server.h"
#include "pubsub/td-pubsub-server.h"
#include "chat/td-irc-server.h"
#include "chat/td-file-host.h"
#include "store/td-recorder.h"

/*
 * The server owns its listeners and runs them on one context. Protocol
 * layers (pub/sub broker, IRC server, file host) register themselves in
 * td_server_start(); each records the port it bound under its listener
 * name so that `tidingsd` can print it and tests can find port 0 choices.
 */

struct _TdServer
{
  TdServerConfig *config;
  GMainContext   *context;      /* owned ref while started */
  GThread        *thread;       /* only with td_server_start_thread() */
  GMainLoop      *thread_loop;
  GHashTable     *ports;        /* listener name -> GUINT_TO_POINTER (port) */
  GPtrArray      *listener_order;
  TdPubsubServer *pubsub;       /* owned while started: RESP and line listeners */
  TdIrcServer    *chat;         /* owned while started: the IRC listeners (plain and TLS) */
  TdFileHost     *files;        /* owned while started: the "files" HTTP listener */
  TdRecorder     *recorder;     /* owned while started: the server database, shared by
                                 * chat and files; NULL without db_path */
  TdMailboxId     store_errors; /* the recorder's errors, logged */
  gboolean        started;
};

TdServerConfig *
td_server_config_new (void)
{
  TdServerConfig *config = g_new0 (TdServerConfig, 1);

  config->listen_address = g_strdup (TD_SERVER_DEFAULT_LISTEN);
  config->pubsub_port = TD_SERVER_DEFAULT_PUBSUB_PORT;
  config->line_port = TD_SERVER_DEFAULT_LINE_PORT;
  config->chat_port = TD_SERVER_DEFAULT_CHAT_PORT;
  config->chat_tls_port = -1;
  config->files_port = TD_SERVER_DEFAULT_FILES_PORT;
  config->files_expiry_days = -1;
  return config;
}

void
td_server_config_free (TdServerConfig *config)
{
  if (config == NULL)
    return;
  g_free (config->listen_address);
  g_free (config->db_path);
  g_free (config->tls_cert);
  g_free (config->tls_key);
  g_free (config->password);
  g_free (config);
}

static TdServerConfig *
td_server_config_copy (const TdServerConfig *config)
{
  TdServerConfig *copy = g_memdup2 (config, sizeof *config);

  copy->listen_address = g_strdup (config->listen_address);
  copy->db_path = g_strdup (config->db_path);
  copy->tls_cert = g_strdup (config->tls_cert);
  copy->tls_key = g_strdup (config->tls_key);
  copy->password = g_strdup (config->password);
  return copy;
}

TdServer *
td_server_new (const TdServerConfig *config)
{
  TdServer *server;

  g_return_val_if_fail (config != NULL, NULL);

  server = g_new0 (TdServer, 1);
  server->config = td_server_config_copy (config);
  server->ports = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  server->listener_order = g_ptr_array_new_with_free_func (g_free);
  return server;
}

/* Reads a PEM certificate (with its chain) and private key. Returns NULL
 * with @error saying which file is wrong. */
GTlsCertificate *
td_server_load_certificate (const char  *cert_path,
                            const char  *key_path,
                            GError     **error)
{
  g_autoptr(GError) local = NULL;
  GTlsCertificate *certificate;

  g_return_val_if_fail (cert_path != NULL && key_path != NULL, NULL);

  if (!g_file_test (cert_path, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "TLS certificate %s: no such file", cert_path);
      return NULL;
    }
  if (!g_file_test (key_path, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "TLS key %s: no such file", key_path);
      return NULL;
    }
  certificate = g_tls_certificate_new_from_files (cert_path, key_path, &local);
  if (certificate == NULL)
    {
      g_set_error (error, local->domain, local->code,
                   "TLS certificate %s with key %s: %s", cert_path, key_path, local->message);
      return NULL;
    }
  return certificate;
}

/* Records that @listener is bound to @port; called by the protocol layers
 * from td_server_start(). */
static void
td_server_record_port (TdServer   *server,
                       const char *listener,
                       guint16     port)
{
  if (!g_hash_table_contains (server->ports, listener))
    g_ptr_array_add (server->listener_order, g_strdup (listener));
  g_hash_table_replace (server->ports, g_strdup (listener), GUINT_TO_POINTER (port));
}

/* Pub/sub: one broker behind the RESP ("pubsub") and line ("line")
 * listeners. Returns FALSE with @error set if either cannot be bound. */
static gboolean
td_server_start_pubsub (TdServer  *server,
                        GError   **error)
{
  TdServerConfig *config = server->config;
  TdPubsubConfig pubsub_config;
  guint16 port = 0;

  if (config->pubsub_port < 0 && config->line_port < 0)
    return TRUE;

  td_pubsub_config_init (&pubsub_config);
  pubsub_config.password = config->password;
  server->pubsub = td_pubsub_server_new (&pubsub_config, server->context);

  if (config->pubsub_port >= 0)
    {
      if (!td_pubsub_server_listen (server->pubsub, TD_PUBSUB_PROTOCOL_RESP, config->listen_address,
                                    config->pubsub_port, &port, error))
        return FALSE;
      td_server_record_port (server, "pubsub", port);
    }
  if (config->line_port >= 0)
    {
      if (!td_pubsub_server_listen (server->pubsub, TD_PUBSUB_PROTOCOL_LINE, config->listen_address,
                                    config->line_port, &port, error))
        return FALSE;
      td_server_record_port (server, "line", port);
    }
  return TRUE;
}

/* Closes the pub/sub listeners and their connections; runs once the
 * server's context no longer dispatches. */
static void
td_server_stop_pubsub (TdServer *server)
{
  g_clear_pointer (&server->pubsub, td_pubsub_server_free);
}

/* The database: one recorder for everything the server keeps (chat
 * history and accounts, file metadata), opened on its own thread while
 * the listeners bind. None without db_path or without a layer using it. */
static void
td_server_store_error_cb (TdMailboxId  id,
                          TdMail      *mail,
                          gpointer     user_data)
{
  TdRecorderError *err = mail->data;
  const char *message = err->error ? err->error->message : "";

  switch (err->kind)
    {
    case TD_RECORDER_ERROR_RETRYING:
      g_message ("%s: %s; retrying in %u ms, %u changes waiting", err->path, message,
                 err->retry_in_ms, err->n_kept);
      break;
    case TD_RECORDER_ERROR_RECOVERED:
      g_message ("%s: saving again", err->path);
      break;
    case TD_RECORDER_ERROR_REJECTED:
      g_warning ("%s: a change was dropped: %s (%s)", err->path, message, err->sql ? err->sql : "");
      break;
    case TD_RECORDER_ERROR_BROKEN:
    case TD_RECORDER_ERROR_LOST:
    default:
      g_warning ("%s: %s", err->path, message);
      break;
    }
}

static void
td_server_start_store (TdServer *server)
{
  TdServerConfig *config = server->config;

  if (config->db_path == NULL ||
      (config->chat_port < 0 && config->chat_tls_port < 0 && config->files_port < 0))
    return;
  server->recorder = td_recorder_new (config->db_path, td_schema_server ());
  server->store_errors = td_mailbox_open (server->context, G_PRIORITY_DEFAULT,
                                          td_server_store_error_cb, NULL, NULL);
  td_recorder_set_error_mailbox (server->recorder, server->store_errors, 0);
}

/* Closes the database once everything queued is written; after every
 * layer using it has stopped. */
static void
td_server_stop_store (TdServer *server)
{
  g_autoptr(GError) error = NULL;

  if (server->recorder != NULL && !td_recorder_close (server->recorder, &error))
    g_warning ("%s", error->message);
  g_clear_pointer (&server->recorder, td_recorder_free);
  if (server->store_errors != TD_MAILBOX_NONE)
    {
      td_mailbox_close (server->store_errors);
      server->store_errors = TD_MAILBOX_NONE;
    }
}

/* Chat: the IRC server on its "chat" listener and, with a certificate, on
 * "chat-tls"; history and accounts in the database when there is one. */
static gboolean
td_server_start_chat (TdServer  *server,
                      GError   **error)
{
  TdServerConfig *config = server->config;
  g_autoptr(TdIrcServerConfig) chat_config = NULL;

  if (config->chat_port < 0 && config->chat_tls_port < 0)
    return TRUE;
  chat_config = td_irc_server_config_new ();
  if (config->max_chat_clients > 0)
    chat_config->max_clients = config->max_chat_clients;
  g_free (chat_config->password);
  chat_config->password = g_strdup (config->password);
  server->chat = td_irc_server_new (chat_config);
  if (server->recorder != NULL)
    td_irc_server_set_recorder (server->chat, server->recorder);
  if (config->chat_port >= 0)
    {
      if (!td_irc_server_listen (server->chat, server->context, config->listen_address,
                                 config->chat_port, error))
        return FALSE;
      td_server_record_port (server, "chat", td_irc_server_get_port (server->chat));
    }
  if (config->chat_tls_port >= 0)
    {
      g_autoptr(GTlsCertificate) certificate = NULL;

      if (config->tls_cert == NULL || config->tls_key == NULL)
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               "The IRC TLS listener needs a certificate and a key");
          return FALSE;
        }
      certificate = td_server_load_certificate (config->tls_cert, config->tls_key, error);
      if (certificate == NULL ||
          !td_irc_server_listen_tls (server->chat, server->context, config->listen_address,
                                     config->chat_tls_port, certificate, error))
        return FALSE;
      td_server_record_port (server, "chat-tls", td_irc_server_get_tls_port (server->chat));
    }
  return TRUE;
}

/* Closes the IRC listener and its connections; runs once the server's
 * context no longer dispatches. */
static void
td_server_stop_chat (TdServer *server)
{
  g_clear_pointer (&server->chat, td_irc_server_free);
}

/* Files: the HTTP file host on its "files" listener, storing next to the
 * database, checking uploads against the chat accounts, and advertised
 * to chat clients as FILEHOST. Needs a database; without one (db_path
 * unset) it stays off. */
static gboolean
td_server_start_files (TdServer  *server,
                       GError   **error)
{
  TdServerConfig *config = server->config;
  g_autoptr(TdFileHostConfig) files_config = NULL;

  if (config->files_port < 0)
    return TRUE;
  if (config->db_path == NULL)
    {
      g_message ("No database: the file host is off");
      return TRUE;
    }
  files_config = td_file_host_config_new ();
  files_config->data_dir = td_file_store_dir_for_db (config->db_path);
  files_config->anonymous = config->files_anonymous;
  if (config->files_max_size > 0)
    files_config->max_size = config->files_max_size;
  if (config->files_quota != 0)
    files_config->quota = config->files_quota;
  if (config->files_expiry_days >= 0)
    files_config->expiry_days = config->files_expiry_days;
  server->files = td_file_host_new (files_config, server->recorder,
                                    server->chat ? td_irc_server_get_accounts (server->chat) : NULL);
  if (!td_file_host_listen (server->files, server->context, config->listen_address,
                            config->files_port, error))
    return FALSE;
  td_server_record_port (server, "files", td_file_host_get_port (server->files));
  if (server->chat != NULL)
    td_irc_server_set_filehost (server->chat, td_file_host_get_url (server->files));
  return TRUE;
}

/* Closes the file host (before the chat server, whose accounts it
 * borrows). */
static void
td_server_stop_files (TdServer *server)
{
  g_clear_pointer (&server->files, td_file_host_free);
}

/* Binds every enabled listener on @context. Returns FALSE with @error set
 * when one cannot be bound; nothing is left listening in that case. */
gboolean
td_server_start (TdServer      *server,
                 GMainContext  *context,
                 GError       **error)
{
  g_return_val_if_fail (server != NULL, FALSE);
  g_return_val_if_fail (!server->started, FALSE);

  server->context = context ? g_main_context_ref (context) : g_main_context_ref_thread_default ();

  /* Protocol listeners are started here as their layers land. */
  td_server_start_store (server);
  if (!td_server_start_pubsub (server, error) ||
      !td_server_start_chat (server, error) ||
      !td_server_start_files (server, error))
    {
      td_server_stop_files (server);
      td_server_stop_chat (server);
      td_server_stop_pubsub (server);
      td_server_stop_store (server);
      g_hash_table_remove_all (server->ports);
      g_ptr_array_set_size (server->listener_order, 0);
      g_clear_pointer (&server->context, g_main_context_unref);
      return FALSE;
    }

  server->started = TRUE;
  return TRUE;
}

typedef struct
{
  TdServer *server;
  GMutex    lock;
  GCond     cond;
  gboolean  done;
  GError   *error;
} StartData;

static gpointer
td_server_thread_main (gpointer user_data)
{
  StartData *data = user_data;
  TdServer *server = data->server;
  g_autoptr(GMainContext) context = g_main_context_new ();
  GError *error = NULL;
  gboolean ok;

  g_main_context_push_thread_default (context);
  server->thread_loop = g_main_loop_new (context, FALSE);
  ok = td_server_start (server, context, &error);

  g_mutex_lock (&data->lock);
  data->error = error;
  data->done = TRUE;
  g_cond_signal (&data->cond);
  g_mutex_unlock (&data->lock);

  if (ok)
    g_main_loop_run (server->thread_loop);

  g_main_context_pop_thread_default (context);
  return NULL;
}

/* Starts the server on a thread of its own with its own context; returns
 * once every listener is bound (or failed to bind). */
gboolean
td_server_start_thread (TdServer  *server,
                        GError   **error)
{
  StartData data = { .server = server };

  g_return_val_if_fail (server != NULL, FALSE);
  g_return_val_if_fail (server->thread == NULL, FALSE);

  g_mutex_init (&data.lock);
  g_cond_init (&data.cond);
  server->thread = g_thread_new ("tidingsd", td_server_thread_main, &data);

  g_mutex_lock (&data.lock);
  while (!data.done)
    g_cond_wait (&data.cond, &data.lock);
  g_mutex_unlock (&data.lock);
  g_mutex_clear (&data.lock);
  g_cond_clear (&data.cond);

  if (data.error != NULL)
    {
      g_propagate_error (error, data.error);
      g_thread_join (g_steal_pointer (&server->thread));
      g_clear_pointer (&server->thread_loop, g_main_loop_unref);
      return FALSE;
    }
  return TRUE;
}

guint16
td_server_get_port (TdServer   *server,
                    const char *listener)
{
  g_return_val_if_fail (server != NULL, 0);
  g_return_val_if_fail (listener != NULL, 0);

  return GPOINTER_TO_UINT (g_hash_table_lookup (server->ports, listener));
}

/* Returns the names of the bound listeners in the order they were bound. */
GStrv
td_server_list_listeners (TdServer *server)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  g_return_val_if_fail (server != NULL, NULL);

  for (guint i = 0; i < server->listener_order->len; i++)
    g_strv_builder_add (builder, g_ptr_array_index (server->listener_order, i));
  return g_strv_builder_end (builder);
}

static gboolean
quit_loop_cb (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_REMOVE;
}

/* Closes every listener and connection. With a server thread, the thread
 * is stopped and joined. */
void
td_server_stop (TdServer *server)
{
  g_return_if_fail (server != NULL);

  if (!server->started)
    return;

  if (server->thread != NULL)
    {
      GSource *source = g_idle_source_new ();

      g_source_set_callback (source, quit_loop_cb, server->thread_loop, NULL);
      g_source_attach (source, server->context);
      g_source_unref (source);
      g_thread_join (g_steal_pointer (&server->thread));
      g_clear_pointer (&server->thread_loop, g_main_loop_unref);
    }

  td_server_stop_files (server);
  td_server_stop_chat (server);
  td_server_stop_pubsub (server);
  td_server_stop_store (server);
  g_hash_table_remove_all (server->ports);
  g_ptr_array_set_size (server->listener_order, 0);
  g_clear_pointer (&server->context, g_main_context_unref);
  server->started = FALSE;
}

void
td_server_free (TdServer *server)
{
  if (server == NULL)
    return;
  td_server_stop (server);
  g_hash_table_unref (server->ports);
  g_ptr_array_unref (server->listener_order);
  td_server_config_free (server->config);
  g_free (server);
}
