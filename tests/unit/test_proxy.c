/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The L4 proxy on its own TCP stack, between two more stacks that play the
 * client and the backend, joined by in-test wires under a fake clock:
 *
 *   client stack ──── port 0 [ proxy stack ] port 1 ──── server stack
 *   198.18.0.2            198.18.0.1   198.18.1.1           198.18.1.2
 *
 * Frames leave the proxy stack by mbuf->port, as the worker sends them. Each
 * direction of each pair carries its own deterministic byte stream, checked
 * byte by byte at the far end. Every case ends by freeing the stacks and
 * checking that every mbuf went back to the pool.
 */
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
#define PX(name) (N->px.st.ctr[MG_PROXY_CTR_##name])

static uint32_t rnd(void)
{
	return wire_rnd(&N->rng);
}

/* ---- the wires ------------------------------------------------------------ */

static struct rte_mbuf *linearize(struct rte_mbuf *m)
{
	struct rte_mbuf *l = wire_linearize(pool, m);

	assert_non_null(l);
	return l;
}

/* The proxy's port 0 faces the client, port 1 the server. */
static void wire_send(int from, struct rte_mbuf *m)
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

static void deliver(const struct inflight *f)
{
	struct mg_pkt pkt;
	enum mg_drop d;

	d = mg_parse_frame(rte_pktmbuf_mtod(f->m, const uint8_t *), f->m->data_len,
			   MG_CSUM_UNKNOWN, MG_CSUM_UNKNOWN, &pkt);
	assert_int_equal(d, MG_DROP_NONE);
	f->m->port = f->port;
	mg_tcp_input(&N->st[f->to], f->m, &pkt, N->now);
}

static void collect(void)
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

static struct app *app_new(int si, uint32_t tx_seed, uint32_t rx_seed)
{
	struct app *a;

	assert_true(N->n_apps < RTE_DIM(N->apps));
	a = &N->apps[N->n_apps++];
	app_init(a, &N->st[si], tx_seed, rx_seed);
	return a;
}

/* The k-th connection the server accepts is pair k: streams 2k+1 up, 2k+2 down. */
static void *server_accept(void *lu, struct mg_tcp_conn *c)
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
static struct app *client_connect(uint32_t k)
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
static struct app *server_app(uint32_t k)
{
	for (unsigned i = 0; i < N->n_apps; i++)
		if (N->apps[i].st == &N->st[SS] && N->apps[i].rx_seed == 2 * k + 1)
			return &N->apps[i];
	return NULL;
}

/* ---- the loop ------------------------------------------------------------- */

/* One turn of the worker's loop on every stack, and the wires. */
static void step(void)
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
static void dump(void)
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

static bool run_until(bool (*done)(void), uint64_t max_us)
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

static void run_for(uint64_t us)
{
	uint64_t end = N->now + us;

	while (N->now < end)
		step();
}

/* ---- fixtures ------------------------------------------------------------- */

static bool resolve(void *ctx, uint8_t port, uint32_t ip, uint8_t mac[6])
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

static void params(struct mg_tcp_params *p, int side, char *name)
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
static void start(uint64_t proxy_mem, uint32_t max_pairs, bool backend)
{
	struct mg_tcp_params p;
	char name[32];
	const struct mg_proxy_listener_conf l = {
		.listen_ip = IP_P0, .listen_port = PORT_L,
		.upstream_ip = IP_S, .upstream_port = PORT_S,
		.backlog = 16, .up_port = 1, .next_hop = IP_S,
	};
	struct mg_proxy_env env = {.resolve = resolve, .owns = NULL};

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
				       &env), 0);
	if (backend)
		assert_true(mg_tcp_listen(&N->st[SS], IP_S, PORT_S, 16, &app_ops, NULL) >= 0);
	N->rng = 0x9e3779b97f4a7c15ULL;
	N->now = 1000000;
	for (int s = 0; s < NSTACKS; s++)
		mg_tcp_timers_run(&N->st[s], N->now);
}

static int setup(void **state)
{
	start(0, 16, true);
	*state = N;
	return 0;
}

static int teardown(void **state)
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
static void restart(uint64_t proxy_mem, uint32_t max_pairs, bool backend)
{
	teardown(NULL);
	start(proxy_mem, max_pairs, backend);
}


static uint64_t proxy_conns(void)
{
	uint64_t n = 0;

	for (int i = 0; i < MG_TCP_STATE__COUNT; i++)
		n += N->st[SP].st.conns[i];
	return n;
}

static uint32_t want_pairs;

static bool pairs_up(void)
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
static void open_pairs_from(uint32_t first, uint32_t n, struct app **cl, struct app **sv)
{
	for (uint32_t i = 0; i < n; i++) {
		uint32_t k = first + i;

		cl[i] = client_connect(k);
		want_pairs = k + 1;
		assert_true(run_until(pairs_up, 5000000));
		sv[i] = server_app(k);
	}
}

static void open_pairs(uint32_t n, struct app **cl, struct app **sv)
{
	open_pairs_from(0, n, cl, sv);
}

/* Every end wrote all and got the FIN (so all data before it), and the pairs ended. */
static bool all_done(void)
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

static void exchange(struct app *c, struct app *s, uint64_t up, uint64_t down)
{
	c->tx_total = up;
	s->tx_total = down;
	c->shutdown_after_tx = s->shutdown_after_tx = true;
}

static void assert_exact(const struct app *c, const struct app *s, uint64_t up, uint64_t down)
{
	assert_int_equal(s->rx, up);
	assert_int_equal(c->rx, down);
	assert_int_equal(s->rx_bad, 0);
	assert_int_equal(c->rx_bad, 0);
	assert_true(c->peer_fin && s->peer_fin);
}

/* One pair moves @p up and @p down bytes and ends with FINs; the proxy counted them. */
static void exchange_whole(struct app *c, struct app *s, uint64_t up, uint64_t down,
			   uint64_t max_us)
{
	exchange(c, s, up, down);
	assert_true(run_until(all_done, max_us));
	assert_exact(c, s, up, down);
	assert_int_equal(PX(closed_normal), 1);
	assert_int_equal(PX(bytes_up), up);
	assert_int_equal(PX(bytes_down), down);
}

static void assert_no_pairs(void)
{
	assert_int_equal(N->px.st.pairs_active, 0);
	assert_int_equal(proxy_conns(), 0);
}

/* After TIME-WAIT, nothing of the pairs is left in the proxy stack. */
static void assert_proxy_empty(void)
{
	run_for(TIME_WAIT_US + 100000);
	assert_no_pairs();
	assert_int_equal(N->st[SP].st.mem_used, 0);
}

/* ---- cases ---------------------------------------------------------------- */

static void init_rejects_bad_parameters(void **state)
{
	struct mg_proxy px;
	struct mg_proxy_env env = {.resolve = NULL};
	struct mg_proxy_listener_conf l[MG_PROXY_MAX_LISTENERS + 1];
	const struct mg_proxy_env ok = {.resolve = resolve, .ctx = N};

	(void)state;
	memset(l, 0, sizeof(l));
	assert_int_equal(mg_proxy_init(&px, &N->st[SP], l, MG_PROXY_MAX_LISTENERS + 1, 4,
				       SOCKET_ID_ANY, &env), -1);
	assert_int_equal(mg_errno(), MG_ERR_USAGE);
	assert_non_null(strstr(mg_errmsg(), "at most 16"));
	assert_int_equal(mg_proxy_init(&px, &N->st[SP], l, 1, 4, SOCKET_ID_ANY, &env), -1);
	assert_int_equal(mg_errno(), MG_ERR_USAGE);
	assert_non_null(strstr(mg_errmsg(), "bad parameters"));
	/* The fixture's proxy already listens there. */
	l[0] = N->px.listeners[0];
	assert_int_equal(mg_proxy_init(&px, &N->st[SP], l, 1, 4, SOCKET_ID_ANY, &ok), -1);
	assert_int_equal(mg_errno(), MG_ERR_USAGE);
	assert_string_equal(mg_errmsg(), "listener 0: tcp: listen: port 443 already has a listener");
	mg_proxy_free(&px);
	assert_string_equal(mg_proxy_counter_name(MG_PROXY_CTR_mem_waits), "mem_waits");
	assert_string_equal(mg_proxy_counter_name(MG_PROXY_CTR__COUNT), "unknown");
}

/* The source port of the proxy's (one) live upstream connection. */
static uint16_t upstream_sport(void)
{
	const struct mg_tcp_stack *p = &N->st[SP];

	for (uint32_t i = 0; i < p->p.max_conns; i++)
		if (p->conns[i].state != MG_TCP_CLOSED && p->conns[i].key.rip == IP_S)
			return rte_be_to_cpu_16(p->conns[i].key.lport);
	fail_msg("no upstream connection");
	return 0;
}

/* A fresh proxy whose secret starts with @p b: where its first port lies. */
static uint16_t first_sport_with(uint8_t b, struct app **c, struct app **s)
{
	sp_secret0 = b;
	restart(0, 16, true);
	sp_secret0 = 0;
	open_pairs(1, c, s);
	return upstream_sport();
}

/* The source ports to a destination start where the boot's secret says (RFC
 * 6056 algorithm 4), so a restarted gateway does not meet its predecessor's
 * tuples at the upstream, and go on from there one by one. */
static void source_ports_start_from_the_secret(void **state)
{
	uint16_t seen[32], start;
	unsigned distinct = 0;
	struct app *c, *s;

	(void)state;
	for (unsigned i = 0; i < 32; i++) {
		seen[i] = first_sport_with((uint8_t)(i + 1), &c, &s);
		assert_in_range(seen[i], 32768, 60999);
		distinct++;
		for (unsigned j = 0; j < i; j++)
			if (seen[j] == seen[i]) {
				distinct--;
				break;
			}
	}
	assert_true(distinct >= 30); /* 32 draws from 28232 ports */
	start = first_sport_with(5, &c, &s);
	assert_int_equal(start, seen[4]);
	assert_int_equal(PX(source_port_probes), 1);
	exchange_whole(c, s, 1000, 1000, 30000000);
	/* The next connection to the destination takes the next port. */
	open_pairs_from(1, 1, &c, &s);
	assert_int_equal(upstream_sport(), start == 60999 ? 32768 : start + 1);
	assert_int_equal(PX(source_port_probes), 2);
	c->ignore = s->ignore = true;
}

/* TIME-WAIT records, made as a closed connection leaves them (timestamps on),
 * on every source port toward the upstream, then on other tuples up to
 * @p total. */
static void fill_time_wait(uint32_t total)
{
	struct mg_tcp_stack *sp = &N->st[SP];
	struct mg_tcp_conn fake;

	memset(&fake, 0, sizeof(fake));
	fake.flags = TF_TS_OK;
	sp->now = N->now;
	for (uint32_t port = 32768; port <= 60999; port++) {
		fake.key = (struct mg_tcp_key){IP_P1, IP_S, rte_cpu_to_be_16((uint16_t)port),
					       PORT_S};
		if (!tw_lookup(sp, &fake.key) && !mg_tcp_lookup(sp, &fake.key))
			assert_true(tw_add(sp, &fake));
	}
	for (uint32_t i = 0; sp->tw_count < total; i++) {
		fake.key = (struct mg_tcp_key){IP_P1, RTE_BE32(0x0a000000 + i / 60000),
					       rte_cpu_to_be_16((uint16_t)(1024 + i % 60000)),
					       PORT_S};
		assert_true(tw_add(sp, &fake));
	}
}

/*
 * Setting up an upstream connection costs one source-port probe with no
 * TIME-WAIT tuple and with 100 000 of them, every port toward the upstream
 * among them: the next port of the destination is the one used longest ago,
 * and its TIME-WAIT tuple is taken over (RFC 6191) once a second old.
 */
static void source_port_probes_stay_flat_with_100000_time_wait(void **state)
{
	struct app *c, *s;
	uint16_t first;

	(void)state;
	sp_time_wait = 60000000;
	restart(0, 16, true);
	sp_time_wait = 0;
	open_pairs(1, &c, &s);
	assert_int_equal(PX(source_port_probes), 1);
	first = upstream_sport();
	exchange_whole(c, s, 1000, 1000, 30000000);
	fill_time_wait(100000);
	assert_int_equal(N->st[SP].tw_count, 100000);
	run_for(1100000);
	open_pairs_from(1, 1, &c, &s);
	assert_int_equal(PX(source_port_probes), 2);
	assert_int_equal(upstream_sport(), first == 60999 ? 32768 : first + 1);
	assert_int_equal(N->st[SP].st.ctr[MG_TCP_CTR_tw_recycled], 1);
	assert_int_equal(PX(no_source_port), 0);
	c->ignore = s->ignore = true;
}

static bool client_closed_0(void)
{
	return N->apps[0].closed;
}

/* Every port toward the upstream in a TIME-WAIT too young to take over: the
 * client is reset, counted, after a bounded number of probes. */
static void exhausted_source_ports_reset_the_client(void **state)
{
	struct app *c;

	(void)state;
	sp_time_wait = 60000000;
	restart(0, 16, true);
	sp_time_wait = 0;
	fill_time_wait(0);
	c = client_connect(0);
	assert_true(run_until(client_closed_0, 1000000));
	assert_true(c->connected); /* accepted first, then reset */
	assert_int_equal(c->close_reason, MG_TCP_CLOSE_RESET);
	assert_int_equal(PX(accepted), 1);
	assert_int_equal(PX(no_source_port), 1);
	assert_int_equal(PX(source_port_probes), MG_PROXY_PORT_TRIES);
	assert_int_equal(PX(upstream_connects), 0);
	assert_int_equal(N->px.st.pairs_active, 0);
	assert_int_equal(N->st[SP].tw_count, 28232);
}

static void one_mb_each_way_then_fins(void **state)
{
	struct app *c, *s;

	(void)state;
	open_pairs(1, &c, &s);
	assert_int_equal(PX(accepted), 1);
	assert_int_equal(PX(upstream_connects), 1);
	assert_int_equal(PX(upstream_connected), 1);
	assert_int_equal(N->px.st.pairs_active, 1);
	assert_int_equal(proxy_conns(), 2);
	exchange_whole(c, s, MB, MB, 30000000);
	assert_int_equal(PX(closed_client_reset) + PX(closed_upstream_reset), 0);
	assert_proxy_empty();
	assert_int_equal(N->st[SP].st.closes[MG_TCP_CLOSE_NORMAL], 2);
	assert_int_equal(N->st[SP].st.ctr[MG_TCP_CTR_rst_sent], 0);
}

static bool upload_in(void)
{
	struct app *s = server_app(0);

	return s && s->rx == N->apps[0].tx_total && s->peer_fin;
}

static void half_close_keeps_the_other_direction(void **state)
{
	struct app *c, *s;

	(void)state;
	open_pairs(1, &c, &s);
	c->tx_total = 200000;
	c->shutdown_after_tx = true;
	assert_true(run_until(upload_in, 10000000));
	assert_false(c->peer_fin);
	assert_int_equal(mg_tcp_state(c->c), MG_TCP_FIN_WAIT_2);
	assert_int_equal(mg_tcp_state(s->c), MG_TCP_CLOSE_WAIT);
	run_for(100000); /* the half-closed pair stays */
	assert_int_equal(N->px.st.pairs_active, 1);
	s->tx_total = 100 * 1000;
	s->shutdown_after_tx = true;
	assert_true(run_until(all_done, 10000000));
	assert_exact(c, s, 200000, 100000);
	assert_int_equal(PX(closed_normal), 1);
	assert_int_equal(PX(bytes_down), 100000);
	assert_proxy_empty();
}

/*
 * The server half-closes while the client's upload is still being repaired
 * on a lossy wire: the proxy passes the FIN on, and the upload must still
 * arrive whole (issue 5: a FIN-WAIT-1 connection with a hole was seen stuck).
 */
static void server_fin_while_upload_is_repaired(void **state)
{
	struct app *c, *s;

	(void)state;
	open_pairs(1, &c, &s);
	N->loss = 50;
	N->reorder = 30;
	c->tx_total = MB;
	run_for(30000);
	mg_tcp_shutdown(&N->st[SS], s->c);
	c->shutdown_after_tx = true;
	if (!run_until(upload_in, 60000000))
		dump();
	assert_true(upload_in());
	assert_int_equal(s->rx_bad, 0);
}

/* The proxy's end of the client connection, in @p st, with unread bytes. */
static bool client_conn_holds_data_in(enum mg_tcp_state st)
{
	for (uint32_t i = 0; i < N->st[SP].p.max_conns; i++) {
		struct mg_tcp_conn *x = &N->st[SP].conns[i];

		if (x->key.lport == PORT_L && x->state == st && mg_tcp_recv_ready(x) > 0)
			return true;
	}
	return false;
}

/* The server reads again: the upload held back arrives whole, the pair ends. */
static void upload_arrives(struct app *c, struct app *s, uint64_t up)
{
	s->auto_read = true;
	assert_true(run_until(all_done, 10000000));
	assert_exact(c, s, up, 0);
	assert_int_equal(PX(bytes_up), up);
	assert_int_equal(PX(closed_normal), 1);
	assert_proxy_empty();
}

static bool proxy_has_client_fin(void)
{
	return client_conn_holds_data_in(MG_TCP_CLOSE_WAIT);
}

static bool client_conn_in_time_wait(void)
{
	return client_conn_holds_data_in(MG_TCP_TIME_WAIT);
}

/*
 * The client uploads and half-closes while the server does not read; the
 * server then half-closes its side before reading. The client's last bytes
 * still wait in the proxy's receive queue and must reach the server.
 */
static void server_fin_while_upload_waits_in_the_proxy(void **state)
{
	struct app *c, *s;

	(void)state;
	open_pairs(1, &c, &s);
	s->auto_read = false;
	c->tx_total = 180000; /* less than the buffers between: its FIN gets out */
	c->shutdown_after_tx = true;
	assert_true(run_until(proxy_has_client_fin, 10000000));
	s->shutdown_after_tx = true; /* FIN with nothing sent */
	run_for(200000);
	upload_arrives(c, s, 180000);
}

/*
 * The server half-closes first, then the client uploads and half-closes while
 * the server does not read: the proxy's end of the client connection goes
 * FIN-WAIT-2 -> TIME-WAIT still holding the client's last bytes, and they
 * must outlive TIME-WAIT until the server reads them.
 */
static void upload_outlives_time_wait_in_the_proxy(void **state)
{
	struct app *c, *s;

	(void)state;
	open_pairs(1, &c, &s);
	s->auto_read = false;
	s->shutdown_after_tx = true; /* FIN with nothing sent */
	run_for(20000);
	assert_true(c->peer_fin);
	c->tx_total = 180000;
	c->shutdown_after_tx = true;
	assert_true(run_until(client_conn_in_time_wait, 10000000));
	run_for(TIME_WAIT_US + 100000);
	upload_arrives(c, s, 180000);
}

static bool client_got_all(void)
{
	return N->apps[0].rx == N->apps[1].tx_total;
}

static void slow_client_closes_the_server_window(void **state)
{
	const uint64_t total = 4 * MB;
	/*
	 * The proxy may hold a send and a receive buffer per side, in mbufs of
	 * one MSS (1448 payload bytes with timestamps) in a 2176-byte buffer,
	 * plus 16 mbufs for split segments: 2 * 128 KiB * 2176 / 1448 + 34816.
	 */
	const uint64_t bound = 2 * (uint64_t)(BUF + BUF) * RTE_MBUF_DEFAULT_BUF_SIZE / 1448 +
			       16 * RTE_MBUF_DEFAULT_BUF_SIZE;
	struct app *c, *s;

	(void)state;
	open_pairs(1, &c, &s);
	N->mem_bound = bound;
	c->auto_read = false;
	s->tx_total = total;
	run_for(3000000);
	/* What the server could queue: the buffers of the four queues between. */
	assert_true(s->tx <= 4 * BUF + BUF / 2);
	assert_true(mg_tcp_recv_ready(c->c) > 0);
	assert_int_equal(c->rx, 0);
	c->auto_read = true;
	assert_true(run_until(client_got_all, 30000000));
	assert_int_equal(c->rx, total);
	assert_int_equal(c->rx_bad, 0);
	assert_int_equal(PX(bytes_down), total);
	print_message("backpressure: proxy mem_used peak %lu, bound %lu\n", N->mem_peak,
		      N->mem_bound);
}

static void two_pairs_under_a_small_memory_bound(void **state)
{
	const uint64_t n = 512 * 1024;
	struct app *c[2], *s[2];

	(void)state;
	restart(64 * 1024, 16, true);
	open_pairs(2, c, s);
	for (int k = 0; k < 2; k++)
		exchange(c[k], s[k], n, n);
	assert_true(run_until(all_done, 30000000));
	for (int k = 0; k < 2; k++)
		assert_exact(c[k], s[k], n, n);
	assert_int_equal(PX(closed_normal), 2);
	assert_int_equal(PX(bytes_up), 2 * n);
	assert_int_equal(PX(bytes_down), 2 * n);
	assert_true(N->st[SP].st.ctr[MG_TCP_CTR_mem_bound_hits] > 0);
	print_message("small memory: %.1f s simulated, mem_waits %lu, mem_bound_hits %lu, "
		      "peak %lu\n", (double)(N->now - 1000000) / 1e6, PX(mem_waits),
		      N->st[SP].st.ctr[MG_TCP_CTR_mem_bound_hits], N->mem_peak);
	assert_proxy_empty();
}

static bool client_closed(void)
{
	return N->apps[0].closed;
}

/* One pair 50 ms into a megabyte each way. */
static void open_busy_pair(struct app **c, struct app **s)
{
	open_pairs(1, c, s);
	(*s)->tx_total = MB;
	(*c)->tx_total = MB;
	run_for(50000);
}

/* A pair that moves no byte for the listener's idle_timeout is reset both
 * ways (a peer sending only out-of-order data, or holding its window shut,
 * moves nothing); one that keeps moving bytes is not. */
static void idle_pair_is_reset_after_idle_timeout(void **state)
{
	struct app *c[2], *s[2];

	(void)state;
	N->px.listeners[0].idle_timeout_us = 2000000;
	open_pairs(2, c, s);
	c[0]->tx_total = 1000;
	s[0]->tx_total = 1000;
	run_for(1500000);
	assert_int_equal(c[0]->rx + s[0]->rx, 2000);
	/* Pair 1 keeps trickling: 100 bytes every 0.5 s, past the timeout. */
	for (int i = 1; i <= 6; i++) {
		c[1]->tx_total = 100u * i;
		run_for(500000);
	}
	assert_true(c[0]->closed && s[0]->closed);
	assert_int_equal(c[0]->close_reason, MG_TCP_CLOSE_RESET);
	assert_int_equal(s[0]->close_reason, MG_TCP_CLOSE_RESET);
	assert_int_equal(PX(closed_idle), 1);
	assert_false(c[1]->closed || s[1]->closed);
	assert_int_equal(s[1]->rx, 600);
	assert_int_equal(N->px.st.pairs_active, 1);
}

static void server_reset_resets_the_client(void **state)
{
	struct app *c, *s;

	(void)state;
	open_busy_pair(&c, &s);
	assert_true(c->rx > 0 && s->rx > 0);
	mg_tcp_abort(&N->st[SS], s->c);
	s->c = NULL; /* no event follows an abort */
	assert_true(run_until(client_closed, 1000000));
	assert_int_equal(c->close_reason, MG_TCP_CLOSE_RESET);
	assert_int_equal(PX(closed_upstream_reset), 1);
	assert_int_equal(PX(closed_client_reset) + PX(closed_normal), 0);
	assert_no_pairs();
	assert_int_equal(c->rx_bad + s->rx_bad, 0);
}

static bool server_closed(void)
{
	return N->apps[1].closed;
}

static void client_reset_resets_the_server(void **state)
{
	struct app *c, *s;

	(void)state;
	open_busy_pair(&c, &s);
	mg_tcp_abort(&N->st[SC], c->c);
	c->c = NULL;
	assert_true(run_until(server_closed, 1000000));
	assert_int_equal(s->close_reason, MG_TCP_CLOSE_RESET);
	assert_int_equal(PX(closed_client_reset), 1);
	assert_int_equal(PX(closed_upstream_reset) + PX(closed_normal), 0);
	assert_no_pairs();
}

static void refused_upstream_resets_the_client(void **state)
{
	struct app *c;

	(void)state;
	restart(0, 16, false);
	c = client_connect(0);
	assert_true(run_until(client_closed, 1000000));
	assert_true(c->connected); /* accepted first, then reset */
	assert_int_equal(c->close_reason, MG_TCP_CLOSE_RESET);
	assert_int_equal(PX(accepted), 1);
	assert_int_equal(PX(upstream_connects), 1);
	assert_int_equal(PX(upstream_refused), 1);
	assert_int_equal(PX(upstream_connected), 0);
	assert_no_pairs();
	assert_int_equal(N->st[SS].st.drops[MG_TCP_DROP_NO_CONN], 1);
}

static void neighbour_resolved_late_still_connects(void **state)
{
	struct app *c, *s;

	(void)state;
	N->resolve_fails = 3;
	c = client_connect(0);
	c->tx_total = 50000; /* sent while the upstream waits: held, not lost */
	want_pairs = 1;
	assert_true(run_until(pairs_up, 2000000));
	s = server_app(0);
	/* Three misses, each retried MG_PROXY_RETRY_US later. */
	assert_true(N->now - 1000000 >= 3 * MG_PROXY_RETRY_US);
	assert_int_equal(PX(neigh_requests), 3);
	assert_int_equal(N->resolve_calls, 4);
	assert_int_equal(PX(upstream_connects), 1);
	exchange_whole(c, s, 50000, 100000, 10000000);
	assert_int_equal(PX(neigh_unresolved), 0);
}

static void neighbour_never_resolved_resets_the_client(void **state)
{
	struct app *c;

	(void)state;
	N->resolve_fails = UINT32_MAX;
	c = client_connect(0);
	assert_true(run_until(client_closed, 5000000));
	assert_true(c->connected);
	assert_int_equal(c->close_reason, MG_TCP_CLOSE_RESET);
	assert_true(N->now - 1000000 >= MG_PROXY_CONNECT_TRIES * MG_PROXY_RETRY_US);
	assert_int_equal(PX(neigh_requests), MG_PROXY_CONNECT_TRIES + 1);
	assert_int_equal(PX(neigh_unresolved), 1);
	assert_int_equal(PX(upstream_connects), 0);
	assert_no_pairs();
	assert_null(N->px.waiting);
}

static bool third_closed(void)
{
	return N->apps[N->n_apps - 1].closed;
}

static void full_pool_resets_the_third_client(void **state)
{
	struct app *c[2], *s[2], *third;

	(void)state;
	restart(0, 2, true);
	open_pairs(2, c, s);
	third = client_connect(2);
	assert_true(run_until(third_closed, 1000000));
	assert_int_equal(third->close_reason, MG_TCP_CLOSE_RESET);
	assert_int_equal(PX(pool_full), 1);
	assert_int_equal(PX(accepted), 2);
	assert_int_equal(N->n_srv, 2);
	third->ignore = true;
	for (int k = 0; k < 2; k++)
		exchange(c[k], s[k], 100000, 100000);
	assert_true(run_until(all_done, 10000000));
	for (int k = 0; k < 2; k++)
		assert_exact(c[k], s[k], 100000, 100000);
	assert_int_equal(PX(closed_normal), 2);
	assert_int_equal(N->px.st.pairs_active, 0);
	/* The pairs went back to the pool: a new client is served. */
	open_pairs_from(2, 1, c, s);
	exchange(c[0], s[0], 10000, 10000);
	assert_true(run_until(all_done, 10000000));
	assert_exact(c[0], s[0], 10000, 10000);
	assert_int_equal(PX(accepted), 3);
	assert_int_equal(PX(pool_full), 1);
}

static void one_mb_each_way_under_loss_and_reordering(void **state)
{
	struct app *c, *s;

	(void)state;
	N->loss = 30;
	N->reorder = 30;
	open_pairs(1, &c, &s);
	exchange_whole(c, s, MB, MB, 300000000);
	assert_true(N->lost > 0);
	assert_true(N->st[SP].st.ctr[MG_TCP_CTR_retransmits] > 0);
	assert_true(N->st[SP].st.ctr[MG_TCP_CTR_ooo_segs] > 0);
	print_message("lossy: %.1f s simulated, %lu frames, %lu lost\n",
		      (double)(N->now - 1000000) / 1e6, N->sent, N->lost);
	assert_proxy_empty();
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(init_rejects_bad_parameters),
		T(source_ports_start_from_the_secret),
		T(source_port_probes_stay_flat_with_100000_time_wait),
		T(exhausted_source_ports_reset_the_client),
		T(one_mb_each_way_then_fins),
		T(server_fin_while_upload_is_repaired),
		T(half_close_keeps_the_other_direction),
		T(server_fin_while_upload_waits_in_the_proxy),
		T(upload_outlives_time_wait_in_the_proxy),
		T(slow_client_closes_the_server_window),
		T(two_pairs_under_a_small_memory_bound),
		T(server_reset_resets_the_client),
		T(client_reset_resets_the_server),
		T(refused_upstream_resets_the_client),
		T(idle_pair_is_reset_after_idle_timeout),
		T(neighbour_resolved_late_still_connects),
		T(neighbour_never_resolved_resets_the_client),
		T(full_pool_resets_the_third_client),
		T(one_mb_each_way_under_loss_and_reordering),
#undef T
	};
	int rc;

	(void)argc;
	pool = wire_eal_pool(argv[0], "mgtest-proxy", "proxy_test", 16383);
	if (!pool)
		return 1;
	pool_full = rte_mempool_avail_count(pool);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	rte_mempool_free(pool);
	rte_eal_cleanup();
	return rc;
}
