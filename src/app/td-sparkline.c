/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-sparkline"

#include "config.h"

#include "app/td-sparkline.h"

struct _TdSparkline
{
  GtkWidget        parent_instance;

  TdPubsubChannel *channel;      /* owned ref */
  gulong           changed_id;
};

G_DEFINE_FINAL_TYPE (TdSparkline, td_sparkline, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_CHANNEL,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
channel_changed_cb (TdSparkline *self)
{
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

/* Draws the closed buckets right to left, shifted left by the phase of
 * the bucket being filled so the line moves smoothly, not in steps. */
static void
td_sparkline_snapshot (GtkWidget   *widget,
                       GtkSnapshot *snapshot)
{
  TdSparkline *self = TD_SPARKLINE (widget);
  int width = gtk_widget_get_width (widget);
  int height = gtk_widget_get_height (widget);
  const guint *samples;
  guint max = 1;
  double step, shift;
  GdkRGBA color;
  cairo_t *cr;

  if (self->channel == NULL || width <= 2 || height <= 2)
    return;

  samples = td_pubsub_channel_get_samples (self->channel);
  for (guint i = 0; i < TD_PUBSUB_CHANNEL_N_SAMPLES; i++)
    max = MAX (max, samples[i]);

  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  gtk_style_context_get_color (gtk_widget_get_style_context (widget), &color);
  G_GNUC_END_IGNORE_DEPRECATIONS

  step = (double) width / (TD_PUBSUB_CHANNEL_N_SAMPLES - 2);
  shift = td_pubsub_channel_get_phase (self->channel) * step;

  cr = gtk_snapshot_append_cairo (snapshot, &GRAPHENE_RECT_INIT (0, 0, width, height));
  cairo_rectangle (cr, 0, 0, width, height);
  cairo_clip (cr);
  for (guint i = 0; i < TD_PUBSUB_CHANNEL_N_SAMPLES; i++)
    {
      double x = i * step - shift;
      double y = height - 1 - (height - 2) * (double) samples[i] / max;

      if (i == 0)
        cairo_move_to (cr, x, y);
      else
        cairo_line_to (cr, x, y);
    }
  cairo_set_line_width (cr, 1.5);
  cairo_set_line_join (cr, CAIRO_LINE_JOIN_ROUND);
  gdk_cairo_set_source_rgba (cr, &color);
  cairo_stroke_preserve (cr);
  cairo_line_to (cr, (TD_PUBSUB_CHANNEL_N_SAMPLES - 1) * step - shift, height);
  cairo_line_to (cr, -shift, height);
  cairo_close_path (cr);
  color.alpha *= 0.25;
  gdk_cairo_set_source_rgba (cr, &color);
  cairo_fill (cr);
  cairo_destroy (cr);
}

static void
td_sparkline_measure (GtkWidget      *widget,
                      GtkOrientation  orientation,
                      int             for_size,
                      int            *minimum,
                      int            *natural,
                      int            *minimum_baseline,
                      int            *natural_baseline)
{
  *minimum = orientation == GTK_ORIENTATION_HORIZONTAL ? 40 : 16;
  *natural = orientation == GTK_ORIENTATION_HORIZONTAL ? 80 : 20;
}

static void
td_sparkline_dispose (GObject *object)
{
  td_sparkline_set_channel (TD_SPARKLINE (object), NULL);

  G_OBJECT_CLASS (td_sparkline_parent_class)->dispose (object);
}

static void
td_sparkline_get_property (GObject    *object,
                           guint       prop_id,
                           GValue     *value,
                           GParamSpec *pspec)
{
  switch (prop_id)
    {
    case PROP_CHANNEL:
      g_value_set_object (value, TD_SPARKLINE (object)->channel);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
td_sparkline_set_property (GObject      *object,
                           guint         prop_id,
                           const GValue *value,
                           GParamSpec   *pspec)
{
  switch (prop_id)
    {
    case PROP_CHANNEL:
      td_sparkline_set_channel (TD_SPARKLINE (object), g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
td_sparkline_class_init (TdSparklineClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = td_sparkline_dispose;
  object_class->get_property = td_sparkline_get_property;
  object_class->set_property = td_sparkline_set_property;
  widget_class->snapshot = td_sparkline_snapshot;
  widget_class->measure = td_sparkline_measure;

  properties[PROP_CHANNEL] =
    g_param_spec_object ("channel", NULL, NULL, TD_TYPE_PUBSUB_CHANNEL,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_css_name (widget_class, "sparkline");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
td_sparkline_init (TdSparkline *self)
{
  gtk_widget_add_css_class (GTK_WIDGET (self), "accent");
}

GtkWidget *
td_sparkline_new (void)
{
  return g_object_new (TD_TYPE_SPARKLINE, NULL);
}

void
td_sparkline_set_channel (TdSparkline     *self,
                          TdPubsubChannel *channel)
{
  g_return_if_fail (TD_IS_SPARKLINE (self));
  g_return_if_fail (channel == NULL || TD_IS_PUBSUB_CHANNEL (channel));

  if (self->channel == channel)
    return;

  if (self->channel != NULL)
    g_clear_signal_handler (&self->changed_id, self->channel);
  g_set_object (&self->channel, channel);
  if (channel != NULL)
    self->changed_id = g_signal_connect_swapped (channel, "changed", G_CALLBACK (channel_changed_cb), self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CHANNEL]);
}

TdPubsubChannel *
td_sparkline_get_channel (TdSparkline *self)
{
  g_return_val_if_fail (TD_IS_SPARKLINE (self), NULL);
  return self->channel;
}
