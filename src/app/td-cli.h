/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * The command line as a thin client of io.github.tidings.Tidings1: each
 * command is one D-Bus call to the running instance, or to an instance
 * started for it without a window (it exits by itself when idle).
 */

/* How long the command line waits for a started instance to appear on
 * the bus, and for one call to be answered: a refresh or an add that
 * fetches a feed over a slow network can take a while. */
#define TD_CLI_START_TIMEOUT_MS  10000
#define TD_CLI_CALL_TIMEOUT_MS   120000

void td_cli_add_options (GApplication *app);
int  td_cli_run         (GApplication *app,
                         GVariantDict *options);

G_END_DECLS
