/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What a remote peer can pin in one TCP stack (issue 11 item 1): the memory
 * bounds of the receive side and the timeouts that free what a peer holds.
 *
 * One server stack and forged peers: each peer's segments are crafted here
 * (no options, so MSS 536 and no timestamps) and what the stack sends back is
 * read from its TX ring, under a fake clock. Every case ends by freeing the
 * stack and checking that every mbuf went back to the pool.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_tcp.h>

#include "tcp/tcp.h"
#include "tcp/tcp_priv.h"
#include "tcp_wire.h"

#define IP_PEER RTE_BE32(0xc6120102) /* 198.18.1.2 */
#define IP_SRV RTE_BE32(0xc6120101)  /* 198.18.1.1 */
#define PORT_SRV RTE_BE16(8080)
#define MAX_PEERS 16
#define RCVBUF (64 * 1024)
#define BOUND (2 * RCVBUF + 65536) /* conn_rcv_bound() for RCVBUF */

static const uint8_t MAC_PEER[6] = {0x02, 0, 0, 0, 0, 0xa};
static const uint8_t MAC_SRV[6] = {0x02, 0, 0, 0, 0, 0xb};
static struct rte_mempool *pool;
static unsigned pool_full;
static unsigned stack_seq;

/* A forged peer: its port, its next sequence number, the server's side. */
struct peer {
	uint16_t port;           /* network order */
	uint32_t isn, snd_nxt;   /* ours */
	uint32_t srv_iss;        /* the server's, from its SYN-ACK */
	struct mg_tcp_conn *c;   /* the server's connection, once accepted */
	bool closed;
	int close_reason;
};

/* The last segment the stack sent, decoded. */
struct seen {
	uint32_t seq, ack;
	uint16_t win, len;
	uint8_t flags;
	uint16_t dport;          /* network order */
};

static struct {
	struct mg_tcp_stack s;
	uint64_t now;
	struct peer peers[MAX_PEERS];
	unsigned n_peers;
	struct seen out[256];    /* frames drained since the case last cleared */
	unsigned n_out;
} *T;

/* ---- the stack's callbacks: peers never read (nobody drains rcvq) ---------- */

static void on_event(void *user, struct mg_tcp_conn *c, unsigned ev)
{
	struct peer *p = user;

	(void)c;
	if (ev & MG_TCP_EV_CLOSED) {
		p->closed = true;
		p->close_reason = mg_tcp_close_reason(c);
		p->c = NULL;
	}
}

static void *on_accept(void *lu, struct mg_tcp_conn *c)
{
	(void)lu;
	for (unsigned i = 0; i < T->n_peers; i++)
		if (T->peers[i].port == c->key.rport) {
			T->peers[i].c = c;
			return &T->peers[i];
		}
	return NULL;
}

static const struct mg_tcp_ops ops = {.accept = on_accept, .event = on_event};

/* ---- frames ---------------------------------------------------------------- */

/* Take every frame the stack queued, keep what it said, free it. */
static void drain(void)
{
	struct rte_mbuf *out[32];
	uint16_t k;

	while ((k = mg_tcp_tx_take(&T->s, out, 32)) > 0) {
		for (uint16_t i = 0; i < k; i++) {
			struct rte_mbuf *m = wire_linearize(pool, out[i]);
			const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
			const struct rte_tcp_hdr *th = (const struct rte_tcp_hdr *)(f + 34);
			struct mg_pkt pkt;

			wire_pkt(&pkt, f, 20);
			if (T->n_out < RTE_DIM(T->out))
				T->out[T->n_out++] = (struct seen){
					.seq = rte_be_to_cpu_32(th->sent_seq),
					.ack = rte_be_to_cpu_32(th->recv_ack),
					.win = rte_be_to_cpu_16(th->rx_win),
					.len = pkt.data_len, .flags = th->tcp_flags,
					.dport = th->dst_port,
				};
			rte_pktmbuf_free(m);
		}
	}
}

/* Payload byte at sequence number @p seq of peer @p p's stream. */
static uint8_t pbyte(const struct peer *p, uint32_t seq)
{
	return stream_byte(p->port, seq - p->isn - 1);
}

/* A segment from @p p to the server, payload from p's stream. */
static void send_seg(struct peer *p, uint32_t seq, uint8_t flags, uint16_t win, uint16_t plen)
{
	const struct wire_seg seg = {
		.src_mac = MAC_PEER, .dst_mac = MAC_SRV,
		.src_ip = IP_PEER, .dst_ip = IP_SRV,
		.src_port = p->port, .dst_port = PORT_SRV,
		.seq = seq, .ack = p->srv_iss + 1, .flags = flags, .win = win, .plen = plen,
	};
	struct rte_mbuf *m = wire_seg_new(pool, &seg);
	struct mg_pkt pkt;
	uint8_t *o;

	assert_non_null(m);
	o = wire_seg_opts(m);
	for (uint16_t i = 0; i < plen; i++)
		o[i] = pbyte(p, seq + i);
	wire_seg_cksum(m);
	wire_pkt(&pkt, rte_pktmbuf_mtod(m, const uint8_t *), 20);
	m->port = 0;
	mg_tcp_input(&T->s, m, &pkt, T->now);
	mg_tcp_flush(&T->s);
	drain();
}

static void data(struct peer *p, uint32_t off, uint16_t len)
{
	send_seg(p, p->isn + 1 + off, TH_ACK, 65535, len);
}

/* A peer with its handshake done (window @p win in its ACK). */
static struct peer *open_peer(uint16_t win)
{
	struct peer *p;

	assert_true(T->n_peers < MAX_PEERS);
	p = &T->peers[T->n_peers++];
	p->port = rte_cpu_to_be_16((uint16_t)(20000 + T->n_peers));
	p->isn = 1000000u * T->n_peers;
	T->n_out = 0;
	send_seg(p, p->isn, TH_SYN, 65535, 0);
	assert_int_equal(T->n_out, 1);
	assert_int_equal(T->out[0].flags, TH_SYN | TH_ACK);
	p->srv_iss = T->out[0].seq;
	send_seg(p, p->isn + 1, TH_ACK, win, 0);
	assert_non_null(p->c);
	assert_int_equal(mg_tcp_state(p->c), MG_TCP_ESTABLISHED);
	T->n_out = 0;
	return p;
}

/* Advance the clock to @p until in 1 ms steps, running the timers. */
static void run_to(uint64_t until)
{
	while (T->now < until) {
		T->now += 1000;
		mg_tcp_timers_run(&T->s, T->now);
		drain();
	}
}

/* ---- fixtures ---------------------------------------------------------------- */

static void params(struct mg_tcp_params *p)
{
	mg_tcp_params_default(p);
	p->max_conns = 64;
	p->pool = pool;
	p->rcvbuf = RCVBUF;
	p->sndbuf = RCVBUF;
	p->mem_max = 8 * 1024 * 1024;
	p->ports[0].ip = IP_SRV;
	memcpy(p->ports[0].mac, MAC_SRV, 6);
}

static void start(struct mg_tcp_params *p)
{
	char name[32];

	snprintf(name, sizeof(name), "tcpmem%u", stack_seq++);
	p->name = name;
	assert_int_equal(mg_tcp_stack_init(&T->s, p), 0);
	T->now = 1000000;
	mg_tcp_timers_run(&T->s, T->now);
	assert_true(mg_tcp_listen(&T->s, 0, PORT_SRV, 16, &ops, NULL) >= 0);
}

static int setup(void **state)
{
	struct mg_tcp_params p;

	T = calloc(1, sizeof(*T));
	assert_non_null(T);
	params(&p);
	start(&p);
	*state = T;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	mg_tcp_stack_free(&T->s);
	free(T);
	T = NULL;
	assert_int_equal(rte_mempool_avail_count(pool), pool_full);
	return 0;
}

static void restart(struct mg_tcp_params *p)
{
	mg_tcp_stack_free(&T->s);
	memset(T, 0, sizeof(*T));
	start(p);
}

#define CTR_OF(name) (T->s.st.ctr[MG_TCP_CTR_##name])
#define CLOSES(name) (T->s.st.closes[MG_TCP_CLOSE_##name])

static uint32_t held(const struct mg_tcp_conn *c)
{
	return c->rcvq_true + c->ooo_true;
}

/* ---- the receive side's bounds ----------------------------------------------- */

/* One-byte segments with holes between them cannot be collapsed: each pins a
 * whole buffer, and the connection's charge stops at its bound (before: 512
 * of them, 1.1 MB, for a 64 KiB receive buffer). */
static void one_byte_holes_stay_within_the_connection_bound(void **state)
{
	struct peer *p;

	(void)state;
	p = open_peer(65535);
	for (uint32_t i = 0; i < 512; i++) {
		data(p, 2 + 2 * i, 1);
		assert_true(held(p->c) <= BOUND);
	}
	assert_true(CTR_OF(ooo_bound_hits) > 0);
	assert_true(p->c->ooo_segs < 512);
	assert_true(T->s.st.mem_used <= BOUND);
	assert_int_equal(T->s.st.ooo_mem, p->c->ooo_true);
	/* The byte that fills the first hole is still taken (its own
	 * out-of-order data goes first), and ACKed. */
	data(p, 0, 1);
	assert_int_equal(p->c->rcv_nxt, p->isn + 1 + 1);
	assert_true(held(p->c) <= BOUND);
}

/* One-byte segments in order are copied into the buffer before them. */
static void one_byte_segments_in_order_are_collapsed(void **state)
{
	struct peer *p;
	struct rte_mbuf *m;
	uint32_t got = 0;

	(void)state;
	p = open_peer(65535);
	for (uint32_t i = 0; i < 5000; i++)
		data(p, i, 1);
	assert_int_equal(p->c->rcv_nxt, p->isn + 1 + 5000);
	assert_int_equal(mg_tcp_recv_ready(p->c), 5000);
	assert_true(CTR_OF(collapsed_segs) >= 4990);
	assert_true(held(p->c) <= 4 * 2304u); /* a few buffers, not 5000 */
	assert_int_equal(T->s.st.mem_used, held(p->c));
	assert_int_equal(mg_tcp_recv(&T->s, p->c, UINT32_MAX, &m), 5000);
	for (struct rte_mbuf *x = m; x; x = x->next)
		for (uint16_t i = 0; i < x->data_len; i++, got++)
			assert_int_equal(rte_pktmbuf_mtod(x, uint8_t *)[i],
					 pbyte(p, p->isn + 1 + got));
	rte_pktmbuf_free(m);
	assert_int_equal(T->s.st.mem_used, 0);
}

/* Contiguous out-of-order bytes collapse too, and the hole's byte pulls
 * them all, in the right order. */
static void contiguous_out_of_order_bytes_are_collapsed(void **state)
{
	struct peer *p;
	struct rte_mbuf *m;
	uint32_t got = 0;

	(void)state;
	p = open_peer(65535);
	for (uint32_t i = 1; i <= 300; i++)
		data(p, i, 1);
	assert_int_equal(p->c->ooo_bytes, 300);
	assert_int_equal(p->c->ooo_segs, 1);
	data(p, 0, 1);
	assert_int_equal(p->c->rcv_nxt, p->isn + 1 + 301);
	assert_int_equal(p->c->ooo_segs, 0);
	assert_int_equal(T->s.st.ooo_mem, 0);
	assert_int_equal(mg_tcp_recv(&T->s, p->c, UINT32_MAX, &m), 301);
	for (struct rte_mbuf *x = m; x; x = x->next)
		for (uint16_t i = 0; i < x->data_len; i++, got++)
			assert_int_equal(rte_pktmbuf_mtod(x, uint8_t *)[i],
					 pbyte(p, p->isn + 1 + got));
	rte_pktmbuf_free(m);
}

/* Hostile out-of-order data on many connections fills at most half the
 * core's memory, so it never closes a clean connection's window (before: it
 * filled mem_max and every window on the core advertised zero). */
static void out_of_order_data_alone_never_closes_a_window(void **state)
{
	struct mg_tcp_params pr;
	struct peer *clean;

	(void)state;
	params(&pr);
	pr.mem_max = 1024 * 1024;
	restart(&pr);
	clean = open_peer(65535);
	for (int h = 0; h < 8; h++) {
		struct peer *p = open_peer(65535);

		for (uint32_t i = 0; i < 100; i++)
			data(p, 2 + 2 * i, 1);
	}
	/* The clean connection's window is open and data in it is taken. */
	assert_true(tcp_rcv_window(&T->s, clean->c) > 0);
	for (uint32_t i = 0; i < 20; i++)
		data(clean, 536 * i, 536);
	assert_int_equal(clean->c->rcv_nxt, clean->isn + 1 + 20 * 536);
	assert_true(tcp_rcv_window(&T->s, clean->c) > 0);
	assert_true(T->s.st.mem_used < pr.mem_max);
	assert_true(T->s.st.ooo_mem <= pr.mem_max / 2);
	assert_true(CTR_OF(ooo_share_hits) > 0);
}

/* In-order data at the core bound frees other connections' out-of-order
 * queues, the largest first, and is refused only when none is left (before:
 * only the connection's own queue was dropped, then its data refused). */
static void pressure_prunes_the_largest_out_of_order_queue_first(void **state)
{
	static const uint32_t segs[3] = {20, 100, 60}; /* classes 16, 18, 17 */
	static const int order[3] = {1, 2, 0};         /* expected prune order */
	struct mg_tcp_params pr;
	struct peer *h[3], *clean;
	unsigned pruned = 0;
	uint32_t off = 0;

	(void)state;
	params(&pr);
	pr.mem_max = 1024 * 1024;
	pr.rcvbuf = 1024 * 1024;
	restart(&pr);
	for (int i = 0; i < 3; i++) {
		h[i] = open_peer(65535);
		for (uint32_t k = 0; k < segs[i]; k++)
			data(h[i], 2 + 2 * k, 1);
		assert_int_equal(h[i]->c->ooo_segs, segs[i]);
	}
	clean = open_peer(65535);
	/* Nobody reads: in-order data grows until the core bound. */
	for (unsigned n = 0; n < 1000; n++) {
		uint32_t before = clean->c->rcv_nxt;

		data(clean, off, 536);
		assert_true(T->s.st.mem_used <= pr.mem_max);
		if (clean->c->rcv_nxt == before) {
			/* The first refusal comes only after every queue went. */
			assert_int_equal(T->s.st.ooo_mem, 0);
			assert_int_equal(pruned, 3);
			assert_true(CTR_OF(mem_bound_hits) > 0);
			return;
		}
		off += 536;
		while (pruned < 3 && h[order[pruned]]->c->ooo_segs == 0) {
			for (unsigned k = pruned + 1; k < 3; k++)
				assert_int_equal(h[order[k]]->c->ooo_segs, segs[order[k]]);
			pruned++;
		}
		assert_int_equal(CTR_OF(ooo_pruned), pruned);
	}
	fail_msg("in-order data was never refused");
}

/* ---- timeouts ------------------------------------------------------------------ */

/* A SYN never followed by its ACK holds a slot and a backlog place until
 * handshake_timeout; a finished handshake is not touched. */
static void half_open_handshake_times_out(void **state)
{
	struct mg_tcp_params pr;
	struct peer *half, *full;
	uint64_t t0;

	(void)state;
	params(&pr);
	pr.handshake_timeout = 5000000;
	restart(&pr);
	half = &T->peers[T->n_peers++];
	half->port = RTE_BE16(30000);
	half->isn = 777;
	t0 = T->now;
	send_seg(half, half->isn, TH_SYN, 65535, 0);
	full = open_peer(65535);
	assert_int_equal(T->s.st.conns[MG_TCP_SYN_RCVD], 1);
	assert_int_equal(T->s.listeners[0].embryonic, 1);
	run_to(t0 + 4900000);
	assert_int_equal(T->s.st.conns[MG_TCP_SYN_RCVD], 1);
	assert_true(CTR_OF(retransmits) > 0); /* the SYN-ACK was resent meanwhile */
	run_to(t0 + 5100000);
	assert_int_equal(T->s.st.conns[MG_TCP_SYN_RCVD], 0);
	assert_int_equal(CLOSES(HANDSHAKE_TIMEOUT), 1);
	assert_int_equal(T->s.listeners[0].embryonic, 0);
	assert_int_equal(mg_tcp_state(full->c), MG_TCP_ESTABLISHED);
}

static bool is_probe(const struct seen *o, const struct mg_tcp_conn *c)
{
	/* RFC 9293 3.8.6.1: one byte of new data at SND.UNA (or, with none
	 * queued, the empty segment at SND.UNA - 1). */
	return !(o->flags & (TH_SYN | TH_FIN | TH_RST)) &&
	       ((o->seq == c->snd_una && o->len == 1) ||
		(o->seq == c->snd_una - 1 && o->len == 0));
}

/* A peer that answers every probe and never opens its window is reset after
 * zero_window_timeout (before: persist probed for ever, holding the queue). */
static void zero_window_peer_is_reset_after_the_timeout(void **state)
{
	struct mg_tcp_params pr;
	struct peer *p;
	uint8_t buf[4000];
	unsigned probes = 0;
	uint64_t t0;

	(void)state;
	params(&pr);
	pr.zero_window_timeout = 10000000;
	restart(&pr);
	p = open_peer(0); /* its window is zero from the start */
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(mg_tcp_send_copy(&T->s, p->c, buf, sizeof(buf)), sizeof(buf));
	drain();
	t0 = T->now;
	while (T->now < t0 + 9900000) {
		T->n_out = 0;
		run_to(T->now + 1000);
		for (unsigned i = 0; i < T->n_out; i++) {
			assert_false(T->out[i].flags & TH_RST);
			assert_true(is_probe(&T->out[i], p->c));
			probes++;
			/* Answer: the probe's byte not taken, window still zero. */
			send_seg(p, p->isn + 1, TH_ACK, 0, 0);
		}
	}
	assert_true(probes >= 3);
	assert_int_equal(probes, CTR_OF(persist_probes));
	assert_non_null(p->c);
	assert_int_equal(p->c->snd_wnd, 0);
	T->n_out = 0;
	run_to(t0 + 10100000); /* at the deadline, not at the next backed-off probe */
	assert_true(p->closed);
	assert_int_equal(p->close_reason, MG_TCP_CLOSE_ZERO_WINDOW_TIMEOUT);
	assert_int_equal(CLOSES(ZERO_WINDOW_TIMEOUT), 1);
	assert_true(T->n_out >= 1 && (T->out[T->n_out - 1].flags & TH_RST));
	assert_int_equal(T->s.st.mem_used, 0);
}

/* A window that opens, even briefly, restarts the zero-window clock. */
static void an_opened_window_restarts_the_zero_window_clock(void **state)
{
	struct mg_tcp_params pr;
	struct peer *p;
	uint8_t buf[4000];
	uint64_t t0;

	(void)state;
	params(&pr);
	pr.zero_window_timeout = 10000000;
	restart(&pr);
	p = open_peer(0);
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(mg_tcp_send_copy(&T->s, p->c, buf, sizeof(buf)), sizeof(buf));
	t0 = T->now;
	run_to(t0 + 8000000);
	send_seg(p, p->isn + 1, TH_ACK, 1, 0);   /* opens a little */
	send_seg(p, p->isn + 1, TH_ACK, 0, 0);   /* and shuts again */
	run_to(t0 + 16000000);
	assert_false(p->closed);
	assert_int_equal(CLOSES(ZERO_WINDOW_TIMEOUT), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
#define C(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		C(one_byte_holes_stay_within_the_connection_bound),
		C(one_byte_segments_in_order_are_collapsed),
		C(contiguous_out_of_order_bytes_are_collapsed),
		C(out_of_order_data_alone_never_closes_a_window),
		C(pressure_prunes_the_largest_out_of_order_queue_first),
		C(half_open_handshake_times_out),
		C(zero_window_peer_is_reset_after_the_timeout),
		C(an_opened_window_restarts_the_zero_window_clock),
#undef C
	};
	(void)argc;
	return WIRE_MAIN(tests, argv[0], "mgtest-tcpmem", "tcpmem", 16383, pool, pool_full);
}
