/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-broker"

#include "config.h"

#include <string.h>

#include "pubsub/td-broker.h"

#define L(lit) (lit), (sizeof (lit) - 1)

typedef struct
{
  GPtrArray *frames;   /* GBytes received */
} Sink;

static void
deliver_cb (TdBrokerClient *client,
            GBytes         *frame,
            gpointer        user_data)
{
  Sink *sink = user_data;

  g_ptr_array_add (sink->frames, g_bytes_ref (frame));
}

static void
sink_init (Sink *sink)
{
  sink->frames = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
}

static void
assert_frame (Sink       *sink,
              guint       index,
              const char *bytes,
              gsize       len)
{
  GBytes *frame;

  g_assert_cmpuint (index, <, sink->frames->len);
  frame = g_ptr_array_index (sink->frames, index);
  g_assert_cmpmem (g_bytes_get_data (frame, NULL), g_bytes_get_size (frame), bytes, len);
}

static void
test_broker_fanout (void)
{
  g_autoptr(TdBroker) broker = td_broker_new ();
  Sink a, b, line;
  TdBrokerClient *ca, *cb, *cl;
  TdBrokerStats stats;

  sink_init (&a);
  sink_init (&b);
  sink_init (&line);
  ca = td_broker_client_new (broker, TD_BROKER_FRAMES_RESP, deliver_cb, &a);
  cb = td_broker_client_new (broker, TD_BROKER_FRAMES_RESP, deliver_cb, &b);
  cl = td_broker_client_new (broker, TD_BROKER_FRAMES_LINE, deliver_cb, &line);

  g_assert_true (td_broker_subscribe (ca, L ("news")));
  g_assert_false (td_broker_subscribe (ca, L ("news")));
  g_assert_true (td_broker_psubscribe (ca, L ("n*")));
  g_assert_true (td_broker_subscribe (cb, L ("news")));
  g_assert_true (td_broker_subscribe (cl, L ("news")));
  g_assert_cmpuint (td_broker_client_count (ca), ==, 2);

  /* a: message + pmessage; b: message; line: UPDATED. */
  g_assert_cmpuint (td_broker_publish (broker, L ("news"), L ("hi\r\nthere")), ==, 4);
  g_assert_cmpuint (a.frames->len, ==, 2);
  assert_frame (&a, 0, L ("*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$9\r\nhi\r\nthere\r\n"));
  assert_frame (&a, 1, L ("*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$9\r\nhi\r\nthere\r\n"));
  assert_frame (&line, 0, L ("UPDATED news hi  there\n"));
  /* One frame per publish, shared by every subscriber. */
  g_assert_true (g_ptr_array_index (a.frames, 0) == g_ptr_array_index (b.frames, 0));

  g_assert_cmpuint (td_broker_numsub (broker, L ("news")), ==, 3);
  g_assert_cmpuint (td_broker_numpat (broker), ==, 1);

  td_broker_client_free (ca);
  td_broker_client_free (cb);
  td_broker_client_free (cl);
  td_broker_get_stats (broker, &stats);
  g_assert_cmpuint (stats.n_channels, ==, 0);
  g_assert_cmpuint (stats.n_patterns, ==, 0);
  g_assert_cmpuint (stats.n_clients, ==, 0);
  g_assert_cmpuint (stats.n_subscriptions, ==, 0);
  g_assert_cmpuint (stats.n_psubscriptions, ==, 0);
  g_ptr_array_unref (a.frames);
  g_ptr_array_unref (b.frames);
  g_ptr_array_unref (line.frames);
}

typedef struct
{
  GString *log;
} RemovedLog;

static void
removed_cb (TdBrokerClient *client,
            const char     *name,
            gsize           len,
            guint           remaining,
            gpointer        user_data)
{
  g_string_append_printf (user_data, "%.*s:%u ", (int) len, name, remaining);
}

static void
test_broker_unsubscribe_all (void)
{
  g_autoptr(TdBroker) broker = td_broker_new ();
  g_autoptr(GString) log = g_string_new (NULL);
  Sink a;
  TdBrokerClient *ca;
  TdBrokerStats stats;

  sink_init (&a);
  ca = td_broker_client_new (broker, TD_BROKER_FRAMES_RESP, deliver_cb, &a);
  td_broker_subscribe (ca, L ("x"));
  td_broker_psubscribe (ca, L ("p*"));
  g_assert_cmpuint (td_broker_unsubscribe_all (ca, removed_cb, log), ==, 1);
  g_assert_cmpstr (log->str, ==, "x:1 ");
  g_assert_cmpuint (td_broker_punsubscribe_all (ca, removed_cb, log), ==, 1);
  g_assert_cmpstr (log->str, ==, "x:1 p*:0 ");
  g_assert_cmpuint (td_broker_unsubscribe_all (ca, removed_cb, log), ==, 0);
  g_assert_false (td_broker_unsubscribe (ca, L ("x")));
  g_assert_false (td_broker_punsubscribe (ca, L ("p*")));

  /* Channel churn frees memory: no topic outlives its last subscriber. */
  for (int i = 0; i < 10000; i++)
    {
      char name[32];
      int n = g_snprintf (name, sizeof name, "ch-%d", i);

      td_broker_subscribe (ca, name, (gsize) n);
      if (i % 2 == 0)
        td_broker_unsubscribe (ca, name, (gsize) n);
    }
  td_broker_get_stats (broker, &stats);
  g_assert_cmpuint (stats.n_channels, ==, 5000);
  td_broker_client_free (ca);
  td_broker_get_stats (broker, &stats);
  g_assert_cmpuint (stats.n_channels, ==, 0);
  g_ptr_array_unref (a.frames);
}

static void
test_broker_list_channels (void)
{
  g_autoptr(TdBroker) broker = td_broker_new ();
  g_autoptr(GPtrArray) all = NULL;
  g_autoptr(GPtrArray) some = NULL;
  Sink a;
  TdBrokerClient *ca;

  sink_init (&a);
  ca = td_broker_client_new (broker, TD_BROKER_FRAMES_RESP, deliver_cb, &a);
  td_broker_subscribe (ca, L ("alpha"));
  td_broker_subscribe (ca, L ("beta"));
  td_broker_subscribe (ca, L ("a\0b"));
  td_broker_psubscribe (ca, L ("alp*"));
  all = td_broker_list_channels (broker, NULL, 0);
  some = td_broker_list_channels (broker, L ("a*"));
  g_assert_cmpuint (all->len, ==, 3);
  g_assert_cmpuint (some->len, ==, 2);
  td_broker_client_free (ca);
  g_ptr_array_unref (a.frames);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/td/pubsub/broker/fanout", test_broker_fanout);
  g_test_add_func ("/td/pubsub/broker/unsubscribe-all", test_broker_unsubscribe_all);
  g_test_add_func ("/td/pubsub/broker/list-channels", test_broker_list_channels);
  return g_test_run ();
}
