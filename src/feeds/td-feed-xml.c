/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-feed-xml"

#include "config.h"

#include <string.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/HTMLparser.h>
#include <libxml/SAX2.h>
#include <libxml/entities.h>
#include <libxml/xmlerror.h>
#include <libxml/dict.h>

#include "feeds/td-feed-parser.h"
#include "feeds/td-feed-private.h"

/* How far into the document the XML declaration may reach; a real one is
 * under 100 bytes. */
#define TD_XML_DECL_SCAN 512

/* Options for every untrusted XML document. Deliberately absent:
 * XML_PARSE_NOENT (would substitute external entities: XXE),
 * XML_PARSE_DTDLOAD / DTDATTR / DTDVALID (would fetch the DTD),
 * XML_PARSE_HUGE (lifts the depth, size and entity-amplification limits
 * that stop a billion-laughs document). */
#define TD_XML_OPTIONS (XML_PARSE_NONET | XML_PARSE_RECOVER | XML_PARSE_NOCDATA | \
                        XML_PARSE_COMPACT | XML_PARSE_BIG_LINES)
#define TD_XML_FORBIDDEN_OPTIONS (XML_PARSE_NOENT | XML_PARSE_DTDLOAD | XML_PARSE_DTDATTR | \
                                  XML_PARSE_DTDVALID | XML_PARSE_HUGE | XML_PARSE_XINCLUDE)

/* ------------------------------------------------------------------ */
/* UTF-8 and legacy single-byte text                                   */
/* ------------------------------------------------------------------ */

/* Windows-1252 0x80..0x9F; the five holes map to the C1 control with the
 * same number, as WHATWG's decoder does. */
static const gunichar cp1252_high[32] = {
  0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
  0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
  0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
  0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
};

static void
append_cp1252 (GString *out,
               guchar   byte)
{
  if (byte == 0)
    return;
  if (byte < 0x80)
    g_string_append_c (out, (char) byte);
  else if (byte < 0xA0)
    g_string_append_unichar (out, cp1252_high[byte - 0x80]);
  else
    g_string_append_unichar (out, byte);
}

char *
_td_feed_cp1252_to_utf8 (const char *data,
                         gsize       len,
                         gboolean    only_invalid,
                         gsize      *out_len)
{
  GString *out = g_string_sized_new (len + len / 8 + 1);
  gsize i = 0;

  while (i < len)
    {
      if (only_invalid)
        {
          const char *end = NULL;

          g_utf8_validate_len (data + i, len - i, &end);
          g_string_append_len (out, data + i, end - (data + i));
          i = end - data;
          if (i >= len)
            break;
        }

      append_cp1252 (out, (guchar) data[i]);
      i++;
    }

  if (out_len != NULL)
    *out_len = out->len;
  return g_string_free (out, FALSE);
}

char *
_td_feed_utf8_clamp (const char *text,
                     gssize      len,
                     gsize       max_bytes)
{
  const char *end;
  gsize n;

  if (text == NULL)
    return NULL;

  n = len < 0 ? strlen (text) : (gsize) len;

  if (n <= max_bytes && g_utf8_validate_len (text, n, NULL))
    return g_strndup (text, n);

  if (!g_utf8_validate_len (text, n, &end) || n > max_bytes)
    {
      g_autofree char *fixed = NULL;
      gsize fixed_len;

      if (!g_utf8_validate_len (text, n, NULL))
        fixed = _td_feed_cp1252_to_utf8 (text, n, TRUE, &fixed_len);
      else
        {
          fixed = g_strndup (text, n);
          fixed_len = n;
        }

      if (fixed_len > max_bytes)
        {
          /* Cut at a character boundary. */
          const char *cut = fixed + max_bytes;
          while (cut > fixed && ((guchar) *cut & 0xC0) == 0x80)
            cut--;
          fixed_len = cut - fixed;
        }

      return g_strndup (fixed, fixed_len);
    }

  return g_strndup (text, n);
}

char *
_td_feed_content_type_charset (const char *content_type)
{
  const char *p;

  if (content_type == NULL)
    return NULL;

  for (p = strchr (content_type, ';'); p != NULL; p = strchr (p + 1, ';'))
    {
      const char *s = p + 1;
      gsize n;

      while (*s == ' ' || *s == '\t')
        s++;
      if (g_ascii_strncasecmp (s, "charset", 7) != 0)
        continue;
      s += 7;
      while (*s == ' ' || *s == '\t')
        s++;
      if (*s != '=')
        continue;
      s++;
      while (*s == ' ' || *s == '\t')
        s++;
      if (*s == '"' || *s == '\'')
        s++;
      n = strcspn (s, "\"'; \t");
      if (n == 0 || n > 40)
        return NULL;
      return g_ascii_strdown (s, n);
    }

  return NULL;
}

/* Returns the encoding named in the XML declaration, lower-case, or NULL. */
static char *
declared_encoding (const char *data,
                   gsize       len)
{
  gsize scan = MIN (len, TD_XML_DECL_SCAN);
  const char *end, *p;
  char quote;
  gsize n;

  if (len < 6 || memcmp (data, "<?xml", 5) != 0)
    return NULL;

  end = g_strstr_len (data, scan, "?>");
  if (end == NULL)
    return NULL;

  p = g_strstr_len (data, end - data, "encoding");
  if (p == NULL)
    return NULL;
  p += 8;
  while (p < end && g_ascii_isspace (*p))
    p++;
  if (p >= end || *p != '=')
    return NULL;
  p++;
  while (p < end && g_ascii_isspace (*p))
    p++;
  if (p >= end || (*p != '"' && *p != '\''))
    return NULL;
  quote = *p++;
  for (n = 0; p + n < end && p[n] != quote; n++)
    ;
  if (n == 0 || n > 40 || p + n >= end)
    return NULL;
  return g_ascii_strdown (p, n);
}

static gboolean
is_utf8_label (const char *label)
{
  return g_str_equal (label, "utf-8") || g_str_equal (label, "utf8");
}

/* Labels that browsers decode as Windows-1252 (WHATWG Encoding). */
static gboolean
is_cp1252_label (const char *label)
{
  static const char * const labels[] = {
    "iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "l1", "us-ascii", "ascii",
    "windows-1252", "cp1252", "x-cp1252", "cp819", "ibm819", "iso-ir-100",
  };

  for (guint i = 0; i < G_N_ELEMENTS (labels); i++)
    if (g_str_equal (label, labels[i]))
      return TRUE;
  return FALSE;
}

/* ------------------------------------------------------------------ */
/* URLs                                                                */
/* ------------------------------------------------------------------ */

gboolean
_td_feed_url_is_absolute (const char *url)
{
  const char *p = url;

  if (url == NULL || !g_ascii_isalpha (*p))
    return FALSE;
  while (g_ascii_isalnum (*p) || *p == '+' || *p == '-' || *p == '.')
    p++;
  return *p == ':';
}

/* Appends @path (@len bytes) to @out with "." and ".." segments removed
 * (RFC 3986 §5.2.4); @out's bytes before @floor are never removed. */
static void
append_without_dot_segments (GString    *out,
                             const char *path,
                             gsize       len,
                             gsize       floor)
{
  const char *p = path, *end = path + len;

  while (p < end)
    {
      gsize rest = end - p;

      if (rest >= 3 && memcmp (p, "../", 3) == 0)
        p += 3;
      else if (rest >= 2 && memcmp (p, "./", 2) == 0)
        p += 2;
      else if (rest >= 3 && memcmp (p, "/./", 3) == 0)
        p += 2;
      else if (rest == 2 && memcmp (p, "/.", 2) == 0)
        {
          g_string_append_c (out, '/');
          p = end;
        }
      else if ((rest >= 4 && memcmp (p, "/../", 4) == 0) || (rest == 3 && memcmp (p, "/..", 3) == 0))
        {
          /* Drop the last segment written, and its '/'. */
          gsize cut = out->len;

          while (cut > floor && out->str[cut - 1] != '/')
            cut--;
          if (cut > floor)
            cut--;
          g_string_truncate (out, cut);

          if (rest == 3)
            {
              g_string_append_c (out, '/');
              p = end;
            }
          else
            p += 3;
        }
      else if ((rest == 1 && p[0] == '.') || (rest == 2 && memcmp (p, "..", 2) == 0))
        p = end;
      else
        {
          const char *seg = p;

          if (*p == '/')
            p++;
          while (p < end && *p != '/')
            p++;
          g_string_append_len (out, seg, p - seg);
        }
    }
}

/* RFC 3986 §5.2 for the common case of a hierarchical base
 * ("scheme://authority/path?query"), without building GUris: feeds
 * resolve a URL or two per entry. Returns NULL to ask for the general
 * resolver. */
static char *
resolve_hierarchical (const char *base,
                      const char *ref)
{
  const char *colon = strchr (base, ':');
  const char *authority, *path, *path_end, *ref_path_end;
  GString *out;
  gsize prefix, ref_path_len;

  if (colon == NULL || colon[1] != '/' || colon[2] != '/' || (ref[0] == '/' && ref[1] == '/'))
    return NULL;

  authority = colon + 3;
  path = authority + strcspn (authority, "/?#");
  path_end = path + strcspn (path, "?#");

  /* Only the path is rewritten: bail out on anything unusual. */
  if (strchr (ref, '\\') != NULL)
    return NULL;

  out = g_string_sized_new (strlen (base) + strlen (ref) + 1);

  if (ref[0] == '\0')
    {
      g_string_append_len (out, base, base + strcspn (base, "#") - base);
      return g_string_free (out, FALSE);
    }
  if (ref[0] == '#')
    {
      g_string_append_len (out, base, base + strcspn (base, "#") - base);
      g_string_append (out, ref);
      return g_string_free (out, FALSE);
    }
  if (ref[0] == '?')
    {
      g_string_append_len (out, base, path_end - base);
      g_string_append (out, ref);
      return g_string_free (out, FALSE);
    }

  g_string_append_len (out, base, path - base);
  prefix = out->len;

  ref_path_len = strcspn (ref, "?#");
  ref_path_end = ref + ref_path_len;

  if (ref[0] == '/')
    append_without_dot_segments (out, ref, ref_path_len, prefix);
  else
    {
      /* Merge (§5.2.3): the base path up to its last '/', then ref. */
      g_autoptr(GString) merged = g_string_new (NULL);
      const char *slash = NULL;

      for (const char *c = path; c < path_end; c++)
        if (*c == '/')
          slash = c;

      if (slash == NULL)
        g_string_append_c (merged, '/');
      else
        g_string_append_len (merged, path, slash + 1 - path);
      g_string_append_len (merged, ref, ref_path_len);
      append_without_dot_segments (out, merged->str, merged->len, prefix);
    }

  g_string_append (out, ref_path_end);
  return g_string_free (out, FALSE);
}

/* A URL from a document with a wrong or unknown charset may hold bytes
 * that are not UTF-8; every string Tidings keeps must be UTF-8, so such
 * bytes are percent-encoded (as browsers do). Takes @url. */
static char *
url_make_valid (char *url)
{
  GString *out;

  if (url == NULL || g_utf8_validate (url, -1, NULL))
    return url;

  out = g_string_sized_new (strlen (url) + 16);
  for (const guchar *p = (const guchar *) url; *p != '\0'; p++)
    {
      if (*p >= 0x80)
        g_string_append_printf (out, "%%%02X", *p);
      else
        g_string_append_c (out, (char) *p);
    }
  g_free (url);
  return g_string_free (out, FALSE);
}

/* RFC 3986 resolution by GLib for what resolve_hierarchical() leaves:
 * g_uri_resolve_relative() without its last step. GLib 2.74 can parse
 * a result that it then refuses to write out, with a critical warning
 * (a host with a path not starting with '/', as from a <base href> of
 * "//host" and bytes that are not a hostname; no host and a path
 * starting with "//", as from a base "a:b" and ".//c"; both found by
 * fuzzing): such a result is checked first and not written. Returns
 * NULL when there is no result. */
static char *
resolve_general (const char *base,
                 const char *ref)
{
  GUriFlags flags = G_URI_FLAGS_PARSE_RELAXED | G_URI_FLAGS_ENCODED;
  g_autoptr(GUri) base_uri = g_uri_parse (base, flags, NULL);
  g_autoptr(GUri) resolved = NULL;
  const char *host, *path;

  if (base_uri == NULL)
    return NULL;
  resolved = g_uri_parse_relative (base_uri, ref, flags, NULL);
  if (resolved == NULL)
    return NULL;
  host = g_uri_get_host (resolved);
  path = g_uri_get_path (resolved);
  if (host != NULL && path[0] != '\0' && path[0] != '/')
    return NULL;
  if (host == NULL && path[0] == '/' && path[1] == '/')
    return NULL;
  return g_uri_to_string_partial (resolved, G_URI_HIDE_NONE);
}

char *
_td_feed_resolve_url (const char *base,
                      const char *ref)
{
  char *resolved;

  if (ref == NULL)
    return NULL;
  if (base == NULL || _td_feed_url_is_absolute (ref) || !_td_feed_url_is_absolute (base))
    return url_make_valid (g_strdup (ref));

  resolved = resolve_hierarchical (base, ref);
  if (resolved != NULL)
    return url_make_valid (resolved);

  resolved = resolve_general (base, ref);
  if (resolved == NULL)
    return url_make_valid (g_strdup (ref));
  return url_make_valid (resolved);
}

static gboolean
is_url_attribute (const char *name,
                  gsize       len)
{
  static const char * const names[] = {
    "href", "src", "poster", "cite", "background", "longdesc", "action",
  };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (strlen (names[i]) == len && g_ascii_strncasecmp (name, names[i], len) == 0)
      return TRUE;
  return FALSE;
}

char *
_td_feed_html_resolve_urls (const char *html,
                            const char *base)
{
  GString *out = NULL;
  const char *p, *copied;

  if (html == NULL || base == NULL || !_td_feed_url_is_absolute (base))
    return NULL;

  p = copied = html;
  while ((p = strchr (p, '<')) != NULL)
    {
      p++;
      if (g_str_has_prefix (p, "!--"))
        {
          const char *end = strstr (p + 3, "-->");
          if (end == NULL)
            break;
          p = end + 3;
          continue;
        }
      if (!g_ascii_isalpha (*p))
        continue;
      while (g_ascii_isalnum (*p) || *p == ':' || *p == '-')
        p++;

      /* Attributes until '>' */
      for (;;)
        {
          const char *name, *value;
          gsize name_len, value_len;
          char quote = 0;

          while (g_ascii_isspace (*p) || *p == '/')
            p++;
          if (*p == '\0' || *p == '>' || *p == '<')
            break;

          name = p;
          while (*p != '\0' && !g_ascii_isspace (*p) && *p != '=' && *p != '>' && *p != '/' && *p != '<')
            p++;
          name_len = p - name;
          if (name_len == 0)
            {
              p++;
              continue;
            }
          while (g_ascii_isspace (*p))
            p++;
          if (*p != '=')
            continue;
          p++;
          while (g_ascii_isspace (*p))
            p++;

          if (*p == '"' || *p == '\'')
            {
              const char *end;
              quote = *p++;
              end = strchr (p, quote);
              if (end == NULL)
                goto done;
              value = p;
              value_len = end - p;
              p = end + 1;
            }
          else
            {
              value = p;
              while (*p != '\0' && !g_ascii_isspace (*p) && *p != '>')
                p++;
              value_len = p - value;
            }

          if (value_len > 0 && value[0] != '#' && is_url_attribute (name, name_len))
            {
              g_autofree char *ref = g_strndup (value, value_len);
              g_autofree char *trimmed = g_strdup (ref);

              g_strstrip (trimmed);
              if (*trimmed != '\0' && !_td_feed_url_is_absolute (trimmed))
                {
                  g_autofree char *resolved = _td_feed_resolve_url (base, trimmed);

                  if (out == NULL)
                    out = g_string_sized_new (strlen (html) + 64);
                  g_string_append_len (out, copied, value - copied);
                  for (const char *r = resolved; *r != '\0'; r++)
                    {
                      if (*r == '"' || *r == '\'' || *r == '<' || *r == '>' || g_ascii_isspace (*r))
                        g_string_append_printf (out, "%%%02X", (guchar) *r);
                      else
                        g_string_append_c (out, *r);
                    }
                  copied = value + value_len;
                }
            }
        }
    }

done:
  if (out == NULL)
    return NULL;
  g_string_append (out, copied);
  return g_string_free (out, FALSE);
}

/* ------------------------------------------------------------------ */
/* Reading text out of a tree                                          */
/* ------------------------------------------------------------------ */

static gboolean
string_append_clamped (GString    *out,
                       const char *text,
                       gsize       max)
{
  gsize n, room;

  if (text == NULL)
    return TRUE;
  if (out->len >= max)
    return FALSE;

  n = strlen (text);
  room = max - out->len;
  if (n <= room)
    {
      g_string_append_len (out, text, n);
      return TRUE;
    }

  while (room > 0 && ((guchar) text[room] & 0xC0) == 0x80)
    room--;
  g_string_append_len (out, text, room);
  return FALSE;
}

static gboolean
collect_text (GString *out,
              xmlNode *first,
              gsize    max,
              int      depth,
              gsize   *budget)
{
  for (xmlNode *n = first; n != NULL; n = n->next)
    {
      switch (n->type)
        {
        case XML_TEXT_NODE:
        case XML_CDATA_SECTION_NODE:
          if (!string_append_clamped (out, (const char *) n->content, max))
            return FALSE;
          break;

        case XML_ELEMENT_NODE:
          if (!collect_text (out, n->children, max, depth, budget))
            return FALSE;
          break;

        case XML_ENTITY_REF_NODE:
          {
            /* libxml2 points an entity reference's children at the
             * entity declaration, whose children are its parsed content. */
            xmlEntityPtr ent = (xmlEntityPtr) n->children;
            gsize before = out->len;
            gboolean more;

            if (ent == NULL || ent->type != XML_ENTITY_DECL ||
                ent->etype != XML_INTERNAL_GENERAL_ENTITY ||
                depth >= TD_FEED_MAX_ENTITY_DEPTH || *budget == 0)
              break;

            more = collect_text (out, ent->children, MIN (max, out->len + *budget), depth + 1, budget);
            *budget -= MIN (*budget, out->len - before);
            if (!more && out->len >= max)
              return FALSE;
          }
          break;

        default:
          break;
        }
    }

  return TRUE;
}

gboolean
_td_xml_collect_text (GString *out,
                      xmlNode *first,
                      gsize    max,
                      gsize   *entity_budget)
{
  return collect_text (out, first, max, 0, entity_budget);
}

/* ------------------------------------------------------------------ */
/* Hardened libxml2 parsing                                            */
/* ------------------------------------------------------------------ */

typedef struct
{
  char *first_error;
  int   first_line;
} ErrorState;

static void
structured_error_cb (void        *user_data,
                     xmlErrorPtr  err)
{
  xmlParserCtxtPtr ctxt = user_data;
  ErrorState *state;

  if (ctxt == NULL || err == NULL || ctxt->_private == NULL)
    return;
  state = ctxt->_private;

  if (err->level < XML_ERR_ERROR || state->first_error != NULL)
    return;

  state->first_error = g_strchomp (_td_feed_utf8_clamp (err->message ? err->message : "unknown error", -1, 512));
  state->first_line = err->line;
}

static void
silent_generic_error_cb (void       *ctx,
                         const char *msg,
                         ...)
{
}

/* Undeclared HTML entities (&nbsp;, &eacute; ...) appear in RSS 0.91 feeds
 * that name Netscape's DTD, and in many feeds that name none. They are
 * answered from libxml2's HTML 4 table as predefined entities, so they are
 * substituted as text and never reach the network or the entity-expansion
 * machinery. */
G_LOCK_DEFINE_STATIC (html_entities);
static GHashTable *html_entities;

static xmlEntityPtr
lookup_html_entity (const xmlChar *name)
{
  const htmlEntityDesc *desc;
  xmlEntityPtr ent;

  desc = htmlEntityLookup (name);
  if (desc == NULL)
    return NULL;

  G_LOCK (html_entities);
  if (html_entities == NULL)
    html_entities = g_hash_table_new (g_str_hash, g_str_equal);
  ent = g_hash_table_lookup (html_entities, desc->name);
  if (ent == NULL)
    {
      char utf8[8] = { 0 };

      g_unichar_to_utf8 (desc->value, utf8);
      ent = xmlNewEntity (NULL, BAD_CAST desc->name, XML_INTERNAL_PREDEFINED_ENTITY,
                          NULL, NULL, BAD_CAST utf8);
      /* Kept for the life of the process: at most the 253 HTML 4 names. */
      g_hash_table_insert (html_entities, (gpointer) desc->name, ent);
    }
  G_UNLOCK (html_entities);

  return ent;
}

static xmlEntityPtr
get_entity_cb (void          *ctx,
               const xmlChar *name)
{
  xmlEntityPtr ent = xmlSAX2GetEntity (ctx, name);

  if (ent != NULL)
    return ent;
  return lookup_html_entity (name);
}

static xmlParserInputPtr
resolve_entity_cb (void          *ctx,
                   const xmlChar *public_id,
                   const xmlChar *system_id)
{
  /* Never load anything from outside the document. */
  return NULL;
}

static void
external_subset_cb (void          *ctx,
                    const xmlChar *name,
                    const xmlChar *external_id,
                    const xmlChar *system_id)
{
  /* The external DTD subset is not loaded. */
}

void
_td_xml_init (void)
{
  static gsize initialized = 0;

  if (g_once_init_enter (&initialized))
    {
      xmlInitParser ();
      g_once_init_leave (&initialized, 1);
    }
}

/* Names a reused parser context may hold before it is replaced. Real
 * feeds use a few dozen element and attribute names. */
#define TD_XML_MAX_CACHED_DICT_NAMES 4096

static void
free_parser_ctxt (gpointer ctxt)
{
  xmlFreeParserCtxt (ctxt);
}

static GPrivate cached_ctxt = G_PRIVATE_INIT (free_parser_ctxt);

/* One libxml2 parse with the hardened options and hooks. Returns the
 * document (NULL if there is none or it has no root element). */
static xmlDocPtr
parse_once (const char *input,
            gsize       input_len,
            const char *url,
            const char *encoding,
            ErrorState *state,
            gboolean   *well_formed)
{
  xmlParserCtxtPtr ctxt;
  xmlGenericErrorFunc old_generic;
  void *old_generic_ctx;
  xmlDocPtr doc;

  *well_formed = FALSE;

  /* A parser context (and its name dictionary) per thread, reused:
   * creating one costs about a tenth of parsing a typical feed. */
  ctxt = g_private_get (&cached_ctxt);
  if (ctxt == NULL)
    {
      ctxt = xmlNewParserCtxt ();
      if (ctxt == NULL)
        return NULL;
      ctxt->sax->serror = structured_error_cb;
      ctxt->sax->getEntity = get_entity_cb;
      ctxt->sax->resolveEntity = resolve_entity_cb;
      ctxt->sax->externalSubset = external_subset_cb;
      g_private_set (&cached_ctxt, ctxt);
    }

  ctxt->_private = state;

  /* Errors raised outside a parser context (encoding conversion) would
   * otherwise be printed on stderr; silence them on this thread only. */
  old_generic = xmlGenericError;
  old_generic_ctx = xmlGenericErrorContext;
  xmlSetGenericErrorFunc (NULL, silent_generic_error_cb);

  doc = xmlCtxtReadMemory (ctxt, input, (int) input_len, url, encoding, TD_XML_OPTIONS);

  xmlSetGenericErrorFunc (old_generic_ctx, old_generic);

  /* The parser must never have run with a dangerous option. */
  g_assert ((ctxt->options & TD_XML_FORBIDDEN_OPTIONS) == 0);
  g_assert (ctxt->replaceEntities == 0);

  if (doc != NULL && xmlDocGetRootElement (doc) == NULL)
    g_clear_pointer (&doc, xmlFreeDoc);

  *well_formed = ctxt->wellFormed;
  ctxt->_private = NULL;

  /* Documents full of distinct names would grow the shared dictionary
   * without bound: start afresh past the limit. A context that saw a
   * malformed or halted document is not trusted with the next one. */
  if (!*well_formed || ctxt->dict == NULL || xmlDictSize (ctxt->dict) > TD_XML_MAX_CACHED_DICT_NAMES)
    g_private_replace (&cached_ctxt, NULL);

  return doc;
}

xmlDocPtr
_td_xml_read_hardened (const char  *data,
                       gsize        len,
                       const char  *url,
                       const char  *http_charset,
                       char       **not_well_formed,
                       GPtrArray   *warnings,
                       GError     **error)
{
  g_autofree char *converted = NULL;
  g_autofree char *declared = NULL;
  g_autofree char *label = NULL;
  const char *input = data;
  gsize input_len = len;
  const char *force_encoding = NULL;
  xmlDocPtr doc;
  ErrorState state = { NULL, 0 };
  gboolean has_bom = FALSE;
  gboolean check_utf8 = FALSE;
  gboolean well_formed = FALSE;

  g_return_val_if_fail (data != NULL || len == 0, NULL);

  _td_xml_init ();

  if (not_well_formed != NULL)
    *not_well_formed = NULL;

  if (len > INT_MAX)
    {
      g_set_error (error, TD_FEED_ERROR, TD_FEED_ERROR_TOO_LARGE, "document too large");
      return NULL;
    }

  /* Charset order: BOM > XML declaration > HTTP charset. */
  if (len >= 3 && memcmp (data, "\xEF\xBB\xBF", 3) == 0)
    {
      has_bom = TRUE;
      label = g_strdup ("utf-8");
      input = data + 3;
      input_len = len - 3;
    }
  else if (len >= 2 && ((guchar) data[0] == 0xFF && (guchar) data[1] == 0xFE))
    has_bom = TRUE;     /* UTF-16LE: libxml2 detects it */
  else if (len >= 2 && ((guchar) data[0] == 0xFE && (guchar) data[1] == 0xFF))
    has_bom = TRUE;     /* UTF-16BE */
  else if (len >= 2 && (data[0] == '\0' || data[1] == '\0'))
    has_bom = TRUE;     /* UTF-16/32 without BOM: libxml2 sniffs "<?xml" */
  else
    {
      declared = declared_encoding (data, len);
      if (declared != NULL)
        label = g_strdup (declared);
      else if (http_charset != NULL && *http_charset != '\0')
        label = g_ascii_strdown (http_charset, -1);
      else
        label = g_strdup ("utf-8");
    }

  if (label != NULL && is_utf8_label (label))
    {
      /* Validity is checked only if the parse fails: valid documents
       * should not pay for a second pass over their bytes. */
      force_encoding = "UTF-8";
      check_utf8 = TRUE;
    }
  else if (label != NULL && is_cp1252_label (label))
    {
      converted = _td_feed_cp1252_to_utf8 (input, input_len, FALSE, &input_len);
      input = converted;
      force_encoding = "UTF-8";
    }
  else if (label != NULL && declared == NULL && !has_bom)
    {
      xmlCharEncodingHandlerPtr handler = xmlFindCharEncodingHandler (label);

      if (handler != NULL)
        {
          force_encoding = label;
          xmlCharEncCloseFunc (handler);
        }
      else if (warnings != NULL)
        g_ptr_array_add (warnings, g_strdup_printf ("unknown charset \"%s\" ignored", label));
    }

  doc = parse_once (input, input_len, url, force_encoding, &state, &well_formed);

  if (check_utf8 && (doc == NULL || !well_formed) && !g_utf8_validate_len (input, input_len, NULL))
    {
      /* Mixed or mislabelled bytes: read what is not UTF-8 as
       * Windows-1252 and parse again. */
      g_clear_pointer (&doc, xmlFreeDoc);
      g_clear_pointer (&state.first_error, g_free);
      converted = _td_feed_cp1252_to_utf8 (input, input_len, TRUE, &input_len);
      input = converted;
      if (warnings != NULL)
        g_ptr_array_add (warnings, g_strdup ("document is not valid UTF-8; bytes that are not were read as Windows-1252"));
      doc = parse_once (input, input_len, url, force_encoding, &state, &well_formed);
    }

  if (doc == NULL)
    {
      g_set_error (error, TD_FEED_ERROR, TD_FEED_ERROR_INVALID,
                   "not well-formed: %s (line %d)",
                   state.first_error ? state.first_error : "no document element",
                   state.first_line);
    }
  else if (!well_formed && not_well_formed != NULL)
    {
      *not_well_formed = g_strdup_printf ("not well-formed: %s (line %d)",
                                          state.first_error ? state.first_error : "unknown error",
                                          state.first_line);
    }

  g_free (state.first_error);

  return doc;
}
