/* SPDX-License-Identifier: BSD-3-Clause */
#include "unmap_gate.h"

#include <dlfcn.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <rte_interrupts.h>

/*
 * The next munmap() in symbol lookup order: libc's, or a sanitizer's
 * interceptor in front of it. Resolved before main(); a call before that (from
 * another library's constructor) goes straight to the system call.
 */
static int (*next_munmap)(void *, size_t);

__attribute__((constructor)) static void resolve_next_munmap(void)
{
	next_munmap = (int (*)(void *, size_t))dlsym(RTLD_NEXT, "munmap");
}

/*
 * Held by the interrupt thread for the whole wait, so disarm() cannot free the
 * QSBR variable under it. Workers never take it; only the interrupt thread
 * (rarely: a PMD unmapping) and the control thread (arm, disarm) do.
 */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rte_rcu_qsbr *gate_qsv;
static struct mg_unmap_gate_stats gate_stats;

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Wait until no worker is still in a burst it began before this call. */
static void wait_for_workers(void)
{
	uint64_t t0, ns;

	pthread_mutex_lock(&gate_lock);
	if (gate_qsv) {
		t0 = mono_ns();
		/*
		 * rte_rcu_qsbr_start() is a release: the PMD's cleared "connected"
		 * flag, stored before this call, is visible to every burst that
		 * begins after the worker's next quiescent report (an acquire).
		 * Offline workers (stopped, or not started) are not waited for.
		 */
		rte_rcu_qsbr_synchronize(gate_qsv, RTE_QSBR_THRID_INVALID);
		ns = mono_ns() - t0;
		__atomic_store_n(&gate_stats.waits, gate_stats.waits + 1, __ATOMIC_RELAXED);
		if (ns > gate_stats.wait_ns_max)
			__atomic_store_n(&gate_stats.wait_ns_max, ns, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&gate_lock);
}

/*
 * Every munmap() of the process that goes through the dynamic linker lands
 * here (libc's own internal calls do not). Only the EAL interrupt thread waits:
 * that is where PMDs react to a peer or a device going away. It is never a
 * worker, so it can never wait for itself.
 */
int munmap(void *addr, size_t len)
{
	if (rte_thread_is_intr())
		wait_for_workers();
	if (next_munmap)
		return next_munmap(addr, len);
	return (int)syscall(SYS_munmap, addr, len);
}

MG_RESULT mg_unmap_gate_arm(struct rte_rcu_qsbr *v)
{
	/* A PMD binds to the first munmap in global lookup order: it must be this one. */
	MG_ENSURE(dlsym(RTLD_DEFAULT, "munmap") == (void *)munmap, INTERNAL,
		  "meshgw's munmap() is not exported (link with "
		  "-Wl,--export-dynamic-symbol=munmap): a memif peer that goes away "
		  "would crash the workers");
	pthread_mutex_lock(&gate_lock);
	gate_qsv = v;
	pthread_mutex_unlock(&gate_lock);
	return 0;
}

void mg_unmap_gate_disarm(void)
{
	pthread_mutex_lock(&gate_lock);
	gate_qsv = NULL;
	pthread_mutex_unlock(&gate_lock);
}

void mg_unmap_gate_stats(struct mg_unmap_gate_stats *s)
{
	s->waits = __atomic_load_n(&gate_stats.waits, __ATOMIC_RELAXED);
	s->wait_ns_max = __atomic_load_n(&gate_stats.wait_ns_max, __ATOMIC_RELAXED);
}
