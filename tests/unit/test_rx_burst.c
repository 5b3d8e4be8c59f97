/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mg_worker_rx_burst() a burst at a time: a burst holding a frame for every
 * drop reason a frame can earn, good TCP (no stack here: tcp_no_listener),
 * UDP, ARP and ICMP, shuffled and longer than MG_BURST, must count exactly one
 * drop per frame under its own reason and hand the ARP and ICMP frames to the
 * slow path in order, exactly as the same frames given one call each do.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_eal.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "frames.h"
#include "worker.h"

#define N_KINDS 33 /* 31 drop reasons, then ARP and ICMP for the slow path */
#define COPIES 2

static struct rte_mempool *pool;
static unsigned ring_seq;

/* Frame kind @p k into f; @return the drop reason it must earn (NONE: slow path). */
static enum mg_drop frame_of_kind(int k)
{
	switch (k) {
	case 0: put_eth(our_mac, RTE_ETHER_TYPE_IPV4); f.len = 10; return MG_DROP_RUNT;
	case 1: make_udp(18, false); return MG_DROP_CHAINED; /* sent in two mbufs */
	case 2: make_udp(18, false); memcpy(f.b, other_mac, 6); return MG_DROP_L2_NOT_OURS;
	case 3: put_eth(our_mac, RTE_ETHER_TYPE_VLAN); f.len = 60; return MG_DROP_VLAN;
	case 4: put_eth(our_mac, 0x88b5); f.len = 60; return MG_DROP_ETHERTYPE;
	case 5: put_eth(our_mac, RTE_ETHER_TYPE_IPV6); f.len = 60; return MG_DROP_IPV6;
	case 6: make_arp(our_mac, RTE_ARP_OP_REQUEST, PEER_IP, US_IP); arph()->arp_hlen = 7;
		return MG_DROP_ARP_MALFORMED;
	case 7: make_arp(our_mac, RTE_ARP_OP_REQUEST, PEER_IP, ip4(198, 18, 1, 9));
		return MG_DROP_ARP_NOT_OURS;
	case 8: make_udp(18, false); f.len = ETH + 10; return MG_DROP_IP_TRUNCATED;
	case 9: make_udp(18, false); iph()->version_ihl = 0x65; ip_fix(); return MG_DROP_IP_VERSION;
	case 10: make_udp(18, false); iph()->version_ihl = 0x44; ip_fix(); return MG_DROP_IP_HDR_LEN;
	case 11: make_udp(18, false); iph()->total_length = RTE_BE16(1000); ip_fix();
		return MG_DROP_IP_TOTAL_LEN;
	case 12: make_udp(18, false); iph()->hdr_checksum ^= 1; return MG_DROP_IP_CHECKSUM;
	case 13: put_eth(our_mac, RTE_ETHER_TYPE_IPV4); put_ipv4(IPPROTO_UDP, PEER_IP, 8, 4);
		return MG_DROP_IP_OPTIONS;
	case 14: make_udp(18, false); iph()->fragment_offset = RTE_BE16(RTE_IPV4_HDR_MF_FLAG);
		ip_fix(); return MG_DROP_IP_FRAGMENT;
	case 15: make_tcp_src(ip4(127, 0, 0, 1), SYN, 0, 0); return MG_DROP_IP_MARTIAN;
	case 16: make_udp(18, false); iph()->dst_addr = ip4(198, 18, 1, 9); ip_fix();
		return MG_DROP_NOT_OURS;
	case 17: make_udp(18, false); iph()->next_proto_id = 47; ip_fix(); return MG_DROP_L4_PROTO;
	case 18: make_tcp(SYN, 0, 0); iph()->total_length = RTE_BE16(30); ip_fix();
		f.len = ETH + 30; return MG_DROP_TCP_TRUNCATED;
	case 19: make_tcp(SYN, 0, 0); tcph()->data_off = 4 << 4; l4_fix(); return MG_DROP_TCP_HDR_LEN;
	case 20: make_tcp(SYN, 0, 0); tcph()->cksum ^= 1; return MG_DROP_TCP_CHECKSUM;
	case 21: make_tcp(0, 0, 0); return MG_DROP_TCP_FLAGS;
	case 22: make_tcp(SYN, 0, 0); tcph()->src_port = 0; l4_fix(); return MG_DROP_TCP_PORT_ZERO;
	case 23: make_tcp(SYN, 0, 0); return MG_DROP_TCP_NO_LISTENER;
	case 24: make_udp(18, false); iph()->total_length = RTE_BE16(24); ip_fix();
		f.len = ETH + 24; return MG_DROP_UDP_TRUNCATED;
	case 25: make_udp(18, false); udph()->dgram_len = RTE_BE16(20); return MG_DROP_UDP_LEN;
	case 26: make_udp(18, true); udph()->dgram_cksum ^= 1; return MG_DROP_UDP_CHECKSUM;
	case 27: make_udp(18, true); return MG_DROP_UDP_NO_LISTENER;
	case 28: make_icmp(RTE_IP_ICMP_ECHO_REQUEST, 8); iph()->total_length = RTE_BE16(24);
		ip_fix(); f.len = ETH + 24; return MG_DROP_ICMP_TRUNCATED;
	case 29: make_icmp(RTE_IP_ICMP_ECHO_REQUEST, 8); l4()[2] ^= 1; return MG_DROP_ICMP_CHECKSUM;
	case 30: make_icmp(13, 8); return MG_DROP_ICMP_UNHANDLED; /* timestamp */
	case 31: make_arp(bcast_mac, RTE_ARP_OP_REQUEST, PEER_IP, US_IP); return MG_DROP_NONE;
	default: make_icmp(RTE_IP_ICMP_ECHO_REQUEST, 8); return MG_DROP_NONE;
	}
}

/* Frame kind @p k in an mbuf (two for the chained kind), its first byte tagged. */
static struct rte_mbuf *mbuf_of_kind(int k)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	uint32_t first;

	assert_non_null(m);
	frame_of_kind(k);
	first = k == 1 ? f.len / 2 : f.len;
	memcpy(rte_pktmbuf_append(m, (uint16_t)first), f.b, first);
	if (k == 1) {
		struct rte_mbuf *tail = rte_pktmbuf_alloc(pool);

		assert_non_null(tail);
		memcpy(rte_pktmbuf_append(tail, (uint16_t)(f.len - first)), f.b + first,
		       f.len - first);
		assert_int_equal(rte_pktmbuf_chain(m, tail), 0);
	}
	return m;
}

static struct mg_worker *worker_new(void)
{
	struct mg_worker *w = rte_zmalloc("test_rx_burst", sizeof(*w), RTE_CACHE_LINE_SIZE);
	char name[RTE_RING_NAMESIZE];

	assert_non_null(w);
	w->n_ports = 1;
	w->n_workers = 1;
	w->ports[0].addrs = us;
	snprintf(name, sizeof(name), "rxb_%u", ring_seq++);
	w->to_ctrl = rte_ring_create(name, 256, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
	assert_non_null(w->to_ctrl);
	return w;
}

/* The slow path's frames, in order, checked against @p kinds and freed. */
static void slowpath_is(struct mg_worker *w, const int *kinds, unsigned n)
{
	void *obj;
	unsigned i = 0;

	while (rte_ring_dequeue(w->to_ctrl, &obj) == 0) {
		struct rte_mbuf *m = obj;

		assert_true(i < n);
		frame_of_kind(kinds[i++]);
		assert_int_equal(rte_pktmbuf_data_len(m), f.len);
		assert_memory_equal(rte_pktmbuf_mtod(m, uint8_t *), f.b, f.len);
		assert_int_equal(m->port, 0);
		rte_pktmbuf_free(m);
	}
	assert_int_equal(i, n);
	rte_ring_free(w->to_ctrl);
	rte_free(w);
}

static void mixed_burst_counts_every_reason_once_per_frame(void **state)
{
	enum { N = N_KINDS * COPIES };
	struct mg_worker *burst = worker_new(), *single = worker_new();
	unsigned avail0 = rte_mempool_avail_count(pool), n_slow = 0;
	struct rte_mbuf *pkts[N];
	int order[N], slow[N];
	uint64_t x = 0x9e3779b97f4a7c15ull;

	(void)state;
	for (int i = 0; i < N; i++)
		order[i] = i % N_KINDS;
	for (int i = N - 1; i > 0; i--) { /* a fixed shuffle (xorshift64) */
		int j, t;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		j = (int)(x % (uint64_t)(i + 1));
		t = order[i], order[i] = order[j], order[j] = t;
	}
	for (int i = 0; i < N; i++) {
		pkts[i] = mbuf_of_kind(order[i]);
		if (frame_of_kind(order[i]) == MG_DROP_NONE)
			slow[n_slow++] = order[i];
	}
	mg_worker_rx_burst(burst, 0, pkts, N); /* more than MG_BURST: two chunks and a tail */
	for (int i = 0; i < N; i++) {
		struct rte_mbuf *m = mbuf_of_kind(order[i]);

		mg_worker_rx_burst(single, 0, &m, 1);
	}
	for (int k = 0; k < N_KINDS; k++) {
		enum mg_drop d = frame_of_kind(k);

		if (d != MG_DROP_NONE)
			assert_int_equal(burst->stats.drops[d], COPIES);
	}
	assert_int_equal(burst->stats.drops[MG_DROP_NONE], 0);
	assert_memory_equal(burst->stats.drops, single->stats.drops, sizeof(burst->stats.drops));
	assert_int_equal(burst->stats.port[0].rx_packets, N);
	assert_int_equal(burst->stats.port[0].drops, N - 2 * COPIES);
	assert_int_equal(burst->stats.to_slowpath, 2 * COPIES);
	assert_memory_equal(&burst->stats.port[0], &single->stats.port[0],
			    sizeof(burst->stats.port[0]));
	assert_int_equal(single->stats.to_slowpath, 2 * COPIES);
	slowpath_is(burst, slow, n_slow);
	slowpath_is(single, slow, n_slow);
	assert_int_equal(rte_mempool_avail_count(pool), avail0);
}

int main(int argc, char **argv)
{
	char prefix[64];
	char *eal[] = {argv[0], "--no-huge", "-m", "256", "--no-pci", prefix,
		       "--log-level=error", "--no-telemetry", "--no-shconf"};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(mixed_burst_counts_every_reason_once_per_frame, setup),
	};
	int rc;

	(void)argc;
	snprintf(prefix, sizeof(prefix), "--file-prefix=mgtest-rxb-%d", getpid());
	if (rte_eal_init((int)RTE_DIM(eal), eal) < 0)
		return 1;
	pool = rte_pktmbuf_pool_create("rx_burst_test", 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				       SOCKET_ID_ANY);
	if (!pool)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	rte_mempool_free(pool);
	rte_eal_cleanup();
	return rc;
}
