/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SHA-256 of a whole file, read in blocks (filehash.h).
 */
#include "filehash.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

MG_RESULT mg_file_sha256(const char *path, uint8_t out[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t buf[65536];
	ssize_t n;
	int fd = -1, rc = 0;

	MG_ENSURE_GOTO(ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL), out, CRYPTO,
		       "sha256 init failed");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	MG_ENSURE_GOTO(fd >= 0, out, IO, "%s: %s", path, strerror(errno));
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		MG_ENSURE_GOTO(EVP_DigestUpdate(ctx, buf, (size_t)n), out, CRYPTO,
			       "sha256 update failed");
	MG_ENSURE_GOTO(n == 0, out, IO, "%s: read: %s", path, strerror(errno));
	MG_ENSURE_GOTO(EVP_DigestFinal_ex(ctx, out, NULL), out, CRYPTO,
		       "sha256 final failed");
out:
	if (fd >= 0)
		close(fd);
	EVP_MD_CTX_free(ctx);
	return rc;
}

void mg_hex(const uint8_t *bytes, size_t n, char *hex)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		hex[2 * i] = digits[bytes[i] >> 4];
		hex[2 * i + 1] = digits[bytes[i] & 15];
	}
	hex[2 * n] = '\0';
}
