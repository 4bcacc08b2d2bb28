/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "core/td-mailbox.h"
#include "td-core-test.h"

/* ------------------------------------------------------------------ */
/* Helpers                                                            */
/* ------------------------------------------------------------------ */

/* Payload that counts its own destruction, to prove nothing leaks and
 * nothing is freed twice. */
typedef struct
{
  guint  sender;
  guint  seq;
  gint  *n_freed;
} Item;

static Item *
item_new (guint  sender,
          guint  seq,
          gint  *n_freed)
{
  Item *item = g_new0 (Item, 1);

  item->sender = sender;
  item->seq = seq;
  item->n_freed = n_freed;
  return item;
}

static void
item_free (gpointer data)
{
  Item *item = data;

  if (item->n_freed != NULL)
    g_atomic_int_inc (item->n_freed);
  g_free (item);
}

static gboolean
send_item (TdMailboxId  id,
           guint        sender,
           guint        seq,
           gint        *n_freed)
{
  return td_mail_send_new (id, 1, item_new (sender, seq, n_freed), item_free);
}

typedef struct
{
  GMainContext *context;
  GPtrArray    *got;         /* Item, stolen from delivered mail */
  GArray       *got_ids;     /* TdMailboxId the mail came to */
  guint         n_delivered;
  gint          done;
  guint         expect;
  gint64        last_time;
  gboolean      close_on_first;
} Sink;

static void
sink_init (Sink *sink)
{
  memset (sink, 0, sizeof *sink);
  sink->context = g_main_context_new ();
  sink->got = g_ptr_array_new_with_free_func (item_free);
  sink->got_ids = g_array_new (FALSE, FALSE, sizeof (TdMailboxId));
}

static void
sink_clear (Sink *sink)
{
  g_clear_pointer (&sink->got, g_ptr_array_unref);
  g_clear_pointer (&sink->got_ids, g_array_unref);
  /* Run pending source finalizers, then drop the context. */
  while (g_main_context_iteration (sink->context, FALSE))
    ;
  g_clear_pointer (&sink->context, g_main_context_unref);
}

static void
sink_cb (TdMailboxId  id,
         TdMail      *mail,
         gpointer     user_data)
{
  Sink *sink = user_data;

  g_assert_true (g_main_context_is_owner (sink->context));
  g_ptr_array_add (sink->got, td_mail_steal_data (mail));
  g_array_append_val (sink->got_ids, id);
  sink->n_delivered++;
  sink->last_time = g_get_monotonic_time ();
  if (sink->expect > 0 && sink->n_delivered >= sink->expect)
    sink->done = TRUE;
  if (sink->close_on_first)
    td_mailbox_close (id);
}

static TdMailboxId
sink_open (Sink *sink,
           int   priority)
{
  return td_mailbox_open (sink->context, priority, sink_cb, sink, NULL);
}

/* ------------------------------------------------------------------ */
/* Ordering                                                           */
/* ------------------------------------------------------------------ */

#define N_ORDER_SENDERS 4
#define N_ORDER_PER_SENDER 20000

typedef struct
{
  TdMailboxId id;
  guint       sender;
  guint       count;
  gint       *n_freed;
} Producer;

static gpointer
producer_thread (gpointer data)
{
  Producer *p = data;

  for (guint i = 0; i < p->count; i++)
    g_assert_true (send_item (p->id, p->sender, i, p->n_freed));

  return NULL;
}

/* Mail from each sender arrives in the order that sender sent it. */
static void
test_order_per_sender (void)
{
  Sink sink;
  Producer producers[N_ORDER_SENDERS];
  GThread *threads[N_ORDER_SENDERS];
  guint next[N_ORDER_SENDERS] = { 0 };
  gint n_freed = 0;
  TdMailboxId id;

  sink_init (&sink);
  sink.expect = N_ORDER_SENDERS * N_ORDER_PER_SENDER;
  id = sink_open (&sink, G_PRIORITY_DEFAULT);

  for (guint i = 0; i < N_ORDER_SENDERS; i++)
    {
      producers[i] = (Producer) { id, i, N_ORDER_PER_SENDER, &n_freed };
      threads[i] = g_thread_new ("producer", producer_thread, &producers[i]);
    }

  td_test_iterate_until_flag (sink.context, &sink.done, TD_TEST_DEADLINE_MS);

  for (guint i = 0; i < N_ORDER_SENDERS; i++)
    g_thread_join (threads[i]);

  g_assert_cmpuint (sink.got->len, ==, N_ORDER_SENDERS * N_ORDER_PER_SENDER);
  for (guint i = 0; i < sink.got->len; i++)
    {
      Item *item = g_ptr_array_index (sink.got, i);

      g_assert_cmpuint (item->sender, <, N_ORDER_SENDERS);
      g_assert_cmpuint (item->seq, ==, next[item->sender]);
      next[item->sender]++;
    }

  td_mailbox_close (id);
  sink_clear (&sink);
  g_assert_cmpint (n_freed, ==, N_ORDER_SENDERS * N_ORDER_PER_SENDER);
}

/* Mail sent from one thread before and after an iteration keeps order,
 * across drained batches. */
static void
test_order_single_thread (void)
{
  Sink sink;
  TdMailboxId id;

  sink_init (&sink);
  id = sink_open (&sink, G_PRIORITY_DEFAULT);
  td_mailbox_set_budget (id, 3, 0);

  for (guint i = 0; i < 10; i++)
    send_item (id, 0, i, NULL);
  g_main_context_iteration (sink.context, FALSE);
  for (guint i = 10; i < 20; i++)
    send_item (id, 0, i, NULL);
  sink.expect = 20;
  td_test_iterate_until_flag (sink.context, &sink.done, TD_TEST_DEADLINE_MS);

  for (guint i = 0; i < 20; i++)
    g_assert_cmpuint (((Item *) g_ptr_array_index (sink.got, i))->seq, ==, i);

  td_mailbox_close (id);
  sink_clear (&sink);
}

/* ------------------------------------------------------------------ */
/* Many producers                                                     */
/* ------------------------------------------------------------------ */

#define N_MANY_SENDERS 8
#define N_MANY_PER_SENDER 10000

/* Many threads flooding one mailbox: every mail arrives exactly once. */
static void
test_many_producers (void)
{
  Sink sink;
  Producer producers[N_MANY_SENDERS];
  GThread *threads[N_MANY_SENDERS];
  g_autofree guint8 *seen = NULL;
  gint n_freed = 0;
  TdMailboxId id;

  sink_init (&sink);
  sink.expect = N_MANY_SENDERS * N_MANY_PER_SENDER;
  id = sink_open (&sink, G_PRIORITY_DEFAULT);
  seen = g_new0 (guint8, N_MANY_SENDERS * N_MANY_PER_SENDER);

  for (guint i = 0; i < N_MANY_SENDERS; i++)
    {
      producers[i] = (Producer) { id, i, N_MANY_PER_SENDER, &n_freed };
      threads[i] = g_thread_new ("producer", producer_thread, &producers[i]);
    }

  td_test_iterate_until_flag (sink.context, &sink.done, TD_TEST_DEADLINE_MS);
  for (guint i = 0; i < N_MANY_SENDERS; i++)
    g_thread_join (threads[i]);

  /* Nothing more than expected trickles in. */
  td_test_iterate_for (sink.context, 20);
  g_assert_cmpuint (sink.got->len, ==, N_MANY_SENDERS * N_MANY_PER_SENDER);

  for (guint i = 0; i < sink.got->len; i++)
    {
      Item *item = g_ptr_array_index (sink.got, i);
      guint index = item->sender * N_MANY_PER_SENDER + item->seq;

      g_assert_cmpuint (seen[index], ==, 0);
      seen[index] = 1;
    }

  td_mailbox_close (id);
  sink_clear (&sink);
  g_assert_cmpint (n_freed, ==, N_MANY_SENDERS * N_MANY_PER_SENDER);
}

/* ------------------------------------------------------------------ */
/* Stale mail                                                         */
/* ------------------------------------------------------------------ */

/* Mail pending at close and mail sent after close are freed and counted,
 * never delivered. */
static void
test_stale_after_close (void)
{
  Sink sink;
  gint n_freed = 0;
  guint64 stale_before = td_mailbox_get_stale_count ();
  TdMailboxId id;

  sink_init (&sink);
  id = sink_open (&sink, G_PRIORITY_DEFAULT);
  g_assert_true (td_mailbox_is_open (id));

  for (guint i = 0; i < 5; i++)
    g_assert_true (send_item (id, 0, i, &n_freed));

  td_mailbox_close (id);
  g_assert_false (td_mailbox_is_open (id));
  g_assert_cmpuint (td_mailbox_get_stale_count () - stale_before, ==, 5);
  g_assert_cmpint (n_freed, ==, 5);

  g_assert_false (send_item (id, 0, 5, &n_freed));
  g_assert_cmpuint (td_mailbox_get_stale_count () - stale_before, ==, 6);
  g_assert_cmpint (n_freed, ==, 6);

  /* Never-opened ids are stale too. */
  g_assert_false (send_item (TD_MAILBOX_NONE, 0, 0, &n_freed));
  g_assert_false (send_item (G_MAXUINT64, 0, 0, &n_freed));
  g_assert_cmpuint (td_mailbox_get_stale_count () - stale_before, ==, 8);
  g_assert_cmpint (n_freed, ==, 8);

  td_test_iterate_for (sink.context, 10);
  g_assert_cmpuint (sink.n_delivered, ==, 0);

  /* Closing twice is harmless. */
  td_mailbox_close (id);
  sink_clear (&sink);
}

static gpointer
closer_producer_thread (gpointer data)
{
  Producer *p = data;

  for (guint i = 0; i < p->count; i++)
    send_item (p->id, p->sender, i, p->n_freed);

  return NULL;
}

/* Closing a mailbox from another thread while it is flooded: every mail is
 * either delivered or counted stale, and freed exactly once. */
static void
test_close_during_flood (void)
{
  Sink sink;
  Producer producers[4];
  GThread *threads[4];
  gint n_freed = 0;
  guint64 stale_before = td_mailbox_get_stale_count ();
  guint64 stale;
  TdMailboxId id;

  sink_init (&sink);
  id = sink_open (&sink, G_PRIORITY_DEFAULT);

  for (guint i = 0; i < 4; i++)
    {
      producers[i] = (Producer) { id, i, 20000, &n_freed };
      threads[i] = g_thread_new ("producer", closer_producer_thread, &producers[i]);
    }

  /* Deliver some, then close while the producers are still going. */
  while (sink.n_delivered < 1000)
    g_main_context_iteration (sink.context, TRUE);
  td_mailbox_close (id);

  for (guint i = 0; i < 4; i++)
    g_thread_join (threads[i]);
  td_test_iterate_for (sink.context, 10);

  stale = td_mailbox_get_stale_count () - stale_before;
  g_assert_cmpuint (sink.n_delivered + stale, ==, 4 * 20000);
  g_assert_cmpuint (stale, >, 0);

  sink_clear (&sink);
  g_assert_cmpint (n_freed, ==, 4 * 20000);
}

/* ------------------------------------------------------------------ */
/* Delayed mail                                                       */
/* ------------------------------------------------------------------ */

#define DELAY_MS 60
/* Timer sources may fire a little late on a loaded machine, never early. */
#define DELAY_SLACK_MS 250

/* Delayed mail arrives after its delay, and delayed mail sent to a mailbox
 * that closes before the delay is over is counted stale. */
static void
test_send_after (void)
{
  Sink sink;
  gint n_freed = 0;
  TdMailboxId id;
  TdMailboxId closed_id;
  guint64 stale_before;
  gint64 start;
  guint handle;

  sink_init (&sink);
  id = sink_open (&sink, G_PRIORITY_DEFAULT);
  closed_id = sink_open (&sink, G_PRIORITY_DEFAULT);

  start = g_get_monotonic_time ();
  handle = td_mail_send_after (id, DELAY_MS, td_mail_new (1, item_new (0, 1, &n_freed), item_free));
  g_assert_cmpuint (handle, !=, 0);
  g_assert_true (td_mail_timeout_is_pending (handle));
  g_assert_cmpuint (td_mail_send_after (closed_id, DELAY_MS / 2, td_mail_new (1, item_new (0, 99, &n_freed), item_free)), !=, 0);
  /* Immediate mail overtakes delayed mail. */
  send_item (id, 0, 0, &n_freed);

  stale_before = td_mailbox_get_stale_count ();
  td_mailbox_close (closed_id);

  sink.expect = 2;
  td_test_iterate_until_flag (sink.context, &sink.done, TD_TEST_DEADLINE_MS);
  g_assert_cmpint (sink.last_time - start, >=, DELAY_MS * 1000);
  g_assert_cmpint (sink.last_time - start, <, (DELAY_MS + DELAY_SLACK_MS) * 1000);
  g_assert_cmpuint (((Item *) g_ptr_array_index (sink.got, 0))->seq, ==, 0);
  g_assert_cmpuint (((Item *) g_ptr_array_index (sink.got, 1))->seq, ==, 1);
  g_assert_false (td_mail_timeout_is_pending (handle));

  /* The mail to the closed mailbox fired (at DELAY_MS / 2) and was
   * counted stale, not delivered. */
  g_assert_cmpuint (td_mailbox_get_stale_count () - stale_before, ==, 1);
  g_assert_cmpuint (sink.n_delivered, ==, 2);

  td_mailbox_close (id);
  sink_clear (&sink);
  g_assert_cmpint (n_freed, ==, 3);
}

/* A cancelled timeout never delivers; its mail is freed, not stale. */
static void
test_send_after_cancel (void)
{
  Sink sink;
  gint n_freed = 0;
  guint64 stale_before = td_mailbox_get_stale_count ();
  TdMailboxId id;
  guint handle;

  sink_init (&sink);
  id = sink_open (&sink, G_PRIORITY_DEFAULT);

  handle = td_mail_send_after (id, 20, td_mail_new (1, item_new (0, 0, &n_freed), item_free));
  td_mail_cancel_timeout (handle);
  g_assert_false (td_mail_timeout_is_pending (handle));
  g_assert_cmpint (n_freed, ==, 1);

  /* A second one still fires: cancelling touched only the first. */
  td_mail_send_after (id, 20, td_mail_new (1, item_new (0, 1, &n_freed), item_free));
  sink.expect = 1;
  td_test_iterate_until_flag (sink.context, &sink.done, TD_TEST_DEADLINE_MS);
  td_test_iterate_for (sink.context, 40);
  g_assert_cmpuint (sink.n_delivered, ==, 1);
  g_assert_cmpuint (((Item *) g_ptr_array_index (sink.got, 0))->seq, ==, 1);

  /* Cancelling a fired or unknown handle is harmless. */
  td_mail_cancel_timeout (handle);
  td_mail_cancel_timeout (0);

  /* Delayed mail to an unknown mailbox is stale at once. */
  g_assert_cmpuint (td_mail_send_after (G_MAXUINT64, 10, td_mail_new (1, item_new (0, 2, &n_freed), item_free)), ==, 0);
  g_assert_cmpuint (td_mailbox_get_stale_count () - stale_before, ==, 1);

  td_mailbox_close (id);
  sink_clear (&sink);
  g_assert_cmpint (n_freed, ==, 3);
}

/* ------------------------------------------------------------------ */
/* Sliced delivery                                                    */
/* ------------------------------------------------------------------ */

/* One dispatch delivers at most the message budget. */
static void
test_slice_by_messages (void)
{
  Sink sink;
  TdMailboxId id;

  sink_init (&sink);
  id = sink_open (&sink, G_PRIORITY_DEFAULT);
  td_mailbox_set_budget (id, 100, 1000 * 1000);

  for (guint i = 0; i < 250; i++)
    send_item (id, 0, i, NULL);

  g_assert_true (g_main_context_iteration (sink.context, FALSE));
  g_assert_cmpuint (sink.n_delivered, ==, 100);
  g_assert_true (g_main_context_iteration (sink.context, FALSE));
  g_assert_cmpuint (sink.n_delivered, ==, 200);
  g_assert_true (g_main_context_iteration (sink.context, FALSE));
  g_assert_cmpuint (sink.n_delivered, ==, 250);
  g_assert_false (g_main_context_iteration (sink.context, FALSE));

  td_mailbox_close (id);
  sink_clear (&sink);
}

static void
slow_cb (TdMailboxId  id,
         TdMail      *mail,
         gpointer     user_data)
{
  guint *n = user_data;

  g_usleep (1000);
  (*n)++;
}

/* One dispatch stops once the time budget is spent. */
static void
test_slice_by_time (void)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  guint n = 0;
  TdMailboxId id;

  id = td_mailbox_open (context, G_PRIORITY_DEFAULT, slow_cb, &n, NULL);
  td_mailbox_set_budget (id, 1000, 5000);
  for (guint i = 0; i < 100; i++)
    td_mail_send_new (id, 0, NULL, NULL);

  g_assert_true (g_main_context_iteration (context, FALSE));
  /* About five 1 ms handlers fit in 5 ms; a sleeping thread may oversleep
   * but never undersleep, so never more than five or six. */
  g_assert_cmpuint (n, >=, 1);
  g_assert_cmpuint (n, <=, 6);

  td_mailbox_close (id);
  while (g_main_context_iteration (context, FALSE))
    ;
}

typedef struct
{
  guint   n_ticks;
  guint   n_ticks_during_flood;
  Sink   *sink;
  guint   flood;
} TickState;

static gboolean
tick_cb (gpointer data)
{
  TickState *state = data;

  state->n_ticks++;
  if (state->sink->n_delivered > 0 && state->sink->n_delivered < state->flood)
    state->n_ticks_during_flood++;
  return G_SOURCE_CONTINUE;
}

static void
busy_sink_cb (TdMailboxId  id,
              TdMail      *mail,
              gpointer     user_data)
{
  Sink *sink = user_data;
  gint64 end = g_get_monotonic_time () + 2;

  /* A few microseconds of work per mail, so the flood takes a while. */
  while (g_get_monotonic_time () < end)
    ;
  sink->n_delivered++;
  if (sink->n_delivered == sink->expect)
    sink->done = TRUE;
}

/* A high-priority timer keeps firing while a low-priority mailbox is
 * flooded: delivery yields between slices. */
static void
test_slice_yields_to_timer (void)
{
  Sink sink;
  TickState state = { 0 };
  GSource *tick;
  TdMailboxId id;

  sink_init (&sink);
  state.sink = &sink;
  state.flood = 100000;
  sink.expect = state.flood;
  id = td_mailbox_open (sink.context, G_PRIORITY_LOW, busy_sink_cb, &sink, NULL);

  for (guint i = 0; i < state.flood; i++)
    td_mail_send_new (id, 0, NULL, NULL);

  tick = g_timeout_source_new (2);
  g_source_set_priority (tick, G_PRIORITY_HIGH);
  g_source_set_callback (tick, tick_cb, &state, NULL);
  g_source_attach (tick, sink.context);

  td_test_iterate_until_flag (sink.context, &sink.done, TD_TEST_DEADLINE_MS);

  /* The flood takes at least 200 ms (2 us each); a 2 ms timer that was
   * never starved fires many times meanwhile. */
  g_assert_cmpuint (state.n_ticks_during_flood, >=, 10);

  g_source_destroy (tick);
  g_source_unref (tick);
  td_mailbox_close (id);
  sink_clear (&sink);
}

/* ------------------------------------------------------------------ */
/* Transient mailboxes and reopen                                     */
/* ------------------------------------------------------------------ */

/* A transient mailbox delivers one mail, then is closed. */
static void
test_transient (void)
{
  Sink sink;
  gint n_freed = 0;
  guint64 stale_before = td_mailbox_get_stale_count ();
  TdMailboxId id;

  sink_init (&sink);
  id = td_mailbox_open_transient (sink.context, G_PRIORITY_DEFAULT, sink_cb, &sink, NULL);
  for (guint i = 0; i < 3; i++)
    send_item (id, 0, i, &n_freed);

  sink.expect = 1;
  td_test_iterate_until_flag (sink.context, &sink.done, TD_TEST_DEADLINE_MS);
  td_test_iterate_for (sink.context, 10);

  g_assert_cmpuint (sink.n_delivered, ==, 1);
  g_assert_cmpuint (((Item *) g_ptr_array_index (sink.got, 0))->seq, ==, 0);
  g_assert_false (td_mailbox_is_open (id));
  g_assert_cmpuint (td_mailbox_get_stale_count () - stale_before, ==, 2);
  g_assert_false (send_item (id, 0, 3, &n_freed));

  sink_clear (&sink);
  g_assert_cmpint (n_freed, ==, 4);
}

static void
count_destroy (gpointer data)
{
  g_atomic_int_inc ((gint *) data);
}

/* Reopening gives a new id on the same handler; replies still in flight
 * to the old id are stale. The handler's data lives until the last id
 * closes. */
static void
test_reopen (void)
{
  Sink sink;
  gint n_freed = 0;
  guint64 stale_before = td_mailbox_get_stale_count ();
  TdMailboxId old_id, new_id;

  sink_init (&sink);
  old_id = sink_open (&sink, G_PRIORITY_DEFAULT);

  /* A request was made; its reply is in flight when the user cancels. */
  send_item (old_id, 0, 1, &n_freed);
  new_id = td_mailbox_reopen (old_id);
  g_assert_cmpuint (new_id, !=, TD_MAILBOX_NONE);
  g_assert_cmpuint (new_id, >, old_id);
  g_assert_false (td_mailbox_is_open (old_id));
  g_assert_true (td_mailbox_is_open (new_id));
  g_assert_cmpuint (td_mailbox_get_stale_count () - stale_before, ==, 1);

  /* Late reply to the old request, then the reply to the new one. */
  g_assert_false (send_item (old_id, 0, 2, &n_freed));
  g_assert_true (send_item (new_id, 0, 3, &n_freed));

  sink.expect = 1;
  td_test_iterate_until_flag (sink.context, &sink.done, TD_TEST_DEADLINE_MS);
  td_test_iterate_for (sink.context, 10);
  g_assert_cmpuint (sink.n_delivered, ==, 1);
  g_assert_cmpuint (((Item *) g_ptr_array_index (sink.got, 0))->seq, ==, 3);
  g_assert_cmpuint (g_array_index (sink.got_ids, TdMailboxId, 0), ==, new_id);

  g_assert_cmpuint (td_mailbox_reopen (old_id), ==, TD_MAILBOX_NONE);

  td_mailbox_close (new_id);
  sink_clear (&sink);
  g_assert_cmpint (n_freed, ==, 3);
}

/* The handler's user data is freed once, when the last id of the handler
 * closes (not when an id is reopened). */
static void
test_user_data_destroy (void)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  gint n_destroyed = 0;
  TdMailboxId id, id2;

  id = td_mailbox_open (context, G_PRIORITY_DEFAULT, sink_cb, &n_destroyed, count_destroy);
  id2 = td_mailbox_reopen (id);
  g_assert_cmpint (n_destroyed, ==, 0);
  td_mailbox_close (id2);
  g_assert_cmpint (n_destroyed, ==, 1);
}

/* A handler may close its own mailbox; mail after it is stale. */
static void
test_close_in_handler (void)
{
  Sink sink;
  gint n_freed = 0;
  guint64 stale_before = td_mailbox_get_stale_count ();
  TdMailboxId id;

  sink_init (&sink);
  sink.close_on_first = TRUE;
  id = sink_open (&sink, G_PRIORITY_DEFAULT);
  for (guint i = 0; i < 5; i++)
    send_item (id, 0, i, &n_freed);

  sink.expect = 1;
  td_test_iterate_until_flag (sink.context, &sink.done, TD_TEST_DEADLINE_MS);
  td_test_iterate_for (sink.context, 10);

  g_assert_cmpuint (sink.n_delivered, ==, 1);
  g_assert_false (td_mailbox_is_open (id));
  g_assert_cmpuint (td_mailbox_get_stale_count () - stale_before, ==, 4);

  sink_clear (&sink);
  g_assert_cmpint (n_freed, ==, 5);
}

/* Ids grow and are never handed out twice. */
static void
test_ids_never_reused (void)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  TdMailboxId last = TD_MAILBOX_NONE;

  for (guint i = 0; i < 100; i++)
    {
      TdMailboxId id = td_mailbox_open (context, G_PRIORITY_DEFAULT, sink_cb, NULL, NULL);

      g_assert_cmpuint (id, >, last);
      last = id;
      td_mailbox_close (id);
    }
}

/* Mail is delivered in priority order between mailboxes on one context. */
static void
test_priority_between_mailboxes (void)
{
  Sink sink;
  TdMailboxId low, high;

  sink_init (&sink);
  low = sink_open (&sink, G_PRIORITY_LOW);
  high = sink_open (&sink, G_PRIORITY_HIGH);

  send_item (low, 0, 0, NULL);
  send_item (high, 0, 1, NULL);
  sink.expect = 2;
  td_test_iterate_until_flag (sink.context, &sink.done, TD_TEST_DEADLINE_MS);

  g_assert_cmpuint (g_array_index (sink.got_ids, TdMailboxId, 0), ==, high);
  g_assert_cmpuint (g_array_index (sink.got_ids, TdMailboxId, 1), ==, low);

  td_mailbox_close (low);
  td_mailbox_close (high);
  sink_clear (&sink);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/td/mailbox/order-per-sender", test_order_per_sender);
  g_test_add_func ("/td/mailbox/order-single-thread", test_order_single_thread);
  g_test_add_func ("/td/mailbox/many-producers", test_many_producers);
  g_test_add_func ("/td/mailbox/stale-after-close", test_stale_after_close);
  g_test_add_func ("/td/mailbox/close-during-flood", test_close_during_flood);
  g_test_add_func ("/td/mailbox/send-after", test_send_after);
  g_test_add_func ("/td/mailbox/send-after-cancel", test_send_after_cancel);
  g_test_add_func ("/td/mailbox/slice-by-messages", test_slice_by_messages);
  g_test_add_func ("/td/mailbox/slice-by-time", test_slice_by_time);
  g_test_add_func ("/td/mailbox/slice-yields-to-timer", test_slice_yields_to_timer);
  g_test_add_func ("/td/mailbox/transient", test_transient);
  g_test_add_func ("/td/mailbox/reopen", test_reopen);
  g_test_add_func ("/td/mailbox/user-data-destroy", test_user_data_destroy);
  g_test_add_func ("/td/mailbox/close-in-handler", test_close_in_handler);
  g_test_add_func ("/td/mailbox/ids-never-reused", test_ids_never_reused);
  g_test_add_func ("/td/mailbox/priority", test_priority_between_mailboxes);

  return g_test_run ();
}
