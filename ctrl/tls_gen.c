/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One generation's TLS state (tls_gen.h): trust bundles from the compiled
 * policy, contexts per local SVID with the policy's tls settings.
 */
#include "tls_gen.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tls_hs.h"

MG_RESULT mg_tls_trust_build(const struct mg_policy *pol, uint64_t generation,
			     struct mg_svid_trust *out)
{
	uint32_t n = mg_policy_n_trust_domains(pol);

	memset(out, 0, sizeof(*out));
	out->generation = generation;
	out->b = calloc(n ? n : 1, sizeof(*out->b));
	MG_ENSURE(out->b != NULL, NOMEM, "tls: no memory for %u trust bundles", n);
	for (uint32_t i = 0; i < n; i++) {
		size_t len = 0;
		const char *pem = mg_policy_td_bundle(pol, i, &len);

		if (mg_svid_bundle_load(&out->b[i], mg_policy_td_name(pol, i), pem, len) < 0) {
			mg_tls_trust_free(out);
			return -1;
		}
		out->n++;
	}
	return 0;
}

void mg_tls_trust_free(struct mg_svid_trust *t)
{
	for (uint32_t i = 0; i < t->n; i++)
		mg_svid_bundle_free(&t->b[i]);
	free(t->b);
	t->b = NULL;
	t->n = 0;
}

/* ---------------------------------------------------------------------- */
/*
 * ALPN. The L7 gate reads HTTP/1.1 only: a client offering "http/1.1" gets
 * it (also when it offered "h2" first); one offering only other protocols is
 * refused with no_application_protocol when the policy has HTTP rules and
 * says h2 = "refuse", else it proceeds with no protocol selected (what it
 * got before there was a callback). Handshake threads call this: counters
 * are atomic, per handshake, never per packet.
 */
static uint64_t alpn_ctr[4]; /* http11, h2_downgraded, refused, unselected */

enum alpn_mode { ALPN_PROCEED = 0, ALPN_REFUSE = 1 };

static void alpn_count(int i)
{
	__atomic_fetch_add(&alpn_ctr[i], 1, __ATOMIC_RELAXED);
}

/* Does the wire-format list @in offer @proto (length-prefixed)? */
static const unsigned char *alpn_find(const unsigned char *in, unsigned len, const char *proto)
{
	size_t k = strlen(proto);

	for (unsigned i = 0; i < len; i += 1u + in[i])
		if (in[i] == k && i + 1u + k <= len && memcmp(in + i + 1, proto, k) == 0)
			return in + i + 1;
	return NULL;
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *out_len,
		       const unsigned char *in, unsigned in_len, void *arg)
{
	const unsigned char *h11 = alpn_find(in, in_len, "http/1.1");
	bool h2 = alpn_find(in, in_len, "h2") != NULL;

	(void)ssl;
	if (h11 != NULL) {
		*out = h11;
		*out_len = 8;
		alpn_count(0);
		if (h2)
			alpn_count(1);
		return SSL_TLSEXT_ERR_OK;
	}
	if ((uintptr_t)arg == ALPN_REFUSE) {
		alpn_count(2);
		return SSL_TLSEXT_ERR_ALERT_FATAL; /* OpenSSL sends no_application_protocol */
	}
	alpn_count(3);
	if (h2)
		alpn_count(1);
	return SSL_TLSEXT_ERR_NOACK;
}

void mg_tls_alpn_stats(struct mg_tls_alpn_stats *out)
{
	out->http11 = __atomic_load_n(&alpn_ctr[0], __ATOMIC_RELAXED);
	out->h2_downgraded = __atomic_load_n(&alpn_ctr[1], __ATOMIC_RELAXED);
	out->refused = __atomic_load_n(&alpn_ctr[2], __ATOMIC_RELAXED);
	out->unselected = __atomic_load_n(&alpn_ctr[3], __ATOMIC_RELAXED);
}

/* Refuse h2-only clients only where HTTP is checked: a policy with HTTP rules. */
static enum alpn_mode alpn_mode(const struct mg_policy *pol)
{
	struct mg_policy_l7_settings l7;

	mg_policy_l7_get(pol, &l7);
	if (l7.h2_downgrade)
		return ALPN_PROCEED;
	for (uint32_t i = 0; i < mg_policy_n_rules(pol); i++)
		if (mg_policy_rule_has_http(pol, i))
			return ALPN_REFUSE;
	return ALPN_PROCEED;
}

static MG_RESULT alpn_set(SSL_CTX *server, SSL_CTX *client, enum alpn_mode mode)
{
	static const unsigned char h11[] = "\x08http/1.1";

	SSL_CTX_set_alpn_select_cb(server, alpn_select, (void *)(uintptr_t)mode);
	/* returns 0 on success, unlike the rest of OpenSSL */
	MG_ENSURE(SSL_CTX_set_alpn_protos(client, h11, sizeof(h11) - 1) == 0, NOMEM,
		  "tls: cannot set the ALPN offer");
	return 0;
}

/* ---------------------------------------------------------------------- */

static MG_RESULT identity_build(const struct mg_policy_tls_view *tls,
				const struct mg_svid_source *src, const struct mg_svid_files *f,
				const struct mg_svid_trust *trust, enum alpn_mode alpn,
				struct mg_tls_identity *id)
{
	struct mg_tls_ctx_params p = {
		.ciphersuites = tls->ciphersuites, .groups = tls->groups, .sigalgs = tls->sigalgs,
		.cert = f->leaf, .chain = f->chain, .key = f->key,
	};
	struct mg_svid_peer again;
	enum mg_svid_reason r = mg_svid_verify(f->leaf, f->chain, trust, time(NULL), &again);

	MG_ENSURE(r == MG_SVID_OK, PROTO_FORMAT,
		  "svid %s (%s) is not valid under this snapshot's trust domains: %s (%s)",
		  src->name, f->id.id, mg_svid_reason_desc(r), mg_svid_reason_name(r));
	snprintf(id->name, sizeof(id->name), "%s", src->name);
	snprintf(id->spiffe_id, sizeof(id->spiffe_id), "%s", f->id.id);
	if (f->id.has_image)
		snprintf(id->image, sizeof(id->image), "%s", f->id.image);
	p.server = true;
	id->server = mg_tls_ctx_new(&p);
	p.server = false;
	id->client = id->server ? mg_tls_ctx_new(&p) : NULL;
	return id->client != NULL ? alpn_set(id->server, id->client, alpn) : -1;
}

/* The last reference to the set is gone (any thread). */
static void destroy_set(struct mg_tls_set *s)
{
	mg_tls_gen_free((struct mg_tls_gen *)((char *)s - offsetof(struct mg_tls_gen, set)));
}

MG_RESULT mg_tls_gen_build(const struct mg_policy *pol, struct mg_svid_trust *trust,
			   const struct mg_svid_source *src, const struct mg_svid_files *svids,
			   uint32_t n, struct mg_tls_gen **out)
{
	struct mg_tls_gen *g = calloc(1, sizeof(*g));
	struct mg_policy_tls_view tls;

	*out = NULL;
	if (g == NULL || (g->ids = calloc(n ? n : 1, sizeof(*g->ids))) == NULL ||
	    (g->local = calloc(n ? n : 1, sizeof(*g->local))) == NULL) {
		if (g)
			free(g->ids);
		free(g);
		mg_tls_trust_free(trust);
		return mg_error_set(MG_ERR_NOMEM, "tls: no memory for a generation");
	}
	g->trust = *trust;
	g->generation = trust->generation;
	memset(trust, 0, sizeof(*trust)); /* taken over */
	mg_policy_tls(pol, &tls);
	for (uint32_t i = 0; i < n; i++) {
		g->n_ids++;
		if (identity_build(&tls, &src[i], &svids[i], &g->trust, alpn_mode(pol),
				   &g->ids[i]) < 0) {
			mg_tls_gen_free(g);
			return -1;
		}
		g->local[i] = (struct mg_tls_local){
			.spiffe_id = g->ids[i].spiffe_id,
			.image = g->ids[i].image[0] ? g->ids[i].image : NULL,
			.server = g->ids[i].server, .client = g->ids[i].client,
		};
	}
	g->set = (struct mg_tls_set){
		.refs = 1, .generation = g->generation, .trust = &g->trust,
		.n_local = g->n_ids, .local = g->local, .destroy = destroy_set,
	};
	*out = g;
	return 0;
}

const struct mg_tls_identity *mg_tls_gen_find(const struct mg_tls_gen *g, const char *name)
{
	for (uint32_t i = 0; g != NULL && i < g->n_ids; i++)
		if (strcmp(g->ids[i].name, name) == 0)
			return &g->ids[i];
	return NULL;
}

void mg_tls_gen_free(struct mg_tls_gen *g)
{
	if (g == NULL)
		return;
	for (uint32_t i = 0; i < g->n_ids; i++) {
		SSL_CTX_free(g->ids[i].server);
		SSL_CTX_free(g->ids[i].client);
	}
	free(g->ids);
	free(g->local);
	mg_tls_trust_free(&g->trust);
	free(g);
}
