/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The data path's questions to the policy (proxy.h, struct mg_proxy_env):
 * the workers live on a floor below the policy's code, so the gateway hands
 * them these functions. Each gets the generation the worker's loop read
 * (gen.h) and does not keep it.
 */
#include "dp_policy.h"

#include <rte_byteorder.h>

#include "gen.h"

static enum mg_proxy_admit dp_authorize(const void *gen, const struct mg_proxy_authz_req *r,
				       uint16_t *verdict, uint32_t *rule)
{
	const struct mg_policy *p = mg_gen_policy(gen);
	enum mg_authz a;

	*rule = MG_POLICY_NO_RULE;
	if (!p) {
		*verdict = MG_AUTHZ_DENY_ALL_POLICY;
		return MG_PROXY_DENY;
	}
	if (!r->peer_id) {
		*verdict = MG_DP_VERDICT_NO_WORKLOAD;
		return MG_PROXY_DENY;
	}
	a = mg_policy_authorize(p, r->peer_id, rte_be_to_cpu_32(r->dst_ip),
				rte_be_to_cpu_16(r->dst_port), r->image, rule);
	*verdict = (uint16_t)a;
	/* ALLOW_L7: the proxy checks each request with dp_authorize_http(). */
	return a == MG_AUTHZ_ALLOW ? MG_PROXY_ALLOW
	       : a == MG_AUTHZ_ALLOW_L7 ? MG_PROXY_ALLOW_L7 : MG_PROXY_DENY;
}

/* One request of an ALLOW_L7 connection, on worker r->worker's scratch and counters. */
static bool dp_authorize_http(const void *gen, const struct mg_proxy_http_req *r,
			      uint16_t *verdict, uint32_t *rule)
{
	const struct mg_policy *p = mg_gen_policy(gen);
	const struct mg_proxy_authz_req *c = r->conn;
	struct mg_policy_http_req q = { r->method, r->host, r->path, r->method_len,
					r->host_len, r->path_len };
	enum mg_authz a;

	*rule = MG_POLICY_NO_RULE;
	if (!p || !c->peer_id) {
		*verdict = p ? MG_DP_VERDICT_NO_WORKLOAD : MG_AUTHZ_DENY_ALL_POLICY;
		return false;
	}
	a = mg_policy_authorize_http(p, mg_gen_l7(gen), r->worker, c->peer_id,
				     rte_be_to_cpu_32(c->dst_ip), rte_be_to_cpu_16(c->dst_port),
				     c->image, &q, rule);
	*verdict = (uint16_t)a;
	return a == MG_AUTHZ_ALLOW;
}

static const struct mg_proxy_l7_conf *dp_l7_conf(const void *gen)
{
	static const struct mg_proxy_l7_conf defaults; /* keep, no merging, refuse h2 */

	return gen ? &((const struct mg_gen *)gen)->l7_conf : &defaults;
}

static const char *dp_workload_id(const void *gen, uint32_t ip, uint16_t port)
{
	const struct mg_policy *p = mg_gen_policy(gen);
	uint32_t w;
	uint16_t target;
	int32_t wi;

	if (!p)
		return NULL;
	if (port && mg_policy_resolve(p, rte_be_to_cpu_32(ip), rte_be_to_cpu_16(port), &w,
				      &target) == MG_AUTHZ_ALLOW)
		return mg_policy_workload_spiffe_id(p, w);
	wi = mg_policy_workload_by_addr(p, rte_be_to_cpu_32(ip));
	return wi < 0 ? NULL : mg_policy_workload_spiffe_id(p, (uint32_t)wi);
}

static struct mg_tls_set *dp_tls_set(const void *gen)
{
	return mg_gen_tls(gen);
}

static uint64_t dp_generation(const void *gen)
{
	const struct mg_policy *p = mg_gen_policy(gen);

	return p ? mg_policy_generation(p) : 0;
}

const struct mg_proxy_env mg_dp_policy_env = {
	.authorize = dp_authorize,
	.authorize_http = dp_authorize_http,
	.l7_conf = dp_l7_conf,
	.workload_id = dp_workload_id,
	.tls_set = dp_tls_set,
	.generation = dp_generation,
};

const char *mg_dp_verdict_name(uint16_t v)
{
	if (v < MG_AUTHZ__COUNT)
		return mg_authz_name((enum mg_authz)v);
	if (v == MG_DP_VERDICT_NO_WORKLOAD)
		return "deny_no_workload_at_source";
	if (v == MG_PROXY_VERDICT_UPSTREAM_ID)
		return "deny_upstream_id_changed";
	return "unknown";
}
