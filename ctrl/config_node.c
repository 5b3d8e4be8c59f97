/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * gateway.conf: the top-level schema and the node-wide groups (node, workers,
 * control, telemetry, crypto, trust, limits, neighbour, integrity, tcp);
 * ports, listeners, and the SVIDs with the tls group have their own files.
 */
#include "config_priv.h"

#include <stddef.h>
#include <string.h>
#include <sys/un.h>

#define SUN_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

static const char *const provider_names[] = {
	[MG_CRYPTO_DEFAULT] = "default",
	[MG_CRYPTO_QAT_PROVIDER] = "qat-provider",
	[MG_CRYPTO_QAT_ENGINE] = "qat-engine",
};

const char *mg_crypto_provider_name(enum mg_crypto_provider p)
{
	return (unsigned)p < sizeof(provider_names) / sizeof(provider_names[0]) ?
		       provider_names[p] : "unknown";
}

/* bind() takes at most sun_path's size; say so here rather than at start-up. */
static MG_RESULT parse_socket(struct cr_reader *ld, const struct cr_field *f,
			      const config_setting_t *s, const char *path)
{
	MG_GUARD(cfg_file(ld, f, s, path));
	ENSURE_AT(strlen(CFG(ld)->control_socket) <= SUN_PATH_MAX, ld, s, path,
		  CONFIG_RANGE, "longer than %zu characters, the limit of a unix "
		  "socket address", SUN_PATH_MAX);
	return 0;
}

static MG_RESULT parse_node(struct cr_reader *ld, const struct cr_field *f,
			    const config_setting_t *s, const char *path)
{
	(void)f;
	MG_GUARD(cfg_read_string(ld, s, path, CFG(ld)->node_name, sizeof(CFG(ld)->node_name)));
	ENSURE_AT(cfg_all_in(CFG(ld)->node_name, "._-", true), ld, s, path, CONFIG_VALUE,
		  "may hold only A-Z a-z 0-9 . _ -");
	return 0;
}

static MG_RESULT parse_provider(struct cr_reader *ld, const struct cr_field *f,
				const config_setting_t *s, const char *path)
{
	const size_t n = sizeof(provider_names) / sizeof(provider_names[0]);
	const char *v;

	(void)f;
	MG_GUARD(cr_want(ld, s, path, CONFIG_TYPE_STRING, "a string"));
	v = config_setting_get_string(s);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v, provider_names[i]) == 0) {
			CFG(ld)->crypto_provider = (enum mg_crypto_provider)i;
			return 0;
		}
	}
	return cr_fail(ld, s, path, MG_ERR_CONFIG_VALUE,
		       "unknown provider; expected \"default\", \"qat-provider\" or \"qat-engine\"");
}

static MG_RESULT parse_lcores(struct cr_reader *ld, const struct cr_field *f,
			      const config_setting_t *s, const char *path)
{
	struct mg_config *cfg = CFG(ld);
	long long v[MG_MAX_WORKERS];
	int n;

	(void)f;
	MG_GUARD(cfg_distinct_ints(ld, s, path, MG_MAX_WORKERS, 0, 127, "lcore", v, &n));
	for (int i = 0; i < n; i++)
		cfg->worker_lcores[i] = (unsigned)v[i];
	cfg->n_workers = (uint16_t)n;
	return 0;
}

static MG_RESULT parse_uids(struct cr_reader *ld, const struct cr_field *f,
			    const config_setting_t *s, const char *path)
{
	struct mg_config *cfg = CFG(ld);
	long long v[MG_MAX_CONTROL_UIDS];
	int n;

	(void)f;
	/* (uid_t)-1 means "no change" to chown and friends: never a peer. */
	MG_GUARD(cfg_distinct_ints(ld, s, path, MG_MAX_CONTROL_UIDS, 0, 4294967294LL, "uid",
				   v, &n));
	for (int i = 0; i < n; i++)
		cfg->control_uids[i] = (uint32_t)v[i];
	cfg->n_control_uids = (uint16_t)n;
	return 0;
}

static MG_RESULT parse_trust_keys(struct cr_reader *ld, const struct cr_field *f,
				  const config_setting_t *s, const char *path)
{
	struct mg_config *cfg = CFG(ld);
	char ep[FIELD_TEXT];
	int n;

	(void)f;
	MG_GUARD(cfg_array(ld, s, path, 1, MG_MAX_TRUST_KEYS, &n));
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, i);

		cr_elem(ep, FIELD_TEXT, path, (unsigned)i);
		MG_GUARD(cfg_read_path(ld, e, ep, cfg->trust_keys[i], PATH_MAX, true));
		for (int j = 0; j < i; j++)
			ENSURE_AT(strcmp(cfg->trust_keys[j], cfg->trust_keys[i]) != 0, ld,
				  e, ep, CONFIG_VALUE, "key file is listed twice (also %s[%d])",
				  path, j);
	}
	cfg->n_trust_keys = (uint16_t)n;
	return 0;
}

/* The threshold can only be judged against the keys once both are read. */
static MG_RESULT check_trust(struct cr_reader *ld, const config_setting_t *g,
			     const char *path)
{
	const config_setting_t *t = config_setting_get_member(g, "threshold");
	char field[FIELD_TEXT];

	cr_join(ld, field, FIELD_TEXT, path, "threshold");
	ENSURE_AT(t, ld, g, field, CONFIG_MISSING,
		  "required when keys are given (how many must sign a snapshot)");
	ENSURE_AT(CFG(ld)->trust_threshold <= CFG(ld)->n_trust_keys, ld, t, field,
		  CONFIG_RANGE, "%u is more than the %u key(s) listed",
		  CFG(ld)->trust_threshold, CFG(ld)->n_trust_keys);
	return 0;
}

/* ---- the schema -------------------------------------------------------- */

static const struct cr_field workers_fields[] = {
	FN("lcores", parse_lcores, true),
	{ 0 },
};

static const struct cr_field control_fields[] = {
	CFG_AT("socket", parse_socket, control_socket),
	FN("allowed_uids", parse_uids, false),
	{ 0 },
};

static const struct cr_field telemetry_fields[] = {
	CFG_AT("enabled", cfg_bool, telemetry_enabled),
	{ 0 },
};

static const struct cr_field crypto_fields[] = {
	FN("provider", parse_provider, false),
	{ 0 },
};

static const struct cr_field trust_fields[] = {
	FN("keys", parse_trust_keys, true),
	CFG_INT("threshold", trust_threshold, 1, MG_MAX_TRUST_KEYS),
	{ 0 },
};

static const struct cr_field limits_fields[] = {
	CFG_INT("snapshot_max_bytes", snapshot_max_bytes, 4096, 268435456),
	{ 0 },
};

static const struct cr_field neighbour_fields[] = {
	CFG_INT("timeout_s", neigh_timeout_s, 10, 86400),
	{ 0 },
};

static const struct cr_field integrity_fields[] = {
	CFG_INT("interval_s", integrity_interval_s, 1, 3600),
	{ 0 },
};

static const struct cr_field tcp_fields[] = {
	CFG_INT("max_conns", tcp_max_conns, 1024, 1048576),
	CFG_INT("buffer_kb", tcp_buffer_kb, 16, 16384),
	CFG_INT("rto_min_ms", tcp_rto_min_ms, 1, 1000),
	CFG_INT("idle_timeout_s", tcp_idle_timeout_s, 0, 604800),
	CFG_INT("handshake_timeout_s", tcp_handshake_timeout_s, 1, 600),
	CFG_INT("zero_window_timeout_s", tcp_zero_window_timeout_s, 0, 3600),
	CFG_INT("keepalive_s", tcp_keepalive_s, 0, 86400),
	{ 0 },
};

const struct cr_field cfg_top_fields[] = {
	FN("node", parse_node, false),
	GROUP("workers", workers_fields, NULL, true),
	FN("ports", cfg_ports, true),
	CFG_INT("mbufs_per_port", mbufs_per_port, 1024, 1048576),
	CFG_AT("state_dir", cfg_dir, state_dir),
	CFG_AT("audit_log", cfg_file, audit_log),
	CFG_AT("node_key", cfg_file, node_key),
	GROUP("control", control_fields, NULL, false),
	GROUP("telemetry", telemetry_fields, NULL, false),
	GROUP("crypto", crypto_fields, NULL, false),
	GROUP("trust", trust_fields, check_trust, false),
	GROUP("limits", limits_fields, NULL, false),
	GROUP("neighbour", neighbour_fields, NULL, false),
	GROUP("integrity", integrity_fields, NULL, false),
	GROUP("tcp", tcp_fields, NULL, false),
	FN("listeners", cfg_listeners, false),
	FN("svids", cfg_svids, false),
	GROUP("tls", cfg_tls_fields, cfg_check_tls, false),
	{ 0 },
};
