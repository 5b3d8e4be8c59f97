/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Signing keys: Ed25519 (default) and ECDSA P-256, in PEM files, through
 * OpenSSL 3 EVP only.
 *
 * A key's id is SHA-256 over its canonical DER SubjectPublicKeyInfo: for
 * P-256 the named curve and the uncompressed point, for Ed25519 the raw 32
 * bytes. That is what `openssl pkey -pubin -outform DER | sha256sum` gives
 * for a key written the usual way (any key openssl genpkey or meshctl keygen
 * made), and one key has one id however its file encodes it (compressed
 * point, explicit curve parameters). Signatures are what `openssl` produces, so an
 * external signer works without meshgw code:
 *  - Ed25519: pure Ed25519 over the message, 64 raw bytes
 *    (`openssl pkeyutl -sign -rawin -inkey K -in MSG -out SIG`);
 *  - P-256: ECDSA with SHA-256 over the message, DER-encoded
 *    (`openssl dgst -sha256 -sign K -out SIG MSG`).
 */
#ifndef MG_KEYS_H
#define MG_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mg_error.h"

#define MG_KEY_ID_LEN 32
/** Longest signature of any supported algorithm (DER ECDSA P-256 is at most 72). */
#define MG_KEY_SIG_MAX 72

/* Algorithm numbers are written into snapshot signature entries: never renumber. */
enum mg_key_alg {
	MG_KEY_ED25519 = 1,
	MG_KEY_P256 = 2,
};

struct mg_key;

/** Make a fresh key pair of @p alg. */
MG_RESULT mg_key_generate(enum mg_key_alg alg, struct mg_key **out);

/**
 * Write the private key (PKCS#8 PEM) to @p priv_path, created 0600 with O_EXCL,
 * and the public key (SPKI PEM) to @p pub_path, created 0644 with O_EXCL; both
 * fsynced. An existing file is never overwritten (MG_ERR_IO); on failure
 * neither file is left behind.
 */
MG_RESULT mg_key_write(const struct mg_key *k, const char *priv_path, const char *pub_path);

/** Load a PEM public key ("BEGIN PUBLIC KEY"). Other key types: MG_ERR_PROTO_FORMAT. */
MG_RESULT mg_key_load_public(const char *path, struct mg_key **out);

/**
 * Load an unencrypted PEM private key. An encrypted key is refused
 * (MG_ERR_PROTO_FORMAT), never prompted for: meshgw runs without a terminal.
 */
MG_RESULT mg_key_load_private(const char *path, struct mg_key **out);

/** The same loaders over a PEM text in memory (tests, fuzzing). */
MG_RESULT mg_key_from_pem(const char *pem, size_t len, bool priv, struct mg_key **out);

/** Free @p k (NULL is fine); the private part is wiped by OpenSSL. */
void mg_key_free(struct mg_key *k);

enum mg_key_alg mg_key_get_alg(const struct mg_key *k);
/** The key id: SHA-256 of the canonical DER SubjectPublicKeyInfo (MG_KEY_ID_LEN bytes). */
const uint8_t *mg_key_id(const struct mg_key *k);
bool mg_key_has_private(const struct mg_key *k);

/** True if @p a and @p b are the same public key (EVP_PKEY_eq), however written. */
bool mg_key_same(const struct mg_key *a, const struct mg_key *b);

/**
 * Whether two of @p keys are the same key; if so *@p first < *@p second are
 * the first such pair. A trust list must refuse that: one signer would count
 * twice toward a threshold.
 */
bool mg_key_find_same(struct mg_key *const *keys, size_t n, size_t *first, size_t *second);

/**
 * Sign @p msg. @p sig must hold MG_KEY_SIG_MAX bytes; *@p sig_len receives
 * the length. Needs a private key (MG_ERR_USAGE otherwise).
 */
MG_RESULT mg_key_sign(const struct mg_key *k, const uint8_t *msg, size_t msg_len,
		      uint8_t *sig, size_t *sig_len);

/** Check @p sig over @p msg; a wrong signature fails with MG_ERR_PROTO_SIGNATURE. */
MG_RESULT mg_key_verify(const struct mg_key *k, const uint8_t *msg, size_t msg_len,
			const uint8_t *sig, size_t sig_len);

/** "ed25519" or "p256" ("unknown" for anything else). */
const char *mg_key_alg_name(enum mg_key_alg alg);
/** Parse "ed25519" / "p256" (also "ecdsa-p256", "prime256v1"); MG_ERR_USAGE otherwise. */
MG_RESULT mg_key_alg_parse(const char *name, enum mg_key_alg *out);

#endif /* MG_KEYS_H */
