/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Calls of io.github.tidings.Tidings1 from anyone on the session bus.
 * Two ways in, picked by the top bit of the first byte:
 *
 * - clear: the first byte picks a method of the interface (as the XML
 *   lists them), the rest is its arguments serialized in the method's
 *   input signature, read as untrusted GVariant data and brought to
 *   normal form, as GDBus hands them to a handler;
 * - set: the rest is a whole D-Bus message as it comes off the socket.
 *
 * Either way td_dbus_args_check(), which every handler runs first, must
 * answer: with a named error, or with arguments that keep every limit. */
#include <gio/gio.h>
#include <stdint.h>
#include <string.h>

#include "app/td-dbus-args.h"
#include "chat/td-irc-message.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static char *
in_signature (GDBusMethodInfo *method)
{
  GString *signature = g_string_new ("(");

  for (guint i = 0; method->in_args != NULL && method->in_args[i] != NULL; i++)
    g_string_append (signature, method->in_args[i]->signature);
  g_string_append_c (signature, ')');
  return g_string_free (signature, FALSE);
}

static void
check_refusal (const GError *error)
{
  g_autofree char *name = NULL;

  g_assert_nonnull (error);
  g_assert_true (error->domain == TD_DBUS_ERROR);
  g_assert_cmpint (error->code, >=, 0);
  g_assert_cmpint (error->code, <, TD_DBUS_N_ERRORS);
  /* D-Bus error messages are strings: UTF-8 without NUL. */
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
  name = g_dbus_error_encode_gerror (error);
  g_assert_true (g_str_has_prefix (name, "io.github.tidings.Tidings1.Error."));
}

/* What a call that passed may be assumed to hold. */
static void
check_accepted (const char *method,
                GVariant   *parameters)
{
  if (g_str_equal (method, "AddFeed"))
    {
      const char *url;

      g_variant_get (parameters, "(&s)", &url);
      g_assert_cmpuint (strlen (url), >, 0);
      g_assert_cmpuint (strlen (url), <=, TD_DBUS_MAX_URL_LEN);
      g_assert_true (url[0] == '/' || g_ascii_strncasecmp (url, "http", 4) == 0 ||
                     g_ascii_strncasecmp (url, "file:", 5) == 0);
    }
  else if (g_str_equal (method, "RefreshFeeds"))
    {
      g_autoptr(GVariant) ids = g_variant_get_child_value (parameters, 0);
      gsize n = 0;

      g_variant_get_fixed_array (ids, &n, sizeof (gint64));
      g_assert_cmpuint (n, <=, TD_DBUS_MAX_IDS);
    }
  else if (g_str_equal (method, "Publish") || g_str_equal (method, "Subscribe") ||
           g_str_equal (method, "Unsubscribe"))
    {
      g_autofree char *host = NULL;
      const char *connection, *channel;
      guint16 port = 0;

      g_variant_get_child (parameters, 0, "&s", &connection);
      g_variant_get_child (parameters, 1, "&s", &channel);
      g_assert_cmpuint (strlen (channel), >=, 1);
      g_assert_cmpuint (strlen (channel), <=, TD_DBUS_MAX_CHANNEL);
      if (g_str_equal (method, "Publish"))
        {
          const char *message;

          g_variant_get_child (parameters, 2, "&s", &message);
          g_assert_cmpuint (strlen (message), <=, TD_DBUS_MAX_MESSAGE);
        }
      g_assert_true (td_dbus_args_parse_connection (connection, &host, &port, NULL));
      g_assert_true (*connection == '\0' ? host == NULL && port == 0 : host != NULL && port > 0);
    }
  else if (g_str_equal (method, "SendMessage") || g_str_equal (method, "JoinChannel"))
    {
      const char *network, *target;

      g_variant_get_child (parameters, 0, "&s", &network);
      g_variant_get_child (parameters, 1, "&s", &target);
      g_assert_cmpuint (strlen (network), >=, 1);
      g_assert_cmpuint (strlen (network), <=, TD_IRC_MAX_LINE);
      g_assert_cmpuint (strlen (target), >=, 1);
      g_assert_cmpuint (strlen (target), <=, TD_IRC_MAX_LINE);
      if (g_str_equal (method, "SendMessage"))
        {
          const char *text;

          g_variant_get_child (parameters, 2, "&s", &text);
          g_assert_cmpuint (strlen (text), <=, TD_DBUS_MAX_CHAT_TEXT);
        }
    }
  else if (g_str_equal (method, "ShowView"))
    {
      const char *view;

      g_variant_get (parameters, "(&s)", &view);
      g_assert_true (g_strv_contains (td_dbus_args_view_names, view));
    }
}

static void
check_call (const char *method,
            GVariant   *parameters)
{
  g_autoptr(GError) error = NULL;
  gboolean ok = td_dbus_args_check (method, parameters, &error);

  g_assert (ok == (error == NULL));
  if (ok)
    check_accepted (method, parameters);
  else
    check_refusal (error);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  GDBusInterfaceInfo *info = td_dbus_args_interface_info ();
  guint n_methods = 0;

  if (size < 1)
    return 0;
  while (info->methods[n_methods] != NULL)
    n_methods++;

  if (data[0] & 0x80)
    {
      g_autoptr(GDBusMessage) message = NULL;
      GVariant *body;

      message = g_dbus_message_new_from_blob ((guchar *) data + 1, size - 1, G_DBUS_CAPABILITY_FLAGS_NONE, NULL);
      if (message == NULL || g_dbus_message_get_message_type (message) != G_DBUS_MESSAGE_TYPE_METHOD_CALL ||
          g_dbus_message_get_member (message) == NULL)
        return 0;
      body = g_dbus_message_get_body (message);
      if (body == NULL)
        {
          g_autoptr(GVariant) empty = g_variant_ref_sink (g_variant_new ("()"));

          check_call (g_dbus_message_get_member (message), empty);
        }
      else
        check_call (g_dbus_message_get_member (message), body);
    }
  else
    {
      GDBusMethodInfo *method = info->methods[data[0] % n_methods];
      g_autofree char *signature = in_signature (method);
      g_autoptr(GBytes) bytes = g_bytes_new (data + 1, size - 1);
      g_autoptr(GVariant) untrusted = NULL;
      g_autoptr(GVariant) parameters = NULL;

      untrusted = g_variant_ref_sink (g_variant_new_from_bytes (G_VARIANT_TYPE (signature), bytes, FALSE));
      parameters = g_variant_get_normal_form (untrusted);
      check_call (method->name, parameters);
    }
  return 0;
}
