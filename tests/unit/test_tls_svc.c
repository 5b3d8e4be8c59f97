/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The handshake service (dataplane/tls_svc.c): a "worker" (this thread) posts
 * handshake steps of connections from a plain OpenSSL client to a handshake
 * lcore (a second thread running mg_tls_svc_main) and gets each back, until the
 * records are keyed; the pool caps handshakes in flight; abandoned jobs come
 * home freed. Certificates from conf/pki.sh.
 */
#include <pthread.h>
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
#include <rte_eal.h>

#include "pki_fixture.h"
#include "tls_svc.h"

static struct mg_svid_bundle bundle;
static struct mg_svid_trust trust = { .n = 1, .b = &bundle };
static SSL_CTX *server_ctx, *client_ctx;

static int setup(void **state)
{
	char prefix[64];
	char *eal[] = { "test_tls_svc", "--no-huge", "-m", "128", "--no-pci", prefix,
			"--log-level=error", "--no-telemetry", "--no-shconf" };
	struct mg_tls_ctx_params p = {
		.server = true, .ciphersuites = "TLS_AES_128_GCM_SHA256", .groups = "X25519",
		.sigalgs = "ecdsa_secp256r1_sha256",
	};
	X509 *cert;
	EVP_PKEY *key;

	(void)state;
	snprintf(prefix, sizeof(prefix), "--file-prefix=tls_svc-%d", getpid());
	if (rte_eal_init((int)RTE_DIM(eal), eal) < 0)
		return -1;
	if (pki_make("svc") < 0 || mg_tls_hs_global_init() < 0 ||
	    pki_bundle(&bundle, "example.org") < 0)
		return -1;
	p.cert = pki_read("svid/web.pem", false);
	p.key = pki_read("svid/web.key", true);
	server_ctx = mg_tls_ctx_new(&p);
	X509_free(p.cert);
	EVP_PKEY_free(p.key);
	client_ctx = SSL_CTX_new(TLS_client_method());
	cert = pki_read("svid/client.pem", false);
	key = pki_read("svid/client.key", true);
	SSL_CTX_use_certificate(client_ctx, cert);
	SSL_CTX_use_PrivateKey(client_ctx, key);
	X509_free(cert);
	EVP_PKEY_free(key);
	return server_ctx != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	SSL_CTX_free(server_ctx);
	SSL_CTX_free(client_ctx);
	mg_svid_bundle_free(&bundle);
	return pki_remove();
}

static void *hs_lcore(void *svc)
{
	mg_tls_svc_main(svc);
	return NULL;
}

/* Wait (bounded) for the job to come back. */
static struct mg_tls_job *await(struct mg_tls_svc_worker *w)
{
	struct mg_tls_job *j = NULL;

	for (int i = 0; i < 200000 && mg_tls_svc_collect(w, &j, 1) == 0; i++)
		usleep(10);
	assert_non_null(j);
	return j;
}

static SSL *new_client(void)
{
	SSL *c = SSL_new(client_ctx);

	SSL_set_bio(c, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
	SSL_set_connect_state(c);
	return c;
}

/* Drive one client's handshake through the service; returns the finished job. */
static struct mg_tls_job *handshake(struct mg_tls_svc_worker *w, SSL *cli, uint32_t conn)
{
	struct mg_tls_job *j = mg_tls_svc_job_get(w, (struct mg_tls_job_owner){ conn, 1 });
	int n;

	assert_non_null(j);
	j->ctx = server_ctx;
	j->trust = &trust;
	for (int turn = 0; turn < 6; turn++) {
		SSL_do_handshake(cli);
		n = BIO_read(SSL_get_wbio(cli), j->io, sizeof(j->io));
		j->in_len = n > 0 ? (uint32_t)n : 0;
		mg_tls_svc_post(w, j);
		j = await(w);
		assert_int_equal(j->owner.conn, conn);
		BIO_write(SSL_get_rbio(cli), j->io, (int)j->out_len);
		if (j->status != MG_TLS_HS_CONTINUE)
			break;
	}
	return j;
}

static void handshakes_run_off_the_worker(void **state)
{
	struct mg_tls_svc svc;
	pthread_t t;
	char text[16];

	(void)state;
	assert_int_equal(mg_tls_svc_init(&svc, 1, 4, SOCKET_ID_ANY, "svc1"), 0);
	assert_int_equal(pthread_create(&t, NULL, hs_lcore, &svc), 0);
	for (uint32_t conn = 0; conn < 3; conn++) {
		SSL *cli = new_client();
		struct mg_tls_job *j = handshake(&svc.w[0], cli, conn);
		enum mg_tls_record_error err;
		uint8_t rec[64];
		size_t len;

		assert_int_equal(j->status, MG_TLS_HS_DONE);
		assert_string_equal(j->hs.peer.id, "spiffe://example.org/ns/prod/sa/client");
		assert_true(j->step_cycles > 0);
		assert_int_equal(SSL_do_handshake(cli), 1);
		len = mg_tls_seal(&j->tx, MG_TLS_APPLICATION_DATA, (const uint8_t *)"ok", 2, rec, &err);
		BIO_write(SSL_get_rbio(cli), rec, (int)len);
		assert_int_equal(SSL_read(cli, text, sizeof(text)), 2);
		mg_tls_dir_free(&j->rx);
		mg_tls_dir_free(&j->tx);
		mg_tls_svc_job_put(&svc.w[0], j);
		SSL_free(cli);
	}
	assert_int_equal(svc.w[0].in_use, 0);
	__atomic_store_n(&svc.quit, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	mg_tls_svc_free(&svc);
}

static void pool_caps_handshakes_in_flight_and_abandon_frees(void **state)
{
	struct mg_tls_svc svc;
	struct mg_tls_job *held[2];
	pthread_t t;
	SSL *cli[2];

	(void)state;
	assert_int_equal(mg_tls_svc_init(&svc, 2, 2, SOCKET_ID_ANY, "svc2"), 0);
	assert_int_equal(pthread_create(&t, NULL, hs_lcore, &svc), 0);
	for (int i = 0; i < 2; i++) {
		int n;

		cli[i] = new_client();
		held[i] = mg_tls_svc_job_get(&svc.w[1], (struct mg_tls_job_owner){ (uint32_t)i, 7 });
		assert_non_null(held[i]);
		held[i]->ctx = server_ctx;
		held[i]->trust = &trust;
		SSL_do_handshake(cli[i]);
		n = BIO_read(SSL_get_wbio(cli[i]), held[i]->io, sizeof(held[i]->io));
		held[i]->in_len = (uint32_t)n;
		mg_tls_svc_post(&svc.w[1], held[i]);
		held[i] = await(&svc.w[1]);
		assert_int_equal(held[i]->status, MG_TLS_HS_CONTINUE); /* ServerHello..Finished out */
		assert_true(held[i]->out_len > 0);
	}
	/* Worker 1's pool is empty: a third handshake is refused and counted; worker 0 is not affected. */
	assert_null(mg_tls_svc_job_get(&svc.w[1], (struct mg_tls_job_owner){ 2, 1 }));
	assert_int_equal(svc.w[1].capped, 1);
	assert_non_null(mg_tls_svc_job_get(&svc.w[0], (struct mg_tls_job_owner){ 9, 1 }));
	/* The connections went away (a deadline, say): the jobs go back to be freed. */
	for (int i = 0; i < 2; i++) {
		held[i]->abandon = true;
		mg_tls_svc_post(&svc.w[1], held[i]);
		held[i] = await(&svc.w[1]);
		assert_false(held[i]->started);
		assert_null(held[i]->hs.ssl);
		mg_tls_svc_job_put(&svc.w[1], held[i]);
		SSL_free(cli[i]);
	}
	assert_int_equal(svc.w[1].in_use, 0);
	assert_non_null(mg_tls_svc_job_get(&svc.w[1], (struct mg_tls_job_owner){ 3, 1 }));
	__atomic_store_n(&svc.quit, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	mg_tls_svc_free(&svc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(handshakes_run_off_the_worker),
		cmocka_unit_test(pool_caps_handshakes_in_flight_and_abandon_frees),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
