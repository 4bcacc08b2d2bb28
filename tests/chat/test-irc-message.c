/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "chat/td-irc-message.h"

/* ------------------------------------------------------------------ */
/* Good lines                                                          */
/* ------------------------------------------------------------------ */

typedef struct
{
  const char *line;
  const char *tags;     /* "key=value|key2" with values unescaped; NULL = none */
  const char *source;
  const char *command;
  const char *params[TD_IRC_MAX_PARAMS + 1];
} GoodCase;

static const GoodCase good_cases[] = {
  { "PING", NULL, NULL, "PING", { NULL } },
  { "ping :x y", NULL, NULL, "PING", { "x y", NULL } },
  { ":irc.example.com 001 nick :Welcome to IRC", NULL, "irc.example.com", "001", { "nick", "Welcome to IRC", NULL } },
  { "PRIVMSG #chan :", NULL, NULL, "PRIVMSG", { "#chan", "", NULL } },
  { "PRIVMSG #chan ::-)", NULL, NULL, "PRIVMSG", { "#chan", ":-)", NULL } },
  { "USER guest 0 * :Ronnie Reagan", NULL, NULL, "USER", { "guest", "0", "*", "Ronnie Reagan", NULL } },
  { "JOIN   #a,#b    key  ", NULL, NULL, "JOIN", { "#a,#b", "key", NULL } },
  { "@time=2024-01-01T00:00:00.000Z :n!u@h PRIVMSG #c :hi", "time=2024-01-01T00:00:00.000Z", "n!u@h", "PRIVMSG", { "#c", "hi", NULL } },
  { "@a=b\\:c\\sd\\\\e\\r\\n;+f;vendor.example/g= CMD", "a=b;c d\\e\r\n|+f|vendor.example/g", NULL, "CMD", { NULL } },
  { "@a=x\\y\\ CMD", "a=xy", NULL, "CMD", { NULL } },
  { "@a=1;a=2 CMD", "a=2", NULL, "CMD", { NULL } },
  { "@a=1; CMD", "a=1", NULL, "CMD", { NULL } },
  { "CMD 1 2 3 4 5 6 7 8 9 10 11 12 13 14 :15 with spaces", NULL, NULL, "CMD",
    { "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15 with spaces", NULL } },
  { "CMD \xc3\xa9t\xc3\xa9", NULL, NULL, "CMD", { "\xc3\xa9t\xc3\xa9", NULL } },
};

static void
test_parse_good (gconstpointer data)
{
  const GoodCase *tc = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(TdIrcMessage) message = td_irc_message_parse (tc->line, -1, &error);
  guint n = 0;

  g_assert_no_error (error);
  g_assert_nonnull (message);
  g_assert_cmpstr (message->source, ==, tc->source);
  g_assert_cmpstr (message->command, ==, tc->command);
  while (tc->params[n] != NULL)
    n++;
  g_assert_cmpuint (message->n_params, ==, n);
  for (guint i = 0; i < n; i++)
    g_assert_cmpstr (message->params[i], ==, tc->params[i]);
  g_assert_null (message->params[n]);

  if (tc->tags == NULL)
    g_assert_cmpuint (message->n_tags, ==, 0);
  else
    {
      g_auto(GStrv) tags = g_strsplit (tc->tags, "|", -1);

      g_assert_cmpuint (message->n_tags, ==, g_strv_length (tags));
      for (guint i = 0; tags[i] != NULL; i++)
        {
          const char *eq = strchr (tags[i], '=');
          g_autofree char *key = eq ? g_strndup (tags[i], eq - tags[i]) : g_strdup (tags[i]);
          gboolean present = FALSE;
          const char *value = td_irc_message_get_tag (message, key, &present);

          g_assert_true (present);
          g_assert_cmpstr (value, ==, eq && eq[1] ? eq + 1 : NULL);
        }
    }
}

/* ------------------------------------------------------------------ */
/* Bad lines                                                           */
/* ------------------------------------------------------------------ */

typedef struct
{
  const char *name;
  const char *line;
  gssize      len;
  TdIrcError  code;
} BadCase;

static char *long_body;
static char *long_tags;
static char *too_many;

static BadCase bad_cases[] = {
  { "empty", "", 0, TD_IRC_ERROR_EMPTY },
  { "spaces", "   ", -1, TD_IRC_ERROR_EMPTY },
  { "nul", "PRIVMSG #a :x\0y", 15, TD_IRC_ERROR_NUL },
  { "bare-cr", "PRIVMSG #a :x\ry", -1, TD_IRC_ERROR_BARE_CR },
  { "bare-lf", "PRIVMSG #a :x\ny", -1, TD_IRC_ERROR_BARE_CR },
  { "tags-only", "@a=b", -1, TD_IRC_ERROR_BAD_COMMAND },
  { "tags-then-nothing", "@a=b ", -1, TD_IRC_ERROR_EMPTY },
  { "bad-tag-key", "@a_b=1 CMD", -1, TD_IRC_ERROR_BAD_TAG },
  { "empty-tag-key", "@=1 CMD", -1, TD_IRC_ERROR_BAD_TAG },
  { "empty-vendor", "@/x=1 CMD", -1, TD_IRC_ERROR_BAD_TAG },
  { "empty-source", ": CMD", -1, TD_IRC_ERROR_BAD_SOURCE },
  { "source-only", ":nick!u@h", -1, TD_IRC_ERROR_BAD_COMMAND },
  { "bad-command", "PRIV-MSG x", -1, TD_IRC_ERROR_BAD_COMMAND },
  { "numeric-4", "0011 x", -1, TD_IRC_ERROR_BAD_COMMAND },
  { "long-body", NULL, -1, TD_IRC_ERROR_LINE_TOO_LONG },
  { "long-tags", NULL, -1, TD_IRC_ERROR_TAGS_TOO_LONG },
  { "too-many-params", NULL, -1, TD_IRC_ERROR_TOO_MANY_PARAMS },
};

static void
test_parse_bad (gconstpointer data)
{
  const BadCase *tc = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(TdIrcMessage) message = td_irc_message_parse (tc->line, tc->len, &error);

  g_assert_null (message);
  g_assert_error (error, TD_IRC_ERROR, (gint) tc->code);
}

/* The exact limits: 510 bytes of message and 8191 of tags are fine. */
static void
test_parse_limits (void)
{
  g_autoptr(GString) line = g_string_new ("PRIVMSG #a :");
  g_autoptr(TdIrcMessage) ok = NULL;
  g_autoptr(TdIrcMessage) tags_ok = NULL;
  g_autoptr(GString) tags = g_string_new ("@a=");

  while (line->len < TD_IRC_MAX_LINE_CONTENT)
    g_string_append_c (line, 'x');
  ok = td_irc_message_parse (line->str, -1, NULL);
  g_assert_nonnull (ok);
  g_assert_cmpuint (strlen (ok->params[1]), ==, TD_IRC_MAX_LINE_CONTENT - 12);

  while (tags->len < TD_IRC_MAX_TAGS - 1)
    g_string_append_c (tags, 'v');
  g_string_append (tags, " PING");
  tags_ok = td_irc_message_parse (tags->str, -1, NULL);
  g_assert_nonnull (tags_ok);
}

/* Random bytes never crash the parser. */
static void
test_parse_fuzz (void)
{
  GRand *rand = g_rand_new_with_seed (42);
  const char alphabet[] = "@:; =\\#abcAB01+/ \r\n\0";

  for (guint i = 0; i < 20000; i++)
    {
      char buf[700];
      gsize len = g_rand_int_range (rand, 0, sizeof buf);
      TdIrcMessage *message;

      for (gsize j = 0; j < len; j++)
        buf[j] = g_rand_boolean (rand) ? alphabet[g_rand_int_range (rand, 0, sizeof alphabet)]
                                       : (char) g_rand_int_range (rand, 0, 256);
      message = td_irc_message_parse (buf, len, NULL);
      if (message != NULL)
        {
          g_autofree char *wire = td_irc_message_serialize (message, NULL);

          /* What parses and serializes must parse again the same way. */
          if (wire != NULL)
            {
              g_autoptr(TdIrcMessage) again = td_irc_message_parse (wire, strlen (wire) - 2, NULL);

              g_assert_nonnull (again);
              g_assert_cmpstr (again->command, ==, message->command);
              g_assert_cmpuint (again->n_params, ==, message->n_params);
            }
          td_irc_message_free (message);
        }
    }
  g_rand_free (rand);
}

/* ------------------------------------------------------------------ */
/* Serializing                                                         */
/* ------------------------------------------------------------------ */

static void
test_serialize (void)
{
  g_autoptr(TdIrcMessage) message = td_irc_message_new ("n!u@h", "PRIVMSG", "#chan", "hello world", NULL);
  g_autoptr(TdIrcMessage) plain = td_irc_message_new (NULL, "JOIN", "#a", NULL);
  g_autoptr(TdIrcMessage) empty = td_irc_message_new (NULL, "PRIVMSG", "#a", "", NULL);
  g_autoptr(TdIrcMessage) colon = td_irc_message_new (NULL, "PRIVMSG", "#a", ":)", NULL);
  g_autoptr(TdIrcMessage) bad_middle = td_irc_message_new (NULL, "PRIVMSG", "a b", "x", NULL);
  g_autoptr(TdIrcMessage) bad_crlf = td_irc_message_new (NULL, "PRIVMSG", "#a", "x\r\nQUIT", NULL);
  g_autoptr(TdIrcMessage) round = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *wire = NULL;
  g_autofree char *wire2 = NULL;
  g_autofree char *wire3 = NULL;
  g_autofree char *wire4 = NULL;
  char *bad;

  td_irc_message_set_tag (message, "time", "2024-01-01T00:00:00.000Z");
  td_irc_message_set_tag (message, "+example.com/x", "a;b c\\d\r\n");
  td_irc_message_set_tag (message, "flag", NULL);
  wire = td_irc_message_serialize (message, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (wire, ==, "@time=2024-01-01T00:00:00.000Z;+example.com/x=a\\:b\\sc\\\\d\\r\\n;flag "
                             ":n!u@h PRIVMSG #chan :hello world\r\n");

  round = td_irc_message_parse (wire, strlen (wire) - 2, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (td_irc_message_get_tag (round, "+example.com/x", NULL), ==, "a;b c\\d\r\n");

  wire2 = td_irc_message_serialize (plain, NULL);
  g_assert_cmpstr (wire2, ==, "JOIN #a\r\n");
  wire3 = td_irc_message_serialize (empty, NULL);
  g_assert_cmpstr (wire3, ==, "PRIVMSG #a :\r\n");
  wire4 = td_irc_message_serialize (colon, NULL);
  g_assert_cmpstr (wire4, ==, "PRIVMSG #a ::)\r\n");

  bad = td_irc_message_serialize (bad_middle, &error);
  g_assert_null (bad);
  g_assert_error (error, TD_IRC_ERROR, TD_IRC_ERROR_BAD_PARAM);
  g_clear_error (&error);
  bad = td_irc_message_serialize (bad_crlf, &error);
  g_assert_null (bad);
  g_assert_error (error, TD_IRC_ERROR, TD_IRC_ERROR_BAD_PARAM);
}

/* ------------------------------------------------------------------ */
/* Names and time                                                      */
/* ------------------------------------------------------------------ */

static void
test_casefold (void)
{
  g_autofree char *folded = td_irc_casefold ("Nick[A]\\~");

  g_assert_cmpstr (folded, ==, "nick{a}|^");
  g_assert_true (td_irc_equal ("FOO[]", "foo{}"));
  g_assert_false (td_irc_equal ("foo", "foo_"));
  g_assert_cmpuint (td_irc_casefold_hash ("A\\B"), ==, td_irc_casefold_hash ("a|b"));
}

static void
test_names (void)
{
  g_assert_true (td_irc_nick_is_valid ("alice", 30));
  g_assert_true (td_irc_nick_is_valid ("[bot]-2", 30));
  g_assert_false (td_irc_nick_is_valid ("2alice", 30));
  g_assert_false (td_irc_nick_is_valid ("al ice", 30));
  g_assert_false (td_irc_nick_is_valid ("", 30));
  g_assert_false (td_irc_nick_is_valid ("abcdef", 5));
  g_assert_false (td_irc_nick_is_valid ("#chan", 30));
  g_assert_true (td_irc_channel_is_valid ("#tidings", 64));
  g_assert_false (td_irc_channel_is_valid ("#", 64));
  g_assert_false (td_irc_channel_is_valid ("#a,b", 64));
  g_assert_false (td_irc_channel_is_valid ("#a\x07", 64));
  g_assert_false (td_irc_channel_is_valid ("&local", 64));
}

static void
test_time (void)
{
  gint64 t = 0;
  g_autofree char *text = td_irc_format_time (G_GINT64_CONSTANT (1700000000123000));

  g_assert_cmpstr (text, ==, "2023-11-14T22:13:20.123Z");
  g_assert_true (td_irc_parse_time (text, &t));
  g_assert_cmpint (t, ==, G_GINT64_CONSTANT (1700000000123000));
  g_assert_false (td_irc_parse_time ("yesterday", &t));
  g_assert_false (td_irc_parse_time ("2023-11-14T22:13:20", &t));
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GString) body = g_string_new ("PRIVMSG #a :");
  g_autoptr(GString) tags = g_string_new ("@a=");

  g_test_init (&argc, &argv, NULL);

  while (body->len <= TD_IRC_MAX_LINE_CONTENT)
    g_string_append_c (body, 'x');
  long_body = body->str;
  while (tags->len < TD_IRC_MAX_TAGS)
    g_string_append_c (tags, 'v');
  g_string_append (tags, " PING");
  long_tags = tags->str;
  too_many = (char *) "CMD 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16";
  for (guint i = 0; i < G_N_ELEMENTS (bad_cases); i++)
    {
      if (g_str_equal (bad_cases[i].name, "long-body"))
        bad_cases[i].line = long_body;
      else if (g_str_equal (bad_cases[i].name, "long-tags"))
        bad_cases[i].line = long_tags;
      else if (g_str_equal (bad_cases[i].name, "too-many-params"))
        bad_cases[i].line = too_many;
    }

  for (guint i = 0; i < G_N_ELEMENTS (good_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/td/irc-message/parse/good/%u", i);

      g_test_add_data_func (path, &good_cases[i], test_parse_good);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/td/irc-message/parse/bad/%s", bad_cases[i].name);

      g_test_add_data_func (path, &bad_cases[i], test_parse_bad);
    }
  g_test_add_func ("/td/irc-message/parse/limits", test_parse_limits);
  g_test_add_func ("/td/irc-message/parse/fuzz", test_parse_fuzz);
  g_test_add_func ("/td/irc-message/serialize", test_serialize);
  g_test_add_func ("/td/irc-message/casefold", test_casefold);
  g_test_add_func ("/td/irc-message/names", test_names);
  g_test_add_func ("/td/irc-message/time", test_time);

  return g_test_run ();
}
