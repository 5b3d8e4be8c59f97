/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The arenas of compiled policies, mapped once and reused (issue 13 item 5).
 *
 * Why: every munmap() and every mprotect() that takes a right away flushes
 * the TLB of every core the process runs on - the workers' too, in the middle
 * of a burst (an IPI, or on this VM a hypervisor exit). A swap used to do both
 * (mprotect to seal the new arena, munmap to free the old one), so each swap
 * stalled each worker twice, whatever the RCU grace period.
 *
 * Now an arena is a memfd mapped twice: a writable view that only this file
 * and the compiler write through (before sealing), and a read-only view that
 * is the struct mg_policy * everyone else holds. The read-only view is
 * read-only from its first page fault, so sealing changes no protection, and
 * a freed arena goes back to a free list instead of being unmapped. Neither
 * view is ever touched by mprotect. A stray write through the policy pointer
 * still faults; a write through the writable alias is what the seal's SHA-256
 * (mg_policy_check(), every integrity interval) catches.
 *
 * Memory kept: the arenas in use plus at most POOL_MAX_FREE free ones, each
 * at most POOL_SLACK larger than the policy it was mapped for. Only when more
 * are free (policies of changing sizes) is the smallest unmapped.
 */
#include "policy_arena.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define POOL_MAX_FREE 2 /* free arenas kept mapped: the next swap and one more */
#define POOL_SLACK 8    /* map len + len / POOL_SLACK: a grown policy still fits */

struct arena {
	struct arena *next;
	uint8_t *ro, *rw; /* two views of one memfd */
	size_t size;      /* bytes mapped (each view) */
	size_t dirty;     /* bytes written since mapped: zeroed again on reuse */
	bool used;
};

static struct {
	pthread_mutex_t mu; /* control threads only; workers never come here */
	struct arena *list;
	struct mg_policy_arena_stats st;
} pool = { .mu = PTHREAD_MUTEX_INITIALIZER };

/* Both views of a fresh memfd of @size bytes, populated now (not by a worker's fault). */
static int arena_map(size_t size, struct arena *a)
{
	int fd = memfd_create("mg-policy-arena", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	int rc = -1;

	MG_ENSURE(fd >= 0, NOMEM, "policy: memfd_create: %s", strerror(errno));
	a->rw = a->ro = MAP_FAILED;
	/* Fixed size for good: a truncated memfd would SIGBUS the readers. */
	MG_ENSURE_GOTO(ftruncate(fd, (off_t)size) == 0 &&
			       fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) == 0,
		       out, NOMEM, "policy: arena memfd of %zu bytes: %s", size, strerror(errno));
	a->rw = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
	a->ro = mmap(NULL, size, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
	MG_ENSURE_GOTO(a->rw != MAP_FAILED && a->ro != MAP_FAILED, out, NOMEM,
		       "policy: mmap of a %zu-byte arena: %s", size, strerror(errno));
	a->size = size;
	rc = 0;
out:
	if (rc < 0 && a->rw != MAP_FAILED)
		munmap(a->rw, size);
	if (rc < 0 && a->ro != MAP_FAILED)
		munmap(a->ro, size);
	close(fd); /* the mappings keep the memory */
	return rc;
}

/* The smallest free arena of at least @len bytes, or NULL. */
static struct arena *best_free(size_t len)
{
	struct arena *best = NULL;

	for (struct arena *a = pool.list; a != NULL; a = a->next)
		if (!a->used && a->size >= len && (best == NULL || a->size < best->size))
			best = a;
	return best;
}

static struct arena *find(const void *ro)
{
	struct arena *a = pool.list;

	while (a != NULL && a->ro != ro)
		a = a->next;
	return a;
}

static struct arena *add_new(size_t len)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t size = (len + len / POOL_SLACK + (size_t)page - 1) & ~((size_t)page - 1);
	struct arena *a = calloc(1, sizeof(*a));

	if (a == NULL) {
		mg_error_set(MG_ERR_NOMEM, "policy: out of memory");
		return NULL;
	}
	if (arena_map(size, a) < 0) {
		free(a);
		return NULL;
	}
	a->next = pool.list;
	pool.list = a;
	pool.st.maps++;
	pool.st.mapped++;
	pool.st.bytes += size;
	return a;
}

MG_RESULT mg_policy_pool_get(size_t len, uint8_t **rw, struct mg_policy **ro, size_t *size)
{
	struct arena *a;

	pthread_mutex_lock(&pool.mu);
	a = best_free(len);
	if (a != NULL)
		pool.st.reuses++;
	else
		a = add_new(len);
	if (a != NULL) {
		a->used = true;
		/* Bytes past @len are never hashed nor read; zeroed all the same,
		 * so an arena holds one policy and nothing of an older one. */
		if (a->dirty > len)
			memset(a->rw + len, 0, a->dirty - len);
		a->dirty = len;
		*rw = a->rw;
		*ro = (struct mg_policy *)(void *)a->ro;
		*size = a->size;
	}
	pthread_mutex_unlock(&pool.mu);
	return a != NULL ? 0 : -1;
}

struct mg_policy *mg_policy_pool_rw(const struct mg_policy *ro)
{
	struct arena *a;

	pthread_mutex_lock(&pool.mu);
	a = find(ro);
	pthread_mutex_unlock(&pool.mu);
	return a != NULL && a->used ? (struct mg_policy *)(void *)a->rw : NULL;
}

/* More than POOL_MAX_FREE free: unmap the smallest (the one least likely to fit). */
static void trim(void)
{
	struct arena **pp, **small = NULL, *a;
	unsigned n_free = 0;

	for (pp = &pool.list; *pp != NULL; pp = &(*pp)->next)
		if (!(*pp)->used) {
			n_free++;
			if (small == NULL || (*pp)->size < (*small)->size)
				small = pp;
		}
	if (n_free <= POOL_MAX_FREE || small == NULL)
		return;
	a = *small;
	*small = a->next;
	munmap(a->rw, a->size);
	munmap(a->ro, a->size);
	pool.st.unmaps++;
	pool.st.mapped--;
	pool.st.bytes -= a->size;
	free(a);
}

void mg_policy_pool_put(const struct mg_policy *ro)
{
	struct arena *a;

	pthread_mutex_lock(&pool.mu);
	a = find(ro);
	if (a != NULL) {
		a->used = false;
		trim();
	}
	pthread_mutex_unlock(&pool.mu);
}

void mg_policy_arena_stats(struct mg_policy_arena_stats *out)
{
	pthread_mutex_lock(&pool.mu);
	*out = pool.st;
	out->in_use = 0;
	for (struct arena *a = pool.list; a != NULL; a = a->next)
		out->in_use += a->used;
	pthread_mutex_unlock(&pool.mu);
}
