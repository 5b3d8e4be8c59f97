/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mTLS handshakes in memory (dataplane/tls_hs.c) with the dev PKI that
 * conf/pki.sh mints at the start: our server against our client and against a
 * plain OpenSSL client, the hand-over to our record layer (also after session
 * tickets), and refusals: bad certificates, no certificate, the wrong server,
 * TLS 1.2.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/pem.h>

#include "tls_fixture.h"

#define WEB_ID "spiffe://example.org/ns/prod/sa/web"
#define CLIENT_ID "spiffe://example.org/ns/prod/sa/client"

static struct mg_svid_bundle bundles[2];
static struct mg_svid_trust trust = { .n = 2, .b = bundles };

static int setup(void **state)
{
	(void)state;
	if (pki_make("tls") < 0 || mg_tls_hs_global_init() < 0 ||
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

/* Run two of our handshakes against each other until neither has anything to say. */
static void converse(struct mg_tls_hs *cli, struct mg_tls_hs *srv, enum mg_tls_hs_status *cst,
		     enum mg_tls_hs_status *sst)
{
	static uint8_t c2s[32768], s2c[32768];
	size_t c2s_len = 0, s2c_len = 0;

	*cst = mg_tls_hs_step(cli, NULL, 0, c2s, sizeof(c2s), &c2s_len);
	*sst = MG_TLS_HS_CONTINUE;
	for (int turn = 0; turn < 8 && (c2s_len || s2c_len); turn++) {
		if (*sst == MG_TLS_HS_CONTINUE || c2s_len)
			*sst = mg_tls_hs_step(srv, c2s, c2s_len, s2c, sizeof(s2c), &s2c_len);
		c2s_len = 0;
		if (*cst == MG_TLS_HS_CONTINUE && s2c_len)
			*cst = mg_tls_hs_step(cli, s2c, s2c_len, c2s, sizeof(c2s), &c2s_len);
		s2c_len = 0;
	}
}

/* A sealed record from one side opens on the other. */
static void records_flow(struct mg_tls_dir *tx, struct mg_tls_dir *rx)
{
	uint8_t rec[128];
	enum mg_tls_record_error err;
	size_t n, plain;
	uint8_t type;

	n = mg_tls_seal(tx, MG_TLS_APPLICATION_DATA, (const uint8_t *)"GET / HTTP/1.1", 14, rec,
			&err);
	assert_int_equal(err, MG_TLS_REC_OK);
	assert_int_equal(mg_tls_open(rx, rec, n, &plain, &type), MG_TLS_REC_OK);
	assert_int_equal(plain, 14);
	assert_memory_equal(rec + 5, "GET / HTTP/1.1", 14);
}

static void ours_against_ours_then_records(void **state)
{
	SSL_CTX *sc = ctx_for("svid", "web", true, 0), *cc = ctx_for("svid", "client", false, 0);
	struct mg_tls_hs srv, cli;
	struct mg_tls_dir srx, stx, crx, ctx;
	enum mg_tls_hs_status cst, sst;
	uint8_t rest[64];
	size_t rest_len;

	(void)state;
	assert_int_equal(mg_tls_hs_start(&srv, sc, &trust, NULL, NULL, NULL), 0);
	assert_int_equal(mg_tls_hs_start(&cli, cc, &trust, NULL, WEB_ID, "web.example.org"), 0);
	converse(&cli, &srv, &cst, &sst);
	assert_int_equal(cst, MG_TLS_HS_DONE);
	assert_int_equal(sst, MG_TLS_HS_DONE);
	assert_string_equal(srv.peer.id, CLIENT_ID);
	assert_true(srv.peer.has_image);
	assert_string_equal(cli.peer.id, WEB_ID);
	assert_int_equal(srv.tx_app_records, 0);
	assert_int_equal(mg_tls_hs_finish(&srv, &srx, &stx, rest, sizeof(rest), &rest_len), 0);
	assert_int_equal(rest_len, 0);
	assert_null(srv.ssl);
	assert_int_equal(mg_tls_hs_finish(&cli, &crx, &ctx, rest, sizeof(rest), &rest_len), 0);
	records_flow(&ctx, &srx);
	records_flow(&stx, &crx);
	mg_tls_dir_free(&srx);
	mg_tls_dir_free(&stx);
	mg_tls_dir_free(&crx);
	mg_tls_dir_free(&ctx);
	SSL_CTX_free(sc);
	SSL_CTX_free(cc);
}

/* A plain OpenSSL client (as curl or s_client would be) against our server. */
static SSL *openssl_client(const char *dir, const char *name, int max_version)
{
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());
	SSL *ssl;

	SSL_CTX_set_max_proto_version(c, max_version);
	SSL_CTX_set_security_level(c, 0); /* an attacker's client presents weak certificates too */
	if (name != NULL) {
		X509 *cert = read_pem(dir, name, "pem", false);
		EVP_PKEY *key = read_pem(dir, name, "key", true);

		assert_int_equal(SSL_CTX_use_certificate(c, cert), 1);
		assert_int_equal(SSL_CTX_use_PrivateKey(c, key), 1);
		X509_free(cert);
		EVP_PKEY_free(key);
	}
	ssl = SSL_new(c);
	SSL_CTX_free(c); /* the SSL keeps its reference */
	SSL_set_bio(ssl, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
	SSL_set_connect_state(ssl);
	return ssl;
}

/* Drive OpenSSL's client against our server until done or refused. */
static enum mg_tls_hs_status openssl_vs_ours(SSL *cli, struct mg_tls_hs *srv)
{
	static uint8_t buf[32768], out[32768];
	enum mg_tls_hs_status st = MG_TLS_HS_CONTINUE;
	size_t out_len;
	int n;

	for (int turn = 0; turn < 8 && st == MG_TLS_HS_CONTINUE; turn++) {
		SSL_do_handshake(cli);
		n = BIO_read(SSL_get_wbio(cli), buf, sizeof(buf));
		st = mg_tls_hs_step(srv, buf, n > 0 ? (size_t)n : 0, out, sizeof(out), &out_len);
		BIO_write(SSL_get_rbio(cli), out, (int)out_len);
	}
	SSL_do_handshake(cli); /* read the alert or the tickets */
	return st;
}

static void openssl_client_with_tickets_reads_our_records(void **state)
{
	SSL_CTX *sc = ctx_for("svid", "web", true, 2);
	SSL *cli = openssl_client("svid", "client", TLS1_3_VERSION);
	struct mg_tls_hs srv;
	struct mg_tls_dir rx, tx;
	enum mg_tls_record_error err;
	uint8_t rec[128], rest[64];
	char text[32];
	size_t n, rest_len, plain;
	uint8_t type;

	(void)state;
	assert_int_equal(mg_tls_hs_start(&srv, sc, &trust, NULL, NULL, NULL), 0);
	assert_int_equal(openssl_vs_ours(cli, &srv), MG_TLS_HS_DONE);
	/* Two NewSessionTicket records went out under the application secret. */
	assert_int_equal(srv.tx_app_records, 2);
	assert_int_equal(mg_tls_hs_finish(&srv, &rx, &tx, rest, sizeof(rest), &rest_len), 0);
	assert_int_equal(tx.seq, 2);
	n = mg_tls_seal(&tx, MG_TLS_APPLICATION_DATA, (const uint8_t *)"hello", 5, rec, &err);
	BIO_write(SSL_get_rbio(cli), rec, (int)n);
	assert_int_equal(SSL_read(cli, text, sizeof(text)), 5);
	assert_memory_equal(text, "hello", 5);
	assert_int_equal(SSL_write(cli, "world", 5), 5);
	n = (size_t)BIO_read(SSL_get_wbio(cli), rec, sizeof(rec));
	assert_int_equal(mg_tls_open(&rx, rec, n, &plain, &type), MG_TLS_REC_OK);
	assert_memory_equal(rec + 5, "world", 5);
	mg_tls_dir_free(&rx);
	mg_tls_dir_free(&tx);
	SSL_free(cli);
	SSL_CTX_free(sc);
}

static void refused_client_certificates(void **state)
{
	static const struct { const char *dir, *name; enum mg_svid_reason why; } bad[] = {
		{ "bad", "expired", MG_SVID_EXPIRED },
		{ "bad", "unknown-ca", MG_SVID_UNTRUSTED_CHAIN },
		{ "bad", "two-uri", MG_SVID_MULTIPLE_URI_SANS },
		{ "bad", "ca-leaf", MG_SVID_LEAF_IS_CA },
		{ "bad", "sha1", MG_SVID_WEAK_SIGNATURE },
		{ "bad", "other-td", MG_SVID_UNKNOWN_TRUST_DOMAIN },
		{ NULL, NULL, MG_SVID_NO_CERT },
	};
	SSL_CTX *sc = ctx_for("svid", "web", true, 0);

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		SSL *cli = openssl_client(bad[i].dir, bad[i].name, TLS1_3_VERSION);
		struct mg_tls_hs srv;

		assert_int_equal(mg_tls_hs_start(&srv, sc, &trust, NULL, NULL, NULL), 0);
		assert_int_equal(openssl_vs_ours(cli, &srv), MG_TLS_HS_FAILED);
		assert_int_equal(srv.error, MG_TLS_HS_ERR_PEER_CERT);
		if (srv.svid != bad[i].why)
			fail_msg("%s: %s", bad[i].name ? bad[i].name : "no certificate",
				 mg_svid_reason_name(srv.svid));
		mg_tls_hs_free(&srv);
		SSL_free(cli);
	}
	SSL_CTX_free(sc);
}

static void client_refuses_the_wrong_server(void **state)
{
	SSL_CTX *sc = ctx_for("svid", "backend", true, 0), *cc = ctx_for("svid", "client", false, 0);
	struct mg_tls_hs srv, cli;
	enum mg_tls_hs_status cst, sst;

	(void)state;
	assert_int_equal(mg_tls_hs_start(&srv, sc, &trust, NULL, NULL, NULL), 0);
	assert_int_equal(mg_tls_hs_start(&cli, cc, &trust, NULL, WEB_ID, NULL), 0);
	converse(&cli, &srv, &cst, &sst);
	assert_int_equal(cst, MG_TLS_HS_FAILED);
	assert_int_equal(cli.error, MG_TLS_HS_ERR_WRONG_PEER_ID);
	assert_string_equal(mg_tls_hs_error_name(cli.error), "wrong_peer_id");
	assert_int_not_equal(sst, MG_TLS_HS_DONE);
	mg_tls_hs_free(&srv);
	mg_tls_hs_free(&cli);
	SSL_CTX_free(sc);
	SSL_CTX_free(cc);
}

static void tls12_client_refused(void **state)
{
	SSL_CTX *sc = ctx_for("svid", "web", true, 0);
	SSL *cli = openssl_client("svid", "client", TLS1_2_VERSION);
	struct mg_tls_hs srv;

	(void)state;
	assert_int_equal(mg_tls_hs_start(&srv, sc, &trust, NULL, NULL, NULL), 0);
	assert_int_equal(openssl_vs_ours(cli, &srv), MG_TLS_HS_FAILED);
	assert_int_equal(srv.error, MG_TLS_HS_ERR_PROTOCOL);
	mg_tls_hs_free(&srv);
	SSL_free(cli);
	SSL_CTX_free(sc);
}

static void context_refuses_bad_settings(void **state)
{
	struct mg_tls_ctx_params p = {
		.server = true, .ciphersuites = "TLS_NOT_A_SUITE", .groups = GROUPS,
		.sigalgs = SIGALGS, .cert = read_pem("svid", "web", "pem", false),
		.key = read_pem("svid", "client", "key", true),
	};

	(void)state;
	assert_null(mg_tls_ctx_new(&p));
	assert_non_null(strstr(mg_errmsg(), "ciphersuites"));
	p.ciphersuites = SUITES;
	assert_null(mg_tls_ctx_new(&p)); /* web's certificate, client's key */
	assert_non_null(strstr(mg_errmsg(), "does not match"));
	X509_free(p.cert);
	EVP_PKEY_free(p.key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ours_against_ours_then_records),
		cmocka_unit_test(openssl_client_with_tickets_reads_our_records),
		cmocka_unit_test(refused_client_certificates),
		cmocka_unit_test(client_refuses_the_wrong_server),
		cmocka_unit_test(tls12_client_refused),
		cmocka_unit_test(context_refuses_bad_settings),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
