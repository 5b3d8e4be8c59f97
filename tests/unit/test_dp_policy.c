/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The policy's answers for the workers (ctrl/dp_policy.c) over a published
 * generation (ctrl/gen.h), against tests/data/policy/authz.conf: verdicts as
 * the proxy counts them (a plaintext client with no workload, allow_l7
 * refused until the HTTP layer runs), the workload behind an address or a
 * service, the generation, the TLS state's references, and a NULL generation
 * (no memory for deny-all) denying everything.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/ssl.h>
#include <rte_byteorder.h>

#include "dp_policy.h"
#include "gen.h"
#include "policy_files.h"

#define FRONTEND "spiffe://example.org/ns/prod/sa/frontend"
#define PARTNER "spiffe://partner.org/ns/pay/sa/ledger"

static int setup(void **state)
{
	struct mg_policy *p = compile_path(DATA "/authz.conf");

	*state = p ? mg_gen_new(p) : NULL;
	return *state == NULL || mg_gen_build_l7(*state, 2) != 0;
}

static int teardown(void **state)
{
	mg_gen_free(*state);
	return 0;
}

static uint32_t be_ip(const char *a)
{
	return rte_cpu_to_be_32(ip(a));
}

/* Ask as a worker does: network order, the verdict's name. */
static const char *ask(const void *gen, const char *id, const char *dst, uint16_t port,
		       const char *image, bool *ok)
{
	struct mg_proxy_authz_req r = {
		.peer_id = id, .image = image, .dst_ip = be_ip(dst), .dst_port = rte_cpu_to_be_16(port),
	};
	uint16_t v = 0xeeee;
	uint32_t rule = 0;

	*ok = mg_dp_policy_env.authorize(gen, &r, &v, &rule) != MG_PROXY_DENY;
	assert_true(v < MG_PROXY_AUTHZ_MAX);
	return mg_dp_verdict_name(v);
}

static void verdicts_as_the_proxy_counts_them(void **state)
{
	bool ok;

	assert_string_equal(ask(*state, FRONTEND, "198.18.2.2", 8080, NULL, &ok), "allow");
	assert_true(ok);
	/* No workload at the client's address: the data path's own verdict. */
	assert_string_equal(ask(*state, NULL, "198.18.2.2", 8080, NULL, &ok),
			    "deny_no_workload_at_source");
	assert_false(ok);
	/* A rule with HTTP terms: admitted for per-request checks (ALLOW_L7). */
	assert_string_equal(ask(*state, PARTNER, "198.18.2.2", 8443, NULL, &ok), "allow_l7");
	assert_true(ok);
	{
		struct mg_proxy_authz_req r = { .peer_id = PARTNER, .dst_ip = be_ip("198.18.2.2"),
						.dst_port = rte_cpu_to_be_16(8443) };
		uint16_t v;
		uint32_t rule;

		assert_int_equal(mg_dp_policy_env.authorize(*state, &r, &v, &rule),
				 MG_PROXY_ALLOW_L7);
		assert_int_equal(mg_dp_policy_env.authorize(*state, &(struct mg_proxy_authz_req){
				.peer_id = FRONTEND, .dst_ip = be_ip("198.18.2.2"),
				.dst_port = rte_cpu_to_be_16(8080) }, &v, &rule), MG_PROXY_ALLOW);
	}
	assert_string_equal(ask(*state, FRONTEND, "198.18.2.10", 5432, NULL, &ok), "deny_no_rule");
	assert_false(ok);
	assert_string_equal(ask(*state, FRONTEND, "198.18.9.9", 80, NULL, &ok),
			    "deny_unknown_workload");
	assert_false(ok);
	/* No generation at all (deny-all could not be made): deny. */
	assert_string_equal(ask(NULL, FRONTEND, "198.18.2.2", 8080, NULL, &ok), "deny_all_policy");
	assert_false(ok);
	assert_string_equal(mg_dp_verdict_name(MG_PROXY_VERDICT_UPSTREAM_ID),
			    "deny_upstream_id_changed");
	assert_string_equal(mg_dp_verdict_name(MG_DP_VERDICTS), "unknown");
}

/* One request as a worker asks it: strings with lengths, network order, its index. */
static bool http(const void *gen, uint16_t worker, const char *method, const char *path,
		 const char **verdict, uint32_t *rule)
{
	struct mg_proxy_authz_req c = { .peer_id = PARTNER, .dst_ip = be_ip("198.18.2.2"),
					.dst_port = rte_cpu_to_be_16(8443) };
	struct mg_proxy_http_req r = { .conn = &c, .method = method, .host = "web.example.org",
				       .path = path, .method_len = (uint16_t)strlen(method),
				       .host_len = 15, .path_len = (uint16_t)strlen(path),
				       .worker = worker };
	uint16_t v = 0xeeee;
	bool ok = mg_dp_policy_env.authorize_http(gen, &r, &v, rule);

	assert_true(v < MG_PROXY_AUTHZ_MAX);
	*verdict = mg_dp_verdict_name(v);
	return ok;
}

static void http_requests_per_worker(void **state)
{
	const struct mg_gen *g = *state;
	const char *v;
	uint32_t rule, admin = MG_POLICY_NO_RULE, api = MG_POLICY_NO_RULE;
	uint64_t a, d;

	assert_true(http(g, 0, "GET", "/api/v1/items", &v, &rule));
	assert_string_equal(v, "allow");
	api = rule;
	assert_string_equal(mg_policy_rule_name(g->policy, api), "partner-api");
	assert_true(http(g, 1, "GET", "/health", &v, &rule));
	assert_false(http(g, 1, "GET", "/api/admin/users", &v, &rule));
	assert_string_equal(v, "deny_rule");
	admin = rule;
	assert_string_equal(mg_policy_rule_name(g->policy, admin), "partner-no-admin");
	assert_false(http(g, 0, "POST", "/api/v1/items", &v, &rule));
	assert_string_equal(v, "deny_no_rule");
	assert_int_equal(rule, MG_POLICY_NO_RULE);
	/* counted per rule, summed over both workers */
	mg_policy_l7_rule_counts(g->l7, api, &a, &d);
	assert_int_equal(a, 2);
	assert_int_equal(d, 0);
	mg_policy_l7_rule_counts(g->l7, admin, &a, &d);
	assert_int_equal(a, 0);
	assert_int_equal(d, 1);
	/* a worker the generation has no scratch for, and no generation: denied */
	assert_false(http(g, 2, "GET", "/health", &v, &rule));
	assert_string_equal(v, "deny_all_policy");
	assert_false(http(NULL, 0, "GET", "/health", &v, &rule));
	assert_string_equal(v, "deny_all_policy");
	/* the l7 settings: the policy's (defaults here), and defaults without a generation */
	assert_false(mg_dp_policy_env.l7_conf(g)->close_on_deny);
	assert_false(mg_dp_policy_env.l7_conf(g)->merge_slashes);
	assert_false(mg_dp_policy_env.l7_conf(g)->h2_downgrade);
	assert_non_null(mg_dp_policy_env.l7_conf(NULL));
	assert_false(mg_dp_policy_env.l7_conf(NULL)->h2_downgrade);
}

/* The policy's l7 group reaches the workers through the generation. */
static void l7_conf_from_the_policy(void **state)
{
	static const char text[] =
		TD2 "l7 = { on_deny = \"close\"; merge_slashes = true; h2 = \"downgrade\"; };\n";
	struct mg_policy_src *src = parse_ok(text, DATA);
	struct mg_policy *p = NULL;
	struct mg_gen *g;
	const struct mg_proxy_l7_conf *c;

	(void)state;
	assert_int_equal(mg_policy_compile(src, &p), 0);
	mg_policy_src_free(src);
	g = mg_gen_new(p);
	assert_non_null(g);
	assert_int_equal(mg_gen_build_l7(g, 0), 0); /* 0 workers: one scratch */
	c = mg_dp_policy_env.l7_conf(g);
	assert_true(c->close_on_deny);
	assert_true(c->merge_slashes);
	assert_true(c->h2_downgrade);
	mg_gen_free(g);
}

static void workload_behind_an_address_or_service(void **state)
{
	const struct mg_proxy_env *e = &mg_dp_policy_env;

	/* by address alone (a client's source) */
	assert_string_equal(e->workload_id(*state, be_ip("198.18.1.2"), 0), FRONTEND);
	/* a service address and port: the workload it maps to */
	assert_string_equal(e->workload_id(*state, be_ip("198.18.10.10"), rte_cpu_to_be_16(15432)),
			    "spiffe://example.org/ns/prod/sa/db");
	/* a workload's address and a port it serves */
	assert_string_equal(e->workload_id(*state, be_ip("198.18.2.3"), rte_cpu_to_be_16(9090)),
			    "spiffe://example.org/ns/prod/sa/web");
	assert_null(e->workload_id(*state, be_ip("198.18.7.7"), 0));
	assert_null(e->workload_id(NULL, be_ip("198.18.1.2"), 0));
	assert_int_equal(e->generation(*state), mg_policy_generation(mg_gen_policy(*state)));
	assert_int_equal(e->generation(NULL), 0);
	assert_null(e->tls_set(*state)); /* no SVIDs: no TLS state */
}

static int destroyed;

static void count_destroy(struct mg_tls_set *s)
{
	destroyed++;
	free(s);
}

/* The generation holds one reference; a handshake's job another; the last frees. */
static void tls_state_lives_until_the_last_reference(void **state)
{
	struct mg_tls_set *s = calloc(1, sizeof(*s));
	struct mg_gen *g = mg_gen_new(compile_path(DATA "/authz.conf"));

	(void)state;
	assert_non_null(g);
	s->refs = 1;
	s->destroy = count_destroy;
	g->tls = s;
	assert_ptr_equal(mg_dp_policy_env.tls_set(g), s);
	mg_tls_set_get(s); /* a job starts */
	destroyed = 0;
	mg_gen_free(g);     /* the generation retires */
	assert_int_equal(destroyed, 0);
	mg_tls_set_put(s);  /* the job ends */
	assert_int_equal(destroyed, 1);
	mg_tls_set_put(NULL);
	assert_null(mg_gen_new(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(verdicts_as_the_proxy_counts_them, setup, teardown),
		cmocka_unit_test_setup_teardown(http_requests_per_worker, setup, teardown),
		cmocka_unit_test(l7_conf_from_the_policy),
		cmocka_unit_test_setup_teardown(workload_behind_an_address_or_service, setup,
						teardown),
		cmocka_unit_test(tls_state_lives_until_the_last_reference),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
