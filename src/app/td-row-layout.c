/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-row-layout"

#include "config.h"

#include "app/td-row-layout.h"

/* The minimum size of @child in @orientation, @for_size the other way
 * (-1: unconstrained); 0 for no child or a hidden one. */
int
td_row_layout_size (GtkWidget      *child,
                    GtkOrientation  orientation,
                    int             for_size)
{
  int size = 0;

  if (child != NULL && gtk_widget_should_layout (child))
    gtk_widget_measure (child, orientation, for_size, &size, NULL, NULL, NULL);
  return size;
}

/* Gives @child the box at @x (from the start of @row, which is @row_width
 * wide: mirrored right to left), @y; nothing for no child or a hidden
 * one. */
void
td_row_layout_place (GtkWidget *row,
                     int        row_width,
                     GtkWidget *child,
                     int        x,
                     int        y,
                     int        width,
                     int        height)
{
  GtkAllocation allocation = { x, y, width, height };

  if (child == NULL || !gtk_widget_should_layout (child))
    return;
  if (gtk_widget_get_direction (row) == GTK_TEXT_DIR_RTL)
    allocation.x = row_width - x - width;
  gtk_widget_size_allocate (child, &allocation, -1);
}
