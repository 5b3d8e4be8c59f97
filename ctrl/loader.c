/* SPDX-License-Identifier: BSD-3-Clause */
#include "loader.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "filehash.h"
#include "fsutil.h"
#include "policy.h"

#define SNAPSHOT_FILE "active.msnap"
#define STAGED_SUFFIX ".new"
#define STATE_FILE "antirollback"

static const char *const refusal_names[MG_LOAD_REFUSED__COUNT] = {
#define _(sym, name, desc) [MG_LOAD_REFUSED_##sym] = #name,
	foreach_mg_load_refusal(_)
#undef _
};

const char *mg_load_refusal_name(enum mg_load_refusal r)
{
	return (unsigned)r < MG_LOAD_REFUSED__COUNT ? refusal_names[r] : "unknown";
}

/*
 * Two list entries holding one key (another file, another encoding) would
 * let one signer meet a threshold of two: refuse the configuration.
 */
static MG_RESULT check_distinct_keys(const struct mg_loader *l, const struct mg_config *cfg)
{
	size_t a, b;

	MG_ENSURE(!mg_key_find_same(l->trusted, l->n_trusted, &a, &b), CONFIG_VALUE,
		  "%s: trust.keys[%zu]: %s is the same key as trust.keys[%zu] (%s): one "
		  "signer would count twice toward the threshold; list each key once",
		  cfg->path, b, cfg->trust_keys[b], a, cfg->trust_keys[a]);
	return 0;
}

MG_RESULT mg_loader_init(struct mg_loader *l, const struct mg_config *cfg,
			 struct mg_audit *audit, struct mg_publish *pub)
{
	memset(l, 0, sizeof(*l));
	l->cfg = cfg;
	l->audit = audit;
	l->pub = pub;
	for (uint16_t i = 0; i < cfg->n_trust_keys; i++) {
		MG_ENSURE(mg_key_load_public(cfg->trust_keys[i], &l->trusted[i]) == 0, CONFIG_VALUE,
			  "%s: trust.keys[%u]: %s", cfg->path, i, mg_errmsg());
		l->n_trusted = i + 1u;
	}
	MG_GUARD(check_distinct_keys(l, cfg));
	MG_ENSURE(strlen(cfg->state_dir) + sizeof("/" SNAPSHOT_FILE) <= sizeof(l->snapshot_path) &&
		  strlen(cfg->state_dir) + sizeof("/" STATE_FILE) <= sizeof(l->state_path),
		  CONFIG_RANGE, "%s: state_dir: too long", cfg->path);
	memcpy(l->snapshot_path, cfg->state_dir, strlen(cfg->state_dir));
	strcat(l->snapshot_path, "/" SNAPSHOT_FILE);
	memcpy(l->state_path, cfg->state_dir, strlen(cfg->state_dir));
	strcat(l->state_path, "/" STATE_FILE);
	return 0;
}

void mg_loader_fini(struct mg_loader *l)
{
	for (size_t i = 0; i < l->n_trusted; i++)
		mg_key_free(l->trusted[i]);
	l->n_trusted = 0;
}

/* What one load attempt learned, for the audit record and the reply. */
struct attempt {
	const char *source;
	uint64_t now;
	struct mg_snapshot_view v;
	struct mg_snapshot_state cand;
	bool have_cand; /* framing passed: version and digest are known */
	struct mg_snapshot_verdict verdict;
	char digest_hex[65];
	char version[24];
};

static void alarm_line(const char *what, const char *detail)
{
	/* Alarms also go to stderr: the journal is watched by humans. */
	fprintf(stderr, "meshgw: ALARM: %s: %s\n", what, detail);
}

static enum mg_load_result refuse(struct mg_loader *l, struct attempt *a,
				  enum mg_load_refusal why, const char *detail,
				  char *reply, size_t reply_size)
{
	bool alarm = why == MG_LOAD_REFUSED_EQUIVOCATION || strcmp(a->source, "boot") == 0;

	l->refused[why]++;
	if (alarm) {
		l->alarms++;
		alarm_line(mg_load_refusal_name(why), detail);
	}
	if (l->audit &&
	    mg_audit_append(l->audit, "snapshot.refused", "source", a->source, "reason",
			    mg_load_refusal_name(why), "detail", detail, "version",
			    a->have_cand ? a->version : "-", "digest",
			    a->have_cand ? a->digest_hex : "-", "alarm", alarm ? "yes" : "no",
			    NULL) < 0)
		alarm_line("audit append failed", mg_errmsg());
	snprintf(reply, reply_size, "refused reason=%s detail=%s\n", mg_load_refusal_name(why),
		 detail);
	return MG_LOAD_REFUSED;
}

static void signer_list(const struct mg_snapshot_verdict *v, char *out, size_t size)
{
	size_t n = 0;

	out[0] = '\0';
	for (unsigned i = 0; i < v->n_valid && n + 18 < size; i++) {
		char hex[65];

		mg_hex(v->signers[i], MG_KEY_ID_LEN, hex);
		n += (size_t)snprintf(out + n, size - n, "%s%.16s", i ? "," : "", hex);
	}
}

/* Steps 1 and 2: framing within the cap, then k-of-n distinct trusted keys. */
static int check_envelope(struct mg_loader *l, struct attempt *a, const uint8_t *bytes,
			  size_t len, enum mg_load_refusal *why)
{
	if (mg_snapshot_parse(bytes, len, l->cfg->snapshot_max_bytes, &a->v) < 0) {
		*why = mg_errno() == MG_ERR_IO_TOO_BIG ? MG_LOAD_REFUSED_SIZE
						       : MG_LOAD_REFUSED_FRAMING;
		return -1;
	}
	if (mg_snapshot_digest(&a->v, a->cand.digest) < 0) {
		*why = MG_LOAD_REFUSED_FRAMING;
		return -1;
	}
	a->cand.version = a->v.meta.version;
	a->have_cand = true;
	mg_hex(a->cand.digest, MG_SNAPSHOT_DIGEST_LEN, a->digest_hex);
	snprintf(a->version, sizeof(a->version), "%" PRIu64, a->cand.version);
	if (l->n_trusted == 0) {
		mg_error_set(MG_ERR_PROTO_SIGNATURE, "no trusted keys in gateway.conf (trust.keys)");
		*why = MG_LOAD_REFUSED_SIGNATURES;
		return -1;
	}
	if (mg_snapshot_verify(&a->v, l->trusted, l->n_trusted, l->cfg->trust_threshold,
			       &a->verdict) < 0) {
		*why = MG_LOAD_REFUSED_SIGNATURES;
		return -1;
	}
	return 0;
}

/* Step 4: one clock read per load, taken by the caller. */
static int check_time(struct attempt *a, enum mg_load_refusal *why)
{
	if (mg_snapshot_check_time(&a->v, a->now) == 0)
		return 0;
	*why = mg_errno() == MG_ERR_PROTO_EXPIRED ? MG_LOAD_REFUSED_EXPIRED
						  : MG_LOAD_REFUSED_NOT_YET_VALID;
	return -1;
}

/* Step 5: parse and compile only what passed every check above. */
static int compile_policy(struct mg_loader *l, struct attempt *a, struct mg_policy **out,
			  enum mg_load_refusal *why)
{
	struct mg_policy_src *src = NULL;
	struct mg_policy *p = NULL;
	int rc = -1;

	*why = MG_LOAD_REFUSED_POLICY;
	if (mg_policy_parse((const char *)a->v.payload, a->v.payload_len, "policy", NULL,
			    &src) < 0)
		goto out;
	*why = MG_LOAD_REFUSED_COMPILE;
	if (mg_policy_compile(src, &p) < 0 ||
	    mg_policy_set_meta(p, a->cand.version, a->cand.digest, l->pub->generation + 1) < 0 ||
	    mg_policy_seal(p) < 0)
		goto out;
	*out = p;
	p = NULL;
	rc = 0;
out:
	if (p)
		mg_policy_free(p);
	mg_policy_src_free(src);
	return rc;
}

/* ...then wrap it as a generation with its TLS state. */
static int build_policy(struct mg_loader *l, struct attempt *a, struct mg_gen **out,
			enum mg_load_refusal *why)
{
	struct mg_policy *p = NULL;
	struct mg_gen *g;

	if (compile_policy(l, a, &p, why) < 0)
		return -1;
	g = mg_gen_new(p);
	if (!g || mg_gen_build_l7(g, l->workers) < 0) { /* a regex hyperscan refuses */
		mg_gen_free(g);
		return -1;
	}
	*why = MG_LOAD_REFUSED_TLS;
	if (l->attach && l->attach(l->attach_ctx, g) < 0) {
		mg_gen_free(g);
		return -1;
	}
	*out = g;
	return 0;
}

static int write_state(const char *path, const struct mg_snapshot_state *s)
{
	char hex[65], text[128];
	int n;

	mg_hex(s->digest, MG_SNAPSHOT_DIGEST_LEN, hex);
	n = snprintf(text, sizeof(text), "version %" PRIu64 "\ndigest %s\n", s->version, hex);
	return mg_snapshot_write_file(path, (const uint8_t *)text, (size_t)n);
}

static void staged_path(const struct mg_loader *l, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s", l->snapshot_path, STAGED_SUFFIX);
}

/* Step 6a: the new snapshot beside the active one; nothing is committed yet. */
static int stage(struct mg_loader *l, const uint8_t *bytes, size_t len)
{
	char staged[PATH_MAX + 8];

	staged_path(l, staged, sizeof(staged));
	return mg_snapshot_write_file(staged, bytes, len);
}

static void unstage(struct mg_loader *l)
{
	char staged[PATH_MAX + 8];

	staged_path(l, staged, sizeof(staged));
	unlink(staged);
}

/*
 * Step 6c: the anti-rollback state is the commit point; the rename of the
 * staged snapshot follows. A crash between the two leaves a staged file that
 * matches the state, and boot finishes the rename (roll_forward()).
 */
static int commit(struct mg_loader *l, const struct mg_snapshot_state *s)
{
	char staged[PATH_MAX + 8];

	staged_path(l, staged, sizeof(staged));
	MG_GUARD(write_state(l->state_path, s));
	if (rename(staged, l->snapshot_path) < 0 || mg_fsync_dir_of(l->snapshot_path) < 0) {
		int err = errno;

		/*
		 * Put the old state back so disk and memory agree on the active one;
		 * with nothing ever accepted, no state file must remain as a floor.
		 */
		if (l->floor.version ? write_state(l->state_path, &l->floor) < 0
				     : unlink(l->state_path) < 0 || mg_fsync_dir_of(l->state_path) < 0)
			alarm_line("could not restore the anti-rollback state", mg_errmsg());
		return mg_error_set(MG_ERR_IO, "%s: rename: %s", l->snapshot_path, strerror(err));
	}
	return 0;
}

static void publish(struct mg_loader *l, struct mg_gen *g)
{
	mg_publish_swap(l->pub, g);
}

static void become_active(struct mg_loader *l, const struct attempt *a)
{
	l->have_active = true;
	l->active = a->cand;
	l->floor = a->cand;
	l->meta = a->v.meta;
	l->n_signers = a->verdict.n_valid;
	memcpy(l->signers, a->verdict.signers, sizeof(l->signers));
	l->loaded_at = a->now;
	l->deny_cause = MG_DENY_NONE;
}

static int audit_accepted(struct mg_loader *l, const struct attempt *a, const char *type)
{
	char signers[MG_SNAPSHOT_MAX_SIGS * 18], nb[24], ex[24];

	if (!l->audit)
		return 0;
	signer_list(&a->verdict, signers, sizeof(signers));
	snprintf(nb, sizeof(nb), "%" PRIu64, a->v.meta.not_before);
	snprintf(ex, sizeof(ex), "%" PRIu64, a->v.meta.expires);
	return mg_audit_append(l->audit, type, "source", a->source, "version", a->version,
			       "digest", a->digest_hex, "signers", signers, "not_before", nb,
			       "expires", ex, NULL);
}

/* The version rule against the highest version ever accepted. */
static int check_version(struct mg_loader *l, struct attempt *a,
			 enum mg_snapshot_decision *d, enum mg_load_refusal *why)
{
	const struct mg_snapshot_state *floor = l->floor.version ? &l->floor : NULL;

	if (mg_snapshot_check_version(floor, &a->cand, d) == 0)
		return 0;
	*why = mg_errno() == MG_ERR_PROTO_EQUIVOCATION ? MG_LOAD_REFUSED_EQUIVOCATION
						       : MG_LOAD_REFUSED_ROLLBACK;
	return -1;
}

enum mg_load_result mg_loader_load(struct mg_loader *l, const uint8_t *bytes, size_t len,
				   const char *source, uint64_t now, char *reply,
				   size_t reply_size)
{
	struct attempt a = { .source = source, .now = now };
	enum mg_snapshot_decision d = MG_SNAPSHOT_ACCEPT;
	enum mg_load_refusal why;
	struct mg_gen *p = NULL;

	if (check_envelope(l, &a, bytes, len, &why) < 0 || check_version(l, &a, &d, &why) < 0)
		return refuse(l, &a, why, mg_errmsg(), reply, reply_size);
	if (d == MG_SNAPSHOT_NOOP && l->have_active) {
		l->unchanged++;
		if (l->audit && mg_audit_append(l->audit, "snapshot.unchanged", "source", source,
						"version", a.version, "digest", a.digest_hex,
						NULL) < 0)
			alarm_line("audit append failed", mg_errmsg());
		snprintf(reply, reply_size, "unchanged version=%s digest=%s\n", a.version,
			 a.digest_hex);
		return MG_LOAD_UNCHANGED;
	}
	if (check_time(&a, &why) < 0 || build_policy(l, &a, &p, &why) < 0)
		return refuse(l, &a, why, mg_errmsg(), reply, reply_size);
	/* Step 6: stage, audit, commit; any failure leaves disk and memory as they were. */
	why = MG_LOAD_REFUSED_PERSIST;
	if (stage(l, bytes, len) == 0) {
		why = MG_LOAD_REFUSED_AUDIT; /* a change the log cannot record is no change */
		if (audit_accepted(l, &a, "snapshot.accepted") == 0) {
			why = MG_LOAD_REFUSED_PERSIST;
			if (commit(l, &a.cand) == 0)
				why = MG_LOAD_REFUSED__COUNT;
		}
	}
	if (why != MG_LOAD_REFUSED__COUNT) {
		char detail[512];

		snprintf(detail, sizeof(detail), "%s", mg_errmsg());
		unstage(l);
		mg_gen_free(p);
		return refuse(l, &a, why, detail, reply, reply_size);
	}
	publish(l, p);
	become_active(l, &a);
	l->accepted++;
	snprintf(reply, reply_size, "accepted version=%s digest=%s\n", a.version, a.digest_hex);
	return MG_LOAD_ACCEPTED;
}

static void deny_all(struct mg_loader *l, enum mg_deny_all_cause cause, const char *why)
{
	static const uint8_t zero[MG_POLICY_DIGEST_LEN];
	struct mg_policy *p = NULL;

	if (mg_policy_deny_all(&p) < 0 ||
	    mg_policy_set_meta(p, 0, zero, l->pub->generation + 1) < 0 || mg_policy_seal(p) < 0) {
		/* Without memory for deny-all, publish nothing: workers deny on NULL. */
		if (p)
			mg_policy_free(p);
		p = NULL;
	}
	publish(l, mg_gen_new(p)); /* no TLS state: no trust domain, nothing verifies */
	l->have_active = false;
	l->deny_cause = cause;
	l->alarms++;
	alarm_line("deny-all policy active", why);
	if (l->audit &&
	    mg_audit_append(l->audit, "policy.deny_all", "cause", why, "alarm", "yes", NULL) < 0)
		alarm_line("audit append failed", mg_errmsg());
}

/* "version N\ndigest HEX\n"; anything else is an inconsistent state. */
static int read_state(const char *path, struct mg_snapshot_state *s)
{
	char hex[80];
	unsigned long long v;
	FILE *f = fopen(path, "re");
	int ok;

	memset(s, 0, sizeof(*s));
	if (!f)
		return errno == ENOENT ? 0 : -1;
	ok = fscanf(f, "version %llu\ndigest %64s\n", &v, hex) == 2 && strlen(hex) == 64;
	fclose(f);
	if (!ok)
		return -1;
	for (int i = 0; i < 32; i++) {
		unsigned b;

		if (sscanf(hex + 2 * i, "%2x", &b) != 1)
			return -1;
		s->digest[i] = (uint8_t)b;
	}
	s->version = v;
	return 0;
}

/* Boot's version rule: the persisted snapshot against the persisted state. */
static int check_boot_version(struct mg_loader *l, struct attempt *a)
{
	if (l->floor.version == 0 || a->cand.version > l->floor.version)
		return 0;
	if (a->cand.version < l->floor.version)
		return mg_error_set(MG_ERR_PROTO_ROLLBACK, "persisted snapshot version %" PRIu64
				    " is below the anti-rollback state %" PRIu64,
				    a->cand.version, l->floor.version);
	if (memcmp(a->cand.digest, l->floor.digest, MG_SNAPSHOT_DIGEST_LEN) != 0)
		return mg_error_set(MG_ERR_PROTO_EQUIVOCATION, "persisted snapshot digest differs "
				    "from the anti-rollback state at version %" PRIu64,
				    a->cand.version);
	return 0;
}

static int boot_load(struct mg_loader *l, struct attempt *a, const uint8_t *buf, size_t len)
{
	enum mg_load_refusal why;
	struct mg_gen *p = NULL;
	char reply[MG_AUDIT_LINE_MAX];

	if (check_envelope(l, a, buf, len, &why) < 0)
		return refuse(l, a, why, mg_errmsg(), reply, sizeof(reply)), -1;
	if (check_boot_version(l, a) < 0)
		return refuse(l, a, mg_errno() == MG_ERR_PROTO_ROLLBACK ? MG_LOAD_REFUSED_ROLLBACK
			      : MG_LOAD_REFUSED_EQUIVOCATION, mg_errmsg(), reply, sizeof(reply)), -1;
	if (check_time(a, &why) < 0 || build_policy(l, a, &p, &why) < 0)
		return refuse(l, a, why, mg_errmsg(), reply, sizeof(reply)), -1;
	/* A crash between the two renames left the state behind: catch it up. */
	if (a->cand.version > l->floor.version && write_state(l->state_path, &a->cand) < 0) {
		mg_gen_free(p);
		return refuse(l, a, MG_LOAD_REFUSED_PERSIST, mg_errmsg(), reply, sizeof(reply)), -1;
	}
	if (audit_accepted(l, a, "snapshot.loaded") < 0)
		alarm_line("audit append failed", mg_errmsg());
	publish(l, p);
	become_active(l, a);
	return 0;
}

/*
 * A staged snapshot left by a crash: committed (it matches the state) means
 * finish the rename; otherwise the change never happened and it goes.
 */
static void roll_forward(struct mg_loader *l)
{
	char staged[PATH_MAX + 8];
	struct mg_snapshot_view v;
	struct mg_snapshot_state s;
	uint8_t *buf = NULL;
	size_t len = 0;
	bool committed = false;

	staged_path(l, staged, sizeof(staged));
	if (access(staged, F_OK) != 0)
		return;
	if (l->floor.version &&
	    mg_snapshot_read_file(staged, l->cfg->snapshot_max_bytes, &buf, &len) == 0 &&
	    mg_snapshot_parse(buf, len, l->cfg->snapshot_max_bytes, &v) == 0 &&
	    mg_snapshot_digest(&v, s.digest) == 0)
		committed = v.meta.version == l->floor.version &&
			    memcmp(s.digest, l->floor.digest, sizeof(s.digest)) == 0;
	free(buf);
	if (committed && rename(staged, l->snapshot_path) == 0 && mg_fsync_dir_of(staged) == 0)
		return;
	unlink(staged);
	/* Its "snapshot.accepted" record may stand in the log: say it never took effect. */
	if (l->audit && mg_audit_append(l->audit, "snapshot.discarded", "reason",
					"staged but not committed before a crash", NULL) < 0)
		alarm_line("audit append failed", mg_errmsg());
}

/*
 * Temporary files a crash left mid-write (mg_snapshot_write_file's
 * "<file>.tmp.XXXXXX"): never part of any state, and snapshot-sized.
 */
static void remove_crash_leftovers(struct mg_loader *l)
{
	const char *bases[] = { SNAPSHOT_FILE ".tmp.", SNAPSHOT_FILE STAGED_SUFFIX ".tmp.",
				STATE_FILE ".tmp." };
	DIR *d = opendir(l->cfg->state_dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)) != NULL)
		for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++)
			if (strncmp(de->d_name, bases[i], strlen(bases[i])) == 0)
				unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
}

void mg_loader_boot(struct mg_loader *l, uint64_t now)
{
	struct attempt a = { .source = "boot", .now = now };
	uint8_t *buf = NULL;
	size_t len = 0;

	if (read_state(l->state_path, &l->floor) < 0) {
		deny_all(l, MG_DENY_BOOT_REFUSED, "anti-rollback state unreadable or malformed");
		return;
	}
	remove_crash_leftovers(l);
	roll_forward(l);
	if (mg_snapshot_read_file(l->snapshot_path, l->cfg->snapshot_max_bytes, &buf, &len) < 0) {
		bool missing = mg_errno() == MG_ERR_IO && access(l->snapshot_path, F_OK) != 0;

		deny_all(l, missing ? MG_DENY_NO_SNAPSHOT : MG_DENY_BOOT_REFUSED,
			 missing ? "no persisted snapshot" : "persisted snapshot unreadable");
		return;
	}
	if (boot_load(l, &a, buf, len) < 0)
		deny_all(l, MG_DENY_BOOT_REFUSED, "persisted snapshot refused at boot");
	free(buf);
}

void mg_loader_tick(struct mg_loader *l, uint64_t now)
{
	/* Valid while not_before <= now < expires, as mg_snapshot_check_time() says. */
	if (l->have_active && now >= l->meta.expires)
		deny_all(l, MG_DENY_EXPIRED, "active snapshot expired");
}
