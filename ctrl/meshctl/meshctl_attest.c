/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * meshctl attest: ask the gateway for a report signed by its node key, with a
 * fresh nonce, and verify it here, offline, against the node's public key and
 * whatever the operator expects (snapshot digest, binary, config).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "attest.h"
#include "filehash.h"
#include "meshctl_telemetry.h"

static const char usage[] =
"Usage: meshctl [-f PREFIX | -s SOCKET] attest --node-key PUBLIC [--nonce HEX]\n"
"       [--expect-snapshot DIGEST] [--expect-binary SHA256] [--expect-config SHA256]\n"
"Fetch an attestation report signed by the gateway's node key and verify it:\n"
"the signature (with PUBLIC, e.g. <state_dir>/node.key.pub), the nonce (random\n"
"unless given) and each --expect-*. Exit 0 if all hold, 1 if any does not.\n";

struct expect {
	const char *node_key, *nonce, *snapshot, *binary, *config;
};

static int parse(int argc, char **argv, struct expect *e)
{
	static const struct option longopts[] = {
		{ "node-key", required_argument, NULL, 'k' },
		{ "nonce", required_argument, NULL, 'n' },
		{ "expect-snapshot", required_argument, NULL, 's' },
		{ "expect-binary", required_argument, NULL, 'b' },
		{ "expect-config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'k': e->node_key = optarg; break;
		case 'n': e->nonce = optarg; break;
		case 's': e->snapshot = optarg; break;
		case 'b': e->binary = optarg; break;
		case 'c': e->config = optarg; break;
		case 'h': fputs(usage, stdout); return 1;
		default: fputs(usage, stderr); return -1;
		}
	}
	if (optind != argc || !e->node_key || (e->nonce && !mg_attest_nonce_ok(e->nonce))) {
		fputs(usage, stderr);
		return -1;
	}
	return 0;
}

/* Rebuild the report from the reply: numbers as written, signers joined by ','. */
static int report_from_reply(struct reply *rep, struct mg_attest_report *r, char *sig,
			     size_t sig_size)
{
	const struct mg_json_tok *t;
	int body;
	const char *buf = mg_meshctl_reply_body(rep, &t, &body);

	memset(r, 0, sizeof(*r));
	for (int f = 0; f < MG_ATTEST__COUNT; f++) {
		int v = mg_json_get(buf, t, (uint32_t)body, mg_attest_field_name(f));
		size_t n = 0;

		if (v < 0)
			return -1;
		if (t[v].type == MG_JSON_ARRAY) {
			for (uint32_t i = 0, e = (uint32_t)v + 1; i < t[v].size; i++, e = t[e].next) {
				if (n + 66 >= MG_ATTEST_VALUE_MAX)
					return -1;
				n += (size_t)snprintf(r->value[f] + n, MG_ATTEST_VALUE_MAX - n, "%s",
						      i ? "," : "");
				n += mg_json_string(buf, &t[e], r->value[f] + n, MG_ATTEST_VALUE_MAX - n);
			}
		} else if (t[v].type == MG_JSON_STRING) {
			mg_json_string(buf, &t[v], r->value[f], MG_ATTEST_VALUE_MAX);
		} else {
			snprintf(r->value[f], MG_ATTEST_VALUE_MAX, "%.*s", (int)(t[v].end - t[v].start),
				 buf + t[v].start);
		}
	}
	body = mg_json_get(buf, t, (uint32_t)body, "signature");
	if (body < 0 || t[body].type != MG_JSON_STRING)
		return -1;
	mg_json_string(buf, &t[body], sig, sig_size);
	return 0;
}

static int check(const char *what, const char *got, const char *want)
{
	int ok = strcmp(got, want) == 0;

	printf("%-18s %s%s%s\n", what, ok ? "ok" : "MISMATCH: got ", ok ? "" : got,
	       ok ? "" : "");
	return ok;
}

static int verify(const struct expect *e, const struct mg_attest_report *r, const char *sig)
{
	struct mg_key *pub = NULL;
	char id[65];
	int ok = 1;

	if (mg_key_load_public(e->node_key, &pub) < 0) {
		fprintf(stderr, "meshctl: %s\n", mg_errmsg());
		return MESHCTL_EXIT_IO;
	}
	for (int f = 0; f < MG_ATTEST__COUNT; f++)
		printf("%-18s %s\n", mg_attest_field_name(f), r->value[f]);
	mg_hex(mg_key_id(pub), MG_KEY_ID_LEN, id);
	ok &= check("node key id", r->value[MG_ATTEST_node_key_id], id);
	if (mg_attest_verify(r, pub, sig) < 0) {
		printf("%-18s BAD: %s\n", "signature", mg_errmsg());
		ok = 0;
	} else {
		printf("%-18s valid\n", "signature");
	}
	ok &= check("nonce", r->value[MG_ATTEST_nonce], e->nonce);
	if (e->snapshot)
		ok &= check("snapshot digest", r->value[MG_ATTEST_snapshot_digest], e->snapshot);
	if (e->binary)
		ok &= check("binary", r->value[MG_ATTEST_binary_sha256], e->binary);
	if (e->config)
		ok &= check("config", r->value[MG_ATTEST_config_sha256], e->config);
	mg_key_free(pub);
	printf("%s\n", ok ? "attestation OK" : "attestation FAILED");
	return ok ? MESHCTL_EXIT_OK : MESHCTL_EXIT_REFUSED;
}

int mg_meshctl_attest(const char *socket_path, int argc, char **argv)
{
	struct expect e = { 0 };
	struct mg_attest_report r;
	struct reply *rep;
	char nonce[33], cmd[128], sig[160];
	uint8_t raw[16];
	int rc = parse(argc, argv, &e);

	if (rc)
		return rc > 0 ? MESHCTL_EXIT_OK : MESHCTL_EXIT_USAGE;
	if (!e.nonce) {
		if (RAND_bytes(raw, sizeof(raw)) != 1)
			return MESHCTL_EXIT_IO;
		mg_hex(raw, sizeof(raw), nonce);
		e.nonce = nonce;
	}
	snprintf(cmd, sizeof(cmd), "/meshgw/attest,%s", e.nonce);
	rc = mg_meshctl_fetch(socket_path, cmd, &rep);
	if (rc)
		return rc;
	if (report_from_reply(rep, &r, sig, sizeof(sig)) < 0) {
		fprintf(stderr, "meshctl: attestation reply lacks fields\n");
		mg_meshctl_reply_free(rep);
		return MESHCTL_EXIT_PROTO;
	}
	mg_meshctl_reply_free(rep);
	return verify(&e, &r, sig);
}
