/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-pubsub-tidingsd"

#include "config.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "td-pubsub-test.h"

/* tidingsd must exit this soon after SIGTERM. */
#define TIDINGSD_EXIT_MS 2000

static void
expect (int         fd,
        const char *bytes,
        gsize       len)
{
  g_autoptr(GByteArray) got = td_test_read_n (fd, len, TD_TEST_IO_TIMEOUT_MS, NULL);

  td_test_assert_bytes (got->data, got->len, bytes, len);
}

#define EXPECT(fd, lit) expect ((fd), (lit), sizeof (lit) - 1)

typedef struct
{
  GSubprocess      *process;
  GDataInputStream *out;
  char             *dir;
  guint16           pubsub_port;
  guint16           line_port;
} Daemon;

static gboolean
wait_cb (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

static void
daemon_start (Daemon     *d,
              const char *password)
{
  const char *binary = g_getenv ("TD_TIDINGSD");
  g_autoptr(GError) error = NULL;
  g_autofree char *db = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();

  g_assert_nonnull (binary);
  d->dir = g_dir_make_tmp ("td-tidingsd-XXXXXX", &error);
  g_assert_no_error (error);
  db = g_build_filename (d->dir, "tidingsd.db", NULL);

  g_ptr_array_add (argv, (char *) binary);
  g_ptr_array_add (argv, "--pubsub-port");
  g_ptr_array_add (argv, "0");
  g_ptr_array_add (argv, "--line-port");
  g_ptr_array_add (argv, "0");
  g_ptr_array_add (argv, "--chat-port");
  g_ptr_array_add (argv, "-1");
  g_ptr_array_add (argv, "--files-port");
  g_ptr_array_add (argv, "-1");
  g_ptr_array_add (argv, "--db");
  g_ptr_array_add (argv, db);
  if (password != NULL)
    {
      g_ptr_array_add (argv, "--requirepass");
      g_ptr_array_add (argv, (char *) password);
    }
  g_ptr_array_add (argv, NULL);

  d->process = g_subprocess_newv ((const char *const *) argv->pdata, G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
  g_assert_no_error (error);
  d->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (d->process));

  for (;;)
    {
      g_autofree char *line = g_data_input_stream_read_line (d->out, NULL, NULL, &error);
      g_auto(GStrv) parts = NULL;

      g_assert_no_error (error);
      g_assert_nonnull (line);
      if (g_str_equal (line, "ready"))
        break;
      parts = g_strsplit (line, " ", 3);
      g_assert_cmpstr (parts[0], ==, "listening");
      g_assert_true (g_str_has_prefix (parts[2], "127.0.0.1:"));
      if (g_str_equal (parts[1], "pubsub"))
        d->pubsub_port = (guint16) atoi (strrchr (parts[2], ':') + 1);
      else if (g_str_equal (parts[1], "line"))
        d->line_port = (guint16) atoi (strrchr (parts[2], ':') + 1);
    }
  g_assert_cmpuint (d->pubsub_port, !=, 0);
  g_assert_cmpuint (d->line_port, !=, 0);
}

static void
wait_cb_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, &error);
  g_assert_no_error (error);
  *(gboolean *) user_data = TRUE;
}

/* SIGTERM, then a clean exit (status 0) within TIDINGSD_EXIT_MS. */
static void
daemon_stop (Daemon *d)
{
  gboolean exited = FALSE, timed_out = FALSE;
  guint timeout;

  g_subprocess_send_signal (d->process, SIGTERM);
  g_subprocess_wait_async (d->process, NULL, wait_cb_done, &exited);
  timeout = g_timeout_add (TIDINGSD_EXIT_MS, wait_cb, &timed_out);
  while (!exited && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (!exited)
    {
      g_subprocess_force_exit (d->process);
      g_subprocess_wait (d->process, NULL, NULL);
      g_error ("tidingsd did not exit within %d ms of SIGTERM", TIDINGSD_EXIT_MS);
    }
  g_source_remove (timeout);
  g_assert_true (g_subprocess_get_if_exited (d->process));
  g_assert_cmpint (g_subprocess_get_exit_status (d->process), ==, 0);

  g_clear_object (&d->out);
  g_clear_object (&d->process);
  {
    g_autoptr(GFile) dir = g_file_new_for_path (d->dir);
    g_autoptr(GFileEnumerator) children = g_file_enumerate_children (dir, G_FILE_ATTRIBUTE_STANDARD_NAME,
                                                                    G_FILE_QUERY_INFO_NONE, NULL, NULL);
    GFileInfo *info;

    while (children != NULL && (info = g_file_enumerator_next_file (children, NULL, NULL)) != NULL)
      {
        g_autoptr(GFile) child = g_file_get_child (dir, g_file_info_get_name (info));

        g_file_delete (child, NULL, NULL);
        g_object_unref (info);
      }
    g_rmdir (d->dir);
  }
  g_free (d->dir);
}

static void
test_tidingsd_pubsub (void)
{
  Daemon d = { 0 };
  int sub, line, pub;

  daemon_start (&d, NULL);
  sub = td_test_connect (d.pubsub_port);
  line = td_test_connect (d.line_port);
  pub = td_test_connect (d.pubsub_port);

  td_test_send_str (sub, "SUBSCRIBE d.news\r\n");
  EXPECT (sub, "*3\r\n$9\r\nsubscribe\r\n$6\r\nd.news\r\n:1\r\n");
  td_test_send_str (line, "SUB d.news\nPING\n");
  EXPECT (line, "PONG\n");

  td_test_send_str (pub, "PUBLISH d.news hi\r\n");
  EXPECT (pub, ":2\r\n");
  EXPECT (sub, "*3\r\n$7\r\nmessage\r\n$6\r\nd.news\r\n$2\r\nhi\r\n");
  EXPECT (line, "UPDATED d.news hi\n");

  /* redis-cli publishes through tidingsd too. */
  {
    g_autofree char *cli = g_find_program_in_path ("redis-cli");

    if (cli != NULL)
      {
        g_autofree char *port = g_strdup_printf ("%u", d.pubsub_port);
        g_autofree char *out = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(GSubprocess) p = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, cli, "-p", port,
                                                     "publish", "d.news", "from cli", NULL);

        g_assert_no_error (error);
        g_subprocess_communicate_utf8 (p, NULL, NULL, &out, NULL, &error);
        g_assert_no_error (error);
        g_assert_cmpstr (out, ==, "2\n");
        EXPECT (sub, "*3\r\n$7\r\nmessage\r\n$6\r\nd.news\r\n$8\r\nfrom cli\r\n");
        EXPECT (line, "UPDATED d.news from cli\n");
      }
  }

  /* Subscribers still connected at SIGTERM do not delay the exit. */
  daemon_stop (&d);
  g_assert_true (td_test_wait_eof (sub, TD_TEST_IO_TIMEOUT_MS));
  close (sub);
  close (line);
  close (pub);
}

static void
test_tidingsd_requirepass (void)
{
  Daemon d = { 0 };
  int fd;

  daemon_start (&d, "sekret");
  fd = td_test_connect (d.pubsub_port);
  td_test_send_str (fd, "PING\r\nAUTH nope\r\nAUTH sekret\r\nPING\r\n");
  EXPECT (fd, "-NOAUTH Authentication required.\r\n"
              "-WRONGPASS invalid username-password pair or user is disabled.\r\n+OK\r\n+PONG\r\n");
  close (fd);
  daemon_stop (&d);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/td/pubsub/tidingsd/pubsub", test_tidingsd_pubsub);
  g_test_add_func ("/td/pubsub/tidingsd/requirepass", test_tidingsd_requirepass);
  return g_test_run ();
}
