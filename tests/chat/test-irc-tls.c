/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>
#include <glib/gstdio.h>

#include "chat/td-irc-server.h"
#include "td-irc-test.h"

/*
 * IRC over TLS: a self-signed certificate made here with openssl (the
 * tests skip without it), the server's TLS listener next to its plain one
 * on the same context, and a GTlsClientConnection that accepts exactly
 * that certificate.
 */

typedef struct
{
  char            *dir;
  char            *cert;
  char            *key;
  GTlsCertificate *certificate;
} Pem;

static void
pem_free (Pem *pem)
{
  g_remove (pem->cert);
  g_remove (pem->key);
  g_rmdir (pem->dir);
  g_free (pem->cert);
  g_free (pem->key);
  g_free (pem->dir);
  g_clear_object (&pem->certificate);
  g_free (pem);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Pem, pem_free)

/* A fresh self-signed certificate and key, or NULL (test skipped) when
 * openssl or a TLS backend is missing. */
static Pem *
make_pem (void)
{
  g_autofree char *openssl = g_find_program_in_path ("openssl");
  g_autoptr(Pem) pem = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;
  int status = 0;

  if (openssl == NULL)
    {
      g_test_skip ("openssl is not installed");
      return NULL;
    }
  if (!g_tls_backend_supports_tls (g_tls_backend_get_default ()))
    {
      g_test_skip ("no TLS backend (glib-networking)");
      return NULL;
    }
  pem = g_new0 (Pem, 1);
  pem->dir = g_dir_make_tmp ("td-irc-tls-XXXXXX", &error);
  g_assert_no_error (error);
  pem->cert = g_build_filename (pem->dir, "cert.pem", NULL);
  pem->key = g_build_filename (pem->dir, "key.pem", NULL);
  {
    const char *argv[] = { openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                           "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                           "-subj", "/CN=localhost", "-keyout", pem->key, "-out", pem->cert, NULL };

    g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &err,
                  &status, &error);
  }
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("openssl req failed: %s", err);
  pem->certificate = g_tls_certificate_new_from_files (pem->cert, pem->key, &error);
  g_assert_no_error (error);
  return g_steal_pointer (&pem);
}

/* ------------------------------------------------------------------ */
/* A server with both listeners on a thread of its own                 */
/* ------------------------------------------------------------------ */

typedef struct
{
  TdIrcServer     *server;
  GTlsCertificate *certificate;
  GThread         *thread;
  GMainContext    *context;
  GMainLoop       *loop;
  guint16          port;
  guint16          tls_port;
  GMutex           lock;
  GCond            cond;
  gboolean         ready;
} TlsServer;

static gpointer
tls_server_main (gpointer data)
{
  TlsServer *ts = data;
  g_autoptr(GError) error = NULL;

  g_main_context_push_thread_default (ts->context);
  if (!td_irc_server_listen (ts->server, ts->context, "127.0.0.1", 0, &error) ||
      !td_irc_server_listen_tls (ts->server, ts->context, "127.0.0.1", 0, ts->certificate, &error))
    g_error ("listen: %s", error->message);
  g_mutex_lock (&ts->lock);
  ts->port = td_irc_server_get_port (ts->server);
  ts->tls_port = td_irc_server_get_tls_port (ts->server);
  ts->ready = TRUE;
  g_cond_signal (&ts->cond);
  g_mutex_unlock (&ts->lock);
  g_main_loop_run (ts->loop);
  td_irc_server_stop (ts->server);
  g_main_context_pop_thread_default (ts->context);
  return NULL;
}

static TlsServer *
tls_server_start (GTlsCertificate *certificate)
{
  TlsServer *ts = g_new0 (TlsServer, 1);
  g_autoptr(TdIrcServerConfig) config = td_irc_server_config_new ();

  config->flood_control = FALSE;
  ts->server = td_irc_server_new (config);
  ts->certificate = g_object_ref (certificate);
  ts->context = g_main_context_new ();
  ts->loop = g_main_loop_new (ts->context, FALSE);
  g_mutex_init (&ts->lock);
  g_cond_init (&ts->cond);
  ts->thread = g_thread_new ("irc-tls-server", tls_server_main, ts);
  g_mutex_lock (&ts->lock);
  while (!ts->ready)
    g_cond_wait (&ts->cond, &ts->lock);
  g_mutex_unlock (&ts->lock);
  return ts;
}

static void
tls_server_free (TlsServer *ts)
{
  GSource *source = g_idle_source_new ();

  g_source_set_callback (source, td_irc_test_quit_cb, ts->loop, NULL);
  g_source_attach (source, ts->context);
  g_source_unref (source);
  g_thread_join (ts->thread);
  td_irc_server_free (ts->server);
  /* Let cancelled handshakes (their threads in the TLS backend) finish
   * and call back on the context they started on. */
  {
    gint64 until = g_get_monotonic_time () + 300 * 1000;

    while (g_get_monotonic_time () < until)
      if (!g_main_context_iteration (ts->context, FALSE))
        g_usleep (5000);
  }
  g_object_unref (ts->certificate);
  g_main_loop_unref (ts->loop);
  g_main_context_unref (ts->context);
  g_mutex_clear (&ts->lock);
  g_cond_clear (&ts->cond);
  g_free (ts);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TlsServer, tls_server_free)

/* ------------------------------------------------------------------ */
/* A blocking TLS line client                                          */
/* ------------------------------------------------------------------ */

typedef struct
{
  GSocketConnection *base;
  GIOStream         *tls;
  GDataInputStream  *in;
  char              *name;
} TlsClient;

static void
tls_client_free (TlsClient *c)
{
  if (c == NULL)
    return;
  g_clear_object (&c->in);
  if (c->tls != NULL)
    g_io_stream_close (c->tls, NULL, NULL);
  g_clear_object (&c->tls);
  g_clear_object (&c->base);
  g_free (c->name);
  g_free (c);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TlsClient, tls_client_free)

/* Accepts the one certificate the test made, nothing else. */
static gboolean
accept_certificate_cb (GTlsConnection       *connection,
                       GTlsCertificate      *peer,
                       GTlsCertificateFlags  errors,
                       gpointer              user_data)
{
  return g_tls_certificate_is_same (peer, user_data);
}

static TlsClient *
tls_client_new (guint16          port,
                GTlsCertificate *expected,
                const char      *name)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GError) error = NULL;
  TlsClient *c = g_new0 (TlsClient, 1);

  c->name = g_strdup (name);
  g_socket_client_set_timeout (client, TD_IRC_TEST_TIMEOUT_S);
  c->base = g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, &error);
  g_assert_no_error (error);
  /* No CA database: the one certificate is checked in the callback (and
   * loading the system's CAs is slow under AddressSanitizer). */
  c->tls = g_initable_new (g_tls_backend_get_client_connection_type (g_tls_backend_get_default ()),
                           NULL, &error, "base-io-stream", c->base, "database", NULL, NULL);
  g_assert_no_error (error);
  g_signal_connect (c->tls, "accept-certificate", G_CALLBACK (accept_certificate_cb), expected);
  g_tls_connection_handshake (G_TLS_CONNECTION (c->tls), NULL, &error);
  g_assert_no_error (error);
  c->in = g_data_input_stream_new (g_io_stream_get_input_stream (c->tls));
  g_data_input_stream_set_newline_type (c->in, G_DATA_STREAM_NEWLINE_TYPE_CR_LF);
  return c;
}

static void
tls_send (TlsClient  *c,
          const char *line)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *wire = g_strconcat (line, "\r\n", NULL);

  g_output_stream_write_all (g_io_stream_get_output_stream (c->tls), wire, strlen (wire),
                             NULL, NULL, &error);
  g_assert_no_error (error);
}

/* Reads until a line contains @needle (the socket timeout bounds each
 * read); returns it. */
static char *
tls_expect (TlsClient  *c,
            const char *needle)
{
  for (;;)
    {
      g_autoptr(GError) error = NULL;
      char *line = g_data_input_stream_read_line (c->in, NULL, NULL, &error);

      g_assert_no_error (error);
      if (line == NULL)
        g_error ("%s: EOF while waiting for “%s”", c->name, needle);
      if (g_test_verbose ())
        g_test_message ("%s <- %s", c->name, line);
      if (strstr (line, needle) != NULL)
        return line;
      g_free (line);
    }
}

static TlsClient *
tls_register (guint16          port,
              GTlsCertificate *expected,
              const char      *nick)
{
  TlsClient *c = tls_client_new (port, expected, nick);
  g_autofree char *nick_line = g_strdup_printf ("NICK %s", nick);
  g_autofree char *user_line = g_strdup_printf ("USER %s 0 * :TLS %s", nick, nick);

  tls_send (c, "CAP LS 302");
  tls_send (c, "CAP REQ :server-time message-tags");
  tls_send (c, nick_line);
  tls_send (c, user_line);
  g_free (tls_expect (c, " ACK "));
  tls_send (c, "CAP END");
  g_free (tls_expect (c, " 001 "));
  g_free (tls_expect (c, " 376 "));
  return c;
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */
/* ------------------------------------------------------------------ */

/* Registration over TLS, and the same channel shared with a plain
 * client: one server behind both listeners. */
static void
test_register (void)
{
  g_autoptr(Pem) pem = make_pem ();
  g_autoptr(TlsServer) ts = NULL;
  g_autoptr(TlsClient) secure = NULL;
  g_autoptr(TdIrcTestClient) plain = NULL;
  g_autofree char *got = NULL;

  if (pem == NULL)
    return;
  ts = tls_server_start (pem->certificate);
  g_assert_cmpuint (ts->tls_port, >, 0);
  g_assert_cmpuint (ts->tls_port, !=, ts->port);

  secure = tls_register (ts->tls_port, pem->certificate, "secure");
  plain = td_irc_test_connect (ts->port, "plain", NULL);
  tls_send (secure, "JOIN #both");
  g_free (tls_expect (secure, " 366 "));
  td_irc_test_send (plain, "JOIN #both");
  g_free (td_irc_test_expect (plain, " 366 "));

  tls_send (secure, "PRIVMSG #both :over tls");
  got = td_irc_test_expect (plain, "PRIVMSG");
  g_assert_cmpstr (got, ==, ":secure!~secure@127.0.0.1 PRIVMSG #both :over tls");
  g_clear_pointer (&got, g_free);
  td_irc_test_send (plain, "PRIVMSG #both :in clear");
  got = tls_expect (secure, "PRIVMSG");
  g_assert_nonnull (strstr (got, ":plain!~plain@127.0.0.1 PRIVMSG #both :in clear"));
  g_clear_pointer (&got, g_free);

  /* Plenty of output at once: writes that would block are resumed. */
  for (guint i = 0; i < 2000; i++)
    td_irc_test_send (plain, "PRIVMSG #both :bulk %u %s", i,
                      "....................................................................");
  got = tls_expect (secure, "bulk 1999 ");
  g_clear_pointer (&got, g_free);

  tls_send (secure, "QUIT :bye");
  got = tls_expect (secure, "ERROR");
  g_assert_nonnull (strstr (got, "bye"));
}

/* Plain text on the TLS port ends that connection and nothing else. */
static void
test_not_tls (void)
{
  g_autoptr(Pem) pem = make_pem ();
  g_autoptr(TlsServer) ts = NULL;
  g_autoptr(TdIrcTestClient) confused = NULL;
  g_autoptr(TlsClient) secure = NULL;
  g_autofree char *error_line = NULL;

  if (pem == NULL)
    return;
  ts = tls_server_start (pem->certificate);
  confused = td_irc_test_client_new (ts->tls_port, "confused");
  td_irc_test_send (confused, "NICK confused");
  td_irc_test_send (confused, "USER confused 0 * :x");
  error_line = td_irc_test_expect_closed (confused);
  g_assert_null (error_line);

  /* A client that connects and says nothing holds no one up. */
  g_clear_pointer (&confused, td_irc_test_client_free);
  confused = td_irc_test_client_new (ts->tls_port, "silent");
  secure = tls_register (ts->tls_port, pem->certificate, "secure");
}

typedef struct
{
  gboolean  done;
  char     *line;
} LineWait;

static void
read_line_cb (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  LineWait *wait = user_data;

  wait->line = g_data_input_stream_read_line_finish (G_DATA_INPUT_STREAM (source), result, NULL, NULL);
  wait->done = TRUE;
}

static void
wait_cb (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  *(gboolean *) user_data = TRUE;
}

static void
wait_for (gboolean *done)
{
  gint64 deadline = g_get_monotonic_time () + 2 * TD_IRC_TEST_TIMEOUT_S * G_USEC_PER_SEC;

  while (!*done)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, FALSE);
      if (!*done)
        g_usleep (1000);
    }
}

/* tidingsd with --chat-tls-port: it says where, and serves there. */
static void
test_tidingsd (void)
{
  const char *exe = g_getenv ("TD_TIDINGSD");
  g_autoptr(Pem) pem = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autoptr(TlsClient) secure = NULL;
  g_autofree char *db_dir = NULL;
  g_autofree char *db = NULL;
  guint16 port = 0;
  gboolean done = FALSE;

  if (exe == NULL)
    {
      g_test_skip ("TD_TIDINGSD is not set");
      return;
    }
  pem = make_pem ();
  if (pem == NULL)
    return;
  db_dir = g_dir_make_tmp ("td-irc-tls-db-XXXXXX", NULL);
  db = g_build_filename (db_dir, "tidingsd.db", NULL);
  process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, exe, "--db", db,
                              "--chat-port", "-1", "--chat-tls-port", "0",
                              "--tls-cert", pem->cert, "--tls-key", pem->key,
                              "--pubsub-port", "-1", "--line-port", "-1", "--files-port", "-1", NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (process));
  for (;;)
    {
      LineWait wait = { 0 };
      g_autofree char *line = NULL;

      g_data_input_stream_read_line_async (out, G_PRIORITY_DEFAULT, NULL, read_line_cb, &wait);
      wait_for (&wait.done);
      line = wait.line;
      g_assert_nonnull (line);
      if (g_str_has_prefix (line, "listening chat-tls 127.0.0.1:"))
        port = (guint16) g_ascii_strtoull (line + strlen ("listening chat-tls 127.0.0.1:"), NULL, 10);
      if (g_str_equal (line, "ready"))
        break;
    }
  g_assert_cmpuint (port, >, 0);
  secure = tls_register (port, pem->certificate, "secure");
  g_clear_pointer (&secure, tls_client_free);

  g_subprocess_send_signal (process, SIGTERM);
  g_subprocess_wait_async (process, NULL, wait_cb, &done);
  wait_for (&done);
  g_assert_true (g_subprocess_get_if_exited (process));
  g_assert_cmpint (g_subprocess_get_exit_status (process), ==, 0);
  {
    g_autoptr(GDir) dir = g_dir_open (db_dir, 0, NULL);
    const char *name;

    while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
      {
        g_autofree char *path = g_build_filename (db_dir, name, NULL);

        g_remove (path);
      }
    g_rmdir (db_dir);
  }
}

/* Runs tidingsd with @args and returns its exit status and stderr. */
static int
run_tidingsd (char       **err,
              const char  *first,
              ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  gboolean done = FALSE;
  va_list args;

  g_ptr_array_add (argv, (gpointer) g_getenv ("TD_TIDINGSD"));
  va_start (args, first);
  for (const char *a = first; a != NULL; a = va_arg (args, const char *))
    g_ptr_array_add (argv, (gpointer) a);
  va_end (args);
  g_ptr_array_add (argv, NULL);
  process = g_subprocess_newv ((const char * const *) argv->pdata,
                               G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  g_assert_no_error (error);
  g_subprocess_wait_async (process, NULL, wait_cb, &done);
  wait_for (&done);
  {
    g_autoptr(GDataInputStream) in = g_data_input_stream_new (g_subprocess_get_stderr_pipe (process));

    *err = g_data_input_stream_read_upto (in, "", 0, NULL, NULL, NULL);
  }
  g_assert_true (g_subprocess_get_if_exited (process));
  return g_subprocess_get_exit_status (process);
}

/* Certificate problems are reported at start with exit status 2. */
static void
test_bad_certificate (void)
{
  g_autoptr(Pem) pem = NULL;
  g_autofree char *missing = NULL;
  g_autofree char *err = NULL;

  if (g_getenv ("TD_TIDINGSD") == NULL)
    {
      g_test_skip ("TD_TIDINGSD is not set");
      return;
    }
  pem = make_pem ();
  if (pem == NULL)
    return;
  missing = g_build_filename (pem->dir, "missing.pem", NULL);

  g_assert_cmpint (run_tidingsd (&err, "--chat-tls-port", "0", NULL), ==, 2);
  g_assert_nonnull (strstr (err, "--tls-cert"));
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_tidingsd (&err, "--chat-tls-port", "0", "--tls-cert", missing,
                                 "--tls-key", pem->key, NULL), ==, 2);
  g_assert_nonnull (strstr (err, "missing.pem"));
  g_clear_pointer (&err, g_free);
  /* The key where the certificate should be, and the other way round. */
  g_assert_cmpint (run_tidingsd (&err, "--chat-tls-port", "0", "--tls-cert", pem->key,
                                 "--tls-key", pem->cert, NULL), ==, 2);
  g_assert_nonnull (strstr (err, "TLS certificate"));
}

int
main (int   argc,
      char *argv[])
{
  int status;

  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/td/irc-tls/register", test_register);
  g_test_add_func ("/td/irc-tls/not-tls", test_not_tls);
  g_test_add_func ("/td/irc-tls/tidingsd", test_tidingsd);
  g_test_add_func ("/td/irc-tls/bad-certificate", test_bad_certificate);
  status = g_test_run ();

  /* The TLS backend's handshakes ran on GTask's pool threads. Let them
   * end before LeakSanitizer looks at the process: the sanitizer of
   * Debian 12's gcc cannot read the dynamic TLS such a thread leaves
   * (GnuTLS is a dlopen()ed module) and crashes instead of checking. */
  g_thread_pool_set_max_unused_threads (0);
  g_thread_pool_stop_unused_threads ();
  g_usleep (200 * 1000);
  return status;
}
