/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-pubsub-server"

#include "config.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "td-pubsub-test.h"

#define L(lit) (lit), (sizeof (lit) - 1)

static void
expect (int         fd,
        const char *bytes,
        gsize       len)
{
  g_autoptr(GByteArray) got = td_test_read_n (fd, len, TD_TEST_IO_TIMEOUT_MS, NULL);

  td_test_assert_bytes (got->data, got->len, bytes, len);
}

#define EXPECT(fd, lit) expect ((fd), (lit), sizeof (lit) - 1)

static void
expect_quiet (int fd)
{
  gboolean eof = FALSE;
  g_autoptr(GByteArray) got = td_test_read_until_quiet (fd, 0, TD_TEST_QUIET_MS, &eof);

  g_assert_false (eof);
  td_test_assert_bytes (got->data, got->len, "", 0);
}

/* Waits until the server reports @want subscribers of @channel. */
static void
wait_numsub (guint16     port,
             const char *channel,
             int         want)
{
  int fd = td_test_connect (port);
  g_autofree char *cmd = g_strdup_printf ("PUBSUB NUMSUB %s\r\n", channel);
  g_autofree char *reply = g_strdup_printf ("*2\r\n$%zu\r\n%s\r\n:%d\r\n", strlen (channel), channel, want);
  gint64 deadline = g_get_monotonic_time () + TD_TEST_IO_TIMEOUT_MS * 1000;

  for (;;)
    {
      g_autoptr(GByteArray) got = NULL;

      td_test_send_str (fd, cmd);
      got = td_test_read_until_quiet (fd, strlen (reply), 5, NULL);
      if (got->len == strlen (reply) && memcmp (got->data, reply, got->len) == 0)
        break;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (2000);
    }
  close (fd);
}

static TdTestServer *
start_default (void)
{
  TdPubsubConfig config;

  td_pubsub_config_init (&config);
  return td_test_server_start (&config);
}

/* ------------------------------------------------------------------ */
/* Line protocol                                                       */

static void
test_line_basics (void)
{
  TdTestServer *ts = start_default ();
  int sub = td_test_connect (ts->line_port);
  int pub = td_test_connect (ts->line_port);

  /* PING is a barrier: once PONG arrives, SUB has taken effect. */
  td_test_send_str (sub, "SUB weather sports\r\nPING\n");
  EXPECT (sub, "PONG\n");

  td_test_send_str (pub, "PUB weather  rain  later \r\n");
  EXPECT (sub, "UPDATED weather  rain  later \n");
  td_test_send_str (pub, "pub sports\n");
  EXPECT (sub, "UPDATED sports \n");
  td_test_send_str (pub, "PUB nobody hello\n");

  td_test_send_str (sub, "UNSUB weather\nPING\n");
  EXPECT (sub, "PONG\n");
  td_test_send_str (pub, "PUB weather sun\nPUB sports goal\n");
  EXPECT (sub, "UPDATED sports goal\n");
  td_test_send_str (sub, "UNSUB\nPING\n");
  EXPECT (sub, "PONG\n");
  td_test_send_str (pub, "PUB sports again\n");
  expect_quiet (sub);

  /* Errors are one line and keep the connection. */
  td_test_send_str (pub, "FROB x\nSUB\nPUB\n\n   \nBAD\x01verb\nPING\n");
  EXPECT (pub, "ERR unknown command 'FROB'\nERR usage: SUB topic [topic ...]\n"
               "ERR usage: PUB topic message\nERR unknown command 'BAD?verb'\nPONG\n");

  td_test_send_str (pub, "QUIT\n");
  g_assert_true (td_test_wait_eof (pub, TD_TEST_IO_TIMEOUT_MS));
  close (pub);
  close (sub);
  td_test_server_stop (ts);
}

static void
test_line_too_long (void)
{
  TdTestServer *ts = start_default ();
  int fd = td_test_connect (ts->line_port);
  g_autofree char *big = g_strnfill (TD_PUBSUB_LINE_MAX + 10, 'x');
  gboolean eof = FALSE;
  g_autoptr(GByteArray) got = NULL;

  td_test_send (fd, big, strlen (big));
  got = td_test_read_until_quiet (fd, 18, TD_TEST_QUIET_MS, &eof);
  td_test_assert_bytes (got->data, got->len, L ("ERR line too long\n"));
  if (!eof)
    eof = td_test_wait_eof (fd, TD_TEST_IO_TIMEOUT_MS);
  g_assert_true (eof);
  close (fd);
  td_test_server_stop (ts);
}

static void
test_line_auth (void)
{
  TdPubsubConfig config;
  TdTestServer *ts;
  int fd;

  td_pubsub_config_init (&config);
  config.password = (char *) "sekret";
  ts = td_test_server_start (&config);
  fd = td_test_connect (ts->line_port);
  td_test_send_str (fd, "SUB a\nPUB a x\nPING\nAUTH\nAUTH nope\nAUTH sekret\nSUB a\nPUB a hi\n");
  EXPECT (fd, "ERR authentication required\nERR authentication required\nPONG\n"
              "ERR usage: AUTH password\nERR invalid password\nOK\nUPDATED a hi\n");
  close (fd);
  td_test_server_stop (ts);
}

/* A PUB on the line port reaches RESP subscribers, and a RESP PUBLISH
 * reaches line subscribers. */
static void
test_cross_delivery (void)
{
  TdTestServer *ts = start_default ();
  int line = td_test_connect (ts->line_port);
  int resp = td_test_connect (ts->resp_port);
  int resp_pub = td_test_connect (ts->resp_port);

  td_test_send_str (resp, "SUBSCRIBE x.news\r\nPSUBSCRIBE x.*\r\n");
  EXPECT (resp, "*3\r\n$9\r\nsubscribe\r\n$6\r\nx.news\r\n:1\r\n"
                "*3\r\n$10\r\npsubscribe\r\n$3\r\nx.*\r\n:2\r\n");
  td_test_send_str (line, "SUB x.news\nPING\n");
  EXPECT (line, "PONG\n");

  td_test_send_str (line, "PUB x.news from line\n");
  EXPECT (resp, "*3\r\n$7\r\nmessage\r\n$6\r\nx.news\r\n$9\r\nfrom line\r\n"
                "*4\r\n$8\r\npmessage\r\n$3\r\nx.*\r\n$6\r\nx.news\r\n$9\r\nfrom line\r\n");
  /* The line publisher is subscribed too, so it hears itself. */
  EXPECT (line, "UPDATED x.news from line\n");

  td_test_send_str (resp_pub, "PUBLISH x.news \"from\\r\\nresp\"\r\n");
  EXPECT (resp_pub, ":3\r\n");
  EXPECT (line, "UPDATED x.news from  resp\n");
  EXPECT (resp, "*3\r\n$7\r\nmessage\r\n$6\r\nx.news\r\n$10\r\nfrom\r\nresp\r\n"
                "*4\r\n$8\r\npmessage\r\n$3\r\nx.*\r\n$6\r\nx.news\r\n$10\r\nfrom\r\nresp\r\n");

  td_test_send_str (resp_pub, "PUBSUB NUMSUB x.news\r\n");
  EXPECT (resp_pub, "*2\r\n$6\r\nx.news\r\n:2\r\n");

  close (line);
  close (resp);
  close (resp_pub);
  td_test_server_stop (ts);
}

/* ------------------------------------------------------------------ */
/* Cleanup                                                             */

#define CLEANUP_CYCLES 10000

static void
wait_connections (TdTestServer *ts,
                  guint         want)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  TdPubsubServerStats stats;

  for (;;)
    {
      td_test_server_stats (ts, &stats, NULL);
      if (stats.n_connections == want)
        return;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (1000);
    }
}

static void
test_disconnect_cleanup (void)
{
  TdTestServer *ts = start_default ();
  TdPubsubServerStats stats;
  TdBrokerStats broker;
  int q;

  for (int i = 0; i < CLEANUP_CYCLES; i++)
    {
      g_autofree char *cmd = g_strdup_printf ("SUBSCRIBE churn-%d shared\r\nPSUBSCRIBE p-%d-*\r\n", i % 100, i);
      gboolean line = i % 10 == 9;
      int fd = td_test_connect (line ? ts->line_port : ts->resp_port);

      if (line)
        {
          td_test_send_str (fd, "SUB shared churn-line\nPING\n");
          EXPECT (fd, "PONG\n");
        }
      else
        {
          g_autoptr(GByteArray) got = NULL;

          td_test_send_str (fd, cmd);
          /* Three replies; the last one ends with `:3\r\n`. */
          got = td_test_read_n (fd, 1, TD_TEST_IO_TIMEOUT_MS, NULL);
          g_assert_cmpuint (got->len, ==, 1);
          while (got->len < 4 || memcmp (got->data + got->len - 4, ":3\r\n", 4) != 0)
            {
              g_autoptr(GByteArray) more = td_test_read_n (fd, 1, TD_TEST_IO_TIMEOUT_MS, NULL);

              g_assert_cmpuint (more->len, ==, 1);
              g_byte_array_append (got, more->data, 1);
            }
        }
      close (fd);
    }

  wait_connections (ts, 0);
  q = td_test_connect (ts->resp_port);
  td_test_send_str (q, "PUBSUB NUMSUB shared churn-1 churn-line\r\nPUBSUB NUMPAT\r\nPUBSUB CHANNELS\r\n");
  EXPECT (q, "*6\r\n$6\r\nshared\r\n:0\r\n$7\r\nchurn-1\r\n:0\r\n$10\r\nchurn-line\r\n:0\r\n:0\r\n*0\r\n");
  close (q);

  wait_connections (ts, 0);
  td_test_server_stats (ts, &stats, &broker);
  g_assert_cmpuint (stats.n_accepted, ==, CLEANUP_CYCLES + 1);
  g_assert_cmpuint (stats.queued_bytes, ==, 0);
  g_assert_cmpuint (broker.n_channels, ==, 0);
  g_assert_cmpuint (broker.n_patterns, ==, 0);
  g_assert_cmpuint (broker.n_clients, ==, 0);
  g_assert_cmpuint (broker.n_subscriptions, ==, 0);
  g_assert_cmpuint (broker.n_psubscriptions, ==, 0);
  td_test_server_stop (ts);
}

/* ------------------------------------------------------------------ */
/* Slow subscribers                                                    */

/* Small limits so that the test fills them quickly. */
#define SLOW_HARD_LIMIT (1024 * 1024)
#define SLOW_SOFT_LIMIT (256 * 1024)

static void
test_slow_subscriber_hard (void)
{
  TdPubsubConfig config;
  TdTestServer *ts;
  TdPubsubServerStats stats;
  g_autofree char *payload = g_strnfill (1000, 'p');
  g_autofree char *cmd = g_strdup_printf ("PUBLISH slow %s\r\n", payload);
  int slow, fast, pub;
  gsize fast_bytes = 0;
  gboolean slow_closed = FALSE;
  int published = 0;

  td_pubsub_config_init (&config);
  config.output_hard_limit = SLOW_HARD_LIMIT;
  config.output_soft_limit = 0;
  ts = td_test_server_start (&config);

  slow = td_test_connect (ts->resp_port);
  fast = td_test_connect (ts->resp_port);
  pub = td_test_connect (ts->resp_port);
  td_test_send_str (slow, "SUBSCRIBE slow\r\n");
  EXPECT (slow, "*3\r\n$9\r\nsubscribe\r\n$4\r\nslow\r\n:1\r\n");
  td_test_send_str (fast, "SUBSCRIBE slow\r\n");
  EXPECT (fast, "*3\r\n$9\r\nsubscribe\r\n$4\r\nslow\r\n:1\r\n");

  /* The slow subscriber never reads; the publisher and the other
   * subscriber keep going, and PUBLISH always answers. */
  for (int round = 0; round < 200 && !slow_closed; round++)
    {
      g_autoptr(GByteArray) reply = NULL;
      g_autoptr(GByteArray) drained = NULL;

      for (int i = 0; i < 50; i++)
        td_test_send_str (pub, cmd);
      published += 50;
      reply = td_test_read_n (pub, 50 * 4, TD_TEST_IO_TIMEOUT_MS, NULL);
      g_assert_cmpuint (reply->len, ==, 50 * 4);
      drained = td_test_read_until_quiet (fast, 0, 1, NULL);
      fast_bytes += drained->len;

      td_test_server_stats (ts, &stats, NULL);
      slow_closed = stats.n_closed_output_limit > 0;
    }
  g_assert_true (slow_closed);
  g_assert_true (td_test_wait_eof (slow, TD_TEST_IO_TIMEOUT_MS));

  /* After the close, PUBLISH counts one receiver and the fast one still
   * gets everything. */
  td_test_send_str (pub, "PUBLISH slow last\r\n");
  EXPECT (pub, ":1\r\n");
  {
    static const char last[] = "*3\r\n$7\r\nmessage\r\n$4\r\nslow\r\n$4\r\nlast\r\n";
    gsize frame = strlen ("*3\r\n$7\r\nmessage\r\n$4\r\nslow\r\n$1000\r\n\r\n") + 1000;
    gsize total = frame * (gsize) published + sizeof last - 1;
    g_autoptr(GByteArray) rest = td_test_read_n (fast, total - fast_bytes, TD_TEST_IO_TIMEOUT_MS, NULL);

    g_assert_cmpuint (fast_bytes + rest->len, ==, total);
    g_assert_cmpmem (rest->data + rest->len - (sizeof last - 1), sizeof last - 1, last, sizeof last - 1);
  }

  close (slow);
  close (fast);
  close (pub);
  td_test_server_stop (ts);
}

static void
test_slow_subscriber_soft (void)
{
  TdPubsubConfig config;
  TdTestServer *ts;
  TdPubsubServerStats stats;
  g_autofree char *payload = g_strnfill (1000, 's');
  g_autofree char *cmd = g_strdup_printf ("PUBLISH soft %s\r\n", payload);
  int slow, pub;
  gint64 deadline, over_since = 0;

  td_pubsub_config_init (&config);
  config.output_hard_limit = 64 * 1024 * 1024;
  config.output_soft_limit = SLOW_SOFT_LIMIT;
  config.output_soft_seconds = 1;
  ts = td_test_server_start (&config);

  slow = td_test_connect (ts->resp_port);
  pub = td_test_connect (ts->resp_port);
  td_test_send_str (slow, "SUBSCRIBE soft\r\n");
  EXPECT (slow, "*3\r\n$9\r\nsubscribe\r\n$4\r\nsoft\r\n:1\r\n");

  /* Over the soft limit but under the hard one: still connected at first,
   * closed once it has stayed over for more than a second (the check runs
   * when output is added, as in Redis). */
  deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  do
    {
      g_autoptr(GByteArray) reply = NULL;

      for (int i = 0; i < 50; i++)
        td_test_send_str (pub, cmd);
      reply = td_test_read_n (pub, 50 * 4, TD_TEST_IO_TIMEOUT_MS, NULL);
      g_assert_cmpuint (reply->len, ==, 50 * 4);
      g_usleep (20 * 1000);
      td_test_server_stats (ts, &stats, NULL);
      if (over_since == 0 && stats.queued_bytes >= SLOW_SOFT_LIMIT)
        over_since = g_get_monotonic_time ();
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    }
  while (stats.n_closed_output_limit == 0);
  g_assert_cmpint (over_since, >, 0);
  g_assert_cmpint (g_get_monotonic_time () - over_since, >=, G_USEC_PER_SEC * 9 / 10);
  g_assert_true (td_test_wait_eof (slow, TD_TEST_IO_TIMEOUT_MS));

  close (slow);
  close (pub);
  td_test_server_stop (ts);
}

/* A client that pipelines without reading is paused, not allowed to grow
 * the server's memory without bound, and resumes when it reads. */
static void
test_non_reader_paused (void)
{
  TdPubsubConfig config;
  TdTestServer *ts;
  TdPubsubServerStats stats;
  g_autofree char *arg = g_strnfill (4000, 'e');
  g_autofree char *cmd = g_strdup_printf ("ECHO %s\r\n", arg);
  gsize reply_len = strlen ("$4000\r\n\r\n") + 4000;
  gsize sent = 0, got = 0;
  int fd;

  td_pubsub_config_init (&config);
  config.output_hard_limit = SLOW_HARD_LIMIT;
  ts = td_test_server_start (&config);
  fd = td_test_connect (ts->resp_port);

  /* Send without reading until the server stops taking input (the kernel
   * buffers on both sides fill first). */
  for (int i = 0; i < 5000; i++)
    {
      struct pollfd pfd = { fd, POLLOUT, 0 };

      if (poll (&pfd, 1, 200) <= 0)
        break;
      if (send (fd, cmd, strlen (cmd), MSG_NOSIGNAL | MSG_DONTWAIT) != (gssize) strlen (cmd))
        break;
      sent++;
    }
  td_test_server_stats (ts, &stats, NULL);
  g_assert_cmpuint (stats.queued_bytes, <, SLOW_HARD_LIMIT + 64 * 1024);
  g_assert_cmpuint (stats.n_connections, ==, 1);

  /* Reading everything gets every reply. */
  while (got < sent * reply_len)
    {
      g_autoptr(GByteArray) chunk = td_test_read_n (fd, sent * reply_len - got, TD_TEST_IO_TIMEOUT_MS, NULL);

      g_assert_cmpuint (chunk->len, >, 0);
      got += chunk->len;
    }
  close (fd);
  td_test_server_stop (ts);
}

/* ------------------------------------------------------------------ */
/* Many connections on one thread                                      */

#define MANY_CONNECTIONS 2000

static void
test_many_connections (void)
{
  static const char frame[] = "*3\r\n$7\r\nmessage\r\n$4\r\nmany\r\n$2\r\nhi\r\n";
  static const char ack[] = "*3\r\n$9\r\nsubscribe\r\n$4\r\nmany\r\n:1\r\n";
  struct rlimit limit;
  g_autofree int *fds = NULL;
  g_autofree char *reply = NULL;
  TdTestServer *ts;
  int n, pub;

  /* Both ends of every connection live in this process. */
  getrlimit (RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < limit.rlim_max)
    {
      limit.rlim_cur = limit.rlim_max;
      setrlimit (RLIMIT_NOFILE, &limit);
    }
  n = (int) MIN ((rlim_t) MANY_CONNECTIONS, (limit.rlim_cur - 64) / 2);
  if (n < 100)
    {
      g_test_skip ("too few file descriptors");
      return;
    }

  ts = start_default ();
  fds = g_new (int, n);
  for (int i = 0; i < n; i++)
    {
      fds[i] = td_test_connect (ts->resp_port);
      td_test_send_str (fds[i], "SUBSCRIBE many\r\n");
    }
  for (int i = 0; i < n; i++)
    expect (fds[i], ack, sizeof ack - 1);

  pub = td_test_connect (ts->resp_port);
  td_test_send_str (pub, "PUBLISH many hi\r\n");
  reply = g_strdup_printf (":%d\r\n", n);
  expect (pub, reply, strlen (reply));
  for (int i = 0; i < n; i++)
    {
      expect (fds[i], frame, sizeof frame - 1);
      close (fds[i]);
    }
  close (pub);
  wait_connections (ts, 0);
  td_test_server_stop (ts);
}

/* ------------------------------------------------------------------ */
/* Malformed input                                                     */

static void
test_fuzz (void)
{
  static const char *const seeds[] = {
    "*3\r\n$9\r\nSUBSCRIBE\r\n$1\r\na\r\n$1\r\nb\r\n",
    "*3\r\n$7\r\nPUBLISH\r\n$1\r\na\r\n$2\r\nhi\r\n",
    "PSUBSCRIBE \"a*\" '[b-c]'\r\nPING\r\n",
    "HELLO 2 AUTH default x SETNAME n\r\nPUBSUB NUMSUB a\r\n",
    "SUB a\nPUB a hello\nUNSUB\n",
  };
  g_autoptr(GRand) rand = g_rand_new_with_seed (424242);
  TdPubsubConfig config;
  TdTestServer *ts;
  TdPubsubServerStats stats;
  int watcher;

  td_pubsub_config_init (&config);
  config.password = (char *) "x";
  ts = td_test_server_start (&config);
  watcher = td_test_connect (ts->resp_port);

  for (int i = 0; i < 1500; i++)
    {
      g_autoptr(GByteArray) buf = g_byte_array_new ();
      g_autoptr(GByteArray) reply = NULL;
      gboolean line = g_rand_int_range (rand, 0, 4) == 0;
      int fd = td_test_connect (line ? ts->line_port : ts->resp_port);

      for (int piece = g_rand_int_range (rand, 1, 4); piece > 0; piece--)
        {
          const char *seed = seeds[g_rand_int_range (rand, 0, G_N_ELEMENTS (seeds))];

          g_byte_array_append (buf, (const guint8 *) seed, (guint) strlen (seed));
        }
      for (int m = g_rand_int_range (rand, 0, 8); m > 0 && buf->len > 0; m--)
        {
          guint at = (guint) g_rand_int_range (rand, 0, (gint32) buf->len);

          switch (g_rand_int_range (rand, 0, 4))
            {
            case 0:
              buf->data[at] = (guint8) g_rand_int_range (rand, 0, 256);
              break;
            case 1:
              buf->data[at] = (guint8) "*$\r\n-0123456789\"'\\"[g_rand_int_range (rand, 0, 18)];
              break;
            case 2:
              g_byte_array_remove_index (buf, at);
              break;
            default:
              buf->data[at] = '\n';
              break;
            }
        }
      td_test_send (fd, buf->data, buf->len);
      if (g_rand_boolean (rand))
        shutdown (fd, SHUT_WR);
      reply = td_test_read_until_quiet (fd, 0, 2, NULL);
      close (fd);
    }

  /* The server is still there and answers. */
  td_test_send_str (watcher, "PING\r\n");
  EXPECT (watcher, "-NOAUTH Authentication required.\r\n");
  close (watcher);
  wait_connections (ts, 0);
  td_test_server_stats (ts, &stats, NULL);
  g_assert_cmpuint (stats.n_accepted, ==, 1501);
  td_test_server_stop (ts);
}

static void
test_max_clients (void)
{
  TdPubsubConfig config;
  TdTestServer *ts;
  int a, b, c;

  td_pubsub_config_init (&config);
  config.max_clients = 2;
  ts = td_test_server_start (&config);
  a = td_test_connect (ts->resp_port);
  b = td_test_connect (ts->line_port);
  wait_connections (ts, 2);
  c = td_test_connect (ts->resp_port);
  EXPECT (c, "-ERR max number of clients reached\r\n");
  g_assert_true (td_test_wait_eof (c, TD_TEST_IO_TIMEOUT_MS));
  td_test_send_str (a, "PING\r\n");
  EXPECT (a, "+PONG\r\n");
  close (a);
  close (b);
  close (c);
  td_test_server_stop (ts);
}

/* ------------------------------------------------------------------ */
/* redis-cli against the server                                         */

static void
test_redis_cli (void)
{
  g_autofree char *cli = g_find_program_in_path ("redis-cli");
  g_autoptr(GSubprocess) subscriber = NULL;
  g_autoptr(GSubprocess) publisher = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *port = NULL;
  g_autofree char *out = NULL;
  g_autofree char *sub_out = NULL;
  TdTestServer *ts;

  if (cli == NULL)
    {
      g_test_skip ("redis-cli is not installed");
      return;
    }

  ts = start_default ();
  port = g_strdup_printf ("%u", ts->resp_port);

  subscriber = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE, &error,
                                 cli, "-p", port, "subscribe", "cli-news", NULL);
  g_assert_no_error (error);
  wait_numsub (ts->resp_port, "cli-news", 1);

  publisher = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE, &error,
                                cli, "-p", port, "publish", "cli-news", "hello from cli", NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (publisher, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (out, ==, "1\n");

  /* redis-cli in subscribe mode prints each message; stop it once the
   * message is in (it never exits on its own). */
  {
    GInputStream *stdout_pipe = g_subprocess_get_stdout_pipe (subscriber);
    g_autoptr(GString) text = g_string_new (NULL);
    gint64 deadline = g_get_monotonic_time () + TD_TEST_IO_TIMEOUT_MS * 1000;

    while (strstr (text->str, "hello from cli") == NULL)
      {
        char buf[256];
        gssize n = g_input_stream_read (stdout_pipe, buf, sizeof buf, NULL, &error);

        g_assert_no_error (error);
        g_assert_cmpint (n, >, 0);
        g_string_append_len (text, buf, n);
        g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      }
    sub_out = g_string_free (g_steal_pointer (&text), FALSE);
  }
  g_assert_nonnull (strstr (sub_out, "subscribe\ncli-news\n1\n"));
  g_assert_nonnull (strstr (sub_out, "message\ncli-news\nhello from cli\n"));
  g_subprocess_force_exit (subscriber);
  g_subprocess_wait (subscriber, NULL, NULL);

  /* Plain commands through redis-cli, including a pipe of inline ones. */
  g_clear_object (&publisher);
  g_clear_pointer (&out, g_free);
  publisher = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE, &error,
                                cli, "-p", port, "pubsub", "numsub", "cli-news", NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (publisher, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (out, ==, "cli-news\n0\n");

  td_test_server_stop (ts);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/td/pubsub/server/line/basics", test_line_basics);
  g_test_add_func ("/td/pubsub/server/line/too-long", test_line_too_long);
  g_test_add_func ("/td/pubsub/server/line/auth", test_line_auth);
  g_test_add_func ("/td/pubsub/server/cross-delivery", test_cross_delivery);
  g_test_add_func ("/td/pubsub/server/disconnect-cleanup", test_disconnect_cleanup);
  g_test_add_func ("/td/pubsub/server/slow-subscriber/hard", test_slow_subscriber_hard);
  g_test_add_func ("/td/pubsub/server/slow-subscriber/soft", test_slow_subscriber_soft);
  g_test_add_func ("/td/pubsub/server/non-reader-paused", test_non_reader_paused);
  g_test_add_func ("/td/pubsub/server/fuzz", test_fuzz);
  g_test_add_func ("/td/pubsub/server/max-clients", test_max_clients);
  g_test_add_func ("/td/pubsub/server/many-connections", test_many_connections);
  g_test_add_func ("/td/pubsub/server/redis-cli", test_redis_cli);
  return g_test_run ();
}
