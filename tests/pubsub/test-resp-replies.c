/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "test-resp-replies"

#include "config.h"

#include <string.h>
#include <unistd.h>

#include "td-pubsub-test.h"
#include "reply-cases.h"

/*
 * Byte-exact replies of the RESP listener, against the in-process server
 * and, with the same rows, against a real redis-server.
 */

typedef struct
{
  guint16 port;          /* 0: not available */
  guint16 auth_port;
  gboolean is_redis;
} Target;

static Target tidings_target;
static Target redis_target;

static GByteArray *
expand (const char *prefix,
        char        byte,
        gsize       count,
        const char *suffix,
        gsize       prefix_len,
        gsize       suffix_len)
{
  GByteArray *bytes = g_byte_array_new ();

  g_byte_array_append (bytes, (const guint8 *) prefix, (guint) prefix_len);
  for (gsize i = 0; i < count; i++)
    g_byte_array_append (bytes, (const guint8 *) &byte, 1);
  g_byte_array_append (bytes, (const guint8 *) suffix, (guint) suffix_len);
  return bytes;
}

/* Replaces the digits after `$2\r\nid\r\n:` with N. */
static void
normalise_id (GByteArray *bytes)
{
  static const char marker[] = "$2\r\nid\r\n:";
  gsize mlen = sizeof marker - 1;
  gsize start = 0, end;

  for (;;)
    {
      if (start + mlen > bytes->len)
        return;
      if (memcmp (bytes->data + start, marker, mlen) == 0)
        break;
      start++;
    }
  start += mlen;
  end = start;
  while (end < bytes->len && bytes->data[end] >= '0' && bytes->data[end] <= '9')
    end++;
  if (end == start)
    return;
  bytes->data[start] = 'N';
  g_byte_array_remove_range (bytes, (guint) start + 1, (guint) (end - start - 1));
}

static void
run_case (const Target    *target,
          const ReplyCase *row)
{
  g_autoptr(GByteArray) input = expand (row->in_prefix, row->in_byte, row->in_count, row->in_suffix,
                                        row->in_prefix_len, row->in_suffix_len);
  g_autoptr(GByteArray) expected = expand (row->out_prefix, row->out_byte, row->out_count,
                                           row->out_suffix, row->out_prefix_len, row->out_suffix_len);
  g_autoptr(GByteArray) got = NULL;
  gboolean eof = FALSE;
  int fd;

  fd = td_test_connect ((row->flags & CASE_AUTH) ? target->auth_port : target->port);
  td_test_send (fd, input->data, input->len);
  got = td_test_read_until_quiet (fd, expected->len, TD_TEST_QUIET_MS, &eof);
  if ((row->flags & CASE_CLOSES) && !eof)
    eof = td_test_wait_eof (fd, TD_TEST_IO_TIMEOUT_MS);
  close (fd);

  if (row->flags & CASE_ID)
    normalise_id (got);
  td_test_assert_bytes (got->data, got->len, (const char *) expected->data, expected->len);
  if (row->flags & CASE_CLOSES)
    g_assert_true (eof);
  else
    g_assert_false (eof);
}

typedef struct
{
  const Target    *target;
  const ReplyCase *row;
} CaseData;

static void
test_case (gconstpointer user_data)
{
  const CaseData *data = user_data;

  if (data->target->port == 0)
    {
      g_test_skip ("redis-server is not installed");
      return;
    }
  if (data->target->is_redis && (data->row->flags & CASE_TIDINGS_ONLY))
    {
      g_test_skip ("documented difference from Redis");
      return;
    }
  run_case (data->target, data->row);
}

/* ------------------------------------------------------------------ */
/* Delivery between connections, against both servers                  */

static void
expect (int         fd,
        const char *bytes,
        gsize       len)
{
  g_autoptr(GByteArray) got = td_test_read_n (fd, len, TD_TEST_IO_TIMEOUT_MS, NULL);

  td_test_assert_bytes (got->data, got->len, bytes, len);
}

#define EXPECT(fd, lit) expect ((fd), (lit), sizeof (lit) - 1)

static void
test_message_and_pmessage (gconstpointer user_data)
{
  const Target *target = user_data;
  int sub, pub;

  if (target->port == 0)
    {
      g_test_skip ("redis-server is not installed");
      return;
    }

  sub = td_test_connect (target->port);
  pub = td_test_connect (target->port);
  td_test_send_str (sub, "SUBSCRIBE dl-news\r\nPSUBSCRIBE dl-n*\r\n");
  EXPECT (sub, "*3\r\n$9\r\nsubscribe\r\n$7\r\ndl-news\r\n:1\r\n"
               "*3\r\n$10\r\npsubscribe\r\n$5\r\ndl-n*\r\n:2\r\n");

  /* The channel and the pattern both match: message first, then pmessage,
   * and PUBLISH counts two receivers. */
  td_test_send_str (pub, "PUBLISH dl-news hello\r\n");
  EXPECT (pub, ":2\r\n");
  EXPECT (sub, "*3\r\n$7\r\nmessage\r\n$7\r\ndl-news\r\n$5\r\nhello\r\n"
               "*4\r\n$8\r\npmessage\r\n$5\r\ndl-n*\r\n$7\r\ndl-news\r\n$5\r\nhello\r\n");

  /* Only the pattern matches. */
  {
    static const char binary[] = "*3\r\n$7\r\nPUBLISH\r\n$6\r\ndl-nap\r\n$3\r\na\0b\r\n";

    td_test_send (pub, binary, sizeof binary - 1);
  }
  EXPECT (pub, ":1\r\n");
  EXPECT (sub, "*4\r\n$8\r\npmessage\r\n$5\r\ndl-n*\r\n$6\r\ndl-nap\r\n$3\r\na\0b\r\n");

  /* NUMSUB counts channel subscribers only. */
  td_test_send_str (pub, "PUBSUB NUMSUB dl-news dl-nap\r\n");
  EXPECT (pub, "*4\r\n$7\r\ndl-news\r\n:1\r\n$6\r\ndl-nap\r\n:0\r\n");
  td_test_send_str (pub, "PUBSUB CHANNELS dl-n?ws\r\n");
  EXPECT (pub, "*1\r\n$7\r\ndl-news\r\n");

  td_test_send_str (pub, "PUBLISH dl-other x\r\n");
  EXPECT (pub, ":0\r\n");

  td_test_send_str (sub, "UNSUBSCRIBE dl-news\r\n");
  EXPECT (sub, "*3\r\n$11\r\nunsubscribe\r\n$7\r\ndl-news\r\n:1\r\n");
  td_test_send_str (sub, "PUNSUBSCRIBE\r\n");
  EXPECT (sub, "*3\r\n$12\r\npunsubscribe\r\n$5\r\ndl-n*\r\n:0\r\n");
  td_test_send_str (sub, "PING\r\n");
  EXPECT (sub, "+PONG\r\n");

  close (sub);
  close (pub);
}

static gint64
query_int (int         fd,
           const char *command)
{
  g_autoptr(GByteArray) got = NULL;
  gint64 value;

  td_test_send_str (fd, command);
  got = td_test_read_until_quiet (fd, 4, 20, NULL);
  g_assert_cmpuint (got->len, >=, 4);
  g_assert_cmpint (got->data[0], ==, ':');
  value = g_ascii_strtoll ((const char *) got->data + 1, NULL, 10);
  return value;
}

static void
test_numpat_unique (gconstpointer user_data)
{
  const Target *target = user_data;
  gint64 base;
  int a, b, q;

  if (target->port == 0)
    {
      g_test_skip ("redis-server is not installed");
      return;
    }

  q = td_test_connect (target->port);
  base = query_int (q, "PUBSUB NUMPAT\r\n");
  a = td_test_connect (target->port);
  b = td_test_connect (target->port);
  td_test_send_str (a, "PSUBSCRIBE np-unique-*\r\n");
  EXPECT (a, "*3\r\n$10\r\npsubscribe\r\n$11\r\nnp-unique-*\r\n:1\r\n");
  td_test_send_str (b, "PSUBSCRIBE np-unique-* np-other-?\r\n");
  EXPECT (b, "*3\r\n$10\r\npsubscribe\r\n$11\r\nnp-unique-*\r\n:1\r\n"
             "*3\r\n$10\r\npsubscribe\r\n$10\r\nnp-other-?\r\n:2\r\n");
  g_assert_cmpint (query_int (q, "PUBSUB NUMPAT\r\n"), ==, base + 2);
  g_assert_cmpint (query_int (q, "PUBLISH np-unique-1 x\r\n"), ==, 2);
  close (a);
  close (b);
  close (q);
}

int
main (int   argc,
      char *argv[])
{
  static const struct { const char *prefix; Target *target; } targets[] = {
    { "tidings", &tidings_target },
    { "redis", &redis_target },
  };
  g_autoptr(GPtrArray) datas = g_ptr_array_new_with_free_func (g_free);
  TdTestServer *plain, *with_password;
  TdTestRedis *redis = NULL, *redis_auth = NULL;
  TdPubsubConfig config;
  int status;

  g_test_init (&argc, &argv, NULL);

  td_pubsub_config_init (&config);
  plain = td_test_server_start (&config);
  config.password = (char *) "sekret";
  with_password = td_test_server_start (&config);
  tidings_target.port = plain->resp_port;
  tidings_target.auth_port = with_password->resp_port;

  redis = td_test_redis_start (NULL);
  redis_auth = redis ? td_test_redis_start ("sekret") : NULL;
  if (redis != NULL && redis_auth != NULL)
    {
      redis_target.port = redis->port;
      redis_target.auth_port = redis_auth->port;
      redis_target.is_redis = TRUE;
    }

  for (guint t = 0; t < G_N_ELEMENTS (targets); t++)
    {
      g_autofree char *path1 = g_strdup_printf ("/td/pubsub/replies/%s/delivery", targets[t].prefix);
      g_autofree char *path2 = g_strdup_printf ("/td/pubsub/replies/%s/numpat-unique", targets[t].prefix);

      for (guint i = 0; i < G_N_ELEMENTS (reply_cases); i++)
        {
          CaseData *data = g_new0 (CaseData, 1);
          g_autofree char *path = g_strdup_printf ("/td/pubsub/replies/%s/%s", targets[t].prefix,
                                                   reply_cases[i].name);

          data->target = targets[t].target;
          data->row = &reply_cases[i];
          g_ptr_array_add (datas, data);
          g_test_add_data_func (path, data, test_case);
        }
      g_test_add_data_func (path1, targets[t].target, test_message_and_pmessage);
      g_test_add_data_func (path2, targets[t].target, test_numpat_unique);
    }

  status = g_test_run ();

  td_test_redis_stop (redis);
  td_test_redis_stop (redis_auth);
  td_test_server_stop (plain);
  td_test_server_stop (with_password);
  return status;
}
