/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fault injection: the per-burst functions on mbufs from a mempool, with the
 * TSC passed in so delays and timeouts are exact, and the whole path through
 * ethdev callbacks on a net_ring port (its TX feeds its own RX).
 *
 * Every case checks the mempool: the pool has no per-lcore cache, so its
 * in-use count is exact, and after a case it is back where it started.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "fault.h"
#include "port.h"

#define BURST 32
#define T0 1000000000ull /* an arbitrary TSC start */
#define MAX_OUT 65536

static struct rte_mempool *pool;
static uint64_t hz;
static uint32_t out[MAX_OUT]; /* tags of the packets that came out, in order */

static uint64_t tsc_us(uint64_t us)
{
	return us * hz / 1000000; /* the same rounding as fault.c */
}

static unsigned in_use(void)
{
	return rte_mempool_in_use_count(pool);
}

static struct mg_fault_dir_config quiet(void)
{
	struct mg_fault_dir_config c = { .reorder_depth = 4, .delay_slots = 256 };

	return c;
}

static struct mg_fault_queue *make(const struct mg_fault_dir_config *c,
				   enum mg_fault_dir dir, uint32_t seed)
{
	struct mg_fault_queue *fq = mg_fault_queue_create(c, dir, seed, 0, pool,
							  (int)rte_socket_id());

	if (!fq)
		fail_msg("create: %s", mg_errmsg());
	return fq;
}

static struct mg_fault_counters counters(const struct mg_fault_queue *fq)
{
	struct mg_fault_counters c;

	memset(&c, 0, sizeof(c));
	mg_fault_queue_read(fq, &c);
	return c;
}

/* A frame of @len bytes; bytes 14..17 (past the Ethernet header) carry @tag. */
static struct rte_mbuf *pkt_len(uint32_t tag, uint16_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	uint8_t *p;

	assert_non_null(m);
	p = (uint8_t *)rte_pktmbuf_append(m, len);
	assert_non_null(p);
	for (uint16_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 7 + tag);
	if (len >= 18)
		memcpy(p + 14, &tag, sizeof(tag));
	return m;
}

static struct rte_mbuf *pkt(uint32_t tag)
{
	return pkt_len(tag, 64);
}

static uint32_t tag_of(const struct rte_mbuf *m)
{
	uint32_t t;

	memcpy(&t, rte_pktmbuf_mtod_offset(m, const uint8_t *, 14), sizeof(t));
	return t;
}

/* Record and free what came out. */
static void take(struct rte_mbuf **b, uint16_t n, unsigned *got)
{
	for (uint16_t i = 0; i < n; i++) {
		assert_true(*got < MAX_OUT);
		out[(*got)++] = tag_of(b[i]);
		rte_pktmbuf_free(b[i]);
	}
}

/* Tags first..first+n-1 into RX in bursts of BURST at time @now. */
static void feed_rx(struct mg_fault_queue *fq, uint32_t first, unsigned n, uint64_t now,
		    unsigned *got)
{
	struct rte_mbuf *b[BURST];

	for (unsigned sent = 0; sent < n;) {
		uint16_t k = (uint16_t)(n - sent < BURST ? n - sent : BURST);

		for (uint16_t i = 0; i < k; i++)
			b[i] = pkt(first + sent + i);
		sent += k;
		take(b, mg_fault_rx(fq, b, k, BURST, now), got);
	}
}

/* Empty polls at time @now until nothing more comes (bounded). */
static void drain_rx(struct mg_fault_queue *fq, uint64_t now, unsigned *got)
{
	struct rte_mbuf *b[BURST];
	uint16_t r;
	int polls = 0;

	do {
		r = mg_fault_rx(fq, b, 0, BURST, now);
		take(b, r, got);
		assert_true(++polls < 10000);
	} while (r);
}

/* ---- loss -------------------------------------------------------------- */

static void loss_zero_keeps_all_in_order(void **state)
{
	struct mg_fault_dir_config c = quiet();
	unsigned start = in_use(), got = 0;
	struct mg_fault_queue *fq;

	(void)state;
	c.loss = 0.0;
	fq = make(&c, MG_FAULT_RX, 1);
	feed_rx(fq, 0, 1000, T0, &got);
	assert_int_equal(got, 1000);
	for (unsigned i = 0; i < got; i++)
		assert_int_equal(out[i], i);
	assert_int_equal(counters(fq).seen, 1000);
	assert_int_equal(counters(fq).lost, 0);
	assert_int_equal(counters(fq).held, 0);
	mg_fault_queue_free(fq);
	assert_int_equal(in_use(), start);
}

static void loss_one_drops_all(void **state)
{
	struct mg_fault_dir_config c = quiet();
	unsigned start = in_use(), got = 0;
	struct mg_fault_queue *fq;

	(void)state;
	c.loss = 1;
	fq = make(&c, MG_FAULT_RX, 1);
	feed_rx(fq, 0, 1000, T0, &got);
	drain_rx(fq, T0 + hz, &got);
	assert_int_equal(got, 0);
	assert_int_equal(counters(fq).lost, 1000);
	assert_int_equal(in_use(), start); /* freed at once, not held */
	mg_fault_queue_free(fq);
}

/* Lost count of 20000 packets at p = 0.3: mean 6000, sigma 64.8; allow 5 sigma. */
static void loss_rate_within_binomial_bound(void **state)
{
	struct mg_fault_dir_config c = quiet();
	unsigned start = in_use(), got = 0, n = 20000;
	struct mg_fault_queue *fq;
	uint64_t lost;

	(void)state;
	c.loss = 0.3;
	fq = make(&c, MG_FAULT_RX, 42);
	feed_rx(fq, 0, n, T0, &got);
	lost = counters(fq).lost;
	printf("# loss 0.3 over %u packets, seed 42: %lu lost\n", n, (unsigned long)lost);
	assert_true(lost >= 6000 - 324 && lost <= 6000 + 324);
	assert_int_equal(got + lost, n);
	for (unsigned i = 1; i < got; i++) /* survivors keep their order */
		assert_true(out[i] > out[i - 1]);
	mg_fault_queue_free(fq);
	assert_int_equal(in_use(), start);
}

/* Which of 2000 packets survive p = 0.5, as a string of 0/1. */
static void survivors(uint32_t seed, uint16_t queue, enum mg_fault_dir dir, char *mask)
{
	struct mg_fault_dir_config c = quiet();
	struct mg_fault_queue *fq;
	unsigned got = 0;

	c.loss = 0.5;
	fq = mg_fault_queue_create(&c, dir, seed, queue, pool, (int)rte_socket_id());
	assert_non_null(fq);
	if (dir == MG_FAULT_RX) {
		feed_rx(fq, 0, 2000, T0, &got);
	} else {
		for (unsigned i = 0; i < 2000; i++) {
			struct rte_mbuf *m = pkt(i);
			uint16_t r = mg_fault_tx(fq, &m, 1, T0);

			take(&m, r, &got);
			if (!r)
				rte_pktmbuf_free(m); /* the unsent tail is the caller's */
		}
	}
	memset(mask, '0', 2000);
	mask[2000] = '\0';
	for (unsigned i = 0; i < got; i++)
		mask[out[i]] = '1';
	mg_fault_queue_free(fq);
}

static void seed_queue_direction_make_the_stream(void **state)
{
	static char a[2001], b[2001], q1[2001], s2[2001], tx[2001];
	unsigned start = in_use();

	(void)state;
	survivors(7, 0, MG_FAULT_RX, a);
	survivors(7, 0, MG_FAULT_RX, b);
	survivors(7, 1, MG_FAULT_RX, q1);
	survivors(8, 0, MG_FAULT_RX, s2);
	survivors(7, 0, MG_FAULT_TX, tx);
	assert_string_equal(a, b);
	assert_string_not_equal(a, q1);
	assert_string_not_equal(a, s2);
	assert_string_not_equal(a, tx);
	assert_int_equal(in_use(), start);
}

/* ---- duplication ------------------------------------------------------- */

static void duplicate_makes_exact_copies(void **state)
{
	struct mg_fault_dir_config c = quiet();
	unsigned start = in_use();
	struct rte_mbuf *b[BURST];
	struct mg_fault_queue *fq;

	(void)state;
	c.duplicate = 1.0;
	fq = make(&c, MG_FAULT_RX, 3);
	for (uint32_t t = 0; t < 100; t += 16) {
		uint16_t r;

		for (uint16_t i = 0; i < 16; i++)
			b[i] = pkt_len(t + i, 300);
		r = mg_fault_rx(fq, b, 16, BURST, T0);
		assert_int_equal(r, 32);
		for (uint16_t i = 0; i < 32; i += 2) {
			assert_ptr_not_equal(b[i], b[i + 1]);
			assert_int_equal(tag_of(b[i]), t + i / 2);
			assert_int_equal(rte_pktmbuf_pkt_len(b[i]), rte_pktmbuf_pkt_len(b[i + 1]));
			assert_memory_equal(rte_pktmbuf_mtod(b[i], void *),
					    rte_pktmbuf_mtod(b[i + 1], void *), 300);
			assert_int_equal(rte_mbuf_refcnt_read(b[i + 1]), 1);
		}
		rte_pktmbuf_free_bulk(b, r);
	}
	assert_int_equal(counters(fq).duplicated, 112);
	mg_fault_queue_free(fq);
	assert_int_equal(in_use(), start);
}

/* Copies come from the queue's pool; when it is empty the original still goes. */
static void duplicate_without_mbufs_is_counted(void **state)
{
	struct mg_fault_dir_config c = quiet();
	struct rte_mempool *tiny = rte_pktmbuf_pool_create("fault_tiny", 8, 0, 0,
							    RTE_MBUF_DEFAULT_BUF_SIZE,
							    (int)rte_socket_id());
	unsigned start = in_use();
	struct rte_mbuf *b[2 * BURST];
	struct mg_fault_queue *fq;
	uint16_t r;

	(void)state;
	assert_non_null(tiny);
	c.duplicate = 1;
	fq = mg_fault_queue_create(&c, MG_FAULT_RX, 3, 0, tiny, (int)rte_socket_id());
	assert_non_null(fq);
	for (uint16_t i = 0; i < BURST; i++)
		b[i] = pkt(i);
	r = mg_fault_rx(fq, b, BURST, 2 * BURST, T0);
	assert_int_equal(r, BURST + 8);
	assert_int_equal(counters(fq).duplicated, 8);
	assert_int_equal(counters(fq).alloc_failed, BURST - 8);
	rte_pktmbuf_free_bulk(b, r);
	mg_fault_queue_free(fq);
	assert_int_equal(in_use(), start);
	assert_int_equal(rte_mempool_in_use_count(tiny), 0);
	rte_mempool_free(tiny);
}

/* RX hands out at most max_pkts; the rest follows on the next polls. */
static void rx_never_exceeds_max(void **state)
{
	struct mg_fault_dir_config c = quiet();
	unsigned start = in_use(), got = 0;
	struct rte_mbuf *b[BURST];
	struct mg_fault_queue *fq;

	(void)state;
	c.duplicate = 1;
	fq = make(&c, MG_FAULT_RX, 3);
	for (uint16_t i = 0; i < BURST; i++)
		b[i] = pkt(i);
	assert_int_equal(mg_fault_rx(fq, b, BURST, BURST, T0), BURST);
	take(b, BURST, &got);
	assert_int_equal(counters(fq).held, BURST);
	drain_rx(fq, T0, &got);
	assert_int_equal(got, 2 * BURST);
	for (unsigned i = 0; i < got; i++) /* original, copy, original, copy ... */
		assert_int_equal(out[i], i / 2);
	mg_fault_queue_free(fq);
	assert_int_equal(in_use(), start);
}

/* ---- reordering -------------------------------------------------------- */

static void reorder_permutes_within_depth_and_loses_nothing(void **state)
{
	struct mg_fault_dir_config c = quiet();
	static unsigned pos[4000];
	unsigned start = in_use(), got = 0, n = 4000, moved = 0;
	struct mg_fault_queue *fq;

	(void)state;
	c.reorder = 0.3;
	c.reorder_depth = 4;
	fq = make(&c, MG_FAULT_RX, 5);
	feed_rx(fq, 0, n, T0, &got);
	assert_true(counters(fq).held <= (uint64_t)c.reorder_depth + BURST);
	drain_rx(fq, T0 + tsc_us(MG_FAULT_REORDER_TIMEOUT_US), &got);
	assert_int_equal(got, n);
	for (unsigned i = 0; i < n; i++)
		pos[i] = UINT32_MAX;
	for (unsigned i = 0; i < got; i++) {
		assert_true(out[i] < n);
		assert_int_equal(pos[out[i]], UINT32_MAX); /* each packet once */
		pos[out[i]] = i;
	}
	for (unsigned t = 0; t < n; t++) {
		int shift = (int)pos[t] - (int)t;

		moved += shift != 0;
		/* Behind at most depth later packets, plus others released with it. */
		assert_true(shift > -2 * (int)c.reorder_depth && shift < 2 * (int)c.reorder_depth);
	}
	printf("# reorder 0.3 depth 4: %lu held back, %u of %u packets moved\n",
	       (unsigned long)counters(fq).reordered, moved, n);
	assert_true(counters(fq).reordered > 900);
	assert_true(moved > 900);
	assert_int_equal(counters(fq).held, 0);
	mg_fault_queue_free(fq);
	assert_int_equal(in_use(), start);
}

/* With no later traffic a held packet goes on after the timeout, on an empty poll. */
static void reorder_releases_on_idle_poll_after_timeout(void **state)
{
	struct mg_fault_dir_config c = quiet();
	uint64_t timeout = tsc_us(MG_FAULT_REORDER_TIMEOUT_US);
	unsigned start = in_use(), got = 0;
	struct mg_fault_queue *fq;

	(void)state;
	c.reorder = 1;
	fq = make(&c, MG_FAULT_RX, 5);
	feed_rx(fq, 0, 1, T0, &got);
	assert_int_equal(got, 0);
	assert_int_equal(counters(fq).held, 1);
	drain_rx(fq, T0 + timeout - 1, &got);
	assert_int_equal(got, 0);
	drain_rx(fq, T0 + timeout, &got);
	assert_int_equal(got, 1);
	assert_int_equal(out[0], 0);
	mg_fault_queue_free(fq);
	assert_int_equal(in_use(), start);
}

/* ---- delay ------------------------------------------------------------- */

static void delay_holds_then_releases_in_order(void **state)
{
	struct mg_fault_dir_config c = quiet();
	uint64_t d = tsc_us(500);
	unsigned start = in_use(), got = 0;
	struct mg_fault_queue *fq;

	(void)state;
	c.delay_us = 500;
	fq = make(&c, MG_FAULT_RX, 5);
	feed_rx(fq, 0, 10, T0, &got);
	feed_rx(fq, 10, 10, T0 + d / 2, &got);
	assert_int_equal(got, 0);
	assert_int_equal(counters(fq).held, 20);
	assert_int_equal(in_use(), start + 20);
	drain_rx(fq, T0 + d - 1, &got);
	assert_int_equal(got, 0);
	drain_rx(fq, T0 + d, &got); /* the first ten are due, not the others */
	assert_int_equal(got, 10);
	drain_rx(fq, T0 + d / 2 + d, &got);
	assert_int_equal(got, 20);
	for (unsigned i = 0; i < got; i++)
		assert_int_equal(out[i], i);
	assert_int_equal(counters(fq).delayed, 20);
	mg_fault_queue_free(fq);
	assert_int_equal(in_use(), start);
}

static void full_delay_ring_drops_and_counts(void **state)
{
	struct mg_fault_dir_config c = quiet();
	unsigned start = in_use(), got = 0;
	struct mg_fault_queue *fq;

	(void)state;
	c.delay_us = 1000;
	c.delay_slots = 64;
	fq = make(&c, MG_FAULT_RX, 5);
	feed_rx(fq, 0, 100, T0, &got);
	assert_int_equal(got, 0);
	assert_int_equal(counters(fq).hold_full, 36);
	assert_int_equal(counters(fq).delayed, 64);
	assert_int_equal(counters(fq).held, 64);
	assert_int_equal(in_use(), start + 64); /* the 36 were freed at once */
	drain_rx(fq, T0 + tsc_us(1000), &got);
	assert_int_equal(got, 64);
	assert_int_equal(out[63], 63);
	mg_fault_queue_free(fq);
	assert_int_equal(in_use(), start);
}

/* ---- corruption -------------------------------------------------------- */

/* Exactly one bit differs between @a and @b (@n bytes), at or past byte 14. */
static void one_bit_past_ethernet(const uint8_t *a, const uint8_t *b, uint32_t n)
{
	unsigned bits = 0;
	uint32_t where = 0;

	for (uint32_t i = 0; i < n; i++) {
		if (a[i] != b[i])
			where = i;
		bits += (unsigned)__builtin_popcount(a[i] ^ b[i]);
	}
	assert_int_equal(bits, 1);
	assert_true(where >= 14);
}

static void corrupt_flips_one_bit_past_ethernet_header(void **state)
{
	struct mg_fault_dir_config c = quiet();
	static uint8_t before[2048];
	unsigned start = in_use();
	uint32_t lo = UINT32_MAX, hi = 0;
	struct mg_fault_queue *fq;

	(void)state;
	c.corrupt = 1;
	fq = make(&c, MG_FAULT_RX, 11);
	for (uint32_t i = 0; i < 300; i++) {
		uint16_t len = (uint16_t)(15 + (i * 37) % 1500);
		struct rte_mbuf *m = pkt_len(i, len), *in = m;

		memcpy(before, rte_pktmbuf_mtod(m, void *), len);
		assert_int_equal(mg_fault_rx(fq, &m, 1, 1, T0), 1);
		assert_ptr_equal(m, in); /* a private buffer is flipped in place */
		one_bit_past_ethernet(before, rte_pktmbuf_mtod(m, uint8_t *), len);
		for (uint32_t b = 0; b < len; b++) {
			if (before[b] != rte_pktmbuf_mtod(m, uint8_t *)[b]) {
				lo = b < lo ? b : lo;
				hi = b > hi ? b : hi;
			}
		}
		rte_pktmbuf_free(m);
	}
	assert_int_equal(counters(fq).corrupted, 300);
	assert_true(lo < 40 && hi > 1000); /* offsets spread over the whole frame */
	mg_fault_queue_free(fq);
	assert_int_equal(in_use(), start);
}

static void corrupt_skips_frames_without_payload(void **state)
{
	struct mg_fault_dir_config c = quiet();
	unsigned start = in_use();
	struct rte_mbuf *m = pkt_len(0, 14);
	struct mg_fault_queue *fq;
	uint8_t before[14];

	(void)state;
	c.corrupt = 1;
	fq = make(&c, MG_FAULT_RX, 11);
	memcpy(before, rte_pktmbuf_mtod(m, void *), 14);
	assert_int_equal(mg_fault_rx(fq, &m, 1, 1, T0), 1);
	assert_memory_equal(before, rte_pktmbuf_mtod(m, void *), 14);
	assert_int_equal(counters(fq).corrupted, 0);
	rte_pktmbuf_free(m);
	mg_fault_queue_free(fq);
	assert_int_equal(in_use(), start);
}

/* A buffer someone else also references (refcnt 2, or a clone) is copied first. */
static void corrupt_never_writes_a_shared_buffer(void **state)
{
	struct mg_fault_dir_config c = quiet();
	unsigned start = in_use();
	struct mg_fault_queue *fq;
	uint8_t before[200];

	(void)state;
	c.corrupt = 1;
	fq = make(&c, MG_FAULT_TX, 11);
	for (int kind = 0; kind < 2; kind++) {
		struct rte_mbuf *orig = pkt_len(1, 200), *m;

		memcpy(before, rte_pktmbuf_mtod(orig, void *), 200);
		if (kind == 0) {
			rte_mbuf_refcnt_update(orig, 1);
			m = orig;
		} else {
			m = rte_pktmbuf_clone(orig, pool);
			assert_non_null(m);
		}
		assert_int_equal(mg_fault_tx(fq, &m, 1, T0), 1);
		assert_ptr_not_equal(m, orig);
		assert_memory_equal(before, rte_pktmbuf_mtod(orig, void *), 200);
		assert_int_equal(rte_mbuf_refcnt_read(orig), 1); /* our reference is gone */
		one_bit_past_ethernet(before, rte_pktmbuf_mtod(m, uint8_t *), 200);
		rte_pktmbuf_free(m);
		rte_pktmbuf_free(orig);
	}
	mg_fault_queue_free(fq);
	assert_int_equal(in_use(), start);
}

static void corrupt_reaches_every_segment(void **state)
{
	struct mg_fault_dir_config c = quiet();
	static uint8_t before[600], after[600];
	unsigned start = in_use(), in_second = 0;
	struct mg_fault_queue *fq;

	(void)state;
	c.corrupt = 1;
	fq = make(&c, MG_FAULT_RX, 13);
	for (uint32_t i = 0; i < 50; i++) {
		struct rte_mbuf *m = pkt_len(i, 100), *tail = pkt_len(i + 1, 500);

		assert_int_equal(rte_pktmbuf_chain(m, tail), 0);
		/* Two segments: the read always copies into the buffer given. */
		assert_ptr_equal(rte_pktmbuf_read(m, 0, 600, before), before);
		assert_int_equal(mg_fault_rx(fq, &m, 1, 1, T0), 1);
		assert_ptr_equal(rte_pktmbuf_read(m, 0, 600, after), after);
		one_bit_past_ethernet(before, after, 600);
		in_second += memcmp(before + 100, after + 100, 500) != 0;
		rte_pktmbuf_free(m);
	}
	assert_true(in_second > 25);
	mg_fault_queue_free(fq);
	assert_int_equal(in_use(), start);
}

/* ---- TX under the ethdev contract -------------------------------------- */

/* What the worker does: the "NIC" takes pkts[0..sent), the caller frees the rest. */
static uint16_t tx_like_worker(struct mg_fault_queue *fq, struct rte_mbuf **b, uint16_t n,
			       uint64_t now, unsigned *got)
{
	uint16_t sent = mg_fault_tx(fq, b, n, now);

	for (uint16_t i = sent; i < n; i++)
		assert_non_null(b[i]);
	take(b, sent, got);
	rte_pktmbuf_free_bulk(b + sent, n - sent);
	return sent;
}

/*
 * All kinds at once; pass 0 without corruption (which may flip a tag) also
 * checks that every packet came out at most twice (original and one copy).
 */
static void tx_unsent_tail_is_the_callers_to_free(void **state)
{
	static unsigned seen_times[3200];
	struct rte_mbuf *b[BURST];

	(void)state;
	for (int pass = 0; pass < 2; pass++) {
		struct mg_fault_dir_config c = quiet();
		unsigned start = in_use(), got = 0;
		struct mg_fault_counters k;
		struct mg_fault_queue *fq;

		c.loss = 0.2;
		c.duplicate = 0.1;
		c.reorder = 0.2;
		c.corrupt = pass ? 0.05 : 0;
		fq = make(&c, MG_FAULT_TX, 17);
		for (uint32_t t = 0; t < 3200; t += BURST) {
			for (uint16_t i = 0; i < BURST; i++)
				b[i] = pkt_len(t + i, 100);
			tx_like_worker(fq, b, BURST, T0 + t, &got);
			/* Whatever the tail held, the pool holds exactly what we keep. */
			assert_int_equal(in_use(), start + counters(fq).held);
		}
		k = counters(fq);
		assert_int_equal(got + k.held + k.lost + k.hold_full, k.seen + k.duplicated);
		assert_true(k.lost > 0 && k.duplicated > 0 && k.reordered > 0);
		assert_true(pass == 0 || k.corrupted > 0);
		if (pass == 0) {
			memset(seen_times, 0, sizeof(seen_times));
			for (unsigned i = 0; i < got; i++)
				seen_times[out[i]]++;
			for (unsigned t = 0; t < 3200; t++)
				assert_true(seen_times[t] <= 2);
		}
		mg_fault_queue_free(fq);
		assert_int_equal(in_use(), start);
	}
}

static void tx_delay_releases_on_a_later_burst(void **state)
{
	struct mg_fault_dir_config c = quiet();
	uint64_t d = tsc_us(100);
	unsigned start = in_use(), got = 0;
	struct rte_mbuf *b[8];
	struct mg_fault_queue *fq;

	(void)state;
	c.delay_us = 100;
	fq = make(&c, MG_FAULT_TX, 19);
	for (uint16_t i = 0; i < 8; i++)
		b[i] = pkt(i);
	assert_int_equal(tx_like_worker(fq, b, 8, T0, &got), 0);
	assert_int_equal(in_use(), start + 8); /* the tail's free only lent them */
	for (uint16_t i = 0; i < 8; i++)
		b[i] = pkt(8 + i);
	assert_int_equal(tx_like_worker(fq, b, 8, T0 + d, &got), 8);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(out[i], i);
	assert_int_equal(counters(fq).held, 8);
	assert_int_equal(in_use(), start + 8);
	mg_fault_queue_free(fq);
	assert_int_equal(in_use(), start);
}

static void tx_loss_hands_lost_packets_back(void **state)
{
	struct mg_fault_dir_config c = quiet();
	unsigned start = in_use(), got = 0;
	struct rte_mbuf *b[BURST], *in[BURST];
	struct mg_fault_queue *fq;

	(void)state;
	c.loss = 1;
	fq = make(&c, MG_FAULT_TX, 19);
	for (uint16_t i = 0; i < BURST; i++)
		in[i] = b[i] = pkt(i);
	assert_int_equal(mg_fault_tx(fq, b, BURST, T0), 0);
	for (uint16_t i = 0; i < BURST; i++)
		assert_ptr_equal(b[i], in[i]);
	rte_pktmbuf_free_bulk(b, BURST);
	assert_int_equal(got, 0);
	assert_int_equal(counters(fq).lost, BURST);
	mg_fault_queue_free(fq);
	assert_int_equal(in_use(), start);
}

/* ---- life cycle -------------------------------------------------------- */

static void free_releases_every_held_packet(void **state)
{
	struct mg_fault_dir_config c = quiet();
	unsigned start = in_use(), got = 0;
	struct mg_fault_queue *fq;

	(void)state;
	c.duplicate = 0.5;
	c.reorder = 0.5;
	c.delay_us = 1000;
	c.delay_slots = 4096;
	fq = make(&c, MG_FAULT_RX, 23);
	feed_rx(fq, 0, 2000, T0, &got);
	assert_int_equal(got, 0);
	assert_true(counters(fq).held > 2000);
	assert_int_equal(in_use(), start + counters(fq).held);
	mg_fault_queue_free(fq);
	assert_int_equal(in_use(), start);
}

static void bad_settings_refused(void **state)
{
	struct mg_fault_dir_config c = quiet();

	(void)state;
	c.delay_slots = 100;
	mg_error_clear();
	assert_null(mg_fault_queue_create(&c, MG_FAULT_RX, 0, 0, pool, 0));
	assert_int_equal(mg_errno(), MG_ERR_USAGE);
	assert_non_null(strstr(mg_errmsg(), "power of two"));
	c = quiet();
	c.reorder_depth = MG_FAULT_MAX_REORDER_DEPTH + 1;
	assert_null(mg_fault_queue_create(&c, MG_FAULT_RX, 0, 0, pool, 0));
	c = quiet();
	assert_null(mg_fault_queue_create(&c, MG_FAULT_RX, 0, 0, NULL, 0));
	assert_int_equal(mg_errno(), MG_ERR_USAGE);
}

static void active_means_something_to_do(void **state)
{
	struct mg_fault_dir_config c = quiet();

	(void)state;
	assert_false(mg_fault_dir_active(&c));
	c.delay_us = 1;
	assert_true(mg_fault_dir_active(&c));
	c = quiet();
	c.corrupt = 1e-9;
	assert_true(mg_fault_dir_active(&c));
	assert_string_equal(mg_fault_dir_name(MG_FAULT_RX), "rx");
	assert_string_equal(mg_fault_dir_name(MG_FAULT_TX), "tx");
	assert_string_equal(mg_fault_dir_name(MG_FAULT__DIRS), "unknown");
}

/* ---- through ethdev: a net_ring port whose TX feeds its own RX ---------- */

static struct mg_port_config ring_port(void)
{
	struct mg_port_config pc;

	memset(&pc, 0, sizeof(pc));
	snprintf(pc.name, sizeof(pc.name), "ring");
	snprintf(pc.device, sizeof(pc.device), "net_ring0");
	pc.mtu = 1500;
	pc.rx_desc = pc.tx_desc = 256;
	pc.fault.enabled = true;
	pc.fault.seed = 9;
	pc.fault.rx = quiet();
	pc.fault.tx = quiet();
	pc.fault.rx.loss = 0.5;
	pc.fault.rx.delay_us = 100;
	/* Long enough that a preempted test never sees a hold expire early. */
	pc.fault.tx.delay_us = 100000;
	return pc;
}

/* Poll RX until @want packets came or were lost, for at most a second. */
static unsigned rx_until(uint16_t port_id, unsigned want)
{
	uint64_t deadline = rte_get_tsc_cycles() + hz;
	struct mg_fault_counters k;
	struct rte_mbuf *b[BURST];
	unsigned got = 0;

	do {
		uint16_t r = rte_eth_rx_burst(port_id, 0, b, BURST);

		rte_pktmbuf_free_bulk(b, r);
		got += r;
		assert_true(mg_fault_read(port_id, MG_FAULT_RX, &k));
	} while (got + k.lost < want && rte_get_tsc_cycles() < deadline);
	return got;
}

static void port_callbacks_inject_and_close_frees(void **state)
{
	struct mg_port_config pc = ring_port();
	struct mg_fault_counters rx, tx;
	struct rte_mbuf *b[BURST];
	struct mg_port p;
	unsigned got, flushed = 0;

	(void)state;
	if (mg_port_open(&p, &pc, 1, 2048) < 0)
		fail_msg("open: %s", mg_errmsg());
	assert_true(mg_fault_attached(p.port_id));
	mg_error_clear();
	assert_int_equal(mg_fault_attach(p.port_id, &pc.fault, 1, p.pool), -1);
	assert_int_equal(mg_errno(), MG_ERR_USAGE);

	/* TX delays everything: the driver gets nothing now, the tail is only lent. */
	for (int burst = 0; burst < 2; burst++) {
		uint16_t sent;

		assert_int_equal(rte_pktmbuf_alloc_bulk(p.pool, b, BURST), 0);
		for (uint16_t i = 0; i < BURST; i++)
			assert_non_null(rte_pktmbuf_append(b[i], 60));
		sent = rte_eth_tx_burst(p.port_id, 0, b, BURST);
		assert_int_equal(sent, 0);
		rte_pktmbuf_free_bulk(b, BURST);
	}
	assert_int_equal(rte_mempool_in_use_count(p.pool), 2 * BURST);
	assert_int_equal(mg_fault_tx_flush(p.port_id, 0), 0); /* not due yet */
	rte_delay_us_block(110000);
	while (flushed < 2 * BURST) {
		uint16_t f = mg_fault_tx_flush(p.port_id, 0);

		assert_true(f > 0);
		flushed += f;
	}
	/* RX: half lost, the rest delayed and handed out by later (empty) polls. */
	got = rx_until(p.port_id, 2 * BURST);
	assert_true(mg_fault_read(p.port_id, MG_FAULT_RX, &rx));
	assert_true(mg_fault_read(p.port_id, MG_FAULT_TX, &tx));
	printf("# net_ring: tx delayed %lu, rx seen %lu lost %lu delivered %u\n",
	       (unsigned long)tx.delayed, (unsigned long)rx.seen, (unsigned long)rx.lost, got);
	assert_int_equal(tx.seen, 2 * BURST);
	assert_int_equal(tx.delayed, 2 * BURST);
	assert_int_equal(rx.seen, 2 * BURST);
	assert_int_equal(got + rx.lost, 2 * BURST);
	assert_true(rx.lost > 10 && rx.lost < 54);
	assert_int_equal(rte_mempool_in_use_count(p.pool), 0);

	/* Leave some held on TX: stopping and detaching frees them. */
	for (uint16_t i = 0; i < 16; i++)
		b[i] = rte_pktmbuf_alloc(p.pool);
	assert_int_equal(rte_eth_tx_burst(p.port_id, 0, b, 16), 0);
	rte_pktmbuf_free_bulk(b, 16);
	assert_int_equal(rte_mempool_in_use_count(p.pool), 16);
	assert_int_equal(rte_eth_dev_stop(p.port_id), 0);
	p.started = false;
	mg_fault_detach(p.port_id);
	assert_false(mg_fault_attached(p.port_id));
	assert_int_equal(rte_mempool_in_use_count(p.pool), 0);
	assert_int_equal(mg_fault_tx_flush(p.port_id, 0), 0);
	mg_port_close(&p); /* a second detach is a no-op */
}

static void disabled_config_attaches_nothing(void **state)
{
	struct mg_fault_config fc;
	struct mg_fault_counters k;

	(void)state;
	memset(&fc, 0, sizeof(fc));
	assert_int_equal(mg_fault_attach(7, &fc, 1, pool), 0);
	assert_false(mg_fault_attached(7));
	fc.enabled = true; /* ... and an enabled one needs a real port */
	mg_error_clear();
	assert_int_equal(mg_fault_attach(7, &fc, 1, pool), -1);
	assert_int_equal(mg_errno(), MG_ERR_USAGE);
	assert_false(mg_fault_attached(7));
	assert_false(mg_fault_read(7, MG_FAULT_RX, &k));
	assert_int_equal(k.seen, 0);
	assert_int_equal(mg_fault_tx_flush(7, 0), 0);
	mg_fault_detach(7);
}

int main(void)
{
	/* No shared config, no telemetry socket: nothing left under /var/run/dpdk. */
	char *eal[] = { "test_fault", "--no-huge", "-m", "256", "--no-pci", "--no-shconf",
			"--no-telemetry", "--lcores=0@0", "--log-level=error", NULL };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(loss_zero_keeps_all_in_order),
		cmocka_unit_test(loss_one_drops_all),
		cmocka_unit_test(loss_rate_within_binomial_bound),
		cmocka_unit_test(seed_queue_direction_make_the_stream),
		cmocka_unit_test(duplicate_makes_exact_copies),
		cmocka_unit_test(duplicate_without_mbufs_is_counted),
		cmocka_unit_test(rx_never_exceeds_max),
		cmocka_unit_test(reorder_permutes_within_depth_and_loses_nothing),
		cmocka_unit_test(reorder_releases_on_idle_poll_after_timeout),
		cmocka_unit_test(delay_holds_then_releases_in_order),
		cmocka_unit_test(full_delay_ring_drops_and_counts),
		cmocka_unit_test(corrupt_flips_one_bit_past_ethernet_header),
		cmocka_unit_test(corrupt_skips_frames_without_payload),
		cmocka_unit_test(corrupt_never_writes_a_shared_buffer),
		cmocka_unit_test(corrupt_reaches_every_segment),
		cmocka_unit_test(tx_unsent_tail_is_the_callers_to_free),
		cmocka_unit_test(tx_delay_releases_on_a_later_burst),
		cmocka_unit_test(tx_loss_hands_lost_packets_back),
		cmocka_unit_test(free_releases_every_held_packet),
		cmocka_unit_test(bad_settings_refused),
		cmocka_unit_test(active_means_something_to_do),
		cmocka_unit_test(port_callbacks_inject_and_close_frees),
		cmocka_unit_test(disabled_config_attaches_nothing),
	};
	int failed;

	if (rte_eal_init(9, eal) < 0)
		return 1;
	hz = rte_get_tsc_hz();
	/* No per-lcore cache: rte_mempool_in_use_count() is exact. */
	pool = rte_pktmbuf_pool_create("fault_test", 16383, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       (int)rte_socket_id());
	if (!pool)
		return 1;
	failed = cmocka_run_group_tests_name("fault", tests, NULL, NULL);
	rte_mempool_free(pool);
	rte_eal_cleanup();
	return failed;
}
