/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-irc-accounts"

#include "config.h"

#include <string.h>
#include <gio/gio.h>
#include <sodium.h>

#include "chat/td-irc-accounts.h"
#include "chat/td-irc-message.h"

typedef struct
{
  char   *name;     /* as registered */
  char   *hash;     /* crypto_pwhash_str output */
} Account;

/* Failed logins of one IP or one account inside the window. */
typedef struct
{
  gint64 window_start;
  guint  count;
} Failures;

struct _TdIrcAccounts
{
  GHashTable        *accounts;   /* casefolded name -> Account */
  GHashTable        *reserved;   /* casefolded names being registered */
  GHashTable        *failures;   /* "ip:..." / "acct:..." -> Failures */
  gint64             swept;      /* when windows that were over last went */
  TdIrcAccountStore *store;      /* owned, nullable */
};

static void
account_free (gpointer data)
{
  Account *account = data;

  g_free (account->name);
  sodium_memzero (account->hash, strlen (account->hash));
  g_free (account->hash);
  g_free (account);
}

TdIrcAccounts *
td_irc_accounts_new (void)
{
  TdIrcAccounts *accounts = g_new0 (TdIrcAccounts, 1);

  /* Idempotent and thread-safe; needed before any crypto_pwhash call. */
  if (sodium_init () < 0)
    g_warning ("libsodium could not be initialised");
  accounts->accounts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, account_free);
  accounts->reserved = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  accounts->failures = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return accounts;
}

void
td_irc_accounts_free (TdIrcAccounts *accounts)
{
  if (accounts == NULL)
    return;
  g_hash_table_unref (accounts->accounts);
  g_hash_table_unref (accounts->reserved);
  g_hash_table_unref (accounts->failures);
  if (accounts->store != NULL && accounts->store->free != NULL)
    accounts->store->free (accounts->store);
  g_free (accounts);
}

void
td_irc_accounts_set_store (TdIrcAccounts     *accounts,
                           TdIrcAccountStore *store)
{
  if (accounts->store != NULL && accounts->store->free != NULL)
    accounts->store->free (accounts->store);
  accounts->store = store;
}

/* Adds account @name with password @hash; with @save, persists it through
 * the store. Returns FALSE if the name is taken. */
gboolean
td_irc_accounts_add (TdIrcAccounts *accounts,
                     const char    *name,
                     const char    *hash,
                     gboolean       save)
{
  g_autofree char *folded = NULL;
  Account *account;

  g_return_val_if_fail (accounts != NULL, FALSE);
  g_return_val_if_fail (name != NULL && hash != NULL, FALSE);

  folded = td_irc_casefold (name);
  if (g_hash_table_contains (accounts->accounts, folded))
    return FALSE;
  account = g_new0 (Account, 1);
  account->name = g_strdup (name);
  account->hash = g_strdup (hash);
  g_hash_table_insert (accounts->accounts, g_steal_pointer (&folded), account);
  if (save && accounts->store != NULL)
    accounts->store->save (accounts->store, name, hash, g_get_real_time ());
  return TRUE;
}

/* Returns the registered spelling of account @name (or NULL), and its
 * hash in @hash when asked. */
const char *
td_irc_accounts_lookup (TdIrcAccounts  *accounts,
                        const char     *name,
                        const char    **hash)
{
  g_autofree char *folded = td_irc_casefold (name);
  Account *account = g_hash_table_lookup (accounts->accounts, folded);

  if (hash != NULL)
    *hash = account ? account->hash : NULL;
  return account ? account->name : NULL;
}

guint
td_irc_accounts_get_count (TdIrcAccounts *accounts)
{
  return g_hash_table_size (accounts->accounts);
}

/* Holds @name while its password is being hashed, so that two REGISTERs
 * of one name cannot both succeed. Returns FALSE if taken or held. */
gboolean
td_irc_accounts_reserve (TdIrcAccounts *accounts,
                         const char    *name)
{
  g_autofree char *folded = td_irc_casefold (name);

  if (g_hash_table_contains (accounts->accounts, folded) ||
      g_hash_table_contains (accounts->reserved, folded))
    return FALSE;
  g_hash_table_add (accounts->reserved, g_steal_pointer (&folded));
  return TRUE;
}

void
td_irc_accounts_unreserve (TdIrcAccounts *accounts,
                           const char    *name)
{
  g_autofree char *folded = td_irc_casefold (name);

  g_hash_table_remove (accounts->reserved, folded);
}

static Failures *
get_failures (TdIrcAccounts *accounts,
              const char    *kind,
              const char    *what,
              gint64         now_usec,
              gboolean       create)
{
  g_autofree char *folded = td_irc_casefold (what);
  g_autofree char *key = g_strconcat (kind, folded, NULL);
  Failures *failures = g_hash_table_lookup (accounts->failures, key);

  if (failures != NULL &&
      now_usec - failures->window_start > (gint64) TD_IRC_LOGIN_FAILURE_WINDOW_S * G_USEC_PER_SEC)
    {
      failures->window_start = now_usec;
      failures->count = 0;
    }
  if (failures == NULL && create)
    {
      failures = g_new0 (Failures, 1);
      failures->window_start = now_usec;
      g_hash_table_insert (accounts->failures, g_steal_pointer (&key), failures);
    }
  return failures;
}

/* Returns FALSE when @ip or account @name has failed too often lately:
 * the attempt is refused without spending a hash on it. */
gboolean
td_irc_accounts_login_allowed (TdIrcAccounts *accounts,
                               const char    *name,
                               const char    *ip,
                               gint64         now_usec)
{
  Failures *by_ip = get_failures (accounts, "ip:", ip, now_usec, FALSE);
  Failures *by_name = get_failures (accounts, "acct:", name, now_usec, FALSE);

  return (by_ip == NULL || by_ip->count < TD_IRC_LOGIN_MAX_FAILURES) &&
         (by_name == NULL || by_name->count < TD_IRC_LOGIN_MAX_FAILURES);
}

void
td_irc_accounts_login_failed (TdIrcAccounts *accounts,
                              const char    *name,
                              const char    *ip,
                              gint64         now_usec)
{
  /* Windows that are over go from time to time as failures come, so that
   * the table stays small with no timer to run. */
  if (now_usec - accounts->swept > (gint64) TD_IRC_LOGIN_FAILURE_WINDOW_S * G_USEC_PER_SEC)
    {
      td_irc_accounts_expire_failures (accounts, now_usec);
      accounts->swept = now_usec;
    }
  get_failures (accounts, "ip:", ip, now_usec, TRUE)->count++;
  get_failures (accounts, "acct:", name, now_usec, TRUE)->count++;
}

/* Forgets failure windows that are over, so the table stays small. */
void
td_irc_accounts_expire_failures (TdIrcAccounts *accounts,
                                 gint64         now_usec)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, accounts->failures);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Failures *failures = value;

      if (now_usec - failures->window_start > (gint64) TD_IRC_LOGIN_FAILURE_WINDOW_S * G_USEC_PER_SEC)
        g_hash_table_iter_remove (&iter);
    }
}

/* Blocking (about 0.1 s and 64 MiB): run it on a worker. Returns the
 * argon2id hash string, or NULL with @error set. */
char *
td_irc_accounts_hash_password (const char  *password,
                               GError     **error)
{
  char hash[crypto_pwhash_STRBYTES];

  if (sodium_init () < 0 ||
      crypto_pwhash_str_alg (hash, password, strlen (password),
                             crypto_pwhash_OPSLIMIT_INTERACTIVE,
                             crypto_pwhash_MEMLIMIT_INTERACTIVE,
                             crypto_pwhash_ALG_ARGON2ID13) != 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                           "Could not hash the password (out of memory)");
      return NULL;
    }
  return g_strdup (hash);
}

/* Blocking, like td_irc_accounts_hash_password(). Returns TRUE if
 * @password matches @hash. Only argon2id hashes are accepted. */
gboolean
td_irc_accounts_verify_password (const char *hash,
                                 const char *password)
{
  if (hash == NULL || password == NULL || !g_str_has_prefix (hash, "$argon2id$"))
    return FALSE;
  if (sodium_init () < 0)
    return FALSE;
  return crypto_pwhash_str_verify (hash, password, strlen (password)) == 0;
}
