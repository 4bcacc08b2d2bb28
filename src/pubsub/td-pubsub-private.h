/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "pubsub/td-pubsub-server.h"
#include "pubsub/td-resp.h"

G_BEGIN_DECLS

/*
 * Shared between the networking layer (td-pubsub-server.c) and the
 * command layers (td-resp-commands.c, td-line-commands.c).
 */

typedef struct _TdConn TdConn;

typedef struct
{
  GBytes *bytes;
  gsize   sent;
} TdOutChunk;

struct _TdConn
{
  TdPubsubServer   *server;        /* borrowed */
  TdPubsubProtocol  protocol;
  guint64           id;
  GSocket          *socket;        /* owned */
  int               fd;
  GSource          *source;        /* owned; watches fd, NULL once closing */
  gpointer          fd_tag;
  GIOCondition      events;        /* what the source currently polls for */

  /* Input: bytes [qpos, qlen) of qbuf are unparsed. */
  char             *qbuf;
  gsize             qpos;
  gsize             qlen;
  gsize             qcap;
  TdRespParser     *parser;        /* owned, RESP only */

  /* Output: chunks (a ring) then reply[reply_sent..]. */
  TdOutChunk       *chunks;
  guint             chunk_head;
  guint             chunk_count;
  guint             chunk_cap;
  GByteArray       *reply;
  gsize             reply_sent;
  gsize             queued;        /* unsent bytes in chunks (the reply buffer not included) */
  gint64            soft_since;    /* when output reached the soft limit, 0 = below */

  TdBrokerClient   *sub;           /* owned */

  /* Session */
  gboolean          authenticated; /* AUTH done, or no password configured */
  char             *name;          /* CLIENT SETNAME */

  guint             in_pending : 1;
  guint             closing : 1;           /* drop everything, free at next flush */
  guint             close_after_reply : 1; /* read no more; close once flushed */
  guint             paused : 1;            /* input stopped until output drains */
  guint             want_out : 1;          /* the kernel buffer was full */
};

/* td-pubsub-server.c */
GByteArray   *_td_conn_reply               (TdConn *conn);
void          _td_conn_close_after_reply   (TdConn *conn);
TdBroker     *_td_conn_broker              (TdConn *conn);
const TdPubsubConfig *_td_conn_config      (TdConn *conn);

/* td-resp-commands.c */
void          _td_resp_execute             (TdConn          *conn,
                                            guint            argc,
                                            const TdRespArg *argv);
guint         _td_resp_command_count       (void);

/* td-line-commands.c */
void          _td_line_execute             (TdConn          *conn,
                                            const char      *line,
                                            gsize            len);

G_END_DECLS
