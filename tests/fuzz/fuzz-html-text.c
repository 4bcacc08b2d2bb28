/* SPDX-License-Identifier: GPL-3.0-or-later */
/* HTML from a feed item turned into text for the article view without a
 * web engine: whatever the markup, the text is valid UTF-8, every style
 * lies within it, and only safe links are kept. */
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "feeds/td-html-text.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check_text (const TdHtmlText *text)
{
  gboolean seen[TD_HTML_N_STYLES] = { FALSE };
  gsize len = strlen (text->text);
  gsize last_start = 0;

  g_assert_true (g_utf8_validate (text->text, -1, NULL));
  g_assert_cmpuint (g_utf8_strlen (text->text, -1), ==, text->n_chars);
  g_assert_true (len == 0 || text->text[len - 1] != '\n');

  for (guint i = 0; i < text->spans->len; i++)
    {
      TdHtmlSpan *span = g_ptr_array_index (text->spans, i);

      g_assert_cmpuint (span->start, <, span->end);
      g_assert_cmpuint (span->end, <=, text->n_chars);
      g_assert_cmpuint (span->start, >=, last_start);
      last_start = span->start;
      g_assert_cmpint (span->style, <, TD_HTML_N_STYLES);
      if (span->style == TD_HTML_STYLE_LINK)
        {
          g_assert_cmpuint (span->link, >, 0);
          g_assert_true (td_html_link_is_safe (span->href));
        }
      else
        {
          g_assert_cmpuint (span->link, ==, 0);
          g_assert_null (span->href);
        }
    }

  g_assert_cmpuint (text->n_styles, <=, TD_HTML_N_STYLES);
  for (guint i = 0; i < text->n_styles; i++)
    {
      g_assert_cmpint (text->style_order[i], <, TD_HTML_STYLE_LINK);
      g_assert_false (seen[text->style_order[i]]);
      seen[text->style_order[i]] = TRUE;
    }
  /* Every style that marks text was met. */
  for (guint i = 0; i < text->spans->len; i++)
    {
      TdHtmlSpan *span = g_ptr_array_index (text->spans, i);

      g_assert_true (span->style == TD_HTML_STYLE_LINK || seen[span->style]);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  /* Item content reaches the view as a C string from the database. */
  g_autofree char *html = g_strndup ((const char *) data, size);

  for (int continues = 0; continues < 2; continues++)
    {
      g_autoptr(TdHtmlText) text = td_html_to_text (html, continues, "[Image: %s]");

      check_text (text);
    }
  return 0;
}
