/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * An inbound mTLS listener on the simulated wire (proxy_sim.h): an OpenSSL
 * client on the client stack, meshgw's proxy in the middle with the handshake
 * service served in every step, the plaintext byte-stream server behind it.
 * The policy's answers are the test's (allow the client's SPIFFE ID).
 *
 * Checked: streams both ways byte for byte through handshake and records; a
 * KeyUpdate from the client; close_notify then FIN ends the pair normally; a
 * corrupted record closes it (bad_record_mac); a ClientHello that never
 * completes is reset at the deadline; a denied ID gets access_denied and no
 * upstream; more clients than jobs wait their turn and all complete; a swap
 * that takes the permission away closes the live pair. With ALLOW_L7: the
 * inbound gate (requests opened from records, a pipelined 403 sealed after
 * the owed response) and the outbound one (the local client's requests
 * sealed toward an OpenSSL server that proves the upstream's ID).
 */
#include "proxy_sim.h"
#include "tls_fixture.h"

#include <openssl/err.h>

#include "tls_svc.h"

#define WEB_ID "spiffe://example.org/ns/prod/sa/web"
#define CLIENT_ID "spiffe://example.org/ns/prod/sa/client"
#define HS_TIMEOUT_US 200000

static struct mg_svid_bundle bundles[2];
static struct mg_svid_trust trust = { .n = 2, .b = bundles };
static struct mg_tls_local local;
static struct mg_tls_set set;
static struct mg_tls_svc svc;
static struct mg_svid_cache *cache;
static struct mg_proxy_tls_conf tls_conf;
static SSL_CTX *client_ctx;
static const char *allowed_id = CLIENT_ID;
static uint64_t generation = 1;
static int policy_token;

/* ---- the policy's answers ---------------------------------------------- */

static bool l7; /* the policy asks for per-request checks */
static const struct mg_proxy_l7_conf l7_settings;

static enum mg_proxy_admit authorize(const void *pol, const struct mg_proxy_authz_req *r,
				     uint16_t *v, uint32_t *rule)
{
	(void)pol;
	*rule = 7;
	*v = r->peer_id && strcmp(r->peer_id, allowed_id) == 0 ? 0 : 10;
	return *v != 0 ? MG_PROXY_DENY : l7 ? MG_PROXY_ALLOW_L7 : MG_PROXY_ALLOW;
}

/* L7: everything under /admin is denied. */
static bool authorize_http(const void *pol, const struct mg_proxy_http_req *r, uint16_t *v,
			   uint32_t *rule)
{
	(void)pol;
	*v = 0;
	*rule = 8;
	assert_string_equal(r->conn->peer_id, allowed_id);
	return !(r->path_len >= 6 && memcmp(r->path, "/admin", 6) == 0);
}

static const struct mg_proxy_l7_conf *l7_conf(const void *pol)
{
	(void)pol;
	return &l7_settings;
}

static bool outbound; /* the client is our workload "web", the upstream proves "client" */

static const char *workload_id(const void *pol, uint32_t ip, uint16_t port)
{
	(void)pol;
	(void)port;
	if (outbound)
		return ip == IP_C ? WEB_ID : ip == IP_S ? CLIENT_ID : NULL;
	return ip == IP_S ? WEB_ID : NULL;
}

static struct mg_tls_set *tls_set(const void *pol)
{
	(void)pol;
	return &set;
}

static uint64_t gen_of(const void *pol)
{
	(void)pol;
	return generation;
}

static void serve(void)
{
	mg_tls_svc_serve(&svc, cache, 8);
	mg_proxy_set_policy(&N->px, &policy_token);
}

static void no_destroy(struct mg_tls_set *s)
{
	(void)s;
}

/* ---- an OpenSSL client on the client stack ----------------------------- */

struct tcli {
	struct mg_tcp_conn *c;
	SSL *ssl;
	BIO *rb, *wb;
	bool connected, closed, peer_fin, hs_done, failed;
	uint64_t tx, tx_total, rx, rx_bad;
	char *capture;        /* non-NULL: what it reads is kept here, not checked */
	size_t capture_len;
};

static struct tcli cl[8];

static void tcli_event(void *user, struct mg_tcp_conn *c, unsigned ev)
{
	struct tcli *t = user;
	struct rte_mbuf *m;

	t->c = c;
	if (ev & MG_TCP_EV_CONNECTED)
		t->connected = true;
	if (ev & MG_TCP_EV_PEER_FIN)
		t->peer_fin = true;
	if (ev & MG_TCP_EV_CLOSED) {
		t->closed = true;
		return;
	}
	while (mg_tcp_recv(&N->st[SC], c, UINT32_MAX, &m) > 0) {
		for (struct rte_mbuf *x = m; x; x = x->next)
			BIO_write(t->rb, rte_pktmbuf_mtod(x, void *), x->data_len);
		rte_pktmbuf_free(m);
	}
}

static const struct mg_tcp_ops tcli_ops = { .event = tcli_event };

static struct tcli *tcli_connect(unsigned k, const char *svid)
{
	struct tcli *t = &cl[k];
	struct mg_tcp_connect_args ca = {
		.port = 0, .src_ip = IP_C, .dst_ip = IP_P0,
		.src_port = rte_cpu_to_be_16((uint16_t)(41000 + k)), .dst_port = PORT_L,
		.ops = &tcli_ops, .user = t,
	};
	X509 *cert = read_pem("svid", svid, "pem", false);
	EVP_PKEY *key = read_pem("svid", svid, "key", true);

	memset(t, 0, sizeof(*t));
	t->ssl = SSL_new(client_ctx);
	assert_int_equal(SSL_use_certificate(t->ssl, cert), 1);
	assert_int_equal(SSL_use_PrivateKey(t->ssl, key), 1);
	X509_free(cert);
	EVP_PKEY_free(key);
	t->rb = BIO_new(BIO_s_mem());
	t->wb = BIO_new(BIO_s_mem());
	SSL_set_bio(t->ssl, t->rb, t->wb);
	SSL_set_connect_state(t->ssl);
	memcpy(ca.next_hop_mac, MAC_P0, 6);
	assert_int_equal(mg_tcp_connect(&N->st[SC], &ca, &t->c), 0);
	return t;
}

/* Once per step: handshake, write stream 1, read stream 2, flush to TCP. */
static void tcli_pump(struct tcli *t)
{
	uint8_t buf[4096];
	char *out;
	long n;
	int r;

	if (!t->ssl || t->closed || !t->connected || t->failed)
		return;
	if (!t->hs_done) {
		r = SSL_do_handshake(t->ssl);
		t->hs_done = r == 1;
		if (r <= 0 && SSL_get_error(t->ssl, r) == SSL_ERROR_SSL)
			t->failed = true;
	}
	while (t->hs_done && t->tx < t->tx_total) {
		int len = (int)RTE_MIN(t->tx_total - t->tx, (uint64_t)sizeof(buf));

		for (int i = 0; i < len; i++)
			buf[i] = stream_byte(1, t->tx + (uint64_t)i);
		if (BIO_ctrl_pending(t->wb) > 256 * 1024 || SSL_write(t->ssl, buf, len) <= 0)
			break;
		t->tx += (uint64_t)len;
	}
	while ((r = SSL_read(t->ssl, buf, sizeof(buf))) > 0) {
		if (t->capture) {
			memcpy(t->capture + t->capture_len, buf, (size_t)r);
			t->capture_len += (size_t)r;
			t->capture[t->capture_len] = '\0';
			continue;
		}
		for (int i = 0; i < r; i++)
			if (buf[i] != stream_byte(2, t->rx + (uint64_t)i))
				t->rx_bad++;
		t->rx += (uint64_t)r;
	}
	if (r <= 0 && SSL_get_error(t->ssl, r) == SSL_ERROR_SSL)
		t->failed = true;
	ERR_clear_error();
	n = BIO_get_mem_data(t->wb, &out);
	if (n > 0) {
		int64_t sent = mg_tcp_send_copy(&N->st[SC], t->c, out, (uint32_t)n);

		if (sent > 0)
			BIO_read(t->wb, buf, (int)RTE_MIN((long)sent, (long)sizeof(buf))) ;
		for (int64_t left = sent - (int64_t)sizeof(buf); left > 0;
		     left -= (int64_t)sizeof(buf))
			BIO_read(t->wb, buf, (int)RTE_MIN(left, (int64_t)sizeof(buf)));
	}
}

static unsigned n_cli;

static void pump_clients(void)
{
	serve();
	for (unsigned i = 0; i < n_cli; i++)
		tcli_pump(&cl[i]);
}

static void tcli_free(void)
{
	for (unsigned i = 0; i < RTE_DIM(cl); i++)
		SSL_free(cl[i].ssl);
	memset(cl, 0, sizeof(cl));
	n_cli = 0;
}

/* ---- fixtures ------------------------------------------------------------ */

static int group_setup(void **state)
{
	(void)state;
	if (pki_make("pxtls") < 0 || mg_tls_hs_global_init() < 0 ||
	    mg_tls_record_global_init() < 0 || pki_bundle(&bundles[0], "example.org") < 0 ||
	    pki_bundle(&bundles[1], "partner.org") < 0)
		return -1;
	local = (struct mg_tls_local){ .spiffe_id = WEB_ID, .server = ctx_for("svid", "web", true, 0),
				       .client = ctx_for("svid", "web", false, 0) };
	set = (struct mg_tls_set){ .refs = 1, .generation = 1, .trust = &trust, .n_local = 1,
				   .local = &local, .destroy = no_destroy };
	client_ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_min_proto_version(client_ctx, TLS1_3_VERSION);
	cache = calloc(1, sizeof(*cache));
	return cache ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	SSL_CTX_free(local.server);
	SSL_CTX_free(local.client);
	SSL_CTX_free(client_ctx);
	free(cache);
	mg_svid_bundle_free(&bundles[0]);
	mg_svid_bundle_free(&bundles[1]);
	return pki_remove();
}

static int tls_setup(void **state)
{
	assert_int_equal(mg_tls_svc_init(&svc, 1, 4, SOCKET_ID_ANY, "pxtls"), 0);
	tls_conf = (struct mg_proxy_tls_conf){ .svc = &svc.w[0],
					       .handshake_timeout_us = HS_TIMEOUT_US,
					       .peer_handshakes = 2 };
	sim_extra.kind = MG_PROXY_INBOUND;
	sim_extra.env = (struct mg_proxy_env){ .authorize = authorize, .workload_id = workload_id,
					       .tls_set = tls_set, .generation = gen_of };
	sim_extra.tls = &tls_conf;
	sim_extra.each_step = pump_clients;
	allowed_id = CLIENT_ID;
	generation = 1;
	setup(state);
	mg_proxy_set_policy(&N->px, &policy_token);
	return 0;
}

static int tls_teardown(void **state);

static int l7_setup(void **state)
{
	l7 = true;
	tls_setup(state);
	teardown(NULL);
	sim_extra.env.authorize_http = authorize_http;
	sim_extra.env.l7_conf = l7_conf;
	start(0, 16, true);
	mg_proxy_set_policy(&N->px, &policy_token);
	return 0;
}

/* ---- an OpenSSL server on the server stack (outbound) -------------------- */

struct tsrv {
	struct mg_tcp_conn *c;
	SSL *ssl;
	BIO *rb, *wb;
	char rx[4096];
	size_t rx_len;
};

static struct tsrv tsrv;
static SSL_CTX *server_ctx;

static void tsrv_event(void *user, struct mg_tcp_conn *c, unsigned ev)
{
	struct tsrv *t = user;
	struct rte_mbuf *m;

	if (ev & MG_TCP_EV_CLOSED) {
		t->c = NULL;
		return;
	}
	while (mg_tcp_recv(&N->st[SS], c, UINT32_MAX, &m) > 0) {
		for (struct rte_mbuf *x = m; x; x = x->next)
			BIO_write(t->rb, rte_pktmbuf_mtod(x, void *), x->data_len);
		rte_pktmbuf_free(m);
	}
}

static void *tsrv_accept(void *lu, struct mg_tcp_conn *c)
{
	X509 *cert = read_pem("svid", "client", "pem", false);
	EVP_PKEY *key = read_pem("svid", "client", "key", true);

	(void)lu;
	tsrv.c = c;
	tsrv.ssl = SSL_new(server_ctx);
	assert_int_equal(SSL_use_certificate(tsrv.ssl, cert), 1);
	assert_int_equal(SSL_use_PrivateKey(tsrv.ssl, key), 1);
	X509_free(cert);
	EVP_PKEY_free(key);
	tsrv.rb = BIO_new(BIO_s_mem());
	tsrv.wb = BIO_new(BIO_s_mem());
	SSL_set_bio(tsrv.ssl, tsrv.rb, tsrv.wb);
	SSL_set_accept_state(tsrv.ssl);
	return &tsrv;
}

static const struct mg_tcp_ops tsrv_ops = { .accept = tsrv_accept, .event = tsrv_event };

/* Once per step: handshake, read what came, flush what it wrote. */
static void tsrv_pump(void)
{
	char *out;
	long n;
	int r;

	serve();
	if (!tsrv.ssl || !tsrv.c)
		return;
	while ((r = SSL_read(tsrv.ssl, tsrv.rx + tsrv.rx_len,
			     (int)(sizeof(tsrv.rx) - 1 - tsrv.rx_len))) > 0) {
		tsrv.rx_len += (size_t)r;
		tsrv.rx[tsrv.rx_len] = '\0';
	}
	ERR_clear_error();
	n = BIO_get_mem_data(tsrv.wb, &out);
	if (n > 0) {
		int64_t sent = mg_tcp_send_copy(&N->st[SS], tsrv.c, out, (uint32_t)n);

		char sink[4096];

		for (int64_t left = sent; left > 0; left -= (int64_t)sizeof(sink))
			BIO_read(tsrv.wb, sink, (int)RTE_MIN(left, (int64_t)sizeof(sink)));
	}
}

static int l7_out_setup(void **state)
{
	l7 = true;
	outbound = true;
	memset(&tsrv, 0, sizeof(tsrv));
	server_ctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX_set_min_proto_version(server_ctx, TLS1_3_VERSION);
	tls_setup(state);
	teardown(NULL);
	allowed_id = WEB_ID; /* the local client, whose SVID we present */
	sim_extra.kind = MG_PROXY_OUTBOUND;
	sim_extra.env.authorize_http = authorize_http;
	sim_extra.env.l7_conf = l7_conf;
	sim_extra.each_step = tsrv_pump;
	start(0, 16, false);
	assert_true(mg_tcp_listen(&N->st[SS], IP_S, PORT_S, 16, &tsrv_ops, NULL) >= 0);
	mg_proxy_set_policy(&N->px, &policy_token);
	return 0;
}

static int l7_out_teardown(void **state)
{
	SSL_free(tsrv.ssl);
	SSL_CTX_free(server_ctx);
	memset(&tsrv, 0, sizeof(tsrv));
	outbound = false;
	sim_extra.kind = MG_PROXY_INBOUND;
	return tls_teardown(state);
}

static int tls_teardown(void **state)
{
	l7 = false;
	tcli_free();
	teardown(state);
	mg_tls_svc_free(&svc);
	return 0;
}

/* ---- cases ----------------------------------------------------------------- */

static struct app *srv;

static bool streams_done(void)
{
	srv = server_app(0);
	return srv && cl[0].rx == 300000 && srv->rx == 100000;
}

static void streams_both_ways(void **state)
{
	struct tcli *t = tcli_connect(n_cli++, "client");

	(void)state;
	t->tx_total = 100000;
	run_for(50000);
	srv = server_app(0);
	assert_non_null(srv);
	srv->tx_total = 300000;
	assert_true(run_until(streams_done, 5000000));
	assert_int_equal(cl[0].rx_bad, 0);
	assert_int_equal(srv->rx_bad, 0);
	assert_int_equal(PX(tls_established), 1);
	assert_int_equal(PX(authz_allowed), 1);
	assert_true(PX(tls_records_in) > 0 && PX(tls_records_out) > 0);
	/* A KeyUpdate from the client (update requested): both directions go on. */
	assert_int_equal(SSL_key_update(t->ssl, SSL_KEY_UPDATE_REQUESTED), 1);
	t->tx_total += 50000;
	srv->tx_total += 50000;
	run_for(300000);
	assert_int_equal(PX(tls_key_updates), 1);
	assert_int_equal(t->rx, 350000);
	assert_int_equal(srv->rx, 150000);
	assert_int_equal(t->rx_bad + srv->rx_bad, 0);
	/* close_notify, then FIN: the server sees FIN, the pair ends normally. */
	SSL_shutdown(t->ssl);
	tcli_pump(t);
	mg_tcp_shutdown(&N->st[SC], t->c);
	run_for(300000);
	assert_int_equal(PX(tls_close_notify), 1);
	assert_true(srv->peer_fin);
}

static void corrupted_record_closes(void **state)
{
	struct tcli *t = tcli_connect(n_cli++, "client");
	uint8_t junk[64];

	(void)state;
	run_for(100000);
	assert_true(t->hs_done);
	/* A record whose tag cannot verify. */
	memset(junk, 0x41, sizeof(junk));
	junk[0] = MG_TLS_APPLICATION_DATA;
	junk[1] = 3;
	junk[2] = 3;
	junk[3] = 0;
	junk[4] = sizeof(junk) - 5;
	assert_int_equal(mg_tcp_send_copy(&N->st[SC], t->c, junk, sizeof(junk)), sizeof(junk));
	run_for(100000);
	assert_int_equal(PX(tls_bad_record), 1);
	assert_int_equal(N->px.st.records[MG_TLS_REC_BAD_MAC], 1);
	assert_true(t->closed || t->peer_fin);
}

static void dribbled_hello_times_out(void **state)
{
	struct tcli *t = tcli_connect(n_cli++, "client");
	static const uint8_t part[6] = { 0x16, 3, 1, 2, 0, 1 };

	(void)state;
	t->failed = true; /* the test writes by hand: the client stays mute */
	run_for(20000);
	assert_true(t->connected);
	assert_int_equal(mg_tcp_send_copy(&N->st[SC], t->c, part, sizeof(part)), sizeof(part));
	run_for(HS_TIMEOUT_US / 2);
	assert_int_equal(PX(tls_hs_timeout), 0);
	run_for(HS_TIMEOUT_US + 100000);
	assert_int_equal(PX(tls_hs_timeout), 1);
	assert_true(t->closed);
	assert_int_equal(PX(upstream_connects), 0);
}

static void denied_id_gets_no_upstream(void **state)
{
	struct tcli *t = tcli_connect(n_cli++, "web"); /* valid, but not the allowed ID */

	(void)state;
	run_for(200000);
	assert_int_equal(PX(authz_denied), 1);
	assert_int_equal(N->px.st.authz[10], 1);
	assert_int_equal(PX(upstream_connects), 0);
	assert_true(t->failed || t->closed || t->peer_fin);
}

static bool client_up_and_server_there(void)
{
	srv = server_app(0);
	return cl[0].hs_done && srv;
}

static bool client_all_written(void)
{
	return cl[0].tx == cl[0].tx_total && BIO_ctrl_pending(cl[0].wb) == 0;
}

/* The server does not read, so the TLS side's records wait in its receive
 * queue; then close_notify and FIN arrive behind them. The records are
 * still opened and delivered, and only then the FIN passed on. */
static bool server_got_all_and_fin(void)
{
	return srv->rx == cl[0].tx_total && srv->peer_fin;
}

static void records_queued_before_a_fin_are_delivered(void **state)
{
	struct tcli *t = tcli_connect(n_cli++, "client");
	/* The server's receive buffer and the proxy's upstream send buffer take
	 * 2 x BUF; half a BUF more waits as records on the proxy's TLS side. */
	const uint64_t total = 2 * BUF + BUF / 2;

	(void)state;
	assert_true(run_until(client_up_and_server_there, 2000000));
	srv->auto_read = false;
	t->tx_total = total;
	assert_true(run_until(client_all_written, 2000000));
	assert_int_equal(SSL_shutdown(t->ssl), 0);
	tcli_pump(t);
	assert_int_equal(BIO_ctrl_pending(t->wb), 0);
	mg_tcp_shutdown(&N->st[SC], t->c);
	run_for(200000);
	assert_true(srv->rx == 0 && !srv->peer_fin);
	srv->auto_read = true;
	app_read(srv);
	assert_true(run_until(server_got_all_and_fin, 2000000));
	assert_int_equal(srv->rx_bad, 0);
	assert_int_equal(PX(tls_close_notify), 1);
	assert_int_equal(PX(tls_truncated), 0);
}

/* A FIN inside a record cuts the stream: the server is reset, not told EOF. */
static void fin_inside_a_record_resets_both_sides(void **state)
{
	struct tcli *t = tcli_connect(n_cli++, "client");
	uint8_t part[5 + 10] = { MG_TLS_APPLICATION_DATA, 3, 3, 0, 100 };

	(void)state;
	assert_true(run_until(client_up_and_server_there, 2000000));
	t->failed = true; /* from here the test writes by hand */
	assert_int_equal(mg_tcp_send_copy(&N->st[SC], t->c, part, sizeof(part)), sizeof(part));
	mg_tcp_shutdown(&N->st[SC], t->c);
	run_for(200000);
	assert_int_equal(PX(tls_truncated), 1);
	assert_true(srv->closed);
	assert_false(srv->peer_fin);
	assert_true(t->closed);
}

static bool all_clients_up(void)
{
	for (unsigned i = 0; i < n_cli; i++)
		if (!cl[i].hs_done)
			return false;
	return PX(tls_established) == n_cli; /* the client is done before the server */
}

/* Six clients, four jobs, two per source: the rest wait, none is reset. */
static void more_clients_than_jobs_wait(void **state)
{
	(void)state;
	for (unsigned i = 0; i < 6; i++)
		tcli_connect(n_cli++, "client");
	assert_true(run_until(all_clients_up, 3000000));
	assert_int_equal(PX(tls_established), 6);
	assert_true(PX(tls_peer_capped) >= 1);
	assert_int_equal(PX(tls_hs_timeout), 0);
	assert_int_equal(svc.w[0].in_use, 0);
}

static void swap_closes_what_it_denies(void **state)
{
	struct tcli *t = tcli_connect(n_cli++, "client");

	(void)state;
	t->tx_total = 10000;
	run_for(200000);
	assert_int_equal(PX(tls_established), 1);
	allowed_id = "spiffe://example.org/ns/prod/sa/nobody";
	generation = 2;
	run_for(100000);
	assert_int_equal(PX(reauth_checked), 1);
	assert_int_equal(PX(reauth_closed), 1);
	assert_int_equal(N->px.st.pairs_active, 0);
	assert_true(t->peer_fin || t->closed);
}

static char l7_rx[4096];

static bool l7_answered(void)
{
	return strstr(l7_rx, "403 Forbidden") != NULL;
}

/* ALLOW_L7 on the inbound listener: requests opened from records pass the
 * gate, responses are framed on their way into records, the 403 is sealed. */
static void l7_inbound_gate(void **state)
{
	static const char reqs[] = "GET /ok/../x HTTP/1.1\r\nHost: web\r\n\r\n"
				   "GET /admin HTTP/1.1\r\nHost: web\r\n\r\n";
	static const char fwd[] = "GET /x HTTP/1.1\r\nHost: web\r\n\r\n";
	static const char ok[] = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
	struct tcli *t = tcli_connect(n_cli++, "client");
	char got[256] = "";
	struct rte_mbuf *m;

	(void)state;
	t->capture = l7_rx;
	l7_rx[0] = '\0';
	run_for(200000);
	assert_true(t->hs_done);
	srv = server_app(0); /* connected after the verdict, before any request */
	assert_non_null(srv);
	srv->auto_read = false;
	assert_int_equal(SSL_write(t->ssl, reqs, (int)strlen(reqs)), (int)strlen(reqs));
	run_for(100000);
	if (mg_tcp_recv(&N->st[SS], srv->c, sizeof(got) - 1, &m) > 0) {
		memcpy(got, rte_pktmbuf_mtod(m, void *), m->data_len);
		rte_pktmbuf_free(m);
	}
	assert_string_equal(got, fwd); /* the denied one waits: a response is owed */
	assert_null(strstr(l7_rx, "403"));
	assert_int_equal(mg_tcp_send_copy(&N->st[SS], srv->c, ok, strlen(ok)), strlen(ok));
	assert_true(run_until(l7_answered, 1000000));
	assert_true(strncmp(l7_rx, ok, strlen(ok)) == 0);
	assert_non_null(strstr(l7_rx + strlen(ok), "request 0-2 denied by policy"));
	assert_int_equal(PX(l7_allowed), 1);
	assert_int_equal(PX(l7_denied), 1);
	assert_int_equal(PX(tls_bad_record), 0);
}

static char out_rx[4096];

static bool out_answered(void)
{
	struct app *a = &N->apps[0];
	struct rte_mbuf *m;

	while (a->c && mg_tcp_recv(&N->st[SC], a->c, UINT32_MAX, &m) > 0) {
		for (struct rte_mbuf *x = m; x; x = x->next) {
			size_t k = strlen(out_rx);

			memcpy(out_rx + k, rte_pktmbuf_mtod(x, void *), x->data_len);
			out_rx[k + x->data_len] = '\0';
		}
		rte_pktmbuf_free(m);
	}
	return strstr(out_rx, "403 Forbidden") != NULL;
}

/* ALLOW_L7 on the outbound listener: the local client's plaintext passes the
 * gate and is sealed toward the upstream, responses are framed as opened. */
static void l7_outbound_gate(void **state)
{
	static const char reqs[] = "GET /a/%2e/b HTTP/1.1\r\nHost: backend\r\n\r\n"
				   "GET /admin HTTP/1.1\r\nHost: backend\r\n\r\n";
	static const char ok[] = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
	struct app *c = client_connect(0);

	(void)state;
	c->auto_read = false;
	out_rx[0] = '\0';
	run_for(200000);
	assert_int_equal(PX(tls_established), 1);
	assert_int_equal(PX(l7_admitted), 1);
	assert_int_equal(mg_tcp_send_copy(&N->st[SC], c->c, reqs, strlen(reqs)), strlen(reqs));
	run_for(100000);
	assert_string_equal(tsrv.rx, "GET /a/b HTTP/1.1\r\nHost: backend\r\n\r\n");
	assert_int_equal(SSL_write(tsrv.ssl, ok, (int)strlen(ok)), (int)strlen(ok));
	assert_true(run_until(out_answered, 1000000));
	assert_true(strncmp(out_rx, ok, strlen(ok)) == 0);
	assert_int_equal(PX(l7_allowed), 1);
	assert_int_equal(PX(l7_denied), 1);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(streams_both_ways, tls_setup, tls_teardown),
		cmocka_unit_test_setup_teardown(corrupted_record_closes, tls_setup, tls_teardown),
		cmocka_unit_test_setup_teardown(dribbled_hello_times_out, tls_setup, tls_teardown),
		cmocka_unit_test_setup_teardown(denied_id_gets_no_upstream, tls_setup, tls_teardown),
		cmocka_unit_test_setup_teardown(records_queued_before_a_fin_are_delivered, tls_setup,
						tls_teardown),
		cmocka_unit_test_setup_teardown(fin_inside_a_record_resets_both_sides, tls_setup,
						tls_teardown),
		cmocka_unit_test_setup_teardown(more_clients_than_jobs_wait, tls_setup,
						tls_teardown),
		cmocka_unit_test_setup_teardown(swap_closes_what_it_denies, tls_setup, tls_teardown),
		cmocka_unit_test_setup_teardown(l7_inbound_gate, l7_setup, tls_teardown),
		cmocka_unit_test_setup_teardown(l7_outbound_gate, l7_out_setup, l7_out_teardown),
	};

	int rc;

	(void)argc;
	if (group_setup(NULL) != 0)
		return 1;
	rc = WIRE_MAIN(tests, argv[0], "mgtest-pxtls", "pxtls_test", 16383, pool, pool_full);
	return group_teardown(NULL) == 0 ? rc : 1;
}
