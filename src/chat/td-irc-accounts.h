/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Chat accounts: names (casefolded like nicks) and argon2id password
 * hashes (libsodium crypto_pwhash_str, interactive limits), plus the
 * rate limit on failed logins. The table lives on the server's context;
 * hashing and verifying are slow by design and must run on a worker
 * (td_irc_accounts_hash_password() and td_irc_accounts_verify_password()
 * are the blocking halves for the task loop).
 */

/* Passwords shorter than this are refused at REGISTER: argon2id slows a
 * guesser down but cannot save a four-letter password. */
#define TD_IRC_ACCOUNT_MIN_PASSWORD   8
/* Longer passwords are refused so that nobody can make a worker hash
 * megabytes; 300 is far beyond any passphrase a person types. */
#define TD_IRC_ACCOUNT_MAX_PASSWORD   300
/* Failed logins allowed per IP and per account within the window below
 * before further attempts are refused without even hashing. */
#define TD_IRC_LOGIN_MAX_FAILURES     5
/* The window over which failures are counted; an attacker gets at most
 * TD_IRC_LOGIN_MAX_FAILURES guesses per this many seconds per IP and per
 * account. */
#define TD_IRC_LOGIN_FAILURE_WINDOW_S 60

typedef struct _TdIrcAccounts TdIrcAccounts;

/* Where accounts are persisted. save() must not block. */
typedef struct _TdIrcAccountStore TdIrcAccountStore;
struct _TdIrcAccountStore
{
  void (*save) (TdIrcAccountStore *store,
                const char        *name,
                const char        *hash,
                gint64             created);
  void (*free) (TdIrcAccountStore *store);
};

TdIrcAccounts *td_irc_accounts_new              (void);
void           td_irc_accounts_free             (TdIrcAccounts     *accounts);
void           td_irc_accounts_set_store        (TdIrcAccounts     *accounts,
                                                 TdIrcAccountStore *store);

gboolean       td_irc_accounts_add              (TdIrcAccounts     *accounts,
                                                 const char        *name,
                                                 const char        *hash,
                                                 gboolean           save);
const char    *td_irc_accounts_lookup           (TdIrcAccounts     *accounts,
                                                 const char        *name,
                                                 const char       **hash);
guint          td_irc_accounts_get_count        (TdIrcAccounts     *accounts);

gboolean       td_irc_accounts_reserve          (TdIrcAccounts     *accounts,
                                                 const char        *name);
void           td_irc_accounts_unreserve        (TdIrcAccounts     *accounts,
                                                 const char        *name);

gboolean       td_irc_accounts_login_allowed    (TdIrcAccounts     *accounts,
                                                 const char        *name,
                                                 const char        *ip,
                                                 gint64             now_usec);
void           td_irc_accounts_login_failed     (TdIrcAccounts     *accounts,
                                                 const char        *name,
                                                 const char        *ip,
                                                 gint64             now_usec);
void           td_irc_accounts_expire_failures  (TdIrcAccounts     *accounts,
                                                 gint64             now_usec);

char          *td_irc_accounts_hash_password    (const char        *password,
                                                 GError           **error);
gboolean       td_irc_accounts_verify_password  (const char        *hash,
                                                 const char        *password);

G_END_DECLS
