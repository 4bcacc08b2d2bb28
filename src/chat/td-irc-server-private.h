/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "chat/td-irc-server.h"
#include "chat/td-irc-message.h"
#include "core/td-mailbox.h"
#include "store/td-recorder.h"

G_BEGIN_DECLS

/*
 * Shared between td-irc-server.c (connections, output, timers, flood
 * control, capabilities) and td-irc-commands.c (one handler per verb).
 */

/* Limits advertised in ISUPPORT and enforced on input. */
#define TD_IRC_NICKLEN        30    /* long enough for real names, short enough for one line of NAMES */
#define TD_IRC_CHANNELLEN     64    /* RFC 2812 allows 50; 64 leaves room for descriptive names */
#define TD_IRC_TOPICLEN       390   /* what fits in a 332 line with a long nick and channel */
#define TD_IRC_KICKLEN        255   /* a reason, not an essay */
#define TD_IRC_AWAYLEN        200
#define TD_IRC_USERLEN        16    /* ident-sized; longer USER names are cut */
#define TD_IRC_REALNAMELEN    100
#define TD_IRC_MAXTARGETS     4     /* PRIVMSG a,b,c,d: bounded fan-out per line */
#define TD_IRC_MAX_MODES      4     /* mode changes with a parameter per MODE line */
#define TD_IRC_MAX_BANS       100   /* +b entries per channel; each JOIN scans them */
/* Most messages one CHATHISTORY may ask for; equals the memory ring so a
 * full-size LATEST is answered without the disk. */
#define TD_IRC_CHATHISTORY_MAX 1000
/* Bytes read from a socket per dispatch: a burst of lines at once,
 * without starving other clients. */
#define TD_IRC_READ_CHUNK     16384
/* Lines handled per dispatch for one client before others get a turn. */
#define TD_IRC_LINES_PER_DISPATCH 200
/* Connections accepted per dispatch of the listening socket. */
#define TD_IRC_ACCEPTS_PER_DISPATCH 64
/* SASL: one AUTHENTICATE line carries at most 400 bytes of base64 and a
 * PLAIN message fits in a few of them; more is an attack. */
#define TD_IRC_SASL_CHUNK     400
#define TD_IRC_SASL_MAX       2048
/* Bytes handed to the TLS layer per write: one TLS record. A write that
 * would block must be retried with at least the same bytes, and a fixed
 * chunk keeps it so. */
#define TD_IRC_TLS_WRITE_CHUNK 16384

enum
{
  CAP_MESSAGE_TAGS       = 1 << 0,
  CAP_SERVER_TIME        = 1 << 1,
  CAP_ACCOUNT_TAG        = 1 << 2,
  CAP_ECHO_MESSAGE       = 1 << 3,
  CAP_BATCH              = 1 << 4,
  CAP_LABELED_RESPONSE   = 1 << 5,
  CAP_MULTI_PREFIX       = 1 << 6,
  CAP_AWAY_NOTIFY        = 1 << 7,
  CAP_SASL               = 1 << 8,
  CAP_ACCOUNT_REGISTRATION = 1 << 9,
  CAP_CHATHISTORY        = 1 << 10,
  CAP_CAP_NOTIFY         = 1 << 11,
};

/* The bits of a client's caps that change how a relayed message looks;
 * a fan-out builds one line per distinct combination. */
#define TD_IRC_VARIANT_MASK (CAP_MESSAGE_TAGS | CAP_SERVER_TIME | CAP_ACCOUNT_TAG)
#define TD_IRC_N_VARIANTS   8

enum
{
  MEMBER_VOICE = 1 << 0,
  MEMBER_OP    = 1 << 1,
};

enum
{
  CHAN_MODE_INVITE     = 1 << 0,   /* +i */
  CHAN_MODE_MODERATED  = 1 << 1,   /* +m */
  CHAN_MODE_NO_OUTSIDE = 1 << 2,   /* +n */
  CHAN_MODE_TOPIC_OPS  = 1 << 3,   /* +t */
};

typedef struct _TdIrcClient  TdIrcClient;
typedef struct _TdIrcChannel TdIrcChannel;

typedef struct
{
  TdIrcClient  *client;
  TdIrcChannel *channel;
  guint         flags;    /* MEMBER_* */
} TdIrcMember;

struct _TdIrcChannel
{
  char       *name;
  char       *folded;
  char       *topic;
  char       *topic_setter;
  gint64      topic_time;
  gint64      created;
  guint       modes;       /* CHAN_MODE_* */
  char       *key;         /* +k, nullable */
  guint       limit;       /* +l, 0 = none */
  GPtrArray  *bans;        /* casefolded masks */
  GHashTable *invites;     /* casefolded nicks */
  GHashTable *members;     /* TdIrcClient* -> TdIrcMember* (owned here) */
};

struct _TdIrcClient
{
  TdIrcServer  *server;
  guint64       id;
  GSocket      *socket;
  GIOStream    *tls;            /* GTlsServerConnection over the socket; NULL for plain */
  gpointer      handshake;      /* in-flight TLS handshake (td-irc-server.c), or NULL */
  GSource      *in_source;
  GSource      *out_source;
  GSource      *resume_source;  /* flood throttle wake-up */
  GList         link;           /* in server->clients */
  char         *ip;
  char         *host;

  GByteArray   *inbuf;
  GByteArray   *outbuf;
  gsize         out_off;
  gboolean      in_pending;     /* queued in server->pending_writes */
  /* Durability: output queued after a stored message is held back until
   * the recorder has committed it. Each hold is a byte offset in outbuf
   * and the flush generation that releases it; at most two are open. */
  GArray       *holds;          /* HoldPoint, oldest first; NULL when none */
  /* Input is paused while a command's answer comes from the disk, so
   * that answers keep the order of the commands. */
  guint         waiting;
  gboolean      dead;
  char         *quit_reason;    /* shown to others */
  char         *error_reason;   /* sent in ERROR; NULL = quit_reason */

  /* Registration */
  char         *nick;
  char         *user;
  char         *realname;
  char         *pass;
  gboolean      registered;
  gboolean      cap_negotiating;
  guint         cap_version;
  guint         caps;

  /* Accounts */
  char         *account;
  gboolean      sasl_started;   /* AUTHENTICATE PLAIN seen */
  gboolean      auth_pending;   /* a hash or verify is on the task loop */
  GString      *sasl_buf;
  gint64        guest_deadline; /* monotonic usec, 0 = none */

  /* State */
  gboolean      invisible;      /* +i */
  char         *away;
  GHashTable   *channels;       /* TdIrcChannel* -> TdIrcMember* (borrowed) */
  gint64        connected_at;   /* monotonic */
  gint64        signon;         /* real, seconds */
  gint64        last_read;      /* monotonic */
  gint64        last_message;   /* monotonic, for WHOIS idle */
  gint64        ping_sent;      /* monotonic, 0 = none outstanding */
  gint64        flood_time;     /* monotonic: the RFC 1459 message timer */
  gboolean      throttled;
  guint64       seen_gen;       /* dedupes broadcasts to shared-channel peers */

  /* labeled-response: lines to this client are captured while a labeled
   * command runs. */
  GPtrArray    *capture;
  const char   *label;          /* of the command being dispatched; borrowed */
  gboolean      label_deferred; /* the handler answers later (_td_irc_defer_reply) */
};

typedef struct
{
  gsize   offset;
  guint64 gen;
} HoldPoint;

struct _TdIrcServer
{
  TdIrcServerConfig *config;
  GMainContext      *context;
  GSocket           *listener;
  GSource           *accept_source;
  GSocket           *tls_listener;
  GSource           *tls_accept_source;
  GTlsCertificate   *certificate;
  guint16            tls_port;
  GSource           *tick_source;
  GSource           *flush_source;    /* writes queued output before each poll */
  guint16            port;
  TdMailboxId        mailbox;

  GQueue             clients;
  GHashTable        *clients_by_id;   /* guint64* -> TdIrcClient* */
  GHashTable        *nicks;           /* nick (casefolded) -> TdIrcClient* */
  GHashTable        *channels;        /* name (casefolded) -> TdIrcChannel* */
  GHashTable        *per_ip;          /* ip -> count */
  GPtrArray         *pending_writes;  /* TdIrcClient* with output to flush */
  GPtrArray         *dead;            /* TdIrcClient* to tear down */
  GHashTable         *commands;       /* name -> const TdIrcCommand* */

  TdChatHistory     *history;
  TdIrcAccounts     *accounts;

  /* Persistence (td_irc_server_set_recorder()) */
  TdRecorder        *recorder;        /* borrowed, nullable */
  guint              loading;         /* loads at start still out: no accepts yet */
  GPtrArray         *held;            /* TdIrcClient* with holds */
  guint64            flush_issued;    /* generation of the newest flush asked for */
  gboolean           flush_in_flight;
  gboolean           flush_wanted;    /* saves made since the last flush was asked */
  gboolean           flush_failed;    /* reported once */

  guint64            next_client_id;
  guint64            broadcast_gen;
  guint64            next_batch;
  guint64            next_msgid;
  char              *msgid_prefix;   /* random per start: msgids never repeat */
  gint64             last_time;      /* real usec of the last stored message */
  gint64             created;
  guint              guest_counter;
  gboolean           dispatching;
};

typedef void (*TdIrcCommandFunc) (TdIrcClient        *client,
                                  const TdIrcMessage *message);

typedef struct
{
  const char       *name;
  TdIrcCommandFunc  func;
  guint             min_params;
  gboolean          needs_registration;
} TdIrcCommand;

/* A message relayed from one client to many: built once per variant. */
typedef struct
{
  GString    *body;        /* ":src CMD params\r\n" */
  gint64      time;        /* real usec */
  const char *msgid;
  const char *account;
  const char *client_tags; /* escaped "+a=b;+c", nullable */
  GString    *variants[TD_IRC_N_VARIANTS];
} TdIrcEvent;

/* td-irc-server.c */
void         _td_irc_send_raw          (TdIrcClient       *client,
                                        const char        *line,
                                        gsize              len);
void         _td_irc_send              (TdIrcClient       *client,
                                        const char        *format,
                                        ...) G_GNUC_PRINTF (2, 3);
void         _td_irc_numeric           (TdIrcClient       *client,
                                        const char        *numeric,
                                        const char        *format,
                                        ...) G_GNUC_PRINTF (3, 4);
void         _td_irc_event_init        (TdIrcEvent        *event,
                                        gint64             time);
void         _td_irc_event_clear       (TdIrcEvent        *event);
void         _td_irc_event_send        (TdIrcEvent        *event,
                                        TdIrcClient       *client);
void         _td_irc_send_from         (TdIrcClient       *to,
                                        TdIrcClient       *from,
                                        const char        *format,
                                        ...) G_GNUC_PRINTF (3, 4);
void         _td_irc_broadcast_peers   (TdIrcClient       *client,
                                        gboolean           include_self,
                                        guint              required_cap,
                                        const char        *format,
                                        ...) G_GNUC_PRINTF (4, 5);
void         _td_irc_client_kill       (TdIrcClient       *client,
                                        const char        *quit_reason,
                                        const char        *error_reason);
char        *_td_irc_client_prefix     (TdIrcClient       *client);
const char  *_td_irc_client_nick       (TdIrcClient       *client);
void         _td_irc_try_register      (TdIrcClient       *client);
void         _td_irc_check_nick_owner  (TdIrcClient       *client);
void         _td_irc_server_tick_for   (TdIrcClient       *client);
char        *_td_irc_new_msgid         (TdIrcServer       *server);
char        *_td_irc_new_batch_id      (TdIrcServer       *server);
gint64       _td_irc_message_time      (TdIrcServer       *server);
void         _td_irc_push_auth_task    (TdIrcClient       *client,
                                        gboolean           register_account,
                                        const char        *account,
                                        const char        *password,
                                        const char        *hash);
const char  *_td_irc_cap_names         (guint              cap);
guint        _td_irc_cap_lookup        (const char        *name);
const char  *_td_irc_cap_ls_string     (guint              version);
void         _td_irc_set_nick          (TdIrcClient       *client,
                                        const char        *nick);
void         _td_irc_hold_until_durable (TdIrcClient      *client);
char        *_td_irc_defer_reply       (TdIrcClient       *client);
void         _td_irc_deferred_begin    (TdIrcClient       *client,
                                        const char        *label);
void         _td_irc_deferred_end      (TdIrcClient       *client,
                                        const char        *label);

/* td-irc-commands.c */
void         _td_irc_commands_register (TdIrcServer       *server);
void         _td_irc_channel_free      (TdIrcChannel      *channel);
void         _td_irc_channel_remove    (TdIrcChannel      *channel,
                                        TdIrcClient       *client);
void         _td_irc_auth_done         (TdIrcClient       *client,
                                        gboolean           register_account,
                                        const char        *account,
                                        const char        *hash,
                                        gboolean           ok);
/* CHATHISTORY arguments (shared with the fuzz target). */
gboolean     _td_irc_parse_history_selector (const char            *text,
                                             TdChatHistorySelector *sel,
                                             gboolean               allow_star);
gboolean     _td_irc_parse_history_limit    (const char            *text,
                                             guint                 *limit);

G_END_DECLS
