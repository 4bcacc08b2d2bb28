/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * A test VFS named "td-fault" that wraps the default one and can be told to
 * fail: every write returns SQLITE_FULL (disk full) or SQLITE_IOERR_WRITE,
 * or files are opened read-only. The fault can be switched from any thread
 * while connections are open.
 */

#define TD_FAULT_VFS_NAME "td-fault"

typedef enum
{
  TD_FAULT_NONE,
  TD_FAULT_DISK_FULL,
  TD_FAULT_IO_ERROR,
  TD_FAULT_READ_ONLY,
} TdFault;

void    td_fault_vfs_register      (void);
void    td_fault_vfs_set           (TdFault fault);
/* Writes refused since registration. */
guint   td_fault_vfs_get_n_refused (void);

G_END_DECLS
