/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The simulated network that test_tcp, test_tcp_input and test_tcp_recovery
 * share: a client stack and a server stack joined by an in-test wire that
 * loses, duplicates, reorders and corrupts frames from a seeded generator,
 * under a fake clock, with the applications at both ends and the fixtures.
 * Each program includes it once; every case ends by tearing both stacks down
 * and checking that every mbuf went back to the pool.
 */
#ifndef MG_TEST_TCP_SIM_H
#define MG_TEST_TCP_SIM_H
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_eal.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_tcp.h>

#include "tcp/tcp.h"
#include "tcp/tcp_priv.h"
#include "tcp_wire.h"

#define IP_A RTE_BE32(0xc6120102) /* 198.18.1.2: client */
#define IP_B RTE_BE32(0xc6120101) /* 198.18.1.1: server */
#define PORT_SRV RTE_BE16(8080)
#define TICK 100 /* µs per simulation step */
#define MAX_INFLIGHT 16384

static const uint8_t MAC_A[6] = {0x02, 0, 0, 0, 0, 0xa};
static const uint8_t MAC_B[6] = {0x02, 0, 0, 0, 0, 0xb};
static struct rte_mempool *pool;
static unsigned pool_full;
static unsigned stack_seq;

/* ---- the applications (tcp_wire.h): every end writes and expects stream 0 */

static struct app apps[8];
static unsigned n_apps;

/* ---- the wire ----------------------------------------------------------- */

struct inflight {
	uint64_t at;
	int to; /* 0: stack a, 1: stack b */
	struct rte_mbuf *m;
};

struct net {
	struct mg_tcp_stack st[2];
	uint64_t now;
	uint64_t rng;
	unsigned loss, dup, reorder, corrupt; /* per mille */
	uint64_t latency;
	bool hold;                            /* keep frames in flight (tests craft) */
	struct inflight fl[MAX_INFLIGHT];
	unsigned n_fl;
	uint64_t sent, lost, duped, corrupted, bad_csum;
	struct rte_mbuf *captured[64];        /* frames taken by capture() */
	unsigned n_captured;
};

static struct net *N;

static inline uint32_t rnd(struct net *n)
{
	return wire_rnd(&n->rng);
}

static inline struct rte_mbuf *linearize(struct rte_mbuf *m)
{
	struct rte_mbuf *l = wire_linearize(pool, m);

	assert_non_null(l);
	return l;
}

static inline void wire_put(struct net *n, int to, struct rte_mbuf *m, uint64_t delay)
{
	assert_true(n->n_fl < MAX_INFLIGHT);
	n->fl[n->n_fl].at = n->now + n->latency + delay;
	n->fl[n->n_fl].to = to;
	n->fl[n->n_fl].m = m;
	n->n_fl++;
}

static inline void wire_send(struct net *n, int from, struct rte_mbuf *m)
{
	uint64_t delay = 0;

	m = linearize(m);
	n->sent++;
	if (rnd(n) % 1000 < n->loss) {
		n->lost++;
		rte_pktmbuf_free(m);
		return;
	}
	if (rnd(n) % 1000 < n->corrupt) {
		uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);

		p[14 + 20 + rnd(n) % (m->data_len - 34)] ^= (uint8_t)(1 + rnd(n) % 255);
		n->corrupted++;
	}
	if (rnd(n) % 1000 < n->reorder)
		delay = 100 + rnd(n) % 3000;
	if (rnd(n) % 1000 < n->dup) {
		struct rte_mbuf *d = rte_pktmbuf_copy(m, pool, 0, UINT32_MAX);

		assert_non_null(d);
		n->duped++;
		wire_put(n, !from, d, delay + rnd(n) % 500);
	}
	wire_put(n, !from, m, delay);
}

/* What mg_parse_frame would say about a frame the stack sent: offsets and
 * fields; false for a bad checksum (the NIC or the parser drops it). */
static inline bool parse(struct rte_mbuf *m, struct mg_pkt *pkt)
{
	uint8_t *f = rte_pktmbuf_mtod(m, uint8_t *);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(f + 14);
	struct rte_tcp_hdr *th;
	uint16_t ihl = (uint16_t)((ip->version_ihl & 0xf) * 4), sum, want;

	if (rte_ipv4_cksum(ip) != 0 && rte_raw_cksum(ip, ihl) != 0xffff)
		return false;
	th = (struct rte_tcp_hdr *)(f + 14 + ihl);
	want = th->cksum;
	th->cksum = 0;
	sum = rte_ipv4_udptcp_cksum(ip, th);
	th->cksum = want;
	if (sum != want)
		return false;
	wire_pkt(pkt, f, ihl);
	return true;
}

static inline void deliver(struct net *n, int to, struct rte_mbuf *m)
{
	struct mg_pkt pkt;

	if (!parse(m, &pkt)) {
		n->bad_csum++;
		rte_pktmbuf_free(m);
		return;
	}
	m->port = 0;
	mg_tcp_input(&n->st[to], m, &pkt, n->now);
}

static inline void collect(struct net *n)
{
	struct rte_mbuf *out[32];

	for (int i = 0; i < 2; i++) {
		uint16_t k;

		while ((k = mg_tcp_tx_take(&n->st[i], out, 32)) > 0)
			for (uint16_t j = 0; j < k; j++) {
				if (n->hold && n->n_captured < RTE_DIM(n->captured)) {
					n->captured[n->n_captured++] = linearize(out[j]);
					continue;
				}
				wire_send(n, i, out[j]);
			}
	}
}

static inline void step(struct net *n)
{
	unsigned keep = 0;

	collect(n);
	/* Frames due now arrive in the order they were sent (the wire's own
	 * reordering is decided in wire_send); the rest keep their order too. */
	for (unsigned i = 0; i < n->n_fl; i++) {
		struct inflight f = n->fl[i];

		if (f.at <= n->now)
			deliver(n, f.to, f.m);
		else
			n->fl[keep++] = f;
	}
	n->n_fl = keep;
	mg_tcp_timers_run(&n->st[0], n->now);
	mg_tcp_timers_run(&n->st[1], n->now);
	for (unsigned k = 0; k < n_apps; k++)
		app_pump(&apps[k]);
	collect(n);
	n->now += TICK;
}

/* Run until @p done holds or @p max_us of simulated time passed. */
static inline bool run_until(struct net *n, bool (*done)(void), uint64_t max_us)
{
	uint64_t end = n->now + max_us;

	while (n->now < end) {
		step(n);
		if (done && done())
			return true;
	}
	return done ? done() : true;
}

static inline void run_for(struct net *n, uint64_t us)
{
	run_until(n, NULL, us);
}

/* ---- the applications ----------------------------------------------------- */

static inline struct app *app_new(struct mg_tcp_stack *st)
{
	struct app *a;

	assert_true(n_apps < RTE_DIM(apps));
	a = &apps[n_apps++];
	app_init(a, st, 0, 0);
	return a;
}

static struct app *last_accepted;

/* The stack that holds @p c. */
static inline struct mg_tcp_stack *stack_of(const struct mg_tcp_conn *c)
{
	const struct mg_tcp_stack *s0 = &N->st[0];

	return (c >= s0->conns && c < s0->conns + s0->p.max_conns) ? &N->st[0] : &N->st[1];
}

static inline void *on_accept(void *lu, struct mg_tcp_conn *c)
{
	struct app *a = app_new(stack_of(c));

	(void)lu;
	a->c = c;
	last_accepted = a;
	return a;
}

static const struct mg_tcp_ops ops = {.accept = on_accept, .event = app_event};

/* ---- fixtures ------------------------------------------------------------ */

static inline void params(struct mg_tcp_params *p, int side)
{
	mg_tcp_params_default(p);
	p->max_conns = 64;
	p->pool = pool;
	p->rcvbuf = 64 * 1024;
	p->sndbuf = 64 * 1024;
	p->mem_max = 8 * 1024 * 1024;
	p->time_wait = 2000000;
	memcpy(p->ports[0].mac, side ? MAC_B : MAC_A, 6);
	p->ports[0].ip = side ? IP_B : IP_A;
	for (int i = 0; i < 16; i++)
		p->isn_secret[i] = (uint8_t)(i * 7 + side);
}

static inline int setup_with(void **state, struct mg_tcp_params *pa, struct mg_tcp_params *pb)
{
	char na[32], nb[32];

	N = calloc(1, sizeof(*N));
	assert_non_null(N);
	snprintf(na, sizeof(na), "tcpA%u", stack_seq);
	snprintf(nb, sizeof(nb), "tcpB%u", stack_seq++);
	pa->name = na;
	pb->name = nb;
	assert_int_equal(mg_tcp_stack_init(&N->st[0], pa), 0);
	assert_int_equal(mg_tcp_stack_init(&N->st[1], pb), 0);
	N->rng = 0x9e3779b97f4a7c15ULL;
	N->latency = 500;
	N->now = 1000000;
	/* The stacks learn the time from input and timers; start them now. */
	mg_tcp_timers_run(&N->st[0], N->now);
	mg_tcp_timers_run(&N->st[1], N->now);
	n_apps = 0;
	last_accepted = NULL;
	*state = N;
	return 0;
}

static inline void params_both(struct mg_tcp_params *pa, struct mg_tcp_params *pb)
{
	params(pa, 0);
	params(pb, 1);
}

static inline int setup(void **state)
{
	struct mg_tcp_params pa, pb;

	params_both(&pa, &pb);
	return setup_with(state, &pa, &pb);
}

static inline int teardown(void **state)
{
	struct net *n = *state;

	for (unsigned i = 0; i < n->n_fl; i++)
		rte_pktmbuf_free(n->fl[i].m);
	for (unsigned i = 0; i < n->n_captured; i++)
		rte_pktmbuf_free(n->captured[i]);
	mg_tcp_stack_free(&n->st[0]);
	mg_tcp_stack_free(&n->st[1]);
	free(n);
	N = NULL;
	/* Every mbuf is back: nothing leaked in the stack or the wire. */
	assert_int_equal(rte_mempool_avail_count(pool), pool_full);
	return 0;
}

/* Cases that need other parameters start over with them. */
static inline void restart(void **state, struct mg_tcp_params *pa, struct mg_tcp_params *pb)
{
	teardown(state);
	setup_with(state, pa, pb);
}

static inline struct app *client_connect(uint16_t sport)
{
	struct app *a = app_new(&N->st[0]);
	struct mg_tcp_connect_args ca = {
		.port = 0, .src_ip = IP_A, .dst_ip = IP_B,
		.src_port = rte_cpu_to_be_16(sport), .dst_port = PORT_SRV,
		.ops = &ops, .user = a,
	};

	memcpy(ca.next_hop_mac, MAC_B, 6);
	assert_int_equal(mg_tcp_connect(&N->st[0], &ca, &a->c), 0);
	return a;
}

static inline bool both_up(void)
{
	return n_apps >= 2 && apps[0].connected && last_accepted;
}

/* Listener on b, one connection from a, both ESTABLISHED. */
static inline struct app *open_pair(uint32_t backlog)
{
	struct app *cl;

	assert_true(mg_tcp_listen(&N->st[1], 0, PORT_SRV, backlog, &ops, NULL) >= 0);
	cl = client_connect(40000);
	assert_true(run_until(N, both_up, 5000000));
	assert_int_equal(mg_tcp_state(cl->c), MG_TCP_ESTABLISHED);
	assert_int_equal(mg_tcp_state(last_accepted->c), MG_TCP_ESTABLISHED);
	return cl;
}

#define CTR_OF(side, name) (N->st[side].st.ctr[MG_TCP_CTR_##name])
#define DROP_OF(side, name) (N->st[side].st.drops[MG_TCP_DROP_##name])

/* ---- helpers more than one program uses ---- */


static inline bool server_got_all(void)
{
	return last_accepted && last_accepted->rx == apps[0].tx_total;
}


static inline bool all_closed(void)
{
	for (unsigned i = 0; i < n_apps; i++)
		if (!apps[i].closed)
			return false;
	return true;
}


static inline bool client_got_all(void)
{
	return apps[0].rx == last_accepted->tx_total;
}


static uint32_t inject_base;

static bool inject_burst;


/* Inject a segment into stack @p to as if from the peer of @p c. */
static inline void inject(int to, const struct mg_tcp_conn *c, uint32_t seq, uint32_t ack,
		   uint8_t flags, const uint8_t *opt, uint8_t optlen, uint16_t plen)
{
	const struct wire_seg seg = {
		.src_mac = c->peer_mac, .dst_mac = c->our_mac,
		.src_ip = c->key.rip, .dst_ip = c->key.lip,
		.src_port = c->key.rport, .dst_port = c->key.lport,
		.seq = seq, .ack = ack, .flags = flags, .win = 65535,
		.optlen = optlen, .plen = plen,
	};
	struct rte_mbuf *m = wire_seg_new(pool, &seg);
	struct mg_pkt pkt;
	uint8_t *o;

	assert_non_null(m);
	o = wire_seg_opts(m);
	if (optlen)
		memcpy(o, opt, optlen);
	for (uint16_t i = 0; i < plen; i++) /* byte value = its offset from inject_base */
		o[optlen + i] = (uint8_t)(seq - inject_base + i);
	wire_seg_cksum(m);
	assert_true(parse(m, &pkt));
	m->port = 0;
	mg_tcp_input(&N->st[to], m, &pkt, N->now);
	if (!inject_burst) /* a burst of one */
		mg_tcp_flush(&N->st[to]);
}


/* A timestamp option the server's connection accepts (TSval = TS.Recent). */
static inline uint8_t ts_opt(const struct mg_tcp_conn *c, uint8_t *o)
{
	uint32_t v = rte_cpu_to_be_32(c->ts_recent), e = 0;

	o[0] = 1;
	o[1] = 1;
	o[2] = 8;
	o[3] = 10;
	memcpy(o + 4, &v, 4);
	memcpy(o + 8, &e, 4);
	return 12;
}


static inline unsigned tx_pending(int side)
{
	return N->st[side].tx_head - N->st[side].tx_tail;
}


static inline bool zero_window_seen(void)
{
	return CTR_OF(0, persist_probes) >= 3;
}


/* The server stops reading while the client sends @p bytes: its window closes. */
static inline void close_the_window(struct app *cl, struct app *sv, uint64_t bytes)
{
	sv->auto_read = false;
	cl->tx_total = bytes;
	assert_true(run_until(N, zero_window_seen, 60000000));
}


static inline void wire_drop_to(int to)
{
	for (unsigned i = 0; i < N->n_fl;) {
		if (N->fl[i].to == to) {
			rte_pktmbuf_free(N->fl[i].m);
			N->fl[i] = N->fl[--N->n_fl];
		} else {
			i++;
		}
	}
}

#endif /* MG_TEST_TCP_SIM_H */
