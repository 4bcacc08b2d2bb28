/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-irc-account-store"

#include "config.h"

#include <string.h>
#include <gio/gio.h>
#include <sodium.h>

#include "chat/td-irc-account-store.h"
#include "chat/td-irc-server-private.h"

#define SQL_INSERT \
  "INSERT INTO accounts (name, password_hash, created) VALUES (?, ?, ?)"
#define SQL_SELECT \
  "SELECT id, name, password_hash, created FROM accounts ORDER BY name"
#define SQL_DELETE \
  "DELETE FROM accounts WHERE id = ?"

typedef struct
{
  TdIrcAccountStore  parent;
  TdRecorder        *recorder;   /* borrowed */
} AccountStore;

void
td_irc_stored_account_free (TdIrcStoredAccount *account)
{
  if (account == NULL)
    return;
  g_free (account->name);
  if (account->hash != NULL)
    sodium_memzero (account->hash, strlen (account->hash));
  g_free (account->hash);
  g_free (account);
}

/* ------------------------------------------------------------------ */
/* The store of a running server                                       */
/* ------------------------------------------------------------------ */

static void
store_save (TdIrcAccountStore *store,
            const char        *name,
            const char        *hash,
            gint64             created)
{
  AccountStore *self = (AccountStore *) store;

  td_recorder_save_values (self->recorder, SQL_INSERT,
                           TD_TEXT (name), TD_TEXT (hash), TD_INT (created));
}

static void
store_free (TdIrcAccountStore *store)
{
  g_free (store);
}

TdIrcAccountStore *
td_irc_account_store_new (TdRecorder *recorder)
{
  AccountStore *self;

  g_return_val_if_fail (recorder != NULL, NULL);

  self = g_new0 (AccountStore, 1);
  self->parent.save = store_save;
  self->parent.free = store_free;
  self->recorder = recorder;
  return &self->parent;
}

/* Recorder thread: every account, by name. Rows with a hash that is not
 * argon2id are skipped with a message: they could never log in. */
static GPtrArray *
select_accounts (TdStoreConn  *conn,
                 GArray       *ids,
                 GError      **error)
{
  g_autoptr(TdRows) rows = td_store_conn_query (conn, SQL_SELECT, NULL, 0, error);
  GPtrArray *out;

  if (rows == NULL)
    return NULL;
  out = g_ptr_array_new_with_free_func ((GDestroyNotify) td_irc_stored_account_free);
  for (guint i = 0; i < rows->n_rows; i++)
    {
      const char *name = td_rows_get_text (rows, i, 1);
      const char *hash = td_rows_get_text (rows, i, 2);
      TdIrcStoredAccount *account;

      if (name == NULL || hash == NULL || !g_str_has_prefix (hash, "$argon2id$"))
        {
          g_message ("Skipping account “%s”: its password is not an argon2id hash",
                     name ? name : "");
          continue;
        }
      account = g_new0 (TdIrcStoredAccount, 1);
      account->name = g_strdup (name);
      account->hash = g_strdup (hash);
      account->created = td_rows_get_int (rows, i, 3);
      g_ptr_array_add (out, account);
      if (ids != NULL)
        {
          gint64 id = td_rows_get_int (rows, i, 0);

          g_array_append_val (ids, id);
        }
    }
  return out;
}

static gpointer
accounts_load (TdStoreConn  *conn,
               gpointer      data,
               GError      **error)
{
  return select_accounts (conn, NULL, error);
}

void
td_irc_account_store_load (TdRecorder  *recorder,
                           TdMailboxId  reply,
                           guint        reply_kind)
{
  g_return_if_fail (recorder != NULL);

  td_recorder_load_func (recorder, accounts_load, NULL, NULL,
                         (GDestroyNotify) g_ptr_array_unref, reply, reply_kind);
}

/* ------------------------------------------------------------------ */
/* Checks                                                              */
/* ------------------------------------------------------------------ */

/* An account owns the nick of its name, so names follow the nick rules. */
gboolean
td_irc_account_check_name (const char  *name,
                           GError     **error)
{
  if (name == NULL || *name == '\0')
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           "The account name is empty");
      return FALSE;
    }
  if (!td_irc_nick_is_valid (name, TD_IRC_NICKLEN))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "“%s” is not a valid account name: names follow the nickname rules "
                   "(at most %d characters: letters, digits and []\\`_^{|}-, "
                   "not starting with a digit or -)", name, TD_IRC_NICKLEN);
      return FALSE;
    }
  return TRUE;
}

gboolean
td_irc_account_check_password (const char  *password,
                               GError     **error)
{
  gsize len = password ? strlen (password) : 0;

  if (len == 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           "The password is empty");
      return FALSE;
    }
  if (len < TD_IRC_ACCOUNT_MIN_PASSWORD)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "The password is too short: it needs at least %d bytes",
                   TD_IRC_ACCOUNT_MIN_PASSWORD);
      return FALSE;
    }
  if (len > TD_IRC_ACCOUNT_MAX_PASSWORD)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "The password is too long: at most %d bytes are accepted",
                   TD_IRC_ACCOUNT_MAX_PASSWORD);
      return FALSE;
    }
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* Command line                                                        */
/* ------------------------------------------------------------------ */

typedef enum
{
  JOB_ADD,
  JOB_DELETE,
  JOB_LIST,
} JobKind;

typedef struct
{
  JobKind    kind;
  char      *name;
  char      *hash;
  GPtrArray *accounts;   /* JOB_LIST: the answer */
} Job;

static void
job_free (Job *job)
{
  g_free (job->name);
  if (job->hash != NULL)
    sodium_memzero (job->hash, strlen (job->hash));
  g_free (job->hash);
  g_clear_pointer (&job->accounts, g_ptr_array_unref);
  g_free (job);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Job, job_free)

/* Recorder thread: reads the accounts and applies the change in one
 * transaction, comparing names with IRC casefolding (the table's NOCASE
 * only folds ASCII letters). */
static gpointer
job_run (TdStoreConn  *conn,
         gpointer      data,
         GError      **error)
{
  Job *job = data;
  g_autoptr(GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(GPtrArray) accounts = NULL;
  gint found = -1;
  gboolean ok;

  if (!td_store_conn_exec (conn, "BEGIN IMMEDIATE", NULL, 0, error))
    return NULL;
  accounts = select_accounts (conn, ids, error);
  if (accounts == NULL)
    goto fail;
  for (guint i = 0; job->name != NULL && i < accounts->len; i++)
    if (td_irc_equal (((TdIrcStoredAccount *) g_ptr_array_index (accounts, i))->name, job->name))
      found = (gint) i;

  switch (job->kind)
    {
    case JOB_ADD:
      if (found >= 0)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS, "The account “%s” already exists",
                       ((TdIrcStoredAccount *) g_ptr_array_index (accounts, found))->name);
          goto fail;
        }
      ok = td_store_conn_exec (conn, SQL_INSERT,
                               (const TdValue[]) { TD_TEXT (job->name), TD_TEXT (job->hash),
                                                   TD_INT (g_get_real_time ()) }, 3, error);
      break;
    case JOB_DELETE:
      if (found < 0)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "There is no account “%s”", job->name);
          goto fail;
        }
      ok = td_store_conn_exec (conn, SQL_DELETE,
                               (const TdValue[]) { TD_INT (g_array_index (ids, gint64, found)) }, 1, error);
      break;
    case JOB_LIST:
    default:
      ok = TRUE;
      job->accounts = g_steal_pointer (&accounts);
      break;
    }
  if (!ok || !td_store_conn_exec (conn, "COMMIT", NULL, 0, error))
    goto fail;
  return GINT_TO_POINTER (1);

fail:
  td_store_conn_exec (conn, "ROLLBACK", NULL, 0, NULL);
  return NULL;
}

typedef struct
{
  TdStoreResult *result;
  gboolean       done;
} Wait;

static void
wait_mail_cb (TdMailboxId  id,
              TdMail      *mail,
              gpointer     user_data)
{
  Wait *wait = user_data;

  wait->result = td_mail_steal_data (mail);
  wait->done = TRUE;
}

/* Runs @job on a recorder of its own for @db_path and waits; the change
 * is committed and checkpointed when this returns TRUE. */
static gboolean
run_job (const char  *db_path,
         Job         *job,
         gboolean     create,
         GError     **error)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(TdRecorder) recorder = NULL;
  Wait wait = { 0 };
  TdMailboxId box;
  gboolean ok;

  if (!create && !g_file_test (db_path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "No database at %s", db_path);
      return FALSE;
    }
  recorder = td_recorder_new (db_path, td_schema_server ());
  box = td_mailbox_open (context, G_PRIORITY_DEFAULT, wait_mail_cb, &wait, NULL);
  /* The job is freed by the caller: its answer is read below. */
  td_recorder_load_func (recorder, job_run, job, NULL, NULL, box, 1);
  while (!wait.done)
    g_main_context_iteration (context, TRUE);
  td_mailbox_close (box);

  ok = wait.result->error == NULL;
  if (!ok)
    g_propagate_error (error, g_steal_pointer (&wait.result->error));
  td_store_result_free (wait.result);
  /* Closing checkpoints: the change is on disk, not only in the WAL. */
  if (!td_recorder_close (recorder, ok ? error : NULL))
    return FALSE;
  return ok;
}

gboolean
td_irc_account_store_add (const char  *db_path,
                          const char  *name,
                          const char  *password,
                          GError     **error)
{
  g_autoptr(Job) job = NULL;

  g_return_val_if_fail (db_path != NULL, FALSE);

  if (!td_irc_account_check_name (name, error) ||
      !td_irc_account_check_password (password, error))
    return FALSE;
  job = g_new0 (Job, 1);
  job->kind = JOB_ADD;
  job->name = g_strdup (name);
  job->hash = td_irc_accounts_hash_password (password, error);
  if (job->hash == NULL)
    return FALSE;
  return run_job (db_path, job, TRUE, error);
}

gboolean
td_irc_account_store_delete (const char  *db_path,
                             const char  *name,
                             GError     **error)
{
  g_autoptr(Job) job = NULL;

  g_return_val_if_fail (db_path != NULL, FALSE);

  if (!td_irc_account_check_name (name, error))
    return FALSE;
  job = g_new0 (Job, 1);
  job->kind = JOB_DELETE;
  job->name = g_strdup (name);
  return run_job (db_path, job, FALSE, error);
}

GPtrArray *
td_irc_account_store_list (const char  *db_path,
                           GError     **error)
{
  g_autoptr(Job) job = g_new0 (Job, 1);

  g_return_val_if_fail (db_path != NULL, NULL);

  job->kind = JOB_LIST;
  if (!run_job (db_path, job, FALSE, error))
    return NULL;
  return g_steal_pointer (&job->accounts);
}
