/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The L7 gate of the proxy (proxy_l7.c) on the simulated wire (proxy_sim.h):
 * a `tcp` listener whose policy answers MG_PROXY_ALLOW_L7, a raw HTTP client
 * on the client stack, a backend on the server stack that answers every
 * request head with a 200 (or, in manual mode, what the case writes). The
 * policy's http answer denies paths under its deny prefix ("/admin" unless a
 * case swaps the policy object).
 *
 * Checked: an allowed request reaches the backend with its normalized
 * target; a denied one gets a 403 naming a request id and the connection
 * goes on (or closes with on_deny close); pipelined allowed, denied, allowed
 * come back 200, 403, 200 in order; CL+TE is a 400 and a close, a request
 * line over the limit a 414 and a close; %2e%2e that
 * reaches /admin is denied; absolute-form goes as origin-form, with another
 * host than Host it is a 400; a request split at every byte boundary; a chunked
 * body streams unchanged, and a chunk-size line it refuses never leaves; a
 * 403 waits for the end of a chunked response still streaming; the pool of L7 states runs out: refused and counted;
 * without authorize_http ALLOW_L7 is refused; a
 * policy swap changes the verdict of the next request on a live connection;
 * an Upgrade waits for its answer (refused: requests again; 101: opaque
 * both ways); a denied Upgrade does not stall the connection.
 */
#include "proxy_sim.h"

#define CLIENT_ID "spiffe://example.org/ns/prod/sa/client"

/* ---- the policy's answers ------------------------------------------------ */

struct policy {
	uint64_t gen;
	const char *deny;      /* path prefix denied */
	struct mg_proxy_l7_conf conf;
	bool l4_only;          /* the connection is allowed without http terms */
};

static struct policy pol1 = { .gen = 1, .deny = "/admin" };
static struct policy pol2 = { .gen = 2, .deny = "/v1" };
static struct policy *cur = &pol1;

static char seen_path[256], seen_host[256];
static uint16_t seen_worker;
static struct mg_proxy_event events[8];
static unsigned n_events;

static enum mg_proxy_admit authorize(const void *pol, const struct mg_proxy_authz_req *r,
				     uint16_t *v, uint32_t *rule)
{
	const struct policy *p = pol;

	*rule = 3;
	*v = 0;
	if (!r->peer_id || strcmp(r->peer_id, CLIENT_ID) != 0)
		return MG_PROXY_DENY;
	return p->l4_only ? MG_PROXY_ALLOW : MG_PROXY_ALLOW_L7;
}

static bool authorize_http(const void *pol, const struct mg_proxy_http_req *r, uint16_t *v,
			   uint32_t *rule)
{
	const struct policy *p = pol;
	size_t dl = strlen(p->deny);

	snprintf(seen_path, sizeof(seen_path), "%.*s", r->path_len, r->path);
	snprintf(seen_host, sizeof(seen_host), "%.*s", r->host_len, r->host);
	seen_worker = r->worker;
	assert_non_null(r->conn);
	assert_string_equal(r->conn->peer_id, CLIENT_ID);
	*rule = 40 + (uint32_t)p->gen;
	*v = 0;
	if (r->path_len >= dl && memcmp(r->path, p->deny, dl) == 0) {
		*v = 5;
		return false;
	}
	return true;
}

static const struct mg_proxy_l7_conf *l7_conf(const void *pol)
{
	return &((const struct policy *)pol)->conf;
}

static const char *workload_id(const void *pol, uint32_t ip, uint16_t port)
{
	(void)pol;
	(void)port;
	return ip == IP_C ? CLIENT_ID : NULL;
}

static uint64_t gen_of(const void *pol)
{
	return ((const struct policy *)pol)->gen;
}

static void on_event(void *ctx, const struct mg_proxy_event *ev)
{
	(void)ctx;
	if (n_events < RTE_DIM(events))
		events[n_events++] = *ev;
}

/* ---- the peers: raw bytes --------------------------------------------------- */

struct peer {
	int st;
	struct mg_tcp_conn *c;
	bool connected, closed, peer_fin, manual;
	char rx[65536];
	size_t rx_len, handled;
	unsigned heads;
};

static struct peer cli[20], srv[20];
static unsigned n_srv;

static void peer_event(void *user, struct mg_tcp_conn *c, unsigned ev)
{
	struct peer *p = user;
	struct rte_mbuf *m;

	p->c = c;
	if (ev & MG_TCP_EV_CONNECTED)
		p->connected = true;
	if (ev & MG_TCP_EV_PEER_FIN)
		p->peer_fin = true;
	if (ev & MG_TCP_EV_CLOSED) {
		p->closed = true;
		return;
	}
	while (mg_tcp_recv(&N->st[p->st], c, UINT32_MAX, &m) > 0) {
		for (struct rte_mbuf *x = m; x; x = x->next) {
			assert_true(p->rx_len + x->data_len < sizeof(p->rx));
			memcpy(p->rx + p->rx_len, rte_pktmbuf_mtod(x, void *), x->data_len);
			p->rx_len += x->data_len;
		}
		rte_pktmbuf_free(m);
	}
	p->rx[p->rx_len] = '\0';
}

static void *srv_accept(void *lu, struct mg_tcp_conn *c)
{
	struct peer *p;

	assert_true(n_srv < RTE_DIM(srv));
	p = &srv[n_srv++];

	(void)lu;
	p->st = SS;
	p->c = c;
	p->connected = true;
	return p;
}

static const struct mg_tcp_ops peer_ops = { .accept = srv_accept, .event = peer_event };

static void send_raw(struct peer *p, const char *s, size_t len)
{
	assert_int_equal(mg_tcp_send_copy(&N->st[p->st], p->c, s, (uint32_t)len), (int64_t)len);
}

static void send_str(struct peer *p, const char *s)
{
	send_raw(p, s, strlen(s));
}

#define OK_RESPONSE "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"

/* Every step: a backend not in manual mode answers each request head it got. */
static void backend(void)
{
	mg_proxy_set_policy(&N->px, cur);
	for (unsigned i = 0; i < n_srv; i++) {
		struct peer *p = &srv[i];
		char *h;

		while (!p->closed && (h = strstr(p->rx + p->handled, "\r\n\r\n")) != NULL) {
			p->handled = (size_t)(h - p->rx) + 4;
			p->heads++;
			if (!p->manual)
				send_str(p, OK_RESPONSE);
		}
	}
}

static struct peer *connect_client(unsigned k)
{
	struct peer *p = &cli[k];
	struct mg_tcp_connect_args ca = {
		.port = 0, .src_ip = IP_C, .dst_ip = IP_P0,
		.src_port = rte_cpu_to_be_16((uint16_t)(42000 + k)), .dst_port = PORT_L,
		.ops = &peer_ops, .user = p,
	};

	p->st = SC;
	memcpy(ca.next_hop_mac, MAC_P0, 6);
	assert_int_equal(mg_tcp_connect(&N->st[SC], &ca, &p->c), 0);
	run_for(20000);
	return p;
}

/* ---- fixtures ---------------------------------------------------------------- */

static void reset_peers(void)
{
	memset(cli, 0, sizeof(cli));
	memset(srv, 0, sizeof(srv));
	n_srv = 0;
	n_events = 0;
	seen_path[0] = seen_host[0] = '\0';
	pol1.conf = (struct mg_proxy_l7_conf){ 0 };
	pol2.conf = (struct mg_proxy_l7_conf){ 0 };
	pol1.l4_only = pol2.l4_only = false;
	cur = &pol1;
}

static void start_l7(uint32_t max_pairs)
{
	sim_extra.kind = MG_PROXY_PLAIN;
	sim_extra.env = (struct mg_proxy_env){ .authorize = authorize,
					       .authorize_http = authorize_http,
					       .l7_conf = l7_conf, .workload_id = workload_id,
					       .generation = gen_of, .event = on_event };
	sim_extra.tls = NULL;
	sim_extra.each_step = backend;
	start(0, max_pairs, false);
	N->px.worker = 1;
	mg_proxy_set_policy(&N->px, cur);
	assert_true(mg_tcp_listen(&N->st[SS], IP_S, PORT_S, 16, &peer_ops, NULL) >= 0);
}

static int l7_setup(void **state)
{
	reset_peers();
	start_l7(16);
	*state = N;
	return 0;
}

static int l7_teardown(void **state)
{
	return teardown(state);
}

/* ---- cases ------------------------------------------------------------------- */

static void allowed_goes_normalized(void **state)
{
	struct peer *c = connect_client(0);

	(void)state;
	assert_true(c->connected);
	send_str(c, "GET /a/./b/../c%7e//d?x=%2e HTTP/1.1\r\nHost: web.prod:8443\r\nX-A: 1\r\n\r\n");
	run_for(20000);
	assert_string_equal(srv[0].rx, "GET /a/c~//d?x=%2e HTTP/1.1\r\nHost: web.prod:8443\r\nX-A: 1\r\n\r\n");
	assert_string_equal(seen_path, "/a/c~//d");
	assert_string_equal(seen_host, "web.prod");
	assert_int_equal(seen_worker, 1);
	assert_string_equal(c->rx, OK_RESPONSE);
	assert_int_equal(PX(l7_admitted), 1);
	assert_int_equal(PX(l7_requests), 1);
	assert_int_equal(PX(l7_allowed), 1);
	/* merge_slashes: "//" reads (and goes) as "/" */
	pol1.conf.merge_slashes = true;
	send_str(c, "GET /a//b HTTP/1.1\r\nHost: web\r\n\r\n");
	run_for(20000);
	assert_non_null(strstr(srv[0].rx, "GET /a/b HTTP/1.1\r\nHost: web\r\n\r\n"));
	assert_string_equal(seen_path, "/a/b");
}

static bool has_n(const char *hay, const char *needle, unsigned n)
{
	unsigned k = 0;

	for (const char *h = hay; (h = strstr(h, needle)) != NULL; h++)
		k++;
	return k == n;
}

static void denied_gets_403_and_goes_on(void **state)
{
	struct peer *c = connect_client(0);
	struct mg_proxy_conn_info ci;

	(void)state;
	send_str(c, "GET /admin/users HTTP/1.1\r\nHost: web\r\n\r\n");
	run_for(20000);
	assert_true(n_srv == 1 && srv[0].rx_len == 0); /* nothing of it went upstream */
	assert_non_null(strstr(c->rx, "HTTP/1.1 403 Forbidden\r\n"));
	assert_non_null(strstr(c->rx, "request 1-1 denied by policy\n"));
	assert_null(strstr(c->rx, "connection: close"));
	assert_false(c->peer_fin);
	assert_int_equal(PX(l7_denied), 1);
	assert_int_equal(n_events, 1);
	assert_int_equal(events[0].kind, MG_PROXY_EV_HTTP_DENIED);
	assert_int_equal(events[0].verdict, 5);
	assert_int_equal(events[0].rule, 41);
	/* the same connection: a denied POST's body is skipped, then an allowed GET */
	send_str(c, "POST /admin/x HTTP/1.1\r\nHost: web\r\nContent-Length: 4\r\n\r\nGET "
		    "GET /ok HTTP/1.1\r\nHost: web\r\n\r\n");
	run_for(20000);
	assert_string_equal(srv[0].rx, "GET /ok HTTP/1.1\r\nHost: web\r\n\r\n");
	assert_true(has_n(c->rx, "403 Forbidden", 2));
	assert_int_equal(strcmp(c->rx + c->rx_len - strlen(OK_RESPONSE), OK_RESPONSE), 0);
	assert_true(mg_proxy_conn_info(&N->px, 0, &ci) || mg_proxy_conn_info(&N->px, 15, &ci));
	assert_true(ci.l7);
	assert_int_equal(ci.requests, 3);
	assert_int_equal(ci.denied, 2);
}

static void close_on_deny_closes(void **state)
{
	struct peer *c = connect_client(0);

	(void)state;
	pol1.conf.close_on_deny = true;
	send_str(c, "GET /admin HTTP/1.1\r\nHost: web\r\n\r\n");
	run_for(50000);
	assert_non_null(strstr(c->rx, "403 Forbidden\r\n"));
	assert_non_null(strstr(c->rx, "connection: close\r\n"));
	assert_true(c->peer_fin);
	assert_int_equal(PX(l7_closed), 1);
	assert_int_equal(N->px.st.pairs_active, 0);
	assert_int_equal(srv[0].rx_len, 0);
}

static void denied_close_request_closes(void **state)
{
	struct peer *c = connect_client(0);

	(void)state;
	send_str(c, "GET /admin HTTP/1.0\r\nHost: web\r\n\r\n"); /* 1.0: no keep-alive */
	run_for(50000);
	assert_non_null(strstr(c->rx, "403 Forbidden\r\n"));
	assert_non_null(strstr(c->rx, "connection: close\r\n"));
	assert_true(c->peer_fin);
	assert_int_equal(PX(l7_closed), 1);
}

static void pipelined_in_order(void **state)
{
	struct peer *c = connect_client(0);
	const char *a, *d, *b;

	(void)state;
	send_str(c, "GET /one HTTP/1.1\r\nHost: web\r\n\r\n"
		    "GET /admin HTTP/1.1\r\nHost: web\r\n\r\n"
		    "GET /two HTTP/1.1\r\nHost: web\r\n\r\n");
	run_for(50000);
	assert_string_equal(srv[0].rx, "GET /one HTTP/1.1\r\nHost: web\r\n\r\n"
				       "GET /two HTTP/1.1\r\nHost: web\r\n\r\n");
	a = strstr(c->rx, "200 OK");
	d = strstr(c->rx, "403 Forbidden");
	b = a ? strstr(a + 1, "200 OK") : NULL;
	assert_true(a && d && b && a < d && d < b);
	assert_int_equal(PX(l7_requests), 3);
}

static void deny_waits_for_streaming_response(void **state)
{
	struct peer *c = connect_client(0);

	(void)state;
	run_for(1000);
	srv[0].manual = true;
	send_str(c, "GET /slow HTTP/1.1\r\nHost: web\r\n\r\nGET /admin HTTP/1.1\r\nHost: web\r\n\r\n");
	run_for(20000);
	assert_int_equal(srv[0].heads, 1);
	send_str(&srv[0], "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n");
	run_for(20000);
	assert_non_null(strstr(c->rx, "hello"));
	assert_null(strstr(c->rx, "403")); /* the response is still streaming */
	send_str(&srv[0], "0\r\n\r\n");
	run_for(20000);
	assert_non_null(strstr(c->rx, "hello\r\n0\r\n\r\nHTTP/1.1 403 Forbidden\r\n"));
	/* and the next response is framed too: content-length, keep-alive */
	send_str(c, "GET /next HTTP/1.1\r\nHost: web\r\n\r\n");
	run_for(20000);
	send_str(&srv[0], "HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc");
	run_for(20000);
	assert_int_equal(strcmp(c->rx + c->rx_len - 3, "abc"), 0);
	assert_int_equal(PX(l7_bad_responses), 0);
	/* a response nobody asked for closes the pair */
	send_str(&srv[0], "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
	run_for(20000);
	assert_int_equal(PX(l7_bad_responses), 1);
	assert_int_equal(N->px.st.pairs_active, 0);
}

static void smuggling_is_400_and_close(void **state)
{
	struct peer *c = connect_client(0);

	(void)state;
	send_str(c, "POST /x HTTP/1.1\r\nHost: web\r\nContent-Length: 5\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: web\r\n\r\n");
	run_for(50000);
	assert_non_null(strstr(c->rx, "HTTP/1.1 400 Bad Request\r\n"));
	assert_non_null(strstr(c->rx, "refused: cl_and_te\n"));
	assert_true(c->peer_fin);
	assert_int_equal(srv[0].rx_len, 0);
	assert_int_equal(N->px.st.http_errors[MG_HTTP_ERR_CL_AND_TE], 1);
	assert_int_equal(PX(l7_bad_requests), 1);
	assert_int_equal(N->px.st.pairs_active, 0);
}

static void long_line_is_414(void **state)
{
	static char req[6000];
	struct peer *c = connect_client(0);

	(void)state;
	memset(req, 'a', sizeof(req) - 1);
	memcpy(req, "GET /", 5);
	send_str(c, req);
	run_for(50000);
	assert_non_null(strstr(c->rx, "HTTP/1.1 414 URI Too Long\r\n"));
	assert_non_null(strstr(c->rx, "request 1-1 refused: request_line_too_long\n"));
	assert_true(c->peer_fin);
	assert_int_equal(N->px.st.http_errors[MG_HTTP_ERR_LINE_TOO_LONG], 1);
	assert_int_equal(srv[0].rx_len, 0);
}

static void encoded_dotdot_is_denied(void **state)
{
	struct peer *c = connect_client(0);

	(void)state;
	send_str(c, "GET /public/%2e%2E/admin/x HTTP/1.1\r\nHost: web\r\n\r\n");
	run_for(20000);
	assert_string_equal(seen_path, "/admin/x");
	assert_non_null(strstr(c->rx, "403 Forbidden"));
	assert_int_equal(srv[0].rx_len, 0);
	/* an encoded slash is ambiguous: 400, counted by reason, closed */
	send_str(c, "GET /public/..%2Fadmin HTTP/1.1\r\nHost: web\r\n\r\n");
	run_for(20000);
	assert_non_null(strstr(c->rx, "400 Bad Request"));
	assert_int_equal(N->px.st.path_errors[MG_HTTP_PATH_ENCODED_SLASH], 1);
	assert_int_equal(PX(l7_bad_paths), 1);
	assert_true(c->peer_fin);
	assert_int_equal(srv[0].rx_len, 0);
}

static void absolute_form(void **state)
{
	struct peer *c = connect_client(0);

	(void)state;
	/* the same host: asked about as origin-form, sent upstream as one */
	send_str(c, "GET http://web:8443?q=1 HTTP/1.1\r\nHost: web:8443\r\n\r\n");
	run_for(20000);
	assert_string_equal(srv[0].rx, "GET /?q=1 HTTP/1.1\r\nHost: web:8443\r\n\r\n");
	assert_string_equal(seen_path, "/");
	assert_string_equal(seen_host, "web");
	/* another host than Host: 400, never matched one way and forwarded another */
	send_str(c, "GET http://admin.internal/x HTTP/1.1\r\nHost: web\r\n\r\n");
	run_for(20000);
	assert_non_null(strstr(c->rx, "400 Bad Request"));
	assert_int_equal(N->px.st.http_errors[MG_HTTP_ERR_HOST_MISMATCH], 1);
	assert_true(c->peer_fin);
}

static void split_at_every_byte(void **state)
{
	static const char req[] = "GET /x/%41/../y HTTP/1.1\r\nHost: web\r\n\r\n";
	static const char fwd[] = "GET /x/y HTTP/1.1\r\nHost: web\r\n\r\n";
	struct peer *c = connect_client(0);
	size_t len = strlen(req);

	(void)state;
	for (size_t k = 1; k < len; k++) {
		send_raw(c, req, k);
		run_for(1000);
		send_raw(c, req + k, len - k);
		run_for(3000);
		assert_int_equal(srv[0].rx_len, k * strlen(fwd));
		assert_int_equal(memcmp(srv[0].rx + (k - 1) * strlen(fwd), fwd, strlen(fwd)), 0);
	}
	run_for(20000);
	assert_int_equal(c->rx_len, (len - 1) * strlen(OK_RESPONSE));
	assert_int_equal(PX(l7_allowed), len - 1);
}

static void chunked_body_streams(void **state)
{
	static const char head[] = "POST /upload HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n";
	static const char body[] = "4\r\nabcd\r\n10;ext=1\r\n0123456789abcdef\r\n0\r\nX-T: 1\r\n\r\n";
	struct peer *c = connect_client(0);
	char want[512];

	(void)state;
	run_for(1000);
	srv[0].manual = true;
	send_str(c, head);
	send_raw(c, body, 10);
	run_for(20000);
	/* the head went and the body's first chunk streamed behind it; the "1"
	 * that starts the next chunk-size line waits until the line is judged */
	assert_int_equal(srv[0].rx_len, strlen(head) + 9);
	send_str(c, body + 10);
	run_for(20000);
	snprintf(want, sizeof(want), "%s%s", head, body);
	assert_string_equal(srv[0].rx, want);
	send_str(&srv[0], OK_RESPONSE);
	send_str(c, "GET /after HTTP/1.1\r\nHost: web\r\n\r\n");
	run_for(20000);
	assert_non_null(strstr(srv[0].rx + strlen(want), "GET /after"));
	assert_int_equal(PX(l7_allowed), 2);
}

/* A chunk-size line the parser refuses never reaches the upstream, and the
 * 400 stands for the forwarded request's response. */
static void bad_chunk_line_never_leaves(void **state)
{
	static const char head[] = "POST /upload HTTP/1.1\r\nHost: web\r\nTransfer-Encoding: chunked\r\n\r\n";
	struct peer *c = connect_client(0);

	(void)state;
	run_for(1000);
	srv[0].manual = true;
	send_str(c, head);
	send_str(c, "4\r\nabcd\r\nz");
	run_for(20000);
	assert_int_equal(srv[0].rx_len, strlen(head) + 9);
	send_str(c, "z\r\n0\r\n\r\n");
	run_for(50000);
	assert_int_equal(srv[0].rx_len, strlen(head) + 9); /* none of "zz\r\n" left */
	assert_int_equal(N->px.st.http_errors[MG_HTTP_ERR_BAD_CHUNK_SIZE], 1);
	assert_non_null(strstr(c->rx, "HTTP/1.1 400 Bad Request\r\n"));
	assert_non_null(strstr(c->rx, "refused: bad_chunk_size\n"));
	assert_true(c->peer_fin);
}

static void pool_exhausted_is_refused(void **state)
{
	struct peer *a, *b;

	(void)state;
	teardown(NULL);
	reset_peers();
	start_l7(4); /* one L7 state */
	assert_int_equal(N->px.l7_max, 1);
	a = connect_client(0);
	b = connect_client(1);
	assert_true(a->connected && !a->closed);
	assert_true(b->closed || b->peer_fin);
	assert_int_equal(PX(l7_pool_empty), 1);
	assert_int_equal(PX(l7_admitted), 1);
	send_str(a, "GET / HTTP/1.1\r\nHost: web\r\n\r\n");
	run_for(20000);
	assert_string_equal(a->rx, OK_RESPONSE);
}

/* One peer (here the client's address) holds at most its share of the L7
 * states, 1/8 of the pool but at least 16: the rest stays for the others. */
static void one_peer_holds_its_share(void **state)
{
	(void)state;
	teardown(NULL);
	reset_peers();
	start_l7(80); /* 20 L7 states */
	assert_int_equal(N->px.l7_max, 20);
	assert_int_equal(N->px.l7_peer_max, 16);
	for (unsigned i = 0; i < 17; i++)
		connect_client(i);
	assert_int_equal(PX(l7_admitted), 16);
	assert_int_equal(PX(l7_peer_capped), 1);
	assert_int_equal(PX(l7_pool_empty), 0);
	assert_true(cli[16].closed || cli[16].peer_fin);
	send_str(&cli[15], "GET / HTTP/1.1\r\nHost: web\r\n\r\n");
	run_for(20000);
	assert_string_equal(cli[15].rx, OK_RESPONSE);
}

static void no_authorize_http_refuses_l7(void **state)
{
	struct peer *c;

	(void)state;
	teardown(NULL);
	reset_peers();
	sim_extra.env.authorize_http = NULL;
	sim_extra.env.l7_conf = NULL;
	start(0, 16, false);
	mg_proxy_set_policy(&N->px, cur);
	assert_null(N->px.l7_states); /* no pool without the question */
	c = connect_client(0);
	assert_true(c->closed || c->peer_fin);
	assert_int_equal(PX(l7_unavailable), 1);
	assert_int_equal(PX(authz_allowed), 0);
	assert_int_equal(n_events, 1);
	assert_int_equal(events[0].kind, MG_PROXY_EV_DENIED);
}

static void swap_changes_next_verdict(void **state)
{
	struct peer *c = connect_client(0);

	(void)state;
	send_str(c, "GET /v1/charge HTTP/1.1\r\nHost: web\r\n\r\n");
	run_for(20000);
	assert_string_equal(c->rx, OK_RESPONSE);
	cur = &pol2; /* generation 2 denies /v1 */
	run_for(20000);
	assert_int_equal(PX(reauth_checked), 1);
	assert_int_equal(PX(reauth_closed), 0);
	send_str(c, "GET /v1/charge HTTP/1.1\r\nHost: web\r\n\r\n");
	run_for(20000);
	assert_non_null(strstr(c->rx, "403 Forbidden"));
	assert_int_equal(events[0].rule, 42);
	assert_int_equal(events[0].generation, 2);
	assert_int_equal(srv[0].heads, 1);
}

static void upgrade_waits_for_its_answer(void **state)
{
	static const char up[] = "GET /ws HTTP/1.1\r\nHost: web\r\nUpgrade: websocket\r\n"
				 "Connection: upgrade\r\n\r\n";
	static const char frame[] = "\x81\x05GET /admin HTTP/1.1\r\n\r\n";
	struct peer *c = connect_client(0);

	(void)state;
	run_for(1000);
	srv[0].manual = true;
	/* refused by the backend: what follows is parsed as requests again */
	send_str(c, up);
	send_str(c, "GET /admin HTTP/1.1\r\nHost: web\r\n\r\n");
	run_for(20000);
	assert_string_equal(srv[0].rx, up); /* nothing behind it before the answer */
	send_str(&srv[0], "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
	run_for(20000);
	assert_non_null(strstr(c->rx, "403 Forbidden"));
	assert_string_equal(srv[0].rx, up);
	/* accepted: opaque both ways, even bytes that read as a denied request */
	send_str(c, up);
	send_str(c, frame);
	run_for(20000);
	send_str(&srv[0], "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
			  "Connection: upgrade\r\n\r\n\x82\x01z");
	run_for(20000);
	assert_int_equal(PX(l7_tunnels), 1);
	assert_non_null(strstr(srv[0].rx + 2 * strlen(up), frame));
	assert_int_equal(strcmp(c->rx + c->rx_len - 3, "\x82\x01z"), 0);
	assert_int_equal(PX(l7_denied), 1);
}

static void denied_upgrade_goes_on(void **state)
{
	struct peer *c = connect_client(0);

	(void)state;
	send_str(c, "GET /admin/ws HTTP/1.1\r\nHost: web\r\nUpgrade: websocket\r\n"
		    "Connection: upgrade\r\n\r\nGET /after HTTP/1.1\r\nHost: web\r\n\r\n");
	run_for(30000);
	assert_non_null(strstr(c->rx, "403 Forbidden"));
	assert_string_equal(srv[0].rx, "GET /after HTTP/1.1\r\nHost: web\r\n\r\n");
	assert_int_equal(strcmp(c->rx + c->rx_len - strlen(OK_RESPONSE), OK_RESPONSE), 0);
}

/* A spliced pair cannot start checking mid-stream: a swap that adds http
 * terms to its rule closes it. */
static void swap_to_l7_closes_spliced_pair(void **state)
{
	struct peer *c;

	(void)state;
	pol1.l4_only = true;
	c = connect_client(0);
	send_str(c, "GET /v1 HTTP/1.1\r\nHost: web\r\n\r\n");
	run_for(20000);
	assert_string_equal(c->rx, OK_RESPONSE);
	assert_int_equal(PX(l7_admitted), 0);
	cur = &pol2;
	run_for(20000);
	assert_int_equal(PX(l7_unavailable), 1);
	assert_int_equal(PX(reauth_closed), 1);
	assert_true(c->peer_fin || c->closed);
	assert_int_equal(N->px.st.pairs_active, 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(allowed_goes_normalized, l7_setup, l7_teardown),
		cmocka_unit_test_setup_teardown(denied_gets_403_and_goes_on, l7_setup, l7_teardown),
		cmocka_unit_test_setup_teardown(close_on_deny_closes, l7_setup, l7_teardown),
		cmocka_unit_test_setup_teardown(denied_close_request_closes, l7_setup, l7_teardown),
		cmocka_unit_test_setup_teardown(pipelined_in_order, l7_setup, l7_teardown),
		cmocka_unit_test_setup_teardown(deny_waits_for_streaming_response, l7_setup,
						l7_teardown),
		cmocka_unit_test_setup_teardown(smuggling_is_400_and_close, l7_setup, l7_teardown),
		cmocka_unit_test_setup_teardown(long_line_is_414, l7_setup, l7_teardown),
		cmocka_unit_test_setup_teardown(encoded_dotdot_is_denied, l7_setup, l7_teardown),
		cmocka_unit_test_setup_teardown(absolute_form, l7_setup, l7_teardown),
		cmocka_unit_test_setup_teardown(split_at_every_byte, l7_setup, l7_teardown),
		cmocka_unit_test_setup_teardown(chunked_body_streams, l7_setup, l7_teardown),
		cmocka_unit_test_setup_teardown(bad_chunk_line_never_leaves, l7_setup, l7_teardown),
		cmocka_unit_test_setup_teardown(pool_exhausted_is_refused, l7_setup, l7_teardown),
		cmocka_unit_test_setup_teardown(one_peer_holds_its_share, l7_setup, l7_teardown),
		cmocka_unit_test_setup_teardown(no_authorize_http_refuses_l7, l7_setup, l7_teardown),
		cmocka_unit_test_setup_teardown(swap_changes_next_verdict, l7_setup, l7_teardown),
		cmocka_unit_test_setup_teardown(swap_to_l7_closes_spliced_pair, l7_setup, l7_teardown),
		cmocka_unit_test_setup_teardown(upgrade_waits_for_its_answer, l7_setup, l7_teardown),
		cmocka_unit_test_setup_teardown(denied_upgrade_goes_on, l7_setup, l7_teardown),
	};

	(void)argc;
	return WIRE_MAIN(tests, argv[0], "mgtest-pxl7", "pxl7_test", 16383, pool, pool_full);
}
