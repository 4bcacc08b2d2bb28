/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>
#include <libxml/tree.h>

G_BEGIN_DECLS

/*
 * Helpers shared by the feed parser, OPML and autodiscovery. Every input
 * here is untrusted: bytes from the network or from a file someone sent.
 */

/* Initializes libxml2 once per process (thread-safe). */
void       _td_xml_init               (void);

/* Parses @data as XML with the hardened options (no network, no external
 * entities, no DTD loading, no entity substitution, libxml2's default
 * depth and entity-amplification limits) and recovers from malformed
 * input. On success returns the document; if it was not well-formed,
 * *@not_well_formed is set to "not well-formed: REASON (line N)". Charset
 * order: BOM, then the XML declaration, then @http_charset; undecodable
 * bytes are read as Windows-1252 and reported in @warnings (char *).
 * Returns NULL with @error set when nothing could be parsed. */
xmlDocPtr  _td_xml_read_hardened      (const char  *data,
                                       gsize        len,
                                       const char  *url,
                                       const char  *http_charset,
                                       char       **not_well_formed,
                                       GPtrArray   *warnings,
                                       GError     **error);

/* Appends the text of @first, its siblings and their descendants to @out.
 * Internal entities are expanded from their parsed content, at most
 * TD_FEED_MAX_ENTITY_DEPTH deep and, in total, at most *@entity_budget
 * bytes (decremented); external entities never. Returns FALSE when @max
 * bytes were reached (the text is cut at a character boundary). */
gboolean   _td_xml_collect_text       (GString     *out,
                                       xmlNode     *first,
                                       gsize        max,
                                       gsize       *entity_budget);

/* Resolves @ref against @base (RFC 3986 §5). Returns a new string: @ref
 * unchanged when it is absolute, @base is NULL, or resolution fails. */
char      *_td_feed_resolve_url       (const char  *base,
                                       const char  *ref);

/* Returns TRUE if @url has a scheme ("http:", "mailto:", ...). */
gboolean   _td_feed_url_is_absolute   (const char  *url);

/* Rewrites relative href/src/... attribute values in an HTML fragment
 * against @base. Returns NULL when nothing needed rewriting. */
char      *_td_feed_html_resolve_urls (const char  *html,
                                       const char  *base);

/* Returns a valid-UTF-8 copy of @text, at most @max_bytes long (cut at a
 * character boundary), with NULs dropped. */
char      *_td_feed_utf8_clamp        (const char  *text,
                                       gssize       len,
                                       gsize        max_bytes);

/* Converts Windows-1252 (a superset of ISO-8859-1 as browsers read it) to
 * UTF-8. With @only_invalid, valid UTF-8 runs are kept and only bytes that
 * are not UTF-8 are converted (mixed-encoding documents). */
char      *_td_feed_cp1252_to_utf8    (const char  *data,
                                       gsize        len,
                                       gboolean     only_invalid,
                                       gsize       *out_len);

/* Extracts the charset parameter of a Content-Type value, or NULL. */
char      *_td_feed_content_type_charset (const char *content_type);

G_END_DECLS
