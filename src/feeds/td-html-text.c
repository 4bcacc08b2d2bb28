/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-html-text"

#include "config.h"

#include <string.h>

#include <libxml/HTMLparser.h>

#include "feeds/td-html-text.h"

/*
 * A walk of the tree libxml2 builds, writing text as a browser would lay
 * it out in one column: white space collapsed (kept in <pre>), blocks
 * separated by blank lines, list items numbered or bulleted. A stack of
 * open styles says which styles each piece of text gets; a space between
 * words takes only the styles open on both sides.
 */

typedef struct
{
  TdHtmlStyle style;
  guint       link;
  const char *href;
  gint        last_span;     /* index of this entry's last span, -1: none */
} OpenStyle;

typedef struct
{
  TdHtmlText *out;
  GString    *text;
  gboolean    continues;
  const char *image_label;
  GArray     *open;          /* OpenStyle, innermost last */
  gboolean    pre;           /* keep white space */
  gboolean    space_pending;
  guint       space_tags;    /* styles open when the pending space was seen */
  guint       newlines;      /* newlines at the end of the text so far */
  GArray     *list_counters; /* per open list: 0 for ul, n for ol */
  guint       n_links;
  gboolean    seen[TD_HTML_N_STYLES];
} Render;

static void
span_free (gpointer data)
{
  g_free (data);
}

void
td_html_text_free (TdHtmlText *text)
{
  if (text == NULL)
    return;
  g_free (text->text);
  g_ptr_array_unref (text->spans);
  g_ptr_array_unref (text->hrefs);
  g_free (text);
}

gboolean
td_html_link_is_safe (const char *href)
{
  g_autofree char *scheme = href ? g_uri_parse_scheme (href) : NULL;

  return scheme != NULL && (g_ascii_strcasecmp (scheme, "http") == 0
                            || g_ascii_strcasecmp (scheme, "https") == 0
                            || g_ascii_strcasecmp (scheme, "mailto") == 0);
}

static gboolean
at_start (Render *r)
{
  return !r->continues && r->text->len == 0;
}

/* A style is met: remembered in order, for the view's tag priorities. */
static void
note_style (Render      *r,
            TdHtmlStyle  style)
{
  if (style == TD_HTML_STYLE_LINK || r->seen[style])
    return;
  r->seen[style] = TRUE;
  r->out->style_order[r->out->n_styles++] = style;
}

static void
push_style (Render      *r,
            TdHtmlStyle  style,
            guint        link,
            const char  *href)
{
  OpenStyle open = { style, link, href, -1 };

  note_style (r, style);
  g_array_append_val (r->open, open);
}

static void
pop_style (Render *r)
{
  g_array_set_size (r->open, r->open->len - 1);
}

/* Marks characters [@start, @end) with @open's style, extending its last
 * span when they follow it. */
static void
add_span (Render    *r,
          OpenStyle *open,
          gsize      start,
          gsize      end)
{
  TdHtmlSpan *span;

  if (open->last_span >= 0)
    {
      span = g_ptr_array_index (r->out->spans, open->last_span);
      if (span->end == start)
        {
          span->end = end;
          return;
        }
    }
  span = g_new0 (TdHtmlSpan, 1);
  span->style = open->style;
  span->link = open->link;
  span->href = open->href;
  span->start = start;
  span->end = end;
  open->last_span = (gint) r->out->spans->len;
  g_ptr_array_add (r->out->spans, span);
}

/* Appends @text (@len bytes, -1: up to its NUL) with the first @n_styles
 * open styles. */
static void
insert_styled (Render     *r,
               const char *text,
               gssize      len,
               guint       n_styles)
{
  gsize start = r->out->n_chars;
  guint marked = 0;

  if (len < 0)
    len = (gssize) strlen (text);
  if (len == 0)
    return;
  g_string_append_len (r->text, text, len);
  r->out->n_chars += g_utf8_strlen (text, len);
  for (guint i = 0; i < MIN (n_styles, r->open->len); i++)
    {
      OpenStyle *open = &g_array_index (r->open, OpenStyle, i);

      /* A style open twice (a list in a list) marks the text once. */
      if (open->style != TD_HTML_STYLE_LINK && (marked & (1u << open->style)))
        continue;
      marked |= 1u << open->style;
      add_span (r, open, start, r->out->n_chars);
    }
}

static void
insert (Render     *r,
        const char *text,
        gssize      len)
{
  insert_styled (r, text, len, r->open->len);
}

/* A newline without styles. */
static void
insert_newline (Render *r)
{
  g_string_append_c (r->text, '\n');
  r->out->n_chars++;
}

/* Ends the current block with up to @n newlines (never at the start). */
static void
render_break (Render *r,
              guint   n)
{
  r->space_pending = FALSE;
  if (at_start (r))
    return;
  while (r->newlines < n)
    {
      insert_newline (r);
      r->newlines++;
    }
}

static void
render_text (Render     *r,
             const char *text)
{
  if (text == NULL || !g_utf8_validate (text, -1, NULL))
    return;

  if (r->pre)
    {
      insert (r, text, -1);
      r->newlines = g_str_has_suffix (text, "\n") ? 1 : 0;
      return;
    }

  /* Collapse white space as a browser would. */
  for (const char *p = text; *p; )
    {
      const char *word = p;

      if (g_ascii_isspace (*p))
        {
          while (*p && g_ascii_isspace (*p))
            p++;
          if (!r->space_pending)
            r->space_tags = r->open->len;
          r->space_pending = TRUE;
          continue;
        }
      while (*p && !g_ascii_isspace (*p))
        p++;
      /* A space between words takes only the styles open on both sides:
       * no underline before a link, no bold before a bold word. */
      if (r->space_pending && r->newlines == 0 && !at_start (r))
        insert_styled (r, " ", 1, r->space_tags);
      r->space_pending = FALSE;
      insert (r, word, p - word);
      r->newlines = 0;
    }
}

/* The image label with @alt in place of its "%s". */
static char *
image_text (const char *label,
            const char *alt)
{
  const char *at = strstr (label, "%s");

  if (at == NULL)
    return g_strconcat (label, " ", alt, NULL);
  return g_strdup_printf ("%.*s%s%s", (int) (at - label), label, alt, at + 2);
}

static void render_children (Render *r, xmlNode *node, guint depth);

/* The element a fragment is parsed in: one HTML does not know, so that
 * no tag of the fragment, stray or not, closes it. */
#define FRAGMENT_TAG "td-fragment"

/* Whether @html is a fragment rather than a document: no <html>, <head>,
 * <body> or doctype. */
static gboolean
is_fragment (const char *html)
{
  static const char *document_tags[] = { "<html", "<head", "<body", "<!doctype" };

  for (const char *p = strchr (html, '<'); p != NULL; p = strchr (p + 1, '<'))
    for (guint i = 0; i < G_N_ELEMENTS (document_tags); i++)
      if (g_ascii_strncasecmp (p, document_tags[i], strlen (document_tags[i])) == 0)
        return FALSE;
  return TRUE;
}

static void
render_element (Render  *r,
                xmlNode *node,
                guint    depth)
{
  const char *name = (const char *) node->name;
  gboolean styled = FALSE;
  guint block = 0;          /* newlines around the element */
  gboolean was_pre = r->pre;

  static const char * const dropped[] = {
    "script", "style", "head", "iframe", "frame", "frameset", "object", "embed", "noscript",
    "template", "form", "input", "button", "select", "textarea", "svg", "math", "canvas",
    "audio", "video", "source", "track", "link", "meta", "base", "title", "applet", NULL,
  };

  if (name == NULL || g_strv_contains (dropped, name))
    return;

  if (g_str_equal (name, "img"))
    {
      g_autofree char *alt = (char *) xmlGetProp (node, (const xmlChar *) "alt");

      if (alt != NULL && *g_strstrip (alt) != '\0')
        {
          g_autofree char *text = image_text (r->image_label, alt);

          push_style (r, TD_HTML_STYLE_DIM, 0, NULL);
          render_text (r, text);
          pop_style (r);
        }
      return;
    }

  if (g_str_equal (name, "br"))
    {
      insert_newline (r);
      r->newlines++;
      r->space_pending = FALSE;
      return;
    }
  if (g_str_equal (name, "hr"))
    {
      render_break (r, 2);
      insert (r, "⸻", -1);
      r->newlines = 0;
      render_break (r, 2);
      return;
    }

  if (g_str_equal (name, "b") || g_str_equal (name, "strong"))
    {
      push_style (r, TD_HTML_STYLE_BOLD, 0, NULL);
      styled = TRUE;
    }
  else if (g_str_equal (name, "i") || g_str_equal (name, "em") || g_str_equal (name, "cite"))
    {
      push_style (r, TD_HTML_STYLE_ITALIC, 0, NULL);
      styled = TRUE;
    }
  else if (g_str_equal (name, "code") || g_str_equal (name, "tt") || g_str_equal (name, "kbd")
           || g_str_equal (name, "samp"))
    {
      push_style (r, TD_HTML_STYLE_MONO, 0, NULL);
      styled = TRUE;
    }
  else if (g_str_equal (name, "pre"))
    {
      push_style (r, TD_HTML_STYLE_MONO, 0, NULL);
      styled = TRUE;
      block = 2;
      r->pre = TRUE;
    }
  else if (name[0] == 'h' && name[1] >= '1' && name[1] <= '6' && name[2] == '\0')
    {
      push_style (r, TD_HTML_STYLE_HEADING, 0, NULL);
      styled = TRUE;
      block = 2;
    }
  else if (g_str_equal (name, "blockquote"))
    {
      push_style (r, TD_HTML_STYLE_QUOTE, 0, NULL);
      styled = TRUE;
      block = 2;
    }
  else if (g_str_equal (name, "ul") || g_str_equal (name, "ol"))
    {
      guint counter = g_str_equal (name, "ol") ? 1 : 0;

      g_array_append_val (r->list_counters, counter);
      push_style (r, TD_HTML_STYLE_LIST, 0, NULL);
      styled = TRUE;
      block = 2;
    }
  else if (g_str_equal (name, "li"))
    {
      render_break (r, 1);
      if (r->list_counters->len > 0 && g_array_index (r->list_counters, guint, r->list_counters->len - 1) > 0)
        {
          guint *n = &g_array_index (r->list_counters, guint, r->list_counters->len - 1);
          g_autofree char *number = g_strdup_printf ("%u. ", (*n)++);

          insert (r, number, -1);
        }
      else
        insert (r, "• ", -1);
      r->newlines = 0;
      block = 1;
    }
  else if (g_str_equal (name, "a"))
    {
      g_autofree char *href = (char *) xmlGetProp (node, (const xmlChar *) "href");

      if (td_html_link_is_safe (href))
        {
          g_ptr_array_add (r->out->hrefs, g_steal_pointer (&href));
          push_style (r, TD_HTML_STYLE_LINK, ++r->n_links,
                      g_ptr_array_index (r->out->hrefs, r->out->hrefs->len - 1));
          styled = TRUE;
        }
    }
  else if (g_str_equal (name, "p") || g_str_equal (name, "div") || g_str_equal (name, "section")
           || g_str_equal (name, "article") || g_str_equal (name, "figure") || g_str_equal (name, "table")
           || g_str_equal (name, "dl") || g_str_equal (name, "header") || g_str_equal (name, "footer")
           || g_str_equal (name, "aside") || g_str_equal (name, "details") || g_str_equal (name, "main"))
    block = 2;
  else if (g_str_equal (name, "tr") || g_str_equal (name, "dt") || g_str_equal (name, "dd")
           || g_str_equal (name, "figcaption") || g_str_equal (name, "summary"))
    block = 1;
  else if (g_str_equal (name, "td") || g_str_equal (name, "th"))
    {
      if (!r->space_pending)
        r->space_tags = r->open->len;
      r->space_pending = TRUE;
    }

  /* Breaks are newlines without styles. */
  if (block > 0 && !g_str_equal (name, "li"))
    render_break (r, block);

  render_children (r, node->children, depth + 1);

  if (styled)
    pop_style (r);
  if (g_str_equal (name, "ul") || g_str_equal (name, "ol"))
    g_array_set_size (r->list_counters, r->list_counters->len - 1);
  r->pre = was_pre;
  if (block > 0)
    render_break (r, block);
}

static void
render_children (Render  *r,
                 xmlNode *node,
                 guint    depth)
{
  if (depth > TD_HTML_MAX_DEPTH)
    return;

  for (; node != NULL; node = node->next)
    {
      if (node->type == XML_TEXT_NODE || node->type == XML_CDATA_SECTION_NODE)
        render_text (r, (const char *) node->content);
      else if (node->type == XML_ELEMENT_NODE)
        render_element (r, node, depth);
    }
}

gboolean
td_html_looks_like_html (const char *text)
{
  g_return_val_if_fail (text != NULL, FALSE);

  return strchr (text, '<') != NULL || strchr (text, '&') != NULL;
}

TdHtmlText *
td_html_to_text (const char *html,
                 gboolean    continues,
                 const char *image_label)
{
  TdHtmlText *out = g_new0 (TdHtmlText, 1);
  Render r = { 0 };
  gsize trimmed;

  out->spans = g_ptr_array_new_with_free_func (span_free);
  out->hrefs = g_ptr_array_new_with_free_func (g_free);
  r.out = out;
  r.text = g_string_new (NULL);
  r.continues = continues;
  r.image_label = image_label ? image_label : "[Image: %s]";
  r.open = g_array_new (FALSE, FALSE, sizeof (OpenStyle));
  r.list_counters = g_array_new (FALSE, FALSE, sizeof (guint));

  if (html == NULL || *html == '\0')
    ;
  else if (!td_html_looks_like_html (html))
    {
      /* Plain text: keep its paragraphs. */
      g_auto(GStrv) paragraphs = g_strsplit (html, "\n\n", -1);

      for (guint i = 0; paragraphs[i] != NULL; i++)
        {
          render_text (&r, paragraphs[i]);
          render_break (&r, 2);
        }
    }
  else
    {
      /* A fragment (what feeds carry) is parsed inside an element of its
       * own: at the top of a document libxml2 takes text that is only
       * whitespace for layout and drops it, the space in "<b>a</b> <i>b</i>". */
      gboolean fragment = is_fragment (html);
      g_autofree char *wrapped = fragment ? g_strconcat ("<" FRAGMENT_TAG ">", html, "</" FRAGMENT_TAG ">", NULL) : NULL;
      const char *source = fragment ? wrapped : html;
      /* No network, no entity loading beyond HTML's own; tag soup is
       * recovered; errors are not printed. */
      htmlDocPtr doc = htmlReadMemory (source, (int) MIN (strlen (source), (gsize) G_MAXINT), NULL, "UTF-8",
                                       HTML_PARSE_RECOVER | HTML_PARSE_NONET | HTML_PARSE_NOERROR
                                       | HTML_PARSE_NOWARNING | HTML_PARSE_NOIMPLIED);
      xmlNode *top = doc != NULL ? doc->children : NULL;

      /* NOIMPLIED keeps fragments as they are: walk every top node, and
       * the wrapper's children in its place (and anything that ended up
       * after it). */
      if (fragment && top != NULL && top->type == XML_ELEMENT_NODE && xmlStrEqual (top->name, BAD_CAST FRAGMENT_TAG))
        {
          render_children (&r, top->children, 0);
          render_children (&r, top->next, 0);
        }
      else if (doc != NULL && xmlDocGetRootElement (doc) != NULL)
        render_children (&r, doc->children, 0);
      g_clear_pointer (&doc, xmlFreeDoc);
    }

  /* No trailing blank lines, and no style left on what went. */
  trimmed = r.text->len;
  while (trimmed > 0 && r.text->str[trimmed - 1] == '\n')
    trimmed--;
  out->n_chars -= r.text->len - trimmed;
  g_string_truncate (r.text, trimmed);
  for (guint i = 0; i < out->spans->len; i++)
    {
      TdHtmlSpan *span = g_ptr_array_index (out->spans, i);

      span->end = MIN (span->end, out->n_chars);
      if (span->start >= span->end)
        g_ptr_array_remove_index (out->spans, i--);
    }

  out->text = g_string_free (r.text, FALSE);
  g_array_unref (r.open);
  g_array_unref (r.list_counters);
  return out;
}
