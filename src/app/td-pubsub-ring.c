/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-pubsub-ring"

#include "config.h"

#include "app/td-pubsub-ring.h"

/* Dropped items released per dispatch of the idle that releases them. A
 * busy channel drops the whole ring when the view comes back (10,000
 * items by default): released at once, that froze the window for tens of
 * milliseconds; a batch takes well under one. */
#define TD_PUBSUB_RING_RELEASE_BATCH 500

struct _TdPubsubRing
{
  GObject    parent_instance;

  GType      item_type;
  gpointer  *items;        /* owned refs; capacity slots */
  guint      capacity;
  guint      head;         /* slot of the oldest item */
  guint      n_items;
  guint64    n_dropped;
  guint64    n_changes;    /* items-changed emissions, for tests */
  GPtrArray *dropped;      /* owned refs waiting to be released */
  guint      release_source;
};

static void td_pubsub_ring_list_model_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TdPubsubRing, td_pubsub_ring, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, td_pubsub_ring_list_model_init))

enum {
  PROP_0,
  PROP_N_ITEMS,
  PROP_N_DROPPED,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static GType
td_pubsub_ring_get_item_type (GListModel *model)
{
  return TD_PUBSUB_RING (model)->item_type;
}

static guint
td_pubsub_ring_get_n_items (GListModel *model)
{
  return TD_PUBSUB_RING (model)->n_items;
}

static gpointer
td_pubsub_ring_get_item (GListModel *model,
                         guint       position)
{
  TdPubsubRing *self = TD_PUBSUB_RING (model);

  if (position >= self->n_items)
    return NULL;
  return g_object_ref (self->items[(self->head + position) % self->capacity]);
}

static void
td_pubsub_ring_list_model_init (GListModelInterface *iface)
{
  iface->get_item_type = td_pubsub_ring_get_item_type;
  iface->get_n_items = td_pubsub_ring_get_n_items;
  iface->get_item = td_pubsub_ring_get_item;
}

static gboolean
release_cb (gpointer user_data)
{
  TdPubsubRing *self = user_data;
  guint n = MIN (self->dropped->len, TD_PUBSUB_RING_RELEASE_BATCH);

  /* From the end: nothing moves. */
  g_ptr_array_remove_range (self->dropped, self->dropped->len - n, n);
  if (self->dropped->len > 0)
    return G_SOURCE_CONTINUE;
  self->release_source = 0;
  return G_SOURCE_REMOVE;
}

/* Drops the @n oldest items (without signals); they are released a
 * batch at a time (see TD_PUBSUB_RING_RELEASE_BATCH), or at once if
 * @now. */
static void
drop_head (TdPubsubRing *self,
           guint         n,
           gboolean      now)
{
  g_assert (n <= self->n_items);

  for (guint i = 0; i < n; i++)
    {
      if (now)
        g_clear_object (&self->items[self->head]);
      else
        g_ptr_array_add (self->dropped, g_steal_pointer (&self->items[self->head]));
      self->head = (self->head + 1) % self->capacity;
    }
  self->n_items -= n;
  if (self->n_items == 0)
    self->head = 0;
  if (self->dropped->len > 0 && self->release_source == 0)
    self->release_source = g_idle_add_full (G_PRIORITY_LOW, release_cb, self, NULL);
}

static void
emit_changed (TdPubsubRing *self,
              guint         position,
              guint         removed,
              guint         added)
{
  self->n_changes++;
  g_list_model_items_changed (G_LIST_MODEL (self), position, removed, added);
}

static void
td_pubsub_ring_dispose (GObject *object)
{
  TdPubsubRing *self = TD_PUBSUB_RING (object);

  if (self->items != NULL)
    drop_head (self, self->n_items, TRUE);
  g_clear_handle_id (&self->release_source, g_source_remove);
  g_ptr_array_set_size (self->dropped, 0);

  G_OBJECT_CLASS (td_pubsub_ring_parent_class)->dispose (object);
}

static void
td_pubsub_ring_finalize (GObject *object)
{
  TdPubsubRing *self = TD_PUBSUB_RING (object);

  g_free (self->items);
  g_ptr_array_unref (self->dropped);

  G_OBJECT_CLASS (td_pubsub_ring_parent_class)->finalize (object);
}

static void
td_pubsub_ring_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  TdPubsubRing *self = TD_PUBSUB_RING (object);

  switch (prop_id)
    {
    case PROP_N_ITEMS:
      g_value_set_uint (value, self->n_items);
      break;
    case PROP_N_DROPPED:
      g_value_set_uint64 (value, self->n_dropped);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
td_pubsub_ring_class_init (TdPubsubRingClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = td_pubsub_ring_dispose;
  object_class->finalize = td_pubsub_ring_finalize;
  object_class->get_property = td_pubsub_ring_get_property;

  properties[PROP_N_ITEMS] =
    g_param_spec_uint ("n-items", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_N_DROPPED] =
    g_param_spec_uint64 ("n-dropped", NULL, NULL, 0, G_MAXUINT64, 0,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
td_pubsub_ring_init (TdPubsubRing *self)
{
  self->dropped = g_ptr_array_new_with_free_func (g_object_unref);
}

/* Returns an empty ring of @item_type items that keeps at most @capacity. */
TdPubsubRing *
td_pubsub_ring_new (GType item_type,
                    guint capacity)
{
  TdPubsubRing *self;

  g_return_val_if_fail (g_type_is_a (item_type, G_TYPE_OBJECT), NULL);
  g_return_val_if_fail (capacity > 0, NULL);

  self = g_object_new (TD_TYPE_PUBSUB_RING, NULL);
  self->item_type = item_type;
  self->capacity = capacity;
  self->items = g_new0 (gpointer, capacity);
  return self;
}

/* Appends @n_items items (taking the references), dropping the oldest
 * ones that no longer fit. Returns how many were dropped, counting new
 * items that did not fit at all. */
guint
td_pubsub_ring_append (TdPubsubRing *self,
                       gpointer     *items,
                       guint         n_items)
{
  guint skip = 0, n_drop, position;

  g_return_val_if_fail (TD_IS_PUBSUB_RING (self), 0);

  if (n_items == 0)
    return 0;

  /* Items that would be dropped by this very append are never added. */
  if (n_items > self->capacity)
    {
      skip = n_items - self->capacity;
      for (guint i = 0; i < skip; i++)
        g_ptr_array_add (self->dropped, items[i]);
    }
  n_drop = self->n_items + (n_items - skip) > self->capacity
           ? self->n_items + (n_items - skip) - self->capacity : 0;

  drop_head (self, n_drop, FALSE);
  if (n_drop > 0)
    emit_changed (self, 0, n_drop, 0);

  position = self->n_items;
  for (guint i = skip; i < n_items; i++)
    {
      g_assert (g_type_is_a (G_OBJECT_TYPE (items[i]), self->item_type));
      self->items[(self->head + self->n_items) % self->capacity] = items[i];
      self->n_items++;
    }
  emit_changed (self, position, 0, n_items - skip);

  self->n_dropped += n_drop + skip;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_ITEMS]);
  if (n_drop + skip > 0)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_DROPPED]);
  return n_drop + skip;
}

/* Removes every item and resets the dropped count. */
void
td_pubsub_ring_clear (TdPubsubRing *self)
{
  guint n;

  g_return_if_fail (TD_IS_PUBSUB_RING (self));

  n = self->n_items;
  drop_head (self, n, FALSE);
  self->n_dropped = 0;
  if (n > 0)
    emit_changed (self, 0, n, 0);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_ITEMS]);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_DROPPED]);
}

guint
td_pubsub_ring_get_capacity (TdPubsubRing *self)
{
  g_return_val_if_fail (TD_IS_PUBSUB_RING (self), 0);
  return self->capacity;
}

/* Changes the capacity, keeping the newest items that fit. */
void
td_pubsub_ring_set_capacity (TdPubsubRing *self,
                             guint         capacity)
{
  gpointer *items;
  guint n_drop;

  g_return_if_fail (TD_IS_PUBSUB_RING (self));
  g_return_if_fail (capacity > 0);

  if (capacity == self->capacity)
    return;

  n_drop = self->n_items > capacity ? self->n_items - capacity : 0;
  drop_head (self, n_drop, FALSE);
  items = g_new0 (gpointer, capacity);
  for (guint i = 0; i < self->n_items; i++)
    items[i] = self->items[(self->head + i) % self->capacity];
  g_free (self->items);
  self->items = items;
  self->capacity = capacity;
  self->head = 0;
  if (n_drop > 0)
    {
      self->n_dropped += n_drop;
      emit_changed (self, 0, n_drop, 0);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_ITEMS]);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_DROPPED]);
    }
}

guint64
td_pubsub_ring_get_n_dropped (TdPubsubRing *self)
{
  g_return_val_if_fail (TD_IS_PUBSUB_RING (self), 0);
  return self->n_dropped;
}

guint64
td_pubsub_ring_get_n_changes (TdPubsubRing *self)
{
  g_return_val_if_fail (TD_IS_PUBSUB_RING (self), 0);
  return self->n_changes;
}
