/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The loader's rules (DESIGN "Snapshot envelope and the loader's rules"),
 * one case per rule, against real keys, a real audit log and a real RCU
 * publisher. Every refusal is checked four ways: the return value, the reply
 * line, the loader's counters, and the last audit record (type and reason);
 * and the active snapshot (version, digest, published pointer, generation)
 * must be exactly what it was before. Persisting, auditing, boot and expiry
 * are test_loader_boot.c; the fixture is loader_fixture.h.
 */
#include "loader_fixture.h"

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
	};
	int failed;

	if (rte_eal_init((int)(sizeof(eal) / sizeof(eal[0])) - 1, eal) < 0)
		return 1;
	failed = cmocka_run_group_tests(tests, group_setup, group_teardown);
	rte_eal_cleanup();
	return failed;
}
