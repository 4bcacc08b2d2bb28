/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "store/td-recorder.h"

typedef struct _TdChatView TdChatView;

G_BEGIN_DECLS

#define TD_TYPE_APPLICATION (td_application_get_type ())

G_DECLARE_FINAL_TYPE (TdApplication, td_application, TD, APPLICATION, AdwApplication)

TdApplication *td_application_new          (const char        *application_id,
                                            GApplicationFlags  flags);
GSettings     *td_application_get_settings (TdApplication     *self);
guint16        td_application_get_local_port (TdApplication   *self,
                                              const char      *listener);
TdRecorder    *td_application_get_recorder (TdApplication     *self);
gboolean       td_application_is_local_server_starting (TdApplication *self);
const char    *td_application_get_local_server_error   (TdApplication *self);
TdChatView    *td_application_get_chat_view (TdApplication    *self);

G_END_DECLS
