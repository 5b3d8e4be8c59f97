/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The TLS side of a proxied pair: the client side of an inbound listener, the
 * upstream side of an outbound one.
 *
 * Handshake: whole records are taken from the TCP receive queue into the
 * pair's job and posted to the handshake service (tls_svc.h); what comes back
 * is sent, until the job is done (our record layer keyed, the SSL object gone)
 * or failed (its alert sent, the pair closed). A record stays in the TCP
 * queue, inside the window, until all of it is there, so a pair holds no
 * buffer of its own, and a job (the cap on handshakes in flight) is taken only
 * once a whole record arrived. The deadline runs from accept (inbound) or from
 * the upstream's SYN-ACK (outbound).
 *
 * Records: one at a time through the worker's buffer, opened or sealed in
 * place, copied out of and into the TCP queues; a record is only taken when
 * the other side has room for all its plaintext, so backpressure is the
 * windows', as for plaintext splicing.
 */
#include "proxy_priv.h"

#include <string.h>

#include <rte_mbuf.h>

#include "stage.h"

#define ALERT_WARNING 1
#define ALERT_FATAL 2
#define ALERT_CLOSE_NOTIFY 0
#define ALERT_ACCESS_DENIED 49
#define HS_NEW_SESSION_TICKET 4
#define HS_KEY_UPDATE 24
#define PEER_TAG 0x70656572u /* "peer" */

/* Record crypto, charged to the worker's TLS stage. */
static size_t seal(struct mg_proxy_pair *p, uint8_t type, const uint8_t *in, size_t len,
		   uint8_t *rec, enum mg_tls_record_error *e)
{
	enum mg_stage caller = mg_stage_switch(p->px->tcp->clock, MG_STAGE_TLS);
	size_t n = mg_tls_seal(&p->tx, type, in, len, rec, e);

	mg_stage_switch(p->px->tcp->clock, caller);
	return n;
}

static enum mg_tls_record_error tls_open(struct mg_proxy_pair *p, uint8_t *rec, size_t len,
					 size_t *plain, uint8_t *type)
{
	enum mg_stage caller = mg_stage_switch(p->px->tcp->clock, MG_STAGE_TLS);
	enum mg_tls_record_error e = mg_tls_open(&p->rx, rec, len, plain, type);

	mg_stage_switch(p->px->tcp->clock, caller);
	return e;
}

static struct mg_tcp_conn *tls_conn(const struct mg_proxy_pair *p)
{
	return p->conn[p->tls_side];
}

static uint32_t pair_index(const struct mg_proxy_pair *p)
{
	return (uint32_t)(p - p->px->pairs);
}

/*
 * Handshakes in progress per source address: a keyed hash picks a counter,
 * so one address cannot hold the pool, and an off-path sender cannot aim at
 * another's counter.
 */
static bool peer_take(struct mg_proxy_pair *p)
{
	struct mg_proxy *px = p->px;
	const struct { uint32_t ip, tag; } in = { p->client_ip, PEER_TAG };
	uint16_t b = (uint16_t)(mg_tcp_secret_hash(px->tcp, &in, sizeof(in)) %
				MG_PROXY_PEER_BUCKETS);

	if (px->peer_hs[b] >= px->peer_hs_max)
		return false;
	px->peer_hs[b]++;
	p->peer_bucket = b;
	p->peer_counted = true;
	return true;
}

static void peer_release(struct mg_proxy_pair *p)
{
	if (p->peer_counted)
		p->px->peer_hs[p->peer_bucket]--;
	p->peer_counted = false;
}

static void handshake_over(struct mg_proxy_pair *p)
{
	if (p->tls == TLS_HANDSHAKE)
		PSTAT(p->px->st.handshakes_active, -1);
	peer_release(p);
}

static void begin_handshake(struct mg_proxy_pair *p)
{
	struct mg_proxy *px = p->px;

	p->tls = TLS_HANDSHAKE;
	p->hs_deadline = px->tcp->now + px->hs_timeout_us;
	PCTR(px, tls_handshakes, 1);
	PSTAT(px->st.handshakes_active, 1);
}

/* The local SVID this pair presents, under the policy of this loop. */
static const struct mg_tls_local *local_svid(struct mg_proxy_pair *p, struct mg_tls_set *set)
{
	struct mg_proxy *px = p->px;
	const struct mg_proxy_listener_conf *l = &px->listeners[p->li];
	const char *id = p->tls_side == CLIENT
				 ? px->env.workload_id(px->policy, l->dst_ip, l->dst_port)
				 : px->env.workload_id(px->policy, p->client_ip, 0);

	return id ? mg_tls_set_find(set, id) : NULL;
}

bool ptls_accept(struct mg_proxy_pair *p)
{
	struct mg_proxy *px = p->px;

	p->tls_side = CLIENT;
	if (!px->svc || !local_svid(p, px->env.tls_set(px->policy))) {
		PCTR(px, no_local_svid, 1);
		return false;
	}
	begin_handshake(p);
	return true;
}

bool ptls_outbound_accept(struct mg_proxy_pair *p, const char *client_id)
{
	struct mg_proxy *px = p->px;
	const struct mg_proxy_listener_conf *l = &px->listeners[p->li];
	const struct mg_tls_local *me;
	const char *up;

	p->tls_side = UPSTREAM;
	if (!client_id)
		return proxy_authorize(p, NULL, NULL); /* denied: no workload there */
	me = px->svc ? mg_tls_set_find(px->env.tls_set(px->policy), client_id) : NULL;
	if (!me) {
		PCTR(px, no_local_svid, 1);
		return false;
	}
	up = px->env.workload_id(px->policy, l->dst_ip, l->dst_port);
	if (up && strlen(up) >= sizeof(p->peer_id)) {
		PCTR(px, peer_id_too_long, 1);
		return false;
	}
	if (up) /* the ID the upstream must prove */
		memcpy(p->peer_id, up, strlen(up) + 1);
	if (!proxy_authorize(p, client_id, me->image))
		return false;
	return up != NULL; /* allowed, yet no workload to require: refuse rather than guess */
}

enum job_start { JOB_OK, JOB_WAIT, JOB_FAIL };

static void hs_wait_del(struct mg_proxy_pair *p);

/* Wait for a job or a share: counted once per pair. */
static enum job_start must_wait(struct mg_proxy_pair *p, bool peer)
{
	if (!p->hs_counted_wait) {
		p->hs_counted_wait = true;
		if (peer)
			PCTR(p->px, tls_peer_capped, 1);
		else
			PCTR(p->px, tls_hs_capped, 1);
	}
	return JOB_WAIT;
}

/*
 * A job for the pair's handshake, holding the generation's TLS state. None
 * free, or the source already at tls.peer_handshakes: the pair waits its turn
 * (its records stay in the TCP queue), the deadline bounding the wait.
 */
static enum job_start job_start(struct mg_proxy_pair *p)
{
	struct mg_proxy *px = p->px;
	struct mg_tls_set *set = px->env.tls_set(px->policy);
	const struct mg_tls_local *me = set ? local_svid(p, set) : NULL;
	struct mg_tls_job *j;

	if (!me) {
		PCTR(px, no_local_svid, 1);
		return JOB_FAIL;
	}
	if (!px->svc->free_list)
		return must_wait(p, false);
	if (!p->peer_counted && !peer_take(p))
		return must_wait(p, true);
	j = mg_tls_svc_job_get(px->svc, (struct mg_tls_job_owner){ pair_index(p), p->reuse });
	mg_tls_set_get(set);
	j->set = set;
	j->trust = set->trust;
	j->ctx = p->tls_side == CLIENT ? me->server : me->client;
	j->expect_id = p->tls_side == UPSTREAM ? p->peer_id : NULL;
	p->job = j;
	p->job_sent = 0;
	hs_wait_del(p);
	return JOB_OK;
}

static void hs_wait_add(struct mg_proxy_pair *p)
{
	struct mg_proxy *px = p->px;

	if (p->hs_queued)
		return;
	p->hs_queued = true;
	p->hs_next = NULL;
	p->hs_prev = px->hs_wait_tail;
	if (px->hs_wait_tail)
		px->hs_wait_tail->hs_next = p;
	else
		px->hs_wait_head = p;
	px->hs_wait_tail = p;
}

static void hs_wait_del(struct mg_proxy_pair *p)
{
	struct mg_proxy *px = p->px;

	if (!p->hs_queued)
		return;
	if (p->hs_prev)
		p->hs_prev->hs_next = p->hs_next;
	else
		px->hs_wait_head = p->hs_next;
	if (p->hs_next)
		p->hs_next->hs_prev = p->hs_prev;
	else
		px->hs_wait_tail = p->hs_prev;
	p->hs_queued = false;
	p->hs_prev = p->hs_next = NULL;
}

static void post(struct mg_proxy_pair *p)
{
	p->job_out = true;
	mg_tls_svc_post(p->px->svc, p->job);
}

/* A job whose pair is gone: end it on the handshake lcore if it still holds OpenSSL state. */
static void job_orphan(struct mg_proxy *px, struct mg_tls_job *j)
{
	if (!j->abandon && j->started) {
		j->abandon = true;
		mg_tls_svc_post(px->svc, j);
		return;
	}
	if (!j->abandon && j->status == MG_TLS_HS_DONE) {
		mg_tls_dir_free(&j->rx);
		mg_tls_dir_free(&j->tx);
	}
	mg_tls_svc_job_put(px->svc, j);
}

void ptls_release(struct mg_proxy_pair *p)
{
	hs_wait_del(p);
	if (p->job && !p->job_out)
		job_orphan(p->px, p->job); /* one that is out comes back to a stranger */
	p->job = NULL;
	handshake_over(p);
	mg_tls_dir_free(&p->rx);
	mg_tls_dir_free(&p->tx);
}

/* The end of a pair whose handshake failed or timed out. */
static void hs_fail(struct mg_proxy_pair *p, enum mg_proxy_event_kind why)
{
	struct mg_proxy *px = p->px;

	if (why == MG_PROXY_EV_TLS_FAILED) {
		PCTR(px, tls_failed, 1);
		if (p->job && !p->job_out) {
			PSTAT(px->st.tls_errors[p->job->hs.error % MG_TLS_HS_ERR__COUNT], 1);
			if (p->job->hs.error == MG_TLS_HS_ERR_PEER_CERT)
				PSTAT(px->st.svid[p->job->hs.svid % MG_SVID__COUNT], 1);
		}
	}
	proxy_event(p, why, 0);
	if (why == MG_PROXY_EV_TLS_FAILED && tls_conn(p)) { /* the alert was queued: FIN after it */
		mg_tcp_close(px->tcp, tls_conn(p));
		p->conn[p->tls_side] = NULL;
	}
	pair_abort(p);
}

/* Send what the job wrote; false while some of it waits for room. */
static bool send_flight(struct mg_proxy_pair *p)
{
	struct mg_tls_job *j = p->job;
	int64_t n;

	if (p->job_sent >= j->out_len)
		return true;
	n = mg_tcp_send_copy(p->px->tcp, tls_conn(p), j->io + p->job_sent,
			     j->out_len - p->job_sent);
	if (n > 0)
		p->job_sent += (uint32_t)n;
	if (p->job_sent < j->out_len) {
		mg_tcp_want_writable(tls_conn(p));
		return false;
	}
	return true;
}

/* How long the record at the head of @p c is: 0 not all there, -1 a bad header. */
static int64_t next_record(const struct mg_tcp_conn *c)
{
	uint8_t hdr[MG_TLS_HEADER_LEN];
	size_t need;

	if (mg_tcp_peek(c, hdr, sizeof(hdr)) < sizeof(hdr))
		return 0;
	need = mg_tls_record_len(hdr, sizeof(hdr));
	if (need > MG_TLS_HEADER_LEN + MG_TLS_MAX_CIPHERTEXT || hdr[1] != 3)
		return -1;
	return mg_tcp_recv_ready(c) >= need ? (int64_t)need : 0;
}

/* Post the whole records that are there (the job at home, its flight sent). */
static void hs_feed(struct mg_proxy_pair *p)
{
	struct mg_tcp_conn *c = tls_conn(p);
	uint32_t have = 0;
	int64_t need;

	if (p->job_out || (p->job && p->job_sent < p->job->out_len))
		return;
	while ((need = next_record(c)) > 0) {
		if (!p->job) {
			enum job_start r = job_start(p);

			if (r == JOB_WAIT) {
				hs_wait_add(p);
				return;
			}
			if (r == JOB_FAIL) {
				pair_abort(p); /* counted: no_local_svid */
				return;
			}
		}
		if ((size_t)have + (size_t)need > sizeof(p->job->io))
			break;
		have += mg_tcp_recv_copy(p->px->tcp, c, p->job->io + have, (uint32_t)need);
	}
	if (need < 0) {
		PSTAT(p->px->st.records[MG_TLS_REC_BAD_HEADER], 1);
		hs_fail(p, MG_PROXY_EV_TLS_FAILED);
		return;
	}
	if (have) {
		p->job->in_len = have;
		post(p);
	} else if (p->fin_from[p->tls_side]) {
		PCTR(p->px, closed_client_reset, 1); /* the peer left mid-handshake */
		pair_abort(p);
	}
}

void ptls_readable(struct mg_proxy_pair *p, int side)
{
	(void)side;
	hs_feed(p);
}

void ptls_writable(struct mg_proxy_pair *p, int side)
{
	(void)side;
	if (p->job && !p->job_out && send_flight(p))
		hs_feed(p);
}

/* Outbound: the ClientHello is asked for once a job is there. */
static void client_start(struct mg_proxy_pair *p)
{
	enum job_start r = job_start(p);

	if (r == JOB_WAIT) {
		hs_wait_add(p);
		return;
	}
	if (r == JOB_FAIL) {
		pair_abort(p); /* counted: no_local_svid */
		return;
	}
	p->job->in_len = 0;
	post(p);
}

void ptls_connected(struct mg_proxy_pair *p)
{
	begin_handshake(p);
	client_start(p);
}

/*
 * Waiting handshakes get what freed up, oldest first; one whose source is
 * still at its share goes to the back. A bounded number per call.
 */
void ptls_kick(struct mg_proxy *px)
{
	for (unsigned n = 0; n < MG_PROXY_HS_KICK && px->hs_wait_head && px->svc->free_list; n++) {
		struct mg_proxy_pair *p = px->hs_wait_head;

		hs_wait_del(p);
		if (p->tls_side == UPSTREAM)
			client_start(p);
		else
			hs_feed(p);
	}
}

/* Bytes for conn[to] that came with the handshake: queued as the stash. */
static bool stash_bytes(struct mg_proxy_pair *p, int to, const uint8_t *b, uint32_t len)
{
	struct rte_mempool *pool = p->px->tcp->p.pool;

	while (len > 0) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
		uint32_t n;

		if (!m)
			return false;
		n = RTE_MIN(len, (uint32_t)rte_pktmbuf_tailroom(m));
		memcpy(rte_pktmbuf_append(m, (uint16_t)n), b, n);
		if (!p->stash[to]) {
			p->stash[to] = m;
		} else if (rte_pktmbuf_chain(p->stash[to], m) < 0) {
			rte_pktmbuf_free(m);
			return false;
		}
		b += n;
		len -= n;
	}
	return true;
}

/* @p n plaintext bytes came from conn[@p from]: the pair is active. */
static void moved(struct mg_proxy_pair *p, int from, uint64_t n);

void ptls_moved(struct mg_proxy_pair *p, int from, uint64_t n)
{
	moved(p, from, n);
}

/*
 * Seal @p len plaintext bytes (<= MG_TLS_MAX_PLAINTEXT) into @p rec (room for
 * len + RECORD_OVERHEAD) and queue the record on the TLS side; the caller
 * checked the room. False: the pair must end.
 */
bool ptls_seal_send(struct mg_proxy_pair *p, const uint8_t *b, uint32_t len, uint8_t *rec)
{
	enum mg_tls_record_error e;
	size_t n = seal(p, MG_TLS_APPLICATION_DATA, b, len, rec, &e);

	if (!n || mg_tcp_send_copy(p->px->tcp, tls_conn(p), rec, (uint32_t)n) != (int64_t)n)
		return false;
	PCTR(p->px, tls_records_out, 1);
	return true;
}

static void moved(struct mg_proxy_pair *p, int from, uint64_t n)
{
	struct mg_proxy *px = p->px;

	p->last_active = px->tcp->now;
	PSTAT(p->bytes[from], n);
	if (from == CLIENT)
		PCTR(px, bytes_up, n);
	else
		PCTR(px, bytes_down, n);
}

/* A KeyUpdate, a ticket, or something we do not take after the handshake. */
static bool on_handshake_message(struct mg_proxy_pair *p, const uint8_t *m, size_t len)
{
	struct mg_proxy *px = p->px;

	while (len >= 4) {
		size_t body = (size_t)m[1] << 16 | (size_t)m[2] << 8 | m[3];

		if (body > len - 4)
			return false;
		if (m[0] == HS_KEY_UPDATE && body == 1 && m[4] <= 1) {
			PCTR(px, tls_key_updates, 1);
			if (mg_tls_dir_update(&p->rx) < 0)
				return false;
			if (m[4] == 1) { /* update_requested: answer, then move our keys */
				static const uint8_t ku[5] = { HS_KEY_UPDATE, 0, 0, 1, 0 };
				enum mg_tls_record_error e;
				uint8_t rec[5 + sizeof(ku) + 1 + MG_TLS_TAG_LEN];
				size_t n = seal(p, MG_TLS_HANDSHAKE, ku, sizeof(ku), rec, &e);

				if (!n || mg_tcp_send_copy(px->tcp, tls_conn(p), rec, (uint32_t)n) !=
						  (int64_t)n ||
				    mg_tls_dir_update(&p->tx) < 0)
					return false;
			}
		} else if (!(m[0] == HS_NEW_SESSION_TICKET && p->tls_side == UPSTREAM)) {
			return false; /* post-handshake auth, or anything else: not here */
		}
		m += 4 + body;
		len -= 4 + body;
	}
	return len == 0;
}

/*
 * Open the record in px->tls_buf (@p len bytes) and deliver its plaintext to
 * conn[to], directly or (@p stash) as the stash. False: the pair must end.
 */
static bool open_one(struct mg_proxy_pair *p, int to, size_t len, bool stash)
{
	struct mg_proxy *px = p->px;
	uint8_t *rec = px->tls_buf, type;
	size_t plain;
	enum mg_tls_record_error e = tls_open(p, rec, len, &plain, &type);

	if (e != MG_TLS_REC_OK) {
		PSTAT(px->st.records[e], 1);
		PCTR(px, tls_bad_record, 1);
		return false;
	}
	PCTR(px, tls_records_in, 1);
	rec += MG_TLS_HEADER_LEN;
	if (type == MG_TLS_HANDSHAKE)
		return on_handshake_message(p, rec, plain);
	if (type == MG_TLS_ALERT) {
		if (plain == 2 && rec[1] == ALERT_CLOSE_NOTIFY) {
			PCTR(px, tls_close_notify, 1);
			p->notify_rcvd = p->fin_from[p->tls_side] = true;
			return true;
		}
		PCTR(px, tls_alerts, 1);
		return false;
	}
	if (type != MG_TLS_APPLICATION_DATA)
		return false;
	moved(p, p->tls_side, plain);
	if (p->l7 && to == UPSTREAM) /* inbound requests: the gate, or kept until it runs */
		return stash ? pl7_keep(p, rec, (uint32_t)plain)
			     : pl7_requests(p, rec, plain) >= 0;
	if (p->l7 && !pl7_responses(p, rec, plain)) /* outbound responses: framed */
		return false;
	if (stash)
		return stash_bytes(p, to, rec, (uint32_t)plain);
	return mg_tcp_send_copy(px->tcp, p->conn[to], rec, (uint32_t)plain) == (int64_t)plain;
}

/* Records in from the TLS side, plaintext out to the other. */
static int open_records(struct mg_proxy_pair *p)
{
	struct mg_proxy *px = p->px;
	int to = 1 - p->tls_side;
	struct mg_tcp_conn *src = tls_conn(p), *dst = p->conn[to];
	int64_t need;

	while (src) {
		/* After close_notify nothing more is read. Not after a bare FIN:
		 * the records before it are still in the queue, to be opened. */
		if (p->notify_rcvd) {
			struct rte_mbuf *junk = NULL;

			mg_tcp_recv(px->tcp, src, mg_tcp_recv_ready(src), &junk);
			rte_pktmbuf_free(junk);
			return 1;
		}
		if (p->l7 && to == UPSTREAM) { /* kept requests first */
			int r = pl7_drain(p);

			if (r < 0)
				pair_abort(p);
			if (r <= 0 || pl7_closing(p))
				return r;
		}
		need = next_record(src);
		if (need == 0 && p->fin_from[p->tls_side] && mg_tcp_recv_ready(src) > 0) {
			/* FIN inside a record: the stream was cut, not closed. */
			PCTR(px, tls_truncated, 1);
			pair_abort(p);
			return -1;
		}
		if (need == 0)
			return 1;
		if (need < 0) {
			PSTAT(px->st.records[MG_TLS_REC_BAD_HEADER], 1);
			PCTR(px, tls_bad_record, 1);
			pair_abort(p);
			return -1;
		}
		/* the gate may also release the head it holds */
		if (need > RECORD_OVERHEAD &&
		    mg_tcp_send_space(px->tcp, dst) <
			    (uint32_t)need - RECORD_OVERHEAD + (to == UPSTREAM ? pl7_held(p) : 0)) {
			mg_tcp_want_writable(dst);
			return 0;
		}
		mg_tcp_recv_copy(px->tcp, src, px->tls_buf, (uint32_t)need);
		if (!open_one(p, to, (size_t)need, false)) {
			pair_abort(p);
			return -1;
		}
		if (to == UPSTREAM && pl7_closing(p))
			return 1;
		if (to == UPSTREAM && pl7_blocked(p))
			return 0; /* requests wait for responses: take no more records */
	}
	return 1;
}

/* Plaintext in from the other side, records out to the TLS side. */
static int seal_records(struct mg_proxy_pair *p)
{
	struct mg_proxy *px = p->px;
	int from = 1 - p->tls_side;
	struct mg_tcp_conn *src = p->conn[from], *dst = tls_conn(p);
	uint8_t *buf = px->tls_buf;

	while (src && mg_tcp_recv_ready(src) > 0) {
		uint32_t space = mg_tcp_send_space(px->tcp, dst), n;
		enum mg_tls_record_error e;
		size_t len;

		if (space <= RECORD_OVERHEAD) {
			mg_tcp_want_writable(dst);
			return 0;
		}
		n = RTE_MIN(mg_tcp_recv_ready(src), (uint32_t)MG_TLS_MAX_PLAINTEXT);
		n = RTE_MIN(n, space - RECORD_OVERHEAD);
		mg_tcp_recv_copy(px->tcp, src, buf + MG_TLS_HEADER_LEN, n);
		if (p->l7 && !pl7_responses(p, buf + MG_TLS_HEADER_LEN, n)) { /* inbound: framed */
			pair_abort(p);
			return -1;
		}
		len = seal(p, MG_TLS_APPLICATION_DATA, buf + MG_TLS_HEADER_LEN, n, buf,
				  &e);
		/* A record cut short would corrupt the stream: the room was checked. */
		if (!len || mg_tcp_send_copy(px->tcp, dst, buf, (uint32_t)len) != (int64_t)len) {
			pair_abort(p);
			return -1;
		}
		PCTR(px, tls_records_out, 1);
		moved(p, from, n);
	}
	return 1;
}

int ptls_move(struct mg_proxy_pair *p, int from)
{
	return from == p->tls_side ? open_records(p) : seal_records(p);
}

/* Seal a two-byte alert and queue it; false when there is no room yet. */
static bool send_alert(struct mg_proxy_pair *p, uint8_t level, uint8_t desc)
{
	struct mg_proxy *px = p->px;
	const uint8_t body[2] = { level, desc };
	uint8_t rec[MG_TLS_HEADER_LEN + sizeof(body) + 1 + MG_TLS_TAG_LEN];
	enum mg_tls_record_error e;
	size_t n;

	if (mg_tcp_send_space(px->tcp, tls_conn(p)) < sizeof(rec)) {
		mg_tcp_want_writable(tls_conn(p));
		return false;
	}
	n = seal(p, MG_TLS_ALERT, body, sizeof(body), rec, &e);
	if (n)
		(void)mg_tcp_send_copy(px->tcp, tls_conn(p), rec, (uint32_t)n);
	return true;
}

bool ptls_close_notify(struct mg_proxy_pair *p)
{
	if (p->notify_sent || p->tls != TLS_UP || !tls_conn(p))
		return true;
	if (!send_alert(p, ALERT_WARNING, ALERT_CLOSE_NOTIFY))
		return false;
	p->notify_sent = true;
	return true;
}

/* Open the records that came with the handshake's last flight into the stash. */
static bool take_rest(struct mg_proxy_pair *p, const struct mg_tls_job *j)
{
	size_t off = 0;

	while (off < j->rest_len) {
		size_t len = mg_tls_record_len(j->rest + off, j->rest_len - off);

		if (len == 0 || len > j->rest_len - off)
			return false;
		memcpy(p->px->tls_buf, j->rest + off, len);
		if (!open_one(p, 1 - p->tls_side, len, true))
			return false;
		off += len;
	}
	return true;
}

/* The inbound peer proved an SVID: is it allowed here? */
static bool inbound_verdict(struct mg_proxy_pair *p, const struct mg_svid_peer *peer)
{
	struct mg_proxy *px = p->px;

	if (peer->id_len >= sizeof(p->peer_id)) {
		PCTR(px, peer_id_too_long, 1);
		return false;
	}
	memcpy(p->peer_id, peer->id, peer->id_len + 1u);
	if (peer->has_image)
		memcpy(p->image, peer->image, sizeof(p->image));
	if (proxy_authorize(p, p->peer_id, peer->has_image ? p->image : NULL))
		return true;
	(void)send_alert(p, ALERT_FATAL, ALERT_ACCESS_DENIED);
	return false;
}

/* Done: our record layer takes over; the upstream (inbound) or the data (outbound) follows. */
static void established(struct mg_proxy_pair *p)
{
	struct mg_proxy *px = p->px;
	struct mg_tls_job *j = p->job;
	bool ok;

	p->rx = j->rx;
	p->tx = j->tx;
	memset(&j->rx, 0, sizeof(j->rx));
	memset(&j->tx, 0, sizeof(j->tx));
	PCTR(px, tls_established, 1);
	PSTAT(px->st.hs_cycles, j->step_cycles);
	handshake_over(p);
	p->tls = TLS_UP;
	ok = p->tls_side == UPSTREAM || inbound_verdict(p, &j->hs.peer);
	ok = ok && take_rest(p, j);
	mg_tls_svc_job_put(px->svc, j);
	p->job = NULL;
	if (!ok) {
		mg_tcp_close(px->tcp, tls_conn(p)); /* the alert, then FIN */
		p->conn[p->tls_side] = NULL;
		pair_abort(p);
		return;
	}
	if (p->tls_side == CLIENT) {
		if (!start_upstream(px, p))
			pair_abort(p);
		return;
	}
	if (!pump(p, CLIENT))
		pump(p, UPSTREAM);
}

/* A job is back for its pair. */
static void job_back(struct mg_proxy_pair *p)
{
	struct mg_tls_job *j = p->job;

	p->job_out = false;
	p->job_sent = 0;
	if (j->status == MG_TLS_HS_FAILED) {
		(void)send_flight(p); /* the alert */
		hs_fail(p, MG_PROXY_EV_TLS_FAILED);
		return;
	}
	if (j->status == MG_TLS_HS_DONE) {
		if (!send_flight(p)) { /* a last flight too big for the send buffer */
			j->hs.error = MG_TLS_HS_ERR_PROTOCOL;
			hs_fail(p, MG_PROXY_EV_TLS_FAILED);
			return;
		}
		established(p);
		return;
	}
	if (send_flight(p))
		hs_feed(p);
}

void ptls_collect(struct mg_proxy *px)
{
	struct mg_tls_job *jobs[32];
	unsigned n = mg_tls_svc_collect(px->svc, jobs, RTE_DIM(jobs));

	for (unsigned i = 0; i < n; i++) {
		struct mg_tls_job *j = jobs[i];
		struct mg_proxy_pair *p = j->owner.conn < px->max_pairs ? &px->pairs[j->owner.conn]
									: NULL;

		if (!p || !p->in_use || p->reuse != j->owner.conn_gen || p->job != j || j->abandon)
			job_orphan(px, j);
		else
			job_back(p);
	}
}

bool ptls_deadline(struct mg_proxy_pair *p, uint64_t now)
{
	if (p->tls != TLS_HANDSHAKE || now < p->hs_deadline)
		return false;
	PCTR(p->px, tls_hs_timeout, 1);
	hs_fail(p, MG_PROXY_EV_HS_TIMEOUT);
	return true;
}
