/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer: bytes a peer sends into the server side of the TLS glue. The
 * input is cut in two (at a point its first byte picks) and fed as two steps
 * of an in-memory handshake (dataplane/tls_hs.c) with a throwaway P-256
 * certificate; the same bytes are also opened as records by our record layer
 * (dataplane/tls_record.c) under a fixed key. Nothing may crash, leak or
 * report a record bigger than the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "tls_hs.h"

static SSL_CTX *server;
static struct mg_svid_trust none;

static SSL_CTX *make_server(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *cert = X509_new();
	struct mg_tls_ctx_params p = {
		.server = true, .ciphersuites = "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256",
		.groups = "X25519:P-256", .sigalgs = "ecdsa_secp256r1_sha256", .cert = cert, .key = key,
	};
	SSL_CTX *c;

	X509_set_version(cert, 2);
	X509_gmtime_adj(X509_getm_notBefore(cert), -60);
	X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
	X509_set_pubkey(cert, key);
	X509_sign(cert, key, EVP_sha256());
	c = mg_tls_ctx_new(&p);
	X509_free(cert);
	EVP_PKEY_free(key);
	return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[65536], rec[MG_TLS_MAX_CIPHERTEXT + 64];
	static const uint8_t secret[32] = { 1, 2, 3 };
	struct mg_tls_hs hs;
	struct mg_tls_dir d;
	size_t cut, out_len, plain;
	uint8_t type;

	if (server == NULL && (mg_tls_hs_global_init() < 0 || (server = make_server()) == NULL))
		abort();
	cut = size ? 1 + data[0] % size : 0;
	if (mg_tls_hs_start(&hs, server, &none, NULL, NULL, NULL) == 0) {
		enum mg_tls_hs_status st = mg_tls_hs_step(&hs, data, cut, out, sizeof(out), &out_len);

		if (st == MG_TLS_HS_CONTINUE && cut < size)
			(void)mg_tls_hs_step(&hs, data + cut, size - cut, out, sizeof(out), &out_len);
		mg_tls_hs_free(&hs);
	}
	if (mg_tls_dir_init(&d, MG_TLS_AES_128_GCM_SHA256, secret, sizeof(secret)) == 0) {
		size_t len = mg_tls_record_len(data, size);

		if (len >= MG_TLS_HEADER_LEN && len <= size && len <= sizeof(rec)) {
			memcpy(rec, data, len);
			if (mg_tls_open(&d, rec, len, &plain, &type) == MG_TLS_REC_OK &&
			    plain + MG_TLS_HEADER_LEN > len)
				abort();
		}
		mg_tls_dir_free(&d);
	}
	return 0;
}
