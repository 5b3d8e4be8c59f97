/* SPDX-License-Identifier: BSD-3-Clause */
#include "slowpath.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <rte_arp.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "gateway.h"

#define ETH_MIN_FRAME 60 /* without FCS; short frames are padded */

/*
 * Workers validated the frame, so headers sit at fixed offsets: no VLAN, and
 * no IPv4 options (refused on input).
 */
struct arp_frame {
	struct rte_ether_hdr *eth;
	struct rte_arp_hdr *arp;
};

struct icmp_frame {
	struct rte_ether_hdr *eth;
	struct rte_ipv4_hdr *ip;
	struct rte_icmp_hdr *icmp;
};

static struct arp_frame arp_frame(struct rte_mbuf *m)
{
	struct arp_frame f = {
		.eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *),
		.arp = rte_pktmbuf_mtod_offset(m, struct rte_arp_hdr *,
					       sizeof(struct rte_ether_hdr)),
	};
	return f;
}

static struct icmp_frame icmp_frame(struct rte_mbuf *m)
{
	struct icmp_frame f = {
		.eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *),
		.ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *,
					      sizeof(struct rte_ether_hdr)),
		.icmp = rte_pktmbuf_mtod_offset(m, struct rte_icmp_hdr *,
						sizeof(struct rte_ether_hdr) +
						sizeof(struct rte_ipv4_hdr)),
	};
	return f;
}

static void send_via(struct mg_gateway *gw, struct mg_worker *w, uint16_t pi,
		     struct rte_mbuf *m)
{
	m->port = pi;
	if (rte_ring_enqueue(w->from_ctrl, m) != 0) {
		gw->slow.reply_ring_full++;
		rte_pktmbuf_free(m);
	}
}

static int in_subnet(const struct mg_port_addrs *us, uint32_t ip)
{
	return ((ip ^ us->ip) & us->netmask) == 0;
}

static void arp_reply_in_place(struct arp_frame f, const struct mg_port_addrs *us)
{
	struct rte_arp_ipv4 *a = &f.arp->arp_data;

	f.arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
	a->arp_tha = a->arp_sha;
	a->arp_tip = a->arp_sip;
	memcpy(&a->arp_sha, us->mac, RTE_ETHER_ADDR_LEN);
	a->arp_sip = us->ip;
	f.eth->dst_addr = a->arp_tha;
	memcpy(&f.eth->src_addr, us->mac, RTE_ETHER_ADDR_LEN);
}

#define PIN_AUDIT_PER_S 5 /* conflict records a second; beyond, counted and summed */

static void audit_locked(struct mg_gateway *gw, const char *type, const char *const *kv,
			 size_t n)
{
	pthread_mutex_lock(&gw->lock);
	if (gw->audit && mg_audit_appendv(gw->audit, type, kv, n) < 0)
		fprintf(stderr, "meshgw: ALARM: audit append failed: %s\n", mg_errmsg());
	pthread_mutex_unlock(&gw->lock);
}

/* One summary record for the conflicts the limit held back, then none pending. */
static void flush_pin_audit(struct mg_gateway *gw)
{
	char n[24];
	const char *kv[] = { "count", n };

	if (!gw->pin_audit.suppressed)
		return;
	snprintf(n, sizeof(n), "%" PRIu64, gw->pin_audit.suppressed);
	gw->pin_audit.suppressed = 0;
	audit_locked(gw, "neigh.pin_conflict_suppressed", kv, 1);
}

void mg_slowpath_tick(struct mg_gateway *gw, uint64_t now_s)
{
	if (now_s != gw->pin_audit.window_s)
		flush_pin_audit(gw);
}

/*
 * A frame tried to move a pinned neighbour: audit it, at most
 * PIN_AUDIT_PER_S records a second so a flood cannot fill the log; the rest
 * are counted and reported in one record once the second is over.
 */
static void audit_pin_conflict(struct mg_gateway *gw, uint16_t pi, const struct rte_arp_ipv4 *a)
{
	char ip[INET_ADDRSTRLEN], claimed[RTE_ETHER_ADDR_FMT_SIZE], pinned[RTE_ETHER_ADDR_FMT_SIZE];
	struct rte_ether_addr mac;
	uint64_t now_s = mg_neigh_now();
	const char *kv[] = { "port", gw->cfg.ports[pi].name, "ip", ip, "claimed_mac", claimed,
			     "pinned_mac", pinned };

	if (now_s != gw->pin_audit.window_s) {
		flush_pin_audit(gw);
		gw->pin_audit.window_s = now_s;
		gw->pin_audit.in_window = 0;
	}
	if (gw->pin_audit.in_window >= PIN_AUDIT_PER_S) {
		gw->pin_audit.suppressed++;
		gw->slow.arp_pin_audit_suppressed++;
		return;
	}
	gw->pin_audit.in_window++;
	inet_ntop(AF_INET, &a->arp_sip, ip, sizeof(ip));
	rte_ether_format_addr(claimed, sizeof(claimed), &a->arp_sha);
	if (!mg_neigh_pinned_mac(&gw->neigh, pi, a->arp_sip, &mac))
		memset(&mac, 0, sizeof(mac));
	rte_ether_format_addr(pinned, sizeof(pinned), &mac);
	audit_locked(gw, "neigh.pin_conflict", kv, 4);
}

/* How an ARP frame reached us decides whether it may create an entry. */
static enum mg_neigh_how arp_how(const struct rte_arp_hdr *h, const struct mg_port_addrs *us)
{
	const struct rte_arp_ipv4 *a = &h->arp_data;

	if (a->arp_tip != us->ip || a->arp_sip == a->arp_tip)
		return MG_NEIGH_OVERHEARD;
	return h->arp_opcode == rte_cpu_to_be_16(RTE_ARP_OP_REQUEST) ? MG_NEIGH_ASKED_US
								     : MG_NEIGH_ANSWERED_US;
}

/* Learn from an on-link sender; false if the frame must be dropped unanswered. */
static bool arp_learn(struct mg_gateway *gw, uint16_t pi, const struct mg_port_addrs *us,
		      const struct rte_arp_hdr *h)
{
	const struct rte_arp_ipv4 *a = &h->arp_data;

	/* An off-subnet claim is never a neighbour. */
	if (a->arp_sip == 0 || a->arp_sip == us->ip || !in_subnet(us, a->arp_sip) ||
	    rte_is_multicast_ether_addr(&a->arp_sha))
		return true;
	switch (mg_neigh_learn(&gw->neigh, pi, a->arp_sip, &a->arp_sha, mg_neigh_now(),
			       arp_how(h, us))) {
	case MG_NEIGH_NEW:
		gw->slow.arp_learned++;
		break;
	case MG_NEIGH_REFUSED_PINNED:
		gw->slow.arp_pinned_refused++;
		audit_pin_conflict(gw, pi, a);
		return false;
	case MG_NEIGH_REFUSED_UNSOLICITED:
		gw->slow.arp_unsolicited_ignored++;
		break;
	case MG_NEIGH_REFUSED_SENDER_CAP:
		gw->slow.arp_sender_capped++;
		break;
	case MG_NEIGH_REFUSED_FULL:
		gw->slow.arp_table_full++;
		break;
	default:
		break;
	}
	return true;
}

static void handle_arp(struct mg_gateway *gw, struct mg_worker *w, uint16_t pi,
		       struct rte_mbuf *m)
{
	const struct mg_port_addrs *us = &w->ports[pi].addrs;
	struct arp_frame f = arp_frame(m);
	struct rte_arp_ipv4 *a = &f.arp->arp_data;

	if (!arp_learn(gw, pi, us, f.arp)) {
		/* It claims a pinned address: not even a reply goes to it. */
		rte_pktmbuf_free(m);
		return;
	}
	if (a->arp_sip == us->ip) {
		/* Our own address announced: our echo, or another host claiming it. */
		if (memcmp(&a->arp_sha, us->mac, RTE_ETHER_ADDR_LEN) != 0)
			gw->slow.arp_conflicts++;
		rte_pktmbuf_free(m);
		return;
	}
	if (f.arp->arp_opcode != rte_cpu_to_be_16(RTE_ARP_OP_REQUEST)) {
		gw->slow.arp_replies_seen++;
		rte_pktmbuf_free(m);
		return;
	}
	arp_reply_in_place(f, us);
	gw->slow.arp_requests_answered++;
	send_via(gw, w, pi, m);
}

static void icmp_echo_reply_in_place(struct icmp_frame f, uint16_t icmp_len)
{
	struct rte_ether_addr mac = f.eth->dst_addr;
	uint32_t ip = f.ip->dst_addr;

	f.eth->dst_addr = f.eth->src_addr;
	f.eth->src_addr = mac;
	f.ip->dst_addr = f.ip->src_addr;
	f.ip->src_addr = ip;
	f.ip->time_to_live = 64;
	f.ip->hdr_checksum = 0;
	f.ip->hdr_checksum = rte_ipv4_cksum(f.ip);
	f.icmp->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
	f.icmp->icmp_code = 0;
	f.icmp->icmp_cksum = 0;
	f.icmp->icmp_cksum = ~rte_raw_cksum(f.icmp, icmp_len);
}

static void handle_icmp(struct mg_gateway *gw, struct mg_worker *w, uint16_t pi,
			struct rte_mbuf *m)
{
	struct icmp_frame f = icmp_frame(m);
	uint16_t ip_len = rte_be_to_cpu_16(f.ip->total_length);

	if (f.icmp->icmp_type != RTE_IP_ICMP_ECHO_REQUEST) {
		/* Destination unreachable: PMTU discovery reads it once TCP exists. */
		gw->slow.icmp_unreach_seen++;
		rte_pktmbuf_free(m);
		return;
	}
	/* Trim Ethernet padding so the reply is exactly as long as the request. */
	rte_pktmbuf_trim(m, rte_pktmbuf_pkt_len(m) - (sizeof(*f.eth) + ip_len));
	icmp_echo_reply_in_place(f, ip_len - sizeof(*f.ip));
	gw->slow.icmp_echo_replied++;
	send_via(gw, w, pi, m);
}

static void handle(struct mg_gateway *gw, struct mg_worker *w, struct rte_mbuf *m)
{
	const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	uint16_t pi = m->port;

	if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP))
		handle_arp(gw, w, pi, m);
	else
		handle_icmp(gw, w, pi, m);
}

unsigned mg_slowpath_poll(struct mg_gateway *gw)
{
	struct rte_mbuf *pkts[MG_BURST];
	unsigned total = 0;

	for (uint16_t i = 0; i < gw->n_workers; i++) {
		struct mg_worker *w = gw->workers[i];
		unsigned n = rte_ring_dequeue_burst(w->to_ctrl, (void **)pkts, MG_BURST, NULL);

		for (unsigned k = 0; k < n; k++)
			handle(gw, w, pkts[k]);
		total += n;
	}
	return total;
}

static struct rte_mbuf *arp_request(struct mg_port *p, const struct mg_port_addrs *us,
				     uint32_t target)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(p->pool);
	struct arp_frame f;
	char *data;

	if (!m)
		return NULL;
	data = rte_pktmbuf_append(m, ETH_MIN_FRAME);
	if (!data) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	memset(data, 0, ETH_MIN_FRAME);
	f = arp_frame(m);
	memset(&f.eth->dst_addr, 0xff, RTE_ETHER_ADDR_LEN);
	memcpy(&f.eth->src_addr, us->mac, RTE_ETHER_ADDR_LEN);
	f.eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
	f.arp->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
	f.arp->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	f.arp->arp_hlen = RTE_ETHER_ADDR_LEN;
	f.arp->arp_plen = 4;
	f.arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REQUEST);
	memcpy(&f.arp->arp_data.arp_sha, us->mac, RTE_ETHER_ADDR_LEN);
	f.arp->arp_data.arp_sip = us->ip;
	f.arp->arp_data.arp_tip = target;
	return m;
}

/* A request with sender == target: every stack updates its cache from it. */
static struct rte_mbuf *gratuitous_arp(struct mg_port *p, const struct mg_port_addrs *us)
{
	return arp_request(p, us, us->ip);
}

void mg_slowpath_arp_request(struct mg_gateway *gw, uint16_t pi, uint32_t ip)
{
	struct mg_worker *w = gw->workers[0];
	struct rte_mbuf *m;

	if (pi >= gw->n_ports || !w)
		return;
	m = arp_request(&gw->ports[pi], &w->ports[pi].addrs, ip);
	if (!m) {
		gw->slow.alloc_failed++;
		return;
	}
	gw->arp_requests_sent++;
	/* Its reply, and only a reply we asked for, may create the entry. */
	mg_neigh_solicit(&gw->neigh, pi, ip, mg_neigh_now());
	send_via(gw, w, pi, m);
}

#define RESOLVE_HOLD_MS 200 /* one ARP per target per this long, whoever asks */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* False if the same target was asked for lately; else remember it. */
static bool resolve_due(struct mg_gateway *gw, uint16_t pi, uint32_t ip, uint64_t ms)
{
	unsigned n = sizeof(gw->recent_ip) / sizeof(gw->recent_ip[0]), oldest = 0;

	for (unsigned i = 0; i < n; i++) {
		if (gw->recent_ip[i] == ip && gw->recent_port[i] == pi) {
			if (ms - gw->recent_ms[i] < RESOLVE_HOLD_MS)
				return false;
			gw->recent_ms[i] = ms;
			return true;
		}
		if (gw->recent_ms[i] < gw->recent_ms[oldest])
			oldest = i;
	}
	gw->recent_ip[oldest] = ip;
	gw->recent_port[oldest] = pi;
	gw->recent_ms[oldest] = ms;
	return true;
}

void mg_slowpath_resolve_poll(struct mg_gateway *gw)
{
	uint64_t ms = now_ms();

	for (uint16_t i = 0; i < gw->n_workers; i++) {
		void *reqs[MG_BURST];
		unsigned n;

		if (!gw->workers[i]->resolve)
			continue;
		n = rte_ring_dequeue_burst(gw->workers[i]->resolve, reqs, MG_BURST, NULL);
		for (unsigned k = 0; k < n; k++) {
			uint64_t r = (uint64_t)(uintptr_t)reqs[k];
			uint16_t pi = (uint16_t)(r >> 32);
			uint32_t ip = (uint32_t)r;

			gw->resolve_requests_seen++;
			if (resolve_due(gw, pi, ip, ms))
				mg_slowpath_arp_request(gw, pi, ip);
			else
				gw->resolve_suppressed++;
		}
	}
}

void mg_slowpath_announce(struct mg_gateway *gw)
{
	struct mg_worker *w = gw->workers[0];

	for (uint16_t pi = 0; pi < gw->n_ports; pi++) {
		struct rte_mbuf *m = gratuitous_arp(&gw->ports[pi], &w->ports[pi].addrs);

		if (!m) {
			gw->slow.alloc_failed++;
			continue;
		}
		gw->slow.arp_gratuitous_sent++;
		send_via(gw, w, pi, m);
	}
}
