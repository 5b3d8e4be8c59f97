/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * RCU publication of the compiled policy. The control thread is the only
 * writer: it stores a new pointer with release semantics, waits with
 * rte_rcu_qsbr_synchronize() until every worker has passed a quiescent state
 * (once per loop), and only then frees the old policy. Workers load the pointer
 * with acquire semantics at the top of each loop and never keep it across
 * loops, so a swap costs them one load.
 */
#ifndef MG_PUBLISH_H
#define MG_PUBLISH_H

#include <stdint.h>

#include <rte_rcu_qsbr.h>

#include "mg_error.h"

struct mg_publish {
	struct rte_rcu_qsbr *qsv;
	void *active;            /* the published object (struct mg_policy *) */
	uint64_t generation;     /* bumped on every swap; connections compare it */
	void (*free_fn)(void *); /* releases a retired object after the grace period */
	uint64_t swaps;
	uint64_t last_sync_ns, max_sync_ns; /* how long grace periods took */
};

/** Set up QSBR for @p n_workers workers (thread ids 0..n-1); publishes @p initial. */
MG_RESULT mg_publish_init(struct mg_publish *p, uint32_t n_workers, void *initial,
			  void (*free_fn)(void *));
/** Register worker @p tid and mark it online (call on the worker before its loop). */
void mg_publish_worker_online(struct mg_publish *p, unsigned tid);
/** Mark worker @p tid offline (it stops reporting; grace periods skip it). */
void mg_publish_worker_offline(struct mg_publish *p, unsigned tid);
/** Publish @p next, wait out the grace period, free the old object. */
void mg_publish_swap(struct mg_publish *p, void *next);
/** Free the active object and the QSBR state (after workers stopped). */
void mg_publish_fini(struct mg_publish *p);

/** Worker side: the current object; valid until this worker's next quiescent report. */
static inline const void *mg_publish_read(const struct mg_publish *p)
{
	return __atomic_load_n(&p->active, __ATOMIC_ACQUIRE);
}

/** Worker side: report that this worker holds no pointer from mg_publish_read(). */
static inline void mg_publish_quiescent(struct mg_publish *p, unsigned tid)
{
	rte_rcu_qsbr_quiescent(p->qsv, tid);
}

#endif /* MG_PUBLISH_H */
