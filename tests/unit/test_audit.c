/* SPDX-License-Identifier: BSD-3-Clause */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/evp.h>

#include "audit.h"
#include "filehash.h"
#include "keys.h"

#define KEYS "../data/keys/"
#define MAXL 64

static char dir[64], logp[128], cpp[160];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/mg-test-audit-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(logp, sizeof(logp), "%s/audit.log", dir);
	snprintf(cpp, sizeof(cpp), "%s/audit.log.checkpoint", dir);
	return 0;
}

static int teardown(void **state)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char p[512];

	(void)state;
	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.') {
			snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
			unlink(p);
		}
	if (d)
		closedir(d);
	return rmdir(dir);
}

/* ---- file surgery helpers ---------------------------------------------- */

struct lines {
	char l[MAXL][MG_AUDIT_LINE_MAX + 2];
	int n;
};

static struct lines *read_lines(void)
{
	struct lines *ls = calloc(1, sizeof(*ls));
	FILE *f = fopen(logp, "r");

	assert_non_null(f);
	while (ls->n < MAXL && fgets(ls->l[ls->n], sizeof(ls->l[0]), f))
		ls->n++;
	fclose(f);
	return ls;
}

static void write_lines(const struct lines *ls)
{
	FILE *f = fopen(logp, "w");

	for (int i = 0; i < ls->n; i++)
		fputs(ls->l[i], f);
	fclose(f);
}

/* Recompute prev and hash from line @p from on, as a forger without the key would. */
static void rechain(struct lines *ls, int from)
{
	for (int i = from; i < ls->n; i++) {
		char *line = ls->l[i], *prev = strstr(line, " prev=") + 6;
		size_t len = strlen(line) - 1; /* without the newline */
		uint8_t raw[32], h[32];
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		char hex[65];

		memcpy(prev, ls->l[i - 1] + strlen(ls->l[i - 1]) - 65, 64);
		for (int k = 0; k < 32; k++)
			sscanf(prev + 2 * k, "%2hhx", &raw[k]);
		EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
		EVP_DigestUpdate(ctx, raw, 32);
		EVP_DigestUpdate(ctx, line, len - 70);
		EVP_DigestFinal_ex(ctx, h, NULL);
		EVP_MD_CTX_free(ctx);
		mg_hex(h, 32, hex);
		memcpy(line + len - 64, hex, 64);
	}
}

static void truncate_after(int n_lines)
{
	struct lines *ls = read_lines();

	ls->n = n_lines;
	write_lines(ls);
	free(ls);
}

/* A log of genesis + @p n records "event i=<i>", closed. */
static void make_log(int n, const char *key, bool checkpoint_at_end)
{
	struct mg_audit *log;
	char v[16];

	assert_int_equal(mg_audit_open(logp, key, &log), 0);
	for (int i = 1; i <= n; i++) {
		snprintf(v, sizeof(v), "%d", i);
		assert_int_equal(mg_audit_append(log, "event", "i", v, NULL), 0);
	}
	if (checkpoint_at_end)
		assert_int_equal(mg_audit_checkpoint(log), 0);
	mg_audit_close(log);
}

static void expect_fault(const struct mg_key *pub, const char *cp, enum mg_audit_fault f,
			 uint64_t index, const char *why)
{
	struct mg_audit_report r;

	mg_error_clear();
	assert_int_equal(mg_audit_verify(logp, pub, cp, NULL, &r), -1);
	if (r.fault != f || r.bad_index != index)
		fail_msg("expected %s at %llu, got %s at %llu: %s", mg_audit_fault_name(f),
			 (unsigned long long)index, mg_audit_fault_name(r.fault),
			 (unsigned long long)r.bad_index, r.why);
	assert_int_equal(mg_errno(), f == MG_AUDIT_CHECKPOINT ? MG_ERR_PROTO_SIGNATURE
							       : MG_ERR_PROTO_FORMAT);
	if (why && !strstr(r.why, why))
		fail_msg("'%s' not in '%s'", why, r.why);
}

static struct mg_key *pub(const char *name)
{
	char p[128];
	struct mg_key *k;

	snprintf(p, sizeof(p), KEYS "%s.pub", name);
	assert_int_equal(mg_key_load_public(p, &k), 0);
	return k;
}

/* ---- writing ----------------------------------------------------------- */

static void new_log_starts_with_genesis(void **state)
{
	struct mg_audit_report r;
	struct mg_audit *log;
	struct lines *ls;
	uint64_t head;
	uint8_t h[32];
	struct stat st;

	(void)state;
	assert_int_equal(mg_audit_open(logp, NULL, &log), 0);
	mg_audit_head(log, &head, h);
	assert_int_equal(head, 0);
	mg_audit_close(log);
	assert_int_equal(stat(logp, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	ls = read_lines();
	assert_int_equal(ls->n, 1);
	assert_memory_equal(ls->l[0], "0 ", 2);
	assert_non_null(strstr(ls->l[0], " genesis prev=0000000000000000000000000000000000000000"
					 "000000000000000000000000 format=mgaudit1 log="));
	free(ls);
	assert_int_equal(mg_audit_verify(logp, NULL, NULL, NULL, &r), 0);
	assert_int_equal(r.n_records, 1);
	assert_memory_equal(r.head_hash, h, 32);
}

static void append_then_verify_reports_head(void **state)
{
	struct mg_audit_report r;
	struct mg_audit *log;
	uint64_t head;
	uint8_t h[32];

	(void)state;
	assert_int_equal(mg_audit_open(logp, NULL, &log), 0);
	assert_int_equal(mg_audit_append(log, "start", "version", "0.1.0", NULL), 0);
	assert_int_equal(mg_audit_append(log, "snapshot.accepted", "version", "7", "digest",
					 "ab12", "signers", "2", NULL), 0);
	assert_int_equal(mg_audit_append(log, "stop", NULL), 0);
	mg_audit_head(log, &head, h);
	mg_audit_close(log);
	assert_int_equal(head, 3);
	assert_int_equal(mg_audit_verify(logp, NULL, NULL, NULL, &r), 0);
	assert_int_equal(r.fault, MG_AUDIT_OK);
	assert_int_equal(r.n_records, 4);
	assert_int_equal(r.head_index, 3);
	assert_memory_equal(r.head_hash, h, 32);
	assert_int_equal(r.n_checkpoints, 0);
}

static void reopen_continues_the_chain(void **state)
{
	struct mg_audit_report r;
	struct mg_audit *log;
	uint64_t head;
	uint8_t h[32];

	(void)state;
	make_log(3, NULL, false);
	assert_int_equal(mg_audit_open(logp, NULL, &log), 0);
	mg_audit_head(log, &head, h);
	assert_int_equal(head, 3);
	assert_int_equal(mg_audit_append(log, "start", NULL), 0);
	mg_audit_close(log);
	assert_int_equal(mg_audit_verify(logp, NULL, NULL, NULL, &r), 0);
	assert_int_equal(r.head_index, 4);
}

static void values_are_escaped_one_record_per_line(void **state)
{
	struct mg_audit_report r;
	struct mg_audit *log;
	struct lines *ls;

	(void)state;
	assert_int_equal(mg_audit_open(logp, NULL, &log), 0);
	assert_int_equal(mg_audit_append(log, "snapshot.refused", "reason", "signature",
					 "detail", "a b\nhash=00 100%\xc3\xa9", "empty", "", NULL),
			 0);
	mg_audit_close(log);
	ls = read_lines();
	assert_int_equal(ls->n, 2);
	assert_non_null(strstr(ls->l[1], " reason=signature detail=a%20b%0Ahash=00%20100%25%C3%A9 "
					 "empty= hash="));
	free(ls);
	assert_int_equal(mg_audit_verify(logp, NULL, NULL, NULL, &r), 0);
}

static void bad_names_and_reserved_types_refused(void **state)
{
	static const char *const kv_prev[] = { "prev", "x" };
	static const char *const kv_upper[] = { "Key", "x" };
	struct mg_audit *log;

	(void)state;
	assert_int_equal(mg_audit_open(logp, NULL, &log), 0);
	mg_error_clear();
	assert_int_equal(mg_audit_append(log, "Bad Type", NULL), -1);
	assert_int_equal(mg_errno(), MG_ERR_USAGE);
	assert_int_equal(mg_audit_append(log, "checkpoint", NULL), -1);
	assert_int_equal(mg_errno(), MG_ERR_USAGE);
	assert_non_null(strstr(mg_errmsg(), "reserved"));
	assert_int_equal(mg_audit_append(log, "genesis", NULL), -1);
	assert_int_equal(mg_audit_appendv(log, "event", kv_prev, 1), -1);
	assert_int_equal(mg_errno(), MG_ERR_USAGE);
	assert_int_equal(mg_audit_appendv(log, "event", kv_upper, 1), -1);
	assert_int_equal(mg_audit_append(log, "event", "odd", NULL), -1);
	assert_non_null(strstr(mg_errmsg(), "a key without a value"));
	/* Refusals wrote nothing: the log still appends and verifies. */
	assert_int_equal(mg_audit_append(log, "event", NULL), 0);
	mg_audit_close(log);
	assert_int_equal(mg_audit_verify(logp, NULL, NULL, NULL, &(struct mg_audit_report){ 0 }), 0);
}

static void overlong_record_refused(void **state)
{
	char big[MG_AUDIT_LINE_MAX];
	struct mg_audit *log;

	(void)state;
	memset(big, 'v', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(mg_audit_open(logp, NULL, &log), 0);
	mg_error_clear();
	assert_int_equal(mg_audit_append(log, "event", "v", big, NULL), -1);
	assert_int_equal(mg_errno(), MG_ERR_USAGE);
	assert_non_null(strstr(mg_errmsg(), "longer than"));
	assert_int_equal(mg_audit_append(log, "event", "v", "short", NULL), 0);
	mg_audit_close(log);
}

/* ---- verifying ---------------------------------------------------------- */

/* Any one flipped bit anywhere in record 3, newline included, is reported at 3. */
static void flipped_byte_reported_at_its_index(void **state)
{
	struct lines *ls;
	size_t len;

	(void)state;
	make_log(6, NULL, false);
	ls = read_lines();
	len = strlen(ls->l[3]);
	for (size_t i = 0; i < len; i++) {
		struct mg_audit_report r;

		ls->l[3][i] ^= 0x01;
		write_lines(ls);
		assert_int_equal(mg_audit_verify(logp, NULL, NULL, NULL, &r), -1);
		if (r.bad_index != 3)
			fail_msg("byte %zu: %s at %llu", i, mg_audit_fault_name(r.fault),
				 (unsigned long long)r.bad_index);
		assert_true(r.fault == MG_AUDIT_ALTERED || r.fault == MG_AUDIT_MALFORMED);
		assert_int_equal(r.n_records, 3);
		ls->l[3][i] ^= 0x01;
	}
	write_lines(ls);
	free(ls);
	ls = read_lines();
	ls->l[3][2] ^= 0x04; /* a digit of the time */
	write_lines(ls);
	free(ls);
	expect_fault(NULL, NULL, MG_AUDIT_ALTERED, 3, "hash mismatch");
}

static void deleted_record_is_a_gap(void **state)
{
	struct lines *ls;

	(void)state;
	make_log(6, NULL, false);
	ls = read_lines();
	memmove(ls->l[4], ls->l[5], sizeof(ls->l[0]) * 2);
	ls->n--;
	write_lines(ls);
	free(ls);
	expect_fault(NULL, NULL, MG_AUDIT_GAP, 4, "record 4 is missing");
}

static void deleted_genesis_is_a_gap_at_zero(void **state)
{
	struct lines *ls;

	(void)state;
	make_log(2, NULL, false);
	ls = read_lines();
	memmove(ls->l[0], ls->l[1], sizeof(ls->l[0]) * 2);
	ls->n--;
	write_lines(ls);
	free(ls);
	expect_fault(NULL, NULL, MG_AUDIT_GAP, 0, "missing");
}

static void swapped_records_are_a_reorder(void **state)
{
	struct lines *ls;
	char tmp[MG_AUDIT_LINE_MAX + 2];

	(void)state;
	make_log(6, NULL, false);
	ls = read_lines();
	memcpy(tmp, ls->l[2], sizeof(tmp));
	memcpy(ls->l[2], ls->l[3], sizeof(tmp));
	memcpy(ls->l[3], tmp, sizeof(tmp));
	write_lines(ls);
	free(ls);
	expect_fault(NULL, NULL, MG_AUDIT_REORDER, 2, "out of order");
}

static void repeated_record_is_a_reorder(void **state)
{
	struct lines *ls;

	(void)state;
	make_log(4, NULL, false);
	ls = read_lines();
	memmove(ls->l[3], ls->l[2], sizeof(ls->l[0]) * 3);
	ls->n++;
	write_lines(ls);
	free(ls);
	expect_fault(NULL, NULL, MG_AUDIT_REORDER, 3, "repeated");
}

static void cut_mid_record_is_truncated(void **state)
{
	struct lines *ls;

	(void)state;
	make_log(3, NULL, false);
	ls = read_lines();
	ls->l[3][20] = '\0';
	write_lines(ls);
	free(ls);
	expect_fault(NULL, NULL, MG_AUDIT_TRUNCATED, 3, "cut short");
}

static void empty_log_is_truncated(void **state)
{
	struct mg_audit *log = NULL;
	FILE *f = fopen(logp, "w");

	(void)state;
	fclose(f);
	expect_fault(NULL, NULL, MG_AUDIT_TRUNCATED, 0, "no genesis");
	/* The writer never leaves an empty log, so one is tampering: refused. */
	assert_int_equal(mg_audit_open(logp, NULL, &log), -1);
	assert_int_equal(mg_errno(), MG_ERR_PROTO_FORMAT);
	assert_null(log);
}

static void truncation_caught_by_checkpoint_file(void **state)
{
	struct mg_audit_report r;
	struct mg_audit *log = NULL;
	struct mg_key *k = pub("ed25519");

	(void)state;
	make_log(5, KEYS "ed25519.key", true); /* checkpoint record 6 covers head 5 */
	assert_int_equal(mg_audit_verify(logp, k, cpp, NULL, &r), 0);
	assert_true(r.have_external && r.external_signed);
	assert_int_equal(r.external_index, 5);
	assert_int_equal(r.n_checkpoints, 1);
	assert_int_equal(r.last_checkpoint, 6);
	truncate_after(4); /* records 0..3 left */
	/* Without the checkpoint the cut is invisible; with it, it is found. */
	assert_int_equal(mg_audit_verify(logp, k, NULL, NULL, &r), 0);
	expect_fault(k, cpp, MG_AUDIT_TRUNCATED, 4, "checkpoint covers index 5");
	assert_int_equal(mg_audit_open(logp, KEYS "ed25519.key", &log), -1);
	assert_int_equal(mg_errno(), MG_ERR_PROTO_FORMAT);
	assert_non_null(strstr(mg_errmsg(), "index 4: truncated"));
	mg_key_free(k);
}

static void checkpoint_signatures_checked_with_the_node_key(void **state)
{
	struct mg_audit_report r;
	struct mg_key *good = pub("ed25519"), *other = pub("ed25519-b");

	(void)state;
	make_log(2, KEYS "ed25519.key", true);
	assert_int_equal(mg_audit_verify(logp, good, NULL, NULL, &r), 0);
	assert_true(r.checkpoints_signed);
	assert_int_equal(r.last_checkpoint, 3);
	expect_fault(other, NULL, MG_AUDIT_CHECKPOINT, 3, "not the given key");
	/* The checkpoint file is checked first and is the first to fail. */
	expect_fault(other, cpp, MG_AUDIT_CHECKPOINT, 2, "not the given key");
	mg_key_free(good);
	mg_key_free(other);
}

static void p256_node_key_checkpoints(void **state)
{
	struct mg_audit_report r;
	struct mg_key *k = pub("p256");

	(void)state;
	make_log(3, KEYS "p256.key", true);
	assert_int_equal(mg_audit_verify(logp, k, cpp, NULL, &r), 0);
	assert_int_equal(r.n_checkpoints, 1);
	mg_key_free(k);
}

/* A forger rewrites record 2 and recomputes every hash after it. */
static void rewritten_chain_caught_by_checkpoints(void **state)
{
	struct mg_audit_report r;
	struct mg_key *k = pub("ed25519");
	struct mg_audit *log;
	struct lines *ls;
	char *p;

	(void)state;
	make_log(3, KEYS "ed25519.key", true); /* checkpoint at 4 covers head 3 */
	assert_int_equal(mg_audit_open(logp, KEYS "ed25519.key", &log), 0);
	assert_int_equal(mg_audit_append(log, "event", "i", "after", NULL), 0);
	mg_audit_close(log);
	ls = read_lines();
	p = strstr(ls->l[2], " i=2 ");
	p[3] = '9';
	rechain(ls, 2);
	write_lines(ls);
	free(ls);
	/* The chain alone is consistent again... */
	assert_int_equal(mg_audit_verify(logp, NULL, NULL, NULL, &r), 0);
	/* ...but the signed checkpoint record is not, */
	expect_fault(k, NULL, MG_AUDIT_CHECKPOINT, 4, "does not verify");
	/* nor the checkpoint file, even unsigned-checked. */
	expect_fault(NULL, cpp, MG_AUDIT_ALTERED, 3, "rewritten");
	mg_key_free(k);
}

static void checkpoint_file_of_another_log_refused(void **state)
{
	char other[200];

	(void)state;
	make_log(2, KEYS "ed25519.key", true);
	snprintf(other, sizeof(other), "%s/other.checkpoint", dir);
	rename(cpp, other);
	unlink(logp);
	make_log(4, NULL, false);
	expect_fault(NULL, other, MG_AUDIT_CHECKPOINT, 0, "another log");
}

static void malformed_checkpoint_file_refused(void **state)
{
	struct mg_audit_report r;
	FILE *f;

	(void)state;
	make_log(1, NULL, false);
	f = fopen(cpp, "w");
	fputs("mgaudit-checkpoint log=00 index=1\n", f);
	fclose(f);
	mg_error_clear();
	assert_int_equal(mg_audit_verify(logp, NULL, cpp, NULL, &r), -1);
	assert_int_equal(mg_errno(), MG_ERR_PROTO_FORMAT);
	assert_non_null(strstr(mg_errmsg(), "not a checkpoint file"));
}

static void broken_existing_log_refused_on_open(void **state)
{
	struct mg_audit *log = NULL;
	struct lines *ls;
	char *c;

	(void)state;
	make_log(5, NULL, false);
	ls = read_lines();
	/* Another hex digit in the record's hash (flipping a bit could make 'a'
	 * or 'f' a non-hex character: "malformed", not "altered"). */
	c = &ls->l[3][strlen(ls->l[3]) - 5];
	*c = *c == '0' ? '1' : '0';
	write_lines(ls);
	free(ls);
	mg_error_clear();
	assert_int_equal(mg_audit_open(logp, NULL, &log), -1);
	assert_int_equal(mg_errno(), MG_ERR_PROTO_FORMAT);
	assert_non_null(strstr(mg_errmsg(), "index 3: altered"));
	assert_null(log);
}

/* A power cut can leave a record's start without its newline: open cuts it off. */
static void torn_final_record_cut_on_open(void **state)
{
	struct mg_audit *log = NULL;
	struct mg_audit_report r;
	struct lines *ls;
	FILE *f;

	(void)state;
	make_log(3, NULL, false);
	ls = read_lines();
	f = fopen(logp, "a");
	fprintf(f, "%.40s", ls->l[3]); /* the head of a record, no newline */
	fclose(f);
	free(ls);
	expect_fault(NULL, NULL, MG_AUDIT_TRUNCATED, 4, "cut short");
	assert_int_equal(mg_audit_open(logp, NULL, &log), 0);
	mg_audit_close(log);
	assert_int_equal(mg_audit_verify(logp, NULL, NULL, NULL, &r), 0);
	assert_int_equal(r.head_index, 4);
	ls = read_lines();
	assert_non_null(strstr(ls->l[4], " audit.torn_record_cut "));
	assert_non_null(strstr(ls->l[4], " bytes=40 "));
	free(ls);
}

static void second_writer_refused(void **state)
{
	struct mg_audit *a, *b = NULL;

	(void)state;
	assert_int_equal(mg_audit_open(logp, NULL, &a), 0);
	mg_error_clear();
	assert_int_equal(mg_audit_open(logp, NULL, &b), -1);
	assert_int_equal(mg_errno(), MG_ERR_IO);
	assert_non_null(strstr(mg_errmsg(), "locked by another writer"));
	mg_audit_close(a);
	assert_int_equal(mg_audit_open(logp, NULL, &b), 0);
	mg_audit_close(b);
}

static void checkpoint_needs_node_key(void **state)
{
	struct mg_audit *log;
	uint64_t cp;

	(void)state;
	assert_int_equal(mg_audit_open(logp, NULL, &log), 0);
	mg_error_clear();
	assert_int_equal(mg_audit_checkpoint(log), -1);
	assert_int_equal(mg_errno(), MG_ERR_USAGE);
	assert_false(mg_audit_last_checkpoint(log, &cp));
	mg_audit_close(log);
}

static void reopen_remembers_last_checkpoint(void **state)
{
	struct mg_audit *log;
	uint64_t cp;

	(void)state;
	make_log(2, KEYS "ed25519.key", true);
	assert_int_equal(mg_audit_open(logp, KEYS "ed25519.key", &log), 0);
	assert_true(mg_audit_last_checkpoint(log, &cp));
	assert_int_equal(cp, 3);
	assert_int_equal(mg_audit_append(log, "event", NULL), 0);
	assert_int_equal(mg_audit_checkpoint(log), 0);
	assert_true(mg_audit_last_checkpoint(log, &cp));
	assert_int_equal(cp, 5);
	mg_audit_close(log);
}

/* An operator's signed head, by another key than the node key that signs the log. */
static void exported_checkpoint_verifies(void **state)
{
	struct mg_audit_report r;
	struct mg_key *priv, *op = pub("p256"), *node = pub("ed25519");
	char out[200];

	(void)state;
	snprintf(out, sizeof(out), "%s/head.checkpoint", dir);
	make_log(4, KEYS "ed25519.key", true);
	assert_int_equal(mg_key_load_private(KEYS "p256.key", &priv), 0);
	assert_int_equal(mg_audit_export_checkpoint(logp, priv, out, &r), 0);
	assert_int_equal(r.head_index, 5);
	assert_int_equal(mg_audit_verify(logp, node, out, op, &r), 0);
	assert_true(r.checkpoints_signed && r.external_signed);
	assert_int_equal(r.external_index, 5);
	/* Checked with the node key alone, the operator's file is another key's. */
	expect_fault(node, out, MG_AUDIT_CHECKPOINT, 5, "not the given key");
	truncate_after(4);
	mg_error_clear();
	assert_int_equal(mg_audit_verify(logp, node, out, op, &r), -1);
	assert_int_equal(r.fault, MG_AUDIT_TRUNCATED);
	assert_int_equal(r.bad_index, 4);
	mg_key_free(priv);
	mg_key_free(op);
	mg_key_free(node);
}

static void fault_names(void **state)
{
	(void)state;
	assert_string_equal(mg_audit_fault_name(MG_AUDIT_OK), "ok");
	assert_string_equal(mg_audit_fault_name(MG_AUDIT_GAP), "gap");
	assert_string_equal(mg_audit_fault_name(MG_AUDIT_TRUNCATED), "truncated");
	assert_string_equal(mg_audit_fault_name((enum mg_audit_fault)99), "?");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(new_log_starts_with_genesis),
		T(append_then_verify_reports_head),
		T(reopen_continues_the_chain),
		T(values_are_escaped_one_record_per_line),
		T(bad_names_and_reserved_types_refused),
		T(overlong_record_refused),
		T(flipped_byte_reported_at_its_index),
		T(deleted_record_is_a_gap),
		T(deleted_genesis_is_a_gap_at_zero),
		T(swapped_records_are_a_reorder),
		T(repeated_record_is_a_reorder),
		T(cut_mid_record_is_truncated),
		T(empty_log_is_truncated),
		T(truncation_caught_by_checkpoint_file),
		T(checkpoint_signatures_checked_with_the_node_key),
		T(p256_node_key_checkpoints),
		T(rewritten_chain_caught_by_checkpoints),
		T(checkpoint_file_of_another_log_refused),
		T(malformed_checkpoint_file_refused),
		T(broken_existing_log_refused_on_open),
		T(torn_final_record_cut_on_open),
		T(second_writer_refused),
		T(checkpoint_needs_node_key),
		T(reopen_remembers_last_checkpoint),
		T(exported_checkpoint_verifies),
		T(fault_names),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
