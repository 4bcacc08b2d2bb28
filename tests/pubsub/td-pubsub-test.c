/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-pubsub-test"

#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "td-pubsub-test.h"

/* ------------------------------------------------------------------ */
/* In-process server                                                   */

typedef struct
{
  TdTestServer         *ts;
  const TdPubsubConfig *config;
  GMutex                lock;
  GCond                 cond;
  gboolean              ready;
} StartData;

static gpointer
server_thread (gpointer user_data)
{
  StartData *data = user_data;
  TdTestServer *ts = data->ts;
  g_autoptr(GError) error = NULL;

  g_main_context_push_thread_default (ts->context);
  ts->server = td_pubsub_server_new (data->config, ts->context);
  g_assert_true (td_pubsub_server_listen (ts->server, TD_PUBSUB_PROTOCOL_RESP, "127.0.0.1", 0,
                                          &ts->resp_port, &error));
  g_assert_no_error (error);
  g_assert_true (td_pubsub_server_listen (ts->server, TD_PUBSUB_PROTOCOL_LINE, "127.0.0.1", 0,
                                          &ts->line_port, &error));
  g_assert_no_error (error);

  g_mutex_lock (&data->lock);
  data->ready = TRUE;
  g_cond_signal (&data->cond);
  g_mutex_unlock (&data->lock);

  g_main_loop_run (ts->loop);
  td_pubsub_server_free (g_steal_pointer (&ts->server));
  g_main_context_pop_thread_default (ts->context);
  return NULL;
}

/* Starts a server on 127.0.0.1 port 0 (both protocols) on a new thread. */
TdTestServer *
td_test_server_start (const TdPubsubConfig *config)
{
  TdTestServer *ts = g_new0 (TdTestServer, 1);
  StartData data = { .ts = ts, .config = config };

  g_mutex_init (&data.lock);
  g_cond_init (&data.cond);
  ts->context = g_main_context_new ();
  ts->loop = g_main_loop_new (ts->context, FALSE);
  ts->thread = g_thread_new ("test-pubsub-server", server_thread, &data);
  g_mutex_lock (&data.lock);
  while (!data.ready)
    g_cond_wait (&data.cond, &data.lock);
  g_mutex_unlock (&data.lock);
  g_mutex_clear (&data.lock);
  g_cond_clear (&data.cond);
  return ts;
}

static gboolean
quit_cb (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_REMOVE;
}

void
td_test_server_stop (TdTestServer *ts)
{
  if (ts == NULL)
    return;
  g_main_context_invoke (ts->context, quit_cb, ts->loop);
  g_thread_join (ts->thread);
  g_main_loop_unref (ts->loop);
  g_main_context_unref (ts->context);
  g_free (ts);
}

typedef struct
{
  TdTestServer        *ts;
  TdPubsubServerStats *stats;
  TdBrokerStats       *broker_stats;
  GMutex               lock;
  GCond                cond;
  gboolean             done;
} StatsData;

static gboolean
stats_cb (gpointer user_data)
{
  StatsData *data = user_data;

  td_pubsub_server_get_stats (data->ts->server, data->stats);
  td_broker_get_stats (td_pubsub_server_get_broker (data->ts->server), data->broker_stats);
  g_mutex_lock (&data->lock);
  data->done = TRUE;
  g_cond_signal (&data->cond);
  g_mutex_unlock (&data->lock);
  return G_SOURCE_REMOVE;
}

/* Reads the counters on the server's own thread. */
void
td_test_server_stats (TdTestServer        *ts,
                      TdPubsubServerStats *stats,
                      TdBrokerStats       *broker_stats)
{
  TdPubsubServerStats s;
  TdBrokerStats b;
  StatsData data = { .ts = ts, .stats = stats ? stats : &s, .broker_stats = broker_stats ? broker_stats : &b };

  g_mutex_init (&data.lock);
  g_cond_init (&data.cond);
  g_main_context_invoke (ts->context, stats_cb, &data);
  g_mutex_lock (&data.lock);
  while (!data.done)
    g_cond_wait (&data.cond, &data.lock);
  g_mutex_unlock (&data.lock);
  g_mutex_clear (&data.lock);
  g_cond_clear (&data.cond);
}

/* ------------------------------------------------------------------ */
/* Sockets                                                             */

guint16
td_test_free_port (void)
{
  struct sockaddr_in addr = { 0 };
  socklen_t len = sizeof addr;
  int fd = socket (AF_INET, SOCK_STREAM, 0);
  guint16 port;

  g_assert_cmpint (fd, >=, 0);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &addr, sizeof addr), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &addr, &len), ==, 0);
  port = ntohs (addr.sin_port);
  close (fd);
  return port;
}

static int
try_connect (guint16 port)
{
  struct sockaddr_in addr = { 0 };
  int fd = socket (AF_INET, SOCK_STREAM, 0);
  int one = 1;

  g_assert_cmpint (fd, >=, 0);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  addr.sin_port = htons (port);
  if (connect (fd, (struct sockaddr *) &addr, sizeof addr) < 0)
    {
      close (fd);
      return -1;
    }
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

int
td_test_connect (guint16 port)
{
  int fd = try_connect (port);

  if (fd < 0)
    g_error ("connect to 127.0.0.1:%u: %s", port, g_strerror (errno));
  return fd;
}

void
td_test_send (int         fd,
              const void *data,
              gsize       len)
{
  const char *p = data;

  while (len > 0)
    {
      gssize n = send (fd, p, len, MSG_NOSIGNAL);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        g_error ("send: %s", g_strerror (errno));
      p += n;
      len -= (gsize) n;
    }
}

void
td_test_send_str (int         fd,
                  const char *str)
{
  td_test_send (fd, str, strlen (str));
}

/* Reads until @n bytes have arrived, EOF, or @timeout_ms passed. */
GByteArray *
td_test_read_n (int        fd,
                gsize      n,
                int        timeout_ms,
                gboolean  *eof)
{
  GByteArray *out = g_byte_array_new ();
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  if (eof)
    *eof = FALSE;
  while (out->len < n)
    {
      struct pollfd pfd = { fd, POLLIN, 0 };
      gint64 left = (deadline - g_get_monotonic_time ()) / 1000;
      char buf[65536];
      gssize got;

      if (left <= 0 || poll (&pfd, 1, (int) left) <= 0)
        break;
      got = recv (fd, buf, MIN (sizeof buf, n - out->len), 0);
      if (got < 0 && errno == EINTR)
        continue;
      if (got <= 0)
        {
          if (eof)
            *eof = TRUE;
          break;
        }
      g_byte_array_append (out, (guint8 *) buf, (guint) got);
    }
  return out;
}

/* Reads at least @at_least bytes (or until EOF / the I/O timeout), then
 * keeps reading until the peer has been quiet for @quiet_ms. */
GByteArray *
td_test_read_until_quiet (int       fd,
                          gsize     at_least,
                          int       quiet_ms,
                          gboolean *eof)
{
  GByteArray *out = td_test_read_n (fd, at_least, TD_TEST_IO_TIMEOUT_MS, eof);

  while (eof == NULL || !*eof)
    {
      struct pollfd pfd = { fd, POLLIN, 0 };
      char buf[65536];
      gssize got;

      if (poll (&pfd, 1, quiet_ms) <= 0)
        break;
      got = recv (fd, buf, sizeof buf, 0);
      if (got <= 0)
        {
          if (eof)
            *eof = TRUE;
          break;
        }
      g_byte_array_append (out, (guint8 *) buf, (guint) got);
    }
  return out;
}

/* Returns TRUE if the peer closes within @timeout_ms (data is discarded). */
gboolean
td_test_wait_eof (int fd,
                  int timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  for (;;)
    {
      struct pollfd pfd = { fd, POLLIN, 0 };
      gint64 left = (deadline - g_get_monotonic_time ()) / 1000;
      char buf[65536];
      gssize got;

      if (left <= 0 || poll (&pfd, 1, (int) left) <= 0)
        return FALSE;
      got = recv (fd, buf, sizeof buf, 0);
      if (got == 0 || (got < 0 && errno != EINTR && errno != EAGAIN))
        return TRUE;
    }
}

char *
td_test_escape (const guint8 *data,
                gsize         len)
{
  GString *s = g_string_new (NULL);

  for (gsize i = 0; i < len; i++)
    {
      guint8 c = data[i];

      if (c == '\r')
        g_string_append (s, "\\r");
      else if (c == '\n')
        g_string_append (s, "\\n");
      else if (c == '\\')
        g_string_append (s, "\\\\");
      else if (c < 0x20 || c >= 0x7f)
        g_string_append_printf (s, "\\x%02x", c);
      else
        g_string_append_c (s, (char) c);
    }
  return g_string_free (s, FALSE);
}

void
td_test_assert_bytes (const guint8 *got,
                      gsize         got_len,
                      const char   *expected,
                      gsize         expected_len)
{
  if (got_len != expected_len || (got_len > 0 && memcmp (got, expected, got_len) != 0))
    {
      g_autofree char *g = td_test_escape (got, got_len);
      g_autofree char *e = td_test_escape ((const guint8 *) expected, expected_len);

      g_error ("reply mismatch\n  expected: %s\n  got:      %s", e, g);
    }
}

/* ------------------------------------------------------------------ */
/* redis-server                                                        */

/* Runs in the child before exec: the server dies with the test even when
 * an assertion aborts the test before td_test_redis_stop(). */
static void
die_with_parent (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

/* Starts `redis-server` (no persistence) on a free loopback port and waits
 * until it accepts connections. Returns NULL if it is not installed. */
TdTestRedis *
td_test_redis_start (const char *password)
{
  g_autofree char *binary = g_find_program_in_path ("redis-server");
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  TdTestRedis *redis;

  if (binary == NULL)
    return NULL;

  redis = g_new0 (TdTestRedis, 1);
  redis->dir = g_dir_make_tmp ("td-redis-XXXXXX", &error);
  g_assert_no_error (error);

  for (int attempt = 0; attempt < 5; attempt++)
    {
      gint64 deadline;

      redis->port = td_test_free_port ();
      g_ptr_array_set_size (argv, 0);
      g_ptr_array_add (argv, g_strdup (binary));
      g_ptr_array_add (argv, g_strdup ("--port"));
      g_ptr_array_add (argv, g_strdup_printf ("%u", redis->port));
      g_ptr_array_add (argv, g_strdup ("--bind"));
      g_ptr_array_add (argv, g_strdup ("127.0.0.1"));
      g_ptr_array_add (argv, g_strdup ("--save"));
      g_ptr_array_add (argv, g_strdup (""));
      g_ptr_array_add (argv, g_strdup ("--appendonly"));
      g_ptr_array_add (argv, g_strdup ("no"));
      g_ptr_array_add (argv, g_strdup ("--dir"));
      g_ptr_array_add (argv, g_strdup (redis->dir));
      if (password != NULL)
        {
          g_ptr_array_add (argv, g_strdup ("--requirepass"));
          g_ptr_array_add (argv, g_strdup (password));
        }
      g_ptr_array_add (argv, NULL);

      {
        g_autoptr(GSubprocessLauncher) launcher =
          g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE);

        g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
        redis->process = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
      }
      if (redis->process == NULL)
        break;

      deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
      while (g_get_monotonic_time () < deadline)
        {
          int fd = try_connect (redis->port);

          if (fd >= 0)
            {
              close (fd);
              return redis;
            }
          if (g_subprocess_get_identifier (redis->process) == NULL)
            break;
          g_usleep (20 * 1000);
        }
      g_subprocess_force_exit (redis->process);
      g_subprocess_wait (redis->process, NULL, NULL);
      g_clear_object (&redis->process);
    }

  g_rmdir (redis->dir);
  g_free (redis->dir);
  g_free (redis);
  return NULL;
}

void
td_test_redis_stop (TdTestRedis *redis)
{
  if (redis == NULL)
    return;
  g_subprocess_send_signal (redis->process, SIGTERM);
  g_subprocess_wait (redis->process, NULL, NULL);
  g_object_unref (redis->process);
  g_rmdir (redis->dir);
  g_free (redis->dir);
  g_free (redis);
}
