/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The loader around its rules: persisting (a failure at any step keeps the
 * active snapshot and a consistent disk), auditing (no unaudited change),
 * boot (reload, catch-up, refusals, crash recovery of staged files) and
 * expiry while running (the deny-all policy swapped in). Fixture:
 * loader_fixture.h.
 */
#include "loader_fixture.h"

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

/* ---- trust list ------------------------------------------------------------------- */

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
	assert_int_equal(mg_policy_version(mg_gen_policy(E.pub.active)), 0);
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
	assert_false(mg_policy_is_deny_all(mg_gen_policy(E.pub.active)));
	assert_int_equal(mg_policy_version(mg_gen_policy(E.pub.active)), 3);
	assert_int_equal(mg_policy_n_workloads(mg_gen_policy(E.pub.active)), 1);
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
	assert_int_equal(mg_policy_version(mg_gen_policy(E.pub.active)), 2);
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
	char *eal[] = { "test_loader_boot", "--no-huge", "-m", "128", "--no-pci", "--no-shconf",
			"--no-telemetry", "--lcores=0@0", "--log-level=error", NULL };
#define BOOTED(t) cmocka_unit_test_setup_teardown(t, setup_booted, teardown)
#define BARE(t) cmocka_unit_test_setup_teardown(t, setup_bare, teardown)
	const struct CMUnitTest tests[] = {
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
