/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * A parsed feed as plain structs. The feed's own metadata and each entry
 * share one record type (TdFeedEntry), because the formats share their
 * vocabulary: title, links, authors, dates, and so on. Every string is
 * valid UTF-8 and owned by its record; absent fields are NULL.
 */

/* Dates are seconds since the Unix epoch, UTC. */
#define TD_FEED_DATE_NONE    G_MININT64          /* the document has no such date */
#define TD_FEED_DATE_INVALID (G_MININT64 + 1)    /* present, but not a date we accept */

#define TD_FEED_DATE_IS_VALID(d) ((d) > TD_FEED_DATE_INVALID)

typedef enum
{
  TD_FEED_VERSION_UNKNOWN,
  TD_FEED_VERSION_RSS20,
  TD_FEED_VERSION_RSS10,
  TD_FEED_VERSION_RSS09X,
  TD_FEED_VERSION_ATOM10,
  TD_FEED_VERSION_ATOM03,
  TD_FEED_VERSION_JSON10,
  TD_FEED_VERSION_JSON11,
} TdFeedVersion;

/* How a text value is to be read (Atom text constructs, RFC 4287 §3.1). */
typedef enum
{
  TD_FEED_TEXT_NONE,
  TD_FEED_TEXT_PLAIN,
  TD_FEED_TEXT_HTML,
  TD_FEED_TEXT_XHTML,
} TdFeedTextType;

typedef struct
{
  char   *rel;       /* "alternate" when the document gave none */
  char   *type;
  char   *href;      /* resolved against the base URL */
  char   *title;
  gint64  length;    /* -1 when absent */
} TdFeedLink;

typedef struct
{
  char *name;
  char *email;
  char *uri;
} TdFeedPerson;

typedef struct
{
  char *term;
  char *scheme;
  char *label;
} TdFeedCategory;

typedef struct
{
  char   *url;
  char   *type;
  gint64  length;    /* -1 when absent */
} TdFeedEnclosure;

typedef struct
{
  char *type;        /* "text", "html", "xhtml" or a MIME type */
  char *value;       /* after the type's rules: html unescaped once, xhtml div removed */
  char *language;
  char *src;         /* Atom out-of-line content; value is then empty */
} TdFeedContent;

typedef struct
{
  char           *title;
  TdFeedTextType  title_type;
  char           *link;          /* the display link: an alternate, text/html preferred */
  GPtrArray      *links;         /* TdFeedLink */
  char           *id;
  char           *subtitle;
  char           *summary;
  TdFeedTextType  summary_type;
  GPtrArray      *content;       /* TdFeedContent */
  gint64          published;     /* TD_FEED_DATE_NONE / _INVALID or seconds */
  gint64          updated;
  GPtrArray      *authors;       /* TdFeedPerson */
  GPtrArray      *categories;    /* TdFeedCategory */
  GPtrArray      *enclosures;    /* TdFeedEnclosure */
  char           *language;
  char           *icon;
  char           *rights;
} TdFeedEntry;

typedef struct
{
  TdFeedVersion  version;
  TdFeedEntry   *info;           /* the feed's own metadata */
  GPtrArray     *entries;        /* TdFeedEntry, in document order */
  GPtrArray     *warnings;       /* char *, human-readable */
} TdFeed;

TdFeed          *td_feed_new                  (void);
void             td_feed_free                 (TdFeed          *feed);
void             td_feed_add_warning          (TdFeed          *feed,
                                               const char      *format,
                                               ...) G_GNUC_PRINTF (2, 3);

TdFeedEntry     *td_feed_entry_new            (void);
void             td_feed_entry_free           (TdFeedEntry     *entry);

TdFeedLink      *td_feed_link_new             (void);
void             td_feed_link_free            (TdFeedLink      *link);
TdFeedPerson    *td_feed_person_new           (void);
TdFeedPerson    *td_feed_person_copy          (const TdFeedPerson *person);
void             td_feed_person_free          (TdFeedPerson    *person);
TdFeedCategory  *td_feed_category_new         (void);
void             td_feed_category_free        (TdFeedCategory  *category);
TdFeedEnclosure *td_feed_enclosure_new        (void);
void             td_feed_enclosure_free       (TdFeedEnclosure *enclosure);
TdFeedContent   *td_feed_content_new          (void);
void             td_feed_content_free         (TdFeedContent   *content);

const char      *td_feed_version_to_string    (TdFeedVersion    version);
const char      *td_feed_text_type_to_string  (TdFeedTextType   type);

/* Formats @date as "YYYY-MM-DDTHH:MM:SSZ" into @buf; FALSE when @date is
 * not a valid date or not within years 1..9999. */
gboolean         td_feed_date_format          (gint64           date,
                                               char             buf[32]);

/* TRUE if @url is an address a feed can be read from: an http, https or
 * file URL that GLib can parse, with no space around it, no control
 * characters, only valid %-escapes, and for http(s) no spaces and a host
 * name (letters, digits, '-', '.', '_' or non-ASCII) or an IP address. */
gboolean         td_feed_url_is_valid         (const char      *url);

/* The entry's best date for sorting: updated, else published, else NONE. */
gint64           td_feed_entry_get_date       (const TdFeedEntry *entry);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdFeed, td_feed_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdFeedEntry, td_feed_entry_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdFeedLink, td_feed_link_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdFeedPerson, td_feed_person_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdFeedCategory, td_feed_category_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdFeedEnclosure, td_feed_enclosure_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdFeedContent, td_feed_content_free)

G_END_DECLS
