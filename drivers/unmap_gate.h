/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The unmap gate: memory a PMD unmaps from the EAL interrupt thread is
 * unmapped only once every worker has left the burst it was in.
 *
 * DPDK 22.11's net_memif tears a connection down on the EAL interrupt thread
 * when its peer goes away (memif_disconnect() in drivers/net/memif/memif_socket.c):
 * it clears its "connected" flag, then munmap()s and frees the shared regions
 * that hold the rings and packet buffers. There is no handshake with the lcores
 * polling the queues and no link-state event (the PMD never raises
 * RTE_ETH_EVENT_INTR_LSC). A worker that was already inside rte_eth_rx_burst()
 * or rte_eth_tx_burst() on that port, past the flag test, then reads the
 * unmapped ring and the gateway dies with SIGSEGV (issue 11 item 7; seen in
 * bench/deny.sh on a loaded machine, where a descheduled worker lets the
 * interrupt thread finish the teardown in the middle of its burst).
 *
 * meshgw defines munmap() (unmap_gate.c) and the executable exports it, so the
 * PMD's calls bind to it. On the interrupt thread, while armed, it first waits
 * for a grace period of the workers' QSBR variable: every worker reports a
 * quiescent state once per loop, after its bursts, so when the wait returns no
 * worker is inside a burst that began before the PMD cleared its flag, and
 * every later burst sees the flag cleared and returns without touching the
 * regions. Only then is the memory unmapped and freed. Other threads, and the
 * interrupt thread while disarmed, unmap at once.
 */
#ifndef MG_UNMAP_GATE_H
#define MG_UNMAP_GATE_H

#include <stdint.h>

#include <rte_rcu_qsbr.h>

#include "mg_error.h"

/** What the gate did since start; read by telemetry. */
struct mg_unmap_gate_stats {
	uint64_t waits;       /* unmaps on the interrupt thread that waited for the workers */
	uint64_t wait_ns_max; /* the longest of those waits */
};

/**
 * Make interrupt-thread unmaps wait for a grace period of @p v (the QSBR
 * variable every worker reports on once per loop). Call before the workers
 * start. Fails if the PMDs would not call meshgw's munmap() (the executable
 * was linked without exporting it).
 */
MG_RESULT mg_unmap_gate_arm(struct rte_rcu_qsbr *v);

/** Stop waiting (after the workers stopped, before @p v is freed). */
void mg_unmap_gate_disarm(void);

/** The gate's counters. */
void mg_unmap_gate_stats(struct mg_unmap_gate_stats *s);

#endif /* MG_UNMAP_GATE_H */
