/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * meshctl: the operator CLI. Reads go to the gateway's telemetry socket;
 * snapshot tooling and audit verification work on files.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meshctl_cmds.h"
#include "meshctl_telemetry.h"

#define TELEMETRY_FMT "/var/run/dpdk/%s/dpdk_telemetry.v2"

static void usage(FILE *out)
{
	fprintf(out,
"Usage: meshctl [-f PREFIX | -s SOCKET] COMMAND [ARGS]\n"
"\n"
"Read the gateway (telemetry socket, read-only):\n"
"  status [--json]                  version, uptime, workers, ports, links, hashes\n"
"  stats [--json | --prometheus]    packet counters per port, worker and total\n"
"  drops [--json]                   dropped packets by reason (text: non-zero only)\n"
"  cycles [--json]                  workers' busy cycles by stage; per packet, KiB,\n"
"                                   connection, TLS handshake, HTTP request\n"
"  neighbours [--json]              the gateway's ARP table\n"
"  policy [--json]                  active snapshot, signers, validity, loader counters\n"
"  audit-status [--json]            audit log head and last checkpoint\n"
"  faults [--json]                  fault injection per port: rates and counters\n"
"  conns [--json]                   TCP connections by state per worker, proxy pairs;\n"
"                                   in text also each pair's peer ID, rule, generation\n"
"  tcp [--json]                     TCP and proxy counters, drops and close reasons\n"
"  tls [--json]                     mTLS verdicts and refusals by reason, the node's SVIDs\n"
"  peers [--json]                   proxied pairs: listener, client, peer SPIFFE ID, rule,\n"
"                                   generation, requests (the first 32)\n"
"  l7 [--json]                      HTTP requests: verdicts, parser and path refusals\n"
"  rules [--json]                   allowed and denied requests per rule with http terms\n"
"  attest --node-key PUB [--expect-snapshot D]  signed report, verified here\n"
"\n"
"Change the gateway (control socket, whole signed snapshots only):\n"
"  push FILE [--socket PATH]        accepted / unchanged / refused with the reason\n"
"\n"
"Keys, snapshots and audit (files; see 'meshctl COMMAND --help'):\n"
"  keygen                           make a signing key pair\n"
"  snapshot build|sign|signed-bytes|attach-sig|verify|inspect|digest\n"
"  audit verify|checkpoint          check a hash-chained audit log, export its head\n"
"\n"
"Options:\n"
"  -f, --prefix PREFIX   the gateway's EAL --file-prefix (default: $MESHGW_PREFIX,\n"
"                        else \"rte\"): socket " TELEMETRY_FMT "\n"
"  -s, --socket PATH     the telemetry socket path itself\n"
"  -h, --help            this help\n"
"  -V, --version         the version\n"
"\n"
"Exit status: 0 ok; 1 refused or verification failed; 2 usage; 3 i/o (file,\n"
"socket, gateway not reachable); 4 the gateway's reply made no sense.\n", "PREFIX");
}

static int telemetry_command(const char *socket_path, int argc, char **argv)
{
	if (strcmp(argv[0], "attest") == 0)
		return mg_meshctl_attest(socket_path, argc, argv);
	if (strcmp(argv[0], "stats") == 0)
		return mg_meshctl_stats(socket_path, argc, argv);
	return mg_meshctl_show(socket_path, argc, argv);
}

static int file_command(int argc, char **argv)
{
	if (strcmp(argv[0], "push") == 0)
		return mg_meshctl_push(argc, argv);
	if (strcmp(argv[0], "keygen") == 0)
		return mg_meshctl_keygen(argc, argv);
	if (strcmp(argv[0], "snapshot") == 0)
		return mg_meshctl_snapshot(argc, argv);
	if (strcmp(argv[0], "audit") == 0)
		return mg_meshctl_audit(argc, argv);
	fprintf(stderr, "meshctl: unknown command '%s' (see meshctl --help)\n", argv[0]);
	return MESHCTL_EXIT_USAGE;
}

int main(int argc, char **argv)
{
	static const char *const reads[] = { "status", "stats", "drops", "neighbours", "policy",
					     "audit-status", "attest", "faults", "conns", "tcp", "tls", "peers",
					     "l7", "rules", "cycles" };
	const char *prefix = getenv("MESHGW_PREFIX"), *socket_path = NULL;
	char path[256];
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
			printf("meshctl %s\n", MG_VERSION);
			return 0;
		} else if ((!strcmp(a, "-f") || !strcmp(a, "--prefix")) && i + 1 < argc) {
			prefix = argv[++i];
		} else if ((!strcmp(a, "-s") || !strcmp(a, "--socket")) && i + 1 < argc) {
			socket_path = argv[++i];
		} else {
			fprintf(stderr, "meshctl: bad option '%s'\n", a);
			usage(stderr);
			return MESHCTL_EXIT_USAGE;
		}
	}
	if (i == argc) {
		usage(stderr);
		return MESHCTL_EXIT_USAGE;
	}
	if (!socket_path) {
		/* A prefix is a directory name under /var/run/dpdk, never a path. */
		if (!prefix || !*prefix || strchr(prefix, '/'))
			prefix = "rte";
		snprintf(path, sizeof(path), TELEMETRY_FMT, prefix);
		socket_path = path;
	}
	for (size_t k = 0; k < sizeof(reads) / sizeof(reads[0]); k++)
		if (strcmp(argv[i], reads[k]) == 0)
			return telemetry_command(socket_path, argc - i, argv + i);
	return file_command(argc - i, argv + i);
}
