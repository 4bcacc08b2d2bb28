/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <gtk/gtk.h>
#include <math.h>
#include <string.h>

#include "app/td-chat-line.h"
#include "app/td-chat-row.h"
#include "app/td-font-sizes.h"
#include "app/td-pubsub-row.h"
#include "app/td-sidebar-row.h"
#include "app/td-item-row.h"
#include "app/td-lazy-tooltip.h"
#include "app/td-row-text.h"
#include "td-test-widgets.h"

/* ------------------------------------------------------------------ */
/* Text as a line shows it                                             */
/* ------------------------------------------------------------------ */

static const TdChatLink *
link_of (GArray *links,
         guint   index)
{
  g_assert_nonnull (links);
  g_assert_cmpuint (index, <, links->len);
  return &g_array_index (links, TdChatLink, index);
}

static void
test_plain (void)
{
  g_autoptr(GArray) links = NULL;
  g_autofree char *plain = NULL;
  g_autofree char *valid = NULL;
  g_autoptr(GArray) none = NULL;
  g_autofree char *codes = NULL;
  g_autoptr(GArray) code_links = NULL;
  g_auto(GStrv) uris = NULL;
  const TdChatLink *link;

  /* Formatting codes and control characters go; tabs and markup stay. */
  plain = td_chat_text_to_plain ("\x02" "bold\x02 \x03" "04,12red\x03 \x1d<i>\x1d\tend\x01\x07", &links);
  g_assert_cmpstr (plain, ==, "bold red <i>\tend");
  g_assert_null (links);
  g_clear_pointer (&plain, g_free);

  /* Links, with their place in the plain text; a bare www. opens https,
   * and the punctuation that ends a sentence is not part of a link. */
  plain = td_chat_text_to_plain ("see \x02www.example.org/x\x02, and (https://a.b/c?d=1&e=2).", &links);
  g_assert_cmpstr (plain, ==, "see www.example.org/x, and (https://a.b/c?d=1&e=2).");
  g_assert_cmpuint (links->len, ==, 2);
  link = link_of (links, 0);
  g_assert_cmpstr (link->uri, ==, "https://www.example.org/x");
  g_assert_cmpint (strncmp (plain + link->start, "www.example.org/x", link->end - link->start), ==, 0);
  g_assert_cmpuint (link->end - link->start, ==, strlen ("www.example.org/x"));
  link = link_of (links, 1);
  g_assert_cmpstr (link->uri, ==, "https://a.b/c?d=1&e=2");
  g_assert_cmpuint (link->start, ==, strlen ("see www.example.org/x, and ("));
  g_assert_cmpuint (link->end, ==, strlen ("see www.example.org/x, and (https://a.b/c?d=1&e=2"));

  /* Not web links: a file, a scheme that runs something. */
  g_clear_pointer (&plain, g_free);
  plain = td_chat_text_to_plain ("file:///etc/passwd javascript:alert(1) ftp://x.org", &none);
  g_assert_null (none);

  /* Invalid UTF-8 is replaced, never passed on. */
  valid = td_chat_text_to_plain ("a\xff\xfe b https://x.org/\xc3", &code_links);
  g_assert_true (g_utf8_validate (valid, -1, NULL));
  g_assert_nonnull (strstr (valid, "a\xef\xbf\xbd"));
  g_assert_nonnull (code_links);
  g_assert_true (g_utf8_validate (link_of (code_links, 0)->uri, -1, NULL));

  /* The list of links says the same. */
  uris = td_chat_text_get_links ("x https://one.example/ y www.two.example");
  g_assert_cmpuint (g_strv_length (uris), ==, 2);
  g_assert_cmpstr (uris[0], ==, "https://one.example/");
  g_assert_cmpstr (uris[1], ==, "https://www.two.example");

  /* Markup, for the topic's label: escaped, with the links. */
  {
    g_autofree char *markup = td_chat_markup_from_text ("a <b> https://x.org/?a=1&b=2 \x02" "c");

    g_assert_cmpstr (markup, ==, "a &lt;b&gt; <a href=\"https://x.org/?a=1&amp;b=2\">https://x.org/?a=1&amp;b=2</a> c");
  }

  /* NULL and empty are empty. */
  codes = td_chat_text_to_plain (NULL, NULL);
  g_assert_cmpstr (codes, ==, "");
}

/* ------------------------------------------------------------------ */
/* The widget                                                          */
/* ------------------------------------------------------------------ */

static GArray *
links_new (const char *text)
{
  g_autoptr(GArray) links = NULL;
  g_autofree char *plain = td_chat_text_to_plain (text, &links);

  g_assert_cmpstr (plain, ==, text);
  return g_steal_pointer (&links);
}

static int
height_for (GtkWidget *widget,
            int        width,
            int       *baseline)
{
  int min, nat, min_base = -1, nat_base = -1;

  gtk_widget_measure (widget, GTK_ORIENTATION_VERTICAL, width, &min, &nat, &min_base, &nat_base);
  g_assert_cmpint (min, ==, nat);
  if (baseline != NULL)
    *baseline = min_base;
  return min;
}

static void
test_measure (void)
{
  GtkWidget *window = gtk_window_new ();
  GtkWidget *text = td_row_text_new ();
  GString *words = g_string_new (NULL);
  int one, narrow, wide, again, baseline, min, nat;

  gtk_window_set_child (GTK_WINDOW (window), text);

  td_row_text_set (TD_ROW_TEXT (text), "x", NULL, NULL);
  one = height_for (text, 600, &baseline);
  g_assert_cmpint (one, >, 0);
  g_assert_cmpint (baseline, >, 0);
  g_assert_cmpint (baseline, <=, one);

  /* A short line of plain ASCII is measured without being laid out: it
   * is as tall, with the same baseline, as one that must be. */
  {
    int ascii_base, other_base;

    td_row_text_set (TD_ROW_TEXT (text), "a short line, (plain) ASCII!", NULL, NULL);
    g_assert_cmpint (height_for (text, 600, &ascii_base), ==, one);
    td_row_text_set (TD_ROW_TEXT (text), "a short line, (plain) \xc3\xa9t\xc3\xa9", NULL, NULL);
    g_assert_cmpint (height_for (text, 600, &other_base), ==, one);
    g_assert_cmpint (ascii_base, ==, other_base);
    g_assert_cmpint (ascii_base, ==, baseline);
    /* Longer, with wide letters: still one line when it fits. */
    td_row_text_set (TD_ROW_TEXT (text), "WWW MMM @@@ WWW MMM @@@ the rest of a line that fits in 1200 pixels", NULL, NULL);
    g_assert_cmpint (height_for (text, 1200, NULL), ==, one);
    /* Too long for the width: wrapped, measured for real. */
    td_row_text_set (TD_ROW_TEXT (text), "a short line, (plain) ASCII!", NULL, NULL);
    g_assert_cmpint (height_for (text, 60, NULL), >, one);
  }

  /* A long text wraps: the narrower, the taller; the same width, the
   * same height. */
  for (int i = 0; i < 60; i++)
    g_string_append (words, "wrapping words ");
  td_row_text_set (TD_ROW_TEXT (text), words->str, NULL, NULL);
  g_assert_cmpstr (td_row_text_get_text (TD_ROW_TEXT (text)), ==, words->str);
  wide = height_for (text, 2000, NULL);
  narrow = height_for (text, 200, NULL);
  again = height_for (text, 2000, NULL);
  g_assert_cmpint (wide, >=, one);
  g_assert_cmpint (narrow, >, 2 * wide);
  g_assert_cmpint (again, ==, wide);

  /* A word longer than the width breaks rather than overflowing. */
  g_string_assign (words, "");
  for (int i = 0; i < 400; i++)
    g_string_append_c (words, 'w');
  td_row_text_set (TD_ROW_TEXT (text), words->str, NULL, NULL);
  g_assert_cmpint (height_for (text, 200, NULL), >, 2 * one);

  /* It asks for a little width, never none. */
  gtk_widget_measure (text, GTK_ORIENTATION_HORIZONTAL, -1, &min, &nat, NULL, NULL);
  g_assert_cmpint (min, >, 0);
  g_assert_cmpint (nat, >=, min);

  /* Invalid UTF-8 is shown replaced (Pango would refuse it, loudly). */
  td_row_text_set (TD_ROW_TEXT (text), "bad \xff\xfe bytes", NULL, NULL);
  g_assert_true (g_utf8_validate (td_row_text_get_text (TD_ROW_TEXT (text)), -1, NULL));
  g_assert_true (g_str_has_prefix (td_row_text_get_text (TD_ROW_TEXT (text)), "bad \xef\xbf\xbd"));
  g_assert_cmpint (height_for (text, 200, NULL), ==, one);

  /* Another text, the same width: measured anew. */
  td_row_text_set (TD_ROW_TEXT (text), "x", NULL, NULL);
  g_assert_cmpint (height_for (text, 200, NULL), ==, one);

  g_string_free (words, TRUE);
  gtk_window_destroy (GTK_WINDOW (window));
}

/* A column: as wide and tall as told, whatever the text. */
static void
test_fixed (void)
{
  GtkWidget *window = gtk_window_new ();
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  GtkWidget *short_nick = td_row_text_new ();
  GtkWidget *long_nick = td_row_text_new ();
  GtkWidget *wrapped = td_row_text_new ();
  const char *longest = "a-nick-far-longer-than-twelve-characters and more words";
  int min, nat, min12, nat12, one, width;

  gtk_box_append (GTK_BOX (box), short_nick);
  gtk_box_append (GTK_BOX (box), long_nick);
  gtk_box_append (GTK_BOX (box), wrapped);
  gtk_window_set_child (GTK_WINDOW (window), box);
  td_row_text_set_fixed (TD_ROW_TEXT (short_nick), 12, 1, PANGO_ELLIPSIZE_END, 1);
  td_row_text_set_fixed (TD_ROW_TEXT (long_nick), 12, 1, PANGO_ELLIPSIZE_END, 1);
  td_row_text_set (TD_ROW_TEXT (short_nick), "al", NULL, NULL);
  td_row_text_set (TD_ROW_TEXT (long_nick), longest, NULL, NULL);

  gtk_widget_measure (short_nick, GTK_ORIENTATION_HORIZONTAL, -1, &min, &nat, NULL, NULL);
  gtk_widget_measure (long_nick, GTK_ORIENTATION_HORIZONTAL, -1, &min12, &nat12, NULL, NULL);
  g_assert_cmpint (min, >, 0);
  g_assert_cmpint (min, ==, nat);
  g_assert_cmpint (min12, ==, min);
  g_assert_cmpint (nat12, ==, nat);

  /* Twice the characters, about twice the width. */
  td_row_text_set_fixed (TD_ROW_TEXT (short_nick), 24, 1, PANGO_ELLIPSIZE_END, 1);
  gtk_widget_measure (short_nick, GTK_ORIENTATION_HORIZONTAL, -1, &width, NULL, NULL, NULL);
  g_assert_cmpint (width, ==, 2 * min);

  /* The long text stays on one line at that width; wrapped, it would not. */
  one = height_for (short_nick, min, NULL);
  g_assert_cmpint (height_for (long_nick, min, NULL), ==, one);
  td_row_text_set (TD_ROW_TEXT (wrapped), longest, NULL, NULL);
  g_assert_cmpint (height_for (wrapped, min, NULL), >, one);

  /* Two lines tall: twice one line, whether the text fills them, needs
   * more, or is empty. */
  td_row_text_set_fixed (TD_ROW_TEXT (wrapped), 0, 2, PANGO_ELLIPSIZE_END, 0);
  g_assert_cmpint (height_for (wrapped, min, NULL), ==, 2 * one);
  g_assert_cmpint (height_for (wrapped, 4000, NULL), ==, 2 * one);
  td_row_text_set (TD_ROW_TEXT (wrapped), "", NULL, NULL);
  g_assert_cmpint (height_for (wrapped, min, NULL), ==, 2 * one);
  /* Wrapped again, it is as tall as its text. */
  td_row_text_set_fixed (TD_ROW_TEXT (wrapped), 0, 0, PANGO_ELLIPSIZE_NONE, 0);
  td_row_text_set (TD_ROW_TEXT (wrapped), longest, NULL, NULL);
  g_assert_cmpint (height_for (wrapped, min, NULL), >, 2 * one);

  gtk_window_destroy (GTK_WINDOW (window));
}

/* Heights worked out without a layout agree with Pango's: random lines
 * of words and punctuation, at random widths. */
static void
test_estimate (void)
{
  static const char *words[] = {
    "a", "an", "the", "WWW", "Mmm", "kernel", "release,", "parser.", "network;", "thread:",
    "\"quoted\"", "it's", "wow!", "why?", "1234567", "x", "benchmarking", "lllllll", "iiii",
    "e.g.", "supercalifragilisticexpialidocious", "mid!word", "a-b", "c/d", "(p)",
  };
  GtkWidget *window = gtk_window_new ();
  GtkWidget *text = td_row_text_new ();
  g_autoptr(GRand) rand = g_rand_new_with_seed (20261125);
  g_autoptr(PangoLayout) layout = NULL;
  GString *line = g_string_new (NULL);
  guint plain = 0, laid_out = 0;
  int min_width;

  gtk_window_set_child (GTK_WINDOW (window), text);
  layout = gtk_widget_create_pango_layout (text, NULL);
  pango_layout_set_wrap (layout, PANGO_WRAP_WORD_CHAR);
  /* GTK measures a widget no narrower than its minimum. */
  gtk_widget_measure (text, GTK_ORIENTATION_HORIZONTAL, -1, &min_width, NULL, NULL, NULL);

  for (guint i = 0; i < 3000; i++)
    {
      guint n = g_rand_int_range (rand, 1, 40);
      int width = g_rand_int_range (rand, min_width + 1, 900);
      int expected;

      g_string_truncate (line, 0);
      for (guint w = 0; w < n; w++)
        {
          if (w > 0)
            g_string_append_c (line, ' ');
          /* Half the lines only of words measured without a layout,
           * none wider than a line. */
          g_string_append (line, words[g_rand_int_range (rand, 0, i % 2 ? 20 : G_N_ELEMENTS (words))]);
        }
      td_row_text_set (TD_ROW_TEXT (text), line->str, NULL, NULL);
      pango_layout_set_text (layout, line->str, -1);
      pango_layout_set_width (layout, width * PANGO_SCALE);
      pango_layout_get_pixel_size (layout, NULL, &expected);
      if (height_for (text, width, NULL) != expected)
        g_error ("\"%s\" at %d pixels: measured %d, laid out %d",
                 line->str, width, height_for (text, width, NULL), expected);
      if (i % 2)
        {
          plain++;
          laid_out += td_row_text_is_laid_out (TD_ROW_TEXT (text));
        }
    }
  /* Plain words are measured from the font's advances and kerning
   * pairs: only a line whose end comes within a pixel or so of the width
   * needs its layout. */
  g_test_message ("%u of %u plain lines laid out to be measured", laid_out, plain);
  g_assert_cmpuint (laid_out, <=, plain / 10);

  g_string_free (line, TRUE);
  gtk_window_destroy (GTK_WINDOW (window));
}

/* A font's sizes: one for each font, shared; and the width of random
 * printable ASCII worked out from advances and kerning pairs is the one
 * Pango lays out, within what the estimate allows for, unless the text
 * has a ligature (then it is not worked out). */
static void
test_font_sizes (void)
{
  GtkWidget *label = gtk_label_new (NULL);
  PangoContext *context = gtk_widget_create_pango_context (label);
  PangoContext *bigger = gtk_widget_create_pango_context (label);
  PangoFontDescription *big = pango_font_description_copy (pango_context_get_font_description (context));
  g_autoptr(TdFontSizes) sizes = td_font_sizes_get (context);
  g_autoptr(TdFontSizes) again = td_font_sizes_get (context);
  g_autoptr(TdFontSizes) other = NULL;
  g_autoptr(PangoLayout) layout = pango_layout_new (context);
  g_autoptr(GRand) rand = g_rand_new_with_seed (1125);
  guint measured = 0;
  char text[81];

  g_assert_true (sizes == again);
  g_assert_cmpint (sizes->char_width, >, 0);
  g_assert_cmpint (sizes->line_height, >, 0);
  g_assert_cmpint (sizes->ascii_advance['W' - ' '], >, sizes->ascii_advance['i' - ' ']);

  pango_font_description_set_size (big, 2 * pango_font_description_get_size (big));
  pango_context_set_font_description (bigger, big);
  other = td_font_sizes_get (bigger);
  g_assert_true (other != sizes);
  g_assert_cmpint (other->line_height, >, sizes->line_height);

  for (guint i = 0; i < 2000; i++)
    {
      guint len = g_rand_int_range (rand, 1, sizeof text);
      gint64 model, spare;
      int width;

      for (guint j = 0; j < len; j++)
        /* Words and spaces, and now and then any printable character. */
        text[j] = g_rand_int_range (rand, 0, 8) == 0 ? (char) g_rand_int_range (rand, 0x20, 0x7f)
                  : g_rand_int_range (rand, 0, 6) == 0 ? ' ' : (char) g_rand_int_range (rand, 'a', 'z' + 1);
      text[len] = '\0';
      pango_layout_set_text (layout, text, len);
      pango_layout_get_size (layout, &width, NULL);
      model = td_font_sizes_ascii_width (sizes, text, len);
      if (model < 0)
        continue;   /* a ligature: not measured so */
      measured++;
      spare = model / 1024 + PANGO_SCALE / 4;
      if (ABS (model - width) > spare)
        g_error ("\"%s\": %" G_GINT64_FORMAT " from advances and pairs, %d laid out", text, model, width);
    }
  g_test_message ("%u of 2000 random texts measured from advances and pairs", measured);
  g_assert_cmpuint (measured, >=, 1000);

  pango_font_description_free (big);
  g_object_unref (bigger);
  g_object_unref (context);
  g_object_ref_sink (label);
  g_object_unref (label);
}

/* At its narrowest a text is measured roughly (containers measure every
 * child there in a first pass); shown that narrow, the layout it draws
 * puts its height right. */
static void
test_narrowest (void)
{
  GtkWidget *window = gtk_window_new ();
  GtkWidget *text = td_row_text_new ();
  /* Narrow letters: a rough count from an average width is too many. */
  const char *line = "ill ill ill ill ill ill ill ill ill ill ill ill ill ill ill ill ill ill ill ill "
                     "ill ill ill ill ill ill ill ill ill ill ill ill ill ill ill ill ill ill ill ill";
  g_autoptr(PangoLayout) layout = NULL;
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  int min_width, expected;

  gtk_window_set_child (GTK_WINDOW (window), text);
  /* As tall as it asks (the window does not shrink). */
  gtk_widget_set_valign (text, GTK_ALIGN_START);
  gtk_window_set_default_size (GTK_WINDOW (window), 1, 1);
  td_row_text_set (TD_ROW_TEXT (text), line, NULL, NULL);
  gtk_widget_measure (text, GTK_ORIENTATION_HORIZONTAL, -1, &min_width, NULL, NULL, NULL);
  layout = gtk_widget_create_pango_layout (text, line);
  pango_layout_set_wrap (layout, PANGO_WRAP_WORD_CHAR);
  pango_layout_set_width (layout, min_width * PANGO_SCALE);
  pango_layout_get_pixel_size (layout, NULL, &expected);
  g_assert_cmpint (height_for (text, min_width, NULL), >, expected);

  gtk_window_present (GTK_WINDOW (window));
  while (gtk_widget_get_width (text) == 0 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  while ((height_for (text, min_width, NULL) != expected || gtk_widget_get_height (text) != expected) &&
         g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpint (gtk_widget_get_width (text), ==, min_width);
  g_assert_cmpint (height_for (text, min_width, NULL), ==, expected);
  g_assert_cmpint (gtk_widget_get_height (text), ==, expected);

  gtk_window_destroy (GTK_WINDOW (window));
}

static gboolean
activate_cb (TdRowText *text,
             const char *uri,
             GPtrArray  *seen)
{
  g_ptr_array_add (seen, g_strdup (uri));
  return TRUE;
}

static void
test_links (void)
{
  GtkWidget *window = gtk_window_new ();
  GtkWidget *text = td_row_text_new ();
  const char *line = "one https://one.example/a and www.two.example then";
  g_autoptr(GArray) links = links_new (line);
  g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func (g_free);

  gtk_window_set_child (GTK_WINDOW (window), text);
  g_signal_connect (text, "activate-link", G_CALLBACK (activate_cb), seen);

  /* Without links it takes no keyboard focus. */
  td_row_text_set (TD_ROW_TEXT (text), "no links", NULL, NULL);
  g_assert_false (gtk_widget_get_focusable (text));
  g_assert_cmpuint (td_row_text_get_n_links (TD_ROW_TEXT (text)), ==, 0);
  g_assert_false (td_row_text_activate_link (TD_ROW_TEXT (text), 0));
  g_assert_cmpuint (seen->len, ==, 0);

  td_row_text_set (TD_ROW_TEXT (text), line, links, NULL);
  g_assert_true (gtk_widget_get_focusable (text));
  g_assert_cmpuint (td_row_text_get_n_links (TD_ROW_TEXT (text)), ==, 2);
  g_assert_cmpstr (td_row_text_get_link (TD_ROW_TEXT (text), 1), ==, "https://www.two.example");
  g_assert_null (td_row_text_get_link (TD_ROW_TEXT (text), 2));

  /* Activating a link says which; the menu's Open Link does the same. */
  g_assert_true (td_row_text_activate_link (TD_ROW_TEXT (text), 0));
  g_assert_true (gtk_widget_activate_action (text, "link.open", "u", 1));
  g_assert_false (td_row_text_activate_link (TD_ROW_TEXT (text), 7));
  g_assert_true (gtk_widget_activate_action (text, "link.open", "u", 9));
  g_assert_cmpuint (seen->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (seen, 0), ==, "https://one.example/a");
  g_assert_cmpstr (g_ptr_array_index (seen, 1), ==, "https://www.two.example");

  /* Links that do not fit the text are refused, loudly. */
  g_test_expect_message ("td-row-text", G_LOG_LEVEL_CRITICAL, "*does not fit*");
  td_row_text_set (TD_ROW_TEXT (text), "short", links, NULL);
  g_test_assert_expected_messages ();
  g_assert_cmpuint (td_row_text_get_n_links (TD_ROW_TEXT (text)), ==, 0);
  g_assert_false (gtk_widget_get_focusable (text));

  gtk_window_destroy (GTK_WINDOW (window));
}

static void
test_focus (void)
{
  GtkWidget *window = gtk_window_new ();
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 0);
  GtkWidget *before = gtk_button_new_with_label ("before");
  GtkWidget *text = td_row_text_new ();
  GtkWidget *after = gtk_button_new_with_label ("after");
  const char *line = "https://one.example and https://two.example and https://three.example";
  g_autoptr(GArray) links = links_new (line);

  gtk_box_append (GTK_BOX (box), before);
  gtk_box_append (GTK_BOX (box), text);
  gtk_box_append (GTK_BOX (box), after);
  gtk_window_set_child (GTK_WINDOW (window), box);
  td_row_text_set (TD_ROW_TEXT (text), line, links, NULL);
  gtk_window_present (GTK_WINDOW (window));
  while (!gtk_widget_get_mapped (text))
    g_main_context_iteration (NULL, TRUE);
  gtk_widget_grab_focus (before);

  /* Tab goes into the line, through each of its three links, then on. */
  g_assert_true (gtk_widget_child_focus (text, GTK_DIR_TAB_FORWARD));
  g_assert_true (gtk_widget_has_focus (text));
  g_assert_true (gtk_widget_child_focus (text, GTK_DIR_TAB_FORWARD));
  g_assert_true (gtk_widget_child_focus (text, GTK_DIR_TAB_FORWARD));
  g_assert_false (gtk_widget_child_focus (text, GTK_DIR_TAB_FORWARD));
  /* And back. */
  g_assert_true (gtk_widget_child_focus (text, GTK_DIR_TAB_BACKWARD));
  g_assert_true (gtk_widget_child_focus (text, GTK_DIR_TAB_BACKWARD));
  g_assert_false (gtk_widget_child_focus (text, GTK_DIR_TAB_BACKWARD));

  /* In a window: Shift+Tab from the button after it comes in at the
   * last link, so Tab leaves at once for the button. */
  gtk_widget_grab_focus (after);
  g_assert_true (gtk_widget_child_focus (box, GTK_DIR_TAB_BACKWARD));
  g_assert_true (gtk_widget_has_focus (text));
  g_assert_true (gtk_widget_child_focus (box, GTK_DIR_TAB_FORWARD));
  g_assert_true (gtk_widget_has_focus (after));

  /* A line without links is passed over. */
  td_row_text_set (TD_ROW_TEXT (text), "plain", NULL, NULL);
  g_assert_true (gtk_widget_child_focus (box, GTK_DIR_TAB_BACKWARD));
  g_assert_true (gtk_widget_has_focus (before));

  gtk_window_destroy (GTK_WINDOW (window));
}

static void
clipboard_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  char **text = user_data;

  *text = gdk_clipboard_read_text_finish (GDK_CLIPBOARD (object), result, NULL);
  if (*text == NULL)
    *text = g_strdup ("");
}

static void
test_copy (void)
{
  GtkWidget *window = gtk_window_new ();
  GtkWidget *text = td_row_text_new ();
  const char *line = "get it at https://files.example/a.png now";
  g_autoptr(GArray) links = links_new (line);
  g_autofree char *copied = NULL;

  gtk_window_set_child (GTK_WINDOW (window), text);
  td_row_text_set (TD_ROW_TEXT (text), line, links, NULL);
  gdk_clipboard_set_text (gtk_widget_get_clipboard (text), "before");

  /* A link that is not there copies nothing. */
  g_assert_true (gtk_widget_activate_action (text, "link.copy", "u", 3));
  gdk_clipboard_read_text_async (gtk_widget_get_clipboard (text), NULL, clipboard_cb, &copied);
  while (copied == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpstr (copied, ==, "before");
  g_clear_pointer (&copied, g_free);

  g_assert_true (gtk_widget_activate_action (text, "link.copy", "u", 0));
  gdk_clipboard_read_text_async (gtk_widget_get_clipboard (text), NULL, clipboard_cb, &copied);
  while (copied == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpstr (copied, ==, "https://files.example/a.png");

  gtk_window_destroy (GTK_WINDOW (window));
}

/* Tooltips that GTK is given only when it asks. */
static void
test_lazy_tooltip (void)
{
  GtkWidget *window = gtk_window_new ();
  GtkWidget *label = gtk_label_new ("row");
  GtkTooltip *tooltip = g_object_new (GTK_TYPE_TOOLTIP, NULL);
  gboolean shown = FALSE;

  gtk_window_set_child (GTK_WINDOW (window), label);
  td_lazy_tooltip_set (label, "3 messages in total");
  g_assert_true (gtk_widget_get_has_tooltip (label));
  g_assert_null (gtk_widget_get_tooltip_text (label));
  g_signal_emit_by_name (label, "query-tooltip", 1, 1, FALSE, tooltip, &shown);
  g_assert_true (shown);

  /* Again the same: nothing to do; then none at all. */
  td_lazy_tooltip_set (label, "3 messages in total");
  g_assert_true (gtk_widget_get_has_tooltip (label));
  td_lazy_tooltip_set (label, NULL);
  g_assert_false (gtk_widget_get_has_tooltip (label));
  shown = TRUE;
  g_signal_emit_by_name (label, "query-tooltip", 1, 1, FALSE, tooltip, &shown);
  g_assert_false (shown);
  td_lazy_tooltip_set (label, "");
  g_assert_false (gtk_widget_get_has_tooltip (label));

  g_object_unref (tooltip);
  gtk_window_destroy (GTK_WINDOW (window));
}

static graphene_rect_t
bounds_in (GtkWidget *child,
           GtkWidget *row)
{
  graphene_rect_t bounds;

  g_assert_true (gtk_widget_compute_bounds (child, row, &bounds));
  return bounds;
}

static int
baseline_of (GtkWidget *child)
{
  int base = -1;

  gtk_widget_measure (child, GTK_ORIENTATION_VERTICAL, gtk_widget_get_width (child), NULL, NULL, &base, NULL);
  return base;
}

/* A window @width wide showing @row at its top; returns once @child has
 * been given its place (5 s at most). */
static GtkWidget *
show_row (GtkWidget *row,
          int        width,
          GtkWidget *child)
{
  GtkWidget *window = gtk_window_new ();
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  gtk_widget_set_valign (row, GTK_ALIGN_START);
  gtk_window_set_child (GTK_WINDOW (window), row);
  gtk_window_set_default_size (GTK_WINDOW (window), width, 1);
  gtk_window_present (GTK_WINDOW (window));
  while (gtk_widget_get_width (child) == 0 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  return window;
}

/* A chat line's columns: side by side on one baseline, the preview under
 * the text, mirrored right to left. */
static void
test_chat_row (void)
{
  GtkWidget *window;
  GtkWidget *time = td_row_text_new ();
  GtkWidget *nick = td_row_text_new ();
  GtkWidget *text = td_row_text_new ();
  GtkWidget *preview = gtk_label_new ("preview");
  GtkWidget *row;
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  graphene_rect_t t, n, x, p;

  td_row_text_set_fixed (TD_ROW_TEXT (time), 5, 1, PANGO_ELLIPSIZE_END, 1);
  td_row_text_set_fixed (TD_ROW_TEXT (nick), 12, 1, PANGO_ELLIPSIZE_END, 1);
  gtk_widget_add_css_class (time, "caption");   /* a smaller font: another baseline */
  td_row_text_set (TD_ROW_TEXT (time), "12:34", NULL, NULL);
  td_row_text_set (TD_ROW_TEXT (nick), "someone", NULL, NULL);
  td_row_text_set (TD_ROW_TEXT (text), "the text of the line, long enough to wrap at the width the window has "
                                       "when it is as narrow as the row allows, which it is here", NULL, NULL);
  row = td_chat_row_new (time, nick, text);
  window = show_row (row, 400, text);

  t = bounds_in (time, row);
  n = bounds_in (nick, row);
  x = bounds_in (text, row);
  g_assert_cmpfloat (t.origin.x, ==, 0);
  g_assert_cmpfloat (n.origin.x, ==, t.size.width + 8);
  g_assert_cmpfloat (x.origin.x, ==, n.origin.x + n.size.width + 8);
  g_assert_cmpfloat (x.origin.x + x.size.width, ==, gtk_widget_get_width (row));
  g_assert_cmpint (gtk_widget_get_height (text), >, gtk_widget_get_height (nick));   /* wrapped */
  g_assert_cmpint (gtk_widget_get_height (row), ==, gtk_widget_get_height (text));
  /* One baseline. */
  g_assert_cmpfloat (t.origin.y + baseline_of (time), ==, x.origin.y + baseline_of (text));
  g_assert_cmpfloat (n.origin.y + baseline_of (nick), ==, x.origin.y + baseline_of (text));
  g_assert_cmpint (baseline_of (time), <, baseline_of (text));

  /* The preview goes under the text, as wide. */
  td_chat_row_set_preview (TD_CHAT_ROW (row), preview);
  while (gtk_widget_get_width (preview) == 0 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  p = bounds_in (preview, row);
  x = bounds_in (text, row);
  g_assert_cmpfloat (p.origin.x, ==, x.origin.x);
  g_assert_cmpfloat (p.size.width, ==, x.size.width);
  g_assert_cmpfloat (p.origin.y, ==, x.origin.y + x.size.height);
  g_assert_cmpint (gtk_widget_get_height (row), ==, gtk_widget_get_height (text) + gtk_widget_get_height (preview));

  /* Right to left: the time at the right edge, the text at the left. */
  gtk_widget_set_direction (row, GTK_TEXT_DIR_RTL);
  while (bounds_in (time, row).origin.x == 0 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  t = bounds_in (time, row);
  x = bounds_in (text, row);
  g_assert_cmpfloat (t.origin.x + t.size.width, ==, gtk_widget_get_width (row));
  g_assert_cmpfloat (x.origin.x, ==, 0);

  gtk_window_destroy (GTK_WINDOW (window));
}

/* A row's classes are set only when they change, whatever order GTK
 * keeps them in. */
static void
test_chat_row_classes (void)
{
  GtkWidget *row = g_object_ref_sink (td_chat_row_new (td_row_text_new (), td_row_text_new (), td_row_text_new ()));
  const char *first[] = { "td-test-c", "td-test-b", "td-test-a", NULL };
  const char *shuffled[] = { "td-test-a", "td-test-c", "td-test-b", NULL };
  const char *other[] = { "td-test-a", "td-test-c", "td-test-d", NULL };
  const char *fewer[] = { "td-test-a", "td-test-c", NULL };
  g_auto(GStrv) kept = NULL;

  /* Known to GLib in an order other than the one they are given in. */
  g_quark_from_static_string ("td-test-b");
  g_quark_from_static_string ("td-test-a");
  g_quark_from_static_string ("td-test-c");

  g_assert_true (td_chat_row_set_classes (TD_CHAT_ROW (row), first));
  kept = gtk_widget_get_css_classes (row);
  g_assert_cmpuint (g_strv_length (kept), ==, 3);
  g_assert_false (td_chat_row_set_classes (TD_CHAT_ROW (row), first));
  g_assert_false (td_chat_row_set_classes (TD_CHAT_ROW (row), shuffled));
  g_assert_true (td_chat_row_set_classes (TD_CHAT_ROW (row), other));
  g_assert_true (gtk_widget_has_css_class (row, "td-test-d"));
  g_assert_false (gtk_widget_has_css_class (row, "td-test-b"));
  g_assert_true (td_chat_row_set_classes (TD_CHAT_ROW (row), fewer));
  g_assert_false (gtk_widget_has_css_class (row, "td-test-d"));
  g_assert_false (td_chat_row_set_classes (TD_CHAT_ROW (row), fewer));
  g_object_unref (row);
}

/* The row texts under @widget, in tree order. */
static void
collect_texts (GtkWidget *widget,
               GPtrArray *texts)
{
  td_test_collect (widget, td_test_is_of_type, GSIZE_TO_POINTER (TD_TYPE_ROW_TEXT), texts);
}

/* A row of the Feeds item list follows its item until unbound. */
static void
test_item_row (void)
{
  GtkWidget *row = g_object_ref_sink (td_item_row_new ());
  g_autoptr(TdItemObject) object = td_item_object_new ();
  g_autoptr(TdItemObject) placeholder = td_item_object_new ();
  g_autoptr(GPtrArray) texts = g_ptr_array_new ();
  TdFeedItem item = { 0 };
  GtkWidget *dot, *star;

  collect_texts (row, texts);
  g_assert_cmpuint (texts->len, ==, 4);   /* the unread dot, title, feed, date */
  dot = g_ptr_array_steal_index (texts, 0);
  g_assert_cmpstr (td_row_text_get_text (TD_ROW_TEXT (dot)), ==, "●");
  star = td_test_find_of_type (row, GTK_TYPE_IMAGE);
  g_assert_nonnull (dot);
  g_assert_nonnull (star);

  item.id = 7;
  item.feed_id = 1;
  item.title = (char *) "A <b>title</b> as it is";
  item.feed_title = (char *) "The Feed";
  item.published = g_get_real_time ();
  item.starred = TRUE;
  td_item_object_set_item (object, &item);

  td_item_row_bind (TD_ITEM_ROW (row), object);
  g_assert_true (td_item_row_get_item (TD_ITEM_ROW (row)) == object);
  g_assert_cmpstr (td_row_text_get_text (g_ptr_array_index (texts, 0)), ==, "A <b>title</b> as it is");
  g_assert_cmpstr (td_row_text_get_text (g_ptr_array_index (texts, 1)), ==, "The Feed");
  g_assert_cmpstr (td_row_text_get_text (g_ptr_array_index (texts, 2)), !=, "");
  g_assert_true (gtk_widget_get_visible (dot));
  g_assert_true (gtk_widget_get_visible (star));

  /* Read and unstarred elsewhere: the row follows. */
  td_item_object_set_read (object, TRUE);
  g_assert_false (gtk_widget_get_visible (dot));
  td_item_object_set_starred (object, FALSE);
  g_assert_false (gtk_widget_get_visible (star));

  /* A placeholder (its page not loaded yet) shows nothing. */
  td_item_row_bind (TD_ITEM_ROW (row), placeholder);
  g_assert_cmpstr (td_row_text_get_text (g_ptr_array_index (texts, 0)), ==, "");
  g_assert_false (gtk_widget_get_visible (dot));

  /* Unbound, it no longer follows. */
  td_item_row_unbind (TD_ITEM_ROW (row));
  g_assert_null (td_item_row_get_item (TD_ITEM_ROW (row)));
  td_item_object_set_item (placeholder, &item);
  g_assert_cmpstr (td_row_text_get_text (g_ptr_array_index (texts, 0)), ==, "");

  g_object_unref (row);
}

/* An item row's layout: the dot's column, the title over the feed and
 * the date, the star at the end; mirrored right to left. */
static void
test_item_row_layout (void)
{
  GtkWidget *window;
  GtkWidget *row = td_item_row_new ();
  g_autoptr(TdItemObject) object = td_item_object_new ();
  g_autoptr(GPtrArray) texts = g_ptr_array_new ();
  GtkWidget *dot;
  GtkWidget *star = td_test_find_of_type (row, GTK_TYPE_IMAGE);
  GtkWidget *title, *feed, *date;
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  TdFeedItem item = { 0 };
  graphene_rect_t d, t, f, w, s;
  int width;

  collect_texts (row, texts);
  dot = g_ptr_array_index (texts, 0);
  title = g_ptr_array_index (texts, 1);
  feed = g_ptr_array_index (texts, 2);
  date = g_ptr_array_index (texts, 3);
  item.id = 1;
  item.feed_id = 1;
  item.title = (char *) "A title";
  item.feed_title = (char *) "The Feed";
  item.published = g_get_real_time ();
  item.starred = TRUE;
  td_item_object_set_item (object, &item);
  td_item_row_bind (TD_ITEM_ROW (row), object);
  window = show_row (row, 500, title);

  width = gtk_widget_get_width (row);
  d = bounds_in (dot, row);
  t = bounds_in (title, row);
  f = bounds_in (feed, row);
  w = bounds_in (date, row);
  s = bounds_in (star, row);
  g_assert_cmpfloat (d.origin.x, <, t.origin.x);
  g_assert_cmpfloat (d.origin.y, ==, t.origin.y);
  g_assert_cmpfloat (f.origin.x, ==, t.origin.x);
  g_assert_cmpfloat (f.origin.y, >=, t.origin.y + t.size.height);
  g_assert_cmpfloat (w.origin.y, ==, f.origin.y);
  g_assert_cmpfloat (w.origin.x, >, f.origin.x + f.size.width);
  g_assert_cmpfloat (w.origin.x + w.size.width, ==, t.origin.x + t.size.width);
  g_assert_cmpfloat (s.origin.x, >, t.origin.x + t.size.width);
  g_assert_cmpfloat (s.origin.x + s.size.width, <, width);
  g_assert_cmpfloat (fabs (s.origin.y + s.size.height / 2 - gtk_widget_get_height (row) / 2.0), <=, 1);
  g_assert_cmpfloat (f.origin.y + f.size.height, <, gtk_widget_get_height (row));

  /* Unstarred: the texts take the star's place. */
  td_item_object_set_starred (object, FALSE);
  while (bounds_in (title, row).size.width == t.size.width && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpfloat (bounds_in (title, row).size.width, >, t.size.width);

  /* Right to left: the dot at the right edge, the date at the left. */
  gtk_widget_set_direction (row, GTK_TEXT_DIR_RTL);
  while (bounds_in (dot, row).origin.x < width / 2 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  d = bounds_in (dot, row);
  t = bounds_in (title, row);
  w = bounds_in (date, row);
  g_assert_cmpfloat (d.origin.x, >, t.origin.x + t.size.width - 1);
  g_assert_cmpfloat (w.origin.x, ==, t.origin.x);

  gtk_window_destroy (GTK_WINDOW (window));
}

/* A Pub/Sub row's layout: time, channel and pattern in a column, the
 * payload beside it; the capture mark before the time; mirrored right
 * to left. */
static void
test_pubsub_row (void)
{
  GtkWidget *window;
  GtkWidget *row = td_pubsub_row_new (23, 16);
  GtkWidget *time = td_pubsub_row_get_text (TD_PUBSUB_ROW (row), TD_PUBSUB_ROW_TIME);
  GtkWidget *channel = td_pubsub_row_get_text (TD_PUBSUB_ROW (row), TD_PUBSUB_ROW_CHANNEL);
  GtkWidget *pattern = td_pubsub_row_get_text (TD_PUBSUB_ROW (row), TD_PUBSUB_ROW_PATTERN);
  GtkWidget *payload = td_pubsub_row_get_text (TD_PUBSUB_ROW (row), TD_PUBSUB_ROW_PAYLOAD);
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  graphene_rect_t t, c, p, x, m;
  GtkWidget *mark;
  int height;

  td_row_text_set (TD_ROW_TEXT (time), "12:34:56.789", NULL, NULL);
  td_row_text_set (TD_ROW_TEXT (channel), "news", NULL, NULL);
  td_row_text_set (TD_ROW_TEXT (payload), "a payload", NULL, NULL);
  g_assert_false (gtk_widget_get_visible (pattern));
  window = show_row (row, 700, payload);

  t = bounds_in (time, row);
  c = bounds_in (channel, row);
  x = bounds_in (payload, row);
  g_assert_cmpfloat (c.origin.x, ==, t.origin.x);
  g_assert_cmpfloat (c.origin.y, >, t.origin.y + t.size.height - 1);
  g_assert_cmpfloat (x.origin.x, >=, MAX (t.origin.x + t.size.width, c.origin.x + c.size.width));
  g_assert_cmpfloat (x.origin.y, ==, t.origin.y);
  g_assert_cmpfloat (x.origin.x + x.size.width, <, gtk_widget_get_width (row));
  g_assert_cmpfloat (x.origin.x + x.size.width, >, gtk_widget_get_width (row) - 20);
  height = gtk_widget_get_height (row);

  /* A pattern: a third line under the channel, and the row is taller. */
  td_row_text_set (TD_ROW_TEXT (pattern), "via n*", NULL, NULL);
  gtk_widget_set_visible (pattern, TRUE);
  while (gtk_widget_get_height (row) == height && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  p = bounds_in (pattern, row);
  g_assert_cmpfloat (p.origin.x, ==, c.origin.x);
  g_assert_cmpfloat (p.origin.y, >, c.origin.y + c.size.height - 1);
  g_assert_cmpint (gtk_widget_get_height (row), >, height);

  /* From the capture log: a mark before the time, and dimmed. */
  td_pubsub_row_set_logged (TD_PUBSUB_ROW (row), TRUE);
  mark = td_test_find_of_type (row, GTK_TYPE_IMAGE);
  g_assert_nonnull (mark);
  while (bounds_in (time, row).origin.x == t.origin.x && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  m = bounds_in (mark, row);
  g_assert_cmpfloat (m.origin.x, ==, t.origin.x);
  g_assert_cmpfloat (bounds_in (time, row).origin.x, >=, m.origin.x + m.size.width);
  g_assert_cmpfloat (gtk_widget_get_opacity (row), <, 1);
  td_pubsub_row_set_logged (TD_PUBSUB_ROW (row), FALSE);
  g_assert_false (gtk_widget_get_visible (mark));
  g_assert_cmpfloat (gtk_widget_get_opacity (row), ==, 1);

  /* A note: one dim line, no time or channel; then a message again. */
  height = gtk_widget_get_height (row);
  td_pubsub_row_set_note (TD_PUBSUB_ROW (row), TRUE);
  g_assert_false (gtk_widget_get_visible (time));
  g_assert_false (gtk_widget_get_visible (channel));
  g_assert_false (gtk_widget_get_visible (pattern));
  g_assert_true (gtk_widget_has_css_class (payload, "dim-label"));
  while (gtk_widget_get_height (row) == height && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpint (gtk_widget_get_height (row), <, height);
  /* One line between the row's margins, 6 px above and below. */
  g_assert_cmpint (gtk_widget_get_height (row), <=, bounds_in (payload, row).size.height + 2 * 6 + 1);
  td_pubsub_row_set_note (TD_PUBSUB_ROW (row), FALSE);
  g_assert_true (gtk_widget_get_visible (time));
  g_assert_true (gtk_widget_get_visible (channel));
  g_assert_false (gtk_widget_has_css_class (payload, "dim-label"));
  gtk_widget_set_visible (pattern, TRUE);
  while (gtk_widget_get_height (row) != height && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpint (gtk_widget_get_height (row), ==, height);

  /* Right to left: the column at the right edge, the payload at the left. */
  gtk_widget_set_direction (row, GTK_TEXT_DIR_RTL);
  while (bounds_in (payload, row).origin.x > 20 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE);
  t = bounds_in (time, row);
  x = bounds_in (payload, row);
  g_assert_cmpfloat (x.origin.x, <=, 20);
  g_assert_cmpfloat (t.origin.x, >, x.origin.x + x.size.width);

  gtk_window_destroy (GTK_WINDOW (window));
}

/* A sidebar row shows its source and follows it while bound. */
static void
test_sidebar_row (void)
{
  GtkWidget *row = g_object_ref_sink (td_sidebar_row_new ());
  g_autoptr(TdFeedRow) feed = td_feed_row_new (TD_FEED_ROW_FEED, 3, "News", "A Feed");
  g_autoptr(TdFeedRow) all = td_feed_row_new (TD_FEED_ROW_ALL, 0, NULL, "All Items");
  g_autoptr(GPtrArray) texts = g_ptr_array_new ();
  GtkWidget *badge = td_sidebar_row_get_error_badge (TD_SIDEBAR_ROW (row));
  GtkWidget *count;

  collect_texts (row, texts);
  g_assert_cmpuint (texts->len, ==, 2);   /* the title, the unread count */
  count = g_ptr_array_steal_index (texts, 1);
  g_assert_true (gtk_widget_has_css_class (badge, "td-error-badge"));

  td_feed_row_update (feed, "A Feed", 12, NULL, FALSE);
  td_sidebar_row_bind (TD_SIDEBAR_ROW (row), feed);
  g_assert_true (td_sidebar_row_get_row (TD_SIDEBAR_ROW (row)) == feed);
  g_assert_cmpstr (td_row_text_get_text (g_ptr_array_index (texts, 0)), ==, "A Feed");
  g_assert_cmpstr (td_row_text_get_text (TD_ROW_TEXT (count)), ==, "12");
  g_assert_true (gtk_widget_get_visible (count));
  g_assert_false (gtk_widget_get_visible (badge));
  g_assert_cmpint (gtk_widget_get_margin_start (row), >, 0);   /* in a folder */

  /* A new title, no unread items, a failure: the row follows. */
  td_feed_row_update (feed, "Another Title", 0, "Not found", FALSE);
  g_assert_cmpstr (td_row_text_get_text (g_ptr_array_index (texts, 0)), ==, "Another Title");
  g_assert_cmpstr (td_row_text_get_text (TD_ROW_TEXT (count)), ==, "");
  g_assert_false (gtk_widget_get_visible (count));
  g_assert_true (gtk_widget_get_visible (badge));

  /* Bound to another source, it shows that one. */
  td_sidebar_row_bind (TD_SIDEBAR_ROW (row), all);
  g_assert_cmpstr (td_row_text_get_text (g_ptr_array_index (texts, 0)), ==, "All Items");
  g_assert_false (gtk_widget_get_visible (badge));
  g_assert_cmpint (gtk_widget_get_margin_start (row), ==, 0);

  /* Unbound, it no longer follows. */
  td_sidebar_row_unbind (TD_SIDEBAR_ROW (row));
  g_assert_null (td_sidebar_row_get_row (TD_SIDEBAR_ROW (row)));
  td_feed_row_update (all, "Renamed", 5, NULL, FALSE);
  g_assert_cmpstr (td_row_text_get_text (g_ptr_array_index (texts, 0)), ==, "All Items");

  g_object_unref (row);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  gtk_init ();

  g_test_add_func ("/row-text/plain", test_plain);
  g_test_add_func ("/row-text/measure", test_measure);
  g_test_add_func ("/row-text/fixed", test_fixed);
  g_test_add_func ("/row-text/font-sizes", test_font_sizes);
  g_test_add_func ("/row-text/estimate", test_estimate);
  g_test_add_func ("/row-text/narrowest", test_narrowest);
  g_test_add_func ("/row-text/links", test_links);
  g_test_add_func ("/row-text/focus", test_focus);
  g_test_add_func ("/row-text/copy", test_copy);
  g_test_add_func ("/row-text/lazy-tooltip", test_lazy_tooltip);
  g_test_add_func ("/row-text/chat-row", test_chat_row);
  g_test_add_func ("/row-text/chat-row-classes", test_chat_row_classes);
  g_test_add_func ("/row-text/item-row", test_item_row);
  g_test_add_func ("/row-text/item-row-layout", test_item_row_layout);
  g_test_add_func ("/row-text/sidebar-row", test_sidebar_row);
  g_test_add_func ("/row-text/pubsub-row", test_pubsub_row);
  return g_test_run ();
}
