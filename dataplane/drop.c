/* SPDX-License-Identifier: BSD-3-Clause */
#include "drop.h"

static const char *const drop_names[MG_DROP__COUNT] = {
#define _(sym, name, desc) [MG_DROP_##sym] = #name,
	foreach_mg_drop(_)
#undef _
};

static const char *const drop_descs[MG_DROP__COUNT] = {
#define _(sym, name, desc) [MG_DROP_##sym] = desc,
	foreach_mg_drop(_)
#undef _
};

const char *mg_drop_name(enum mg_drop d)
{
	return (unsigned)d < MG_DROP__COUNT ? drop_names[d] : "unknown";
}

const char *mg_drop_desc(enum mg_drop d)
{
	return (unsigned)d < MG_DROP__COUNT ? drop_descs[d] : "unknown";
}
