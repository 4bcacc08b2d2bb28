/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-feed-icon"

#include "config.h"

#include <math.h>
#include <string.h>

#include <gdk-pixbuf/gdk-pixbuf.h>
#include <glib/gstdio.h>

#include "feeds/td-feed-icon.h"

/* Our own cached PNG files are tiny; anything larger is not ours. */
#define TD_FEED_ICON_MAX_CACHED_BYTES (64 * 1024)

G_DEFINE_QUARK (td-feed-icon-error-quark, td_feed_icon_error)

/* The formats a favicon or feed logo comes in. Others (SVG, TGA, XPM,
 * ANI, ...) are refused: their loaders are a larger attack surface than
 * an icon is worth, and SVG may reference other files. */
static const char * const accepted_formats[] = { "png", "jpeg", "gif", "ico", "bmp", "webp" };

TdFeedIcon *
td_feed_icon_copy (const TdFeedIcon *icon)
{
  TdFeedIcon *copy;

  if (icon == NULL)
    return NULL;

  copy = g_new0 (TdFeedIcon, 1);
  copy->url = g_strdup (icon->url);
  copy->rgba_small = icon->rgba_small ? g_bytes_ref (icon->rgba_small) : NULL;
  copy->rgba_large = icon->rgba_large ? g_bytes_ref (icon->rgba_large) : NULL;
  return copy;
}

void
td_feed_icon_free (TdFeedIcon *icon)
{
  if (icon == NULL)
    return;

  g_free (icon->url);
  g_clear_pointer (&icon->rgba_small, g_bytes_unref);
  g_clear_pointer (&icon->rgba_large, g_bytes_unref);
  g_free (icon);
}

static gboolean
scheme_is (GUri       *uri,
           const char *scheme)
{
  return uri != NULL && g_ascii_strcasecmp (g_uri_get_scheme (uri), scheme) == 0;
}

static gboolean
is_web (GUri *uri)
{
  return (scheme_is (uri, "http") || scheme_is (uri, "https"))
         && g_uri_get_host (uri) != NULL && *g_uri_get_host (uri) != '\0';
}

char *
td_feed_icon_url (const char *feed_url,
                  const char *icon_url,
                  const char *site_link)
{
  g_autoptr(GUri) feed = feed_url ? g_uri_parse (feed_url, G_URI_FLAGS_NONE, NULL) : NULL;
  g_autoptr(GUri) icon = icon_url && *icon_url ? g_uri_parse (icon_url, G_URI_FLAGS_NONE, NULL) : NULL;
  g_autoptr(GUri) site = NULL;
  GUri *origin;

  if (feed == NULL)
    return NULL;

  if (scheme_is (feed, "file"))
    return scheme_is (icon, "file") ? g_uri_to_string (icon) : NULL;

  if (is_web (icon))
    return g_uri_to_string (icon);

  site = site_link && *site_link ? g_uri_parse (site_link, G_URI_FLAGS_NONE, NULL) : NULL;
  origin = is_web (site) ? site : is_web (feed) ? feed : NULL;
  if (origin == NULL)
    return NULL;

  return g_uri_join (G_URI_FLAGS_NONE, g_uri_get_scheme (origin), NULL, g_uri_get_host (origin),
                     g_uri_get_port (origin), "/favicon.ico", NULL, NULL);
}

char *
td_feed_icon_default_dir (void)
{
  return g_build_filename (g_get_user_cache_dir (), "tidings", "icons", NULL);
}

/* ------------------------------------------------------------------ */
/* Decoding                                                            */
/* ------------------------------------------------------------------ */

typedef struct
{
  gboolean refused;
  char    *why;
} SizeCheck;

/* Runs before the loader allocates any pixels: a 0 × 0 size asks it to
 * stop there (gdk-pixbuf's convention for its own file-info probe). */
static void
size_prepared_cb (GdkPixbufLoader *loader,
                  int              width,
                  int              height,
                  SizeCheck       *check)
{
  GdkPixbufFormat *format = gdk_pixbuf_loader_get_format (loader);
  g_autofree char *name = format ? gdk_pixbuf_format_get_name (format) : NULL;
  gboolean accepted = FALSE;

  for (guint i = 0; name != NULL && i < G_N_ELEMENTS (accepted_formats); i++)
    accepted = accepted || g_str_equal (name, accepted_formats[i]);

  if (!accepted)
    check->why = g_strdup_printf ("images in %s format are not used as icons", name ? name : "this");
  else if (width <= 0 || height <= 0 || (gint64) width * height > TD_FEED_ICON_MAX_PIXELS)
    check->why = g_strdup_printf ("a %d × %d image is too large for an icon", width, height);
  else
    return;

  check->refused = TRUE;
  gdk_pixbuf_loader_set_size (loader, 0, 0);
}

/* @src scaled into a transparent @size square, centred, aspect kept;
 * small pixel art is enlarged without blurring. */
static GdkPixbuf *
scale_square (GdkPixbuf *src,
              int        size)
{
  g_autoptr(GdkPixbuf) rgba = gdk_pixbuf_add_alpha (src, FALSE, 0, 0, 0);
  int w = gdk_pixbuf_get_width (rgba);
  int h = gdk_pixbuf_get_height (rgba);
  double scale = (double) size / MAX (w, h);
  int dw = CLAMP ((int) round (w * scale), 1, size);
  int dh = CLAMP ((int) round (h * scale), 1, size);
  int x = (size - dw) / 2;
  int y = (size - dh) / 2;
  gboolean integral = scale >= 1.0 && scale == floor (scale);
  GdkPixbuf *dst = gdk_pixbuf_new (GDK_COLORSPACE_RGB, TRUE, 8, size, size);

  gdk_pixbuf_fill (dst, 0);
  gdk_pixbuf_scale (rgba, dst, x, y, dw, dh, x, y, scale, scale,
                    integral ? GDK_INTERP_NEAREST : GDK_INTERP_HYPER);
  return dst;
}

/* The pixels of a @size square RGBA pixbuf, rows packed. */
static GBytes *
pack_rgba (GdkPixbuf *pixbuf)
{
  int size = gdk_pixbuf_get_width (pixbuf);
  int stride = gdk_pixbuf_get_rowstride (pixbuf);
  const guint8 *pixels = gdk_pixbuf_read_pixels (pixbuf);
  guint8 *out = g_malloc ((gsize) size * size * 4);

  g_assert (gdk_pixbuf_get_has_alpha (pixbuf) && gdk_pixbuf_get_n_channels (pixbuf) == 4);
  for (int row = 0; row < size; row++)
    memcpy (out + (gsize) row * size * 4, pixels + (gsize) row * stride, (gsize) size * 4);
  return g_bytes_new_take (out, (gsize) size * size * 4);
}

/* Decodes @data under the limits; NULL and @error when refused. */
static GdkPixbuf *
decode_limited (const guint8  *data,
                gsize          len,
                GError       **error)
{
  g_autoptr(GdkPixbufLoader) loader = gdk_pixbuf_loader_new ();
  g_autoptr(GError) local_error = NULL;
  SizeCheck check = { FALSE, NULL };
  GdkPixbuf *pixbuf;
  gboolean ok;

  g_signal_connect (loader, "size-prepared", G_CALLBACK (size_prepared_cb), &check);
  ok = gdk_pixbuf_loader_write (loader, data, len, &local_error);
  /* Closing reports a truncated image; it must happen either way. */
  ok = gdk_pixbuf_loader_close (loader, ok ? &local_error : NULL) && ok;

  if (check.refused)
    {
      g_set_error_literal (error, TD_FEED_ICON_ERROR, TD_FEED_ICON_ERROR_REFUSED, check.why);
      g_free (check.why);
      return NULL;
    }

  pixbuf = ok ? gdk_pixbuf_loader_get_pixbuf (loader) : NULL;
  if (pixbuf == NULL)
    {
      g_set_error (error, TD_FEED_ICON_ERROR, TD_FEED_ICON_ERROR_DECODE, "not an image: %s",
                   local_error ? local_error->message : "no pixels");
      return NULL;
    }

  return g_object_ref (pixbuf);
}

TdFeedIcon *
td_feed_icon_decode (const char    *url,
                     const guint8  *data,
                     gsize          len,
                     GError       **error)
{
  g_autoptr(GdkPixbuf) pixbuf = NULL;
  g_autoptr(GdkPixbuf) small = NULL;
  g_autoptr(GdkPixbuf) large = NULL;
  TdFeedIcon *icon;

  g_return_val_if_fail (data != NULL || len == 0, NULL);

  if ((pixbuf = decode_limited (data, len, error)) == NULL)
    return NULL;

  small = scale_square (pixbuf, TD_FEED_ICON_SMALL);
  large = scale_square (pixbuf, TD_FEED_ICON_LARGE);

  icon = g_new0 (TdFeedIcon, 1);
  icon->url = g_strdup (url);
  icon->rgba_small = pack_rgba (small);
  icon->rgba_large = pack_rgba (large);
  return icon;
}

/* ------------------------------------------------------------------ */
/* The disk cache                                                      */
/* ------------------------------------------------------------------ */

/* "<dir>/<sha256 of url><suffix>" */
static char *
cache_path (const char *dir,
            const char *url,
            const char *suffix)
{
  g_autofree char *hash = g_compute_checksum_for_string (G_CHECKSUM_SHA256, url, -1);
  g_autofree char *name = g_strconcat (hash, suffix, NULL);

  return g_build_filename (dir, name, NULL);
}

/* One cached square of @size, as packed RGBA; NULL if missing or not
 * what we wrote. */
static GBytes *
read_cached (const char *path,
             int         size)
{
  g_autofree char *data = NULL;
  g_autoptr(GdkPixbuf) pixbuf = NULL;
  g_autoptr(GdkPixbuf) rgba = NULL;
  gsize len = 0;

  if (!g_file_get_contents (path, &data, &len, NULL) || len > TD_FEED_ICON_MAX_CACHED_BYTES)
    return NULL;
  if ((pixbuf = decode_limited ((const guint8 *) data, len, NULL)) == NULL)
    return NULL;
  if (gdk_pixbuf_get_width (pixbuf) != size || gdk_pixbuf_get_height (pixbuf) != size)
    return NULL;
  rgba = gdk_pixbuf_add_alpha (pixbuf, FALSE, 0, 0, 0);
  return pack_rgba (rgba);
}

static gboolean
write_png (const char *path,
           GBytes     *rgba,
           int         size)
{
  g_autoptr(GdkPixbuf) pixbuf = NULL;
  g_autofree char *png = NULL;
  gsize len = 0;

  pixbuf = gdk_pixbuf_new_from_bytes (rgba, GDK_COLORSPACE_RGB, TRUE, 8, size, size, size * 4);
  return gdk_pixbuf_save_to_buffer (pixbuf, &png, &len, "png", NULL, NULL)
         && g_file_set_contents (path, png, len, NULL);
}

static gboolean
failed_recently (const char *marker)
{
  GStatBuf st;

  return g_stat (marker, &st) == 0
         && (gint64) st.st_mtime + TD_FEED_ICON_RETRY_S > g_get_real_time () / G_USEC_PER_SEC;
}

static void
remember_failure (const char *marker)
{
  g_file_set_contents (marker, "", 0, NULL);
}

TdFeedIcon *
td_feed_icon_load (TdFeedFetcher  *fetcher,
                   const char     *dir,
                   const char     *url,
                   GCancellable   *cancellable,
                   GError        **error)
{
  g_autofree char *small_path = NULL;
  g_autofree char *large_path = NULL;
  g_autofree char *marker = NULL;
  g_autoptr(TdFeedFetchRequest) request = NULL;
  g_autoptr(TdFeedFetchResult) result = NULL;
  g_autoptr(GBytes) small = NULL;
  g_autoptr(GBytes) large = NULL;
  g_autoptr(GError) local_error = NULL;
  TdFeedIcon *icon;

  g_return_val_if_fail (fetcher != NULL, NULL);
  g_return_val_if_fail (dir != NULL, NULL);
  g_return_val_if_fail (url != NULL, NULL);

  small_path = cache_path (dir, url, "-16.png");
  large_path = cache_path (dir, url, "-32.png");
  marker = cache_path (dir, url, ".failed");

  if ((small = read_cached (small_path, TD_FEED_ICON_SMALL)) != NULL
      && (large = read_cached (large_path, TD_FEED_ICON_LARGE)) != NULL)
    {
      icon = g_new0 (TdFeedIcon, 1);
      icon->url = g_strdup (url);
      icon->rgba_small = g_steal_pointer (&small);
      icon->rgba_large = g_steal_pointer (&large);
      return icon;
    }

  if (failed_recently (marker))
    {
      g_set_error (error, TD_FEED_ICON_ERROR, TD_FEED_ICON_ERROR_FAILED_RECENTLY,
                   "the icon at %s failed less than a day ago", url);
      return NULL;
    }

  request = td_feed_fetch_request_new (url, NULL, NULL);
  result = td_feed_fetcher_fetch (fetcher, request, cancellable);
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;

  g_mkdir_with_parents (dir, 0700);

  if (result->status != TD_FEED_FETCH_OK || result->body == NULL)
    {
      remember_failure (marker);
      g_set_error (error, TD_FEED_ICON_ERROR, TD_FEED_ICON_ERROR_FETCH, "no icon at %s: %s", url,
                   result->error ? result->error->message : "no image in the answer");
      return NULL;
    }

  icon = td_feed_icon_decode (url, g_bytes_get_data (result->body, NULL), g_bytes_get_size (result->body),
                              &local_error);
  if (icon == NULL)
    {
      remember_failure (marker);
      g_propagate_prefixed_error (error, g_steal_pointer (&local_error), "%s: ", url);
      return NULL;
    }

  /* A cache that cannot be written costs a fetch next time, nothing more. */
  if (!write_png (small_path, icon->rgba_small, TD_FEED_ICON_SMALL)
      || !write_png (large_path, icon->rgba_large, TD_FEED_ICON_LARGE))
    g_debug ("Could not cache the icon of %s in %s", url, dir);
  g_remove (marker);
  return icon;
}
