/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-pubsub"

#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "pubsub/td-pubsub-private.h"

/*
 * Networking for both pub/sub listeners.
 *
 * Reads and writes go straight to the GSocket's descriptor with recv()
 * and sendmsg(): the GSocket calls would allocate a GError for every
 * EAGAIN, which a busy fan-out server hits constantly.
 *
 * Each connection has one GSource polling its descriptor; G_IO_OUT is
 * added and removed with g_source_modify_unix_fd() while the kernel
 * buffer is full. (A GSocketSource per direction would have to be attached
 * and destroyed instead, and every attach or destroy wakes the context up
 * through its eventfd: a write, a read and an extra loop iteration each
 * time a busy subscriber's buffer fills.)
 *
 * A connection is never freed in the middle of a dispatch: closing marks
 * it, detaches its sources and queues it for the flusher, which frees it
 * at the start of the next iteration. That makes it safe to close a slow
 * subscriber from inside td_broker_publish()'s delivery loop.
 */

/* Bytes read per input dispatch (Redis PROTO_IOBUF_LEN). The inline-size
 * check happens between reads, so this also fixes exactly how far past
 * 64 KiB an unterminated inline request may grow before the error. */
#define TD_CONN_READ_CHUNK          (16 * 1024)

/* A big bulk argument is read in pieces of up to this size. */
#define TD_CONN_READ_BIG            (1024 * 1024)

/* Slices handed to one sendmsg(); well under IOV_MAX (1024 on Linux). */
#define TD_CONN_IOV_BATCH           64

/* Bytes written to one connection per flush before moving on to the next
 * (Redis NET_MAX_WRITES_PER_EVENT), so one huge reader cannot starve the
 * rest; the remainder goes out on the next iteration. */
#define TD_CONN_MAX_WRITE_PER_FLUSH (64 * 1024)

/* Connections accepted per listener dispatch (Redis MAX_ACCEPTS_PER_CALL). */
#define TD_PUBSUB_MAX_ACCEPTS       1000

/* Listen backlog (Redis' default tcp-backlog). */
#define TD_PUBSUB_BACKLOG           511

/* Initial reply buffer size; most replies are a few dozen bytes. */
#define TD_CONN_REPLY_PREALLOC      256

typedef struct
{
  TdPubsubServer   *server;
  TdPubsubProtocol  protocol;
  GSocket          *socket;
  GSource          *source;
} Listener;

typedef struct
{
  GSource         source;
  TdPubsubServer *server;
} FlusherSource;

struct _TdPubsubServer
{
  TdPubsubConfig  config;
  GMainContext   *context;      /* owned ref */
  TdBroker       *broker;       /* owned */
  GPtrArray      *listeners;    /* Listener, owned */
  GHashTable     *conns;        /* set of TdConn, owned */
  GPtrArray      *pending;      /* TdConn to flush or free */
  GPtrArray      *pending_spare;
  GSource        *flusher;
  guint64         next_id;
  guint           n_resp;
  guint           n_line;
  guint64         n_accepted;
  guint64         n_closed_output_limit;
  guint64         n_protocol_errors;
};

static void conn_process_input (TdConn *conn);
static void conn_update_events (TdConn *conn);

/* Unsent output: queued slices plus the unsent part of the reply buffer. */
static inline gsize
conn_queued (TdConn *conn)
{
  return conn->queued + (conn->reply->len - conn->reply_sent);
}
static void conn_resume        (TdConn *conn);

/* ------------------------------------------------------------------ */
/* Configuration                                                       */

/* Fills @config with Redis' defaults. */
void
td_pubsub_config_init (TdPubsubConfig *config)
{
  g_return_if_fail (config != NULL);

  memset (config, 0, sizeof *config);
  config->output_hard_limit = TD_PUBSUB_DEFAULT_OUTPUT_HARD_LIMIT;
  config->output_soft_limit = TD_PUBSUB_DEFAULT_OUTPUT_SOFT_LIMIT;
  config->output_soft_seconds = TD_PUBSUB_DEFAULT_OUTPUT_SOFT_SECONDS;
  config->max_bulk_len = TD_RESP_DEFAULT_MAX_BULK_LEN;
  config->query_buffer_limit = TD_PUBSUB_DEFAULT_QUERY_BUFFER_LIMIT;
  config->max_clients = TD_PUBSUB_DEFAULT_MAX_CLIENTS;
}

void
td_pubsub_config_clear (TdPubsubConfig *config)
{
  g_return_if_fail (config != NULL);
  g_clear_pointer (&config->password, g_free);
}

/* ------------------------------------------------------------------ */
/* Output queue                                                        */

static void
conn_schedule (TdConn *conn)
{
  if (!conn->in_pending)
    {
      conn->in_pending = TRUE;
      g_ptr_array_add (conn->server->pending, conn);
    }
}

static void
chunks_push (TdConn *conn,
             GBytes *bytes,
             gsize   sent)
{
  TdOutChunk *chunk;

  if (conn->chunk_count == conn->chunk_cap)
    {
      /* A power of two, so ring positions are masks. */
      guint new_cap = conn->chunk_cap ? conn->chunk_cap * 2 : 16;
      TdOutChunk *grown = g_new (TdOutChunk, new_cap);

      for (guint i = 0; i < conn->chunk_count; i++)
        grown[i] = conn->chunks[(conn->chunk_head + i) & (conn->chunk_cap - 1)];
      g_free (conn->chunks);
      conn->chunks = grown;
      conn->chunk_cap = new_cap;
      conn->chunk_head = 0;
    }
  chunk = &conn->chunks[(conn->chunk_head + conn->chunk_count) & (conn->chunk_cap - 1)];
  chunk->bytes = bytes;
  chunk->sent = sent;
  conn->chunk_count++;
}

static void
conn_drop_output (TdConn *conn)
{
  while (conn->chunk_count > 0)
    {
      g_bytes_unref (conn->chunks[conn->chunk_head].bytes);
      conn->chunk_head = (conn->chunk_head + 1) & (conn->chunk_cap - 1);
      conn->chunk_count--;
    }
  conn->chunk_head = 0;
  g_byte_array_set_size (conn->reply, 0);
  conn->reply_sent = 0;
  conn->queued = 0;
}

/* Moves the unsent part of the reply buffer to the chunk queue, so that
 * something queued after it keeps its place. */
static void
conn_seal_reply (TdConn *conn)
{
  if (conn->reply->len == conn->reply_sent)
    return;
  conn->queued += conn->reply->len - conn->reply_sent;
  chunks_push (conn, g_byte_array_free_to_bytes (conn->reply), conn->reply_sent);
  conn->reply = g_byte_array_sized_new (TD_CONN_REPLY_PREALLOC);
  conn->reply_sent = 0;
}

static const char *
conn_peer (TdConn *conn,
           char   *buf,
           gsize   size)
{
  g_autoptr(GSocketAddress) address = g_socket_get_remote_address (conn->socket, NULL);

  if (G_IS_INET_SOCKET_ADDRESS (address))
    {
      g_autofree char *host =
        g_inet_address_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address)));

      g_snprintf (buf, size, "%s:%u", host,
                  g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address)));
    }
  else
    g_strlcpy (buf, "?", size);
  return buf;
}

static void
conn_close (TdConn     *conn,
            const char *why)
{
  if (conn->closing)
    return;

  g_debug ("closing connection %" G_GUINT64_FORMAT ": %s", conn->id, why);
  conn->closing = TRUE;
  conn->close_after_reply = FALSE;
  if (conn->source != NULL)
    {
      g_source_destroy (conn->source);
      g_clear_pointer (&conn->source, g_source_unref);
    }
  conn_drop_output (conn);
  conn_schedule (conn);
}

/* Applies the output buffer limits: only to connections with at least one
 * subscription (Redis' "pubsub" class). Other connections that stop
 * reading get their input paused instead, so a pipelining client that
 * never reads cannot grow memory without bound. */
static void
conn_check_output (TdConn *conn)
{
  const TdPubsubConfig *config = &conn->server->config;

  if (conn->closing)
    return;

  /* Fast path for every delivery: well under both limits. */
  if (conn->soft_since == 0 &&
      (config->output_soft_limit == 0 || conn_queued (conn) < config->output_soft_limit) &&
      (config->output_hard_limit == 0 || conn_queued (conn) < config->output_hard_limit))
    return;

  if (td_broker_client_count (conn->sub) > 0)
    {
      gboolean over = FALSE;

      if (config->output_hard_limit > 0 && conn_queued (conn) >= config->output_hard_limit)
        over = TRUE;
      else if (config->output_soft_limit > 0 && conn_queued (conn) >= config->output_soft_limit)
        {
          gint64 now = g_get_monotonic_time ();

          if (conn->soft_since == 0)
            conn->soft_since = now;
          else if (now - conn->soft_since > (gint64) config->output_soft_seconds * G_USEC_PER_SEC)
            over = TRUE;
        }
      else
        conn->soft_since = 0;

      if (over)
        {
          char peer[64];

          g_message ("Client id=%" G_GUINT64_FORMAT " addr=%s scheduled to be closed ASAP "
                     "for overcoming of output buffer limits.",
                     conn->id, conn_peer (conn, peer, sizeof peer));
          conn->server->n_closed_output_limit++;
          conn_close (conn, "output buffer limit");
        }
    }
  else if (config->output_hard_limit > 0 && conn_queued (conn) >= config->output_hard_limit &&
           !conn->paused)
    {
      conn->paused = TRUE;
      conn_update_events (conn);
    }
}

/* Returns the buffer to append this connection's replies to. */
GByteArray *
_td_conn_reply (TdConn *conn)
{
  conn_schedule (conn);
  return conn->reply;
}

/* Stops reading; the connection closes once its output is written. */
void
_td_conn_close_after_reply (TdConn *conn)
{
  conn->close_after_reply = TRUE;
  conn_schedule (conn);
}

TdBroker *
_td_conn_broker (TdConn *conn)
{
  return conn->server->broker;
}

const TdPubsubConfig *
_td_conn_config (TdConn *conn)
{
  return &conn->server->config;
}

static void
conn_deliver_cb (TdBrokerClient *client,
                 GBytes         *frame,
                 gpointer        user_data)
{
  TdConn *conn = user_data;

  if (conn->closing)
    return;

  conn_seal_reply (conn);
  chunks_push (conn, g_bytes_ref (frame), 0);
  conn->queued += g_bytes_get_size (frame);
  conn_schedule (conn);
  conn_check_output (conn);
}

/* ------------------------------------------------------------------ */
/* Writing                                                             */

typedef enum
{
  FLUSH_DONE,      /* nothing left */
  FLUSH_MORE,      /* per-flush cap reached, socket still writable */
  FLUSH_BLOCKED,   /* kernel buffer full: wait for G_IO_OUT */
  FLUSH_FAILED,    /* the peer is gone */
} FlushResult;

static void
conn_advance (TdConn *conn,
              gsize   n)
{
  while (n > 0 && conn->chunk_count > 0)
    {
      TdOutChunk *chunk = &conn->chunks[conn->chunk_head];
      gsize left = g_bytes_get_size (chunk->bytes) - chunk->sent;

      if (n < left)
        {
          chunk->sent += n;
          conn->queued -= n;
          return;
        }
      n -= left;
      conn->queued -= left;
      g_bytes_unref (chunk->bytes);
      conn->chunk_head = (conn->chunk_head + 1) & (conn->chunk_cap - 1);
      conn->chunk_count--;
    }
  conn->reply_sent += n;
  if (conn->reply_sent == conn->reply->len)
    {
      g_byte_array_set_size (conn->reply, 0);
      conn->reply_sent = 0;
    }
}

static FlushResult
conn_flush (TdConn *conn)
{
  gsize total = 0;

  while (conn_queued (conn) > 0)
    {
      struct iovec iov[TD_CONN_IOV_BATCH];
      struct msghdr msg = { 0 };
      gsize want = 0;
      int n_iov = 0;
      gssize n;

      if (total >= TD_CONN_MAX_WRITE_PER_FLUSH)
        return FLUSH_MORE;

      for (guint i = 0; i < conn->chunk_count && n_iov < TD_CONN_IOV_BATCH; i++)
        {
          TdOutChunk *chunk = &conn->chunks[(conn->chunk_head + i) & (conn->chunk_cap - 1)];
          gsize size;
          const char *data = g_bytes_get_data (chunk->bytes, &size);

          iov[n_iov].iov_base = (void *) (data + chunk->sent);
          iov[n_iov].iov_len = size - chunk->sent;
          want += size - chunk->sent;
          n_iov++;
        }
      if (n_iov < TD_CONN_IOV_BATCH && conn->reply->len > conn->reply_sent)
        {
          iov[n_iov].iov_base = conn->reply->data + conn->reply_sent;
          iov[n_iov].iov_len = conn->reply->len - conn->reply_sent;
          want += iov[n_iov].iov_len;
          n_iov++;
        }

      msg.msg_iov = iov;
      msg.msg_iovlen = (size_t) n_iov;
      n = sendmsg (conn->fd, &msg, MSG_NOSIGNAL);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          if (errno == EAGAIN || errno == EWOULDBLOCK)
            return FLUSH_BLOCKED;
          return FLUSH_FAILED;
        }
      conn_advance (conn, (gsize) n);
      total += (gsize) n;
      if ((gsize) n < want)
        return FLUSH_BLOCKED;
    }
  return FLUSH_DONE;
}

/* Writes what it can and arranges for the rest; may close @conn (it is
 * then freed by the flusher, not here). */
static void
conn_write (TdConn *conn)
{
  switch (conn_flush (conn))
    {
    case FLUSH_DONE:
      conn->want_out = FALSE;
      conn_update_events (conn);
      conn->soft_since = 0;
      if (conn->close_after_reply)
        conn_close (conn, "closed after reply");
      else if (conn->paused)
        conn_resume (conn);
      break;

    case FLUSH_MORE:
      conn_schedule (conn);
      break;

    case FLUSH_BLOCKED:
      conn->want_out = TRUE;
      conn_update_events (conn);
      break;

    case FLUSH_FAILED:
    default:
      conn_close (conn, "write failed");
      break;
    }
}

/* ------------------------------------------------------------------ */
/* Connections                                                         */

static void
conn_free (TdConn *conn)
{
  TdPubsubServer *server = conn->server;

  if (conn->source != NULL)
    {
      g_source_destroy (conn->source);
      g_source_unref (conn->source);
    }
  td_broker_client_free (conn->sub);
  conn_drop_output (conn);
  g_free (conn->chunks);
  g_byte_array_unref (conn->reply);
  g_socket_close (conn->socket, NULL);
  g_object_unref (conn->socket);
  g_free (conn->qbuf);
  td_resp_parser_free (conn->parser);
  g_free (conn->name);
  if (conn->protocol == TD_PUBSUB_PROTOCOL_RESP)
    server->n_resp--;
  else
    server->n_line--;
  g_free (conn);
}

/* Polls for input unless the connection is paused, closing or finishing
 * its last reply, and for output while the kernel buffer is full. */
static void
conn_update_events (TdConn *conn)
{
  GIOCondition events = 0;

  if (conn->source == NULL)
    return;
  if (!conn->paused && !conn->close_after_reply)
    events |= G_IO_IN;
  if (conn->want_out)
    events |= G_IO_OUT;
  if (events != conn->events)
    {
      conn->events = events;
      g_source_modify_unix_fd (conn->source, conn->fd_tag, events);
    }
}

static void
conn_resume (TdConn *conn)
{
  conn->paused = FALSE;
  conn_process_input (conn);
  conn_update_events (conn);
}

static void
conn_compact_input (TdConn *conn)
{
  if (conn->qpos == conn->qlen)
    conn->qpos = conn->qlen = 0;
  else if (conn->qpos > 0 && conn->qpos >= conn->qcap / 2)
    {
      memmove (conn->qbuf, conn->qbuf + conn->qpos, conn->qlen - conn->qpos);
      conn->qlen -= conn->qpos;
      conn->qpos = 0;
    }
}

static void
conn_process_resp (TdConn *conn)
{
  while (conn->qpos < conn->qlen && !conn->closing && !conn->close_after_reply && !conn->paused)
    {
      gsize consumed = 0;
      TdRespParseStatus status;

      status = td_resp_parser_parse (conn->parser, conn->qbuf + conn->qpos,
                                     conn->qlen - conn->qpos, conn->authenticated, &consumed);
      if (status == TD_RESP_PARSE_INCOMPLETE)
        break;
      if (status == TD_RESP_PARSE_ERROR)
        {
          conn->server->n_protocol_errors++;
          td_resp_append_error (_td_conn_reply (conn), td_resp_parser_get_error (conn->parser));
          conn->qpos = conn->qlen;
          _td_conn_close_after_reply (conn);
          break;
        }
      _td_resp_execute (conn, td_resp_parser_get_argc (conn->parser),
                        td_resp_parser_get_argv (conn->parser));
      conn->qpos += consumed;
      conn_check_output (conn);
    }
}

static void
conn_process_line (TdConn *conn)
{
  while (conn->qpos < conn->qlen && !conn->closing && !conn->close_after_reply && !conn->paused)
    {
      const char *start = conn->qbuf + conn->qpos;
      const char *nl = memchr (start, '\n', conn->qlen - conn->qpos);
      gsize len;

      if (nl == NULL)
        {
          if (conn->qlen - conn->qpos > TD_PUBSUB_LINE_MAX)
            {
              conn->server->n_protocol_errors++;
              g_byte_array_append (_td_conn_reply (conn), (const guint8 *) "ERR line too long\n", 18);
              conn->qpos = conn->qlen;
              _td_conn_close_after_reply (conn);
            }
          break;
        }
      len = (gsize) (nl - start);
      if (len > 0 && start[len - 1] == '\r')
        len--;
      _td_line_execute (conn, start, len);
      conn->qpos += (gsize) (nl - start) + 1;
      conn_check_output (conn);
    }
}

static void
conn_process_input (TdConn *conn)
{
  if (conn->protocol == TD_PUBSUB_PROTOCOL_RESP)
    conn_process_resp (conn);
  else
    conn_process_line (conn);
  conn_compact_input (conn);
  /* Once everything read has been handled, the read buffer (16 KiB after
   * the first read) goes back to the allocator, so an idle connection
   * costs a few hundred bytes instead of a buffer that would otherwise
   * stay resident for its lifetime; a busy one pays one malloc per read. */
  if (conn->qlen == 0 && conn->qbuf != NULL)
    {
      g_clear_pointer (&conn->qbuf, g_free);
      conn->qcap = 0;
    }
}

static void
conn_read (TdConn *conn)
{
  gsize want = TD_CONN_READ_CHUNK;
  gssize n;

  if (conn->parser != NULL)
    {
      gsize pending = td_resp_parser_get_pending_bulk (conn->parser);

      if (pending > want)
        want = MIN (pending, TD_CONN_READ_BIG);
    }

  if (conn->qcap - conn->qlen < want)
    {
      conn_compact_input (conn);
      if (conn->qcap - conn->qlen < want)
        {
          conn->qcap = MAX (conn->qcap * 2, conn->qlen + want);
          conn->qbuf = g_realloc (conn->qbuf, conn->qcap);
        }
    }

  do
    n = recv (conn->fd, conn->qbuf + conn->qlen, want, 0);
  while (n < 0 && errno == EINTR);

  if (n < 0)
    {
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return;
      conn_close (conn, "read failed");
      return;
    }
  if (n == 0)
    {
      conn_close (conn, "closed by peer");
      return;
    }

  conn->qlen += (gsize) n;
  if (conn->qlen - conn->qpos > conn->server->config.query_buffer_limit)
    {
      g_message ("Closing client id=%" G_GUINT64_FORMAT " that reached max query buffer length",
                 conn->id);
      conn_close (conn, "query buffer limit");
      return;
    }

  conn_process_input (conn);
  conn_update_events (conn);
}

typedef struct
{
  GSource  source;
  TdConn  *conn;
} ConnSource;

static gboolean
conn_source_dispatch (GSource     *source,
                      GSourceFunc  callback,
                      gpointer     user_data)
{
  TdConn *conn = ((ConnSource *) source)->conn;
  GIOCondition revents = g_source_query_unix_fd (source, conn->fd_tag);

  if (conn->closing)
    return G_SOURCE_CONTINUE;

  if (revents & (G_IO_IN | G_IO_HUP | G_IO_ERR))
    {
      if (conn->events & G_IO_IN)
        conn_read (conn);
      else if (!(revents & G_IO_OUT))
        {
          /* Hung up while not reading: the pending output can only fail. */
          conn_write (conn);
          if (!conn->closing && conn_queued (conn) == 0)
            conn_close (conn, "hung up");
        }
    }
  if (!conn->closing && (revents & G_IO_OUT))
    conn_write (conn);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs conn_source_funcs = {
  NULL,
  NULL,
  conn_source_dispatch,
  NULL, NULL, NULL,
};

static void
conn_new (TdPubsubServer   *server,
          TdPubsubProtocol  protocol,
          GSocket          *socket)
{
  TdConn *conn = g_new0 (TdConn, 1);
  int one = 1;

  conn->server = server;
  conn->protocol = protocol;
  conn->id = ++server->next_id;
  conn->socket = g_object_ref (socket);
  conn->fd = g_socket_get_fd (socket);
  g_socket_set_blocking (socket, FALSE);
  if (setsockopt (conn->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
    g_debug ("TCP_NODELAY: %s", g_strerror (errno));

  conn->reply = g_byte_array_sized_new (TD_CONN_REPLY_PREALLOC);
  conn->sub = td_broker_client_new (server->broker,
                                    protocol == TD_PUBSUB_PROTOCOL_RESP ? TD_BROKER_FRAMES_RESP
                                                                        : TD_BROKER_FRAMES_LINE,
                                    conn_deliver_cb, conn);
  if (protocol == TD_PUBSUB_PROTOCOL_RESP)
    {
      conn->parser = td_resp_parser_new ();
      td_resp_parser_set_max_bulk_len (conn->parser, server->config.max_bulk_len);
      server->n_resp++;
    }
  else
    server->n_line++;
  conn->authenticated = server->config.password == NULL;

  g_hash_table_add (server->conns, conn);
  server->n_accepted++;

  conn->source = g_source_new (&conn_source_funcs, sizeof (ConnSource));
  ((ConnSource *) conn->source)->conn = conn;
  conn->events = G_IO_IN;
  conn->fd_tag = g_source_add_unix_fd (conn->source, conn->fd, conn->events);
  g_source_set_name (conn->source, "td-pubsub connection");
  g_source_attach (conn->source, server->context);
}

/* ------------------------------------------------------------------ */
/* Flusher                                                             */

/* Flushes every connection that has new output and frees those that were
 * closed. */
static void
server_flush_pending (TdPubsubServer *server)
{
  GPtrArray *batch = server->pending;

  server->pending = server->pending_spare;
  server->pending_spare = batch;

  /* Newest first, as Redis does: a publisher is queued after the
   * subscribers its first PUBLISH reached, and answering it first lets it
   * send its next commands while the fan-out is still being written. */
  for (guint i = batch->len; i-- > 0; )
    {
      TdConn *conn = g_ptr_array_index (batch, i);

      conn->in_pending = FALSE;
      if (!conn->closing)
        conn_write (conn);
      if (conn->closing && !conn->in_pending)
        {
          g_hash_table_remove (server->conns, conn);
          conn_free (conn);
        }
    }
  g_ptr_array_set_size (batch, 0);
}

/* The write pass runs in prepare(), before the context polls: the
 * equivalent of Redis' beforeSleep(). Everything the previous iteration's
 * dispatches queued goes out in one write per connection, without an
 * extra poll and dispatch round for the flush itself. What is still
 * pending afterwards (a connection over its per-flush cap, or one closed
 * while flushing) makes the source ready, so the poll does not block. */
static gboolean
flusher_prepare (GSource *source,
                 gint    *timeout)
{
  TdPubsubServer *server = ((FlusherSource *) source)->server;

  if (server->pending->len > 0)
    server_flush_pending (server);
  *timeout = -1;
  return server->pending->len > 0;
}

static gboolean
flusher_check (GSource *source)
{
  FlusherSource *flusher = (FlusherSource *) source;

  return flusher->server->pending->len > 0;
}

static gboolean
flusher_dispatch (GSource     *source,
                  GSourceFunc  callback,
                  gpointer     user_data)
{
  server_flush_pending (((FlusherSource *) source)->server);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs flusher_funcs = {
  flusher_prepare,
  flusher_check,
  flusher_dispatch,
  NULL, NULL, NULL,
};

/* ------------------------------------------------------------------ */
/* Listeners                                                           */

static void
reject_connection (TdPubsubProtocol  protocol,
                   GSocket          *socket)
{
  const char *msg = protocol == TD_PUBSUB_PROTOCOL_RESP
                    ? "-ERR max number of clients reached\r\n"
                    : "ERR max number of clients reached\n";

  /* Best effort, like Redis: the socket is new, so its buffer has room. */
  if (send (g_socket_get_fd (socket), msg, strlen (msg), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
    g_debug ("rejecting a connection: %s", g_strerror (errno));
  g_socket_close (socket, NULL);
}

static gboolean
listener_accept_cb (GSocket      *socket,
                    GIOCondition  condition,
                    gpointer      user_data)
{
  Listener *listener = user_data;
  TdPubsubServer *server = listener->server;

  for (guint i = 0; i < TD_PUBSUB_MAX_ACCEPTS; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GSocket) client = g_socket_accept (listener->socket, NULL, &error);

      if (client == NULL)
        {
          if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            g_debug ("accept: %s", error->message);
          break;
        }
      if (g_hash_table_size (server->conns) >= server->config.max_clients)
        {
          reject_connection (listener->protocol, client);
          continue;
        }
      conn_new (server, listener->protocol, client);
    }
  return G_SOURCE_CONTINUE;
}

static void
listener_free (gpointer data)
{
  Listener *listener = data;

  g_source_destroy (listener->source);
  g_source_unref (listener->source);
  g_socket_close (listener->socket, NULL);
  g_object_unref (listener->socket);
  g_free (listener);
}

/* ------------------------------------------------------------------ */
/* Public API                                                          */

/* Returns a server on @context (NULL: the thread-default context) with a
 * broker of its own and no listeners yet. */
TdPubsubServer *
td_pubsub_server_new (const TdPubsubConfig *config,
                      GMainContext         *context)
{
  TdPubsubServer *server = g_new0 (TdPubsubServer, 1);
  FlusherSource *flusher;

  if (config != NULL)
    {
      server->config = *config;
      server->config.password = g_strdup (config->password);
    }
  else
    td_pubsub_config_init (&server->config);
  if (server->config.max_bulk_len < TD_RESP_MIN_MAX_BULK_LEN)
    server->config.max_bulk_len = TD_RESP_MIN_MAX_BULK_LEN;

  server->context = context ? g_main_context_ref (context) : g_main_context_ref_thread_default ();
  server->broker = td_broker_new ();
  server->listeners = g_ptr_array_new_with_free_func (listener_free);
  server->conns = g_hash_table_new (NULL, NULL);
  server->pending = g_ptr_array_new ();
  server->pending_spare = g_ptr_array_new ();

  server->flusher = g_source_new (&flusher_funcs, sizeof (FlusherSource));
  flusher = (FlusherSource *) server->flusher;
  flusher->server = server;
  g_source_set_name (server->flusher, "td-pubsub flusher");
  g_source_attach (server->flusher, server->context);
  return server;
}

/* Closes every listener and connection (without flushing) and frees the
 * server. Call it on the server's context, or once that context no
 * longer runs. */
void
td_pubsub_server_free (TdPubsubServer *server)
{
  GHashTableIter iter;
  gpointer key;

  if (server == NULL)
    return;

  g_ptr_array_unref (server->listeners);
  g_hash_table_iter_init (&iter, server->conns);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      g_hash_table_iter_remove (&iter);
      conn_free (key);
    }
  g_hash_table_unref (server->conns);
  g_ptr_array_unref (server->pending);
  g_ptr_array_unref (server->pending_spare);
  g_source_destroy (server->flusher);
  g_source_unref (server->flusher);
  td_broker_free (server->broker);
  g_main_context_unref (server->context);
  td_pubsub_config_clear (&server->config);
  g_free (server);
}

/* Binds @address:@port (0 = any free port) and serves @protocol there.
 * Returns FALSE with @error set if it cannot bind; @bound_port gets the
 * port actually bound. */
gboolean
td_pubsub_server_listen (TdPubsubServer    *server,
                         TdPubsubProtocol   protocol,
                         const char        *address,
                         int                port,
                         guint16           *bound_port,
                         GError           **error)
{
  g_autoptr(GInetAddress) inet = NULL;
  g_autoptr(GSocketAddress) bind_address = NULL;
  g_autoptr(GSocketAddress) local = NULL;
  g_autoptr(GSocket) socket = NULL;
  Listener *listener;

  g_return_val_if_fail (server != NULL, FALSE);
  g_return_val_if_fail (address != NULL, FALSE);
  g_return_val_if_fail (port >= 0 && port <= G_MAXUINT16, FALSE);

  inet = g_inet_address_new_from_string (address);
  if (inet == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "“%s” is not an IP address", address);
      return FALSE;
    }

  socket = g_socket_new (g_inet_address_get_family (inet), G_SOCKET_TYPE_STREAM,
                         G_SOCKET_PROTOCOL_TCP, error);
  if (socket == NULL)
    return FALSE;
  g_socket_set_blocking (socket, FALSE);
  g_socket_set_listen_backlog (socket, TD_PUBSUB_BACKLOG);

  bind_address = g_inet_socket_address_new (inet, (guint16) port);
  if (!g_socket_bind (socket, bind_address, TRUE, error) || !g_socket_listen (socket, error))
    {
      g_prefix_error (error, "cannot listen on %s:%d: ", address, port);
      return FALSE;
    }

  local = g_socket_get_local_address (socket, error);
  if (local == NULL)
    return FALSE;
  if (bound_port != NULL)
    *bound_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));

  listener = g_new0 (Listener, 1);
  listener->server = server;
  listener->protocol = protocol;
  listener->socket = g_steal_pointer (&socket);
  listener->source = g_socket_create_source (listener->socket, G_IO_IN, NULL);
  g_source_set_callback (listener->source, G_SOURCE_FUNC (listener_accept_cb), listener, NULL);
  g_source_attach (listener->source, server->context);
  g_ptr_array_add (server->listeners, listener);
  return TRUE;
}

TdBroker *
td_pubsub_server_get_broker (TdPubsubServer *server)
{
  g_return_val_if_fail (server != NULL, NULL);
  return server->broker;
}

/* Fills @stats; call on the server's context. */
void
td_pubsub_server_get_stats (TdPubsubServer      *server,
                            TdPubsubServerStats *stats)
{
  GHashTableIter iter;
  gpointer key;

  g_return_if_fail (server != NULL);
  g_return_if_fail (stats != NULL);

  memset (stats, 0, sizeof *stats);
  stats->n_connections = g_hash_table_size (server->conns);
  stats->n_resp_connections = server->n_resp;
  stats->n_line_connections = server->n_line;
  stats->n_pending = server->pending->len;
  stats->n_accepted = server->n_accepted;
  stats->n_closed_output_limit = server->n_closed_output_limit;
  stats->n_protocol_errors = server->n_protocol_errors;
  g_hash_table_iter_init (&iter, server->conns);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    stats->queued_bytes += conn_queued (key);
}
