/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The handshake service (tls_svc.h): per-worker job pools and rings on the
 * worker side, one handshake step per posted job on the handshake lcores.
 */
#include "tls_svc.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_malloc.h>
#include <rte_pause.h>

MG_RESULT mg_tls_svc_init(struct mg_tls_svc *s, uint16_t n_workers, uint32_t jobs_per_worker,
			  int socket_id, const char *name)
{
	char rn[RTE_RING_NAMESIZE];

	memset(s, 0, sizeof(*s));
	MG_ENSURE(n_workers > 0 && jobs_per_worker > 0 && jobs_per_worker <= 65536, USAGE,
		  "tls: %u jobs for each of %u workers", jobs_per_worker, n_workers);
	s->n_workers = n_workers;
	s->w = rte_zmalloc_socket("tls_svc", n_workers * sizeof(*s->w), RTE_CACHE_LINE_SIZE,
				  socket_id);
	MG_ENSURE(s->w != NULL, NOMEM, "tls: no memory for the handshake service");
	for (uint16_t i = 0; i < n_workers; i++) {
		struct mg_tls_svc_worker *w = &s->w[i];
		/* A ring holds every job of its pool, so a post never finds it full. */
		unsigned size = rte_align32pow2(jobs_per_worker + 1);

		w->n_jobs = jobs_per_worker;
		w->jobs = rte_zmalloc_socket("tls_jobs", jobs_per_worker * sizeof(*w->jobs),
					     RTE_CACHE_LINE_SIZE, socket_id);
		snprintf(rn, sizeof(rn), "%s_to%u", name, i);
		w->to_hs = rte_ring_create(rn, size, socket_id, RING_F_SP_ENQ);
		snprintf(rn, sizeof(rn), "%s_fr%u", name, i);
		w->from_hs = rte_ring_create(rn, size, socket_id, RING_F_SC_DEQ);
		if (w->jobs == NULL || w->to_hs == NULL || w->from_hs == NULL) {
			mg_tls_svc_free(s);
			return mg_error_set(MG_ERR_NOMEM, "tls: no memory for worker %u's %u jobs",
					    i, jobs_per_worker);
		}
		for (uint32_t j = jobs_per_worker; j-- > 0;) {
			w->jobs[j].next_free = w->free_list;
			w->free_list = &w->jobs[j];
		}
	}
	return 0;
}

/* A job left anywhere at shutdown (a ring, a pair that went with its worker). */
static void job_clear(struct mg_tls_job *j)
{
	if (j->started)
		mg_tls_hs_free(&j->hs);
	j->started = false;
	mg_tls_dir_free(&j->rx);
	mg_tls_dir_free(&j->tx);
	mg_tls_set_put(j->set);
	j->set = NULL;
}

void mg_tls_svc_free(struct mg_tls_svc *s)
{
	for (uint16_t i = 0; s->w != NULL && i < s->n_workers; i++) {
		for (uint32_t k = 0; s->w[i].jobs != NULL && k < s->w[i].n_jobs; k++)
			job_clear(&s->w[i].jobs[k]);
		rte_ring_free(s->w[i].to_hs);
		rte_ring_free(s->w[i].from_hs);
		rte_free(s->w[i].jobs);
	}
	rte_free(s->w);
	s->w = NULL;
}

struct mg_tls_job *mg_tls_svc_job_get(struct mg_tls_svc_worker *w, struct mg_tls_job_owner owner)
{
	struct mg_tls_job *j = w->free_list;

	if (j == NULL) {
		w->capped++;
		return NULL;
	}
	w->free_list = j->next_free;
	w->in_use++;
	/* The large buffers are written before they are read: clear only the head. */
	memset(j, 0, offsetof(struct mg_tls_job, in_len));
	j->in_len = j->out_len = j->rest_len = 0;
	j->step_cycles = 0;
	j->owner = owner;
	return j;
}

void mg_tls_svc_post(struct mg_tls_svc_worker *w, struct mg_tls_job *j)
{
	/* Cannot fail: the ring has room for the whole pool. */
	(void)rte_ring_sp_enqueue(w->to_hs, j);
}

void mg_tls_svc_job_put(struct mg_tls_svc_worker *w, struct mg_tls_job *j)
{
	j->next_free = w->free_list;
	w->free_list = j;
	w->in_use--;
}

unsigned mg_tls_svc_collect(struct mg_tls_svc_worker *w, struct mg_tls_job **jobs, unsigned max)
{
	return rte_ring_sc_dequeue_burst(w->from_hs, (void **)jobs, max, NULL);
}

/* The job is over: its contexts and trust are no longer read. */
static void release_set(struct mg_tls_job *j)
{
	mg_tls_set_put(j->set);
	j->set = NULL;
}

/* One step of one job, on a handshake lcore. */
static void step(struct mg_tls_job *j, struct mg_svid_cache *cache)
{
	uint64_t t0 = rte_rdtsc();
	size_t out_len = 0, rest_len = 0;

	if (j->abandon) {
		if (j->started)
			mg_tls_hs_free(&j->hs);
		j->started = false;
		release_set(j);
		return;
	}
	if (!j->started) {
		if (mg_tls_hs_start(&j->hs, j->ctx, j->trust, cache, j->expect_id, j->sni) < 0) {
			j->hs.error = MG_TLS_HS_ERR_NOMEM;
			j->status = MG_TLS_HS_FAILED;
			j->out_len = 0;
			release_set(j);
			return;
		}
		j->started = true;
	}
	j->hs.cache = cache; /* the lcore serving this step may not be the last one */
	j->status = mg_tls_hs_step(&j->hs, j->io, j->in_len, j->io, sizeof(j->io), &out_len);
	j->out_len = (uint32_t)out_len;
	if (j->status == MG_TLS_HS_DONE) {
		/* The whole flight must fit one step's buffer; a handshake flight does. */
		if (mg_tls_hs_finish(&j->hs, &j->rx, &j->tx, j->rest, sizeof(j->rest),
				     &rest_len) < 0) {
			j->hs.error = MG_TLS_HS_ERR_PROTOCOL;
			j->status = MG_TLS_HS_FAILED;
		}
		j->rest_len = (uint32_t)rest_len;
		j->started = false; /* the SSL object is gone */
	} else if (j->status == MG_TLS_HS_FAILED) {
		mg_tls_hs_free(&j->hs);
		j->started = false;
	}
	if (j->status != MG_TLS_HS_CONTINUE)
		release_set(j);
	j->step_cycles += rte_rdtsc() - t0;
}

unsigned mg_tls_svc_serve(struct mg_tls_svc *s, struct mg_svid_cache *cache, unsigned burst)
{
	struct mg_tls_job *jobs[32];
	unsigned done = 0;

	if (burst > RTE_DIM(jobs))
		burst = RTE_DIM(jobs);
	for (uint16_t i = 0; i < s->n_workers; i++) {
		struct mg_tls_svc_worker *w = &s->w[i];
		unsigned n = rte_ring_mc_dequeue_burst(w->to_hs, (void **)jobs, burst, NULL);

		for (unsigned k = 0; k < n; k++)
			step(jobs[k], cache);
		/* Cannot fail: the ring has room for the whole pool. */
		(void)rte_ring_mp_enqueue_burst(w->from_hs, (void **)jobs, n, NULL);
		done += n;
	}
	return done;
}

/*
 * Idle, a handshake lcore naps after IDLE_POLLS empty rounds, first
 * NAP_MIN_US, twice as long each further empty round up to NAP_MAX_US: it
 * shares its core with the control thread here, and a steady 20 µs nap cost
 * a fifth of that core with nothing to do (bench/README.md, mtls). A nap
 * delays a waiting handshake step at most NAP_MAX_US, next to hundreds of µs
 * of crypto; under load the lcore never naps.
 */
#define IDLE_POLLS 64
#define NAP_MIN_US 20
#define NAP_MAX_US 200

int mg_tls_svc_main(void *arg)
{
	struct mg_tls_svc *s = arg;
	struct mg_svid_cache *cache = rte_zmalloc("svid_cache", sizeof(*cache), 0);
	unsigned idle = 0, nap_us = NAP_MIN_US;

	while (!__atomic_load_n(&s->quit, __ATOMIC_ACQUIRE)) {
		if (mg_tls_svc_serve(s, cache, 8) > 0) {
			idle = 0;
			nap_us = NAP_MIN_US;
		} else if (++idle < IDLE_POLLS) {
			rte_pause();
		} else {
			rte_delay_us_sleep(nap_us);
			nap_us = RTE_MIN(2 * nap_us, (unsigned)NAP_MAX_US);
		}
	}
	rte_free(cache);
	return 0;
}
