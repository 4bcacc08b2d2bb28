/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-pubsub-connection"

#include "config.h"

#include <string.h>
#include <glib/gi18n.h>

#include "app/td-pubsub-connection.h"

/* Our own mail, after the client's kinds: a tick of the "retrying in N s"
 * countdown. */
#define MAIL_COUNTDOWN TD_PUBSUB_N_MAIL_KINDS

struct _TdPubsubConnection
{
  GObject          parent_instance;

  char            *key;            /* stored name; stable */
  char            *title;
  char            *host;
  guint16          port;
  gboolean         tls;
  char            *password;
  gboolean         builtin;
  TdRetryPolicy    retry;

  TdMailboxId      mailbox;
  TdPubsubClient  *client;         /* owned; NULL until started */
  GListStore      *topics;         /* TdPubsubTopic */
  TdPubsubState    state;
  gint64           retry_at;       /* monotonic, while RETRYING */
  char            *last_error;
  char            *status_text;
  guint            countdown;      /* td_mail_send_after() handle */
};

G_DEFINE_FINAL_TYPE (TdPubsubConnection, td_pubsub_connection, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_TITLE,
  PROP_STATE,
  PROP_STATUS_TEXT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  MESSAGES,
  PUBLISHED,
  RECONNECTED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
set_status_text (TdPubsubConnection *self,
                 const char         *text)
{
  if (g_strcmp0 (self->status_text, text) == 0)
    return;
  g_free (self->status_text);
  self->status_text = g_strdup (text);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATUS_TEXT]);
}

/* Writes the status line and, while retrying, schedules its next update
 * for when the number of seconds shown changes. */
static void
update_status_text (TdPubsubConnection *self)
{
  g_autofree char *text = NULL;

  td_mail_cancel_timeout (self->countdown);
  self->countdown = 0;

  switch (self->state)
    {
    case TD_PUBSUB_STATE_DISCONNECTED:
      text = g_strdup (_("Disconnected"));
      break;
    case TD_PUBSUB_STATE_CONNECTING:
      text = g_strdup (_("Connecting…"));
      break;
    case TD_PUBSUB_STATE_CONNECTED:
      text = g_strdup (_("Connected"));
      break;
    case TD_PUBSUB_STATE_RETRYING:
      {
        gint64 left_ms = MAX (0, (self->retry_at - g_get_monotonic_time ()) / 1000);
        guint seconds = (guint) ((left_ms + 999) / 1000);

        /* Translators: the connection failed; %u is a number of seconds, %s the reason */
        text = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "Retrying in %u s: %s", "Retrying in %u s: %s", seconds),
                                seconds, self->last_error ? self->last_error : "");
        if (left_ms > 0)
          self->countdown = td_mail_send_after (self->mailbox, (guint) (left_ms % 1000 ? left_ms % 1000 : 1000),
                                                td_mail_new (MAIL_COUNTDOWN, NULL, NULL));
      }
      break;
    default:
      g_assert_not_reached ();
    }
  set_status_text (self, text);
}

static void
set_topic_active (TdPubsubConnection *self,
                  const char         *name,
                  gboolean            is_pattern,
                  gboolean            active)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->topics));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(TdPubsubTopic) topic = g_list_model_get_item (G_LIST_MODEL (self->topics), i);

      if (td_pubsub_topic_get_is_pattern (topic) == is_pattern &&
          (name == NULL || g_strcmp0 (td_pubsub_topic_get_name (topic), name) == 0))
        td_pubsub_topic_set_active (topic, active);
    }
}

static void
mail_cb (TdMailboxId  id,
         TdMail      *mail,
         gpointer     user_data)
{
  TdPubsubConnection *self = user_data;

  switch (mail->kind)
    {
    case TD_PUBSUB_MAIL_STATUS:
      {
        TdPubsubStatus *status = mail->data;

        if (status->error != NULL)
          {
            g_free (self->last_error);
            self->last_error = g_strdup (status->error->message);
          }
        if (status->state != TD_PUBSUB_STATE_CONNECTED)
          {
            set_topic_active (self, NULL, FALSE, FALSE);
            set_topic_active (self, NULL, TRUE, FALSE);
          }
        self->retry_at = status->retry_at;
        if (self->state != status->state)
          {
            self->state = status->state;
            g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STATE]);
          }
        update_status_text (self);
        if (status->state == TD_PUBSUB_STATE_CONNECTED && status->reconnected && status->error == NULL)
          g_signal_emit (self, signals[RECONNECTED], 0, status->n_resubscribed);
      }
      break;

    case TD_PUBSUB_MAIL_MESSAGES:
      g_signal_emit (self, signals[MESSAGES], 0, mail->data);
      break;

    case TD_PUBSUB_MAIL_SUBSCRIPTION:
      {
        TdPubsubSubscription *sub = mail->data;
        gboolean pattern = sub->kind == TD_PUBSUB_PSUBSCRIBE || sub->kind == TD_PUBSUB_PUNSUBSCRIBE;
        gboolean active = sub->kind == TD_PUBSUB_SUBSCRIBE || sub->kind == TD_PUBSUB_PSUBSCRIBE;

        if (sub->name != NULL)
          set_topic_active (self, sub->name, pattern, active);
      }
      break;

    case TD_PUBSUB_MAIL_PUBLISHED:
      {
        TdPubsubPublished *published = mail->data;

        g_signal_emit (self, signals[PUBLISHED], 0, published->request, published->receivers,
                       published->error ? published->error->message : NULL);
      }
      break;

    case MAIL_COUNTDOWN:
      self->countdown = 0;
      if (self->state == TD_PUBSUB_STATE_RETRYING)
        update_status_text (self);
      break;

    default:
      g_assert_not_reached ();
    }
}

static void
td_pubsub_connection_dispose (GObject *object)
{
  TdPubsubConnection *self = TD_PUBSUB_CONNECTION (object);

  td_mail_cancel_timeout (self->countdown);
  self->countdown = 0;
  g_clear_pointer (&self->client, td_pubsub_client_free);
  if (self->mailbox != TD_MAILBOX_NONE)
    {
      td_mailbox_close (self->mailbox);
      self->mailbox = TD_MAILBOX_NONE;
    }
  g_clear_object (&self->topics);

  G_OBJECT_CLASS (td_pubsub_connection_parent_class)->dispose (object);
}

static void
td_pubsub_connection_finalize (GObject *object)
{
  TdPubsubConnection *self = TD_PUBSUB_CONNECTION (object);

  g_free (self->key);
  g_free (self->title);
  g_free (self->host);
  if (self->password != NULL)
    memset (self->password, 0, strlen (self->password));
  g_free (self->password);
  g_free (self->last_error);
  g_free (self->status_text);

  G_OBJECT_CLASS (td_pubsub_connection_parent_class)->finalize (object);
}

static void
td_pubsub_connection_get_property (GObject    *object,
                                   guint       prop_id,
                                   GValue     *value,
                                   GParamSpec *pspec)
{
  TdPubsubConnection *self = TD_PUBSUB_CONNECTION (object);

  switch (prop_id)
    {
    case PROP_TITLE:
      g_value_set_string (value, self->title);
      break;
    case PROP_STATE:
      g_value_set_int (value, self->state);
      break;
    case PROP_STATUS_TEXT:
      g_value_set_string (value, self->status_text);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
td_pubsub_connection_class_init (TdPubsubConnectionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = td_pubsub_connection_dispose;
  object_class->finalize = td_pubsub_connection_finalize;
  object_class->get_property = td_pubsub_connection_get_property;

  properties[PROP_TITLE] =
    g_param_spec_string ("title", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_STATE] =
    g_param_spec_int ("state", NULL, NULL, 0, TD_PUBSUB_STATE_RETRYING, TD_PUBSUB_STATE_DISCONNECTED,
                      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_STATUS_TEXT] =
    g_param_spec_string ("status-text", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[MESSAGES] = g_signal_new ("messages", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                    0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
  signals[PUBLISHED] = g_signal_new ("published", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                     0, NULL, NULL, NULL, G_TYPE_NONE, 3,
                                     G_TYPE_UINT64, G_TYPE_INT64, G_TYPE_STRING);
  signals[RECONNECTED] = g_signal_new ("reconnected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                       0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT);
}

static void
td_pubsub_connection_init (TdPubsubConnection *self)
{
  self->topics = g_list_store_new (TD_TYPE_PUBSUB_TOPIC);
  self->retry = TD_RETRY_POLICY_DEFAULT;
  self->mailbox = td_mailbox_open (NULL, G_PRIORITY_DEFAULT, mail_cb, self, NULL);
  self->status_text = g_strdup (_("Disconnected"));
}

/* Returns a connection to @host:@port (not started). @key names it in the
 * database; @title is what the user sees. */
TdPubsubConnection *
td_pubsub_connection_new (const char *key,
                          const char *title,
                          const char *host,
                          guint16     port,
                          gboolean    tls,
                          const char *password,
                          gboolean    builtin)
{
  TdPubsubConnection *self;

  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (host != NULL, NULL);

  self = g_object_new (TD_TYPE_PUBSUB_CONNECTION, NULL);
  self->key = g_strdup (key);
  self->title = g_strdup (title ? title : key);
  self->host = g_strdup (host);
  self->port = port;
  self->tls = !!tls;
  self->password = password && *password ? g_strdup (password) : NULL;
  self->builtin = !!builtin;
  return self;
}

const char *
td_pubsub_connection_get_key (TdPubsubConnection *self)
{
  g_return_val_if_fail (TD_IS_PUBSUB_CONNECTION (self), NULL);
  return self->key;
}

const char *
td_pubsub_connection_get_title (TdPubsubConnection *self)
{
  g_return_val_if_fail (TD_IS_PUBSUB_CONNECTION (self), NULL);
  return self->title;
}

const char *
td_pubsub_connection_get_host (TdPubsubConnection *self)
{
  g_return_val_if_fail (TD_IS_PUBSUB_CONNECTION (self), NULL);
  return self->host;
}

guint16
td_pubsub_connection_get_port (TdPubsubConnection *self)
{
  g_return_val_if_fail (TD_IS_PUBSUB_CONNECTION (self), 0);
  return self->port;
}

gboolean
td_pubsub_connection_get_tls (TdPubsubConnection *self)
{
  g_return_val_if_fail (TD_IS_PUBSUB_CONNECTION (self), FALSE);
  return self->tls;
}

gboolean
td_pubsub_connection_get_builtin (TdPubsubConnection *self)
{
  g_return_val_if_fail (TD_IS_PUBSUB_CONNECTION (self), FALSE);
  return self->builtin;
}

TdPubsubState
td_pubsub_connection_get_state (TdPubsubConnection *self)
{
  g_return_val_if_fail (TD_IS_PUBSUB_CONNECTION (self), TD_PUBSUB_STATE_DISCONNECTED);
  return self->state;
}

const char *
td_pubsub_connection_get_status_text (TdPubsubConnection *self)
{
  g_return_val_if_fail (TD_IS_PUBSUB_CONNECTION (self), NULL);
  return self->status_text;
}

/* The message of the last failure, or NULL. */
const char *
td_pubsub_connection_get_last_error (TdPubsubConnection *self)
{
  g_return_val_if_fail (TD_IS_PUBSUB_CONNECTION (self), NULL);
  return self->last_error;
}

/* The subscriptions (TdPubsubTopic), in the order they were made. */
GListModel *
td_pubsub_connection_get_topics (TdPubsubConnection *self)
{
  g_return_val_if_fail (TD_IS_PUBSUB_CONNECTION (self), NULL);
  return G_LIST_MODEL (self->topics);
}

/* Sets the reconnect backoff; takes effect at the next start. */
void
td_pubsub_connection_set_retry_policy (TdPubsubConnection  *self,
                                       const TdRetryPolicy *policy)
{
  g_return_if_fail (TD_IS_PUBSUB_CONNECTION (self));
  g_return_if_fail (policy != NULL);

  self->retry = *policy;
}

/* Connects (creating the client on first use) and sends every
 * subscription; reconnects by itself until stopped. */
void
td_pubsub_connection_start (TdPubsubConnection *self)
{
  g_return_if_fail (TD_IS_PUBSUB_CONNECTION (self));

  if (self->client == NULL)
    {
      TdPubsubClientOptions options;
      guint n = g_list_model_get_n_items (G_LIST_MODEL (self->topics));

      td_pubsub_client_options_init (&options);
      g_free (options.host);
      options.host = g_strdup (self->host);
      options.port = self->port;
      options.tls = self->tls;
      options.password = g_strdup (self->password);
      options.retry = self->retry;
      self->client = td_pubsub_client_new (&options, self->mailbox);
      td_pubsub_client_options_clear (&options);

      for (guint i = 0; i < n; i++)
        {
          g_autoptr(TdPubsubTopic) topic = g_list_model_get_item (G_LIST_MODEL (self->topics), i);

          if (td_pubsub_topic_get_is_pattern (topic))
            td_pubsub_client_psubscribe (self->client, td_pubsub_topic_get_name (topic));
          else
            td_pubsub_client_subscribe (self->client, td_pubsub_topic_get_name (topic));
        }
    }
  td_pubsub_client_start (self->client);
}

void
td_pubsub_connection_stop (TdPubsubConnection *self)
{
  g_return_if_fail (TD_IS_PUBSUB_CONNECTION (self));

  if (self->client != NULL)
    td_pubsub_client_stop (self->client);
}

static TdPubsubTopic *
find_topic (TdPubsubConnection *self,
            const char         *name,
            gboolean            is_pattern,
            guint              *position)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->topics));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(TdPubsubTopic) topic = g_list_model_get_item (G_LIST_MODEL (self->topics), i);

      if (td_pubsub_topic_get_is_pattern (topic) == !!is_pattern &&
          strcmp (td_pubsub_topic_get_name (topic), name) == 0)
        {
          if (position != NULL)
            *position = i;
          return topic;   /* the store keeps it alive */
        }
    }
  return NULL;
}

/* Subscribes to the channel or pattern @name. Returns the topic (owned by
 * the connection), or NULL if it was already subscribed. */
TdPubsubTopic *
td_pubsub_connection_subscribe (TdPubsubConnection *self,
                                const char         *name,
                                gboolean            is_pattern)
{
  g_autoptr(TdPubsubTopic) topic = NULL;

  g_return_val_if_fail (TD_IS_PUBSUB_CONNECTION (self), NULL);
  g_return_val_if_fail (name != NULL && *name != '\0', NULL);

  if (find_topic (self, name, is_pattern, NULL) != NULL)
    return NULL;

  topic = td_pubsub_topic_new (name, is_pattern);
  g_list_store_append (self->topics, topic);
  if (self->client != NULL)
    {
      if (is_pattern)
        td_pubsub_client_psubscribe (self->client, name);
      else
        td_pubsub_client_subscribe (self->client, name);
    }
  return topic;
}

/* Returns TRUE if @topic was one of ours and is now unsubscribed. */
gboolean
td_pubsub_connection_unsubscribe (TdPubsubConnection *self,
                                  TdPubsubTopic      *topic)
{
  guint position;
  g_autofree char *name = NULL;
  gboolean is_pattern;

  g_return_val_if_fail (TD_IS_PUBSUB_CONNECTION (self), FALSE);
  g_return_val_if_fail (TD_IS_PUBSUB_TOPIC (topic), FALSE);

  if (!g_list_store_find (self->topics, topic, &position))
    return FALSE;

  name = g_strdup (td_pubsub_topic_get_name (topic));
  is_pattern = td_pubsub_topic_get_is_pattern (topic);
  g_list_store_remove (self->topics, position);
  if (self->client != NULL)
    {
      if (is_pattern)
        td_pubsub_client_punsubscribe (self->client, name);
      else
        td_pubsub_client_unsubscribe (self->client, name);
    }
  return TRUE;
}

/* Publishes @message on @channel; the receiver count comes back with the
 * "published" signal carrying the returned request id (0 if the
 * connection was never started). */
guint64
td_pubsub_connection_publish (TdPubsubConnection *self,
                              const char         *channel,
                              const char         *message)
{
  g_return_val_if_fail (TD_IS_PUBSUB_CONNECTION (self), 0);
  g_return_val_if_fail (channel != NULL, 0);
  g_return_val_if_fail (message != NULL, 0);

  if (self->client == NULL)
    return 0;
  return td_pubsub_client_publish (self->client, channel, message, strlen (message));
}
