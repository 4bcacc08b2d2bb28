/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-row-text"

#include "config.h"

#include <glib/gi18n.h>
#include <pango/pangocairo.h>
#include <string.h>

#include "app/td-chat-line.h"
#include "app/td-font-sizes.h"
#include "app/td-row-text.h"

/* The narrowest wrapping text is made, in characters: below that a line
 * would be a column of single characters, as tall as the list. */
#define TD_ROW_TEXT_MIN_CHARS 8

/* A line measured from its characters' advances and kerning pairs is
 * taken to be up to 1/this wider or narrower than Pango lays it out
 * (rounding; a ligature of three characters), and a quarter of a pixel. */
#define TD_ROW_TEXT_WIDTH_SPARE 1024

struct _TdRowText
{
  GtkWidget      parent_instance;

  /* Owned */
  char          *text;
  GArray        *links;          /* of TdChatLink, or NULL */
  int            ascii_length;   /* of text if it is all printable ASCII, else -1 */
  gint64         ascii_width;    /* its width in pango units, kerned, for ascii_serial;
                                  * -1 with a ligature, -2 not measured yet */
  guint          ascii_serial;
  int            estimate_width;   /* the last width measured by estimate_lines(), or -1 */
  int            estimate_height;  /* what it gave */
  gboolean       estimate_wrong;   /* a layout disagreed: measure this text by laying it out */
  PangoAttrList *attrs;          /* the caller's, or NULL */
  PangoLayout   *layout;         /* made when first measured */
  GtkWidget     *menu;           /* a link's context menu, made when first asked for */

  /* Fixed: width_chars characters wide (0: as wide as it is given),
   * lines tall (0: wrapped, as tall as its text), ellipsized. */
  guint          width_chars;
  guint          lines;
  PangoEllipsizeMode ellipsize;
  float          xalign;
  TdFontSizes   *font;           /* for the context of font_serial; a reference */
  guint          font_serial;

  /* The layout as it is: its text and attributes are the ones above
   * unless dirty, and it is wrapped at layout_width (pango units, -1 for
   * not at all) for the context of context_serial. */
  gboolean       dirty;
  int            layout_width;
  guint          context_serial;
  int            height;         /* pixels */
  int            baseline;       /* pixels */
  int            text_width;     /* pixels, of the text as laid out */
  GdkRGBA        link_color;     /* what the link attributes were made with */

  int            focus_link;     /* the link Enter opens, or -1 */
  int            pressed_link;   /* under the primary button, or -1 */
  int            hover_link;     /* under the pointer, or -1 */
  gboolean       has_controllers;  /* see add_link_controllers */
};

G_DEFINE_FINAL_TYPE (TdRowText, td_row_text, GTK_TYPE_WIDGET)

enum {
  ACTIVATE_LINK,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static guint
n_links (TdRowText *self)
{
  return self->links ? self->links->len : 0;
}

static const TdChatLink *
link_at (TdRowText *self,
         guint       index)
{
  g_assert (index < n_links (self));
  return &g_array_index (self->links, TdChatLink, index);
}

/* The colour links are shown in: the style's accent colour. */
static GdkRGBA
link_color (TdRowText *self)
{
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  GtkStyleContext *context = gtk_widget_get_style_context (GTK_WIDGET (self));
  GdkRGBA color;

  if (!gtk_style_context_lookup_color (context, "accent_color", &color))
    gdk_rgba_parse (&color, "#1c71d8");
  G_GNUC_END_IGNORE_DEPRECATIONS
  return color;
}

/* The caller's attributes with the links', for the layout. */
static PangoAttrList *
layout_attrs (TdRowText *self)
{
  PangoAttrList *attrs = self->attrs ? pango_attr_list_copy (self->attrs) : pango_attr_list_new ();

  self->link_color = link_color (self);
  for (guint i = 0; i < n_links (self); i++)
    {
      const TdChatLink *link = link_at (self, i);
      PangoAttribute *attr;

      attr = pango_attr_foreground_new (self->link_color.red * 65535,
                                        self->link_color.green * 65535,
                                        self->link_color.blue * 65535);
      attr->start_index = link->start;
      attr->end_index = link->end;
      pango_attr_list_change (attrs, attr);
      attr = pango_attr_underline_new (PANGO_UNDERLINE_SINGLE);
      attr->start_index = link->start;
      attr->end_index = link->end;
      pango_attr_list_change (attrs, attr);
    }
  return attrs;
}

/* The length of @text if it is all printable ASCII, else -1. */
static int
ascii_length (const char *text)
{
  int len = 0;

  for (const char *p = text ? text : ""; *p; p++, len++)
    if ((guchar) *p < 0x20 || (guchar) *p > 0x7e || len == G_MAXINT)
      return -1;
  return len;
}

/* The height of @lines lines of the font, in pixels, rounded as Pango
 * rounds a layout's. */
static int
lines_height (const TdFontSizes *font,
              guint            lines)
{
  return PANGO_PIXELS_CEIL ((gint64) font->line_height * lines);
}

static gboolean
is_fixed (TdRowText *self)
{
  return self->lines > 0;
}

/* The layout, with the text and attributes it should have. */
static PangoLayout *
ensure_layout (TdRowText *self)
{
  if (self->layout == NULL)
    {
      self->layout = gtk_widget_create_pango_layout (GTK_WIDGET (self), NULL);
      self->dirty = TRUE;
    }
  if (self->dirty)
    {
      g_autoptr(PangoAttrList) attrs = layout_attrs (self);

      pango_layout_set_wrap (self->layout, PANGO_WRAP_WORD_CHAR);
      pango_layout_set_ellipsize (self->layout, is_fixed (self) ? self->ellipsize : PANGO_ELLIPSIZE_NONE);
      /* At most that many lines (of each paragraph: the widget clips). */
      pango_layout_set_height (self->layout, is_fixed (self) ? - (int) self->lines : -1);
      pango_layout_set_text (self->layout, self->text ? self->text : "", -1);
      pango_layout_set_attributes (self->layout, attrs);
      self->dirty = FALSE;
      self->layout_width = G_MININT;   /* measured again */
    }
  return self->layout;
}

/* Lays the text out @width pixels wide (-1: unwrapped), unless it is
 * already, and keeps its height and baseline. */
static void
layout_at (TdRowText *self,
           int         width)
{
  PangoLayout *layout = ensure_layout (self);
  int pango_width = width < 0 ? -1 : width * PANGO_SCALE;
  guint serial = pango_context_get_serial (pango_layout_get_context (layout));

  if (pango_width == self->layout_width && serial == self->context_serial)
    return;
  pango_layout_set_width (layout, pango_width);
  pango_layout_get_pixel_size (layout, &self->text_width, &self->height);
  self->baseline = PANGO_PIXELS (pango_layout_get_baseline (layout));
  self->layout_width = pango_width;
  self->context_serial = serial;
}

/* The sizes of the widget's font, for the context of font_serial. */
static TdFontSizes *
font_sizes (TdRowText *self)
{
  PangoContext *context = gtk_widget_get_pango_context (GTK_WIDGET (self));
  guint serial = pango_context_get_serial (context);

  if (self->font == NULL || self->font_serial != serial)
    {
      g_clear_pointer (&self->font, td_font_sizes_unref);
      self->font = td_font_sizes_get (context);
      self->font_serial = serial;
    }
  return self->font;
}

/* Where the text starts, in widget coordinates: a single line is placed
 * by its alignment (mirrored right to left). */
static int
text_x (TdRowText *self)
{
  float xalign = self->xalign;
  int space = gtk_widget_get_width (GTK_WIDGET (self)) - self->text_width;

  if (!is_fixed (self) || space <= 0)
    return 0;
  if (gtk_widget_get_direction (GTK_WIDGET (self)) == GTK_TEXT_DIR_RTL)
    xalign = 1 - xalign;
  return (int) (space * xalign);
}

/* The link at @x, @y (widget coordinates), or -1. */
static int
link_at_point (TdRowText *self,
               double      x,
               double      y)
{
  PangoLayout *layout;
  int index, trailing;

  if (n_links (self) == 0)
    return -1;
  layout = ensure_layout (self);
  layout_at (self, gtk_widget_get_width (GTK_WIDGET (self)));
  x -= text_x (self);
  if (!pango_layout_xy_to_index (layout, x * PANGO_SCALE, y * PANGO_SCALE, &index, &trailing))
    return -1;
  for (guint i = 0; i < n_links (self); i++)
    {
      const TdChatLink *link = link_at (self, i);

      if ((guint) index >= link->start && (guint) index < link->end)
        return i;
    }
  return -1;
}

static void
set_hover_link (TdRowText *self,
                int         link)
{
  if (self->hover_link == link)
    return;
  self->hover_link = link;
  gtk_widget_set_cursor_from_name (GTK_WIDGET (self), link >= 0 ? "pointer" : NULL);
}

static void
motion_cb (GtkEventControllerMotion *motion,
           double                    x,
           double                    y,
           TdRowText               *self)
{
  set_hover_link (self, link_at_point (self, x, y));
}

static void
leave_cb (GtkEventControllerMotion *motion,
          TdRowText               *self)
{
  set_hover_link (self, -1);
}

/* The area of link @index, in widget coordinates. */
static cairo_region_t *
link_region (TdRowText *self,
             guint       index)
{
  const TdChatLink *link = link_at (self, index);
  int range[2] = { link->start, link->end };

  layout_at (self, gtk_widget_get_width (GTK_WIDGET (self)));
  return gdk_pango_layout_get_clip_region (ensure_layout (self), text_x (self), 0, range, 1);
}

static void
popup_menu (TdRowText *self,
            int         link,
            double      x,
            double      y)
{
  GdkRectangle rect = { (int) x, (int) y, 1, 1 };
  g_autoptr(GMenu) model = g_menu_new ();
  g_autoptr(GMenuItem) open = g_menu_item_new (_("_Open Link"), NULL);
  g_autoptr(GMenuItem) copy = g_menu_item_new (_("_Copy Link Address"), NULL);

  g_menu_item_set_action_and_target_value (open, "link.open", g_variant_new_uint32 (link));
  g_menu_item_set_action_and_target_value (copy, "link.copy", g_variant_new_uint32 (link));
  g_menu_append_item (model, open);
  g_menu_append_item (model, copy);
  if (self->menu == NULL)
    {
      self->menu = gtk_popover_menu_new_from_model (NULL);
      gtk_popover_set_has_arrow (GTK_POPOVER (self->menu), FALSE);
      gtk_widget_set_halign (self->menu, GTK_ALIGN_START);
      gtk_widget_set_parent (self->menu, GTK_WIDGET (self));
    }
  gtk_popover_menu_set_menu_model (GTK_POPOVER_MENU (self->menu), G_MENU_MODEL (model));
  if (x < 0)
    {
      /* From the keyboard: under the link. */
      cairo_region_t *region = link_region (self, link);

      cairo_region_get_extents (region, &rect);
      cairo_region_destroy (region);
      rect.y += rect.height;
      rect.height = 1;
    }
  gtk_popover_set_pointing_to (GTK_POPOVER (self->menu), &rect);
  gtk_popover_popup (GTK_POPOVER (self->menu));
}

static void
pressed_cb (GtkGestureClick *gesture,
            int              n_press,
            double           x,
            double           y,
            TdRowText      *self)
{
  guint button = gtk_gesture_single_get_current_button (GTK_GESTURE_SINGLE (gesture));
  GdkEvent *event = gtk_event_controller_get_current_event (GTK_EVENT_CONTROLLER (gesture));
  int link = link_at_point (self, x, y);

  self->pressed_link = -1;
  if (link < 0)
    {
      gtk_gesture_set_state (GTK_GESTURE (gesture), GTK_EVENT_SEQUENCE_DENIED);
      return;
    }
  gtk_gesture_set_state (GTK_GESTURE (gesture), GTK_EVENT_SEQUENCE_CLAIMED);
  if (event != NULL && gdk_event_triggers_context_menu (event))
    popup_menu (self, link, x, y);
  else if (button == GDK_BUTTON_PRIMARY)
    self->pressed_link = link;
}

static void
released_cb (GtkGestureClick *gesture,
             int              n_press,
             double           x,
             double           y,
             TdRowText      *self)
{
  int link = self->pressed_link;

  self->pressed_link = -1;
  if (link >= 0 && link == link_at_point (self, x, y))
    td_row_text_activate_link (self, link);
}

static void
long_pressed_cb (GtkGestureLongPress *gesture,
                 double               x,
                 double               y,
                 TdRowText          *self)
{
  int link = link_at_point (self, x, y);

  if (link < 0)
    return;
  self->pressed_link = -1;
  popup_menu (self, link, x, y);
}

static gboolean
key_pressed_cb (GtkEventControllerKey *controller,
                guint                  keyval,
                guint                  keycode,
                GdkModifierType        state,
                TdRowText            *self)
{
  if (self->focus_link < 0 || self->focus_link >= (int) n_links (self))
    return FALSE;
  switch (keyval)
    {
    case GDK_KEY_Return:
    case GDK_KEY_KP_Enter:
    case GDK_KEY_ISO_Enter:
    case GDK_KEY_space:
    case GDK_KEY_KP_Space:
      td_row_text_activate_link (self, self->focus_link);
      return TRUE;
    case GDK_KEY_Menu:
      popup_menu (self, self->focus_link, -1, -1);
      return TRUE;
    case GDK_KEY_F10:
      if ((state & GDK_SHIFT_MASK) == 0)
        return FALSE;
      popup_menu (self, self->focus_link, -1, -1);
      return TRUE;
    default:
      return FALSE;
    }
}

/* link.open(u): the menu's Open Link */
static void
open_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  td_row_text_activate_link (TD_ROW_TEXT (widget), g_variant_get_uint32 (parameter));
}

/* link.copy(u): the menu's Copy Link Address */
static void
copy_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  TdRowText *self = TD_ROW_TEXT (widget);
  guint index = g_variant_get_uint32 (parameter);

  if (index < n_links (self))
    gdk_clipboard_set_text (gtk_widget_get_clipboard (widget), link_at (self, index)->uri);
}

/* Whether @c can only be broken around at a space: letters, digits and
 * punctuation that Unicode's line breaking keeps with its neighbours
 * (UAX #14: AL, NU, IS and QU). ! and ? allow a break after them, so
 * they count only before a space or the end. */
static gboolean
is_word_char (const char *p)
{
  if (g_ascii_isalnum (*p) || strchr (".,;:'\"", *p) != NULL)
    return TRUE;
  return (*p == '!' || *p == '?') && (p[1] == ' ' || p[1] == '\0');
}

/* Whether @width pango units certainly hold @needed, whatever rounding
 * does: TRUE or FALSE when certain, and -1 when it is too close to
 * tell. */
static int
holds (gint64 needed,
       gint64 width)
{
  gint64 spare = needed / TD_ROW_TEXT_WIDTH_SPARE + PANGO_SCALE / 4;

  if (needed + spare <= width)
    return TRUE;
  if (needed - spare > width)
    return FALSE;
  return -1;
}

/* How many lines the text takes @width pixels wide, worked out from the
 * font's ASCII advances and kerning pairs without laying it out; 0 when
 * that is not certain: other than plain ASCII, a ligature, attributes that
 * may change its size (links are only coloured and underlined), breaks
 * that are not at single spaces, a word wider than a line, or a line too
 * close to full.
 * Pango wraps at the same places (a space at the end of a line takes no
 * room); a layout that still disagrees when drawn says so, and the text
 * is then always laid out (see td_row_text_snapshot). */
static int
estimate_lines (TdRowText *self,
                int        width)
{
  TdFontSizes *font;
  const char *text = self->text ? self->text : "";
  gint64 limit = (gint64) width * PANGO_SCALE;
  gint64 line = -1;
  char line_end = '\0';
  int lines = 1;

  if (self->ascii_length < 0 || self->attrs != NULL || width <= 0 || self->estimate_wrong)
    return 0;
  font = font_sizes (self);
  if (self->ascii_serial != self->font_serial || self->ascii_width == -2)
    {
      self->ascii_width = td_font_sizes_ascii_width (font, text, self->ascii_length);
      self->ascii_serial = self->font_serial;
    }
  if (self->ascii_width < 0)
    return 0;   /* a ligature */
  if (holds (self->ascii_width, limit) == TRUE)
    return 1;

  for (const char *p = text; *p;)
    {
      const char *start = p;
      gint64 word;
      int fits;

      if (*p == ' ')
        return 0;   /* leading or double space */
      for (; *p && *p != ' '; p++)
        if (!is_word_char (p))
          return 0;
      word = td_font_sizes_ascii_width (font, start, p - start);
      if (word < 0 || holds (word, limit) != TRUE)
        return 0;   /* a ligature; broken inside the word, or maybe */
      if (line < 0)
        line = word;
      else
        {
          gint64 joined = line + td_font_sizes_kerning (font, line_end, ' ') + font->ascii_advance[0]
                          + td_font_sizes_kerning (font, ' ', *start) + word;

          fits = holds (joined, limit);
          if (fits < 0)
            return 0;
          if (fits)
            line = joined;
          else
            {
              lines++;
              line = word;
            }
        }
      line_end = p[-1];
      if (*p == ' ')
        {
          p++;
          if (*p == '\0')
            return 0;   /* trailing space */
        }
    }
  return lines;
}

/* The narrowest it is made, in pixels. */
static int
min_width (TdRowText *self)
{
  return font_sizes (self)->char_width * (self->width_chars > 0 ? self->width_chars : TD_ROW_TEXT_MIN_CHARS);
}

/* Lines at the narrowest width, roughly: containers such as GtkGrid
 * measure a height at their children's minimum widths in a first pass
 * (every row of a list, each time the list measures itself), and laying
 * a whole line out in a column of a few characters costs the most of
 * all. If the text is really shown that narrow, the layout drawn
 * corrects it (see td_row_text_snapshot). */
static int
rough_lines (TdRowText *self,
             int        width)
{
  const TdFontSizes *font = font_sizes (self);
  gint64 chars = self->text ? g_utf8_strlen (self->text, -1) : 0;
  gint64 needed = chars * font->char_width;

  if (self->estimate_wrong)
    return 0;
  return MAX (1, (int) ((needed + needed / 8 + width - 1) / MAX (width, 1)));
}

static GtkSizeRequestMode
td_row_text_get_request_mode (GtkWidget *widget)
{
  return is_fixed (TD_ROW_TEXT (widget)) ? GTK_SIZE_REQUEST_CONSTANT_SIZE : GTK_SIZE_REQUEST_HEIGHT_FOR_WIDTH;
}

static void
td_row_text_measure (GtkWidget      *widget,
                      GtkOrientation  orientation,
                      int             for_size,
                      int            *minimum,
                      int            *natural,
                      int            *minimum_baseline,
                      int            *natural_baseline)
{
  TdRowText *self = TD_ROW_TEXT (widget);
  int lines;

  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    {
      /* Fixed text is as wide as it is told. Otherwise the list gives
       * every row its whole width, so a natural width (the text
       * unwrapped, a layout of its own) would buy nothing. */
      *minimum = *natural = min_width (self);
      return;
    }
  if (is_fixed (self))
    {
      const TdFontSizes *font = font_sizes (self);

      *minimum = *natural = lines_height (font, self->lines);
      *minimum_baseline = *natural_baseline = font->baseline;
      return;
    }
  /* Most lines are plain ASCII: their height is known without laying
   * them out, and only the rows shown are laid out, when drawn.
   * Unconstrained (a container's first pass), such a line is one line:
   * it has no line breaks of its own. */
  if (for_size < 0 && self->ascii_length >= 0 && self->attrs == NULL)
    lines = 1;
  else if (for_size >= 0 && for_size <= min_width (self))
    lines = rough_lines (self, for_size);
  else
    lines = estimate_lines (self, for_size);
  if (lines > 0)
    {
      const TdFontSizes *font = font_sizes (self);

      *minimum = *natural = lines_height (font, lines);
      *minimum_baseline = *natural_baseline = font->baseline;
      if (for_size > 0)
        {
          self->estimate_width = for_size;
          self->estimate_height = *minimum;
        }
      return;
    }
  layout_at (self, for_size >= 0 ? for_size : gtk_widget_get_width (widget) > 0 ? gtk_widget_get_width (widget) : -1);
  *minimum = *natural = self->height;
  *minimum_baseline = *natural_baseline = self->baseline;
}

static void
td_row_text_size_allocate (GtkWidget *widget,
                            int        width,
                            int        height,
                            int        baseline)
{
  TdRowText *self = TD_ROW_TEXT (widget);

  /* Fixed text, and a line known to fit, is laid out when it is drawn,
   * if it is. */
  if (!is_fixed (self) && estimate_lines (self, width) == 0)
    layout_at (self, width);
  if (self->menu != NULL)
    gtk_popover_present (GTK_POPOVER (self->menu));
}

static void
td_row_text_snapshot (GtkWidget   *widget,
                       GtkSnapshot *snapshot)
{
  TdRowText *self = TD_ROW_TEXT (widget);
  GdkRGBA color;

  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  gtk_style_context_get_color (gtk_widget_get_style_context (widget), &color);
  G_GNUC_END_IGNORE_DEPRECATIONS
  layout_at (self, gtk_widget_get_width (widget));
  if (self->estimate_width == gtk_widget_get_width (widget) && self->estimate_height != self->height)
    {
      /* Measured wrong: from now on this text is laid out to measure. */
      g_debug ("a line of %d characters measured %d pixels tall is %d at width %d",
               self->ascii_length, self->estimate_height, self->height, self->estimate_width);
      self->estimate_wrong = TRUE;
      self->estimate_width = -1;
      gtk_widget_queue_resize (widget);
    }
  if (text_x (self) != 0)
    {
      gtk_snapshot_save (snapshot);
      gtk_snapshot_translate (snapshot, &GRAPHENE_POINT_INIT (text_x (self), 0));
      gtk_snapshot_append_layout (snapshot, ensure_layout (self), &color);
      gtk_snapshot_restore (snapshot);
    }
  else
    gtk_snapshot_append_layout (snapshot, ensure_layout (self), &color);

  if (self->focus_link >= 0 && self->focus_link < (int) n_links (self) &&
      gtk_widget_has_visible_focus (widget))
    {
      cairo_region_t *region = link_region (self, self->focus_link);
      float widths[4] = { 1, 1, 1, 1 };
      GdkRGBA colors[4] = { self->link_color, self->link_color, self->link_color, self->link_color };

      for (int i = 0; i < cairo_region_num_rectangles (region); i++)
        {
          cairo_rectangle_int_t rect;
          GskRoundedRect outline;

          cairo_region_get_rectangle (region, i, &rect);
          gsk_rounded_rect_init_from_rect (&outline, &GRAPHENE_RECT_INIT (rect.x - 1, rect.y, rect.width + 2, rect.height), 2);
          gtk_snapshot_append_border (snapshot, &outline, widths, colors);
        }
      cairo_region_destroy (region);
    }
}

static void
td_row_text_css_changed (GtkWidget         *widget,
                          GtkCssStyleChange *change)
{
  TdRowText *self = TD_ROW_TEXT (widget);

  GTK_WIDGET_CLASS (td_row_text_parent_class)->css_changed (widget, change);
  /* Links follow the accent colour, which the dark style changes. */
  if (self->layout != NULL && n_links (self) > 0)
    {
      GdkRGBA color = link_color (self);

      if (!gdk_rgba_equal (&color, &self->link_color))
        {
          self->dirty = TRUE;
          gtk_widget_queue_draw (widget);
        }
    }
}

static void
td_row_text_state_flags_changed (GtkWidget     *widget,
                                  GtkStateFlags  previous)
{
  GtkStateFlags changed = previous ^ gtk_widget_get_state_flags (widget);

  GTK_WIDGET_CLASS (td_row_text_parent_class)->state_flags_changed (widget, previous);
  if (changed & (GTK_STATE_FLAG_FOCUSED | GTK_STATE_FLAG_FOCUS_VISIBLE))
    gtk_widget_queue_draw (widget);
}

/* Tab moves through the links before it leaves the line. */
static gboolean
td_row_text_focus (GtkWidget        *widget,
                    GtkDirectionType  direction)
{
  TdRowText *self = TD_ROW_TEXT (widget);
  int n = n_links (self);
  gboolean backward = direction == GTK_DIR_TAB_BACKWARD || direction == GTK_DIR_UP || direction == GTK_DIR_LEFT;

  if (n == 0)
    return FALSE;
  if (!gtk_widget_is_focus (widget))
    {
      self->focus_link = backward ? n - 1 : 0;
      gtk_widget_grab_focus (widget);
      gtk_widget_queue_draw (widget);
      return TRUE;
    }
  if (direction != GTK_DIR_TAB_FORWARD && direction != GTK_DIR_TAB_BACKWARD)
    return FALSE;
  if (backward ? self->focus_link <= 0 : self->focus_link >= n - 1)
    return FALSE;
  self->focus_link += backward ? -1 : 1;
  gtk_widget_queue_draw (widget);
  return TRUE;
}

static void
td_row_text_dispose (GObject *object)
{
  TdRowText *self = TD_ROW_TEXT (object);

  g_clear_pointer (&self->menu, gtk_widget_unparent);
  G_OBJECT_CLASS (td_row_text_parent_class)->dispose (object);
}

static void
td_row_text_finalize (GObject *object)
{
  TdRowText *self = TD_ROW_TEXT (object);

  g_clear_pointer (&self->text, g_free);
  g_clear_pointer (&self->links, g_array_unref);
  g_clear_pointer (&self->attrs, pango_attr_list_unref);
  g_clear_object (&self->layout);
  g_clear_pointer (&self->font, td_font_sizes_unref);
  G_OBJECT_CLASS (td_row_text_parent_class)->finalize (object);
}

static void
td_row_text_class_init (TdRowTextClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = td_row_text_dispose;
  object_class->finalize = td_row_text_finalize;
  widget_class->get_request_mode = td_row_text_get_request_mode;
  widget_class->measure = td_row_text_measure;
  widget_class->size_allocate = td_row_text_size_allocate;
  widget_class->snapshot = td_row_text_snapshot;
  widget_class->css_changed = td_row_text_css_changed;
  widget_class->state_flags_changed = td_row_text_state_flags_changed;
  widget_class->focus = td_row_text_focus;

  /**
   * TdRowText::activate-link:
   * @uri: the link's address
   *
   * A link was clicked, or activated from the keyboard or its menu.
   * Returns: TRUE if the link was handled
   */
  signals[ACTIVATE_LINK] =
    g_signal_new ("activate-link", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, g_signal_accumulator_true_handled, NULL, NULL,
                  G_TYPE_BOOLEAN, 1, G_TYPE_STRING);

  gtk_widget_class_install_action (widget_class, "link.open", "u", open_action);
  gtk_widget_class_install_action (widget_class, "link.copy", "u", copy_action);
  gtk_widget_class_set_css_name (widget_class, "label");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_LABEL);
}

static void
td_row_text_init (TdRowText *self)
{
  self->layout_width = G_MININT;
  self->ascii_width = -2;
  self->estimate_width = -1;
  self->focus_link = self->pressed_link = self->hover_link = -1;
}

/* What links need: the pointer, clicks, long presses and keys. Made with
 * the first link, as most texts never have one, and a list of 200 rows
 * would otherwise build hundreds of controllers it does not use. */
static void
add_link_controllers (TdRowText *self)
{
  GtkEventController *motion;
  GtkGesture *click;
  GtkGesture *long_press;
  GtkEventController *key;

  if (self->has_controllers)
    return;
  self->has_controllers = TRUE;

  motion = gtk_event_controller_motion_new ();
  g_signal_connect (motion, "motion", G_CALLBACK (motion_cb), self);
  g_signal_connect (motion, "leave", G_CALLBACK (leave_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), motion);

  click = gtk_gesture_click_new ();
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (click), 0);
  g_signal_connect (click, "pressed", G_CALLBACK (pressed_cb), self);
  g_signal_connect (click, "released", G_CALLBACK (released_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (click));

  long_press = gtk_gesture_long_press_new ();
  gtk_gesture_single_set_touch_only (GTK_GESTURE_SINGLE (long_press), TRUE);
  g_signal_connect (long_press, "pressed", G_CALLBACK (long_pressed_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (long_press));

  key = gtk_event_controller_key_new ();
  g_signal_connect (key, "key-pressed", G_CALLBACK (key_pressed_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), key);
}

GtkWidget *
td_row_text_new (void)
{
  return g_object_new (TD_TYPE_ROW_TEXT, NULL);
}

/**
 * td_row_text_set:
 * @text: (nullable): what to show (invalid UTF-8 is shown replaced)
 * @links: (nullable): its links (TdChatLink, byte offsets into @text);
 *   a reference is taken
 * @attrs: (nullable): attributes for @text; a reference is taken
 *
 * Shows @text. Links that do not fit in @text are a programming error:
 * the text is shown without them.
 */
void
td_row_text_set (TdRowText    *self,
                  const char    *text,
                  GArray        *links,
                  PangoAttrList *attrs)
{
  gsize len;

  g_return_if_fail (TD_IS_ROW_TEXT (self));

  /* A row bound again to what it shows (an empty time, the same nick). */
  if (g_strcmp0 (self->text, text) == 0 && self->links == NULL && (links == NULL || links->len == 0) &&
      self->attrs == attrs)
    return;
  self->estimate_width = -1;
  if (g_strcmp0 (self->text, text) != 0)
    {
      g_free (self->text);
      /* Pango refuses invalid UTF-8 (with a warning, and shows nothing). */
      self->text = text == NULL || g_utf8_validate (text, -1, NULL) ? g_strdup (text) : g_utf8_make_valid (text, -1);
      text = self->text;
      self->ascii_length = ascii_length (self->text);
      self->ascii_width = -2;
      self->estimate_width = -1;
      self->estimate_wrong = FALSE;
      gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL, text ? text : "", -1);
    }
  len = self->text ? strlen (self->text) : 0;
  g_clear_pointer (&self->links, g_array_unref);
  if (links != NULL && links->len > 0)
    {
      gboolean fit = TRUE;

      for (guint i = 0; i < links->len; i++)
        {
          const TdChatLink *link = &g_array_index (links, TdChatLink, i);

          fit = fit && link->start < link->end && link->end <= len;
        }
      if (fit)
        {
          self->links = g_array_ref (links);
          add_link_controllers (self);
        }
      else
        g_critical ("%s: a link does not fit in its text", G_STRFUNC);
    }
  g_clear_pointer (&self->attrs, pango_attr_list_unref);
  self->attrs = attrs ? pango_attr_list_ref (attrs) : NULL;

  self->dirty = TRUE;
  self->focus_link = n_links (self) > 0 ? 0 : -1;
  self->pressed_link = -1;
  set_hover_link (self, -1);
  if (self->menu != NULL)
    gtk_popover_popdown (GTK_POPOVER (self->menu));
  gtk_widget_set_focusable (GTK_WIDGET (self), n_links (self) > 0);
  /* Fixed text keeps its size: only a row that wraps its text measures
   * again (and its list with it). */
  if (is_fixed (self))
    gtk_widget_queue_draw (GTK_WIDGET (self));
  else
    gtk_widget_queue_resize (GTK_WIDGET (self));
}

/**
 * td_row_text_set_fixed:
 * @width_chars: how many characters wide; 0 for as wide as it is given
 * @lines: how many lines tall; 0 to wrap the text in as many as it needs
 * @ellipsize: where text that does not fit is cut
 * @xalign: where a shorter line goes: 0 at the start, 1 at the end
 *
 * Gives the text a size that does not depend on it: a column of rows
 * that lines up, measured without laying out any text.
 */
void
td_row_text_set_fixed (TdRowText          *self,
                       guint               width_chars,
                       guint               lines,
                       PangoEllipsizeMode  ellipsize,
                       float               xalign)
{
  g_return_if_fail (TD_IS_ROW_TEXT (self));

  self->width_chars = width_chars;
  self->lines = lines;
  self->ellipsize = ellipsize;
  self->xalign = CLAMP (xalign, 0, 1);
  self->dirty = TRUE;
  gtk_widget_set_overflow (GTK_WIDGET (self), lines > 0 ? GTK_OVERFLOW_HIDDEN : GTK_OVERFLOW_VISIBLE);
  gtk_widget_queue_resize (GTK_WIDGET (self));
}

/* Returns: (transfer none): attributes for digits of one width, so that
 * times and counts line up from row to row (what the "numeric" style
 * class does for a label) */
PangoAttrList *
td_row_text_tabular_digits (void)
{
  static PangoAttrList *attrs;

  if (attrs == NULL)
    {
      attrs = pango_attr_list_new ();
      pango_attr_list_insert (attrs, pango_attr_font_features_new ("tnum=1"));
    }
  return attrs;
}

/* Returns: (transfer none): the text shown */
const char *
td_row_text_get_text (TdRowText *self)
{
  g_return_val_if_fail (TD_IS_ROW_TEXT (self), NULL);

  return self->text ? self->text : "";
}

guint
td_row_text_get_n_links (TdRowText *self)
{
  g_return_val_if_fail (TD_IS_ROW_TEXT (self), 0);

  return n_links (self);
}

/* Returns: (transfer none) (nullable): the address of link @index */
const char *
td_row_text_get_link (TdRowText *self,
                       guint       index)
{
  g_return_val_if_fail (TD_IS_ROW_TEXT (self), NULL);

  return index < n_links (self) ? link_at (self, index)->uri : NULL;
}

/* Emits ::activate-link for link @index; returns what the handler did. */
gboolean
td_row_text_activate_link (TdRowText *self,
                            guint       index)
{
  g_autofree char *uri = NULL;
  gboolean handled = FALSE;

  g_return_val_if_fail (TD_IS_ROW_TEXT (self), FALSE);

  if (index >= n_links (self))
    return FALSE;
  /* A copy: a handler may set another text. */
  uri = g_strdup (link_at (self, index)->uri);
  g_signal_emit (self, signals[ACTIVATE_LINK], 0, uri, &handled);
  return handled;
}

/* Whether the text as set was laid out (measured with Pango, or drawn):
 * a plain line measured from its characters is not until drawn. */
gboolean
td_row_text_is_laid_out (TdRowText *self)
{
  g_return_val_if_fail (TD_IS_ROW_TEXT (self), FALSE);

  return self->layout != NULL && !self->dirty;
}
