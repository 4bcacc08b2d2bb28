/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

#include "chat/td-file-client.h"

G_BEGIN_DECLS

/*
 * TdChatFiles: files and images in the Chat view, without widgets.
 *
 * It owns the view's TdFileClient and its reply mailbox, and keeps what
 * the rows of the message list share: the file host of every network,
 * the thumbnails of image links (fetched and decoded on the task loop,
 * kept here as textures for the rows that scroll back into view), the
 * sizes of files the user uploaded. Uploads, downloads and the local
 * work the composer needs (a preview of a file about to be sent, a
 * pasted image encoded as PNG) run on the task loop too; their results
 * come back as signals on the main thread.
 */

/* Longest edge of an inline preview: the thumbnail is shown at its own
 * size, so a line never grows taller than this. */
#define TD_CHAT_FILES_THUMBNAIL_PX    320
/* Longest edge of the preview of a file about to be sent. */
#define TD_CHAT_FILES_ATTACH_PX       96
/* Thumbnails kept as textures; the oldest go first (the disk cache has
 * them). */
#define TD_CHAT_FILES_MAX_TEXTURES    256

typedef enum
{
  TD_CHAT_THUMBNAIL_NONE,      /* not asked for yet */
  TD_CHAT_THUMBNAIL_LOADING,
  TD_CHAT_THUMBNAIL_READY,
  TD_CHAT_THUMBNAIL_FAILED,
} TdChatThumbnailState;

#define TD_TYPE_CHAT_FILES (td_chat_files_get_type ())

G_DECLARE_FINAL_TYPE (TdChatFiles, td_chat_files, TD, CHAT_FILES, GObject)

TdChatFiles          *td_chat_files_new              (const char   *cache_dir);
TdFileClient         *td_chat_files_get_client       (TdChatFiles  *self);

void                  td_chat_files_set_host         (TdChatFiles  *self,
                                                      const char   *network,
                                                      const char   *url);
const char           *td_chat_files_get_host         (TdChatFiles  *self,
                                                      const char   *network);
gboolean              td_chat_files_get_allow_unknown (TdChatFiles *self);
void                  td_chat_files_set_allow_unknown (TdChatFiles *self,
                                                      gboolean      allow);
TdFileUrlKind         td_chat_files_classify         (TdChatFiles  *self,
                                                      const char   *network,
                                                      const char   *url);

TdChatThumbnailState  td_chat_files_get_thumbnail    (TdChatFiles  *self,
                                                      const char   *url,
                                                      GdkTexture  **texture,
                                                      const char  **error);
void                  td_chat_files_note_size        (TdChatFiles  *self,
                                                      const char   *url,
                                                      gint64        size);
gint64                td_chat_files_get_size         (TdChatFiles  *self,
                                                      const char   *url);

guint64               td_chat_files_upload           (TdChatFiles  *self,
                                                      const char   *url_base,
                                                      const char   *user,
                                                      const char   *password,
                                                      const char   *path,
                                                      GBytes       *bytes,
                                                      const char   *name,
                                                      GCancellable *cancellable);
guint64               td_chat_files_download         (TdChatFiles  *self,
                                                      const char   *url,
                                                      const char   *dest_path,
                                                      GCancellable *cancellable);
guint64               td_chat_files_load_preview     (TdChatFiles  *self,
                                                      const char   *path,
                                                      GCancellable *cancellable);
guint64               td_chat_files_encode_png       (TdChatFiles  *self,
                                                      GdkTexture   *texture,
                                                      GCancellable *cancellable);

G_END_DECLS
