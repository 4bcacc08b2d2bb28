/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-sidebar-row"

#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "app/td-row-text.h"
#include "app/td-sidebar-row.h"

/* Between the icon, the title, the badge and the count, in pixels. */
#define TD_SIDEBAR_ROW_SPACING 8

struct _TdSidebarRow
{
  GtkWidget  parent_instance;

  /* Children, owned through the widget tree */
  GtkWidget *icon;
  GtkWidget *title;
  GtkWidget *badge;
  GtkWidget *count;
  gsize      count_chars;   /* the width the count was given */

  /* Owned */
  TdFeedRow *row;
  gulong     notify_id;
};

G_DEFINE_FINAL_TYPE (TdSidebarRow, td_sidebar_row, GTK_TYPE_WIDGET)

/* Parts of the row, each shown from properties of its own. */
typedef enum
{
  PART_ICON   = 1 << 0,
  PART_TITLE  = 1 << 1,
  PART_BADGE  = 1 << 2,
  PART_COUNT  = 1 << 3,
  PART_INDENT = 1 << 4,
  PART_ALL    = PART_ICON | PART_TITLE | PART_BADGE | PART_COUNT | PART_INDENT,
} Part;

/* The parts that show row property @name (0: none; the row notifies
 * properties that only other widgets use). */
static Part
parts_of (const char *name)
{
  if (g_str_equal (name, "gicon"))
    return PART_ICON;
  if (g_str_equal (name, "title"))
    return PART_TITLE;
  if (g_str_equal (name, "has-error"))
    return PART_BADGE;
  if (g_str_equal (name, "unread-text"))
    return PART_COUNT;
  if (g_str_equal (name, "indent"))
    return PART_INDENT;
  return 0;
}

/* Shows @parts of the row as it is now (nothing bound: empty). */
static void
update (TdSidebarRow *self,
        Part          parts)
{
  TdFeedRow *row = self->row;

  if (parts & PART_ICON)
    {
      g_autoptr(GIcon) icon = row ? td_feed_row_get_gicon (row) : NULL;

      gtk_image_set_from_gicon (GTK_IMAGE (self->icon), icon);
    }
  if (parts & PART_TITLE)
    td_row_text_set (TD_ROW_TEXT (self->title), row ? td_feed_row_get_title (row) : NULL, NULL, NULL);
  if (parts & PART_BADGE)
    gtk_widget_set_visible (self->badge, row != NULL && td_feed_row_get_error (row) != NULL);
  if (parts & PART_COUNT)
    {
      guint unread = row ? td_feed_row_get_unread (row) : 0;
      char text[16] = "";

      if (unread > 0)
        g_snprintf (text, sizeof text, "%u", unread);
      /* As wide as its digits, which are all of one width; hidden at 0. */
      if (unread > 0 && strlen (text) != self->count_chars)
        {
          self->count_chars = strlen (text);
          td_row_text_set_fixed (TD_ROW_TEXT (self->count), self->count_chars, 1, PANGO_ELLIPSIZE_NONE, 1);
        }
      gtk_widget_set_visible (self->count, unread > 0);
      td_row_text_set (TD_ROW_TEXT (self->count), text, NULL, td_row_text_tabular_digits ());
    }
  if (parts & PART_INDENT)
    {
      int indent = 0;

      if (row != NULL)
        g_object_get (row, "indent", &indent, NULL);
      gtk_widget_set_margin_start (GTK_WIDGET (self), indent);
    }
}

static void
row_notify_cb (TdFeedRow    *row,
               GParamSpec   *pspec,
               TdSidebarRow *self)
{
  Part parts = parts_of (g_param_spec_get_name (pspec));

  if (parts != 0)
    update (self, parts);
}

static void
td_sidebar_row_dispose (GObject *object)
{
  TdSidebarRow *self = TD_SIDEBAR_ROW (object);

  td_sidebar_row_unbind (self);
  g_clear_pointer (&self->icon, gtk_widget_unparent);
  g_clear_pointer (&self->title, gtk_widget_unparent);
  g_clear_pointer (&self->badge, gtk_widget_unparent);
  g_clear_pointer (&self->count, gtk_widget_unparent);
  G_OBJECT_CLASS (td_sidebar_row_parent_class)->dispose (object);
}

static void
td_sidebar_row_class_init (TdSidebarRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = td_sidebar_row_dispose;
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BOX_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "box");
}

static void
td_sidebar_row_init (TdSidebarRow *self)
{
  GtkWidget *widget = GTK_WIDGET (self);

  gtk_box_layout_set_spacing (GTK_BOX_LAYOUT (gtk_widget_get_layout_manager (widget)), TD_SIDEBAR_ROW_SPACING);
  gtk_widget_set_margin_top (widget, 2);
  gtk_widget_set_margin_bottom (widget, 2);

  self->icon = gtk_image_new ();
  gtk_image_set_pixel_size (GTK_IMAGE (self->icon), 16);
  gtk_widget_set_parent (self->icon, widget);

  self->title = td_row_text_new ();
  td_row_text_set_fixed (TD_ROW_TEXT (self->title), 0, 1, PANGO_ELLIPSIZE_END, 0);
  gtk_widget_set_hexpand (self->title, TRUE);
  gtk_widget_set_valign (self->title, GTK_ALIGN_CENTER);
  gtk_widget_set_parent (self->title, widget);

  self->badge = gtk_image_new_from_icon_name ("dialog-warning-symbolic");
  gtk_widget_add_css_class (self->badge, "warning");
  gtk_widget_add_css_class (self->badge, "td-error-badge");
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->badge), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Refresh failed"), -1);
  gtk_widget_set_visible (self->badge, FALSE);
  gtk_widget_set_parent (self->badge, widget);

  /* A text of the row's own rather than a GtkLabel, whose every instance
   * gets a controller for the label's shortcuts (rows are built by the
   * hundred when a list first shows). */
  self->count = td_row_text_new ();
  gtk_widget_set_valign (self->count, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (self->count, "dim-label");
  gtk_widget_add_css_class (self->count, "caption");
  gtk_widget_set_visible (self->count, FALSE);
  gtk_widget_set_parent (self->count, widget);
}

GtkWidget *
td_sidebar_row_new (void)
{
  return g_object_new (TD_TYPE_SIDEBAR_ROW, NULL);
}

/* Shows @row, and follows its changes until unbound. */
void
td_sidebar_row_bind (TdSidebarRow *self,
                     TdFeedRow    *row)
{
  g_return_if_fail (TD_IS_SIDEBAR_ROW (self));
  g_return_if_fail (TD_IS_FEED_ROW (row));

  td_sidebar_row_unbind (self);
  self->row = g_object_ref (row);
  self->notify_id = g_signal_connect (row, "notify", G_CALLBACK (row_notify_cb), self);
  update (self, PART_ALL);
}

void
td_sidebar_row_unbind (TdSidebarRow *self)
{
  g_return_if_fail (TD_IS_SIDEBAR_ROW (self));

  if (self->row != NULL)
    g_clear_signal_handler (&self->notify_id, self->row);
  g_clear_object (&self->row);
}

/* Returns: (transfer none) (nullable): the row shown */
TdFeedRow *
td_sidebar_row_get_row (TdSidebarRow *self)
{
  g_return_val_if_fail (TD_IS_SIDEBAR_ROW (self), NULL);

  return self->row;
}

/* Returns: (transfer none): the badge shown while the feed fails */
GtkWidget *
td_sidebar_row_get_error_badge (TdSidebarRow *self)
{
  g_return_val_if_fail (TD_IS_SIDEBAR_ROW (self), NULL);

  return self->badge;
}
