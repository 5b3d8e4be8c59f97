/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer: arbitrary segments into a TCP connection in every state.
 *
 * Each input first drives a client stack and a server stack, joined by a
 * clean wire, until one connection sits in the state that byte 0 picks
 * (LISTEN, SYN-SENT, SYN-RECEIVED, ESTABLISHED with data both ways and
 * out-of-order data queued, FIN-WAIT-1/2, CLOSE-WAIT, CLOSING, LAST-ACK,
 * TIME-WAIT). The rest of the input is a list of segments, each a valid
 * Ethernet + IPv4 + TCP frame (checksums fixed, so they reach the stack) whose
 * flags, sequence numbers (relative to the connection's own, or raw), window,
 * options and payload come from the fuzzer, with clock steps between them.
 * After every segment the stack's invariants are checked; at the end every
 * mbuf must be back in the pool.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_tcp.h>

#include "tcp/tcp.h"
#include "tcp/tcp_priv.h"
#include "../unit/tcp_wire.h"

#define IP_A RTE_BE32(0xc6120102)
#define IP_B RTE_BE32(0xc6120101)
#define PORT_SRV RTE_BE16(443)
#define PORT_CLI RTE_BE16(50000)

static const uint8_t MAC_A[6] = {2, 0, 0, 0, 0, 0xa};
static const uint8_t MAC_B[6] = {2, 0, 0, 0, 0, 0xb};
static struct rte_mempool *pool;
static unsigned pool_full;
static struct mg_tcp_stack st[2];
static uint64_t now;
static struct mg_tcp_conn *cli, *srv;
static bool srv_read = true;

#define CHECK(cond)                                                              \
	do {                                                                     \
		if (!(cond)) {                                                   \
			fprintf(stderr, "invariant failed: %s (%s:%d)\n", #cond, \
				__FILE__, __LINE__);                             \
			abort();                                                 \
		}                                                                \
	} while (0)

static void on_event(void *user, struct mg_tcp_conn *c, unsigned ev)
{
	struct mg_tcp_stack *s = user;
	struct rte_mbuf *m;

	if (ev & MG_TCP_EV_CLOSED) {
		if (c == cli)
			cli = NULL;
		if (c == srv)
			srv = NULL;
		return;
	}
	if ((ev & MG_TCP_EV_READABLE) && (c != srv || srv_read) &&
	    mg_tcp_recv(s, c, UINT32_MAX, &m))
		rte_pktmbuf_free(m);
}

static void *on_accept(void *lu, struct mg_tcp_conn *c)
{
	srv = c;
	return lu;
}

static const struct mg_tcp_ops ops = {.accept = on_accept, .event = on_event};

static bool frame_info(struct rte_mbuf *m, struct mg_pkt *pkt)
{
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(f + 14);
	struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)(ip + 1);
	uint16_t tot = rte_be_to_cpu_16(ip->total_length), thl = (uint16_t)((th->data_off >> 4) * 4);

	if (m->nb_segs != 1 || m->data_len < 54 || thl < 20 || 20u + thl > tot)
		return false;
	wire_pkt(pkt, f, 20);
	return true;
}

/* Move what stack @p i sent to the other one (or drop it when !deliver). */
static bool wire_dir(int i, bool deliver)
{
	struct rte_mbuf *out[32];
	uint16_t n = mg_tcp_tx_take(&st[i], out, 32);

	for (uint16_t j = 0; j < n; j++) {
		struct rte_mbuf *l;
		struct mg_pkt pkt;

		if (!deliver) {
			rte_pktmbuf_free(out[j]);
			continue;
		}
		l = wire_linearize(pool, out[j]);
		if (!l || !frame_info(l, &pkt)) {
			rte_pktmbuf_free(l);
			continue;
		}
		l->port = 0;
		mg_tcp_input(&st[!i], l, &pkt, now);
	}
	mg_tcp_flush(&st[!i]);
	return n > 0;
}

static void wire(bool deliver)
{
	for (int round = 0; round < 16; round++) {
		bool a = wire_dir(0, deliver), b = wire_dir(1, deliver);

		if (!a && !b)
			break;
	}
}

static void tick(uint64_t us, bool deliver)
{
	now += us;
	mg_tcp_timers_run(&st[0], now);
	mg_tcp_timers_run(&st[1], now);
	wire(deliver);
}

static void sendn(struct mg_tcp_stack *s, struct mg_tcp_conn *c, uint32_t n)
{
	static uint8_t buf[8192];

	if (c)
		(void)mg_tcp_send_copy(s, c, buf, RTE_MIN(n, (uint32_t)sizeof(buf)));
}

enum target {
	T_LISTEN, T_SYN_SENT, T_SYN_RCVD, T_ESTABLISHED, T_FIN_WAIT_1, T_FIN_WAIT_2,
	T_CLOSE_WAIT, T_CLOSING, T_LAST_ACK, T_TIME_WAIT, T_ZERO_WINDOW, T__COUNT
};

static void init_stacks(void)
{
	for (int i = 0; i < 2; i++) {
		struct mg_tcp_params p;

		mg_tcp_params_default(&p);
		p.name = i ? "fuzzB" : "fuzzA";
		p.max_conns = 8;
		p.pool = pool;
		p.sndbuf = p.rcvbuf = 16384;
		p.mem_max = 96 * 2176;
		p.ooo_max_segs = 16;
		p.tx_ring_size = 256;
		p.time_wait = 100000;
		p.keep_idle = 500000;
		p.keep_intvl = 100000;
		p.keep_probes = 2;
		memcpy(p.ports[0].mac, i ? MAC_B : MAC_A, 6);
		p.ports[0].ip = i ? IP_B : IP_A;
		for (int k = 0; k < 16; k++)
			p.isn_secret[k] = (uint8_t)(k + i);
		if (mg_tcp_stack_init(&st[i], &p) < 0)
			abort();
	}
}

/* Drive the pair until the target state; returns the stack index to fuzz. */
static int reach(enum target t)
{
	struct mg_tcp_connect_args ca = {
		.port = 0, .src_ip = IP_A, .dst_ip = IP_B, .src_port = PORT_CLI,
		.dst_port = PORT_SRV, .ops = &ops, .user = &st[0],
	};

	memcpy(ca.next_hop_mac, MAC_B, 6);
	srv_read = true;
	if (mg_tcp_listen(&st[1], 0, PORT_SRV, 4, &ops, &st[1]) < 0)
		abort();
	if (t == T_LISTEN)
		return 1;
	if (mg_tcp_connect(&st[0], &ca, &cli) < 0)
		abort();
	if (t == T_SYN_SENT) {
		tick(1, false); /* the SYN is lost */
		return 0;
	}
	if (t == T_SYN_RCVD) {
		wire_dir(0, true);  /* the SYN arrives */
		wire_dir(1, false); /* the SYN-ACK is lost */
		return 1;
	}
	tick(100, true);
	if (!srv || !cli)
		return 1;
	sendn(&st[0], cli, 3000);
	sendn(&st[1], srv, 2000);
	tick(100, true);
	switch (t) {
	case T_FIN_WAIT_1:
		srv_read = false;
		sendn(&st[0], cli, 6000);
		mg_tcp_shutdown(&st[0], cli);
		tick(1, false); /* data and FIN are lost: stays in FIN-WAIT-1 */
		return 0;
	case T_FIN_WAIT_2:
		mg_tcp_shutdown(&st[0], cli);
		tick(100, true);
		return 0;
	case T_CLOSE_WAIT:
		mg_tcp_shutdown(&st[0], cli);
		tick(100, true);
		return 1;
	case T_CLOSING:
		mg_tcp_shutdown(&st[0], cli);
		mg_tcp_shutdown(&st[1], srv);
		wire_dir(0, false); /* the client's FIN is lost ... */
		wire_dir(1, true);  /* ... the server's arrives: CLOSING */
		wire_dir(0, false);
		return 0;
	case T_LAST_ACK:
		mg_tcp_shutdown(&st[0], cli);
		tick(100, true);
		if (srv)
			mg_tcp_close(&st[1], srv);
		tick(1, false);
		return 1;
	case T_TIME_WAIT:
		mg_tcp_shutdown(&st[0], cli);
		tick(100, true);
		if (srv)
			mg_tcp_shutdown(&st[1], srv);
		tick(100, true);
		return 0;
	case T_ZERO_WINDOW:
		srv_read = false;
		for (int i = 0; i < 8; i++) {
			sendn(&st[0], cli, 8000);
			tick(1000, true);
		}
		return 1;
	default:
		return 1;
	}
}

static uint32_t chain_bytes(const struct rte_mbuf *m, uint32_t *truesz)
{
	uint32_t n = 0;

	for (; m; m = m->next) {
		n += m->data_len;
		*truesz += m->buf_len;
	}
	return n;
}

static void check_invariants(void)
{
	for (int i = 0; i < 2; i++) {
		struct mg_tcp_stack *s = &st[i];
		uint64_t mem = 0, ooo = 0, by_state[MG_TCP_STATE__COUNT] = {0};

		for (uint32_t k = 0; k < s->p.max_conns; k++) {
			struct mg_tcp_conn *c = &s->conns[k];
			uint32_t t = 0, n;

			if (c->flags & TF_FREE)
				continue;
			CHECK(c->state < MG_TCP_STATE__COUNT);
			if (c->state != MG_TCP_CLOSED)
				by_state[c->state]++;
			n = chain_bytes(c->sndq_head, &t);
			CHECK(n == c->sndq_bytes && t == c->sndq_true);
			mem += t;
			t = 0;
			n = chain_bytes(c->rcvq_head, &t);
			CHECK(n == c->rcvq_bytes && t == c->rcvq_true);
			mem += t;
			t = 0;
			n = chain_bytes(c->ooo_head, &t);
			CHECK(n == c->ooo_bytes && t == c->ooo_true);
			mem += t;
			ooo += t;
			/* issue 11: receive queues within the connection's bound, and
			 * listed by size exactly when holding out-of-order data */
			CHECK(c->rcvq_true + c->ooo_true <= conn_rcv_bound(c));
			CHECK(!c->ooo_true == !c->ooo_class);
			CHECK(c->ooo_segs <= s->p.ooo_max_segs);
			for (const struct rte_mbuf *m = c->ooo_head; m; m = m->next) {
				CHECK(SEQ_GT(m->hash.usr, c->rcv_nxt));
				CHECK(m->data_len > 0);
				if (m->next)
					CHECK(SEQ_LEQ(m->hash.usr + m->data_len, m->next->hash.usr));
			}
			if (c->state >= MG_TCP_ESTABLISHED) {
				CHECK(SEQ_LEQ(c->snd_una, c->snd_nxt));
				CHECK(SEQ_LEQ(c->snd_nxt, c->snd_max));
				CHECK(SEQ_LEQ(c->snd_buf_seq, c->snd_una) ||
				      c->snd_buf_seq - c->snd_una <= 1);
				CHECK(c->rcvq_bytes <= c->rcvbuf);
			}
		}
		CHECK(mem == s->st.mem_used);
		CHECK(ooo == s->st.ooo_mem && ooo <= s->p.mem_max / 2);
		CHECK(s->st.mem_used <= s->p.mem_max);
		by_state[MG_TCP_TIME_WAIT] += s->tw_count; /* records count as TIME-WAIT */
		for (int k = 0; k < MG_TCP_STATE__COUNT; k++)
			CHECK(by_state[k] == s->st.conns[k]);
	}
}

/* One fuzzed segment from the peer of the fuzzed side. */
static size_t one_segment(int side, const uint8_t *d, size_t n)
{
	struct mg_tcp_conn *c = side ? srv : cli;
	uint8_t flags, optlen, mode;
	uint32_t seq, ack;
	uint16_t win, plen;
	size_t used = 12;
	struct wire_seg seg;
	struct rte_mbuf *m;
	uint8_t *o;
	struct mg_pkt pkt;

	if (n < 12)
		return n;
	flags = d[0];
	mode = d[1];
	memcpy(&seq, d + 2, 4);
	memcpy(&ack, d + 6, 4);
	win = (uint16_t)(d[10] << 8 | d[11]);
	optlen = (uint8_t)((n > used ? d[used++] : 0) % 41) & ~3u;
	optlen = (uint8_t)RTE_MIN((size_t)optlen, n - used);
	optlen &= (uint8_t)~3u;
	plen = (uint16_t)(n > used + optlen ? d[used + optlen] * 8 : 0);
	if (mode & 1) { /* sequence numbers near the connection's own */
		uint32_t base_seq = c ? c->rcv_nxt : 0, base_ack = c ? c->snd_una : 0;

		seq = base_seq + (uint32_t)(int32_t)(int16_t)seq;
		ack = base_ack + (uint32_t)(int32_t)(int16_t)ack;
	}
	if ((mode & 0x88) == 0x88) { /* an ICMP fragmentation-needed quote instead */
		uint8_t q[28] = {0x45};
		uint32_t qseq = rte_cpu_to_be_32(c ? c->snd_una + (seq & 0xffff) : seq);

		q[9] = IPPROTO_TCP;
		memcpy(q + 12, side ? &(uint32_t){IP_B} : &(uint32_t){IP_A}, 4);
		memcpy(q + 16, side ? &(uint32_t){IP_A} : &(uint32_t){IP_B}, 4);
		memcpy(q + 20, side ? &(uint16_t){PORT_SRV} : &(uint16_t){PORT_CLI}, 2);
		memcpy(q + 22, side ? &(uint16_t){PORT_CLI} : &(uint16_t){PORT_SRV}, 2);
		memcpy(q + 24, &qseq, 4);
		(void)mg_tcp_icmp_frag_needed(&st[side], q, sizeof(q), win, now);
		return used;
	}
	seg = (struct wire_seg){
		.src_mac = side ? MAC_A : MAC_B, .dst_mac = side ? MAC_B : MAC_A,
		.src_ip = side ? IP_A : IP_B, .dst_ip = side ? IP_B : IP_A,
		.src_port = side ? PORT_CLI : PORT_SRV, .dst_port = side ? PORT_SRV : PORT_CLI,
		.seq = seq, .ack = ack, .flags = flags, .win = win,
		.optlen = optlen, .plen = plen,
	};
	if (mode & 4) /* to a port nobody uses */
		seg.dst_port = RTE_BE16(7);
	m = wire_seg_new(pool, &seg);
	if (!m)
		return n;
	o = wire_seg_opts(m);
	if (optlen)
		memcpy(o, d + used, optlen);
	if ((mode & 2) && c && optlen >= 12) { /* a timestamp the connection accepts */
		uint32_t v = rte_cpu_to_be_32(c->ts_recent + (mode >> 4));

		o[0] = 1;
		o[1] = 1;
		o[2] = 8;
		o[3] = 10;
		memcpy(o + 4, &v, 4);
	}
	memset(o + optlen, 'p', plen);
	wire_seg_cksum(m);
	used += optlen + (n > used + optlen ? 1 : 0);
	if (!frame_info(m, &pkt)) {
		rte_pktmbuf_free(m);
		return RTE_MIN(used, n);
	}
	m->port = 0;
	mg_tcp_input(&st[side], m, &pkt, now);
	if (mode & 0x40) /* sometimes as the end of a burst, sometimes mid-burst */
		mg_tcp_flush(&st[side]);
	return RTE_MIN(used, n);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	pool = wire_eal_pool("fuzz_tcp", "mgfuzz-tcp", "fuzz_tcp", 4095);
	if (!pool)
		abort();
	pool_full = rte_mempool_avail_count(pool);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 1;
	int side;

	if (size < 1)
		return 0;
	now = 1000000;
	cli = srv = NULL;
	init_stacks();
	mg_tcp_timers_run(&st[0], now);
	mg_tcp_timers_run(&st[1], now);
	side = reach((enum target)(data[0] % T__COUNT));
	check_invariants();
	for (int i = 0; off < size && i < 64; i++) {
		off += one_segment(side, data + off, size - off);
		if (off < size && (data[off - 1] & 0x80)) /* sometimes let time pass */
			tick((uint64_t)(data[off - 1] & 0x7f) * 10000, (data[off - 1] & 0x40) != 0);
		check_invariants();
	}
	tick(1000, true);
	check_invariants();
	mg_tcp_stack_free(&st[0]);
	mg_tcp_stack_free(&st[1]);
	CHECK(rte_mempool_avail_count(pool) == pool_full);
	return 0;
}
