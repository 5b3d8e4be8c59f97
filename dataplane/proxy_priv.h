/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Inside the proxy: a pair of connections and what its two halves
 * (proxy.c: TCP splicing, identity by address; proxy_tls.c: handshakes and
 * records) share.
 */
#ifndef MG_PROXY_PRIV_H
#define MG_PROXY_PRIV_H

#include "proxy.h"

/* Single writer (the worker): relaxed stores for the telemetry thread's loads. */
#define PSTAT(field, v) __atomic_store_n(&(field), (field) + (v), __ATOMIC_RELAXED)
#define PCTR(px, n, v) PSTAT((px)->st.ctr[MG_PROXY_CTR_##n], v)

enum { CLIENT = 0, UPSTREAM = 1, NO_TLS = 2 };

enum pair_tls {
	TLS_OFF = 0,   /* plaintext both ways */
	TLS_HANDSHAKE, /* records not keyed yet */
	TLS_UP,        /* keyed: records both ways */
};

struct mg_proxy_pair {
	struct mg_proxy *px;
	struct mg_tcp_conn *conn[2];  /* CLIENT, UPSTREAM; NULL once dead */
	struct rte_mbuf *stash[2];    /* refused remainder bound for conn[i] */
	bool fin_from[2];             /* conn[i]'s peer sent FIN (or close_notify) */
	bool shut[2];                 /* we queued our FIN on conn[i] */
	bool connected;               /* the upstream handshake completed */
	bool waiting;                 /* on px->waiting for a neighbour */
	bool in_use;
	uint8_t tries;
	uint16_t li;
	uint64_t retry_at;
	uint64_t last_active;         /* when a byte last moved (or accept) */
	struct mg_proxy_pair *next;   /* free list or waiting list */
	uint32_t reuse;               /* bumped when freed: a returning job compares it */

	/* identity and authorization */
	uint32_t client_ip;           /* network order */
	uint16_t client_port;
	uint32_t rule;                /* the rule that allowed it */
	uint64_t authz_gen;           /* the policy generation that allowed it */
	uint64_t bytes[2];            /* moved from conn[i] */
	char peer_id[MG_PROXY_ID_LEN];/* inbound: the client's SVID; outbound: the upstream's */
	char image[MG_SVID_IMAGE_LEN + 1]; /* inbound: the client's SVID image, or "" */

	/* TLS (tls_side NO_TLS: none) */
	uint8_t tls_side;
	uint8_t tls;                  /* enum pair_tls */
	bool notify_sent;             /* close_notify queued */
	bool notify_rcvd;             /* close_notify opened: what follows is not read */
	bool job_out;                 /* the job is with a handshake lcore */
	bool peer_counted;            /* holds one of px->peer_hs[peer_bucket] */
	uint16_t peer_bucket;
	uint32_t job_sent;            /* bytes of job->io[0..out_len) already sent */
	struct mg_tls_job *job;
	uint64_t hs_deadline;
	bool hs_queued;               /* on px->hs_wait: no job or no share of its source's */
	bool hs_counted_wait;         /* its wait was counted */
	struct mg_proxy_pair *hs_prev, *hs_next;
	struct mg_tls_dir rx, tx;

	/* L7 (NULL: the bytes are spliced or sealed as they are) */
	struct mg_proxy_l7 *l7;
	uint64_t l7_requests, l7_denied;
};

static inline bool pair_ready(const struct mg_proxy_pair *p)
{
	return p->connected && (p->tls == TLS_OFF || p->tls == TLS_UP);
}

/* proxy.c */
void pair_abort(struct mg_proxy_pair *p);
bool pump(struct mg_proxy_pair *p, int from);
bool start_upstream(struct mg_proxy *px, struct mg_proxy_pair *p);
bool proxy_authorize(struct mg_proxy_pair *p, const char *peer_id, const char *image);
void proxy_event(struct mg_proxy_pair *p, enum mg_proxy_event_kind kind, uint16_t verdict);
void proxy_event_rule(struct mg_proxy_pair *p, enum mg_proxy_event_kind kind, uint16_t verdict,
		      uint32_t rule);
void proxy_event_as(struct mg_proxy_pair *p, enum mg_proxy_event_kind kind, uint16_t verdict,
		    uint32_t rule, const char *who);

/* proxy_tls.c */
bool ptls_accept(struct mg_proxy_pair *p);
bool ptls_outbound_accept(struct mg_proxy_pair *p, const char *client_id);
void ptls_readable(struct mg_proxy_pair *p, int side);
void ptls_connected(struct mg_proxy_pair *p);
int ptls_move(struct mg_proxy_pair *p, int from);
bool ptls_close_notify(struct mg_proxy_pair *p);
void ptls_collect(struct mg_proxy *px);
void ptls_kick(struct mg_proxy *px);
bool ptls_deadline(struct mg_proxy_pair *p, uint64_t now);
void ptls_release(struct mg_proxy_pair *p);
void ptls_writable(struct mg_proxy_pair *p, int side);
bool ptls_seal_send(struct mg_proxy_pair *p, const uint8_t *b, uint32_t len, uint8_t *rec);
void ptls_moved(struct mg_proxy_pair *p, int from, uint64_t n);

/* proxy_l7.c: the HTTP gate of an ALLOW_L7 pair */
#define RECORD_OVERHEAD (MG_TLS_HEADER_LEN + 1 + MG_TLS_TAG_LEN) /* header, inner type, tag */
MG_RESULT pl7_init(struct mg_proxy *px, int socket_id);
void pl7_free(struct mg_proxy *px);
bool pl7_admit(struct mg_proxy_pair *p, bool again);
void pl7_release(struct mg_proxy_pair *p);
int pl7_move(struct mg_proxy_pair *p, int from);
int pl7_requests(struct mg_proxy_pair *p, const uint8_t *in, size_t len);
int pl7_drain(struct mg_proxy_pair *p);
bool pl7_responses(struct mg_proxy_pair *p, const uint8_t *in, size_t len);
uint32_t pl7_held(const struct mg_proxy_pair *p);
bool pl7_idle(const struct mg_proxy_pair *p);
bool pl7_closing(const struct mg_proxy_pair *p);
bool pl7_blocked(const struct mg_proxy_pair *p);
bool pl7_keep(struct mg_proxy_pair *p, const uint8_t *b, uint32_t len);

#endif /* MG_PROXY_PRIV_H */
