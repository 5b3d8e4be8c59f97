/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Every reason the data path drops a packet, one X-macro generating the enum,
 * the telemetry names and the descriptions. A drop is a counter bump, never a
 * log line.
 */
#ifndef MG_DROP_H
#define MG_DROP_H

#define foreach_mg_drop(_)                                                     \
	_(NONE, none, "not dropped")                                           \
	_(RUNT, runt, "frame shorter than an Ethernet header")                 \
	_(CHAINED, chained, "frame spans several mbufs (ports are set up for one)") \
	_(L2_NOT_OURS, l2_not_ours, "destination MAC is neither ours nor broadcast") \
	_(VLAN, vlan, "VLAN-tagged frame (no VLAN is configured)")             \
	_(ETHERTYPE, ethertype, "ethertype not handled")                       \
	_(IPV6, ipv6, "IPv6 frame (IPv6 is not enabled)")                      \
	_(ARP_MALFORMED, arp_malformed, "ARP packet truncated or not Ethernet/IPv4") \
	_(ARP_NOT_OURS, arp_not_ours, "ARP for an address that is not ours")  \
	_(IP_TRUNCATED, ip_truncated, "IPv4 header truncated")                 \
	_(IP_VERSION, ip_version, "IP version field is not 4")                 \
	_(IP_HDR_LEN, ip_hdr_len, "IPv4 header length below 20 or past the frame") \
	_(IP_TOTAL_LEN, ip_total_len, "IPv4 total length disagrees with the frame") \
	_(IP_CHECKSUM, ip_checksum, "IPv4 header checksum wrong")              \
	_(IP_OPTIONS, ip_options, "IPv4 options present (refused)")            \
	_(IP_FRAGMENT, ip_fragment, "IPv4 fragment (reassembly is not done)")  \
	_(IP_MARTIAN, ip_martian, "source address is martian (0/8, 127/8, multicast, broadcast)") \
	_(NOT_OURS, not_ours, "destination IPv4 address is not ours")          \
	_(L4_PROTO, l4_proto, "IP protocol not handled")                       \
	_(TCP_TRUNCATED, tcp_truncated, "TCP header truncated")                \
	_(TCP_HDR_LEN, tcp_hdr_len, "TCP data offset below 5 or past the segment") \
	_(TCP_CHECKSUM, tcp_checksum, "TCP checksum wrong")                    \
	_(TCP_FLAGS, tcp_flags, "TCP flag combination is invalid")             \
	_(TCP_PORT_ZERO, tcp_port_zero, "TCP port zero")                       \
	_(TCP_NO_LISTENER, tcp_no_listener, "TCP segment for a port with no listener") \
	_(UDP_TRUNCATED, udp_truncated, "UDP header truncated")                \
	_(UDP_LEN, udp_len, "UDP length disagrees with the IPv4 payload")      \
	_(UDP_CHECKSUM, udp_checksum, "UDP checksum wrong")                    \
	_(UDP_NO_LISTENER, udp_no_listener, "UDP datagram (no UDP service)")   \
	_(ICMP_TRUNCATED, icmp_truncated, "ICMP message truncated")            \
	_(ICMP_CHECKSUM, icmp_checksum, "ICMP checksum wrong")                 \
	_(ICMP_UNHANDLED, icmp_unhandled, "ICMP type not handled")             \
	_(SLOWPATH_FULL, slowpath_full, "exception ring to the control thread full") \
	_(TX_FULL, tx_full, "TX queue full and our TX buffer too")

enum mg_drop {
#define _(sym, name, desc) MG_DROP_##sym,
	foreach_mg_drop(_)
#undef _
	MG_DROP__COUNT
};

/** Telemetry name of a drop reason ("ip_checksum"). */
const char *mg_drop_name(enum mg_drop d);
/** One-line description of a drop reason. */
const char *mg_drop_desc(enum mg_drop d);

#endif /* MG_DROP_H */
