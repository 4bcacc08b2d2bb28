/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-pubsub"

#include "config.h"

#include <string.h>

#include "pubsub/td-pubsub-private.h"

/*
 * The RESP command table and one handler per verb. Dispatch follows Redis
 * 7.0's processCommand() order, which decides which error a client sees:
 *   QUIT (any arguments) -> unknown command / subcommand -> arity ->
 *   NOAUTH -> subscribed-context restriction -> the command itself.
 *
 * Besides pub/sub, the server answers what clients and tools send on
 * connect, harmlessly: FLUSHALL / FLUSHDB / FUNCTION FLUSH (+OK: there is
 * no keyspace), CONFIG GET (an empty array: no parameters are exposed),
 * COMMAND (an empty array, so clients fall back to their built-in tables),
 * COMMAND DOCS (empty), COMMAND COUNT (the verbs served here), CLIENT
 * SETNAME / GETNAME / ID. Every other command gets Redis' "unknown
 * command" error: this server has no keyspace.
 */

/* Reported by HELLO: clients check the version for features, and this
 * server answers like the Redis release whose replies it reproduces. */
#define TD_RESP_COMPAT_SERVER   "redis"
#define TD_RESP_COMPAT_VERSION  "7.0.15"

/* Redis prints at most this many bytes of a command name, and of the
 * arguments together, in an "unknown command" error. */
#define TD_RESP_ERR_ARG_MAX     128

/* SELECT accepts the indexes of Redis' 16 default databases. */
#define TD_RESP_DATABASES       16

enum
{
  CMD_NO_AUTH   = 1 << 0,   /* allowed before AUTH */
  CMD_PUBSUB_OK = 1 << 1,   /* allowed in RESP2 subscribed mode */
};

typedef void (*TdRespCmdFunc) (TdConn          *conn,
                               guint            argc,
                               const TdRespArg *argv);

typedef struct _TdRespCommand TdRespCommand;

struct _TdRespCommand
{
  const char          *name;        /* lower case, as looked up */
  const char          *fullname;    /* "pubsub|channels" in error texts */
  int                  arity;       /* Redis arity: N exact, -N at least N */
  guint                flags;
  TdRespCmdFunc        func;
  const TdRespCommand *subcommands; /* NULL-name terminated, or NULL */
};

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

/* Length of @arg as C code sees it: Redis uses %s and strcasecmp() on
 * arguments in several places, which stop at the first NUL. */
static gsize
arg_cstr_len (const TdRespArg *arg)
{
  const char *nul = memchr (arg->data, '\0', arg->len);

  return nul ? (gsize) (nul - arg->data) : arg->len;
}

/* strcasecmp (arg, lit) == 0, with C-string semantics. */
static gboolean
arg_is (const TdRespArg *arg,
        const char      *lit)
{
  gsize len = arg_cstr_len (arg);

  return len == strlen (lit) && g_ascii_strncasecmp (arg->data, lit, len) == 0;
}

/* A printable copy of @arg as %.*s would print it, capped at @max bytes. */
static char *
arg_cstr (const TdRespArg *arg,
          gsize            max)
{
  return g_strndup (arg->data, MIN (arg_cstr_len (arg), max));
}

static char *
arg_upper (const TdRespArg *arg)
{
  g_autofree char *raw = arg_cstr (arg, G_MAXSIZE);
  return g_ascii_strup (raw, -1);
}

static gboolean
conn_subscribed (TdConn *conn)
{
  return td_broker_client_count (conn->sub) > 0;
}

static void
reply_ok (TdConn *conn)
{
  g_byte_array_append (_td_conn_reply (conn), (const guint8 *) "+OK\r\n", 5);
}

static void
reply_syntax_error (TdConn *conn)
{
  td_resp_append_error (_td_conn_reply (conn), "syntax error");
}

static void
reply_subscription (TdConn     *conn,
                    const char *kind,
                    const char *name,
                    gsize       len,
                    gboolean    null_name,
                    guint       count)
{
  GByteArray *out = _td_conn_reply (conn);

  td_resp_append_array_len (out, 3);
  td_resp_append_bulk_str (out, kind);
  if (null_name)
    td_resp_append_null_bulk (out);
  else
    td_resp_append_bulk (out, name, len);
  td_resp_append_integer (out, count);
}

/* addReplySubcommandSyntaxError() */
static void
reply_subcommand_syntax_error (TdConn          *conn,
                               const TdRespArg *argv)
{
  g_autofree char *sub = arg_cstr (&argv[1], TD_RESP_ERR_ARG_MAX);
  g_autofree char *cmd = arg_upper (&argv[0]);

  td_resp_append_error_printf (_td_conn_reply (conn),
                               "unknown subcommand or wrong number of arguments for '%s'. Try %s HELP.",
                               sub, cmd);
}

/* addReplyHelp() */
static void
reply_help (TdConn            *conn,
            const TdRespArg   *argv,
            const char *const *lines)
{
  GByteArray *out = _td_conn_reply (conn);
  g_autofree char *cmd = arg_upper (&argv[0]);
  g_autofree char *header = g_strdup_printf ("%s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", cmd);
  guint n = 0;

  while (lines[n] != NULL)
    n++;
  td_resp_append_array_len (out, n + 3);
  td_resp_append_simple (out, header);
  for (guint i = 0; i < n; i++)
    td_resp_append_simple (out, lines[i]);
  td_resp_append_simple (out, "HELP");
  td_resp_append_simple (out, "    Prints this help.");
}

/* Constant-time password check (compares digests, so neither the length
 * nor the content leaks through timing). */
static gboolean
password_matches (const char      *password,
                  const TdRespArg *given)
{
  g_autoptr(GChecksum) a = g_checksum_new (G_CHECKSUM_SHA256);
  g_autoptr(GChecksum) b = g_checksum_new (G_CHECKSUM_SHA256);
  guint8 da[32], db[32];
  gsize la = sizeof da, lb = sizeof db;
  guint8 diff = 0;

  g_checksum_update (a, (const guchar *) password, (gssize) strlen (password));
  g_checksum_update (b, (const guchar *) given->data, (gssize) given->len);
  g_checksum_get_digest (a, da, &la);
  g_checksum_get_digest (b, db, &lb);
  for (gsize i = 0; i < sizeof da; i++)
    diff |= da[i] ^ db[i];
  return diff == 0;
}

/* ACLAuthenticateUser() for the only user there is, "default". */
static gboolean
authenticate (TdConn          *conn,
              const TdRespArg *user,
              const TdRespArg *pass)
{
  const char *password = _td_conn_config (conn)->password;

  if (!(user->len == 7 && memcmp (user->data, "default", 7) == 0))
    return FALSE;
  if (password != NULL && !password_matches (password, pass))
    return FALSE;
  conn->authenticated = TRUE;
  return TRUE;
}

static void
reply_wrongpass (TdConn *conn)
{
  td_resp_append_error (_td_conn_reply (conn),
                        "-WRONGPASS invalid username-password pair or user is disabled.");
}

/* clientSetName(): names are printable ASCII without spaces. */
static gboolean
set_client_name (TdConn          *conn,
                 const TdRespArg *name)
{
  for (gsize i = 0; i < name->len; i++)
    {
      if (name->data[i] < '!' || name->data[i] > '~')
        {
          td_resp_append_error (_td_conn_reply (conn),
                                "Client names cannot contain spaces, newlines or special characters.");
          return FALSE;
        }
    }
  g_clear_pointer (&conn->name, g_free);
  if (name->len > 0)
    conn->name = g_strndup (name->data, name->len);
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Pub/sub                                                             */

static void
td_resp_cmd_subscribe (TdConn          *conn,
                       guint            argc,
                       const TdRespArg *argv)
{
  for (guint j = 1; j < argc; j++)
    {
      td_broker_subscribe (conn->sub, argv[j].data, argv[j].len);
      reply_subscription (conn, "subscribe", argv[j].data, argv[j].len, FALSE,
                          td_broker_client_count (conn->sub));
    }
}

static void
td_resp_cmd_psubscribe (TdConn          *conn,
                        guint            argc,
                        const TdRespArg *argv)
{
  for (guint j = 1; j < argc; j++)
    {
      td_broker_psubscribe (conn->sub, argv[j].data, argv[j].len);
      reply_subscription (conn, "psubscribe", argv[j].data, argv[j].len, FALSE,
                          td_broker_client_count (conn->sub));
    }
}

static void
unsubscribed_cb (TdBrokerClient *client,
                 const char     *name,
                 gsize           len,
                 guint           remaining,
                 gpointer        user_data)
{
  reply_subscription (user_data, "unsubscribe", name, len, FALSE, remaining);
}

static void
punsubscribed_cb (TdBrokerClient *client,
                  const char     *name,
                  gsize           len,
                  guint           remaining,
                  gpointer        user_data)
{
  reply_subscription (user_data, "punsubscribe", name, len, FALSE, remaining);
}

static void
td_resp_cmd_unsubscribe (TdConn          *conn,
                         guint            argc,
                         const TdRespArg *argv)
{
  if (argc == 1)
    {
      if (td_broker_unsubscribe_all (conn->sub, unsubscribed_cb, conn) == 0)
        reply_subscription (conn, "unsubscribe", NULL, 0, TRUE, td_broker_client_count (conn->sub));
      return;
    }
  for (guint j = 1; j < argc; j++)
    {
      td_broker_unsubscribe (conn->sub, argv[j].data, argv[j].len);
      reply_subscription (conn, "unsubscribe", argv[j].data, argv[j].len, FALSE,
                          td_broker_client_count (conn->sub));
    }
}

static void
td_resp_cmd_punsubscribe (TdConn          *conn,
                          guint            argc,
                          const TdRespArg *argv)
{
  if (argc == 1)
    {
      if (td_broker_punsubscribe_all (conn->sub, punsubscribed_cb, conn) == 0)
        reply_subscription (conn, "punsubscribe", NULL, 0, TRUE, td_broker_client_count (conn->sub));
      return;
    }
  for (guint j = 1; j < argc; j++)
    {
      td_broker_punsubscribe (conn->sub, argv[j].data, argv[j].len);
      reply_subscription (conn, "punsubscribe", argv[j].data, argv[j].len, FALSE,
                          td_broker_client_count (conn->sub));
    }
}

static void
td_resp_cmd_publish (TdConn          *conn,
                     guint            argc,
                     const TdRespArg *argv)
{
  guint receivers = td_broker_publish (_td_conn_broker (conn), argv[1].data, argv[1].len,
                                       argv[2].data, argv[2].len);

  td_resp_append_integer (_td_conn_reply (conn), receivers);
}

static const char *const pubsub_help[] = {
  "CHANNELS [<pattern>]",
  "    Return the currently active channels matching a <pattern> (default: '*').",
  "NUMPAT",
  "    Return number of subscriptions to patterns.",
  "NUMSUB [<channel> ...]",
  "    Return the number of subscribers for the specified channels, excluding",
  "    pattern subscriptions(default: no channels).",
  "SHARDCHANNELS [<pattern>]",
  "    Return the currently active shard level channels matching a <pattern> (default: '*').",
  "SHARDNUMSUB [<shardchannel> ...]",
  "    Return the number of subscribers for the specified shard level channel(s)",
  NULL
};

static void
td_resp_cmd_pubsub_help (TdConn          *conn,
                         guint            argc,
                         const TdRespArg *argv)
{
  reply_help (conn, argv, pubsub_help);
}

static void
td_resp_cmd_pubsub_channels (TdConn          *conn,
                             guint            argc,
                             const TdRespArg *argv)
{
  g_autoptr(GPtrArray) names = NULL;
  GByteArray *out;

  if (argc > 3)
    {
      reply_subcommand_syntax_error (conn, argv);
      return;
    }
  names = td_broker_list_channels (_td_conn_broker (conn),
                                   argc == 3 ? argv[2].data : NULL, argc == 3 ? argv[2].len : 0);
  out = _td_conn_reply (conn);
  td_resp_append_array_len (out, names->len);
  for (guint i = 0; i < names->len; i++)
    {
      gsize len;
      const char *name = g_bytes_get_data (g_ptr_array_index (names, i), &len);

      td_resp_append_bulk (out, name, len);
    }
}

static void
td_resp_cmd_pubsub_numsub (TdConn          *conn,
                           guint            argc,
                           const TdRespArg *argv)
{
  GByteArray *out = _td_conn_reply (conn);

  td_resp_append_array_len (out, (gint64) (argc - 2) * 2);
  for (guint j = 2; j < argc; j++)
    {
      td_resp_append_bulk (out, argv[j].data, argv[j].len);
      td_resp_append_integer (out, td_broker_numsub (_td_conn_broker (conn), argv[j].data, argv[j].len));
    }
}

static void
td_resp_cmd_pubsub_numpat (TdConn          *conn,
                           guint            argc,
                           const TdRespArg *argv)
{
  td_resp_append_integer (_td_conn_reply (conn), td_broker_numpat (_td_conn_broker (conn)));
}

/* Sharded pub/sub is a cluster feature: a standalone server has no shard
 * channels, which is what these report. */
static void
td_resp_cmd_pubsub_shardchannels (TdConn          *conn,
                                  guint            argc,
                                  const TdRespArg *argv)
{
  if (argc > 3)
    {
      reply_subcommand_syntax_error (conn, argv);
      return;
    }
  td_resp_append_array_len (_td_conn_reply (conn), 0);
}

static void
td_resp_cmd_pubsub_shardnumsub (TdConn          *conn,
                                guint            argc,
                                const TdRespArg *argv)
{
  GByteArray *out = _td_conn_reply (conn);

  td_resp_append_array_len (out, (gint64) (argc - 2) * 2);
  for (guint j = 2; j < argc; j++)
    {
      td_resp_append_bulk (out, argv[j].data, argv[j].len);
      td_resp_append_integer (out, 0);
    }
}

/* ------------------------------------------------------------------ */
/* Connection                                                          */

static void
td_resp_cmd_ping (TdConn          *conn,
                  guint            argc,
                  const TdRespArg *argv)
{
  GByteArray *out = _td_conn_reply (conn);

  /* PING's table arity is -1; the command itself refuses a second
   * argument, as in Redis. */
  if (argc > 2)
    {
      td_resp_append_error (out, "wrong number of arguments for 'ping' command");
      return;
    }

  if (conn_subscribed (conn))
    {
      td_resp_append_array_len (out, 2);
      td_resp_append_bulk (out, "pong", 4);
      if (argc == 1)
        td_resp_append_bulk (out, "", 0);
      else
        td_resp_append_bulk (out, argv[1].data, argv[1].len);
    }
  else if (argc == 1)
    td_resp_append_simple (out, "PONG");
  else
    td_resp_append_bulk (out, argv[1].data, argv[1].len);
}

static void
td_resp_cmd_echo (TdConn          *conn,
                  guint            argc,
                  const TdRespArg *argv)
{
  td_resp_append_bulk (_td_conn_reply (conn), argv[1].data, argv[1].len);
}

static void
td_resp_cmd_select (TdConn          *conn,
                    guint            argc,
                    const TdRespArg *argv)
{
  gint64 id;

  if (!td_resp_string2ll (argv[1].data, argv[1].len, &id) || id < G_MININT || id > G_MAXINT)
    td_resp_append_error (_td_conn_reply (conn), "value is not an integer or out of range");
  else if (id < 0 || id >= TD_RESP_DATABASES)
    td_resp_append_error (_td_conn_reply (conn), "DB index is out of range");
  else
    reply_ok (conn);
}

/* RESET: leaves subscribed mode, forgets the name and, when a password is
 * set, the authentication (Redis resets to the default user). */
static void
td_resp_cmd_reset (TdConn          *conn,
                   guint            argc,
                   const TdRespArg *argv)
{
  td_broker_unsubscribe_all (conn->sub, NULL, NULL);
  td_broker_punsubscribe_all (conn->sub, NULL, NULL);
  g_clear_pointer (&conn->name, g_free);
  conn->authenticated = _td_conn_config (conn)->password == NULL;
  td_resp_append_simple (_td_conn_reply (conn), "RESET");
}

/* HELLO [protover [AUTH user pass] [SETNAME name]]: RESP2 only; a request
 * for RESP3 gets Redis' answer for an unsupported version. */
static void
td_resp_cmd_hello (TdConn          *conn,
                   guint            argc,
                   const TdRespArg *argv)
{
  const TdRespArg *user = NULL, *pass = NULL, *name = NULL;
  GByteArray *out;
  guint next = 1;

  if (argc >= 2)
    {
      gint64 ver;

      if (!td_resp_string2ll (argv[1].data, argv[1].len, &ver))
        {
          td_resp_append_error (_td_conn_reply (conn), "Protocol version is not an integer or out of range");
          return;
        }
      if (ver != 2)
        {
          td_resp_append_error (_td_conn_reply (conn), "-NOPROTO unsupported protocol version");
          return;
        }
      next = 2;
    }

  for (guint j = next; j < argc; j++)
    {
      guint more = argc - 1 - j;

      if (arg_is (&argv[j], "AUTH") && more >= 2)
        {
          user = &argv[j + 1];
          pass = &argv[j + 2];
          j += 2;
        }
      else if (arg_is (&argv[j], "SETNAME") && more >= 1)
        {
          name = &argv[j + 1];
          j++;
        }
      else
        {
          g_autofree char *opt = arg_cstr (&argv[j], G_MAXSIZE);

          td_resp_append_error_printf (_td_conn_reply (conn), "Syntax error in HELLO option '%s'", opt);
          return;
        }
    }

  if (user != NULL && !authenticate (conn, user, pass))
    {
      reply_wrongpass (conn);
      return;
    }

  if (!conn->authenticated)
    {
      td_resp_append_error (_td_conn_reply (conn),
                            "-NOAUTH HELLO must be called with the client already authenticated, "
                            "otherwise the HELLO AUTH <user> <pass> option can be used to "
                            "authenticate the client and select the RESP protocol version at "
                            "the same time");
      return;
    }

  if (name != NULL && !set_client_name (conn, name))
    return;

  out = _td_conn_reply (conn);
  td_resp_append_array_len (out, 14);
  td_resp_append_bulk_str (out, "server");
  td_resp_append_bulk_str (out, TD_RESP_COMPAT_SERVER);
  td_resp_append_bulk_str (out, "version");
  td_resp_append_bulk_str (out, TD_RESP_COMPAT_VERSION);
  td_resp_append_bulk_str (out, "proto");
  td_resp_append_integer (out, 2);
  td_resp_append_bulk_str (out, "id");
  td_resp_append_integer (out, (gint64) conn->id);
  td_resp_append_bulk_str (out, "mode");
  td_resp_append_bulk_str (out, "standalone");
  td_resp_append_bulk_str (out, "role");
  td_resp_append_bulk_str (out, "master");
  td_resp_append_bulk_str (out, "modules");
  td_resp_append_array_len (out, 0);
}

static void
td_resp_cmd_auth (TdConn          *conn,
                  guint            argc,
                  const TdRespArg *argv)
{
  static const TdRespArg default_user = { "default", 7 };

  if (argc > 3)
    {
      reply_syntax_error (conn);
      return;
    }
  if (argc == 2)
    {
      if (_td_conn_config (conn)->password == NULL)
        {
          td_resp_append_error (_td_conn_reply (conn),
                                "AUTH <password> called without any password configured for "
                                "the default user. Are you sure your configuration is correct?");
          return;
        }
      if (!authenticate (conn, &default_user, &argv[1]))
        {
          reply_wrongpass (conn);
          return;
        }
    }
  else if (!authenticate (conn, &argv[1], &argv[2]))
    {
      reply_wrongpass (conn);
      return;
    }
  reply_ok (conn);
}

/* ------------------------------------------------------------------ */
/* Harmless server commands                                            */

/* FLUSHALL / FLUSHDB [SYNC|ASYNC]: there is no keyspace to flush. */
static void
td_resp_cmd_flushall (TdConn          *conn,
                      guint            argc,
                      const TdRespArg *argv)
{
  if (argc == 1 || (argc == 2 && (arg_is (&argv[1], "sync") || arg_is (&argv[1], "async"))))
    reply_ok (conn);
  else
    reply_syntax_error (conn);
}

static void
td_resp_cmd_function_flush (TdConn          *conn,
                            guint            argc,
                            const TdRespArg *argv)
{
  if (argc > 3)
    reply_subcommand_syntax_error (conn, argv);
  else if (argc == 2 || arg_is (&argv[2], "sync") || arg_is (&argv[2], "async"))
    reply_ok (conn);
  else
    td_resp_append_error (_td_conn_reply (conn), "FUNCTION FLUSH only supports SYNC|ASYNC option");
}

static const char *const function_help[] = {
  "FLUSH [ASYNC|SYNC]",
  "    Delete all the libraries.",
  NULL
};

static void
td_resp_cmd_function_help (TdConn          *conn,
                           guint            argc,
                           const TdRespArg *argv)
{
  reply_help (conn, argv, function_help);
}

/* CONFIG GET: no parameter is exposed, so nothing matches. */
static void
td_resp_cmd_config_get (TdConn          *conn,
                        guint            argc,
                        const TdRespArg *argv)
{
  td_resp_append_array_len (_td_conn_reply (conn), 0);
}

static const char *const config_help[] = {
  "GET <pattern>",
  "    Return parameters matching the glob-like <pattern> and their values.",
  NULL
};

static void
td_resp_cmd_config_help (TdConn          *conn,
                         guint            argc,
                         const TdRespArg *argv)
{
  reply_help (conn, argv, config_help);
}

static void
td_resp_cmd_command (TdConn          *conn,
                     guint            argc,
                     const TdRespArg *argv)
{
  td_resp_append_array_len (_td_conn_reply (conn), 0);
}

static void
td_resp_cmd_command_count (TdConn          *conn,
                           guint            argc,
                           const TdRespArg *argv)
{
  td_resp_append_integer (_td_conn_reply (conn), _td_resp_command_count ());
}

static const char *const command_help[] = {
  "(no subcommand)",
  "    Return details about all Redis commands (none are described here).",
  "COUNT",
  "    Return the total number of commands in this Redis server.",
  "DOCS <command-name>",
  "    Return documentary information about commands (none are described here).",
  NULL
};

static void
td_resp_cmd_command_help (TdConn          *conn,
                          guint            argc,
                          const TdRespArg *argv)
{
  reply_help (conn, argv, command_help);
}

static void
td_resp_cmd_client_setname (TdConn          *conn,
                            guint            argc,
                            const TdRespArg *argv)
{
  if (set_client_name (conn, &argv[2]))
    reply_ok (conn);
}

static void
td_resp_cmd_client_getname (TdConn          *conn,
                            guint            argc,
                            const TdRespArg *argv)
{
  if (conn->name != NULL)
    td_resp_append_bulk_str (_td_conn_reply (conn), conn->name);
  else
    td_resp_append_null_bulk (_td_conn_reply (conn));
}

static void
td_resp_cmd_client_id (TdConn          *conn,
                       guint            argc,
                       const TdRespArg *argv)
{
  td_resp_append_integer (_td_conn_reply (conn), (gint64) conn->id);
}

static const char *const client_help[] = {
  "GETNAME",
  "    Return the name of the current connection.",
  "ID",
  "    Return the ID of the current connection.",
  "SETNAME <name>",
  "    Assign the name <name> to the current connection.",
  NULL
};

static void
td_resp_cmd_client_help (TdConn          *conn,
                         guint            argc,
                         const TdRespArg *argv)
{
  reply_help (conn, argv, client_help);
}

/* ------------------------------------------------------------------ */
/* Table and dispatch                                                  */

static const TdRespCommand pubsub_subcommands[] = {
  { "channels", "pubsub|channels", -2, 0, td_resp_cmd_pubsub_channels, NULL },
  { "numsub", "pubsub|numsub", -2, 0, td_resp_cmd_pubsub_numsub, NULL },
  { "numpat", "pubsub|numpat", 2, 0, td_resp_cmd_pubsub_numpat, NULL },
  { "shardchannels", "pubsub|shardchannels", -2, 0, td_resp_cmd_pubsub_shardchannels, NULL },
  { "shardnumsub", "pubsub|shardnumsub", -2, 0, td_resp_cmd_pubsub_shardnumsub, NULL },
  { "help", "pubsub|help", 2, 0, td_resp_cmd_pubsub_help, NULL },
  { NULL }
};

static const TdRespCommand function_subcommands[] = {
  { "flush", "function|flush", -2, 0, td_resp_cmd_function_flush, NULL },
  { "help", "function|help", 2, 0, td_resp_cmd_function_help, NULL },
  { NULL }
};

static const TdRespCommand config_subcommands[] = {
  { "get", "config|get", -3, 0, td_resp_cmd_config_get, NULL },
  { "help", "config|help", 2, 0, td_resp_cmd_config_help, NULL },
  { NULL }
};

static const TdRespCommand command_subcommands[] = {
  { "count", "command|count", 2, 0, td_resp_cmd_command_count, NULL },
  { "docs", "command|docs", -2, 0, td_resp_cmd_command, NULL },
  { "help", "command|help", 2, 0, td_resp_cmd_command_help, NULL },
  { NULL }
};

static const TdRespCommand client_subcommands[] = {
  { "setname", "client|setname", 3, 0, td_resp_cmd_client_setname, NULL },
  { "getname", "client|getname", 2, 0, td_resp_cmd_client_getname, NULL },
  { "id", "client|id", 2, 0, td_resp_cmd_client_id, NULL },
  { "help", "client|help", 2, 0, td_resp_cmd_client_help, NULL },
  { NULL }
};

static const TdRespCommand commands[] = {
  { "publish", "publish", 3, 0, td_resp_cmd_publish, NULL },
  { "subscribe", "subscribe", -2, CMD_PUBSUB_OK, td_resp_cmd_subscribe, NULL },
  { "unsubscribe", "unsubscribe", -1, CMD_PUBSUB_OK, td_resp_cmd_unsubscribe, NULL },
  { "psubscribe", "psubscribe", -2, CMD_PUBSUB_OK, td_resp_cmd_psubscribe, NULL },
  { "punsubscribe", "punsubscribe", -1, CMD_PUBSUB_OK, td_resp_cmd_punsubscribe, NULL },
  { "ping", "ping", -1, CMD_PUBSUB_OK, td_resp_cmd_ping, NULL },
  { "reset", "reset", 1, CMD_PUBSUB_OK | CMD_NO_AUTH, td_resp_cmd_reset, NULL },
  { "echo", "echo", 2, 0, td_resp_cmd_echo, NULL },
  { "select", "select", 2, 0, td_resp_cmd_select, NULL },
  { "hello", "hello", -1, CMD_NO_AUTH, td_resp_cmd_hello, NULL },
  { "auth", "auth", -2, CMD_NO_AUTH, td_resp_cmd_auth, NULL },
  { "flushall", "flushall", -1, 0, td_resp_cmd_flushall, NULL },
  { "flushdb", "flushdb", -1, 0, td_resp_cmd_flushall, NULL },
  { "pubsub", "pubsub", -2, 0, NULL, pubsub_subcommands },
  { "function", "function", -2, 0, NULL, function_subcommands },
  { "config", "config", -2, 0, NULL, config_subcommands },
  { "command", "command", -1, 0, td_resp_cmd_command, command_subcommands },
  { "client", "client", -2, 0, NULL, client_subcommands },
  { NULL }
};

/* Top-level verbs served (COMMAND COUNT); QUIT is handled before lookup. */
guint
_td_resp_command_count (void)
{
  return G_N_ELEMENTS (commands) - 1 + 1;
}

/* Command names are matched over their full length, case-insensitively:
 * Redis hashes the whole argument, so "GET\0x" is not GET. */
static const TdRespCommand *
find_in (const TdRespCommand *table,
         const TdRespArg     *name)
{
  for (const TdRespCommand *cmd = table; cmd->name != NULL; cmd++)
    if (strlen (cmd->name) == name->len && g_ascii_strncasecmp (cmd->name, name->data, name->len) == 0)
      return cmd;
  return NULL;
}

static void
reply_unknown_command (TdConn          *conn,
                       guint            argc,
                       const TdRespArg *argv)
{
  g_autoptr(GString) args = g_string_new (NULL);
  g_autofree char *name = arg_cstr (&argv[0], TD_RESP_ERR_ARG_MAX);

  /* sdscatprintf (args, "'%.*s' ", 128 - sdslen (args), argv[i]) while
   * sdslen (args) < 128. */
  for (guint i = 1; i < argc && args->len < TD_RESP_ERR_ARG_MAX; i++)
    {
      g_autofree char *arg = arg_cstr (&argv[i], TD_RESP_ERR_ARG_MAX - args->len);

      g_string_append_printf (args, "'%s' ", arg);
    }
  td_resp_append_error_printf (_td_conn_reply (conn),
                               "unknown command '%s', with args beginning with: %s",
                               name, args->str);
}

/* Runs one request: the checks of Redis' processCommand(), in its order,
 * then the handler. */
void
_td_resp_execute (TdConn          *conn,
                  guint            argc,
                  const TdRespArg *argv)
{
  const TdRespCommand *base, *cmd;

  if (argc == 0)
    return;

  /* Redis 7.0 answers QUIT before looking anything up: any arguments, no
   * AUTH needed, allowed in subscribed mode. */
  if (arg_is (&argv[0], "quit"))
    {
      reply_ok (conn);
      _td_conn_close_after_reply (conn);
      return;
    }

  base = find_in (commands, &argv[0]);
  cmd = base;
  if (base != NULL && base->subcommands != NULL && argc > 1)
    {
      cmd = find_in (base->subcommands, &argv[1]);
      if (cmd == NULL)
        {
          g_autofree char *sub = arg_cstr (&argv[1], TD_RESP_ERR_ARG_MAX);
          g_autofree char *upper = arg_upper (&argv[0]);

          td_resp_append_error_printf (_td_conn_reply (conn),
                                       "unknown subcommand '%s'. Try %s HELP.", sub, upper);
          return;
        }
    }
  if (cmd == NULL)
    {
      reply_unknown_command (conn, argc, argv);
      return;
    }

  if ((cmd->arity > 0 && (guint) cmd->arity != argc) ||
      (cmd->arity < 0 && argc < (guint) -cmd->arity))
    {
      td_resp_append_error_printf (_td_conn_reply (conn),
                                   "wrong number of arguments for '%s' command", cmd->fullname);
      return;
    }

  if (!conn->authenticated && !(cmd->flags & CMD_NO_AUTH))
    {
      td_resp_append_error (_td_conn_reply (conn), "-NOAUTH Authentication required.");
      return;
    }

  if (conn_subscribed (conn) && !(cmd->flags & CMD_PUBSUB_OK))
    {
      td_resp_append_error_printf (_td_conn_reply (conn),
                                   "Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / "
                                   "PING / QUIT / RESET are allowed in this context",
                                   cmd->fullname);
      return;
    }

  g_assert (cmd->func != NULL);
  cmd->func (conn, argc, argv);
}
