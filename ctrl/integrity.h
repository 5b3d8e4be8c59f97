/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Drift detection. Every integrity.interval_s the control thread checks that
 * the active snapshot's file still hashes to the digest that was verified, the
 * compiled policy arena is still sealed read-only and unchanged, and the meshgw
 * binary and gateway.conf on disk still hash to what they were at start. Any
 * difference is drift: an audit record, then exit 100 so the supervisor starts
 * a clean instance. (SVID files join the list with the mTLS listeners.)
 */
#ifndef MG_INTEGRITY_H
#define MG_INTEGRITY_H

#include <limits.h>
#include <stdint.h>

#include "mg_error.h"

struct mg_gateway;

#define foreach_mg_drift(_)                                            \
	_(SNAPSHOT_FILE, snapshot_file, "active snapshot file changed or unreadable") \
	_(POLICY_ARENA, policy_arena, "compiled policy no longer sealed or altered") \
	_(BINARY, binary, "meshgw binary on disk changed")             \
	_(CONFIG, config, "gateway.conf on disk changed")                \
	_(SVID, svid, "an SVID in memory is not the one loaded, or serves another ID")

enum mg_drift {
#define _(sym, name, desc) MG_DRIFT_##sym,
	foreach_mg_drift(_)
#undef _
	MG_DRIFT__COUNT
};

struct mg_integrity {
	char binary_path[PATH_MAX]; /* resolved at start: /proc/self/exe follows renames */
	uint64_t checks;
	uint64_t last_check_unix;
};

/** Remember where the binary lives (call once at start). */
MG_RESULT mg_integrity_init(struct mg_integrity *in);

/**
 * Run every check once. Returns 0 if all hold, else -1 with @p what set to
 * the first drift found and mg_errmsg() saying how.
 */
MG_RESULT mg_integrity_check(struct mg_integrity *in, struct mg_gateway *gw,
			     enum mg_drift *what);

const char *mg_drift_name(enum mg_drift d);

#endif /* MG_INTEGRITY_H */
