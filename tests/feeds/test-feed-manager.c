/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <gdk-pixbuf/gdk-pixbuf.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include "core/td-farm.h"
#include "core/td-task-loop.h"
#include "feeds/td-feed-icon.h"
#include "feeds/td-feed-manager.h"
#include "feeds/td-opml.h"
#include "store/td-recorder.h"
#include "store/td-schema.h"

/*
 * The feed manager against a SoupServer on 127.0.0.1 (port 0) in this
 * process and against file:// documents: subscribing, conditional
 * refreshes, updates in place, redirects, 410, errors, removal in flight,
 * 500 feeds on the farm, pruning, search, tombstones, OPML and icons.
 */

#define DEADLINE_MS 20000

enum { MAIL_REPLY = 1, MAIL_EVENT };

/* ------------------------------------------------------------------ */
/* The test server                                                     */

typedef struct
{
  guint    status;
  char    *body;
  gsize    len;             /* of body, which may hold NULs */
  char    *etag;
  char    *location;
  guint    delay_ms;        /* answer after this long */
  gboolean hold;            /* answer only when released */
  guint    hits;
  guint    conditional_hits;
} Doc;

typedef struct
{
  SoupServer *server;
  char       *base;
  GHashTable *docs;          /* path -> Doc */
  GPtrArray  *held;          /* SoupServerMessage held by a Doc */
  guint       running;
  guint       max_running;
  guint       n_requests;
} Server;

static void
doc_free (Doc *doc)
{
  g_free (doc->body);
  g_free (doc->etag);
  g_free (doc->location);
  g_free (doc);
}

static Doc *
server_set (Server     *srv,
            const char *path,
            guint       status,
            const char *body,
            const char *etag)
{
  Doc *doc = g_hash_table_lookup (srv->docs, path);

  if (doc == NULL)
    {
      doc = g_new0 (Doc, 1);
      g_hash_table_insert (srv->docs, g_strdup (path), doc);
    }
  doc->status = status;
  g_free (doc->body);
  doc->body = g_strdup (body);
  doc->len = body ? strlen (body) : 0;
  g_free (doc->etag);
  doc->etag = g_strdup (etag);
  g_clear_pointer (&doc->location, g_free);
  return doc;
}

static Doc *
server_set_data (Server     *srv,
                 const char *path,
                 const char *data,
                 gsize       len)
{
  Doc *doc = server_set (srv, path, 200, NULL, NULL);

  doc->body = g_memdup2 (data, len);
  doc->len = len;
  return doc;
}

static char *
server_url (Server     *srv,
            const char *path)
{
  return g_strconcat (srv->base, path, NULL);
}

static void
answer (SoupServerMessage *msg,
        Doc               *doc)
{
  SoupMessageHeaders *in = soup_server_message_get_request_headers (msg);
  SoupMessageHeaders *out = soup_server_message_get_response_headers (msg);
  const char *inm = soup_message_headers_get_one (in, "If-None-Match");

  if (inm != NULL)
    doc->conditional_hits++;

  if (doc->location != NULL)
    {
      soup_message_headers_replace (out, "Location", doc->location);
      soup_server_message_set_status (msg, doc->status, NULL);
      return;
    }

  if (doc->status == 200 && doc->etag != NULL && g_strcmp0 (inm, doc->etag) == 0)
    {
      soup_server_message_set_status (msg, 304, NULL);
      soup_message_headers_replace (out, "ETag", doc->etag);
      return;
    }

  soup_server_message_set_status (msg, doc->status, NULL);
  if (doc->etag != NULL)
    soup_message_headers_replace (out, "ETag", doc->etag);
  if (doc->body != NULL)
    soup_server_message_set_response (msg, "application/rss+xml", SOUP_MEMORY_COPY,
                                      doc->body, doc->len);
}

typedef struct
{
  Server            *srv;
  SoupServerMessage *msg;
  Doc               *doc;
} Delayed;

static gboolean
delayed_answer_cb (gpointer data)
{
  Delayed *d = data;

  answer (d->msg, d->doc);
  soup_server_message_unpause (d->msg);
  d->srv->running--;
  g_object_unref (d->msg);
  g_free (d);
  return G_SOURCE_REMOVE;
}

static void
server_cb (SoupServer        *server,
           SoupServerMessage *msg,
           const char        *path,
           GHashTable        *query,
           gpointer           user_data)
{
  Server *srv = user_data;
  Doc *doc = g_hash_table_lookup (srv->docs, path);

  srv->n_requests++;
  if (doc == NULL)
    {
      soup_server_message_set_status (msg, 404, NULL);
      return;
    }
  doc->hits++;

  if (doc->hold || doc->delay_ms > 0)
    {
      Delayed *d = g_new0 (Delayed, 1);

      d->srv = srv;
      d->msg = g_object_ref (msg);
      d->doc = doc;
      soup_server_message_pause (msg);
      srv->running++;
      srv->max_running = MAX (srv->max_running, srv->running);
      if (doc->hold)
        g_ptr_array_add (srv->held, d);
      else
        g_timeout_add (doc->delay_ms, delayed_answer_cb, d);
      return;
    }

  answer (msg, doc);
}

static void
server_release (Server *srv)
{
  while (srv->held->len > 0)
    {
      Delayed *d = g_ptr_array_steal_index (srv->held, 0);

      d->doc->hold = FALSE;
      delayed_answer_cb (d);
    }
}

static Server *
server_new (void)
{
  Server *srv = g_new0 (Server, 1);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSList) uris = NULL;
  g_autofree char *base = NULL;

  srv->server = soup_server_new (NULL, NULL);
  srv->docs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) doc_free);
  srv->held = g_ptr_array_new ();
  soup_server_add_handler (srv->server, NULL, server_cb, srv, NULL);
  g_assert_true (soup_server_listen_local (srv->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error));
  g_assert_no_error (error);
  uris = soup_server_get_uris (srv->server);
  base = g_uri_to_string (uris->data);
  g_slist_free_full (g_steal_pointer (&uris), (GDestroyNotify) g_uri_unref);
  /* "http://127.0.0.1:PORT/" without the final slash. */
  srv->base = g_strndup (base, strlen (base) - 1);
  return srv;
}

static void
server_free (Server *srv)
{
  server_release (srv);
  soup_server_disconnect (srv->server);
  g_object_unref (srv->server);
  g_hash_table_unref (srv->docs);
  g_ptr_array_unref (srv->held);
  g_free (srv->base);
  g_free (srv);
}

/* An RSS 2.0 document with @n items "PREFIX-1" ... "PREFIX-n", the
 * newest last; @title_suffix is appended to every item title. */
static char *
make_rss (const char *title,
          const char *prefix,
          guint       first,
          guint       n,
          const char *title_suffix)
{
  GString *s = g_string_new (NULL);

  g_string_append_printf (s, "<?xml version=\"1.0\"?>\n<rss version=\"2.0\"><channel>"
                          "<title>%s</title><link>https://example.org/%s</link>"
                          "<description>test</description>\n", title, prefix);
  for (guint i = first; i < first + n; i++)
    g_string_append_printf (s, "<item><guid isPermaLink=\"false\">%s-%u</guid>"
                            "<title>%s item %u%s</title><link>https://example.org/%s/%u</link>"
                            "<description>Body of %s number %u with word%u</description>"
                            "<pubDate>Mon, %02u Jan 2024 10:00:00 +0000</pubDate></item>\n",
                            prefix, i, prefix, i, title_suffix ? title_suffix : "",
                            prefix, i, prefix, i, i, 1 + i % 28);
  g_string_append (s, "</channel></rss>\n");
  return g_string_free (s, FALSE);
}

/* ------------------------------------------------------------------ */
/* The fixture                                                         */

typedef struct
{
  char          *dir;
  TdRecorder    *recorder;
  TdTaskLoop    *loop;
  TdFeedManager *manager;
  Server        *srv;
  TdMailboxId    mailbox;
  GQueue         replies;     /* TdFeedReply */
  GPtrArray     *events;      /* TdFeedEvent */
  guint          n_summaries;
  TdFeedEvent   *last_summary;
} Fixture;

static void
mail_cb (TdMailboxId  id,
         TdMail      *mail,
         gpointer     user_data)
{
  Fixture *f = user_data;

  if (mail->kind == MAIL_REPLY)
    g_queue_push_tail (&f->replies, td_mail_steal_data (mail));
  else
    {
      TdFeedEvent *event = td_mail_steal_data (mail);

      if (event->type == TD_FEED_EVENT_SUMMARY)
        {
          f->n_summaries++;
          f->last_summary = event;
        }
      g_ptr_array_add (f->events, event);
    }
}

static void
fixture_setup_full (Fixture                   *f,
                    const TdFeedManagerConfig *config)
{
  g_autofree char *db = NULL;
  TdFeedManagerConfig defaults = {
    .max_running = 4, .max_per_host = 2, .deadline_ms = 10000, .max_attempts = 2,
    .retry = { 20, 2.0, 100, 0.0 }, .startup_delay_ms = -1, .skip_icons = TRUE,
  };

  f->dir = g_dir_make_tmp ("td-feed-manager-XXXXXX", NULL);
  g_assert_nonnull (f->dir);
  db = g_build_filename (f->dir, "test.db", NULL);
  f->recorder = td_recorder_new (db, td_schema_app ());
  f->loop = td_task_loop_new (4);
  f->manager = td_feed_manager_new (f->recorder, f->loop, config ? config : &defaults);
  f->srv = server_new ();
  f->events = g_ptr_array_new_with_free_func ((GDestroyNotify) td_feed_event_free);
  g_queue_init (&f->replies);
  f->mailbox = td_mailbox_open (NULL, G_PRIORITY_DEFAULT, mail_cb, f, NULL);
  td_feed_manager_add_listener (f->manager, f->mailbox, MAIL_EVENT);
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  fixture_setup_full (f, data);
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        remove_tree (child);
      else
        g_remove (child);
    }
  g_rmdir (path);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_clear_pointer (&f->manager, td_feed_manager_free);
  g_assert_true (td_task_loop_shutdown (f->loop, 5000));
  td_task_loop_free (f->loop);
  g_assert_true (td_recorder_close (f->recorder, NULL));
  td_recorder_free (f->recorder);
  td_mailbox_close (f->mailbox);
  g_queue_clear_full (&f->replies, (GDestroyNotify) td_feed_reply_free);
  g_ptr_array_unref (f->events);
  server_free (f->srv);
  remove_tree (f->dir);
  g_free (f->dir);
}

static void
iterate_until (gboolean (*cond) (Fixture *f),
               Fixture  *f)
{
  gint64 deadline = g_get_monotonic_time () + DEADLINE_MS * 1000;

  while (!cond (f))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("condition not reached within %u ms", DEADLINE_MS);
      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (500);
    }
}

/* Iterates for @ms milliseconds, to show that nothing more happens. */
static void
iterate_for (guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;

  while (g_get_monotonic_time () < end)
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (500);
}

static gboolean
has_reply (Fixture *f)
{
  return !g_queue_is_empty (&f->replies);
}

/* Waits for the next reply; the caller owns it. */
static TdFeedReply *
wait_reply (Fixture *f)
{
  iterate_until (has_reply, f);
  return g_queue_pop_head (&f->replies);
}

static guint wanted_summaries;

static gboolean
has_summaries (Fixture *f)
{
  return f->n_summaries >= wanted_summaries;
}

/* Waits until @n refresh rounds have ended in all. */
static TdFeedEvent *
wait_summary (Fixture *f,
              guint    n)
{
  wanted_summaries = n;
  iterate_until (has_summaries, f);
  return f->last_summary;
}

static TdFeedInfo *
add_ok (Fixture    *f,
        const char *url,
        const char *folder,
        guint       n_items)
{
  g_autoptr(TdFeedReply) reply = NULL;

  td_feed_manager_add (f->manager, url, folder, f->mailbox, MAIL_REPLY, 7);
  reply = wait_reply (f);
  g_assert_no_error (reply->error);
  g_assert_cmpuint (reply->tag, ==, 7);
  g_assert_nonnull (reply->feed);
  g_assert_cmpuint (reply->total, ==, n_items);
  return g_steal_pointer (&reply->feed);
}

static GPtrArray *
list_feeds (Fixture *f)
{
  g_autoptr(TdFeedReply) reply = NULL;

  td_feed_manager_list_feeds (f->manager, f->mailbox, MAIL_REPLY, 0);
  reply = wait_reply (f);
  g_assert_no_error (reply->error);
  return g_steal_pointer (&reply->feeds);
}

static TdFeedInfo *
find_feed (GPtrArray *feeds,
           gint64     id)
{
  for (guint i = 0; i < feeds->len; i++)
    if (((TdFeedInfo *) g_ptr_array_index (feeds, i))->id == id)
      return g_ptr_array_index (feeds, i);
  return NULL;
}

static TdFeedReply *
load_items (Fixture           *f,
            const TdFeedQuery *query)
{
  TdFeedReply *reply;

  td_feed_manager_load_items (f->manager, query, 0, 1000, TRUE, f->mailbox, MAIL_REPLY, 0);
  reply = wait_reply (f);
  g_assert_no_error (reply->error);
  g_assert_cmpuint (reply->items->len, ==, reply->total);
  return reply;
}

static TdFeedReply *
feed_items (Fixture *f,
            gint64   feed_id)
{
  TdFeedQuery q = { .filter = TD_FEED_FILTER_FEED, .feed_id = feed_id };

  return load_items (f, &q);
}

static TdFeedItem *
item_by_title (TdFeedReply *reply,
               const char  *title)
{
  for (guint i = 0; i < reply->items->len; i++)
    {
      TdFeedItem *item = g_ptr_array_index (reply->items, i);

      if (g_strcmp0 (item->title, title) == 0)
        return item;
    }
  return NULL;
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */

static void
test_add_file (Fixture       *f,
               gconstpointer  data)
{
  g_autofree char *rss = make_rss ("Local", "loc", 1, 3, NULL);
  g_autofree char *path = g_build_filename (f->dir, "local.xml", NULL);
  g_autofree char *uri = g_filename_to_uri (path, NULL, NULL);
  g_autoptr(TdFeedInfo) info = NULL;
  g_autoptr(TdFeedReply) items = NULL;
  g_autoptr(TdFeedReply) again = NULL;
  g_autoptr(TdFeedReply) again_spaced = NULL;
  g_autofree char *spaced = NULL;
  g_autoptr(TdFeedReply) article = NULL;
  g_autoptr(GPtrArray) feeds = NULL;
  TdFeedItem *item;

  g_assert_true (g_file_set_contents (path, rss, -1, NULL));

  /* A plain path works as well as a file:// URI. */
  info = add_ok (f, path, NULL, 3);
  g_assert_cmpstr (info->url, ==, uri);
  g_assert_cmpstr (info->title, ==, "Local");

  items = feed_items (f, info->id);
  g_assert_cmpuint (items->total, ==, 3);
  /* Newest first. */
  g_assert_cmpstr (((TdFeedItem *) g_ptr_array_index (items->items, 0))->title, ==, "loc item 3");
  item = item_by_title (items, "loc item 2");
  g_assert_nonnull (item);
  g_assert_cmpstr (item->feed_title, ==, "Local");
  g_assert_cmpstr (item->link, ==, "https://example.org/loc/2");
  g_assert_false (item->read);

  td_feed_manager_load_item (f->manager, item->id, f->mailbox, MAIL_REPLY, 3);
  article = wait_reply (f);
  g_assert_no_error (article->error);
  g_assert_cmpstr (article->item->summary, ==, "Body of loc number 2 with word2");
  g_assert_nonnull (article->item->enclosures);

  feeds = list_feeds (f);
  g_assert_cmpuint (feeds->len, ==, 1);
  g_assert_cmpuint (((TdFeedInfo *) g_ptr_array_index (feeds, 0))->unread, ==, 3);
  g_assert_cmpstr (((TdFeedInfo *) g_ptr_array_index (feeds, 0))->site_link, ==, "https://example.org/loc");

  /* The same URL twice is refused, also as typed with space around it
   * (which is stripped before the address is checked). */
  td_feed_manager_add (f->manager, uri, NULL, f->mailbox, MAIL_REPLY, 0);
  again = wait_reply (f);
  g_assert_error (again->error, TD_FEED_MANAGER_ERROR, TD_FEED_MANAGER_ERROR_EXISTS);
  spaced = g_strdup_printf ("  %s\t\n", uri);
  td_feed_manager_add (f->manager, spaced, NULL, f->mailbox, MAIL_REPLY, 0);
  again_spaced = wait_reply (f);
  g_assert_error (again_spaced->error, TD_FEED_MANAGER_ERROR, TD_FEED_MANAGER_ERROR_EXISTS);
}

static void
test_add_errors (Fixture       *f,
                 gconstpointer  data)
{
  g_autofree char *missing = g_build_filename (f->dir, "missing.xml", NULL);
  g_autofree char *page_url = server_url (f->srv, "/page");
  g_autofree char *one_url = server_url (f->srv, "/one");
  g_autofree char *a_url = server_url (f->srv, "/a.xml");
  g_autofree char *b_url = server_url (f->srv, "/b.xml");
  g_autofree char *rss = make_rss ("A", "a", 1, 2, NULL);
  g_autofree char *page = g_strdup_printf ("<html><head><title>x</title>"
                                           "<link rel=\"alternate\" type=\"application/rss+xml\" title=\"Feed A\" href=\"/a.xml\">"
                                           "<link rel=\"alternate\" type=\"application/atom+xml\" title=\"Feed B\" href=\"%s\">"
                                           "</head><body>hi</body></html>", b_url);
  const char *one_page = "<html><head><link rel=\"alternate\" type=\"application/rss+xml\" href=\"a.xml\"></head></html>";
  g_autoptr(TdFeedReply) r1 = NULL;
  g_autoptr(TdFeedReply) r2 = NULL;
  g_autoptr(TdFeedReply) r3 = NULL;
  g_autoptr(TdFeedInfo) info = NULL;
  TdFeedChoice *choice;

  td_feed_manager_add (f->manager, "gopher://example.org/", NULL, f->mailbox, MAIL_REPLY, 0);
  r1 = wait_reply (f);
  g_assert_error (r1->error, TD_FEED_MANAGER_ERROR, TD_FEED_MANAGER_ERROR_INVALID);

  /* What GLib's relaxed parser takes but nothing can fetch: refused with
   * the address in the message. */
  {
    const char *bad[] = { "http://exa mple.org/feed", "https://example.org/%zz", "exa mple.org" };

    for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
      {
        g_autoptr(TdFeedReply) r = NULL;

        td_feed_manager_add (f->manager, bad[i], NULL, f->mailbox, MAIL_REPLY, 0);
        r = wait_reply (f);
        g_assert_error (r->error, TD_FEED_MANAGER_ERROR, TD_FEED_MANAGER_ERROR_INVALID);
        g_assert_nonnull (strstr (r->error->message, "not a valid address"));
      }
  }

  td_feed_manager_add (f->manager, missing, NULL, f->mailbox, MAIL_REPLY, 0);
  r2 = wait_reply (f);
  g_assert_nonnull (r2->error);

  /* A page naming two feeds: the choice goes back to the caller. */
  server_set (f->srv, "/page", 200, page, NULL);
  server_set (f->srv, "/a.xml", 200, rss, NULL);
  td_feed_manager_add (f->manager, page_url, NULL, f->mailbox, MAIL_REPLY, 0);
  r3 = wait_reply (f);
  g_assert_no_error (r3->error);
  g_assert_nonnull (r3->choices);
  g_assert_cmpuint (r3->choices->len, ==, 2);
  choice = g_ptr_array_index (r3->choices, 0);
  g_assert_cmpstr (choice->url, ==, a_url);
  g_assert_cmpstr (choice->title, ==, "Feed A");

  /* A page naming one feed: it is subscribed at once. */
  server_set (f->srv, "/one", 200, one_page, NULL);
  info = add_ok (f, one_url, NULL, 2);
  g_assert_cmpstr (info->url, ==, a_url);
}

static void
test_refresh_304_and_update (Fixture       *f,
                             gconstpointer  data)
{
  g_autofree char *url = server_url (f->srv, "/feed");
  g_autofree char *rss = make_rss ("Remote", "r", 1, 4, NULL);
  g_autofree char *rss2 = NULL;
  g_autoptr(TdFeedInfo) info = NULL;
  g_autoptr(TdFeedReply) before = NULL;
  g_autoptr(TdFeedReply) after = NULL;
  g_autoptr(TdFeedReply) after2 = NULL;
  TdFeedItem *item, *item_after;
  TdFeedEvent *summary;
  Doc *doc;
  gint64 id;

  doc = server_set (f->srv, "/feed", 200, rss, "\"v1\"");
  info = add_ok (f, url, "News", 4);
  g_assert_cmpstr (info->folder, ==, "News");
  before = feed_items (f, info->id);

  /* Unchanged: a conditional request, answered 304, stores nothing. */
  td_feed_manager_refresh (f->manager, info->id, TRUE);
  summary = wait_summary (f, 1);
  g_assert_cmpuint (doc->conditional_hits, ==, 1);
  g_assert_cmpuint (summary->done, ==, 1);
  g_assert_cmpuint (summary->total, ==, 1);
  g_assert_cmpuint (summary->n_new, ==, 0);
  after = feed_items (f, info->id);
  g_assert_cmpuint (after->total, ==, 4);

  /* Read and starred are the user's: a refresh never resets them. */
  item = item_by_title (before, "r item 2");
  id = item->id;
  td_feed_manager_set_read (f->manager, &id, 1, TRUE);
  td_feed_manager_set_starred (f->manager, id, TRUE);

  /* Changed: item 2's title is updated in place, item 5 is new. */
  rss2 = make_rss ("Remote", "r", 1, 5, " (updated)");
  server_set (f->srv, "/feed", 200, rss2, "\"v2\"");
  td_feed_manager_refresh (f->manager, info->id, TRUE);
  summary = wait_summary (f, 2);
  g_assert_cmpuint (summary->n_new, ==, 1);
  g_assert_cmpuint (summary->new_items->len, ==, 1);
  g_assert_cmpuint (((TdFeedNewItems *) g_ptr_array_index (summary->new_items, 0))->n_new, ==, 1);

  after2 = feed_items (f, info->id);
  g_assert_cmpuint (after2->total, ==, 5);
  item_after = item_by_title (after2, "r item 2 (updated)");
  g_assert_nonnull (item_after);
  g_assert_cmpint (item_after->id, ==, id);
  g_assert_true (item_after->read);
  g_assert_true (item_after->starred);
  g_assert_null (item_by_title (after2, "r item 2"));
}

static void
test_redirect_gone_error (Fixture       *f,
                          gconstpointer  data)
{
  g_autofree char *url = server_url (f->srv, "/old");
  g_autofree char *new_url = server_url (f->srv, "/new");
  g_autofree char *gone_url = server_url (f->srv, "/gone");
  g_autofree char *bad_url = server_url (f->srv, "/bad");
  g_autofree char *busy_url = server_url (f->srv, "/busy");
  g_autofree char *rss = make_rss ("Moving", "m", 1, 2, NULL);
  g_autoptr(TdFeedInfo) moving = NULL;
  g_autoptr(TdFeedInfo) gone = NULL;
  g_autoptr(TdFeedInfo) bad = NULL;
  g_autoptr(TdFeedInfo) busy = NULL;
  g_autoptr(GPtrArray) feeds = NULL;
  TdFeedInfo *info;
  TdFeedEvent *summary;
  Doc *doc, *busy_doc;

  server_set (f->srv, "/old", 200, rss, NULL);
  server_set (f->srv, "/new", 200, rss, NULL);
  server_set (f->srv, "/gone", 200, rss, NULL);
  server_set (f->srv, "/bad", 200, rss, NULL);
  server_set (f->srv, "/busy", 200, rss, NULL);
  moving = add_ok (f, url, NULL, 2);
  gone = add_ok (f, gone_url, NULL, 2);
  bad = add_ok (f, bad_url, NULL, 2);
  busy = add_ok (f, busy_url, NULL, 2);

  doc = server_set (f->srv, "/old", 301, NULL, NULL);
  doc->location = g_strdup (new_url);
  server_set (f->srv, "/gone", 410, NULL, NULL);
  server_set (f->srv, "/bad", 404, "not here", NULL);
  busy_doc = server_set (f->srv, "/busy", 503, "later", NULL);

  td_feed_manager_refresh_all (f->manager, FALSE);
  summary = wait_summary (f, 1);
  g_assert_cmpuint (summary->total, ==, 4);
  g_assert_cmpuint (summary->done, ==, 4);
  g_assert_cmpuint (summary->failed, ==, 2);
  /* 503 is transient: tried again, max_attempts (2) times. */
  g_assert_cmpuint (busy_doc->hits, ==, 1 + 2);

  feeds = list_feeds (f);
  info = find_feed (feeds, moving->id);
  g_assert_cmpstr (info->url, ==, new_url);
  g_assert_null (info->error_text);

  info = find_feed (feeds, gone->id);
  g_assert_true (info->gone);
  g_assert_nonnull (strstr (info->error_text, "410"));
  g_assert_cmpuint (info->n_items, ==, 2);

  info = find_feed (feeds, bad->id);
  g_assert_false (info->gone);
  g_assert_cmpuint (info->error_count, ==, 1);
  g_assert_nonnull (strstr (info->error_text, "404"));

  info = find_feed (feeds, busy->id);
  g_assert_cmpuint (info->error_count, ==, 1);
  g_assert_nonnull (info->error_text);

  /* A gone feed is left out of "refresh all"; the others recover. */
  server_set (f->srv, "/bad", 200, rss, NULL);
  td_feed_manager_refresh_all (f->manager, TRUE);
  summary = wait_summary (f, 2);
  g_assert_cmpuint (summary->total, ==, 3);
  g_clear_pointer (&feeds, g_ptr_array_unref);
  feeds = list_feeds (f);
  g_assert_cmpuint (find_feed (feeds, bad->id)->error_count, ==, 0);
  g_assert_null (find_feed (feeds, bad->id)->error_text);
}

static gboolean
is_held (Fixture *f)
{
  return f->srv->held->len > 0;
}

static void
test_remove_in_flight (Fixture       *f,
                       gconstpointer  data)
{
  g_autofree char *url = server_url (f->srv, "/slow");
  g_autofree char *rss = make_rss ("Slow", "s", 1, 2, NULL);
  g_autofree char *rss2 = make_rss ("Slow", "s", 1, 6, NULL);
  g_autoptr(TdFeedInfo) info = NULL;
  g_autoptr(TdFeedReply) removed = NULL;
  g_autoptr(TdFeedReply) items = NULL;
  g_autoptr(GPtrArray) feeds = NULL;
  TdFeedQuery all = { .filter = TD_FEED_FILTER_ALL };
  Doc *doc;

  server_set (f->srv, "/slow", 200, rss, NULL);
  info = add_ok (f, url, NULL, 2);

  doc = server_set (f->srv, "/slow", 200, rss2, NULL);
  doc->hold = TRUE;
  td_feed_manager_refresh (f->manager, info->id, TRUE);
  iterate_until (is_held, f);
  g_assert_cmpuint (td_feed_manager_get_n_pending (f->manager), ==, 1);

  td_feed_manager_remove (f->manager, info->id, f->mailbox, MAIL_REPLY, 0);
  removed = wait_reply (f);
  g_assert_no_error (removed->error);
  g_assert_cmpuint (td_feed_manager_get_n_pending (f->manager), ==, 0);

  /* The answer comes after all: it must not bring the feed back. */
  server_release (f->srv);
  iterate_for (300);

  feeds = list_feeds (f);
  g_assert_cmpuint (feeds->len, ==, 0);
  items = load_items (f, &all);
  g_assert_cmpuint (items->total, ==, 0);
}

static void
test_many_feeds (Fixture       *f,
                 gconstpointer  data)
{
  const guint n = 500;
  GString *opml = g_string_new ("<?xml version=\"1.0\"?><opml version=\"2.0\"><head><title>many</title></head><body>");
  g_autofree char *opml_path = g_build_filename (f->dir, "many.opml", NULL);
  g_autoptr(GFile) file = g_file_new_for_path (opml_path);
  g_autoptr(TdFeedReply) imported = NULL;
  g_autoptr(GPtrArray) feeds = NULL;
  TdFeedEvent *summary;
  guint n_progress = 0;

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *path = g_strdup_printf ("/many/%u", i);
      g_autofree char *url = server_url (f->srv, path);
      g_autofree char *prefix = g_strdup_printf ("f%u", i);
      g_autofree char *rss = make_rss (prefix, prefix, 1, 3, NULL);
      Doc *doc = server_set (f->srv, path, 200, rss, NULL);

      /* Slow enough that requests overlap and the limit matters. */
      doc->delay_ms = 2;
      g_string_append_printf (opml, "<outline type=\"rss\" text=\"%s\" xmlUrl=\"%s\"/>", prefix, url);
    }
  g_string_append (opml, "</body></opml>");
  g_assert_true (g_file_set_contents (opml_path, opml->str, -1, NULL));
  g_string_free (opml, TRUE);

  td_feed_manager_import_opml (f->manager, file, f->mailbox, MAIL_REPLY, 0);
  imported = wait_reply (f);
  g_assert_no_error (imported->error);
  g_assert_cmpuint (imported->total, ==, n);

  summary = wait_summary (f, 1);
  g_assert_cmpuint (summary->total, ==, n);
  g_assert_cmpuint (summary->done, ==, n);
  g_assert_cmpuint (summary->failed, ==, 0);
  g_assert_cmpuint (summary->n_new, ==, 3 * n);
  g_assert_cmpuint (summary->new_items->len, ==, n);

  /* One host: never more than max_per_host at once, but in parallel. */
  g_assert_cmpuint (f->srv->max_running, <=, 2);
  g_assert_cmpuint (f->srv->max_running, ==, 2);
  g_assert_cmpuint (f->srv->n_requests, ==, n);

  for (guint i = 0; i < f->events->len; i++)
    if (((TdFeedEvent *) g_ptr_array_index (f->events, i))->type == TD_FEED_EVENT_PROGRESS)
      n_progress++;
  g_assert_cmpuint (n_progress, >=, n);

  feeds = list_feeds (f);
  g_assert_cmpuint (feeds->len, ==, n);
  for (guint i = 0; i < feeds->len; i++)
    {
      TdFeedInfo *info = g_ptr_array_index (feeds, i);

      g_assert_cmpuint (info->n_items, ==, 3);
      g_assert_cmpuint (info->unread, ==, 3);
      g_assert_null (info->error_text);
    }
}

static void
test_items_kept (Fixture       *f,
                 gconstpointer  data)
{
  g_autofree char *url = server_url (f->srv, "/prune");
  g_autofree char *rss = make_rss ("Prune", "i", 1, 8, NULL);
  g_autofree char *rss2 = make_rss ("Prune", "n", 1, 3, NULL);
  g_autoptr(TdFeedInfo) info = NULL;
  g_autoptr(TdFeedReply) before = NULL;
  g_autoptr(TdFeedReply) after = NULL;
  const char *kept[] = { "i item 4", "i item 8", "n item 1", "n item 2", "n item 3" };
  gint64 read_ids[3];

  server_set (f->srv, "/prune", 200, rss, NULL);
  /* Everything in the document is kept, even over the limit. */
  info = add_ok (f, url, NULL, 8);
  before = feed_items (f, info->id);
  g_assert_cmpuint (before->total, ==, 8);

  for (guint i = 0; i < 3; i++)
    read_ids[i] = item_by_title (before, (const char *[]) { "i item 1", "i item 2", "i item 3" }[i])->id;
  td_feed_manager_set_read (f->manager, read_ids, 3, TRUE);
  td_feed_manager_set_starred (f->manager, item_by_title (before, "i item 4")->id, TRUE);

  /* Three new items: eleven in all, five kept: the starred one, the
   * current three, then the newest unread; read ones went first. */
  server_set (f->srv, "/prune", 200, rss2, NULL);
  td_feed_manager_refresh (f->manager, info->id, TRUE);
  wait_summary (f, 1);
  after = feed_items (f, info->id);
  g_assert_cmpuint (after->total, ==, 5);
  for (guint i = 0; i < G_N_ELEMENTS (kept); i++)
    g_assert_nonnull (item_by_title (after, kept[i]));
}

static void
test_search_and_marks (Fixture       *f,
                       gconstpointer  data)
{
  g_autofree char *rss = make_rss ("Searchable", "q", 1, 5, NULL);
  g_autofree char *path = g_build_filename (f->dir, "search.xml", NULL);
  g_autoptr(TdFeedInfo) info = NULL;
  g_autoptr(TdFeedReply) found = NULL;
  g_autoptr(TdFeedReply) prefix = NULL;
  g_autoptr(TdFeedReply) none = NULL;
  g_autoptr(TdFeedReply) hostile = NULL;
  g_autoptr(TdFeedReply) unread = NULL;
  g_autoptr(TdFeedReply) starred = NULL;
  g_autoptr(TdFeedReply) after_delete = NULL;
  g_autoptr(GPtrArray) feeds = NULL;
  TdFeedQuery q = { .filter = TD_FEED_FILTER_ALL, .search = "word3" };
  TdFeedQuery q_unread = { .filter = TD_FEED_FILTER_UNREAD };
  TdFeedQuery q_starred = { .filter = TD_FEED_FILTER_STARRED };

  g_assert_true (g_file_set_contents (path, rss, -1, NULL));
  info = add_ok (f, path, NULL, 5);

  found = load_items (f, &q);
  g_assert_cmpuint (found->total, ==, 1);
  g_assert_cmpstr (((TdFeedItem *) g_ptr_array_index (found->items, 0))->title, ==, "q item 3");

  /* Words are prefixes, and every word must match. */
  q.search = "numb q";
  prefix = load_items (f, &q);
  g_assert_cmpuint (prefix->total, ==, 5);
  q.search = "word3 word4";
  none = load_items (f, &q);
  g_assert_cmpuint (none->total, ==, 0);
  /* FTS syntax in the user's text is just text. */
  q.search = "\"NEAR( OR * -:^";
  hostile = load_items (f, &q);
  g_assert_cmpuint (hostile->total, ==, 0);

  td_feed_manager_set_starred (f->manager, ((TdFeedItem *) g_ptr_array_index (found->items, 0))->id, TRUE);
  td_feed_manager_mark_all_read (f->manager, &(TdFeedQuery) { .filter = TD_FEED_FILTER_FEED, .feed_id = info->id });
  unread = load_items (f, &q_unread);
  g_assert_cmpuint (unread->total, ==, 0);
  starred = load_items (f, &q_starred);
  g_assert_cmpuint (starred->total, ==, 1);

  td_feed_manager_delete_item (f->manager, ((TdFeedItem *) g_ptr_array_index (found->items, 0))->id);
  after_delete = feed_items (f, info->id);
  g_assert_cmpuint (after_delete->total, ==, 4);

  feeds = list_feeds (f);
  g_assert_cmpuint (((TdFeedInfo *) g_ptr_array_index (feeds, 0))->unread, ==, 0);
  g_assert_cmpuint (((TdFeedInfo *) g_ptr_array_index (feeds, 0))->n_items, ==, 4);
}

/* A deleted item stays deleted while the feed carries it; once the feed
 * has dropped it, its tombstone goes, and an item published again under
 * the same key is new again. */
static void
test_deleted_stay_deleted (Fixture       *f,
                           gconstpointer  data)
{
  g_autofree char *url = server_url (f->srv, "/tomb");
  g_autofree char *rss = make_rss ("Tomb", "t", 1, 3, NULL);
  g_autofree char *rss_more = make_rss ("Tomb", "t", 1, 4, NULL);
  g_autofree char *rss_changed = make_rss ("Tomb", "t", 1, 4, " (edited)");
  g_autofree char *rss_dropped = make_rss ("Tomb", "t", 3, 2, NULL);
  g_autoptr(TdFeedInfo) info = NULL;
  g_autoptr(TdFeedReply) before = NULL;
  g_autoptr(TdFeedReply) after = NULL;
  g_autoptr(TdFeedReply) edited = NULL;
  g_autoptr(TdFeedReply) back = NULL;
  g_autoptr(GPtrArray) feeds = NULL;
  TdFeedEvent *summary;

  server_set (f->srv, "/tomb", 200, rss, "\"t1\"");
  info = add_ok (f, url, NULL, 3);
  before = feed_items (f, info->id);
  td_feed_manager_delete_item (f->manager, item_by_title (before, "t item 2")->id);

  /* The feed still carries item 2, and has a new one. */
  server_set (f->srv, "/tomb", 200, rss_more, "\"t2\"");
  td_feed_manager_refresh (f->manager, info->id, TRUE);
  summary = wait_summary (f, 1);
  g_assert_cmpuint (summary->n_new, ==, 1);
  after = feed_items (f, info->id);
  g_assert_cmpuint (after->total, ==, 3);
  g_assert_null (item_by_title (after, "t item 2"));
  g_assert_nonnull (item_by_title (after, "t item 4"));

  /* Edited upstream: still not back, not even as an update. */
  server_set (f->srv, "/tomb", 200, rss_changed, "\"t3\"");
  td_feed_manager_refresh (f->manager, info->id, TRUE);
  summary = wait_summary (f, 2);
  g_assert_cmpuint (summary->n_new, ==, 0);
  edited = feed_items (f, info->id);
  g_assert_cmpuint (edited->total, ==, 3);
  g_assert_null (item_by_title (edited, "t item 2 (edited)"));
  g_assert_nonnull (item_by_title (edited, "t item 1 (edited)"));
  feeds = list_feeds (f);
  g_assert_cmpuint (find_feed (feeds, info->id)->n_items, ==, 3);

  /* The feed drops item 2: the tombstone goes with it. Published again,
   * it is a new item. */
  server_set (f->srv, "/tomb", 200, rss_dropped, "\"t4\"");
  td_feed_manager_refresh (f->manager, info->id, TRUE);
  wait_summary (f, 3);
  server_set (f->srv, "/tomb", 200, rss_more, "\"t5\"");
  td_feed_manager_refresh (f->manager, info->id, TRUE);
  summary = wait_summary (f, 4);
  g_assert_cmpuint (summary->n_new, ==, 1);
  back = feed_items (f, info->id);
  g_assert_nonnull (item_by_title (back, "t item 2"));
  g_assert_false (item_by_title (back, "t item 2")->read);
}

static guint
count_unread (TdFeedReply *reply)
{
  guint n = 0;

  for (guint i = 0; i < reply->items->len; i++)
    if (!((TdFeedItem *) g_ptr_array_index (reply->items, i))->read)
      n++;
  return n;
}

/* "Mark all read" marks what the list shows: the filter and the search. */
static void
test_mark_all_read_search (Fixture       *f,
                           gconstpointer  data)
{
  g_autofree char *rss_q = make_rss ("Queue", "q", 1, 5, NULL);
  g_autofree char *rss_p = make_rss ("Pile", "p", 1, 3, NULL);
  g_autofree char *path_q = g_build_filename (f->dir, "q.xml", NULL);
  g_autofree char *path_p = g_build_filename (f->dir, "p.xml", NULL);
  g_autoptr(TdFeedInfo) q = NULL;
  g_autoptr(TdFeedInfo) p = NULL;
  TdFeedQuery all = { .filter = TD_FEED_FILTER_ALL };
  struct {
    TdFeedQuery  query;
    const char  *now_read[3];
    guint        unread_left;
  } steps[] = {
    /* Both feeds have a "word3" item. */
    { { .filter = TD_FEED_FILTER_ALL, .search = "word3" }, { "q item 3", "p item 3" }, 6 },
    /* One feed only, though the other's item 1 matches too. */
    { { .filter = TD_FEED_FILTER_FEED, .search = "word1" }, { "q item 1" }, 5 },
    /* The Unread view, searched: the words are prefixes. */
    { { .filter = TD_FEED_FILTER_UNREAD, .search = "pile" }, { NULL }, 5 },
    { { .filter = TD_FEED_FILTER_UNREAD, .search = "p ite" }, { "p item 1", "p item 2" }, 3 },
    /* A folder with unread_only, searched. */
    { { .filter = TD_FEED_FILTER_FOLDER, .folder = "Work", .unread_only = TRUE, .search = "word5" },
      { "q item 5" }, 2 },
    /* No search: everything the filter shows. */
    { { .filter = TD_FEED_FILTER_ALL }, { "q item 2", "q item 4" }, 0 },
  };

  g_assert_true (g_file_set_contents (path_q, rss_q, -1, NULL));
  g_assert_true (g_file_set_contents (path_p, rss_p, -1, NULL));
  q = add_ok (f, path_q, "Work", 5);
  p = add_ok (f, path_p, NULL, 3);
  steps[1].query.feed_id = q->id;

  for (guint s = 0; s < G_N_ELEMENTS (steps); s++)
    {
      g_autoptr(TdFeedReply) items = NULL;
      g_autoptr(GPtrArray) feeds = NULL;

      td_feed_manager_mark_all_read (f->manager, &steps[s].query);
      items = load_items (f, &all);
      g_assert_cmpuint (count_unread (items), ==, steps[s].unread_left);
      for (guint i = 0; i < G_N_ELEMENTS (steps[s].now_read) && steps[s].now_read[i]; i++)
        g_assert_true (item_by_title (items, steps[s].now_read[i])->read);

      feeds = list_feeds (f);
      g_assert_cmpuint (find_feed (feeds, q->id)->unread + find_feed (feeds, p->id)->unread, ==,
                        steps[s].unread_left);
    }
}

/* ------------------------------------------------------------------ */
/* Icons                                                               */

/* A @width × @height PNG of one opaque colour. */
static char *
make_png (guint  width,
          guint  height,
          guint32 rgb,
          gsize  *len)
{
  g_autoptr(GdkPixbuf) pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, TRUE, 8, width, height);
  char *data = NULL;

  gdk_pixbuf_fill (pixbuf, (rgb << 8) | 0xff);
  g_assert_true (gdk_pixbuf_save_to_buffer (pixbuf, &data, len, "png", NULL, NULL));
  return data;
}

static void
serve_png (Server     *srv,
           const char *path,
           guint       width,
           guint       height,
           guint32     rgb)
{
  gsize len = 0;
  g_autofree char *png = make_png (width, height, rgb, &len);

  server_set_data (srv, path, png, len);
}

/* An RSS feed with one item, its site at @site and its channel image
 * at @image (or none). */
static char *
rss_with_image (const char *title,
                const char *site,
                const char *image)
{
  g_autofree char *element = image ? g_strdup_printf ("<image><url>%s</url><title>%s</title>"
                                                      "<link>%s</link></image>", image, title, site)
                                   : g_strdup ("");

  return g_strdup_printf ("<?xml version=\"1.0\"?>\n<rss version=\"2.0\"><channel>"
                          "<title>%s</title><link>%s</link><description>test</description>%s"
                          "<item><guid>%s-1</guid><title>%s item</title></item></channel></rss>\n",
                          title, site, element, title, title);
}

/* The colour (0xRRGGBB) at the centre of @feed_id's large icon, or -1 if
 * it has none. */
static gint64
icon_colour (Fixture *f,
             gint64   feed_id)
{
  g_autoptr(GPtrArray) feeds = list_feeds (f);
  TdFeedInfo *info = find_feed (feeds, feed_id);
  const guint8 *p;
  gsize len;

  g_assert_nonnull (info);
  if (info->icon_large == NULL)
    return -1;
  g_assert_nonnull (info->icon_small);
  g_assert_cmpuint (g_bytes_get_size (info->icon_small), ==, 16 * 16 * 4);
  p = g_bytes_get_data (info->icon_large, &len);
  g_assert_cmpuint (len, ==, 32 * 32 * 4);
  p += (16 * 32 + 16) * 4;
  g_assert_cmpuint (p[3], ==, 0xff);
  return (p[0] << 16) | (p[1] << 8) | p[2];
}

/* Waits until @feed_id's icon is @colour (-1: none). */
static void
wait_icon (Fixture *f,
           gint64   feed_id,
           gint64   colour)
{
  gint64 deadline = g_get_monotonic_time () + DEADLINE_MS * 1000;

  while (icon_colour (f, feed_id) != colour)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("feed %" G_GINT64_FORMAT " did not get icon %06" G_GINT64_MODIFIER "x", feed_id, colour);
      iterate_for (20);
    }
}

static guint
count_files (const char *path,
             const char *suffix)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;
  guint n = 0;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_suffix (name, suffix))
      n++;
  return n;
}

static void
test_icon_url (void)
{
  static const struct { const char *feed, *icon, *site, *expected; } cases[] = {
    { "https://a.example/feed", "https://cdn.example/i.png", NULL, "https://cdn.example/i.png" },
    { "https://a.example/feed", NULL, "http://www.a.example:8080/blog/", "http://www.a.example:8080/favicon.ico" },
    { "https://a.example/x/feed.xml", NULL, NULL, "https://a.example/favicon.ico" },
    { "https://a.example/feed", "", "mailto:x@example.org", "https://a.example/favicon.ico" },
    { "https://a.example/feed", "data:image/png;base64,AAAA", NULL, "https://a.example/favicon.ico" },
    /* Local feeds never cause a network request. */
    { "file:///tmp/f.xml", "https://cdn.example/i.png", "https://a.example/", NULL },
    { "file:///tmp/f.xml", "file:///tmp/i.png", NULL, "file:///tmp/i.png" },
    { "not a url", NULL, NULL, NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *url = td_feed_icon_url (cases[i].feed, cases[i].icon, cases[i].site);

      g_assert_cmpstr (url, ==, cases[i].expected);
    }
}

static void
test_icon_decode (void)
{
  gsize len = 0;
  g_autofree char *wide = make_png (40, 10, 0x00ff00, &len);
  g_autofree char *huge = NULL;
  g_autoptr(TdFeedIcon) icon = NULL;
  g_autoptr(TdFeedIcon) none = NULL;
  g_autoptr(GError) error = NULL;
  const guint8 *p;

  /* Wider than high: centred, transparent above and below. */
  icon = td_feed_icon_decode ("u", (const guint8 *) wide, len, &error);
  g_assert_no_error (error);
  p = g_bytes_get_data (icon->rgba_large, NULL);
  g_assert_cmpuint (p[3], ==, 0);
  g_assert_cmpuint (p[(16 * 32 + 16) * 4 + 1], ==, 0xff);
  g_assert_cmpuint (p[(16 * 32 + 16) * 4 + 3], ==, 0xff);

  /* More pixels than an icon may have: refused before decoding. */
  huge = make_png (2000, 600, 0xff0000, &len);
  none = td_feed_icon_decode ("u", (const guint8 *) huge, len, &error);
  g_assert_null (none);
  g_assert_error (error, TD_FEED_ICON_ERROR, TD_FEED_ICON_ERROR_REFUSED);
  g_clear_error (&error);

  none = td_feed_icon_decode ("u", (const guint8 *) "<svg xmlns='http://www.w3.org/2000/svg'/>", 41, &error);
  g_assert_null (none);
  g_assert_nonnull (error);
  g_clear_error (&error);

  none = td_feed_icon_decode ("u", (const guint8 *) "not an image", 12, &error);
  g_assert_null (none);
  g_assert_nonnull (error);
}

static gboolean
has_failed_icon (Fixture *f)
{
  g_autofree char *icon_dir = g_build_filename (f->dir, "icons", NULL);

  return count_files (icon_dir, ".failed") > 0;
}

/* Icons: the feed's image, else the site's favicon; fetched once per
 * URL, cached on disk, replaced when the feed names another one, and
 * failures remembered. */
static void
test_icons (Fixture       *f,
            gconstpointer  data)
{
  g_autofree char *icon_dir = g_build_filename (f->dir, "icons", NULL);
  g_autofree char *red_url = server_url (f->srv, "/red.png");
  g_autofree char *blue_url = server_url (f->srv, "/blue.png");
  g_autofree char *huge_url = server_url (f->srv, "/huge.png");
  g_autofree char *feed1_url = server_url (f->srv, "/f1");
  g_autofree char *feed2_url = server_url (f->srv, "/f2");
  g_autofree char *feed3_url = server_url (f->srv, "/f3");
  g_autofree char *site = server_url (f->srv, "/site/");
  g_autofree char *rss1 = rss_with_image ("one", "https://example.org/", red_url);
  g_autofree char *rss1b = rss_with_image ("one", "https://example.org/", blue_url);
  g_autofree char *rss2 = rss_with_image ("two", site, NULL);
  g_autofree char *rss3 = rss_with_image ("three", site, huge_url);
  g_autoptr(TdFeedInfo) one = NULL;
  g_autoptr(TdFeedInfo) two = NULL;
  g_autoptr(TdFeedInfo) three = NULL;
  TdFeedManagerConfig config = {
    .max_running = 4, .max_per_host = 2, .startup_delay_ms = -1, .icon_dir = icon_dir,
  };
  Doc *red, *blue, *favicon, *huge;

  g_clear_pointer (&f->manager, td_feed_manager_free);
  f->manager = td_feed_manager_new (f->recorder, f->loop, &config);
  td_feed_manager_add_listener (f->manager, f->mailbox, MAIL_EVENT);

  serve_png (f->srv, "/red.png", 64, 64, 0xff0000);
  serve_png (f->srv, "/blue.png", 16, 16, 0x0000ff);
  serve_png (f->srv, "/favicon.ico", 32, 32, 0x00ff00);
  serve_png (f->srv, "/huge.png", 2000, 600, 0x00ffff);
  red = g_hash_table_lookup (f->srv->docs, "/red.png");
  blue = g_hash_table_lookup (f->srv->docs, "/blue.png");
  favicon = g_hash_table_lookup (f->srv->docs, "/favicon.ico");
  huge = g_hash_table_lookup (f->srv->docs, "/huge.png");
  server_set (f->srv, "/f1", 200, rss1, "\"a\"");
  server_set (f->srv, "/f2", 200, rss2, NULL);
  server_set (f->srv, "/f3", 200, rss3, NULL);

  one = add_ok (f, feed1_url, NULL, 1);
  two = add_ok (f, feed2_url, NULL, 1);
  three = add_ok (f, feed3_url, NULL, 1);
  wait_icon (f, one->id, 0xff0000);
  /* No image in the feed: the site's favicon. */
  wait_icon (f, two->id, 0x00ff00);
  /* Too many pixels: the placeholder, and no second try for a day. */
  iterate_until (has_failed_icon, f);
  g_assert_cmpint (icon_colour (f, three->id), ==, -1);
  g_assert_cmpuint (count_files (icon_dir, ".png"), ==, 4);
  g_assert_cmpuint (count_files (icon_dir, ".failed"), ==, 1);
  td_feed_manager_refresh (f->manager, three->id, TRUE);
  wait_summary (f, 1);
  iterate_for (100);
  g_assert_cmpuint (huge->hits, ==, 1);
  g_assert_cmpuint (red->hits, ==, 1);
  g_assert_cmpuint (favicon->hits, ==, 1);

  /* The feed names another image: it replaces the old one. */
  server_set (f->srv, "/f1", 200, rss1b, "\"b\"");
  td_feed_manager_refresh (f->manager, one->id, TRUE);
  wait_icon (f, one->id, 0x0000ff);
  g_assert_cmpuint (blue->hits, ==, 1);

  /* A new manager on the same cache reads the icons from the disk. */
  g_clear_pointer (&f->manager, td_feed_manager_free);
  f->manager = td_feed_manager_new (f->recorder, f->loop, &config);
  wait_icon (f, one->id, 0x0000ff);
  wait_icon (f, two->id, 0x00ff00);
  g_assert_cmpuint (blue->hits, ==, 1);
  g_assert_cmpuint (favicon->hits, ==, 1);
}

static void
collect_urls (GPtrArray  *outlines,
              const char *folder,
              GString    *out)
{
  for (guint i = 0; outlines && i < outlines->len; i++)
    {
      TdOpmlOutline *o = g_ptr_array_index (outlines, i);

      if (o->xml_url)
        g_string_append_printf (out, "%s|%s\n", folder ? folder : "", o->xml_url);
      else
        {
          g_autofree char *path = folder ? g_strconcat (folder, "/", o->title, NULL) : g_strdup (o->title);

          collect_urls (o->children, path, out);
        }
    }
}

#define OPML_TEMPLATE \
    "<?xml version=\"1.0\"?><opml version=\"1.0\"><head><title>Mine</title></head><body>" \
    "<outline text=\"Top\" type=\"rss\" xmlUrl=\"%s/o1\"/>" \
    "<outline text=\"Tech\">" \
    "  <outline text=\"One\" type=\"rss\" xmlUrl=\"%s/o2\" htmlUrl=\"https://example.org/\"/>" \
    "  <outline text=\"Deep\"><outline text=\"Two\" type=\"rss\" xmlUrl=\"%s/o3\"/></outline>" \
    "</outline>" \
    "<outline text=\"Dup\" type=\"rss\" xmlUrl=\"%s/o1\"/>" \
    "<outline text=\"Bad\" type=\"rss\" xmlUrl=\"gopher://x/\"/>" \
    "</body></opml>"

static void
test_opml (Fixture       *f,
           gconstpointer  data)
{
  g_autofree char *text = g_strdup_printf (OPML_TEMPLATE, f->srv->base, f->srv->base, f->srv->base, f->srv->base);
  g_autofree char *path = g_build_filename (f->dir, "in.opml", NULL);
  g_autofree char *out_path = g_build_filename (f->dir, "out.opml", NULL);
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autoptr(GFile) out_file = g_file_new_for_path (out_path);
  g_autoptr(TdFeedReply) imported = NULL;
  g_autoptr(TdFeedReply) exported = NULL;
  g_autoptr(TdFeedReply) exported_text = NULL;
  g_autoptr(TdFeedReply) bad = NULL;
  g_autoptr(GPtrArray) feeds = NULL;
  g_autoptr(TdOpml) parsed = NULL;
  g_autoptr(GString) urls = g_string_new (NULL);
  g_autofree char *expected = NULL;
  g_autofree char *written = NULL;
  g_autofree char *bad_path = g_build_filename (f->dir, "bad.opml", NULL);
  g_autoptr(GFile) bad_file = g_file_new_for_path (bad_path);
  gsize len;

  for (guint i = 1; i <= 3; i++)
    {
      g_autofree char *p = g_strdup_printf ("/o%u", i);
      g_autofree char *rss = make_rss (p + 1, p + 1, 1, 1, NULL);

      server_set (f->srv, p, 200, rss, NULL);
    }
  g_assert_true (g_file_set_contents (path, text, -1, NULL));

  td_feed_manager_import_opml (f->manager, file, f->mailbox, MAIL_REPLY, 0);
  imported = wait_reply (f);
  g_assert_no_error (imported->error);
  g_assert_cmpuint (imported->total, ==, 3);
  wait_summary (f, 1);

  feeds = list_feeds (f);
  g_assert_cmpuint (feeds->len, ==, 3);
  for (guint i = 0; i < feeds->len; i++)
    {
      TdFeedInfo *info = g_ptr_array_index (feeds, i);

      g_assert_cmpuint (info->n_items, ==, 1);
      if (g_str_has_suffix (info->url, "/o1"))
        g_assert_null (info->folder);
      else if (g_str_has_suffix (info->url, "/o2"))
        g_assert_cmpstr (info->folder, ==, "Tech");
      else
        g_assert_cmpstr (info->folder, ==, "Tech/Deep");
    }

  /* Export to a file, and read it back with the OPML module. */
  td_feed_manager_export_opml (f->manager, out_file, f->mailbox, MAIL_REPLY, 0);
  exported = wait_reply (f);
  g_assert_no_error (exported->error);
  g_assert_cmpuint (exported->total, ==, 3);
  g_assert_true (g_file_get_contents (out_path, &written, &len, NULL));
  parsed = td_opml_parse (written, len, NULL, NULL);
  g_assert_nonnull (parsed);
  collect_urls (parsed->outlines, NULL, urls);
  expected = g_strdup_printf ("|%s/o1\nTech|%s/o2\nTech/Deep|%s/o3\n", f->srv->base, f->srv->base, f->srv->base);
  g_assert_cmpstr (urls->str, ==, expected);

  /* Without a file the document comes back in the reply. */
  td_feed_manager_export_opml (f->manager, NULL, f->mailbox, MAIL_REPLY, 0);
  exported_text = wait_reply (f);
  g_assert_cmpstr (exported_text->text, ==, written);

  /* Importing the same file again adds nothing; a non-OPML file fails. */
  g_assert_true (g_file_set_contents (bad_path, "<html/>", -1, NULL));
  td_feed_manager_import_opml (f->manager, bad_file, f->mailbox, MAIL_REPLY, 0);
  bad = wait_reply (f);
  g_assert_nonnull (bad->error);
}

static void
test_restart (Fixture       *f,
              gconstpointer  data)
{
  g_autofree char *url = server_url (f->srv, "/keep");
  g_autofree char *rss = make_rss ("Kept", "k", 1, 2, NULL);
  g_autoptr(TdFeedInfo) info = NULL;
  g_autoptr(TdFeedReply) items = NULL;
  g_autoptr(GPtrArray) feeds = NULL;
  g_autofree char *db = g_build_filename (f->dir, "test.db", NULL);
  TdFeedManagerConfig config = { .startup_delay_ms = 0, .max_per_host = 2, .refresh_interval = 1,
                                 .skip_icons = TRUE };
  TdFeedEvent *summary;
  Doc *doc;
  gint64 id;

  doc = server_set (f->srv, "/keep", 200, rss, "\"k1\"");
  info = add_ok (f, url, NULL, 2);
  id = ((TdFeedItem *) g_ptr_array_index ((items = feed_items (f, info->id))->items, 0))->id;
  td_feed_manager_set_read (f->manager, &id, 1, TRUE);
  g_clear_pointer (&items, td_feed_reply_free);

  /* A new manager on the same database, with a one-second interval: the
   * list comes back, and the feed is refreshed once due, with the stored
   * validators. */
  g_clear_pointer (&f->manager, td_feed_manager_free);
  g_assert_true (td_recorder_close (f->recorder, NULL));
  td_recorder_free (f->recorder);
  f->recorder = td_recorder_new (db, td_schema_app ());
  td_mailbox_close (f->mailbox);
  f->mailbox = td_mailbox_open (NULL, G_PRIORITY_DEFAULT, mail_cb, f, NULL);
  f->manager = td_feed_manager_new (f->recorder, f->loop, &config);
  td_feed_manager_add_listener (f->manager, f->mailbox, MAIL_EVENT);

  summary = wait_summary (f, 1);
  g_assert_cmpuint (summary->total, ==, 1);
  g_assert_cmpuint (doc->conditional_hits, ==, 1);

  td_feed_manager_set_properties (f->manager, info->id, "My Title", 60, "Folder", f->mailbox, MAIL_REPLY, 0);
  td_feed_reply_free (wait_reply (f));
  feeds = list_feeds (f);
  g_assert_cmpuint (feeds->len, ==, 1);
  g_assert_cmpstr (((TdFeedInfo *) g_ptr_array_index (feeds, 0))->title, ==, "My Title");
  g_assert_cmpstr (((TdFeedInfo *) g_ptr_array_index (feeds, 0))->feed_title, ==, "Kept");
  g_assert_cmpstr (((TdFeedInfo *) g_ptr_array_index (feeds, 0))->folder, ==, "Folder");
  g_assert_cmpuint (((TdFeedInfo *) g_ptr_array_index (feeds, 0))->refresh_interval, ==, 60);
  g_assert_cmpuint (((TdFeedInfo *) g_ptr_array_index (feeds, 0))->unread, ==, 1);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/td/feed-manager/icon-url", test_icon_url);
  g_test_add_func ("/td/feed-manager/icon-decode", test_icon_decode);

#define ADD(name, func) \
  g_test_add ("/td/feed-manager/" name, Fixture, NULL, fixture_setup, func, fixture_teardown)

  ADD ("add-file", test_add_file);
  ADD ("add-errors", test_add_errors);
  ADD ("refresh-304-update", test_refresh_304_and_update);
  ADD ("redirect-gone-error", test_redirect_gone_error);
  ADD ("remove-in-flight", test_remove_in_flight);
  ADD ("many-feeds", test_many_feeds);
  ADD ("search-marks", test_search_and_marks);
  ADD ("deleted-stay-deleted", test_deleted_stay_deleted);
  ADD ("mark-all-read-search", test_mark_all_read_search);
  ADD ("icons", test_icons);
  ADD ("opml", test_opml);
  ADD ("restart", test_restart);

#undef ADD

  {
    static const TdFeedManagerConfig kept5 = {
      .max_running = 4, .max_per_host = 2, .items_kept = 5, .startup_delay_ms = -1, .skip_icons = TRUE,
    };

    g_test_add ("/td/feed-manager/items-kept", Fixture, &kept5, fixture_setup, test_items_kept,
                fixture_teardown);
  }

  return g_test_run ();
}
