/* SPDX-License-Identifier: BSD-3-Clause */
#include "integrity.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "filehash.h"
#include "gateway.h"
#include "policy.h"

static const char *const drift_names[MG_DRIFT__COUNT] = {
#define _(sym, name, desc) [MG_DRIFT_##sym] = #name,
	foreach_mg_drift(_)
#undef _
};

const char *mg_drift_name(enum mg_drift d)
{
	return (unsigned)d < MG_DRIFT__COUNT ? drift_names[d] : "unknown";
}

MG_RESULT mg_integrity_init(struct mg_integrity *in)
{
	ssize_t n;

	memset(in, 0, sizeof(*in));
	n = readlink("/proc/self/exe", in->binary_path, sizeof(in->binary_path) - 1);
	MG_ENSURE(n > 0, IO, "cannot resolve /proc/self/exe");
	in->binary_path[n] = '\0';
	return 0;
}

static MG_RESULT same_file_hash(const char *path, const uint8_t want[32], const char *what)
{
	uint8_t got[32];

	MG_GUARD(mg_file_sha256(path, got));
	MG_ENSURE(memcmp(got, want, 32) == 0, INTERNAL, "%s %s no longer hashes to its "
		  "value at start", what, path);
	return 0;
}

/* The persisted bytes must still be the snapshot whose signatures were checked. */
static MG_RESULT snapshot_file_intact(const struct mg_loader *l)
{
	struct mg_snapshot_view v;
	uint8_t digest[MG_SNAPSHOT_DIGEST_LEN], *buf = NULL;
	size_t len = 0;
	int rc = 0;

	if (!l->have_active)
		return 0;
	MG_GUARD(mg_snapshot_read_file(l->snapshot_path, l->cfg->snapshot_max_bytes, &buf, &len));
	MG_ENSURE_GOTO(mg_snapshot_parse(buf, len, l->cfg->snapshot_max_bytes, &v) == 0 &&
		       mg_snapshot_digest(&v, digest) == 0, out, INTERNAL,
		       "%s: no longer a well-framed snapshot", l->snapshot_path);
	MG_ENSURE_GOTO(memcmp(digest, l->active.digest, sizeof(digest)) == 0, out, INTERNAL,
		       "%s: digest differs from the active snapshot's", l->snapshot_path);
out:
	free(buf);
	return rc;
}

MG_RESULT mg_integrity_check(struct mg_integrity *in, struct mg_gateway *gw,
			     enum mg_drift *what)
{
	const struct mg_policy *p = mg_gen_policy(gw->pub.active);

	in->checks++;
	in->last_check_unix = (uint64_t)time(NULL);
	*what = MG_DRIFT_SNAPSHOT_FILE;
	MG_GUARD(snapshot_file_intact(&gw->loader));
	*what = MG_DRIFT_POLICY_ARENA;
	/* The control thread is the only writer of the pointer: no RCU needed here. */
	if (p)
		MG_GUARD(mg_policy_check(p));
	*what = MG_DRIFT_BINARY;
	MG_GUARD(same_file_hash(in->binary_path, gw->binary_sha256, "binary"));
	*what = MG_DRIFT_CONFIG;
	MG_GUARD(same_file_hash(gw->cfg.path, gw->config_sha256, "config"));
	*what = MG_DRIFT_SVID;
	MG_GUARD(mg_gw_tls_check_identities(gw));
	return 0;
}
