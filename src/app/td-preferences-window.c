/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-preferences-window"

#include "config.h"

#include <glib/gi18n.h>

#include "app/td-preferences-window.h"

struct _TdPreferencesWindow
{
  AdwPreferencesWindow  parent_instance;

  /* Template widgets */
  GtkSwitch            *local_server_switch;
  GtkSpinButton        *pubsub_port_spin;
  GtkSpinButton        *line_port_spin;
  GtkSpinButton        *chat_port_spin;
  GtkSpinButton        *refresh_interval_spin;
  GtkSpinButton        *items_kept_spin;
  GtkSwitch            *feed_notifications_switch;
  GtkSpinButton        *ring_size_spin;
  GtkSwitch            *previews_unknown_switch;

  /* Owned */
  GSettings            *settings;
};

G_DEFINE_FINAL_TYPE (TdPreferencesWindow, td_preferences_window, ADW_TYPE_PREFERENCES_WINDOW)

enum {
  PROP_0,
  PROP_SETTINGS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
bind_value (TdPreferencesWindow *self,
            const char          *key,
            GtkSpinButton       *spin)
{
  g_settings_bind (self->settings, key,
                   gtk_spin_button_get_adjustment (spin), "value",
                   G_SETTINGS_BIND_DEFAULT);
}

static void
td_preferences_window_constructed (GObject *object)
{
  TdPreferencesWindow *self = TD_PREFERENCES_WINDOW (object);

  G_OBJECT_CLASS (td_preferences_window_parent_class)->constructed (object);

  g_settings_bind (self->settings, "local-server", self->local_server_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);
  bind_value (self, "local-pubsub-port", self->pubsub_port_spin);
  bind_value (self, "local-line-port", self->line_port_spin);
  bind_value (self, "local-chat-port", self->chat_port_spin);
  bind_value (self, "feed-refresh-interval", self->refresh_interval_spin);
  bind_value (self, "feed-items-kept", self->items_kept_spin);
  g_settings_bind (self->settings, "feed-notifications", self->feed_notifications_switch,
                   "active", G_SETTINGS_BIND_DEFAULT);
  bind_value (self, "pubsub-ring-size", self->ring_size_spin);
  g_settings_bind (self->settings, "chat-previews-unknown-hosts", self->previews_unknown_switch,
                   "active", G_SETTINGS_BIND_DEFAULT);
}

static void
td_preferences_window_dispose (GObject *object)
{
  TdPreferencesWindow *self = TD_PREFERENCES_WINDOW (object);

  gtk_widget_dispose_template (GTK_WIDGET (self), TD_TYPE_PREFERENCES_WINDOW);
  g_clear_object (&self->settings);

  G_OBJECT_CLASS (td_preferences_window_parent_class)->dispose (object);
}

static void
td_preferences_window_set_property (GObject      *object,
                                    guint         prop_id,
                                    const GValue *value,
                                    GParamSpec   *pspec)
{
  TdPreferencesWindow *self = TD_PREFERENCES_WINDOW (object);

  switch (prop_id)
    {
    case PROP_SETTINGS:
      self->settings = g_value_dup_object (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
td_preferences_window_class_init (TdPreferencesWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = td_preferences_window_constructed;
  object_class->dispose = td_preferences_window_dispose;
  object_class->set_property = td_preferences_window_set_property;

  properties[PROP_SETTINGS] =
    g_param_spec_object ("settings", NULL, NULL, G_TYPE_SETTINGS,
                         G_PARAM_WRITABLE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/tidings/Tidings/td-preferences-window.ui");
  gtk_widget_class_bind_template_child (widget_class, TdPreferencesWindow, local_server_switch);
  gtk_widget_class_bind_template_child (widget_class, TdPreferencesWindow, pubsub_port_spin);
  gtk_widget_class_bind_template_child (widget_class, TdPreferencesWindow, line_port_spin);
  gtk_widget_class_bind_template_child (widget_class, TdPreferencesWindow, chat_port_spin);
  gtk_widget_class_bind_template_child (widget_class, TdPreferencesWindow, refresh_interval_spin);
  gtk_widget_class_bind_template_child (widget_class, TdPreferencesWindow, items_kept_spin);
  gtk_widget_class_bind_template_child (widget_class, TdPreferencesWindow, feed_notifications_switch);
  gtk_widget_class_bind_template_child (widget_class, TdPreferencesWindow, ring_size_spin);
  gtk_widget_class_bind_template_child (widget_class, TdPreferencesWindow, previews_unknown_switch);
}

static void
td_preferences_window_init (TdPreferencesWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

TdPreferencesWindow *
td_preferences_window_new (GSettings *settings)
{
  g_return_val_if_fail (G_IS_SETTINGS (settings), NULL);

  return g_object_new (TD_TYPE_PREFERENCES_WINDOW, "settings", settings, NULL);
}
