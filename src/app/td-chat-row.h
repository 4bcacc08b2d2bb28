/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/*
 * TdChatRow: the layout of one line of the message list: a time column,
 * a nick column and the text, on one baseline, and under the text a
 * preview when the line has one. It does what a GtkGrid did, without the
 * grid's general algorithm, which was most of what measuring a row cost
 * (a list measures about 200 rows at each jump).
 *
 * The children are its own: td_chat_row_new() takes the three columns,
 * td_chat_row_set_preview() adds the preview. They are kept in that
 * order, so gtk_widget_get_first_child() and its siblings find them.
 */

#define TD_TYPE_CHAT_ROW (td_chat_row_get_type ())

G_DECLARE_FINAL_TYPE (TdChatRow, td_chat_row, TD, CHAT_ROW, GtkWidget)

GtkWidget *td_chat_row_new         (GtkWidget *time,
                                    GtkWidget *nick,
                                    GtkWidget *text);
void       td_chat_row_set_preview (TdChatRow *self,
                                    GtkWidget *preview);
gboolean   td_chat_row_set_classes (TdChatRow          *self,
                                    const char * const *classes);

G_END_DECLS
