/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/*
 * TdAfterLayout: calls a function once, right after the next layout of a
 * widget's window, when every widget has its allocation and before the
 * frame is drawn: the moment to scroll a list to a row. Not from an idle:
 * rows that come in between a layout and the idle are not measured yet,
 * and GtkListView (4.8) ignores a position past the rows it knows.
 *
 * A slot holds at most one pending call; it is embedded in its owner and
 * cancelled (td_after_layout_cancel()) when the owner goes.
 */

typedef void (*TdAfterLayoutFunc) (gpointer data);

typedef struct
{
  GdkFrameClock     *clock;     /* owned while a call waits */
  gulong             handler;
  TdAfterLayoutFunc  func;
  gpointer           data;
} TdAfterLayout;

void td_after_layout_queue  (TdAfterLayout     *slot,
                             GtkWidget         *widget,
                             TdAfterLayoutFunc  func,
                             gpointer           data);
void td_after_layout_cancel (TdAfterLayout     *slot);

G_END_DECLS
