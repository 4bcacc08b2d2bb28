/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-task-loop"

#include "config.h"

#include "core/td-task-loop.h"
#include "core/td-thread.h"
#include "core/td-sync-private.h"

/* Fewer than two workers would let one slow task (a stalled download)
 * hold up every other task. */
#define TD_TASK_LOOP_MIN_WORKERS 2

/* How long td_task_loop_free() waits for workers of a loop that was not
 * shut down explicitly: long enough for a cancelled task to notice, short
 * enough not to hang an exiting process. */
#define TD_TASK_LOOP_FREE_TIMEOUT_MS 2000

struct _TdTask
{
  TdTaskFunc      func;
  gpointer        task_data;
  GDestroyNotify  task_data_destroy;
  GDestroyNotify  result_destroy;
  TdMailboxId     reply_to;
  guint           reply_kind;
  guint64         generation;
  GCancellable   *cancellable;
  gboolean        is_stop;          /* the "worker, exit" message */
};

/*
 * The state shared by the loop's owner and its workers. Each worker holds
 * a reference, so a worker that outlives a timed-out shutdown still finds
 * the queue and the mutex when it finishes.
 */
typedef struct
{
  gatomicrefcount  ref_count;
  GAsyncQueue     *queue;           /* TdTask; its lock guards `stopping` */
  gboolean         stopping;

  GMutex           mutex;           /* guards the fields below */
  GCond            cond;
  guint            n_alive;
  GPtrArray       *running;         /* GCancellable of tasks being run */
  gboolean         cancel_running;  /* set by shutdown: cancel what starts */
} TdTaskLoopShared;

struct _TdTaskLoop
{
  TdTaskLoopShared *shared;
  GPtrArray        *threads;        /* GThread, joined or released on shutdown */
  guint             n_workers;
  gboolean          shut_down;
};

/* ------------------------------------------------------------------ */
/* Tasks and results                                                  */
/* ------------------------------------------------------------------ */

/* Frees a result and everything it still owns. */
void
td_task_result_free (TdTaskResult *result)
{
  if (result == NULL)
    return;

  if (result->result != NULL && result->result_destroy != NULL)
    result->result_destroy (result->result);
  if (result->task_data != NULL && result->task_data_destroy != NULL)
    result->task_data_destroy (result->task_data);
  g_clear_error (&result->error);
  g_free (result);
}

/* Returns the task's result and leaves @result without one; the caller
 * owns it. */
gpointer
td_task_result_steal (TdTaskResult *result)
{
  g_return_val_if_fail (result != NULL, NULL);

  return g_steal_pointer (&result->result);
}

/* Returns a new task that runs @func on a worker with @task_data. The task
 * owns @task_data (freed with @task_data_destroy along with the result
 * mail); the result is freed with @result_destroy. */
TdTask *
td_task_new (TdTaskFunc     func,
             gpointer       task_data,
             GDestroyNotify task_data_destroy,
             GDestroyNotify result_destroy)
{
  TdTask *task;

  g_return_val_if_fail (func != NULL, NULL);

  task = g_new0 (TdTask, 1);
  task->func = func;
  task->task_data = task_data;
  task->task_data_destroy = task_data_destroy;
  task->result_destroy = result_destroy;

  return task;
}

/* Frees a task that was never pushed (pushed tasks belong to the loop). */
void
td_task_free (TdTask *task)
{
  if (task == NULL)
    return;

  if (task->task_data != NULL && task->task_data_destroy != NULL)
    task->task_data_destroy (task->task_data);
  g_clear_object (&task->cancellable);
  g_free (task);
}

/* Sets where the result goes: mail of kind @reply_kind to @reply_to
 * (TD_MAILBOX_NONE drops the result). */
void
td_task_set_reply (TdTask      *task,
                   TdMailboxId  reply_to,
                   guint        reply_kind)
{
  g_return_if_fail (task != NULL);

  task->reply_to = reply_to;
  task->reply_kind = reply_kind;
}

void
td_task_set_generation (TdTask  *task,
                        guint64  generation)
{
  g_return_if_fail (task != NULL);

  task->generation = generation;
}

guint64
td_task_get_generation (TdTask *task)
{
  g_return_val_if_fail (task != NULL, 0);

  return task->generation;
}

/* Sets the cancellable of @task (a task pushed without one gets its own,
 * so that shutdown can always stop it). */
void
td_task_set_cancellable (TdTask       *task,
                         GCancellable *cancellable)
{
  g_return_if_fail (task != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  g_set_object (&task->cancellable, cancellable);
}

/* Returns the task's cancellable (borrowed), or NULL before it is pushed
 * if none was set. */
GCancellable *
td_task_get_cancellable (TdTask *task)
{
  g_return_val_if_fail (task != NULL, NULL);

  return task->cancellable;
}

/* Sends the outcome of @task to its reply mailbox and frees the task. The
 * result and the task data move into the reply mail. */
static void
td_task_reply (TdTask   *task,
               gpointer  result,
               GError   *error)
{
  TdTaskResult *reply = g_new0 (TdTaskResult, 1);

  reply->task_data = g_steal_pointer (&task->task_data);
  reply->task_data_destroy = task->task_data_destroy;
  reply->result = result;
  reply->result_destroy = task->result_destroy;
  reply->error = error;
  reply->generation = task->generation;

  if (task->reply_to != TD_MAILBOX_NONE)
    td_mail_send_new (task->reply_to, task->reply_kind, reply,
                      (GDestroyNotify) td_task_result_free);
  else
    td_task_result_free (reply);

  td_task_free (task);
}

/* Answers @task with a cancellation, without running it. */
static void
td_task_reply_cancelled (TdTask *task)
{
  td_task_reply (task, NULL,
                 g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                      "The task loop is shutting down"));
}

/* ------------------------------------------------------------------ */
/* Workers                                                            */
/* ------------------------------------------------------------------ */

static TdTaskLoopShared *
td_task_loop_shared_ref (TdTaskLoopShared *shared)
{
  g_atomic_ref_count_inc (&shared->ref_count);
  return shared;
}

static void
td_task_loop_shared_unref (TdTaskLoopShared *shared)
{
  TdTask *task;

  if (!g_atomic_ref_count_dec (&shared->ref_count))
    return;

  /* Only stop messages can be left here, and only if a worker died. */
  while ((task = td_async_queue_try_pop (shared->queue)) != NULL)
    {
      if (task->is_stop)
        td_task_free (task);
      else
        td_task_reply_cancelled (task);
    }
  g_async_queue_unref (shared->queue);
  g_ptr_array_unref (shared->running);
  g_mutex_clear (&shared->mutex);
  g_cond_clear (&shared->cond);
  g_free (shared);
}

/* Runs tasks until it takes a stop message. */
static gpointer
td_task_loop_worker (gpointer data)
{
  TdTaskLoopShared *shared = data;

  td_thread_enter_background ();
  for (;;)
    {
      g_autoptr(GError) error = NULL;
      TdTask *task = td_async_queue_pop (shared->queue);
      gpointer result = NULL;
      gboolean cancel;

      if (task->is_stop)
        {
          td_task_free (task);
          break;
        }

      /* A task taken just before shutdown is cancelled like the others. */
      td_mutex_lock (&shared->mutex);
      g_ptr_array_add (shared->running, task->cancellable);
      cancel = shared->cancel_running;
      td_mutex_unlock (&shared->mutex);
      if (cancel)
        g_cancellable_cancel (task->cancellable);

      if (!g_cancellable_set_error_if_cancelled (task->cancellable, &error))
        result = task->func (task, task->task_data, task->cancellable, &error);

      td_mutex_lock (&shared->mutex);
      g_ptr_array_remove_fast (shared->running, task->cancellable);
      td_mutex_unlock (&shared->mutex);

      /* A task that fails must say why; make a missing error visible
       * rather than reporting an empty success. */
      if (result == NULL && error == NULL)
        g_set_error_literal (&error, G_IO_ERROR, G_IO_ERROR_FAILED,
                             "Task returned no result and no error");

      td_task_reply (task, result, g_steal_pointer (&error));
    }

  td_mutex_lock (&shared->mutex);
  shared->n_alive--;
  g_cond_broadcast (&shared->cond);
  td_mutex_unlock (&shared->mutex);

  td_task_loop_shared_unref (shared);

  return NULL;
}

/* ------------------------------------------------------------------ */
/* The loop                                                           */
/* ------------------------------------------------------------------ */

/* Returns a loop with @n_workers threads (0: one per CPU), at least two. */
TdTaskLoop *
td_task_loop_new (guint n_workers)
{
  TdTaskLoop *self = g_new0 (TdTaskLoop, 1);
  TdTaskLoopShared *shared = g_new0 (TdTaskLoopShared, 1);

  if (n_workers == 0)
    n_workers = g_get_num_processors ();
  n_workers = MAX (n_workers, TD_TASK_LOOP_MIN_WORKERS);

  g_atomic_ref_count_init (&shared->ref_count);
  shared->queue = g_async_queue_new ();
  shared->running = g_ptr_array_new ();
  g_mutex_init (&shared->mutex);
  g_cond_init (&shared->cond);
  shared->n_alive = n_workers;

  self->shared = shared;
  self->n_workers = n_workers;
  self->threads = g_ptr_array_new ();

  for (guint i = 0; i < n_workers; i++)
    {
      g_autofree char *name = g_strdup_printf ("td-worker-%u", i);

      g_ptr_array_add (self->threads,
                       g_thread_new (name, td_task_loop_worker,
                                     td_task_loop_shared_ref (shared)));
    }

  return self;
}

static TdTaskLoop *default_loop;

static gpointer
td_task_loop_create_default (gpointer data)
{
  default_loop = td_task_loop_new (0);
  return default_loop;
}

/* Returns the process's task loop (borrowed; shut it down on exit, never
 * free it). */
TdTaskLoop *
td_task_loop_get_default (void)
{
  static GOnce once = G_ONCE_INIT;

  return g_once (&once, td_task_loop_create_default, NULL);
}

guint
td_task_loop_get_n_workers (TdTaskLoop *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->n_workers;
}

/* Queues @task (taking ownership) at the back, or the front when @front.
 * After shutdown the task is answered as cancelled at once. */
static void
td_task_loop_enqueue (TdTaskLoop *self,
                      TdTask     *task,
                      gboolean    front)
{
  TdTaskLoopShared *shared = self->shared;
  gboolean stopping;

  if (task->cancellable == NULL)
    task->cancellable = g_cancellable_new ();

  td_async_queue_lock (shared->queue);
  stopping = shared->stopping;
  if (!stopping)
    {
      if (front)
        g_async_queue_push_front_unlocked (shared->queue, task);
      else
        g_async_queue_push_unlocked (shared->queue, task);
    }
  td_async_queue_unlock (shared->queue);

  if (stopping)
    td_task_reply_cancelled (task);
}

/* Queues @task behind the tasks already waiting. Any thread. */
void
td_task_loop_push (TdTaskLoop *self,
                   TdTask     *task)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (task != NULL);

  td_task_loop_enqueue (self, task, FALSE);
}

/* Queues @task ahead of every task waiting (user-requested work). Any
 * thread. */
void
td_task_loop_push_front (TdTaskLoop *self,
                         TdTask     *task)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (task != NULL);

  td_task_loop_enqueue (self, task, TRUE);
}

/* Stops the loop: tasks still queued are answered as cancelled, running
 * tasks are cancelled, and the workers are joined. Returns FALSE if some
 * worker was still busy after @timeout_ms; it is then left to finish on
 * its own (its result is still delivered and nothing leaks). Later pushes
 * are answered as cancelled. */
gboolean
td_task_loop_shutdown (TdTaskLoop *self,
                       guint       timeout_ms)
{
  TdTaskLoopShared *shared;
  g_autoptr(GPtrArray) pending = NULL;
  g_autoptr(GPtrArray) running = NULL;
  gboolean all_stopped;
  gint64 deadline;
  TdTask *task;

  g_return_val_if_fail (self != NULL, FALSE);

  if (self->shut_down)
    return TRUE;
  self->shut_down = TRUE;

  shared = self->shared;
  deadline = g_get_monotonic_time () + (gint64) timeout_ms * G_TIME_SPAN_MILLISECOND;
  pending = g_ptr_array_new ();

  /* Shutdown is a message: take what is queued, then queue one stop
   * message per worker, all under the queue lock so that no push slips in
   * between. */
  td_async_queue_lock (shared->queue);
  shared->stopping = TRUE;
  while ((task = g_async_queue_try_pop_unlocked (shared->queue)) != NULL)
    g_ptr_array_add (pending, task);
  for (guint i = 0; i < self->n_workers; i++)
    {
      TdTask *stop = g_new0 (TdTask, 1);

      stop->is_stop = TRUE;
      g_async_queue_push_unlocked (shared->queue, stop);
    }
  td_async_queue_unlock (shared->queue);

  for (guint i = 0; i < pending->len; i++)
    td_task_reply_cancelled (g_ptr_array_index (pending, i));

  /* Cancel outside the mutex: cancellation handlers run synchronously. */
  running = g_ptr_array_new_with_free_func (g_object_unref);
  td_mutex_lock (&shared->mutex);
  shared->cancel_running = TRUE;
  for (guint i = 0; i < shared->running->len; i++)
    g_ptr_array_add (running, g_object_ref (g_ptr_array_index (shared->running, i)));
  td_mutex_unlock (&shared->mutex);
  for (guint i = 0; i < running->len; i++)
    g_cancellable_cancel (g_ptr_array_index (running, i));

  td_mutex_lock (&shared->mutex);
  while (shared->n_alive > 0)
    if (!td_cond_wait_until (&shared->cond, &shared->mutex, deadline))
      break;
  all_stopped = shared->n_alive == 0;
  td_mutex_unlock (&shared->mutex);

  /* Workers that stopped are joined; a late one is released and frees the
   * shared state itself when it finishes. */
  for (guint i = 0; i < self->threads->len; i++)
    {
      GThread *thread = g_ptr_array_index (self->threads, i);

      if (all_stopped)
        g_thread_join (thread);
      else
        g_thread_unref (thread);
    }
  g_ptr_array_set_size (self->threads, 0);

  if (!all_stopped)
    g_debug ("Workers still busy %u ms after shutdown", timeout_ms);

  return all_stopped;
}

/* Shuts the loop down (if that was not done) and frees it. */
void
td_task_loop_free (TdTaskLoop *self)
{
  if (self == NULL)
    return;

  g_return_if_fail (self != default_loop);

  td_task_loop_shutdown (self, TD_TASK_LOOP_FREE_TIMEOUT_MS);
  g_ptr_array_unref (self->threads);
  td_task_loop_shared_unref (self->shared);
  g_free (self);
}
