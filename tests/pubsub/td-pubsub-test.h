/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "pubsub/td-pubsub-server.h"

G_BEGIN_DECLS

/* How long a test waits for bytes that should come before it fails. */
#define TD_TEST_IO_TIMEOUT_MS   5000

/* How long a test keeps listening for bytes that should not come. */
#define TD_TEST_QUIET_MS        60

/* A server on a thread of its own, with its own context, as the app hosts
 * it. */
typedef struct
{
  TdPubsubServer *server;
  GMainContext   *context;
  GMainLoop      *loop;
  GThread        *thread;
  guint16         resp_port;
  guint16         line_port;
} TdTestServer;

TdTestServer *td_test_server_start     (const TdPubsubConfig *config);
void          td_test_server_stop      (TdTestServer         *ts);
void          td_test_server_stats     (TdTestServer         *ts,
                                        TdPubsubServerStats  *stats,
                                        TdBrokerStats        *broker_stats);

/* A redis-server started on a free loopback port; NULL when the binary is
 * missing or will not start. */
typedef struct
{
  GSubprocess *process;
  guint16      port;
  char        *dir;
} TdTestRedis;

TdTestRedis  *td_test_redis_start      (const char *password);
void          td_test_redis_stop       (TdTestRedis *redis);

guint16       td_test_free_port        (void);

/* Blocking loopback client (plain fd). */
int           td_test_connect          (guint16     port);
void          td_test_send             (int         fd,
                                        const void *data,
                                        gsize       len);
void          td_test_send_str         (int         fd,
                                        const char *str);
GByteArray   *td_test_read_n           (int         fd,
                                        gsize       n,
                                        int         timeout_ms,
                                        gboolean   *eof);
GByteArray   *td_test_read_until_quiet (int         fd,
                                        gsize       at_least,
                                        int         quiet_ms,
                                        gboolean   *eof);
gboolean      td_test_wait_eof         (int         fd,
                                        int         timeout_ms);
char         *td_test_escape           (const guint8 *data,
                                        gsize         len);
void          td_test_assert_bytes     (const guint8 *got,
                                        gsize         got_len,
                                        const char   *expected,
                                        gsize         expected_len);

G_END_DECLS
