/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tidingsd"

#include "config.h"

#include <errno.h>
#include <glib-unix.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <sodium.h>

#include "chat/td-file-host.h"
#include "chat/td-irc-account-store.h"
#include "server/td-server.h"

/* The longest password line read from stdin; anything longer is refused
 * (TD_IRC_ACCOUNT_MAX_PASSWORD decides what is accepted). */
#define TD_PASSWORD_LINE_MAX 4096

/* The most IRC connections one tidingsd may be told to hold: far above
 * what one thread serves well, low enough to catch a typo. */
#define TD_MAX_CHAT_CLIENTS_LIMIT 100000

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

/* Reads one line from stdin into @out (without the line end). Returns
 * FALSE at once when the line is longer than TD_PASSWORD_LINE_MAX. */
static gboolean
read_line (GString *out)
{
  int c;

  g_string_truncate (out, 0);
  while ((c = getchar ()) != EOF && c != '\n')
    {
      if (out->len >= TD_PASSWORD_LINE_MAX)
        return FALSE;
      g_string_append_c (out, (char) c);
    }
  if (out->len > 0 && out->str[out->len - 1] == '\r')
    g_string_truncate (out, out->len - 1);
  return TRUE;
}

static void
wipe_string (GString *s)
{
  sodium_memzero (s->str, s->allocated_len);
  g_string_free (s, TRUE);
}

/* Reads the new password of @name from stdin into @first: on a terminal
 * without echo and twice (@again), else the first line. Returns FALSE
 * with @error set when the two do not match or a line is too long. */
static gboolean
read_password_lines (const char  *name,
                     GString     *first,
                     GString     *again,
                     GError     **error)
{
  struct termios saved, quiet;
  gboolean ok;

  if (!isatty (STDIN_FILENO))
    ok = read_line (first);
  else
    {
      if (tcgetattr (STDIN_FILENO, &saved) != 0)
        {
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                       "Cannot turn off echo on the terminal: %s", g_strerror (errno));
          return FALSE;
        }
      quiet = saved;
      quiet.c_lflag &= ~(tcflag_t) ECHO;
      quiet.c_lflag |= ECHONL;
      tcsetattr (STDIN_FILENO, TCSAFLUSH, &quiet);
      g_printerr ("Password for %s: ", name);
      ok = read_line (first);
      if (ok && first->len > 0)
        {
          g_printerr ("Password again: ");
          ok = read_line (again);
          if (ok && !g_str_equal (first->str, again->str))
            {
              tcsetattr (STDIN_FILENO, TCSAFLUSH, &saved);
              g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                                   "The passwords do not match");
              return FALSE;
            }
        }
      tcsetattr (STDIN_FILENO, TCSAFLUSH, &saved);
    }
  if (!ok)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "The password is too long: at most %d bytes are accepted",
                   TD_IRC_ACCOUNT_MAX_PASSWORD);
      return FALSE;
    }
  return TRUE;
}

/* Returns the password read from stdin (owned; wipe it), or NULL. */
static char *
read_password (const char  *name,
               GError     **error)
{
  GString *first = g_string_new (NULL);
  GString *again = g_string_new (NULL);
  char *password = NULL;

  if (read_password_lines (name, first, again, error))
    password = g_strdup (first->str);
  wipe_string (first);
  wipe_string (again);
  return password;
}

/* The exit status for @error: 2 for what the user typed, 1 otherwise. */
static int
account_failed (const GError *error)
{
  g_printerr ("tidingsd: %s\n", error->message);
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT) ? 2 : 1;
}

static int
account_add (const char *db_path,
             const char *name)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *password = NULL;
  gboolean ok;

  /* The name first: no point asking for a password of a bad name. */
  if (!td_irc_account_check_name (name, &error))
    return account_failed (error);
  password = read_password (name, &error);
  if (password == NULL)
    return account_failed (error);
  ok = td_irc_account_store_add (db_path, name, password, &error);
  sodium_memzero (password, strlen (password));
  if (!ok)
    return account_failed (error);
  g_print ("added account %s\n", name);
  return 0;
}

static int
account_delete (const char *db_path,
                const char *name)
{
  g_autoptr(GError) error = NULL;

  if (!td_irc_account_store_delete (db_path, name, &error))
    return account_failed (error);
  g_print ("deleted account %s\n", name);
  return 0;
}

static int
account_list (const char *db_path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) accounts = td_irc_account_store_list (db_path, &error);

  if (accounts == NULL)
    return account_failed (error);
  for (guint i = 0; i < accounts->len; i++)
    {
      TdIrcStoredAccount *account = g_ptr_array_index (accounts, i);
      g_autoptr(GDateTime) created = g_date_time_new_from_unix_utc (account->created / G_USEC_PER_SEC);
      g_autofree char *when = created ? g_date_time_format_iso8601 (created) : g_strdup ("?");

      g_print ("%s\t%s\n", account->name, when);
    }
  return 0;
}

#define ACCOUNT_USAGE \
  "tidingsd: usage: tidingsd [--db PATH] account add NAME   (password on stdin)\n" \
  "                 tidingsd [--db PATH] account delete NAME\n" \
  "                 tidingsd [--db PATH] account list\n" \
  "                 tidingsd [--db PATH] account delete-files NAME\n"

/* `tidingsd [--db PATH] account add|delete|list|delete-files ...`, run
 * while the server is stopped. Returns the exit status: 0 done, 1 failed
 * (no such account, already exists, database error), 2 bad usage or
 * input. */
static int
run_account_command (const char *db_path,
                     int         argc,
                     char      **argv)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *data_dir = NULL;
  int n;

  if (argc == 4 && g_str_equal (argv[2], "add"))
    return account_add (db_path, argv[3]);
  if (argc == 4 && g_str_equal (argv[2], "delete"))
    return account_delete (db_path, argv[3]);
  if (argc == 3 && g_str_equal (argv[2], "list"))
    return account_list (db_path);
  if (argc != 4 || !g_str_equal (argv[2], "delete-files"))
    {
      g_printerr (ACCOUNT_USAGE);
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
  int max_chat_clients = 0;
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
    { "max-chat-clients", 0, 0, G_OPTION_ARG_INT, &max_chat_clients, "Most IRC connections at once (default 900; raise the open-file limit to match)", "N" },
    { NULL }
  };

  setlocale (LC_ALL, "");

  context = g_option_context_new ("- the Tidings chat and pub/sub server");
  g_option_context_set_summary (context,
    "Serves IRC chat and Redis-protocol pub/sub on loopback by default,\n"
    "with history and accounts in sqlite.");
  g_option_context_set_description (context,
    "Commands (run while tidingsd is stopped):\n"
    "  account add NAME            Create chat account NAME; the password is read\n"
    "                              from stdin (twice, without echo, on a terminal)\n"
    "  account delete NAME         Delete chat account NAME\n"
    "  account list                List the chat accounts and when they were made\n"
    "  account delete-files NAME   Remove every file uploaded by account NAME\n"
    "\n"
    "Exit status: 0 success, 1 failure, 2 bad usage or input.");
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
  if (chat_tls_port >= 0)
    {
      /* Read once here so that a bad file is a usage error, not a
       * failure to start. */
      g_autoptr(GTlsCertificate) certificate = td_server_load_certificate (tls_cert, tls_key, &error);

      if (certificate == NULL)
        {
          g_printerr ("tidingsd: %s\n", error->message);
          return 2;
        }
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

  if (max_chat_clients < 0 || max_chat_clients > TD_MAX_CHAT_CLIENTS_LIMIT)
    {
      g_printerr ("tidingsd: --max-chat-clients must be between 1 and %d\n", TD_MAX_CHAT_CLIENTS_LIMIT);
      return 2;
    }
  config->max_chat_clients = max_chat_clients;

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
