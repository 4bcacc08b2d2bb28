/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Glob matching with the exact semantics of Redis' stringmatchlen(): `*`,
 * `?`, `[abc]`, `[^a]`, `[a-z]` and `\` escapes, over binary strings.
 */

/* Deepest `*` recursion before a match gives up (Redis uses the same bound
 * so a pattern such as `*a*a*a*...` cannot exhaust the stack). */
#define TD_GLOB_MAX_NESTING 1000

gboolean td_glob_match (const char *pattern,
                        gsize       pattern_len,
                        const char *string,
                        gsize       string_len,
                        gboolean    nocase);

G_END_DECLS
