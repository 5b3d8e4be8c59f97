/* SPDX-License-Identifier: BSD-3-Clause */
#include "worker.h"

#include "fault.h"
#include "steer.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_prefetch.h>

#define ICMP_DEST_UNREACH 3
#define ICMP_FRAG_NEEDED 4
#define RX_PREFETCH_MBUF 8 /* mbuf structs prefetched this many frames ahead */
#define TX_TAKE_ROUNDS 16 /* bursts taken from the TCP stack per loop */

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

/* The NIC's checksum verdicts on @p m, on a port that reports them. */
static inline void rx_hints(const struct mg_worker_port *wp, const struct rte_mbuf *m,
			    uint8_t *ip, uint8_t *l4)
{
	*ip = MG_CSUM_UNKNOWN;
	*l4 = MG_CSUM_UNKNOWN;
	if (wp->csum_offload_ip)
		*ip = csum_hint(m->ol_flags, RTE_MBUF_F_RX_IP_CKSUM_MASK,
				RTE_MBUF_F_RX_IP_CKSUM_GOOD, RTE_MBUF_F_RX_IP_CKSUM_BAD,
				RTE_MBUF_F_RX_IP_CKSUM_NONE);
	if (wp->csum_offload_l4)
		*l4 = csum_hint(m->ol_flags, RTE_MBUF_F_RX_L4_CKSUM_MASK,
				RTE_MBUF_F_RX_L4_CKSUM_GOOD, RTE_MBUF_F_RX_L4_CKSUM_BAD,
				RTE_MBUF_F_RX_L4_CKSUM_NONE);
}

/* A parse verdict, with TCP refused on a gateway without listeners (no TCP stack). */
static inline uint8_t verdict(const struct mg_worker *w, uint8_t why, uint8_t act)
{
	return why == MG_DROP_NONE && act == MG_ACT_TCP && !w->tcp_on ? MG_DROP_TCP_NO_LISTENER
								      : why;
}

/* One frame through the whole check (steer_drain's second look at a segment). */
static enum mg_drop inspect(const struct mg_worker *w, struct mg_worker_port *wp,
			    struct rte_mbuf *m, enum mg_action *act, struct mg_pkt *out)
{
	struct mg_rx_frame in = { .data = rte_pktmbuf_mtod(m, const uint8_t *),
				  .len = rte_pktmbuf_data_len(m) };
	uint8_t why = MG_DROP_NONE, a = MG_ACT_DROP;

	/* Ports are set up so a frame always fits one segment. */
	if (unlikely(m->nb_segs != 1))
		return MG_DROP_CHAINED;
	rx_hints(wp, m, &in.ip_csum, &in.l4_csum);
	mg_parse_burst(&in, 1, &wp->addrs, out, &a, &why);
	*act = (enum mg_action)a;
	return (enum mg_drop)verdict(w, why, a);
}

/* Hand a frame to the worker owning its tuple; false if that is us. */
static bool steer(struct mg_worker *w, uint16_t pi, struct rte_mbuf *m, uint16_t owner)
{
	if (owner == w->index || !w->steer_out[owner])
		return false;
	m->port = pi;
	if (unlikely(rte_ring_enqueue(w->steer_out[owner], m) != 0)) {
		COUNT(w->stats.steer_ring_full, 1);
		rte_pktmbuf_free(m);
	} else {
		COUNT(w->stats.steered_out, 1);
	}
	return true;
}

/* The segment's owner: from the NIC's RSS hash when it is ours, else computed. */
static uint16_t tcp_owner(const struct mg_worker *w, uint16_t pi, const struct rte_mbuf *m,
			  const struct mg_pkt *pkt)
{
	if (w->n_workers <= 1)
		return 0;
	if (w->ports[pi].rss && (m->ol_flags & RTE_MBUF_F_RX_RSS_HASH))
		return mg_steer_owner_of_hash(m->hash.rss, w->n_workers);
	return mg_steer_owner(pkt->src_ip, pkt->dst_ip, pkt->src_port, pkt->dst_port,
			      w->n_workers);
}

static void tcp_rx(struct mg_worker *w, uint16_t pi, struct rte_mbuf *m,
		   const struct mg_pkt *pkt, bool steered)
{
	if (!steered && steer(w, pi, m, tcp_owner(w, pi, m, pkt)))
		return;
	enum mg_stage caller;

	m->port = pi;
	COUNT(w->stats.tcp_in, 1);
	caller = mg_stage_switch(&w->clock, MG_STAGE_TCP_IN);
	mg_tcp_input(&w->tcp, m, pkt, w->now_us);
	mg_stage_switch(&w->clock, caller);
}

/*
 * ICMP fragmentation-needed quoting one of our TCP segments goes to the TCP
 * stack of the worker owning the quoted tuple. @return true if consumed.
 */
static bool icmp_to_tcp(struct mg_worker *w, uint16_t pi, struct rte_mbuf *m,
			const struct mg_pkt *pkt, bool steered)
{
	const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
	const uint8_t *icmp = frame + pkt->l4_off, *inner = frame + pkt->data_off;
	uint32_t len = pkt->data_len, ihl;
	uint32_t sip, dip;
	uint16_t sport, dport;

	if (!w->tcp_on || pkt->icmp_type != ICMP_DEST_UNREACH || icmp[1] != ICMP_FRAG_NEEDED ||
	    len < 20 || inner[9] != IPPROTO_TCP)
		return false;
	ihl = (inner[0] & 0xf) * 4u;
	if (ihl < 20 || len < ihl + 8)
		return false;
	memcpy(&sip, inner + 12, 4);
	memcpy(&dip, inner + 16, 4);
	memcpy(&sport, inner + ihl, 2);
	memcpy(&dport, inner + ihl + 2, 2);
	if (!steered && steer(w, pi, m, mg_steer_owner(sip, dip, sport, dport, w->n_workers)))
		return true;
	COUNT(w->stats.icmp_frag_needed, 1);
	mg_tcp_icmp_frag_needed(&w->tcp, inner, len, (uint16_t)(icmp[6] << 8 | icmp[7]),
				w->now_us);
	rte_pktmbuf_free(m);
	return true;
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

/*
 * What parse needs of each mbuf, in one pass over the burst: data, length and
 * the NIC's checksum verdicts, the mbuf structs a few ahead prefetched.
 * Chained frames are refused here (ports are set up for one segment).
 */
static uint64_t rx_gather(const struct mg_worker_port *wp, struct rte_mbuf **pkts, uint16_t n,
			  struct mg_rx_frame *in, uint8_t *why)
{
	uint64_t bytes = 0;

	for (uint16_t i = 0; i < n; i++) {
		const struct rte_mbuf *m = pkts[i];

		if (i + RX_PREFETCH_MBUF < n)
			rte_prefetch0(pkts[i + RX_PREFETCH_MBUF]);
		in[i].data = rte_pktmbuf_mtod(m, const uint8_t *);
		in[i].len = rte_pktmbuf_data_len(m);
		in[i].ip_csum = MG_CSUM_UNKNOWN;
		in[i].l4_csum = MG_CSUM_UNKNOWN;
		why[i] = unlikely(m->nb_segs != 1) ? MG_DROP_CHAINED : MG_DROP_NONE;
		bytes += rte_pktmbuf_pkt_len(m);
	}
	/* Most virtual ports report no verdicts: no flag test per frame there. */
	if (wp->csum_offload_ip || wp->csum_offload_l4)
		for (uint16_t i = 0; i < n; i++)
			rx_hints(wp, pkts[i], &in[i].ip_csum, &in[i].l4_csum);
	return bytes;
}

/*
 * The burst's drops back to their pool. When each is a plain mbuf (one
 * segment, direct, no other reference) of one pool, which is all
 * rte_pktmbuf_free_bulk() would find after checking and resetting each, they
 * go straight into the mempool cache in one copy; anything else (a chained
 * frame, a clone) takes rte_pktmbuf_free_bulk().
 */
static void free_drops(struct rte_mbuf **m, uint16_t n)
{
	struct rte_mempool *mp;
	bool plain = true;

	if (n == 0)
		return;
	mp = m[0]->pool;
	for (uint16_t i = 0; i < n; i++)
		plain &= (m[i]->pool == mp) & (rte_mbuf_refcnt_read(m[i]) == 1) &
			 (m[i]->nb_segs == 1) & (m[i]->next == NULL) & RTE_MBUF_DIRECT(m[i]);
	if (likely(plain))
		rte_mempool_put_bulk(mp, (void **)m, n);
	else
		rte_pktmbuf_free_bulk(m, n);
}

/* At most MG_BURST frames: gather, parse and classify all, then route each. */
static void rx_chunk(struct mg_worker *w, uint16_t pi, struct rte_mbuf **pkts, uint16_t n)
{
	struct mg_worker_port *wp = &w->ports[pi];
	struct mg_rx_frame in[MG_BURST];
	struct mg_pkt pkt[MG_BURST];
	uint8_t act[MG_BURST], why[MG_BURST];
	struct rte_mbuf *drop[MG_BURST], *slow[MG_BURST];
	uint16_t n_drop = 0, n_slow = 0;
	uint64_t bytes = rx_gather(wp, pkts, n, in, why);

	uint8_t run_why = MG_DROP_NONE;
	uint64_t run = 0;

	mg_parse_burst(in, n, &wp->addrs, pkt, act, why);
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		uint8_t d = verdict(w, why[i], act[i]);

		if (d != MG_DROP_NONE) {
			/* Counters: one add per run of one reason, not one per packet. */
			if (d != run_why) {
				COUNT(w->stats.drops[run_why], run);
				run_why = d;
				run = 0;
			}
			run++;
			drop[n_drop++] = m;
			continue;
		}
		if (act[i] == MG_ACT_TCP) {
			tcp_rx(w, pi, m, &pkt[i], false);
			continue;
		}
		if (pkt[i].proto == IPPROTO_ICMP && icmp_to_tcp(w, pi, m, &pkt[i], false))
			continue;
		m->port = pi; /* the control thread answers on the same port */
		slow[n_slow++] = m;
	}
	COUNT(w->stats.drops[run_why], run);
	COUNT(w->stats.port[pi].rx_packets, n);
	COUNT(w->stats.port[pi].rx_bytes, bytes);
	COUNT(w->stats.port[pi].drops, n_drop);
	free_drops(drop, n_drop);
	to_slowpath(w, slow, n_slow);
}

void mg_worker_rx_burst(struct mg_worker *w, uint16_t pi, struct rte_mbuf **pkts,
			uint16_t n)
{
	for (uint16_t done = 0; done < n; done += MG_BURST)
		rx_chunk(w, pi, pkts + done, (uint16_t)RTE_MIN(n - done, MG_BURST));
	if (w->tcp_on)
		mg_tcp_flush(&w->tcp);
}

/* Segments other workers received for tuples we own. */
static void steer_drain(struct mg_worker *w)
{
	struct rte_mbuf *pkts[MG_BURST];

	for (uint16_t from = 0; from < w->n_workers; from++) {
		unsigned n;

		if (!w->steer_in[from])
			continue;
		n = rte_ring_dequeue_burst(w->steer_in[from], (void **)pkts, MG_BURST, NULL);
		COUNT(w->stats.steered_in, n);
		w->loop_work += n;
		for (unsigned i = 0; i < n; i++) {
			struct rte_mbuf *m = pkts[i];
			uint16_t pi = m->port;
			enum mg_action act = MG_ACT_DROP;
			struct mg_pkt pkt;

			/* Parsed once already by the receiver: this cannot fail. */
			if (pi >= w->n_ports ||
			    inspect(w, &w->ports[pi], m, &act, &pkt) != MG_DROP_NONE) {
				rte_pktmbuf_free(m);
				continue;
			}
			if (act == MG_ACT_TCP)
				tcp_rx(w, pi, m, &pkt, true);
			else if (!icmp_to_tcp(w, pi, m, &pkt, true))
				rte_pktmbuf_free(m);
		}
		if (n)
			mg_tcp_flush(&w->tcp);
	}
}

static void tx_flush(struct mg_worker *w, uint16_t pi)
{
	struct mg_worker_port *wp = &w->ports[pi];
	uint16_t sent;
	uint64_t bytes = 0;
	enum mg_stage caller;

	if (wp->tx_len == 0)
		return;
	caller = mg_stage_switch(&w->clock, MG_STAGE_TX);
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
		/* Kept for the next loop: a full ring pushes back, it does not drop. */
		memmove(wp->tx_buf, wp->tx_buf + sent, (wp->tx_len - sent) * sizeof(wp->tx_buf[0]));
		COUNT(w->stats.tx_ring_full, 1);
	}
	COUNT(w->stats.port[pi].tx_packets, sent);
	COUNT(w->stats.port[pi].tx_bytes, bytes);
	wp->tx_len = (uint16_t)(wp->tx_len - sent);
	w->loop_work += sent;
	mg_stage_switch(&w->clock, caller);
}

static void tx_enqueue(struct mg_worker *w, uint16_t pi, struct rte_mbuf *m)
{
	struct mg_worker_port *wp = &w->ports[pi];

	if (wp->tx_len == MG_BURST)
		tx_flush(w, pi);
	if (unlikely(wp->tx_len == MG_BURST)) {
		COUNT(w->stats.drops[MG_DROP_TX_FULL], 1);
		COUNT(w->stats.port[pi].drops, 1);
		rte_pktmbuf_free(m);
		return;
	}
	wp->tx_buf[wp->tx_len++] = m;
}

/*
 * Frames the TCP stack may hand over now: what every port's TX buffer still
 * takes. Anything more waits in the stack's own ring (its connections on its
 * pending list), so a full NIC ring slows TCP down instead of losing segments.
 */
static uint16_t tx_room(struct mg_worker *w)
{
	uint16_t room = MG_BURST;

	for (uint16_t pi = 0; pi < w->n_ports; pi++) {
		if (w->ports[pi].tx_len == MG_BURST)
			tx_flush(w, pi);
		room = RTE_MIN(room, (uint16_t)(MG_BURST - w->ports[pi].tx_len));
	}
	return room;
}

/* The TCP stack's clock, timers and output; bounded per loop. */
static void tcp_run(struct mg_worker *w)
{
	struct rte_mbuf *out[MG_BURST];

	mg_stage_switch(&w->clock, MG_STAGE_PROXY);
	mg_proxy_poll(&w->proxy, w->now_us);
	mg_stage_switch(&w->clock, MG_STAGE_TCP_OUT);
	mg_tcp_timers_run(&w->tcp, w->now_us);
	for (unsigned r = 0; r < TX_TAKE_ROUNDS; r++) {
		uint16_t room = tx_room(w);
		uint16_t n = room ? mg_tcp_tx_take(&w->tcp, out, room) : 0;

		COUNT(w->stats.tcp_tx, n);
		for (uint16_t i = 0; i < n; i++) {
			if (unlikely(out[i]->port >= w->n_ports)) {
				rte_pktmbuf_free(out[i]);
				continue;
			}
			tx_enqueue(w, out[i]->port, out[i]);
		}
		if (n < room || room == 0)
			break;
	}
	mg_stage_switch(&w->clock, MG_STAGE_OTHER);
}

/* The worker's neighbour view: the control thread's snapshot, and a request on a miss. */
static bool resolve(void *ctx, uint8_t port, uint32_t ip, uint8_t mac[6])
{
	struct mg_worker *w = ctx;

	if (mg_neigh_snap_find(w->neigh, port, ip, mac))
		return true;
	COUNT(w->stats.resolve_requests, 1);
	if (rte_ring_enqueue(w->resolve, mg_resolve_req(port, ip)) != 0)
		COUNT(w->stats.resolve_ring_full, 1);
	return false;
}

static bool owns(void *ctx, uint32_t lip, uint32_t rip, uint16_t lport, uint16_t rport)
{
	const struct mg_worker *w = ctx;

	return mg_steer_owner(lip, rip, lport, rport, w->n_workers) == w->index;
}

/* A refusal for the control thread's audit log; a full ring loses it, counted. */
static void proxy_event(void *ctx, const struct mg_proxy_event *ev)
{
	struct mg_worker *w = ctx;

	if (!w->events || rte_ring_sp_enqueue_elem(w->events, (void *)(uintptr_t)ev, sizeof(*ev)) != 0)
		COUNT(w->stats.events_lost, 1);
}

MG_RESULT mg_worker_tcp_init(struct mg_worker *w, const struct mg_tcp_params *p,
			     const struct mg_proxy_listener_conf *l, uint16_t n_listeners,
			     const struct mg_proxy_env *policy, const struct mg_proxy_tls_conf *tls)
{
	struct mg_proxy_env env = { .resolve = resolve, .owns = owns, .event = proxy_event,
				    .ctx = w };

	if (policy) {
		env.authorize = policy->authorize;
		env.authorize_http = policy->authorize_http;
		env.l7_conf = policy->l7_conf;
		env.workload_id = policy->workload_id;
		env.tls_set = policy->tls_set;
		env.generation = policy->generation;
	}

	w->tsc_per_us = rte_get_tsc_hz() / 1000000;
	if (w->tsc_per_us == 0)
		w->tsc_per_us = 1;
	w->now_us = rte_rdtsc() / w->tsc_per_us;
	MG_GUARD(mg_tcp_stack_init(&w->tcp, p));
	w->tcp.clock = &w->clock;
	if (mg_proxy_init(&w->proxy, &w->tcp, l, n_listeners, p->max_conns / 2,
			  p->socket_id, &env, tls) < 0) {
		mg_tcp_stack_free(&w->tcp);
		mg_proxy_free(&w->proxy);
		return -1;
	}
	w->proxy.worker = w->index; /* request IDs and authorize_http's scratch */
	w->tcp_on = true;
	return 0;
}

void mg_worker_tcp_free(struct mg_worker *w)
{
	if (!w->tcp_on)
		return;
	w->tcp_on = false;
	mg_tcp_stack_free(&w->tcp);
	mg_proxy_free(&w->proxy);
}

/* Frames the control thread built (ARP and ICMP replies) leave through our queue. */
static void drain_from_ctrl(struct mg_worker *w)
{
	struct rte_mbuf *pkts[MG_BURST];
	unsigned n = rte_ring_dequeue_burst(w->from_ctrl, (void **)pkts, MG_BURST, NULL);

	COUNT(w->stats.from_slowpath, n);
	w->loop_work += n;
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

/*
 * A loop turn that moved frames (@p rx received, or others sent, steered or
 * handed over) is busy: its cycles count, by stage. Idle turns count only in
 * the loop histogram, so cycles per packet, byte or connection are the work's.
 */
static void account_loop(struct mg_worker *w, uint64_t start, uint64_t end, uint32_t rx)
{
	uint64_t cycles = end - start;
	unsigned b = cycles ? 63 - (unsigned)__builtin_clzll(cycles) : 0;

	COUNT(w->stats.loop_hist[b < MG_LOOP_HIST ? b : MG_LOOP_HIST - 1], 1);
	if (cycles > w->stats.loop_max_cycles)
		__atomic_store_n(&w->stats.loop_max_cycles, cycles, __ATOMIC_RELAXED);
	if (rx || w->loop_work) {
		mg_stage_loop_end(&w->clock, end);
		COUNT(w->stats.busy_loops, 1);
		COUNT(w->stats.busy_packets, rx);
		COUNT(w->stats.busy_cycles, cycles);
		for (int s = 0; s < MG_STAGE__COUNT; s++)
			COUNT(w->stats.cycles[s], w->clock.loop[s]);
	}
	w->loop_work = 0;
	/* The next turn starts receiving: the RCU read before it is charged there too. */
	mg_stage_loop_start(&w->clock, end, MG_STAGE_RX);
}

int mg_worker_main(void *arg)
{
	struct mg_worker *w = arg;
	struct rte_mbuf *pkts[MG_BURST];
	uint64_t start = rte_rdtsc();

	mg_stage_loop_start(&w->clock, start, MG_STAGE_RX);
	w->loop_work = 0;
	mg_publish_worker_online(w->pub, w->index);
	if (w->tcp_on)
		mg_publish_worker_online(w->neigh_pub, w->index);
	while (!__atomic_load_n(w->quit, __ATOMIC_RELAXED)) {
		uint64_t end;
		uint32_t total = 0;

		/* One acquire load per loop; dropped at the quiescent report below. */
		w->policy = mg_publish_read(w->pub);
		if (w->tcp_on) {
			mg_proxy_set_policy(&w->proxy, w->policy);
			w->neigh = mg_publish_read(w->neigh_pub);
			w->now_us = start / w->tsc_per_us; /* the last turn's end: no gap */
		}
		__atomic_store_n(&w->stats.policy_generation,
				 __atomic_load_n(&w->pub->generation, __ATOMIC_ACQUIRE),
				 __ATOMIC_RELAXED);

		for (uint16_t pi = 0; pi < w->n_ports; pi++) {
			struct mg_worker_port *wp = &w->ports[pi];
			uint16_t n = rte_eth_rx_burst(wp->port_id, wp->queue, pkts, MG_BURST);

			if (n) {
				mg_stage_switch(&w->clock, MG_STAGE_PARSE);
				mg_worker_rx_burst(w, pi, pkts, n);
				total += n;
				if (pi + 1 < w->n_ports)
					mg_stage_switch(&w->clock, MG_STAGE_RX);
			}
		}
		mg_stage_switch(&w->clock, MG_STAGE_OTHER);
		if (w->tcp_on) {
			steer_drain(w);
			tcp_run(w);
		}
		drain_from_ctrl(w);
		for (uint16_t pi = 0; pi < w->n_ports; pi++) {
			tx_flush(w, pi);
			if (unlikely(w->ports[pi].fault_tx))
				mg_fault_tx_flush(w->ports[pi].port_id, w->ports[pi].queue);
		}
		w->policy = NULL;
		mg_publish_quiescent(w->pub, w->index);
		if (w->tcp_on) {
			w->neigh = NULL;
			mg_publish_quiescent(w->neigh_pub, w->index);
		}
		COUNT(w->stats.loops, 1);
		end = rte_rdtsc();
		account_loop(w, start, end, total);
		start = end;
	}
	for (uint16_t pi = 0; pi < w->n_ports; pi++) {
		tx_flush(w, pi);
		rte_pktmbuf_free_bulk(w->ports[pi].tx_buf, w->ports[pi].tx_len);
		w->ports[pi].tx_len = 0;
	}
	mg_publish_worker_offline(w->pub, w->index);
	if (w->tcp_on)
		mg_publish_worker_offline(w->neigh_pub, w->index);
	return 0;
}
