/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mg_parse_frame(): frames that pass, and each way a frame is dropped
 * (Ethernet, ARP, IPv4, the NIC's checksum hints, TCP, UDP, ICMP, every
 * truncation). Classification is test_classify.c.
 */
#include "frames.h"

/* ---- frames that pass ------------------------------------------------- */

static void arp_request_passes(void **state)
{
	(void)state;
	make_arp(bcast_mac, RTE_ARP_OP_REQUEST, PEER_IP, US_IP);
	assert_int_equal(parse(), MG_DROP_NONE);
	assert_int_equal(pkt.l3, MG_L3_ARP);
	assert_int_equal(pkt.l3_off, ETH);
	assert_int_equal(pkt.arp_op, RTE_ARP_OP_REQUEST);
	assert_int_equal(pkt.src_ip, PEER_IP);
	assert_int_equal(pkt.dst_ip, US_IP);
	assert_int_equal(pkt.dst_mac_bcast, 1);
	assert_int_equal(pkt.frame_len, ETH + 28);
}

static void arp_reply_with_padding_passes(void **state)
{
	(void)state;
	make_arp(our_mac, RTE_ARP_OP_REPLY, PEER_IP, US_IP);
	pad_to(60);
	assert_int_equal(parse(), MG_DROP_NONE);
	assert_int_equal(pkt.arp_op, RTE_ARP_OP_REPLY);
	assert_int_equal(pkt.dst_mac_bcast, 0);
	assert_int_equal(pkt.frame_len, ETH + 28);
}

static void icmp_echo_passes(void **state)
{
	(void)state;
	make_icmp(RTE_IP_ICMP_ECHO_REQUEST, 56);
	assert_int_equal(parse(), MG_DROP_NONE);
	assert_int_equal(pkt.l3, MG_L3_IPV4);
	assert_int_equal(pkt.proto, IPPROTO_ICMP);
	assert_int_equal(pkt.icmp_type, RTE_IP_ICMP_ECHO_REQUEST);
	assert_int_equal(pkt.l4_off, ETH + 20);
	assert_int_equal(pkt.l4_len, 64);
	assert_int_equal(pkt.data_off, ETH + 28);
	assert_int_equal(pkt.data_len, 56);
	assert_int_equal(pkt.frame_len, ETH + 20 + 64);
}

static void icmp_odd_length_passes(void **state)
{
	(void)state;
	make_icmp(RTE_IP_ICMP_ECHO_REQUEST, 57);
	assert_int_equal(parse(), MG_DROP_NONE);
	assert_int_equal(pkt.l4_len, 65);
}

static void tcp_syn_passes(void **state)
{
	(void)state;
	make_tcp(SYN, 0, 0);
	assert_int_equal(parse(), MG_DROP_NONE);
	assert_int_equal(pkt.l3, MG_L3_IPV4);
	assert_int_equal(pkt.l3_off, ETH);
	assert_int_equal(pkt.proto, IPPROTO_TCP);
	assert_int_equal(pkt.tcp_flags, SYN);
	assert_int_equal(pkt.src_ip, PEER_IP);
	assert_int_equal(pkt.dst_ip, US_IP);
	assert_int_equal(pkt.src_port, rte_cpu_to_be_16(40000));
	assert_int_equal(pkt.dst_port, rte_cpu_to_be_16(443));
	assert_int_equal(pkt.l4_off, ETH + 20);
	assert_int_equal(pkt.l4_len, 20);
	assert_int_equal(pkt.data_off, ETH + 40);
	assert_int_equal(pkt.data_len, 0);
	assert_int_equal(pkt.frame_len, ETH + 40);
	assert_int_equal(pkt.dst_mac_bcast, 0);
}

static void tcp_options_and_data_pass(void **state)
{
	(void)state;
	make_tcp(ACK | PSH, 12, 1001);
	assert_int_equal(parse(), MG_DROP_NONE);
	assert_int_equal(pkt.l4_len, 20 + 12 + 1001);
	assert_int_equal(pkt.data_off, ETH + 20 + 32);
	assert_int_equal(pkt.data_len, 1001);
}

static void tcp_syn_with_padding_passes(void **state)
{
	(void)state;
	make_tcp(SYN, 0, 0);
	pad_to(60);
	assert_int_equal(parse(), MG_DROP_NONE);
	assert_int_equal(pkt.frame_len, ETH + 40);
	assert_int_equal(pkt.l4_len, 20);
	assert_int_equal(pkt.data_len, 0);
}

static void udp_with_checksum_passes(void **state)
{
	(void)state;
	make_udp(33, true);
	assert_int_not_equal(udph()->dgram_cksum, 0);
	assert_int_equal(parse(), MG_DROP_NONE);
	assert_int_equal(pkt.proto, IPPROTO_UDP);
	assert_int_equal(pkt.src_port, rte_cpu_to_be_16(5353));
	assert_int_equal(pkt.dst_port, rte_cpu_to_be_16(53));
	assert_int_equal(pkt.data_off, ETH + 28);
	assert_int_equal(pkt.data_len, 33);
}

static void udp_without_checksum_passes(void **state)
{
	(void)state;
	make_udp(10, false);
	assert_int_equal(udph()->dgram_cksum, 0);
	assert_int_equal(parse(), MG_DROP_NONE);
	assert_int_equal(pkt.data_len, 10);
}

static void udp_with_padding_passes(void **state)
{
	(void)state;
	make_udp(2, true);
	pad_to(60);
	assert_int_equal(parse(), MG_DROP_NONE);
	assert_int_equal(pkt.frame_len, ETH + 20 + 10);
	assert_int_equal(pkt.l4_len, 10);
}

/* RFC 768: a computed checksum of 0 is sent as 0xffff; it must verify. */
static void udp_computed_zero_sent_as_ffff_passes(void **state)
{
	uint16_t c;

	(void)state;
	make_udp(8, false);
	memset(l4() + 8 + 6, 0, 2);
	l4_fix();
	/* Putting the checksum in a zero payload word makes the new sum 0. */
	c = udph()->dgram_cksum;
	memcpy(l4() + 8 + 6, &c, 2);
	l4_fix();
	assert_int_equal(udph()->dgram_cksum, 0xffff);
	assert_int_equal(parse(), MG_DROP_NONE);
}

static void unaligned_frames_pass(void **state)
{
	(void)state;
	for (uint32_t align = 0; align < 8; align++) {
		make_tcp(ACK, 4, 333);
		assert_int_equal(parse_full(align, f.len, U, U), MG_DROP_NONE);
		make_udp(77, true);
		assert_int_equal(parse_full(align, f.len, U, U), MG_DROP_NONE);
		make_icmp(RTE_IP_ICMP_ECHO_REQUEST, 31);
		assert_int_equal(parse_full(align, f.len, U, U), MG_DROP_NONE);
		make_arp(bcast_mac, RTE_ARP_OP_REQUEST, PEER_IP, US_IP);
		assert_int_equal(parse_full(align, f.len, U, U), MG_DROP_NONE);
		/* One flipped payload bit is caught at every alignment. */
		make_tcp(ACK, 4, 333);
		f.b[f.len - 1] ^= 0x10;
		assert_int_equal(parse_full(align, f.len, U, U), MG_DROP_TCP_CHECKSUM);
	}
}

/*
 * Checksums at every L4 length up to a full 1500-byte frame and odd start
 * addresses: the 32-byte blocks (AVX2 where built with it) and every tail.
 */
static void checksums_at_every_length(void **state)
{
	(void)state;
	for (uint32_t n = 0; n <= 1472; n++) {
		make_udp(n, true);
		assert_int_equal(parse_full(n & 7, f.len, U, U), MG_DROP_NONE);
		/* A byte in the middle is in the blocks, from 64 bytes up. */
		f.b[f.len - 1 - n / 2] ^= 0x10;
		assert_int_equal(parse_full(n & 7, f.len, U, U), MG_DROP_UDP_CHECKSUM);
		f.b[f.len - 1 - n / 2] ^= 0x10;
		/* The last payload byte exercises the odd and short tails. */
		f.b[n ? f.len - 1 : ETH + 20] ^= 0x01;
		assert_int_equal(parse_full(n & 7, f.len, U, U), MG_DROP_UDP_CHECKSUM);
		make_icmp(RTE_IP_ICMP_ECHO_REQUEST, n);
		assert_int_equal(parse_full(n & 3, f.len, U, U), MG_DROP_NONE);
		f.b[f.len - 1] ^= 0x80;
		assert_int_equal(parse_full(n & 3, f.len, U, U), MG_DROP_ICMP_CHECKSUM);
	}
}

/* ---- Ethernet --------------------------------------------------------- */

static void runt_frames_are_dropped(void **state)
{
	(void)state;
	make_tcp(SYN, 0, 0);
	assert_int_equal(parse_len(0), MG_DROP_RUNT);
	assert_int_equal(parse_len(1), MG_DROP_RUNT);
	assert_int_equal(parse_len(13), MG_DROP_RUNT);
}

static void vlan_tags_are_dropped(void **state)
{
	(void)state;
	put_eth(our_mac, RTE_ETHER_TYPE_VLAN);
	pad_to(60);
	assert_int_equal(parse(), MG_DROP_VLAN);
	put_eth(our_mac, RTE_ETHER_TYPE_QINQ);
	pad_to(60);
	assert_int_equal(parse(), MG_DROP_VLAN);
}

static void ipv6_is_dropped(void **state)
{
	(void)state;
	put_eth(our_mac, RTE_ETHER_TYPE_IPV6);
	pad_to(60);
	assert_int_equal(parse(), MG_DROP_IPV6);
}

static void unknown_ethertypes_are_dropped(void **state)
{
	(void)state;
	put_eth(our_mac, RTE_ETHER_TYPE_LLDP);
	pad_to(60);
	assert_int_equal(parse(), MG_DROP_ETHERTYPE);
	put_eth(our_mac, 0x0026); /* 802.3 length field (LLC, e.g. STP) */
	pad_to(60);
	assert_int_equal(parse(), MG_DROP_ETHERTYPE);
	put_eth(our_mac, RTE_ETHER_TYPE_IPV4);
	assert_int_equal(parse(), MG_DROP_IP_TRUNCATED); /* bare header */
}

/* ---- ARP -------------------------------------------------------------- */

static void arp_truncated_is_malformed(void **state)
{
	(void)state;
	make_arp(bcast_mac, RTE_ARP_OP_REQUEST, PEER_IP, US_IP);
	assert_int_equal(parse_len(ETH), MG_DROP_ARP_MALFORMED);
	assert_int_equal(parse_len(ETH + 27), MG_DROP_ARP_MALFORMED);
	assert_int_equal(parse_len(ETH + 28), MG_DROP_NONE);
}

static void arp_wrong_formats_are_malformed(void **state)
{
	static const struct {
		uint16_t hrd, pro;
		uint8_t hlen, plen;
		uint16_t op;
	} bad[] = {
		{ 6, RTE_ETHER_TYPE_IPV4, 6, 4, 1 },      /* IEEE 802 hardware */
		{ 1, RTE_ETHER_TYPE_IPV6, 6, 4, 1 },      /* not IPv4 */
		{ 1, RTE_ETHER_TYPE_IPV4, 8, 4, 1 },      /* hardware length */
		{ 1, RTE_ETHER_TYPE_IPV4, 6, 16, 1 },     /* protocol length */
		{ 1, RTE_ETHER_TYPE_IPV4, 6, 4, 0 },      /* no opcode */
		{ 1, RTE_ETHER_TYPE_IPV4, 6, 4, 3 },      /* RARP request */
		{ 1, RTE_ETHER_TYPE_IPV4, 6, 4, 0x0100 }, /* byte-swapped op */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		make_arp(bcast_mac, RTE_ARP_OP_REQUEST, PEER_IP, US_IP);
		arph()->arp_hardware = rte_cpu_to_be_16(bad[i].hrd);
		arph()->arp_protocol = rte_cpu_to_be_16(bad[i].pro);
		arph()->arp_hlen = bad[i].hlen;
		arph()->arp_plen = bad[i].plen;
		arph()->arp_opcode = rte_cpu_to_be_16(bad[i].op);
		assert_int_equal(parse(), MG_DROP_ARP_MALFORMED);
	}
}

/* ---- IPv4 ------------------------------------------------------------- */

static void ip_truncated(void **state)
{
	(void)state;
	make_tcp(SYN, 0, 0);
	assert_int_equal(parse_len(ETH + 1), MG_DROP_IP_TRUNCATED);
	assert_int_equal(parse_len(ETH + 19), MG_DROP_IP_TRUNCATED);
}

static void ip_version_not_4(void **state)
{
	(void)state;
	make_tcp(SYN, 0, 0);
	iph()->version_ihl = (6 << 4) | 5;
	ip_fix();
	assert_int_equal(parse(), MG_DROP_IP_VERSION);
	iph()->version_ihl = 5;
	ip_fix();
	assert_int_equal(parse(), MG_DROP_IP_VERSION);
}

static void ip_header_length_below_20(void **state)
{
	(void)state;
	for (uint8_t ihl = 0; ihl < 5; ihl++) {
		make_tcp(SYN, 0, 0);
		iph()->version_ihl = (4 << 4) | ihl;
		assert_int_equal(parse(), MG_DROP_IP_HDR_LEN);
	}
}

static void ip_header_length_past_frame(void **state)
{
	(void)state;
	make_icmp(RTE_IP_ICMP_ECHO_REQUEST, 0); /* 28 bytes of IP */
	iph()->version_ihl = (4 << 4) | 8;     /* 32 */
	assert_int_equal(parse(), MG_DROP_IP_HDR_LEN);
	iph()->version_ihl = (4 << 4) | 15;    /* 60 */
	assert_int_equal(parse(), MG_DROP_IP_HDR_LEN);
}

static void ip_total_length_below_header(void **state)
{
	(void)state;
	make_tcp(SYN, 0, 0);
	iph()->total_length = rte_cpu_to_be_16(19);
	ip_fix();
	assert_int_equal(parse(), MG_DROP_IP_TOTAL_LEN);
	iph()->total_length = 0;
	ip_fix();
	assert_int_equal(parse(), MG_DROP_IP_TOTAL_LEN);
}

static void ip_total_length_past_frame(void **state)
{
	(void)state;
	make_tcp(SYN, 0, 0);
	iph()->total_length = rte_cpu_to_be_16(41);
	ip_fix();
	assert_int_equal(parse(), MG_DROP_IP_TOTAL_LEN);
	iph()->total_length = rte_cpu_to_be_16(0xffff);
	ip_fix();
	assert_int_equal(parse(), MG_DROP_IP_TOTAL_LEN);
}

/* total_length, not the frame, bounds L4: here it leaves 10 bytes of TCP. */
static void ip_total_length_bounds_l4(void **state)
{
	(void)state;
	make_tcp(SYN, 0, 0);
	iph()->total_length = rte_cpu_to_be_16(30);
	ip_fix();
	assert_int_equal(parse(), MG_DROP_TCP_TRUNCATED);
}

static void ip_checksum_wrong(void **state)
{
	(void)state;
	make_tcp(SYN, 0, 0);
	iph()->time_to_live--;
	assert_int_equal(parse(), MG_DROP_IP_CHECKSUM);
	make_tcp(SYN, 0, 0);
	iph()->hdr_checksum ^= 1;
	assert_int_equal(parse(), MG_DROP_IP_CHECKSUM);
}

static void ip_options_are_refused(void **state)
{
	(void)state;
	put_eth(our_mac, RTE_ETHER_TYPE_IPV4);
	put_ipv4(IPPROTO_ICMP, PEER_IP, 8, 4);
	assert_int_equal(parse(), MG_DROP_IP_OPTIONS);
	put_eth(our_mac, RTE_ETHER_TYPE_IPV4);
	put_ipv4(IPPROTO_ICMP, PEER_IP, 8, 40);
	assert_int_equal(parse(), MG_DROP_IP_OPTIONS);
}

/* The checksum covers the options, so a corrupt option is a checksum drop. */
static void ip_checksum_is_checked_before_options(void **state)
{
	(void)state;
	put_eth(our_mac, RTE_ETHER_TYPE_IPV4);
	put_ipv4(IPPROTO_ICMP, PEER_IP, 8, 8);
	f.b[ETH + 20 + 5] ^= 0x40;
	assert_int_equal(parse(), MG_DROP_IP_CHECKSUM);
}

static void ip_fragments_are_refused(void **state)
{
	static const uint16_t frag[] = {
		RTE_IPV4_HDR_MF_FLAG,              /* first fragment */
		RTE_IPV4_HDR_MF_FLAG | 185,        /* middle */
		185,                               /* last */
		1,                                 /* smallest offset */
		RTE_IPV4_HDR_OFFSET_MASK,          /* largest offset */
		RTE_IPV4_HDR_DF_FLAG | 1,          /* DF does not excuse an offset */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(frag) / sizeof(frag[0]); i++) {
		make_tcp(SYN, 0, 0);
		iph()->fragment_offset = rte_cpu_to_be_16(frag[i]);
		ip_fix();
		assert_int_equal(parse(), MG_DROP_IP_FRAGMENT);
	}
	/* DF alone, or no flag at all, is an unfragmented datagram. */
	make_tcp(SYN, 0, 0);
	iph()->fragment_offset = 0;
	ip_fix();
	assert_int_equal(parse(), MG_DROP_NONE);
}

static void ip_martian_sources_are_dropped(void **state)
{
	static const uint8_t bad[][4] = {
		{ 0, 0, 0, 0 }, { 0, 1, 2, 3 }, { 127, 0, 0, 1 }, { 127, 255, 255, 255 },
		{ 224, 0, 0, 1 }, { 239, 255, 255, 250 }, { 240, 0, 0, 1 },
		{ 255, 255, 255, 255 },
	};
	static const uint8_t good[][4] = {
		{ 1, 0, 0, 0 }, { 126, 255, 255, 255 }, { 128, 0, 0, 0 },
		{ 10, 0, 0, 1 }, { 223, 255, 255, 255 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		make_tcp_src(ip4(bad[i][0], bad[i][1], bad[i][2], bad[i][3]), SYN, 0, 0);
		assert_int_equal(parse(), MG_DROP_IP_MARTIAN);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		make_tcp_src(ip4(good[i][0], good[i][1], good[i][2], good[i][3]), SYN, 0, 0);
		assert_int_equal(parse(), MG_DROP_NONE);
	}
}

static void ip_other_protocols_are_dropped(void **state)
{
	static const uint8_t proto[] = { 0, 2, 4, 41, 47, 50, 58, 132, 255 };

	(void)state;
	for (size_t i = 0; i < sizeof(proto); i++) {
		put_eth(our_mac, RTE_ETHER_TYPE_IPV4);
		put_ipv4(proto[i], PEER_IP, 20, 0);
		assert_int_equal(parse(), MG_DROP_L4_PROTO);
	}
}

/* ---- checksum hints from the NIC -------------------------------------- */

static void ip_hint_good_skips_the_sum(void **state)
{
	(void)state;
	make_tcp(SYN, 0, 0);
	iph()->hdr_checksum ^= 0xffff;
	assert_int_equal(parse_full(0, f.len, MG_CSUM_GOOD, U), MG_DROP_NONE);
}

static void ip_hint_bad_drops_a_correct_sum(void **state)
{
	(void)state;
	make_tcp(SYN, 0, 0);
	assert_int_equal(parse_full(0, f.len, MG_CSUM_BAD, U), MG_DROP_IP_CHECKSUM);
	/* ...but only once the lengths were judged. */
	iph()->total_length = rte_cpu_to_be_16(500);
	assert_int_equal(parse_full(0, f.len, MG_CSUM_BAD, U), MG_DROP_IP_TOTAL_LEN);
}

static void l4_hint_good_skips_the_sum(void **state)
{
	(void)state;
	make_tcp(ACK, 0, 10);
	tcph()->cksum ^= 0x0101;
	assert_int_equal(parse_full(0, f.len, U, MG_CSUM_GOOD), MG_DROP_NONE);
	make_udp(10, true);
	udph()->dgram_cksum ^= 0x0101;
	assert_int_equal(parse_full(0, f.len, U, MG_CSUM_GOOD), MG_DROP_NONE);
}

static void l4_hint_bad_drops_a_correct_sum(void **state)
{
	(void)state;
	make_tcp(ACK, 0, 10);
	assert_int_equal(parse_full(0, f.len, U, MG_CSUM_BAD), MG_DROP_TCP_CHECKSUM);
	make_udp(10, true);
	assert_int_equal(parse_full(0, f.len, U, MG_CSUM_BAD), MG_DROP_UDP_CHECKSUM);
}

/* Zero means "no checksum"; some NICs report those as bad. */
static void udp_zero_checksum_ignores_bad_hint(void **state)
{
	(void)state;
	make_udp(10, false);
	assert_int_equal(parse_full(0, f.len, U, MG_CSUM_BAD), MG_DROP_NONE);
}

/* NICs vouch for TCP and UDP only: ICMP is always summed. */
static void icmp_ignores_l4_hint(void **state)
{
	(void)state;
	make_icmp(RTE_IP_ICMP_ECHO_REQUEST, 8);
	f.b[f.len - 1] ^= 1;
	assert_int_equal(parse_full(0, f.len, MG_CSUM_GOOD, MG_CSUM_GOOD),
			 MG_DROP_ICMP_CHECKSUM);
	f.b[f.len - 1] ^= 1;
	assert_int_equal(parse_full(0, f.len, U, MG_CSUM_BAD), MG_DROP_NONE);
}

/* ---- TCP -------------------------------------------------------------- */

static void tcp_truncated(void **state)
{
	(void)state;
	for (uint32_t n = 0; n < 20; n++) {
		put_eth(our_mac, RTE_ETHER_TYPE_IPV4);
		put_ipv4(IPPROTO_TCP, PEER_IP, n, 0);
		assert_int_equal(parse(), MG_DROP_TCP_TRUNCATED);
	}
}

static void tcp_data_offset_below_5(void **state)
{
	(void)state;
	for (uint8_t doff = 0; doff < 5; doff++) {
		make_tcp(SYN, 0, 40);
		tcph()->data_off = (uint8_t)(doff << 4);
		l4_fix();
		assert_int_equal(parse(), MG_DROP_TCP_HDR_LEN);
	}
}

static void tcp_data_offset_past_segment(void **state)
{
	(void)state;
	make_tcp(SYN, 0, 0);
	tcph()->data_off = 6 << 4;
	l4_fix();
	assert_int_equal(parse(), MG_DROP_TCP_HDR_LEN);
	make_tcp(ACK, 8, 31); /* 59 bytes: 15 * 4 = 60 is one too many */
	tcph()->data_off = 15 << 4;
	l4_fix();
	assert_int_equal(parse(), MG_DROP_TCP_HDR_LEN);
	tcph()->data_off = 14 << 4;
	l4_fix();
	assert_int_equal(parse(), MG_DROP_NONE);
	assert_int_equal(pkt.data_len, 3);
}

static void tcp_checksum_wrong(void **state)
{
	(void)state;
	make_tcp(SYN, 0, 0);
	tcph()->cksum ^= 0x8000;
	assert_int_equal(parse(), MG_DROP_TCP_CHECKSUM);
	/* The pseudo-header counts: a rewritten destination breaks the sum. */
	make_tcp(ACK, 0, 100);
	iph()->dst_addr = ip4(198, 18, 1, 3);
	ip_fix();
	assert_int_equal(parse(), MG_DROP_TCP_CHECKSUM);
	/* Padding is not summed, but a flipped payload bit is. */
	make_tcp(ACK, 0, 5);
	pad_to(60);
	f.b[ETH + 40 + 4] ^= 4;
	assert_int_equal(parse(), MG_DROP_TCP_CHECKSUM);
}

static void tcp_port_zero(void **state)
{
	(void)state;
	make_tcp(SYN, 0, 0);
	tcph()->src_port = 0;
	l4_fix();
	assert_int_equal(parse(), MG_DROP_TCP_PORT_ZERO);
	make_tcp(SYN, 0, 0);
	tcph()->dst_port = 0;
	l4_fix();
	assert_int_equal(parse(), MG_DROP_TCP_PORT_ZERO);
}

static enum mg_drop tcp_with_flags(uint8_t flags)
{
	make_tcp(flags, 0, 0);
	return parse();
}

static void tcp_invalid_flag_combinations(void **state)
{
	static const uint8_t bad[] = {
		0,                       /* null scan */
		SYN | FIN, SYN | FIN | ACK,
		SYN | RST, SYN | RST | ACK,
		FIN | RST, FIN | RST | ACK,
		FIN, PSH, URG,           /* need ACK */
		FIN | PSH | URG,         /* xmas */
		SYN | PSH, SYN | URG, RST | PSH,
		ECE, CWR, ECE | CWR,     /* ECN alone */
		RST | ECE, RST | CWR,
		0xff,
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad); i++)
		assert_int_equal(tcp_with_flags(bad[i]), MG_DROP_TCP_FLAGS);
}

static void tcp_valid_flag_combinations(void **state)
{
	static const uint8_t good[] = {
		SYN, SYN | ACK, RST, RST | ACK, ACK,
		ACK | PSH, ACK | FIN, ACK | URG, ACK | FIN | PSH | URG,
		SYN | ECE | CWR,         /* ECN setup (RFC 3168) */
		SYN | ACK | ECE, ACK | ECE, ACK | CWR, ACK | PSH | ECE | CWR,
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good); i++) {
		assert_int_equal(tcp_with_flags(good[i]), MG_DROP_NONE);
		assert_int_equal(pkt.tcp_flags, good[i]);
	}
}

/*
 * All 256 combinations against the allowed set built another way: from
 * SYN, RST and ACK plus any of PSH/FIN/URG (SYN and RST not with FIN), then
 * ECE/CWR on whatever carries SYN or ACK.
 */
static void tcp_flags_exhaustive(void **state)
{
	bool ok[256] = { false };

	(void)state;
	ok[SYN] = ok[RST] = true;
	for (uint8_t s = 0; s < 8; s++) {
		uint8_t extra = (s & 1 ? PSH : 0) | (s & 2 ? FIN : 0) | (s & 4 ? URG : 0);

		ok[ACK | extra] = true;
		if (!(extra & FIN))
			ok[SYN | ACK | extra] = ok[RST | ACK | extra] = true;
	}
	for (int v = 0; v < 256; v++)
		if (ok[v] && (v & (SYN | ACK)) && !(v & (ECE | CWR)))
			ok[v | ECE] = ok[v | CWR] = ok[v | ECE | CWR] = true;
	for (int v = 0; v < 256; v++)
		assert_int_equal(tcp_with_flags((uint8_t)v),
				 ok[v] ? MG_DROP_NONE : MG_DROP_TCP_FLAGS);
}

/* ---- UDP and ICMP ----------------------------------------------------- */

static void udp_truncated(void **state)
{
	(void)state;
	for (uint32_t n = 0; n < 8; n++) {
		put_eth(our_mac, RTE_ETHER_TYPE_IPV4);
		put_ipv4(IPPROTO_UDP, PEER_IP, n, 0);
		assert_int_equal(parse(), MG_DROP_UDP_TRUNCATED);
	}
}

static void udp_length_mismatch(void **state)
{
	static const uint16_t bad[] = { 0, 7, 8, 17, 19, 0xffff };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		make_udp(10, false); /* 18 bytes of UDP */
		udph()->dgram_len = rte_cpu_to_be_16(bad[i]);
		assert_int_equal(parse(), MG_DROP_UDP_LEN);
	}
	/* Padding does not count toward the UDP length either. */
	make_udp(10, false);
	udph()->dgram_len = rte_cpu_to_be_16(18 + 4);
	pad_to(f.len + 4);
	assert_int_equal(parse(), MG_DROP_UDP_LEN);
}

static void udp_checksum_wrong(void **state)
{
	(void)state;
	make_udp(21, true);
	f.b[f.len - 3] ^= 0x20;
	assert_int_equal(parse(), MG_DROP_UDP_CHECKSUM);
	make_udp(0, true);
	udph()->src_port ^= 1;
	assert_int_equal(parse(), MG_DROP_UDP_CHECKSUM);
}

static void icmp_truncated(void **state)
{
	(void)state;
	for (uint32_t n = 0; n < 8; n++) {
		put_eth(our_mac, RTE_ETHER_TYPE_IPV4);
		put_ipv4(IPPROTO_ICMP, PEER_IP, n, 0);
		assert_int_equal(parse(), MG_DROP_ICMP_TRUNCATED);
	}
}

static void icmp_checksum_wrong(void **state)
{
	(void)state;
	make_icmp(RTE_IP_ICMP_ECHO_REQUEST, 56);
	f.b[f.len - 20] ^= 0x01;
	assert_int_equal(parse(), MG_DROP_ICMP_CHECKSUM);
	/* The sum covers the whole message, type included. */
	make_icmp(RTE_IP_ICMP_ECHO_REQUEST, 0);
	l4()[0] = RTE_IP_ICMP_ECHO_REPLY;
	assert_int_equal(parse(), MG_DROP_ICMP_CHECKSUM);
}

/* ---- truncation sweeps ------------------------------------------------ */

static bool is_truncation(enum mg_drop d)
{
	return d == MG_DROP_RUNT || d == MG_DROP_IP_TRUNCATED || d == MG_DROP_IP_HDR_LEN ||
	       d == MG_DROP_IP_TOTAL_LEN || d == MG_DROP_TCP_TRUNCATED ||
	       d == MG_DROP_TCP_HDR_LEN;
}

/* Every prefix of a valid frame: never a crash or over-read, always a length drop. */
static void every_frame_prefix_is_a_length_drop(void **state)
{
	(void)state;
	make_tcp(ACK | PSH, 12, 50);
	for (uint32_t n = 0; n < f.len; n++) {
		enum mg_drop d = parse_full(n & 1, n, U, U);

		assert_true(is_truncation(d));
		assert_int_equal(d, n < ETH ? MG_DROP_RUNT :
				    n < ETH + 20 ? MG_DROP_IP_TRUNCATED :
				    MG_DROP_IP_TOTAL_LEN);
	}
	assert_int_equal(parse_full(1, f.len, U, U), MG_DROP_NONE);
}

/* The same, with total_length shrunk to match: the TCP checks take over. */
static void every_ip_length_is_judged_by_tcp(void **state)
{
	(void)state;
	for (uint32_t n = 0; n <= 20 + 12 + 50; n++) {
		enum mg_drop d;

		make_tcp(ACK | PSH, 12, 50);
		iph()->total_length = rte_cpu_to_be_16(20 + n);
		ip_fix();
		f.len = ETH + 20 + n;
		d = parse_full(n & 1, f.len, U, MG_CSUM_GOOD);
		assert_int_equal(d, n < 20 ? MG_DROP_TCP_TRUNCATED :
				    n < 32 ? MG_DROP_TCP_HDR_LEN : MG_DROP_NONE);
		if (n >= 32 && n < 82)
			assert_int_equal(parse_full(0, f.len, U, U), MG_DROP_TCP_CHECKSUM);
	}
}

/* ---- the burst path ----------------------------------------------------- */

/*
 * mg_parse_burst()'s fast path admits a frame only when every check passes:
 * every header byte of good TCP, UDP, ICMP and ARP frames, changed five ways
 * (0, 0xff, one low bit, the top bit, minus one: our own address as source,
 * the subnet's broadcast, martians, other versions, lengths and flags), under
 * each NIC hint, must get the reason, action and mg_pkt of the one-at-a-time
 * path (parse_full() compares the two).
 */
static void burst_agrees_on_every_header_byte(void **state)
{
	static const enum mg_csum_hint hints[][2] = {
		{ U, U }, { MG_CSUM_GOOD, MG_CSUM_GOOD }, { MG_CSUM_BAD, MG_CSUM_BAD },
		{ U, MG_CSUM_GOOD }, { MG_CSUM_GOOD, U },
	};
	unsigned compared = 0;

	(void)state;
	for (int kind = 0; kind < 5; kind++) {
		for (uint32_t pos = 0; pos < 64; pos++) {
			for (int how = 0; how < 5; how++) {
				uint8_t v;

				switch (kind) {
				case 0: make_udp(18, false); break;
				case 1: make_udp(18, true); break;
				case 2: make_tcp(ACK | PSH, 4, 10); break;
				case 3: make_icmp(RTE_IP_ICMP_ECHO_REQUEST, 8); break;
				default: make_arp(our_mac, RTE_ARP_OP_REQUEST, PEER_IP, US_IP); break;
				}
				if (pos >= f.len)
					break;
				v = f.b[pos];
				f.b[pos] = how == 0 ? 0 : how == 1 ? 0xff :
					   how == 2 ? v ^ 1 : how == 3 ? v ^ 0x80 : (uint8_t)(v - 1);
				for (unsigned h = 0; h < RTE_DIM(hints); h++) {
					(void)parse_full(pos & 1, f.len, hints[h][0], hints[h][1]);
					compared++;
				}
			}
		}
	}
	assert_true(compared > 5000);
}

/* A burst of many frames, some refused before parse, each judged on its own. */
static void burst_of_mixed_frames_matches_one_at_a_time(void **state)
{
	uint8_t bufs[6][128];
	struct mg_rx_frame in[6];
	struct mg_pkt pkts[6];
	uint8_t acts[6], why[6];

	(void)state;
	for (int i = 0; i < 6; i++) {
		switch (i) {
		case 0: make_udp(18, false); break;
		case 1: make_tcp(SYN, 0, 0); break;
		case 2: make_tcp(SYN, 0, 0); tcph()->cksum ^= 1; break;
		case 3: make_icmp(RTE_IP_ICMP_ECHO_REQUEST, 8); break;
		case 4: make_udp(18, true); break;
		default: make_arp(bcast_mac, RTE_ARP_OP_REQUEST, PEER_IP, US_IP); break;
		}
		memcpy(bufs[i], f.b, f.len);
		in[i] = (struct mg_rx_frame){ .data = bufs[i], .len = f.len };
		why[i] = i == 4 ? MG_DROP_CHAINED : MG_DROP_NONE; /* refused by the caller */
	}
	mg_parse_burst(in, 6, &us, pkts, acts, why);
	assert_int_equal(why[0], MG_DROP_UDP_NO_LISTENER);
	assert_int_equal(why[1], MG_DROP_NONE);
	assert_int_equal(acts[1], MG_ACT_TCP);
	assert_int_equal(pkts[1].tcp_flags, SYN);
	assert_int_equal(why[2], MG_DROP_TCP_CHECKSUM);
	assert_int_equal(why[3], MG_DROP_NONE);
	assert_int_equal(acts[3], MG_ACT_SLOWPATH);
	assert_int_equal(pkts[3].proto, IPPROTO_ICMP);
	assert_int_equal(why[4], MG_DROP_CHAINED);
	assert_int_equal(acts[4], MG_ACT_DROP);
	assert_int_equal(why[5], MG_DROP_NONE);
	assert_int_equal(acts[5], MG_ACT_SLOWPATH);
	assert_int_equal(pkts[5].l3, MG_L3_ARP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup(fn, setup)
		T(arp_request_passes),
		T(arp_reply_with_padding_passes),
		T(icmp_echo_passes),
		T(icmp_odd_length_passes),
		T(tcp_syn_passes),
		T(tcp_options_and_data_pass),
		T(tcp_syn_with_padding_passes),
		T(udp_with_checksum_passes),
		T(udp_without_checksum_passes),
		T(udp_with_padding_passes),
		T(udp_computed_zero_sent_as_ffff_passes),
		T(unaligned_frames_pass),
		T(checksums_at_every_length),
		T(runt_frames_are_dropped),
		T(vlan_tags_are_dropped),
		T(ipv6_is_dropped),
		T(unknown_ethertypes_are_dropped),
		T(arp_truncated_is_malformed),
		T(arp_wrong_formats_are_malformed),
		T(ip_truncated),
		T(ip_version_not_4),
		T(ip_header_length_below_20),
		T(ip_header_length_past_frame),
		T(ip_total_length_below_header),
		T(ip_total_length_past_frame),
		T(ip_total_length_bounds_l4),
		T(ip_checksum_wrong),
		T(ip_options_are_refused),
		T(ip_checksum_is_checked_before_options),
		T(ip_fragments_are_refused),
		T(ip_martian_sources_are_dropped),
		T(ip_other_protocols_are_dropped),
		T(ip_hint_good_skips_the_sum),
		T(ip_hint_bad_drops_a_correct_sum),
		T(l4_hint_good_skips_the_sum),
		T(l4_hint_bad_drops_a_correct_sum),
		T(udp_zero_checksum_ignores_bad_hint),
		T(icmp_ignores_l4_hint),
		T(tcp_truncated),
		T(tcp_data_offset_below_5),
		T(tcp_data_offset_past_segment),
		T(tcp_checksum_wrong),
		T(tcp_port_zero),
		T(tcp_invalid_flag_combinations),
		T(tcp_valid_flag_combinations),
		T(tcp_flags_exhaustive),
		T(udp_truncated),
		T(udp_length_mismatch),
		T(udp_checksum_wrong),
		T(icmp_truncated),
		T(icmp_checksum_wrong),
		T(every_frame_prefix_is_a_length_drop),
		T(every_ip_length_is_judged_by_tcp),
		T(burst_agrees_on_every_header_byte),
		T(burst_of_mixed_frames_matches_one_at_a_time),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
