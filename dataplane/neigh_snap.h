/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The neighbour snapshot the workers read: an immutable copy of the control
 * thread's ARP table (ctrl/neigh.h builds it), published through RCU
 * (publish.h). Workers only look entries up in it.
 */
#ifndef MG_NEIGH_SNAP_H
#define MG_NEIGH_SNAP_H

#include <stdbool.h>
#include <stdint.h>

/*
 * What workers see: an immutable copy of the live entries, published through
 * RCU (struct mg_publish) whenever the table's version changes. Workers only
 * ever read it; the control thread builds a new one and frees the old after
 * the grace period.
 */
struct mg_neigh_snap_entry {
	uint32_t ip; /* network byte order */
	uint16_t port;
	uint8_t mac[6];
};

struct mg_neigh_snap {
	uint64_t version;
	uint32_t n;
	struct mg_neigh_snap_entry e[];
};

/** Worker side: the MAC of @p ip on @p port in @p s (linear scan; few entries). */
static inline bool mg_neigh_snap_find(const struct mg_neigh_snap *s, uint16_t port,
				      uint32_t ip, uint8_t mac[6])
{
	for (uint32_t i = 0; s && i < s->n; i++) {
		if (s->e[i].ip == ip && s->e[i].port == port) {
			for (int k = 0; k < 6; k++)
				mac[k] = s->e[i].mac[k];
			return true;
		}
	}
	return false;
}

#endif /* MG_NEIGH_SNAP_H */
