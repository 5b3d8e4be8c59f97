/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The running daemon: configuration, ports, workers and the control thread's
 * own state. One instance per process; the control thread owns it, the
 * telemetry thread reads it (counters relaxed, the neighbour table under its
 * lock), workers see only their own struct mg_worker.
 */
#ifndef MG_GATEWAY_H
#define MG_GATEWAY_H

#include <pthread.h>
#include <stdint.h>

#include "audit.h"
#include "config.h"
#include "control.h"
#include "gateway_tls.h"
#include "integrity.h"
#include "loader.h"
#include "neigh.h"
#include "port.h"
#include "publish.h"
#include "worker.h"

/* Process exit statuses (documented in docs/meshctl.md, "meshgw exit status"). */
enum mg_exit {
	MG_EXIT_OK = 0,
	MG_EXIT_USAGE = 64,       /* EX_USAGE: bad command line */
	MG_EXIT_UNAVAILABLE = 69, /* EX_UNAVAILABLE: EAL, port or socket bring-up failed */
	MG_EXIT_SOFTWARE = 70,    /* EX_SOFTWARE: internal error */
	MG_EXIT_CONFIG = 78,      /* EX_CONFIG: gateway.conf invalid */
	MG_EXIT_DRIFT = 100,      /* integrity check failed: replace this instance */
};

#define foreach_mg_slowpath_counter(_) \
	_(arp_requests_answered)       \
	_(arp_replies_seen)            \
	_(arp_learned)                 \
	_(arp_gratuitous_sent)         \
	_(arp_conflicts)               \
	_(arp_pinned_refused)          \
	_(arp_unsolicited_ignored)     \
	_(arp_sender_capped)           \
	_(arp_table_full)              \
	_(arp_pin_audit_suppressed)    \
	_(icmp_echo_replied)           \
	_(icmp_unreach_seen)           \
	_(reply_ring_full)             \
	_(alloc_failed)

struct mg_slowpath_stats {
#define _(n) uint64_t n;
	foreach_mg_slowpath_counter(_)
#undef _
};

struct mg_gateway {
	struct mg_config cfg;
	uint8_t config_sha256[32];
	uint8_t binary_sha256[32];
	uint64_t started_tsc;
	uint64_t started_unix;
	volatile int quit;
	pthread_mutex_t lock; /* telemetry reads vs. shutdown frees */

	uint16_t n_ports;
	struct mg_port ports[MG_MAX_PORTS];
	uint16_t n_workers;
	struct mg_worker *workers[MG_MAX_WORKERS];

	struct mg_publish pub; /* the active policy (RCU) */
	struct mg_neigh_table neigh;
	struct mg_slowpath_stats slow;

	/*
	 * Workers' view of the neighbour table: an immutable struct mg_neigh_snap
	 * behind its own RCU publication (separate from the policy so a policy swap
	 * and an ARP change never wait for each other's object). Only the control
	 * thread swaps it, when neigh.version moved.
	 */
	struct mg_publish neigh_pub;
	uint64_t neigh_published_version;
	uint64_t neigh_publishes;
	uint64_t next_arp_refresh_s; /* proactive ARP for listener upstreams */
	uint64_t arp_requests_sent, resolve_requests_seen, resolve_suppressed;
	struct mg_proxy_listener_conf proxy_listeners[MG_MAX_LISTENERS];
	uint16_t n_proxy_listeners;
	/* Audit records of pinned-neighbour conflicts: a few a second, the rest counted. */
	struct {
		uint64_t window_s;
		uint32_t in_window;
		uint64_t suppressed; /* not yet reported in a record */
	} pin_audit;
	uint32_t recent_ip[16];  /* resolve requests answered lately (no ARP storm) */
	uint16_t recent_port[16];
	uint64_t recent_ms[16];

	/* Control-thread state; the telemetry thread reads it under lock. */
	struct mg_audit *audit;
	struct mg_loader loader;
	struct mg_control control;
	struct mg_integrity integrity;
	struct mg_key *node_key; /* signs audit checkpoints and attestation reports */
	uint64_t last_checkpoint_index;
	struct mg_gw_tls tls;    /* SVIDs, handshake threads (gateway_tls.c) */
	int exit_status; /* what main returns when start or run fails */
};

/** Bring up ports, rings and workers (after rte_eal_init). */
MG_RESULT mg_gateway_start(struct mg_gateway *gw);
/** Run the control loop on the main lcore until gw->quit is set. */
void mg_gateway_run(struct mg_gateway *gw);
/** Stop workers, release ports and rings; safe after a failed start. */
void mg_gateway_stop(struct mg_gateway *gw);

/* Implemented in slowpath.c (the control thread's ARP). */
/** Broadcast an ARP request for @p ip (network order) on port @p pi. */
void mg_slowpath_arp_request(struct mg_gateway *gw, uint16_t pi, uint32_t ip);
/** Serve the workers' neighbour resolve requests (ARP, deduplicated). */
void mg_slowpath_resolve_poll(struct mg_gateway *gw);

/** Seconds since start. */
uint64_t mg_gateway_uptime_s(const struct mg_gateway *gw);

#endif /* MG_GATEWAY_H */
