/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-dbus-args"

#include "config.h"

#include <string.h>

#include "app/td-dbus-args.h"
#include "feeds/td-feed.h"
#include "app/td-dbus-generated.h"
#include "chat/td-irc-message.h"

static const GDBusErrorEntry td_dbus_error_entries[] = {
  { TD_DBUS_ERROR_INVALID_ARGS, "io.github.tidings.Tidings1.Error.InvalidArgs" },
  { TD_DBUS_ERROR_INVALID_URL, "io.github.tidings.Tidings1.Error.InvalidUrl" },
  { TD_DBUS_ERROR_NO_SUCH_FEED, "io.github.tidings.Tidings1.Error.NoSuchFeed" },
  { TD_DBUS_ERROR_NO_SUCH_CONNECTION, "io.github.tidings.Tidings1.Error.NoSuchConnection" },
  { TD_DBUS_ERROR_NOT_CONNECTED, "io.github.tidings.Tidings1.Error.NotConnected" },
  { TD_DBUS_ERROR_FAILED, "io.github.tidings.Tidings1.Error.Failed" },
  { TD_DBUS_ERROR_EXISTS, "io.github.tidings.Tidings1.Error.Exists" },
  { TD_DBUS_ERROR_SEVERAL_FEEDS, "io.github.tidings.Tidings1.Error.SeveralFeeds" },
  { TD_DBUS_ERROR_NO_SUCH_ITEM, "io.github.tidings.Tidings1.Error.NoSuchItem" },
};

G_STATIC_ASSERT (G_N_ELEMENTS (td_dbus_error_entries) == TD_DBUS_N_ERRORS);

const char * const td_dbus_args_view_names[] = { "chat", "pubsub", "feeds", NULL };

GQuark
td_dbus_error_quark (void)
{
  static gsize quark = 0;

  g_dbus_error_register_error_domain ("td-dbus-error-quark", &quark,
                                      td_dbus_error_entries,
                                      G_N_ELEMENTS (td_dbus_error_entries));
  return (GQuark) quark;
}

GDBusInterfaceInfo *
td_dbus_args_interface_info (void)
{
  return td_dbus_tidings1_interface_info ();
}

gboolean
td_dbus_args_is_view_name (const char *name)
{
  return name != NULL && g_strv_contains (td_dbus_args_view_names, name);
}

gboolean
td_dbus_args_feed_url_ok (const char *url)
{
  if (url == NULL || *url == '\0' || strlen (url) > TD_DBUS_MAX_URL_LEN || !g_utf8_validate (url, -1, NULL))
    return FALSE;
  /* A path, or a URL with its scheme (one without does not parse). */
  return g_path_is_absolute (url) || td_feed_url_is_valid (url);
}

gboolean
td_dbus_args_parse_connection (const char  *connection,
                               char       **host,
                               guint16     *port,
                               GError     **error)
{
  g_autoptr(GSocketConnectable) address = NULL;
  guint16 parsed_port;

  g_return_val_if_fail (connection != NULL, FALSE);

  if (*connection == '\0')
    {
      if (host != NULL)
        *host = NULL;
      if (port != NULL)
        *port = 0;
      return TRUE;
    }
  address = strlen (connection) <= TD_DBUS_MAX_URL_LEN ? g_network_address_parse (connection, 0, NULL) : NULL;
  parsed_port = address ? g_network_address_get_port (G_NETWORK_ADDRESS (address)) : 0;
  if (address == NULL || parsed_port == 0)
    {
      g_set_error_literal (error, TD_DBUS_ERROR, TD_DBUS_ERROR_NO_SUCH_CONNECTION,
                           "Not a connection: use \"\" for the local server or HOST:PORT");
      return FALSE;
    }
  if (host != NULL)
    *host = g_strdup (g_network_address_get_hostname (G_NETWORK_ADDRESS (address)));
  if (port != NULL)
    *port = parsed_port;
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* One check per kind of argument, with the message the caller sees    */

static gboolean
check_channel (const char  *channel,
               GError     **error)
{
  if (*channel == '\0' || strlen (channel) > TD_DBUS_MAX_CHANNEL)
    {
      g_set_error (error, TD_DBUS_ERROR, TD_DBUS_ERROR_INVALID_ARGS,
                   "A channel name must have 1 to %d bytes", TD_DBUS_MAX_CHANNEL);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_pubsub (const char  *connection,
              const char  *channel,
              const char  *message,
              GError     **error)
{
  if (!check_channel (channel, error))
    return FALSE;
  if (message != NULL && strlen (message) > TD_DBUS_MAX_MESSAGE)
    {
      g_set_error (error, TD_DBUS_ERROR, TD_DBUS_ERROR_INVALID_ARGS,
                   "A message may have at most %d bytes", TD_DBUS_MAX_MESSAGE);
      return FALSE;
    }
  return td_dbus_args_parse_connection (connection, NULL, NULL, error);
}

static gboolean
check_chat (const char  *network,
            const char  *target,
            const char  *text,
            GError     **error)
{
  if (*network == '\0' || *target == '\0' || strlen (target) > TD_IRC_MAX_LINE ||
      strlen (network) > TD_IRC_MAX_LINE)
    {
      g_set_error_literal (error, TD_DBUS_ERROR, TD_DBUS_ERROR_INVALID_ARGS,
                           "A network and a target are needed");
      return FALSE;
    }
  if (text != NULL && strlen (text) > TD_DBUS_MAX_CHAT_TEXT)
    {
      g_set_error (error, TD_DBUS_ERROR, TD_DBUS_ERROR_INVALID_ARGS,
                   "A message may have at most %d bytes", TD_DBUS_MAX_CHAT_TEXT);
      return FALSE;
    }
  return TRUE;
}

/* The type of the parameters of @method, from the interface. */
static GVariantType *
method_in_type (GDBusMethodInfo *method)
{
  g_autoptr(GString) signature = g_string_new ("(");

  for (guint i = 0; method->in_args != NULL && method->in_args[i] != NULL; i++)
    g_string_append (signature, method->in_args[i]->signature);
  g_string_append_c (signature, ')');
  return g_variant_type_new (signature->str);
}

gboolean
td_dbus_args_check (const char  *method,
                    GVariant    *parameters,
                    GError     **error)
{
  GDBusMethodInfo *info;
  g_autoptr(GVariantType) type = NULL;

  g_return_val_if_fail (method != NULL, FALSE);
  g_return_val_if_fail (parameters != NULL, FALSE);

  info = g_dbus_interface_info_lookup_method (td_dbus_args_interface_info (), method);
  if (info == NULL)
    {
      g_set_error (error, TD_DBUS_ERROR, TD_DBUS_ERROR_INVALID_ARGS, "No method %s", method);
      return FALSE;
    }
  type = method_in_type (info);
  if (!g_variant_is_of_type (parameters, type))
    {
      g_set_error (error, TD_DBUS_ERROR, TD_DBUS_ERROR_INVALID_ARGS,
                   "%s takes %s, not %s", method, g_variant_type_peek_string (type),
                   g_variant_get_type_string (parameters));
      return FALSE;
    }

  if (g_str_equal (method, "AddFeed"))
    {
      const char *url;

      g_variant_get (parameters, "(&s)", &url);
      if (!td_dbus_args_feed_url_ok (url))
        {
          g_set_error_literal (error, TD_DBUS_ERROR, TD_DBUS_ERROR_INVALID_URL,
                               "Not a feed URL: expected http://, https://, file:// or an absolute path");
          return FALSE;
        }
    }
  else if (g_str_equal (method, "RefreshFeeds"))
    {
      g_autoptr(GVariant) ids = g_variant_get_child_value (parameters, 0);

      if (g_variant_n_children (ids) > TD_DBUS_MAX_IDS)
        {
          g_set_error (error, TD_DBUS_ERROR, TD_DBUS_ERROR_INVALID_ARGS,
                       "At most %d feed ids at once", TD_DBUS_MAX_IDS);
          return FALSE;
        }
    }
  else if (g_str_equal (method, "Publish"))
    {
      const char *connection, *channel, *message;

      g_variant_get (parameters, "(&s&s&s)", &connection, &channel, &message);
      return check_pubsub (connection, channel, message, error);
    }
  else if (g_str_equal (method, "Subscribe") || g_str_equal (method, "Unsubscribe"))
    {
      const char *connection, *channel;

      g_variant_get (parameters, "(&s&s)", &connection, &channel);
      return check_pubsub (connection, channel, NULL, error);
    }
  else if (g_str_equal (method, "SendMessage"))
    {
      const char *network, *target, *text;

      g_variant_get (parameters, "(&s&s&s)", &network, &target, &text);
      return check_chat (network, target, text, error);
    }
  else if (g_str_equal (method, "JoinChannel"))
    {
      const char *network, *channel;

      g_variant_get (parameters, "(&s&s)", &network, &channel);
      return check_chat (network, channel, NULL, error);
    }
  else if (g_str_equal (method, "ShowView"))
    {
      const char *view;

      g_variant_get (parameters, "(&s)", &view);
      if (!td_dbus_args_is_view_name (view))
        {
          g_set_error (error, TD_DBUS_ERROR, TD_DBUS_ERROR_INVALID_ARGS,
                       "No view named “%s”; use chat, pubsub or feeds", view);
          return FALSE;
        }
    }
  /* RemoveFeed and MarkRead take any id (an unknown one is NoSuchFeed or
   * NoSuchItem from the feed manager); the rest take no arguments. */
  return TRUE;
}

gboolean
td_dbus_args_check_call (GDBusMethodInvocation *invocation)
{
  g_autoptr(GError) error = NULL;

  g_return_val_if_fail (G_IS_DBUS_METHOD_INVOCATION (invocation), FALSE);

  if (td_dbus_args_check (g_dbus_method_invocation_get_method_name (invocation),
                          g_dbus_method_invocation_get_parameters (invocation), &error))
    return TRUE;
  g_dbus_method_invocation_return_gerror (invocation, error);
  return FALSE;
}
