/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * mTLS handshakes in memory: OpenSSL drives one TLS 1.3 handshake over memory
 * BIOs (no socket), the peer's certificate is judged by the X509-SVID rules
 * (svid.h) instead of OpenSSL's default verifier, and once the handshake is
 * done its traffic secrets key our own record layer (tls_record.h) and the
 * SSL object is freed. The bytes in and out are the caller's to carry: a
 * worker's TCP connection, or a ring to and from a handshake lcore.
 *
 * Contexts (SSL_CTX) are built by the control thread per policy generation,
 * one per local identity and role, from the snapshot's tls settings and the
 * SVID files; a handshake only reads its context. Fixed choices:
 *  - TLS 1.3 only; suites, groups and signature algorithms exactly as given;
 *  - no renegotiation (TLS 1.3 has none), no post-handshake authentication,
 *    no 0-RTT, no compression; session tickets off unless asked for;
 *  - the peer must present a certificate; the server's chain is sent as
 *    configured (SSL_MODE_NO_AUTO_CHAIN: no chain building per handshake);
 *  - record buffers released when idle (SSL_MODE_RELEASE_BUFFERS).
 */
#ifndef MG_TLS_HS_H
#define MG_TLS_HS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "mg_error.h"
#include "svid.h"
#include "tls_record.h"

/** What a context is made of; every pointer is only read during the call. */
struct mg_tls_ctx_params {
	bool server;
	const char *ciphersuites; /* "TLS_AES_128_GCM_SHA256:..." */
	const char *groups;       /* "X25519:P-256" */
	const char *sigalgs;      /* "ecdsa_secp256r1_sha256:..." */
	X509 *cert;               /* the local workload's SVID leaf */
	STACK_OF(X509) *chain;    /* intermediates sent after it (may be NULL) */
	EVP_PKEY *key;            /* its private key */
	uint32_t tickets;         /* server: session tickets per handshake (0 = none) */
};

/* Why a handshake failed. */
#define foreach_mg_tls_hs_error(_)                                             \
	_(OK, ok)                                                              \
	_(PEER_CERT, peer_certificate)   /* not a valid SVID: see svid reason */ \
	_(WRONG_PEER_ID, wrong_peer_id)  /* a valid SVID of another workload */ \
	_(PROTOCOL, handshake_failed)    /* OpenSSL refused: version, suite, alert */ \
	_(NOMEM, no_memory)

enum mg_tls_hs_error {
#define _(sym, name) MG_TLS_HS_ERR_##sym,
	foreach_mg_tls_hs_error(_)
#undef _
	MG_TLS_HS_ERR__COUNT
};

enum mg_tls_hs_status {
	MG_TLS_HS_CONTINUE, /* send what was written, wait for more from the peer */
	MG_TLS_HS_DONE,     /* established: mg_tls_hs_finish() */
	MG_TLS_HS_FAILED,   /* send what was written (an alert), then close */
};

/** One handshake in progress. */
struct mg_tls_hs {
	SSL *ssl;
	const struct mg_svid_trust *trust; /* the generation's bundles */
	struct mg_svid_cache *cache;       /* the running thread's verified chains, or NULL */
	const char *expect_id;             /* client: the server must be this ID */
	enum mg_tls_hs_error error;
	enum mg_svid_reason svid;          /* the peer certificate's verdict */
	struct mg_svid_peer peer;
	uint8_t rx_secret[MG_TLS_MAX_SECRET], tx_secret[MG_TLS_MAX_SECRET];
	uint8_t secret_len;
	uint32_t tx_app_records; /* records OpenSSL already sent under the tx secret */
};

/** Short name of a handshake error ("wrong_peer_id"). */
const char *mg_tls_hs_error_name(enum mg_tls_hs_error e);

/** Call once on the main thread before any context or handshake (OpenSSL indexes). */
MG_RESULT mg_tls_hs_global_init(void);

/** A context for @p p (control thread). NULL with mg_errmsg() on failure. */
SSL_CTX *mg_tls_ctx_new(const struct mg_tls_ctx_params *p);

/**
 * Start a handshake on @p ctx. @p trust judges the peer, with @p cache (the
 * calling thread's, may be NULL); a client names the server it expects
 * (@p expect_id, a SPIFFE ID) and may send @p sni (NULL: none). Both strings
 * must outlive the handshake.
 */
MG_RESULT mg_tls_hs_start(struct mg_tls_hs *hs, SSL_CTX *ctx, const struct mg_svid_trust *trust,
			  struct mg_svid_cache *cache, const char *expect_id, const char *sni);

/**
 * Feed @p in_len bytes from the peer (may be 0: a client's first call) and
 * collect what to send into @p out (at most @p cap bytes; *@p out_len).
 * What does not fit stays queued: call again with no input.
 */
enum mg_tls_hs_status mg_tls_hs_step(struct mg_tls_hs *hs, const uint8_t *in, size_t in_len,
				     uint8_t *out, size_t cap, size_t *out_len);

/**
 * After MG_TLS_HS_DONE: key the record layer (@p rx, @p tx), copy bytes the
 * peer sent past the handshake into @p rest (at most @p cap; *@p rest_len),
 * wipe the secrets and free the SSL object. The peer is in hs->peer.
 */
MG_RESULT mg_tls_hs_finish(struct mg_tls_hs *hs, struct mg_tls_dir *rx, struct mg_tls_dir *tx,
			   uint8_t *rest, size_t cap, size_t *rest_len);

/** Abandon a handshake (failure, deadline, close): free and wipe. */
void mg_tls_hs_free(struct mg_tls_hs *hs);

#endif /* MG_TLS_HS_H */
