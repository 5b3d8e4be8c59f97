/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Our TLS 1.3 record layer (dataplane/tls_record.c) against OpenSSL's: OpenSSL
 * does the handshake in memory, its key log hands us the traffic secrets, then
 * our records must be what OpenSSL's peer reads, and OpenSSL's what we open,
 * for each TLS 1.3 suite, across KeyUpdates, with tampering refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tls_record.h"

/* One in-memory TLS 1.3 session: OpenSSL client and server, and the secrets. */
struct pair {
	SSL_CTX *sctx, *cctx;
	SSL *srv, *cli;
	uint8_t client_secret[MG_TLS_MAX_SECRET], server_secret[MG_TLS_MAX_SECRET];
	size_t secret_len;
	enum mg_tls_suite suite;
};

static struct pair *keylog_target;

static void hex_to(const char *hex, uint8_t *out, size_t *len)
{
	size_t n = strlen(hex) / 2;

	for (size_t i = 0; i < n; i++)
		sscanf(hex + 2 * i, "%2hhx", &out[i]);
	*len = n;
}

/* "LABEL <client random> <secret>" lines (NSS key log format). */
static void keylog(const SSL *ssl, const char *line)
{
	char label[64], random[80], secret[200];

	(void)ssl;
	if (sscanf(line, "%63s %79s %199s", label, random, secret) != 3)
		return;
	if (strcmp(label, "CLIENT_TRAFFIC_SECRET_0") == 0)
		hex_to(secret, keylog_target->client_secret, &keylog_target->secret_len);
	else if (strcmp(label, "SERVER_TRAFFIC_SECRET_0") == 0)
		hex_to(secret, keylog_target->server_secret, &keylog_target->secret_len);
}

static void self_signed(EVP_PKEY **key, X509 **cert)
{
	*key = EVP_EC_gen("P-256");
	*cert = X509_new();
	assert_non_null(*key);
	X509_set_version(*cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(*cert), 1);
	X509_gmtime_adj(X509_getm_notBefore(*cert), -60);
	X509_gmtime_adj(X509_getm_notAfter(*cert), 3600);
	X509_set_pubkey(*cert, *key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(*cert), "CN", MBSTRING_ASC,
				   (const unsigned char *)"test", -1, -1, 0);
	X509_set_issuer_name(*cert, X509_get_subject_name(*cert));
	assert_true(X509_sign(*cert, *key, EVP_sha256()) > 0);
}

/* Move what one side wrote into the other's read BIO. */
static void pump(SSL *from, SSL *to)
{
	char buf[65536];
	int n;

	while ((n = BIO_read(SSL_get_wbio(from), buf, sizeof(buf))) > 0)
		BIO_write(SSL_get_rbio(to), buf, n);
}

static void pair_open(struct pair *p, const char *suite_name, enum mg_tls_suite suite)
{
	EVP_PKEY *key;
	X509 *cert;

	memset(p, 0, sizeof(*p));
	p->suite = suite;
	keylog_target = p;
	self_signed(&key, &cert);
	p->sctx = SSL_CTX_new(TLS_server_method());
	p->cctx = SSL_CTX_new(TLS_client_method());
	for (int i = 0; i < 2; i++) {
		SSL_CTX *c = i ? p->cctx : p->sctx;

		SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION);
		assert_int_equal(SSL_CTX_set_ciphersuites(c, suite_name), 1);
		SSL_CTX_set_keylog_callback(c, keylog);
	}
	SSL_CTX_set_num_tickets(p->sctx, 0); /* no post-handshake messages */
	assert_int_equal(SSL_CTX_use_certificate(p->sctx, cert), 1);
	assert_int_equal(SSL_CTX_use_PrivateKey(p->sctx, key), 1);
	p->srv = SSL_new(p->sctx);
	p->cli = SSL_new(p->cctx);
	SSL_set_bio(p->srv, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
	SSL_set_bio(p->cli, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
	SSL_set_accept_state(p->srv);
	SSL_set_connect_state(p->cli);
	for (int i = 0; i < 10 && !(SSL_is_init_finished(p->srv) && SSL_is_init_finished(p->cli));
	     i++) {
		SSL_do_handshake(p->cli);
		pump(p->cli, p->srv);
		SSL_do_handshake(p->srv);
		pump(p->srv, p->cli);
	}
	assert_true(SSL_is_init_finished(p->srv) && SSL_is_init_finished(p->cli));
	assert_true(p->secret_len > 0);
	EVP_PKEY_free(key);
	X509_free(cert);
}

static void pair_close(struct pair *p)
{
	SSL_free(p->srv);
	SSL_free(p->cli);
	SSL_CTX_free(p->sctx);
	SSL_CTX_free(p->cctx);
}

/* The bytes OpenSSL's client wrote, as one buffer. */
static size_t client_wrote(struct pair *p, uint8_t *buf, size_t cap)
{
	int n = BIO_read(SSL_get_wbio(p->cli), buf, (int)cap);

	return n > 0 ? (size_t)n : 0;
}

/* Open every record in buf[0..len); returns how many, the last's type and text. */
static int open_all(struct mg_tls_dir *rx, uint8_t *buf, size_t len, uint8_t *type,
		    char *text, size_t *text_len)
{
	int records = 0;

	*text_len = 0;
	for (size_t at = 0, rl; at < len; at += rl, records++) {
		size_t plain = 0;

		rl = mg_tls_record_len(buf + at, len - at);
		assert_true(rl > 0 && at + rl <= len);
		assert_int_equal(mg_tls_open(rx, buf + at, rl, &plain, type), MG_TLS_REC_OK);
		if (*type == MG_TLS_HANDSHAKE && plain == 5 && buf[at + 5] == 24) /* KeyUpdate */
			assert_int_equal(mg_tls_dir_update(rx), 0);
		if (*type == MG_TLS_APPLICATION_DATA) {
			memcpy(text + *text_len, buf + at + 5, plain);
			*text_len += plain;
		}
	}
	return records;
}

/* We replace OpenSSL's server after the handshake, both ways. */
static void both_ways(const char *suite_name, enum mg_tls_suite suite)
{
	static uint8_t buf[MG_TLS_MAX_SEALED * 2];
	struct mg_tls_dir tx, rx;
	enum mg_tls_record_error err;
	struct pair p;
	char text[64];
	size_t n, text_len;
	uint8_t type;

	pair_open(&p, suite_name, suite);
	assert_int_equal(mg_tls_dir_init(&tx, suite, p.server_secret, p.secret_len), 0);
	assert_int_equal(mg_tls_dir_init(&rx, suite, p.client_secret, p.secret_len), 0);

	/* OpenSSL's client -> us. */
	assert_int_equal(SSL_write(p.cli, "ping from openssl", 17), 17);
	n = client_wrote(&p, buf, sizeof(buf));
	assert_int_equal(open_all(&rx, buf, n, &type, text, &text_len), 1);
	assert_int_equal(type, MG_TLS_APPLICATION_DATA);
	assert_int_equal(text_len, 17);
	assert_memory_equal(text, "ping from openssl", 17);

	/* Us -> OpenSSL's client, twice (the sequence number advances). */
	for (int i = 0; i < 2; i++) {
		n = mg_tls_seal(&tx, MG_TLS_APPLICATION_DATA, (const uint8_t *)"pong from meshgw", 16,
				buf, &err);
		assert_int_equal(err, MG_TLS_REC_OK);
		assert_int_equal(n, 5 + 16 + 1 + 16);
		BIO_write(SSL_get_rbio(p.cli), buf, (int)n);
		assert_int_equal(SSL_read(p.cli, text, sizeof(text)), 16);
		assert_memory_equal(text, "pong from meshgw", 16);
	}
	mg_tls_dir_free(&tx);
	mg_tls_dir_free(&rx);
	pair_close(&p);
}

static void aes128_gcm_both_ways(void **state)
{
	(void)state;
	both_ways("TLS_AES_128_GCM_SHA256", MG_TLS_AES_128_GCM_SHA256);
}

static void aes256_gcm_both_ways(void **state)
{
	(void)state;
	both_ways("TLS_AES_256_GCM_SHA384", MG_TLS_AES_256_GCM_SHA384);
}

static void chacha20_both_ways(void **state)
{
	(void)state;
	both_ways("TLS_CHACHA20_POLY1305_SHA256", MG_TLS_CHACHA20_POLY1305_SHA256);
}

static void key_updates_both_ways(void **state)
{
	static uint8_t buf[MG_TLS_MAX_SEALED * 4];
	static const uint8_t key_update[] = { 24, 0, 0, 1, 0 }; /* update_not_requested */
	struct mg_tls_dir tx, rx;
	enum mg_tls_record_error err;
	struct pair p;
	char text[64];
	size_t n, text_len;
	uint8_t type;

	(void)state;
	pair_open(&p, "TLS_AES_128_GCM_SHA256", MG_TLS_AES_128_GCM_SHA256);
	assert_int_equal(mg_tls_dir_init(&tx, p.suite, p.server_secret, p.secret_len), 0);
	assert_int_equal(mg_tls_dir_init(&rx, p.suite, p.client_secret, p.secret_len), 0);
	for (int round = 0; round < 3; round++) {
		/* OpenSSL's client rekeys, then writes under the new key. */
		assert_int_equal(SSL_key_update(p.cli, SSL_KEY_UPDATE_NOT_REQUESTED), 1);
		assert_int_equal(SSL_write(p.cli, "after update", 12), 12);
		n = client_wrote(&p, buf, sizeof(buf));
		assert_int_equal(open_all(&rx, buf, n, &type, text, &text_len), 2);
		assert_int_equal(text_len, 12);
		assert_memory_equal(text, "after update", 12);
		/* We rekey: the KeyUpdate goes under the old key, data under the new. */
		n = mg_tls_seal(&tx, MG_TLS_HANDSHAKE, key_update, sizeof(key_update), buf, &err);
		assert_int_equal(err, MG_TLS_REC_OK);
		assert_int_equal(mg_tls_dir_update(&tx), 0);
		n += mg_tls_seal(&tx, MG_TLS_APPLICATION_DATA, (const uint8_t *)"rekeyed", 7, buf + n,
				 &err);
		BIO_write(SSL_get_rbio(p.cli), buf, (int)n);
		assert_int_equal(SSL_read(p.cli, text, sizeof(text)), 7);
		assert_memory_equal(text, "rekeyed", 7);
	}
	mg_tls_dir_free(&tx);
	mg_tls_dir_free(&rx);
	pair_close(&p);
}

static void tampering_replay_and_bad_headers_refused(void **state)
{
	static uint8_t buf[MG_TLS_MAX_SEALED], copy[MG_TLS_MAX_SEALED];
	struct mg_tls_dir rx;
	struct pair p;
	size_t n, plain;
	uint8_t type;

	(void)state;
	pair_open(&p, "TLS_AES_128_GCM_SHA256", MG_TLS_AES_128_GCM_SHA256);
	assert_int_equal(mg_tls_dir_init(&rx, p.suite, p.client_secret, p.secret_len), 0);
	assert_int_equal(SSL_write(p.cli, "data", 4), 4);
	n = client_wrote(&p, buf, sizeof(buf));
	memcpy(copy, buf, n);

	copy[n - 1] ^= 1; /* the tag */
	assert_int_equal(mg_tls_open(&rx, copy, n, &plain, &type), MG_TLS_REC_BAD_MAC);
	memcpy(copy, buf, n);
	copy[0] = MG_TLS_HANDSHAKE; /* a plaintext type after the handshake */
	assert_int_equal(mg_tls_open(&rx, copy, n, &plain, &type), MG_TLS_REC_BAD_HEADER);
	memcpy(copy, buf, n);
	assert_int_equal(mg_tls_open(&rx, copy, n - 1, &plain, &type), MG_TLS_REC_SHORT);
	/* A failed open does not advance the sequence: the real record still opens. */
	memcpy(copy, buf, n);
	assert_int_equal(mg_tls_open(&rx, copy, n, &plain, &type), MG_TLS_REC_OK);
	assert_int_equal(plain, 4);
	/* The same record again is a replay: its nonce is spent. */
	memcpy(copy, buf, n);
	assert_int_equal(mg_tls_open(&rx, copy, n, &plain, &type), MG_TLS_REC_BAD_MAC);
	mg_tls_dir_free(&rx);
	pair_close(&p);
}

static void close_notify_is_an_alert_record(void **state)
{
	static uint8_t buf[MG_TLS_MAX_SEALED];
	struct mg_tls_dir rx;
	struct pair p;
	size_t n, plain;
	uint8_t type;

	(void)state;
	pair_open(&p, "TLS_AES_128_GCM_SHA256", MG_TLS_AES_128_GCM_SHA256);
	assert_int_equal(mg_tls_dir_init(&rx, p.suite, p.client_secret, p.secret_len), 0);
	SSL_shutdown(p.cli);
	n = client_wrote(&p, buf, sizeof(buf));
	assert_int_equal(mg_tls_record_len(buf, n), n);
	assert_int_equal(mg_tls_open(&rx, buf, n, &plain, &type), MG_TLS_REC_OK);
	assert_int_equal(type, MG_TLS_ALERT);
	assert_int_equal(plain, 2);
	assert_int_equal(buf[5], 1); /* warning */
	assert_int_equal(buf[6], 0); /* close_notify */
	mg_tls_dir_free(&rx);
	pair_close(&p);
}

static void limits_and_wrong_secrets(void **state)
{
	static uint8_t big[MG_TLS_MAX_SEALED + 16];
	uint8_t secret[48] = { 0 };
	struct mg_tls_dir d;
	enum mg_tls_record_error err;

	(void)state;
	assert_int_equal(mg_tls_dir_init(&d, MG_TLS_AES_128_GCM_SHA256, secret, 48), -1);
	assert_int_equal(mg_errno(), MG_ERR_PROTO_FORMAT);
	assert_int_equal(mg_tls_dir_init(&d, (enum mg_tls_suite)0x1304, secret, 32), -1);
	assert_int_equal(mg_tls_dir_init(&d, MG_TLS_AES_256_GCM_SHA384, secret, 48), 0);
	assert_int_equal(mg_tls_seal(&d, MG_TLS_APPLICATION_DATA, big, MG_TLS_MAX_PLAINTEXT + 1,
				     big, &err), 0);
	assert_int_equal(err, MG_TLS_REC_BAD_HEADER);
	assert_int_equal(mg_tls_seal(&d, MG_TLS_APPLICATION_DATA, big + 5, MG_TLS_MAX_PLAINTEXT,
				     big, &err), MG_TLS_MAX_SEALED);
	d.seq = UINT64_MAX;
	assert_int_equal(mg_tls_seal(&d, MG_TLS_APPLICATION_DATA, big, 1, big, &err), 0);
	assert_int_equal(err, MG_TLS_REC_SEQ_WRAP);
	assert_string_equal(mg_tls_record_error_name(MG_TLS_REC_BAD_MAC), "bad_record_mac");
	mg_tls_dir_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(aes128_gcm_both_ways),
		cmocka_unit_test(aes256_gcm_both_ways),
		cmocka_unit_test(chacha20_both_ways),
		cmocka_unit_test(key_updates_both_ways),
		cmocka_unit_test(tampering_replay_and_bad_headers_refused),
		cmocka_unit_test(close_notify_is_an_alert_record),
		cmocka_unit_test(limits_and_wrong_secrets),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
