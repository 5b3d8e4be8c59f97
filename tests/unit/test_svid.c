/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * X509-SVID rules (dataplane/svid.c) against the dev PKI that conf/pki.sh mints
 * at the start of this program: every good SVID passes with its identity and
 * image, every certificate of the bad matrix fails with its own reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/pem.h>

#include "pki_fixture.h"
#include "svid.h"

static struct mg_svid_bundle bundles[2];
static struct mg_svid_trust trust = { .n = 2, .b = bundles };

static int setup(void **state)
{
	(void)state;
	if (pki_make("svid") < 0 || mg_svid_init() < 0 ||
	    pki_bundle(&bundles[0], "example.org") < 0 || pki_bundle(&bundles[1], "partner.org") < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	mg_svid_bundle_free(&bundles[0]);
	mg_svid_bundle_free(&bundles[1]);
	return pki_remove();
}

/* Verify DIR/NAME.chain.pem (leaf, then the rest as untrusted) or NAME.pem. */
static enum mg_svid_reason verify_file(const char *dir, const char *name,
				       struct mg_svid_peer *peer)
{
	char path[160];
	STACK_OF(X509) *rest = sk_X509_new_null();
	X509 *leaf, *x;
	enum mg_svid_reason r;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/%s.chain.pem", pki, dir, name);
	if ((f = fopen(path, "r")) == NULL) {
		snprintf(path, sizeof(path), "%s/%s/%s.pem", pki, dir, name);
		f = fopen(path, "r");
	}
	assert_non_null(f);
	leaf = PEM_read_X509(f, NULL, NULL, NULL);
	assert_non_null(leaf);
	while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
		sk_X509_push(rest, x);
	fclose(f);
	r = mg_svid_verify(leaf, rest, &trust, time(NULL), peer);
	X509_free(leaf);
	sk_X509_pop_free(rest, X509_free);
	return r;
}

static void good_svids_pass_with_their_identity(void **state)
{
	static const struct { const char *name, *id; bool image; } good[] = {
		{ "client", "spiffe://example.org/ns/prod/sa/client", true },
		{ "client-rotated", "spiffe://example.org/ns/prod/sa/client", true },
		{ "backend", "spiffe://example.org/ns/prod/sa/backend", false },
		{ "gateway", "spiffe://example.org/node/gw1", false },
		{ "partner", "spiffe://partner.org/ns/pay/sa/ledger", false }, /* federation */
		{ "rsa2048", "spiffe://example.org/ns/prod/sa/rsa", false },
	};
	struct mg_svid_peer p;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		enum mg_svid_reason r = verify_file("svid", good[i].name, &p);

		if (r != MG_SVID_OK)
			fail_msg("%s: %s", good[i].name, mg_svid_reason_name(r));
		assert_string_equal(p.id, good[i].id);
		assert_int_equal(p.id_len, strlen(good[i].id));
		assert_int_equal(p.has_image, good[i].image);
		if (good[i].image)
			assert_string_equal(p.image, "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"
						     "2b0b822cd15d6c15b0f00a08");
		assert_true(p.not_after > time(NULL));
	}
}

static void bad_matrix_each_refused_with_its_reason(void **state)
{
	static const struct { const char *name; enum mg_svid_reason want; } bad[] = {
		{ "expired", MG_SVID_EXPIRED },
		{ "not-yet-valid", MG_SVID_NOT_YET_VALID },
		{ "other-td", MG_SVID_UNKNOWN_TRUST_DOMAIN },
		{ "unknown-ca", MG_SVID_UNTRUSTED_CHAIN },
		{ "wrong-td-signer", MG_SVID_UNTRUSTED_CHAIN },
		{ "self-signed", MG_SVID_UNTRUSTED_CHAIN },
		{ "two-uri", MG_SVID_MULTIPLE_URI_SANS },
		{ "no-uri", MG_SVID_NO_URI_SAN },
		{ "dns-only", MG_SVID_NO_URI_SAN },
		{ "ca-leaf", MG_SVID_LEAF_IS_CA },
		{ "keycertsign", MG_SVID_KEY_CERT_SIGN },
		{ "crlsign", MG_SVID_CRL_SIGN },
		{ "no-digsig", MG_SVID_NO_DIGITAL_SIGNATURE },
		{ "uppercase-td", MG_SVID_BAD_SPIFFE_ID },
		{ "dotdot", MG_SVID_BAD_SPIFFE_ID },
		{ "trailing-slash", MG_SVID_BAD_SPIFFE_ID },
		{ "query", MG_SVID_BAD_SPIFFE_ID },
		{ "fragment", MG_SVID_BAD_SPIFFE_ID },
		{ "td-only", MG_SVID_BAD_SPIFFE_ID },
		{ "rsa1024", MG_SVID_WEAK_KEY },
		{ "sha1", MG_SVID_WEAK_SIGNATURE },
		{ "bad-image", MG_SVID_BAD_IMAGE_DIGEST },
	};
	struct mg_svid_peer p;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum mg_svid_reason r = verify_file("bad", bad[i].name, &p);

		if (r != bad[i].want)
			fail_msg("%s: got %s, want %s", bad[i].name, mg_svid_reason_name(r),
				 mg_svid_reason_name(bad[i].want));
	}
}

/* Image authorization is the policy's: the SVID layer only extracts the digest. */
static void image_extension_extracted_or_absent(void **state)
{
	struct mg_svid_peer p;

	(void)state;
	assert_int_equal(verify_file("bad", "wrong-image", &p), MG_SVID_OK);
	assert_true(p.has_image);
	assert_string_equal(p.image, "sha256:d9298a10d1b0735837dc4bd85dac641b0ee3a2d5b9b2c9d6"
				     "a1b2b3b4b5b6b7b8");
	assert_int_equal(verify_file("bad", "no-image", &p), MG_SVID_OK);
	assert_false(p.has_image);
}

static X509 *read_leaf(const char *dir, const char *name)
{
	char rel[96];
	X509 *leaf;

	snprintf(rel, sizeof(rel), "%s/%s.pem", dir, name);
	leaf = pki_read(rel, false);
	assert_non_null(leaf);
	return leaf;
}

static void no_certificate_and_no_bundles(void **state)
{
	struct mg_svid_peer p;
	struct mg_svid_trust none = { 0 };
	X509 *leaf = read_leaf("svid", "client");

	(void)state;
	assert_int_equal(mg_svid_verify(NULL, NULL, &trust, time(NULL), &p), MG_SVID_NO_CERT);
	assert_int_equal(mg_svid_verify(leaf, NULL, &none, time(NULL), &p),
			 MG_SVID_UNKNOWN_TRUST_DOMAIN);
	/* The leaf alone chains straight to the CA in the bundle. */
	assert_int_equal(mg_svid_verify(leaf, NULL, &trust, time(NULL), &p), MG_SVID_OK);
	/* Validity is judged at the time given: two years on, it has expired. */
	assert_int_equal(mg_svid_verify(leaf, NULL, &trust, time(NULL) + 2 * 365 * 86400, &p),
			 MG_SVID_EXPIRED);
	X509_free(leaf);
}

static void bundle_refuses_non_ca_and_empty(void **state)
{
	struct mg_svid_bundle b;
	X509 *leaf = read_leaf("svid", "client");
	BIO *mem = BIO_new(BIO_s_mem());
	char *pem;
	long len;

	(void)state;
	PEM_write_bio_X509(mem, leaf);
	len = BIO_get_mem_data(mem, &pem);
	assert_int_equal(mg_svid_bundle_load(&b, "example.org", pem, (size_t)len), -1);
	assert_int_equal(mg_errno(), MG_ERR_PROTO_FORMAT);
	assert_non_null(strstr(mg_errmsg(), "is not a CA"));
	assert_int_equal(mg_svid_bundle_load(&b, "example.org", "junk", 4), -1);
	assert_non_null(strstr(mg_errmsg(), "no certificate"));
	BIO_free(mem);
	X509_free(leaf);
}

static void cache_skips_the_chain_but_not_the_rules(void **state)
{
	static struct mg_svid_cache cache;
	X509 *good = read_leaf("svid", "client"), *bad = read_leaf("bad", "unknown-ca");
	struct mg_svid_trust next = trust;
	struct mg_svid_peer p;
	time_t now = time(NULL);

	(void)state;
	assert_int_equal(mg_svid_verify_cached(good, NULL, &trust, now, &p, &cache), MG_SVID_OK);
	assert_int_equal(cache.misses, 1);
	assert_int_equal(mg_svid_verify_cached(good, NULL, &trust, now, &p, &cache), MG_SVID_OK);
	assert_int_equal(cache.hits, 1);
	assert_string_equal(p.id, "spiffe://example.org/ns/prod/sa/client");
	/* The leaf's own rules still run: past its notAfter it is expired, cached or not. */
	assert_int_equal(mg_svid_verify_cached(good, NULL, &trust, now + 2 * 365 * 86400, &p,
					       &cache), MG_SVID_EXPIRED);
	/* A new generation's bundles judge the chain afresh. */
	next.generation = trust.generation + 1;
	assert_int_equal(mg_svid_verify_cached(good, NULL, &next, now, &p, &cache), MG_SVID_OK);
	assert_int_equal(cache.misses, 2);
	/* Without the bundle of its trust domain, a cached chain does not help. */
	next.n = 0;
	assert_int_equal(mg_svid_verify_cached(good, NULL, &next, now, &p, &cache),
			 MG_SVID_UNKNOWN_TRUST_DOMAIN);
	/* Refusals are never cached. */
	for (int i = 0; i < 2; i++)
		assert_int_equal(mg_svid_verify_cached(bad, NULL, &trust, now, &p, &cache),
				 MG_SVID_UNTRUSTED_CHAIN);
	assert_int_equal(cache.hits, 1);
	assert_int_equal(cache.misses, 4);
	X509_free(good);
	X509_free(bad);
}

static void reason_names_are_unique_telemetry_names(void **state)
{
	(void)state;
	for (int i = 0; i < MG_SVID__COUNT; i++) {
		const char *n = mg_svid_reason_name(i);

		assert_true(strspn(n, "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(n));
		for (int j = 0; j < i; j++)
			assert_string_not_equal(n, mg_svid_reason_name(j));
	}
	assert_string_equal(mg_svid_reason_name(MG_SVID__COUNT), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good_svids_pass_with_their_identity),
		cmocka_unit_test(bad_matrix_each_refused_with_its_reason),
		cmocka_unit_test(image_extension_extracted_or_absent),
		cmocka_unit_test(no_certificate_and_no_bundles),
		cmocka_unit_test(bundle_refuses_non_ca_and_empty),
		cmocka_unit_test(cache_skips_the_chain_but_not_the_rules),
		cmocka_unit_test(reason_names_are_unique_telemetry_names),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
