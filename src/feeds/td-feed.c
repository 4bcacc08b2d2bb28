/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-feed"

#include "config.h"

#include <gio/gio.h>
#include <string.h>

#include "feeds/td-feed.h"
#include "feeds/td-feed-date.h"

/* A hostile feed can produce a warning per element; the list is for a
 * human reading `--parse-feed` output, so the first ones are enough. */
#define TD_FEED_MAX_WARNINGS 100

TdFeed *
td_feed_new (void)
{
  TdFeed *feed = g_new0 (TdFeed, 1);

  feed->info = td_feed_entry_new ();
  feed->entries = g_ptr_array_new_with_free_func ((GDestroyNotify) td_feed_entry_free);
  feed->warnings = g_ptr_array_new_with_free_func (g_free);

  return feed;
}

void
td_feed_free (TdFeed *feed)
{
  if (feed == NULL)
    return;

  g_clear_pointer (&feed->info, td_feed_entry_free);
  g_clear_pointer (&feed->entries, g_ptr_array_unref);
  g_clear_pointer (&feed->warnings, g_ptr_array_unref);
  g_free (feed);
}

void
td_feed_add_warning (TdFeed     *feed,
                     const char *format,
                     ...)
{
  va_list args;

  g_return_if_fail (feed != NULL);

  if (feed->warnings->len > TD_FEED_MAX_WARNINGS)
    return;

  if (feed->warnings->len == TD_FEED_MAX_WARNINGS)
    {
      g_ptr_array_add (feed->warnings, g_strdup ("too many warnings; the rest were dropped"));
      return;
    }

  va_start (args, format);
  g_ptr_array_add (feed->warnings, g_strdup_vprintf (format, args));
  va_end (args);
}

TdFeedEntry *
td_feed_entry_new (void)
{
  TdFeedEntry *entry = g_new0 (TdFeedEntry, 1);

  entry->published = TD_FEED_DATE_NONE;
  entry->updated = TD_FEED_DATE_NONE;

  return entry;
}

void
td_feed_entry_free (TdFeedEntry *entry)
{
  if (entry == NULL)
    return;

  g_free (entry->title);
  g_free (entry->link);
  g_clear_pointer (&entry->links, g_ptr_array_unref);
  g_free (entry->id);
  g_free (entry->subtitle);
  g_free (entry->summary);
  g_clear_pointer (&entry->content, g_ptr_array_unref);
  g_clear_pointer (&entry->authors, g_ptr_array_unref);
  g_clear_pointer (&entry->categories, g_ptr_array_unref);
  g_clear_pointer (&entry->enclosures, g_ptr_array_unref);
  g_free (entry->language);
  g_free (entry->icon);
  g_free (entry->rights);
  g_free (entry);
}

TdFeedLink *
td_feed_link_new (void)
{
  TdFeedLink *link = g_new0 (TdFeedLink, 1);

  link->length = -1;
  return link;
}

void
td_feed_link_free (TdFeedLink *link)
{
  if (link == NULL)
    return;

  g_free (link->rel);
  g_free (link->type);
  g_free (link->href);
  g_free (link->title);
  g_free (link);
}

TdFeedPerson *
td_feed_person_new (void)
{
  return g_new0 (TdFeedPerson, 1);
}

TdFeedPerson *
td_feed_person_copy (const TdFeedPerson *person)
{
  TdFeedPerson *copy;

  g_return_val_if_fail (person != NULL, NULL);

  copy = td_feed_person_new ();
  copy->name = g_strdup (person->name);
  copy->email = g_strdup (person->email);
  copy->uri = g_strdup (person->uri);
  return copy;
}

void
td_feed_person_free (TdFeedPerson *person)
{
  if (person == NULL)
    return;

  g_free (person->name);
  g_free (person->email);
  g_free (person->uri);
  g_free (person);
}

TdFeedCategory *
td_feed_category_new (void)
{
  return g_new0 (TdFeedCategory, 1);
}

void
td_feed_category_free (TdFeedCategory *category)
{
  if (category == NULL)
    return;

  g_free (category->term);
  g_free (category->scheme);
  g_free (category->label);
  g_free (category);
}

TdFeedEnclosure *
td_feed_enclosure_new (void)
{
  TdFeedEnclosure *enclosure = g_new0 (TdFeedEnclosure, 1);

  enclosure->length = -1;
  return enclosure;
}

void
td_feed_enclosure_free (TdFeedEnclosure *enclosure)
{
  if (enclosure == NULL)
    return;

  g_free (enclosure->url);
  g_free (enclosure->type);
  g_free (enclosure);
}

TdFeedContent *
td_feed_content_new (void)
{
  return g_new0 (TdFeedContent, 1);
}

void
td_feed_content_free (TdFeedContent *content)
{
  if (content == NULL)
    return;

  g_free (content->type);
  g_free (content->value);
  g_free (content->language);
  g_free (content->src);
  g_free (content);
}

const char *
td_feed_version_to_string (TdFeedVersion version)
{
  switch (version)
    {
    case TD_FEED_VERSION_RSS20:  return "rss20";
    case TD_FEED_VERSION_RSS10:  return "rss10";
    case TD_FEED_VERSION_RSS09X: return "rss09x";
    case TD_FEED_VERSION_ATOM10: return "atom10";
    case TD_FEED_VERSION_ATOM03: return "atom03";
    case TD_FEED_VERSION_JSON10: return "json10";
    case TD_FEED_VERSION_JSON11: return "json11";
    case TD_FEED_VERSION_UNKNOWN:
    default:
      return "unknown";
    }
}

const char *
td_feed_text_type_to_string (TdFeedTextType type)
{
  switch (type)
    {
    case TD_FEED_TEXT_PLAIN: return "text";
    case TD_FEED_TEXT_HTML:  return "html";
    case TD_FEED_TEXT_XHTML: return "xhtml";
    case TD_FEED_TEXT_NONE:
    default:
      return NULL;
    }
}

gboolean
td_feed_date_format (gint64 date,
                     char   buf[32])
{
  int year, month, day, hour, minute, second;

  if (!td_feed_date_to_civil (date, &year, &month, &day, &hour, &minute, &second))
    return FALSE;

  g_snprintf (buf, 32, "%04d-%02d-%02dT%02d:%02d:%02dZ",
              year, month, day, hour, minute, second);
  return TRUE;
}

gint64
td_feed_entry_get_date (const TdFeedEntry *entry)
{
  g_return_val_if_fail (entry != NULL, TD_FEED_DATE_NONE);

  if (TD_FEED_DATE_IS_VALID (entry->updated))
    return entry->updated;
  if (TD_FEED_DATE_IS_VALID (entry->published))
    return entry->published;
  return TD_FEED_DATE_NONE;
}

/* Whether every '%' of @text starts a valid escape, and no byte is a
 * control character, or a space unless @spaces. */
static gboolean
url_chars_ok (const char *text,
              gboolean    spaces)
{
  for (const char *p = text; *p; p++)
    {
      if ((guchar) *p < 0x20 || *p == 0x7f || (*p == ' ' && !spaces))
        return FALSE;
      if (*p == '%' && !(g_ascii_isxdigit (p[1]) && g_ascii_isxdigit (p[2])))
        return FALSE;
    }
  return TRUE;
}

static gboolean
host_ok (const char *host)
{
  if (host == NULL || *host == '\0')
    return FALSE;
  /* An IPv6 literal (GLib gives it without its brackets). */
  if (strchr (host, ':') != NULL)
    {
      g_autoptr(GInetAddress) address = g_inet_address_new_from_string (host);

      return address != NULL;
    }
  for (const char *p = host; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '.' && *p != '_' && (guchar) *p < 0x80)
      return FALSE;
  return TRUE;
}

gboolean
td_feed_url_is_valid (const char *url)
{
  g_autoptr(GUri) uri = NULL;
  const char *scheme;

  if (url == NULL || !g_utf8_validate (url, -1, NULL))
    return FALSE;
  /* Relaxed parsing would drop the space around a URL; what a person
   * typed is stripped before it comes here, so a URL with any is not one. */
  if (g_ascii_isspace (url[0]) || (*url != '\0' && g_ascii_isspace (url[strlen (url) - 1])))
    return FALSE;
  uri = g_uri_parse (url, G_URI_FLAGS_PARSE_RELAXED | G_URI_FLAGS_ENCODED, NULL);
  if (uri == NULL)
    return FALSE;
  scheme = g_uri_get_scheme (uri);
  /* A path typed with its spaces is read as it is (GIO takes it). */
  if (g_ascii_strcasecmp (scheme, "file") == 0)
    return url_chars_ok (url, TRUE);
  if (!url_chars_ok (url, FALSE))
    return FALSE;
  if (g_ascii_strcasecmp (scheme, "http") != 0 && g_ascii_strcasecmp (scheme, "https") != 0)
    return FALSE;
  return host_ok (g_uri_get_host (uri));
}
