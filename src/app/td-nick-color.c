/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "td-nick-color"

#include "config.h"

#include <math.h>

#include "app/td-nick-color.h"
#include "chat/td-irc-message.h"

/* HSL to RGB, all in 0..1. */
static double
hue_to_rgb (double p,
            double q,
            double t)
{
  if (t < 0)
    t += 1;
  if (t > 1)
    t -= 1;
  if (t < 1.0 / 6)
    return p + (q - p) * 6 * t;
  if (t < 1.0 / 2)
    return q;
  if (t < 2.0 / 3)
    return p + (q - p) * (2.0 / 3 - t) * 6;
  return p;
}

/* Fills @rgba with the colour of @nick for a light (@dark FALSE) or dark
 * background. */
void
td_nick_color (const char *nick,
               gboolean    dark,
               GdkRGBA    *rgba)
{
  g_autofree char *folded = td_irc_casefold (nick ? nick : "");
  guint32 hash = 2166136261u;   /* FNV-1a: stable across runs and builds */
  double h, s, l, q, p;

  for (const char *c = folded; *c; c++)
    hash = (hash ^ (guchar) *c) * 16777619u;

  h = (hash % 360) / 360.0;
  s = 0.65;
  /* Yellows and greens look lighter than blues at the same lightness:
   * darken them on light backgrounds so they keep their contrast. */
  if (dark)
    l = 0.70;
  else
    l = (h > 0.12 && h < 0.45) ? 0.30 : 0.40;

  q = l < 0.5 ? l * (1 + s) : l + s - l * s;
  p = 2 * l - q;
  rgba->red = hue_to_rgb (p, q, h + 1.0 / 3);
  rgba->green = hue_to_rgb (p, q, h);
  rgba->blue = hue_to_rgb (p, q, h - 1.0 / 3);
  rgba->alpha = 1.0;
}

/* Returns "#rrggbb" for Pango markup; the caller owns it. */
char *
td_nick_color_hex (const char *nick,
                   gboolean    dark)
{
  GdkRGBA rgba;

  td_nick_color (nick, dark, &rgba);
  return g_strdup_printf ("#%02x%02x%02x",
                          (int) lround (rgba.red * 255),
                          (int) lround (rgba.green * 255),
                          (int) lround (rgba.blue * 255));
}
