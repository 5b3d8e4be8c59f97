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
 * Now an arena is a memfd mapped once, read-only: that mapping is the
 * struct mg_policy * everyone holds, read-only from its first page fault, so
 * sealing changes no protection. The compiler writes the arena with pwrite()
 * on the memfd, never through an address: the process has no writable view
 * of a policy for a stray or hostile write to find, and a write to the pages
 * needs no change of mapping either (the file's pages are the mapping's). A
 * freed arena goes back to a free list instead of being unmapped. A write
 * through the policy pointer still faults; a write through the file (only
 * code that holds the descriptor can) is what the seal's SHA-256
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
	uint8_t *ro;  /* the only mapping, PROT_READ */
	int fd;       /* the memfd: writes go through it */
	size_t size;  /* bytes mapped */
	size_t dirty; /* bytes written since mapped: zeroed again on reuse */
	bool used;
};

static struct {
	pthread_mutex_t mu; /* control threads only; workers never come here */
	struct arena *list;
	struct mg_policy_arena_stats st;
} pool = { .mu = PTHREAD_MUTEX_INITIALIZER };

/* A fresh memfd of @size bytes mapped read-only, populated now (not by a worker's fault). */
static int arena_map(size_t size, struct arena *a)
{
	int rc = -1;

	a->ro = MAP_FAILED;
	a->fd = memfd_create("mg-policy-arena", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	MG_ENSURE(a->fd >= 0, NOMEM, "policy: memfd_create: %s", strerror(errno));
	/* Fixed size for good: a truncated memfd would SIGBUS the readers. */
	MG_ENSURE_GOTO(ftruncate(a->fd, (off_t)size) == 0 &&
			       fcntl(a->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) == 0,
		       out, NOMEM, "policy: arena memfd of %zu bytes: %s", size, strerror(errno));
	a->ro = mmap(NULL, size, PROT_READ, MAP_SHARED | MAP_POPULATE, a->fd, 0);
	MG_ENSURE_GOTO(a->ro != MAP_FAILED, out, NOMEM, "policy: mmap of a %zu-byte arena: %s",
		       size, strerror(errno));
	a->size = size;
	rc = 0;
out:
	if (rc < 0)
		close(a->fd);
	return rc;
}

/* @n bytes of @buf (zeros if NULL) at @off of the arena's file. */
static int arena_write(const struct arena *a, size_t off, const void *buf, size_t n)
{
	static const uint8_t zeros[65536];

	while (n > 0) {
		size_t k = buf != NULL || n < sizeof(zeros) ? n : sizeof(zeros);
		ssize_t w = pwrite(a->fd, buf != NULL ? buf : zeros, k, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		MG_ENSURE(w > 0, IO, "policy: writing the arena: %s",
			  w < 0 ? strerror(errno) : "short write");
		off += (size_t)w;
		n -= (size_t)w;
		if (buf != NULL)
			buf = (const uint8_t *)buf + w;
	}
	return 0;
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

/* Pages for @len bytes and POOL_SLACK more. */
static size_t pool_size(size_t len)
{
	long page = sysconf(_SC_PAGESIZE);

	return (len + len / POOL_SLACK + (size_t)page - 1) & ~((size_t)page - 1);
}

static struct arena *add_new(size_t len)
{
	size_t size = pool_size(len);
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

MG_RESULT mg_policy_pool_get(const void *image, size_t len, struct mg_policy **ro)
{
	struct arena *a;
	int rc = -1;

	pthread_mutex_lock(&pool.mu);
	a = best_free(len);
	if (a != NULL)
		pool.st.reuses++;
	else
		a = add_new(len);
	if (a != NULL) {
		size_t was = a->dirty;

		a->dirty = was > len ? was : len; /* what a failed write may have left */
		/* Bytes past @len are never hashed nor read; zeroed all the same,
		 * so an arena holds one policy and nothing of an older one. */
		if (arena_write(a, 0, image, len) == 0 &&
		    arena_write(a, offsetof(struct mg_policy, size), &(uint64_t){ a->size },
				sizeof(uint64_t)) == 0 &&
		    (was <= len || arena_write(a, len, NULL, was - len) == 0)) {
			a->used = true;
			a->dirty = len;
			*ro = (struct mg_policy *)(void *)a->ro;
			rc = 0;
		}
	}
	pthread_mutex_unlock(&pool.mu);
	return rc;
}

MG_RESULT mg_policy_pool_write(const struct mg_policy *ro, size_t off, const void *buf, size_t n)
{
	struct arena *a;
	int rc;

	pthread_mutex_lock(&pool.mu);
	a = find(ro);
	if (a == NULL || !a->used || off + n > a->dirty)
		rc = mg_error_set(MG_ERR_USAGE, "policy: not an arena of the pool");
	else
		rc = arena_write(a, off, buf, n);
	pthread_mutex_unlock(&pool.mu);
	return rc;
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
	munmap(a->ro, a->size);
	close(a->fd);
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
