/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-warm-up"

#include "config.h"

#include <pango/pangocairo.h>

#include "app/td-font-sizes.h"
#include "app/td-row-text.h"
#include "app/td-warm-up.h"

typedef struct
{
  GWeakRef widget;
  guint    passes;
} Page;

static const guint round_ms[] = TD_WARM_UP_ROUND_MS;

struct _TdWarmUp
{
  GWeakRef   reference;
  GPtrArray *pages;        /* Page * */
  guint      next;         /* the page the round is at */
  guint      round;        /* rounds ended */
  guint      source;       /* the idle of a round, or the timeout before it */
  guint      n_passes;
  GHashTable *fonts;       /* the keys (font_key()) of the fonts drawn */
};

static void
page_free (gpointer data)
{
  Page *page = data;

  g_weak_ref_clear (&page->widget);
  g_free (page);
}

/* Pages are laid out at the size @reference has then. */
TdWarmUp *
td_warm_up_new (GtkWidget *reference)
{
  TdWarmUp *self;

  g_return_val_if_fail (GTK_IS_WIDGET (reference), NULL);

  self = g_new0 (TdWarmUp, 1);
  g_weak_ref_init (&self->reference, reference);
  self->pages = g_ptr_array_new_with_free_func (page_free);
  self->fonts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  return self;
}

void
td_warm_up_free (TdWarmUp *self)
{
  if (self == NULL)
    return;
  g_clear_handle_id (&self->source, g_source_remove);
  g_ptr_array_unref (self->pages);
  g_hash_table_unref (self->fonts);
  g_weak_ref_clear (&self->reference);
  g_free (self);
}

void
td_warm_up_add (TdWarmUp  *self,
                GtkWidget *page)
{
  Page *entry;

  g_return_if_fail (self != NULL);
  g_return_if_fail (GTK_IS_WIDGET (page));

  entry = g_new0 (Page, 1);
  g_weak_ref_init (&entry->widget, page);
  g_ptr_array_add (self->pages, entry);
}

/* Whether @page is one to warm up: in a window, hidden (not mapped) but
 * not invisible. */
static gboolean
is_hidden_page (GtkWidget *page)
{
  return gtk_widget_get_root (page) != NULL && gtk_widget_get_visible (page) && !gtk_widget_get_mapped (page);
}

/* Lays @page out at @reference's size, if @reference has one. */
static gboolean
lay_out (GtkWidget *page,
         GtkWidget *reference)
{
  int width = gtk_widget_get_width (reference);
  int height = gtk_widget_get_height (reference);
  int min_width = 0, min_height = 0;

  if (width <= 0 || height <= 0)
    return FALSE;
  gtk_widget_measure (page, GTK_ORIENTATION_HORIZONTAL, -1, &min_width, NULL, NULL, NULL);
  width = MAX (width, min_width);
  gtk_widget_measure (page, GTK_ORIENTATION_VERTICAL, width, &min_height, NULL, NULL, NULL);
  gtk_widget_allocate (page, width, MAX (height, min_height), -1, NULL);
  return TRUE;
}

/* What tells the glyphs of @text's font apart: its description, its
 * options (hinting, antialiasing) and the scale it is drawn at. */
static char *
font_key (GtkWidget *text)
{
  PangoContext *context = gtk_widget_get_pango_context (text);
  const cairo_font_options_t *options = pango_cairo_context_get_font_options (context);
  g_autofree char *description = pango_font_description_to_string (pango_context_get_font_description (context));

  return g_strdup_printf ("%s|%lx|%d", description, options ? cairo_font_options_hash (options) : 0,
                          gtk_widget_get_scale_factor (text));
}

/* Draws the printable ASCII characters in @text's font into an image of
 * their own: the glyphs are loaded, hinted and drawn into the font's
 * cache then, not by the first frame that shows text in that font. */
static void
draw_font (GtkWidget *text)
{
  g_autoptr(PangoLayout) layout = gtk_widget_create_pango_layout (text, TD_FONT_SIZES_PRINTABLE_ASCII);
  int scale = gtk_widget_get_scale_factor (text);
  int width = 0, height = 0;
  cairo_surface_t *surface;
  cairo_t *cr;

  pango_layout_get_pixel_size (layout, &width, &height);
  surface = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, MAX (width, 1) * scale, MAX (height, 1) * scale);
  cr = cairo_create (surface);
  cairo_scale (cr, scale, scale);
  pango_cairo_show_layout (cr, layout);
  cairo_destroy (cr);
  cairo_surface_destroy (surface);
}

/* Draws the font of the first text under @widget whose font was not
 * drawn yet; returns FALSE if there is none. Only what the page shows
 * counts (hidden widgets, and pages of a stack inside it that are not
 * the visible one, are left out). */
static gboolean
draw_new_font (TdWarmUp  *self,
               GtkWidget *widget)
{
  if (GTK_IS_LABEL (widget) || GTK_IS_INSCRIPTION (widget) || TD_IS_ROW_TEXT (widget))
    {
      char *key = font_key (widget);

      if (g_hash_table_add (self->fonts, key))
        {
          draw_font (widget);
          return TRUE;
        }
      return FALSE;
    }
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    if (gtk_widget_get_visible (child) && gtk_widget_get_child_visible (child) && draw_new_font (self, child))
      return TRUE;
  return FALSE;
}

/* One step of the round: a pass over the page it is at, or, once that
 * page had its passes, the drawing of one of its fonts not drawn yet.
 * Pages that cannot be warmed up (gone, shown, not in a window) are
 * dropped on the way. Returns whether steps are left in the round; if
 * not, the next call begins another round. */
gboolean
td_warm_up_step (TdWarmUp *self)
{
  g_autoptr(GtkWidget) reference = NULL;

  g_return_val_if_fail (self != NULL, FALSE);

  reference = g_weak_ref_get (&self->reference);
  while (self->next < self->pages->len)
    {
      Page *page = g_ptr_array_index (self->pages, self->next);
      g_autoptr(GtkWidget) widget = g_weak_ref_get (&page->widget);

      if (widget == NULL || reference == NULL || !is_hidden_page (widget) ||
          (page->passes < TD_WARM_UP_PASSES && !lay_out (widget, reference)))
        {
          g_ptr_array_remove_index (self->pages, self->next);
          continue;
        }
      if (page->passes < TD_WARM_UP_PASSES)
        {
          page->passes++;
          self->n_passes++;
          break;
        }
      if (draw_new_font (self, widget))
        break;
      page->passes = 0;
      self->next++;
    }
  if (self->next < self->pages->len)
    return TRUE;
  self->next = 0;
  return FALSE;
}

static gboolean round_cb (gpointer data);

static gboolean
step_cb (gpointer data)
{
  TdWarmUp *self = data;

  if (td_warm_up_step (self))
    return G_SOURCE_CONTINUE;
  self->source = 0;
  if (self->round < G_N_ELEMENTS (round_ms) && self->pages->len > 0)
    {
      self->source = g_timeout_add (round_ms[self->round], round_cb, self);
      g_source_set_static_name (g_main_context_find_source_by_id (NULL, self->source), "[tidings] warm-up round");
    }
  self->round++;
  return G_SOURCE_REMOVE;
}

/* Each pass in an idle of low priority, after everything else the main
 * loop has to do. */
static void
start_round (TdWarmUp *self)
{
  self->source = g_idle_add_full (G_PRIORITY_LOW, step_cb, self, NULL);
  g_source_set_static_name (g_main_context_find_source_by_id (NULL, self->source), "[tidings] warm-up");
}

static gboolean
round_cb (gpointer data)
{
  TdWarmUp *self = data;

  start_round (self);
  return G_SOURCE_REMOVE;
}

/* Begins the first round; the later ones follow (TD_WARM_UP_ROUND_MS). */
void
td_warm_up_start (TdWarmUp *self)
{
  g_return_if_fail (self != NULL);

  if (self->source == 0 && self->round == 0 && self->pages->len > 0)
    start_round (self);
}

/* How many times a page was laid out. */
guint
td_warm_up_get_n_passes (TdWarmUp *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->n_passes;
}

/* How many fonts were drawn. */
guint
td_warm_up_get_n_fonts (TdWarmUp *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return g_hash_table_size (self->fonts);
}

/* Whether the rounds are over (or no page is left) and nothing waits. */
gboolean
td_warm_up_is_done (TdWarmUp *self)
{
  g_return_val_if_fail (self != NULL, TRUE);

  return self->source == 0 && (self->pages->len == 0 || self->round > G_N_ELEMENTS (round_ms));
}
