/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Feed documents (RSS, Atom, JSON Feed), then the JSON dump of the result. */
#include <glib.h>
#include <stdint.h>

#include "feeds/td-feed-json.h"
#include "feeds/td-feed-parser.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GError) error = NULL;
  TdFeed *feed;

  /* The first byte picks the declared type, so both paths are reached
   * from one corpus. */
  static const char *types[] = { NULL, "application/rss+xml; charset=iso-8859-1", "application/feed+json", "text/html" };
  const char *type = size > 0 ? types[data[0] % G_N_ELEMENTS (types)] : NULL;

  feed = td_feed_parse ((const char *) data, size, "https://example.org/feed/", type, &error);
  g_assert ((feed == NULL) != (error == NULL));
  if (feed != NULL)
    {
      g_autofree char *json = td_feed_to_json (feed);

      g_assert_nonnull (json);
      g_assert_true (g_utf8_validate (json, -1, NULL));
      td_feed_free (feed);
    }
  return 0;
}
