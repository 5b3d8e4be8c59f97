/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TIME-WAIT records (dataplane/tcp/tcp_timewait.c): what a connection the
 * application closed leaves for 2 MSL, how it answers, when a new connection
 * may take its tuple over (RFC 6191, both sides), and that a table of them
 * costs the live connections nothing. Two stacks on a lossless in-test wire
 * under a fake clock:
 *
 *   stack A (client) 198.18.1.2 ──── 198.18.1.1 stack B (server, :8080)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_tcp.h>

#include "tcp/tcp.h"
#include "tcp/tcp_priv.h"
#include "tcp_wire.h"

#define IP_A RTE_BE32(0xc6120102)
#define IP_B RTE_BE32(0xc6120101)
#define PORT_SRV RTE_BE16(8080)
#define TICK 100        /* µs per step */
#define MSL2 2000000    /* the stacks' 2 MSL */
#define MAX_FL 1024

enum { A = 0, B = 1 };

static const uint8_t MAC_A[6] = {0x02, 0, 0, 0, 0, 0xa};
static const uint8_t MAC_B[6] = {0x02, 0, 0, 0, 0, 0xb};
static struct rte_mempool *pool;
static unsigned pool_full, seq_no;

struct end {
	struct mg_tcp_conn *c;
	bool up, closed;
};

struct net {
	struct mg_tcp_stack st[2];
	uint64_t now;
	struct rte_mbuf *fl[MAX_FL];
	int fl_to[MAX_FL];
	unsigned n_fl;
	bool hold;                 /* keep frames in fl instead of delivering */
	struct end ends[2][128];   /* per stack, by accept/connect order */
	unsigned n_ends[2];
};

static struct net *N;
#define CTR_OF(side, name) (N->st[side].st.ctr[MG_TCP_CTR_##name])

static void on_event(void *user, struct mg_tcp_conn *c, unsigned ev)
{
	struct end *e = user;

	e->c = c;
	if (ev & MG_TCP_EV_CONNECTED)
		e->up = true;
	if (ev & MG_TCP_EV_CLOSED)
		e->closed = true;
}

static void *on_accept(void *lu, struct mg_tcp_conn *c)
{
	struct end *e = &N->ends[B][N->n_ends[B]++];

	(void)lu;
	assert_true(N->n_ends[B] <= RTE_DIM(N->ends[B]));
	memset(e, 0, sizeof(*e));
	e->c = c;
	e->up = true;
	return e;
}

static const struct mg_tcp_ops ops = {.accept = on_accept, .event = on_event};

/* ---- the wire ------------------------------------------------------------- */

static void deliver(int to, struct rte_mbuf *m)
{
	struct mg_pkt pkt;

	wire_pkt(&pkt, rte_pktmbuf_mtod(m, const uint8_t *), 20);
	m->port = 0;
	mg_tcp_input(&N->st[to], m, &pkt, N->now);
}

static void collect(void)
{
	struct rte_mbuf *out[32];
	uint16_t k;

	for (int i = 0; i < 2; i++)
		while ((k = mg_tcp_tx_take(&N->st[i], out, 32)) > 0)
			for (uint16_t j = 0; j < k; j++) {
				assert_true(N->n_fl < MAX_FL);
				N->fl_to[N->n_fl] = !i;
				N->fl[N->n_fl++] = wire_linearize(pool, out[j]);
			}
}

static void step(void)
{
	unsigned n;

	collect();
	n = N->n_fl;
	if (!N->hold) {
		N->n_fl = 0;
		for (unsigned i = 0; i < n; i++)
			deliver(N->fl_to[i], N->fl[i]);
	}
	for (int i = 0; i < 2; i++)
		mg_tcp_timers_run(&N->st[i], N->now);
	N->now += TICK;
}

static void run_for(uint64_t us)
{
	for (uint64_t end = N->now + us; N->now < end;)
		step();
}

/* Frames held on the wire: the TCP header of frame @p i. */
static const struct rte_tcp_hdr *held_tcp(unsigned i)
{
	return rte_pktmbuf_mtod_offset(N->fl[i], const struct rte_tcp_hdr *, 14 + 20);
}

static void drop_held(void)
{
	for (unsigned i = 0; i < N->n_fl; i++)
		rte_pktmbuf_free(N->fl[i]);
	N->n_fl = 0;
}

/* The TSval of a held frame's timestamp option (NOP NOP TS first, as sent). */
static uint32_t held_tsval(unsigned i)
{
	const uint8_t *o = (const uint8_t *)(held_tcp(i) + 1);

	for (unsigned k = 0; k + 10 <= 40; k++)
		if (o[k] == 8 && o[k + 1] == 10)
			return (uint32_t)o[k + 2] << 24 | (uint32_t)o[k + 3] << 16 |
			       (uint32_t)o[k + 4] << 8 | o[k + 5];
	fail_msg("no timestamp option");
	return 0;
}

/* ---- fixtures ------------------------------------------------------------- */

static void params(struct mg_tcp_params *p, int side, char *name, uint32_t flags,
		   uint32_t tw_max)
{
	mg_tcp_params_default(p);
	snprintf(name, 32, "tw%u_%d", seq_no, side);
	p->name = name;
	p->max_conns = 64;
	p->pool = pool;
	p->time_wait = MSL2;
	p->time_wait_max = tw_max;
	p->flags = flags;
	for (int i = 0; i < 16; i++)
		p->isn_secret[i] = (uint8_t)(i * 5 + side);
	memcpy(p->ports[0].mac, side == A ? MAC_A : MAC_B, 6);
	p->ports[0].ip = side == A ? IP_A : IP_B;
}

static void start(uint32_t flags, uint32_t tw_max)
{
	char name[2][32];

	N = calloc(1, sizeof(*N));
	assert_non_null(N);
	for (int s = 0; s < 2; s++) {
		struct mg_tcp_params p;

		params(&p, s, name[s], flags, tw_max);
		assert_int_equal(mg_tcp_stack_init(&N->st[s], &p), 0);
	}
	seq_no++;
	assert_true(mg_tcp_listen(&N->st[B], IP_B, PORT_SRV, 64, &ops, NULL) >= 0);
	N->now = 1000000;
}

static int setup(void **state)
{
	start(0, 0);
	*state = N;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	drop_held();
	for (int s = 0; s < 2; s++)
		mg_tcp_stack_free(&N->st[s]);
	free(N);
	N = NULL;
	assert_int_equal(rte_mempool_avail_count(pool), pool_full);
	return 0;
}

static void restart(uint32_t flags, uint32_t tw_max)
{
	teardown(NULL);
	start(flags, tw_max);
}

static struct mg_tcp_key key_a(uint16_t sport)
{
	return (struct mg_tcp_key){.lip = IP_A, .rip = IP_B, .lport = RTE_BE16(sport),
				   .rport = PORT_SRV};
}

static int try_connect(uint16_t sport, struct end **ea)
{
	struct end *e = &N->ends[A][N->n_ends[A]++ % RTE_DIM(N->ends[A])];
	struct mg_tcp_connect_args a = {
		.port = 0, .src_ip = IP_A, .dst_ip = IP_B,
		.src_port = RTE_BE16(sport), .dst_port = PORT_SRV, .ops = &ops, .user = e,
	};

	memset(e, 0, sizeof(*e));
	memcpy(a.next_hop_mac, MAC_B, 6);
	*ea = e;
	return mg_tcp_connect(&N->st[A], &a, &e->c);
}

/* A connects from @p sport; both ends up. */
static void open_pair(uint16_t sport, struct end **ea, struct end **eb)
{
	unsigned before = N->n_ends[B];

	assert_int_equal(try_connect(sport, ea), 0);
	run_for(5000);
	assert_true((*ea)->up);
	assert_int_equal(N->n_ends[B], before + 1);
	*eb = &N->ends[B][before];
}

/* @p first closes, then the other: the first is left in TIME-WAIT. */
static void close_pair(struct end *ea, struct end *eb, int first)
{
	struct end *f = first == A ? ea : eb, *o = first == A ? eb : ea;

	mg_tcp_close(&N->st[first], f->c);
	run_for(5000);
	mg_tcp_close(&N->st[!first], o->c);
	run_for(5000);
}

/* ---- cases ---------------------------------------------------------------- */

static void closed_time_wait_leaves_a_record_not_a_connection(void **state)
{
	const struct mg_tcp_key k = key_a(40000);
	struct end *ea, *eb;

	(void)state;
	open_pair(40000, &ea, &eb);
	close_pair(ea, eb, A);
	/* The connection is gone from the table and its slot is free ... */
	assert_null(mg_tcp_lookup(&N->st[A], &k));
	for (int st = MG_TCP_LISTEN; st < MG_TCP_TIME_WAIT; st++)
		assert_int_equal(N->st[A].st.conns[st], 0);
	/* ... and a record holds the tuple, counted as TIME-WAIT. */
	assert_int_equal(N->st[A].tw_count, 1);
	assert_int_equal(N->st[A].st.conns[MG_TCP_TIME_WAIT], 1);
	assert_non_null(tw_lookup(&N->st[A], &k));
	assert_false(mg_tcp_tuple_free(&N->st[A], &k));
	assert_int_equal(N->st[A].st.closes[MG_TCP_CLOSE_NORMAL], 0);
	/* 2 MSL later it ends, counted as the connection's normal close. */
	run_for(MSL2 + 10000);
	assert_int_equal(N->st[A].tw_count, 0);
	assert_int_equal(N->st[A].st.conns[MG_TCP_TIME_WAIT], 0);
	assert_int_equal(N->st[A].st.closes[MG_TCP_CLOSE_NORMAL], 1);
	assert_true(mg_tcp_tuple_free(&N->st[A], &k));
}

/* Inject into stack @p to a segment from the peer of record @p t. */
static void inject_to_record(int to, const struct mg_tcp_tw *t, uint32_t seq, uint32_t ack,
			     uint8_t flags, uint32_t tsval)
{
	const struct wire_seg seg = {
		.src_mac = t->peer_mac, .dst_mac = N->st[to].p.ports[0].mac,
		.src_ip = t->key.rip, .dst_ip = t->key.lip,
		.src_port = t->key.rport, .dst_port = t->key.lport,
		.seq = seq, .ack = ack, .flags = flags, .win = 65535,
		.optlen = tsval ? 12 : 0,
	};
	struct rte_mbuf *m = wire_seg_new(pool, &seg);
	uint8_t *o;

	assert_non_null(m);
	if (tsval) {
		uint32_t v = rte_cpu_to_be_32(tsval), e = 0;

		o = wire_seg_opts(m);
		o[0] = o[1] = 1;
		o[2] = 8;
		o[3] = 10;
		memcpy(o + 4, &v, 4);
		memcpy(o + 8, &e, 4);
	}
	wire_seg_cksum(m);
	deliver(to, m);
}

static void record_acks_a_retransmitted_fin_and_restarts(void **state)
{
	struct end *ea, *eb;
	struct mg_tcp_tw *t;
	uint64_t exp0;

	(void)state;
	open_pair(40001, &ea, &eb);
	close_pair(ea, eb, A);
	t = tw_lookup(&N->st[A], &(struct mg_tcp_key){IP_A, IP_B, RTE_BE16(40001), PORT_SRV});
	assert_non_null(t);
	exp0 = t->expire;
	N->hold = true;
	run_for(500000);
	inject_to_record(A, t, t->rcv_nxt - 1, t->snd_nxt, TH_FIN | TH_ACK, t->ts_recent + 1);
	collect();
	assert_int_equal(N->n_fl, 1); /* the ACK again, from the record */
	assert_int_equal(held_tcp(0)->tcp_flags, TH_ACK);
	assert_int_equal(rte_be_to_cpu_32(held_tcp(0)->recv_ack), t->rcv_nxt);
	assert_int_equal(rte_be_to_cpu_32(held_tcp(0)->sent_seq), t->snd_nxt);
	assert_true(t->expire >= exp0 + 500000); /* 2 MSL from now */
	drop_held();
	/* An RST does not end it (RFC 1337) and is not answered. */
	inject_to_record(A, t, t->rcv_nxt, 0, TH_RST, 0);
	collect();
	assert_int_equal(N->n_fl, 0);
	assert_int_equal(N->st[A].st.drops[MG_TCP_DROP_RST_TIME_WAIT], 1);
	assert_int_equal(N->st[A].tw_count, 1);
	/* A timestamp older than the last one seen is dropped with an ACK (PAWS). */
	inject_to_record(A, t, t->rcv_nxt, t->snd_nxt, TH_ACK, t->ts_recent - 5);
	collect();
	assert_int_equal(N->n_fl, 1);
	assert_int_equal(N->st[A].st.drops[MG_TCP_DROP_PAWS], 1);
	N->hold = false;
}

/* RFC 6191 on the passive side: the server closed first and holds the record;
 * the client's new SYN on the tuple has a newer timestamp and is accepted. */
static void newer_syn_takes_over_a_passive_record(void **state)
{
	struct end *ea, *eb, *ea2, *eb2;
	struct mg_tcp_tw *t;
	uint32_t old_snd_nxt;

	(void)state;
	open_pair(40002, &ea, &eb);
	close_pair(ea, eb, B);
	t = tw_lookup(&N->st[B], &(struct mg_tcp_key){IP_B, IP_A, PORT_SRV, RTE_BE16(40002)});
	assert_non_null(t);
	old_snd_nxt = t->snd_nxt;
	assert_int_equal(N->st[A].st.conns[MG_TCP_TIME_WAIT], 0); /* A closed last */
	run_for(50000);
	open_pair(40002, &ea2, &eb2);
	assert_int_equal(CTR_OF(B, tw_recycled), 1);
	assert_int_equal(N->st[B].st.closes[MG_TCP_CLOSE_TW_RECYCLED], 1);
	assert_int_equal(N->st[B].tw_count, 0);
	assert_int_equal(mg_tcp_state(eb2->c), MG_TCP_ESTABLISHED);
	/* RFC 1122 4.2.2.13: the new ISN lies beyond the old incarnation. */
	assert_true(SEQ_GT(eb2->c->iss, old_snd_nxt + 65535));
}

static void older_syn_gets_a_challenge_ack(void **state)
{
	struct end *ea, *eb;
	struct mg_tcp_tw *t;

	(void)state;
	open_pair(40003, &ea, &eb);
	close_pair(ea, eb, B);
	t = tw_lookup(&N->st[B], &(struct mg_tcp_key){IP_B, IP_A, PORT_SRV, RTE_BE16(40003)});
	assert_non_null(t);
	N->hold = true;
	/* Not newer: its timestamp is the one the record saw last. */
	inject_to_record(B, t, t->rcv_nxt + 100000, 0, TH_SYN, t->ts_recent);
	collect();
	assert_int_equal(N->n_fl, 1);
	assert_int_equal(held_tcp(0)->tcp_flags, TH_ACK);
	assert_int_equal(CTR_OF(B, challenge_acks), 1);
	assert_int_equal(CTR_OF(B, tw_recycled), 0);
	assert_int_equal(N->st[B].tw_count, 1);
	assert_int_equal(N->st[B].st.conns[MG_TCP_SYN_RCVD], 0);
	N->hold = false;
}

/* RFC 6191 on the active side: our SYN must be one a peer still in TIME-WAIT
 * would take, a newer timestamp, so the tuple is free a second after the last
 * segment, and the new ISN jumps past the old incarnation's window. */
static void active_reuse_waits_a_second_and_jumps_the_isn(void **state)
{
	const struct mg_tcp_key k = {IP_A, IP_B, RTE_BE16(40004), PORT_SRV};
	struct end *ea, *eb, *ea2;
	uint32_t old_snd_nxt, old_ts;
	struct mg_tcp_tw *t;

	(void)state;
	open_pair(40004, &ea, &eb);
	close_pair(ea, eb, A);
	t = tw_lookup(&N->st[A], &k);
	assert_non_null(t);
	old_snd_nxt = t->snd_nxt;
	old_ts = (uint32_t)(N->now / 1000) + t->ts_offset;
	assert_false(mg_tcp_tuple_free(&N->st[A], &k));
	assert_int_equal(try_connect(40004, &ea2), -1);
	assert_int_equal(mg_errno(), MG_ERR_USAGE);
	assert_non_null(strstr(mg_errmsg(), "TIME-WAIT"));
	run_for(1000000);
	assert_true(mg_tcp_tuple_free(&N->st[A], &k));
	N->hold = true;
	assert_int_equal(try_connect(40004, &ea2), 0);
	assert_int_equal(CTR_OF(A, tw_recycled), 1);
	assert_int_equal(N->st[A].st.closes[MG_TCP_CLOSE_TW_RECYCLED], 1);
	assert_int_equal(N->st[A].tw_count, 0);
	assert_true(SEQ_GT(ea2->c->iss, old_snd_nxt + 65535));
	collect();
	assert_int_equal(N->n_fl, 1);
	assert_int_equal(held_tcp(0)->tcp_flags, TH_SYN);
	assert_true(SEQ_GT(held_tsval(0), old_ts));
	N->hold = false;
	for (unsigned i = 0; i < N->n_fl; i++)
		deliver(N->fl_to[i], N->fl[i]);
	N->n_fl = 0;
	run_for(5000);
	assert_true(ea2->up);
}

static void no_active_reuse_without_timestamps(void **state)
{
	const struct mg_tcp_key k = {IP_A, IP_B, RTE_BE16(40005), PORT_SRV};
	struct end *ea, *eb;

	(void)state;
	restart(MG_TCP_F_NO_TS, 0);
	open_pair(40005, &ea, &eb);
	close_pair(ea, eb, A);
	run_for(1500000);
	assert_false(mg_tcp_tuple_free(&N->st[A], &k)); /* old duplicates: no PAWS */
	run_for(MSL2);
	assert_true(mg_tcp_tuple_free(&N->st[A], &k));
}

static void full_table_gives_way_oldest_first(void **state)
{
	struct end *ea, *eb;

	(void)state;
	restart(0, 64);
	for (uint16_t i = 0; i < 65; i++) {
		open_pair((uint16_t)(41000 + i), &ea, &eb);
		close_pair(ea, eb, A);
	}
	assert_int_equal(N->st[A].tw_count, 64);
	assert_int_equal(CTR_OF(A, tw_evicted), 1);
	assert_null(tw_lookup(&N->st[A], &(struct mg_tcp_key){IP_A, IP_B, RTE_BE16(41000),
			      PORT_SRV}));
	assert_non_null(tw_lookup(&N->st[A], &(struct mg_tcp_key){IP_A, IP_B, RTE_BE16(41001),
				  PORT_SRV}));
	assert_non_null(tw_lookup(&N->st[A], &(struct mg_tcp_key){IP_A, IP_B, RTE_BE16(41064),
				  PORT_SRV}));
}

/*
 * 100 000 records (made directly: tw_add from a closed connection's state)
 * beside a connection table of 64: connections still open and close in it,
 * since a record takes no slot; the records expire a bounded number per timer
 * run, oldest first, and each run's work is that bound, not the table.
 */
static void hundred_thousand_records_take_no_connection_slot(void **state)
{
	struct mg_tcp_conn fake;
	struct end *ea, *eb;
	unsigned runs = 0;

	(void)state;
	restart(0, 131072);
	memset(&fake, 0, sizeof(fake));
	fake.flags = TF_TS_OK;
	for (uint32_t i = 0; i < 100000; i++) {
		fake.key = (struct mg_tcp_key){IP_A, RTE_BE32(0x0a000000 + i / 50000),
					       RTE_BE16((uint16_t)(10000 + i % 50000)), PORT_SRV};
		N->st[A].now = N->now;
		assert_true(tw_add(&N->st[A], &fake));
	}
	assert_int_equal(N->st[A].tw_count, 100000);
	assert_int_equal(N->st[A].st.conns[MG_TCP_TIME_WAIT], 100000);
	for (uint16_t i = 0; i < 100; i++) { /* more than the 64 slots, in turn */
		open_pair((uint16_t)(42000 + i), &ea, &eb);
		close_pair(ea, eb, B);
	}
	assert_int_equal(CTR_OF(A, conn_bound_hits), 0);
	assert_int_equal(N->st[A].tw_count, 100000);
	/* Past 2 MSL every record ends, at most timer_budget per run. */
	N->now += MSL2;
	while (N->st[A].tw_count) {
		uint32_t before = N->st[A].tw_count;

		mg_tcp_timers_run(&N->st[A], N->now);
		assert_true(before - N->st[A].tw_count <= N->st[A].p.timer_budget);
		runs++;
	}
	assert_int_equal(runs, (100000 + N->st[A].p.timer_budget - 1) / N->st[A].p.timer_budget);
	assert_int_equal(N->st[A].st.closes[MG_TCP_CLOSE_NORMAL], 100000 + 100);
}

int main(int argc, char **argv)
{
	(void)argc;
	pool = wire_eal_pool(argv[0], "test_tcp_timewait", "tw_pool", 4095);
	if (!pool)
		return 1;
	pool_full = rte_mempool_avail_count(pool);
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(closed_time_wait_leaves_a_record_not_a_connection),
		T(record_acks_a_retransmitted_fin_and_restarts),
		T(newer_syn_takes_over_a_passive_record),
		T(older_syn_gets_a_challenge_ack),
		T(active_reuse_waits_a_second_and_jumps_the_isn),
		T(no_active_reuse_without_timestamps),
		T(full_table_gives_way_oldest_first),
		T(hundred_thousand_records_take_no_connection_slot),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
