/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <gio/gio.h>
#include <glib-unix.h>

#include <sqlite3.h>

#include "chat/td-chat-history.h"
#include "chat/td-irc-server.h"
#include "store/td-recorder.h"

/*
 * bench-chat: the IRC server against Debian's ngircd and inspircd.
 *
 *   irc-fanout   deliveries/s: 200 clients in one channel, 10 of them
 *                sending 100-byte messages, flood control off everywhere
 *   irc-p99      the 99th percentile send-to-receive latency of that run
 *   irc-history  messages/s stored in sqlite with history on, counted from
 *                the first message to the PONG of a PING sent after the
 *                last (the server answers it only once every earlier
 *                message is committed), then the rows are counted in the
 *                database: no message may be missing (peer: the
 *                20,000/s target)
 *
 * Every server runs in a process of its own on a free 127.0.0.1 port
 * (tidingsd's IRC server via `bench-chat --serve`), and the clients run
 * here on one poll() loop.
 */

#define N_CLIENTS        200
#define N_SENDERS        10
#define MSG_BYTES        100
#define MSGS_PER_SENDER  400
/* Messages sent but not yet seen by every sampling receiver: enough to
 * keep the server busy, small enough that no server's output queue
 * limit decides the result. */
#define IN_FLIGHT        100
/* Receivers whose every line is timed for the latency percentile. */
#define N_SAMPLERS       20
#define HISTORY_MSGS     50000
#define HISTORY_TARGET   20000.0
#define RUN_TIMEOUT_S    60

typedef struct
{
  int      fd;
  GString *in;
  GString *out;
  gboolean registered;
  gboolean joined;
  gboolean ponged;       /* a PONG arrived */
  guint64  received;     /* PRIVMSG lines */
} Conn;

static gint64
now_us (void)
{
  return g_get_monotonic_time ();
}

static int
connect_to (guint16 port)
{
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons (port) };
  int fd = socket (AF_INET, SOCK_STREAM, 0);
  int one = 1;

  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (connect (fd, (struct sockaddr *) &addr, sizeof addr) < 0)
    {
      close (fd);
      return -1;
    }
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  g_unix_set_fd_nonblocking (fd, TRUE, NULL);
  return fd;
}

static gboolean
flush_out (Conn *c)
{
  while (c->out->len > 0)
    {
      ssize_t n = write (c->fd, c->out->str, c->out->len);

      if (n < 0)
        return errno == EAGAIN;
      g_string_erase (c->out, 0, n);
    }
  return TRUE;
}

typedef struct
{
  Conn     *conns;
  guint     n;
  GArray   *latencies;   /* gint64 microseconds */
  guint64   deliveries;
  const char *stage;
} Run;

/* Reads what is there on every connection and handles whole lines. */
static gboolean
pump (Run  *run,
      int   timeout_ms)
{
  struct pollfd *fds = g_newa (struct pollfd, run->n);
  gint64 t_now;

  for (guint i = 0; i < run->n; i++)
    {
      fds[i].fd = run->conns[i].fd;
      fds[i].events = POLLIN | (run->conns[i].out->len ? POLLOUT : 0);
      fds[i].revents = 0;
    }
  if (poll (fds, run->n, timeout_ms) < 0)
    return errno == EINTR;
  t_now = now_us ();
  for (guint i = 0; i < run->n; i++)
    {
      Conn *c = &run->conns[i];
      char buf[65536];

      if (fds[i].revents & POLLOUT)
        flush_out (c);
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
        continue;
      for (;;)
        {
          ssize_t n = read (c->fd, buf, sizeof buf);
          char *p, *nl;

          if (n == 0)
            {
              g_printerr ("bench-chat: connection %u closed by the server (%s)\n", i, run->stage);
              return FALSE;
            }
          if (n < 0)
            break;
          g_string_append_len (c->in, buf, n);
          p = c->in->str;
          while ((nl = memchr (p, '\n', c->in->str + c->in->len - p)) != NULL)
            {
              char *priv = g_strstr_len (p, nl - p, " PRIVMSG #");

              if (priv != NULL)
                {
                  c->received++;
                  run->deliveries++;
                  if (i < N_SAMPLERS)
                    {
                      char *colon = g_strstr_len (priv, nl - priv, " :");

                      if (colon != NULL)
                        {
                          gint64 sent = g_ascii_strtoll (colon + 2, NULL, 10);
                          gint64 lat = t_now - sent;

                          g_array_append_val (run->latencies, lat);
                        }
                    }
                }
              else if (g_str_has_prefix (p, "PING"))
                {
                  g_string_append (c->out, "PONG");
                  g_string_append_len (c->out, p + 4, nl - p - 4);
                  g_string_append_c (c->out, '\n');
                  flush_out (c);
                }
              else if (g_strstr_len (p, nl - p, " PONG ") != NULL)
                c->ponged = TRUE;
              else if (g_strstr_len (p, nl - p, " 001 ") != NULL)
                c->registered = TRUE;
              else if (g_strstr_len (p, nl - p, " 366 ") != NULL)
                c->joined = TRUE;
              else if (g_str_has_prefix (p, "ERROR"))
                {
                  g_printerr ("bench-chat: %.*s\n", (int) (nl - p), p);
                  return FALSE;
                }
              p = nl + 1;
            }
          g_string_erase (c->in, 0, p - c->in->str);
        }
    }
  return TRUE;
}

typedef struct
{
  double  deliveries_per_s;
  double  p99_us;
  gboolean ok;
} FanoutResult;

static int
compare_i64 (gconstpointer a,
             gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

static void
send_line (Conn       *c,
           const char *format,
           ...) G_GNUC_PRINTF (2, 3);

static void
send_line (Conn       *c,
           const char *format,
           ...)
{
  va_list args;

  va_start (args, format);
  g_string_append_vprintf (c->out, format, args);
  va_end (args);
  g_string_append (c->out, "\r\n");
  flush_out (c);
}

static gboolean
wait_all (Run      *run,
          gboolean  joined)
{
  gint64 deadline = now_us () + RUN_TIMEOUT_S * G_USEC_PER_SEC;

  for (;;)
    {
      guint done = 0;

      for (guint i = 0; i < run->n; i++)
        done += joined ? run->conns[i].joined : run->conns[i].registered;
      if (done == run->n)
        return TRUE;
      if (now_us () > deadline || !pump (run, 100))
        return FALSE;
    }
}

static void
run_clear (Run *run)
{
  for (guint i = 0; i < run->n; i++)
    {
      close (run->conns[i].fd);
      g_string_free (run->conns[i].in, TRUE);
      g_string_free (run->conns[i].out, TRUE);
    }
  g_free (run->conns);
  g_array_unref (run->latencies);
}

/* Connects @n clients, registers them and joins them to @channel. */
static gboolean
run_setup (Run        *run,
           guint16     port,
           guint       n,
           const char *channel)
{
  run->n = 0;
  run->conns = g_new0 (Conn, n);
  run->latencies = g_array_new (FALSE, FALSE, sizeof (gint64));
  run->stage = "connect";
  for (guint i = 0; i < n; i++)
    {
      Conn *c = &run->conns[i];

      c->fd = connect_to (port);
      c->in = g_string_new (NULL);
      c->out = g_string_new (NULL);
      run->n = i + 1;
      if (c->fd < 0)
        return FALSE;
      send_line (c, "NICK b%u\r\nUSER b%u 0 * :bench", i, i);
      /* Do not let the accept backlog overflow. */
      if (i % 50 == 49 && !pump (run, 0))
        return FALSE;
    }
  run->stage = "register";
  if (g_getenv ("BENCH_CHAT_DEBUG"))
    g_printerr ("bench-chat: %u connected\n", n);
  if (!wait_all (run, FALSE))
    return FALSE;
  for (guint i = 0; i < n; i++)
    send_line (&run->conns[i], "JOIN %s", channel);
  run->stage = "join";
  return wait_all (run, TRUE);
}

static FanoutResult
fanout (guint16 port)
{
  FanoutResult result = { 0 };
  Run run = { 0 };
  g_autofree char *pad = g_strnfill (MSG_BYTES, 'x');
  guint64 sent = 0, total = (guint64) N_SENDERS * MSGS_PER_SENDER;
  guint64 expected = total * (N_CLIENTS - 1);
  gint64 start, deadline;

  if (!run_setup (&run, port, N_CLIENTS, "#bench"))
    {
      run_clear (&run);
      return result;
    }
  run.deliveries = 0;
  run.stage = "fanout";
  start = now_us ();
  deadline = start + RUN_TIMEOUT_S * G_USEC_PER_SEC;
  while (run.deliveries < expected && now_us () < deadline)
    {
      guint64 seen = G_MAXUINT64;

      /* The slowest sampler tells how far behind delivery is. Senders
       * are the last N_SENDERS clients, so samplers see everything. */
      for (guint i = 0; i < N_SAMPLERS; i++)
        seen = MIN (seen, run.conns[i].received);
      while (sent < total && sent - seen < IN_FLIGHT)
        {
          Conn *c = &run.conns[N_CLIENTS - 1 - (sent % N_SENDERS)];
          g_autofree char *stamp = g_strdup_printf ("%" G_GINT64_FORMAT " ", now_us ());

          send_line (c, "PRIVMSG #bench :%s%.*s", stamp, (int) (MSG_BYTES - strlen (stamp)), pad);
          sent++;
        }
      if (!pump (&run, 50))
        break;
    }
  if (run.deliveries >= expected)
    {
      double secs = (now_us () - start) / (double) G_USEC_PER_SEC;

      result.deliveries_per_s = run.deliveries / secs;
      g_array_sort (run.latencies, compare_i64);
      if (run.latencies->len > 0)
        result.p99_us = g_array_index (run.latencies, gint64, (guint) (run.latencies->len * 0.99));
      result.ok = TRUE;
    }
  else
    g_printerr ("bench-chat: fan-out incomplete: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " deliveries\n",
                run.deliveries, expected);
  run_clear (&run);
  return result;
}

/* ------------------------------------------------------------------ */
/* Servers                                                             */
/* ------------------------------------------------------------------ */

static guint16
free_port (void)
{
  struct sockaddr_in addr = { .sin_family = AF_INET };
  socklen_t len = sizeof addr;
  int fd = socket (AF_INET, SOCK_STREAM, 0);
  guint16 port;

  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  bind (fd, (struct sockaddr *) &addr, sizeof addr);
  getsockname (fd, (struct sockaddr *) &addr, &len);
  port = ntohs (addr.sin_port);
  close (fd);
  return port;
}

static gboolean
wait_port (guint16 port)
{
  for (guint i = 0; i < 100; i++)
    {
      int fd = connect_to (port);

      if (fd >= 0)
        {
          close (fd);
          return TRUE;
        }
      g_usleep (50000);
    }
  return FALSE;
}

typedef struct
{
  GSubprocess *process;
  char        *dir;
  char        *db;      /* "tidings-db" only: the server database */
  guint16      port;
} Peer;

/* Stops the peer's process, keeping its files. */
static void
peer_kill (Peer *peer)
{
  if (peer->process != NULL)
    {
      g_subprocess_send_signal (peer->process, SIGTERM);
      g_subprocess_wait (peer->process, NULL, NULL);
      g_clear_object (&peer->process);
    }
}

static void
peer_stop (Peer *peer)
{
  peer_kill (peer);
  g_clear_pointer (&peer->db, g_free);
  if (peer->dir != NULL)
    {
      g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", peer->dir);

      if (system (cmd) != 0)
        g_printerr ("bench-chat: could not remove %s\n", peer->dir);
      g_clear_pointer (&peer->dir, g_free);
    }
}

static gboolean
peer_start (Peer        *peer,
            const char  *name,
            const char  *self)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *conf = NULL;
  g_autofree char *text = NULL;

  peer->port = free_port ();
  peer->dir = g_dir_make_tmp ("bench-chat-XXXXXX", NULL);

  if (g_str_equal (name, "tidings"))
    {
      g_autofree char *port = g_strdup_printf ("%u", peer->port);

      peer->process = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, &error, self, "--serve", port, NULL);
    }
  else if (g_str_equal (name, "tidings-db"))
    {
      g_autofree char *port = g_strdup_printf ("%u", peer->port);

      peer->db = g_build_filename (peer->dir, "tidingsd.db", NULL);
      peer->process = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, &error, self, "--serve", port,
                                        peer->db, NULL);
    }
  else if (g_str_equal (name, "ngircd"))
    {
      if (g_find_program_in_path ("ngircd") == NULL && !g_file_test ("/usr/sbin/ngircd", G_FILE_TEST_IS_EXECUTABLE))
        return FALSE;
      conf = g_build_filename (peer->dir, "ngircd.conf", NULL);
      /* MaxPenaltyTime = 0 turns ngircd's flood penalties off. */
      text = g_strdup_printf ("[Global]\n Name = bench.local\n Info = bench\n Listen = 127.0.0.1\n"
                              " Ports = %u\n MotdPhrase = \"bench\"\n PidFile = %s/ngircd.pid\n"
                              " ServerUID = %u\n ServerGID = %u\n"
                              "[Limits]\n MaxConnections = 2000\n MaxConnectionsIP = 0\n MaxJoins = 0\n"
                              " MaxNickLength = 30\n MaxPenaltyTime = 0\n PingTimeout = 600\n PongTimeout = 600\n"
                              "[Options]\n PAM = no\n Ident = no\n DNS = no\n",
                              peer->port, peer->dir, getuid (), getgid ());
      g_file_set_contents (conf, text, -1, NULL);
      peer->process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE,
                                        &error, "/usr/sbin/ngircd", "-n", "-f", conf, NULL);
    }
  else
    {
      g_autofree char *motd = g_build_filename (peer->dir, "motd", NULL);
      g_autofree char *config_arg = NULL;

      if (!g_file_test ("/usr/sbin/inspircd", G_FILE_TEST_IS_EXECUTABLE))
        return FALSE;
      conf = g_build_filename (peer->dir, "inspircd.conf", NULL);
      g_file_set_contents (motd, "bench\n", -1, NULL);
      /* threshold/commandrate/fakelag: inspircd's flood limits, raised. */
      text = g_strdup_printf ("<config format=\"xml\">\n"
                              "<server name=\"bench.local\" description=\"bench\" network=\"Bench\">\n"
                              "<admin name=\"bench\" nick=\"bench\" email=\"bench@bench.local\">\n"
                              "<bind address=\"127.0.0.1\" port=\"%u\" type=\"clients\">\n"
                              "<connect name=\"main\" allow=\"*\" maxchans=\"100\" timeout=\"60\" pingfreq=\"600\""
                              " hardsendq=\"104857600\" softsendq=\"104857600\" recvq=\"104857600\""
                              " threshold=\"1000000\" commandrate=\"100000000\" fakelag=\"off\""
                              " localmax=\"5000\" globalmax=\"5000\" limit=\"5000\" useident=\"no\""
                              " resolvehostnames=\"no\">\n"
                              "<pid file=\"%s/inspircd.pid\">\n"
                              "<performance netbuffersize=\"65536\" somaxconn=\"512\" softlimit=\"4096\""
                              " clonesonconnect=\"false\" quietbursts=\"yes\">\n"
                              "<files motd=\"%s\">\n<dns timeout=\"1\">\n"
                              "<log method=\"file\" type=\"* -USERINPUT -USEROUTPUT\" level=\"default\""
                              " target=\"%s/inspircd.log\">\n",
                              peer->port, peer->dir, motd, peer->dir);
      g_file_set_contents (conf, text, -1, NULL);
      config_arg = g_strdup_printf ("--config=%s", conf);
      peer->process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE,
                                        &error, "/usr/sbin/inspircd", "--nofork", "--runasroot",
                                        config_arg, NULL);
    }
  if (peer->process == NULL)
    {
      g_printerr ("bench-chat: %s: %s\n", name, error->message);
      return FALSE;
    }
  return wait_port (peer->port);
}

static gboolean
quit_cb (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

/* `bench-chat --serve PORT [DB]`: the IRC server as tidingsd runs it,
 * with history and accounts in DB when given, and flood control off as
 * the benchmark asks. */
static int
serve (guint16     port,
       const char *db)
{
  g_autoptr(TdIrcServerConfig) config = td_irc_server_config_new ();
  g_autoptr(TdIrcServer) server = NULL;
  g_autoptr(TdRecorder) recorder = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);

  config->flood_control = FALSE;
  config->max_per_ip = 1000;
  config->max_clients = 1000;
  server = td_irc_server_new (config);
  if (db != NULL)
    {
      recorder = td_recorder_new (db, td_schema_server ());
      td_irc_server_set_recorder (server, recorder);
    }
  if (!td_irc_server_listen (server, NULL, "127.0.0.1", port, &error))
    {
      g_printerr ("bench-chat: %s\n", error->message);
      return 1;
    }
  g_unix_signal_add (SIGTERM, quit_cb, loop);
  g_main_loop_run (loop);
  /* The server goes before the recorder it borrows. */
  g_clear_pointer (&server, td_irc_server_free);
  if (recorder != NULL && !td_recorder_close (recorder, &error))
    {
      g_printerr ("bench-chat: %s\n", error->message);
      return 1;
    }
  return 0;
}

/* Rows of @channel in the history table of @db, or -1. */
static gint64
count_rows (const char *db,
            const char *channel)
{
  sqlite3 *conn = NULL;
  sqlite3_stmt *stmt = NULL;
  gint64 n = -1;

  if (sqlite3_open_v2 (db, &conn, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
      sqlite3_prepare_v2 (conn, "SELECT COUNT (*) FROM history WHERE target = ?", -1, &stmt, NULL) == SQLITE_OK &&
      sqlite3_bind_text (stmt, 1, channel, -1, SQLITE_STATIC) == SQLITE_OK &&
      sqlite3_step (stmt) == SQLITE_ROW)
    n = sqlite3_column_int64 (stmt, 0);
  else
    g_printerr ("bench-chat: %s: %s\n", db, conn ? sqlite3_errmsg (conn) : "cannot open");
  sqlite3_finalize (stmt);
  sqlite3_close (conn);
  return n;
}

/* ------------------------------------------------------------------ */
/* Benchmarks                                                          */
/* ------------------------------------------------------------------ */

typedef struct
{
  gboolean     done;
  FanoutResult tidings, ngircd, inspircd;
} FanoutAll;

static FanoutResult
fanout_with (const char *name,
             const char *self)
{
  Peer peer = { 0 };
  FanoutResult result = { 0 };

  if (peer_start (&peer, name, self))
    result = fanout (peer.port);
  else
    g_printerr ("bench-chat: %s is not available\n", name);
  peer_stop (&peer);
  return result;
}

static void
fanout_all (FanoutAll  *all,
            const char *self)
{
  if (all->done)
    return;
  all->tidings = fanout_with ("tidings", self);
  all->ngircd = fanout_with ("ngircd", self);
  all->inspircd = fanout_with ("inspircd", self);
  all->done = TRUE;
}

static char *
fmt_peer (const FanoutResult *r,
          gboolean            latency)
{
  if (!r->ok)
    return g_strdup ("n/a");
  return g_strdup_printf ("%.0f", latency ? r->p99_us : r->deliveries_per_s);
}

static void
report_fanout (FanoutAll *all,
               gboolean   latency)
{
  const FanoutResult *ng = &all->ngircd, *in = &all->inspircd, *best;
  g_autofree char *ng_s = fmt_peer (ng, latency);
  g_autofree char *in_s = fmt_peer (in, latency);
  const char *unit = latency ? "us" : "msg/s";
  double mine = latency ? all->tidings.p99_us : all->tidings.deliveries_per_s;

  /* The faster peer: more deliveries, or the lower p99. */
  if (!ng->ok)
    best = in;
  else if (!in->ok)
    best = ng;
  else if (latency)
    best = ng->p99_us <= in->p99_us ? ng : in;
  else
    best = ng->deliveries_per_s >= in->deliveries_per_s ? ng : in;

  if (!all->tidings.ok || !best->ok)
    {
      g_print ("%s: tidings %s %s, peer n/a %s (ngircd %s; inspircd %s), ratio n/a\n",
               latency ? "irc-p99" : "irc-fanout", all->tidings.ok ? "" : "n/a", unit, unit, ng_s, in_s);
      return;
    }
  {
    double peer = latency ? best->p99_us : best->deliveries_per_s;

    g_print ("%s: tidings %.0f %s, peer %.0f %s (%s; %s %s), ratio %.2f\n",
             latency ? "irc-p99" : "irc-fanout", mine, unit, peer, unit,
             best == ng ? "ngircd" : "inspircd",
             best == ng ? "inspircd" : "ngircd", best == ng ? in_s : ng_s,
             mine / peer);
  }
}

/* Messages per second stored in sqlite: one sender, one receiver, every
 * message recorded; the clock stops at the PONG of a PING sent after the
 * last message, which the server holds back until every earlier message
 * of the sender is committed. Then nothing may be missing: the rows are
 * counted in the database while the server still runs, and the newest
 * come back from CHATHISTORY. */
static void
bench_history (const char *self)
{
  Peer peer = { 0 };
  Run run = { 0 };
  gint64 start, deadline, rows = -1;
  guint64 sent = 0;
  double rate = 0;
  gboolean ok = FALSE;

  if (!peer_start (&peer, "tidings-db", self) || !run_setup (&run, peer.port, 2, "#history"))
    goto out;
  run.stage = "history";
  start = now_us ();
  deadline = start + RUN_TIMEOUT_S * G_USEC_PER_SEC;
  while (sent < HISTORY_MSGS && now_us () < deadline)
    {
      for (guint i = 0; i < 200 && sent < HISTORY_MSGS && sent - run.conns[0].received < 2000; i++, sent++)
        g_string_append_printf (run.conns[1].out, "PRIVMSG #history :%" G_GINT64_FORMAT " history line %" G_GUINT64_FORMAT "\r\n",
                                now_us (), sent);
      flush_out (&run.conns[1]);
      if (!pump (&run, 20))
        goto out;
    }
  send_line (&run.conns[1], "PING :stored");
  while (!run.conns[1].ponged && now_us () < deadline && pump (&run, 20))
    ;
  if (!run.conns[1].ponged)
    goto out;
  rate = HISTORY_MSGS / ((now_us () - start) / (double) G_USEC_PER_SEC);
  rows = count_rows (peer.db, "#history");
  if (rows != HISTORY_MSGS)
    {
      g_printerr ("bench-chat: irc-history: %" G_GINT64_FORMAT " rows for %d messages\n",
                  rows, HISTORY_MSGS);
      goto out;
    }
  /* The newest ones come back from memory too. */
  while (run.conns[0].received < HISTORY_MSGS && now_us () < deadline && pump (&run, 20))
    ;
  send_line (&run.conns[0], "CHATHISTORY LATEST #history * 1000");
  run.conns[0].received = 0;
  while (run.conns[0].received < 1000 && now_us () < deadline && pump (&run, 50))
    ;
  ok = run.conns[0].received == 1000;
  if (g_getenv ("BENCH_CHAT_DEBUG"))
    g_printerr ("bench-chat: irc-history: %" G_GINT64_FORMAT " rows in %s\n", rows, peer.db);
out:
  if (run.conns != NULL)
    run_clear (&run);
  peer_stop (&peer);
  if (ok)
    g_print ("irc-history: tidings %.0f msg/s, peer %.0f msg/s (target), ratio %.2f\n",
             rate, HISTORY_TARGET, rate / HISTORY_TARGET);
  else
    g_print ("irc-history: tidings n/a msg/s, peer %.0f msg/s (target), ratio n/a\n", HISTORY_TARGET);
}

static const char *names[] = { "irc-fanout", "irc-p99", "irc-history" };

int
main (int   argc,
      char *argv[])
{
  FanoutAll all = { 0 };
  g_autoptr(GPtrArray) wanted = g_ptr_array_new ();
  g_autofree char *self = NULL;

  signal (SIGPIPE, SIG_IGN);
  if (argc > 1 && g_str_equal (argv[1], "--list"))
    {
      for (guint i = 0; i < G_N_ELEMENTS (names); i++)
        g_print ("%s\n", names[i]);
      return 0;
    }
  if (argc > 2 && g_str_equal (argv[1], "--serve"))
    return serve ((guint16) atoi (argv[2]), argc > 3 ? argv[3] : NULL);

  self = g_file_read_link ("/proc/self/exe", NULL);
  if (self == NULL)
    self = g_strdup (argv[0]);
  for (int i = 1; i < argc; i++)
    g_ptr_array_add (wanted, argv[i]);
  if (wanted->len == 0)
    for (guint i = 0; i < G_N_ELEMENTS (names); i++)
      g_ptr_array_add (wanted, (gpointer) names[i]);

  for (guint i = 0; i < wanted->len; i++)
    {
      const char *name = g_ptr_array_index (wanted, i);

      if (g_str_equal (name, "irc-fanout"))
        {
          fanout_all (&all, self);
          report_fanout (&all, FALSE);
        }
      else if (g_str_equal (name, "irc-p99"))
        {
          fanout_all (&all, self);
          report_fanout (&all, TRUE);
        }
      else if (g_str_equal (name, "irc-history"))
        bench_history (self);
      else
        {
          g_printerr ("bench-chat: unknown benchmark “%s” (see --list)\n", name);
          return 2;
        }
      fflush (stdout);
    }
  return 0;
}
