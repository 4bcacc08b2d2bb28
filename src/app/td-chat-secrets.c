/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-chat-secrets"

#include "config.h"

#include <glib/gi18n.h>

#include "app/td-chat-secrets.h"

const SecretSchema *
td_chat_secrets_get_schema (void)
{
  static const SecretSchema schema = {
    TD_CHAT_SECRETS_SCHEMA_NAME, SECRET_SCHEMA_NONE,
    {
      { "network", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { "host", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { "account", SECRET_SCHEMA_ATTRIBUTE_STRING },
      { NULL, 0 },
    },
  };

  return &schema;
}

void
td_chat_secrets_store (const char          *network,
                       const char          *host,
                       const char          *account,
                       const char          *password,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  g_autofree char *label = NULL;

  g_return_if_fail (network != NULL && host != NULL && account != NULL && password != NULL);

  /* What the user sees in Passwords and Keys. */
  label = g_strdup_printf (_("Tidings chat: %s on %s"), account, network);
  secret_password_store (td_chat_secrets_get_schema (), SECRET_COLLECTION_DEFAULT, label, password,
                         cancellable, callback, user_data,
                         "network", network, "host", host, "account", account, NULL);
}

gboolean
td_chat_secrets_store_finish (GAsyncResult  *result,
                              GError       **error)
{
  return secret_password_store_finish (result, error);
}

void
td_chat_secrets_lookup (const char          *network,
                        const char          *host,
                        const char          *account,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  g_return_if_fail (network != NULL && host != NULL && account != NULL);

  secret_password_lookup (td_chat_secrets_get_schema (), cancellable, callback, user_data,
                          "network", network, "host", host, "account", account, NULL);
}

char *
td_chat_secrets_lookup_finish (GAsyncResult  *result,
                               GError       **error)
{
  return secret_password_lookup_finish (result, error);
}

void
td_chat_secrets_clear (const char          *network,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  g_return_if_fail (network != NULL);

  secret_password_clear (td_chat_secrets_get_schema (), cancellable, callback, user_data,
                         "network", network, NULL);
}

gboolean
td_chat_secrets_clear_finish (GAsyncResult  *result,
                              GError       **error)
{
  return secret_password_clear_finish (result, error);
}

void
td_chat_secrets_free_password (char *password)
{
  secret_password_free (password);
}
