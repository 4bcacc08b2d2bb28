/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <json-glib/json-glib.h>

#include "feeds/td-feed.h"

G_BEGIN_DECLS

/*
 * The JSON form of a parsed feed, as `tidings --parse-feed` prints it:
 *   {"version": "rss20" | "rss10" | "rss09x" | "atom10" | "atom03" |
 *               "json10" | "json11",
 *    "feed": {...}, "entries": [{...}, ...], "warnings": ["...", ...]}
 * Feed and entry objects carry a key only when the value is present;
 * dates are "YYYY-MM-DDTHH:MM:SSZ" (UTC), or null when the document had
 * the date but it could not be read.
 */

/* Returns a new JSON node for @feed. */
JsonNode *td_feed_to_json_node (const TdFeed *feed);

/* Returns @feed as pretty-printed JSON text ending in a newline. */
char     *td_feed_to_json      (const TdFeed *feed);

G_END_DECLS
