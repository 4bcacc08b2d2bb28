/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gstdio.h>

#include "app/td-renderer.h"

/*
 * The renderer choice from the device nodes a machine has: cairo when
 * there is no GPU to draw with, GTK's own choice otherwise, and never
 * over the user's GSK_RENDERER.
 */

static char *
make_dev (const char *const *nodes)
{
  g_autoptr(GError) error = NULL;
  char *dev = g_dir_make_tmp ("td-renderer-XXXXXX", &error);

  g_assert_no_error (error);
  for (guint i = 0; nodes[i] != NULL; i++)
    {
      g_autofree char *path = g_build_filename (dev, nodes[i], NULL);
      g_autofree char *parent = g_path_get_dirname (path);

      g_assert_cmpint (g_mkdir_with_parents (parent, 0700), ==, 0);
      g_assert_true (g_file_set_contents (path, "", 0, &error));
      g_assert_no_error (error);
    }
  return dev;
}

static void
remove_dev (char              *dev,
            const char *const *nodes)
{
  for (guint i = 0; nodes[i] != NULL; i++)
    {
      g_autofree char *path = g_build_filename (dev, nodes[i], NULL);
      g_autofree char *parent = g_path_get_dirname (path);

      g_remove (path);
      if (g_strcmp0 (parent, dev) != 0)
        g_rmdir (parent);
    }
  g_rmdir (dev);
  g_free (dev);
}

static void
check (const char *const *nodes,
       const char        *expected)
{
  char *dev = make_dev (nodes);

  g_assert_cmpstr (td_renderer_choose (dev), ==, expected);
  g_assert_true (td_renderer_have_gpu (dev) == (expected == NULL));
  remove_dev (dev, nodes);
}

static void
test_choose (void)
{
  const char *none[] = { "null", "zero", NULL };
  const char *empty_dri[] = { "dri/by-path-placeholder", NULL };
  const char *render_node[] = { "dri/renderD128", NULL };
  const char *card[] = { "dri/card0", NULL };
  const char *nvidia[] = { "nvidiactl", "nvidia0", NULL };

  check (none, "cairo");
  check (empty_dri, "cairo");
  check (render_node, NULL);
  check (card, NULL);
  check (nvidia, NULL);

  /* A directory that cannot be read counts as no GPU. */
  g_assert_cmpstr (td_renderer_choose ("/nonexistent/td-renderer"), ==, "cairo");
}

static void
test_user_choice (void)
{
  g_setenv ("GSK_RENDERER", "gl", TRUE);
  td_renderer_apply ();
  g_assert_cmpstr (g_getenv ("GSK_RENDERER"), ==, "gl");

  g_unsetenv ("GSK_RENDERER");
  td_renderer_apply ();
  g_assert_cmpstr (g_getenv ("GSK_RENDERER"), ==, td_renderer_choose ("/dev"));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/td/renderer/choose", test_choose);
  g_test_add_func ("/td/renderer/user-choice", test_user_choice);

  return g_test_run ();
}
