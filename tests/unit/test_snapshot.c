/* SPDX-License-Identifier: BSD-3-Clause */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "keys.h"
#include "snapshot.h"

#define KEYS "../data/keys/"
#define CAP MG_SNAPSHOT_DEFAULT_CAP
#define POLICY "trust_domain = \"example.org\";\ndefault = \"deny\";\n"

/* Private keys that sign; the same keys as a trust list. */
static struct mg_key *ed, *p256, *edb;
static struct mg_key *trust[3];
static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/mg-test-snapshot-XXXXXX");
	if (!mkdtemp(dir) || mg_key_load_private(KEYS "ed25519.key", &ed) ||
	    mg_key_load_private(KEYS "p256.key", &p256) ||
	    mg_key_load_private(KEYS "ed25519-b.key", &edb) ||
	    mg_key_load_public(KEYS "ed25519.pub", &trust[0]) ||
	    mg_key_load_public(KEYS "p256.pub", &trust[1]) ||
	    mg_key_load_public(KEYS "ed25519-b.pub", &trust[2]))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	mg_key_free(ed);
	mg_key_free(p256);
	mg_key_free(edb);
	for (int i = 0; i < 3; i++)
		mg_key_free(trust[i]);
	return rmdir(dir);
}

struct env {
	uint8_t *b;
	size_t len;
	struct mg_snapshot_view v;
};

static void build(struct env *e, uint64_t version, const char *policy)
{
	struct mg_snapshot_meta m = { .version = version, .not_before = 1000, .expires = 2000 };

	assert_int_equal(mg_snapshot_build((const uint8_t *)policy, strlen(policy), &m, &e->b,
					   &e->len), 0);
	assert_int_equal(mg_snapshot_parse(e->b, e->len, CAP, &e->v), 0);
}

static void sign(struct env *e, const struct mg_key *k)
{
	uint8_t *nb;
	size_t nlen;

	assert_int_equal(mg_snapshot_sign(&e->v, k, &nb, &nlen), 0);
	free(e->b);
	e->b = nb;
	e->len = nlen;
	assert_int_equal(mg_snapshot_parse(e->b, e->len, CAP, &e->v), 0);
}

/* Version 7, signed by ed25519, p256 and ed25519-b, in that order. */
static void build_signed(struct env *e, unsigned n_signers)
{
	struct mg_key *k[3] = { ed, p256, edb };

	build(e, 7, POLICY);
	for (unsigned i = 0; i < n_signers; i++)
		sign(e, k[i]);
}

static int verify(const uint8_t *b, size_t len, unsigned threshold,
		  struct mg_snapshot_verdict *r)
{
	struct mg_snapshot_view v;

	if (mg_snapshot_parse(b, len, CAP, &v) < 0)
		return -1;
	return mg_snapshot_verify(&v, trust, 3, threshold, r);
}

static void expect_parse_error(const uint8_t *b, size_t len, enum mg_err code, const char *part)
{
	struct mg_snapshot_view v;

	mg_error_clear();
	assert_int_equal(mg_snapshot_parse(b, len, CAP, &v), -1);
	assert_int_equal(mg_errno(), code);
	if (part && !strstr(mg_errmsg(), part))
		fail_msg("'%s' not in '%s'", part, mg_errmsg());
}

static void put_be(uint8_t *p, uint64_t x, unsigned n)
{
	for (unsigned i = n; i-- > 0; x >>= 8)
		p[i] = (uint8_t)x;
}

/* ---- build and parse ---------------------------------------------------- */

static void build_parse_round_trip(void **state)
{
	struct env e;

	(void)state;
	build(&e, 42, POLICY);
	assert_int_equal(e.len, MG_SNAPSHOT_OVERHEAD + strlen(POLICY));
	assert_int_equal(e.v.meta.version, 42);
	assert_int_equal(e.v.meta.not_before, 1000);
	assert_int_equal(e.v.meta.expires, 2000);
	assert_int_equal(e.v.payload_len, strlen(POLICY));
	assert_memory_equal(e.v.payload, POLICY, strlen(POLICY));
	assert_int_equal(e.v.signed_len, MG_SNAPSHOT_HEADER_LEN + strlen(POLICY));
	assert_int_equal(e.v.n_sigs, 0);
	free(e.b);
}

/* The byte layout snapshot.h documents, for external tools. */
static void header_layout_is_the_documented_one(void **state)
{
	static const uint8_t head[16] = { 'M', 'G', 'S', 'N', 'A', 'P', '\r', '\n',
					  0, 1, 0, 80, 0, 0, 0, 0 };
	struct env e;

	(void)state;
	build(&e, 0x0102030405060708ULL, "x");
	assert_memory_equal(e.b, head, 16);
	assert_memory_equal(e.b + 16, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	assert_memory_equal(e.b + 24, "\0\0\0\0\0\0\x03\xe8", 8);
	assert_memory_equal(e.b + 32, "\0\0\0\0\0\0\x07\xd0", 8);
	assert_memory_equal(e.b + 40, "\0\0\0\0\0\0\0\x01", 8);
	/* SHA-256("x") */
	assert_memory_equal(e.b + 48, "\x2d\x71\x16\x42\xb7\x26\xb0\x44\x01\x62\x7c\xa9\xfb\xac"
				      "\x32\xf5\xc8\x53\x0f\xb1\x90\x3c\xc4\xdb\x02\x25\x87\x17"
				      "\x92\x1a\x48\x81", 32);
	assert_int_equal(e.b[80], 'x');
	assert_memory_equal(e.b + 81, "\0\0", 2);
	free(e.b);
}

static void build_is_deterministic(void **state)
{
	struct env a, b, c;

	(void)state;
	build(&a, 9, POLICY);
	build(&b, 9, POLICY);
	build(&c, 10, POLICY);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.b, b.b, a.len);
	assert_memory_not_equal(a.b, c.b, a.len);
	free(a.b);
	free(b.b);
	free(c.b);
}

static void build_refuses_bad_meta(void **state)
{
	struct mg_snapshot_meta zero = { .version = 0, .not_before = 0, .expires = 10 };
	struct mg_snapshot_meta backwards = { .version = 1, .not_before = 10, .expires = 10 };
	uint8_t *b = NULL;
	size_t len;

	(void)state;
	mg_error_clear();
	assert_int_equal(mg_snapshot_build((const uint8_t *)"x", 1, &zero, &b, &len), -1);
	assert_int_equal(mg_errno(), MG_ERR_USAGE);
	assert_int_equal(mg_snapshot_build((const uint8_t *)"x", 1, &backwards, &b, &len), -1);
	assert_int_equal(mg_errno(), MG_ERR_USAGE);
	assert_non_null(strstr(mg_errmsg(), "later than not-before"));
	assert_null(b);
}

static void empty_payload_allowed(void **state)
{
	struct env e;

	(void)state;
	build(&e, 1, "");
	assert_int_equal(e.v.payload_len, 0);
	free(e.b);
}

static void truncated_anywhere_refused(void **state)
{
	struct env e;

	(void)state;
	build_signed(&e, 2);
	/* Every prefix: inside the magic, each header field, payload, count, entries. */
	for (size_t n = 0; n < e.len; n++)
		expect_parse_error(e.b, n, MG_ERR_PROTO_FORMAT, "truncated");
	free(e.b);
}

static void trailing_bytes_refused(void **state)
{
	struct env e;
	uint8_t *b;

	(void)state;
	build_signed(&e, 1);
	b = malloc(e.len + 1);
	memcpy(b, e.b, e.len);
	b[e.len] = 0;
	expect_parse_error(b, e.len + 1, MG_ERR_PROTO_FORMAT, "1 trailing bytes");
	free(b);
	free(e.b);
}

static void bad_header_fields_refused(void **state)
{
	static const struct {
		size_t off;
		unsigned n;
		uint64_t value;
		const char *msg;
	} cases[] = {
		{ 0, 1, 'X', "bad magic" },
		{ 7, 1, 0, "bad magic" },
		{ 8, 2, 2, "unsupported format version 2" },
		{ 8, 2, 0, "unsupported format version 0" },
		{ 10, 2, 96, "header length 96" },
		{ 12, 4, 1, "reserved flags" },
		{ 16, 8, 0, "policy version 0" },
		{ 24, 8, 2000, "not after not-before" },
		{ 32, 8, 999, "not after not-before" },
		{ 40, 8, UINT64_MAX, "truncated payload" },
		{ 40, 8, 10000, "truncated payload" },
	};
	struct env e;

	(void)state;
	build_signed(&e, 1);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t *b = malloc(e.len);

		memcpy(b, e.b, e.len);
		put_be(b + cases[i].off, cases[i].value, cases[i].n);
		expect_parse_error(b, e.len, MG_ERR_PROTO_FORMAT, cases[i].msg);
		free(b);
	}
	free(e.b);
}

static void payload_digest_mismatch_refused(void **state)
{
	struct env e;

	(void)state;
	build_signed(&e, 2);
	e.b[MG_SNAPSHOT_HEADER_LEN + 3] ^= 0x20;
	expect_parse_error(e.b, e.len, MG_ERR_PROTO_FORMAT, "payload SHA-256");
	free(e.b);
}

static void shorter_payload_length_is_a_framing_error(void **state)
{
	struct env e;

	(void)state;
	build_signed(&e, 1);
	/* One payload byte less: the rest no longer frames as a signature block. */
	put_be(e.b + 40, e.v.payload_len - 1, 8);
	expect_parse_error(e.b, e.len, MG_ERR_PROTO_FORMAT, NULL);
	free(e.b);
}

static void too_many_signatures_refused(void **state)
{
	struct env e;

	(void)state;
	build(&e, 3, POLICY);
	put_be(e.b + e.v.signed_len, MG_SNAPSHOT_MAX_SIGS + 1, 2);
	expect_parse_error(e.b, e.len, MG_ERR_PROTO_FORMAT, "17 signatures (at most 16)");
	free(e.b);
}

static void bad_signature_entries_refused(void **state)
{
	struct env e;
	size_t entry;

	(void)state;
	build_signed(&e, 1);
	entry = e.v.signed_len + 2;
	e.b[entry + 32] = 3;
	expect_parse_error(e.b, e.len, MG_ERR_PROTO_FORMAT, "unknown signature algorithm 3");
	e.b[entry + 32] = MG_KEY_ED25519;
	put_be(e.b + entry + 33, 63, 2);
	expect_parse_error(e.b, e.len, MG_ERR_PROTO_FORMAT, "must be 64");
	put_be(e.b + entry + 33, 0xffff, 2);
	expect_parse_error(e.b, e.len, MG_ERR_PROTO_FORMAT, NULL);
	free(e.b);
}

static void size_cap_checked_first(void **state)
{
	struct mg_snapshot_view v;
	struct env e;

	(void)state;
	build_signed(&e, 1);
	mg_error_clear();
	assert_int_equal(mg_snapshot_parse(e.b, e.len, e.len - 1, &v), -1);
	assert_int_equal(mg_errno(), MG_ERR_IO_TOO_BIG);
	assert_non_null(strstr(mg_errmsg(), "exceeds the cap"));
	assert_int_equal(mg_snapshot_parse(e.b, e.len, e.len, &v), 0);
	/* Garbage over the cap is refused for its size, before anything is read. */
	e.b[0] = 'X';
	assert_int_equal(mg_snapshot_parse(e.b, e.len, 16, &v), -1);
	assert_int_equal(mg_errno(), MG_ERR_IO_TOO_BIG);
	free(e.b);
}

/* ---- signatures --------------------------------------------------------- */

static void threshold_met_by_ed25519_and_p256(void **state)
{
	struct mg_snapshot_verdict r;
	struct env e;

	(void)state;
	build_signed(&e, 2);
	assert_int_equal(e.v.n_sigs, 2);
	assert_int_equal(e.v.sigs[0].alg, MG_KEY_ED25519);
	assert_int_equal(e.v.sigs[1].alg, MG_KEY_P256);
	assert_int_equal(mg_snapshot_verify(&e.v, trust, 3, 2, &r), 0);
	assert_int_equal(r.n_valid, 2);
	assert_memory_equal(r.signers[0], mg_key_id(ed), MG_KEY_ID_LEN);
	assert_memory_equal(r.signers[1], mg_key_id(p256), MG_KEY_ID_LEN);
	assert_int_equal(r.status[0], MG_SNAPSHOT_SIG_VALID);
	assert_int_equal(r.status[1], MG_SNAPSHOT_SIG_VALID);
	free(e.b);
}

static void k_minus_one_signatures_refused(void **state)
{
	struct mg_snapshot_verdict r;
	struct env e;

	(void)state;
	build_signed(&e, 1);
	mg_error_clear();
	assert_int_equal(mg_snapshot_verify(&e.v, trust, 3, 2, &r), -1);
	assert_int_equal(mg_errno(), MG_ERR_PROTO_SIGNATURE);
	assert_non_null(strstr(mg_errmsg(), "1 valid signature from distinct trusted keys, 2 "
					   "required"));
	assert_int_equal(r.n_valid, 1);
	free(e.b);
}

/* Copy signature entry 0 to the end: one key, two entries. */
static void duplicate_first_entry(struct env *e)
{
	size_t entry = e->v.signed_len + 2;
	size_t n = 35 + e->v.sigs[0].len;
	uint8_t *b = malloc(e->len + n);

	memcpy(b, e->b, e->len);
	memcpy(b + e->len, e->b + entry, n);
	put_be(b + e->v.signed_len, e->v.n_sigs + 1, 2);
	free(e->b);
	e->b = b;
	e->len += n;
	assert_int_equal(mg_snapshot_parse(e->b, e->len, CAP, &e->v), 0);
}

static void one_key_signing_twice_counts_once(void **state)
{
	struct mg_snapshot_verdict r;
	struct env e;

	(void)state;
	build_signed(&e, 1);
	duplicate_first_entry(&e);
	assert_int_equal(e.v.n_sigs, 2);
	mg_error_clear();
	assert_int_equal(mg_snapshot_verify(&e.v, trust, 3, 2, &r), -1);
	assert_int_equal(mg_errno(), MG_ERR_PROTO_SIGNATURE);
	assert_non_null(strstr(mg_errmsg(), "1 duplicate"));
	assert_int_equal(r.n_valid, 1);
	assert_int_equal(r.status[1], MG_SNAPSHOT_SIG_DUPLICATE);
	free(e.b);
}

static void same_key_twice_in_trust_list_counts_once(void **state)
{
	struct mg_key *twice[2] = { trust[0], trust[0] };
	struct env e;

	(void)state;
	build_signed(&e, 1);
	mg_error_clear();
	assert_int_equal(mg_snapshot_verify(&e.v, twice, 2, 2, NULL), -1);
	assert_int_equal(mg_errno(), MG_ERR_PROTO_SIGNATURE);
	free(e.b);
}

/*
 * The id an earlier build gave the P-256 test key read from its compressed
 * file: SHA-256 of i2d_PUBKEY, which kept the compressed point
 * (openssl pkey -pubin -in p256-compressed.pub -outform DER | sha256sum).
 */
#define P256_COMPRESSED_OLD_ID "a26fdd8e040fc51d4b86e9157ea09b02abee84a63661caf6a2c2a64224ae3089"

static void unhex(const char *hex, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned b;

		assert_int_equal(sscanf(hex + 2 * i, "%2x", &b), 1);
		out[i] = (uint8_t)b;
	}
}

/*
 * One P-256 key trusted from its uncompressed and its compressed file, one
 * signature entered under the id of each: it must count once. The trust
 * list carries both ids a build hashing i2d_PUBKEY would have given.
 */
static void same_key_in_two_encodings_counts_once(void **state)
{
	struct mg_key *two[2];
	struct mg_snapshot_verdict r;
	uint8_t old_id[MG_KEY_ID_LEN], *nb;
	size_t nlen;
	struct env e;

	(void)state;
	assert_int_equal(mg_key_load_public(KEYS "p256.pub", &two[0]), 0);
	assert_int_equal(mg_key_load_public(KEYS "p256-compressed.pub", &two[1]), 0);
	build(&e, 7, POLICY);
	sign(&e, p256);
	unhex(P256_COMPRESSED_OLD_ID, old_id, sizeof(old_id));
	assert_int_equal(mg_snapshot_add_signature(&e.v, old_id, MG_KEY_P256, e.v.sigs[0].bytes,
						   e.v.sigs[0].len, &nb, &nlen), 0);
	free(e.b);
	e.b = nb;
	e.len = nlen;
	assert_int_equal(mg_snapshot_parse(e.b, e.len, CAP, &e.v), 0);
	mg_error_clear();
	assert_int_equal(mg_snapshot_verify(&e.v, two, 2, 2, &r), -1);
	assert_int_equal(mg_errno(), MG_ERR_PROTO_SIGNATURE);
	assert_int_equal(r.n_valid, 1);
	assert_int_equal(r.status[0], MG_SNAPSHOT_SIG_VALID);
	assert_int_equal(r.status[1], MG_SNAPSHOT_SIG_UNKNOWN_KEY);
	mg_key_free(two[0]);
	mg_key_free(two[1]);
	free(e.b);
}

/* sign and attach refuse the same key once more, in whatever encoding it comes. */
static void same_key_in_another_encoding_signs_once(void **state)
{
	struct mg_key *kc, *pubc;
	uint8_t *nb = NULL;
	size_t nlen;
	struct env e;

	(void)state;
	assert_int_equal(mg_key_load_private(KEYS "p256-compressed.key", &kc), 0);
	assert_int_equal(mg_key_load_public(KEYS "p256-compressed.pub", &pubc), 0);
	build(&e, 7, POLICY);
	sign(&e, p256);
	mg_error_clear();
	assert_int_equal(mg_snapshot_sign(&e.v, kc, &nb, &nlen), -1);
	assert_int_equal(mg_errno(), MG_ERR_PROTO_SIGNATURE);
	assert_non_null(strstr(mg_errmsg(), "has signed this snapshot already"));
	assert_int_equal(mg_snapshot_attach(&e.v, pubc, e.v.sigs[0].bytes, e.v.sigs[0].len, &nb,
					    &nlen), -1);
	assert_int_equal(mg_errno(), MG_ERR_PROTO_SIGNATURE);
	assert_non_null(strstr(mg_errmsg(), "has signed this snapshot already"));
	assert_null(nb);
	mg_key_free(kc);
	mg_key_free(pubc);
	free(e.b);
}

static void unknown_key_does_not_count(void **state)
{
	struct mg_snapshot_verdict r;
	struct env e;

	(void)state;
	build_signed(&e, 3);
	/* Trust only ed25519 and p256: ed25519-b's signature is an unknown key. */
	assert_int_equal(mg_snapshot_verify(&e.v, trust, 2, 2, &r), 0);
	assert_int_equal(r.status[2], MG_SNAPSHOT_SIG_UNKNOWN_KEY);
	mg_error_clear();
	assert_int_equal(mg_snapshot_verify(&e.v, trust, 2, 3, &r), -1);
	assert_int_equal(mg_errno(), MG_ERR_PROTO_SIGNATURE);
	assert_non_null(strstr(mg_errmsg(), "1 unknown key"));
	free(e.b);
}

static void bad_signature_does_not_count(void **state)
{
	struct mg_snapshot_verdict r;
	struct env e;

	(void)state;
	build_signed(&e, 2);
	e.b[e.v.signed_len + 2 + 35 + 5] ^= 1; /* inside signature 0 */
	mg_error_clear();
	assert_int_equal(verify(e.b, e.len, 2, &r), -1);
	assert_int_equal(mg_errno(), MG_ERR_PROTO_SIGNATURE);
	assert_int_equal(r.status[0], MG_SNAPSHOT_SIG_BAD);
	assert_int_equal(r.status[1], MG_SNAPSHOT_SIG_VALID);
	assert_non_null(strstr(mg_errmsg(), "1 bad"));
	free(e.b);
}

static void algorithm_mismatch_is_bad(void **state)
{
	struct mg_snapshot_verdict r;
	struct env e;
	uint8_t *b;
	size_t len;

	(void)state;
	build(&e, 7, POLICY);
	/* A well-formed P-256-sized entry claiming the Ed25519 key's id. */
	assert_int_equal(mg_snapshot_add_signature(&e.v, mg_key_id(ed), MG_KEY_P256,
						   (const uint8_t *)"0123456789", 10, &b, &len), 0);
	mg_error_clear();
	assert_int_equal(verify(b, len, 1, &r), -1);
	assert_int_equal(mg_errno(), MG_ERR_PROTO_SIGNATURE);
	assert_int_equal(r.status[0], MG_SNAPSHOT_SIG_BAD);
	free(b);
	free(e.b);
}

/* Every single flipped byte of a 2-of-3 snapshot is refused, by parse or verify. */
static void any_flipped_byte_refused(void **state)
{
	struct env e;

	(void)state;
	build_signed(&e, 2);
	for (size_t i = 0; i < e.len; i++) {
		e.b[i] ^= 0x01;
		mg_error_clear();
		if (verify(e.b, e.len, 2, NULL) == 0)
			fail_msg("flipped byte %zu accepted", i);
		assert_true(mg_errno() == MG_ERR_PROTO_FORMAT ||
			    mg_errno() == MG_ERR_PROTO_SIGNATURE);
		e.b[i] ^= 0x01;
	}
	assert_int_equal(verify(e.b, e.len, 2, NULL), 0);
	free(e.b);
}

static void flipped_header_byte_fails_signatures(void **state)
{
	struct env e;

	(void)state;
	build_signed(&e, 2);
	e.b[23] ^= 0x02; /* version 7 -> 5 */
	mg_error_clear();
	assert_int_equal(verify(e.b, e.len, 1, NULL), -1);
	assert_int_equal(mg_errno(), MG_ERR_PROTO_SIGNATURE);
	free(e.b);
}

static void payload_swapped_with_matching_digest_fails_signatures(void **state)
{
	struct env e, other;

	(void)state;
	build_signed(&e, 2);
	build(&other, 7, "trust_domain = \"example.org\";\ndefault = \"open\";\n");
	assert_int_equal(other.v.payload_len, e.v.payload_len);
	/* An attacker who fixes the header digest still cannot fix the signatures. */
	memcpy(e.b + 48, other.b + 48, 32 + other.v.payload_len);
	mg_error_clear();
	assert_int_equal(verify(e.b, e.len, 1, NULL), -1);
	assert_int_equal(mg_errno(), MG_ERR_PROTO_SIGNATURE);
	free(e.b);
	free(other.b);
}

static void threshold_zero_is_a_usage_error(void **state)
{
	struct env e;

	(void)state;
	build_signed(&e, 1);
	mg_error_clear();
	assert_int_equal(mg_snapshot_verify(&e.v, trust, 3, 0, NULL), -1);
	assert_int_equal(mg_errno(), MG_ERR_USAGE);
	free(e.b);
}

static void signing_twice_with_one_key_refused(void **state)
{
	struct env e;
	uint8_t *b = NULL;
	size_t len;

	(void)state;
	build_signed(&e, 1);
	mg_error_clear();
	assert_int_equal(mg_snapshot_sign(&e.v, ed, &b, &len), -1);
	assert_int_equal(mg_errno(), MG_ERR_PROTO_SIGNATURE);
	assert_non_null(strstr(mg_errmsg(), "has signed this snapshot already"));
	assert_null(b);
	free(e.b);
}

static void signature_block_full_refused(void **state)
{
	uint8_t id[MG_KEY_ID_LEN] = { 0 }, sig[64] = { 0 }, *b;
	struct env e;
	size_t len;

	(void)state;
	build(&e, 2, POLICY);
	for (int i = 0; i < MG_SNAPSHOT_MAX_SIGS; i++) {
		id[0] = (uint8_t)i;
		assert_int_equal(mg_snapshot_add_signature(&e.v, id, MG_KEY_ED25519, sig, 64, &b,
							   &len), 0);
		free(e.b);
		e.b = b;
		e.len = len;
		assert_int_equal(mg_snapshot_parse(e.b, e.len, CAP, &e.v), 0);
	}
	assert_int_equal(e.v.n_sigs, MG_SNAPSHOT_MAX_SIGS);
	id[0] = 0xff;
	mg_error_clear();
	assert_int_equal(mg_snapshot_add_signature(&e.v, id, MG_KEY_ED25519, sig, 64, &b, &len),
			 -1);
	assert_int_equal(mg_errno(), MG_ERR_PROTO_SIGNATURE);
	free(e.b);
}

static void attach_checks_the_signature_first(void **state)
{
	struct mg_snapshot_view v;
	uint8_t sig[MG_KEY_SIG_MAX], *b = NULL;
	size_t sig_len, len;
	struct env e;

	(void)state;
	build(&e, 5, POLICY);
	/* What an external signer does: sign the signed bytes, hand back the signature. */
	assert_int_equal(mg_key_sign(p256, e.v.bytes, e.v.signed_len, sig, &sig_len), 0);
	sig[sig_len - 1] ^= 1;
	mg_error_clear();
	assert_int_equal(mg_snapshot_attach(&e.v, trust[1], sig, sig_len, &b, &len), -1);
	assert_int_equal(mg_errno(), MG_ERR_PROTO_SIGNATURE);
	assert_null(b);
	/* A signature by another key than the one named is refused as well. */
	sig[sig_len - 1] ^= 1;
	assert_int_equal(mg_snapshot_attach(&e.v, trust[0], sig, sig_len, &b, &len), -1);
	assert_int_equal(mg_snapshot_attach(&e.v, trust[1], sig, sig_len, &b, &len), 0);
	assert_int_equal(mg_snapshot_parse(b, len, CAP, &v), 0);
	assert_int_equal(mg_snapshot_verify(&v, trust, 3, 1, NULL), 0);
	free(b);
	free(e.b);
}

static void digest_ignores_signatures(void **state)
{
	uint8_t d0[32], d1[32], d2[32];
	struct env e, other;

	(void)state;
	build(&e, 7, POLICY);
	assert_int_equal(mg_snapshot_digest(&e.v, d0), 0);
	sign(&e, ed);
	sign(&e, p256);
	assert_int_equal(mg_snapshot_digest(&e.v, d1), 0);
	assert_memory_equal(d0, d1, 32);
	build(&other, 8, POLICY);
	assert_int_equal(mg_snapshot_digest(&other.v, d2), 0);
	assert_memory_not_equal(d0, d2, 32);
	free(e.b);
	free(other.b);
}

/* ---- time and version rules --------------------------------------------- */

static void time_window_is_half_open(void **state)
{
	struct env e;

	(void)state;
	build(&e, 1, POLICY); /* valid 1000 <= now < 2000 */
	mg_error_clear();
	assert_int_equal(mg_snapshot_check_time(&e.v, 999), -1);
	assert_int_equal(mg_errno(), MG_ERR_PROTO_NOT_YET_VALID);
	assert_int_equal(mg_snapshot_check_time(&e.v, 1000), 0);
	assert_int_equal(mg_snapshot_check_time(&e.v, 1999), 0);
	assert_int_equal(mg_snapshot_check_time(&e.v, 2000), -1);
	assert_int_equal(mg_errno(), MG_ERR_PROTO_EXPIRED);
	assert_int_equal(mg_snapshot_check_time(&e.v, UINT64_MAX), -1);
	assert_int_equal(mg_errno(), MG_ERR_PROTO_EXPIRED);
	free(e.b);
}

static void version_rules(void **state)
{
	struct mg_snapshot_state active = { .version = 5 }, c;
	enum mg_snapshot_decision d;

	(void)state;
	memset(active.digest, 0xaa, 32);
	c = active;
	c.version = 6;
	assert_int_equal(mg_snapshot_check_version(&active, &c, &d), 0);
	assert_int_equal(d, MG_SNAPSHOT_ACCEPT);
	assert_int_equal(mg_snapshot_check_version(NULL, &c, &d), 0);
	assert_int_equal(d, MG_SNAPSHOT_ACCEPT);
	c.version = 5;
	assert_int_equal(mg_snapshot_check_version(&active, &c, &d), 0);
	assert_int_equal(d, MG_SNAPSHOT_NOOP);
	c.digest[31] ^= 1;
	mg_error_clear();
	assert_int_equal(mg_snapshot_check_version(&active, &c, &d), -1);
	assert_int_equal(mg_errno(), MG_ERR_PROTO_EQUIVOCATION);
	c.version = 4;
	assert_int_equal(mg_snapshot_check_version(&active, &c, &d), -1);
	assert_int_equal(mg_errno(), MG_ERR_PROTO_ROLLBACK);
	assert_non_null(strstr(mg_errmsg(), "version 4 is older than the active version 5"));
}

static void refusal_names(void **state)
{
	(void)state;
	assert_string_equal(mg_snapshot_refusal_name(MG_ERR_IO_TOO_BIG), "size_cap");
	assert_string_equal(mg_snapshot_refusal_name(MG_ERR_PROTO_FORMAT), "format");
	assert_string_equal(mg_snapshot_refusal_name(MG_ERR_PROTO_SIGNATURE), "signature");
	assert_string_equal(mg_snapshot_refusal_name(MG_ERR_PROTO_ROLLBACK), "rollback");
	assert_string_equal(mg_snapshot_refusal_name(MG_ERR_PROTO_EQUIVOCATION), "equivocation");
	assert_string_equal(mg_snapshot_refusal_name(MG_ERR_PROTO_EXPIRED), "expired");
	assert_string_equal(mg_snapshot_refusal_name(MG_ERR_PROTO_NOT_YET_VALID),
			    "not_yet_valid");
	assert_string_equal(mg_snapshot_refusal_name(MG_ERR_NOMEM), "internal");
}

/* ---- files ------------------------------------------------------------- */

static unsigned entries(const char *d)
{
	DIR *dh = opendir(d);
	struct dirent *de;
	unsigned n = 0;

	while ((de = readdir(dh)))
		n += de->d_name[0] != '.';
	closedir(dh);
	return n;
}

static void files_are_replaced_atomically_and_capped(void **state)
{
	char p[128];
	uint8_t *b;
	size_t len;
	struct stat st;

	(void)state;
	snprintf(p, sizeof(p), "%s/s.msnap", dir);
	assert_int_equal(mg_snapshot_write_file(p, (const uint8_t *)"first", 5), 0);
	assert_int_equal(mg_snapshot_write_file(p, (const uint8_t *)"second!", 7), 0);
	assert_int_equal(entries(dir), 1); /* no temporary file left behind */
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(mg_snapshot_read_file(p, 7, &b, &len), 0);
	assert_int_equal(len, 7);
	assert_memory_equal(b, "second!", 7);
	free(b);
	mg_error_clear();
	assert_int_equal(mg_snapshot_read_file(p, 6, &b, &len), -1);
	assert_int_equal(mg_errno(), MG_ERR_IO_TOO_BIG);
	unlink(p);
	assert_int_equal(mg_snapshot_read_file(p, 6, &b, &len), -1);
	assert_int_equal(mg_errno(), MG_ERR_IO);
	assert_int_equal(mg_snapshot_read_file(dir, 6, &b, &len), -1);
	assert_int_equal(mg_errno(), MG_ERR_IO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(build_parse_round_trip),
		cmocka_unit_test(header_layout_is_the_documented_one),
		cmocka_unit_test(build_is_deterministic),
		cmocka_unit_test(build_refuses_bad_meta),
		cmocka_unit_test(empty_payload_allowed),
		cmocka_unit_test(truncated_anywhere_refused),
		cmocka_unit_test(trailing_bytes_refused),
		cmocka_unit_test(bad_header_fields_refused),
		cmocka_unit_test(payload_digest_mismatch_refused),
		cmocka_unit_test(shorter_payload_length_is_a_framing_error),
		cmocka_unit_test(too_many_signatures_refused),
		cmocka_unit_test(bad_signature_entries_refused),
		cmocka_unit_test(size_cap_checked_first),
		cmocka_unit_test(threshold_met_by_ed25519_and_p256),
		cmocka_unit_test(k_minus_one_signatures_refused),
		cmocka_unit_test(one_key_signing_twice_counts_once),
		cmocka_unit_test(same_key_twice_in_trust_list_counts_once),
		cmocka_unit_test(same_key_in_two_encodings_counts_once),
		cmocka_unit_test(same_key_in_another_encoding_signs_once),
		cmocka_unit_test(unknown_key_does_not_count),
		cmocka_unit_test(bad_signature_does_not_count),
		cmocka_unit_test(algorithm_mismatch_is_bad),
		cmocka_unit_test(any_flipped_byte_refused),
		cmocka_unit_test(flipped_header_byte_fails_signatures),
		cmocka_unit_test(payload_swapped_with_matching_digest_fails_signatures),
		cmocka_unit_test(threshold_zero_is_a_usage_error),
		cmocka_unit_test(signing_twice_with_one_key_refused),
		cmocka_unit_test(signature_block_full_refused),
		cmocka_unit_test(attach_checks_the_signature_first),
		cmocka_unit_test(digest_ignores_signatures),
		cmocka_unit_test(time_window_is_half_open),
		cmocka_unit_test(version_rules),
		cmocka_unit_test(refusal_names),
		cmocka_unit_test(files_are_replaced_atomically_and_capped),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
