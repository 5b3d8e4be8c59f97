/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * What the data path reads of one generation's TLS state: the trust bundles
 * and, per local SVID, its SPIFFE ID and a server and a client context. The
 * control thread builds it (ctrl/tls_gen.c) with the policy it belongs to and
 * hangs it on that policy, so workers find it through the same RCU
 * publication; a rotated SVID replaces it on the same policy.
 *
 * A handshake outlives a worker's loop, so a job holds a reference: the
 * publication holds one, each handshake job one more (taken by the worker,
 * dropped by the handshake lcore when the job ends). The last reference frees
 * the state, on whichever thread drops it; freeing is OpenSSL's and thread-safe.
 */
#ifndef MG_TLS_SET_H
#define MG_TLS_SET_H

#include <stdint.h>
#include <string.h>

#include <openssl/ssl.h>

#include "mg_limits.h"
#include "svid.h"

/** One local SVID as handshakes use it. */
struct mg_tls_local {
	const char *spiffe_id;   /* NUL-terminated */
	const char *image;       /* "sha256:<hex>" or NULL */
	SSL_CTX *server, *client;
};

struct mg_tls_set {
	uint32_t refs;
	uint64_t generation;     /* of the trust bundles (the policy's generation) */
	const struct mg_svid_trust *trust;
	uint32_t n_local;
	const struct mg_tls_local *local;
	void (*destroy)(struct mg_tls_set *); /* frees everything, the set included */
};

static inline void mg_tls_set_get(struct mg_tls_set *s)
{
	__atomic_fetch_add(&s->refs, 1, __ATOMIC_RELAXED);
}

static inline void mg_tls_set_put(struct mg_tls_set *s)
{
	if (s && __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0)
		s->destroy(s);
}

/** The local SVID for @p spiffe_id, or NULL (a few entries: a scan). */
static inline const struct mg_tls_local *mg_tls_set_find(const struct mg_tls_set *s,
							 const char *spiffe_id)
{
	for (uint32_t i = 0; s && i < s->n_local; i++)
		if (strcmp(s->local[i].spiffe_id, spiffe_id) == 0)
			return &s->local[i];
	return NULL;
}

#endif /* MG_TLS_SET_H */
