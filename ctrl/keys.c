/* SPDX-License-Identifier: BSD-3-Clause */
#include "keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

/* A PEM key is a few hundred bytes; anything far larger is not a key file. */
#define KEY_FILE_MAX 16384

struct mg_key {
	EVP_PKEY *pkey;
	enum mg_key_alg alg;
	bool priv;
	uint8_t id[MG_KEY_ID_LEN];
};

const char *mg_key_alg_name(enum mg_key_alg alg)
{
	switch (alg) {
	case MG_KEY_ED25519:
		return "ed25519";
	case MG_KEY_P256:
		return "p256";
	}
	return "unknown";
}

MG_RESULT mg_key_alg_parse(const char *name, enum mg_key_alg *out)
{
	if (!strcmp(name, "ed25519")) {
		*out = MG_KEY_ED25519;
		return 0;
	}
	if (!strcmp(name, "p256") || !strcmp(name, "ecdsa-p256") ||
	    !strcmp(name, "prime256v1")) {
		*out = MG_KEY_P256;
		return 0;
	}
	return mg_error_set(MG_ERR_USAGE, "key type '%s': expected ed25519 or p256", name);
}

/* Which of our algorithms @p pkey is; only Ed25519 and EC on P-256 qualify. */
static MG_RESULT classify(EVP_PKEY *pkey, enum mg_key_alg *alg)
{
	char group[32];
	size_t glen = 0;

	if (EVP_PKEY_is_a(pkey, "ED25519")) {
		*alg = MG_KEY_ED25519;
		return 0;
	}
	MG_ENSURE(EVP_PKEY_is_a(pkey, "EC"), PROTO_FORMAT,
		  "unsupported key type %s: expected Ed25519 or ECDSA P-256",
		  EVP_PKEY_get0_type_name(pkey) ? EVP_PKEY_get0_type_name(pkey) : "?");
	MG_ENSURE(EVP_PKEY_get_group_name(pkey, group, sizeof(group), &glen) == 1 &&
			  !strcmp(group, "prime256v1"),
		  PROTO_FORMAT, "unsupported EC curve %s: expected P-256",
		  glen ? group : "?");
	*alg = MG_KEY_P256;
	return 0;
}

/*
 * The DER SubjectPublicKeyInfo up to the key bytes, as i2d_PUBKEY writes it
 * for a P-256 key with a named curve and an uncompressed point, and for an
 * Ed25519 key. Ids are hashed over these prefixes and the canonical key
 * bytes rather than over whatever i2d_PUBKEY gives: OpenSSL re-encodes the
 * point the way the file had it (compressed, hybrid, explicit curve
 * parameters), so one key would otherwise have several ids and one signer
 * could count twice toward a threshold.
 */
static const uint8_t spki_p256[] = {
	0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01,
	0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
};
static const uint8_t spki_ed25519[] = {
	0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
};

#define P256_COORD 32
#define ED25519_RAW 32
#define SPKI_MAX (sizeof(spki_p256) + 1 + 2 * P256_COORD)

/* 04 || X || Y, each coordinate left-padded to 32 bytes (SEC 1 uncompressed). */
static MG_RESULT p256_point(EVP_PKEY *pkey, uint8_t *out)
{
	BIGNUM *x = NULL, *y = NULL;
	int rc = 0;

	MG_ENSURE_GOTO(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x) == 1 &&
			       EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y) == 1,
		       out, CRYPTO, "cannot read the P-256 public point");
	out[0] = 0x04;
	MG_ENSURE_GOTO(BN_bn2binpad(x, out + 1, P256_COORD) == P256_COORD &&
			       BN_bn2binpad(y, out + 1 + P256_COORD, P256_COORD) == P256_COORD,
		       out, CRYPTO, "P-256 coordinate out of range");
out:
	BN_free(x);
	BN_free(y);
	ERR_clear_error();
	return rc;
}

/* The canonical SPKI of @p pkey, whatever encoding it was read from. */
static MG_RESULT canonical_spki(EVP_PKEY *pkey, enum mg_key_alg alg, uint8_t *der,
				size_t *len)
{
	size_t raw = ED25519_RAW;

	if (alg == MG_KEY_P256) {
		memcpy(der, spki_p256, sizeof(spki_p256));
		MG_GUARD(p256_point(pkey, der + sizeof(spki_p256)));
		*len = sizeof(spki_p256) + 1 + 2 * P256_COORD;
		return 0;
	}
	memcpy(der, spki_ed25519, sizeof(spki_ed25519));
	MG_ENSURE(EVP_PKEY_get_raw_public_key(pkey, der + sizeof(spki_ed25519), &raw) == 1 &&
			  raw == ED25519_RAW,
		  CRYPTO, "cannot read the Ed25519 public key");
	*len = sizeof(spki_ed25519) + ED25519_RAW;
	return 0;
}

static MG_RESULT compute_id(EVP_PKEY *pkey, enum mg_key_alg alg, uint8_t id[MG_KEY_ID_LEN])
{
	uint8_t der[SPKI_MAX];
	size_t n = 0;

	MG_GUARD(canonical_spki(pkey, alg, der, &n));
	MG_ENSURE(EVP_Digest(der, n, id, NULL, EVP_sha256(), NULL) == 1, CRYPTO,
		  "sha256 failed");
	return 0;
}

bool mg_key_same(const struct mg_key *a, const struct mg_key *b)
{
	/* 1 is equal; 0 different; negative: different types, not comparable. */
	bool same = EVP_PKEY_eq(a->pkey, b->pkey) == 1;

	ERR_clear_error();
	return same;
}

bool mg_key_find_same(struct mg_key *const *keys, size_t n, size_t *first, size_t *second)
{
	for (size_t j = 1; j < n; j++)
		for (size_t i = 0; i < j; i++)
			if (mg_key_same(keys[i], keys[j])) {
				*first = i;
				*second = j;
				return true;
			}
	return false;
}

/* Wrap @p pkey (ownership passes to the new key, or is freed on failure). */
static MG_RESULT wrap(EVP_PKEY *pkey, bool priv, struct mg_key **out)
{
	struct mg_key *k = NULL;
	int rc = 0;

	MG_ENSURE_GOTO(pkey, out, CRYPTO, "no key");
	k = calloc(1, sizeof(*k));
	MG_ENSURE_GOTO(k, out, NOMEM, "out of memory");
	k->pkey = pkey;
	k->priv = priv;
	pkey = NULL;
	MG_GUARD_GOTO(rc = classify(k->pkey, &k->alg), out);
	MG_GUARD_GOTO(rc = compute_id(k->pkey, k->alg, k->id), out);
	*out = k;
	k = NULL;
out:
	EVP_PKEY_free(pkey);
	mg_key_free(k);
	return rc;
}

MG_RESULT mg_key_generate(enum mg_key_alg alg, struct mg_key **out)
{
	EVP_PKEY *pkey = NULL;

	if (alg == MG_KEY_ED25519)
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	else if (alg == MG_KEY_P256)
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	else
		return mg_error_set(MG_ERR_USAGE, "unknown key algorithm %d", (int)alg);
	if (!pkey) {
		ERR_clear_error();
		return mg_error_set(MG_ERR_CRYPTO, "%s key generation failed",
				    mg_key_alg_name(alg));
	}
	return wrap(pkey, true, out);
}

void mg_key_free(struct mg_key *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

enum mg_key_alg mg_key_get_alg(const struct mg_key *k)
{
	return k->alg;
}

const uint8_t *mg_key_id(const struct mg_key *k)
{
	return k->id;
}

bool mg_key_has_private(const struct mg_key *k)
{
	return k->priv;
}

/* Refuse, rather than prompt for, a passphrase: there is no terminal to ask. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return 0;
}

MG_RESULT mg_key_from_pem(const char *pem, size_t len, bool priv, struct mg_key **out)
{
	EVP_PKEY *pkey;
	BIO *bio;

	MG_ENSURE(len <= KEY_FILE_MAX, PROTO_FORMAT, "key text too long (%zu bytes)", len);
	MG_ENSURE(!priv || !memmem(pem, len, "ENCRYPTED", 9), PROTO_FORMAT,
		  "encrypted private keys are not supported (decrypt it with "
		  "'openssl pkey' into a 0600 file)");
	bio = BIO_new_mem_buf(pem, (int)len);
	MG_ENSURE(bio, NOMEM, "out of memory");
	if (priv)
		pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	else
		pkey = PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	if (!pkey) {
		ERR_clear_error();
		return mg_error_set(MG_ERR_PROTO_FORMAT, "not a PEM %s key",
				    priv ? "private" : "public");
	}
	return wrap(pkey, priv, out);
}

static MG_RESULT load(const char *path, bool priv, struct mg_key **out)
{
	char buf[KEY_FILE_MAX + 1];
	ssize_t n = 0, got = 0;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	MG_ENSURE(fd >= 0, IO, "%s: %s", path, strerror(errno));
	while (got < (ssize_t)sizeof(buf) &&
	       (n = read(fd, buf + got, sizeof(buf) - (size_t)got)) > 0)
		got += n;
	MG_ENSURE_GOTO(n >= 0, out, IO, "%s: read: %s", path, strerror(errno));
	MG_ENSURE_GOTO(got <= KEY_FILE_MAX, out, PROTO_FORMAT,
		       "%s: too large for a key file", path);
	rc = mg_key_from_pem(buf, (size_t)got, priv, out);
	if (rc < 0) {
		char why[256];

		snprintf(why, sizeof(why), "%s", mg_errmsg());
		mg_error_set(mg_errno(), "%s: %s", path, why);
	}
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	close(fd);
	return rc;
}

MG_RESULT mg_key_load_public(const char *path, struct mg_key **out)
{
	return load(path, false, out);
}

MG_RESULT mg_key_load_private(const char *path, struct mg_key **out)
{
	return load(path, true, out);
}

/* Create @p path (O_EXCL, exactly @p mode) and write the PEM form of @p k into it. */
static MG_RESULT write_pem(const struct mg_key *k, bool priv, const char *path, mode_t mode)
{
	BIO *bio = NULL;
	int fd, rc = 0, ok;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	MG_ENSURE(fd >= 0, IO, "%s: %s", path, strerror(errno));
	/* The umask may only have narrowed the mode; make it what was asked. */
	MG_ENSURE_GOTO(fchmod(fd, mode) == 0, out, IO, "%s: chmod: %s", path, strerror(errno));
	bio = BIO_new_fd(fd, BIO_NOCLOSE);
	MG_ENSURE_GOTO(bio, out, NOMEM, "out of memory");
	if (priv)
		ok = PEM_write_bio_PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL, NULL);
	else
		ok = PEM_write_bio_PUBKEY(bio, k->pkey);
	MG_ENSURE_GOTO(ok == 1 && BIO_flush(bio) == 1, out, IO, "%s: write failed", path);
	MG_ENSURE_GOTO(fsync(fd) == 0, out, IO, "%s: fsync: %s", path, strerror(errno));
out:
	BIO_free(bio);
	ERR_clear_error();
	if (close(fd) != 0 && rc == 0)
		rc = mg_error_set(MG_ERR_IO, "%s: close: %s", path, strerror(errno));
	if (rc < 0)
		unlink(path);
	return rc;
}

MG_RESULT mg_key_write(const struct mg_key *k, const char *priv_path, const char *pub_path)
{
	MG_ENSURE(k->priv, USAGE, "no private key to write");
	MG_GUARD(write_pem(k, true, priv_path, 0600));
	if (write_pem(k, false, pub_path, 0644) < 0) {
		unlink(priv_path);
		return -1;
	}
	return 0;
}

MG_RESULT mg_key_sign(const struct mg_key *k, const uint8_t *msg, size_t msg_len,
		      uint8_t *sig, size_t *sig_len)
{
	/* Ed25519 hashes internally (no digest); ECDSA signs SHA-256(msg), DER. */
	const EVP_MD *md = k->alg == MG_KEY_P256 ? EVP_sha256() : NULL;
	EVP_MD_CTX *ctx = NULL;
	size_t len = MG_KEY_SIG_MAX;
	int rc = 0;

	MG_ENSURE(k->priv, USAGE, "signing needs a private key");
	ctx = EVP_MD_CTX_new();
	MG_ENSURE_GOTO(ctx, out, NOMEM, "out of memory");
	MG_ENSURE_GOTO(EVP_DigestSignInit(ctx, NULL, md, NULL, k->pkey) == 1 &&
			       EVP_DigestSign(ctx, sig, &len, msg, msg_len) == 1,
		       out, CRYPTO, "%s signing failed", mg_key_alg_name(k->alg));
	*sig_len = len;
out:
	ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	return rc;
}

MG_RESULT mg_key_verify(const struct mg_key *k, const uint8_t *msg, size_t msg_len,
			const uint8_t *sig, size_t sig_len)
{
	const EVP_MD *md = k->alg == MG_KEY_P256 ? EVP_sha256() : NULL;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = 0;

	MG_ENSURE_GOTO(ctx, out, NOMEM, "out of memory");
	MG_ENSURE_GOTO(EVP_DigestVerifyInit(ctx, NULL, md, NULL, k->pkey) == 1, out, CRYPTO,
		       "%s verify init failed", mg_key_alg_name(k->alg));
	/* 0 is a wrong signature, <0 one that does not even decode: both are bad. */
	MG_ENSURE_GOTO(EVP_DigestVerify(ctx, sig, sig_len, msg, msg_len) == 1, out,
		       PROTO_SIGNATURE, "bad %s signature", mg_key_alg_name(k->alg));
out:
	ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	return rc;
}
