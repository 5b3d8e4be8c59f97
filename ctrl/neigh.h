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
/*
 * Learned entries one sender (source MAC, per port) may hold. A host has one
 * address per subnet; a router answering for a few (VRRP, secondary
 * addresses) fits. One sender claiming many IPs stops here instead of
 * filling the table.
 */
#define MG_NEIGH_PER_SENDER_MAX 4
/* Our own ARP requests remembered, so that only their replies create entries. */
#define MG_NEIGH_PENDING 64
#define MG_NEIGH_SOLICIT_S 3 /* a reply later than this is unsolicited */

struct mg_neigh {
	uint32_t ip; /* network byte order; 0 = free slot */
	uint16_t port;
	bool pinned; /* from gateway.conf: never changed, aged or displaced */
	struct rte_ether_addr mac;
	uint64_t updated_s; /* monotonic seconds */
};

/* How the ARP frame that names a neighbour reached us. */
enum mg_neigh_how {
	MG_NEIGH_ASKED_US,    /* a request for our address: the sender wants us */
	MG_NEIGH_ANSWERED_US, /* a reply to our address (solicited if we asked) */
	MG_NEIGH_OVERHEARD,   /* gratuitous, or for someone else */
};

/* What mg_neigh_learn() did. The REFUSED_* ones changed nothing. */
#define foreach_mg_neigh_verdict(_)                                                  \
	_(NEW, new, "a new entry")                                                   \
	_(REFRESHED, refreshed, "an entry refreshed, same MAC")                      \
	_(CHANGED, changed, "a learned entry took a new MAC")                        \
	_(PINNED, pinned, "a pinned entry confirmed, same MAC")                      \
	_(REFUSED_PINNED, refused_pinned, "would change a pinned entry")             \
	_(REFUSED_UNSOLICITED, refused_unsolicited,                                  \
	  "would create an entry from an unsolicited frame")                         \
	_(REFUSED_SENDER_CAP, refused_sender_cap,                                    \
	  "the sender holds MG_NEIGH_PER_SENDER_MAX entries already")                \
	_(REFUSED_FULL, refused_full, "no free slot (nothing is evicted)")

enum mg_neigh_verdict {
#define _(sym, name, desc) MG_NEIGH_##sym,
	foreach_mg_neigh_verdict(_)
#undef _
	MG_NEIGH__VERDICTS
};

struct mg_neigh_pending {
	uint32_t ip; /* network byte order; 0 = free */
	uint16_t port;
	uint64_t sent_s;
};

struct mg_neigh_table {
	pthread_mutex_t lock;
	uint32_t timeout_s;
	uint32_t count;        /* pinned entries included */
	uint32_t n_pinned;
	uint64_t version;      /* bumped when an entry appears, changes MAC or goes */
	struct mg_neigh entries[MG_NEIGH_MAX];
	struct mg_neigh_pending pending[MG_NEIGH_PENDING];
};

void mg_neigh_init(struct mg_neigh_table *t, uint32_t timeout_s);

/**
 * Pin @p ip on @p port to @p mac (gateway.conf, at start): the entry never
 * ages, and no ARP frame changes or removes it. Pinning an IP twice, or more
 * than the table holds, fails (-1); the config loader refuses both first.
 */
int mg_neigh_pin(struct mg_neigh_table *t, uint16_t port, uint32_t ip,
		 const struct rte_ether_addr *mac);

/** We sent an ARP request for @p ip on @p port: its reply may create an entry. */
void mg_neigh_solicit(struct mg_neigh_table *t, uint16_t port, uint32_t ip, uint64_t now_s);

/**
 * What an ARP frame from @p mac says about @p ip on @p port. Only a request
 * for our address, or the reply to a request of ours, creates an entry;
 * anything may refresh or move a learned one. A pinned entry never moves;
 * a sender never holds more than MG_NEIGH_PER_SENDER_MAX learned entries;
 * a full table refuses newcomers rather than evict anyone.
 */
enum mg_neigh_verdict mg_neigh_learn(struct mg_neigh_table *t, uint16_t port, uint32_t ip,
				     const struct rte_ether_addr *mac, uint64_t now_s,
				     enum mg_neigh_how how);
/** The verdict's name, "refused_pinned" (counters, audit). */
const char *mg_neigh_verdict_name(enum mg_neigh_verdict v);
/** The pinned MAC of @p ip on @p port, if it is pinned. */
bool mg_neigh_pinned_mac(struct mg_neigh_table *t, uint16_t port, uint32_t ip,
			 struct rte_ether_addr *mac);
/** Look up a live entry; false if absent or expired. */
bool mg_neigh_lookup(struct mg_neigh_table *t, uint16_t port, uint32_t ip,
		     struct rte_ether_addr *mac, uint64_t now_s);
/** Remove learned entries older than the timeout; returns how many went. */
uint32_t mg_neigh_expire(struct mg_neigh_table *t, uint64_t now_s);
/** Copy up to @p max live entries out under the lock (telemetry). */
uint32_t mg_neigh_snapshot(struct mg_neigh_table *t, struct mg_neigh *out,
			   uint32_t max);
/** A new snapshot of the live entries (malloc), or NULL without memory. */
struct mg_neigh_snap *mg_neigh_snap_build(struct mg_neigh_table *t);

/** Monotonic seconds, the clock the table uses. */
uint64_t mg_neigh_now(void);

#endif /* MG_NEIGH_H */
