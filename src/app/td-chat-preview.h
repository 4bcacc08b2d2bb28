/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "app/td-chat-files.h"

G_BEGIN_DECLS

/*
 * TdChatPreview: what a line of the message list shows under its text
 * for a link to a file: the thumbnail of an image (a placeholder while it
 * loads and when it cannot be shown; a click opens it full size), or a
 * card with the file's name, its size when known and a Save button. A
 * line without such a link shows nothing. The thumbnails come from the
 * view's TdChatFiles; rows that are recycled simply bind again.
 */

#define TD_TYPE_CHAT_PREVIEW (td_chat_preview_get_type ())

G_DECLARE_FINAL_TYPE (TdChatPreview, td_chat_preview, TD, CHAT_PREVIEW, GtkWidget)

GtkWidget            *td_chat_preview_new                  (TdChatFiles   *files);
void                  td_chat_preview_bind                 (TdChatPreview *self,
                                                            const char    *network,
                                                            const char    *text);
const char           *td_chat_preview_get_url              (TdChatPreview *self);
TdFileUrlKind         td_chat_preview_get_kind             (TdChatPreview *self);
TdChatThumbnailState  td_chat_preview_get_thumbnail_state  (TdChatPreview *self);

G_END_DECLS
