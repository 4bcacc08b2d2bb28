/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "app/td-dbus-args.h"

G_BEGIN_DECLS

/*
 * The io.github.tidings.Tidings1 interface: typed commands for scripts and
 * the command line, exported beside GApplication's own interfaces.
 */

typedef struct _TdDBusService TdDBusService;

/* Connects the Tidings1 method handlers of @skeleton to @app's feed
 * manager, broker and chat networks; signals are emitted on it. */
TdDBusService *td_dbus_service_new     (gpointer       app,
                                        gpointer       skeleton);
void           td_dbus_service_free    (TdDBusService *service);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdDBusService, td_dbus_service_free)

G_END_DECLS
