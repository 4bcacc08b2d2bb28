/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-feeds-view"

#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "app/td-application.h"
#include "app/td-article-view.h"
#include "app/td-feed-row.h"
#include "app/td-feeds-app.h"
#include "app/td-feeds-view.h"
#include "app/td-item-list.h"
#include "app/td-item-object.h"
#include "app/td-item-row.h"
#include "app/td-sidebar-row.h"
#include "app/td-window.h"
#include "core/td-timers.h"

/* Shown again after a refresh brought new items, the view first draws
 * its list as it was and reloads it this much later, so that showing it
 * and changing its list are not one long step. */
#define TD_FEEDS_VIEW_CATCH_UP_MS 50

enum
{
  MAIL_EVENT = 1,     /* TdFeedEvent from the manager */
  MAIL_ADDED,         /* TdFeedReply to a subscribe */
  MAIL_ARTICLE,       /* TdFeedReply to load_item */
  MAIL_OPML,          /* TdFeedReply to import or export */
  MAIL_PROPERTIES,    /* TdFeedReply to set_properties */
  MAIL_RELOAD,        /* the coalesced list reload is due */
  MAIL_HOVER,         /* ErrorHover: the pointer rested on an error badge */
  MAIL_CATCH_UP,      /* shown again: reload what changed while hidden */
};

struct _TdFeedsView
{
  AdwBin              parent_instance;

  /* Template widgets */
  GtkStack           *stack;
  GtkGridView        *sidebar_list;      /* one column: see ui/style.css */
  GtkGridView        *item_list;
  GtkScrolledWindow  *item_scroller;
  GtkSearchEntry     *search_entry;
  GtkLabel           *progress_label;
  GtkProgressBar     *progress_bar;
  GtkStack           *list_stack;
  AdwStatusPage      *list_status;
  TdArticleView      *article_view;
  GtkLabel           *error_tooltip;      /* over everything, at the hovered badge */

  /* Owned */
  TdHoverTimer       *hover;              /* error badges: the tooltip mailbox */
  TdItemObject       *pending_item;       /* selected before its page arrived */
  gulong              pending_handler;
  guint               pending_position;   /* of that row, kept across reloads */
  TdFeedsApp         *feeds;              /* NULL until rooted in the app's window */
  TdMailboxId         mailbox;
  GListStore         *sidebar_store;      /* TdFeedRow */
  GtkSingleSelection *sidebar_selection;
  TdItemList         *items;
  GtkSingleSelection *item_selection;
  GPtrArray          *feed_list;          /* TdFeedInfo: the last list */
  char               *search;
  char               *select_key;         /* select this row once it exists */
  char               *last_message;
  gint64              article_id;         /* shown in the article pane */
  guint64             article_serial;
  guint               reload_timeout;
  guint               catch_up_timeout;
  gboolean            user_refresh;       /* the round was asked for */
  gboolean            have_list;
  /* New items came while the view was hidden: shown, it catches up (see
   * td_feeds_view_map). */
  gboolean            items_stale;
};

G_DEFINE_FINAL_TYPE (TdFeedsView, td_feeds_view, ADW_TYPE_BIN)

static TdFeedManager *
view_manager (TdFeedsView *self)
{
  return self->feeds ? td_feeds_app_get_manager (self->feeds) : NULL;
}

static void
show_message (TdFeedsView *self,
              const char  *message)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));

  g_free (self->last_message);
  self->last_message = g_strdup (message);
  if (TD_IS_WINDOW (root))
    td_window_add_toast (TD_WINDOW (root), message);
}

static TdFeedRow *
selected_source (TdFeedsView *self)
{
  return self->sidebar_selection ? gtk_single_selection_get_selected_item (self->sidebar_selection) : NULL;
}

static TdItemObject *
selected_item (TdFeedsView *self)
{
  TdItemObject *item;

  if (self->item_selection == NULL)
    return NULL;
  item = gtk_single_selection_get_selected_item (self->item_selection);
  return item != NULL && td_item_object_is_loaded (item) ? item : NULL;
}

static const TdFeedInfo *
find_feed_info (TdFeedsView *self,
                gint64       feed_id)
{
  for (guint i = 0; self->feed_list != NULL && i < self->feed_list->len; i++)
    {
      TdFeedInfo *info = g_ptr_array_index (self->feed_list, i);

      if (info->id == feed_id)
        return info;
    }
  return NULL;
}

/* Enablement of every action, decided in one place. */
static void
update_actions (TdFeedsView *self)
{
  TdFeedRow *source = selected_source (self);
  gboolean is_feed = source != NULL && td_feed_row_get_kind (source) == TD_FEED_ROW_FEED;
  gboolean has_item = selected_item (self) != NULL;
  gboolean ready = view_manager (self) != NULL;
  gboolean has_feeds = self->feed_list != NULL && self->feed_list->len > 0;

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "feeds.subscribe", ready);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "feeds.import", ready);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "feeds.export", ready && has_feeds);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "feeds.refresh", ready && has_feeds);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "feeds.mark-all-read", ready && has_feeds);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "feeds.properties", ready && is_feed);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "feeds.unsubscribe", ready && is_feed);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "feeds.toggle-read", ready && has_item);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "feeds.toggle-star", ready && has_item);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "feeds.delete-item", ready && has_item);
}

/* ------------------------------------------------------------------ */
/* The item list                                                       */

static void
fill_query (TdFeedsView *self,
            TdFeedQuery *query)
{
  TdFeedRow *source = selected_source (self);

  memset (query, 0, sizeof *query);
  query->filter = TD_FEED_FILTER_ALL;
  query->search = self->search;
  if (source == NULL)
    return;

  switch (td_feed_row_get_kind (source))
    {
    case TD_FEED_ROW_UNREAD:
      query->filter = TD_FEED_FILTER_UNREAD;
      break;
    case TD_FEED_ROW_STARRED:
      query->filter = TD_FEED_FILTER_STARRED;
      break;
    case TD_FEED_ROW_FOLDER:
      query->filter = TD_FEED_FILTER_FOLDER;
      query->folder = td_feed_row_get_folder (source);
      break;
    case TD_FEED_ROW_FEED:
      query->filter = TD_FEED_FILTER_FEED;
      query->feed_id = td_feed_row_get_feed_id (source);
      break;
    case TD_FEED_ROW_ALL:
    default:
      break;
    }
}

static void
run_query (TdFeedsView *self)
{
  TdFeedQuery query;

  if (self->items == NULL)
    return;
  fill_query (self, &query);
  td_item_list_set_query (self->items, &query);
}

static void
update_list_state (TdFeedsView *self)
{
  TdFeedRow *source = selected_source (self);
  guint n = self->items ? g_list_model_get_n_items (G_LIST_MODEL (self->items)) : 0;

  if (n > 0)
    {
      gtk_stack_set_visible_child_name (self->list_stack, "list");
      return;
    }

  if (self->search != NULL)
    {
      adw_status_page_set_icon_name (self->list_status, "edit-find-symbolic");
      adw_status_page_set_title (self->list_status, _("No Results"));
    }
  else if (source != NULL && td_feed_row_get_kind (source) == TD_FEED_ROW_UNREAD)
    {
      adw_status_page_set_icon_name (self->list_status, "checkbox-checked-symbolic");
      adw_status_page_set_title (self->list_status, _("All Read"));
    }
  else if (source != NULL && td_feed_row_get_kind (source) == TD_FEED_ROW_STARRED)
    {
      adw_status_page_set_icon_name (self->list_status, "starred-symbolic");
      adw_status_page_set_title (self->list_status, _("No Starred Items"));
    }
  else
    {
      adw_status_page_set_icon_name (self->list_status, "application-rss+xml-symbolic");
      adw_status_page_set_title (self->list_status, _("No Items"));
    }
  gtk_stack_set_visible_child_name (self->list_stack, "empty");
}

/* After a reload: keep the item the user is reading selected. */
static void
items_reloaded_cb (TdItemList  *items,
                   TdFeedsView *self)
{
  int position = self->article_id ? td_item_list_find (items, self->article_id) : -1;
  guint n = g_list_model_get_n_items (G_LIST_MODEL (items));

  /* A row clicked before its item arrived keeps its place: the list
   * reloads with the same query, so it is the same row. */
  if (position < 0 && self->pending_position != GTK_INVALID_LIST_POSITION && self->pending_position < n)
    position = (int) self->pending_position;

  if (position >= 0)
    gtk_single_selection_set_selected (self->item_selection, (guint) position);
  else
    gtk_single_selection_set_selected (self->item_selection, GTK_INVALID_LIST_POSITION);
  update_list_state (self);
  update_actions (self);
}

static void
schedule_reload (TdFeedsView *self)
{
  if (td_mail_timeout_is_pending (self->reload_timeout))
    return;
  self->reload_timeout = td_mail_send_after (self->mailbox, TD_FEEDS_VIEW_RELOAD_DELAY_MS,
                                             td_mail_new (MAIL_RELOAD, NULL, NULL));
}

static void item_selected_cb (GtkSingleSelection *selection, GParamSpec *pspec, TdFeedsView *self);

static void
forget_pending_item (TdFeedsView *self)
{
  if (self->pending_item != NULL)
    g_clear_signal_handler (&self->pending_handler, self->pending_item);
  g_clear_object (&self->pending_item);
}

static void
pending_item_loaded_cb (TdItemObject *item,
                        GParamSpec   *pspec,
                        TdFeedsView  *self)
{
  if (!td_item_object_is_loaded (item))
    return;
  forget_pending_item (self);
  item_selected_cb (self->item_selection, NULL, self);
}

/* Opens the selected item. A row clicked before its page of the list
 * has arrived is opened when it does. */
static void
item_selected_cb (GtkSingleSelection *selection,
                  GParamSpec         *pspec,
                  TdFeedsView        *self)
{
  TdItemObject *item = selected_item (self);
  TdFeedManager *manager = view_manager (self);
  TdItemObject *unloaded;

  forget_pending_item (self);
  update_actions (self);
  unloaded = item == NULL && self->item_selection ? gtk_single_selection_get_selected_item (self->item_selection) : NULL;
  if (unloaded != NULL)
    {
      self->pending_item = g_object_ref (unloaded);
      self->pending_position = gtk_single_selection_get_selected (self->item_selection);
      self->pending_handler = g_signal_connect (unloaded, "notify::loaded",
                                                G_CALLBACK (pending_item_loaded_cb), self);
      return;
    }
  if (item == NULL)
    {
      if (!td_item_list_is_loading (self->items) && self->article_id != 0
          && td_item_list_find (self->items, self->article_id) < 0)
        {
          self->article_id = 0;
          td_article_view_set_item (self->article_view, NULL);
        }
      return;
    }

  self->pending_position = GTK_INVALID_LIST_POSITION;
  if (td_item_object_get_id (item) == self->article_id || manager == NULL)
    return;

  self->article_id = td_item_object_get_id (item);
  td_feed_manager_load_item (manager, self->article_id, self->mailbox, MAIL_ARTICLE,
                             ++self->article_serial);

  /* Opening an item reads it. */
  if (!td_item_object_get_read (item))
    {
      gint64 id = self->article_id;

      td_item_object_set_read (item, TRUE);
      td_feed_manager_set_read (manager, &id, 1, TRUE);
    }
}

/* ------------------------------------------------------------------ */
/* The sidebar                                                         */

static void
source_selected_cb (GtkSingleSelection *selection,
                    GParamSpec         *pspec,
                    TdFeedsView        *self)
{
  self->article_id = 0;
  self->pending_position = GTK_INVALID_LIST_POSITION;
  td_article_view_set_item (self->article_view, NULL);
  run_query (self);
  update_actions (self);
}

static void
select_source_by_key (TdFeedsView *self,
                      const char  *key)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->sidebar_store));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(TdFeedRow) row = g_list_model_get_item (G_LIST_MODEL (self->sidebar_store), i);

      if (g_strcmp0 (td_feed_row_get_key (row), key) == 0)
        {
          gtk_single_selection_set_selected (self->sidebar_selection, i);
          return;
        }
    }
}

/* The feed's icon at the size the display needs: 16 px, or 32 px on a
 * display that doubles pixels. */
static void
set_row_icon (TdFeedsView      *self,
              TdFeedRow        *row,
              const TdFeedInfo *info)
{
  if (gtk_widget_get_scale_factor (GTK_WIDGET (self)) > 1 && info->icon_large != NULL)
    td_feed_row_set_icon (row, info->icon_large, 32);
  else
    td_feed_row_set_icon (row, info->icon_small, 16);
}

/* ------------------------------------------------------------------ */
/* Error badges: the reason on hover, through the tooltip mailbox      */

typedef struct
{
  GWeakRef  badge;
  char     *text;
} ErrorHover;

static void
error_hover_free (ErrorHover *hover)
{
  g_weak_ref_clear (&hover->badge);
  g_free (hover->text);
  g_free (hover);
}

static void
hide_error (TdFeedsView *self)
{
  if (self->hover != NULL)
    td_hover_timer_leave (self->hover);
  if (self->error_tooltip != NULL)
    gtk_widget_set_visible (GTK_WIDGET (self->error_tooltip), FALSE);
}

/* The pointer rested on a badge long enough: show the reason just below
 * it, if it still shows an error. */
static void
show_error (TdFeedsView *self,
            ErrorHover  *hover)
{
  g_autoptr(GtkWidget) badge = g_weak_ref_get (&hover->badge);
  graphene_rect_t bounds;
  int width = gtk_widget_get_width (GTK_WIDGET (self));
  int natural = 0;

  if (badge == NULL || !gtk_widget_get_mapped (badge) || !gtk_widget_is_ancestor (badge, GTK_WIDGET (self))
      || !gtk_widget_compute_bounds (badge, GTK_WIDGET (self), &bounds))
    return;

  gtk_label_set_text (self->error_tooltip, hover->text);
  gtk_widget_measure (GTK_WIDGET (self->error_tooltip), GTK_ORIENTATION_HORIZONTAL, -1, NULL, &natural, NULL, NULL);
  /* Starts under the badge, moved left as far as needed to stay inside. */
  gtk_widget_set_margin_start (GTK_WIDGET (self->error_tooltip),
                               CLAMP ((int) bounds.origin.x, 0, MAX (0, width - natural - 6)));
  gtk_widget_set_margin_top (GTK_WIDGET (self->error_tooltip), (int) (bounds.origin.y + bounds.size.height) + 4);
  gtk_widget_set_visible (GTK_WIDGET (self->error_tooltip), TRUE);
}

/* The pointer on a sidebar row's error badge: its reason, after the
 * hover delay. */
static void
error_badge_enter_cb (GtkEventControllerMotion *motion,
                      double                    x,
                      double                    y,
                      TdFeedsView              *self)
{
  GtkWidget *badge = gtk_event_controller_get_widget (GTK_EVENT_CONTROLLER (motion));
  GtkWidget *sidebar_row = gtk_widget_get_ancestor (badge, TD_TYPE_SIDEBAR_ROW);
  TdFeedRow *row = sidebar_row ? td_sidebar_row_get_row (TD_SIDEBAR_ROW (sidebar_row)) : NULL;
  ErrorHover *hover;

  if (row == NULL || td_feed_row_get_error (row) == NULL)
    return;

  hover = g_new0 (ErrorHover, 1);
  g_weak_ref_init (&hover->badge, badge);
  hover->text = g_strdup (td_feed_row_get_error (row));
  td_hover_timer_enter (self->hover, hover, (GDestroyNotify) error_hover_free);
}

static void
error_badge_leave_cb (GtkEventControllerMotion *motion,
                      TdFeedsView              *self)
{
  hide_error (self);
}

static const char *
selected_source_key (TdFeedsView *self)
{
  TdFeedRow *row = selected_source (self);

  return row != NULL ? td_feed_row_get_key (row) : NULL;
}

/* The row for @key: the one already in the sidebar when there is one (so
 * that its list item keeps its widget, its selection and its place), else
 * a new one. Takes it out of @old_rows. */
static TdFeedRow *
reuse_row (GHashTable    *old_rows,
           TdFeedRowKind  kind,
           gint64         feed_id,
           const char    *folder,
           const char    *title)
{
  g_autofree char *key = td_feed_row_make_key (kind, feed_id, folder);
  TdFeedRow *row = g_hash_table_lookup (old_rows, key);

  /* A feed moved to another folder is indented differently: a new row. */
  if (row != NULL && g_strcmp0 (td_feed_row_get_folder (row), folder) == 0)
    {
      g_object_ref (row);
      g_hash_table_remove (old_rows, key);
      return row;
    }
  return td_feed_row_new (kind, feed_id, folder, title);
}

/* Brings the sidebar in line with @feeds. Rows are updated in place and
 * only the stretch that differs is spliced, so a refresh that changes
 * unread counts and titles of a thousand feeds rebuilds no row widget,
 * and the selection and the scroll position stay. */
static void
update_sidebar (TdFeedsView *self,
                GPtrArray   *feeds)
{
  GListModel *store = G_LIST_MODEL (self->sidebar_store);
  g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) old = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GHashTable) old_rows = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GHashTable) folder_unread = g_hash_table_new (g_str_hash, g_str_equal);
  TdFeedRow *row;
  g_autofree char *selected_key = g_strdup (selected_source_key (self));
  guint total_unread = 0;
  const char *folder = NULL;
  guint n_old = g_list_model_get_n_items (store);
  guint prefix = 0, suffix = 0;

  for (guint i = 0; i < n_old; i++)
    {
      row = g_list_model_get_item (store, i);
      g_ptr_array_add (old, row);
      g_hash_table_insert (old_rows, (gpointer) td_feed_row_get_key (row), row);
    }

  for (guint i = 0; i < feeds->len; i++)
    {
      TdFeedInfo *info = g_ptr_array_index (feeds, i);

      total_unread += info->unread;
      if (info->folder != NULL)
        g_hash_table_insert (folder_unread, info->folder,
                             GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (folder_unread, info->folder))
                                               + info->unread));
    }

  row = reuse_row (old_rows, TD_FEED_ROW_ALL, 0, NULL, _("All Items"));
  td_feed_row_update (row, _("All Items"), total_unread, NULL, FALSE);
  g_ptr_array_add (rows, row);
  row = reuse_row (old_rows, TD_FEED_ROW_UNREAD, 0, NULL, _("Unread"));
  td_feed_row_update (row, _("Unread"), total_unread, NULL, FALSE);
  g_ptr_array_add (rows, row);
  g_ptr_array_add (rows, reuse_row (old_rows, TD_FEED_ROW_STARRED, 0, NULL, _("Starred")));

  for (guint i = 0; i < feeds->len; i++)
    {
      TdFeedInfo *info = g_ptr_array_index (feeds, i);

      if (info->folder != NULL && g_strcmp0 (info->folder, folder) != 0)
        {
          folder = info->folder;
          row = reuse_row (old_rows, TD_FEED_ROW_FOLDER, 0, folder, folder);
          td_feed_row_update (row, folder, GPOINTER_TO_UINT (g_hash_table_lookup (folder_unread, folder)),
                              NULL, FALSE);
          g_ptr_array_add (rows, row);
        }
      row = reuse_row (old_rows, TD_FEED_ROW_FEED, info->id, info->folder, info->title);
      td_feed_row_update (row, info->title, info->unread, info->error_text, info->gone);
      set_row_icon (self, row, info);
      g_ptr_array_add (rows, row);
    }

  while (prefix < rows->len && prefix < n_old && rows->pdata[prefix] == old->pdata[prefix])
    prefix++;
  while (suffix < rows->len - prefix && suffix < n_old - prefix
         && rows->pdata[rows->len - 1 - suffix] == old->pdata[n_old - 1 - suffix])
    suffix++;
  if (prefix + suffix == n_old && prefix + suffix == rows->len)
    return;

  g_signal_handlers_block_by_func (self->sidebar_selection, source_selected_cb, self);
  g_list_store_splice (self->sidebar_store, prefix, n_old - prefix - suffix,
                       rows->pdata + prefix, rows->len - prefix - suffix);

  if (self->select_key != NULL)
    {
      select_source_by_key (self, self->select_key);
      g_clear_pointer (&self->select_key, g_free);
    }
  else if (selected_key != NULL && g_strcmp0 (selected_key, selected_source_key (self)) != 0)
    select_source_by_key (self, selected_key);

  /* The selected row went away (unsubscribed): fall back to All. */
  if (selected_source (self) == NULL)
    gtk_single_selection_set_selected (self->sidebar_selection, 0);
  g_signal_handlers_unblock_by_func (self->sidebar_selection, source_selected_cb, self);

  /* Only a change of source runs the query again and closes the article. */
  if (g_strcmp0 (selected_key, selected_source_key (self)) != 0)
    source_selected_cb (self->sidebar_selection, NULL, self);
}

/* ------------------------------------------------------------------ */
/* Mail                                                                */

static void
send_notification (TdFeedsView       *self,
                   const TdFeedEvent *event)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  GApplication *app = GTK_IS_WINDOW (root) ? G_APPLICATION (gtk_window_get_application (GTK_WINDOW (root))) : NULL;
  g_autoptr(GNotification) notification = NULL;
  g_autofree char *title = NULL;
  g_autoptr(GString) body = g_string_new (NULL);

  if (app == NULL || !TD_IS_APPLICATION (app)
      || !g_settings_get_boolean (td_application_get_settings (TD_APPLICATION (app)), "feed-notifications")
      || gtk_window_is_active (GTK_WINDOW (root)))
    return;

  title = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u new item", "%u new items", event->n_new),
                           event->n_new);
  for (guint i = 0; i < event->new_items->len && i < 5; i++)
    {
      TdFeedNewItems *n = g_ptr_array_index (event->new_items, i);

      g_string_append_printf (body, "%s%s: %u", i ? "\n" : "", n->title, n->n_new);
    }
  notification = g_notification_new (title);
  g_notification_set_body (notification, body->str);
  g_notification_set_default_action_and_target (notification, "app.show-view", "s", "feeds");
  g_application_send_notification (app, "feeds-new-items", notification);
}

static void
handle_event (TdFeedsView *self,
              TdFeedEvent *event)
{
  switch (event->type)
    {
    case TD_FEED_EVENT_FEEDS:
      g_clear_pointer (&self->feed_list, g_ptr_array_unref);
      self->feed_list = g_steal_pointer (&event->feeds);
      update_sidebar (self, self->feed_list);
      if (!self->have_list)
        {
          self->have_list = TRUE;
          if (selected_source (self) == NULL)
            gtk_single_selection_set_selected (self->sidebar_selection, 0);
          run_query (self);
        }
      gtk_stack_set_visible_child_name (self->stack, self->feed_list->len > 0 ? "feeds" : "empty");
      update_actions (self);
      break;

    case TD_FEED_EVENT_ITEMS:
      schedule_reload (self);
      break;

    case TD_FEED_EVENT_PROGRESS:
      if (event->total > 0 && event->done < event->total)
        {
          g_autofree char *text = g_strdup_printf (_("Refreshing %u of %u"), event->done + 1, event->total);

          gtk_label_set_text (self->progress_label, text);
          gtk_progress_bar_set_fraction (self->progress_bar, (double) event->done / event->total);
          gtk_widget_set_visible (GTK_WIDGET (self->progress_bar), TRUE);
        }
      break;

    case TD_FEED_EVENT_SUMMARY:
      gtk_label_set_text (self->progress_label, "");
      gtk_widget_set_visible (GTK_WIDGET (self->progress_bar), FALSE);
      if (event->n_new > 0 || self->user_refresh)
        {
          g_autofree char *text = NULL;

          if (event->n_new > 0)
            text = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u new item", "%u new items",
                                                 event->n_new), event->n_new);
          else if (event->failed > 0)
            text = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "No new items; %u feed failed",
                                                 "No new items; %u feeds failed", event->failed),
                                    event->failed);
          else
            text = g_strdup (_("No new items"));
          show_message (self, text);
        }
      if (event->n_new > 0)
        send_notification (self, event);
      self->user_refresh = FALSE;
      break;

    default:
      break;
    }
}

static void choose_feed (TdFeedsView *self, GPtrArray *choices);

static void
mail_cb (TdMailboxId  id,
         TdMail      *mail,
         gpointer     user_data)
{
  TdFeedsView *self = user_data;
  TdFeedReply *reply = mail->kind != MAIL_EVENT && mail->kind != MAIL_RELOAD && mail->kind != MAIL_HOVER
                       ? mail->data : NULL;

  switch (mail->kind)
    {
    case MAIL_EVENT:
      handle_event (self, mail->data);
      break;

    case MAIL_RELOAD:
      self->reload_timeout = 0;
      if (self->items != NULL && !gtk_widget_get_mapped (GTK_WIDGET (self)))
        self->items_stale = TRUE;
      else if (self->items != NULL)
        td_item_list_reload (self->items);
      break;

    case MAIL_CATCH_UP:
      self->catch_up_timeout = 0;
      if (!gtk_widget_get_mapped (GTK_WIDGET (self)))
        break;
      if (self->items_stale && self->items != NULL)
        td_item_list_reload (self->items);
      self->items_stale = FALSE;
      break;

    case MAIL_HOVER:
      show_error (self, mail->data);
      break;

    case MAIL_ADDED:
      if (reply->error != NULL)
        {
          g_autofree char *text = g_strdup_printf (_("Could not subscribe: %s"), reply->error->message);

          show_message (self, text);
        }
      else if (reply->choices != NULL)
        choose_feed (self, reply->choices);
      else if (reply->feed != NULL)
        {
          g_autofree char *text = g_strdup_printf (_("Subscribed to “%s”"), reply->feed->title);

          g_free (self->select_key);
          self->select_key = g_strdup_printf ("feed:%" G_GINT64_FORMAT, reply->feed->id);
          select_source_by_key (self, self->select_key);
          show_message (self, text);
        }
      break;

    case MAIL_ARTICLE:
      if (reply->tag != self->article_serial)
        break;
      if (reply->error != NULL)
        td_article_view_set_item (self->article_view, NULL);
      else
        td_article_view_set_item (self->article_view, reply->item);
      break;

    case MAIL_OPML:
      if (reply->error != NULL)
        {
          g_autofree char *text = g_strdup_printf (_("Could not read or write the subscription list: %s"),
                                                   reply->error->message);

          show_message (self, text);
        }
      else if (reply->tag == 1)
        {
          g_autofree char *text = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "Imported %u feed",
                                                                "Imported %u feeds", reply->total),
                                                   reply->total);

          show_message (self, text);
        }
      else
        {
          g_autofree char *text = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "Exported %u feed",
                                                                "Exported %u feeds", reply->total),
                                                   reply->total);

          show_message (self, text);
        }
      break;

    case MAIL_PROPERTIES:
      if (reply->error != NULL)
        show_message (self, reply->error->message);
      break;

    default:
      break;
    }
}

/* ------------------------------------------------------------------ */
/* Dialogs                                                             */

static GtkWindow *
parent_window (TdFeedsView *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));

  return GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL;
}

static void
subscribe_response_cb (AdwMessageDialog *dialog,
                       const char       *response,
                       TdFeedsView      *self)
{
  GtkEditable *entry = g_object_get_data (G_OBJECT (dialog), "entry");

  if (g_strcmp0 (response, "subscribe") == 0)
    td_feeds_view_subscribe (self, gtk_editable_get_text (entry));
}

static void
subscribe_entry_changed_cb (GtkEditable      *entry,
                            AdwMessageDialog *dialog)
{
  g_autofree char *text = g_strstrip (g_strdup (gtk_editable_get_text (entry)));

  adw_message_dialog_set_response_enabled (dialog, "subscribe", *text != '\0');
}

static void
subscribe_action (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  TdFeedsView *self = TD_FEEDS_VIEW (widget);
  AdwMessageDialog *dialog;
  GtkWidget *entry;

  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (parent_window (self), _("Subscribe to a Feed"),
                                                       _("Enter the address of a feed, or of a website that offers one.")));
  entry = gtk_entry_new ();
  gtk_entry_set_placeholder_text (GTK_ENTRY (entry), _("https://example.org/feed.xml"));
  gtk_entry_set_activates_default (GTK_ENTRY (entry), TRUE);
  gtk_entry_set_input_purpose (GTK_ENTRY (entry), GTK_INPUT_PURPOSE_URL);
  gtk_accessible_update_property (GTK_ACCESSIBLE (entry), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Address"), -1);
  adw_message_dialog_set_extra_child (dialog, entry);
  g_object_set_data (G_OBJECT (dialog), "entry", entry);

  adw_message_dialog_add_responses (dialog, "cancel", _("_Cancel"), "subscribe", _("_Subscribe"), NULL);
  adw_message_dialog_set_response_appearance (dialog, "subscribe", ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (dialog, "subscribe");
  adw_message_dialog_set_close_response (dialog, "cancel");
  adw_message_dialog_set_response_enabled (dialog, "subscribe", FALSE);
  g_signal_connect (entry, "changed", G_CALLBACK (subscribe_entry_changed_cb), dialog);
  g_signal_connect_object (dialog, "response", G_CALLBACK (subscribe_response_cb), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
choice_response_cb (AdwMessageDialog *dialog,
                    const char       *response,
                    TdFeedsView      *self)
{
  GtkWidget *box = adw_message_dialog_get_extra_child (dialog);

  if (g_strcmp0 (response, "subscribe") != 0)
    return;

  for (GtkWidget *child = gtk_widget_get_first_child (box); child; child = gtk_widget_get_next_sibling (child))
    if (GTK_IS_CHECK_BUTTON (child) && gtk_check_button_get_active (GTK_CHECK_BUTTON (child)))
      {
        td_feeds_view_subscribe (self, g_object_get_data (G_OBJECT (child), "url"));
        return;
      }
}

/* The page offers several feeds (autodiscovery): let the user pick. */
static void
choose_feed (TdFeedsView *self,
             GPtrArray   *choices)
{
  AdwMessageDialog *dialog;
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  GtkCheckButton *group = NULL;

  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (parent_window (self), _("Choose a Feed"),
                                                       _("This website offers several feeds.")));
  for (guint i = 0; i < choices->len; i++)
    {
      TdFeedChoice *choice = g_ptr_array_index (choices, i);
      GtkWidget *check = gtk_check_button_new_with_label (choice->title && *choice->title ? choice->title : choice->url);

      gtk_widget_set_tooltip_text (check, choice->url);
      g_object_set_data_full (G_OBJECT (check), "url", g_strdup (choice->url), g_free);
      if (group != NULL)
        gtk_check_button_set_group (GTK_CHECK_BUTTON (check), group);
      else
        {
          group = GTK_CHECK_BUTTON (check);
          gtk_check_button_set_active (group, TRUE);
        }
      gtk_box_append (GTK_BOX (box), check);
    }
  adw_message_dialog_set_extra_child (dialog, box);
  adw_message_dialog_add_responses (dialog, "cancel", _("_Cancel"), "subscribe", _("_Subscribe"), NULL);
  adw_message_dialog_set_response_appearance (dialog, "subscribe", ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (dialog, "subscribe");
  adw_message_dialog_set_close_response (dialog, "cancel");
  g_signal_connect_object (dialog, "response", G_CALLBACK (choice_response_cb), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
properties_response_cb (AdwMessageDialog *dialog,
                        const char       *response,
                        TdFeedsView      *self)
{
  TdFeedManager *manager = view_manager (self);
  GtkEditable *title = g_object_get_data (G_OBJECT (dialog), "title");
  GtkEditable *folder = g_object_get_data (G_OBJECT (dialog), "folder");
  GtkSpinButton *interval = g_object_get_data (G_OBJECT (dialog), "interval");
  gint64 feed_id = GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (dialog), "feed-id"));

  if (g_strcmp0 (response, "save") != 0 || manager == NULL)
    return;

  td_feed_manager_set_properties (manager, feed_id, gtk_editable_get_text (title),
                                  (guint) gtk_spin_button_get_value_as_int (interval) * 60,
                                  gtk_editable_get_text (folder), self->mailbox, MAIL_PROPERTIES, 0);
}

static void
properties_action (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  TdFeedsView *self = TD_FEEDS_VIEW (widget);
  TdFeedRow *source = selected_source (self);
  const TdFeedInfo *info;
  AdwMessageDialog *dialog;
  GtkWidget *list, *title, *folder, *interval_row, *interval;

  if (source == NULL || td_feed_row_get_kind (source) != TD_FEED_ROW_FEED
      || (info = find_feed_info (self, td_feed_row_get_feed_id (source))) == NULL)
    return;

  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (parent_window (self), _("Feed Properties"), info->url));

  list = gtk_list_box_new ();
  gtk_list_box_set_selection_mode (GTK_LIST_BOX (list), GTK_SELECTION_NONE);
  gtk_widget_add_css_class (list, "boxed-list");

  title = adw_entry_row_new ();
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (title), _("Title"));
  gtk_editable_set_text (GTK_EDITABLE (title), info->title_override ? info->title_override : "");
  gtk_list_box_append (GTK_LIST_BOX (list), title);

  folder = adw_entry_row_new ();
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (folder), _("Folder"));
  gtk_editable_set_text (GTK_EDITABLE (folder), info->folder ? info->folder : "");
  gtk_list_box_append (GTK_LIST_BOX (list), folder);

  interval_row = adw_action_row_new ();
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (interval_row), _("Refresh Interval"));
  adw_action_row_set_subtitle (ADW_ACTION_ROW (interval_row), _("Minutes; 0 uses the interval from Preferences"));
  interval = gtk_spin_button_new_with_range (0, 10080, 5);
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (interval), info->refresh_interval / 60);
  gtk_widget_set_valign (interval, GTK_ALIGN_CENTER);
  gtk_accessible_update_property (GTK_ACCESSIBLE (interval), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Refresh interval in minutes"), -1);
  adw_action_row_add_suffix (ADW_ACTION_ROW (interval_row), interval);
  gtk_list_box_append (GTK_LIST_BOX (list), interval_row);

  adw_message_dialog_set_extra_child (dialog, list);
  g_object_set_data (G_OBJECT (dialog), "title", title);
  g_object_set_data (G_OBJECT (dialog), "folder", folder);
  g_object_set_data (G_OBJECT (dialog), "interval", interval);
  g_object_set_data (G_OBJECT (dialog), "feed-id", GSIZE_TO_POINTER ((gsize) info->id));

  adw_message_dialog_add_responses (dialog, "cancel", _("_Cancel"), "save", _("_Save"), NULL);
  adw_message_dialog_set_response_appearance (dialog, "save", ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (dialog, "save");
  adw_message_dialog_set_close_response (dialog, "cancel");
  g_signal_connect_object (dialog, "response", G_CALLBACK (properties_response_cb), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
unsubscribe_response_cb (AdwMessageDialog *dialog,
                         const char       *response,
                         TdFeedsView      *self)
{
  TdFeedManager *manager = view_manager (self);
  gint64 feed_id = GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (dialog), "feed-id"));

  if (g_strcmp0 (response, "unsubscribe") == 0 && manager != NULL)
    td_feed_manager_remove (manager, feed_id, TD_MAILBOX_NONE, 0, 0);
}

static void
unsubscribe_action (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *parameter)
{
  TdFeedsView *self = TD_FEEDS_VIEW (widget);
  TdFeedRow *source = selected_source (self);
  AdwMessageDialog *dialog;

  if (source == NULL || td_feed_row_get_kind (source) != TD_FEED_ROW_FEED)
    return;

  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (parent_window (self), NULL, NULL));
  adw_message_dialog_format_heading (dialog, _("Unsubscribe from “%s”?"), td_feed_row_get_title (source));
  adw_message_dialog_set_body (dialog, _("The feed and all of its items are deleted, starred items too."));
  g_object_set_data (G_OBJECT (dialog), "feed-id", GSIZE_TO_POINTER ((gsize) td_feed_row_get_feed_id (source)));
  adw_message_dialog_add_responses (dialog, "cancel", _("_Cancel"), "unsubscribe", _("_Unsubscribe"), NULL);
  adw_message_dialog_set_response_appearance (dialog, "unsubscribe", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (dialog, "cancel");
  adw_message_dialog_set_close_response (dialog, "cancel");
  g_signal_connect_object (dialog, "response", G_CALLBACK (unsubscribe_response_cb), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static GtkFileFilter *
opml_filter (void)
{
  GtkFileFilter *filter = gtk_file_filter_new ();

  gtk_file_filter_set_name (filter, _("Subscription Lists (OPML)"));
  gtk_file_filter_add_pattern (filter, "*.opml");
  gtk_file_filter_add_pattern (filter, "*.xml");
  gtk_file_filter_add_mime_type (filter, "text/x-opml+xml");
  return filter;
}

static void
import_response_cb (GtkNativeDialog *native,
                    int              response,
                    TdFeedsView     *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (native));

      td_feeds_view_import_opml (self, file);
    }
  g_object_unref (native);
}

static void
import_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  TdFeedsView *self = TD_FEEDS_VIEW (widget);
  GtkFileChooserNative *native;
  g_autoptr(GtkFileFilter) filter = opml_filter ();

  native = gtk_file_chooser_native_new (_("Import Subscriptions"), parent_window (self),
                                        GTK_FILE_CHOOSER_ACTION_OPEN, _("_Import"), _("_Cancel"));
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (native), filter);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (native), TRUE);
  g_signal_connect_object (native, "response", G_CALLBACK (import_response_cb), self, 0);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (native));
}

static void
export_response_cb (GtkNativeDialog *native,
                    int              response,
                    TdFeedsView     *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (native));

      td_feeds_view_export_opml (self, file);
    }
  g_object_unref (native);
}

static void
export_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  TdFeedsView *self = TD_FEEDS_VIEW (widget);
  GtkFileChooserNative *native;
  g_autoptr(GtkFileFilter) filter = opml_filter ();

  native = gtk_file_chooser_native_new (_("Export Subscriptions"), parent_window (self),
                                        GTK_FILE_CHOOSER_ACTION_SAVE, _("_Export"), _("_Cancel"));
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (native), filter);
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (native), _("subscriptions.opml"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (native), TRUE);
  g_signal_connect_object (native, "response", G_CALLBACK (export_response_cb), self, 0);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (native));
}

/* ------------------------------------------------------------------ */
/* Actions                                                             */

static void
refresh_action (GtkWidget  *widget,
                const char *action_name,
                GVariant   *parameter)
{
  TdFeedsView *self = TD_FEEDS_VIEW (widget);
  TdFeedManager *manager = view_manager (self);

  if (manager == NULL)
    return;
  self->user_refresh = TRUE;
  td_feed_manager_refresh_all (manager, TRUE);
}

static void
mark_all_read_action (GtkWidget  *widget,
                      const char *action_name,
                      GVariant   *parameter)
{
  TdFeedsView *self = TD_FEEDS_VIEW (widget);
  TdFeedManager *manager = view_manager (self);
  TdFeedQuery query;
  guint n = self->items ? g_list_model_get_n_items (G_LIST_MODEL (self->items)) : 0;

  if (manager == NULL)
    return;

  fill_query (self, &query);
  td_feed_manager_mark_all_read (manager, &query);

  /* Rows already loaded show it at once; the reload confirms it. */
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(TdItemObject) item = g_list_model_get_item (G_LIST_MODEL (self->items), i);

      if (td_item_object_is_loaded (item))
        td_item_object_set_read (item, TRUE);
    }
}

static void
move_selection (TdFeedsView *self,
                int          delta)
{
  guint n = self->items ? g_list_model_get_n_items (G_LIST_MODEL (self->items)) : 0;
  guint position = gtk_single_selection_get_selected (self->item_selection);
  guint next;

  if (n == 0)
    return;

  if (position == GTK_INVALID_LIST_POSITION)
    next = delta > 0 ? 0 : n - 1;
  else if (delta < 0 && position == 0)
    return;
  else
    next = MIN (position + delta, n - 1);

  td_feeds_view_select_item (self, next);
}

static void
next_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  move_selection (TD_FEEDS_VIEW (widget), +1);
}

static void
previous_action (GtkWidget  *widget,
                 const char *action_name,
                 GVariant   *parameter)
{
  move_selection (TD_FEEDS_VIEW (widget), -1);
}

static void
page_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  TdFeedsView *self = TD_FEEDS_VIEW (widget);

  /* Space reads on: a page of the article, then the next item. */
  if (!td_article_view_page_down (self->article_view))
    move_selection (self, +1);
}

static void
toggle_read_action (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *parameter)
{
  TdFeedsView *self = TD_FEEDS_VIEW (widget);
  TdItemObject *item = selected_item (self);
  TdFeedManager *manager = view_manager (self);
  gint64 id;

  if (item == NULL || manager == NULL)
    return;

  id = td_item_object_get_id (item);
  td_item_object_set_read (item, !td_item_object_get_read (item));
  td_feed_manager_set_read (manager, &id, 1, td_item_object_get_read (item));
}

static void
toggle_star_action (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *parameter)
{
  TdFeedsView *self = TD_FEEDS_VIEW (widget);
  TdItemObject *item = selected_item (self);
  TdFeedManager *manager = view_manager (self);

  if (item == NULL || manager == NULL)
    return;

  td_item_object_set_starred (item, !td_item_object_get_starred (item));
  td_feed_manager_set_starred (manager, td_item_object_get_id (item), td_item_object_get_starred (item));
}

static void
delete_item_action (GtkWidget  *widget,
                    const char *action_name,
                    GVariant   *parameter)
{
  TdFeedsView *self = TD_FEEDS_VIEW (widget);
  TdItemObject *item = selected_item (self);
  TdFeedManager *manager = view_manager (self);

  if (item == NULL || manager == NULL)
    return;

  td_feed_manager_delete_item (manager, td_item_object_get_id (item));
  self->article_id = 0;
  td_article_view_set_item (self->article_view, NULL);
}

static void
search_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  gtk_widget_grab_focus (GTK_WIDGET (TD_FEEDS_VIEW (widget)->search_entry));
}

static void
search_changed_cb (GtkSearchEntry *entry,
                   TdFeedsView    *self)
{
  td_feeds_view_set_search (self, gtk_editable_get_text (GTK_EDITABLE (entry)));
}

/* Single-key shortcuts (j, k, m, s, space, Delete) are for reading: they
 * apply everywhere in the view except while typing in a text field. */
static gboolean
key_pressed_cb (GtkEventControllerKey *controller,
                guint                  keyval,
                guint                  keycode,
                GdkModifierType        state,
                TdFeedsView           *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  GtkWidget *focus = root ? gtk_root_get_focus (root) : NULL;
  const char *action = NULL;

  if ((state & (GDK_CONTROL_MASK | GDK_ALT_MASK | GDK_SUPER_MASK)) != 0)
    return FALSE;
  if (focus != NULL && (GTK_IS_EDITABLE (focus)
                        || (GTK_IS_TEXT_VIEW (focus) && gtk_text_view_get_editable (GTK_TEXT_VIEW (focus)))))
    return FALSE;
  if (g_strcmp0 (gtk_stack_get_visible_child_name (self->stack), "feeds") != 0)
    return FALSE;

  switch (keyval)
    {
    case GDK_KEY_j:      action = "feeds.next"; break;
    case GDK_KEY_k:      action = "feeds.previous"; break;
    case GDK_KEY_m:      action = "feeds.toggle-read"; break;
    case GDK_KEY_s:      action = "feeds.toggle-star"; break;
    case GDK_KEY_space:  action = "feeds.page"; break;
    case GDK_KEY_Delete: action = "feeds.delete-item"; break;
    default:             return FALSE;
    }

  return gtk_widget_activate_action (GTK_WIDGET (self), action, NULL);
}

/* ------------------------------------------------------------------ */
/* GObject                                                             */

/* Connects to the application's feed manager once the view is in one of
 * its windows. */
static void
td_feeds_view_attach (TdFeedsView *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  GtkApplication *app = GTK_IS_WINDOW (root) ? gtk_window_get_application (GTK_WINDOW (root)) : NULL;

  if (self->feeds != NULL || !TD_IS_APPLICATION (app) || td_application_get_recorder (TD_APPLICATION (app)) == NULL)
    return;

  self->feeds = td_feeds_app_ref (td_feeds_app_get (TD_APPLICATION (app)));
  self->items = td_item_list_new (self->feeds);
  g_signal_connect (self->items, "reloaded", G_CALLBACK (items_reloaded_cb), self);
  self->item_selection = gtk_single_selection_new (G_LIST_MODEL (g_object_ref (self->items)));
  gtk_single_selection_set_autoselect (self->item_selection, FALSE);
  gtk_single_selection_set_can_unselect (self->item_selection, TRUE);
  g_signal_connect (self->item_selection, "notify::selected", G_CALLBACK (item_selected_cb), self);
  gtk_grid_view_set_model (self->item_list, GTK_SELECTION_MODEL (self->item_selection));

  td_feed_manager_add_listener (td_feeds_app_get_manager (self->feeds), self->mailbox, MAIL_EVENT);
  update_actions (self);
}

static void
root_window_app_cb (GtkWindow   *window,
                    GParamSpec  *pspec,
                    TdFeedsView *self)
{
  td_feeds_view_attach (self);
}

/* While the view is hidden a refresh does not reload its item list: each
 * reload would build, restyle and measure rows no one sees (GTK restyles
 * every row after one that comes in). Shown, it catches up once
 * (MAIL_CATCH_UP). The sidebar follows the feeds as they change: its rows
 * change one at a time, and catching up on many moves at once costs more
 * than each did. */
static void
td_feeds_view_map (GtkWidget *widget)
{
  TdFeedsView *self = TD_FEEDS_VIEW (widget);

  GTK_WIDGET_CLASS (td_feeds_view_parent_class)->map (widget);

  if (self->items_stale && !td_mail_timeout_is_pending (self->catch_up_timeout))
    self->catch_up_timeout = td_mail_send_after (self->mailbox, TD_FEEDS_VIEW_CATCH_UP_MS,
                                                 td_mail_new (MAIL_CATCH_UP, NULL, NULL));
}

static void
td_feeds_view_root (GtkWidget *widget)
{
  TdFeedsView *self = TD_FEEDS_VIEW (widget);
  GtkRoot *root;

  GTK_WIDGET_CLASS (td_feeds_view_parent_class)->root (widget);

  root = gtk_widget_get_root (widget);
  td_feeds_view_attach (self);
  /* A window built from a template gets its application afterwards. */
  if (self->feeds == NULL && GTK_IS_WINDOW (root))
    g_signal_connect_object (root, "notify::application", G_CALLBACK (root_window_app_cb), self, 0);
}

static void
td_feeds_view_dispose (GObject *object)
{
  TdFeedsView *self = TD_FEEDS_VIEW (object);
  TdFeedManager *manager = view_manager (self);

  if (manager != NULL)
    td_feed_manager_remove_listener (manager, self->mailbox);
  if (self->mailbox != TD_MAILBOX_NONE)
    td_mailbox_close (self->mailbox);
  self->mailbox = TD_MAILBOX_NONE;
  td_mail_cancel_timeout (self->reload_timeout);
  self->reload_timeout = 0;
  td_mail_cancel_timeout (self->catch_up_timeout);
  self->catch_up_timeout = 0;
  g_clear_pointer (&self->hover, td_hover_timer_free);
  forget_pending_item (self);

  if (self->item_selection != NULL)
    g_signal_handlers_disconnect_by_data (self->item_selection, self);
  if (self->sidebar_selection != NULL)
    g_signal_handlers_disconnect_by_data (self->sidebar_selection, self);
  if (self->items != NULL)
    g_signal_handlers_disconnect_by_data (self->items, self);

  /* The stack and the tooltip are template children inside the bin's
   * child. */
  adw_bin_set_child (ADW_BIN (self), NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), TD_TYPE_FEEDS_VIEW);

  g_clear_object (&self->item_selection);
  g_clear_object (&self->items);
  g_clear_object (&self->sidebar_selection);
  g_clear_object (&self->sidebar_store);
  g_clear_pointer (&self->feeds, td_feeds_app_unref);

  G_OBJECT_CLASS (td_feeds_view_parent_class)->dispose (object);
}

static void
td_feeds_view_finalize (GObject *object)
{
  TdFeedsView *self = TD_FEEDS_VIEW (object);

  g_clear_pointer (&self->feed_list, g_ptr_array_unref);
  g_free (self->search);
  g_free (self->select_key);
  g_free (self->last_message);

  G_OBJECT_CLASS (td_feeds_view_parent_class)->finalize (object);
}

static void
td_feeds_view_class_init (TdFeedsViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = td_feeds_view_dispose;
  object_class->finalize = td_feeds_view_finalize;
  widget_class->root = td_feeds_view_root;
  widget_class->map = td_feeds_view_map;

  g_type_ensure (TD_TYPE_ARTICLE_VIEW);
  g_type_ensure (TD_TYPE_FEED_ROW);
  g_type_ensure (TD_TYPE_ITEM_OBJECT);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/tidings/Tidings/td-feeds-view.ui");
  gtk_widget_class_bind_template_child (widget_class, TdFeedsView, stack);
  gtk_widget_class_bind_template_child (widget_class, TdFeedsView, sidebar_list);
  gtk_widget_class_bind_template_child (widget_class, TdFeedsView, item_list);
  gtk_widget_class_bind_template_child (widget_class, TdFeedsView, item_scroller);
  gtk_widget_class_bind_template_child (widget_class, TdFeedsView, search_entry);
  gtk_widget_class_bind_template_child (widget_class, TdFeedsView, progress_label);
  gtk_widget_class_bind_template_child (widget_class, TdFeedsView, progress_bar);
  gtk_widget_class_bind_template_child (widget_class, TdFeedsView, list_stack);
  gtk_widget_class_bind_template_child (widget_class, TdFeedsView, list_status);
  gtk_widget_class_bind_template_child (widget_class, TdFeedsView, article_view);
  gtk_widget_class_bind_template_child (widget_class, TdFeedsView, error_tooltip);
  gtk_widget_class_bind_template_callback (widget_class, search_changed_cb);

  gtk_widget_class_install_action (widget_class, "feeds.subscribe", NULL, subscribe_action);
  gtk_widget_class_install_action (widget_class, "feeds.refresh", NULL, refresh_action);
  gtk_widget_class_install_action (widget_class, "feeds.mark-all-read", NULL, mark_all_read_action);
  gtk_widget_class_install_action (widget_class, "feeds.properties", NULL, properties_action);
  gtk_widget_class_install_action (widget_class, "feeds.unsubscribe", NULL, unsubscribe_action);
  gtk_widget_class_install_action (widget_class, "feeds.import", NULL, import_action);
  gtk_widget_class_install_action (widget_class, "feeds.export", NULL, export_action);
  gtk_widget_class_install_action (widget_class, "feeds.next", NULL, next_action);
  gtk_widget_class_install_action (widget_class, "feeds.previous", NULL, previous_action);
  gtk_widget_class_install_action (widget_class, "feeds.page", NULL, page_action);
  gtk_widget_class_install_action (widget_class, "feeds.toggle-read", NULL, toggle_read_action);
  gtk_widget_class_install_action (widget_class, "feeds.toggle-star", NULL, toggle_star_action);
  gtk_widget_class_install_action (widget_class, "feeds.delete-item", NULL, delete_item_action);
  gtk_widget_class_install_action (widget_class, "feeds.search", NULL, search_action);

  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_f, GDK_CONTROL_MASK, "feeds.search", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_F5, 0, "feeds.refresh", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_r, GDK_CONTROL_MASK, "feeds.refresh", NULL);
}

static void
sidebar_setup_cb (GtkSignalListItemFactory *factory,
                  GtkListItem              *item,
                  TdFeedsView              *self)
{
  GtkWidget *row = td_sidebar_row_new ();
  GtkEventController *motion = gtk_event_controller_motion_new ();

  g_signal_connect_object (motion, "enter", G_CALLBACK (error_badge_enter_cb), self, 0);
  g_signal_connect_object (motion, "leave", G_CALLBACK (error_badge_leave_cb), self, 0);
  gtk_widget_add_controller (td_sidebar_row_get_error_badge (TD_SIDEBAR_ROW (row)), motion);
  gtk_list_item_set_child (item, row);
}

static void
sidebar_bind_cb (GtkSignalListItemFactory *factory,
                 GtkListItem              *item,
                 gpointer                  user_data)
{
  td_sidebar_row_bind (TD_SIDEBAR_ROW (gtk_list_item_get_child (item)), gtk_list_item_get_item (item));
}

static void
sidebar_unbind_cb (GtkSignalListItemFactory *factory,
                   GtkListItem              *item,
                   gpointer                  user_data)
{
  td_sidebar_row_unbind (TD_SIDEBAR_ROW (gtk_list_item_get_child (item)));
}

static void
item_setup_cb (GtkSignalListItemFactory *factory,
               GtkListItem              *item,
               gpointer                  user_data)
{
  gtk_list_item_set_child (item, td_item_row_new ());
}

static void
item_bind_cb (GtkSignalListItemFactory *factory,
              GtkListItem              *item,
              gpointer                  user_data)
{
  td_item_row_bind (TD_ITEM_ROW (gtk_list_item_get_child (item)), gtk_list_item_get_item (item));
}

static void
item_unbind_cb (GtkSignalListItemFactory *factory,
                GtkListItem              *item,
                gpointer                  user_data)
{
  td_item_row_unbind (TD_ITEM_ROW (gtk_list_item_get_child (item)));
}

static void
td_feeds_view_init (TdFeedsView *self)
{
  GtkEventController *keys;
  g_autoptr(GtkListItemFactory) factory = NULL;

  gtk_widget_init_template (GTK_WIDGET (self));

  self->mailbox = td_mailbox_open (NULL, G_PRIORITY_DEFAULT, mail_cb, self, NULL);
  self->hover = td_hover_timer_new (self->mailbox, MAIL_HOVER, TD_HOVER_DEFAULT_DELAY_MS);
  self->pending_position = GTK_INVALID_LIST_POSITION;

  /* Sidebar rows are built in code too (see TdSidebarRow). */
  factory = gtk_signal_list_item_factory_new ();
  g_signal_connect (factory, "setup", G_CALLBACK (sidebar_setup_cb), self);
  g_signal_connect (factory, "bind", G_CALLBACK (sidebar_bind_cb), NULL);
  g_signal_connect (factory, "unbind", G_CALLBACK (sidebar_unbind_cb), NULL);
  gtk_grid_view_set_factory (self->sidebar_list, factory);
  g_clear_object (&factory);

  /* Item rows are built in code (see TdItemRow). */
  factory = gtk_signal_list_item_factory_new ();
  g_signal_connect (factory, "setup", G_CALLBACK (item_setup_cb), NULL);
  g_signal_connect (factory, "bind", G_CALLBACK (item_bind_cb), NULL);
  g_signal_connect (factory, "unbind", G_CALLBACK (item_unbind_cb), NULL);
  gtk_grid_view_set_factory (self->item_list, factory);

  self->sidebar_store = g_list_store_new (TD_TYPE_FEED_ROW);
  self->sidebar_selection = gtk_single_selection_new (G_LIST_MODEL (g_object_ref (self->sidebar_store)));
  gtk_single_selection_set_autoselect (self->sidebar_selection, FALSE);
  g_signal_connect (self->sidebar_selection, "notify::selected", G_CALLBACK (source_selected_cb), self);
  gtk_grid_view_set_model (self->sidebar_list, GTK_SELECTION_MODEL (self->sidebar_selection));

  keys = gtk_event_controller_key_new ();
  gtk_event_controller_set_propagation_phase (keys, GTK_PHASE_CAPTURE);
  g_signal_connect (keys, "key-pressed", G_CALLBACK (key_pressed_cb), self);
  gtk_widget_add_controller (GTK_WIDGET (self), keys);

  gtk_stack_set_visible_child_name (self->stack, "loading");
  update_actions (self);
}

/* ------------------------------------------------------------------ */
/* Public API                                                          */

void
td_feeds_view_subscribe (TdFeedsView *self,
                         const char  *url)
{
  TdFeedManager *manager;
  TdFeedRow *source;

  g_return_if_fail (TD_IS_FEEDS_VIEW (self));
  g_return_if_fail (url != NULL);

  if ((manager = view_manager (self)) == NULL)
    return;

  /* Subscribing while a folder is selected puts the feed there. */
  source = selected_source (self);
  td_feed_manager_add (manager, url,
                       source && td_feed_row_get_kind (source) != TD_FEED_ROW_ALL
                       && td_feed_row_get_kind (source) != TD_FEED_ROW_UNREAD
                       && td_feed_row_get_kind (source) != TD_FEED_ROW_STARRED
                       ? td_feed_row_get_folder (source) : NULL,
                       self->mailbox, MAIL_ADDED, 0);
}

void
td_feeds_view_import_opml (TdFeedsView *self,
                           GFile       *file)
{
  TdFeedManager *manager;

  g_return_if_fail (TD_IS_FEEDS_VIEW (self));
  g_return_if_fail (G_IS_FILE (file));

  if ((manager = view_manager (self)) != NULL)
    td_feed_manager_import_opml (manager, file, self->mailbox, MAIL_OPML, 1);
}

void
td_feeds_view_export_opml (TdFeedsView *self,
                           GFile       *file)
{
  TdFeedManager *manager;

  g_return_if_fail (TD_IS_FEEDS_VIEW (self));
  g_return_if_fail (G_IS_FILE (file));

  if ((manager = view_manager (self)) != NULL)
    td_feed_manager_export_opml (manager, file, self->mailbox, MAIL_OPML, 2);
}

void
td_feeds_view_set_search (TdFeedsView *self,
                          const char  *text)
{
  g_autofree char *search = NULL;

  g_return_if_fail (TD_IS_FEEDS_VIEW (self));

  search = text ? g_strstrip (g_strdup (text)) : NULL;
  if (search != NULL && *search == '\0')
    g_clear_pointer (&search, g_free);
  if (g_strcmp0 (search, self->search) == 0)
    return;

  g_free (self->search);
  self->search = g_strdup (search);
  /* Setting the entry's text comes back here (search-changed): by then
   * the search is the same and nothing happens. */
  if (g_strcmp0 (gtk_editable_get_text (GTK_EDITABLE (self->search_entry)), search ? search : "") != 0)
    gtk_editable_set_text (GTK_EDITABLE (self->search_entry), search ? search : "");
  run_query (self);
}

void
td_feeds_view_select_source (TdFeedsView *self,
                             guint        position)
{
  g_return_if_fail (TD_IS_FEEDS_VIEW (self));

  gtk_single_selection_set_selected (self->sidebar_selection, position);
}

void
td_feeds_view_select_item (TdFeedsView *self,
                           guint        position)
{
  g_return_if_fail (TD_IS_FEEDS_VIEW (self));

  if (self->item_selection == NULL)
    return;
  gtk_single_selection_set_selected (self->item_selection, position);
  gtk_widget_activate_action (GTK_WIDGET (self->item_list), "list.scroll-to-item", "u", position);
}

GListModel *
td_feeds_view_get_sidebar_model (TdFeedsView *self)
{
  g_return_val_if_fail (TD_IS_FEEDS_VIEW (self), NULL);

  return G_LIST_MODEL (self->sidebar_store);
}

GListModel *
td_feeds_view_get_item_model (TdFeedsView *self)
{
  g_return_val_if_fail (TD_IS_FEEDS_VIEW (self), NULL);

  return self->items ? G_LIST_MODEL (self->items) : NULL;
}

TdArticleView *
td_feeds_view_get_article_view (TdFeedsView *self)
{
  g_return_val_if_fail (TD_IS_FEEDS_VIEW (self), NULL);

  return self->article_view;
}

const char *
td_feeds_view_get_error_tooltip (TdFeedsView *self)
{
  g_return_val_if_fail (TD_IS_FEEDS_VIEW (self), NULL);

  if (self->error_tooltip == NULL || !gtk_widget_get_visible (GTK_WIDGET (self->error_tooltip)))
    return NULL;
  return gtk_label_get_text (self->error_tooltip);
}

const char *
td_feeds_view_get_last_message (TdFeedsView *self)
{
  g_return_val_if_fail (TD_IS_FEEDS_VIEW (self), NULL);

  return self->last_message;
}
