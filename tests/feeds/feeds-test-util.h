/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <string.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "feeds/td-feed-json.h"
#include "feeds/td-feed-parser.h"

/*
 * Helpers shared by the feeds tests: fixture loading, and checks written
 * as "path OP value" against the JSON form of a parsed feed, e.g.
 *   "entries.0.links.1.href=http://x/"   equal
 *   "feed.title~=Caf"                    contains
 *   "entries#=3"                          array length
 *   "entries.0.id!"                       absent
 *   "entries.1.published=null"            present but null
 */

static inline char *
feeds_fixture_path (const char *name)
{
  const char *srcdir = g_getenv ("TD_TEST_SRCDIR");

  if (srcdir == NULL)
    srcdir = TD_FEEDS_TEST_SRCDIR;
  return g_build_filename (srcdir, "fixtures", "feeds", name, NULL);
}

static inline GBytes *
feeds_load_fixture (const char *name)
{
  g_autofree char *path = feeds_fixture_path (name);
  g_autoptr(GError) error = NULL;
  char *data = NULL;
  gsize len = 0;

  if (!g_file_get_contents (path, &data, &len, &error))
    g_error ("cannot load fixture %s: %s", path, error->message);
  return g_bytes_new_take (data, len);
}

static inline JsonNode *
feeds_json_lookup (JsonNode   *root,
                   const char *path)
{
  g_auto(GStrv) parts = g_strsplit (path, ".", -1);
  JsonNode *node = root;

  for (guint i = 0; parts[i] != NULL && node != NULL; i++)
    {
      if (JSON_NODE_HOLDS_OBJECT (node))
        {
          JsonObject *obj = json_node_get_object (node);
          node = json_object_has_member (obj, parts[i]) ? json_object_get_member (obj, parts[i]) : NULL;
        }
      else if (JSON_NODE_HOLDS_ARRAY (node))
        {
          JsonArray *arr = json_node_get_array (node);
          guint64 index;

          if (!g_ascii_string_to_unsigned (parts[i], 10, 0, G_MAXUINT, &index, NULL) ||
              index >= json_array_get_length (arr))
            return NULL;
          node = json_array_get_element (arr, (guint) index);
        }
      else
        return NULL;
    }

  return node;
}

static inline char *
feeds_json_value_string (JsonNode *node)
{
  if (node == NULL)
    return g_strdup ("<absent>");
  if (JSON_NODE_HOLDS_NULL (node))
    return g_strdup ("null");
  if (JSON_NODE_HOLDS_ARRAY (node))
    return g_strdup_printf ("<array of %u>", json_array_get_length (json_node_get_array (node)));
  if (JSON_NODE_HOLDS_OBJECT (node))
    return g_strdup ("<object>");
  if (json_node_get_value_type (node) == G_TYPE_STRING)
    return g_strdup (json_node_get_string (node));
  if (json_node_get_value_type (node) == G_TYPE_INT64)
    return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (node));
  if (json_node_get_value_type (node) == G_TYPE_BOOLEAN)
    return g_strdup (json_node_get_boolean (node) ? "true" : "false");
  return g_strdup ("<value>");
}

/* Asserts one check (see above) against @root. */
static inline void
feeds_json_check (JsonNode   *root,
                  const char *check)
{
  g_autofree char *path = NULL;
  g_autofree char *actual = NULL;
  const char *op, *expected;
  JsonNode *node;

  if (g_str_has_suffix (check, "!"))
    {
      path = g_strndup (check, strlen (check) - 1);
      node = feeds_json_lookup (root, path);
      if (node != NULL)
        {
          actual = feeds_json_value_string (node);
          g_test_fail_printf ("%s: expected absent, got \"%s\"", path, actual);
        }
      return;
    }

  op = strchr (check, '=');
  g_assert_nonnull (op);

  if (op > check && op[-1] == '#')
    {
      op--;
      path = g_strndup (check, op - check);
      expected = op + 2;
      node = feeds_json_lookup (root, path);
      if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
        {
          g_test_fail_printf ("%s: expected an array of %s, got none", path, expected);
          return;
        }
      actual = g_strdup_printf ("%u", json_array_get_length (json_node_get_array (node)));
      if (strcmp (actual, expected) != 0)
        g_test_fail_printf ("%s: expected %s elements, got %s", path, expected, actual);
      return;
    }

  if (op > check && op[-1] == '~')
    {
      op--;
      path = g_strndup (check, op - check);
      expected = op + 2;
      actual = feeds_json_value_string (feeds_json_lookup (root, path));
      if (strstr (actual, expected) == NULL)
        g_test_fail_printf ("%s: expected to contain \"%s\", got \"%s\"", path, expected, actual);
      return;
    }

  path = g_strndup (check, op - check);
  expected = op + 1;
  actual = feeds_json_value_string (feeds_json_lookup (root, path));
  if (strcmp (actual, expected) != 0)
    g_test_fail_printf ("%s: expected \"%s\", got \"%s\"", path, expected, actual);
}
