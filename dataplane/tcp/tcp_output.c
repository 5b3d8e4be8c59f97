/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Building and queueing segments: options, windows, zero-copy payload
 * (indirect mbufs over the send queue), checksums, and the send loop that
 * applies the peer's window, the congestion window and sender-side silly
 * window avoidance. Frames wait in the stack's TX ring for mg_tcp_tx_take.
 */
#include <string.h>

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_tcp.h>

#include "tcp_priv.h"

uint32_t tcp_tx_space(const struct mg_tcp_stack *s)
{
	return s->p.tx_ring_size - (s->tx_head - s->tx_tail);
}

uint16_t mg_tcp_tx_take(struct mg_tcp_stack *s, struct rte_mbuf **out, uint16_t n)
{
	uint16_t i = 0;

	while (i < n && s->tx_tail != s->tx_head)
		out[i++] = s->tx[s->tx_tail++ & (s->p.tx_ring_size - 1)];
	return i;
}

void tcp_pending_add(struct mg_tcp_stack *s, struct mg_tcp_conn *c)
{
	if (!(c->flags & (TF_ON_PENDING | TF_REAP))) {
		c->flags |= TF_ON_PENDING;
		TAILQ_INSERT_TAIL(&s->pending, c, pend_link);
	}
}

uint16_t tcp_eff_mss(const struct mg_tcp_conn *c)
{
	return (uint16_t)(c->mss - ((c->flags & TF_TS_OK) ? TCP_TS_LEN : 0));
}

/*
 * The window to advertise, in bytes: free receive buffer, zero under the
 * per-core memory bound, receiver-side SWS avoidance (RFC 9293 3.8.6.2.2),
 * never shrinking the right edge already advertised.
 */
uint32_t tcp_rcv_window(const struct mg_tcp_stack *s, const struct mg_tcp_conn *c)
{
	uint32_t space = c->rcvbuf > c->rcvq_bytes ? c->rcvbuf - c->rcvq_bytes : 0;
	uint32_t adv = SEQ_GT(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;

	if (mem_pressed(s))
		space = 0;
	if (space < RTE_MIN(c->rcvbuf / 2, (uint32_t)c->mss))
		space = 0;
	space = RTE_MIN(space, TCP_MAX_WIN << c->rcv_wscale);
	space &= ~((1u << c->rcv_wscale) - 1);
	return RTE_MAX(space, adv);
}

static uint8_t put_ts(uint8_t *o, const struct mg_tcp_stack *s,
		      const struct mg_tcp_conn *c, uint8_t i)
{
	uint32_t v = rte_cpu_to_be_32(ts_now(s, c)), e = rte_cpu_to_be_32(c->ts_recent);

	o[i++] = 8;
	o[i++] = 10;
	memcpy(o + i, &v, 4);
	memcpy(o + i + 4, &e, 4);
	return (uint8_t)(i + 8);
}

/* SYN options: MSS, SACK-permitted + TS, window scale (20 bytes at most). */
static uint8_t syn_options(const struct mg_tcp_stack *s, const struct mg_tcp_conn *c,
			   uint8_t *o, bool synack)
{
	uint16_t mss = rte_cpu_to_be_16((uint16_t)(s->p.ports[c->port].mtu - 40));
	bool ts = synack ? (c->flags & TF_TS_OK) : !(s->p.flags & MG_TCP_F_NO_TS);
	bool sack = synack ? (c->flags & TF_SACK_OK) : !(s->p.flags & MG_TCP_F_NO_SACK);
	bool ws = synack ? (c->flags & TF_WS_OK) : !(s->p.flags & MG_TCP_F_NO_WS);
	uint8_t i = 0;

	o[i++] = 2;
	o[i++] = 4;
	memcpy(o + i, &mss, 2);
	i += 2;
	if (sack) {
		o[i++] = ts ? 4 : 1;
		o[i++] = ts ? 2 : 1;
		if (!ts) {
			o[i++] = 4;
			o[i++] = 2;
		}
	}
	if (ts) {
		if (!sack) {
			o[i++] = 1;
			o[i++] = 1;
		}
		i = put_ts(o, s, c, i);
	}
	if (ws) {
		o[i++] = 1;
		o[i++] = 3;
		o[i++] = 3;
		o[i++] = c->rcv_wscale;
	}
	return i;
}

/* Options of a synchronized segment: TS, then SACK blocks as room allows. */
static uint8_t data_options(const struct mg_tcp_stack *s, const struct mg_tcp_conn *c,
			    uint8_t *o, uint8_t flags, uint32_t len)
{
	uint32_t blk[MG_TCP_SACK_MAX][2];
	uint8_t i = 0, n, max;

	if (c->flags & TF_TS_OK) {
		o[i++] = 1;
		o[i++] = 1;
		i = put_ts(o, s, c, i);
	}
	if (!(c->flags & TF_SACK_OK) || !c->ooo_head || (flags & TH_RST) || len)
		return i;
	max = (uint8_t)((TCP_OPT_MAX - i - 4) / 8);
	n = reass_sack_blocks(c, blk, RTE_MIN(max, (uint8_t)MG_TCP_SACK_MAX));
	if (!n)
		return i;
	o[i++] = 1;
	o[i++] = 1;
	o[i++] = 5;
	o[i++] = (uint8_t)(2 + 8 * n);
	for (uint8_t b = 0; b < n; b++) {
		uint32_t l = rte_cpu_to_be_32(blk[b][0]), r = rte_cpu_to_be_32(blk[b][1]);

		memcpy(o + i, &l, 4);
		memcpy(o + i + 4, &r, 4);
		i += 8;
	}
	return i;
}

/* Find the send-queue segment holding byte @p off of the queue. */
static struct rte_mbuf *sndq_seek(const struct mg_tcp_conn *c, uint32_t off, uint32_t *so)
{
	struct rte_mbuf *m = c->sndq_head;

	while (m && off >= m->data_len) {
		off -= m->data_len;
		m = m->next;
	}
	*so = off;
	return m;
}

static void copy_payload(const struct mg_tcp_conn *c, uint8_t *dst, uint32_t off,
			 uint32_t len)
{
	uint32_t so;
	struct rte_mbuf *m = sndq_seek(c, off, &so);

	while (len && m) {
		uint32_t n = RTE_MIN(len, m->data_len - so);

		memcpy(dst, rte_pktmbuf_mtod_offset(m, uint8_t *, so), n);
		dst += n;
		len -= n;
		so = 0;
		m = m->next;
	}
}

/* Chain indirect mbufs over the send queue behind header mbuf @p h. */
static bool chain_payload(struct mg_tcp_stack *s, const struct mg_tcp_conn *c,
			  struct rte_mbuf *h, uint32_t off, uint32_t len)
{
	uint32_t so;
	struct rte_mbuf *m = sndq_seek(c, off, &so), *tail = h;

	while (len && m) {
		uint16_t n = (uint16_t)RTE_MIN(len, (uint32_t)(m->data_len - so));
		struct rte_mbuf *mi = rte_pktmbuf_alloc(s->p.pool);

		if (!mi || h->nb_segs == RTE_MBUF_MAX_NB_SEGS) {
			rte_pktmbuf_free(mi);
			CTR(s, alloc_failures);
			return false;
		}
		rte_pktmbuf_attach(mi, m);
		mi->data_off = (uint16_t)(m->data_off + so);
		mi->data_len = n;
		mi->pkt_len = n;
		mi->nb_segs = 1;
		mi->next = NULL;
		tail->next = mi;
		tail = mi;
		h->nb_segs++;
		h->pkt_len += n;
		len -= n;
		so = 0;
		m = m->next;
	}
	return len == 0;
}

static void fill_headers(struct mg_tcp_stack *s, const struct mg_tcp_conn *c,
			 struct rte_mbuf *h, uint8_t *p, uint32_t seq, uint32_t len,
			 uint8_t flags, const uint8_t *opt, uint8_t optlen)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)p;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)(ip + 1);
	uint32_t wnd = 0;

	memcpy(&eth->dst_addr, c->peer_mac, 6);
	memcpy(&eth->src_addr, c->our_mac, 6);
	eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
	memset(ip, 0, sizeof(*ip));
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(20 + TCP_HDR_LEN + optlen + len));
	ip->packet_id = rte_cpu_to_be_16(s->ip_id++);
	ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG); /* PMTU discovery */
	ip->type_of_service = c->tos;
	ip->time_to_live = s->p.ttl;
	ip->next_proto_id = IPPROTO_TCP;
	ip->src_addr = c->key.lip;
	ip->dst_addr = c->key.rip;
	if (!(flags & TH_RST)) {
		wnd = tcp_rcv_window(s, c);
		/* The window of a SYN is never scaled (RFC 7323 2.2). */
		wnd = (flags & TH_SYN) ? RTE_MIN(wnd, TCP_MAX_WIN) : wnd >> c->rcv_wscale;
	}
	th->src_port = c->key.lport;
	th->dst_port = c->key.rport;
	th->sent_seq = rte_cpu_to_be_32(seq);
	th->recv_ack = (flags & TH_ACK) ? rte_cpu_to_be_32(c->rcv_nxt) : 0;
	th->data_off = (uint8_t)(((TCP_HDR_LEN + optlen) / 4) << 4);
	th->tcp_flags = flags;
	th->rx_win = rte_cpu_to_be_16((uint16_t)wnd);
	th->cksum = 0;
	th->tcp_urp = 0;
	memcpy(th + 1, opt, optlen);
	if (s->p.flags & MG_TCP_F_CSUM_OFFLOAD) {
		h->ol_flags = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_TCP_CKSUM;
		h->l2_len = sizeof(*eth);
		h->l3_len = sizeof(*ip);
		th->cksum = rte_ipv4_phdr_cksum(ip, h->ol_flags);
	}
}

/*
 * One's-complement sum of @p len bytes of chain @p m from byte @p off. Not
 * rte_raw_cksum_mbuf(): DPDK 22.11's truncates a segment's unreduced 32-bit
 * sum to 16 bits before the byte swap an odd start needs, so the carries are
 * lost and the checksum is wrong for some payloads (seen: a segment resent
 * for ever, dropped by the peer each time as a bad checksum).
 */
/* Fold a 32-bit one's-complement sum to 16 bits. */
static uint16_t cksum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static uint16_t chain_cksum(const struct rte_mbuf *m, uint32_t off, uint32_t len)
{
	uint32_t sum = 0, done = 0;

	for (; m && off >= m->data_len; m = m->next)
		off -= m->data_len;
	for (; m && done < len; m = m->next, off = 0) {
		uint32_t n = RTE_MIN((uint32_t)m->data_len - off, len - done);
		uint16_t part = rte_raw_cksum(rte_pktmbuf_mtod_offset(m, const void *, off), n);

		sum += (done & 1) ? rte_bswap16(part) : part;
		done += n;
	}
	return cksum_fold(sum);
}

static void finish_checksums(struct mg_tcp_stack *s, struct rte_mbuf *h)
{
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(h, struct rte_ipv4_hdr *, 14);
	struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)(ip + 1);

	if (s->p.flags & MG_TCP_F_CSUM_OFFLOAD)
		return;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	/* Over the whole chain: payload segments may start at odd offsets. */
	th->cksum = (uint16_t)~cksum_fold(
		(uint32_t)chain_cksum(h, 14 + sizeof(*ip), h->pkt_len - 14 - sizeof(*ip)) +
		rte_ipv4_phdr_cksum(ip, 0));
	if (th->cksum == 0)
		th->cksum = 0xffff;
}

/*
 * Build one segment of @p c: sequence @p seq, @p len payload bytes taken from
 * the send queue at seq - snd_buf_seq, @p flags. Sends nothing and returns
 * false when the TX ring is full or mbufs run out (the caller retries later).
 */
static bool emit(struct mg_tcp_stack *s, struct mg_tcp_conn *c, uint32_t seq, uint32_t len,
		 uint8_t flags)
{
	uint8_t opt[TCP_OPT_MAX], optlen;
	uint32_t copy;
	struct rte_mbuf *h;
	uint8_t *p;

	if (tcp_tx_space(s) == 0) {
		CTR(s, tx_ring_full);
		return false;
	}
	h = rte_pktmbuf_alloc(s->p.pool);
	if (!h) {
		CTR(s, alloc_failures);
		return false;
	}
	if (flags & TH_SYN)
		optlen = syn_options(s, c, opt, flags & TH_ACK);
	else if (flags & TH_RST)
		optlen = 0;
	else
		optlen = data_options(s, c, opt, flags, len);
	copy = len <= s->p.tx_copy_max ? len : 0;
	p = (uint8_t *)rte_pktmbuf_append(h, (uint16_t)(HDRS_LEN + optlen + copy));
	if (!p) {
		rte_pktmbuf_free(h);
		CTR(s, alloc_failures);
		return false;
	}
	fill_headers(s, c, h, p, seq, len, flags, opt, optlen);
	if (copy)
		copy_payload(c, p + HDRS_LEN + optlen, seq - c->snd_buf_seq, copy);
	else if (len && !chain_payload(s, c, h, seq - c->snd_buf_seq, len)) {
		rte_pktmbuf_free(h);
		return false;
	}
	finish_checksums(s, h);
	h->port = c->port;
	s->tx[s->tx_head++ & (s->p.tx_ring_size - 1)] = h;
	CTR(s, segs_out);
	if (flags & TH_ACK) {
		uint32_t right = c->rcv_nxt + (flags & TH_SYN ? RTE_MIN(tcp_rcv_window(s, c),
									TCP_MAX_WIN)
							      : tcp_rcv_window(s, c));

		c->last_ack_sent = c->rcv_nxt;
		if (SEQ_GT(right, c->rcv_adv))
			c->rcv_adv = right;
		c->flags &= ~(TF_ACK_NOW | TF_DELACK | TF_ACK_IMMED);
		c->t_delack = 0;
		c->unacked_segs = 0;
	}
	return true;
}

bool tcp_emit(struct mg_tcp_stack *s, struct mg_tcp_conn *c, uint32_t seq, uint32_t len,
	      uint8_t flags)
{
	enum mg_stage caller = mg_stage_switch(s->clock, MG_STAGE_TCP_OUT);
	bool sent = emit(s, c, seq, len, flags);

	mg_stage_switch(s->clock, caller);
	return sent;
}

void tcp_send_ack(struct mg_tcp_stack *s, struct mg_tcp_conn *c)
{
	if (tcp_emit(s, c, c->snd_nxt, 0, TH_ACK))
		CTR(s, acks_sent);
}

/*
 * A new epoch of the core's challenge-ACK budget: its length is drawn from
 * 0.5..1.5 s and its size from [limit/2, limit*3/2), so an observer cannot
 * line up with its edges nor learn how much of it others used by spending
 * the rest (as after CVE-2016-5696, where a fixed 1000 per fixed second
 * told an off-path attacker when his spoofed RSTs had hit a victim's window).
 */
static void chack_new_epoch(struct mg_tcp_stack *s)
{
	uint64_t r = isn_random(s);
	uint32_t limit = s->p.challenge_ack_limit, half = (limit + 1) / 2;

	s->chack_epoch_end = s->now + 500000 + (uint32_t)r % 1000000;
	s->chack_left = half + (uint32_t)((r >> 32) % limit);
}

/*
 * RFC 5961 section 7: challenge ACKs are rate limited, first per connection
 * (one per p.challenge_ack_gap, Linux's tcp_invalid_ratelimit), then by the
 * core's random budget. The per-connection limit comes first and a refused
 * one does not touch the budget: a connection asks for at most one per gap,
 * so one attacker's connection can neither drain the budget nor see in its
 * own count how much other connections took from it.
 */
void tcp_send_challenge_ack(struct mg_tcp_stack *s, struct mg_tcp_conn *c)
{
	if (s->now < c->chack_next) {
		CTR(s, challenge_acks_conn_limited);
		return;
	}
	c->chack_next = s->now + s->p.challenge_ack_gap;
	if (s->now >= s->chack_epoch_end)
		chack_new_epoch(s);
	if (s->chack_left == 0) {
		CTR(s, challenge_acks_global_limited);
		return;
	}
	s->chack_left--;
	CTR(s, challenge_acks);
	tcp_send_ack(s, c);
}

void tcp_send_syn(struct mg_tcp_stack *s, struct mg_tcp_conn *c)
{
	uint8_t flags = TH_SYN | (c->state == MG_TCP_SYN_SENT ? 0 : TH_ACK);

	tcp_emit(s, c, c->iss, 0, flags);
}

void tcp_send_rst(struct mg_tcp_stack *s, struct mg_tcp_conn *c)
{
	if (tcp_emit(s, c, c->snd_nxt, 0, TH_RST | TH_ACK))
		CTR(s, rst_sent);
}

/* RST for a segment that has no connection (RFC 9293 3.10.7.1). */
void tcp_send_rst_reply(struct mg_tcp_stack *s, const struct mg_tcp_key *k,
			const struct tcp_seg *g)
{
	struct mg_tcp_conn t;
	uint32_t seq = 0;
	uint8_t flags = TH_RST;

	if (g->flags & TH_RST)
		return;
	memset(&t, 0, sizeof(t));
	t.key = *k;
	t.port = g->port;
	memcpy(t.our_mac, g->dst_mac, 6);
	memcpy(t.peer_mac, g->src_mac, 6);
	if (g->flags & TH_ACK) {
		seq = g->ack;
	} else {
		t.rcv_nxt = g->seq + seg_seqlen(g);
		flags |= TH_ACK;
	}
	if (tcp_emit(s, &t, seq, 0, flags))
		CTR(s, rst_sent);
}

/* Keepalive: an old sequence number to draw an ACK. Persist: one byte past the
 * closed window, without moving SND.NXT (snd_max covers it for the ACK). */
void tcp_send_probe(struct mg_tcp_stack *s, struct mg_tcp_conn *c, bool keepalive)
{
	if (keepalive) {
		tcp_emit(s, c, c->snd_una - 1, 0, TH_ACK);
		CTR(s, keepalive_probes);
		return;
	}
	CTR(s, persist_probes);
	if (SEQ_LT(c->snd_una, c->snd_buf_seq + c->sndq_bytes)) {
		if (tcp_emit(s, c, c->snd_una, 1, TH_ACK) && SEQ_GT(c->snd_una + 1, c->snd_max))
			c->snd_max = c->snd_una + 1;
	} else {
		tcp_emit(s, c, c->snd_una - 1, 0, TH_ACK);
	}
}

static bool output_state(const struct mg_tcp_conn *c)
{
	switch (c->state) {
	case MG_TCP_ESTABLISHED:
	case MG_TCP_CLOSE_WAIT:
	case MG_TCP_FIN_WAIT_1:
	case MG_TCP_CLOSING:
	case MG_TCP_LAST_ACK:
		return true;
	default:
		return false;
	}
}

/* SACK recovery: resend one segment of the lowest unrepaired hole, if any. */
static bool repair_hole(struct mg_tcp_stack *s, struct mg_tcp_conn *c)
{
	uint32_t h = SEQ_MAX(c->rexmit_next, c->snd_una), end, top = 0, next = 0;
	uint32_t data_end = c->snd_buf_seq + c->sndq_bytes, len;
	bool any = false;

	while (sack_covers(c, h, &end))
		h = end;
	for (uint8_t i = 0; i < c->n_sack; i++) {
		if (!any || SEQ_GT(c->sack_blk[i][1], top))
			top = c->sack_blk[i][1];
		if (SEQ_GT(c->sack_blk[i][0], h) && (!next || SEQ_LT(c->sack_blk[i][0], next)))
			next = c->sack_blk[i][0];
		any = true;
	}
	if (!any || !SEQ_LT(h, top) || !next || !SEQ_LT(h, data_end))
		return false;
	len = RTE_MIN((uint32_t)tcp_eff_mss(c), RTE_MIN(next, data_end) - h);
	if (!len || !tcp_emit(s, c, h, len, TH_ACK))
		return false;
	c->rexmit_next = h + len;
	CTR(s, sack_rexmits);
	CTR(s, retransmits);
	CTR_ADD(s, retransmit_bytes, len);
	return true;
}

/* Resend one segment at @p seq (fast retransmit, NewReno partial ACK). */
void tcp_rexmit_one(struct mg_tcp_stack *s, struct mg_tcp_conn *c, uint32_t seq)
{
	uint32_t data_end = c->snd_buf_seq + c->sndq_bytes;
	uint32_t len = SEQ_LT(seq, data_end) ? RTE_MIN((uint32_t)tcp_eff_mss(c), data_end - seq)
					     : 0;
	bool fin = (c->flags & TF_FIN_SENT) && seq + len == data_end;

	if (!len && !fin)
		return;
	if (tcp_emit(s, c, seq, len, TH_ACK | (fin ? TH_FIN : 0))) {
		CTR(s, retransmits);
		CTR_ADD(s, retransmit_bytes, len);
		c->flags &= ~TF_TIMING; /* Karn: no sample across a retransmission */
	}
}

/* Bytes the congestion window still allows: RFC 6675 pipe in SACK recovery,
 * else the flight; plus up to two segments for RFC 3042 limited transmit. */
static uint32_t cwnd_left(const struct mg_tcp_conn *c)
{
	uint32_t in_net, cwnd = c->cwnd;

	if ((c->flags & (TF_RECOVERY | TF_SACK_OK)) == (TF_RECOVERY | TF_SACK_OK))
		in_net = sack_pipe(c);
	else
		in_net = c->snd_nxt - c->snd_una;
	if (!(c->flags & TF_RECOVERY) && c->dupacks && c->dupacks < 3)
		cwnd += c->dupacks * (uint32_t)tcp_eff_mss(c);
	return cwnd > in_net ? cwnd - in_net : 0;
}

/* One new-data (or FIN) segment at SND.NXT, if the windows allow. */
static int send_new(struct mg_tcp_stack *s, struct mg_tcp_conn *c)
{
	uint32_t data_end = c->snd_buf_seq + c->sndq_bytes;
	uint32_t out = c->snd_nxt - c->snd_una;
	uint32_t avail = SEQ_LT(c->snd_nxt, data_end) ? data_end - c->snd_nxt : 0;
	uint32_t rwnd_left = c->snd_wnd > out ? c->snd_wnd - out : 0;
	uint32_t mss = tcp_eff_mss(c);
	uint32_t len = RTE_MIN(RTE_MIN(avail, RTE_MIN(rwnd_left, cwnd_left(c))), mss);
	bool fin = (c->flags & TF_FIN_QUEUED) && c->snd_nxt + len == data_end;
	uint8_t flags;

	if (!len && !fin)
		return 0;
	/* Sender SWS avoidance (RFC 9293 3.8.6.2.1): hold a runt while data is
	 * in flight; the next ACK brings us back here. */
	if (len < mss && len < avail && out && len < c->max_sndwnd / 2)
		return 0;
	flags = TH_ACK | (fin ? TH_FIN : 0) | (len && len == avail ? TH_PSH : 0);
	if (!tcp_emit(s, c, c->snd_nxt, len, flags))
		return -1;
	if (SEQ_LT(c->snd_nxt, c->snd_max)) {
		CTR(s, retransmits);
		CTR_ADD(s, retransmit_bytes, len);
	} else {
		CTR_ADD(s, bytes_out, len);
		if (!(c->flags & TF_TIMING) && len) {
			c->flags |= TF_TIMING;
			c->rtt_seq = c->snd_nxt;
			c->rtt_start = s->now;
		}
	}
	c->snd_nxt += len + fin;
	if (fin)
		c->flags |= TF_FIN_SENT;
	if (SEQ_GT(c->snd_nxt, c->snd_max))
		c->snd_max = c->snd_nxt;
	if (!c->t_rexmt || (c->flags & TF_PERSIST))
		timer_rexmt_arm(s, c);
	return 1;
}

void tcp_output(struct mg_tcp_stack *s, struct mg_tcp_conn *c)
{
	uint32_t budget = s->p.output_budget;
	bool sent = false, sack_rec = (c->flags & (TF_RECOVERY | TF_SACK_OK)) ==
				      (TF_RECOVERY | TF_SACK_OK);

	if (!output_state(c)) {
		if ((c->flags & TF_ACK_NOW) && c->state != MG_TCP_CLOSED &&
		    c->state != MG_TCP_SYN_SENT && c->state != MG_TCP_LISTEN)
			tcp_send_ack(s, c);
		return;
	}
	while (budget) {
		int r;

		if (tcp_tx_space(s) == 0) {
			tcp_pending_add(s, c);
			break;
		}
		/* In SACK recovery the holes go first, while the pipe allows. */
		if (sack_rec && cwnd_left(c) >= tcp_eff_mss(c) && repair_hole(s, c)) {
			budget--;
			sent = true;
			continue;
		}
		r = send_new(s, c);
		if (r < 0)
			tcp_pending_add(s, c);
		if (r <= 0)
			break;
		budget--;
		sent = true;
	}
	if (!budget)
		tcp_pending_add(s, c); /* more may be sendable: continue next loop */
	if (!sent && (c->flags & TF_ACK_NOW))
		tcp_send_ack(s, c);
	/* Window closed with data waiting and nothing in flight: probe it. */
	if (c->snd_wnd == 0 && c->snd_nxt == c->snd_una &&
	    SEQ_LT(c->snd_una, c->snd_buf_seq + c->sndq_bytes) && !c->t_rexmt)
		timer_persist_arm(s, c);
	timer_sched(s, c);
}

bool mg_tcp_icmp_frag_needed(struct mg_tcp_stack *s, const uint8_t *inner, uint32_t len,
			     uint16_t next_mtu, uint64_t now)
{
	const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)inner;
	const struct rte_tcp_hdr *th;
	struct mg_tcp_key k;
	struct mg_tcp_conn *c;
	uint32_t ihl, seq;
	uint16_t mss;

	s->now = now;
	if (len < 20 || (ip->version_ihl >> 4) != 4 || ip->next_proto_id != IPPROTO_TCP)
		goto ignore;
	ihl = (ip->version_ihl & 0xf) * 4u;
	if (ihl < 20 || len < ihl + 8)
		goto ignore;
	th = (const struct rte_tcp_hdr *)(inner + ihl);
	/* The quoted segment is one we sent: source is us. */
	k.lip = ip->src_addr;
	k.rip = ip->dst_addr;
	k.lport = th->src_port;
	k.rport = th->dst_port;
	c = mg_tcp_lookup(s, &k);
	seq = rte_be_to_cpu_32(th->sent_seq);
	if (!c || SEQ_LT(seq, c->snd_una) || SEQ_GEQ(seq, c->snd_max) ||
	    c->state < MG_TCP_ESTABLISHED)
		goto ignore;
	mss = (uint16_t)(RTE_MAX(next_mtu, (uint16_t)576) - 40);
	if (mss >= c->mss)
		return false;
	c->mss = mss;
	c->snd_nxt = c->snd_una; /* resend what the router dropped, no backoff */
	c->flags &= ~TF_TIMING;
	CTR(s, pmtu_updates);
	tcp_output(s, c);
	conn_deliver(s);
	return true;
ignore:
	CTR(s, icmp_ignored);
	return false;
}
