/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/*
 * TdChatText: the wrapped text of one line in the message list, with its
 * links. It does what a wrapping GtkLabel with markup did, for a fraction
 * of the cost: it lays its text out once per text and width (a label lays
 * it out unwrapped, at width zero and at its width each time the list
 * measures it), and it is given its text and links as they are, with no
 * markup to build and parse. Rows are bound by the hundred when the list
 * jumps, so that cost is what scrolling a long log waits for.
 *
 * It can also show one line of a fixed width in characters, ellipsized,
 * for the time and nick columns: a GtkLabel with a width in characters
 * measures its font's metrics at each measure, which shapes a sample text.
 *
 * A link is underlined in the accent colour; a click, or Enter when it has
 * the keyboard focus, emits ::activate-link; its context menu opens it or
 * copies its address. Tab moves through the links of a line.
 */

#define TD_TYPE_CHAT_TEXT (td_chat_text_get_type ())

G_DECLARE_FINAL_TYPE (TdChatText, td_chat_text, TD, CHAT_TEXT, GtkWidget)

GtkWidget      *td_chat_text_new        (void);
void            td_chat_text_set        (TdChatText    *self,
                                         const char    *text,
                                         GArray        *links,
                                         PangoAttrList *attrs);
void            td_chat_text_set_single_line (TdChatText *self,
                                              guint       width_chars,
                                              float       xalign);
const char     *td_chat_text_get_text   (TdChatText    *self);
guint           td_chat_text_get_n_links (TdChatText   *self);
const char     *td_chat_text_get_link   (TdChatText    *self,
                                         guint          index);
gboolean        td_chat_text_activate_link (TdChatText *self,
                                            guint       index);

G_END_DECLS
