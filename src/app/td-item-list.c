/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-item-list"

#include "config.h"

#include "app/td-item-list.h"
#include "app/td-item-object.h"

/* Rows per request: a few screens, so scrolling rarely waits. */
#define TD_ITEM_LIST_PAGE TD_FEED_MANAGER_PAGE_SIZE

/* On a reload, rows this far down keep their objects (shifted by what was
 * added or removed above them) and their pages are asked for again; rows
 * further down go back to placeholders and load when scrolled to. */
#define TD_ITEM_LIST_KEEP_PAGES 8

enum { MAIL_PAGE = 1 };

struct _TdItemList
{
  GObject        parent_instance;

  TdFeedsApp    *feeds;         /* owned ref: the application's manager */
  TdMailboxId    mailbox;
  TdFeedQuery    query;         /* strings owned below */
  char          *folder;
  char          *search;
  guint32        generation;    /* of the query; older pages are ignored */
  gboolean       loading;       /* the first page of this generation is due */
  gboolean       new_query;     /* ... and it answers another query: no row is kept */

  GPtrArray     *objects;       /* TdItemObject or NULL, one per row */
  GHashTable    *requested;     /* page numbers asked for in this generation */
};

static void td_item_list_model_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TdItemList, td_item_list, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, td_item_list_model_init))

enum { SIGNAL_RELOADED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void
request_page (TdItemList *self,
              guint       page,
              gboolean    with_total)
{
  guint64 tag = ((guint64) self->generation << 32) | page;
  TdFeedManager *manager = td_feeds_app_get_manager (self->feeds);

  if (manager == NULL)
    return;
  g_hash_table_add (self->requested, GUINT_TO_POINTER (page));
  td_feed_manager_load_items (manager, &self->query, page * TD_ITEM_LIST_PAGE,
                              TD_ITEM_LIST_PAGE, with_total, self->mailbox, MAIL_PAGE, tag);
}

/* Returns whether a row that showed an item now shows another. */
static gboolean
fill_page (TdItemList  *self,
           TdFeedReply *reply)
{
  gboolean moved = FALSE;

  for (guint i = 0; i < reply->items->len; i++)
    {
      guint pos = reply->offset + i;
      TdItemObject *object;
      TdFeedItem *item = g_ptr_array_index (reply->items, i);

      if (pos >= self->objects->len)
        break;
      object = g_ptr_array_index (self->objects, pos);
      if (object == NULL)
        {
          object = td_item_object_new ();
          g_ptr_array_index (self->objects, pos) = object;
        }
      else if (td_item_object_is_loaded (object) && td_item_object_get_id (object) != item->id)
        moved = TRUE;
      td_item_object_set_item (object, item);
    }
  return moved;
}

static void unref_nullable (gpointer object);

/* The first page of a query or a reload has come. For a reload of the
 * same query: the new rows, reusing the objects
 * of the rows there were, so that their widgets are rebound, not built
 * again. Items of the first page are found by id; if they all moved by
 * the same offset (items came or went above them), their objects move
 * with them and the rows below are assumed to have moved by it too.
 * Otherwise every row keeps its object. Only the stretch whose objects
 * differ is reported as changed. */
static void
replace_rows (TdItemList  *self,
              TdFeedReply *reply)
{
  g_autoptr(GPtrArray) old = g_steal_pointer (&self->objects);
  g_autoptr(GHashTable) first_page = g_hash_table_new (g_int64_hash, g_int64_equal);
  g_autoptr(GHashTable) used = g_hash_table_new (NULL, NULL);
  guint old_n = old->len, new_n = reply->total;
  gboolean have_shift = FALSE, shift_ok = TRUE;
  gint64 shift = 0;
  guint prefix = 0, suffix = 0;

  self->objects = g_ptr_array_new_with_free_func (unref_nullable);
  g_ptr_array_set_size (self->objects, new_n);
  g_hash_table_remove_all (self->requested);

  /* Another query (another source, a search): other rows, all new. */
  if (self->new_query)
    {
      self->new_query = FALSE;
      fill_page (self, reply);
      g_list_model_items_changed (G_LIST_MODEL (self), 0, old_n, new_n);
      return;
    }

  for (guint i = 0; i < reply->items->len && i < new_n; i++)
    {
      TdFeedItem *item = g_ptr_array_index (reply->items, i);

      g_hash_table_insert (first_page, &item->id, GUINT_TO_POINTER (i + 1));
    }

  for (guint j = 0; j < old_n; j++)
    {
      TdItemObject *object = g_ptr_array_index (old, j);
      gint64 id;
      guint i;

      if (object == NULL || !td_item_object_is_loaded (object))
        continue;
      id = td_item_object_get_id (object);
      i = GPOINTER_TO_UINT (g_hash_table_lookup (first_page, &id));
      if (i-- == 0 || g_hash_table_contains (used, object))
        continue;
      g_ptr_array_index (self->objects, i) = g_object_ref (object);
      g_hash_table_add (used, object);
      if (!have_shift)
        shift = (gint64) i - j;
      else if (shift != (gint64) i - j)
        shift_ok = FALSE;
      have_shift = TRUE;
    }

  /* Items moved by different offsets (new items came in between, as
   * during a refresh of many feeds): following them would move nearly
   * every row, and each row that shows a new item would have its widget
   * built again. Rows keep their objects instead and show what is now
   * at their place. */
  if (have_shift && !shift_ok)
    {
      for (guint i = 0; i < new_n; i++)
        g_clear_object ((TdItemObject **) &g_ptr_array_index (self->objects, i));
      g_hash_table_remove_all (used);
    }
  if (!have_shift || !shift_ok)
    shift = 0;

  /* Rows not found by id keep the objects that were at their place (moved
   * by the shift, if there is one): a row that shows another item is
   * rebound, where a new object would have its widget destroyed and
   * built again. The first page fills them in now; further down, rows
   * keep what they showed until their page, asked for again, comes. */
  for (guint i = 0; i < MIN (new_n, TD_ITEM_LIST_KEEP_PAGES * TD_ITEM_LIST_PAGE); i++)
    {
      gint64 j = (gint64) i - shift;
      TdItemObject *object;
      guint page = i / TD_ITEM_LIST_PAGE;

      if (g_ptr_array_index (self->objects, i) != NULL || j < 0 || j >= old_n)
        continue;
      object = g_ptr_array_index (old, j);
      if (object == NULL || g_hash_table_contains (used, object))
        continue;
      g_ptr_array_index (self->objects, i) = g_object_ref (object);
      g_hash_table_add (used, object);
      /* Placeholders too: the list will not ask for a row it shows. */
      if (i >= reply->items->len && !g_hash_table_contains (self->requested, GUINT_TO_POINTER (page)))
        request_page (self, page, FALSE);
    }
  fill_page (self, reply);

  while (prefix < old_n && prefix < new_n && old->pdata[prefix] == self->objects->pdata[prefix])
    prefix++;
  while (suffix < old_n - prefix && suffix < new_n - prefix
         && old->pdata[old_n - 1 - suffix] == self->objects->pdata[new_n - 1 - suffix])
    suffix++;
  if (prefix + suffix < old_n || prefix + suffix < new_n)
    g_list_model_items_changed (G_LIST_MODEL (self), prefix, old_n - prefix - suffix, new_n - prefix - suffix);
}

static void
page_cb (TdMailboxId  id,
         TdMail      *mail,
         gpointer     user_data)
{
  TdItemList *self = user_data;
  TdFeedReply *reply = mail->data;
  guint32 generation = (guint32) (reply->tag >> 32);
  guint page = (guint) (reply->tag & 0xffffffff);

  if (generation != self->generation)
    return;

  if (reply->error != NULL)
    {
      g_message ("Could not load items: %s", reply->error->message);
      g_hash_table_remove (self->requested, GUINT_TO_POINTER (page));
      if (page == 0)
        self->loading = FALSE;
      return;
    }

  if (page == 0 && self->loading)
    {
      replace_rows (self, reply);
      self->loading = FALSE;
      g_signal_emit (self, signals[SIGNAL_RELOADED], 0);
      return;
    }

  /* A page asked for again after a reload may put other items in rows
   * that kept their objects: the view finds its selection again. */
  if (fill_page (self, reply))
    g_signal_emit (self, signals[SIGNAL_RELOADED], 0);
}

static GType
td_item_list_get_item_type (GListModel *model)
{
  return TD_TYPE_ITEM_OBJECT;
}

static guint
td_item_list_get_n_items (GListModel *model)
{
  return TD_ITEM_LIST (model)->objects->len;
}

static gpointer
td_item_list_get_item (GListModel *model,
                       guint       position)
{
  TdItemList *self = TD_ITEM_LIST (model);
  TdItemObject *object;
  guint page;

  if (position >= self->objects->len)
    return NULL;

  object = g_ptr_array_index (self->objects, position);
  if (object == NULL)
    {
      object = td_item_object_new ();
      g_ptr_array_index (self->objects, position) = object;
    }

  page = position / TD_ITEM_LIST_PAGE;
  if (!td_item_object_is_loaded (object) && !self->loading
      && !g_hash_table_contains (self->requested, GUINT_TO_POINTER (page)))
    request_page (self, page, FALSE);

  return g_object_ref (object);
}

static void
td_item_list_model_init (GListModelInterface *iface)
{
  iface->get_item_type = td_item_list_get_item_type;
  iface->get_n_items = td_item_list_get_n_items;
  iface->get_item = td_item_list_get_item;
}

static void
td_item_list_finalize (GObject *object)
{
  TdItemList *self = TD_ITEM_LIST (object);

  td_mailbox_close (self->mailbox);
  g_ptr_array_unref (self->objects);
  g_hash_table_unref (self->requested);
  g_free (self->folder);
  g_free (self->search);
  g_clear_pointer (&self->feeds, td_feeds_app_unref);

  G_OBJECT_CLASS (td_item_list_parent_class)->finalize (object);
}

static void
unref_nullable (gpointer object)
{
  if (object != NULL)
    g_object_unref (object);
}

static void
td_item_list_class_init (TdItemListClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = td_item_list_finalize;

  signals[SIGNAL_RELOADED] = g_signal_new ("reloaded", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                           0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
td_item_list_init (TdItemList *self)
{
  /* Rows are NULL until asked for. */
  self->objects = g_ptr_array_new_with_free_func (unref_nullable);
  self->requested = g_hash_table_new (NULL, NULL);
  self->mailbox = td_mailbox_open (NULL, G_PRIORITY_DEFAULT, page_cb, self, NULL);
}

TdItemList *
td_item_list_new (TdFeedsApp *feeds)
{
  TdItemList *self;

  g_return_val_if_fail (feeds != NULL, NULL);

  self = g_object_new (TD_TYPE_ITEM_LIST, NULL);
  self->feeds = td_feeds_app_ref (feeds);
  return self;
}

void
td_item_list_set_query (TdItemList        *self,
                        const TdFeedQuery *query)
{
  g_return_if_fail (TD_IS_ITEM_LIST (self));
  g_return_if_fail (query != NULL);

  g_free (self->folder);
  self->folder = g_strdup (query->folder);
  g_free (self->search);
  self->search = g_strdup (query->search);
  self->query = *query;
  self->query.folder = self->folder;
  self->query.search = self->search;
  td_item_list_reload (self);
  self->new_query = TRUE;
}

void
td_item_list_reload (TdItemList *self)
{
  g_return_if_fail (TD_IS_ITEM_LIST (self));

  self->generation++;
  self->loading = TRUE;
  g_hash_table_remove_all (self->requested);
  request_page (self, 0, TRUE);
}

gboolean
td_item_list_is_loading (TdItemList *self)
{
  g_return_val_if_fail (TD_IS_ITEM_LIST (self), FALSE);

  return self->loading;
}

int
td_item_list_find (TdItemList *self,
                   gint64      id)
{
  g_return_val_if_fail (TD_IS_ITEM_LIST (self), -1);

  for (guint i = 0; i < self->objects->len; i++)
    {
      TdItemObject *object = g_ptr_array_index (self->objects, i);

      if (object != NULL && td_item_object_is_loaded (object) && td_item_object_get_id (object) == id)
        return (int) i;
    }
  return -1;
}
