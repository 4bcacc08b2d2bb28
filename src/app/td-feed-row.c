/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-feed-row"

#include "config.h"

#include <glib/gi18n.h>
#include <gtk/gtk.h>

#include "app/td-feed-row.h"

/* A row of the Feeds sidebar: a smart view, a folder or a feed. The
 * list item template binds to its properties, so updating them in place
 * keeps the selection and the scroll position. */
struct _TdFeedRow
{
  GObject        parent_instance;

  TdFeedRowKind  kind;
  gint64         feed_id;
  char          *folder;
  char          *key;
  char          *title;
  guint          unread;
  char          *error;
  gboolean       gone;
  GBytes        *icon_rgba;     /* what icon was made from */
  GdkTexture    *icon;          /* the feed's own icon, or NULL */
};

G_DEFINE_FINAL_TYPE (TdFeedRow, td_feed_row, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_TITLE,
  PROP_UNREAD,
  PROP_UNREAD_TEXT,
  PROP_ERROR,
  PROP_HAS_ERROR,
  PROP_ICON_NAME,
  PROP_INDENT,
  PROP_IS_FEED,
  PROP_GICON,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
td_feed_row_finalize (GObject *object)
{
  TdFeedRow *self = TD_FEED_ROW (object);

  g_free (self->folder);
  g_free (self->key);
  g_free (self->title);
  g_free (self->error);
  g_clear_pointer (&self->icon_rgba, g_bytes_unref);
  g_clear_object (&self->icon);

  G_OBJECT_CLASS (td_feed_row_parent_class)->finalize (object);
}

static const char *
td_feed_row_icon_name (TdFeedRow *self)
{
  switch (self->kind)
    {
    case TD_FEED_ROW_ALL:     return "view-list-bullet-symbolic";
    case TD_FEED_ROW_UNREAD:  return "mail-unread-symbolic";
    case TD_FEED_ROW_STARRED: return "starred-symbolic";
    case TD_FEED_ROW_FOLDER:  return "folder-symbolic";
    case TD_FEED_ROW_FEED:
    default:                  return self->gone ? "action-unavailable-symbolic" : "application-rss+xml-symbolic";
    }
}

static void
td_feed_row_get_property (GObject    *object,
                          guint       prop_id,
                          GValue     *value,
                          GParamSpec *pspec)
{
  TdFeedRow *self = TD_FEED_ROW (object);

  switch (prop_id)
    {
    case PROP_TITLE:
      g_value_set_string (value, self->title);
      break;
    case PROP_UNREAD:
      g_value_set_uint (value, self->unread);
      break;
    case PROP_UNREAD_TEXT:
      g_value_take_string (value, self->unread > 0 ? g_strdup_printf ("%u", self->unread) : g_strdup (""));
      break;
    case PROP_ERROR:
      g_value_set_string (value, self->error);
      break;
    case PROP_HAS_ERROR:
      g_value_set_boolean (value, self->error != NULL);
      break;
    case PROP_ICON_NAME:
      g_value_set_string (value, td_feed_row_icon_name (self));
      break;
    case PROP_INDENT:
      g_value_set_int (value, self->kind == TD_FEED_ROW_FEED && self->folder != NULL ? 18 : 0);
      break;
    case PROP_IS_FEED:
      g_value_set_boolean (value, self->kind == TD_FEED_ROW_FEED);
      break;
    case PROP_GICON:
      g_value_take_object (value, td_feed_row_get_gicon (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
td_feed_row_class_init (TdFeedRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->finalize = td_feed_row_finalize;
  object_class->get_property = td_feed_row_get_property;

  properties[PROP_TITLE] = g_param_spec_string ("title", NULL, NULL, NULL, flags);
  properties[PROP_UNREAD] = g_param_spec_uint ("unread", NULL, NULL, 0, G_MAXUINT, 0, flags);
  properties[PROP_UNREAD_TEXT] = g_param_spec_string ("unread-text", NULL, NULL, NULL, flags);
  properties[PROP_ERROR] = g_param_spec_string ("error", NULL, NULL, NULL, flags);
  properties[PROP_HAS_ERROR] = g_param_spec_boolean ("has-error", NULL, NULL, FALSE, flags);
  properties[PROP_ICON_NAME] = g_param_spec_string ("icon-name", NULL, NULL, NULL, flags);
  properties[PROP_INDENT] = g_param_spec_int ("indent", NULL, NULL, 0, 100, 0, flags);
  properties[PROP_IS_FEED] = g_param_spec_boolean ("is-feed", NULL, NULL, FALSE, flags);
  properties[PROP_GICON] = g_param_spec_object ("gicon", NULL, NULL, G_TYPE_ICON, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
td_feed_row_init (TdFeedRow *self)
{
}

TdFeedRow *
td_feed_row_new (TdFeedRowKind  kind,
                 gint64         feed_id,
                 const char    *folder,
                 const char    *title)
{
  TdFeedRow *self = g_object_new (TD_TYPE_FEED_ROW, NULL);

  self->kind = kind;
  self->feed_id = feed_id;
  self->folder = g_strdup (folder);
  self->title = g_strdup (title);
  self->key = td_feed_row_make_key (kind, feed_id, folder);
  return self;
}

/* What identifies a row across feed lists: a feed by its id, a folder by
 * its name, a smart view by its kind. */
char *
td_feed_row_make_key (TdFeedRowKind  kind,
                      gint64         feed_id,
                      const char    *folder)
{
  switch (kind)
    {
    case TD_FEED_ROW_FEED:
      return g_strdup_printf ("feed:%" G_GINT64_FORMAT, feed_id);
    case TD_FEED_ROW_FOLDER:
      return g_strconcat ("folder:", folder, NULL);
    default:
      return g_strdup_printf ("view:%d", kind);
    }
}

TdFeedRowKind
td_feed_row_get_kind (TdFeedRow *self)
{
  g_return_val_if_fail (TD_IS_FEED_ROW (self), TD_FEED_ROW_ALL);
  return self->kind;
}

gint64
td_feed_row_get_feed_id (TdFeedRow *self)
{
  g_return_val_if_fail (TD_IS_FEED_ROW (self), 0);
  return self->feed_id;
}

const char *
td_feed_row_get_folder (TdFeedRow *self)
{
  g_return_val_if_fail (TD_IS_FEED_ROW (self), NULL);
  return self->folder;
}

const char *
td_feed_row_get_title (TdFeedRow *self)
{
  g_return_val_if_fail (TD_IS_FEED_ROW (self), NULL);
  return self->title;
}

guint
td_feed_row_get_unread (TdFeedRow *self)
{
  g_return_val_if_fail (TD_IS_FEED_ROW (self), 0);
  return self->unread;
}

const char *
td_feed_row_get_error (TdFeedRow *self)
{
  g_return_val_if_fail (TD_IS_FEED_ROW (self), NULL);
  return self->error;
}

const char *
td_feed_row_get_key (TdFeedRow *self)
{
  g_return_val_if_fail (TD_IS_FEED_ROW (self), NULL);
  return self->key;
}

/* Sets what may change between two feed lists; notifies only what did. */
void
td_feed_row_update (TdFeedRow  *self,
                    const char *title,
                    guint       unread,
                    const char *error,
                    gboolean    gone)
{
  g_return_if_fail (TD_IS_FEED_ROW (self));

  if (g_strcmp0 (self->title, title) != 0)
    {
      g_free (self->title);
      self->title = g_strdup (title);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TITLE]);
    }
  if (self->unread != unread)
    {
      self->unread = unread;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_UNREAD]);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_UNREAD_TEXT]);
    }
  if (g_strcmp0 (self->error, error) != 0)
    {
      gboolean had = self->error != NULL;

      g_free (self->error);
      self->error = g_strdup (error);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ERROR]);
      if (had != (error != NULL))
        g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_HAS_ERROR]);
    }
  if (self->gone != gone)
    {
      self->gone = gone;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ICON_NAME]);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_GICON]);
    }
}

void
td_feed_row_set_icon (TdFeedRow *self,
                      GBytes    *rgba,
                      int        size)
{
  g_return_if_fail (TD_IS_FEED_ROW (self));
  g_return_if_fail (rgba == NULL || g_bytes_get_size (rgba) == (gsize) size * size * 4);

  if (self->icon_rgba == rgba || (self->icon_rgba && rgba && g_bytes_equal (self->icon_rgba, rgba)))
    return;

  g_clear_pointer (&self->icon_rgba, g_bytes_unref);
  g_clear_object (&self->icon);
  if (rgba != NULL)
    {
      self->icon_rgba = g_bytes_ref (rgba);
      self->icon = gdk_memory_texture_new (size, size, GDK_MEMORY_R8G8B8A8, rgba, (gsize) size * 4);
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_GICON]);
}

/* Returns a new reference. */
GIcon *
td_feed_row_get_gicon (TdFeedRow *self)
{
  g_return_val_if_fail (TD_IS_FEED_ROW (self), NULL);

  /* A feed that is gone shows that, not its old icon. */
  if (self->icon != NULL && !self->gone)
    return G_ICON (g_object_ref (self->icon));
  return g_themed_icon_new (td_feed_row_icon_name (self));
}
