/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "core/td-mailbox.h"
#include "core/td-task-loop.h"
#include "feeds/td-feed-manager.h"
#include "store/td-recorder.h"
#include "store/td-schema.h"

/*
 * The feed refresh killed with SIGKILL: a consistent database afterwards.
 *
 * A SoupServer on 127.0.0.1 (port 0, a thread of this process) serves
 * N_FEEDS RSS feeds. Each generation of the server shifts every feed's
 * window of items by ITEMS_SHIFT and gives new ETag and Last-Modified
 * values. The refresh runs in a child process, this program started
 * again with --driver: the feed manager with the recorder on a database
 * file, as the app runs them. The child subscribes to every feed (the
 * OPML import); then, generation after generation, a refresh is started
 * and SIGKILLed once it reported a given number of feeds fetched, and
 * the database is checked: every feed holds either the state it had
 * before (fetch state untouched, so the next refresh fetches it again)
 * or the new document's whole item window together with its new ETag,
 * Last-Modified and fetch time, never a mix. A last refresh runs to its
 * end and leaves every feed complete, no item twice.
 */

#define N_FEEDS        200
#define ITEMS_PER_DOC  30
#define ITEMS_SHIFT    10
/* Each answer waits this long, so that a refresh takes a while and the
 * kills land in its middle. */
#define SERVE_DELAY_MS 4
/* Generations served: the import, one per kill, and the last refresh
 * reuses the last one. */
#define N_KILLS        6
#define MAX_ITEM       ((N_KILLS + 1) * ITEMS_SHIFT + ITEMS_PER_DOC)
/* A child that does not finish in this time is a bug, not a slow disk. */
#define DRIVER_TIMEOUT_S 90

/* ------------------------------------------------------------------ */
/* The child: the feed manager's own refresh path                      */
/* ------------------------------------------------------------------ */

enum { MAIL_EVENT = 1, MAIL_REPLY };

typedef struct
{
  GMainLoop   *loop;
  TdFeedEvent *summary;
  TdFeedReply *reply;
} Driver;

static void
driver_mail_cb (TdMailboxId  id,
                TdMail      *mail,
                gpointer     user_data)
{
  Driver *d = user_data;

  if (mail->kind == MAIL_EVENT)
    {
      g_autoptr(TdFeedEvent) event = td_mail_steal_data (mail);

      /* The parent kills on these lines. */
      if (event->type == TD_FEED_EVENT_PROGRESS)
        {
          printf ("progress %u %u\n", event->done, event->total);
          fflush (stdout);
        }
      else if (event->type == TD_FEED_EVENT_SUMMARY && d->summary == NULL)
        {
          d->summary = g_steal_pointer (&event);
          g_main_loop_quit (d->loop);
        }
    }
  else if (mail->kind == MAIL_REPLY && d->reply == NULL)
    {
      d->reply = td_mail_steal_data (mail);
      if (d->reply->error != NULL)
        g_main_loop_quit (d->loop);
    }
}

static gboolean
driver_timeout_cb (gpointer user_data)
{
  g_error ("driver: no summary after %d s", DRIVER_TIMEOUT_S);
  return G_SOURCE_REMOVE;
}

/* --driver import DB OPML | --driver refresh DB: subscribes to the OPML's
 * feeds or refreshes every feed, waits for the round's summary, closes
 * everything and exits 0 when nothing failed. */
static int
run_driver (const char *mode,
            const char *db,
            const char *opml)
{
  TdFeedManagerConfig config = {
    .startup_delay_ms = -1,
    .refresh_interval = 24 * 3600,
    .skip_icons = TRUE,
  };
  Driver d = { NULL, NULL, NULL };
  TdRecorder *recorder;
  TdFeedManager *manager;
  TdMailboxId mailbox;
  int status = 0;

  prctl (PR_SET_PDEATHSIG, SIGKILL);
  d.loop = g_main_loop_new (NULL, FALSE);
  recorder = td_recorder_new (db, td_schema_app ());
  manager = td_feed_manager_new (recorder, td_task_loop_get_default (), &config);
  mailbox = td_mailbox_open (NULL, G_PRIORITY_DEFAULT, driver_mail_cb, &d, NULL);
  td_feed_manager_add_listener (manager, mailbox, MAIL_EVENT);
  g_timeout_add_seconds (DRIVER_TIMEOUT_S, driver_timeout_cb, NULL);

  if (g_str_equal (mode, "import"))
    {
      g_autoptr(GFile) file = g_file_new_for_path (opml);

      td_feed_manager_import_opml (manager, file, mailbox, MAIL_REPLY, 0);
    }
  else
    {
      while (!td_feed_manager_is_ready (manager))
        g_main_context_iteration (NULL, TRUE);
      td_feed_manager_refresh_all (manager, FALSE);
    }
  g_main_loop_run (d.loop);

  if (d.reply != NULL && d.reply->error != NULL)
    {
      fprintf (stderr, "driver: %s\n", d.reply->error->message);
      status = 1;
    }
  else if (d.summary != NULL)
    {
      printf ("summary %u %u %u\n", d.summary->total, d.summary->failed, d.summary->n_new);
      fflush (stdout);
      status = d.summary->failed == 0 ? 0 : 1;
    }

  td_feed_manager_free (manager);
  td_mailbox_close (mailbox);
  if (!td_recorder_close (recorder, NULL))
    status = 1;
  td_recorder_free (recorder);
  g_clear_pointer (&d.summary, td_feed_event_free);
  g_clear_pointer (&d.reply, td_feed_reply_free);
  g_main_loop_unref (d.loop);
  return status;
}

/* ------------------------------------------------------------------ */
/* The feeds, served on loopback                                       */
/* ------------------------------------------------------------------ */

typedef struct
{
  GMainContext *context;
  GMainLoop    *loop;
  GThread      *thread;
  SoupServer   *server;
  guint16       port;
  gint          generation;   /* atomic */
  gint          n_full;       /* atomic: 200 answers */
  GMutex        lock;
  GCond         cond;
} FeedServer;

/* The first item of @feed's document in @generation (from 1). */
static guint
window_start (guint generation)
{
  return (generation - 1) * ITEMS_SHIFT;
}

static char *
feed_etag (guint feed,
           guint generation)
{
  return g_strdup_printf ("\"%u-%u\"", feed, generation);
}

static char *
feed_last_modified (guint generation)
{
  return g_strdup_printf ("Mon, %02u Jan 2024 08:00:00 GMT", generation);
}

static char *
feed_document (guint feed,
               guint generation)
{
  GString *doc = g_string_new (NULL);

  g_string_append_printf (doc, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                          "<rss version=\"2.0\"><channel><title>Feed %u</title>"
                          "<link>https://feeds.example/%u/</link>\n", feed, feed);
  for (guint i = window_start (generation); i < window_start (generation) + ITEMS_PER_DOC; i++)
    g_string_append_printf (doc, "<item><guid isPermaLink=\"false\">feed-%u-item-%u</guid>"
                            "<title>Item %u of feed %u</title><link>https://feeds.example/%u/%u</link>"
                            "<pubDate>Mon, 01 Jan 2024 %02u:%02u:00 GMT</pubDate>"
                            "<description>&lt;p&gt;The text of item %u, long enough to be a real "
                            "summary of something that happened.&lt;/p&gt;</description></item>\n",
                            feed, i, i, feed, feed, i, (i / 60) % 24, i % 60, i);
  g_string_append (doc, "</channel></rss>\n");
  return g_string_free (doc, FALSE);
}

static gboolean
unpause_cb (gpointer user_data)
{
  soup_server_message_unpause (user_data);
  return G_SOURCE_REMOVE;
}

static void
feed_handler_cb (SoupServer        *server,
                 SoupServerMessage *msg,
                 const char        *path,
                 GHashTable        *query,
                 gpointer           user_data)
{
  FeedServer *fs = user_data;
  SoupMessageHeaders *response = soup_server_message_get_response_headers (msg);
  guint generation = (guint) g_atomic_int_get (&fs->generation);
  g_autofree char *etag = NULL;
  g_autofree char *modified = NULL;
  const char *if_none_match;
  char *doc;
  guint feed;

  if (sscanf (path, "/feed/%u.xml", &feed) != 1 || feed >= N_FEEDS)
    {
      soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, NULL);
      return;
    }
  etag = feed_etag (feed, generation);
  modified = feed_last_modified (generation);
  soup_message_headers_replace (response, "ETag", etag);
  soup_message_headers_replace (response, "Last-Modified", modified);
  if_none_match = soup_message_headers_get_one (soup_server_message_get_request_headers (msg), "If-None-Match");
  if (g_strcmp0 (if_none_match, etag) == 0)
    soup_server_message_set_status (msg, SOUP_STATUS_NOT_MODIFIED, NULL);
  else
    {
      doc = feed_document (feed, generation);
      soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
      soup_server_message_set_response (msg, "application/rss+xml", SOUP_MEMORY_TAKE, doc, strlen (doc));
      g_atomic_int_inc (&fs->n_full);
    }

  /* Answered a little later: a refresh is then long enough to kill in
   * its middle. */
  soup_server_message_pause (msg);
  {
    g_autoptr(GSource) source = g_timeout_source_new (SERVE_DELAY_MS);

    g_source_set_callback (source, unpause_cb, g_object_ref (msg), g_object_unref);
    g_source_attach (source, fs->context);
  }
}

static gpointer
server_thread (gpointer user_data)
{
  FeedServer *fs = user_data;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GError) error = NULL;
  GSList *uris;

  g_main_context_push_thread_default (fs->context);
  fs->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (fs->server, "/feed", feed_handler_cb, fs, NULL);
  soup_server_listen (fs->server, address, 0, &error);
  g_assert_no_error (error);
  uris = soup_server_get_uris (fs->server);
  g_assert_nonnull (uris);
  g_assert_cmpstr (g_uri_get_host (uris->data), ==, "127.0.0.1");

  g_mutex_lock (&fs->lock);
  fs->port = (guint16) g_uri_get_port (uris->data);
  g_cond_signal (&fs->cond);
  g_mutex_unlock (&fs->lock);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  g_main_loop_run (fs->loop);
  soup_server_disconnect (fs->server);
  g_clear_object (&fs->server);
  g_main_context_pop_thread_default (fs->context);
  return NULL;
}

static FeedServer *
feed_server_start (void)
{
  FeedServer *fs = g_new0 (FeedServer, 1);

  g_mutex_init (&fs->lock);
  g_cond_init (&fs->cond);
  fs->generation = 1;
  fs->context = g_main_context_new ();
  fs->loop = g_main_loop_new (fs->context, FALSE);
  fs->thread = g_thread_new ("feed-server", server_thread, fs);
  g_mutex_lock (&fs->lock);
  while (fs->port == 0)
    g_cond_wait (&fs->cond, &fs->lock);
  g_mutex_unlock (&fs->lock);
  return fs;
}

static gboolean
quit_cb (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_REMOVE;
}

static void
feed_server_stop (FeedServer *fs)
{
  g_main_context_invoke (fs->context, quit_cb, fs->loop);
  g_thread_join (fs->thread);
  g_main_loop_unref (fs->loop);
  g_main_context_unref (fs->context);
  g_mutex_clear (&fs->lock);
  g_cond_clear (&fs->cond);
  g_free (fs);
}

/* ------------------------------------------------------------------ */
/* The database as the child left it                                   */
/* ------------------------------------------------------------------ */

typedef struct
{
  guint    generation;      /* of the ETag stored; 0: never fetched */
  char    *etag;
  char    *last_modified;
  gint64   last_fetch;
  guint    n_items;
  gboolean items[MAX_ITEM]; /* which items are stored */
} FeedState;

static void
feed_states_free (FeedState *states)
{
  for (guint i = 0; i < N_FEEDS; i++)
    {
      g_free (states[i].etag);
      g_free (states[i].last_modified);
    }
  g_free (states);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FeedState, feed_states_free)

static char *
column_text (sqlite3_stmt *stmt,
             int           column)
{
  const unsigned char *text = sqlite3_column_text (stmt, column);

  return text ? g_strdup ((const char *) text) : NULL;
}

/* Reads every feed's fetch state and items, and asserts what holds for
 * each feed on its own: every item of the document its ETag names is
 * there, its Last-Modified is that document's, no item is there twice.
 * (Which older items it keeps depends on the documents it went through:
 * the caller checks that.) */
static FeedState *
read_states (const char *db_path)
{
  FeedState *states = g_new0 (FeedState, N_FEEDS);
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  guint n_feeds = 0;

  /* Read-write, as a restarted app opens it: the WAL left by the kill is
   * recovered (committed transactions kept, the rest dropped). */
  g_assert_cmpint (sqlite3_open_v2 (db_path, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, "PRAGMA integrity_check", -1, &stmt, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_step (stmt), ==, SQLITE_ROW);
  g_assert_cmpstr ((const char *) sqlite3_column_text (stmt, 0), ==, "ok");
  sqlite3_finalize (stmt);

  g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT id, url, etag, last_modified, last_fetch, error_count FROM feeds",
                                       -1, &stmt, NULL), ==, SQLITE_OK);
  while (sqlite3_step (stmt) == SQLITE_ROW)
    {
      gint64 id = sqlite3_column_int64 (stmt, 0);
      const char *url = (const char *) sqlite3_column_text (stmt, 1);
      const char *slash = strrchr (url, '/');
      guint feed;
      FeedState *state;
      sqlite3_stmt *items = NULL;
      guint window_end;

      g_assert_cmpint (sscanf (slash, "/%u.xml", &feed), ==, 1);
      g_assert_cmpuint (feed, <, N_FEEDS);
      state = &states[feed];
      g_assert_null (state->etag);   /* one row per feed */
      n_feeds++;
      state->etag = column_text (stmt, 2);
      state->last_modified = column_text (stmt, 3);
      state->last_fetch = sqlite3_column_int64 (stmt, 4);
      g_assert_cmpint (sqlite3_column_int64 (stmt, 5), ==, 0);
      if (state->etag != NULL)
        {
          g_autofree char *modified = NULL;
          guint check;

          g_assert_cmpint (sscanf (state->etag, "\"%u-%u\"", &check, &state->generation), ==, 2);
          g_assert_cmpuint (check, ==, feed);
          modified = feed_last_modified (state->generation);
          g_assert_cmpstr (state->last_modified, ==, modified);
          g_assert_cmpint (state->last_fetch, >, 0);
        }

      /* The items: each once, none from a document not fetched yet. */
      window_end = state->generation ? window_start (state->generation) + ITEMS_PER_DOC : 0;
      g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT guid FROM items WHERE feed_id = ?", -1, &items, NULL),
                       ==, SQLITE_OK);
      sqlite3_bind_int64 (items, 1, id);
      while (sqlite3_step (items) == SQLITE_ROW)
        {
          guint item_feed, item;

          g_assert_cmpint (sscanf ((const char *) sqlite3_column_text (items, 0), "feed-%u-item-%u",
                                   &item_feed, &item), ==, 2);
          g_assert_cmpuint (item_feed, ==, feed);
          if (item >= window_end)
            g_error ("feed %u (ETag %s) holds item %u, past its window of %u: items and fetch state disagree",
                     feed, state->etag ? state->etag : "none", item, window_end);
          g_assert_false (state->items[item]);
          state->items[item] = TRUE;
          state->n_items++;
        }
      sqlite3_finalize (items);
      for (guint i = state->generation ? window_start (state->generation) : 0; i < window_end; i++)
        if (!state->items[i])
          g_error ("feed %u (ETag %s) lacks item %u of its document: items and fetch state disagree",
                   feed, state->etag, i);
    }
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  g_assert_cmpuint (n_feeds, ==, N_FEEDS);
  return states;
}

/* ------------------------------------------------------------------ */
/* Running the child                                                   */
/* ------------------------------------------------------------------ */

static void
child_setup (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

/* Runs the driver in @mode. With @kill_at > 0 it is SIGKILLed as soon as
 * it reported @kill_at feeds fetched; otherwise it must finish cleanly.
 * Returns the last progress count it reported. */
static guint
run_child (const char *mode,
           const char *db,
           const char *opml,
           guint       kill_at,
           gboolean   *finished)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr(GSubprocess) child = NULL;
  g_autoptr(GDataInputStream) out = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  guint done = 0;

  *finished = FALSE;
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  child = g_subprocess_launcher_spawn (launcher, &error, self, "--driver", mode, db, opml, NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (child));

  for (;;)
    {
      g_autofree char *line = g_data_input_stream_read_line (out, NULL, NULL, &error);
      guint total;

      g_assert_no_error (error);
      if (line == NULL)
        break;
      if (sscanf (line, "progress %u %u", &done, &total) == 2)
        {
          if (kill_at > 0 && done >= kill_at)
            {
              g_subprocess_send_signal (child, SIGKILL);
              break;
            }
        }
      else if (g_str_has_prefix (line, "summary "))
        *finished = TRUE;
    }
  g_subprocess_wait (child, NULL, &error);
  g_assert_no_error (error);
  if (kill_at == 0)
    {
      g_assert_true (*finished);
      g_assert_true (g_subprocess_get_if_exited (child));
      g_assert_cmpint (g_subprocess_get_exit_status (child), ==, 0);
    }
  return done;
}

static void
test_kill_during_refresh (void)
{
  g_autofree char *dir = g_dir_make_tmp ("td-refresh-kill-XXXXXX", NULL);
  g_autofree char *db = g_build_filename (dir, "tidings.db", NULL);
  g_autofree char *opml = g_build_filename (dir, "feeds.opml", NULL);
  g_autoptr(GString) list = g_string_new ("<?xml version=\"1.0\"?><opml version=\"2.0\"><head><title>t</title></head><body>\n");
  g_autoptr(FeedState) before = NULL;
  /* Feeds reported fetched when the kill comes: right at the start, in
   * the middle, near the end. */
  static const guint kill_points[N_KILLS] = { 1, N_FEEDS / 8, N_FEEDS / 3, N_FEEDS / 2, 3 * N_FEEDS / 4, N_FEEDS - 2 };
  FeedServer *fs = feed_server_start ();
  guint mixed = 0;
  gboolean finished;

  for (guint i = 0; i < N_FEEDS; i++)
    g_string_append_printf (list, "<outline type=\"rss\" text=\"Feed %u\" xmlUrl=\"http://127.0.0.1:%u/feed/%u.xml\"/>\n",
                            i, fs->port, i);
  g_string_append (list, "</body></opml>\n");
  g_assert_true (g_file_set_contents (opml, list->str, list->len, NULL));

  /* Subscribed, every feed fetched once. */
  run_child ("import", db, opml, 0, &finished);
  before = read_states (db);
  for (guint i = 0; i < N_FEEDS; i++)
    g_assert_cmpuint (before[i].generation, ==, 1);

  for (guint k = 0; k < G_N_ELEMENTS (kill_points); k++)
    {
      guint generation = (guint) g_atomic_int_add (&fs->generation, 1) + 1;
      g_autoptr(FeedState) after = NULL;
      guint n_new = 0, n_old = 0;
      guint reported = run_child ("refresh", db, "-", kill_points[k], &finished);

      after = read_states (db);
      for (guint i = 0; i < N_FEEDS; i++)
        {
          if (after[i].generation == generation)
            {
              /* Fetched: the new document and the new fetch state, and
               * the items it had before. */
              g_assert_cmpint (after[i].last_fetch, >, before[i].last_fetch);
              for (guint j = 0; j < MAX_ITEM; j++)
                g_assert_cmpint (after[i].items[j], ==,
                                 before[i].items[j] || (j >= window_start (generation) &&
                                                        j < window_start (generation) + ITEMS_PER_DOC));
              n_new++;
            }
          else
            {
              /* Not stored: everything as before, so the next refresh
               * fetches it again. */
              g_assert_cmpuint (after[i].generation, ==, before[i].generation);
              g_assert_cmpstr (after[i].etag, ==, before[i].etag);
              g_assert_cmpstr (after[i].last_modified, ==, before[i].last_modified);
              g_assert_cmpint (after[i].last_fetch, ==, before[i].last_fetch);
              g_assert_cmpmem (after[i].items, sizeof after[i].items, before[i].items, sizeof before[i].items);
              n_old++;
            }
        }
      g_test_message ("kill %u: after %u of %u feeds fetched (%s): %u feeds hold generation %u, %u still %s",
                      k + 1, reported, N_FEEDS, finished ? "round over" : "mid-refresh",
                      n_new, generation, n_old, n_old ? "the one before" : "");
      if (n_new > 0 && n_old > 0)
        mixed++;
      g_clear_pointer (&before, feed_states_free);
      before = g_steal_pointer (&after);
    }
  /* The kills did land in the middle of refreshes. */
  g_assert_cmpuint (mixed, >=, 2);

  /* Restarted without a kill: every feed ends on the last generation,
   * with its document whole and what it had before, each item once. */
  run_child ("refresh", db, "-", 0, &finished);
  {
    g_autoptr(FeedState) last = read_states (db);
    guint generation = (guint) g_atomic_int_get (&fs->generation);

    for (guint i = 0; i < N_FEEDS; i++)
      {
        g_assert_cmpuint (last[i].generation, ==, generation);
        for (guint j = 0; j < MAX_ITEM; j++)
          g_assert_cmpint (last[i].items[j], ==,
                           before[i].items[j] || (j >= window_start (generation) &&
                                                  j < window_start (generation) + ITEMS_PER_DOC));
      }
  }
  g_test_message ("%d documents served in all", g_atomic_int_get (&fs->n_full));

  feed_server_stop (fs);
  {
    g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
    const char *name;

    while (d != NULL && (name = g_dir_read_name (d)) != NULL)
      {
        g_autofree char *path = g_build_filename (dir, name, NULL);

        g_unlink (path);
      }
    g_rmdir (dir);
  }
}

int
main (int   argc,
      char *argv[])
{
  if (argc == 5 && g_str_equal (argv[1], "--driver"))
    return run_driver (argv[2], argv[3], argv[4]);

  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/td/hardening/refresh-kill", test_kill_during_refresh);
  return g_test_run ();
}
