/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>
#include <string.h>
#include <glib/gstdio.h>

#include "core/td-mailbox.h"
#include "store/td-recorder.h"

G_BEGIN_DECLS

/* Generous for a loaded CI machine, sanitizers or valgrind; a hang still
 * fails the test instead of the run. */
#define TD_STORE_TEST_DEADLINE_MS 30000

/* Mail kinds used by the tests. */
enum
{
  KIND_ROWS = 1,
  KIND_FLUSH,
  KIND_ERROR,
  KIND_RESULT,
};

typedef struct
{
  guint          kind;
  gpointer       data;
  GDestroyNotify destroy;
} TdGotMail;

/* A private main context with one mailbox that keeps every mail it gets. */
typedef struct
{
  GMainContext *context;
  TdMailboxId   box;
  GQueue        got;     /* TdGotMail, in arrival order */
  char         *dir;     /* a fresh temporary directory */
  char         *path;    /* dir/test.db */
} TdStoreFixture;

static inline void
td_got_mail_free (TdGotMail *got)
{
  if (got->destroy != NULL && got->data != NULL)
    got->destroy (got->data);
  g_free (got);
}

static inline void
td_store_fixture_mail_cb (TdMailboxId  id,
                          TdMail      *mail,
                          gpointer     user_data)
{
  TdStoreFixture *f = user_data;
  TdGotMail *got = g_new0 (TdGotMail, 1);

  got->kind = mail->kind;
  got->destroy = mail->destroy;
  got->data = td_mail_steal_data (mail);
  g_queue_push_tail (&f->got, got);
}

static inline void
td_store_fixture_init (TdStoreFixture *f)
{
  g_autoptr(GError) error = NULL;

  memset (f, 0, sizeof *f);
  f->context = g_main_context_new ();
  f->box = td_mailbox_open (f->context, G_PRIORITY_DEFAULT,
                            td_store_fixture_mail_cb, f, NULL);
  f->dir = g_dir_make_tmp ("td-store-XXXXXX", &error);
  g_assert_no_error (error);
  f->path = g_build_filename (f->dir, "test.db", NULL);
}

/* Removes the temporary directory (one level of files is all tests make). */
static inline void
td_store_fixture_clear (TdStoreFixture *f)
{
  g_autoptr(GDir) dir = NULL;
  const char *name;

  td_mailbox_close (f->box);
  while (g_main_context_iteration (f->context, FALSE))
    ;
  g_queue_clear_full (&f->got, (GDestroyNotify) td_got_mail_free);
  g_main_context_unref (f->context);

  dir = g_dir_open (f->dir, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *p = g_build_filename (f->dir, name, NULL);
      g_chmod (p, 0600);
      g_unlink (p);
    }
  g_rmdir (f->dir);
  g_free (f->dir);
  g_free (f->path);
}

/* Returns the first kept mail of @kind without taking it, or NULL. */
static inline TdGotMail *
td_store_fixture_peek (TdStoreFixture *f,
                       guint           kind)
{
  for (GList *l = f->got.head; l != NULL; l = l->next)
    if (((TdGotMail *) l->data)->kind == kind)
      return l->data;
  return NULL;
}

/* Iterates the context until a mail of @kind is there and takes it; the
 * caller frees it with td_got_mail_free(). Fails the test on timeout. */
static inline TdGotMail *
td_store_fixture_wait (TdStoreFixture *f,
                       guint           kind)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) TD_STORE_TEST_DEADLINE_MS * 1000;
  TdGotMail *got;

  while ((got = td_store_fixture_peek (f, kind)) == NULL)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("no mail of kind %u within %d ms", kind, TD_STORE_TEST_DEADLINE_MS);
      if (!g_main_context_iteration (f->context, FALSE))
        g_usleep (200);
    }

  g_queue_remove (&f->got, got);
  return got;
}

/* Iterates the context for @ms milliseconds. */
static inline void
td_store_fixture_iterate_for (TdStoreFixture *f,
                              guint           ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;

  while (g_get_monotonic_time () < end)
    if (!g_main_context_iteration (f->context, FALSE))
      g_usleep (200);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdGotMail, td_got_mail_free)

G_END_DECLS
