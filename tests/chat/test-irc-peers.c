/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "core/td-task-loop.h"
#include "td-irc-test.h"

/*
 * The IRC server as others see it: inside the real `tidingsd` binary, and
 * driven by a third-party client (Debian's `ii`, skipped when absent).
 */

static void
test_tidingsd (void)
{
  const char *tidingsd = g_getenv ("TD_TIDINGSD");
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autofree char *dir = g_dir_make_tmp ("td-irc-XXXXXX", NULL);
  g_autofree char *db = g_build_filename (dir, "tidingsd.db", NULL);
  g_autoptr(TdIrcTestClient) a = NULL;
  g_autoptr(TdIrcTestClient) b = NULL;
  g_autofree char *msg = NULL;
  guint16 port = 0;
  char *line;

  if (tidingsd == NULL)
    {
      g_test_skip ("TD_TIDINGSD is not set");
      return;
    }
  process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, tidingsd,
                              "--chat-port", "0", "--pubsub-port", "-1", "--line-port", "-1",
                              "--files-port", "-1", "--db", db, NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (process));
  while ((line = g_data_input_stream_read_line (out, NULL, NULL, &error)) != NULL)
    {
      gboolean ready = g_str_equal (line, "ready");

      if (g_str_has_prefix (line, "listening chat 127.0.0.1:"))
        port = (guint16) g_ascii_strtoull (line + strlen ("listening chat 127.0.0.1:"), NULL, 10);
      g_free (line);
      if (ready)
        break;
    }
  g_assert_cmpuint (port, >, 0);

  a = td_irc_test_connect (port, "first", NULL);
  b = td_irc_test_connect (port, "second", NULL);
  td_irc_test_send (a, "JOIN #real");
  g_free (td_irc_test_expect (a, " 366 "));
  td_irc_test_send (b, "JOIN #real");
  g_free (td_irc_test_expect (b, " 366 "));
  td_irc_test_send (b, "PRIVMSG #real :through tidingsd");
  msg = td_irc_test_expect (a, "PRIVMSG");
  g_assert_cmpstr (msg, ==, ":second!~second@127.0.0.1 PRIVMSG #real :through tidingsd");

  g_subprocess_send_signal (process, SIGTERM);
  g_subprocess_wait (process, NULL, NULL);
  g_assert_true (g_subprocess_get_if_exited (process));
  g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 0);
  g_remove (db);
  g_rmdir (dir);
}

/* Writes @text to the FIFO @path once ii has it open. */
static void
write_fifo (const char *path,
            const char *text)
{
  gint64 deadline = g_get_monotonic_time () + TD_IRC_TEST_TIMEOUT_S * G_USEC_PER_SEC;
  int fd = -1;

  while (fd < 0)
    {
      fd = open (path, O_WRONLY | O_NONBLOCK);
      if (fd < 0)
        {
          g_assert_cmpint (g_get_monotonic_time (), <, deadline);
          g_usleep (20000);
        }
    }
  g_assert_cmpint (write (fd, text, strlen (text)), ==, (gssize) strlen (text));
  close (fd);
}

static gboolean
file_contains (const char *path,
               const char *needle)
{
  g_autofree char *text = NULL;

  return g_file_get_contents (path, &text, NULL, NULL) && strstr (text, needle) != NULL;
}

static void
test_ii (void)
{
  g_autofree char *ii = g_find_program_in_path ("ii");
  g_autofree char *dir = NULL;
  g_autofree char *port_str = NULL;
  g_autofree char *in = NULL;
  g_autofree char *chan_in = NULL;
  g_autofree char *chan_out = NULL;
  g_autofree char *joined = NULL;
  g_autofree char *said = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(TdIrcTestClient) me = NULL;
  g_autoptr(TdIrcServerConfig) config = td_irc_server_config_new ();
  TdIrcTestServer *ts;
  gint64 deadline;

  if (ii == NULL)
    {
      g_test_skip ("ii is not installed (apt-get install ii)");
      return;
    }
  config->flood_control = FALSE;
  ts = td_irc_test_server_start (td_irc_server_new (config));
  dir = g_dir_make_tmp ("td-ii-XXXXXX", NULL);
  port_str = g_strdup_printf ("%u", ts->port);
  process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error,
                              ii, "-s", "127.0.0.1", "-p", port_str, "-n", "iibot", "-i", dir, NULL);
  g_assert_no_error (error);

  me = td_irc_test_connect (ts->port, "human", NULL);
  td_irc_test_send (me, "JOIN #ii");
  g_free (td_irc_test_expect (me, " 366 "));

  in = g_build_filename (dir, "127.0.0.1", "in", NULL);
  write_fifo (in, "/j #ii\n");
  joined = td_irc_test_expect (me, " JOIN ");
  g_assert_nonnull (strstr (joined, ":iibot!"));

  chan_in = g_build_filename (dir, "127.0.0.1", "#ii", "in", NULL);
  write_fifo (chan_in, "hello from ii\n");
  said = td_irc_test_expect (me, "PRIVMSG");
  g_assert_nonnull (strstr (said, ":iibot!"));
  g_assert_nonnull (strstr (said, "PRIVMSG #ii :hello from ii"));

  td_irc_test_send (me, "PRIVMSG #ii :hello ii");
  chan_out = g_build_filename (dir, "127.0.0.1", "#ii", "out", NULL);
  deadline = g_get_monotonic_time () + TD_IRC_TEST_TIMEOUT_S * G_USEC_PER_SEC;
  while (!file_contains (chan_out, "<human> hello ii"))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (20000);
    }

  write_fifo (in, "/q\n");
  g_free (td_irc_test_expect (me, " QUIT "));
  g_subprocess_wait (process, NULL, NULL);
  td_irc_test_server_free (ts);
  {
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", dir);

    g_assert_cmpint (system (cmd), ==, 0);
  }
}

int
main (int   argc,
      char *argv[])
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/td/irc-peers/tidingsd", test_tidingsd);
  g_test_add_func ("/td/irc-peers/ii", test_ii);
  ret = g_test_run ();
  td_task_loop_shutdown (td_task_loop_get_default (), 5000);
  return ret;
}
