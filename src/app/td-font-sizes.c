/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-font-sizes"

#include "config.h"

#include <pango/pangocairo.h>
#include <string.h>

#include "app/td-font-sizes.h"

/* Fonts whose sizes are kept: a few styles of one or two families in
 * practice; past this the cache starts again (the texts keep theirs). */
#define TD_FONT_SIZES_CACHE_MAX 64

#define ASCII_INDEX(c) ((guchar) (c) - 0x20)

/* A kerning pair not measured yet. */
#define KERNING_UNKNOWN G_MININT16

G_STATIC_ASSERT (sizeof TD_FONT_SIZES_PRINTABLE_ASCII - 1 == TD_FONT_SIZES_N_ASCII);

static void
td_font_sizes_clear (gpointer data)
{
  TdFontSizes *sizes = data;

  g_free (sizes->kerning);
  g_free (sizes->ligature);
  g_clear_object (&sizes->pair_layout);
}

void
td_font_sizes_unref (TdFontSizes *sizes)
{
  g_rc_box_release_full (sizes, td_font_sizes_clear);
}

/* Measures the advance of each printable ASCII character in @layout's
 * font, with kerning and ligatures off so that each is its own glyph. A
 * character that is not (a font without it) gets the widest advance. */
static void
measure_ascii (PangoLayout *layout,
               TdFontSizes *sizes)
{
  g_autoptr(PangoAttrList) attrs = pango_attr_list_new ();
  PangoLayoutIter *iter;
  int widest = 0;

  memset (sizes->ascii_advance, 0, sizeof sizes->ascii_advance);
  pango_attr_list_insert (attrs, pango_attr_font_features_new ("kern 0, liga 0, clig 0"));
  pango_layout_set_attributes (layout, attrs);
  pango_layout_set_text (layout, TD_FONT_SIZES_PRINTABLE_ASCII, -1);
  iter = pango_layout_get_iter (layout);
  do
    {
      PangoLayoutRun *run = pango_layout_iter_get_run_readonly (iter);

      for (int i = 0; run != NULL && i < run->glyphs->num_glyphs; i++)
        {
          int index = run->item->offset + run->glyphs->log_clusters[i];
          int width = run->glyphs->glyphs[i].geometry.width;

          widest = MAX (widest, width);
          if (index >= 0 && index < TD_FONT_SIZES_N_ASCII)
            sizes->ascii_advance[index] += MAX (width, 0);
        }
    }
  while (pango_layout_iter_next_run (iter));
  pango_layout_iter_free (iter);
  for (guint i = 1; i < TD_FONT_SIZES_N_ASCII; i++)
    if (sizes->ascii_advance[i] == 0)
      sizes->ascii_advance[i] = widest;
}

/* A layout of its own for measuring pairs in @context's font: a
 * widget's context changes with its style. */
static PangoLayout *
pair_layout_new (PangoContext *context)
{
  PangoContext *own = pango_font_map_create_context (pango_context_get_font_map (context));
  const cairo_font_options_t *options = pango_cairo_context_get_font_options (context);
  PangoLayout *layout;

  pango_context_set_font_description (own, pango_context_get_font_description (context));
  pango_context_set_language (own, pango_context_get_language (context));
  pango_context_set_base_dir (own, pango_context_get_base_dir (context));
  pango_context_set_round_glyph_positions (own, pango_context_get_round_glyph_positions (context));
  pango_cairo_context_set_resolution (own, pango_cairo_context_get_resolution (context));
  if (options != NULL)
    pango_cairo_context_set_font_options (own, options);
  layout = pango_layout_new (own);
  g_object_unref (own);
  return layout;
}

/* What tells fonts apart: the description, the resolution and, as
 * hinting can round advances, the font options. */
typedef struct
{
  PangoFontDescription *description;   /* owned by a key in the cache */
  double                resolution;
  gulong                options;       /* their hash; 0 for none */
} FontKey;

static guint
font_key_hash (gconstpointer data)
{
  const FontKey *key = data;

  return pango_font_description_hash (key->description) ^ (guint) key->options ^ (guint) (key->resolution * 64);
}

static gboolean
font_key_equal (gconstpointer a,
                gconstpointer b)
{
  const FontKey *x = a, *y = b;

  return x->resolution == y->resolution && x->options == y->options &&
         pango_font_description_equal (x->description, y->description);
}

static void
font_key_free (gpointer data)
{
  FontKey *key = data;

  pango_font_description_free (key->description);
  g_free (key);
}

/* Returns: (transfer full): the sizes of @context's font, measured the
 * first time that font is asked for. Every text asks once, so finding a
 * font known already formats nothing. */
TdFontSizes *
td_font_sizes_get (PangoContext *context)
{
  static GHashTable *fonts;   /* FontKey -> TdFontSizes; main thread only */
  const cairo_font_options_t *options;
  FontKey lookup, *key;
  TdFontSizes *known;

  g_return_val_if_fail (PANGO_IS_CONTEXT (context), NULL);

  options = pango_cairo_context_get_font_options (context);
  lookup.description = (PangoFontDescription *) pango_context_get_font_description (context);
  lookup.resolution = pango_cairo_context_get_resolution (context);
  lookup.options = options ? cairo_font_options_hash (options) : 0;
  if (fonts == NULL)
    fonts = g_hash_table_new_full (font_key_hash, font_key_equal, font_key_free, (GDestroyNotify) td_font_sizes_unref);
  known = g_hash_table_lookup (fonts, &lookup);
  if (known == NULL)
    {
      PangoFontMetrics *metrics = pango_context_get_metrics (context, NULL, NULL);
      g_autoptr(PangoLayout) line = pango_layout_new (context);
      int width = MAX (pango_font_metrics_get_approximate_char_width (metrics),
                       pango_font_metrics_get_approximate_digit_width (metrics));

      known = g_rc_box_new0 (TdFontSizes);
      known->char_width = MAX (1, PANGO_PIXELS_CEIL (width));
      pango_font_metrics_unref (metrics);
      pango_layout_set_text (line, "Xg", -1);
      pango_layout_get_size (line, NULL, &known->line_height);
      known->baseline = PANGO_PIXELS (pango_layout_get_baseline (line));
      measure_ascii (line, known);
      known->pair_layout = pair_layout_new (context);
      if (g_hash_table_size (fonts) >= TD_FONT_SIZES_CACHE_MAX)
        g_hash_table_remove_all (fonts);
      key = g_new (FontKey, 1);
      *key = lookup;
      key->description = pango_font_description_copy (lookup.description);
      g_hash_table_insert (fonts, key, known);
    }
  return g_rc_box_acquire (known);
}

/* Measures the pair @a @b (printable ASCII) if it is not yet; returns
 * its index in kerning and ligature. Each pair is laid out once, when
 * first met (a few microseconds); plain text meets a few hundred. */
static guint
measure_pair (TdFontSizes *sizes,
              char         a,
              char         b)
{
  guint index = ASCII_INDEX (a) * TD_FONT_SIZES_N_ASCII + ASCII_INDEX (b);

  if (sizes->kerning == NULL)
    {
      sizes->kerning = g_new (gint16, TD_FONT_SIZES_N_ASCII * TD_FONT_SIZES_N_ASCII);
      sizes->ligature = g_new0 (guint8, TD_FONT_SIZES_N_ASCII * TD_FONT_SIZES_N_ASCII);
      for (guint i = 0; i < TD_FONT_SIZES_N_ASCII * TD_FONT_SIZES_N_ASCII; i++)
        sizes->kerning[i] = KERNING_UNKNOWN;
    }
  if (sizes->kerning[index] == KERNING_UNKNOWN)
    {
      const char text[] = { a, b, '\0' };
      PangoLayoutLine *line;
      int width = 0, glyphs = 0;

      pango_layout_set_text (sizes->pair_layout, text, 2);
      pango_layout_get_size (sizes->pair_layout, &width, NULL);
      sizes->kerning[index] = CLAMP (width - sizes->ascii_advance[ASCII_INDEX (a)]
                                     - sizes->ascii_advance[ASCII_INDEX (b)], G_MININT16 + 1, G_MAXINT16);
      line = pango_layout_get_line_readonly (sizes->pair_layout, 0);
      for (GSList *l = line ? line->runs : NULL; l != NULL; l = l->next)
        glyphs += ((PangoGlyphItem *) l->data)->glyphs->num_glyphs;
      sizes->ligature[index] = glyphs < 2;
    }
  return index;
}

/* What the pair @a @b (printable ASCII) adds to the two advances, in
 * pango units: kerning, or a ligature. */
int
td_font_sizes_kerning (TdFontSizes *sizes,
                       char         a,
                       char         b)
{
  g_return_val_if_fail (sizes != NULL, 0);
  g_return_val_if_fail (a >= 0x20 && a <= 0x7e && b >= 0x20 && b <= 0x7e, 0);

  return sizes->kerning[measure_pair (sizes, a, b)];
}

/* The width of @len bytes of printable ASCII at @text, in pango units,
 * kerned as Pango kerns them; -1 if it has a pair the font draws as one
 * glyph (a ligature: "fi", "ff" in many fonts), as what comes next to a
 * ligature is kerned against it, which pairs of characters do not say. */
gint64
td_font_sizes_ascii_width (TdFontSizes *sizes,
                           const char  *text,
                           gsize        len)
{
  gint64 width = 0;

  g_return_val_if_fail (sizes != NULL, -1);

  for (gsize i = 0; i < len; i++)
    {
      g_return_val_if_fail (text[i] >= 0x20 && text[i] <= 0x7e, -1);
      width += sizes->ascii_advance[ASCII_INDEX (text[i])];
      if (i + 1 < len)
        {
          guint pair = measure_pair (sizes, text[i], text[i + 1]);

          if (sizes->ligature[pair])
            return -1;
          width += sizes->kerning[pair];
        }
    }
  return width;
}
