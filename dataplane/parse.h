/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Header validation and classification of one received frame.
 *
 * Pure functions over a byte buffer so they are unit-tested and fuzzed without
 * EAL. mg_parse_frame() checks every header field it relies on (lengths,
 * checksums unless the NIC vouched for them, IPv4 options, fragments) and fills
 * a struct mg_pkt; mg_classify() then decides, against one port's addresses,
 * who owns the packet.
 */
#ifndef MG_PARSE_H
#define MG_PARSE_H

#include <stdbool.h>
#include <stdint.h>

#include "drop.h"

/* Checksum status the NIC reported (from mbuf ol_flags); UNKNOWN means verify. */
enum mg_csum_hint {
	MG_CSUM_UNKNOWN = 0,
	MG_CSUM_GOOD,
	MG_CSUM_BAD,
};

enum mg_l3 { MG_L3_ARP = 1, MG_L3_IPV4 };

struct mg_pkt {
	enum mg_l3 l3;
	uint16_t l3_off;   /* offset of the ARP or IPv4 header */
	uint16_t l4_off;   /* IPv4: offset of the L4 header */
	uint16_t l4_len;   /* IPv4: L4 header + payload, per total length */
	uint16_t data_off; /* offset of the L4 payload */
	uint16_t data_len; /* L4 payload length */
	uint8_t proto;     /* IPPROTO_TCP/UDP/ICMP */
	uint8_t tcp_flags;
	uint8_t icmp_type;
	uint8_t dst_mac_bcast; /* destination MAC is ff:ff:ff:ff:ff:ff */
	uint16_t arp_op;       /* host order */
	uint32_t src_ip, dst_ip;     /* network byte order (ARP: sender/target) */
	uint16_t src_port, dst_port; /* network byte order */
	uint32_t frame_len;          /* bytes valid in the buffer (trailer excluded) */
};

/* What the worker does with a packet that passed mg_classify(). */
enum mg_action {
	MG_ACT_DROP = 0,
	MG_ACT_SLOWPATH, /* ARP or ICMP echo for us: hand to the control thread */
	MG_ACT_TCP,      /* TCP for one of our addresses (the TCP stack's) */
};

/** The addresses of one port, as the classifier sees them. */
struct mg_port_addrs {
	uint8_t mac[6];
	uint32_t ip;      /* network byte order */
	uint32_t netmask; /* network byte order */
};

/**
 * Validate the headers of one frame.
 * @return MG_DROP_NONE and a filled @p pkt, or the drop reason.
 */
enum mg_drop mg_parse_frame(const uint8_t *frame, uint32_t len,
			    enum mg_csum_hint ip_csum, enum mg_csum_hint l4_csum,
			    struct mg_pkt *pkt);

/**
 * Decide who owns a validated packet arriving on a port with @p us.
 * @return MG_DROP_NONE with @p act set, or the drop reason.
 */
enum mg_drop mg_classify(const struct mg_pkt *pkt, const uint8_t *frame,
			 const struct mg_port_addrs *us, enum mg_action *act);

/** One received frame as mg_parse_burst() takes it. */
struct mg_rx_frame {
	const uint8_t *data;
	uint32_t len;
	uint8_t ip_csum, l4_csum; /* enum mg_csum_hint */
};

/* GCC: @p in holds @p n entries, all read (it checks the caller filled them). */
#if defined(__GNUC__) && !defined(__clang__)
#define MG_PARSE_READS_IN __attribute__((access(read_only, 1, 2)))
#else
#define MG_PARSE_READS_IN
#endif

/* mg_parse_burst() prefetches the headers of the frame this many ahead. */
#define MG_PARSE_PREFETCH 4

/**
 * Validate and classify @p n frames against a port's addresses @p us, as
 * mg_parse_frame() then mg_classify() would one at a time. Entries whose
 * @p reasons is not MG_DROP_NONE on entry are skipped (the caller refused
 * them already). On return reasons[i] is the frame's drop reason, or
 * MG_DROP_NONE with acts[i] (enum mg_action) and pkts[i] filled.
 */
void mg_parse_burst(const struct mg_rx_frame *in, uint16_t n, const struct mg_port_addrs *us,
		    struct mg_pkt *pkts, uint8_t *acts, uint8_t *reasons) MG_PARSE_READS_IN;

#endif /* MG_PARSE_H */
