/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "chat/td-file-client.h"
#include "core/td-task-loop.h"
#include "td-file-test.h"

/*
 * The file client against a real file host (its own thread, 127.0.0.1
 * port 0). The test thread plays the GUI: it owns a GMainContext with a
 * mailbox, and iterates it until the reply comes, with a deadline.
 */

enum
{
  MAIL_PROGRESS = 1,
  MAIL_REPLY,
};

static char *alice_hash;

typedef struct
{
  GMainContext *context;
  TdMailboxId   mailbox;
  GPtrArray    *progress;     /* TdFileProgress, owned */
  TdTaskResult *reply;
  GCancellable *cancel_on_progress;
  char         *cache_dir;
  TdFileClient *client;
} Fixture;

static void
mail_cb (TdMailboxId  id,
         TdMail      *mail,
         gpointer     user_data)
{
  Fixture *fx = user_data;

  if (mail->kind == MAIL_PROGRESS)
    {
      g_ptr_array_add (fx->progress, td_mail_steal_data (mail));
      if (fx->cancel_on_progress != NULL)
        g_cancellable_cancel (fx->cancel_on_progress);
    }
  else
    {
      g_assert_null (fx->reply);
      fx->reply = td_mail_steal_data (mail);
    }
}

static void
fixture_setup (Fixture       *fx,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  fx->context = g_main_context_new ();
  g_main_context_push_thread_default (fx->context);
  fx->mailbox = td_mailbox_open (fx->context, G_PRIORITY_DEFAULT, mail_cb, fx, NULL);
  fx->progress = g_ptr_array_new_with_free_func (g_free);
  fx->cache_dir = g_dir_make_tmp ("td-file-cache-XXXXXX", &error);
  g_assert_no_error (error);
  fx->client = td_file_client_new (fx->cache_dir);
}

static void
fixture_teardown (Fixture       *fx,
                  gconstpointer  data)
{
  td_file_client_free (fx->client);
  g_clear_pointer (&fx->reply, td_task_result_free);
  td_mailbox_close (fx->mailbox);
  g_ptr_array_unref (fx->progress);
  g_clear_object (&fx->cancel_on_progress);
  td_file_test_rm_rf (fx->cache_dir);
  g_free (fx->cache_dir);
  g_main_context_pop_thread_default (fx->context);
  g_main_context_unref (fx->context);
}

/* Iterates the test context until the reply arrives; returns it (owned
 * by the fixture until the next wait). */
static TdTaskResult *
wait_reply (Fixture *fx)
{
  gint64 deadline = g_get_monotonic_time () + TD_FILE_TEST_TIMEOUT_S * G_USEC_PER_SEC;

  g_clear_pointer (&fx->reply, td_task_result_free);
  while (fx->reply == NULL)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (fx->context, FALSE);
      if (fx->reply == NULL)
        g_usleep (1000);
    }
  return fx->reply;
}

static GBytes *
fixture_bytes (const char *name)
{
  g_autofree char *path = g_build_filename (g_getenv ("TD_TEST_SRCDIR"), "fixtures", "files", name, NULL);
  g_autoptr(GError) error = NULL;
  char *data = NULL;
  gsize len = 0;

  g_file_get_contents (path, &data, &len, &error);
  g_assert_no_error (error);
  return g_bytes_new_take (data, len);
}

static char *
fixture_path (const char *name)
{
  return g_build_filename (g_getenv ("TD_TEST_SRCDIR"), "fixtures", "files", name, NULL);
}

/* Uploads @bytes (or the fixture @path) as alice and returns the URL. */
static char *
upload_ok (Fixture        *fx,
           TdFileTestHost *ts,
           const char     *path,
           GBytes         *bytes,
           const char     *name)
{
  TdFileUploadParams params = {
    .url_base = ts->url, .user = TD_FILE_TEST_USER, .password = TD_FILE_TEST_PASSWORD,
    .path = path, .bytes = bytes, .name = name,
    .reply_mailbox = fx->mailbox, .reply_kind = MAIL_REPLY,
  };
  TdTaskResult *reply;
  TdFileUploadResult *result;

  td_file_client_upload (fx->client, &params);
  reply = wait_reply (fx);
  g_assert_no_error (reply->error);
  result = reply->result;
  return g_strdup (result->url);
}

/* ------------------------------------------------------------------ */
/* Upload and download                                                 */
/* ------------------------------------------------------------------ */

static void
test_round_trip (Fixture       *fx,
                 gconstpointer  data)
{
  TdFileTestHost *ts = td_file_test_host_start_full (NULL, alice_hash, NULL);
  g_autofree char *path = fixture_path ("tiny.png");
  g_autoptr(GBytes) png = fixture_bytes ("tiny.png");
  g_autofree char *sha256 = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, png);
  g_autofree char *dest = g_build_filename (fx->cache_dir, "saved.png", NULL);
  g_autofree char *url = NULL;
  TdFileUploadParams params = {
    .url_base = ts->url, .user = TD_FILE_TEST_USER, .password = TD_FILE_TEST_PASSWORD,
    .path = path, .caption = "a caption",
    .progress_mailbox = fx->mailbox, .progress_kind = MAIL_PROGRESS,
    .reply_mailbox = fx->mailbox, .reply_kind = MAIL_REPLY,
  };
  TdFileProgress *last;
  TdFileUploadResult *uploaded;
  TdFileDownloadResult *downloaded;
  TdTaskResult *reply;
  guint64 id;
  char *contents = NULL;
  gsize len = 0;

  id = td_file_client_upload (fx->client, &params);
  g_assert_cmpuint (id, >, 0);
  reply = wait_reply (fx);
  g_assert_no_error (reply->error);
  g_assert_cmpuint (((TdFileRequest *) reply->task_data)->id, ==, id);
  uploaded = reply->result;
  g_assert_cmpstr (uploaded->name, ==, "tiny.png");
  g_assert_cmpstr (uploaded->type, ==, "image/png");
  g_assert_cmpstr (uploaded->sha256, ==, sha256);
  g_assert_cmpint (uploaded->size, ==, g_bytes_get_size (png));
  g_assert_true (g_str_has_prefix (uploaded->url, ts->url));
  url = g_strdup (uploaded->url);

  /* Progress ends at the whole request body. */
  g_assert_cmpuint (fx->progress->len, >, 0);
  last = g_ptr_array_index (fx->progress, fx->progress->len - 1);
  g_assert_cmpuint (last->id, ==, id);
  g_assert_cmpint (last->done, ==, last->total);
  g_assert_cmpint (last->total, >, g_bytes_get_size (png));

  /* And back, checksum and all. */
  td_file_client_download (fx->client, url, dest, 0, TD_MAILBOX_NONE, 0, fx->mailbox, MAIL_REPLY, NULL);
  reply = wait_reply (fx);
  g_assert_no_error (reply->error);
  downloaded = reply->result;
  g_assert_cmpstr (downloaded->path, ==, dest);
  g_assert_cmpstr (downloaded->content_type, ==, "image/png");
  g_assert_cmpint (downloaded->size, ==, g_bytes_get_size (png));
  g_assert_true (g_file_get_contents (dest, &contents, &len, NULL));
  {
    g_autofree char *got = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) contents, len);

    g_assert_cmpstr (got, ==, sha256);
  }
  g_free (contents);
  td_file_test_host_free (ts);
}

static void
test_upload_errors (Fixture       *fx,
                    gconstpointer  data)
{
  TdFileTestHost *ts = td_file_test_host_start_full (NULL, alice_hash, NULL);
  g_autoptr(GBytes) html = fixture_bytes ("page.png");
  g_autoptr(GBytes) png = fixture_bytes ("tiny.png");
  TdFileUploadParams params = {
    .url_base = ts->url, .user = TD_FILE_TEST_USER, .password = "wrong password",
    .bytes = png, .name = "x.png", .reply_mailbox = fx->mailbox, .reply_kind = MAIL_REPLY,
  };
  TdTaskResult *reply;

  /* The server's own words come back. */
  td_file_client_upload (fx->client, &params);
  reply = wait_reply (fx);
  g_assert_error (reply->error, TD_FILE_ERROR, TD_FILE_ERROR_HTTP);
  g_assert_nonnull (strstr (reply->error->message, "401"));
  g_assert_nonnull (strstr (reply->error->message, "Wrong user name or password"));

  params.password = TD_FILE_TEST_PASSWORD;
  params.bytes = html;
  params.name = "page.png";
  td_file_client_upload (fx->client, &params);
  reply = wait_reply (fx);
  g_assert_error (reply->error, TD_FILE_ERROR, TD_FILE_ERROR_HTTP);
  g_assert_nonnull (strstr (reply->error->message, "415"));

  /* No password in the clear to a host that is not this machine; this
   * fails before any connection is made. */
  params.url_base = "http://files.example.invalid:6681";
  td_file_client_upload (fx->client, &params);
  reply = wait_reply (fx);
  g_assert_error (reply->error, TD_FILE_ERROR, TD_FILE_ERROR_INSECURE);

  params.url_base = "ftp://127.0.0.1/";
  td_file_client_upload (fx->client, &params);
  reply = wait_reply (fx);
  g_assert_error (reply->error, TD_FILE_ERROR, TD_FILE_ERROR_INVALID_URL);
  td_file_test_host_free (ts);
}

static void
test_upload_cancel (Fixture       *fx,
                    gconstpointer  data)
{
  TdFileTestHost *ts = td_file_test_host_start_full (NULL, alice_hash, NULL);
  gsize len = 16 * 1024 * 1024;
  guint8 *big = g_malloc0 (len);
  g_autoptr(GBytes) bytes = NULL;
  TdFileUploadParams params = {
    .url_base = ts->url, .user = TD_FILE_TEST_USER, .password = TD_FILE_TEST_PASSWORD,
    .name = "big.png", .progress_mailbox = fx->mailbox, .progress_kind = MAIL_PROGRESS,
    .reply_mailbox = fx->mailbox, .reply_kind = MAIL_REPLY,
  };
  gint64 deadline = g_get_monotonic_time () + TD_FILE_TEST_TIMEOUT_S * G_USEC_PER_SEC;
  TdTaskResult *reply;
  guint n_tmp = 0;

  memcpy (big, "\x89PNG\r\n\x1a\n", 8);
  bytes = g_bytes_new_take (big, len);
  params.bytes = bytes;
  fx->cancel_on_progress = g_cancellable_new ();
  params.cancellable = fx->cancel_on_progress;
  td_file_client_upload (fx->client, &params);
  reply = wait_reply (fx);
  g_assert_error (reply->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (fx->progress->len, >, 0);

  /* The server drops the half upload. */
  while (td_file_test_count_blobs (ts->data_dir, &n_tmp) != 0 || n_tmp != 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (10000);
    }
  g_assert_cmpint (td_file_test_host_call (ts, td_file_test_n_files_func, NULL), ==, 0);
  td_file_test_host_free (ts);
}

/* ------------------------------------------------------------------ */
/* Thumbnails                                                          */
/* ------------------------------------------------------------------ */

static void
test_thumbnail (Fixture       *fx,
                gconstpointer  data)
{
  TdFileTestHost *ts = td_file_test_host_start_full (NULL, alice_hash, NULL);
  const char *names[] = { "tiny.png", "photo.jpg", "anim.gif" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *path = fixture_path (names[i]);
      g_autofree char *url = upload_ok (fx, ts, path, NULL, NULL);
      TdFileThumbnail *thumbnail;
      TdTaskResult *reply;
      guint n_cached = 0;

      g_test_message ("%s", names[i]);
      td_file_thumbnail_request (fx->client, url, 32, fx->mailbox, MAIL_REPLY, NULL);
      reply = wait_reply (fx);
      g_assert_no_error (reply->error);
      thumbnail = reply->result;
      g_assert_nonnull (thumbnail->pixbuf);
      g_assert_false (thumbnail->from_cache);
      /* Decoded on a worker, never on the thread that asked. */
      g_assert_nonnull (thumbnail->decoded_on);
      g_assert_true (thumbnail->decoded_on != g_thread_self ());
      g_assert_cmpint (thumbnail->width, ==, 64);
      g_assert_cmpint (thumbnail->height, ==, 48);
      g_assert_cmpint (gdk_pixbuf_get_width (thumbnail->pixbuf), ==, 32);
      g_assert_cmpint (gdk_pixbuf_get_height (thumbnail->pixbuf), ==, 24);

      /* The second time it comes from the disk cache. */
      {
        g_autoptr(GDir) dir = g_dir_open (fx->cache_dir, 0, NULL);

        while (g_dir_read_name (dir) != NULL)
          n_cached++;
        g_assert_cmpuint (n_cached, ==, i + 1);
      }
      td_file_thumbnail_request (fx->client, url, 32, fx->mailbox, MAIL_REPLY, NULL);
      reply = wait_reply (fx);
      g_assert_no_error (reply->error);
      thumbnail = reply->result;
      g_assert_true (thumbnail->from_cache);
      g_assert_true (thumbnail->decoded_on != g_thread_self ());
      g_assert_cmpint (gdk_pixbuf_get_width (thumbnail->pixbuf), ==, 32);
    }
  td_file_test_host_free (ts);
}

static void
test_thumbnail_hostile (Fixture       *fx,
                        gconstpointer  data)
{
  TdFileTestHost *ts = td_file_test_host_start_full (NULL, alice_hash, NULL);
  struct { const char *name; TdFileError code; } cases[] = {
    { "huge.png", TD_FILE_ERROR_TOO_MANY_PIXELS },
    { "malformed.png", TD_FILE_ERROR_MALFORMED },
    { "notes.txt", TD_FILE_ERROR_UNSUPPORTED },
  };
  g_autofree char *missing = g_strdup_printf ("%s/f/%064d/gone.png", ts->url, 0);
  TdTaskResult *reply;

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = fixture_path (cases[i].name);
      g_autofree char *url = upload_ok (fx, ts, path, NULL, NULL);

      g_test_message ("%s", cases[i].name);
      td_file_thumbnail_request (fx->client, url, 128, fx->mailbox, MAIL_REPLY, NULL);
      reply = wait_reply (fx);
      g_assert_error (reply->error, TD_FILE_ERROR, (gint) cases[i].code);
      g_assert_null (reply->result);
    }

  td_file_thumbnail_request (fx->client, missing, 128, fx->mailbox, MAIL_REPLY, NULL);
  reply = wait_reply (fx);
  g_assert_error (reply->error, TD_FILE_ERROR, TD_FILE_ERROR_HTTP);
  g_assert_nonnull (strstr (reply->error->message, "404"));

  /* Nothing failed got cached. */
  {
    g_autoptr(GDir) dir = g_dir_open (fx->cache_dir, 0, NULL);

    g_assert_null (g_dir_read_name (dir));
  }
  td_file_test_host_free (ts);
}

static void
test_thumbnail_cancel (Fixture       *fx,
                       gconstpointer  data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  TdTaskResult *reply;

  g_cancellable_cancel (cancellable);
  td_file_thumbnail_request (fx->client, "http://127.0.0.1:9/x.png", 64, fx->mailbox, MAIL_REPLY, cancellable);
  reply = wait_reply (fx);
  g_assert_error (reply->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

/* ------------------------------------------------------------------ */
/* URLs                                                                */
/* ------------------------------------------------------------------ */

static void
test_classify (void)
{
  const char *hosts[] = { "http://127.0.0.1:6681", "https://files.example.org", NULL };
  const char *hash = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  struct { const char *url; gboolean unknown_ok; TdFileUrlKind kind; } cases[] = {
    { "http://127.0.0.1:6681/f/HASH/cat.png", FALSE, TD_FILE_URL_IMAGE },
    { "http://127.0.0.1:6681/f/HASH/Cat%20photo.JPG", FALSE, TD_FILE_URL_IMAGE },
    { "http://127.0.0.1:6681/f/HASH/report.pdf", FALSE, TD_FILE_URL_FILE },
    { "https://files.example.org/f/HASH/a.webp", FALSE, TD_FILE_URL_IMAGE },
    { "http://127.0.0.1:6682/f/HASH/cat.png", FALSE, TD_FILE_URL_NONE },
    { "http://127.0.0.1:6681/upload", FALSE, TD_FILE_URL_NONE },
    { "https://elsewhere.example/cat.png", FALSE, TD_FILE_URL_NONE },
    { "https://elsewhere.example/cat.png", TRUE, TD_FILE_URL_IMAGE },
    { "https://elsewhere.example/cat.png?size=2", TRUE, TD_FILE_URL_IMAGE },
    { "https://elsewhere.example/page.html", TRUE, TD_FILE_URL_NONE },
    { "https://elsewhere.example/", TRUE, TD_FILE_URL_NONE },
    { "file:///etc/cat.png", TRUE, TD_FILE_URL_NONE },
    { "javascript:alert(1)//.png", TRUE, TD_FILE_URL_NONE },
    { "not a url", TRUE, TD_FILE_URL_NONE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GString) url = g_string_new (cases[i].url);

      g_string_replace (url, "HASH", hash, 1);
      g_test_message ("%s", url->str);
      g_assert_cmpint (td_file_url_classify (url->str, hosts, cases[i].unknown_ok), ==, cases[i].kind);
    }
  g_assert_cmpint (td_file_url_classify (NULL, hosts, TRUE), ==, TD_FILE_URL_NONE);
  g_assert_cmpint (td_file_url_classify ("https://a.example/x.gif", NULL, TRUE), ==, TD_FILE_URL_IMAGE);

  {
    g_autofree char *name = td_file_url_get_name ("http://h/f/abc/Caf%C3%A9%20menu.pdf");

    g_assert_cmpstr (name, ==, "Café menu.pdf");
  }
}

int
main (int   argc,
      char *argv[])
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  alice_hash = td_irc_accounts_hash_password (TD_FILE_TEST_PASSWORD, NULL);
  g_assert_nonnull (alice_hash);

  g_test_add_func ("/td/file-client/classify", test_classify);
  g_test_add ("/td/file-client/round-trip", Fixture, NULL, fixture_setup, test_round_trip, fixture_teardown);
  g_test_add ("/td/file-client/upload-errors", Fixture, NULL, fixture_setup, test_upload_errors, fixture_teardown);
  g_test_add ("/td/file-client/upload-cancel", Fixture, NULL, fixture_setup, test_upload_cancel, fixture_teardown);
  g_test_add ("/td/file-client/thumbnail", Fixture, NULL, fixture_setup, test_thumbnail, fixture_teardown);
  g_test_add ("/td/file-client/thumbnail-hostile", Fixture, NULL, fixture_setup, test_thumbnail_hostile, fixture_teardown);
  g_test_add ("/td/file-client/thumbnail-cancel", Fixture, NULL, fixture_setup, test_thumbnail_cancel, fixture_teardown);

  ret = g_test_run ();
  td_task_loop_shutdown (td_task_loop_get_default (), 5000);
  g_free (alice_hash);
  return ret;
}
