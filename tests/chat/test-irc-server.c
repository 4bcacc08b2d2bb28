/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "chat/td-irc-accounts.h"
#include "core/td-task-loop.h"
#include "td-irc-test.h"

/*
 * The IRC server over real sockets: the server runs on a thread of its
 * own (its own GMainContext, 127.0.0.1 port 0) and each test drives plain
 * blocking clients against it.
 */

#define ALICE_PASSWORD "correct horse battery"

static char *alice_hash;   /* computed once: argon2id is slow on purpose */

static TdIrcServerConfig *
test_config (void)
{
  TdIrcServerConfig *config = td_irc_server_config_new ();

  /* The tests send commands faster than a person; flood control has a
   * test of its own. */
  config->flood_control = FALSE;
  return config;
}

static TdIrcTestServer *
start_server (TdIrcServerConfig *config)
{
  g_autoptr(TdIrcServerConfig) owned = config ? config : test_config ();
  TdIrcServer *server = td_irc_server_new (owned);

  td_irc_accounts_add (td_irc_server_get_accounts (server), "alice", alice_hash, FALSE);
  return td_irc_test_server_start (server);
}

#define EXPECT(c, needle) g_free (td_irc_test_expect ((c), (needle)))

/* ------------------------------------------------------------------ */
/* Registration                                                        */
/* ------------------------------------------------------------------ */

static void
test_registration (void)
{
  TdIrcTestServer *ts = start_server (NULL);
  g_autoptr(TdIrcTestClient) c = td_irc_test_client_new (ts->port, "c");
  g_autofree char *welcome = NULL;
  g_autoptr(GString) isupport = g_string_new (NULL);
  char *line;

  td_irc_test_send (c, "PASS ignored");
  td_irc_test_send (c, "NICK bob");
  td_irc_test_send (c, "USER bob 0 * :Bob Builder");
  welcome = td_irc_test_expect (c, " 001 ");
  g_assert_nonnull (strstr (welcome, ":tidings.local 001 bob :Welcome to the Tidings IRC Network bob!~bob@127.0.0.1"));
  EXPECT (c, " 002 bob ");
  EXPECT (c, " 003 bob ");
  EXPECT (c, " 004 bob tidings.local ");
  while ((line = td_irc_test_read_line (c)) != NULL)
    {
      if (strstr (line, " 005 ") != NULL)
        g_string_append (isupport, line);
      if (strstr (line, " 376 ") != NULL)
        {
          g_free (line);
          break;
        }
      g_free (line);
    }
  for (const char *token = "CASEMAPPING=rfc1459|CHANTYPES=#|PREFIX=(ov)@+|NETWORK=Tidings|NICKLEN=30|"
                           "CHANNELLEN=64|TOPICLEN=390|MODES=4|CHATHISTORY=1000|CHANLIMIT=#:50|"
                           "CHANMODES=b,k,l,imnt|MSGREFTYPES=msgid,timestamp";
       token != NULL;)
    {
      const char *bar = strchr (token, '|');
      g_autofree char *t = bar ? g_strndup (token, bar - token) : g_strdup (token);

      g_assert_nonnull (strstr (isupport->str, t));
      token = bar ? bar + 1 : NULL;
    }

  /* Re-registering is refused. */
  td_irc_test_send (c, "USER x 0 * :x");
  EXPECT (c, " 462 bob :You may not reregister");
  td_irc_test_send (c, "PASS x");
  EXPECT (c, " 462 ");
  td_irc_test_server_free (ts);
}

static void
test_registration_errors (void)
{
  TdIrcTestServer *ts = start_server (NULL);
  g_autoptr(TdIrcTestClient) a = td_irc_test_connect (ts->port, "taken", NULL);
  g_autoptr(TdIrcTestClient) c = td_irc_test_client_new (ts->port, "c");

  td_irc_test_send (c, "JOIN #a");
  EXPECT (c, " 451 * :You have not registered");
  td_irc_test_send (c, "NICK");
  EXPECT (c, " 431 ");
  td_irc_test_send (c, "NICK 9lives");
  EXPECT (c, " 432 * 9lives :Erroneous nickname");
  td_irc_test_send (c, "NICK averyveryveryveryverylongnickname123");
  EXPECT (c, " 432 ");
  td_irc_test_send (c, "NICK TAKEN");
  EXPECT (c, " 433 * TAKEN :Nickname is already in use");
  td_irc_test_send (c, "USER onlyone");
  EXPECT (c, " 461 * USER :Not enough parameters");
  td_irc_test_send (c, "NICK free");
  td_irc_test_send (c, "USER free 0 * :Free");
  EXPECT (c, " 001 free ");
  td_irc_test_send (c, "FROBNICATE now");
  EXPECT (c, " 421 free FROBNICATE :Unknown command");
  td_irc_test_send (c, "JOIN");
  EXPECT (c, " 461 free JOIN ");
  td_irc_test_send (c, "NICK taken");
  EXPECT (c, " 433 free taken ");
  td_irc_test_server_free (ts);
}

static void
test_server_password (void)
{
  TdIrcServerConfig *config = test_config ();
  TdIrcTestServer *ts;
  g_autoptr(TdIrcTestClient) bad = NULL;
  g_autoptr(TdIrcTestClient) good = NULL;
  g_autofree char *error = NULL;

  config->password = g_strdup ("sesame");
  ts = start_server (config);
  bad = td_irc_test_client_new (ts->port, "bad");
  td_irc_test_send (bad, "PASS wrong");
  td_irc_test_send (bad, "NICK bad");
  td_irc_test_send (bad, "USER bad 0 * :x");
  EXPECT (bad, " 464 bad :Password incorrect");
  error = td_irc_test_expect_closed (bad);
  g_assert_nonnull (error);

  good = td_irc_test_client_new (ts->port, "good");
  td_irc_test_send (good, "PASS sesame");
  td_irc_test_send (good, "NICK good");
  td_irc_test_send (good, "USER good 0 * :x");
  EXPECT (good, " 001 good ");
  td_irc_test_server_free (ts);
}

/* ------------------------------------------------------------------ */
/* PING, QUIT, dead clients                                            */
/* ------------------------------------------------------------------ */

static void
test_ping_pong (void)
{
  TdIrcServerConfig *config = test_config ();
  TdIrcTestServer *ts;
  g_autoptr(TdIrcTestClient) a = NULL;
  g_autoptr(TdIrcTestClient) idle = NULL;
  g_autofree char *quit = NULL;
  g_autofree char *error = NULL;

  config->ping_interval_s = 1;
  config->ping_timeout_s = 1;
  ts = start_server (config);
  a = td_irc_test_connect (ts->port, "pinger", NULL);
  idle = td_irc_test_connect (ts->port, "idle", NULL);
  td_irc_test_send (a, "JOIN #p");
  td_irc_test_send (idle, "JOIN #p");
  EXPECT (idle, " 366 ");

  td_irc_test_send (a, "PING :token 1");
  EXPECT (a, ":tidings.local PONG tidings.local :token 1");
  td_irc_test_send (a, "PING");
  EXPECT (a, " 409 ");

  /* The server pings an idle client; one that answers stays... */
  EXPECT (a, "PING :tidings.local");
  td_irc_test_send (a, "PONG :tidings.local");
  /* ...one that does not is dropped, and others see why. */
  EXPECT (idle, "PING :tidings.local");
  quit = td_irc_test_expect (a, " QUIT ");
  g_assert_nonnull (strstr (quit, ":idle!~idle@127.0.0.1 QUIT :Ping timeout: 1 seconds"));
  error = td_irc_test_expect_closed (idle);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error, "Ping timeout"));
  td_irc_test_server_free (ts);
}

static void
test_quit (void)
{
  TdIrcTestServer *ts = start_server (NULL);
  g_autoptr(TdIrcTestClient) early = td_irc_test_client_new (ts->port, "early");
  g_autoptr(TdIrcTestClient) a = td_irc_test_connect (ts->port, "stay", NULL);
  g_autoptr(TdIrcTestClient) b = td_irc_test_connect (ts->port, "leave", NULL);
  g_autofree char *error = NULL;
  g_autofree char *error2 = NULL;
  g_autofree char *quit = NULL;

  /* QUIT before registration: ERROR, then close. */
  td_irc_test_send (early, "QUIT :bye");
  error = td_irc_test_expect_closed (early);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error, "Quit: bye"));

  td_irc_test_send (a, "JOIN #q");
  EXPECT (a, " 366 ");
  td_irc_test_send (b, "JOIN #q");
  EXPECT (b, " 366 ");
  td_irc_test_send (b, "QUIT :see you");
  quit = td_irc_test_expect (a, " QUIT ");
  g_assert_nonnull (strstr (quit, ":leave!~leave@127.0.0.1 QUIT :Quit: see you"));
  error2 = td_irc_test_expect_closed (b);
  g_assert_nonnull (strstr (error2, "ERROR :Closing Link"));
  td_irc_test_server_free (ts);
}

static void
test_dead_client (void)
{
  TdIrcTestServer *ts = start_server (NULL);
  g_autoptr(TdIrcTestClient) a = td_irc_test_connect (ts->port, "witness", NULL);
  TdIrcTestClient *b = td_irc_test_connect (ts->port, "victim", NULL);
  g_autofree char *quit = NULL;

  td_irc_test_send (a, "JOIN #d");
  EXPECT (a, " 366 ");
  td_irc_test_send (b, "JOIN #d");
  EXPECT (b, " 366 ");
  EXPECT (a, "JOIN #d");
  /* Gone without QUIT. */
  td_irc_test_client_free (b);
  quit = td_irc_test_expect (a, " QUIT ");
  g_assert_nonnull (strstr (quit, ":victim!~victim@127.0.0.1 QUIT :"));
  /* The nick is free again. */
  td_irc_test_send (a, "NICK victim");
  EXPECT (a, "NICK :victim");
  td_irc_test_server_free (ts);
}

/* ------------------------------------------------------------------ */
/* Channels                                                            */
/* ------------------------------------------------------------------ */

static void
test_join_part_privmsg (void)
{
  TdIrcTestServer *ts = start_server (NULL);
  g_autoptr(TdIrcTestClient) a = td_irc_test_connect (ts->port, "anna", NULL);
  g_autoptr(TdIrcTestClient) b = td_irc_test_connect (ts->port, "ben", NULL);
  g_autofree char *names = NULL;
  g_autofree char *names2 = NULL;
  g_autofree char *msg = NULL;
  g_autofree char *notice = NULL;
  g_autofree char *dm = NULL;
  g_autofree char *part = NULL;

  td_irc_test_send (a, "JOIN #one,#two");
  EXPECT (a, ":anna!~anna@127.0.0.1 JOIN #one");
  names = td_irc_test_expect (a, " 353 ");
  g_assert_nonnull (strstr (names, " 353 anna = #one :@anna"));
  EXPECT (a, " 366 anna #one :End of /NAMES list.");
  EXPECT (a, " 366 anna #two ");

  td_irc_test_send (b, "JOIN #ONE");
  names2 = td_irc_test_expect (b, " 353 ");
  g_assert_nonnull (strstr (names2, "@anna"));
  g_assert_nonnull (strstr (names2, "ben"));
  g_assert_null (strstr (names2, "@ben"));
  EXPECT (a, ":ben!~ben@127.0.0.1 JOIN #one");

  td_irc_test_send (b, "PRIVMSG #one :hello there");
  msg = td_irc_test_expect (a, "PRIVMSG");
  g_assert_cmpstr (msg, ==, ":ben!~ben@127.0.0.1 PRIVMSG #one :hello there");
  td_irc_test_send (b, "NOTICE #one :a notice");
  notice = td_irc_test_expect (a, "NOTICE");
  g_assert_cmpstr (notice, ==, ":ben!~ben@127.0.0.1 NOTICE #one :a notice");
  td_irc_test_send (a, "PRIVMSG Ben :private");
  dm = td_irc_test_expect (b, "PRIVMSG");
  g_assert_cmpstr (dm, ==, ":anna!~anna@127.0.0.1 PRIVMSG ben :private");

  td_irc_test_send (b, "PRIVMSG nobody :x");
  EXPECT (b, " 401 ben nobody :No such nick/channel");
  td_irc_test_send (b, "PRIVMSG #nochan :x");
  EXPECT (b, " 401 ben #nochan ");
  td_irc_test_send (b, "PRIVMSG #two :outside");
  EXPECT (b, " 404 ben #two :Cannot send to channel");
  td_irc_test_send (b, "PRIVMSG");
  EXPECT (b, " 411 ");
  td_irc_test_send (b, "PRIVMSG #one");
  EXPECT (b, " 412 ");
  td_irc_test_send (b, "PRIVMSG a,b,c,d,e :x");
  EXPECT (b, " 407 ");
  /* NOTICE never gets an error back. */
  td_irc_test_send (b, "NOTICE nobody :x");
  td_irc_test_send (b, "PART #two");
  EXPECT (b, " 442 ben #two :You're not on that channel");
  td_irc_test_send (b, "PART #zzz");
  EXPECT (b, " 403 ben #zzz ");
  td_irc_test_send (b, "JOIN bad");
  EXPECT (b, " 403 ben bad ");

  td_irc_test_send (b, "PART #one :bye now");
  part = td_irc_test_expect (a, " PART ");
  g_assert_cmpstr (part, ==, ":ben!~ben@127.0.0.1 PART #one :bye now");

  /* JOIN 0 leaves everything. */
  td_irc_test_send (a, "JOIN 0");
  EXPECT (a, "PART #");
  EXPECT (a, "PART #");
  td_irc_test_send (a, "NAMES #one");
  EXPECT (a, " 366 anna #one ");
  td_irc_test_server_free (ts);
}

static void
test_line_length (void)
{
  TdIrcTestServer *ts = start_server (NULL);
  g_autoptr(TdIrcTestClient) a = td_irc_test_connect (ts->port, "a", NULL);
  g_autoptr(TdIrcTestClient) b = td_irc_test_connect (ts->port, "b", NULL);
  g_autoptr(GString) text = g_string_new (NULL);
  g_autofree char *got = NULL;

  td_irc_test_send (a, "JOIN #len");
  td_irc_test_send (b, "JOIN #len");
  EXPECT (b, " 366 ");
  /* A message that fits the client's 510 bytes but not the relayed line
   * (the prefix is longer) is cut to fit. */
  while (text->len < 510 - strlen ("PRIVMSG #len :"))
    g_string_append_c (text, 'x');
  td_irc_test_send (a, "PRIVMSG #len :%s", text->str);
  got = td_irc_test_expect (b, "PRIVMSG");
  g_assert_cmpuint (strlen (got), <=, 510);
  /* Over 510: ERR_INPUTTOOLONG, and the connection stays. */
  g_string_append (text, "yyyyyyyy");
  td_irc_test_send (a, "PRIVMSG #len :%s", text->str);
  EXPECT (a, " 417 a :Input line was too long");
  td_irc_test_send (a, "PING :still");
  EXPECT (a, "PONG");
  td_irc_test_server_free (ts);
}

static void
test_malformed (void)
{
  TdIrcTestServer *ts = start_server (NULL);
  g_autoptr(TdIrcTestClient) a = td_irc_test_connect (ts->port, "a", NULL);
  g_autoptr(TdIrcTestClient) b = td_irc_test_connect (ts->port, "b", NULL);
  g_autoptr(TdIrcTestClient) c = td_irc_test_connect (ts->port, "c", NULL);
  g_autofree char *error = NULL;
  g_autofree char *error2 = NULL;
  g_autofree char *error3 = NULL;
  char *huge;

  td_irc_test_send_len (a, "PRIVMSG #x :a\0b\r\n", 17);
  error = td_irc_test_expect_closed (a);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error, "Malformed message"));

  td_irc_test_send (b, "PRIVMSG #x :bare\rcr");
  error2 = td_irc_test_expect_closed (b);
  g_assert_nonnull (strstr (error2, "Malformed"));

  /* No newline within the longest legal line: dropped. */
  huge = g_malloc (TD_IRC_MAX_WIRE_LINE + 100);
  memset (huge, 'x', TD_IRC_MAX_WIRE_LINE + 100);
  td_irc_test_send_len (c, huge, TD_IRC_MAX_WIRE_LINE + 100);
  g_free (huge);
  error3 = td_irc_test_expect_closed (c);
  g_assert_nonnull (strstr (error3, "Input line too long"));
  td_irc_test_server_free (ts);
}

static void
test_topic (void)
{
  TdIrcTestServer *ts = start_server (NULL);
  g_autoptr(TdIrcTestClient) op = td_irc_test_connect (ts->port, "op", NULL);
  g_autoptr(TdIrcTestClient) user = td_irc_test_connect (ts->port, "user", NULL);
  g_autofree char *topic = NULL;
  g_autofree char *who = NULL;

  td_irc_test_send (op, "JOIN #t");
  EXPECT (op, " 366 ");
  td_irc_test_send (op, "TOPIC #t");
  EXPECT (op, " 331 op #t :No topic is set");
  td_irc_test_send (user, "TOPIC #t :sneaky");
  EXPECT (user, " 442 ");
  td_irc_test_send (user, "JOIN #t");
  EXPECT (user, " 366 ");
  td_irc_test_send (user, "TOPIC #t :sneaky");
  EXPECT (user, " 482 user #t :You're not channel operator");
  td_irc_test_send (op, "TOPIC #t :Release day");
  topic = td_irc_test_expect (user, " TOPIC ");
  g_assert_cmpstr (topic, ==, ":op!~op@127.0.0.1 TOPIC #t :Release day");
  td_irc_test_send (user, "TOPIC #t");
  EXPECT (user, " 332 user #t :Release day");
  who = td_irc_test_expect (user, " 333 ");
  g_assert_nonnull (strstr (who, "op!~op@127.0.0.1"));
  td_irc_test_send (user, "TOPIC #none");
  EXPECT (user, " 403 ");
  /* -t lets anyone set it. */
  td_irc_test_send (op, "MODE #t -t");
  EXPECT (user, "MODE #t -t");
  td_irc_test_send (user, "TOPIC #t :mine now");
  EXPECT (op, "TOPIC #t :mine now");
  td_irc_test_server_free (ts);
}

static void
test_channel_modes (void)
{
  TdIrcTestServer *ts = start_server (NULL);
  g_autoptr(TdIrcTestClient) op = td_irc_test_connect (ts->port, "op", NULL);
  g_autoptr(TdIrcTestClient) u = td_irc_test_connect (ts->port, "u", NULL);
  g_autoptr(TdIrcTestClient) v = td_irc_test_connect (ts->port, "v", NULL);
  g_autofree char *modes = NULL;

  td_irc_test_send (op, "JOIN #m");
  EXPECT (op, " 366 ");
  td_irc_test_send (op, "MODE #m");
  modes = td_irc_test_expect (op, " 324 ");
  g_assert_nonnull (strstr (modes, "#m +nt"));
  EXPECT (op, " 329 op #m ");

  /* +k */
  td_irc_test_send (op, "MODE #m +k secret");
  EXPECT (op, "MODE #m +k secret");
  td_irc_test_send (u, "JOIN #m");
  EXPECT (u, " 475 u #m :Cannot join channel (+k)");
  td_irc_test_send (u, "JOIN #m wrong");
  EXPECT (u, " 475 ");
  td_irc_test_send (u, "JOIN #m,#other secret");
  EXPECT (u, "JOIN #m");
  EXPECT (u, " 366 u #m ");
  EXPECT (u, " 366 u #other ");
  td_irc_test_send (u, "PART #m");
  EXPECT (u, "PART #m");
  td_irc_test_send (op, "MODE #m -k *");
  EXPECT (op, "MODE #m -k");

  /* +l */
  td_irc_test_send (op, "MODE #m +l 1");
  EXPECT (op, "MODE #m +l 1");
  td_irc_test_send (u, "JOIN #m");
  EXPECT (u, " 471 u #m :Cannot join channel (+l)");
  td_irc_test_send (op, "MODE #m -l");
  EXPECT (op, "MODE #m -l");

  /* +i and INVITE */
  td_irc_test_send (op, "MODE #m +i");
  EXPECT (op, "MODE #m +i");
  td_irc_test_send (u, "JOIN #m");
  EXPECT (u, " 473 u #m :Cannot join channel (+i)");
  td_irc_test_send (op, "INVITE u #m");
  EXPECT (op, " 341 op u #m");
  EXPECT (u, ":op!~op@127.0.0.1 INVITE u :#m");
  td_irc_test_send (u, "JOIN #m");
  EXPECT (u, " 366 u #m ");
  td_irc_test_send (op, "INVITE u #m");
  EXPECT (op, " 443 op u #m :is already on channel");
  td_irc_test_send (u, "INVITE v #m");
  EXPECT (u, " 482 ");
  td_irc_test_send (v, "INVITE u #m");
  EXPECT (v, " 442 ");
  td_irc_test_send (op, "INVITE ghost #m");
  EXPECT (op, " 401 ");
  td_irc_test_send (op, "MODE #m -i");
  EXPECT (op, "MODE #m -i");

  /* +m and +v */
  td_irc_test_send (op, "MODE #m +m");
  EXPECT (u, "MODE #m +m");
  td_irc_test_send (u, "PRIVMSG #m :can I talk");
  EXPECT (u, " 404 u #m ");
  td_irc_test_send (op, "MODE #m +v u");
  EXPECT (u, "MODE #m +v u");
  td_irc_test_send (u, "PRIVMSG #m :now I can");
  EXPECT (op, "PRIVMSG #m :now I can");

  /* +b */
  td_irc_test_send (op, "MODE #m +b v!*@*");
  EXPECT (op, "MODE #m +b v!*@*");
  td_irc_test_send (v, "JOIN #m");
  EXPECT (v, " 474 v #m :Cannot join channel (+b)");
  td_irc_test_send (op, "MODE #m b");
  EXPECT (op, " 367 op #m v!*@*");
  EXPECT (op, " 368 op #m ");
  td_irc_test_send (op, "MODE #m -b v!*@*");
  EXPECT (op, "MODE #m -b v!*@*");
  td_irc_test_send (v, "JOIN #m");
  EXPECT (v, " 366 v #m ");

  /* +o, errors */
  td_irc_test_send (v, "MODE #m +m");
  EXPECT (v, " 482 v #m :You're not channel operator");
  td_irc_test_send (op, "MODE #m +o v");
  EXPECT (v, "MODE #m +o v");
  td_irc_test_send (v, "MODE #m -m");
  EXPECT (op, "MODE #m -m");
  td_irc_test_send (op, "MODE #m +z");
  EXPECT (op, " 472 op z :is unknown mode char to me");
  td_irc_test_send (op, "MODE #m +o nobody");
  EXPECT (op, " 401 ");
  td_irc_test_send (op, "MODE #nochan +m");
  EXPECT (op, " 403 ");

  /* User modes */
  td_irc_test_send (u, "MODE u +i");
  EXPECT (u, "MODE u +i");
  td_irc_test_send (u, "MODE u");
  EXPECT (u, " 221 u +i");
  td_irc_test_send (u, "MODE u +x");
  EXPECT (u, " 501 ");
  td_irc_test_send (u, "MODE op +i");
  EXPECT (u, " 502 ");
  td_irc_test_server_free (ts);
}

static void
test_kick (void)
{
  TdIrcTestServer *ts = start_server (NULL);
  g_autoptr(TdIrcTestClient) op = td_irc_test_connect (ts->port, "op", NULL);
  g_autoptr(TdIrcTestClient) u = td_irc_test_connect (ts->port, "u", NULL);
  g_autoptr(TdIrcTestClient) w = td_irc_test_connect (ts->port, "w", NULL);
  g_autofree char *kick = NULL;

  td_irc_test_send (op, "JOIN #k");
  EXPECT (op, " 366 ");
  td_irc_test_send (u, "JOIN #k");
  EXPECT (u, " 366 ");
  td_irc_test_send (u, "KICK #k op");
  EXPECT (u, " 482 u #k ");
  td_irc_test_send (w, "KICK #k u");
  EXPECT (w, " 442 ");
  td_irc_test_send (op, "KICK #k w");
  EXPECT (op, " 441 op w #k :They aren't on that channel");
  td_irc_test_send (op, "KICK #nope u");
  EXPECT (op, " 403 ");
  td_irc_test_send (op, "KICK #k u :behave");
  kick = td_irc_test_expect (u, " KICK ");
  g_assert_cmpstr (kick, ==, ":op!~op@127.0.0.1 KICK #k u :behave");
  td_irc_test_send (u, "PRIVMSG #k :back?");
  EXPECT (u, " 404 ");
  td_irc_test_server_free (ts);
}

static void
test_queries (void)
{
  TdIrcTestServer *ts = start_server (NULL);
  g_autoptr(TdIrcTestClient) a = td_irc_test_connect (ts->port, "ann", NULL);
  g_autoptr(TdIrcTestClient) b = td_irc_test_connect (ts->port, "bo", "multi-prefix away-notify");
  g_autofree char *list = NULL;
  g_autofree char *who = NULL;
  g_autofree char *whois = NULL;
  g_autofree char *names = NULL;
  g_autofree char *away = NULL;
  g_autofree char *dm = NULL;

  td_irc_test_send (a, "JOIN #q");
  EXPECT (a, " 366 ");
  td_irc_test_send (a, "TOPIC #q :the topic");
  td_irc_test_send (b, "JOIN #q");
  EXPECT (b, " 366 ");

  td_irc_test_send (b, "LIST");
  EXPECT (b, " 321 ");
  list = td_irc_test_expect (b, " 322 ");
  g_assert_nonnull (strstr (list, " 322 bo #q 2 :the topic"));
  EXPECT (b, " 323 ");

  td_irc_test_send (a, "MODE #q +v ann");
  EXPECT (b, "MODE #q +v ann");
  td_irc_test_send (b, "NAMES #q");
  names = td_irc_test_expect (b, " 353 ");
  g_assert_nonnull (strstr (names, "@+ann"));

  td_irc_test_send (b, "WHO #q");
  who = td_irc_test_expect (b, " 352 bo #q ~ann 127.0.0.1 tidings.local ann H@+ :0 Test ann");
  EXPECT (b, " 315 bo #q ");
  td_irc_test_send (b, "WHO an*");
  EXPECT (b, " 352 bo * ~ann ");
  EXPECT (b, " 315 ");

  td_irc_test_send (a, "AWAY :lunch");
  EXPECT (a, " 306 ");
  away = td_irc_test_expect (b, " AWAY ");
  g_assert_cmpstr (away, ==, ":ann!~ann@127.0.0.1 AWAY :lunch");
  td_irc_test_send (b, "PRIVMSG ann :you there?");
  EXPECT (b, " 301 bo ann :lunch");

  td_irc_test_send (b, "WHOIS ann");
  whois = td_irc_test_expect (b, " 311 ");
  g_assert_nonnull (strstr (whois, " 311 bo ann ~ann 127.0.0.1 * :Test ann"));
  EXPECT (b, " 319 bo ann :@+#q");
  EXPECT (b, " 312 bo ann tidings.local ");
  EXPECT (b, " 301 bo ann :lunch");
  EXPECT (b, " 317 bo ann ");
  EXPECT (b, " 318 bo ann ");
  td_irc_test_send (b, "WHOIS ghost");
  EXPECT (b, " 401 bo ghost ");
  EXPECT (b, " 318 bo ghost ");

  td_irc_test_send (a, "AWAY");
  EXPECT (a, " 305 ");
  dm = td_irc_test_expect (b, " AWAY");
  g_assert_cmpstr (dm, ==, ":ann!~ann@127.0.0.1 AWAY");
  td_irc_test_server_free (ts);
}

static void
test_limits (void)
{
  TdIrcServerConfig *config = test_config ();
  TdIrcTestServer *ts;
  g_autoptr(TdIrcTestClient) a = NULL;
  g_autoptr(TdIrcTestClient) b = NULL;
  g_autoptr(TdIrcTestClient) c = NULL;
  g_autofree char *error = NULL;

  config->max_per_ip = 2;
  config->max_channels = 2;
  ts = start_server (config);
  a = td_irc_test_connect (ts->port, "a", NULL);
  b = td_irc_test_connect (ts->port, "b", NULL);
  c = td_irc_test_client_new (ts->port, "c");
  error = td_irc_test_expect_closed (c);
  g_assert_nonnull (strstr (error, "Too many connections"));

  td_irc_test_send (a, "JOIN #1,#2,#3");
  EXPECT (a, " 366 a #2 ");
  EXPECT (a, " 405 a #3 :You have joined too many channels");
  td_irc_test_server_free (ts);
}

/* ------------------------------------------------------------------ */
/* IRCv3                                                               */
/* ------------------------------------------------------------------ */

static void
test_cap (void)
{
  TdIrcTestServer *ts = start_server (NULL);
  g_autoptr(TdIrcTestClient) c = td_irc_test_client_new (ts->port, "c");
  g_autofree char *ls = NULL;
  g_autofree char *ls301 = NULL;
  g_autofree char *list = NULL;

  td_irc_test_send (c, "CAP LS 302");
  ls = td_irc_test_expect (c, " CAP ");
  g_assert_nonnull (strstr (ls, ":tidings.local CAP * LS :"));
  for (const char *cap = "sasl=PLAIN|draft/chathistory|message-tags|server-time|echo-message|batch|"
                         "labeled-response|multi-prefix|account-tag|away-notify|"
                         "draft/account-registration=before-connect";
       cap != NULL;)
    {
      const char *bar = strchr (cap, '|');
      g_autofree char *name = bar ? g_strndup (cap, bar - cap) : g_strdup (cap);

      g_assert_nonnull (strstr (ls, name));
      cap = bar ? bar + 1 : NULL;
    }
  td_irc_test_send (c, "NICK capper");
  td_irc_test_send (c, "USER capper 0 * :x");
  /* Registration waits for CAP END. */
  g_assert_true (td_irc_test_quiet_for (c, 300));

  td_irc_test_send (c, "CAP REQ :server-time unknown-cap");
  EXPECT (c, " NAK :server-time unknown-cap");
  td_irc_test_send (c, "CAP REQ :server-time message-tags");
  EXPECT (c, " ACK :server-time message-tags");
  td_irc_test_send (c, "CAP REQ :-server-time");
  EXPECT (c, " ACK :-server-time");
  td_irc_test_send (c, "CAP LIST");
  list = td_irc_test_expect (c, " LIST ");
  g_assert_nonnull (strstr (list, "message-tags"));
  g_assert_null (strstr (list, "server-time"));
  td_irc_test_send (c, "CAP FOO");
  EXPECT (c, " 410 ");
  td_irc_test_send (c, "CAP END");
  EXPECT (c, " 001 capper ");

  td_irc_test_send (c, "CAP LS");
  ls301 = td_irc_test_expect (c, " LS ");
  g_assert_nonnull (strstr (ls301, " sasl "));
  td_irc_test_server_free (ts);
}

static void
test_tags (void)
{
  TdIrcTestServer *ts = start_server (NULL);
  g_autoptr(TdIrcTestClient) a = td_irc_test_connect (ts->port, "tagger",
                                                      "message-tags server-time echo-message account-tag");
  g_autoptr(TdIrcTestClient) b = td_irc_test_connect (ts->port, "reader", "message-tags server-time");
  g_autoptr(TdIrcTestClient) plain = td_irc_test_connect (ts->port, "plain", NULL);
  g_autoptr(TdIrcMessage) echo = NULL;
  g_autoptr(TdIrcMessage) got = NULL;
  g_autoptr(TdIrcMessage) tagmsg = NULL;
  g_autofree char *plain_line = NULL;
  gint64 t;

  td_irc_test_send (a, "JOIN #tags");
  EXPECT (a, " 366 ");
  td_irc_test_send (b, "JOIN #tags");
  EXPECT (b, " 366 ");
  td_irc_test_send (plain, "JOIN #tags");
  EXPECT (plain, " 366 ");

  td_irc_test_send (a, "@+draft/reply=abc;+example.com/x=a\\sb PRIVMSG #tags :tagged");
  echo = td_irc_test_expect_cmd (a, "PRIVMSG");
  got = td_irc_test_expect_cmd (b, "PRIVMSG");
  g_assert_nonnull (td_irc_message_get_tag (echo, "msgid", NULL));
  g_assert_cmpstr (td_irc_message_get_tag (echo, "msgid", NULL), ==, td_irc_message_get_tag (got, "msgid", NULL));
  g_assert_true (td_irc_parse_time (td_irc_message_get_tag (got, "time", NULL), &t));
  g_assert_cmpint (ABS (t - g_get_real_time ()), <, 10 * G_USEC_PER_SEC);
  g_assert_cmpstr (td_irc_message_get_tag (got, "+draft/reply", NULL), ==, "abc");
  g_assert_cmpstr (td_irc_message_get_tag (got, "+example.com/x", NULL), ==, "a b");
  g_assert_cmpstr (got->source, ==, "tagger!~tagger@127.0.0.1");
  plain_line = td_irc_test_expect (plain, "PRIVMSG");
  g_assert_cmpstr (plain_line, ==, ":tagger!~tagger@127.0.0.1 PRIVMSG #tags :tagged");

  /* TAGMSG reaches only message-tags clients. */
  td_irc_test_send (a, "@+typing=active TAGMSG #tags");
  tagmsg = td_irc_test_expect_cmd (b, "TAGMSG");
  g_assert_cmpstr (td_irc_message_get_tag (tagmsg, "+typing", NULL), ==, "active");
  td_irc_test_send (a, "PRIVMSG #tags :after");
  EXPECT (plain, "PRIVMSG #tags :after");
  td_irc_test_server_free (ts);
}

static void
test_labeled_response (void)
{
  TdIrcTestServer *ts = start_server (NULL);
  g_autoptr(TdIrcTestClient) a = td_irc_test_connect (ts->port, "lab", "labeled-response batch message-tags");
  g_autofree char *pong = NULL;
  g_autofree char *ack = NULL;
  g_autofree char *start = NULL;
  g_autofree char *inner = NULL;

  td_irc_test_send (a, "@label=l1 PING :x");
  pong = td_irc_test_expect (a, "PONG");
  g_assert_true (g_str_has_prefix (pong, "@label=l1 :tidings.local PONG"));

  td_irc_test_send (a, "@label=l2 PONG :x");
  ack = td_irc_test_expect (a, "ACK");
  g_assert_cmpstr (ack, ==, "@label=l2 :tidings.local ACK");

  td_irc_test_send (a, "@label=l3 WHOIS lab");
  start = td_irc_test_expect (a, "BATCH +");
  g_assert_true (g_str_has_prefix (start, "@label=l3 :tidings.local BATCH +"));
  g_assert_nonnull (strstr (start, " labeled-response"));
  inner = td_irc_test_expect (a, " 311 ");
  g_assert_true (g_str_has_prefix (inner, "@batch="));
  EXPECT (a, " 318 ");
  EXPECT (a, "BATCH -");
  td_irc_test_server_free (ts);
}

static void
test_sasl (void)
{
  TdIrcTestServer *ts = start_server (NULL);
  g_autoptr(TdIrcTestClient) c = td_irc_test_client_new (ts->port, "c");
  g_autoptr(TdIrcTestClient) bad = td_irc_test_client_new (ts->port, "bad");
  g_autoptr(TdIrcTestClient) peer = td_irc_test_connect (ts->port, "peer", "account-tag");
  g_autofree char *plain = NULL;
  g_autofree char *wrong = NULL;
  g_autofree char *logged = NULL;
  g_autoptr(TdIrcMessage) msg = NULL;
  g_autofree char *whois = NULL;

  plain = g_base64_encode ((const guchar *) "\0alice\0" ALICE_PASSWORD, 7 + strlen (ALICE_PASSWORD));
  wrong = g_base64_encode ((const guchar *) "alice\0alice\0nope", 16);

  td_irc_test_send (c, "CAP LS 302");
  td_irc_test_send (c, "CAP REQ :sasl");
  EXPECT (c, "ACK :sasl");
  td_irc_test_send (c, "NICK alice");
  td_irc_test_send (c, "USER alice 0 * :Alice");
  td_irc_test_send (c, "AUTHENTICATE SCRAM-SHA-256");
  EXPECT (c, " 908 ");
  EXPECT (c, " 904 ");
  td_irc_test_send (c, "AUTHENTICATE PLAIN");
  EXPECT (c, "AUTHENTICATE +");
  td_irc_test_send (c, "AUTHENTICATE %s", plain);
  logged = td_irc_test_expect (c, " 900 ");
  g_assert_nonnull (strstr (logged, " 900 alice alice!~alice@127.0.0.1 alice :You are now logged in as alice"));
  EXPECT (c, " 903 alice :SASL authentication successful");
  td_irc_test_send (c, "AUTHENTICATE PLAIN");
  EXPECT (c, " 907 ");
  td_irc_test_send (c, "CAP END");
  EXPECT (c, " 001 alice ");

  td_irc_test_send (c, "JOIN #acct");
  EXPECT (c, " 366 ");
  td_irc_test_send (peer, "JOIN #acct");
  EXPECT (peer, " 366 ");
  td_irc_test_send (c, "PRIVMSG #acct :signed");
  msg = td_irc_test_expect_cmd (peer, "PRIVMSG");
  g_assert_cmpstr (td_irc_message_get_tag (msg, "account", NULL), ==, "alice");
  td_irc_test_send (peer, "WHOIS alice");
  whois = td_irc_test_expect (peer, " 330 ");
  g_assert_nonnull (strstr (whois, " 330 peer alice alice :is logged in as"));

  /* Wrong password, garbage, abort. */
  td_irc_test_send (bad, "CAP LS 302");
  td_irc_test_send (bad, "NICK bad");
  td_irc_test_send (bad, "AUTHENTICATE PLAIN");
  EXPECT (bad, "AUTHENTICATE +");
  td_irc_test_send (bad, "AUTHENTICATE %s", wrong);
  EXPECT (bad, " 904 bad :SASL authentication failed");
  td_irc_test_send (bad, "AUTHENTICATE PLAIN");
  EXPECT (bad, "AUTHENTICATE +");
  td_irc_test_send (bad, "AUTHENTICATE !!!!");
  EXPECT (bad, " 904 ");
  td_irc_test_send (bad, "AUTHENTICATE PLAIN");
  EXPECT (bad, "AUTHENTICATE +");
  td_irc_test_send (bad, "AUTHENTICATE *");
  EXPECT (bad, " 906 ");

  /* Rate limit: after the allowed failures even the right password is
   * refused without hashing. */
  for (guint i = 1; i < TD_IRC_LOGIN_MAX_FAILURES; i++)
    {
      td_irc_test_send (bad, "AUTHENTICATE PLAIN");
      EXPECT (bad, "AUTHENTICATE +");
      td_irc_test_send (bad, "AUTHENTICATE %s", wrong);
      EXPECT (bad, " 904 ");
    }
  td_irc_test_send (bad, "AUTHENTICATE PLAIN");
  EXPECT (bad, "AUTHENTICATE +");
  td_irc_test_send (bad, "AUTHENTICATE %s", plain);
  EXPECT (bad, "too many failed attempts");
  td_irc_test_server_free (ts);
}

static void
test_register (void)
{
  TdIrcTestServer *ts = start_server (NULL);
  g_autoptr(TdIrcTestClient) c = td_irc_test_client_new (ts->port, "c");
  g_autoptr(TdIrcTestClient) d = td_irc_test_connect (ts->port, "dave", NULL);
  g_autoptr(TdIrcTestClient) again = NULL;
  g_autofree char *plain = NULL;

  td_irc_test_send (c, "CAP LS 302");
  td_irc_test_send (c, "CAP REQ :draft/account-registration sasl");
  EXPECT (c, " ACK ");
  td_irc_test_send (c, "REGISTER * * longenoughpw");
  EXPECT (c, "FAIL REGISTER NEED_NICK");
  td_irc_test_send (c, "NICK carol");
  td_irc_test_send (c, "REGISTER * * short");
  EXPECT (c, "FAIL REGISTER WEAK_PASSWORD carol");
  td_irc_test_send (c, "REGISTER alice * longenoughpw");
  EXPECT (c, "FAIL REGISTER ACCOUNT_EXISTS alice");
  td_irc_test_send (c, "REGISTER dave * longenoughpw");
  EXPECT (c, "FAIL REGISTER BAD_ACCOUNT_NAME dave");
  td_irc_test_send (c, "REGISTER * carol@example.com longenoughpw");
  EXPECT (c, "REGISTER SUCCESS carol");
  EXPECT (c, " 900 carol ");
  td_irc_test_send (c, "REGISTER * * longenoughpw");
  EXPECT (c, "FAIL REGISTER ALREADY_AUTHENTICATED");
  td_irc_test_send (c, "USER carol 0 * :Carol");
  td_irc_test_send (c, "CAP END");
  EXPECT (c, " 001 carol ");
  td_irc_test_send (c, "QUIT");
  g_free (td_irc_test_expect_closed (c));

  /* The new account works for SASL. */
  plain = g_base64_encode ((const guchar *) "carol\0carol\0longenoughpw", 24);
  again = td_irc_test_client_new (ts->port, "again");
  td_irc_test_send (again, "CAP LS 302");
  td_irc_test_send (again, "CAP REQ sasl");
  td_irc_test_send (again, "NICK carol");
  td_irc_test_send (again, "USER carol 0 * :Carol");
  td_irc_test_send (again, "AUTHENTICATE PLAIN");
  EXPECT (again, "AUTHENTICATE +");
  td_irc_test_send (again, "AUTHENTICATE %s", plain);
  EXPECT (again, " 903 ");
  td_irc_test_send (again, "CAP END");
  EXPECT (again, " 001 carol ");
  td_irc_test_server_free (ts);
}

static void
test_nick_ownership (void)
{
  TdIrcServerConfig *config = test_config ();
  TdIrcTestServer *ts;
  g_autoptr(TdIrcTestClient) squatter = NULL;
  g_autoptr(TdIrcTestClient) witness = NULL;
  g_autoptr(TdIrcTestClient) owner = NULL;
  g_autofree char *notice = NULL;
  g_autofree char *rename = NULL;
  g_autofree char *seen = NULL;
  g_autofree char *plain = NULL;

  config->nick_grace_s = 1;
  ts = start_server (config);
  witness = td_irc_test_connect (ts->port, "witness", NULL);
  td_irc_test_send (witness, "JOIN #own");
  EXPECT (witness, " 366 ");

  squatter = td_irc_test_client_new (ts->port, "squatter");
  td_irc_test_send (squatter, "NICK Alice");
  td_irc_test_send (squatter, "USER x 0 * :x");
  notice = td_irc_test_expect (squatter, "NOTICE Alice :");
  g_assert_nonnull (strstr (notice, "This nickname is registered"));
  td_irc_test_send (squatter, "JOIN #own");
  EXPECT (squatter, " 366 ");
  rename = td_irc_test_expect (squatter, " NICK ");
  g_assert_nonnull (strstr (rename, ":Alice!~x@127.0.0.1 NICK :Guest"));
  seen = td_irc_test_expect (witness, " NICK ");
  g_assert_nonnull (strstr (seen, "NICK :Guest"));

  /* The owner logs in with SASL and keeps it past the grace period. */
  plain = g_base64_encode ((const guchar *) "\0alice\0" ALICE_PASSWORD, 7 + strlen (ALICE_PASSWORD));
  owner = td_irc_test_client_new (ts->port, "owner");
  td_irc_test_send (owner, "CAP LS 302");
  td_irc_test_send (owner, "CAP REQ sasl");
  td_irc_test_send (owner, "NICK alice");
  td_irc_test_send (owner, "USER alice 0 * :Alice");
  td_irc_test_send (owner, "AUTHENTICATE PLAIN");
  EXPECT (owner, "AUTHENTICATE +");
  td_irc_test_send (owner, "AUTHENTICATE %s", plain);
  EXPECT (owner, " 903 ");
  td_irc_test_send (owner, "CAP END");
  EXPECT (owner, " 376 alice ");
  g_assert_true (td_irc_test_quiet_for (owner, 2000));
  td_irc_test_server_free (ts);
}

/* ------------------------------------------------------------------ */
/* CHATHISTORY                                                         */
/* ------------------------------------------------------------------ */

/* Reads one chathistory batch; returns the texts joined by spaces and
 * the msgids in @msgids. */
static char *
read_batch (TdIrcTestClient *c,
            GPtrArray       *msgids)
{
  g_autoptr(TdIrcMessage) start = td_irc_test_expect_cmd (c, "BATCH");
  g_autoptr(GString) texts = g_string_new (NULL);
  g_autofree char *ref = NULL;

  g_assert_cmpuint (start->n_params, >=, 2);
  g_assert_cmpuint (start->params[0][0], ==, '+');
  g_assert_cmpstr (start->params[1], ==, "chathistory");
  ref = g_strdup (start->params[0] + 1);
  for (;;)
    {
      g_autofree char *line = td_irc_test_read_line (c);
      g_autoptr(TdIrcMessage) m = NULL;

      g_assert_nonnull (line);
      m = td_irc_message_parse (line, -1, NULL);
      g_assert_nonnull (m);
      if (g_str_equal (m->command, "BATCH"))
        {
          g_assert_cmpstr (m->params[0] + 1, ==, ref);
          g_assert_cmpint (m->params[0][0], ==, '-');
          break;
        }
      g_assert_cmpstr (td_irc_message_get_tag (m, "batch", NULL), ==, ref);
      g_assert_nonnull (td_irc_message_get_tag (m, "time", NULL));
      if (msgids != NULL)
        g_ptr_array_add (msgids, g_strdup (td_irc_message_get_tag (m, "msgid", NULL)));
      g_string_append_printf (texts, "%s%s", texts->len ? " " : "", m->params[1]);
    }
  return g_string_free (g_steal_pointer (&texts), FALSE);
}

#define HISTORY_CAPS "draft/chathistory batch server-time message-tags"

static void
test_chathistory (void)
{
  TdIrcTestServer *ts = start_server (NULL);
  g_autoptr(TdIrcTestClient) a = td_irc_test_connect (ts->port, "hist", HISTORY_CAPS);
  g_autoptr(TdIrcTestClient) b = td_irc_test_connect (ts->port, "other", HISTORY_CAPS);
  g_autoptr(TdIrcTestClient) out = td_irc_test_connect (ts->port, "outsider", HISTORY_CAPS);
  g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) ignored = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *m3_time = NULL;
  char *got;

  td_irc_test_send (a, "JOIN #h");
  EXPECT (a, " 366 ");
  td_irc_test_send (b, "JOIN #h");
  EXPECT (b, " 366 ");
  for (guint i = 1; i <= 6; i++)
    {
      g_autoptr(TdIrcMessage) m = NULL;

      td_irc_test_send (a, "PRIVMSG #h :m%u", i);
      m = td_irc_test_expect_cmd (b, "PRIVMSG");
      if (i == 3)
        m3_time = g_strdup (td_irc_message_get_tag (m, "time", NULL));
      g_usleep (2000);   /* distinct millisecond timestamps */
    }
  td_irc_test_send (b, "PRIVMSG hist :dm1");
  EXPECT (a, "dm1");
  td_irc_test_send (a, "PRIVMSG other :dm2");
  EXPECT (b, "dm2");

  td_irc_test_send (b, "CHATHISTORY LATEST #h * 3");
  got = read_batch (b, ids);
  g_assert_cmpstr (got, ==, "m4 m5 m6");
  g_free (got);
  g_assert_cmpuint (ids->len, ==, 3);
  g_assert_nonnull (g_ptr_array_index (ids, 0));

  td_irc_test_send (b, "CHATHISTORY LATEST #H * 100");
  got = read_batch (b, NULL);
  g_assert_cmpstr (got, ==, "m1 m2 m3 m4 m5 m6");
  g_free (got);

  td_irc_test_send (b, "CHATHISTORY BEFORE #h msgid=%s 2", (char *) g_ptr_array_index (ids, 0));
  got = read_batch (b, NULL);
  g_assert_cmpstr (got, ==, "m2 m3");
  g_free (got);

  td_irc_test_send (b, "CHATHISTORY AFTER #h timestamp=%s 2", m3_time);
  got = read_batch (b, NULL);
  g_assert_cmpstr (got, ==, "m4 m5");
  g_free (got);

  td_irc_test_send (b, "CHATHISTORY AROUND #h msgid=%s 3", (char *) g_ptr_array_index (ids, 1));
  got = read_batch (b, NULL);
  g_assert_cmpstr (got, ==, "m4 m5 m6");
  g_free (got);

  td_irc_test_send (b, "CHATHISTORY BETWEEN #h timestamp=%s msgid=%s 10", m3_time,
                    (char *) g_ptr_array_index (ids, 2));
  got = read_batch (b, NULL);
  g_assert_cmpstr (got, ==, "m4 m5");
  g_free (got);

  td_irc_test_send (b, "CHATHISTORY LATEST #h msgid=%s 10", (char *) g_ptr_array_index (ids, 1));
  got = read_batch (b, NULL);
  g_assert_cmpstr (got, ==, "m6");
  g_free (got);

  /* Private messages: each side sees the conversation. */
  td_irc_test_send (b, "CHATHISTORY LATEST hist * 10");
  got = read_batch (b, ignored);
  g_assert_cmpstr (got, ==, "dm1 dm2");
  g_free (got);
  td_irc_test_send (a, "CHATHISTORY LATEST OTHER * 10");
  got = read_batch (a, NULL);
  g_assert_cmpstr (got, ==, "dm1 dm2");
  g_free (got);

  /* TARGETS */
  td_irc_test_send (b, "CHATHISTORY TARGETS timestamp=2000-01-01T00:00:00.000Z timestamp=2100-01-01T00:00:00.000Z 10");
  {
    g_autoptr(TdIrcMessage) start = td_irc_test_expect_cmd (b, "BATCH");
    g_autofree char *t1 = NULL;
    g_autofree char *t2 = NULL;

    g_assert_cmpstr (start->params[1], ==, "draft/chathistory-targets");
    t1 = td_irc_test_expect (b, "CHATHISTORY TARGETS");
    t2 = td_irc_test_expect (b, "CHATHISTORY TARGETS");
    g_assert_nonnull (strstr (t1, "TARGETS #h "));
    g_assert_nonnull (strstr (t2, "TARGETS hist "));
    EXPECT (b, "BATCH -");
  }

  /* Errors */
  td_irc_test_send (out, "CHATHISTORY LATEST #h * 10");
  EXPECT (out, "FAIL CHATHISTORY INVALID_TARGET LATEST #h");
  td_irc_test_send (b, "CHATHISTORY LATEST #h bogus 10");
  EXPECT (b, "FAIL CHATHISTORY INVALID_PARAMS LATEST");
  td_irc_test_send (b, "CHATHISTORY BEFORE #h * 10");
  EXPECT (b, "FAIL CHATHISTORY INVALID_PARAMS BEFORE");
  td_irc_test_send (b, "CHATHISTORY LATEST #h * lots");
  EXPECT (b, "FAIL CHATHISTORY INVALID_PARAMS");
  td_irc_test_send (b, "CHATHISTORY SIDEWAYS #h * 10");
  EXPECT (b, "FAIL CHATHISTORY INVALID_PARAMS SIDEWAYS");
  td_irc_test_send (b, "CHATHISTORY LATEST");
  EXPECT (b, " 461 ");
  td_irc_test_server_free (ts);
}

/* ------------------------------------------------------------------ */
/* Flood control                                                       */
/* ------------------------------------------------------------------ */

static void
test_flood (void)
{
  TdIrcServerConfig *config = test_config ();
  TdIrcTestServer *ts;
  g_autoptr(TdIrcTestClient) flooder = NULL;
  g_autoptr(TdIrcTestClient) calm = NULL;
  g_autoptr(GString) burst = g_string_new (NULL);
  g_autofree char *error = NULL;
  gint64 start;
  guint got = 0;

  config->flood_control = TRUE;
  config->flood_penalty_ms = 100;
  config->flood_window_ms = 1000;    /* bursts of 10 lines, then 10/s */
  config->flood_backlog = 4096;
  ts = start_server (config);
  calm = td_irc_test_connect (ts->port, "calm", NULL);
  flooder = td_irc_test_connect (ts->port, "flooder", NULL);

  /* Throttled: 30 pings arrive at about 10 per second, not all at once. */
  start = g_get_monotonic_time ();
  for (guint i = 0; i < 30; i++)
    g_string_append_printf (burst, "PING :%u\r\n", i);
  td_irc_test_send_len (flooder, burst->str, burst->len);
  while (got < 30)
    {
      g_autofree char *line = td_irc_test_expect (flooder, "PONG");

      got++;
      /* Meanwhile another client is served at once. */
      if (got == 15)
        {
          gint64 t0 = g_get_monotonic_time ();

          td_irc_test_send (calm, "PING :quick");
          EXPECT (calm, "PONG");
          g_assert_cmpint (g_get_monotonic_time () - t0, <, 500000);
        }
    }
  g_assert_cmpint (g_get_monotonic_time () - start, >, 1000000);

  /* Past the backlog: disconnected. */
  g_string_truncate (burst, 0);
  for (guint i = 0; i < 2000; i++)
    g_string_append_printf (burst, "PRIVMSG calm :spam %u\r\n", i);
  td_irc_test_send_len (flooder, burst->str, burst->len);
  error = td_irc_test_expect_closed (flooder);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error, "Excess Flood"));
  td_irc_test_send (calm, "PING :still fine");
  EXPECT (calm, "PONG");
  td_irc_test_server_free (ts);
}

int
main (int   argc,
      char *argv[])
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  alice_hash = td_irc_accounts_hash_password (ALICE_PASSWORD, NULL);
  g_assert_nonnull (alice_hash);

  g_test_add_func ("/td/irc-server/registration", test_registration);
  g_test_add_func ("/td/irc-server/registration-errors", test_registration_errors);
  g_test_add_func ("/td/irc-server/server-password", test_server_password);
  g_test_add_func ("/td/irc-server/ping-pong", test_ping_pong);
  g_test_add_func ("/td/irc-server/quit", test_quit);
  g_test_add_func ("/td/irc-server/dead-client", test_dead_client);
  g_test_add_func ("/td/irc-server/join-part-privmsg", test_join_part_privmsg);
  g_test_add_func ("/td/irc-server/line-length", test_line_length);
  g_test_add_func ("/td/irc-server/malformed", test_malformed);
  g_test_add_func ("/td/irc-server/topic", test_topic);
  g_test_add_func ("/td/irc-server/channel-modes", test_channel_modes);
  g_test_add_func ("/td/irc-server/kick", test_kick);
  g_test_add_func ("/td/irc-server/queries", test_queries);
  g_test_add_func ("/td/irc-server/limits", test_limits);
  g_test_add_func ("/td/irc-server/cap", test_cap);
  g_test_add_func ("/td/irc-server/tags", test_tags);
  g_test_add_func ("/td/irc-server/labeled-response", test_labeled_response);
  g_test_add_func ("/td/irc-server/sasl", test_sasl);
  g_test_add_func ("/td/irc-server/register", test_register);
  g_test_add_func ("/td/irc-server/nick-ownership", test_nick_ownership);
  g_test_add_func ("/td/irc-server/chathistory", test_chathistory);
  g_test_add_func ("/td/irc-server/flood", test_flood);

  ret = g_test_run ();
  td_task_loop_shutdown (td_task_loop_get_default (), 5000);
  g_free (alice_hash);
  return ret;
}
