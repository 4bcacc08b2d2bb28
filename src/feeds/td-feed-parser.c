/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-feed-parser"

#include "config.h"

#include <string.h>

#include <json-glib/json-glib.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/entities.h>

#include "feeds/td-feed-date.h"
#include "feeds/td-feed-parser.h"
#include "feeds/td-feed-private.h"

#define NS_ATOM10   "http://www.w3.org/2005/Atom"
#define NS_ATOM03   "http://purl.org/atom/ns#"
#define NS_RSS10    "http://purl.org/rss/1.0/"
#define NS_RSS090   "http://my.netscape.com/rdf/simple/0.9/"
#define NS_RDF      "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
#define NS_CONTENT  "http://purl.org/rss/1.0/modules/content/"
#define NS_DC       "http://purl.org/dc/elements/1.1/"
#define NS_DCTERMS  "http://purl.org/dc/terms/"
#define NS_XHTML    "http://www.w3.org/1999/xhtml"
#define NS_ITUNES   "http://www.itunes.com/dtds/podcast-1.0.dtd"
#define NS_MEDIA    "http://search.yahoo.com/mrss/"

/* Bad dates are reported, but a feed with a broken generator would report
 * one per entry; a few examples are enough. */
#define TD_FEED_MAX_DATE_WARNINGS 5

G_DEFINE_QUARK (td-feed-error-quark, td_feed_error)

/* ------------------------------------------------------------------ */
/* Parser state                                                        */
/* ------------------------------------------------------------------ */

/* What an element inherits: xml:base (already resolved) and xml:lang. */
typedef struct
{
  const char *base;
  const char *lang;
} Scope;

typedef struct
{
  TdFeed     *feed;
  GPtrArray  *pool;          /* strings that scopes borrow */
  gsize       entity_budget; /* bytes internal entities may still expand to */
  guint       n_date_warnings;
  gboolean    truncated;
  gboolean    entries_dropped;
  gboolean    lists_capped;
} Parser;

static void
parser_init (Parser *p,
             TdFeed *feed)
{
  memset (p, 0, sizeof *p);
  p->feed = feed;
  p->entity_budget = TD_FEED_MAX_ENTITY_EXPANSION;
  p->pool = g_ptr_array_new_with_free_func (g_free);
}

static void
parser_clear (Parser *p)
{
  g_clear_pointer (&p->pool, g_ptr_array_unref);
}

static const char *
parser_keep (Parser *p,
             char   *s)
{
  g_ptr_array_add (p->pool, s);
  return s;
}

static void
parser_note_truncated (Parser *p)
{
  if (!p->truncated)
    td_feed_add_warning (p->feed, "a value longer than the limit was cut");
  p->truncated = TRUE;
}

/* Returns TRUE if another entry may be added. */
static gboolean
parser_may_add_entry (Parser *p)
{
  if (p->feed->entries->len < TD_FEED_MAX_ENTRIES)
    return TRUE;
  if (!p->entries_dropped)
    td_feed_add_warning (p->feed, "more than %d entries; the rest were dropped", TD_FEED_MAX_ENTRIES);
  p->entries_dropped = TRUE;
  return FALSE;
}

/* Appends to a lazily created list, up to TD_FEED_MAX_LIST_LENGTH. Takes
 * @item. */
static void
list_add (Parser         *p,
          GPtrArray     **list,
          gpointer        item,
          GDestroyNotify  free_func)
{
  if (*list == NULL)
    *list = g_ptr_array_new_with_free_func (free_func);

  if ((*list)->len >= TD_FEED_MAX_LIST_LENGTH)
    {
      if (!p->lists_capped)
        td_feed_add_warning (p->feed, "more than %d links, authors, categories or enclosures in one entry; the rest were dropped",
                             TD_FEED_MAX_LIST_LENGTH);
      p->lists_capped = TRUE;
      free_func (item);
      return;
    }

  g_ptr_array_add (*list, item);
}

/* Sets *@slot to @value (taken) unless it is already set. */
static void
set_first (char **slot,
           char  *value)
{
  if (*slot == NULL && value != NULL)
    *slot = value;
  else
    g_free (value);
}

static void
set_date (Parser     *p,
          gint64     *slot,
          const char *text)
{
  gint64 date;

  if (text == NULL || TD_FEED_DATE_IS_VALID (*slot))
    return;

  if (td_feed_date_parse (text, &date))
    {
      *slot = date;
      return;
    }

  *slot = TD_FEED_DATE_INVALID;
  if (p->n_date_warnings < TD_FEED_MAX_DATE_WARNINGS)
    {
      g_autofree char *shown = _td_feed_utf8_clamp (text, -1, 80);
      td_feed_add_warning (p->feed, "unparseable date \"%s\"", shown);
    }
  p->n_date_warnings++;
}

static gint64
parse_length (const char *text)
{
  guint64 v;

  if (text == NULL)
    return -1;
  while (g_ascii_isspace (*text))
    text++;
  if (!g_ascii_string_to_unsigned (text, 10, 0, G_MAXINT64, &v, NULL))
    return -1;
  return (gint64) v;
}

static void
entry_add_link (Parser      *p,
                TdFeedEntry *entry,
                const char  *rel,
                const char  *type,
                char        *href,     /* taken */
                const char  *title,
                gint64       length)
{
  TdFeedLink *link;

  if (href == NULL || *href == '\0')
    {
      g_free (href);
      return;
    }

  link = td_feed_link_new ();
  link->rel = g_strdup (rel ? rel : "alternate");
  link->type = g_strdup (type);
  link->href = href;
  link->title = g_strdup (title);
  link->length = length;
  list_add (p, &entry->links, link, (GDestroyNotify) td_feed_link_free);
}

static gboolean
entry_has_enclosure (TdFeedEntry *entry,
                     const char  *url)
{
  for (guint i = 0; entry->enclosures != NULL && i < entry->enclosures->len; i++)
    {
      TdFeedEnclosure *e = g_ptr_array_index (entry->enclosures, i);
      if (g_strcmp0 (e->url, url) == 0)
        return TRUE;
    }
  return FALSE;
}

static void
entry_add_enclosure (Parser      *p,
                     TdFeedEntry *entry,
                     const char  *url,
                     const char  *type,
                     gint64       length)
{
  TdFeedEnclosure *enc;

  if (url == NULL || *url == '\0' || entry_has_enclosure (entry, url))
    return;

  enc = td_feed_enclosure_new ();
  enc->url = g_strdup (url);
  enc->type = g_strdup (type);
  enc->length = length;
  list_add (p, &entry->enclosures, enc, (GDestroyNotify) td_feed_enclosure_free);
}

static void
entry_add_category (Parser      *p,
                    TdFeedEntry *entry,
                    char        *term,    /* all taken */
                    char        *scheme,
                    char        *label)
{
  TdFeedCategory *cat;

  if ((term == NULL || *term == '\0') && (label == NULL || *label == '\0'))
    {
      g_free (term);
      g_free (scheme);
      g_free (label);
      return;
    }

  cat = td_feed_category_new ();
  cat->term = term;
  cat->scheme = scheme;
  cat->label = label;
  list_add (p, &entry->categories, cat, (GDestroyNotify) td_feed_category_free);
}

static void
entry_add_person (Parser       *p,
                  GPtrArray   **list,
                  TdFeedPerson *person)   /* taken */
{
  if (person == NULL)
    return;
  if (person->name == NULL && person->email == NULL && person->uri == NULL)
    {
      td_feed_person_free (person);
      return;
    }
  list_add (p, list, person, (GDestroyNotify) td_feed_person_free);
}

static void
entry_add_content (Parser        *p,
                   TdFeedEntry   *entry,
                   TdFeedContent *content)  /* taken */
{
  list_add (p, &entry->content, content, (GDestroyNotify) td_feed_content_free);
}

/* The display link: the first alternate of type text/html (or XHTML),
 * else the first alternate. */
static void
entry_choose_link (TdFeedEntry *entry)
{
  TdFeedLink *any = NULL;

  if (entry->link != NULL || entry->links == NULL)
    return;

  for (guint i = 0; i < entry->links->len; i++)
    {
      TdFeedLink *link = g_ptr_array_index (entry->links, i);

      if (g_strcmp0 (link->rel, "alternate") != 0)
        continue;
      if (link->type != NULL && (g_ascii_strcasecmp (link->type, "text/html") == 0 ||
                                 g_ascii_strcasecmp (link->type, "application/xhtml+xml") == 0))
        {
          entry->link = g_strdup (link->href);
          return;
        }
      if (any == NULL)
        any = link;
    }

  if (any != NULL)
    entry->link = g_strdup (any->href);
}

static void
inherit_authors (TdFeed *feed)
{
  if (feed->info->authors == NULL)
    return;

  for (guint i = 0; i < feed->entries->len; i++)
    {
      TdFeedEntry *entry = g_ptr_array_index (feed->entries, i);

      if (entry->authors != NULL && entry->authors->len > 0)
        continue;
      g_clear_pointer (&entry->authors, g_ptr_array_unref);
      entry->authors = g_ptr_array_new_with_free_func ((GDestroyNotify) td_feed_person_free);
      for (guint j = 0; j < feed->info->authors->len; j++)
        g_ptr_array_add (entry->authors, td_feed_person_copy (g_ptr_array_index (feed->info->authors, j)));
    }
}

/* RSS "email (Name)", "Name <email>", an email, or a name. */
static TdFeedPerson *
parse_person_string (const char *text)
{
  g_autofree char *s = NULL;
  TdFeedPerson *person;
  char *open;

  if (text == NULL)
    return NULL;
  s = g_strstrip (g_strdup (text));
  if (*s == '\0')
    return NULL;

  person = td_feed_person_new ();

  if ((open = strchr (s, '(')) != NULL && strchr (s, '@') != NULL && strchr (s, '@') < open)
    {
      char *close = strrchr (open, ')');
      if (close != NULL)
        *close = '\0';
      person->name = g_strstrip (g_strdup (open + 1));
      *open = '\0';
      person->email = g_strstrip (g_strdup (s));
    }
  else if ((open = strchr (s, '<')) != NULL && strchr (open, '@') != NULL)
    {
      char *close = strchr (open, '>');
      if (close != NULL)
        *close = '\0';
      person->email = g_strstrip (g_strdup (open + 1));
      *open = '\0';
      person->name = g_strstrip (g_strdup (s));
    }
  else if (strchr (s, '@') != NULL && strchr (s, ' ') == NULL)
    person->email = g_strdup (s);
  else
    person->name = g_strdup (s);

  if (person->name != NULL && *person->name == '\0')
    g_clear_pointer (&person->name, g_free);
  if (person->email != NULL && *person->email == '\0')
    g_clear_pointer (&person->email, g_free);

  return person;
}

/* ------------------------------------------------------------------ */
/* Reading the tree                                                    */
/* ------------------------------------------------------------------ */

static gboolean
name_is (xmlNode    *node,
         const char *name)
{
  return strcmp ((const char *) node->name, name) == 0;
}

static gboolean
ns_is (xmlNode    *node,
       const char *href)
{
  return node->ns != NULL && node->ns->href != NULL &&
         strcmp ((const char *) node->ns->href, href) == 0;
}

/* Elements of RSS proper: no namespace, the RSS 1.0/0.90 ones, or one of
 * the namespaces some RSS 2.0 generators invented. */
static gboolean
is_rss_ns (xmlNode *node)
{
  static const char * const known[] = {
    NS_RSS10, NS_RSS090,
    "http://backend.userland.com/rss2",
    "http://blogs.law.harvard.edu/tech/rss",
    "http://purl.org/rss/2.0/",
  };

  if (node->ns == NULL || node->ns->href == NULL)
    return TRUE;
  for (guint i = 0; i < G_N_ELEMENTS (known); i++)
    if (strcmp ((const char *) node->ns->href, known[i]) == 0)
      return TRUE;
  return FALSE;
}

/* A document recovered from a wrong or unknown charset can leave bytes
 * that are not UTF-8 in text and attributes; everything kept must be
 * UTF-8, so they become U+FFFD here, where all text enters. Takes @text. */
static char *
text_make_valid (char *text)
{
  char *valid;

  if (g_utf8_validate (text, -1, NULL))
    return text;
  valid = g_utf8_make_valid (text, -1);
  g_free (text);
  return valid;
}

static char *
node_text_full (Parser  *p,
                xmlNode *node,
                gsize    max)
{
  GString *out;
  xmlNode *child = node->children;

  /* Most elements hold one text node. */
  if (child != NULL && child->next == NULL &&
      (child->type == XML_TEXT_NODE || child->type == XML_CDATA_SECTION_NODE))
    {
      const char *text = (const char *) child->content;
      gsize n = text ? strlen (text) : 0;

      if (n <= max)
        return text_make_valid (g_strndup (text ? text : "", n));
    }

  out = g_string_new (NULL);
  if (!_td_xml_collect_text (out, node->children, max, &p->entity_budget))
    parser_note_truncated (p);
  return text_make_valid (g_string_free (out, FALSE));
}

/* The element's text, stripped; NULL when empty. */
static char *
node_text (Parser  *p,
           xmlNode *node)
{
  char *text = g_strstrip (node_text_full (p, node, TD_FEED_MAX_FIELD_LENGTH));

  if (*text == '\0')
    {
      g_free (text);
      return NULL;
    }
  return text;
}

/* The text of an attribute without namespace (or in @ns), bounded and
 * stripped; NULL when absent or empty. Entity references inside attribute
 * values go through the same bounded expansion as element text. */
static char *
attr_get_ns (Parser     *p,
             xmlNode    *node,
             const char *name,
             const char *ns)
{
  for (xmlAttr *a = node->properties; a != NULL; a = a->next)
    {
      GString *out;
      char *value;

      if (strcmp ((const char *) a->name, name) != 0)
        continue;
      if (ns == NULL ? a->ns != NULL : (a->ns == NULL || strcmp ((const char *) a->ns->href, ns) != 0))
        continue;

      /* Most attributes are one short text node. */
      if (a->children != NULL && a->children->next == NULL && a->children->type == XML_TEXT_NODE &&
          a->children->content != NULL && strlen ((const char *) a->children->content) <= TD_FEED_MAX_FIELD_LENGTH)
        value = g_strstrip (g_strdup ((const char *) a->children->content));
      else
        {
          out = g_string_new (NULL);
          _td_xml_collect_text (out, a->children, TD_FEED_MAX_FIELD_LENGTH, &p->entity_budget);
          value = g_strstrip (g_string_free (out, FALSE));
        }
      if (*value == '\0')
        {
          g_free (value);
          return NULL;
        }
      return text_make_valid (value);
    }

  return NULL;
}

static char *
attr_get (Parser     *p,
          xmlNode    *node,
          const char *name)
{
  return attr_get_ns (p, node, name, NULL);
}

static gboolean
has_element_children (xmlNode *node)
{
  for (xmlNode *n = node->children; n != NULL; n = n->next)
    if (n->type == XML_ELEMENT_NODE)
      return TRUE;
  return FALSE;
}

/* The scope of @node: its parent's, with its own xml:base resolved against
 * the parent's base (RFC 3986 §5.1) and its own xml:lang. */
static Scope
scope_enter (Parser      *p,
             const Scope *parent,
             xmlNode     *node)
{
  Scope s = *parent;

  for (xmlAttr *a = node->properties; a != NULL; a = a->next)
    {
      if (a->ns == NULL || a->ns->href == NULL ||
          strcmp ((const char *) a->ns->href, (const char *) XML_XML_NAMESPACE) != 0)
        continue;

      if (strcmp ((const char *) a->name, "base") == 0)
        {
          g_autofree char *value = attr_get_ns (p, node, "base", (const char *) XML_XML_NAMESPACE);
          if (value != NULL)
            s.base = parser_keep (p, _td_feed_resolve_url (parent->base, value));
        }
      else if (strcmp ((const char *) a->name, "lang") == 0)
        {
          char *value = attr_get_ns (p, node, "lang", (const char *) XML_XML_NAMESPACE);
          /* xml:lang="" means "no language" */
          s.lang = value ? parser_keep (p, value) : NULL;
        }
    }

  return s;
}

static char *
resolve_in_scope (const Scope *scope,
                  char        *ref)   /* taken */
{
  char *resolved;

  if (ref == NULL)
    return NULL;
  resolved = _td_feed_resolve_url (scope->base, ref);
  g_free (ref);
  return resolved;
}

/* HTML with relative links rewritten against @base. Takes @html. */
static char *
html_resolve (char       *html,
              const char *base)
{
  char *rewritten = _td_feed_html_resolve_urls (html, base);

  if (rewritten == NULL)
    return html;
  g_free (html);
  return rewritten;
}

/* ------------------------------------------------------------------ */
/* Serializing inline XHTML                                            */
/* ------------------------------------------------------------------ */

static gboolean
is_void_element (const char *name)
{
  static const char * const names[] = {
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link",
    "meta", "param", "source", "track", "wbr",
  };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (g_ascii_strcasecmp (name, names[i]) == 0)
      return TRUE;
  return FALSE;
}

static void
append_escaped (GString    *out,
                const char *text,
                gboolean    attribute)
{
  for (const char *s = text; s != NULL && *s != '\0'; s++)
    {
      switch (*s)
        {
        case '&': g_string_append (out, "&amp;"); break;
        case '<': g_string_append (out, "&lt;"); break;
        case '>': g_string_append (out, "&gt;"); break;
        case '"':
          if (attribute)
            g_string_append (out, "&quot;");
          else
            g_string_append_c (out, '"');
          break;
        default:
          g_string_append_c (out, *s);
        }
    }
}

static gboolean
is_url_attribute_name (const char *name)
{
  return g_ascii_strcasecmp (name, "href") == 0 || g_ascii_strcasecmp (name, "src") == 0 ||
         g_ascii_strcasecmp (name, "poster") == 0 || g_ascii_strcasecmp (name, "cite") == 0 ||
         g_ascii_strcasecmp (name, "background") == 0 || g_ascii_strcasecmp (name, "longdesc") == 0 ||
         g_ascii_strcasecmp (name, "action") == 0;
}

/* Writes @first and its siblings as markup: XHTML elements by local name,
 * others as prefix:name, no namespace declarations, relative URLs in
 * href/src/... resolved through the xml:base chain. Stops past @max. */
static void
serialize_nodes (Parser      *p,
                 xmlNode     *first,
                 const Scope *scope,
                 GString     *out,
                 gsize        max,
                 int          entity_depth)
{
  for (xmlNode *n = first; n != NULL; n = n->next)
    {
      if (out->len >= max)
        {
          parser_note_truncated (p);
          return;
        }

      switch (n->type)
        {
        case XML_TEXT_NODE:
        case XML_CDATA_SECTION_NODE:
          append_escaped (out, (const char *) n->content, FALSE);
          break;

        case XML_ENTITY_REF_NODE:
          {
            xmlEntityPtr ent = (xmlEntityPtr) n->children;

            if (ent != NULL && ent->type == XML_ENTITY_DECL &&
                ent->etype == XML_INTERNAL_GENERAL_ENTITY &&
                entity_depth < TD_FEED_MAX_ENTITY_DEPTH && p->entity_budget > 0)
              {
                gsize before = out->len;

                serialize_nodes (p, ent->children, scope, out, max, entity_depth + 1);
                p->entity_budget -= MIN (p->entity_budget, out->len - before);
              }
          }
          break;

        case XML_ELEMENT_NODE:
          {
            Scope s = scope_enter (p, scope, n);
            g_autofree char *qname = NULL;
            const char *name = (const char *) n->name;

            if (n->ns != NULL && n->ns->prefix != NULL && !ns_is (n, NS_XHTML))
              name = qname = g_strdup_printf ("%s:%s", n->ns->prefix, n->name);

            g_string_append_c (out, '<');
            g_string_append (out, name);

            for (xmlAttr *a = n->properties; a != NULL; a = a->next)
              {
                g_autofree char *value = NULL;
                const char *aname = (const char *) a->name;
                GString *v;

                if (a->ns != NULL && a->ns->href != NULL &&
                    strcmp ((const char *) a->ns->href, (const char *) XML_XML_NAMESPACE) == 0)
                  {
                    if (strcmp (aname, "lang") != 0)
                      continue;         /* xml:base is applied, not copied */
                  }
                else if (a->ns != NULL)
                  continue;             /* foreign attributes */

                v = g_string_new (NULL);
                _td_xml_collect_text (v, a->children, TD_FEED_MAX_FIELD_LENGTH, &p->entity_budget);
                value = g_string_free (v, FALSE);

                if (is_url_attribute_name (aname) && *value != '\0' && *value != '#')
                  {
                    char *resolved = _td_feed_resolve_url (s.base, value);
                    g_free (value);
                    value = resolved;
                  }

                g_string_append_c (out, ' ');
                g_string_append (out, aname);
                g_string_append (out, "=\"");
                append_escaped (out, value, TRUE);
                g_string_append_c (out, '"');
              }

            if (n->children == NULL && is_void_element ((const char *) n->name))
              {
                g_string_append (out, " />");
                break;
              }

            g_string_append_c (out, '>');
            serialize_nodes (p, n->children, &s, out, max, entity_depth);
            g_string_append (out, "</");
            g_string_append (out, name);
            g_string_append_c (out, '>');
          }
          break;

        default:
          break;
        }
    }
}

/* The children of the single xhtml:div of @node (RFC 4287 §3.1.1.3),
 * serialized; all children when there is no div. */
static char *
xhtml_value (Parser      *p,
             xmlNode     *node,
             const Scope *scope)
{
  GString *out = g_string_new (NULL);
  xmlNode *div = NULL;
  gboolean only_div = TRUE;

  for (xmlNode *n = node->children; n != NULL; n = n->next)
    {
      if (n->type == XML_ELEMENT_NODE)
        {
          if (div == NULL && name_is (n, "div") && (n->ns == NULL || ns_is (n, NS_XHTML)))
            div = n;
          else
            only_div = FALSE;
        }
      else if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE)
        {
          for (const char *c = (const char *) n->content; c != NULL && *c != '\0'; c++)
            if (!g_ascii_isspace (*c))
              {
                only_div = FALSE;
                break;
              }
        }
    }

  if (div != NULL && only_div)
    {
      Scope s = scope_enter (p, scope, div);
      serialize_nodes (p, div->children, &s, out, TD_FEED_MAX_TEXT_LENGTH, 0);
    }
  else
    serialize_nodes (p, node->children, scope, out, TD_FEED_MAX_TEXT_LENGTH, 0);

  return g_string_free (out, FALSE);
}

static gboolean
is_blank (const char *text)
{
  for (const char *c = text; c != NULL && *c != '\0'; c++)
    if (!g_ascii_isspace (*c))
      return FALSE;
  return TRUE;
}

/* RSS description/content:encoded: escaped HTML as text, or (from sloppy
 * generators) markup inline as elements. NULL when blank. */
static char *
html_value (Parser      *p,
            xmlNode     *node,
            const Scope *scope)
{
  char *value;

  if (has_element_children (node))
    {
      GString *out = g_string_new (NULL);
      serialize_nodes (p, node->children, scope, out, TD_FEED_MAX_TEXT_LENGTH, 0);
      value = g_string_free (out, FALSE);
    }
  else
    value = html_resolve (node_text_full (p, node, TD_FEED_MAX_TEXT_LENGTH), scope->base);

  if (is_blank (value))
    g_clear_pointer (&value, g_free);
  return value;
}

/* ------------------------------------------------------------------ */
/* RSS 0.9x, 1.0, 2.0                                                  */
/* ------------------------------------------------------------------ */

typedef struct
{
  char     *guid;
  gboolean  guid_is_permalink;
} RssItemState;

static void parse_atom_link (Parser *p, TdFeedEntry *entry, xmlNode *node, const Scope *scope);

/* One child element of an RSS channel (@is_item FALSE) or item. */
static void
parse_rss_child (Parser       *p,
                 TdFeedEntry  *entry,
                 xmlNode      *node,
                 const Scope  *parent_scope,
                 gboolean      is_item,
                 RssItemState *state)
{
  Scope s = scope_enter (p, parent_scope, node);

  if (is_rss_ns (node))
    {
      if (name_is (node, "title"))
        {
          if (entry->title == NULL)
            {
              entry->title = node_text (p, node);
              entry->title_type = entry->title ? TD_FEED_TEXT_PLAIN : TD_FEED_TEXT_NONE;
            }
        }
      else if (name_is (node, "link"))
        {
          char *href = resolve_in_scope (&s, node_text (p, node));

          if (href != NULL && entry->link == NULL)
            {
              entry->link = g_strdup (href);
              entry_add_link (p, entry, "alternate", "text/html", href, NULL, -1);
            }
          else
            g_free (href);
        }
      else if (name_is (node, "description"))
        {
          if (is_item)
            {
              if (entry->summary == NULL)
                {
                  entry->summary = html_value (p, node, &s);
                  entry->summary_type = entry->summary ? TD_FEED_TEXT_HTML : TD_FEED_TEXT_NONE;
                }
            }
          else
            set_first (&entry->subtitle, node_text (p, node));
        }
      else if (name_is (node, "guid") && is_item)
        {
          if (state->guid == NULL)
            {
              g_autofree char *permalink = attr_get (p, node, "isPermaLink");

              state->guid = node_text (p, node);
              state->guid_is_permalink = permalink == NULL || g_ascii_strcasecmp (permalink, "false") != 0;
            }
        }
      else if (name_is (node, "pubDate"))
        {
          g_autofree char *text = node_text (p, node);
          set_date (p, &entry->published, text);
        }
      else if (name_is (node, "lastBuildDate"))
        {
          g_autofree char *text = node_text (p, node);
          set_date (p, &entry->updated, text);
        }
      else if (name_is (node, "author") || name_is (node, "managingEditor"))
        {
          g_autofree char *text = node_text (p, node);
          entry_add_person (p, &entry->authors, parse_person_string (text));
        }
      else if (name_is (node, "category"))
        entry_add_category (p, entry, node_text (p, node), attr_get (p, node, "domain"), NULL);
      else if (name_is (node, "enclosure") && is_item)
        {
          char *url = resolve_in_scope (&s, attr_get (p, node, "url"));
          g_autofree char *type = attr_get (p, node, "type");
          g_autofree char *length = attr_get (p, node, "length");

          if (url != NULL)
            {
              entry_add_enclosure (p, entry, url, type, parse_length (length));
              entry_add_link (p, entry, "enclosure", type, url, NULL, parse_length (length));
            }
        }
      else if (name_is (node, "comments") && is_item)
        entry_add_link (p, entry, "replies", "text/html", resolve_in_scope (&s, node_text (p, node)), NULL, -1);
      else if (name_is (node, "language"))
        set_first (&entry->language, node_text (p, node));
      else if (name_is (node, "copyright"))
        set_first (&entry->rights, node_text (p, node));
      else if (name_is (node, "image") && !is_item)
        {
          for (xmlNode *c = node->children; c != NULL; c = c->next)
            if (c->type == XML_ELEMENT_NODE && name_is (c, "url") && is_rss_ns (c))
              {
                Scope cs = scope_enter (p, &s, c);
                set_first (&entry->icon, resolve_in_scope (&cs, node_text (p, c)));
              }
        }
    }
  else if (ns_is (node, NS_CONTENT))
    {
      if (name_is (node, "encoded") && is_item)
        {
          char *value = html_value (p, node, &s);

          if (value != NULL)
            {
              TdFeedContent *content = td_feed_content_new ();

              content->type = g_strdup ("html");
              content->value = value;
              content->language = g_strdup (s.lang);
              entry_add_content (p, entry, content);
            }
        }
    }
  else if (ns_is (node, NS_DC) || ns_is (node, NS_DCTERMS))
    {
      if (name_is (node, "title") && entry->title == NULL)
        {
          entry->title = node_text (p, node);
          entry->title_type = entry->title ? TD_FEED_TEXT_PLAIN : TD_FEED_TEXT_NONE;
        }
      else if (name_is (node, "creator") || name_is (node, "author"))
        {
          g_autofree char *text = node_text (p, node);
          entry_add_person (p, &entry->authors, parse_person_string (text));
        }
      else if (name_is (node, "date") || name_is (node, "created") || name_is (node, "issued"))
        {
          g_autofree char *text = node_text (p, node);
          set_date (p, &entry->published, text);
        }
      else if (name_is (node, "modified"))
        {
          g_autofree char *text = node_text (p, node);
          set_date (p, &entry->updated, text);
        }
      else if (name_is (node, "subject"))
        entry_add_category (p, entry, node_text (p, node), NULL, NULL);
      else if (name_is (node, "description"))
        {
          if (is_item && entry->summary == NULL)
            {
              entry->summary = html_value (p, node, &s);
              entry->summary_type = entry->summary ? TD_FEED_TEXT_HTML : TD_FEED_TEXT_NONE;
            }
          else if (!is_item)
            set_first (&entry->subtitle, node_text (p, node));
        }
      else if (name_is (node, "language"))
        set_first (&entry->language, node_text (p, node));
      else if (name_is (node, "rights"))
        set_first (&entry->rights, node_text (p, node));
      else if (name_is (node, "identifier") && is_item && state->guid == NULL)
        {
          state->guid = node_text (p, node);
          state->guid_is_permalink = FALSE;
        }
    }
  else if (ns_is (node, NS_ATOM10))
    {
      if (name_is (node, "link"))
        parse_atom_link (p, entry, node, parent_scope);
      else if (name_is (node, "updated"))
        {
          g_autofree char *text = node_text (p, node);
          set_date (p, &entry->updated, text);
        }
    }
  else if (ns_is (node, NS_ITUNES))
    {
      if (name_is (node, "image") && !is_item)
        set_first (&entry->icon, resolve_in_scope (&s, attr_get (p, node, "href")));
    }
  else if (ns_is (node, NS_MEDIA))
    {
      if (name_is (node, "content") && is_item)
        {
          g_autofree char *url = resolve_in_scope (&s, attr_get (p, node, "url"));
          g_autofree char *type = attr_get (p, node, "type");
          g_autofree char *size = attr_get (p, node, "fileSize");

          entry_add_enclosure (p, entry, url, type, parse_length (size));
        }
    }
}

static void
parse_rss_item (Parser      *p,
                xmlNode     *node,
                const Scope *parent_scope)
{
  Scope s = scope_enter (p, parent_scope, node);
  RssItemState state = { NULL, TRUE };
  TdFeedEntry *entry;

  if (!parser_may_add_entry (p))
    return;

  entry = td_feed_entry_new ();

  for (xmlNode *c = node->children; c != NULL; c = c->next)
    if (c->type == XML_ELEMENT_NODE)
      parse_rss_child (p, entry, c, &s, TRUE, &state);

  /* RSS 1.0: rdf:about names the item. */
  if (state.guid == NULL)
    state.guid = attr_get_ns (p, node, "about", NS_RDF);

  if (state.guid != NULL)
    {
      /* isPermaLink defaults to true: the guid is the link when there is
       * none, if it looks like one. */
      if (entry->link == NULL && state.guid_is_permalink &&
          (g_ascii_strncasecmp (state.guid, "http://", 7) == 0 ||
           g_ascii_strncasecmp (state.guid, "https://", 8) == 0))
        {
          entry->link = g_strdup (state.guid);
          entry_add_link (p, entry, "alternate", "text/html", g_strdup (state.guid), NULL, -1);
        }
      entry->id = g_steal_pointer (&state.guid);
    }

  entry_choose_link (entry);
  g_ptr_array_add (p->feed->entries, entry);
}

static void
parse_rss_channel (Parser      *p,
                   xmlNode     *channel,
                   const Scope *parent_scope)
{
  Scope s = scope_enter (p, parent_scope, channel);
  TdFeedEntry *info = p->feed->info;

  for (xmlNode *c = channel->children; c != NULL; c = c->next)
    {
      if (c->type != XML_ELEMENT_NODE)
        continue;

      if (name_is (c, "item") && is_rss_ns (c))
        parse_rss_item (p, c, &s);
      else
        parse_rss_child (p, info, c, &s, FALSE, NULL);
    }

  entry_choose_link (info);
}

static void
parse_rss (Parser      *p,
           xmlNode     *root,
           const Scope *doc_scope)
{
  Scope s = scope_enter (p, doc_scope, root);
  g_autofree char *version = attr_get (p, root, "version");
  gboolean have_channel = FALSE;

  if (version == NULL || g_str_has_prefix (version, "2."))
    p->feed->version = TD_FEED_VERSION_RSS20;
  else if (g_str_has_prefix (version, "0.9"))
    p->feed->version = TD_FEED_VERSION_RSS09X;
  else
    {
      p->feed->version = TD_FEED_VERSION_RSS20;
      td_feed_add_warning (p->feed, "unknown RSS version \"%s\", read as 2.0", version);
    }

  for (xmlNode *c = root->children; c != NULL; c = c->next)
    {
      if (c->type != XML_ELEMENT_NODE || !is_rss_ns (c))
        continue;

      if (name_is (c, "channel") && !have_channel)
        {
          parse_rss_channel (p, c, &s);
          have_channel = TRUE;
        }
      else if (name_is (c, "item"))
        /* Some 0.9x feeds put items next to the channel. */
        parse_rss_item (p, c, &s);
    }

  if (!have_channel)
    td_feed_add_warning (p->feed, "RSS document without a channel");
}

static void
parse_rdf (Parser      *p,
           xmlNode     *root,
           const Scope *doc_scope)
{
  Scope s = scope_enter (p, doc_scope, root);
  gboolean have_channel = FALSE;

  p->feed->version = TD_FEED_VERSION_RSS10;

  for (xmlNode *c = root->children; c != NULL; c = c->next)
    {
      if (c->type != XML_ELEMENT_NODE || !is_rss_ns (c))
        continue;

      if (name_is (c, "channel"))
        {
          if (ns_is (c, NS_RSS090))
            p->feed->version = TD_FEED_VERSION_RSS09X;
          if (!have_channel)
            parse_rss_channel (p, c, &s);
          have_channel = TRUE;
        }
      else if (name_is (c, "item"))
        parse_rss_item (p, c, &s);
      else if (name_is (c, "image"))
        {
          Scope is = scope_enter (p, &s, c);

          for (xmlNode *u = c->children; u != NULL; u = u->next)
            if (u->type == XML_ELEMENT_NODE && name_is (u, "url") && is_rss_ns (u))
              set_first (&p->feed->info->icon, resolve_in_scope (&is, node_text (p, u)));
        }
    }

  if (!have_channel)
    td_feed_add_warning (p->feed, "RSS 1.0 document without a channel");
}

/* ------------------------------------------------------------------ */
/* Atom 1.0 and 0.3                                                    */
/* ------------------------------------------------------------------ */

static gboolean
is_atom (Parser  *p,
         xmlNode *node)
{
  if (p->feed->version == TD_FEED_VERSION_ATOM03)
    return ns_is (node, NS_ATOM03);
  return ns_is (node, NS_ATOM10) || node->ns == NULL;
}

static TdFeedTextType
text_type_for_mime (const char *mime)
{
  if (mime == NULL || g_ascii_strcasecmp (mime, "text") == 0 ||
      g_ascii_strcasecmp (mime, "text/plain") == 0)
    return TD_FEED_TEXT_PLAIN;
  if (g_ascii_strcasecmp (mime, "html") == 0 || g_ascii_strcasecmp (mime, "text/html") == 0)
    return TD_FEED_TEXT_HTML;
  if (g_ascii_strcasecmp (mime, "xhtml") == 0 || g_ascii_strcasecmp (mime, "application/xhtml+xml") == 0)
    return TD_FEED_TEXT_XHTML;
  return TD_FEED_TEXT_NONE;
}

/* Decodes base64 content; keeps the (trimmed) base64 text when the
 * decoded bytes are not text. */
static char *
base64_value (Parser  *p,
              xmlNode *node)
{
  g_autofree char *text = g_strstrip (node_text_full (p, node, TD_FEED_MAX_TEXT_LENGTH));
  g_autofree guchar *decoded = NULL;
  gsize len = 0;

  if (*text == '\0')
    return g_strdup ("");

  decoded = g_base64_decode (text, &len);
  if (decoded != NULL && g_utf8_validate_len ((const char *) decoded, len, NULL))
    return g_strndup ((const char *) decoded, len);

  return g_steal_pointer (&text);
}

/* An Atom text construct (RFC 4287 §3.1; for 0.3, type is a MIME type and
 * mode says escaped/xml/base64). Returns the value after the type's rules
 * and sets *@type. */
static char *
atom_text (Parser         *p,
           xmlNode        *node,
           const Scope    *parent_scope,
           gsize           max,
           TdFeedTextType *type)
{
  Scope s = scope_enter (p, parent_scope, node);
  g_autofree char *type_attr = attr_get (p, node, "type");
  TdFeedTextType t;
  char *value;

  if (p->feed->version == TD_FEED_VERSION_ATOM03)
    {
      g_autofree char *mode = attr_get (p, node, "mode");

      t = text_type_for_mime (type_attr);
      if (t == TD_FEED_TEXT_NONE)
        t = TD_FEED_TEXT_PLAIN;

      if (mode != NULL && g_ascii_strcasecmp (mode, "base64") == 0)
        value = base64_value (p, node);
      else if (mode != NULL && g_ascii_strcasecmp (mode, "escaped") == 0)
        {
          value = node_text_full (p, node, max);
          if (t == TD_FEED_TEXT_XHTML)
            t = TD_FEED_TEXT_HTML;
        }
      else if (has_element_children (node))
        {
          value = xhtml_value (p, node, &s);
          t = TD_FEED_TEXT_XHTML;
        }
      else
        value = node_text_full (p, node, max);
    }
  else
    {
      t = text_type_for_mime (type_attr);
      if (t == TD_FEED_TEXT_NONE)
        t = TD_FEED_TEXT_PLAIN;

      if (t == TD_FEED_TEXT_XHTML)
        value = xhtml_value (p, node, &s);
      else
        value = node_text_full (p, node, max);
    }

  if (t == TD_FEED_TEXT_HTML)
    value = html_resolve (value, s.base);

  if (max <= TD_FEED_MAX_FIELD_LENGTH)
    g_strstrip (value);

  *type = t;
  return value;
}

static void
parse_atom_link (Parser      *p,
                 TdFeedEntry *entry,
                 xmlNode     *node,
                 const Scope *parent_scope)
{
  Scope s = scope_enter (p, parent_scope, node);
  g_autofree char *rel = attr_get (p, node, "rel");
  g_autofree char *type = attr_get (p, node, "type");
  g_autofree char *title = attr_get (p, node, "title");
  g_autofree char *length = attr_get (p, node, "length");
  char *href = resolve_in_scope (&s, attr_get (p, node, "href"));
  const char *r = rel;

  if (href == NULL)
    return;

  /* rel defaults to alternate (§4.2.7.2); IANA URIs name the same rels. */
  if (r != NULL && g_str_has_prefix (r, "http://www.iana.org/assignments/relation/"))
    r += strlen ("http://www.iana.org/assignments/relation/");
  if (r == NULL || *r == '\0')
    r = "alternate";

  if (strcmp (r, "enclosure") == 0)
    entry_add_enclosure (p, entry, href, type, parse_length (length));

  entry_add_link (p, entry, r, type, href, title, parse_length (length));
}

static TdFeedPerson *
parse_atom_person (Parser      *p,
                   xmlNode     *node,
                   const Scope *parent_scope)
{
  Scope s = scope_enter (p, parent_scope, node);
  TdFeedPerson *person = td_feed_person_new ();

  for (xmlNode *c = node->children; c != NULL; c = c->next)
    {
      if (c->type != XML_ELEMENT_NODE || !is_atom (p, c))
        continue;

      if (name_is (c, "name"))
        set_first (&person->name, node_text (p, c));
      else if (name_is (c, "email"))
        set_first (&person->email, node_text (p, c));
      else if (name_is (c, "uri") || name_is (c, "url"))
        {
          Scope cs = scope_enter (p, &s, c);
          set_first (&person->uri, resolve_in_scope (&cs, node_text (p, c)));
        }
    }

  return person;
}

static void
parse_atom_category (Parser      *p,
                     TdFeedEntry *entry,
                     xmlNode     *node)
{
  entry_add_category (p, entry, attr_get (p, node, "term"), attr_get (p, node, "scheme"),
                      attr_get (p, node, "label"));
}

static void
parse_atom_content (Parser      *p,
                    TdFeedEntry *entry,
                    xmlNode     *node,
                    const Scope *parent_scope)
{
  Scope s = scope_enter (p, parent_scope, node);
  g_autofree char *type = attr_get (p, node, "type");
  g_autofree char *src = attr_get (p, node, "src");
  TdFeedContent *content = td_feed_content_new ();

  content->language = g_strdup (s.lang);

  if (src != NULL)
    {
      /* Out-of-line content (§4.1.3.2): empty, with a summary beside it. */
      content->src = _td_feed_resolve_url (s.base, src);
      content->type = g_strdup (type);
      content->value = g_strdup ("");
    }
  else if (p->feed->version == TD_FEED_VERSION_ATOM10 && type != NULL &&
           text_type_for_mime (type) == TD_FEED_TEXT_NONE)
    {
      /* A MIME type (§4.1.3.3): XML types inline, text/ as characters,
       * anything else base64. */
      g_autofree char *lower = g_ascii_strdown (type, -1);

      content->type = g_strdup (type);
      if (g_str_has_suffix (lower, "+xml") || g_str_has_suffix (lower, "/xml"))
        {
          GString *out = g_string_new (NULL);
          serialize_nodes (p, node->children, &s, out, TD_FEED_MAX_TEXT_LENGTH, 0);
          content->value = g_string_free (out, FALSE);
        }
      else if (g_str_has_prefix (lower, "text/"))
        content->value = node_text_full (p, node, TD_FEED_MAX_TEXT_LENGTH);
      else
        content->value = base64_value (p, node);
    }
  else
    {
      TdFeedTextType t;

      content->value = atom_text (p, node, parent_scope, TD_FEED_MAX_TEXT_LENGTH, &t);
      content->type = g_strdup (td_feed_text_type_to_string (t));
    }

  entry_add_content (p, entry, content);
}

/* One child of atom:feed (@is_entry FALSE) or atom:entry. */
static void
parse_atom_child (Parser      *p,
                  TdFeedEntry *entry,
                  xmlNode     *node,
                  const Scope *scope,
                  gboolean     is_entry,
                  GPtrArray  **source_authors)
{
  gboolean v03 = p->feed->version == TD_FEED_VERSION_ATOM03;

  if (is_atom (p, node))
    {
      if (name_is (node, "title"))
        {
          if (entry->title == NULL)
            {
              TdFeedTextType t;
              char *title = atom_text (p, node, scope, TD_FEED_MAX_FIELD_LENGTH, &t);

              if (*title != '\0')
                {
                  entry->title = title;
                  entry->title_type = t;
                }
              else
                g_free (title);
            }
        }
      else if (name_is (node, "link"))
        parse_atom_link (p, entry, node, scope);
      else if (name_is (node, "id"))
        set_first (&entry->id, node_text (p, node));
      else if (name_is (node, "updated") || (v03 && name_is (node, "modified")))
        {
          g_autofree char *text = node_text (p, node);
          set_date (p, &entry->updated, text);
        }
      else if (name_is (node, "published") || (v03 && (name_is (node, "issued") || name_is (node, "created"))))
        {
          g_autofree char *text = node_text (p, node);
          set_date (p, &entry->published, text);
        }
      else if (name_is (node, "author"))
        entry_add_person (p, &entry->authors, parse_atom_person (p, node, scope));
      else if (name_is (node, "category"))
        parse_atom_category (p, entry, node);
      else if (name_is (node, "rights") || (v03 && name_is (node, "copyright")))
        {
          TdFeedTextType t;
          char *rights = atom_text (p, node, scope, TD_FEED_MAX_FIELD_LENGTH, &t);
          set_first (&entry->rights, *rights ? rights : (g_free (rights), NULL));
        }
      else if (!is_entry && (name_is (node, "subtitle") || (v03 && name_is (node, "tagline"))))
        {
          TdFeedTextType t;
          char *subtitle = atom_text (p, node, scope, TD_FEED_MAX_FIELD_LENGTH, &t);
          set_first (&entry->subtitle, *subtitle ? subtitle : (g_free (subtitle), NULL));
        }
      else if (!is_entry && name_is (node, "icon"))
        {
          Scope s = scope_enter (p, scope, node);
          g_free (entry->icon);
          entry->icon = resolve_in_scope (&s, node_text (p, node));
        }
      else if (!is_entry && name_is (node, "logo"))
        {
          Scope s = scope_enter (p, scope, node);
          set_first (&entry->icon, resolve_in_scope (&s, node_text (p, node)));
        }
      else if (is_entry && name_is (node, "summary"))
        {
          if (entry->summary == NULL)
            entry->summary = atom_text (p, node, scope, TD_FEED_MAX_TEXT_LENGTH, &entry->summary_type);
        }
      else if (is_entry && name_is (node, "content"))
        parse_atom_content (p, entry, node, scope);
      else if (is_entry && name_is (node, "source") && source_authors != NULL)
        {
          /* Only the authors: feed metadata never comes from a source. */
          Scope s = scope_enter (p, scope, node);

          for (xmlNode *c = node->children; c != NULL; c = c->next)
            if (c->type == XML_ELEMENT_NODE && is_atom (p, c) && name_is (c, "author"))
              entry_add_person (p, source_authors, parse_atom_person (p, c, &s));
        }
    }
  else if (ns_is (node, NS_DC))
    {
      if (name_is (node, "subject"))
        entry_add_category (p, entry, node_text (p, node), NULL, NULL);
      else if (name_is (node, "creator") && entry->authors == NULL)
        {
          g_autofree char *text = node_text (p, node);
          entry_add_person (p, &entry->authors, parse_person_string (text));
        }
    }
}

/* Atom: updated is required and published optional; a missing updated
 * falls back to published (RFC 4287 §4.2.14). */
static void
atom_date_fallback (TdFeedEntry *entry)
{
  if (entry->updated == TD_FEED_DATE_NONE && TD_FEED_DATE_IS_VALID (entry->published))
    entry->updated = entry->published;
}

static void
parse_atom_entry (Parser      *p,
                  xmlNode     *node,
                  const Scope *parent_scope)
{
  Scope s = scope_enter (p, parent_scope, node);
  g_autoptr(GPtrArray) source_authors = NULL;
  TdFeedEntry *entry;

  if (!parser_may_add_entry (p))
    return;

  entry = td_feed_entry_new ();
  entry->language = g_strdup (s.lang);

  for (xmlNode *c = node->children; c != NULL; c = c->next)
    if (c->type == XML_ELEMENT_NODE)
      parse_atom_child (p, entry, c, &s, TRUE, &source_authors);

  /* Authors: entry, else its source, else (later) the feed. */
  if (entry->authors == NULL && source_authors != NULL)
    entry->authors = g_steal_pointer (&source_authors);

  entry_choose_link (entry);
  atom_date_fallback (entry);
  g_ptr_array_add (p->feed->entries, entry);
}

static void
parse_atom (Parser      *p,
            xmlNode     *root,
            const Scope *doc_scope)
{
  Scope s = scope_enter (p, doc_scope, root);
  TdFeedEntry *info = p->feed->info;

  info->language = g_strdup (s.lang);

  for (xmlNode *c = root->children; c != NULL; c = c->next)
    {
      if (c->type != XML_ELEMENT_NODE)
        continue;

      if (name_is (c, "entry") && is_atom (p, c))
        parse_atom_entry (p, c, &s);
      else
        parse_atom_child (p, info, c, &s, FALSE, NULL);
    }

  entry_choose_link (info);
  atom_date_fallback (info);
  inherit_authors (p->feed);
}

/* ------------------------------------------------------------------ */
/* XML documents                                                       */
/* ------------------------------------------------------------------ */

static TdFeed *
parse_xml (const char  *data,
           gsize        len,
           const char  *base_url,
           const char  *content_type,
           GError     **error)
{
  g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *charset = _td_feed_content_type_charset (content_type);
  g_autofree char *not_well_formed = NULL;
  g_autoptr(TdFeed) feed = NULL;
  xmlDocPtr doc;
  xmlNode *root;
  Scope scope = { base_url, NULL };
  Parser p;

  doc = _td_xml_read_hardened (data, len, base_url, charset, &not_well_formed, warnings, error);
  if (doc == NULL)
    return NULL;

  feed = td_feed_new ();
  if (not_well_formed != NULL)
    td_feed_add_warning (feed, "%s", not_well_formed);
  for (guint i = 0; i < warnings->len; i++)
    td_feed_add_warning (feed, "%s", (const char *) g_ptr_array_index (warnings, i));

  parser_init (&p, feed);
  root = xmlDocGetRootElement (doc);

  if (name_is (root, "rss"))
    parse_rss (&p, root, &scope);
  else if (name_is (root, "RDF") && (ns_is (root, NS_RDF) || root->ns == NULL))
    parse_rdf (&p, root, &scope);
  else if (name_is (root, "feed") && (ns_is (root, NS_ATOM10) || ns_is (root, NS_ATOM03) || root->ns == NULL))
    {
      g_autofree char *version = attr_get (&p, root, "version");

      if (ns_is (root, NS_ATOM03) || (root->ns == NULL && g_strcmp0 (version, "0.3") == 0))
        feed->version = TD_FEED_VERSION_ATOM03;
      else
        feed->version = TD_FEED_VERSION_ATOM10;
      if (root->ns == NULL)
        td_feed_add_warning (feed, "Atom feed without the Atom namespace");
      parse_atom (&p, root, &scope);
    }
  else
    {
      g_set_error (error, TD_FEED_ERROR, TD_FEED_ERROR_NOT_A_FEED,
                   "not a feed: the document element is <%s>%s%s",
                   (const char *) root->name,
                   not_well_formed ? "; " : "",
                   not_well_formed ? not_well_formed : "");
      parser_clear (&p);
      xmlFreeDoc (doc);
      return NULL;
    }

  parser_clear (&p);
  xmlFreeDoc (doc);

  return g_steal_pointer (&feed);
}

/* ------------------------------------------------------------------ */
/* JSON Feed 1.0 and 1.1                                               */
/* ------------------------------------------------------------------ */

/* Checks the shape of a JSON document before json-glib reads it: brackets
 * nest no deeper than @max, and there is one top-level value. json-glib
 * 1.6 takes "{...}{...}" (or "1 []") as a document, keeps the last value
 * and leaks the first, so a second value is refused here. Returns FALSE
 * with @error set when the document is refused. */
static gboolean
json_shape_ok (const char  *data,
               gsize        len,
               int          max,
               GError     **error)
{
  int depth = 0;
  guint n_values = 0;
  gboolean in_string = FALSE;
  gboolean in_scalar = FALSE;   /* a number or literal at the top level */

  for (gsize i = 0; i < len; i++)
    {
      char c = data[i];

      if (in_string)
        {
          if (c == '\\')
            i++;
          else if (c == '"')
            in_string = FALSE;
          continue;
        }
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
        {
          in_scalar = FALSE;
          continue;
        }
      if (depth == 0 && !in_scalar && c != ']' && c != '}')
        {
          if (++n_values > 1)
            {
              g_set_error_literal (error, TD_FEED_ERROR, TD_FEED_ERROR_INVALID,
                                   "not valid JSON: more than one top-level value");
              return FALSE;
            }
          in_scalar = c != '"' && c != '[' && c != '{';
        }
      if (c == '"')
        {
          in_string = TRUE;
          in_scalar = FALSE;
        }
      else if (c == '[' || c == '{')
        {
          in_scalar = FALSE;
          if (++depth > max)
            {
              g_set_error (error, TD_FEED_ERROR, TD_FEED_ERROR_INVALID,
                           "not valid JSON: nested deeper than %d levels", max);
              return FALSE;
            }
        }
      else if (c == ']' || c == '}')
        {
          in_scalar = FALSE;
          if (--depth < 0)
            {
              g_set_error_literal (error, TD_FEED_ERROR, TD_FEED_ERROR_INVALID,
                                   "not valid JSON: a bracket closes what was not opened");
              return FALSE;
            }
        }
    }

  return TRUE;
}

static const char *
json_string (JsonObject *obj,
             const char *key)
{
  JsonNode *node = json_object_get_member (obj, key);

  if (node == NULL || JSON_NODE_TYPE (node) != JSON_NODE_VALUE ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

/* A stripped, bounded copy of a string member; NULL when absent/empty. */
static char *
json_text (JsonObject *obj,
           const char *key,
           gsize       max)
{
  const char *s = json_string (obj, key);
  char *copy;

  if (s == NULL)
    return NULL;
  copy = g_strstrip (_td_feed_utf8_clamp (s, -1, max));
  if (*copy == '\0')
    {
      g_free (copy);
      return NULL;
    }
  return copy;
}

static char *
json_url (JsonObject *obj,
          const char *key,
          const char *base)
{
  g_autofree char *ref = json_text (obj, key, TD_FEED_MAX_FIELD_LENGTH);

  if (ref == NULL)
    return NULL;
  return _td_feed_resolve_url (base, ref);
}

static JsonArray *
json_array (JsonObject *obj,
            const char *key)
{
  JsonNode *node = json_object_get_member (obj, key);

  if (node == NULL || JSON_NODE_TYPE (node) != JSON_NODE_ARRAY)
    return NULL;
  return json_node_get_array (node);
}

static JsonObject *
json_object (JsonNode *node)
{
  if (node == NULL || JSON_NODE_TYPE (node) != JSON_NODE_OBJECT)
    return NULL;
  return json_node_get_object (node);
}

static void
json_parse_authors (Parser      *p,
                    JsonObject  *obj,
                    GPtrArray  **list,
                    const char  *base)
{
  JsonArray *authors = json_array (obj, "authors");
  JsonObject *single;

  if (authors != NULL)
    {
      guint n = json_array_get_length (authors);

      for (guint i = 0; i < n; i++)
        {
          JsonObject *a = json_object (json_array_get_element (authors, i));
          TdFeedPerson *person;

          if (a == NULL)
            continue;
          person = td_feed_person_new ();
          person->name = json_text (a, "name", TD_FEED_MAX_FIELD_LENGTH);
          person->uri = json_url (a, "url", base);
          entry_add_person (p, list, person);
        }
      return;
    }

  /* JSON Feed 1.0: a single author. */
  single = json_object (json_object_get_member (obj, "author"));
  if (single != NULL)
    {
      TdFeedPerson *person = td_feed_person_new ();

      person->name = json_text (single, "name", TD_FEED_MAX_FIELD_LENGTH);
      person->uri = json_url (single, "url", base);
      entry_add_person (p, list, person);
    }
}

static void
json_parse_item (Parser     *p,
                 JsonObject *item,
                 const char *base)
{
  TdFeedEntry *entry;
  JsonNode *id;
  JsonArray *array;
  char *text;

  if (!parser_may_add_entry (p))
    return;

  entry = td_feed_entry_new ();

  /* id is a string; 1.0 feeds sometimes wrote numbers. */
  id = json_object_get_member (item, "id");
  if (id != NULL && JSON_NODE_TYPE (id) == JSON_NODE_VALUE)
    {
      GType t = json_node_get_value_type (id);

      if (t == G_TYPE_STRING)
        entry->id = json_text (item, "id", TD_FEED_MAX_FIELD_LENGTH);
      else if (t == G_TYPE_INT64)
        entry->id = g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (id));
      else if (t == G_TYPE_DOUBLE)
        {
          char buf[G_ASCII_DTOSTR_BUF_SIZE];
          entry->id = g_strdup (g_ascii_dtostr (buf, sizeof buf, json_node_get_double (id)));
        }
    }

  if ((text = json_url (item, "url", base)) != NULL)
    {
      entry->link = g_strdup (text);
      entry_add_link (p, entry, "alternate", "text/html", text, NULL, -1);
    }
  entry_add_link (p, entry, "related", NULL, json_url (item, "external_url", base), NULL, -1);

  entry->title = json_text (item, "title", TD_FEED_MAX_FIELD_LENGTH);
  if (entry->title != NULL)
    entry->title_type = TD_FEED_TEXT_PLAIN;

  if ((text = json_text (item, "content_html", TD_FEED_MAX_TEXT_LENGTH)) != NULL)
    {
      TdFeedContent *content = td_feed_content_new ();
      content->type = g_strdup ("html");
      content->value = html_resolve (text, base);
      entry_add_content (p, entry, content);
    }
  if ((text = json_text (item, "content_text", TD_FEED_MAX_TEXT_LENGTH)) != NULL)
    {
      TdFeedContent *content = td_feed_content_new ();
      content->type = g_strdup ("text");
      content->value = text;
      entry_add_content (p, entry, content);
    }
  if (entry->content == NULL)
    td_feed_add_warning (p->feed, "JSON Feed item without content_html or content_text");

  entry->summary = json_text (item, "summary", TD_FEED_MAX_TEXT_LENGTH);
  if (entry->summary != NULL)
    entry->summary_type = TD_FEED_TEXT_PLAIN;

  entry_add_link (p, entry, "image", NULL, json_url (item, "image", base), NULL, -1);

  text = json_text (item, "date_published", 128);
  set_date (p, &entry->published, text);
  g_free (text);
  text = json_text (item, "date_modified", 128);
  set_date (p, &entry->updated, text);
  g_free (text);

  json_parse_authors (p, item, &entry->authors, base);

  if ((array = json_array (item, "tags")) != NULL)
    {
      guint n = json_array_get_length (array);

      for (guint i = 0; i < n; i++)
        {
          JsonNode *tag = json_array_get_element (array, i);

          if (JSON_NODE_TYPE (tag) == JSON_NODE_VALUE && json_node_get_value_type (tag) == G_TYPE_STRING)
            entry_add_category (p, entry,
                                g_strstrip (_td_feed_utf8_clamp (json_node_get_string (tag), -1, TD_FEED_MAX_FIELD_LENGTH)),
                                NULL, NULL);
        }
    }

  entry->language = json_text (item, "language", TD_FEED_MAX_FIELD_LENGTH);

  if ((array = json_array (item, "attachments")) != NULL)
    {
      guint n = json_array_get_length (array);

      for (guint i = 0; i < n; i++)
        {
          JsonObject *att = json_object (json_array_get_element (array, i));
          g_autofree char *url = NULL;
          g_autofree char *type = NULL;
          g_autofree char *title = NULL;
          JsonNode *size;
          gint64 length = -1;

          if (att == NULL || (url = json_url (att, "url", base)) == NULL)
            continue;
          type = json_text (att, "mime_type", TD_FEED_MAX_FIELD_LENGTH);
          title = json_text (att, "title", TD_FEED_MAX_FIELD_LENGTH);
          size = json_object_get_member (att, "size_in_bytes");
          if (size != NULL && JSON_NODE_TYPE (size) == JSON_NODE_VALUE &&
              json_node_get_value_type (size) == G_TYPE_INT64 && json_node_get_int (size) >= 0)
            length = json_node_get_int (size);

          entry_add_enclosure (p, entry, url, type, length);
          entry_add_link (p, entry, "enclosure", type, g_strdup (url), title, length);
        }
    }

  g_ptr_array_add (p->feed->entries, entry);
}

static TdFeed *
parse_json (const char  *data,
            gsize        len,
            const char  *base_url,
            GError     **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autoptr(TdFeed) feed = NULL;
  g_autofree char *converted = NULL;
  g_autofree char *feed_url = NULL;
  g_autofree char *base = NULL;
  const char *version;
  JsonObject *root;
  JsonArray *items;
  TdFeedEntry *info;
  gboolean repaired = FALSE;
  char *text;
  Parser p;

  /* JSON is UTF-8 (RFC 8259); accept a BOM and UTF-16 with a BOM. */
  if (len >= 3 && memcmp (data, "\xEF\xBB\xBF", 3) == 0)
    {
      data += 3;
      len -= 3;
    }
  else if (len >= 2 && (((guchar) data[0] == 0xFF && (guchar) data[1] == 0xFE) ||
                        ((guchar) data[0] == 0xFE && (guchar) data[1] == 0xFF)))
    {
      gsize out_len = 0;

      converted = g_convert (data + 2, len - 2, "UTF-8",
                             (guchar) data[0] == 0xFF ? "UTF-16LE" : "UTF-16BE",
                             NULL, &out_len, &local_error);
      if (converted == NULL)
        {
          g_set_error (error, TD_FEED_ERROR, TD_FEED_ERROR_INVALID,
                       "not valid JSON: %s", local_error->message);
          return NULL;
        }
      data = converted;
      len = out_len;
    }

  if (!g_utf8_validate_len (data, len, NULL))
    {
      char *fixed = _td_feed_cp1252_to_utf8 (data, len, TRUE, &len);
      g_free (converted);
      data = converted = fixed;
      repaired = TRUE;
    }

  if (!json_shape_ok (data, len, TD_FEED_MAX_DEPTH, error))
    return NULL;

  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, data, (gssize) len, &local_error))
    {
      g_set_error (error, TD_FEED_ERROR, TD_FEED_ERROR_INVALID,
                   "not valid JSON: %s", local_error->message);
      return NULL;
    }

  root = json_object (json_parser_get_root (parser));
  if (root == NULL)
    {
      g_set_error (error, TD_FEED_ERROR, TD_FEED_ERROR_NOT_A_FEED,
                   "not a feed: the JSON document is not an object");
      return NULL;
    }

  feed = td_feed_new ();
  if (repaired)
    td_feed_add_warning (feed, "document is not valid UTF-8; bytes that are not were read as Windows-1252");

  version = json_string (root, "version");
  items = json_array (root, "items");
  if (version != NULL && strstr (version, "jsonfeed.org/version/1.1") != NULL)
    feed->version = TD_FEED_VERSION_JSON11;
  else if (version != NULL && g_str_has_suffix (version, "jsonfeed.org/version/1"))
    feed->version = TD_FEED_VERSION_JSON10;
  else if (items != NULL)
    {
      feed->version = TD_FEED_VERSION_JSON11;
      td_feed_add_warning (feed, "JSON Feed without a known version; read as 1.1");
    }
  else
    {
      g_set_error (error, TD_FEED_ERROR, TD_FEED_ERROR_NOT_A_FEED,
                   "not a feed: JSON without a JSON Feed version or items");
      return NULL;
    }

  parser_init (&p, feed);
  info = feed->info;

  /* No base-URI rule: relative URLs resolve against feed_url, or the URL
   * the document was fetched from. */
  feed_url = json_url (root, "feed_url", base_url);
  base = g_strdup (feed_url != NULL && _td_feed_url_is_absolute (feed_url) ? feed_url : base_url);

  info->title = json_text (root, "title", TD_FEED_MAX_FIELD_LENGTH);
  if (info->title != NULL)
    info->title_type = TD_FEED_TEXT_PLAIN;
  else
    td_feed_add_warning (feed, "JSON Feed without a title");

  if ((text = json_url (root, "home_page_url", base)) != NULL)
    {
      info->link = g_strdup (text);
      entry_add_link (&p, info, "alternate", "text/html", text, NULL, -1);
    }
  if (feed_url != NULL)
    entry_add_link (&p, info, "self", "application/feed+json", g_strdup (feed_url), NULL, -1);
  if ((text = json_url (root, "next_url", base)) != NULL)
    {
      if (g_strcmp0 (text, feed_url) != 0)
        entry_add_link (&p, info, "next", "application/feed+json", text, NULL, -1);
      else
        g_free (text);
    }

  info->subtitle = json_text (root, "description", TD_FEED_MAX_FIELD_LENGTH);
  /* favicon is the small one, which is what a feed list shows. */
  info->icon = json_url (root, "favicon", base);
  if (info->icon == NULL)
    info->icon = json_url (root, "icon", base);
  json_parse_authors (&p, root, &info->authors, base);
  info->language = json_text (root, "language", TD_FEED_MAX_FIELD_LENGTH);

  if (items != NULL)
    {
      guint n = json_array_get_length (items);

      for (guint i = 0; i < n; i++)
        {
          JsonObject *item = json_object (json_array_get_element (items, i));

          if (item != NULL)
            json_parse_item (&p, item, base);
        }
    }
  else
    td_feed_add_warning (feed, "JSON Feed without items");

  inherit_authors (feed);
  parser_clear (&p);

  return g_steal_pointer (&feed);
}

/* ------------------------------------------------------------------ */
/* Public API                                                          */
/* ------------------------------------------------------------------ */

static gboolean
looks_like_json (const char *data,
                 gsize       len)
{
  gsize i = 0;

  /* UTF-16 with a BOM: look at the first non-space code unit. */
  if (len >= 4 && (guchar) data[0] == 0xFF && (guchar) data[1] == 0xFE)
    {
      for (i = 2; i + 1 < len && data[i + 1] == 0 && g_ascii_isspace (data[i]); i += 2)
        ;
      return i + 1 < len && data[i] == '{' && data[i + 1] == 0;
    }
  if (len >= 4 && (guchar) data[0] == 0xFE && (guchar) data[1] == 0xFF)
    {
      for (i = 2; i + 1 < len && data[i] == 0 && g_ascii_isspace (data[i + 1]); i += 2)
        ;
      return i + 1 < len && data[i] == 0 && data[i + 1] == '{';
    }

  if (len >= 3 && memcmp (data, "\xEF\xBB\xBF", 3) == 0)
    i = 3;
  while (i < len && g_ascii_isspace (data[i]))
    i++;

  return i < len && (data[i] == '{' || data[i] == '[');
}

/* The last line of defence for the rule that every string of a parsed
 * feed is UTF-8, whatever path a value took through a broken document
 * (serialized markup included): each one is checked, and fixed with U+FFFD
 * where needed. */
static void
string_make_valid (char **s)
{
  if (*s != NULL && !g_utf8_validate (*s, -1, NULL))
    *s = text_make_valid (*s);
}

static void
entry_make_valid (TdFeedEntry *e)
{
  string_make_valid (&e->title);
  string_make_valid (&e->link);
  string_make_valid (&e->id);
  string_make_valid (&e->subtitle);
  string_make_valid (&e->summary);
  string_make_valid (&e->language);
  string_make_valid (&e->icon);
  string_make_valid (&e->rights);
  for (guint i = 0; e->links != NULL && i < e->links->len; i++)
    {
      TdFeedLink *l = g_ptr_array_index (e->links, i);

      string_make_valid (&l->rel);
      string_make_valid (&l->type);
      string_make_valid (&l->href);
      string_make_valid (&l->title);
    }
  for (guint i = 0; e->content != NULL && i < e->content->len; i++)
    {
      TdFeedContent *c = g_ptr_array_index (e->content, i);

      string_make_valid (&c->type);
      string_make_valid (&c->value);
      string_make_valid (&c->language);
      string_make_valid (&c->src);
    }
  for (guint i = 0; e->authors != NULL && i < e->authors->len; i++)
    {
      TdFeedPerson *a = g_ptr_array_index (e->authors, i);

      string_make_valid (&a->name);
      string_make_valid (&a->email);
      string_make_valid (&a->uri);
    }
  for (guint i = 0; e->categories != NULL && i < e->categories->len; i++)
    {
      TdFeedCategory *c = g_ptr_array_index (e->categories, i);

      string_make_valid (&c->term);
      string_make_valid (&c->scheme);
      string_make_valid (&c->label);
    }
  for (guint i = 0; e->enclosures != NULL && i < e->enclosures->len; i++)
    {
      TdFeedEnclosure *n = g_ptr_array_index (e->enclosures, i);

      string_make_valid (&n->url);
      string_make_valid (&n->type);
    }
}

static TdFeed *
feed_make_valid (TdFeed *feed)
{
  if (feed == NULL)
    return NULL;
  if (feed->info != NULL)
    entry_make_valid (feed->info);
  for (guint i = 0; feed->entries != NULL && i < feed->entries->len; i++)
    entry_make_valid (g_ptr_array_index (feed->entries, i));
  for (guint i = 0; feed->warnings != NULL && i < feed->warnings->len; i++)
    string_make_valid ((char **) &feed->warnings->pdata[i]);
  return feed;
}

TdFeed *
td_feed_parse (const char  *data,
               gsize        len,
               const char  *base_url,
               const char  *content_type,
               GError     **error)
{
  g_return_val_if_fail (data != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (len == 0)
    {
      g_set_error (error, TD_FEED_ERROR, TD_FEED_ERROR_EMPTY, "empty document");
      return NULL;
    }

  if (len > TD_FEED_MAX_DOCUMENT_SIZE)
    {
      g_set_error (error, TD_FEED_ERROR, TD_FEED_ERROR_TOO_LARGE,
                   "document of %" G_GSIZE_FORMAT " bytes is over the %d MiB limit",
                   len, TD_FEED_MAX_DOCUMENT_SIZE / (1024 * 1024));
      return NULL;
    }

  if (base_url != NULL && !_td_feed_url_is_absolute (base_url))
    base_url = NULL;

  if (looks_like_json (data, len))
    return feed_make_valid (parse_json (data, len, base_url, error));

  return feed_make_valid (parse_xml (data, len, base_url, content_type, error));
}
