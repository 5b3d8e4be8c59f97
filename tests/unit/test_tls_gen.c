/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The node's SVID files and a generation's TLS state (ctrl/svid_files.c,
 * ctrl/tls_gen.c), with the dev PKI of conf/pki.sh and a compiled policy that
 * trusts example.org: loading and refusing pairs, rotation to the same ID only,
 * contexts that handshake with each other, a snapshot without the SVID's trust
 * domain refused before publication.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "pki_fixture.h"
#include "policy.h"
#include "svid_files.h"
#include "tls_gen.h"
#include "tls_hs.h"

static struct mg_policy *pol, *pol_partner_only, *pol_l7, *pol_l7_down;

static struct mg_svid_source source(const char *name, const char *dir, const char *file)
{
	struct mg_svid_source s;

	snprintf(s.name, sizeof(s.name), "%s", name);
	snprintf(s.cert_path, sizeof(s.cert_path), "%s/%s/%s.pem", pki, dir, file);
	snprintf(s.key_path, sizeof(s.key_path), "%s/%s/%s.key", pki, dir, file);
	return s;
}

static struct mg_policy *compile(const char *text)
{
	struct mg_policy_src *src = NULL;
	struct mg_policy *p = NULL;
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/policy.conf", pki);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	if (mg_policy_parse_file(path, &src) < 0 || mg_policy_compile(src, &p) < 0)
		fprintf(stderr, "policy: %s\n", mg_errmsg());
	mg_policy_src_free(src);
	return p;
}

/* A policy with an HTTP rule: h2-only clients are refused unless it says downgrade. */
#define L7_POLICY                                                                          \
	"trust_domains = ( { name = \"example.org\"; bundle_file = \"example.org/ca.pem\"; } );\n" \
	"workloads = ( { name = \"web\"; spiffe_id = \"spiffe://example.org/ns/prod/sa/web\";"   \
	" addresses = [\"198.18.2.2\"]; ports = [8443]; } );\n"                                   \
	"rules = ( { name = \"api\"; action = \"allow\"; from = [\"spiffe://example.org/*\"];"  \
	" to = { workload = \"web\"; }; http = { methods = [\"GET\"]; }; } );\n"

static int setup(void **state)
{
	(void)state;
	if (pki_make("tlsgen") < 0 || mg_tls_hs_global_init() < 0)
		return -1;
	pol = compile("trust_domains = ( { name = \"example.org\"; bundle_file = \"example.org/ca.pem\"; },\n"
		      "  { name = \"partner.org\"; bundle_file = \"partner.org/ca.pem\"; } );\n"
		      "tls = { ciphersuites = [ \"TLS_AES_128_GCM_SHA256\" ]; groups = [ \"X25519\" ]; };\n");
	pol_partner_only = compile("trust_domains = ( { name = \"partner.org\"; "
				   "bundle_file = \"partner.org/ca.pem\"; } );\n");
	pol_l7 = compile(L7_POLICY);
	pol_l7_down = compile(L7_POLICY "l7 = { h2 = \"downgrade\"; };\n");
	return pol && pol_partner_only && pol_l7 && pol_l7_down ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	mg_policy_free(pol);
	mg_policy_free(pol_partner_only);
	mg_policy_free(pol_l7);
	mg_policy_free(pol_l7_down);
	return pki_remove();
}

static void trust_from_the_policy(void **state)
{
	struct mg_svid_trust t;

	(void)state;
	assert_int_equal(mg_tls_trust_build(pol, 7, &t), 0);
	assert_int_equal(t.n, 2);
	assert_int_equal(t.generation, 7);
	assert_string_equal(t.b[0].td, "example.org");
	mg_tls_trust_free(&t);
}

static void svid_files_loaded_or_refused_with_the_reason(void **state)
{
	struct mg_svid_trust t;
	struct mg_svid_files f;
	struct mg_svid_source s = source("web", "svid", "web");

	(void)state;
	assert_int_equal(mg_tls_trust_build(pol, 1, &t), 0);
	assert_int_equal(mg_svid_files_load(&s, &t, time(NULL), &f), 0);
	assert_string_equal(f.id.id, "spiffe://example.org/ns/prod/sa/web");
	mg_svid_files_free(&f);
	s = source("old", "bad", "expired");
	assert_int_equal(mg_svid_files_load(&s, &t, time(NULL), &f), -1);
	assert_non_null(strstr(mg_errmsg(), "the leaf has expired (expired)"));
	s = source("stranger", "bad", "unknown-ca");
	assert_int_equal(mg_svid_files_load(&s, &t, time(NULL), &f), -1);
	assert_non_null(strstr(mg_errmsg(), "untrusted_chain"));
	/* web's certificate with client's key */
	s = source("mixed", "svid", "web");
	snprintf(s.key_path, sizeof(s.key_path), "%s/svid/client.key", pki);
	assert_int_equal(mg_svid_files_load(&s, &t, time(NULL), &f), -1);
	assert_non_null(strstr(mg_errmsg(), "does not hold the key"));
	s = source("missing", "svid", "nobody");
	assert_int_equal(mg_svid_files_load(&s, &t, time(NULL), &f), -1);
	assert_int_equal(mg_errno(), MG_ERR_IO);
	mg_tls_trust_free(&t);
}

/* Replace the files as an SVID issuer does: write aside, rename over. */
static void install(const struct mg_svid_source *to, const char *dir, const char *file)
{
	static char cmd[8 * PATH_MAX];
	int n;

	n = snprintf(cmd, sizeof(cmd), "cp %s/%s/%s.pem %s.new && cp %s/%s/%s.key %s.knew && "
		 "mv %s.knew %s && mv %s.new %s", pki, dir, file, to->cert_path, pki, dir, file,
		 to->key_path, to->key_path, to->key_path, to->cert_path, to->cert_path);
	assert_true(n > 0 && n < (int)sizeof(cmd));
	assert_int_equal(system(cmd), 0);
}

static void rotation_only_to_the_same_identity(void **state)
{
	struct mg_svid_source s;
	struct mg_svid_trust t;
	struct mg_svid_files cur;
	uint8_t first[32];
	bool rotated = true;

	(void)state;
	snprintf(s.name, sizeof(s.name), "client");
	snprintf(s.cert_path, sizeof(s.cert_path), "%s/live.pem", pki);
	snprintf(s.key_path, sizeof(s.key_path), "%s/live.key", pki);
	install(&s, "svid", "client");
	assert_int_equal(mg_tls_trust_build(pol, 1, &t), 0);
	assert_int_equal(mg_svid_files_load(&s, &t, time(NULL), &cur), 0);
	memcpy(first, cur.id.leaf_sha256, 32);
	/* Nothing changed on disk: nothing happens. */
	assert_int_equal(mg_svid_files_rotate(&cur, &s, &t, time(NULL), &rotated), 0);
	assert_false(rotated);
	/* Another identity: refused, the running pair stays. */
	install(&s, "svid", "backend");
	assert_int_equal(mg_svid_files_rotate(&cur, &s, &t, time(NULL), &rotated), -1);
	assert_non_null(strstr(mg_errmsg(), "rotation to spiffe://example.org/ns/prod/sa/backend "
					    "refused"));
	assert_memory_equal(cur.id.leaf_sha256, first, 32);
	/* An expired pair of the same ID: refused too. */
	install(&s, "bad", "expired");
	assert_int_equal(mg_svid_files_rotate(&cur, &s, &t, time(NULL), &rotated), -1);
	assert_non_null(strstr(mg_errmsg(), "expired"));
	/* The same ID with a new key: taken. */
	install(&s, "svid", "client-rotated");
	assert_int_equal(mg_svid_files_rotate(&cur, &s, &t, time(NULL), &rotated), 0);
	assert_true(rotated);
	assert_string_equal(cur.id.id, "spiffe://example.org/ns/prod/sa/client");
	assert_memory_not_equal(cur.id.leaf_sha256, first, 32);
	mg_svid_files_free(&cur);
	mg_tls_trust_free(&t);
}

static void generation_contexts_handshake(void **state)
{
	struct mg_svid_source src[2] = { source("web", "svid", "web"),
					 source("client", "svid", "client") };
	struct mg_svid_files f[2];
	struct mg_svid_trust t;
	struct mg_tls_gen *g;
	struct mg_tls_hs srv, cli;
	uint8_t a[16384], b[16384];
	size_t a_len = 0, b_len = 0;
	enum mg_tls_hs_status cs, ss = MG_TLS_HS_CONTINUE;

	(void)state;
	assert_int_equal(mg_tls_trust_build(pol, 3, &t), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(mg_svid_files_load(&src[i], &t, time(NULL), &f[i]), 0);
	assert_int_equal(mg_tls_gen_build(pol, &t, src, f, 2, &g), 0);
	assert_null(t.b); /* taken over */
	assert_int_equal(g->generation, 3);
	assert_non_null(mg_tls_gen_find(g, "web"));
	assert_null(mg_tls_gen_find(g, "nobody"));
	assert_int_equal(mg_tls_hs_start(&srv, mg_tls_gen_find(g, "web")->server, &g->trust, NULL,
					 NULL, NULL), 0);
	assert_int_equal(mg_tls_hs_start(&cli, mg_tls_gen_find(g, "client")->client, &g->trust,
					 NULL, "spiffe://example.org/ns/prod/sa/web", NULL), 0);
	cs = mg_tls_hs_step(&cli, NULL, 0, a, sizeof(a), &a_len);
	for (int turn = 0; turn < 6 && (a_len || b_len); turn++) {
		ss = mg_tls_hs_step(&srv, a, a_len, b, sizeof(b), &b_len);
		a_len = 0;
		if (b_len)
			cs = mg_tls_hs_step(&cli, b, b_len, a, sizeof(a), &a_len);
		b_len = 0;
	}
	assert_int_equal(cs, MG_TLS_HS_DONE);
	assert_int_equal(ss, MG_TLS_HS_DONE);
	assert_string_equal(srv.peer.id, "spiffe://example.org/ns/prod/sa/client");
	mg_tls_hs_free(&srv);
	mg_tls_hs_free(&cli);
	mg_tls_gen_free(g);

	/* A snapshot that no longer trusts example.org cannot carry these SVIDs. */
	assert_int_equal(mg_tls_trust_build(pol_partner_only, 4, &t), 0);
	assert_int_equal(mg_tls_gen_build(pol_partner_only, &t, src, f, 2, &g), -1);
	assert_non_null(strstr(mg_errmsg(), "svid web (spiffe://example.org/ns/prod/sa/web) is "
					    "not valid under this snapshot's trust domains"));
	assert_null(g);
	for (int i = 0; i < 2; i++)
		mg_svid_files_free(&f[i]);
}

/*
 * A handshake between contexts of a generation of @p p, the client offering
 * @p offer (ALPN wire format; NULL: the client context's own offer). True if
 * both ended it; *@p selected is the server's choice ("" for none).
 */
static bool alpn_handshake(struct mg_policy *p, const char *offer, char *selected)
{
	struct mg_svid_source src[2] = { source("web", "svid", "web"),
					 source("client", "svid", "client") };
	struct mg_svid_files f[2];
	struct mg_svid_trust t;
	struct mg_tls_gen *g;
	struct mg_tls_hs srv, cli;
	uint8_t a[16384], b[16384];
	size_t a_len = 0, b_len = 0;
	enum mg_tls_hs_status cs, ss = MG_TLS_HS_CONTINUE;
	const unsigned char *sel = NULL;
	unsigned sel_len = 0;
	SSL_CTX *client;

	assert_int_equal(mg_tls_trust_build(p, 5, &t), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(mg_svid_files_load(&src[i], &t, time(NULL), &f[i]), 0);
	assert_int_equal(mg_tls_gen_build(p, &t, src, f, 2, &g), 0);
	client = mg_tls_gen_find(g, "client")->client;
	if (offer)
		assert_int_equal(SSL_CTX_set_alpn_protos(client, (const unsigned char *)offer,
							 (unsigned)strlen(offer)), 0);
	assert_int_equal(mg_tls_hs_start(&srv, mg_tls_gen_find(g, "web")->server, &g->trust, NULL,
					 NULL, NULL), 0);
	assert_int_equal(mg_tls_hs_start(&cli, client, &g->trust, NULL,
					 "spiffe://example.org/ns/prod/sa/web", NULL), 0);
	cs = mg_tls_hs_step(&cli, NULL, 0, a, sizeof(a), &a_len);
	for (int turn = 0; turn < 6 && (a_len || b_len); turn++) {
		ss = mg_tls_hs_step(&srv, a, a_len, b, sizeof(b), &b_len);
		a_len = 0;
		if (b_len)
			cs = mg_tls_hs_step(&cli, b, b_len, a, sizeof(a), &a_len);
		b_len = 0;
	}
	SSL_get0_alpn_selected(srv.ssl, &sel, &sel_len);
	snprintf(selected, 16, "%.*s", (int)sel_len, sel ? (const char *)sel : "");
	mg_tls_hs_free(&srv);
	mg_tls_hs_free(&cli);
	mg_tls_gen_free(g);
	for (int i = 0; i < 2; i++)
		mg_svid_files_free(&f[i]);
	return cs == MG_TLS_HS_DONE && ss == MG_TLS_HS_DONE;
}

static void alpn_http11_or_refused(void **state)
{
	struct mg_tls_alpn_stats s0, s1;
	char sel[16];

	(void)state;
	mg_tls_alpn_stats(&s0);
	/* our own client offers http/1.1 and gets it */
	assert_true(alpn_handshake(pol_l7, NULL, sel));
	assert_string_equal(sel, "http/1.1");
	/* h2 and http/1.1 offered: http/1.1, counted as a downgrade */
	assert_true(alpn_handshake(pol_l7, "\x02h2\x08http/1.1", sel));
	assert_string_equal(sel, "http/1.1");
	/* h2 alone toward a policy with HTTP rules: no_application_protocol */
	assert_false(alpn_handshake(pol_l7, "\x02h2", sel));
	/* ...unless the policy says h2 = "downgrade": no protocol selected */
	assert_true(alpn_handshake(pol_l7_down, "\x02h2", sel));
	assert_string_equal(sel, "");
	/* a policy without HTTP rules never refuses: L4 only, as before ALPN */
	assert_true(alpn_handshake(pol, "\x02h2", sel));
	assert_string_equal(sel, "");
	mg_tls_alpn_stats(&s1);
	assert_int_equal(s1.http11 - s0.http11, 2);
	assert_int_equal(s1.h2_downgraded - s0.h2_downgraded, 3);
	assert_int_equal(s1.refused - s0.refused, 1);
	assert_int_equal(s1.unselected - s0.unselected, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(trust_from_the_policy),
		cmocka_unit_test(svid_files_loaded_or_refused_with_the_reason),
		cmocka_unit_test(rotation_only_to_the_same_identity),
		cmocka_unit_test(generation_contexts_handshake),
		cmocka_unit_test(alpn_http11_or_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
