/* SPDX-License-Identifier: BSD-3-Clause */
/* Internal interfaces between the TCP stack's files. Not for other rooms. */
#ifndef MG_TCP_PRIV_H
#define MG_TCP_PRIV_H

#include <rte_mbuf.h>

#include "stage.h"
#include "tcp.h"

/* Modular sequence comparisons (RFC 9293 3.4). */
#define SEQ_LT(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) < 0)
#define SEQ_LEQ(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) <= 0)
#define SEQ_GT(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) > 0)
#define SEQ_GEQ(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)) >= 0)
#define SEQ_MAX(a, b) (SEQ_GT(a, b) ? (a) : (b))
#define SEQ_MIN(a, b) (SEQ_LT(a, b) ? (a) : (b))

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10
#define TH_URG 0x20

#define TCP_HDR_LEN 20
#define TCP_OPT_MAX 40
#define HDRS_LEN (14 + 20 + TCP_HDR_LEN) /* Ethernet + IPv4 + TCP without options */
#define TCP_MAX_WIN 65535u
#define TCP_MAX_WSCALE 14
#define TCP_TS_LEN 12  /* NOP NOP TS: what every segment carries with TS on */
#define TCP_DEFAULT_MSS 536

/* Statistics have one writer (this lcore) and readers elsewhere (telemetry):
 * relaxed stores keep each 64-bit update whole without a locked instruction. */
#define STAT_ADD(field, n) __atomic_store_n(&(field), (field) + (n), __ATOMIC_RELAXED)
#define STAT_SUB(field, n) __atomic_store_n(&(field), (field) - (n), __ATOMIC_RELAXED)
#define CTR(s, name) STAT_ADD((s)->st.ctr[MG_TCP_CTR_##name], 1)
#define CTR_ADD(s, name, n) STAT_ADD((s)->st.ctr[MG_TCP_CTR_##name], (n))
#define DROP(s, name) STAT_ADD((s)->st.drops[MG_TCP_DROP_##name], 1)

/* Options of one received segment, validated. */
struct tcp_opts {
	bool mss_ok, ws_ok, sack_perm, ts_ok;
	uint16_t mss;
	uint8_t ws;
	uint8_t n_sack;
	uint32_t tsval, tsecr;
	uint32_t sack[4][2];
};

/* One received segment, decoded. m is trimmed to the payload. */
struct tcp_seg {
	uint32_t seq, ack;
	uint32_t len;            /* payload bytes */
	uint16_t wnd;
	uint8_t flags;
	uint8_t port;
	uint8_t src_mac[6], dst_mac[6];
	struct tcp_opts o;
	struct rte_mbuf *m;      /* payload, or NULL once consumed */
};

/* Room enough to report WRITABLE: the send buffer is empty or half free. */
static inline bool sndbuf_half_free(const struct mg_tcp_conn *c)
{
	return c->sndq_bytes == 0 || c->sndbuf - c->sndq_bytes >= c->sndbuf / 2;
}

static inline uint32_t seg_seqlen(const struct tcp_seg *g)
{
	return g->len + !!(g->flags & TH_SYN) + !!(g->flags & TH_FIN);
}

static inline uint32_t ts_now(const struct mg_tcp_stack *s, const struct mg_tcp_conn *c)
{
	return (uint32_t)(s->now / 1000) + c->ts_offset; /* 1 ms TS clock */
}

/* Core memory is used up by what cannot be taken back: out-of-order data
 * can (mem_reclaim), so it alone never closes anyone's window. */
static inline bool mem_pressed(const struct mg_tcp_stack *s)
{
	return s->st.mem_used - s->st.ooo_mem >= s->p.mem_max;
}

/* tcp_conn.c */
struct mg_tcp_conn *conn_alloc(struct mg_tcp_stack *s, const struct mg_tcp_key *k);
void conn_set_state(struct mg_tcp_stack *s, struct mg_tcp_conn *c, enum mg_tcp_state st);
void conn_close(struct mg_tcp_stack *s, struct mg_tcp_conn *c, enum mg_tcp_close_reason r);
void conn_event(struct mg_tcp_stack *s, struct mg_tcp_conn *c, unsigned ev);
void conn_deliver(struct mg_tcp_stack *s);
void conn_init_from_port(struct mg_tcp_stack *s, struct mg_tcp_conn *c);
uint32_t conn_truesize(const struct rte_mbuf *m);
void conn_sndq_ack(struct mg_tcp_stack *s, struct mg_tcp_conn *c, uint32_t bytes);
void conn_enter_time_wait(struct mg_tcp_stack *s, struct mg_tcp_conn *c);
int conn_listener_find(const struct mg_tcp_stack *s, uint32_t ip, uint16_t port);

void conn_time_wait_compact(struct mg_tcp_stack *s, struct mg_tcp_conn *c);

/* tcp_timewait.c */
MG_RESULT tw_init(struct mg_tcp_stack *s);
void tw_free(struct mg_tcp_stack *s);
struct mg_tcp_tw *tw_lookup(const struct mg_tcp_stack *s, const struct mg_tcp_key *k);
bool tw_add(struct mg_tcp_stack *s, const struct mg_tcp_conn *c);
void tw_remove(struct mg_tcp_stack *s, struct mg_tcp_tw *t, enum mg_tcp_close_reason r);
bool tw_syn_reusable(const struct mg_tcp_tw *t, const struct tcp_seg *g);
bool tw_connect_reusable(const struct mg_tcp_stack *s, const struct mg_tcp_tw *t);
void tw_input(struct mg_tcp_stack *s, struct mg_tcp_tw *t, const struct tcp_seg *g);
void tw_expire(struct mg_tcp_stack *s, uint32_t budget);

/* tcp_output.c */
void tcp_output(struct mg_tcp_stack *s, struct mg_tcp_conn *c);
void tcp_send_ack(struct mg_tcp_stack *s, struct mg_tcp_conn *c);
void tcp_send_challenge_ack(struct mg_tcp_stack *s, struct mg_tcp_conn *c);
void tcp_send_syn(struct mg_tcp_stack *s, struct mg_tcp_conn *c);
void tcp_send_rst(struct mg_tcp_stack *s, struct mg_tcp_conn *c);
void tcp_send_rst_reply(struct mg_tcp_stack *s, const struct mg_tcp_key *k,
			const struct tcp_seg *g);
void tcp_rexmit_one(struct mg_tcp_stack *s, struct mg_tcp_conn *c, uint32_t seq);
void tcp_send_probe(struct mg_tcp_stack *s, struct mg_tcp_conn *c, bool keepalive);
bool tcp_emit(struct mg_tcp_stack *s, struct mg_tcp_conn *c, uint32_t seq, uint32_t len,
	      uint8_t flags);
uint32_t tcp_rcv_window(const struct mg_tcp_stack *s, const struct mg_tcp_conn *c);
uint32_t tcp_tx_space(const struct mg_tcp_stack *s);
void tcp_pending_add(struct mg_tcp_stack *s, struct mg_tcp_conn *c);
uint16_t tcp_eff_mss(const struct mg_tcp_conn *c);

/* tcp_timer.c */
void timer_sched(struct mg_tcp_stack *s, struct mg_tcp_conn *c);
void timer_unlink(struct mg_tcp_stack *s, struct mg_tcp_conn *c);
void timer_rexmt_arm(struct mg_tcp_stack *s, struct mg_tcp_conn *c);
void timer_persist_arm(struct mg_tcp_stack *s, struct mg_tcp_conn *c);
void timer_rtt_sample(struct mg_tcp_stack *s, struct mg_tcp_conn *c, uint32_t rtt);
void timer_keep_arm(struct mg_tcp_stack *s, struct mg_tcp_conn *c);

/* tcp_cc.c */
void cc_init(struct mg_tcp_stack *s, struct mg_tcp_conn *c);
void cc_on_ack(struct mg_tcp_stack *s, struct mg_tcp_conn *c, uint32_t acked);
void cc_on_loss(struct mg_tcp_stack *s, struct mg_tcp_conn *c);
void cc_on_rto(struct mg_tcp_stack *s, struct mg_tcp_conn *c);
void cc_dupack(struct mg_tcp_stack *s, struct mg_tcp_conn *c);
void cc_partial_or_full_ack(struct mg_tcp_stack *s, struct mg_tcp_conn *c,
			    uint32_t acked);
void sack_update(struct mg_tcp_conn *c, const struct tcp_opts *o);
void sack_prune(struct mg_tcp_conn *c);
bool sack_covers(const struct mg_tcp_conn *c, uint32_t seq, uint32_t *end);
uint32_t sack_bytes(const struct mg_tcp_conn *c);
uint32_t sack_pipe(const struct mg_tcp_conn *c);

/* tcp_reass.c */
void reass_insert(struct mg_tcp_stack *s, struct mg_tcp_conn *c, struct tcp_seg *g);
uint32_t reass_pull(struct mg_tcp_stack *s, struct mg_tcp_conn *c);
void reass_flush(struct mg_tcp_stack *s, struct mg_tcp_conn *c);
uint8_t reass_sack_blocks(const struct mg_tcp_conn *c, uint32_t blk[][2], uint8_t max);
bool rcvq_append(struct mg_tcp_stack *s, struct mg_tcp_conn *c, struct rte_mbuf *m);
bool mem_reclaim(struct mg_tcp_stack *s, uint32_t need);
uint32_t conn_rcv_bound(const struct mg_tcp_conn *c);

/* tcp_isn.c */
uint64_t isn_siphash(const uint8_t key[16], const void *data, size_t len);
uint32_t isn_generate(const struct mg_tcp_stack *s, const struct mg_tcp_key *k);
uint32_t isn_ts_offset(const struct mg_tcp_stack *s, const struct mg_tcp_key *k);
uint64_t isn_random(struct mg_tcp_stack *s);
uint32_t cookie_make(const struct mg_tcp_stack *s, const struct mg_tcp_key *k,
		     uint32_t peer_seq, uint16_t mss, uint8_t ws, bool sack);
bool cookie_check(const struct mg_tcp_stack *s, const struct mg_tcp_key *k,
		  uint32_t peer_seq, uint32_t cookie, uint16_t *mss, uint8_t *ws,
		  bool *sack);

#endif /* MG_TCP_PRIV_H */
