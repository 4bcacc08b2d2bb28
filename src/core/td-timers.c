/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-timers"

#include "config.h"

#include <math.h>

#include "core/td-timers.h"

/* Between GTK's resize (G_PRIORITY_HIGH_IDLE + 10) and redraw (+ 20)
 * priorities: ticks go out before the frame they belong to is drawn,
 * while input (G_PRIORITY_DEFAULT) still goes first. */
#define TD_TICKER_PRIORITY (G_PRIORITY_HIGH_IDLE + 15)

/* ------------------------------------------------------------------ */
/* Animation ticker                                                   */
/* ------------------------------------------------------------------ */

typedef struct
{
  guint       id;
  TdMailboxId subscriber;
  guint       kind;
  guint       n_frame;
} TdTickerAnimation;

struct _TdTicker
{
  GMainContext *context;        /* owned */
  guint         interval_ms;
  GSource      *source;         /* owned; NULL when nothing animates */
  GPtrArray    *animations;     /* TdTickerAnimation, in the order added */
  guint         next_id;
};

/* Sends one tick to every animation; animations whose subscriber has
 * closed are dropped, and the timer stops with the last one. */
static gboolean
td_ticker_tick_cb (gpointer data)
{
  TdTicker *self = data;
  /* The time of this main-loop iteration: the same for every animation,
   * and the time GLib schedules the next tick from. */
  gint64 now = g_source_get_time (self->source);

  for (guint i = 0; i < self->animations->len;)
    {
      TdTickerAnimation *animation = g_ptr_array_index (self->animations, i);
      TdTick *tick = g_new (TdTick, 1);

      tick->animation = animation->id;
      tick->frame_time = now;
      tick->n_frame = animation->n_frame++;

      if (td_mail_send_new (animation->subscriber, animation->kind, tick, g_free))
        i++;
      else
        g_ptr_array_remove_index (self->animations, i);
    }

  if (self->animations->len == 0)
    {
      /* Returning REMOVE drops the context's ref; drop ours too. */
      g_clear_pointer (&self->source, g_source_unref);
      return G_SOURCE_REMOVE;
    }

  return G_SOURCE_CONTINUE;
}

static void
td_ticker_arm (TdTicker *self)
{
  if (self->source != NULL)
    return;

  self->source = g_timeout_source_new (self->interval_ms);
  g_source_set_static_name (self->source, "TdTicker");
  g_source_set_priority (self->source, TD_TICKER_PRIORITY);
  g_source_set_callback (self->source, td_ticker_tick_cb, self, NULL);
  g_source_attach (self->source, self->context);
}

static void
td_ticker_disarm (TdTicker *self)
{
  if (self->source == NULL)
    return;

  g_source_destroy (self->source);
  g_clear_pointer (&self->source, g_source_unref);
}

/* Returns a ticker that delivers ticks every @interval_ms (0: about 60 Hz)
 * from a timer on @context (NULL: the global default context). */
TdTicker *
td_ticker_new (GMainContext *context,
               guint         interval_ms)
{
  TdTicker *self = g_new0 (TdTicker, 1);

  if (context == NULL)
    context = g_main_context_default ();

  self->context = g_main_context_ref (context);
  self->interval_ms = interval_ms > 0 ? interval_ms : TD_TICKER_DEFAULT_INTERVAL_MS;
  self->animations = g_ptr_array_new_with_free_func (g_free);
  self->next_id = 1;

  return self;
}

void
td_ticker_free (TdTicker *self)
{
  if (self == NULL)
    return;

  td_ticker_disarm (self);
  g_ptr_array_unref (self->animations);
  g_main_context_unref (self->context);
  g_free (self);
}

/* Registers an animation: @subscriber gets a TdTick of @kind every frame
 * until td_ticker_remove() (or until it closes). Returns the animation id. */
guint
td_ticker_add (TdTicker    *self,
               TdMailboxId  subscriber,
               guint        kind)
{
  TdTickerAnimation *animation;

  g_return_val_if_fail (self != NULL, 0);
  g_return_val_if_fail (subscriber != TD_MAILBOX_NONE, 0);

  animation = g_new0 (TdTickerAnimation, 1);
  animation->id = self->next_id++;
  animation->subscriber = subscriber;
  animation->kind = kind;
  g_ptr_array_add (self->animations, animation);

  td_ticker_arm (self);

  return animation->id;
}

/* Ends an animation; the timer is disarmed when it was the last one.
 * Unknown ids are ignored (the animation may have ended by itself). */
void
td_ticker_remove (TdTicker *self,
                  guint     animation)
{
  g_return_if_fail (self != NULL);

  for (guint i = 0; i < self->animations->len; i++)
    {
      TdTickerAnimation *candidate = g_ptr_array_index (self->animations, i);

      if (candidate->id == animation)
        {
          g_ptr_array_remove_index (self->animations, i);
          break;
        }
    }

  if (self->animations->len == 0)
    td_ticker_disarm (self);
}

guint
td_ticker_get_n_animations (TdTicker *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->animations->len;
}

/* Returns TRUE if the ticker has a timer armed on its context. */
gboolean
td_ticker_is_armed (TdTicker *self)
{
  g_return_val_if_fail (self != NULL, FALSE);

  return self->source != NULL;
}

/* ------------------------------------------------------------------ */
/* Retry with backoff                                                 */
/* ------------------------------------------------------------------ */

/* Returns the delay before retry number @attempt (1 for the first retry)
 * under @policy, with @random in [0, 1) choosing the jitter. */
guint
td_retry_policy_delay (const TdRetryPolicy *policy,
                       guint                attempt,
                       double               random)
{
  double delay;
  double jitter;

  g_return_val_if_fail (policy != NULL, 0);

  attempt = MAX (attempt, 1);
  delay = policy->base_ms * pow (MAX (policy->factor, 1.0), attempt - 1);
  if (policy->cap_ms > 0)
    delay = MIN (delay, (double) policy->cap_ms);
  delay = MIN (delay, (double) G_MAXUINT);

  jitter = CLAMP (policy->jitter, 0.0, 1.0);
  random = CLAMP (random, 0.0, 1.0);
  delay -= delay * jitter * random;

  return (guint) delay;
}

/* Like td_retry_policy_delay() with a random jitter. */
guint
td_retry_policy_delay_random (const TdRetryPolicy *policy,
                              guint                attempt)
{
  return td_retry_policy_delay (policy, attempt, g_random_double ());
}

struct _TdRetry
{
  TdRetryPolicy policy;
  TdMailboxId   target;
  guint         kind;
  guint         attempt;
  guint         timeout;        /* td_mail_send_after() handle, or 0 */
};

/* Returns a retry schedule that sends mail of @kind (payload: the attempt
 * number, GUINT_TO_POINTER) to @target each time it is due. */
TdRetry *
td_retry_new (const TdRetryPolicy *policy,
              TdMailboxId          target,
              guint                kind)
{
  TdRetry *self;

  g_return_val_if_fail (policy != NULL, NULL);

  self = g_new0 (TdRetry, 1);
  self->policy = *policy;
  self->target = target;
  self->kind = kind;

  return self;
}

void
td_retry_free (TdRetry *self)
{
  if (self == NULL)
    return;

  td_retry_cancel (self);
  g_free (self);
}

/* Counts one more failed attempt and schedules the retry mail after the
 * backoff delay, or after @retry_after_ms if the peer asked for longer.
 * Replaces a retry already pending. Returns the delay in milliseconds. */
guint
td_retry_schedule (TdRetry *self,
                   guint    retry_after_ms)
{
  guint delay;

  g_return_val_if_fail (self != NULL, 0);

  td_retry_cancel (self);
  self->attempt++;
  delay = MAX (td_retry_policy_delay_random (&self->policy, self->attempt), retry_after_ms);
  self->timeout = td_mail_send_after (self->target, delay,
                                      td_mail_new (self->kind, GUINT_TO_POINTER (self->attempt), NULL));

  return delay;
}

/* Cancels the pending retry mail, if any; the attempt count stays. */
void
td_retry_cancel (TdRetry *self)
{
  g_return_if_fail (self != NULL);

  td_mail_cancel_timeout (self->timeout);
  self->timeout = 0;
}

/* After a success: cancels what is pending and starts over at attempt 0. */
void
td_retry_reset (TdRetry *self)
{
  g_return_if_fail (self != NULL);

  td_retry_cancel (self);
  self->attempt = 0;
}

guint
td_retry_get_attempt (TdRetry *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->attempt;
}

gboolean
td_retry_is_pending (TdRetry *self)
{
  g_return_val_if_fail (self != NULL, FALSE);

  return self->timeout != 0 && td_mail_timeout_is_pending (self->timeout);
}

/* ------------------------------------------------------------------ */
/* Hover timer                                                        */
/* ------------------------------------------------------------------ */

struct _TdHoverTimer
{
  TdMailboxId target;
  guint       kind;
  guint       delay_ms;
  guint       timeout;          /* td_mail_send_after() handle, or 0 */
};

/* Returns a hover timer that sends mail of @kind to @target once the
 * pointer has rested for @delay_ms (0: TD_HOVER_DEFAULT_DELAY_MS). */
TdHoverTimer *
td_hover_timer_new (TdMailboxId target,
                    guint       kind,
                    guint       delay_ms)
{
  TdHoverTimer *self = g_new0 (TdHoverTimer, 1);

  self->target = target;
  self->kind = kind;
  self->delay_ms = delay_ms > 0 ? delay_ms : TD_HOVER_DEFAULT_DELAY_MS;

  return self;
}

void
td_hover_timer_free (TdHoverTimer *self)
{
  if (self == NULL)
    return;

  td_hover_timer_leave (self);
  g_free (self);
}

/* The pointer entered something: after the delay, @data (owned, freed
 * with @destroy) is sent as mail. Entering again restarts the delay with
 * the new data. */
void
td_hover_timer_enter (TdHoverTimer   *self,
                      gpointer        data,
                      GDestroyNotify  destroy)
{
  g_return_if_fail (self != NULL);

  td_hover_timer_leave (self);
  self->timeout = td_mail_send_after (self->target, self->delay_ms,
                                      td_mail_new (self->kind, data, destroy));
}

/* The pointer left: the pending mail, if any, is cancelled and freed. */
void
td_hover_timer_leave (TdHoverTimer *self)
{
  g_return_if_fail (self != NULL);

  td_mail_cancel_timeout (self->timeout);
  self->timeout = 0;
}

gboolean
td_hover_timer_is_pending (TdHoverTimer *self)
{
  g_return_val_if_fail (self != NULL, FALSE);

  return self->timeout != 0 && td_mail_timeout_is_pending (self->timeout);
}

/* ------------------------------------------------------------------ */
/* Deadline source                                                    */
/* ------------------------------------------------------------------ */

static gboolean
td_deadline_source_dispatch (GSource     *source,
                             GSourceFunc  callback,
                             gpointer     data)
{
  g_source_set_ready_time (source, -1);
  if (callback != NULL)
    callback (data);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs td_deadline_source_funcs = {
  .dispatch = td_deadline_source_dispatch,
};

GSource *
td_deadline_source_new (GSourceFunc func,
                        gpointer    data)
{
  GSource *source = g_source_new (&td_deadline_source_funcs, sizeof (GSource));

  g_source_set_static_name (source, "[tidings] deadline");
  g_source_set_callback (source, func, data, NULL);
  return source;
}

void
td_deadline_source_set (GSource *source,
                        gint64   time)
{
  g_return_if_fail (source != NULL);

  g_source_set_ready_time (source, time < 0 ? -1 : time);
}

void
td_deadline_source_set_earlier (GSource *source,
                                gint64   time)
{
  gint64 current;

  g_return_if_fail (source != NULL);

  if (time < 0)
    return;
  current = g_source_get_ready_time (source);
  if (current < 0 || time < current)
    g_source_set_ready_time (source, time);
}
