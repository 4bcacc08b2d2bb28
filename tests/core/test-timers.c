/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "core/td-timers.h"
#include "td-core-test.h"

#define TICK_KIND 3

typedef struct
{
  GMainContext *context;
  GPtrArray    *mail;        /* payloads, freed with their destroy */
  GArray       *kinds;
  GArray       *times;       /* gint64 arrival times */
} Inbox;

static void
inbox_cb (TdMailboxId  id,
          TdMail      *mail,
          gpointer     user_data)
{
  Inbox *inbox = user_data;
  gint64 now = g_get_monotonic_time ();

  g_array_append_val (inbox->kinds, mail->kind);
  g_array_append_val (inbox->times, now);
  /* Keep the payload with its destroy so it is freed when the test ends. */
  g_ptr_array_add (inbox->mail, td_mail_new (mail->kind, mail->data, mail->destroy));
  td_mail_steal_data (mail);
}

static TdMailboxId
inbox_open (Inbox *inbox)
{
  inbox->context = g_main_context_new ();
  inbox->mail = g_ptr_array_new_with_free_func ((GDestroyNotify) td_mail_free);
  inbox->kinds = g_array_new (FALSE, FALSE, sizeof (guint));
  inbox->times = g_array_new (FALSE, FALSE, sizeof (gint64));
  return td_mailbox_open (inbox->context, G_PRIORITY_DEFAULT, inbox_cb, inbox, NULL);
}

static void
inbox_close (Inbox       *inbox,
             TdMailboxId  id)
{
  td_mailbox_close (id);
  while (g_main_context_iteration (inbox->context, FALSE))
    ;
  g_ptr_array_unref (inbox->mail);
  g_array_unref (inbox->kinds);
  g_array_unref (inbox->times);
  g_main_context_unref (inbox->context);
}

static gboolean
inbox_has (gpointer data)
{
  Inbox *inbox = ((gpointer *) data)[0];
  guint n = GPOINTER_TO_UINT (((gpointer *) data)[1]);

  return inbox->mail->len >= n;
}

/* Iterates until @inbox holds @n mail. */
static void
inbox_wait (Inbox *inbox,
            guint  n)
{
  gpointer args[2] = { inbox, GUINT_TO_POINTER (n) };

  td_test_iterate_until (inbox->context, inbox_has, args, TD_TEST_DEADLINE_MS);
}

/* Returns the timeout the next iteration of @context would poll with:
 * -1 when no timer at all is armed on it. */
static int
context_poll_timeout (GMainContext *context)
{
  GPollFD fds[16];
  int priority;
  int timeout = 0;
  int n_fds;

  /* One non-blocking iteration by hand, to see the timeout it computes. */
  g_assert_true (g_main_context_acquire (context));
  g_main_context_prepare (context, &priority);
  n_fds = g_main_context_query (context, priority, &timeout, fds, G_N_ELEMENTS (fds));
  g_assert_cmpint (n_fds, <=, G_N_ELEMENTS (fds));
  if (g_main_context_check (context, priority, fds, n_fds))
    g_main_context_dispatch (context);
  g_main_context_release (context);

  return timeout;
}

/* ------------------------------------------------------------------ */
/* Ticker                                                             */
/* ------------------------------------------------------------------ */

/* No animation, no timer; animations get ticks at the frame rate; the
 * timer goes away with the last animation. */
static void
test_ticker_idle (void)
{
  Inbox inbox;
  TdMailboxId id = inbox_open (&inbox);
  g_autoptr(TdTicker) ticker = td_ticker_new (inbox.context, 0);
  guint a, b;
  guint n;

  g_assert_false (td_ticker_is_armed (ticker));
  g_assert_cmpint (context_poll_timeout (inbox.context), ==, -1);

  a = td_ticker_add (ticker, id, TICK_KIND);
  b = td_ticker_add (ticker, id, TICK_KIND);
  g_assert_cmpuint (a, !=, b);
  g_assert_true (td_ticker_is_armed (ticker));
  g_assert_cmpint (context_poll_timeout (inbox.context), >=, 0);
  g_assert_cmpint (context_poll_timeout (inbox.context), <=, TD_TICKER_DEFAULT_INTERVAL_MS);

  /* Two animations, three frames each. */
  inbox_wait (&inbox, 6);
  for (guint i = 0; i < 6; i++)
    {
      TdMail *mail = g_ptr_array_index (inbox.mail, i);
      TdTick *tick = mail->data;

      g_assert_cmpuint (mail->kind, ==, TICK_KIND);
      g_assert_cmpuint (tick->animation, ==, i % 2 == 0 ? a : b);
      g_assert_cmpuint (tick->n_frame, ==, i / 2);
    }
  /* Frames are at least one interval apart (the timer never runs fast). */
  g_assert_cmpint (((TdTick *) ((TdMail *) g_ptr_array_index (inbox.mail, 4))->data)->frame_time
                   - ((TdTick *) ((TdMail *) g_ptr_array_index (inbox.mail, 0))->data)->frame_time,
                   >=, 2 * TD_TICKER_DEFAULT_INTERVAL_MS * 1000);

  td_ticker_remove (ticker, a);
  g_assert_true (td_ticker_is_armed (ticker));
  td_ticker_remove (ticker, b);
  g_assert_false (td_ticker_is_armed (ticker));
  g_assert_cmpuint (td_ticker_get_n_animations (ticker), ==, 0);

  /* Nothing armed: the context would sleep forever, and no tick comes. */
  td_test_iterate_for (inbox.context, 5);
  g_assert_cmpint (context_poll_timeout (inbox.context), ==, -1);
  n = inbox.mail->len;
  td_test_iterate_for (inbox.context, 4 * TD_TICKER_DEFAULT_INTERVAL_MS);
  g_assert_cmpuint (inbox.mail->len, ==, n);

  /* Removing an unknown animation is harmless. */
  td_ticker_remove (ticker, 999);

  inbox_close (&inbox, id);
}

/* An animation whose subscriber closed ends by itself, and the timer with
 * it. */
static void
test_ticker_closed_subscriber (void)
{
  Inbox inbox;
  TdMailboxId id = inbox_open (&inbox);
  TdMailboxId gone;
  g_autoptr(TdTicker) ticker = td_ticker_new (inbox.context, 5);

  gone = td_mailbox_open (inbox.context, G_PRIORITY_DEFAULT, inbox_cb, &inbox, NULL);
  td_ticker_add (ticker, gone, TICK_KIND);
  td_mailbox_close (gone);
  g_assert_true (td_ticker_is_armed (ticker));

  td_test_iterate_for (inbox.context, 30);
  g_assert_false (td_ticker_is_armed (ticker));
  g_assert_cmpuint (td_ticker_get_n_animations (ticker), ==, 0);
  g_assert_cmpint (context_poll_timeout (inbox.context), ==, -1);

  inbox_close (&inbox, id);
}

/* ------------------------------------------------------------------ */
/* Retry                                                              */
/* ------------------------------------------------------------------ */

/* Exponential, capped, and jitter only ever makes a delay shorter. */
static void
test_retry_policy (void)
{
  TdRetryPolicy policy = { 100, 2.0, 1000, 0.0 };
  const guint expected[] = { 100, 200, 400, 800, 1000, 1000 };
  TdRetryPolicy jittery = { 100, 2.0, 1000, 0.5 };
  TdRetryPolicy def = TD_RETRY_POLICY_DEFAULT;

  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    g_assert_cmpuint (td_retry_policy_delay (&policy, i + 1, 0.7), ==, expected[i]);
  /* Attempt 0 is treated as the first retry. */
  g_assert_cmpuint (td_retry_policy_delay (&policy, 0, 0.0), ==, 100);
  /* Huge attempt numbers do not overflow past the cap. */
  g_assert_cmpuint (td_retry_policy_delay (&policy, 10000, 0.0), ==, 1000);

  g_assert_cmpuint (td_retry_policy_delay (&jittery, 3, 0.0), ==, 400);
  g_assert_cmpuint (td_retry_policy_delay (&jittery, 3, 1.0), ==, 200);
  g_assert_cmpuint (td_retry_policy_delay (&jittery, 3, 0.5), ==, 300);
  for (guint i = 0; i < 1000; i++)
    {
      guint delay = td_retry_policy_delay_random (&jittery, 3);

      g_assert_cmpuint (delay, >=, 200);
      g_assert_cmpuint (delay, <=, 400);
    }

  g_assert_cmpuint (td_retry_policy_delay (&def, 1, 0.0), ==, 1000);
  g_assert_cmpuint (td_retry_policy_delay (&def, 30, 0.0), ==, 5 * 60 * 1000);
}

/* A retry schedule sends its mail when due, counts attempts, honours a
 * longer retry-after hint, and forgets everything on reset. */
static void
test_retry_schedule (void)
{
  TdRetryPolicy policy = { 20, 2.0, 1000, 0.0 };
  Inbox inbox;
  TdMailboxId id = inbox_open (&inbox);
  g_autoptr(TdRetry) retry = td_retry_new (&policy, id, 9);
  gint64 start;

  start = g_get_monotonic_time ();
  g_assert_cmpuint (td_retry_schedule (retry, 0), ==, 20);
  g_assert_true (td_retry_is_pending (retry));
  inbox_wait (&inbox, 1);
  g_assert_cmpint (g_array_index (inbox.times, gint64, 0) - start, >=, 20 * 1000);
  g_assert_cmpuint (GPOINTER_TO_UINT (((TdMail *) g_ptr_array_index (inbox.mail, 0))->data), ==, 1);
  g_assert_false (td_retry_is_pending (retry));

  /* Second attempt: 40 ms, unless the peer asks for longer. */
  start = g_get_monotonic_time ();
  g_assert_cmpuint (td_retry_schedule (retry, 120), ==, 120);
  g_assert_cmpuint (td_retry_get_attempt (retry), ==, 2);
  inbox_wait (&inbox, 2);
  g_assert_cmpint (g_array_index (inbox.times, gint64, 1) - start, >=, 120 * 1000);

  /* Cancelled: nothing comes. */
  td_retry_schedule (retry, 0);
  td_retry_cancel (retry);
  g_assert_false (td_retry_is_pending (retry));
  td_test_iterate_for (inbox.context, 120);
  g_assert_cmpuint (inbox.mail->len, ==, 2);

  td_retry_reset (retry);
  g_assert_cmpuint (td_retry_get_attempt (retry), ==, 0);
  g_assert_cmpuint (td_retry_schedule (retry, 0), ==, 20);

  g_clear_pointer (&retry, td_retry_free);
  inbox_close (&inbox, id);
}

/* ------------------------------------------------------------------ */
/* Hover                                                              */
/* ------------------------------------------------------------------ */

static gint n_hover_freed;

static void
hover_data_free (gpointer data)
{
  n_hover_freed++;
  g_free (data);
}

/* Mail comes after the hover delay; leaving cancels it; entering again
 * restarts the delay with the new target. */
static void
test_hover (void)
{
  Inbox inbox;
  TdMailboxId id = inbox_open (&inbox);
  g_autoptr(TdHoverTimer) hover = td_hover_timer_new (id, 4, 40);
  gint64 start;

  n_hover_freed = 0;

  /* Enter and leave before the delay: nothing. */
  td_hover_timer_enter (hover, g_strdup ("a"), hover_data_free);
  g_assert_true (td_hover_timer_is_pending (hover));
  td_hover_timer_leave (hover);
  g_assert_false (td_hover_timer_is_pending (hover));
  g_assert_cmpint (n_hover_freed, ==, 1);

  /* Move from b to c: only c is shown, a full delay after entering c. */
  td_hover_timer_enter (hover, g_strdup ("b"), hover_data_free);
  start = g_get_monotonic_time ();
  td_hover_timer_enter (hover, g_strdup ("c"), hover_data_free);
  g_assert_cmpint (n_hover_freed, ==, 2);
  inbox_wait (&inbox, 1);
  td_test_iterate_for (inbox.context, 60);
  g_assert_cmpuint (inbox.mail->len, ==, 1);
  g_assert_cmpstr (((TdMail *) g_ptr_array_index (inbox.mail, 0))->data, ==, "c");
  g_assert_cmpint (g_array_index (inbox.times, gint64, 0) - start, >=, 40 * 1000);
  g_assert_false (td_hover_timer_is_pending (hover));

  /* Freeing with a hover pending cancels it. */
  td_hover_timer_enter (hover, g_strdup ("d"), hover_data_free);
  g_clear_pointer (&hover, td_hover_timer_free);
  g_assert_cmpint (n_hover_freed, ==, 3);

  inbox_close (&inbox, id);
  g_assert_cmpint (n_hover_freed, ==, 4);
}

typedef struct
{
  GArray  *times;      /* gint64: when the callback ran */
  gint64   next;       /* what it sets next (once), or -1 */
  GSource *source;
} Deadline;

static gboolean
deadline_cb (gpointer data)
{
  Deadline *d = data;
  gint64 now = g_get_monotonic_time ();

  g_array_append_val (d->times, now);
  td_deadline_source_set (d->source, d->next);
  d->next = -1;
  return G_SOURCE_REMOVE;   /* not looked at: the source stays */
}

static void
test_deadline (void)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  Deadline d = { g_array_new (FALSE, FALSE, sizeof (gint64)), -1, NULL };
  gint64 start;

  d.source = td_deadline_source_new (deadline_cb, &d);
  g_source_attach (d.source, context);

  /* Nothing set: nothing runs. */
  td_test_iterate_for (context, 50);
  g_assert_cmpuint (d.times->len, ==, 0);
  g_assert_cmpint (g_source_get_ready_time (d.source), ==, -1);

  /* Once, at the time, and not again until set again. */
  start = g_get_monotonic_time ();
  td_deadline_source_set (d.source, start + 30 * 1000);
  td_test_iterate_for (context, 120);
  g_assert_cmpuint (d.times->len, ==, 1);
  g_assert_cmpint (g_array_index (d.times, gint64, 0) - start, >=, 30 * 1000);
  g_assert_cmpint (g_source_get_ready_time (d.source), ==, -1);

  /* The callback sets the next time itself. */
  start = g_get_monotonic_time ();
  d.next = start + 60 * 1000;
  td_deadline_source_set (d.source, start + 20 * 1000);
  td_test_iterate_for (context, 150);
  g_assert_cmpuint (d.times->len, ==, 3);
  g_assert_cmpint (g_array_index (d.times, gint64, 2) - start, >=, 60 * 1000);

  /* Earlier wins; a later time or -1 leaves it; -1 with set() disarms. */
  start = g_get_monotonic_time ();
  td_deadline_source_set (d.source, start + 10 * G_USEC_PER_SEC);
  td_deadline_source_set_earlier (d.source, start + 20 * G_USEC_PER_SEC);
  td_deadline_source_set_earlier (d.source, -1);
  g_assert_cmpint (g_source_get_ready_time (d.source), ==, start + 10 * G_USEC_PER_SEC);
  td_deadline_source_set_earlier (d.source, start + 20 * 1000);
  g_assert_cmpint (g_source_get_ready_time (d.source), ==, start + 20 * 1000);
  td_test_iterate_for (context, 80);
  g_assert_cmpuint (d.times->len, ==, 4);
  td_deadline_source_set_earlier (d.source, start + 10 * G_USEC_PER_SEC);
  td_deadline_source_set (d.source, -1);
  td_test_iterate_for (context, 50);
  g_assert_cmpuint (d.times->len, ==, 4);

  g_source_destroy (d.source);
  g_source_unref (d.source);
  g_array_unref (d.times);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/td/timers/ticker-idle", test_ticker_idle);
  g_test_add_func ("/td/timers/ticker-closed-subscriber", test_ticker_closed_subscriber);
  g_test_add_func ("/td/timers/retry-policy", test_retry_policy);
  g_test_add_func ("/td/timers/retry-schedule", test_retry_schedule);
  g_test_add_func ("/td/timers/hover", test_hover);
  g_test_add_func ("/td/timers/deadline", test_deadline);

  return g_test_run ();
}
