/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Feed autodiscovery in an HTML page the user pasted the address of. */
#include <glib.h>
#include <stdint.h>

#include "feeds/td-feed-discover.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  /* The first byte picks the declared type, so the charset paths are
   * reached from one corpus. */
  static const char *types[] = { NULL, "text/html; charset=iso-8859-1", "text/html", "text/html; charset=bogus" };
  const char *type = size > 0 ? types[data[0] % G_N_ELEMENTS (types)] : NULL;
  g_autoptr(GPtrArray) links = NULL;

  links = td_feed_discover ((const char *) data, size, "https://example.org/page/", type);
  g_assert_nonnull (links);
  g_assert_cmpuint (links->len, <=, TD_FEED_DISCOVER_MAX_LINKS);
  for (guint i = 0; i < links->len; i++)
    {
      TdFeedLink *link = g_ptr_array_index (links, i);

      g_assert_nonnull (link->href);
      g_assert_true (g_utf8_validate (link->href, -1, NULL));
      g_assert_true (link->title == NULL || g_utf8_validate (link->title, -1, NULL));
      g_assert_true (link->type == NULL || td_feed_discover_is_feed_type (link->type));
    }
  return 0;
}
