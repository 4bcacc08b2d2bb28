/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "chat/td-chat-history.h"
#include "chat/td-irc-accounts.h"
#include "store/td-recorder.h"

G_BEGIN_DECLS

/*
 * TdIrcServer: an IRCv3 server (RFC 1459/2812 plus CAP, message-tags,
 * server-time, msgid, echo-message, batch, labeled-response, multi-prefix,
 * account-tag, away-notify, sasl PLAIN, draft/account-registration and
 * draft/chathistory). It runs on one GMainContext with non-blocking
 * sockets, plain or TLS; password hashing goes to the task loop.
 *
 * With a recorder (td_irc_server_set_recorder()) history and accounts are
 * kept in the server database. What the server acknowledges is durable:
 * every line it sends to a client after that client's PRIVMSG or NOTICE
 * (the echo-message echo, a labeled ACK, the PONG of a later PING, any
 * reply to a later command) and the `REGISTER SUCCESS` of a new account
 * leave only once the recorder has committed and checkpointed the
 * message or the account. That client's output is held back until then
 * (one flush covers every save made while the previous one was in
 * flight), others receive the message at once.
 */

/* Defaults; every one can be changed in TdIrcServerConfig. */
#define TD_IRC_DEFAULT_SERVER_NAME      "tidings.local"
#define TD_IRC_DEFAULT_NETWORK          "Tidings"
/* Sustained rate of a client under flood control: one line per this many
 * milliseconds (two lines a second is faster than anyone types)... */
#define TD_IRC_DEFAULT_FLOOD_PENALTY_MS 500
/* ...with bursts of up to window / penalty lines (20: a whole connection
 * handshake with SASL and a few JOINs) before the client is throttled. */
#define TD_IRC_DEFAULT_FLOOD_WINDOW_MS  10000
/* Unprocessed input a throttled client may pile up before it is
 * disconnected for flooding ("Excess Flood"). */
#define TD_IRC_DEFAULT_FLOOD_BACKLOG    (32 * 1024)
/* Connections from one address. Everything on a desktop comes from
 * 127.0.0.1, so this is generous; it still stops one runaway script from
 * taking every file descriptor. */
#define TD_IRC_DEFAULT_MAX_PER_IP       256
/* All connections; well under the usual 1024 open-file limit. */
#define TD_IRC_DEFAULT_MAX_CLIENTS      900
/* Channels one client may be in (CHANLIMIT). */
#define TD_IRC_DEFAULT_MAX_CHANNELS     50
/* Idle time before the server sends PING, and how long it then waits for
 * any input before dropping the client as dead. */
#define TD_IRC_DEFAULT_PING_INTERVAL_S  90
#define TD_IRC_DEFAULT_PING_TIMEOUT_S   60
/* Time allowed to finish registration (NICK, USER, CAP END, SASL). */
#define TD_IRC_DEFAULT_REGISTER_TIMEOUT_S 60
/* Time a client may keep a registered nick without logging in to it
 * before it is renamed to Guest<N>. */
#define TD_IRC_DEFAULT_NICK_GRACE_S     30
/* Output queued for one client before it is dropped ("SendQ exceeded"):
 * a full CHATHISTORY answer is about 0.5 MiB, and a client this far
 * behind is not reading. */
#define TD_IRC_DEFAULT_SENDQ_MAX        (4 * 1024 * 1024)

typedef struct
{
  char     *server_name;
  char     *network_name;
  char     *motd;                 /* nullable: ERR_NOMOTD */
  char     *password;             /* nullable: no PASS needed */
  gboolean  flood_control;
  guint     flood_penalty_ms;
  guint     flood_window_ms;
  gsize     flood_backlog;
  guint     max_per_ip;
  guint     max_clients;
  guint     max_channels;
  guint     ping_interval_s;
  guint     ping_timeout_s;
  guint     register_timeout_s;
  guint     nick_grace_s;
  gsize     sendq_max;
  guint     history_ring;
  char     *filehost;             /* nullable: FILEHOST in ISUPPORT (the file host's URL) */
} TdIrcServerConfig;

typedef struct _TdIrcServer TdIrcServer;

TdIrcServerConfig *td_irc_server_config_new     (void);
TdIrcServerConfig *td_irc_server_config_copy    (const TdIrcServerConfig *config);
void               td_irc_server_config_free    (TdIrcServerConfig *config);

TdIrcServer       *td_irc_server_new            (const TdIrcServerConfig *config);
gboolean           td_irc_server_listen         (TdIrcServer       *server,
                                                 GMainContext      *context,
                                                 const char        *address,
                                                 int                port,
                                                 GError           **error);
gboolean           td_irc_server_listen_tls     (TdIrcServer       *server,
                                                 GMainContext      *context,
                                                 const char        *address,
                                                 int                port,
                                                 GTlsCertificate   *certificate,
                                                 GError           **error);
void               td_irc_server_set_recorder   (TdIrcServer       *server,
                                                 TdRecorder        *recorder);
gboolean           td_irc_server_is_ready       (TdIrcServer       *server);
guint16            td_irc_server_get_port       (TdIrcServer       *server);
guint16            td_irc_server_get_tls_port   (TdIrcServer       *server);
TdChatHistory     *td_irc_server_get_history    (TdIrcServer       *server);
TdIrcAccounts     *td_irc_server_get_accounts   (TdIrcServer       *server);
guint              td_irc_server_get_n_clients  (TdIrcServer       *server);
void               td_irc_server_set_filehost   (TdIrcServer       *server,
                                                 const char        *url);
void               td_irc_server_stop           (TdIrcServer       *server);
void               td_irc_server_free           (TdIrcServer       *server);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdIrcServerConfig, td_irc_server_config_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdIrcServer, td_irc_server_free)

G_END_DECLS
