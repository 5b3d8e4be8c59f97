/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The loader's rules (DESIGN "Snapshot envelope and the loader's rules"),
 * one case per rule, against real keys, a real audit log and a real RCU
 * publisher. Every refusal is checked four ways: the return value, the reply
 * line, the loader's counters, and the last audit record (type and reason);
 * and the active snapshot (version, digest, published pointer, generation)
 * must be exactly what it was before.
 *
 * The publisher has one worker slot that no thread ever registers, so
 * rte_rcu_qsbr_synchronize() returns at once.
 */
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

static void read_payload(const char *name, struct payload *p)
{
	char path[128];

	snprintf(path, sizeof(path), DATA "%s", name);
	if (mg_snapshot_read_file(path, 1 << 20, (uint8_t **)&p->text, &p->len) < 0)
		fail_msg("%s", mg_errmsg());
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_rf(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int group_setup(void **state)
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

static int group_teardown(void **state)
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

static void free_policy(void *p)
{
	mg_policy_free(p);
}

static void loader_start(void)
{
	if (mg_loader_init(&E.l, &E.cfg, E.audit, &E.pub) < 0)
		fail_msg("mg_loader_init: %s", mg_errmsg());
}

/* A fresh state dir, audit log, publisher and loader; nothing booted. */
static int setup_bare(void **state)
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
static int setup_booted(void **state)
{
	if (setup_bare(state) < 0)
		return -1;
	mg_loader_boot(&E.l, NOW);
	return E.l.deny_cause == MG_DENY_NO_SNAPSHOT ? 0 : -1;
}

static int teardown(void **state)
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

/* ---- trust list ----------------------------------------------------------- */

/*
 * One P-256 key listed twice, from its uncompressed and its compressed file:
 * the gateway must not start (threshold 2 would be met by one signer).
 */
static void same_key_in_two_files_refused(void **state)
{
	struct mg_loader l;

	(void)state;
	E.cfg.n_trust_keys = 3;
	snprintf(E.cfg.trust_keys[1], PATH_MAX, "../data/keys/p256.pub");
	snprintf(E.cfg.trust_keys[2], PATH_MAX, "../data/keys/p256-compressed.pub");
	mg_error_clear();
	assert_int_equal(mg_loader_init(&l, &E.cfg, E.audit, &E.pub), -1);
	assert_int_equal(mg_errno(), MG_ERR_CONFIG_VALUE);
	assert_string_equal(mg_errmsg(),
			    "test_loader.conf: trust.keys[2]: ../data/keys/p256-compressed.pub "
			    "is the same key as trust.keys[1] (../data/keys/p256.pub): one "
			    "signer would count twice toward the threshold; list each key once");
	mg_loader_fini(&l);
}

/* ---- snapshots ------------------------------------------------------------ */

static void sign_with(uint8_t **buf, size_t *len, const struct mg_key *k)
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
static void snap_full(const struct payload *p, uint64_t version, uint64_t nb, uint64_t exp,
		      const char *who, uint8_t **buf, size_t *len)
{
	struct mg_snapshot_meta m = { .version = version, .not_before = nb, .expires = exp };

	assert_int_equal(mg_snapshot_build((const uint8_t *)p->text, p->len, &m, buf, len), 0);
	for (; *who; who++)
		sign_with(buf, len, keys[*who - 'a']);
}

static void snap(const struct payload *p, uint64_t version, const char *who, uint8_t **buf,
		 size_t *len)
{
	snap_full(p, version, NB, EXP, who, buf, len);
}

static void digest_of(const uint8_t *buf, size_t len, uint8_t out[32])
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

static struct active active_now(void)
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

static void assert_active_is(const struct active *a)
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

static uint64_t refused_total(void)
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
static void audit_line(int from_end, char *out, size_t size)
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
static void assert_audit_at(int from_end, const char *type, const char *reason)
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

static void assert_audit(const char *type, const char *reason)
{
	assert_audit_at(0, type, reason);
}

static void assert_audit_has(const char *field)
{
	char line[MG_AUDIT_LINE_MAX];

	audit_line(0, line, sizeof(line));
	if (!strstr(line, field))
		fail_msg("last audit record lacks '%s': %s", field, line);
}

/* A refusal for @p reason, and nothing else changed. */
static void assert_refused(enum mg_load_result rc, const char *reason, const struct active *was)
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
static void assert_only_refusal(const char *reason)
{
	assert_int_equal(E.l.refused[refusal_by_name(reason)], 1);
	assert_int_equal(refused_total(), 1);
}

static void assert_accepted(enum mg_load_result rc, const uint8_t *buf, size_t len,
			    uint64_t version)
{
	uint8_t d[32];
	char hex[65], want[128];
	const struct mg_policy *p = E.pub.active;

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
static void accept_version(const struct payload *p, uint64_t version)
{
	uint8_t *b;
	size_t n;

	snap(p, version, "ab", &b, &n);
	assert_accepted(load(b, n), b, n, version);
	free(b);
}

/* The anti-rollback file says @p version and @p digest, in its documented form. */
static void assert_state_file(uint64_t version, const uint8_t digest[32])
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
static void assert_snapshot_file(const uint8_t digest[32])
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
static bool snapshot_file_is(const uint8_t digest[32])
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

static void write_state_dir_file(const char *name, const uint8_t *buf, size_t len)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", E.state, name);
	assert_int_equal(mg_snapshot_write_file(path, buf, len), 0);
}

/* No staged snapshot (active.msnap.new) is left behind. */
static void assert_no_staged(void)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/active.msnap.new", E.state);
	if (access(path, F_OK) == 0)
		fail_msg("%s left behind", path);
}

static bool state_dir_has(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", E.state, name);
	return access(path, F_OK) == 0;
}

/* Stop this loader and start another on the same files: a restart. */
static void restart(uint64_t now)
{
	mg_loader_fini(&E.l);
	mg_publish_fini(&E.pub);
	assert_int_equal(mg_publish_init(&E.pub, 1, NULL, free_policy), 0);
	loader_start();
	mg_loader_boot(&E.l, now);
}

static void assert_deny_all(enum mg_deny_all_cause cause)
{
	const struct mg_policy *p = E.pub.active;

	assert_false(E.l.have_active);
	assert_int_equal(E.l.deny_cause, cause);
	assert_non_null(p);
	assert_true(mg_policy_is_deny_all(p));
	assert_true(mg_policy_is_sealed(p));
	assert_audit("policy.deny_all", NULL);
	assert_audit_has(" alarm=yes ");
}

/* ---- the rules: acceptance, versions ---------------------------------------- */

static void accepts_first_snapshot(void **state)
{
	uint8_t *b, d[32];
	size_t n;

	(void)state;
	snap(&pa, 1, "ab", &b, &n);
	assert_accepted(load(b, n), b, n, 1);
	assert_int_equal(E.l.accepted, 1);
	assert_int_equal(refused_total(), 0);
	assert_int_equal(E.l.n_signers, 2);
	assert_memory_equal(E.l.signers[0], mg_key_id(keys[KA]), MG_KEY_ID_LEN);
	assert_memory_equal(E.l.signers[1], mg_key_id(keys[KB]), MG_KEY_ID_LEN);
	assert_int_equal(E.l.loaded_at, NOW);
	assert_int_equal(E.l.meta.expires, EXP);
	assert_int_equal(E.pub.generation, 2); /* boot's deny-all, then this */
	digest_of(b, n, d);
	assert_state_file(1, d);
	assert_snapshot_file(d);
	free(b);
}

static void accepts_p256_and_ed25519_signers(void **state)
{
	uint8_t *b;
	size_t n;

	(void)state;
	snap(&pa, 1, "ca", &b, &n);
	assert_accepted(load(b, n), b, n, 1);
	free(b);
}

static void newer_version_replaces_active(void **state)
{
	const void *before;

	(void)state;
	accept_version(&pa, 1);
	before = E.pub.active;
	accept_version(&pb, 2);
	assert_ptr_not_equal(E.pub.active, before);
	assert_int_equal(E.l.accepted, 2);
	assert_int_equal(E.pub.generation, 3);
}

static void rollback_refused(void **state)
{
	uint8_t *b;
	size_t n;
	struct active was;

	(void)state;
	accept_version(&pa, 2);
	was = active_now();
	snap(&pb, 1, "ab", &b, &n);
	assert_refused(load(b, n), "rollback", &was);
	assert_only_refusal("rollback");
	assert_audit_has(" version=1 ");
	assert_audit_has(" alarm=no ");
	assert_state_file(2, E.l.active.digest);
	assert_snapshot_file(E.l.active.digest);
	free(b);
}

static void same_version_same_bytes_is_a_noop(void **state)
{
	uint8_t *b, d[32];
	size_t n;
	char hex[65], want[128];
	struct active was;

	(void)state;
	snap(&pa, 1, "ab", &b, &n);
	assert_int_equal(load(b, n), MG_LOAD_ACCEPTED);
	was = active_now();
	assert_int_equal(load(b, n), MG_LOAD_UNCHANGED);
	digest_of(b, n, d);
	mg_hex(d, 32, hex);
	snprintf(want, sizeof(want), "unchanged version=1 digest=%s\n", hex);
	assert_string_equal(E.reply, want);
	assert_int_equal(E.l.unchanged, 1);
	was.unchanged = 1;
	assert_active_is(&was); /* same pointer, same generation: nothing published */
	assert_int_equal(refused_total(), 0);
	assert_audit("snapshot.unchanged", NULL);
	free(b);
}

static void same_content_other_signers_is_a_noop(void **state)
{
	uint8_t *b;
	size_t n;

	(void)state;
	accept_version(&pa, 1);
	/* Signatures are not part of the digest: b+c sign the same content. */
	snap(&pa, 1, "bc", &b, &n);
	assert_int_equal(load(b, n), MG_LOAD_UNCHANGED);
	assert_int_equal(E.l.unchanged, 1);
	free(b);
}

static void equivocation_refused_and_alarmed(void **state)
{
	uint8_t *b;
	size_t n;
	struct active was;
	uint64_t alarms;

	(void)state;
	accept_version(&pa, 1);
	was = active_now();
	alarms = E.l.alarms;
	snap(&pb, 1, "ab", &b, &n);
	assert_refused(load(b, n), "equivocation", &was);
	assert_only_refusal("equivocation");
	assert_int_equal(E.l.alarms, alarms + 1);
	assert_audit_has(" alarm=yes ");
	free(b);
}

/* ---- the rules: signatures ---------------------------------------------------- */

static void k_minus_one_signatures_refused(void **state)
{
	uint8_t *b;
	size_t n;
	struct active was = active_now();

	(void)state;
	snap(&pa, 1, "a", &b, &n);
	assert_refused(load(b, n), "signatures", &was);
	assert_only_refusal("signatures");
	assert_audit_has(" version=1 ");
	free(b);
	snap(&pa, 1, "", &b, &n);
	assert_refused(load(b, n), "signatures", &was);
	free(b);
}

/* signed || count || entries, with the first entry repeated @p times. */
static void repeat_first_entry(uint8_t **buf, size_t *len, unsigned times)
{
	struct mg_snapshot_view v;
	size_t entry, head;
	uint8_t *out;

	assert_int_equal(mg_snapshot_parse(*buf, *len, SIZE_MAX, &v), 0);
	assert_int_equal(v.n_sigs, 1);
	head = v.signed_len;
	entry = *len - head - 2;
	out = malloc(head + 2 + times * entry);
	assert_non_null(out);
	memcpy(out, *buf, head);
	out[head] = 0;
	out[head + 1] = (uint8_t)times;
	for (unsigned i = 0; i < times; i++)
		memcpy(out + head + 2 + i * entry, *buf + head + 2, entry);
	free(*buf);
	*buf = out;
	*len = head + 2 + times * entry;
}

static void one_key_signing_twice_counts_once(void **state)
{
	uint8_t *b;
	size_t n;
	struct active was = active_now();

	(void)state;
	snap(&pa, 1, "a", &b, &n);
	repeat_first_entry(&b, &n, 2);
	assert_refused(load(b, n), "signatures", &was);
	assert_only_refusal("signatures");
	/* The duplicate does not poison the set: a, a, b is two distinct signers. */
	sign_with(&b, &n, keys[KB]);
	assert_accepted(load(b, n), b, n, 1);
	assert_int_equal(E.l.n_signers, 2);
	free(b);
}

static void unknown_key_does_not_count(void **state)
{
	uint8_t *b;
	size_t n;
	struct active was = active_now();

	(void)state;
	snap(&pa, 1, "ad", &b, &n);
	assert_refused(load(b, n), "signatures", &was);
	assert_only_refusal("signatures");
	free(b);
}

static void bad_signature_does_not_count(void **state)
{
	uint8_t *b;
	size_t n;
	struct active was = active_now();

	(void)state;
	snap(&pa, 1, "ab", &b, &n);
	b[n - 10] ^= 0x01; /* inside b's signature bytes, the last entry */
	assert_refused(load(b, n), "signatures", &was);
	assert_only_refusal("signatures");
	free(b);
}

static void bad_extra_signature_does_not_veto(void **state)
{
	uint8_t *b;
	size_t n;

	(void)state;
	snap(&pa, 1, "abc", &b, &n);
	b[n - 10] ^= 0x01; /* c's signature no longer verifies; a and b still do */
	assert_accepted(load(b, n), b, n, 1);
	assert_int_equal(E.l.n_signers, 2);
	free(b);
}

/* ---- the rules: framing ---------------------------------------------------------- */

/* Flip every byte of [from, to) in turn: each must be refused for one of two reasons. */
static void flip_each(const uint8_t *good, size_t n, size_t from, size_t to, size_t stride,
		      const char *r1, const char *r2)
{
	uint8_t *b = malloc(n);
	struct active was = active_now();

	assert_non_null(b);
	for (size_t i = from; i < to; i += stride) {
		enum mg_load_result rc;

		memcpy(b, good, n);
		b[i] ^= 0x20;
		rc = load(b, n);
		if (rc != MG_LOAD_REFUSED)
			fail_msg("byte %zu flipped: %s", i, E.reply);
		if (strncmp(E.reply, r1, strlen(r1)) != 0 && strncmp(E.reply, r2, strlen(r2)) != 0)
			fail_msg("byte %zu flipped: '%s', want %s or %s", i, E.reply, r1, r2);
		assert_active_is(&was);
		assert_audit("snapshot.refused", NULL);
	}
	free(b);
}

static void flipped_header_byte_refused(void **state)
{
	uint8_t *b;
	size_t n;
	struct active was;

	(void)state;
	accept_version(&pa, 1);
	was = active_now();
	snap(&pb, 2, "ab", &b, &n);
	/* In the version field: still well framed, but no signature matches. */
	b[23] ^= 0x04;
	assert_refused(load(b, n), "signatures", &was);
	assert_only_refusal("signatures");
	b[23] ^= 0x04;
	/* In the magic: not an envelope at all. */
	b[0] ^= 0x01;
	assert_refused(load(b, n), "framing", &was);
	b[0] ^= 0x01;
	flip_each(b, n, 0, MG_SNAPSHOT_HEADER_LEN, 1, "refused reason=framing ",
		  "refused reason=signatures ");
	free(b);
}

static void flipped_payload_byte_refused(void **state)
{
	uint8_t *b;
	size_t n;
	struct active was;

	(void)state;
	accept_version(&pa, 1);
	was = active_now();
	snap(&pb, 2, "ab", &b, &n);
	/* The header's SHA-256 no longer matches the payload. */
	b[MG_SNAPSHOT_HEADER_LEN + 5] ^= 0x01;
	assert_refused(load(b, n), "framing", &was);
	assert_only_refusal("framing");
	b[MG_SNAPSHOT_HEADER_LEN + 5] ^= 0x01;
	flip_each(b, n, MG_SNAPSHOT_HEADER_LEN, MG_SNAPSHOT_HEADER_LEN + pb.len, 7,
		  "refused reason=framing ", "refused reason=framing ");
	free(b);
}

static void flipped_signature_block_byte_refused(void **state)
{
	uint8_t *b;
	size_t n, sigs = MG_SNAPSHOT_HEADER_LEN + pb.len;
	struct active was;

	(void)state;
	accept_version(&pa, 1);
	was = active_now();
	snap(&pb, 2, "ab", &b, &n);
	/* The count: 2 -> 3 entries announced, 2 present. */
	b[sigs + 1] ^= 0x01;
	assert_refused(load(b, n), "framing", &was);
	assert_only_refusal("framing");
	b[sigs + 1] ^= 0x01;
	/* a's key id: now an unknown key, only b counts. */
	b[sigs + 2 + 3] ^= 0x01;
	assert_refused(load(b, n), "signatures", &was);
	b[sigs + 2 + 3] ^= 0x01;
	flip_each(b, n, sigs, n, 1, "refused reason=framing ", "refused reason=signatures ");
	free(b);
}

static void truncated_refused(void **state)
{
	uint8_t *b;
	size_t n;
	struct active was;

	(void)state;
	accept_version(&pa, 1);
	was = active_now();
	snap(&pb, 2, "ab", &b, &n);
	const size_t cuts[] = { 0, 1, 8, 79, 80, 81, 80 + pb.len - 1, 80 + pb.len,
				80 + pb.len + 1, 80 + pb.len + 2, 80 + pb.len + 40, n - 1 };
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		assert_refused(load(b, cuts[i]), "framing", &was);
		assert_int_equal(E.l.refused[MG_LOAD_REFUSED_FRAMING], i + 1);
	}
	assert_int_equal(refused_total(), sizeof(cuts) / sizeof(cuts[0]));
	free(b);
}

static void trailing_bytes_refused(void **state)
{
	uint8_t *b, *t;
	size_t n;
	struct active was;

	(void)state;
	accept_version(&pa, 1);
	was = active_now();
	snap(&pb, 2, "ab", &b, &n);
	t = calloc(1, n + 100);
	assert_non_null(t);
	memcpy(t, b, n);
	assert_refused(load(t, n + 1), "framing", &was);
	assert_refused(load(t, n + 100), "framing", &was);
	assert_int_equal(E.l.refused[MG_LOAD_REFUSED_FRAMING], 2);
	assert_int_equal(refused_total(), 2);
	free(t);
	free(b);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void hundred_megabytes_refused_unread(void **state)
{
	uint8_t *b, *big;
	size_t n;
	uint64_t t0, ns, plen = BIG - MG_SNAPSHOT_OVERHEAD;
	struct active was;

	(void)state;
	accept_version(&pa, 1);
	was = active_now();
	/*
	 * A header that claims a 100 MB payload: a loader that parsed before the
	 * size cap would hash all of it (hundreds of ms); the cap must stop it
	 * before the first byte is read.
	 */
	snap(&pb, 2, "", &b, &n);
	big = calloc(1, BIG);
	assert_non_null(big);
	memcpy(big, b, MG_SNAPSHOT_HEADER_LEN);
	for (int i = 0; i < 8; i++)
		big[40 + i] = (uint8_t)(plen >> (56 - 8 * i));
	t0 = mono_ns();
	assert_int_equal(load(big, BIG), MG_LOAD_REFUSED);
	ns = mono_ns() - t0;
	print_message("# 100 MB snapshot refused in %" PRIu64 " us\n", ns / 1000);
	assert_true(ns < BIG_BUDGET_NS);
	assert_refused(MG_LOAD_REFUSED, "size_cap", &was);
	assert_only_refusal("size_cap");
	assert_audit_has(" version=- digest=- ");
	free(big);
	free(b);
}

static void size_cap_boundary(void **state)
{
	uint8_t *b;
	size_t n;
	struct active was = active_now();

	(void)state;
	snap(&pa, 1, "ab", &b, &n);
	E.cfg.snapshot_max_bytes = n - 1;
	assert_refused(load(b, n), "size_cap", &was);
	assert_only_refusal("size_cap");
	E.cfg.snapshot_max_bytes = n;
	assert_accepted(load(b, n), b, n, 1);
	free(b);
}

/* ---- the rules: time --------------------------------------------------------------- */

static void expired_refused(void **state)
{
	uint8_t *b;
	size_t n;
	struct active was = active_now();

	(void)state;
	snap_full(&pa, 1, NOW - 100, NOW - 1, "ab", &b, &n);
	assert_refused(load(b, n), "expired", &was);
	free(b);
	/* Valid while not_before <= now < expires: now == expires is too late. */
	snap_full(&pa, 1, NOW - 100, NOW, "ab", &b, &n);
	assert_refused(load(b, n), "expired", &was);
	assert_int_equal(E.l.refused[MG_LOAD_REFUSED_EXPIRED], 2);
	assert_int_equal(refused_total(), 2);
	free(b);
}

static void not_yet_valid_refused(void **state)
{
	uint8_t *b;
	size_t n;
	struct active was = active_now();

	(void)state;
	snap_full(&pa, 1, NOW + 1, NOW + 100, "ab", &b, &n);
	assert_refused(load(b, n), "not_yet_valid", &was);
	assert_only_refusal("not_yet_valid");
	/* ... and at exactly not_before it is valid. */
	assert_accepted(load_at(b, n, NOW + 1), b, n, 1);
	free(b);
}

/* ---- the rules: the payload, parsed only after everything else ------------------------ */

static void signed_payload_that_does_not_parse_refused(void **state)
{
	uint8_t *b;
	size_t n;
	struct active was;

	(void)state;
	accept_version(&pa, 1);
	was = active_now();
	snap(&pbad, 2, "ab", &b, &n);
	assert_refused(load(b, n), "policy_invalid", &was);
	assert_only_refusal("policy_invalid");
	assert_state_file(1, E.l.active.digest);
	assert_snapshot_file(E.l.active.digest);
	free(b);
}

static void signed_payload_with_unknown_field_refused(void **state)
{
	uint8_t *b;
	size_t n;
	struct active was;

	(void)state;
	accept_version(&pa, 1);
	was = active_now();
	snap(&punknown, 2, "ab", &b, &n);
	assert_refused(load(b, n), "policy_invalid", &was);
	assert_only_refusal("policy_invalid");
	if (!strstr(E.reply, "colour") || !strstr(E.reply, "unknown field"))
		fail_msg("reply does not name the unknown field: %s", E.reply);
	free(b);
}

static void checks_run_in_the_documented_order(void **state)
{
	uint8_t *b;
	size_t n;
	struct active was;

	(void)state;
	accept_version(&pa, 5);
	was = active_now();
	/* Bad payload, expired, rolled back and one signature: signatures first. */
	snap_full(&pbad, 4, NOW - 100, NOW - 1, "a", &b, &n);
	assert_refused(load(b, n), "signatures", &was);
	free(b);
	/* Enough signatures: the version rule next. */
	snap_full(&pbad, 4, NOW - 100, NOW - 1, "ab", &b, &n);
	assert_refused(load(b, n), "rollback", &was);
	free(b);
	/* A good version: time next. */
	snap_full(&pbad, 6, NOW - 100, NOW - 1, "ab", &b, &n);
	assert_refused(load(b, n), "expired", &was);
	free(b);
	/* Only then the payload. */
	snap(&pbad, 6, "ab", &b, &n);
	assert_refused(load(b, n), "policy_invalid", &was);
	free(b);
	assert_int_equal(refused_total(), 4);
}

/* ---- persisting -------------------------------------------------------------------- */

static void persist_failure_keeps_active(void **state)
{
	uint8_t *b;
	size_t n;
	struct active was;
	int fd;

	(void)state;
	accept_version(&pa, 1);
	was = active_now();
	/* The state dir's path now ends in a regular file: nothing can be written below it. */
	rm_rf(E.state);
	fd = open(E.state, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	snap(&pb, 2, "ab", &b, &n);
	assert_refused(load(b, n), "persist", &was);
	assert_only_refusal("persist");
	free(b);
}

static void persist_failure_between_files_leaves_disk_consistent(void **state)
{
	uint8_t *b;
	size_t n;
	char path[256];
	struct active was;

	(void)state;
	accept_version(&pa, 1);
	was = active_now();
	/*
	 * The snapshot file can be replaced, the state file cannot (a directory
	 * stands in its place, so the rename over it fails).
	 */
	snprintf(path, sizeof(path), "%s/antirollback", E.state);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/antirollback/keep", E.state);
	assert_int_equal(mkdir(path, 0700), 0);
	snap(&pb, 2, "ab", &b, &n);
	assert_refused(load(b, n), "persist", &was);
	assert_only_refusal("persist");
	/*
	 * A refused snapshot must not be what is on disk: the integrity check
	 * compares active.msnap with the active digest (drift, exit 100), and a
	 * restart with the state file intact would boot the refused snapshot.
	 */
	if (!snapshot_file_is(E.l.active.digest))
		fail_msg("after refusing v2 (persist), %s/active.msnap holds v2, not the active v1",
			 E.state);
	assert_no_staged();
	free(b);
}

/* Make @p name in the state dir a non-empty directory: nothing can be renamed over it. */
static void block_with_directory(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", E.state, name);
	rm_rf(path);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/%s/keep", E.state, name);
	assert_int_equal(mkdir(path, 0700), 0);
}

static void commit_rename_failure_restores_state(void **state)
{
	uint8_t *b, d1[32];
	size_t n;
	struct active was;

	(void)state;
	accept_version(&pa, 1);
	memcpy(d1, E.l.active.digest, 32);
	was = active_now();
	/* The state is written (the commit point), then the rename of the staged file fails. */
	block_with_directory("active.msnap");
	snap(&pb, 2, "ab", &b, &n);
	assert_refused(load(b, n), "persist", &was);
	assert_only_refusal("persist");
	assert_state_file(1, d1); /* put back: disk and memory agree on v1 */
	assert_no_staged();
	free(b);
}

static void refused_first_snapshot_leaves_no_state(void **state)
{
	uint8_t *b, *b2;
	size_t n, n2;
	struct active was = active_now();

	(void)state;
	/* Nothing was ever accepted; the commit of v1 fails after the state was written. */
	block_with_directory("active.msnap");
	snap(&pa, 1, "ab", &b, &n);
	assert_refused(load(b, n), "persist", &was);
	assert_no_staged();
	/*
	 * The refused v1 must not become the anti-rollback floor: otherwise a
	 * restart takes it as the highest version ever accepted, and another
	 * v1 is refused as equivocation against a snapshot that never was.
	 */
	if (state_dir_has("antirollback"))
		fail_msg("a refused first snapshot left %s/antirollback behind", E.state);
	rm_rf(E.l.snapshot_path);
	restart(NOW);
	snap(&pb, 1, "ab", &b2, &n2);
	assert_int_equal(load(b2, n2), MG_LOAD_ACCEPTED);
	free(b2);
	free(b);
}

/* ---- auditing ---------------------------------------------------------------------- */

static void unauditable_change_refused(void **state)
{
	uint8_t *b;
	size_t n;
	char pad[1024], path[256];
	struct rlimit old, lim;
	struct stat st;
	struct active was;
	enum mg_load_result rc;

	(void)state;
	/* Grow the log past any snapshot file, then forbid it to grow further. */
	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	for (int i = 0; i < 4; i++)
		assert_int_equal(mg_audit_append(E.audit, "test.padding", "pad", pad, NULL), 0);
	assert_int_equal(stat(E.audit_path, &st), 0);
	snap(&pa, 1, "ab", &b, &n);
	assert_true((off_t)n + 512 < st.st_size);
	was = active_now();
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)st.st_size;
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	rc = load(b, n);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	/*
	 * DESIGN: every change lands in the audit log, and loader.h has a
	 * refusal for exactly this ("the audit log could not record the change").
	 */
	if (rc != MG_LOAD_REFUSED || strncmp(E.reply, "refused reason=audit ", 21) != 0)
		fail_msg("a change the audit log could not record was not refused: %s", E.reply);
	assert_active_is(&was);
	snprintf(path, sizeof(path), "%s/active.msnap", E.state);
	assert_int_equal(access(path, F_OK), -1);
	assert_false(state_dir_has("antirollback"));
	assert_no_staged();
	free(b);
}

/* ---- boot -------------------------------------------------------------------------- */

static void boot_without_files_is_deny_all(void **state)
{
	(void)state;
	mg_loader_boot(&E.l, NOW);
	assert_deny_all(MG_DENY_NO_SNAPSHOT);
	assert_int_equal(E.l.alarms, 1);
	assert_int_equal(E.l.floor.version, 0);
	assert_int_equal(E.pub.generation, 1);
	assert_int_equal(refused_total(), 0);
	assert_int_equal(mg_policy_version(E.pub.active), 0);
}

static void boot_after_accept_reloads_it(void **state)
{
	uint8_t d[32];

	(void)state;
	mg_loader_boot(&E.l, NOW);
	accept_version(&pb, 3);
	memcpy(d, E.l.active.digest, 32);
	restart(NOW + 60);
	assert_true(E.l.have_active);
	assert_int_equal(E.l.active.version, 3);
	assert_memory_equal(E.l.active.digest, d, 32);
	assert_int_equal(E.l.floor.version, 3);
	assert_int_equal(E.l.n_signers, 2);
	assert_int_equal(E.l.deny_cause, MG_DENY_NONE);
	assert_int_equal(E.l.alarms, 0);
	assert_false(mg_policy_is_deny_all(E.pub.active));
	assert_int_equal(mg_policy_version(E.pub.active), 3);
	assert_int_equal(mg_policy_n_workloads(E.pub.active), 1);
	assert_audit("snapshot.loaded", NULL);
	assert_audit_has(" source=boot version=3 ");
	assert_state_file(3, d);
}

static void boot_then_same_snapshot_is_unchanged(void **state)
{
	uint8_t *b;
	size_t n;

	(void)state;
	mg_loader_boot(&E.l, NOW);
	snap(&pa, 1, "ab", &b, &n);
	assert_int_equal(load(b, n), MG_LOAD_ACCEPTED);
	restart(NOW);
	assert_int_equal(load(b, n), MG_LOAD_UNCHANGED);
	free(b);
}

static void boot_catches_state_up_to_newer_snapshot(void **state)
{
	uint8_t *b, d[32];
	size_t n;

	(void)state;
	mg_loader_boot(&E.l, NOW);
	accept_version(&pa, 1);
	/* A crash between the two renames: the snapshot is v2, the state still v1. */
	snap(&pb, 2, "bc", &b, &n);
	digest_of(b, n, d);
	write_state_dir_file("active.msnap", b, n);
	restart(NOW);
	assert_true(E.l.have_active);
	assert_int_equal(E.l.active.version, 2);
	assert_memory_equal(E.l.active.digest, d, 32);
	assert_int_equal(E.l.floor.version, 2);
	assert_int_equal(mg_policy_version(E.pub.active), 2);
	assert_state_file(2, d);
	assert_audit("snapshot.loaded", NULL);
	/* And the caught-up state holds from now on: v1 is a rollback. */
	free(b);
	snap(&pa, 1, "ab", &b, &n);
	assert_int_equal(load(b, n), MG_LOAD_REFUSED);
	assert_int_equal(E.l.refused[MG_LOAD_REFUSED_ROLLBACK], 1);
	free(b);
}

static void boot_refuses_snapshot_older_than_state(void **state)
{
	uint8_t *b, d2[32];
	size_t n;

	(void)state;
	mg_loader_boot(&E.l, NOW);
	snap(&pa, 1, "ab", &b, &n);
	accept_version(&pb, 2);
	memcpy(d2, E.l.active.digest, 32);
	/* Someone put the older (validly signed) snapshot back on disk. */
	write_state_dir_file("active.msnap", b, n);
	restart(NOW);
	assert_deny_all(MG_DENY_BOOT_REFUSED);
	assert_audit_at(1, "snapshot.refused", "rollback");
	assert_int_equal(E.l.refused[MG_LOAD_REFUSED_ROLLBACK], 1);
	assert_int_equal(E.l.alarms, 2); /* the refusal at boot and deny-all */
	/* The floor stays: v1 pushed again is still a rollback, v2 comes back. */
	assert_int_equal(E.l.floor.version, 2);
	assert_state_file(2, d2);
	assert_int_equal(load(b, n), MG_LOAD_REFUSED);
	assert_int_equal(E.l.refused[MG_LOAD_REFUSED_ROLLBACK], 2);
	free(b);
	snap(&pb, 2, "ab", &b, &n);
	assert_accepted(load(b, n), b, n, 2);
	free(b);
}

static void boot_refuses_equivocating_snapshot(void **state)
{
	uint8_t *b;
	size_t n;

	(void)state;
	mg_loader_boot(&E.l, NOW);
	accept_version(&pa, 1);
	snap(&pb, 1, "ab", &b, &n);
	write_state_dir_file("active.msnap", b, n);
	restart(NOW);
	assert_deny_all(MG_DENY_BOOT_REFUSED);
	assert_audit_at(1, "snapshot.refused", "equivocation");
	free(b);
}

static void boot_refuses_expired_snapshot(void **state)
{
	uint8_t *b;
	size_t n;

	(void)state;
	mg_loader_boot(&E.l, NOW);
	snap_full(&pa, 1, NB, NOW + 10, "ab", &b, &n);
	assert_int_equal(load(b, n), MG_LOAD_ACCEPTED);
	restart(NOW + 20);
	assert_deny_all(MG_DENY_BOOT_REFUSED);
	assert_audit_at(1, "snapshot.refused", "expired");
	free(b);
}

static void boot_refuses_tampered_snapshot(void **state)
{
	uint8_t *b;
	size_t n;

	(void)state;
	mg_loader_boot(&E.l, NOW);
	snap(&pa, 1, "ab", &b, &n);
	assert_int_equal(load(b, n), MG_LOAD_ACCEPTED);
	b[MG_SNAPSHOT_HEADER_LEN + 3] ^= 0x01;
	write_state_dir_file("active.msnap", b, n);
	restart(NOW);
	assert_deny_all(MG_DENY_BOOT_REFUSED);
	assert_audit_at(1, "snapshot.refused", "framing");
	free(b);
}

static void boot_refuses_malformed_state(void **state)
{
	static const char junk[] = "version 7\ndigest nothex\n";

	(void)state;
	mg_loader_boot(&E.l, NOW);
	accept_version(&pa, 1);
	write_state_dir_file("antirollback", (const uint8_t *)junk, sizeof(junk) - 1);
	restart(NOW);
	assert_deny_all(MG_DENY_BOOT_REFUSED);
}

static void boot_rolls_committed_staged_snapshot_forward(void **state)
{
	uint8_t *b, d[32];
	size_t n;
	struct mg_snapshot_state st;

	(void)state;
	mg_loader_boot(&E.l, NOW);
	accept_version(&pa, 1);
	/* A crash after the commit (state says v2), before the rename of the staged v2. */
	snap(&pb, 2, "ab", &b, &n);
	digest_of(b, n, d);
	write_state_dir_file("active.msnap.new", b, n);
	st.version = 2;
	memcpy(st.digest, d, 32);
	{
		char hex[65], text[128];
		int len;

		mg_hex(d, 32, hex);
		len = snprintf(text, sizeof(text), "version 2\ndigest %s\n", hex);
		write_state_dir_file("antirollback", (const uint8_t *)text, (size_t)len);
	}
	restart(NOW);
	assert_true(E.l.have_active);
	assert_int_equal(E.l.active.version, st.version);
	assert_memory_equal(E.l.active.digest, st.digest, 32);
	assert_snapshot_file(d);
	assert_no_staged();
	assert_state_file(2, d);
	assert_audit("snapshot.loaded", NULL);
	free(b);
}

static void boot_discards_uncommitted_staged_snapshot(void **state)
{
	uint8_t *b, d1[32];
	size_t n;

	(void)state;
	mg_loader_boot(&E.l, NOW);
	accept_version(&pa, 1);
	memcpy(d1, E.l.active.digest, 32);
	/* A crash after staging v2, before the commit: the change never happened. */
	snap(&pb, 2, "ab", &b, &n);
	write_state_dir_file("active.msnap.new", b, n);
	restart(NOW);
	assert_true(E.l.have_active);
	assert_int_equal(E.l.active.version, 1);
	assert_memory_equal(E.l.active.digest, d1, 32);
	assert_no_staged();
	assert_snapshot_file(d1);
	assert_state_file(1, d1);
	/* The log says the staged change never took effect, before the boot load. */
	assert_audit_at(1, "snapshot.discarded", NULL);
	assert_audit("snapshot.loaded", NULL);
	/* And v2 can still be pushed. */
	assert_accepted(load(b, n), b, n, 2);
	free(b);
}

static void boot_removes_temporary_files_of_a_crash(void **state)
{
	static const uint8_t junk[] = "half a file";
	const char *left[] = { "active.msnap.tmp.a1B2c3", "active.msnap.new.tmp.x9Y8z7",
			       "antirollback.tmp.Q1w2E3" };
	char path[256];

	(void)state;
	mg_loader_boot(&E.l, NOW);
	accept_version(&pa, 1);
	for (size_t i = 0; i < 3; i++)
		write_state_dir_file(left[i], junk, sizeof(junk) - 1);
	restart(NOW);
	assert_int_equal(E.l.active.version, 1);
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", E.state, left[i]);
		if (access(path, F_OK) == 0)
			fail_msg("%s survived the boot", path);
	}
}

static void boot_discards_garbage_staged_file(void **state)
{
	static const uint8_t junk[] = "MGSNAP\r\n and then nothing sensible";
	uint8_t d1[32];

	(void)state;
	mg_loader_boot(&E.l, NOW);
	accept_version(&pa, 1);
	memcpy(d1, E.l.active.digest, 32);
	write_state_dir_file("active.msnap.new", junk, sizeof(junk) - 1);
	restart(NOW);
	assert_int_equal(E.l.active.version, 1);
	assert_no_staged();
	assert_snapshot_file(d1);
}

/* ---- expiry while running ------------------------------------------------------------- */

static void tick_past_expiry_swaps_in_deny_all(void **state)
{
	uint8_t *b;
	size_t n;
	uint64_t gen, alarms;

	(void)state;
	snap_full(&pa, 1, NB, NOW + 10, "ab", &b, &n);
	assert_accepted(load(b, n), b, n, 1);
	gen = E.pub.generation;
	alarms = E.l.alarms;
	mg_loader_tick(&E.l, NOW + 5);
	assert_true(E.l.have_active);
	assert_int_equal(E.pub.generation, gen);
	mg_loader_tick(&E.l, NOW + 11);
	assert_deny_all(MG_DENY_EXPIRED);
	assert_int_equal(E.pub.generation, gen + 1);
	assert_int_equal(E.l.alarms, alarms + 1);
	/* Once: the next tick changes nothing. */
	mg_loader_tick(&E.l, NOW + 12);
	assert_int_equal(E.pub.generation, gen + 1);
	assert_int_equal(E.l.alarms, alarms + 1);
	/* The floor stays: the expired snapshot cannot come back. */
	assert_int_equal(E.l.floor.version, 1);
	assert_int_equal(load_at(b, n, NOW + 12), MG_LOAD_REFUSED);
	assert_int_equal(E.l.refused[MG_LOAD_REFUSED_EXPIRED], 1);
	free(b);
}

static void tick_at_expiry_second_swaps_in_deny_all(void **state)
{
	uint8_t *b;
	size_t n;

	(void)state;
	snap_full(&pa, 1, NB, NOW + 10, "ab", &b, &n);
	assert_accepted(load(b, n), b, n, 1);
	/* The load rule says valid while now < expires: at now == expires it is over. */
	assert_int_equal(load_at(b, n, NOW + 10), MG_LOAD_UNCHANGED);
	mg_loader_tick(&E.l, NOW + 10);
	if (E.l.have_active)
		fail_msg("snapshot expiring at %" PRIu64 " still active at that second "
			 "(mg_loader_tick compares now > expires)", (uint64_t)(NOW + 10));
	assert_deny_all(MG_DENY_EXPIRED);
	free(b);
}

int main(void)
{
	/* In memory, no shared config, no telemetry: nothing left under /var/run/dpdk. */
	char *eal[] = { "test_loader", "--no-huge", "-m", "128", "--no-pci", "--no-shconf",
			"--no-telemetry", "--lcores=0@0", "--log-level=error", NULL };
#define BOOTED(t) cmocka_unit_test_setup_teardown(t, setup_booted, teardown)
#define BARE(t) cmocka_unit_test_setup_teardown(t, setup_bare, teardown)
	const struct CMUnitTest tests[] = {
		BOOTED(accepts_first_snapshot),
		BOOTED(accepts_p256_and_ed25519_signers),
		BOOTED(newer_version_replaces_active),
		BOOTED(rollback_refused),
		BOOTED(same_version_same_bytes_is_a_noop),
		BOOTED(same_content_other_signers_is_a_noop),
		BOOTED(equivocation_refused_and_alarmed),
		BOOTED(k_minus_one_signatures_refused),
		BOOTED(one_key_signing_twice_counts_once),
		BOOTED(unknown_key_does_not_count),
		BOOTED(bad_signature_does_not_count),
		BOOTED(bad_extra_signature_does_not_veto),
		BOOTED(flipped_header_byte_refused),
		BOOTED(flipped_payload_byte_refused),
		BOOTED(flipped_signature_block_byte_refused),
		BOOTED(truncated_refused),
		BOOTED(trailing_bytes_refused),
		BOOTED(hundred_megabytes_refused_unread),
		BOOTED(size_cap_boundary),
		BOOTED(expired_refused),
		BOOTED(not_yet_valid_refused),
		BOOTED(signed_payload_that_does_not_parse_refused),
		BOOTED(signed_payload_with_unknown_field_refused),
		BOOTED(checks_run_in_the_documented_order),
		BOOTED(persist_failure_keeps_active),
		BOOTED(persist_failure_between_files_leaves_disk_consistent),
		BOOTED(commit_rename_failure_restores_state),
		BOOTED(refused_first_snapshot_leaves_no_state),
		BOOTED(unauditable_change_refused),
		BARE(same_key_in_two_files_refused),
		BARE(boot_without_files_is_deny_all),
		BARE(boot_after_accept_reloads_it),
		BARE(boot_then_same_snapshot_is_unchanged),
		BARE(boot_catches_state_up_to_newer_snapshot),
		BARE(boot_refuses_snapshot_older_than_state),
		BARE(boot_refuses_equivocating_snapshot),
		BARE(boot_refuses_expired_snapshot),
		BARE(boot_refuses_tampered_snapshot),
		BARE(boot_refuses_malformed_state),
		BARE(boot_rolls_committed_staged_snapshot_forward),
		BARE(boot_discards_uncommitted_staged_snapshot),
		BARE(boot_discards_garbage_staged_file),
		BARE(boot_removes_temporary_files_of_a_crash),
		BOOTED(tick_past_expiry_swaps_in_deny_all),
		BOOTED(tick_at_expiry_second_swaps_in_deny_all),
	};
	int failed;

	if (rte_eal_init((int)(sizeof(eal) / sizeof(eal[0])) - 1, eal) < 0)
		return 1;
	failed = cmocka_run_group_tests(tests, group_setup, group_teardown);
	rte_eal_cleanup();
	return failed;
}
