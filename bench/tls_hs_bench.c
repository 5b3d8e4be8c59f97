/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Server CPU per full mTLS handshake, in memory on one core: OpenSSL with its
 * defaults, OpenSSL tuned as MACHINE-NOTES describes (its own floor), and
 * meshgw's handshake engine (dataplane/tls_hs.c: tuned OpenSSL + the X509-SVID
 * verdict + the hand-over to our record layer, SSL object freed). The client is
 * a plain OpenSSL client sending its leaf only; only the server's calls are
 * timed (CLOCK_THREAD_CPUTIME_ID), and only handshakes that completed on both
 * sides count.
 *
 * Usage: tls_hs_bench PKI_DIR [HANDSHAKES [ROUNDS]]   (PKI_DIR from conf/pki.sh)
 * Prints one JSON object: per set-up, the median over rounds of µs/handshake.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "tls_hs.h"

#define SUITES "TLS_AES_128_GCM_SHA256"
#define GROUPS "X25519"
#define SIGALGS "ecdsa_secp256r1_sha256"

enum setup { OPENSSL_DEFAULT, OPENSSL_TUNED, MESHGW_NOCACHE, MESHGW, N_SETUPS };
static const char *const setup_names[N_SETUPS] = { "openssl_default", "openssl_tuned",
						     "meshgw_engine_nocache", "meshgw_engine" };

static const char *pki;
static X509 *srv_cert, *cli_cert, *ca_cert;
static EVP_PKEY *srv_key, *cli_key;
static struct mg_svid_bundle bundle;
static struct mg_svid_trust trust = { .n = 1, .b = &bundle };
static struct mg_svid_cache cache; /* the verified-chain cache of this (handshake) thread */

static void *load(const char *rel, int key)
{
	char path[512];
	void *o;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", pki, rel);
	if ((f = fopen(path, "r")) == NULL) {
		perror(path);
		exit(1);
	}
	o = key ? (void *)PEM_read_PrivateKey(f, NULL, NULL, NULL)
		: (void *)PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (o == NULL) {
		fprintf(stderr, "cannot read %s\n", path);
		exit(1);
	}
	return o;
}

static double thread_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static SSL_CTX *openssl_server(int tuned)
{
	SSL_CTX *c = SSL_CTX_new(TLS_server_method());
	X509_STORE *st = SSL_CTX_get_cert_store(c);

	SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION);
	SSL_CTX_set_ciphersuites(c, SUITES);
	SSL_CTX_set1_groups_list(c, GROUPS);
	SSL_CTX_use_certificate(c, srv_cert);
	SSL_CTX_use_PrivateKey(c, srv_key);
	X509_STORE_add_cert(st, ca_cert);
	SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	if (tuned) {
		STACK_OF(X509) *chain = sk_X509_new_null();

		SSL_CTX_set_num_tickets(c, 0);
		SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
		SSL_CTX_set_mode(c, SSL_MODE_NO_AUTO_CHAIN | SSL_MODE_RELEASE_BUFFERS);
		SSL_CTX_set1_chain(c, chain);
		sk_X509_free(chain);
	}
	return c;
}

static SSL *client(SSL_CTX *c)
{
	SSL *s = SSL_new(c);

	SSL_set_bio(s, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
	SSL_set_connect_state(s);
	return s;
}

static int move(SSL *from, char *buf, size_t cap)
{
	int n = BIO_read(SSL_get_wbio(from), buf, (int)cap);

	return n > 0 ? n : 0;
}

/* One handshake against an OpenSSL server; returns server µs or -1. */
static double one_openssl(SSL_CTX *sc, SSL_CTX *cc)
{
	static char buf[65536];
	SSL *srv = SSL_new(sc), *cli = client(cc);
	double us = 0, t;
	int n, done = 0;

	SSL_set_bio(srv, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
	SSL_set_accept_state(srv);
	for (int turn = 0; turn < 6 && !done; turn++) {
		SSL_do_handshake(cli);
		n = move(cli, buf, sizeof(buf));
		BIO_write(SSL_get_rbio(srv), buf, n);
		t = thread_us();
		done = SSL_do_handshake(srv) == 1;
		n = move(srv, buf, sizeof(buf));
		us += thread_us() - t;
		BIO_write(SSL_get_rbio(cli), buf, n);
	}
	done = done && SSL_do_handshake(cli) == 1;
	t = thread_us();
	SSL_free(srv); /* freeing is part of the server's cost */
	us += thread_us() - t;
	SSL_free(cli);
	return done ? us : -1;
}

/* One handshake against meshgw's engine, records keyed and SSL freed. */
static double one_meshgw(SSL_CTX *sc, SSL_CTX *cc, struct mg_svid_cache *c)
{
	static char buf[65536];
	static uint8_t out[65536];
	SSL *cli = client(cc);
	struct mg_tls_hs hs;
	struct mg_tls_dir rx, tx;
	enum mg_tls_hs_status st = MG_TLS_HS_CONTINUE;
	size_t out_len, rest_len;
	double us = 0, t;
	int n;

	t = thread_us();
	if (mg_tls_hs_start(&hs, sc, &trust, c, NULL, NULL) < 0)
		return -1;
	us += thread_us() - t;
	for (int turn = 0; turn < 6 && st == MG_TLS_HS_CONTINUE; turn++) {
		SSL_do_handshake(cli);
		n = move(cli, buf, sizeof(buf));
		t = thread_us();
		st = mg_tls_hs_step(&hs, (const uint8_t *)buf, (size_t)n, out, sizeof(out), &out_len);
		us += thread_us() - t;
		BIO_write(SSL_get_rbio(cli), out, (int)out_len);
	}
	if (st != MG_TLS_HS_DONE || SSL_do_handshake(cli) != 1) {
		mg_tls_hs_free(&hs);
		SSL_free(cli);
		return -1;
	}
	t = thread_us();
	if (mg_tls_hs_finish(&hs, &rx, &tx, out, sizeof(out), &rest_len) == 0) {
		mg_tls_dir_free(&rx);
		mg_tls_dir_free(&tx);
	}
	us += thread_us() - t;
	SSL_free(cli);
	return us;
}

/*
 * What an established connection's record layer holds: two struct mg_tls_dir
 * and the heap behind their AEAD contexts, from the allocator's own count
 * over 1000 connections.
 */
static double record_state_bytes(void)
{
	enum { N = 1000 };
	static struct mg_tls_dir d[N][2];
	static const uint8_t secret[32] = { 7 };
	size_t before = mallinfo2().uordblks, after;

	for (int i = 0; i < N; i++)
		for (int k = 0; k < 2; k++)
			if (mg_tls_dir_init(&d[i][k], MG_TLS_AES_128_GCM_SHA256, secret, 32) < 0)
				return -1;
	after = mallinfo2().uordblks;
	for (int i = 0; i < N; i++)
		for (int k = 0; k < 2; k++)
			mg_tls_dir_free(&d[i][k]);
	return (double)(after - before) / N + 2 * sizeof(struct mg_tls_dir);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int handshakes = argc > 2 ? atoi(argv[2]) : 300, rounds = argc > 3 ? atoi(argv[3]) : 3;
	double per[N_SETUPS][16] = { 0 };
	int failed[N_SETUPS] = { 0 };
	SSL_CTX *cc, *sc[N_SETUPS];
	struct mg_tls_ctx_params p = {
		.server = true, .ciphersuites = SUITES, .groups = GROUPS, .sigalgs = SIGALGS,
	};
	char *bundle_pem;
	long len;
	BIO *mem;

	if (argc < 2 || rounds < 1 || rounds > 15 || handshakes < 1) {
		fprintf(stderr, "usage: tls_hs_bench PKI_DIR [HANDSHAKES [ROUNDS<=15]]\n");
		return 64;
	}
	pki = argv[1];
	srv_cert = load("svid/web.pem", 0);
	srv_key = load("svid/web.key", 1);
	cli_cert = load("svid/client.pem", 0);
	cli_key = load("svid/client.key", 1);
	ca_cert = load("example.org/ca.pem", 0);
	mem = BIO_new(BIO_s_mem());
	PEM_write_bio_X509(mem, ca_cert);
	len = BIO_get_mem_data(mem, &bundle_pem);
	if (mg_tls_hs_global_init() < 0 ||
	    mg_svid_bundle_load(&bundle, "example.org", bundle_pem, (size_t)len) < 0) {
		fprintf(stderr, "%s\n", mg_errmsg());
		return 1;
	}
	cc = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_ciphersuites(cc, SUITES);
	SSL_CTX_set1_groups_list(cc, GROUPS);
	SSL_CTX_use_certificate(cc, cli_cert);
	SSL_CTX_use_PrivateKey(cc, cli_key);
	SSL_CTX_set_verify(cc, SSL_VERIFY_NONE, NULL); /* the client's cost is not measured */
	sc[OPENSSL_DEFAULT] = openssl_server(0);
	sc[OPENSSL_TUNED] = openssl_server(1);
	p.cert = srv_cert;
	p.key = srv_key;
	sc[MESHGW] = mg_tls_ctx_new(&p);
	sc[MESHGW_NOCACHE] = mg_tls_ctx_new(&p);
	if (sc[MESHGW] == NULL || sc[MESHGW_NOCACHE] == NULL) {
		fprintf(stderr, "%s\n", mg_errmsg());
		return 1;
	}
	for (int r = 0; r < rounds; r++) {
		for (int k = 0; k < N_SETUPS; k++) {
			int s = (r + k) % N_SETUPS; /* rotated order */
			double sum = 0;
			int ok = 0;

			for (int i = 0; i < handshakes; i++) {
				double us = s == MESHGW ? one_meshgw(sc[s], cc, &cache)
					    : s == MESHGW_NOCACHE ? one_meshgw(sc[s], cc, NULL)
								  : one_openssl(sc[s], cc);

				if (us < 0) {
					failed[s]++;
					continue;
				}
				sum += us;
				ok++;
			}
			per[s][r] = ok ? sum / ok : 0;
		}
	}
	printf("{\"handshakes_per_round\": %d, \"rounds\": %d", handshakes, rounds);
	for (int s = 0; s < N_SETUPS; s++) {
		qsort(per[s], (size_t)rounds, sizeof(double), cmp);
		printf(", \"%s_us\": %.1f, \"%s_failed\": %d", setup_names[s], per[s][rounds / 2],
		       setup_names[s], failed[s]);
	}
	printf(", \"record_state_bytes_per_conn\": %.0f", record_state_bytes());
	printf(", \"cache_hits\": %lu, \"cache_misses\": %lu}\n", (unsigned long)cache.hits,
	       (unsigned long)cache.misses);
	BIO_free(mem);
	return failed[MESHGW] ? 1 : 0;
}
