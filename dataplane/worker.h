/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * A poll-mode worker: one per lcore, owning one RX and one TX queue on every
 * port. Everything it writes lives in its own cache-aligned struct mg_worker;
 * the control thread and the telemetry thread only read the counters.
 */
#ifndef MG_WORKER_H
#define MG_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "drop.h"
#include "mg_limits.h"
#include "neigh_snap.h"
#include "parse.h"
#include "proxy.h"
#include "publish.h"
#include "stage.h"
#include "tcp/tcp.h"

#define MG_BURST 32
/* Exception and return rings between a worker and the control thread. */
#define MG_SLOWPATH_RING_SIZE 1024
/* Worker → control thread audit events (struct mg_proxy_event, SP/SC). */
#define MG_EVENT_RING_SIZE 256
/* Worker → control thread neighbour resolve requests (SP/SC). */
#define MG_RESOLVE_RING_SIZE 256
/* Worker → worker steered segments, one SP/SC ring per ordered pair. */
#define MG_STEER_RING_SIZE 2048

/* A resolve request as a ring entry: port index and IPv4 (network order). */
static inline void *mg_resolve_req(uint16_t port, uint32_t ip)
{
	return (void *)(uintptr_t)((uint64_t)port << 32 | ip);
}

/*
 * Per-port counters of one worker. Single writer (the worker); readers load
 * them relaxed and sum over workers. 64-bit loads on x86-64 are not torn.
 */
#define foreach_mg_port_counter(_) \
	_(rx_packets)              \
	_(rx_bytes)                \
	_(tx_packets)              \
	_(tx_bytes)                \
	_(drops)

#define foreach_mg_worker_counter(_) \
	_(loops)                     \
	_(busy_loops)                \
	_(busy_cycles)               \
	_(busy_packets)              \
	_(to_slowpath)               \
	_(from_slowpath)             \
	_(loop_max_cycles)           \
	_(policy_generation)         \
	_(tcp_in)                    \
	_(steered_out)               \
	_(steered_in)                \
	_(steer_ring_full)           \
	_(resolve_requests)          \
	_(resolve_ring_full)         \
	_(icmp_frag_needed)          \
	_(tcp_tx)                    \
	_(tx_ring_full)              \
	_(events_lost)

/* Loop durations in log2(cycles) buckets: bucket b counts loops of [2^b, 2^(b+1)). */
#define MG_LOOP_HIST 32

struct mg_port_counters {
#define _(n) uint64_t n;
	foreach_mg_port_counter(_)
#undef _
};

struct mg_worker_stats {
	struct mg_port_counters port[MG_MAX_PORTS];
#define _(n) uint64_t n;
	foreach_mg_worker_counter(_)
#undef _
	uint64_t drops[MG_DROP__COUNT];
	uint64_t cycles[MG_STAGE__COUNT]; /* busy loop turns' cycles by stage; sum: busy_cycles */
	uint64_t loop_hist[MG_LOOP_HIST];
} __rte_cache_aligned;

/* What a worker knows of one port: its queue and its addresses. */
struct mg_worker_port {
	uint16_t port_id;
	uint16_t queue;
	bool csum_offload_ip, csum_offload_l4;
	bool fault_tx; /* the fault layer may hold TX packets: release them every loop */
	bool rss;      /* the NIC's RSS hash is mg_steer_toeplitz(): trust it */
	struct mg_port_addrs addrs;
	uint16_t tx_len;
	struct rte_mbuf *tx_buf[MG_BURST];
};

struct mg_worker {
	unsigned lcore;
	uint16_t index;
	uint16_t n_ports;
	const volatile int *quit;  /* set by the control thread on shutdown */
	struct mg_publish *pub;    /* the policy, published through RCU */
	const void *policy;        /* this loop's policy; never kept past the loop */
	struct rte_ring *to_ctrl;  /* worker → control thread: ARP, ICMP (SP/SC) */
	struct rte_ring *from_ctrl;/* control thread → worker: frames to send (SP/SC) */
	struct mg_publish *neigh_pub;       /* neighbour snapshot (RCU), NULL: no TCP */
	const struct mg_neigh_snap *neigh;  /* this loop's; never kept past the loop */
	struct rte_ring *resolve;  /* worker → control thread: MACs to find (SP/SC) */
	struct rte_ring *events;   /* worker → control thread: mg_proxy_event to audit (SP/SC) */
	uint16_t n_workers;
	struct rte_ring *steer_out[MG_MAX_WORKERS]; /* to worker i (NULL for self) */
	struct rte_ring *steer_in[MG_MAX_WORKERS];  /* from worker i */
	bool tcp_on;               /* tcp and proxy initialised */
	char tcp_name[32];         /* the stack's (unique) name */
	uint64_t tsc_per_us;
	uint64_t now_us;           /* this loop's monotonic clock */
	uint32_t loop_work;        /* frames this loop turn moved: busy if not 0 */
	struct mg_stage_clock clock; /* where this loop turn's cycles go */
	struct mg_worker_port ports[MG_MAX_PORTS];
	struct mg_worker_stats stats;
	struct mg_tcp_stack tcp;
	struct mg_proxy proxy;
} __rte_cache_aligned;

/*
 * Frames the control thread hands to a worker for transmission carry the
 * index of the port (into mg_worker.ports) in mbuf->port.
 */

/**
 * Set up the worker's TCP stack from @p p (ports, pool, secret filled by the
 * caller) and its proxy for @p l. Needs EAL; call before launch.
 */
MG_RESULT mg_worker_tcp_init(struct mg_worker *w, const struct mg_tcp_params *p,
			     const struct mg_proxy_listener_conf *l, uint16_t n_listeners,
			     const struct mg_proxy_env *policy, const struct mg_proxy_tls_conf *tls);

/** Free the worker's TCP stack and proxy (after the worker stopped). */
void mg_worker_tcp_free(struct mg_worker *w);

/** The worker's lcore entry point (rte_eal_remote_launch); returns 0. */
int mg_worker_main(void *arg);

/** Process one received burst from port @p pi (exposed for tests and benches). */
void mg_worker_rx_burst(struct mg_worker *w, uint16_t pi, struct rte_mbuf **pkts,
			uint16_t n);

/** Relaxed read of a counter another lcore writes. */
static inline uint64_t mg_counter_read(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

#endif /* MG_WORKER_H */
