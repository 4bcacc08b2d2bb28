/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * GLib's GMutex, GCond, GAsyncQueue and GMainContext synchronise with
 * futexes and atomics inside libglib, which ThreadSanitizer cannot see
 * unless GLib itself is instrumented (it never is on a distribution). The
 * core wraps the few places where it relies on that ordering so that a
 * TSan build knows about it and reports only real races. In any other
 * build the wrappers are the plain GLib calls.
 */

#if defined(__SANITIZE_THREAD__)
# define TD_TSAN 1
#elif defined(__has_feature)
# if __has_feature(thread_sanitizer)
#  define TD_TSAN 1
# endif
#endif

#ifdef TD_TSAN
# include <sanitizer/tsan_interface.h>
# define td_tsan_acquire(addr) __tsan_acquire ((void *) (addr))
# define td_tsan_release(addr) __tsan_release ((void *) (addr))
#else
# define td_tsan_acquire(addr) G_STMT_START { } G_STMT_END
# define td_tsan_release(addr) G_STMT_START { } G_STMT_END
#endif

static inline void
td_mutex_lock (GMutex *mutex)
{
  g_mutex_lock (mutex);
  td_tsan_acquire (mutex);
}

static inline void
td_mutex_unlock (GMutex *mutex)
{
  td_tsan_release (mutex);
  g_mutex_unlock (mutex);
}

static inline void
td_cond_wait (GCond  *cond,
              GMutex *mutex)
{
  td_tsan_release (mutex);
  g_cond_wait (cond, mutex);
  td_tsan_acquire (mutex);
}

static inline gboolean
td_cond_wait_until (GCond  *cond,
                    GMutex *mutex,
                    gint64  end_time)
{
  gboolean signalled;

  td_tsan_release (mutex);
  signalled = g_cond_wait_until (cond, mutex, end_time);
  td_tsan_acquire (mutex);

  return signalled;
}

static inline void
td_async_queue_lock (GAsyncQueue *queue)
{
  g_async_queue_lock (queue);
  td_tsan_acquire (queue);
}

static inline void
td_async_queue_unlock (GAsyncQueue *queue)
{
  td_tsan_release (queue);
  g_async_queue_unlock (queue);
}

static inline gpointer
td_async_queue_pop (GAsyncQueue *queue)
{
  gpointer item = g_async_queue_pop (queue);

  td_tsan_acquire (queue);
  return item;
}

static inline gpointer
td_async_queue_try_pop (GAsyncQueue *queue)
{
  gpointer item = g_async_queue_try_pop (queue);

  td_tsan_acquire (queue);
  return item;
}

G_END_DECLS
