/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/*
 * TdWarmUp: lays out the pages of a window that are not shown yet while
 * the main loop has nothing else to do, so that the first show of a page
 * is a frame like any other. A hidden list makes rows as items come, but
 * measures and places them only when it is laid out: laid out while
 * hidden, a page's rows are measured, its fonts loaded and its texts
 * shaped then, and the frame that first shows it mostly draws.
 *
 * A page is laid out at the size of a reference widget (the stack the
 * pages are in), TD_WARM_UP_PASSES times, one pass per idle: a list
 * places the rows of its first pass from the sizes it guessed, and those
 * the measured rows show are in view in the next. What a page shows
 * comes in after start (a chat log, the first messages), so the pages
 * are laid out again a few times (TD_WARM_UP_ROUND_MS after the first
 * round): a pass over a page that did not change costs next to nothing.
 * After its passes, the fonts of a page's texts are drawn, one per idle
 * (the printable ASCII characters, into an image of their own), so that
 * their glyphs are hinted and drawn into the fonts' caches before a
 * frame needs them. A page that is shown (mapped) is left to its frames
 * from then on; one that goes is forgotten. The pages themselves are not
 * drawn: they stay hidden.
 */

#define TD_WARM_UP_PASSES 2

/* When the later rounds begin, after the first one ended. */
#define TD_WARM_UP_ROUND_MS { 1000, 3000 }

typedef struct _TdWarmUp TdWarmUp;

TdWarmUp *td_warm_up_new            (GtkWidget *reference);
void      td_warm_up_free           (TdWarmUp  *self);
void      td_warm_up_add            (TdWarmUp  *self,
                                     GtkWidget *page);
void      td_warm_up_start          (TdWarmUp  *self);
gboolean  td_warm_up_step           (TdWarmUp  *self);
guint     td_warm_up_get_n_passes   (TdWarmUp  *self);
guint     td_warm_up_get_n_fonts    (TdWarmUp  *self);
gboolean  td_warm_up_is_done        (TdWarmUp  *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TdWarmUp, td_warm_up_free)

G_END_DECLS
