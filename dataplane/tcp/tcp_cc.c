/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Congestion control and loss recovery: slow start and congestion avoidance
 * (RFC 5681), CUBIC (RFC 9438, the default) or NewReno increase, fast
 * retransmit and NewReno recovery (RFC 6582), and the sender's SACK
 * scoreboard (RFC 2018) that lets recovery repair several holes per RTT.
 * Windows are in bytes; CUBIC's cubic runs in segments as doubles.
 */
#include "tcp_priv.h"

#define CUBIC_C 0.4
#define CUBIC_BETA 0.7
#define CWND_MAX (1u << 30)

/* Cube root by Newton's method: no libm on the data path. */
static double cube_root(double x)
{
	double r = x > 1 ? x / 3 : 1;

	if (x <= 0)
		return 0;
	for (int i = 0; i < 40; i++) {
		double n = r - (r * r * r - x) / (3 * r * r);

		if (n == r)
			break;
		r = n;
	}
	return r;
}

/* RFC 6928 initial window: min(10 MSS, max(2 MSS, 14600)). */
void cc_init(struct mg_tcp_stack *s, struct mg_tcp_conn *c)
{
	uint32_t mss = tcp_eff_mss(c);

	(void)s;
	c->cwnd = RTE_MIN(10 * mss, RTE_MAX(2 * mss, 14600u));
	c->ssthresh = CWND_MAX;
	c->cubic_epoch = 0;
	c->cubic_wmax = 0;
}

static void cubic_increase(struct mg_tcp_stack *s, struct mg_tcp_conn *c, uint32_t acked)
{
	double mss = tcp_eff_mss(c), cwnd = c->cwnd / mss, wmax, t, target, west, wc;
	double alpha = 3.0 * (1 - CUBIC_BETA) / (1 + CUBIC_BETA);

	if (!c->cubic_epoch) {
		c->cubic_epoch = s->now ? s->now : 1;
		if (c->cubic_wmax < c->cwnd) {
			c->cubic_k = 0;
			c->cubic_wmax = c->cwnd;
		} else {
			c->cubic_k = cube_root((c->cubic_wmax - c->cwnd) / mss / CUBIC_C);
		}
		c->cubic_west = c->cwnd;
	}
	wmax = c->cubic_wmax / mss;
	t = (double)(s->now - c->cubic_epoch) / 1e6;
	wc = CUBIC_C * (t - c->cubic_k) * (t - c->cubic_k) * (t - c->cubic_k) + wmax;
	t += (double)(c->srtt ? c->srtt : 100000) / 1e6;
	target = CUBIC_C * (t - c->cubic_k) * (t - c->cubic_k) * (t - c->cubic_k) + wmax;
	if (target < cwnd)
		target = cwnd;
	if (target > 1.5 * cwnd)
		target = 1.5 * cwnd;
	/* Reno-friendly region (RFC 9438 4.3): W_est grows like Reno with alpha. */
	if (c->cubic_west >= c->cubic_wmax)
		alpha = 1;
	west = c->cubic_west + alpha * mss * acked / c->cwnd;
	c->cubic_west = (uint32_t)RTE_MIN(west, (double)CWND_MAX);
	if (wc < c->cubic_west / mss) {
		c->cwnd = c->cubic_west;
		return;
	}
	c->cwnd += (uint32_t)((target - cwnd) * mss * acked / c->cwnd);
}

/* New data ACKed outside recovery. */
void cc_on_ack(struct mg_tcp_stack *s, struct mg_tcp_conn *c, uint32_t acked)
{
	uint32_t mss = tcp_eff_mss(c);

	if (c->cwnd < c->ssthresh) {
		c->cwnd += RTE_MIN(acked, 2 * mss); /* RFC 3465, L = 2 */
	} else if (s->p.cc == MG_TCP_CC_NEWRENO) {
		c->cubic_ack_cnt += acked;
		if (c->cubic_ack_cnt >= c->cwnd) {
			c->cubic_ack_cnt -= c->cwnd;
			c->cwnd += mss;
		}
	} else {
		cubic_increase(s, c, acked);
	}
	c->cwnd = RTE_MIN(c->cwnd, CWND_MAX);
}

static uint32_t loss_ssthresh(struct mg_tcp_stack *s, struct mg_tcp_conn *c)
{
	uint32_t mss = tcp_eff_mss(c), flight = c->snd_max - c->snd_una;

	if (s->p.cc == MG_TCP_CC_NEWRENO)
		return RTE_MAX(flight / 2, 2 * mss);
	/* CUBIC with fast convergence (RFC 9438 4.6, 4.7). */
	if (c->cwnd < c->cubic_wmax)
		c->cubic_wmax = (uint32_t)(c->cwnd * (1 + CUBIC_BETA) / 2);
	else
		c->cubic_wmax = c->cwnd;
	c->cubic_epoch = 0;
	return RTE_MAX((uint32_t)(c->cwnd * CUBIC_BETA), 2 * mss);
}

/* Entering recovery. With SACK the window is ssthresh and what may be sent
 * is measured by the pipe (RFC 6675); without, NewReno inflates by 3 MSS. */
void cc_on_loss(struct mg_tcp_stack *s, struct mg_tcp_conn *c)
{
	c->ssthresh = loss_ssthresh(s, c);
	c->cwnd = c->ssthresh + ((c->flags & TF_SACK_OK) ? 0 : 3u * tcp_eff_mss(c));
}

/* RFC 5681 (4): after an RTO, one segment; the scoreboard is forgotten since
 * the receiver may renege on SACKed data (RFC 2018 section 8). */
void cc_on_rto(struct mg_tcp_stack *s, struct mg_tcp_conn *c)
{
	if (!(c->flags & TF_RECOVERY) || c->retries <= 1)
		c->ssthresh = loss_ssthresh(s, c);
	c->cwnd = tcp_eff_mss(c);
	c->flags &= ~TF_RECOVERY;
	c->recover = c->snd_max;
	c->dupacks = 0;
	c->n_sack = 0;
	c->rexmit_next = c->snd_una;
}

static uint32_t sack_top(const struct mg_tcp_conn *c)
{
	uint32_t top = c->snd_una;

	for (uint8_t i = 0; i < c->n_sack; i++)
		top = SEQ_MAX(top, c->sack_blk[i][1]);
	return top;
}

/* Sacked bytes inside [from, to). */
static uint32_t sacked_in(const struct mg_tcp_conn *c, uint32_t from, uint32_t to)
{
	uint32_t n = 0;

	for (uint8_t i = 0; i < c->n_sack; i++) {
		uint32_t l = SEQ_MAX(c->sack_blk[i][0], from), r = SEQ_MIN(c->sack_blk[i][1], to);

		if (SEQ_LT(l, r))
			n += r - l;
	}
	return n;
}

/*
 * RFC 6675 pipe: bytes believed in the network. Every hole below the highest
 * SACKed byte counts as lost until it was resent (below rexmit_next).
 */
uint32_t sack_pipe(const struct mg_tcp_conn *c)
{
	uint32_t flight = c->snd_max - c->snd_una, top = sack_top(c);
	uint32_t sacked = sacked_in(c, c->snd_una, top);
	uint32_t holes = (top - c->snd_una) - sacked;
	uint32_t rx = SEQ_MIN(SEQ_MAX(c->rexmit_next, c->snd_una), top);
	uint32_t repaired = (rx - c->snd_una) - sacked_in(c, c->snd_una, rx);

	return flight - sacked - (holes - repaired);
}

/* Loss of SND.UNA's segment: three dupacks, three segments SACKed above it
 * (RFC 6675 IsLost), or, with a flight too small to make three dupacks and
 * nothing new to send, one less than the flight (RFC 5827 early retransmit). */
static bool loss_detected(const struct mg_tcp_conn *c)
{
	uint32_t mss = tcp_eff_mss(c), flight = c->snd_max - c->snd_una;
	uint32_t segs = (flight + mss - 1) / mss;
	bool more = SEQ_LT(c->snd_max, c->snd_buf_seq + c->sndq_bytes);

	if (c->dupacks >= 3)
		return true;
	if ((c->flags & TF_SACK_OK) && sacked_in(c, c->snd_una, c->snd_max) >= 3 * mss)
		return true;
	return !more && segs < 4 && segs >= 2 && c->dupacks >= segs - 1;
}

/* A lost retransmission: all holes were resent, yet recovery has gone on
 * for longer than those resends take to be ACKed. Resend from SND.UNA. */
static void rerepair_check(struct mg_tcp_stack *s, struct mg_tcp_conn *c)
{
	uint64_t wait = RTE_MAX(2ull * c->srtt, (uint64_t)c->srtt + 4ull * c->rttvar);

	if (!c->n_sack || SEQ_LT(c->rexmit_next, sack_top(c)) ||
	    s->now - c->rxt_round_at < RTE_MAX(wait, 1000ull))
		return;
	CTR(s, lost_rexmit_repairs);
	c->rexmit_next = c->snd_una;
	c->rxt_round_at = s->now;
}

/* A duplicate ACK (RFC 5681 definition) arrived. */
void cc_dupack(struct mg_tcp_stack *s, struct mg_tcp_conn *c)
{
	c->dupacks++;
	if (c->flags & TF_RECOVERY) {
		if (c->flags & TF_SACK_OK)
			rerepair_check(s, c);
		else
			c->cwnd += tcp_eff_mss(c); /* NewReno: a segment left the network */
		return;
	}
	/* RFC 6582 section 3.2 (1): no new recovery until SND.UNA passes recover. */
	if (SEQ_LT(c->snd_una, c->recover) || !loss_detected(c))
		return;
	CTR(s, fast_retransmits);
	CTR(s, recoveries);
	cc_on_loss(s, c);
	c->recover = c->snd_max;
	c->flags |= TF_RECOVERY;
	c->flags &= ~TF_TLP;
	c->rxt_round_at = s->now;
	tcp_rexmit_one(s, c, c->snd_una);
	c->rexmit_next = c->snd_una + tcp_eff_mss(c);
	timer_rexmt_arm(s, c);
}

/* New data ACKed: leave recovery on a full ACK, repair on a partial one. */
void cc_partial_or_full_ack(struct mg_tcp_stack *s, struct mg_tcp_conn *c, uint32_t acked)
{
	uint32_t mss = tcp_eff_mss(c);

	if (!(c->flags & TF_RECOVERY)) {
		c->dupacks = 0;
		cc_on_ack(s, c, acked);
		return;
	}
	if (SEQ_GEQ(c->snd_una, c->recover)) {
		/* RFC 6582 3.2 (3) option 2 / RFC 6675: continue from ssthresh. */
		c->cwnd = c->ssthresh;
		c->flags &= ~TF_RECOVERY;
		c->dupacks = 0;
		return;
	}
	/* Partial ACK: the segment now at SND.UNA is lost too, unless resent. */
	if (SEQ_LT(c->rexmit_next, c->snd_una))
		c->rexmit_next = c->snd_una;
	if (c->rexmit_next == c->snd_una && !sack_covers(c, c->snd_una, NULL)) {
		tcp_rexmit_one(s, c, c->snd_una);
		c->rexmit_next = c->snd_una + mss;
	}
	if (c->flags & TF_SACK_OK) {
		rerepair_check(s, c);
	} else {
		/* NewReno: deflate by what left, keep one MSS for the resend. */
		c->cwnd = c->cwnd > acked ? c->cwnd - acked : 0;
		if (acked >= mss)
			c->cwnd += mss;
		c->cwnd = RTE_MAX(c->cwnd, mss);
	}
	timer_rexmt_arm(s, c);
}

/* ------------------------------------------------------------------------- */
/* Sender scoreboard: up to MG_TCP_SACK_MAX disjoint sacked ranges, sorted.   */

static void sack_sort_merge(struct mg_tcp_conn *c)
{
	for (uint8_t i = 1; i < c->n_sack; i++)
		for (uint8_t j = i; j > 0 && SEQ_LT(c->sack_blk[j][0], c->sack_blk[j - 1][0]); j--) {
			uint32_t l = c->sack_blk[j][0], r = c->sack_blk[j][1];

			c->sack_blk[j][0] = c->sack_blk[j - 1][0];
			c->sack_blk[j][1] = c->sack_blk[j - 1][1];
			c->sack_blk[j - 1][0] = l;
			c->sack_blk[j - 1][1] = r;
		}
	for (uint8_t i = 0; i + 1 < c->n_sack;) {
		if (SEQ_GEQ(c->sack_blk[i][1], c->sack_blk[i + 1][0])) {
			c->sack_blk[i][1] = SEQ_MAX(c->sack_blk[i][1], c->sack_blk[i + 1][1]);
			for (uint8_t k = i + 1; k + 1 < c->n_sack; k++) {
				c->sack_blk[k][0] = c->sack_blk[k + 1][0];
				c->sack_blk[k][1] = c->sack_blk[k + 1][1];
			}
			c->n_sack--;
		} else {
			i++;
		}
	}
}

void sack_update(struct mg_tcp_conn *c, const struct tcp_opts *o)
{
	for (uint8_t b = 0; b < o->n_sack; b++) {
		uint32_t l = o->sack[b][0], r = o->sack[b][1];

		/* Only blocks inside (SND.UNA, SND.MAX]; D-SACKs and junk are ignored. */
		if (!SEQ_LT(l, r) || !SEQ_GT(r, c->snd_una) || SEQ_GT(r, c->snd_max) ||
		    r - l > c->snd_max - c->snd_una)
			continue;
		if (SEQ_LT(l, c->snd_una))
			l = c->snd_una;
		if (c->n_sack == MG_TCP_SACK_MAX) {
			/* Full: keep the lower blocks, they bound the holes to repair. */
			if (SEQ_GEQ(l, c->sack_blk[c->n_sack - 1][0]))
				continue;
			c->n_sack--;
		}
		c->sack_blk[c->n_sack][0] = l;
		c->sack_blk[c->n_sack][1] = r;
		c->n_sack++;
		sack_sort_merge(c);
	}
}

void sack_prune(struct mg_tcp_conn *c)
{
	uint8_t k = 0;

	for (uint8_t i = 0; i < c->n_sack; i++) {
		if (SEQ_LEQ(c->sack_blk[i][1], c->snd_una))
			continue;
		c->sack_blk[k][0] = SEQ_MAX(c->sack_blk[i][0], c->snd_una);
		c->sack_blk[k][1] = c->sack_blk[i][1];
		k++;
	}
	c->n_sack = k;
}

bool sack_covers(const struct mg_tcp_conn *c, uint32_t seq, uint32_t *end)
{
	for (uint8_t i = 0; i < c->n_sack; i++)
		if (SEQ_GEQ(seq, c->sack_blk[i][0]) && SEQ_LT(seq, c->sack_blk[i][1])) {
			if (end)
				*end = c->sack_blk[i][1];
			return true;
		}
	return false;
}

uint32_t sack_bytes(const struct mg_tcp_conn *c)
{
	uint32_t n = 0;

	for (uint8_t i = 0; i < c->n_sack; i++)
		n += c->sack_blk[i][1] - c->sack_blk[i][0];
	return n;
}
