/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

#include "chat/td-irc-accounts.h"
#include "core/td-mailbox.h"
#include "store/td-recorder.h"

G_BEGIN_DECLS

/*
 * Chat accounts in the server database (table `accounts` of
 * td_schema_server()): the TdIrcAccountStore the server saves through,
 * the load at start, and the blocking helpers behind `tidingsd account
 * add|delete|list`, which open the database with a recorder of their own
 * and return once their change is on disk. A running server reads the
 * table only at start, so those commands are for a stopped server.
 */

typedef struct
{
  char   *name;
  char   *hash;       /* argon2id, crypto_pwhash_str format */
  gint64  created;    /* unix microseconds */
} TdIrcStoredAccount;

void               td_irc_stored_account_free   (TdIrcStoredAccount *account);

/* Returns a store that saves through @recorder (borrowed: it must outlive
 * the store). */
TdIrcAccountStore *td_irc_account_store_new     (TdRecorder         *recorder);

/* Reads every account and mails a TdStoreResult holding a GPtrArray of
 * TdIrcStoredAccount to @reply as @reply_kind. */
void               td_irc_account_store_load    (TdRecorder         *recorder,
                                                 TdMailboxId         reply,
                                                 guint               reply_kind);

/* Input checks shared by REGISTER and the command line. Return FALSE and
 * set @error (G_IO_ERROR_INVALID_ARGUMENT) with a sentence for people. */
gboolean           td_irc_account_check_name    (const char         *name,
                                                 GError            **error);
gboolean           td_irc_account_check_password (const char        *password,
                                                 GError            **error);

/* Blocking; for the command line. Errors: G_IO_ERROR_INVALID_ARGUMENT for
 * bad input, G_IO_ERROR_EXISTS / G_IO_ERROR_NOT_FOUND for the account,
 * G_IO_ERROR_NOT_FOUND for a missing database (delete, list), and the
 * store's errors. */
gboolean           td_irc_account_store_add     (const char         *db_path,
                                                 const char         *name,
                                                 const char         *password,
                                                 GError            **error);
gboolean           td_irc_account_store_delete  (const char         *db_path,
                                                 const char         *name,
                                                 GError            **error);
/* Returns the accounts (TdIrcStoredAccount) sorted by name, or NULL. */
GPtrArray         *td_irc_account_store_list    (const char         *db_path,
                                                 GError            **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdIrcStoredAccount, td_irc_stored_account_free)

G_END_DECLS
