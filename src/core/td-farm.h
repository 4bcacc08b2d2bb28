/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "core/td-mailbox.h"
#include "core/td-task-loop.h"
#include "core/td-timers.h"

G_BEGIN_DECLS

/*
 * A farm runs keyed jobs (for example one per feed) on a task loop.
 *
 * - At most `max_running` jobs run at once, and at most `max_per_group`
 *   of one group (for example one host).
 * - Urgent jobs (the user asked for them) go before background ones.
 * - Each running job has a deadline; the farm's retry timer cancels an
 *   overdue job and queues it again, which counts as an attempt.
 * - Transient failures are retried after an exponential backoff with
 *   jitter, or after the job's own "retry after" hint if that is longer,
 *   up to `max_attempts`; then the job is reported failed.
 * - td_farm_reset() starts a new generation: results of the old one are
 *   discarded when they arrive (and counted), never reported.
 * - Results go as TdFarmResult mail to the result mailbox; counts go as
 *   TdFarmProgress mail to the progress mailbox whenever they change.
 *
 * A farm belongs to the thread that owns its context: call it from there.
 * Job functions run on workers and must not touch the farm.
 */

#define TD_FARM_ERROR (td_farm_error_quark ())

typedef enum
{
  TD_FARM_ERROR_TRANSIENT,   /* set by a job: try again later */
  TD_FARM_ERROR_DEADLINE,    /* the job was overdue on its last attempt */
} TdFarmError;

/* Retries before a job is reported failed, counting the first attempt:
 * enough to ride out a short outage, few enough to report a dead feed
 * within minutes under the default backoff. */
#define TD_FARM_DEFAULT_MAX_ATTEMPTS 5

/* Runs on a worker. Returns the result (freed with the farm's
 * result_destroy) or NULL and sets @error; may set *@retry_after_ms to
 * the delay the peer asked for (an HTTP Retry-After, say). Must poll
 * @cancellable. */
typedef gpointer (*TdFarmJobFunc)      (const char    *key,
                                        gpointer       job_data,
                                        GCancellable  *cancellable,
                                        guint         *retry_after_ms,
                                        GError       **error);

/* Returns TRUE if @error is worth retrying. */
typedef gboolean (*TdFarmClassifyFunc) (const GError  *error,
                                        gpointer       user_data);

typedef struct
{
  guint              max_running;     /* 0: the task loop's worker count */
  guint              max_per_group;   /* 0: no limit per group */
  guint              deadline_ms;     /* 0: no deadline */
  guint              max_attempts;    /* 0: TD_FARM_DEFAULT_MAX_ATTEMPTS */
  TdRetryPolicy      retry;           /* base_ms 0: TD_RETRY_POLICY_DEFAULT */
  TdFarmClassifyFunc classify;        /* NULL: td_farm_error_is_transient() */
  gpointer           classify_data;
} TdFarmConfig;

typedef enum
{
  TD_FARM_JOB_DEFAULT = 0,
  TD_FARM_JOB_URGENT  = 1 << 0,   /* the user is waiting: goes first */
} TdFarmJobFlags;

/* The payload of result mail. */
typedef struct
{
  char           *key;
  gpointer        result;          /* NULL on failure */
  GError         *error;           /* why the job failed */
  guint           attempts;        /* attempts made, including this one */
  guint64         generation;
  GDestroyNotify  result_destroy;
} TdFarmResult;

/* The payload of progress mail. */
typedef struct
{
  guint   queued;                  /* waiting to run, or to be retried */
  guint   running;
  guint   done;
  guint   failed;
  guint64 generation;
} TdFarmProgress;

typedef struct _TdFarm TdFarm;

GQuark        td_farm_error_quark            (void);
gboolean      td_farm_error_is_transient     (const GError        *error,
                                              gpointer             user_data);

void          td_farm_result_free            (TdFarmResult        *result);
gpointer      td_farm_result_steal           (TdFarmResult        *result);

TdFarm       *td_farm_new                    (GMainContext        *context,
                                              TdTaskLoop          *loop,
                                              const TdFarmConfig  *config,
                                              TdFarmJobFunc        func,
                                              GDestroyNotify       result_destroy);
void          td_farm_free                   (TdFarm              *farm);
void          td_farm_set_result_mailbox     (TdFarm              *farm,
                                              TdMailboxId          id,
                                              guint                kind);
void          td_farm_set_progress_mailbox   (TdFarm              *farm,
                                              TdMailboxId          id,
                                              guint                kind);
gboolean      td_farm_add                    (TdFarm              *farm,
                                              const char          *key,
                                              const char          *group,
                                              gpointer             job_data,
                                              GDestroyNotify       job_data_destroy,
                                              TdFarmJobFlags       flags);
gboolean      td_farm_remove                 (TdFarm              *farm,
                                              const char          *key);
gboolean      td_farm_has_job                (TdFarm              *farm,
                                              const char          *key);
void          td_farm_reset                  (TdFarm              *farm);
guint64       td_farm_get_generation         (TdFarm              *farm);
void          td_farm_get_progress           (TdFarm              *farm,
                                              TdFarmProgress      *progress);
guint64       td_farm_get_discarded_count    (TdFarm              *farm);
guint64       td_farm_get_dropped_count      (TdFarm              *farm);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdFarmResult, td_farm_result_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdFarm, td_farm_free)

G_END_DECLS
