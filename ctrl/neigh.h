/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The IPv4 neighbour (ARP) table. The control thread writes it; the telemetry
 * thread reads it under the table's mutex (neither is on the packet path).
 */
#ifndef MG_NEIGH_H
#define MG_NEIGH_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>

#include "neigh_snap.h"

#define MG_NEIGH_MAX 1024

struct mg_neigh {
	uint32_t ip; /* network byte order; 0 = free slot */
	uint16_t port;
	struct rte_ether_addr mac;
	uint64_t updated_s; /* monotonic seconds */
};

struct mg_neigh_table {
	pthread_mutex_t lock;
	uint32_t timeout_s;
	uint32_t count;
	uint64_t evicted_full; /* learned while full: oldest entry replaced */
	uint64_t version;      /* bumped when an entry appears, changes MAC or goes */
	struct mg_neigh entries[MG_NEIGH_MAX];
};

void mg_neigh_init(struct mg_neigh_table *t, uint32_t timeout_s);
/** Insert or refresh; returns true if the entry is new. */
bool mg_neigh_learn(struct mg_neigh_table *t, uint16_t port, uint32_t ip,
		    const struct rte_ether_addr *mac, uint64_t now_s);
/** Look up a live entry; false if absent or expired. */
bool mg_neigh_lookup(struct mg_neigh_table *t, uint16_t port, uint32_t ip,
		     struct rte_ether_addr *mac, uint64_t now_s);
/** Remove entries older than the timeout; returns how many went. */
uint32_t mg_neigh_expire(struct mg_neigh_table *t, uint64_t now_s);
/** Copy up to @p max live entries out under the lock (telemetry). */
uint32_t mg_neigh_snapshot(struct mg_neigh_table *t, struct mg_neigh *out,
			   uint32_t max);
/** A new snapshot of the live entries (malloc), or NULL without memory. */
struct mg_neigh_snap *mg_neigh_snap_build(struct mg_neigh_table *t);

/** Monotonic seconds, the clock the table uses. */
uint64_t mg_neigh_now(void);

#endif /* MG_NEIGH_H */
