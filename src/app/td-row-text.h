/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/*
 * TdRowText: text in a row of a list (GtkListView), made for lists that
 * bind rows by the hundred. GTK 4.8's list keeps about 200 rows bound
 * around what it shows and binds them all again when it jumps, so what a
 * row costs to bind and measure is what scrolling waits for.
 *
 * Wrapped (the default), it lays its text out once per text and width: a
 * wrapping GtkLabel lays it out unwrapped, at width zero and at its width
 * each time the list measures it, after parsing markup; this one is given
 * its text, links and attributes as they are.
 *
 * Fixed (td_row_text_set_fixed()), it is a given number of characters
 * wide and lines tall whatever its text, like a GtkInscription, with the
 * size of a character measured once per font: GtkLabel and GtkInscription
 * ask Pango for the font's metrics at each measure, and Pango shapes a
 * sample text each time. Measuring it shapes nothing; its text is laid
 * out only when drawn.
 *
 * A link is underlined in the accent colour; a click, or Enter when it has
 * the keyboard focus, emits ::activate-link; its context menu opens it or
 * copies its address. Tab moves through the links of a line.
 */

#define TD_TYPE_ROW_TEXT (td_row_text_get_type ())

G_DECLARE_FINAL_TYPE (TdRowText, td_row_text, TD, ROW_TEXT, GtkWidget)

GtkWidget      *td_row_text_new            (void);
void            td_row_text_set            (TdRowText          *self,
                                            const char         *text,
                                            GArray             *links,
                                            PangoAttrList      *attrs);
void            td_row_text_set_fixed      (TdRowText          *self,
                                            guint               width_chars,
                                            guint               lines,
                                            PangoEllipsizeMode  ellipsize,
                                            float               xalign);
const char     *td_row_text_get_text       (TdRowText          *self);
PangoAttrList  *td_row_text_tabular_digits (void);
guint           td_row_text_get_n_links    (TdRowText          *self);
const char     *td_row_text_get_link       (TdRowText          *self,
                                            guint               index);
gboolean        td_row_text_is_laid_out    (TdRowText          *self);
gboolean        td_row_text_activate_link  (TdRowText          *self,
                                            guint               index);

G_END_DECLS
