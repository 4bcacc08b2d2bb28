/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "feeds/td-feed.h"

G_BEGIN_DECLS

#define TD_FEED_ERROR (td_feed_error_quark ())

typedef enum
{
  TD_FEED_ERROR_EMPTY,        /* no bytes at all */
  TD_FEED_ERROR_TOO_LARGE,    /* over TD_FEED_MAX_DOCUMENT_SIZE */
  TD_FEED_ERROR_INVALID,      /* not XML or JSON that anything could be read from */
  TD_FEED_ERROR_NOT_A_FEED,   /* well-formed, but not RSS, Atom or JSON Feed */
} TdFeedError;

/* Limits on what one document can make us do. Every feed is untrusted. */

/* Larger than any real feed (big podcast feeds are a few MiB) and small
 * enough that a parse never needs more than a few hundred MiB. */
#define TD_FEED_MAX_DOCUMENT_SIZE (20 * 1024 * 1024)
/* Entries kept from one document; the rest are dropped with a warning.
 * Real feeds carry tens to a few thousand. */
#define TD_FEED_MAX_ENTRIES       10000
/* One-line values: titles, ids, URLs, names. Longer ones are cut. */
#define TD_FEED_MAX_FIELD_LENGTH  (64 * 1024)
/* Bodies: summaries and content. */
#define TD_FEED_MAX_TEXT_LENGTH   (4 * 1024 * 1024)
/* Links, authors, categories, enclosures and contents per entry. */
#define TD_FEED_MAX_LIST_LENGTH   256
/* Element / JSON nesting. libxml2 stops at 256 without XML_PARSE_HUGE;
 * JSON is checked against the same depth before json-glib (which is
 * recursive) sees it. */
#define TD_FEED_MAX_DEPTH         256
/* Nesting of entity references expanded while reading text. */
#define TD_FEED_MAX_ENTITY_DEPTH  8
/* Bytes that internal entities may expand to in one document, on top of
 * libxml2's own amplification check. Real feeds use a few short entities
 * at most; this makes any "laughs" document cheap whatever its shape. */
#define TD_FEED_MAX_ENTITY_EXPANSION (1024 * 1024)

GQuark  td_feed_error_quark (void);

/* Parses RSS 0.9x/1.0/2.0, Atom 1.0/0.3 or JSON Feed 1.0/1.1 from @data.
 * @base_url is the document's URL after redirects (relative URLs and
 * xml:base resolve against it; may be NULL). @content_type is the HTTP
 * Content-Type (its charset is the last resort for XML; may be NULL).
 * Returns a new feed (with warnings for anything recovered), or NULL
 * with @error set when nothing could be parsed. Never fetches anything. */
TdFeed *td_feed_parse       (const char  *data,
                             gsize        len,
                             const char  *base_url,
                             const char  *content_type,
                             GError     **error);

G_END_DECLS
