/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-resp-differential"

#include "config.h"

#include <string.h>
#include <unistd.h>

#include "pubsub/td-resp.h"
#include "td-pubsub-test.h"

/*
 * Differential tests: the same seeded random traffic goes to the
 * in-process server and to a real redis-server, and the replies must be
 * identical. Skipped when redis-server is not installed.
 */

/* Random sessions per run, and commands per session. */
#define DIFF_SESSIONS        300
#define DIFF_COMMANDS        12

/* Channels and patterns for the glob comparison. */
#define DIFF_GLOB_CHANNELS   60
#define DIFF_GLOB_PATTERNS   400

static guint16 tidings_port;
static guint16 redis_port;

static char *
random_word (GRand      *rand,
             const char *alphabet,
             int         max_len)
{
  int len = g_rand_int_range (rand, 1, max_len + 1);
  char *word = g_malloc (len + 1);

  for (int i = 0; i < len; i++)
    word[i] = alphabet[g_rand_int_range (rand, 0, (gint32) strlen (alphabet))];
  word[len] = '\0';
  return word;
}

/* Appends a multibulk request. */
static void
append_command (GByteArray *out,
                guint       argc,
                char      **argv)
{
  g_autofree gsize *lens = g_new (gsize, argc);
  g_autoptr(GBytes) bytes = NULL;

  for (guint i = 0; i < argc; i++)
    lens[i] = strlen (argv[i]);
  bytes = td_resp_build_command (argc, (const char *const *) argv, lens);
  g_byte_array_append (out, g_bytes_get_data (bytes, NULL), (guint) g_bytes_get_size (bytes));
}

static GByteArray *
exchange (guint16           port,
          const GByteArray *input)
{
  gboolean eof = FALSE;
  GByteArray *got;
  int fd = td_test_connect (port);

  td_test_send (fd, input->data, input->len);
  got = td_test_read_until_quiet (fd, 1, 30, &eof);
  close (fd);
  return got;
}

/* Random sessions of pub/sub and connection commands on one connection.
 * The generator keeps track of the subscriptions so that it never asks
 * for a reply whose order is the server's hash order (UNSUBSCRIBE without
 * arguments while holding two channels or more). */
static void
test_sessions (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (1234);

  if (redis_port == 0)
    {
      g_test_skip ("redis-server is not installed");
      return;
    }

  for (int s = 0; s < DIFF_SESSIONS; s++)
    {
      g_autoptr(GHashTable) channels = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      g_autoptr(GHashTable) patterns = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      g_autoptr(GByteArray) input = g_byte_array_new ();
      g_autoptr(GByteArray) a = NULL;
      g_autoptr(GByteArray) b = NULL;
      g_autofree char *prefix = g_strdup_printf ("df%d-", s);

      for (int c = 0; c < DIFF_COMMANDS; c++)
        {
          g_autofree char *w1 = random_word (rand, "abc", 2);
          g_autofree char *w2 = random_word (rand, "ab*?[]^\\-", 4);
          g_autofree char *ch = g_strconcat (prefix, w1, NULL);
          g_autofree char *pat = g_strconcat (prefix, w2, NULL);
          char *argv[4];

          switch (g_rand_int_range (rand, 0, 13))
            {
            case 0:
              argv[0] = "SUBSCRIBE"; argv[1] = ch;
              append_command (input, 2, argv);
              g_hash_table_add (channels, g_strdup (ch));
              break;
            case 1:
              argv[0] = "PSUBSCRIBE"; argv[1] = pat;
              append_command (input, 2, argv);
              g_hash_table_add (patterns, g_strdup (pat));
              break;
            case 2:
              argv[0] = "UNSUBSCRIBE"; argv[1] = ch;
              append_command (input, 2, argv);
              g_hash_table_remove (channels, ch);
              break;
            case 3:
              argv[0] = "PUNSUBSCRIBE"; argv[1] = pat;
              append_command (input, 2, argv);
              g_hash_table_remove (patterns, pat);
              break;
            case 4:
              if (g_hash_table_size (channels) <= 1)
                {
                  argv[0] = "UNSUBSCRIBE";
                  append_command (input, 1, argv);
                  g_hash_table_remove_all (channels);
                }
              break;
            case 5:
              if (g_hash_table_size (patterns) <= 1)
                {
                  argv[0] = "PUNSUBSCRIBE";
                  append_command (input, 1, argv);
                  g_hash_table_remove_all (patterns);
                }
              break;
            case 6:
              argv[0] = "PING";
              argv[1] = w1;
              append_command (input, g_rand_int_range (rand, 1, 3), argv);
              break;
            case 7:
              argv[0] = "PUBLISH"; argv[1] = ch; argv[2] = w2;
              append_command (input, 3, argv);
              break;
            case 8:
              argv[0] = "PUBSUB"; argv[1] = "NUMSUB"; argv[2] = ch;
              append_command (input, 3, argv);
              break;
            case 9:
              argv[0] = "ECHO"; argv[1] = w2;
              append_command (input, 2, argv);
              break;
            case 10:
              argv[0] = "RESET";
              append_command (input, 1, argv);
              g_hash_table_remove_all (channels);
              g_hash_table_remove_all (patterns);
              break;
            case 11:
              argv[0] = w1; argv[1] = w2;
              append_command (input, 2, argv);
              break;
            default:
              argv[0] = "SELECT"; argv[1] = w1;
              append_command (input, 2, argv);
              break;
            }
        }

      a = exchange (tidings_port, input);
      b = exchange (redis_port, input);
      if (a->len != b->len || memcmp (a->data, b->data, a->len) != 0)
        {
          g_autofree char *in = td_test_escape (input->data, input->len);
          g_autofree char *ea = td_test_escape (a->data, a->len);
          g_autofree char *eb = td_test_escape (b->data, b->len);

          g_error ("session %d differs\n  input:   %s\n  tidings: %s\n  redis:   %s", s, in, ea, eb);
        }
    }
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* Returns the sorted bulk strings of an array reply. */
static GPtrArray *
sorted_names (const GByteArray *reply)
{
  g_autoptr(TdRespReader) reader = td_resp_reader_new (0);
  g_autoptr(TdRespValue) value = NULL;
  g_autoptr(GError) error = NULL;
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);

  td_resp_reader_feed (reader, (const char *) reply->data, reply->len);
  g_assert_cmpint (td_resp_reader_pop (reader, &value, &error), ==, TD_RESP_READ_VALUE);
  g_assert_no_error (error);
  g_assert_cmpint (value->type, ==, TD_RESP_VALUE_ARRAY);
  for (gsize i = 0; i < value->n_elements; i++)
    g_ptr_array_add (names, g_strndup (value->elements[i]->str, value->elements[i]->len));
  g_ptr_array_sort (names, compare_names);
  return names;
}

/* Random channel names and glob patterns: PUBSUB CHANNELS <pattern> must
 * list the same channels, and PUBLISH must count the same receivers. */
static void
test_globs (void)
{
  static const guint16 *ports[] = { &tidings_port, &redis_port };
  g_autoptr(GRand) rand = g_rand_new_with_seed (99);
  g_autoptr(GPtrArray) channels = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) patterns = g_ptr_array_new_with_free_func (g_free);
  int sub[2], query[2];

  if (redis_port == 0)
    {
      g_test_skip ("redis-server is not installed");
      return;
    }

  for (int i = 0; i < DIFF_GLOB_CHANNELS; i++)
    {
      g_autofree char *w = random_word (rand, "abc-]", 4);
      g_ptr_array_add (channels, g_strconcat ("gl-", w, NULL));
    }
  for (int i = 0; i < DIFF_GLOB_PATTERNS; i++)
    {
      g_autofree char *w = random_word (rand, "abc-*?[]^\\", 6);
      g_ptr_array_add (patterns, g_strconcat ("gl-", w, NULL));
    }

  for (int t = 0; t < 2; t++)
    {
      g_autoptr(GByteArray) input = g_byte_array_new ();
      g_autoptr(GByteArray) ack = NULL;

      sub[t] = td_test_connect (*ports[t]);
      query[t] = td_test_connect (*ports[t]);
      for (guint i = 0; i < channels->len; i++)
        {
          char *argv[] = { "SUBSCRIBE", g_ptr_array_index (channels, i) };
          append_command (input, 2, argv);
        }
      /* A handful of pattern subscriptions for PUBLISH to count. */
      for (guint i = 0; i < 20; i++)
        {
          char *argv[] = { "PSUBSCRIBE", g_ptr_array_index (patterns, i) };
          append_command (input, 2, argv);
        }
      td_test_send (sub[t], input->data, input->len);
      ack = td_test_read_until_quiet (sub[t], 1, 50, NULL);
      g_assert_cmpuint (ack->len, >, 0);
    }

  for (guint i = 0; i < patterns->len; i++)
    {
      GPtrArray *results[2] = { NULL, NULL };
      char *argv[] = { "PUBSUB", "CHANNELS", g_ptr_array_index (patterns, i) };

      for (int t = 0; t < 2; t++)
        {
          g_autoptr(GByteArray) input = g_byte_array_new ();
          g_autoptr(GByteArray) reply = NULL;

          append_command (input, 3, argv);
          td_test_send (query[t], input->data, input->len);
          reply = td_test_read_until_quiet (query[t], 1, 5, NULL);
          results[t] = sorted_names (reply);
        }
      if (g_test_verbose () || results[0]->len != results[1]->len)
        {
          g_autofree char *ja = NULL, *jb = NULL;

          g_ptr_array_add (results[0], NULL);
          g_ptr_array_add (results[1], NULL);
          ja = g_strjoinv (" ", (char **) results[0]->pdata);
          jb = g_strjoinv (" ", (char **) results[1]->pdata);
          g_ptr_array_set_size (results[0], results[0]->len - 1);
          g_ptr_array_set_size (results[1], results[1]->len - 1);
          g_test_message ("pattern %s: tidings [%s] redis [%s]", argv[2], ja, jb);
        }
      g_assert_cmpuint (results[0]->len, ==, results[1]->len);
      for (guint k = 0; k < results[0]->len; k++)
        g_assert_cmpstr (g_ptr_array_index (results[0], k), ==, g_ptr_array_index (results[1], k));
      g_ptr_array_unref (results[0]);
      g_ptr_array_unref (results[1]);
    }

  for (guint i = 0; i < channels->len; i++)
    {
      GByteArray *replies[2] = { NULL, NULL };
      char *argv[] = { "PUBLISH", g_ptr_array_index (channels, i), "x" };

      for (int t = 0; t < 2; t++)
        {
          g_autoptr(GByteArray) input = g_byte_array_new ();

          append_command (input, 3, argv);
          td_test_send (query[t], input->data, input->len);
          replies[t] = td_test_read_until_quiet (query[t], 4, 5, NULL);
        }
      td_test_assert_bytes (replies[0]->data, replies[0]->len, (const char *) replies[1]->data, replies[1]->len);
      g_byte_array_unref (replies[0]);
      g_byte_array_unref (replies[1]);
    }

  for (int t = 0; t < 2; t++)
    {
      close (sub[t]);
      close (query[t]);
    }
}

int
main (int   argc,
      char *argv[])
{
  TdTestServer *server;
  TdTestRedis *redis;
  TdPubsubConfig config;
  int status;

  g_test_init (&argc, &argv, NULL);
  td_pubsub_config_init (&config);
  server = td_test_server_start (&config);
  tidings_port = server->resp_port;
  redis = td_test_redis_start (NULL);
  redis_port = redis ? redis->port : 0;

  g_test_add_func ("/td/pubsub/differential/sessions", test_sessions);
  g_test_add_func ("/td/pubsub/differential/globs", test_globs);
  status = g_test_run ();

  td_test_redis_stop (redis);
  td_test_server_stop (server);
  return status;
}
