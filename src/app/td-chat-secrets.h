/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>
#include <libsecret/secret.h>

G_BEGIN_DECLS

/*
 * SASL passwords of chat networks, kept in the user's keyring (the Secret
 * Service, through libsecret) and never in GSettings or the database.
 *
 * One item per network and account, under the schema
 * TD_CHAT_SECRETS_SCHEMA_NAME with the attributes `network` (its name in
 * the sidebar), `host` and `account`. Every call is asynchronous: the
 * keyring is another process, and it may ask the user to unlock it. When
 * there is no keyring (no Secret Service on the bus) the calls fail with
 * the error libsecret gives; they never block.
 */

#define TD_CHAT_SECRETS_SCHEMA_NAME "io.github.tidings.Tidings.Network"

const SecretSchema *td_chat_secrets_get_schema     (void);

/* Stores @password for @account on @network (at @host), replacing the one
 * stored before for the same three. */
void                td_chat_secrets_store          (const char           *network,
                                                    const char           *host,
                                                    const char           *account,
                                                    const char           *password,
                                                    GCancellable         *cancellable,
                                                    GAsyncReadyCallback   callback,
                                                    gpointer              user_data);
gboolean            td_chat_secrets_store_finish   (GAsyncResult         *result,
                                                    GError              **error);

/* Looks up the password of @account on @network at @host. */
void                td_chat_secrets_lookup         (const char           *network,
                                                    const char           *host,
                                                    const char           *account,
                                                    GCancellable         *cancellable,
                                                    GAsyncReadyCallback   callback,
                                                    gpointer              user_data);
/* Returns the password (free it with td_chat_secrets_free_password()), or
 * NULL: with @error set when the keyring failed, without when it has
 * none. */
char               *td_chat_secrets_lookup_finish  (GAsyncResult         *result,
                                                    GError              **error);

/* Removes every password stored for @network. */
void                td_chat_secrets_clear          (const char           *network,
                                                    GCancellable         *cancellable,
                                                    GAsyncReadyCallback   callback,
                                                    gpointer              user_data);
/* Returns TRUE if something was removed; FALSE with @error on failure,
 * without when there was nothing. */
gboolean            td_chat_secrets_clear_finish   (GAsyncResult         *result,
                                                    GError              **error);

/* Overwrites @password, then frees it. NULL is allowed. */
void                td_chat_secrets_free_password  (char                 *password);

G_END_DECLS
