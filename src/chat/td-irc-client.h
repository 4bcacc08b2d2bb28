/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "core/td-mailbox.h"
#include "core/td-timers.h"

G_BEGIN_DECLS

/*
 * TdIrcClient: one connection to an IRC network.
 *
 * The connection lives on a network thread of its own, with its own
 * GMainContext; the owner (the GTK main thread, or a test) never touches a
 * socket. The owner calls the functions below, which only send mail to the
 * network thread, and receives what happens as TdIrcEventBatch mail on its
 * own mailbox: one mail per dispatch of the network thread, so a burst of
 * lines costs the owner one wake-up.
 *
 * The client keeps the state that the protocol implies (its nick, the
 * channels it is in with their topics and members, the queries the owner
 * opened) and restores it after a reconnect. A channel exists for the
 * client only once the server has echoed the JOIN; nothing is made up.
 * Every numeric, error and notice is delivered as an event, so the owner
 * can show it. Input from the server is untrusted: a line that does not
 * parse becomes an error event, and a server that only speaks garbage is
 * disconnected; neither ever crashes the client.
 */

/* How many lines that do not parse are tolerated on one connection before
 * the server is taken for something that does not speak IRC at all. */
#define TD_IRC_CLIENT_MAX_BAD_LINES     20
/* Without any input for this long the client sends a PING ... */
#define TD_IRC_CLIENT_PING_INTERVAL_S   120
/* ... and if nothing at all arrives for this much longer, the connection
 * is dead (a suspended laptop, a NAT that forgot us): reconnect. */
#define TD_IRC_CLIENT_PING_TIMEOUT_S    60
/* Connect and TLS handshake, and registration after that. */
#define TD_IRC_CLIENT_CONNECT_TIMEOUT_S 30
/* How long a QUIT may take to leave the socket when the client closes. */
#define TD_IRC_CLIENT_QUIT_FLUSH_MS     500
/* A user@host is at most this long when the server has not told us ours
 * yet; used to leave room for the prefix the server adds when relaying
 * our messages, so a split line is never truncated by the server. */
#define TD_IRC_CLIENT_GUESS_USERHOST    (10 + 1 + 63)
/* Lines of CHATHISTORY one request asks for when the caller says 0. */
#define TD_IRC_CLIENT_HISTORY_PAGE      100

typedef enum
{
  TD_IRC_STATE_DISCONNECTED,   /* not connected and not trying */
  TD_IRC_STATE_CONNECTING,     /* resolving, connecting, TLS handshake */
  TD_IRC_STATE_REGISTERING,    /* connected: CAP, SASL, NICK/USER */
  TD_IRC_STATE_CONNECTED,      /* welcomed (001) */
  TD_IRC_STATE_RETRYING,       /* lost; the next attempt is in retry_in_ms */
} TdIrcState;

typedef enum
{
  TD_IRC_EVENT_STATE,        /* state, retry_in_ms, text = reason; leaving CONNECTED
                              * leaves every channel (they are rejoined later) */
  TD_IRC_EVENT_REGISTERED,   /* nick = our nick, text = network name when this
                              * connection's ISUPPORT gave it before the welcome
                              * (servers send 005 after 001: usually NULL) */
  TD_IRC_EVENT_NICK_IN_USE,  /* text = the nick refused, nick = the one tried next */
  TD_IRC_EVENT_CAPS,         /* params = the capabilities enabled */
  TD_IRC_EVENT_MESSAGE,      /* PRIVMSG: target, nick, text, msgid, time */
  TD_IRC_EVENT_ACTION,       /* CTCP ACTION (/me) */
  TD_IRC_EVENT_NOTICE,       /* target NULL: from the server */
  TD_IRC_EVENT_CTCP,         /* other CTCP; command = the verb, text = its argument */
  TD_IRC_EVENT_JOINED,       /* we joined target (after the server's echo) */
  TD_IRC_EVENT_PARTED,       /* we left target (PART, or KICK with flags KICKED) */
  TD_IRC_EVENT_JOIN,         /* nick joined target */
  TD_IRC_EVENT_PART,         /* nick left target, text = reason */
  TD_IRC_EVENT_QUIT,         /* nick quit; one event per buffer the nick was in */
  TD_IRC_EVENT_KICK,         /* nick kicked params[0] from target, text = reason */
  TD_IRC_EVENT_NICK,         /* nick is now text; one event per buffer (target) */
  TD_IRC_EVENT_MODE,         /* nick set text (modes and arguments) on target */
  TD_IRC_EVENT_TOPIC,        /* topic of target is text; nick set it (may be NULL) */
  TD_IRC_EVENT_MEMBERS,      /* members of target (a snapshot, sorted) */
  TD_IRC_EVENT_AWAY,         /* nick is away (text = message) or back (text NULL) */
  TD_IRC_EVENT_INVITE,       /* nick invites us to target */
  TD_IRC_EVENT_NUMERIC,      /* command = "NNN", params, text = readable form; target if it names a buffer */
  TD_IRC_EVENT_ERROR,        /* ERROR, FAIL, a protocol error or a connection error; text */
  TD_IRC_EVENT_HISTORY,      /* CHATHISTORY answer for target: history (events, oldest first) */
  TD_IRC_EVENT_RAW,          /* any other command from the server: command, params, text */
  TD_IRC_EVENT_FILEHOST,     /* the network's file host changed (ISUPPORT FILEHOST=URL):
                              * text = the URL, NULL when it has none (also sent when a
                              * new connection starts after one that had a file host) */
} TdIrcEventType;

typedef enum
{
  TD_IRC_EVENT_FLAG_SELF    = 1 << 0,   /* sent by us (echo or local echo) */
  TD_IRC_EVENT_FLAG_HISTORY = 1 << 1,   /* replayed history, not live */
  TD_IRC_EVENT_FLAG_KICKED  = 1 << 2,   /* PARTED because of a KICK */
  TD_IRC_EVENT_FLAG_QUERY   = 1 << 3,   /* target is a private query */
  TD_IRC_EVENT_FLAG_FATAL   = 1 << 4,   /* ERROR that ended the connection */
  TD_IRC_EVENT_FLAG_BEFORE  = 1 << 5,   /* HISTORY answers a BEFORE request */
} TdIrcEventFlags;

typedef struct
{
  char     *nick;
  char     *prefix;     /* the member's prefix characters, best first ("@+"), or "" */
  gboolean  away;
} TdIrcMemberInfo;

typedef struct _TdIrcEvent TdIrcEvent;

struct _TdIrcEvent
{
  TdIrcEventType  type;
  guint           flags;        /* TdIrcEventFlags */
  gint64          time;         /* unix microseconds: server-time if given, else local */
  char           *target;       /* the buffer: channel or query nick; NULL = the server */
  char           *nick;         /* who did it */
  char           *userhost;     /* user@host of @nick, when known */
  char           *account;      /* account-tag, when known */
  char           *text;         /* valid UTF-8 */
  char           *msgid;
  char           *command;      /* as received ("PRIVMSG", "433", ...) */
  GStrv           params;       /* as received, valid UTF-8 */
  TdIrcState      state;        /* STATE */
  guint           retry_in_ms;  /* STATE, when RETRYING */
  GPtrArray      *members;      /* MEMBERS: TdIrcMemberInfo */
  GPtrArray      *history;      /* HISTORY: TdIrcEvent */
};

/* What the owner receives: every event of one network-thread dispatch. */
typedef struct
{
  guint      network;   /* TdIrcClientConfig.network, to tell clients apart */
  GPtrArray *events;    /* TdIrcEvent, in order */
} TdIrcEventBatch;

typedef struct
{
  guint          network;          /* the owner's tag, copied into every batch */
  char          *host;
  guint16        port;
  gboolean       tls;
  gboolean       tls_insecure;     /* accept any certificate (self-signed test servers) */
  char          *password;         /* PASS; NULL for none */
  char          *nick;
  char          *username;         /* NULL: the nick */
  char          *realname;         /* NULL: the nick */
  char          *sasl_account;     /* SASL PLAIN when both are set and the server offers it */
  char          *sasl_password;
  gboolean       reconnect;        /* reconnect with backoff when the connection is lost */
  TdRetryPolicy  retry;            /* zero: TD_RETRY_POLICY_DEFAULT */
  guint          ping_interval_s;  /* zero: TD_IRC_CLIENT_PING_INTERVAL_S */
  guint          ping_timeout_s;   /* zero: TD_IRC_CLIENT_PING_TIMEOUT_S */
} TdIrcClientConfig;

typedef struct _TdIrcClient TdIrcClient;

TdIrcClientConfig *td_irc_client_config_new     (void);
TdIrcClientConfig *td_irc_client_config_copy    (const TdIrcClientConfig *config);
void               td_irc_client_config_free    (TdIrcClientConfig       *config);

void               td_irc_member_info_free      (TdIrcMemberInfo         *member);
TdIrcEvent        *td_irc_event_new             (TdIrcEventType           type);
void               td_irc_event_free            (TdIrcEvent              *event);
void               td_irc_event_batch_free      (TdIrcEventBatch         *batch);
const char        *td_irc_state_to_string       (TdIrcState               state);

/* Starts the network thread; batches of events go to @owner as mail of
 * @kind. Does not connect until td_irc_client_connect(). */
TdIrcClient       *td_irc_client_new            (const TdIrcClientConfig *config,
                                                 TdMailboxId              owner,
                                                 guint                    kind);
/* Says QUIT (with @reason, if connected), stops the thread and frees. */
void               td_irc_client_free           (TdIrcClient             *client,
                                                 const char              *reason);

void               td_irc_client_connect        (TdIrcClient             *client);
void               td_irc_client_disconnect     (TdIrcClient             *client,
                                                 const char              *reason);
guint              td_irc_client_get_network    (TdIrcClient             *client);

/* Raw line, sent as it is (after removing CR and LF). */
void               td_irc_client_send_raw       (TdIrcClient             *client,
                                                 const char              *line);
/* PRIVMSG, NOTICE and ACTION split @text into lines and every line into
 * messages that fit in 512 bytes once the server has prefixed them. */
void               td_irc_client_privmsg        (TdIrcClient             *client,
                                                 const char              *target,
                                                 const char              *text);
void               td_irc_client_notice         (TdIrcClient             *client,
                                                 const char              *target,
                                                 const char              *text);
void               td_irc_client_action         (TdIrcClient             *client,
                                                 const char              *target,
                                                 const char              *text);
void               td_irc_client_join           (TdIrcClient             *client,
                                                 const char              *channel,
                                                 const char              *key);
void               td_irc_client_part           (TdIrcClient             *client,
                                                 const char              *channel,
                                                 const char              *reason);
void               td_irc_client_set_nick       (TdIrcClient             *client,
                                                 const char              *nick);
void               td_irc_client_set_topic      (TdIrcClient             *client,
                                                 const char              *channel,
                                                 const char              *topic);
void               td_irc_client_set_away       (TdIrcClient             *client,
                                                 const char              *message);
void               td_irc_client_whois          (TdIrcClient             *client,
                                                 const char              *nick);
void               td_irc_client_names          (TdIrcClient             *client,
                                                 const char              *channel);
void               td_irc_client_mode           (TdIrcClient             *client,
                                                 const char              *target,
                                                 const char              *modes);
void               td_irc_client_kick           (TdIrcClient             *client,
                                                 const char              *channel,
                                                 const char              *nick,
                                                 const char              *reason);
void               td_irc_client_invite         (TdIrcClient             *client,
                                                 const char              *nick,
                                                 const char              *channel);
/* Queries are the client's own state: they are kept across reconnects
 * (and their history asked for again), and closing one forgets it. */
void               td_irc_client_open_query     (TdIrcClient             *client,
                                                 const char              *nick);
void               td_irc_client_close_query    (TdIrcClient             *client,
                                                 const char              *nick);
/* CHATHISTORY LATEST / BEFORE; answered by a HISTORY event for @target
 * (empty when there is no more), or an ERROR event when the server
 * refuses. When the server has no chathistory, the HISTORY event comes at
 * once, empty, with the NUMERIC-free text "unsupported". @before_msgid or
 * @before_time (unix microseconds) name the oldest line the caller has. */
void               td_irc_client_history_latest (TdIrcClient             *client,
                                                 const char              *target,
                                                 guint                    limit);
void               td_irc_client_history_before (TdIrcClient             *client,
                                                 const char              *target,
                                                 const char              *before_msgid,
                                                 gint64                   before_time,
                                                 guint                    limit);

/* Splits @text (one line, no CR/LF) into pieces of at most @max_bytes
 * bytes, at a space when there is one in the last third, never inside a
 * UTF-8 character. Exposed for tests. */
GStrv              td_irc_split_text            (const char              *text,
                                                 gsize                    max_bytes);
/* Returns @text as valid UTF-8: as it is when it already is, else decoded
 * as Windows-1252 (what old clients send), else with U+FFFD. */
char              *td_irc_to_utf8               (const char              *text,
                                                 gssize                   len);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdIrcClientConfig, td_irc_client_config_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdIrcEvent, td_irc_event_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdIrcEventBatch, td_irc_event_batch_free)

G_END_DECLS
