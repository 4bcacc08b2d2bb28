/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gdk/gdk.h>

G_BEGIN_DECLS

/*
 * Stable nick colours: the same nick always gets the same hue (from a hash
 * of its casefolded form, so "Bob" and "bob" match), with a lightness
 * chosen for the style so that it reads on a light and on a dark
 * background alike.
 */

void  td_nick_color     (const char *nick,
                         gboolean    dark,
                         GdkRGBA    *rgba);
char *td_nick_color_hex (const char *nick,
                         gboolean    dark);

G_END_DECLS
