/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * /meshgw/l7/rules: per-rule request verdicts of the active generation. The
 * workers count in the generation's L7 matcher (policy_l7.c), each in its own
 * table; this sums them. Rule names may hold '.' and '-', which telemetry
 * keys may not, so each rule is "INDEX/name", "INDEX/allowed", "INDEX/denied"
 * (INDEX: the rule's place in the generation's sorted rules).
 */
#include "telemetry_rules.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "gen.h"

#define RULES_PER_REPLY 64 /* 3 entries each within the 256 a dictionary holds */

/* How many to skip: 1..9 decimal digits, no sign, no leading zero. */
static int parse_skip(const char *params, unsigned long *skip)
{
	size_t n;

	*skip = 0;
	if (!params || !*params)
		return 0;
	n = strspn(params, "0123456789");
	if (n != strlen(params) || n > 9 || (params[0] == '0' && n > 1))
		return -EINVAL;
	*skip = strtoul(params, NULL, 10);
	return 0;
}

static void add_rule(struct rte_tel_data *d, const struct mg_policy *p,
		     const struct mg_policy_l7 *l7, uint32_t r)
{
	char key[32];
	uint64_t allowed, denied;

	mg_policy_l7_rule_counts(l7, r, &allowed, &denied);
	snprintf(key, sizeof(key), "%u/name", r);
	rte_tel_data_add_dict_string(d, key, mg_policy_rule_name(p, r));
	snprintf(key, sizeof(key), "%u/allowed", r);
	rte_tel_data_add_dict_u64(d, key, allowed);
	snprintf(key, sizeof(key), "%u/denied", r);
	rte_tel_data_add_dict_u64(d, key, denied);
}

int mg_tel_l7_rules(struct mg_gateway *gw, const char *params, struct rte_tel_data *d)
{
	const struct mg_policy *p;
	const struct mg_policy_l7 *l7;
	unsigned long skip, seen = 0;
	unsigned shown = 0;
	uint64_t next = 0;

	if (parse_skip(params, &skip) < 0)
		return -EINVAL;
	/* The loader swaps and frees generations under this lock. */
	pthread_mutex_lock(&gw->lock);
	p = mg_gen_policy(gw->pub.active);
	l7 = mg_gen_l7(gw->pub.active);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "generation", p ? mg_policy_generation(p) : 0);
	for (uint32_t r = 0; p && l7 && r < mg_policy_n_rules(p); r++) {
		if (!mg_policy_rule_has_http(p, r) || seen++ < skip)
			continue;
		if (shown == RULES_PER_REPLY) {
			next = seen - 1;
			break;
		}
		add_rule(d, p, l7, r);
		shown++;
	}
	rte_tel_data_add_dict_u64(d, "next", next);
	pthread_mutex_unlock(&gw->lock);
	return 0;
}
