/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The HTTP gate of a pair that authorize() admitted with MG_PROXY_ALLOW_L7:
 * every request head is held until it completes, its path normalized, and
 * the request asked about on its own (env.authorize_http, with the policy of
 * the loop in which its head completed); allowed ones go upstream with the
 * normalized target, their bodies streaming through; denied ones get a 403
 * from here. Responses are only framed (so a 403 knows when its turn comes
 * and a tunnel accepted by the upstream is seen), never changed.
 *
 * Memory: one state per L7 pair from a pool fixed at init (two parsers, their
 * header buffers, the held head), and the worker's scratch: the input read
 * from a plaintext side, the output of one pass, a normalized target. Input
 * that cannot be consumed yet (a 403 waiting for owed responses, a tunnel
 * request waiting for its answer, MG_HTTP_MAX_PENDING requests in flight) is
 * kept as an mbuf list, at most one read or one record, and no more is taken
 * from the connection until it is gone: the window closes behind it.
 *
 * Output of one pass never exceeds the head held before it plus the input
 * (a normalized target is never longer than the original), and the input is
 * only taken when the upstream has room for that much: a pass never blocks.
 * Heads are written into the worker's output buffer; bodies toward a
 * plaintext upstream go straight from the input (emit_body).
 */
#include "proxy_priv.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <rte_malloc.h>
#include <rte_mbuf.h>

#define L7_HDR 8192 /* = l7_lim.max_header_bytes: the held head and the parsers' buffers */
#define L7_IN MG_TLS_MAX_PLAINTEXT
#define L7_OUT (L7_HDR + L7_IN)
#define ANSWER_MAX 384 /* a 403/4xx of ours, sealed on the stack */

enum rq_state {
	RQ_HEAD,   /* header bytes held until the head completes */
	RQ_FWD,    /* an allowed request's body streams upstream */
	RQ_SKIP,   /* a denied request's body is read and dropped */
	RQ_ANSWER, /* our answer is owed: nothing consumed until it went */
	RQ_TUNNEL, /* the upstream accepted CONNECT/Upgrade: opaque */
	RQ_CLOSED, /* answered with close: input dropped, the pair ends */
};

struct mg_proxy_l7 {
	struct mg_proxy_l7 *next;  /* free list */
	struct mg_http_parser req, resp;
	struct rte_mbuf *rest, *rest_tail; /* unconsumed request plaintext, segments via next */
	uint32_t head_len;         /* bytes of head[] */
	uint8_t state;             /* enum rq_state */
	bool resp_open;            /* a response between its HEAD and END */
	bool answer_close;         /* the owed answer ends the connection */
	bool close_now;            /* it went: the pair must end */
	bool broken;               /* output refused despite the room: the pair must end */
	bool replaces;             /* the owed answer stands for a forwarded request's response */
	uint16_t status;           /* of the owed answer */
	uint8_t err;               /* its parser reason (0: a denial) */
	uint64_t req_id;
	uint16_t peer_bucket;      /* the source's counter in px->l7_peer */
	char req_buf[L7_HDR], resp_buf[L7_HDR];
	uint8_t head[L7_HDR];
};

MG_RESULT pl7_init(struct mg_proxy *px, int socket_id)
{
	const struct mg_http_limits lim = MG_HTTP_LIMITS_DEFAULT;

	if (!px->env.authorize_http)
		return 0; /* ALLOW_L7 is refused: no pool */
	MG_ENSURE(px->env.l7_conf && lim.max_header_bytes == L7_HDR, USAGE,
		  "proxy: authorize_http without l7_conf");
	px->l7_lim = lim;
	px->l7_max = RTE_MIN(px->max_pairs / MG_PROXY_L7_SHARE, (uint32_t)MG_PROXY_L7_CAP);
	if (px->l7_max == 0)
		px->l7_max = 1;
	/* 1/8 of the pool, but no fewer than 16 (all of a smaller pool) */
	px->l7_peer_max = RTE_MAX(px->l7_max / MG_PROXY_L7_PEER_DIV, RTE_MIN(px->l7_max, 16u));
	px->l7_states = rte_zmalloc_socket("mg_proxy_l7", (size_t)px->l7_max * sizeof(*px->l7_states),
					   RTE_CACHE_LINE_SIZE, socket_id);
	px->l7_in = rte_malloc_socket("mg_proxy_l7_in", L7_IN, RTE_CACHE_LINE_SIZE, socket_id);
	px->l7_out = rte_malloc_socket("mg_proxy_l7_out", L7_OUT, RTE_CACHE_LINE_SIZE, socket_id);
	px->l7_norm = rte_malloc_socket("mg_proxy_l7_norm", 2 * L7_HDR, RTE_CACHE_LINE_SIZE,
					socket_id);
	MG_ENSURE(px->l7_states && px->l7_in && px->l7_out && px->l7_norm, NOMEM,
		  "proxy: no memory for %u L7 states", px->l7_max);
	for (uint32_t i = px->l7_max; i-- > 0;) {
		px->l7_states[i].next = px->l7_free;
		px->l7_free = &px->l7_states[i];
	}
	return 0;
}

void pl7_free(struct mg_proxy *px)
{
	rte_free(px->l7_states);
	rte_free(px->l7_in);
	rte_free(px->l7_out);
	rte_free(px->l7_norm);
	px->l7_states = px->l7_free = NULL;
	px->l7_in = px->l7_out = NULL;
	px->l7_norm = NULL;
}

/*
 * An ALLOW_L7 verdict: the pair gets a state, or is refused (counted). A live
 * pair that was spliced as bytes cannot start: where its next request begins
 * is unknown, so a swap that adds http rules to it closes it.
 */
/*
 * The peer's counter of L7 states, so that one peer cannot hold the pool: on
 * an inbound listener the peer is its SPIFFE ID (a remote node's gateway
 * brings many workloads from one address), elsewhere the local workload's
 * address. A keyed hash, so that nobody can aim at another's counter.
 */
static uint16_t peer_bucket(const struct mg_proxy_pair *p)
{
	const struct mg_tcp_stack *tcp = p->px->tcp;
	const struct { uint32_t ip, tag; } in = { p->client_ip, 0x6c377072u /* "l7pr" */ };
	uint64_t h = p->px->listeners[p->li].kind == MG_PROXY_INBOUND && p->peer_id[0]
			     ? mg_tcp_secret_hash(tcp, p->peer_id, strlen(p->peer_id))
			     : mg_tcp_secret_hash(tcp, &in, sizeof(in));

	return (uint16_t)(h % MG_PROXY_PEER_BUCKETS);
}

bool pl7_admit(struct mg_proxy_pair *p, bool again)
{
	struct mg_proxy *px = p->px;
	struct mg_proxy_l7 *l = px->l7_free;
	uint16_t b;

	if (p->l7)
		return true;
	if (!px->env.authorize_http || again) {
		PCTR(px, l7_unavailable, 1);
		return false;
	}
	if (!l) {
		PCTR(px, l7_pool_empty, 1);
		return false;
	}
	b = peer_bucket(p);
	if (px->l7_peer[b] >= px->l7_peer_max) {
		PCTR(px, l7_peer_capped, 1);
		return false;
	}
	px->l7_peer[b]++;
	l->peer_bucket = b;
	px->l7_free = l->next;
	l->next = NULL;
	mg_http_init(&l->req, MG_HTTP_REQUEST, &px->l7_lim, l->req_buf);
	mg_http_init(&l->resp, MG_HTTP_RESPONSE, &px->l7_lim, l->resp_buf);
	l->rest = l->rest_tail = NULL;
	l->head_len = 0;
	l->state = RQ_HEAD;
	l->resp_open = l->answer_close = l->close_now = l->broken = false;
	p->l7 = l;
	PCTR(px, l7_admitted, 1);
	return true;
}

void pl7_release(struct mg_proxy_pair *p)
{
	struct mg_proxy_l7 *l = p->l7;

	if (!l)
		return;
	rte_pktmbuf_free(l->rest); /* NULL-safe; frees the list through next */
	l->rest = l->rest_tail = NULL;
	p->px->l7_peer[l->peer_bucket]--;
	l->next = p->px->l7_free;
	p->px->l7_free = l;
	p->l7 = NULL;
}

uint32_t pl7_held(const struct mg_proxy_pair *p)
{
	return p->l7 ? p->l7->head_len : 0;
}

/* Nothing held for the upstream or owed to the client (an upstream that left
 * owes no response more: what waited for it is dropped with the pair). */
bool pl7_idle(const struct mg_proxy_pair *p)
{
	return !p->l7 || p->fin_from[UPSTREAM] || (!p->l7->rest && p->l7->state != RQ_ANSWER);
}

bool pl7_closing(const struct mg_proxy_pair *p)
{
	return p->l7 && p->l7->close_now;
}

bool pl7_blocked(const struct mg_proxy_pair *p)
{
	return p->l7 && p->l7->rest;
}

/* Keep request plaintext for later, as a list of mbufs (no chain bookkeeping). */
bool pl7_keep(struct mg_proxy_pair *p, const uint8_t *b, uint32_t len)
{
	struct mg_proxy_l7 *l = p->l7;

	while (len > 0) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(p->px->tcp->p.pool);
		uint32_t n;

		if (!m)
			return false;
		n = RTE_MIN(len, (uint32_t)rte_pktmbuf_tailroom(m));
		memcpy(rte_pktmbuf_append(m, (uint16_t)n), b, n);
		if (l->rest_tail)
			l->rest_tail->next = m;
		else
			l->rest = m;
		l->rest_tail = m;
		b += n;
		len -= n;
	}
	return true;
}

/* ---- answers of our own ------------------------------------------------- */

static const char *reason_phrase(uint16_t status)
{
	switch (status) {
	case 403: return "Forbidden";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	default: return "Bad Request";
	}
}

/*
 * The owed 403 or 4xx, once every response the upstream owes went before it
 * (a pipelined answer never overtakes them) and the client side has room.
 */
static bool answer(struct mg_proxy_pair *p)
{
	struct mg_proxy *px = p->px;
	struct mg_proxy_l7 *l = p->l7;
	struct mg_tcp_conn *c = p->conn[CLIENT];
	char body[160], msg[ANSWER_MAX];
	int bl, n;

	if (l->resp.pend_n > (l->replaces ? 1 : 0) || l->resp_open || p->stash[CLIENT] || !c)
		return false;
	if (l->err)
		bl = snprintf(body, sizeof(body), "request %u-%" PRIu64 " refused: %s\n", px->worker,
			      l->req_id, mg_http_error_name((enum mg_http_error)l->err));
	else
		bl = snprintf(body, sizeof(body), "request %u-%" PRIu64 " denied by policy\n",
			      px->worker, l->req_id);
	n = snprintf(msg, sizeof(msg),
		     "HTTP/1.1 %u %s\r\ncontent-type: text/plain\r\ncontent-length: %d\r\n%s\r\n%s",
		     l->status, reason_phrase(l->status), bl,
		     l->answer_close ? "connection: close\r\n" : "", body);
	if (mg_tcp_send_space(px->tcp, c) < (uint32_t)n + RECORD_OVERHEAD) {
		mg_tcp_want_writable(c);
		return false;
	}
	if (p->tls_side == CLIENT) {
		uint8_t rec[ANSWER_MAX + RECORD_OVERHEAD];

		if (!ptls_seal_send(p, (const uint8_t *)msg, (uint32_t)n, rec))
			return false; /* cannot happen: the room was checked */
	} else {
		(void)mg_tcp_send_copy(px->tcp, c, msg, (uint32_t)n);
	}
	if (l->answer_close) {
		l->state = RQ_CLOSED;
		l->close_now = true;
	} else {
		l->state = RQ_SKIP;               /* the denied request's body, if any */
		mg_http_resume(&l->req);          /* a denied Upgrade gets no answer upstream */
	}
	return true;
}

static void owe(struct mg_proxy_l7 *l, uint16_t status, uint8_t err, bool close)
{
	l->replaces = false;
	l->state = RQ_ANSWER;
	l->status = status;
	l->err = err;
	l->answer_close = close;
	l->head_len = 0;
}

static void parse_error(struct mg_proxy_pair *p, enum mg_http_error e)
{
	PCTR(p->px, l7_bad_requests, 1);
	PSTAT(p->px->st.http_errors[e % MG_HTTP_ERR__COUNT], 1);
	bool in_body = p->l7->state == RQ_FWD;

	if (p->l7->state == RQ_HEAD) /* refused before its head completed: an ID of its own */
		p->l7->req_id = ++p->px->l7_seq;
	owe(p->l7, mg_http_error_status(e), (uint8_t)e, true);
	/* A forwarded request's body broke (a bad chunk line, which never left):
	 * its response will not come in time, if at all. Our 400 goes in its
	 * place once the responses before it went, and the pair closes. */
	p->l7->replaces = in_body;
}

/* ---- a request head ------------------------------------------------------ */

/* The connection's question, as proxy_authorize asked it (the running policy). */
static void conn_req(struct mg_proxy_pair *p, struct mg_proxy_authz_req *r)
{
	struct mg_proxy *px = p->px;
	const struct mg_proxy_listener_conf *lc = &px->listeners[p->li];

	r->dst_ip = lc->dst_ip;
	r->dst_port = lc->dst_port;
	r->image = NULL;
	if (lc->kind == MG_PROXY_INBOUND) {
		r->peer_id = p->peer_id;
		r->image = p->image[0] ? p->image : NULL;
		return;
	}
	r->peer_id = px->env.workload_id(px->policy, p->client_ip, 0);
	if (lc->kind == MG_PROXY_OUTBOUND && r->peer_id) {
		const struct mg_tls_local *me =
			mg_tls_set_find(px->env.tls_set(px->policy), r->peer_id);

		r->image = me ? me->image : NULL;
	}
}

/* The host rules match: without ":port" (an IPv6 literal keeps its brackets). */
static uint16_t host_len(const char *h, uint16_t len)
{
	uint16_t i = 0;

	if (len && h[0] == '[') {
		while (i < len && h[i] != ']')
			i++;
		return i < len ? i + 1 : len;
	}
	while (i < len && h[i] != ':')
		i++;
	return i;
}

/*
 * The target that goes upstream in *t, *tl: the normalized path and query
 * (absolute-form becomes origin-form: the parser checked that its authority
 * is the Host); CONNECT's authority and "*" unchanged. The path asked about
 * in r. False: an ambiguous path (counted, 400 owed).
 */
static bool target(struct mg_proxy_pair *p, const struct mg_http_msg *m, unsigned flags,
		   const char **t, uint16_t *tl, struct mg_proxy_http_req *r)
{
	struct mg_proxy *px = p->px;
	char *in = px->l7_norm + L7_HDR;
	const char *src = m->path, *q;
	size_t sl = m->path_len, n;
	enum mg_http_path_error why = MG_HTTP_PATH_OK;

	*t = m->target;
	*tl = m->target_len;
	if (!m->path || m->form == MG_HTTP_FORM_ASTERISK) {
		r->path = m->path ? m->path : "";
		r->path_len = m->path ? m->path_len : 0;
		return true;
	}
	if (m->form == MG_HTTP_FORM_ABSOLUTE && (sl == 0 || src[0] == '?') && sl < L7_HDR) {
		in[0] = '/';
		memcpy(in + 1, src, sl);
		src = in;
		sl++;
	}
	n = mg_http_normalize_path(src, sl, px->l7_norm, L7_HDR, flags, &why);
	if (n == 0) {
		PCTR(px, l7_bad_paths, 1);
		PSTAT(px->st.path_errors[why % MG_HTTP_PATH__COUNT], 1);
		owe(p->l7, 400, MG_HTTP_ERR_BAD_TARGET, true);
		return false;
	}
	q = memchr(px->l7_norm, '?', n);
	*t = px->l7_norm;
	*tl = (uint16_t)n;
	r->path = px->l7_norm;
	r->path_len = (uint16_t)(q ? (size_t)(q - px->l7_norm) : n);
	return true;
}

/* The held head with its request line's target replaced: into out at *ol. */
static bool rewrite(struct mg_proxy_l7 *l, const struct mg_http_msg *m, const char *t,
		    uint16_t tl, uint8_t *out, uint32_t *ol)
{
	uint32_t s = 0, to, tend;

	while (s < l->head_len && (l->head[s] == '\r' || l->head[s] == '\n'))
		s++; /* empty lines before the request line (RFC 9112 2.2) */
	to = s + m->method_len + 1u;
	tend = to + m->target_len;
	if (tend > l->head_len || l->head[to - 1] != ' ' ||
	    memcmp(l->head + to, m->target, m->target_len) != 0)
		return false;
	memcpy(out + *ol, l->head + s, to - s);
	*ol += to - s;
	memcpy(out + *ol, t, tl);
	*ol += tl;
	memcpy(out + *ol, l->head + tend, l->head_len - tend);
	*ol += l->head_len - tend;
	return true;
}

/* A head completed: ask about it, under the policy of this loop. */
static void on_head(struct mg_proxy_pair *p, uint8_t *out, uint32_t *ol)
{
	struct mg_proxy *px = p->px;
	struct mg_proxy_l7 *l = p->l7;
	const struct mg_http_msg *m = &l->req.msg;
	const struct mg_proxy_l7_conf *conf = px->env.l7_conf(px->policy);
	struct mg_proxy_authz_req cr;
	struct mg_proxy_http_req r = { .conn = &cr, .method = m->method,
				       .method_len = m->method_len, .worker = px->worker };
	uint16_t verdict = 0, tl;
	uint32_t rule = UINT32_MAX;
	const char *t;

	PCTR(px, l7_requests, 1);
	PSTAT(p->l7_requests, 1);
	l->req_id = ++px->l7_seq;
	if (!target(p, m, conf->merge_slashes ? MG_HTTP_NORM_MERGE_SLASHES : 0, &t, &tl, &r))
		return;
	conn_req(p, &cr);
	r.host = m->host;
	r.host_len = m->host ? host_len(m->host, m->host_len) : 0;
	if (!px->env.authorize_http(px->policy, &r, &verdict, &rule)) {
		PCTR(px, l7_denied, 1);
		PSTAT(p->l7_denied, 1);
		/* the requester: for outbound the local workload, not the upstream */
		proxy_event_as(p, MG_PROXY_EV_HTTP_DENIED, verdict, rule, cr.peer_id);
		owe(l, 403, 0, conf->close_on_deny || !m->keep_alive); /* as it asked, if it did */
		return;
	}
	if (!rewrite(l, m, t, tl, out, ol)) { /* the parser's view and the bytes disagree */
		parse_error(p, MG_HTTP_ERR_BAD_REQUEST_LINE);
		return;
	}
	(void)mg_http_expect(&l->resp, m->meth); /* room: checked before the head was read */
	PCTR(px, l7_allowed, 1);
	l->head_len = 0;
	l->state = RQ_FWD;
}

/* A request's END: the next head is held; a denied Upgrade gets no response
 * that would decide its WAIT, so requests are parsed again at once. */
static void request_ended(struct mg_proxy_l7 *l)
{
	if (l->state == RQ_SKIP)
		mg_http_resume(&l->req);
	if (l->state == RQ_FWD || l->state == RQ_SKIP)
		l->state = RQ_HEAD;
}

/*
 * Body bytes upstream. Plaintext upstream (tcp, inbound): what the pass
 * wrote so far goes first, then the bytes straight from the input, so a body
 * is copied no more than the record path already does. Outbound: appended to
 * the pass's output, sealed as at most two records by flush().
 */
static void emit_body(struct mg_proxy_pair *p, const uint8_t *b, size_t n, uint32_t *ol)
{
	struct mg_proxy *px = p->px;
	struct mg_tcp_conn *up = p->conn[UPSTREAM];

	if (p->tls_side == UPSTREAM) {
		memcpy(px->l7_out + *ol, b, n);
		*ol += (uint32_t)n;
		return;
	}
	if ((*ol && mg_tcp_send_copy(px->tcp, up, px->l7_out, *ol) != (int64_t)*ol) ||
	    mg_tcp_send_copy(px->tcp, up, b, (uint32_t)n) != (int64_t)n)
		p->l7->broken = true; /* cannot happen: the room was checked */
	*ol = 0;
}

/*
 * A body's bytes upstream, except the framing line the parser has not judged
 * yet (mg_http_unjudged): those wait in head[] (free while a body streams;
 * up_room counts them) until the line is whole, so "zz\r\n" as a chunk size
 * is refused before any of it leaves. A line is at most a trailer's budget.
 */
static void body_bytes(struct mg_proxy_pair *p, const uint8_t *b, size_t n, uint32_t *ol)
{
	struct mg_proxy_l7 *l = p->l7;
	size_t u = RTE_MIN(mg_http_unjudged(&l->req), l->head_len + n);
	size_t fwd = l->head_len + n - u, from_head = RTE_MIN(fwd, (size_t)l->head_len);

	if (from_head) {
		emit_body(p, l->head, from_head, ol);
		memmove(l->head, l->head + from_head, l->head_len - from_head);
		l->head_len -= (uint32_t)from_head;
	}
	if (fwd > from_head)
		emit_body(p, b, fwd - from_head, ol);
	b += fwd - from_head;
	n -= fwd - from_head;
	if (l->head_len + n > L7_HDR) { /* cannot happen: the parser's line budget */
		l->broken = true;
		return;
	}
	memcpy(l->head + l->head_len, b, n);
	l->head_len += (uint32_t)n;
}

/*
 * Request bytes through the parser, output appended to px->l7_out at *ol.
 * @return bytes consumed: fewer than @p len when it must wait.
 */
static size_t gate(struct mg_proxy_pair *p, const uint8_t *in, size_t len, uint32_t *ol)
{
	struct mg_proxy_l7 *l = p->l7;
	uint8_t *out = p->px->l7_out;
	enum mg_http_event ev = MG_HTTP_EV_NONE;
	size_t off = 0;

	for (;;) {
		size_t n;

		if (l->state == RQ_ANSWER && !answer(p))
			return off;
		if (l->state == RQ_CLOSED)
			return len;
		/* after HEAD or END the parser may have the next event without a byte */
		if (off == len && (ev == MG_HTTP_EV_NONE || ev == MG_HTTP_EV_WAIT))
			return off;
		if (l->state == RQ_HEAD && l->head_len == 0 &&
		    l->resp.pend_n >= MG_HTTP_MAX_PENDING)
			return off; /* a response must end before the next request is read */
		n = mg_http_feed(&l->req, in + off, len - off, &ev);
		if (l->state == RQ_HEAD) {
			if (l->head_len + n > L7_HDR) {
				parse_error(p, MG_HTTP_ERR_HEADERS_TOO_LARGE);
				continue;
			}
			memcpy(l->head + l->head_len, in + off, n);
			l->head_len += (uint32_t)n;
		} else if (l->state == RQ_TUNNEL && n) {
			emit_body(p, in + off, n, ol);
		} else if (l->state == RQ_FWD && ev != MG_HTTP_EV_ERROR) {
			body_bytes(p, in + off, n, ol);
		}
		off += n;
		if (ev == MG_HTTP_EV_HEAD)
			on_head(p, out, ol);
		else if (ev == MG_HTTP_EV_END)
			request_ended(l);
		else if (ev == MG_HTTP_EV_ERROR)
			parse_error(p, (enum mg_http_error)l->req.err);
		else if (ev == MG_HTTP_EV_WAIT)
			return off; /* the response to CONNECT/Upgrade decides */
	}
}

/* ---- moving bytes -------------------------------------------------------- */

/* Room upstream for @p n more input bytes' output. */
static uint32_t up_room(struct mg_proxy_pair *p)
{
	struct mg_tcp_conn *c = p->conn[UPSTREAM];
	uint32_t s = c ? mg_tcp_send_space(p->px->tcp, c) : 0;
	uint32_t extra = p->l7->head_len + (p->tls_side == UPSTREAM ? 2 * RECORD_OVERHEAD : 0);

	return s > extra ? s - extra : 0;
}

/* One pass's output upstream: as it is, or sealed (outbound). */
static bool flush(struct mg_proxy_pair *p, uint32_t n)
{
	struct mg_proxy *px = p->px;
	const uint8_t *b = px->l7_out;

	if (p->tls_side != UPSTREAM)
		return n == 0 || mg_tcp_send_copy(px->tcp, p->conn[UPSTREAM], b, n) == (int64_t)n;
	while (n > 0) {
		uint32_t k = RTE_MIN(n, (uint32_t)MG_TLS_MAX_PLAINTEXT);

		if (!ptls_seal_send(p, b, k, px->tls_buf))
			return false;
		b += k;
		n -= k;
	}
	return true;
}

/*
 * Request plaintext from the client (the caller checked up_room for it):
 * through the gate, out, and what is not consumed kept.
 * @return 1 all consumed, 0 some kept (wait), -1 the pair must end (not ended here).
 */
int pl7_requests(struct mg_proxy_pair *p, const uint8_t *in, size_t len)
{
	uint32_t ol = 0;
	size_t used = gate(p, in, len, &ol);

	if (!flush(p, ol) || p->l7->broken ||
	    (used < len && !pl7_keep(p, in + used, (uint32_t)(len - used))))
		return -1;
	return used < len ? 0 : 1;
}

/* What was kept goes first. @return 1 none left, 0 some still waits, -1 the pair must end. */
int pl7_drain(struct mg_proxy_pair *p)
{
	struct mg_proxy_l7 *l = p->l7;

	if (l->state == RQ_ANSWER && !l->rest) { /* owed, with nothing behind it */
		uint32_t ol = 0;

		(void)gate(p, NULL, 0, &ol);
		if (l->state == RQ_ANSWER)
			return 0;
	}
	while (l->rest && !l->close_now) {
		struct rte_mbuf *m = l->rest;
		uint32_t ol = 0;
		size_t used;

		if (up_room(p) < m->data_len && l->state != RQ_ANSWER && l->state != RQ_CLOSED) {
			if (p->conn[UPSTREAM])
				mg_tcp_want_writable(p->conn[UPSTREAM]);
			return 0;
		}
		used = gate(p, rte_pktmbuf_mtod(m, const uint8_t *), m->data_len, &ol);
		if (!flush(p, ol) || l->broken)
			return -1;
		if (used < m->data_len) {
			rte_pktmbuf_adj(m, (uint16_t)used);
			return 0;
		}
		l->rest = m->next;
		if (!l->rest)
			l->rest_tail = NULL;
		m->next = NULL;
		rte_pktmbuf_free_seg(m);
	}
	return 1;
}

/* Plaintext requests from the client's TCP queue (tcp and outbound listeners). */
static int read_requests(struct mg_proxy_pair *p)
{
	struct mg_proxy *px = p->px;
	struct mg_tcp_conn *src = p->conn[CLIENT];

	while (src && mg_tcp_recv_ready(src) > 0) {
		uint32_t n = RTE_MIN(mg_tcp_recv_ready(src), up_room(p));
		int r;

		n = RTE_MIN(n, (uint32_t)L7_IN);
		if (n == 0) {
			if (p->conn[UPSTREAM])
				mg_tcp_want_writable(p->conn[UPSTREAM]);
			return 0;
		}
		mg_tcp_recv_copy(px->tcp, src, px->l7_in, n);
		ptls_moved(p, CLIENT, n);
		r = pl7_requests(p, px->l7_in, n);
		if (r <= 0 || p->l7->close_now)
			return r;
	}
	return 1;
}

/* Requests: what was kept, then the client's side. Same returns as ptls_move. */
int pl7_move(struct mg_proxy_pair *p, int from)
{
	int r;

	(void)from;
	r = pl7_drain(p);
	if (r > 0 && !p->l7->close_now) {
		if (p->tls_side == CLIENT)
			return ptls_move(p, CLIENT); /* ends the pair itself on failure */
		r = read_requests(p);
	}
	if (r < 0)
		pair_abort(p);
	return r;
}

/*
 * Response bytes on their way to the client: framed, never changed. False:
 * a response the parser refuses (counted); the pair must end.
 */
bool pl7_responses(struct mg_proxy_pair *p, const uint8_t *in, size_t len)
{
	struct mg_proxy_l7 *l = p->l7;
	enum mg_http_event ev = MG_HTTP_EV_HEAD;
	size_t off = 0;

	/* until all is consumed and no event is left (a HEAD's END needs no byte) */
	while (off < len || ev != MG_HTTP_EV_NONE) {
		uint8_t owed = l->resp.pend_n;

		off += mg_http_feed(&l->resp, in + off, len - off, &ev);
		/* a response to no request we forwarded: a desync, never relayed as one */
		if (ev == MG_HTTP_EV_ERROR || (ev == MG_HTTP_EV_HEAD && owed == 0)) {
			PCTR(p->px, l7_bad_responses, 1);
			return false;
		}
		if (ev == MG_HTTP_EV_WAIT)
			break; /* requests only: never for a response parser */
		if (ev == MG_HTTP_EV_END) {
			l->resp_open = false;
		} else if (ev == MG_HTTP_EV_HEAD) {
			l->resp_open = true;
			if (l->resp.msg.framing == MG_HTTP_BODY_TUNNEL) {
				mg_http_set_tunnel(&l->req);
				l->state = RQ_TUNNEL;
				PCTR(p->px, l7_tunnels, 1);
			} else if (!l->resp.msg.interim && l->resp.pend_n == 0) {
				mg_http_resume(&l->req); /* CONNECT/Upgrade refused: requests again */
			}
		}
	}
	return true;
}
