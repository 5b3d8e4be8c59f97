/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The worker's own drop reasons, the ones no crafted frame on a real port can
 * reach: `chained` (a frame in several mbufs; every port is set up for one),
 * `slowpath_full` (the exception ring to the control thread is full) and
 * `tx_full` (the TX queue and the worker's TX buffer are both full). Each is
 * provoked here with an exact count: mg_worker_rx_burst() for the first two,
 * and a whole mg_worker_main() on a thread, over a net_ring port whose TX
 * faults lose everything, for the third.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_ethdev.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "fault.h"
#include "port.h"
#include "tcp_wire.h"
#include "worker.h"

#define OUR_IP RTE_BE32(0xc6120101)  /* 198.18.1.1 */
#define PEER_IP RTE_BE32(0xc6120102) /* 198.18.1.2 */
#define SMALL_RING 64                /* holds 63 */

static const uint8_t OUR_MAC[6] = {0x02, 0, 0xc6, 0x12, 1, 1};
static const uint8_t PEER_MAC[6] = {0x02, 0, 0xc6, 0x12, 1, 2};
static struct rte_mempool *pool;
static unsigned ring_seq;

/* An ICMP echo request from the peer to us: a frame the worker hands to the slow path. */
static struct rte_mbuf *echo_request(uint16_t seq)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	struct rte_ether_hdr *eth;
	struct rte_ipv4_hdr *ip;
	struct rte_icmp_hdr *icmp;
	uint16_t len = sizeof(*eth) + sizeof(*ip) + sizeof(*icmp) + 32;

	assert_non_null(m);
	assert_non_null(rte_pktmbuf_append(m, len));
	memset(rte_pktmbuf_mtod(m, uint8_t *), 0, len);
	eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	memcpy(&eth->dst_addr, OUR_MAC, 6);
	memcpy(&eth->src_addr, PEER_MAC, 6);
	eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	ip = (struct rte_ipv4_hdr *)(eth + 1);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(len - sizeof(*eth)));
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_ICMP;
	ip->src_addr = PEER_IP;
	ip->dst_addr = OUR_IP;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	icmp = (struct rte_icmp_hdr *)(ip + 1);
	icmp->icmp_type = RTE_IP_ICMP_ECHO_REQUEST;
	icmp->icmp_ident = RTE_BE16(7);
	icmp->icmp_seq_nb = rte_cpu_to_be_16(seq);
	icmp->icmp_cksum = (uint16_t)~rte_raw_cksum(icmp, sizeof(*icmp) + 32);
	return m;
}

static struct rte_ring *ring(const char *kind)
{
	char name[RTE_RING_NAMESIZE];
	struct rte_ring *r;

	snprintf(name, sizeof(name), "wk_%s%u", kind, ring_seq++);
	r = rte_ring_create(name, SMALL_RING, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	assert_non_null(r);
	return r;
}

/* A worker with one port of our addresses and no TCP: what rx_burst needs. */
static struct mg_worker *worker_new(void)
{
	struct mg_worker *w = rte_zmalloc("test_worker", sizeof(*w), RTE_CACHE_LINE_SIZE);

	assert_non_null(w);
	w->n_ports = 1;
	w->n_workers = 1;
	memcpy(w->ports[0].addrs.mac, OUR_MAC, 6);
	w->ports[0].addrs.ip = OUR_IP;
	w->ports[0].addrs.netmask = RTE_BE32(0xffffff00);
	w->to_ctrl = ring("to");
	w->from_ctrl = ring("from");
	return w;
}

static void drain_free(struct rte_ring *r)
{
	void *m;

	while (rte_ring_dequeue(r, &m) == 0)
		rte_pktmbuf_free(m);
}

static void worker_free(struct mg_worker *w)
{
	drain_free(w->to_ctrl);
	drain_free(w->from_ctrl);
	rte_ring_free(w->to_ctrl);
	rte_ring_free(w->from_ctrl);
	rte_free(w);
}

static void burst(struct mg_worker *w, struct rte_mbuf **pkts, uint16_t n)
{
	mg_worker_rx_burst(w, 0, pkts, n);
}

/* The control: the same echo request in one mbuf goes to the slow path. */
static void one_segment_echo_goes_to_the_slow_path(void **state)
{
	struct mg_worker *w = worker_new();
	unsigned avail0 = rte_mempool_avail_count(pool);
	struct rte_mbuf *m = echo_request(1);

	(void)state;
	burst(w, &m, 1);
	assert_int_equal(w->stats.to_slowpath, 1);
	assert_int_equal(rte_ring_count(w->to_ctrl), 1);
	for (int d = 0; d < MG_DROP__COUNT; d++)
		assert_int_equal(w->stats.drops[d], 0);
	worker_free(w);
	assert_int_equal(rte_mempool_avail_count(pool), avail0);
}

/* A frame in two mbufs is dropped as `chained`, whatever it holds. */
static void chained_frame_is_dropped_and_counted(void **state)
{
	struct mg_worker *w = worker_new();
	struct rte_mbuf *m = echo_request(1), *tail = rte_pktmbuf_alloc(pool);
	unsigned avail;

	(void)state;
	assert_non_null(tail);
	assert_non_null(rte_pktmbuf_append(tail, 8));
	memset(rte_pktmbuf_mtod(tail, void *), 0, 8);
	assert_int_equal(rte_pktmbuf_chain(m, tail), 0);
	assert_int_equal(m->nb_segs, 2);
	avail = rte_mempool_avail_count(pool);
	burst(w, &m, 1);
	assert_int_equal(w->stats.drops[MG_DROP_CHAINED], 1);
	assert_int_equal(w->stats.port[0].drops, 1);
	assert_int_equal(w->stats.to_slowpath, 0);
	assert_int_equal(rte_mempool_avail_count(pool), avail + 2); /* both segments freed */
	worker_free(w);
}

/* 96 requests into a ring that holds 63 and nobody drains: 33 `slowpath_full`. */
static void full_exception_ring_drops_and_counts(void **state)
{
	struct mg_worker *w = worker_new();
	unsigned cap = rte_ring_get_capacity(w->to_ctrl), avail;

	(void)state;
	assert_int_equal(cap, SMALL_RING - 1);
	for (uint16_t b = 0; b < 3; b++) {
		struct rte_mbuf *pkts[MG_BURST];

		for (uint16_t i = 0; i < MG_BURST; i++)
			pkts[i] = echo_request((uint16_t)(b * MG_BURST + i));
		burst(w, pkts, MG_BURST);
	}
	assert_int_equal(w->stats.to_slowpath, cap);
	assert_int_equal(w->stats.drops[MG_DROP_SLOWPATH_FULL], 3 * MG_BURST - cap);
	assert_int_equal(rte_ring_count(w->to_ctrl), cap);
	avail = rte_mempool_avail_count(pool);
	drain_free(w->to_ctrl); /* the dropped ones were freed already */
	assert_int_equal(rte_mempool_avail_count(pool), avail + cap);
	worker_free(w);
}

/* ---- tx_full: a whole worker loop on a port whose TX takes nothing ------- */

struct loop {
	struct mg_worker *w;
	volatile int quit;
};

static void *run_worker(void *arg)
{
	struct loop *l = arg;

	mg_worker_main(l->w);
	return NULL;
}

/*
 * Only turns that moved frames are busy (here the 7 that took the control
 * thread's 200, not the thousands that idled after), and their cycles add up
 * to busy_cycles exactly, stage by stage: handing over is `other`, offering
 * the buffer to the port `tx`; nothing was received or proxied.
 */
static void busy_turns_are_accounted_by_stage(const struct mg_worker *w)
{
	uint64_t sum = 0;

	assert_true(w->stats.busy_loops >= (200 + MG_BURST - 1) / MG_BURST);
	assert_true(w->stats.busy_loops < w->stats.loops);
	assert_int_equal(w->stats.busy_packets, 0);
	for (int s = 0; s < MG_STAGE__COUNT; s++)
		sum += w->stats.cycles[s];
	assert_int_equal(sum, w->stats.busy_cycles);
	assert_true(w->stats.cycles[MG_STAGE_OTHER] > 0);
	assert_true(w->stats.cycles[MG_STAGE_TX] > 0);
	assert_int_equal(w->stats.cycles[MG_STAGE_TCP_IN] + w->stats.cycles[MG_STAGE_PROXY] +
				 w->stats.cycles[MG_STAGE_TLS],
			 0);
}

static void spin(uint64_t cycles)
{
	uint64_t end = rte_rdtsc() + cycles;

	while (rte_rdtsc() < end)
		;
}

/*
 * A callee's stage nests inside its caller's: TCP input that delivers to the
 * proxy is charged its own time only, the proxy its own, and together with
 * the turn's rest they make the whole turn. A NULL clock charges nothing.
 */
static void nested_stages_are_charged_once(void **state)
{
	struct mg_stage_clock c;
	uint64_t start = rte_rdtsc(), end, sum = 0;
	enum mg_stage caller;

	(void)state;
	mg_stage_loop_start(&c, start, MG_STAGE_OTHER);
	assert_int_equal(mg_stage_switch(&c, MG_STAGE_TCP_IN), MG_STAGE_OTHER);
	spin(20000);
	caller = mg_stage_switch(&c, MG_STAGE_PROXY);
	assert_int_equal(caller, MG_STAGE_TCP_IN);
	spin(50000);
	mg_stage_switch(&c, caller);
	spin(20000);
	mg_stage_switch(&c, MG_STAGE_OTHER);
	end = rte_rdtsc();
	mg_stage_loop_end(&c, end);
	for (int s = 0; s < MG_STAGE__COUNT; s++)
		sum += c.loop[s];
	assert_int_equal(sum, end - start);
	assert_true(c.loop[MG_STAGE_PROXY] >= 50000);
	assert_true(c.loop[MG_STAGE_TCP_IN] >= 40000);
	assert_int_equal(c.loop[MG_STAGE_RX] + c.loop[MG_STAGE_TX], 0);
	assert_int_equal(mg_stage_switch(NULL, MG_STAGE_TLS), MG_STAGE_TLS);
	assert_string_equal(mg_stage_name(MG_STAGE_TCP_OUT), "tcp_out");
}

/*
 * A net_ring port whose TX faults lose every packet: to the worker, a TX
 * queue that never takes anything (the fault layer hands the lost packets
 * back as the unsent tail, like a full ring).
 */
static void tx_dead_port(struct mg_port *p, struct mg_port_config *pc)
{
	memset(pc, 0, sizeof(*pc));
	snprintf(pc->name, sizeof(pc->name), "ring");
	snprintf(pc->device, sizeof(pc->device), "net_ring_wk");
	pc->mtu = 1500;
	pc->rx_desc = pc->tx_desc = 256;
	pc->fault.enabled = true;
	pc->fault.rx = (struct mg_fault_dir_config){ .reorder_depth = 4, .delay_slots = 256 };
	pc->fault.tx = pc->fault.rx;
	pc->fault.tx.loss = 1.0;
	if (mg_port_open(p, pc, 1, 1024) < 0)
		fail_msg("open: %s", mg_errmsg());
}

/*
 * 200 frames from the control thread to a port that takes none: the first
 * MG_BURST wait in the worker's TX buffer, every later one is dropped as
 * `tx_full` at once (the loop never waits for the queue). At exit the worker
 * frees its buffer, so every mbuf comes back.
 */
static void full_tx_queue_drops_and_counts(void **state)
{
	const unsigned n = 200;
	struct mg_worker *w = worker_new();
	struct mg_port_config pc;
	struct mg_fault_counters tx;
	struct mg_publish pub;
	struct loop l = { .w = w, .quit = 0 };
	struct mg_port port;
	pthread_t t;
	unsigned avail0;

	(void)state;
	avail0 = rte_mempool_avail_count(pool);
	tx_dead_port(&port, &pc);
	w->ports[0].port_id = port.port_id;
	w->ports[0].fault_tx = true;
	rte_ring_free(w->from_ctrl);
	w->from_ctrl = rte_ring_create("wk_from_big", 256, SOCKET_ID_ANY,
				       RING_F_SP_ENQ | RING_F_SC_DEQ);
	assert_non_null(w->from_ctrl);
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = echo_request((uint16_t)i);

		m->port = 0;
		assert_int_equal(rte_ring_enqueue(w->from_ctrl, m), 0);
	}
	assert_int_equal(mg_publish_init(&pub, 1, NULL, NULL), 0);
	w->pub = &pub;
	w->quit = &l.quit;
	assert_int_equal(pthread_create(&t, NULL, run_worker, &l), 0);
	/* 200 frames take 7 loops; wait for them and some loops more (5 s bound). */
	for (int i = 0; i < 5000 && __atomic_load_n(&w->stats.from_slowpath, __ATOMIC_RELAXED) < n;
	     i++)
		usleep(1000);
	usleep(10000);
	l.quit = 1;
	assert_int_equal(pthread_join(t, NULL), 0);

	assert_int_equal(w->stats.from_slowpath, n);
	assert_int_equal(w->stats.port[0].tx_packets, 0);
	assert_int_equal(w->stats.drops[MG_DROP_TX_FULL], n - MG_BURST);
	assert_int_equal(w->stats.port[0].drops, n - MG_BURST);
	assert_true(mg_fault_read(port.port_id, MG_FAULT_TX, &tx));
	assert_true(tx.lost >= MG_BURST); /* the buffer was offered, and lost, again and again */
	busy_turns_are_accounted_by_stage(w);
	mg_port_close(&port);
	mg_publish_fini(&pub);
	worker_free(w);
	assert_int_equal(rte_mempool_avail_count(pool), avail0); /* every mbuf came back */
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(one_segment_echo_goes_to_the_slow_path),
		cmocka_unit_test(chained_frame_is_dropped_and_counted),
		cmocka_unit_test(full_exception_ring_drops_and_counts),
		cmocka_unit_test(full_tx_queue_drops_and_counts),
		cmocka_unit_test(nested_stages_are_charged_once),
	};

	(void)argc;
	pool = wire_eal_pool(argv[0], "mgtest-worker", "worker_test", 4095);
	if (!pool)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
