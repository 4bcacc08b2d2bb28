/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tidings"

#include "config.h"

#include <glib/gi18n.h>
#include <locale.h>

#include "app/td-application.h"
#include "app/td-renderer.h"
#include "core/td-thread.h"

int
main (int   argc,
      char *argv[])
{
  g_autoptr(TdApplication) app = NULL;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  /* Fetching, parsing and writing to disk yield to the window. */
  td_thread_set_background_nice (TD_THREAD_BACKGROUND_NICE);
  /* Without a GPU, draw only what changes. */
  td_renderer_apply ();

  app = td_application_new (APP_ID, G_APPLICATION_HANDLES_COMMAND_LINE);
  return g_application_run (G_APPLICATION (app), argc, argv);
}
