/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Segment arrival, in the order of RFC 9293 section 3.10.7: no connection,
 * LISTEN (with SYN cookies past the backlog), SYN-SENT, then the synchronized
 * states: PAWS (RFC 7323), sequence acceptability, RST and SYN with the
 * RFC 5961 protections, ACK (RFC 5961 5.2 bound, window update, recovery),
 * data with reassembly, FIN. Every drop lands in a counter.
 */
#include <string.h>

#include <rte_ether.h>
#include <rte_tcp.h>

#include "tcp_priv.h"

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * Options (RFC 9293 3.1, MUST-4..7): EOL, NOP, and kinds with a length byte.
 * A length that is short, too long for its kind, or runs past the header
 * makes the segment malformed; unknown kinds are skipped. MSS, window scale
 * and SACK-permitted count only on a SYN.
 */
static bool parse_opts(const uint8_t *p, uint32_t len, bool syn, struct tcp_opts *o)
{
	uint32_t i = 0;

	memset(o, 0, sizeof(*o));
	while (i < len) {
		uint8_t kind = p[i], olen;

		if (kind == 0)
			break;
		if (kind == 1) {
			i++;
			continue;
		}
		if (i + 1 >= len)
			return false;
		olen = p[i + 1];
		if (olen < 2 || i + olen > len)
			return false;
		switch (kind) {
		case 2:
			if (olen != 4)
				return false;
			if (syn) {
				o->mss_ok = true;
				o->mss = (uint16_t)(p[i + 2] << 8 | p[i + 3]);
			}
			break;
		case 3:
			if (olen != 3)
				return false;
			if (syn) {
				o->ws_ok = true;
				/* RFC 7323 2.3: a shift above 14 is used as 14. */
				o->ws = RTE_MIN(p[i + 2], (uint8_t)TCP_MAX_WSCALE);
			}
			break;
		case 4:
			if (olen != 2)
				return false;
			if (syn)
				o->sack_perm = true;
			break;
		case 5:
			if (olen < 10 || (olen - 2) % 8)
				return false;
			o->n_sack = 0;
			for (uint32_t b = 0; b < (olen - 2u) / 8 && b < 4; b++) {
				o->sack[b][0] = be32(p + i + 2 + 8 * b);
				o->sack[b][1] = be32(p + i + 6 + 8 * b);
				o->n_sack++;
			}
			break;
		case 8:
			if (olen != 10)
				return false;
			o->ts_ok = true;
			o->tsval = be32(p + i + 2);
			o->tsecr = be32(p + i + 6);
			break;
		default:
			break;
		}
		i += olen;
	}
	return true;
}

/* Negotiate from the peer's SYN options: each feature needs both sides. */
static void apply_syn_opts(struct mg_tcp_stack *s, struct mg_tcp_conn *c,
			   const struct tcp_opts *o)
{
	uint16_t ours = (uint16_t)(s->p.ports[c->port].mtu - 40);

	/* RFC 9293 3.7.1: no MSS option means 536; tiny values are floored. */
	c->mss = o->mss_ok ? RTE_MAX(RTE_MIN(o->mss, ours), (uint16_t)64) : TCP_DEFAULT_MSS;
	if (o->ws_ok && !(s->p.flags & MG_TCP_F_NO_WS)) {
		c->flags |= TF_WS_OK;
		c->snd_wscale = o->ws;
	} else {
		c->snd_wscale = 0;
		c->rcv_wscale = 0;
	}
	if (o->sack_perm && !(s->p.flags & MG_TCP_F_NO_SACK))
		c->flags |= TF_SACK_OK;
	if (o->ts_ok && !(s->p.flags & MG_TCP_F_NO_TS)) {
		c->flags |= TF_TS_OK;
		c->ts_recent = o->tsval;
	}
	/* Options take room in every segment: keep at least 64 payload bytes. */
	if (c->mss < 64 + TCP_TS_LEN)
		c->flags &= ~TF_TS_OK;
}

static void init_passive(struct mg_tcp_stack *s, struct mg_tcp_conn *c,
			 const struct tcp_seg *g)
{
	c->port = g->port;
	memcpy(c->our_mac, g->dst_mac, 6);
	memcpy(c->peer_mac, g->src_mac, 6);
	c->flags |= TF_PASSIVE;
	c->irs = g->seq;
	c->rcv_nxt = g->seq + 1;
	c->rcv_adv = c->rcv_nxt;
	apply_syn_opts(s, c, &g->o);
	c->snd_wnd = g->wnd; /* SYN windows are not scaled */
	c->max_sndwnd = c->snd_wnd;
	c->snd_wl1 = g->seq;
	c->last_rx = s->now;
}

/*
 * A SYN-ACK whose ISN is a cookie; no state is kept (RFC 4987 3.6). The SYN
 * queue overflowed: for p.syncookie_valid from now, ACKs to the listener are
 * tried as cookies (Linux: tcp_synq_overflow).
 */
static void send_cookie(struct mg_tcp_stack *s, struct mg_tcp_listener *l,
			const struct mg_tcp_key *k, const struct tcp_seg *g)
{
	struct mg_tcp_conn t;

	l->cookies_until = s->now + s->p.syncookie_valid;
	memset(&t, 0, sizeof(t));
	t.key = *k;
	conn_init_from_port(s, &t);
	init_passive(s, &t, g);
	t.state = MG_TCP_SYN_RCVD;
	t.iss = cookie_make(s, k, g->seq, t.mss, (t.flags & TF_WS_OK) ? t.snd_wscale : 15,
			    t.flags & TF_SACK_OK);
	if (tcp_emit(s, &t, t.iss, 0, TH_SYN | TH_ACK))
		CTR(s, syncookies_sent);
}

static void conn_input(struct mg_tcp_stack *s, struct mg_tcp_conn *c, struct tcp_seg *g);

/* The third ACK of a handshake answered with a cookie. */
static void cookie_ack(struct mg_tcp_stack *s, int li, const struct mg_tcp_key *k,
		       struct tcp_seg *g)
{
	struct mg_tcp_listener *l = &s->listeners[li];
	struct mg_tcp_conn *c;
	uint16_t mss;
	uint8_t ws;
	bool sack;

	/*
	 * Only while cookies may be out: a cookie has 21 MAC bits, so trying every
	 * stray ACK would let about one in 5.6 M random ones open a connection
	 * from a spoofed source. The window covers a third ACK that is late or
	 * lost and repaired by the client's first data segment (its RTO backs
	 * off to tens of seconds); 2 minutes, as Linux (tcp_synq_no_recent_overflow),
	 * and a cookie's own age bound (128..192 s) is longer, so this is the
	 * bound that holds.
	 */
	if (s->now >= l->cookies_until) {
		CTR(s, syncookies_ignored);
		DROP(s, SYNCOOKIE_NO_OVERFLOW);
		tcp_send_rst_reply(s, k, g);
		return;
	}
	if (!cookie_check(s, k, g->seq - 1, g->ack - 1, &mss, &ws, &sack)) {
		CTR(s, syncookies_failed);
		DROP(s, SYNCOOKIE_BAD);
		tcp_send_rst_reply(s, k, g);
		return;
	}
	c = conn_alloc(s, k);
	if (!c) {
		DROP(s, CONN_TABLE_FULL);
		return;
	}
	CTR(s, syncookies_validated);
	c->port = g->port;
	memcpy(c->our_mac, g->dst_mac, 6);
	memcpy(c->peer_mac, g->src_mac, 6);
	c->flags |= TF_PASSIVE;
	c->irs = g->seq - 1;
	c->rcv_nxt = g->seq;
	c->rcv_adv = c->rcv_nxt;
	c->iss = g->ack - 1;
	c->snd_una = c->snd_nxt = c->snd_max = c->snd_buf_seq = g->ack;
	c->recover = c->iss;
	c->mss = RTE_MIN(mss, (uint16_t)(s->p.ports[c->port].mtu - 40));
	if (ws != 15 && !(s->p.flags & MG_TCP_F_NO_WS)) {
		c->flags |= TF_WS_OK;
		c->snd_wscale = ws;
	} else {
		c->snd_wscale = c->rcv_wscale = 0;
	}
	if (sack && !(s->p.flags & MG_TCP_F_NO_SACK))
		c->flags |= TF_SACK_OK;
	if (g->o.ts_ok && !(s->p.flags & MG_TCP_F_NO_TS)) {
		c->flags |= TF_TS_OK;
		c->ts_recent = g->o.tsval;
	}
	c->snd_wnd = (uint32_t)g->wnd << c->snd_wscale;
	c->max_sndwnd = c->snd_wnd;
	c->snd_wl1 = g->seq;
	c->snd_wl2 = g->ack;
	c->listener = (int16_t)li;
	c->ops = l->ops;
	c->last_rx = s->now;
	cc_init(s, c);
	conn_set_state(s, c, MG_TCP_ESTABLISHED);
	CTR(s, passive_opens);
	c->flags |= TF_ACCEPT;
	conn_event(s, c, 0);
	timer_keep_arm(s, c);
	conn_input(s, c, g); /* the ACK may carry data */
}

/* @p iss_floor: 0, or the lowest ISN allowed (a TIME-WAIT tuple taken over). */
static void listen_input(struct mg_tcp_stack *s, int li, const struct mg_tcp_key *k,
			 struct tcp_seg *g, uint32_t iss_floor)
{
	struct mg_tcp_listener *l = &s->listeners[li];
	struct mg_tcp_conn *c;

	if (g->flags & TH_RST) {
		DROP(s, LISTEN_RST);
		return;
	}
	if (g->flags & TH_ACK) {
		/* Any ACK to a listener is bad (RFC 9293 3.10.7.2) unless it
		 * returns one of our SYN cookies. */
		if (!(g->flags & TH_SYN)) {
			cookie_ack(s, li, k, g);
			return;
		}
		DROP(s, LISTEN_NOT_SYN);
		tcp_send_rst_reply(s, k, g);
		return;
	}
	if (!(g->flags & TH_SYN)) {
		DROP(s, LISTEN_NOT_SYN);
		return;
	}
	if (g->len)
		DROP(s, SYN_DATA); /* not queued: the peer sends it again */
	if (l->embryonic >= l->backlog) {
		CTR(s, backlog_bound_hits);
		send_cookie(s, l, k, g);
		return;
	}
	c = conn_alloc(s, k);
	if (!c) {
		send_cookie(s, l, k, g); /* table full: stay stateless */
		return;
	}
	init_passive(s, c, g);
	c->listener = (int16_t)li;
	c->ops = l->ops;
	c->iss = isn_generate(s, k);
	if (iss_floor && SEQ_LT(c->iss, iss_floor))
		c->iss = iss_floor; /* RFC 1122 4.2.2.13: above the old incarnation's */
	c->snd_una = c->iss;
	c->snd_nxt = c->snd_max = c->snd_buf_seq = c->iss + 1;
	c->recover = c->iss;
	cc_init(s, c);
	conn_set_state(s, c, MG_TCP_SYN_RCVD);
	l->embryonic++;
	c->rtt_seq = c->iss;
	c->rtt_start = s->now;
	c->flags |= TF_TIMING;
	if (s->p.handshake_timeout)
		c->t_misc = s->now + s->p.handshake_timeout;
	tcp_send_syn(s, c);
	timer_rexmt_arm(s, c);
	timer_sched(s, c);
}

static void no_conn_input(struct mg_tcp_stack *s, const struct mg_tcp_key *k,
			  struct tcp_seg *g, uint32_t iss_floor)
{
	int li = conn_listener_find(s, k->lip, k->lport);

	if (li >= 0) {
		listen_input(s, li, k, g, iss_floor);
		return;
	}
	DROP(s, NO_CONN);
	tcp_send_rst_reply(s, k, g);
}

static void established(struct mg_tcp_stack *s, struct mg_tcp_conn *c)
{
	bool fin = c->flags & TF_FIN_QUEUED;

	if (c->state == MG_TCP_SYN_RCVD && (c->flags & TF_PASSIVE) && c->listener >= 0 &&
	    s->listeners[c->listener].embryonic > 0)
		s->listeners[c->listener].embryonic--;
	conn_set_state(s, c, fin ? MG_TCP_FIN_WAIT_1 : MG_TCP_ESTABLISHED);
	/* RFC 6298 5.7: a handshake that needed a retransmission and gave no
	 * sample (Karn) starts data transfer with an RTO of 3 s. */
	if (c->retries && !c->srtt)
		c->rto = RTE_MIN(RTE_MAX(c->rto, 3000000u), s->p.rto_max);
	c->retries = 0;
	c->backoff = 0;
	c->t_misc = 0; /* the handshake deadline */
	if (c->flags & TF_PASSIVE) {
		CTR(s, passive_opens);
		c->flags |= TF_ACCEPT;
		conn_event(s, c, 0);
	} else {
		conn_event(s, c, MG_TCP_EV_CONNECTED);
	}
	timer_keep_arm(s, c);
}

static void syn_sent_input(struct mg_tcp_stack *s, struct mg_tcp_conn *c, struct tcp_seg *g)
{
	bool ack = g->flags & TH_ACK;

	if (ack && (SEQ_LEQ(g->ack, c->iss) || SEQ_GT(g->ack, c->snd_max))) {
		DROP(s, SYN_SENT_BAD_ACK);
		tcp_send_rst_reply(s, &c->key, g);
		return;
	}
	if (g->flags & TH_RST) {
		if (!ack) {
			DROP(s, SYN_SENT_RST);
			return;
		}
		CTR(s, rst_recv);
		conn_close(s, c, MG_TCP_CLOSE_REFUSED);
		return;
	}
	if (!(g->flags & TH_SYN)) {
		DROP(s, SYN_SENT_NO_SYN);
		return;
	}
	c->irs = g->seq;
	c->rcv_nxt = g->seq + 1;
	c->rcv_adv = c->rcv_nxt;
	apply_syn_opts(s, c, &g->o);
	cc_init(s, c);
	c->snd_wnd = g->wnd;
	c->max_sndwnd = c->snd_wnd;
	c->snd_wl1 = g->seq;
	if (g->len)
		DROP(s, SYN_DATA);
	if (!ack) { /* simultaneous open (RFC 9293 figure 7) */
		conn_set_state(s, c, MG_TCP_SYN_RCVD);
		c->flags &= ~TF_TIMING;
		tcp_send_syn(s, c);
		timer_rexmt_arm(s, c);
		timer_sched(s, c);
		return;
	}
	c->snd_wl2 = g->ack;
	c->snd_una = g->ack;
	if ((c->flags & TF_TIMING) && SEQ_GT(g->ack, c->rtt_seq)) {
		timer_rtt_sample(s, c, (uint32_t)(s->now - c->rtt_start));
		c->flags &= ~TF_TIMING;
	}
	c->t_rexmt = 0;
	established(s, c);
	c->flags |= TF_ACK_NOW;
	tcp_output(s, c);
}

/* RFC 9293 3.10.7.4, first check: the four cases of segment acceptability. */
static bool seq_acceptable(const struct mg_tcp_stack *s, const struct mg_tcp_conn *c,
			   const struct tcp_seg *g)
{
	uint32_t wnd = tcp_rcv_window(s, c), len = seg_seqlen(g);

	if (len == 0) {
		if (wnd == 0)
			return g->seq == c->rcv_nxt;
		return SEQ_GEQ(g->seq, c->rcv_nxt) && SEQ_LT(g->seq, c->rcv_nxt + wnd);
	}
	/* Zero window: data is not acceptable, but its ACK, RST and window are
	 * ("special allowance", RFC 9293 3.10.7.4); data_input trims it all. */
	if (wnd == 0)
		return g->seq == c->rcv_nxt;
	return (SEQ_GEQ(g->seq, c->rcv_nxt) && SEQ_LT(g->seq, c->rcv_nxt + wnd)) ||
	       (SEQ_GEQ(g->seq + len - 1, c->rcv_nxt) &&
		SEQ_LT(g->seq + len - 1, c->rcv_nxt + wnd));
}

/* After SND.UNA moved: the send queue, RTT, congestion window, timers. */
static void ack_advance(struct mg_tcp_stack *s, struct mg_tcp_conn *c, uint32_t ack)
{
	uint32_t acked = ack - c->snd_una;

	if ((c->flags & TF_TIMING) && SEQ_GT(ack, c->rtt_seq)) {
		timer_rtt_sample(s, c, (uint32_t)(s->now - c->rtt_start));
		c->flags &= ~TF_TIMING;
	}
	if (SEQ_GT(ack, c->snd_buf_seq))
		conn_sndq_ack(s, c, RTE_MIN(ack - c->snd_buf_seq, c->sndq_bytes));
	c->snd_una = ack;
	c->flags &= ~TF_TLP_SENT;
	if (SEQ_LT(c->snd_nxt, ack))
		c->snd_nxt = ack;
	c->retries = 0;
	sack_prune(c);
	cc_partial_or_full_ack(s, c, acked);
	if (c->snd_una == c->snd_max) {
		c->t_rexmt = 0;
		c->flags &= ~(TF_PERSIST | TF_TLP);
	} else if (!(c->flags & TF_PERSIST)) {
		timer_rexmt_arm(s, c);
	}
	if ((c->flags & TF_WANT_WRITE) &&
	    sndbuf_half_free(c)) {
		c->flags &= ~TF_WANT_WRITE;
		conn_event(s, c, MG_TCP_EV_WRITABLE);
	}
}

/* Our FIN is acknowledged when SND.UNA passed it. */
static bool fin_acked(const struct mg_tcp_conn *c)
{
	return (c->flags & TF_FIN_SENT) && c->snd_una == c->snd_max &&
	       c->snd_una == c->snd_buf_seq + c->sndq_bytes + 1;
}

/* RFC 9293 3.10.7.4, fifth check. Returns false when the segment is done. */
static bool ack_input(struct mg_tcp_stack *s, struct mg_tcp_conn *c, struct tcp_seg *g)
{
	uint32_t wnd = (uint32_t)g->wnd << c->snd_wscale;

	if (SEQ_GT(g->ack, c->snd_max)) {
		DROP(s, ACK_UNSENT);
		tcp_send_ack(s, c);
		return false;
	}
	/* RFC 5961 5.2: an ACK older than the largest window the peer has seen is
	 * likely blind injection. */
	if (SEQ_LT(g->ack, c->snd_una - c->max_sndwnd)) {
		DROP(s, ACK_TOO_OLD);
		tcp_send_challenge_ack(s, c);
		return false;
	}
	if ((c->flags & TF_SACK_OK) && g->o.n_sack)
		sack_update(c, &g->o);
	if (SEQ_GT(g->ack, c->snd_una))
		ack_advance(s, c, g->ack);
	else if (g->ack == c->snd_una && g->len == 0 && !(g->flags & (TH_SYN | TH_FIN)) &&
		 c->snd_una != c->snd_max && wnd == c->snd_wnd && wnd != 0)
		cc_dupack(s, c);
	if (SEQ_LT(c->snd_wl1, g->seq) ||
	    (c->snd_wl1 == g->seq && SEQ_LEQ(c->snd_wl2, g->ack))) {
		c->snd_wnd = wnd;
		c->snd_wl1 = g->seq;
		c->snd_wl2 = g->ack;
		c->max_sndwnd = RTE_MAX(c->max_sndwnd, wnd);
		if (wnd)
			c->zwnd_since = 0;
		if (wnd && (c->flags & TF_PERSIST)) { /* window open: stop probing */
			c->t_rexmt = 0;
			c->flags &= ~(TF_PERSIST | TF_TLP);
			c->backoff = 0;
			if (c->snd_una != c->snd_max)
				timer_rexmt_arm(s, c);
		}
	}
	if (!fin_acked(c))
		return true;
	switch (c->state) {
	case MG_TCP_FIN_WAIT_1:
		conn_set_state(s, c, MG_TCP_FIN_WAIT_2);
		if (c->flags & TF_DETACHED)
			c->t_misc = s->now + s->p.fin_wait2;
		break;
	case MG_TCP_CLOSING:
		conn_enter_time_wait(s, c);
		break;
	case MG_TCP_LAST_ACK:
		conn_close(s, c, MG_TCP_CLOSE_NORMAL);
		return false;
	default:
		break;
	}
	return true;
}

static void fin_input(struct mg_tcp_stack *s, struct mg_tcp_conn *c)
{
	c->rcv_nxt++;
	c->flags = (c->flags & ~TF_RFIN) | TF_PEER_FIN | TF_ACK_NOW | TF_ACK_IMMED;
	conn_event(s, c, MG_TCP_EV_PEER_FIN);
	switch (c->state) {
	case MG_TCP_ESTABLISHED:
		conn_set_state(s, c, MG_TCP_CLOSE_WAIT);
		break;
	case MG_TCP_FIN_WAIT_1:
		conn_set_state(s, c, MG_TCP_CLOSING);
		break;
	case MG_TCP_FIN_WAIT_2:
		conn_enter_time_wait(s, c);
		break;
	default:
		break;
	}
}

/* In-order data: queue, pull what reassembly now reaches, decide the ACK. */
static void data_in_order(struct mg_tcp_stack *s, struct mg_tcp_conn *c, struct tcp_seg *g,
			  uint32_t len)
{
	/* rcvq_append makes room from out-of-order data first (tcp_reass.c). */
	if (!rcvq_append(s, c, g->m)) {
		DROP(s, RCVBUF);
		c->flags |= TF_ACK_NOW | TF_ACK_IMMED;
		return;
	}
	g->m = NULL;
	c->rcv_nxt += len;
	CTR_ADD(s, bytes_in, len);
	if (c->ooo_head) {
		CTR_ADD(s, bytes_in, reass_pull(s, c));
		c->flags |= TF_ACK_NOW | TF_ACK_IMMED; /* a hole filled: tell the sender now */
	}
	conn_event(s, c, MG_TCP_EV_READABLE);
	/* Delayed ACK (RFC 9293 3.8.6.3): at least every second full segment. */
	if (++c->unacked_segs >= 2 || (g->flags & TH_PSH && c->unacked_segs >= 2))
		c->flags |= TF_ACK_NOW;
	else
		c->flags |= TF_DELACK;
}

/* RFC 9293 3.10.7.4, seventh and eighth checks: segment text and FIN. */
static void data_input(struct mg_tcp_stack *s, struct mg_tcp_conn *c, struct tcp_seg *g)
{
	uint32_t seq = g->seq, len = g->len, wnd;
	bool fin = g->flags & TH_FIN;

	if (c->state != MG_TCP_ESTABLISHED && c->state != MG_TCP_FIN_WAIT_1 &&
	    c->state != MG_TCP_FIN_WAIT_2) {
		if (len)
			DROP(s, DATA_AFTER_FIN);
		if (fin || len)
			c->flags |= TF_ACK_NOW | TF_ACK_IMMED; /* e.g. a retransmitted FIN */
		if (fin && c->state == MG_TCP_TIME_WAIT)
			conn_enter_time_wait(s, c); /* restart 2 MSL */
		return;
	}
	if (len && (c->flags & TF_DETACHED) && SEQ_GT(seq + len, c->rcv_nxt)) {
		/* Nobody will read it: tell the peer at once (RFC 9293 3.10.4). */
		DROP(s, DATA_AFTER_CLOSE);
		tcp_send_rst(s, c);
		conn_close(s, c, MG_TCP_CLOSE_DATA_AFTER_CLOSE);
		return;
	}
	if (SEQ_LT(seq, c->rcv_nxt)) {
		uint32_t d = RTE_MIN(c->rcv_nxt - seq, len);

		CTR_ADD(s, dup_bytes, d);
		if (d)
			rte_pktmbuf_adj(g->m, (uint16_t)d);
		if (fin && SEQ_LT(seq + len, c->rcv_nxt))
			fin = false; /* a FIN we already took */
		seq += d;
		len -= d;
		c->flags |= TF_ACK_NOW | TF_ACK_IMMED;
	}
	wnd = tcp_rcv_window(s, c);
	if (len && SEQ_GT(seq + len, c->rcv_nxt + wnd)) {
		uint32_t cut = RTE_MIN(seq + len - (c->rcv_nxt + wnd), len);

		CTR(s, rcvbuf_bound_hits);
		rte_pktmbuf_trim(g->m, (uint16_t)cut);
		len -= cut;
		fin = false;
		c->flags |= TF_ACK_NOW | TF_ACK_IMMED;
	}
	if (len && seq == c->rcv_nxt) {
		data_in_order(s, c, g, len);
	} else if (len) {
		g->seq = seq;
		reass_insert(s, c, g);
		c->flags |= TF_ACK_NOW | TF_ACK_IMMED; /* out of order: duplicate ACK with SACK at once */
	} else if (g->len) {
		DROP(s, DUPLICATE);
	}
	if (fin && SEQ_GT(seq + len, c->rcv_nxt)) {
		c->flags |= TF_RFIN | TF_ACK_NOW | TF_ACK_IMMED;
		c->rcv_fin = seq + len;
	} else if (fin) {
		fin_input(s, c);
	}
	if ((c->flags & TF_RFIN) && c->rcv_nxt == c->rcv_fin && !(c->flags & TF_PEER_FIN))
		fin_input(s, c);
}

/* RFC 7323 5.3 R1 (PAWS) and 4.3 (TS.Recent update); false: drop. */
static bool ts_input(struct mg_tcp_stack *s, struct mg_tcp_conn *c, const struct tcp_seg *g)
{
	if (!(c->flags & TF_TS_OK) || (g->flags & TH_RST))
		return true;
	if (!g->o.ts_ok) {
		DROP(s, NO_TIMESTAMP); /* RFC 7323 3.2: SHOULD drop */
		return false;
	}
	if (SEQ_LT(g->o.tsval, c->ts_recent)) {
		DROP(s, PAWS);
		tcp_send_ack(s, c);
		return false;
	}
	return true;
}

static void conn_input(struct mg_tcp_stack *s, struct mg_tcp_conn *c, struct tcp_seg *g)
{
	c->last_rx = s->now;
	c->keep_probes = 0;
	if (c->state == MG_TCP_SYN_SENT) {
		syn_sent_input(s, c, g);
		return;
	}
	if (!ts_input(s, c, g))
		return;
	if (!seq_acceptable(s, c, g)) {
		DROP(s, NOT_ACCEPTABLE);
		if (g->flags & TH_RST)
			return;
		/* Passive: the peer repeats its SYN, our SYN-ACK was lost. (In a
		 * simultaneous open the peer's SYN-ACK gets the plain ACK.) */
		if (c->state == MG_TCP_SYN_RCVD && (c->flags & TF_PASSIVE) &&
		    (g->flags & TH_SYN) && g->seq == c->irs)
			tcp_send_syn(s, c);
		else
			tcp_send_ack(s, c);
		return;
	}
	if ((c->flags & TF_TS_OK) && g->o.ts_ok && SEQ_LEQ(g->seq, c->last_ack_sent) &&
	    SEQ_GEQ(g->o.tsval, c->ts_recent))
		c->ts_recent = g->o.tsval;
	if (g->flags & TH_RST) {
		/* RFC 5961 3.2: only an RST exactly at RCV.NXT resets. */
		if (g->seq != c->rcv_nxt) {
			DROP(s, RST_NOT_EXACT);
			tcp_send_challenge_ack(s, c);
			return;
		}
		if (c->state == MG_TCP_TIME_WAIT) {
			DROP(s, RST_TIME_WAIT); /* RFC 1337: no TIME-WAIT assassination */
			return;
		}
		CTR(s, rst_recv);
		conn_close(s, c, c->state == MG_TCP_SYN_RCVD && !(c->flags & TF_PASSIVE)
					 ? MG_TCP_CLOSE_REFUSED : MG_TCP_CLOSE_RESET);
		return;
	}
	if (g->flags & TH_SYN) {
		/* RFC 5961 4.2: any SYN here gets a challenge ACK, never a reset. */
		DROP(s, SYN_IN_WINDOW);
		tcp_send_challenge_ack(s, c);
		return;
	}
	if (!(g->flags & TH_ACK)) {
		DROP(s, NO_ACK);
		return;
	}
	if (c->state == MG_TCP_SYN_RCVD) {
		if (!SEQ_GT(g->ack, c->snd_una) || SEQ_GT(g->ack, c->snd_max)) {
			DROP(s, SYN_RCVD_BAD_ACK);
			tcp_send_rst_reply(s, &c->key, g);
			return;
		}
		c->snd_wnd = (uint32_t)g->wnd << c->snd_wscale;
		c->max_sndwnd = c->snd_wnd;
		c->snd_wl1 = g->seq;
		c->snd_wl2 = g->ack;
		established(s, c);
	}
	if (!ack_input(s, c, g))
		return;
	if (g->len || (g->flags & TH_FIN))
		data_input(s, c, g);
	if (c->flags & TF_REAP)
		return;
	/* Out-of-order news goes back at once (RFC 5681 4.2); the rest waits for
	 * the end of the burst so one ACK covers all of it (MUST-58, MUST-59). */
	if (c->flags & TF_ACK_IMMED)
		tcp_output(s, c);
	else
		tcp_pending_add(s, c);
	if ((c->flags & TF_DELACK) && !c->t_delack) {
		c->t_delack = s->now + s->p.delack;
		timer_sched(s, c);
	}
	conn_time_wait_compact(s, c); /* closed by the app and now in TIME-WAIT */
}

/* RFC 6191: a SYN may reuse a TIME-WAIT tuple if it is clearly newer. */
static bool tw_reusable(const struct mg_tcp_conn *c, const struct tcp_seg *g)
{
	if ((c->flags & TF_TS_OK) && g->o.ts_ok)
		return SEQ_GT(g->o.tsval, c->ts_recent);
	return SEQ_GT(g->seq, c->rcv_nxt);
}

/* A bare SYN to one of our listeners' tuples: the only one that may reuse it. */
static bool is_listener_syn(const struct mg_tcp_stack *s, const struct mg_tcp_key *k,
			    const struct tcp_seg *g)
{
	return (g->flags & (TH_SYN | TH_ACK | TH_RST)) == TH_SYN &&
	       conn_listener_find(s, k->lip, k->lport) >= 0;
}

/* No connection: a TIME-WAIT record answers, or gives way to a new SYN. */
static void tw_or_no_conn_input(struct mg_tcp_stack *s, const struct mg_tcp_key *k,
				struct tcp_seg *g)
{
	struct mg_tcp_tw *t = tw_lookup(s, k);
	uint32_t iss_floor = 0;

	if (t && is_listener_syn(s, k, g) && tw_syn_reusable(t, g)) {
		CTR(s, tw_recycled);
		iss_floor = t->snd_nxt + TCP_MAX_WIN + 2;
		iss_floor += !iss_floor;
		tw_remove(s, t, MG_TCP_CLOSE_TW_RECYCLED);
		t = NULL;
	}
	if (t)
		tw_input(s, t, g);
	else
		no_conn_input(s, k, g, iss_floor);
}

void mg_tcp_input(struct mg_tcp_stack *s, struct rte_mbuf *m, const struct mg_pkt *pkt,
		  uint64_t now)
{
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
	const struct rte_tcp_hdr *th;
	struct mg_tcp_key k;
	struct mg_tcp_conn *c;
	struct tcp_seg g;
	uint32_t hlen;

	s->now = now;
	CTR(s, segs_in);
	if (m->nb_segs != 1) {
		DROP(s, CHAINED);
		goto out;
	}
	th = (const struct rte_tcp_hdr *)(f + pkt->l4_off);
	hlen = (uint32_t)(th->data_off >> 4) * 4;
	if ((uint32_t)pkt->l4_off + sizeof(*th) > m->data_len || hlen < TCP_HDR_LEN ||
	    pkt->data_off != pkt->l4_off + hlen ||
	    (uint32_t)pkt->data_off + pkt->data_len > m->data_len) {
		DROP(s, MALFORMED);
		goto out;
	}
	memset(&g, 0, sizeof(g));
	g.seq = rte_be_to_cpu_32(th->sent_seq);
	g.ack = rte_be_to_cpu_32(th->recv_ack);
	g.wnd = rte_be_to_cpu_16(th->rx_win);
	g.flags = th->tcp_flags & (TH_FIN | TH_SYN | TH_RST | TH_PSH | TH_ACK | TH_URG);
	g.len = pkt->data_len;
	g.port = (uint8_t)(m->port < s->p.n_ports ? m->port : 0);
	memcpy(g.dst_mac, f, 6);
	memcpy(g.src_mac, f + 6, 6);
	if (!parse_opts((const uint8_t *)(th + 1), hlen - TCP_HDR_LEN, g.flags & TH_SYN, &g.o)) {
		DROP(s, BAD_OPTIONS);
		goto out;
	}
	k.lip = pkt->dst_ip;
	k.rip = pkt->src_ip;
	k.lport = pkt->dst_port;
	k.rport = pkt->src_port;
	/* Keep only the payload: headers off the front, trailer off the back. */
	rte_pktmbuf_adj(m, pkt->data_off);
	rte_pktmbuf_trim(m, (uint16_t)(m->data_len - pkt->data_len));
	g.m = g.len ? m : NULL;
	if (!g.m)
		rte_pktmbuf_free(m);
	m = NULL;

	c = mg_tcp_lookup(s, &k);
	if (c && c->state == MG_TCP_TIME_WAIT && is_listener_syn(s, &k, &g) && tw_reusable(c, &g)) {
		CTR(s, tw_recycled);
		conn_close(s, c, MG_TCP_CLOSE_TW_RECYCLED);
		c = NULL;
	}
	if (c)
		conn_input(s, c, &g);
	else
		tw_or_no_conn_input(s, &k, &g);
	m = g.m;
out:
	if (m)
		rte_pktmbuf_free(m);
	conn_deliver(s);
}
