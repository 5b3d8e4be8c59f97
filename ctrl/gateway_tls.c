/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The gateway's TLS side, on the control thread: the node's SVID files, the
 * TLS state built for each policy generation before it is published, the
 * handshake threads, SVID rotation, and the workers' refusal events turned
 * into audit records.
 */
#include "gateway_tls.h"

#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/provider.h>
#include <rte_rcu_qsbr.h>

#include "dp_policy.h"
#include "gateway.h"
#include "tls_gen.h"

#define SVID_CHECK_PERIOD_S 1
#define SVID_RETRY_S 5 /* an SVID that never loaded */
#define EVENT_AUDIT_PER_S 20 /* audit records of refusals per second; the rest counted */

bool mg_gw_tls_wanted(const struct mg_config *c)
{
	for (uint16_t i = 0; i < c->n_listeners; i++)
		if (c->listeners[i].type != MG_LISTENER_TCP)
			return true;
	return false;
}

static void audit(struct mg_gateway *gw, const char *type, const char *const *kv, size_t n)
{
	if (gw->audit && mg_audit_appendv(gw->audit, type, kv, n) < 0)
		fprintf(stderr, "meshgw: ALARM: audit append failed: %s\n", mg_errmsg());
}

/* An SVID that could not be (re)loaded: remembered for telemetry, audited once per cause. */
static void svid_refused(struct mg_gateway *gw, uint16_t i, const char *why)
{
	struct mg_gw_tls *t = &gw->tls;
	const char *kv[] = { "svid", gw->cfg.svids[i].name, "reason", why };

	if (strcmp(t->svid[i].error, why) == 0)
		return;
	snprintf(t->svid[i].error, sizeof(t->svid[i].error), "%s", why);
	t->svid_refusals++;
	audit(gw, t->svid[i].loaded ? "svid.rotation_refused" : "svid.refused", kv, 2);
}

/*
 * Build @p g's TLS state: its trust bundles and the contexts of every SVID
 * that verifies under them. An SVID in use that would no longer verify
 * refuses the generation; one never loaded is tried and, failing, left out
 * (its listeners refuse with no_local_svid) and reported.
 */
static MG_RESULT attach(void *ctx, struct mg_gen *g)
{
	struct mg_gateway *gw = ctx;
	struct mg_gw_tls *t = &gw->tls;
	struct mg_svid_source src[MG_MAX_SVIDS];
	struct mg_svid_files files[MG_MAX_SVIDS];
	struct mg_svid_trust trust;
	struct mg_tls_gen *tg = NULL;
	uint32_t n = 0;

	if (gw->cfg.n_svids == 0)
		return 0;
	MG_GUARD(mg_tls_trust_build(g->policy, mg_policy_generation(g->policy), &trust));
	for (uint16_t i = 0; i < gw->cfg.n_svids; i++) {
		if (!t->svid[i].loaded &&
		    mg_svid_files_load(&gw->cfg.svids[i], &trust, time(NULL), &t->svid[i].f) == 0) {
			t->svid[i].loaded = true;
			t->svid[i].error[0] = '\0';
			memcpy(t->svid[i].first_id, t->svid[i].f.id.id, t->svid[i].f.id.id_len + 1u);
		} else if (!t->svid[i].loaded) {
			svid_refused(gw, i, mg_errmsg());
			continue;
		}
		src[n] = gw->cfg.svids[i];
		files[n++] = t->svid[i].f;
	}
	MG_GUARD(mg_tls_gen_build(g->policy, &trust, src, files, n, &tg));
	g->tls = &tg->set;
	return 0;
}

/* Handshake threads share the control thread's core (its affinity). */
static void *handshake_thread(void *arg)
{
	mg_tls_svc_main(arg);
	return NULL;
}

static MG_RESULT start_threads(struct mg_gateway *gw)
{
	struct mg_gw_tls *t = &gw->tls;
	cpu_set_t cpus;

	if (pthread_getaffinity_np(pthread_self(), sizeof(cpus), &cpus) != 0)
		CPU_ZERO(&cpus);
	for (uint32_t i = 0; i < gw->cfg.tls_handshake_threads; i++) {
		char name[16];

		MG_ENSURE(pthread_create(&t->threads[i], NULL, handshake_thread, &t->svc) == 0,
			  INTERNAL, "handshake thread %u: cannot start", i);
		t->n_threads++;
		snprintf(name, sizeof(name), "mg-hs-%u", i % MG_MAX_HS_THREADS);
		pthread_setname_np(t->threads[i], name);
		if (CPU_COUNT(&cpus) > 0)
			pthread_setaffinity_np(t->threads[i], sizeof(cpus), &cpus);
	}
	return 0;
}

/*
 * crypto.provider: OpenSSL's default provider unless gateway.conf names a
 * QAT one, which must then be there: a node configured for offload that
 * silently ran in software would be slower than planned and say nothing.
 */
MG_RESULT mg_gw_tls_load_provider(const struct mg_config *c)
{
	char why[256] = "";

	if (c->crypto_provider == MG_CRYPTO_DEFAULT)
		return 0;
	if (c->crypto_provider == MG_CRYPTO_QAT_PROVIDER) {
		if (OSSL_PROVIDER_load(NULL, "qatprovider") != NULL)
			return 0;
	} else {
		/* Engines are deprecated in OpenSSL 3, yet the QAT engine is what
		 * many nodes have: asked for by name, it is used. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
		ENGINE *e = ENGINE_by_id("qatengine");

		if (e && ENGINE_init(e)) {
			ENGINE_set_default(e, ENGINE_METHOD_ALL);
			ENGINE_free(e);
			return 0;
		}
		ENGINE_free(e);
#pragma GCC diagnostic pop
	}
	ERR_error_string_n(ERR_peek_last_error(), why, sizeof(why));
	ERR_clear_error();
	return mg_error_set(MG_ERR_CONFIG_VALUE,
			    "%s: crypto.provider = \"%s\": OpenSSL cannot load it (%s); install "
			    "the QAT %s and its device, or use \"default\"",
			    c->path, mg_crypto_provider_name(c->crypto_provider), why,
			    c->crypto_provider == MG_CRYPTO_QAT_PROVIDER ? "provider (qatprovider)"
									 : "engine (qatengine)");
}

MG_RESULT mg_gw_tls_init(struct mg_gateway *gw)
{
	struct mg_gw_tls *t = &gw->tls;


	gw->loader.attach = attach;
	gw->loader.attach_ctx = gw;
	if (!mg_gw_tls_wanted(&gw->cfg))
		return 0;
	MG_ENSURE(gw->cfg.tcp_buffer_kb >= 32, CONFIG_VALUE,
		  "%s: tcp.buffer_kb: an inbound or outbound listener needs at least 32 "
		  "(a whole TLS record, 16 KiB and more, must fit the receive window)",
		  gw->cfg.path);
	MG_GUARD(mg_tls_hs_global_init());
	MG_GUARD(mg_tls_record_global_init());
	MG_GUARD(mg_tls_svc_init(&t->svc, gw->n_workers, gw->cfg.tls_max_handshakes,
				 SOCKET_ID_ANY, "mg_hs"));
	t->on = true;
	return start_threads(gw);
}

void mg_gw_tls_worker_conf(struct mg_gateway *gw, uint16_t w, struct mg_proxy_tls_conf *out)
{
	memset(out, 0, sizeof(*out));
	if (!gw->tls.on)
		return;
	out->svc = &gw->tls.svc.w[w];
	out->handshake_timeout_us = (uint64_t)gw->cfg.tls_handshake_timeout_ms * 1000;
	out->peer_handshakes = gw->cfg.tls_peer_handshakes;
}

/*
 * A rotated (or newly loaded) SVID: the same generation gets new TLS state.
 * Workers pick it up at their next loop; once they all have, the old state
 * loses the generation's reference (handshakes in flight keep theirs).
 */
static void rebuild(struct mg_gateway *gw)
{
	struct mg_gen *g = gw->pub.active;
	struct mg_tls_set *old;
	struct mg_gen fresh = { .policy = g ? g->policy : NULL };

	if (!g || !g->policy || attach(gw, &fresh) < 0) {
		fprintf(stderr, "meshgw: SVID change not applied: %s\n", mg_errmsg());
		return;
	}
	old = __atomic_exchange_n(&g->tls, fresh.tls, __ATOMIC_ACQ_REL);
	rte_rcu_qsbr_synchronize(gw->pub.qsv, RTE_QSBR_THRID_INVALID);
	mg_tls_set_put(old);
}

static void check_svid(struct mg_gateway *gw, uint16_t i, time_t now, bool *changed)
{
	struct mg_gw_tls *t = &gw->tls;
	const struct mg_gen *g = gw->pub.active;
	struct mg_tls_set *set = mg_gen_tls(g);
	bool rotated = false;

	if (!set)
		return;
	if (!t->svid[i].loaded) { /* never loaded: the files may have appeared */
		if ((uint64_t)now >= t->svid[i].last_try_s + SVID_RETRY_S) {
			t->svid[i].last_try_s = (uint64_t)now;
			*changed = true;
		}
		return;
	}
	if (mg_svid_files_changed(&gw->cfg.svids[i], &t->svid[i].f)) {
		if (mg_svid_files_rotate(&t->svid[i].f, &gw->cfg.svids[i], set->trust, now,
					 &rotated) < 0) {
			svid_refused(gw, i, mg_errmsg());
		} else if (rotated) {
			const char *kv[] = { "svid", gw->cfg.svids[i].name, "spiffe_id",
					     t->svid[i].f.id.id };

			t->rotations++;
			t->svid[i].error[0] = '\0';
			audit(gw, "svid.rotated", kv, 2);
			*changed = true;
		}
	}
	t->svid[i].expiring = t->svid[i].f.id.not_after - now < (int64_t)gw->cfg.tls_svid_expiry_warn_s;
	if (t->svid[i].expiring && !t->svid[i].expiry_audited) {
		const char *kv[] = { "svid", gw->cfg.svids[i].name, "spiffe_id", t->svid[i].f.id.id };

		audit(gw, "svid.expiring", kv, 2);
		t->svid[i].expiry_audited = true;
	}
	if (!t->svid[i].expiring)
		t->svid[i].expiry_audited = false;
}

/* Workers' refusals become audit records, EVENT_AUDIT_PER_S a second; the rest are counted. */
static void audit_event(struct mg_gateway *gw, const struct mg_proxy_event *ev, uint64_t now_s)
{
	static const char *const kinds[] = { "conn.denied", "tls.handshake_failed",
					     "conn.reauth_closed", "tls.handshake_timeout",
					     "http.denied" };
	struct mg_gw_tls *t = &gw->tls;
	char peer[24], gen[24], sup[24];
	const char *reason = mg_dp_verdict_name(ev->verdict);
	uint8_t *ip = (uint8_t *)(uintptr_t)&ev->peer_ip;

	if (now_s != t->audit_window_s) {
		t->audit_window_s = now_s;
		t->audit_in_window = 0;
	}
	if (t->audit_in_window >= EVENT_AUDIT_PER_S) {
		t->events_suppressed++;
		t->suppressed_pending++;
		return;
	}
	t->audit_in_window++;
	if (ev->kind == MG_PROXY_EV_TLS_FAILED)
		reason = ev->tls_error == MG_TLS_HS_ERR_PEER_CERT
				 ? mg_svid_reason_name((enum mg_svid_reason)ev->svid)
				 : mg_tls_hs_error_name((enum mg_tls_hs_error)ev->tls_error);
	else if (ev->kind == MG_PROXY_EV_HS_TIMEOUT)
		reason = "handshake_timeout";
	snprintf(peer, sizeof(peer), "%u.%u.%u.%u:%u", ip[0], ip[1], ip[2], ip[3],
		 rte_be_to_cpu_16(ev->peer_port));
	snprintf(gen, sizeof(gen), "%" PRIu64, ev->generation);
	snprintf(sup, sizeof(sup), "%" PRIu64, t->suppressed_pending);
	if (ev->kind == MG_PROXY_EV_HTTP_DENIED) { /* which rule's http terms refused it */
		const struct mg_policy *pol = mg_gen_policy(gw->pub.active);
		const char *rule = pol ? mg_policy_rule_name(pol, ev->rule) : NULL;
		const char *kv[] = {
			"listener", gw->cfg.listeners[ev->listener % MG_MAX_LISTENERS].name,
			"peer", peer, "peer_id", ev->peer_id[0] ? ev->peer_id : "-",
			"reason", reason, "rule", rule ? rule : "-", "generation", gen,
			"suppressed_before", sup,
		};

		audit(gw, "http.denied", kv, RTE_DIM(kv) / 2);
	} else {
		const char *kv[] = {
			"listener", gw->cfg.listeners[ev->listener % MG_MAX_LISTENERS].name,
			"peer", peer, "peer_id", ev->peer_id[0] ? ev->peer_id : "-",
			"reason", reason, "generation", gen, "suppressed_before", sup,
		};

		audit(gw, kinds[ev->kind % RTE_DIM(kinds)], kv, RTE_DIM(kv) / 2);
	}
	t->suppressed_pending = 0;
	t->events_audited++;
}

void mg_gw_tls_tick(struct mg_gateway *gw, uint64_t now_s)
{
	struct mg_gw_tls *t = &gw->tls;
	struct mg_proxy_event ev;
	bool changed = false;

	for (uint16_t w = 0; w < gw->n_workers; w++)
		while (gw->workers[w]->events &&
		       rte_ring_sc_dequeue_elem(gw->workers[w]->events, &ev, sizeof(ev)) == 0)
			audit_event(gw, &ev, now_s);
	if (gw->cfg.n_svids == 0 || now_s < t->next_svid_check_s)
		return;
	t->next_svid_check_s = now_s + SVID_CHECK_PERIOD_S;
	pthread_mutex_lock(&gw->lock);
	for (uint16_t i = 0; i < gw->cfg.n_svids; i++)
		check_svid(gw, i, time(NULL), &changed);
	if (changed)
		rebuild(gw);
	pthread_mutex_unlock(&gw->lock);
}

/* SHA-256 of a certificate's DER. */
static bool cert_sha256(X509 *x, uint8_t out[32])
{
	unsigned int n = 0;

	return x && X509_digest(x, EVP_sha256(), out, &n) == 1 && n == 32;
}

MG_RESULT mg_gw_tls_check_identities(struct mg_gateway *gw)
{
	const struct mg_tls_set *set = mg_gen_tls(gw->pub.active);

	for (uint16_t i = 0; i < gw->cfg.n_svids; i++) {
		const struct mg_gw_svid *s = &gw->tls.svid[i];
		const struct mg_tls_local *l;
		uint8_t h[32];

		if (!s->loaded)
			continue;
		MG_ENSURE(strcmp(s->f.id.id, s->first_id) == 0, INTERNAL,
			  "svid %s: serves %s, was loaded as %s", gw->cfg.svids[i].name, s->f.id.id,
			  s->first_id);
		MG_ENSURE(cert_sha256(s->f.leaf, h) && memcmp(h, s->f.id.leaf_sha256, 32) == 0,
			  INTERNAL, "svid %s: the leaf in memory is not the one loaded",
			  gw->cfg.svids[i].name);
		l = mg_tls_set_find(set, s->f.id.id);
		MG_ENSURE(!set || (l && cert_sha256(SSL_CTX_get0_certificate(l->server), h) &&
				   memcmp(h, s->f.id.leaf_sha256, 32) == 0),
			  INTERNAL, "svid %s: the contexts in force present another certificate",
			  gw->cfg.svids[i].name);
	}
	return 0;
}

void mg_gw_tls_stop_threads(struct mg_gateway *gw)
{
	struct mg_gw_tls *t = &gw->tls;

	__atomic_store_n(&t->svc.quit, 1, __ATOMIC_RELEASE);
	for (uint32_t i = 0; i < t->n_threads; i++)
		pthread_join(t->threads[i], NULL);
	t->n_threads = 0;
}

void mg_gw_tls_free(struct mg_gateway *gw)
{
	struct mg_gw_tls *t = &gw->tls;

	if (t->on)
		mg_tls_svc_free(&t->svc);
	t->on = false;
	for (uint16_t i = 0; i < MG_MAX_SVIDS; i++)
		if (t->svid[i].loaded)
			mg_svid_files_free(&t->svid[i].f);
	memset(t->svid, 0, sizeof(t->svid));
}
