/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TIME-WAIT as small records (RFC 9293 3.6, 3.10.7.4; RFC 6191; RFC 7323 5).
 *
 * A proxy closes as many connections as it opens, and each one it closes
 * first holds its tuple for 2 MSL. Kept as full connections those would fill
 * the connection pool and its table, and a new connection could not get a
 * slot. So once the application has closed a connection that is in TIME-WAIT,
 * only a 64-byte record stays: the tuple, the sequence and timestamp state
 * that ACK a retransmitted FIN, keep old duplicates out (PAWS) and judge a new
 * SYN on the tuple, and the deadline. The records have their own table, so the
 * connection table that every segment is looked up in holds only the
 * connections that live.
 *
 * A record sits at the position its key has in the records' rte_hash, so the
 * table needs no pool of its own. Every record waits the same 2 MSL: they
 * expire from a FIFO, oldest first, O(1) each and bounded per call, without
 * the timer wheel; a restarted one (a retransmitted FIN) moves to the newest
 * end. When the table is full the oldest record gives way to the new one
 * (counted tw_evicted): it has waited longest and is the least likely to meet
 * an old duplicate.
 *
 * A record's end is counted as the connection's close (close/normal), or
 * close/tw_recycled when a new connection takes the tuple over.
 */
#include <assert.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include "tcp_priv.h"

/* An active open may take a TIME-WAIT tuple over this long after the last
 * segment on it: our timestamps tick every millisecond, so the new SYN's is
 * already newer than any the peer saw; one second as Linux waits
 * (tcp_twsk_unique) leaves room for a peer's coarser idea of "newer". */
#define TW_REUSE_AFTER_US 1000000

static_assert(sizeof(struct mg_tcp_tw) <= 64, "a TIME-WAIT record is one cache line");

MG_RESULT tw_init(struct mg_tcp_stack *s)
{
	struct rte_hash_parameters hp;
	char hname[RTE_HASH_NAMESIZE];
	/* rte_hash positions run 0..entries-1 without a multi-writer cache. */
	uint32_t n = RTE_MAX(s->p.time_wait_max, 64u);

	s->tw_oldest = s->tw_newest = MG_TCP_TW_NONE;
	snprintf(hname, sizeof(hname), "%s_tw", s->p.name);
	memset(&hp, 0, sizeof(hp));
	hp.name = hname;
	hp.entries = n;
	hp.key_len = sizeof(struct mg_tcp_key);
	hp.hash_func = rte_hash_crc;
	hp.hash_func_init_val = (uint32_t)isn_siphash(s->p.isn_secret, "twhash", 6);
	hp.socket_id = s->p.socket_id;
	hp.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE; /* every record fits */
	s->tw_hash = rte_hash_create(&hp);
	MG_ENSURE(s->tw_hash, DPDK, "tcp: rte_hash_create(%s): %s", hname,
		  rte_strerror(rte_errno));
	s->tw = rte_zmalloc_socket("mg_tcp_tw", sizeof(*s->tw) * n, RTE_CACHE_LINE_SIZE,
				   s->p.socket_id);
	MG_ENSURE(s->tw, NOMEM, "tcp: %u TIME-WAIT records: out of memory",
		  s->p.time_wait_max);
	return 0;
}

void tw_free(struct mg_tcp_stack *s)
{
	rte_hash_free(s->tw_hash);
	rte_free(s->tw);
	s->tw_hash = NULL;
	s->tw = NULL;
}

struct mg_tcp_tw *tw_lookup(const struct mg_tcp_stack *s, const struct mg_tcp_key *k)
{
	int32_t pos;

	if (s->tw_count == 0)
		return NULL; /* no record: no hash lookup */
	pos = rte_hash_lookup(s->tw_hash, k);
	return pos < 0 ? NULL : &s->tw[pos];
}

static uint32_t tw_index(const struct mg_tcp_stack *s, const struct mg_tcp_tw *t)
{
	return (uint32_t)(t - s->tw);
}

static void fifo_unlink(struct mg_tcp_stack *s, struct mg_tcp_tw *t)
{
	if (t->older != MG_TCP_TW_NONE)
		s->tw[t->older].newer = t->newer;
	else
		s->tw_oldest = t->newer;
	if (t->newer != MG_TCP_TW_NONE)
		s->tw[t->newer].older = t->older;
	else
		s->tw_newest = t->older;
}

/* The newest end of the FIFO, 2 MSL from now. */
static void fifo_push(struct mg_tcp_stack *s, struct mg_tcp_tw *t)
{
	uint32_t i = tw_index(s, t);

	t->expire = s->now + s->p.time_wait;
	t->newer = MG_TCP_TW_NONE;
	t->older = s->tw_newest;
	if (s->tw_newest != MG_TCP_TW_NONE)
		s->tw[s->tw_newest].newer = i;
	else
		s->tw_oldest = i;
	s->tw_newest = i;
}

void tw_remove(struct mg_tcp_stack *s, struct mg_tcp_tw *t, enum mg_tcp_close_reason r)
{
	fifo_unlink(s, t);
	rte_hash_del_key(s->tw_hash, &t->key);
	s->tw_count--;
	STAT_SUB(s->st.conns[MG_TCP_TIME_WAIT], 1);
	STAT_ADD(s->st.closes[r], 1);
}

bool tw_add(struct mg_tcp_stack *s, const struct mg_tcp_conn *c)
{
	struct mg_tcp_tw *t;
	int32_t pos;

	if (s->tw_count >= s->p.time_wait_max && s->tw_oldest != MG_TCP_TW_NONE) {
		CTR(s, tw_evicted);
		tw_remove(s, &s->tw[s->tw_oldest], MG_TCP_CLOSE_NORMAL);
	}
	pos = rte_hash_add_key(s->tw_hash, &c->key);
	if (pos < 0)
		return false;
	t = &s->tw[pos];
	t->key = c->key;
	t->snd_nxt = c->snd_max;
	t->rcv_nxt = c->rcv_nxt;
	t->ts_recent = c->ts_recent;
	t->ts_offset = c->ts_offset;
	t->ts_ok = !!(c->flags & TF_TS_OK);
	t->port = c->port;
	t->tos = c->tos;
	t->rcv_wscale = c->rcv_wscale;
	memcpy(t->peer_mac, c->peer_mac, 6);
	fifo_push(s, t);
	s->tw_count++;
	STAT_ADD(s->st.conns[MG_TCP_TIME_WAIT], 1);
	return true;
}

/* RFC 6191 (passive side): a SYN may take the tuple over if it is clearly
 * from a newer incarnation: a newer timestamp when the old one had them, else
 * a sequence number past the old one's. */
bool tw_syn_reusable(const struct mg_tcp_tw *t, const struct tcp_seg *g)
{
	if (t->ts_ok && g->o.ts_ok)
		return SEQ_GT(g->o.tsval, t->ts_recent);
	return SEQ_GT(g->seq, t->rcv_nxt);
}

/* Active side: our SYN on the tuple must be what a peer still in TIME-WAIT
 * accepts under RFC 6191, a newer timestamp: the old incarnation had them and
 * our TS clock (per tuple, monotonic) moved on since the last one we sent. */
bool tw_connect_reusable(const struct mg_tcp_stack *s, const struct mg_tcp_tw *t)
{
	return t->ts_ok && s->now >= t->expire - s->p.time_wait + TW_REUSE_AFTER_US;
}

/* Enough of a connection to send from the record: an ACK with our timestamp. */
static void tw_ack(struct mg_tcp_stack *s, const struct mg_tcp_tw *t, bool challenge)
{
	struct mg_tcp_conn c;

	memset(&c, 0, sizeof(c));
	c.key = t->key;
	c.state = MG_TCP_TIME_WAIT;
	c.port = t->port;
	memcpy(c.peer_mac, t->peer_mac, 6);
	memcpy(c.our_mac, s->p.ports[t->port].mac, 6);
	c.tos = t->tos;
	c.rcv_wscale = t->rcv_wscale;
	c.snd_nxt = c.snd_max = t->snd_nxt;
	c.rcv_nxt = c.rcv_adv = t->rcv_nxt;
	c.ts_recent = t->ts_recent;
	c.ts_offset = t->ts_offset;
	c.flags = t->ts_ok ? TF_TS_OK : 0;
	c.rcvbuf = s->p.rcvbuf;
	c.mss = TCP_DEFAULT_MSS;
	if (challenge)
		tcp_send_challenge_ack(s, &c);
	else
		tcp_send_ack(s, &c);
}

/*
 * A segment for a record (RFC 9293 3.10.7.4 in TIME-WAIT): an RST is ignored
 * (RFC 1337), an old timestamp is dropped with an ACK (PAWS), a SYN that may
 * not take the tuple over gets a challenge ACK (RFC 5961 4.2), a FIN is ACKed
 * and restarts the 2 MSL, anything else that is not a plain ACK gets an ACK.
 */
void tw_input(struct mg_tcp_stack *s, struct mg_tcp_tw *t, const struct tcp_seg *g)
{
	if (g->flags & TH_RST) {
		DROP(s, RST_TIME_WAIT);
		return;
	}
	if (t->ts_ok && g->o.ts_ok && SEQ_LT(g->o.tsval, t->ts_recent)) {
		DROP(s, PAWS);
		tw_ack(s, t, false);
		return;
	}
	if (g->flags & TH_SYN) {
		DROP(s, SYN_IN_WINDOW);
		tw_ack(s, t, true);
		return;
	}
	if (!(g->flags & TH_ACK)) {
		DROP(s, NO_ACK);
		return;
	}
	if (g->flags & TH_FIN) {
		/* The peer did not get our ACK of its FIN: again, and 2 MSL more. */
		fifo_unlink(s, t);
		fifo_push(s, t);
	} else if (g->len) {
		DROP(s, DATA_AFTER_FIN);
	} else if (g->seq == t->rcv_nxt) {
		return; /* a plain ACK, e.g. of our FIN again: nothing owed */
	} else {
		DROP(s, NOT_ACCEPTABLE);
	}
	tw_ack(s, t, false);
}

/* End the records whose 2 MSL are over, oldest first, at most @p budget. */
void tw_expire(struct mg_tcp_stack *s, uint32_t budget)
{
	while (budget-- && s->tw_oldest != MG_TCP_TW_NONE &&
	       s->tw[s->tw_oldest].expire <= s->now)
		tw_remove(s, &s->tw[s->tw_oldest], MG_TCP_CLOSE_NORMAL);
}
