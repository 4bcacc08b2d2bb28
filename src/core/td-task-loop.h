/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "core/td-mailbox.h"

G_BEGIN_DECLS

/*
 * The task loop: a pool of worker threads fed by one GAsyncQueue. A task
 * runs its function on a worker and its result goes back only as mail to
 * the task's reply mailbox, as a TdTaskResult of the task's reply kind.
 *
 * - Pushing hands the task to the loop; every pushed task is answered
 *   exactly once (result, error, or G_IO_ERROR_CANCELLED), or its result
 *   is freed if it has no reply mailbox.
 * - td_task_loop_push_front() is the priority lane for work the user is
 *   waiting for.
 * - Shutdown is a message: queued tasks are answered as cancelled, running
 *   ones are cancelled through their GCancellable, workers are joined
 *   within the timeout; later pushes are answered as cancelled.
 */

typedef struct _TdTaskLoop TdTaskLoop;
typedef struct _TdTask     TdTask;

/* Runs on a worker thread. Returns the result (freed with the task's
 * result_destroy), or NULL and sets @error. Must poll @cancellable. */
typedef gpointer (*TdTaskFunc) (TdTask        *task,
                                gpointer       task_data,
                                GCancellable  *cancellable,
                                GError       **error);

/* The payload of the reply mail of every task. */
typedef struct
{
  gpointer        task_data;       /* the task's data, still owned by the result */
  gpointer        result;          /* NULL on error or cancellation */
  GError         *error;           /* G_IO_ERROR_CANCELLED when cancelled */
  guint64         generation;
  GDestroyNotify  task_data_destroy;
  GDestroyNotify  result_destroy;
} TdTaskResult;

void          td_task_result_free        (TdTaskResult   *result);
gpointer      td_task_result_steal       (TdTaskResult   *result);

TdTask       *td_task_new                (TdTaskFunc      func,
                                          gpointer        task_data,
                                          GDestroyNotify  task_data_destroy,
                                          GDestroyNotify  result_destroy);
void          td_task_free               (TdTask         *task);
void          td_task_set_reply          (TdTask         *task,
                                          TdMailboxId     reply_to,
                                          guint           reply_kind);
void          td_task_set_generation     (TdTask         *task,
                                          guint64         generation);
guint64       td_task_get_generation     (TdTask         *task);
void          td_task_set_cancellable    (TdTask         *task,
                                          GCancellable   *cancellable);
GCancellable *td_task_get_cancellable    (TdTask         *task);

TdTaskLoop   *td_task_loop_new           (guint           n_workers);
TdTaskLoop   *td_task_loop_get_default   (void);
guint         td_task_loop_get_n_workers (TdTaskLoop     *loop);
void          td_task_loop_push          (TdTaskLoop     *loop,
                                          TdTask         *task);
void          td_task_loop_push_front    (TdTaskLoop     *loop,
                                          TdTask         *task);
gboolean      td_task_loop_shutdown      (TdTaskLoop     *loop,
                                          guint           timeout_ms);
void          td_task_loop_free          (TdTaskLoop     *loop);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdTask, td_task_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdTaskResult, td_task_result_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdTaskLoop, td_task_loop_free)

G_END_DECLS
