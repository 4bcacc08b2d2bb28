/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "feeds/td-html-text.h"

/*
 * HTML to text for the article view without a web engine: the text, and
 * its styles written as STYLE:START-END (LINK with its address).
 */

typedef struct
{
  const char *html;
  gboolean    continues;
  const char *text;
  const char *spans;
} HtmlCase;

static const HtmlCase cases[] = {
  { "<p>Hello <b>bold</b>   world</p>", FALSE, "Hello bold world", "0:6-10" },
  /* The space between words takes only the styles open on both sides. */
  { "<b>one <i>two</i></b>", FALSE, "one two", "0:0-7 1:4-7" },
  { "<p><a href=\"https://e.org/\">site</a>, <a href=\"javascript:alert(1)\">js</a>, "
    "<a href=\"mailto:m@e.org\">mail</a></p>", FALSE,
    "site, js, mail", "7:0-4=https://e.org/ 7:10-14=mailto:m@e.org" },
  { "<ul><li>a</li><li>b</li></ul>", FALSE, "• a\n• b", "5:0-3 5:4-7" },
  { "<ol><li>a</li><li>b<ul><li>c</li></ul></li></ol>", FALSE, "1. a\n2. b\n\n• c", "5:0-4 5:5-9 5:11-14" },
  { "<h1><img alt=\" x \"></h1>", FALSE, "[Image: x]", "2:0-10 6:0-10" },
  { "<div><pre>  a\n   b\n</pre>after</div>", FALSE, "  a\n   b\n\nafter", "3:0-9" },
  { "<div><script>alert(1)</script><style>p{}</style><iframe>f</iframe><form>secret</form>shown</div>", FALSE,
    "shown", "" },
  { "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>", FALSE, "a b\nc", "" },
  { "&lt;b&gt; &amp; caf&eacute;", FALSE, "<b> & café", "" },
  { "plain text\n\nsecond   paragraph\n\n\n", FALSE, "plain text\n\nsecond paragraph", "" },
  { "<p>x</p>", TRUE, "\n\nx", "" },
  { "<p>x</p>", FALSE, "x", "" },
  { "<div>a<br><br>b<hr>c</div>", FALSE, "a\n\nb\n\n⸻\n\nc", "" },
  { "", FALSE, "", "" },
  /* A space that stands alone between two inline elements separates them. */
  { "<b>a</b> <i>b</i>", FALSE, "a b", "0:0-1 1:2-3" },
  { "<p><a href=\"https://e.org/\">one</a> <a href=\"https://f.org/\">two</a></p>", FALSE,
    "one two", "7:0-3=https://e.org/ 7:4-7=https://f.org/" },
  /* Text after a block is a paragraph of its own. */
  { "<p>a</p>tail <b>b</b>", FALSE, "a\n\ntail b", "0:8-9" },
  /* A stray closing tag does not lose what follows. */
  { "x</div> y <b>z</b>", FALSE, "x y z", "0:4-5" },
  /* Between blocks, whitespace is only layout. */
  { "<p>a</p>\n  <p>b</p>\n", FALSE, "a\n\nb", "" },
};

static char *
spans_string (const TdHtmlText *text)
{
  GString *out = g_string_new (NULL);

  for (guint i = 0; i < text->spans->len; i++)
    {
      TdHtmlSpan *span = g_ptr_array_index (text->spans, i);

      g_string_append_printf (out, "%s%d:%" G_GSIZE_FORMAT "-%" G_GSIZE_FORMAT, i ? " " : "",
                              span->style, span->start, span->end);
      if (span->href != NULL)
        g_string_append_printf (out, "=%s", span->href);
    }
  return g_string_free (out, FALSE);
}

static void
test_case (gconstpointer data)
{
  const HtmlCase *c = data;
  g_autoptr(TdHtmlText) text = td_html_to_text (c->html, c->continues, NULL);
  g_autofree char *spans = spans_string (text);

  g_assert_cmpstr (text->text, ==, c->text);
  g_assert_cmpuint (text->n_chars, ==, g_utf8_strlen (c->text, -1));
  g_assert_cmpstr (spans, ==, c->spans);
}

/* The image label comes from the caller (translated there). */
static void
test_image_label (void)
{
  g_autoptr(TdHtmlText) text = td_html_to_text ("<img alt=\"chart\">", FALSE, "« %s » (image)");
  g_autoptr(TdHtmlText) bare = td_html_to_text ("<img alt=\"chart\">", FALSE, "Image:");

  g_assert_cmpstr (text->text, ==, "« chart » (image)");
  g_assert_cmpstr (bare->text, ==, "Image: chart");
}

/* Styles are listed in the order they were first met, once each. */
static void
test_style_order (void)
{
  g_autoptr(TdHtmlText) text = td_html_to_text ("<i>a</i><b>b</b><i>c</i><h2>d</h2>", FALSE, NULL);

  g_assert_cmpuint (text->n_styles, ==, 3);
  g_assert_cmpint (text->style_order[0], ==, TD_HTML_STYLE_ITALIC);
  g_assert_cmpint (text->style_order[1], ==, TD_HTML_STYLE_BOLD);
  g_assert_cmpint (text->style_order[2], ==, TD_HTML_STYLE_HEADING);
}

/* Nesting past the limit is not walked, however deep it goes. */
static void
test_deep (void)
{
  g_autoptr(GString) html = g_string_new ("<p>top</p>");
  g_autoptr(TdHtmlText) text = NULL;

  for (guint i = 0; i < 10000; i++)
    g_string_append (html, "<span>");
  g_string_append (html, "bottom");
  text = td_html_to_text (html->str, FALSE, NULL);
  g_assert_cmpstr (text->text, ==, "top");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/td/html-text/case/%u", i);

      g_test_add_data_func (name, &cases[i], test_case);
    }
  g_test_add_func ("/td/html-text/image-label", test_image_label);
  g_test_add_func ("/td/html-text/style-order", test_style_order);
  g_test_add_func ("/td/html-text/deep", test_deep);
  return g_test_run ();
}
