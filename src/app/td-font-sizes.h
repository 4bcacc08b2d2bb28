/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <pango/pango.h>

G_BEGIN_DECLS

/*
 * TdFontSizes: what a font's text measures, kept once per font for the
 * list rows' texts (TdRowText). Pango measures a font's character width
 * by shaping a sample text each time it is asked, and GtkLabel and
 * GtkInscription ask at every measure of a width in characters; a list
 * binds about 200 rows at a time.
 *
 * Besides the sizes of a character and a line, it knows the advance of
 * every printable ASCII character and, measured when first met, what each
 * pair of them adds (kerning) and whether it is drawn as one glyph (a
 * ligature): the width of a line of plain ASCII without ligatures is then
 * the one Pango lays out, without laying it out.
 *
 * Shared (reference-counted) by the texts in one font; main thread only.
 */

/* The printable ASCII characters, in order, whose advances are known. */
#define TD_FONT_SIZES_N_ASCII 95
#define TD_FONT_SIZES_PRINTABLE_ASCII \
  " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~"

typedef struct
{
  int char_width;    /* pixels: the wider of an average character and a digit */
  int line_height;   /* pango units: lines are stacked unrounded */
  int baseline;      /* pixels, of a first line from its top */
  int ascii_advance[TD_FONT_SIZES_N_ASCII];   /* of each printable ASCII character from ' ', unkerned,
                                               * pango units */

  /*< private >*/
  gint16      *kerning;
  guint8      *ligature;
  PangoLayout *pair_layout;
} TdFontSizes;

TdFontSizes *td_font_sizes_get         (PangoContext *context);
void         td_font_sizes_unref       (TdFontSizes  *sizes);
int          td_font_sizes_kerning     (TdFontSizes  *sizes,
                                        char          a,
                                        char          b);
gint64       td_font_sizes_ascii_width (TdFontSizes  *sizes,
                                        const char   *text,
                                        gsize         len);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdFontSizes, td_font_sizes_unref)

G_END_DECLS
