/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* What the list rows that lay out their children themselves (TdChatRow,
 * TdItemRow, TdPubsubRow) share: a list binds about 200 rows at a time,
 * and a row that places its few texts costs less to measure than boxes
 * in boxes. */

int  td_row_layout_size  (GtkWidget      *child,
                          GtkOrientation  orientation,
                          int             for_size);
void td_row_layout_place (GtkWidget      *row,
                          int             row_width,
                          GtkWidget      *child,
                          int             x,
                          int             y,
                          int             width,
                          int             height);

G_END_DECLS
