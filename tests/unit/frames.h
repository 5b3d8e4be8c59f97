/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Frames for the packet parser's tests (test_parse, test_classify): built in an
 * aligned buffer with DPDK's own checksum helpers, so the parser's checksum
 * code is checked against an independent reference. Every parse runs on an
 * exact-sized heap copy: ASan sees any read past len.
 */
#ifndef MG_TESTS_FRAMES_H
#define MG_TESTS_FRAMES_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <rte_arp.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "parse.h"

#define ETH 14u
#define SYN RTE_TCP_SYN_FLAG
#define ACK RTE_TCP_ACK_FLAG
#define FIN RTE_TCP_FIN_FLAG
#define RST RTE_TCP_RST_FLAG
#define PSH RTE_TCP_PSH_FLAG
#define URG RTE_TCP_URG_FLAG
#define ECE RTE_TCP_ECE_FLAG
#define CWR RTE_TCP_CWR_FLAG
#define U MG_CSUM_UNKNOWN

static const uint8_t our_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t peer_mac[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const uint8_t other_mac[6] = { 0x02, 0, 0, 0, 0, 0x09 };
static const uint8_t bcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t mcast_mac[6] = { 0x01, 0x00, 0x5e, 0, 0, 0x01 };

static struct {
	uint8_t b[2048] __attribute__((aligned(8)));
	uint32_t len;
} f;
static struct mg_pkt pkt;
static struct mg_port_addrs us;

static inline uint32_t ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	/* Not RTE_IPV4(): in 22.11 it shifts an int by 24, undefined for a >= 128. */
	return rte_cpu_to_be_32((uint32_t)a << 24 | (uint32_t)b << 16 | (uint32_t)c << 8 | d);
}

#define US_IP ip4(198, 18, 1, 1)
#define PEER_IP ip4(198, 18, 1, 2)

static inline struct rte_ipv4_hdr *iph(void)
{
	return (struct rte_ipv4_hdr *)(f.b + ETH);
}

static inline uint8_t *l4(void)
{
	return f.b + ETH + rte_ipv4_hdr_len(iph());
}

static inline struct rte_tcp_hdr *tcph(void)
{
	return (struct rte_tcp_hdr *)l4();
}

static inline struct rte_udp_hdr *udph(void)
{
	return (struct rte_udp_hdr *)l4();
}

static inline struct rte_arp_hdr *arph(void)
{
	return (struct rte_arp_hdr *)(f.b + ETH);
}

static inline void put_eth(const uint8_t dst[6], uint16_t type)
{
	memset(&f, 0, sizeof(f));
	memcpy(f.b, dst, 6);
	memcpy(f.b + 6, peer_mac, 6);
	f.b[12] = type >> 8;
	f.b[13] = type & 0xff;
	f.len = ETH;
}

static inline void ip_fix(void)
{
	iph()->hdr_checksum = 0;
	iph()->hdr_checksum = rte_ipv4_cksum(iph());
}

/* IPv4 header with opt_len bytes of NOP options, for l4_len bytes of L4. */
static inline void put_ipv4(uint8_t proto, uint32_t src, uint32_t l4_len, uint32_t opt_len)
{
	struct rte_ipv4_hdr *ip = iph();
	uint32_t hlen = sizeof(*ip) + opt_len;

	ip->version_ihl = (4 << 4) | (hlen / 4);
	ip->total_length = rte_cpu_to_be_16(hlen + l4_len);
	ip->packet_id = rte_cpu_to_be_16(0x1234);
	ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
	ip->time_to_live = 64;
	ip->next_proto_id = proto;
	ip->src_addr = src;
	ip->dst_addr = US_IP;
	memset(f.b + ETH + sizeof(*ip), RTE_IPV4_HDR_OPT_NOP, opt_len);
	f.len = ETH + hlen + l4_len;
	ip_fix();
}

static inline void fill_payload(uint8_t *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 31 + 7);
}

/* Recompute the L4 checksum over total_length, as a sender would. */
static inline void l4_fix(void)
{
	uint32_t l4_len = rte_be_to_cpu_16(iph()->total_length) - rte_ipv4_hdr_len(iph());

	switch (iph()->next_proto_id) {
	case IPPROTO_TCP:
		tcph()->cksum = 0;
		tcph()->cksum = rte_ipv4_udptcp_cksum(iph(), l4());
		break;
	case IPPROTO_UDP:
		udph()->dgram_cksum = 0;
		udph()->dgram_cksum = rte_ipv4_udptcp_cksum(iph(), l4());
		break;
	case IPPROTO_ICMP:
		((struct rte_icmp_hdr *)l4())->icmp_cksum = 0;
		((struct rte_icmp_hdr *)l4())->icmp_cksum = ~rte_raw_cksum(l4(), l4_len);
		break;
	}
}

static inline void make_tcp_src(uint32_t src, uint8_t flags, uint32_t opt_len, uint32_t data_len)
{
	struct rte_tcp_hdr *th;

	put_eth(our_mac, RTE_ETHER_TYPE_IPV4);
	put_ipv4(IPPROTO_TCP, src, sizeof(*th) + opt_len + data_len, 0);
	th = tcph();
	th->src_port = rte_cpu_to_be_16(40000);
	th->dst_port = rte_cpu_to_be_16(443);
	th->sent_seq = rte_cpu_to_be_32(1000);
	th->recv_ack = rte_cpu_to_be_32(flags & ACK ? 2000 : 0);
	th->data_off = (uint8_t)(((sizeof(*th) + opt_len) / 4) << 4);
	th->tcp_flags = flags;
	th->rx_win = rte_cpu_to_be_16(65535);
	memset(l4() + sizeof(*th), 1, opt_len); /* NOP options */
	fill_payload(l4() + sizeof(*th) + opt_len, data_len);
	l4_fix();
}

static inline void make_tcp(uint8_t flags, uint32_t opt_len, uint32_t data_len)
{
	make_tcp_src(PEER_IP, flags, opt_len, data_len);
}

static inline void make_udp(uint32_t data_len, bool csum)
{
	put_eth(our_mac, RTE_ETHER_TYPE_IPV4);
	put_ipv4(IPPROTO_UDP, PEER_IP, sizeof(struct rte_udp_hdr) + data_len, 0);
	udph()->src_port = rte_cpu_to_be_16(5353);
	udph()->dst_port = rte_cpu_to_be_16(53);
	udph()->dgram_len = rte_cpu_to_be_16(sizeof(struct rte_udp_hdr) + data_len);
	fill_payload(l4() + sizeof(struct rte_udp_hdr), data_len);
	if (csum)
		l4_fix();
}

static inline void make_icmp(uint8_t type, uint32_t data_len)
{
	struct rte_icmp_hdr *ic;

	put_eth(our_mac, RTE_ETHER_TYPE_IPV4);
	put_ipv4(IPPROTO_ICMP, PEER_IP, sizeof(*ic) + data_len, 0);
	ic = (struct rte_icmp_hdr *)l4();
	ic->icmp_type = type;
	ic->icmp_ident = rte_cpu_to_be_16(77);
	ic->icmp_seq_nb = rte_cpu_to_be_16(1);
	fill_payload(l4() + sizeof(*ic), data_len);
	l4_fix();
}

static inline void make_arp(const uint8_t dst[6], uint16_t op, uint32_t sip, uint32_t tip)
{
	struct rte_arp_hdr *a;

	put_eth(dst, RTE_ETHER_TYPE_ARP);
	a = arph();
	a->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
	a->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	a->arp_hlen = 6;
	a->arp_plen = 4;
	a->arp_opcode = rte_cpu_to_be_16(op);
	memcpy(&a->arp_data.arp_sha, peer_mac, 6);
	a->arp_data.arp_sip = sip;
	a->arp_data.arp_tip = tip;
	f.len = ETH + sizeof(*a);
}

/* Ethernet padding: bytes after the IP packet, outside total_length. */
static inline void pad_to(uint32_t len)
{
	assert_true(len >= f.len && len <= sizeof(f.b));
	memset(f.b + f.len, 0xee, len - f.len); /* garbage must not count */
	f.len = len;
}

/*
 * mg_parse_burst() on one frame against mg_parse_frame() then mg_classify():
 * the same reason, the same action and, when it passes, the same mg_pkt.
 */
static inline void burst_agrees(const uint8_t *frame, uint32_t len, enum mg_csum_hint ih,
				enum mg_csum_hint lh)
{
	struct mg_rx_frame in = { .data = frame, .len = len, .ip_csum = ih, .l4_csum = lh };
	struct mg_pkt one, many;
	enum mg_action act = MG_ACT_DROP;
	enum mg_drop d = mg_parse_frame(frame, len, ih, lh, &one);
	uint8_t why = MG_DROP_NONE, a = 0xff;

	if (d == MG_DROP_NONE)
		d = mg_classify(&one, frame, &us, &act);
	memset(&many, 0x5a, sizeof(many));
	mg_parse_burst(&in, 1, &us, &many, &a, &why);
	assert_int_equal(why, d);
	assert_int_equal(a, act);
	if (d == MG_DROP_NONE)
		assert_memory_equal(&many, &one, sizeof(one));
}

static inline enum mg_drop parse_full(uint32_t align, uint32_t len, enum mg_csum_hint ih,
			       enum mg_csum_hint lh)
{
	/* The frame ends exactly where the allocation does. */
	uint8_t *mem = malloc(align + len + (align + len == 0));
	uint8_t *frame = mem + align;
	enum mg_drop d;

	assert_non_null(mem);
	if (len)
		memcpy(frame, f.b, len);
	d = mg_parse_frame(frame, len, ih, lh, &pkt);
	burst_agrees(frame, len, ih, lh);
	free(mem);
	return d;
}

static inline enum mg_drop parse_len(uint32_t len)
{
	return parse_full(0, len, U, U);
}

static inline enum mg_drop parse(void)
{
	return parse_len(f.len);
}

static inline enum mg_drop classify(enum mg_action *act)
{
	return mg_classify(&pkt, f.b, &us, act);
}

static inline int setup(void **state)
{
	(void)state;
	memcpy(us.mac, our_mac, 6);
	us.ip = US_IP;
	us.netmask = ip4(255, 255, 255, 0);
	memset(&pkt, 0xa5, sizeof(pkt));
	return 0;
}

#endif /* MG_TESTS_FRAMES_H */
