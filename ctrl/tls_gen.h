/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The TLS state of one policy generation: the trust bundles of the snapshot's
 * trust domains and, per local SVID, a server and a client context made with
 * the snapshot's tls settings. Built whole on the control thread before the
 * generation is published, read by handshakes only, freed with the
 * generation after the RCU grace period, like the policy arena. A rotated
 * SVID makes a new generation of this state (same policy, new contexts);
 * handshakes in flight keep the contexts they started with.
 */
#ifndef MG_TLS_GEN_H
#define MG_TLS_GEN_H

#include <stdint.h>

#include <openssl/ssl.h>

#include "mg_error.h"
#include "policy.h"
#include "svid.h"
#include "svid_files.h"
#include "tls_set.h"

struct mg_tls_identity {
	char name[MG_NAME_LEN];  /* the SVID's name in gateway.conf */
	char spiffe_id[MG_SPIFFE_MAX_LEN + 1];
	char image[MG_SVID_IMAGE_LEN + 1]; /* "" when the SVID has none */
	SSL_CTX *server, *client;
};

struct mg_tls_gen {
	struct mg_tls_set set;      /* what workers read; set.refs starts at 1 (the generation's) */
	uint64_t generation;
	struct mg_svid_trust trust; /* trust.generation == generation */
	uint32_t n_ids;
	struct mg_tls_identity *ids;
	struct mg_tls_local *local; /* n_ids, pointing into ids */
};

/**
 * The bundles of @p pol's trust domains, keyed to @p generation. Needed first
 * to check the SVID files (svid_files.h), then by mg_tls_gen_build().
 */
MG_RESULT mg_tls_trust_build(const struct mg_policy *pol, uint64_t generation,
			     struct mg_svid_trust *out);
void mg_tls_trust_free(struct mg_svid_trust *t);

/**
 * Build the state of a generation: @p trust (taken over, also on failure)
 * and, for each of the @p n SVIDs, contexts with @p pol's tls settings.
 * Each SVID must still verify under @p trust: a snapshot that drops the trust
 * domain of a local SVID is refused here, before publication.
 */
MG_RESULT mg_tls_gen_build(const struct mg_policy *pol, struct mg_svid_trust *trust,
			   const struct mg_svid_source *src, const struct mg_svid_files *svids,
			   uint32_t n, struct mg_tls_gen **out);

/** The identity named @p name, or NULL. */
const struct mg_tls_identity *mg_tls_gen_find(const struct mg_tls_gen *g, const char *name);

void mg_tls_gen_free(struct mg_tls_gen *g);

/*
 * ALPN on the contexts mg_tls_gen_build() makes: servers pick "http/1.1"
 * when offered; an offer without it is refused (no_application_protocol)
 * when the policy has HTTP rules and h2 = "refuse", else proceeds with no
 * protocol; clients offer "http/1.1" only. Counted since start.
 */
struct mg_tls_alpn_stats {
	uint64_t http11;        /* "http/1.1" selected */
	uint64_t h2_downgraded; /* "h2" was offered, not selected */
	uint64_t refused;       /* handshakes refused: no "http/1.1" offered */
	uint64_t unselected;    /* no "http/1.1" offered, proceeded without ALPN */
};
void mg_tls_alpn_stats(struct mg_tls_alpn_stats *out);

#endif /* MG_TLS_GEN_H */
