/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-irc-client"

#include "config.h"

#include <string.h>

#include "chat/td-irc-client.h"
#include "chat/td-irc-message.h"

/*
 * Layout: the owner-side handle (TdIrcClient) only sends mail. Everything
 * else is TdIrcNet, which lives on the network thread: the connection,
 * the protocol state, and the events gathered during one dispatch.
 */

/* ------------------------------------------------------------------ */
/* Types                                                               */
/* ------------------------------------------------------------------ */

/* Bytes asked of the stream per read: a burst of lines (a NAMES reply of a
 * big channel, a CHATHISTORY batch) in a few reads. */
#define READ_CHUNK 16384

/* Lines kept in one CHATHISTORY batch; the server's own cap is 1000, and a
 * server that sends more is not believed. */
#define MAX_BATCH_EVENTS 5000

/* Batches open at once; a server that opens more is misbehaving. */
#define MAX_OPEN_BATCHES 64

enum
{
  CMD_CONNECT = 1,
  CMD_DISCONNECT,
  CMD_SHUTDOWN,
  CMD_RETRY,
  CMD_RAW,
  CMD_PRIVMSG,
  CMD_NOTICE,
  CMD_ACTION,
  CMD_JOIN,
  CMD_PART,
  CMD_NICK,
  CMD_OPEN_QUERY,
  CMD_CLOSE_QUERY,
  CMD_HISTORY_LATEST,
  CMD_HISTORY_BEFORE,
};

typedef struct
{
  char   *a;
  char   *b;
  char   *c;
  gint64  time;
  guint   limit;
} Cmd;

typedef struct
{
  char       *name;
  char       *topic;
  GHashTable *members;       /* casefolded nick -> Member */
  GHashTable *names_new;     /* during 353..366, else NULL */
  gboolean    dirty;         /* members changed during this dispatch */
} Channel;

typedef struct
{
  char     *nick;
  GString  *prefix;
  gboolean  away;
} Member;

typedef struct
{
  char      *ref;
  char      *type;
  char      *target;
  GPtrArray *events;         /* TdIrcEvent, for chathistory */
} Batch;

/* A CHATHISTORY request waiting for its batch. */
typedef struct
{
  char     *folded;
  gboolean  before;
} Pending;

typedef struct _TdIrcNet TdIrcNet;

struct _TdIrcNet
{
  TdIrcClientConfig *config;
  GMainContext      *context;
  GMainLoop         *loop;
  TdMailboxId        mailbox;        /* ours, on context */
  TdMailboxId        owner;
  guint              owner_kind;
  GPtrArray         *events;         /* gathered for the owner */

  /* The connection; gen changes each time one ends, so that callbacks of
   * a connection that is gone find out and do nothing. */
  guint              gen;
  guint              n_ops;          /* async operations in flight */
  GCancellable      *cancellable;
  GSocketClient     *socket_client;
  GIOStream         *stream;
  guint8            *readbuf;
  GByteArray        *inbuf;
  GString           *outbuf;
  gboolean           writing;
  guint              bad_lines;
  GSource           *tick;
  gint64             last_input;     /* monotonic usec */
  gint64             connected_at;
  gboolean           ping_sent;

  TdIrcState         state;
  TdRetry           *retry;
  gboolean           want_connected; /* the owner asked to be connected */
  gboolean           shutting_down;

  /* Registration */
  char              *nick;           /* ours, as the server knows it */
  char              *userhost;       /* ours, from the JOIN echo */
  char              *nick_requested; /* a NICK the owner asked for while connected,
                                      * until the server takes or refuses it */
  guint              alt_attempt;
  gboolean           cap_ls_done;
  GString           *cap_ls;         /* "name[=value] ..." while LS is multi-line */
  GHashTable        *caps_offered;   /* name -> value or NULL */
  GHashTable        *caps;           /* enabled names */
  guint              cap_pending;    /* REQs not yet answered */
  gboolean           sasl_started;
  gboolean           cap_ended;

  /* ISUPPORT */
  char              *prefix_modes;
  char              *prefix_chars;
  char              *chantypes;
  char              *chanmodes[4];
  gboolean           isupport_chathistory;
  char              *network_name;
  char              *filehost;       /* FILEHOST, an http(s) URL, or NULL */

  /* State restored after a reconnect */
  GHashTable        *channels;       /* casefolded -> Channel */
  GHashTable        *rejoin;         /* casefolded -> key ("" = none) */
  GHashTable        *queries;        /* casefolded -> nick */
  GHashTable        *batches;        /* ref -> Batch */
  GQueue             history_pending;/* Pending, oldest first */
  GHashTable        *join_keys;      /* casefolded -> key asked with JOIN */
};

struct _TdIrcClient
{
  guint        network;
  GThread     *thread;
  TdIrcNet    *net;          /* the thread's; freed after the join */
  TdMailboxId  mailbox;      /* the thread's mailbox */
};

static void net_flush            (TdIrcNet *net);
static void net_connection_lost  (TdIrcNet *net, const char *reason);

/* ------------------------------------------------------------------ */
/* Plain structs                                                       */
/* ------------------------------------------------------------------ */

TdIrcClientConfig *
td_irc_client_config_new (void)
{
  TdIrcClientConfig *config = g_new0 (TdIrcClientConfig, 1);

  config->host = g_strdup ("127.0.0.1");
  config->port = 6667;
  config->reconnect = TRUE;
  config->retry = TD_RETRY_POLICY_DEFAULT;
  return config;
}

TdIrcClientConfig *
td_irc_client_config_copy (const TdIrcClientConfig *config)
{
  TdIrcClientConfig *copy;

  g_return_val_if_fail (config != NULL, NULL);

  copy = g_memdup2 (config, sizeof *config);
  copy->host = g_strdup (config->host);
  copy->password = g_strdup (config->password);
  copy->nick = g_strdup (config->nick);
  copy->username = g_strdup (config->username);
  copy->realname = g_strdup (config->realname);
  copy->sasl_account = g_strdup (config->sasl_account);
  copy->sasl_password = g_strdup (config->sasl_password);
  return copy;
}

void
td_irc_client_config_free (TdIrcClientConfig *config)
{
  if (config == NULL)
    return;
  g_free (config->host);
  g_free (config->password);
  g_free (config->nick);
  g_free (config->username);
  g_free (config->realname);
  g_free (config->sasl_account);
  if (config->sasl_password != NULL)
    memset (config->sasl_password, 0, strlen (config->sasl_password));
  g_free (config->sasl_password);
  g_free (config);
}

void
td_irc_member_info_free (TdIrcMemberInfo *member)
{
  if (member == NULL)
    return;
  g_free (member->nick);
  g_free (member->prefix);
  g_free (member);
}

TdIrcEvent *
td_irc_event_new (TdIrcEventType type)
{
  TdIrcEvent *event = g_new0 (TdIrcEvent, 1);

  event->type = type;
  event->time = g_get_real_time ();
  return event;
}

void
td_irc_event_free (TdIrcEvent *event)
{
  if (event == NULL)
    return;
  g_free (event->target);
  g_free (event->nick);
  g_free (event->userhost);
  g_free (event->account);
  g_free (event->text);
  g_free (event->msgid);
  g_free (event->command);
  g_strfreev (event->params);
  g_clear_pointer (&event->members, g_ptr_array_unref);
  g_clear_pointer (&event->history, g_ptr_array_unref);
  g_free (event);
}

void
td_irc_event_batch_free (TdIrcEventBatch *batch)
{
  if (batch == NULL)
    return;
  g_clear_pointer (&batch->events, g_ptr_array_unref);
  g_free (batch);
}

const char *
td_irc_state_to_string (TdIrcState state)
{
  switch (state)
    {
    case TD_IRC_STATE_DISCONNECTED: return "disconnected";
    case TD_IRC_STATE_CONNECTING: return "connecting";
    case TD_IRC_STATE_REGISTERING: return "registering";
    case TD_IRC_STATE_CONNECTED: return "connected";
    case TD_IRC_STATE_RETRYING: return "retrying";
    default: return "unknown";
    }
}

static void
cmd_free (Cmd *cmd)
{
  g_free (cmd->a);
  g_free (cmd->b);
  g_free (cmd->c);
  g_free (cmd);
}

static void
member_free (Member *member)
{
  g_free (member->nick);
  g_string_free (member->prefix, TRUE);
  g_free (member);
}

static GHashTable *
members_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) member_free);
}

static void
channel_free (Channel *channel)
{
  g_free (channel->name);
  g_free (channel->topic);
  g_hash_table_unref (channel->members);
  g_clear_pointer (&channel->names_new, g_hash_table_unref);
  g_free (channel);
}

static void
pending_free (Pending *pending)
{
  g_free (pending->folded);
  g_free (pending);
}

static gint
pending_match (gconstpointer a,
               gconstpointer b)
{
  return strcmp (((const Pending *) a)->folded, b);
}

static void
batch_free (Batch *batch)
{
  g_free (batch->ref);
  g_free (batch->type);
  g_free (batch->target);
  g_ptr_array_unref (batch->events);
  g_free (batch);
}

/* ------------------------------------------------------------------ */
/* Text helpers                                                        */
/* ------------------------------------------------------------------ */

char *
td_irc_to_utf8 (const char *text,
                gssize      len)
{
  char *converted;

  if (text == NULL)
    return NULL;
  if (len < 0)
    len = strlen (text);
  if (g_utf8_validate_len (text, len, NULL))
    return g_strndup (text, len);
  converted = g_convert (text, len, "UTF-8", "WINDOWS-1252", NULL, NULL, NULL);
  if (converted != NULL)
    return converted;
  return g_utf8_make_valid (text, len);
}

GStrv
td_irc_split_text (const char *text,
                   gsize       max_bytes)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  const char *p = text;
  gsize left;

  g_return_val_if_fail (text != NULL, NULL);

  max_bytes = MAX (max_bytes, 8);
  left = strlen (p);
  while (left > max_bytes)
    {
      gsize cut = max_bytes;
      gsize skip = 0;

      /* Never inside a character: back up to a lead byte. */
      while (cut > 0 && ((guchar) p[cut] & 0xC0) == 0x80)
        cut--;
      /* A space in the last third is a nicer place to break. */
      for (gsize i = cut; i > max_bytes * 2 / 3; i--)
        if (p[i] == ' ')
          {
            cut = i;
            skip = 1;
            break;
          }
      if (cut == 0)
        cut = max_bytes;
      {
        g_autofree char *piece = g_strndup (p, cut);

        g_strv_builder_add (builder, piece);
      }
      p += cut + skip;
      left -= cut + skip;
    }
  if (left > 0 || p == text)
    g_strv_builder_add (builder, p);
  return g_strv_builder_end (builder);
}

/* Replaces CR, LF and NUL so that a caller's string can never inject a
 * second line. */
static char *
sanitize_line (const char *text)
{
  char *copy = g_strdup (text ? text : "");

  for (char *p = copy; *p; p++)
    if (*p == '\r' || *p == '\n')
      *p = ' ';
  return copy;
}

static gboolean
str_empty (const char *s)
{
  return s == NULL || *s == '\0';
}

/* ------------------------------------------------------------------ */
/* Events                                                              */
/* ------------------------------------------------------------------ */

static void
net_push (TdIrcNet   *net,
          TdIrcEvent *event)
{
  g_ptr_array_add (net->events, event);
}

static void
net_error (TdIrcNet   *net,
           const char *target,
           const char *format,
           ...) G_GNUC_PRINTF (3, 4);

static void
net_error (TdIrcNet   *net,
           const char *target,
           const char *format,
           ...)
{
  TdIrcEvent *event = td_irc_event_new (TD_IRC_EVENT_ERROR);
  va_list args;

  va_start (args, format);
  event->text = g_strdup_vprintf (format, args);
  va_end (args);
  event->target = g_strdup (target);
  net_push (net, event);
}

static int
prefix_rank (TdIrcNet *net,
             char      c)
{
  const char *found = strchr (net->prefix_chars, c);

  return found != NULL && c != '\0' ? (int) (found - net->prefix_chars) : G_MAXINT;
}

static int
member_info_compare (gconstpointer a,
                     gconstpointer b,
                     gpointer      user_data)
{
  const TdIrcMemberInfo *ma = *(TdIrcMemberInfo **) a;
  const TdIrcMemberInfo *mb = *(TdIrcMemberInfo **) b;
  int ra = prefix_rank (user_data, ma->prefix[0]);
  int rb = prefix_rank (user_data, mb->prefix[0]);
  g_autofree char *fa = NULL;
  g_autofree char *fb = NULL;

  if (ra != rb)
    return ra < rb ? -1 : 1;
  fa = td_irc_casefold (ma->nick);
  fb = td_irc_casefold (mb->nick);
  return strcmp (fa, fb);
}

static void
net_emit_members (TdIrcNet *net,
                  Channel  *channel)
{
  TdIrcEvent *event = td_irc_event_new (TD_IRC_EVENT_MEMBERS);
  GHashTableIter iter;
  gpointer value;

  event->target = g_strdup (channel->name);
  event->members = g_ptr_array_new_full (g_hash_table_size (channel->members),
                                         (GDestroyNotify) td_irc_member_info_free);
  g_hash_table_iter_init (&iter, channel->members);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Member *member = value;
      TdIrcMemberInfo *info = g_new0 (TdIrcMemberInfo, 1);

      info->nick = g_strdup (member->nick);
      info->prefix = g_strdup (member->prefix->str);
      info->away = member->away;
      g_ptr_array_add (event->members, info);
    }
  g_ptr_array_sort_with_data (event->members, member_info_compare, net);
  net_push (net, event);
  channel->dirty = FALSE;
}

/* Ends a dispatch: member lists that changed go out as snapshots, then
 * everything gathered goes to the owner as one mail. */
static void
net_flush (TdIrcNet *net)
{
  GHashTableIter iter;
  gpointer value;
  TdIrcEventBatch *batch;

  g_hash_table_iter_init (&iter, net->channels);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (((Channel *) value)->dirty)
      net_emit_members (net, value);

  if (net->events->len == 0)
    return;

  batch = g_new0 (TdIrcEventBatch, 1);
  batch->network = net->config->network;
  batch->events = g_steal_pointer (&net->events);
  net->events = g_ptr_array_new_with_free_func ((GDestroyNotify) td_irc_event_free);
  td_mail_send_new (net->owner, net->owner_kind, batch, (GDestroyNotify) td_irc_event_batch_free);
}

static void
net_set_state (TdIrcNet   *net,
               TdIrcState  state,
               guint       retry_in_ms,
               const char *reason)
{
  TdIrcEvent *event;

  net->state = state;
  event = td_irc_event_new (TD_IRC_EVENT_STATE);
  event->state = state;
  event->retry_in_ms = retry_in_ms;
  event->text = g_strdup (reason);
  event->nick = g_strdup (net->nick);
  net_push (net, event);
}

/* ------------------------------------------------------------------ */
/* Output                                                              */
/* ------------------------------------------------------------------ */

typedef struct
{
  TdIrcNet *net;
  guint     gen;
  GBytes   *bytes;
} Op;

static Op *
op_new (TdIrcNet *net)
{
  Op *op = g_new0 (Op, 1);

  op->net = net;
  op->gen = net->gen;
  net->n_ops++;
  return op;
}

/* Returns TRUE if the connection @op belongs to is still the current one;
 * frees @op either way. */
static gboolean
op_finish (Op *op)
{
  gboolean current = op->gen == op->net->gen;

  op->net->n_ops--;
  g_clear_pointer (&op->bytes, g_bytes_unref);
  g_free (op);
  return current;
}

static void net_write_next (TdIrcNet *net);
static void net_schedule_tick (TdIrcNet *net);

static void
write_cb (GObject      *object,
          GAsyncResult *result,
          gpointer      user_data)
{
  Op *op = user_data;
  TdIrcNet *net = op->net;
  g_autoptr(GError) error = NULL;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (object), result, NULL, &error);
  if (!op_finish (op))
    return;
  net->writing = FALSE;
  if (error != NULL)
    net_connection_lost (net, error->message);
  else
    net_write_next (net);
  net_flush (net);

  if (net->shutting_down && !net->writing)
    g_main_loop_quit (net->loop);
}

static void
net_write_next (TdIrcNet *net)
{
  Op *op;

  if (net->writing || net->stream == NULL || net->outbuf->len == 0)
    return;
  op = op_new (net);
  op->bytes = g_string_free_to_bytes (g_steal_pointer (&net->outbuf));
  net->outbuf = g_string_new (NULL);
  net->writing = TRUE;
  g_output_stream_write_all_async (g_io_stream_get_output_stream (net->stream),
                                   g_bytes_get_data (op->bytes, NULL),
                                   g_bytes_get_size (op->bytes),
                                   G_PRIORITY_DEFAULT, net->cancellable, write_cb, op);
}

/* Queues one line (CR LF added; any CR or LF inside becomes a space). */
static void
net_send (TdIrcNet   *net,
          const char *format,
          ...) G_GNUC_PRINTF (2, 3);

static void
net_send (TdIrcNet   *net,
          const char *format,
          ...)
{
  g_autofree char *line = NULL;
  g_autofree char *clean = NULL;
  va_list args;

  if (net->stream == NULL)
    return;
  va_start (args, format);
  line = g_strdup_vprintf (format, args);
  va_end (args);
  clean = sanitize_line (line);
  g_string_append (net->outbuf, clean);
  g_string_append (net->outbuf, "\r\n");
  net_write_next (net);
}

/* ------------------------------------------------------------------ */
/* Channels and members                                                */
/* ------------------------------------------------------------------ */

static gboolean
is_channel (TdIrcNet   *net,
            const char *name)
{
  return !str_empty (name) && strchr (net->chantypes, name[0]) != NULL;
}

static gboolean
is_me (TdIrcNet   *net,
       const char *nick)
{
  return nick != NULL && net->nick != NULL && td_irc_equal (nick, net->nick);
}

static Channel *
net_lookup_channel (TdIrcNet   *net,
                    const char *name)
{
  g_autofree char *folded = NULL;

  if (name == NULL)
    return NULL;
  folded = td_irc_casefold (name);
  return g_hash_table_lookup (net->channels, folded);
}

/* Splits "@+nick!user@host" into its prefix and nick. */
static Member *
member_parse (TdIrcNet   *net,
              const char *entry)
{
  Member *member = g_new0 (Member, 1);
  const char *p = entry;
  const char *bang;

  member->prefix = g_string_new (NULL);
  while (*p != '\0' && strchr (net->prefix_chars, *p) != NULL)
    g_string_append_c (member->prefix, *p++);
  bang = strchr (p, '!');
  member->nick = bang ? g_strndup (p, bang - p) : g_strdup (p);
  return member;
}

static Member *
member_new (const char *nick)
{
  Member *member = g_new0 (Member, 1);

  member->nick = g_strdup (nick);
  member->prefix = g_string_new (NULL);
  return member;
}

static void
member_set_prefix (TdIrcNet *net,
                   Member   *member,
                   char      c,
                   gboolean  add)
{
  char *at = strchr (member->prefix->str, c);
  g_autoptr(GString) sorted = NULL;

  if (!add)
    {
      if (at != NULL)
        g_string_erase (member->prefix, at - member->prefix->str, 1);
      return;
    }
  if (at != NULL)
    return;
  /* Keep the prefixes in rank order, best first. */
  sorted = g_string_new (NULL);
  for (const char *p = net->prefix_chars; *p; p++)
    if (*p == c || strchr (member->prefix->str, *p) != NULL)
      g_string_append_c (sorted, *p);
  g_string_assign (member->prefix, sorted->str);
}

static const char *
query_lookup (TdIrcNet   *net,
              const char *nick)
{
  g_autofree char *folded = td_irc_casefold (nick);

  return g_hash_table_lookup (net->queries, folded);
}

static void
query_add (TdIrcNet   *net,
           const char *nick)
{
  g_hash_table_replace (net->queries, td_irc_casefold (nick), g_strdup (nick));
}

/* ------------------------------------------------------------------ */
/* Incoming lines                                                      */
/* ------------------------------------------------------------------ */

typedef struct
{
  TdIrcMessage *msg;
  char         *nick;       /* from the source; NULL for none */
  char         *userhost;
  gint64        time;
  const char   *msgid;
  const char   *account;
  const char   *batch;
  guint         n;          /* params */
} Line;

static const char *
param (const Line *line,
       guint       i)
{
  return i < line->n ? line->msg->params[i] : NULL;
}

/* The readable form of a numeric's parameters after our nick: middle
 * parameters, then the trailing one after a colon. */
static char *
numeric_text (const Line *line)
{
  GString *text = g_string_new (NULL);

  for (guint i = 1; i < line->n; i++)
    {
      if (i > 1)
        g_string_append (text, i == line->n - 1 && line->n > 2 ? ": " : " ");
      g_string_append (text, line->msg->params[i]);
    }
  return g_string_free (text, FALSE);
}

static TdIrcEvent *
line_event (const Line     *line,
            TdIrcEventType  type)
{
  TdIrcEvent *event = td_irc_event_new (type);

  event->time = line->time;
  event->nick = g_strdup (line->nick);
  event->userhost = g_strdup (line->userhost);
  event->account = g_strdup (line->account);
  event->msgid = g_strdup (line->msgid);
  event->command = g_strdup (line->msg->command);
  event->params = g_strdupv (line->msg->params);
  return event;
}

static Batch *
line_history_batch (TdIrcNet   *net,
                    const Line *line)
{
  Batch *batch;

  if (line->batch == NULL)
    return NULL;
  batch = g_hash_table_lookup (net->batches, line->batch);
  if (batch == NULL || g_strcmp0 (batch->type, "chathistory") != 0)
    return NULL;
  return batch;
}

static void
reply_ctcp (TdIrcNet   *net,
            const char *nick,
            const char *verb,
            const char *arg)
{
  if (g_str_equal (verb, "VERSION"))
    net_send (net, "NOTICE %s :\001VERSION Tidings %s\001", nick, PACKAGE_VERSION);
  else if (g_str_equal (verb, "PING"))
    net_send (net, "NOTICE %s :\001PING %s\001", nick, arg ? arg : "");
  else if (g_str_equal (verb, "CLIENTINFO"))
    net_send (net, "NOTICE %s :\001CLIENTINFO ACTION CLIENTINFO PING TIME VERSION\001", nick);
  else if (g_str_equal (verb, "TIME"))
    {
      g_autoptr(GDateTime) now = g_date_time_new_now_local ();
      g_autofree char *text = g_date_time_format (now, "%a %b %d %H:%M:%S %Y");

      net_send (net, "NOTICE %s :\001TIME %s\001", nick, text);
    }
}

/* PRIVMSG and NOTICE: where they belong, CTCP, echo, history batches. */
static void
handle_message (TdIrcNet   *net,
                const Line *line,
                gboolean    notice)
{
  const char *target = param (line, 0);
  const char *text = param (line, 1);
  Batch *batch = line_history_batch (net, line);
  gboolean history = batch != NULL;
  gboolean self = is_me (net, line->nick);
  gboolean from_server = line->nick == NULL || line->userhost == NULL;
  const char *channel_name = target;
  TdIrcEventType type = notice ? TD_IRC_EVENT_NOTICE : TD_IRC_EVENT_MESSAGE;
  g_autofree char *body = NULL;
  g_autofree char *verb = NULL;
  TdIrcEvent *event;

  if (target == NULL || text == NULL)
    {
      net_error (net, NULL, "Malformed %s from the server", line->msg->command);
      return;
    }

  /* CTCP: \001VERB arg\001, the closing \001 optional. */
  if (text[0] == '\001')
    {
      const char *start = text + 1;
      const char *end = strchr (start, '\001');
      g_autofree char *inner = end ? g_strndup (start, end - start) : g_strdup (start);
      char *space = strchr (inner, ' ');

      verb = g_ascii_strup (inner, space ? space - inner : -1);
      body = g_strdup (space ? space + 1 : "");
      if (g_str_equal (verb, "ACTION"))
        type = TD_IRC_EVENT_ACTION;
      else
        {
          if (!notice && !history && !self && line->nick != NULL)
            reply_ctcp (net, line->nick, verb, body);
          type = TD_IRC_EVENT_CTCP;
        }
    }
  else
    body = g_strdup (text);

  event = line_event (line, type);
  event->text = g_steal_pointer (&body);
  if (verb != NULL && type == TD_IRC_EVENT_CTCP)
    {
      g_free (event->command);
      event->command = g_strdup (verb);
    }
  if (self)
    event->flags |= TD_IRC_EVENT_FLAG_SELF;
  if (history)
    event->flags |= TD_IRC_EVENT_FLAG_HISTORY;

  /* STATUSMSG targets (@#chan) go to the channel. */
  while (channel_name[0] != '\0' && strchr (net->prefix_chars, channel_name[0]) != NULL &&
         is_channel (net, channel_name + 1))
    channel_name++;

  if (is_channel (net, channel_name))
    {
      Channel *channel = net_lookup_channel (net, channel_name);

      event->target = g_strdup (channel ? channel->name : channel_name);
    }
  else if (type == TD_IRC_EVENT_CTCP)
    event->target = NULL;
  else if (from_server && !self)
    event->target = NULL;   /* server notices: the owner shows them where the user looks */
  else
    {
      const char *peer = self ? target : line->nick;
      const char *query = query_lookup (net, peer);

      if (notice && query == NULL && !history)
        event->target = NULL;   /* NickServ and friends, not a conversation */
      else
        {
          event->target = g_strdup (query ? query : peer);
          event->flags |= TD_IRC_EVENT_FLAG_QUERY;
          if (query == NULL && !history)
            query_add (net, peer);
        }
    }

  if (history)
    {
      if (batch->events->len < MAX_BATCH_EVENTS)
        g_ptr_array_add (batch->events, event);
      else
        td_irc_event_free (event);
      return;
    }
  net_push (net, event);
}

static void
handle_join (TdIrcNet   *net,
             const Line *line)
{
  const char *name = param (line, 0);
  Channel *channel;
  TdIrcEvent *event;

  if (name == NULL || line->nick == NULL)
    {
      net_error (net, NULL, "Malformed JOIN from the server");
      return;
    }
  channel = net_lookup_channel (net, name);
  if (is_me (net, line->nick))
    {
      if (line->userhost != NULL)
        {
          g_free (net->userhost);
          net->userhost = g_strdup (line->userhost);
        }
      if (channel == NULL)
        {
          channel = g_new0 (Channel, 1);
          channel->name = g_strdup (name);
          channel->members = members_new ();
          g_hash_table_insert (net->channels, td_irc_casefold (name), channel);
        }
      g_hash_table_insert (channel->members, td_irc_casefold (net->nick), member_new (net->nick));
      channel->dirty = TRUE;
      {
        g_autofree char *folded = td_irc_casefold (name);
        const char *key = g_hash_table_lookup (net->join_keys, folded);

        if (key != NULL || !g_hash_table_contains (net->rejoin, folded))
          g_hash_table_replace (net->rejoin, g_strdup (folded), g_strdup (key ? key : ""));
        g_hash_table_remove (net->join_keys, folded);
      }
      event = line_event (line, TD_IRC_EVENT_JOINED);
      event->flags |= TD_IRC_EVENT_FLAG_SELF;
      event->target = g_strdup (channel->name);
      net_push (net, event);
      return;
    }
  if (channel == NULL)
    {
      net_error (net, NULL, "%s joined %s, a channel we are not in", line->nick, name);
      return;
    }
  g_hash_table_replace (channel->members, td_irc_casefold (line->nick), member_new (line->nick));
  channel->dirty = TRUE;
  event = line_event (line, TD_IRC_EVENT_JOIN);
  event->target = g_strdup (channel->name);
  net_push (net, event);
}

static void
net_forget_channel (TdIrcNet   *net,
                    const char *name)
{
  g_autofree char *folded = td_irc_casefold (name);

  g_hash_table_remove (net->channels, folded);
  g_hash_table_remove (net->rejoin, folded);
}

static void
handle_part_or_kick (TdIrcNet   *net,
                     const Line *line,
                     gboolean    kick)
{
  const char *name = param (line, 0);
  const char *who = kick ? param (line, 1) : line->nick;
  const char *reason = param (line, kick ? 2 : 1);
  Channel *channel = net_lookup_channel (net, name);
  g_autofree char *folded = NULL;
  TdIrcEvent *event;

  if (name == NULL || who == NULL)
    {
      net_error (net, NULL, "Malformed %s from the server", line->msg->command);
      return;
    }
  if (channel == NULL)
    {
      net_error (net, NULL, "%s for %s, a channel we are not in", line->msg->command, name);
      return;
    }
  if (is_me (net, who))
    {
      event = line_event (line, TD_IRC_EVENT_PARTED);
      event->flags |= TD_IRC_EVENT_FLAG_SELF | (kick ? TD_IRC_EVENT_FLAG_KICKED : 0);
      event->target = g_strdup (channel->name);
      event->text = g_strdup (reason);
      net_push (net, event);
      net_forget_channel (net, name);
      return;
    }
  folded = td_irc_casefold (who);
  g_hash_table_remove (channel->members, folded);
  channel->dirty = TRUE;
  event = line_event (line, kick ? TD_IRC_EVENT_KICK : TD_IRC_EVENT_PART);
  event->target = g_strdup (channel->name);
  event->text = g_strdup (reason);
  net_push (net, event);
}

static void
handle_quit (TdIrcNet   *net,
             const Line *line)
{
  g_autofree char *folded = NULL;
  GHashTableIter iter;
  gpointer value;
  const char *query;

  if (line->nick == NULL)
    return;
  folded = td_irc_casefold (line->nick);
  g_hash_table_iter_init (&iter, net->channels);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Channel *channel = value;

      if (g_hash_table_remove (channel->members, folded))
        {
          TdIrcEvent *event = line_event (line, TD_IRC_EVENT_QUIT);

          event->target = g_strdup (channel->name);
          event->text = g_strdup (param (line, 0));
          channel->dirty = TRUE;
          net_push (net, event);
        }
    }
  query = query_lookup (net, line->nick);
  if (query != NULL)
    {
      TdIrcEvent *event = line_event (line, TD_IRC_EVENT_QUIT);

      event->target = g_strdup (query);
      event->flags |= TD_IRC_EVENT_FLAG_QUERY;
      event->text = g_strdup (param (line, 0));
      net_push (net, event);
    }
}

static void
handle_nick (TdIrcNet   *net,
             const Line *line)
{
  const char *new_nick = param (line, 0);
  g_autofree char *old_folded = NULL;
  gboolean self = is_me (net, line->nick);
  GHashTableIter iter;
  gpointer value;
  const char *query;
  TdIrcEvent *event;

  if (line->nick == NULL || str_empty (new_nick))
    {
      net_error (net, NULL, "Malformed NICK from the server");
      return;
    }
  old_folded = td_irc_casefold (line->nick);
  g_hash_table_iter_init (&iter, net->channels);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Channel *channel = value;
      Member *member = NULL;
      char *key = NULL;

      if (!g_hash_table_steal_extended (channel->members, old_folded, (gpointer *) &key, (gpointer *) &member))
        continue;
      g_free (key);
      g_free (member->nick);
      member->nick = g_strdup (new_nick);
      g_hash_table_replace (channel->members, td_irc_casefold (new_nick), member);
      channel->dirty = TRUE;
      event = line_event (line, TD_IRC_EVENT_NICK);
      event->target = g_strdup (channel->name);
      event->text = g_strdup (new_nick);
      if (self)
        event->flags |= TD_IRC_EVENT_FLAG_SELF;
      net_push (net, event);
    }
  query = query_lookup (net, line->nick);
  if (query != NULL && !self)
    {
      event = line_event (line, TD_IRC_EVENT_NICK);
      event->target = g_strdup (query);
      event->text = g_strdup (new_nick);
      event->flags |= TD_IRC_EVENT_FLAG_QUERY;
      net_push (net, event);
      /* The query follows the person: later lines from (and to) the new
       * nick belong to it, and a reconnect restores it under that name.
       * A query already open with the new nick takes it over. */
      g_hash_table_remove (net->queries, old_folded);
      query_add (net, new_nick);
    }
  if (self)
    {
      if (net->nick_requested != NULL && td_irc_equal (new_nick, net->nick_requested))
        {
          g_free (net->config->nick);
          net->config->nick = g_steal_pointer (&net->nick_requested);
        }
      g_free (net->nick);
      net->nick = g_strdup (new_nick);
      event = line_event (line, TD_IRC_EVENT_NICK);
      event->text = g_strdup (new_nick);
      event->flags |= TD_IRC_EVENT_FLAG_SELF;
      net_push (net, event);
    }
}

/* Does mode @c take an argument when set (@add) or unset? */
static gboolean
mode_takes_arg (TdIrcNet *net,
                char      c,
                gboolean  add)
{
  if (strchr (net->prefix_modes, c) != NULL)
    return TRUE;
  if (strchr (net->chanmodes[0], c) != NULL || strchr (net->chanmodes[1], c) != NULL)
    return TRUE;
  if (strchr (net->chanmodes[2], c) != NULL)
    return add;
  return FALSE;
}

static void
handle_mode (TdIrcNet   *net,
             const Line *line)
{
  const char *target = param (line, 0);
  const char *modes = param (line, 1);
  Channel *channel = net_lookup_channel (net, target);
  g_autofree char *text = NULL;
  TdIrcEvent *event;

  if (target == NULL || modes == NULL)
    {
      net_error (net, NULL, "Malformed MODE from the server");
      return;
    }
  if (channel != NULL)
    {
      guint arg = 2;
      gboolean add = TRUE;

      for (const char *m = modes; *m; m++)
        {
          const char *value = NULL;
          const char *prefix;

          if (*m == '+' || *m == '-')
            {
              add = *m == '+';
              continue;
            }
          if (mode_takes_arg (net, *m, add))
            value = param (line, arg++);
          prefix = strchr (net->prefix_modes, *m);
          if (prefix != NULL && value != NULL)
            {
              g_autofree char *folded = td_irc_casefold (value);
              Member *member = g_hash_table_lookup (channel->members, folded);
              gsize index = prefix - net->prefix_modes;

              if (member != NULL && index < strlen (net->prefix_chars))
                {
                  member_set_prefix (net, member, net->prefix_chars[index], add);
                  channel->dirty = TRUE;
                }
            }
        }
    }
  text = g_strjoinv (" ", line->msg->params + 1);
  event = line_event (line, TD_IRC_EVENT_MODE);
  event->target = channel ? g_strdup (channel->name) : NULL;
  event->text = g_steal_pointer (&text);
  net_push (net, event);
}

static void
handle_topic (TdIrcNet   *net,
              const Line *line,
              const char *name,
              const char *topic,
              const char *setter)
{
  Channel *channel = net_lookup_channel (net, name);
  TdIrcEvent *event;

  if (channel == NULL)
    return;
  g_free (channel->topic);
  channel->topic = g_strdup (topic);
  event = line_event (line, TD_IRC_EVENT_TOPIC);
  g_free (event->nick);
  event->nick = g_strdup (setter);
  event->target = g_strdup (channel->name);
  event->text = g_strdup (topic ? topic : "");
  net_push (net, event);
}

static void
handle_away (TdIrcNet   *net,
             const Line *line)
{
  g_autofree char *folded = NULL;
  const char *message = param (line, 0);
  GHashTableIter iter;
  gpointer value;
  TdIrcEvent *event;

  if (line->nick == NULL)
    return;
  folded = td_irc_casefold (line->nick);
  g_hash_table_iter_init (&iter, net->channels);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Channel *channel = value;
      Member *member = g_hash_table_lookup (channel->members, folded);

      if (member != NULL && member->away != (message != NULL))
        {
          member->away = message != NULL;
          channel->dirty = TRUE;
        }
    }
  event = line_event (line, TD_IRC_EVENT_AWAY);
  event->text = g_strdup (message);
  net_push (net, event);
}

/* ------------------------------------------------------------------ */
/* Registration: CAP, SASL, nick                                       */
/* ------------------------------------------------------------------ */

static const char * const wanted_caps[] = {
  "server-time", "message-tags", "echo-message", "batch", "labeled-response",
  "multi-prefix", "away-notify", "account-tag", "draft/chathistory", "chathistory",
  "sasl", NULL,
};

static gboolean
sasl_configured (TdIrcNet *net)
{
  return !str_empty (net->config->sasl_account) && !str_empty (net->config->sasl_password);
}

static void
net_cap_end (TdIrcNet *net)
{
  if (net->cap_ended)
    return;
  net->cap_ended = TRUE;
  net_send (net, "CAP END");
}

static void
net_cap_request (TdIrcNet *net)
{
  g_autoptr(GString) req = g_string_new (NULL);

  for (guint i = 0; wanted_caps[i] != NULL; i++)
    {
      if (!g_hash_table_contains (net->caps_offered, wanted_caps[i]) ||
          g_hash_table_contains (net->caps, wanted_caps[i]))
        continue;
      if (g_str_equal (wanted_caps[i], "sasl") && !sasl_configured (net))
        continue;
      if (req->len > 0)
        g_string_append_c (req, ' ');
      g_string_append (req, wanted_caps[i]);
    }
  if (req->len == 0)
    {
      if (net->cap_pending == 0 && !net->sasl_started)
        net_cap_end (net);
      return;
    }
  net->cap_pending++;
  net_send (net, "CAP REQ :%s", req->str);
}

static void
net_caps_offered (TdIrcNet   *net,
                  const char *list)
{
  g_auto(GStrv) caps = g_strsplit (list, " ", -1);

  for (guint i = 0; caps[i] != NULL; i++)
    {
      char *eq;

      if (caps[i][0] == '\0')
        continue;
      eq = strchr (caps[i], '=');
      if (eq != NULL)
        g_hash_table_replace (net->caps_offered, g_strndup (caps[i], eq - caps[i]), g_strdup (eq + 1));
      else
        g_hash_table_replace (net->caps_offered, g_strdup (caps[i]), NULL);
    }
}

/* g_ptr_array_sort() passes pointers to the elements. */
static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return g_ascii_strcasecmp (*(const char * const *) a, *(const char * const *) b);
}

static void
net_emit_caps (TdIrcNet *net)
{
  TdIrcEvent *event = td_irc_event_new (TD_IRC_EVENT_CAPS);
  GPtrArray *names = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, net->caps);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (names, g_strdup (key));
  g_ptr_array_sort (names, compare_names);
  g_ptr_array_add (names, NULL);
  event->params = (GStrv) g_ptr_array_free (names, FALSE);
  event->text = g_strjoinv (" ", event->params);
  net_push (net, event);
}

static void
handle_cap (TdIrcNet   *net,
            const Line *line)
{
  const char *sub = param (line, 1);
  const char *list;
  gboolean more = FALSE;

  if (sub == NULL)
    {
      net_error (net, NULL, "Malformed CAP from the server");
      return;
    }
  /* CAP * LS * :caps (continued) or CAP * LS :caps (last). */
  more = line->n >= 4 && g_str_equal (param (line, 2), "*");
  list = param (line, line->n - 1);
  if (line->n < 3)
    list = "";

  if (g_ascii_strcasecmp (sub, "LS") == 0)
    {
      net_caps_offered (net, list);
      if (!more)
        {
          net->cap_ls_done = TRUE;
          net_cap_request (net);
        }
    }
  else if (g_ascii_strcasecmp (sub, "NEW") == 0)
    {
      net_caps_offered (net, list);
      if (net->cap_ls_done)
        net_cap_request (net);
    }
  else if (g_ascii_strcasecmp (sub, "DEL") == 0)
    {
      g_auto(GStrv) caps = g_strsplit (list, " ", -1);

      for (guint i = 0; caps[i] != NULL; i++)
        {
          g_hash_table_remove (net->caps_offered, caps[i]);
          g_hash_table_remove (net->caps, caps[i]);
        }
      net_emit_caps (net);
    }
  else if (g_ascii_strcasecmp (sub, "ACK") == 0)
    {
      g_auto(GStrv) caps = g_strsplit (list, " ", -1);
      gboolean sasl = FALSE;

      for (guint i = 0; caps[i] != NULL; i++)
        {
          if (caps[i][0] == '\0')
            continue;
          if (caps[i][0] == '-')
            g_hash_table_remove (net->caps, caps[i] + 1);
          else
            {
              g_hash_table_add (net->caps, g_strdup (caps[i]));
              sasl |= g_str_equal (caps[i], "sasl");
            }
        }
      if (net->cap_pending > 0)
        net->cap_pending--;
      net_emit_caps (net);
      if (sasl && sasl_configured (net) && net->state == TD_IRC_STATE_REGISTERING)
        {
          net->sasl_started = TRUE;
          net_send (net, "AUTHENTICATE PLAIN");
        }
      else if (net->cap_pending == 0 && !net->sasl_started)
        net_cap_end (net);
    }
  else if (g_ascii_strcasecmp (sub, "NAK") == 0)
    {
      if (net->cap_pending > 0)
        net->cap_pending--;
      net_error (net, NULL, "The server refused the capabilities %s", list);
      if (net->cap_pending == 0 && !net->sasl_started)
        net_cap_end (net);
    }
}

static void
handle_authenticate (TdIrcNet   *net,
                     const Line *line)
{
  g_autoptr(GString) plain = NULL;
  g_autofree char *encoded = NULL;
  gsize len;

  if (g_strcmp0 (param (line, 0), "+") != 0 || !net->sasl_started)
    return;
  /* PLAIN: authzid \0 authcid \0 password, base64, in 400-byte lines. */
  plain = g_string_new (net->config->sasl_account);
  g_string_append_c (plain, '\0');
  g_string_append (plain, net->config->sasl_account);
  g_string_append_c (plain, '\0');
  g_string_append (plain, net->config->sasl_password);
  encoded = g_base64_encode ((const guchar *) plain->str, plain->len);
  memset (plain->str, 0, plain->len);
  len = strlen (encoded);
  for (gsize off = 0; off < len; off += 400)
    net_send (net, "AUTHENTICATE %.*s", (int) MIN (400, len - off), encoded + off);
  if (len % 400 == 0)
    net_send (net, "AUTHENTICATE +");
  memset (encoded, 0, len);
}

/* The next nick to try after @refused was refused: nick_, nick__,
 * nick___, then the nick cut short with a number. */
static char *
alternate_nick (const char *wanted,
                guint       attempt)
{
  if (attempt <= 3)
    {
      g_autofree char *tail = g_strnfill (attempt, '_');

      return g_strconcat (wanted, tail, NULL);
    }
  return g_strdup_printf ("%.6s%u", wanted, g_random_int_range (100, 1000));
}

static void
net_welcome (TdIrcNet   *net,
             const Line *line)
{
  GHashTableIter iter;
  gpointer key, value;
  TdIrcEvent *event;

  if (!str_empty (param (line, 0)))
    {
      g_free (net->nick);
      net->nick = g_strdup (param (line, 0));
    }
  td_retry_reset (net->retry);
  net->alt_attempt = 0;
  net_set_state (net, TD_IRC_STATE_CONNECTED, 0, NULL);
  /* The registration timeout no longer applies. */
  net_schedule_tick (net);
  event = td_irc_event_new (TD_IRC_EVENT_REGISTERED);
  event->nick = g_strdup (net->nick);
  event->text = g_strdup (net->network_name);
  net_push (net, event);

  /* Back where we were: the channels we were in, with their keys. */
  g_hash_table_iter_init (&iter, net->rejoin);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      if (str_empty (value))
        net_send (net, "JOIN %s", (char *) key);
      else
        net_send (net, "JOIN %s %s", (char *) key, (char *) value);
    }
}

/* An ISUPPORT value with its \xHH escapes decoded; NULL when that is
 * not valid UTF-8 or holds a control character. */
static char *
isupport_unescape (const char *value)
{
  g_autoptr(GString) out = g_string_new (NULL);

  for (const char *p = value; *p != '\0'; p++)
    {
      if (p[0] == '\\' && p[1] == 'x' && g_ascii_isxdigit (p[2]) && g_ascii_isxdigit (p[3]))
        {
          g_string_append_c (out, (char) (g_ascii_xdigit_value (p[2]) * 16 + g_ascii_xdigit_value (p[3])));
          p += 3;
        }
      else
        g_string_append_c (out, *p);
    }
  for (gsize i = 0; i < out->len; i++)
    if ((guchar) out->str[i] <= 0x20 || out->str[i] == 0x7f)
      return NULL;
  if (out->len == 0 || !g_utf8_validate (out->str, out->len, NULL))
    return NULL;
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* Records the network's file host and tells the owner when it changed. */
static void
net_set_filehost (TdIrcNet   *net,
                  const char *url)
{
  TdIrcEvent *event;

  if (g_strcmp0 (net->filehost, url) == 0)
    return;
  g_free (net->filehost);
  net->filehost = g_strdup (url);
  event = td_irc_event_new (TD_IRC_EVENT_FILEHOST);
  event->text = g_strdup (url);
  net_push (net, event);
}

static void
handle_isupport (TdIrcNet   *net,
                 const Line *line)
{
  for (guint i = 1; i + 1 < line->n; i++)
    {
      const char *token = line->msg->params[i];

      if (g_str_has_prefix (token, "PREFIX=("))
        {
          const char *modes = token + 8;
          const char *close = strchr (modes, ')');

          if (close != NULL && strlen (close + 1) == (gsize) (close - modes))
            {
              g_free (net->prefix_modes);
              g_free (net->prefix_chars);
              net->prefix_modes = g_strndup (modes, close - modes);
              net->prefix_chars = g_strdup (close + 1);
            }
        }
      else if (g_str_has_prefix (token, "CHANTYPES="))
        {
          g_free (net->chantypes);
          net->chantypes = g_strdup (token + 10);
        }
      else if (g_str_has_prefix (token, "CHANMODES="))
        {
          g_auto(GStrv) groups = g_strsplit (token + 10, ",", 4);

          for (guint g = 0; g < 4; g++)
            {
              g_free (net->chanmodes[g]);
              net->chanmodes[g] = g_strdup (groups[0] && g < g_strv_length (groups) ? groups[g] : "");
            }
        }
      else if (g_str_has_prefix (token, "CHATHISTORY=") || g_str_equal (token, "CHATHISTORY"))
        net->isupport_chathistory = TRUE;
      else if (g_str_has_prefix (token, "NETWORK="))
        {
          g_free (net->network_name);
          net->network_name = g_strdup (token + 8);
        }
      else if (g_str_has_prefix (token, "FILEHOST=") || g_str_equal (token, "-FILEHOST"))
        {
          g_autofree char *url = token[0] == '-' ? NULL : isupport_unescape (token + 9);

          /* Only a web address: the owner uploads there and previews
           * links to it. */
          if (url != NULL && !g_str_has_prefix (url, "https://") && !g_str_has_prefix (url, "http://"))
            g_clear_pointer (&url, g_free);
          net_set_filehost (net, url);
        }
    }
}

static const char *
numeric_target (TdIrcNet   *net,
                const Line *line)
{
  for (guint i = 1; i + 1 < line->n; i++)
    {
      Channel *channel = net_lookup_channel (net, line->msg->params[i]);
      const char *query;

      if (channel != NULL)
        return channel->name;
      query = query_lookup (net, line->msg->params[i]);
      if (query != NULL)
        return query;
    }
  return NULL;
}

static void
handle_numeric (TdIrcNet   *net,
                const Line *line)
{
  int code = atoi (line->msg->command);
  TdIrcEvent *event;
  const char *target = numeric_target (net, line);

  /* Shown first, so that what the client makes of it comes after. */
  event = line_event (line, TD_IRC_EVENT_NUMERIC);
  event->target = g_strdup (target);
  event->text = numeric_text (line);
  net_push (net, event);

  switch (code)
    {
    case 1:
      break;
    case 5:
      handle_isupport (net, line);
      break;
    case 331:
      handle_topic (net, line, param (line, 1), "", NULL);
      break;
    case 332:
      handle_topic (net, line, param (line, 1), param (line, 2), NULL);
      break;
    case 353:
      {
        Channel *channel = net_lookup_channel (net, param (line, 2));
        g_auto(GStrv) names = NULL;

        if (channel == NULL || param (line, 3) == NULL)
          break;
        if (channel->names_new == NULL)
          channel->names_new = members_new ();
        names = g_strsplit (param (line, 3), " ", -1);
        for (guint i = 0; names[i] != NULL; i++)
          {
            Member *member;

            if (names[i][0] == '\0')
              continue;
            member = member_parse (net, names[i]);
            if (member->nick[0] == '\0')
              {
                member_free (member);
                continue;
              }
            g_hash_table_replace (channel->names_new, td_irc_casefold (member->nick), member);
          }
      }
      break;
    case 366:
      {
        Channel *channel = net_lookup_channel (net, param (line, 1));

        if (channel == NULL || channel->names_new == NULL)
          break;
        /* Away state is not in NAMES: carry over what we knew. */
        {
          GHashTableIter iter;
          gpointer key, value;

          g_hash_table_iter_init (&iter, channel->names_new);
          while (g_hash_table_iter_next (&iter, &key, &value))
            {
              Member *old = g_hash_table_lookup (channel->members, key);

              if (old != NULL)
                ((Member *) value)->away = old->away;
            }
        }
        g_hash_table_unref (channel->members);
        channel->members = g_steal_pointer (&channel->names_new);
        channel->dirty = TRUE;
      }
      break;
    case 305:
    case 306:
      break;
    case 432:
    case 433:
    case 436:
    case 437:
      /* A NICK the owner asked for, refused: we stay who we are. */
      if (net->state == TD_IRC_STATE_CONNECTED && net->nick_requested != NULL &&
          param (line, 1) != NULL && td_irc_equal (param (line, 1), net->nick_requested))
        g_clear_pointer (&net->nick_requested, g_free);
      if (net->state == TD_IRC_STATE_REGISTERING)
        {
          const char *refused = param (line, 1) ? param (line, 1) : net->nick;
          g_autofree char *next = NULL;

          net->alt_attempt++;
          next = code == 432 ? g_strdup_printf ("Guest%u", g_random_int_range (1000, 10000))
                             : alternate_nick (net->config->nick, net->alt_attempt);
          event = td_irc_event_new (TD_IRC_EVENT_NICK_IN_USE);
          event->text = g_strdup (refused);
          event->nick = g_strdup (next);
          net_push (net, event);
          g_free (net->nick);
          net->nick = g_steal_pointer (&next);
          net_send (net, "NICK %s", net->nick);
        }
      break;
    case 900:
      break;
    case 903:
    case 904:
    case 905:
    case 906:
    case 907:
    case 908:
      if (code == 908)
        break;
      net->sasl_started = FALSE;
      if (code != 903)
        net_error (net, NULL, "SASL login as %s failed: %s", net->config->sasl_account,
                   param (line, line->n - 1) ? param (line, line->n - 1) : "");
      if (net->cap_pending == 0)
        net_cap_end (net);
      break;
    default:
      break;
    }

  if (code == 1)
    net_welcome (net, line);
}

static void
handle_batch (TdIrcNet   *net,
              const Line *line)
{
  const char *ref = param (line, 0);

  if (ref == NULL || strlen (ref) < 2)
    {
      net_error (net, NULL, "Malformed BATCH from the server");
      return;
    }
  if (ref[0] == '+')
    {
      Batch *batch;

      if (g_hash_table_size (net->batches) >= MAX_OPEN_BATCHES)
        {
          net_error (net, NULL, "The server opened too many batches");
          return;
        }
      batch = g_new0 (Batch, 1);
      batch->ref = g_strdup (ref + 1);
      batch->type = g_strdup (param (line, 1) ? param (line, 1) : "");
      batch->target = g_strdup (param (line, 2));
      batch->events = g_ptr_array_new_with_free_func ((GDestroyNotify) td_irc_event_free);
      g_hash_table_replace (net->batches, batch->ref, batch);
    }
  else if (ref[0] == '-')
    {
      Batch *batch = g_hash_table_lookup (net->batches, ref + 1);

      if (batch == NULL)
        return;
      if (g_str_equal (batch->type, "chathistory") && batch->target != NULL)
        {
          TdIrcEvent *event = td_irc_event_new (TD_IRC_EVENT_HISTORY);
          Channel *channel = net_lookup_channel (net, batch->target);
          const char *query = query_lookup (net, batch->target);
          g_autofree char *folded = td_irc_casefold (batch->target);
          GList *link = g_queue_find_custom (&net->history_pending, folded, pending_match);

          if (link != NULL)
            {
              Pending *pending = link->data;

              event->flags |= pending->before ? TD_IRC_EVENT_FLAG_BEFORE : 0;
              pending_free (pending);
              g_queue_delete_link (&net->history_pending, link);
            }
          event->target = g_strdup (channel ? channel->name : query ? query : batch->target);
          if (!is_channel (net, batch->target))
            event->flags |= TD_IRC_EVENT_FLAG_QUERY;
          event->history = g_steal_pointer (&batch->events);
          batch->events = g_ptr_array_new ();
          /* Private history: the target of each line is the conversation. */
          for (guint i = 0; i < event->history->len; i++)
            {
              TdIrcEvent *item = g_ptr_array_index (event->history, i);

              g_free (item->target);
              item->target = g_strdup (event->target);
            }
          net_push (net, event);
        }
      g_hash_table_remove (net->batches, ref + 1);
    }
}

/* FAIL CHATHISTORY ...: the request that is answered is the oldest one. */
static void
handle_fail (TdIrcNet   *net,
             const Line *line)
{
  TdIrcEvent *event = line_event (line, TD_IRC_EVENT_ERROR);
  g_autofree char *joined = g_strjoinv (" ", line->msg->params);

  event->text = g_strdup_printf ("%s %s", line->msg->command, joined);
  net_push (net, event);

  if (g_strcmp0 (param (line, 0), "CHATHISTORY") == 0 && !g_queue_is_empty (&net->history_pending))
    {
      Pending *pending = g_queue_pop_head (&net->history_pending);
      TdIrcEvent *empty = td_irc_event_new (TD_IRC_EVENT_HISTORY);

      empty->target = g_strdup (pending->folded);
      empty->flags |= pending->before ? TD_IRC_EVENT_FLAG_BEFORE : 0;
      pending_free (pending);
      empty->text = g_strdup (param (line, line->n - 1));
      empty->history = g_ptr_array_new ();
      net_push (net, empty);
    }
}

static void
net_handle_line (TdIrcNet   *net,
                 const char *raw,
                 gsize       len)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TdIrcMessage) msg = td_irc_message_parse (raw, len, &error);
  Line line = { 0, };
  const char *command;
  const char *time_tag;

  if (msg == NULL)
    {
      g_autofree char *shown = td_irc_to_utf8 (raw, MIN (len, 120));

      net_error (net, NULL, "The server sent a line that is not IRC (%s): %s", error->message, shown);
      if (++net->bad_lines > TD_IRC_CLIENT_MAX_BAD_LINES)
        net_connection_lost (net, "The server does not speak IRC");
      return;
    }

  /* Untrusted bytes become valid UTF-8 before anything looks at them. */
  for (guint i = 0; i < msg->n_params; i++)
    if (!g_utf8_validate (msg->params[i], -1, NULL))
      {
        char *fixed = td_irc_to_utf8 (msg->params[i], -1);

        g_free (msg->params[i]);
        msg->params[i] = fixed;
      }
  if (msg->source != NULL && !g_utf8_validate (msg->source, -1, NULL))
    {
      char *fixed = td_irc_to_utf8 (msg->source, -1);

      g_free (msg->source);
      msg->source = fixed;
    }

  line.msg = msg;
  line.n = msg->n_params;
  if (msg->source != NULL)
    {
      const char *bang = strchr (msg->source, '!');

      line.nick = bang ? g_strndup (msg->source, bang - msg->source) : g_strdup (msg->source);
      line.userhost = bang ? g_strdup (bang + 1) : NULL;
    }
  time_tag = td_irc_message_get_tag (msg, "time", NULL);
  if (time_tag == NULL || !td_irc_parse_time (time_tag, &line.time))
    line.time = g_get_real_time ();
  line.msgid = td_irc_message_get_tag (msg, "msgid", NULL);
  line.account = td_irc_message_get_tag (msg, "account", NULL);
  line.batch = td_irc_message_get_tag (msg, "batch", NULL);
  if (line.msgid != NULL && !g_utf8_validate (line.msgid, -1, NULL))
    line.msgid = NULL;
  if (line.account != NULL && !g_utf8_validate (line.account, -1, NULL))
    line.account = NULL;

  command = msg->command;
  if (g_ascii_isdigit (command[0]))
    handle_numeric (net, &line);
  else if (g_str_equal (command, "PING"))
    net_send (net, "PONG :%s", param (&line, 0) ? param (&line, 0) : "");
  else if (g_str_equal (command, "PONG"))
    ;
  else if (g_str_equal (command, "PRIVMSG"))
    handle_message (net, &line, FALSE);
  else if (g_str_equal (command, "NOTICE"))
    handle_message (net, &line, TRUE);
  else if (g_str_equal (command, "JOIN"))
    handle_join (net, &line);
  else if (g_str_equal (command, "PART"))
    handle_part_or_kick (net, &line, FALSE);
  else if (g_str_equal (command, "KICK"))
    handle_part_or_kick (net, &line, TRUE);
  else if (g_str_equal (command, "QUIT"))
    handle_quit (net, &line);
  else if (g_str_equal (command, "NICK"))
    handle_nick (net, &line);
  else if (g_str_equal (command, "MODE"))
    handle_mode (net, &line);
  else if (g_str_equal (command, "TOPIC"))
    handle_topic (net, &line, param (&line, 0), param (&line, 1), line.nick);
  else if (g_str_equal (command, "AWAY"))
    handle_away (net, &line);
  else if (g_str_equal (command, "CAP"))
    handle_cap (net, &line);
  else if (g_str_equal (command, "AUTHENTICATE"))
    handle_authenticate (net, &line);
  else if (g_str_equal (command, "BATCH"))
    handle_batch (net, &line);
  else if (g_str_equal (command, "FAIL") || g_str_equal (command, "WARN") || g_str_equal (command, "NOTE"))
    handle_fail (net, &line);
  else if (g_str_equal (command, "INVITE"))
    {
      TdIrcEvent *event = line_event (&line, TD_IRC_EVENT_INVITE);

      event->target = g_strdup (param (&line, 1));
      net_push (net, event);
    }
  else if (g_str_equal (command, "ERROR"))
    {
      TdIrcEvent *event = line_event (&line, TD_IRC_EVENT_ERROR);

      event->text = g_strdup (param (&line, 0) ? param (&line, 0) : "ERROR");
      event->flags |= TD_IRC_EVENT_FLAG_FATAL;
      net_push (net, event);
    }
  else
    {
      TdIrcEvent *event = line_event (&line, TD_IRC_EVENT_RAW);
      g_autofree char *joined = g_strjoinv (" ", msg->params);

      event->text = g_strdup_printf ("%s %s", command, joined);
      net_push (net, event);
    }

  g_free (line.nick);
  g_free (line.userhost);
}

/* ------------------------------------------------------------------ */
/* Connection                                                          */
/* ------------------------------------------------------------------ */

static void net_read_next (TdIrcNet *net);

static void
read_cb (GObject      *object,
         GAsyncResult *result,
         gpointer      user_data)
{
  Op *op = user_data;
  TdIrcNet *net = op->net;
  g_autoptr(GError) error = NULL;
  gssize n;
  gsize start = 0;

  n = g_input_stream_read_finish (G_INPUT_STREAM (object), result, &error);
  if (!op_finish (op))
    return;
  if (n < 0)
    {
      net_connection_lost (net, error->message);
      net_flush (net);
      return;
    }
  if (n == 0)
    {
      net_connection_lost (net, "The server closed the connection");
      net_flush (net);
      return;
    }

  net->last_input = g_get_monotonic_time ();
  net->ping_sent = FALSE;
  g_byte_array_append (net->inbuf, net->readbuf, n);
  for (gsize i = 0; i < net->inbuf->len && net->stream != NULL; i++)
    {
      if (net->inbuf->data[i] != '\n')
        continue;
      {
        gsize end = i;

        if (end > start && net->inbuf->data[end - 1] == '\r')
          end--;
        if (end > start)
          net_handle_line (net, (const char *) net->inbuf->data + start, end - start);
      }
      start = i + 1;
    }
  if (net->stream == NULL)
    {
      net_flush (net);
      return;
    }
  g_byte_array_remove_range (net->inbuf, 0, start);
  if (net->inbuf->len > TD_IRC_MAX_WIRE_LINE)
    {
      net_error (net, NULL, "The server sent a line longer than %u bytes", TD_IRC_MAX_WIRE_LINE);
      net_connection_lost (net, "The server does not speak IRC");
      net_flush (net);
      return;
    }
  net_read_next (net);
  net_flush (net);
}

static void
net_read_next (TdIrcNet *net)
{
  Op *op = op_new (net);

  g_input_stream_read_async (g_io_stream_get_input_stream (net->stream),
                             net->readbuf, READ_CHUNK, G_PRIORITY_DEFAULT,
                             net->cancellable, read_cb, op);
}

/* The connection's timer runs when something is due (a deadline source,
 * not a periodic timer: an idle connection wakes once a ping interval):
 * the registration timeout, the keep-alive PING and the dead-connection
 * check. Input only moves what is due later; the timer then finds
 * nothing to do but wait again. */
static gint64
ping_interval_us (TdIrcNet *net)
{
  return (gint64) (net->config->ping_interval_s ? net->config->ping_interval_s
                                                : TD_IRC_CLIENT_PING_INTERVAL_S) * G_USEC_PER_SEC;
}

static gint64
ping_timeout_us (TdIrcNet *net)
{
  return (gint64) (net->config->ping_timeout_s ? net->config->ping_timeout_s
                                               : TD_IRC_CLIENT_PING_TIMEOUT_S) * G_USEC_PER_SEC;
}

#define REGISTRATION_US ((gint64) TD_IRC_CLIENT_CONNECT_TIMEOUT_S * G_USEC_PER_SEC)

/* Sets the timer for what is due next (just past it: the checks are "more
 * than"), if the connection has one. */
static void
net_schedule_tick (TdIrcNet *net)
{
  gint64 next;

  if (net->tick == NULL)
    return;
  next = net->last_input + ping_interval_us (net) + (net->ping_sent ? ping_timeout_us (net) : 0) + 1;
  if (net->state == TD_IRC_STATE_REGISTERING)
    next = MIN (next, net->connected_at + REGISTRATION_US + 1);
  td_deadline_source_set (net->tick, next);
}

static gboolean
tick_cb (gpointer user_data)
{
  TdIrcNet *net = user_data;
  gint64 now = g_get_monotonic_time ();

  if (net->state == TD_IRC_STATE_REGISTERING && now - net->connected_at > REGISTRATION_US)
    net_connection_lost (net, "Registration timed out");
  else if (now - net->last_input > ping_interval_us (net) + ping_timeout_us (net))
    net_connection_lost (net, "Ping timeout");
  else if (!net->ping_sent && now - net->last_input > ping_interval_us (net))
    {
      net->ping_sent = TRUE;
      net_send (net, "PING :tidings");
    }
  net_flush (net);
  /* Lost, the connection took its timer with it. */
  net_schedule_tick (net);
  return G_SOURCE_CONTINUE;
}

static gboolean
accept_certificate_cb (GTlsConnection       *connection,
                       GTlsCertificate      *certificate,
                       GTlsCertificateFlags  errors,
                       gpointer              user_data)
{
  return TRUE;
}

static void
socket_client_event_cb (GSocketClient      *client,
                        GSocketClientEvent  event,
                        GSocketConnectable *connectable,
                        GIOStream          *connection,
                        gpointer            user_data)
{
  TdIrcNet *net = user_data;

  if (event == G_SOCKET_CLIENT_TLS_HANDSHAKING && net->config->tls_insecure &&
      G_IS_TLS_CONNECTION (connection))
    g_signal_connect (connection, "accept-certificate", G_CALLBACK (accept_certificate_cb), NULL);
}

static void
connect_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  Op *op = user_data;
  TdIrcNet *net = op->net;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketConnection) connection = NULL;
  const char *user;

  connection = g_socket_client_connect_to_host_finish (G_SOCKET_CLIENT (object), result, &error);
  if (!op_finish (op))
    return;
  if (connection == NULL)
    {
      net_connection_lost (net, error->message);
      net_flush (net);
      return;
    }

  /* The connect timeout must not become an idle timeout on the socket. */
  g_socket_set_timeout (g_socket_connection_get_socket (connection), 0);
  net->stream = G_IO_STREAM (g_steal_pointer (&connection));
  net->connected_at = net->last_input = g_get_monotonic_time ();
  net->ping_sent = FALSE;
  net->bad_lines = 0;
  net_set_state (net, TD_IRC_STATE_REGISTERING, 0, NULL);

  net->tick = td_deadline_source_new (tick_cb, net);
  net_schedule_tick (net);
  g_source_attach (net->tick, net->context);

  user = net->config->username ? net->config->username : net->config->nick;
  net_send (net, "CAP LS 302");
  if (!str_empty (net->config->password))
    net_send (net, "PASS %s", net->config->password);
  net_send (net, "NICK %s", net->nick);
  net_send (net, "USER %s 0 * :%s", user, net->config->realname ? net->config->realname : net->config->nick);
  net_read_next (net);
  net_flush (net);
}

/* What a server says about itself (ISUPPORT) holds for one connection:
 * back to the RFC defaults until the next server's 005 says otherwise,
 * so that a server restarted without CHATHISTORY, say, is not sent it. */
static void
net_reset_isupport (TdIrcNet *net)
{
  g_free (net->prefix_modes);
  net->prefix_modes = g_strdup ("ov");
  g_free (net->prefix_chars);
  net->prefix_chars = g_strdup ("@+");
  g_free (net->chantypes);
  net->chantypes = g_strdup ("#&");
  for (guint i = 0; i < 4; i++)
    g_free (net->chanmodes[i]);
  net->chanmodes[0] = g_strdup ("beI");
  net->chanmodes[1] = g_strdup ("k");
  net->chanmodes[2] = g_strdup ("l");
  net->chanmodes[3] = g_strdup ("imnpst");
  net->isupport_chathistory = FALSE;
  g_clear_pointer (&net->network_name, g_free);
}

static void
net_connect (TdIrcNet *net)
{
  Op *op;

  if (net->stream != NULL || net->state == TD_IRC_STATE_CONNECTING)
    return;
  td_retry_cancel (net->retry);
  g_clear_object (&net->cancellable);
  net->cancellable = g_cancellable_new ();
  g_free (net->nick);
  net->nick = g_strdup (net->config->nick);
  net->alt_attempt = 0;
  net->cap_ls_done = FALSE;
  net->cap_ended = FALSE;
  net->cap_pending = 0;
  net->sasl_started = FALSE;
  g_hash_table_remove_all (net->caps_offered);
  g_hash_table_remove_all (net->caps);
  net_reset_isupport (net);
  /* Learnt again from the next JOIN echo (a server may cloak us). */
  g_clear_pointer (&net->userhost, g_free);
  g_clear_pointer (&net->nick_requested, g_free);
  net_set_state (net, TD_IRC_STATE_CONNECTING, 0, NULL);
  /* What the server offers is learnt again from its ISUPPORT. */
  net_set_filehost (net, NULL);

  op = op_new (net);
  g_socket_client_connect_to_host_async (net->socket_client, net->config->host,
                                         net->config->port, net->cancellable, connect_cb, op);
}

/* Drops the connection and everything that belonged to it; the channels
 * we were in are kept in net->rejoin. */
static void
net_close (TdIrcNet *net)
{
  net->gen++;
  if (net->cancellable != NULL)
    g_cancellable_cancel (net->cancellable);
  if (net->tick != NULL)
    {
      g_source_destroy (net->tick);
      g_clear_pointer (&net->tick, g_source_unref);
    }
  if (net->stream != NULL)
    {
      /* Closing the socket under a TLS layer is safe and immediate; the
       * streams go when the cancelled operations have called back. */
      g_socket_close (g_socket_connection_get_socket (G_SOCKET_CONNECTION (net->stream)), NULL);
      g_clear_object (&net->stream);
    }
  net->writing = FALSE;
  g_string_truncate (net->outbuf, 0);
  g_byte_array_set_size (net->inbuf, 0);
  g_hash_table_remove_all (net->batches);

  /* Channels end with the connection (the STATE event that follows says
   * so); net->rejoin remembers them. */
  g_hash_table_remove_all (net->channels);

  /* History requests in flight will never be answered now. */
  while (!g_queue_is_empty (&net->history_pending))
    {
      Pending *pending = g_queue_pop_head (&net->history_pending);
      TdIrcEvent *event = td_irc_event_new (TD_IRC_EVENT_HISTORY);

      event->target = g_strdup (pending->folded);
      event->flags |= pending->before ? TD_IRC_EVENT_FLAG_BEFORE : 0;
      pending_free (pending);
      event->text = g_strdup ("disconnected");
      event->history = g_ptr_array_new ();
      net_push (net, event);
    }
}

static void
net_connection_lost (TdIrcNet   *net,
                     const char *reason)
{
  gboolean was_connected = net->state == TD_IRC_STATE_CONNECTED;

  if (net->state == TD_IRC_STATE_DISCONNECTED || net->state == TD_IRC_STATE_RETRYING)
    return;
  net_close (net);
  if (net->shutting_down || !net->want_connected || !net->config->reconnect)
    {
      net_set_state (net, TD_IRC_STATE_DISCONNECTED, 0, reason);
      return;
    }
  /* A connection that had worked is retried at once, the first time. */
  if (was_connected)
    td_retry_reset (net->retry);
  net_set_state (net, TD_IRC_STATE_RETRYING, td_retry_schedule (net->retry, 0), reason);
}

/* ------------------------------------------------------------------ */
/* Commands from the owner                                             */
/* ------------------------------------------------------------------ */

static gboolean
net_require (TdIrcNet   *net,
             const char *target,
             const char *what)
{
  if (net->state == TD_IRC_STATE_CONNECTED ||
      (net->state == TD_IRC_STATE_REGISTERING && what == NULL))
    return TRUE;
  net_error (net, target, "Not connected: “%s” was not sent", what ? what : "line");
  return FALSE;
}

/* Sends PRIVMSG/NOTICE (or ACTION) with each line of @text split so that
 * the relayed message fits in 512 bytes; without echo-message the events
 * are made here, as the server will not send them. */
static void
net_send_text (TdIrcNet   *net,
               const char *verb,
               const char *target,
               const char *text,
               gboolean    action)
{
  g_auto(GStrv) lines = NULL;
  gsize overhead;
  gsize room;

  if (str_empty (target) || text == NULL || !net_require (net, target, text))
    return;

  overhead = strlen (":!") + strlen (net->nick) +
             (net->userhost ? strlen (net->userhost) : TD_IRC_CLIENT_GUESS_USERHOST) +
             1 + strlen (verb) + 1 + strlen (target) + 2 + (action ? 9 : 0);
  room = overhead < TD_IRC_MAX_LINE_CONTENT - 32 ? TD_IRC_MAX_LINE_CONTENT - overhead : 32;

  lines = g_strsplit_set (text, "\r\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) parts = NULL;

      if (lines[i][0] == '\0' && !action)
        continue;
      parts = td_irc_split_text (lines[i], room);
      for (guint j = 0; parts[j] != NULL; j++)
        {
          if (action)
            net_send (net, "%s %s :\001ACTION %s\001", verb, target, parts[j]);
          else
            net_send (net, "%s %s :%s", verb, target, parts[j]);

          if (!g_hash_table_contains (net->caps, "echo-message"))
            {
              TdIrcEvent *event = td_irc_event_new (action ? TD_IRC_EVENT_ACTION :
                                                    g_str_equal (verb, "NOTICE") ? TD_IRC_EVENT_NOTICE :
                                                    TD_IRC_EVENT_MESSAGE);
              event->flags |= TD_IRC_EVENT_FLAG_SELF;
              event->nick = g_strdup (net->nick);
              event->target = g_strdup (target);
              event->text = g_strdup (parts[j]);
              event->command = g_strdup (verb);
              if (!is_channel (net, target))
                event->flags |= TD_IRC_EVENT_FLAG_QUERY;
              net_push (net, event);
            }
        }
    }
  if (!is_channel (net, target) && query_lookup (net, target) == NULL)
    query_add (net, target);
}

static gboolean
net_has_chathistory (TdIrcNet *net)
{
  return g_hash_table_contains (net->caps, "draft/chathistory") ||
         g_hash_table_contains (net->caps, "chathistory") ||
         net->isupport_chathistory;
}

static void
net_history (TdIrcNet   *net,
             Cmd        *cmd,
             gboolean    before)
{
  guint limit = cmd->limit ? cmd->limit : TD_IRC_CLIENT_HISTORY_PAGE;
  Pending *pending;

  if (net->state != TD_IRC_STATE_CONNECTED || !net_has_chathistory (net))
    {
      TdIrcEvent *event = td_irc_event_new (TD_IRC_EVENT_HISTORY);

      event->target = g_strdup (cmd->a);
      event->text = g_strdup (net->state == TD_IRC_STATE_CONNECTED ? "unsupported" : "disconnected");
      event->history = g_ptr_array_new ();
      event->flags |= before ? TD_IRC_EVENT_FLAG_BEFORE : 0;
      net_push (net, event);
      return;
    }

  pending = g_new0 (Pending, 1);
  pending->folded = td_irc_casefold (cmd->a);
  pending->before = before;
  g_queue_push_tail (&net->history_pending, pending);

  if (!before)
    net_send (net, "CHATHISTORY LATEST %s * %u", cmd->a, limit);
  else if (!str_empty (cmd->b))
    net_send (net, "CHATHISTORY BEFORE %s msgid=%s %u", cmd->a, cmd->b, limit);
  else
    {
      g_autofree char *stamp = td_irc_format_time (cmd->time > 0 ? cmd->time : g_get_real_time ());

      net_send (net, "CHATHISTORY BEFORE %s timestamp=%s %u", cmd->a, stamp, limit);
    }
}

static gboolean
quit_loop_cb (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_REMOVE;
}

static void
net_mail_cb (TdMailboxId  id,
             TdMail      *mail,
             gpointer     user_data)
{
  TdIrcNet *net = user_data;
  Cmd *cmd = mail->data;

  switch (mail->kind)
    {
    case CMD_CONNECT:
      net->want_connected = TRUE;
      if (net->state == TD_IRC_STATE_DISCONNECTED || net->state == TD_IRC_STATE_RETRYING)
        net_connect (net);
      break;

    case CMD_RETRY:
      if (net->state == TD_IRC_STATE_RETRYING && net->want_connected)
        {
          net->state = TD_IRC_STATE_DISCONNECTED;
          net_connect (net);
        }
      break;

    case CMD_DISCONNECT:
    case CMD_SHUTDOWN:
      net->want_connected = FALSE;
      td_retry_cancel (net->retry);
      if (mail->kind == CMD_SHUTDOWN)
        net->shutting_down = TRUE;
      if (net->stream != NULL && net->state >= TD_IRC_STATE_REGISTERING)
        {
          net_send (net, "QUIT :%s", cmd && cmd->a ? cmd->a : "");
          if (mail->kind == CMD_SHUTDOWN && net->writing)
            {
              /* Let the QUIT leave, but not for long. */
              GSource *timeout = g_timeout_source_new (TD_IRC_CLIENT_QUIT_FLUSH_MS);

              g_source_set_callback (timeout, quit_loop_cb, net->loop, NULL);
              g_source_attach (timeout, net->context);
              g_source_unref (timeout);
              break;
            }
        }
      if (net->state == TD_IRC_STATE_RETRYING)
        net->state = TD_IRC_STATE_CONNECTING;   /* so that the loss below is reported */
      if (net->state != TD_IRC_STATE_DISCONNECTED)
        net_connection_lost (net, cmd && cmd->a ? cmd->a : "Disconnected");
      if (mail->kind == CMD_SHUTDOWN)
        g_main_loop_quit (net->loop);
      break;

    case CMD_RAW:
      if (net_require (net, NULL, NULL))
        net_send (net, "%s", cmd->a);
      break;

    case CMD_PRIVMSG:
      net_send_text (net, "PRIVMSG", cmd->a, cmd->b, FALSE);
      break;

    case CMD_NOTICE:
      net_send_text (net, "NOTICE", cmd->a, cmd->b, FALSE);
      break;

    case CMD_ACTION:
      net_send_text (net, "PRIVMSG", cmd->a, cmd->b, TRUE);
      break;

    case CMD_JOIN:
      /* The key is kept for rejoining; the channel itself is only ours
       * once the server echoes the JOIN. */
      if (!str_empty (cmd->b))
        g_hash_table_replace (net->join_keys, td_irc_casefold (cmd->a), g_strdup (cmd->b));
      if (net_require (net, cmd->a, "JOIN"))
        {
          if (str_empty (cmd->b))
            net_send (net, "JOIN %s", cmd->a);
          else
            net_send (net, "JOIN %s %s", cmd->a, cmd->b);
        }
      break;

    case CMD_PART:
      if (net_require (net, cmd->a, "PART"))
        {
          if (str_empty (cmd->b))
            net_send (net, "PART %s", cmd->a);
          else
            net_send (net, "PART %s :%s", cmd->a, cmd->b);
        }
      else
        {
          g_autofree char *folded = td_irc_casefold (cmd->a);

          g_hash_table_remove (net->rejoin, folded);
        }
      break;

    case CMD_NICK:
      /* While connected the server decides: the nick becomes the one to
       * register with next time only once it is ours (a refused one
       * must not be taken after a reconnect, when its owner may be
       * slower to come back). */
      if (net->state == TD_IRC_STATE_CONNECTED)
        {
          g_free (net->nick_requested);
          net->nick_requested = g_strdup (cmd->a);
        }
      else
        {
          g_free (net->config->nick);
          net->config->nick = g_strdup (cmd->a);
        }
      if (net->stream != NULL)
        net_send (net, "NICK %s", cmd->a);
      break;

    case CMD_OPEN_QUERY:
      query_add (net, cmd->a);
      break;

    case CMD_CLOSE_QUERY:
      {
        g_autofree char *folded = td_irc_casefold (cmd->a);

        g_hash_table_remove (net->queries, folded);
      }
      break;

    case CMD_HISTORY_LATEST:
    case CMD_HISTORY_BEFORE:
      net_history (net, cmd, mail->kind == CMD_HISTORY_BEFORE);
      break;

    default:
      g_warn_if_reached ();
    }
  net_flush (net);
}

/* ------------------------------------------------------------------ */
/* The thread                                                          */
/* ------------------------------------------------------------------ */

static TdIrcNet *
net_new (const TdIrcClientConfig *config,
         TdMailboxId              owner,
         guint                    kind)
{
  TdIrcNet *net = g_new0 (TdIrcNet, 1);
  TdRetryPolicy policy;

  net->config = td_irc_client_config_copy (config);
  if (str_empty (net->config->nick))
    {
      g_free (net->config->nick);
      net->config->nick = g_strdup ("tidings");
    }
  net->context = g_main_context_new ();
  net->loop = g_main_loop_new (net->context, FALSE);
  net->owner = owner;
  net->owner_kind = kind;
  net->events = g_ptr_array_new_with_free_func ((GDestroyNotify) td_irc_event_free);
  net->readbuf = g_malloc (READ_CHUNK);
  net->inbuf = g_byte_array_new ();
  net->outbuf = g_string_new (NULL);
  net->nick = g_strdup (net->config->nick);
  net->caps_offered = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  net->caps = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  net_reset_isupport (net);
  net->channels = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) channel_free);
  net->rejoin = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  net->queries = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  net->batches = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) batch_free);
  g_queue_init (&net->history_pending);
  net->join_keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  net->socket_client = g_socket_client_new ();
  g_socket_client_set_timeout (net->socket_client, TD_IRC_CLIENT_CONNECT_TIMEOUT_S);
  g_socket_client_set_tls (net->socket_client, config->tls);
  g_signal_connect (net->socket_client, "event", G_CALLBACK (socket_client_event_cb), net);

  net->mailbox = td_mailbox_open (net->context, G_PRIORITY_DEFAULT, net_mail_cb, net, NULL);
  policy = config->retry.base_ms > 0 ? config->retry : TD_RETRY_POLICY_DEFAULT;
  net->retry = td_retry_new (&policy, net->mailbox, CMD_RETRY);
  return net;
}

static void
net_free (TdIrcNet *net)
{
  td_retry_free (net->retry);
  g_clear_object (&net->socket_client);
  g_clear_object (&net->cancellable);
  g_clear_pointer (&net->tick, g_source_unref);
  g_ptr_array_unref (net->events);
  g_free (net->readbuf);
  g_byte_array_unref (net->inbuf);
  g_string_free (net->outbuf, TRUE);
  g_free (net->nick);
  g_free (net->userhost);
  g_free (net->nick_requested);
  g_hash_table_unref (net->caps_offered);
  g_hash_table_unref (net->caps);
  g_free (net->prefix_modes);
  g_free (net->prefix_chars);
  g_free (net->chantypes);
  for (guint i = 0; i < 4; i++)
    g_free (net->chanmodes[i]);
  g_free (net->network_name);
  g_free (net->filehost);
  g_hash_table_unref (net->channels);
  g_hash_table_unref (net->rejoin);
  g_hash_table_unref (net->queries);
  g_hash_table_unref (net->batches);
  g_queue_clear_full (&net->history_pending, (GDestroyNotify) pending_free);
  g_hash_table_unref (net->join_keys);
  g_main_loop_unref (net->loop);
  g_main_context_unref (net->context);
  td_irc_client_config_free (net->config);
  g_free (net);
}

static gpointer
net_thread (gpointer data)
{
  TdIrcNet *net = data;

  g_main_context_push_thread_default (net->context);
  g_main_loop_run (net->loop);

  /* Closing: every operation in flight must call back before the state
   * it points to goes away. */
  net->shutting_down = TRUE;
  if (net->state != TD_IRC_STATE_DISCONNECTED)
    {
      net_close (net);
      net_set_state (net, TD_IRC_STATE_DISCONNECTED, 0, NULL);
    }
  td_retry_cancel (net->retry);
  td_mailbox_close (net->mailbox);
  while (net->n_ops > 0)
    g_main_context_iteration (net->context, TRUE);
  net_flush (net);
  /* Sources that are still attached (a QUIT flush timeout) go with it. */
  while (g_main_context_pending (net->context))
    g_main_context_iteration (net->context, FALSE);
  g_main_context_pop_thread_default (net->context);
  return NULL;
}

/* ------------------------------------------------------------------ */
/* Public API (owner side)                                             */
/* ------------------------------------------------------------------ */

TdIrcClient *
td_irc_client_new (const TdIrcClientConfig *config,
                   TdMailboxId              owner,
                   guint                    kind)
{
  TdIrcClient *client;

  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (config->host != NULL, NULL);

  client = g_new0 (TdIrcClient, 1);
  client->network = config->network;
  client->net = net_new (config, owner, kind);
  client->mailbox = client->net->mailbox;
  client->thread = g_thread_new ("td-irc-client", net_thread, client->net);
  return client;
}

static void
client_send (TdIrcClient *client,
             guint        kind,
             const char  *a,
             const char  *b,
             const char  *c,
             gint64       time,
             guint        limit)
{
  Cmd *cmd = g_new0 (Cmd, 1);

  cmd->a = g_strdup (a);
  cmd->b = g_strdup (b);
  cmd->c = g_strdup (c);
  cmd->time = time;
  cmd->limit = limit;
  td_mail_send_new (client->mailbox, kind, cmd, (GDestroyNotify) cmd_free);
}

void
td_irc_client_free (TdIrcClient *client,
                    const char  *reason)
{
  if (client == NULL)
    return;
  client_send (client, CMD_SHUTDOWN, reason, NULL, NULL, 0, 0);
  g_thread_join (client->thread);
  net_free (client->net);
  g_free (client);
}

void
td_irc_client_connect (TdIrcClient *client)
{
  g_return_if_fail (client != NULL);
  client_send (client, CMD_CONNECT, NULL, NULL, NULL, 0, 0);
}

void
td_irc_client_disconnect (TdIrcClient *client,
                          const char  *reason)
{
  g_return_if_fail (client != NULL);
  client_send (client, CMD_DISCONNECT, reason, NULL, NULL, 0, 0);
}

guint
td_irc_client_get_network (TdIrcClient *client)
{
  g_return_val_if_fail (client != NULL, 0);
  return client->network;
}

void
td_irc_client_send_raw (TdIrcClient *client,
                        const char  *line)
{
  g_return_if_fail (client != NULL);
  g_return_if_fail (line != NULL);
  client_send (client, CMD_RAW, line, NULL, NULL, 0, 0);
}

void
td_irc_client_privmsg (TdIrcClient *client,
                       const char  *target,
                       const char  *text)
{
  g_return_if_fail (client != NULL);
  client_send (client, CMD_PRIVMSG, target, text, NULL, 0, 0);
}

void
td_irc_client_notice (TdIrcClient *client,
                      const char  *target,
                      const char  *text)
{
  g_return_if_fail (client != NULL);
  client_send (client, CMD_NOTICE, target, text, NULL, 0, 0);
}

void
td_irc_client_action (TdIrcClient *client,
                      const char  *target,
                      const char  *text)
{
  g_return_if_fail (client != NULL);
  client_send (client, CMD_ACTION, target, text, NULL, 0, 0);
}

void
td_irc_client_join (TdIrcClient *client,
                    const char  *channel,
                    const char  *key)
{
  g_return_if_fail (client != NULL);
  g_return_if_fail (channel != NULL);
  client_send (client, CMD_JOIN, channel, key, NULL, 0, 0);
}

void
td_irc_client_part (TdIrcClient *client,
                    const char  *channel,
                    const char  *reason)
{
  g_return_if_fail (client != NULL);
  g_return_if_fail (channel != NULL);
  client_send (client, CMD_PART, channel, reason, NULL, 0, 0);
}

void
td_irc_client_set_nick (TdIrcClient *client,
                        const char  *nick)
{
  g_return_if_fail (client != NULL);
  g_return_if_fail (nick != NULL);
  client_send (client, CMD_NICK, nick, NULL, NULL, 0, 0);
}

static void
client_send_raw_printf (TdIrcClient *client,
                        const char  *format,
                        ...) G_GNUC_PRINTF (2, 3);

static void
client_send_raw_printf (TdIrcClient *client,
                        const char  *format,
                        ...)
{
  g_autofree char *line = NULL;
  va_list args;

  va_start (args, format);
  line = g_strdup_vprintf (format, args);
  va_end (args);
  client_send (client, CMD_RAW, line, NULL, NULL, 0, 0);
}

void
td_irc_client_set_topic (TdIrcClient *client,
                         const char  *channel,
                         const char  *topic)
{
  g_return_if_fail (client != NULL);
  g_return_if_fail (channel != NULL);
  if (topic == NULL)
    client_send_raw_printf (client, "TOPIC %s", channel);
  else
    client_send_raw_printf (client, "TOPIC %s :%s", channel, topic);
}

void
td_irc_client_set_away (TdIrcClient *client,
                        const char  *message)
{
  g_return_if_fail (client != NULL);
  if (str_empty (message))
    client_send_raw_printf (client, "AWAY");
  else
    client_send_raw_printf (client, "AWAY :%s", message);
}

void
td_irc_client_whois (TdIrcClient *client,
                     const char  *nick)
{
  g_return_if_fail (client != NULL);
  g_return_if_fail (nick != NULL);
  client_send_raw_printf (client, "WHOIS %s", nick);
}

void
td_irc_client_names (TdIrcClient *client,
                     const char  *channel)
{
  g_return_if_fail (client != NULL);
  g_return_if_fail (channel != NULL);
  client_send_raw_printf (client, "NAMES %s", channel);
}

void
td_irc_client_mode (TdIrcClient *client,
                    const char  *target,
                    const char  *modes)
{
  g_return_if_fail (client != NULL);
  g_return_if_fail (target != NULL);
  if (str_empty (modes))
    client_send_raw_printf (client, "MODE %s", target);
  else
    client_send_raw_printf (client, "MODE %s %s", target, modes);
}

void
td_irc_client_kick (TdIrcClient *client,
                    const char  *channel,
                    const char  *nick,
                    const char  *reason)
{
  g_return_if_fail (client != NULL);
  g_return_if_fail (channel != NULL && nick != NULL);
  if (str_empty (reason))
    client_send_raw_printf (client, "KICK %s %s", channel, nick);
  else
    client_send_raw_printf (client, "KICK %s %s :%s", channel, nick, reason);
}

void
td_irc_client_invite (TdIrcClient *client,
                      const char  *nick,
                      const char  *channel)
{
  g_return_if_fail (client != NULL);
  g_return_if_fail (channel != NULL && nick != NULL);
  client_send_raw_printf (client, "INVITE %s %s", nick, channel);
}

void
td_irc_client_open_query (TdIrcClient *client,
                          const char  *nick)
{
  g_return_if_fail (client != NULL);
  g_return_if_fail (nick != NULL);
  client_send (client, CMD_OPEN_QUERY, nick, NULL, NULL, 0, 0);
}

void
td_irc_client_close_query (TdIrcClient *client,
                           const char  *nick)
{
  g_return_if_fail (client != NULL);
  g_return_if_fail (nick != NULL);
  client_send (client, CMD_CLOSE_QUERY, nick, NULL, NULL, 0, 0);
}

void
td_irc_client_history_latest (TdIrcClient *client,
                              const char  *target,
                              guint        limit)
{
  g_return_if_fail (client != NULL);
  g_return_if_fail (target != NULL);
  client_send (client, CMD_HISTORY_LATEST, target, NULL, NULL, 0, limit);
}

void
td_irc_client_history_before (TdIrcClient *client,
                              const char  *target,
                              const char  *before_msgid,
                              gint64       before_time,
                              guint        limit)
{
  g_return_if_fail (client != NULL);
  g_return_if_fail (target != NULL);
  client_send (client, CMD_HISTORY_BEFORE, target, before_msgid, NULL, before_time, limit);
}
