/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-window"

#include "config.h"

#include <glib/gi18n.h>

#include "app/td-after-layout.h"
#include "app/td-chat-view.h"
#include "app/td-pubsub-view.h"
#include "app/td-feeds-view.h"
#include "app/td-window.h"

struct _TdWindow
{
  AdwApplicationWindow  parent_instance;

  /* Template widgets */
  AdwViewStack         *stack;
  AdwToastOverlay      *toast_overlay;
  GtkMenuButton        *menu_button;
  TdChatView           *chat_page;

  /* Owned */
  GSettings            *settings;
  TdWarmUp             *warm_up;        /* the pages not shown at start */
  TdAfterLayout         first_layout;
};

G_DEFINE_FINAL_TYPE (TdWindow, td_window, ADW_TYPE_APPLICATION_WINDOW)

/* Saves the size only when the window is neither maximized nor
 * fullscreen, so un-maximizing restores the size the user chose. */
static void
td_window_save_state (TdWindow *self)
{
  gboolean maximized = gtk_window_is_maximized (GTK_WINDOW (self));

  g_settings_delay (self->settings);
  g_settings_set_boolean (self->settings, "window-maximized", maximized);
  if (!maximized && !gtk_window_is_fullscreen (GTK_WINDOW (self)))
    {
      int width, height;

      gtk_window_get_default_size (GTK_WINDOW (self), &width, &height);
      if (width > 0 && height > 0)
        {
          g_settings_set_int (self->settings, "window-width", width);
          g_settings_set_int (self->settings, "window-height", height);
        }
    }
  g_settings_set_string (self->settings, "last-view", td_window_get_visible_view (self));
  g_settings_apply (self->settings);
}

static gboolean
td_window_close_request (GtkWindow *window)
{
  td_window_save_state (TD_WINDOW (window));

  return GTK_WINDOW_CLASS (td_window_parent_class)->close_request (window);
}

static void
show_view_action (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  td_window_show_view (TD_WINDOW (widget), g_variant_get_string (parameter, NULL));
}

static void
start_warm_up (gpointer data)
{
  TdWindow *self = data;

  td_warm_up_start (self->warm_up);
}

/* The pages not shown at start are laid out once the window has drawn
 * its first frame (TdWarmUp), so that their first show is a frame like
 * any other; starting earlier would only delay the first one. The
 * warm-up is started when the first frame is laid out: its idles come
 * after that frame is drawn. */
static void
td_window_map (GtkWidget *widget)
{
  TdWindow *self = TD_WINDOW (widget);

  GTK_WIDGET_CLASS (td_window_parent_class)->map (widget);

  if (self->warm_up == NULL)
    {
      GtkWidget *shown = adw_view_stack_get_visible_child (self->stack);

      self->warm_up = td_warm_up_new (GTK_WIDGET (self->stack));
      for (GtkWidget *page = gtk_widget_get_first_child (GTK_WIDGET (self->stack)); page != NULL;
           page = gtk_widget_get_next_sibling (page))
        if (page != shown)
          td_warm_up_add (self->warm_up, page);
      td_after_layout_queue (&self->first_layout, widget, start_warm_up, self);
    }
}

static void
td_window_dispose (GObject *object)
{
  TdWindow *self = TD_WINDOW (object);

  td_after_layout_cancel (&self->first_layout);
  g_clear_pointer (&self->warm_up, td_warm_up_free);
  gtk_widget_dispose_template (GTK_WIDGET (self), TD_TYPE_WINDOW);
  g_clear_object (&self->settings);

  G_OBJECT_CLASS (td_window_parent_class)->dispose (object);
}

static void
td_window_class_init (TdWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->dispose = td_window_dispose;
  widget_class->map = td_window_map;
  window_class->close_request = td_window_close_request;

  g_type_ensure (TD_TYPE_CHAT_VIEW);
  g_type_ensure (TD_TYPE_PUBSUB_VIEW);
  g_type_ensure (TD_TYPE_FEEDS_VIEW);
  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/tidings/Tidings/td-window.ui");
  gtk_widget_class_bind_template_child (widget_class, TdWindow, stack);
  gtk_widget_class_bind_template_child (widget_class, TdWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, TdWindow, menu_button);
  gtk_widget_class_bind_template_child (widget_class, TdWindow, chat_page);

  gtk_widget_class_install_action (widget_class, "win.show-view", "s", show_view_action);
}

static void
td_window_init (TdWindow *self)
{
  g_autofree char *last_view = NULL;

  gtk_widget_init_template (GTK_WIDGET (self));

  self->settings = g_settings_new ("io.github.tidings.Tidings");
  gtk_window_set_default_size (GTK_WINDOW (self),
                               g_settings_get_int (self->settings, "window-width"),
                               g_settings_get_int (self->settings, "window-height"));
  if (g_settings_get_boolean (self->settings, "window-maximized"))
    gtk_window_maximize (GTK_WINDOW (self));

  last_view = g_settings_get_string (self->settings, "last-view");
  td_window_show_view (self, last_view);

  if (DEVELOPMENT)
    gtk_widget_add_css_class (GTK_WIDGET (self), "devel");
}

TdWindow *
td_window_new (TdApplication *application)
{
  return g_object_new (TD_TYPE_WINDOW, "application", application, NULL);
}

/* Shows the page named @view ("chat", "pubsub" or "feeds"); an unknown
 * name is ignored with a message, never a crash. */
void
td_window_show_view (TdWindow   *self,
                     const char *view)
{
  g_return_if_fail (TD_IS_WINDOW (self));
  g_return_if_fail (view != NULL);

  if (adw_view_stack_get_child_by_name (self->stack, view) == NULL)
    {
      g_message ("No view named “%s”", view);
      return;
    }
  adw_view_stack_set_visible_child_name (self->stack, view);
}

const char *
td_window_get_visible_view (TdWindow *self)
{
  g_return_val_if_fail (TD_IS_WINDOW (self), NULL);

  return adw_view_stack_get_visible_child_name (self->stack);
}

void
td_window_add_toast (TdWindow   *self,
                     const char *message)
{
  g_return_if_fail (TD_IS_WINDOW (self));
  g_return_if_fail (message != NULL);

  adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (message));
}

/* For tests: what lays out the pages not shown at start. */
TdWarmUp *
td_window_get_warm_up (TdWindow *self)
{
  g_return_val_if_fail (TD_IS_WINDOW (self), NULL);

  return self->warm_up;
}

TdChatView *
td_window_get_chat_view (TdWindow *self)
{
  g_return_val_if_fail (TD_IS_WINDOW (self), NULL);

  return self->chat_page;
}
