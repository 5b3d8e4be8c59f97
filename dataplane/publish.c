/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The RCU publication cell (publish.h): QSBR set-up, worker registration and
 * the control thread's swap that waits out the grace period before freeing.
 */
#include "publish.h"

#include <string.h>
#include <time.h>

#include <rte_errno.h>
#include <rte_malloc.h>

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

MG_RESULT mg_publish_init(struct mg_publish *p, uint32_t n_workers, void *initial,
			  void (*free_fn)(void *))
{
	size_t size;

	memset(p, 0, sizeof(*p));
	MG_ENSURE(n_workers > 0, USAGE, "publish: no workers");
	size = rte_rcu_qsbr_get_memsize(n_workers);
	p->qsv = rte_zmalloc("mg_qsbr", size, RTE_CACHE_LINE_SIZE);
	MG_ENSURE(p->qsv != NULL, NOMEM, "publish: QSBR state: no memory");
	MG_ENSURE(rte_rcu_qsbr_init(p->qsv, n_workers) == 0, DPDK, "publish: QSBR init: %s",
		  rte_strerror(rte_errno));
	p->free_fn = free_fn;
	__atomic_store_n(&p->active, initial, __ATOMIC_RELEASE);
	return 0;
}

void mg_publish_worker_online(struct mg_publish *p, unsigned tid)
{
	rte_rcu_qsbr_thread_register(p->qsv, tid);
	rte_rcu_qsbr_thread_online(p->qsv, tid);
}

void mg_publish_worker_offline(struct mg_publish *p, unsigned tid)
{
	rte_rcu_qsbr_thread_offline(p->qsv, tid);
	rte_rcu_qsbr_thread_unregister(p->qsv, tid);
}

void mg_publish_swap(struct mg_publish *p, void *next)
{
	void *old = p->active;
	uint64_t t0;

	/* Release: the object's contents are visible before its address. */
	__atomic_store_n(&p->active, next, __ATOMIC_RELEASE);
	__atomic_store_n(&p->generation, p->generation + 1, __ATOMIC_RELEASE);
	t0 = mono_ns();
	/* The control thread is no reader: it waits for every online worker. */
	rte_rcu_qsbr_synchronize(p->qsv, RTE_QSBR_THRID_INVALID);
	p->last_sync_ns = mono_ns() - t0;
	if (p->last_sync_ns > p->max_sync_ns)
		p->max_sync_ns = p->last_sync_ns;
	p->swaps++;
	if (old && old != next && p->free_fn)
		p->free_fn(old);
}

void mg_publish_fini(struct mg_publish *p)
{
	if (p->active && p->free_fn)
		p->free_fn(p->active);
	p->active = NULL;
	rte_free(p->qsv);
	p->qsv = NULL;
}
