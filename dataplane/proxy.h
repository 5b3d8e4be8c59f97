/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The L4 proxy of one worker: `tcp` listeners whose accepted connections are
 * spliced to a fresh connection to the listener's upstream, on the same
 * worker's TCP stack.
 *
 * Splicing moves mbuf chains, never copies: at most mg_tcp_send_space(other)
 * bytes leave a receive queue at a time, so a slow reader closes the window of
 * a fast writer instead of growing a buffer here (one refused remainder per
 * direction is kept and resent on WRITABLE). A FIN becomes a shutdown of the
 * other side once everything before it was handed over; a reset or a timeout
 * aborts the other side. Pairs come from a pool fixed at init.
 */
#ifndef MG_PROXY_H
#define MG_PROXY_H

#include <stdbool.h>
#include <stdint.h>

#include "mg_error.h"
#include "tcp/tcp.h"

#define MG_PROXY_MAX_LISTENERS MG_TCP_MAX_LISTENERS
#define MG_PROXY_CONNECT_TRIES 20      /* neighbour lookups before giving up */
#define MG_PROXY_RETRY_US 50000        /* between two of them */
#define MG_PROXY_PORT_TRIES 256        /* source ports tried per connect */
#define MG_PROXY_SPORT_TABLE 256       /* RFC 6056 alg. 4: per-destination counters */
#define MG_PROXY_MEM_RETRY_US 1000     /* a splice refused by the memory bound */
#define MG_PROXY_SWEEP_PAIRS 64        /* pairs checked for idleness per poll */

/* Why a proxied pair ended, or what refused one. Every end is counted once. */
#define foreach_mg_proxy_counter(_)                                       \
	_(accepted, "client connections accepted")                        \
	_(upstream_connects, "upstream SYNs sent")                        \
	_(upstream_connected, "upstream handshakes completed")            \
	_(closed_normal, "pairs ended with FINs both ways")                \
	_(closed_client_reset, "client reset or timed out: upstream aborted") \
	_(closed_upstream_reset, "upstream reset or timed out: client aborted") \
	_(upstream_refused, "upstream refused the SYN: client reset")     \
	_(upstream_syn_timeout, "upstream handshake timed out: client reset") \
	_(pool_full, "clients refused: pair pool full")                   \
	_(neigh_unresolved, "clients reset: upstream MAC never resolved") \
	_(neigh_requests, "resolve requests handed to the control thread") \
	_(neigh_ring_full, "resolve requests lost: ring full")           \
	_(no_source_port, "clients reset: upstream source ports exhausted (none free with our hash in MG_PROXY_PORT_TRIES)") \
	_(source_port_probes, "source ports tried for upstream connects")   \
	_(connect_failed, "clients reset: mg_tcp_connect failed")         \
	_(mem_waits, "splices refused by the core memory bound, retried") \
	_(closed_idle, "pairs that moved no byte for idle_timeout: both reset") \
	_(bytes_up, "bytes client to upstream")                           \
	_(bytes_down, "bytes upstream to client")

enum mg_proxy_counter {
#define _(n, d) MG_PROXY_CTR_##n,
	foreach_mg_proxy_counter(_)
#undef _
	MG_PROXY_CTR__COUNT
};

/* One listener, addresses and ports in network byte order. */
struct mg_proxy_listener_conf {
	uint32_t listen_ip, upstream_ip;
	uint16_t listen_port, upstream_port;
	uint32_t backlog;
	uint8_t up_port;   /* stack port index that reaches the upstream */
	uint32_t next_hop; /* whose MAC the upstream SYN goes to (network order) */
	uint64_t idle_timeout_us; /* a pair that moves no byte this long is reset; 0: never */
};

/*
 * The worker answers "which MAC has @p ip on @p port" from its lock-free
 * snapshot; on a miss it asks the control thread and returns false.
 * Source ports are accepted only when owner(tuple) says this worker.
 */
struct mg_proxy_env {
	bool (*resolve)(void *ctx, uint8_t port, uint32_t ip, uint8_t mac[6]);
	bool (*owns)(void *ctx, uint32_t lip, uint32_t rip, uint16_t lport, uint16_t rport);
	void *ctx;
};

struct mg_proxy_pair;
struct mg_proxy;

/* A listener's identity as its accept callback sees it. */
struct mg_proxy_lctx {
	struct mg_proxy *px;
	uint16_t li;
};

struct mg_proxy_stats {
	uint64_t ctr[MG_PROXY_CTR__COUNT];
	uint64_t pairs_active;
};

struct mg_proxy {
	struct mg_tcp_stack *tcp;
	struct mg_proxy_env env;
	uint16_t n_listeners;
	struct mg_proxy_listener_conf listeners[MG_PROXY_MAX_LISTENERS];
	struct mg_proxy_lctx lctx[MG_PROXY_MAX_LISTENERS];
	struct mg_proxy_pair *pairs; /* max_pairs, preallocated */
	struct mg_proxy_pair *free_list;
	struct mg_proxy_pair *waiting; /* upstream MAC unknown: connect retried */
	uint32_t max_pairs;
	uint32_t sport_next[MG_PROXY_SPORT_TABLE]; /* source port counters (pick_sport) */
	uint32_t sweep_next;           /* next pair the idle sweep looks at */
	struct mg_proxy_stats st;
};

/**
 * Make the pair pool and listen on every listener.
 * @return 0, or -1: MG_ERR_USAGE (too many listeners, listen refused), MG_ERR_NOMEM.
 */
MG_RESULT mg_proxy_init(struct mg_proxy *px, struct mg_tcp_stack *tcp,
			const struct mg_proxy_listener_conf *l, uint16_t n,
			uint32_t max_pairs, int socket_id, const struct mg_proxy_env *env);

/** Retry connects that waited for a neighbour and reset pairs idle past their
 * listener's idle_timeout_us (MG_PROXY_SWEEP_PAIRS looked at per call); call
 * once per loop. */
void mg_proxy_poll(struct mg_proxy *px, uint64_t now);

/** Free the pool (after mg_tcp_stack_free, which drops every connection). */
void mg_proxy_free(struct mg_proxy *px);

const char *mg_proxy_counter_name(enum mg_proxy_counter c);

#endif /* MG_PROXY_H */
