/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-chat-row"

#include "config.h"

#include "app/td-chat-row.h"
#include "app/td-row-layout.h"

/* Between the columns, in pixels. */
#define TD_CHAT_ROW_SPACING 8

struct _TdChatRow
{
  GtkWidget  parent_instance;

  /* Children, owned through the widget tree */
  GtkWidget *time;
  GtkWidget *nick;
  GtkWidget *text;
  GtkWidget *preview;   /* NULL until the row shows a line with one */
};

G_DEFINE_FINAL_TYPE (TdChatRow, td_chat_row, GTK_TYPE_WIDGET)

/* Where the children go for a row @width wide (-1: unconstrained). */
typedef struct
{
  int time_width;
  int nick_width;
  int text_width;       /* also the preview's; -1 when unconstrained */
  int baseline;         /* of the first line, from the row's top */
  int time_y, nick_y, text_y;
  int time_height, nick_height, text_height;
  int first_height;     /* of the columns' line */
  int preview_height;   /* 0 without a preview shown */
} RowLayout;

/* The height of @child @width wide, and its baseline (its top if none). */
static int
height_of (GtkWidget *child,
           int        width,
           int       *baseline)
{
  int height = 0, base = -1;

  gtk_widget_measure (child, GTK_ORIENTATION_VERTICAL, width, &height, NULL, &base, NULL);
  *baseline = base >= 0 ? base : 0;
  return height;
}

static void
compute_layout (TdChatRow *self,
                int        width,
                RowLayout *layout)
{
  int time_base, nick_base, text_base;

  layout->time_width = td_row_layout_size (self->time, GTK_ORIENTATION_HORIZONTAL, -1);
  layout->nick_width = td_row_layout_size (self->nick, GTK_ORIENTATION_HORIZONTAL, -1);
  layout->text_width = width < 0 ? -1 : MAX (0, width - layout->time_width - layout->nick_width - 2 * TD_CHAT_ROW_SPACING);

  layout->time_height = height_of (self->time, layout->time_width, &time_base);
  layout->nick_height = height_of (self->nick, layout->nick_width, &nick_base);
  layout->text_height = height_of (self->text, layout->text_width, &text_base);
  layout->baseline = MAX (time_base, MAX (nick_base, text_base));
  layout->time_y = layout->baseline - time_base;
  layout->nick_y = layout->baseline - nick_base;
  layout->text_y = layout->baseline - text_base;
  layout->first_height = MAX (layout->time_y + layout->time_height,
                              MAX (layout->nick_y + layout->nick_height, layout->text_y + layout->text_height));

  layout->preview_height = td_row_layout_size (self->preview, GTK_ORIENTATION_VERTICAL, layout->text_width);
}

static GtkSizeRequestMode
td_chat_row_get_request_mode (GtkWidget *widget)
{
  return GTK_SIZE_REQUEST_HEIGHT_FOR_WIDTH;
}

static void
td_chat_row_measure (GtkWidget      *widget,
                     GtkOrientation  orientation,
                     int             for_size,
                     int            *minimum,
                     int            *natural,
                     int            *minimum_baseline,
                     int            *natural_baseline)
{
  TdChatRow *self = TD_CHAT_ROW (widget);

  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    {
      int fixed = td_row_layout_size (self->time, orientation, -1) + td_row_layout_size (self->nick, orientation, -1)
                  + 2 * TD_CHAT_ROW_SPACING;
      int text_min, text_nat;

      gtk_widget_measure (self->text, GTK_ORIENTATION_HORIZONTAL, -1, &text_min, &text_nat, NULL, NULL);
      if (self->preview != NULL && gtk_widget_should_layout (self->preview))
        {
          int preview_min, preview_nat;

          gtk_widget_measure (self->preview, GTK_ORIENTATION_HORIZONTAL, -1, &preview_min, &preview_nat, NULL, NULL);
          text_min = MAX (text_min, preview_min);
          text_nat = MAX (text_nat, preview_nat);
        }
      *minimum = fixed + text_min;
      *natural = fixed + text_nat;
    }
  else
    {
      RowLayout layout;

      compute_layout (self, for_size, &layout);
      *minimum = *natural = layout.first_height + layout.preview_height;
      *minimum_baseline = *natural_baseline = layout.baseline;
    }
}

static void
td_chat_row_size_allocate (GtkWidget *widget,
                           int        width,
                           int        height,
                           int        baseline)
{
  TdChatRow *self = TD_CHAT_ROW (widget);
  int text_x;
  RowLayout layout;

  compute_layout (self, width, &layout);
  text_x = layout.time_width + layout.nick_width + 2 * TD_CHAT_ROW_SPACING;
  td_row_layout_place (widget, width, self->time, 0, layout.time_y, layout.time_width, layout.time_height);
  td_row_layout_place (widget, width, self->nick, layout.time_width + TD_CHAT_ROW_SPACING, layout.nick_y,
                       layout.nick_width, layout.nick_height);
  td_row_layout_place (widget, width, self->text, text_x, layout.text_y, layout.text_width, layout.text_height);
  td_row_layout_place (widget, width, self->preview, text_x, layout.first_height,
                       layout.text_width, layout.preview_height);
}

static void
td_chat_row_dispose (GObject *object)
{
  TdChatRow *self = TD_CHAT_ROW (object);

  g_clear_pointer (&self->time, gtk_widget_unparent);
  g_clear_pointer (&self->nick, gtk_widget_unparent);
  g_clear_pointer (&self->text, gtk_widget_unparent);
  g_clear_pointer (&self->preview, gtk_widget_unparent);
  G_OBJECT_CLASS (td_chat_row_parent_class)->dispose (object);
}

static void
td_chat_row_class_init (TdChatRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = td_chat_row_dispose;
  widget_class->get_request_mode = td_chat_row_get_request_mode;
  widget_class->measure = td_chat_row_measure;
  widget_class->size_allocate = td_chat_row_size_allocate;
  gtk_widget_class_set_css_name (widget_class, "box");
}

static void
td_chat_row_init (TdChatRow *self)
{
}

/* Returns: (transfer floating): a row of the three columns, which it takes */
GtkWidget *
td_chat_row_new (GtkWidget *time,
                 GtkWidget *nick,
                 GtkWidget *text)
{
  TdChatRow *self;

  g_return_val_if_fail (GTK_IS_WIDGET (time) && GTK_IS_WIDGET (nick) && GTK_IS_WIDGET (text), NULL);

  self = g_object_new (TD_TYPE_CHAT_ROW, NULL);
  self->time = time;
  self->nick = nick;
  self->text = text;
  gtk_widget_set_parent (time, GTK_WIDGET (self));
  gtk_widget_set_parent (nick, GTK_WIDGET (self));
  gtk_widget_set_parent (text, GTK_WIDGET (self));
  return GTK_WIDGET (self);
}

/* Puts @preview under the text; a row has one at most. */
void
td_chat_row_set_preview (TdChatRow *self,
                         GtkWidget *preview)
{
  g_return_if_fail (TD_IS_CHAT_ROW (self));
  g_return_if_fail (GTK_IS_WIDGET (preview));
  g_return_if_fail (self->preview == NULL);

  self->preview = preview;
  gtk_widget_set_parent (preview, GTK_WIDGET (self));
}

/* Gives the row the style classes @classes (NULL-terminated), unless it
 * has exactly those: setting them restyles the row and its texts even
 * when nothing changed, and a list binds about 200 rows at each jump.
 * GTK keeps a node's classes in an order of its own, so they are
 * compared as a set.
 *
 * Returns: whether the classes changed */
gboolean
td_chat_row_set_classes (TdChatRow          *self,
                         const char * const *classes)
{
  g_auto(GStrv) current = NULL;
  gboolean same;

  g_return_val_if_fail (TD_IS_CHAT_ROW (self), FALSE);
  g_return_val_if_fail (classes != NULL, FALSE);

  current = gtk_widget_get_css_classes (GTK_WIDGET (self));
  same = g_strv_length (current) == g_strv_length ((char **) classes);
  for (guint i = 0; same && classes[i] != NULL; i++)
    same = g_strv_contains ((const char * const *) current, classes[i]);
  if (same)
    return FALSE;
  gtk_widget_set_css_classes (GTK_WIDGET (self), (const char **) classes);
  return TRUE;
}
