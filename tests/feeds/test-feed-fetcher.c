/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include "feeds/td-feed-cli.h"
#include "feeds/td-feed-fetcher.h"
#include "feeds/td-feed-parser.h"

/*
 * The fetcher against a SoupServer on 127.0.0.1 (port 0), running on its
 * own thread with its own GMainContext so that blocking fetches from the
 * test thread work as they do from task-loop workers.
 */

#define FEED_BODY \
  "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Served</title>" \
  "<link>http://example.com/</link><description>d</description>" \
  "<item><title>one</title><link>rel/1</link></item></channel></rss>"

#define ETAG          "W/\"weird etag, with comma\""
/* Deliberately not an HTTP-date: validators go back verbatim. */
#define LAST_MODIFIED "Wed, 21 Oct 2015 07:28:00 GMT (server clock)"

/* Short enough for a quick test, long enough for ASan builds. */
#define SHORT_DEADLINE_MS 600

typedef struct
{
  GThread      *thread;
  GMainContext *context;
  GMainLoop    *loop;
  SoupServer   *server;
  char         *base;        /* http://127.0.0.1:PORT */
  GBytes       *gzipped;

  GMutex        lock;        /* guards the fields below */
  GHashTable   *last_request;   /* header name -> value of the last request */
  char         *last_path;
  guint         requests;
  int           in_flight;
  int           max_in_flight;
  gboolean      started;
  GCond         cond;
} TestServer;

static TestServer *srv;

/* ------------------------------------------------------------------ */
/* Server                                                              */
/* ------------------------------------------------------------------ */

typedef struct
{
  SoupServerMessage *msg;
  guint              left;
  guint              interval_ms;
  gboolean           counts_in_flight;
  gboolean           finished;     /* the client went away or all was sent */
  gulong             finished_id;
} Dribble;

static void
dribble_finished_cb (SoupServerMessage *msg,
                     gpointer           user_data)
{
  ((Dribble *) user_data)->finished = TRUE;
}

static gboolean
dribble_cb (gpointer user_data)
{
  Dribble *d = user_data;
  SoupMessageBody *body = soup_server_message_get_response_body (d->msg);

  if (d->left == 0 || d->finished)
    {
      if (!d->finished)
        {
          soup_message_body_complete (body);
          soup_server_message_unpause (d->msg);
        }
      g_signal_handler_disconnect (d->msg, d->finished_id);
      if (d->counts_in_flight)
        {
          g_mutex_lock (&srv->lock);
          srv->in_flight--;
          g_mutex_unlock (&srv->lock);
        }
      g_object_unref (d->msg);
      g_free (d);
      return G_SOURCE_REMOVE;
    }

  soup_message_body_append (body, SOUP_MEMORY_STATIC, "<!-- slow -->", 13);
  soup_server_message_unpause (d->msg);
  d->left--;
  return G_SOURCE_CONTINUE;
}

/* Sends a feed in @chunks pieces, @interval_ms apart (plus a final one). */
static void
start_dribble (SoupServerMessage *msg,
               guint              chunks,
               guint              interval_ms,
               gboolean           counts_in_flight)
{
  Dribble *d = g_new0 (Dribble, 1);
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  GSource *source;

  d->msg = g_object_ref (msg);
  d->left = chunks;
  d->interval_ms = interval_ms;
  d->counts_in_flight = counts_in_flight;
  d->finished_id = g_signal_connect (msg, "finished", G_CALLBACK (dribble_finished_cb), d);

  soup_server_message_set_status (msg, 200, NULL);
  soup_message_headers_set_encoding (headers, SOUP_ENCODING_CHUNKED);
  soup_message_headers_replace (headers, "Content-Type", "application/rss+xml");
  soup_message_body_append (soup_server_message_get_response_body (msg),
                            SOUP_MEMORY_STATIC, FEED_BODY, strlen (FEED_BODY));

  source = g_timeout_source_new (interval_ms);
  g_source_set_callback (source, dribble_cb, d, NULL);
  g_source_attach (source, srv->context);
  g_source_unref (source);
}

/* An endless body: a new 64 KiB chunk each time one was written. */
static void
endless_wrote_chunk_cb (SoupServerMessage *msg,
                        gpointer           user_data)
{
  static char block[64 * 1024];

  memset (block, ' ', sizeof block);
  soup_message_body_append (soup_server_message_get_response_body (msg),
                            SOUP_MEMORY_STATIC, block, sizeof block);
}

static void
redirect (SoupServerMessage *msg,
          guint              status,
          const char        *location)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Location", location);
}

static void
serve_feed (SoupServerMessage *msg)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);

  soup_server_message_set_status (msg, 200, NULL);
  soup_message_headers_replace (headers, "ETag", ETAG);
  soup_message_headers_replace (headers, "Last-Modified", LAST_MODIFIED);
  soup_server_message_set_response (msg, "application/rss+xml; charset=utf-8",
                                    SOUP_MEMORY_STATIC, FEED_BODY, strlen (FEED_BODY));
}

static void
server_cb (SoupServer        *server,
           SoupServerMessage *msg,
           const char        *path,
           GHashTable        *query,
           gpointer           user_data)
{
  SoupMessageHeaders *req = soup_server_message_get_request_headers (msg);
  SoupMessageHeaders *resp = soup_server_message_get_response_headers (msg);
  SoupMessageHeadersIter iter;
  const char *name, *value;

  g_mutex_lock (&srv->lock);
  g_hash_table_remove_all (srv->last_request);
  soup_message_headers_iter_init (&iter, req);
  while (soup_message_headers_iter_next (&iter, &name, &value))
    g_hash_table_insert (srv->last_request, g_ascii_strdown (name, -1), g_strdup (value));
  g_free (srv->last_path);
  srv->last_path = g_strdup (path);
  srv->requests++;
  g_mutex_unlock (&srv->lock);

  if (g_str_equal (path, "/ok"))
    serve_feed (msg);
  else if (g_str_equal (path, "/cond"))
    {
      const char *inm = soup_message_headers_get_one (req, "If-None-Match");
      const char *ims = soup_message_headers_get_one (req, "If-Modified-Since");

      /* Only the exact strings we sent out count. */
      if (g_strcmp0 (inm, ETAG) == 0 && g_strcmp0 (ims, LAST_MODIFIED) == 0)
        soup_server_message_set_status (msg, 304, NULL);
      else
        serve_feed (msg);
    }
  else if (g_str_equal (path, "/301"))
    redirect (msg, 301, "/ok");
  else if (g_str_equal (path, "/308"))
    redirect (msg, 308, "/ok");
  else if (g_str_equal (path, "/302"))
    redirect (msg, 302, "/ok");
  else if (g_str_equal (path, "/307"))
    redirect (msg, 307, "/ok");
  else if (g_str_equal (path, "/301-then-302"))
    redirect (msg, 301, "/302");
  else if (g_str_equal (path, "/301-then-308"))
    redirect (msg, 301, "/308");
  else if (g_str_equal (path, "/302-then-301"))
    redirect (msg, 302, "/301");
  else if (g_str_equal (path, "/loop"))
    redirect (msg, 302, "/loop");
  else if (g_str_equal (path, "/to-file"))
    redirect (msg, 301, "file:///etc/passwd");
  else if (g_str_equal (path, "/no-location"))
    soup_server_message_set_status (msg, 301, NULL);
  else if (g_str_equal (path, "/404"))
    soup_server_message_set_status (msg, 404, NULL);
  else if (g_str_equal (path, "/403"))
    soup_server_message_set_status (msg, 403, "Go Away");
  else if (g_str_equal (path, "/410"))
    soup_server_message_set_status (msg, 410, NULL);
  else if (g_str_equal (path, "/429-seconds"))
    {
      soup_server_message_set_status (msg, 429, NULL);
      soup_message_headers_replace (resp, "Retry-After", "120");
    }
  else if (g_str_equal (path, "/429-date"))
    {
      g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
      g_autoptr(GDateTime) later = g_date_time_add_seconds (now, 3600);
      g_autofree char *date = soup_date_time_to_string (later, SOUP_DATE_HTTP);

      soup_server_message_set_status (msg, 429, NULL);
      soup_message_headers_replace (resp, "Retry-After", date);
    }
  else if (g_str_equal (path, "/503"))
    {
      soup_server_message_set_status (msg, 503, NULL);
      soup_message_headers_replace (resp, "Retry-After", "30");
    }
  else if (g_str_equal (path, "/500"))
    soup_server_message_set_status (msg, 500, NULL);
  else if (g_str_equal (path, "/hang"))
    soup_server_message_pause (msg);       /* never answers */
  else if (g_str_equal (path, "/slow"))
    start_dribble (msg, 5, 40, FALSE);      /* done in ~200 ms */
  else if (g_str_equal (path, "/slow-forever"))
    start_dribble (msg, 1000, 100, FALSE);  /* 100 s */
  else if (g_str_equal (path, "/count"))
    {
      g_mutex_lock (&srv->lock);
      srv->in_flight++;
      srv->max_in_flight = MAX (srv->max_in_flight, srv->in_flight);
      g_mutex_unlock (&srv->lock);
      start_dribble (msg, 2, 100, TRUE);
    }
  else if (g_str_equal (path, "/gzip"))
    {
      soup_server_message_set_status (msg, 200, NULL);
      soup_message_headers_replace (resp, "Content-Encoding", "gzip");
      soup_message_headers_replace (resp, "Content-Type", "application/rss+xml");
      soup_message_body_append_bytes (soup_server_message_get_response_body (msg), srv->gzipped);
    }
  else if (g_str_equal (path, "/big-declared"))
    {
      /* 2 MiB with a Content-Length: refused from the header alone when
       * the cap is smaller. */
      gsize n = 2 * 1024 * 1024;
      char *body = g_malloc (n);

      memset (body, ' ', n);
      soup_server_message_set_status (msg, 200, NULL);
      soup_server_message_set_response (msg, "application/rss+xml", SOUP_MEMORY_TAKE, body, n);
    }
  else if (g_str_equal (path, "/endless"))
    {
      soup_server_message_set_status (msg, 200, NULL);
      soup_message_headers_set_encoding (resp, SOUP_ENCODING_CHUNKED);
      soup_message_headers_replace (resp, "Content-Type", "application/rss+xml");
      g_signal_connect (msg, "wrote-chunk", G_CALLBACK (endless_wrote_chunk_cb), NULL);
      endless_wrote_chunk_cb (msg, NULL);
    }
  else if (g_str_equal (path, "/html"))
    {
      soup_server_message_set_status (msg, 200, NULL);
      soup_server_message_set_response (msg, "text/html", SOUP_MEMORY_STATIC,
                                      "<html><body>hi</body></html>", 28);
    }
  else
    soup_server_message_set_status (msg, 404, NULL);
}

static GBytes *
gzip (const char *data)
{
  g_autoptr(GZlibCompressor) compressor = g_zlib_compressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP, -1);
  g_autoptr(GOutputStream) mem = g_memory_output_stream_new_resizable ();
  g_autoptr(GOutputStream) out = g_converter_output_stream_new (mem, G_CONVERTER (compressor));

  g_assert_true (g_output_stream_write_all (out, data, strlen (data), NULL, NULL, NULL));
  g_assert_true (g_output_stream_close (out, NULL, NULL));
  return g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (mem));
}

static gpointer
server_thread (gpointer user_data)
{
  g_autoptr(GError) error = NULL;
  GSList *uris;

  g_main_context_push_thread_default (srv->context);

  srv->server = soup_server_new (NULL, NULL);
  soup_server_add_handler (srv->server, NULL, server_cb, NULL, NULL);
  if (!soup_server_listen_local (srv->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error))
    g_error ("listen: %s", error->message);

  uris = soup_server_get_uris (srv->server);
  g_assert_nonnull (uris);
  srv->base = g_strdup_printf ("http://127.0.0.1:%d", g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  g_mutex_lock (&srv->lock);
  srv->started = TRUE;
  g_cond_broadcast (&srv->cond);
  g_mutex_unlock (&srv->lock);

  g_main_loop_run (srv->loop);

  soup_server_disconnect (srv->server);
  g_clear_object (&srv->server);
  while (g_main_context_iteration (srv->context, FALSE))
    ;
  g_main_context_pop_thread_default (srv->context);
  return NULL;
}

static void
server_start (void)
{
  srv = g_new0 (TestServer, 1);
  g_mutex_init (&srv->lock);
  g_cond_init (&srv->cond);
  srv->last_request = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  srv->gzipped = gzip (FEED_BODY);
  srv->context = g_main_context_new ();
  srv->loop = g_main_loop_new (srv->context, FALSE);
  srv->thread = g_thread_new ("test-server", server_thread, NULL);

  g_mutex_lock (&srv->lock);
  while (!srv->started)
    g_cond_wait (&srv->cond, &srv->lock);
  g_mutex_unlock (&srv->lock);
}

static gboolean
quit_cb (gpointer user_data)
{
  g_main_loop_quit (srv->loop);
  return G_SOURCE_REMOVE;
}

static void
server_stop (void)
{
  g_main_context_invoke (srv->context, quit_cb, NULL);
  g_thread_join (srv->thread);
  g_main_loop_unref (srv->loop);
  g_main_context_unref (srv->context);
  g_hash_table_unref (srv->last_request);
  g_bytes_unref (srv->gzipped);
  g_free (srv->last_path);
  g_free (srv->base);
  g_mutex_clear (&srv->lock);
  g_cond_clear (&srv->cond);
  g_clear_pointer (&srv, g_free);
}

static char *
last_header (const char *name)
{
  g_autofree char *key = g_ascii_strdown (name, -1);
  char *value;

  g_mutex_lock (&srv->lock);
  value = g_strdup (g_hash_table_lookup (srv->last_request, key));
  g_mutex_unlock (&srv->lock);
  return value;
}

static char *
url (const char *path)
{
  return g_strconcat (srv->base, path, NULL);
}

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

static TdFeedFetcher *
new_fetcher (guint deadline_ms,
             gsize max_body)
{
  TdFeedFetcherConfig config = { 0 };

  config.deadline_ms = deadline_ms;
  config.max_body_size = max_body;
  return td_feed_fetcher_new (&config);
}

static TdFeedFetchResult *
fetch (TdFeedFetcher *fetcher,
       const char    *path,
       const char    *etag,
       const char    *last_modified)
{
  g_autofree char *u = g_str_has_prefix (path, "/") ? url (path) : g_strdup (path);
  g_autoptr(TdFeedFetchRequest) request = td_feed_fetch_request_new (u, etag, last_modified);

  return td_feed_fetcher_fetch (fetcher, request, NULL);
}

static void
assert_body_is_feed (TdFeedFetchResult *result)
{
  g_autoptr(TdFeed) feed = NULL;
  g_autoptr(GError) error = NULL;
  gsize len;
  const char *data;

  g_assert_nonnull (result->body);
  data = g_bytes_get_data (result->body, &len);
  g_assert_cmpuint (len, >=, strlen (FEED_BODY));
  g_assert_cmpmem (data, strlen (FEED_BODY), FEED_BODY, strlen (FEED_BODY));

  feed = td_feed_parse (data, len, result->final_url, result->content_type, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (feed->info->title, ==, "Served");
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */
/* ------------------------------------------------------------------ */

static void
test_200 (void)
{
  g_autoptr(TdFeedFetcher) fetcher = new_fetcher (0, 0);
  g_autoptr(TdFeedFetchResult) result = fetch (fetcher, "/ok", NULL, NULL);
  g_autofree char *expected_url = url ("/ok");
  g_autofree char *accept = NULL;
  g_autofree char *ua = NULL;
  g_autofree char *inm = NULL;
  g_autoptr(TdFeed) feed = NULL;

  g_assert_no_error (result->error);
  g_assert_cmpint (result->status, ==, TD_FEED_FETCH_OK);
  g_assert_cmpuint (result->http_status, ==, 200);
  g_assert_cmpstr (result->final_url, ==, expected_url);
  g_assert_null (result->new_url);
  g_assert_cmpstr (result->etag, ==, ETAG);
  g_assert_cmpstr (result->last_modified, ==, LAST_MODIFIED);
  g_assert_cmpstr (result->content_type, ==, "application/rss+xml; charset=utf-8");
  assert_body_is_feed (result);

  /* Polite request headers; no validators when we had none. */
  accept = last_header ("Accept");
  g_assert_nonnull (strstr (accept, "application/atom+xml"));
  g_assert_nonnull (strstr (accept, "application/rss+xml"));
  g_assert_nonnull (strstr (accept, "application/feed+json"));
  ua = last_header ("User-Agent");
  g_assert_true (g_str_has_prefix (ua, "Tidings/" PACKAGE_VERSION));
  inm = last_header ("If-None-Match");
  g_assert_null (inm);

  /* Relative links in the body resolve against the final URL. */
  feed = td_feed_parse (g_bytes_get_data (result->body, NULL), g_bytes_get_size (result->body),
                        result->final_url, NULL, NULL);
  {
    g_autofree char *item_url = url ("/rel/1");
    g_assert_cmpstr (((TdFeedEntry *) g_ptr_array_index (feed->entries, 0))->link, ==, item_url);
  }
}

static void
test_304_validators_verbatim (void)
{
  g_autoptr(TdFeedFetcher) fetcher = new_fetcher (0, 0);
  g_autoptr(TdFeedFetchResult) first = fetch (fetcher, "/cond", NULL, NULL);
  g_autoptr(TdFeedFetchResult) second = NULL;
  g_autoptr(TdFeedFetchResult) stale = NULL;
  g_autofree char *inm = NULL;
  g_autofree char *ims = NULL;

  g_assert_cmpint (first->status, ==, TD_FEED_FETCH_OK);
  g_assert_cmpstr (first->etag, ==, ETAG);
  g_assert_cmpstr (first->last_modified, ==, LAST_MODIFIED);

  /* Send both back as received: the server answers 304 only then. */
  second = fetch (fetcher, "/cond", first->etag, first->last_modified);
  inm = last_header ("If-None-Match");
  ims = last_header ("If-Modified-Since");
  g_assert_cmpstr (inm, ==, ETAG);
  g_assert_cmpstr (ims, ==, LAST_MODIFIED);

  g_assert_no_error (second->error);
  g_assert_cmpint (second->status, ==, TD_FEED_FETCH_NOT_MODIFIED);
  g_assert_cmpuint (second->http_status, ==, 304);
  g_assert_null (second->body);
  /* The pair that earned the 304 is kept as one unit. */
  g_assert_cmpstr (second->etag, ==, ETAG);
  g_assert_cmpstr (second->last_modified, ==, LAST_MODIFIED);

  /* A stale pair gets the full body and a fresh pair. */
  stale = fetch (fetcher, "/cond", "\"old\"", LAST_MODIFIED);
  g_assert_cmpint (stale->status, ==, TD_FEED_FETCH_OK);
  g_assert_cmpstr (stale->etag, ==, ETAG);
}

typedef struct
{
  const char *name;
  const char *path;
  guint       hops_status;      /* status of the final response */
  const char *new_url;          /* path of the permanent URL, or NULL */
} RedirectCase;

static const RedirectCase redirect_cases[] = {
  { "301", "/301", 200, "/ok" },
  { "308", "/308", 200, "/ok" },
  { "302-not-permanent", "/302", 200, NULL },
  { "307-not-permanent", "/307", 200, NULL },
  { "301-then-302", "/301-then-302", 200, "/302" },
  { "301-then-308", "/301-then-308", 200, "/ok" },
  { "302-then-301", "/302-then-301", 200, NULL },
};

static void
test_redirect (gconstpointer data)
{
  const RedirectCase *c = data;
  g_autoptr(TdFeedFetcher) fetcher = new_fetcher (0, 0);
  g_autoptr(TdFeedFetchResult) result = fetch (fetcher, c->path, NULL, NULL);
  g_autofree char *final_url = url ("/ok");
  g_autofree char *new_url = c->new_url ? url (c->new_url) : NULL;

  g_assert_no_error (result->error);
  g_assert_cmpint (result->status, ==, TD_FEED_FETCH_OK);
  g_assert_cmpuint (result->http_status, ==, c->hops_status);
  g_assert_cmpstr (result->final_url, ==, final_url);
  g_assert_cmpstr (result->new_url, ==, new_url);
  assert_body_is_feed (result);
}

typedef struct
{
  const char *name;
  const char *path;
  guint       http_status;
  gboolean    transient;
  gint64      retry_min;      /* -1: no Retry-After expected */
  gint64      retry_max;
  const char *message;
} StatusCase;

static const StatusCase status_cases[] = {
  { "404", "/404", 404, FALSE, -1, -1, "HTTP 404 Not Found" },
  { "403-reason", "/403", 403, FALSE, -1, -1, "HTTP 403 Go Away" },
  { "429-seconds", "/429-seconds", 429, TRUE, 120, 120, "HTTP 429" },
  { "429-http-date", "/429-date", 429, TRUE, 3590, 3600, "HTTP 429" },
  { "503", "/503", 503, TRUE, 30, 30, "HTTP 503" },
  { "500", "/500", 500, TRUE, -1, -1, "HTTP 500" },
};

static void
test_status (gconstpointer data)
{
  const StatusCase *c = data;
  g_autoptr(TdFeedFetcher) fetcher = new_fetcher (0, 0);
  g_autoptr(TdFeedFetchResult) result = fetch (fetcher, c->path, NULL, NULL);

  g_assert_cmpint (result->status, ==, TD_FEED_FETCH_FAILED);
  g_assert_cmpuint (result->http_status, ==, c->http_status);
  g_assert_error (result->error, TD_FEED_FETCH_ERROR, TD_FEED_FETCH_ERROR_HTTP);
  g_assert_nonnull (strstr (result->error->message, c->message));
  g_assert_cmpint (result->transient, ==, c->transient);
  g_assert_null (result->body);
  if (c->retry_min < 0)
    g_assert_cmpint (result->retry_after, ==, -1);
  else
    {
      g_assert_cmpint (result->retry_after, >=, c->retry_min);
      g_assert_cmpint (result->retry_after, <=, c->retry_max);
    }
}

static void
test_410_gone (void)
{
  g_autoptr(TdFeedFetcher) fetcher = new_fetcher (0, 0);
  g_autoptr(TdFeedFetchResult) result = fetch (fetcher, "/410", NULL, NULL);

  g_assert_no_error (result->error);
  g_assert_cmpint (result->status, ==, TD_FEED_FETCH_GONE);
  g_assert_cmpuint (result->http_status, ==, 410);
  g_assert_false (result->transient);
}

static void
test_redirect_loop (void)
{
  g_autoptr(TdFeedFetcher) fetcher = new_fetcher (0, 0);
  g_autoptr(TdFeedFetchResult) result = fetch (fetcher, "/loop", NULL, NULL);

  g_assert_cmpint (result->status, ==, TD_FEED_FETCH_FAILED);
  g_assert_error (result->error, TD_FEED_FETCH_ERROR, TD_FEED_FETCH_ERROR_TOO_MANY_REDIRECTS);
  g_assert_false (result->transient);
}

static void
test_bad_redirects (void)
{
  g_autoptr(TdFeedFetcher) fetcher = new_fetcher (0, 0);
  g_autoptr(TdFeedFetchResult) to_file = fetch (fetcher, "/to-file", NULL, NULL);
  g_autoptr(TdFeedFetchResult) no_location = fetch (fetcher, "/no-location", NULL, NULL);

  /* An HTTP server must not make us read local files. */
  g_assert_error (to_file->error, TD_FEED_FETCH_ERROR, TD_FEED_FETCH_ERROR_BAD_REDIRECT);
  g_assert_null (to_file->body);
  g_assert_error (no_location->error, TD_FEED_FETCH_ERROR, TD_FEED_FETCH_ERROR_BAD_REDIRECT);
}

static void
test_timeout_never_answers (void)
{
  g_autoptr(TdFeedFetcher) fetcher = new_fetcher (SHORT_DEADLINE_MS, 0);
  gint64 start = g_get_monotonic_time ();
  g_autoptr(TdFeedFetchResult) result = fetch (fetcher, "/hang", NULL, NULL);
  gint64 elapsed_ms = (g_get_monotonic_time () - start) / 1000;

  g_assert_cmpint (result->status, ==, TD_FEED_FETCH_FAILED);
  g_assert_error (result->error, TD_FEED_FETCH_ERROR, TD_FEED_FETCH_ERROR_TIMEOUT);
  g_assert_true (result->transient);
  g_assert_cmpint (elapsed_ms, >=, SHORT_DEADLINE_MS - 50);
  g_assert_cmpint (elapsed_ms, <, SHORT_DEADLINE_MS + 3000);
}

static void
test_slow_body_within_deadline (void)
{
  g_autoptr(TdFeedFetcher) fetcher = new_fetcher (5000, 0);
  g_autoptr(TdFeedFetchResult) result = fetch (fetcher, "/slow", NULL, NULL);

  g_assert_no_error (result->error);
  g_assert_cmpint (result->status, ==, TD_FEED_FETCH_OK);
  assert_body_is_feed (result);
  g_assert_cmpuint (g_bytes_get_size (result->body), ==, strlen (FEED_BODY) + 5 * 13);
}

static void
test_slow_body_past_deadline (void)
{
  g_autoptr(TdFeedFetcher) fetcher = new_fetcher (SHORT_DEADLINE_MS, 0);
  gint64 start = g_get_monotonic_time ();
  g_autoptr(TdFeedFetchResult) result = fetch (fetcher, "/slow-forever", NULL, NULL);

  /* Bytes keep coming, so only the overall deadline stops it. */
  g_assert_error (result->error, TD_FEED_FETCH_ERROR, TD_FEED_FETCH_ERROR_TIMEOUT);
  g_assert_true (result->transient);
  g_assert_null (result->body);
  g_assert_cmpint (g_get_monotonic_time () - start, <, (SHORT_DEADLINE_MS + 3000) * 1000);
}

static void
test_gzip (void)
{
  g_autoptr(TdFeedFetcher) fetcher = new_fetcher (0, 0);
  g_autoptr(TdFeedFetchResult) result = fetch (fetcher, "/gzip", NULL, NULL);
  g_autofree char *accept_encoding = last_header ("Accept-Encoding");

  g_assert_nonnull (accept_encoding);
  g_assert_nonnull (strstr (accept_encoding, "gzip"));
  g_assert_nonnull (strstr (accept_encoding, "deflate"));
  g_assert_no_error (result->error);
  g_assert_cmpuint (g_bytes_get_size (result->body), ==, strlen (FEED_BODY));
  assert_body_is_feed (result);
}

static void
test_oversize_declared (void)
{
  g_autoptr(TdFeedFetcher) fetcher = new_fetcher (0, 1024 * 1024);
  g_autoptr(TdFeedFetchResult) result = fetch (fetcher, "/big-declared", NULL, NULL);

  g_assert_error (result->error, TD_FEED_FETCH_ERROR, TD_FEED_FETCH_ERROR_TOO_LARGE);
  g_assert_false (result->transient);
  g_assert_null (result->body);
}

static void
test_oversize_streamed (void)
{
  /* The default cap (20 MiB) against an endless chunked body, standing in
   * for a 100 MB response: the transfer is aborted at the cap. */
  g_autoptr(TdFeedFetcher) fetcher = new_fetcher (30000, 0);
  g_autoptr(TdFeedFetchResult) result = fetch (fetcher, "/endless", NULL, NULL);
  g_autoptr(TdFeedFetchResult) after = NULL;

  g_assert_error (result->error, TD_FEED_FETCH_ERROR, TD_FEED_FETCH_ERROR_TOO_LARGE);
  g_assert_nonnull (strstr (result->error->message, "20971520"));
  g_assert_null (result->body);

  /* The fetcher is still fine afterwards. */
  after = fetch (fetcher, "/ok", NULL, NULL);
  g_assert_cmpint (after->status, ==, TD_FEED_FETCH_OK);
}

static void
test_connection_refused (void)
{
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(TdFeedFetcher) fetcher = new_fetcher (0, 0);
  g_autoptr(TdFeedFetchResult) result = NULL;
  g_autofree char *u = NULL;

  /* A port that was free a moment ago and has no listener. */
  g_assert_true (g_socket_bind (socket, any, TRUE, NULL));
  bound = g_socket_get_local_address (socket, NULL);
  u = g_strdup_printf ("http://127.0.0.1:%u/feed", g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  g_socket_close (socket, NULL);

  result = fetch (fetcher, u, NULL, NULL);
  g_assert_cmpint (result->status, ==, TD_FEED_FETCH_FAILED);
  g_assert_nonnull (result->error);
  g_assert_true (result->transient);
  g_assert_cmpuint (result->http_status, ==, 0);
}

/* Accepts one connection, reads what comes (a TLS ClientHello), answers in
 * plain HTTP and closes. */
static gpointer
plain_answer_thread (gpointer user_data)
{
  GSocket *listener = user_data;
  g_autoptr(GSocket) conn = g_socket_accept (listener, NULL, NULL);
  const char *answer = "HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
  char buf[4096];

  if (conn != NULL)
    {
      g_socket_set_timeout (conn, 5);
      g_socket_receive (conn, buf, sizeof buf, NULL, NULL);
      g_socket_send (conn, answer, strlen (answer), NULL, NULL);
      g_socket_close (conn, NULL);
    }
  return NULL;
}

/* TLS with a server that does not speak it: a TLS error, reported and not
 * retried soon (FEEDS.md: TLS errors are shown, not ignored). */
static void
test_tls_error (void)
{
  g_autoptr(GSocket) listener = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(TdFeedFetcher) fetcher = new_fetcher (5000, 0);
  g_autoptr(TdFeedFetchResult) result = NULL;
  g_autofree char *https = NULL;
  GThread *thread;

  g_assert_true (g_socket_bind (listener, any, TRUE, NULL));
  g_assert_true (g_socket_listen (listener, NULL));
  bound = g_socket_get_local_address (listener, NULL);
  https = g_strdup_printf ("https://127.0.0.1:%u/feed",
                           g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  thread = g_thread_new ("plain-answer", plain_answer_thread, listener);

  result = fetch (fetcher, https, NULL, NULL);
  g_thread_join (thread);

  g_test_message ("TLS error: %s", result->error ? result->error->message : "(none)");
  g_assert_cmpint (result->status, ==, TD_FEED_FETCH_FAILED);
  g_assert_nonnull (result->error);
  g_assert_true (result->error->domain == G_TLS_ERROR);
  g_assert_false (result->transient);
  g_assert_null (result->body);
}

static void
test_bad_urls (void)
{
  g_autoptr(TdFeedFetcher) fetcher = new_fetcher (0, 0);
  g_autoptr(TdFeedFetchResult) gopher = fetch (fetcher, "gopher://example.com/1", NULL, NULL);
  g_autoptr(TdFeedFetchResult) garbage = fetch (fetcher, "not a url at all", NULL, NULL);

  g_assert_error (gopher->error, TD_FEED_FETCH_ERROR, TD_FEED_FETCH_ERROR_UNSUPPORTED);
  g_assert_false (gopher->transient);
  g_assert_error (garbage->error, TD_FEED_FETCH_ERROR, TD_FEED_FETCH_ERROR_INVALID_URL);
}

static void
test_file_urls (void)
{
  g_autofree char *dir = g_dir_make_tmp ("td-fetch-XXXXXX", NULL);
  g_autofree char *feed_path = g_build_filename (dir, "feed.xml", NULL);
  g_autofree char *fifo_path = g_build_filename (dir, "fifo", NULL);
  g_autofree char *feed_uri = g_filename_to_uri (feed_path, NULL, NULL);
  g_autofree char *fifo_uri = g_filename_to_uri (fifo_path, NULL, NULL);
  g_autofree char *dir_uri = g_filename_to_uri (dir, NULL, NULL);
  g_autofree char *missing_uri = g_strconcat (dir_uri, "/missing.xml", NULL);
  g_autoptr(TdFeedFetcher) fetcher = new_fetcher (0, 0);
  g_autoptr(TdFeedFetcher) small = new_fetcher (0, 16);

  g_assert_true (g_file_set_contents (feed_path, FEED_BODY, -1, NULL));
  g_assert_cmpint (mkfifo (fifo_path, 0600), ==, 0);

  {
    g_autoptr(TdFeedFetchResult) r = fetch (fetcher, feed_uri, NULL, NULL);
    g_assert_no_error (r->error);
    g_assert_cmpint (r->status, ==, TD_FEED_FETCH_OK);
    g_assert_cmpstr (r->final_url, ==, feed_uri);
    assert_body_is_feed (r);
  }
  {
    /* A FIFO would block forever: refused without opening it. */
    g_autoptr(TdFeedFetchResult) r = fetch (fetcher, fifo_uri, NULL, NULL);
    g_assert_error (r->error, TD_FEED_FETCH_ERROR, TD_FEED_FETCH_ERROR_NOT_A_FILE);
  }
  {
    g_autoptr(TdFeedFetchResult) r = fetch (fetcher, dir_uri, NULL, NULL);
    g_assert_error (r->error, TD_FEED_FETCH_ERROR, TD_FEED_FETCH_ERROR_NOT_A_FILE);
  }
  {
    g_autoptr(TdFeedFetchResult) r = fetch (fetcher, missing_uri, NULL, NULL);
    g_assert_error (r->error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
    g_assert_false (r->transient);
  }
  {
    g_autoptr(TdFeedFetchResult) r = fetch (small, feed_uri, NULL, NULL);
    g_assert_error (r->error, TD_FEED_FETCH_ERROR, TD_FEED_FETCH_ERROR_TOO_LARGE);
  }

  g_unlink (fifo_path);
  g_unlink (feed_path);
  g_rmdir (dir);
}

static gboolean
cancel_cb (gpointer user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
  return G_SOURCE_REMOVE;
}

static void
done_cb (GObject      *source,
         GAsyncResult *res,
         gpointer      user_data)
{
  TdFeedFetchResult **out = user_data;

  g_assert_true (g_main_context_is_owner (g_main_context_get_thread_default ()));
  *out = td_feed_fetcher_fetch_finish (NULL, res);
}

/* Iterates @context until *@slot is set, failing after 10 s. */
static void
wait_for (GMainContext       *context,
          TdFeedFetchResult **slot)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (*slot == NULL)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (context, TRUE);
    }
}

static void
test_async_and_cancel (void)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(TdFeedFetcher) fetcher = new_fetcher (0, 0);
  g_autoptr(TdFeedFetchRequest) ok = NULL;
  g_autoptr(TdFeedFetchRequest) hang = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(TdFeedFetchResult) r1 = NULL;
  g_autoptr(TdFeedFetchResult) r2 = NULL;
  g_autofree char *ok_url = url ("/ok");
  g_autofree char *hang_url = url ("/hang");
  GSource *timer;

  g_main_context_push_thread_default (context);

  ok = td_feed_fetch_request_new (ok_url, NULL, NULL);
  hang = td_feed_fetch_request_new (hang_url, NULL, NULL);
  td_feed_fetcher_fetch_async (fetcher, ok, NULL, done_cb, &r1);
  td_feed_fetcher_fetch_async (fetcher, hang, cancellable, done_cb, &r2);

  timer = g_timeout_source_new (100);
  g_source_set_callback (timer, cancel_cb, cancellable, NULL);
  g_source_attach (timer, context);
  g_source_unref (timer);

  wait_for (context, &r1);
  wait_for (context, &r2);

  g_assert_cmpint (r1->status, ==, TD_FEED_FETCH_OK);
  assert_body_is_feed (r1);
  g_assert_error (r2->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_false (r2->transient);

  g_main_context_pop_thread_default (context);
}

static void
test_free_with_requests_in_flight (void)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  TdFeedFetcher *fetcher = new_fetcher (0, 0);
  g_autoptr(TdFeedFetchRequest) hang = NULL;
  g_autoptr(TdFeedFetchResult) result = NULL;
  g_autofree char *hang_url = url ("/hang");

  g_main_context_push_thread_default (context);
  hang = td_feed_fetch_request_new (hang_url, NULL, NULL);
  td_feed_fetcher_fetch_async (fetcher, hang, NULL, done_cb, &result);

  /* Let the request reach the server, then shut down under it. */
  g_usleep (100 * 1000);
  td_feed_fetcher_free (fetcher);

  wait_for (context, &result);
  g_assert_error (result->error, TD_FEED_FETCH_ERROR, TD_FEED_FETCH_ERROR_SHUTDOWN);
  g_main_context_pop_thread_default (context);
}

/* max-conns-per-host is set explicitly: libsoup's default of 2 would
 * silently cap a larger pool. */
static void
run_concurrent (guint per_host,
                int  *max_seen)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  TdFeedFetcherConfig config = { 0 };
  g_autoptr(TdFeedFetcher) fetcher = NULL;
  TdFeedFetchResult *results[8] = { NULL };
  g_autofree char *count_url = url ("/count");

  config.max_conns = 16;
  config.max_conns_per_host = per_host;
  fetcher = td_feed_fetcher_new (&config);
  g_assert_cmpuint (td_feed_fetcher_get_max_conns_per_host (fetcher), ==, per_host);

  g_mutex_lock (&srv->lock);
  srv->max_in_flight = 0;
  g_mutex_unlock (&srv->lock);

  g_main_context_push_thread_default (context);
  for (guint i = 0; i < G_N_ELEMENTS (results); i++)
    {
      g_autoptr(TdFeedFetchRequest) request = td_feed_fetch_request_new (count_url, NULL, NULL);
      td_feed_fetcher_fetch_async (fetcher, request, NULL, done_cb, &results[i]);
    }
  for (guint i = 0; i < G_N_ELEMENTS (results); i++)
    {
      wait_for (context, &results[i]);
      g_assert_cmpint (results[i]->status, ==, TD_FEED_FETCH_OK);
      td_feed_fetch_result_free (results[i]);
    }
  g_main_context_pop_thread_default (context);

  g_mutex_lock (&srv->lock);
  *max_seen = srv->max_in_flight;
  g_mutex_unlock (&srv->lock);
}

static void
test_connection_limits (void)
{
  int two, eight;

  run_concurrent (2, &two);
  run_concurrent (8, &eight);
  g_assert_cmpint (two, <=, 2);
  g_assert_cmpint (eight, >, 2);
}

static void
test_cli_http (void)
{
  g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable ();
  g_autoptr(GError) error = NULL;
  g_autofree char *ok_url = url ("/301");
  g_autofree char *item_url = url ("/rel/1");
  g_autofree char *html_url = url ("/html");
  g_autofree char *missing_url = url ("/404");
  g_autofree char *text = NULL;
  int status;

  status = td_feed_parse_cli (ok_url, out, &error);
  g_assert_no_error (error);
  g_assert_cmpint (status, ==, 0);
  g_output_stream_write_all (out, "", 1, NULL, NULL, NULL);
  g_output_stream_close (out, NULL, NULL);
  text = g_memory_output_stream_steal_data (G_MEMORY_OUTPUT_STREAM (out));
  g_assert_nonnull (strstr (text, "\"title\" : \"Served\""));
  /* resolved against the URL after the redirect */
  g_assert_nonnull (strstr (text, item_url));

  {
    g_autoptr(GOutputStream) out2 = g_memory_output_stream_new_resizable ();
    g_autoptr(GError) error2 = NULL;

    g_assert_cmpint (td_feed_parse_cli (missing_url, out2, &error2), ==, 1);
    g_assert_error (error2, TD_FEED_FETCH_ERROR, TD_FEED_FETCH_ERROR_HTTP);
  }
  {
    g_autoptr(GOutputStream) out3 = g_memory_output_stream_new_resizable ();
    g_autoptr(GError) error3 = NULL;

    g_assert_cmpint (td_feed_parse_cli (html_url, out3, &error3), ==, 1);
    g_assert_error (error3, TD_FEED_ERROR, TD_FEED_ERROR_NOT_A_FEED);
  }
}

static void
test_retry_after_parser (void)
{
  gint64 now = 1700000000;   /* Tue, 14 Nov 2023 22:13:20 GMT */

  g_assert_cmpint (td_feed_parse_retry_after ("120", now), ==, 120);
  g_assert_cmpint (td_feed_parse_retry_after (" 0 ", now), ==, 0);
  g_assert_cmpint (td_feed_parse_retry_after ("Tue, 14 Nov 2023 22:18:20 GMT", now), ==, 300);
  g_assert_cmpint (td_feed_parse_retry_after ("Tuesday, 14-Nov-23 22:18:20 GMT", now), ==, 300);
  g_assert_cmpint (td_feed_parse_retry_after ("Tue Nov 14 22:18:20 2023", now), ==, 300);
  /* a date in the past means "now" */
  g_assert_cmpint (td_feed_parse_retry_after ("Mon, 13 Nov 2023 22:13:20 GMT", now), ==, 0);
  /* capped */
  g_assert_cmpint (td_feed_parse_retry_after ("99999999999", now), ==, TD_FEED_FETCHER_MAX_RETRY_AFTER_S);
  /* invalid */
  g_assert_cmpint (td_feed_parse_retry_after (NULL, now), ==, -1);
  g_assert_cmpint (td_feed_parse_retry_after ("", now), ==, -1);
  g_assert_cmpint (td_feed_parse_retry_after ("-5", now), ==, -1);
  g_assert_cmpint (td_feed_parse_retry_after ("12abc", now), ==, -1);
  g_assert_cmpint (td_feed_parse_retry_after ("soon", now), ==, -1);
}

static void
test_classification (void)
{
  struct { GQuark domain; int code; gboolean transient; } cases[] = {
    { G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED, TRUE },
    { G_IO_ERROR, G_IO_ERROR_TIMED_OUT, TRUE },
    { G_IO_ERROR, G_IO_ERROR_HOST_UNREACHABLE, TRUE },
    { G_IO_ERROR, G_IO_ERROR_NETWORK_UNREACHABLE, TRUE },
    { G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED, TRUE },
    { G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND, TRUE },
    { G_RESOLVER_ERROR, G_RESOLVER_ERROR_TEMPORARY_FAILURE, TRUE },
    { TD_FEED_FETCH_ERROR, TD_FEED_FETCH_ERROR_TIMEOUT, TRUE },
    { G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE, FALSE },
    { G_TLS_ERROR, G_TLS_ERROR_HANDSHAKE, FALSE },
    { G_IO_ERROR, G_IO_ERROR_CANCELLED, FALSE },
    { G_IO_ERROR, G_IO_ERROR_NOT_FOUND, FALSE },
    { TD_FEED_FETCH_ERROR, TD_FEED_FETCH_ERROR_TOO_LARGE, FALSE },
    { TD_FEED_FETCH_ERROR, TD_FEED_FETCH_ERROR_TOO_MANY_REDIRECTS, FALSE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = g_error_new_literal (cases[i].domain, cases[i].code, "x");
      g_assert_cmpint (td_feed_fetch_error_is_transient (error), ==, cases[i].transient);
    }
  g_assert_false (td_feed_fetch_error_is_transient (NULL));
}

int
main (int   argc,
      char *argv[])
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  server_start ();

  g_test_add_func ("/td/feed-fetcher/200", test_200);
  g_test_add_func ("/td/feed-fetcher/304-validators-verbatim", test_304_validators_verbatim);
  for (guint i = 0; i < G_N_ELEMENTS (redirect_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/td/feed-fetcher/redirect/%s", redirect_cases[i].name);
      g_test_add_data_func (path, &redirect_cases[i], test_redirect);
    }
  for (guint i = 0; i < G_N_ELEMENTS (status_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/td/feed-fetcher/status/%s", status_cases[i].name);
      g_test_add_data_func (path, &status_cases[i], test_status);
    }
  g_test_add_func ("/td/feed-fetcher/410-gone", test_410_gone);
  g_test_add_func ("/td/feed-fetcher/redirect-loop", test_redirect_loop);
  g_test_add_func ("/td/feed-fetcher/bad-redirects", test_bad_redirects);
  g_test_add_func ("/td/feed-fetcher/timeout-never-answers", test_timeout_never_answers);
  g_test_add_func ("/td/feed-fetcher/slow-body-within-deadline", test_slow_body_within_deadline);
  g_test_add_func ("/td/feed-fetcher/slow-body-past-deadline", test_slow_body_past_deadline);
  g_test_add_func ("/td/feed-fetcher/gzip", test_gzip);
  g_test_add_func ("/td/feed-fetcher/oversize-declared", test_oversize_declared);
  g_test_add_func ("/td/feed-fetcher/oversize-streamed", test_oversize_streamed);
  g_test_add_func ("/td/feed-fetcher/connection-refused", test_connection_refused);
  g_test_add_func ("/td/feed-fetcher/tls-error", test_tls_error);
  g_test_add_func ("/td/feed-fetcher/bad-urls", test_bad_urls);
  g_test_add_func ("/td/feed-fetcher/file-urls", test_file_urls);
  g_test_add_func ("/td/feed-fetcher/async-and-cancel", test_async_and_cancel);
  g_test_add_func ("/td/feed-fetcher/free-with-requests-in-flight", test_free_with_requests_in_flight);
  g_test_add_func ("/td/feed-fetcher/connection-limits", test_connection_limits);
  g_test_add_func ("/td/feed-fetcher/cli-http", test_cli_http);
  g_test_add_func ("/td/feed-fetcher/retry-after-parser", test_retry_after_parser);
  g_test_add_func ("/td/feed-fetcher/classification", test_classification);

  ret = g_test_run ();
  server_stop ();
  return ret;
}
