/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Replays fuzz inputs without libFuzzer: every file named on the command
 * line (or found in a directory named there) goes through the target once.
 * This keeps every seed and every past crash a regression test of the
 * normal suite, under the normal and the sanitizer builds. */
#include <errno.h>
#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static int
replay_file (const char *path)
{
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;
  gsize len;

  if (!g_file_get_contents (path, &contents, &len, &error))
    {
      printf ("not ok - %s: %s\n", path, error->message);
      return 1;
    }
  LLVMFuzzerTestOneInput ((const uint8_t *) contents, len);
  return 0;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GPtrArray) files = NULL;
  int failed = 0;

  /* GLib 2.74 serves small blocks from slice magazines, where
   * LeakSanitizer cannot see a leak; build-aux/fuzz runs libFuzzer with
   * G_SLICE=always-malloc, and the replay starts itself again with it so
   * that a leak found there shows here too. */
  if (g_getenv ("G_SLICE") == NULL)
    {
      g_setenv ("G_SLICE", "always-malloc", TRUE);
      execv ("/proc/self/exe", argv);
      g_printerr ("replay: could not start again with G_SLICE set: %s\n", g_strerror (errno));
    }

  files = g_ptr_array_new_with_free_func (g_free);
  for (int i = 1; i < argc; i++)
    {
      if (g_file_test (argv[i], G_FILE_TEST_IS_DIR))
        {
          g_autoptr(GDir) dir = g_dir_open (argv[i], 0, NULL);
          const char *name;

          while (dir && (name = g_dir_read_name (dir)) != NULL)
            if (name[0] != '.' && strcmp (name, "README") != 0)
              g_ptr_array_add (files, g_build_filename (argv[i], name, NULL));
        }
      else
        g_ptr_array_add (files, g_strdup (argv[i]));
    }

  printf ("1..%u\n", files->len);
  for (guint i = 0; i < files->len; i++)
    {
      const char *path = g_ptr_array_index (files, i);

      if (replay_file (path) == 0)
        printf ("ok %u - %s\n", i + 1, path);
      else
        failed++;
    }
  return failed ? 1 : 0;
}
