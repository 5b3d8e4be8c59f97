/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * gateway.conf: the listeners ( { name; type; listen; upstream; backlog } ),
 * and their rules against the ports, the node's SVIDs and each other, checked
 * once the whole file is read.
 */
#include "config_priv.h"

#include <stddef.h>
#include <string.h>

static MG_RESULT parse_listener_name(struct cr_reader *ld, const struct cr_field *f,
				     const config_setting_t *s, const char *path)
{
	struct mg_listener_config *l = ld->base;

	(void)f;
	MG_GUARD(cfg_read_string(ld, s, path, l->name, sizeof(l->name)));
	ENSURE_AT(l->name[0] && cfg_all_in(l->name, "_", false), ld, s, path, CONFIG_VALUE,
		  "may hold only a-z 0-9 _");
	return 0;
}

static const char *const type_names[] = {
	[MG_LISTENER_TCP] = "tcp",
	[MG_LISTENER_INBOUND] = "inbound",
	[MG_LISTENER_OUTBOUND] = "outbound",
};

static MG_RESULT parse_listener_type(struct cr_reader *ld, const struct cr_field *f,
				     const config_setting_t *s, const char *path)
{
	struct mg_listener_config *l = ld->base;
	const char *v;

	(void)f;
	MG_GUARD(cr_want(ld, s, path, CONFIG_TYPE_STRING, "a string"));
	v = config_setting_get_string(s);
	for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++) {
		if (strcmp(v, type_names[i]) == 0) {
			l->type = (enum mg_listener_type)i;
			return 0;
		}
	}
	return cr_fail(ld, s, path, MG_ERR_CONFIG_VALUE, "unknown listener type; "
		       "expected \"tcp\", \"inbound\" or \"outbound\"");
}

/* "A.B.C.D:PORT", port 1..65535 in decimal without leading zeros. */
static bool parse_endpoint(const char *p, uint32_t *addr, uint16_t *port)
{
	unsigned v = 0;
	int n = 0;

	if (!cfg_quad(&p, addr) || *p++ != ':')
		return false;
	while (p[n] >= '0' && p[n] <= '9' && n < 6)
		v = v * 10 + (unsigned)(p[n++] - '0');
	if (n == 0 || p[n] || (n > 1 && p[0] == '0'))
		return false;
	*port = (uint16_t)(v <= 65535 ? v : 0);
	return v <= 65535;
}

static MG_RESULT read_endpoint(struct cr_reader *ld, const config_setting_t *s,
			       const char *path, uint32_t *addr, uint16_t *port)
{
	MG_GUARD(cr_want(ld, s, path, CONFIG_TYPE_STRING, "a string"));
	ENSURE_AT(parse_endpoint(config_setting_get_string(s), addr, port), ld, s, path,
		  CONFIG_VALUE, "expected an IPv4 address and a port, like 198.18.1.1:8080");
	ENSURE_AT(*port != 0, ld, s, path, CONFIG_RANGE, "port 0 is outside 1..65535");
	ENSURE_AT(!cfg_unusable(*addr), ld, s, path, CONFIG_VALUE, "%s", cfg_unusable(*addr));
	return 0;
}

static MG_RESULT parse_listen(struct cr_reader *ld, const struct cr_field *f,
			      const config_setting_t *s, const char *path)
{
	struct mg_listener_config *l = ld->base;

	(void)f;
	return read_endpoint(ld, s, path, &l->listen_addr, &l->listen_port);
}

static MG_RESULT parse_upstream(struct cr_reader *ld, const struct cr_field *f,
				const config_setting_t *s, const char *path)
{
	struct mg_listener_config *l = ld->base;

	(void)f;
	return read_endpoint(ld, s, path, &l->upstream_addr, &l->upstream_port);
}

static MG_RESULT parse_service(struct cr_reader *ld, const struct cr_field *f,
			       const config_setting_t *s, const char *path)
{
	struct mg_listener_config *l = ld->base;

	(void)f;
	return read_endpoint(ld, s, path, &l->service_addr, &l->service_port);
}

static const struct cr_field listener_fields[] = {
	FN("name", parse_listener_name, true),
	FN("type", parse_listener_type, true),
	FN("listen", parse_listen, true),
	FN("upstream", parse_upstream, true),
	FN("service", parse_service, false),
	INT_AT("backlog", cfg_int, struct mg_listener_config, backlog, 1, 65535),
	{ 0 },
};

MG_RESULT cfg_listeners(struct cr_reader *ld, const struct cr_field *f,
			const config_setting_t *s, const char *path)
{
	static const struct list_of listeners = {
		"listeners", 0, MG_MAX_LISTENERS, sizeof(struct mg_listener_config),
		listener_fields, NULL,
	};

	(void)f;
	return cfg_list(ld, s, path, &listeners, CFG(ld)->listeners, &CFG(ld)->n_listeners);
}

/* The port whose prefix holds @a, else the first port with a next hop, else -1. */
static int route_port(const struct mg_config *c, uint32_t a, bool on_link_only)
{
	for (uint16_t i = 0; i < c->n_ports; i++) {
		uint32_t mask = cfg_prefix_mask(c->ports[i].prefix_len);

		if ((a & mask) == (c->ports[i].addr & mask))
			return i;
	}
	for (uint16_t i = 0; i < c->n_ports && !on_link_only; i++)
		if (c->ports[i].has_next_hop)
			return i;
	return -1;
}

/*
 * An mTLS listener presents one of the node's own SVIDs (which one is the
 * snapshot's business, by workload), so a file with none cannot serve it.
 * Checked once the whole file is read: svids may come after listeners.
 */
static MG_RESULT check_needs_svids(const struct cr_reader *ld, const config_setting_t *g,
				   const char *path, const struct mg_listener_config *l)
{
	char field[FIELD_TEXT];

	if (l->service_port && l->type != MG_LISTENER_OUTBOUND) {
		cr_join(ld, field, FIELD_TEXT, path, "service");
		return cr_fail(ld, config_setting_get_member(g, "service"), field,
			       MG_ERR_CONFIG_VALUE, "only an outbound listener names a service");
	}
	if (l->type == MG_LISTENER_TCP || CFG(ld)->n_svids > 0)
		return 0;
	cr_join(ld, field, FIELD_TEXT, path, "type");
	return cr_fail(ld, config_setting_get_member(g, "type"), field, MG_ERR_CONFIG_MISSING,
		       "an %s listener needs the node's SVIDs: add svids = ( { name; cert; "
		       "key; } )", type_names[l->type]);
}

/* Listener @i against the ports (read by now, whatever the file order) and listeners before it. */
static MG_RESULT check_listener(const struct cr_reader *ld, const config_setting_t *g,
				const char *path, int i)
{
	const struct mg_config *c = CFG(ld);
	const struct mg_listener_config *l = &c->listeners[i];
	char field[FIELD_TEXT];
	bool ours = false;

	for (uint16_t p = 0; p < c->n_ports; p++)
		ours |= c->ports[p].addr == l->listen_addr;
	cr_join(ld, field, FIELD_TEXT, path, "listen");
	ENSURE_AT(ours, ld, config_setting_get_member(g, "listen"), field, CONFIG_VALUE,
		  "is not the address of any port");
	for (int j = 0; j < i; j++) {
		ENSURE_AT(l->listen_addr != c->listeners[j].listen_addr ||
				  l->listen_port != c->listeners[j].listen_port,
			  ld, config_setting_get_member(g, "listen"), field, CONFIG_VALUE,
			  "same endpoint as listeners[%d] (%s)", j, c->listeners[j].name);
		cr_join(ld, field, FIELD_TEXT, path, "name");
		ENSURE_AT(strcmp(l->name, c->listeners[j].name) != 0, ld,
			  config_setting_get_member(g, "name"), field, CONFIG_VALUE,
			  "listener name \"%s\" is used twice (also listeners[%d])", l->name, j);
		cr_join(ld, field, FIELD_TEXT, path, "listen");
	}
	cr_join(ld, field, FIELD_TEXT, path, "upstream");
	for (uint16_t p = 0; p < c->n_ports; p++)
		ENSURE_AT(c->ports[p].addr != l->upstream_addr, ld,
			  config_setting_get_member(g, "upstream"), field, CONFIG_VALUE,
			  "is the address of port %s", c->ports[p].name);
	ENSURE_AT(route_port(c, l->upstream_addr, false) >= 0, ld,
		  config_setting_get_member(g, "upstream"), field, CONFIG_VALUE,
		  "is on no port's prefix and no port has a next_hop");
	if (route_port(c, l->upstream_addr, true) >= 0) {
		const struct mg_port_config *pc = &c->ports[route_port(c, l->upstream_addr, true)];

		ENSURE_AT(!cfg_edge_of(l->upstream_addr, pc->prefix_len), ld,
			  config_setting_get_member(g, "upstream"), field, CONFIG_VALUE,
			  "is the %s address of port %s's prefix",
			  cfg_edge_of(l->upstream_addr, pc->prefix_len), pc->name);
	}
	return check_needs_svids(ld, g, path, l);
}

MG_RESULT cfg_check_listeners(const struct cr_reader *ld, const config_setting_t *root)
{
	const config_setting_t *s = config_setting_get_member(root, "listeners");
	char ep[FIELD_TEXT];

	for (int i = 0; s && i < CFG(ld)->n_listeners; i++) {
		cr_elem(ep, FIELD_TEXT, "listeners", (unsigned)i);
		MG_GUARD(check_listener(ld, config_setting_get_elem(s, i), ep, i));
	}
	return 0;
}
