/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "feeds/td-feed-manager.h"

G_BEGIN_DECLS

#define TD_TYPE_ARTICLE_VIEW (td_article_view_get_type ())

G_DECLARE_FINAL_TYPE (TdArticleView, td_article_view, TD, ARTICLE_VIEW, AdwBin)

/* Shows @item (NULL: the empty state). With WebKitGTK (HAVE_WEBKIT) the
 * content is shown in a web view with scripts off, navigation refused
 * (links open in the browser) and remote images not loaded; without it,
 * HTML is read with libxml2's HTML parser and turned into a text buffer
 * with a few tags; scripts never run and nothing remote is fetched. */
void           td_article_view_set_item      (TdArticleView    *self,
                                              const TdFeedItem *item);
/* Scrolls a page down; returns FALSE when already at the end (and always
 * with WebKit, whose view scrolls itself: space moves to the next item). */
gboolean       td_article_view_page_down     (TdArticleView    *self);
/* The text shown, for tests: the sanitized text in either mode (with
 * WebKit it is rendered alongside the page and never waits for it). */
char          *td_article_view_get_text      (TdArticleView    *self);

/* Appends the readable text of the HTML fragment @html to @buffer at its
 * end, with tags from the buffer's tag table (created on demand). */
void           td_article_render_html        (GtkTextBuffer    *buffer,
                                              const char       *html);

G_END_DECLS
