/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-item-row"

#include "config.h"

#include <glib/gi18n.h>

#include "app/td-item-row.h"
#include "app/td-row-text.h"

/* The date column, in characters: "28 Nov 2025", and more in other
 * languages' formats. */
#define TD_ITEM_ROW_DATE_CHARS 12

struct _TdItemRow
{
  GtkWidget     parent_instance;

  /* Children, owned through the widget tree */
  GtkWidget    *box;
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

static void
td_item_row_dispose (GObject *object)
{
  TdItemRow *self = TD_ITEM_ROW (object);

  td_item_row_unbind (self);
  g_clear_pointer (&self->box, gtk_widget_unparent);
  G_OBJECT_CLASS (td_item_row_parent_class)->dispose (object);
}

static void
td_item_row_class_init (TdItemRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = td_item_row_dispose;
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
}

static void
td_item_row_init (TdItemRow *self)
{
  GtkWidget *dot_column = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 0);
  GtkWidget *texts = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
  GtkWidget *meta = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);

  self->box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 8);
  gtk_widget_set_margin_top (self->box, 6);
  gtk_widget_set_margin_bottom (self->box, 6);
  gtk_widget_set_margin_start (self->box, 4);
  gtk_widget_set_margin_end (self->box, 4);
  gtk_widget_set_parent (self->box, GTK_WIDGET (self));

  /* The unread dot, in a column of its own so titles line up. */
  self->dot = gtk_label_new ("●");
  gtk_widget_add_css_class (self->dot, "accent");
  gtk_widget_add_css_class (self->dot, "caption");
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->dot), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Unread"), -1);
  gtk_widget_set_size_request (dot_column, 10, -1);
  gtk_widget_set_valign (dot_column, GTK_ALIGN_START);
  gtk_box_append (GTK_BOX (dot_column), self->dot);
  gtk_box_append (GTK_BOX (self->box), dot_column);

  self->title = td_row_text_new ();
  td_row_text_set_fixed (TD_ROW_TEXT (self->title), 0, 1, PANGO_ELLIPSIZE_END, 0);
  gtk_widget_set_hexpand (self->title, TRUE);
  self->feed = td_row_text_new ();
  td_row_text_set_fixed (TD_ROW_TEXT (self->feed), 0, 1, PANGO_ELLIPSIZE_END, 0);
  gtk_widget_set_hexpand (self->feed, TRUE);
  gtk_widget_add_css_class (self->feed, "dim-label");
  gtk_widget_add_css_class (self->feed, "caption");
  self->date = td_row_text_new ();
  td_row_text_set_fixed (TD_ROW_TEXT (self->date), TD_ITEM_ROW_DATE_CHARS, 1, PANGO_ELLIPSIZE_END, 1);
  gtk_widget_add_css_class (self->date, "dim-label");
  gtk_widget_add_css_class (self->date, "caption");
  gtk_box_append (GTK_BOX (meta), self->feed);
  gtk_box_append (GTK_BOX (meta), self->date);
  gtk_widget_set_hexpand (texts, TRUE);
  gtk_box_append (GTK_BOX (texts), self->title);
  gtk_box_append (GTK_BOX (texts), meta);
  gtk_box_append (GTK_BOX (self->box), texts);

  self->star = gtk_image_new_from_icon_name ("starred-symbolic");
  gtk_widget_set_valign (self->star, GTK_ALIGN_CENTER);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->star), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Starred"), -1);
  gtk_box_append (GTK_BOX (self->box), self->star);

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
