/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * The io.github.tidings.Tidings1 interface: typed commands for scripts and
 * the command line, exported beside GApplication's own interfaces.
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
} TdDBusError;

GQuark td_dbus_error_quark (void);

G_END_DECLS
