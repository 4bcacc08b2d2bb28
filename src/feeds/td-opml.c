/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-opml"

#include "config.h"

#include <string.h>

#include <libxml/tree.h>

#include "feeds/td-feed-parser.h"
#include "feeds/td-feed-private.h"
#include "feeds/td-opml.h"

/* A hostile file can produce a warning per outline; a few examples tell
 * the user what happened. */
#define TD_OPML_MAX_WARNINGS 50

G_DEFINE_QUARK (td-opml-error-quark, td_opml_error)

/* ------------------------------------------------------------------ */
/* Model                                                               */
/* ------------------------------------------------------------------ */

TdOpml *
td_opml_new (const char *title)
{
  TdOpml *opml = g_new0 (TdOpml, 1);

  opml->title = g_strdup (title);
  opml->outlines = g_ptr_array_new_with_free_func ((GDestroyNotify) td_opml_outline_free);
  opml->warnings = g_ptr_array_new_with_free_func (g_free);
  return opml;
}

void
td_opml_free (TdOpml *opml)
{
  if (opml == NULL)
    return;
  g_free (opml->title);
  g_clear_pointer (&opml->outlines, g_ptr_array_unref);
  g_clear_pointer (&opml->warnings, g_ptr_array_unref);
  g_free (opml);
}

TdOpmlOutline *
td_opml_outline_new_feed (const char *title,
                          const char *xml_url,
                          const char *html_url)
{
  TdOpmlOutline *outline = g_new0 (TdOpmlOutline, 1);

  g_return_val_if_fail (xml_url != NULL, outline);

  outline->title = g_strdup (title ? title : xml_url);
  outline->xml_url = g_strdup (xml_url);
  outline->html_url = g_strdup (html_url);
  return outline;
}

TdOpmlOutline *
td_opml_outline_new_folder (const char *title)
{
  TdOpmlOutline *outline = g_new0 (TdOpmlOutline, 1);

  outline->title = g_strdup (title ? title : "");
  outline->children = g_ptr_array_new_with_free_func ((GDestroyNotify) td_opml_outline_free);
  return outline;
}

void
td_opml_outline_free (TdOpmlOutline *outline)
{
  if (outline == NULL)
    return;
  g_free (outline->title);
  g_free (outline->xml_url);
  g_free (outline->html_url);
  g_clear_pointer (&outline->children, g_ptr_array_unref);
  g_free (outline);
}

void
td_opml_outline_add (TdOpmlOutline *folder,
                     TdOpmlOutline *child)
{
  g_return_if_fail (folder != NULL && folder->children != NULL);
  g_return_if_fail (child != NULL);

  g_ptr_array_add (folder->children, child);
}

static guint
count_feeds (GPtrArray *outlines)
{
  guint n = 0;

  for (guint i = 0; outlines != NULL && i < outlines->len; i++)
    {
      TdOpmlOutline *o = g_ptr_array_index (outlines, i);

      if (o->xml_url != NULL)
        n++;
      n += count_feeds (o->children);
    }
  return n;
}

guint
td_opml_count_feeds (const TdOpml *opml)
{
  g_return_val_if_fail (opml != NULL, 0);
  return count_feeds (opml->outlines);
}

/* ------------------------------------------------------------------ */
/* Import                                                              */
/* ------------------------------------------------------------------ */

typedef struct
{
  TdOpml     *opml;
  const char *base_url;
  guint       n_outlines;
  gsize       entity_budget;
  gboolean    dropped_outlines;
} Reader;

static void
reader_warn (Reader     *r,
             const char *format,
             ...) G_GNUC_PRINTF (2, 3);

static void
reader_warn (Reader     *r,
             const char *format,
             ...)
{
  va_list args;

  if (r->opml->warnings->len >= TD_OPML_MAX_WARNINGS)
    return;
  va_start (args, format);
  g_ptr_array_add (r->opml->warnings, g_strdup_vprintf (format, args));
  va_end (args);
}

/* OPML attribute names are matched without case: xmlUrl, xmlurl, XMLURL
 * all occur in the wild. */
static char *
attr_get (Reader     *r,
          xmlNode    *node,
          const char *name)
{
  for (xmlAttr *a = node->properties; a != NULL; a = a->next)
    {
      GString *out;
      char *value;

      if (a->ns != NULL || g_ascii_strcasecmp ((const char *) a->name, name) != 0)
        continue;

      out = g_string_new (NULL);
      _td_xml_collect_text (out, a->children, TD_FEED_MAX_FIELD_LENGTH, &r->entity_budget);
      /* A document that is not UTF-8 (a charset libxml2 does not know,
       * recovered errors) can leave other bytes in the text; titles and
       * URLs go to the window and the database, so make them UTF-8 the
       * way the feed parser does. */
      value = g_strstrip (_td_feed_utf8_clamp (out->str, (gssize) out->len, TD_FEED_MAX_FIELD_LENGTH));
      g_string_free (out, TRUE);
      if (*value == '\0')
        {
          g_free (value);
          return NULL;
        }
      return value;
    }
  return NULL;
}

/* Returns a usable feed URL or NULL: http(s) or file, feed:// rewritten. */
static char *
clean_url (Reader     *r,
           const char *url)
{
  g_autofree char *resolved = NULL;

  if (url == NULL)
    return NULL;

  if (g_ascii_strncasecmp (url, "feed://", 7) == 0)
    resolved = g_strconcat ("http://", url + 7, NULL);
  else if (g_ascii_strncasecmp (url, "feed:", 5) == 0 &&
           (g_ascii_strncasecmp (url + 5, "http://", 7) == 0 || g_ascii_strncasecmp (url + 5, "https://", 8) == 0))
    resolved = g_strdup (url + 5);
  else
    resolved = _td_feed_resolve_url (r->base_url, url);

  if (!_td_feed_url_is_absolute (resolved))
    return NULL;

  if (g_ascii_strncasecmp (resolved, "http:", 5) == 0 ||
      g_ascii_strncasecmp (resolved, "https:", 6) == 0 ||
      g_ascii_strncasecmp (resolved, "file:", 5) == 0)
    return g_steal_pointer (&resolved);

  return NULL;
}

static void
read_outlines (Reader    *r,
               xmlNode   *first,
               GPtrArray *into,
               guint      depth)
{
  for (xmlNode *n = first; n != NULL; n = n->next)
    {
      g_autofree char *xml_url = NULL;
      g_autofree char *title = NULL;

      if (n->type != XML_ELEMENT_NODE || g_ascii_strcasecmp ((const char *) n->name, "outline") != 0)
        continue;

      if (r->n_outlines >= TD_OPML_MAX_OUTLINES)
        {
          if (!r->dropped_outlines)
            reader_warn (r, "more than %d outlines; the rest were dropped", TD_OPML_MAX_OUTLINES);
          r->dropped_outlines = TRUE;
          return;
        }
      r->n_outlines++;

      title = attr_get (r, n, "title");
      if (title == NULL)
        title = attr_get (r, n, "text");
      xml_url = attr_get (r, n, "xmlUrl");

      if (xml_url != NULL)
        {
          g_autofree char *url = clean_url (r, xml_url);
          g_autofree char *html_raw = attr_get (r, n, "htmlUrl");
          g_autofree char *html_url = NULL;

          if (html_raw != NULL)
            {
              html_url = _td_feed_resolve_url (r->base_url, html_raw);
              if (g_ascii_strncasecmp (html_url, "http:", 5) != 0 &&
                  g_ascii_strncasecmp (html_url, "https:", 6) != 0)
                g_clear_pointer (&html_url, g_free);
            }

          if (url == NULL)
            {
              g_autofree char *shown = _td_feed_utf8_clamp (xml_url, -1, 100);
              reader_warn (r, "feed URL \"%s\" dropped: not http, https or file", shown);
            }
          else
            g_ptr_array_add (into, td_opml_outline_new_feed (title, url, html_url));

          /* Feeds inside a feed: read them as its siblings. */
          if (n->children != NULL)
            read_outlines (r, n->children, into, depth);
        }
      else if (n->children != NULL)
        {
          if (depth >= TD_OPML_MAX_FOLDER_DEPTH)
            {
              read_outlines (r, n->children, into, depth);
              continue;
            }
          else
            {
              TdOpmlOutline *folder = td_opml_outline_new_folder (title);

              read_outlines (r, n->children, folder->children, depth + 1);
              if (folder->children->len > 0)
                g_ptr_array_add (into, folder);
              else
                td_opml_outline_free (folder);
            }
        }
    }
}

static xmlNode *
child_element (xmlNode    *node,
               const char *name)
{
  for (xmlNode *n = node->children; n != NULL; n = n->next)
    if (n->type == XML_ELEMENT_NODE && g_ascii_strcasecmp ((const char *) n->name, name) == 0)
      return n;
  return NULL;
}

TdOpml *
td_opml_parse (const char  *data,
               gsize        len,
               const char  *base_url,
               GError     **error)
{
  g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) local_error = NULL;
  g_autofree char *not_well_formed = NULL;
  g_autoptr(TdOpml) opml = NULL;
  xmlDocPtr doc;
  xmlNode *root, *head, *body;
  Reader r;

  g_return_val_if_fail (data != NULL || len == 0, NULL);

  if (len == 0)
    {
      g_set_error (error, TD_OPML_ERROR, TD_OPML_ERROR_INVALID, "empty document");
      return NULL;
    }
  if (len > TD_OPML_MAX_DOCUMENT_SIZE)
    {
      g_set_error (error, TD_OPML_ERROR, TD_OPML_ERROR_TOO_LARGE,
                   "OPML file over the %d MiB limit", TD_OPML_MAX_DOCUMENT_SIZE / (1024 * 1024));
      return NULL;
    }

  doc = _td_xml_read_hardened (data, len, base_url, NULL, &not_well_formed, warnings, &local_error);
  if (doc == NULL)
    {
      g_set_error (error, TD_OPML_ERROR, TD_OPML_ERROR_INVALID, "%s", local_error->message);
      return NULL;
    }

  root = xmlDocGetRootElement (doc);
  if (g_ascii_strcasecmp ((const char *) root->name, "opml") != 0)
    {
      g_set_error (error, TD_OPML_ERROR, TD_OPML_ERROR_INVALID,
                   "not OPML: the document element is <%s>", (const char *) root->name);
      xmlFreeDoc (doc);
      return NULL;
    }

  opml = td_opml_new (NULL);
  if (not_well_formed != NULL)
    g_ptr_array_add (opml->warnings, g_steal_pointer (&not_well_formed));
  for (guint i = 0; i < warnings->len; i++)
    g_ptr_array_add (opml->warnings, g_strdup (g_ptr_array_index (warnings, i)));

  memset (&r, 0, sizeof r);
  r.opml = opml;
  r.base_url = base_url && _td_feed_url_is_absolute (base_url) ? base_url : NULL;
  r.entity_budget = TD_FEED_MAX_ENTITY_EXPANSION;

  head = child_element (root, "head");
  if (head != NULL)
    {
      xmlNode *title = child_element (head, "title");

      if (title != NULL)
        {
          GString *out = g_string_new (NULL);

          _td_xml_collect_text (out, title->children, TD_FEED_MAX_FIELD_LENGTH, &r.entity_budget);
          opml->title = g_strstrip (_td_feed_utf8_clamp (out->str, (gssize) out->len, TD_FEED_MAX_FIELD_LENGTH));
          g_string_free (out, TRUE);
          if (*opml->title == '\0')
            g_clear_pointer (&opml->title, g_free);
        }
    }

  body = child_element (root, "body");
  if (body != NULL)
    read_outlines (&r, body->children, opml->outlines, 0);
  else
    reader_warn (&r, "OPML without a body");

  xmlFreeDoc (doc);
  return g_steal_pointer (&opml);
}

/* ------------------------------------------------------------------ */
/* Export                                                              */
/* ------------------------------------------------------------------ */

/* Valid UTF-8 without the control characters XML 1.0 cannot carry. */
static char *
clean_text (const char *text)
{
  char *clean = _td_feed_utf8_clamp (text ? text : "", -1, TD_FEED_MAX_FIELD_LENGTH);
  char *w = clean;

  for (const char *c = clean; *c != '\0'; c++)
    if ((guchar) *c >= 0x20 || *c == '\t' || *c == '\n' || *c == '\r')
      *w++ = *c;
  *w = '\0';
  return clean;
}

static void
set_attr (xmlNode    *node,
          const char *name,
          const char *value)
{
  g_autofree char *clean = NULL;

  if (value == NULL)
    return;
  clean = clean_text (value);
  xmlNewProp (node, BAD_CAST name, BAD_CAST clean);
}

static void
write_outlines (xmlNode   *parent,
                GPtrArray *outlines,
                guint      depth)
{
  for (guint i = 0; outlines != NULL && i < outlines->len; i++)
    {
      TdOpmlOutline *o = g_ptr_array_index (outlines, i);

      if (o->xml_url != NULL)
        {
          xmlNode *node = xmlNewChild (parent, NULL, BAD_CAST "outline", NULL);

          set_attr (node, "type", "rss");
          set_attr (node, "text", o->title ? o->title : o->xml_url);
          set_attr (node, "title", o->title ? o->title : o->xml_url);
          set_attr (node, "xmlUrl", o->xml_url);
          set_attr (node, "htmlUrl", o->html_url);
        }
      else if (o->children != NULL)
        {
          xmlNode *node;

          /* Too deep: flatten into the deepest folder written. */
          if (depth >= TD_OPML_MAX_FOLDER_DEPTH)
            {
              write_outlines (parent, o->children, depth);
              continue;
            }

          node = xmlNewChild (parent, NULL, BAD_CAST "outline", NULL);
          set_attr (node, "text", o->title ? o->title : "");
          set_attr (node, "title", o->title ? o->title : "");
          write_outlines (node, o->children, depth + 1);
        }
    }
}

char *
td_opml_to_string (const TdOpml *opml,
                   gsize        *len)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *date = NULL;
  xmlDocPtr doc;
  xmlNode *root, *head, *body, *title;
  xmlChar *mem = NULL;
  int size = 0;
  char *out;

  g_return_val_if_fail (opml != NULL, NULL);

  _td_xml_init ();

  doc = xmlNewDoc (BAD_CAST "1.0");
  root = xmlNewNode (NULL, BAD_CAST "opml");
  xmlNewProp (root, BAD_CAST "version", BAD_CAST "2.0");
  xmlDocSetRootElement (doc, root);

  head = xmlNewChild (root, NULL, BAD_CAST "head", NULL);
  title = xmlNewChild (head, NULL, BAD_CAST "title", NULL);
  {
    g_autofree char *clean = clean_text (opml->title ? opml->title : "Tidings subscriptions");
    xmlNodeAddContent (title, BAD_CAST clean);
  }
  /* RFC 822, as OPML 2.0 asks; C locale names by construction. */
  {
    static const char * const days[] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
    static const char * const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    date = g_strdup_printf ("%s, %02d %s %04d %02d:%02d:%02d GMT",
                            days[g_date_time_get_day_of_week (now) - 1],
                            g_date_time_get_day_of_month (now),
                            months[g_date_time_get_month (now) - 1],
                            g_date_time_get_year (now),
                            g_date_time_get_hour (now),
                            g_date_time_get_minute (now),
                            g_date_time_get_second (now));
    xmlNewTextChild (head, NULL, BAD_CAST "dateCreated", BAD_CAST date);
  }

  body = xmlNewChild (root, NULL, BAD_CAST "body", NULL);
  write_outlines (body, opml->outlines, 0);

  xmlDocDumpFormatMemoryEnc (doc, &mem, &size, "UTF-8", 1);
  xmlFreeDoc (doc);

  out = g_strndup ((const char *) mem, size);
  xmlFree (mem);
  if (len != NULL)
    *len = size;
  return out;
}
