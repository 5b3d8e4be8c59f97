/* SPDX-License-Identifier: BSD-3-Clause */
/** @file SHA-256 of whole files (config and binary hashes, integrity checks). */
#ifndef MG_FILEHASH_H
#define MG_FILEHASH_H

#include <stddef.h>
#include <stdint.h>

#include "mg_error.h"

/** SHA-256 of the file at @p path into @p out. */
MG_RESULT mg_file_sha256(const char *path, uint8_t out[32]);

/** Lower-case hex of @p n bytes into @p hex (2n+1 bytes). */
void mg_hex(const uint8_t *bytes, size_t n, char *hex);

#endif /* MG_FILEHASH_H */
