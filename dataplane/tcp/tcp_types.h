/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Types of the per-core TCP stack: states, counters, drop and close reasons,
 * the connection and the stack. Everything a worker owns lives in one
 * struct mg_tcp_stack; nothing here is shared between lcores.
 */
#ifndef MG_TCP_TYPES_H
#define MG_TCP_TYPES_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <rte_common.h>

struct mg_stage_clock;

struct rte_mbuf;
struct rte_mempool;
struct rte_hash;

#define MG_TCP_MAX_PORTS 4
#define MG_TCP_MAX_LISTENERS 16
#define MG_TCP_WHEEL_SLOTS 4096 /* 1 ms ticks: a 4 s horizon, farther re-inserts */
#define MG_TCP_SACK_MAX 4       /* blocks kept in the sender's scoreboard */
#define MG_TCP_OOO_CLASSES 33   /* out-of-order queues by bit length of their charge */

/* RFC 9293 states, in the order of the RFC's diagram. */
#define foreach_mg_tcp_state(_)        \
	_(CLOSED, closed)              \
	_(LISTEN, listen)              \
	_(SYN_SENT, syn_sent)          \
	_(SYN_RCVD, syn_rcvd)          \
	_(ESTABLISHED, established)    \
	_(FIN_WAIT_1, fin_wait_1)      \
	_(FIN_WAIT_2, fin_wait_2)      \
	_(CLOSE_WAIT, close_wait)      \
	_(CLOSING, closing)            \
	_(LAST_ACK, last_ack)          \
	_(TIME_WAIT, time_wait)

enum mg_tcp_state {
#define _(sym, name) MG_TCP_##sym,
	foreach_mg_tcp_state(_)
#undef _
	MG_TCP_STATE__COUNT
};

/* Events and bound hits, one counter each (single writer: the worker). */
#define foreach_mg_tcp_counter(_)                                         \
	_(segs_in, "segments received")                                   \
	_(segs_out, "segments sent")                                      \
	_(bytes_in, "payload bytes accepted in order")                    \
	_(bytes_out, "payload bytes sent (first transmissions)")          \
	_(retransmits, "segments retransmitted")                          \
	_(retransmit_bytes, "payload bytes retransmitted")                \
	_(rto_fires, "retransmission timeouts")                           \
	_(fast_retransmits, "fast retransmits (3 dupacks or SACK)")       \
	_(sack_rexmits, "retransmissions of SACK holes in recovery")      \
	_(recoveries, "fast recovery episodes")                           \
	_(tlp_probes, "tail loss probes sent (RFC 8985)")                 \
	_(lost_rexmit_repairs, "holes resent again: a retransmission was lost") \
	_(persist_probes, "zero-window probes sent")                      \
	_(keepalive_probes, "keepalive probes sent")                      \
	_(delayed_acks, "ACKs sent by the delayed-ACK timer")             \
	_(acks_sent, "pure ACKs sent")                                    \
	_(syncookies_sent, "SYN-ACKs carrying a SYN cookie")              \
	_(syncookies_validated, "connections made from a valid cookie")   \
	_(syncookies_failed, "ACKs to a listener with a bad cookie")      \
	_(syncookies_ignored, "ACKs to a listener not tried as a cookie: no SYN-queue overflow lately") \
	_(ooo_segs, "out-of-order segments queued")                       \
	_(ooo_bytes, "out-of-order payload bytes queued")                 \
	_(ooo_reneged, "out-of-order queues dropped to take in-order data") \
	_(ooo_pruned, "other connections' out-of-order queues freed under core memory pressure (largest first)") \
	_(collapsed_segs, "small segments copied into the previous buffer instead of holding their own") \
	_(time_wait_held, "TIME-WAIT ends put off: the application has unread data") \
	_(dup_bytes, "duplicate payload bytes received")                  \
	_(challenge_acks, "RFC 5961 challenge ACKs sent")                 \
	_(challenge_acks_conn_limited, "challenge ACKs suppressed: one went to this connection lately") \
	_(challenge_acks_global_limited, "challenge ACKs suppressed: the core's budget for this epoch is spent") \
	_(rst_sent, "RSTs sent")                                          \
	_(rst_recv, "RSTs that reset a connection")                       \
	_(active_opens, "connect() calls that sent a SYN")                \
	_(passive_opens, "connections accepted")                          \
	_(tw_recycled, "TIME-WAIT tuples reused by a new connection (RFC 6191)") \
	_(tw_evicted, "TIME-WAIT records ended early: the TIME-WAIT table was full") \
	_(mem_bound_hits, "segments or sends refused by the per-core memory bound") \
	_(rcvbuf_bound_hits, "receive data beyond the receive buffer")    \
	_(ooo_bound_hits, "out-of-order segments refused by the queue bound") \
	_(ooo_share_hits, "out-of-order segments refused: the core's out-of-order share is full") \
	_(sndbuf_bound_hits, "sends cut short by the send-buffer bound")  \
	_(conn_bound_hits, "connections refused: table full")             \
	_(backlog_bound_hits, "SYNs past a listener's backlog")           \
	_(tx_ring_full, "segments dropped: TX ring full")                 \
	_(alloc_failures, "mbuf allocation failures")                     \
	_(timer_budget_hits, "timer runs that stopped at the work bound") \
	_(pmtu_updates, "MSS lowered by ICMP fragmentation-needed")       \
	_(icmp_ignored, "ICMP errors for no connection or out of window")

enum mg_tcp_counter {
#define _(sym, desc) MG_TCP_CTR_##sym,
	foreach_mg_tcp_counter(_)
#undef _
	MG_TCP_CTR__COUNT
};

/* Every segment the stack drops, by reason. */
#define foreach_mg_tcp_drop(_)                                            \
	_(CHAINED, chained, "received segment spans several mbufs")       \
	_(MALFORMED, malformed, "segment offsets disagree with the frame") \
	_(BAD_OPTIONS, bad_options, "TCP option with an illegal length")  \
	_(NO_CONN, no_conn, "no connection and no listener (RST sent)")   \
	_(LISTEN_NOT_SYN, listen_not_syn, "segment to a listener without SYN") \
	_(LISTEN_RST, listen_rst, "RST to a listener")                   \
	_(SYN_SENT_BAD_ACK, syn_sent_bad_ack, "SYN-SENT: unacceptable ACK") \
	_(SYN_SENT_NO_SYN, syn_sent_no_syn, "SYN-SENT: neither SYN nor RST") \
	_(SYN_SENT_RST, syn_sent_rst, "SYN-SENT: RST without a valid ACK") \
	_(NOT_ACCEPTABLE, not_acceptable, "sequence number outside the window") \
	_(PAWS, paws, "timestamp older than TS.Recent (PAWS)")           \
	_(NO_TIMESTAMP, no_timestamp, "segment without the negotiated timestamp") \
	_(RST_NOT_EXACT, rst_not_exact, "RST in window but not at RCV.NXT") \
	_(RST_TIME_WAIT, rst_time_wait, "RST in TIME-WAIT (RFC 1337)")   \
	_(SYN_IN_WINDOW, syn_in_window, "SYN in a synchronized state")   \
	_(NO_ACK, no_ack, "segment without ACK in a synchronized state") \
	_(ACK_TOO_OLD, ack_too_old, "ACK below SND.UNA - MAX.SND.WND")   \
	_(ACK_UNSENT, ack_unsent, "ACK for data not yet sent")           \
	_(SYN_RCVD_BAD_ACK, syn_rcvd_bad_ack, "SYN-RECEIVED: unacceptable ACK") \
	_(DATA_AFTER_FIN, data_after_fin, "data after the peer's FIN")   \
	_(DATA_AFTER_CLOSE, data_after_close, "data after the application closed") \
	_(RCVBUF, rcvbuf, "in-order data past the memory bound")         \
	_(OOO_BOUND, ooo_bound, "out-of-order segment past the queue bound") \
	_(DUPLICATE, duplicate, "segment carries only old data")         \
	_(SYN_DATA, syn_data, "payload on a SYN (not queued)")           \
	_(CONN_TABLE_FULL, conn_table_full, "no connection slot for a SYN") \
	_(SYNCOOKIE_BAD, syncookie_bad, "ACK with an invalid SYN cookie") \
	_(SYNCOOKIE_NO_OVERFLOW, syncookie_no_overflow, "ACK to a listener whose SYN queue has not overflowed lately")

enum mg_tcp_drop {
#define _(sym, name, desc) MG_TCP_DROP_##sym,
	foreach_mg_tcp_drop(_)
#undef _
	MG_TCP_DROP__COUNT
};

/* Why a connection ended; every close is counted by reason. */
#define foreach_mg_tcp_close(_)                                           \
	_(NONE, none, "still open")                                       \
	_(NORMAL, normal, "both FINs exchanged")                          \
	_(RESET, reset, "peer sent RST")                                  \
	_(REFUSED, refused, "peer answered the SYN with RST")             \
	_(ABORTED, aborted, "local abort (RST sent)")                     \
	_(TIMEOUT, timeout, "retransmissions exhausted")                  \
	_(SYN_TIMEOUT, syn_timeout, "handshake timed out")                \
	_(HANDSHAKE_TIMEOUT, handshake_timeout, "half-open handshake past handshake_timeout") \
	_(ZERO_WINDOW_TIMEOUT, zero_window_timeout, "peer's window stayed zero past zero_window_timeout (RST sent)") \
	_(KEEPALIVE, keepalive, "keepalive probes unanswered")            \
	_(DATA_AFTER_CLOSE, data_after_close, "data arrived after close (RST sent)") \
	_(UNREAD_DATA, unread_data, "closed with unread data (RST sent)") \
	_(FIN_WAIT2_TIMEOUT, fin_wait2_timeout, "orphan FIN-WAIT-2 timed out") \
	_(REJECTED, rejected, "listener's accept refused the connection") \
	_(TW_RECYCLED, tw_recycled, "TIME-WAIT reused by a new connection") \
	_(SHUTDOWN, shutdown, "stack torn down")

enum mg_tcp_close_reason {
#define _(sym, name, desc) MG_TCP_CLOSE_##sym,
	foreach_mg_tcp_close(_)
#undef _
	MG_TCP_CLOSE__COUNT
};

/* What the upper layer is told about a connection. */
enum mg_tcp_event {
	MG_TCP_EV_CONNECTED = 1u << 0, /* active open completed */
	MG_TCP_EV_READABLE = 1u << 1,  /* in-order data queued */
	MG_TCP_EV_WRITABLE = 1u << 2,  /* send space freed after a refused send */
	MG_TCP_EV_PEER_FIN = 1u << 3,  /* peer half-closed: no more data */
	MG_TCP_EV_CLOSED = 1u << 4,    /* the last event: the handle dies after it */
};

enum mg_tcp_cc_algo { MG_TCP_CC_CUBIC = 0, MG_TCP_CC_NEWRENO };

struct mg_tcp_conn;

/** Callbacks of the upper layer. Events are delivered at the end of the stack
 * call that produced them, never while the stack is mid-way through a segment,
 * so a callback may call any API function, on any connection. */
struct mg_tcp_ops {
	/** Listener only: a connection reached ESTABLISHED. Return its user
	 * pointer, or NULL to refuse it (RST). */
	void *(*accept)(void *listen_user, struct mg_tcp_conn *c);
	/** Events of one connection (a mask of enum mg_tcp_event). */
	void (*event)(void *user, struct mg_tcp_conn *c, unsigned events);
};

/* Four-tuple, network byte order, as seen from this host. 12 bytes, no padding. */
struct mg_tcp_key {
	uint32_t lip, rip;
	uint16_t lport, rport;
};

/* Connection flags. */
enum {
	TF_TS_OK = 1u << 0,      /* timestamps negotiated */
	TF_SACK_OK = 1u << 1,    /* SACK permitted both ways */
	TF_WS_OK = 1u << 2,      /* window scaling negotiated */
	TF_ACK_NOW = 1u << 3,    /* an ACK must go out at the end of input */
	TF_DELACK = 1u << 4,     /* an ACK is owed, the delayed-ACK timer runs */
	TF_FIN_QUEUED = 1u << 5, /* the app shut down its write side */
	TF_FIN_SENT = 1u << 6,   /* FIN has a sequence number (SND.MAX covers it) */
	TF_DETACHED = 1u << 7,   /* the app closed: no events, data after → RST */
	TF_RECOVERY = 1u << 8,   /* in fast recovery (NewReno / SACK) */
	TF_TIMING = 1u << 9,     /* an RTT sample is being timed (Karn) */
	TF_PERSIST = 1u << 10,   /* the rexmt timer is the persist timer */
	TF_PASSIVE = 1u << 11,   /* born from a listener */
	TF_RFIN = 1u << 12,      /* peer's FIN seen out of order at rcv_fin */
	TF_PEER_FIN = 1u << 13,  /* peer's FIN consumed */
	TF_WANT_WRITE = 1u << 14,/* a send was refused: report WRITABLE */
	TF_ON_PENDING = 1u << 15,/* queued on the stack's output-pending list */
	TF_ON_EVLIST = 1u << 16, /* queued on the event list */
	TF_IN_WHEEL = 1u << 17,
	TF_REAP = 1u << 18,      /* CLOSED: return to the pool after events */
	TF_FREE = 1u << 19,      /* in the free pool */
	TF_ATTACHED = 1u << 20,  /* the app holds the handle and gets events */
	TF_ACCEPT = 1u << 21,    /* passive: call the listener's accept first */
	TF_TLP = 1u << 22,       /* the rexmt timer is a tail loss probe (RFC 8985) */
	TF_TLP_SENT = 1u << 23,  /* one probe per flight until new data is ACKed */
	TF_ACK_IMMED = 1u << 24, /* the owed ACK may not wait for the burst's end */
};

/** One connection. Sequence variables are RFC 9293's; times are microseconds
 * of the caller's clock. */
struct mg_tcp_conn {
	struct mg_tcp_key key;
	uint8_t state;
	uint8_t port;            /* index into params.ports */
	uint8_t snd_wscale, rcv_wscale;
	uint32_t flags;
	uint8_t peer_mac[6], our_mac[6];
	uint16_t mss;            /* payload per segment before options */
	uint8_t close_reason;
	uint8_t backoff;         /* RTO / persist backoff shift */
	uint16_t dupacks;
	uint16_t unacked_segs;   /* in-order segments not yet ACKed (delayed ACK) */

	/* send side */
	uint32_t iss, snd_una, snd_nxt, snd_max, snd_wnd, snd_wl1, snd_wl2;
	uint32_t max_sndwnd;
	uint32_t snd_buf_seq;    /* sequence number of the first byte in sndq */
	struct rte_mbuf *sndq_head, *sndq_tail; /* segments linked by next */
	uint32_t sndq_bytes, sndq_true;
	uint32_t sndbuf;
	uint32_t sack_blk[MG_TCP_SACK_MAX][2]; /* scoreboard: sacked [start,end) */
	uint8_t n_sack;
	uint32_t rexmit_next;    /* recovery: holes below were resent */
	uint64_t rxt_round_at;   /* when resending from SND.UNA last started */

	/* receive side */
	uint32_t irs, rcv_nxt, rcv_adv;  /* rcv_adv: right edge we advertised */
	uint32_t rcv_fin;        /* sequence of an out-of-order FIN */
	uint32_t rcvbuf;
	struct rte_mbuf *rcvq_head, *rcvq_tail;
	uint32_t rcvq_bytes, rcvq_true;
	struct rte_mbuf *ooo_head; /* sorted by seq (in hash.usr), linked by next */
	uint32_t ooo_bytes, ooo_true;
	uint16_t ooo_segs;
	uint32_t ooo_last;       /* seq of the latest out-of-order arrival (SACK) */
	uint8_t ooo_class;       /* index in stack.ooo_by_size, 0: not listed */
	TAILQ_ENTRY(mg_tcp_conn) ooo_link;

	/* timestamps (RFC 7323) */
	uint32_t ts_recent, ts_offset, last_ack_sent;

	/* RTT and RTO (RFC 6298), microseconds */
	uint32_t srtt, rttvar, rto;
	uint32_t rtt_seq;
	uint64_t rtt_start;
	uint8_t retries;         /* consecutive RTOs / SYN retransmits */

	/* congestion control: bytes */
	uint32_t cwnd, ssthresh, recover;
	uint32_t cubic_wmax, cubic_west, cubic_ack_cnt;
	uint64_t cubic_epoch;
	double cubic_k;

	/* timers: absolute deadlines, 0 = off */
	uint64_t t_rexmt, t_delack, t_keep, t_misc;
	uint64_t timer_at;
	uint64_t last_rx;
	uint64_t chack_next;     /* no challenge ACK before then (per-connection limit) */
	uint64_t zwnd_since;     /* the peer's window is zero since, 0: it is not */
	uint8_t keep_probes;
	uint8_t tos;             /* DiffServ + ECN byte of our segments */
	TAILQ_ENTRY(mg_tcp_conn) wheel_link;
	TAILQ_ENTRY(mg_tcp_conn) pend_link;  /* output pending */
	TAILQ_ENTRY(mg_tcp_conn) ev_link;    /* events pending / free pool */
	uint32_t ev_pending;

	const struct mg_tcp_ops *ops;
	void *user;
	int16_t listener;        /* index of the listener that made it, or -1 */
} __rte_cache_aligned;

TAILQ_HEAD(mg_tcp_conn_list, mg_tcp_conn);

/** What is left of a connection the application closed, once it reached
 * TIME-WAIT (tcp_timewait.c): enough to ACK a retransmitted FIN, keep old
 * duplicates out (PAWS) and judge a new SYN on the tuple (RFC 6191). */
struct mg_tcp_tw {
	struct mg_tcp_key key;
	uint32_t snd_nxt, rcv_nxt;
	uint32_t ts_recent, ts_offset;
	uint32_t older, newer;   /* expiry FIFO, indices; MG_TCP_TW_NONE ends it */
	uint64_t expire;         /* end of 2 MSL, µs */
	uint8_t peer_mac[6];
	uint8_t port;
	uint8_t ts_ok;           /* timestamps were negotiated */
	uint8_t tos;
	uint8_t rcv_wscale;
};

#define MG_TCP_TW_NONE UINT32_MAX

struct mg_tcp_listener {
	bool used;
	uint32_t ip;             /* 0: any of ours */
	uint16_t port;           /* network byte order */
	uint32_t backlog;        /* handshakes in progress before SYN cookies */
	uint32_t embryonic;
	uint64_t cookies_until;  /* ACKs are tried as cookies until then: the last
				  * overflow + params.syncookie_valid (0: never) */
	const struct mg_tcp_ops *ops;
	void *user;
};

/** One port of the worker as the stack sees it. */
struct mg_tcp_port {
	uint8_t mac[6];
	uint32_t ip;             /* network byte order */
	uint16_t mtu;            /* IPv4 MTU, 1500 by default */
};

enum {
	MG_TCP_F_NO_TS = 1u << 0,
	MG_TCP_F_NO_SACK = 1u << 1,
	MG_TCP_F_NO_WS = 1u << 2,
	MG_TCP_F_CSUM_OFFLOAD = 1u << 3, /* NIC fills IPv4/TCP checksums */
};

/** Init parameters; mg_tcp_params_default() fills every field. */
struct mg_tcp_params {
	const char *name;        /* unique per process (rte_hash name) */
	int socket_id;
	uint32_t max_conns;
	uint32_t sndbuf, rcvbuf; /* per connection, payload bytes */
	uint64_t mem_max;        /* per core: buffer bytes held in all queues */
	uint16_t ooo_max_segs;   /* per connection */
	/* A connection's receive and out-of-order queues together hold at most
	 * 2 * rcvbuf + 64 KiB of buffers (mbuf truesize); out-of-order queues
	 * of the whole core at most mem_max / 2. */
	uint32_t tx_ring_size;   /* power of two: segments awaiting mg_tcp_tx_take */
	uint16_t tx_copy_max;    /* payloads up to this size are copied, not chained */
	uint32_t flags;          /* MG_TCP_F_* */
	struct rte_mempool *pool;/* TX headers, indirect mbufs, copies */
	uint8_t isn_secret[16];
	uint16_t n_ports;
	struct mg_tcp_port ports[MG_TCP_MAX_PORTS];
	enum mg_tcp_cc_algo cc;
	/* times in microseconds */
	uint32_t rto_init, rto_min, rto_max, delack, time_wait, fin_wait2;
	uint32_t time_wait_max;         /* TIME-WAIT records kept (0: 4 x max_conns);
					 * past it the oldest goes */
	uint64_t keep_idle;             /* 0: keepalive off (RFC 9293 MUST-28: >= 2 h if on by default) */
	uint32_t keep_intvl;
	uint32_t handshake_timeout;     /* passive SYN-RECEIVED lifetime, 0: off */
	uint32_t zero_window_timeout;   /* persist gives up (RST), 0: never */
	uint8_t keep_probes, syn_retries, max_retries;
	uint8_t ttl;                    /* IPv4 TTL of our segments (MUST-49) */
	uint32_t challenge_ack_limit;   /* per stack per epoch, on average (randomized) */
	uint32_t challenge_ack_gap;     /* µs between challenge ACKs of one connection */
	uint32_t syncookie_valid;       /* µs after the last SYN-queue overflow that
					 * ACKs to the listener are tried as cookies */
	uint32_t timer_budget;          /* connections fired per mg_tcp_timers_run */
	uint32_t output_budget;         /* segments per connection per output pass */
};

struct mg_tcp_stats {
	uint64_t ctr[MG_TCP_CTR__COUNT];
	uint64_t drops[MG_TCP_DROP__COUNT];
	uint64_t closes[MG_TCP_CLOSE__COUNT];
	uint64_t conns[MG_TCP_STATE__COUNT]; /* connections by state, now */
	uint64_t mem_used;                   /* buffer bytes held now */
	uint64_t ooo_mem;                    /* of which in out-of-order queues */
};

struct mg_tcp_stack {
	struct mg_tcp_params p;
	struct rte_hash *hash;
	struct mg_tcp_conn *conns;           /* p.max_conns, preallocated */
	struct mg_tcp_conn_list free_list;
	struct rte_hash *tw_hash;            /* TIME-WAIT tuples -> index into tw */
	struct mg_tcp_tw *tw;                /* p.time_wait_max, by tw_hash position */
	uint32_t tw_oldest, tw_newest;       /* expiry FIFO: all wait the same 2 MSL */
	uint32_t tw_count;                   /* records in tw_hash */
	struct mg_tcp_conn_list pending;     /* want output when the TX ring drains */
	struct mg_tcp_conn_list evlist;      /* events to deliver, conns to reap */
	struct mg_tcp_conn_list wheel[MG_TCP_WHEEL_SLOTS];
	/* Connections holding out-of-order data, by bit length of ooo_true:
	 * pruning takes from the highest class first, in O(1). */
	struct mg_tcp_conn_list ooo_by_size[MG_TCP_OOO_CLASSES];
	uint64_t wheel_tick;                 /* next slot to run, in 1 ms ticks */
	struct mg_tcp_listener listeners[MG_TCP_MAX_LISTENERS];
	struct rte_mbuf **tx;                /* ring of p.tx_ring_size */
	uint32_t tx_head, tx_tail;
	uint64_t now;
	uint64_t chack_epoch_end;            /* challenge-ACK budget: epoch end */
	uint32_t chack_left;                 /* challenge ACKs left in this epoch */
	uint64_t rnd_ctr;                    /* draws from isn_random() */
	uint16_t ip_id;
	bool delivering;
	struct mg_stage_clock *clock;          /* the worker's, or NULL: where cycles go */
	struct mg_tcp_stats st;
};

#endif /* MG_TCP_TYPES_H */
