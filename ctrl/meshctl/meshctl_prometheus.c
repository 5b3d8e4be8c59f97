/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Stats and drops in the Prometheus text exposition format, suitable for
 * node_exporter's textfile collector. Flat telemetry keys map to metrics:
 *   port/<name>/<c>   -> meshgw_port_<c>_total{port="<name>"}
 *                        (gauges: mbufs_free, loop_max_cycles and
 *                        policy_generation, named without _total)
 *   pmd/unmap_gate/wait_us_max, neighbours/pinned -> gauges, without _total
 *   worker/<i>/<c>    -> meshgw_worker_<c>_total{worker="<i>"}
 *   total/<c>         -> meshgw_<c>_total
 *   slowpath/<c>      -> meshgw_slowpath_<c>_total
 *   neighbours/count  -> meshgw_neighbours (gauge)
 *   drops: <reason>   -> meshgw_drops_total{reason="<reason>"}
 * All samples of one metric are printed together under one HELP/TYPE.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meshctl_telemetry.h"

#define MAX_SAMPLES 2048

struct sample {
	char metric[160];
	char labels[160];
	char value[32];
	int gauge;
};

static int by_metric(const void *a, const void *b)
{
	const struct sample *x = a, *y = b;
	int c = strcmp(x->metric, y->metric);

	return c ? c : strcmp(x->labels, y->labels);
}

/*
 * Keys that are not counts of events: a level, a maximum, a generation
 * number. As counters, rate() would take a fall for a reset; they are gauges.
 */
static int is_gauge(const char *key)
{
	static const char *const last[] = { "/mbufs_free", "/loop_max_cycles",
					    "/policy_generation", "/wait_us_max",
					    "neighbours/pinned" };
	size_t n = strlen(key);

	for (size_t i = 0; i < sizeof(last) / sizeof(last[0]); i++) {
		size_t m = strlen(last[i]);

		if (n >= m && strcmp(key + n - m, last[i]) == 0)
			return 1;
	}
	return 0;
}

/* Split "a/b/c" on its first and last slashes. */
static void to_sample(const char *key, const char *value, struct sample *s)
{
	const char *dot1 = strchr(key, '/'), *dot2 = strrchr(key, '/');
	int group_len = dot1 ? (int)(dot1 - key) : 0;
	const char *total;

	memset(s, 0, sizeof(*s));
	snprintf(s->value, sizeof(s->value), "%s", value);
	s->gauge = is_gauge(key);
	total = s->gauge ? "" : "_total";
	if (strcmp(key, "neighbours/count") == 0) {
		snprintf(s->metric, sizeof(s->metric), "meshgw_neighbours");
		s->gauge = 1;
	} else if (dot1 && dot2 != dot1 &&
		   (!strncmp(key, "port/", 5) || !strncmp(key, "worker/", 7))) {
		snprintf(s->metric, sizeof(s->metric), "meshgw_%.*s_%s%s", group_len,
			 key, dot2 + 1, total);
		snprintf(s->labels, sizeof(s->labels), "{%.*s=\"%.*s\"}", group_len, key,
			 (int)(dot2 - dot1 - 1), dot1 + 1);
	} else if (dot1 && !strncmp(key, "total/", 6)) {
		snprintf(s->metric, sizeof(s->metric), "meshgw_%s%s", dot1 + 1, total);
	} else {
		snprintf(s->metric, sizeof(s->metric), "meshgw_%s%s", key, total);
		for (char *c = s->metric; *c; c++)
			if (*c == '/')
				*c = '_';
	}
}

/*
 * /meshgw/tls: "GROUP/NAME" counts become meshgw_tls_GROUP_total{LABEL="NAME"};
 * "svid/NAME/FIELD" become per-SVID gauges; the rest meshgw_tls_KEY.
 */
static void to_tls_sample(const char *key, const char *value, struct sample *s)
{
	static const char *const labelled[][2] = {
		{ "authz/", "verdict" }, { "svid_refused/", "reason" },
		{ "handshake_error/", "error" }, { "record_error/", "error" },
	};
	const char *slash = strchr(key, '/');

	memset(s, 0, sizeof(*s));
	snprintf(s->value, sizeof(s->value), "%s", value);
	for (size_t i = 0; i < sizeof(labelled) / sizeof(labelled[0]); i++) {
		size_t n = strlen(labelled[i][0]);

		if (strncmp(key, labelled[i][0], n) == 0) {
			snprintf(s->metric, sizeof(s->metric), "meshgw_tls_%.*s_total", (int)n - 1, key);
			snprintf(s->labels, sizeof(s->labels), "{%s=\"%s\"}", labelled[i][1], key + n);
			return;
		}
	}
	if (strncmp(key, "svid/", 5) == 0 && slash && strrchr(key, '/') != slash) {
		const char *last = strrchr(key, '/');

		s->gauge = 1;
		snprintf(s->metric, sizeof(s->metric), "meshgw_svid_%s%s", last + 1,
			 strcmp(last + 1, "not_after") == 0 ? "_seconds" : "");
		snprintf(s->labels, sizeof(s->labels), "{svid=\"%.*s\"}", (int)(last - slash - 1),
			 slash + 1);
		return;
	}
	s->gauge = strcmp(key, "handshakes_active") == 0;
	snprintf(s->metric, sizeof(s->metric), "meshgw_tls_%s%s", key, s->gauge ? "" : "_total");
	for (char *c = s->metric; *c; c++)
		if (*c == '/')
			*c = '_';
}

enum { PROM_STATS, PROM_DROPS, PROM_TLS };

static int collect(const char *socket_path, const char *cmd, int drops,
		   struct sample *out, int n)
{
	const struct mg_json_tok *toks;
	struct reply *r;
	const char *buf;
	int body, rc = mg_meshctl_fetch(socket_path, cmd, &r);
	uint32_t k;

	if (rc)
		return -rc;
	buf = mg_meshctl_reply_body(r, &toks, &body);
	k = (uint32_t)body + 1;
	for (uint32_t m = 0; m < toks[body].size && n < MAX_SAMPLES; m++) {
		char key[128], val[32];

		mg_json_string(buf, &toks[k], key, sizeof(key));
		if (toks[k + 1].type == MG_JSON_NUMBER) {
			snprintf(val, sizeof(val), "%.*s",
				 (int)(toks[k + 1].end - toks[k + 1].start), buf + toks[k + 1].start);
			if (!drops && strcmp(key, "total/drops") == 0) {
				/* The sum of meshgw_drops_total{reason}: not a metric of its own. */
				k = toks[k + 1].next;
				continue;
			}
			if (drops == PROM_TLS) {
				to_tls_sample(key, val, &out[n]);
			} else if (drops) {
				memset(&out[n], 0, sizeof(out[n]));
				snprintf(out[n].metric, sizeof(out[n].metric), "meshgw_drops_total");
				snprintf(out[n].labels, sizeof(out[n].labels), "{reason=\"%s\"}", key);
				snprintf(out[n].value, sizeof(out[n].value), "%s", val);
			} else {
				to_sample(key, val, &out[n]);
			}
			n++;
		}
		k = toks[k + 1].next;
	}
	mg_meshctl_reply_free(r);
	return n;
}

int mg_meshctl_prometheus(const char *socket_path)
{
	struct sample *s = calloc(MAX_SAMPLES, sizeof(*s));
	int n = 0, m;

	if (!s)
		return MESHCTL_EXIT_IO;
	n = collect(socket_path, "/meshgw/stats", PROM_STATS, s, 0);
	if (n >= 0)
		n = collect(socket_path, "/meshgw/drops", PROM_DROPS, s, n);
	if (n >= 0)
		n = collect(socket_path, "/meshgw/tls", PROM_TLS, s, n);
	if (n < 0) {
		free(s);
		return -n;
	}
	qsort(s, (size_t)n, sizeof(*s), by_metric);
	for (m = 0; m < n; m++) {
		if (m == 0 || strcmp(s[m].metric, s[m - 1].metric) != 0)
			printf("# HELP %s meshgw telemetry %s\n# TYPE %s %s\n", s[m].metric,
			       s[m].gauge ? "gauge" : "counter", s[m].metric,
			       s[m].gauge ? "gauge" : "counter");
		printf("%s%s %s\n", s[m].metric, s[m].labels, s[m].value);
	}
	free(s);
	return 0;
}
