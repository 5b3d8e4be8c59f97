/* SPDX-License-Identifier: BSD-3-Clause */
/** @file Durable file-system steps shared by the snapshot, loader and audit code. */
#ifndef MG_FSUTIL_H
#define MG_FSUTIL_H

#include "mg_error.h"

/** fsync the directory holding @p path, so a rename or link in it is durable. */
MG_RESULT mg_fsync_dir_of(const char *path);

#endif /* MG_FSUTIL_H */
