/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * gateway.conf: the node's own SVIDs ( { name; cert; key; } ) and the tls
 * group (handshake limits). The SVID files are only named here: the gateway
 * loads them at start (svid_files.c), so `meshgw --check` passes on a machine
 * that does not have them.
 */
#include "config_priv.h"

#include <stddef.h>
#include <string.h>

static MG_RESULT parse_svid_name(struct cr_reader *ld, const struct cr_field *f,
				 const config_setting_t *s, const char *path)
{
	struct mg_svid_source *v = ld->base;

	(void)f;
	MG_GUARD(cfg_read_string(ld, s, path, v->name, sizeof(v->name)));
	ENSURE_AT(cfg_all_in(v->name, "_", false), ld, s, path, CONFIG_VALUE,
		  "may hold only a-z 0-9 _");
	return 0;
}

static MG_RESULT parse_svid_cert(struct cr_reader *ld, const struct cr_field *f,
				 const config_setting_t *s, const char *path)
{
	struct mg_svid_source *v = ld->base;

	(void)f;
	return cfg_read_path(ld, s, path, v->cert_path, sizeof(v->cert_path), true);
}

static MG_RESULT parse_svid_key(struct cr_reader *ld, const struct cr_field *f,
				const config_setting_t *s, const char *path)
{
	struct mg_svid_source *v = ld->base;

	(void)f;
	return cfg_read_path(ld, s, path, v->key_path, sizeof(v->key_path), true);
}

static const struct cr_field svid_fields[] = {
	FN("name", parse_svid_name, true),
	FN("cert", parse_svid_cert, true),
	FN("key", parse_svid_key, true),
	{ 0 },
};

/*
 * SVID @i against itself and those before it. One file is never two things:
 * a certificate that is also a key file (its own or another SVID's) would let
 * one rename by the issuer change both halves of a pair, and two SVIDs on one
 * certificate are one identity under two names.
 */
static MG_RESULT check_svid(const struct cr_reader *ld, const config_setting_t *g,
			    const char *path, int i)
{
	const struct mg_svid_source *all = CFG(ld)->svids, *v = &all[i];
	const config_setting_t *key = config_setting_get_member(g, "key");
	char field[FIELD_TEXT];

	cr_join(ld, field, FIELD_TEXT, path, "key");
	ENSURE_AT(strcmp(v->cert_path, v->key_path) != 0, ld, key, field, CONFIG_VALUE,
		  "same file as cert");
	for (int j = 0; j < i; j++) {
		cr_join(ld, field, FIELD_TEXT, path, "name");
		ENSURE_AT(strcmp(v->name, all[j].name) != 0, ld,
			  config_setting_get_member(g, "name"), field, CONFIG_VALUE,
			  "svid name \"%s\" is used twice (also svids[%d])", v->name, j);
		cr_join(ld, field, FIELD_TEXT, path, "cert");
		ENSURE_AT(strcmp(v->cert_path, all[j].cert_path) != 0, ld,
			  config_setting_get_member(g, "cert"), field, CONFIG_VALUE,
			  "same file as svids[%d].cert (%s)", j, all[j].name);
		ENSURE_AT(strcmp(v->cert_path, all[j].key_path) != 0, ld,
			  config_setting_get_member(g, "cert"), field, CONFIG_VALUE,
			  "same file as svids[%d].key (%s)", j, all[j].name);
		cr_join(ld, field, FIELD_TEXT, path, "key");
		ENSURE_AT(strcmp(v->key_path, all[j].cert_path) != 0, ld, key, field,
			  CONFIG_VALUE, "same file as svids[%d].cert (%s)", j, all[j].name);
	}
	return 0;
}

MG_RESULT cfg_svids(struct cr_reader *ld, const struct cr_field *f,
		    const config_setting_t *s, const char *path)
{
	static const struct list_of svids = {
		"svids", 0, MG_MAX_SVIDS, sizeof(struct mg_svid_source), svid_fields,
		check_svid,
	};

	(void)f;
	return cfg_list(ld, s, path, &svids, CFG(ld)->svids, &CFG(ld)->n_svids);
}

/* ---- tls = { ... } ----------------------------------------------------- */

const struct cr_field cfg_tls_fields[] = {
	CFG_INT("handshake_timeout_ms", tls_handshake_timeout_ms, 100, 60000),
	CFG_INT("max_handshakes", tls_max_handshakes, 1, 4096),
	CFG_INT("peer_handshakes", tls_peer_handshakes, 1, 4096),
	CFG_INT("handshake_threads", tls_handshake_threads, 1, 8),
	CFG_INT("svid_expiry_warn_s", tls_svid_expiry_warn_s, 0, 31536000),
	{ 0 },
};

/*
 * One source address may not hold more handshakes than a worker allows in
 * all. Blame the field the operator wrote: peer_handshakes if set, else
 * max_handshakes set below peer_handshakes' default.
 */
MG_RESULT cfg_check_tls(struct cr_reader *ld, const config_setting_t *g, const char *path)
{
	const struct mg_config *c = CFG(ld);
	const config_setting_t *peer = config_setting_get_member(g, "peer_handshakes");
	char field[FIELD_TEXT];

	if (c->tls_peer_handshakes <= c->tls_max_handshakes)
		return 0;
	if (peer) {
		cr_join(ld, field, FIELD_TEXT, path, "peer_handshakes");
		return cr_fail(ld, peer, field, MG_ERR_CONFIG_RANGE,
			       "%u is more than max_handshakes (%u)", c->tls_peer_handshakes,
			       c->tls_max_handshakes);
	}
	cr_join(ld, field, FIELD_TEXT, path, "max_handshakes");
	return cr_fail(ld, config_setting_get_member(g, "max_handshakes"), field,
		       MG_ERR_CONFIG_RANGE, "%u is less than peer_handshakes (default %u); "
		       "set peer_handshakes to at most %u", c->tls_max_handshakes,
		       c->tls_peer_handshakes, c->tls_max_handshakes);
}
