/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "app/td-chat-buffer.h"
#include "app/td-chat-files.h"

G_BEGIN_DECLS

/*
 * TdChatView: the Chat page. A sidebar of networks (the embedded server
 * first, then any IRC network the user adds) with their channels and
 * queries, unread and mention badges and connection state; the message
 * list of the selected buffer with its topic and nick list; a composer
 * with commands, nick completion and input history.
 *
 * Every line seen is saved in the app database through the recorder; at
 * start the recent lines of every open buffer are loaded from there, so
 * the view is full even offline. Scrolling up asks the server for older
 * lines (CHATHISTORY) or, where it has none, the local log.
 *
 * The view finds the application (for the recorder and the embedded
 * server's port) once it is inside a window.
 */

/* The embedded server's network, always first in the sidebar. */
#define TD_CHAT_LOCAL_NETWORK "Tidings"
/* Lines of each buffer loaded from the log at start. */
#define TD_CHAT_LOG_PAGE      200
/* Lines loaded from the log per page when scrolling up. Each page costs
 * the list about the same (it rebinds the rows around its anchor, however
 * many lines came), so pages are large. */
#define TD_CHAT_LOG_OLDER_PAGE 1000

#define TD_TYPE_CHAT_VIEW (td_chat_view_get_type ())

G_DECLARE_FINAL_TYPE (TdChatView, td_chat_view, TD, CHAT_VIEW, AdwBin)

#define TD_CHAT_VIEW_ERROR (td_chat_view_error_quark ())

typedef enum
{
  TD_CHAT_VIEW_ERROR_NO_NETWORK,
  TD_CHAT_VIEW_ERROR_NOT_CONNECTED,
  TD_CHAT_VIEW_ERROR_NOT_JOINED,
  TD_CHAT_VIEW_ERROR_INVALID,
} TdChatViewError;

GQuark        td_chat_view_error_quark        (void);

GtkWidget    *td_chat_view_new                (void);

/* Adds a network and connects to it; returns FALSE if the name is taken. */
gboolean      td_chat_view_add_network        (TdChatView  *self,
                                               const char  *name,
                                               const char  *host,
                                               guint16      port,
                                               gboolean     tls,
                                               const char  *nick,
                                               const char  *sasl_account,
                                               const char  *sasl_password);
/* Removes a network the user added (not the embedded server's), its
 * buffers and log, and its password from the keyring. */
gboolean      td_chat_view_remove_network     (TdChatView  *self,
                                               const char  *network,
                                               GError     **error);
GListModel   *td_chat_view_get_buffers        (TdChatView  *self);
TdChatBuffer *td_chat_view_find_buffer        (TdChatView  *self,
                                               const char  *network,
                                               const char  *name);
TdChatBuffer *td_chat_view_get_selected       (TdChatView  *self);
void          td_chat_view_select             (TdChatView  *self,
                                               TdChatBuffer *buffer);
/* Runs @text as if typed in the composer of the selected buffer
 * (commands included); multi-line text asks first. */
void          td_chat_view_submit             (TdChatView  *self,
                                               const char  *text);
gboolean      td_chat_view_is_ready           (TdChatView  *self);
void          td_chat_view_search             (TdChatView  *self,
                                               const char  *query);
gboolean      td_chat_view_send_message       (TdChatView  *self,
                                               const char  *network,
                                               const char  *target,
                                               const char  *text,
                                               GError     **error);
gboolean      td_chat_view_join_channel       (TdChatView  *self,
                                               const char  *network,
                                               const char  *channel,
                                               GError     **error);
gboolean      td_chat_view_attach_file        (TdChatView  *self,
                                               GFile       *file,
                                               GError     **error);
TdChatFiles  *td_chat_view_get_files          (TdChatView  *self);

G_END_DECLS
