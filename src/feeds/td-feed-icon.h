/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "feeds/td-feed-fetcher.h"

G_BEGIN_DECLS

/*
 * Feed icons: which image stands for a feed (the feed's own icon or
 * logo, else its site's /favicon.ico), fetched with a fetcher of its own
 * size cap, decoded by gdk-pixbuf under pixel limits, scaled to 16 and
 * 32 px squares and cached on disk as PNG files named by a hash of the
 * icon's URL. Everything here but td_feed_icon_url() does I/O: call it
 * from a task-loop worker.
 */

#define TD_FEED_ICON_ERROR (td_feed_icon_error_quark ())

typedef enum
{
  TD_FEED_ICON_ERROR_FAILED_RECENTLY, /* a fetch failed less than TD_FEED_ICON_RETRY_S ago */
  TD_FEED_ICON_ERROR_FETCH,           /* the server did not give us an image */
  TD_FEED_ICON_ERROR_REFUSED,         /* too many pixels, or a format we do not decode */
  TD_FEED_ICON_ERROR_DECODE,          /* not an image gdk-pixbuf could read */
} TdFeedIconError;

/* Icons are a few KiB; a 256 KiB cap leaves room for a large ICO with
 * many sizes and stops anything that is not an icon early. */
#define TD_FEED_ICON_MAX_BYTES    (256 * 1024)
/* Decoded size above which an image is refused before its pixels are
 * allocated: a small file can claim a huge canvas (a decompression
 * bomb), and 1024 × 1024 is four times the largest ICO entry. */
#define TD_FEED_ICON_MAX_PIXELS   (1024 * 1024)
/* A failed icon is tried again after a day, not at every refresh. */
#define TD_FEED_ICON_RETRY_S      (24 * 3600)
/* Anything a fetch returns beyond this time is not worth waiting for. */
#define TD_FEED_ICON_DEADLINE_MS  20000
/* The two sizes kept: the sidebar's at scale 1 and scale 2. */
#define TD_FEED_ICON_SMALL        16
#define TD_FEED_ICON_LARGE        32

/* An icon ready to show: straight (not premultiplied) RGBA rows, 4 bytes
 * a pixel, no padding. */
typedef struct
{
  char   *url;
  GBytes *rgba_small;     /* TD_FEED_ICON_SMALL squared */
  GBytes *rgba_large;     /* TD_FEED_ICON_LARGE squared */
} TdFeedIcon;

GQuark      td_feed_icon_error_quark  (void);

TdFeedIcon *td_feed_icon_copy         (const TdFeedIcon *icon);
void        td_feed_icon_free         (TdFeedIcon       *icon);

/* Returns the URL of the image that stands for a feed at @feed_url whose
 * document names @icon_url and @site_link (both may be NULL), or NULL
 * when there is none to fetch: the named icon, else /favicon.ico of the
 * site (or of the feed's host). Local (file://) feeds only get local
 * icons: reading a file never causes a network request. */
char       *td_feed_icon_url          (const char       *feed_url,
                                       const char       *icon_url,
                                       const char       *site_link);

/* $XDG_CACHE_HOME/tidings/icons; the caller owns it. */
char       *td_feed_icon_default_dir  (void);

/* Decodes @data (an image of any size gdk-pixbuf reads in a format we
 * accept) into an icon for @url, or NULL and sets @error. Pure; any
 * thread. */
TdFeedIcon *td_feed_icon_decode       (const char       *url,
                                       const guint8     *data,
                                       gsize             len,
                                       GError          **error);

/* The icon for @url: from the cache in @dir, else fetched with @fetcher
 * (whose size cap should be TD_FEED_ICON_MAX_BYTES), decoded and cached.
 * A failed fetch is remembered for TD_FEED_ICON_RETRY_S. Blocks: call it
 * from a worker. NULL and @error when there is no icon. */
TdFeedIcon *td_feed_icon_load         (TdFeedFetcher    *fetcher,
                                       const char       *dir,
                                       const char       *url,
                                       GCancellable     *cancellable,
                                       GError          **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdFeedIcon, td_feed_icon_free)

G_END_DECLS
