/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* Finding widgets in a tree, for the UI tests: one depth-first walk,
 * and what is looked for as a predicate; and running the main loop for
 * a while, or until a predicate holds. */

#include <gtk/gtk.h>

typedef gboolean (*TdTestWidgetMatch) (GtkWidget     *widget,
                                       gconstpointer  data);

/* The first widget under @root (itself included) that @match accepts. */
static inline GtkWidget *
td_test_find (GtkWidget         *root,
              TdTestWidgetMatch  match,
              gconstpointer      data)
{
  if (match (root, data))
    return root;
  for (GtkWidget *child = gtk_widget_get_first_child (root); child; child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = td_test_find (child, match, data);

      if (found != NULL)
        return found;
    }
  return NULL;
}

static inline gboolean
td_test_is_of_type (GtkWidget     *widget,
                    gconstpointer  type)
{
  return G_TYPE_CHECK_INSTANCE_TYPE (widget, (GType) GPOINTER_TO_SIZE (type));
}

/* The first widget of @type under @root (itself included). */
static inline GtkWidget *
td_test_find_of_type (GtkWidget *root,
                      GType      type)
{
  return td_test_find (root, td_test_is_of_type, GSIZE_TO_POINTER (type));
}

/* Every widget under @root (itself included) that @match accepts, in
 * tree order, added to @found. */
static inline void
td_test_collect (GtkWidget         *root,
                 TdTestWidgetMatch  match,
                 gconstpointer      data,
                 GPtrArray         *found)
{
  if (match (root, data))
    g_ptr_array_add (found, root);
  for (GtkWidget *child = gtk_widget_get_first_child (root); child; child = gtk_widget_get_next_sibling (child))
    td_test_collect (child, match, data, found);
}

/* Runs the default main context for @ms, whether or not anything is
 * ready (a millisecond's sleep between iterations). */
static inline void
td_test_spin (guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * G_TIME_SPAN_MILLISECOND;

  while (g_get_monotonic_time () < end)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
}

/* Runs the default main context until @predicate (@data) holds; FALSE if
 * it still does not after @timeout_ms. */
static inline gboolean
td_test_wait_until (GSourceFunc predicate,
                    gpointer    data,
                    guint       timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * G_TIME_SPAN_MILLISECOND;

  while (!predicate (data))
    {
      if (g_get_monotonic_time () > deadline)
        return FALSE;
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
  return TRUE;
}
