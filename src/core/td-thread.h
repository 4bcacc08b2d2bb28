/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The nice value the app gives its background threads (the recorder, the
 * task loop's workers, the feed fetcher), so that on a busy machine the
 * main thread gets the CPU first. */
#define TD_THREAD_BACKGROUND_NICE 10

void     td_thread_set_background_nice (int nice_value);
int      td_thread_get_background_nice (void);
gboolean td_thread_enter_background    (void);

G_END_DECLS
