/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The network that test_proxy and test_proxy_connect share: the L4 proxy on its
 * own TCP stack, between two more stacks that play the client and the backend,
 * joined by in-test wires under a fake clock:
 *
 *   client stack ──── port 0 [ proxy stack ] port 1 ──── server stack
 *   198.18.0.2            198.18.0.1   198.18.1.1           198.18.1.2
 *
 * Frames leave the proxy stack by mbuf->port, as the worker sends them. Each
 * direction of each pair carries its own deterministic byte stream, checked
 * byte by byte at the far end. Every case ends by freeing the stacks and
 * checking that every mbuf went back to the pool.
 */
#ifndef MG_TEST_PROXY_SIM_H
#define MG_TEST_PROXY_SIM_H
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
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "proxy.h"
#include "tcp/tcp.h"
#include "tcp/tcp_priv.h"
#include "tcp_wire.h"

#define IP_C RTE_BE32(0xc6120002)  /* 198.18.0.2: client */
#define IP_P0 RTE_BE32(0xc6120001) /* 198.18.0.1: proxy, client side */
#define IP_P1 RTE_BE32(0xc6120101) /* 198.18.1.1: proxy, server side */
#define IP_S RTE_BE32(0xc6120102)  /* 198.18.1.2: server */
#define PORT_L RTE_BE16(443)
#define PORT_S RTE_BE16(8443)
#define TICK 100 /* µs per simulation step */
#define MAX_INFLIGHT 16384
#define BUF (64 * 1024)
#define MB (1u << 20)
#define TIME_WAIT_US 500000

enum { SC = 0, SP = 1, SS = 2, NSTACKS = 3 };

static const uint8_t MAC_C[6] = {0x02, 0, 0, 0, 0, 0xc};
static const uint8_t MAC_P0[6] = {0x02, 0, 0, 0, 1, 0};
static const uint8_t MAC_P1[6] = {0x02, 0, 0, 0, 1, 1};
static const uint8_t MAC_S[6] = {0x02, 0, 0, 0, 0, 0x5};
static struct rte_mempool *pool;
static unsigned pool_full;
static unsigned stack_seq;

struct inflight {
	uint64_t at;
	int to;
	uint16_t port;
	struct rte_mbuf *m;
};

struct net {
	struct mg_tcp_stack st[NSTACKS];
	struct mg_proxy px;
	uint64_t now, rng;
	unsigned loss, reorder; /* per mille, every wire */
	unsigned resolve_fails; /* resolve answers false this many times more */
	unsigned resolve_calls;
	uint64_t mem_bound;     /* 0: none; else asserted on the proxy every step */
	uint64_t mem_peak;
	struct inflight fl[MAX_INFLIGHT];
	unsigned n_fl;
	uint64_t sent, lost;
	struct app apps[8];
	unsigned n_apps, n_srv;
};

static struct net *N;

/*
 * What a case may change before start() (test_proxy_tls): the listener's kind
 * and policy destination, the policy's answers, the handshake service, and
 * something to run in every step before the proxy polls.
 */
static struct {
	enum mg_proxy_kind kind;
	struct mg_proxy_env env;          /* resolve/owns/ctx ignored */
	struct mg_proxy_tls_conf *tls;
	void (*each_step)(void);
} sim_extra;

#define PX(name) (N->px.st.ctr[MG_PROXY_CTR_##name])

static inline uint32_t rnd(void)
{
	return wire_rnd(&N->rng);
}

/* ---- the wires ------------------------------------------------------------ */

static inline struct rte_mbuf *linearize(struct rte_mbuf *m)
{
	struct rte_mbuf *l = wire_linearize(pool, m);

	assert_non_null(l);
	return l;
}

/* The proxy's port 0 faces the client, port 1 the server. */
static inline void wire_send(int from, struct rte_mbuf *m)
{
	struct inflight *f;
	uint16_t port = m->port;

	if (from == SP)
		assert_true(port < 2);
	m = linearize(m); /* a fresh mbuf: its port is not the stack's */
	N->sent++;
	if (rnd() % 1000 < N->loss) {
		N->lost++;
		rte_pktmbuf_free(m);
		return;
	}
	assert_true(N->n_fl < MAX_INFLIGHT);
	f = &N->fl[N->n_fl++];
	f->at = N->now + 500 + (rnd() % 1000 < N->reorder ? 100 + rnd() % 3000 : 0);
	f->m = m;
	if (from == SC) {
		f->to = SP;
		f->port = 0;
	} else if (from == SS) {
		f->to = SP;
		f->port = 1;
	} else {
		f->to = port == 0 ? SC : SS;
		f->port = 0;
	}
}

static inline void deliver(const struct inflight *f)
{
	struct mg_pkt pkt;
	enum mg_drop d;

	d = mg_parse_frame(rte_pktmbuf_mtod(f->m, const uint8_t *), f->m->data_len,
			   MG_CSUM_UNKNOWN, MG_CSUM_UNKNOWN, &pkt);
	assert_int_equal(d, MG_DROP_NONE);
	f->m->port = f->port;
	mg_tcp_input(&N->st[f->to], f->m, &pkt, N->now);
}

static inline void collect(void)
{
	struct rte_mbuf *out[32];

	for (int i = 0; i < NSTACKS; i++) {
		uint16_t k;

		while ((k = mg_tcp_tx_take(&N->st[i], out, 32)) > 0)
			for (uint16_t j = 0; j < k; j++)
				wire_send(i, out[j]);
	}
}

/* ---- the applications at both ends --------------------------------------- */

static inline struct app *app_new(int si, uint32_t tx_seed, uint32_t rx_seed)
{
	struct app *a;

	assert_true(N->n_apps < RTE_DIM(N->apps));
	a = &N->apps[N->n_apps++];
	app_init(a, &N->st[si], tx_seed, rx_seed);
	return a;
}

/* The k-th connection the server accepts is pair k: streams 2k+1 up, 2k+2 down. */
static inline void *server_accept(void *lu, struct mg_tcp_conn *c)
{
	uint32_t k = N->n_srv++;
	struct app *a = app_new(SS, 2 * k + 2, 2 * k + 1);

	(void)lu;
	a->c = c;
	a->connected = true;
	return a;
}

static const struct mg_tcp_ops app_ops = {.accept = server_accept, .event = app_event};

/* Pair @p k's client, from source port 40000 + @p k. */
static inline struct app *client_connect(uint32_t k)
{
	struct app *a = app_new(SC, 2 * k + 1, 2 * k + 2);
	struct mg_tcp_connect_args ca = {
		.port = 0, .src_ip = IP_C, .dst_ip = IP_P0,
		.src_port = rte_cpu_to_be_16((uint16_t)(40000 + k)), .dst_port = PORT_L,
		.ops = &app_ops, .user = a,
	};

	memcpy(ca.next_hop_mac, MAC_P0, 6);
	assert_int_equal(mg_tcp_connect(&N->st[SC], &ca, &a->c), 0);
	return a;
}

/* The server app of pair k, once accepted. */
static inline struct app *server_app(uint32_t k)
{
	for (unsigned i = 0; i < N->n_apps; i++)
		if (N->apps[i].st == &N->st[SS] && N->apps[i].rx_seed == 2 * k + 1)
			return &N->apps[i];
	return NULL;
}

/* ---- the loop ------------------------------------------------------------- */

/* One turn of the worker's loop on every stack, and the wires. */
static inline void step(void)
{
	bool rx[NSTACKS] = {false};
	unsigned kept = 0;

	collect();
	/* Due frames in the order they were sent: reordering is the wire's choice. */
	for (unsigned i = 0; i < N->n_fl; i++) {
		if (N->fl[i].at <= N->now) {
			rx[N->fl[i].to] = true;
			deliver(&N->fl[i]);
		} else {
			N->fl[kept++] = N->fl[i];
		}
	}
	N->n_fl = kept;
	for (int s = 0; s < NSTACKS; s++)
		if (rx[s])
			mg_tcp_flush(&N->st[s]);
	if (sim_extra.each_step)
		sim_extra.each_step();
	mg_proxy_poll(&N->px, N->now);
	for (int s = 0; s < NSTACKS; s++)
		mg_tcp_timers_run(&N->st[s], N->now);
	for (unsigned k = 0; k < N->n_apps; k++)
		app_pump(&N->apps[k]);
	collect();
	if (N->st[SP].st.mem_used > N->mem_peak)
		N->mem_peak = N->st[SP].st.mem_used;
	if (N->mem_bound && N->st[SP].st.mem_used > N->mem_bound)
		fail_msg("proxy holds %lu buffer bytes, bound %lu", N->st[SP].st.mem_used,
			 N->mem_bound);
	N->now += TICK;
}

/* What a case that ran out of time left behind, for whoever reads the log. */
static inline void dump(void)
{
	const struct mg_tcp_stack *p = &N->st[SP];

	for (unsigned i = 0; i < N->n_apps; i++) {
		const struct app *a = &N->apps[i];

		print_message("app %u on %d: rx %lu tx %lu/%lu peer_fin %d closed %d\n", i,
			      (int)(a->st - N->st),
			      a->rx, a->tx, a->tx_total, a->peer_fin, a->closed);
	}
	for (uint32_t i = 0; i < p->p.max_conns; i++) {
		const struct mg_tcp_conn *x = &p->conns[i];

		if (x->state != MG_TCP_CLOSED)
			print_message("proxy conn :%u>:%u %s sndq %u rcvq %u ooo %u (%u true)\n",
				      rte_be_to_cpu_16(x->key.lport), rte_be_to_cpu_16(x->key.rport),
				      mg_tcp_state_name(mg_tcp_state(x)), x->sndq_bytes,
				      x->rcvq_bytes, x->ooo_bytes, x->ooo_true);
	}
	print_message("proxy mem_used %lu of %lu, mem_waits %lu, pairs %lu\n", p->st.mem_used,
		      p->p.mem_max, PX(mem_waits), N->px.st.pairs_active);
}

static inline bool run_until(bool (*done)(void), uint64_t max_us)
{
	uint64_t end = N->now + max_us;

	while (N->now < end) {
		step();
		if (done())
			return true;
	}
	if (done())
		return true;
	dump();
	return false;
}

static inline void run_for(uint64_t us)
{
	uint64_t end = N->now + us;

	while (N->now < end)
		step();
}

/* ---- fixtures ------------------------------------------------------------- */

static inline bool resolve(void *ctx, uint8_t port, uint32_t ip, uint8_t mac[6])
{
	struct net *n = ctx;

	assert_int_equal(port, 1);
	assert_int_equal(ip, IP_S);
	n->resolve_calls++;
	if (n->resolve_fails > 0) {
		n->resolve_fails--;
		return false;
	}
	memcpy(mac, MAC_S, 6);
	return true;
}

static uint8_t sp_secret0; /* 0, or the proxy stack's first secret byte */
static uint32_t sp_time_wait; /* 0, or the proxy stack's 2 MSL */

static inline void params(struct mg_tcp_params *p, int side, char *name)
{
	mg_tcp_params_default(p);
	snprintf(name, 32, "px%u_%d", stack_seq, side);
	p->name = name;
	p->max_conns = 64;
	p->pool = pool;
	p->sndbuf = BUF;
	p->rcvbuf = BUF;
	p->mem_max = 8 * 1024 * 1024;
	p->time_wait = TIME_WAIT_US;
	for (int i = 0; i < 16; i++)
		p->isn_secret[i] = (uint8_t)(i * 7 + side);
	if (side == SP && sp_secret0)
		p->isn_secret[0] = sp_secret0;
	if (side == SP && sp_time_wait) {
		p->time_wait = sp_time_wait;
		p->time_wait_max = 131072;
	}
	if (side == SC) {
		memcpy(p->ports[0].mac, MAC_C, 6);
		p->ports[0].ip = IP_C;
	} else if (side == SS) {
		memcpy(p->ports[0].mac, MAC_S, 6);
		p->ports[0].ip = IP_S;
	} else {
		p->n_ports = 2;
		memcpy(p->ports[0].mac, MAC_P0, 6);
		p->ports[0].ip = IP_P0;
		memcpy(p->ports[1].mac, MAC_P1, 6);
		p->ports[1].ip = IP_P1;
		p->ports[1].mtu = 1500;
	}
}

/* Three stacks, the proxy on the middle one, and (if @p backend) a listener
 * on the server. @p proxy_mem: the proxy stack's mem_max (0: default). */
static inline void start(uint64_t proxy_mem, uint32_t max_pairs, bool backend)
{
	struct mg_tcp_params p;
	char name[32];
	const struct mg_proxy_listener_conf l = {
		.kind = sim_extra.kind, .listen_ip = IP_P0, .listen_port = PORT_L,
		.upstream_ip = IP_S, .upstream_port = PORT_S,
		.backlog = 16, .up_port = 1, .next_hop = IP_S, .dst_ip = IP_S, .dst_port = PORT_S,
	};
	struct mg_proxy_env env = sim_extra.env;

	env.resolve = resolve;
	env.owns = NULL;

	N = calloc(1, sizeof(*N));
	assert_non_null(N);
	env.ctx = N;
	for (int s = 0; s < NSTACKS; s++) {
		params(&p, s, name);
		if (s == SP && proxy_mem)
			p.mem_max = proxy_mem;
		assert_int_equal(mg_tcp_stack_init(&N->st[s], &p), 0);
	}
	stack_seq++;
	assert_int_equal(mg_proxy_init(&N->px, &N->st[SP], &l, 1, max_pairs, SOCKET_ID_ANY,
				       &env, sim_extra.tls), 0);
	if (backend)
		assert_true(mg_tcp_listen(&N->st[SS], IP_S, PORT_S, 16, &app_ops, NULL) >= 0);
	N->rng = 0x9e3779b97f4a7c15ULL;
	N->now = 1000000;
	for (int s = 0; s < NSTACKS; s++)
		mg_tcp_timers_run(&N->st[s], N->now);
}

static inline int setup(void **state)
{
	start(0, 16, true);
	*state = N;
	return 0;
}

static inline int teardown(void **state)
{
	(void)state;
	for (unsigned i = 0; i < N->n_fl; i++)
		rte_pktmbuf_free(N->fl[i].m);
	for (int s = 0; s < NSTACKS; s++)
		mg_tcp_stack_free(&N->st[s]);
	mg_proxy_free(&N->px);
	free(N);
	N = NULL;
	/* Every mbuf is back: nothing leaked in the proxy, a stack or a wire. */
	assert_int_equal(rte_mempool_avail_count(pool), pool_full);
	return 0;
}

/* Cases that need other parameters start over with them. */
static inline void restart(uint64_t proxy_mem, uint32_t max_pairs, bool backend)
{
	teardown(NULL);
	start(proxy_mem, max_pairs, backend);
}


static inline uint64_t proxy_conns(void)
{
	uint64_t n = 0;

	for (int i = 0; i < MG_TCP_STATE__COUNT; i++)
		n += N->st[SP].st.conns[i];
	return n;
}

static uint32_t want_pairs;

static inline bool pairs_up(void)
{
	for (uint32_t k = 0; k < want_pairs; k++)
		if (!server_app(k))
			return false;
	for (unsigned i = 0; i < N->n_apps; i++)
		if (N->apps[i].st == &N->st[SC] && !N->apps[i].connected)
			return false;
	return true;
}

/* Pairs first..first+n-1, opened one after the other so the server's order
 * is known: the server must not have accepted anything else meanwhile. */
static inline void open_pairs_from(uint32_t first, uint32_t n, struct app **cl, struct app **sv)
{
	for (uint32_t i = 0; i < n; i++) {
		uint32_t k = first + i;

		cl[i] = client_connect(k);
		want_pairs = k + 1;
		assert_true(run_until(pairs_up, 5000000));
		sv[i] = server_app(k);
	}
}

static inline void open_pairs(uint32_t n, struct app **cl, struct app **sv)
{
	open_pairs_from(0, n, cl, sv);
}

/* Every end wrote all and got the FIN (so all data before it), and the pairs ended. */
static inline bool all_done(void)
{
	for (unsigned i = 0; i < N->n_apps; i++) {
		struct app *a = &N->apps[i];

		if (a->ignore)
			continue;
		if (a->closed && a->close_reason != MG_TCP_CLOSE_NORMAL)
			return true; /* the asserts tell */
		if (!a->peer_fin || a->tx < a->tx_total)
			return false;
	}
	return N->px.st.pairs_active == 0;
}

static inline void exchange(struct app *c, struct app *s, uint64_t up, uint64_t down)
{
	c->tx_total = up;
	s->tx_total = down;
	c->shutdown_after_tx = s->shutdown_after_tx = true;
}

static inline void assert_exact(const struct app *c, const struct app *s, uint64_t up, uint64_t down)
{
	assert_int_equal(s->rx, up);
	assert_int_equal(c->rx, down);
	assert_int_equal(s->rx_bad, 0);
	assert_int_equal(c->rx_bad, 0);
	assert_true(c->peer_fin && s->peer_fin);
}

/* One pair moves @p up and @p down bytes and ends with FINs; the proxy counted them. */
static inline void exchange_whole(struct app *c, struct app *s, uint64_t up, uint64_t down,
			   uint64_t max_us)
{
	exchange(c, s, up, down);
	assert_true(run_until(all_done, max_us));
	assert_exact(c, s, up, down);
	assert_int_equal(PX(closed_normal), 1);
	assert_int_equal(PX(bytes_up), up);
	assert_int_equal(PX(bytes_down), down);
}

static inline void assert_no_pairs(void)
{
	assert_int_equal(N->px.st.pairs_active, 0);
	assert_int_equal(proxy_conns(), 0);
}

/* After TIME-WAIT, nothing of the pairs is left in the proxy stack. */
static inline void assert_proxy_empty(void)
{
	run_for(TIME_WAIT_US + 100000);
	assert_no_pairs();
	assert_int_equal(N->st[SP].st.mem_used, 0);
}

#endif /* MG_TEST_PROXY_SIM_H */
