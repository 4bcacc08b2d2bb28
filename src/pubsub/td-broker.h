/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * TdBroker: the pub/sub core shared by the RESP and line listeners.
 *
 * Subscriptions are indexed both ways: channel -> subscribers and
 * subscriber -> channels (patterns likewise, with one entry per unique
 * pattern so NUMPAT counts patterns, not subscriptions). A subscriber
 * leaving costs O(its own subscriptions), and a channel or pattern whose
 * last subscriber leaves is freed.
 *
 * td_broker_publish() builds each frame once (a refcounted GBytes) and
 * hands the same bytes to every subscriber's deliver function: first the
 * `message` frame to channel subscribers, then one `pmessage` frame per
 * matching pattern. Line-protocol subscribers get `UPDATED channel text\n`
 * instead (built once too, only when one of them is subscribed).
 *
 * The broker is not thread-safe: it lives on the server's context.
 */

typedef struct _TdBroker       TdBroker;
typedef struct _TdBrokerClient TdBrokerClient;

typedef enum
{
  TD_BROKER_FRAMES_RESP,      /* RESP2 `message` / `pmessage` arrays */
  TD_BROKER_FRAMES_LINE,      /* `UPDATED channel text\n` lines */
} TdBrokerFrames;

/* Called for each frame a subscriber receives. It must not call back into
 * the broker (it runs while the broker walks its tables); a connection
 * that wants to leave marks itself and unsubscribes later. */
typedef void (*TdBrokerDeliverFunc) (TdBrokerClient *client,
                                     GBytes         *frame,
                                     gpointer        user_data);

/* Called by the unsubscribe-all functions for each channel or pattern
 * removed, with the client's remaining subscription count. */
typedef void (*TdBrokerRemovedFunc) (TdBrokerClient *client,
                                     const char     *name,
                                     gsize           len,
                                     guint           remaining,
                                     gpointer        user_data);

typedef struct
{
  guint   n_channels;          /* channels with at least one subscriber */
  guint   n_patterns;          /* unique patterns */
  guint   n_clients;           /* broker clients alive */
  guint   n_subscriptions;     /* channel subscriptions, all clients */
  guint   n_psubscriptions;    /* pattern subscriptions, all clients */
  guint64 n_published;
  guint64 n_delivered;         /* frames handed to deliver functions */
} TdBrokerStats;

/* Start of a line subscriber's frame. The frame replaces CR and LF in the
 * channel and payload with spaces: the line protocol cannot carry them. */
#define TD_BROKER_LINE_PREFIX "UPDATED "

TdBroker       *td_broker_new                    (void);
void            td_broker_free                   (TdBroker            *broker);

TdBrokerClient *td_broker_client_new             (TdBroker            *broker,
                                                  TdBrokerFrames       frames,
                                                  TdBrokerDeliverFunc  deliver,
                                                  gpointer             user_data);
void            td_broker_client_free            (TdBrokerClient      *client);
guint           td_broker_client_count           (TdBrokerClient      *client);
guint           td_broker_client_n_channels      (TdBrokerClient      *client);
guint           td_broker_client_n_patterns      (TdBrokerClient      *client);

gboolean        td_broker_subscribe              (TdBrokerClient      *client,
                                                  const char          *channel,
                                                  gsize                len);
gboolean        td_broker_unsubscribe            (TdBrokerClient      *client,
                                                  const char          *channel,
                                                  gsize                len);
gboolean        td_broker_psubscribe             (TdBrokerClient      *client,
                                                  const char          *pattern,
                                                  gsize                len);
gboolean        td_broker_punsubscribe           (TdBrokerClient      *client,
                                                  const char          *pattern,
                                                  gsize                len);
guint           td_broker_unsubscribe_all        (TdBrokerClient      *client,
                                                  TdBrokerRemovedFunc  removed,
                                                  gpointer             user_data);
guint           td_broker_punsubscribe_all       (TdBrokerClient      *client,
                                                  TdBrokerRemovedFunc  removed,
                                                  gpointer             user_data);

guint           td_broker_publish                (TdBroker            *broker,
                                                  const char          *channel,
                                                  gsize                channel_len,
                                                  const char          *payload,
                                                  gsize                payload_len);

GPtrArray      *td_broker_list_channels          (TdBroker            *broker,
                                                  const char          *pattern,
                                                  gsize                pattern_len);
guint           td_broker_numsub                 (TdBroker            *broker,
                                                  const char          *channel,
                                                  gsize                len);
guint           td_broker_numpat                 (TdBroker            *broker);
void            td_broker_get_stats              (TdBroker            *broker,
                                                  TdBrokerStats       *stats);

GBytes         *td_broker_build_line_frame       (const char          *channel,
                                                  gsize                channel_len,
                                                  const char          *payload,
                                                  gsize                payload_len);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdBroker, td_broker_free)

G_END_DECLS
