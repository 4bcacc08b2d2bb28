/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-item-row"

#include "config.h"

#include <glib/gi18n.h>

#include "app/td-item-row.h"
#include "app/td-row-layout.h"
#include "app/td-row-text.h"

/* The date column, in characters: "28 Nov 2025", and more in other
 * languages' formats. */
#define TD_ITEM_ROW_DATE_CHARS 12

/* The layout, in pixels: around the row, the column of the unread dot
 * (at least), between the columns, between the title and the line under
 * it, and between the feed and the date. */
#define TD_ITEM_ROW_MARGIN_Y      6
#define TD_ITEM_ROW_MARGIN_X      4
#define TD_ITEM_ROW_DOT_WIDTH     10
#define TD_ITEM_ROW_SPACING       8
#define TD_ITEM_ROW_LINE_SPACING  2
#define TD_ITEM_ROW_META_SPACING  6

struct _TdItemRow
{
  GtkWidget     parent_instance;

  /* Children, owned through the widget tree, laid out by the row itself
   * (boxes in boxes made a row of ten widgets) */
  GtkWidget    *dot;
  GtkWidget    *title;
  GtkWidget    *feed;
  GtkWidget    *date;
  GtkWidget    *star;

  /* Owned */
  TdItemObject *item;
  gulong        notify_id;
};

G_DEFINE_FINAL_TYPE (TdItemRow, td_item_row, GTK_TYPE_WIDGET)

/* Bold, for the titles of unread items; one list for every row. */
static PangoAttrList *
bold_attrs (void)
{
  static PangoAttrList *attrs;

  if (attrs == NULL)
    {
      attrs = pango_attr_list_new ();
      pango_attr_list_insert (attrs, pango_attr_weight_new (PANGO_WEIGHT_BOLD));
    }
  return attrs;
}

/* Parts of the row, each shown from the item's properties of its own. */
typedef enum
{
  PART_TITLE = 1 << 0,   /* title, its weight and the unread dot */
  PART_FEED  = 1 << 1,
  PART_DATE  = 1 << 2,
  PART_STAR  = 1 << 3,
  PART_ALL   = PART_TITLE | PART_FEED | PART_DATE | PART_STAR,
} Part;

/* The parts that show item property @name. */
static Part
parts_of (const char *name)
{
  if (g_str_equal (name, "feed-title"))
    return PART_FEED;
  if (g_str_equal (name, "date-text"))
    return PART_DATE;
  if (g_str_equal (name, "starred"))
    return PART_STAR;
  if (g_str_equal (name, "loaded"))
    return PART_ALL;
  return PART_TITLE;   /* title, title-markup, read, unread */
}

/* Shows @parts of the item as it is now (nothing: empty). */
static void
update (TdItemRow *self,
        Part       parts)
{
  TdItemObject *item = self->item;

  if (parts & PART_TITLE)
    {
      g_autofree char *title = NULL;
      gboolean unread = FALSE;

      if (item != NULL)
        g_object_get (item, "title", &title, "unread", &unread, NULL);
      td_row_text_set (TD_ROW_TEXT (self->title), title, NULL, unread ? bold_attrs () : NULL);
      gtk_widget_set_visible (self->dot, unread);
    }
  if (parts & PART_FEED)
    {
      g_autofree char *feed = NULL;

      if (item != NULL)
        g_object_get (item, "feed-title", &feed, NULL);
      td_row_text_set (TD_ROW_TEXT (self->feed), feed, NULL, NULL);
    }
  if (parts & PART_DATE)
    {
      g_autofree char *date = NULL;

      if (item != NULL)
        g_object_get (item, "date-text", &date, NULL);
      td_row_text_set (TD_ROW_TEXT (self->date), date, NULL, td_row_text_tabular_digits ());
    }
  if (parts & PART_STAR)
    gtk_widget_set_visible (self->star, item != NULL && td_item_object_get_starred (item));
}

/* An item notifies each property that changed (a page that loads a
 * placeholder, all of them): only the part that shows it is updated. */
static void
item_notify_cb (TdItemObject *item,
                GParamSpec   *pspec,
                TdItemRow    *self)
{
  update (self, parts_of (g_param_spec_get_name (pspec)));
}

/* Where the children go in a row @width wide. */
typedef struct
{
  int dot_width;
  int texts_x, texts_width;
  int date_width, feed_width;
  int star_width, star_height;
  int dot_height;
  int title_height, meta_height;
} RowLayout;

/* The widths of the columns in a row @width wide. */
static void
compute_widths (TdItemRow *self,
                int        width,
                RowLayout *layout)
{
  GtkOrientation h = GTK_ORIENTATION_HORIZONTAL;

  layout->star_width = td_row_layout_size (self->star, h, -1);
  layout->dot_width = MAX (td_row_layout_size (self->dot, h, -1), TD_ITEM_ROW_DOT_WIDTH);
  layout->texts_x = TD_ITEM_ROW_MARGIN_X + layout->dot_width + TD_ITEM_ROW_SPACING;
  layout->texts_width = MAX (0, width - layout->texts_x - TD_ITEM_ROW_MARGIN_X
                                - (layout->star_width > 0 ? layout->star_width + TD_ITEM_ROW_SPACING : 0));
  layout->date_width = td_row_layout_size (self->date, h, -1);
  layout->feed_width = MAX (0, layout->texts_width - layout->date_width - TD_ITEM_ROW_META_SPACING);
}

static void
compute_layout (TdItemRow *self,
                int        width,
                RowLayout *layout)
{
  GtkOrientation v = GTK_ORIENTATION_VERTICAL;

  compute_widths (self, width, layout);
  layout->dot_height = td_row_layout_size (self->dot, v, layout->dot_width);
  layout->title_height = td_row_layout_size (self->title, v, layout->texts_width);
  layout->meta_height = MAX (td_row_layout_size (self->feed, v, layout->feed_width),
                             td_row_layout_size (self->date, v, layout->date_width));
  layout->star_height = td_row_layout_size (self->star, v, layout->star_width);
}

static GtkSizeRequestMode
td_item_row_get_request_mode (GtkWidget *widget)
{
  return GTK_SIZE_REQUEST_HEIGHT_FOR_WIDTH;
}

/* The texts are of a fixed size and the dot and star icons: the natural
 * size is the minimum. */
static void
td_item_row_measure (GtkWidget      *widget,
                     GtkOrientation  orientation,
                     int             for_size,
                     int            *minimum,
                     int            *natural,
                     int            *minimum_baseline,
                     int            *natural_baseline)
{
  TdItemRow *self = TD_ITEM_ROW (widget);
  RowLayout layout;

  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    {
      compute_widths (self, 0, &layout);
      *minimum = layout.texts_x + TD_ITEM_ROW_MARGIN_X
                 + (layout.star_width > 0 ? layout.star_width + TD_ITEM_ROW_SPACING : 0)
                 + MAX (td_row_layout_size (self->title, orientation, -1),
                        td_row_layout_size (self->feed, orientation, -1) + TD_ITEM_ROW_META_SPACING
                        + layout.date_width);
    }
  else
    {
      compute_layout (self, for_size < 0 ? G_MAXINT / 2 : for_size, &layout);
      *minimum = 2 * TD_ITEM_ROW_MARGIN_Y
                 + MAX (layout.title_height + TD_ITEM_ROW_LINE_SPACING + layout.meta_height,
                        MAX (layout.dot_height, layout.star_height));
    }
  *natural = *minimum;
}

static void
td_item_row_size_allocate (GtkWidget *widget,
                           int        width,
                           int        height,
                           int        baseline)
{
  TdItemRow *self = TD_ITEM_ROW (widget);
  int meta_y;
  RowLayout layout;

  compute_layout (self, width, &layout);
  meta_y = TD_ITEM_ROW_MARGIN_Y + layout.title_height + TD_ITEM_ROW_LINE_SPACING;
  td_row_layout_place (widget, width, self->dot, TD_ITEM_ROW_MARGIN_X, TD_ITEM_ROW_MARGIN_Y,
                       layout.dot_width, layout.dot_height);
  td_row_layout_place (widget, width, self->title, layout.texts_x, TD_ITEM_ROW_MARGIN_Y,
                       layout.texts_width, layout.title_height);
  td_row_layout_place (widget, width, self->feed, layout.texts_x, meta_y, layout.feed_width, layout.meta_height);
  td_row_layout_place (widget, width, self->date, layout.texts_x + layout.feed_width + TD_ITEM_ROW_META_SPACING,
                       meta_y, layout.date_width, layout.meta_height);
  td_row_layout_place (widget, width, self->star, width - TD_ITEM_ROW_MARGIN_X - layout.star_width,
                       (height - layout.star_height) / 2, layout.star_width, layout.star_height);
}

static void
td_item_row_dispose (GObject *object)
{
  TdItemRow *self = TD_ITEM_ROW (object);

  td_item_row_unbind (self);
  g_clear_pointer (&self->dot, gtk_widget_unparent);
  g_clear_pointer (&self->title, gtk_widget_unparent);
  g_clear_pointer (&self->feed, gtk_widget_unparent);
  g_clear_pointer (&self->date, gtk_widget_unparent);
  g_clear_pointer (&self->star, gtk_widget_unparent);
  G_OBJECT_CLASS (td_item_row_parent_class)->dispose (object);
}

static void
td_item_row_class_init (TdItemRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = td_item_row_dispose;
  widget_class->get_request_mode = td_item_row_get_request_mode;
  widget_class->measure = td_item_row_measure;
  widget_class->size_allocate = td_item_row_size_allocate;
}

static void
td_item_row_init (TdItemRow *self)
{
  GtkWidget *widget = GTK_WIDGET (self);

  /* The unread dot, in a column of its own so titles line up. A text of
   * the row's own rather than a GtkLabel, whose every instance gets a
   * controller for the label's shortcuts (rows are built by the hundred
   * when a list first shows). */
  self->dot = td_row_text_new ();
  td_row_text_set_fixed (TD_ROW_TEXT (self->dot), 2, 1, PANGO_ELLIPSIZE_NONE, 0.5);
  td_row_text_set (TD_ROW_TEXT (self->dot), "●", NULL, NULL);
  gtk_widget_add_css_class (self->dot, "accent");
  gtk_widget_add_css_class (self->dot, "caption");
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->dot), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Unread"), -1);
  gtk_widget_set_parent (self->dot, widget);

  self->title = td_row_text_new ();
  td_row_text_set_fixed (TD_ROW_TEXT (self->title), 0, 1, PANGO_ELLIPSIZE_END, 0);
  gtk_widget_set_parent (self->title, widget);
  self->feed = td_row_text_new ();
  td_row_text_set_fixed (TD_ROW_TEXT (self->feed), 0, 1, PANGO_ELLIPSIZE_END, 0);
  gtk_widget_add_css_class (self->feed, "dim-label");
  gtk_widget_add_css_class (self->feed, "caption");
  gtk_widget_set_parent (self->feed, widget);
  self->date = td_row_text_new ();
  td_row_text_set_fixed (TD_ROW_TEXT (self->date), TD_ITEM_ROW_DATE_CHARS, 1, PANGO_ELLIPSIZE_END, 1);
  gtk_widget_add_css_class (self->date, "dim-label");
  gtk_widget_add_css_class (self->date, "caption");
  gtk_widget_set_parent (self->date, widget);

  self->star = gtk_image_new_from_icon_name ("starred-symbolic");
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->star), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Starred"), -1);
  gtk_widget_set_parent (self->star, widget);

  update (self, PART_ALL);
}

GtkWidget *
td_item_row_new (void)
{
  return g_object_new (TD_TYPE_ITEM_ROW, NULL);
}

/* Shows @item, and follows its changes until unbound. */
void
td_item_row_bind (TdItemRow    *self,
                  TdItemObject *item)
{
  g_return_if_fail (TD_IS_ITEM_ROW (self));
  g_return_if_fail (TD_IS_ITEM_OBJECT (item));

  td_item_row_unbind (self);
  self->item = g_object_ref (item);
  self->notify_id = g_signal_connect (item, "notify", G_CALLBACK (item_notify_cb), self);
  update (self, PART_ALL);
}

void
td_item_row_unbind (TdItemRow *self)
{
  g_return_if_fail (TD_IS_ITEM_ROW (self));

  if (self->item != NULL)
    g_clear_signal_handler (&self->notify_id, self->item);
  g_clear_object (&self->item);
}

/* Returns: (transfer none) (nullable): the item shown */
TdItemObject *
td_item_row_get_item (TdItemRow *self)
{
  g_return_val_if_fail (TD_IS_ITEM_ROW (self), NULL);

  return self->item;
}
