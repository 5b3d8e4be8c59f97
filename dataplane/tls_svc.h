/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The handshake service: full TLS handshakes (hundreds of µs of public-key
 * crypto) run on handshake lcores, never in a worker's loop.
 *
 * Why this split rather than OpenSSL async jobs: the TCP connection stays
 * with its worker (one owner per flow, no state handed between cores), and
 * only the handshake's bytes travel. A worker takes a job from its own fixed
 * pool (the pool's size is the cap on its handshakes in flight), copies what
 * the peer sent into it and posts it on its ring; a handshake lcore runs one
 * step (tls_hs.h) and posts it back with what to send, until the job is done
 * (keys handed to the record layer) or failed. Handshake lcores own the OpenSSL
 * objects while a job is with them; a worker never calls into OpenSSL for a
 * handshake. On this 2-core machine the handshake lcore shares core 0 with the
 * control thread; on a node it has a core of its own.
 *
 * A connection that goes away (deadline, reset) while its job is out marks
 * nothing: the job comes back, the worker sees the connection gone and
 * returns the job with `abandon` set, and the handshake lcore frees it.
 */
#ifndef MG_TLS_SVC_H
#define MG_TLS_SVC_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ring.h>

#include "mg_error.h"
#include "tls_hs.h"
#include "tls_set.h"

/* Bytes per step each way: a whole flight, and any one record a peer may send. */
#define MG_TLS_JOB_IO (MG_TLS_HEADER_LEN + MG_TLS_MAX_CIPHERTEXT + 1024)

/* Who a job belongs to, as the worker knows it; the service only carries it. */
struct mg_tls_job_owner {
	uint32_t conn;       /* the worker's connection handle */
	uint32_t conn_gen;   /* ...and its reuse generation */
};

/** One handshake's job. Between steps the worker owns it; in flight, a handshake lcore. */
struct mg_tls_job {
	struct mg_tls_job_owner owner;
	/* set by the worker before the first step; the job holds a reference on
	 * set, dropped by the handshake lcore when the job ends (done, failed,
	 * abandoned) */
	struct mg_tls_set *set;
	SSL_CTX *ctx;
	const struct mg_svid_trust *trust;
	const char *expect_id; /* client role: the upstream's SPIFFE ID */
	const char *sni;
	bool started, abandon;
	/* one step: io[0..in_len) from the peer goes in, io[0..out_len) to send comes out
	 * (OpenSSL has copied the input before the output is read back) */
	uint32_t in_len, out_len;
	uint8_t io[MG_TLS_JOB_IO];
	enum mg_tls_hs_status status;
	/* the handshake (handshake lcore only) and, once DONE, its outcome */
	struct mg_tls_hs hs;
	struct mg_tls_dir rx, tx;
	uint32_t rest_len;
	uint8_t rest[MG_TLS_JOB_IO]; /* peer bytes past the handshake: records */
	uint64_t step_cycles;        /* TSC cycles the handshake lcore spent on it */
	struct mg_tls_job *next_free;
};

/* A worker's side: its pool and its pair of rings. */
struct mg_tls_svc_worker {
	struct rte_ring *to_hs;   /* worker -> handshake lcores (SP/MC) */
	struct rte_ring *from_hs; /* handshake lcores -> worker (MP/SC) */
	struct mg_tls_job *jobs;  /* pool of n_jobs */
	struct mg_tls_job *free_list;
	uint32_t n_jobs, in_use;
	uint64_t capped;          /* jobs refused: pool empty */
};

/** What every handshake lcore serves: all workers' rings. */
struct mg_tls_svc {
	uint16_t n_workers;
	struct mg_tls_svc_worker *w; /* n_workers */
	volatile int quit;
};

/** Make @p n_workers pools of @p jobs_per_worker jobs and their rings. */
MG_RESULT mg_tls_svc_init(struct mg_tls_svc *s, uint16_t n_workers, uint32_t jobs_per_worker,
			  int socket_id, const char *name);
/** Free rings and pools (after the handshake lcores and the workers stopped); whatever a
 * job still holds (a handshake, keys, a reference to TLS state) is freed with it. */
void mg_tls_svc_free(struct mg_tls_svc *s);

/** Worker: a fresh job for @p owner, or NULL when @p n_jobs are out (counted). */
struct mg_tls_job *mg_tls_svc_job_get(struct mg_tls_svc_worker *w, struct mg_tls_job_owner owner);
/** Worker: hand a job (with in[] filled, or abandon set) to the handshake lcores. */
void mg_tls_svc_post(struct mg_tls_svc_worker *w, struct mg_tls_job *j);
/** Worker: a job is home for good (done and its outcome taken, or abandoned and back). */
void mg_tls_svc_job_put(struct mg_tls_svc_worker *w, struct mg_tls_job *j);
/** Worker: up to @p max jobs back from the handshake lcores. */
unsigned mg_tls_svc_collect(struct mg_tls_svc_worker *w, struct mg_tls_job **jobs, unsigned max);

/**
 * Handshake lcore: serve every worker's ring once (at most @p burst jobs per
 * worker), with @p cache as this lcore's verified-chain cache. Returns how
 * many jobs it stepped.
 */
unsigned mg_tls_svc_serve(struct mg_tls_svc *s, struct mg_svid_cache *cache, unsigned burst);

/** Handshake lcore entry point (rte_eal_remote_launch or a thread): serve until quit. */
int mg_tls_svc_main(void *svc);

#endif /* MG_TLS_SVC_H */
