/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * meshctl's read side: status, stats, drops, neighbours over DPDK's telemetry
 * socket (SOCK_SEQPACKET, one JSON reply per command). Nothing here writes.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "json.h"
#include "meshctl_telemetry.h"

#define REPLY_MAX (256 * 1024)
#define MAX_TOKENS 8192

struct reply {
	char *buf;
	size_t len;
	struct mg_json_tok toks[MAX_TOKENS];
	int body; /* token index of the command's value */
};

static int connect_socket(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "meshctl: socket path too long: %s\n", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr, "meshctl: cannot connect to %s: %s (is meshgw running "
			"with this --file-prefix?)\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Send one command and read its reply; the first message is DPDK's banner. */
static int query(const char *path, const char *cmd, struct reply *r)
{
	int fd = connect_socket(path);
	ssize_t n;

	if (fd < 0)
		return MESHCTL_EXIT_IO;
	n = recv(fd, r->buf, REPLY_MAX - 1, 0); /* banner: version, max_output_len */
	if (n > 0 && send(fd, cmd, strlen(cmd), 0) == (ssize_t)strlen(cmd))
		n = recv(fd, r->buf, REPLY_MAX - 1, 0);
	close(fd);
	if (n <= 0) {
		fprintf(stderr, "meshctl: no reply to %s from %s\n", cmd, path);
		return MESHCTL_EXIT_IO;
	}
	r->len = (size_t)n;
	r->buf[n] = '\0';
	return 0;
}

/* The reply is {"<cmd>": value} (without ",params"); a refused command's value is null. */
static int parse_reply(const char *cmd, struct reply *r)
{
	char key[128];

	snprintf(key, sizeof(key), "%.*s", (int)strcspn(cmd, ","), cmd);
	if (mg_json_parse(r->buf, r->len, r->toks, MAX_TOKENS) < 0) {
		fprintf(stderr, "meshctl: bad reply to %s: %s\n", key, mg_errmsg());
		return MESHCTL_EXIT_PROTO;
	}
	r->body = mg_json_get(r->buf, r->toks, 0, key);
	if (r->body < 0 || r->toks[r->body].type != MG_JSON_OBJECT) {
		fprintf(stderr, "meshctl: %s: the gateway has no such command or refused it\n",
			key);
		return MESHCTL_EXIT_PROTO;
	}
	return 0;
}

int mg_meshctl_fetch(const char *socket_path, const char *cmd, struct reply **out)
{
	struct reply *r = calloc(1, sizeof(*r));
	int rc;

	if (!r || !(r->buf = malloc(REPLY_MAX))) {
		free(r);
		return MESHCTL_EXIT_IO;
	}
	rc = query(socket_path, cmd, r);
	if (rc == 0)
		rc = parse_reply(cmd, r);
	if (rc != 0) {
		mg_meshctl_reply_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

void mg_meshctl_reply_free(struct reply *r)
{
	if (r)
		free(r->buf);
	free(r);
}

/* Print the raw JSON body: exactly the telemetry object, for scripts. */
static void print_json(const struct reply *r)
{
	const struct mg_json_tok *t = &r->toks[r->body];

	printf("%.*s\n", (int)(t->end - t->start), r->buf + t->start);
}

static void print_value(const struct reply *r, uint32_t v)
{
	const struct mg_json_tok *t = &r->toks[v];
	char s[1024];

	if (t->type == MG_JSON_STRING) {
		mg_json_string(r->buf, t, s, sizeof(s));
		printf("%s", s);
	} else if (t->type == MG_JSON_ARRAY) {
		/* Numbers on one line; strings (table rows) one per line. */
		for (uint32_t i = 0, e = v + 1; i < t->size; i++, e = r->toks[e].next) {
			if (r->toks[e].type == MG_JSON_STRING)
				printf("\n    ");
			else if (i)
				printf(", ");
			print_value(r, e);
		}
	} else {
		printf("%.*s", (int)(t->end - t->start), r->buf + t->start);
	}
}

/* "key: value" lines, keys padded to one column, in the gateway's order. */
static void print_text(const struct reply *r, int skip_zero)
{
	const struct mg_json_tok *obj = &r->toks[r->body];
	uint32_t k = (uint32_t)r->body + 1;

	for (uint32_t m = 0; m < obj->size; m++) {
		const struct mg_json_tok *key = &r->toks[k], *val = &r->toks[k + 1];
		char name[256];

		mg_json_string(r->buf, key, name, sizeof(name));
		if (!(skip_zero && val->type == MG_JSON_NUMBER &&
		      val->end - val->start == 1 && r->buf[val->start] == '0')) {
			printf("%-36s ", name);
			print_value(r, k + 1);
			printf("\n");
		}
		k = val->next;
	}
}

static int show(const char *socket_path, const char *cmd, int json, int skip_zero)
{
	struct reply *r;
	int rc = mg_meshctl_fetch(socket_path, cmd, &r);

	if (rc)
		return rc;
	if (json)
		print_json(r);
	else
		print_text(r, skip_zero);
	mg_meshctl_reply_free(r);
	return 0;
}

static int parse_format(int argc, char **argv, const char *usage, int allow_prom)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "prometheus", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, fmt = MESHCTL_FMT_TEXT;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'j')
			fmt = MESHCTL_FMT_JSON;
		else if (c == 'p' && allow_prom)
			fmt = MESHCTL_FMT_PROMETHEUS;
		else if (c == 'h') {
			printf("%s", usage);
			return -2;
		} else {
			fprintf(stderr, "%s", usage);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "meshctl: unexpected argument '%s'\n%s", argv[optind], usage);
		return -1;
	}
	return fmt;
}

int mg_meshctl_show(const char *socket_path, int argc, char **argv)
{
	static const char *const cmds[][2] = {
		{ "status", "/meshgw/status" },
		{ "drops", "/meshgw/drops" },
		{ "cycles", "/meshgw/cycles" },
		{ "neighbours", "/meshgw/neighbours" },
		{ "policy", "/meshgw/policy" },
		{ "audit-status", "/meshgw/audit" },
		{ "faults", "/meshgw/faults" },
		{ "conns", "/meshgw/conns" },
		{ "tcp", "/meshgw/tcp" },
		{ "tls", "/meshgw/tls" },
		{ "peers", "/meshgw/peers" },
		{ "l7", "/meshgw/l7" },
		{ "rules", "/meshgw/l7/rules" },
	};
	char usage[256];
	int fmt, rc;

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[0], cmds[i][0]) != 0)
			continue;
		snprintf(usage, sizeof(usage), "Usage: meshctl [-f PREFIX | -s SOCKET] %s [--json]\n",
			 cmds[i][0]);
		fmt = parse_format(argc, argv, usage, 0);
		if (fmt < 0)
			return fmt == -2 ? 0 : MESHCTL_EXIT_USAGE;
		rc = show(socket_path, cmds[i][1], fmt == MESHCTL_FMT_JSON,
			  strcmp(argv[0], "drops") == 0);
		/* conns in text: the states, then who is connected through which rule */
		if (rc == 0 && fmt != MESHCTL_FMT_JSON && strcmp(argv[0], "conns") == 0)
			rc = show(socket_path, "/meshgw/peers", 0, 0);
		return rc;
	}
	return MESHCTL_EXIT_USAGE;
}

int mg_meshctl_stats(const char *socket_path, int argc, char **argv)
{
	static const char usage[] =
		"Usage: meshctl [-f PREFIX | -s SOCKET] stats [--json | --prometheus]\n";
	int fmt = parse_format(argc, argv, usage, 1);

	if (fmt < 0)
		return fmt == -2 ? 0 : MESHCTL_EXIT_USAGE;
	if (fmt == MESHCTL_FMT_PROMETHEUS)
		return mg_meshctl_prometheus(socket_path);
	return show(socket_path, "/meshgw/stats", fmt == MESHCTL_FMT_JSON, 0);
}

const char *mg_meshctl_reply_body(const struct reply *r, const struct mg_json_tok **toks,
				  int *body)
{
	*toks = r->toks;
	*body = r->body;
	return r->buf;
}
