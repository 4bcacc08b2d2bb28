/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-feed-cli"

#include "config.h"

#include <string.h>

#include "feeds/td-feed-cli.h"
#include "feeds/td-feed-fetcher.h"
#include "feeds/td-feed-json.h"
#include "feeds/td-feed-parser.h"

/* Reads at most TD_FEED_MAX_DOCUMENT_SIZE bytes of a regular file. */
static GBytes *
read_local (GFile   *file,
            GError **error)
{
  g_autoptr(GFileInfo) info = NULL;
  g_autoptr(GFileInputStream) stream = NULL;
  g_autofree char *buf = NULL;
  gsize n = 0;

  info = g_file_query_info (file, G_FILE_ATTRIBUTE_STANDARD_TYPE "," G_FILE_ATTRIBUTE_STANDARD_SIZE,
                            G_FILE_QUERY_INFO_NONE, NULL, error);
  if (info == NULL)
    return NULL;

  if (g_file_info_get_file_type (info) != G_FILE_TYPE_REGULAR)
    {
      g_set_error (error, TD_FEED_FETCH_ERROR, TD_FEED_FETCH_ERROR_NOT_A_FILE, "not a regular file");
      return NULL;
    }

  if (g_file_info_get_size (info) > TD_FEED_MAX_DOCUMENT_SIZE)
    {
      g_set_error (error, TD_FEED_ERROR, TD_FEED_ERROR_TOO_LARGE,
                   "file larger than %d MiB", TD_FEED_MAX_DOCUMENT_SIZE / (1024 * 1024));
      return NULL;
    }

  stream = g_file_read (file, NULL, error);
  if (stream == NULL)
    return NULL;

  /* The file may have grown since the size check: read one byte more
   * than the cap to notice. */
  buf = g_malloc (TD_FEED_MAX_DOCUMENT_SIZE + 1);
  if (!g_input_stream_read_all (G_INPUT_STREAM (stream), buf, TD_FEED_MAX_DOCUMENT_SIZE + 1, &n, NULL, error))
    return NULL;
  if (n > TD_FEED_MAX_DOCUMENT_SIZE)
    {
      g_set_error (error, TD_FEED_ERROR, TD_FEED_ERROR_TOO_LARGE,
                   "file larger than %d MiB", TD_FEED_MAX_DOCUMENT_SIZE / (1024 * 1024));
      return NULL;
    }

  return g_bytes_new (buf, n);
}

static gboolean
is_http_url (const char *s)
{
  return g_ascii_strncasecmp (s, "http://", 7) == 0 || g_ascii_strncasecmp (s, "https://", 8) == 0;
}

int
td_feed_parse_cli (const char     *path_or_url,
                   GOutputStream  *out,
                   GError        **error)
{
  g_autoptr(GBytes) body = NULL;
  g_autoptr(TdFeed) feed = NULL;
  g_autofree char *base_url = NULL;
  g_autofree char *content_type = NULL;
  g_autofree char *json = NULL;
  gconstpointer data;
  gsize len;

  g_return_val_if_fail (path_or_url != NULL, 1);
  g_return_val_if_fail (G_IS_OUTPUT_STREAM (out), 1);

  if (is_http_url (path_or_url))
    {
      g_autoptr(TdFeedFetcher) fetcher = td_feed_fetcher_new (NULL);
      g_autoptr(TdFeedFetchRequest) request = td_feed_fetch_request_new (path_or_url, NULL, NULL);
      g_autoptr(TdFeedFetchResult) result = td_feed_fetcher_fetch (fetcher, request, NULL);

      if (result->status == TD_FEED_FETCH_GONE)
        {
          g_set_error (error, TD_FEED_FETCH_ERROR, TD_FEED_FETCH_ERROR_HTTP, "HTTP 410 Gone");
          return 1;
        }
      if (result->status != TD_FEED_FETCH_OK)
        {
          if (result->error != NULL)
            g_propagate_error (error, g_steal_pointer (&result->error));
          else
            g_set_error (error, TD_FEED_FETCH_ERROR, TD_FEED_FETCH_ERROR_HTTP,
                         "HTTP %u", result->http_status);
          return 1;
        }

      body = g_bytes_ref (result->body);
      base_url = g_strdup (result->final_url);
      content_type = g_strdup (result->content_type);
    }
  else
    {
      g_autoptr(GFile) file = NULL;

      if (g_uri_peek_scheme (path_or_url) != NULL && g_ascii_strncasecmp (path_or_url, "file:", 5) != 0)
        {
          g_set_error (error, TD_FEED_FETCH_ERROR, TD_FEED_FETCH_ERROR_UNSUPPORTED,
                       "unsupported URL scheme in %s", path_or_url);
          return 1;
        }

      file = g_file_new_for_commandline_arg (path_or_url);
      body = read_local (file, error);
      if (body == NULL)
        return 1;
      base_url = g_file_get_uri (file);
    }

  data = g_bytes_get_data (body, &len);
  feed = td_feed_parse (len ? data : "", len, base_url, content_type, error);
  if (feed == NULL)
    return 1;

  json = td_feed_to_json (feed);
  if (!g_output_stream_write_all (out, json, strlen (json), NULL, NULL, error) ||
      !g_output_stream_flush (out, NULL, error))
    return 1;

  return 0;
}
