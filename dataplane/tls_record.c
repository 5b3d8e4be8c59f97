/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TLS 1.3 records of established connections (tls_record.h): the key schedule's
 * last step (HKDF-Expand-Label for key, iv and KeyUpdate), sealing and opening
 * in place with the suite's AEAD, and the record header rules.
 */
#include "tls_record.h"

#include <string.h>

#include <openssl/crypto.h>

static const char *const record_error_names[MG_TLS_REC__COUNT] = {
#define _(sym, name) [MG_TLS_REC_##sym] = #name,
	foreach_mg_tls_record_error(_)
#undef _
};

const char *mg_tls_record_error_name(enum mg_tls_record_error e)
{
	return (unsigned)e < MG_TLS_REC__COUNT ? record_error_names[e] : "unknown";
}

/*
 * OpenSSL 3.0 looks an algorithm up by name (under a read lock) every time a
 * legacy getter such as EVP_sha256() or the one-shot HMAC() is used; fetched
 * once here, the per-connection calls below skip that.
 */
static EVP_MD *md_sha256, *md_sha384;
static EVP_CIPHER *c_aes128gcm, *c_aes256gcm, *c_chacha;

MG_RESULT mg_tls_record_global_init(void)
{
	if (md_sha256 == NULL) {
		md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
		md_sha384 = EVP_MD_fetch(NULL, "SHA384", NULL);
		c_aes128gcm = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
		c_aes256gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
		c_chacha = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
	}
	MG_ENSURE(md_sha256 && md_sha384 && c_aes128gcm && c_aes256gcm && c_chacha, CRYPTO,
		  "tls: the crypto provider lacks a TLS 1.3 algorithm");
	return 0;
}

/* HMAC(key, msg) = H(key ^ opad || H(key ^ ipad || msg)), key no longer than a block. */
static bool hmac(const EVP_MD *md, const uint8_t *key, size_t key_len, const uint8_t *msg,
		 size_t msg_len, uint8_t *out)
{
	uint8_t pad[128], inner[EVP_MAX_MD_SIZE];
	size_t block = (size_t)EVP_MD_get_block_size(md);
	unsigned int n = 0;
	EVP_MD_CTX *h = EVP_MD_CTX_new();
	bool ok = h != NULL && key_len <= block && block <= sizeof(pad);

	for (int round = 0; ok && round < 2; round++) {
		memset(pad, round ? 0x5c : 0x36, block);
		for (size_t i = 0; i < key_len; i++)
			pad[i] ^= key[i];
		ok = EVP_DigestInit_ex(h, md, NULL) == 1 &&
		     EVP_DigestUpdate(h, pad, block) == 1 &&
		     EVP_DigestUpdate(h, round ? inner : msg, round ? n : msg_len) == 1 &&
		     EVP_DigestFinal_ex(h, round ? out : inner, &n) == 1;
	}
	EVP_MD_CTX_free(h);
	OPENSSL_cleanse(pad, sizeof(pad));
	OPENSSL_cleanse(inner, sizeof(inner));
	return ok;
}

/*
 * HKDF-Expand-Label(secret, label, "", len) for len <= the hash length, which
 * is all TLS 1.3 asks of it here: a single HMAC block T(1) = HMAC(secret,
 * HkdfLabel || 0x01) with HkdfLabel = len(2) || "tls13 " label (1 + n) || "" (1).
 */
static MG_RESULT expand_label(const EVP_MD *md, const uint8_t *secret, size_t secret_len,
			      const char *label, uint8_t *out, size_t len)
{
	uint8_t info[2 + 1 + 6 + 32 + 1 + 1], t[EVP_MAX_MD_SIZE];
	size_t n = strlen(label), at = 0;
	int rc = 0;

	MG_ENSURE(n <= 32 && len <= (size_t)EVP_MD_get_size(md), INTERNAL,
		  "tls: expand_label %s: %zu bytes", label, len);
	info[at++] = (uint8_t)(len >> 8);
	info[at++] = (uint8_t)len;
	info[at++] = (uint8_t)(6 + n);
	memcpy(info + at, "tls13 ", 6);
	memcpy(info + at + 6, label, n);
	at += 6 + n;
	info[at++] = 0; /* empty context */
	info[at++] = 1; /* T(1) */
	MG_ENSURE_GOTO(hmac(md, secret, secret_len, info, at, t), out, CRYPTO,
		       "tls: HMAC failed in expand_label %s", label);
	memcpy(out, t, len);
out:
	OPENSSL_cleanse(t, sizeof(t));
	return rc;
}

static const EVP_CIPHER *suite_cipher(enum mg_tls_suite s, const EVP_MD **md)
{
	if (md_sha256 == NULL && mg_tls_record_global_init() < 0)
		return NULL;
	switch (s) {
	case MG_TLS_AES_128_GCM_SHA256:
		*md = md_sha256;
		return c_aes128gcm;
	case MG_TLS_AES_256_GCM_SHA384:
		*md = md_sha384;
		return c_aes256gcm;
	case MG_TLS_CHACHA20_POLY1305_SHA256:
		*md = md_sha256;
		return c_chacha;
	}
	return NULL;
}

/* Key and IV from the current secret; the context keeps its cipher. */
static MG_RESULT rekey(struct mg_tls_dir *d)
{
	uint8_t key[32];
	int rc = 0;

	MG_GUARD_GOTO(expand_label(d->md, d->secret, d->secret_len, "key", key, d->key_len), out);
	MG_GUARD_GOTO(expand_label(d->md, d->secret, d->secret_len, "iv", d->iv, sizeof(d->iv)),
		      out);
	MG_ENSURE_GOTO(EVP_CipherInit_ex(d->aead, NULL, NULL, key, NULL, -1) == 1, out, CRYPTO,
		       "tls: cannot key the AEAD");
	d->seq = 0;
out:
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}

MG_RESULT mg_tls_dir_init(struct mg_tls_dir *d, enum mg_tls_suite suite,
			  const uint8_t *secret, size_t len)
{
	const EVP_CIPHER *c;

	memset(d, 0, sizeof(*d));
	c = suite_cipher(suite, &d->md);
	MG_ENSURE(c != NULL, PROTO_FORMAT, "tls: cipher suite 0x%04x is not TLS 1.3's", suite);
	MG_ENSURE(len == (size_t)EVP_MD_get_size(d->md), PROTO_FORMAT,
		  "tls: a %zu-byte secret for a %d-byte hash", len, EVP_MD_get_size(d->md));
	d->secret_len = (uint8_t)len;
	d->key_len = (uint8_t)EVP_CIPHER_get_key_length(c);
	memcpy(d->secret, secret, len);
	d->aead = EVP_CIPHER_CTX_new();
	MG_ENSURE(d->aead != NULL, NOMEM, "tls: no memory for an AEAD context");
	/* Encrypt or decrypt is chosen per record (EVP_CipherInit_ex's last argument). */
	if (EVP_CipherInit_ex(d->aead, c, NULL, NULL, NULL, 1) != 1) {
		mg_tls_dir_free(d);
		return mg_error_set(MG_ERR_CRYPTO, "tls: cannot set up the AEAD");
	}
	if (rekey(d) < 0) {
		mg_tls_dir_free(d);
		return -1;
	}
	return 0;
}

MG_RESULT mg_tls_dir_update(struct mg_tls_dir *d)
{
	uint8_t next[MG_TLS_MAX_SECRET];

	MG_GUARD(expand_label(d->md, d->secret, d->secret_len, "traffic upd", next,
			      d->secret_len));
	memcpy(d->secret, next, d->secret_len);
	OPENSSL_cleanse(next, sizeof(next));
	return rekey(d);
}

void mg_tls_dir_free(struct mg_tls_dir *d)
{
	EVP_CIPHER_CTX_free(d->aead);
	OPENSSL_cleanse(d, sizeof(*d));
}

/* The per-record nonce: the IV xor the sequence number, right-aligned (5.3). */
static void nonce(const struct mg_tls_dir *d, uint8_t n[12])
{
	memcpy(n, d->iv, 12);
	for (int i = 0; i < 8; i++)
		n[11 - i] ^= (uint8_t)(d->seq >> (8 * i));
}

static void header(uint8_t *h, size_t len)
{
	h[0] = MG_TLS_APPLICATION_DATA; /* opaque_type: every protected record */
	h[1] = 0x03;
	h[2] = 0x03; /* legacy_record_version */
	h[3] = (uint8_t)(len >> 8);
	h[4] = (uint8_t)len;
}

/* One AEAD pass in place over buf[0..len), with the record header as AAD. */
static bool aead(struct mg_tls_dir *d, int enc, const uint8_t *hdr, uint8_t *buf, size_t len,
		 uint8_t *tag)
{
	uint8_t n[12];
	int out = 0, fin = 0;

	nonce(d, n);
	return EVP_CipherInit_ex(d->aead, NULL, NULL, NULL, n, enc) == 1 &&
	       (enc || EVP_CIPHER_CTX_ctrl(d->aead, EVP_CTRL_AEAD_SET_TAG, MG_TLS_TAG_LEN,
					   tag) == 1) &&
	       EVP_CipherUpdate(d->aead, NULL, &out, hdr, MG_TLS_HEADER_LEN) == 1 &&
	       EVP_CipherUpdate(d->aead, buf, &out, buf, (int)len) == 1 &&
	       EVP_CipherFinal_ex(d->aead, buf + out, &fin) == 1 &&
	       (!enc || EVP_CIPHER_CTX_ctrl(d->aead, EVP_CTRL_AEAD_GET_TAG, MG_TLS_TAG_LEN,
					    tag) == 1);
}

size_t mg_tls_seal(struct mg_tls_dir *d, uint8_t type, const uint8_t *in, size_t len,
		   uint8_t *out, enum mg_tls_record_error *err)
{
	uint8_t *body = out + MG_TLS_HEADER_LEN;
	size_t inner = len + 1;

	if (d->seq == UINT64_MAX) {
		*err = MG_TLS_REC_SEQ_WRAP;
		return 0;
	}
	if (len > MG_TLS_MAX_PLAINTEXT) {
		*err = MG_TLS_REC_BAD_HEADER;
		return 0;
	}
	if (in != body)
		memmove(body, in, len);
	body[len] = type;
	header(out, inner + MG_TLS_TAG_LEN);
	if (!aead(d, 1, out, body, inner, body + inner)) {
		*err = MG_TLS_REC_BAD_MAC;
		return 0;
	}
	d->seq++;
	*err = MG_TLS_REC_OK;
	return MG_TLS_HEADER_LEN + inner + MG_TLS_TAG_LEN;
}

size_t mg_tls_record_len(const uint8_t *buf, size_t have)
{
	if (have < MG_TLS_HEADER_LEN)
		return 0;
	return MG_TLS_HEADER_LEN + ((size_t)buf[3] << 8 | buf[4]);
}

enum mg_tls_record_error mg_tls_open(struct mg_tls_dir *d, uint8_t *rec, size_t len,
				     size_t *plain_len, uint8_t *type)
{
	size_t body_len = len - MG_TLS_HEADER_LEN, n;
	uint8_t *body = rec + MG_TLS_HEADER_LEN;

	if (len < MG_TLS_HEADER_LEN || mg_tls_record_len(rec, len) != len)
		return MG_TLS_REC_SHORT;
	/* Protected records are application_data 0x0303; a middlebox CCS is not ours here. */
	if (rec[0] != MG_TLS_APPLICATION_DATA || rec[1] != 0x03 || rec[2] != 0x03 ||
	    body_len < MG_TLS_TAG_LEN + 1 || body_len > MG_TLS_MAX_CIPHERTEXT)
		return MG_TLS_REC_BAD_HEADER;
	if (d->seq == UINT64_MAX)
		return MG_TLS_REC_SEQ_WRAP;
	n = body_len - MG_TLS_TAG_LEN;
	if (!aead(d, 0, rec, body, n, body + n))
		return MG_TLS_REC_BAD_MAC;
	d->seq++;
	while (n > 0 && body[n - 1] == 0) /* zero padding after the inner type */
		n--;
	if (n == 0)
		return MG_TLS_REC_NO_CONTENT_TYPE;
	*type = body[n - 1];
	*plain_len = n - 1;
	return n - 1 > MG_TLS_MAX_PLAINTEXT ? MG_TLS_REC_BAD_HEADER : MG_TLS_REC_OK;
}
