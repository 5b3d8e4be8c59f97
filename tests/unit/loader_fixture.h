/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The fixture of the loader's tests (test_loader: the rules; test_loader_boot:
 * persisting, auditing, boot and expiry): real keys, a real audit log and a
 * real RCU publisher, snapshot builders, and the checks every refusal gets.
 *
 * The publisher has one worker slot that no thread ever registers, so
 * rte_rcu_qsbr_synchronize() returns at once.
 */
#ifndef MG_TESTS_LOADER_FIXTURE_H
#define MG_TESTS_LOADER_FIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_eal.h>

#include "audit.h"
#include "config.h"
#include "filehash.h"
#include "keys.h"
#include "loader.h"
#include "policy.h"
#include "publish.h"
#include "snapshot.h"

#define DATA "../data/loader/"
#define NOW 1800000000ull       /* 2027-01-15: every load in this file happens then */
#define NB (NOW - 3600)         /* default not-before */
#define EXP (NOW + 86400)       /* default expiry */
#define BIG (100u << 20)        /* the "100 MB file" */
#define BIG_BUDGET_NS 50000000ull

/* ---- fixture ------------------------------------------------------------- */

/* Keys a, b, c are trusted (2 of 3); d is not. */
enum { KA, KB, KC, KD, N_KEYS };
static struct mg_key *keys[N_KEYS];
static char keydir[64];

struct payload {
	char *text;
	size_t len;
};
static struct payload pa, pb, pbad, punknown;

struct env {
	char dir[64];
	char state[128];
	char audit_path[128];
	struct mg_config cfg;
	struct mg_audit *audit;
	struct mg_publish pub;
	struct mg_loader l;
	char reply[512]; /* as the control socket's MG_CONTROL_REPLY_MAX */
};
static struct env E;

/* What a refusal must leave exactly as it was. */
struct active {
	bool have;
	struct mg_snapshot_state st, floor;
	const void *pub_active;
	uint64_t generation, accepted, unchanged;
	enum mg_deny_all_cause cause;
};

static inline void read_payload(const char *name, struct payload *p)
{
	char path[128];

	snprintf(path, sizeof(path), DATA "%s", name);
	if (mg_snapshot_read_file(path, 1 << 20, (uint8_t **)&p->text, &p->len) < 0)
		fail_msg("%s", mg_errmsg());
}

static inline int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static inline void rm_rf(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static inline int group_setup(void **state)
{
	(void)state;
	snprintf(keydir, sizeof(keydir), "/tmp/mg-test-loader-keys-XXXXXX");
	if (!mkdtemp(keydir))
		return -1;
	for (int i = 0; i < N_KEYS; i++) {
		char priv[128], pub[128];

		snprintf(priv, sizeof(priv), "%s/%c.key", keydir, 'a' + i);
		snprintf(pub, sizeof(pub), "%s/%c.pub", keydir, 'a' + i);
		/* c is P-256, so both algorithms sit in one trust list. */
		if (mg_key_generate(i == KC ? MG_KEY_P256 : MG_KEY_ED25519, &keys[i]) < 0 ||
		    mg_key_write(keys[i], priv, pub) < 0)
			return -1;
	}
	read_payload("policy-a.conf", &pa);
	read_payload("policy-b.conf", &pb);
	read_payload("bad-syntax.conf", &pbad);
	read_payload("unknown-field.conf", &punknown);
	return 0;
}

static inline int group_teardown(void **state)
{
	(void)state;
	for (int i = 0; i < N_KEYS; i++)
		mg_key_free(keys[i]);
	free(pa.text);
	free(pb.text);
	free(pbad.text);
	free(punknown.text);
	rm_rf(keydir);
	return 0;
}

static inline void free_policy(void *p)
{
	mg_gen_free(p); /* the loader publishes generations (gen.h) */
}

static inline void loader_start(void)
{
	if (mg_loader_init(&E.l, &E.cfg, E.audit, &E.pub) < 0)
		fail_msg("mg_loader_init: %s", mg_errmsg());
}

/* A fresh state dir, audit log, publisher and loader; nothing booted. */
static inline int setup_bare(void **state)
{
	(void)state;
	memset(&E, 0, sizeof(E));
	snprintf(E.dir, sizeof(E.dir), "/tmp/mg-test-loader-XXXXXX");
	if (!mkdtemp(E.dir))
		return -1;
	snprintf(E.state, sizeof(E.state), "%s/state", E.dir);
	snprintf(E.audit_path, sizeof(E.audit_path), "%s/audit.log", E.dir);
	if (mkdir(E.state, 0700) < 0)
		return -1;
	mg_config_defaults(&E.cfg);
	snprintf(E.cfg.path, sizeof(E.cfg.path), "test_loader.conf");
	snprintf(E.cfg.state_dir, sizeof(E.cfg.state_dir), "%s", E.state);
	snprintf(E.cfg.audit_log, sizeof(E.cfg.audit_log), "%s", E.audit_path);
	E.cfg.n_trust_keys = 3;
	for (int i = 0; i < 3; i++)
		snprintf(E.cfg.trust_keys[i], PATH_MAX, "%s/%c.pub", keydir, 'a' + i);
	E.cfg.trust_threshold = 2;
	E.cfg.snapshot_max_bytes = MG_SNAPSHOT_DEFAULT_CAP;
	if (mg_audit_open(E.audit_path, NULL, &E.audit) < 0 ||
	    mg_publish_init(&E.pub, 1, NULL, free_policy) < 0)
		return -1;
	loader_start();
	return 0;
}

/* As the gateway starts: boot first (no files: deny-all), then loads. */
static inline int setup_booted(void **state)
{
	if (setup_bare(state) < 0)
		return -1;
	mg_loader_boot(&E.l, NOW);
	return E.l.deny_cause == MG_DENY_NO_SNAPSHOT ? 0 : -1;
}

static inline int teardown(void **state)
{
	struct mg_audit_report r;
	int rc;

	(void)state;
	mg_loader_fini(&E.l);
	mg_publish_fini(&E.pub);
	mg_audit_close(E.audit);
	/* Whatever a case did, the audit chain it left must verify. */
	rc = mg_audit_verify(E.audit_path, NULL, NULL, NULL, &r);
	if (rc < 0)
		fprintf(stderr, "audit log does not verify: %s\n", mg_errmsg());
	rm_rf(E.dir);
	return rc;
}

/* ---- snapshots ------------------------------------------------------------ */

static inline void sign_with(uint8_t **buf, size_t *len, const struct mg_key *k)
{
	struct mg_snapshot_view v;
	uint8_t *out;
	size_t n;

	assert_int_equal(mg_snapshot_parse(*buf, *len, SIZE_MAX, &v), 0);
	assert_int_equal(mg_snapshot_sign(&v, k, &out, &n), 0);
	free(*buf);
	*buf = out;
	*len = n;
}

/* Build @p p at @p version, valid [nb, exp), signed by the keys named in @p who ("ab"). */
static inline void snap_full(const struct payload *p, uint64_t version, uint64_t nb, uint64_t exp,
		      const char *who, uint8_t **buf, size_t *len)
{
	struct mg_snapshot_meta m = { .version = version, .not_before = nb, .expires = exp };

	assert_int_equal(mg_snapshot_build((const uint8_t *)p->text, p->len, &m, buf, len), 0);
	for (; *who; who++)
		sign_with(buf, len, keys[*who - 'a']);
}

static inline void snap(const struct payload *p, uint64_t version, const char *who, uint8_t **buf,
		 size_t *len)
{
	snap_full(p, version, NB, EXP, who, buf, len);
}

static inline void digest_of(const uint8_t *buf, size_t len, uint8_t out[32])
{
	struct mg_snapshot_view v;

	assert_int_equal(mg_snapshot_parse(buf, len, SIZE_MAX, &v), 0);
	assert_int_equal(mg_snapshot_digest(&v, out), 0);
}

static enum mg_load_result load_at(const uint8_t *buf, size_t len, uint64_t now)
{
	memset(E.reply, 0, sizeof(E.reply));
	return mg_loader_load(&E.l, buf, len, "test", now, E.reply, sizeof(E.reply));
}

static enum mg_load_result load(const uint8_t *buf, size_t len)
{
	return load_at(buf, len, NOW);
}

/* ---- expectations ---------------------------------------------------------- */

static inline struct active active_now(void)
{
	struct active a = {
		.have = E.l.have_active,
		.st = E.l.active,
		.floor = E.l.floor,
		.pub_active = E.pub.active,
		.generation = E.pub.generation,
		.accepted = E.l.accepted,
		.unchanged = E.l.unchanged,
		.cause = E.l.deny_cause,
	};

	return a;
}

static inline void assert_active_is(const struct active *a)
{
	struct active b = active_now();

	assert_int_equal(b.have, a->have);
	assert_int_equal(b.st.version, a->st.version);
	assert_memory_equal(b.st.digest, a->st.digest, 32);
	assert_int_equal(b.floor.version, a->floor.version);
	assert_memory_equal(b.floor.digest, a->floor.digest, 32);
	assert_ptr_equal(b.pub_active, a->pub_active);
	assert_int_equal(b.generation, a->generation);
	assert_int_equal(b.accepted, a->accepted);
	assert_int_equal(b.unchanged, a->unchanged);
	assert_int_equal(b.cause, a->cause);
}

static inline uint64_t refused_total(void)
{
	uint64_t n = 0;

	for (int r = 0; r < MG_LOAD_REFUSED__COUNT; r++)
		n += E.l.refused[r];
	return n;
}

static enum mg_load_refusal refusal_by_name(const char *name)
{
	for (int r = 0; r < MG_LOAD_REFUSED__COUNT; r++)
		if (strcmp(mg_load_refusal_name(r), name) == 0)
			return r;
	fail_msg("no refusal named %s", name);
	return MG_LOAD_REFUSED__COUNT;
}

/* The last record of the audit log ("" if none), newline stripped. */
static inline void audit_line(int from_end, char *out, size_t size)
{
	uint8_t *buf = NULL;
	size_t len = 0, end;

	out[0] = '\0';
	assert_int_equal(mg_snapshot_read_file(E.audit_path, 64 << 20, &buf, &len), 0);
	assert_true(len > 0 && buf[len - 1] == '\n');
	end = len - 1;
	for (int k = 0;; k++) {
		size_t start = end;

		while (start > 0 && buf[start - 1] != '\n')
			start--;
		if (k == from_end) {
			snprintf(out, size, "%.*s", (int)(end - start), (const char *)buf + start);
			break;
		}
		if (start == 0)
			break;
		end = start - 1;
	}
	free(buf);
}

/* The @p from_end-th last record has @p type and, if given, " reason=@p reason". */
static inline void assert_audit_at(int from_end, const char *type, const char *reason)
{
	char line[MG_AUDIT_LINE_MAX], want[96];

	audit_line(from_end, line, sizeof(line));
	snprintf(want, sizeof(want), " %s prev=", type);
	if (!strstr(line, want))
		fail_msg("audit record -%d is not a %s record: %s", from_end, type, line);
	if (reason) {
		snprintf(want, sizeof(want), " reason=%s ", reason);
		if (!strstr(line, want))
			fail_msg("audit record -%d lacks reason=%s: %s", from_end, reason, line);
	}
}

static inline void assert_audit(const char *type, const char *reason)
{
	assert_audit_at(0, type, reason);
}

static inline void assert_audit_has(const char *field)
{
	char line[MG_AUDIT_LINE_MAX];

	audit_line(0, line, sizeof(line));
	if (!strstr(line, field))
		fail_msg("last audit record lacks '%s': %s", field, line);
}

/* A refusal for @p reason, and nothing else changed. */
static inline void assert_refused(enum mg_load_result rc, const char *reason, const struct active *was)
{
	char prefix[64];
	uint64_t total = refused_total();

	assert_int_equal(rc, MG_LOAD_REFUSED);
	snprintf(prefix, sizeof(prefix), "refused reason=%s detail=", reason);
	if (strncmp(E.reply, prefix, strlen(prefix)) != 0)
		fail_msg("reply '%s' does not start with '%s'", E.reply, prefix);
	assert_true(E.l.refused[refusal_by_name(reason)] >= 1);
	assert_true(total >= 1);
	assert_active_is(was);
	assert_audit("snapshot.refused", reason);
}

/* Exactly one refusal so far, for @p reason. */
static inline void assert_only_refusal(const char *reason)
{
	assert_int_equal(E.l.refused[refusal_by_name(reason)], 1);
	assert_int_equal(refused_total(), 1);
}

static inline void assert_accepted(enum mg_load_result rc, const uint8_t *buf, size_t len,
			    uint64_t version)
{
	uint8_t d[32];
	char hex[65], want[128];
	const struct mg_policy *p = mg_gen_policy(E.pub.active);

	digest_of(buf, len, d);
	mg_hex(d, 32, hex);
	assert_int_equal(rc, MG_LOAD_ACCEPTED);
	snprintf(want, sizeof(want), "accepted version=%" PRIu64 " digest=%s\n", version, hex);
	assert_string_equal(E.reply, want);
	assert_true(E.l.have_active);
	assert_int_equal(E.l.active.version, version);
	assert_memory_equal(E.l.active.digest, d, 32);
	assert_int_equal(E.l.floor.version, version);
	assert_int_equal(E.l.deny_cause, MG_DENY_NONE);
	assert_non_null(p);
	assert_false(mg_policy_is_deny_all(p));
	assert_int_equal(mg_policy_version(p), version);
	assert_memory_equal(mg_policy_digest(p), d, 32);
	assert_int_equal(mg_policy_generation(p), E.pub.generation);
	assert_true(mg_policy_is_sealed(p));
	assert_audit("snapshot.accepted", NULL);
	snprintf(want, sizeof(want), " version=%" PRIu64 " digest=%s ", version, hex);
	assert_audit_has(want);
}

/* Load @p p at @p version signed by a and b; it must be accepted. */
static inline void accept_version(const struct payload *p, uint64_t version)
{
	uint8_t *b;
	size_t n;

	snap(p, version, "ab", &b, &n);
	assert_accepted(load(b, n), b, n, version);
	free(b);
}

/* The anti-rollback file says @p version and @p digest, in its documented form. */
static inline void assert_state_file(uint64_t version, const uint8_t digest[32])
{
	char path[256], hex[65], want[128];
	uint8_t *buf = NULL;
	size_t len = 0;

	snprintf(path, sizeof(path), "%s/antirollback", E.state);
	mg_hex(digest, 32, hex);
	snprintf(want, sizeof(want), "version %" PRIu64 "\ndigest %s\n", version, hex);
	assert_int_equal(mg_snapshot_read_file(path, 4096, &buf, &len), 0);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(buf, want, len);
	free(buf);
}

/* The persisted active.msnap has digest @p digest (what integrity checks). */
static inline void assert_snapshot_file(const uint8_t digest[32])
{
	char path[256];
	uint8_t *buf = NULL, d[32];
	size_t len = 0;

	snprintf(path, sizeof(path), "%s/active.msnap", E.state);
	assert_int_equal(mg_snapshot_read_file(path, MG_SNAPSHOT_DEFAULT_CAP, &buf, &len), 0);
	digest_of(buf, len, d);
	assert_memory_equal(d, digest, 32);
	free(buf);
}

/* The same as a predicate, for a failure message that says what is wrong. */
static inline bool snapshot_file_is(const uint8_t digest[32])
{
	char path[256];
	uint8_t *buf = NULL, d[32];
	size_t len = 0;
	struct mg_snapshot_view v;
	bool same;

	snprintf(path, sizeof(path), "%s/active.msnap", E.state);
	if (mg_snapshot_read_file(path, MG_SNAPSHOT_DEFAULT_CAP, &buf, &len) < 0)
		return false;
	same = mg_snapshot_parse(buf, len, SIZE_MAX, &v) == 0 && mg_snapshot_digest(&v, d) == 0 &&
	       memcmp(d, digest, 32) == 0;
	free(buf);
	return same;
}

static inline void write_state_dir_file(const char *name, const uint8_t *buf, size_t len)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", E.state, name);
	assert_int_equal(mg_snapshot_write_file(path, buf, len), 0);
}

/* No staged snapshot (active.msnap.new) is left behind. */
static inline void assert_no_staged(void)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/active.msnap.new", E.state);
	if (access(path, F_OK) == 0)
		fail_msg("%s left behind", path);
}

static inline bool state_dir_has(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", E.state, name);
	return access(path, F_OK) == 0;
}

/* Stop this loader and start another on the same files: a restart. */
static inline void restart(uint64_t now)
{
	mg_loader_fini(&E.l);
	mg_publish_fini(&E.pub);
	assert_int_equal(mg_publish_init(&E.pub, 1, NULL, free_policy), 0);
	loader_start();
	mg_loader_boot(&E.l, now);
}

static inline void assert_deny_all(enum mg_deny_all_cause cause)
{
	const struct mg_policy *p = mg_gen_policy(E.pub.active);

	assert_false(E.l.have_active);
	assert_int_equal(E.l.deny_cause, cause);
	assert_non_null(p);
	assert_true(mg_policy_is_deny_all(p));
	assert_true(mg_policy_is_sealed(p));
	assert_audit("policy.deny_all", NULL);
	assert_audit_has(" alarm=yes ");
}

#endif /* MG_TESTS_LOADER_FIXTURE_H */
