/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * One published generation: the compiled policy and the TLS state made for
 * it (trust bundles, contexts per local SVID). This is the object the loader
 * publishes through RCU (publish.h) and a worker reads once per loop, so the
 * policy and the TLS state a handshake is judged by always belong together.
 *
 * The TLS state alone may be replaced within a generation, when an SVID
 * rotates: the control thread stores the new set, waits for the grace period
 * and drops its reference to the old one (handshakes in flight hold theirs).
 */
#ifndef MG_GEN_H
#define MG_GEN_H

#include "mg_error.h"
#include "policy.h"
#include "proxy.h"
#include "tls_set.h"

struct mg_gen {
	struct mg_policy *policy;
	struct mg_tls_set *tls; /* NULL: no TLS state (no SVIDs, or none valid) */
	/* the policy's L7 matcher (NULL: deny-all; HTTP requests are denied) and
	 * its `l7` settings as the workers read them */
	struct mg_policy_l7 *l7;
	struct mg_proxy_l7_conf l7_conf;
};

/** Wrap @p p (taken over; NULL stays NULL: workers deny on it). */
struct mg_gen *mg_gen_new(struct mg_policy *p);

/**
 * Build @p g's L7 matcher for @p workers workers (policy.h,
 * mg_policy_l7_build()): before publication, on the control thread.
 */
MG_RESULT mg_gen_build_l7(struct mg_gen *g, uint16_t workers);

/** Free a generation (its policy, L7 matcher, its reference to the TLS state); publish's free_fn. */
void mg_gen_free(void *gen);

/** The policy of a published generation (NULL-safe). */
static inline const struct mg_policy *mg_gen_policy(const void *gen)
{
	return gen ? ((const struct mg_gen *)gen)->policy : NULL;
}

/** The TLS state of @p gen as a reader sees it now. */
static inline struct mg_tls_set *mg_gen_tls(const void *gen)
{
	return gen ? __atomic_load_n(&((const struct mg_gen *)gen)->tls, __ATOMIC_ACQUIRE) : NULL;
}

/** The L7 matcher of a published generation (NULL-safe). */
static inline struct mg_policy_l7 *mg_gen_l7(const void *gen)
{
	return gen ? ((const struct mg_gen *)gen)->l7 : NULL;
}

#endif /* MG_GEN_H */
