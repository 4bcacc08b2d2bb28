/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-feed-discover"

#include "config.h"

#include <string.h>

#include <libxml/HTMLparser.h>

#include "feeds/td-feed-discover.h"
#include "feeds/td-feed-parser.h"
#include "feeds/td-feed-private.h"

/* Hardened HTML options: no network, no error output. The HTML parser
 * never loads DTDs or expands custom entities. */
#define TD_HTML_OPTIONS (HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | \
                         HTML_PARSE_RECOVER | HTML_PARSE_COMPACT)

gboolean
td_feed_discover_is_feed_type (const char *type)
{
  static const char * const types[] = {
    "application/rss+xml", "application/atom+xml", "application/feed+json",
    "application/rdf+xml", "application/json", "application/x.atom+xml",
    "application/x-atom+xml", "application/x-rss+xml", "text/xml", "application/xml",
  };
  gsize n;

  if (type == NULL)
    return FALSE;

  while (g_ascii_isspace (*type))
    type++;
  n = strcspn (type, "; \t");

  for (guint i = 0; i < G_N_ELEMENTS (types); i++)
    if (strlen (types[i]) == n && g_ascii_strncasecmp (type, types[i], n) == 0)
      return TRUE;
  return FALSE;
}

static char *
html_attr (xmlNode    *node,
           const char *name)
{
  for (xmlAttr *a = node->properties; a != NULL; a = a->next)
    {
      GString *out;
      gsize budget = 0;
      char *value;

      if (g_ascii_strcasecmp ((const char *) a->name, name) != 0)
        continue;

      out = g_string_new (NULL);
      _td_xml_collect_text (out, a->children, TD_FEED_MAX_FIELD_LENGTH, &budget);
      value = g_strstrip (g_string_free (out, FALSE));
      if (*value == '\0')
        {
          g_free (value);
          return NULL;
        }
      return value;
    }
  return NULL;
}

static gboolean
rel_has_alternate (const char *rel)
{
  g_auto(GStrv) tokens = NULL;

  if (rel == NULL)
    return FALSE;

  tokens = g_strsplit_set (rel, " \t\r\n\f", -1);
  for (guint i = 0; tokens[i] != NULL; i++)
    if (g_ascii_strcasecmp (tokens[i], "alternate") == 0)
      {
        /* "alternate stylesheet" is a stylesheet, not a feed */
        for (guint j = 0; tokens[j] != NULL; j++)
          if (g_ascii_strcasecmp (tokens[j], "stylesheet") == 0)
            return FALSE;
        return TRUE;
      }
  return FALSE;
}

typedef struct
{
  GPtrArray  *links;
  GHashTable *seen;
  char       *base;    /* page URL or <base href>, resolved */
} Discovery;

static void
find_base (Discovery *d,
           xmlNode   *node)
{
  for (xmlNode *n = node; n != NULL; n = n->next)
    {
      if (n->type != XML_ELEMENT_NODE)
        continue;
      if (g_ascii_strcasecmp ((const char *) n->name, "base") == 0)
        {
          g_autofree char *href = html_attr (n, "href");

          if (href != NULL)
            {
              char *resolved = _td_feed_resolve_url (d->base, href);
              g_free (d->base);
              d->base = resolved;
              return;
            }
        }
      if (n->children != NULL)
        {
          char *before = d->base;
          find_base (d, n->children);
          if (d->base != before)
            return;
        }
    }
}

static void
find_links (Discovery *d,
            xmlNode   *node)
{
  for (xmlNode *n = node; n != NULL; n = n->next)
    {
      if (d->links->len >= TD_FEED_DISCOVER_MAX_LINKS)
        return;
      if (n->type != XML_ELEMENT_NODE)
        continue;

      if (g_ascii_strcasecmp ((const char *) n->name, "link") == 0)
        {
          g_autofree char *rel = html_attr (n, "rel");
          g_autofree char *type = html_attr (n, "type");
          g_autofree char *href = html_attr (n, "href");

          if (href != NULL && rel_has_alternate (rel) && td_feed_discover_is_feed_type (type))
            {
              char *resolved = _td_feed_resolve_url (d->base, href);

              if (!g_hash_table_contains (d->seen, resolved))
                {
                  TdFeedLink *link = td_feed_link_new ();

                  link->rel = g_strdup ("alternate");
                  link->type = g_ascii_strdown (type, strcspn (type, "; \t"));
                  link->href = resolved;
                  link->title = html_attr (n, "title");
                  g_hash_table_add (d->seen, g_strdup (resolved));
                  g_ptr_array_add (d->links, link);
                }
              else
                g_free (resolved);
            }
        }

      if (n->children != NULL)
        find_links (d, n->children);
    }
}

GPtrArray *
td_feed_discover (const char *data,
                  gsize       len,
                  const char *page_url,
                  const char *content_type)
{
  g_autofree char *charset = _td_feed_content_type_charset (content_type);
  Discovery d = { NULL, NULL, NULL };
  htmlDocPtr doc;
  xmlNode *root;

  d.links = g_ptr_array_new_with_free_func ((GDestroyNotify) td_feed_link_free);

  if (data == NULL || len == 0)
    return d.links;

  len = MIN (len, TD_FEED_DISCOVER_MAX_PAGE_SIZE);
  _td_xml_init ();

  doc = htmlReadMemory (data, (int) len, page_url, charset, TD_HTML_OPTIONS);
  if (doc == NULL)
    return d.links;

  root = xmlDocGetRootElement (doc);
  if (root != NULL)
    {
      d.seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      d.base = page_url && _td_feed_url_is_absolute (page_url) ? g_strdup (page_url) : NULL;
      find_base (&d, root);
      find_links (&d, root);
      g_hash_table_unref (d.seen);
      g_free (d.base);
    }

  xmlFreeDoc (doc);
  return d.links;
}
