/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * The arguments of io.github.tidings.Tidings1 method calls, checked
 * without GTK: any process on the session bus can call, so every
 * argument is untrusted. Each handler of the service starts with
 * td_dbus_args_check() on the call's parameters (the same GVariant
 * tests/fuzz/fuzz-dbus-args.c builds from hostile bytes), and a refusal
 * goes back to the caller as the named error.
 */

#define TD_DBUS_ERROR (td_dbus_error_quark ())

typedef enum
{
  TD_DBUS_ERROR_INVALID_ARGS,
  TD_DBUS_ERROR_INVALID_URL,
  TD_DBUS_ERROR_NO_SUCH_FEED,
  TD_DBUS_ERROR_NO_SUCH_CONNECTION,
  TD_DBUS_ERROR_NOT_CONNECTED,
  TD_DBUS_ERROR_FAILED,
  TD_DBUS_ERROR_EXISTS,
  TD_DBUS_ERROR_SEVERAL_FEEDS,
  TD_DBUS_ERROR_NO_SUCH_ITEM,
} TdDBusError;

#define TD_DBUS_N_ERRORS (TD_DBUS_ERROR_NO_SUCH_ITEM + 1)

/* The longest URL a command accepts; real feed URLs are far shorter, and
 * this bounds what a caller can make Tidings store and fetch. */
#define TD_DBUS_MAX_URL_LEN      8192
/* The most feed ids one RefreshFeeds call may name. */
#define TD_DBUS_MAX_IDS          10000
/* Longest channel or pattern name accepted, and longest message: far
 * beyond real use, small enough that a call cannot make Tidings buffer
 * without bound. */
#define TD_DBUS_MAX_CHANNEL      (64 * 1024)
#define TD_DBUS_MAX_MESSAGE      (16 * 1024 * 1024)
/* The longest text one SendMessage may carry (split into IRC lines). */
#define TD_DBUS_MAX_CHAT_TEXT    (16 * 1024)

GQuark    td_dbus_error_quark            (void);

/* The Tidings1 interface as data/io.github.tidings.Tidings1.xml says. */
GDBusInterfaceInfo *td_dbus_args_interface_info (void);

/* Checks the @parameters of a call of @method (a Tidings1 method name)
 * before anything is done with them: the type the interface gives, then
 * every argument. Returns FALSE with a TD_DBUS_ERROR in @error when the
 * call is refused; methods without arguments always pass. */
gboolean  td_dbus_args_check             (const char  *method,
                                          GVariant    *parameters,
                                          GError     **error);

/* Runs td_dbus_args_check() on the call @invocation carries; when it
 * refuses, answers the call with the error (taking @invocation) and
 * returns FALSE. Every Tidings1 handler starts with it. */
gboolean  td_dbus_args_check_call        (GDBusMethodInvocation *invocation);

/* The views ShowView and the show-view action take, in the order of
 * their shortcuts (Alt+1, 2, 3). */
extern const char * const td_dbus_args_view_names[];

/* TRUE if @name is a view ShowView and the show-view action take. */
gboolean  td_dbus_args_is_view_name      (const char  *name);

/* Splits the connection argument of the pub/sub methods: "" is the
 * local broker (@host NULL, @port 0); anything else must be HOST:PORT.
 * Returns FALSE with TD_DBUS_ERROR_NO_SUCH_CONNECTION otherwise. */
gboolean  td_dbus_args_parse_connection  (const char  *connection,
                                          char       **host,
                                          guint16     *port,
                                          GError     **error);

/* TRUE if @url is something a feed can be added from: an http(s) or
 * file URL, or an absolute path; never other schemes. */
gboolean  td_dbus_args_feed_url_ok       (const char  *url);

G_END_DECLS
