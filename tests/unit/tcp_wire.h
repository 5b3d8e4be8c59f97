/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The simulated wire that joins TCP stacks in the unit tests (test_tcp,
 * test_proxy) and the TCP fuzz target: the EAL and the mbuf pool, the wire's
 * seeded choices, frames crafted or copied onto it, what the parser would say
 * about them, and the applications at the ends of a connection, each writing
 * one deterministic byte stream and checking the one it reads.
 *
 * No test framework here: the fuzz target includes it too, so failures come
 * back as NULL or false for the caller to assert on.
 */
#ifndef MG_TESTS_TCP_WIRE_H
#define MG_TESTS_TCP_WIRE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_tcp.h>

#include "tcp/tcp.h"

/* ---- the process --------------------------------------------------------- */

/*
 * The EAL without hugepages, devices or a shared config, under a file prefix
 * of its own per process (so parallel test programs never meet), and a pool
 * of @p n mbufs. NULL (said on stderr) when either fails.
 */
static inline struct rte_mempool *wire_eal_pool(const char *prog, const char *prefix_name,
						const char *pool_name, unsigned n)
{
	char prefix[64];
	char *eal[] = {(char *)prog, "--no-huge", "-m", "256", "--no-pci", prefix,
		       "--log-level=error", "--no-telemetry", "--no-shconf"};
	struct rte_mempool *mp;

	snprintf(prefix, sizeof(prefix), "--file-prefix=%s-%d", prefix_name, getpid());
	if (rte_eal_init((int)RTE_DIM(eal), eal) < 0) {
		fprintf(stderr, "rte_eal_init failed\n");
		return NULL;
	}
	mp = rte_pktmbuf_pool_create(pool_name, n, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				     SOCKET_ID_ANY);
	if (!mp)
		fprintf(stderr, "mempool: out of memory\n");
	return mp;
}

/*
 * The body of a cmocka main() on the simulated wire: the EAL and its pool
 * (wire_eal_pool) into @p pool_var, the free mbufs every case must give back
 * into @p full_var, the group @p tests, then the pool and the EAL freed; 1 if
 * the EAL or the pool could not be had. A macro: cmocka counts the cases from
 * the array's type.
 */
#define WIRE_MAIN(tests, prog, prefix_name, pool_name, n, pool_var, full_var)             \
	__extension__({                                                                   \
		int rc_ = 1;                                                              \
		if (((pool_var) = wire_eal_pool(prog, prefix_name, pool_name, n)) != NULL) { \
			(full_var) = rte_mempool_avail_count(pool_var);                   \
			rc_ = cmocka_run_group_tests(tests, NULL, NULL);                  \
			rte_mempool_free(pool_var);                                       \
			rte_eal_cleanup();                                                \
		}                                                                         \
		rc_;                                                                      \
	})

/* ---- frames ---------------------------------------------------------------- */

/* xorshift64: every choice the wire makes follows from the case's seed. */
static inline uint32_t wire_rnd(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return (uint32_t)(*state >> 16);
}

/*
 * A copy of @p m in one fresh mbuf of @p pool, as a NIC would receive it (a
 * stack's frames may be chains); @p m is freed either way. NULL when the pool
 * is empty.
 */
static inline struct rte_mbuf *wire_linearize(struct rte_mempool *pool, struct rte_mbuf *m)
{
	struct rte_mbuf *l = rte_pktmbuf_alloc(pool);
	const void *src = NULL;
	uint8_t *p = l ? (uint8_t *)rte_pktmbuf_append(l, (uint16_t)m->pkt_len) : NULL;

	if (p)
		src = rte_pktmbuf_read(m, 0, m->pkt_len, p);
	if (src && src != p)
		memcpy(p, src, m->pkt_len);
	rte_pktmbuf_free(m);
	if (!src) {
		rte_pktmbuf_free(l);
		return NULL;
	}
	return l;
}

/*
 * What mg_parse_frame says about an Ethernet + IPv4 + TCP frame @p f whose IP
 * header is @p ihl bytes: offsets and fields, nothing checked.
 */
static inline void wire_pkt(struct mg_pkt *pkt, const uint8_t *f, uint16_t ihl)
{
	const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(f + 14);
	const struct rte_tcp_hdr *th = (const struct rte_tcp_hdr *)(f + 14 + ihl);
	uint16_t tot = rte_be_to_cpu_16(ip->total_length);
	uint16_t thl = (uint16_t)((th->data_off >> 4) * 4);

	memset(pkt, 0, sizeof(*pkt));
	pkt->l3 = MG_L3_IPV4;
	pkt->l3_off = 14;
	pkt->l4_off = (uint16_t)(14 + ihl);
	pkt->l4_len = (uint16_t)(tot - ihl);
	pkt->data_off = (uint16_t)(pkt->l4_off + thl);
	pkt->data_len = (uint16_t)(tot - ihl - thl);
	pkt->proto = IPPROTO_TCP;
	pkt->tcp_flags = th->tcp_flags;
	pkt->src_ip = ip->src_addr;
	pkt->dst_ip = ip->dst_addr;
	pkt->src_port = th->src_port;
	pkt->dst_port = th->dst_port;
	pkt->frame_len = 14u + tot;
}

/* A segment to craft: addresses and ports in network order, the rest host order. */
struct wire_seg {
	const uint8_t *src_mac, *dst_mac;
	uint32_t src_ip, dst_ip;
	uint16_t src_port, dst_port;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	uint8_t optlen; /* a multiple of 4 */
	uint16_t plen;
};

/*
 * A frame from @p pool for @p s with its Ethernet, IPv4 and TCP headers
 * written; the caller puts the options and the payload at wire_seg_opts()
 * and then calls wire_seg_cksum(). NULL when the pool is empty.
 */
static inline struct rte_mbuf *wire_seg_new(struct rte_mempool *pool, const struct wire_seg *s)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	uint16_t thl = (uint16_t)(20 + s->optlen), tot = (uint16_t)(20 + thl + s->plen);
	uint8_t *f = m ? (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(14 + tot)) : NULL;
	struct rte_ipv4_hdr *ip;
	struct rte_tcp_hdr *th;

	if (!f) {
		rte_pktmbuf_free(m);
		return NULL;
	}
	ip = (struct rte_ipv4_hdr *)(f + 14);
	th = (struct rte_tcp_hdr *)(ip + 1);
	memcpy(f, s->dst_mac, 6);
	memcpy(f + 6, s->src_mac, 6);
	f[12] = 0x08;
	f[13] = 0;
	memset(ip, 0, sizeof(*ip));
	ip->version_ihl = 0x45;
	ip->total_length = rte_cpu_to_be_16(tot);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_TCP;
	ip->src_addr = s->src_ip;
	ip->dst_addr = s->dst_ip;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	memset(th, 0, sizeof(*th));
	th->src_port = s->src_port;
	th->dst_port = s->dst_port;
	th->sent_seq = rte_cpu_to_be_32(s->seq);
	th->recv_ack = rte_cpu_to_be_32(s->ack);
	th->data_off = (uint8_t)((thl / 4) << 4);
	th->tcp_flags = s->flags;
	th->rx_win = rte_cpu_to_be_16(s->win);
	return m;
}

/* Where a crafted segment's options start; its payload follows them. */
static inline uint8_t *wire_seg_opts(struct rte_mbuf *m)
{
	return rte_pktmbuf_mtod_offset(m, uint8_t *, 14 + 20 + 20);
}

/* The TCP checksum, once the options and the payload are in place. */
static inline void wire_seg_cksum(struct rte_mbuf *m)
{
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, 14);
	struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)(ip + 1);

	th->cksum = rte_ipv4_udptcp_cksum(ip, th);
}

/* ---- the applications at the ends ------------------------------------------ */

/* Byte @p i of stream @p seed: the tests check every byte that arrives. */
static inline uint8_t stream_byte(uint32_t seed, uint64_t i)
{
	uint64_t x = i + (uint64_t)seed * 1000003u;

	return (uint8_t)((x * 2654435761u) >> 11 ^ (x >> 9));
}

/* One end of a TCP connection: it writes one stream and checks the one it reads. */
struct app {
	struct mg_tcp_stack *st; /* the stack it is on */
	struct mg_tcp_conn *c;
	unsigned events;         /* every event seen, for the case to test and clear */
	bool connected, closed, peer_fin, auto_read, shutdown_after_tx;
	bool ignore;             /* the case does not wait for this end */
	int close_reason;
	uint32_t tx_seed, rx_seed; /* which stream it writes, which it expects */
	uint64_t rx, rx_bad;       /* bytes read, bytes that differed from the stream */
	uint64_t tx, tx_total;     /* bytes queued, bytes to queue */
};

static inline void app_init(struct app *a, struct mg_tcp_stack *st, uint32_t tx_seed,
			    uint32_t rx_seed)
{
	memset(a, 0, sizeof(*a));
	a->st = st;
	a->auto_read = true;
	a->tx_seed = tx_seed;
	a->rx_seed = rx_seed;
}

/* Read all that is ready, counting the bytes that are not the expected stream. */
static inline void app_read(struct app *a)
{
	struct rte_mbuf *m;

	while (mg_tcp_recv(a->st, a->c, UINT32_MAX, &m) > 0) {
		for (struct rte_mbuf *x = m; x; x = x->next) {
			const uint8_t *p = rte_pktmbuf_mtod(x, const uint8_t *);

			for (uint16_t i = 0; i < x->data_len; i++)
				if (p[i] != stream_byte(a->rx_seed, a->rx + i))
					a->rx_bad++;
			a->rx += x->data_len;
		}
		rte_pktmbuf_free(m);
	}
}

/* Once per step: read, queue what the send buffer takes, FIN once all is queued. */
static inline void app_pump(struct app *a)
{
	uint8_t buf[4096];

	if (!a->c || a->closed)
		return;
	if (a->auto_read && mg_tcp_recv_ready(a->c))
		app_read(a);
	while (a->tx < a->tx_total) {
		uint32_t n = (uint32_t)RTE_MIN(a->tx_total - a->tx, (uint64_t)sizeof(buf));
		int64_t r;

		for (uint32_t i = 0; i < n; i++)
			buf[i] = stream_byte(a->tx_seed, a->tx + i);
		r = mg_tcp_send_copy(a->st, a->c, buf, n);
		if (r <= 0)
			break;
		a->tx += (uint64_t)r;
	}
	if (a->shutdown_after_tx && a->tx == a->tx_total) {
		a->shutdown_after_tx = false;
		mg_tcp_shutdown(a->st, a->c);
	}
}

/* The event callback of struct mg_tcp_ops for a connection whose user is an app. */
static inline void app_event(void *user, struct mg_tcp_conn *c, unsigned ev)
{
	struct app *a = user;

	a->c = c;
	a->events |= ev;
	if (ev & MG_TCP_EV_CONNECTED)
		a->connected = true;
	if (ev & MG_TCP_EV_PEER_FIN)
		a->peer_fin = true;
	if (ev & MG_TCP_EV_CLOSED) {
		a->closed = true;
		a->close_reason = mg_tcp_close_reason(c);
		return;
	}
	if ((ev & MG_TCP_EV_READABLE) && a->auto_read)
		app_read(a);
}

#endif /* MG_TESTS_TCP_WIRE_H */
