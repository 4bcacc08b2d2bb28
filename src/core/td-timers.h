/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

#include "core/td-mailbox.h"

G_BEGIN_DECLS

/*
 * Timer mailboxes: mail that comes later.
 *
 * - TdTicker: animation ticks to subscribers at about 60 Hz, only while at
 *   least one animation is registered; when none is, no timer is armed.
 * - TdRetryPolicy / TdRetry: exponential backoff with jitter, for the farm
 *   and for network clients that reconnect.
 * - TdHoverTimer: mail after a hover delay, cancelled when the pointer
 *   leaves (delayed tooltips and previews).
 *
 * Tickers and hover timers belong to the thread that owns their context:
 * call them from there only.
 */

/* ------------------------------------------------------------------ */
/* Animation ticker                                                   */
/* ------------------------------------------------------------------ */

/* One frame at 60 Hz, rounded down so that a tick is never late for a
 * 60 Hz display. */
#define TD_TICKER_DEFAULT_INTERVAL_MS 16

typedef struct _TdTicker TdTicker;

/* The payload of tick mail. */
typedef struct
{
  guint  animation;    /* the id td_ticker_add() returned */
  gint64 frame_time;   /* monotonic time of this frame, in microseconds */
  guint  n_frame;      /* ticks this animation received, starting at 0 */
} TdTick;

TdTicker    *td_ticker_new                 (GMainContext  *context,
                                            guint          interval_ms);
void         td_ticker_free                (TdTicker      *ticker);
guint        td_ticker_add                 (TdTicker      *ticker,
                                            TdMailboxId    subscriber,
                                            guint          kind);
void         td_ticker_remove              (TdTicker      *ticker,
                                            guint          animation);
guint        td_ticker_get_n_animations    (TdTicker      *ticker);
gboolean     td_ticker_is_armed            (TdTicker      *ticker);

/* ------------------------------------------------------------------ */
/* Retry with backoff                                                 */
/* ------------------------------------------------------------------ */

/* delay(n) = min (cap_ms, base_ms * factor^(n-1)), then reduced by a
 * random fraction of up to `jitter` of itself, so that many clients that
 * failed together do not retry together. */
typedef struct
{
  guint  base_ms;
  double factor;
  guint  cap_ms;
  double jitter;       /* 0 (none) .. 1 (anywhere in [0, delay]) */
} TdRetryPolicy;

/* One second, doubling, capped at five minutes, up to 25% earlier: fast
 * enough for a blip, slow enough not to hammer a server that is down. */
#define TD_RETRY_POLICY_DEFAULT ((TdRetryPolicy) { 1000, 2.0, 5 * 60 * 1000, 0.25 })

guint        td_retry_policy_delay         (const TdRetryPolicy *policy,
                                            guint                attempt,
                                            double               random);
guint        td_retry_policy_delay_random  (const TdRetryPolicy *policy,
                                            guint                attempt);

typedef struct _TdRetry TdRetry;

TdRetry     *td_retry_new                  (const TdRetryPolicy *policy,
                                            TdMailboxId          target,
                                            guint                kind);
void         td_retry_free                 (TdRetry             *retry);
guint        td_retry_schedule             (TdRetry             *retry,
                                            guint                retry_after_ms);
void         td_retry_cancel               (TdRetry             *retry);
void         td_retry_reset                (TdRetry             *retry);
guint        td_retry_get_attempt          (TdRetry             *retry);
gboolean     td_retry_is_pending           (TdRetry             *retry);

/* ------------------------------------------------------------------ */
/* Hover (tooltip) timer                                              */
/* ------------------------------------------------------------------ */

/* GTK's own tooltip delay, so previews feel like tooltips. */
#define TD_HOVER_DEFAULT_DELAY_MS 500

typedef struct _TdHoverTimer TdHoverTimer;

TdHoverTimer *td_hover_timer_new           (TdMailboxId     target,
                                            guint           kind,
                                            guint           delay_ms);
void          td_hover_timer_free          (TdHoverTimer   *hover);
void          td_hover_timer_enter         (TdHoverTimer   *hover,
                                            gpointer        data,
                                            GDestroyNotify  destroy);
void          td_hover_timer_leave         (TdHoverTimer   *hover);
gboolean      td_hover_timer_is_pending    (TdHoverTimer   *hover);

/* ------------------------------------------------------------------ */
/* Deadline source                                                    */
/* ------------------------------------------------------------------ */

/* A source that calls its callback once at a monotonic time (in
 * microseconds) and then sleeps until given another: for timers whose next
 * time depends on what happened (keep-alive pings, timeouts), so that
 * nothing wakes while nothing is due. The callback sets the next time;
 * what it returns is not looked at. td_deadline_source_set() may be
 * called from any thread, td_deadline_source_set_earlier() only from the
 * one that runs the source's context. */
GSource      *td_deadline_source_new       (GSourceFunc     func,
                                            gpointer        data);
/* @time: when, or -1 for never. */
void          td_deadline_source_set       (GSource        *source,
                                            gint64          time);
/* Brings the time forward to @time if that is sooner, or sets it if none
 * is (-1 does nothing). */
void          td_deadline_source_set_earlier (GSource      *source,
                                            gint64          time);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdTicker, td_ticker_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdRetry, td_retry_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdHoverTimer, td_hover_timer_free)

G_END_DECLS
