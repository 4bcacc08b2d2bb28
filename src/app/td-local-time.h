/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

GTimeZone *td_local_zone       (void);
GDateTime *td_local_time_new   (gint64 usec);
GDateTime *td_local_time_now   (void);

G_END_DECLS
