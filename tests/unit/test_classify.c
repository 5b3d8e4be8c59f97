/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mg_classify(): what the worker does with a frame that parsed (TCP to us, ARP
 * and ICMP to the slow path, the rest dropped, martian sources refused).
 */
#include "frames.h"

/* ---- classification --------------------------------------------------- */

static void expect_class(enum mg_drop want, enum mg_action want_act)
{
	enum mg_action act = (enum mg_action)77;

	assert_int_equal(parse(), MG_DROP_NONE);
	assert_int_equal(classify(&act), want);
	assert_int_equal(act, want_act);
}

static void classify_tcp_for_us(void **state)
{
	(void)state;
	make_tcp(SYN, 0, 0);
	expect_class(MG_DROP_NONE, MG_ACT_TCP);
}

static void classify_other_mac_is_not_ours(void **state)
{
	(void)state;
	make_tcp(SYN, 0, 0);
	memcpy(f.b, other_mac, 6);
	expect_class(MG_DROP_L2_NOT_OURS, MG_ACT_DROP);
	memcpy(f.b, mcast_mac, 6);
	expect_class(MG_DROP_L2_NOT_OURS, MG_ACT_DROP);
	/* One differing byte at either end is enough. */
	memcpy(f.b, our_mac, 6);
	f.b[0] ^= 0x80;
	expect_class(MG_DROP_L2_NOT_OURS, MG_ACT_DROP);
	memcpy(f.b, our_mac, 6);
	f.b[5] ^= 0x01;
	expect_class(MG_DROP_L2_NOT_OURS, MG_ACT_DROP);
}

static void classify_other_ip_is_not_ours(void **state)
{
	(void)state;
	make_tcp(SYN, 0, 0);
	iph()->dst_addr = ip4(198, 18, 1, 3);
	ip_fix();
	l4_fix();
	expect_class(MG_DROP_NOT_OURS, MG_ACT_DROP);
}

static void classify_broadcast_ipv4_is_not_ours(void **state)
{
	(void)state;
	make_icmp(RTE_IP_ICMP_ECHO_REQUEST, 8);
	memcpy(f.b, bcast_mac, 6);
	expect_class(MG_DROP_L2_NOT_OURS, MG_ACT_DROP);
	iph()->dst_addr = ip4(198, 18, 1, 255);
	ip_fix();
	expect_class(MG_DROP_L2_NOT_OURS, MG_ACT_DROP);
}

static void classify_broadcast_arp_for_us(void **state)
{
	(void)state;
	make_arp(bcast_mac, RTE_ARP_OP_REQUEST, PEER_IP, US_IP);
	expect_class(MG_DROP_NONE, MG_ACT_SLOWPATH);
}

static void classify_unicast_arp_reply_for_us(void **state)
{
	(void)state;
	make_arp(our_mac, RTE_ARP_OP_REPLY, PEER_IP, US_IP);
	expect_class(MG_DROP_NONE, MG_ACT_SLOWPATH);
}

static void classify_arp_for_other_ip(void **state)
{
	(void)state;
	make_arp(bcast_mac, RTE_ARP_OP_REQUEST, PEER_IP, ip4(198, 18, 1, 3));
	expect_class(MG_DROP_ARP_NOT_OURS, MG_ACT_DROP);
	/* Gratuitous ARP: the sender announces itself. */
	make_arp(bcast_mac, RTE_ARP_OP_REQUEST, PEER_IP, PEER_IP);
	expect_class(MG_DROP_ARP_NOT_OURS, MG_ACT_DROP);
}

static void classify_arp_to_other_mac(void **state)
{
	(void)state;
	make_arp(other_mac, RTE_ARP_OP_REPLY, PEER_IP, US_IP);
	expect_class(MG_DROP_L2_NOT_OURS, MG_ACT_DROP);
}

static void classify_icmp_echo_request(void **state)
{
	(void)state;
	make_icmp(RTE_IP_ICMP_ECHO_REQUEST, 56);
	expect_class(MG_DROP_NONE, MG_ACT_SLOWPATH);
}

static void classify_icmp_dest_unreachable(void **state)
{
	(void)state;
	make_icmp(3, 28); /* type 3 carries the offending IP header + 8 bytes */
	expect_class(MG_DROP_NONE, MG_ACT_SLOWPATH);
}

static void classify_other_icmp_unhandled(void **state)
{
	static const uint8_t types[] = { 0, 5, 11, 13, 255 };

	(void)state;
	for (size_t i = 0; i < sizeof(types); i++) {
		make_icmp(types[i], 8);
		expect_class(MG_DROP_ICMP_UNHANDLED, MG_ACT_DROP);
	}
}

static void classify_udp_has_no_listener(void **state)
{
	(void)state;
	make_udp(10, true);
	expect_class(MG_DROP_UDP_NO_LISTENER, MG_ACT_DROP);
}

static void classify_our_own_source_is_martian(void **state)
{
	(void)state;
	make_tcp_src(US_IP, SYN, 0, 0);
	expect_class(MG_DROP_IP_MARTIAN, MG_ACT_DROP);
}

static void classify_subnet_broadcast_source_is_martian(void **state)
{
	(void)state;
	make_tcp_src(ip4(198, 18, 1, 255), SYN, 0, 0);
	expect_class(MG_DROP_IP_MARTIAN, MG_ACT_DROP);
	/* Another subnet's .255 is an ordinary host as far as we know. */
	make_tcp_src(ip4(198, 18, 2, 255), SYN, 0, 0);
	expect_class(MG_DROP_NONE, MG_ACT_TCP);
	/* /31 (RFC 3021) and /32 have no broadcast address. */
	make_tcp_src(ip4(198, 18, 1, 0), SYN, 0, 0);
	us.netmask = ip4(255, 255, 255, 254);
	expect_class(MG_DROP_NONE, MG_ACT_TCP);
	us.netmask = ip4(255, 255, 255, 255);
	make_tcp_src(ip4(198, 18, 1, 255), SYN, 0, 0);
	expect_class(MG_DROP_NONE, MG_ACT_TCP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup(fn, setup)
		T(classify_tcp_for_us),
		T(classify_other_mac_is_not_ours),
		T(classify_other_ip_is_not_ours),
		T(classify_broadcast_ipv4_is_not_ours),
		T(classify_broadcast_arp_for_us),
		T(classify_unicast_arp_reply_for_us),
		T(classify_arp_for_other_ip),
		T(classify_arp_to_other_mac),
		T(classify_icmp_echo_request),
		T(classify_icmp_dest_unreachable),
		T(classify_other_icmp_unhandled),
		T(classify_udp_has_no_listener),
		T(classify_our_own_source_is_martian),
		T(classify_subnet_broadcast_source_is_martian),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
