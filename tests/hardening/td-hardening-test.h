/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/*
 * Helpers for the hardening suite: a tidingsd child process on free
 * loopback ports, plain blocking-with-deadline socket clients (so that
 * thousands of them cost the test nothing but a descriptor), and the
 * resident memory of a process.
 */

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

G_BEGIN_DECLS

/* Long enough for an ASan build on a loaded machine; a hang still fails. */
#define TD_HARD_TIMEOUT_MS 15000

/* ------------------------------------------------------------------ */
/* tidingsd                                                            */
/* ------------------------------------------------------------------ */

typedef struct
{
  GSubprocess      *process;
  GDataInputStream *out;
  GPid              pid;
  guint16           chat_port;
  guint16           pubsub_port;
  guint16           line_port;
} TdHardServer;

/* TRUE in an AddressSanitizer build (gcc defines __SANITIZE_ADDRESS__,
 * clang answers __has_feature); load tests scale down there. */
#if defined(__SANITIZE_ADDRESS__)
# define TD_HARD_ASAN 1
#elif defined(__has_feature)
# if __has_feature(address_sanitizer)
#  define TD_HARD_ASAN 1
# endif
#endif
#ifndef TD_HARD_ASAN
# define TD_HARD_ASAN 0
#endif

static inline gboolean
td_hard_asan (void)
{
  return TD_HARD_ASAN;
}

/* A test that fails must not leave tidingsd running (it would also hold
 * the test's stderr open, and meson would wait for it). */
static void
td_hard_child_setup (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

/* Starts `tidingsd --db @db` with @args (NULL-terminated) and waits for
 * "ready", noting the ports it printed. */
static inline TdHardServer *
td_hard_server_start (const char         *db,
                      const char * const *args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GError) error = NULL;
  TdHardServer *server = g_new0 (TdHardServer, 1);
  const char *exe = g_getenv ("TD_TIDINGSD");

  g_assert_nonnull (exe);
  g_ptr_array_add (argv, (gpointer) exe);
  g_ptr_array_add (argv, (gpointer) "--db");
  g_ptr_array_add (argv, (gpointer) db);
  for (guint i = 0; args != NULL && args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_subprocess_launcher_set_child_setup (launcher, td_hard_child_setup, NULL, NULL);
  server->process = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  server->pid = atoi (g_subprocess_get_identifier (server->process));
  server->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (server->process));
  for (;;)
    {
      g_autofree char *line = g_data_input_stream_read_line (server->out, NULL, NULL, &error);
      const char *colon;

      g_assert_no_error (error);
      if (line == NULL)
        g_error ("tidingsd exited before it was ready");
      if (g_str_equal (line, "ready"))
        break;
      colon = strrchr (line, ':');
      if (!g_str_has_prefix (line, "listening ") || colon == NULL)
        continue;
      if (g_str_has_prefix (line, "listening chat "))
        server->chat_port = (guint16) atoi (colon + 1);
      else if (g_str_has_prefix (line, "listening pubsub "))
        server->pubsub_port = (guint16) atoi (colon + 1);
      else if (g_str_has_prefix (line, "listening line "))
        server->line_port = (guint16) atoi (colon + 1);
    }
  return server;
}

/* Ends tidingsd with @signum (SIGKILL or SIGTERM) and reaps it. */
static inline void
td_hard_server_stop (TdHardServer *server,
                     int           signum)
{
  g_autoptr(GError) error = NULL;

  g_subprocess_send_signal (server->process, signum);
  g_subprocess_wait (server->process, NULL, &error);
  g_assert_no_error (error);
  /* A clean stop exits 0; in a sanitizer build that also means
   * LeakSanitizer found nothing. */
  if (signum == SIGTERM)
    {
      g_assert_true (g_subprocess_get_if_exited (server->process));
      g_assert_cmpint (g_subprocess_get_exit_status (server->process), ==, 0);
    }
  g_object_unref (server->out);
  g_object_unref (server->process);
  g_free (server);
}

/* Resident set of @pid in bytes (VmRSS of /proc/PID/status). */
static inline gsize
td_hard_rss (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", (int) pid);
  g_autofree char *text = NULL;
  const char *p;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  p = strstr (text, "VmRSS:");
  g_assert_nonnull (p);
  return (gsize) g_ascii_strtoull (p + 6, NULL, 10) * 1024;
}

/* Raises the soft descriptor limit to the hard one (children inherit
 * it); returns the new limit. */
static inline rlim_t
td_hard_raise_nofile (void)
{
  struct rlimit limit;

  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &limit), ==, 0);
  limit.rlim_cur = limit.rlim_max;
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &limit), ==, 0);
  return limit.rlim_cur;
}

/* ------------------------------------------------------------------ */
/* Sockets                                                             */
/* ------------------------------------------------------------------ */

/* Connects to 127.0.0.1:@port from 127.0.0.@from (0 = any), blocking;
 * returns the descriptor (non-blocking afterwards) or -1. */
static inline int
td_hard_connect_from (guint16 port,
                      guint8  from)
{
  struct sockaddr_in addr = { 0 };
  int one = 1;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (fd < 0)
    return -1;
  if (from != 0)
    {
      struct sockaddr_in local = { 0 };

      local.sin_family = AF_INET;
      local.sin_addr.s_addr = htonl (0x7f000000u | from);
      if (bind (fd, (struct sockaddr *) &local, sizeof local) < 0)
        {
          close (fd);
          return -1;
        }
    }
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  addr.sin_port = htons (port);
  if (connect (fd, (struct sockaddr *) &addr, sizeof addr) < 0)
    {
      close (fd);
      return -1;
    }
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fcntl (fd, F_SETFL, O_NONBLOCK);
  return fd;
}

static inline int
td_hard_connect (guint16 port)
{
  int fd = td_hard_connect_from (port, 0);

  g_assert_cmpint (fd, >=, 0);
  return fd;
}

/* Writes all of @text (blocking up to the deadline). */
static inline void
td_hard_send (int         fd,
              const char *text)
{
  gsize len = strlen (text), sent = 0;

  while (sent < len)
    {
      gssize n = send (fd, text + sent, len - sent, MSG_NOSIGNAL);

      if (n > 0)
        sent += (gsize) n;
      else if (n < 0 && errno == EAGAIN)
        {
          struct pollfd pfd = { fd, POLLOUT, 0 };

          g_assert_cmpint (poll (&pfd, 1, TD_HARD_TIMEOUT_MS), ==, 1);
        }
      else
        g_error ("send: %s", g_strerror (errno));
    }
}

/* A line reader over a non-blocking socket. */
typedef struct
{
  int      fd;
  GString *buf;
  gboolean eof;
} TdHardConn;

static inline TdHardConn *
td_hard_conn_new (int fd)
{
  TdHardConn *conn = g_new0 (TdHardConn, 1);

  conn->fd = fd;
  conn->buf = g_string_new (NULL);
  return conn;
}

static inline void
td_hard_conn_free (TdHardConn *conn)
{
  if (conn->fd >= 0)
    close (conn->fd);
  g_string_free (conn->buf, TRUE);
  g_free (conn);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdHardConn, td_hard_conn_free)

/* Reads what is there (waiting up to @wait_ms for something); FALSE at
 * end of stream. */
static inline gboolean
td_hard_conn_fill (TdHardConn *conn,
                   int         wait_ms)
{
  char chunk[65536];
  struct pollfd pfd = { conn->fd, POLLIN, 0 };
  gssize n;

  if (conn->eof)
    return FALSE;
  if (poll (&pfd, 1, wait_ms) <= 0)
    return TRUE;
  n = recv (conn->fd, chunk, sizeof chunk, 0);
  if (n > 0)
    g_string_append_len (conn->buf, chunk, n);
  else if (n == 0 || errno != EAGAIN)
    conn->eof = TRUE;
  return !conn->eof;
}

/* Returns the next line without its line ending (owned), waiting up to
 * @timeout_ms; NULL on timeout or end of stream. */
static inline char *
td_hard_conn_line (TdHardConn *conn,
                   int         timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  for (;;)
    {
      char *nl = memchr (conn->buf->str, '\n', conn->buf->len);

      if (nl != NULL)
        {
          gsize len = (gsize) (nl - conn->buf->str);
          char *line = g_strndup (conn->buf->str, len > 0 && nl[-1] == '\r' ? len - 1 : len);

          g_string_erase (conn->buf, 0, (gssize) len + 1);
          return line;
        }
      if (g_get_monotonic_time () >= deadline)
        return NULL;
      if (!td_hard_conn_fill (conn, (int) MAX (1, (deadline - g_get_monotonic_time ()) / 1000)))
        return NULL;
    }
}

/* Reads lines until one contains @needle; returns it (owned) or fails. */
static inline char *
td_hard_conn_expect (TdHardConn *conn,
                     const char *needle)
{
  for (;;)
    {
      char *line = td_hard_conn_line (conn, TD_HARD_TIMEOUT_MS);

      if (line == NULL)
        g_error ("expected a line with “%s”, got %s", needle, conn->eof ? "end of stream" : "nothing");
      if (strstr (line, needle) != NULL)
        return line;
      g_free (line);
    }
}

G_END_DECLS
