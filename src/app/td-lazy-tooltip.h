/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/*
 * A tooltip text given to GTK only when the tooltip is asked for.
 *
 * gtk_widget_set_tooltip_text() makes GTK 4.8 look for the pointer at
 * once, as if it had moved: under X11 a round trip to the server, each
 * time, even for a widget that is not shown. List rows set tooltips at
 * every bind and update, by the hundred, so they use this instead. It
 * also sets the widget's accessible description, as GTK does.
 */
void td_lazy_tooltip_set (GtkWidget  *widget,
                          const char *text);

G_END_DECLS
