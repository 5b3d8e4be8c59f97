/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The TCP stack's guards against blind (off-path) attackers, issue 11 items 2
 * and 3: the challenge-ACK rate limit must not be a side channel (RFC 5961
 * section 7, CVE-2016-5696), and SYN-cookie ACKs are only tried for a while
 * after the SYN queue overflowed.
 *
 * One server stack under a fake clock; the peers are crafted segments
 * (tcp_wire.h) and what the stack sends is read back from its TX ring, so a
 * case can count exactly the segments that went to one tuple. Every case ends
 * by checking that every mbuf went back to the pool.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tcp/tcp.h"
#include "tcp/tcp_priv.h"
#include "tcp_wire.h"

#define IP_SRV RTE_BE32(0xc6120101) /* 198.18.1.1 */
#define PORT_SRV RTE_BE16(8080)
#define T0 1000000ULL               /* the clock at the start of a case, µs */

static const uint8_t MAC_PEER[6] = {0x02, 0, 0, 0, 0, 0xa};
static const uint8_t MAC_SRV[6] = {0x02, 0, 0, 0, 0, 0xb};
static struct rte_mempool *pool;
static unsigned pool_full;
static unsigned stack_seq;

static struct mg_tcp_stack *S;
static uint64_t now;

/* What the stack sent, headers only; the case reads and clears it. */
struct out_seg {
	uint32_t dst_ip;
	uint16_t dst_port;
	uint32_t seq, ack;
	uint8_t flags;
};
#define MAX_OUT 4096
static struct out_seg out[MAX_OUT];
static unsigned n_out;
static uint64_t n_out_total; /* every segment taken, kept or not */

/* A peer: its tuple and where its side of the sequence space is. */
struct peer {
	uint32_t ip;     /* network order */
	uint16_t port;   /* network order */
	uint32_t seq;    /* next sequence number it sends */
	uint32_t ack;    /* what it acknowledges */
};

static void *on_accept(void *lu, struct mg_tcp_conn *c)
{
	(void)lu;
	(void)c;
	return &stack_seq; /* any non-NULL handle: accepted */
}

static void on_event(void *user, struct mg_tcp_conn *c, unsigned ev)
{
	(void)user;
	(void)c;
	(void)ev;
}

static const struct mg_tcp_ops ops = {.accept = on_accept, .event = on_event};

/* ---- the stack and its wire ----------------------------------------------- */

static void params(struct mg_tcp_params *p)
{
	char *name = malloc(32);

	assert_non_null(name);
	snprintf(name, 32, "tcpguard%u", stack_seq++);
	mg_tcp_params_default(p);
	p->name = name;
	p->max_conns = 256;
	p->pool = pool;
	p->rcvbuf = p->sndbuf = 64 * 1024;
	p->mem_max = 8 * 1024 * 1024;
	memcpy(p->ports[0].mac, MAC_SRV, 6);
	p->ports[0].ip = IP_SRV;
	for (int i = 0; i < 16; i++)
		p->isn_secret[i] = (uint8_t)(i * 13 + 5);
}

static void start(struct mg_tcp_params *p)
{
	S = calloc(1, sizeof(*S));
	assert_non_null(S);
	assert_int_equal(mg_tcp_stack_init(S, p), 0);
	free((char *)p->name);
	S->p.name = NULL; /* only rte_hash kept its own copy */
	now = T0;
	n_out = 0;
	n_out_total = 0;
	mg_tcp_timers_run(S, now);
}

static void stop(void)
{
	struct rte_mbuf *m[32];
	uint16_t k;

	while ((k = mg_tcp_tx_take(S, m, 32)) > 0)
		rte_pktmbuf_free_bulk(m, k);
	mg_tcp_stack_free(S);
	free(S);
	S = NULL;
	/* Every mbuf is back: nothing leaked in the stack. */
	assert_int_equal(rte_mempool_avail_count(pool), pool_full);
}

static int setup(void **state)
{
	struct mg_tcp_params p;

	(void)state;
	params(&p);
	start(&p);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	stop();
	return 0;
}

/* Cases that need other parameters start over with them. */
static void restart(struct mg_tcp_params *p)
{
	stop();
	start(p);
}

/* Take what the stack sent: headers into out[] (while there is room). */
static void take(void)
{
	struct rte_mbuf *m[32];
	uint16_t k;

	while ((k = mg_tcp_tx_take(S, m, 32)) > 0) {
		for (uint16_t i = 0; i < k; i++) {
			uint8_t buf[54];
			const uint8_t *f = rte_pktmbuf_read(m[i], 0, sizeof(buf), buf);
			const struct rte_ipv4_hdr *ip = (const void *)(f + 14);
			const struct rte_tcp_hdr *th = (const void *)(f + 34);

			assert_non_null(f);
			n_out_total++;
			if (n_out < MAX_OUT)
				out[n_out++] = (struct out_seg){
					.dst_ip = ip->dst_addr, .dst_port = th->dst_port,
					.seq = rte_be_to_cpu_32(th->sent_seq),
					.ack = rte_be_to_cpu_32(th->recv_ack),
					.flags = th->tcp_flags,
				};
		}
		rte_pktmbuf_free_bulk(m, k);
	}
}

/* Segments in out[] to @p p with exactly @p flags. */
static unsigned sent_to(const struct peer *p, uint8_t flags)
{
	unsigned n = 0;

	for (unsigned i = 0; i < n_out; i++)
		if (out[i].dst_ip == p->ip && out[i].dst_port == p->port &&
		    out[i].flags == flags)
			n++;
	return n;
}

/* A segment from @p p to the listener's port, at the clock's time. */
static void inject(const struct peer *p, uint32_t seq, uint32_t ack, uint8_t flags)
{
	const struct wire_seg seg = {
		.src_mac = MAC_PEER, .dst_mac = MAC_SRV,
		.src_ip = p->ip, .dst_ip = IP_SRV,
		.src_port = p->port, .dst_port = PORT_SRV,
		.seq = seq, .ack = ack, .flags = flags, .win = 65535,
	};
	struct rte_mbuf *m = wire_seg_new(pool, &seg);
	struct mg_pkt pkt;

	assert_non_null(m);
	wire_seg_cksum(m);
	wire_pkt(&pkt, rte_pktmbuf_mtod(m, const uint8_t *), 20);
	m->port = 0;
	mg_tcp_input(S, m, &pkt, now);
	mg_tcp_flush(S);
}

static struct mg_tcp_key key_of(const struct peer *p)
{
	return (struct mg_tcp_key){.lip = IP_SRV, .rip = p->ip, .lport = PORT_SRV,
				   .rport = p->port};
}

static struct mg_tcp_conn *conn_of(const struct peer *p)
{
	struct mg_tcp_key k = key_of(p);

	return mg_tcp_lookup(S, &k);
}

static struct peer peer(unsigned i)
{
	return (struct peer){.ip = rte_cpu_to_be_32(0xc6120200 + (i & 0xff)),
			     .port = rte_cpu_to_be_16((uint16_t)(20000 + i)),
			     .seq = 1000u * (i + 1)};
}

/* A SYN from @p p; returns the ISN of the stack's SYN-ACK (a cookie or not). */
static uint32_t syn(struct peer *p)
{
	n_out = 0;
	inject(p, p->seq, 0, TH_SYN);
	take();
	assert_int_equal(sent_to(p, TH_SYN | TH_ACK), 1);
	p->seq++;
	for (unsigned i = 0; i < n_out; i++)
		if (out[i].dst_port == p->port)
			p->ack = out[i].seq + 1;
	n_out = 0;
	return p->ack - 1;
}

/* The whole handshake: @p p ends ESTABLISHED on the stack. */
static struct mg_tcp_conn *open_conn(struct peer *p)
{
	struct mg_tcp_conn *c;

	syn(p);
	inject(p, p->seq, p->ack, TH_ACK);
	c = conn_of(p);
	assert_non_null(c);
	assert_int_equal(mg_tcp_state(c), MG_TCP_ESTABLISHED);
	take();
	n_out = 0;
	return c;
}

/* An RST inside @p c's window but not at RCV.NXT: RFC 5961 3.2 challenges it. */
static void rst_in_window(const struct peer *p, const struct mg_tcp_conn *c, uint32_t off)
{
	inject(p, c->rcv_nxt + 1 + off % 60000, 0, TH_RST);
}

#define CTR_OF(name) (S->st.ctr[MG_TCP_CTR_##name])
#define DROP_OF(name) (S->st.drops[MG_TCP_DROP_##name])

/* ---- challenge ACKs (issue 11 item 2) --------------------------------------- */

static void challenge_acks_are_limited_per_connection(void **state)
{
	struct peer a = peer(1);
	struct mg_tcp_conn *c;

	(void)state;
	assert_true(mg_tcp_listen(S, 0, PORT_SRV, 16, &ops, NULL) >= 0);
	c = open_conn(&a);
	for (uint32_t i = 0; i < 100; i++)
		rst_in_window(&a, c, i);
	take();
	assert_int_equal(sent_to(&a, TH_ACK), 1);
	assert_int_equal(out[0].ack, c->rcv_nxt);
	assert_int_equal(CTR_OF(challenge_acks), 1);
	assert_int_equal(CTR_OF(challenge_acks_conn_limited), 99);
	now += S->p.challenge_ack_gap - 1; /* not yet */
	rst_in_window(&a, c, 7);
	take();
	assert_int_equal(sent_to(&a, TH_ACK), 1);
	now += 1; /* one gap after the first */
	rst_in_window(&a, c, 8);
	take();
	assert_int_equal(sent_to(&a, TH_ACK), 2);
	assert_int_equal(CTR_OF(challenge_acks), 2);
	assert_int_equal(CTR_OF(challenge_acks_conn_limited), 100);
	assert_int_equal(CTR_OF(challenge_acks_global_limited), 0);
	assert_int_equal(mg_tcp_state(c), MG_TCP_ESTABLISHED);
}

/*
 * The core's budget: each epoch lasts 0.5..1.5 s and allows limit/2 ..
 * limit*3/2 - 1 challenge ACKs, both drawn anew per epoch. Measured by what
 * goes out, with the per-connection gap at 1 µs so only the budget limits.
 */
static void global_budget_is_random_in_size_and_length(void **state)
{
	struct mg_tcp_params p;
	struct peer a = peer(1);
	struct mg_tcp_conn *c;
	unsigned sizes[64], distinct_sizes = 0, distinct_lens = 0;
	uint64_t lens[64];

	(void)state;
	params(&p);
	p.challenge_ack_limit = 8;
	p.challenge_ack_gap = 1;
	restart(&p);
	assert_true(mg_tcp_listen(S, 0, PORT_SRV, 16, &ops, NULL) >= 0);
	c = open_conn(&a);
	for (unsigned e = 0; e < 64; e++) {
		uint64_t start = now;

		n_out = 0;
		for (uint32_t i = 0; i < 40; i++, now++)
			rst_in_window(&a, c, i);
		take();
		sizes[e] = sent_to(&a, TH_ACK);
		lens[e] = S->chack_epoch_end - start;
		assert_in_range(sizes[e], 4, 11);
		assert_in_range(lens[e], 500000, 1499999);
		now = S->chack_epoch_end; /* the next challenge starts a new epoch */
		for (unsigned j = 0; j < e; j++) {
			if (sizes[j] == sizes[e])
				break;
			if (j == e - 1)
				distinct_sizes++;
		}
		for (unsigned j = 0; j < e; j++) {
			if (lens[j] == lens[e])
				break;
			if (j == e - 1)
				distinct_lens++;
		}
	}
	/* Not a constant: (nearly) every value of the range shows up. */
	assert_true(distinct_sizes + 1 >= 6);
	assert_true(distinct_lens + 1 >= 60);
	assert_int_equal(CTR_OF(challenge_acks_conn_limited), 0);
	print_message("budget sizes: %u %u %u %u %u %u %u %u ..., epochs %lu %lu %lu µs ...\n",
		      sizes[0], sizes[1], sizes[2], sizes[3], sizes[4], sizes[5], sizes[6],
		      sizes[7], lens[0], lens[1], lens[2]);
}

/*
 * CVE-2016-5696: an attacker with a connection of its own counts its
 * challenge ACKs while it sprays spoofed RSTs at a victim's tuple. If those
 * are in the victim's window, each costs a challenge ACK from a shared budget,
 * and with one deterministic budget the attacker's own count drops. Here its
 * count must be the same whether the spoofed RSTs hit the window or not.
 * Returns the attacker's count over @p secs seconds.
 */
static unsigned side_channel_round(bool victim_in_window, unsigned secs, unsigned spray)
{
	struct peer atk = peer(1), vic = peer(2);
	struct mg_tcp_conn *ca, *cv;
	unsigned got = 0;
	uint64_t end;

	assert_true(mg_tcp_listen(S, 0, PORT_SRV, 16, &ops, NULL) >= 0);
	ca = open_conn(&atk);
	cv = open_conn(&vic);
	end = now + secs * 1000000ULL;
	for (uint32_t t = 0; now < end; t++, now += 1000) { /* every millisecond */
		for (unsigned i = 0; i < spray; i++)
			inject(&vic, victim_in_window ? cv->rcv_nxt + 1 + (t * spray + i) % 60000
						      : cv->rcv_nxt + 10 * 1024 * 1024, 0, TH_RST);
		rst_in_window(&atk, ca, t);
		take();
		got += sent_to(&atk, TH_ACK);
		n_out = 0;
	}
	assert_int_equal(mg_tcp_state(ca), MG_TCP_ESTABLISHED);
	assert_int_equal(mg_tcp_state(cv), MG_TCP_ESTABLISHED);
	return got;
}

static void attacker_count_does_not_tell_victims_window(void **state)
{
	struct mg_tcp_params p;
	unsigned hit, miss, victim_acks;
	uint64_t global_limited;

	(void)state;
	/* 20 spoofed RSTs a millisecond at the victim: 20 000/s, far past the
	 * core's budget, and one RST a millisecond on the attacker's own. */
	hit = side_channel_round(true, 3, 20);
	victim_acks = (unsigned)CTR_OF(challenge_acks) - hit;
	global_limited = CTR_OF(challenge_acks_global_limited);
	params(&p);
	restart(&p);
	miss = side_channel_round(false, 3, 20);
	print_message("attacker's challenge ACKs in 3 s: %u (victim RSTs in window, victim "
		      "challenged %u times, %lu refused by the budget), %u (out of window)\n",
		      hit, victim_acks, global_limited, miss);
	assert_int_equal(global_limited, 0);
	assert_int_equal(hit, miss);
	/* Both are the per-connection limit: one per 500 ms. */
	assert_int_equal(hit, 6);
	assert_true(victim_acks >= 1 && victim_acks <= 6);
}

/* ---- SYN cookies only after an overflow (issue 11 item 3) -------------------- */

/*
 * An ACK carrying a cookie that cookie_check() would accept (as one random
 * ACK in 5.6 M does) while the listener's queue never overflowed: ignored,
 * answered with RST. Once the queue overflows, the same ACK opens: it was
 * the window that refused it, not the cookie.
 */
static void valid_cookie_without_overflow_is_ignored(void **state)
{
	struct peer a = peer(1), b = peer(2);
	struct mg_tcp_key k = key_of(&a);
	uint32_t cookie;

	(void)state;
	assert_true(mg_tcp_listen(S, 0, PORT_SRV, 0, &ops, NULL) >= 0);
	S->now = now;
	cookie = cookie_make(S, &k, a.seq, 1460, 15, false);
	inject(&a, a.seq + 1, cookie + 1, TH_ACK);
	take();
	assert_null(conn_of(&a));
	assert_int_equal(CTR_OF(syncookies_ignored), 1);
	assert_int_equal(DROP_OF(SYNCOOKIE_NO_OVERFLOW), 1);
	assert_int_equal(CTR_OF(syncookies_validated), 0);
	assert_int_equal(CTR_OF(syncookies_failed), 0);
	assert_int_equal(sent_to(&a, TH_RST), 1);
	assert_int_equal(S->st.conns[MG_TCP_ESTABLISHED], 0);

	now += 1000;
	syn(&b); /* backlog 0: a cookie, so the queue overflowed */
	assert_int_equal(CTR_OF(syncookies_sent), 1);
	inject(&a, a.seq + 1, cookie + 1, TH_ACK);
	assert_non_null(conn_of(&a));
	assert_int_equal(CTR_OF(syncookies_validated), 1);
	assert_int_equal(CTR_OF(syncookies_ignored), 1);
}

/* After an overflow at T, cookies open until T + syncookie_valid, not after,
 * though the cookie itself would still check out then. */
static void cookie_opens_within_the_window_not_after(void **state)
{
	struct peer a = peer(1), b = peer(2);
	struct mg_tcp_key kb = key_of(&b);
	uint64_t t_overflow;
	uint32_t cookie_b;
	uint16_t mss;
	uint8_t ws;
	bool sack;

	(void)state;
	assert_true(mg_tcp_listen(S, 0, PORT_SRV, 0, &ops, NULL) >= 0);
	t_overflow = now;
	syn(&a);
	cookie_b = syn(&b);
	assert_int_equal(CTR_OF(syncookies_sent), 2);

	now = t_overflow + S->p.syncookie_valid - 1;
	inject(&a, a.seq, a.ack, TH_ACK);
	assert_non_null(conn_of(&a));
	assert_int_equal(mg_tcp_state(conn_of(&a)), MG_TCP_ESTABLISHED);
	assert_int_equal(CTR_OF(syncookies_validated), 1);

	now = t_overflow + S->p.syncookie_valid;
	S->now = now;
	assert_true(cookie_check(S, &kb, b.seq - 1, cookie_b, &mss, &ws, &sack));
	n_out = 0;
	inject(&b, b.seq, b.ack, TH_ACK);
	take();
	assert_null(conn_of(&b));
	assert_int_equal(CTR_OF(syncookies_validated), 1);
	assert_int_equal(CTR_OF(syncookies_ignored), 1);
	assert_int_equal(sent_to(&b, TH_RST), 1);
}

/* A million random ACKs with the queue never full: none is tried, none opens. */
static void a_million_random_acks_open_nothing(void **state)
{
	uint64_t rng = 0x2545f4914f6cdd1dULL;
	const uint32_t n = 1000000;

	(void)state;
	assert_true(mg_tcp_listen(S, 0, PORT_SRV, 16, &ops, NULL) >= 0);
	for (uint32_t i = 0; i < n; i++) {
		struct peer p = {
			.ip = rte_cpu_to_be_32(0xc6120000 | (wire_rnd(&rng) & 0xffff)),
			.port = (uint16_t)(wire_rnd(&rng) | 1),
		};

		inject(&p, wire_rnd(&rng), wire_rnd(&rng), TH_ACK);
		if ((i & 1023) == 1023) {
			take();
			n_out = 0;
			now++;
		}
	}
	take();
	print_message("%u random ACKs: %lu ignored, %lu tried and failed, %lu opened\n", n,
		      CTR_OF(syncookies_ignored), CTR_OF(syncookies_failed),
		      CTR_OF(syncookies_validated));
	assert_int_equal(CTR_OF(syncookies_ignored), n);
	assert_int_equal(CTR_OF(syncookies_failed), 0);
	assert_int_equal(CTR_OF(syncookies_validated), 0);
	assert_int_equal(CTR_OF(passive_opens), 0);
	assert_int_equal(S->st.conns[MG_TCP_ESTABLISHED], 0);
	assert_int_equal(CTR_OF(rst_sent), n);
	assert_int_equal(n_out_total, n);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(challenge_acks_are_limited_per_connection),
		T(global_budget_is_random_in_size_and_length),
		T(attacker_count_does_not_tell_victims_window),
		T(valid_cookie_without_overflow_is_ignored),
		T(cookie_opens_within_the_window_not_after),
		T(a_million_random_acks_open_nothing),
#undef T
	};
	(void)argc;
	return WIRE_MAIN(tests, argv[0], "mgtest-tcpguard", "tcpguard", 16383, pool, pool_full);
}
