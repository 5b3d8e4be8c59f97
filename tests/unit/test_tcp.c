/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The TCP stack, two instances back to back: a client stack and a server
 * stack joined by an in-test wire that loses, duplicates, reorders and
 * corrupts frames from a seeded generator, under a fake clock. Every case
 * ends by tearing both stacks down and checking that every mbuf went back to
 * the pool, so a leak anywhere in the stack fails the case.
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

static uint32_t rnd(struct net *n)
{
	return wire_rnd(&n->rng);
}

static struct rte_mbuf *linearize(struct rte_mbuf *m)
{
	struct rte_mbuf *l = wire_linearize(pool, m);

	assert_non_null(l);
	return l;
}

static void wire_put(struct net *n, int to, struct rte_mbuf *m, uint64_t delay)
{
	assert_true(n->n_fl < MAX_INFLIGHT);
	n->fl[n->n_fl].at = n->now + n->latency + delay;
	n->fl[n->n_fl].to = to;
	n->fl[n->n_fl].m = m;
	n->n_fl++;
}

static void wire_send(struct net *n, int from, struct rte_mbuf *m)
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
static bool parse(struct rte_mbuf *m, struct mg_pkt *pkt)
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

static void deliver(struct net *n, int to, struct rte_mbuf *m)
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

static void collect(struct net *n)
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

static void step(struct net *n)
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
static bool run_until(struct net *n, bool (*done)(void), uint64_t max_us)
{
	uint64_t end = n->now + max_us;

	while (n->now < end) {
		step(n);
		if (done && done())
			return true;
	}
	return done ? done() : true;
}

static void run_for(struct net *n, uint64_t us)
{
	run_until(n, NULL, us);
}

/* ---- the applications ----------------------------------------------------- */

static struct app *app_new(struct mg_tcp_stack *st)
{
	struct app *a;

	assert_true(n_apps < RTE_DIM(apps));
	a = &apps[n_apps++];
	app_init(a, st, 0, 0);
	return a;
}

static struct app *last_accepted;

/* The stack that holds @p c. */
static struct mg_tcp_stack *stack_of(const struct mg_tcp_conn *c)
{
	const struct mg_tcp_stack *s0 = &N->st[0];

	return (c >= s0->conns && c < s0->conns + s0->p.max_conns) ? &N->st[0] : &N->st[1];
}

static void *on_accept(void *lu, struct mg_tcp_conn *c)
{
	struct app *a = app_new(stack_of(c));

	(void)lu;
	a->c = c;
	last_accepted = a;
	return a;
}

static const struct mg_tcp_ops ops = {.accept = on_accept, .event = app_event};

/* ---- fixtures ------------------------------------------------------------ */

static void params(struct mg_tcp_params *p, int side)
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

static int setup_with(void **state, struct mg_tcp_params *pa, struct mg_tcp_params *pb)
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

static void params_both(struct mg_tcp_params *pa, struct mg_tcp_params *pb)
{
	params(pa, 0);
	params(pb, 1);
}

static int setup(void **state)
{
	struct mg_tcp_params pa, pb;

	params_both(&pa, &pb);
	return setup_with(state, &pa, &pb);
}

static int teardown(void **state)
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
static void restart(void **state, struct mg_tcp_params *pa, struct mg_tcp_params *pb)
{
	teardown(state);
	setup_with(state, pa, pb);
}

static struct app *client_connect(uint16_t sport)
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

static bool both_up(void)
{
	return n_apps >= 2 && apps[0].connected && last_accepted;
}

/* Listener on b, one connection from a, both ESTABLISHED. */
static struct app *open_pair(uint32_t backlog)
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

/* ---- cases ---------------------------------------------------------------- */

static void siphash_matches_reference_vector(void **state)
{
	uint8_t key[16], msg[15];

	(void)state;
	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 15; i++)
		msg[i] = (uint8_t)i;
	/* SipHash-2-4 paper, appendix A: key 00..0f, message 00..0e. */
	assert_true(isn_siphash(key, msg, 15) == 0xa129ca6149be45e5ULL);
	assert_true(isn_siphash(key, msg, 0) == 0x726fdb47dd0e0e31ULL);
}

static void init_rejects_bad_params(void **state)
{
	struct mg_tcp_params p;
	struct mg_tcp_stack s;

	(void)state;
	params(&p, 0);
	p.name = "tcpbad";
	p.tx_ring_size = 100;
	assert_int_equal(mg_tcp_stack_init(&s, &p), -1);
	assert_int_equal(mg_errno(), MG_ERR_USAGE);
	assert_non_null(strstr(mg_errmsg(), "tx_ring_size"));
	params(&p, 0);
	p.pool = NULL;
	assert_int_equal(mg_tcp_stack_init(&s, &p), -1);
	assert_int_equal(mg_errno(), MG_ERR_USAGE);
	assert_non_null(strstr(mg_errmsg(), "pool"));
}

static void handshake_negotiates_options(void **state)
{
	struct app *cl;
	struct mg_tcp_conn *c, *sc;

	(void)state;
	cl = open_pair(16);
	c = cl->c;
	sc = last_accepted->c;
	assert_true(c->flags & TF_TS_OK);
	assert_true(c->flags & TF_SACK_OK);
	assert_true(c->flags & TF_WS_OK);
	assert_int_equal(c->mss, 1460);
	assert_int_equal(c->snd_wscale, sc->rcv_wscale);
	assert_int_equal(c->snd_una, sc->irs + 1);
	assert_int_equal(sc->snd_una, c->irs + 1);
	assert_int_equal(N->st[0].st.conns[MG_TCP_ESTABLISHED], 1);
	assert_int_equal(CTR_OF(1, passive_opens), 1);
	assert_int_equal(CTR_OF(0, active_opens), 1);
	assert_true(c->srtt > 0); /* the SYN was timed */
}

static bool server_got_all(void)
{
	return last_accepted && last_accepted->rx == apps[0].tx_total;
}

static void transfer_1mb_in_order(void **state)
{
	struct app *cl;

	(void)state;
	cl = open_pair(16);
	cl->tx_total = 1 << 20;
	assert_true(run_until(N, server_got_all, 30000000));
	assert_int_equal(last_accepted->rx_bad, 0);
	assert_int_equal(CTR_OF(0, retransmits), 0);
	assert_int_equal(CTR_OF(1, bytes_in), 1 << 20);
}

/* A chain of @p n bytes of the stream from @p from, in odd-sized mbufs. */
static struct rte_mbuf *odd_chain(uint64_t from, uint32_t n)
{
	static const uint16_t sizes[] = {205, 1447, 3, 999, 1, 1201};
	struct rte_mbuf *head = NULL, *tail = NULL;

	for (uint32_t done = 0, k = 0; done < n; k++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
		uint16_t len = (uint16_t)RTE_MIN((uint32_t)sizes[k % RTE_DIM(sizes)], n - done);
		uint8_t *p;

		assert_non_null(m);
		p = (uint8_t *)rte_pktmbuf_append(m, len);
		for (uint16_t i = 0; i < len; i++)
			p[i] = stream_byte(0, from + done + i);
		if (tail)
			tail->next = m;
		else
			head = m;
		tail = m;
		head->nb_segs = (uint16_t)(k + 1);
		done += len;
		head->pkt_len = done;
	}
	return head;
}

/* Segments cut across odd-length send-queue mbufs carry right checksums
 * (DPDK 22.11's rte_raw_cksum_mbuf loses carries at odd offsets). */
static void odd_mbuf_boundaries_keep_checksums_right(void **state)
{
	struct app *cl;
	uint64_t sent = 0;

	(void)state;
	cl = open_pair(16);
	while (sent < 200000) {
		struct rte_mbuf *m = odd_chain(sent, 20000);
		int64_t r = mg_tcp_send(&N->st[0], cl->c, &m);

		assert_true(r > 0);
		sent += (uint64_t)r;
		rte_pktmbuf_free(m);
		run_for(N, 2000);
	}
	cl->tx = cl->tx_total = sent;
	assert_true(run_until(N, server_got_all, 10000000));
	assert_int_equal(last_accepted->rx_bad, 0);
	assert_int_equal(N->bad_csum, 0);
	assert_int_equal(CTR_OF(0, retransmits), 0);
}

/* Queue exactly what the send buffer takes: never refused, so never armed. */
static void fill_send_buffer(struct app *a)
{
	uint8_t buf[4096] = {0};
	uint32_t room;

	while ((room = mg_tcp_send_space(a->st, a->c)) > 0)
		assert_true(mg_tcp_send_copy(a->st, a->c, buf,
					     RTE_MIN(room, (uint32_t)sizeof(buf))) > 0);
	assert_int_equal(mg_tcp_send_room(a->c), 0);
}

/* Fill until the peer's window is closed too: then the buffer stays full. */
static void fill_until_stuck(struct app *a)
{
	for (int i = 0; i < 20; i++) {
		fill_send_buffer(a);
		run_for(N, 200000);
		if (mg_tcp_send_room(a->c) == 0)
			return;
	}
	fail_msg("the send buffer never stayed full");
}

static bool server_read_all(void)
{
	app_read(last_accepted);
	return mg_tcp_send_room(apps[0].c) == apps[0].c->sndbuf;
}

/* WRITABLE comes after mg_tcp_want_writable() once half the buffer is free,
 * and not for a sender that was never refused and did not ask. */
static void want_writable_reports_once_half_free(void **state)
{
	struct app *cl;

	(void)state;
	cl = open_pair(16);
	assert_true(mg_tcp_want_writable(cl->c)); /* empty: room now, no event */
	last_accepted->auto_read = false;
	fill_until_stuck(cl);
	cl->events = 0;
	assert_true(run_until(N, server_read_all, 5000000));
	assert_false(cl->events & MG_TCP_EV_WRITABLE);

	fill_until_stuck(cl);
	assert_false(mg_tcp_want_writable(cl->c));
	cl->events = 0;
	assert_true(run_until(N, server_read_all, 5000000));
	assert_true(cl->events & MG_TCP_EV_WRITABLE);
}

static void transfer_under_loss_reorder_dup_corrupt(void **state)
{
	struct app *cl;

	(void)state;
	cl = open_pair(16);
	N->loss = 50;
	N->reorder = 50;
	N->dup = 50;
	N->corrupt = 10;
	cl->tx_total = 1 << 20;
	assert_true(run_until(N, server_got_all, 300000000));
	assert_int_equal(last_accepted->rx_bad, 0);
	assert_true(N->lost > 0 && N->duped > 0 && N->bad_csum > 0);
	assert_true(CTR_OF(0, retransmits) > 0);
	assert_true(CTR_OF(1, ooo_segs) > 0);
	assert_true(CTR_OF(1, dup_bytes) > 0);
	print_message("lossy 1 MB: %.1f s simulated, sent %lu lost %lu dup %lu bad %lu, "
		      "rexmit %lu rto %lu fast %lu sack %lu\n",
		      (double)N->now / 1e6, N->sent, N->lost, N->duped, N->bad_csum,
		      CTR_OF(0, retransmits), CTR_OF(0, rto_fires), CTR_OF(0, fast_retransmits),
		      CTR_OF(0, sack_rexmits));
}

static bool all_closed(void)
{
	for (unsigned i = 0; i < n_apps; i++)
		if (!apps[i].closed)
			return false;
	return true;
}

static void fin_both_ways_then_time_wait(void **state)
{
	struct app *cl, *sv;

	(void)state;
	cl = open_pair(16);
	sv = last_accepted;
	mg_tcp_shutdown(&N->st[0], cl->c);
	assert_int_equal(mg_tcp_state(cl->c), MG_TCP_FIN_WAIT_1);
	run_for(N, 10000);
	assert_true(sv->peer_fin);
	assert_int_equal(mg_tcp_state(sv->c), MG_TCP_CLOSE_WAIT);
	assert_int_equal(mg_tcp_state(cl->c), MG_TCP_FIN_WAIT_2);
	mg_tcp_shutdown(&N->st[1], sv->c);
	assert_int_equal(mg_tcp_state(sv->c), MG_TCP_LAST_ACK);
	run_for(N, 10000);
	assert_true(sv->closed);
	assert_int_equal(sv->close_reason, MG_TCP_CLOSE_NORMAL);
	assert_int_equal(mg_tcp_state(cl->c), MG_TCP_TIME_WAIT);
	assert_true(cl->peer_fin);
	assert_false(cl->closed);
	assert_true(run_until(N, all_closed, 5000000)); /* 2 MSL later */
	assert_int_equal(cl->close_reason, MG_TCP_CLOSE_NORMAL);
	assert_int_equal(N->st[0].st.closes[MG_TCP_CLOSE_NORMAL], 1);
	assert_int_equal(N->st[1].st.conns[MG_TCP_ESTABLISHED], 0);
}

/* Advance the simulation to absolute time @p t (µs). */
static void run_to(struct net *n, uint64_t t)
{
	assert_true(t >= n->now);
	run_for(n, t - n->now);
}

static struct app *tw_app;

static bool tw_app_in_time_wait(void)
{
	return mg_tcp_state(tw_app->c) == MG_TCP_TIME_WAIT;
}

/*
 * MUST-13: TIME-WAIT lasts its setting (2 s in these fixtures), timed from the
 * step the connection entered it: still there 10 ms before the end, gone 10 ms
 * after. The timer wheel's 1 ms tick is the only slack; a TIME-WAIT of 1.98 s
 * or 2.02 s fails.
 */
static void time_wait_lasts_its_setting(void **state)
{
	struct mg_tcp_params p;
	struct app *cl, *sv;
	uint64_t entered, tw = 2000000;

	(void)state;
	mg_tcp_params_default(&p);
	assert_int_equal(p.time_wait, 60000000); /* the default: 2 MSL, MSL = 30 s */
	cl = open_pair(16);
	sv = last_accepted;
	mg_tcp_shutdown(&N->st[0], cl->c);
	run_for(N, 10000);
	assert_int_equal(mg_tcp_state(cl->c), MG_TCP_FIN_WAIT_2);
	mg_tcp_shutdown(&N->st[1], sv->c);
	tw_app = cl;
	assert_true(run_until(N, tw_app_in_time_wait, 1000000));
	entered = N->now - TICK; /* step() advances the clock after its work */
	run_to(N, entered + tw - 10000);
	assert_int_equal(mg_tcp_state(cl->c), MG_TCP_TIME_WAIT);
	assert_false(cl->closed);
	assert_int_equal(N->st[0].st.conns[MG_TCP_TIME_WAIT], 1);
	run_to(N, entered + tw + 10000);
	assert_true(cl->closed);
	assert_int_equal(cl->close_reason, MG_TCP_CLOSE_NORMAL);
	assert_int_equal(N->st[0].st.conns[MG_TCP_TIME_WAIT], 0);
}

static bool client_got_all(void)
{
	return apps[0].rx == last_accepted->tx_total;
}

static void half_close_keeps_the_other_direction(void **state)
{
	struct app *cl, *sv;

	(void)state;
	cl = open_pair(16);
	sv = last_accepted;
	mg_tcp_shutdown(&N->st[0], cl->c);
	run_for(N, 10000);
	assert_true(sv->peer_fin);
	sv->tx_total = 200000;
	sv->shutdown_after_tx = true;
	assert_true(run_until(N, client_got_all, 20000000));
	assert_int_equal(cl->rx_bad, 0);
	run_for(N, 100000);
	assert_true(cl->peer_fin);
	assert_true(sv->closed);
	assert_int_equal(mg_tcp_state(cl->c), MG_TCP_TIME_WAIT);
}

static void simultaneous_open(void **state)
{
	struct app *a = app_new(&N->st[0]), *b = app_new(&N->st[1]);
	struct mg_tcp_connect_args ca = {
		.port = 0, .src_ip = IP_A, .dst_ip = IP_B,
		.src_port = RTE_BE16(1000), .dst_port = RTE_BE16(2000),
		.ops = &ops, .user = a,
	};
	struct mg_tcp_connect_args cb = {
		.port = 0, .src_ip = IP_B, .dst_ip = IP_A,
		.src_port = RTE_BE16(2000), .dst_port = RTE_BE16(1000),
		.ops = &ops, .user = b,
	};

	(void)state;
	memcpy(ca.next_hop_mac, MAC_B, 6);
	memcpy(cb.next_hop_mac, MAC_A, 6);
	assert_int_equal(mg_tcp_connect(&N->st[0], &ca, &a->c), 0);
	assert_int_equal(mg_tcp_connect(&N->st[1], &cb, &b->c), 0);
	run_for(N, 20000);
	assert_true(a->connected && b->connected);
	assert_int_equal(mg_tcp_state(a->c), MG_TCP_ESTABLISHED);
	assert_int_equal(mg_tcp_state(b->c), MG_TCP_ESTABLISHED);
	a->tx_total = 5000;
	b->tx_total = 7000;
	run_for(N, 20000);
	assert_int_equal(a->rx, 7000);
	assert_int_equal(b->rx, 5000);
}

static void simultaneous_close(void **state)
{
	struct app *cl, *sv;

	(void)state;
	cl = open_pair(16);
	sv = last_accepted;
	mg_tcp_shutdown(&N->st[0], cl->c);
	mg_tcp_shutdown(&N->st[1], sv->c);
	assert_int_equal(mg_tcp_state(cl->c), MG_TCP_FIN_WAIT_1);
	assert_int_equal(mg_tcp_state(sv->c), MG_TCP_FIN_WAIT_1);
	run_for(N, 700); /* FINs cross on the wire */
	assert_int_equal(mg_tcp_state(cl->c), MG_TCP_CLOSING);
	assert_int_equal(mg_tcp_state(sv->c), MG_TCP_CLOSING);
	run_for(N, 10000);
	assert_int_equal(mg_tcp_state(cl->c), MG_TCP_TIME_WAIT);
	assert_int_equal(mg_tcp_state(sv->c), MG_TCP_TIME_WAIT);
	assert_true(run_until(N, all_closed, 5000000));
}

static uint32_t inject_base;
static bool inject_burst;

/* Inject a segment into stack @p to as if from the peer of @p c. */
static void inject(int to, const struct mg_tcp_conn *c, uint32_t seq, uint32_t ack,
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

/* What inject() needs to forge a segment from a's port 5555 to b's @p lport,
 * for a connection that b does not hold. */
static void fake_peer(struct mg_tcp_conn *fake, uint16_t lport)
{
	memset(fake, 0, sizeof(*fake));
	fake->key.lip = IP_B;
	fake->key.rip = IP_A;
	fake->key.lport = lport;
	fake->key.rport = RTE_BE16(5555);
	memcpy(fake->our_mac, MAC_B, 6);
	memcpy(fake->peer_mac, MAC_A, 6);
}

/* A timestamp option the server's connection accepts (TSval = TS.Recent). */
static uint8_t ts_opt(const struct mg_tcp_conn *c, uint8_t *o)
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

static unsigned tx_pending(int side)
{
	return N->st[side].tx_head - N->st[side].tx_tail;
}

static void rst_at_rcv_nxt_resets(void **state)
{
	struct app *sv;
	struct mg_tcp_conn *c;

	(void)state;
	open_pair(16);
	sv = last_accepted;
	c = sv->c;
	inject(1, c, c->rcv_nxt, 0, TH_RST, NULL, 0, 0);
	assert_true(sv->closed);
	assert_int_equal(sv->close_reason, MG_TCP_CLOSE_RESET);
	assert_int_equal(CTR_OF(1, rst_recv), 1);
	assert_int_equal(N->st[1].st.closes[MG_TCP_CLOSE_RESET], 1);
}

static void rst_out_of_window_is_ignored(void **state)
{
	struct app *sv;
	struct mg_tcp_conn *c;

	(void)state;
	open_pair(16);
	sv = last_accepted;
	c = sv->c;
	inject(1, c, c->rcv_nxt + 10 * 1024 * 1024, 0, TH_RST, NULL, 0, 0);
	inject(1, c, c->rcv_nxt - 1, 0, TH_RST, NULL, 0, 0);
	assert_false(sv->closed);
	assert_int_equal(mg_tcp_state(c), MG_TCP_ESTABLISHED);
	assert_int_equal(DROP_OF(1, NOT_ACCEPTABLE), 2);
	assert_int_equal(tx_pending(1), 0); /* no answer to an RST */
}

static void rst_in_window_not_exact_gets_challenge_ack(void **state)
{
	struct app *sv;
	struct mg_tcp_conn *c;

	(void)state;
	open_pair(16);
	sv = last_accepted;
	c = sv->c;
	inject(1, c, c->rcv_nxt + 100, 0, TH_RST, NULL, 0, 0);
	assert_false(sv->closed);
	assert_int_equal(CTR_OF(1, challenge_acks), 1);
	assert_int_equal(DROP_OF(1, RST_NOT_EXACT), 1);
	assert_int_equal(tx_pending(1), 1);
	run_for(N, 5000); /* the peer takes the challenge ACK in stride */
	assert_int_equal(mg_tcp_state(apps[0].c), MG_TCP_ESTABLISHED);
}

static void syn_in_synchronized_state_gets_challenge_ack(void **state)
{
	struct app *sv;
	struct mg_tcp_conn *c;
	uint8_t o[12];

	(void)state;
	open_pair(16);
	sv = last_accepted;
	c = sv->c;
	inject(1, c, c->rcv_nxt + 5, 0, TH_SYN, o, ts_opt(c, o), 0);
	assert_false(sv->closed);
	assert_int_equal(CTR_OF(1, challenge_acks), 1);
	assert_int_equal(DROP_OF(1, SYN_IN_WINDOW), 1);
	assert_int_equal(mg_tcp_state(c), MG_TCP_ESTABLISHED);
}

static void challenge_acks_are_rate_limited(void **state)
{
	struct mg_tcp_conn *c;

	(void)state;
	open_pair(16);
	c = last_accepted->c;
	for (int i = 0; i < 1100; i++)
		inject(1, c, c->rcv_nxt + 100, 0, TH_RST, NULL, 0, 0);
	/* One per connection per challenge_ack_gap (test_tcp_guard.c has the rest). */
	assert_int_equal(CTR_OF(1, challenge_acks), 1);
	assert_int_equal(CTR_OF(1, challenge_acks_conn_limited), 1099);
	assert_int_equal(CTR_OF(1, challenge_acks_global_limited), 0);
}

static void out_of_window_data_gets_ack(void **state)
{
	struct mg_tcp_conn *c;
	uint8_t o[12];

	(void)state;
	open_pair(16);
	c = last_accepted->c;
	inject(1, c, c->rcv_nxt + 1000000, c->snd_nxt, TH_ACK, o, ts_opt(c, o), 100);
	assert_int_equal(DROP_OF(1, NOT_ACCEPTABLE), 1);
	assert_int_equal(tx_pending(1), 1);
	assert_int_equal(last_accepted->rx, 0);
	/* An ACK for data never sent is answered with an ACK too. */
	inject(1, c, c->rcv_nxt, c->snd_nxt + 5000, TH_ACK, o, ts_opt(c, o), 0);
	assert_int_equal(DROP_OF(1, ACK_UNSENT), 1);
}

static void paws_drops_old_timestamps(void **state)
{
	struct mg_tcp_conn *c;
	uint8_t o[12];
	uint32_t old;

	(void)state;
	open_pair(16);
	c = last_accepted->c;
	ts_opt(c, o);
	old = rte_cpu_to_be_32(c->ts_recent - 1000);
	memcpy(o + 4, &old, 4);
	inject(1, c, c->rcv_nxt, c->snd_nxt, TH_ACK, o, 12, 100);
	assert_int_equal(DROP_OF(1, PAWS), 1);
	assert_int_equal(last_accepted->rx, 0);
	/* No timestamp at all on a timestamped connection: dropped too. */
	inject(1, c, c->rcv_nxt, c->snd_nxt, TH_ACK, NULL, 0, 100);
	assert_int_equal(DROP_OF(1, NO_TIMESTAMP), 1);
}

static void bad_option_lengths_are_dropped(void **state)
{
	struct mg_tcp_conn *c;
	uint8_t zero_len[4] = {8, 0, 1, 1};  /* kind 8, length 0 */
	uint8_t past_end[4] = {1, 1, 5, 12}; /* SACK running past the header */
	uint8_t mss_len[4] = {2, 3, 0, 0};   /* MSS with length 3 */

	(void)state;
	open_pair(16);
	c = last_accepted->c;
	inject(1, c, c->rcv_nxt, c->snd_nxt, TH_ACK, zero_len, 4, 10);
	inject(1, c, c->rcv_nxt, c->snd_nxt, TH_ACK, past_end, 4, 10);
	inject(1, c, c->rcv_nxt, c->snd_nxt, TH_ACK | TH_SYN, mss_len, 4, 0);
	assert_int_equal(DROP_OF(1, BAD_OPTIONS), 3);
	assert_int_equal(mg_tcp_state(c), MG_TCP_ESTABLISHED);
	assert_int_equal(last_accepted->rx, 0);
}

static void segment_to_closed_port_gets_rst(void **state)
{
	struct mg_tcp_conn fake;

	(void)state;
	fake_peer(&fake, RTE_BE16(9));
	inject(1, &fake, 1000, 0, TH_SYN, NULL, 0, 0);
	assert_int_equal(DROP_OF(1, NO_CONN), 1);
	assert_int_equal(CTR_OF(1, rst_sent), 1);
	inject(1, &fake, 1000, 0, TH_RST, NULL, 0, 0); /* never answer an RST */
	assert_int_equal(CTR_OF(1, rst_sent), 1);
}

static bool zero_window_seen(void)
{
	return CTR_OF(0, persist_probes) >= 3;
}

/* The server stops reading while the client sends @p bytes: its window closes. */
static void close_the_window(struct app *cl, struct app *sv, uint64_t bytes)
{
	sv->auto_read = false;
	cl->tx_total = bytes;
	assert_true(run_until(N, zero_window_seen, 60000000));
}

static bool probe_captured(void)
{
	for (unsigned i = 0; i < N->n_captured; i++)
		if (rte_pktmbuf_mtod_offset(N->captured[i], struct rte_ipv4_hdr *, 14)->src_addr ==
		    IP_A)
			return true;
	return false;
}

/*
 * Hold the wire until the client sends, and check that what it sends while
 * the window is zero is a probe (RFC 9293 3.8.6.1, MUST-35/36): one byte of
 * new data at SND.UNA. Then let the held frames go on.
 */
static void assert_next_is_a_probe(struct app *cl)
{
	uint32_t una = cl->c->snd_una;
	unsigned n;

	N->hold = true;
	N->n_captured = 0;
	assert_true(run_until(N, probe_captured, 130000000));
	N->hold = false;
	n = N->n_captured;
	N->n_captured = 0;
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = N->captured[i];
		const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
		const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(f + 14);
		const struct rte_tcp_hdr *th = (const struct rte_tcp_hdr *)(ip + 1);
		struct mg_pkt pkt;
		int to = ip->src_addr == IP_A ? 1 : 0;

		wire_pkt(&pkt, f, 20);
		if (!to) {
			wire_put(N, to, m, 0);
			continue;
		}
		assert_int_equal(cl->c->snd_wnd, 0);
		assert_int_equal(rte_be_to_cpu_32(th->sent_seq), una);
		assert_int_equal(pkt.data_len, 1);
		assert_int_equal(th->tcp_flags & (TH_SYN | TH_FIN | TH_RST), 0);
		wire_put(N, to, m, 0);
	}
}

static void zero_window_persists_then_resumes(void **state)
{
	struct app *cl, *sv;
	uint64_t probes;

	(void)state;
	cl = open_pair(16);
	sv = last_accepted;
	close_the_window(cl, sv, 300000);
	assert_int_equal(sv->c->rcvq_bytes, sv->c->rcvbuf);
	assert_int_equal(sv->c->rcv_adv, sv->c->rcv_nxt); /* window zero */
	assert_int_equal(cl->c->snd_wnd, 0);
	probes = CTR_OF(0, persist_probes);
	assert_next_is_a_probe(cl);
	assert_int_equal(CTR_OF(0, persist_probes), probes + 1);
	/* The probe's byte found no room: the window is still zero. */
	run_for(N, 10000);
	assert_int_equal(cl->c->snd_wnd, 0);
	assert_int_equal(sv->c->rcvq_bytes, sv->c->rcvbuf);
	sv->auto_read = true;
	app_read(sv);
	assert_true(run_until(N, server_got_all, 60000000));
	assert_int_equal(sv->rx_bad, 0);
}

/* The L4 proxy reads in pieces smaller than the update threshold; together
 * they must still reopen the window at once (regression: the update was only
 * sent when one call alone grew the window by min(rcvbuf/2, 2 MSS)). */
static void small_reads_reopen_a_zero_window(void **state)
{
	struct app *cl, *sv;
	struct rte_mbuf *m;
	uint32_t got = 0, n;

	(void)state;
	cl = open_pair(16);
	sv = last_accepted;
	close_the_window(cl, sv, 300000);
	assert_int_equal(sv->c->rcv_adv, sv->c->rcv_nxt); /* window zero */
	while (got < sv->c->rcvbuf / 2 + 4u * sv->c->mss) {
		n = mg_tcp_recv(&N->st[1], sv->c, 300, &m);
		assert_true(n > 0 && n <= 300);
		rte_pktmbuf_free(m);
		got += n;
	}
	/* No clock advanced: the update went out from the reads themselves. */
	assert_true(SEQ_GT(sv->c->rcv_adv, sv->c->rcv_nxt));
}

static void syn_cookies_when_backlog_is_zero(void **state)
{
	struct app *cl;

	(void)state;
	cl = open_pair(0);
	assert_int_equal(CTR_OF(1, syncookies_sent), 1);
	assert_int_equal(CTR_OF(1, syncookies_validated), 1);
	assert_true(last_accepted->c->flags & TF_WS_OK);
	assert_true(last_accepted->c->flags & TF_SACK_OK);
	assert_true(last_accepted->c->flags & TF_TS_OK);
	cl->tx_total = 300000;
	last_accepted->tx_total = 100000;
	assert_true(run_until(N, server_got_all, 30000000));
	assert_true(run_until(N, client_got_all, 30000000));
	assert_int_equal(last_accepted->rx_bad + cl->rx_bad, 0);
}

static void forged_cookie_ack_gets_rst(void **state)
{
	struct mg_tcp_conn fake;

	(void)state;
	assert_true(mg_tcp_listen(&N->st[1], 0, PORT_SRV, 0, &ops, NULL) >= 0);
	fake_peer(&fake, PORT_SRV);
	/* Cookies are tried only after an overflow (test_tcp_guard.c): make one. */
	inject(1, &fake, 1000, 0, TH_SYN, NULL, 0, 0);
	assert_int_equal(CTR_OF(1, syncookies_sent), 1);
	inject(1, &fake, 1001, 0x12345678, TH_ACK, NULL, 0, 0);
	assert_int_equal(CTR_OF(1, syncookies_failed), 1);
	assert_int_equal(CTR_OF(1, rst_sent), 1);
	assert_int_equal(N->st[1].st.conns[MG_TCP_ESTABLISHED], 0);
}

static void time_wait_is_reused_by_a_newer_syn(void **state)
{
	struct app *cl, *sv, *cl2;

	(void)state;
	cl = open_pair(16);
	sv = last_accepted;
	cl->tx_total = 1000;
	run_for(N, 10000);
	mg_tcp_close(&N->st[1], sv->c); /* the server closes first: it holds TIME-WAIT */
	run_for(N, 10000);
	assert_true(cl->peer_fin);
	mg_tcp_close(&N->st[0], cl->c);
	run_for(N, 10000);
	assert_int_equal(N->st[1].st.conns[MG_TCP_TIME_WAIT], 1);
	assert_int_equal(N->st[0].st.conns[MG_TCP_LAST_ACK] + N->st[0].st.conns[MG_TCP_ESTABLISHED], 0);
	N->now += 1000000;
	last_accepted = NULL;
	cl2 = client_connect(40000); /* the same four-tuple */
	assert_true(run_until(N, both_up, 5000000));
	(void)cl2;
	assert_int_equal(CTR_OF(1, tw_recycled), 1);
	assert_int_equal(N->st[1].st.closes[MG_TCP_CLOSE_TW_RECYCLED], 1);
	assert_int_equal(mg_tcp_state(last_accepted->c), MG_TCP_ESTABLISHED);
}

static void memory_bound_is_counted(void **state)
{
	struct mg_tcp_params pa, pb;
	struct app *cl, *sv;

	params_both(&pa, &pb);
	pb.mem_max = 16 * 2176; /* sixteen buffers for the whole server stack */
	restart(state, &pa, &pb);
	cl = open_pair(16);
	sv = last_accepted;
	sv->auto_read = false;
	cl->tx_total = 200000;
	run_for(N, 2000000);
	assert_true(CTR_OF(1, mem_bound_hits) > 0);
	assert_true(N->st[1].st.mem_used <= pb.mem_max);
	sv->auto_read = true;
	app_read(sv);
	assert_true(run_until(N, server_got_all, 120000000));
	assert_int_equal(sv->rx_bad, 0);
}

static void send_buffer_bound_gives_backpressure(void **state)
{
	struct app *cl;
	uint8_t buf[1000];
	int64_t total = 0, r;

	(void)state;
	cl = open_pair(16);
	last_accepted->auto_read = false;
	memset(buf, 0, sizeof(buf));
	while ((r = mg_tcp_send_copy(&N->st[0], cl->c, buf, sizeof(buf))) > 0)
		total += r;
	assert_int_equal(total, 64 * 1024);
	assert_int_equal(mg_tcp_send_space(&N->st[0], cl->c), 0);
	assert_true(CTR_OF(0, sndbuf_bound_hits) > 0);
	last_accepted->auto_read = true;
	run_for(N, 100000);
	assert_true(cl->events & MG_TCP_EV_WRITABLE);
}

static void mss_of_the_peer_is_respected(void **state)
{
	struct mg_tcp_params pa, pb;
	struct app *cl;

	params_both(&pa, &pb);
	pb.ports[0].mtu = 576;
	restart(state, &pa, &pb);
	cl = open_pair(16);
	assert_int_equal(cl->c->mss, 536);
	assert_int_equal(tcp_eff_mss(cl->c), 524);
	cl->tx_total = 50000;
	assert_true(run_until(N, server_got_all, 10000000));
	assert_true(CTR_OF(1, segs_in) >= 50000 / 524);
}

static void delayed_ack_fires(void **state)
{
	struct app *cl;

	(void)state;
	cl = open_pair(16);
	cl->tx_total = 100; /* one small segment: its ACK waits */
	run_for(N, 100000);
	assert_int_equal(CTR_OF(1, delayed_acks), 1);
	assert_int_equal(last_accepted->rx, 100);
}

static void keepalive_closes_a_dead_peer(void **state)
{
	struct mg_tcp_params pa, pb;
	struct app *cl;

	params_both(&pa, &pb);
	pa.keep_idle = 1000000;
	pa.keep_intvl = 100000;
	pa.keep_probes = 3;
	restart(state, &pa, &pb);
	cl = open_pair(16);
	run_for(N, 1500000);
	assert_true(CTR_OF(0, keepalive_probes) >= 1);
	assert_false(cl->closed); /* the peer answers probes */
	N->loss = 1000;           /* the peer vanishes */
	assert_true(run_until(N, all_closed, 10000000) || cl->closed);
	assert_int_equal(cl->close_reason, MG_TCP_CLOSE_KEEPALIVE);
}

static bool client_closed(void)
{
	return apps[0].closed;
}

static void retransmissions_give_up(void **state)
{
	struct app *cl;

	(void)state;
	cl = open_pair(16);
	N->loss = 1000;
	cl->tx_total = 10000;
	assert_true(run_until(N, client_closed, 2000000000));
	assert_int_equal(cl->close_reason, MG_TCP_CLOSE_TIMEOUT);
	assert_true(CTR_OF(0, rto_fires) > 10);
}

static void abort_sends_rst(void **state)
{
	struct app *cl, *sv;

	(void)state;
	cl = open_pair(16);
	sv = last_accepted;
	mg_tcp_abort(&N->st[0], cl->c);
	run_for(N, 5000);
	assert_true(sv->closed);
	assert_int_equal(sv->close_reason, MG_TCP_CLOSE_RESET);
	assert_int_equal(N->st[0].st.closes[MG_TCP_CLOSE_ABORTED], 1);
}

static void connect_to_closed_port_is_refused(void **state)
{
	struct app *cl;

	(void)state;
	cl = client_connect(40001);
	run_for(N, 10000);
	assert_true(cl->closed);
	assert_int_equal(cl->close_reason, MG_TCP_CLOSE_REFUSED);
}

static void connect_rejects_a_tuple_in_use(void **state)
{
	struct mg_tcp_conn *c;
	struct mg_tcp_connect_args ca = {
		.port = 0, .src_ip = IP_A, .dst_ip = IP_B,
		.src_port = RTE_BE16(40000), .dst_port = PORT_SRV, .ops = &ops,
	};

	(void)state;
	open_pair(16);
	assert_int_equal(mg_tcp_connect(&N->st[0], &ca, &c), -1);
	assert_int_equal(mg_errno(), MG_ERR_USAGE);
	assert_non_null(strstr(mg_errmsg(), "tuple in use"));
}

static void reassembly_trims_overlaps(void **state)
{
	struct app *sv;
	struct mg_tcp_conn *c;
	struct rte_mbuf *m;
	uint8_t o[12], got[64];
	uint32_t r;

	(void)state;
	open_pair(16);
	sv = last_accepted;
	sv->auto_read = false;
	c = sv->c;
	r = c->rcv_nxt;
	inject_base = r;
	inject(1, c, r + 10, c->snd_nxt, TH_ACK, o, ts_opt(c, o), 20); /* [10,30) */
	inject(1, c, r + 20, c->snd_nxt, TH_ACK, o, ts_opt(c, o), 30); /* [20,50) */
	inject(1, c, r + 12, c->snd_nxt, TH_ACK, o, ts_opt(c, o), 5);  /* inside: dup */
	inject(1, c, r + 5, c->snd_nxt, TH_ACK, o, ts_opt(c, o), 10);  /* [5,15) */
	inject(1, c, r + 8, c->snd_nxt, TH_ACK, o, ts_opt(c, o), 30);  /* [8,38): all held */
	inject(1, c, r + 8, c->snd_nxt, TH_ACK, o, ts_opt(c, o), 4);   /* [8,12): all held */
	assert_int_equal(c->rcv_nxt, r);
	assert_int_equal(c->ooo_bytes, 45); /* [5,50), each byte held once */
	for (struct rte_mbuf *x = c->ooo_head; x; x = x->next)
		assert_true(x->data_len > 0);
	assert_true(CTR_OF(1, dup_bytes) >= 5 + 10 + 5);
	inject(1, c, r, c->snd_nxt, TH_ACK, o, ts_opt(c, o), 8); /* [0,8): fills the hole */
	assert_int_equal(c->rcv_nxt, r + 50);
	assert_int_equal(c->ooo_segs, 0);
	assert_int_equal(mg_tcp_recv(&N->st[1], c, 64, &m), 50);
	assert_int_equal(rte_pktmbuf_read(m, 0, 50, got) == got ? 50 : 50, 50);
	memcpy(got, rte_pktmbuf_read(m, 0, 50, got), 50);
	for (int i = 0; i < 50; i++)
		assert_int_equal(got[i], (uint8_t)i);
	rte_pktmbuf_free(m);
	inject_base = 0;
}

static void sack_blocks_describe_the_queue(void **state)
{
	struct mg_tcp_conn *c;
	uint8_t o[12];
	uint32_t blk[4][2], r;

	(void)state;
	open_pair(16);
	last_accepted->auto_read = false;
	c = last_accepted->c;
	r = c->rcv_nxt;
	inject(1, c, r + 100, c->snd_nxt, TH_ACK, o, ts_opt(c, o), 100);
	inject(1, c, r + 300, c->snd_nxt, TH_ACK, o, ts_opt(c, o), 100);
	inject(1, c, r + 200, c->snd_nxt, TH_ACK, o, ts_opt(c, o), 50);
	/* The latest arrival's block first (RFC 2018 4), then the others. */
	assert_int_equal(reass_sack_blocks(c, blk, 4), 2);
	assert_int_equal(blk[0][0], r + 100);
	assert_int_equal(blk[0][1], r + 250);
	assert_int_equal(blk[1][0], r + 300);
	assert_int_equal(blk[1][1], r + 400);
}

static void out_of_order_fin_waits_for_the_hole(void **state)
{
	struct app *sv;
	struct mg_tcp_conn *c;
	uint8_t o[12];
	uint32_t r;

	(void)state;
	open_pair(16);
	sv = last_accepted;
	c = sv->c;
	r = c->rcv_nxt;
	inject_base = r;
	inject(1, c, r + 10, c->snd_nxt, TH_ACK | TH_FIN, o, ts_opt(c, o), 10);
	assert_int_equal(mg_tcp_state(c), MG_TCP_ESTABLISHED);
	assert_false(sv->peer_fin);
	inject(1, c, r, c->snd_nxt, TH_ACK, o, ts_opt(c, o), 10);
	assert_int_equal(mg_tcp_state(c), MG_TCP_CLOSE_WAIT);
	assert_true(sv->peer_fin);
	assert_int_equal(sv->rx, 20);
	assert_int_equal(c->rcv_nxt, r + 21);
	inject_base = 0;
}

static void fin_retransmitted_in_time_wait_is_acked(void **state)
{
	struct app *cl, *sv;
	struct mg_tcp_conn *c;
	uint8_t o[12];
	uint64_t t0;

	(void)state;
	cl = open_pair(16);
	sv = last_accepted;
	mg_tcp_shutdown(&N->st[0], cl->c);
	run_for(N, 10000);
	mg_tcp_shutdown(&N->st[1], sv->c);
	run_for(N, 10000);
	c = cl->c;
	assert_int_equal(mg_tcp_state(c), MG_TCP_TIME_WAIT);
	t0 = c->t_misc;
	N->now += 500000;
	mg_tcp_timers_run(&N->st[0], N->now);
	inject(0, c, c->rcv_nxt - 1, c->snd_nxt, TH_ACK | TH_FIN, o, ts_opt(c, o), 0);
	assert_int_equal(tx_pending(0), 1); /* the ACK again */
	assert_int_equal(mg_tcp_state(c), MG_TCP_TIME_WAIT);
	(void)t0;
}

static void close_with_unread_data_sends_rst(void **state)
{
	struct app *cl, *sv;

	(void)state;
	cl = open_pair(16);
	sv = last_accepted;
	sv->auto_read = false;
	cl->tx_total = 1000;
	run_for(N, 10000);
	assert_int_equal(mg_tcp_recv_ready(sv->c), 1000);
	mg_tcp_close(&N->st[1], sv->c);
	assert_int_equal(N->st[1].st.closes[MG_TCP_CLOSE_UNREAD_DATA], 1);
	run_for(N, 10000);
	assert_true(cl->closed);
	assert_int_equal(cl->close_reason, MG_TCP_CLOSE_RESET);
}

static void data_after_close_gets_rst(void **state)
{
	struct app *cl, *sv;

	(void)state;
	cl = open_pair(16);
	sv = last_accepted;
	mg_tcp_close(&N->st[1], sv->c); /* server closes; client keeps sending */
	run_for(N, 10000);
	assert_true(cl->peer_fin);
	cl->tx_total = 1000;
	run_for(N, 10000);
	assert_int_equal(DROP_OF(1, DATA_AFTER_CLOSE), 1);
	assert_int_equal(N->st[1].st.closes[MG_TCP_CLOSE_DATA_AFTER_CLOSE], 1);
	assert_true(cl->closed);
	assert_int_equal(cl->close_reason, MG_TCP_CLOSE_RESET);
}

static void wire_drop_to(int to)
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

static void lost_syn_ack_is_retransmitted(void **state)
{
	struct app *cl;

	(void)state;
	assert_true(mg_tcp_listen(&N->st[1], 0, PORT_SRV, 16, &ops, NULL) >= 0);
	cl = client_connect(40000);
	run_for(N, 600); /* the SYN arrives, the SYN-ACK is on the wire */
	wire_drop_to(0);
	assert_int_equal(mg_tcp_state(cl->c), MG_TCP_SYN_SENT);
	assert_true(run_until(N, both_up, 5000000));
	assert_true(CTR_OF(0, rto_fires) + CTR_OF(1, rto_fires) >= 1);
	assert_true(CTR_OF(0, retransmits) + CTR_OF(1, retransmits) >= 1);
	/* The client resent its SYN too: Karn forbids timing that exchange, and
	 * data transfer starts with the 3 s RTO of RFC 6298 (5.7). */
	assert_int_equal(CTR_OF(0, rto_fires), 1);
	assert_int_equal(cl->c->srtt, 0);
	assert_int_equal(cl->c->rto, 3000000);
}

static void orphan_fin_wait_2_times_out(void **state)
{
	struct mg_tcp_params pa, pb;
	struct app *cl;

	params_both(&pa, &pb);
	pa.fin_wait2 = 1000000;
	restart(state, &pa, &pb);
	cl = open_pair(16);
	mg_tcp_close(&N->st[0], cl->c); /* the server never closes its side */
	run_for(N, 10000);
	assert_int_equal(N->st[0].st.conns[MG_TCP_FIN_WAIT_2], 1);
	run_for(N, 1100000);
	assert_int_equal(N->st[0].st.conns[MG_TCP_FIN_WAIT_2], 0);
	assert_int_equal(N->st[0].st.closes[MG_TCP_CLOSE_FIN_WAIT2_TIMEOUT], 1);
}

static void newreno_without_sack_under_loss(void **state)
{
	struct mg_tcp_params pa, pb;
	struct app *cl;

	params_both(&pa, &pb);
	pa.cc = MG_TCP_CC_NEWRENO;
	pb.flags |= MG_TCP_F_NO_SACK;
	restart(state, &pa, &pb);
	cl = open_pair(16);
	assert_false(cl->c->flags & TF_SACK_OK);
	N->loss = 30;
	N->reorder = 20;
	cl->tx_total = 1 << 20;
	assert_true(run_until(N, server_got_all, 300000000));
	assert_int_equal(last_accepted->rx_bad, 0);
	assert_true(CTR_OF(0, fast_retransmits) > 0);
	print_message("newreno 1 MB: %.1f s simulated, rexmit %lu rto %lu fast %lu\n",
		      (double)N->now / 1e6, CTR_OF(0, retransmits), CTR_OF(0, rto_fires),
		      CTR_OF(0, fast_retransmits));
}

static void scaled_window_moves_4mb(void **state)
{
	struct mg_tcp_params pa, pb;
	struct app *cl;

	params_both(&pa, &pb);
	pa.sndbuf = pb.rcvbuf = 1 << 20;
	pb.mem_max = 64ull << 20;
	restart(state, &pa, &pb);
	N->latency = 5000; /* 10 ms RTT: the window, not the wire, sets the pace */
	cl = open_pair(16);
	assert_int_equal(last_accepted->c->rcv_wscale, 5); /* 2^20 >> 4 is 65536 */
	assert_int_equal(cl->c->snd_wscale, 5);
	N->loss = 10;
	cl->tx_total = 4 << 20;
	assert_true(run_until(N, server_got_all, 300000000));
	assert_int_equal(last_accepted->rx_bad, 0);
	assert_true(cl->c->max_sndwnd > 65535);
	print_message("4 MB at 10 ms RTT, 1%% loss: %.1f s simulated, rexmit %lu rto %lu tlp %lu\n",
		      (double)N->now / 1e6 - 1, CTR_OF(0, retransmits), CTR_OF(0, rto_fires),
		      CTR_OF(0, tlp_probes));
}

static bool legit_up(void)
{
	return apps[0].connected && last_accepted;
}

static void syn_flood_does_not_stop_a_legitimate_client(void **state)
{
	struct mg_tcp_conn fake;
	struct app *cl;

	(void)state;
	assert_true(mg_tcp_listen(&N->st[1], 0, PORT_SRV, 8, &ops, NULL) >= 0);
	fake_peer(&fake, PORT_SRV);
	for (uint32_t i = 0; i < 500; i++) { /* spoofed sources never answer */
		fake.key.rip = rte_cpu_to_be_32(0x0a000000 + i);
		fake.key.rport = rte_cpu_to_be_16((uint16_t)(1024 + i));
		inject(1, &fake, i * 7919, 0, TH_SYN, NULL, 0, 0);
	}
	wire_drop_to(0);
	collect(N);
	wire_drop_to(0); /* the SYN-ACKs go nowhere */
	assert_int_equal(N->st[1].st.conns[MG_TCP_SYN_RCVD], 8);
	assert_int_equal(CTR_OF(1, syncookies_sent), 492);
	cl = client_connect(40000);
	assert_true(run_until(N, legit_up, 5000000));
	assert_int_equal(CTR_OF(1, syncookies_validated), 1);
	cl->tx_total = 10000;
	assert_true(run_until(N, server_got_all, 5000000));
	/* The half-open ones end: retransmitted SYN-ACKs reach a host that
	 * answers RST here; unanswered ones give up after their retries. */
	run_for(N, 200000000);
	assert_int_equal(N->st[1].st.conns[MG_TCP_SYN_RCVD], 0);
	assert_int_equal(N->st[1].st.closes[MG_TCP_CLOSE_SYN_TIMEOUT] +
			 N->st[1].st.closes[MG_TCP_CLOSE_RESET], 8);
}

static void icmp_frag_needed_lowers_the_mss(void **state)
{
	struct app *cl;
	struct mg_tcp_conn *c;
	uint8_t q[40]; /* the quote is 28 bytes; room for the struct view */
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)q;
	struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)(q + 20);

	(void)state;
	cl = open_pair(16);
	c = cl->c;
	last_accepted->auto_read = false;
	cl->tx_total = 20000;
	run_for(N, 200); /* segments in flight */
	assert_true(c->snd_max != c->snd_una);
	memset(q, 0, sizeof(q));
	ip->version_ihl = 0x45;
	ip->next_proto_id = IPPROTO_TCP;
	ip->src_addr = c->key.lip;
	ip->dst_addr = c->key.rip;
	th->src_port = c->key.lport;
	th->dst_port = c->key.rport;
	th->sent_seq = rte_cpu_to_be_32(c->snd_max + 100000); /* not ours: ignored */
	assert_false(mg_tcp_icmp_frag_needed(&N->st[0], q, 28, 1000, N->now));
	assert_int_equal(CTR_OF(0, icmp_ignored), 1);
	th->sent_seq = rte_cpu_to_be_32(c->snd_una);
	assert_true(mg_tcp_icmp_frag_needed(&N->st[0], q, 28, 1000, N->now));
	assert_int_equal(c->mss, 960);
	assert_int_equal(CTR_OF(0, pmtu_updates), 1);
	last_accepted->auto_read = true;
	assert_true(run_until(N, server_got_all, 10000000));
	assert_int_equal(last_accepted->rx_bad, 0);
}

/* FIN from the peer of the client connection, at RCV.NXT (or one before it
 * for a retransmitted FIN), acking @p ack; no wire traffic in between. */
static void fin_to_client(struct mg_tcp_conn *c, bool again, uint32_t ack)
{
	uint8_t o[12];

	inject(0, c, again ? c->rcv_nxt - 1 : c->rcv_nxt, ack, TH_FIN | TH_ACK, o,
	       ts_opt(c, o), 0);
}

static void ack_to_client(struct mg_tcp_conn *c, uint32_t ack)
{
	uint8_t o[12];

	inject(0, c, c->rcv_nxt, ack, TH_ACK, o, ts_opt(c, o), 0);
}

static void fin_in_established_goes_to_close_wait(void **state)
{
	struct app *cl;

	(void)state;
	cl = open_pair(16);
	fin_to_client(cl->c, false, cl->c->snd_una);
	assert_int_equal(mg_tcp_state(cl->c), MG_TCP_CLOSE_WAIT);
	assert_true(cl->peer_fin);
	fin_to_client(cl->c, true, cl->c->snd_una); /* again: only an ACK */
	assert_int_equal(mg_tcp_state(cl->c), MG_TCP_CLOSE_WAIT);
	assert_true(tx_pending(0) >= 2);
	mg_tcp_shutdown(&N->st[0], cl->c);
	assert_int_equal(mg_tcp_state(cl->c), MG_TCP_LAST_ACK);
	fin_to_client(cl->c, true, cl->c->snd_una); /* LAST-ACK: FIN again, no ACK of ours */
	assert_int_equal(mg_tcp_state(cl->c), MG_TCP_LAST_ACK);
	ack_to_client(cl->c, cl->c->snd_max); /* now it ACKs our FIN */
	assert_true(cl->closed);
	assert_int_equal(cl->close_reason, MG_TCP_CLOSE_NORMAL);
}

static void fin_in_fin_wait_1(void **state)
{
	struct app *cl;

	(void)state;
	cl = open_pair(16);
	mg_tcp_shutdown(&N->st[0], cl->c);
	fin_to_client(cl->c, false, cl->c->snd_una); /* our FIN not yet ACKed */
	assert_int_equal(mg_tcp_state(cl->c), MG_TCP_CLOSING);
	fin_to_client(cl->c, true, cl->c->snd_una);  /* CLOSING: FIN again */
	assert_int_equal(mg_tcp_state(cl->c), MG_TCP_CLOSING);
	ack_to_client(cl->c, cl->c->snd_max);  /* the ACK of our FIN */
	assert_int_equal(mg_tcp_state(cl->c), MG_TCP_TIME_WAIT);
}

static void fin_acking_our_fin_in_fin_wait_1_goes_to_time_wait(void **state)
{
	struct app *cl;

	(void)state;
	cl = open_pair(16);
	mg_tcp_shutdown(&N->st[0], cl->c);
	fin_to_client(cl->c, false, cl->c->snd_max);
	assert_int_equal(mg_tcp_state(cl->c), MG_TCP_TIME_WAIT);
}

static void fin_in_fin_wait_2_goes_to_time_wait(void **state)
{
	struct app *cl;

	(void)state;
	cl = open_pair(16);
	mg_tcp_shutdown(&N->st[0], cl->c);
	run_for(N, 5000);
	assert_int_equal(mg_tcp_state(cl->c), MG_TCP_FIN_WAIT_2);
	wire_drop_to(0);
	wire_drop_to(1);
	fin_to_client(cl->c, false, cl->c->snd_max);
	assert_int_equal(mg_tcp_state(cl->c), MG_TCP_TIME_WAIT);
}

static void fin_in_syn_sent_and_listen_is_dropped(void **state)
{
	struct app *cl;
	struct mg_tcp_conn fake;

	(void)state;
	cl = client_connect(40000); /* nobody listens yet; its SYN stays in the ring */
	inject(0, cl->c, 1000, cl->c->snd_nxt, TH_FIN | TH_ACK, NULL, 0, 0);
	assert_int_equal(DROP_OF(0, SYN_SENT_NO_SYN), 1);
	assert_int_equal(mg_tcp_state(cl->c), MG_TCP_SYN_SENT);
	assert_true(mg_tcp_listen(&N->st[1], 0, PORT_SRV, 16, &ops, NULL) >= 0);
	fake_peer(&fake, PORT_SRV);
	inject(1, &fake, 1000, 0, TH_FIN, NULL, 0, 0);
	assert_int_equal(DROP_OF(1, LISTEN_NOT_SYN), 1);
}

static void fin_with_the_handshake_ack_in_syn_rcvd(void **state)
{
	struct mg_tcp_conn fake, *c;
	uint8_t o[12];

	(void)state;
	assert_true(mg_tcp_listen(&N->st[1], 0, PORT_SRV, 16, &ops, NULL) >= 0);
	fake_peer(&fake, PORT_SRV);
	inject(1, &fake, 1000, 0, TH_SYN, NULL, 0, 0); /* no options at all */
	c = mg_tcp_lookup(&N->st[1], &fake.key);
	assert_non_null(c);
	assert_int_equal(mg_tcp_state(c), MG_TCP_SYN_RCVD);
	assert_int_equal(c->mss, 536); /* RFC 9293: no MSS option means 536 */
	assert_false(c->flags & (TF_TS_OK | TF_SACK_OK | TF_WS_OK));
	(void)o;
	inject(1, c, 1001, c->snd_nxt, TH_ACK | TH_FIN, NULL, 0, 0);
	assert_int_equal(mg_tcp_state(c), MG_TCP_CLOSE_WAIT);
	conn_deliver(&N->st[1]);
	assert_non_null(last_accepted);
	assert_true(last_accepted->peer_fin);
}

static void unaligned_options_are_parsed(void **state)
{
	struct mg_tcp_conn fake, *c;
	/* NOP, MSS 1280, NOP NOP NOP, WS 2, EOL: MSS and WS off 4-byte alignment. */
	uint8_t o[12] = {1, 2, 4, 0x05, 0x00, 1, 1, 1, 3, 3, 2, 0};

	(void)state;
	assert_true(mg_tcp_listen(&N->st[1], 0, PORT_SRV, 16, &ops, NULL) >= 0);
	fake_peer(&fake, PORT_SRV);
	inject(1, &fake, 1000, 0, TH_SYN, o, sizeof(o), 0);
	c = mg_tcp_lookup(&N->st[1], &fake.key);
	assert_non_null(c);
	assert_int_equal(c->mss, 1280);
	assert_true(c->flags & TF_WS_OK);
	assert_int_equal(c->snd_wscale, 2);
}

static void rst_is_taken_in_a_zero_window(void **state)
{
	struct app *cl, *sv;

	(void)state;
	cl = open_pair(16);
	sv = last_accepted;
	close_the_window(cl, sv, 200000);
	assert_int_equal(tcp_rcv_window(&N->st[1], sv->c), 0);
	inject(1, sv->c, sv->c->rcv_nxt, 0, TH_RST, NULL, 0, 0);
	assert_true(sv->closed);
	assert_int_equal(sv->close_reason, MG_TCP_CLOSE_RESET);
}

static void connect_refuses_non_unicast_destinations(void **state)
{
	struct mg_tcp_conn *c;
	struct mg_tcp_connect_args ca = {
		.port = 0, .src_ip = IP_A, .dst_ip = RTE_BE32(0xe0000001),
		.src_port = RTE_BE16(40000), .dst_port = PORT_SRV, .ops = &ops,
	};

	(void)state;
	assert_int_equal(mg_tcp_connect(&N->st[0], &ca, &c), -1);
	assert_int_equal(mg_errno(), MG_ERR_USAGE);
	assert_non_null(strstr(mg_errmsg(), "224.0.0.1 is not a unicast address"));
	ca.dst_ip = RTE_BE32(0xffffffff);
	assert_int_equal(mg_tcp_connect(&N->st[0], &ca, &c), -1);
	assert_non_null(strstr(mg_errmsg(), "not a unicast address"));
}

static void acks_are_aggregated_per_burst(void **state)
{
	struct mg_tcp_conn *c;
	uint8_t o[12];
	uint32_t r;

	(void)state;
	open_pair(16);
	c = last_accepted->c;
	r = c->rcv_nxt;
	inject_burst = true;
	for (int i = 0; i < 6; i++)
		inject(1, c, r + 100 * i, c->snd_nxt, TH_ACK, o, ts_opt(c, o), 100);
	inject_burst = false;
	assert_int_equal(tx_pending(1), 0); /* nothing until the burst ends */
	mg_tcp_flush(&N->st[1]);
	assert_int_equal(tx_pending(1), 1); /* one ACK for six segments */
	assert_int_equal(c->rcv_nxt, r + 600);
	/* Out of order is answered at once, burst or not. */
	inject_burst = true;
	inject(1, c, r + 1000, c->snd_nxt, TH_ACK, o, ts_opt(c, o), 100);
	inject_burst = false;
	assert_int_equal(tx_pending(1), 2);
}

static void segments_carry_the_configured_tos_and_ttl(void **state)
{
	struct mg_tcp_params pa, pb;
	struct mg_tcp_conn *c;
	struct rte_mbuf *m;
	struct rte_ipv4_hdr *ip;
	struct mg_tcp_connect_args ca = {
		.port = 0, .src_ip = IP_A, .dst_ip = IP_B, .tos = 0xb8,
		.src_port = RTE_BE16(40000), .dst_port = PORT_SRV, .ops = &ops,
	};

	params_both(&pa, &pb);
	pa.ttl = 17;
	restart(state, &pa, &pb);
	assert_int_equal(mg_tcp_connect(&N->st[0], &ca, &c), 0);
	assert_int_equal(mg_tcp_tx_take(&N->st[0], &m, 1), 1);
	ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, 14);
	assert_int_equal(ip->type_of_service, 0xb8);
	assert_int_equal(ip->time_to_live, 17);
	assert_int_equal(rte_be_to_cpu_16(ip->fragment_offset), RTE_IPV4_HDR_DF_FLAG);
	rte_pktmbuf_free(m);
}

static struct rte_mbuf *stream_chain(uint64_t off, unsigned segs, uint16_t seglen)
{
	struct rte_mbuf *head = NULL;

	for (unsigned i = 0; i < segs; i++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
		uint8_t *p;

		assert_non_null(m);
		p = (uint8_t *)rte_pktmbuf_append(m, seglen);
		assert_non_null(p);
		for (uint16_t k = 0; k < seglen; k++)
			p[k] = stream_byte(0, off + (uint64_t)i * seglen + k);
		if (head)
			assert_int_equal(rte_pktmbuf_chain(head, m), 0);
		else
			head = m;
	}
	return head;
}

static void send_takes_a_prefix_of_a_chain_zero_copy(void **state)
{
	struct app *cl;
	struct rte_mbuf *m;
	int64_t r;

	(void)state;
	cl = open_pair(16);
	last_accepted->auto_read = false;
	m = stream_chain(0, 40, 2000); /* 80 000 bytes into a 64 KiB send buffer */
	r = mg_tcp_send(&N->st[0], cl->c, &m);
	assert_int_equal(r, 65536);
	assert_non_null(m);
	assert_int_equal(m->pkt_len, 80000 - 65536);
	assert_int_equal(m->nb_segs, 8); /* 32 whole, one split, 7 untouched */
	assert_int_equal(rte_pktmbuf_mtod(m, uint8_t *)[0], stream_byte(0, 65536));
	last_accepted->auto_read = true;
	run_for(N, 20000);
	assert_true(cl->events & MG_TCP_EV_WRITABLE);
	assert_int_equal(mg_tcp_send(&N->st[0], cl->c, &m), 80000 - 65536);
	assert_null(m);
	cl->tx = cl->tx_total = 80000; /* for server_got_all */
	assert_true(run_until(N, server_got_all, 5000000));
	assert_int_equal(last_accepted->rx_bad, 0);
}

static void recv_hands_out_at_most_what_is_asked(void **state)
{
	struct app *cl, *sv;
	struct rte_mbuf *m;
	uint64_t got = 0;
	uint32_t n;

	(void)state;
	cl = open_pair(16);
	sv = last_accepted;
	sv->auto_read = false;
	cl->tx_total = 5000;
	run_for(N, 20000);
	assert_int_equal(mg_tcp_recv_ready(sv->c), 5000);
	while ((n = mg_tcp_recv(&N->st[1], sv->c, 333, &m)) > 0) {
		assert_true(n <= 333);
		assert_int_equal(m->pkt_len, n);
		for (struct rte_mbuf *x = m; x; x = x->next)
			for (uint16_t i = 0; i < x->data_len; i++)
				assert_int_equal(rte_pktmbuf_mtod(x, uint8_t *)[i],
						 stream_byte(0, got++));
		rte_pktmbuf_free(m);
	}
	assert_int_equal(got, 5000);
	assert_int_equal(mg_tcp_recv_ready(sv->c), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(siphash_matches_reference_vector),
		cmocka_unit_test(init_rejects_bad_params),
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(handshake_negotiates_options),
		T(transfer_1mb_in_order),
		T(want_writable_reports_once_half_free),
		T(odd_mbuf_boundaries_keep_checksums_right),
		T(transfer_under_loss_reorder_dup_corrupt),
		T(fin_both_ways_then_time_wait),
		T(time_wait_lasts_its_setting),
		T(half_close_keeps_the_other_direction),
		T(simultaneous_open),
		T(simultaneous_close),
		T(rst_at_rcv_nxt_resets),
		T(rst_out_of_window_is_ignored),
		T(rst_in_window_not_exact_gets_challenge_ack),
		T(syn_in_synchronized_state_gets_challenge_ack),
		T(challenge_acks_are_rate_limited),
		T(out_of_window_data_gets_ack),
		T(paws_drops_old_timestamps),
		T(bad_option_lengths_are_dropped),
		T(segment_to_closed_port_gets_rst),
		T(zero_window_persists_then_resumes),
		T(small_reads_reopen_a_zero_window),
		T(syn_cookies_when_backlog_is_zero),
		T(forged_cookie_ack_gets_rst),
		T(time_wait_is_reused_by_a_newer_syn),
		T(memory_bound_is_counted),
		T(send_buffer_bound_gives_backpressure),
		T(mss_of_the_peer_is_respected),
		T(delayed_ack_fires),
		T(keepalive_closes_a_dead_peer),
		T(retransmissions_give_up),
		T(abort_sends_rst),
		T(connect_to_closed_port_is_refused),
		T(connect_rejects_a_tuple_in_use),
		T(reassembly_trims_overlaps),
		T(sack_blocks_describe_the_queue),
		T(out_of_order_fin_waits_for_the_hole),
		T(fin_retransmitted_in_time_wait_is_acked),
		T(close_with_unread_data_sends_rst),
		T(data_after_close_gets_rst),
		T(lost_syn_ack_is_retransmitted),
		T(orphan_fin_wait_2_times_out),
		T(newreno_without_sack_under_loss),
		T(scaled_window_moves_4mb),
		T(syn_flood_does_not_stop_a_legitimate_client),
		T(icmp_frag_needed_lowers_the_mss),
		T(fin_in_established_goes_to_close_wait),
		T(fin_in_fin_wait_1),
		T(fin_acking_our_fin_in_fin_wait_1_goes_to_time_wait),
		T(fin_in_fin_wait_2_goes_to_time_wait),
		T(fin_in_syn_sent_and_listen_is_dropped),
		T(fin_with_the_handshake_ack_in_syn_rcvd),
		T(unaligned_options_are_parsed),
		T(rst_is_taken_in_a_zero_window),
		T(connect_refuses_non_unicast_destinations),
		T(acks_are_aggregated_per_burst),
		T(segments_carry_the_configured_tos_and_ttl),
		T(send_takes_a_prefix_of_a_chain_zero_copy),
		T(recv_hands_out_at_most_what_is_asked),
#undef T
	};
	int rc;

	(void)argc;
	pool = wire_eal_pool(argv[0], "mgtest-tcp", "tcp_test", 16383);
	if (!pool)
		return 1;
	pool_full = rte_mempool_avail_count(pool);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	rte_mempool_free(pool);
	rte_eal_cleanup();
	return rc;
}
