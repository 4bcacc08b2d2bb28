/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * TdServer: the tidingsd server. It runs on one GMainContext: the main
 * context of the `tidingsd` process, or a thread of its own when the app
 * hosts it (td_server_start_thread()).
 */

#define TD_SERVER_DEFAULT_LISTEN      "127.0.0.1"
#define TD_SERVER_DEFAULT_PUBSUB_PORT 6380
#define TD_SERVER_DEFAULT_LINE_PORT   8889
#define TD_SERVER_DEFAULT_CHAT_PORT   6667
#define TD_SERVER_DEFAULT_FILES_PORT  6681

/* A port of -1 disables that listener; 0 asks for any free port. */
typedef struct
{
  char *listen_address;
  char *db_path;
  int   pubsub_port;
  int   line_port;
  int   chat_port;
  int   chat_tls_port;
  int   files_port;
  gint64   files_max_size;     /* bytes per file; 0: the file host's default */
  gint64   files_quota;        /* bytes per account; 0: default, < 0: none */
  int      files_expiry_days;  /* 0: never; < 0: default */
  gboolean files_anonymous;    /* uploads without an account */
  char *tls_cert;
  char *tls_key;
  char *password;
  guint max_chat_clients;   /* 0: TD_IRC_DEFAULT_MAX_CLIENTS */
} TdServerConfig;

typedef struct _TdServer TdServer;

TdServerConfig *td_server_config_new           (void);
void            td_server_config_free          (TdServerConfig  *config);

TdServer       *td_server_new                  (const TdServerConfig *config);
gboolean        td_server_start                (TdServer        *server,
                                                GMainContext    *context,
                                                GError         **error);
gboolean        td_server_start_thread         (TdServer        *server,
                                                GError         **error);
guint16         td_server_get_port             (TdServer        *server,
                                                const char      *listener);
GStrv           td_server_list_listeners       (TdServer        *server);
void            td_server_stop                 (TdServer        *server);
void            td_server_free                 (TdServer        *server);

GTlsCertificate *td_server_load_certificate    (const char      *cert_path,
                                                const char      *key_path,
                                                GError         **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdServerConfig, td_server_config_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdServer, td_server_free)

G_END_DECLS
