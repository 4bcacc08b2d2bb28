/* SPDX-License-Identifier: GPL-3.0-or-later */
/* OPML subscription lists from a file the user picked (or a web page):
 * import, export, and import of the export again. */
#include <glib.h>
#include <stdint.h>

#include "feeds/td-opml.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static guint
check_outlines (GPtrArray *outlines,
                guint      depth)
{
  guint n = 0;

  g_assert_cmpuint (depth, <=, TD_OPML_MAX_FOLDER_DEPTH + 1);
  for (guint i = 0; i < outlines->len; i++)
    {
      TdOpmlOutline *outline = g_ptr_array_index (outlines, i);

      n++;
      g_assert_true (outline->title == NULL || g_utf8_validate (outline->title, -1, NULL));
      if (outline->xml_url != NULL)
        {
          g_assert_null (outline->children);
          g_assert_true (g_utf8_validate (outline->xml_url, -1, NULL));
          /* Only schemes a feed can be fetched with are imported. */
          g_assert_true (g_ascii_strncasecmp (outline->xml_url, "http:", 5) == 0 ||
                         g_ascii_strncasecmp (outline->xml_url, "https:", 6) == 0 ||
                         g_ascii_strncasecmp (outline->xml_url, "file:", 5) == 0);
        }
      else if (outline->children != NULL)
        n += check_outlines (outline->children, depth + 1);
    }
  return n;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(TdOpml) opml = NULL;
  g_autoptr(TdOpml) again = NULL;
  g_autofree char *text = NULL;
  gsize len = 0;
  guint n;

  opml = td_opml_parse ((const char *) data, size, "https://example.org/list/", &error);
  g_assert ((opml == NULL) != (error == NULL));
  if (opml == NULL)
    return 0;
  g_assert_true (opml->title == NULL || g_utf8_validate (opml->title, -1, NULL));
  n = check_outlines (opml->outlines, 0);
  g_assert_cmpuint (n, <=, TD_OPML_MAX_OUTLINES);

  /* What was imported exports to a document that imports to the same
   * number of feeds. */
  text = td_opml_to_string (opml, &len);
  g_assert_nonnull (text);
  g_assert_true (g_utf8_validate (text, (gssize) len, NULL));
  again = td_opml_parse (text, len, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (td_opml_count_feeds (again), ==, td_opml_count_feeds (opml));
  return 0;
}
