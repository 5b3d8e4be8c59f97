/* SPDX-License-Identifier: BSD-3-Clause */
#include "stage.h"

static const char *const stage_names[MG_STAGE__COUNT] = {
#define _(u, l, d) [MG_STAGE_##u] = #l,
	foreach_mg_stage(_)
#undef _
};

const char *mg_stage_name(enum mg_stage s)
{
	return (unsigned)s < MG_STAGE__COUNT ? stage_names[s] : "unknown";
}
