/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-feed-manager"

#include "config.h"

#include <string.h>

#include <json-glib/json-glib.h>

#include "feeds/td-feed-manager.h"
#include "feeds/td-feed-fetcher.h"
#include "feeds/td-feed-parser.h"
#include "feeds/td-feed-date.h"
#include "feeds/td-feed-discover.h"
#include "feeds/td-feed-icon.h"
#include "feeds/td-opml.h"

/*
 * Three stages, none on the manager's thread:
 *
 *   farm job (worker)        fetch with the shared fetcher, parse, turn
 *                            entries into item rows with their keys
 *   recorder (its thread)    one apply function per feed: update the
 *                            feed, upsert its items, prune; then a load
 *                            that reports what changed
 *   manager (its context)    bookkeeping only: schedule, count, mail
 *
 * Recorder answers come back to the manager's mailbox with the request's
 * serial as the mail kind; internal mail uses the small kinds below.
 */

enum
{
  MAIL_FARM_RESULT = 1,
  MAIL_FARM_PROGRESS,
  MAIL_TICK,
  MAIL_STARTUP,
  MAIL_ADD_FETCHED,
  MAIL_OPML_READ,
  MAIL_OPML_WRITTEN,
  MAIL_LOAD_FEEDS,
  MAIL_ICON,
  MAIL_FIRST_REQUEST = 64,
};

/* Periodic refreshes are checked at least this often, so that a clock
 * change or a suspend is noticed within minutes. */
#define TD_FEED_MANAGER_MAX_TICK_MS (5 * 60 * 1000)

/* After a refresh fails for good, the next try waits this many intervals
 * per failure in a row, up to the cap: a dead feed costs little. */
#define TD_FEED_MANAGER_MAX_ERROR_BACKOFF 8

/* While the database cannot be read (a damaged file the user has not
 * moved aside yet), the feed list is asked for again after this long,
 * doubling up to the cap. */
#define TD_FEED_MANAGER_LOAD_RETRY_MS     1000
#define TD_FEED_MANAGER_LOAD_RETRY_MAX_MS 30000

typedef enum
{
  REQ_LOAD_FEEDS,     /* TdRows: the cache at start */
  REQ_BROADCAST,      /* GPtrArray of TdFeedInfo, to the listeners */
  REQ_LIST,           /* GPtrArray of TdFeedInfo, to one caller */
  REQ_ITEMS,          /* TdFeedReply */
  REQ_ITEM,           /* TdFeedReply */
  REQ_STORED,         /* StoreCounts: a refresh was applied */
  REQ_ADD_STORED,     /* StoreCounts: a new feed was stored */
  REQ_PROPERTIES,     /* GPtrArray of TdFeedInfo (one) */
  REQ_EXPORT_LIST,    /* GPtrArray of TdFeedInfo, for OPML */
} RequestType;

typedef struct
{
  RequestType  type;
  TdMailboxId  reply;
  guint        reply_kind;
  guint64      tag;
  gint64       feed_id;
  gboolean     in_round;    /* a store counted in round_stores */
  GFile       *file;        /* export */
} Request;

/* What the manager remembers of a feed: enough to schedule and fetch. */
typedef struct
{
  gint64    id;
  char     *url;
  char     *etag;
  char     *last_modified;
  char     *title;
  char     *folder;
  guint     interval;       /* seconds; 0: default */
  gint64    last_fetch;     /* µs */
  gint64    next_fetch;     /* µs; 0: due */
  guint     error_count;
  gboolean  gone;
  gboolean  in_round;       /* counted in the current refresh round */
  char     *icon_url;       /* as the feed names it */
  char     *site_link;
  char     *icon_want;      /* the icon's URL (td_feed_icon_url ()); NULL: none */
  TdFeedIcon *icon;         /* what is shown; may be for an older icon_want */
} Feed;

typedef struct
{
  TdMailboxId mailbox;
  guint       kind;
} Listener;

/* The fetcher is shared by every job and outlives the manager while a
 * worker still uses it. */
typedef struct
{
  gatomicrefcount  ref_count;
  TdFeedFetcher   *fetcher;
} FetcherRef;

/* One entry of a fetched feed, ready for the recorder. */
typedef struct
{
  char   *guid;
  char   *title;
  char   *link;
  char   *author;
  gint64  published;        /* µs; 0: the feed gives no date */
  gint64  updated;          /* µs; 0: unknown */
  char   *summary;
  char   *content;
  char   *enclosures;       /* JSON, or NULL */
} ItemRow;

/* What a fetch and parse produced, handed from a worker to the manager
 * and on to the recorder. */
typedef struct
{
  gint64     feed_id;
  char      *url;           /* what was asked for */
  char      *new_url;       /* where 301/308 moved it, or NULL */
  char      *etag;
  char      *last_modified;
  gboolean   not_modified;
  gboolean   gone;
  char      *title;
  char      *site_link;
  char      *icon_url;
  GPtrArray *rows;          /* ItemRow; NULL when not modified */
  GPtrArray *choices;       /* TdFeedChoice: a page instead of a feed */
} FeedOutcome;

/* What an apply did, read back by the load queued after it. */
typedef struct
{
  gatomicrefcount ref_count;
  guint           n_new;
  guint           n_updated;
  gboolean        removed;
} StoreCounts;

/* A feed read from an OPML file. */
typedef struct
{
  char *url;
  char *title;
  char *site_link;
  char *folder;             /* nested folders joined with "/" */
} OpmlEntry;

static void outcome_free (FeedOutcome *outcome);
static void request_free (Request *req);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (FeedOutcome, outcome_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Request, request_free)

typedef void (*DeferredFunc) (TdFeedManager *self, gpointer data);

typedef struct
{
  DeferredFunc   func;
  gpointer       data;
  GDestroyNotify destroy;
} Deferred;

struct _TdFeedManager
{
  GMainContext        *context;       /* owned ref */
  TdRecorder          *recorder;      /* borrowed */
  TdTaskLoop          *loop;          /* borrowed */
  TdFeedManagerConfig  config;
  FetcherRef          *fetcher;       /* owned ref */
  FetcherRef          *icon_fetcher;  /* owned ref; its size cap is an icon's */
  char                *icon_dir;
  GHashTable          *icons_loading; /* icon url -> NULL: fetches in flight */
  TdFarm              *farm;          /* owned */
  TdMailboxId          mailbox;
  GArray              *listeners;     /* Listener */

  GHashTable          *feeds;         /* id -> Feed (owned) */
  GHashTable          *urls;          /* url -> Feed (borrowed) */
  GHashTable          *adding;        /* url -> NULL: adds in flight */
  gint64               max_id;
  gboolean             ready;
  GQueue               deferred;      /* Deferred, run once ready */

  GHashTable          *requests;      /* serial -> Request (owned) */
  guint                next_serial;

  /* The refresh round: from the first job queued to the last stored. */
  guint                round_total;
  guint                round_done;
  guint                round_failed;
  guint                round_stores;  /* applies not yet confirmed */
  GHashTable          *round_new;     /* feed id -> new items */

  gboolean             list_in_flight;
  gboolean             list_dirty;

  guint                tick_timeout;
  gint64               tick_at;
  guint                load_retry_ms;
  guint                load_timeout;
  gboolean             started;       /* the start-up delay is over */
};

G_DEFINE_QUARK (td-feed-manager-error-quark, td_feed_manager_error)

/* ------------------------------------------------------------------ */
/* Public structs                                                      */
/* ------------------------------------------------------------------ */

TdFeedInfo *
td_feed_info_copy (const TdFeedInfo *info)
{
  TdFeedInfo *copy;

  if (info == NULL)
    return NULL;

  copy = g_memdup2 (info, sizeof *info);
  copy->url = g_strdup (info->url);
  copy->title = g_strdup (info->title);
  copy->feed_title = g_strdup (info->feed_title);
  copy->title_override = g_strdup (info->title_override);
  copy->site_link = g_strdup (info->site_link);
  copy->icon_url = g_strdup (info->icon_url);
  copy->folder = g_strdup (info->folder);
  copy->error_text = g_strdup (info->error_text);
  copy->icon_small = info->icon_small ? g_bytes_ref (info->icon_small) : NULL;
  copy->icon_large = info->icon_large ? g_bytes_ref (info->icon_large) : NULL;
  return copy;
}

void
td_feed_info_free (TdFeedInfo *info)
{
  if (info == NULL)
    return;

  g_free (info->url);
  g_free (info->title);
  g_free (info->feed_title);
  g_free (info->title_override);
  g_free (info->site_link);
  g_free (info->icon_url);
  g_free (info->folder);
  g_free (info->error_text);
  g_clear_pointer (&info->icon_small, g_bytes_unref);
  g_clear_pointer (&info->icon_large, g_bytes_unref);
  g_free (info);
}

void
td_feed_choice_free (TdFeedChoice *choice)
{
  if (choice == NULL)
    return;

  g_free (choice->url);
  g_free (choice->title);
  g_free (choice->type);
  g_free (choice);
}

void
td_feed_item_enclosure_free (TdFeedItemEnclosure *enclosure)
{
  if (enclosure == NULL)
    return;

  g_free (enclosure->url);
  g_free (enclosure->type);
  g_free (enclosure);
}

void
td_feed_item_free (TdFeedItem *item)
{
  if (item == NULL)
    return;

  g_free (item->feed_title);
  g_free (item->title);
  g_free (item->link);
  g_free (item->author);
  g_free (item->summary);
  g_free (item->content);
  g_clear_pointer (&item->enclosures, g_ptr_array_unref);
  g_free (item);
}

void
td_feed_new_items_free (TdFeedNewItems *new_items)
{
  if (new_items == NULL)
    return;

  g_free (new_items->title);
  g_free (new_items);
}

void
td_feed_reply_free (TdFeedReply *reply)
{
  if (reply == NULL)
    return;

  g_clear_error (&reply->error);
  g_clear_pointer (&reply->feed, td_feed_info_free);
  g_clear_pointer (&reply->choices, g_ptr_array_unref);
  g_clear_pointer (&reply->feeds, g_ptr_array_unref);
  g_clear_pointer (&reply->items, g_ptr_array_unref);
  g_clear_pointer (&reply->item, td_feed_item_free);
  g_free (reply->text);
  g_free (reply);
}

void
td_feed_event_free (TdFeedEvent *event)
{
  if (event == NULL)
    return;

  g_clear_pointer (&event->feeds, g_ptr_array_unref);
  g_clear_pointer (&event->new_items, g_ptr_array_unref);
  g_free (event);
}

static GPtrArray *
feed_info_array_copy (GPtrArray *feeds)
{
  GPtrArray *copy = g_ptr_array_new_full (feeds->len, (GDestroyNotify) td_feed_info_free);

  for (guint i = 0; i < feeds->len; i++)
    g_ptr_array_add (copy, td_feed_info_copy (g_ptr_array_index (feeds, i)));
  return copy;
}

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

static FetcherRef *
fetcher_ref (FetcherRef *ref)
{
  g_atomic_ref_count_inc (&ref->ref_count);
  return ref;
}

static void
fetcher_unref (FetcherRef *ref)
{
  if (ref == NULL || !g_atomic_ref_count_dec (&ref->ref_count))
    return;

  td_feed_fetcher_free (ref->fetcher);
  g_free (ref);
}

static void
feed_free (Feed *feed)
{
  g_free (feed->url);
  g_free (feed->etag);
  g_free (feed->last_modified);
  g_free (feed->title);
  g_free (feed->folder);
  g_free (feed->icon_url);
  g_free (feed->site_link);
  g_free (feed->icon_want);
  td_feed_icon_free (feed->icon);
  g_free (feed);
}

static void
request_free (Request *req)
{
  g_clear_object (&req->file);
  g_free (req);
}

static char *
empty_to_null (const char *text)
{
  g_autofree char *stripped = text ? g_strstrip (g_strdup (text)) : NULL;

  return stripped && *stripped ? g_steal_pointer (&stripped) : NULL;
}

static char *
feed_key (gint64 id)
{
  return g_strdup_printf ("feed:%" G_GINT64_FORMAT, id);
}

/* The farm group of @url: its host and port, so that the per-group
 * limit is a per-host limit; NULL (no limit) for files. */
static char *
url_group (const char *url)
{
  g_autoptr(GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);

  if (uri == NULL || g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
    return NULL;

  return g_strdup_printf ("%s:%d", g_uri_get_host (uri), g_uri_get_port (uri));
}

/* Turns what a person typed into a URL we can fetch: a path becomes a
 * file:// URI, a bare host gets https://. Returns NULL and sets @error
 * for anything else. */
static char *
normalize_url (const char  *text,
               GError     **error)
{
  g_autofree char *url = empty_to_null (text);
  g_autofree char *scheme = NULL;

  if (url == NULL)
    {
      g_set_error (error, TD_FEED_MANAGER_ERROR, TD_FEED_MANAGER_ERROR_INVALID,
                   "No address given");
      return NULL;
    }

  if (url[0] == '/')
    {
      char *uri = g_filename_to_uri (url, NULL, error);

      return uri;
    }

  scheme = g_uri_parse_scheme (url);
  if (scheme == NULL)
    {
      char *with_scheme = g_strconcat ("https://", url, NULL);

      g_free (url);
      url = with_scheme;
      scheme = g_strdup ("https");
    }

  if (g_ascii_strcasecmp (scheme, "http") != 0 && g_ascii_strcasecmp (scheme, "https") != 0
      && g_ascii_strcasecmp (scheme, "file") != 0)
    {
      g_set_error (error, TD_FEED_MANAGER_ERROR, TD_FEED_MANAGER_ERROR_INVALID,
                   "Only http, https and file addresses can be read, not “%s”", url);
      return NULL;
    }

  if (!td_feed_url_is_valid (url))
    {
      g_set_error (error, TD_FEED_MANAGER_ERROR, TD_FEED_MANAGER_ERROR_INVALID,
                   "“%s” is not a valid address", url);
      return NULL;
    }

  return g_steal_pointer (&url);
}

static guint
feed_interval (TdFeedManager *self,
               const Feed    *feed)
{
  return feed->interval > 0 ? feed->interval : self->config.refresh_interval;
}

/* When @feed is next due, after a refresh at @now that failed
 * @error_count times in a row. */
static gint64
next_fetch_after (TdFeedManager *self,
                  const Feed    *feed,
                  gint64         now,
                  guint          error_count)
{
  guint factor = 1;

  if (error_count > 0)
    factor = 1u << MIN (error_count - 1, 3u);
  factor = MIN (factor, TD_FEED_MANAGER_MAX_ERROR_BACKOFF);

  return now + (gint64) feed_interval (self, feed) * factor * G_USEC_PER_SEC;
}

static TdFeedReply *
reply_new (guint64 tag)
{
  TdFeedReply *reply = g_new0 (TdFeedReply, 1);

  reply->tag = tag;
  return reply;
}

static void
send_reply (TdMailboxId  to,
            guint        kind,
            TdFeedReply *reply)
{
  if (to == TD_MAILBOX_NONE)
    td_feed_reply_free (reply);
  else
    td_mail_send_new (to, kind, reply, (GDestroyNotify) td_feed_reply_free);
}

static void
send_error (TdMailboxId  to,
            guint        kind,
            guint64      tag,
            GError      *error)
{
  TdFeedReply *reply = reply_new (tag);

  reply->error = error;
  send_reply (to, kind, reply);
}

static void
broadcast (TdFeedManager *self,
           TdFeedEvent   *event)
{
  for (guint i = 0; i < self->listeners->len; i++)
    {
      Listener *l = &g_array_index (self->listeners, Listener, i);
      TdFeedEvent *copy = g_memdup2 (event, sizeof *event);

      copy->feeds = event->feeds ? feed_info_array_copy (event->feeds) : NULL;
      copy->new_items = NULL;
      if (event->new_items != NULL)
        {
          copy->new_items = g_ptr_array_new_with_free_func ((GDestroyNotify) td_feed_new_items_free);
          for (guint j = 0; j < event->new_items->len; j++)
            {
              TdFeedNewItems *n = g_ptr_array_index (event->new_items, j);
              TdFeedNewItems *c = g_new0 (TdFeedNewItems, 1);

              c->feed_id = n->feed_id;
              c->title = g_strdup (n->title);
              c->n_new = n->n_new;
              g_ptr_array_add (copy->new_items, c);
            }
        }
      td_mail_send_new (l->mailbox, l->kind, copy, (GDestroyNotify) td_feed_event_free);
    }
  td_feed_event_free (event);
}

static guint
request_add (TdFeedManager *self,
             RequestType    type,
             TdMailboxId    reply,
             guint          reply_kind,
             guint64        tag)
{
  Request *req = g_new0 (Request, 1);
  guint serial;

  req->type = type;
  req->reply = reply;
  req->reply_kind = reply_kind;
  req->tag = tag;

  do
    {
      serial = self->next_serial++;
      if (serial < MAIL_FIRST_REQUEST)
        serial = self->next_serial = MAIL_FIRST_REQUEST;
    }
  while (g_hash_table_contains (self->requests, GUINT_TO_POINTER (serial)));

  g_hash_table_insert (self->requests, GUINT_TO_POINTER (serial), req);
  return serial;
}

static Request *
request_lookup (TdFeedManager *self,
                guint          serial)
{
  return g_hash_table_lookup (self->requests, GUINT_TO_POINTER (serial));
}

/* Runs @func now if the feed list is loaded, else once it is. */
static void
when_ready (TdFeedManager  *self,
            DeferredFunc    func,
            gpointer        data,
            GDestroyNotify  destroy)
{
  Deferred *d;

  if (self->ready)
    {
      func (self, data);
      if (destroy != NULL)
        destroy (data);
      return;
    }

  d = g_new0 (Deferred, 1);
  d->func = func;
  d->data = data;
  d->destroy = destroy;
  g_queue_push_tail (&self->deferred, d);
}

/* ------------------------------------------------------------------ */
/* Workers: fetch and parse                                            */
/* ------------------------------------------------------------------ */

static ItemRow *
item_row_new (void)
{
  return g_new0 (ItemRow, 1);
}

static void
item_row_free (ItemRow *row)
{
  if (row == NULL)
    return;

  g_free (row->guid);
  g_free (row->title);
  g_free (row->link);
  g_free (row->author);
  g_free (row->summary);
  g_free (row->content);
  g_free (row->enclosures);
  g_free (row);
}

static void
outcome_free (FeedOutcome *outcome)
{
  if (outcome == NULL)
    return;

  g_free (outcome->url);
  g_free (outcome->new_url);
  g_free (outcome->etag);
  g_free (outcome->last_modified);
  g_free (outcome->title);
  g_free (outcome->site_link);
  g_free (outcome->icon_url);
    g_clear_pointer (&outcome->rows, g_ptr_array_unref);
  g_clear_pointer (&outcome->choices, g_ptr_array_unref);
  g_free (outcome);
}

/* Returns @text with tags removed and entities decoded: titles are shown
 * as plain text, whatever markup the feed put in them. */
static char *
strip_markup (const char *text)
{
  GString *out;
  gboolean in_tag = FALSE;

  if (text == NULL)
    return NULL;

  out = g_string_sized_new (strlen (text));
  for (const char *p = text; *p; p++)
    {
      if (in_tag)
        {
          if (*p == '>')
            in_tag = FALSE;
          continue;
        }
      if (*p == '<')
        {
          in_tag = TRUE;
          continue;
        }
      if (*p == '&')
        {
          const char *semi = strchr (p, ';');
          static const struct { const char *name; const char *text; } entities[] = {
            { "amp", "&" }, { "lt", "<" }, { "gt", ">" }, { "quot", "\"" },
            { "apos", "'" }, { "nbsp", "\xc2\xa0" },
          };
          gboolean done = FALSE;

          if (semi != NULL && semi - p <= 10)
            {
              g_autofree char *name = g_strndup (p + 1, semi - p - 1);

              if (name[0] == '#')
                {
                  gunichar c = name[1] == 'x' || name[1] == 'X'
                               ? (gunichar) g_ascii_strtoull (name + 2, NULL, 16)
                               : (gunichar) g_ascii_strtoull (name + 1, NULL, 10);

                  if (c != 0 && g_unichar_validate (c))
                    {
                      g_string_append_unichar (out, c);
                      done = TRUE;
                    }
                }
              else
                for (guint i = 0; i < G_N_ELEMENTS (entities); i++)
                  if (strcmp (name, entities[i].name) == 0)
                    {
                      g_string_append (out, entities[i].text);
                      done = TRUE;
                      break;
                    }
            }
          if (done)
            {
              p = semi;
              continue;
            }
        }
      g_string_append_c (out, *p);
    }

  /* Collapse runs of white space: titles are one line. */
  {
    g_auto(GStrv) words = g_strsplit_set (out->str, " \t\r\n", -1);
    GString *line = g_string_new (NULL);

    for (guint i = 0; words[i] != NULL; i++)
      if (*words[i])
        {
          if (line->len > 0)
            g_string_append_c (line, ' ');
          g_string_append (line, words[i]);
        }
    g_string_free (out, TRUE);
    return g_string_free (line, FALSE);
  }
}

static gint64
date_to_usec (gint64 date)
{
  if (!TD_FEED_DATE_IS_VALID (date))
    return 0;
  /* The schema keeps microseconds; dates outside what fits are dropped. */
  if (date > G_MAXINT64 / G_USEC_PER_SEC || date < G_MININT64 / G_USEC_PER_SEC)
    return 0;
  return date * G_USEC_PER_SEC;
}

static char *
enclosures_to_json (const TdFeedEntry *entry)
{
  g_autoptr(JsonBuilder) builder = NULL;
  g_autoptr(JsonGenerator) generator = NULL;
  g_autoptr(JsonNode) root = NULL;

  if (entry->enclosures == NULL || entry->enclosures->len == 0)
    return NULL;

  builder = json_builder_new ();
  json_builder_begin_array (builder);
  for (guint i = 0; i < entry->enclosures->len; i++)
    {
      TdFeedEnclosure *e = g_ptr_array_index (entry->enclosures, i);

      if (e->url == NULL)
        continue;
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "url");
      json_builder_add_string_value (builder, e->url);
      if (e->type != NULL)
        {
          json_builder_set_member_name (builder, "type");
          json_builder_add_string_value (builder, e->type);
        }
      json_builder_set_member_name (builder, "length");
      json_builder_add_int_value (builder, e->length);
      json_builder_end_object (builder);
    }
  json_builder_end_array (builder);

  root = json_builder_get_root (builder);
  generator = json_generator_new ();
  json_generator_set_root (generator, root);
  return json_generator_to_data (generator, NULL);
}

/* The body to show: HTML content first (content:encoded, Atom html or
 * xhtml), then any content, else NULL (the summary stands in). */
static const char *
entry_content (const TdFeedEntry *entry)
{
  const char *fallback = NULL;

  if (entry->content == NULL)
    return NULL;

  for (guint i = 0; i < entry->content->len; i++)
    {
      TdFeedContent *c = g_ptr_array_index (entry->content, i);

      if (c->value == NULL || *c->value == '\0')
        continue;
      if (c->type == NULL || g_str_equal (c->type, "html") || g_str_equal (c->type, "xhtml")
          || g_str_equal (c->type, "text/html"))
        return c->value;
      if (fallback == NULL)
        fallback = c->value;
    }
  return fallback;
}

/* The key that tells items of one feed apart: the entry's id, else its
 * link, else a hash of what it says. */
static char *
entry_guid (const TdFeedEntry *entry,
            const char        *content)
{
  g_autoptr(GChecksum) sum = NULL;

  if (entry->id != NULL && *entry->id != '\0')
    return g_strdup (entry->id);
  if (entry->link != NULL && *entry->link != '\0')
    return g_strdup (entry->link);

  sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_checksum_update (sum, (const guchar *) (entry->title ? entry->title : ""), -1);
  g_checksum_update (sum, (const guchar *) "\n", 1);
  g_checksum_update (sum, (const guchar *) (entry->summary ? entry->summary : ""), -1);
  g_checksum_update (sum, (const guchar *) "\n", 1);
  g_checksum_update (sum, (const guchar *) (content ? content : ""), -1);
  return g_strconcat ("sha256:", g_checksum_get_string (sum), NULL);
}

/* Turns a parsed feed into rows for the recorder; the feed is freed by
 * the caller. Entries that share a key keep the first one. */
static void
outcome_take_feed (FeedOutcome  *outcome,
                            const TdFeed *feed)
{
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

  if (feed->info->title != NULL)
    outcome->title = feed->info->title_type == TD_FEED_TEXT_HTML || feed->info->title_type == TD_FEED_TEXT_XHTML
                     ? strip_markup (feed->info->title)
                     : g_strdup (feed->info->title);
  outcome->site_link = g_strdup (feed->info->link);
  outcome->icon_url = g_strdup (feed->info->icon);

  outcome->rows = g_ptr_array_new_with_free_func ((GDestroyNotify) item_row_free);
  for (guint i = 0; i < feed->entries->len; i++)
    {
      const TdFeedEntry *entry = g_ptr_array_index (feed->entries, i);
      const char *content = entry_content (entry);
      ItemRow *row = item_row_new ();

      row->guid = entry_guid (entry, content);
      if (g_hash_table_contains (seen, row->guid))
        {
          item_row_free (row);
          continue;
        }
      g_hash_table_add (seen, row->guid);

      row->title = entry->title_type == TD_FEED_TEXT_HTML || entry->title_type == TD_FEED_TEXT_XHTML
                   ? strip_markup (entry->title)
                   : g_strdup (entry->title);
      row->link = g_strdup (entry->link);
      if (entry->authors != NULL && entry->authors->len > 0)
        {
          TdFeedPerson *p = g_ptr_array_index (entry->authors, 0);

          row->author = g_strdup (p->name ? p->name : p->email);
        }
      row->published = date_to_usec (entry->published);
      row->updated = date_to_usec (entry->updated);
      if (row->published == 0)
        row->published = row->updated;
      row->summary = g_strdup (entry->summary);
      row->content = g_strdup (content);
      row->enclosures = enclosures_to_json (entry);
      g_ptr_array_add (outcome->rows, row);
    }
}

/* The feeds a page names, as choices (possibly none). */
static GPtrArray *
discover_choices (const char *data,
                  gsize       len,
                  const char *page_url,
                  const char *content_type)
{
  g_autoptr(GPtrArray) links = td_feed_discover (data, len, page_url, content_type);
  GPtrArray *choices = g_ptr_array_new_with_free_func ((GDestroyNotify) td_feed_choice_free);

  for (guint i = 0; links != NULL && i < links->len; i++)
    {
      TdFeedLink *link = g_ptr_array_index (links, i);
      TdFeedChoice *choice;

      if (link->href == NULL)
        continue;
      choice = g_new0 (TdFeedChoice, 1);
      choice->url = g_strdup (link->href);
      choice->title = g_strdup (link->title);
      choice->type = g_strdup (link->type);
      g_ptr_array_add (choices, choice);
    }
  return choices;
}

/* Fetches @url (conditionally with @etag / @last_modified) and parses it.
 * Returns the outcome (for 304 and 410 too), or NULL and sets @error;
 * *@transient tells whether the failure is worth retrying soon. */
static FeedOutcome *
fetch_and_parse (TdFeedFetcher *fetcher,
                 const char    *url,
                 const char    *etag,
                 const char    *last_modified,
                 gboolean       allow_html,
                 GCancellable  *cancellable,
                 gboolean      *transient,
                 guint         *retry_after_ms,
                 GError       **error)
{
  g_autoptr(TdFeedFetchRequest) request = td_feed_fetch_request_new (url, etag, last_modified);
  g_autoptr(TdFeedFetchResult) result = td_feed_fetcher_fetch (fetcher, request, cancellable);
  g_autoptr(FeedOutcome) outcome = g_new0 (FeedOutcome, 1);
  g_autoptr(TdFeed) feed = NULL;
  g_autoptr(GError) parse_error = NULL;
  gsize len = 0;
  const char *data;

  *transient = FALSE;
  outcome->url = g_strdup (url);
  outcome->new_url = g_strdup (result->new_url);

  switch (result->status)
    {
    case TD_FEED_FETCH_FAILED:
      *transient = result->transient;
      if (result->retry_after >= 0)
        *retry_after_ms = (guint) MIN ((gint64) G_MAXUINT / 1000, result->retry_after) * 1000;
      g_propagate_error (error, g_steal_pointer (&result->error));
      return NULL;

    case TD_FEED_FETCH_GONE:
      outcome->gone = TRUE;
      return g_steal_pointer (&outcome);

    case TD_FEED_FETCH_NOT_MODIFIED:
      outcome->not_modified = TRUE;
      outcome->etag = g_strdup (etag);
      outcome->last_modified = g_strdup (last_modified);
      return g_steal_pointer (&outcome);

    case TD_FEED_FETCH_OK:
    default:
      break;
    }

  outcome->etag = g_strdup (result->etag);
  outcome->last_modified = g_strdup (result->last_modified);

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;

  data = result->body ? g_bytes_get_data (result->body, &len) : "";
  feed = td_feed_parse (data, len, result->final_url ? result->final_url : url,
                        result->content_type, &parse_error);
  if (feed == NULL)
    {
      if (allow_html)
        {
          outcome->choices = discover_choices (data, len, result->final_url ? result->final_url : url,
                                               result->content_type);
          if (outcome->choices != NULL)
            return g_steal_pointer (&outcome);
        }
      g_propagate_error (error, g_steal_pointer (&parse_error));
      return NULL;
    }

  outcome_take_feed (outcome, feed);
  return g_steal_pointer (&outcome);
}

typedef struct
{
  gint64      feed_id;
  char       *url;
  char       *etag;
  char       *last_modified;
  FetcherRef *fetcher;
} RefreshJob;

static void
refresh_job_free (RefreshJob *job)
{
  g_free (job->url);
  g_free (job->etag);
  g_free (job->last_modified);
  fetcher_unref (job->fetcher);
  g_free (job);
}

/* A farm job: one refresh of one feed. Transient failures become the
 * farm's transient error (with the server's Retry-After) so that the farm
 * retries them with backoff; the original reason is kept in the text. */
static gpointer
refresh_job_worker (const char    *key,
                    gpointer       job_data,
                    GCancellable  *cancellable,
                    guint         *retry_after_ms,
                    GError       **error)
{
  RefreshJob *job = job_data;
  g_autoptr(GError) local_error = NULL;
  gboolean transient = FALSE;
  FeedOutcome *outcome;

  outcome = fetch_and_parse (job->fetcher->fetcher, job->url, job->etag, job->last_modified,
                             FALSE, cancellable, &transient, retry_after_ms, &local_error);
  if (outcome != NULL)
    {
      outcome->feed_id = job->feed_id;
      return outcome;
    }

  if (transient)
    g_set_error_literal (error, TD_FARM_ERROR, TD_FARM_ERROR_TRANSIENT, local_error->message);
  else
    g_propagate_error (error, g_steal_pointer (&local_error));
  return NULL;
}

typedef struct
{
  char       *url;
  char       *folder;
  TdMailboxId reply;
  guint       reply_kind;
  guint64     tag;
  FetcherRef *fetcher;
} AddJob;

static void
add_job_free (AddJob *job)
{
  g_free (job->url);
  g_free (job->folder);
  fetcher_unref (job->fetcher);
  g_free (job);
}

/* Subscribing: fetch and parse; a page instead of a feed is searched for
 * feed links, and when it names exactly one, that one is read. */
static gpointer
add_worker (TdTask        *task,
            gpointer       task_data,
            GCancellable  *cancellable,
            GError       **error)
{
  AddJob *job = task_data;
  g_autoptr(FeedOutcome) outcome = NULL;
  gboolean transient;
  guint retry_after = 0;

  outcome = fetch_and_parse (job->fetcher->fetcher, job->url, NULL, NULL, TRUE,
                             cancellable, &transient, &retry_after, error);
  if (outcome == NULL)
    return NULL;

  if (outcome->choices != NULL && outcome->choices->len == 1)
    {
      TdFeedChoice *choice = g_ptr_array_index (outcome->choices, 0);
      g_autofree char *url = g_strdup (choice->url);

      g_clear_pointer (&outcome, outcome_free);
      outcome = fetch_and_parse (job->fetcher->fetcher, url, NULL, NULL, FALSE,
                                 cancellable, &transient, &retry_after, error);
      if (outcome == NULL)
        return NULL;
    }
  else if (outcome->choices != NULL && outcome->choices->len == 0)
    {
      g_set_error (error, TD_FEED_MANAGER_ERROR, TD_FEED_MANAGER_ERROR_NO_FEED,
                   "“%s” is neither a feed nor a page that names one", job->url);
      return NULL;
    }

  if (outcome->gone)
    {
      g_set_error (error, TD_FEED_MANAGER_ERROR, TD_FEED_MANAGER_ERROR_GONE,
                   "The feed at “%s” is gone (HTTP 410)", job->url);
      return NULL;
    }

  return g_steal_pointer (&outcome);
}

/* ------------------------------------------------------------------ */
/* Recorder: apply and load functions (recorder thread)                */
/* ------------------------------------------------------------------ */

static StoreCounts *
store_counts_new (void)
{
  StoreCounts *counts = g_new0 (StoreCounts, 1);

  g_atomic_ref_count_init (&counts->ref_count);
  return counts;
}

static StoreCounts *
store_counts_ref (StoreCounts *counts)
{
  g_atomic_ref_count_inc (&counts->ref_count);
  return counts;
}

static void
store_counts_unref (StoreCounts *counts)
{
  if (counts != NULL && g_atomic_ref_count_dec (&counts->ref_count))
    g_free (counts);
}

static gboolean
step_done (TdStoreConn   *conn,
           sqlite3_stmt  *stmt,
           const char    *what,
           GError       **error)
{
  int rc = sqlite3_step (stmt);

  sqlite3_reset (stmt);
  if (rc == SQLITE_DONE || rc == SQLITE_ROW)
    return TRUE;
  td_sqlite_set_error (error, td_store_conn_get_db (conn), rc, what);
  return FALSE;
}

static void
bind_text (sqlite3_stmt *stmt,
           int           index,
           const char   *text)
{
  if (text == NULL)
    sqlite3_bind_null (stmt, index);
  else
    sqlite3_bind_text (stmt, index, text, -1, SQLITE_TRANSIENT);
}

static void
bind_usec (sqlite3_stmt *stmt,
           int           index,
           gint64        value)
{
  if (value == 0)
    sqlite3_bind_null (stmt, index);
  else
    sqlite3_bind_int64 (stmt, index, value);
}

static gboolean
text_equal (sqlite3_stmt *stmt,
            int           column,
            const char   *text)
{
  return g_strcmp0 ((const char *) sqlite3_column_text (stmt, column), text) == 0;
}

#define SQL_FEED_EXISTS "SELECT 1 FROM feeds WHERE id = ?"

#define SQL_FEED_FETCHED \
  "UPDATE feeds SET title = coalesce (?2, title), site_link = coalesce (?3, site_link)," \
  " icon_url = coalesce (?4, icon_url), etag = ?5, last_modified = ?6, last_fetch = ?7," \
  " next_fetch = ?8, error_count = 0, error_text = NULL, url = coalesce (?9, url)," \
  " gone = ?10 WHERE id = ?1"

#define SQL_ITEM_FIND \
  "SELECT id, title, link, author, summary, content, enclosures, updated" \
  " FROM items WHERE feed_id = ? AND guid = ?"

#define SQL_ITEM_INSERT \
  "INSERT INTO items (feed_id, guid, title, link, author, published, updated," \
  " summary, content, enclosures, fetched_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

/* An updated item keeps its read and starred state, and its date when
 * the feed no longer gives one. */
#define SQL_ITEM_UPDATE \
  "UPDATE items SET title = ?2, link = ?3, author = ?4, summary = ?5, content = ?6," \
  " enclosures = ?7, updated = ?8, published = coalesce (?9, published) WHERE id = ?1"

#define SQL_ITEM_COUNT "SELECT count(*) FROM items WHERE feed_id = ?"

/* Pruning order: read items before unread ones, oldest first; starred
 * items are never pruned. */
#define SQL_ITEM_PRUNE_CANDIDATES \
  "SELECT id, guid FROM items WHERE feed_id = ? AND starred = 0" \
  " ORDER BY read DESC, published ASC, id ASC"

#define SQL_ITEM_DELETE "DELETE FROM items WHERE id = ?"

/* Deleting an item leaves a tombstone under its key, so that the next
 * refresh does not store it again while the feed still carries it. */
#define SQL_ITEM_TOMBSTONE \
  "INSERT OR REPLACE INTO deleted_items (feed_id, guid, deleted_at)" \
  " SELECT feed_id, guid, ? FROM items WHERE id = ?"

#define SQL_TOMBSTONES "SELECT guid FROM deleted_items WHERE feed_id = ?"

#define SQL_TOMBSTONE_DELETE "DELETE FROM deleted_items WHERE feed_id = ? AND guid = ?"

typedef struct
{
  FeedOutcome *outcome;       /* owned */
  StoreCounts *counts;        /* owned ref */
  gint64       fetched_at;
  gint64       next_fetch;
  guint        items_kept;
} ApplyData;

static void
apply_data_free (ApplyData *data)
{
  outcome_free (data->outcome);
  store_counts_unref (data->counts);
  g_free (data);
}

/* Drops the items over @kept, never one the feed still carries. */
static gboolean
prune_items (TdStoreConn  *conn,
             gint64        feed_id,
             GPtrArray    *rows,
             guint         kept,
             GError      **error)
{
  sqlite3_stmt *stmt;
  gint64 count;
  g_autoptr(GHashTable) current = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GArray) doomed = g_array_new (FALSE, FALSE, sizeof (gint64));
  int rc;

  if ((stmt = td_store_conn_prepare (conn, SQL_ITEM_COUNT, error)) == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, feed_id);
  rc = sqlite3_step (stmt);
  count = rc == SQLITE_ROW ? sqlite3_column_int64 (stmt, 0) : 0;
  sqlite3_reset (stmt);
  if (rc != SQLITE_ROW)
    {
      td_sqlite_set_error (error, td_store_conn_get_db (conn), rc, "count items");
      return FALSE;
    }
  if (count <= kept)
    return TRUE;

  for (guint i = 0; rows != NULL && i < rows->len; i++)
    g_hash_table_add (current, ((ItemRow *) g_ptr_array_index (rows, i))->guid);

  if ((stmt = td_store_conn_prepare (conn, SQL_ITEM_PRUNE_CANDIDATES, error)) == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, feed_id);
  while (count - (gint64) doomed->len > kept && (rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 id = sqlite3_column_int64 (stmt, 0);

      if (!g_hash_table_contains (current, (const char *) sqlite3_column_text (stmt, 1)))
        g_array_append_val (doomed, id);
    }
  sqlite3_reset (stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    {
      td_sqlite_set_error (error, td_store_conn_get_db (conn), rc, "choose items to prune");
      return FALSE;
    }

  for (guint i = 0; i < doomed->len; i++)
    if (!td_store_conn_exec (conn, SQL_ITEM_DELETE, (TdValue[]) { TD_INT (g_array_index (doomed, gint64, i)) },
                             1, error))
      return FALSE;

  return TRUE;
}

/* Reads the tombstones of @feed_id into @out (guid -> NULL) and drops
 * those the feed no longer carries (@rows, the whole document): an item
 * gone from the feed cannot come back by itself, so its tombstone has
 * done its job, and a feed's tombstones never outnumber its document. */
static gboolean
load_tombstones (TdStoreConn  *conn,
                 gint64        feed_id,
                 GPtrArray    *rows,
                 GHashTable   *out,
                 GError      **error)
{
  g_autoptr(GHashTable) current = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GPtrArray) stale = g_ptr_array_new_with_free_func (g_free);
  sqlite3_stmt *stmt;
  int rc;

  for (guint i = 0; i < rows->len; i++)
    g_hash_table_add (current, ((ItemRow *) g_ptr_array_index (rows, i))->guid);

  if ((stmt = td_store_conn_prepare (conn, SQL_TOMBSTONES, error)) == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, feed_id);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      const char *guid = (const char *) sqlite3_column_text (stmt, 0);

      if (guid == NULL)
        continue;
      if (g_hash_table_contains (current, guid))
        g_hash_table_add (out, g_strdup (guid));
      else
        g_ptr_array_add (stale, g_strdup (guid));
    }
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    {
      td_sqlite_set_error (error, td_store_conn_get_db (conn), rc, "read tombstones");
      return FALSE;
    }

  for (guint i = 0; i < stale->len; i++)
    if (!td_store_conn_exec (conn, SQL_TOMBSTONE_DELETE,
                             (TdValue[]) { TD_INT (feed_id), TD_TEXT (g_ptr_array_index (stale, i)) },
                             2, error))
      return FALSE;

  return TRUE;
}

/* One refresh or first fetch of one feed, in the batch transaction:
 * update the feed, upsert its items (never one the user deleted), prune.
 * Repeatable: counts restart. */
static gboolean
apply_outcome (TdStoreConn  *conn,
               gpointer      user_data,
               GError      **error)
{
  ApplyData *data = user_data;
  FeedOutcome *o = data->outcome;
  g_autoptr(GHashTable) deleted = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  sqlite3_stmt *stmt;
  int rc;

  data->counts->n_new = 0;
  data->counts->n_updated = 0;
  data->counts->removed = FALSE;

  if ((stmt = td_store_conn_prepare (conn, SQL_FEED_EXISTS, error)) == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, o->feed_id);
  rc = sqlite3_step (stmt);
  sqlite3_reset (stmt);
  if (rc == SQLITE_DONE)
    {
      /* Unsubscribed meanwhile: nothing to store. */
      data->counts->removed = TRUE;
      return TRUE;
    }
  if (rc != SQLITE_ROW)
    {
      td_sqlite_set_error (error, td_store_conn_get_db (conn), rc, "find feed");
      return FALSE;
    }

  if ((stmt = td_store_conn_prepare (conn, SQL_FEED_FETCHED, error)) == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, o->feed_id);
  bind_text (stmt, 2, o->title);
  bind_text (stmt, 3, o->site_link);
  bind_text (stmt, 4, o->icon_url);
  bind_text (stmt, 5, o->etag);
  bind_text (stmt, 6, o->last_modified);
  sqlite3_bind_int64 (stmt, 7, data->fetched_at);
  sqlite3_bind_int64 (stmt, 8, data->next_fetch);
  bind_text (stmt, 9, o->new_url);
  sqlite3_bind_int (stmt, 10, o->gone ? 1 : 0);
  if (!step_done (conn, stmt, "update feed", error))
    return FALSE;

  if (o->rows != NULL && !load_tombstones (conn, o->feed_id, o->rows, deleted, error))
    return FALSE;

  for (guint i = 0; o->rows != NULL && i < o->rows->len; i++)
    {
      ItemRow *row = g_ptr_array_index (o->rows, i);
      gint64 item_id = 0;
      gboolean changed = FALSE;

      if (g_hash_table_contains (deleted, row->guid))
        continue;

      if ((stmt = td_store_conn_prepare (conn, SQL_ITEM_FIND, error)) == NULL)
        return FALSE;
      sqlite3_bind_int64 (stmt, 1, o->feed_id);
      bind_text (stmt, 2, row->guid);
      rc = sqlite3_step (stmt);
      if (rc == SQLITE_ROW)
        {
          item_id = sqlite3_column_int64 (stmt, 0);
          changed = !text_equal (stmt, 1, row->title) || !text_equal (stmt, 2, row->link)
                    || !text_equal (stmt, 3, row->author) || !text_equal (stmt, 4, row->summary)
                    || !text_equal (stmt, 5, row->content) || !text_equal (stmt, 6, row->enclosures)
                    || sqlite3_column_int64 (stmt, 7) != row->updated;
        }
      sqlite3_reset (stmt);
      if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        {
          td_sqlite_set_error (error, td_store_conn_get_db (conn), rc, "find item");
          return FALSE;
        }

      if (item_id == 0)
        {
          if ((stmt = td_store_conn_prepare (conn, SQL_ITEM_INSERT, error)) == NULL)
            return FALSE;
          sqlite3_bind_int64 (stmt, 1, o->feed_id);
          bind_text (stmt, 2, row->guid);
          bind_text (stmt, 3, row->title);
          bind_text (stmt, 4, row->link);
          bind_text (stmt, 5, row->author);
          /* No date: the first time we saw it, never "now" on each refresh. */
          sqlite3_bind_int64 (stmt, 6, row->published ? row->published : data->fetched_at);
          bind_usec (stmt, 7, row->updated);
          bind_text (stmt, 8, row->summary);
          bind_text (stmt, 9, row->content);
          bind_text (stmt, 10, row->enclosures);
          sqlite3_bind_int64 (stmt, 11, data->fetched_at);
          if (!step_done (conn, stmt, "insert item", error))
            return FALSE;
          data->counts->n_new++;
        }
      else if (changed)
        {
          if ((stmt = td_store_conn_prepare (conn, SQL_ITEM_UPDATE, error)) == NULL)
            return FALSE;
          sqlite3_bind_int64 (stmt, 1, item_id);
          bind_text (stmt, 2, row->title);
          bind_text (stmt, 3, row->link);
          bind_text (stmt, 4, row->author);
          bind_text (stmt, 5, row->summary);
          bind_text (stmt, 6, row->content);
          bind_text (stmt, 7, row->enclosures);
          bind_usec (stmt, 8, row->updated);
          bind_usec (stmt, 9, row->published);
          if (!step_done (conn, stmt, "update item", error))
            return FALSE;
          data->counts->n_updated++;
        }
    }

  if (o->rows != NULL && data->items_kept > 0)
    return prune_items (conn, o->feed_id, o->rows, data->items_kept, error);

  return TRUE;
}

static gpointer
load_counts (TdStoreConn  *conn,
             gpointer      data,
             GError      **error)
{
  StoreCounts *counts = data;

  return g_memdup2 (counts, sizeof *counts);
}

#define SQL_LIST_FEEDS \
  "SELECT f.id, f.url, f.title, f.title_override, f.site_link, f.icon_url, f.folder," \
  " f.error_count, f.error_text, f.gone, f.refresh_interval, f.last_fetch," \
  " (SELECT count(*) FROM items i WHERE i.read = 0 AND i.feed_id = f.id)," \
  " (SELECT count(*) FROM items i WHERE i.feed_id = f.id)" \
  " FROM feeds f"

#define SQL_LIST_ORDER \
  " ORDER BY f.folder IS NOT NULL, lower (f.folder), lower (coalesce (f.title_override, f.title, f.url))"

static char *
column_dup (sqlite3_stmt *stmt,
            int           column)
{
  return g_strdup ((const char *) sqlite3_column_text (stmt, column));
}

/* A name for a feed that has none yet (never fetched, or failing): the
 * file name of a local feed, else the host and path. */
static char *
short_url (const char *url)
{
  g_autoptr(GUri) uri = url ? g_uri_parse (url, G_URI_FLAGS_NONE, NULL) : NULL;
  const char *path;

  if (uri == NULL)
    return g_strdup (url);
  path = g_uri_get_path (uri);
  if (g_strcmp0 (g_uri_get_scheme (uri), "file") == 0)
    return g_path_get_basename (path);
  if (g_uri_get_host (uri) == NULL)
    return g_strdup (url);
  return g_strconcat (g_uri_get_host (uri), g_strcmp0 (path, "/") == 0 ? "" : path, NULL);
}

static TdFeedInfo *
feed_info_from_row (sqlite3_stmt *stmt)
{
  TdFeedInfo *info = g_new0 (TdFeedInfo, 1);

  info->id = sqlite3_column_int64 (stmt, 0);
  info->url = column_dup (stmt, 1);
  info->feed_title = column_dup (stmt, 2);
  info->title_override = column_dup (stmt, 3);
  info->site_link = column_dup (stmt, 4);
  info->icon_url = column_dup (stmt, 5);
  info->folder = column_dup (stmt, 6);
  info->error_count = sqlite3_column_int (stmt, 7);
  info->error_text = column_dup (stmt, 8);
  info->gone = sqlite3_column_int (stmt, 9) != 0;
  info->refresh_interval = sqlite3_column_int (stmt, 10);
  info->last_fetch = sqlite3_column_int64 (stmt, 11);
  info->unread = sqlite3_column_int (stmt, 12);
  info->n_items = sqlite3_column_int (stmt, 13);
  if (info->title_override && *info->title_override)
    info->title = g_strdup (info->title_override);
  else if (info->feed_title && *info->feed_title)
    info->title = g_strdup (info->feed_title);
  else
    info->title = short_url (info->url);
  return info;
}

/* Loads the feed list with counts; @data is a feed id, 0 for all. */
static gpointer
load_feed_list (TdStoreConn  *conn,
                gpointer      data,
                GError      **error)
{
  gint64 feed_id = *(gint64 *) data;
  g_autoptr(GPtrArray) feeds = g_ptr_array_new_with_free_func ((GDestroyNotify) td_feed_info_free);
  const char *sql = feed_id ? SQL_LIST_FEEDS " WHERE f.id = ?" : SQL_LIST_FEEDS SQL_LIST_ORDER;
  sqlite3_stmt *stmt;
  int rc;

  if ((stmt = td_store_conn_prepare (conn, sql, error)) == NULL)
    return NULL;
  if (feed_id)
    sqlite3_bind_int64 (stmt, 1, feed_id);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (feeds, feed_info_from_row (stmt));
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    {
      td_sqlite_set_error (error, td_store_conn_get_db (conn), rc, "list feeds");
      return NULL;
    }
  return g_steal_pointer (&feeds);
}

typedef struct
{
  TdFeedFilter  filter;
  gint64        feed_id;
  char         *folder;
  char         *match;        /* FTS5 query, or NULL */
  gboolean      unread_only;
  guint         offset;
  guint         limit;
  gboolean      with_total;
  guint64       tag;
  gint64        item_id;      /* load_item */
} ItemsQuery;

static void
items_query_free (ItemsQuery *q)
{
  g_free (q->folder);
  g_free (q->match);
  g_free (q);
}

/* Builds an FTS5 query from words a person typed: every word must occur,
 * as a prefix; quotes make any character literal, so the user's text can
 * never be FTS syntax. */
static char *
fts_query (const char *text)
{
  g_auto(GStrv) words = NULL;
  GString *query;

  if (text == NULL)
    return NULL;

  words = g_strsplit_set (text, " \t\r\n", -1);
  query = g_string_new (NULL);
  for (guint i = 0; words[i] != NULL; i++)
    {
      g_autofree char *word = g_strdup (words[i]);
      GString *quoted;

      g_strdelimit (word, "\"", ' ');
      g_strstrip (word);
      if (*word == '\0')
        continue;
      quoted = g_string_new ("\"");
      g_string_append (quoted, word);
      g_string_append (quoted, "\"*");
      if (query->len > 0)
        g_string_append_c (query, ' ');
      g_string_append (query, quoted->str);
      g_string_free (quoted, TRUE);
    }

  if (query->len == 0)
    {
      g_string_free (query, TRUE);
      return NULL;
    }
  return g_string_free (query, FALSE);
}

/* Appends the WHERE conditions of @q to @sql and its parameters to
 * @params (TdValue pointing into @q). */
static void
items_where (const ItemsQuery *q,
             GString          *sql,
             GArray           *params)
{
  TdValue v;

  g_string_append (sql, " WHERE 1");
  switch (q->filter)
    {
    case TD_FEED_FILTER_UNREAD:
      g_string_append (sql, " AND i.read = 0");
      break;
    case TD_FEED_FILTER_STARRED:
      g_string_append (sql, " AND i.starred = 1");
      break;
    case TD_FEED_FILTER_FEED:
      g_string_append (sql, " AND i.feed_id = ?");
      v = TD_INT (q->feed_id);
      g_array_append_val (params, v);
      break;
    case TD_FEED_FILTER_FOLDER:
      g_string_append (sql, " AND i.feed_id IN (SELECT id FROM feeds WHERE folder = ?)");
      v = TD_TEXT (q->folder);
      g_array_append_val (params, v);
      break;
    case TD_FEED_FILTER_ALL:
    default:
      break;
    }
  if (q->unread_only && q->filter != TD_FEED_FILTER_UNREAD)
    g_string_append (sql, " AND i.read = 0");
  if (q->match != NULL)
    {
      g_string_append (sql, " AND i.id IN (SELECT rowid FROM items_fts WHERE items_fts MATCH ?)");
      v = TD_TEXT (q->match);
      g_array_append_val (params, v);
    }
}

static TdFeedItem *
item_from_rows (const TdRows *rows,
                guint         r)
{
  TdFeedItem *item = g_new0 (TdFeedItem, 1);

  item->id = td_rows_get_int (rows, r, 0);
  item->feed_id = td_rows_get_int (rows, r, 1);
  item->feed_title = g_strdup (td_rows_get_text (rows, r, 2));
  item->title = g_strdup (td_rows_get_text (rows, r, 3));
  item->link = g_strdup (td_rows_get_text (rows, r, 4));
  item->author = g_strdup (td_rows_get_text (rows, r, 5));
  item->published = td_rows_get_int (rows, r, 6);
  item->updated = td_rows_get_int (rows, r, 7);
  item->read = td_rows_get_int (rows, r, 8) != 0;
  item->starred = td_rows_get_int (rows, r, 9) != 0;
  return item;
}

#define SQL_ITEM_COLUMNS \
  "SELECT i.id, i.feed_id, coalesce (f.title_override, f.title, f.url), i.title, i.link," \
  " i.author, i.published, i.updated, i.read, i.starred"

static gpointer
load_items (TdStoreConn  *conn,
            gpointer      data,
            GError      **error)
{
  ItemsQuery *q = data;
  g_autoptr(GString) where = g_string_new (NULL);
  g_autoptr(GArray) params = g_array_new (FALSE, FALSE, sizeof (TdValue));
  g_autoptr(TdFeedReply) reply = reply_new (q->tag);
  g_autoptr(TdRows) rows = NULL;
  g_autofree char *sql = NULL;
  TdValue v;

  items_where (q, where, params);

  if (q->with_total)
    {
      g_autofree char *count_sql = g_strconcat ("SELECT count(*) FROM items i", where->str, NULL);
      g_autoptr(TdRows) count = td_store_conn_query (conn, count_sql, (TdValue *) params->data,
                                                     params->len, error);

      if (count == NULL)
        return NULL;
      reply->total = count->n_rows > 0 ? (guint) td_rows_get_int (count, 0, 0) : 0;
    }

  sql = g_strconcat (SQL_ITEM_COLUMNS, " FROM items i JOIN feeds f ON f.id = i.feed_id",
                     where->str, " ORDER BY i.published DESC, i.id DESC LIMIT ? OFFSET ?", NULL);
  v = TD_INT (q->limit);
  g_array_append_val (params, v);
  v = TD_INT (q->offset);
  g_array_append_val (params, v);
  rows = td_store_conn_query (conn, sql, (TdValue *) params->data, params->len, error);
  if (rows == NULL)
    return NULL;

  reply->offset = q->offset;
  reply->items = g_ptr_array_new_full (rows->n_rows, (GDestroyNotify) td_feed_item_free);
  for (guint r = 0; r < rows->n_rows; r++)
    g_ptr_array_add (reply->items, item_from_rows (rows, r));

  return g_steal_pointer (&reply);
}

static GPtrArray *
enclosures_from_json (const char *json)
{
  g_autoptr(JsonParser) parser = NULL;
  GPtrArray *enclosures = g_ptr_array_new_with_free_func ((GDestroyNotify) td_feed_item_enclosure_free);
  JsonNode *root;
  JsonArray *array;

  if (json == NULL)
    return enclosures;

  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, json, -1, NULL))
    return enclosures;
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_ARRAY (root))
    return enclosures;

  array = json_node_get_array (root);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonObject *o = json_array_get_object_element (array, i);
      TdFeedItemEnclosure *e;

      if (o == NULL || !json_object_has_member (o, "url"))
        continue;
      e = g_new0 (TdFeedItemEnclosure, 1);
      e->url = g_strdup (json_object_get_string_member_with_default (o, "url", NULL));
      e->type = g_strdup (json_object_get_string_member_with_default (o, "type", NULL));
      e->length = json_object_get_int_member_with_default (o, "length", -1);
      g_ptr_array_add (enclosures, e);
    }
  return enclosures;
}

static gpointer
load_item (TdStoreConn  *conn,
           gpointer      data,
           GError      **error)
{
  ItemsQuery *q = data;
  g_autoptr(TdFeedReply) reply = reply_new (q->tag);
  g_autoptr(TdRows) rows = NULL;

  rows = td_store_conn_query (conn, SQL_ITEM_COLUMNS ", i.summary, i.content, i.enclosures"
                              " FROM items i JOIN feeds f ON f.id = i.feed_id WHERE i.id = ?",
                              (TdValue[]) { TD_INT (q->item_id) }, 1, error);
  if (rows == NULL)
    return NULL;

  if (rows->n_rows == 0)
    {
      reply->error = g_error_new (TD_FEED_MANAGER_ERROR, TD_FEED_MANAGER_ERROR_NOT_FOUND,
                                  "No item %" G_GINT64_FORMAT, q->item_id);
      return g_steal_pointer (&reply);
    }

  reply->item = item_from_rows (rows, 0);
  reply->item->summary = g_strdup (td_rows_get_text (rows, 0, 10));
  reply->item->content = g_strdup (td_rows_get_text (rows, 0, 11));
  reply->item->enclosures = enclosures_from_json (td_rows_get_text (rows, 0, 12));
  return g_steal_pointer (&reply);
}

/* ------------------------------------------------------------------ */
/* Broadcasting the feed list                                          */
/* ------------------------------------------------------------------ */

static void
load_feed_list_into (TdFeedManager *self,
                     gint64         feed_id,
                     guint          serial)
{
  td_recorder_load_func (self->recorder, load_feed_list,
                         g_memdup2 (&feed_id, sizeof feed_id), g_free,
                         (GDestroyNotify) g_ptr_array_unref,
                         self->mailbox, serial);
}

/* Sends the listeners the feed list once the recorder has everything
 * queued so far; at most one load is in flight, and changes meanwhile
 * cause one more. */
static void
feeds_changed (TdFeedManager *self)
{
  if (self->listeners->len == 0 || !self->ready)
    return;

  if (self->list_in_flight)
    {
      self->list_dirty = TRUE;
      return;
    }

  self->list_in_flight = TRUE;
  self->list_dirty = FALSE;
  load_feed_list_into (self, 0, request_add (self, REQ_BROADCAST, TD_MAILBOX_NONE, 0, 0));
}

static void
items_changed (TdFeedManager *self,
               gint64         feed_id,
               guint          n_new)
{
  TdFeedEvent *event = g_new0 (TdFeedEvent, 1);

  event->type = TD_FEED_EVENT_ITEMS;
  event->feed_id = feed_id;
  event->n_new = n_new;
  broadcast (self, event);
}

/* ------------------------------------------------------------------ */
/* Icons                                                               */
/* ------------------------------------------------------------------ */

typedef struct
{
  char       *url;
  char       *dir;
  FetcherRef *fetcher;
} IconJob;

static void
icon_job_free (IconJob *job)
{
  g_free (job->url);
  g_free (job->dir);
  fetcher_unref (job->fetcher);
  g_free (job);
}

/* Worker: the icon from the disk cache, else from the network. */
static gpointer
icon_worker (TdTask        *task,
             gpointer       task_data,
             GCancellable  *cancellable,
             GError       **error)
{
  IconJob *job = task_data;

  return td_feed_icon_load (job->fetcher->fetcher, job->dir, job->url, cancellable, error);
}

/* Gives listed feeds the icons the manager holds. */
static void
attach_icons (TdFeedManager *self,
              GPtrArray     *feeds)
{
  for (guint i = 0; feeds != NULL && i < feeds->len; i++)
    {
      TdFeedInfo *info = g_ptr_array_index (feeds, i);
      Feed *feed = g_hash_table_lookup (self->feeds, &info->id);

      if (feed == NULL || feed->icon == NULL)
        continue;
      g_clear_pointer (&info->icon_small, g_bytes_unref);
      g_clear_pointer (&info->icon_large, g_bytes_unref);
      info->icon_small = g_bytes_ref (feed->icon->rgba_small);
      info->icon_large = g_bytes_ref (feed->icon->rgba_large);
    }
}

/* Works out which icon @feed should show now (after a refresh, at start)
 * and gets it: shared with a feed that has it already, or fetched on
 * the task loop once per URL. Until it arrives the old one stays. */
static void
update_icon (TdFeedManager *self,
             Feed          *feed)
{
  GHashTableIter iter;
  Feed *other;
  IconJob *job;
  TdTask *task;

  g_free (feed->icon_want);
  feed->icon_want = self->config.skip_icons ? NULL
                    : td_feed_icon_url (feed->url, feed->icon_url, feed->site_link);

  if (feed->icon_want == NULL)
    {
      if (feed->icon != NULL)
        {
          g_clear_pointer (&feed->icon, td_feed_icon_free);
          feeds_changed (self);
        }
      return;
    }

  if (feed->icon != NULL && g_str_equal (feed->icon->url, feed->icon_want))
    return;

  g_hash_table_iter_init (&iter, self->feeds);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &other))
    if (other->icon != NULL && g_str_equal (other->icon->url, feed->icon_want))
      {
        td_feed_icon_free (feed->icon);
        feed->icon = td_feed_icon_copy (other->icon);
        feeds_changed (self);
        return;
      }

  if (g_hash_table_contains (self->icons_loading, feed->icon_want))
    return;
  g_hash_table_add (self->icons_loading, g_strdup (feed->icon_want));

  job = g_new0 (IconJob, 1);
  job->url = g_strdup (feed->icon_want);
  job->dir = g_strdup (self->icon_dir);
  job->fetcher = fetcher_ref (self->icon_fetcher);
  task = td_task_new (icon_worker, job, (GDestroyNotify) icon_job_free, (GDestroyNotify) td_feed_icon_free);
  td_task_set_reply (task, self->mailbox, MAIL_ICON);
  td_task_loop_push (self->loop, task);
}

/* An icon fetch ended: every feed that wants that icon shows it, or,
 * when there is none, the placeholder. */
static void
icon_loaded (TdFeedManager *self,
             TdTaskResult  *result)
{
  IconJob *job = result->task_data;
  g_autoptr(TdFeedIcon) icon = result->error == NULL ? td_task_result_steal (result) : NULL;
  GHashTableIter iter;
  Feed *feed;
  gboolean changed = FALSE;

  g_hash_table_remove (self->icons_loading, job->url);
  if (result->error != NULL && !g_error_matches (result->error, TD_FEED_ICON_ERROR,
                                                 TD_FEED_ICON_ERROR_FAILED_RECENTLY))
    g_debug ("No icon: %s", result->error->message);

  g_hash_table_iter_init (&iter, self->feeds);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &feed))
    {
      if (g_strcmp0 (feed->icon_want, job->url) != 0)
        continue;
      if (icon == NULL && feed->icon == NULL)
        continue;
      td_feed_icon_free (feed->icon);
      feed->icon = td_feed_icon_copy (icon);
      changed = TRUE;
    }

  if (changed)
    feeds_changed (self);
}

/* ------------------------------------------------------------------ */
/* Scheduling and refresh rounds                                       */
/* ------------------------------------------------------------------ */

static void
send_progress (TdFeedManager *self)
{
  TdFeedEvent *event = g_new0 (TdFeedEvent, 1);

  event->type = TD_FEED_EVENT_PROGRESS;
  event->done = self->round_done;
  event->total = self->round_total;
  event->failed = self->round_failed;
  broadcast (self, event);
}

/* Ends the round when every job reported and every store is confirmed. */
static void
maybe_end_round (TdFeedManager *self)
{
  TdFeedEvent *event;
  GHashTableIter iter;
  gpointer key, value;

  if (self->round_total == 0 || self->round_done < self->round_total || self->round_stores > 0)
    return;

  event = g_new0 (TdFeedEvent, 1);
  event->type = TD_FEED_EVENT_SUMMARY;
  event->done = self->round_done;
  event->total = self->round_total;
  event->failed = self->round_failed;
  event->new_items = g_ptr_array_new_with_free_func ((GDestroyNotify) td_feed_new_items_free);

  g_hash_table_iter_init (&iter, self->round_new);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      gint64 id = *(gint64 *) key;
      Feed *feed = g_hash_table_lookup (self->feeds, &id);
      TdFeedNewItems *n;

      if (feed == NULL || GPOINTER_TO_UINT (value) == 0)
        continue;
      n = g_new0 (TdFeedNewItems, 1);
      n->feed_id = id;
      n->title = g_strdup (feed->title ? feed->title : feed->url);
      n->n_new = GPOINTER_TO_UINT (value);
      event->n_new += n->n_new;
      g_ptr_array_add (event->new_items, n);
    }

  self->round_total = self->round_done = self->round_failed = 0;
  g_hash_table_remove_all (self->round_new);
  {
    GHashTableIter fi;
    Feed *feed;

    g_hash_table_iter_init (&fi, self->feeds);
    while (g_hash_table_iter_next (&fi, NULL, (gpointer *) &feed))
      feed->in_round = FALSE;
  }

  broadcast (self, event);
}

static void arm_tick (TdFeedManager *self);

/* Queues a refresh of @feed on the farm. */
static void
queue_refresh (TdFeedManager *self,
               Feed          *feed,
               gboolean       urgent)
{
  g_autofree char *key = feed_key (feed->id);
  g_autofree char *group = url_group (feed->url);
  RefreshJob *job;
  gboolean had_job = td_farm_has_job (self->farm, key);

  if (feed->gone && !urgent)
    return;

  job = g_new0 (RefreshJob, 1);
  job->feed_id = feed->id;
  job->url = g_strdup (feed->url);
  job->etag = g_strdup (feed->etag);
  job->last_modified = g_strdup (feed->last_modified);
  job->fetcher = fetcher_ref (self->fetcher);

  td_farm_add (self->farm, key, group, job, (GDestroyNotify) refresh_job_free,
               urgent ? TD_FARM_JOB_URGENT : TD_FARM_JOB_DEFAULT);

  if (!had_job && !feed->in_round)
    {
      feed->in_round = TRUE;
      self->round_total++;
    }
}

static void
refresh_due (TdFeedManager *self)
{
  GHashTableIter iter;
  Feed *feed;
  gint64 now = g_get_real_time ();
  guint before = self->round_total;

  g_hash_table_iter_init (&iter, self->feeds);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &feed))
    if (!feed->gone && feed->next_fetch <= now)
      queue_refresh (self, feed, FALSE);

  if (self->round_total != before)
    send_progress (self);
  arm_tick (self);
}

/* Arms the tick for the feed due first (capped, so that clock changes
 * are noticed). Only after the start-up delay. */
static void
arm_tick (TdFeedManager *self)
{
  GHashTableIter iter;
  Feed *feed;
  gint64 next = G_MAXINT64;
  gint64 now = g_get_real_time ();
  guint delay_ms;

  if (!self->started)
    return;

  g_hash_table_iter_init (&iter, self->feeds);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &feed))
    if (!feed->gone && !feed->in_round)
      next = MIN (next, feed->next_fetch);

  /* No feed to fetch, ever: no timer (an idle app arms none). */
  if (next == G_MAXINT64)
    {
      td_mail_cancel_timeout (self->tick_timeout);
      self->tick_timeout = 0;
      return;
    }
  delay_ms = next <= now ? 0 : (guint) MIN ((next - now) / 1000 + 1, (gint64) TD_FEED_MANAGER_MAX_TICK_MS);

  if (td_mail_timeout_is_pending (self->tick_timeout) && self->tick_at <= now + (gint64) delay_ms * 1000)
    return;

  td_mail_cancel_timeout (self->tick_timeout);
  self->tick_at = now + (gint64) delay_ms * 1000;
  self->tick_timeout = td_mail_send_after (self->mailbox, delay_ms, td_mail_new (MAIL_TICK, NULL, NULL));
}

/* Stores why @feed failed and when to try again. */
static void
record_failure (TdFeedManager *self,
                Feed          *feed,
                const GError  *error,
                gboolean       gone)
{
  gint64 now = g_get_real_time ();
  const char *reason = error ? error->message : "Unknown error";

  feed->error_count++;
  feed->gone = feed->gone || gone;
  feed->last_fetch = now;
  feed->next_fetch = next_fetch_after (self, feed, now, feed->error_count);

  td_recorder_save_values (self->recorder,
                           "UPDATE feeds SET error_count = error_count + 1, error_text = ?,"
                           " last_fetch = ?, next_fetch = ?, gone = ? WHERE id = ?",
                           TD_TEXT (reason), TD_INT (now), TD_INT (feed->next_fetch),
                           TD_BOOL (feed->gone), TD_INT (feed->id));
}

/* Hands a fetched feed to the recorder and asks for what changed. */
static void
store_outcome (TdFeedManager *self,
               Feed          *feed,
               FeedOutcome   *outcome,
               RequestType    type,
               TdMailboxId    reply,
               guint          reply_kind,
               guint64        tag)
{
  ApplyData *data = g_new0 (ApplyData, 1);
  gint64 now = g_get_real_time ();
  guint serial;
  Request *req;

  if (outcome->new_url != NULL && g_strcmp0 (outcome->new_url, feed->url) != 0
      && !g_hash_table_contains (self->urls, outcome->new_url))
    {
      /* Moved for good (301/308): remember the new address. */
      g_hash_table_remove (self->urls, feed->url);
      g_free (feed->url);
      feed->url = g_strdup (outcome->new_url);
      g_hash_table_insert (self->urls, feed->url, feed);
    }
  else
    g_clear_pointer (&outcome->new_url, g_free);

  if (!outcome->not_modified)
    {
      g_free (feed->etag);
      feed->etag = g_strdup (outcome->etag);
      g_free (feed->last_modified);
      feed->last_modified = g_strdup (outcome->last_modified);
    }
  if (outcome->title != NULL)
    {
      g_free (feed->title);
      feed->title = g_strdup (outcome->title);
    }
  /* As the apply does: what the feed no longer says is kept. */
  if (outcome->icon_url != NULL)
    {
      g_free (feed->icon_url);
      feed->icon_url = g_strdup (outcome->icon_url);
    }
  if (outcome->site_link != NULL)
    {
      g_free (feed->site_link);
      feed->site_link = g_strdup (outcome->site_link);
    }
  if (!outcome->gone && !outcome->not_modified)
    update_icon (self, feed);
  feed->gone = outcome->gone;
  feed->error_count = 0;
  feed->last_fetch = now;
  feed->next_fetch = next_fetch_after (self, feed, now, 0);

  if (outcome->gone)
    {
      /* 410: keep the items, stop polling, say why. */
      g_autoptr(GError) error = g_error_new (TD_FEED_MANAGER_ERROR, TD_FEED_MANAGER_ERROR_GONE,
                                             "The feed is gone (HTTP 410)");

      feed->error_count = 0;
      record_failure (self, feed, error, TRUE);
      if (type == REQ_STORED && feed->in_round && self->round_stores > 0)
        self->round_stores--;
      outcome_free (outcome);
      g_free (data);
      feeds_changed (self);
      return;
    }

  data->outcome = outcome;
  data->counts = store_counts_new ();
  data->fetched_at = now;
  data->next_fetch = feed->next_fetch;
  data->items_kept = self->config.items_kept;

  serial = request_add (self, type, reply, reply_kind, tag);
  req = request_lookup (self, serial);
  req->feed_id = feed->id;
  req->in_round = type == REQ_STORED && feed->in_round;

  /* The load is answered after the apply is committed: read-your-writes. */
  td_recorder_save_func (self->recorder, apply_outcome, data, (GDestroyNotify) apply_data_free);
  td_recorder_load_func (self->recorder, load_counts, store_counts_ref (data->counts),
                         (GDestroyNotify) store_counts_unref, g_free,
                         self->mailbox, serial);
}

static void
farm_result (TdFeedManager *self,
             TdFarmResult  *result)
{
  gint64 id = g_ascii_strtoll (result->key + strlen ("feed:"), NULL, 10);
  Feed *feed = g_hash_table_lookup (self->feeds, &id);
  FeedOutcome *outcome;

  if (feed == NULL)
    return;

  if (feed->in_round)
    self->round_done++;

  if (result->error != NULL)
    {
      if (feed->in_round)
        self->round_failed++;
      record_failure (self, feed, result->error, FALSE);
      feeds_changed (self);
    }
  else
    {
      outcome = td_farm_result_steal (result);
      if (feed->in_round)
        self->round_stores++;
      store_outcome (self, feed, outcome, REQ_STORED, TD_MAILBOX_NONE, 0, 0);
    }

  send_progress (self);
  maybe_end_round (self);
  arm_tick (self);
}

/* ------------------------------------------------------------------ */
/* Adding                                                              */
/* ------------------------------------------------------------------ */

#define SQL_FEED_INSERT \
  "INSERT INTO feeds (id, url, title, site_link, icon_url, folder) VALUES (?, ?, ?, ?, ?, ?)"

static Feed *
feed_insert (TdFeedManager *self,
             const char    *url,
             const char    *title,
             const char    *site_link,
             const char    *icon_url,
             const char    *folder)
{
  Feed *feed = g_new0 (Feed, 1);

  feed->id = ++self->max_id;
  feed->url = g_strdup (url);
  feed->title = g_strdup (title);
  feed->folder = empty_to_null (folder);
  feed->icon_url = g_strdup (icon_url);
  feed->site_link = g_strdup (site_link);
  g_hash_table_insert (self->feeds, &feed->id, feed);
  g_hash_table_insert (self->urls, feed->url, feed);

  td_recorder_save_values (self->recorder, SQL_FEED_INSERT,
                           TD_INT (feed->id), TD_TEXT (url), TD_TEXT (title),
                           TD_TEXT (site_link), TD_TEXT (icon_url), TD_TEXT (feed->folder));
  return feed;
}

static void
add_fetched (TdFeedManager *self,
             TdTaskResult  *result)
{
  AddJob *job = result->task_data;
  FeedOutcome *outcome;
  const char *url;
  Feed *feed;

  g_hash_table_remove (self->adding, job->url);

  if (result->error != NULL)
    {
      send_error (job->reply, job->reply_kind, job->tag, g_steal_pointer (&result->error));
      return;
    }

  outcome = td_task_result_steal (result);
  if (outcome->choices != NULL)
    {
      TdFeedReply *reply = reply_new (job->tag);

      reply->choices = g_steal_pointer (&outcome->choices);
      outcome_free (outcome);
      send_reply (job->reply, job->reply_kind, reply);
      return;
    }

  url = outcome->new_url ? outcome->new_url : outcome->url;
  if (g_hash_table_contains (self->urls, url))
    {
      send_error (job->reply, job->reply_kind, job->tag,
                  g_error_new (TD_FEED_MANAGER_ERROR, TD_FEED_MANAGER_ERROR_EXISTS,
                               "Already subscribed to “%s”", url));
      outcome_free (outcome);
      return;
    }

  feed = feed_insert (self, url, outcome->title, outcome->site_link, outcome->icon_url, job->folder);
  g_clear_pointer (&outcome->new_url, g_free);
  outcome->feed_id = feed->id;
  store_outcome (self, feed, outcome, REQ_ADD_STORED, job->reply, job->reply_kind, job->tag);
  feeds_changed (self);
  arm_tick (self);
}

typedef struct
{
  char       *url;
  char       *folder;
  TdMailboxId reply;
  guint       reply_kind;
  guint64     tag;
} AddArgs;

static void
add_args_free (AddArgs *args)
{
  g_free (args->url);
  g_free (args->folder);
  g_free (args);
}

static void
do_add (TdFeedManager *self,
        gpointer       data)
{
  AddArgs *args = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *url = normalize_url (args->url, &error);
  AddJob *job;
  TdTask *task;

  if (url == NULL)
    {
      send_error (args->reply, args->reply_kind, args->tag, g_steal_pointer (&error));
      return;
    }

  if (g_hash_table_contains (self->urls, url) || g_hash_table_contains (self->adding, url))
    {
      send_error (args->reply, args->reply_kind, args->tag,
                  g_error_new (TD_FEED_MANAGER_ERROR, TD_FEED_MANAGER_ERROR_EXISTS,
                               "Already subscribed to “%s”", url));
      return;
    }

  g_hash_table_add (self->adding, g_strdup (url));

  job = g_new0 (AddJob, 1);
  job->url = g_steal_pointer (&url);
  job->folder = empty_to_null (args->folder);
  job->reply = args->reply;
  job->reply_kind = args->reply_kind;
  job->tag = args->tag;
  job->fetcher = fetcher_ref (self->fetcher);

  task = td_task_new (add_worker, job, (GDestroyNotify) add_job_free,
                      (GDestroyNotify) outcome_free);
  td_task_set_reply (task, self->mailbox, MAIL_ADD_FETCHED);
  /* The user is waiting for this one. */
  td_task_loop_push_front (self->loop, task);
}

/* ------------------------------------------------------------------ */
/* OPML                                                                */
/* ------------------------------------------------------------------ */

typedef struct
{
  GFile      *file;
  GPtrArray  *feeds;        /* export: TdFeedInfo */
  TdMailboxId reply;
  guint       reply_kind;
  guint64     tag;
} OpmlJob;

static void
opml_job_free (OpmlJob *job)
{
  g_clear_object (&job->file);
  g_clear_pointer (&job->feeds, g_ptr_array_unref);
  g_free (job);
}

static void
opml_entry_free (OpmlEntry *e)
{
  g_free (e->url);
  g_free (e->title);
  g_free (e->site_link);
  g_free (e->folder);
  g_free (e);
}

static void
opml_flatten (GPtrArray  *outlines,
              const char *folder,
              GPtrArray  *entries)
{
  for (guint i = 0; outlines != NULL && i < outlines->len; i++)
    {
      TdOpmlOutline *o = g_ptr_array_index (outlines, i);

      if (o->xml_url != NULL)
        {
          OpmlEntry *e = g_new0 (OpmlEntry, 1);

          e->url = g_strdup (o->xml_url);
          e->title = g_strdup (o->title);
          e->site_link = g_strdup (o->html_url);
          e->folder = g_strdup (folder);
          g_ptr_array_add (entries, e);
        }
      else if (o->children != NULL)
        {
          g_autofree char *path = folder ? g_strconcat (folder, "/", o->title ? o->title : "", NULL)
                                         : g_strdup (o->title ? o->title : "");

          opml_flatten (o->children, *path ? path : folder, entries);
        }
    }
}

/* Reads an OPML file (worker): the feeds in it, folders as paths. */
static GPtrArray *
read_opml_file (GFile         *file,
                GCancellable  *cancellable,
                GError       **error)
{
  g_autoptr(GFileInfo) info = NULL;
  g_autofree char *data = NULL;
  g_autofree char *uri = g_file_get_uri (file);
  g_autoptr(TdOpml) opml = NULL;
  GPtrArray *entries;
  gsize len = 0;

  info = g_file_query_info (file, G_FILE_ATTRIBUTE_STANDARD_SIZE, G_FILE_QUERY_INFO_NONE,
                            cancellable, error);
  if (info == NULL)
    return NULL;
  if (g_file_info_get_size (info) > TD_OPML_MAX_DOCUMENT_SIZE)
    {
      g_set_error (error, TD_OPML_ERROR, TD_OPML_ERROR_TOO_LARGE,
                   "The file is larger than %d MiB", TD_OPML_MAX_DOCUMENT_SIZE / (1024 * 1024));
      return NULL;
    }
  if (!g_file_load_contents (file, cancellable, &data, &len, NULL, error))
    return NULL;

  opml = td_opml_parse (data, len, uri, error);
  if (opml == NULL)
    return NULL;

  entries = g_ptr_array_new_with_free_func ((GDestroyNotify) opml_entry_free);
  opml_flatten (opml->outlines, NULL, entries);
  return entries;
}

/* Returns the subscriptions as an OPML document, folder paths nested. */
static char *
write_opml (GPtrArray *feeds)
{
  g_autoptr(TdOpml) opml = td_opml_new ("Tidings subscriptions");
  g_autoptr(GHashTable) folders = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; i < feeds->len; i++)
    {
      TdFeedInfo *info = g_ptr_array_index (feeds, i);
      TdOpmlOutline *feed = td_opml_outline_new_feed (info->title, info->url, info->site_link);
      TdOpmlOutline *parent = NULL;

      if (info->folder != NULL && *info->folder != '\0')
        {
          g_auto(GStrv) parts = g_strsplit (info->folder, "/", TD_OPML_MAX_FOLDER_DEPTH);
          GString *path = g_string_new (NULL);

          for (guint j = 0; parts[j] != NULL; j++)
            {
              TdOpmlOutline *folder;

              if (path->len > 0)
                g_string_append_c (path, '/');
              g_string_append (path, parts[j]);
              folder = g_hash_table_lookup (folders, path->str);
              if (folder == NULL)
                {
                  folder = td_opml_outline_new_folder (parts[j]);
                  g_hash_table_insert (folders, g_strdup (path->str), folder);
                  if (parent != NULL)
                    td_opml_outline_add (parent, folder);
                  else
                    g_ptr_array_add (opml->outlines, folder);
                }
              parent = folder;
            }
          g_string_free (path, TRUE);
        }

      if (parent != NULL)
        td_opml_outline_add (parent, feed);
      else
        g_ptr_array_add (opml->outlines, feed);
    }

  return td_opml_to_string (opml, NULL);
}

static gpointer
opml_read_worker (TdTask        *task,
                  gpointer       task_data,
                  GCancellable  *cancellable,
                  GError       **error)
{
  OpmlJob *job = task_data;

  return read_opml_file (job->file, cancellable, error);
}

static gpointer
opml_write_worker (TdTask        *task,
                   gpointer       task_data,
                   GCancellable  *cancellable,
                   GError       **error)
{
  OpmlJob *job = task_data;
  g_autofree char *text = write_opml (job->feeds);

  if (job->file != NULL
      && !g_file_replace_contents (job->file, text, strlen (text), NULL, FALSE,
                                   G_FILE_CREATE_NONE, NULL, cancellable, error))
    return NULL;

  return g_steal_pointer (&text);
}

static void
opml_read (TdFeedManager *self,
           TdTaskResult  *result)
{
  OpmlJob *job = result->task_data;
  g_autoptr(GPtrArray) entries = NULL;
  TdFeedReply *reply;
  g_autoptr(GHashTable) folders_changed = NULL;

  if (result->error != NULL)
    {
      send_error (job->reply, job->reply_kind, job->tag, g_steal_pointer (&result->error));
      return;
    }

  entries = td_task_result_steal (result);
  reply = reply_new (job->tag);
  for (guint i = 0; i < entries->len; i++)
    {
      OpmlEntry *e = g_ptr_array_index (entries, i);
      g_autoptr(GError) error = NULL;
      g_autofree char *url = normalize_url (e->url, &error);
      Feed *feed;

      if (url == NULL || g_hash_table_contains (self->urls, url)
          || g_hash_table_contains (self->adding, url))
        {
          reply->skipped++;
          continue;
        }

      feed = feed_insert (self, url, e->title, e->site_link, NULL, e->folder);
      reply->total++;
      queue_refresh (self, feed, FALSE);
    }

  send_reply (job->reply, job->reply_kind, reply);
  if (reply->total > 0)
    {
      send_progress (self);
      feeds_changed (self);
    }
  arm_tick (self);
}

static void
do_export (TdFeedManager *self,
           Request       *req,
           GPtrArray     *feeds)
{
  OpmlJob *job = g_new0 (OpmlJob, 1);
  TdTask *task;

  job->file = req->file ? g_object_ref (req->file) : NULL;
  job->feeds = g_ptr_array_ref (feeds);
  job->reply = req->reply;
  job->reply_kind = req->reply_kind;
  job->tag = req->tag;

  task = td_task_new (opml_write_worker, job, (GDestroyNotify) opml_job_free, g_free);
  td_task_set_reply (task, self->mailbox, MAIL_OPML_WRITTEN);
  td_task_loop_push (self->loop, task);
}

/* ------------------------------------------------------------------ */
/* The mailbox                                                         */
/* ------------------------------------------------------------------ */

static void
load_feeds (TdFeedManager *self)
{
  td_recorder_load (self->recorder,
                    "SELECT id, url, etag, last_modified, last_fetch, next_fetch,"
                    " refresh_interval, gone, error_count, folder,"
                    " coalesce (title_override, title), icon_url, site_link FROM feeds",
                    NULL, 0, self->mailbox,
                    request_add (self, REQ_LOAD_FEEDS, TD_MAILBOX_NONE, 0, 0));
}

static void
feeds_loaded (TdFeedManager *self,
              TdRows        *rows)
{
  if (rows->error != NULL)
    {
      /* The app tells the user about the database; try again later. */
      g_message ("Could not load the feed list: %s", rows->error->message);
      self->load_retry_ms = self->load_retry_ms ? MIN (self->load_retry_ms * 2, TD_FEED_MANAGER_LOAD_RETRY_MAX_MS)
                                                : TD_FEED_MANAGER_LOAD_RETRY_MS;
      self->load_timeout = td_mail_send_after (self->mailbox, self->load_retry_ms,
                                               td_mail_new (MAIL_LOAD_FEEDS, NULL, NULL));
      return;
    }

  for (guint r = 0; r < rows->n_rows; r++)
    {
      Feed *feed = g_new0 (Feed, 1);

      feed->id = td_rows_get_int (rows, r, 0);
      feed->url = g_strdup (td_rows_get_text (rows, r, 1));
      feed->etag = g_strdup (td_rows_get_text (rows, r, 2));
      feed->last_modified = g_strdup (td_rows_get_text (rows, r, 3));
      feed->last_fetch = td_rows_get_int (rows, r, 4);
      /* The schedule follows the interval in force now, which may have
       * changed since the feed was last refreshed. */
      feed->next_fetch = 0;
      feed->interval = (guint) td_rows_get_int (rows, r, 6);
      feed->gone = td_rows_get_int (rows, r, 7) != 0;
      feed->error_count = (guint) td_rows_get_int (rows, r, 8);
      feed->folder = g_strdup (td_rows_get_text (rows, r, 9));
      feed->title = g_strdup (td_rows_get_text (rows, r, 10));
      feed->icon_url = g_strdup (td_rows_get_text (rows, r, 11));
      feed->site_link = g_strdup (td_rows_get_text (rows, r, 12));
      if (feed->url == NULL)
        {
          feed_free (feed);
          continue;
        }
      if (feed->last_fetch > 0)
        feed->next_fetch = next_fetch_after (self, feed, feed->last_fetch, feed->error_count);
      self->max_id = MAX (self->max_id, feed->id);
      g_hash_table_insert (self->feeds, &feed->id, feed);
      g_hash_table_insert (self->urls, feed->url, feed);
    }

  self->ready = TRUE;
  {
    GHashTableIter iter;
    Feed *feed;

    g_hash_table_iter_init (&iter, self->feeds);
    while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &feed))
      update_icon (self, feed);
  }
  while (!g_queue_is_empty (&self->deferred))
    {
      Deferred *d = g_queue_pop_head (&self->deferred);

      d->func (self, d->data);
      if (d->destroy != NULL)
        d->destroy (d->data);
      g_free (d);
    }

  feeds_changed (self);
  if (self->config.startup_delay_ms >= 0)
    td_mail_send_after (self->mailbox, (guint) self->config.startup_delay_ms,
                        td_mail_new (MAIL_STARTUP, NULL, NULL));
}

static void
store_answer (TdFeedManager *self,
              guint          serial,
              TdMail        *mail)
{
  g_autoptr(Request) req = NULL;
  TdStoreResult *sr;
  gpointer key;

  if (!g_hash_table_steal_extended (self->requests, GUINT_TO_POINTER (serial), &key, (gpointer *) &req))
    return;

  if (req->type == REQ_LOAD_FEEDS)
    {
      feeds_loaded (self, mail->data);
      return;
    }

  sr = mail->data;
  switch (req->type)
    {
    case REQ_BROADCAST:
      self->list_in_flight = FALSE;
      if (sr->error == NULL)
        {
          TdFeedEvent *event = g_new0 (TdFeedEvent, 1);

          event->type = TD_FEED_EVENT_FEEDS;
          event->feeds = td_store_result_steal (sr);
          attach_icons (self, event->feeds);
          broadcast (self, event);
        }
      if (self->list_dirty)
        feeds_changed (self);
      break;

    case REQ_LIST:
    case REQ_PROPERTIES:
      {
        TdFeedReply *reply = reply_new (req->tag);

        if (sr->error != NULL)
          reply->error = g_steal_pointer (&sr->error);
        else if (req->type == REQ_LIST)
          {
            reply->feeds = td_store_result_steal (sr);
            attach_icons (self, reply->feeds);
          }
        else
          {
            g_autoptr(GPtrArray) feeds = td_store_result_steal (sr);

            attach_icons (self, feeds);
            if (feeds->len > 0)
              reply->feed = td_feed_info_copy (g_ptr_array_index (feeds, 0));
            else
              reply->error = g_error_new (TD_FEED_MANAGER_ERROR, TD_FEED_MANAGER_ERROR_NOT_FOUND,
                                          "No feed %" G_GINT64_FORMAT, req->feed_id);
          }
        send_reply (req->reply, req->reply_kind, reply);
      }
      break;

    case REQ_EXPORT_LIST:
      if (sr->error != NULL)
        send_error (req->reply, req->reply_kind, req->tag, g_steal_pointer (&sr->error));
      else
        {
          g_autoptr(GPtrArray) feeds = td_store_result_steal (sr);

          do_export (self, req, feeds);
        }
      break;

    case REQ_ITEMS:
    case REQ_ITEM:
      if (sr->error != NULL)
        send_error (req->reply, req->reply_kind, req->tag, g_steal_pointer (&sr->error));
      else
        send_reply (req->reply, req->reply_kind, td_store_result_steal (sr));
      break;

    case REQ_STORED:
    case REQ_ADD_STORED:
      {
        StoreCounts *counts = sr->result;
        Feed *feed = g_hash_table_lookup (self->feeds, &req->feed_id);
        guint n_new = counts ? counts->n_new : 0;
        guint n_changed = counts ? counts->n_new + counts->n_updated : 0;

        if (feed != NULL && req->in_round)
          {
            gpointer old = g_hash_table_lookup (self->round_new, &feed->id);

            g_hash_table_insert (self->round_new, &feed->id,
                                 GUINT_TO_POINTER (GPOINTER_TO_UINT (old) + n_new));
          }
        if (req->in_round && self->round_stores > 0)
          self->round_stores--;

        if (req->type == REQ_ADD_STORED)
          {
            TdFeedReply *reply = reply_new (req->tag);

            if (sr->error != NULL)
              reply->error = g_steal_pointer (&sr->error);
            else if (feed == NULL)
              reply->error = g_error_new (TD_FEED_MANAGER_ERROR, TD_FEED_MANAGER_ERROR_REMOVED,
                                          "The feed was removed meanwhile");
            else
              {
                reply->feed = g_new0 (TdFeedInfo, 1);
                reply->feed->id = feed->id;
                reply->feed->url = g_strdup (feed->url);
                reply->feed->feed_title = g_strdup (feed->title);
                reply->feed->title = g_strdup (feed->title ? feed->title : feed->url);
                reply->feed->folder = g_strdup (feed->folder);
                reply->feed->unread = n_new;
                reply->feed->n_items = n_new;
                reply->feed->last_fetch = feed->last_fetch;
                reply->total = n_new;
              }
            send_reply (req->reply, req->reply_kind, reply);
          }

        if (n_changed > 0)
          items_changed (self, req->feed_id, n_new);
        feeds_changed (self);
        maybe_end_round (self);
      }
      break;

    case REQ_LOAD_FEEDS:
    default:
      g_assert_not_reached ();
    }
}

static void
manager_mail_cb (TdMailboxId  id,
                 TdMail      *mail,
                 gpointer     user_data)
{
  TdFeedManager *self = user_data;

  if (mail->kind >= MAIL_FIRST_REQUEST)
    {
      store_answer (self, mail->kind, mail);
      return;
    }

  switch (mail->kind)
    {
    case MAIL_FARM_RESULT:
      farm_result (self, mail->data);
      break;

    case MAIL_FARM_PROGRESS:
      break;

    case MAIL_TICK:
      self->tick_timeout = 0;
      refresh_due (self);
      break;

    case MAIL_STARTUP:
      self->started = TRUE;
      refresh_due (self);
      break;

    case MAIL_ADD_FETCHED:
      add_fetched (self, mail->data);
      break;

    case MAIL_OPML_READ:
      opml_read (self, mail->data);
      break;

    case MAIL_LOAD_FEEDS:
      self->load_timeout = 0;
      load_feeds (self);
      break;

    case MAIL_ICON:
      icon_loaded (self, mail->data);
      break;

    case MAIL_OPML_WRITTEN:
      {
        TdTaskResult *result = mail->data;
        OpmlJob *job = result->task_data;

        if (result->error != NULL)
          send_error (job->reply, job->reply_kind, job->tag, g_steal_pointer (&result->error));
        else
          {
            TdFeedReply *reply = reply_new (job->tag);

            reply->total = job->feeds->len;
            if (job->file == NULL)
              reply->text = td_task_result_steal (result);
            send_reply (job->reply, job->reply_kind, reply);
          }
      }
      break;

    default:
      g_assert_not_reached ();
    }
}

/* ------------------------------------------------------------------ */
/* Public API                                                          */
/* ------------------------------------------------------------------ */

static gboolean
classify_error (const GError *error,
                gpointer      user_data)
{
  return td_farm_error_is_transient (error, NULL);
}

TdFeedManager *
td_feed_manager_new (TdRecorder                *recorder,
                     TdTaskLoop                *loop,
                     const TdFeedManagerConfig *config)
{
  TdFeedManager *self;
  TdFarmConfig farm_config = { 0 };
  TdFeedFetcherConfig fetcher_config = { 0 };

  g_return_val_if_fail (recorder != NULL, NULL);
  g_return_val_if_fail (loop != NULL, NULL);

  self = g_new0 (TdFeedManager, 1);
  self->context = g_main_context_ref_thread_default ();
  self->recorder = recorder;
  self->loop = loop;
  if (config != NULL)
    self->config = *config;
  if (self->config.max_running == 0)
    self->config.max_running = TD_FEED_MANAGER_DEFAULT_MAX_RUNNING;
  if (self->config.max_per_host == 0)
    self->config.max_per_host = TD_FEED_MANAGER_DEFAULT_MAX_PER_HOST;
  if (self->config.deadline_ms == 0)
    self->config.deadline_ms = TD_FEED_MANAGER_DEFAULT_DEADLINE_MS;
  if (self->config.refresh_interval == 0)
    self->config.refresh_interval = TD_FEED_MANAGER_DEFAULT_INTERVAL_S;
  if (self->config.items_kept == 0)
    self->config.items_kept = TD_FEED_MANAGER_DEFAULT_ITEMS_KEPT;

  /* The fetcher's connection limits match the farm's, so that neither
   * silently caps the other. */
  fetcher_config.max_conns = self->config.max_running;
  fetcher_config.max_conns_per_host = self->config.max_per_host;
  fetcher_config.deadline_ms = MIN (self->config.deadline_ms, TD_FEED_FETCHER_DEFAULT_DEADLINE_MS);
  self->fetcher = g_new0 (FetcherRef, 1);
  g_atomic_ref_count_init (&self->fetcher->ref_count);
  self->fetcher->fetcher = td_feed_fetcher_new (&fetcher_config);

  /* Icons get a fetcher of their own: an icon's size cap, a short
   * deadline, and connections that never hold up a feed. */
  fetcher_config = (TdFeedFetcherConfig) {
    .max_conns = 2, .max_conns_per_host = 1, .deadline_ms = TD_FEED_ICON_DEADLINE_MS,
    .max_body_size = TD_FEED_ICON_MAX_BYTES,
  };
  self->icon_fetcher = g_new0 (FetcherRef, 1);
  g_atomic_ref_count_init (&self->icon_fetcher->ref_count);
  self->icon_fetcher->fetcher = td_feed_fetcher_new (&fetcher_config);
  self->icon_dir = self->config.icon_dir ? g_strdup (self->config.icon_dir) : td_feed_icon_default_dir ();
  /* The caller's string need not outlive the call. */
  self->config.icon_dir = NULL;
  self->icons_loading = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  self->mailbox = td_mailbox_open (self->context, G_PRIORITY_DEFAULT, manager_mail_cb, self, NULL);
  self->listeners = g_array_new (FALSE, FALSE, sizeof (Listener));
  self->feeds = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, (GDestroyNotify) feed_free);
  self->urls = g_hash_table_new (g_str_hash, g_str_equal);
  self->adding = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->requests = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) request_free);
  self->round_new = g_hash_table_new (g_int64_hash, g_int64_equal);
  self->next_serial = MAIL_FIRST_REQUEST;
  g_queue_init (&self->deferred);

  farm_config.max_running = self->config.max_running;
  farm_config.max_per_group = self->config.max_per_host;
  farm_config.deadline_ms = self->config.deadline_ms;
  farm_config.max_attempts = self->config.max_attempts;
  farm_config.retry = self->config.retry;
  farm_config.classify = classify_error;
  self->farm = td_farm_new (self->context, loop, &farm_config, refresh_job_worker,
                            (GDestroyNotify) outcome_free);
  td_farm_set_result_mailbox (self->farm, self->mailbox, MAIL_FARM_RESULT);

  load_feeds (self);
  return self;
}

void
td_feed_manager_free (TdFeedManager *self)
{
  if (self == NULL)
    return;

  td_mailbox_close (self->mailbox);
  td_mail_cancel_timeout (self->tick_timeout);
  td_mail_cancel_timeout (self->load_timeout);
  g_clear_pointer (&self->farm, td_farm_free);
  fetcher_unref (self->fetcher);
  fetcher_unref (self->icon_fetcher);
  g_free (self->icon_dir);
  g_hash_table_unref (self->icons_loading);

  while (!g_queue_is_empty (&self->deferred))
    {
      Deferred *d = g_queue_pop_head (&self->deferred);

      if (d->destroy != NULL)
        d->destroy (d->data);
      g_free (d);
    }

  g_array_unref (self->listeners);
  g_hash_table_unref (self->urls);
  g_hash_table_unref (self->feeds);
  g_hash_table_unref (self->adding);
  g_hash_table_unref (self->requests);
  g_hash_table_unref (self->round_new);
  g_main_context_unref (self->context);
  g_free (self);
}

void
td_feed_manager_add_listener (TdFeedManager *self,
                              TdMailboxId    mailbox,
                              guint          kind)
{
  Listener l = { mailbox, kind };

  g_return_if_fail (self != NULL);

  g_array_append_val (self->listeners, l);
  if (self->ready)
    {
      if (self->list_in_flight)
        self->list_dirty = TRUE;
      else
        feeds_changed (self);
    }
}

void
td_feed_manager_remove_listener (TdFeedManager *self,
                                 TdMailboxId    mailbox)
{
  g_return_if_fail (self != NULL);

  for (guint i = self->listeners->len; i > 0; i--)
    if (g_array_index (self->listeners, Listener, i - 1).mailbox == mailbox)
      g_array_remove_index (self->listeners, i - 1);
}

void
td_feed_manager_set_refresh_interval (TdFeedManager *self,
                                      guint          seconds)
{
  GHashTableIter iter;
  Feed *feed;

  g_return_if_fail (self != NULL);

  self->config.refresh_interval = seconds > 0 ? seconds : TD_FEED_MANAGER_DEFAULT_INTERVAL_S;
  g_hash_table_iter_init (&iter, self->feeds);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &feed))
    if (feed->last_fetch > 0)
      feed->next_fetch = next_fetch_after (self, feed, feed->last_fetch, feed->error_count);
  arm_tick (self);
}

void
td_feed_manager_set_items_kept (TdFeedManager *self,
                                guint          n_items)
{
  g_return_if_fail (self != NULL);

  self->config.items_kept = n_items > 0 ? n_items : TD_FEED_MANAGER_DEFAULT_ITEMS_KEPT;
}

gboolean
td_feed_manager_is_ready (TdFeedManager *self)
{
  g_return_val_if_fail (self != NULL, FALSE);

  return self->ready;
}

void
td_feed_manager_add (TdFeedManager *self,
                     const char    *url,
                     const char    *folder,
                     TdMailboxId    reply,
                     guint          reply_kind,
                     guint64        tag)
{
  AddArgs *args;

  g_return_if_fail (self != NULL);

  args = g_new0 (AddArgs, 1);
  args->url = g_strdup (url);
  args->folder = g_strdup (folder);
  args->reply = reply;
  args->reply_kind = reply_kind;
  args->tag = tag;
  when_ready (self, do_add, args, (GDestroyNotify) add_args_free);
}

typedef struct
{
  gint64      feed_id;
  TdMailboxId reply;
  guint       reply_kind;
  guint64     tag;
  gboolean    urgent;
} FeedArgs;

static FeedArgs *
feed_args_new (gint64      feed_id,
               TdMailboxId reply,
               guint       reply_kind,
               guint64     tag)
{
  FeedArgs *args = g_new0 (FeedArgs, 1);

  args->feed_id = feed_id;
  args->reply = reply;
  args->reply_kind = reply_kind;
  args->tag = tag;
  return args;
}

static void
do_remove (TdFeedManager *self,
           gpointer       data)
{
  FeedArgs *args = data;
  Feed *feed = g_hash_table_lookup (self->feeds, &args->feed_id);
  g_autofree char *key = feed_key (args->feed_id);

  if (feed == NULL)
    {
      send_error (args->reply, args->reply_kind, args->tag,
                  g_error_new (TD_FEED_MANAGER_ERROR, TD_FEED_MANAGER_ERROR_NOT_FOUND,
                               "No feed %" G_GINT64_FORMAT, args->feed_id));
      return;
    }

  /* Whatever is in flight for it is dropped when it arrives. */
  if (td_farm_remove (self->farm, key) && feed->in_round)
    self->round_total--;
  g_hash_table_remove (self->round_new, &feed->id);

  td_recorder_save_values (self->recorder, "DELETE FROM feeds WHERE id = ?", TD_INT (feed->id));
  g_hash_table_remove (self->urls, feed->url);
  g_hash_table_remove (self->feeds, &args->feed_id);

  send_reply (args->reply, args->reply_kind, reply_new (args->tag));
  items_changed (self, args->feed_id, 0);
  feeds_changed (self);
  if (self->round_total > 0)
    send_progress (self);
  maybe_end_round (self);
}

void
td_feed_manager_remove (TdFeedManager *self,
                        gint64         feed_id,
                        TdMailboxId    reply,
                        guint          reply_kind,
                        guint64        tag)
{
  g_return_if_fail (self != NULL);

  when_ready (self, do_remove, feed_args_new (feed_id, reply, reply_kind, tag), g_free);
}

static void
do_refresh (TdFeedManager *self,
            gpointer       data)
{
  FeedArgs *args = data;
  guint before = self->round_total;

  if (args->feed_id == 0)
    {
      GHashTableIter iter;
      Feed *feed;

      g_hash_table_iter_init (&iter, self->feeds);
      while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &feed))
        if (!feed->gone)
          queue_refresh (self, feed, args->urgent);
    }
  else
    {
      Feed *feed = g_hash_table_lookup (self->feeds, &args->feed_id);

      if (feed != NULL)
        queue_refresh (self, feed, args->urgent);
    }

  if (self->round_total != before)
    send_progress (self);
}

void
td_feed_manager_refresh_all (TdFeedManager *self,
                             gboolean       urgent)
{
  FeedArgs *args;

  g_return_if_fail (self != NULL);

  args = feed_args_new (0, TD_MAILBOX_NONE, 0, 0);
  args->urgent = urgent;
  when_ready (self, do_refresh, args, g_free);
}

void
td_feed_manager_refresh (TdFeedManager *self,
                         gint64         feed_id,
                         gboolean       urgent)
{
  FeedArgs *args;

  g_return_if_fail (self != NULL);
  g_return_if_fail (feed_id > 0);

  args = feed_args_new (feed_id, TD_MAILBOX_NONE, 0, 0);
  args->urgent = urgent;
  when_ready (self, do_refresh, args, g_free);
}

typedef struct
{
  FeedArgs  base;
  char     *title_override;
  guint     interval;
  char     *folder;
} PropertiesArgs;

static void
properties_args_free (PropertiesArgs *args)
{
  g_free (args->title_override);
  g_free (args->folder);
  g_free (args);
}

static void
do_set_properties (TdFeedManager *self,
                   gpointer       data)
{
  PropertiesArgs *args = data;
  Feed *feed = g_hash_table_lookup (self->feeds, &args->base.feed_id);
  guint serial;

  if (feed == NULL)
    {
      send_error (args->base.reply, args->base.reply_kind, args->base.tag,
                  g_error_new (TD_FEED_MANAGER_ERROR, TD_FEED_MANAGER_ERROR_NOT_FOUND,
                               "No feed %" G_GINT64_FORMAT, args->base.feed_id));
      return;
    }

  feed->interval = args->interval;
  g_free (feed->folder);
  feed->folder = g_strdup (args->folder);
  if (feed->last_fetch > 0)
    feed->next_fetch = next_fetch_after (self, feed, feed->last_fetch, feed->error_count);
  if (args->title_override != NULL)
    {
      g_free (feed->title);
      feed->title = g_strdup (args->title_override);
    }

  td_recorder_save_values (self->recorder,
                           "UPDATE feeds SET title_override = ?, refresh_interval = ?, folder = ?,"
                           " next_fetch = ? WHERE id = ?",
                           TD_TEXT (args->title_override),
                           args->interval > 0 ? TD_INT (args->interval) : TD_NULL,
                           TD_TEXT (args->folder), TD_INT (feed->next_fetch), TD_INT (feed->id));

  serial = request_add (self, REQ_PROPERTIES, args->base.reply, args->base.reply_kind, args->base.tag);
  request_lookup (self, serial)->feed_id = feed->id;
  load_feed_list_into (self, feed->id, serial);
  feeds_changed (self);
  items_changed (self, feed->id, 0);
  arm_tick (self);
}

void
td_feed_manager_set_properties (TdFeedManager *self,
                                gint64         feed_id,
                                const char    *title_override,
                                guint          refresh_interval,
                                const char    *folder,
                                TdMailboxId    reply,
                                guint          reply_kind,
                                guint64        tag)
{
  PropertiesArgs *args;

  g_return_if_fail (self != NULL);

  args = g_new0 (PropertiesArgs, 1);
  args->base.feed_id = feed_id;
  args->base.reply = reply;
  args->base.reply_kind = reply_kind;
  args->base.tag = tag;
  args->title_override = empty_to_null (title_override);
  args->interval = refresh_interval;
  args->folder = empty_to_null (folder);
  when_ready (self, do_set_properties, args, (GDestroyNotify) properties_args_free);
}

void
td_feed_manager_list_feeds (TdFeedManager *self,
                            TdMailboxId    reply,
                            guint          reply_kind,
                            guint64        tag)
{
  g_return_if_fail (self != NULL);

  load_feed_list_into (self, 0, request_add (self, REQ_LIST, reply, reply_kind, tag));
}

static ItemsQuery *
items_query_new (const TdFeedQuery *query)
{
  ItemsQuery *q = g_new0 (ItemsQuery, 1);

  if (query != NULL)
    {
      q->filter = query->filter;
      q->feed_id = query->feed_id;
      q->folder = g_strdup (query->folder);
      q->match = fts_query (query->search);
      q->unread_only = query->unread_only;
    }
  return q;
}

void
td_feed_manager_load_items (TdFeedManager     *self,
                            const TdFeedQuery *query,
                            guint              offset,
                            guint              limit,
                            gboolean           with_total,
                            TdMailboxId        reply,
                            guint              reply_kind,
                            guint64            tag)
{
  ItemsQuery *q;

  g_return_if_fail (self != NULL);

  q = items_query_new (query);
  q->offset = offset;
  q->limit = limit > 0 ? limit : TD_FEED_MANAGER_PAGE_SIZE;
  q->with_total = with_total;
  q->tag = tag;
  td_recorder_load_func (self->recorder, load_items, q, (GDestroyNotify) items_query_free,
                         (GDestroyNotify) td_feed_reply_free, self->mailbox,
                         request_add (self, REQ_ITEMS, reply, reply_kind, tag));
}

void
td_feed_manager_load_item (TdFeedManager *self,
                           gint64         item_id,
                           TdMailboxId    reply,
                           guint          reply_kind,
                           guint64        tag)
{
  ItemsQuery *q;

  g_return_if_fail (self != NULL);

  q = items_query_new (NULL);
  q->item_id = item_id;
  q->tag = tag;
  td_recorder_load_func (self->recorder, load_item, q, (GDestroyNotify) items_query_free,
                         (GDestroyNotify) td_feed_reply_free, self->mailbox,
                         request_add (self, REQ_ITEM, reply, reply_kind, tag));
}

void
td_feed_manager_set_read (TdFeedManager *self,
                          const gint64  *item_ids,
                          guint          n_ids,
                          gboolean       read)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (item_ids != NULL || n_ids == 0);

  for (guint i = 0; i < n_ids; i++)
    td_recorder_save_values (self->recorder, "UPDATE items SET read = ? WHERE id = ?",
                             TD_BOOL (read), TD_INT (item_ids[i]));
  if (n_ids > 0)
    feeds_changed (self);
}

void
td_feed_manager_set_starred (TdFeedManager *self,
                             gint64         item_id,
                             gboolean       starred)
{
  g_return_if_fail (self != NULL);

  td_recorder_save_values (self->recorder, "UPDATE items SET starred = ? WHERE id = ?",
                           TD_BOOL (starred), TD_INT (item_id));
  feeds_changed (self);
}

/* Recorder thread: marks read what a list query with @data (an
 * ItemsQuery) shows, search included. */
static gboolean
mark_read_matching (TdStoreConn  *conn,
                    gpointer      data,
                    GError      **error)
{
  ItemsQuery *q = data;
  g_autoptr(GString) sql = g_string_new ("UPDATE items SET read = 1 WHERE read = 0 AND id IN"
                                         " (SELECT i.id FROM items i");
  g_autoptr(GArray) params = g_array_new (FALSE, FALSE, sizeof (TdValue));
  g_autoptr(TdRows) rows = NULL;

  items_where (q, sql, params);
  g_string_append_c (sql, ')');
  /* A query, not an exec: the statement text is built here and does not
   * outlive the call, which only the query cache allows. */
  rows = td_store_conn_query (conn, sql->str, (TdValue *) params->data, params->len, error);
  return rows != NULL;
}

void
td_feed_manager_mark_all_read (TdFeedManager     *self,
                               const TdFeedQuery *query)
{
  ItemsQuery *q;

  g_return_if_fail (self != NULL);

  q = items_query_new (query);
  td_recorder_save_func (self->recorder, mark_read_matching, q, (GDestroyNotify) items_query_free);

  items_changed (self, q->filter == TD_FEED_FILTER_FEED ? q->feed_id : 0, 0);
  feeds_changed (self);
}

void
td_feed_manager_delete_item (TdFeedManager *self,
                             gint64         item_id)
{
  g_return_if_fail (self != NULL);

  td_recorder_save_values (self->recorder, SQL_ITEM_TOMBSTONE, TD_INT (g_get_real_time ()), TD_INT (item_id));
  td_recorder_save_values (self->recorder, SQL_ITEM_DELETE, TD_INT (item_id));
  items_changed (self, 0, 0);
  feeds_changed (self);
}

void
td_feed_manager_import_opml (TdFeedManager *self,
                             GFile         *file,
                             TdMailboxId    reply,
                             guint          reply_kind,
                             guint64        tag)
{
  OpmlJob *job;
  TdTask *task;

  g_return_if_fail (self != NULL);
  g_return_if_fail (G_IS_FILE (file));

  job = g_new0 (OpmlJob, 1);
  job->file = g_object_ref (file);
  job->reply = reply;
  job->reply_kind = reply_kind;
  job->tag = tag;

  task = td_task_new (opml_read_worker, job, (GDestroyNotify) opml_job_free,
                      (GDestroyNotify) g_ptr_array_unref);
  td_task_set_reply (task, self->mailbox, MAIL_OPML_READ);
  td_task_loop_push_front (self->loop, task);
}

void
td_feed_manager_export_opml (TdFeedManager *self,
                             GFile         *file,
                             TdMailboxId    reply,
                             guint          reply_kind,
                             guint64        tag)
{
  guint serial;

  g_return_if_fail (self != NULL);
  g_return_if_fail (file == NULL || G_IS_FILE (file));

  serial = request_add (self, REQ_EXPORT_LIST, reply, reply_kind, tag);
  if (file != NULL)
    request_lookup (self, serial)->file = g_object_ref (file);
  load_feed_list_into (self, 0, serial);
}

guint
td_feed_manager_get_n_pending (TdFeedManager *self)
{
  TdFarmProgress progress;

  g_return_val_if_fail (self != NULL, 0);

  td_farm_get_progress (self->farm, &progress);
  return progress.queued + progress.running;
}

TdFarm *
td_feed_manager_get_farm (TdFeedManager *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->farm;
}
