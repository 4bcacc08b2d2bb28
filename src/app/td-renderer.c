/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-renderer"

#include "config.h"

#include <string.h>

#include "app/td-renderer.h"

/*
 * Which GSK renderer to draw the window with. GTK 4.8 prefers its GL
 * renderer, which redraws the whole window every frame. With a GPU that
 * costs nothing; without one (a virtual machine, a remote desktop, a
 * container), Mesa rasterizes every pixel on the CPU and compiles each
 * shader on the main thread the first time it is used, and a frame of a
 * 1280x900 window takes 60 to 170 ms of CPU time. The cairo renderer
 * redraws only what changed. So when no GPU device node exists, Tidings
 * asks for cairo, unless the user chose a renderer (GSK_RENDERER).
 */

/* DRM device nodes (Mesa drivers, and NVIDIA's with nvidia-drm) live in
 * dev/dri; NVIDIA's own driver also opens dev/nvidia*. */
gboolean
td_renderer_have_gpu (const char *dev_dir)
{
  g_autofree char *dri = g_build_filename (dev_dir, "dri", NULL);
  g_autoptr(GDir) dir = NULL;
  const char *name;

  dir = g_dir_open (dri, 0, NULL);
  if (dir != NULL)
    while ((name = g_dir_read_name (dir)) != NULL)
      if (g_str_has_prefix (name, "renderD") || g_str_has_prefix (name, "card"))
        return TRUE;
  g_clear_pointer (&dir, g_dir_close);

  dir = g_dir_open (dev_dir, 0, NULL);
  if (dir != NULL)
    while ((name = g_dir_read_name (dir)) != NULL)
      if (g_str_has_prefix (name, "nvidia"))
        return TRUE;
  return FALSE;
}

/* The renderer to ask for given the device nodes in @dev_dir, or NULL
 * for GTK's own choice. */
const char *
td_renderer_choose (const char *dev_dir)
{
  return td_renderer_have_gpu (dev_dir) ? NULL : "cairo";
}

/* Called before GTK starts. */
void
td_renderer_apply (void)
{
  const char *renderer;

  if (g_getenv ("GSK_RENDERER") != NULL)
    return;
  renderer = td_renderer_choose ("/dev");
  if (renderer == NULL)
    return;
  g_debug ("No GPU device found: drawing with the %s renderer", renderer);
  g_setenv ("GSK_RENDERER", renderer, TRUE);
}
