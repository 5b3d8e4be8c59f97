/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The receive side's queues. In-order payload goes to rcvq as trimmed mbufs
 * (zero copy). Segments beyond RCV.NXT wait in a sorted, non-overlapping list
 * (sequence number in mbuf hash.usr, linked by next), bounded per connection
 * by ooo_max_segs and per core by mem_max; overlaps are trimmed on insert so
 * every byte is held once. The same list yields the SACK blocks (RFC 2018).
 */
#include "tcp_priv.h"

static inline uint32_t mseq(const struct rte_mbuf *m)
{
	return m->hash.usr;
}

static inline uint32_t mend(const struct rte_mbuf *m)
{
	return m->hash.usr + m->data_len;
}

bool rcvq_append(struct mg_tcp_stack *s, struct mg_tcp_conn *c, struct rte_mbuf *m)
{
	uint32_t t = conn_truesize(m);

	if (s->st.mem_used + t > s->p.mem_max) {
		CTR(s, mem_bound_hits);
		return false;
	}
	/* Tiny segments waste whole buffers: cap the buffers a queue may pin. */
	if (c->rcvq_true + t > 2 * c->rcvbuf + 65536) {
		CTR(s, rcvbuf_bound_hits);
		return false;
	}
	m->next = NULL;
	m->nb_segs = 1;
	m->pkt_len = m->data_len;
	if (c->rcvq_tail)
		c->rcvq_tail->next = m;
	else
		c->rcvq_head = m;
	c->rcvq_tail = m;
	c->rcvq_bytes += m->data_len;
	c->rcvq_true += t;
	STAT_ADD(s->st.mem_used, t);
	return true;
}

static void ooo_unlink_free(struct mg_tcp_stack *s, struct mg_tcp_conn *c, struct rte_mbuf *m)
{
	uint32_t t = conn_truesize(m);

	c->ooo_bytes -= m->data_len;
	c->ooo_true -= t;
	c->ooo_segs--;
	STAT_SUB(s->st.mem_used, t);
	m->next = NULL;
	rte_pktmbuf_free_seg(m);
}

void reass_flush(struct mg_tcp_stack *s, struct mg_tcp_conn *c)
{
	while (c->ooo_head) {
		struct rte_mbuf *m = c->ooo_head;

		c->ooo_head = m->next;
		ooo_unlink_free(s, c, m);
	}
}

/* Insert payload g->m at g->seq (> RCV.NXT, inside the window). On success
 * the queue owns the mbuf and g->m is NULL; otherwise the caller frees it. */
void reass_insert(struct mg_tcp_stack *s, struct mg_tcp_conn *c, struct tcp_seg *g)
{
	struct rte_mbuf *m = g->m, *prev = NULL, *cur = c->ooo_head;
	uint32_t seq = g->seq, end = g->seq + m->data_len, t = conn_truesize(m);

	if (c->ooo_segs >= s->p.ooo_max_segs) {
		CTR(s, ooo_bound_hits);
		DROP(s, OOO_BOUND);
		return;
	}
	if (s->st.mem_used + t > s->p.mem_max) {
		CTR(s, mem_bound_hits);
		DROP(s, OOO_BOUND);
		return;
	}
	while (cur && SEQ_LEQ(mend(cur), seq)) {
		prev = cur;
		cur = cur->next;
	}
	if (cur && SEQ_LEQ(mseq(cur), seq)) {
		if (SEQ_GEQ(mend(cur), end)) {
			CTR_ADD(s, dup_bytes, end - seq);
			DROP(s, DUPLICATE);
			return;
		}
		rte_pktmbuf_adj(m, (uint16_t)(mend(cur) - seq));
		CTR_ADD(s, dup_bytes, mend(cur) - seq);
		seq = mend(cur);
		prev = cur;
		cur = cur->next;
	}
	while (cur && SEQ_LEQ(mend(cur), end)) { /* wholly covered by the new one */
		struct rte_mbuf *next = cur->next;

		CTR_ADD(s, dup_bytes, cur->data_len);
		if (prev)
			prev->next = next;
		else
			c->ooo_head = next;
		ooo_unlink_free(s, c, cur);
		cur = next;
	}
	if (cur && SEQ_LT(mseq(cur), end)) {
		CTR_ADD(s, dup_bytes, end - mseq(cur));
		end = mseq(cur);
		if (end == seq) { /* squeezed to nothing between two held segments */
			DROP(s, DUPLICATE);
			return;
		}
		rte_pktmbuf_trim(m, (uint16_t)(m->data_len - (end - seq)));
	}
	m->hash.usr = seq;
	m->next = cur;
	m->nb_segs = 1;
	m->pkt_len = m->data_len;
	if (prev)
		prev->next = m;
	else
		c->ooo_head = m;
	c->ooo_bytes += m->data_len;
	c->ooo_true += t;
	c->ooo_segs++;
	c->ooo_last = seq;
	STAT_ADD(s->st.mem_used, t);
	CTR(s, ooo_segs);
	CTR_ADD(s, ooo_bytes, m->data_len);
	g->m = NULL;
}

/* Move what RCV.NXT now reaches from the out-of-order list to rcvq. */
uint32_t reass_pull(struct mg_tcp_stack *s, struct mg_tcp_conn *c)
{
	uint32_t moved = 0;

	while (c->ooo_head && SEQ_LEQ(mseq(c->ooo_head), c->rcv_nxt)) {
		struct rte_mbuf *m = c->ooo_head;
		uint32_t t = conn_truesize(m);

		c->ooo_head = m->next;
		if (SEQ_LEQ(mend(m), c->rcv_nxt)) {
			ooo_unlink_free(s, c, m);
			continue;
		}
		c->ooo_bytes -= m->data_len;
		c->ooo_true -= t;
		c->ooo_segs--;
		STAT_SUB(s->st.mem_used, t);
		rte_pktmbuf_adj(m, (uint16_t)(c->rcv_nxt - mseq(m)));
		if (!rcvq_append(s, c, m)) {
			m->next = NULL;
			rte_pktmbuf_free_seg(m);
			DROP(s, RCVBUF);
			break;
		}
		c->rcv_nxt += m->data_len;
		moved += m->data_len;
	}
	return moved;
}

/* SACK blocks to report: the block holding the latest arrival first
 * (RFC 2018 section 4), then the others from the lowest. */
uint8_t reass_sack_blocks(const struct mg_tcp_conn *c, uint32_t blk[][2], uint8_t max)
{
	uint32_t all[64][2];
	uint8_t n = 0, out = 0, first = 0;

	for (const struct rte_mbuf *m = c->ooo_head; m; m = m->next) {
		if (n && mseq(m) == all[n - 1][1]) {
			all[n - 1][1] = mend(m);
		} else {
			if (n == RTE_DIM(all))
				break;
			all[n][0] = mseq(m);
			all[n][1] = mend(m);
			n++;
		}
		if (mseq(m) == c->ooo_last)
			first = (uint8_t)(n - 1);
	}
	if (!n || !max)
		return 0;
	blk[out][0] = all[first][0];
	blk[out][1] = all[first][1];
	out++;
	for (uint8_t i = 0; i < n && out < max; i++) {
		if (i == first)
			continue;
		blk[out][0] = all[i][0];
		blk[out][1] = all[i][1];
		out++;
	}
	return out;
}
