/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Per-core userspace TCP (RFC 9293) for one worker lcore.
 *
 * One struct mg_tcp_stack per worker, made at init with every bound fixed:
 * connections come from a preallocated pool, the connection table is a per-core
 * rte_hash, timers are a per-core wheel, and buffer memory (send, receive and
 * out-of-order queues) is capped per connection and per core. No locks, no
 * syscalls, no malloc after init.
 *
 * The worker's loop:
 *   for each TCP frame for us:   mg_tcp_input(s, m, &pkt, now)   (stack owns m)
 *   after each RX burst:         mg_tcp_flush(s)
 *   once per iteration:          mg_tcp_timers_run(s, now)
 *   then:                        n = mg_tcp_tx_take(s, out, MG_BURST) → tx burst
 * `now` is a monotonic clock in microseconds. Outgoing frames are complete
 * Ethernet frames with mbuf->port set to the stack's port index.
 *
 * Payload travels as mbuf chains without copies: received segments are trimmed
 * to their payload and queued; sent chains are queued and transmitted as
 * indirect mbufs chained behind a header mbuf (payloads of at most
 * params.tx_copy_max bytes are copied into the header mbuf instead).
 */
#ifndef MG_TCP_H
#define MG_TCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mg_error.h"
#include "parse.h"
#include "tcp_types.h"

/** Fill @p p with defaults (64k connections, 256 KiB buffers, CUBIC...). */
void mg_tcp_params_default(struct mg_tcp_params *p);

/**
 * Make a stack: connection pool, rte_hash (needs EAL), timer wheel, TX ring.
 * @return 0, or -1 with MG_ERR_USAGE (bad parameter) / MG_ERR_NOMEM / MG_ERR_DPDK.
 */
MG_RESULT mg_tcp_stack_init(struct mg_tcp_stack *s, const struct mg_tcp_params *p);

/** Free every connection (no segments sent, no events) and the stack's memory. */
void mg_tcp_stack_free(struct mg_tcp_stack *s);

/**
 * One received TCP segment for one of our addresses. @p pkt comes from
 * mg_parse_frame() (IPv4 and TCP headers, lengths and checksums valid);
 * m->port must hold the stack's port index. The stack owns @p m afterwards.
 */
void mg_tcp_input(struct mg_tcp_stack *s, struct rte_mbuf *m,
		  const struct mg_pkt *pkt, uint64_t now);

/**
 * Send what the segments of one RX burst made owed: ACKs for in-order data
 * are aggregated per burst (RFC 9293 MUST-58/59) and data released by ACKs
 * goes out together. Call after each burst, before mg_tcp_tx_take.
 */
void mg_tcp_flush(struct mg_tcp_stack *s);

/** Run due timers (bounded by params.timer_budget) and pending output. */
void mg_tcp_timers_run(struct mg_tcp_stack *s, uint64_t now);

/** Take up to @p n frames to transmit. @return how many were stored in @p out. */
uint16_t mg_tcp_tx_take(struct mg_tcp_stack *s, struct rte_mbuf **out, uint16_t n);

/**
 * Listen on @p ip (0: any address of ours) : @p port (network order).
 * @p backlog bounds handshakes in progress; past it SYN cookies answer.
 * @return the listener index, or -1 with MG_ERR_USAGE (in use, table full).
 */
int mg_tcp_listen(struct mg_tcp_stack *s, uint32_t ip, uint16_t port,
		  uint32_t backlog, const struct mg_tcp_ops *ops, void *user);

/** Stop listening; established connections stay. */
void mg_tcp_unlisten(struct mg_tcp_stack *s, int listener);

struct mg_tcp_connect_args {
	uint8_t port;            /* stack port index */
	uint32_t src_ip, dst_ip; /* network order; src_ip 0: the port's address */
	uint16_t src_port, dst_port; /* network order; the caller picks src_port */
	uint8_t next_hop_mac[6];
	uint8_t tos;             /* DiffServ/ECN byte (RFC 9293 MUST-48) */
	const struct mg_tcp_ops *ops;
	void *user;
};

/**
 * Active open: send a SYN. A tuple in TIME-WAIT is taken over when
 * mg_tcp_tuple_free() says so, with an ISN past the old incarnation's.
 * @return 0 with *@p out set, or -1: MG_ERR_USAGE (tuple in use, or in a
 * TIME-WAIT that may not be reused yet; bad port), MG_ERR_NOMEM (table full
 * or no mbuf).
 */
MG_RESULT mg_tcp_connect(struct mg_tcp_stack *s, const struct mg_tcp_connect_args *a,
			 struct mg_tcp_conn **out);

/**
 * Queue the chain *@p m for sending, up to the send-buffer and memory bounds.
 * Accepted bytes belong to the stack; *@p m is left pointing at the refused
 * rest (NULL when all was taken) and WRITABLE follows when space frees.
 * @return bytes accepted, or -1 if the connection cannot send (state).
 */
int64_t mg_tcp_send(struct mg_tcp_stack *s, struct mg_tcp_conn *c, struct rte_mbuf **m);

/** Copying convenience for small writes: @return bytes accepted or -1. */
int64_t mg_tcp_send_copy(struct mg_tcp_stack *s, struct mg_tcp_conn *c,
			 const void *buf, uint32_t len);

/**
 * Free space in the send buffer, in bytes: 0 when the connection cannot send
 * or the core's buffer memory is used up.
 */
uint32_t mg_tcp_send_space(const struct mg_tcp_stack *s, const struct mg_tcp_conn *c);

/**
 * Free space in the send buffer, ignoring the core's memory bound: what a
 * splice of bytes this stack already holds (another connection's receive
 * queue) may offer, since moving them costs no memory. 0 if it cannot send.
 */
uint32_t mg_tcp_send_room(const struct mg_tcp_conn *c);

/**
 * Ask for MG_TCP_EV_WRITABLE once the send buffer is at least half free again
 * (for a sender that offered no more than mg_tcp_send_space() and so was
 * never refused). Returns true if there is room now: then no event follows.
 */
bool mg_tcp_want_writable(struct mg_tcp_conn *c);

/**
 * Take up to @p max bytes of in-order data as one chain in *@p out (NULL if
 * none). Reading reopens the receive window. @return bytes taken.
 */
uint32_t mg_tcp_recv(struct mg_tcp_stack *s, struct mg_tcp_conn *c, uint32_t max,
		     struct rte_mbuf **out);

/** Bytes waiting in the receive queue. */
uint32_t mg_tcp_recv_ready(const struct mg_tcp_conn *c);

/**
 * Copy up to @p len bytes from the head of the receive queue into @p buf
 * without taking them: a record layer looks at a header and leaves a record
 * in the queue (inside the window's bound) until all of it is there.
 * @return bytes copied.
 */
uint32_t mg_tcp_peek(const struct mg_tcp_conn *c, void *buf, uint32_t len);

/** Take exactly @p len bytes (at most mg_tcp_recv_ready()) into @p buf. @return bytes taken. */
uint32_t mg_tcp_recv_copy(struct mg_tcp_stack *s, struct mg_tcp_conn *c, void *buf,
			  uint32_t len);

/** DiffServ/ECN byte for a connection's segments (RFC 9293 MUST-48). */
void mg_tcp_set_tos(struct mg_tcp_conn *c, uint8_t tos);

/** Half-close: send FIN after the queued data. Receiving continues. */
void mg_tcp_shutdown(struct mg_tcp_stack *s, struct mg_tcp_conn *c);

/**
 * Close: shut down writing and detach. No more events; the stack finishes the
 * close on its own (FIN-WAIT, TIME-WAIT). Unread data, or data arriving later,
 * makes it an abort (RST), as Linux does.
 */
void mg_tcp_close(struct mg_tcp_stack *s, struct mg_tcp_conn *c);

/** Abort: send RST, drop the queues, detach. No CLOSED event follows. */
void mg_tcp_abort(struct mg_tcp_stack *s, struct mg_tcp_conn *c);

/**
 * ICMP "fragmentation needed" (type 3 code 4) for one of our segments:
 * @p inner is the quoted IPv4 header plus at least 8 bytes of TCP header,
 * @p len its length, @p next_mtu the MTU the router reported (host order).
 * The quoted sequence number must lie in SND.UNA..SND.MAX (RFC 5927 5.1);
 * then the connection's MSS drops to fit (never below 536 bytes of MTU 576)
 * and the unacknowledged data goes out again in smaller segments.
 * @return true if a connection took the new MTU.
 */
bool mg_tcp_icmp_frag_needed(struct mg_tcp_stack *s, const uint8_t *inner, uint32_t len,
			     uint16_t next_mtu, uint64_t now);

static inline enum mg_tcp_state mg_tcp_state(const struct mg_tcp_conn *c)
{
	return (enum mg_tcp_state)c->state;
}

static inline enum mg_tcp_close_reason mg_tcp_close_reason(const struct mg_tcp_conn *c)
{
	return (enum mg_tcp_close_reason)c->close_reason;
}

static inline void *mg_tcp_user(const struct mg_tcp_conn *c)
{
	return c->user;
}

/** SipHash of @p data under the stack's boot secret: for choices that must
 * not be guessable off the path, such as source ports (RFC 6056). */
uint64_t mg_tcp_secret_hash(const struct mg_tcp_stack *s, const void *data, size_t len);

const char *mg_tcp_state_name(enum mg_tcp_state st);
const char *mg_tcp_counter_name(enum mg_tcp_counter ctr);
const char *mg_tcp_drop_name(enum mg_tcp_drop d);
const char *mg_tcp_close_name(enum mg_tcp_close_reason r);

/** Look up a connection by its tuple (network order, from our side). TIME-WAIT
 * records of connections the application closed are not connections. */
struct mg_tcp_conn *mg_tcp_lookup(const struct mg_tcp_stack *s,
				  const struct mg_tcp_key *key);

/**
 * Whether mg_tcp_connect() may use the tuple @p key now: no connection has
 * it, and a TIME-WAIT record on it may be taken over (RFC 6191: timestamps
 * were on and a second passed since its last segment). Two hash lookups at
 * most, however many TIME-WAIT records there are.
 */
bool mg_tcp_tuple_free(const struct mg_tcp_stack *s, const struct mg_tcp_key *key);

#endif /* MG_TCP_H */
