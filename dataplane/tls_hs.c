/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mTLS handshakes in memory (tls_hs.h): context set-up for the control thread,
 * the step function that carries bytes in and out of OpenSSL, the SVID verdict
 * in place of OpenSSL's verifier, and the hand-over of the traffic secrets
 * (caught from OpenSSL's key log) to our record layer.
 */
#include "tls_hs.h"

#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/x509_vfy.h>

static int hs_index = -1; /* SSL ex_data slot of the struct mg_tls_hs */

static const char *const hs_error_names[MG_TLS_HS_ERR__COUNT] = {
#define _(sym, name) [MG_TLS_HS_ERR_##sym] = #name,
	foreach_mg_tls_hs_error(_)
#undef _
};

const char *mg_tls_hs_error_name(enum mg_tls_hs_error e)
{
	return (unsigned)e < MG_TLS_HS_ERR__COUNT ? hs_error_names[e] : "unknown";
}

MG_RESULT mg_tls_hs_global_init(void)
{
	MG_GUARD(mg_svid_init());
	MG_GUARD(mg_tls_record_global_init());
	if (hs_index < 0)
		hs_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	MG_ENSURE(hs_index >= 0, CRYPTO, "tls: no SSL ex_data index");
	return 0;
}

/* The alert a refusal sends: certificate_expired where it applies, else bad_certificate. */
static int refusal_error(enum mg_svid_reason r)
{
	return r == MG_SVID_EXPIRED ? X509_V_ERR_CERT_HAS_EXPIRED : X509_V_ERR_CERT_REJECTED;
}

/* OpenSSL's verifier replaced: the X509-SVID rules, then the expected peer. */
static int verify_peer(X509_STORE_CTX *xs, void *arg)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct mg_tls_hs *hs = ssl ? SSL_get_ex_data(ssl, hs_index) : NULL;

	(void)arg;
	if (hs == NULL)
		return 0;
	hs->svid = mg_svid_verify_cached(X509_STORE_CTX_get0_cert(xs),
					 X509_STORE_CTX_get0_untrusted(xs), hs->trust, time(NULL),
					 &hs->peer, hs->cache);
	if (hs->svid != MG_SVID_OK) {
		hs->error = MG_TLS_HS_ERR_PEER_CERT;
		X509_STORE_CTX_set_error(xs, refusal_error(hs->svid));
		return 0;
	}
	if (hs->expect_id != NULL && strcmp(hs->peer.id, hs->expect_id) != 0) {
		hs->error = MG_TLS_HS_ERR_WRONG_PEER_ID;
		X509_STORE_CTX_set_error(xs, X509_V_ERR_CERT_REJECTED);
		return 0;
	}
	return 1;
}

static void hex_secret(const char *hex, uint8_t *out, uint8_t *len)
{
	size_t n = strlen(hex) / 2;

	if (n > MG_TLS_MAX_SECRET)
		return;
	for (size_t i = 0; i < n; i++) {
		uint8_t hi = (uint8_t)hex[2 * i], lo = (uint8_t)hex[2 * i + 1];

		hi = hi <= '9' ? hi - '0' : (hi | 0x20) - 'a' + 10;
		lo = lo <= '9' ? lo - '0' : (lo | 0x20) - 'a' + 10;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	*len = (uint8_t)n;
}

/*
 * OpenSSL 3.0 has no call that returns the traffic secrets; its key log
 * ("LABEL <client random> <secret>") is where they appear, once each.
 */
static void catch_secret(const SSL *ssl, const char *line)
{
	struct mg_tls_hs *hs = SSL_get_ex_data(ssl, hs_index);
	const char *secret = strrchr(line, ' ');
	bool client = strncmp(line, "CLIENT_TRAFFIC_SECRET_0 ", 24) == 0;
	bool server = strncmp(line, "SERVER_TRAFFIC_SECRET_0 ", 24) == 0;

	if (hs == NULL || secret == NULL || !(client || server))
		return;
	/* Our receive secret is the peer's send secret. */
	if (client == (bool)SSL_is_server(ssl))
		hex_secret(secret + 1, hs->rx_secret, &hs->secret_len);
	else
		hex_secret(secret + 1, hs->tx_secret, &hs->secret_len);
}

static MG_RESULT ctx_settings(SSL_CTX *c, const struct mg_tls_ctx_params *p)
{
	MG_ENSURE(SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION) == 1 &&
		  SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION) == 1, CRYPTO,
		  "tls: cannot pin TLS 1.3");
	MG_ENSURE(SSL_CTX_set_ciphersuites(c, p->ciphersuites) == 1, CONFIG_VALUE,
		  "tls: ciphersuites \"%s\" refused by OpenSSL", p->ciphersuites);
	MG_ENSURE(SSL_CTX_set1_groups_list(c, p->groups) == 1, CONFIG_VALUE,
		  "tls: groups \"%s\" refused by OpenSSL", p->groups);
	MG_ENSURE(SSL_CTX_set1_sigalgs_list(c, p->sigalgs) == 1 &&
		  SSL_CTX_set1_client_sigalgs_list(c, p->sigalgs) == 1, CONFIG_VALUE,
		  "tls: sigalgs \"%s\" refused by OpenSSL", p->sigalgs);
	SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
			       SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(c, SSL_MODE_NO_AUTO_CHAIN | SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_max_early_data(c, 0);
	SSL_CTX_set_num_tickets(c, p->server ? p->tickets : 0);
	SSL_CTX_set_session_cache_mode(c, p->server && p->tickets ? SSL_SESS_CACHE_SERVER
								  : SSL_SESS_CACHE_OFF);
	SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_cert_verify_callback(c, verify_peer, NULL);
	SSL_CTX_set_keylog_callback(c, catch_secret);
	return 0;
}

SSL_CTX *mg_tls_ctx_new(const struct mg_tls_ctx_params *p)
{
	SSL_CTX *c = SSL_CTX_new(p->server ? TLS_server_method() : TLS_client_method());

	if (c == NULL) {
		mg_error_set(MG_ERR_NOMEM, "tls: no memory for a context");
		return NULL;
	}
	if (ctx_settings(c, p) < 0)
		goto fail;
	if (SSL_CTX_use_certificate(c, p->cert) != 1 || SSL_CTX_use_PrivateKey(c, p->key) != 1 ||
	    SSL_CTX_check_private_key(c) != 1) {
		mg_error_set(MG_ERR_CRYPTO, "tls: the SVID's key does not match its certificate");
		goto fail;
	}
	if (p->chain != NULL && SSL_CTX_set1_chain(c, p->chain) != 1) {
		mg_error_set(MG_ERR_CRYPTO, "tls: cannot set the SVID's chain");
		goto fail;
	}
	return c;
fail:
	ERR_clear_error();
	SSL_CTX_free(c);
	return NULL;
}

MG_RESULT mg_tls_hs_start(struct mg_tls_hs *hs, SSL_CTX *ctx, const struct mg_svid_trust *trust,
			  struct mg_svid_cache *cache, const char *expect_id, const char *sni)
{
	BIO *rb, *wb;

	memset(hs, 0, sizeof(*hs));
	hs->trust = trust;
	hs->cache = cache;
	hs->expect_id = expect_id;
	hs->svid = MG_SVID_NO_CERT;
	hs->ssl = SSL_new(ctx);
	rb = BIO_new(BIO_s_mem());
	wb = BIO_new(BIO_s_mem());
	if (hs->ssl == NULL || rb == NULL || wb == NULL) {
		BIO_free(rb);
		BIO_free(wb);
		mg_tls_hs_free(hs);
		return mg_error_set(MG_ERR_NOMEM, "tls: no memory for a handshake");
	}
	SSL_set_bio(hs->ssl, rb, wb);
	SSL_set_ex_data(hs->ssl, hs_index, hs);
	/* The method set the role; the handshake function still has to be chosen. */
	if (SSL_is_server(hs->ssl))
		SSL_set_accept_state(hs->ssl);
	else
		SSL_set_connect_state(hs->ssl);
	if (!SSL_is_server(hs->ssl) && sni != NULL && SSL_set_tlsext_host_name(hs->ssl, sni) != 1) {
		mg_tls_hs_free(hs);
		return mg_error_set(MG_ERR_USAGE, "tls: bad server name \"%s\"", sni);
	}
	return 0;
}

/* Records in buf[0..len) (whole or not): how many headers start there. */
static uint32_t count_records(const uint8_t *buf, size_t len)
{
	uint32_t n = 0;

	for (size_t at = 0; at + MG_TLS_HEADER_LEN <= len; n++)
		at += mg_tls_record_len(buf + at, len - at);
	return n;
}

/*
 * A resumed session skipped the certificate: judge the peer's leaf kept in the
 * session against the trust in force now (a resumption is no grandfathering).
 */
static bool recheck_resumed(struct mg_tls_hs *hs)
{
	X509 *leaf = SSL_get0_peer_certificate(hs->ssl);

	hs->svid = mg_svid_verify_cached(leaf, NULL, hs->trust, time(NULL), &hs->peer, hs->cache);
	if (hs->svid != MG_SVID_OK)
		hs->error = MG_TLS_HS_ERR_PEER_CERT;
	else if (hs->expect_id != NULL && strcmp(hs->peer.id, hs->expect_id) != 0)
		hs->error = MG_TLS_HS_ERR_WRONG_PEER_ID;
	return hs->error == MG_TLS_HS_ERR_OK;
}

static enum mg_tls_hs_status failed(struct mg_tls_hs *hs)
{
	unsigned long e = ERR_peek_error();

	if (hs->error == MG_TLS_HS_ERR_OK && ERR_GET_REASON(e) ==
	    SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
		hs->error = MG_TLS_HS_ERR_PEER_CERT;
		hs->svid = MG_SVID_NO_CERT;
	} else if (hs->error == MG_TLS_HS_ERR_OK) {
		hs->error = MG_TLS_HS_ERR_PROTOCOL;
	}
	ERR_clear_error();
	return MG_TLS_HS_FAILED;
}

enum mg_tls_hs_status mg_tls_hs_step(struct mg_tls_hs *hs, const uint8_t *in, size_t in_len,
				     uint8_t *out, size_t cap, size_t *out_len)
{
	BIO *wb = SSL_get_wbio(hs->ssl);
	uint64_t before = BIO_number_written(wb);
	enum mg_tls_hs_status st = MG_TLS_HS_CONTINUE;
	int rc, n;

	if (in_len > 0 && BIO_write(SSL_get_rbio(hs->ssl), in, (int)in_len) != (int)in_len)
		return hs->error = MG_TLS_HS_ERR_NOMEM, MG_TLS_HS_FAILED;
	if (SSL_is_init_finished(hs->ssl)) { /* called again to drain the output */
		n = BIO_read(wb, out, (int)cap);
		*out_len = n > 0 ? (size_t)n : 0;
		return MG_TLS_HS_DONE;
	}
	rc = SSL_do_handshake(hs->ssl);
	if (rc == 1)
		st = SSL_session_reused(hs->ssl) && !recheck_resumed(hs) ? MG_TLS_HS_FAILED
									 : MG_TLS_HS_DONE;
	else if (SSL_get_error(hs->ssl, rc) != SSL_ERROR_WANT_READ)
		st = failed(hs);
	if (st == MG_TLS_HS_DONE && SSL_is_server(hs->ssl)) {
		/* What the completing call wrote went out under the application secret. */
		const char *p;
		long pending = BIO_get_mem_data(wb, &p);
		size_t fresh = (size_t)(BIO_number_written(wb) - before);

		hs->tx_app_records = count_records((const uint8_t *)p + pending - fresh, fresh);
	}
	n = BIO_read(wb, out, (int)cap);
	*out_len = n > 0 ? (size_t)n : 0;
	return st;
}

MG_RESULT mg_tls_hs_finish(struct mg_tls_hs *hs, struct mg_tls_dir *rx, struct mg_tls_dir *tx,
			   uint8_t *rest, size_t cap, size_t *rest_len)
{
	const SSL_CIPHER *c = SSL_get_current_cipher(hs->ssl);
	enum mg_tls_suite suite = (enum mg_tls_suite)(c ? SSL_CIPHER_get_protocol_id(c) : 0);
	BIO *rb = SSL_get_rbio(hs->ssl);
	int n, rc = 0;

	*rest_len = 0;
	MG_ENSURE_GOTO(BIO_ctrl_pending(SSL_get_wbio(hs->ssl)) == 0, out, USAGE,
		       "tls: handshake output not yet sent");
	MG_ENSURE_GOTO(BIO_ctrl_pending(rb) <= cap, out, IO_TOO_BIG,
		       "tls: %zu bytes past the handshake", BIO_ctrl_pending(rb));
	MG_GUARD_GOTO(mg_tls_dir_init(rx, suite, hs->rx_secret, hs->secret_len), out);
	if (mg_tls_dir_init(tx, suite, hs->tx_secret, hs->secret_len) < 0) {
		mg_tls_dir_free(rx);
		rc = -1;
		goto out;
	}
	tx->seq = hs->tx_app_records;
	n = BIO_read(rb, rest, (int)cap);
	*rest_len = n > 0 ? (size_t)n : 0;
out:
	mg_tls_hs_free(hs);
	return rc;
}

void mg_tls_hs_free(struct mg_tls_hs *hs)
{
	SSL_free(hs->ssl); /* frees both BIOs */
	hs->ssl = NULL;
	OPENSSL_cleanse(hs->rx_secret, sizeof(hs->rx_secret));
	OPENSSL_cleanse(hs->tx_secret, sizeof(hs->tx_secret));
}
