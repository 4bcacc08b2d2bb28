/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The driver behind bench-app's gui-stall, cold-start and chat-lines
 * benchmarks. It expects to run inside the Xvfb display and private
 * session bus that bench-app sets up, with XDG_* pointing into a scratch
 * directory.
 *
 *   app-driver gui-stall TIDINGS
 *     Starts TIDINGS on its Feeds view (TIDINGS_DEBUG=latency, free local
 *     ports, a fresh database subscribed to FEEDS feeds of 50 items served
 *     by nginx on 127.0.0.1, never fetched, and whose built-in pub/sub
 *     connection is subscribed to one channel), waits for its first frame
 *     and for the Pub/Sub view's subscription, resets the latency probe,
 *     then for at least STALL_SECONDS and until the refresh is done:
 *     publishes PUBLISH_RATE messages per second on that channel to the
 *     embedded broker, switches views every second (ShowView: Pub/Sub,
 *     Chat, Feeds, ...), and refreshes every feed (RefreshFeeds []: all
 *     50,000 items are new). Prints the longest main-loop stall and the
 *     p99 frame interval (GetLatencyStats).
 *     TD_BENCH_IMPORT=addfeed adds the feeds with AddFeed calls during the
 *     measured phase instead, and refreshes once they are in.
 *
 *   app-driver cold-start TIDINGS
 *     Builds a database of COLD_ITEMS feed items and COLD_CHAT_LINES chat
 *     lines with the app's own schema, then COLD_RUNS times: execs
 *     TIDINGS with TIDINGS_DEBUG=first-frame and takes the time from just
 *     before the exec to the window's first frame (the app prints the
 *     monotonic time of its first after-paint). Prints the median.
 *
 *   app-driver chat-lines TIDINGS
 *     Builds a database whose local network has one joined channel,
 *     CHAT_CHANNEL, with CHAT_LINES lines in its log; starts TIDINGS
 *     (TIDINGS_DEBUG=latency, the nick already chosen), and once the app
 *     has rejoined the channel on its embedded server (seen by another
 *     user there), opens it in the sidebar with xdotool and checks that
 *     by typing a line in the composer. Then three phases, each measured
 *     on its own (ResetLatencyStats): up: the scrollbar to the top, again
 *     and again, until the oldest line is shown and the view no longer
 *     changes (every page of the log loaded, each as the view reaches the
 *     top); down: the slider dragged back to the bottom through every
 *     line; live: CHAT_LIVE_RATE lines a second from CHAT_TALKERS other
 *     users while CHAT_TYPED_LINES lines are typed. Prints the longest
 *     main-loop stall and the worst p99 frame interval over the phases,
 *     and the process's peak RSS. Needs xdotool; TD_BENCH_SHOTS=DIR keeps
 *     screenshots (ImageMagick), TD_BENCH_PERF=DIR a `perf record` of each
 *     phase (TD_BENCH_PERF_CALLGRAPH=dwarf for call graphs through the
 *     system libraries), TD_BENCH_UP_SECONDS=N stops the climb after N s,
 *     TD_BENCH_DEBUG=1 prints what the other user reads.
 *
 *   app-driver make-db PATH ITEMS CHAT_LINES
 *     Only builds such a database (for profiling by hand).
 *
 * For looking at one part at a time, gui-stall takes TD_BENCH_FEEDS (how
 * many feeds), TD_BENCH_PUBLISH_RATE (messages per second, 0 for none),
 * TD_BENCH_VIEWS (the views to cycle through, comma-separated) and
 * TD_BENCH_STALL_SECONDS (a fixed length) from the environment; the
 * benchmark proper sets none of them.
 *
 * Result lines go to stdout (`NAME: tidings X UNIT, peer Y UNIT, ratio R`),
 * details to stderr.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <X11/Xlib.h>
#include <X11/Xutil.h>

#include "store/td-schema.h"

/* The figures. */
#define FEEDS              1000
#define ENTRIES_PER_FEED   50
#define PUBLISH_RATE       5000     /* messages per second */
#define STALL_SECONDS      30       /* the measured phase, at least */
#define STALL_MAX_SECONDS  120      /* ... and at most, if the import lags */
#define STALL_TARGET_MS    16.0     /* one frame at 60 Hz */
#define FRAME_TARGET_MS    16.7
#define COLD_ITEMS         100000
#define COLD_CHAT_LINES    100000
#define COLD_RUNS          5
#define COLD_TARGET_MS     300.0

/* Publishing happens in ticks; each tick sends rate/ticks messages in one
 * write, as a busy publisher pipelines. */
#define PUBLISH_TICKS_PER_SECOND 100
#define CHANNEL "bench-stall"

/* How long the app may take to come up and show its first frame. */
#define START_TIMEOUT_S 60

#define BUS_NAME  "io.github.tidings.Tidings"
#define BUS_PATH  "/io/github/tidings/Tidings"
#define BUS_IFACE "io.github.tidings.Tidings1"

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

/* What gui-stall runs with: FEEDS and PUBLISH_RATE unless the
 * environment says otherwise (see the top of the file). */
static guint n_feeds = FEEDS;
static guint publish_rate = PUBLISH_RATE;

static guint
env_uint (const char *name,
          guint       fallback)
{
  const char *value = g_getenv (name);

  return value != NULL ? (guint) g_ascii_strtoull (value, NULL, 10) : fallback;
}


static guint16
free_port (void)
{
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;

  if (!g_socket_bind (socket, any, TRUE, NULL))
    g_error ("cannot bind a port on 127.0.0.1");
  bound = g_socket_get_local_address (socket, NULL);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

static gboolean
port_answers (guint16 port)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) conn = g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, NULL);

  return conn != NULL;
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

static void
sleep_iterating (guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * 1000;

  while (g_get_monotonic_time () < end)
    {
      while (g_main_context_pending (NULL))
        g_main_context_iteration (NULL, FALSE);
      g_usleep (2000);
    }
}

static int
compare_double (gconstpointer a,
                gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

/* ------------------------------------------------------------------ */
/* The feed corpus: the same documents as tests/bench/feeds (RSS 2.0    */
/* and Atom 1.0 in turn, 50 entries, about 24 KB each)                 */
/* ------------------------------------------------------------------ */

static const char *words[] = {
  "feed", "reader", "gnome", "desktop", "release", "kernel", "parser", "network",
  "update", "thread", "window", "library", "benchmark", "server", "message", "storage",
};

static void
append_sentence (GString *s,
                 guint    seed,
                 guint    n_words)
{
  for (guint i = 0; i < n_words; i++)
    {
      g_string_append (s, words[(seed * 7 + i * 13) % G_N_ELEMENTS (words)]);
      g_string_append_c (s, i + 1 < n_words ? ' ' : '.');
    }
}

static char *
make_rss (guint doc)
{
  GString *s = g_string_new (NULL);

  g_string_append_printf (s,
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<rss version=\"2.0\" xmlns:content=\"http://purl.org/rss/1.0/modules/content/\" "
    "xmlns:dc=\"http://purl.org/dc/elements/1.1/\">\n"
    "<channel>\n<title>Site %u</title>\n<link>https://site%u.example/</link>\n"
    "<description>News from site %u</description>\n<language>en</language>\n"
    "<lastBuildDate>Mon, 01 Jan 2024 08:00:00 GMT</lastBuildDate>\n",
    doc, doc, doc);

  for (guint i = 0; i < ENTRIES_PER_FEED; i++)
    {
      g_string_append (s, "<item>\n<title>");
      append_sentence (s, doc + i, 6);
      g_string_append_printf (s, "</title>\n<link>https://site%u.example/posts/%u</link>\n"
                                 "<guid isPermaLink=\"false\">site%u-post-%u</guid>\n"
                                 "<pubDate>%s, %02u Jan 2024 %02u:%02u:00 +0100</pubDate>\n"
                                 "<dc:creator>Author %u</dc:creator>\n<category>cat%u</category>\n"
                                 "<description>&lt;p&gt;",
                              doc, i, doc, i, i % 2 ? "Tue" : "Wed", 1 + i % 28, i % 24, i % 60,
                              i % 5, i % 7);
      append_sentence (s, doc * 3 + i, 7);
      g_string_append (s, "&lt;/p&gt;</description>\n<content:encoded><![CDATA[<p>");
      append_sentence (s, doc * 5 + i, 6);
      g_string_append_printf (s, " <a href=\"/posts/%u/more\">more</a></p>]]></content:encoded>\n</item>\n", i);
    }

  g_string_append (s, "</channel>\n</rss>\n");
  return g_string_free (s, FALSE);
}

static char *
make_atom (guint doc)
{
  GString *s = g_string_new (NULL);

  g_string_append_printf (s,
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
    "<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"en\">\n"
    "<title>Blog %u</title>\n<subtitle>Notes from blog %u</subtitle>\n"
    "<link href=\"https://blog%u.example/\"/>\n"
    "<id>urn:blog:%u</id>\n<updated>2024-01-01T08:00:00Z</updated>\n"
    "<author><name>Blogger %u</name></author>\n",
    doc, doc, doc, doc, doc);

  for (guint i = 0; i < ENTRIES_PER_FEED; i++)
    {
      g_string_append (s, "<entry>\n<title>");
      append_sentence (s, doc + i, 6);
      g_string_append_printf (s, "</title>\n<link rel=\"alternate\" type=\"text/html\" href=\"https://blog%u.example/%u\"/>\n"
                                 "<id>urn:blog:%u:%u</id>\n<updated>2024-01-%02uT%02u:%02u:00Z</updated>\n"
                                 "<published>2024-01-%02uT08:00:00+01:00</published>\n"
                                 "<category term=\"cat%u\"/>\n<summary>",
                              doc, i, doc, i, 1 + i % 28, i % 24, i % 60, 1 + i % 28, i % 7);
      append_sentence (s, doc * 3 + i, 6);
      g_string_append (s, "</summary>\n<content type=\"html\">&lt;p&gt;");
      append_sentence (s, doc * 5 + i, 6);
      g_string_append_printf (s, " &lt;a href=\"/%u/more\"&gt;more&lt;/a&gt;&lt;/p&gt;</content>\n</entry>\n", i);
    }

  g_string_append (s, "</feed>\n");
  return g_string_free (s, FALSE);
}

/* ------------------------------------------------------------------ */
/* nginx                                                               */
/* ------------------------------------------------------------------ */

typedef struct
{
  char        *dir;
  guint16      port;
  GSubprocess *process;
} Nginx;

/* Writes FEEDS documents to @dir/www and serves them on a free port. */
static gboolean
nginx_start (Nginx      *n,
             const char *dir)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *www = g_build_filename (dir, "www", NULL);
  g_autofree char *tmp = g_build_filename (dir, "nginx-tmp", NULL);
  g_autofree char *conf = NULL;
  g_autofree char *conf_path = g_build_filename (dir, "nginx.conf", NULL);
  g_autofree char *nginx = g_find_program_in_path ("nginx");
  gint64 deadline;

  if (nginx == NULL && g_file_test ("/usr/sbin/nginx", G_FILE_TEST_IS_EXECUTABLE))
    nginx = g_strdup ("/usr/sbin/nginx");
  if (nginx == NULL)
    {
      fprintf (stderr, "gui-stall: needs nginx (apt-get install nginx-light)\n");
      return FALSE;
    }

  g_mkdir_with_parents (www, 0755);
  g_mkdir_with_parents (tmp, 0755);
  for (guint i = 0; i < n_feeds; i++)
    {
      g_autofree char *doc = i % 2 ? make_atom (i) : make_rss (i);
      g_autofree char *name = g_strdup_printf ("feed%04u.xml", i);
      g_autofree char *path = g_build_filename (www, name, NULL);

      if (!g_file_set_contents (path, doc, -1, &error))
        g_error ("%s", error->message);
    }

  n->dir = g_strdup (dir);
  n->port = free_port ();
  conf = g_strdup_printf ("%s"
                          "daemon off;\nworker_processes 1;\npid %s/nginx.pid;\nerror_log %s/nginx-error.log;\n"
                          "events { worker_connections 1024; }\n"
                          "http {\n  access_log off;\n  sendfile on;\n  keepalive_requests 100000;\n"
                          "  types { application/rss+xml xml; }\n"
                          "  client_body_temp_path %s/body;\n  proxy_temp_path %s/proxy;\n"
                          "  fastcgi_temp_path %s/fastcgi;\n  uwsgi_temp_path %s/uwsgi;\n"
                          "  scgi_temp_path %s/scgi;\n"
                          "  server { listen 127.0.0.1:%u; root %s; }\n}\n",
                          getuid () == 0 ? "user root;\n" : "",
                          dir, dir, tmp, tmp, tmp, tmp, tmp, n->port, www);
  g_file_set_contents (conf_path, conf, -1, NULL);

  n->process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error,
                                 nginx, "-p", dir, "-c", conf_path, "-e", "stderr", NULL);
  if (n->process == NULL)
    {
      fprintf (stderr, "gui-stall: nginx: %s\n", error->message);
      return FALSE;
    }

  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (!port_answers (n->port))
    {
      if (g_get_monotonic_time () > deadline)
        {
          fprintf (stderr, "gui-stall: nginx did not start (see %s/nginx-error.log)\n", dir);
          return FALSE;
        }
      g_usleep (20 * 1000);
    }
  return TRUE;
}

static void
nginx_stop (Nginx *n)
{
  if (n->process != NULL)
    {
      g_subprocess_send_signal (n->process, SIGTERM);
      g_subprocess_wait (n->process, NULL, NULL);
      g_clear_object (&n->process);
    }
  g_clear_pointer (&n->dir, g_free);
}

/* ------------------------------------------------------------------ */
/* Databases, with the app's own schema                                */
/* ------------------------------------------------------------------ */

static void
exec_or_die (sqlite3    *db,
             const char *sql)
{
  char *message = NULL;

  if (sqlite3_exec (db, sql, NULL, NULL, &message) != SQLITE_OK)
    g_error ("%s: %s", sql, message);
}

static sqlite3 *
open_app_db (const char *path)
{
  g_autoptr(GError) error = NULL;
  sqlite3 *db = NULL;

  if (sqlite3_open (path, &db) != SQLITE_OK)
    g_error ("cannot open %s", path);
  if (!td_schema_open (db, td_schema_app (), TD_SCHEMA_DEFAULT_BUSY_TIMEOUT_MS, &error))
    g_error ("%s: %s", path, error->message);
  return db;
}

static sqlite3_stmt *
prepare_or_die (sqlite3    *db,
                const char *sql)
{
  sqlite3_stmt *stmt = NULL;

  if (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) != SQLITE_OK)
    g_error ("%s: %s", sql, sqlite3_errmsg (db));
  return stmt;
}

static void
step_or_die (sqlite3      *db,
             sqlite3_stmt *stmt)
{
  if (sqlite3_step (stmt) != SQLITE_DONE)
    g_error ("%s", sqlite3_errmsg (db));
  sqlite3_reset (stmt);
}

/* A database in which the Pub/Sub view's built-in connection is
 * subscribed to CHANNEL: the view restores it on start, as it would the
 * user's own subscriptions; and, with @port, subscribed to @n_feeds feeds
 * served there, never fetched and not due for a day (start-up fetches
 * nothing; RefreshFeeds fetches them all, every item new). */
static void
make_stall_db (const char *path,
               guint16     port,
               guint       n)
{
  sqlite3 *db = open_app_db (path);
  sqlite3_stmt *feed = prepare_or_die (db, "INSERT INTO feeds (url, next_fetch) VALUES (?, ?)");

  for (guint i = 0; port != 0 && i < n; i++)
    {
      g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u/feed%04u.xml", port, i);

      sqlite3_bind_text (feed, 1, url, -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64 (feed, 2, g_get_real_time () + (gint64) 24 * 3600 * G_USEC_PER_SEC);
      step_or_die (db, feed);
    }
  sqlite3_finalize (feed);
  g_autofree char *sql = g_strdup_printf (
    "INSERT INTO pubsub_connections (name, protocol, host, port, tls, auto_connect, created)"
    " VALUES ('builtin', 'resp', '127.0.0.1', 6380, 0, 1, %" G_GINT64_FORMAT ");"
    "INSERT INTO pubsub_subscriptions (connection_id, topic, is_pattern, created)"
    " SELECT id, '" CHANNEL "', 0, %" G_GINT64_FORMAT " FROM pubsub_connections WHERE name = 'builtin';",
    g_get_real_time (), g_get_real_time ());

  exec_or_die (db, sql);
  sqlite3_close (db);
}

/* @n_items items spread over feeds of 1,000, and @n_lines chat lines
 * spread over ten joined channels of the local network. */
static void
make_big_db (const char *path,
             guint       n_items,
             guint       n_lines)
{
  sqlite3 *db = open_app_db (path);
  sqlite3_stmt *feed, *item, *line;
  gint64 now = g_get_real_time ();
  guint n_sites = MAX (1, (n_items + 999) / 1000);
  g_autoptr(GString) text = g_string_new (NULL);
  g_autoptr(GString) content = g_string_new (NULL);

  exec_or_die (db, "BEGIN");

  feed = prepare_or_die (db, "INSERT INTO feeds (url, title, site_link, last_fetch, next_fetch)"
                             " VALUES (?, ?, ?, ?, ?)");
  for (guint f = 0; f < n_sites; f++)
    {
      g_autofree char *url = g_strdup_printf ("http://127.0.0.1:9/feed%04u.xml", f);
      g_autofree char *title = g_strdup_printf ("Site %u", f);
      g_autofree char *site = g_strdup_printf ("https://site%u.example/", f);

      sqlite3_bind_text (feed, 1, url, -1, SQLITE_TRANSIENT);
      sqlite3_bind_text (feed, 2, title, -1, SQLITE_TRANSIENT);
      sqlite3_bind_text (feed, 3, site, -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64 (feed, 4, now);
      /* Not due for a day: start-up fetches nothing (port 9 is discard). */
      sqlite3_bind_int64 (feed, 5, now + (gint64) 24 * 3600 * G_USEC_PER_SEC);
      step_or_die (db, feed);
    }
  sqlite3_finalize (feed);

  item = prepare_or_die (db, "INSERT INTO items (feed_id, guid, title, link, author, published, updated,"
                             " summary, content, read, fetched_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  for (guint i = 0; i < n_items; i++)
    {
      guint f = i % n_sites;
      g_autofree char *guid = g_strdup_printf ("site%u-post-%u", f, i);
      g_autofree char *link = g_strdup_printf ("https://site%u.example/posts/%u", f, i);
      gint64 published = now - (gint64) (n_items - i) * 60 * G_USEC_PER_SEC;

      g_string_truncate (text, 0);
      append_sentence (text, i, 6);
      g_string_assign (content, "<p>");
      append_sentence (content, i * 5, 40);
      g_string_append (content, "</p>");
      sqlite3_bind_int64 (item, 1, f + 1);
      sqlite3_bind_text (item, 2, guid, -1, SQLITE_TRANSIENT);
      sqlite3_bind_text (item, 3, text->str, -1, SQLITE_TRANSIENT);
      sqlite3_bind_text (item, 4, link, -1, SQLITE_TRANSIENT);
      sqlite3_bind_text (item, 5, "Author", -1, SQLITE_STATIC);
      sqlite3_bind_int64 (item, 6, published);
      sqlite3_bind_int64 (item, 7, published);
      sqlite3_bind_text (item, 8, text->str, -1, SQLITE_TRANSIENT);
      sqlite3_bind_text (item, 9, content->str, -1, SQLITE_TRANSIENT);
      sqlite3_bind_int (item, 10, i % 3 == 0);
      sqlite3_bind_int64 (item, 11, published);
      step_or_die (db, item);
    }
  sqlite3_finalize (item);

  exec_or_die (db, "INSERT INTO chat_networks (name, host, port, tls, nick, created)"
                   " VALUES ('Tidings', '127.0.0.1', 0, 0, 'bench', 0)");
  for (guint c = 0; c < 10; c++)
    {
      g_autofree char *sql = g_strdup_printf ("INSERT INTO chat_buffers (network_id, name, kind, joined)"
                                              " VALUES (1, '#channel%u', 'channel', 1)", c);
      exec_or_die (db, sql);
    }
  line = prepare_or_die (db, "INSERT INTO chat_messages (network_id, buffer_id, msgid, time, sender, kind, text)"
                             " VALUES (1, ?, ?, ?, ?, 'privmsg', ?)");
  for (guint i = 0; i < n_lines; i++)
    {
      g_autofree char *msgid = g_strdup_printf ("m%u", i);
      g_autofree char *nick = g_strdup_printf ("nick%u", i % 37);

      g_string_truncate (text, 0);
      append_sentence (text, i * 3, 3 + i % 12);
      sqlite3_bind_int64 (line, 1, 1 + i % 10);
      sqlite3_bind_text (line, 2, msgid, -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64 (line, 3, now - (gint64) (n_lines - i) * G_USEC_PER_SEC);
      sqlite3_bind_text (line, 4, nick, -1, SQLITE_TRANSIENT);
      sqlite3_bind_text (line, 5, text->str, -1, SQLITE_TRANSIENT);
      step_or_die (db, line);
    }
  sqlite3_finalize (line);

  exec_or_die (db, "COMMIT");
  exec_or_die (db, "PRAGMA wal_checkpoint(TRUNCATE)");
  sqlite3_close (db);
}

/* ------------------------------------------------------------------ */
/* The app                                                             */
/* ------------------------------------------------------------------ */

typedef struct
{
  GSubprocess     *process;
  GDBusConnection *bus;
} App;

/* Starts @tidings with @debug and @db; stderr goes to @log, or to a pipe
 * when @log is NULL. */
static GSubprocess *
spawn_app (const char  *tidings,
           const char  *debug,
           const char  *db,
           const char  *log,
           GError     **error)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;

  launcher = g_subprocess_launcher_new (log ? G_SUBPROCESS_FLAGS_STDOUT_SILENCE
                                            : G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  if (log != NULL)
    g_subprocess_launcher_set_stderr_file_path (launcher, log);
  g_subprocess_launcher_setenv (launcher, "TIDINGS_DEBUG", debug, TRUE);
  g_subprocess_launcher_setenv (launcher, "TIDINGS_DB", db, TRUE);
  g_subprocess_launcher_setenv (launcher, "TIDINGS_LOCAL_PORTS", "any", TRUE);
  return g_subprocess_launcher_spawn (launcher, error, tidings, NULL);
}

static GVariant *
call (GDBusConnection *bus,
      const char      *iface,
      const char      *method,
      GVariant        *args,
      const char      *reply_type,
      GError         **error)
{
  return g_dbus_connection_call_sync (bus, BUS_NAME, BUS_PATH, iface, method, args,
                                      reply_type ? G_VARIANT_TYPE (reply_type) : NULL,
                                      G_DBUS_CALL_FLAGS_NO_AUTO_START, 60000, NULL, error);
}

/* Asks the app to show a view; the reply carries nothing. */
static void
show_view (GDBusConnection *bus,
           const char      *view)
{
  GVariant *reply = call (bus, BUS_IFACE, "ShowView", g_variant_new ("(s)", view), NULL, NULL);

  g_clear_pointer (&reply, g_variant_unref);
}

static GVariant *
latency_stats (GDBusConnection *bus)
{
  g_autoptr(GError) error = NULL;
  GVariant *reply = call (bus, BUS_IFACE, "GetLatencyStats", NULL, "(a{sd}at)", &error);
  GVariant *dict;

  if (reply == NULL)
    return NULL;
  dict = g_variant_get_child_value (reply, 0);
  g_variant_unref (reply);
  return dict;
}

static double
stat_of (GVariant   *dict,
      const char *key)
{
  double value = 0;

  g_variant_lookup (dict, key, "d", &value);
  return value;
}

/* The embedded server's port for @service ("pubsub", "chat"), 0 if the
 * app does not say. */
static guint16
local_port (GDBusConnection *bus,
            const char      *service)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) ports = NULL;
  guint16 port = 0;

  reply = call (bus, "org.freedesktop.DBus.Properties", "Get",
                g_variant_new ("(ss)", BUS_IFACE, "LocalServerPorts"), "(v)", NULL);
  if (reply == NULL)
    return 0;
  g_variant_get (reply, "(v)", &ports);
  g_variant_lookup (ports, service, "q", &port);
  return port;
}

static void
quit_app (App *app)
{
  if (app->bus != NULL)
    g_dbus_connection_call_sync (app->bus, BUS_NAME, BUS_PATH, "org.gtk.Actions", "Activate",
                                 g_variant_new ("(sava{sv})", "quit", NULL, NULL), NULL,
                                 G_DBUS_CALL_FLAGS_NO_AUTO_START, 10000, NULL, NULL);
  if (app->process != NULL)
    {
      gint64 deadline = g_get_monotonic_time () + 15 * G_USEC_PER_SEC;

      while (g_subprocess_get_identifier (app->process) != NULL && g_get_monotonic_time () < deadline)
        sleep_iterating (50);
      if (g_subprocess_get_identifier (app->process) != NULL)
        {
          g_subprocess_send_signal (app->process, SIGKILL);
          g_subprocess_wait (app->process, NULL, NULL);
        }
      g_clear_object (&app->process);
    }
}

/* Waits until the app answers on the bus and has drawn its window. */
static gboolean
wait_for_window (App *app)
{
  gint64 deadline = g_get_monotonic_time () + START_TIMEOUT_S * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < deadline)
    {
      g_autoptr(GVariant) stats = latency_stats (app->bus);

      if (stats != NULL && stat_of (stats, "first-frame-ms") > 0)
        return TRUE;
      if (g_subprocess_get_identifier (app->process) == NULL)
        return FALSE;
      sleep_iterating (50);
    }
  return FALSE;
}

/* ------------------------------------------------------------------ */
/* The publisher: PUBLISH_RATE messages per second, on its own thread  */
/* ------------------------------------------------------------------ */

typedef struct
{
  guint16        port;
  gint           stop;          /* atomic */
  gint           measuring;     /* atomic: from here on, count and pace */
  guint64        sent;
  guint64        delivered;     /* the sum of the receiver counts */
  guint64        late_ticks;    /* ticks that could not keep the pace */
  gint           subscribed;    /* atomic: a PUBLISH reached a subscriber */
  char          *error;
} Publisher;

/* Reads replies until @n integers were read; adds them up. */
static gboolean
read_replies (GSocket  *socket,
              guint     n,
              guint64  *receivers,
              GString  *pending,
              GError  **error)
{
  char buf[16384];

  while (n > 0)
    {
      char *eol;
      gssize got;

      while (n > 0 && (eol = strstr (pending->str, "\r\n")) != NULL)
        {
          if (pending->str[0] != ':')
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "unexpected reply: %.*s",
                           (int) (eol - pending->str), pending->str);
              return FALSE;
            }
          *receivers += g_ascii_strtoull (pending->str + 1, NULL, 10);
          g_string_erase (pending, 0, eol + 2 - pending->str);
          n--;
        }
      if (n == 0)
        break;
      got = g_socket_receive (socket, buf, sizeof buf, NULL, error);
      if (got <= 0)
        {
          if (got == 0)
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "the broker closed the connection");
          return FALSE;
        }
      g_string_append_len (pending, buf, got);
    }
  return TRUE;
}

static gboolean
send_all (GSocket  *socket,
          GString  *out,
          GError  **error)
{
  gsize done = 0;

  while (done < out->len)
    {
      gssize w = g_socket_send (socket, out->str + done, out->len - done, NULL, error);

      if (w < 0)
        return FALSE;
      done += w;
    }
  return TRUE;
}

static gpointer
publisher_thread (gpointer data)
{
  Publisher *p = data;
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) conn = NULL;
  g_autoptr(GString) out = g_string_new (NULL);
  g_autoptr(GString) pending = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  const guint per_tick = publish_rate / PUBLISH_TICKS_PER_SECOND;
  const gint64 tick_us = G_USEC_PER_SEC / PUBLISH_TICKS_PER_SECOND;
  GSocket *socket;
  gint64 next = 0;
  guint64 seq = 0;

  conn = g_socket_client_connect_to_host (client, "127.0.0.1", p->port, NULL, &error);
  if (conn == NULL)
    goto out;
  socket = g_socket_connection_get_socket (conn);

  while (!g_atomic_int_get (&p->stop))
    {
      gboolean measuring = g_atomic_int_get (&p->measuring);
      guint n = measuring ? per_tick : 1;
      guint64 receivers = 0;
      gint64 now;

      g_string_truncate (out, 0);
      for (guint i = 0; i < n; i++)
        {
          g_autofree char *payload = g_strdup_printf ("message %08" G_GUINT64_FORMAT " from the gui-stall publisher, t=%" G_GINT64_FORMAT,
                                                      seq++, g_get_real_time ());

          g_string_append_printf (out, "*3\r\n$7\r\nPUBLISH\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n",
                                  strlen (CHANNEL), CHANNEL, strlen (payload), payload);
        }
      if (n > 0 && (!send_all (socket, out, &error) ||
                    !read_replies (socket, n, &receivers, pending, &error)))
        goto out;
      if (receivers > 0)
        g_atomic_int_set (&p->subscribed, 1);
      if (measuring)
        {
          p->sent += n;
          p->delivered += receivers;
        }

      /* Absolute deadlines: a late tick is followed by an early one, so
       * the rate holds on average. */
      now = g_get_monotonic_time ();
      if (!measuring || next == 0)
        next = now;
      next += measuring ? tick_us : 20000;
      if (next > now)
        g_usleep (next - now);
      else if (measuring && now - next > tick_us)
        p->late_ticks++;
    }

out:
  if (error != NULL)
    p->error = g_strdup (error->message);
  return NULL;
}

/* ------------------------------------------------------------------ */
/* gui-stall                                                           */
/* ------------------------------------------------------------------ */

/* AddFeed calls in flight at once: below dbus-daemon's default limit on
 * pending replies per connection (128). */
#define ADD_FEED_WINDOW 32

typedef struct
{
  GDBusConnection *bus;
  guint16          nginx_port;
  guint            issued;
  guint            answered;
  guint            failed;
  char            *first_error;
  gint64           all_answered_us;
} Import;

static void add_next_feeds (Import *import);

static void
add_feed_cb (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Import *import = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);

  import->answered++;
  if (reply == NULL)
    {
      import->failed++;
      if (import->first_error == NULL)
        import->first_error = g_strdup (error->message);
    }
  if (import->answered == n_feeds)
    import->all_answered_us = g_get_monotonic_time ();
  add_next_feeds (import);
}

static void
add_next_feeds (Import *import)
{
  while (import->issued < n_feeds && import->issued - import->answered < ADD_FEED_WINDOW)
    {
      g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u/feed%04u.xml",
                                              import->nginx_port, import->issued);

      import->issued++;
      g_dbus_connection_call (import->bus, BUS_NAME, BUS_PATH, BUS_IFACE, "AddFeed",
                              g_variant_new ("(s)", url), G_VARIANT_TYPE ("(x)"),
                              G_DBUS_CALL_FLAGS_NO_AUTO_START, 120000, NULL, add_feed_cb, import);
    }
}

/* The probe's longest stalls and when they began, then the line's end. */
static void
print_worst_stalls (GVariant *stats)
{
  for (guint i = 1; i <= 8; i++)
    {
      g_autofree char *ms = g_strdup_printf ("worst-%u-ms", i);
      g_autofree char *at = g_strdup_printf ("worst-%u-at-ms", i);

      if (stat_of (stats, ms) > 0)
        fprintf (stderr, " %.1f@%.0f", stat_of (stats, ms), stat_of (stats, at));
    }
  fprintf (stderr, "\n");
}

static void
print_stats (const char *phase,
             GVariant   *stats)
{
  fprintf (stderr, "gui-stall %s: stall max %.1f ms p99 %.1f ms; timer late max %.1f ms p99 %.1f ms;"
                   " frames %.0f, interval max %.1f ms p99 %.1f ms; longest stalls (ms@ms):",
           phase, stat_of (stats, "stall-max-ms"), stat_of (stats, "stall-p99-ms"),
           stat_of (stats, "timer-late-max-ms"), stat_of (stats, "timer-late-p99-ms"),
           stat_of (stats, "frames"), stat_of (stats, "frame-max-ms"), stat_of (stats, "frame-p99-ms"));
  print_worst_stalls (stats);
}

/* The app as a returning user has it: the nick was chosen at an earlier
 * start, so the Chat view connects and shows its log instead of asking,
 * and the window opens on @view, the one the user left it on. Settings go
 * to a key file (the memory backend bench-app sets would start empty);
 * the app inherits GSETTINGS_BACKEND. */
static void
returning_user (const char *view)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *settings_dir = g_build_filename (g_get_user_config_dir (), "glib-2.0", "settings", NULL);
  g_autofree char *keyfile = g_build_filename (settings_dir, "keyfile", NULL);
  g_autofree char *contents = g_strdup_printf ("[io/github/tidings/Tidings]\nchat-nick='bench'\nlast-view='%s'\n", view);

  g_mkdir_with_parents (settings_dir, 0700);
  if (!g_file_set_contents (keyfile, contents, -1, &error))
    g_error ("%s", error->message);
  g_setenv ("GSETTINGS_BACKEND", "keyfile", TRUE);
}

static gboolean
bench_gui_stall (const char *tidings)
{
  g_auto(GStrv) views = g_strsplit (g_getenv ("TD_BENCH_VIEWS") ? g_getenv ("TD_BENCH_VIEWS") : "pubsub,chat,feeds",
                                    ",", -1);
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("bench-gui-stall-XXXXXX", &error);
  g_autofree char *db = g_build_filename (dir, "tidings.db", NULL);
  g_autofree char *log = g_build_filename (dir, "tidings.log", NULL);
  g_autoptr(GVariant) startup = NULL;
  g_autoptr(GVariant) stats = NULL;
  g_autoptr(GVariant) unread = NULL;
  g_autoptr(GVariant) reset = NULL;
  Nginx nginx = { 0 };
  App app = { 0 };
  Publisher publisher = { 0 };
  Import import = { 0 };
  GThread *thread = NULL;
  gboolean ok = FALSE;
  gint64 start, deadline, next_switch, refreshed_us = 0, refreshed_done_us = 0, next_count = 0;
  gboolean add_feeds;
  guint n_switches = 0;
  double seconds;
  /* Shorter or longer runs, for profiling by hand. */
  gint64 min_us = (g_getenv ("TD_BENCH_STALL_SECONDS") ? g_ascii_strtoll (g_getenv ("TD_BENCH_STALL_SECONDS"), NULL, 10)
                                                      : STALL_SECONDS) * G_USEC_PER_SEC;
  gint64 max_us = MAX (min_us, STALL_MAX_SECONDS * G_USEC_PER_SEC);

  n_feeds = env_uint ("TD_BENCH_FEEDS", FEEDS);
  publish_rate = env_uint ("TD_BENCH_PUBLISH_RATE", PUBLISH_RATE);
  if (!nginx_start (&nginx, dir))
    goto out;
  /* The feeds are in the database (as after an OPML import), or with
   * TD_BENCH_IMPORT=addfeed added over D-Bus during the measured phase
   * (AddFeed fetches each as it goes). */
  add_feeds = g_strcmp0 (g_getenv ("TD_BENCH_IMPORT"), "addfeed") == 0;
  make_stall_db (db, add_feeds ? 0 : nginx.port, n_feeds);

  app.bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  g_assert_no_error (error);
  /* The Feeds view is open when the run begins. */
  returning_user ("feeds");
  app.process = spawn_app (tidings, "latency", db, log, &error);
  if (app.process == NULL)
    {
      fprintf (stderr, "gui-stall: %s\n", error->message);
      goto out;
    }
  if (!wait_for_window (&app))
    {
      fprintf (stderr, "gui-stall: the app did not show its window (see %s)\n", log);
      goto out;
    }

  /* The Pub/Sub view subscribes once the embedded broker is up and the
   * database is read; a PUBLISH that reaches one receiver says so. */
  deadline = g_get_monotonic_time () + START_TIMEOUT_S * G_USEC_PER_SEC;
  while ((publisher.port = local_port (app.bus, "pubsub")) == 0 && g_get_monotonic_time () < deadline)
    sleep_iterating (50);
  if (publisher.port == 0)
    {
      fprintf (stderr, "gui-stall: the embedded broker did not start\n");
      goto out;
    }
  thread = g_thread_new ("publisher", publisher_thread, &publisher);
  while (!g_atomic_int_get (&publisher.subscribed) && publisher.error == NULL &&
         g_get_monotonic_time () < deadline)
    sleep_iterating (50);
  if (!g_atomic_int_get (&publisher.subscribed))
    {
      fprintf (stderr, "gui-stall: the Pub/Sub view did not subscribe to %s (%s)\n",
               CHANNEL, publisher.error ? publisher.error : "no receiver");
      goto out;
    }

  /* Start-up, for the record; the measured phase begins now. */
  sleep_iterating (1000);
  startup = latency_stats (app.bus);
  if (startup != NULL)
    print_stats ("start-up", startup);
  /* For matching the stalls' times (ms after the reset) with a profile
   * recorded with CLOCK_MONOTONIC timestamps (perf record -k mono). */
  g_printerr ("gui-stall: probe reset at monotonic %.3f s\n", g_get_monotonic_time () / (double) G_USEC_PER_SEC);
  reset = call (app.bus, BUS_IFACE, "ResetLatencyStats", NULL, NULL, &error);
  if (reset == NULL)
    {
      fprintf (stderr, "gui-stall: %s\n", error->message);
      goto out;
    }

  start = g_get_monotonic_time ();
  g_atomic_int_set (&publisher.measuring, 1);
  import.bus = app.bus;
  import.nginx_port = nginx.port;
  if (add_feeds)
    add_next_feeds (&import);
  else
    {
      import.issued = import.answered = n_feeds;
      import.all_answered_us = start;
    }
  next_switch = start + G_USEC_PER_SEC;

  for (;;)
    {
      gint64 now = g_get_monotonic_time ();

      if (now >= next_switch)
        {
          show_view (app.bus, views[n_switches % g_strv_length (views)]);
          n_switches++;
          next_switch += G_USEC_PER_SEC;
        }
      if (import.answered == n_feeds && refreshed_us == 0)
        {
          g_autoptr(GVariant) reply = call (app.bus, BUS_IFACE, "RefreshFeeds",
                                            g_variant_new ("(@ax)", g_variant_new_array (G_VARIANT_TYPE_INT64, NULL, 0)),
                                            NULL, &error);
          if (reply == NULL)
            {
              fprintf (stderr, "gui-stall: RefreshFeeds: %s\n", error->message);
              goto out;
            }
          refreshed_us = now;
        }
      /* Every item in: the refresh is done. */
      if (refreshed_us != 0 && refreshed_done_us == 0 && now >= next_count)
        {
          g_autoptr(GVariant) counts = call (app.bus, BUS_IFACE, "GetUnreadCounts", NULL, "(a{su})", NULL);
          g_autoptr(GVariant) dict = counts ? g_variant_get_child_value (counts, 0) : NULL;
          guint32 n_unread = 0;

          if (dict != NULL && g_variant_lookup (dict, "feeds", "u", &n_unread) &&
              n_unread >= n_feeds * ENTRIES_PER_FEED)
            refreshed_done_us = now;
          next_count = now + G_USEC_PER_SEC;
        }
      /* At least STALL_SECONDS, and the whole refresh. */
      if (now - start >= min_us && refreshed_done_us != 0)
        break;
      if (now - start >= max_us || (g_getenv ("TD_BENCH_STALL_SECONDS") && now - start >= min_us))
        break;
      if (g_subprocess_get_identifier (app.process) == NULL || publisher.error != NULL)
        break;
      sleep_iterating (5);
    }

  stats = latency_stats (app.bus);
  seconds = (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC;
  g_atomic_int_set (&publisher.stop, 1);
  g_thread_join (g_steal_pointer (&thread));
  unread = call (app.bus, BUS_IFACE, "GetUnreadCounts", NULL, "(a{su})", NULL);

  if (stats == NULL)
    {
      fprintf (stderr, "gui-stall: the app went away (see %s)\n", log);
      goto out;
    }
  if (publisher.error != NULL)
    fprintf (stderr, "gui-stall: publisher: %s\n", publisher.error);
  fprintf (stderr, "gui-stall: %.1f s measured; %" G_GUINT64_FORMAT " messages published (%.0f/s, %"
                   G_GUINT64_FORMAT " delivered, %" G_GUINT64_FORMAT " late ticks); %u feeds added"
                   " (%u failed%s%s) in %.1f s; refresh of all at %.1f s, done at %.1f s; %u view switches\n",
           seconds, publisher.sent, publisher.sent / seconds, publisher.delivered, publisher.late_ticks,
           import.answered, import.failed, import.first_error ? ": " : "",
           import.first_error ? import.first_error : "",
           import.all_answered_us ? (import.all_answered_us - start) / 1e6 : -1.0,
           refreshed_us ? (refreshed_us - start) / 1e6 : -1.0,
           refreshed_done_us ? (refreshed_done_us - start) / 1e6 : -1.0, n_switches);
  if (unread != NULL)
    {
      g_autofree char *text = g_variant_print (unread, FALSE);
      fprintf (stderr, "gui-stall: unread counts %s\n", text);
    }
  print_stats ("measured", stats);

  printf ("gui-stall: tidings %.1f ms, peer %.0f ms, ratio %.2f\n",
          stat_of (stats, "stall-max-ms"), STALL_TARGET_MS, stat_of (stats, "stall-max-ms") / STALL_TARGET_MS);
  printf ("gui-frame-p99: tidings %.1f ms, peer %.1f ms, ratio %.2f\n",
          stat_of (stats, "frame-p99-ms"), FRAME_TARGET_MS, stat_of (stats, "frame-p99-ms") / FRAME_TARGET_MS);
  fflush (stdout);
  ok = import.failed == 0 && publisher.error == NULL && refreshed_done_us != 0;

out:
  if (thread != NULL)
    {
      g_atomic_int_set (&publisher.stop, 1);
      g_thread_join (thread);
    }
  quit_app (&app);
  g_clear_object (&app.bus);
  nginx_stop (&nginx);
  if (g_getenv ("TD_BENCH_KEEP") != NULL)
    fprintf (stderr, "gui-stall: kept %s\n", dir);
  else
    remove_tree (dir);
  g_free (publisher.error);
  g_free (import.first_error);
  return ok;
}

/* ------------------------------------------------------------------ */
/* cold-start                                                          */
/* ------------------------------------------------------------------ */

/* Execs the app and returns the ms from just before the exec to its
 * first frame, or a negative number on failure. */
static double
cold_start_once (const char *tidings,
                 const char *db,
                 GDBusConnection *bus)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDataInputStream) in = NULL;
  App app = { 0 };
  gint64 exec_us, frame_us = 0;
  char *line;

  exec_us = g_get_monotonic_time ();
  app.process = spawn_app (tidings, "first-frame", db, NULL, &error);
  if (app.process == NULL)
    {
      fprintf (stderr, "cold-start: %s\n", error->message);
      return -1;
    }

  /* The app prints nothing else that matters on stderr; read until the
   * mark or the end (a crash). */
  in = g_data_input_stream_new (g_subprocess_get_stderr_pipe (app.process));
  while ((line = g_data_input_stream_read_line (in, NULL, NULL, NULL)) != NULL)
    {
      gboolean found = sscanf (line, "first-frame: %" G_GINT64_FORMAT " us", &frame_us) == 1;

      if (!found)
        fprintf (stderr, "cold-start: app: %s\n", line);
      g_free (line);
      if (found)
        break;
    }

  app.bus = bus;
  quit_app (&app);
  if (frame_us == 0)
    return -1;
  return (frame_us - exec_us) / 1000.0;
}

static gboolean
bench_cold_start (const char *tidings)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("bench-cold-start-XXXXXX", &error);
  g_autofree char *db = g_build_filename (dir, "tidings.db", NULL);
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  double runs[COLD_RUNS];
  gint64 made;

  g_assert_no_error (error);
  returning_user ("chat");
  made = g_get_monotonic_time ();
  make_big_db (db, COLD_ITEMS, COLD_CHAT_LINES);
  fprintf (stderr, "cold-start: database of %u items and %u chat lines made in %.1f s\n",
           COLD_ITEMS, COLD_CHAT_LINES, (g_get_monotonic_time () - made) / 1e6);

  for (guint i = 0; i < COLD_RUNS; i++)
    {
      runs[i] = cold_start_once (tidings, db, bus);
      if (runs[i] < 0)
        {
          fprintf (stderr, "cold-start: no first frame in run %u\n", i + 1);
          remove_tree (dir);
          return FALSE;
        }
    }
  fprintf (stderr, "cold-start: runs (ms):");
  for (guint i = 0; i < COLD_RUNS; i++)
    fprintf (stderr, " %.0f", runs[i]);
  fprintf (stderr, "\n");
  qsort (runs, COLD_RUNS, sizeof (double), compare_double);

  printf ("cold-start: tidings %.0f ms, peer %.0f ms, ratio %.2f\n",
          runs[COLD_RUNS / 2], COLD_TARGET_MS, runs[COLD_RUNS / 2] / COLD_TARGET_MS);
  fflush (stdout);
  remove_tree (dir);
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* chat-lines                                                          */
/* ------------------------------------------------------------------ */

/* The channel and its log. */
#define CHAT_CHANNEL       "#big"
#define CHAT_LINES         100000
/* Lines per page of older lines, as TD_CHAT_LOG_OLDER_PAGE in
 * src/app/td-chat-view.h (which needs GTK). */
#define CHAT_OLDER_PAGE    1000
/* Live traffic in the measured phase: a busy channel, and the user typing
 * a line now and then. */
#define CHAT_LIVE_SECONDS  10
#define CHAT_LIVE_RATE     30       /* lines per second from other users */
#define CHAT_TALKERS       20       /* ... spread over this many, each under the
                                     * server's flood limit of 2 lines/s */
#define CHAT_TYPED_LINES   5
/* Scrolling up: a jump to the top asks for the next page of the log; the
 * view is taken to be at the very top when it no longer changes after a
 * jump, this many times in a row, each waited for this long. */
#define CHAT_TOP_STILL     4
#define CHAT_JUMP_WAIT_MS  600
/* Dragging the scrollbar from the top back to the bottom: steps, and the
 * pause between them (about 60 motion events a second, as a hand). */
#define CHAT_DRAG_STEPS    180
#define CHAT_DRAG_STEP_MS  16

/* The layout the driver clicks on, from ui/td-chat-view.ui and the
 * window's default size: offsets inside the window. */
#define CHAT_ROW_X          120     /* the first channel of the sidebar */
#define CHAT_ROW_Y          160
#define CHAT_MEMBERS_DX     29      /* the members toggle, from the right */
#define CHAT_HEADER_Y       75
#define CHAT_LIST_LEFT      240     /* the message list */
#define CHAT_LIST_TOP       100
#define CHAT_LIST_BOTTOM_DY 75      /* from the bottom: the composer is below */
#define CHAT_SCROLLBAR_DX   9       /* the scrollbar, from the right */
#define CHAT_COMPOSER_DY    38

/* A database whose local network has one joined channel with @n_lines
 * lines, one a second, the oldest saying so. */
static void
make_chat_db (const char *path,
              guint       n_lines)
{
  sqlite3 *db = open_app_db (path);
  sqlite3_stmt *line;
  gint64 now = g_get_real_time ();
  g_autoptr(GString) text = g_string_new (NULL);

  exec_or_die (db, "BEGIN");
  exec_or_die (db, "INSERT INTO chat_networks (name, host, port, tls, nick, created)"
                   " VALUES ('Tidings', '127.0.0.1', 0, 0, 'bench', 0)");
  exec_or_die (db, "INSERT INTO chat_buffers (network_id, name, kind, joined)"
                   " VALUES (1, '" CHAT_CHANNEL "', 'channel', 1)");
  line = prepare_or_die (db, "INSERT INTO chat_messages (network_id, buffer_id, msgid, time, sender, kind, text)"
                             " VALUES (1, 1, ?, ?, ?, 'privmsg', ?)");
  for (guint i = 0; i < n_lines; i++)
    {
      g_autofree char *msgid = g_strdup_printf ("m%u", i);
      g_autofree char *nick = g_strdup_printf ("nick%u", i % 37);

      g_string_truncate (text, 0);
      if (i == 0)
        g_string_append (text, "the first line of the log");
      else
        append_sentence (text, i * 3, 3 + i % 12);
      sqlite3_bind_text (line, 1, msgid, -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64 (line, 2, now - (gint64) (n_lines - i) * G_USEC_PER_SEC);
      sqlite3_bind_text (line, 3, nick, -1, SQLITE_TRANSIENT);
      sqlite3_bind_text (line, 4, text->str, -1, SQLITE_TRANSIENT);
      step_or_die (db, line);
    }
  sqlite3_finalize (line);
  exec_or_die (db, "COMMIT");
  exec_or_die (db, "PRAGMA wal_checkpoint(TRUNCATE)");
  sqlite3_close (db);
}

/* Runs xdotool with @args (NULL-terminated); returns its stdout. */
static char *
xdotool (const char *first,
         ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  char *out = NULL;
  int status = 0;
  va_list args;

  g_ptr_array_add (argv, (gpointer) "xdotool");
  va_start (args, first);
  for (const char *arg = first; arg != NULL; arg = va_arg (args, const char *))
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);
  if (!g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                     NULL, NULL, &out, NULL, &status, &error))
    g_error ("xdotool: %s", error->message);
  return out;
}

static void
xdo_click (int x,
           int y)
{
  g_autofree char *xs = g_strdup_printf ("%d", x);
  g_autofree char *ys = g_strdup_printf ("%d", y);

  g_free (xdotool ("mousemove", xs, ys, "click", "1", NULL));
}

static void
xdo_move (int x,
          int y)
{
  g_autofree char *xs = g_strdup_printf ("%d", x);
  g_autofree char *ys = g_strdup_printf ("%d", y);

  g_free (xdotool ("mousemove", xs, ys, NULL));
}

typedef struct
{
  int x, y, width, height;
} Geometry;

/* The app's main window: its biggest visible one. */
static gboolean
find_window (GPid      pid,
             Geometry *geometry)
{
  g_autofree char *pid_s = g_strdup_printf ("%d", (int) pid);
  g_autofree char *ids = xdotool ("search", "--onlyvisible", "--pid", pid_s, NULL);
  g_auto(GStrv) lines = g_strsplit (ids ? ids : "", "\n", -1);
  int best = 0;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autofree char *shell = NULL;
      Geometry g = { 0 };

      if (lines[i][0] == '\0')
        continue;
      shell = xdotool ("getwindowgeometry", "--shell", lines[i], NULL);
      sscanf (strstr (shell, "X=") ? strstr (shell, "X=") : "", "X=%d", &g.x);
      sscanf (strstr (shell, "Y=") ? strstr (shell, "Y=") : "", "Y=%d", &g.y);
      sscanf (strstr (shell, "WIDTH=") ? strstr (shell, "WIDTH=") : "", "WIDTH=%d", &g.width);
      sscanf (strstr (shell, "HEIGHT=") ? strstr (shell, "HEIGHT=") : "", "HEIGHT=%d", &g.height);
      if (g.width * g.height > best)
        {
          best = g.width * g.height;
          *geometry = g;
        }
    }
  return best > 0;
}

/* A hash of what the screen shows in a rectangle. */
static guint64
screen_hash (Display *display,
             int      x,
             int      y,
             int      width,
             int      height)
{
  XImage *image = XGetImage (display, DefaultRootWindow (display), x, y, width, height, AllPlanes, ZPixmap);
  guint64 hash = 14695981039346656037ull;

  if (image == NULL)
    return 0;
  for (int row = 0; row < height; row++)
    {
      const guchar *p = (const guchar *) image->data + (gsize) row * image->bytes_per_line;

      for (int i = 0; i < width * image->bits_per_pixel / 8; i++)
        hash = (hash ^ p[i]) * 1099511628211ull;
    }
  XDestroyImage (image);
  return hash;
}

/* With TD_BENCH_SHOTS=DIR, a screenshot DIR/NAME.png (for checking by
 * eye what the driver clicked; needs ImageMagick's import). */
static void
screenshot (const char *name)
{
  const char *dir = g_getenv ("TD_BENCH_SHOTS");
  g_autofree char *path = NULL;
  g_autofree char *cmd = NULL;

  if (dir == NULL)
    return;
  path = g_strdup_printf ("%s/%s.png", dir, name);
  cmd = g_strdup_printf ("import -window root '%s'", path);
  if (system (cmd) != 0)
    fprintf (stderr, "chat-lines: no screenshot %s\n", path);
}

/* Memory of @pid in KiB: resident, its peak, and the anonymous part
 * (the app's own heap and stacks; the rest is mostly shared libraries,
 * Mesa's LLVM among them under Xvfb). */
typedef struct
{
  guint64 rss;
  guint64 peak;
  guint64 anon;
} Rss;

static Rss
read_rss (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/status", (int) pid);
  g_autofree char *text = NULL;
  Rss rss = { 0 };
  const char *p;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return rss;
  if ((p = strstr (text, "VmRSS:")) != NULL)
    rss.rss = g_ascii_strtoull (p + 6, NULL, 10);
  if ((p = strstr (text, "VmHWM:")) != NULL)
    rss.peak = g_ascii_strtoull (p + 6, NULL, 10);
  if ((p = strstr (text, "RssAnon:")) != NULL)
    rss.anon = g_ascii_strtoull (p + 8, NULL, 10);
  return rss;
}

/* Other users in the channel, on the app's embedded IRC server: one
 * listens (says when the app has joined, counts the lines the app sends
 * there), CHAT_TALKERS send CHAT_LIVE_RATE lines a second between them
 * while told to. */
typedef struct
{
  guint16  port;
  gint     stop;          /* atomic */
  gint     sending;       /* atomic */
  gint     app_joined;    /* atomic */
  gint     app_lines;     /* atomic: PRIVMSGs from the app to the channel */
  guint64  sent;
  char    *error;
} ChatPeer;

static gboolean
peer_send (GSocket     *socket,
           const char  *text,
           GError     **error)
{
  g_autoptr(GString) out = g_string_new (text);

  return send_all (socket, out, error);
}

/* Connects as @nick and joins the channel. */
static GSocketConnection *
peer_connect (guint16      port,
              const char  *nick,
              GError     **error)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketConnection) connection = NULL;
  g_autofree char *hello = g_strdup_printf ("NICK %s\r\nUSER %s 0 * :bench\r\nJOIN " CHAT_CHANNEL "\r\n", nick, nick);

  connection = g_socket_client_connect_to_host (client, "127.0.0.1", port, NULL, error);
  if (connection == NULL || !peer_send (g_socket_connection_get_socket (connection), hello, error))
    return NULL;
  return g_steal_pointer (&connection);
}

/* Reads what is there on @socket without waiting; answers PING. Returns
 * the complete lines read, or NULL on error. */
static GPtrArray *
peer_read (GSocket  *socket,
           GString  *in,
           guint     wait_ms,
           GError  **error)
{
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
  char *eol;

  while (g_socket_condition_timed_wait (socket, G_IO_IN, (gint64) wait_ms * 1000, NULL, NULL))
    {
      char buf[16384];
      gssize got = g_socket_receive (socket, buf, sizeof buf, NULL, error);

      if (got <= 0)
        {
          if (got == 0)
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "the server closed the connection");
          return NULL;
        }
      g_string_append_len (in, buf, got);
      wait_ms = 0;
    }
  while ((eol = strstr (in->str, "\r\n")) != NULL)
    {
      char *line = g_strndup (in->str, eol - in->str);
      const char *cmd = line[0] == '@' ? strchr (line, ' ') : NULL;

      g_string_erase (in, 0, eol + 2 - in->str);
      cmd = cmd ? cmd + 1 : line;
      if (g_str_has_prefix (cmd, "PING "))
        {
          g_autofree char *pong = g_strdup_printf ("PONG %s\r\n", cmd + 5);

          if (!peer_send (socket, pong, error))
            {
              g_free (line);
              return NULL;
            }
        }
      g_ptr_array_add (lines, line);
    }
  return g_steal_pointer (&lines);
}

static void
string_free (gpointer string)
{
  g_string_free (string, TRUE);
}

static gpointer
chat_peer_thread (gpointer data)
{
  ChatPeer *peer = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketConnection) listener = NULL;
  g_autoptr(GPtrArray) talkers = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) talker_in = g_ptr_array_new_with_free_func (string_free);
  g_autoptr(GString) in = g_string_new (NULL);
  g_autoptr(GString) out = g_string_new (NULL);
  gint64 next = 0;
  guint tick = 0;

  listener = peer_connect (peer->port, "benchpeer", &error);
  if (listener == NULL)
    goto fail;
  for (guint i = 0; i < CHAT_TALKERS; i++)
    {
      g_autofree char *nick = g_strdup_printf ("talker%u", i);
      GSocketConnection *talker = peer_connect (peer->port, nick, &error);

      if (talker == NULL)
        goto fail;
      g_ptr_array_add (talkers, talker);
      g_ptr_array_add (talker_in, g_string_new (NULL));
    }

  while (!g_atomic_int_get (&peer->stop))
    {
      g_autoptr(GPtrArray) lines = peer_read (g_socket_connection_get_socket (listener), in, 5, &error);
      gint64 now = g_get_monotonic_time ();

      if (lines == NULL)
        goto fail;
      for (guint i = 0; i < lines->len; i++)
        {
          const char *line = g_ptr_array_index (lines, i);
          const char *cmd = line[0] == '@' ? strchr (line, ' ') + 1 : line;

          if (g_getenv ("TD_BENCH_DEBUG"))
            fprintf (stderr, "peer <- %s\n", line);
          const char *verb = strchr (cmd, ' ');

          if (cmd[0] != ':' || verb == NULL || g_str_has_prefix (cmd, ":benchpeer!") ||
              g_str_has_prefix (cmd, ":talker"))
            continue;
          if (g_str_has_prefix (verb, " JOIN "))
            g_atomic_int_set (&peer->app_joined, 1);
          else if (g_str_has_prefix (verb, " PRIVMSG " CHAT_CHANNEL " "))
            g_atomic_int_inc (&peer->app_lines);
          /* NAMES with someone else in it: the app joined first. */
          else if (g_str_has_prefix (verb, " 353 ") && strrchr (verb, ':') != NULL &&
                   strchr (strrchr (verb, ':'), ' ') != NULL)
            g_atomic_int_set (&peer->app_joined, 1);
        }
      /* The talkers' input is read and dropped (a PING is answered). */
      for (guint i = 0; i < talkers->len; i++)
        {
          g_autoptr(GPtrArray) dropped = peer_read (g_socket_connection_get_socket (g_ptr_array_index (talkers, i)),
                                                    g_ptr_array_index (talker_in, i), 0, &error);
          if (dropped == NULL)
            goto fail;
        }

      /* One line from the next talker every 1/CHAT_LIVE_RATE s. */
      if (g_atomic_int_get (&peer->sending) && now >= next)
        {
          GSocket *socket = g_socket_connection_get_socket (g_ptr_array_index (talkers, tick % CHAT_TALKERS));

          g_string_printf (out, "PRIVMSG " CHAT_CHANNEL " :live line %u: ", tick);
          append_sentence (out, tick, 4 + tick % 9);
          g_string_append (out, "\r\n");
          if (!send_all (socket, out, &error))
            goto fail;
          tick++;
          peer->sent++;
          next = (next == 0 ? now : next) + G_USEC_PER_SEC / CHAT_LIVE_RATE;
        }
    }
  return NULL;

fail:
  peer->error = g_strdup (error ? error->message : "failed");
  return NULL;
}

/* Types @text in the composer and sends it; TRUE once the peer got it. */
static gboolean
type_line (ChatPeer   *peer,
           const char *text,
           guint       timeout_ms)
{
  gint before = g_atomic_int_get (&peer->app_lines);
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  g_free (xdotool ("type", "--delay", "8", text, NULL));
  g_free (xdotool ("key", "Return", NULL));
  while (g_atomic_int_get (&peer->app_lines) == before)
    {
      if (g_get_monotonic_time () > deadline)
        return FALSE;
      sleep_iterating (10);
    }
  return TRUE;
}

static void
print_chat_stats (const char *phase,
                  GVariant   *stats,
                  double      seconds)
{
  fprintf (stderr, "chat-lines %s (%.1f s): stall max %.1f ms p99 %.1f ms; frames %.0f, interval max %.1f ms"
                   " p99 %.1f ms; longest stalls (ms@ms):",
           phase, seconds, stat_of (stats, "stall-max-ms"), stat_of (stats, "stall-p99-ms"),
           stat_of (stats, "frames"), stat_of (stats, "frame-max-ms"), stat_of (stats, "frame-p99-ms"));
  print_worst_stalls (stats);
}

/* Measures one phase: resets the probe, runs, and keeps the figures.
 * With TD_BENCH_PERF=DIR, each phase is also recorded with `perf record`
 * into DIR/chat-lines-N.data. */
typedef struct
{
  double       stall_max;
  double       frame_p99_max;
  guint        phase;
  GSubprocess *perf;
} ChatTotals;

static gboolean
phase_begin (App        *app,
             ChatTotals *totals)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reset = NULL;
  const char *perf_dir = g_getenv ("TD_BENCH_PERF");

  totals->phase++;
  if (perf_dir != NULL)
    {
      g_autofree char *out = g_strdup_printf ("%s/chat-lines-%u.data", perf_dir, totals->phase);

      totals->perf = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error,
                                       "perf", "record", "-F", "499", "--call-graph",
                                       g_getenv ("TD_BENCH_PERF_CALLGRAPH") ? g_getenv ("TD_BENCH_PERF_CALLGRAPH") : "fp",
                                       "-o", out, "-p", g_subprocess_get_identifier (app->process), NULL);
      if (totals->perf == NULL)
        fprintf (stderr, "chat-lines: perf: %s\n", error->message);
      g_clear_error (&error);
      sleep_iterating (500);
    }
  /* For matching the stalls' times with a profile recorded with
   * CLOCK_MONOTONIC timestamps (perf record -k mono). */
  g_printerr ("chat-lines: phase %u: probe reset at monotonic %.3f s\n", totals->phase,
              g_get_monotonic_time () / (double) G_USEC_PER_SEC);
  reset = call (app->bus, BUS_IFACE, "ResetLatencyStats", NULL, NULL, &error);
  if (reset == NULL)
    fprintf (stderr, "chat-lines: %s\n", error->message);
  return reset != NULL;
}

static gboolean
phase_end (App        *app,
           const char *name,
           gint64      start,
           ChatTotals *totals)
{
  g_autoptr(GVariant) stats = latency_stats (app->bus);

  if (totals->perf != NULL)
    {
      g_subprocess_send_signal (totals->perf, SIGINT);
      g_subprocess_wait (totals->perf, NULL, NULL);
      g_clear_object (&totals->perf);
    }
  if (stats == NULL)
    return FALSE;
  print_chat_stats (name, stats, (g_get_monotonic_time () - start) / 1e6);
  totals->stall_max = MAX (totals->stall_max, stat_of (stats, "stall-max-ms"));
  totals->frame_p99_max = MAX (totals->frame_p99_max, stat_of (stats, "frame-p99-ms"));
  return TRUE;
}

static gboolean
bench_chat_lines (const char *tidings)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("bench-chat-lines-XXXXXX", &error);
  g_autofree char *db = g_build_filename (dir, "tidings.db", NULL);
  g_autofree char *log = g_build_filename (dir, "tidings.log", NULL);
  g_autofree char *xdotool_path = g_find_program_in_path ("xdotool");
  App app = { 0 };
  ChatPeer peer = { 0 };
  ChatTotals totals = { 0 };
  GThread *thread = NULL;
  Display *display = NULL;
  Geometry win = { 0 };
  GPid pid;
  gboolean ok = FALSE;
  gboolean selected = FALSE;
  gboolean climbed = FALSE;
  Rss rss_start, rss_top, rss_end;
  gint64 start, deadline;
  guint jumps = 0, still = 0;
  int list_right, list_bottom, bar_x;
  /* A shorter climb, for profiling by hand. */
  gint64 up_limit_us = (gint64) env_uint ("TD_BENCH_UP_SECONDS", 600) * G_USEC_PER_SEC;

  if (xdotool_path == NULL)
    {
      fprintf (stderr, "chat-lines: needs xdotool (apt-get install xdotool)\n");
      return FALSE;
    }
  display = XOpenDisplay (NULL);
  if (display == NULL)
    {
      fprintf (stderr, "chat-lines: no X display\n");
      return FALSE;
    }
  start = g_get_monotonic_time ();
  make_chat_db (db, CHAT_LINES);
  fprintf (stderr, "chat-lines: database with %u lines in %s made in %.1f s\n",
           CHAT_LINES, CHAT_CHANNEL, (g_get_monotonic_time () - start) / 1e6);

  returning_user ("chat");
  app.bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  g_assert_no_error (error);
  app.process = spawn_app (tidings, "latency", db, log, &error);
  if (app.process == NULL)
    {
      fprintf (stderr, "chat-lines: %s\n", error->message);
      goto out;
    }
  pid = (GPid) g_ascii_strtoll (g_subprocess_get_identifier (app.process), NULL, 10);
  if (!wait_for_window (&app))
    {
      fprintf (stderr, "chat-lines: the app did not show its window (see %s)\n", log);
      goto out;
    }
  show_view (app.bus, "chat");

  /* Another user joins the channel on the embedded server; the app
   * rejoins it from its log. */
  deadline = g_get_monotonic_time () + START_TIMEOUT_S * G_USEC_PER_SEC;
  while ((peer.port = local_port (app.bus, "chat")) == 0 && g_get_monotonic_time () < deadline)
    sleep_iterating (50);
  if (peer.port == 0)
    {
      fprintf (stderr, "chat-lines: the embedded IRC server did not start\n");
      goto out;
    }
  thread = g_thread_new ("chat-peer", chat_peer_thread, &peer);
  while (!g_atomic_int_get (&peer.app_joined) && peer.error == NULL && g_get_monotonic_time () < deadline)
    sleep_iterating (50);
  if (!g_atomic_int_get (&peer.app_joined))
    {
      fprintf (stderr, "chat-lines: the app did not join %s (%s)\n", CHAT_CHANNEL,
               peer.error ? peer.error : "timeout");
      goto out;
    }

  /* Open the channel in the sidebar; a line typed in the composer that
   * reaches the channel says it is the one shown. */
  if (!find_window (pid, &win))
    {
      fprintf (stderr, "chat-lines: cannot find the app's window\n");
      goto out;
    }
  fprintf (stderr, "chat-lines: window %dx%d at %d,%d\n", win.width, win.height, win.x, win.y);
  for (guint attempt = 0; attempt < 3 && !selected; attempt++)
    {
      xdo_click (win.x + CHAT_ROW_X, win.y + CHAT_ROW_Y);
      sleep_iterating (500);
      xdo_click (win.x + win.width / 2, win.y + win.height - CHAT_COMPOSER_DY);
      selected = type_line (&peer, "opening the channel", 5000);
    }
  if (!selected)
    {
      fprintf (stderr, "chat-lines: could not open %s in the sidebar\n", CHAT_CHANNEL);
      goto out;
    }
  /* The member list off: the message list's scrollbar is at the window's
   * right edge. */
  xdo_click (win.x + win.width - CHAT_MEMBERS_DX, win.y + CHAT_HEADER_Y);
  screenshot ("opened");
  list_right = win.x + win.width - 5;
  list_bottom = win.y + win.height - CHAT_LIST_BOTTOM_DY;
  bar_x = win.x + win.width - CHAT_SCROLLBAR_DX;
  sleep_iterating (1000);
  rss_start = read_rss (pid);

  /* Up through the history: the scrollbar to the top (a click in its
   * trough moves the slider there) until the oldest line is shown. */
  if (!phase_begin (&app, &totals))
    goto out;
  start = g_get_monotonic_time ();
  xdo_move (bar_x, (win.y + CHAT_LIST_TOP + list_bottom) / 2);
  while (still < CHAT_TOP_STILL && g_get_monotonic_time () - start < up_limit_us)
    {
      guint64 before = screen_hash (display, win.x + CHAT_LIST_LEFT, win.y + CHAT_LIST_TOP,
                                    list_right - win.x - CHAT_LIST_LEFT, list_bottom - win.y - CHAT_LIST_TOP);
      gint64 wait_until;
      gboolean changed = FALSE;

      xdo_click (bar_x, win.y + CHAT_LIST_TOP + 2);
      jumps++;
      /* The jump shows older lines; then the next page arrives, which
       * moves the slider down again. Either is progress. */
      wait_until = g_get_monotonic_time () + CHAT_JUMP_WAIT_MS * 1000;
      while (g_get_monotonic_time () < wait_until)
        {
          guint64 now = screen_hash (display, win.x + CHAT_LIST_LEFT, win.y + CHAT_LIST_TOP,
                                     list_right - win.x - CHAT_LIST_LEFT, list_bottom - win.y - CHAT_LIST_TOP);

          if (now != before)
            {
              changed = TRUE;
              /* Give the page a moment, then jump again. */
              sleep_iterating (30);
              break;
            }
          sleep_iterating (5);
        }
      still = changed ? 0 : still + 1;
    }
  if (!phase_end (&app, "up to the top", start, &totals))
    goto out;
  screenshot ("top");
  rss_top = read_rss (pid);
  if (still >= CHAT_TOP_STILL)
    fprintf (stderr, "chat-lines: at the top after %u jumps in %.1f s (the log is %u lines)\n",
             jumps - CHAT_TOP_STILL, (g_get_monotonic_time () - start) / 1e6 - CHAT_TOP_STILL * CHAT_JUMP_WAIT_MS / 1000.0,
             CHAT_LINES);
  else
    fprintf (stderr, "chat-lines: not at the top after %u jumps in %.1f s\n", jumps,
             (g_get_monotonic_time () - start) / 1e6);
  /* The view loads older lines a page at a time (TD_CHAT_LOG_OLDER_PAGE),
   * each page once the view reaches the top: far fewer jumps than pages
   * mean the clicks missed the scrollbar (a layout the driver does not
   * know). */
  climbed = still >= CHAT_TOP_STILL ? jumps - CHAT_TOP_STILL >= CHAT_LINES / CHAT_OLDER_PAGE / 2
                                    : g_getenv ("TD_BENCH_UP_SECONDS") != NULL;
  if (!climbed)
    fprintf (stderr, "chat-lines: the scrollbar clicks did not climb the log (see TD_BENCH_SHOTS)\n");

  /* Back down: the slider dragged from the top to the bottom, through
   * every line, then a click at the bottom to follow new lines. */
  if (!phase_begin (&app, &totals))
    goto out;
  start = g_get_monotonic_time ();
  {
    g_autofree char *xs = g_strdup_printf ("%d", bar_x);
    g_autofree char *ys = g_strdup_printf ("%d", win.y + CHAT_LIST_TOP + 4);

    g_free (xdotool ("mousemove", xs, ys, "mousedown", "1", NULL));
    for (guint i = 1; i <= CHAT_DRAG_STEPS; i++)
      {
        xdo_move (bar_x, win.y + CHAT_LIST_TOP + 4 + (list_bottom - 4 - win.y - CHAT_LIST_TOP - 4) * i / CHAT_DRAG_STEPS);
        sleep_iterating (CHAT_DRAG_STEP_MS);
      }
    g_free (xdotool ("mouseup", "1", NULL));
  }
  xdo_click (bar_x, list_bottom - 3);
  sleep_iterating (500);
  if (!phase_end (&app, "back down", start, &totals))
    goto out;
  screenshot ("bottom");

  /* Live: another user talks, and the user types now and then. */
  if (!phase_begin (&app, &totals))
    goto out;
  start = g_get_monotonic_time ();
  g_atomic_int_set (&peer.sending, 1);
  xdo_click (win.x + win.width / 2, win.y + win.height - CHAT_COMPOSER_DY);
  for (guint i = 0; i < CHAT_TYPED_LINES; i++)
    {
      g_autofree char *text = g_strdup_printf ("typed line %u while the channel is busy", i);

      if (!type_line (&peer, text, 5000))
        fprintf (stderr, "chat-lines: typed line %u did not arrive\n", i);
      sleep_iterating (CHAT_LIVE_SECONDS * 1000 / CHAT_TYPED_LINES / 2);
    }
  while (g_get_monotonic_time () - start < CHAT_LIVE_SECONDS * G_USEC_PER_SEC)
    sleep_iterating (20);
  g_atomic_int_set (&peer.sending, 0);
  if (!phase_end (&app, "live", start, &totals))
    goto out;
  screenshot ("live");
  fprintf (stderr, "chat-lines: %" G_GUINT64_FORMAT " lines received live, %d typed%s%s\n",
           peer.sent, g_atomic_int_get (&peer.app_lines) - 1,
           peer.error ? "; peer: " : "", peer.error ? peer.error : "");
  rss_end = read_rss (pid);
  fprintf (stderr, "chat-lines: RSS (anonymous) %.1f MiB (%.1f) with the channel open, %.1f MiB (%.1f) after"
                   " the climb, %.1f MiB (%.1f) at the end; peak RSS %.1f MiB\n",
           rss_start.rss / 1024.0, rss_start.anon / 1024.0, rss_top.rss / 1024.0, rss_top.anon / 1024.0,
           rss_end.rss / 1024.0, rss_end.anon / 1024.0, rss_end.peak / 1024.0);

  printf ("chat-lines: tidings %.1f ms, peer %.0f ms, ratio %.2f\n",
          totals.stall_max, STALL_TARGET_MS, totals.stall_max / STALL_TARGET_MS);
  printf ("chat-lines-frame-p99: tidings %.1f ms, peer %.1f ms, ratio %.2f\n",
          totals.frame_p99_max, FRAME_TARGET_MS, totals.frame_p99_max / FRAME_TARGET_MS);
  printf ("chat-lines-rss: tidings %.1f MiB, peer n/a, ratio n/a\n", rss_end.peak / 1024.0);
  fflush (stdout);
  ok = peer.error == NULL && climbed;

out:
  if (thread != NULL)
    {
      g_atomic_int_set (&peer.stop, 1);
      g_thread_join (thread);
    }
  quit_app (&app);
  g_clear_object (&app.bus);
  if (display != NULL)
    XCloseDisplay (display);
  if (g_getenv ("TD_BENCH_KEEP") != NULL)
    fprintf (stderr, "chat-lines: kept %s\n", dir);
  else
    remove_tree (dir);
  g_free (peer.error);
  return ok;
}

int
main (int   argc,
      char *argv[])
{
  signal (SIGPIPE, SIG_IGN);

  if (argc == 5 && g_str_equal (argv[1], "make-db"))
    {
      make_big_db (argv[2], (guint) g_ascii_strtoull (argv[3], NULL, 10),
                   (guint) g_ascii_strtoull (argv[4], NULL, 10));
      return 0;
    }
  if (argc == 3 && g_str_equal (argv[1], "gui-stall"))
    return bench_gui_stall (argv[2]) ? 0 : 1;
  if (argc == 3 && g_str_equal (argv[1], "cold-start"))
    return bench_cold_start (argv[2]) ? 0 : 1;
  if (argc == 3 && g_str_equal (argv[1], "chat-lines"))
    return bench_chat_lines (argv[2]) ? 0 : 1;

  fprintf (stderr, "usage: %s gui-stall|cold-start|chat-lines TIDINGS\n"
                   "       %s make-db PATH ITEMS CHAT_LINES\n", argv[0], argv[0]);
  return 2;
}
