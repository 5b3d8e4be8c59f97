/* SPDX-License-Identifier: BSD-3-Clause */
#include "worker.h"

#include "fault.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_prefetch.h>

/* Counter bumps: the worker is the only writer, so a relaxed store suffices. */
#define COUNT(field, n) \
	__atomic_store_n(&(field), (field) + (n), __ATOMIC_RELAXED)

static enum mg_csum_hint csum_hint(uint64_t flags, uint64_t mask, uint64_t good,
				   uint64_t bad, uint64_t none)
{
	uint64_t v = flags & mask;

	if (v == good || v == none) /* NONE: header integrity verified, sum not set */
		return MG_CSUM_GOOD;
	if (v == bad)
		return MG_CSUM_BAD;
	return MG_CSUM_UNKNOWN;
}

static enum mg_drop inspect(struct mg_worker_port *wp, struct rte_mbuf *m,
			    enum mg_action *act)
{
	struct mg_pkt pkt;
	const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
	enum mg_csum_hint ip = MG_CSUM_UNKNOWN, l4 = MG_CSUM_UNKNOWN;
	enum mg_drop d;

	/* Ports are set up so a frame always fits one segment. */
	if (unlikely(m->nb_segs != 1))
		return MG_DROP_CHAINED;
	if (wp->csum_offload_ip)
		ip = csum_hint(m->ol_flags, RTE_MBUF_F_RX_IP_CKSUM_MASK,
			       RTE_MBUF_F_RX_IP_CKSUM_GOOD, RTE_MBUF_F_RX_IP_CKSUM_BAD,
			       RTE_MBUF_F_RX_IP_CKSUM_NONE);
	if (wp->csum_offload_l4)
		l4 = csum_hint(m->ol_flags, RTE_MBUF_F_RX_L4_CKSUM_MASK,
			       RTE_MBUF_F_RX_L4_CKSUM_GOOD, RTE_MBUF_F_RX_L4_CKSUM_BAD,
			       RTE_MBUF_F_RX_L4_CKSUM_NONE);
	d = mg_parse_frame(frame, rte_pktmbuf_data_len(m), ip, l4, &pkt);
	if (d != MG_DROP_NONE)
		return d;
	d = mg_classify(&pkt, frame, &wp->addrs, act);
	if (d != MG_DROP_NONE)
		return d;
	/* No TCP listener exists until the TCP stack is wired in. */
	if (*act == MG_ACT_TCP)
		return MG_DROP_TCP_NO_LISTENER;
	return MG_DROP_NONE;
}

static void to_slowpath(struct mg_worker *w, struct rte_mbuf **pkts, uint16_t n)
{
	unsigned sent;

	if (n == 0)
		return;
	sent = rte_ring_enqueue_burst(w->to_ctrl, (void **)pkts, n, NULL);
	COUNT(w->stats.to_slowpath, sent);
	if (unlikely(sent < n)) {
		COUNT(w->stats.drops[MG_DROP_SLOWPATH_FULL], n - sent);
		rte_pktmbuf_free_bulk(pkts + sent, n - sent);
	}
}

void mg_worker_rx_burst(struct mg_worker *w, uint16_t pi, struct rte_mbuf **pkts,
			uint16_t n)
{
	struct mg_worker_port *wp = &w->ports[pi];
	struct rte_mbuf *drop[MG_BURST], *slow[MG_BURST];
	uint16_t n_drop = 0, n_slow = 0;
	uint64_t bytes = 0;

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		enum mg_action act = MG_ACT_DROP;
		enum mg_drop d;

		if (i + 1 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
		bytes += rte_pktmbuf_pkt_len(m);
		d = inspect(wp, m, &act);
		if (likely(d != MG_DROP_NONE)) {
			COUNT(w->stats.drops[d], 1);
			drop[n_drop++] = m;
			continue;
		}
		m->port = pi; /* the control thread answers on the same port */
		slow[n_slow++] = m;
	}
	COUNT(w->stats.port[pi].rx_packets, n);
	COUNT(w->stats.port[pi].rx_bytes, bytes);
	COUNT(w->stats.port[pi].drops, n_drop);
	if (n_drop)
		rte_pktmbuf_free_bulk(drop, n_drop);
	to_slowpath(w, slow, n_slow);
}

static void tx_flush(struct mg_worker *w, uint16_t pi)
{
	struct mg_worker_port *wp = &w->ports[pi];
	uint16_t sent;
	uint64_t bytes = 0;

	if (wp->tx_len == 0)
		return;
	for (uint16_t i = 0; i < wp->tx_len; i++)
		bytes += rte_pktmbuf_pkt_len(wp->tx_buf[i]);
	sent = rte_eth_tx_burst(wp->port_id, wp->queue, wp->tx_buf, wp->tx_len);
	if (unlikely(sent < wp->tx_len)) {
		uint64_t unsent = 0;

		/*
		 * The tail is ours again. With TX fault injection it may hold other
		 * mbufs than we offered (injected losses, held packets), so the byte
		 * count is clamped rather than trusted to subtract exactly.
		 */
		for (uint16_t i = sent; i < wp->tx_len; i++)
			unsent += rte_pktmbuf_pkt_len(wp->tx_buf[i]);
		bytes = unsent < bytes ? bytes - unsent : 0;
		COUNT(w->stats.drops[MG_DROP_TX_FULL], wp->tx_len - sent);
		COUNT(w->stats.port[pi].drops, wp->tx_len - sent);
		rte_pktmbuf_free_bulk(wp->tx_buf + sent, wp->tx_len - sent);
	}
	COUNT(w->stats.port[pi].tx_packets, sent);
	COUNT(w->stats.port[pi].tx_bytes, bytes);
	wp->tx_len = 0;
}

static void tx_enqueue(struct mg_worker *w, uint16_t pi, struct rte_mbuf *m)
{
	struct mg_worker_port *wp = &w->ports[pi];

	if (wp->tx_len == MG_BURST)
		tx_flush(w, pi);
	wp->tx_buf[wp->tx_len++] = m;
}

/* Frames the control thread built (ARP and ICMP replies) leave through our queue. */
static void drain_from_ctrl(struct mg_worker *w)
{
	struct rte_mbuf *pkts[MG_BURST];
	unsigned n = rte_ring_dequeue_burst(w->from_ctrl, (void **)pkts, MG_BURST, NULL);

	COUNT(w->stats.from_slowpath, n);
	for (unsigned i = 0; i < n; i++) {
		uint16_t pi = pkts[i]->port;

		if (unlikely(pi >= w->n_ports)) {
			COUNT(w->stats.drops[MG_DROP_TX_FULL], 1);
			rte_pktmbuf_free(pkts[i]);
			continue;
		}
		tx_enqueue(w, pi, pkts[i]);
	}
}

static void account_loop(struct mg_worker *w, uint64_t start, uint64_t end)
{
	uint64_t cycles = end - start;
	unsigned b = cycles ? 63 - (unsigned)__builtin_clzll(cycles) : 0;

	COUNT(w->stats.loop_hist[b < MG_LOOP_HIST ? b : MG_LOOP_HIST - 1], 1);
	if (cycles > w->stats.loop_max_cycles)
		__atomic_store_n(&w->stats.loop_max_cycles, cycles, __ATOMIC_RELAXED);
}

int mg_worker_main(void *arg)
{
	struct mg_worker *w = arg;
	struct rte_mbuf *pkts[MG_BURST];
	uint64_t start = rte_rdtsc();

	mg_publish_worker_online(w->pub, w->index);
	while (!__atomic_load_n(w->quit, __ATOMIC_RELAXED)) {
		uint64_t end;
		uint32_t total = 0;

		/* One acquire load per loop; dropped at the quiescent report below. */
		w->policy = mg_publish_read(w->pub);
		__atomic_store_n(&w->stats.policy_generation,
				 __atomic_load_n(&w->pub->generation, __ATOMIC_ACQUIRE),
				 __ATOMIC_RELAXED);

		for (uint16_t pi = 0; pi < w->n_ports; pi++) {
			struct mg_worker_port *wp = &w->ports[pi];
			uint16_t n = rte_eth_rx_burst(wp->port_id, wp->queue, pkts, MG_BURST);

			if (n) {
				mg_worker_rx_burst(w, pi, pkts, n);
				total += n;
			}
		}
		drain_from_ctrl(w);
		for (uint16_t pi = 0; pi < w->n_ports; pi++) {
			tx_flush(w, pi);
			if (unlikely(w->ports[pi].fault_tx))
				mg_fault_tx_flush(w->ports[pi].port_id, w->ports[pi].queue);
		}
		w->policy = NULL;
		mg_publish_quiescent(w->pub, w->index);
		COUNT(w->stats.loops, 1);
		end = rte_rdtsc();
		if (total) {
			COUNT(w->stats.busy_packets, total);
			COUNT(w->stats.busy_cycles, end - start);
		}
		account_loop(w, start, end);
		start = end;
	}
	for (uint16_t pi = 0; pi < w->n_ports; pi++)
		tx_flush(w, pi);
	mg_publish_worker_offline(w->pub, w->index);
	return 0;
}
