/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <gio/gio.h>

#include "app/td-pubsub-ring.h"

static void
finalized_cb (gpointer  data,
              GObject  *where_the_object_was)
{
  guint *finalized = data;

  (*finalized)++;
}

static gpointer *
items_new (guint  n,
           guint *finalized)
{
  gpointer *items = g_new (gpointer, n);

  for (guint i = 0; i < n; i++)
    {
      items[i] = g_simple_action_new ("item", NULL);
      g_object_weak_ref (items[i], finalized_cb, finalized);
    }
  return items;
}

/* Dropped items are released a batch at a time, from an idle, so that a
 * whole ring dropped at once does not freeze the window. */
static void
test_release_later (void)
{
  TdPubsubRing *ring = td_pubsub_ring_new (G_TYPE_SIMPLE_ACTION, 100);
  guint finalized = 0;
  g_autofree gpointer *first = items_new (100, &finalized);
  g_autofree gpointer *second = items_new (1300, &finalized);
  g_autofree gpointer *third = items_new (10, &finalized);
  guint before;

  g_assert_cmpuint (td_pubsub_ring_append (ring, first, 100), ==, 0);
  /* 1,300 more: the 100 there go, and 1,200 of the new ones never fit. */
  g_assert_cmpuint (td_pubsub_ring_append (ring, second, 1300), ==, 1300);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (ring)), ==, 100);
  g_assert_cmpuint (td_pubsub_ring_get_n_dropped (ring), ==, 1300);
  g_assert_cmpuint (finalized, ==, 0);

  /* One dispatch releases one batch, no more. */
  g_assert_true (g_main_context_iteration (NULL, FALSE));
  g_assert_cmpuint (finalized, ==, 500);
  while (finalized < 1300)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (finalized, ==, 1300);
  /* Nothing left to do: the idle is gone. */
  g_assert_false (g_main_context_pending (NULL));

  /* Shrinking and clearing drop the same way. */
  td_pubsub_ring_set_capacity (ring, 40);
  g_assert_cmpuint (finalized, ==, 1300);
  while (g_main_context_pending (NULL))
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (finalized, ==, 1360);
  td_pubsub_ring_clear (ring);
  while (g_main_context_pending (NULL))
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (finalized, ==, 1400);

  /* A ring that goes away releases what it holds and what waits. */
  td_pubsub_ring_append (ring, third, 10);
  td_pubsub_ring_set_capacity (ring, 5);
  before = finalized;
  g_object_unref (ring);
  g_assert_cmpuint (finalized - before, ==, 10);
  g_assert_false (g_main_context_pending (NULL));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/pubsub-ring/release-later", test_release_later);
  return g_test_run ();
}
