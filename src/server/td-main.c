/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tidingsd"

#include "config.h"

#include <glib-unix.h>
#include <locale.h>
#include <stdio.h>

#include "chat/td-file-host.h"
#include "server/td-server.h"

/* Highest TCP port; option values outside 0..65535 (or -1 = off) are
 * rejected before anything is bound. */
#define TD_PORT_MAX 65535

static gboolean
check_port (const char  *name,
            int          port,
            GError     **error)
{
  if (port < -1 || port > TD_PORT_MAX)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--%s must be between 0 and %d, or -1 to turn it off (got %d)",
                   name, TD_PORT_MAX, port);
      return FALSE;
    }
  return TRUE;
}

/* Parses a byte count with an optional K, M or G suffix (powers of
 * 1024); with @allow_none, "none" and -1 mean no limit (-1). */
static gboolean
parse_size (const char  *name,
            const char  *text,
            gboolean     allow_none,
            gint64      *out,
            GError     **error)
{
  guint64 value = 0;
  char *end = NULL;
  guint64 unit = 1;

  if (allow_none && (g_str_equal (text, "none") || g_str_equal (text, "-1")))
    {
      *out = -1;
      return TRUE;
    }
  value = g_ascii_strtoull (text, &end, 10);
  if (end == text)
    goto bad;
  switch (g_ascii_toupper (*end))
    {
    case 'K': unit = 1024; end++; break;
    case 'M': unit = 1024 * 1024; end++; break;
    case 'G': unit = 1024 * 1024 * 1024; end++; break;
    case '\0': break;
    default: goto bad;
    }
  if (g_ascii_toupper (*end) == 'B' || g_ascii_strcasecmp (end, "iB") == 0)
    end += g_ascii_toupper (*end) == 'B' ? 1 : 2;
  if (*end != '\0' || value == 0 || value > G_MAXINT64 / unit)
    goto bad;
  *out = (gint64) (value * unit);
  return TRUE;

bad:
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               "--%s: “%s” is not a size (bytes, or a number with K, M or G%s)",
               name, text, allow_none ? ", or “none”" : "");
  return FALSE;
}

/* `tidingsd [--db PATH] account delete-files NAME`: removes an account's
 * uploads while the server is not running. Returns the exit status. */
static int
run_account_command (const char *db_path,
                     int         argc,
                     char      **argv)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *data_dir = NULL;
  int n;

  if (argc != 4 || !g_str_equal (argv[2], "delete-files"))
    {
      g_printerr ("tidingsd: usage: tidingsd [--db PATH] account delete-files NAME\n");
      return 2;
    }
  data_dir = td_file_store_dir_for_db (db_path);
  n = td_file_store_delete_account (db_path, data_dir, argv[3], &error);
  if (n < 0)
    {
      g_printerr ("tidingsd: %s\n", error->message);
      return 1;
    }
  g_print ("deleted %d file%s of %s\n", n, n == 1 ? "" : "s", argv[3]);
  return 0;
}

static gboolean
on_signal_cb (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_CONTINUE;
}

static char *
default_db_path (void)
{
  return g_build_filename (g_get_user_data_dir (), "tidingsd", "tidingsd.db", NULL);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(TdServerConfig) config = td_server_config_new ();
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(TdServer) server = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_auto(GStrv) listeners = NULL;
  g_autofree char *listen = NULL;
  g_autofree char *db_path = NULL;
  g_autofree char *tls_cert = NULL;
  g_autofree char *tls_key = NULL;
  g_autofree char *requirepass = NULL;
  g_autofree char *files_max_size = NULL;
  g_autofree char *files_quota = NULL;
  int files_expiry_days = config->files_expiry_days;
  gboolean files_anonymous = FALSE;
  gboolean version = FALSE;
  int pubsub_port = config->pubsub_port;
  int line_port = config->line_port;
  int chat_port = config->chat_port;
  int chat_tls_port = config->chat_tls_port;
  int files_port = config->files_port;
  GOptionEntry entries[] = {
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
    { "db", 0, 0, G_OPTION_ARG_FILENAME, &db_path, "Database file (history and accounts)", "PATH" },
    { "listen", 0, 0, G_OPTION_ARG_STRING, &listen, "Address to listen on (default 127.0.0.1)", "ADDR" },
    { "pubsub-port", 0, 0, G_OPTION_ARG_INT, &pubsub_port, "Redis protocol port (default 6380; 0 = any free port, -1 = off)", "PORT" },
    { "line-port", 0, 0, G_OPTION_ARG_INT, &line_port, "Line protocol port (default 8889; 0 = any, -1 = off)", "PORT" },
    { "chat-port", 0, 0, G_OPTION_ARG_INT, &chat_port, "IRC port (default 6667; 0 = any, -1 = off)", "PORT" },
    { "chat-tls-port", 0, 0, G_OPTION_ARG_INT, &chat_tls_port, "IRC over TLS port (off unless given, needs --tls-cert and --tls-key)", "PORT" },
    { "files-port", 0, 0, G_OPTION_ARG_INT, &files_port, "File host port (default 6681; 0 = any, -1 = off)", "PORT" },
    { "tls-cert", 0, 0, G_OPTION_ARG_FILENAME, &tls_cert, "TLS certificate (PEM)", "FILE" },
    { "tls-key", 0, 0, G_OPTION_ARG_FILENAME, &tls_key, "TLS private key (PEM)", "FILE" },
    { "requirepass", 0, 0, G_OPTION_ARG_STRING, &requirepass, "Password that Redis-protocol clients must AUTH with", "PASSWORD" },
    { "files-max-size", 0, 0, G_OPTION_ARG_STRING, &files_max_size, "Largest file to accept (default 25M)", "SIZE" },
    { "files-quota", 0, 0, G_OPTION_ARG_STRING, &files_quota, "Storage per account (default 1G; “none” for no limit)", "SIZE" },
    { "files-expiry-days", 0, 0, G_OPTION_ARG_INT, &files_expiry_days, "Days files are kept (default 30; 0 = forever)", "DAYS" },
    { "files-anonymous", 0, 0, G_OPTION_ARG_NONE, &files_anonymous, "Accept uploads without an account", NULL },
    { NULL }
  };

  setlocale (LC_ALL, "");

  context = g_option_context_new ("- the Tidings chat and pub/sub server");
  g_option_context_set_summary (context,
    "Serves IRC chat and Redis-protocol pub/sub on loopback by default,\n"
    "with history and accounts in sqlite.");
  g_option_context_set_description (context,
    "Commands (run while tidingsd is stopped):\n"
    "  account delete-files NAME   Remove every file uploaded by account NAME\n");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("tidingsd: %s\n", error->message);
      return 2;
    }

  if (version)
    {
      g_print ("tidingsd %s\n", PACKAGE_VERSION);
      return 0;
    }

  if (!check_port ("pubsub-port", pubsub_port, &error) ||
      !check_port ("line-port", line_port, &error) ||
      !check_port ("chat-port", chat_port, &error) ||
      !check_port ("chat-tls-port", chat_tls_port, &error) ||
      !check_port ("files-port", files_port, &error))
    {
      g_printerr ("tidingsd: %s\n", error->message);
      return 2;
    }

  if (chat_tls_port >= 0 && (tls_cert == NULL || tls_key == NULL))
    {
      g_printerr ("tidingsd: --chat-tls-port needs --tls-cert and --tls-key\n");
      return 2;
    }

  if (listen != NULL)
    {
      g_autoptr(GInetAddress) address = g_inet_address_new_from_string (listen);

      if (address == NULL)
        {
          g_printerr ("tidingsd: --listen: “%s” is not an IP address\n", listen);
          return 2;
        }
      g_free (config->listen_address);
      config->listen_address = g_steal_pointer (&listen);
    }

  config->db_path = db_path ? g_steal_pointer (&db_path) : default_db_path ();
  config->pubsub_port = pubsub_port;
  config->line_port = line_port;
  config->chat_port = chat_port;
  config->chat_tls_port = chat_tls_port;
  config->files_port = files_port;
  config->files_anonymous = files_anonymous;
  config->files_expiry_days = files_expiry_days;
  if ((files_max_size != NULL &&
       !parse_size ("files-max-size", files_max_size, FALSE, &config->files_max_size, &error)) ||
      (files_quota != NULL &&
       !parse_size ("files-quota", files_quota, TRUE, &config->files_quota, &error)))
    {
      g_printerr ("tidingsd: %s\n", error->message);
      return 2;
    }
  if (argc > 1 && g_str_equal (argv[1], "account"))
    return run_account_command (config->db_path, argc, argv);
  if (argc > 1)
    {
      g_printerr ("tidingsd: unexpected argument “%s” (see --help)\n", argv[1]);
      return 2;
    }
  config->tls_cert = g_steal_pointer (&tls_cert);
  config->tls_key = g_steal_pointer (&tls_key);
  if (requirepass != NULL)
    {
      g_free (config->password);
      config->password = g_steal_pointer (&requirepass);
    }

  server = td_server_new (config);
  if (!td_server_start (server, NULL, &error))
    {
      g_printerr ("tidingsd: %s\n", error->message);
      return 1;
    }

  listeners = td_server_list_listeners (server);
  for (guint i = 0; listeners[i] != NULL; i++)
    g_print ("listening %s %s:%u\n", listeners[i], config->listen_address,
             td_server_get_port (server, listeners[i]));
  g_print ("ready\n");
  fflush (stdout);

  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGINT, on_signal_cb, loop);
  g_unix_signal_add (SIGTERM, on_signal_cb, loop);
  g_main_loop_run (loop);

  td_server_stop (server);
  g_print ("stopped\n");
  return 0;
}
