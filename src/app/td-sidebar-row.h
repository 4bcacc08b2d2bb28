/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

#include "app/td-feed-row.h"

G_BEGIN_DECLS

/*
 * TdSidebarRow: a row of the Feeds sidebar: the source's icon, its title,
 * a warning badge while its feed fails, its unread count; feeds in a
 * folder indented. Built in code, the title a fixed-size text (TdRowText):
 * a refresh that gives a thousand feeds their titles moves their rows,
 * and the list builds a widget for each row it had not shown; a row made
 * from a template with bound expressions was slow to build, and an
 * ellipsized GtkLabel asks Pango for the font's metrics at every measure.
 *
 * The badge is the view's to watch (td_sidebar_row_get_error_badge()):
 * the reason shows on hover through the view's tooltip mailbox.
 */

#define TD_TYPE_SIDEBAR_ROW (td_sidebar_row_get_type ())

G_DECLARE_FINAL_TYPE (TdSidebarRow, td_sidebar_row, TD, SIDEBAR_ROW, GtkWidget)

GtkWidget *td_sidebar_row_new             (void);
void       td_sidebar_row_bind            (TdSidebarRow *self,
                                           TdFeedRow    *row);
void       td_sidebar_row_unbind          (TdSidebarRow *self);
TdFeedRow *td_sidebar_row_get_row         (TdSidebarRow *self);
GtkWidget *td_sidebar_row_get_error_badge (TdSidebarRow *self);

G_END_DECLS
