/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "app/td-application.h"
#include "app/td-chat-view.h"
#include "app/td-warm-up.h"

G_BEGIN_DECLS

#define TD_TYPE_WINDOW (td_window_get_type ())

G_DECLARE_FINAL_TYPE (TdWindow, td_window, TD, WINDOW, AdwApplicationWindow)

TdWindow   *td_window_new              (TdApplication *application);
void        td_window_show_view        (TdWindow      *self,
                                        const char    *view);
const char *td_window_get_visible_view (TdWindow      *self);
void        td_window_add_toast        (TdWindow      *self,
                                        const char    *message);
TdChatView *td_window_get_chat_view    (TdWindow      *self);
TdWarmUp   *td_window_get_warm_up      (TdWindow      *self);

G_END_DECLS
