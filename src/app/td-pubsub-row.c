/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-pubsub-row"

#include "config.h"

#include <glib/gi18n.h>

#include "app/td-lazy-tooltip.h"
#include "app/td-pubsub-row.h"
#include "app/td-row-layout.h"
#include "app/td-row-text.h"

/* The layout, in pixels: around the row, the narrowest the column of
 * time, channel and pattern is, between it and the payload, between its
 * lines, and between the capture mark and the time. */
#define TD_PUBSUB_ROW_MARGIN_Y     6
#define TD_PUBSUB_ROW_MARGIN_X     12
#define TD_PUBSUB_ROW_META_WIDTH   150
#define TD_PUBSUB_ROW_SPACING      12
#define TD_PUBSUB_ROW_LINE_SPACING 2
#define TD_PUBSUB_ROW_MARK_SPACING 4
#define TD_PUBSUB_ROW_MARK_SIZE    12

struct _TdPubsubRow
{
  GtkWidget  parent_instance;

  /* Children, owned through the widget tree */
  GtkWidget *mark;      /* NULL until a message from the capture log shows */
  GtkWidget *time;
  GtkWidget *channel;
  GtkWidget *pattern;
  GtkWidget *payload;

  gboolean   note;      /* a note, not a message: see td_pubsub_row_set_note() */
};

G_DEFINE_FINAL_TYPE (TdPubsubRow, td_pubsub_row, GTK_TYPE_WIDGET)

/* Where the children go in a row @width wide. */
typedef struct
{
  int mark_width, mark_height;
  int time_width, time_height;
  int channel_height, pattern_height;
  int meta_width, meta_height;
  int payload_x, payload_width, payload_height;
} RowLayout;

/* The widths of the columns in a row @width wide. */
static void
compute_widths (TdPubsubRow *self,
                int          width,
                RowLayout   *layout)
{
  int first_width;

  layout->mark_width = td_row_layout_size (self->mark, GTK_ORIENTATION_HORIZONTAL, -1);
  layout->time_width = td_row_layout_size (self->time, GTK_ORIENTATION_HORIZONTAL, -1);
  first_width = layout->time_width + (layout->mark_width > 0 ? layout->mark_width + TD_PUBSUB_ROW_MARK_SPACING : 0);
  layout->meta_width = MAX (MAX (TD_PUBSUB_ROW_META_WIDTH, first_width),
                            MAX (td_row_layout_size (self->channel, GTK_ORIENTATION_HORIZONTAL, -1),
                                 td_row_layout_size (self->pattern, GTK_ORIENTATION_HORIZONTAL, -1)));
  layout->payload_x = TD_PUBSUB_ROW_MARGIN_X + layout->meta_width + TD_PUBSUB_ROW_SPACING;
  layout->payload_width = MAX (td_row_layout_size (self->payload, GTK_ORIENTATION_HORIZONTAL, -1),
                               width - layout->payload_x - TD_PUBSUB_ROW_MARGIN_X);
}

static void
compute_layout (TdPubsubRow *self,
                int          width,
                RowLayout   *layout)
{
  int first_line;

  compute_widths (self, width, layout);
  layout->mark_height = td_row_layout_size (self->mark, GTK_ORIENTATION_VERTICAL, layout->mark_width);
  layout->time_height = td_row_layout_size (self->time, GTK_ORIENTATION_VERTICAL, layout->time_width);
  layout->channel_height = td_row_layout_size (self->channel, GTK_ORIENTATION_VERTICAL, layout->meta_width);
  layout->pattern_height = td_row_layout_size (self->pattern, GTK_ORIENTATION_VERTICAL, layout->meta_width);
  layout->payload_height = td_row_layout_size (self->payload, GTK_ORIENTATION_VERTICAL, layout->payload_width);
  first_line = MAX (layout->mark_height, layout->time_height);
  layout->meta_height = first_line + TD_PUBSUB_ROW_LINE_SPACING + layout->channel_height
                        + (layout->pattern_height > 0 ? TD_PUBSUB_ROW_LINE_SPACING + layout->pattern_height : 0);
}

static GtkSizeRequestMode
td_pubsub_row_get_request_mode (GtkWidget *widget)
{
  return GTK_SIZE_REQUEST_HEIGHT_FOR_WIDTH;
}

static void
td_pubsub_row_measure (GtkWidget      *widget,
                       GtkOrientation  orientation,
                       int             for_size,
                       int            *minimum,
                       int            *natural,
                       int            *minimum_baseline,
                       int            *natural_baseline)
{
  TdPubsubRow *self = TD_PUBSUB_ROW (widget);
  RowLayout layout;

  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    {
      /* At its narrowest, the payload at its minimum. */
      compute_widths (self, 0, &layout);
      *minimum = *natural = layout.payload_x + layout.payload_width + TD_PUBSUB_ROW_MARGIN_X;
    }
  else
    {
      compute_layout (self, for_size < 0 ? 0 : for_size, &layout);
      *minimum = *natural = 2 * TD_PUBSUB_ROW_MARGIN_Y + MAX (layout.meta_height, layout.payload_height);
    }
}

static void
td_pubsub_row_size_allocate (GtkWidget *widget,
                             int        width,
                             int        height,
                             int        baseline)
{
  TdPubsubRow *self = TD_PUBSUB_ROW (widget);
  int x = TD_PUBSUB_ROW_MARGIN_X, y = TD_PUBSUB_ROW_MARGIN_Y;
  int first_line;
  RowLayout layout;

  compute_layout (self, width, &layout);
  first_line = MAX (layout.mark_height, layout.time_height);
  if (layout.mark_width > 0)
    {
      td_row_layout_place (widget, width, self->mark, x, y + (first_line - layout.mark_height) / 2,
                           layout.mark_width, layout.mark_height);
      x += layout.mark_width + TD_PUBSUB_ROW_MARK_SPACING;
    }
  td_row_layout_place (widget, width, self->time, x, y + (first_line - layout.time_height) / 2,
                       layout.time_width, layout.time_height);
  x = TD_PUBSUB_ROW_MARGIN_X;
  y += first_line + TD_PUBSUB_ROW_LINE_SPACING;
  td_row_layout_place (widget, width, self->channel, x, y, layout.meta_width, layout.channel_height);
  y += layout.channel_height + TD_PUBSUB_ROW_LINE_SPACING;
  td_row_layout_place (widget, width, self->pattern, x, y, layout.meta_width, layout.pattern_height);
  td_row_layout_place (widget, width, self->payload, layout.payload_x, TD_PUBSUB_ROW_MARGIN_Y,
                       layout.payload_width, layout.payload_height);
}

static void
td_pubsub_row_dispose (GObject *object)
{
  TdPubsubRow *self = TD_PUBSUB_ROW (object);

  g_clear_pointer (&self->mark, gtk_widget_unparent);
  g_clear_pointer (&self->time, gtk_widget_unparent);
  g_clear_pointer (&self->channel, gtk_widget_unparent);
  g_clear_pointer (&self->pattern, gtk_widget_unparent);
  g_clear_pointer (&self->payload, gtk_widget_unparent);
  G_OBJECT_CLASS (td_pubsub_row_parent_class)->dispose (object);
}

static void
td_pubsub_row_class_init (TdPubsubRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = td_pubsub_row_dispose;
  widget_class->get_request_mode = td_pubsub_row_get_request_mode;
  widget_class->measure = td_pubsub_row_measure;
  widget_class->size_allocate = td_pubsub_row_size_allocate;
  gtk_widget_class_set_css_name (widget_class, "box");
}

static void
td_pubsub_row_init (TdPubsubRow *self)
{
}

static GtkWidget *
caption_text (guint chars)
{
  GtkWidget *text = td_row_text_new ();

  td_row_text_set_fixed (TD_ROW_TEXT (text), chars, 1, PANGO_ELLIPSIZE_END, 0);
  gtk_widget_add_css_class (text, "caption");
  gtk_widget_add_css_class (text, "dim-label");
  return text;
}

/* Returns: (transfer floating): a row whose time column is @time_chars
 * characters wide, its channel and pattern @channel_chars */
GtkWidget *
td_pubsub_row_new (guint time_chars,
                   guint channel_chars)
{
  TdPubsubRow *self = g_object_new (TD_TYPE_PUBSUB_ROW, NULL);
  GtkWidget *widget = GTK_WIDGET (self);

  self->time = caption_text (time_chars);
  gtk_widget_set_parent (self->time, widget);
  self->channel = td_row_text_new ();
  td_row_text_set_fixed (TD_ROW_TEXT (self->channel), channel_chars, 1, PANGO_ELLIPSIZE_MIDDLE, 0);
  gtk_widget_add_css_class (self->channel, "heading");
  gtk_widget_set_parent (self->channel, widget);
  self->pattern = caption_text (channel_chars);
  gtk_widget_set_visible (self->pattern, FALSE);
  gtk_widget_set_parent (self->pattern, widget);
  /* As tall as the time and channel beside it. */
  self->payload = td_row_text_new ();
  td_row_text_set_fixed (TD_ROW_TEXT (self->payload), 0, 2, PANGO_ELLIPSIZE_END, 0);
  gtk_widget_set_parent (self->payload, widget);
  return widget;
}

/* Returns: (transfer none): the TdRowText for @which */
GtkWidget *
td_pubsub_row_get_text (TdPubsubRow     *self,
                        TdPubsubRowText  which)
{
  g_return_val_if_fail (TD_IS_PUBSUB_ROW (self), NULL);

  switch (which)
    {
    case TD_PUBSUB_ROW_TIME:    return self->time;
    case TD_PUBSUB_ROW_CHANNEL: return self->channel;
    case TD_PUBSUB_ROW_PATTERN: return self->pattern;
    case TD_PUBSUB_ROW_PAYLOAD: return self->payload;
    default:                    g_return_val_if_reached (NULL);
    }
}

/* Shows the mark of a message from the capture log, made the first time
 * one shows: most rows never do. */
void
td_pubsub_row_set_logged (TdPubsubRow *self,
                          gboolean     logged)
{
  g_return_if_fail (TD_IS_PUBSUB_ROW (self));

  if (self->mark == NULL && logged)
    {
      self->mark = gtk_image_new_from_icon_name ("document-open-recent-symbolic");
      gtk_image_set_pixel_size (GTK_IMAGE (self->mark), TD_PUBSUB_ROW_MARK_SIZE);
      gtk_widget_add_css_class (self->mark, "dim-label");
      td_lazy_tooltip_set (self->mark, _("From the capture log"));
      gtk_accessible_update_property (GTK_ACCESSIBLE (self->mark), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                      _("From the capture log"), -1);
      gtk_widget_insert_after (self->mark, GTK_WIDGET (self), NULL);
    }
  if (self->mark != NULL)
    gtk_widget_set_visible (self->mark, logged);
  gtk_widget_set_opacity (GTK_WIDGET (self), logged ? 0.7 : 1.0);
}

/* Makes the row show a note (one dim line where the payload goes, no time
 * or channel) or, again, a message. The texts are the caller's to set. */
void
td_pubsub_row_set_note (TdPubsubRow *self,
                        gboolean     note)
{
  g_return_if_fail (TD_IS_PUBSUB_ROW (self));

  note = !!note;
  if (self->note == note)
    return;
  self->note = note;
  gtk_widget_set_visible (self->time, !note);
  gtk_widget_set_visible (self->channel, !note);
  if (note)
    gtk_widget_set_visible (self->pattern, FALSE);
  td_row_text_set_fixed (TD_ROW_TEXT (self->payload), 0, note ? 1 : 2, PANGO_ELLIPSIZE_END, 0);
  if (note)
    gtk_widget_add_css_class (self->payload, "dim-label");
  else
    gtk_widget_remove_css_class (self->payload, "dim-label");
}
