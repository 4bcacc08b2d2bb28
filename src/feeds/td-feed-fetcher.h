/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * The feed fetcher: one thread with its own GMainContext drives one
 * SoupSession (libsoup 3) for every request, so connection limits and
 * keep-alive are shared, and no request ever runs on the caller's thread.
 * Callers either wait for the result (td_feed_fetcher_fetch(), from a
 * task-loop worker or a command-line process) or get a GAsyncResult on
 * their own thread-default context.
 *
 * Polite HTTP: conditional GET with the ETag and Last-Modified sent back
 * verbatim, an Accept header for feed types, an honest User-Agent,
 * gzip/deflate, redirects followed by hand so that a chain of 301/308
 * is reported as a new permanent URL. Limits: a response size cap (the
 * transfer is aborted when it is crossed), libsoup's I/O timeout, and an
 * overall deadline per request. file:// URLs are read directly, with the
 * same size cap.
 */

#define TD_FEED_FETCH_ERROR (td_feed_fetch_error_quark ())

typedef enum
{
  TD_FEED_FETCH_ERROR_HTTP,               /* a status other than 2xx/304/410 */
  TD_FEED_FETCH_ERROR_TOO_LARGE,          /* the body crossed the size cap */
  TD_FEED_FETCH_ERROR_TIMEOUT,            /* the overall deadline passed */
  TD_FEED_FETCH_ERROR_TOO_MANY_REDIRECTS, /* including redirect loops */
  TD_FEED_FETCH_ERROR_BAD_REDIRECT,       /* no Location, or not http(s) */
  TD_FEED_FETCH_ERROR_UNSUPPORTED,        /* not http, https or file */
  TD_FEED_FETCH_ERROR_INVALID_URL,
  TD_FEED_FETCH_ERROR_NOT_A_FILE,         /* file:// naming a directory, FIFO ... */
  TD_FEED_FETCH_ERROR_SHUTDOWN,           /* the fetcher was freed first */
} TdFeedFetchError;

/* Total connections. libsoup's default (10) silently caps any pool
 * larger than that, so the value is always set explicitly. */
#define TD_FEED_FETCHER_DEFAULT_MAX_CONNS          16
/* Per host: libsoup's default is 2; a few more keep a refresh of many
 * feeds on one host moving without hammering it. */
#define TD_FEED_FETCHER_DEFAULT_MAX_CONNS_PER_HOST 4
/* libsoup's I/O timeout: no byte for this long means the peer is gone. */
#define TD_FEED_FETCHER_DEFAULT_IO_TIMEOUT_S       30
/* Whole request, redirects included: a server that trickles one byte a
 * second must not hold a fetch slot forever. */
#define TD_FEED_FETCHER_DEFAULT_DEADLINE_MS        60000
/* Redirect hops before giving up (curl and browsers use 10 to 20). */
#define TD_FEED_FETCHER_DEFAULT_MAX_REDIRECTS      10
/* A server's Retry-After is honoured up to a week; a larger value is
 * more likely a bug than a wish. */
#define TD_FEED_FETCHER_MAX_RETRY_AFTER_S          (7 * 24 * 3600)

typedef struct
{
  guint       max_conns;          /* 0: default */
  guint       max_conns_per_host; /* 0: default */
  guint       io_timeout_s;       /* 0: default */
  guint       deadline_ms;        /* 0: default */
  gsize       max_body_size;      /* 0: TD_FEED_MAX_DOCUMENT_SIZE */
  guint       max_redirects;      /* 0: default */
  const char *user_agent;         /* NULL: "Tidings/VERSION (+https://github.com/tidings)" */
  GTlsDatabase *tls_database;     /* NULL: the system's */
} TdFeedFetcherConfig;

typedef struct
{
  char *url;
  char *etag;              /* from the last 200, sent as If-None-Match */
  char *last_modified;     /* from the last 200, sent as If-Modified-Since */
} TdFeedFetchRequest;

typedef enum
{
  TD_FEED_FETCH_OK,            /* a body to parse */
  TD_FEED_FETCH_NOT_MODIFIED,  /* 304: keep what you have */
  TD_FEED_FETCH_GONE,          /* 410: stop polling this feed */
  TD_FEED_FETCH_FAILED,        /* see error, transient and retry_after */
} TdFeedFetchStatus;

typedef struct
{
  TdFeedFetchStatus  status;
  guint              http_status;   /* last response's status; 0 for file:// or no response */
  char              *final_url;     /* after redirects: the base for relative links */
  char              *new_url;       /* set when 301/308 moved the feed for good */
  char              *etag;          /* validators to keep, as one unit */
  char              *last_modified;
  char              *content_type;
  GBytes            *body;          /* for TD_FEED_FETCH_OK */
  GError            *error;         /* for TD_FEED_FETCH_FAILED */
  gboolean           transient;     /* worth retrying soon (connect, timeout, 5xx, 429) */
  gint64             retry_after;   /* seconds the server asked us to wait, or -1 */
} TdFeedFetchResult;

typedef struct _TdFeedFetcher TdFeedFetcher;

GQuark              td_feed_fetch_error_quark        (void);

TdFeedFetchRequest *td_feed_fetch_request_new        (const char                *url,
                                                      const char                *etag,
                                                      const char                *last_modified);
void                td_feed_fetch_request_free       (TdFeedFetchRequest        *request);
void                td_feed_fetch_result_free        (TdFeedFetchResult         *result);

TdFeedFetcher      *td_feed_fetcher_new              (const TdFeedFetcherConfig *config);
void                td_feed_fetcher_free             (TdFeedFetcher             *fetcher);
guint               td_feed_fetcher_get_max_conns    (TdFeedFetcher             *fetcher);
guint               td_feed_fetcher_get_max_conns_per_host (TdFeedFetcher       *fetcher);

/* Waits for the result; never returns NULL. Call from any thread except
 * the fetcher's own (task-loop workers, command-line tools, tests). */
TdFeedFetchResult  *td_feed_fetcher_fetch            (TdFeedFetcher             *fetcher,
                                                      const TdFeedFetchRequest  *request,
                                                      GCancellable              *cancellable);
/* The callback runs on the caller's thread-default context. */
void                td_feed_fetcher_fetch_async      (TdFeedFetcher             *fetcher,
                                                      const TdFeedFetchRequest  *request,
                                                      GCancellable              *cancellable,
                                                      GAsyncReadyCallback        callback,
                                                      gpointer                   user_data);
/* Never returns NULL; failures are in the result. */
TdFeedFetchResult  *td_feed_fetcher_fetch_finish     (TdFeedFetcher             *fetcher,
                                                      GAsyncResult              *result);

/* Returns TRUE if a fetch that failed with @error is worth retrying soon:
 * connection and DNS errors, and timeouts. TLS errors, local files and
 * limits are not. HTTP statuses need the status itself: the result's
 * transient field has the verdict for them (5xx, 429 and 408 are). */
gboolean            td_feed_fetch_error_is_transient (const GError              *error);

/* Parses a Retry-After value in delta-seconds or HTTP-date form (RFC 9110
 * §10.2.3) relative to @now_unix. Returns seconds (>= 0, capped at
 * TD_FEED_FETCHER_MAX_RETRY_AFTER_S) or -1 when @value is not valid. */
gint64              td_feed_parse_retry_after        (const char                *value,
                                                      gint64                     now_unix);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdFeedFetchRequest, td_feed_fetch_request_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdFeedFetchResult, td_feed_fetch_result_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdFeedFetcher, td_feed_fetcher_free)

G_END_DECLS
