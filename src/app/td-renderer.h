/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

gboolean    td_renderer_have_gpu    (const char *dev_dir);
const char *td_renderer_choose      (const char *dev_dir);
void        td_renderer_apply       (void);

G_END_DECLS
