/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TLS contexts from the dev PKI (pki_fixture.h) for the tests that run
 * handshakes (test_tls_hs, test_proxy_tls): the suites, groups and signature
 * algorithms of a default policy, and a context presenting one of its SVIDs.
 */
#ifndef MG_TEST_TLS_FIXTURE_H
#define MG_TEST_TLS_FIXTURE_H

#include "pki_fixture.h"
#include "tls_hs.h"

#define SUITES "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define GROUPS "X25519:P-256"
#define SIGALGS "ecdsa_secp256r1_sha256:rsa_pss_rsae_sha256"


static inline void *read_pem(const char *dir, const char *name, const char *ext, bool key)
{
	char rel[96];
	void *obj;

	snprintf(rel, sizeof(rel), "%s/%s.%s", dir, name, ext);
	obj = pki_read(rel, key);
	assert_non_null(obj);
	return obj;
}

/* A context presenting DIR/NAME's SVID (leaf only: the CA is in the peer's bundle). */
static inline SSL_CTX *ctx_for(const char *dir, const char *name, bool server, uint32_t tickets)
{
	struct mg_tls_ctx_params p = {
		.server = server, .ciphersuites = SUITES, .groups = GROUPS, .sigalgs = SIGALGS,
		.cert = read_pem(dir, name, "pem", false), .key = read_pem(dir, name, "key", true),
		.tickets = tickets,
	};
	SSL_CTX *c = mg_tls_ctx_new(&p);

	if (c == NULL)
		fail_msg("%s", mg_errmsg());
	X509_free(p.cert);
	EVP_PKEY_free(p.key);
	return c;
}

#endif /* MG_TEST_TLS_FIXTURE_H */
