/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * OPML subscription lists: import (nested outlines become folders) and
 * export (OPML 2.0, folders kept). An imported file is untrusted like any
 * feed: same hardened XML reading, and limits on size, count and depth.
 */

/* A subscription list of a few thousand feeds is well under 1 MiB. */
#define TD_OPML_MAX_DOCUMENT_SIZE (10 * 1024 * 1024)
/* Outlines (feeds and folders) read from one file; the rest are dropped
 * with a warning. */
#define TD_OPML_MAX_OUTLINES      50000
/* Folder nesting kept; deeper outlines go into the deepest kept folder.
 * No reader shows more than a few levels. */
#define TD_OPML_MAX_FOLDER_DEPTH  16

typedef struct _TdOpmlOutline TdOpmlOutline;

struct _TdOpmlOutline
{
  char      *title;     /* title, else text, else the feed URL */
  char      *xml_url;   /* the feed; NULL for a folder */
  char      *html_url;  /* the site, if given */
  GPtrArray *children;  /* TdOpmlOutline, for a folder; NULL for a feed */
};

typedef struct
{
  char      *title;     /* head/title */
  GPtrArray *outlines;  /* TdOpmlOutline, top level */
  GPtrArray *warnings;  /* char *: what was dropped or repaired */
} TdOpml;

#define TD_OPML_ERROR (td_opml_error_quark ())

typedef enum
{
  TD_OPML_ERROR_INVALID,    /* not XML, or not OPML */
  TD_OPML_ERROR_TOO_LARGE,
} TdOpmlError;

GQuark         td_opml_error_quark        (void);

TdOpml        *td_opml_new                (const char          *title);
void           td_opml_free               (TdOpml              *opml);

TdOpmlOutline *td_opml_outline_new_feed   (const char          *title,
                                           const char          *xml_url,
                                           const char          *html_url);
TdOpmlOutline *td_opml_outline_new_folder (const char          *title);
void           td_opml_outline_free       (TdOpmlOutline       *outline);
/* Appends @child (taken) to @folder. */
void           td_opml_outline_add        (TdOpmlOutline       *folder,
                                           TdOpmlOutline       *child);

/* Parses an OPML document. Relative feed URLs resolve against @base_url
 * (may be NULL); feed:// becomes http://; URLs other than http, https and
 * file are dropped with a warning. Returns NULL with @error set when the
 * document is not OPML at all. */
TdOpml        *td_opml_parse              (const char          *data,
                                           gsize                len,
                                           const char          *base_url,
                                           GError             **error);

/* Serializes @opml as an OPML 2.0 document in UTF-8. */
char          *td_opml_to_string          (const TdOpml        *opml,
                                           gsize               *len);

/* Counts feeds (not folders) in @opml. */
guint          td_opml_count_feeds        (const TdOpml        *opml);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdOpml, td_opml_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdOpmlOutline, td_opml_outline_free)

G_END_DECLS
