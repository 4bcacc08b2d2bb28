/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <sqlite3.h>

#include "td-fault-vfs.h"

typedef struct
{
  sqlite3_file  base;
  sqlite3_file *real;   /* follows this struct in the same block */
} FaultFile;

static sqlite3_vfs *real_vfs;
static sqlite3_vfs  fault_vfs;
static gint         current_fault;
static guint        n_refused;

#define REAL(f) (((FaultFile *) (f))->real)

static int
refuse (void)
{
  switch (g_atomic_int_get (&current_fault))
    {
    case TD_FAULT_DISK_FULL:
      g_atomic_int_inc (&n_refused);
      return SQLITE_FULL;
    case TD_FAULT_IO_ERROR:
      g_atomic_int_inc (&n_refused);
      return SQLITE_IOERR_WRITE;
    case TD_FAULT_READ_ONLY:
      g_atomic_int_inc (&n_refused);
      return SQLITE_READONLY;
    case TD_FAULT_NONE:
    default:
      return SQLITE_OK;
    }
}

static int
f_close (sqlite3_file *f)
{
  int rc = REAL (f)->pMethods->xClose (REAL (f));

  f->pMethods = NULL;
  return rc;
}

static int
f_read (sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
  return REAL (f)->pMethods->xRead (REAL (f), buf, n, off);
}

static int
f_write (sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
  int rc = refuse ();

  if (rc != SQLITE_OK)
    return rc;
  return REAL (f)->pMethods->xWrite (REAL (f), buf, n, off);
}

static int
f_truncate (sqlite3_file *f, sqlite3_int64 size)
{
  int rc = refuse ();

  if (rc != SQLITE_OK)
    return rc == SQLITE_FULL ? SQLITE_IOERR_TRUNCATE : rc;
  return REAL (f)->pMethods->xTruncate (REAL (f), size);
}

static int
f_sync (sqlite3_file *f, int flags)
{
  return REAL (f)->pMethods->xSync (REAL (f), flags);
}

static int
f_file_size (sqlite3_file *f, sqlite3_int64 *size)
{
  return REAL (f)->pMethods->xFileSize (REAL (f), size);
}

static int
f_lock (sqlite3_file *f, int level)
{
  return REAL (f)->pMethods->xLock (REAL (f), level);
}

static int
f_unlock (sqlite3_file *f, int level)
{
  return REAL (f)->pMethods->xUnlock (REAL (f), level);
}

static int
f_check_reserved (sqlite3_file *f, int *out)
{
  return REAL (f)->pMethods->xCheckReservedLock (REAL (f), out);
}

static int
f_file_control (sqlite3_file *f, int op, void *arg)
{
  return REAL (f)->pMethods->xFileControl (REAL (f), op, arg);
}

static int
f_sector_size (sqlite3_file *f)
{
  return REAL (f)->pMethods->xSectorSize (REAL (f));
}

static int
f_device_characteristics (sqlite3_file *f)
{
  return REAL (f)->pMethods->xDeviceCharacteristics (REAL (f));
}

static int
f_shm_map (sqlite3_file *f, int page, int size, int extend, void volatile **out)
{
  return REAL (f)->pMethods->xShmMap (REAL (f), page, size, extend, out);
}

static int
f_shm_lock (sqlite3_file *f, int offset, int n, int flags)
{
  return REAL (f)->pMethods->xShmLock (REAL (f), offset, n, flags);
}

static void
f_shm_barrier (sqlite3_file *f)
{
  REAL (f)->pMethods->xShmBarrier (REAL (f));
}

static int
f_shm_unmap (sqlite3_file *f, int delete_flag)
{
  return REAL (f)->pMethods->xShmUnmap (REAL (f), delete_flag);
}

static int
f_fetch (sqlite3_file *f, sqlite3_int64 off, int n, void **out)
{
  return REAL (f)->pMethods->xFetch (REAL (f), off, n, out);
}

static int
f_unfetch (sqlite3_file *f, sqlite3_int64 off, void *p)
{
  return REAL (f)->pMethods->xUnfetch (REAL (f), off, p);
}

static const sqlite3_io_methods fault_io_methods = {
  3,
  f_close, f_read, f_write, f_truncate, f_sync, f_file_size,
  f_lock, f_unlock, f_check_reserved, f_file_control, f_sector_size,
  f_device_characteristics,
  f_shm_map, f_shm_lock, f_shm_barrier, f_shm_unmap,
  f_fetch, f_unfetch,
};

static int
v_open (sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out_flags)
{
  FaultFile *ff = (FaultFile *) file;
  int rc;

  ff->real = (sqlite3_file *) (ff + 1);
  ff->real->pMethods = NULL;
  file->pMethods = NULL;

  if (g_atomic_int_get (&current_fault) == TD_FAULT_READ_ONLY)
    flags = (flags & ~(SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) | SQLITE_OPEN_READONLY;

  rc = real_vfs->xOpen (real_vfs, name, ff->real, flags, out_flags);
  if (rc != SQLITE_OK)
    {
      if (ff->real->pMethods != NULL)
        ff->real->pMethods->xClose (ff->real);
      return rc;
    }

  file->pMethods = &fault_io_methods;
  return SQLITE_OK;
}

static int
v_delete (sqlite3_vfs *vfs, const char *name, int sync_dir)
{
  return real_vfs->xDelete (real_vfs, name, sync_dir);
}

static int
v_access (sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
  return real_vfs->xAccess (real_vfs, name, flags, out);
}

static int
v_full_pathname (sqlite3_vfs *vfs, const char *name, int n, char *out)
{
  return real_vfs->xFullPathname (real_vfs, name, n, out);
}

static int
v_randomness (sqlite3_vfs *vfs, int n, char *out)
{
  return real_vfs->xRandomness (real_vfs, n, out);
}

static int
v_sleep (sqlite3_vfs *vfs, int usec)
{
  return real_vfs->xSleep (real_vfs, usec);
}

static int
v_current_time (sqlite3_vfs *vfs, double *out)
{
  return real_vfs->xCurrentTime (real_vfs, out);
}

static int
v_get_last_error (sqlite3_vfs *vfs, int n, char *out)
{
  return real_vfs->xGetLastError (real_vfs, n, out);
}

static int
v_current_time_int64 (sqlite3_vfs *vfs, sqlite3_int64 *out)
{
  return real_vfs->xCurrentTimeInt64 (real_vfs, out);
}

void
td_fault_vfs_register (void)
{
  if (real_vfs != NULL)
    return;

  real_vfs = sqlite3_vfs_find (NULL);
  g_assert (real_vfs != NULL);

  fault_vfs.iVersion = 2;
  fault_vfs.szOsFile = sizeof (FaultFile) + real_vfs->szOsFile;
  fault_vfs.mxPathname = real_vfs->mxPathname;
  fault_vfs.zName = TD_FAULT_VFS_NAME;
  fault_vfs.xOpen = v_open;
  fault_vfs.xDelete = v_delete;
  fault_vfs.xAccess = v_access;
  fault_vfs.xFullPathname = v_full_pathname;
  fault_vfs.xRandomness = v_randomness;
  fault_vfs.xSleep = v_sleep;
  fault_vfs.xCurrentTime = v_current_time;
  fault_vfs.xGetLastError = v_get_last_error;
  fault_vfs.xCurrentTimeInt64 = v_current_time_int64;

  g_assert_cmpint (sqlite3_vfs_register (&fault_vfs, 0), ==, SQLITE_OK);
}

void
td_fault_vfs_set (TdFault fault)
{
  g_atomic_int_set (&current_fault, fault);
}

guint
td_fault_vfs_get_n_refused (void)
{
  return g_atomic_int_get (&n_refused);
}
