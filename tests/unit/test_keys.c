/* SPDX-License-Identifier: BSD-3-Clause */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "filehash.h"
#include "keys.h"

/* Unit tests run in tests/unit (meson workdir). */
#define KEYS "../data/keys/"
#define ED25519_ID "80b94a6898e5def99d02cc5056ec05a562ccffc006a009e92f1c807cce7325ee"
#define P256_ID "b4dd6c79f2bc6b5605ff130c0c06cf5a109a657a9508bd1048ab5c55b9c09988"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/mg-test-keys-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	static const char *const names[] = { "k.key", "k.pub", "x.key", "x.pub" };
	char p[128];

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		unlink(p);
	}
	return rmdir(dir);
}

static void path(char *buf, const char *name)
{
	snprintf(buf, 128, "%s/%s", dir, name);
}

static void id_hex(const struct mg_key *k, char hex[65])
{
	mg_hex(mg_key_id(k), MG_KEY_ID_LEN, hex);
}

static void roundtrip(enum mg_key_alg alg)
{
	static const uint8_t msg[] = "a snapshot's signed bytes";
	struct mg_key *k, *priv, *pub;
	char kp[128], pp[128], a[65], b[65];
	uint8_t sig[MG_KEY_SIG_MAX];
	size_t sig_len = 0;

	path(kp, "k.key");
	path(pp, "k.pub");
	assert_int_equal(mg_key_generate(alg, &k), 0);
	assert_int_equal(mg_key_write(k, kp, pp), 0);
	assert_int_equal(mg_key_load_private(kp, &priv), 0);
	assert_int_equal(mg_key_load_public(pp, &pub), 0);
	assert_int_equal(mg_key_get_alg(pub), alg);
	assert_true(mg_key_has_private(priv));
	assert_false(mg_key_has_private(pub));
	id_hex(k, a);
	id_hex(pub, b);
	assert_string_equal(a, b);
	id_hex(priv, b);
	assert_string_equal(a, b);
	assert_int_equal(mg_key_sign(priv, msg, sizeof(msg), sig, &sig_len), 0);
	if (alg == MG_KEY_ED25519)
		assert_int_equal(sig_len, 64);
	else
		assert_in_range(sig_len, 8, MG_KEY_SIG_MAX);
	assert_int_equal(mg_key_verify(pub, msg, sizeof(msg), sig, sig_len), 0);
	mg_key_free(k);
	mg_key_free(priv);
	mg_key_free(pub);
	unlink(kp);
	unlink(pp);
}

static void ed25519_generate_write_load_sign(void **state)
{
	(void)state;
	roundtrip(MG_KEY_ED25519);
}

static void p256_generate_write_load_sign(void **state)
{
	(void)state;
	roundtrip(MG_KEY_P256);
}

static void key_files_are_0600_and_0644(void **state)
{
	char kp[128], pp[128];
	struct mg_key *k;
	struct stat st;
	mode_t old = umask(077);

	(void)state;
	path(kp, "k.key");
	path(pp, "k.pub");
	assert_int_equal(mg_key_generate(MG_KEY_ED25519, &k), 0);
	assert_int_equal(mg_key_write(k, kp, pp), 0);
	umask(old);
	assert_int_equal(stat(kp, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(pp, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	mg_key_free(k);
	unlink(kp);
	unlink(pp);
}

static void write_never_overwrites(void **state)
{
	char kp[128], pp[128], xp[128];
	struct mg_key *k;
	struct stat st;
	FILE *f;

	(void)state;
	path(kp, "k.key");
	path(pp, "k.pub");
	path(xp, "x.key");
	assert_int_equal(mg_key_generate(MG_KEY_ED25519, &k), 0);
	f = fopen(kp, "w");
	fputs("keep me", f);
	fclose(f);
	mg_error_clear();
	assert_int_equal(mg_key_write(k, kp, pp), -1);
	assert_int_equal(mg_errno(), MG_ERR_IO);
	assert_non_null(strstr(mg_errmsg(), "File exists"));
	assert_int_equal(stat(kp, &st), 0);
	assert_int_equal(st.st_size, 7);
	assert_int_not_equal(stat(pp, &st), 0);
	/* The public file exists: the private one just written is taken back. */
	assert_int_equal(mg_key_write(k, xp, kp), -1);
	assert_int_not_equal(stat(xp, &st), 0);
	mg_key_free(k);
	unlink(kp);
}

static void key_id_is_sha256_of_spki(void **state)
{
	struct mg_key *k;
	char hex[65];

	(void)state;
	assert_int_equal(mg_key_load_public(KEYS "ed25519.pub", &k), 0);
	id_hex(k, hex);
	assert_string_equal(hex, ED25519_ID);
	mg_key_free(k);
	assert_int_equal(mg_key_load_private(KEYS "p256.key", &k), 0);
	id_hex(k, hex);
	assert_string_equal(hex, P256_ID);
	mg_key_free(k);
}

/*
 * One P-256 key written three ways (uncompressed, compressed point, explicit
 * curve parameters; public and private): one id, the id openssl gives the
 * usual (uncompressed, named curve) file, so ids already in use stay.
 */
static void one_key_has_one_id_however_encoded(void **state)
{
	static const char *const pub[] = { KEYS "p256.pub", KEYS "p256-compressed.pub",
					   KEYS "p256-explicit.pub" };
	struct mg_key *ref, *k;
	char hex[65];

	(void)state;
	assert_int_equal(mg_key_load_public(KEYS "p256.pub", &ref), 0);
	for (size_t i = 0; i < sizeof(pub) / sizeof(pub[0]); i++) {
		if (mg_key_load_public(pub[i], &k) < 0)
			fail_msg("%s: %s", pub[i], mg_errmsg());
		id_hex(k, hex);
		if (strcmp(hex, P256_ID))
			fail_msg("%s: id %s, want %s", pub[i], hex, P256_ID);
		assert_true(mg_key_same(ref, k));
		mg_key_free(k);
	}
	assert_int_equal(mg_key_load_private(KEYS "p256-compressed.key", &k), 0);
	id_hex(k, hex);
	assert_string_equal(hex, P256_ID);
	assert_true(mg_key_same(ref, k));
	mg_key_free(k);
	mg_key_free(ref);
}

/* mg_key_find_same: any two entries holding one key, whatever their type mix. */
static void find_same_names_the_first_pair(void **state)
{
	struct mg_key *k[4];
	size_t a = 9, b = 9;

	(void)state;
	assert_int_equal(mg_key_load_public(KEYS "ed25519.pub", &k[0]), 0);
	assert_int_equal(mg_key_load_public(KEYS "p256.pub", &k[1]), 0);
	assert_int_equal(mg_key_load_public(KEYS "ed25519-b.pub", &k[2]), 0);
	assert_int_equal(mg_key_load_public(KEYS "p256-compressed.pub", &k[3]), 0);
	assert_false(mg_key_same(k[0], k[1])); /* different types: not comparable */
	assert_false(mg_key_same(k[0], k[2]));
	assert_false(mg_key_find_same(k, 3, &a, &b));
	assert_int_equal(a, 9);
	assert_true(mg_key_find_same(k, 4, &a, &b));
	assert_int_equal(a, 1);
	assert_int_equal(b, 3);
	for (int i = 0; i < 4; i++)
		mg_key_free(k[i]);
}

static size_t slurp(const char *p, uint8_t *buf, size_t cap)
{
	FILE *f = fopen(p, "rb");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, cap, f);
	fclose(f);
	return n;
}

/* Signatures made by the openssl CLI verify: external signers need no meshgw code. */
static void openssl_cli_signatures_verify(void **state)
{
	static const char *const pairs[][2] = {
		{ KEYS "ed25519.pub", KEYS "message.ed25519.sig" },
		{ KEYS "p256.pub", KEYS "message.p256.sig" },
	};
	uint8_t msg[256], sig[256];

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		size_t mlen = slurp(KEYS "message.txt", msg, sizeof(msg));
		size_t slen = slurp(pairs[i][1], sig, sizeof(sig));
		struct mg_key *k;

		assert_int_equal(mg_key_load_public(pairs[i][0], &k), 0);
		assert_int_equal(mg_key_verify(k, msg, mlen, sig, slen), 0);
		msg[0] ^= 1;
		mg_error_clear();
		assert_int_equal(mg_key_verify(k, msg, mlen, sig, slen), -1);
		assert_int_equal(mg_errno(), MG_ERR_PROTO_SIGNATURE);
		mg_key_free(k);
	}
}

static void wrong_signature_refused(void **state)
{
	static const uint8_t msg[] = "message";
	struct mg_key *a, *b;
	uint8_t sig[MG_KEY_SIG_MAX];
	size_t n;

	(void)state;
	assert_int_equal(mg_key_load_private(KEYS "ed25519.key", &a), 0);
	assert_int_equal(mg_key_load_private(KEYS "ed25519-b.key", &b), 0);
	assert_int_equal(mg_key_sign(a, msg, sizeof(msg), sig, &n), 0);
	mg_error_clear();
	assert_int_equal(mg_key_verify(b, msg, sizeof(msg), sig, n), -1);
	assert_int_equal(mg_errno(), MG_ERR_PROTO_SIGNATURE);
	assert_non_null(strstr(mg_errmsg(), "bad ed25519 signature"));
	sig[10] ^= 0x40;
	assert_int_equal(mg_key_verify(a, msg, sizeof(msg), sig, n), -1);
	assert_int_equal(mg_errno(), MG_ERR_PROTO_SIGNATURE);
	/* Too short to be a signature at all: still just a bad signature. */
	assert_int_equal(mg_key_verify(a, msg, sizeof(msg), sig, 3), -1);
	assert_int_equal(mg_errno(), MG_ERR_PROTO_SIGNATURE);
	mg_key_free(a);
	mg_key_free(b);
}

static void unsupported_key_types_refused(void **state)
{
	static const char *const files[] = { KEYS "p384.pub", KEYS "x25519.pub", KEYS "rsa.pub" };
	struct mg_key *k = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		mg_error_clear();
		assert_int_equal(mg_key_load_public(files[i], &k), -1);
		assert_int_equal(mg_errno(), MG_ERR_PROTO_FORMAT);
		assert_non_null(strstr(mg_errmsg(), "unsupported"));
		assert_non_null(strstr(mg_errmsg(), files[i]));
	}
}

static void encrypted_private_key_refused_without_prompt(void **state)
{
	struct mg_key *k = NULL;

	(void)state;
	mg_error_clear();
	assert_int_equal(mg_key_load_private(KEYS "encrypted.key", &k), -1);
	assert_int_equal(mg_errno(), MG_ERR_PROTO_FORMAT);
	assert_non_null(strstr(mg_errmsg(), "encrypted private keys are not supported"));
}

static void wrong_kind_of_pem_refused(void **state)
{
	static const char junk[] = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
	struct mg_key *k = NULL;

	(void)state;
	mg_error_clear();
	assert_int_equal(mg_key_load_public(KEYS "ed25519.key", &k), -1);
	assert_int_equal(mg_errno(), MG_ERR_PROTO_FORMAT);
	assert_non_null(strstr(mg_errmsg(), "not a PEM public key"));
	assert_int_equal(mg_key_load_private(KEYS "ed25519.pub", &k), -1);
	assert_int_equal(mg_errno(), MG_ERR_PROTO_FORMAT);
	assert_non_null(strstr(mg_errmsg(), "not a PEM private key"));
	assert_int_equal(mg_key_from_pem(junk, sizeof(junk) - 1, false, &k), -1);
	assert_int_equal(mg_errno(), MG_ERR_PROTO_FORMAT);
	assert_int_equal(mg_key_load_public("../data/keys/no-such.pub", &k), -1);
	assert_int_equal(mg_errno(), MG_ERR_IO);
}

static void public_key_cannot_sign(void **state)
{
	struct mg_key *k;
	uint8_t sig[MG_KEY_SIG_MAX];
	size_t n;
	char kp[128];

	(void)state;
	path(kp, "k.key");
	assert_int_equal(mg_key_load_public(KEYS "p256.pub", &k), 0);
	mg_error_clear();
	assert_int_equal(mg_key_sign(k, (const uint8_t *)"m", 1, sig, &n), -1);
	assert_int_equal(mg_errno(), MG_ERR_USAGE);
	assert_int_equal(mg_key_write(k, kp, kp), -1);
	assert_int_equal(mg_errno(), MG_ERR_USAGE);
	mg_key_free(k);
}

static void algorithm_names(void **state)
{
	enum mg_key_alg a;

	(void)state;
	assert_int_equal(mg_key_alg_parse("ed25519", &a), 0);
	assert_int_equal(a, MG_KEY_ED25519);
	assert_int_equal(mg_key_alg_parse("p256", &a), 0);
	assert_int_equal(a, MG_KEY_P256);
	assert_int_equal(mg_key_alg_parse("prime256v1", &a), 0);
	assert_int_equal(a, MG_KEY_P256);
	mg_error_clear();
	assert_int_equal(mg_key_alg_parse("rsa", &a), -1);
	assert_int_equal(mg_errno(), MG_ERR_USAGE);
	assert_string_equal(mg_key_alg_name(MG_KEY_ED25519), "ed25519");
	assert_string_equal(mg_key_alg_name(MG_KEY_P256), "p256");
	assert_string_equal(mg_key_alg_name((enum mg_key_alg)9), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ed25519_generate_write_load_sign),
		cmocka_unit_test(p256_generate_write_load_sign),
		cmocka_unit_test(key_files_are_0600_and_0644),
		cmocka_unit_test(write_never_overwrites),
		cmocka_unit_test(key_id_is_sha256_of_spki),
		cmocka_unit_test(one_key_has_one_id_however_encoded),
		cmocka_unit_test(find_same_names_the_first_pair),
		cmocka_unit_test(openssl_cli_signatures_verify),
		cmocka_unit_test(wrong_signature_refused),
		cmocka_unit_test(unsupported_key_types_refused),
		cmocka_unit_test(encrypted_private_key_refused_without_prompt),
		cmocka_unit_test(wrong_kind_of_pem_refused),
		cmocka_unit_test(public_key_cannot_sign),
		cmocka_unit_test(algorithm_names),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
