/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The stack and its connections: init with every bound fixed, the connection
 * pool and table, event delivery, and the calls of the upper layer (listen,
 * connect, send, recv, shutdown, close, abort).
 *
 * Ownership: a connection belongs to the app from CONNECTED (or accept) until
 * it calls close/abort or receives CLOSED. Events are queued while the stack
 * works on a segment and delivered at the end of the stack call, so callbacks
 * never see a half-updated connection; a CLOSED connection returns to the
 * pool only after its last event was delivered.
 */
#include <string.h>

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>

#include "tcp_priv.h"

static const char *const state_names[] = {
#define _(sym, name) #name,
	foreach_mg_tcp_state(_)
#undef _
};
static const char *const counter_names[] = {
#define _(sym, desc) #sym,
	foreach_mg_tcp_counter(_)
#undef _
};
static const char *const drop_names[] = {
#define _(sym, name, desc) #name,
	foreach_mg_tcp_drop(_)
#undef _
};
static const char *const close_names[] = {
#define _(sym, name, desc) #name,
	foreach_mg_tcp_close(_)
#undef _
};

const char *mg_tcp_state_name(enum mg_tcp_state st)
{
	return (unsigned)st < MG_TCP_STATE__COUNT ? state_names[st] : "?";
}

const char *mg_tcp_counter_name(enum mg_tcp_counter ctr)
{
	return (unsigned)ctr < MG_TCP_CTR__COUNT ? counter_names[ctr] : "?";
}

const char *mg_tcp_drop_name(enum mg_tcp_drop d)
{
	return (unsigned)d < MG_TCP_DROP__COUNT ? drop_names[d] : "?";
}

const char *mg_tcp_close_name(enum mg_tcp_close_reason r)
{
	return (unsigned)r < MG_TCP_CLOSE__COUNT ? close_names[r] : "?";
}

void mg_tcp_params_default(struct mg_tcp_params *p)
{
	memset(p, 0, sizeof(*p));
	p->name = "mg_tcp";
	p->socket_id = SOCKET_ID_ANY;
	p->max_conns = 65536;
	p->sndbuf = 256 * 1024;
	p->rcvbuf = 256 * 1024;
	p->mem_max = 256ULL * 1024 * 1024;
	p->ooo_max_segs = 512;
	p->tx_ring_size = 4096;
	p->tx_copy_max = 128;
	p->cc = MG_TCP_CC_CUBIC;
	p->rto_init = 1000000;  /* RFC 6298 (2.1) */
	p->rto_min = 200000;    /* Linux's floor; RFC 6298 suggests 1 s */
	p->rto_max = 60000000;  /* RFC 6298 (2.5) */
	p->delack = 40000;
	p->time_wait = 60000000; /* 2 MSL with MSL = 30 s */
	p->time_wait_max = 0;   /* 4 x max_conns */
	p->fin_wait2 = 60000000;
	p->keep_idle = 0;
	p->keep_intvl = 75000000;
	p->keep_probes = 9;
	p->syn_retries = 7;     /* 255 s: RFC 9293 MUST-23 wants >= 3 min */
	p->max_retries = 15;
	p->challenge_ack_limit = 1000;  /* Linux's tcp_challenge_ack_limit */
	p->challenge_ack_gap = 500000;  /* Linux's tcp_invalid_ratelimit: 500 ms */
	p->syncookie_valid = 120000000; /* Linux's TCP_SYNCOOKIE_VALID: 2 min */
	p->ttl = 64;
	p->timer_budget = 4096;
	p->output_budget = 64;
	p->n_ports = 1;
	p->ports[0].mtu = 1500;
}

static MG_RESULT check_params(const struct mg_tcp_params *p)
{
	MG_ENSURE(p->name && p->name[0], USAGE, "tcp: name: missing");
	MG_ENSURE(p->max_conns >= 1 && p->max_conns <= (1u << 24), USAGE,
		  "tcp: max_conns: %u not in 1..16777216", p->max_conns);
	MG_ENSURE(p->pool, USAGE, "tcp: pool: missing");
	MG_ENSURE(p->n_ports >= 1 && p->n_ports <= MG_TCP_MAX_PORTS, USAGE,
		  "tcp: n_ports: %u not in 1..%u", p->n_ports, MG_TCP_MAX_PORTS);
	MG_ENSURE(rte_is_power_of_2(p->tx_ring_size) && p->tx_ring_size >= 64, USAGE,
		  "tcp: tx_ring_size: %u is not a power of two >= 64", p->tx_ring_size);
	MG_ENSURE(p->sndbuf >= 4096 && p->sndbuf <= (1u << 30), USAGE,
		  "tcp: sndbuf: %u not in 4096..2^30", p->sndbuf);
	MG_ENSURE(p->rcvbuf >= 4096 && p->rcvbuf <= (TCP_MAX_WIN << TCP_MAX_WSCALE), USAGE,
		  "tcp: rcvbuf: %u not in 4096..%u", p->rcvbuf, TCP_MAX_WIN << TCP_MAX_WSCALE);
	MG_ENSURE(p->rto_min > 0 && p->rto_min <= p->rto_init && p->rto_init <= p->rto_max,
		  USAGE, "tcp: rto: need 0 < rto_min <= rto_init <= rto_max");
	MG_ENSURE(p->ttl > 0, USAGE, "tcp: ttl: must be > 0");
	MG_ENSURE(p->time_wait_max <= (1u << 24), USAGE,
		  "tcp: time_wait_max: %u not in 0..16777216", p->time_wait_max);
	MG_ENSURE(p->timer_budget > 0 && p->output_budget > 0, USAGE,
		  "tcp: timer_budget, output_budget: must be > 0");
	MG_ENSURE(p->challenge_ack_limit >= 1 && p->challenge_ack_limit <= (1u << 30), USAGE,
		  "tcp: challenge_ack_limit: %u not in 1..2^30", p->challenge_ack_limit);
	MG_ENSURE(p->syncookie_valid >= 1000000, USAGE,
		  "tcp: syncookie_valid: %u µs is below 1 s", p->syncookie_valid);
	for (unsigned i = 0; i < p->n_ports; i++)
		MG_ENSURE(p->ports[i].mtu >= 576 && p->ports[i].mtu <= 9000, USAGE,
			  "tcp: ports[%u].mtu: %u not in 576..9000", i, p->ports[i].mtu);
	return 0;
}

MG_RESULT mg_tcp_stack_init(struct mg_tcp_stack *s, const struct mg_tcp_params *p)
{
	struct rte_hash_parameters hp;
	char hname[RTE_HASH_NAMESIZE];
	uint32_t room;
	int rc = 0;

	memset(s, 0, sizeof(*s));
	MG_GUARD(check_params(p));
	s->p = *p;
	/* A proxy leaves one TIME-WAIT per pair it ends, for 2 MSL after. */
	if (!s->p.time_wait_max)
		s->p.time_wait_max = RTE_MIN(4 * p->max_conns, 1u << 24);
	room = rte_pktmbuf_data_room_size(p->pool);
	for (uint16_t i = 0; i < p->n_ports; i++)
		if (p->ports[i].tx_pool)
			room = RTE_MIN(room, rte_pktmbuf_data_room_size(p->ports[i].tx_pool));
	MG_ENSURE(room >= RTE_PKTMBUF_HEADROOM + HDRS_LEN + TCP_OPT_MAX + 1, USAGE,
		  "tcp: pool: data room %u too small for headers", room);
	/* Copies must fit the header mbuf next to the headers. */
	room -= RTE_PKTMBUF_HEADROOM + HDRS_LEN + TCP_OPT_MAX;
	if (s->p.tx_copy_max > room)
		s->p.tx_copy_max = (uint16_t)room;
	TAILQ_INIT(&s->free_list);
	TAILQ_INIT(&s->pending);
	TAILQ_INIT(&s->evlist);
	for (unsigned i = 0; i < MG_TCP_WHEEL_SLOTS; i++)
		TAILQ_INIT(&s->wheel[i]);
	for (unsigned i = 0; i < MG_TCP_OOO_CLASSES; i++)
		TAILQ_INIT(&s->ooo_by_size[i]);

	s->conns = rte_zmalloc_socket("mg_tcp_conns", sizeof(*s->conns) * p->max_conns,
				      RTE_CACHE_LINE_SIZE, p->socket_id);
	MG_ENSURE_GOTO(s->conns, fail, NOMEM, "tcp: %u connections: out of memory",
		       p->max_conns);
	s->tx = rte_zmalloc_socket("mg_tcp_tx", sizeof(*s->tx) * p->tx_ring_size,
				   RTE_CACHE_LINE_SIZE, p->socket_id);
	MG_ENSURE_GOTO(s->tx, fail, NOMEM, "tcp: tx ring: out of memory");
	snprintf(hname, sizeof(hname), "%s", p->name);
	memset(&hp, 0, sizeof(hp));
	hp.name = hname;
	hp.entries = RTE_MAX(p->max_conns, 64u);
	hp.key_len = sizeof(struct mg_tcp_key);
	hp.hash_func = rte_hash_crc;
	/* A secret seed keeps remote peers from aiming tuples at one bucket. */
	hp.hash_func_init_val = (uint32_t)isn_siphash(p->isn_secret, "hash", 4);
	hp.socket_id = p->socket_id;
	hp.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE; /* every entry fits */
	s->hash = rte_hash_create(&hp);
	MG_ENSURE_GOTO(s->hash, fail, DPDK, "tcp: rte_hash_create(%s): %s", hname,
		       rte_strerror(rte_errno));
	if (tw_init(s) < 0)
		goto fail;
	for (uint32_t i = 0; i < p->max_conns; i++) {
		s->conns[i].flags = TF_FREE;
		TAILQ_INSERT_TAIL(&s->free_list, &s->conns[i], ev_link);
	}
	return 0;
fail:
	rc = -1;
	tw_free(s);
	rte_hash_free(s->hash);
	s->hash = NULL;
	rte_free(s->tx);
	rte_free(s->conns);
	s->tx = NULL;
	s->conns = NULL;
	return rc;
}

static void free_chain_list(struct rte_mbuf *m)
{
	while (m) {
		struct rte_mbuf *n = m->next;

		m->next = NULL;
		rte_pktmbuf_free_seg(m);
		m = n;
	}
}

static void conn_free_queues(struct mg_tcp_stack *s, struct mg_tcp_conn *c)
{
	free_chain_list(c->sndq_head);
	free_chain_list(c->rcvq_head);
	reass_flush(s, c);
	STAT_SUB(s->st.mem_used, c->sndq_true + c->rcvq_true);
	c->sndq_head = c->sndq_tail = c->rcvq_head = c->rcvq_tail = NULL;
	c->sndq_hint = NULL;
	c->sndq_bytes = c->sndq_true = c->rcvq_bytes = c->rcvq_true = 0;
}

void mg_tcp_stack_free(struct mg_tcp_stack *s)
{
	if (s->conns)
		for (uint32_t i = 0; i < s->p.max_conns; i++)
			if (!(s->conns[i].flags & TF_FREE))
				conn_free_queues(s, &s->conns[i]);
	while (s->tx && s->tx_tail != s->tx_head)
		rte_pktmbuf_free(s->tx[s->tx_tail++ & (s->p.tx_ring_size - 1)]);
	tw_free(s);
	rte_hash_free(s->hash);
	rte_free(s->tx);
	rte_free(s->conns);
	s->hash = NULL;
	s->tx = NULL;
	s->conns = NULL;
}

uint32_t conn_truesize(const struct rte_mbuf *m)
{
	return m->buf_len;
}

/* Our receive window scale: the smallest shift that lets rcvbuf be advertised. */
static uint8_t wscale_for(uint32_t rcvbuf)
{
	uint8_t ws = 0;

	while (ws < TCP_MAX_WSCALE && (rcvbuf >> ws) > TCP_MAX_WIN)
		ws++;
	return ws;
}

void conn_init_from_port(struct mg_tcp_stack *s, struct mg_tcp_conn *c)
{
	c->sndbuf = s->p.sndbuf;
	c->rcvbuf = s->p.rcvbuf;
	c->rto = s->p.rto_init;
	c->mss = TCP_DEFAULT_MSS;
	c->rcv_wscale = (s->p.flags & MG_TCP_F_NO_WS) ? 0 : wscale_for(c->rcvbuf);
	c->listener = -1;
	c->ts_offset = isn_ts_offset(s, &c->key);
}

struct mg_tcp_conn *conn_alloc(struct mg_tcp_stack *s, const struct mg_tcp_key *k)
{
	struct mg_tcp_conn *c = TAILQ_FIRST(&s->free_list);

	if (!c) {
		CTR(s, conn_bound_hits);
		return NULL;
	}
	if (rte_hash_add_key_data(s->hash, k, c) < 0) {
		CTR(s, conn_bound_hits);
		return NULL;
	}
	TAILQ_REMOVE(&s->free_list, c, ev_link);
	memset(c, 0, sizeof(*c));
	c->key = *k;
	c->state = MG_TCP_CLOSED;
	conn_init_from_port(s, c);
	return c;
}

struct mg_tcp_conn *mg_tcp_lookup(const struct mg_tcp_stack *s, const struct mg_tcp_key *k)
{
	void *data;

	if (rte_hash_lookup_data(s->hash, k, &data) < 0)
		return NULL;
	return data;
}

void conn_set_state(struct mg_tcp_stack *s, struct mg_tcp_conn *c, enum mg_tcp_state st)
{
	if (c->state != MG_TCP_CLOSED)
		STAT_SUB(s->st.conns[c->state], 1);
	if (st != MG_TCP_CLOSED)
		STAT_ADD(s->st.conns[st], 1);
	c->state = st;
}

static void evlist_add(struct mg_tcp_stack *s, struct mg_tcp_conn *c)
{
	if (!(c->flags & TF_ON_EVLIST)) {
		c->flags |= TF_ON_EVLIST;
		TAILQ_INSERT_TAIL(&s->evlist, c, ev_link);
	}
}

void conn_event(struct mg_tcp_stack *s, struct mg_tcp_conn *c, unsigned ev)
{
	c->ev_pending |= ev;
	evlist_add(s, c);
}

/* Out of the table, the timers and the output list, queues freed; CLOSED follows. */
static void conn_teardown(struct mg_tcp_stack *s, struct mg_tcp_conn *c)
{
	if (c->state == MG_TCP_SYN_RCVD && c->listener >= 0 &&
	    s->listeners[c->listener].embryonic > 0)
		s->listeners[c->listener].embryonic--;
	conn_set_state(s, c, MG_TCP_CLOSED);
	rte_hash_del_key(s->hash, &c->key);
	timer_unlink(s, c);
	if (c->flags & TF_ON_PENDING) {
		TAILQ_REMOVE(&s->pending, c, pend_link);
		c->flags &= ~TF_ON_PENDING;
	}
	conn_free_queues(s, c);
	c->flags |= TF_REAP;
	conn_event(s, c, MG_TCP_EV_CLOSED);
}

void conn_close(struct mg_tcp_stack *s, struct mg_tcp_conn *c, enum mg_tcp_close_reason r)
{
	if (c->flags & TF_REAP)
		return;
	c->close_reason = r;
	STAT_ADD(s->st.closes[r], 1);
	conn_teardown(s, c);
}

/*
 * A connection in TIME-WAIT that the application has closed gives its slot
 * back and leaves a TIME-WAIT record (tcp_timewait.c), whose end counts the
 * close. An ACK still owed goes out first. Without a record (the hash
 * refused it) the connection waits out its 2 MSL as it is.
 */
void conn_time_wait_compact(struct mg_tcp_stack *s, struct mg_tcp_conn *c)
{
	if (c->state != MG_TCP_TIME_WAIT || (c->flags & (TF_REAP | TF_DETACHED)) != TF_DETACHED)
		return;
	if (c->flags & TF_ACK_NOW)
		tcp_send_ack(s, c);
	if (!tw_add(s, c))
		return;
	c->close_reason = MG_TCP_CLOSE_NORMAL;
	conn_teardown(s, c);
}

static void conn_release(struct mg_tcp_stack *s, struct mg_tcp_conn *c)
{
	c->flags = TF_FREE;
	c->ops = NULL;
	c->user = NULL;
	TAILQ_INSERT_TAIL(&s->free_list, c, ev_link);
}

static void deliver_one(struct mg_tcp_stack *s, struct mg_tcp_conn *c)
{
	unsigned ev = c->ev_pending;

	c->ev_pending = 0;
	if ((c->flags & TF_ACCEPT) && !(c->flags & TF_REAP)) {
		struct mg_tcp_listener *l = &s->listeners[c->listener];
		void *user = NULL;

		c->flags &= ~TF_ACCEPT;
		if (l->used && l->ops && l->ops->accept)
			user = l->ops->accept(l->user, c);
		if (!user) {
			tcp_send_rst(s, c);
			c->flags |= TF_DETACHED;
			conn_close(s, c, MG_TCP_CLOSE_REJECTED);
		} else if (!(c->flags & (TF_DETACHED | TF_REAP))) {
			c->user = user;
			c->flags |= TF_ATTACHED;
		}
	}
	if (ev && (c->flags & TF_ATTACHED) && !(c->flags & TF_DETACHED) && c->ops &&
	    c->ops->event) {
		if (ev & MG_TCP_EV_CLOSED)
			ev = MG_TCP_EV_CLOSED; /* nothing else matters once it is gone */
		c->ops->event(c->user, c, ev);
	}
}

/* Deliver queued events; each callback may queue more (bounded by the app). */
void conn_deliver(struct mg_tcp_stack *s)
{
	struct mg_tcp_conn *c;

	if (s->delivering)
		return;
	s->delivering = true;
	while ((c = TAILQ_FIRST(&s->evlist)) != NULL) {
		TAILQ_REMOVE(&s->evlist, c, ev_link);
		enum mg_stage caller = mg_stage_switch(s->clock, MG_STAGE_PROXY);

		c->flags &= ~TF_ON_EVLIST;
		deliver_one(s, c);
		mg_stage_switch(s->clock, caller);
		if ((c->flags & TF_REAP) && !(c->flags & TF_ON_EVLIST))
			conn_release(s, c);
	}
	s->delivering = false;
}

int conn_listener_find(const struct mg_tcp_stack *s, uint32_t ip, uint16_t port)
{
	int any = -1;

	for (int i = 0; i < MG_TCP_MAX_LISTENERS; i++) {
		const struct mg_tcp_listener *l = &s->listeners[i];

		if (!l->used || l->port != port)
			continue;
		if (l->ip == ip)
			return i;
		if (l->ip == 0)
			any = i;
	}
	return any;
}

int mg_tcp_listen(struct mg_tcp_stack *s, uint32_t ip, uint16_t port, uint32_t backlog,
		  const struct mg_tcp_ops *ops, void *user)
{
	MG_ENSURE(port != 0, USAGE, "tcp: listen: port 0");
	MG_ENSURE(ops && ops->accept, USAGE, "tcp: listen: accept callback missing");
	for (int i = 0; i < MG_TCP_MAX_LISTENERS; i++)
		MG_ENSURE(!s->listeners[i].used || s->listeners[i].port != port ||
			  s->listeners[i].ip != ip, USAGE,
			  "tcp: listen: port %u already has a listener", rte_be_to_cpu_16(port));
	for (int i = 0; i < MG_TCP_MAX_LISTENERS; i++) {
		struct mg_tcp_listener *l = &s->listeners[i];

		if (l->used)
			continue;
		memset(l, 0, sizeof(*l));
		l->used = true;
		l->ip = ip;
		l->port = port;
		l->backlog = backlog;
		l->ops = ops;
		l->user = user;
		return i;
	}
	return mg_error_set(MG_ERR_USAGE, "tcp: listen: all %d listener slots in use",
			    MG_TCP_MAX_LISTENERS);
}

void mg_tcp_unlisten(struct mg_tcp_stack *s, int listener)
{
	if (listener >= 0 && listener < MG_TCP_MAX_LISTENERS)
		s->listeners[listener].used = false;
}

static bool invalid_peer(uint32_t ip_be)
{
	uint32_t ip = rte_be_to_cpu_32(ip_be);

	return ip == 0xffffffffu || (ip >> 28) == 0xe || (ip >> 24) == 0 || (ip >> 24) == 127;
}

/*
 * A TIME-WAIT record on the tuple of an active open: taken over when RFC 6191
 * lets the peer accept it (tw_connect_reusable), with an ISN past the old
 * incarnation's sequence space and its window (as Linux does), so that the
 * peer's old duplicates and ours can never fall into the new window.
 */
static MG_RESULT connect_take_tw(struct mg_tcp_stack *s, const struct mg_tcp_key *k,
				 uint32_t *iss_floor)
{
	struct mg_tcp_tw *t = tw_lookup(s, k);

	if (!t)
		return 0;
	MG_ENSURE(tw_connect_reusable(s, t), USAGE, "tcp: connect: tuple in TIME-WAIT");
	*iss_floor = t->snd_nxt + TCP_MAX_WIN + 2;
	if (*iss_floor == 0)
		*iss_floor = 1;
	CTR(s, tw_recycled);
	tw_remove(s, t, MG_TCP_CLOSE_TW_RECYCLED);
	return 0;
}

bool mg_tcp_tuple_free(const struct mg_tcp_stack *s, const struct mg_tcp_key *k)
{
	const struct mg_tcp_tw *t;

	if (mg_tcp_lookup(s, k))
		return false;
	t = tw_lookup(s, k);
	return !t || tw_connect_reusable(s, t);
}

MG_RESULT mg_tcp_connect(struct mg_tcp_stack *s, const struct mg_tcp_connect_args *a,
			 struct mg_tcp_conn **out)
{
	struct mg_tcp_key k;
	struct mg_tcp_conn *c;
	uint32_t iss_floor = 0;

	MG_ENSURE(a->port < s->p.n_ports, USAGE, "tcp: connect: port %u out of range",
		  a->port);
	MG_ENSURE(a->dst_port != 0 && a->src_port != 0 && a->dst_ip != 0, USAGE,
		  "tcp: connect: zero address or port");
	MG_ENSURE(a->ops && a->ops->event, USAGE, "tcp: connect: event callback missing");
	/* RFC 9293 MUST-46: no OPEN to broadcast, multicast or this-network. */
	MG_ENSURE(!invalid_peer(a->dst_ip), USAGE,
		  "tcp: connect: destination %u.%u.%u.%u is not a unicast address",
		  ((uint8_t *)&a->dst_ip)[0], ((uint8_t *)&a->dst_ip)[1],
		  ((uint8_t *)&a->dst_ip)[2], ((uint8_t *)&a->dst_ip)[3]);
	k.lip = a->src_ip ? a->src_ip : s->p.ports[a->port].ip;
	k.rip = a->dst_ip;
	k.lport = a->src_port;
	k.rport = a->dst_port;
	c = mg_tcp_lookup(s, &k);
	if (c && c->state == MG_TCP_TIME_WAIT) {
		/* Our ISN clock has moved past the old incarnation's sequence space. */
		CTR(s, tw_recycled);
		conn_close(s, c, MG_TCP_CLOSE_TW_RECYCLED);
		c = NULL;
	}
	MG_ENSURE(!c, USAGE, "tcp: connect: tuple in use (state %s)",
		  mg_tcp_state_name(c ? c->state : 0));
	MG_GUARD(connect_take_tw(s, &k, &iss_floor));
	c = conn_alloc(s, &k);
	MG_ENSURE(c, NOMEM, "tcp: connect: connection table full (%u)", s->p.max_conns);
	c->port = a->port;
	memcpy(c->peer_mac, a->next_hop_mac, 6);
	memcpy(c->our_mac, s->p.ports[a->port].mac, 6);
	c->ops = a->ops;
	c->user = a->user;
	c->tos = a->tos;
	c->flags |= TF_ATTACHED;
	c->mss = (uint16_t)(s->p.ports[a->port].mtu - 40);
	c->iss = isn_generate(s, &k);
	if (iss_floor && SEQ_LT(c->iss, iss_floor))
		c->iss = iss_floor;
	c->snd_una = c->iss;
	c->snd_nxt = c->snd_max = c->iss + 1;
	c->snd_buf_seq = c->iss + 1;
	c->recover = c->iss;
	cc_init(s, c);
	conn_set_state(s, c, MG_TCP_SYN_SENT);
	CTR(s, active_opens);
	c->rtt_seq = c->iss;
	c->rtt_start = s->now;
	c->flags |= TF_TIMING;
	tcp_send_syn(s, c);
	timer_rexmt_arm(s, c);
	timer_sched(s, c);
	*out = c;
	return 0;
}

static bool can_send(const struct mg_tcp_conn *c)
{
	if (c->flags & (TF_FIN_QUEUED | TF_DETACHED | TF_REAP))
		return false;
	return c->state == MG_TCP_SYN_SENT || c->state == MG_TCP_SYN_RCVD ||
	       c->state == MG_TCP_ESTABLISHED || c->state == MG_TCP_CLOSE_WAIT;
}

uint32_t mg_tcp_send_room(const struct mg_tcp_conn *c)
{
	if (!can_send(c))
		return 0;
	return c->sndbuf > c->sndq_bytes ? c->sndbuf - c->sndq_bytes : 0;
}

uint32_t mg_tcp_send_space(const struct mg_tcp_stack *s, const struct mg_tcp_conn *c)
{
	if (mem_pressed(s))
		return 0;
	return mg_tcp_send_room(c);
}

bool mg_tcp_want_writable(struct mg_tcp_conn *c)
{
	if (sndbuf_half_free(c)) {
		c->flags &= ~TF_WANT_WRITE;
		return true;
	}
	c->flags |= TF_WANT_WRITE;
	return false;
}

static void sndq_append(struct mg_tcp_stack *s, struct mg_tcp_conn *c, struct rte_mbuf *m)
{
	uint32_t t = conn_truesize(m);

	m->next = NULL;
	if (c->sndq_tail)
		c->sndq_tail->next = m;
	else
		c->sndq_head = m;
	c->sndq_tail = m;
	c->sndq_bytes += m->data_len;
	c->sndq_true += t;
	STAT_ADD(s->st.mem_used, t);
}

/* The first @p n bytes of segment @p m as a new indirect mbuf; m keeps the rest. */
static struct rte_mbuf *split_front(struct mg_tcp_stack *s, struct rte_mbuf *m, uint16_t n)
{
	struct rte_mbuf *f = rte_pktmbuf_alloc(s->p.pool);

	if (!f) {
		CTR(s, alloc_failures);
		return NULL;
	}
	rte_pktmbuf_attach(f, m);
	f->data_len = n;
	f->pkt_len = n;
	f->next = NULL;
	m->data_off += n;
	m->data_len -= n;
	return f;
}

/* Re-head the rest of a chain after its front was taken. */
static void rehead(struct rte_mbuf *m)
{
	uint32_t len = 0;
	uint16_t segs = 0;

	for (struct rte_mbuf *x = m; x; x = x->next) {
		len += x->data_len;
		segs++;
	}
	m->pkt_len = len;
	m->nb_segs = segs;
}

int64_t mg_tcp_send(struct mg_tcp_stack *s, struct mg_tcp_conn *c, struct rte_mbuf **mp)
{
	struct rte_mbuf *m = *mp;
	uint32_t space, taken = 0;
	bool mem_hit = false;

	if (!can_send(c))
		return -1;
	space = c->sndbuf > c->sndq_bytes ? c->sndbuf - c->sndq_bytes : 0;
	while (m && taken < space) {
		struct rte_mbuf *next = m->next;
		uint32_t t = conn_truesize(m);

		if (s->st.mem_used + t > s->p.mem_max && !mem_reclaim(s, t)) {
			mem_hit = true;
			break;
		}
		if (m->data_len == 0) {
			m->next = NULL;
			rte_pktmbuf_free_seg(m);
			m = next;
			continue;
		}
		if (m->data_len > space - taken) {
			struct rte_mbuf *f = split_front(s, m, (uint16_t)(space - taken));

			if (f) {
				taken += f->data_len;
				sndq_append(s, c, f);
			}
			break;
		}
		taken += m->data_len;
		sndq_append(s, c, m);
		m = next;
	}
	if (m) {
		rehead(m);
		c->flags |= TF_WANT_WRITE;
		if (mem_hit)
			CTR(s, mem_bound_hits);
		else
			CTR(s, sndbuf_bound_hits);
	}
	*mp = m;
	if (taken && (c->state == MG_TCP_ESTABLISHED || c->state == MG_TCP_CLOSE_WAIT))
		tcp_output(s, c);
	conn_deliver(s);
	return taken;
}

int64_t mg_tcp_send_copy(struct mg_tcp_stack *s, struct mg_tcp_conn *c, const void *buf,
			 uint32_t len)
{
	const uint8_t *p = buf;
	uint32_t space = mg_tcp_send_space(s, c), done = 0;

	if (!can_send(c))
		return -1;
	while (done < len && done < space) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(s->p.pool);
		uint32_t n = RTE_MIN(len - done, space - done);
		int64_t r;

		if (!m) {
			CTR(s, alloc_failures);
			break;
		}
		n = RTE_MIN(n, (uint32_t)rte_pktmbuf_tailroom(m));
		memcpy(rte_pktmbuf_append(m, (uint16_t)n), p + done, n);
		r = mg_tcp_send(s, c, &m);
		if (m)
			rte_pktmbuf_free(m);
		if (r <= 0)
			break;
		done += (uint32_t)r;
		if ((uint32_t)r < n)
			break;
	}
	if (done < len) {
		c->flags |= TF_WANT_WRITE;
		if (done == space)
			CTR(s, sndbuf_bound_hits);
	}
	return done;
}

uint32_t mg_tcp_recv_ready(const struct mg_tcp_conn *c)
{
	return c->rcvq_bytes;
}

uint32_t mg_tcp_peek(const struct mg_tcp_conn *c, void *buf, uint32_t len)
{
	uint8_t *out = buf;
	uint32_t got = 0;

	for (const struct rte_mbuf *m = c->rcvq_head; m && got < len; m = m->next) {
		uint32_t n = RTE_MIN((uint32_t)m->data_len, len - got);

		memcpy(out + got, rte_pktmbuf_mtod(m, const uint8_t *), n);
		got += n;
	}
	return got;
}

uint32_t mg_tcp_recv_copy(struct mg_tcp_stack *s, struct mg_tcp_conn *c, void *buf,
			  uint32_t len)
{
	struct rte_mbuf *chain = NULL;
	uint32_t got = mg_tcp_recv(s, c, len, &chain), off = 0;

	for (struct rte_mbuf *m = chain; m; m = m->next) {
		memcpy((uint8_t *)buf + off, rte_pktmbuf_mtod(m, const uint8_t *), m->data_len);
		off += m->data_len;
	}
	rte_pktmbuf_free(chain);
	return got;
}

uint32_t mg_tcp_recv(struct mg_tcp_stack *s, struct mg_tcp_conn *c, uint32_t max,
		     struct rte_mbuf **out)
{
	struct rte_mbuf *head = NULL, *tail = NULL;
	uint32_t taken = 0, adv, new_wnd;
	uint16_t segs = 0;

	*out = NULL;
	while (c->rcvq_head && taken < max) {
		struct rte_mbuf *m = c->rcvq_head;

		if (m->data_len > max - taken) {
			m = split_front(s, m, (uint16_t)(max - taken));
			if (!m)
				break;
			c->rcvq_bytes -= m->data_len;
		} else {
			uint32_t t = conn_truesize(m);

			c->rcvq_head = m->next;
			if (!c->rcvq_head)
				c->rcvq_tail = NULL;
			m->next = NULL;
			c->rcvq_bytes -= m->data_len;
			c->rcvq_true -= t;
			STAT_SUB(s->st.mem_used, t);
		}
		taken += m->data_len;
		segs++;
		if (tail)
			tail->next = m;
		else
			head = m;
		tail = m;
	}
	if (head) {
		head->pkt_len = taken;
		head->nb_segs = segs;
	}
	*out = head;
	/*
	 * Tell the peer when the window grew by enough to matter (RFC 9293
	 * 3.8.6.2.2), measured against the window last advertised, not the one
	 * before this call: a proxy reads in pieces no bigger than its other side
	 * takes, and pieces below the threshold must still add up to an update,
	 * or a peer at zero window waits for its own backed-off persist probes.
	 * The update waits for the end of the RX burst or loop (the pending
	 * list): a proxy reads each segment as it arrives, and an ACK sent from
	 * here would go out every second full segment of a burst instead of
	 * once for the whole burst.
	 */
	adv = SEQ_GT(c->rcv_adv, c->rcv_nxt) ? c->rcv_adv - c->rcv_nxt : 0;
	new_wnd = tcp_rcv_window(s, c);
	if (taken && new_wnd > adv &&
	    new_wnd - adv >= RTE_MIN(c->rcvbuf / 2, 2u * c->mss) &&
	    (c->state == MG_TCP_ESTABLISHED || c->state == MG_TCP_FIN_WAIT_1 ||
	     c->state == MG_TCP_FIN_WAIT_2)) {
		c->flags |= TF_ACK_NOW;
		tcp_pending_add(s, c);
	}
	conn_deliver(s);
	return taken;
}

void mg_tcp_set_tos(struct mg_tcp_conn *c, uint8_t tos)
{
	c->tos = tos;
}

void mg_tcp_shutdown(struct mg_tcp_stack *s, struct mg_tcp_conn *c)
{
	if (c->flags & (TF_FIN_QUEUED | TF_REAP))
		return;
	switch (c->state) {
	case MG_TCP_SYN_SENT:
	case MG_TCP_SYN_RCVD:
		c->flags |= TF_FIN_QUEUED; /* sent once established */
		return;
	case MG_TCP_ESTABLISHED:
		conn_set_state(s, c, MG_TCP_FIN_WAIT_1);
		break;
	case MG_TCP_CLOSE_WAIT:
		conn_set_state(s, c, MG_TCP_LAST_ACK);
		break;
	default:
		return;
	}
	c->flags |= TF_FIN_QUEUED;
	tcp_output(s, c);
	conn_deliver(s);
}

void mg_tcp_close(struct mg_tcp_stack *s, struct mg_tcp_conn *c)
{
	if (c->flags & TF_REAP)
		return;
	if (c->rcvq_bytes) {
		tcp_send_rst(s, c);
		c->flags |= TF_DETACHED;
		conn_close(s, c, MG_TCP_CLOSE_UNREAD_DATA);
		conn_deliver(s);
		return;
	}
	c->flags |= TF_DETACHED;
	if (c->state == MG_TCP_SYN_SENT) {
		conn_close(s, c, MG_TCP_CLOSE_ABORTED);
	} else if (c->state == MG_TCP_TIME_WAIT) {
		conn_time_wait_compact(s, c);
	} else {
		mg_tcp_shutdown(s, c);
		if (c->state == MG_TCP_FIN_WAIT_2) {
			c->t_misc = s->now + s->p.fin_wait2;
			timer_sched(s, c);
		}
	}
	conn_deliver(s);
}

void mg_tcp_abort(struct mg_tcp_stack *s, struct mg_tcp_conn *c)
{
	if (c->flags & TF_REAP)
		return;
	switch (c->state) {
	case MG_TCP_SYN_RCVD:
	case MG_TCP_ESTABLISHED:
	case MG_TCP_FIN_WAIT_1:
	case MG_TCP_FIN_WAIT_2:
	case MG_TCP_CLOSE_WAIT:
		tcp_send_rst(s, c);
		break;
	default:
		break;
	}
	c->flags |= TF_DETACHED;
	conn_close(s, c, MG_TCP_CLOSE_ABORTED);
	conn_deliver(s);
}

void conn_sndq_ack(struct mg_tcp_stack *s, struct mg_tcp_conn *c, uint32_t n)
{
	c->snd_buf_seq += n;
	c->sndq_bytes -= n;
	while (n) {
		struct rte_mbuf *m = c->sndq_head;

		if (m->data_len > n) {
			m->data_off += n;
			m->data_len -= n;
			if (m == c->sndq_hint) /* its first byte moved up */
				c->sndq_hint_seq = c->snd_buf_seq;
			break;
		}
		n -= m->data_len;
		if (m == c->sndq_hint)
			c->sndq_hint = NULL;
		c->sndq_head = m->next;
		if (!c->sndq_head)
			c->sndq_tail = NULL;
		c->sndq_true -= conn_truesize(m);
		STAT_SUB(s->st.mem_used, conn_truesize(m));
		m->next = NULL;
		rte_pktmbuf_free_seg(m);
	}
}

void conn_enter_time_wait(struct mg_tcp_stack *s, struct mg_tcp_conn *c)
{
	conn_set_state(s, c, MG_TCP_TIME_WAIT);
	c->t_rexmt = c->t_keep = 0;
	c->flags &= ~(TF_PERSIST | TF_TLP);
	c->t_misc = s->now + s->p.time_wait;
	timer_sched(s, c);
}
