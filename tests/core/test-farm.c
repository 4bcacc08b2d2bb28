/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "core/td-farm.h"
#include "core/td-sync-private.h"
#include "td-core-test.h"

#define RESULT_KIND   11
#define PROGRESS_KIND 12

/* Long enough that a job is visibly "running" to the scheduler, short
 * enough to keep each test well under a second. */
#define WORK_MS 20

/* ------------------------------------------------------------------ */
/* Jobs: behaviour chosen per job, observations shared                */
/* ------------------------------------------------------------------ */

typedef struct
{
  guint    work_ms;         /* cancellable work before answering */
  guint    fail_first;      /* transient failure on the first N attempts */
  guint    hang_first;      /* ignore the deadline on the first N attempts */
  gboolean permanent;       /* fail with a permanent error */
  gboolean wait_gate;       /* block until the gate opens (or cancelled) */
  guint    retry_after_ms;  /* hint sent with transient failures */
  const char *group;

  /* Written by workers. */
  gint     n_started;       /* atomic */
  gint     n_cancelled;     /* atomic */
  gint64   starts[8];       /* under stats.mutex */
} Spec;

static struct
{
  GMutex      mutex;
  GCond       cond;
  gboolean    gate_open;
  guint       running;
  guint       max_running;
  GHashTable *group_running;   /* group -> count */
  guint       max_group_running;
  GPtrArray  *start_order;     /* keys (borrowed from the farm's job) */
} stats;

static void
stats_init (void)
{
  g_mutex_init (&stats.mutex);
  g_cond_init (&stats.cond);
  stats.gate_open = FALSE;
  stats.running = 0;
  stats.max_running = 0;
  stats.group_running = g_hash_table_new (g_str_hash, g_str_equal);
  stats.max_group_running = 0;
  stats.start_order = g_ptr_array_new_with_free_func (g_free);
}

static void
stats_clear (void)
{
  g_clear_pointer (&stats.group_running, g_hash_table_unref);
  g_clear_pointer (&stats.start_order, g_ptr_array_unref);
  g_mutex_clear (&stats.mutex);
  g_cond_clear (&stats.cond);
}

static void
gate_open (void)
{
  td_mutex_lock (&stats.mutex);
  stats.gate_open = TRUE;
  g_cond_broadcast (&stats.cond);
  td_mutex_unlock (&stats.mutex);
}

/* Until cancelled (or the test deadline, so a bug cannot hang a worker). */
#define FOREVER_MS TD_TEST_DEADLINE_MS

/* Waits, polling @cancellable, until the gate opens (if @for_gate) or @ms
 * pass. Returns FALSE if cancelled. */
static gboolean
wait_cancellable (GCancellable *cancellable,
                  guint         ms,
                  gboolean      for_gate)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;

  td_mutex_lock (&stats.mutex);
  while (!g_cancellable_is_cancelled (cancellable)
         && !(for_gate && stats.gate_open)
         && g_get_monotonic_time () < end)
    td_cond_wait_until (&stats.cond, &stats.mutex,
                        MIN (end, g_get_monotonic_time () + 1000));
  td_mutex_unlock (&stats.mutex);

  return !g_cancellable_is_cancelled (cancellable);
}

static gpointer
job_worker (const char    *key,
            gpointer       job_data,
            GCancellable  *cancellable,
            guint         *retry_after_ms,
            GError       **error)
{
  Spec *spec = job_data;
  guint attempt = g_atomic_int_add (&spec->n_started, 1);
  gboolean ok;
  guint n;

  td_mutex_lock (&stats.mutex);
  if (attempt < G_N_ELEMENTS (spec->starts))
    spec->starts[attempt] = g_get_monotonic_time ();
  g_ptr_array_add (stats.start_order, g_strdup (key));
  stats.running++;
  stats.max_running = MAX (stats.max_running, stats.running);
  if (spec->group != NULL)
    {
      n = GPOINTER_TO_UINT (g_hash_table_lookup (stats.group_running, spec->group)) + 1;
      g_hash_table_insert (stats.group_running, (gpointer) spec->group, GUINT_TO_POINTER (n));
      stats.max_group_running = MAX (stats.max_group_running, n);
    }
  td_mutex_unlock (&stats.mutex);

  if (spec->wait_gate)
    ok = wait_cancellable (cancellable, FOREVER_MS, TRUE);
  else if (attempt < spec->hang_first)
    ok = wait_cancellable (cancellable, FOREVER_MS, FALSE);
  else
    ok = wait_cancellable (cancellable, spec->work_ms, FALSE);

  td_mutex_lock (&stats.mutex);
  stats.running--;
  if (spec->group != NULL)
    {
      n = GPOINTER_TO_UINT (g_hash_table_lookup (stats.group_running, spec->group)) - 1;
      g_hash_table_insert (stats.group_running, (gpointer) spec->group, GUINT_TO_POINTER (n));
    }
  td_mutex_unlock (&stats.mutex);

  if (!ok)
    {
      g_atomic_int_inc (&spec->n_cancelled);
      g_cancellable_set_error_if_cancelled (cancellable, error);
      return NULL;
    }

  if (spec->permanent)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "gone for good");
      return NULL;
    }

  if (attempt < spec->fail_first)
    {
      *retry_after_ms = spec->retry_after_ms;
      g_set_error_literal (error, TD_FARM_ERROR, TD_FARM_ERROR_TRANSIENT, "try later");
      return NULL;
    }

  return g_strdup_printf ("%s:%u", key, attempt + 1);
}

/* ------------------------------------------------------------------ */
/* The test bench: a farm on a private context                        */
/* ------------------------------------------------------------------ */

typedef struct
{
  GMainContext *context;
  TdTaskLoop   *loop;
  TdFarm       *farm;
  TdMailboxId   inbox;
  GPtrArray    *results;     /* TdFarmResult */
  GArray       *progress;    /* TdFarmProgress */
  guint         expect;
  gint          done;
} Bench;

static void
bench_cb (TdMailboxId  id,
          TdMail      *mail,
          gpointer     user_data)
{
  Bench *bench = user_data;

  if (mail->kind == RESULT_KIND)
    {
      g_ptr_array_add (bench->results, td_mail_steal_data (mail));
      if (bench->results->len >= bench->expect)
        bench->done = TRUE;
    }
  else
    {
      g_assert_cmpuint (mail->kind, ==, PROGRESS_KIND);
      g_array_append_vals (bench->progress, mail->data, 1);
    }
}

static void
bench_init (Bench              *bench,
            const TdFarmConfig *config)
{
  memset (bench, 0, sizeof *bench);
  stats_init ();
  bench->context = g_main_context_new ();
  bench->loop = td_task_loop_new (6);
  bench->farm = td_farm_new (bench->context, bench->loop, config, job_worker, g_free);
  bench->results = g_ptr_array_new_with_free_func ((GDestroyNotify) td_farm_result_free);
  bench->progress = g_array_new (FALSE, FALSE, sizeof (TdFarmProgress));
  bench->inbox = td_mailbox_open (bench->context, G_PRIORITY_DEFAULT, bench_cb, bench, NULL);
  td_farm_set_result_mailbox (bench->farm, bench->inbox, RESULT_KIND);
  td_farm_set_progress_mailbox (bench->farm, bench->inbox, PROGRESS_KIND);
}

static void
bench_wait (Bench *bench,
            guint  n_results)
{
  bench->expect = n_results;
  bench->done = bench->results->len >= n_results;
  td_test_iterate_until_flag (bench->context, &bench->done, TD_TEST_DEADLINE_MS);
}

static void
bench_clear (Bench *bench)
{
  td_farm_free (bench->farm);
  /* Cancelled attempts finish, their results go stale, workers exit. */
  g_assert_true (td_task_loop_shutdown (bench->loop, 5000));
  td_task_loop_free (bench->loop);
  td_mailbox_close (bench->inbox);
  while (g_main_context_iteration (bench->context, FALSE))
    ;
  g_main_context_unref (bench->context);
  g_ptr_array_unref (bench->results);
  g_array_unref (bench->progress);
  stats_clear ();
}

static TdFarmResult *
find_result (Bench      *bench,
             const char *key)
{
  for (guint i = 0; i < bench->results->len; i++)
    {
      TdFarmResult *result = g_ptr_array_index (bench->results, i);

      if (g_str_equal (result->key, key))
        return result;
    }

  g_error ("no result for %s", key);
  return NULL;
}

static void
add_job (Bench          *bench,
         const char     *key,
         Spec           *spec,
         TdFarmJobFlags  flags)
{
  g_assert_true (td_farm_add (bench->farm, key, spec->group, spec, NULL, flags));
}

/* ------------------------------------------------------------------ */
/* Tests                                                              */
/* ------------------------------------------------------------------ */

#define N_LIMIT_JOBS 16

/* Never more than max_running jobs at once, and the limit is used. */
static void
test_concurrency_limit (void)
{
  TdFarmConfig config = { .max_running = 3 };
  Spec specs[N_LIMIT_JOBS] = { 0 };
  Bench bench;

  bench_init (&bench, &config);
  for (guint i = 0; i < N_LIMIT_JOBS; i++)
    {
      g_autofree char *key = g_strdup_printf ("job-%u", i);

      specs[i].work_ms = WORK_MS;
      add_job (&bench, key, &specs[i], TD_FARM_JOB_DEFAULT);
    }
  bench_wait (&bench, N_LIMIT_JOBS);

  g_assert_cmpuint (stats.max_running, ==, 3);
  for (guint i = 0; i < N_LIMIT_JOBS; i++)
    {
      g_autofree char *key = g_strdup_printf ("job-%u", i);
      g_autofree char *want = g_strdup_printf ("job-%u:1", i);
      TdFarmResult *result = find_result (&bench, key);

      g_assert_no_error (result->error);
      g_assert_cmpstr (result->result, ==, want);
      g_assert_cmpuint (result->attempts, ==, 1);
      g_assert_false (td_farm_has_job (bench.farm, key));
    }

  bench_clear (&bench);
}

/* At most max_per_group jobs of one group at once, while jobs of other
 * groups still use the rest of the global limit. */
static void
test_group_limit (void)
{
  TdFarmConfig config = { .max_running = 6, .max_per_group = 2 };
  const char *groups[] = { "a.example", "b.example", "c.example" };
  Spec specs[15] = { 0 };
  Bench bench;

  bench_init (&bench, &config);
  for (guint i = 0; i < G_N_ELEMENTS (specs); i++)
    {
      g_autofree char *key = g_strdup_printf ("job-%u", i);

      specs[i].work_ms = WORK_MS;
      /* All of a.example first, so a plain FIFO would run 6 of them. */
      specs[i].group = groups[i / 5];
      add_job (&bench, key, &specs[i], TD_FARM_JOB_DEFAULT);
    }
  bench_wait (&bench, G_N_ELEMENTS (specs));

  g_assert_cmpuint (stats.max_group_running, ==, 2);
  g_assert_cmpuint (stats.max_running, >, 2);
  g_assert_cmpuint (stats.max_running, <=, 6);

  bench_clear (&bench);
}

/* A job that misses its deadline is cancelled and run again; its late
 * answer is dropped. */
static void
test_overdue_restarted (void)
{
  TdFarmConfig config = { .max_running = 2, .deadline_ms = 50 };
  Spec spec = { .work_ms = 1, .hang_first = 1 };
  TdFarmResult *result;
  Bench bench;
  gint64 start = g_get_monotonic_time ();

  bench_init (&bench, &config);
  add_job (&bench, "slow", &spec, TD_FARM_JOB_DEFAULT);
  bench_wait (&bench, 1);

  result = find_result (&bench, "slow");
  g_assert_no_error (result->error);
  g_assert_cmpstr (result->result, ==, "slow:2");
  g_assert_cmpuint (result->attempts, ==, 2);
  g_assert_cmpint (g_atomic_int_get (&spec.n_cancelled), ==, 1);
  /* Restarted when the deadline (counted from the farm starting the
   * attempt, after the add) passed, not before. */
  g_assert_cmpint (spec.starts[1] - start, >=, 50 * 1000);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 2 * G_USEC_PER_SEC);

  /* The cancelled first attempt still answers; that answer is dropped. */
  while (td_farm_get_dropped_count (bench.farm) < 1)
    g_main_context_iteration (bench.context, TRUE);
  g_assert_cmpuint (bench.results->len, ==, 1);

  bench_clear (&bench);
}

/* A job that is overdue on every attempt fails with DEADLINE. The
 * deadline leaves a worker time to pick each attempt up even in a slow
 * (sanitizer) build, so that every attempt really runs. */
static void
test_overdue_max_attempts (void)
{
  TdFarmConfig config = { .max_running = 2, .deadline_ms = 150, .max_attempts = 3 };
  Spec spec = { .hang_first = 100 };
  TdFarmResult *result;
  Bench bench;

  bench_init (&bench, &config);
  add_job (&bench, "dead", &spec, TD_FARM_JOB_DEFAULT);
  bench_wait (&bench, 1);

  result = find_result (&bench, "dead");
  g_assert_error (result->error, TD_FARM_ERROR, TD_FARM_ERROR_DEADLINE);
  g_assert_cmpuint (result->attempts, ==, 3);
  g_assert_cmpint (g_atomic_int_get (&spec.n_started), ==, 3);

  bench_clear (&bench);
}

/* Transient failures are retried after base, base*factor, ... and the
 * job fails once max_attempts is reached. */
static void
test_backoff_schedule (void)
{
  TdFarmConfig config = {
    .max_running = 2,
    .max_attempts = 4,
    .retry = { .base_ms = 30, .factor = 2.0, .cap_ms = 100, .jitter = 0.0 },
  };
  /* Retry delays: 30, 60, then capped at 100. */
  const gint64 delays_ms[] = { 30, 60, 100 };
  /* Timers fire late on a loaded machine, never early. */
  const gint64 slack_ms = 200;
  Spec spec = { .fail_first = 100 };
  TdFarmResult *result;
  Bench bench;

  bench_init (&bench, &config);
  add_job (&bench, "flaky", &spec, TD_FARM_JOB_DEFAULT);
  bench_wait (&bench, 1);

  result = find_result (&bench, "flaky");
  g_assert_error (result->error, TD_FARM_ERROR, TD_FARM_ERROR_TRANSIENT);
  g_assert_cmpuint (result->attempts, ==, 4);
  g_assert_cmpint (g_atomic_int_get (&spec.n_started), ==, 4);

  for (guint i = 0; i < G_N_ELEMENTS (delays_ms); i++)
    {
      gint64 gap = spec.starts[i + 1] - spec.starts[i];

      g_assert_cmpint (gap, >=, delays_ms[i] * 1000);
      g_assert_cmpint (gap, <, (delays_ms[i] + slack_ms) * 1000);
    }

  bench_clear (&bench);
}

/* A transient failure with a retry-after hint longer than the backoff
 * waits for the hint; a success on the retry is reported. */
static void
test_retry_after_hint (void)
{
  TdFarmConfig config = {
    .max_running = 2,
    .retry = { .base_ms = 10, .factor = 2.0, .cap_ms = 1000, .jitter = 0.0 },
  };
  Spec spec = { .fail_first = 1, .retry_after_ms = 150 };
  TdFarmResult *result;
  Bench bench;

  bench_init (&bench, &config);
  add_job (&bench, "busy", &spec, TD_FARM_JOB_DEFAULT);
  bench_wait (&bench, 1);

  result = find_result (&bench, "busy");
  g_assert_no_error (result->error);
  g_assert_cmpuint (result->attempts, ==, 2);
  g_assert_cmpint (spec.starts[1] - spec.starts[0], >=, 150 * 1000);

  bench_clear (&bench);
}

/* A permanent error is not retried. */
static void
test_permanent_error (void)
{
  TdFarmConfig config = { .max_running = 2, .retry = { .base_ms = 10, .factor = 2.0 } };
  Spec spec = { .permanent = TRUE };
  TdFarmResult *result;
  Bench bench;

  bench_init (&bench, &config);
  add_job (&bench, "gone", &spec, TD_FARM_JOB_DEFAULT);
  bench_wait (&bench, 1);

  result = find_result (&bench, "gone");
  g_assert_error (result->error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_cmpuint (result->attempts, ==, 1);
  g_assert_cmpint (g_atomic_int_get (&spec.n_started), ==, 1);

  bench_clear (&bench);
}

/* Results of jobs running when the farm is reset are discarded (and
 * counted) when they arrive; the new generation's results come through. */
static void
test_reset_discards (void)
{
  TdFarmConfig config = { .max_running = 2 };
  Spec old_specs[4] = { 0 };
  Spec new_spec = { .work_ms = 1 };
  TdFarmProgress progress;
  TdFarmResult *result;
  Bench bench;

  bench_init (&bench, &config);
  for (guint i = 0; i < G_N_ELEMENTS (old_specs); i++)
    {
      g_autofree char *key = g_strdup_printf ("old-%u", i);

      old_specs[i].wait_gate = TRUE;
      add_job (&bench, key, &old_specs[i], TD_FARM_JOB_DEFAULT);
    }
  g_assert_cmpuint (td_farm_get_generation (bench.farm), ==, 1);

  /* Two are running (blocked at the gate), two queued. */
  td_test_iterate_for (bench.context, 20);
  td_farm_get_progress (bench.farm, &progress);
  g_assert_cmpuint (progress.running, ==, 2);
  g_assert_cmpuint (progress.queued, ==, 2);

  td_farm_reset (bench.farm);
  g_assert_cmpuint (td_farm_get_generation (bench.farm), ==, 2);
  td_farm_get_progress (bench.farm, &progress);
  g_assert_cmpuint (progress.running + progress.queued + progress.done + progress.failed, ==, 0);
  g_assert_false (td_farm_has_job (bench.farm, "old-0"));

  add_job (&bench, "new", &new_spec, TD_FARM_JOB_DEFAULT);
  bench_wait (&bench, 1);
  while (td_farm_get_discarded_count (bench.farm) < 2)
    g_main_context_iteration (bench.context, TRUE);

  /* Only the new job reported; the queued old ones never ran. */
  td_test_iterate_for (bench.context, 20);
  g_assert_cmpuint (bench.results->len, ==, 1);
  result = find_result (&bench, "new");
  g_assert_cmpuint (result->generation, ==, 2);
  g_assert_cmpuint (td_farm_get_discarded_count (bench.farm), ==, 2);
  g_assert_cmpint (g_atomic_int_get (&old_specs[2].n_started) + g_atomic_int_get (&old_specs[3].n_started), ==, 0);

  bench_clear (&bench);
}

/* Urgent jobs start before background jobs queued earlier. */
static void
test_priority_lane (void)
{
  TdFarmConfig config = { .max_running = 1 };
  Spec blocker = { .wait_gate = TRUE };
  Spec background[4] = { 0 };
  Spec urgent = { .work_ms = 1 };
  Bench bench;

  bench_init (&bench, &config);
  add_job (&bench, "blocker", &blocker, TD_FARM_JOB_DEFAULT);
  for (guint i = 0; i < G_N_ELEMENTS (background); i++)
    {
      g_autofree char *key = g_strdup_printf ("bg-%u", i);

      background[i].work_ms = 1;
      add_job (&bench, key, &background[i], TD_FARM_JOB_DEFAULT);
    }
  add_job (&bench, "urgent", &urgent, TD_FARM_JOB_URGENT);
  /* Hurrying a queued background job moves it up too; a second add of
   * the same key without the flag changes nothing. */
  g_assert_true (td_farm_add (bench.farm, "bg-3", NULL, NULL, NULL, TD_FARM_JOB_URGENT));
  g_assert_false (td_farm_add (bench.farm, "bg-3", NULL, NULL, NULL, TD_FARM_JOB_DEFAULT));

  gate_open ();
  bench_wait (&bench, 6);

  g_assert_cmpuint (stats.start_order->len, ==, 6);
  g_assert_cmpstr (g_ptr_array_index (stats.start_order, 0), ==, "blocker");
  g_assert_cmpstr (g_ptr_array_index (stats.start_order, 1), ==, "urgent");
  g_assert_cmpstr (g_ptr_array_index (stats.start_order, 2), ==, "bg-3");
  g_assert_cmpstr (g_ptr_array_index (stats.start_order, 3), ==, "bg-0");
  g_assert_cmpstr (g_ptr_array_index (stats.start_order, 4), ==, "bg-1");
  g_assert_cmpstr (g_ptr_array_index (stats.start_order, 5), ==, "bg-2");

  bench_clear (&bench);
}

/* Removing a running job cancels it and drops its result; removing a
 * queued job means it never runs. */
static void
test_remove_drops_result (void)
{
  TdFarmConfig config = { .max_running = 1 };
  Spec running = { .wait_gate = TRUE };
  Spec queued = { .work_ms = 1 };
  Spec other = { .work_ms = 1 };
  TdFarmProgress progress;
  Bench bench;

  bench_init (&bench, &config);
  add_job (&bench, "running", &running, TD_FARM_JOB_DEFAULT);
  add_job (&bench, "queued", &queued, TD_FARM_JOB_DEFAULT);
  add_job (&bench, "other", &other, TD_FARM_JOB_DEFAULT);
  while (g_atomic_int_get (&running.n_started) == 0)
    g_main_context_iteration (bench.context, FALSE);

  g_assert_true (td_farm_remove (bench.farm, "queued"));
  g_assert_true (td_farm_remove (bench.farm, "running"));
  g_assert_false (td_farm_remove (bench.farm, "running"));
  g_assert_false (td_farm_has_job (bench.farm, "running"));

  bench_wait (&bench, 1);
  while (td_farm_get_dropped_count (bench.farm) < 1)
    g_main_context_iteration (bench.context, TRUE);

  g_assert_cmpuint (bench.results->len, ==, 1);
  g_assert_nonnull (find_result (&bench, "other"));
  g_assert_cmpint (g_atomic_int_get (&running.n_cancelled), ==, 1);
  g_assert_cmpint (g_atomic_int_get (&queued.n_started), ==, 0);
  td_farm_get_progress (bench.farm, &progress);
  g_assert_cmpuint (progress.done, ==, 1);
  g_assert_cmpuint (progress.queued + progress.running + progress.failed, ==, 0);

  bench_clear (&bench);
}

/* Progress mail follows the changes, one mail per burst, and ends with
 * the final counts. */
static void
test_progress_mail (void)
{
  TdFarmConfig config = { .max_running = 1 };
  Spec ok1 = { .work_ms = 1 }, ok2 = { .work_ms = 1 }, bad = { .permanent = TRUE };
  gboolean saw_one_running_two_queued = FALSE;
  TdFarmProgress *last;
  Bench bench;

  bench_init (&bench, &config);
  add_job (&bench, "ok1", &ok1, TD_FARM_JOB_DEFAULT);
  add_job (&bench, "bad", &bad, TD_FARM_JOB_DEFAULT);
  add_job (&bench, "ok2", &ok2, TD_FARM_JOB_DEFAULT);
  bench_wait (&bench, 3);
  td_test_iterate_for (bench.context, 10);

  /* The first mail is the empty farm, sent when the mailbox was set; the
   * three adds made one mail between them. */
  g_assert_cmpuint (bench.progress->len, >=, 3);
  g_assert_cmpuint (g_array_index (bench.progress, TdFarmProgress, 0).queued, ==, 0);
  g_assert_cmpuint (g_array_index (bench.progress, TdFarmProgress, 1).queued, ==, 2);
  g_assert_cmpuint (g_array_index (bench.progress, TdFarmProgress, 1).running, ==, 1);
  for (guint i = 1; i < bench.progress->len; i++)
    {
      TdFarmProgress *p = &g_array_index (bench.progress, TdFarmProgress, i);
      TdFarmProgress *prev = &g_array_index (bench.progress, TdFarmProgress, i - 1);

      g_assert_cmpuint (p->running, <=, 1);
      /* Each mail says something new. */
      g_assert_true (memcmp (p, prev, sizeof *p) != 0);
      /* Finished counts never go back. */
      g_assert_cmpuint (p->done, >=, prev->done);
      g_assert_cmpuint (p->failed, >=, prev->failed);
      if (p->running == 1 && p->queued == 2)
        saw_one_running_two_queued = TRUE;
    }
  g_assert_true (saw_one_running_two_queued);

  last = &g_array_index (bench.progress, TdFarmProgress, bench.progress->len - 1);
  g_assert_cmpuint (last->queued, ==, 0);
  g_assert_cmpuint (last->running, ==, 0);
  g_assert_cmpuint (last->done, ==, 2);
  g_assert_cmpuint (last->failed, ==, 1);
  g_assert_cmpuint (last->generation, ==, 1);

  bench_clear (&bench);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/td/farm/concurrency-limit", test_concurrency_limit);
  g_test_add_func ("/td/farm/group-limit", test_group_limit);
  g_test_add_func ("/td/farm/overdue-restarted", test_overdue_restarted);
  g_test_add_func ("/td/farm/overdue-max-attempts", test_overdue_max_attempts);
  g_test_add_func ("/td/farm/backoff-schedule", test_backoff_schedule);
  g_test_add_func ("/td/farm/retry-after-hint", test_retry_after_hint);
  g_test_add_func ("/td/farm/permanent-error", test_permanent_error);
  g_test_add_func ("/td/farm/reset-discards", test_reset_discards);
  g_test_add_func ("/td/farm/priority-lane", test_priority_lane);
  g_test_add_func ("/td/farm/remove-drops-result", test_remove_drops_result);
  g_test_add_func ("/td/farm/progress-mail", test_progress_mail);

  return g_test_run ();
}
