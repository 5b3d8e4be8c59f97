/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The L4 proxy of one worker: `tcp` listeners whose accepted connections are
 * spliced to a fresh connection to the listener's upstream, on the same
 * worker's TCP stack.
 *
 * Splicing moves mbuf chains, never copies: at most mg_tcp_send_space(other)
 * bytes leave a receive queue at a time, so a slow reader closes the window of
 * a fast writer instead of growing a buffer here (one refused remainder per
 * direction is kept and resent on WRITABLE). A FIN becomes a shutdown of the
 * other side once everything before it was handed over; a reset or a timeout
 * aborts the other side. Pairs come from a pool fixed at init.
 */
#ifndef MG_PROXY_H
#define MG_PROXY_H

#include <stdbool.h>
#include <stdint.h>

#include "http.h"
#include "mg_error.h"
#include "tcp/tcp.h"
#include "tls_record.h"
#include "tls_set.h"
#include "tls_svc.h"

#define MG_PROXY_MAX_LISTENERS MG_TCP_MAX_LISTENERS
#define MG_PROXY_CONNECT_TRIES 20      /* neighbour lookups before giving up */
#define MG_PROXY_RETRY_US 50000        /* between two of them */
#define MG_PROXY_PORT_TRIES 256        /* source ports tried per connect */
#define MG_PROXY_SPORT_TABLE 256       /* RFC 6056 alg. 4: per-destination counters */
#define MG_PROXY_MEM_RETRY_US 1000     /* a splice refused by the memory bound */
#define MG_PROXY_SWEEP_PAIRS 64        /* pairs checked for idleness per poll */
#define MG_PROXY_REAUTH_PAIRS 512      /* pairs re-authorized per poll after a swap */
#define MG_PROXY_REAUTH_CLOSES 32      /* ...of which closed at most, then a pause: */
#define MG_PROXY_REAUTH_GAP_US 500     /* 64 000 closes/s, 3 segments each, within the port's TX */
#define MG_PROXY_ID_LEN 256            /* longest peer SPIFFE ID a pair keeps, with the NUL */
#define MG_PROXY_PEER_BUCKETS 4096     /* per-source handshake counters (keyed hash) */
#define MG_PROXY_HS_KICK 16            /* waiting handshakes tried per poll */
#define MG_PROXY_AUTHZ_MAX 16          /* authorization verdicts counted (ctrl's enum) */
#define MG_PROXY_VERDICT_UPSTREAM_ID 0xffff /* event: the upstream's required ID changed */
#define MG_PROXY_L7_SHARE 4            /* one L7 state per this many pairs (at least one), */
#define MG_PROXY_L7_CAP 1024           /* at most this many per worker: ~25 KiB each */
#define MG_PROXY_L7_PEER_DIV 8         /* one peer holds at most 1/8 of them (at least 16) */

/* Why a proxied pair ended, or what refused one. Every end is counted once. */
#define foreach_mg_proxy_counter(_)                                       \
	_(accepted, "client connections accepted")                        \
	_(upstream_connects, "upstream SYNs sent")                        \
	_(upstream_connected, "upstream handshakes completed")            \
	_(closed_normal, "pairs ended with FINs both ways")                \
	_(closed_client_reset, "client reset or timed out: upstream aborted") \
	_(closed_upstream_reset, "upstream reset or timed out: client aborted") \
	_(upstream_refused, "upstream refused the SYN: client reset")     \
	_(upstream_syn_timeout, "upstream handshake timed out: client reset") \
	_(pool_full, "clients refused: pair pool full")                   \
	_(neigh_unresolved, "clients reset: upstream MAC never resolved") \
	_(neigh_requests, "resolve requests handed to the control thread") \
	_(neigh_ring_full, "resolve requests lost: ring full")           \
	_(no_source_port, "clients reset: upstream source ports exhausted (none free with our hash in MG_PROXY_PORT_TRIES)") \
	_(source_port_probes, "source ports tried for upstream connects")   \
	_(connect_failed, "clients reset: mg_tcp_connect failed")         \
	_(mem_waits, "splices refused by the core memory bound, retried") \
	_(closed_idle, "pairs that moved no byte for idle_timeout: both reset") \
	_(bytes_up, "bytes client to upstream")                           \
	_(bytes_down, "bytes upstream to client")                         \
	_(authz_allowed, "connections the policy allowed")               \
	_(authz_denied, "connections the policy denied (by verdict: authz)") \
	_(reauth_checked, "live connections re-authorized after a policy swap") \
	_(reauth_closed, "live connections closed: the new policy denies them") \
	_(no_local_svid, "refused: no SVID of ours for the workload (inbound upstream, outbound client)") \
	_(peer_id_too_long, "refused: peer SPIFFE ID longer than MG_PROXY_ID_LEN - 1 bytes") \
	_(tls_handshakes, "TLS handshakes started")                       \
	_(tls_established, "TLS handshakes completed")                    \
	_(tls_failed, "TLS handshakes failed (by error: tls_errors; by SVID reason: svid)") \
	_(tls_hs_timeout, "TLS handshakes past tls.handshake_timeout_ms: reset") \
	_(tls_hs_capped, "TLS handshakes that waited: tls.max_handshakes in flight") \
	_(tls_peer_capped, "TLS handshakes that waited: tls.peer_handshakes from their source") \
	_(tls_bad_record, "connections closed on a bad TLS record (by error: records)") \
	_(tls_alerts, "fatal alerts received")                            \
	_(tls_close_notify, "close_notify received")                      \
	_(tls_truncated, "connections whose TLS peer sent FIN inside a record: both sides reset") \
	_(tls_key_updates, "KeyUpdate messages received")                 \
	_(tls_records_in, "TLS records opened")                           \
	_(tls_records_out, "TLS records sealed")                         \
	_(l7_admitted, "connections admitted with per-request HTTP checks") \
	_(l7_unavailable, "refused: the policy asked for L7, no authorize_http (or a live pair without it)") \
	_(l7_pool_empty, "refused: L7 state pool empty (one per MG_PROXY_L7_SHARE pairs, at most MG_PROXY_L7_CAP)") \
	_(l7_peer_capped, "refused: the peer (inbound: SPIFFE ID, else address) holds its share of L7 states") \
	_(l7_requests, "HTTP request heads checked")                      \
	_(l7_allowed, "HTTP requests forwarded")                          \
	_(l7_denied, "HTTP requests answered 403 (by rule: ctrl's per-rule counters)") \
	_(l7_bad_requests, "HTTP requests refused by the parser (by reason: http_errors)") \
	_(l7_bad_paths, "HTTP requests with an ambiguous path: 400 (by reason: path_errors)") \
	_(l7_bad_responses, "pairs closed on a response the parser refused") \
	_(l7_tunnels, "CONNECT/Upgrade accepted by the upstream: opaque after") \
	_(l7_closed, "pairs closed after a 403 (on_deny close) or a 4xx of the parser")

enum mg_proxy_counter {
#define _(n, d) MG_PROXY_CTR_##n,
	foreach_mg_proxy_counter(_)
#undef _
	MG_PROXY_CTR__COUNT
};

enum mg_proxy_kind {
	MG_PROXY_PLAIN = 0, /* tcp: identity by source address */
	MG_PROXY_INBOUND,   /* mTLS server on the client side */
	MG_PROXY_OUTBOUND,  /* mTLS client on the upstream side */
};

/* One listener, addresses and ports in network byte order. */
struct mg_proxy_listener_conf {
	enum mg_proxy_kind kind;
	uint32_t listen_ip, upstream_ip;
	uint16_t listen_port, upstream_port;
	uint32_t backlog;
	uint8_t up_port;   /* stack port index that reaches the upstream */
	uint32_t next_hop; /* whose MAC the upstream SYN goes to (network order) */
	uint64_t idle_timeout_us; /* a pair that moves no byte this long is reset; 0: never */
	/* what the policy is asked about: the upstream, or for outbound the
	 * snapshot's service the upstream leads to */
	uint32_t dst_ip;
	uint16_t dst_port;
};

/* One authorization question: who, to where (network order), with what image. */
struct mg_proxy_authz_req {
	const char *peer_id;  /* NUL-terminated SPIFFE ID */
	const char *image;    /* "sha256:<hex>" or NULL */
	uint32_t dst_ip;
	uint16_t dst_port;
};

/* What authorize() admits: nothing, the connection, or the connection with
 * each HTTP request checked on its own (the policy's rules with http terms). */
enum mg_proxy_admit {
	MG_PROXY_DENY = 0,
	MG_PROXY_ALLOW = 1,
	MG_PROXY_ALLOW_L7 = 2,
};

/* One HTTP request on an L7 connection (strings not NUL-terminated). */
struct mg_proxy_http_req {
	const struct mg_proxy_authz_req *conn; /* the connection's question */
	const char *method, *host, *path;      /* host without ":port"; path normalized, no query */
	uint16_t method_len, host_len, path_len;
	uint16_t worker;                       /* the asking worker (its scratch, its counters) */
};

/* The snapshot's L7 settings (policy group `l7`), fixed per generation. */
struct mg_proxy_l7_conf {
	bool close_on_deny;   /* on_deny = "close": a denied request ends the connection */
	bool merge_slashes;   /* "//" reads as "/" before matching and forwarding */
	bool h2_downgrade;    /* h2 = "downgrade": ALPN picks http/1.1; else h2-only is refused */
};

/* Why a connection was refused or closed, for the control thread's audit. */
enum mg_proxy_event_kind {
	MG_PROXY_EV_DENIED,        /* authorization denied (verdict) */
	MG_PROXY_EV_TLS_FAILED,    /* handshake failed (tls error, svid reason) */
	MG_PROXY_EV_REAUTH_CLOSED, /* closed after a policy swap (verdict) */
	MG_PROXY_EV_HS_TIMEOUT,    /* handshake deadline */
	MG_PROXY_EV_HTTP_DENIED,   /* one HTTP request denied (verdict, rule) */
};

struct mg_proxy_event {
	uint8_t kind;        /* enum mg_proxy_event_kind */
	uint8_t listener;
	uint8_t tls_error;   /* enum mg_tls_hs_error */
	uint8_t svid;        /* enum mg_svid_reason */
	uint16_t verdict;    /* the policy's verdict */
	uint16_t peer_port;  /* network order */
	uint32_t peer_ip;    /* network order */
	uint32_t rule;
	uint64_t generation;
	char peer_id[MG_PROXY_ID_LEN]; /* may be empty (no certificate, by address) */
};

/*
 * The worker answers "which MAC has @p ip on @p port" from its lock-free
 * snapshot; on a miss it asks the control thread and returns false.
 * Source ports are accepted only when owner(tuple) says this worker.
 * The policy questions go to the control floor's code through the rest:
 * each gets the policy of the running loop (px->policy).
 */
struct mg_proxy_env {
	bool (*resolve)(void *ctx, uint8_t port, uint32_t ip, uint8_t mac[6]);
	bool (*owns)(void *ctx, uint32_t lip, uint32_t rip, uint16_t lport, uint16_t rport);
	/* Allowed? *verdict is the policy's reason (< MG_PROXY_AUTHZ_MAX), *rule the deciding rule.
	 * NULL (unit tests of the splicing alone): everything is allowed. */
	enum mg_proxy_admit (*authorize)(const void *policy, const struct mg_proxy_authz_req *r,
					 uint16_t *verdict, uint32_t *rule);
	/* One request of an ALLOW_L7 connection: true = forward it. Counts the
	 * verdict per rule in the worker's counters. NULL: L7 is refused. */
	bool (*authorize_http)(const void *policy, const struct mg_proxy_http_req *r,
			       uint16_t *verdict, uint32_t *rule);
	/* The generation's L7 settings (never NULL when authorize_http is set). */
	const struct mg_proxy_l7_conf *(*l7_conf)(const void *policy);
	/* The SPIFFE ID of the workload behind @p ip:@p port (network order; a
	 * service address maps to its workload; port 0: the address alone), or NULL. */
	const char *(*workload_id)(const void *policy, uint32_t ip, uint16_t port);
	/* The policy's TLS state (NULL: none), and its generation. */
	struct mg_tls_set *(*tls_set)(const void *policy);
	uint64_t (*generation)(const void *policy);
	/* Hand an audit event to the control thread (may drop it: counted there). */
	void (*event)(void *ctx, const struct mg_proxy_event *ev);
	void *ctx;
};

struct mg_proxy_pair;
struct mg_proxy;

/* A listener's identity as its accept callback sees it. */
struct mg_proxy_lctx {
	struct mg_proxy *px;
	uint16_t li;
};

struct mg_proxy_stats {
	uint64_t ctr[MG_PROXY_CTR__COUNT];
	uint64_t pairs_active;
	uint64_t handshakes_active;
	uint64_t authz[MG_PROXY_AUTHZ_MAX];         /* by verdict, allowed ones included */
	uint64_t svid[MG_SVID__COUNT];       /* failed handshakes by the peer's SVID */
	uint64_t tls_errors[MG_TLS_HS_ERR__COUNT];  /* failed handshakes by error */
	uint64_t records[MG_TLS_REC__COUNT];        /* bad records by error */
	uint64_t hs_cycles;                         /* handshake lcore cycles for our jobs */
	uint64_t http_errors[MG_HTTP_ERR__COUNT];   /* refused requests by parser reason */
	uint64_t path_errors[MG_HTTP_PATH__COUNT];  /* refused request paths by reason */
};

struct mg_proxy_l7;

struct mg_proxy {
	struct mg_tcp_stack *tcp;
	struct mg_proxy_env env;
	uint16_t n_listeners;
	struct mg_proxy_listener_conf listeners[MG_PROXY_MAX_LISTENERS];
	struct mg_proxy_lctx lctx[MG_PROXY_MAX_LISTENERS];
	struct mg_proxy_pair *pairs; /* max_pairs, preallocated */
	struct mg_proxy_pair *free_list;
	struct mg_proxy_pair *waiting; /* upstream MAC unknown: connect retried */
	uint32_t max_pairs;
	uint32_t sport_next[MG_PROXY_SPORT_TABLE]; /* source port counters (pick_sport) */
	uint32_t sweep_next;           /* next pair the idle sweep looks at */
	/* the running loop's policy (set by the worker each loop, never kept) */
	const void *policy;
	uint64_t generation;           /* of px->policy */
	uint32_t reauth_next, reauth_left; /* re-authorization walk after a swap */
	uint64_t reauth_resume_at;     /* paced: closes wait until then */
	/* TLS: NULL without inbound/outbound listeners */
	struct mg_tls_svc_worker *svc;
	uint64_t hs_timeout_us;
	uint32_t peer_hs_max;
	uint16_t peer_hs[MG_PROXY_PEER_BUCKETS];
	/* handshakes waiting for a job or their source's share, oldest first */
	struct mg_proxy_pair *hs_wait_head, *hs_wait_tail;
	uint8_t *tls_buf;              /* one record, opened or sealed in place */
	/* L7 (NULL without env.authorize_http): states for max_pairs / MG_PROXY_L7_SHARE
	 * pairs (at most MG_PROXY_L7_CAP), and the worker's scratch (request input,
	 * output, a normalized target) */
	struct mg_proxy_l7 *l7_states, *l7_free;
	uint32_t l7_max;
	uint32_t l7_peer_max;          /* L7 states one peer may hold */
	uint16_t l7_peer[MG_PROXY_PEER_BUCKETS]; /* held per peer (keyed hash) */
	uint8_t *l7_in, *l7_out;
	char *l7_norm;
	struct mg_http_limits l7_lim;
	uint16_t worker;               /* this worker's index (request IDs, authorize_http) */
	uint64_t l7_seq;               /* request IDs: heads and refused requests, in order */
	struct mg_proxy_stats st;
};

/* What TLS needs beyond the TCP proxy; tls.svc NULL: no TLS listeners. */
struct mg_proxy_tls_conf {
	struct mg_tls_svc_worker *svc;
	uint64_t handshake_timeout_us;
	uint32_t peer_handshakes;
};

/**
 * Make the pair pool and listen on every listener.
 * @return 0, or -1: MG_ERR_USAGE (too many listeners, listen refused), MG_ERR_NOMEM.
 */
MG_RESULT mg_proxy_init(struct mg_proxy *px, struct mg_tcp_stack *tcp,
			const struct mg_proxy_listener_conf *l, uint16_t n,
			uint32_t max_pairs, int socket_id, const struct mg_proxy_env *env,
			const struct mg_proxy_tls_conf *tls);

/**
 * The worker's loop starts with @p policy (valid until its quiescent report);
 * a new generation starts the re-authorization of every live pair.
 */
void mg_proxy_set_policy(struct mg_proxy *px, const void *policy);

/** A pair of the pool and what telemetry shows of it (meshctl conns). */
struct mg_proxy_conn_info {
	uint16_t listener;
	uint8_t kind;
	uint8_t phase;               /* 0 connecting/handshake, 1 established, 2 closing */
	uint32_t client_ip;          /* network order */
	uint16_t client_port;
	uint32_t rule;
	uint64_t generation;
	uint64_t bytes_up, bytes_down;
	bool l7;                     /* each HTTP request checked */
	uint64_t requests, denied;   /* L7: request heads seen, answered 403 */
	char peer_id[MG_PROXY_ID_LEN];
};

/** Copy pair @p i's facts (any thread; racy but each field whole). False if unused. */
bool mg_proxy_conn_info(const struct mg_proxy *px, uint32_t i, struct mg_proxy_conn_info *out);

/** Retry connects that waited for a neighbour and reset pairs idle past their
 * listener's idle_timeout_us (MG_PROXY_SWEEP_PAIRS looked at per call); call
 * once per loop. */
void mg_proxy_poll(struct mg_proxy *px, uint64_t now);

/** Free the pool (after mg_tcp_stack_free, which drops every connection). */
void mg_proxy_free(struct mg_proxy *px);

const char *mg_proxy_counter_name(enum mg_proxy_counter c);

#endif /* MG_PROXY_H */
