/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

#include "feeds/td-feed.h"

G_BEGIN_DECLS

/* Pages larger than this are not searched for feed links: the links are
 * in <head>, which is near the start of any real page. */
#define TD_FEED_DISCOVER_MAX_PAGE_SIZE (4 * 1024 * 1024)
/* Feed links kept from one page. */
#define TD_FEED_DISCOVER_MAX_LINKS     64

/* Feed autodiscovery: every <link rel="alternate"> of a feed type in the
 * HTML page @data (RSS, Atom, JSON Feed, RDF), in document order, with
 * href resolved against @page_url and <base href>, titles kept, and
 * duplicates dropped. Returns an array of TdFeedLink (possibly empty);
 * never fetches anything. @content_type supplies a charset if the page
 * declares none (may be NULL). */
GPtrArray *td_feed_discover (const char *data,
                             gsize       len,
                             const char *page_url,
                             const char *content_type);

/* Returns TRUE if @type (a MIME type, parameters allowed) names a feed. */
gboolean   td_feed_discover_is_feed_type (const char *type);

G_END_DECLS
