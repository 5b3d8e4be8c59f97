/* SPDX-License-Identifier: BSD-3-Clause */
/** @file meshctl's telemetry reads (status, stats, drops, neighbours). */
#ifndef MG_MESHCTL_TELEMETRY_H
#define MG_MESHCTL_TELEMETRY_H

#include "json.h"

/* meshctl exit statuses (docs/meshctl.md, "meshctl(8)"). */
enum {
	MESHCTL_EXIT_OK = 0,
	MESHCTL_EXIT_REFUSED = 1, /* verification failed or the gateway refused */
	MESHCTL_EXIT_USAGE = 2,
	MESHCTL_EXIT_IO = 3,      /* file or socket error, gateway not reachable */
	MESHCTL_EXIT_PROTO = 4,   /* the gateway's reply made no sense */
};

enum { MESHCTL_FMT_TEXT, MESHCTL_FMT_JSON, MESHCTL_FMT_PROMETHEUS };

struct reply;

/** Query @p cmd and parse the reply; 0 or a MESHCTL_EXIT_* status. */
int mg_meshctl_fetch(const char *socket_path, const char *cmd, struct reply **out);
void mg_meshctl_reply_free(struct reply *r);
/** The reply's text, tokens and the token index of the command's object. */
const char *mg_meshctl_reply_body(const struct reply *r, const struct mg_json_tok **toks,
				  int *body);

/** `status`, `drops`, `neighbours` with an optional --json (argv[0] is the command). */
int mg_meshctl_show(const char *socket_path, int argc, char **argv);
/** `stats [--json | --prometheus]`. */
int mg_meshctl_stats(const char *socket_path, int argc, char **argv);
/** `attest --node-key PUB [...]`: fetch a signed report and verify it offline. */
int mg_meshctl_attest(const char *socket_path, int argc, char **argv);
/** `push FILE [--socket PATH]`: one snapshot to the control socket. */
int mg_meshctl_push(int argc, char **argv);
/** Stats and drops in the Prometheus text format (node_exporter textfile). */
int mg_meshctl_prometheus(const char *socket_path);

#endif /* MG_MESHCTL_TELEMETRY_H */
