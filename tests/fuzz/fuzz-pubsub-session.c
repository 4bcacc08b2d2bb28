/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A whole client session against the pub/sub listeners of tidingsd: the
 * line protocol (line splitting, verbs, topics) or RESP (the request
 * parser and every command handler), over a real loopback connection to
 * a server on a private main context, then the peer hangs up. */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pubsub/td-pubsub-server.h"
#include "pubsub/td-resp.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* More than one read's worth, less than the line protocol's 64 KiB. */
#define FUZZ_SESSION_MAX (128 * 1024)

/* A session that has not finished after this long is stuck. */
#define FUZZ_SESSION_DEADLINE_USEC (5 * G_USEC_PER_SEC)

static GMainContext *context;
static TdPubsubServer *server;
static guint16 ports[2];

static void
setup (void)
{
  g_autoptr(GError) error = NULL;
  TdPubsubConfig config;

  td_pubsub_config_init (&config);
  /* Small output limits, so the limit paths are reached by small inputs. */
  config.output_hard_limit = 64 * 1024;
  config.output_soft_limit = 16 * 1024;
  config.output_soft_seconds = 1;
  config.max_bulk_len = TD_RESP_MIN_MAX_BULK_LEN;
  context = g_main_context_new ();
  server = td_pubsub_server_new (&config, context);
  td_pubsub_config_clear (&config);
  if (!td_pubsub_server_listen (server, TD_PUBSUB_PROTOCOL_RESP, "127.0.0.1", 0, &ports[0], &error) ||
      !td_pubsub_server_listen (server, TD_PUBSUB_PROTOCOL_LINE, "127.0.0.1", 0, &ports[1], &error))
    g_error ("listen: %s", error->message);
}

static void
iterate (void)
{
  for (guint i = 0; i < 64 && g_main_context_iteration (context, FALSE); i++)
    ;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  struct sockaddr_in addr = { 0 };
  struct linger linger = { 1, 0 };
  gsize sent = 0;
  gboolean shut = FALSE;
  gint64 deadline;
  int fd;

  if (size < 1 || size > FUZZ_SESSION_MAX)
    return 0;
  if (server == NULL)
    setup ();

  /* The first byte picks the listener. */
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  addr.sin_port = htons (ports[data[0] & 1]);
  data++;
  size--;

  fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (fd, >=, 0);
  /* Reset instead of TIME_WAIT, so millions of sessions do not run out of
   * ports. */
  setsockopt (fd, SOL_SOCKET, SO_LINGER, &linger, sizeof linger);
  /* Non-blocking connect: libFuzzer's timer signal would interrupt a
   * blocking one. The handshake completes in the kernel, without the
   * server having to accept. */
  fcntl (fd, F_SETFL, O_NONBLOCK);
  if (connect (fd, (struct sockaddr *) &addr, sizeof addr) < 0)
    {
      struct pollfd pfd = { fd, POLLOUT, 0 };
      int err = 0;
      socklen_t err_len = sizeof err;

      g_assert_cmpint (errno, ==, EINPROGRESS);
      while (poll (&pfd, 1, 1000) < 0 && errno == EINTR)
        ;
      getsockopt (fd, SOL_SOCKET, SO_ERROR, &err, &err_len);
      g_assert_cmpint (err, ==, 0);
    }

  deadline = g_get_monotonic_time () + FUZZ_SESSION_DEADLINE_USEC;
  for (;;)
    {
      char buf[16384];
      gssize n;
      gboolean progress = FALSE;

      if (sent < size)
        {
          n = send (fd, data + sent, size - sent, MSG_NOSIGNAL);
          if (n > 0)
            {
              sent += (gsize) n;
              progress = TRUE;
            }
          else if (n < 0 && errno != EAGAIN)
            break;   /* the server closed first (QUIT, a protocol error) */
        }
      else if (!shut)
        {
          shutdown (fd, SHUT_WR);
          shut = TRUE;
        }

      iterate ();

      n = recv (fd, buf, sizeof buf, 0);
      if (n == 0 || (n < 0 && errno != EAGAIN))
        break;
      if (n > 0)
        progress = TRUE;

      if (g_get_monotonic_time () > deadline)
        {
          /* abort(), not g_error(): libFuzzer saves the input on SIGABRT. */
          g_printerr ("session stuck: %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " bytes sent\n", sent, size);
          abort ();
        }
      if (!progress)
        {
          struct pollfd pfd = { fd, POLLIN | (sent < size ? POLLOUT : 0), 0 };

          poll (&pfd, 1, 1);
        }
    }
  close (fd);
  /* Let the server see the end and free the connection. */
  for (guint i = 0; i < 8; i++)
    iterate ();
  return 0;
}
