/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <gtk/gtk.h>

#include "app/td-warm-up.h"
#include "td-test-widgets.h"

/*
 * TdWarmUp lays out pages that are not shown: the rows of a list in such
 * a page are measured and placed before the page is first shown, nothing
 * of it is drawn, and pages that are shown, invisible or gone are left
 * alone. The fonts of the texts it shows are drawn once each.
 */

#define DEADLINE_MS 20000
#define N_ITEMS    500

typedef struct
{
  GtkWindow  *window;
  GtkStack   *stack;
  GtkWidget  *shown;     /* the visible page */
  GtkWidget  *hidden;    /* a page with a list */
  GtkWidget  *list;
  GtkStringList *items;
} Fixture;

static void
setup_cb (GtkSignalListItemFactory *factory,
          GtkListItem              *item)
{
  gtk_list_item_set_child (item, gtk_label_new (NULL));
}

static void
bind_cb (GtkSignalListItemFactory *factory,
         GtkListItem              *item)
{
  gtk_label_set_label (GTK_LABEL (gtk_list_item_get_child (item)),
                       gtk_string_object_get_string (gtk_list_item_get_item (item)));
}

static gboolean
is_laid_out (gpointer data)
{
  return gtk_widget_get_mapped (data) && gtk_widget_get_width (data) > 0;
}

static void
fixture_set_up (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GtkListItemFactory) factory = gtk_signal_list_item_factory_new ();
  GtkWidget *scroller = gtk_scrolled_window_new ();

  g_signal_connect (factory, "setup", G_CALLBACK (setup_cb), NULL);
  g_signal_connect (factory, "bind", G_CALLBACK (bind_cb), NULL);
  f->items = gtk_string_list_new (NULL);
  f->list = gtk_grid_view_new (GTK_SELECTION_MODEL (gtk_no_selection_new (g_object_ref (G_LIST_MODEL (f->items)))),
                               g_object_ref (factory));
  gtk_grid_view_set_max_columns (GTK_GRID_VIEW (f->list), 1);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scroller), f->list);
  f->hidden = scroller;
  f->shown = gtk_label_new ("shown");

  f->window = GTK_WINDOW (gtk_window_new ());
  gtk_window_set_default_size (f->window, 400, 300);
  f->stack = GTK_STACK (gtk_stack_new ());
  gtk_stack_add_named (f->stack, f->shown, "shown");
  gtk_stack_add_named (f->stack, f->hidden, "hidden");
  gtk_stack_set_visible_child (f->stack, f->shown);
  gtk_window_set_child (f->window, GTK_WIDGET (f->stack));
  gtk_window_present (f->window);
  g_assert_true (td_test_wait_until (is_laid_out, f->shown, DEADLINE_MS));

  /* Items come after the list is made, as they do in the app. */
  for (guint i = 0; i < N_ITEMS; i++)
    {
      g_autofree char *text = g_strdup_printf ("item %u", i);

      gtk_string_list_append (f->items, text);
    }
  td_test_spin (50);
}

static void
fixture_tear_down (Fixture       *f,
                   gconstpointer  data)
{
  gtk_window_destroy (f->window);
  g_object_unref (f->items);
}

static gboolean
is_label_text (GtkWidget     *widget,
               gconstpointer  text)
{
  return GTK_IS_LABEL (widget) && g_strcmp0 (gtk_label_get_label (GTK_LABEL (widget)), text) == 0;
}

/* The width of the row that shows @text: 0 while it was never laid out,
 * -1 if there is none. */
static int
row_width (Fixture    *f,
           const char *text)
{
  GtkWidget *label = td_test_find (f->list, is_label_text, text);

  return label != NULL ? gtk_widget_get_width (label) : -1;
}

/* A hidden page is laid out at the stack's size, TD_WARM_UP_PASSES times
 * in one round, and the rows its list made for the first items (a list
 * makes them as items come, shown or not) are laid out; the page stays
 * hidden and the shown one stays shown. */
static void
test_hidden_page (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(TdWarmUp) warm_up = td_warm_up_new (GTK_WIDGET (f->stack));
  guint steps = 0;

  g_assert_cmpint (row_width (f, "item 0"), ==, 0);

  td_warm_up_add (warm_up, f->hidden);
  while (td_warm_up_step (warm_up))
    steps++;
  /* The passes, then the one font of the rows. */
  g_assert_cmpuint (steps, ==, TD_WARM_UP_PASSES + 1);
  g_assert_cmpuint (td_warm_up_get_n_passes (warm_up), ==, TD_WARM_UP_PASSES);
  g_assert_cmpuint (td_warm_up_get_n_fonts (warm_up), ==, 1);

  g_assert_cmpint (row_width (f, "item 0"), >, 0);
  g_assert_cmpint (row_width (f, "item 1"), >, 0);
  g_assert_cmpint (gtk_widget_get_width (f->hidden), ==, gtk_widget_get_width (GTK_WIDGET (f->stack)));
  g_assert_cmpint (gtk_widget_get_height (f->hidden), ==, gtk_widget_get_height (GTK_WIDGET (f->stack)));
  g_assert_false (gtk_widget_get_mapped (f->hidden));
  g_assert_false (gtk_widget_get_mapped (td_test_find (f->list, is_label_text, "item 0")));
  g_assert_true (gtk_stack_get_visible_child (f->stack) == f->shown);
  g_assert_true (gtk_widget_get_mapped (f->shown));

  /* Shown, it shows the first item. */
  gtk_stack_set_visible_child (f->stack, f->hidden);
  g_assert_true (td_test_wait_until (is_laid_out, f->hidden, DEADLINE_MS));
  td_test_spin (50);
  g_assert_true (gtk_widget_get_mapped (td_test_find (f->list, is_label_text, "item 0")));
}

/* Each font the texts of a page show is drawn once, whatever the number
 * of texts in it and the rounds; texts the page does not show do not
 * count. */
static void
test_fonts (Fixture       *f,
            gconstpointer  data)
{
  g_autoptr(TdWarmUp) warm_up = td_warm_up_new (GTK_WIDGET (f->stack));
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  GtkWidget *title = gtk_label_new ("title");
  GtkWidget *unseen = gtk_label_new ("unseen");
  guint steps = 0;

  gtk_box_append (GTK_BOX (box), gtk_label_new ("plain"));
  gtk_box_append (GTK_BOX (box), gtk_label_new ("plain too"));
  gtk_widget_add_css_class (title, "title-1");
  gtk_box_append (GTK_BOX (box), title);
  gtk_widget_add_css_class (unseen, "title-2");
  gtk_widget_set_visible (unseen, FALSE);
  gtk_box_append (GTK_BOX (box), unseen);
  gtk_stack_add_named (f->stack, box, "texts");

  td_warm_up_add (warm_up, box);
  while (td_warm_up_step (warm_up))
    steps++;
  g_assert_cmpuint (td_warm_up_get_n_fonts (warm_up), ==, 2);
  g_assert_cmpuint (steps, ==, TD_WARM_UP_PASSES + 2);

  /* Another round lays the page out again and draws nothing more. */
  steps = 0;
  while (td_warm_up_step (warm_up))
    steps++;
  g_assert_cmpuint (td_warm_up_get_n_passes (warm_up), ==, 2 * TD_WARM_UP_PASSES);
  g_assert_cmpuint (td_warm_up_get_n_fonts (warm_up), ==, 2);
  g_assert_cmpuint (steps, ==, TD_WARM_UP_PASSES);
}

/* Pages that are shown, invisible or gone by the time of a pass are
 * dropped without one. */
static void
test_dropped (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(TdWarmUp) warm_up = td_warm_up_new (GTK_WIDGET (f->stack));
  GtkWidget *invisible = gtk_label_new ("invisible");
  GtkWidget *gone = gtk_label_new ("gone");

  gtk_widget_set_visible (invisible, FALSE);
  gtk_stack_add_named (f->stack, invisible, "invisible");
  gtk_stack_add_named (f->stack, gone, "gone");
  td_warm_up_add (warm_up, invisible);
  td_warm_up_add (warm_up, gone);
  td_warm_up_add (warm_up, f->shown);
  gtk_stack_remove (f->stack, gone);

  g_assert_false (td_warm_up_is_done (warm_up));
  g_assert_false (td_warm_up_step (warm_up));
  g_assert_cmpuint (td_warm_up_get_n_passes (warm_up), ==, 0);
  g_assert_true (td_warm_up_is_done (warm_up));
  g_assert_cmpint (gtk_widget_get_width (invisible), ==, 0);

  /* A page shown after it was added is left to its frames. */
  {
    g_autoptr(TdWarmUp) later = td_warm_up_new (GTK_WIDGET (f->stack));

    td_warm_up_add (later, f->hidden);
    gtk_stack_set_visible_child (f->stack, f->hidden);
    g_assert_true (td_test_wait_until (is_laid_out, f->hidden, DEADLINE_MS));
    g_assert_false (td_warm_up_step (later));
    g_assert_cmpuint (td_warm_up_get_n_passes (later), ==, 0);
  }
}

static gboolean
warm_up_done (gpointer data)
{
  return td_warm_up_is_done (data);
}

/* Started, the warm-up runs its rounds from the main loop, each laying
 * the page out again: what a page shows comes in after start, and the
 * rows of items that came after the first round are laid out by a later
 * one. */
static void
test_rounds (Fixture       *f,
             gconstpointer  data)
{
  static const guint round_ms[] = TD_WARM_UP_ROUND_MS;
  g_autoptr(TdWarmUp) warm_up = td_warm_up_new (GTK_WIDGET (f->stack));

  gtk_string_list_splice (f->items, 0, N_ITEMS, NULL);
  td_test_spin (50);
  td_warm_up_add (warm_up, f->hidden);
  td_warm_up_start (warm_up);
  g_assert_false (td_warm_up_is_done (warm_up));
  while (td_warm_up_get_n_passes (warm_up) < TD_WARM_UP_PASSES)
    g_main_context_iteration (NULL, TRUE);

  gtk_string_list_splice (f->items, 0, 0, (const char *const[]) { "late item", NULL });
  td_test_spin (50);
  g_assert_cmpint (row_width (f, "late item"), ==, 0);

  g_assert_true (td_test_wait_until (warm_up_done, warm_up, DEADLINE_MS));
  g_assert_cmpuint (td_warm_up_get_n_passes (warm_up), ==, TD_WARM_UP_PASSES * (G_N_ELEMENTS (round_ms) + 1));
  g_assert_cmpint (row_width (f, "late item"), >, 0);
  g_assert_false (gtk_widget_get_mapped (f->hidden));
}

/* Freed while a round waits: nothing runs after. */
static void
test_free_while_waiting (Fixture       *f,
                         gconstpointer  data)
{
  TdWarmUp *warm_up = td_warm_up_new (GTK_WIDGET (f->stack));

  td_warm_up_add (warm_up, f->hidden);
  td_warm_up_start (warm_up);
  td_warm_up_free (warm_up);
  td_test_spin (100);
  g_assert_cmpint (row_width (f, "item 0"), ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  gtk_test_init (&argc, &argv, NULL);

  g_test_add ("/td/warm-up/hidden-page", Fixture, NULL, fixture_set_up, test_hidden_page, fixture_tear_down);
  g_test_add ("/td/warm-up/fonts", Fixture, NULL, fixture_set_up, test_fonts, fixture_tear_down);
  g_test_add ("/td/warm-up/dropped", Fixture, NULL, fixture_set_up, test_dropped, fixture_tear_down);
  g_test_add ("/td/warm-up/rounds", Fixture, NULL, fixture_set_up, test_rounds, fixture_tear_down);
  g_test_add ("/td/warm-up/free-while-waiting", Fixture, NULL, fixture_set_up, test_free_while_waiting,
              fixture_tear_down);

  return g_test_run ();
}
