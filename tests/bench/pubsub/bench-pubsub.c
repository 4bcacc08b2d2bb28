/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "bench-pubsub"

#include "config.h"

#include <errno.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pubsub/td-pubsub-server.h"

/*
 * Pub/sub fan-out: the in-process tidings broker (on a thread of its own,
 * as the app hosts it) against Debian's redis-server 7.0 started here on a
 * free loopback port, with the same load tool in the same run.
 *
 * The load tool is one epoll thread: P publisher connections each keep a
 * window of PUBLISH commands in flight (a new one for every reply), and N
 * subscriber connections count `message` frames. Each payload starts with
 * the send time, so subscribers also measure publish-to-receive latency.
 *
 *   pubsub-fanout      deliveries/s, 1 publisher, 50 subscribers, 64-byte payloads
 *   pubsub-fanout-4p   the same with 4 publishers
 *   pubsub-p99         p99 publish-to-receive latency (µs), 1 publisher with one
 *                      PUBLISH in flight, 50 subscribers
 *
 * Each is run BENCH_ROUNDS times per server, alternating, and the best
 * round of each is reported.
 */

#define BENCH_SUBSCRIBERS     50
#define BENCH_PAYLOAD         64
#define BENCH_WINDOW          16      /* PUBLISH in flight per publisher (like redis-benchmark -P 16) */
#define BENCH_WARMUP_US       (500 * 1000)
#define BENCH_MEASURE_US      (3 * 1000 * 1000)
#define BENCH_ROUNDS          3
#define BENCH_CHANNEL         "bench-ch"
#define BENCH_LAT_BUCKETS     (1000 * 1000)   /* 1 µs buckets up to 1 s */
#define BENCH_READ_SIZE       (256 * 1024)

typedef struct
{
  const char *name;
  const char *unit;
  int         publishers;
  int         window;
  gboolean    latency;     /* report p99 instead of throughput */
} Bench;

static const Bench benches[] = {
  { "pubsub-fanout", "deliveries/s", 1, BENCH_WINDOW, FALSE },
  { "pubsub-fanout-4p", "deliveries/s", 4, BENCH_WINDOW, FALSE },
  { "pubsub-p99", "us", 1, 1, TRUE },
};

/* ------------------------------------------------------------------ */
/* Servers                                                             */

typedef struct
{
  TdPubsubServer *server;
  GMainContext   *context;
  GMainLoop      *loop;
  GThread        *thread;
  guint16         port;
  GMutex          lock;
  GCond           cond;
  gboolean        ready;
} Tidings;

static gpointer
tidings_thread (gpointer user_data)
{
  Tidings *t = user_data;
  g_autoptr(GError) error = NULL;

  g_main_context_push_thread_default (t->context);
  t->server = td_pubsub_server_new (NULL, t->context);
  if (!td_pubsub_server_listen (t->server, TD_PUBSUB_PROTOCOL_RESP, "127.0.0.1", 0, &t->port, &error))
    g_error ("listen: %s", error->message);
  g_mutex_lock (&t->lock);
  t->ready = TRUE;
  g_cond_signal (&t->cond);
  g_mutex_unlock (&t->lock);
  g_main_loop_run (t->loop);
  td_pubsub_server_free (t->server);
  g_main_context_pop_thread_default (t->context);
  return NULL;
}

static Tidings *
tidings_start (void)
{
  Tidings *t = g_new0 (Tidings, 1);

  g_mutex_init (&t->lock);
  g_cond_init (&t->cond);
  t->context = g_main_context_new ();
  t->loop = g_main_loop_new (t->context, FALSE);
  t->thread = g_thread_new ("tidings-server", tidings_thread, t);
  g_mutex_lock (&t->lock);
  while (!t->ready)
    g_cond_wait (&t->cond, &t->lock);
  g_mutex_unlock (&t->lock);
  return t;
}

static gboolean
quit_cb (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

static void
tidings_stop (Tidings *t)
{
  g_main_context_invoke (t->context, quit_cb, t->loop);
  g_thread_join (t->thread);
  g_main_loop_unref (t->loop);
  g_main_context_unref (t->context);
  g_mutex_clear (&t->lock);
  g_cond_clear (&t->cond);
  g_free (t);
}

static int
connect_port (guint16 port)
{
  struct sockaddr_in addr = { 0 };
  int fd = socket (AF_INET, SOCK_STREAM, 0);
  int one = 1;

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

static guint16
free_port (void)
{
  struct sockaddr_in addr = { 0 };
  socklen_t len = sizeof addr;
  int fd = socket (AF_INET, SOCK_STREAM, 0);
  guint16 port;

  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  bind (fd, (struct sockaddr *) &addr, sizeof addr);
  getsockname (fd, (struct sockaddr *) &addr, &len);
  port = ntohs (addr.sin_port);
  close (fd);
  return port;
}

typedef struct
{
  GSubprocess *process;
  char        *dir;
  guint16      port;
} Redis;

/* The peer dies with the benchmark, even if the benchmark aborts. */
static void
die_with_parent (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

static Redis *
redis_start (void)
{
  g_autofree char *binary = g_find_program_in_path ("redis-server");
  g_autoptr(GError) error = NULL;
  g_autofree char *port = NULL;
  Redis *r;
  gint64 deadline;

  if (binary == NULL)
    return NULL;
  r = g_new0 (Redis, 1);
  r->dir = g_dir_make_tmp ("bench-redis-XXXXXX", NULL);
  r->port = free_port ();
  port = g_strdup_printf ("%u", r->port);
  {
    g_autoptr(GSubprocessLauncher) launcher =
      g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE);

    g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
    r->process = g_subprocess_launcher_spawn (launcher, &error, binary, "--port", port, "--bind", "127.0.0.1",
                                              "--save", "", "--appendonly", "no", "--dir", r->dir, NULL);
  }
  if (r->process == NULL)
    g_error ("redis-server: %s", error->message);
  deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < deadline)
    {
      int fd = connect_port (r->port);

      if (fd >= 0)
        {
          close (fd);
          return r;
        }
      g_usleep (20 * 1000);
    }
  g_error ("redis-server did not start on port %u", r->port);
  return NULL;
}

static void
redis_stop (Redis *r)
{
  if (r == NULL)
    return;
  g_subprocess_send_signal (r->process, SIGTERM);
  g_subprocess_wait (r->process, NULL, NULL);
  g_object_unref (r->process);
  g_rmdir (r->dir);
  g_free (r->dir);
  g_free (r);
}

/* ------------------------------------------------------------------ */
/* Load tool                                                           */

typedef struct
{
  int      fd;
  gboolean publisher;
  gsize    frame_pos;      /* subscribers: offset inside the current frame */
  char     ts[16];         /* subscribers: timestamp digits of the current frame */
  int      in_flight;      /* publishers */
} Peer;

static const char frame_head[] = "*3\r\n$7\r\nmessage\r\n$8\r\n" BENCH_CHANNEL "\r\n$64\r\n";
#define FRAME_HEAD_LEN (sizeof frame_head - 1)
#define FRAME_LEN      (FRAME_HEAD_LEN + BENCH_PAYLOAD + 2)

typedef struct
{
  guint64  deliveries;
  guint32 *hist;
  guint64  samples;
  gint64   measure_start;
  gint64   measure_end;
} Run;

static void
write_all (int         fd,
           const char *data,
           gsize       len)
{
  while (len > 0)
    {
      gssize n = send (fd, data, len, MSG_NOSIGNAL);

      if (n < 0 && (errno == EINTR || errno == EAGAIN))
        continue;
      if (n <= 0)
        g_error ("send: %s", g_strerror (errno));
      data += n;
      len -= (gsize) n;
    }
}

static void
read_exact (int    fd,
            char  *buf,
            gsize  len)
{
  while (len > 0)
    {
      gssize n = recv (fd, buf, len, 0);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        g_error ("recv: %s", n == 0 ? "closed" : g_strerror (errno));
      buf += n;
      len -= (gsize) n;
    }
}

static gsize
build_publishes (char *buf,
                 int   count)
{
  static const char head[] = "*3\r\n$7\r\nPUBLISH\r\n$8\r\n" BENCH_CHANNEL "\r\n$64\r\n";
  gint64 now = g_get_monotonic_time ();
  char *p = buf;

  for (int i = 0; i < count; i++)
    {
      memcpy (p, head, sizeof head - 1);
      p += sizeof head - 1;
      g_snprintf (p, 17, "%016" G_GINT64_MODIFIER "x", now);
      p += 16;
      memset (p, 'x', BENCH_PAYLOAD - 16);
      p += BENCH_PAYLOAD - 16;
      memcpy (p, "\r\n", 2);
      p += 2;
    }
  return (gsize) (p - buf);
}

static void
record (Run        *run,
        const char *ts,
        gint64      now)
{
  char digits[17];
  gint64 sent, lat;

  memcpy (digits, ts, 16);
  digits[16] = '\0';
  sent = (gint64) g_ascii_strtoull (digits, NULL, 16);
  if (sent < run->measure_start || sent >= run->measure_end)
    return;
  run->deliveries++;
  lat = now - sent;
  if (lat < 0)
    lat = 0;
  if (lat >= BENCH_LAT_BUCKETS)
    lat = BENCH_LAT_BUCKETS - 1;
  run->hist[lat]++;
  run->samples++;
}

/* Consumes subscriber bytes: frames all have the same length, so only the
 * timestamp digits need to be looked at. */
static void
consume_frames (Run        *run,
                Peer       *peer,
                const char *data,
                gsize       len,
                gint64      now)
{
  gsize i = 0;

  while (i < len)
    {
      gsize pos = peer->frame_pos;

      if (pos < FRAME_HEAD_LEN)
        {
          gsize n = MIN (FRAME_HEAD_LEN - pos, len - i);

          if (memcmp (data + i, frame_head + pos, n) != 0)
            g_error ("unexpected bytes from the server");
          i += n;
          peer->frame_pos += n;
        }
      else if (pos < FRAME_HEAD_LEN + 16)
        {
          gsize n = MIN (FRAME_HEAD_LEN + 16 - pos, len - i);

          memcpy (peer->ts + (pos - FRAME_HEAD_LEN), data + i, n);
          i += n;
          peer->frame_pos += n;
        }
      else
        {
          gsize n = MIN (FRAME_LEN - pos, len - i);

          i += n;
          peer->frame_pos += n;
          if (peer->frame_pos == FRAME_LEN)
            {
              record (run, peer->ts, now);
              peer->frame_pos = 0;
            }
        }
    }
}

/* One run of @bench against the server on @port; returns deliveries/s or
 * the p99 latency in µs. */
static double
run_bench (const Bench *bench,
           guint16      port)
{
  static const char subscribe[] = "*2\r\n$9\r\nSUBSCRIBE\r\n$8\r\n" BENCH_CHANNEL "\r\n";
  static const char confirm[] = "*3\r\n$9\r\nsubscribe\r\n$8\r\n" BENCH_CHANNEL "\r\n:1\r\n";
  int n_peers = BENCH_SUBSCRIBERS + bench->publishers;
  g_autofree Peer *peers = g_new0 (Peer, n_peers);
  g_autofree char *buf = g_malloc (BENCH_READ_SIZE);
  g_autofree char *out = g_malloc ((gsize) bench->window * 128);
  struct epoll_event events[128];
  Run run = { 0 };
  gint64 start, end;
  double result;
  int ep = epoll_create1 (0);

  run.hist = g_new0 (guint32, BENCH_LAT_BUCKETS);

  for (int i = 0; i < BENCH_SUBSCRIBERS; i++)
    {
      char reply[sizeof confirm - 1];

      peers[i].fd = connect_port (port);
      write_all (peers[i].fd, subscribe, sizeof subscribe - 1);
      read_exact (peers[i].fd, reply, sizeof reply);
      if (memcmp (reply, confirm, sizeof reply) != 0)
        g_error ("unexpected SUBSCRIBE reply");
    }
  for (int i = BENCH_SUBSCRIBERS; i < n_peers; i++)
    {
      peers[i].fd = connect_port (port);
      peers[i].publisher = TRUE;
    }
  for (int i = 0; i < n_peers; i++)
    {
      struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &peers[i] };

      g_unix_set_fd_nonblocking (peers[i].fd, TRUE, NULL);
      epoll_ctl (ep, EPOLL_CTL_ADD, peers[i].fd, &ev);
    }

  start = g_get_monotonic_time ();
  run.measure_start = start + BENCH_WARMUP_US;
  run.measure_end = run.measure_start + BENCH_MEASURE_US;
  end = run.measure_end;

  for (int i = BENCH_SUBSCRIBERS; i < n_peers; i++)
    {
      write_all (peers[i].fd, out, build_publishes (out, bench->window));
      peers[i].in_flight = bench->window;
    }

  for (;;)
    {
      gint64 now = g_get_monotonic_time ();
      gboolean publishing = now < end;
      int n;

      if (!publishing)
        {
          gboolean idle = TRUE;

          for (int i = BENCH_SUBSCRIBERS; i < n_peers; i++)
            idle = idle && peers[i].in_flight == 0;
          /* Let in-flight messages arrive, then stop. */
          if (idle || now > end + G_USEC_PER_SEC)
            break;
        }

      n = epoll_wait (ep, events, G_N_ELEMENTS (events), 100);
      now = g_get_monotonic_time ();
      for (int e = 0; e < n; e++)
        {
          Peer *peer = events[e].data.ptr;
          gssize got = recv (peer->fd, buf, BENCH_READ_SIZE, 0);

          if (got < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
          if (got <= 0)
            g_error ("server closed a connection");
          if (peer->publisher)
            {
              int replies = 0;

              for (gssize k = 0; k < got; k++)
                replies += buf[k] == '\n';
              peer->in_flight -= replies;
              if (publishing && replies > 0)
                {
                  write_all (peer->fd, out, build_publishes (out, replies));
                  peer->in_flight += replies;
                }
            }
          else
            consume_frames (&run, peer, buf, (gsize) got, now);
        }
    }

  if (bench->latency)
    {
      guint64 target = run.samples - run.samples / 100, seen = 0;

      result = 0;
      for (guint i = 0; i < BENCH_LAT_BUCKETS; i++)
        {
          seen += run.hist[i];
          if (seen >= target && run.samples > 0)
            {
              result = i;
              break;
            }
        }
    }
  else
    result = (double) run.deliveries * G_USEC_PER_SEC / BENCH_MEASURE_US;

  for (int i = 0; i < n_peers; i++)
    close (peers[i].fd);
  close (ep);
  g_free (run.hist);
  return result;
}

static const Bench *
find_bench (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (benches); i++)
    if (g_str_equal (benches[i].name, name))
      return &benches[i];
  return NULL;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GPtrArray) wanted = g_ptr_array_new ();
  Tidings *tidings;
  Redis *redis;

  if (argc == 2 && g_str_equal (argv[1], "--list"))
    {
      for (guint i = 0; i < G_N_ELEMENTS (benches); i++)
        printf ("%s\n", benches[i].name);
      return 0;
    }
  for (int i = 1; i < argc; i++)
    {
      const Bench *bench = find_bench (argv[i]);

      if (bench == NULL)
        {
          fprintf (stderr, "bench-pubsub: unknown benchmark “%s” (see --list)\n", argv[i]);
          return 2;
        }
      g_ptr_array_add (wanted, (gpointer) bench);
    }
  if (wanted->len == 0)
    for (guint i = 0; i < G_N_ELEMENTS (benches); i++)
      g_ptr_array_add (wanted, (gpointer) &benches[i]);

  signal (SIGPIPE, SIG_IGN);
  tidings = tidings_start ();
  redis = redis_start ();
  if (redis == NULL)
    {
      fprintf (stderr, "bench-pubsub: redis-server is not installed\n");
      tidings_stop (tidings);
      return 1;
    }

  for (guint b = 0; b < wanted->len; b++)
    {
      const Bench *bench = g_ptr_array_index (wanted, b);
      double best_t = bench->latency ? G_MAXDOUBLE : 0, best_p = best_t;

      for (int round = 0; round < BENCH_ROUNDS; round++)
        {
          double t = run_bench (bench, tidings->port);
          double p = run_bench (bench, redis->port);

          if (g_getenv ("BENCH_VERBOSE"))
            fprintf (stderr, "%s round %d: tidings %.0f, peer %.0f\n", bench->name, round, t, p);
          best_t = bench->latency ? MIN (best_t, t) : MAX (best_t, t);
          best_p = bench->latency ? MIN (best_p, p) : MAX (best_p, p);
        }
      printf ("%s: tidings %.0f %s, peer %.0f %s, ratio %.2f\n", bench->name, best_t, bench->unit,
              best_p, bench->unit, best_p > 0 ? best_t / best_p : 0.0);
      fflush (stdout);
    }

  redis_stop (redis);
  tidings_stop (tidings);
  return 0;
}
