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
	return g;
}

void mg_gen_free(void *gen)
{
	struct mg_gen *g = gen;

	if (!g)
		return;
	mg_tls_set_put(g->tls);
	mg_policy_free(g->policy);
	free(g);
}
