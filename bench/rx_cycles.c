/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rx_cycles: TSC cycles per packet of mg_worker_rx_burst() alone, on bursts of
 * 32 frames like bench/deny.sh's sender's (64-byte UDP 198.18.0.1:9 ->
 * 198.18.0.2:9, UDP checksum 0 as dpdk-testpmd txonly sends them), with no
 * link, no PMD and no other process: the deny path's own cost, measurable on a
 * machine too busy for deny.sh's Mpps to mean anything.
 *
 *   rx_cycles [BURSTS [udp0|udpsum|udp1500|tcp|free]]
 *
 * "udp1500" is a full 1514-byte frame with its UDP checksum: the software
 * checksum check over a whole segment, as on af_xdp, which reports none.
 *
 * "free" times rte_pktmbuf_free_bulk() of the burst alone: what testpmd
 * rxonly does with it, the floor under the deny path.
 *
 * Each burst is filled outside the timed region (fresh mbufs, the frame copied
 * in, as a PMD leaves them: data in cache) and the call to mg_worker_rx_burst
 * is timed with rdtsc. Prints the minimum, the 10th percentile and the median
 * cycles per packet over the bursts (other load only adds cycles, so the low
 * percentiles are the path's cost).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "worker.h"

#define FRAME 60 /* 64 on the wire with the CRC */
#define FRAME_FULL 1514 /* MTU 1500 */

static const uint8_t OUR_MAC[6] = {0x02, 0, 0xc6, 0x12, 0, 2};

static void frame_build(uint8_t *f, uint16_t len, const char *kind)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)f;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	bool tcp = strcmp(kind, "tcp") == 0;
	uint16_t l4_len = len - sizeof(*eth) - sizeof(*ip);

	memset(f, 0, len);
	for (uint16_t i = FRAME; i < len; i++) /* a full frame: a payload that is not zeros */
		f[i] = (uint8_t)(i * 7);
	memcpy(&eth->dst_addr, OUR_MAC, 6);
	eth->src_addr.addr_bytes[0] = 0x02;
	eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16(len - sizeof(*eth));
	ip->time_to_live = 64;
	ip->next_proto_id = tcp ? IPPROTO_TCP : IPPROTO_UDP;
	ip->src_addr = RTE_BE32(0xc6120001);
	ip->dst_addr = RTE_BE32(0xc6120002);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	if (tcp) {
		struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)(ip + 1);

		th->src_port = RTE_BE16(9);
		th->dst_port = RTE_BE16(9);
		th->data_off = 5 << 4;
		th->tcp_flags = RTE_TCP_SYN_FLAG;
		th->cksum = rte_ipv4_udptcp_cksum(ip, th);
	} else {
		struct rte_udp_hdr *uh = (struct rte_udp_hdr *)(ip + 1);

		uh->src_port = RTE_BE16(9);
		uh->dst_port = RTE_BE16(9);
		uh->dgram_len = rte_cpu_to_be_16(l4_len);
		if (strcmp(kind, "udpsum") == 0 || strcmp(kind, "udp1500") == 0)
			uh->dgram_cksum = rte_ipv4_udptcp_cksum(ip, uh);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	char *eal[] = {argv[0], "--no-huge", "-m", "256", "--no-pci", "--log-level=error",
		       "--no-telemetry", "--no-shconf", "--file-prefix=rx_cycles"};
	unsigned bursts = argc > 1 ? (unsigned)atoi(argv[1]) : 200000;
	const char *kind = argc > 2 ? argv[2] : "udp0";
	struct rte_mbuf *pkts[MG_BURST];
	struct rte_mempool *mp;
	struct mg_worker *w;
	uint8_t frame[FRAME_FULL];
	uint16_t len = strcmp(kind, "udp1500") == 0 ? FRAME_FULL : FRAME;
	uint64_t *t;
	bool free_only = strcmp(kind, "free") == 0;

	if (rte_eal_init((int)RTE_DIM(eal), eal) < 0)
		return 1;
	mp = rte_pktmbuf_pool_create("rx_cycles", 4095, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				     SOCKET_ID_ANY);
	w = rte_zmalloc("rx_cycles", sizeof(*w), RTE_CACHE_LINE_SIZE);
	t = calloc(bursts, sizeof(*t));
	if (!mp || !w || !t || bursts == 0)
		return 1;
	w->n_ports = 1;
	w->n_workers = 1;
	memcpy(w->ports[0].addrs.mac, OUR_MAC, 6);
	w->ports[0].addrs.ip = RTE_BE32(0xc6120002);
	w->ports[0].addrs.netmask = RTE_BE32(0xffffff00);
	w->to_ctrl = rte_ring_create("rx_cycles", 1024, SOCKET_ID_ANY,
				     RING_F_SP_ENQ | RING_F_SC_DEQ);
	frame_build(frame, len, kind);
	for (unsigned b = 0; b < bursts; b++) {
		uint64_t t0;

		if (rte_pktmbuf_alloc_bulk(mp, pkts, MG_BURST) != 0)
			return 1;
		for (unsigned i = 0; i < MG_BURST; i++) {
			memcpy(rte_pktmbuf_mtod(pkts[i], uint8_t *), frame, len);
			pkts[i]->data_len = pkts[i]->pkt_len = len;
		}
		t0 = rte_rdtsc_precise();
		if (free_only)
			rte_pktmbuf_free_bulk(pkts, MG_BURST);
		else
			mg_worker_rx_burst(w, 0, pkts, MG_BURST);
		t[b] = rte_rdtsc_precise() - t0;
	}
	qsort(t, bursts, sizeof(*t), cmp_u64);
	printf("rx_cycles %s: cycles/packet min %.1f p10 %.1f median %.1f (%u bursts of %u); "
	       "drops udp_no_listener %" PRIu64 " tcp_no_listener %" PRIu64 "\n",
	       kind, (double)t[0] / MG_BURST, (double)t[bursts / 10] / MG_BURST,
	       (double)t[bursts / 2] / MG_BURST, bursts, MG_BURST,
	       w->stats.drops[MG_DROP_UDP_NO_LISTENER], w->stats.drops[MG_DROP_TCP_NO_LISTENER]);
	return 0;
}
