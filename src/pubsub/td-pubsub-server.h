/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "pubsub/td-broker.h"

G_BEGIN_DECLS

/*
 * TdPubsubServer: the RESP2 listener (Redis-compatible pub/sub) and the
 * line-protocol listener, both on one broker and one GMainContext.
 *
 * Every socket is non-blocking and served from the context: one
 * g_socket_create_source() for input per connection, one for output only
 * while the kernel buffer is full. Replies and frames wait in a
 * per-connection queue of GBytes slices; queues are flushed with sendmsg()
 * (gather writes) once per main-loop iteration, after all input of that
 * iteration has been processed, so a burst of publishes costs one write
 * per subscriber, not one per message.
 */

/* Redis' `client-output-buffer-limit pubsub 32mb 8mb 60`: a subscriber
 * whose queued output reaches the hard limit, or stays at or above the
 * soft limit for longer than the soft time, is disconnected. */
#define TD_PUBSUB_DEFAULT_OUTPUT_HARD_LIMIT   (32 * 1024 * 1024)
#define TD_PUBSUB_DEFAULT_OUTPUT_SOFT_LIMIT   (8 * 1024 * 1024)
#define TD_PUBSUB_DEFAULT_OUTPUT_SOFT_SECONDS 60

/* Redis' `client-query-buffer-limit`: unparsed input kept per connection. */
#define TD_PUBSUB_DEFAULT_QUERY_BUFFER_LIMIT  (1024 * 1024 * 1024)

/* Redis' default `maxclients`; each connection also costs a descriptor. */
#define TD_PUBSUB_DEFAULT_MAX_CLIENTS         10000

/* Longest line on the line protocol (same as a RESP inline request). */
#define TD_PUBSUB_LINE_MAX                    (64 * 1024)

typedef enum
{
  TD_PUBSUB_PROTOCOL_RESP,
  TD_PUBSUB_PROTOCOL_LINE,
} TdPubsubProtocol;

typedef struct
{
  gsize  output_hard_limit;     /* bytes, 0 = no limit */
  gsize  output_soft_limit;     /* bytes, 0 = no limit */
  guint  output_soft_seconds;
  gsize  max_bulk_len;          /* proto-max-bulk-len */
  gsize  query_buffer_limit;
  guint  max_clients;
  char  *password;              /* requirepass; NULL = none */
} TdPubsubConfig;

typedef struct
{
  guint   n_connections;
  guint   n_resp_connections;
  guint   n_line_connections;
  guint   n_pending;            /* connections waiting for a flush */
  guint64 n_accepted;
  guint64 n_closed_output_limit;
  guint64 n_protocol_errors;
  gsize   queued_bytes;         /* output queued, all connections */
} TdPubsubServerStats;

typedef struct _TdPubsubServer TdPubsubServer;

void            td_pubsub_config_init        (TdPubsubConfig       *config);
void            td_pubsub_config_clear       (TdPubsubConfig       *config);

TdPubsubServer *td_pubsub_server_new         (const TdPubsubConfig *config,
                                              GMainContext         *context);
void            td_pubsub_server_free        (TdPubsubServer       *server);
gboolean        td_pubsub_server_listen      (TdPubsubServer       *server,
                                              TdPubsubProtocol      protocol,
                                              const char           *address,
                                              int                   port,
                                              guint16              *bound_port,
                                              GError              **error);
TdBroker       *td_pubsub_server_get_broker  (TdPubsubServer       *server);
void            td_pubsub_server_get_stats   (TdPubsubServer       *server,
                                              TdPubsubServerStats  *stats);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdPubsubServer, td_pubsub_server_free)

G_END_DECLS
