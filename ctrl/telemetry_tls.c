/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * /meshgw/tls and /meshgw/peers: what the mTLS listeners did (handshakes,
 * verdicts by reason, SVID refusals by reason, records), the node's SVIDs,
 * and who is connected through which rule.
 */
#include "telemetry_tls.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>

#include "dp_policy.h"
#include "gateway.h"
#include "telemetry_sum.h"
#include "tls_gen.h"


static void svids(struct rte_tel_data *d, const struct mg_gateway *gw)
{
	char key[96];

	for (uint16_t i = 0; i < gw->cfg.n_svids; i++) {
		const struct mg_gw_svid *s = &gw->tls.svid[i];
		const char *name = gw->cfg.svids[i].name;

		snprintf(key, sizeof(key), "svid/%s/loaded", name);
		rte_tel_data_add_dict_u64(d, key, s->loaded);
		snprintf(key, sizeof(key), "svid/%s/spiffe_id", name);
		rte_tel_data_add_dict_string(d, key, s->loaded ? s->f.id.id : "");
		snprintf(key, sizeof(key), "svid/%s/not_after", name);
		rte_tel_data_add_dict_u64(d, key, s->loaded ? (uint64_t)s->f.id.not_after : 0);
		snprintf(key, sizeof(key), "svid/%s/expiring", name);
		rte_tel_data_add_dict_u64(d, key, s->expiring);
		snprintf(key, sizeof(key), "svid/%s/error", name);
		rte_tel_data_add_dict_string(d, key, s->error);
	}
}

int mg_tel_tls(struct mg_gateway *gw, const char *params, struct rte_tel_data *d)
{
	char key[96];

	if (params && *params)
		return -EINVAL;
	pthread_mutex_lock(&gw->lock);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "handshakes_active", SUM(gw, w->proxy.st.handshakes_active));
	rte_tel_data_add_dict_u64(d, "handshake_cycles", SUM(gw, w->proxy.st.hs_cycles));
	for (uint16_t v = 0; v < MG_DP_VERDICTS; v++) {
		snprintf(key, sizeof(key), "authz/%s", mg_dp_verdict_name(v));
		rte_tel_data_add_dict_u64(d, key, SUM(gw, w->proxy.st.authz[v]));
	}
	for (int r = 1; r < MG_SVID__COUNT; r++) {
		snprintf(key, sizeof(key), "svid_refused/%s", mg_svid_reason_name(r));
		rte_tel_data_add_dict_u64(d, key, SUM(gw, w->proxy.st.svid[r]));
	}
	for (int e = 1; e < MG_TLS_HS_ERR__COUNT; e++) {
		snprintf(key, sizeof(key), "handshake_error/%s", mg_tls_hs_error_name(e));
		rte_tel_data_add_dict_u64(d, key, SUM(gw, w->proxy.st.tls_errors[e]));
	}
	for (int e = 1; e < MG_TLS_REC__COUNT; e++) {
		snprintf(key, sizeof(key), "record_error/%s", mg_tls_record_error_name(e));
		rte_tel_data_add_dict_u64(d, key, SUM(gw, w->proxy.st.records[e]));
	}
	{
		struct mg_tls_alpn_stats a;

		mg_tls_alpn_stats(&a);
		rte_tel_data_add_dict_u64(d, "alpn_http11", a.http11);
		rte_tel_data_add_dict_u64(d, "alpn_h2_downgraded", a.h2_downgraded);
		rte_tel_data_add_dict_u64(d, "alpn_refused", a.refused);
		rte_tel_data_add_dict_u64(d, "alpn_unselected", a.unselected);
	}
	rte_tel_data_add_dict_u64(d, "events/audited", gw->tls.events_audited);
	rte_tel_data_add_dict_u64(d, "events/suppressed", gw->tls.events_suppressed);
	rte_tel_data_add_dict_u64(d, "events/lost", SUM(gw, w->stats.events_lost));
	rte_tel_data_add_dict_u64(d, "svid_rotations", gw->tls.rotations);
	rte_tel_data_add_dict_u64(d, "svid_refusals", gw->tls.svid_refusals);
	svids(d, gw);
	pthread_mutex_unlock(&gw->lock);
	return 0;
}

/* One pair as "WORKER.INDEX/field" entries. */
static void add_pair(struct rte_tel_data *d, uint16_t w, uint32_t i,
		     const struct mg_proxy_conn_info *c, const struct mg_gateway *gw)
{
	static const char *const phases[] = { "opening", "established", "closing" };
	const struct mg_policy *pol = mg_gen_policy(gw->pub.active);
	const char *rule = pol ? mg_policy_rule_name(pol, c->rule) : NULL;
	uint8_t *ip = (uint8_t *)(uintptr_t)&c->client_ip;
	char key[64], val[48];

	snprintf(key, sizeof(key), "%u_%u/listener", w, i);
	rte_tel_data_add_dict_string(d, key, gw->cfg.listeners[c->listener].name);
	snprintf(key, sizeof(key), "%u_%u/client", w, i);
	snprintf(val, sizeof(val), "%u.%u.%u.%u:%u", ip[0], ip[1], ip[2], ip[3],
		 rte_be_to_cpu_16(c->client_port));
	rte_tel_data_add_dict_string(d, key, val);
	snprintf(key, sizeof(key), "%u_%u/peer_id", w, i);
	rte_tel_data_add_dict_string(d, key, c->peer_id[0] ? c->peer_id : "(by address)");
	snprintf(key, sizeof(key), "%u_%u/rule", w, i);
	rte_tel_data_add_dict_string(d, key, rule ? rule : "-");
	snprintf(key, sizeof(key), "%u_%u/generation", w, i);
	rte_tel_data_add_dict_u64(d, key, c->generation);
	snprintf(key, sizeof(key), "%u_%u/state", w, i);
	rte_tel_data_add_dict_string(d, key, phases[c->phase % 3]);
	if (!c->l7)
		return;
	snprintf(key, sizeof(key), "%u_%u/requests", w, i);
	rte_tel_data_add_dict_u64(d, key, c->requests);
	snprintf(key, sizeof(key), "%u_%u/denied", w, i);
	rte_tel_data_add_dict_u64(d, key, c->denied);
}

#define PEERS_PER_REPLY 32 /* 6 entries each, 8 for L7 pairs: see fits() */
#define PAIR_ENTRIES(c) ((c)->l7 ? 8u : 6u)

int mg_tel_peers(struct mg_gateway *gw, const char *params, struct rte_tel_data *d)
{
	unsigned long skip = 0;
	unsigned shown = 0, seen = 0, entries = 0;

	/* How many to skip: 1..9 decimal digits, no sign, no leading zero. */
	if (params && *params) {
		size_t n = strspn(params, "0123456789");

		if (n != strlen(params) || n > 9 || (params[0] == '0' && n > 1))
			return -EINVAL;
		skip = strtoul(params, NULL, 10);
	}
	pthread_mutex_lock(&gw->lock);
	rte_tel_data_start_dict(d);
	for (uint16_t w = 0; w < gw->n_workers; w++) {
		const struct mg_proxy *px = &gw->workers[w]->proxy;

		for (uint32_t i = 0; gw->workers[w]->tcp_on && i < px->max_pairs; i++) {
			struct mg_proxy_conn_info c;

			if (!mg_proxy_conn_info(px, i, &c) || seen++ < skip)
				continue;
			/* a page ends early rather than overflow the dictionary ("next" included) */
			if (shown == PEERS_PER_REPLY ||
			    entries + PAIR_ENTRIES(&c) + 1 > RTE_TEL_MAX_DICT_ENTRIES) {
				rte_tel_data_add_dict_u64(d, "next", seen - 1);
				pthread_mutex_unlock(&gw->lock);
				return 0;
			}
			add_pair(d, w, i, &c, gw);
			entries += PAIR_ENTRIES(&c);
			shown++;
		}
	}
	rte_tel_data_add_dict_u64(d, "next", 0);
	pthread_mutex_unlock(&gw->lock);
	return 0;
}
