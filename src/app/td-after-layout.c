/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-after-layout"

#include "config.h"

#include "app/td-after-layout.h"

void
td_after_layout_cancel (TdAfterLayout *slot)
{
  if (slot->clock != NULL)
    g_clear_signal_handler (&slot->handler, slot->clock);
  g_clear_object (&slot->clock);
  slot->func = NULL;
  slot->data = NULL;
}

static void
layout_cb (GdkFrameClock *clock,
           TdAfterLayout *slot)
{
  TdAfterLayoutFunc func = slot->func;
  gpointer data = slot->data;

  td_after_layout_cancel (slot);
  func (data);
}

/* Calls @func (@data) right after the next layout of @widget's window,
 * unless a call is already waiting in @slot (then that one stays). Calls
 * nothing while @widget is not realized: its first allocation is then
 * still to come. */
void
td_after_layout_queue (TdAfterLayout     *slot,
                       GtkWidget         *widget,
                       TdAfterLayoutFunc  func,
                       gpointer           data)
{
  GdkFrameClock *clock = gtk_widget_get_frame_clock (widget);

  g_return_if_fail (func != NULL);

  if (slot->clock != NULL && slot->clock == clock)
    return;
  /* A clock of an earlier realization may never lay out again. */
  td_after_layout_cancel (slot);
  if (clock == NULL)
    return;
  slot->clock = g_object_ref (clock);
  slot->func = func;
  slot->data = data;
  slot->handler = g_signal_connect_after (clock, "layout", G_CALLBACK (layout_cb), slot);
  gdk_frame_clock_request_phase (clock, GDK_FRAME_CLOCK_PHASE_LAYOUT);
}
