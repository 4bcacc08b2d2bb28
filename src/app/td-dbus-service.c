/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-dbus-service"

#include "config.h"

#include "app/td-dbus-service.h"

static const GDBusErrorEntry td_dbus_error_entries[] = {
  { TD_DBUS_ERROR_INVALID_ARGS, "io.github.tidings.Tidings1.Error.InvalidArgs" },
  { TD_DBUS_ERROR_INVALID_URL, "io.github.tidings.Tidings1.Error.InvalidUrl" },
  { TD_DBUS_ERROR_NO_SUCH_FEED, "io.github.tidings.Tidings1.Error.NoSuchFeed" },
  { TD_DBUS_ERROR_NO_SUCH_CONNECTION, "io.github.tidings.Tidings1.Error.NoSuchConnection" },
  { TD_DBUS_ERROR_NOT_CONNECTED, "io.github.tidings.Tidings1.Error.NotConnected" },
  { TD_DBUS_ERROR_FAILED, "io.github.tidings.Tidings1.Error.Failed" },
};

GQuark
td_dbus_error_quark (void)
{
  static gsize quark = 0;

  g_dbus_error_register_error_domain ("td-dbus-error-quark", &quark,
                                      td_dbus_error_entries,
                                      G_N_ELEMENTS (td_dbus_error_entries));
  return (GQuark) quark;
}
