/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Frame validation and classification (parse.h): every header field the
 * worker relies on is checked here, each refusal a drop reason.
 */
#include "parse.h"
#include "tcp/tcp_csum.h"

#include <string.h>

#include <rte_arp.h>
#include <rte_branch_prediction.h>
#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_prefetch.h>
#include <rte_tcp.h>
#include <rte_udp.h>

/*
 * The buffer may sit at any alignment (the fuzzer passes odd addresses), so
 * every header is copied into a local with memcpy before a field is read; the
 * compiler turns each copy into a few plain loads.
 */

#define ETH_LEN ((uint32_t)sizeof(struct rte_ether_hdr))
#define IP_LEN ((uint32_t)sizeof(struct rte_ipv4_hdr))
#define ICMP_LEN ((uint32_t)sizeof(struct rte_icmp_hdr))
#define ICMP_DEST_UNREACH_TYPE 3 /* not named in DPDK 22.11's rte_icmp.h */

/* Flags that make a segment mean something on their own (one is required). */
#define TCP_CORE_FLAGS \
	(RTE_TCP_SYN_FLAG | RTE_TCP_FIN_FLAG | RTE_TCP_RST_FLAG | RTE_TCP_ACK_FLAG)
/* Only meaningful on a segment that acknowledges something. */
#define TCP_NEED_ACK (RTE_TCP_FIN_FLAG | RTE_TCP_PSH_FLAG | RTE_TCP_URG_FLAG)
#define TCP_ECN_FLAGS (RTE_TCP_ECE_FLAG | RTE_TCP_CWR_FLAG)

/*
 * One's complement sum (RFC 1071) with end-around carry in 64 bits. It reads
 * eight bytes per step through memcpy: alignment-safe, and 2.5 to 4 times
 * fewer cycles than DPDK 22.11's two-bytes-per-step rte_raw_cksum() on this
 * path's lengths. The sum is byte-order independent, so words are added in
 * host order and the folded result compares against 0xffff.
 */
static inline uint64_t csum_add(uint64_t sum, uint64_t w)
{
	sum += w;
	return sum + (sum < w);
}

static inline uint64_t csum_buf(uint64_t sum, const uint8_t *p, uint32_t len)
{
	uint64_t a, b, c, d, sum2 = 0, blocks = 0;
	uint32_t w32;
	uint16_t w16;

	/* With AVX2 the 32-byte blocks go 32 bytes a step (tcp_csum.h): about
	 * half the cycles of the loop below on a full segment. */
	len = mg_csum_blocks(&p, len, &blocks);
	sum = csum_add(sum, blocks);
	/*
	 * Bound: len / 32 steps, then at most 3 + 3 tail reads. Two sums
	 * halve the carry chain: 1.4 times faster on a 1460-byte segment.
	 */
	for (; len >= 32; p += 32, len -= 32) {
		memcpy(&a, p, 8);
		memcpy(&b, p + 8, 8);
		memcpy(&c, p + 16, 8);
		memcpy(&d, p + 24, 8);
		sum = csum_add(csum_add(sum, a), c);
		sum2 = csum_add(csum_add(sum2, b), d);
	}
	sum = csum_add(sum, sum2);
	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&a, p, 8);
		sum = csum_add(sum, a);
	}
	if (len & 4) {
		memcpy(&w32, p, 4);
		sum = csum_add(sum, w32);
		p += 4;
	}
	if (len & 2) {
		memcpy(&w16, p, 2);
		sum = csum_add(sum, w16);
		p += 2;
	}
	if (len & 1) {
		/* The odd byte is the high-order half of a word in memory order. */
		w16 = 0;
		memcpy(&w16, p, 1);
		sum = csum_add(sum, w16);
	}
	return sum;
}

/* Fold to 16 bits; a correct message including its checksum gives 0xffff. */
static inline uint16_t csum_fold(uint64_t sum)
{
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static inline bool csum_ok(const uint8_t *p, uint32_t len)
{
	return csum_fold(csum_buf(0, p, len)) == 0xffff;
}

/* The pseudo-header (RFC 793, RFC 768) plus the whole segment. */
static inline bool l4_sum_ok(uint32_t src, uint32_t dst, uint8_t proto, const uint8_t *l4,
			     uint32_t l4_len)
{
	/* In memory order the last pseudo-header word is 0, proto, length. */
	uint64_t sum = csum_add(src, dst);

	sum = csum_add(sum, rte_cpu_to_be_32(((uint32_t)proto << 16) | l4_len));
	return csum_fold(csum_buf(sum, l4, l4_len)) == 0xffff;
}

/* TCP/UDP, unless the NIC judged it. */
static inline bool l4_csum_ok(const struct rte_ipv4_hdr *ip, const uint8_t *l4,
			      uint32_t l4_len, enum mg_csum_hint hint)
{
	if (likely(hint == MG_CSUM_GOOD))
		return true;
	if (hint == MG_CSUM_BAD)
		return false;
	return l4_sum_ok(ip->src_addr, ip->dst_addr, ip->next_proto_id, l4, l4_len);
}

/* 0/8 "this network", 127/8 loopback, 224/4 multicast, 240/4 and broadcast. */
static inline bool martian_src(uint32_t be_ip)
{
	uint32_t top = rte_be_to_cpu_32(be_ip) >> 24;

	return (top == 0) | (top == 127) | (top >= 224);
}

/*
 * RFC 793/9293 and RFC 3168: a segment must carry SYN, FIN, RST or ACK;
 * SYN excludes FIN and RST, FIN excludes RST; FIN, PSH and URG only make
 * sense with ACK; ECE/CWR ride on a SYN or an ACK. So SYN, SYN+ACK, RST,
 * RST+ACK and ACK with any of PSH/FIN/URG pass; option and sequence checks
 * belong to the TCP stack.
 */
static inline bool tcp_flags_ok(uint8_t f)
{
	bool syn = f & RTE_TCP_SYN_FLAG, fin = f & RTE_TCP_FIN_FLAG;
	bool rst = f & RTE_TCP_RST_FLAG, ack = f & RTE_TCP_ACK_FLAG;
	bool none = (f & TCP_CORE_FLAGS) == 0;
	bool need_ack = (f & TCP_NEED_ACK) != 0, ecn = (f & TCP_ECN_FLAGS) != 0;

	/* Bitwise on bools: five setcc and ors, no branch per rule. */
	return !(none | (syn & (fin | rst)) | (fin & rst) | (need_ack & !ack) |
		 (ecn & !(syn | ack)));
}

static enum mg_drop parse_arp(const uint8_t *frame, uint32_t len, struct mg_pkt *pkt)
{
	struct rte_arp_hdr arp;
	uint16_t op;

	if (unlikely(len - ETH_LEN < sizeof(arp)))
		return MG_DROP_ARP_MALFORMED;
	memcpy(&arp, frame + ETH_LEN, sizeof(arp));
	op = rte_be_to_cpu_16(arp.arp_opcode);
	if (unlikely(arp.arp_hardware != RTE_BE16(RTE_ARP_HRD_ETHER) ||
		     arp.arp_protocol != RTE_BE16(RTE_ETHER_TYPE_IPV4) ||
		     arp.arp_hlen != RTE_ETHER_ADDR_LEN || arp.arp_plen != 4 ||
		     (op != RTE_ARP_OP_REQUEST && op != RTE_ARP_OP_REPLY)))
		return MG_DROP_ARP_MALFORMED;
	pkt->l3 = MG_L3_ARP;
	pkt->l3_off = ETH_LEN;
	pkt->arp_op = op;
	pkt->src_ip = arp.arp_data.arp_sip;
	pkt->dst_ip = arp.arp_data.arp_tip;
	pkt->frame_len = ETH_LEN + sizeof(arp); /* padding to 60 bytes excluded */
	return MG_DROP_NONE;
}

static enum mg_drop parse_tcp(const uint8_t *frame, const struct rte_ipv4_hdr *ip,
			      enum mg_csum_hint hint, struct mg_pkt *pkt)
{
	const uint8_t *l4 = frame + pkt->l4_off;
	struct rte_tcp_hdr th;
	uint32_t hlen;

	if (unlikely(pkt->l4_len < sizeof(th)))
		return MG_DROP_TCP_TRUNCATED;
	memcpy(&th, l4, sizeof(th));
	hlen = (uint32_t)(th.data_off >> 4) * 4;
	if (unlikely(hlen < sizeof(th) || hlen > pkt->l4_len))
		return MG_DROP_TCP_HDR_LEN;
	if (unlikely(!l4_csum_ok(ip, l4, pkt->l4_len, hint)))
		return MG_DROP_TCP_CHECKSUM;
	if (unlikely(th.src_port == 0 || th.dst_port == 0))
		return MG_DROP_TCP_PORT_ZERO;
	if (unlikely(!tcp_flags_ok(th.tcp_flags)))
		return MG_DROP_TCP_FLAGS;
	pkt->tcp_flags = th.tcp_flags;
	pkt->src_port = th.src_port;
	pkt->dst_port = th.dst_port;
	pkt->data_off = pkt->l4_off + hlen;
	pkt->data_len = pkt->l4_len - hlen;
	return MG_DROP_NONE;
}

static enum mg_drop parse_udp(const uint8_t *frame, const struct rte_ipv4_hdr *ip,
			      enum mg_csum_hint hint, struct mg_pkt *pkt)
{
	const uint8_t *l4 = frame + pkt->l4_off;
	struct rte_udp_hdr uh;

	if (unlikely(pkt->l4_len < sizeof(uh)))
		return MG_DROP_UDP_TRUNCATED;
	memcpy(&uh, l4, sizeof(uh));
	if (unlikely(rte_be_to_cpu_16(uh.dgram_len) != pkt->l4_len))
		return MG_DROP_UDP_LEN;
	/*
	 * A zero checksum means the sender computed none (RFC 768); skip it
	 * even when the NIC says BAD, as some NICs flag zero UDP checksums.
	 */
	if (uh.dgram_cksum != 0 && unlikely(!l4_csum_ok(ip, l4, pkt->l4_len, hint)))
		return MG_DROP_UDP_CHECKSUM;
	pkt->src_port = uh.src_port;
	pkt->dst_port = uh.dst_port;
	pkt->data_off = pkt->l4_off + sizeof(uh);
	pkt->data_len = pkt->l4_len - sizeof(uh);
	return MG_DROP_NONE;
}

/* NICs verify TCP and UDP only, so the ICMP checksum is always computed. */
static enum mg_drop parse_icmp(const uint8_t *frame, struct mg_pkt *pkt)
{
	const uint8_t *l4 = frame + pkt->l4_off;

	if (unlikely(pkt->l4_len < ICMP_LEN))
		return MG_DROP_ICMP_TRUNCATED;
	if (unlikely(!csum_ok(l4, pkt->l4_len)))
		return MG_DROP_ICMP_CHECKSUM;
	pkt->icmp_type = l4[0];
	pkt->data_off = pkt->l4_off + ICMP_LEN;
	pkt->data_len = pkt->l4_len - ICMP_LEN;
	return MG_DROP_NONE;
}

static enum mg_drop parse_ipv4(const uint8_t *frame, uint32_t len,
			       enum mg_csum_hint ip_csum, enum mg_csum_hint l4_csum,
			       struct mg_pkt *pkt)
{
	const uint8_t *l3 = frame + ETH_LEN;
	uint32_t room = len - ETH_LEN, hlen, total;
	struct rte_ipv4_hdr ip;

	if (unlikely(room < IP_LEN))
		return MG_DROP_IP_TRUNCATED;
	memcpy(&ip, l3, IP_LEN);
	if (unlikely((ip.version_ihl >> 4) != IPVERSION))
		return MG_DROP_IP_VERSION;
	hlen = (uint32_t)(ip.version_ihl & RTE_IPV4_HDR_IHL_MASK) * RTE_IPV4_IHL_MULTIPLIER;
	if (unlikely(hlen < IP_LEN || hlen > room))
		return MG_DROP_IP_HDR_LEN;
	/* Bytes past total_length are Ethernet padding, not IP payload. */
	total = rte_be_to_cpu_16(ip.total_length);
	if (unlikely(total < hlen || total > room))
		return MG_DROP_IP_TOTAL_LEN;
	/* The checksum covers options too, so it is judged before them. */
	if (unlikely(ip_csum != MG_CSUM_GOOD &&
		     (ip_csum == MG_CSUM_BAD || !csum_ok(l3, hlen))))
		return MG_DROP_IP_CHECKSUM;
	if (unlikely(hlen != IP_LEN))
		return MG_DROP_IP_OPTIONS;
	if (unlikely(ip.fragment_offset &
		     RTE_BE16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)))
		return MG_DROP_IP_FRAGMENT;
	if (unlikely(martian_src(ip.src_addr)))
		return MG_DROP_IP_MARTIAN;
	pkt->l3 = MG_L3_IPV4;
	pkt->l3_off = ETH_LEN;
	pkt->l4_off = ETH_LEN + IP_LEN;
	pkt->l4_len = total - IP_LEN;
	pkt->proto = ip.next_proto_id;
	pkt->src_ip = ip.src_addr;
	pkt->dst_ip = ip.dst_addr;
	pkt->frame_len = ETH_LEN + total;
	switch (ip.next_proto_id) {
	case IPPROTO_TCP:
		return parse_tcp(frame, &ip, l4_csum, pkt);
	case IPPROTO_UDP:
		return parse_udp(frame, &ip, l4_csum, pkt);
	case IPPROTO_ICMP:
		return parse_icmp(frame, pkt);
	default:
		return MG_DROP_L4_PROTO;
	}
}

enum mg_drop mg_parse_frame(const uint8_t *frame, uint32_t len,
			    enum mg_csum_hint ip_csum, enum mg_csum_hint l4_csum,
			    struct mg_pkt *pkt)
{
	struct rte_ether_hdr eth;

	/* No field of a previous packet survives into this one. */
	memset(pkt, 0, sizeof(*pkt));
	if (unlikely(len < ETH_LEN))
		return MG_DROP_RUNT;
	memcpy(&eth, frame, ETH_LEN);
	pkt->dst_mac_bcast = rte_is_broadcast_ether_addr(&eth.dst_addr);
	pkt->frame_len = len;
	switch (eth.ether_type) {
	case RTE_BE16(RTE_ETHER_TYPE_IPV4):
		return parse_ipv4(frame, len, ip_csum, l4_csum, pkt);
	case RTE_BE16(RTE_ETHER_TYPE_ARP):
		return parse_arp(frame, len, pkt);
	case RTE_BE16(RTE_ETHER_TYPE_VLAN):
	case RTE_BE16(RTE_ETHER_TYPE_QINQ):
		return MG_DROP_VLAN;
	case RTE_BE16(RTE_ETHER_TYPE_IPV6):
		return MG_DROP_IPV6;
	default:
		return MG_DROP_ETHERTYPE;
	}
}

/*
 * A source that is our own address or our subnet's directed broadcast is
 * spoofed (Linux calls both "martian source"); parse cannot see these, it
 * does not know the port. /31 and /32 have no broadcast address (RFC 3021).
 */
static inline bool martian_for_port(uint32_t be_src, const struct mg_port_addrs *us)
{
	uint32_t host = ~us->netmask;

	return be_src == us->ip ||
	       (rte_be_to_cpu_32(host) > 1 && (be_src & host) == host &&
		((be_src ^ us->ip) & us->netmask) == 0);
}

static inline enum mg_drop classify_icmp(uint8_t type, enum mg_action *act)
{
	/* Echo for the control thread to answer; unreachable for PMTU later. */
	if (type != RTE_IP_ICMP_ECHO_REQUEST && type != ICMP_DEST_UNREACH_TYPE)
		return MG_DROP_ICMP_UNHANDLED;
	*act = MG_ACT_SLOWPATH;
	return MG_DROP_NONE;
}

enum mg_drop mg_classify(const struct mg_pkt *pkt, const uint8_t *frame,
			 const struct mg_port_addrs *us, enum mg_action *act)
{
	*act = MG_ACT_DROP;
	/* Broadcast is for ARP requests only; we answer no IPv4 broadcast. */
	if (memcmp(frame, us->mac, RTE_ETHER_ADDR_LEN) != 0 &&
	    !(pkt->dst_mac_bcast && pkt->l3 == MG_L3_ARP))
		return MG_DROP_L2_NOT_OURS;
	if (pkt->l3 == MG_L3_ARP) {
		if (pkt->dst_ip != us->ip)
			return MG_DROP_ARP_NOT_OURS;
		*act = MG_ACT_SLOWPATH;
		return MG_DROP_NONE;
	}
	if (unlikely(pkt->dst_ip != us->ip))
		return MG_DROP_NOT_OURS;
	if (unlikely(martian_for_port(pkt->src_ip, us)))
		return MG_DROP_IP_MARTIAN;
	switch (pkt->proto) {
	case IPPROTO_TCP:
		*act = MG_ACT_TCP;
		return MG_DROP_NONE;
	case IPPROTO_ICMP:
		return classify_icmp(pkt->icmp_type, act);
	default: /* UDP: parse let nothing else through */
		return MG_DROP_UDP_NO_LISTENER;
	}
}

/* ---- a burst at a time ------------------------------------------------------
 *
 * Nearly every frame of a burst is a plain IPv4 TCP segment or UDP datagram for
 * the port, with a 20-byte header. For those, every check of mg_parse_frame()
 * and mg_classify() is evaluated as one conjunction of compares, without a
 * branch per check; a frame for which any term fails (or that is anything
 * else: ARP, ICMP, IPv6, options, a bad sum...) goes through the two exact
 * functions above, which name its reason. So the fast path never decides
 * anything they would not: it returns the same reason and the same mg_pkt
 * (test_parse's burst cases and fuzz_parse compare the two on every input).
 */

#define UNDECIDED ((uint8_t)MG_DROP__COUNT)
#define UDP_LEN ((uint32_t)sizeof(struct rte_udp_hdr))
#define TCP_LEN ((uint32_t)sizeof(struct rte_tcp_hdr))

static inline uint16_t ld16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

static inline uint32_t ld32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static inline uint64_t ld64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/* A port's addresses as the fast path compares them, loaded once per burst. */
struct fast_us {
	uint64_t mac;   /* the MAC in the low 48 bits, in memory order */
	uint32_t ip;    /* network byte order */
	uint32_t bcast; /* the subnet's directed broadcast; ip on /31 and /32 */
};

static inline struct fast_us fast_us_of(const struct mg_port_addrs *us)
{
	uint32_t host = ~us->netmask;
	struct fast_us u = { .mac = ld32(us->mac) | (uint64_t)ld16(us->mac + 4) << 32,
			     .ip = us->ip, .bcast = us->ip };

	/* martian_for_port(): same network, every host bit set. */
	if (rte_be_to_cpu_32(host) > 1)
		u.bcast = (us->ip & us->netmask) | host;
	return u;
}

/* The L4 sum unless the NIC vouched for it; BAD is left to the exact path. */
static inline bool fast_l4_sum(uint8_t hint, uint32_t src, uint32_t dst, uint8_t proto,
			       const uint8_t *l4, uint32_t l4_len)
{
	if (likely(hint == MG_CSUM_GOOD))
		return true;
	return hint == MG_CSUM_UNKNOWN && l4_sum_ok(src, dst, proto, l4, l4_len);
}

/* parse_tcp()'s checks and mg_pkt for a segment fast_ipv4() admitted. */
static inline uint8_t fast_tcp(const uint8_t *f, uint32_t total, uint32_t src, uint32_t dst,
			       uint8_t l4_hint, struct mg_pkt *pkt, uint8_t *act)
{
	const uint8_t *l4 = f + ETH_LEN + IP_LEN;
	uint32_t l4_len = total - IP_LEN, hlen;
	uint16_t sport, dport;
	bool flags_ok;

	if (unlikely(l4_len < TCP_LEN)) /* before any read past the UDP-sized minimum */
		return UNDECIDED;
	hlen = (uint32_t)(l4[12] >> 4) * 4;
	sport = ld16(l4);
	dport = ld16(l4 + 2);
	flags_ok = tcp_flags_ok(l4[13]);
	if (unlikely((hlen < TCP_LEN) | (hlen > l4_len) | (sport == 0) | (dport == 0) | !flags_ok))
		return UNDECIDED;
	if (unlikely(!fast_l4_sum(l4_hint, src, dst, IPPROTO_TCP, l4, l4_len)))
		return UNDECIDED;
	memset(pkt, 0, sizeof(*pkt));
	pkt->l3 = MG_L3_IPV4;
	pkt->l3_off = ETH_LEN;
	pkt->l4_off = ETH_LEN + IP_LEN;
	pkt->l4_len = (uint16_t)l4_len;
	pkt->data_off = (uint16_t)(ETH_LEN + IP_LEN + hlen);
	pkt->data_len = (uint16_t)(l4_len - hlen);
	pkt->proto = IPPROTO_TCP;
	pkt->tcp_flags = l4[13];
	pkt->dst_mac_bcast = ld32(f) == 0xffffffff && ld16(f + 4) == 0xffff;
	pkt->src_ip = src;
	pkt->dst_ip = dst;
	pkt->src_port = sport;
	pkt->dst_port = dport;
	pkt->frame_len = ETH_LEN + total;
	*act = MG_ACT_TCP;
	return MG_DROP_NONE;
}

/* A UDP datagram that passes every check is dropped: no UDP service. */
static inline uint8_t fast_udp(const uint8_t *f, uint32_t total, uint32_t src, uint32_t dst,
			       uint8_t l4_hint)
{
	const uint8_t *l4 = f + ETH_LEN + IP_LEN;
	uint32_t l4_len = total - IP_LEN, w = ld32(l4 + 4); /* length, checksum */

	if (unlikely(rte_be_to_cpu_16((uint16_t)w) != l4_len))
		return UNDECIDED;
	if ((w >> 16) != 0 && unlikely(!fast_l4_sum(l4_hint, src, dst, IPPROTO_UDP, l4, l4_len)))
		return UNDECIDED;
	return MG_DROP_UDP_NO_LISTENER;
}

/*
 * parse_ipv4()'s and mg_classify()'s checks of a TCP or UDP frame for us, on
 * the first 34 bytes read as four 64-bit words and one 32-bit word (the masks
 * and constants are the little-endian view of the bytes; elsewhere every frame
 * takes the exact path). @return the frame's fate, or UNDECIDED.
 */
static inline uint8_t fast_ipv4(const uint8_t *f, uint32_t len, uint8_t ip_hint,
				uint8_t l4_hint, const struct fast_us *u, struct mg_pkt *pkt,
				uint8_t *act)
{
	uint64_t w0, w1, w2, w3, diff, sum;
	uint32_t total, src, dst;
	uint8_t top;
	bool ok;

	if (RTE_BYTE_ORDER != RTE_LITTLE_ENDIAN || unlikely(len < ETH_LEN + IP_LEN + UDP_LEN))
		return UNDECIDED;
	w0 = ld64(f);      /* destination MAC, 2 bytes of the source */
	w1 = ld64(f + 8);  /* source MAC, ethertype, version + IHL, TOS */
	w2 = ld64(f + 16); /* total length, ID, flags + offset, TTL, protocol */
	w3 = ld64(f + 24); /* header checksum, source, 2 bytes of the destination */
	dst = ld32(f + 30);
	src = (uint32_t)(w3 >> 16);
	total = rte_be_to_cpu_16((uint16_t)w2);
	top = (uint8_t)src; /* the source's first octet */
	/* One allowed value each: our MAC, IPv4 with 0x45, no MF or offset, our IP. */
	diff = ((w0 ^ u->mac) << 16) | (((w1 >> 32) & 0xffffff) ^ 0x450008) |
	       ((w2 >> 32) & 0xff3f) | (dst ^ u->ip);
	ok = (diff == 0) & (total >= IP_LEN + UDP_LEN) & (total <= len - ETH_LEN) &
	     (top != 0) & (top != 127) & (top < 224) & (src != u->ip) & (src != u->bcast) &
	     (ip_hint != MG_CSUM_BAD);
	if (unlikely(!ok))
		return UNDECIDED;
	if (ip_hint != MG_CSUM_GOOD) {
		/* Bytes 14..33 as 16-bit lanes: no carry leaves 35 bits before the fold. */
		sum = (w1 >> 48) + (w2 & 0xffffffff) + (w2 >> 32) + (w3 & 0xffffffff) +
		      (w3 >> 32) + ld16(f + 32);
		sum = (sum & 0xffff) + (sum >> 16); /* < 2^20 */
		sum = (sum & 0xffff) + (sum >> 16); /* < 2^16 + 2^4 */
		sum = (sum & 0xffff) + (sum >> 16); /* <= 0xffff */
		if (unlikely(sum != 0xffff))
			return UNDECIDED;
	}
	switch ((uint8_t)(w2 >> 56)) {
	case IPPROTO_UDP:
		return fast_udp(f, total, src, dst, l4_hint);
	case IPPROTO_TCP:
		return fast_tcp(f, total, src, dst, l4_hint, pkt, act);
	default:
		return UNDECIDED;
	}
}

/* The exact path: mg_parse_frame() then mg_classify(). */
static uint8_t exact(const struct mg_rx_frame *in, const struct mg_port_addrs *us,
		     struct mg_pkt *pkt, uint8_t *act)
{
	enum mg_action a = MG_ACT_DROP;
	enum mg_drop d = mg_parse_frame(in->data, in->len, in->ip_csum, in->l4_csum, pkt);

	if (d == MG_DROP_NONE)
		d = mg_classify(pkt, in->data, us, &a);
	*act = (uint8_t)a;
	return (uint8_t)d;
}

void mg_parse_burst(const struct mg_rx_frame *in, uint16_t n, const struct mg_port_addrs *us,
		    struct mg_pkt *pkts, uint8_t *acts, uint8_t *reasons)
{
	const struct fast_us u = fast_us_of(us);

	for (uint16_t i = 0; i < n; i++) {
		uint8_t d;

		/* Headers of frames a few ahead: in cache by the time their turn comes. */
		if (i + MG_PARSE_PREFETCH < n)
			rte_prefetch0(in[i + MG_PARSE_PREFETCH].data);
		acts[i] = MG_ACT_DROP;
		if (reasons[i] != MG_DROP_NONE)
			continue;
		d = fast_ipv4(in[i].data, in[i].len, in[i].ip_csum, in[i].l4_csum, &u, &pkts[i],
			      &acts[i]);
		if (unlikely(d == UNDECIDED))
			d = exact(&in[i], us, &pkts[i], &acts[i]);
		reasons[i] = d;
	}
}
