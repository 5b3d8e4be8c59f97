/* SPDX-License-Identifier: BSD-3-Clause */
#include "proxy_priv.h"

#include <stdio.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#define SPORT_FIRST 32768
#define SPORT_LAST 60999
#define SPORT_COUNT (SPORT_LAST - SPORT_FIRST + 1)
#define SPORT_TAG 0x73706f72u /* "spor" */

static const char *const counter_names[] = {
#define _(n, d) #n,
	foreach_mg_proxy_counter(_)
#undef _
};

const char *mg_proxy_counter_name(enum mg_proxy_counter c)
{
	return (unsigned)c < MG_PROXY_CTR__COUNT ? counter_names[c] : "unknown";
}

static void unlink_waiting(struct mg_proxy *px, struct mg_proxy_pair *p)
{
	struct mg_proxy_pair **pp = &px->waiting;

	while (*pp && *pp != p)
		pp = &(*pp)->next;
	if (*pp)
		*pp = p->next;
	p->waiting = false;
}

static void pair_free(struct mg_proxy_pair *p)
{
	struct mg_proxy *px = p->px;
	uint32_t reuse = p->reuse + 1;

	if (p->waiting)
		unlink_waiting(px, p);
	ptls_release(p);
	pl7_release(p);
	for (int i = 0; i < 2; i++)
		rte_pktmbuf_free(p->stash[i]); /* NULL-safe */
	memset(p, 0, offsetof(struct mg_proxy_pair, peer_id));
	memset(&p->tls_side, 0, sizeof(*p) - offsetof(struct mg_proxy_pair, tls_side));
	p->peer_id[0] = p->image[0] = '\0';
	p->px = px;
	p->reuse = reuse;
	p->next = px->free_list;
	px->free_list = p;
	__atomic_store_n(&px->st.pairs_active, px->st.pairs_active - 1, __ATOMIC_RELAXED);
}

static struct mg_proxy_pair *pair_alloc(struct mg_proxy *px)
{
	struct mg_proxy_pair *p = px->free_list;

	if (!p)
		return NULL;
	px->free_list = p->next;
	p->next = NULL;
	p->in_use = true;
	p->tls_side = NO_TLS;
	__atomic_store_n(&px->st.pairs_active, px->st.pairs_active + 1, __ATOMIC_RELAXED);
	return p;
}

/* Both sides sent and got FIN: detach both and give the pair back. */
static bool maybe_finish(struct mg_proxy_pair *p)
{
	if (!p->shut[CLIENT] || !p->shut[UPSTREAM] || !p->fin_from[CLIENT] ||
	    !p->fin_from[UPSTREAM])
		return false;
	for (int i = 0; i < 2; i++)
		if (p->conn[i])
			mg_tcp_close(p->px->tcp, p->conn[i]);
	PCTR(p->px, closed_normal, 1);
	pair_free(p);
	return true;
}

static void wait_list_add(struct mg_proxy *px, struct mg_proxy_pair *p, uint64_t at)
{
	p->retry_at = at;
	if (!p->waiting) {
		p->waiting = true;
		p->next = px->waiting;
		px->waiting = p;
	}
}

/*
 * Offer the refused remainder again. @return true when it is all taken.
 * A refusal by the core's memory bound with nothing in flight on dst gets no
 * WRITABLE (no ACK will come), so the pair is polled again shortly.
 */
static bool flush_stash(struct mg_proxy_pair *p, int to)
{
	struct mg_proxy *px = p->px;
	struct mg_tcp_conn *dst = p->conn[to];

	if (mg_tcp_send(px->tcp, dst, &p->stash[to]) < 0) {
		rte_pktmbuf_free(p->stash[to]); /* dst is dying; its CLOSED event follows */
		p->stash[to] = NULL;
	}
	if (!p->stash[to])
		return true;
	if (mg_tcp_want_writable(dst)) {
		PCTR(px, mem_waits, 1);
		wait_list_add(px, p, px->tcp->now + MG_PROXY_MEM_RETRY_US);
	}
	return false;
}

/* L7, tcp listener: the responses in a chain pass the response parser. */
static bool frame_responses(struct mg_proxy_pair *p, const struct rte_mbuf *chain)
{
	for (const struct rte_mbuf *x = chain; x; x = x->next)
		if (!pl7_responses(p, rte_pktmbuf_mtod(x, const uint8_t *), x->data_len))
			return false;
	return true;
}

/*
 * Move what dst has room for from src's receive queue to dst's send queue:
 * the same mbufs, no copy and no new memory, so the room counted is the send
 * buffer's alone (mg_tcp_send_room). A full dst asks for WRITABLE and src's
 * window closes behind the unread bytes: that is the backpressure.
 */
static int splice(struct mg_proxy_pair *p, int from)
{
	struct mg_proxy *px = p->px;
	int to = 1 - from;
	struct mg_tcp_conn *src = p->conn[from], *dst = p->conn[to];

	while (src) {
		uint32_t room = mg_tcp_send_room(dst);
		uint32_t ready = mg_tcp_recv_ready(src);
		uint32_t n = room < ready ? room : ready;
		struct rte_mbuf *chain = NULL;
		uint32_t got;

		if (n == 0) {
			if (ready > 0)
				mg_tcp_want_writable(dst); /* room is 0: it arms */
			return 1;
		}
		got = mg_tcp_recv(px->tcp, src, n, &chain);
		if (!chain)
			return 1;
		if (p->l7 && !frame_responses(p, chain)) {
			rte_pktmbuf_free(chain);
			pair_abort(p);
			return -1;
		}
		p->last_active = px->tcp->now;
		PSTAT(p->bytes[from], got);
		if (from == CLIENT)
			PCTR(px, bytes_up, got);
		else
			PCTR(px, bytes_down, got);
		p->stash[to] = chain;
		if (!flush_stash(p, to))
			return 0;
	}
	return 1;
}

/*
 * Pass a FIN on to conn[to] once everything before it went there. Not while
 * conn[to] itself holds unread bytes after its own peer's FIN: our FIN would
 * take it to LAST-ACK, whose end frees that data before it reached the other
 * side; it is shut when drained instead.
 */
static void maybe_shut(struct mg_proxy_pair *p, int to)
{
	struct mg_tcp_conn *src = p->conn[1 - to], *dst = p->conn[to];

	if (!p->fin_from[1 - to] || p->shut[to] || !dst || p->stash[to] || !pl7_idle(p))
		return;
	if (src && mg_tcp_recv_ready(src) > 0)
		return;
	if (p->fin_from[to] && mg_tcp_recv_ready(dst) > 0)
		return;
	if (to == p->tls_side && !ptls_close_notify(p))
		return; /* no room for the alert yet: WRITABLE brings us back */
	mg_tcp_shutdown(p->px->tcp, dst);
	p->shut[to] = true;
}

/*
 * After the L7 gate answered with "connection: close": close_notify where
 * TLS is up, what the client still sent dropped (so its close is a FIN
 * after our answer, not a reset), FIN both ways.
 */
static void l7_close(struct mg_proxy_pair *p)
{
	struct mg_proxy *px = p->px;
	struct rte_mbuf *junk = NULL;

	PCTR(px, l7_closed, 1);
	if (p->tls == TLS_UP)
		(void)ptls_close_notify(p);
	if (p->conn[CLIENT] && mg_tcp_recv_ready(p->conn[CLIENT]))
		mg_tcp_recv(px->tcp, p->conn[CLIENT], mg_tcp_recv_ready(p->conn[CLIENT]), &junk);
	rte_pktmbuf_free(junk);
	for (int i = 0; i < 2; i++)
		if (p->conn[i])
			mg_tcp_close(px->tcp, p->conn[i]);
	pair_free(p);
}

/* One direction's move: requests through the L7 gate, else records or splicing. */
static int move(struct mg_proxy_pair *p, int from)
{
	int r;

	if (p->l7 && from == CLIENT)
		r = pl7_move(p, CLIENT);
	else if (p->tls_side != NO_TLS)
		r = ptls_move(p, from);
	else
		r = splice(p, from);
	if (r < 0)
		return r;
	if (pl7_closing(p)) {
		l7_close(p);
		return -1;
	}
	/* Responses ended: a 403 owed, or requests held behind them, may go now. */
	if (p->l7 && from == UPSTREAM && !pl7_idle(p) && p->conn[UPSTREAM]) {
		int q = pl7_move(p, CLIENT);

		if (q < 0)
			return q;
		if (pl7_closing(p)) {
			l7_close(p);
			return -1;
		}
	}
	return r;
}

/* Give the other side what it will take; returns true if the pair is gone. */
bool pump(struct mg_proxy_pair *p, int from)
{
	int to = 1 - from;
	int r;

	if (!pair_ready(p) || !p->conn[to])
		return false;
	if (p->stash[to] && !flush_stash(p, to))
		return false;
	r = move(p, from);
	if (r < 0)
		return true;
	if (r == 0)
		return false;
	maybe_shut(p, to);
	maybe_shut(p, from);
	return maybe_finish(p);
}

/* One side is gone abnormally (or the upstream never came): end the other. */
void pair_abort(struct mg_proxy_pair *p)
{
	for (int i = 0; i < 2; i++)
		if (p->conn[i])
			mg_tcp_abort(p->px->tcp, p->conn[i]);
	pair_free(p);
}

static void on_closed(struct mg_proxy_pair *p, int side, enum mg_tcp_close_reason why)
{
	struct mg_proxy *px = p->px;

	p->conn[side] = NULL;
	if (why == MG_TCP_CLOSE_NORMAL) {
		p->fin_from[side] = p->shut[side] = true;
		if (!maybe_finish(p) && !p->conn[1 - side]) {
			PCTR(px, closed_normal, 1);
			pair_free(p);
		}
		return;
	}
	if (side == CLIENT)
		PCTR(px, closed_client_reset, 1);
	else if (why == MG_TCP_CLOSE_REFUSED)
		PCTR(px, upstream_refused, 1);
	else if (why == MG_TCP_CLOSE_SYN_TIMEOUT)
		PCTR(px, upstream_syn_timeout, 1);
	else
		PCTR(px, closed_upstream_reset, 1);
	pair_abort(p);
}

/*
 * While the TLS side handshakes, its bytes go to the handshake service and
 * the plaintext side waits in its receive queue (its window closes).
 */
static void on_handshake_event(struct mg_proxy_pair *p, int side, unsigned ev)
{
	if (ev & MG_TCP_EV_PEER_FIN)
		p->fin_from[side] = true;
	if (side != p->tls_side)
		return;
	if (ev & MG_TCP_EV_WRITABLE)
		ptls_writable(p, side);
	else if (ev & (MG_TCP_EV_READABLE | MG_TCP_EV_PEER_FIN))
		ptls_readable(p, side);
}

static void on_event(void *user, struct mg_tcp_conn *c, unsigned ev)
{
	struct mg_proxy_pair *p = user;
	int side = c == p->conn[UPSTREAM] ? UPSTREAM : CLIENT;

	if (ev & MG_TCP_EV_CLOSED) {
		on_closed(p, side, mg_tcp_close_reason(c));
		return;
	}
	if (ev & MG_TCP_EV_CONNECTED) {
		p->connected = true;
		PCTR(p->px, upstream_connected, 1);
		if (p->tls_side == UPSTREAM) {
			ptls_connected(p); /* the client handshake starts; data waits for it */
			return;
		}
		if (pump(p, CLIENT))
			return;
	}
	if (p->tls == TLS_HANDSHAKE) {
		on_handshake_event(p, side, ev);
		return;
	}
	if (ev & MG_TCP_EV_PEER_FIN)
		p->fin_from[side] = true;
	if ((ev & (MG_TCP_EV_READABLE | MG_TCP_EV_PEER_FIN)) && pump(p, side))
		return;
	if (ev & MG_TCP_EV_WRITABLE)
		pump(p, 1 - side);
}

static const struct mg_tcp_ops pair_ops = { .accept = NULL, .event = on_event };

/*
 * A source port for an upstream connection, RFC 6056 algorithm 4 ("double
 * hash"): per destination a secret offset (a keyed hash of our address, the
 * upstream's address and port, under the boot's secret) plus a counter that
 * moves one port per probe, from a table of counters indexed by another part
 * of the same hash. So each destination walks the range in its own order,
 * from where its last connection left off: the next port is the one used
 * longest ago, free or a TIME-WAIT tuple old enough to be taken over (RFC
 * 6191, mg_tcp_tuple_free), so one probe is the rule however many TIME-WAIT
 * tuples there are, and an off-path attacker cannot guess the ports, nor does
 * a restarted gateway start where its predecessor did. A port must also give
 * a tuple this worker owns (the upstream's replies must reach our queue):
 * about one in n_workers does. At most MG_PROXY_PORT_TRIES probes (counted
 * source_port_probes); none found is a refusal the caller counts.
 */
static bool pick_sport(struct mg_proxy *px, const struct mg_proxy_listener_conf *l,
		       uint32_t lip, uint16_t *sport)
{
	struct mg_tcp_key key = { .lip = lip, .rip = l->upstream_ip, .rport = l->upstream_port };
	/* The tag keeps this use of the secret apart from the ISN's. */
	const struct { struct mg_tcp_key k; uint32_t tag; } in = { key, SPORT_TAG };
	uint64_t h = mg_tcp_secret_hash(px->tcp, &in, sizeof(in));
	uint32_t offset = (uint32_t)h;
	uint32_t *next = &px->sport_next[(h >> 32) % MG_PROXY_SPORT_TABLE];

	for (unsigned i = 0; i < MG_PROXY_PORT_TRIES; i++) {
		uint16_t cand = (uint16_t)(SPORT_FIRST + (offset + (*next)++) % SPORT_COUNT);

		PCTR(px, source_port_probes, 1);
		key.lport = rte_cpu_to_be_16(cand);
		if (px->env.owns &&
		    !px->env.owns(px->env.ctx, key.lip, key.rip, key.lport, key.rport))
			continue;
		if (!mg_tcp_tuple_free(px->tcp, &key))
			continue;
		*sport = key.lport;
		return true;
	}
	return false;
}

/*
 * Connect upstream, or wait for the neighbour. @return false if the client
 * must be refused (counted).
 */
bool start_upstream(struct mg_proxy *px, struct mg_proxy_pair *p)
{
	const struct mg_proxy_listener_conf *l = &px->listeners[p->li];
	struct mg_tcp_connect_args a = {
		.port = l->up_port, .dst_ip = l->upstream_ip, .dst_port = l->upstream_port,
		.ops = &pair_ops, .user = p,
	};

	a.src_ip = px->tcp->p.ports[l->up_port].ip;
	if (!px->env.resolve(px->env.ctx, l->up_port, l->next_hop, a.next_hop_mac)) {
		PCTR(px, neigh_requests, 1);
		if (++p->tries > MG_PROXY_CONNECT_TRIES) {
			PCTR(px, neigh_unresolved, 1);
			return false;
		}
		wait_list_add(px, p, px->tcp->now + MG_PROXY_RETRY_US);
		return true;
	}
	if (p->waiting)
		unlink_waiting(px, p);
	if (!pick_sport(px, l, a.src_ip, &a.src_port)) {
		PCTR(px, no_source_port, 1);
		return false;
	}
	if (mg_tcp_connect(px->tcp, &a, &p->conn[UPSTREAM]) < 0) {
		p->conn[UPSTREAM] = NULL;
		PCTR(px, connect_failed, 1);
		return false;
	}
	PCTR(px, upstream_connects, 1);
	return true;
}

void proxy_event(struct mg_proxy_pair *p, enum mg_proxy_event_kind kind, uint16_t verdict)
{
	proxy_event_rule(p, kind, verdict, p->rule);
}

void proxy_event_rule(struct mg_proxy_pair *p, enum mg_proxy_event_kind kind, uint16_t verdict,
		      uint32_t rule)
{
	proxy_event_as(p, kind, verdict, rule, p->peer_id);
}

/* As proxy_event_rule, with @p who (NULL: none) as the event's SPIFFE ID. */
void proxy_event_as(struct mg_proxy_pair *p, enum mg_proxy_event_kind kind, uint16_t verdict,
		    uint32_t rule, const char *who)
{
	struct mg_proxy *px = p->px;
	struct mg_proxy_event ev = {
		.kind = (uint8_t)kind, .listener = (uint8_t)p->li, .verdict = verdict,
		.peer_ip = p->client_ip, .peer_port = p->client_port, .rule = rule,
		.generation = px->generation,
	};

	if (!px->env.event)
		return;
	if (p->job && !p->job_out) {
		ev.tls_error = (uint8_t)p->job->hs.error;
		ev.svid = (uint8_t)p->job->hs.svid;
	}
	if (who)
		snprintf(ev.peer_id, sizeof(ev.peer_id), "%s", who);
	px->env.event(px->env.ctx, &ev);
}

/*
 * Ask the policy of this loop whether @p peer_id (NULL: no workload at the
 * client's address) may reach the listener's destination. Every verdict is
 * counted; a denial is also an audit event.
 */
bool proxy_authorize(struct mg_proxy_pair *p, const char *peer_id, const char *image)
{
	struct mg_proxy *px = p->px;
	const struct mg_proxy_listener_conf *l = &px->listeners[p->li];
	struct mg_proxy_authz_req r = {
		.peer_id = peer_id, .image = image, .dst_ip = l->dst_ip, .dst_port = l->dst_port,
	};
	uint16_t verdict = 0;
	uint32_t rule = UINT32_MAX;
	bool again = p->authz_gen != 0;
	enum mg_proxy_admit ok;

	if (!px->env.authorize)
		return true;
	ok = px->env.authorize(px->policy, &r, &verdict, &rule);
	if (verdict < MG_PROXY_AUTHZ_MAX)
		PSTAT(px->st.authz[verdict], 1);
	p->rule = rule;
	p->authz_gen = px->generation;
	if (ok == MG_PROXY_ALLOW_L7 && !pl7_admit(p, again)) {
		proxy_event(p, again ? MG_PROXY_EV_REAUTH_CLOSED : MG_PROXY_EV_DENIED, verdict);
		return false; /* counted: l7_unavailable or l7_pool_empty */
	}
	if (ok) {
		PCTR(px, authz_allowed, 1);
		return true;
	}
	PCTR(px, authz_denied, 1);
	proxy_event(p, again ? MG_PROXY_EV_REAUTH_CLOSED : MG_PROXY_EV_DENIED, verdict);
	return false;
}

/*
 * What a new client must pass before anything is sent upstream. tcp: the
 * policy's workload at its source address, authorized; then connect.
 * inbound: a handshake first (ptls_accept), the upstream after its verdict.
 * outbound: as tcp for the client, with our SVID for it; then connect, and
 * the handshake runs on the upstream connection.
 */
static bool admit(struct mg_proxy *px, struct mg_proxy_pair *p)
{
	const struct mg_proxy_listener_conf *l = &px->listeners[p->li];
	const char *id = NULL;

	if (l->kind == MG_PROXY_INBOUND)
		return ptls_accept(p);
	if (px->env.authorize)
		id = px->env.workload_id(px->policy, p->client_ip, 0);
	if (l->kind == MG_PROXY_OUTBOUND) {
		if (!ptls_outbound_accept(p, id)) /* authorizes with our SVID's image */
			return false;
	} else if (!proxy_authorize(p, id, NULL)) {
		return false;
	}
	return start_upstream(px, p);
}

static void *on_accept(void *listen_user, struct mg_tcp_conn *c)
{
	struct mg_proxy_lctx *lc = listen_user;
	struct mg_proxy *px = lc->px;
	struct mg_proxy_pair *p = pair_alloc(px);

	if (!p) {
		PCTR(px, pool_full, 1);
		return NULL;
	}
	PCTR(px, accepted, 1);
	p->conn[CLIENT] = c;
	p->last_active = px->tcp->now;
	p->li = lc->li;
	p->client_ip = c->key.rip;
	p->client_port = c->key.rport;
	if (!admit(px, p)) {
		p->conn[CLIENT] = NULL; /* the stack resets it: we refuse */
		pair_free(p);
		return NULL;
	}
	return p;
}

static const struct mg_tcp_ops listen_ops = { .accept = on_accept, .event = on_event };

/* A pair on the wait list is due: connect upstream, or move its data again. */
static void pair_retry(struct mg_proxy *px, struct mg_proxy_pair *p)
{
	if (p->connected) {
		unlink_waiting(px, p);
		if (!pump(p, CLIENT))
			pump(p, UPSTREAM);
		return;
	}
	if (!start_upstream(px, p)) {
		mg_tcp_abort(px->tcp, p->conn[CLIENT]);
		p->conn[CLIENT] = NULL;
		pair_free(p);
	}
}

/*
 * A pair that moves nothing holds its buffers and two connection slots; a
 * peer that only sends out-of-order data, or keeps a window shut, moves
 * nothing. A bounded slice of the pool is looked at per call, round robin,
 * so every pair is seen within max_pairs / MG_PROXY_SWEEP_PAIRS loops.
 */
static void idle_sweep(struct mg_proxy *px, uint64_t now)
{
	for (unsigned n = 0; n < MG_PROXY_SWEEP_PAIRS && n < px->max_pairs; n++) {
		struct mg_proxy_pair *p = &px->pairs[px->sweep_next];
		uint64_t limit;

		px->sweep_next = px->sweep_next + 1 == px->max_pairs ? 0 : px->sweep_next + 1;
		if (!p->in_use || ptls_deadline(p, now))
			continue;
		limit = px->listeners[p->li].idle_timeout_us;
		if (limit && now >= p->last_active + limit) {
			PCTR(px, closed_idle, 1);
			pair_abort(p);
		}
	}
}

/*
 * Whether a live pair keeps its permission under the policy of this loop.
 * A pair still handshaking is judged when its handshake ends, with the
 * policy then in force.
 */
static bool still_allowed(struct mg_proxy_pair *p)
{
	struct mg_proxy *px = p->px;
	const struct mg_proxy_listener_conf *l = &px->listeners[p->li];
	const char *id;

	if (l->kind == MG_PROXY_INBOUND)
		return proxy_authorize(p, p->peer_id, p->image[0] ? p->image : NULL);
	id = px->env.workload_id(px->policy, p->client_ip, 0);
	if (l->kind == MG_PROXY_OUTBOUND) {
		const char *up = px->env.workload_id(px->policy, l->dst_ip, l->dst_port);
		const struct mg_tls_local *me =
			id ? mg_tls_set_find(px->env.tls_set(px->policy), id) : NULL;

		/* The upstream proved peer_id: it must still be the one we require. */
		if (!up || strcmp(up, p->peer_id) != 0) {
			proxy_event(p, MG_PROXY_EV_REAUTH_CLOSED, MG_PROXY_VERDICT_UPSTREAM_ID);
			return false;
		}
		return proxy_authorize(p, id, me ? me->image : NULL);
	}
	return proxy_authorize(p, id, NULL);
}

/* Closed by a swap: close_notify where TLS is up, then FIN both ways. */
static void reauth_close(struct mg_proxy_pair *p)
{
	struct mg_proxy *px = p->px;

	PCTR(px, reauth_closed, 1);
	if (p->tls == TLS_UP)
		(void)ptls_close_notify(p);
	for (int i = 0; i < 2; i++)
		if (p->conn[i])
			mg_tcp_close(px->tcp, p->conn[i]);
	pair_free(p);
}

/*
 * After a swap: every authorized pair is judged again, a slice per loop. The
 * closes are paced too: each queues a close_notify and two FINs, and
 * thousands at once overflow the port's TX queue (then the peers learn of the
 * close only by retransmission, seconds later; bench/mtls.sh saw it).
 */
static void reauth_walk(struct mg_proxy *px, uint64_t now)
{
	unsigned closed = 0;

	if (now < px->reauth_resume_at)
		return;
	for (unsigned n = 0; n < MG_PROXY_REAUTH_PAIRS && px->reauth_left > 0 &&
			     closed < MG_PROXY_REAUTH_CLOSES;
	     n++) {
		struct mg_proxy_pair *p = &px->pairs[px->reauth_next];

		px->reauth_next = px->reauth_next + 1 == px->max_pairs ? 0 : px->reauth_next + 1;
		px->reauth_left--;
		if (!p->in_use || !p->authz_gen || p->authz_gen == px->generation ||
		    p->tls == TLS_HANDSHAKE)
			continue;
		PCTR(px, reauth_checked, 1);
		if (!still_allowed(p)) {
			reauth_close(p);
			closed++;
		}
	}
	if (closed == MG_PROXY_REAUTH_CLOSES)
		px->reauth_resume_at = now + MG_PROXY_REAUTH_GAP_US;
}

void mg_proxy_set_policy(struct mg_proxy *px, const void *policy)
{
	uint64_t g;

	px->policy = policy;
	if (!px->env.generation || !policy)
		return;
	g = px->env.generation(policy);
	if (g != px->generation) {
		px->generation = g;
		px->reauth_left = px->max_pairs; /* (re)start the walk: one full turn */
	}
}

bool mg_proxy_conn_info(const struct mg_proxy *px, uint32_t i, struct mg_proxy_conn_info *out)
{
	const struct mg_proxy_pair *p;

	if (i >= px->max_pairs)
		return false;
	p = &px->pairs[i];
	if (!__atomic_load_n(&p->in_use, __ATOMIC_RELAXED))
		return false;
	out->listener = p->li;
	out->kind = (uint8_t)px->listeners[p->li].kind;
	out->phase = p->shut[0] || p->shut[1] ? 2 : pair_ready(p) ? 1 : 0;
	out->client_ip = p->client_ip;
	out->client_port = p->client_port;
	out->rule = p->rule;
	out->generation = p->authz_gen;
	out->bytes_up = __atomic_load_n(&p->bytes[CLIENT], __ATOMIC_RELAXED);
	out->bytes_down = __atomic_load_n(&p->bytes[UPSTREAM], __ATOMIC_RELAXED);
	out->l7 = __atomic_load_n(&p->l7, __ATOMIC_RELAXED) != NULL;
	out->requests = __atomic_load_n(&p->l7_requests, __ATOMIC_RELAXED);
	out->denied = __atomic_load_n(&p->l7_denied, __ATOMIC_RELAXED);
	memcpy(out->peer_id, p->peer_id, sizeof(out->peer_id));
	out->peer_id[sizeof(out->peer_id) - 1] = '\0';
	return true;
}

void mg_proxy_poll(struct mg_proxy *px, uint64_t now)
{
	struct mg_proxy_pair *p = px->waiting, *next;

	if (px->svc) {
		ptls_collect(px);
		ptls_kick(px);
	}
	if (px->reauth_left)
		reauth_walk(px, now);

	for (; p; p = next) {
		next = p->next;
		if (now >= p->retry_at)
			pair_retry(px, p);
	}
	idle_sweep(px, now);
}

MG_RESULT mg_proxy_init(struct mg_proxy *px, struct mg_tcp_stack *tcp,
			const struct mg_proxy_listener_conf *l, uint16_t n,
			uint32_t max_pairs, int socket_id, const struct mg_proxy_env *env,
			const struct mg_proxy_tls_conf *tls)
{
	memset(px, 0, sizeof(*px));
	MG_ENSURE(n <= MG_PROXY_MAX_LISTENERS, USAGE,
		  "%u listeners, this stack takes at most %u", n, MG_PROXY_MAX_LISTENERS);
	MG_ENSURE(env && env->resolve && max_pairs > 0, USAGE, "proxy: bad parameters");
	px->tcp = tcp;
	px->env = *env;
	px->n_listeners = n;
	px->max_pairs = max_pairs;
	if (n) /* l may be NULL without listeners */
		memcpy(px->listeners, l, n * sizeof(*l));
	px->pairs = rte_zmalloc_socket("mg_proxy_pairs", (size_t)max_pairs * sizeof(*px->pairs),
				       RTE_CACHE_LINE_SIZE, socket_id);
	MG_ENSURE(px->pairs, NOMEM, "proxy: no memory for %u pairs", max_pairs);
	if (tls && tls->svc) {
		px->svc = tls->svc;
		px->hs_timeout_us = tls->handshake_timeout_us;
		px->peer_hs_max = tls->peer_handshakes;
		px->tls_buf = rte_malloc_socket("mg_proxy_tls", MG_TLS_JOB_IO, RTE_CACHE_LINE_SIZE,
						socket_id);
		MG_ENSURE(px->tls_buf, NOMEM, "proxy: no memory for the record buffer");
	}
	MG_GUARD(pl7_init(px, socket_id));
	for (uint32_t i = max_pairs; i-- > 0;) {
		px->pairs[i].px = px;
		px->pairs[i].next = px->free_list;
		px->free_list = &px->pairs[i];
	}
	for (uint16_t i = 0; i < n; i++) {
		struct mg_proxy_lctx *lc = &px->lctx[i];

		lc->px = px;
		lc->li = i;
		if (mg_tcp_listen(tcp, l[i].listen_ip, l[i].listen_port, l[i].backlog,
				  &listen_ops, lc) < 0) {
			char why[256]; /* mg_errmsg() is the buffer the next message goes to */

			snprintf(why, sizeof(why), "%s", mg_errmsg());
			MG_ENSURE(false, USAGE, "listener %u: %s", i, why);
		}
	}
	return 0;
}

void mg_proxy_free(struct mg_proxy *px)
{
	for (uint32_t i = 0; px->pairs && i < px->max_pairs; i++)
		if (px->pairs[i].in_use)
			ptls_release(&px->pairs[i]);
	rte_free(px->tls_buf);
	px->tls_buf = NULL;
	pl7_free(px);
	rte_free(px->pairs);
	px->pairs = NULL;
}
