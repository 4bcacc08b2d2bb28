/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-cli"

#include "config.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <stdio.h>

#include "app/td-cli.h"

#define TD_DBUS_INTERFACE "io.github.tidings.Tidings1"

typedef struct
{
  GDBusConnection *bus;
  const char      *app_id;
  const char      *object_path;
  gboolean         json;
} Cli;

void
td_cli_add_options (GApplication *app)
{
  static const GOptionEntry entries[] = {
    { "publish", 0, 0, G_OPTION_ARG_STRING, NULL, N_("Publish MESSAGE on CHANNEL of the local broker"), N_("CHANNEL MESSAGE") },
    { "add-feed", 0, 0, G_OPTION_ARG_STRING, NULL, N_("Subscribe to a feed (or a site with a feed)"), N_("URL") },
    { "refresh", 0, 0, G_OPTION_ARG_NONE, NULL, N_("Refresh all feeds"), NULL },
    { "list-feeds", 0, 0, G_OPTION_ARG_NONE, NULL, N_("List feeds with unread and error counts"), NULL },
    { "send", 0, 0, G_OPTION_ARG_STRING, NULL, N_("Send TEXT to TARGET (a channel or nick) on NETWORK"), N_("NETWORK TARGET TEXT") },
    { "unread", 0, 0, G_OPTION_ARG_NONE, NULL, N_("Print unread counts"), NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, NULL, N_("Print answers as JSON"), NULL },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, NULL, NULL, N_("[ARGUMENTS…]") },
    { NULL }
  };

  g_application_add_main_option_entries (app, entries);
}

static gboolean
name_has_owner (Cli *cli)
{
  g_autoptr(GVariant) reply = NULL;
  gboolean has_owner = FALSE;

  reply = g_dbus_connection_call_sync (cli->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "NameHasOwner",
                                       g_variant_new ("(s)", cli->app_id), G_VARIANT_TYPE ("(b)"),
                                       G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
  if (reply != NULL)
    g_variant_get (reply, "(b)", &has_owner);
  return has_owner;
}

/* Makes sure an instance is on the bus: the running one, or one started
 * here as a service (no window; it quits by itself when idle). */
static gboolean
ensure_instance (Cli     *cli,
                 GError **error)
{
  g_autofree char *self_exe = NULL;
  const char *argv[3];
  gint64 deadline;

  if (name_has_owner (cli))
    return TRUE;

  self_exe = g_file_read_link ("/proc/self/exe", error);
  if (self_exe == NULL)
    return FALSE;

  argv[0] = self_exe;
  argv[1] = "--gapplication-service";
  argv[2] = NULL;
  /* The instance outlives this command: it must not hold on to our
   * output, or a script reading it would wait until the instance quits. */
  if (!g_spawn_async (NULL, (char **) argv, NULL,
                      G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL |
                      G_SPAWN_STDIN_FROM_DEV_NULL,
                      NULL, NULL, NULL, error))
    return FALSE;

  deadline = g_get_monotonic_time () + TD_CLI_START_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND;
  while (g_get_monotonic_time () < deadline)
    {
      if (name_has_owner (cli))
        return TRUE;
      g_usleep (20 * G_TIME_SPAN_MILLISECOND);
    }

  g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
               _("Tidings did not start within %d seconds"), TD_CLI_START_TIMEOUT_MS / 1000);
  return FALSE;
}

static GVariant *
call (Cli                *cli,
      const char         *method,
      GVariant           *args,
      const GVariantType *reply_type,
      GError            **error)
{
  GVariant *reply;

  if (!ensure_instance (cli, error))
    return NULL;

  reply = g_dbus_connection_call_sync (cli->bus, cli->app_id, cli->object_path,
                                       TD_DBUS_INTERFACE, method, args, reply_type,
                                       G_DBUS_CALL_FLAGS_NONE, TD_CLI_CALL_TIMEOUT_MS,
                                       NULL, error);
  if (reply == NULL && error != NULL && *error != NULL)
    g_dbus_error_strip_remote_error (*error);
  return reply;
}

static void
print_json (JsonBuilder *builder)
{
  g_autoptr(JsonNode) root = json_builder_get_root (builder);
  g_autofree char *text = json_to_string (root, TRUE);

  g_print ("%s\n", text);
}

static const char * const *
remaining (GVariantDict *options,
           guint        *n)
{
  const char **rest = NULL;

  if (!g_variant_dict_lookup (options, G_OPTION_REMAINING, "^a&s", &rest))
    rest = NULL;
  *n = rest ? g_strv_length ((char **) rest) : 0;
  return rest;
}

static int
fail (GError *error)
{
  g_printerr ("tidings: %s\n", error->message);
  g_error_free (error);
  return 1;
}

static int
cmd_publish (Cli          *cli,
             const char   *channel,
             GVariantDict *options)
{
  g_autoptr(GVariant) reply = NULL;
  g_autofree const char **rest = NULL;
  g_autofree char *message = NULL;
  GError *error = NULL;
  int receivers = 0;
  guint n;

  rest = (const char **) remaining (options, &n);
  if (n == 0)
    {
      g_printerr ("tidings: %s\n", _("--publish needs a channel and a message"));
      return 2;
    }
  message = g_strjoinv (" ", (char **) rest);

  reply = call (cli, "Publish", g_variant_new ("(sss)", "", channel, message),
                G_VARIANT_TYPE ("(i)"), &error);
  if (reply == NULL)
    return fail (error);

  g_variant_get (reply, "(i)", &receivers);
  if (cli->json)
    {
      g_autoptr(JsonBuilder) builder = json_builder_new ();

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "receivers");
      json_builder_add_int_value (builder, receivers);
      json_builder_end_object (builder);
      print_json (builder);
    }
  else
    g_print (g_dngettext (GETTEXT_PACKAGE, "Published to %d receiver\n", "Published to %d receivers\n",
                          receivers), receivers);
  return 0;
}

static int
cmd_add_feed (Cli        *cli,
              const char *url)
{
  g_autoptr(GVariant) reply = NULL;
  GError *error = NULL;
  gint64 id = 0;

  reply = call (cli, "AddFeed", g_variant_new ("(s)", url), G_VARIANT_TYPE ("(x)"), &error);
  if (reply == NULL)
    return fail (error);

  g_variant_get (reply, "(x)", &id);
  if (cli->json)
    {
      g_autoptr(JsonBuilder) builder = json_builder_new ();

      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "feed_id");
      json_builder_add_int_value (builder, id);
      json_builder_end_object (builder);
      print_json (builder);
    }
  else
    {
      g_autofree char *id_text = g_strdup_printf ("%" G_GINT64_FORMAT, id);

      g_print (_("Added feed %s\n"), id_text);
    }
  return 0;
}

static int
cmd_refresh (Cli *cli)
{
  g_autoptr(GVariant) reply = NULL;
  GError *error = NULL;
  const gint64 none[1] = { 0 };

  reply = call (cli, "RefreshFeeds",
                g_variant_new ("(@ax)", g_variant_new_fixed_array (G_VARIANT_TYPE_INT64, none, 0, sizeof (gint64))),
                NULL, &error);
  if (reply == NULL)
    return fail (error);

  if (cli->json)
    g_print ("{ \"refreshing\" : true }\n");
  else
    g_print ("%s\n", _("Refreshing all feeds"));
  return 0;
}

static int
cmd_list_feeds (Cli *cli)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariantIter) iter = NULL;
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  GError *error = NULL;
  const char *url, *title;
  guint unread, errors;
  gint64 id;

  reply = call (cli, "ListFeeds", NULL, G_VARIANT_TYPE ("(a(xssuu))"), &error);
  if (reply == NULL)
    return fail (error);

  json_builder_begin_array (builder);
  g_variant_get (reply, "(a(xssuu))", &iter);
  while (g_variant_iter_next (iter, "(x&s&suu)", &id, &url, &title, &unread, &errors))
    {
      if (cli->json)
        {
          json_builder_begin_object (builder);
          json_builder_set_member_name (builder, "id");
          json_builder_add_int_value (builder, id);
          json_builder_set_member_name (builder, "url");
          json_builder_add_string_value (builder, url);
          json_builder_set_member_name (builder, "title");
          json_builder_add_string_value (builder, title);
          json_builder_set_member_name (builder, "unread");
          json_builder_add_int_value (builder, unread);
          json_builder_set_member_name (builder, "errors");
          json_builder_add_int_value (builder, errors);
          json_builder_end_object (builder);
        }
      else
        g_print ("%" G_GINT64_FORMAT "\t%u\t%u\t%s\t%s\n", id, unread, errors, title, url);
    }
  json_builder_end_array (builder);
  if (cli->json)
    print_json (builder);
  return 0;
}

static int
cmd_send (Cli          *cli,
          const char   *network,
          GVariantDict *options)
{
  g_autoptr(GVariant) reply = NULL;
  g_autofree const char **rest = NULL;
  g_autofree char *text = NULL;
  GError *error = NULL;
  guint n;

  rest = (const char **) remaining (options, &n);
  if (n < 2)
    {
      g_printerr ("tidings: %s\n", _("--send needs a network, a target and a text"));
      return 2;
    }
  text = g_strjoinv (" ", (char **) rest + 1);

  reply = call (cli, "SendMessage", g_variant_new ("(sss)", network, rest[0], text), NULL, &error);
  if (reply == NULL)
    return fail (error);

  if (cli->json)
    g_print ("{ \"sent\" : true }\n");
  return 0;
}

static int
cmd_unread (Cli *cli)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariantIter) iter = NULL;
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  GError *error = NULL;
  const char *name;
  guint count;

  reply = call (cli, "GetUnreadCounts", NULL, G_VARIANT_TYPE ("(a{su})"), &error);
  if (reply == NULL)
    return fail (error);

  json_builder_begin_object (builder);
  g_variant_get (reply, "(a{su})", &iter);
  while (g_variant_iter_next (iter, "{&su}", &name, &count))
    {
      if (cli->json)
        {
          json_builder_set_member_name (builder, name);
          json_builder_add_int_value (builder, count);
        }
      else
        g_print ("%s\t%u\n", name, count);
    }
  json_builder_end_object (builder);
  if (cli->json)
    print_json (builder);
  return 0;
}

/* Runs the command given in @options, if any. Returns the exit status, or
 * -1 when there is no command (the app then starts as usual). */
int
td_cli_run (GApplication *app,
            GVariantDict *options)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) bus = NULL;
  g_autofree char *object_path = NULL;
  const char *arg = NULL;
  Cli cli = { 0 };
  int n_commands = 0;

  g_return_val_if_fail (G_IS_APPLICATION (app), 1);

  n_commands += g_variant_dict_contains (options, "publish");
  n_commands += g_variant_dict_contains (options, "add-feed");
  n_commands += g_variant_dict_contains (options, "refresh");
  n_commands += g_variant_dict_contains (options, "list-feeds");
  n_commands += g_variant_dict_contains (options, "send");
  n_commands += g_variant_dict_contains (options, "unread");
  if (n_commands == 0)
    {
      if (g_variant_dict_contains (options, G_OPTION_REMAINING))
        {
          g_printerr ("tidings: %s\n", _("Unexpected arguments; see --help"));
          return 2;
        }
      return -1;
    }
  if (n_commands > 1)
    {
      g_printerr ("tidings: %s\n", _("Give one command at a time"));
      return 2;
    }

  bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  if (bus == NULL)
    {
      g_printerr ("tidings: %s: %s\n", _("No session bus"), error->message);
      return 1;
    }

  cli.bus = bus;
  cli.app_id = g_application_get_application_id (app);
  object_path = g_strdelimit (g_strconcat ("/", cli.app_id, NULL), ".", '/');
  cli.object_path = object_path;
  cli.json = g_variant_dict_contains (options, "json");

  if (g_variant_dict_lookup (options, "publish", "&s", &arg))
    return cmd_publish (&cli, arg, options);
  if (g_variant_dict_lookup (options, "add-feed", "&s", &arg))
    return cmd_add_feed (&cli, arg);
  if (g_variant_dict_contains (options, "refresh"))
    return cmd_refresh (&cli);
  if (g_variant_dict_contains (options, "list-feeds"))
    return cmd_list_feeds (&cli);
  if (g_variant_dict_lookup (options, "send", "&s", &arg))
    return cmd_send (&cli, arg, options);
  if (g_variant_dict_contains (options, "unread"))
    return cmd_unread (&cli);

  g_assert_not_reached ();
}
