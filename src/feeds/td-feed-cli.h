/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* `tidings --parse-feed PATH_OR_URL`: reads a local path or file:// URL
 * (size-capped), or fetches an http(s) URL (blocking: this runs in a
 * command-line process without a window), parses it and writes the JSON
 * dump (td_feed_to_json()) to @out. Returns the exit status: 0 when a
 * feed was parsed (warnings included in the JSON), 1 with @error set when
 * nothing could be fetched or parsed. */
int td_feed_parse_cli (const char     *path_or_url,
                       GOutputStream  *out,
                       GError        **error);

G_END_DECLS
