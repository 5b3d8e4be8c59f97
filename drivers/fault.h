/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Fault injection: per-port, per-direction loss, duplication, reordering, delay
 * and corruption, as ethdev RX and TX callbacks, for tests and benchmarks.
 *
 * Each (port, queue, direction) has its own cache-aligned state, written only
 * by the lcore that polls that queue: its random stream, a small reorder
 * buffer, a time-ordered hold ring and its counters. Nothing on the per-packet
 * path locks, makes a syscall or calls malloc; copies (duplicates, corrupting a
 * shared buffer) come from the port's mempool, and a failed copy is counted and
 * skipped, never waited for.
 *
 * Per packet, in this order: loss, corruption, duplication (the copy follows
 * the original through the rest), reordering, then the hold ring. Every packet
 * that is not lost or held for reordering goes through the hold ring, due
 * delay_us after it entered; with delay_us = 0 it leaves in the same burst
 * unless the burst is full. A full ring drops the packet (counted hold_full).
 *
 * Reordering: with probability `reorder`, and while fewer than reorder_depth
 * packets are held, a packet is pulled out of the stream and put back behind
 * 1..reorder_depth later packets (uniform). A held packet that sees no later
 * packet for MG_FAULT_REORDER_TIMEOUT_US goes on by itself: the RX callback
 * runs on every rte_eth_rx_burst(), also when the device returned nothing, so
 * an idle RX queue still releases its held and delayed packets on the next
 * poll after they are due.
 *
 * TX: ethdev lets a TX callback hand the driver at most as many packets as it
 * got, and the caller owns the unsent tail pkts[sent..n) afterwards (frees or
 * retries it). The TX callback therefore sends due packets first, then this
 * burst's survivors; what does not fit stays in the hold ring for the next
 * call. The tail slots that the faults emptied are filled with the burst's lost
 * packets (the caller's free is their drop, as DPDK's BPF TX filter does) and,
 * if more are needed, with held packets whose reference count was raised by
 * one, so the caller's free only lowers it again. Consequences for callers:
 *  - a caller must not resubmit the unsent tail in a loop (meshgw's worker
 *    frees it); lost and held packets look to it like a full TX ring;
 *  - a TX queue only releases held packets when it is called:
 *    mg_fault_tx_flush() sends what is due on an otherwise idle queue and
 *    should be called once per loop for every port (a cheap check when the
 *    port has no TX faults).
 *
 * Corruption flips one random bit at a random offset past the 14-byte Ethernet
 * header, so IP, TCP or UDP checksums (or the TLS record MAC) catch it. A
 * buffer that is shared (refcnt > 1 or indirect, e.g. a TCP send queue's
 * clone) is never written: the packet is copied first. On TX with checksum
 * offload the NIC computes the sums after the flip; then only the end-to-end
 * checks see it.
 */
#ifndef MG_FAULT_H
#define MG_FAULT_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "mg_error.h"

/*
 * Fault injection on one direction of a port (tests and benchmarks; see
 * drivers/fault.h). Probabilities are per packet, 0..1.
 */
#define MG_FAULT_MAX_REORDER_DEPTH 16
#define MG_FAULT_MAX_DELAY_US 1000000

struct mg_fault_dir_config {
	double loss;            /* dropped */
	double duplicate;       /* sent twice (a copy follows the original) */
	double reorder;         /* held back behind 1..reorder_depth later packets */
	double corrupt;         /* one bit flipped past the Ethernet header */
	uint16_t reorder_depth; /* packets held for reordering at once, 1..16 */
	uint32_t delay_us;      /* every packet held this long, 0..1000000 */
	uint16_t delay_slots;   /* capacity of the hold ring, power of two 64..4096 */
};

struct mg_fault_config {
	bool enabled;  /* the port has a fault group */
	uint32_t seed; /* queue q's random stream derives from seed, q and direction */
	struct mg_fault_dir_config rx, tx;
};

/* A packet held for reordering goes on after this long without later traffic. */
#define MG_FAULT_REORDER_TIMEOUT_US 1000
/* mg_fault_tx_flush() sends at most this many due packets per call. */
#define MG_FAULT_FLUSH_BURST 32

enum mg_fault_dir {
	MG_FAULT_RX = 0,
	MG_FAULT_TX,
	MG_FAULT__DIRS
};

/* Per queue and direction; single writer (the polling lcore), summed on read. */
#define foreach_mg_fault_counter(_)                                           \
	_(seen)         /* packets that entered the injector */              \
	_(lost)         /* dropped by `loss` */                              \
	_(duplicated)   /* copies sent besides the original */               \
	_(reordered)    /* held back behind later packets */                 \
	_(delayed)      /* held delay_us in the hold ring */                 \
	_(corrupted)    /* one bit flipped */                                \
	_(hold_full)    /* dropped: the hold ring was full */                \
	_(alloc_failed) /* a copy found no free mbuf: not duplicated/corrupted */

struct mg_fault_counters {
#define _(n) uint64_t n;
	foreach_mg_fault_counter(_)
#undef _
	uint64_t held; /* gauge: packets held now (reorder buffer + hold ring) */
};

/** One (port, queue, direction) state; opaque. */
struct mg_fault_queue;

/** Name of a direction as used in telemetry keys ("rx", "tx"). */
const char *mg_fault_dir_name(enum mg_fault_dir dir);

/** True if @p cfg changes anything (a rate above 0 or a delay). */
bool mg_fault_dir_active(const struct mg_fault_dir_config *cfg);

/**
 * Allocate the state of one queue and direction on @p socket. The random
 * stream derives from @p seed, @p queue and @p dir only, so a run repeats.
 * Copies come from @p pool. Returns NULL with mg_errno() NOMEM.
 */
struct mg_fault_queue *mg_fault_queue_create(const struct mg_fault_dir_config *cfg,
					     enum mg_fault_dir dir, uint32_t seed,
					     uint16_t queue, struct rte_mempool *pool,
					     int socket);

/** Free every held packet, then the state. NULL is fine. */
void mg_fault_queue_free(struct mg_fault_queue *fq);

/**
 * The RX work on one burst: takes pkts[0..n), writes the packets that go on
 * now to pkts[0..return) (at most @p max), keeps the rest. @p now is the TSC.
 * The ethdev RX callback calls this with rte_rdtsc().
 */
uint16_t mg_fault_rx(struct mg_fault_queue *fq, struct rte_mbuf **pkts, uint16_t n,
		     uint16_t max, uint64_t now);

/**
 * The TX work on one burst, under the ethdev TX callback contract (see the file
 * comment): pkts[0..return) are to be sent now; pkts[return..n) are for the
 * caller to free (lost packets, or held ones with a raised reference count).
 */
uint16_t mg_fault_tx(struct mg_fault_queue *fq, struct rte_mbuf **pkts, uint16_t n,
		     uint64_t now);

/** Add this queue's counters to @p sum (relaxed reads; any lcore). */
void mg_fault_queue_read(const struct mg_fault_queue *fq, struct mg_fault_counters *sum);

/**
 * Install the callbacks of port @p port_id for every queue of each direction
 * that @p cfg makes active; nothing if cfg->enabled is false. Call after the
 * queues are set up and before the workers run. On failure everything
 * installed so far is removed again.
 */
MG_RESULT mg_fault_attach(uint16_t port_id, const struct mg_fault_config *cfg,
			  uint16_t n_queues, struct rte_mempool *pool);

/**
 * Remove the callbacks and free the states and every held packet. Call with
 * the port stopped (or no lcore polling it) and before its mempool is freed.
 * A port without faults is a no-op.
 */
void mg_fault_detach(uint16_t port_id);

/** True if port @p port_id has faults attached. */
bool mg_fault_attached(uint16_t port_id);

/**
 * Sum the counters of direction @p dir of port @p port_id over its queues into
 * @p sum (zeroed first). False if the port has no faults attached.
 */
bool mg_fault_read(uint16_t port_id, enum mg_fault_dir dir, struct mg_fault_counters *sum);

/**
 * Send up to MG_FAULT_FLUSH_BURST held TX packets of (@p port_id, @p queue)
 * that are due, for a queue the application has nothing to send on. Call from
 * the lcore that owns the queue. Returns how many went out; what the device
 * refuses stays held. Without TX faults on the port: returns 0 at once.
 */
uint16_t mg_fault_tx_flush(uint16_t port_id, uint16_t queue);

#endif /* MG_FAULT_H */
