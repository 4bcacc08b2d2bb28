/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "core/td-farm.h"
#include "core/td-mailbox.h"
#include "core/td-task-loop.h"
#include "store/td-recorder.h"

G_BEGIN_DECLS

/*
 * The feed manager: the app's feed API, shared by the Feeds view, the
 * D-Bus service and the command line.
 *
 * It lives on one GMainContext (the thread that created it) and never
 * blocks it: documents are fetched and parsed on task loop workers (as
 * keyed jobs on a farm: one per feed, a global and a per-host limit, a
 * deadline, retries with backoff), and everything is stored and queried
 * through the recorder. Every answer is mail:
 *
 * - requests take (reply, reply_kind) and answer with one TdFeedReply
 *   (reply may be TD_MAILBOX_NONE when no answer is wanted);
 * - listeners receive TdFeedEvent mail of their kind: the feed list with
 *   counts whenever it changes, new items, refresh progress and the
 *   summary of a refresh round.
 *
 * Timestamps are microseconds since the Unix epoch (the schema's unit).
 */

#define TD_FEED_MANAGER_ERROR (td_feed_manager_error_quark ())

typedef enum
{
  TD_FEED_MANAGER_ERROR_EXISTS,       /* already subscribed to that URL */
  TD_FEED_MANAGER_ERROR_NOT_FOUND,    /* no such feed or item */
  TD_FEED_MANAGER_ERROR_NO_FEED,      /* the page names no feed */
  TD_FEED_MANAGER_ERROR_INVALID,      /* not a URL or path we can read */
  TD_FEED_MANAGER_ERROR_HTTP,         /* the server answered with an error status */
  TD_FEED_MANAGER_ERROR_GONE,         /* HTTP 410: the feed is gone for good */
  TD_FEED_MANAGER_ERROR_REMOVED,      /* the feed was removed meanwhile */
  TD_FEED_MANAGER_ERROR_CLOSED,       /* the manager is shutting down */
} TdFeedManagerError;

/* A subscription as the views show it. */
typedef struct
{
  gint64    id;
  char     *url;
  char     *title;            /* for display: the override, else the feed's, else the URL */
  char     *feed_title;       /* as the feed calls itself; may be NULL */
  char     *title_override;   /* the user's; may be NULL */
  char     *site_link;
  char     *icon_url;
  char     *folder;           /* NULL: top level */
  guint     unread;
  guint     n_items;
  guint     error_count;      /* failed refreshes in a row */
  char     *error_text;       /* why the last refresh failed; NULL if it worked */
  gboolean  gone;             /* HTTP 410: no longer refreshed */
  guint     refresh_interval; /* seconds; 0: the manager's default */
  gint64    last_fetch;       /* 0: never */
  GBytes   *icon_small;       /* the feed's icon, 16 × 16 straight RGBA rows; NULL: none (yet) */
  GBytes   *icon_large;       /* the same at 32 × 32 */
} TdFeedInfo;

/* A feed offered by a page (autodiscovery). */
typedef struct
{
  char *url;
  char *title;
  char *type;
} TdFeedChoice;

typedef struct
{
  char   *url;
  char   *type;
  gint64  length;             /* -1: unknown */
} TdFeedItemEnclosure;

/* An item. List queries fill the short fields only; td_feed_manager_load_item()
 * fills summary, content and enclosures too. */
typedef struct
{
  gint64     id;
  gint64     feed_id;
  char      *feed_title;
  char      *title;
  char      *link;
  char      *author;
  gint64     published;       /* µs; the first time it was seen when the feed gives no date */
  gint64     updated;         /* µs; 0: unknown */
  gboolean   read;
  gboolean   starred;
  char      *summary;         /* HTML or text, unsanitized */
  char      *content;         /* HTML or text, unsanitized */
  GPtrArray *enclosures;      /* TdFeedItemEnclosure; NULL in list queries */
} TdFeedItem;

/* New items of one feed in a refresh round. */
typedef struct
{
  gint64  feed_id;
  char   *title;
  guint   n_new;
} TdFeedNewItems;

/* Which items a query returns. */
typedef enum
{
  TD_FEED_FILTER_ALL,
  TD_FEED_FILTER_UNREAD,
  TD_FEED_FILTER_STARRED,
  TD_FEED_FILTER_FEED,        /* feed_id */
  TD_FEED_FILTER_FOLDER,      /* folder */
} TdFeedFilter;

typedef struct
{
  TdFeedFilter  filter;
  gint64        feed_id;
  const char   *folder;
  const char   *search;       /* words to find in titles and content (FTS); NULL: none */
  gboolean      unread_only;  /* on top of the filter */
} TdFeedQuery;

/* The payload of every reply; which fields are set depends on the request. */
typedef struct
{
  guint64       tag;          /* the caller's, echoed */
  GError       *error;        /* NULL on success */
  TdFeedInfo   *feed;         /* add, set_properties */
  GPtrArray    *choices;      /* add: TdFeedChoice, when a page offers several feeds */
  GPtrArray    *feeds;        /* list_feeds: TdFeedInfo */
  GPtrArray    *items;        /* load_items: TdFeedItem */
  TdFeedItem   *item;         /* load_item */
  guint         offset;       /* load_items: of the first item */
  guint         total;        /* load_items: matching items (when asked);
                                 import_opml: feeds added; add: items stored */
  guint         skipped;      /* import_opml: feeds already there or unreadable */
  char         *text;         /* export_opml with no file: the document */
} TdFeedReply;

typedef enum
{
  TD_FEED_EVENT_FEEDS,        /* feeds: the whole list with counts, after any change */
  TD_FEED_EVENT_ITEMS,        /* feed_id (0: several) got n_new new or changed items */
  TD_FEED_EVENT_PROGRESS,     /* a refresh round: done of total feeds */
  TD_FEED_EVENT_SUMMARY,      /* a refresh round ended: n_new in all, per feed in new_items */
} TdFeedEventType;

typedef struct
{
  TdFeedEventType  type;
  gint64           feed_id;
  guint            n_new;
  guint            done;
  guint            total;
  guint            failed;
  GPtrArray       *feeds;     /* TdFeedInfo */
  GPtrArray       *new_items; /* TdFeedNewItems */
} TdFeedEvent;

typedef struct
{
  guint          max_running;       /* refreshes at once; 0: TD_FEED_MANAGER_DEFAULT_MAX_RUNNING */
  guint          max_per_host;      /* 0: TD_FEED_MANAGER_DEFAULT_MAX_PER_HOST */
  guint          deadline_ms;       /* per attempt; 0: TD_FEED_MANAGER_DEFAULT_DEADLINE_MS */
  guint          max_attempts;      /* 0: the farm's default */
  TdRetryPolicy  retry;             /* base_ms 0: the farm's default */
  guint          refresh_interval;  /* seconds between refreshes; 0: one hour */
  guint          items_kept;        /* per feed; 0: TD_FEED_MANAGER_DEFAULT_ITEMS_KEPT */
  int            startup_delay_ms;  /* refresh due feeds this long after start; < 0: never */
  const char    *icon_dir;          /* icon cache; NULL: $XDG_CACHE_HOME/tidings/icons */
  gboolean       skip_icons;        /* TRUE: fetch no icons (tests, benchmarks) */
} TdFeedManagerConfig;

/* Eight feeds at once keep a thousand-feed refresh short while staying
 * far below what a desktop's network and the recorder can absorb. */
#define TD_FEED_MANAGER_DEFAULT_MAX_RUNNING   8
/* Two per host, as browsers do per host for background work: polite to
 * servers that carry many feeds (planets, forges). */
#define TD_FEED_MANAGER_DEFAULT_MAX_PER_HOST  2
/* Longer than the fetcher's own I/O timeouts, so it only catches a
 * request that trickles forever. */
#define TD_FEED_MANAGER_DEFAULT_DEADLINE_MS   (90 * 1000)
#define TD_FEED_MANAGER_DEFAULT_ITEMS_KEPT    1000
#define TD_FEED_MANAGER_DEFAULT_INTERVAL_S    3600
/* Items per page of a list query: a few screens of rows. */
#define TD_FEED_MANAGER_PAGE_SIZE             200

typedef struct _TdFeedManager TdFeedManager;

GQuark         td_feed_manager_error_quark       (void);

TdFeedInfo    *td_feed_info_copy                 (const TdFeedInfo   *info);
void           td_feed_info_free                 (TdFeedInfo         *info);
void           td_feed_choice_free               (TdFeedChoice       *choice);
void           td_feed_item_free                 (TdFeedItem         *item);
void           td_feed_item_enclosure_free       (TdFeedItemEnclosure *enclosure);
void           td_feed_new_items_free            (TdFeedNewItems     *new_items);
void           td_feed_reply_free                (TdFeedReply        *reply);
void           td_feed_event_free                (TdFeedEvent        *event);

/* Starts a manager on the thread-default context: loads the feed list,
 * then refreshes the due feeds after the start-up delay and whenever a
 * feed's interval has passed. @recorder and @loop must outlive it. */
TdFeedManager *td_feed_manager_new               (TdRecorder                *recorder,
                                                  TdTaskLoop                *loop,
                                                  const TdFeedManagerConfig *config);
/* Cancels every refresh (their results are dropped) and frees. Saves
 * already handed to the recorder are still written. */
void           td_feed_manager_free              (TdFeedManager      *self);

/* Listeners get TdFeedEvent mail of @kind; a new listener gets the feed
 * list as soon as it is known. */
void           td_feed_manager_add_listener      (TdFeedManager      *self,
                                                  TdMailboxId         mailbox,
                                                  guint               kind);
void           td_feed_manager_remove_listener   (TdFeedManager      *self,
                                                  TdMailboxId         mailbox);

void           td_feed_manager_set_refresh_interval (TdFeedManager   *self,
                                                  guint               seconds);
void           td_feed_manager_set_items_kept    (TdFeedManager      *self,
                                                  guint               n_items);
/* TRUE once the feed list is loaded (requests made before are queued). */
gboolean       td_feed_manager_is_ready          (TdFeedManager      *self);

/* Subscribes to @url: a feed, a page that names feeds, a file:// URI or
 * an absolute path. The reply has the feed (and total = items stored),
 * or choices when the page offers several feeds (call again with one),
 * or an error. @folder may be NULL. */
void           td_feed_manager_add               (TdFeedManager      *self,
                                                  const char         *url,
                                                  const char         *folder,
                                                  TdMailboxId         reply,
                                                  guint               reply_kind,
                                                  guint64             tag);
/* Unsubscribes: the feed and its items are deleted, a refresh in flight
 * is dropped. */
void           td_feed_manager_remove            (TdFeedManager      *self,
                                                  gint64              feed_id,
                                                  TdMailboxId         reply,
                                                  guint               reply_kind,
                                                  guint64             tag);
/* Refreshes every feed that is not gone; @urgent (the user asked) jumps
 * the queue. Progress and the summary go to the listeners. */
void           td_feed_manager_refresh_all       (TdFeedManager      *self,
                                                  gboolean            urgent);
void           td_feed_manager_refresh           (TdFeedManager      *self,
                                                  gint64              feed_id,
                                                  gboolean            urgent);
/* Title override (NULL or "" clears it), refresh interval in seconds
 * (0: the default) and folder (NULL or "": top level). */
void           td_feed_manager_set_properties    (TdFeedManager      *self,
                                                  gint64              feed_id,
                                                  const char         *title_override,
                                                  guint               refresh_interval,
                                                  const char         *folder,
                                                  TdMailboxId         reply,
                                                  guint               reply_kind,
                                                  guint64             tag);

void           td_feed_manager_list_feeds        (TdFeedManager      *self,
                                                  TdMailboxId         reply,
                                                  guint               reply_kind,
                                                  guint64             tag);
/* Items matching @query, newest first, @limit of them from @offset; with
 * @with_total the reply's total counts every match. */
void           td_feed_manager_load_items        (TdFeedManager      *self,
                                                  const TdFeedQuery  *query,
                                                  guint               offset,
                                                  guint               limit,
                                                  gboolean            with_total,
                                                  TdMailboxId         reply,
                                                  guint               reply_kind,
                                                  guint64             tag);
void           td_feed_manager_load_item         (TdFeedManager      *self,
                                                  gint64              item_id,
                                                  TdMailboxId         reply,
                                                  guint               reply_kind,
                                                  guint64             tag);

void           td_feed_manager_set_read          (TdFeedManager      *self,
                                                  const gint64       *item_ids,
                                                  guint               n_ids,
                                                  gboolean            read);
void           td_feed_manager_set_starred       (TdFeedManager      *self,
                                                  gint64              item_id,
                                                  gboolean            starred);
/* Marks read every item a list query with @query shows: the filter,
 * unread_only and the search words alike. */
void           td_feed_manager_mark_all_read     (TdFeedManager      *self,
                                                  const TdFeedQuery  *query);
/* Deletes an item for good: a refresh of a feed that still carries it
 * does not bring it back. */
void           td_feed_manager_delete_item       (TdFeedManager      *self,
                                                  gint64              item_id);

/* Subscribes to every feed of the OPML document at @file (folders kept;
 * feeds already there are skipped). Reply: total added, skipped. The
 * new feeds are refreshed in the background. */
void           td_feed_manager_import_opml       (TdFeedManager      *self,
                                                  GFile              *file,
                                                  TdMailboxId         reply,
                                                  guint               reply_kind,
                                                  guint64             tag);
/* Writes every subscription, with folders, as OPML to @file (NULL: the
 * reply's text carries the document). */
void           td_feed_manager_export_opml       (TdFeedManager      *self,
                                                  GFile              *file,
                                                  TdMailboxId         reply,
                                                  guint               reply_kind,
                                                  guint64             tag);

/* Refreshes queued or running, for tests and status displays. */
guint          td_feed_manager_get_n_pending     (TdFeedManager      *self);
/* The farm, for tests that check its limits. */
TdFarm        *td_feed_manager_get_farm          (TdFeedManager      *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdFeedInfo, td_feed_info_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdFeedItem, td_feed_item_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdFeedReply, td_feed_reply_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdFeedEvent, td_feed_event_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdFeedManager, td_feed_manager_free)

G_END_DECLS
