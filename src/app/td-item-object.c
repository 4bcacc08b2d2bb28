/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-item-object"

#include "config.h"

#include <glib/gi18n.h>

#include "app/td-item-object.h"
#include "app/td-local-time.h"

/* One row of the item list. Rows are created empty (placeholders) when
 * the list view asks for them and filled when their page arrives from
 * the recorder; the row template binds to the properties. */
struct _TdItemObject
{
  GObject   parent_instance;

  gboolean  loaded;
  gint64    id;
  gint64    feed_id;
  char     *title;
  char     *feed_title;
  char     *link;
  gint64    published;
  gboolean  read;
  gboolean  starred;
};

G_DEFINE_FINAL_TYPE (TdItemObject, td_item_object, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_TITLE,
  PROP_TITLE_MARKUP,
  PROP_FEED_TITLE,
  PROP_DATE_TEXT,
  PROP_READ,
  PROP_UNREAD,
  PROP_STARRED,
  PROP_LOADED,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
td_item_object_finalize (GObject *object)
{
  TdItemObject *self = TD_ITEM_OBJECT (object);

  g_free (self->title);
  g_free (self->feed_title);
  g_free (self->link);

  G_OBJECT_CLASS (td_item_object_parent_class)->finalize (object);
}

/* "14:05" today, "Mon 14:05" this week, "12 Mar" this year, else with
 * the year. */
static char *
format_date (gint64 usec)
{
  g_autoptr(GDateTime) date = NULL;
  g_autoptr(GDateTime) now = td_local_time_now ();
  GTimeSpan age;

  if (usec <= 0)
    return g_strdup ("");

  date = td_local_time_new (usec);
  if (date == NULL)
    return g_strdup ("");

  age = g_date_time_difference (now, date);
  if (g_date_time_get_year (date) == g_date_time_get_year (now)
      && g_date_time_get_day_of_year (date) == g_date_time_get_day_of_year (now))
    return g_date_time_format (date, "%H:%M");
  if (age >= 0 && age < 6 * G_TIME_SPAN_DAY)
    return g_date_time_format (date, "%a %H:%M");
  if (g_date_time_get_year (date) == g_date_time_get_year (now))
    /* Translators: a date in the item list, see g_date_time_format() */
    return g_date_time_format (date, _("%-d %b"));
  /* Translators: a date in the item list, see g_date_time_format() */
  return g_date_time_format (date, _("%-d %b %Y"));
}

static void
td_item_object_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  TdItemObject *self = TD_ITEM_OBJECT (object);

  switch (prop_id)
    {
    case PROP_TITLE:
      g_value_set_string (value, self->loaded ? (self->title && *self->title ? self->title : _("(Untitled)")) : "");
      break;
    case PROP_TITLE_MARKUP:
      {
        /* Unread items stand out in bold, as in a mail client. */
        g_autofree char *escaped = g_markup_escape_text (self->loaded ? (self->title && *self->title ? self->title : _("(Untitled)")) : "", -1);

        g_value_take_string (value, self->loaded && !self->read ? g_strconcat ("<b>", escaped, "</b>", NULL)
                                                                 : g_steal_pointer (&escaped));
      }
      break;
    case PROP_FEED_TITLE:
      g_value_set_string (value, self->feed_title);
      break;
    case PROP_DATE_TEXT:
      g_value_take_string (value, format_date (self->published));
      break;
    case PROP_READ:
      g_value_set_boolean (value, self->read);
      break;
    case PROP_UNREAD:
      g_value_set_boolean (value, self->loaded && !self->read);
      break;
    case PROP_STARRED:
      g_value_set_boolean (value, self->starred);
      break;
    case PROP_LOADED:
      g_value_set_boolean (value, self->loaded);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
td_item_object_class_init (TdItemObjectClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->finalize = td_item_object_finalize;
  object_class->get_property = td_item_object_get_property;

  properties[PROP_TITLE] = g_param_spec_string ("title", NULL, NULL, NULL, flags);
  properties[PROP_TITLE_MARKUP] = g_param_spec_string ("title-markup", NULL, NULL, NULL, flags);
  properties[PROP_FEED_TITLE] = g_param_spec_string ("feed-title", NULL, NULL, NULL, flags);
  properties[PROP_DATE_TEXT] = g_param_spec_string ("date-text", NULL, NULL, NULL, flags);
  properties[PROP_READ] = g_param_spec_boolean ("read", NULL, NULL, FALSE, flags);
  properties[PROP_UNREAD] = g_param_spec_boolean ("unread", NULL, NULL, FALSE, flags);
  properties[PROP_STARRED] = g_param_spec_boolean ("starred", NULL, NULL, FALSE, flags);
  properties[PROP_LOADED] = g_param_spec_boolean ("loaded", NULL, NULL, FALSE, flags);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
td_item_object_init (TdItemObject *self)
{
}

TdItemObject *
td_item_object_new (void)
{
  return g_object_new (TD_TYPE_ITEM_OBJECT, NULL);
}

/* Returns whether *@field changed. */
static gboolean
set_string (char       **field,
            const char  *value)
{
  if (g_strcmp0 (*field, value) == 0)
    return FALSE;
  g_free (*field);
  *field = g_strdup (value);
  return TRUE;
}

/* Fills the row from @item, notifying only what changed, so reusing a
 * row for the same item after a reload redraws nothing. */
void
td_item_object_set_item (TdItemObject     *self,
                         const TdFeedItem *item)
{
  g_return_if_fail (TD_IS_ITEM_OBJECT (self));
  g_return_if_fail (item != NULL);

  g_object_freeze_notify (G_OBJECT (self));
  if (!self->loaded)
    {
      /* A placeholder row: everything it shows changes. */
      self->loaded = TRUE;
      for (guint i = 1; i < N_PROPS; i++)
        g_object_notify_by_pspec (G_OBJECT (self), properties[i]);
    }
  self->id = item->id;
  self->feed_id = item->feed_id;
  if (set_string (&self->title, item->title))
    {
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TITLE]);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TITLE_MARKUP]);
    }
  if (set_string (&self->feed_title, item->feed_title))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FEED_TITLE]);
  set_string (&self->link, item->link);
  if (self->published != item->published)
    {
      self->published = item->published;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_DATE_TEXT]);
    }
  td_item_object_set_read (self, item->read);
  td_item_object_set_starred (self, item->starred);
  g_object_thaw_notify (G_OBJECT (self));
}

gboolean
td_item_object_is_loaded (TdItemObject *self)
{
  g_return_val_if_fail (TD_IS_ITEM_OBJECT (self), FALSE);
  return self->loaded;
}

gint64
td_item_object_get_id (TdItemObject *self)
{
  g_return_val_if_fail (TD_IS_ITEM_OBJECT (self), 0);
  return self->id;
}

gint64
td_item_object_get_feed_id (TdItemObject *self)
{
  g_return_val_if_fail (TD_IS_ITEM_OBJECT (self), 0);
  return self->feed_id;
}

const char *
td_item_object_get_title (TdItemObject *self)
{
  g_return_val_if_fail (TD_IS_ITEM_OBJECT (self), NULL);
  return self->title;
}

const char *
td_item_object_get_link (TdItemObject *self)
{
  g_return_val_if_fail (TD_IS_ITEM_OBJECT (self), NULL);
  return self->link;
}

gboolean
td_item_object_get_read (TdItemObject *self)
{
  g_return_val_if_fail (TD_IS_ITEM_OBJECT (self), FALSE);
  return self->read;
}

void
td_item_object_set_read (TdItemObject *self,
                         gboolean      read)
{
  g_return_if_fail (TD_IS_ITEM_OBJECT (self));

  read = !!read;
  if (self->read == read)
    return;
  self->read = read;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_READ]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TITLE_MARKUP]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_UNREAD]);
}

gboolean
td_item_object_get_starred (TdItemObject *self)
{
  g_return_val_if_fail (TD_IS_ITEM_OBJECT (self), FALSE);
  return self->starred;
}

void
td_item_object_set_starred (TdItemObject *self,
                            gboolean      starred)
{
  g_return_if_fail (TD_IS_ITEM_OBJECT (self));

  starred = !!starred;
  if (self->starred == starred)
    return;
  self->starred = starred;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_STARRED]);
}
