/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* What a sidebar row stands for. */
typedef enum
{
  TD_FEED_ROW_ALL,
  TD_FEED_ROW_UNREAD,
  TD_FEED_ROW_STARRED,
  TD_FEED_ROW_FOLDER,
  TD_FEED_ROW_FEED,
} TdFeedRowKind;

#define TD_TYPE_FEED_ROW (td_feed_row_get_type ())

G_DECLARE_FINAL_TYPE (TdFeedRow, td_feed_row, TD, FEED_ROW, GObject)

TdFeedRow     *td_feed_row_new            (TdFeedRowKind  kind,
                                           gint64         feed_id,
                                           const char    *folder,
                                           const char    *title);
char          *td_feed_row_make_key       (TdFeedRowKind  kind,
                                           gint64         feed_id,
                                           const char    *folder);
TdFeedRowKind  td_feed_row_get_kind       (TdFeedRow     *self);
gint64         td_feed_row_get_feed_id    (TdFeedRow     *self);
const char    *td_feed_row_get_folder     (TdFeedRow     *self);
const char    *td_feed_row_get_title      (TdFeedRow     *self);
guint          td_feed_row_get_unread     (TdFeedRow     *self);
const char    *td_feed_row_get_error      (TdFeedRow     *self);
/* A key that names the row across rebuilds ("feed:12", "folder:News"). */
const char    *td_feed_row_get_key        (TdFeedRow     *self);
void           td_feed_row_update         (TdFeedRow     *self,
                                           const char    *title,
                                           guint          unread,
                                           const char    *error,
                                           gboolean       gone);
/* The feed's own icon: @rgba is @size × @size straight RGBA rows (NULL:
 * the generic icon). The same bytes again change nothing. */
void           td_feed_row_set_icon       (TdFeedRow     *self,
                                           GBytes        *rgba,
                                           int            size);
/* What the row shows as its icon (a new reference): the feed's, else a
 * themed one. */
GIcon         *td_feed_row_get_gicon      (TdFeedRow     *self);

G_END_DECLS
