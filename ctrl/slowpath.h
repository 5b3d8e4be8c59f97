/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The control thread's share of the packet path: ARP and ICMP for our own
 * addresses. Workers hand these frames over through their to_ctrl ring; replies
 * go back through the same worker's from_ctrl ring, so only workers ever touch
 * a TX queue.
 */
#ifndef MG_SLOWPATH_H
#define MG_SLOWPATH_H

#include <stdint.h>

struct mg_gateway;

/** Drain every worker's exception ring once (bounded: one burst per worker). */
unsigned mg_slowpath_poll(struct mg_gateway *gw);

/**
 * Once a second: report pinned-neighbour conflicts whose audit records the
 * rate limit held back (one record with their count).
 */
void mg_slowpath_tick(struct mg_gateway *gw, uint64_t now_s);

/** Send a gratuitous ARP for each port's address (at start). */
void mg_slowpath_announce(struct mg_gateway *gw);

#endif /* MG_SLOWPATH_H */
