/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The receive side's queues. In-order payload goes to rcvq as trimmed mbufs
 * (zero copy). Segments beyond RCV.NXT wait in a sorted, non-overlapping list
 * (sequence number in mbuf hash.usr, linked by next); overlaps are trimmed on
 * insert so every byte is held once. The same list yields the SACK blocks
 * (RFC 2018).
 *
 * Memory is charged by what is held (the mbuf's whole buffer), so one-byte
 * segments cost what they pin. Three bounds keep a peer from pinning a core:
 *  - per connection, rcvq and the out-of-order list together hold at most
 *    conn_rcv_bound() = 2 * rcvbuf + 64 KiB of buffers; a small segment that
 *    fits the tailroom of the buffer before it is copied there instead
 *    (collapse), which costs nothing;
 *  - per core, out-of-order data holds at most half of mem_max;
 *  - when in-order data meets the core bound, other connections' out-of-order
 *    queues are freed, largest first (reneging, RFC 2018 section 8, as Linux
 *    prunes), before anyone's in-order data is refused. The queues sit in
 *    lists by the bit length of their charge, so the largest is found in O(1).
 */
#include <string.h>

#include "tcp_priv.h"

/* Bytes copied rather than held in a buffer of their own. Full-sized segments
 * keep zero copy; below this a segment's buffer is mostly waste. */
#define COLLAPSE_MAX 512

static inline uint32_t mseq(const struct rte_mbuf *m)
{
	return m->hash.usr;
}

static inline uint32_t mend(const struct rte_mbuf *m)
{
	return m->hash.usr + m->data_len;
}

uint32_t conn_rcv_bound(const struct mg_tcp_conn *c)
{
	return 2 * c->rcvbuf + 65536;
}

/* Put c in the list of its out-of-order charge's size class (or none). */
static void ooo_relist(struct mg_tcp_stack *s, struct mg_tcp_conn *c)
{
	uint8_t cls = c->ooo_true ? (uint8_t)(32 - __builtin_clz(c->ooo_true)) : 0;

	if (cls == c->ooo_class)
		return;
	if (c->ooo_class)
		TAILQ_REMOVE(&s->ooo_by_size[c->ooo_class], c, ooo_link);
	if (cls)
		TAILQ_INSERT_TAIL(&s->ooo_by_size[cls], c, ooo_link);
	c->ooo_class = cls;
}

/*
 * Copy @p m's payload behind @p prev's when it is small and fits prev's own
 * buffer (direct, not shared). The caller frees m; nothing new is charged.
 */
static bool collapse_into(struct rte_mbuf *prev, const struct rte_mbuf *m)
{
	if (m->data_len > COLLAPSE_MAX || !RTE_MBUF_DIRECT(prev) ||
	    rte_mbuf_refcnt_read(prev) != 1 || rte_pktmbuf_tailroom(prev) < m->data_len)
		return false;
	memcpy(rte_pktmbuf_mtod_offset(prev, uint8_t *, prev->data_len),
	       rte_pktmbuf_mtod(m, const uint8_t *), m->data_len);
	prev->data_len = (uint16_t)(prev->data_len + m->data_len);
	prev->pkt_len = prev->data_len;
	return true;
}

/* Link m (already charged as @p t, or collapsed) at the tail of rcvq. */
static void rcvq_link(struct mg_tcp_stack *s, struct mg_tcp_conn *c, struct rte_mbuf *m,
		      uint32_t t)
{
	c->rcvq_bytes += m->data_len;
	if (c->rcvq_tail && collapse_into(c->rcvq_tail, m)) {
		CTR(s, collapsed_segs);
		STAT_SUB(s->st.mem_used, t);
		m->next = NULL;
		rte_pktmbuf_free_seg(m);
		return;
	}
	m->next = NULL;
	m->nb_segs = 1;
	m->pkt_len = m->data_len;
	if (c->rcvq_tail)
		c->rcvq_tail->next = m;
	else
		c->rcvq_head = m;
	c->rcvq_tail = m;
	c->rcvq_true += t;
}

/*
 * Free out-of-order queues, largest first, until @p need more bytes fit the
 * core bound. Each round frees one whole queue; at most max_conns rounds.
 */
bool mem_reclaim(struct mg_tcp_stack *s, uint32_t need)
{
	int cls = MG_TCP_OOO_CLASSES - 1;

	while (s->st.mem_used + need > s->p.mem_max) {
		struct mg_tcp_conn *big = NULL, *c;
		unsigned looked = 0;

		while (cls > 0 && TAILQ_EMPTY(&s->ooo_by_size[cls]))
			cls--;
		if (cls == 0)
			return false;
		/* Within a class sizes differ by 2x at most: a short look picks
		 * the largest of the first few exactly. */
		TAILQ_FOREACH(c, &s->ooo_by_size[cls], ooo_link) {
			if (!big || c->ooo_true > big->ooo_true)
				big = c;
			if (++looked == 8)
				break;
		}
		reass_flush(s, big);
		CTR(s, ooo_pruned);
	}
	return true;
}

/* In-order payload @p m for rcvq; false: refused (the caller frees it). */
bool rcvq_append(struct mg_tcp_stack *s, struct mg_tcp_conn *c, struct rte_mbuf *m)
{
	uint32_t t = conn_truesize(m);

	if (c->rcvq_tail && collapse_into(c->rcvq_tail, m)) {
		CTR(s, collapsed_segs);
		c->rcvq_bytes += m->data_len;
		rte_pktmbuf_free_seg(m);
		return true;
	}
	if (c->rcvq_true + t > conn_rcv_bound(c)) {
		CTR(s, rcvbuf_bound_hits);
		return false;
	}
	/* The segment that lets the application read comes before the ones
	 * waiting behind a hole: drop our own out-of-order data first. */
	if (c->rcvq_true + c->ooo_true + t > conn_rcv_bound(c)) {
		reass_flush(s, c);
		CTR(s, ooo_reneged);
	}
	if (s->st.mem_used + t > s->p.mem_max && !mem_reclaim(s, t)) {
		CTR(s, mem_bound_hits);
		return false;
	}
	STAT_ADD(s->st.mem_used, t);
	rcvq_link(s, c, m, t);
	return true;
}

static void ooo_unlink_free(struct mg_tcp_stack *s, struct mg_tcp_conn *c, struct rte_mbuf *m)
{
	uint32_t t = conn_truesize(m);

	c->ooo_bytes -= m->data_len;
	c->ooo_true -= t;
	c->ooo_segs--;
	STAT_SUB(s->st.mem_used, t);
	STAT_SUB(s->st.ooo_mem, t);
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
	ooo_relist(s, c);
}

/* Room for @p t more bytes of out-of-order buffers on @p c. */
static bool ooo_room(struct mg_tcp_stack *s, struct mg_tcp_conn *c, uint32_t t)
{
	if (c->ooo_segs >= s->p.ooo_max_segs ||
	    c->rcvq_true + c->ooo_true + t > conn_rcv_bound(c)) {
		CTR(s, ooo_bound_hits);
		return false;
	}
	if (s->st.ooo_mem + t > s->p.mem_max / 2) {
		CTR(s, ooo_share_hits);
		return false;
	}
	if (s->st.mem_used + t > s->p.mem_max) {
		CTR(s, mem_bound_hits);
		return false;
	}
	return true;
}

/* Insert payload g->m at g->seq (> RCV.NXT, inside the window). On success
 * the queue owns the mbuf and g->m is NULL; otherwise the caller frees it. */
static void insert_one(struct mg_tcp_stack *s, struct mg_tcp_conn *c, struct tcp_seg *g)
{
	struct rte_mbuf *m = g->m, *prev = NULL, *cur = c->ooo_head;
	uint32_t seq = g->seq, end = g->seq + m->data_len, t = conn_truesize(m);

	if (!ooo_room(s, c, t)) {
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
	CTR(s, ooo_segs);
	CTR_ADD(s, ooo_bytes, m->data_len);
	c->ooo_last = seq;
	c->ooo_bytes += m->data_len;
	if (prev && mend(prev) == seq && collapse_into(prev, m)) {
		CTR(s, collapsed_segs);
		c->ooo_last = mseq(prev);
		rte_pktmbuf_free_seg(m);
		g->m = NULL;
		return;
	}
	m->hash.usr = seq;
	m->next = cur;
	m->nb_segs = 1;
	m->pkt_len = m->data_len;
	if (prev)
		prev->next = m;
	else
		c->ooo_head = m;
	c->ooo_true += t;
	c->ooo_segs++;
	STAT_ADD(s->st.mem_used, t);
	STAT_ADD(s->st.ooo_mem, t);
	g->m = NULL;
}

void reass_insert(struct mg_tcp_stack *s, struct mg_tcp_conn *c, struct tcp_seg *g)
{
	insert_one(s, c, g);
	ooo_relist(s, c);
}

/* Move what RCV.NXT now reaches from the out-of-order list to rcvq. Its
 * buffers are charged already and stay within the connection's bound. */
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
		STAT_SUB(s->st.ooo_mem, t);
		rte_pktmbuf_adj(m, (uint16_t)(c->rcv_nxt - mseq(m)));
		c->rcv_nxt += m->data_len;
		moved += m->data_len;
		rcvq_link(s, c, m, t);
	}
	ooo_relist(s, c);
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
