/* SPDX-License-Identifier: BSD-3-Clause */
/* A published generation (gen.h). */
#include "gen.h"

#include <stdlib.h>

struct mg_gen *mg_gen_new(struct mg_policy *p)
{
	struct mg_gen *g;

	if (!p)
		return NULL;
	g = calloc(1, sizeof(*g));
	if (!g) {
		mg_policy_free(p);
		mg_error_set(MG_ERR_NOMEM, "no memory for a policy generation");
		return NULL;
	}
	g->policy = p;
	{
		struct mg_policy_l7_settings l7;

		mg_policy_l7_get(p, &l7);
		g->l7_conf = (struct mg_proxy_l7_conf){ .close_on_deny = l7.close_on_deny,
							.merge_slashes = l7.merge_slashes,
							.h2_downgrade = l7.h2_downgrade };
	}
	return g;
}

MG_RESULT mg_gen_build_l7(struct mg_gen *g, uint16_t workers)
{
	return mg_policy_l7_build(g->policy, workers ? workers : 1, &g->l7);
}

void mg_gen_free(void *gen)
{
	struct mg_gen *g = gen;

	if (!g)
		return;
	mg_tls_set_put(g->tls);
	mg_policy_l7_free(g->l7);
	mg_policy_free(g->policy);
	free(g);
}
