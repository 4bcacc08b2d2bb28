/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/*
 * TdPubsubRow: the layout of one message of the Pub/Sub list: a column of
 * its time (after a mark when it comes from the capture log), channel and
 * pattern, and beside it the payload, two lines at most. It places its
 * texts itself: boxes in boxes made a row of eight widgets, and the list
 * measures 200 rows whenever it is shown again after a busy channel moved
 * on.
 *
 * The texts are TdRowText of a fixed size; the view sets them
 * (td_pubsub_row_get_text()).
 */

#define TD_TYPE_PUBSUB_ROW (td_pubsub_row_get_type ())

G_DECLARE_FINAL_TYPE (TdPubsubRow, td_pubsub_row, TD, PUBSUB_ROW, GtkWidget)

typedef enum
{
  TD_PUBSUB_ROW_TIME,
  TD_PUBSUB_ROW_CHANNEL,
  TD_PUBSUB_ROW_PATTERN,   /* hidden while empty */
  TD_PUBSUB_ROW_PAYLOAD,
} TdPubsubRowText;

GtkWidget *td_pubsub_row_new        (guint            time_chars,
                                     guint            channel_chars);
GtkWidget *td_pubsub_row_get_text   (TdPubsubRow     *self,
                                     TdPubsubRowText  which);
void       td_pubsub_row_set_logged (TdPubsubRow     *self,
                                     gboolean         logged);
void       td_pubsub_row_set_note   (TdPubsubRow     *self,
                                     gboolean         note);

G_END_DECLS
