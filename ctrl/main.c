/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * meshgw: the daemon. Reads gateway.conf once, brings up EAL, ports and
 * workers, then runs the control thread on the main lcore until SIGTERM/SIGINT.
 */
#include <errno.h>
#include <malloc.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#include <rte_eal.h>
#include <rte_errno.h>

#include "filehash.h"
#include "gateway.h"
#include "telemetry.h"

static struct mg_gateway gateway;

struct options {
	const char *config;
	int check;
};

static void usage(FILE *out)
{
	fprintf(out,
"Usage: meshgw [EAL options] -- -c FILE\n"
"       meshgw --check -c FILE\n"
"       meshgw --help | --version\n"
"\n"
"meshgw is an immutable service-mesh node gateway on DPDK. It reads gateway.conf\n"
"once at start (a later change on disk is drift, not a reload), brings up the\n"
"ports it names, runs one poll-mode worker per configured lcore and the control\n"
"thread on the EAL main lcore, and serves read-only telemetry on DPDK's\n"
"telemetry socket (/var/run/dpdk/<file-prefix>/dpdk_telemetry.v2).\n"
"\n"
"Options (after \"--\" when EAL options are given):\n"
"  -c, --config FILE  gateway.conf to run with (required)\n"
"      --check        validate FILE and exit: 0 if valid, 78 if not\n"
"  -h, --help         show this help and exit\n"
"  -V, --version      show the version and exit\n"
"\n"
"EAL options are DPDK's own, e.g. --lcores=0@0,1@1 (main lcore first, then the\n"
"lcores named in workers.lcores), --file-prefix=NAME, --no-huge -m 512.\n"
"Ports come from gateway.conf, not from -a/--vdev.\n"
"\n"
"Exit status: 0 stopped by SIGTERM/SIGINT; 64 bad command line; 69 EAL, port\n"
"or socket bring-up failed; 70 internal error; 78 gateway.conf invalid;\n"
"100 integrity drift detected (replace this instance).\n");
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config = optarg;
			break;
		case 'k':
			o->check = 1;
			break;
		case 'h':
			usage(stdout);
			exit(MG_EXIT_OK);
		case 'V':
			printf("meshgw %s\n", MG_VERSION);
			exit(MG_EXIT_OK);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "meshgw: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (!o->config) {
		fprintf(stderr, "meshgw: -c FILE is required (see --help)\n");
		return -1;
	}
	return 0;
}

/* Split argv at "--": EAL gets what is before, we get what is after. */
static int split_args(int argc, char **argv, int *eal_argc, char ***app_argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			*eal_argc = i;
			argv[i] = argv[0]; /* getopt wants a program name first */
			*app_argv = &argv[i];
			return argc - i;
		}
	}
	*eal_argc = 1;
	*app_argv = argv;
	return argc;
}

static void on_signal(int sig)
{
	(void)sig;
	__atomic_store_n(&gateway.quit, 1, __ATOMIC_RELAXED);
}

static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN); /* a client closing a socket is not fatal */
}

static int load_config(const char *path)
{
	if (mg_config_load(&gateway.cfg, path) < 0) {
		fprintf(stderr, "%s\n", mg_errmsg());
		return -1;
	}
	return 0;
}

static int hash_identity(void)
{
	if (mg_file_sha256(gateway.cfg.path, gateway.config_sha256) < 0 ||
	    mg_file_sha256("/proc/self/exe", gateway.binary_sha256) < 0) {
		fprintf(stderr, "meshgw: %s\n", mg_errmsg());
		return -1;
	}
	return 0;
}

/* Drift wins; then what kind of error stopped the start. */
static int exit_status_for(enum mg_err err, int gateway_status)
{
	if (gateway_status == MG_EXIT_DRIFT)
		return MG_EXIT_DRIFT;
	if (err == MG_ERR_USAGE)
		return MG_EXIT_USAGE;
	if (err >= MG_ERR_CONFIG_SYNTAX && err <= MG_ERR_CONFIG_VALUE)
		return MG_EXIT_CONFIG;
	if (err == MG_ERR_INTERNAL)
		return MG_EXIT_SOFTWARE;
	return MG_EXIT_UNAVAILABLE;
}

/*
 * Fault every page in now, and every page mapped later as it is mapped: a
 * worker that touches a page of a connection table for the first time (EAL
 * memory without hugepages is plain 4 KiB pages, never pre-faulted) stalls
 * tens of µs in the kernel, more than a loop may take (mtls_flood.sh found
 * 340 such faults in a handshake flood). Without the right to lock (no
 * CAP_IPC_LOCK, RLIMIT_MEMLOCK) meshgw runs on and says so.
 */
static void lock_memory(void)
{
	/* Locked heap must not be given back and taken again: each time would
	 * populate its pages anew (OpenSSL allocates and frees per handshake). */
	mallopt(M_TRIM_THRESHOLD, -1);
	mallopt(M_MMAP_MAX, 0);
	if (mlockall(MCL_CURRENT | MCL_FUTURE) != 0)
		fprintf(stderr, "meshgw: warning: mlockall: %s; workers may stall on page faults\n",
			strerror(errno));
}

static int run(int eal_argc, char **argv)
{
	int rc = MG_EXIT_OK;

	if (rte_eal_init(eal_argc, argv) < 0) {
		fprintf(stderr, "meshgw: EAL init failed: %s\n", rte_strerror(rte_errno));
		return MG_EXIT_UNAVAILABLE;
	}
	lock_memory();
	if (mg_gateway_start(&gateway) < 0 || mg_telemetry_register(&gateway) < 0) {
		fprintf(stderr, "meshgw: %s\n", mg_errmsg());
		rc = exit_status_for(mg_errno(), gateway.exit_status);
		goto out;
	}
	fprintf(stderr, "meshgw: %s running: %u worker(s), %u port(s)\n",
		gateway.cfg.node_name, gateway.n_workers, gateway.n_ports);
	mg_gateway_run(&gateway);
	rc = gateway.exit_status;
	fprintf(stderr, "meshgw: stopping%s\n", rc == MG_EXIT_DRIFT ? " (drift)" : "");
out:
	mg_gateway_stop(&gateway);
	rte_eal_cleanup();
	return rc;
}

int main(int argc, char **argv)
{
	struct options opt = { 0 };
	char **app_argv;
	int eal_argc, app_argc;

	/* Nothing meshgw execs may gain privileges (there is nothing it execs). */
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	app_argc = split_args(argc, argv, &eal_argc, &app_argv);
	if (parse_options(app_argc, app_argv, &opt) < 0)
		return MG_EXIT_USAGE;
	if (load_config(opt.config) < 0)
		return MG_EXIT_CONFIG;
	if (opt.check) {
		printf("%s: ok\n", opt.config);
		return MG_EXIT_OK;
	}
	if (hash_identity() < 0)
		return MG_EXIT_UNAVAILABLE;
	install_signals();
	return run(eal_argc, argv);
}
