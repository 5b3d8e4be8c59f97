/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-core timers: one hashed wheel of 1 ms slots. Each connection sits in at
 * most one slot, at the earliest of its deadlines (retransmit or persist,
 * delayed ACK, keepalive, and a misc one for TIME-WAIT / FIN-WAIT-2). A
 * deadline past the wheel's horizon is simply re-inserted when its slot comes
 * round. mg_tcp_timers_run fires at most params.timer_budget connections per
 * call; the rest wait in their slot for the next call.
 *
 * RTO per RFC 6298 with Karn's rule (samples only from segments never
 * retransmitted; the backed-off RTO stays until a fresh sample).
 */
#include "tcp_priv.h"

#define TICK_US 1000
#define WHEEL_MASK (MG_TCP_WHEEL_SLOTS - 1)
#define RTO_G 1000 /* clock granularity G of RFC 6298, µs */

void timer_unlink(struct mg_tcp_stack *s, struct mg_tcp_conn *c)
{
	if (c->flags & TF_IN_WHEEL) {
		TAILQ_REMOVE(&s->wheel[(c->timer_at / TICK_US) & WHEEL_MASK], c, wheel_link);
		c->flags &= ~TF_IN_WHEEL;
	}
}

static uint64_t earliest(const struct mg_tcp_conn *c)
{
	uint64_t t[4] = {c->t_rexmt, c->t_delack, c->t_keep, c->t_misc}, m = 0;

	for (int i = 0; i < 4; i++)
		if (t[i] && (!m || t[i] < m))
			m = t[i];
	return m;
}

void timer_sched(struct mg_tcp_stack *s, struct mg_tcp_conn *c)
{
	uint64_t at, tick;

	if (c->flags & TF_REAP)
		return;
	at = earliest(c);
	if ((c->flags & TF_IN_WHEEL) && at == c->timer_at)
		return;
	timer_unlink(s, c);
	if (!at)
		return;
	/* Due or overdue: the next slot the wheel runs. The slot is derived
	 * from timer_at, so store the clamped value. */
	tick = RTE_MAX(at / TICK_US, s->wheel_tick);
	c->timer_at = RTE_MAX(at, tick * TICK_US);
	TAILQ_INSERT_TAIL(&s->wheel[tick & WHEEL_MASK], c, wheel_link);
	c->flags |= TF_IN_WHEEL;
}

static uint32_t rto_now(const struct mg_tcp_stack *s, const struct mg_tcp_conn *c)
{
	uint64_t r = (uint64_t)c->rto << RTE_MIN(c->backoff, (uint8_t)16);

	return (uint32_t)RTE_MIN(r, (uint64_t)s->p.rto_max);
}

/* A tail loss probe (RFC 8985 7) fits a flight that SACK can repair, once
 * per flight, outside recovery and before any backoff. */
static bool tlp_ok(const struct mg_tcp_conn *c)
{
	if ((c->flags & (TF_SACK_OK | TF_RECOVERY | TF_TLP_SENT)) != TF_SACK_OK ||
	    !c->srtt || c->backoff)
		return false;
	return c->state == MG_TCP_ESTABLISHED || c->state == MG_TCP_CLOSE_WAIT ||
	       c->state == MG_TCP_FIN_WAIT_1 || c->state == MG_TCP_CLOSING ||
	       c->state == MG_TCP_LAST_ACK;
}

void timer_rexmt_arm(struct mg_tcp_stack *s, struct mg_tcp_conn *c)
{
	uint32_t rto = rto_now(s, c);

	c->flags &= ~(TF_PERSIST | TF_TLP);
	if (tlp_ok(c)) {
		/* PTO: two RTTs, and room for the peer's delayed ACK. */
		uint64_t pto = RTE_MAX(2ull * c->srtt, (uint64_t)c->srtt + s->p.delack + 2000);

		if (pto < rto) {
			c->flags |= TF_TLP;
			c->t_rexmt = s->now + pto;
			return;
		}
	}
	c->t_rexmt = s->now + rto;
}

/* The probe: a new segment if the peer's window allows, else the last one
 * again, so that a lost tail shows up as a SACK and recovery starts. */
static void fire_tlp(struct mg_tcp_stack *s, struct mg_tcp_conn *c)
{
	uint32_t snd_max = c->snd_max, mss = tcp_eff_mss(c), data_end, last;

	c->flags = (c->flags & ~TF_TLP) | TF_TLP_SENT;
	CTR(s, tlp_probes);
	c->cwnd += mss; /* room for exactly one more segment */
	tcp_output(s, c);
	c->cwnd -= mss;
	if (c->snd_max == snd_max && c->snd_una != c->snd_max) {
		data_end = c->snd_buf_seq + c->sndq_bytes;
		last = SEQ_MIN(c->snd_max, data_end);
		last = SEQ_MAX(last - RTE_MIN(mss, last - c->snd_una), c->snd_una);
		tcp_rexmit_one(s, c, last);
	}
	timer_rexmt_arm(s, c);
}

void timer_persist_arm(struct mg_tcp_stack *s, struct mg_tcp_conn *c)
{
	if (!c->zwnd_since)
		c->zwnd_since = s->now; /* cleared only by a window that opens */
	c->flags = (c->flags & ~TF_TLP) | TF_PERSIST;
	c->t_rexmt = s->now + RTE_MAX(rto_now(s, c), s->p.rto_min);
	/* Backed-off probes are up to rto_max apart: wake at the deadline. */
	if (s->p.zero_window_timeout)
		c->t_rexmt = RTE_MIN(c->t_rexmt, c->zwnd_since + s->p.zero_window_timeout);
}

void timer_keep_arm(struct mg_tcp_stack *s, struct mg_tcp_conn *c)
{
	if (s->p.keep_idle)
		c->t_keep = c->last_rx + s->p.keep_idle;
}

/* RFC 6298 section 2: SRTT, RTTVAR, RTO from one measurement @p r (µs). */
void timer_rtt_sample(struct mg_tcp_stack *s, struct mg_tcp_conn *c, uint32_t r)
{
	uint64_t rto;

	if (r == 0)
		r = 1;
	if (c->srtt == 0) {
		c->srtt = r;
		c->rttvar = r / 2;
	} else {
		uint32_t d = c->srtt > r ? c->srtt - r : r - c->srtt;

		c->rttvar = (3 * c->rttvar + d) / 4;
		c->srtt = (7 * c->srtt + r) / 8;
	}
	rto = (uint64_t)c->srtt + RTE_MAX((uint32_t)RTO_G, 4 * c->rttvar);
	rto = RTE_MAX(rto, (uint64_t)s->p.rto_min);
	c->rto = (uint32_t)RTE_MIN(rto, (uint64_t)s->p.rto_max);
	c->backoff = 0; /* Karn: a fresh sample ends the backoff */
}

static void fire_rexmt(struct mg_tcp_stack *s, struct mg_tcp_conn *c)
{
	c->t_rexmt = 0;
	if (c->flags & TF_TLP) {
		fire_tlp(s, c);
		return;
	}
	if (c->flags & TF_PERSIST) {
		/* A peer that answers every probe and never opens its window
		 * would hold our send queue for ever: give up after a bound. */
		if (s->p.zero_window_timeout && c->zwnd_since &&
		    s->now - c->zwnd_since >= s->p.zero_window_timeout) {
			tcp_send_rst(s, c);
			conn_close(s, c, MG_TCP_CLOSE_ZERO_WINDOW_TIMEOUT);
			return;
		}
		tcp_send_probe(s, c, false);
		if (c->backoff < 16)
			c->backoff++;
		timer_persist_arm(s, c);
		return;
	}
	CTR(s, rto_fires);
	c->retries++;
	c->flags &= ~TF_TIMING;
	if (c->backoff < 16)
		c->backoff++;
	if (c->state == MG_TCP_SYN_SENT || c->state == MG_TCP_SYN_RCVD) {
		if (c->retries > s->p.syn_retries) {
			conn_close(s, c, MG_TCP_CLOSE_SYN_TIMEOUT);
			return;
		}
		tcp_send_syn(s, c);
		CTR(s, retransmits);
		timer_rexmt_arm(s, c);
		return;
	}
	if (c->retries > s->p.max_retries) {
		conn_close(s, c, MG_TCP_CLOSE_TIMEOUT);
		return;
	}
	if (c->snd_una == c->snd_max)
		return; /* everything was ACKed meanwhile */
	cc_on_rto(s, c);
	c->snd_nxt = c->snd_una; /* go back: resend from the first hole */
	tcp_output(s, c);
	if (!c->t_rexmt)
		timer_rexmt_arm(s, c);
}

static void fire_keep(struct mg_tcp_stack *s, struct mg_tcp_conn *c)
{
	c->t_keep = 0;
	if (!s->p.keep_idle || (c->state != MG_TCP_ESTABLISHED &&
				c->state != MG_TCP_CLOSE_WAIT &&
				c->state != MG_TCP_FIN_WAIT_1 &&
				c->state != MG_TCP_FIN_WAIT_2))
		return;
	if (s->now < c->last_rx + s->p.keep_idle) {
		c->keep_probes = 0;
		timer_keep_arm(s, c);
		return;
	}
	if (c->keep_probes >= s->p.keep_probes) {
		conn_close(s, c, MG_TCP_CLOSE_KEEPALIVE);
		return;
	}
	c->keep_probes++;
	tcp_send_probe(s, c, true);
	c->t_keep = s->now + s->p.keep_intvl;
}

static void fire_misc(struct mg_tcp_stack *s, struct mg_tcp_conn *c)
{
	c->t_misc = 0;
	if (c->state == MG_TCP_TIME_WAIT) {
		if (!(c->flags & TF_DETACHED) && c->rcvq_bytes) {
			/* Closing now would throw away data the application has not read. */
			CTR(s, time_wait_held);
			c->t_misc = s->now + s->p.time_wait;
		} else {
			conn_close(s, c, MG_TCP_CLOSE_NORMAL);
		}
	} else if (c->state == MG_TCP_FIN_WAIT_2 && (c->flags & TF_DETACHED)) {
		conn_close(s, c, MG_TCP_CLOSE_FIN_WAIT2_TIMEOUT);
	} else if (c->state == MG_TCP_SYN_RCVD) {
		/* Half-open past handshake_timeout: no RST, the peer may be
		 * spoofed (RFC 4987); the slot and the backlog place free now. */
		conn_close(s, c, MG_TCP_CLOSE_HANDSHAKE_TIMEOUT);
	}
}

static void fire(struct mg_tcp_stack *s, struct mg_tcp_conn *c)
{
	uint64_t now = s->now;

	if (c->t_delack && c->t_delack <= now) {
		c->t_delack = 0;
		if (c->flags & TF_DELACK) {
			CTR(s, delayed_acks);
			tcp_send_ack(s, c);
		}
	}
	if (c->t_rexmt && c->t_rexmt <= now)
		fire_rexmt(s, c);
	if (!(c->flags & TF_REAP) && c->t_keep && c->t_keep <= now)
		fire_keep(s, c);
	if (!(c->flags & TF_REAP) && c->t_misc && c->t_misc <= now)
		fire_misc(s, c);
	timer_sched(s, c);
}

static void run_wheel(struct mg_tcp_stack *s, uint64_t now)
{
	uint64_t cur = now / TICK_US;
	uint32_t budget = s->p.timer_budget;

	/* After a long gap, one pass over every slot sees every connection. */
	if (cur >= s->wheel_tick + MG_TCP_WHEEL_SLOTS)
		s->wheel_tick = cur - MG_TCP_WHEEL_SLOTS + 1;
	while (s->wheel_tick <= cur && budget) {
		struct mg_tcp_conn_list due = TAILQ_HEAD_INITIALIZER(due);
		struct mg_tcp_conn *c;

		TAILQ_CONCAT(&due, &s->wheel[s->wheel_tick & WHEEL_MASK], wheel_link);
		s->wheel_tick++; /* re-arms land in the next slot, not this one */
		while ((c = TAILQ_FIRST(&due)) != NULL) {
			TAILQ_REMOVE(&due, c, wheel_link);
			c->flags &= ~TF_IN_WHEEL;
			if (budget && c->timer_at <= now) {
				budget--;
				fire(s, c);
			} else {
				timer_sched(s, c);
			}
		}
	}
	if (!budget)
		CTR(s, timer_budget_hits);
}

/* Connections that could not send for want of TX ring space. */
static void run_pending(struct mg_tcp_stack *s)
{
	uint32_t n = s->p.max_conns;
	struct mg_tcp_conn *c;

	while (n-- && tcp_tx_space(s) && (c = TAILQ_FIRST(&s->pending)) != NULL) {
		TAILQ_REMOVE(&s->pending, c, pend_link);
		c->flags &= ~TF_ON_PENDING;
		tcp_output(s, c);
	}
}

void mg_tcp_flush(struct mg_tcp_stack *s)
{
	run_pending(s);
	conn_deliver(s);
}

void mg_tcp_timers_run(struct mg_tcp_stack *s, uint64_t now)
{
	s->now = now;
	run_wheel(s, now);
	tw_expire(s, s->p.timer_budget); /* TIME-WAIT records: a FIFO of their own */
	run_pending(s);
	conn_deliver(s);
}
