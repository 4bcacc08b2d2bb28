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
  TD_DBUS_ERROR_EXISTS,
  TD_DBUS_ERROR_SEVERAL_FEEDS,
  TD_DBUS_ERROR_NO_SUCH_ITEM,
} TdDBusError;

/* The longest URL a command accepts; real feed URLs are far shorter, and
 * this bounds what a caller can make Tidings store and fetch. */
#define TD_DBUS_MAX_URL_LEN      8192
/* The most feed ids one RefreshFeeds call may name. */
#define TD_DBUS_MAX_IDS          10000

typedef struct _TdDBusService TdDBusService;

GQuark         td_dbus_error_quark     (void);

/* Connects the Tidings1 method handlers of @skeleton to @app's feed
 * manager, broker and chat networks; signals are emitted on it. */
TdDBusService *td_dbus_service_new     (gpointer       app,
                                        gpointer       skeleton);
void           td_dbus_service_free    (TdDBusService *service);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdDBusService, td_dbus_service_free)

G_END_DECLS
