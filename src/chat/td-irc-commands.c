/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-irc-server"

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "chat/td-irc-server-private.h"

/*
 * One handler per verb. Handlers run on the server's context with a
 * parsed, length-checked message and at least the command's minimum
 * number of parameters; everything else about the input is untrusted.
 */

#define SERVER_NAME(c) ((c)->server->config->server_name)

/* ------------------------------------------------------------------ */
/* Channels                                                            */
/* ------------------------------------------------------------------ */

static TdIrcChannel *
channel_new (TdIrcServer *server,
             const char  *name)
{
  TdIrcChannel *channel = g_new0 (TdIrcChannel, 1);

  channel->name = g_strdup (name);
  channel->folded = td_irc_casefold (name);
  channel->created = g_get_real_time () / G_USEC_PER_SEC;
  /* +nt: what every network sets on new channels. */
  channel->modes = CHAN_MODE_NO_OUTSIDE | CHAN_MODE_TOPIC_OPS;
  channel->bans = g_ptr_array_new_with_free_func (g_free);
  channel->invites = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  channel->members = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  g_hash_table_insert (server->channels, channel->folded, channel);
  return channel;
}

void
_td_irc_channel_free (TdIrcChannel *channel)
{
  g_free (channel->name);
  g_free (channel->folded);
  g_free (channel->topic);
  g_free (channel->topic_setter);
  g_free (channel->key);
  g_ptr_array_unref (channel->bans);
  g_hash_table_unref (channel->invites);
  g_hash_table_unref (channel->members);
  g_free (channel);
}

static TdIrcChannel *
channel_lookup (TdIrcServer *server,
                const char  *name)
{
  g_autofree char *folded = td_irc_casefold (name);

  return g_hash_table_lookup (server->channels, folded);
}

/* Takes @client out of @channel (the caller has already removed the
 * channel from the client's side, or does it here); an empty channel is
 * freed. */
void
_td_irc_channel_remove (TdIrcChannel *channel,
                        TdIrcClient  *client)
{
  TdIrcServer *server = client->server;

  g_hash_table_remove (client->channels, channel);
  g_hash_table_remove (channel->members, client);
  if (g_hash_table_size (channel->members) == 0)
    {
      g_hash_table_remove (server->channels, channel->folded);
      _td_irc_channel_free (channel);
    }
}

static TdIrcMember *
channel_member (TdIrcChannel *channel,
                TdIrcClient  *client)
{
  return g_hash_table_lookup (channel->members, client);
}

/* Sends a line from @from to every member of @channel except @except. */
static void
channel_send_from (TdIrcChannel *channel,
                   TdIrcClient  *from,
                   TdIrcClient  *except,
                   const char   *format,
                   ...) G_GNUC_PRINTF (4, 5);

static void
channel_send_from (TdIrcChannel *channel,
                   TdIrcClient  *from,
                   TdIrcClient  *except,
                   const char   *format,
                   ...)
{
  g_autofree char *prefix = _td_irc_client_prefix (from);
  TdIrcEvent event;
  GHashTableIter iter;
  gpointer key;
  va_list args;

  _td_irc_event_init (&event, g_get_real_time ());
  g_string_printf (event.body, ":%s ", prefix);
  va_start (args, format);
  g_string_append_vprintf (event.body, format, args);
  va_end (args);
  g_string_append (event.body, "\r\n");
  event.account = from->account;

  g_hash_table_iter_init (&iter, channel->members);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (key != except)
      _td_irc_event_send (&event, key);
  _td_irc_event_clear (&event);
}

static void
append_prefixes (GString     *out,
                 TdIrcClient *viewer,
                 guint        flags)
{
  if (viewer->caps & CAP_MULTI_PREFIX)
    {
      if (flags & MEMBER_OP)
        g_string_append_c (out, '@');
      if (flags & MEMBER_VOICE)
        g_string_append_c (out, '+');
    }
  else if (flags & MEMBER_OP)
    g_string_append_c (out, '@');
  else if (flags & MEMBER_VOICE)
    g_string_append_c (out, '+');
}

static gboolean
client_matches_mask (TdIrcClient *client,
                     const char  *folded_mask)
{
  g_autofree char *prefix = _td_irc_client_prefix (client);
  g_autofree char *folded = td_irc_casefold (prefix);

  return g_pattern_match_simple (folded_mask, folded);
}

static gboolean
channel_is_banned (TdIrcChannel *channel,
                   TdIrcClient  *client)
{
  for (guint i = 0; i < channel->bans->len; i++)
    if (client_matches_mask (client, g_ptr_array_index (channel->bans, i)))
      return TRUE;
  return FALSE;
}

static void
send_names (TdIrcClient  *client,
            TdIrcChannel *channel)
{
  g_autoptr(GString) names = g_string_new (NULL);
  g_autofree char *head = g_strdup_printf (":%s 353 %s = %s :", SERVER_NAME (client),
                                           _td_irc_client_nick (client), channel->name);
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, channel->members);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      TdIrcClient *member = key;
      TdIrcMember *m = value;

      /* Keep each 353 line inside the 510-byte message limit. */
      if (names->len > 0 && strlen (head) + names->len + strlen (member->nick) + 3 > TD_IRC_MAX_LINE_CONTENT)
        {
          _td_irc_send (client, "%s%s", head, names->str);
          g_string_truncate (names, 0);
        }
      if (names->len > 0)
        g_string_append_c (names, ' ');
      append_prefixes (names, client, m->flags);
      g_string_append (names, member->nick);
    }
  if (names->len > 0)
    _td_irc_send (client, "%s%s", head, names->str);
  _td_irc_numeric (client, "366", "%s :End of /NAMES list.", channel->name);
}

/* ------------------------------------------------------------------ */
/* Registration                                                        */
/* ------------------------------------------------------------------ */

static const char *isupport[] = {
  "AWAYLEN=" G_STRINGIFY (TD_IRC_AWAYLEN),
  "CASEMAPPING=rfc1459",
  "CHANMODES=b,k,l,imnt",
  "CHANNELLEN=" G_STRINGIFY (TD_IRC_CHANNELLEN),
  "CHANTYPES=#",
  "CHATHISTORY=" G_STRINGIFY (TD_IRC_CHATHISTORY_MAX),
  "ELIST=",
  "KICKLEN=" G_STRINGIFY (TD_IRC_KICKLEN),
  "MAXTARGETS=" G_STRINGIFY (TD_IRC_MAXTARGETS),
  "MODES=" G_STRINGIFY (TD_IRC_MAX_MODES),
  "MSGREFTYPES=msgid,timestamp",
  "NICKLEN=" G_STRINGIFY (TD_IRC_NICKLEN),
  "PREFIX=(ov)@+",
  "STATUSMSG=@+",
  "TARGMAX=PRIVMSG:" G_STRINGIFY (TD_IRC_MAXTARGETS) ",NOTICE:" G_STRINGIFY (TD_IRC_MAXTARGETS)
    ",TAGMSG:" G_STRINGIFY (TD_IRC_MAXTARGETS) ",JOIN:,PART:,KICK:" G_STRINGIFY (TD_IRC_MAXTARGETS)
    ",NAMES:,LIST:,WHOIS:1",
  "TOPICLEN=" G_STRINGIFY (TD_IRC_TOPICLEN),
  "USERLEN=" G_STRINGIFY (TD_IRC_USERLEN),
  "UTF8ONLY",
};

/* RFC 2812 §5.1: at most 13 tokens per 005 line. */
#define ISUPPORT_PER_LINE 12

static void
send_motd (TdIrcClient *client)
{
  const char *motd = client->server->config->motd;
  g_auto(GStrv) lines = NULL;

  if (motd == NULL || *motd == '\0')
    {
      _td_irc_numeric (client, "422", ":MOTD File is missing");
      return;
    }
  _td_irc_numeric (client, "375", ":- %s Message of the day - ", SERVER_NAME (client));
  lines = g_strsplit (motd, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    _td_irc_numeric (client, "372", ":- %.400s", lines[i]);
  _td_irc_numeric (client, "376", ":End of /MOTD command.");
}

static void
send_welcome (TdIrcClient *client)
{
  TdIrcServer *server = client->server;
  g_autofree char *prefix = _td_irc_client_prefix (client);
  g_autoptr(GDateTime) created = g_date_time_new_from_unix_utc (server->created);
  g_autofree char *created_str = g_date_time_format (created, "%Y-%m-%d %H:%M:%S UTC");
  g_autofree char *chanlimit = g_strdup_printf ("CHANLIMIT=#:%u", server->config->max_channels);
  g_autofree char *network = g_strdup_printf ("NETWORK=%s", server->config->network_name);
  g_autofree char *filehost = NULL;
  g_autoptr(GPtrArray) tokens = g_ptr_array_new ();

  _td_irc_numeric (client, "001", ":Welcome to the %s IRC Network %s", server->config->network_name, prefix);
  _td_irc_numeric (client, "002", ":Your host is %s, running version tidingsd-%s",
                   SERVER_NAME (client), PACKAGE_VERSION);
  _td_irc_numeric (client, "003", ":This server was created %s", created_str);
  _td_irc_numeric (client, "004", "%s tidingsd-%s i biklmnotv bklov", SERVER_NAME (client), PACKAGE_VERSION);

  for (guint i = 0; i < G_N_ELEMENTS (isupport); i++)
    g_ptr_array_add (tokens, (gpointer) isupport[i]);
  g_ptr_array_add (tokens, chanlimit);
  g_ptr_array_add (tokens, network);
  /* Where files are uploaded (td_irc_server_set_filehost()). */
  if (server->config->filehost != NULL)
    g_ptr_array_add (tokens, filehost = g_strdup_printf ("FILEHOST=%s", server->config->filehost));
  for (guint i = 0; i < tokens->len; i += ISUPPORT_PER_LINE)
    {
      g_autoptr(GString) line = g_string_new (NULL);

      for (guint j = i; j < MIN (tokens->len, i + ISUPPORT_PER_LINE); j++)
        g_string_append_printf (line, "%s ", (const char *) g_ptr_array_index (tokens, j));
      _td_irc_numeric (client, "005", "%s:are supported by this server", line->str);
    }
  _td_irc_numeric (client, "251", ":There are %u users and 0 invisible on 1 servers",
                   g_hash_table_size (server->nicks));
  send_motd (client);
}

/* Completes registration once NICK, USER, CAP END and any login are all
 * done; a wrong server password ends the connection here. */
void
_td_irc_try_register (TdIrcClient *client)
{
  const char *password = client->server->config->password;

  if (client->registered || client->dead || client->nick == NULL || client->user == NULL ||
      client->cap_negotiating || client->auth_pending)
    return;
  if (password != NULL && *password != '\0' && g_strcmp0 (client->pass, password) != 0)
    {
      _td_irc_numeric (client, "464", ":Password incorrect");
      _td_irc_client_kill (client, "Bad password", "Bad password");
      return;
    }
  client->registered = TRUE;
  _td_irc_server_tick_for (client);
  client->last_read = g_get_monotonic_time ();
  send_welcome (client);
  _td_irc_check_nick_owner (client);
}

/* Starts (or stops) the grace period of a client using a nick that is a
 * registered account it is not logged in to. */
void
_td_irc_check_nick_owner (TdIrcClient *client)
{
  TdIrcServer *server = client->server;
  const char *owner;

  client->guest_deadline = 0;
  if (!client->registered || client->nick == NULL)
    return;
  owner = td_irc_accounts_lookup (server->accounts, client->nick, NULL);
  if (owner == NULL || (client->account != NULL && td_irc_equal (client->account, owner)))
    return;
  client->guest_deadline = g_get_monotonic_time () + (gint64) server->config->nick_grace_s * G_USEC_PER_SEC;
  _td_irc_server_tick_for (client);
  _td_irc_send (client, ":%s NOTICE %s :This nickname is registered. Log in with SASL within %u "
                "seconds or you will be renamed.", SERVER_NAME (client), client->nick,
                server->config->nick_grace_s);
}

/* Changes @client's nick (free, valid) and tells it and its peers. */
void
_td_irc_set_nick (TdIrcClient *client,
                  const char  *nick)
{
  TdIrcServer *server = client->server;

  if (client->registered)
    _td_irc_broadcast_peers (client, TRUE, 0, "NICK :%s", nick);
  if (client->nick != NULL && g_hash_table_lookup (server->nicks, client->nick) == client)
    g_hash_table_remove (server->nicks, client->nick);
  g_free (client->nick);
  client->nick = g_strdup (nick);
  g_hash_table_insert (server->nicks, g_strdup (nick), client);
  _td_irc_check_nick_owner (client);
}

static void
td_irc_cmd_nick (TdIrcClient        *client,
                 const TdIrcMessage *message)
{
  const char *nick = message->n_params > 0 ? message->params[0] : NULL;
  TdIrcClient *holder;

  if (nick == NULL || *nick == '\0')
    {
      _td_irc_numeric (client, "431", ":No nickname given");
      return;
    }
  if (!td_irc_nick_is_valid (nick, TD_IRC_NICKLEN))
    {
      _td_irc_numeric (client, "432", "%s :Erroneous nickname", nick);
      return;
    }
  holder = g_hash_table_lookup (client->server->nicks, nick);
  if (holder == client && g_strcmp0 (client->nick, nick) == 0)
    return;
  if (holder != NULL && holder != client)
    {
      _td_irc_numeric (client, "433", "%s :Nickname is already in use", nick);
      return;
    }
  _td_irc_set_nick (client, nick);
  _td_irc_try_register (client);
}

static void
td_irc_cmd_user (TdIrcClient        *client,
                 const TdIrcMessage *message)
{
  g_autoptr(GString) user = g_string_new (NULL);

  if (client->registered || client->user != NULL)
    {
      _td_irc_numeric (client, "462", ":You may not reregister");
      return;
    }
  /* Only ident-safe characters: the user name ends up in every prefix. */
  for (const char *p = message->params[0]; *p != '\0' && user->len < TD_IRC_USERLEN; p++)
    if (g_ascii_isalnum (*p) || strchr ("-_.", *p) != NULL)
      g_string_append_c (user, *p);
  if (user->len == 0)
    g_string_append (user, "user");
  client->user = g_strdup_printf ("~%s", user->str);
  client->realname = g_strndup (message->params[3], TD_IRC_REALNAMELEN);
  _td_irc_try_register (client);
}

static void
td_irc_cmd_pass (TdIrcClient        *client,
                 const TdIrcMessage *message)
{
  if (client->registered)
    {
      _td_irc_numeric (client, "462", ":You may not reregister");
      return;
    }
  g_free (client->pass);
  client->pass = g_strdup (message->params[0]);
}

static void
td_irc_cmd_ping (TdIrcClient        *client,
                 const TdIrcMessage *message)
{
  if (message->n_params < 1 || *message->params[0] == '\0')
    {
      _td_irc_numeric (client, "409", ":No origin specified");
      return;
    }
  _td_irc_send (client, ":%s PONG %s :%s", SERVER_NAME (client), SERVER_NAME (client),
                message->params[message->n_params - 1]);
}

static void
td_irc_cmd_pong (TdIrcClient        *client,
                 const TdIrcMessage *message)
{
  client->ping_sent = 0;
}

static void
td_irc_cmd_quit (TdIrcClient        *client,
                 const TdIrcMessage *message)
{
  g_autofree char *reason = NULL;

  if (message->n_params > 0 && *message->params[0] != '\0')
    reason = g_strdup_printf ("Quit: %.300s", message->params[0]);
  else
    reason = g_strdup ("Client Quit");
  _td_irc_client_kill (client, reason, NULL);
}

static void
td_irc_cmd_motd (TdIrcClient        *client,
                 const TdIrcMessage *message)
{
  send_motd (client);
}

/* ------------------------------------------------------------------ */
/* CAP                                                                 */
/* ------------------------------------------------------------------ */

static void
td_irc_cmd_cap (TdIrcClient        *client,
                const TdIrcMessage *message)
{
  g_autofree char *sub = g_ascii_strup (message->params[0], -1);
  const char *nick = _td_irc_client_nick (client);

  if (g_str_equal (sub, "LS"))
    {
      guint version = message->n_params > 1 ? (guint) strtoul (message->params[1], NULL, 10) : 301;

      if (!client->registered)
        client->cap_negotiating = TRUE;
      if (version > client->cap_version)
        client->cap_version = version;
      /* cap-notify is implied by 302 (IRCv3 capability negotiation). */
      if (version >= 302)
        client->caps |= CAP_CAP_NOTIFY;
      _td_irc_send (client, ":%s CAP %s LS :%s", SERVER_NAME (client), nick,
                    _td_irc_cap_ls_string (version));
    }
  else if (g_str_equal (sub, "LIST"))
    {
      g_autoptr(GString) list = g_string_new (NULL);

      for (guint bit = 1; bit <= CAP_CAP_NOTIFY; bit <<= 1)
        if (client->caps & bit)
          g_string_append_printf (list, "%s%s", list->len ? " " : "", _td_irc_cap_names (bit));
      _td_irc_send (client, ":%s CAP %s LIST :%s", SERVER_NAME (client), nick, list->str);
    }
  else if (g_str_equal (sub, "REQ"))
    {
      const char *req = message->n_params > 1 ? message->params[1] : "";
      g_auto(GStrv) names = g_strsplit (req, " ", -1);
      guint add = 0, remove = 0;
      gboolean ok = TRUE;

      if (!client->registered)
        client->cap_negotiating = TRUE;
      for (guint i = 0; names[i] != NULL && ok; i++)
        {
          const char *name = names[i];
          gboolean minus = name[0] == '-';
          guint bit;

          if (*name == '\0')
            continue;
          bit = _td_irc_cap_lookup (minus ? name + 1 : name);
          if (bit == 0)
            ok = FALSE;
          else if (minus)
            remove |= bit;
          else
            add |= bit;
        }
      if (!ok || (add == 0 && remove == 0))
        {
          _td_irc_send (client, ":%s CAP %s NAK :%s", SERVER_NAME (client), nick, req);
          return;
        }
      client->caps = (client->caps | add) & ~remove;
      _td_irc_send (client, ":%s CAP %s ACK :%s", SERVER_NAME (client), nick, req);
    }
  else if (g_str_equal (sub, "END"))
    {
      if (client->registered)
        return;
      client->cap_negotiating = FALSE;
      _td_irc_try_register (client);
    }
  else
    _td_irc_numeric (client, "410", "%s :Invalid CAP command", message->params[0]);
}

/* ------------------------------------------------------------------ */
/* Accounts: SASL PLAIN and REGISTER                                   */
/* ------------------------------------------------------------------ */

static void
sasl_reset (TdIrcClient *client)
{
  client->sasl_started = FALSE;
  if (client->sasl_buf != NULL)
    {
      memset (client->sasl_buf->str, 0, client->sasl_buf->len);
      g_string_free (client->sasl_buf, TRUE);
      client->sasl_buf = NULL;
    }
}

static void
sasl_fail (TdIrcClient *client,
           const char  *why)
{
  sasl_reset (client);
  _td_irc_numeric (client, "904", ":SASL authentication failed%s%s", why ? ": " : "", why ? why : "");
}

static void
logged_in (TdIrcClient *client,
           const char  *account)
{
  g_autofree char *prefix = _td_irc_client_prefix (client);

  g_free (client->account);
  client->account = g_strdup (account);
  _td_irc_numeric (client, "900", "%s %s :You are now logged in as %s", prefix, account, account);
  _td_irc_check_nick_owner (client);
}

/* Checks a decoded PLAIN message and sends it to be verified. */
static void
sasl_plain (TdIrcClient *client,
            const char  *data,
            gsize        len)
{
  TdIrcServer *server = client->server;
  const char *authzid = data, *authcid, *password, *end = data + len;
  const char *account, *hash = NULL;

  authcid = memchr (authzid, '\0', len);
  if (authcid == NULL || ++authcid >= end)
    {
      sasl_fail (client, "malformed PLAIN message");
      return;
    }
  password = memchr (authcid, '\0', end - authcid);
  if (password == NULL)
    {
      sasl_fail (client, "malformed PLAIN message");
      return;
    }
  password++;
  if (memchr (password, '\0', end - password) != NULL || *authcid == '\0' ||
      (*authzid != '\0' && !td_irc_equal (authzid, authcid)))
    {
      sasl_fail (client, "malformed PLAIN message");
      return;
    }

  if (!td_irc_accounts_login_allowed (server->accounts, authcid, client->ip, g_get_real_time ()))
    {
      sasl_fail (client, "too many failed attempts, try again later");
      return;
    }
  account = td_irc_accounts_lookup (server->accounts, authcid, &hash);
  if (account == NULL)
    {
      td_irc_accounts_login_failed (server->accounts, authcid, client->ip, g_get_real_time ());
      sasl_fail (client, NULL);
      return;
    }
  {
    g_autofree char *pw = g_strndup (password, end - password);

    _td_irc_push_auth_task (client, FALSE, account, pw, hash);
    memset (pw, 0, strlen (pw));
  }
}

static void
td_irc_cmd_authenticate (TdIrcClient        *client,
                         const TdIrcMessage *message)
{
  const char *arg = message->params[0];

  if (client->account != NULL)
    {
      _td_irc_numeric (client, "907", ":You have already authenticated using SASL");
      return;
    }
  if (client->auth_pending)
    return;
  if (g_str_equal (arg, "*"))
    {
      sasl_reset (client);
      _td_irc_numeric (client, "906", ":SASL authentication aborted");
      return;
    }
  if (!client->sasl_started)
    {
      if (g_ascii_strcasecmp (arg, "PLAIN") != 0)
        {
          _td_irc_numeric (client, "908", "PLAIN :are available SASL mechanisms");
          _td_irc_numeric (client, "904", ":SASL authentication failed");
          return;
        }
      client->sasl_started = TRUE;
      client->sasl_buf = g_string_new (NULL);
      _td_irc_send (client, "AUTHENTICATE +");
      return;
    }

  if (strlen (arg) > TD_IRC_SASL_CHUNK ||
      client->sasl_buf->len + strlen (arg) > TD_IRC_SASL_MAX)
    {
      sasl_reset (client);
      _td_irc_numeric (client, "905", ":SASL message too long");
      return;
    }
  if (!g_str_equal (arg, "+"))
    g_string_append (client->sasl_buf, arg);
  /* A full 400-byte chunk means more follows. */
  if (strlen (arg) == TD_IRC_SASL_CHUNK)
    return;

  {
    g_autofree guchar *decoded = NULL;
    gsize len = 0;

    for (gsize i = 0; i < client->sasl_buf->len; i++)
      {
        char c = client->sasl_buf->str[i];

        if (!g_ascii_isalnum (c) && c != '+' && c != '/' && c != '=')
          {
            sasl_fail (client, "invalid base64");
            return;
          }
      }
    if (client->sasl_buf->len % 4 != 0)
      {
        sasl_fail (client, "invalid base64");
        return;
      }
    decoded = g_base64_decode (client->sasl_buf->str, &len);
    sasl_reset (client);
    sasl_plain (client, (const char *) decoded, len);
    if (decoded != NULL)
      memset (decoded, 0, len);
  }
}

static void
td_irc_cmd_register (TdIrcClient        *client,
                     const TdIrcMessage *message)
{
  TdIrcServer *server = client->server;
  const char *account = message->params[0];
  const char *password = message->params[2];
  TdIrcClient *holder;

  if (g_str_equal (account, "*"))
    {
      if (client->nick == NULL)
        {
          _td_irc_send (client, "FAIL REGISTER NEED_NICK * :Send NICK before REGISTER");
          return;
        }
      account = client->nick;
    }
  if (client->account != NULL)
    {
      _td_irc_send (client, "FAIL REGISTER ALREADY_AUTHENTICATED %s :You are already logged in",
                    client->account);
      return;
    }
  if (client->auth_pending)
    {
      _td_irc_send (client, "FAIL REGISTER TEMPORARILY_UNAVAILABLE %s :Another request is in progress", account);
      return;
    }
  if (!td_irc_nick_is_valid (account, TD_IRC_NICKLEN))
    {
      _td_irc_send (client, "FAIL REGISTER BAD_ACCOUNT_NAME %s :Account names follow the nick rules", "*");
      return;
    }
  holder = g_hash_table_lookup (server->nicks, account);
  if (holder != NULL && holder != client)
    {
      _td_irc_send (client, "FAIL REGISTER BAD_ACCOUNT_NAME %s :That nickname is in use by someone else", account);
      return;
    }
  if (strlen (password) < TD_IRC_ACCOUNT_MIN_PASSWORD || strlen (password) > TD_IRC_ACCOUNT_MAX_PASSWORD)
    {
      _td_irc_send (client, "FAIL REGISTER WEAK_PASSWORD %s :Passwords must be %d to %d bytes long",
                    account, TD_IRC_ACCOUNT_MIN_PASSWORD, TD_IRC_ACCOUNT_MAX_PASSWORD);
      return;
    }
  if (!td_irc_accounts_reserve (server->accounts, account))
    {
      _td_irc_send (client, "FAIL REGISTER ACCOUNT_EXISTS %s :Account already exists", account);
      return;
    }
  _td_irc_push_auth_task (client, TRUE, account, password, NULL);
}

/* The answer of a hash (REGISTER) or verify (SASL) task: @hash is the new
 * hash for REGISTER, @ok tells success. */
void
_td_irc_auth_done (TdIrcClient *client,
                   gboolean     register_account,
                   const char  *account,
                   const char  *hash,
                   gboolean     ok)
{
  TdIrcServer *server = client->server;

  if (register_account)
    {
      td_irc_accounts_unreserve (server->accounts, account);
      if (!ok || !td_irc_accounts_add (server->accounts, account, hash, TRUE))
        _td_irc_send (client, "FAIL REGISTER TEMPORARILY_UNAVAILABLE %s :Could not create the account", account);
      else
        {
          /* Success is said once the account is on disk. */
          _td_irc_hold_until_durable (client);
          _td_irc_send (client, ":%s REGISTER SUCCESS %s :Account created", SERVER_NAME (client), account);
          logged_in (client, account);
        }
    }
  else if (ok)
    {
      logged_in (client, account);
      _td_irc_numeric (client, "903", ":SASL authentication successful");
    }
  else
    {
      td_irc_accounts_login_failed (server->accounts, account, client->ip, g_get_real_time ());
      sasl_fail (client, NULL);
    }
  _td_irc_try_register (client);
}

/* ------------------------------------------------------------------ */
/* Channels: JOIN PART TOPIC NAMES LIST KICK INVITE                    */
/* ------------------------------------------------------------------ */

static void
part_all (TdIrcClient *client)
{
  g_autoptr(GList) channels = g_hash_table_get_keys (client->channels);

  for (GList *l = channels; l != NULL; l = l->next)
    {
      TdIrcChannel *channel = l->data;

      channel_send_from (channel, client, NULL, "PART %s", channel->name);
      _td_irc_channel_remove (channel, client);
    }
}

static void
join_one (TdIrcClient *client,
          const char  *name,
          const char  *key)
{
  TdIrcServer *server = client->server;
  TdIrcChannel *channel;
  TdIrcMember *member;
  g_autofree char *folded_nick = NULL;

  if (!td_irc_channel_is_valid (name, TD_IRC_CHANNELLEN))
    {
      _td_irc_numeric (client, "403", "%s :No such channel", name);
      return;
    }
  channel = channel_lookup (server, name);
  if (channel != NULL && channel_member (channel, client) != NULL)
    return;
  if (g_hash_table_size (client->channels) >= server->config->max_channels)
    {
      _td_irc_numeric (client, "405", "%s :You have joined too many channels", name);
      return;
    }

  if (channel != NULL)
    {
      folded_nick = td_irc_casefold (client->nick);
      gboolean invited = g_hash_table_contains (channel->invites, folded_nick);

      if (channel->key != NULL && g_strcmp0 (channel->key, key) != 0)
        {
          _td_irc_numeric (client, "475", "%s :Cannot join channel (+k)", channel->name);
          return;
        }
      if (channel->limit > 0 && g_hash_table_size (channel->members) >= channel->limit)
        {
          _td_irc_numeric (client, "471", "%s :Cannot join channel (+l)", channel->name);
          return;
        }
      if ((channel->modes & CHAN_MODE_INVITE) && !invited)
        {
          _td_irc_numeric (client, "473", "%s :Cannot join channel (+i)", channel->name);
          return;
        }
      if (!invited && channel_is_banned (channel, client))
        {
          _td_irc_numeric (client, "474", "%s :Cannot join channel (+b)", channel->name);
          return;
        }
      g_hash_table_remove (channel->invites, folded_nick);
    }
  else
    channel = channel_new (server, name);

  member = g_new0 (TdIrcMember, 1);
  member->client = client;
  member->channel = channel;
  /* The first to join a channel is its operator. */
  member->flags = g_hash_table_size (channel->members) == 0 ? MEMBER_OP : 0;
  g_hash_table_insert (channel->members, client, member);
  g_hash_table_insert (client->channels, channel, member);

  channel_send_from (channel, client, NULL, "JOIN %s", channel->name);
  if (channel->topic != NULL)
    {
      _td_irc_numeric (client, "332", "%s :%s", channel->name, channel->topic);
      _td_irc_numeric (client, "333", "%s %s %" G_GINT64_FORMAT, channel->name,
                       channel->topic_setter, channel->topic_time);
    }
  send_names (client, channel);
}

static void
td_irc_cmd_join (TdIrcClient        *client,
                 const TdIrcMessage *message)
{
  g_auto(GStrv) names = NULL;
  g_auto(GStrv) keys = NULL;
  guint n_keys;

  if (g_str_equal (message->params[0], "0"))
    {
      part_all (client);
      return;
    }
  names = g_strsplit (message->params[0], ",", -1);
  keys = g_strsplit (message->n_params > 1 ? message->params[1] : "", ",", -1);
  n_keys = g_strv_length (keys);
  for (guint i = 0; names[i] != NULL && !client->dead; i++)
    if (*names[i] != '\0')
      join_one (client, names[i], i < n_keys && *keys[i] != '\0' ? keys[i] : NULL);
}

static void
td_irc_cmd_part (TdIrcClient        *client,
                 const TdIrcMessage *message)
{
  g_auto(GStrv) names = g_strsplit (message->params[0], ",", -1);
  const char *reason = message->n_params > 1 ? message->params[1] : NULL;

  for (guint i = 0; names[i] != NULL; i++)
    {
      TdIrcChannel *channel = channel_lookup (client->server, names[i]);

      if (channel == NULL)
        _td_irc_numeric (client, "403", "%s :No such channel", names[i]);
      else if (channel_member (channel, client) == NULL)
        _td_irc_numeric (client, "442", "%s :You're not on that channel", channel->name);
      else
        {
          if (reason != NULL)
            channel_send_from (channel, client, NULL, "PART %s :%.*s", channel->name, TD_IRC_KICKLEN, reason);
          else
            channel_send_from (channel, client, NULL, "PART %s", channel->name);
          _td_irc_channel_remove (channel, client);
        }
    }
}

static void
td_irc_cmd_topic (TdIrcClient        *client,
                  const TdIrcMessage *message)
{
  TdIrcChannel *channel = channel_lookup (client->server, message->params[0]);
  TdIrcMember *member;
  g_autofree char *topic = NULL;

  if (channel == NULL)
    {
      _td_irc_numeric (client, "403", "%s :No such channel", message->params[0]);
      return;
    }
  member = channel_member (channel, client);
  if (message->n_params < 2)
    {
      if (channel->topic == NULL)
        _td_irc_numeric (client, "331", "%s :No topic is set", channel->name);
      else
        {
          _td_irc_numeric (client, "332", "%s :%s", channel->name, channel->topic);
          _td_irc_numeric (client, "333", "%s %s %" G_GINT64_FORMAT, channel->name,
                           channel->topic_setter, channel->topic_time);
        }
      return;
    }
  if (member == NULL)
    {
      _td_irc_numeric (client, "442", "%s :You're not on that channel", channel->name);
      return;
    }
  if ((channel->modes & CHAN_MODE_TOPIC_OPS) && !(member->flags & MEMBER_OP))
    {
      _td_irc_numeric (client, "482", "%s :You're not channel operator", channel->name);
      return;
    }
  topic = g_utf8_make_valid (message->params[1], MIN (strlen (message->params[1]), TD_IRC_TOPICLEN));
  g_free (channel->topic);
  channel->topic = *topic != '\0' ? g_strdup (topic) : NULL;
  g_free (channel->topic_setter);
  channel->topic_setter = _td_irc_client_prefix (client);
  channel->topic_time = g_get_real_time () / G_USEC_PER_SEC;
  channel_send_from (channel, client, NULL, "TOPIC %s :%s", channel->name, topic);
}

static void
td_irc_cmd_names (TdIrcClient        *client,
                  const TdIrcMessage *message)
{
  g_auto(GStrv) names = NULL;

  if (message->n_params == 0)
    {
      _td_irc_numeric (client, "366", "* :End of /NAMES list.");
      return;
    }
  names = g_strsplit (message->params[0], ",", -1);
  for (guint i = 0; names[i] != NULL; i++)
    {
      TdIrcChannel *channel = channel_lookup (client->server, names[i]);

      if (channel != NULL)
        send_names (client, channel);
      else
        _td_irc_numeric (client, "366", "%s :End of /NAMES list.", names[i]);
    }
}

static void
list_one (TdIrcClient  *client,
          TdIrcChannel *channel)
{
  _td_irc_numeric (client, "322", "%s %u :%s", channel->name, g_hash_table_size (channel->members),
                   channel->topic ? channel->topic : "");
}

static void
td_irc_cmd_list (TdIrcClient        *client,
                 const TdIrcMessage *message)
{
  _td_irc_numeric (client, "321", "Channel :Users  Name");
  if (message->n_params > 0 && *message->params[0] != '\0')
    {
      g_auto(GStrv) names = g_strsplit (message->params[0], ",", -1);

      for (guint i = 0; names[i] != NULL; i++)
        {
          TdIrcChannel *channel = channel_lookup (client->server, names[i]);

          if (channel != NULL)
            list_one (client, channel);
        }
    }
  else
    {
      GHashTableIter iter;
      gpointer value;

      g_hash_table_iter_init (&iter, client->server->channels);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        list_one (client, value);
    }
  _td_irc_numeric (client, "323", ":End of /LIST");
}

static void
td_irc_cmd_kick (TdIrcClient        *client,
                 const TdIrcMessage *message)
{
  TdIrcServer *server = client->server;
  TdIrcChannel *channel = channel_lookup (server, message->params[0]);
  TdIrcMember *member;
  g_auto(GStrv) nicks = NULL;
  const char *reason = message->n_params > 2 ? message->params[2] : client->nick;

  if (channel == NULL)
    {
      _td_irc_numeric (client, "403", "%s :No such channel", message->params[0]);
      return;
    }
  member = channel_member (channel, client);
  if (member == NULL)
    {
      _td_irc_numeric (client, "442", "%s :You're not on that channel", channel->name);
      return;
    }
  if (!(member->flags & MEMBER_OP))
    {
      _td_irc_numeric (client, "482", "%s :You're not channel operator", channel->name);
      return;
    }
  nicks = g_strsplit (message->params[1], ",", TD_IRC_MAXTARGETS + 1);
  for (guint i = 0; nicks[i] != NULL && i < TD_IRC_MAXTARGETS; i++)
    {
      TdIrcClient *victim = g_hash_table_lookup (server->nicks, nicks[i]);

      if (victim == NULL || !victim->registered)
        {
          _td_irc_numeric (client, "401", "%s :No such nick/channel", nicks[i]);
          continue;
        }
      if (channel_member (channel, victim) == NULL)
        {
          _td_irc_numeric (client, "441", "%s %s :They aren't on that channel", victim->nick, channel->name);
          continue;
        }
      channel_send_from (channel, client, NULL, "KICK %s %s :%.*s", channel->name, victim->nick,
                         TD_IRC_KICKLEN, reason);
      _td_irc_channel_remove (channel, victim);
      /* The channel is gone if the operator kicked the last one (himself). */
      channel = channel_lookup (server, message->params[0]);
      if (channel == NULL)
        break;
    }
}

static void
td_irc_cmd_invite (TdIrcClient        *client,
                   const TdIrcMessage *message)
{
  TdIrcServer *server = client->server;
  TdIrcClient *target = g_hash_table_lookup (server->nicks, message->params[0]);
  TdIrcChannel *channel = channel_lookup (server, message->params[1]);
  TdIrcMember *member;

  if (target == NULL || !target->registered)
    {
      _td_irc_numeric (client, "401", "%s :No such nick/channel", message->params[0]);
      return;
    }
  if (channel == NULL)
    {
      _td_irc_numeric (client, "403", "%s :No such channel", message->params[1]);
      return;
    }
  member = channel_member (channel, client);
  if (member == NULL)
    {
      _td_irc_numeric (client, "442", "%s :You're not on that channel", channel->name);
      return;
    }
  if ((channel->modes & CHAN_MODE_INVITE) && !(member->flags & MEMBER_OP))
    {
      _td_irc_numeric (client, "482", "%s :You're not channel operator", channel->name);
      return;
    }
  if (channel_member (channel, target) != NULL)
    {
      _td_irc_numeric (client, "443", "%s %s :is already on channel", target->nick, channel->name);
      return;
    }
  g_hash_table_add (channel->invites, td_irc_casefold (target->nick));
  _td_irc_numeric (client, "341", "%s %s", target->nick, channel->name);
  _td_irc_send_from (target, client, "INVITE %s :%s", target->nick, channel->name);
  if (target->away != NULL)
    _td_irc_numeric (client, "301", "%s :%s", target->nick, target->away);
}

/* ------------------------------------------------------------------ */
/* MODE                                                                */
/* ------------------------------------------------------------------ */

static void
send_channel_modes (TdIrcClient  *client,
                    TdIrcChannel *channel)
{
  g_autoptr(GString) modes = g_string_new ("+");
  g_autoptr(GString) args = g_string_new (NULL);
  gboolean member = channel_member (channel, client) != NULL;

  if (channel->modes & CHAN_MODE_INVITE) g_string_append_c (modes, 'i');
  if (channel->key != NULL)
    {
      g_string_append_c (modes, 'k');
      /* The key is only shown to members. */
      g_string_append_printf (args, " %s", member ? channel->key : "*");
    }
  if (channel->limit > 0)
    {
      g_string_append_c (modes, 'l');
      g_string_append_printf (args, " %u", channel->limit);
    }
  if (channel->modes & CHAN_MODE_MODERATED) g_string_append_c (modes, 'm');
  if (channel->modes & CHAN_MODE_NO_OUTSIDE) g_string_append_c (modes, 'n');
  if (channel->modes & CHAN_MODE_TOPIC_OPS) g_string_append_c (modes, 't');
  _td_irc_numeric (client, "324", "%s %s%s", channel->name, modes->str, args->str);
  _td_irc_numeric (client, "329", "%s %" G_GINT64_FORMAT, channel->name, channel->created);
}

static void
channel_mode (TdIrcClient        *client,
              TdIrcChannel       *channel,
              const TdIrcMessage *message)
{
  TdIrcMember *member = channel_member (channel, client);
  const char *modestring = message->params[1];
  g_autoptr(GString) applied = g_string_new (NULL);
  g_autoptr(GString) applied_args = g_string_new (NULL);
  guint next_arg = 2, n_arg_modes = 0;
  gboolean adding = TRUE;
  char last_sign = 0;
  gboolean denied = FALSE;

  for (const char *p = modestring; *p != '\0'; p++)
    {
      char c = *p;
      const char *arg = NULL;
      guint flag = 0;

      if (c == '+' || c == '-')
        {
          adding = c == '+';
          continue;
        }
      switch (c)
        {
        case 'i': flag = CHAN_MODE_INVITE; break;
        case 'm': flag = CHAN_MODE_MODERATED; break;
        case 'n': flag = CHAN_MODE_NO_OUTSIDE; break;
        case 't': flag = CHAN_MODE_TOPIC_OPS; break;
        case 'o': case 'v': case 'k': case 'l': case 'b': break;
        default:
          _td_irc_numeric (client, "472", "%c :is unknown mode char to me", c);
          continue;
        }

      if (c == 'b' && next_arg >= message->n_params)
        {
          for (guint i = 0; i < channel->bans->len; i++)
            _td_irc_numeric (client, "367", "%s %s", channel->name, (const char *) g_ptr_array_index (channel->bans, i));
          _td_irc_numeric (client, "368", "%s :End of channel ban list", channel->name);
          continue;
        }
      if (c == 'o' || c == 'v' || c == 'b' || c == 'k' || (c == 'l' && adding))
        {
          if (next_arg >= message->n_params)
            {
              if (c == 'k' && !adding)
                arg = "*";
              else
                {
                  _td_irc_numeric (client, "461", "MODE :Not enough parameters");
                  continue;
                }
            }
          else
            arg = message->params[next_arg++];
          if (++n_arg_modes > TD_IRC_MAX_MODES)
            break;
        }

      if (member == NULL || !(member->flags & MEMBER_OP))
        {
          if (!denied)
            _td_irc_numeric (client, member == NULL ? "442" : "482", "%s :%s", channel->name,
                             member == NULL ? "You're not on that channel" : "You're not channel operator");
          denied = TRUE;
          continue;
        }

      if (flag != 0)
        {
          if (adding == ((channel->modes & flag) != 0))
            continue;
          channel->modes = adding ? channel->modes | flag : channel->modes & ~flag;
        }
      else if (c == 'o' || c == 'v')
        {
          TdIrcClient *target = g_hash_table_lookup (client->server->nicks, arg);
          TdIrcMember *target_member;
          guint bit = c == 'o' ? MEMBER_OP : MEMBER_VOICE;

          if (target == NULL)
            {
              _td_irc_numeric (client, "401", "%s :No such nick/channel", arg);
              continue;
            }
          target_member = channel_member (channel, target);
          if (target_member == NULL)
            {
              _td_irc_numeric (client, "441", "%s %s :They aren't on that channel", target->nick, channel->name);
              continue;
            }
          target_member->flags = adding ? target_member->flags | bit : target_member->flags & ~bit;
          arg = target->nick;
        }
      else if (c == 'k')
        {
          if (adding && (strchr (arg, ' ') != NULL || *arg == '\0' || strlen (arg) > 32))
            {
              _td_irc_numeric (client, "525", "%s :Key is not well-formed", channel->name);
              continue;
            }
          g_free (channel->key);
          channel->key = adding ? g_strdup (arg) : NULL;
        }
      else if (c == 'l')
        {
          if (adding)
            {
              guint64 limit = g_ascii_strtoull (arg, NULL, 10);

              if (limit == 0 || limit > G_MAXINT)
                continue;
              channel->limit = (guint) limit;
              arg = NULL;
              g_string_append_printf (applied_args, " %u", channel->limit);
            }
          else
            channel->limit = 0;
        }
      else if (c == 'b')
        {
          g_autofree char *mask = NULL;
          guint i;

          if (strchr (arg, '!') == NULL && strchr (arg, '@') == NULL)
            {
              g_autofree char *full = g_strdup_printf ("%s!*@*", arg);

              mask = td_irc_casefold (full);
            }
          else
            mask = td_irc_casefold (arg);
          for (i = 0; i < channel->bans->len; i++)
            if (g_str_equal (g_ptr_array_index (channel->bans, i), mask))
              break;
          if (adding && i == channel->bans->len && channel->bans->len < TD_IRC_MAX_BANS)
            g_ptr_array_add (channel->bans, g_strdup (mask));
          else if (!adding && i < channel->bans->len)
            g_ptr_array_remove_index (channel->bans, i);
          else
            continue;
          g_string_append_printf (applied_args, " %s", mask);
          arg = NULL;
        }

      if (last_sign != (adding ? '+' : '-'))
        {
          last_sign = adding ? '+' : '-';
          g_string_append_c (applied, last_sign);
        }
      g_string_append_c (applied, c);
      if (arg != NULL)
        g_string_append_printf (applied_args, " %s", arg);
    }

  if (applied->len > 0)
    channel_send_from (channel, client, NULL, "MODE %s %s%s", channel->name, applied->str, applied_args->str);
}

static void
td_irc_cmd_mode (TdIrcClient        *client,
                 const TdIrcMessage *message)
{
  const char *target = message->params[0];

  if (target[0] == '#')
    {
      TdIrcChannel *channel = channel_lookup (client->server, target);

      if (channel == NULL)
        _td_irc_numeric (client, "403", "%s :No such channel", target);
      else if (message->n_params < 2)
        send_channel_modes (client, channel);
      else
        channel_mode (client, channel, message);
      return;
    }

  if (!td_irc_equal (target, client->nick))
    {
      if (g_hash_table_lookup (client->server->nicks, target) == NULL)
        _td_irc_numeric (client, "401", "%s :No such nick/channel", target);
      else
        _td_irc_numeric (client, "502", ":Can't change mode for other users");
      return;
    }
  if (message->n_params < 2)
    {
      _td_irc_numeric (client, "221", "%s", client->invisible ? "+i" : "+");
      return;
    }
  {
    gboolean adding = TRUE, changed = FALSE, unknown = FALSE;
    gboolean was = client->invisible;

    for (const char *p = message->params[1]; *p != '\0'; p++)
      {
        if (*p == '+' || *p == '-')
          adding = *p == '+';
        else if (*p == 'i')
          client->invisible = adding;
        else
          unknown = TRUE;
      }
    changed = was != client->invisible;
    if (unknown)
      _td_irc_numeric (client, "501", ":Unknown MODE flag");
    if (changed)
      _td_irc_send_from (client, client, "MODE %s %ci", client->nick, client->invisible ? '+' : '-');
  }
}

/* ------------------------------------------------------------------ */
/* PRIVMSG NOTICE TAGMSG                                               */
/* ------------------------------------------------------------------ */

/* Collects the client-only (+) tags of @message, escaped, or NULL. */
static char *
client_tags (const TdIrcMessage *message)
{
  g_autoptr(GString) out = g_string_new (NULL);

  for (guint i = 0; i < message->n_tags; i++)
    {
      const TdIrcTag *tag = &message->tags[i];

      if (tag->key[0] != '+')
        continue;
      if (out->len > 0)
        g_string_append_c (out, ';');
      g_string_append (out, tag->key);
      if (tag->value != NULL)
        {
          g_string_append_c (out, '=');
          td_irc_tag_escape_append (out, tag->value);
        }
    }
  if (out->len == 0 || out->len > TD_IRC_MAX_CLIENT_TAGS)
    return NULL;
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* Returns TRUE if @client may speak in @channel (+n, +m, bans). */
static gboolean
can_send (TdIrcClient  *client,
          TdIrcChannel *channel)
{
  TdIrcMember *member = channel_member (channel, client);

  if (member == NULL)
    return !(channel->modes & CHAN_MODE_NO_OUTSIDE) && !(channel->modes & CHAN_MODE_MODERATED) &&
           !channel_is_banned (channel, client);
  if (member->flags & (MEMBER_OP | MEMBER_VOICE))
    return TRUE;
  if (channel->modes & CHAN_MODE_MODERATED)
    return FALSE;
  return !channel_is_banned (channel, client);
}

/* Cuts @text so that the relayed line fits the RFC's 510 bytes, on a
 * UTF-8 character boundary. */
static gsize
fit_text (const char *text,
          gsize       overhead)
{
  gsize len = strlen (text);
  gsize room = overhead < TD_IRC_MAX_LINE_CONTENT ? TD_IRC_MAX_LINE_CONTENT - overhead : 0;

  if (len <= room)
    return len;
  len = room;
  while (len > 0 && ((guchar) text[len] & 0xC0) == 0x80)
    len--;
  return len;
}

static void
relay (TdIrcClient        *client,
       const TdIrcMessage *message,
       const char         *verb)
{
  TdIrcServer *server = client->server;
  gboolean notice = g_str_equal (verb, "NOTICE");
  gboolean tagmsg = g_str_equal (verb, "TAGMSG");
  g_autofree char *prefix = NULL;
  g_autofree char *tags = NULL;
  g_auto(GStrv) targets = NULL;
  const char *text = NULL;

  if (message->n_params < 1 || *message->params[0] == '\0')
    {
      if (!notice)
        _td_irc_numeric (client, "411", ":No recipient given (%s)", verb);
      return;
    }
  if (!tagmsg)
    {
      if (message->n_params < 2 || *message->params[1] == '\0')
        {
          if (!notice)
            _td_irc_numeric (client, "412", ":No text to send");
          return;
        }
      text = message->params[1];
    }

  prefix = _td_irc_client_prefix (client);
  tags = client_tags (message);
  if (tagmsg && tags == NULL)
    return;
  targets = g_strsplit (message->params[0], ",", -1);
  if (g_strv_length (targets) > TD_IRC_MAXTARGETS)
    {
      _td_irc_numeric (client, "407", "%s :Too many recipients", message->params[0]);
      return;
    }
  client->last_message = g_get_monotonic_time ();

  for (guint t = 0; targets[t] != NULL && !client->dead; t++)
    {
      const char *target = targets[t];
      TdIrcChannel *channel = NULL;
      TdIrcClient *peer = NULL;
      g_autofree char *msgid = NULL;
      TdIrcEvent event;
      gsize text_len = 0;

      if (target[0] == '#')
        {
          channel = channel_lookup (server, target);
          if (channel == NULL)
            {
              if (!notice)
                _td_irc_numeric (client, "401", "%s :No such nick/channel", target);
              continue;
            }
          if (!can_send (client, channel))
            {
              if (!notice)
                _td_irc_numeric (client, "404", "%s :Cannot send to channel", channel->name);
              continue;
            }
          target = channel->name;
        }
      else
        {
          peer = g_hash_table_lookup (server->nicks, target);
          if (peer == NULL || !peer->registered)
            {
              if (!notice)
                _td_irc_numeric (client, "401", "%s :No such nick/channel", target);
              continue;
            }
          target = peer->nick;
        }

      msgid = _td_irc_new_msgid (server);
      _td_irc_event_init (&event, _td_irc_message_time (server));
      event.msgid = msgid;
      event.account = client->account;
      event.client_tags = tags;
      if (tagmsg)
        g_string_printf (event.body, ":%s TAGMSG %s\r\n", prefix, target);
      else
        {
          text_len = fit_text (text, strlen (prefix) + strlen (verb) + strlen (target) + 6);
          g_string_printf (event.body, ":%s %s %s :%.*s\r\n", prefix, verb, target, (int) text_len, text);
        }

      /* The echo, and whatever follows for this client, waits until the
       * message is on disk (td-irc-server.h says why). */
      if (!tagmsg)
        _td_irc_hold_until_durable (client);

      if (channel != NULL)
        {
          GHashTableIter iter;
          gpointer key;

          g_hash_table_iter_init (&iter, channel->members);
          while (g_hash_table_iter_next (&iter, &key, NULL))
            {
              TdIrcClient *member = key;

              if (member == client)
                continue;
              if (tagmsg && !(member->caps & CAP_MESSAGE_TAGS))
                continue;
              _td_irc_event_send (&event, member);
            }
        }
      else if (!tagmsg || (peer->caps & CAP_MESSAGE_TAGS))
        {
          _td_irc_event_send (&event, peer);
          if (peer->away != NULL && !notice && !tagmsg)
            _td_irc_numeric (client, "301", "%s :%s", peer->nick, peer->away);
        }

      if (client->caps & CAP_ECHO_MESSAGE)
        _td_irc_event_send (&event, client);

      if (!tagmsg)
        {
          TdChatHistoryEntry *entry = td_chat_history_entry_new ();

          entry->msgid = g_steal_pointer (&msgid);
          entry->time = event.time;
          entry->key = channel ? g_strdup (channel->folded) : td_chat_history_dm_key (client->nick, peer->nick);
          entry->target = g_strdup (target);
          entry->sender = g_strdup (prefix);
          entry->account = g_strdup (client->account);
          entry->command = g_strdup (verb);
          entry->text = g_strndup (text, text_len);
          entry->client_tags = g_strdup (tags);
          td_chat_history_add (server->history, entry);
          td_chat_history_entry_unref (entry);
        }
      _td_irc_event_clear (&event);
    }
}

static void
td_irc_cmd_privmsg (TdIrcClient        *client,
                    const TdIrcMessage *message)
{
  relay (client, message, "PRIVMSG");
}

static void
td_irc_cmd_notice (TdIrcClient        *client,
                   const TdIrcMessage *message)
{
  relay (client, message, "NOTICE");
}

static void
td_irc_cmd_tagmsg (TdIrcClient        *client,
                   const TdIrcMessage *message)
{
  relay (client, message, "TAGMSG");
}

/* ------------------------------------------------------------------ */
/* WHO WHOIS AWAY                                                      */
/* ------------------------------------------------------------------ */

static gboolean
shares_channel (TdIrcClient *a,
                TdIrcClient *b)
{
  GHashTableIter iter;
  gpointer key;

  if (a == b)
    return TRUE;
  g_hash_table_iter_init (&iter, a->channels);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (channel_member (key, b) != NULL)
      return TRUE;
  return FALSE;
}

static void
who_reply (TdIrcClient  *client,
           TdIrcClient  *who,
           TdIrcChannel *channel)
{
  g_autoptr(GString) flags = g_string_new (who->away ? "G" : "H");
  TdIrcMember *member = channel ? channel_member (channel, who) : NULL;

  if (member != NULL)
    append_prefixes (flags, client, member->flags);
  _td_irc_numeric (client, "352", "%s %s %s %s %s %s :0 %s", channel ? channel->name : "*",
                   who->user, who->host, SERVER_NAME (client), who->nick, flags->str,
                   who->realname ? who->realname : "");
}

static void
td_irc_cmd_who (TdIrcClient        *client,
                const TdIrcMessage *message)
{
  const char *mask = message->params[0];

  if (mask[0] == '#')
    {
      TdIrcChannel *channel = channel_lookup (client->server, mask);

      if (channel != NULL)
        {
          GHashTableIter iter;
          gpointer key;

          g_hash_table_iter_init (&iter, channel->members);
          while (g_hash_table_iter_next (&iter, &key, NULL))
            who_reply (client, key, channel);
        }
    }
  else
    {
      g_autofree char *folded = td_irc_casefold (mask);
      guint n = 0;

      for (GList *l = client->server->clients.head; l != NULL; l = l->next)
        {
          TdIrcClient *who = l->data;
          g_autofree char *nick = NULL;

          if (!who->registered || who->dead)
            continue;
          nick = td_irc_casefold (who->nick);
          if (!g_pattern_match_simple (folded, nick))
            continue;
          /* +i users are only listed to those who share a channel, or by exact nick. */
          if (who->invisible && !shares_channel (client, who) && !g_str_equal (folded, nick))
            continue;
          who_reply (client, who, NULL);
          /* Bounded: a WHO * on a big server must not queue megabytes. */
          if (++n >= 500)
            break;
        }
    }
  _td_irc_numeric (client, "315", "%s :End of /WHO list.", mask);
}

static void
td_irc_cmd_whois (TdIrcClient        *client,
                  const TdIrcMessage *message)
{
  const char *nick = message->params[message->n_params - 1];
  TdIrcClient *who = g_hash_table_lookup (client->server->nicks, nick);
  g_autoptr(GString) channels = g_string_new (NULL);
  GHashTableIter iter;
  gpointer key, value;

  if (who == NULL || !who->registered)
    {
      _td_irc_numeric (client, "401", "%s :No such nick/channel", nick);
      _td_irc_numeric (client, "318", "%s :End of /WHOIS list.", nick);
      return;
    }
  _td_irc_numeric (client, "311", "%s %s %s * :%s", who->nick, who->user, who->host,
                   who->realname ? who->realname : "");
  g_hash_table_iter_init (&iter, who->channels);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      TdIrcChannel *channel = key;

      if (channels->len + strlen (channel->name) > 400)
        break;
      if (channels->len > 0)
        g_string_append_c (channels, ' ');
      append_prefixes (channels, client, ((TdIrcMember *) value)->flags);
      g_string_append (channels, channel->name);
    }
  if (channels->len > 0)
    _td_irc_numeric (client, "319", "%s :%s", who->nick, channels->str);
  _td_irc_numeric (client, "312", "%s %s :%s", who->nick, SERVER_NAME (client), client->server->config->network_name);
  if (who->away != NULL)
    _td_irc_numeric (client, "301", "%s :%s", who->nick, who->away);
  if (who->account != NULL)
    _td_irc_numeric (client, "330", "%s %s :is logged in as", who->nick, who->account);
  _td_irc_numeric (client, "317", "%s %" G_GINT64_FORMAT " %" G_GINT64_FORMAT " :seconds idle, signon time",
                   who->nick, (g_get_monotonic_time () - who->last_message) / G_USEC_PER_SEC, who->signon);
  _td_irc_numeric (client, "318", "%s :End of /WHOIS list.", who->nick);
}

static void
td_irc_cmd_away (TdIrcClient        *client,
                 const TdIrcMessage *message)
{
  g_clear_pointer (&client->away, g_free);
  if (message->n_params > 0 && *message->params[0] != '\0')
    {
      client->away = g_utf8_make_valid (message->params[0], MIN (strlen (message->params[0]), TD_IRC_AWAYLEN));
      _td_irc_numeric (client, "306", ":You have been marked as being away");
      _td_irc_broadcast_peers (client, FALSE, CAP_AWAY_NOTIFY, "AWAY :%s", client->away);
    }
  else
    {
      _td_irc_numeric (client, "305", ":You are no longer marked as being away");
      _td_irc_broadcast_peers (client, FALSE, CAP_AWAY_NOTIFY, "AWAY");
    }
}

/* ------------------------------------------------------------------ */
/* CHATHISTORY                                                         */
/* ------------------------------------------------------------------ */

/* Returns TRUE if @text is a selector (`*` only with @allow_star); @sel
 * is filled either way and its msgid is the caller's to free. */
gboolean
_td_irc_parse_history_selector (const char            *text,
                                TdChatHistorySelector *sel,
                                gboolean               allow_star)
{
  memset (sel, 0, sizeof *sel);
  if (g_str_equal (text, "*"))
    return allow_star;
  if (g_str_has_prefix (text, "msgid="))
    {
      if (text[6] == '\0' || strlen (text) > 100)
        return FALSE;
      sel->type = TD_CHAT_HISTORY_SEL_MSGID;
      sel->msgid = g_strdup (text + 6);
      return TRUE;
    }
  if (g_str_has_prefix (text, "timestamp=") && td_irc_parse_time (text + 10, &sel->time))
    {
      sel->type = TD_CHAT_HISTORY_SEL_TIME;
      return TRUE;
    }
  return FALSE;
}

gboolean
_td_irc_parse_history_limit (const char *text,
                             guint      *limit)
{
  guint64 value;

  if (!g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT, &value, NULL))
    return FALSE;
  *limit = MIN ((guint) value, TD_IRC_CHATHISTORY_MAX);
  return TRUE;
}

/* A CHATHISTORY on its way; answered from memory at once or from the
 * disk later, always through the deferred-reply calls so that the label
 * and the order of answers hold either way. */
typedef struct
{
  TdIrcServer *server;
  guint64      client_id;
  char        *target;
  char        *label;
  /* TARGETS */
  guint        limit;
} HistoryRequest;

static HistoryRequest *
history_request_new (TdIrcClient *client,
                     const char  *target)
{
  HistoryRequest *request = g_new0 (HistoryRequest, 1);

  request->server = client->server;
  request->client_id = client->id;
  request->target = g_strdup (target);
  request->label = _td_irc_defer_reply (client);
  return request;
}

static void
history_request_free (HistoryRequest *request)
{
  g_free (request->target);
  g_free (request->label);
  g_free (request);
}

/* Sends @entries of @target; channel lines carry the channel's current
 * spelling, since stored ones keep only the casefolded name. */
static void
send_history (TdIrcClient *client,
              const char  *target,
              GPtrArray   *entries)
{
  g_autofree char *batch = NULL;
  g_autoptr(GString) line = g_string_new (NULL);

  if (client->caps & CAP_BATCH)
    {
      batch = _td_irc_new_batch_id (client->server);
      _td_irc_send (client, ":%s BATCH +%s chathistory %s", SERVER_NAME (client), batch, target);
    }
  for (guint i = 0; i < entries->len; i++)
    {
      TdChatHistoryEntry *entry = g_ptr_array_index (entries, i);
      gboolean any = FALSE;

      g_string_assign (line, "@");
      if (batch != NULL)
        {
          g_string_append_printf (line, "batch=%s", batch);
          any = TRUE;
        }
      if (client->caps & CAP_SERVER_TIME)
        {
          g_autofree char *time = td_irc_format_time (entry->time);

          g_string_append_printf (line, "%stime=%s", any ? ";" : "", time);
          any = TRUE;
        }
      if (client->caps & CAP_MESSAGE_TAGS)
        {
          g_string_append_printf (line, "%smsgid=%s", any ? ";" : "", entry->msgid);
          if (entry->client_tags != NULL)
            g_string_append_printf (line, ";%s", entry->client_tags);
          any = TRUE;
        }
      if ((client->caps & CAP_ACCOUNT_TAG) && entry->account != NULL)
        {
          g_string_append_printf (line, "%saccount=%s", any ? ";" : "", entry->account);
          any = TRUE;
        }
      if (any)
        g_string_append_c (line, ' ');
      else
        g_string_truncate (line, 0);
      g_string_append_printf (line, ":%s %s %s :%s\r\n", entry->sender, entry->command,
                              target[0] == '#' ? target : entry->target, entry->text);
      _td_irc_send_raw (client, line->str, line->len);
    }
  if (batch != NULL)
    _td_irc_send (client, ":%s BATCH -%s", SERVER_NAME (client), batch);
}

static void
history_reply_cb (GPtrArray *entries,
                  gpointer   user_data)
{
  HistoryRequest *request = user_data;
  TdIrcClient *client = g_hash_table_lookup (request->server->clients_by_id, &request->client_id);

  if (client != NULL)
    {
      _td_irc_deferred_begin (client, request->label);
      if (entries != NULL)
        send_history (client, request->target, entries);
      else
        _td_irc_send (client, "FAIL CHATHISTORY MESSAGE_ERROR %s :Messages could not be retrieved",
                      request->target);
      _td_irc_deferred_end (client, request->label);
    }
  g_clear_pointer (&entries, g_ptr_array_unref);
  history_request_free (request);
}

static gboolean
targets_filter (const char *key,
                gpointer    data)
{
  TdIrcClient *client = data;
  g_autofree char *nick = td_irc_casefold (client->nick);
  const char *sep = strstr (key, TD_CHAT_HISTORY_DM_SEPARATOR);

  if (sep == NULL)
    {
      TdIrcChannel *channel = g_hash_table_lookup (client->server->channels, key);

      return channel != NULL && channel_member (channel, client) != NULL;
    }
  return (strncmp (key, nick, sep - key) == 0 && (gsize) (sep - key) == strlen (nick)) ||
         g_str_equal (sep + 1, nick);
}

static gint
compare_target_times (gconstpointer a,
                      gconstpointer b)
{
  const TdChatHistoryTarget *ta = *(TdChatHistoryTarget * const *) a;
  const TdChatHistoryTarget *tb = *(TdChatHistoryTarget * const *) b;

  return ta->last_time < tb->last_time ? -1 : ta->last_time > tb->last_time;
}

/* Sends the targets of @all that @client may see, oldest first, at most
 * @limit. */
static void
send_targets (TdIrcClient *client,
              GPtrArray   *all,
              guint        limit)
{
  g_autoptr(GPtrArray) targets = g_ptr_array_new ();
  g_autofree char *batch = NULL;
  g_autofree char *nick = td_irc_casefold (client->nick);

  for (guint i = 0; i < all->len; i++)
    {
      TdChatHistoryTarget *target = g_ptr_array_index (all, i);

      if (targets_filter (target->key, client))
        g_ptr_array_add (targets, target);
    }
  g_ptr_array_sort (targets, compare_target_times);
  if (targets->len > limit)
    g_ptr_array_set_size (targets, limit);

  if (client->caps & CAP_BATCH)
    {
      batch = _td_irc_new_batch_id (client->server);
      _td_irc_send (client, ":%s BATCH +%s draft/chathistory-targets", SERVER_NAME (client), batch);
    }
  for (guint i = 0; i < targets->len; i++)
    {
      TdChatHistoryTarget *target = g_ptr_array_index (targets, i);
      const char *sep = strstr (target->key, TD_CHAT_HISTORY_DM_SEPARATOR);
      g_autofree char *name = NULL;
      g_autofree char *time = td_irc_format_time (target->last_time);

      if (sep == NULL)
        {
          TdIrcChannel *channel = g_hash_table_lookup (client->server->channels, target->key);

          name = g_strdup (channel ? channel->name : target->key);
        }
      else if (strncmp (target->key, nick, sep - target->key) == 0 && (gsize) (sep - target->key) == strlen (nick))
        name = g_strdup (sep + 1);
      else
        name = g_strndup (target->key, sep - target->key);
      if (batch != NULL)
        _td_irc_send (client, "@batch=%s :%s CHATHISTORY TARGETS %s %s", batch, SERVER_NAME (client), name, time);
      else
        _td_irc_send (client, ":%s CHATHISTORY TARGETS %s %s", SERVER_NAME (client), name, time);
    }
  if (batch != NULL)
    _td_irc_send (client, ":%s BATCH -%s", SERVER_NAME (client), batch);
}

static void
targets_reply_cb (GPtrArray *targets,
                  gpointer   user_data)
{
  HistoryRequest *request = user_data;
  TdIrcClient *client = g_hash_table_lookup (request->server->clients_by_id, &request->client_id);

  if (client != NULL)
    {
      _td_irc_deferred_begin (client, request->label);
      if (targets != NULL)
        send_targets (client, targets, request->limit);
      else
        _td_irc_send (client, "FAIL CHATHISTORY MESSAGE_ERROR TARGETS :Messages could not be retrieved");
      _td_irc_deferred_end (client, request->label);
    }
  g_clear_pointer (&targets, g_ptr_array_unref);
  history_request_free (request);
}

/* Targets come from memory while the rings cover the window, else from
 * the disk (a window older than what the rings kept). */
static void
chathistory_targets (TdIrcClient        *client,
                     const TdIrcMessage *message)
{
  TdChatHistorySelector a, b;
  guint limit;
  HistoryRequest *request;

  if (message->n_params < 4 || !_td_irc_parse_history_selector (message->params[1], &a, FALSE) ||
      !_td_irc_parse_history_selector (message->params[2], &b, FALSE) ||
      a.type != TD_CHAT_HISTORY_SEL_TIME || b.type != TD_CHAT_HISTORY_SEL_TIME ||
      !_td_irc_parse_history_limit (message->params[3], &limit))
    {
      g_free (a.msgid);
      g_free (b.msgid);
      _td_irc_send (client, "FAIL CHATHISTORY INVALID_PARAMS TARGETS :Invalid parameters");
      return;
    }
  request = history_request_new (client, "TARGETS");
  request->limit = limit;
  td_chat_history_targets_async (client->server->history, a.time, b.time, targets_reply_cb, request);
}

static void
td_irc_cmd_chathistory (TdIrcClient        *client,
                        const TdIrcMessage *message)
{
  TdIrcServer *server = client->server;
  g_autofree char *sub = g_ascii_strup (message->params[0], -1);
  TdChatHistoryQuery query = { 0 };
  const char *target;
  g_autofree char *key = NULL;
  guint n_needed;
  HistoryRequest *request;

  if (g_str_equal (sub, "TARGETS"))
    {
      chathistory_targets (client, message);
      return;
    }
  if (g_str_equal (sub, "LATEST")) query.kind = TD_CHAT_HISTORY_LATEST;
  else if (g_str_equal (sub, "BEFORE")) query.kind = TD_CHAT_HISTORY_BEFORE;
  else if (g_str_equal (sub, "AFTER")) query.kind = TD_CHAT_HISTORY_AFTER;
  else if (g_str_equal (sub, "AROUND")) query.kind = TD_CHAT_HISTORY_AROUND;
  else if (g_str_equal (sub, "BETWEEN")) query.kind = TD_CHAT_HISTORY_BETWEEN;
  else
    {
      _td_irc_send (client, "FAIL CHATHISTORY INVALID_PARAMS %s :Unknown subcommand", message->params[0]);
      return;
    }

  n_needed = query.kind == TD_CHAT_HISTORY_BETWEEN ? 5 : 4;
  if (message->n_params < n_needed ||
      !_td_irc_parse_history_selector (message->params[2], &query.a, query.kind == TD_CHAT_HISTORY_LATEST) ||
      (query.kind == TD_CHAT_HISTORY_BETWEEN && !_td_irc_parse_history_selector (message->params[3], &query.b, FALSE)) ||
      !_td_irc_parse_history_limit (message->params[n_needed - 1], &query.limit))
    {
      td_chat_history_query_clear (&query);
      _td_irc_send (client, "FAIL CHATHISTORY INVALID_PARAMS %s :Invalid parameters", sub);
      return;
    }

  target = message->params[1];
  if (target[0] == '#')
    {
      TdIrcChannel *channel = channel_lookup (server, target);

      /* History of a channel is for its members. */
      if (channel == NULL || channel_member (channel, client) == NULL)
        {
          td_chat_history_query_clear (&query);
          _td_irc_send (client, "FAIL CHATHISTORY INVALID_TARGET %s %s :Messages could not be retrieved",
                        sub, target);
          return;
        }
      key = g_strdup (channel->folded);
      target = channel->name;
    }
  else if (td_irc_nick_is_valid (target, TD_IRC_NICKLEN))
    key = td_chat_history_dm_key (client->nick, target);
  else
    {
      td_chat_history_query_clear (&query);
      _td_irc_send (client, "FAIL CHATHISTORY INVALID_TARGET %s %s :Messages could not be retrieved",
                    sub, target);
      return;
    }

  request = history_request_new (client, target);
  td_chat_history_query_async (server->history, key, &query, history_reply_cb, request);
  td_chat_history_query_clear (&query);
}

/* ------------------------------------------------------------------ */
/* Table                                                               */
/* ------------------------------------------------------------------ */

static const TdIrcCommand commands[] = {
  { "AUTHENTICATE", td_irc_cmd_authenticate, 1, FALSE },
  { "AWAY", td_irc_cmd_away, 0, TRUE },
  { "CAP", td_irc_cmd_cap, 1, FALSE },
  { "CHATHISTORY", td_irc_cmd_chathistory, 3, TRUE },
  { "INVITE", td_irc_cmd_invite, 2, TRUE },
  { "JOIN", td_irc_cmd_join, 1, TRUE },
  { "KICK", td_irc_cmd_kick, 2, TRUE },
  { "LIST", td_irc_cmd_list, 0, TRUE },
  { "MODE", td_irc_cmd_mode, 1, TRUE },
  { "MOTD", td_irc_cmd_motd, 0, TRUE },
  { "NAMES", td_irc_cmd_names, 0, TRUE },
  { "NICK", td_irc_cmd_nick, 0, FALSE },
  { "NOTICE", td_irc_cmd_notice, 0, TRUE },
  { "PART", td_irc_cmd_part, 1, TRUE },
  { "PASS", td_irc_cmd_pass, 1, FALSE },
  { "PING", td_irc_cmd_ping, 0, FALSE },
  { "PONG", td_irc_cmd_pong, 0, FALSE },
  { "PRIVMSG", td_irc_cmd_privmsg, 0, TRUE },
  { "QUIT", td_irc_cmd_quit, 0, FALSE },
  { "REGISTER", td_irc_cmd_register, 3, FALSE },
  { "TAGMSG", td_irc_cmd_tagmsg, 0, TRUE },
  { "TOPIC", td_irc_cmd_topic, 1, TRUE },
  { "USER", td_irc_cmd_user, 4, FALSE },
  { "WHO", td_irc_cmd_who, 1, TRUE },
  { "WHOIS", td_irc_cmd_whois, 1, TRUE },
};

void
_td_irc_commands_register (TdIrcServer *server)
{
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    g_hash_table_insert (server->commands, (gpointer) commands[i].name, (gpointer) &commands[i]);
}
