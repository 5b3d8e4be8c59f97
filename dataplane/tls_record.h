/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The TLS 1.3 record layer of an established connection (RFC 8446 section 5),
 * ours rather than OpenSSL's: once a handshake is done, its traffic secrets
 * are all a worker needs to seal and open application records, so the SSL
 * object (tens of KB) can be freed and an idle connection costs the few
 * hundred bytes of struct mg_tls_dir twice, as kernel TLS does.
 *
 * Per direction: the traffic secret, the AEAD key and IV derived from it
 * (HKDF-Expand-Label "key" / "iv"), the 64-bit record sequence number. A
 * KeyUpdate (section 4.6.3) derives the next secret ("traffic upd") and resets
 * the sequence. Records carry at most 2^14 bytes of plaintext; the inner
 * content type follows the plaintext, then zero padding (which we never send
 * and strip on receipt).
 *
 * What the caller handles from mg_tls_open()'s inner content type:
 * application data goes to the proxy; a KeyUpdate message is applied with
 * mg_tls_dir_update() (and, when asked, answered); close_notify ends the
 * stream; anything else closes the connection.
 */
#ifndef MG_TLS_RECORD_H
#define MG_TLS_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "mg_error.h"

#define MG_TLS_HEADER_LEN 5
#define MG_TLS_MAX_PLAINTEXT 16384
#define MG_TLS_TAG_LEN 16
/* A record on the wire: header + plaintext + inner type + tag (no padding sent). */
#define MG_TLS_MAX_SEALED (MG_TLS_HEADER_LEN + MG_TLS_MAX_PLAINTEXT + 1 + MG_TLS_TAG_LEN)
/* What a peer may send: RFC 8446 allows 2^14 + 256 bytes of ciphertext. */
#define MG_TLS_MAX_CIPHERTEXT (MG_TLS_MAX_PLAINTEXT + 256)
#define MG_TLS_MAX_SECRET 48 /* SHA-384 */

enum mg_tls_content {
	MG_TLS_CHANGE_CIPHER_SPEC = 20,
	MG_TLS_ALERT = 21,
	MG_TLS_HANDSHAKE = 22,
	MG_TLS_APPLICATION_DATA = 23,
};

/* The TLS 1.3 cipher suites, by their IANA code points. */
enum mg_tls_suite {
	MG_TLS_AES_128_GCM_SHA256 = 0x1301,
	MG_TLS_AES_256_GCM_SHA384 = 0x1302,
	MG_TLS_CHACHA20_POLY1305_SHA256 = 0x1303,
};

/** One direction of a connection: read or write. */
struct mg_tls_dir {
	EVP_CIPHER_CTX *aead; /* keyed once per secret; the nonce changes per record */
	const EVP_MD *md;     /* the suite's hash, for KeyUpdate */
	uint8_t secret[MG_TLS_MAX_SECRET];
	uint8_t iv[12];
	uint8_t secret_len;
	uint8_t key_len;
	uint64_t seq;
};

/* Why a record was refused (each a reason to close the connection). */
#define foreach_mg_tls_record_error(_)                                       \
	_(OK, ok)                                                            \
	_(SHORT, short_record)         /* fewer bytes than the header says */ \
	_(BAD_HEADER, bad_record_header) /* type, version or length wrong */ \
	_(BAD_MAC, bad_record_mac)     /* the AEAD tag does not verify */    \
	_(NO_CONTENT_TYPE, no_content_type) /* all padding */                \
	_(SEQ_WRAP, sequence_exhausted) /* 2^64 records: rekey first */

enum mg_tls_record_error {
#define _(sym, name) MG_TLS_REC_##sym,
	foreach_mg_tls_record_error(_)
#undef _
	MG_TLS_REC__COUNT
};

/**
 * Fetch the suites' algorithms once (main thread, before workers run; the
 * first mg_tls_dir_init() does it otherwise). MG_ERR_CRYPTO if one is missing.
 */
MG_RESULT mg_tls_record_global_init(void);

/** Name of a record error ("bad_record_mac"). */
const char *mg_tls_record_error_name(enum mg_tls_record_error e);

/**
 * Key one direction with @p suite's traffic secret @p secret (@p len bytes:
 * the hash length). Allocates the AEAD context: call when a connection
 * becomes established, not per record. Wipes nothing of the caller's.
 */
MG_RESULT mg_tls_dir_init(struct mg_tls_dir *d, enum mg_tls_suite suite,
			  const uint8_t *secret, size_t len);

/** The next generation of keys (KeyUpdate): secret' = Expand-Label(secret, "traffic upd"). */
MG_RESULT mg_tls_dir_update(struct mg_tls_dir *d);

/** Wipe the keys and free the AEAD context. */
void mg_tls_dir_free(struct mg_tls_dir *d);

/**
 * Seal @p len bytes of @p in (at most MG_TLS_MAX_PLAINTEXT) as one record of
 * inner type @p type into @p out (room for len + 22 bytes). @p in and the
 * payload part of @p out (out + 5) may be the same buffer: sealing is in place.
 * Returns the record's length, or 0 with the error in *@p err.
 */
size_t mg_tls_seal(struct mg_tls_dir *d, uint8_t type, const uint8_t *in, size_t len,
		   uint8_t *out, enum mg_tls_record_error *err);

/**
 * How many bytes the record at the head of @p buf needs in all (header
 * included), or 0 when fewer than MG_TLS_HEADER_LEN bytes are there. A value
 * above MG_TLS_HEADER_LEN + MG_TLS_MAX_CIPHERTEXT means a bad header.
 */
size_t mg_tls_record_len(const uint8_t *buf, size_t have);

/**
 * Open one whole record @p rec of @p len bytes (mg_tls_record_len()) in place:
 * the plaintext is left at rec + 5, its length in *@p plain_len and the inner
 * content type in *@p type.
 */
enum mg_tls_record_error mg_tls_open(struct mg_tls_dir *d, uint8_t *rec, size_t len,
				     size_t *plain_len, uint8_t *type);

#endif /* MG_TLS_RECORD_H */
