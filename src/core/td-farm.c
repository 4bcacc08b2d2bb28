/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-farm"

#include "config.h"

#include "core/td-farm.h"

/* Mail the farm sends itself. */
enum
{
  TD_FARM_MAIL_TASK_DONE = 1,   /* a TdTaskResult from a worker */
  TD_FARM_MAIL_WAKE,            /* the retry timer: deadlines and backoffs */
  TD_FARM_MAIL_REPORT,          /* send the progress, once per burst */
};

typedef enum
{
  TD_FARM_JOB_QUEUED,
  TD_FARM_JOB_RUNNING,
  TD_FARM_JOB_WAITING,          /* backing off before the next attempt */
} TdFarmJobState;

/*
 * A job is shared with the worker running it (which reads only the
 * immutable fields), hence the reference count.
 */
typedef struct
{
  gatomicrefcount  ref_count;

  /* Immutable. */
  char            *key;
  char            *group;        /* NULL: no group */
  gpointer         data;
  GDestroyNotify   data_destroy;

  /* Farm thread only. */
  TdFarmJobState   state;
  gboolean         urgent;
  guint            attempts;     /* attempts finished (or abandoned) */
  guint            serial;       /* of the current attempt */
  GCancellable    *cancellable;  /* of the current attempt */
  gint64           deadline;     /* running: when it is overdue; 0: never */
  gint64           due;          /* waiting: when to queue it again */
  GList            link;         /* in a lane while queued */
} TdFarmJob;

/* One run of a job on a worker: the task's data. */
typedef struct
{
  TdFarmJob     *job;            /* owned ref */
  TdFarmJobFunc  func;
  guint          serial;
  guint          retry_after_ms; /* set by the worker */
} TdFarmAttempt;

struct _TdFarm
{
  GMainContext   *context;       /* owned */
  TdTaskLoop     *loop;          /* borrowed: must outlive the farm */
  TdFarmConfig    config;
  TdFarmJobFunc   func;
  GDestroyNotify  result_destroy;

  TdMailboxId     mailbox;       /* task results and timer mail */
  TdMailboxId     result_to;
  guint           result_kind;
  TdMailboxId     progress_to;
  guint           progress_kind;

  guint64         generation;
  GHashTable     *jobs;          /* key -> TdFarmJob (owned ref) */
  GQueue          urgent;        /* TdFarmJob, by job->link */
  GQueue          background;
  GHashTable     *group_running; /* group -> running count */
  guint           n_running;
  guint           n_waiting;
  guint           n_done;
  guint           n_failed;

  guint           wake_timeout;  /* td_mail_send_after() handle, or 0 */
  gint64          wake_at;

  guint64         n_discarded;   /* results of an old generation */
  guint64         n_dropped;     /* results of removed or abandoned attempts */

  TdFarmProgress  last_progress;
  gboolean        progress_sent;
  gboolean        report_pending;
};

G_DEFINE_QUARK (td-farm-error-quark, td_farm_error)

/* ------------------------------------------------------------------ */
/* Errors, results                                                    */
/* ------------------------------------------------------------------ */

/* The default classification: the farm's own transient error and the
 * network errors that tend to go away by themselves. */
gboolean
td_farm_error_is_transient (const GError *error,
                            gpointer      user_data)
{
  if (error == NULL)
    return FALSE;

  if (error->domain == TD_FARM_ERROR)
    return error->code == TD_FARM_ERROR_TRANSIENT || error->code == TD_FARM_ERROR_DEADLINE;

  if (error->domain == G_IO_ERROR)
    switch (error->code)
      {
      case G_IO_ERROR_TIMED_OUT:
      case G_IO_ERROR_BUSY:
      case G_IO_ERROR_WOULD_BLOCK:
      case G_IO_ERROR_CONNECTION_REFUSED:
      case G_IO_ERROR_CONNECTION_CLOSED:
      case G_IO_ERROR_NETWORK_UNREACHABLE:
      case G_IO_ERROR_HOST_UNREACHABLE:
        return TRUE;
      default:
        return FALSE;
      }

  if (error->domain == G_RESOLVER_ERROR)
    return error->code == G_RESOLVER_ERROR_TEMPORARY_FAILURE;

  return FALSE;
}

void
td_farm_result_free (TdFarmResult *result)
{
  if (result == NULL)
    return;

  if (result->result != NULL && result->result_destroy != NULL)
    result->result_destroy (result->result);
  g_clear_error (&result->error);
  g_free (result->key);
  g_free (result);
}

/* Returns the job's result and leaves @result without one. */
gpointer
td_farm_result_steal (TdFarmResult *result)
{
  g_return_val_if_fail (result != NULL, NULL);

  return g_steal_pointer (&result->result);
}

/* ------------------------------------------------------------------ */
/* Jobs and attempts                                                  */
/* ------------------------------------------------------------------ */

static TdFarmJob *
td_farm_job_new (const char     *key,
                 const char     *group,
                 gpointer        data,
                 GDestroyNotify  data_destroy)
{
  TdFarmJob *job = g_new0 (TdFarmJob, 1);

  g_atomic_ref_count_init (&job->ref_count);
  job->key = g_strdup (key);
  job->group = g_strdup (group);
  job->data = data;
  job->data_destroy = data_destroy;
  job->link.data = job;

  return job;
}

static TdFarmJob *
td_farm_job_ref (TdFarmJob *job)
{
  g_atomic_ref_count_inc (&job->ref_count);
  return job;
}

static void
td_farm_job_unref (TdFarmJob *job)
{
  if (!g_atomic_ref_count_dec (&job->ref_count))
    return;

  if (job->data != NULL && job->data_destroy != NULL)
    job->data_destroy (job->data);
  g_clear_object (&job->cancellable);
  g_free (job->key);
  g_free (job->group);
  g_free (job);
}

static void
td_farm_attempt_free (gpointer data)
{
  TdFarmAttempt *attempt = data;

  td_farm_job_unref (attempt->job);
  g_free (attempt);
}

/* Runs one attempt of a job on a worker. */
static gpointer
td_farm_attempt_worker (TdTask        *task,
                        gpointer       task_data,
                        GCancellable  *cancellable,
                        GError       **error)
{
  TdFarmAttempt *attempt = task_data;

  return attempt->func (attempt->job->key, attempt->job->data, cancellable,
                        &attempt->retry_after_ms, error);
}

/* ------------------------------------------------------------------ */
/* Bookkeeping                                                        */
/* ------------------------------------------------------------------ */

static GQueue *
td_farm_lane (TdFarm    *self,
              TdFarmJob *job)
{
  return job->urgent ? &self->urgent : &self->background;
}

static guint
td_farm_group_running (TdFarm     *self,
                       const char *group)
{
  if (group == NULL)
    return 0;

  return GPOINTER_TO_UINT (g_hash_table_lookup (self->group_running, group));
}

static void
td_farm_group_add (TdFarm     *self,
                   const char *group,
                   int         delta)
{
  guint n;

  if (group == NULL)
    return;

  n = td_farm_group_running (self, group) + delta;
  if (n == 0)
    g_hash_table_remove (self->group_running, group);
  else
    g_hash_table_insert (self->group_running, g_strdup (group), GUINT_TO_POINTER (n));
}

static void
td_farm_enqueue (TdFarm    *self,
                 TdFarmJob *job)
{
  job->state = TD_FARM_JOB_QUEUED;
  g_queue_push_tail_link (td_farm_lane (self, job), &job->link);
}

/* Takes a running job off its worker: its attempt is cancelled and any
 * result it still sends will be dropped. */
static void
td_farm_abandon (TdFarm    *self,
                 TdFarmJob *job)
{
  g_assert (job->state == TD_FARM_JOB_RUNNING);

  g_cancellable_cancel (job->cancellable);
  g_clear_object (&job->cancellable);
  job->serial++;
  self->n_running--;
  td_farm_group_add (self, job->group, -1);
}

/* Takes a job out of whatever it is doing, before it is forgotten. */
static void
td_farm_detach (TdFarm    *self,
                TdFarmJob *job)
{
  switch (job->state)
    {
    case TD_FARM_JOB_QUEUED:
      g_queue_unlink (td_farm_lane (self, job), &job->link);
      break;
    case TD_FARM_JOB_RUNNING:
      td_farm_abandon (self, job);
      break;
    case TD_FARM_JOB_WAITING:
      self->n_waiting--;
      break;
    default:
      g_assert_not_reached ();
    }
}

/* Reports the final outcome of @job and forgets it. */
static void
td_farm_finish (TdFarm    *self,
                TdFarmJob *job,
                gpointer   result,
                GError    *error)
{
  TdFarmResult *report = g_new0 (TdFarmResult, 1);

  report->key = g_strdup (job->key);
  report->result = result;
  report->result_destroy = self->result_destroy;
  report->error = error;
  report->attempts = job->attempts;
  report->generation = self->generation;

  if (error == NULL)
    self->n_done++;
  else
    self->n_failed++;

  if (self->result_to != TD_MAILBOX_NONE)
    td_mail_send_new (self->result_to, self->result_kind, report,
                      (GDestroyNotify) td_farm_result_free);
  else
    td_farm_result_free (report);

  g_hash_table_remove (self->jobs, job->key);
}

/* After a failed or abandoned attempt: back off and retry if the error
 * is transient and attempts remain, else report the failure. Takes
 * @error. */
static void
td_farm_retry_or_fail (TdFarm    *self,
                       TdFarmJob *job,
                       GError    *error,
                       guint      retry_after_ms)
{
  gboolean transient = self->config.classify (error, self->config.classify_data);

  if (!transient || job->attempts >= self->config.max_attempts)
    {
      td_farm_finish (self, job, NULL, error);
      return;
    }

  g_error_free (error);
  job->state = TD_FARM_JOB_WAITING;
  job->due = g_get_monotonic_time ()
             + (gint64) MAX (td_retry_policy_delay_random (&self->config.retry, job->attempts),
                             retry_after_ms) * G_TIME_SPAN_MILLISECOND;
  self->n_waiting++;
}

/* Starts @job (already out of its lane) on the task loop. */
static void
td_farm_start (TdFarm    *self,
               TdFarmJob *job)
{
  TdFarmAttempt *attempt = g_new0 (TdFarmAttempt, 1);
  TdTask *task;

  job->state = TD_FARM_JOB_RUNNING;
  job->serial++;
  g_clear_object (&job->cancellable);
  job->cancellable = g_cancellable_new ();
  job->deadline = self->config.deadline_ms > 0
                  ? g_get_monotonic_time () + (gint64) self->config.deadline_ms * G_TIME_SPAN_MILLISECOND
                  : 0;
  self->n_running++;
  td_farm_group_add (self, job->group, +1);

  attempt->job = td_farm_job_ref (job);
  attempt->func = self->func;
  attempt->serial = job->serial;

  task = td_task_new (td_farm_attempt_worker, attempt, td_farm_attempt_free,
                      self->result_destroy);
  td_task_set_reply (task, self->mailbox, TD_FARM_MAIL_TASK_DONE);
  td_task_set_generation (task, self->generation);
  td_task_set_cancellable (task, job->cancellable);

  if (job->urgent)
    td_task_loop_push_front (self->loop, task);
  else
    td_task_loop_push (self->loop, task);
}

/* Whether @job's group has room for one more running job. */
static gboolean
td_farm_group_has_room (TdFarm    *self,
                        TdFarmJob *job)
{
  return self->config.max_per_group == 0
         || job->group == NULL
         || td_farm_group_running (self, job->group) < self->config.max_per_group;
}

/* Returns the first job of @lane whose group has room, or NULL. */
static TdFarmJob *
td_farm_pick (TdFarm *self,
              GQueue *lane)
{
  for (GList *l = lane->head; l != NULL; l = l->next)
    {
      TdFarmJob *job = l->data;

      if (td_farm_group_has_room (self, job))
        return job;
    }

  return NULL;
}

/* Starts queued jobs while the limits allow, urgent ones first. */
static void
td_farm_pump (TdFarm *self)
{
  while (self->n_running < self->config.max_running)
    {
      TdFarmJob *job = td_farm_pick (self, &self->urgent);

      if (job == NULL)
        job = td_farm_pick (self, &self->background);
      if (job == NULL)
        break;

      g_queue_unlink (td_farm_lane (self, job), &job->link);
      td_farm_start (self, job);
    }
}

/* Arms the retry timer for @when (monotonic time), in place of any. */
static void
td_farm_arm_at (TdFarm *self,
                gint64  when)
{
  gint64 now = g_get_monotonic_time ();
  guint delay_ms;

  td_mail_cancel_timeout (self->wake_timeout);
  /* Round up: waking before the moment would only arm another timer. */
  delay_ms = when > now ? (guint) ((when - now + G_TIME_SPAN_MILLISECOND - 1) / G_TIME_SPAN_MILLISECOND) : 0;
  self->wake_at = when;
  self->wake_timeout = td_mail_send_after (self->mailbox, delay_ms,
                                           td_mail_new (TD_FARM_MAIL_WAKE, NULL, NULL));
}

/* Arms the retry timer for the next deadline or backoff, or disarms it
 * when there is none (an idle farm arms nothing). Looks at every job. */
static void
td_farm_arm_timer (TdFarm *self)
{
  GHashTableIter iter;
  TdFarmJob *job;
  gint64 next = G_MAXINT64;

  g_hash_table_iter_init (&iter, self->jobs);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &job))
    {
      if (job->state == TD_FARM_JOB_RUNNING && job->deadline > 0)
        next = MIN (next, job->deadline);
      else if (job->state == TD_FARM_JOB_WAITING)
        next = MIN (next, job->due);
    }

  if (next == self->wake_at && td_mail_timeout_is_pending (self->wake_timeout))
    return;

  if (next != G_MAXINT64)
    {
      td_farm_arm_at (self, next);
      return;
    }
  td_mail_cancel_timeout (self->wake_timeout);
  self->wake_timeout = 0;
  self->wake_at = 0;
}

/* Arms the retry timer for @when unless it goes off no later already:
 * for a job just started, whose deadline is the only thing that changed. */
static void
td_farm_wake_by (TdFarm *self,
                 gint64  when)
{
  if (when <= 0 || (self->wake_at <= when && td_mail_timeout_is_pending (self->wake_timeout)))
    return;
  td_farm_arm_at (self, when);
}

/* Sends progress mail if the counts changed since the last one. */
static void
td_farm_report_progress (TdFarm *self)
{
  TdFarmProgress progress;

  td_farm_get_progress (self, &progress);
  if (self->progress_sent && memcmp (&progress, &self->last_progress, sizeof progress) == 0)
    return;

  self->last_progress = progress;
  self->progress_sent = TRUE;
  if (self->progress_to != TD_MAILBOX_NONE)
    td_mail_send_new (self->progress_to, self->progress_kind,
                      g_memdup2 (&progress, sizeof progress), g_free);
}

/* Reports progress from the farm's own mailbox, so that a burst of
 * changes (adding five hundred feeds) makes one progress mail, not five
 * hundred. */
static void
td_farm_schedule_report (TdFarm *self)
{
  if (self->report_pending || self->progress_to == TD_MAILBOX_NONE)
    return;

  self->report_pending = TRUE;
  td_mail_send_new (self->mailbox, TD_FARM_MAIL_REPORT, NULL, NULL);
}

/* Runs after every change: start what may start, re-arm the timer, tell
 * the progress mailbox. */
static void
td_farm_changed (TdFarm *self)
{
  td_farm_pump (self);
  td_farm_arm_timer (self);
  td_farm_schedule_report (self);
}

/* The retry timer: abandons overdue jobs (an attempt each) and queues the
 * ones whose backoff is over. */
static void
td_farm_scan (TdFarm *self)
{
  g_autoptr(GPtrArray) overdue = g_ptr_array_new ();
  GHashTableIter iter;
  TdFarmJob *job;
  gint64 now = g_get_monotonic_time ();

  g_hash_table_iter_init (&iter, self->jobs);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &job))
    {
      if (job->state == TD_FARM_JOB_RUNNING && job->deadline > 0 && job->deadline <= now)
        g_ptr_array_add (overdue, job);
      else if (job->state == TD_FARM_JOB_WAITING && job->due <= now)
        {
          self->n_waiting--;
          td_farm_enqueue (self, job);
        }
    }

  /* Outside the iteration: failing a job removes it from the table. */
  for (guint i = 0; i < overdue->len; i++)
    {
      job = g_ptr_array_index (overdue, i);

      g_debug ("Job %s overdue on attempt %u", job->key, job->attempts + 1);
      td_farm_abandon (self, job);
      job->attempts++;
      if (job->attempts >= self->config.max_attempts)
        td_farm_finish (self, job, NULL,
                        g_error_new (TD_FARM_ERROR, TD_FARM_ERROR_DEADLINE,
                                     "No answer within %u ms, %u times",
                                     self->config.deadline_ms, job->attempts));
      else
        /* The deadline already made it wait: queue it again at once. */
        td_farm_enqueue (self, job);
    }
}

/* A worker finished an attempt. */
static void
td_farm_task_done (TdFarm       *self,
                   TdTaskResult *result)
{
  TdFarmAttempt *attempt = result->task_data;
  TdFarmJob *job;

  if (result->generation != self->generation)
    {
      self->n_discarded++;
      return;
    }

  job = g_hash_table_lookup (self->jobs, attempt->job->key);
  if (job != attempt->job || job->state != TD_FARM_JOB_RUNNING || job->serial != attempt->serial)
    {
      /* Removed, or given up as overdue and restarted meanwhile. */
      self->n_dropped++;
      return;
    }

  self->n_running--;
  td_farm_group_add (self, job->group, -1);
  g_clear_object (&job->cancellable);
  job->attempts++;

  if (result->error == NULL)
    td_farm_finish (self, job, td_task_result_steal (result), NULL);
  else
    td_farm_retry_or_fail (self, job, g_steal_pointer (&result->error),
                           attempt->retry_after_ms);
}

static void
td_farm_mail_cb (TdMailboxId  id,
                 TdMail      *mail,
                 gpointer     user_data)
{
  TdFarm *self = user_data;

  switch (mail->kind)
    {
    case TD_FARM_MAIL_TASK_DONE:
      td_farm_task_done (self, mail->data);
      break;
    case TD_FARM_MAIL_WAKE:
      self->wake_timeout = 0;
      self->wake_at = 0;
      td_farm_scan (self);
      break;
    case TD_FARM_MAIL_REPORT:
      self->report_pending = FALSE;
      td_farm_report_progress (self);
      return;
    default:
      g_assert_not_reached ();
    }

  td_farm_changed (self);
}

/* ------------------------------------------------------------------ */
/* Public API                                                         */
/* ------------------------------------------------------------------ */

/* Returns a farm that runs @func on @loop (which must outlive it) and
 * handles results on @context (NULL: the global default context).
 * Results are freed with @result_destroy. */
TdFarm *
td_farm_new (GMainContext       *context,
             TdTaskLoop         *loop,
             const TdFarmConfig *config,
             TdFarmJobFunc       func,
             GDestroyNotify      result_destroy)
{
  TdFarm *self;

  g_return_val_if_fail (loop != NULL, NULL);
  g_return_val_if_fail (func != NULL, NULL);

  if (context == NULL)
    context = g_main_context_default ();

  self = g_new0 (TdFarm, 1);
  self->context = g_main_context_ref (context);
  self->loop = loop;
  if (config != NULL)
    self->config = *config;
  if (self->config.max_running == 0)
    self->config.max_running = td_task_loop_get_n_workers (loop);
  if (self->config.max_attempts == 0)
    self->config.max_attempts = TD_FARM_DEFAULT_MAX_ATTEMPTS;
  if (self->config.retry.base_ms == 0)
    self->config.retry = TD_RETRY_POLICY_DEFAULT;
  if (self->config.classify == NULL)
    self->config.classify = td_farm_error_is_transient;
  self->func = func;
  self->result_destroy = result_destroy;
  self->generation = 1;

  self->jobs = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                      (GDestroyNotify) td_farm_job_unref);
  self->group_running = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_queue_init (&self->urgent);
  g_queue_init (&self->background);

  self->mailbox = td_mailbox_open (context, G_PRIORITY_DEFAULT, td_farm_mail_cb, self, NULL);

  return self;
}

/* Cancels every job and frees the farm; results still in flight are
 * discarded as stale mail. */
void
td_farm_free (TdFarm *self)
{
  GHashTableIter iter;
  TdFarmJob *job;

  if (self == NULL)
    return;

  td_mailbox_close (self->mailbox);
  td_mail_cancel_timeout (self->wake_timeout);

  g_hash_table_iter_init (&iter, self->jobs);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &job))
    if (job->state == TD_FARM_JOB_RUNNING)
      g_cancellable_cancel (job->cancellable);

  /* The lanes' links live inside the jobs: forget them, free nothing. */
  g_queue_init (&self->urgent);
  g_queue_init (&self->background);
  g_hash_table_unref (self->jobs);
  g_hash_table_unref (self->group_running);
  g_main_context_unref (self->context);
  g_free (self);
}

/* Sends each final result as TdFarmResult mail of @kind to @id. */
void
td_farm_set_result_mailbox (TdFarm      *self,
                            TdMailboxId  id,
                            guint        kind)
{
  g_return_if_fail (self != NULL);

  self->result_to = id;
  self->result_kind = kind;
}

/* Sends TdFarmProgress mail of @kind to @id whenever the counts change,
 * starting with the current counts. */
void
td_farm_set_progress_mailbox (TdFarm      *self,
                              TdMailboxId  id,
                              guint        kind)
{
  g_return_if_fail (self != NULL);

  self->progress_to = id;
  self->progress_kind = kind;
  self->progress_sent = FALSE;
  td_farm_report_progress (self);
}

/* Adds a job under @key in @group (NULL: none), owning @job_data. If
 * @key is already there, @job_data is freed and the job is only moved to
 * the urgent lane when @flags ask for it and it is not running yet.
 * Returns TRUE if a job was added or hurried. */
gboolean
td_farm_add (TdFarm         *self,
             const char     *key,
             const char     *group,
             gpointer        job_data,
             GDestroyNotify  job_data_destroy,
             TdFarmJobFlags  flags)
{
  gboolean urgent = (flags & TD_FARM_JOB_URGENT) != 0;
  TdFarmJob *job;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (key != NULL, FALSE);

  job = g_hash_table_lookup (self->jobs, key);
  if (job != NULL)
    {
      gboolean hurried = FALSE;

      if (job_data != NULL && job_data_destroy != NULL)
        job_data_destroy (job_data);

      if (urgent && !job->urgent && job->state != TD_FARM_JOB_RUNNING)
        {
          if (job->state == TD_FARM_JOB_QUEUED)
            g_queue_unlink (td_farm_lane (self, job), &job->link);
          else
            self->n_waiting--;
          job->urgent = TRUE;
          td_farm_enqueue (self, job);
          hurried = TRUE;
          td_farm_changed (self);
        }

      return hurried;
    }

  job = td_farm_job_new (key, group, job_data, job_data_destroy);
  job->urgent = urgent;
  g_hash_table_insert (self->jobs, job->key, job);
  td_farm_enqueue (self, job);
  /* Every other change started what it could (td_farm_changed), so only
   * the new job may start now, and only its deadline can move the timer:
   * adding a thousand jobs looks at each once, not at all of them each
   * time. */
  if (self->n_running < self->config.max_running && td_farm_group_has_room (self, job))
    {
      g_queue_unlink (td_farm_lane (self, job), &job->link);
      td_farm_start (self, job);
      td_farm_wake_by (self, job->deadline);
    }
  td_farm_schedule_report (self);

  return TRUE;
}

/* Forgets the job @key: cancelled if running, its result dropped when it
 * arrives. Returns FALSE if there was no such job. */
gboolean
td_farm_remove (TdFarm     *self,
                const char *key)
{
  TdFarmJob *job;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (key != NULL, FALSE);

  job = g_hash_table_lookup (self->jobs, key);
  if (job == NULL)
    return FALSE;

  td_farm_detach (self, job);
  g_hash_table_remove (self->jobs, key);
  td_farm_changed (self);

  return TRUE;
}

gboolean
td_farm_has_job (TdFarm     *self,
                 const char *key)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (key != NULL, FALSE);

  return g_hash_table_contains (self->jobs, key);
}

/* Starts a new generation: every job is cancelled and forgotten, the
 * counts restart at zero, and results of the old generation are
 * discarded (and counted) when they arrive. */
void
td_farm_reset (TdFarm *self)
{
  GHashTableIter iter;
  TdFarmJob *job;

  g_return_if_fail (self != NULL);

  self->generation++;

  g_hash_table_iter_init (&iter, self->jobs);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &job))
    {
      td_farm_detach (self, job);
      g_hash_table_iter_remove (&iter);
    }

  g_assert (self->n_running == 0 && self->n_waiting == 0);
  g_assert (g_queue_is_empty (&self->urgent) && g_queue_is_empty (&self->background));
  self->n_done = 0;
  self->n_failed = 0;
  td_farm_changed (self);
}

guint64
td_farm_get_generation (TdFarm *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->generation;
}

/* Fills @progress with the current counts. */
void
td_farm_get_progress (TdFarm         *self,
                      TdFarmProgress *progress)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (progress != NULL);

  memset (progress, 0, sizeof *progress);
  progress->queued = self->urgent.length + self->background.length + self->n_waiting;
  progress->running = self->n_running;
  progress->done = self->n_done;
  progress->failed = self->n_failed;
  progress->generation = self->generation;
}

/* Returns how many results of old generations were discarded. */
guint64
td_farm_get_discarded_count (TdFarm *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->n_discarded;
}

/* Returns how many results of removed or restarted attempts were dropped. */
guint64
td_farm_get_dropped_count (TdFarm *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->n_dropped;
}
