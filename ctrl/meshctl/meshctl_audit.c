/* SPDX-License-Identifier: BSD-3-Clause */
/* meshctl audit: verify a hash-chained audit log, export a signed head. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "audit.h"
#include "filehash.h"
#include "keys.h"
#include "meshctl_cmds.h"
#include "meshctl_telemetry.h"

static const char audit_help[] =
"Usage: meshctl audit COMMAND ARGS\n"
"\n"
"  verify LOG [--checkpoint-key PUBLIC] [--checkpoint FILE [--export-key PUBLIC]]\n"
"      Walk the hash chain from the genesis record and print OK with the head\n"
"      index and hash, or the first bad index and why: altered (a changed\n"
"      byte), malformed, broken_link, gap (records deleted), reorder,\n"
"      truncated (the log ends before the checkpoint's head, or mid-record),\n"
"      checkpoint (a signature that does not verify).\n"
"      --checkpoint-key: the node's public key (gateway.conf node_key); every\n"
"      checkpoint signature is checked with it. Without it they are not.\n"
"      --checkpoint FILE: a signed head kept outside the log. Without it,\n"
"      LOG.checkpoint, which the gateway rewrites at each checkpoint, is used\n"
"      when it exists. Only a checkpoint outside the log reveals a cut tail.\n"
"      --export-key: the key that signed FILE if not the node's (see below).\n"
"  checkpoint LOG --key PRIVATE -o FILE\n"
"      Verify LOG, then write its head signed with PRIVATE to FILE, to keep\n"
"      off the box and pass to 'verify --checkpoint' later. Never writes LOG.\n"
"\n"
"Exit status: 0 ok; 1 the log or a checkpoint does not verify; 2 usage; 3 i/o.\n";

struct audit_opts {
	const char *log, *checkpoint, *checkpoint_key, *export_key, *key, *out;
};

static MG_RESULT parse(int argc, char **argv, bool for_verify, struct audit_opts *o)
{
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], **v = NULL;

		if (a[0] != '-') {
			MG_ENSURE(!o->log, USAGE, "unexpected argument '%s'", a);
			o->log = a;
			continue;
		}
		if (for_verify && !strcmp(a, "--checkpoint"))
			v = &o->checkpoint;
		else if (for_verify && !strcmp(a, "--checkpoint-key"))
			v = &o->checkpoint_key;
		else if (for_verify && !strcmp(a, "--export-key"))
			v = &o->export_key;
		else if (!for_verify && (!strcmp(a, "--key") || !strcmp(a, "-k")))
			v = &o->key;
		else if (!for_verify && (!strcmp(a, "--out") || !strcmp(a, "-o")))
			v = &o->out;
		MG_ENSURE(v, USAGE, "unknown option '%s'", a);
		MG_ENSURE(i + 1 < argc, USAGE, "option '%s' needs a value", a);
		*v = argv[++i];
	}
	MG_ENSURE(o->log, USAGE, "LOG is required");
	return 0;
}

static void print_ok(const char *log, const struct mg_audit_report *r, const char *cp)
{
	char hex[65];

	mg_hex(r->head_hash, 32, hex);
	printf("%s: OK: %llu records, head index %llu hash %s\n", log,
	       (unsigned long long)r->n_records, (unsigned long long)r->head_index, hex);
	if (r->n_checkpoints)
		printf("  checkpoints in the log: %llu, the last at index %llu (%s)\n",
		       (unsigned long long)r->n_checkpoints,
		       (unsigned long long)r->last_checkpoint,
		       r->checkpoints_signed ? "signatures checked"
					     : "signatures not checked: no --checkpoint-key");
	else
		printf("  checkpoints in the log: none\n");
	if (r->have_external)
		printf("  checkpoint file %s: head index %llu reached (%s)\n", cp,
		       (unsigned long long)r->external_index,
		       r->external_signed ? "signature checked"
					  : "signature not checked: no --checkpoint-key");
	else
		printf("  no checkpoint file: a cut tail would go unnoticed\n");
}

static int verify(int argc, char **argv)
{
	struct mg_audit_report r;
	struct audit_opts o = { 0 };
	struct mg_key *pub = NULL, *export_pub = NULL;
	char cp[PATH_MAX];
	struct stat st;
	int rc = MESHCTL_EXIT_OK;

	if (parse(argc, argv, true, &o) < 0)
		return mg_meshctl_fail("audit verify");
	if (!o.checkpoint && mg_audit_checkpoint_path(o.log, cp, sizeof(cp)) == 0 &&
	    stat(cp, &st) == 0)
		o.checkpoint = cp;
	if ((o.checkpoint_key && mg_key_load_public(o.checkpoint_key, &pub) < 0) ||
	    (o.export_key && mg_key_load_public(o.export_key, &export_pub) < 0)) {
		rc = mg_meshctl_fail("audit verify");
		goto out;
	}
	if (mg_audit_verify(o.log, pub, o.checkpoint, export_pub, &r) == 0) {
		print_ok(o.log, &r, o.checkpoint);
	} else if (r.fault != MG_AUDIT_OK) {
		printf("%s: BAD at index %llu: %s: %s\n", o.log, (unsigned long long)r.bad_index,
		       mg_audit_fault_name(r.fault), r.why);
		if (r.n_records)
			printf("  records 0..%llu verify\n", (unsigned long long)r.head_index);
		rc = MESHCTL_EXIT_REFUSED;
	} else {
		rc = mg_meshctl_fail("audit verify");
	}
out:
	mg_key_free(pub);
	mg_key_free(export_pub);
	return rc;
}

static int checkpoint(int argc, char **argv)
{
	struct mg_audit_report r;
	struct audit_opts o = { 0 };
	struct mg_key *key = NULL;
	char hex[65];
	int rc = MESHCTL_EXIT_OK;

	if (parse(argc, argv, false, &o) < 0)
		return mg_meshctl_fail("audit checkpoint");
	if (!o.key || !o.out) {
		fprintf(stderr, "meshctl audit checkpoint: --key PRIVATE and -o FILE are required\n");
		return MESHCTL_EXIT_USAGE;
	}
	if (mg_key_load_private(o.key, &key) < 0 ||
	    mg_audit_export_checkpoint(o.log, key, o.out, &r) < 0) {
		rc = mg_meshctl_fail("audit checkpoint");
	} else {
		mg_hex(r.head_hash, 32, hex);
		printf("%s: head index %llu hash %s signed into %s\n", o.log,
		       (unsigned long long)r.head_index, hex, o.out);
	}
	mg_key_free(key);
	return rc;
}

int mg_meshctl_audit(int argc, char **argv)
{
	bool help = argc < 2;

	for (int i = 1; i < argc; i++)
		help |= !strcmp(argv[i], "-h") || !strcmp(argv[i], "--help");
	if (help) {
		fputs(audit_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? MESHCTL_EXIT_USAGE : MESHCTL_EXIT_OK;
	}
	if (!strcmp(argv[1], "verify"))
		return verify(argc, argv);
	if (!strcmp(argv[1], "checkpoint"))
		return checkpoint(argc, argv);
	fprintf(stderr, "meshctl audit: unknown command '%s'\n%s", argv[1], audit_help);
	return MESHCTL_EXIT_USAGE;
}
