/* SPDX-License-Identifier: GPL-3.0-or-later */
#define _GNU_SOURCE  /* gettid () */
#include "config.h"

#include <errno.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/td-task-loop.h"
#include "core/td-thread.h"
#include "core/td-sync-private.h"
#include "td-core-test.h"

#define REPLY_KIND 7

/* ------------------------------------------------------------------ */
/* Helpers                                                            */
/* ------------------------------------------------------------------ */

/* Collects the results of tasks on a private context. */
typedef struct
{
  GMainContext *context;
  TdMailboxId   id;
  GPtrArray    *results;      /* TdTaskResult */
  guint         expect;
  gint          done;
} Replies;

static void
replies_cb (TdMailboxId  id,
            TdMail      *mail,
            gpointer     user_data)
{
  Replies *replies = user_data;

  g_assert_cmpuint (mail->kind, ==, REPLY_KIND);
  g_ptr_array_add (replies->results, td_mail_steal_data (mail));
  if (replies->results->len >= replies->expect)
    replies->done = TRUE;
}

static void
replies_init (Replies *replies,
              guint    expect)
{
  memset (replies, 0, sizeof *replies);
  replies->context = g_main_context_new ();
  replies->results = g_ptr_array_new_with_free_func ((GDestroyNotify) td_task_result_free);
  replies->expect = expect;
  replies->id = td_mailbox_open (replies->context, G_PRIORITY_DEFAULT, replies_cb, replies, NULL);
}

static void
replies_wait (Replies *replies)
{
  td_test_iterate_until_flag (replies->context, &replies->done, TD_TEST_DEADLINE_MS);
}

static void
replies_clear (Replies *replies)
{
  td_mailbox_close (replies->id);
  g_clear_pointer (&replies->results, g_ptr_array_unref);
  while (g_main_context_iteration (replies->context, FALSE))
    ;
  g_clear_pointer (&replies->context, g_main_context_unref);
}

/* Counts payload frees: task data and results. */
static gint n_data_freed;
static gint n_results_freed;

static void
data_free (gpointer data)
{
  g_atomic_int_inc (&n_data_freed);
  g_free (data);
}

static void
result_free (gpointer data)
{
  g_atomic_int_inc (&n_results_freed);
  g_free (data);
}

static void
reset_counters (void)
{
  g_atomic_int_set (&n_data_freed, 0);
  g_atomic_int_set (&n_results_freed, 0);
}

/* A gate that blocked workers wait on until the test opens it. */
typedef struct
{
  GMutex mutex;
  GCond  cond;
  gboolean open;
  guint  n_waiting;
  GArray *order;              /* guint: the order tasks started in */
} Gate;

static Gate gate;

static void
gate_init (void)
{
  g_mutex_init (&gate.mutex);
  g_cond_init (&gate.cond);
  gate.open = FALSE;
  gate.n_waiting = 0;
  gate.order = g_array_new (FALSE, FALSE, sizeof (guint));
}

static void
gate_clear (void)
{
  g_clear_pointer (&gate.order, g_array_unref);
  g_mutex_clear (&gate.mutex);
  g_cond_clear (&gate.cond);
}

static void
gate_open (void)
{
  td_mutex_lock (&gate.mutex);
  gate.open = TRUE;
  g_cond_broadcast (&gate.cond);
  td_mutex_unlock (&gate.mutex);
}

/* Waits until @n workers are parked at the gate (or fails the test). */
static void
gate_wait_for_waiters (guint n)
{
  gint64 deadline = g_get_monotonic_time () + TD_TEST_DEADLINE_MS * 1000;

  td_mutex_lock (&gate.mutex);
  while (gate.n_waiting < n)
    if (!td_cond_wait_until (&gate.cond, &gate.mutex, deadline))
      g_error ("workers did not reach the gate");
  td_mutex_unlock (&gate.mutex);
}

/* Waits until @n tasks have started at the gate (or fails the test). */
static void
gate_wait_for_started (guint n)
{
  gint64 deadline = g_get_monotonic_time () + TD_TEST_DEADLINE_MS * 1000;

  td_mutex_lock (&gate.mutex);
  while (gate.order->len < n)
    if (!td_cond_wait_until (&gate.cond, &gate.mutex, deadline))
      g_error ("tasks did not start");
  td_mutex_unlock (&gate.mutex);
}

/* ------------------------------------------------------------------ */
/* Task functions                                                     */
/* ------------------------------------------------------------------ */

static gpointer
double_worker (TdTask        *task,
               gpointer       task_data,
               GCancellable  *cancellable,
               GError       **error)
{
  guint *in = task_data;
  guint *out = g_new (guint, 1);

  *out = *in * 2;
  return out;
}

static gpointer
fail_worker (TdTask        *task,
             gpointer       task_data,
             GCancellable  *cancellable,
             GError       **error)
{
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no such thing");
  return NULL;
}

/* Parks at the gate until it opens or the task is cancelled. */
static gpointer
gated_worker (TdTask        *task,
              gpointer       task_data,
              GCancellable  *cancellable,
              GError       **error)
{
  guint *tag = task_data;

  td_mutex_lock (&gate.mutex);
  g_array_append_val (gate.order, *tag);
  gate.n_waiting++;
  g_cond_broadcast (&gate.cond);
  while (!gate.open && !g_cancellable_is_cancelled (cancellable))
    {
      /* Wake up now and then to poll the cancellable. */
      gint64 until = g_get_monotonic_time () + 1000;

      td_cond_wait_until (&gate.cond, &gate.mutex, until);
    }
  gate.n_waiting--;
  td_mutex_unlock (&gate.mutex);

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;

  return g_new0 (guint, 1);
}

/* Ignores cancellation: waits for the gate only. */
static gpointer
stubborn_worker (TdTask        *task,
                 gpointer       task_data,
                 GCancellable  *cancellable,
                 GError       **error)
{
  td_mutex_lock (&gate.mutex);
  gate.n_waiting++;
  g_cond_broadcast (&gate.cond);
  while (!gate.open)
    td_cond_wait (&gate.cond, &gate.mutex);
  gate.n_waiting--;
  td_mutex_unlock (&gate.mutex);

  return g_new0 (guint, 1);
}

static TdTask *
new_task (TdTaskFunc   func,
          guint        tag,
          TdMailboxId  reply_to)
{
  guint *data = g_new (guint, 1);
  TdTask *task;

  *data = tag;
  task = td_task_new (func, data, data_free, result_free);
  td_task_set_reply (task, reply_to, REPLY_KIND);
  return task;
}

static int
own_nice (void)
{
  int value;

  errno = 0;
  value = getpriority (PRIO_PROCESS, (id_t) gettid ());
  g_assert_cmpint (errno, ==, 0);
  return value;
}

static gpointer
nice_worker (TdTask        *task,
             gpointer       task_data,
             GCancellable  *cancellable,
             GError       **error)
{
  guint *out = g_new (guint, 1);

  *out = (guint) own_nice ();
  return out;
}

/* ------------------------------------------------------------------ */
/* Tests                                                              */
/* ------------------------------------------------------------------ */

/* With a background nice value set (as the app does), workers run at it;
 * the thread that made the loop keeps its own. Without one (tidingsd),
 * they keep the process's priority. */
static void
test_background_nice (void)
{
  int base = own_nice ();
  int wanted = MIN (base + 3, 19);

  if (base >= 19)
    {
      g_test_skip ("already at the lowest priority");
      return;
    }

  for (guint round = 0; round < 2; round++)
    {
      g_autoptr(TdTaskLoop) loop = NULL;
      Replies replies;

      td_thread_set_background_nice (round == 0 ? wanted : 0);
      loop = td_task_loop_new (2);
      reset_counters ();
      replies_init (&replies, 4);
      for (guint i = 0; i < 4; i++)
        td_task_loop_push (loop, new_task (nice_worker, i, replies.id));
      replies_wait (&replies);
      for (guint i = 0; i < replies.results->len; i++)
        {
          TdTaskResult *result = g_ptr_array_index (replies.results, i);

          g_assert_no_error (result->error);
          g_assert_cmpint (*(guint *) result->result, ==, round == 0 ? wanted : base);
        }
      g_assert_cmpint (own_nice (), ==, base);
      g_assert_true (td_task_loop_shutdown (loop, 1000));
      replies_clear (&replies);
    }
  g_assert_cmpint (td_thread_get_background_nice (), ==, 0);
}

/* Results come back as mail with the task's data, generation and result. */
static void
test_result (void)
{
  g_autoptr(TdTaskLoop) loop = td_task_loop_new (2);
  Replies replies;
  guint sum = 0;

  reset_counters ();
  replies_init (&replies, 20);
  g_assert_cmpuint (td_task_loop_get_n_workers (loop), ==, 2);

  for (guint i = 0; i < 20; i++)
    {
      TdTask *task = new_task (double_worker, i, replies.id);

      td_task_set_generation (task, 100 + i);
      g_assert_cmpuint (td_task_get_generation (task), ==, 100 + i);
      td_task_loop_push (loop, task);
    }
  replies_wait (&replies);

  for (guint i = 0; i < replies.results->len; i++)
    {
      TdTaskResult *result = g_ptr_array_index (replies.results, i);
      guint tag = *(guint *) result->task_data;

      g_assert_no_error (result->error);
      g_assert_cmpuint (result->generation, ==, 100 + tag);
      g_assert_cmpuint (*(guint *) result->result, ==, tag * 2);
      sum += tag;
    }
  g_assert_cmpuint (sum, ==, 19 * 20 / 2);

  /* Stealing hands the result over. */
  {
    TdTaskResult *first = g_ptr_array_index (replies.results, 0);
    g_autofree guint *stolen = td_task_result_steal (first);

    g_assert_nonnull (stolen);
    g_assert_null (first->result);
  }

  g_assert_true (td_task_loop_shutdown (loop, 1000));
  replies_clear (&replies);
  g_assert_cmpint (n_data_freed, ==, 20);
  g_assert_cmpint (n_results_freed, ==, 19);
}

/* A failing task reports its error; a task without a reply mailbox has
 * its result freed. */
static void
test_error_and_no_reply (void)
{
  g_autoptr(TdTaskLoop) loop = td_task_loop_new (2);
  Replies replies;
  TdTaskResult *result;

  reset_counters ();
  replies_init (&replies, 1);

  td_task_loop_push (loop, new_task (double_worker, 1, TD_MAILBOX_NONE));
  td_task_loop_push (loop, new_task (fail_worker, 2, replies.id));
  replies_wait (&replies);

  result = g_ptr_array_index (replies.results, 0);
  g_assert_error (result->error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_null (result->result);

  /* The reply-less task's result is freed on its worker (wait for it:
   * shutting down first could cancel it before it runs). */
  {
    gint64 deadline = g_get_monotonic_time () + TD_TEST_DEADLINE_MS * 1000;

    while (g_atomic_int_get (&n_results_freed) < 1)
      {
        g_assert_cmpint (g_get_monotonic_time (), <, deadline);
        g_usleep (1000);
      }
  }
  g_assert_true (td_task_loop_shutdown (loop, 1000));
  g_assert_cmpint (n_results_freed, ==, 1);
  replies_clear (&replies);
  g_assert_cmpint (n_data_freed, ==, 2);
}

/* Cancelling a running task's cancellable ends it with CANCELLED; a task
 * cancelled before it runs is not run at all. */
static void
test_cancellation (void)
{
  g_autoptr(TdTaskLoop) loop = td_task_loop_new (2);
  g_autoptr(GCancellable) running = g_cancellable_new ();
  g_autoptr(GCancellable) early = g_cancellable_new ();
  Replies replies;
  TdTask *task;

  reset_counters ();
  gate_init ();
  replies_init (&replies, 2);

  task = new_task (gated_worker, 1, replies.id);
  td_task_set_cancellable (task, running);
  g_assert_true (td_task_get_cancellable (task) == running);
  td_task_loop_push (loop, task);
  gate_wait_for_waiters (1);

  g_cancellable_cancel (early);
  task = new_task (gated_worker, 2, replies.id);
  td_task_set_cancellable (task, early);
  td_task_loop_push (loop, task);

  g_cancellable_cancel (running);
  replies_wait (&replies);

  for (guint i = 0; i < 2; i++)
    {
      TdTaskResult *result = g_ptr_array_index (replies.results, i);

      g_assert_error (result->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
      g_assert_null (result->result);
    }
  /* Only the first task ever reached the gate. */
  g_assert_cmpuint (gate.order->len, ==, 1);

  g_assert_true (td_task_loop_shutdown (loop, 1000));
  replies_clear (&replies);
  gate_clear ();
  g_assert_cmpint (n_data_freed, ==, 2);
}

/* push_front jumps the queue. */
static void
test_push_front (void)
{
  g_autoptr(TdTaskLoop) loop = td_task_loop_new (2);
  g_autoptr(GCancellable) blocker = g_cancellable_new ();
  Replies replies;
  TdTask *task;

  reset_counters ();
  gate_init ();
  replies_init (&replies, 5);

  /* Occupy both workers; one of them is released later by cancelling. */
  task = new_task (gated_worker, 0, replies.id);
  td_task_set_cancellable (task, blocker);
  td_task_loop_push (loop, task);
  td_task_loop_push (loop, new_task (gated_worker, 0, replies.id));
  gate_wait_for_waiters (2);

  td_task_loop_push (loop, new_task (gated_worker, 1, replies.id));
  td_task_loop_push (loop, new_task (gated_worker, 2, replies.id));
  td_task_loop_push_front (loop, new_task (gated_worker, 3, replies.id));

  /* Free one worker: it must take the task pushed to the front. */
  g_cancellable_cancel (blocker);
  gate_wait_for_started (3);
  td_mutex_lock (&gate.mutex);
  g_assert_cmpuint (gate.order->len, ==, 3);
  g_assert_cmpuint (g_array_index (gate.order, guint, 2), ==, 3);
  td_mutex_unlock (&gate.mutex);

  gate_open ();
  replies_wait (&replies);
  g_assert_cmpuint (gate.order->len, ==, 5);

  g_assert_true (td_task_loop_shutdown (loop, 1000));
  replies_clear (&replies);
  gate_clear ();
  g_assert_cmpint (n_data_freed, ==, 5);
}

#define N_QUEUED 200

/* Shutdown with tasks running and queued: running ones are cancelled,
 * queued ones answered as cancelled without running, workers joined,
 * nothing leaks; pushes after shutdown are answered as cancelled. */
static void
test_shutdown_under_load (void)
{
  TdTaskLoop *loop = td_task_loop_new (3);
  Replies replies;
  guint n_cancelled = 0;
  gint64 start;

  reset_counters ();
  gate_init ();
  replies_init (&replies, 3 + N_QUEUED + 1);

  for (guint i = 0; i < 3; i++)
    td_task_loop_push (loop, new_task (gated_worker, 0, replies.id));
  gate_wait_for_waiters (3);
  for (guint i = 0; i < N_QUEUED; i++)
    td_task_loop_push (loop, new_task (gated_worker, 1, replies.id));

  start = g_get_monotonic_time ();
  g_assert_true (td_task_loop_shutdown (loop, 2000));
  g_assert_cmpint (g_get_monotonic_time () - start, <, 2000 * 1000);
  /* A second shutdown is a no-op. */
  g_assert_true (td_task_loop_shutdown (loop, 0));

  td_task_loop_push (loop, new_task (double_worker, 2, replies.id));
  replies_wait (&replies);

  for (guint i = 0; i < replies.results->len; i++)
    {
      TdTaskResult *result = g_ptr_array_index (replies.results, i);

      if (g_error_matches (result->error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        n_cancelled++;
    }
  g_assert_cmpuint (n_cancelled, ==, 3 + N_QUEUED + 1);
  /* None of the queued tasks ran. */
  g_assert_cmpuint (gate.order->len, ==, 3);

  td_task_loop_free (loop);
  replies_clear (&replies);
  gate_clear ();
  g_assert_cmpint (n_data_freed, ==, 3 + N_QUEUED + 1);
}

/* A task that ignores cancellation makes shutdown give up at its deadline
 * and return FALSE; the late worker still delivers and cleans up. */
static void
test_shutdown_timeout (void)
{
  TdTaskLoop *loop = td_task_loop_new (2);
  Replies replies;
  gint64 start;
  gint64 elapsed;

  reset_counters ();
  gate_init ();
  replies_init (&replies, 1);

  td_task_loop_push (loop, new_task (stubborn_worker, 0, replies.id));
  gate_wait_for_waiters (1);

  start = g_get_monotonic_time ();
  g_assert_false (td_task_loop_shutdown (loop, 50));
  elapsed = g_get_monotonic_time () - start;
  g_assert_cmpint (elapsed, >=, 50 * 1000);
  g_assert_cmpint (elapsed, <, 1000 * 1000);

  /* Freeing the loop while its worker is still busy is safe. */
  td_task_loop_free (loop);

  gate_open ();
  replies_wait (&replies);
  g_assert_no_error (((TdTaskResult *) g_ptr_array_index (replies.results, 0))->error);

  replies_clear (&replies);
  /* Let the released worker take its stop message and exit, so the
   * process ends with no thread of ours alive. */
  g_usleep (50 * 1000);
  gate_clear ();
  g_assert_cmpint (n_data_freed, ==, 1);
}

/* The default loop is shared and has at least two workers. */
static void
test_default_loop (void)
{
  TdTaskLoop *loop = td_task_loop_get_default ();
  Replies replies;

  g_assert_true (loop == td_task_loop_get_default ());
  g_assert_cmpuint (td_task_loop_get_n_workers (loop), >=, 2);

  replies_init (&replies, 1);
  td_task_loop_push (loop, new_task (double_worker, 21, replies.id));
  replies_wait (&replies);
  g_assert_cmpuint (*(guint *) ((TdTaskResult *) g_ptr_array_index (replies.results, 0))->result, ==, 42);

  g_assert_true (td_task_loop_shutdown (loop, 1000));
  replies_clear (&replies);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/td/task-loop/result", test_result);
  g_test_add_func ("/td/task-loop/background-nice", test_background_nice);
  g_test_add_func ("/td/task-loop/error-and-no-reply", test_error_and_no_reply);
  g_test_add_func ("/td/task-loop/cancellation", test_cancellation);
  g_test_add_func ("/td/task-loop/push-front", test_push_front);
  g_test_add_func ("/td/task-loop/shutdown-under-load", test_shutdown_under_load);
  g_test_add_func ("/td/task-loop/shutdown-timeout", test_shutdown_timeout);
  g_test_add_func ("/td/task-loop/default", test_default_loop);

  return g_test_run ();
}
