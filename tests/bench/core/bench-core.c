/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Benchmarks of the core layer. Each compares the mailbox with a bare
 * GAsyncQueue doing the same work with the same threads in the same run
 * (or, for the stall, with the frame-time target).
 *
 *   bench-core --list          names, one per line
 *   bench-core [NAME...]       run them (all if none), one line each:
 *   NAME: tidings X UNIT, peer Y UNIT, ratio R      (R = X / Y)
 *
 * Details (p50 latencies, raw counts) go to stderr.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/td-mailbox.h"

/* Messages per throughput run: large enough that thread start-up and the
 * first wakeups do not matter, small enough to run in about a second. */
#define THROUGHPUT_MESSAGES 2000000

/* Round trips per latency run: enough samples for a stable p99. */
#define LATENCY_SAMPLES 20000

/* Latency runs alternate between the two in rounds, so that both see the
 * same background load on a shared machine. */
#define LATENCY_ROUNDS 10

/* Pause between latency samples so that each message finds the receiver
 * asleep (the case that matters for the GUI), in microseconds. */
#define LATENCY_GAP_USEC 50

/* The flood of the stall benchmark, as the issue states it. */
#define STALL_MESSAGES 1000000

/* A frame at 60 Hz is 16.7 ms; a dispatch must leave most of it free. */
#define STALL_TARGET_MS 5.0

/* What a bare-queue user would push: a message of the same size as
 * TdMail, allocated by the producer and freed by the consumer. */
typedef struct
{
  guint          kind;
  gpointer       data;
  GDestroyNotify destroy;
  gpointer       next;
} PeerMessage;

/* ------------------------------------------------------------------ */
/* Start line: all threads start together                             */
/* ------------------------------------------------------------------ */

typedef struct
{
  gint go;             /* atomic */
  gint ready;          /* atomic */
} StartLine;

static void
start_line_wait (StartLine *line)
{
  g_atomic_int_inc (&line->ready);
  while (!g_atomic_int_get (&line->go))
    g_thread_yield ();
}

static void
start_line_release (StartLine *line,
                    gint       n_threads)
{
  while (g_atomic_int_get (&line->ready) < n_threads)
    g_thread_yield ();
  g_atomic_int_set (&line->go, TRUE);
}

/* ------------------------------------------------------------------ */
/* Throughput                                                         */
/* ------------------------------------------------------------------ */

typedef struct
{
  StartLine   *line;
  TdMailboxId  id;
  GAsyncQueue *queue;
  guint        count;
} Producer;

static gpointer
mailbox_producer (gpointer data)
{
  Producer *p = data;

  start_line_wait (p->line);
  for (guint i = 0; i < p->count; i++)
    td_mail_send (p->id, td_mail_new (1, NULL, NULL));

  return NULL;
}

static gpointer
queue_producer (gpointer data)
{
  Producer *p = data;

  start_line_wait (p->line);
  for (guint i = 0; i < p->count; i++)
    {
      PeerMessage *message = g_new0 (PeerMessage, 1);

      message->kind = 1;
      g_async_queue_push (p->queue, message);
    }

  return NULL;
}

static void
count_cb (TdMailboxId  id,
          TdMail      *mail,
          gpointer     user_data)
{
  (*(guint *) user_data)++;
}

/* Returns messages per second from @n_producers threads into a mailbox
 * drained by this thread's context. */
static double
throughput_mailbox (guint n_producers)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  guint per_producer = THROUGHPUT_MESSAGES / n_producers;
  guint total = per_producer * n_producers;
  StartLine line = { 0 };
  Producer producers[8];
  GThread *threads[8];
  guint received = 0;
  TdMailboxId id;
  gint64 start, end;

  g_assert (n_producers <= G_N_ELEMENTS (threads));
  g_main_context_push_thread_default (context);
  id = td_mailbox_open (context, G_PRIORITY_DEFAULT, count_cb, &received, NULL);

  for (guint i = 0; i < n_producers; i++)
    {
      producers[i] = (Producer) { &line, id, NULL, per_producer };
      threads[i] = g_thread_new ("producer", mailbox_producer, &producers[i]);
    }

  start_line_release (&line, n_producers);
  start = g_get_monotonic_time ();
  while (received < total)
    g_main_context_iteration (context, TRUE);
  end = g_get_monotonic_time ();

  for (guint i = 0; i < n_producers; i++)
    g_thread_join (threads[i]);
  td_mailbox_close (id);
  g_main_context_pop_thread_default (context);

  return total / ((end - start) / (double) G_USEC_PER_SEC);
}

/* Returns messages per second through a bare GAsyncQueue, same threads. */
static double
throughput_queue (guint n_producers)
{
  g_autoptr(GAsyncQueue) queue = g_async_queue_new ();
  guint per_producer = THROUGHPUT_MESSAGES / n_producers;
  guint total = per_producer * n_producers;
  StartLine line = { 0 };
  Producer producers[8];
  GThread *threads[8];
  gint64 start, end;

  g_assert (n_producers <= G_N_ELEMENTS (threads));

  for (guint i = 0; i < n_producers; i++)
    {
      producers[i] = (Producer) { &line, 0, queue, per_producer };
      threads[i] = g_thread_new ("producer", queue_producer, &producers[i]);
    }

  start_line_release (&line, n_producers);
  start = g_get_monotonic_time ();
  for (guint i = 0; i < total; i++)
    g_free (g_async_queue_pop (queue));
  end = g_get_monotonic_time ();

  for (guint i = 0; i < n_producers; i++)
    g_thread_join (threads[i]);

  return total / ((end - start) / (double) G_USEC_PER_SEC);
}

/* Best of a few runs of each, interleaved, so both see the same machine. */
static void
bench_throughput (const char *name,
                  guint       n_producers)
{
  double best_mailbox = 0, best_queue = 0;

  for (guint run = 0; run < 3; run++)
    {
      best_queue = MAX (best_queue, throughput_queue (n_producers));
      best_mailbox = MAX (best_mailbox, throughput_mailbox (n_producers));
    }

  printf ("%s: tidings %.0f msg/s, peer %.0f msg/s, ratio %.2f\n",
          name, best_mailbox, best_queue, best_mailbox / best_queue);
}

/* ------------------------------------------------------------------ */
/* Latency                                                            */
/* ------------------------------------------------------------------ */

typedef struct
{
  StartLine   *line;
  TdMailboxId  id;
  GAsyncQueue *queue;
  guint        count;
  gint         acked;       /* atomic: samples received so far */
} Pinger;

static void
busy_wait_usec (gint64 usec)
{
  gint64 end = g_get_monotonic_time () + usec;

  while (g_get_monotonic_time () < end)
    ;
}

/* Sends one timestamp at a time, waiting for the receiver between them. */
static gpointer
mailbox_pinger (gpointer data)
{
  Pinger *p = data;

  start_line_wait (p->line);
  for (guint i = 0; i < p->count; i++)
    {
      gint64 *sent = g_new (gint64, 1);

      *sent = g_get_monotonic_time ();
      td_mail_send_new (p->id, 1, sent, g_free);
      while ((guint) g_atomic_int_get (&p->acked) <= i)
        g_thread_yield ();
      busy_wait_usec (LATENCY_GAP_USEC);
    }

  return NULL;
}

static gpointer
queue_pinger (gpointer data)
{
  Pinger *p = data;

  start_line_wait (p->line);
  for (guint i = 0; i < p->count; i++)
    {
      gint64 *sent = g_new (gint64, 1);

      *sent = g_get_monotonic_time ();
      g_async_queue_push (p->queue, sent);
      while ((guint) g_atomic_int_get (&p->acked) <= i)
        g_thread_yield ();
      busy_wait_usec (LATENCY_GAP_USEC);
    }

  return NULL;
}

typedef struct
{
  Pinger *pinger;
  GArray *samples;          /* gint64 microseconds */
} Ponger;

static void
latency_cb (TdMailboxId  id,
            TdMail      *mail,
            gpointer     user_data)
{
  Ponger *ponger = user_data;
  gint64 latency = g_get_monotonic_time () - *(gint64 *) mail->data;

  g_array_append_val (ponger->samples, latency);
  g_atomic_int_inc (&ponger->pinger->acked);
}

static int
compare_gint64 (gconstpointer a,
                gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

static gint64
percentile (GArray *samples,
            double  p)
{
  guint index = (guint) (p * (samples->len - 1));

  g_array_sort (samples, compare_gint64);
  return g_array_index (samples, gint64, index);
}

/* Adds @count send-on-worker to dispatch-on-context latencies to
 * @samples. */
static void
latency_mailbox (GArray *samples,
                 guint   count)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  StartLine line = { 0 };
  Pinger pinger = { &line, 0, NULL, count, 0 };
  Ponger ponger = { &pinger, samples };
  guint target = samples->len + count;
  GThread *thread;

  pinger.id = td_mailbox_open (context, G_PRIORITY_DEFAULT, latency_cb, &ponger, NULL);
  thread = g_thread_new ("pinger", mailbox_pinger, &pinger);
  start_line_release (&line, 1);
  while (samples->len < target)
    g_main_context_iteration (context, TRUE);
  g_thread_join (thread);
  td_mailbox_close (pinger.id);
}

/* Adds @count push-on-worker to pop-on-consumer latencies to @samples. */
static void
latency_queue (GArray *samples,
               guint   count)
{
  g_autoptr(GAsyncQueue) queue = g_async_queue_new ();
  StartLine line = { 0 };
  Pinger pinger = { &line, 0, queue, count, 0 };
  guint target = samples->len + count;
  GThread *thread;

  thread = g_thread_new ("pinger", queue_pinger, &pinger);
  start_line_release (&line, 1);
  while (samples->len < target)
    {
      g_autofree gint64 *sent = g_async_queue_pop (queue);
      gint64 latency = g_get_monotonic_time () - *sent;

      g_array_append_val (samples, latency);
      g_atomic_int_inc (&pinger.acked);
    }
  g_thread_join (thread);
}

static void
bench_latency (const char *name)
{
  g_autoptr(GArray) mailbox = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(GArray) queue = g_array_new (FALSE, FALSE, sizeof (gint64));
  gint64 mailbox_p99, queue_p99;

  for (guint round = 0; round < LATENCY_ROUNDS; round++)
    {
      latency_queue (queue, LATENCY_SAMPLES / LATENCY_ROUNDS);
      latency_mailbox (mailbox, LATENCY_SAMPLES / LATENCY_ROUNDS);
    }

  mailbox_p99 = percentile (mailbox, 0.99);
  queue_p99 = percentile (queue, 0.99);
  fprintf (stderr, "%s: p50 tidings %" G_GINT64_FORMAT " us, peer %" G_GINT64_FORMAT " us\n",
           name, percentile (mailbox, 0.50), percentile (queue, 0.50));
  printf ("%s: tidings %" G_GINT64_FORMAT " us, peer %" G_GINT64_FORMAT " us, ratio %.2f\n",
          name, mailbox_p99, queue_p99, (double) mailbox_p99 / MAX (queue_p99, 1));
}

/* ------------------------------------------------------------------ */
/* Stall                                                              */
/* ------------------------------------------------------------------ */

static gpointer
flood_producer (gpointer data)
{
  Producer *p = data;

  start_line_wait (p->line);
  for (guint i = 0; i < p->count; i++)
    td_mail_send_new (p->id, 1, NULL, NULL);

  return NULL;
}

/* CPU time of the calling thread, in microseconds. */
static gint64
thread_cpu_usec (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

typedef struct
{
  double longest_cpu_ms;    /* the dispatch's own work */
  double longest_wall_ms;   /* plus any time the OS ran something else */
  guint  n_over_target;     /* iterations over the target, wall clock */
} Stall;

/* Measures the main-loop iterations of a context whose one mailbox takes
 * a flood of STALL_MESSAGES sent from a worker. */
static void
stall_mailbox (Stall *stall)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  StartLine line = { 0 };
  Producer producer;
  GThread *thread;
  guint received = 0;
  TdMailboxId id;

  memset (stall, 0, sizeof *stall);
  id = td_mailbox_open (context, G_PRIORITY_DEFAULT, count_cb, &received, NULL);
  producer = (Producer) { &line, id, NULL, STALL_MESSAGES };
  thread = g_thread_new ("flood", flood_producer, &producer);
  start_line_release (&line, 1);

  while (received < STALL_MESSAGES)
    {
      gint64 wall = g_get_monotonic_time ();
      gint64 cpu = thread_cpu_usec ();
      double wall_ms, cpu_ms;

      /* Non-blocking: time spent waiting for mail is not a stall. */
      g_main_context_iteration (context, FALSE);
      cpu_ms = (thread_cpu_usec () - cpu) / 1000.0;
      wall_ms = (g_get_monotonic_time () - wall) / 1000.0;
      stall->longest_cpu_ms = MAX (stall->longest_cpu_ms, cpu_ms);
      stall->longest_wall_ms = MAX (stall->longest_wall_ms, wall_ms);
      if (wall_ms > STALL_TARGET_MS)
        stall->n_over_target++;
    }

  g_thread_join (thread);
  td_mailbox_close (id);
}

/* The figure is the longest dispatch in thread CPU time: the time the
 * mailbox itself kept the loop busy. Wall-clock time also counts the
 * moments the kernel (or the hypervisor) ran another thread instead, which
 * no main-loop code can prevent; it goes to stderr. */
static void
bench_stall (const char *name)
{
  Stall stall;

  stall_mailbox (&stall);
  fprintf (stderr, "%s: longest wall-clock iteration %.3f ms, %u over %.0f ms\n",
           name, stall.longest_wall_ms, stall.n_over_target, STALL_TARGET_MS);
  printf ("%s: tidings %.3f ms, peer %.3f ms, ratio %.2f\n",
          name, stall.longest_cpu_ms, STALL_TARGET_MS, stall.longest_cpu_ms / STALL_TARGET_MS);
}

/* ------------------------------------------------------------------ */

typedef struct
{
  const char *name;
  void      (*run) (const char *name);
} Benchmark;

static void
bench_1p (const char *name)
{
  bench_throughput (name, 1);
}

static void
bench_4p (const char *name)
{
  bench_throughput (name, 4);
}

static const Benchmark benchmarks[] = {
  { "mailbox-1p", bench_1p },
  { "mailbox-4p", bench_4p },
  { "mailbox-latency", bench_latency },
  { "mailbox-stall", bench_stall },
};

int
main (int   argc,
      char *argv[])
{
  if (argc > 1 && g_str_equal (argv[1], "--list"))
    {
      for (guint i = 0; i < G_N_ELEMENTS (benchmarks); i++)
        printf ("%s\n", benchmarks[i].name);
      return EXIT_SUCCESS;
    }

  for (int arg = 1; arg < argc; arg++)
    {
      gboolean known = FALSE;

      for (guint i = 0; i < G_N_ELEMENTS (benchmarks); i++)
        known |= g_str_equal (argv[arg], benchmarks[i].name);
      if (!known)
        {
          fprintf (stderr, "bench-core: unknown benchmark %s (try --list)\n", argv[arg]);
          return EXIT_FAILURE;
        }
    }

  for (guint i = 0; i < G_N_ELEMENTS (benchmarks); i++)
    {
      gboolean wanted = argc == 1;

      for (int arg = 1; arg < argc && !wanted; arg++)
        wanted = g_str_equal (argv[arg], benchmarks[i].name);
      if (wanted)
        {
          benchmarks[i].run (benchmarks[i].name);
          fflush (stdout);
        }
    }

  return EXIT_SUCCESS;
}
