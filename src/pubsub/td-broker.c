/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-broker"

#include "config.h"

#include <string.h>

#include "pubsub/td-broker.h"
#include "pubsub/td-glob.h"
#include "pubsub/td-resp.h"

/*
 * Channels and patterns are "topics": a binary name and the set of
 * clients subscribed to it. broker->channels and broker->patterns map
 * names to topics; each client keeps the set of topics it holds, which is
 * the other direction of the index. Names are hashed with a per-broker
 * random seed so that a peer cannot pick colliding channel names ahead of
 * time.
 */

typedef struct
{
  char       *name;          /* NUL-terminated copy; may contain NULs */
  gsize       len;
  guint       hash;
  GHashTable *subscribers;   /* set of TdBrokerClient */
} Topic;

struct _TdBroker
{
  GHashTable *channels;      /* Topic -> Topic (owned) */
  GHashTable *patterns;      /* Topic -> Topic (owned) */
  guint32     seed;
  guint       n_clients;
  guint       n_subscriptions;
  guint       n_psubscriptions;
  guint64     n_published;
  guint64     n_delivered;
};

struct _TdBrokerClient
{
  TdBroker            *broker;   /* borrowed */
  TdBrokerFrames       frames;
  TdBrokerDeliverFunc  deliver;
  gpointer             user_data;
  GHashTable          *channels; /* set of Topic (borrowed), NULL until needed */
  GHashTable          *patterns; /* likewise */
};

/* ------------------------------------------------------------------ */
/* Topics                                                              */

static guint
hash_name (guint32     seed,
           const char *name,
           gsize       len)
{
  /* FNV-1a with a seeded offset basis. */
  guint32 h = 2166136261u ^ seed;

  for (gsize i = 0; i < len; i++)
    {
      h ^= (guint8) name[i];
      h *= 16777619u;
    }
  return h;
}

static guint
topic_hash (gconstpointer key)
{
  return ((const Topic *) key)->hash;
}

static gboolean
topic_equal (gconstpointer a,
             gconstpointer b)
{
  const Topic *ta = a, *tb = b;

  return ta->hash == tb->hash && ta->len == tb->len && memcmp (ta->name, tb->name, ta->len) == 0;
}

static void
topic_free (gpointer data)
{
  Topic *topic = data;

  g_hash_table_unref (topic->subscribers);
  g_free (topic->name);
  g_free (topic);
}

static Topic
topic_key (TdBroker   *broker,
           const char *name,
           gsize       len)
{
  Topic key = { (char *) name, len, hash_name (broker->seed, name, len), NULL };
  return key;
}

static Topic *
topic_new (const Topic *key)
{
  Topic *topic = g_new0 (Topic, 1);

  topic->name = g_malloc (key->len + 1);
  if (key->len > 0)
    memcpy (topic->name, key->name, key->len);
  topic->name[key->len] = '\0';
  topic->len = key->len;
  topic->hash = key->hash;
  topic->subscribers = g_hash_table_new (NULL, NULL);
  return topic;
}

/* ------------------------------------------------------------------ */
/* Broker                                                              */

TdBroker *
td_broker_new (void)
{
  TdBroker *broker = g_new0 (TdBroker, 1);

  broker->channels = g_hash_table_new_full (topic_hash, topic_equal, NULL, topic_free);
  broker->patterns = g_hash_table_new_full (topic_hash, topic_equal, NULL, topic_free);
  broker->seed = g_random_int ();
  return broker;
}

/* Frees the broker; every client must have been freed first. */
void
td_broker_free (TdBroker *broker)
{
  if (broker == NULL)
    return;
  g_warn_if_fail (broker->n_clients == 0);
  g_hash_table_unref (broker->channels);
  g_hash_table_unref (broker->patterns);
  g_free (broker);
}

/* Returns a subscriber handle; @deliver receives its frames. */
TdBrokerClient *
td_broker_client_new (TdBroker            *broker,
                      TdBrokerFrames       frames,
                      TdBrokerDeliverFunc  deliver,
                      gpointer             user_data)
{
  TdBrokerClient *client;

  g_return_val_if_fail (broker != NULL, NULL);
  g_return_val_if_fail (deliver != NULL, NULL);

  client = g_new0 (TdBrokerClient, 1);
  client->broker = broker;
  client->frames = frames;
  client->deliver = deliver;
  client->user_data = user_data;
  broker->n_clients++;
  return client;
}

/* Drops every subscription of @client (no callbacks) and frees it. */
void
td_broker_client_free (TdBrokerClient *client)
{
  if (client == NULL)
    return;
  td_broker_unsubscribe_all (client, NULL, NULL);
  td_broker_punsubscribe_all (client, NULL, NULL);
  g_clear_pointer (&client->channels, g_hash_table_unref);
  g_clear_pointer (&client->patterns, g_hash_table_unref);
  client->broker->n_clients--;
  g_free (client);
}

guint
td_broker_client_n_channels (TdBrokerClient *client)
{
  g_return_val_if_fail (client != NULL, 0);
  return client->channels ? g_hash_table_size (client->channels) : 0;
}

guint
td_broker_client_n_patterns (TdBrokerClient *client)
{
  g_return_val_if_fail (client != NULL, 0);
  return client->patterns ? g_hash_table_size (client->patterns) : 0;
}

/* Returns the client's channels plus patterns: the count that Redis puts
 * in (un)subscribe replies. */
guint
td_broker_client_count (TdBrokerClient *client)
{
  return td_broker_client_n_channels (client) + td_broker_client_n_patterns (client);
}

static gboolean
add_to (TdBroker        *broker,
        GHashTable      *table,
        GHashTable     **client_set,
        TdBrokerClient  *client,
        const char      *name,
        gsize            len)
{
  Topic key = topic_key (broker, name, len);
  Topic *topic = g_hash_table_lookup (table, &key);

  if (topic == NULL)
    {
      topic = topic_new (&key);
      g_hash_table_add (table, topic);
    }
  else if (g_hash_table_contains (topic->subscribers, client))
    return FALSE;

  g_hash_table_add (topic->subscribers, client);
  if (*client_set == NULL)
    *client_set = g_hash_table_new (NULL, NULL);
  g_hash_table_add (*client_set, topic);
  return TRUE;
}

/* Unlinks @client from @topic (the client's own set is handled by the
 * caller) and frees the topic when it has no subscribers left. */
static void
unlink_topic (GHashTable     *table,
              Topic          *topic,
              TdBrokerClient *client)
{
  g_hash_table_remove (topic->subscribers, client);
  if (g_hash_table_size (topic->subscribers) == 0)
    g_hash_table_remove (table, topic);
}

static gboolean
remove_from (TdBroker       *broker,
             GHashTable     *table,
             GHashTable     *client_set,
             TdBrokerClient *client,
             const char     *name,
             gsize           len)
{
  Topic key = topic_key (broker, name, len);
  Topic *topic = g_hash_table_lookup (table, &key);

  if (topic == NULL || client_set == NULL || !g_hash_table_remove (client_set, topic))
    return FALSE;
  unlink_topic (table, topic, client);
  return TRUE;
}

/* Subscribes @client to @channel. Returns TRUE if it was not subscribed. */
gboolean
td_broker_subscribe (TdBrokerClient *client,
                     const char     *channel,
                     gsize           len)
{
  g_return_val_if_fail (client != NULL, FALSE);

  if (!add_to (client->broker, client->broker->channels, &client->channels, client, channel, len))
    return FALSE;
  client->broker->n_subscriptions++;
  return TRUE;
}

/* Returns TRUE if @client was subscribed to @channel. */
gboolean
td_broker_unsubscribe (TdBrokerClient *client,
                       const char     *channel,
                       gsize           len)
{
  g_return_val_if_fail (client != NULL, FALSE);

  if (!remove_from (client->broker, client->broker->channels, client->channels, client, channel, len))
    return FALSE;
  client->broker->n_subscriptions--;
  return TRUE;
}

gboolean
td_broker_psubscribe (TdBrokerClient *client,
                      const char     *pattern,
                      gsize           len)
{
  g_return_val_if_fail (client != NULL, FALSE);

  if (!add_to (client->broker, client->broker->patterns, &client->patterns, client, pattern, len))
    return FALSE;
  client->broker->n_psubscriptions++;
  return TRUE;
}

gboolean
td_broker_punsubscribe (TdBrokerClient *client,
                        const char     *pattern,
                        gsize           len)
{
  g_return_val_if_fail (client != NULL, FALSE);

  if (!remove_from (client->broker, client->broker->patterns, client->patterns, client, pattern, len))
    return FALSE;
  client->broker->n_psubscriptions--;
  return TRUE;
}

static guint
remove_all (TdBrokerClient      *client,
            GHashTable          *table,
            GHashTable          *client_set,
            guint               *counter,
            TdBrokerRemovedFunc  removed,
            gpointer             user_data)
{
  GHashTableIter iter;
  gpointer key;
  guint n = 0;

  if (client_set == NULL)
    return 0;

  g_hash_table_iter_init (&iter, client_set);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      Topic *topic = key;
      g_autofree char *name = NULL;
      gsize len = topic->len;

      g_hash_table_iter_remove (&iter);
      (*counter)--;
      n++;
      if (removed != NULL)
        name = g_memdup2 (topic->name, len + 1);
      unlink_topic (table, topic, client);
      if (removed != NULL)
        removed (client, name, len, td_broker_client_count (client), user_data);
    }
  return n;
}

/* Unsubscribes @client from every channel, calling @removed (if not NULL)
 * after each with the remaining count. Returns how many were removed. */
guint
td_broker_unsubscribe_all (TdBrokerClient      *client,
                           TdBrokerRemovedFunc  removed,
                           gpointer             user_data)
{
  g_return_val_if_fail (client != NULL, 0);
  return remove_all (client, client->broker->channels, client->channels,
                     &client->broker->n_subscriptions, removed, user_data);
}

guint
td_broker_punsubscribe_all (TdBrokerClient      *client,
                            TdBrokerRemovedFunc  removed,
                            gpointer             user_data)
{
  g_return_val_if_fail (client != NULL, 0);
  return remove_all (client, client->broker->patterns, client->patterns,
                     &client->broker->n_psubscriptions, removed, user_data);
}

/* ------------------------------------------------------------------ */
/* Publishing                                                          */

/* Returns `UPDATED channel payload\n`, with CR and LF in either part
 * turned into spaces so that the frame stays one line. */
GBytes *
td_broker_build_line_frame (const char *channel,
                            gsize       channel_len,
                            const char *payload,
                            gsize       payload_len)
{
  gsize prefix = strlen (TD_BROKER_LINE_PREFIX);
  gsize total = prefix + channel_len + 1 + payload_len + 1;
  char *buf = g_malloc (total);
  char *p = buf;

  memcpy (p, TD_BROKER_LINE_PREFIX, prefix);
  p += prefix;
  if (channel_len > 0)
    memcpy (p, channel, channel_len);
  p += channel_len;
  *p++ = ' ';
  if (payload_len > 0)
    memcpy (p, payload, payload_len);
  p += payload_len;
  *p++ = '\n';

  for (char *q = buf + prefix; q < buf + total - 1; q++)
    if (*q == '\r' || *q == '\n')
      *q = ' ';
  return g_bytes_new_take (buf, total);
}

/* Delivers @payload to the subscribers of @channel and of every pattern
 * matching it; each frame is built once. Returns the number of receivers
 * as Redis counts them (a client with the channel and a matching pattern
 * counts twice). Never blocks: delivery only queues. */
guint
td_broker_publish (TdBroker   *broker,
                   const char *channel,
                   gsize       channel_len,
                   const char *payload,
                   gsize       payload_len)
{
  g_autoptr(GBytes) resp_frame = NULL;
  g_autoptr(GBytes) line_frame = NULL;
  Topic key;
  Topic *topic;
  guint receivers = 0;

  g_return_val_if_fail (broker != NULL, 0);

  broker->n_published++;

  key = topic_key (broker, channel, channel_len);
  topic = g_hash_table_lookup (broker->channels, &key);
  if (topic != NULL)
    {
      GHashTableIter iter;
      gpointer client_ptr;

      g_hash_table_iter_init (&iter, topic->subscribers);
      while (g_hash_table_iter_next (&iter, &client_ptr, NULL))
        {
          TdBrokerClient *client = client_ptr;
          GBytes *frame;

          if (client->frames == TD_BROKER_FRAMES_RESP)
            {
              if (resp_frame == NULL)
                resp_frame = td_resp_build_message (channel, channel_len, payload, payload_len);
              frame = resp_frame;
            }
          else
            {
              if (line_frame == NULL)
                line_frame = td_broker_build_line_frame (channel, channel_len, payload, payload_len);
              frame = line_frame;
            }
          client->deliver (client, frame, client->user_data);
          receivers++;
        }
    }

  if (g_hash_table_size (broker->patterns) > 0)
    {
      GHashTableIter piter;
      gpointer pattern_ptr;

      g_hash_table_iter_init (&piter, broker->patterns);
      while (g_hash_table_iter_next (&piter, &pattern_ptr, NULL))
        {
          Topic *pattern = pattern_ptr;
          g_autoptr(GBytes) pframe = NULL;
          GHashTableIter iter;
          gpointer client_ptr;

          if (!td_glob_match (pattern->name, pattern->len, channel, channel_len, FALSE))
            continue;

          g_hash_table_iter_init (&iter, pattern->subscribers);
          while (g_hash_table_iter_next (&iter, &client_ptr, NULL))
            {
              TdBrokerClient *client = client_ptr;
              GBytes *frame;

              if (client->frames == TD_BROKER_FRAMES_RESP)
                {
                  if (pframe == NULL)
                    pframe = td_resp_build_pmessage (pattern->name, pattern->len,
                                                     channel, channel_len, payload, payload_len);
                  frame = pframe;
                }
              else
                {
                  if (line_frame == NULL)
                    line_frame = td_broker_build_line_frame (channel, channel_len, payload, payload_len);
                  frame = line_frame;
                }
              client->deliver (client, frame, client->user_data);
              receivers++;
            }
        }
    }

  broker->n_delivered += receivers;
  return receivers;
}

/* ------------------------------------------------------------------ */
/* Introspection                                                       */

/* Returns the active channels (GBytes names) matching the glob @pattern,
 * or all of them when @pattern is NULL. */
GPtrArray *
td_broker_list_channels (TdBroker   *broker,
                         const char *pattern,
                         gsize       pattern_len)
{
  GPtrArray *names = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  GHashTableIter iter;
  gpointer key;

  g_return_val_if_fail (broker != NULL, names);

  g_hash_table_iter_init (&iter, broker->channels);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      Topic *topic = key;

      if (pattern == NULL || td_glob_match (pattern, pattern_len, topic->name, topic->len, FALSE))
        g_ptr_array_add (names, g_bytes_new (topic->name, topic->len));
    }
  return names;
}

/* Returns the number of clients subscribed to @channel (patterns not
 * counted, as PUBSUB NUMSUB). */
guint
td_broker_numsub (TdBroker   *broker,
                  const char *channel,
                  gsize       len)
{
  Topic key;
  Topic *topic;

  g_return_val_if_fail (broker != NULL, 0);

  key = topic_key (broker, channel, len);
  topic = g_hash_table_lookup (broker->channels, &key);
  return topic ? g_hash_table_size (topic->subscribers) : 0;
}

/* Returns the number of unique patterns, as PUBSUB NUMPAT. */
guint
td_broker_numpat (TdBroker *broker)
{
  g_return_val_if_fail (broker != NULL, 0);
  return g_hash_table_size (broker->patterns);
}

void
td_broker_get_stats (TdBroker      *broker,
                     TdBrokerStats *stats)
{
  g_return_if_fail (broker != NULL);
  g_return_if_fail (stats != NULL);

  stats->n_channels = g_hash_table_size (broker->channels);
  stats->n_patterns = g_hash_table_size (broker->patterns);
  stats->n_clients = broker->n_clients;
  stats->n_subscriptions = broker->n_subscriptions;
  stats->n_psubscriptions = broker->n_psubscriptions;
  stats->n_published = broker->n_published;
  stats->n_delivered = broker->n_delivered;
}
