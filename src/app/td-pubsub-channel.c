/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-pubsub-channel"

#include "config.h"

#include <string.h>

#include "app/td-pubsub-channel.h"

struct _TdPubsubChannel
{
  GObject  parent_instance;

  char    *name;
  guint64  total;
  guint    current;                              /* the bucket being filled */
  guint    samples[TD_PUBSUB_CHANNEL_N_SAMPLES]; /* oldest first */
  double   phase;                                /* 0..1 through the current bucket */
};

G_DEFINE_FINAL_TYPE (TdPubsubChannel, td_pubsub_channel, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_TOTAL,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum {
  CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
td_pubsub_channel_finalize (GObject *object)
{
  TdPubsubChannel *self = TD_PUBSUB_CHANNEL (object);

  g_free (self->name);

  G_OBJECT_CLASS (td_pubsub_channel_parent_class)->finalize (object);
}

static void
td_pubsub_channel_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  TdPubsubChannel *self = TD_PUBSUB_CHANNEL (object);

  switch (prop_id)
    {
    case PROP_TOTAL:
      g_value_set_uint64 (value, self->total);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
td_pubsub_channel_class_init (TdPubsubChannelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = td_pubsub_channel_finalize;
  object_class->get_property = td_pubsub_channel_get_property;

  properties[PROP_TOTAL] =
    g_param_spec_uint64 ("total", NULL, NULL, 0, G_MAXUINT64, 0,
                         G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                   0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
td_pubsub_channel_init (TdPubsubChannel *self)
{
}

TdPubsubChannel *
td_pubsub_channel_new (const char *name)
{
  TdPubsubChannel *self;

  g_return_val_if_fail (name != NULL, NULL);

  self = g_object_new (TD_TYPE_PUBSUB_CHANNEL, NULL);
  self->name = g_strdup (name);
  return self;
}

const char *
td_pubsub_channel_get_name (TdPubsubChannel *self)
{
  g_return_val_if_fail (TD_IS_PUBSUB_CHANNEL (self), NULL);
  return self->name;
}

guint64
td_pubsub_channel_get_total (TdPubsubChannel *self)
{
  g_return_val_if_fail (TD_IS_PUBSUB_CHANNEL (self), 0);
  return self->total;
}

/* Counts @n messages that just arrived. */
void
td_pubsub_channel_count (TdPubsubChannel *self,
                         guint            n)
{
  g_return_if_fail (TD_IS_PUBSUB_CHANNEL (self));

  self->current += n;
  self->total += n;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TOTAL]);
}

/* Closes the current bucket. Returns TRUE while the history still holds
 * messages (the sparkline has something to show). */
gboolean
td_pubsub_channel_shift (TdPubsubChannel *self)
{
  g_return_val_if_fail (TD_IS_PUBSUB_CHANNEL (self), FALSE);

  memmove (self->samples, self->samples + 1, sizeof self->samples - sizeof self->samples[0]);
  self->samples[TD_PUBSUB_CHANNEL_N_SAMPLES - 1] = self->current;
  self->current = 0;
  return !td_pubsub_channel_is_idle (self);
}

/* One animation frame: @phase is how far the current bucket is. */
void
td_pubsub_channel_tick (TdPubsubChannel *self,
                        double           phase)
{
  g_return_if_fail (TD_IS_PUBSUB_CHANNEL (self));

  self->phase = CLAMP (phase, 0.0, 1.0);
  g_signal_emit (self, signals[CHANGED], 0);
}

double
td_pubsub_channel_get_phase (TdPubsubChannel *self)
{
  g_return_val_if_fail (TD_IS_PUBSUB_CHANNEL (self), 0.0);
  return self->phase;
}

/* Returns TD_PUBSUB_CHANNEL_N_SAMPLES closed buckets, oldest first. */
const guint *
td_pubsub_channel_get_samples (TdPubsubChannel *self)
{
  g_return_val_if_fail (TD_IS_PUBSUB_CHANNEL (self), NULL);
  return self->samples;
}

/* Messages per second over the last second of closed buckets. */
double
td_pubsub_channel_get_rate (TdPubsubChannel *self)
{
  const guint per_second = 1000 / TD_PUBSUB_CHANNEL_BUCKET_MS;
  guint sum = 0;

  g_return_val_if_fail (TD_IS_PUBSUB_CHANNEL (self), 0.0);

  for (guint i = TD_PUBSUB_CHANNEL_N_SAMPLES - per_second; i < TD_PUBSUB_CHANNEL_N_SAMPLES; i++)
    sum += self->samples[i];
  return sum;
}

/* TRUE when nothing arrived during the whole history. */
gboolean
td_pubsub_channel_is_idle (TdPubsubChannel *self)
{
  g_return_val_if_fail (TD_IS_PUBSUB_CHANNEL (self), TRUE);

  if (self->current > 0)
    return FALSE;
  for (guint i = 0; i < TD_PUBSUB_CHANNEL_N_SAMPLES; i++)
    if (self->samples[i] > 0)
      return FALSE;
  return TRUE;
}
