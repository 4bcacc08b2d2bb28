/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * HTML from a feed turned into readable text with a few styles, for the
 * article view without a web engine. The HTML is untrusted: it is only
 * read (libxml2's HTML parser, no network, recovering from tag soup),
 * never run. Scripts, styles, frames, forms and media are dropped, an
 * image leaves its alt text, and only http, https and mailto links are
 * kept. No GTK: the view applies the styles to a text buffer, and
 * tests/fuzz/fuzz-html-text.c drives it with hostile markup.
 */

typedef enum
{
  TD_HTML_STYLE_BOLD,
  TD_HTML_STYLE_ITALIC,
  TD_HTML_STYLE_HEADING,
  TD_HTML_STYLE_MONO,
  TD_HTML_STYLE_QUOTE,
  TD_HTML_STYLE_LIST,
  TD_HTML_STYLE_DIM,        /* an image's alt text */
  TD_HTML_STYLE_LINK,       /* href and link set */
} TdHtmlStyle;

#define TD_HTML_N_STYLES (TD_HTML_STYLE_LINK + 1)

/* Nesting walked before the rest of a subtree is ignored: deeper than any
 * real article, shallow enough for the stack. */
#define TD_HTML_MAX_DEPTH 64

typedef struct
{
  TdHtmlStyle  style;
  guint        link;        /* LINK: which <a> (1, 2, ...); the spans of one link share it */
  const char  *href;        /* LINK: its address; owned by the TdHtmlText */
  gsize        start;       /* in characters of the text */
  gsize        end;         /* exclusive; start < end */
} TdHtmlSpan;

typedef struct
{
  char        *text;        /* valid UTF-8; no newline at the end */
  gsize        n_chars;
  GPtrArray   *spans;       /* TdHtmlSpan, by start */
  /* The styles other than LINK in the order they were first met, so a
   * view can create its tags in that order (later tags win). */
  TdHtmlStyle  style_order[TD_HTML_N_STYLES];
  guint        n_styles;
  GPtrArray   *hrefs;       /* owns the spans' href strings */
} TdHtmlText;

/* Turns the HTML fragment @html into text. Plain text (no '<' or '&') is
 * kept as paragraphs. @continues says the text will follow earlier text,
 * so a block may start with blank lines. @image_label is the text for
 * an image with alt text, "%s" standing for the alt text (NULL: "[Image:
 * %s]"); the caller translates it. */
TdHtmlText *td_html_to_text        (const char  *html,
                                    gboolean     continues,
                                    const char  *image_label);
void        td_html_text_free      (TdHtmlText  *text);

/* TRUE if @text is taken for HTML (it has '<' or '&'), FALSE for
 * plain text. */
gboolean    td_html_looks_like_html (const char *text);

/* TRUE if @href is a link worth opening: http, https or mailto. */
gboolean    td_html_link_is_safe   (const char  *href);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdHtmlText, td_html_text_free)

G_END_DECLS
