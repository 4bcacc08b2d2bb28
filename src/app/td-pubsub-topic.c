/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-pubsub-topic"

#include "config.h"

#include "app/td-pubsub-topic.h"

struct _TdPubsubTopic
{
  GObject   parent_instance;

  char     *name;
  gboolean  is_pattern;
  gboolean  active;
  gboolean  capture;
};

G_DEFINE_FINAL_TYPE (TdPubsubTopic, td_pubsub_topic, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_NAME,
  PROP_IS_PATTERN,
  PROP_ACTIVE,
  PROP_CAPTURE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
td_pubsub_topic_finalize (GObject *object)
{
  g_free (TD_PUBSUB_TOPIC (object)->name);

  G_OBJECT_CLASS (td_pubsub_topic_parent_class)->finalize (object);
}

static void
td_pubsub_topic_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  TdPubsubTopic *self = TD_PUBSUB_TOPIC (object);

  switch (prop_id)
    {
    case PROP_NAME:
      g_value_set_string (value, self->name);
      break;
    case PROP_IS_PATTERN:
      g_value_set_boolean (value, self->is_pattern);
      break;
    case PROP_ACTIVE:
      g_value_set_boolean (value, self->active);
      break;
    case PROP_CAPTURE:
      g_value_set_boolean (value, self->capture);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
td_pubsub_topic_class_init (TdPubsubTopicClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = td_pubsub_topic_finalize;
  object_class->get_property = td_pubsub_topic_get_property;

  properties[PROP_NAME] =
    g_param_spec_string ("name", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_IS_PATTERN] =
    g_param_spec_boolean ("is-pattern", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_ACTIVE] =
    g_param_spec_boolean ("active", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_CAPTURE] =
    g_param_spec_boolean ("capture", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
td_pubsub_topic_init (TdPubsubTopic *self)
{
}

TdPubsubTopic *
td_pubsub_topic_new (const char *name,
                     gboolean    is_pattern)
{
  TdPubsubTopic *self;

  g_return_val_if_fail (name != NULL, NULL);

  self = g_object_new (TD_TYPE_PUBSUB_TOPIC, NULL);
  self->name = g_strdup (name);
  self->is_pattern = !!is_pattern;
  return self;
}

const char *
td_pubsub_topic_get_name (TdPubsubTopic *self)
{
  g_return_val_if_fail (TD_IS_PUBSUB_TOPIC (self), NULL);
  return self->name;
}

gboolean
td_pubsub_topic_get_is_pattern (TdPubsubTopic *self)
{
  g_return_val_if_fail (TD_IS_PUBSUB_TOPIC (self), FALSE);
  return self->is_pattern;
}

gboolean
td_pubsub_topic_get_active (TdPubsubTopic *self)
{
  g_return_val_if_fail (TD_IS_PUBSUB_TOPIC (self), FALSE);
  return self->active;
}

/* Marks whether the server has confirmed the subscription. */
void
td_pubsub_topic_set_active (TdPubsubTopic *self,
                            gboolean       active)
{
  g_return_if_fail (TD_IS_PUBSUB_TOPIC (self));

  active = !!active;
  if (self->active == active)
    return;
  self->active = active;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ACTIVE]);
}

/* TRUE if messages of this subscription are saved to the database. */
gboolean
td_pubsub_topic_get_capture (TdPubsubTopic *self)
{
  g_return_val_if_fail (TD_IS_PUBSUB_TOPIC (self), FALSE);
  return self->capture;
}

/* Only the flag: the view saves it and does the capturing. */
void
td_pubsub_topic_set_capture (TdPubsubTopic *self,
                             gboolean       capture)
{
  g_return_if_fail (TD_IS_PUBSUB_TOPIC (self));

  capture = !!capture;
  if (self->capture == capture)
    return;
  self->capture = capture;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CAPTURE]);
}
