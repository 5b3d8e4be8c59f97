/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * gateway.conf: the ports ( { name; device; address; mtu; next_hop; rx_desc;
 * tx_desc; fault { ... }; pinned_neighbours ( ... ) } ), the fault-injection
 * groups and pinned neighbours inside them, with
 * the rules between ports (names, devices and prefixes disjoint).
 */
#include "config_priv.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* ---- addresses --------------------------------------------------------- */

static MG_RESULT parse_address(struct cr_reader *ld, const struct cr_field *f,
			       const config_setting_t *s, const char *path)
{
	struct mg_port_config *port = ld->base;
	const char *p, *why;
	unsigned len;
	uint32_t a;

	(void)f;
	MG_GUARD(cr_want(ld, s, path, CONFIG_TYPE_STRING, "a string"));
	p = config_setting_get_string(s);
	ENSURE_AT(cfg_quad(&p, &a) && *p++ == '/' && cfg_dec(&p, 99, &len) && !*p,
		  ld, s, path, CONFIG_VALUE, "expected an IPv4 address with a prefix "
		  "length, like 198.18.1.1/24");
	ENSURE_AT(len >= 8 && len <= 30, ld, s, path, CONFIG_RANGE,
		  "prefix length /%u is outside 8..30", len);
	why = cfg_unusable(a);
	ENSURE_AT(!why, ld, s, path, CONFIG_VALUE, "%s", why);
	why = cfg_edge_of(a, len);
	ENSURE_AT(!why, ld, s, path, CONFIG_VALUE, "is the %s address of its /%u", why, len);
	port->addr = a;
	port->prefix_len = (uint8_t)len;
	return 0;
}

static MG_RESULT parse_next_hop(struct cr_reader *ld, const struct cr_field *f,
				const config_setting_t *s, const char *path)
{
	struct mg_port_config *port = ld->base;
	const char *p;

	(void)f;
	MG_GUARD(cr_want(ld, s, path, CONFIG_TYPE_STRING, "a string"));
	p = config_setting_get_string(s);
	ENSURE_AT(cfg_quad(&p, &port->next_hop) && !*p, ld, s, path, CONFIG_VALUE,
		  "expected an IPv4 address, like 198.18.1.254");
	port->has_next_hop = true;
	return 0;
}

/* ---- devices ----------------------------------------------------------- */

/* n hex digits at s, or -1. */
static long hexn(const char *s, int n)
{
	long v = 0;

	for (int i = 0; i < n; i++) {
		int d = cfg_hexval(s[i]);

		if (d < 0)
			return -1;
		v = v << 4 | d;
	}
	return v;
}

/* DDDD:BB:DD.F or BB:DD.F, in the first @n bytes; device <= 0x1f, function <= 7. */
static bool is_pci(const char *s, size_t n)
{
	if (n == 12) {
		if (hexn(s, 4) < 0 || s[4] != ':')
			return false;
		s += 5;
	} else if (n != 7) {
		return false;
	}
	return hexn(s, 2) >= 0 && s[2] == ':' && hexn(s + 3, 2) >= 0 &&
	       hexn(s + 3, 2) <= 0x1f && s[5] == '.' && s[6] >= '0' && s[6] <= '7';
}

static bool is_vdev(const char *s, size_t n)
{
	if (n <= 4 || strncmp(s, "net_", 4) != 0)
		return false;
	for (size_t i = 4; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '_'))
			return false;
	return true;
}

/* ",key=value" pairs: key [A-Za-z0-9_-]+, value printable without space or comma. */
static bool devargs_ok(const char *s)
{
	while (*s == ',') {
		size_t k = strspn(++s, "abcdefghijklmnopqrstuvwxyz"
					"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");
		size_t v = 0;

		if (k == 0 || s[k] != '=')
			return false;
		s += k + 1;
		while (s[v] > ' ' && s[v] < 0x7f && s[v] != ',')
			v++;
		if (v == 0)
			return false;
		s += v;
	}
	return *s == '\0';
}

/* What makes two devices the same: the vdev name, or the full lower-case PCI address. */
static void device_key(const char *dev, char *key, size_t size)
{
	size_t n = strcspn(dev, ",");

	if (is_pci(dev, n))
		snprintf(key, size, "%s%.*s", n == 7 ? "0000:" : "", (int)n, dev);
	else
		snprintf(key, size, "%.*s", (int)n, dev);
	for (char *k = key; *k; k++)
		if (*k >= 'A' && *k <= 'Z')
			*k = (char)(*k | 0x20);
}

static MG_RESULT parse_device(struct cr_reader *ld, const struct cr_field *f,
			      const config_setting_t *s, const char *path)
{
	struct mg_port_config *port = ld->base;
	size_t n;

	(void)f;
	MG_GUARD(cfg_read_string(ld, s, path, port->device, sizeof(port->device)));
	n = strcspn(port->device, ",");
	ENSURE_AT(is_pci(port->device, n) || is_vdev(port->device, n), ld, s, path,
		  CONFIG_VALUE, "expected a PCI address (0000:3b:00.0) or a vdev "
		  "(net_af_packet0,iface=eth0)");
	ENSURE_AT(devargs_ok(port->device + n), ld, s, path, CONFIG_VALUE,
		  "device arguments must be ,key=value pairs without spaces");
	return 0;
}

static MG_RESULT parse_port_name(struct cr_reader *ld, const struct cr_field *f,
				 const config_setting_t *s, const char *path)
{
	struct mg_port_config *port = ld->base;

	(void)f;
	MG_GUARD(cfg_read_string(ld, s, path, port->name, sizeof(port->name)));
	/* The name becomes part of telemetry keys, which allow [A-Za-z0-9_/] only. */
	ENSURE_AT(cfg_all_in(port->name, "_", false), ld, s, path, CONFIG_VALUE,
		  "may hold only a-z 0-9 _");
	return 0;
}

/* ---- ports ------------------------------------------------------------- */

static MG_RESULT check_next_hop(const struct cr_reader *ld, const config_setting_t *g,
				const char *path, const struct mg_port_config *p)
{
	const config_setting_t *s = config_setting_get_member(g, "next_hop");
	uint32_t mask = cfg_prefix_mask(p->prefix_len);
	char field[FIELD_TEXT];

	if (!p->has_next_hop)
		return 0;
	cr_join(ld, field, FIELD_TEXT, path, "next_hop");
	ENSURE_AT((p->next_hop & mask) == (p->addr & mask), ld, s, field, CONFIG_VALUE,
		  "is outside the port's prefix /%u", p->prefix_len);
	ENSURE_AT(p->next_hop != p->addr, ld, s, field, CONFIG_VALUE,
		  "is the port's own address");
	ENSURE_AT(!cfg_edge_of(p->next_hop, p->prefix_len), ld, s, field, CONFIG_VALUE,
		  "is the %s address of the port's prefix",
		  cfg_edge_of(p->next_hop, p->prefix_len));
	return 0;
}

/* Port @i against the ports before it: names, devices and prefixes are disjoint. */
static MG_RESULT check_unique(const struct cr_reader *ld, const config_setting_t *g,
			      const char *path, int i)
{
	const struct mg_port_config *ports = CFG(ld)->ports, *p = &ports[i];
	char field[FIELD_TEXT], key[MG_DEVICE_LEN + 8], other[MG_DEVICE_LEN + 8], ip[16];

	device_key(p->device, key, sizeof(key));
	for (int j = 0; j < i; j++) {
		unsigned shorter = p->prefix_len < ports[j].prefix_len ?
					   p->prefix_len : ports[j].prefix_len;
		uint32_t mask = cfg_prefix_mask(shorter);

		cr_join(ld, field, FIELD_TEXT, path, "name");
		ENSURE_AT(strcmp(p->name, ports[j].name) != 0, ld,
			  config_setting_get_member(g, "name"), field, CONFIG_VALUE,
			  "port name \"%s\" is used twice (also ports[%d])", p->name, j);
		device_key(ports[j].device, other, sizeof(other));
		cr_join(ld, field, FIELD_TEXT, path, "device");
		ENSURE_AT(strcmp(key, other) != 0, ld, config_setting_get_member(g, "device"),
			  field, CONFIG_VALUE, "same device as ports[%d] (%s)", j,
			  ports[j].name);
		cr_join(ld, field, FIELD_TEXT, path, "address");
		cfg_ip_text(ports[j].addr & cfg_prefix_mask(ports[j].prefix_len), ip, sizeof(ip));
		ENSURE_AT((p->addr & mask) != (ports[j].addr & mask), ld,
			  config_setting_get_member(g, "address"), field, CONFIG_VALUE,
			  "prefix overlaps ports[%d] (%s, %s/%u)", j, ports[j].name, ip,
			  ports[j].prefix_len);
	}
	return 0;
}

/* ports[].fault.rx and .tx: what happens to each packet in that direction. */
static const struct cr_field fault_dir_fields[] = {
	PROB("loss", loss),
	PROB("duplicate", duplicate),
	PROB("reorder", reorder),
	PROB("corrupt", corrupt),
	INT_AT("reorder_depth", cfg_int, struct mg_fault_dir_config, reorder_depth, 1,
	       MG_FAULT_MAX_REORDER_DEPTH),
	INT_AT("delay_us", cfg_int, struct mg_fault_dir_config, delay_us, 0,
	       MG_FAULT_MAX_DELAY_US),
	INT_AT("delay_slots", cfg_desc, struct mg_fault_dir_config, delay_slots, 64, 4096),
	{ 0 },
};

/* The group's presence turns injection on for the port, even with all rates 0. */
static MG_RESULT check_fault(struct cr_reader *ld, const config_setting_t *g,
			     const char *path)
{
	struct mg_fault_config *fc = ld->base;

	(void)g;
	(void)path;
	fc->enabled = true;
	return 0;
}

static const struct cr_field fault_fields[] = {
	INT_AT("seed", cfg_int, struct mg_fault_config, seed, 0, 4294967295LL),
	NESTED("rx", struct mg_fault_config, rx, fault_dir_fields, NULL),
	NESTED("tx", struct mg_fault_config, tx, fault_dir_fields, NULL),
	{ 0 },
};

/* ---- pinned neighbours (ports[].pinned_neighbours) ---------------------- */

static MG_RESULT parse_pin_ip(struct cr_reader *ld, const struct cr_field *f,
			      const config_setting_t *s, const char *path)
{
	struct mg_neigh_pin_config *pin = ld->base;
	const char *p;

	(void)f;
	MG_GUARD(cr_want(ld, s, path, CONFIG_TYPE_STRING, "a string"));
	p = config_setting_get_string(s);
	ENSURE_AT(cfg_quad(&p, &pin->ip) && !*p, ld, s, path, CONFIG_VALUE,
		  "expected an IPv4 address, like 198.18.1.2");
	return 0;
}

/* "02:00:c6:12:01:02": six pairs of hex digits, unicast, not all zero. */
static MG_RESULT parse_pin_mac(struct cr_reader *ld, const struct cr_field *f,
			       const config_setting_t *s, const char *path)
{
	struct mg_neigh_pin_config *pin = ld->base;
	const char *p;
	bool ok, zero = true;

	(void)f;
	MG_GUARD(cr_want(ld, s, path, CONFIG_TYPE_STRING, "a string"));
	p = config_setting_get_string(s);
	ok = strlen(p) == 17;
	for (int i = 0; ok && i < 6; i++) {
		long b = hexn(p + 3 * i, 2);

		ok = b >= 0 && (i == 5 || p[3 * i + 2] == ':');
		pin->mac[i] = (uint8_t)b;
		zero = zero && b == 0;
	}
	ENSURE_AT(ok, ld, s, path, CONFIG_VALUE,
		  "expected a MAC address, like 02:00:c6:12:01:02");
	ENSURE_AT(!(pin->mac[0] & 1), ld, s, path, CONFIG_VALUE,
		  "is a multicast or broadcast MAC: a neighbour has a unicast MAC");
	ENSURE_AT(!zero, ld, s, path, CONFIG_VALUE, "is the all-zero MAC");
	return 0;
}

static const struct cr_field pin_fields[] = {
	FN("ip", parse_pin_ip, true),
	FN("mac", parse_pin_mac, true),
	{ 0 },
};

/* cfg_list() would hand the base back to the config, not to the port: walk here. */
static MG_RESULT parse_pins(struct cr_reader *ld, const struct cr_field *f,
			    const config_setting_t *s, const char *path)
{
	struct mg_port_config *port = ld->base;
	char ep[FIELD_TEXT];
	int n, rc = 0;

	(void)f;
	MG_GUARD(cr_want(ld, s, path, CONFIG_TYPE_LIST, "a list ( { ... }, ... )"));
	n = config_setting_length(s);
	ENSURE_AT(n <= MG_MAX_PINNED_NEIGHBOURS, ld, s, path, CONFIG_RANGE,
		  "%d pinned neighbours, expected at most %d", n, MG_MAX_PINNED_NEIGHBOURS);
	for (int i = 0; i < n && rc == 0; i++) {
		const config_setting_t *g = config_setting_get_elem(s, i);

		cr_elem(ep, sizeof(ep), path, (unsigned)i);
		MG_GUARD(cr_want(ld, g, ep, CONFIG_TYPE_GROUP, "a group { ... }"));
		ld->base = &port->pins[i];
		rc = cr_walk(ld, g, ep, pin_fields);
		ld->base = port;
	}
	port->n_pins = (uint16_t)n;
	return rc;
}

/* Once the port's address is known: each pin on-link, a host, and pinned once. */
static MG_RESULT check_pins(const struct cr_reader *ld, const config_setting_t *g,
			    const char *path, const struct mg_port_config *p)
{
	const config_setting_t *list = config_setting_get_member(g, "pinned_neighbours");
	uint32_t mask = cfg_prefix_mask(p->prefix_len);
	char field[FIELD_TEXT], ip[16];

	for (uint16_t i = 0; i < p->n_pins; i++) {
		const config_setting_t *e =
			config_setting_get_member(config_setting_get_elem(list, i), "ip");
		uint32_t a = p->pins[i].ip;

		snprintf(field, sizeof(field), "%.80s.pinned_neighbours[%u].ip", path, i);
		cfg_ip_text(a, ip, sizeof(ip));
		ENSURE_AT((a & mask) == (p->addr & mask), ld, e, field, CONFIG_VALUE,
			  "%s is outside the port's prefix /%u", ip, p->prefix_len);
		ENSURE_AT(a != p->addr, ld, e, field, CONFIG_VALUE,
			  "%s is the port's own address", ip);
		ENSURE_AT(!cfg_edge_of(a, p->prefix_len), ld, e, field, CONFIG_VALUE,
			  "%s is the %s address of the port's prefix", ip,
			  cfg_edge_of(a, p->prefix_len));
		for (uint16_t j = 0; j < i; j++)
			ENSURE_AT(p->pins[j].ip != a, ld, e, field, CONFIG_VALUE,
				  "%s is pinned twice (also pinned_neighbours[%u])", ip, j);
	}
	return 0;
}

static const struct cr_field port_fields[] = {
	FN("name", parse_port_name, true),
	FN("device", parse_device, true),
	FN("address", parse_address, true),
	INT_AT("mtu", cfg_int, struct mg_port_config, mtu, 576, 9000),
	FN("next_hop", parse_next_hop, false),
	INT_AT("rx_desc", cfg_desc, struct mg_port_config, rx_desc, 64, 4096),
	INT_AT("tx_desc", cfg_desc, struct mg_port_config, tx_desc, 64, 4096),
	NESTED("fault", struct mg_port_config, fault, fault_fields, check_fault),
	FN("pinned_neighbours", parse_pins, false),
	{ 0 },
};

static MG_RESULT check_port(const struct cr_reader *ld, const config_setting_t *g,
			    const char *path, int i)
{
	MG_GUARD(check_next_hop(ld, g, path, &CFG(ld)->ports[i]));
	MG_GUARD(check_pins(ld, g, path, &CFG(ld)->ports[i]));
	return check_unique(ld, g, path, i);
}

MG_RESULT cfg_ports(struct cr_reader *ld, const struct cr_field *f,
		    const config_setting_t *s, const char *path)
{
	static const struct list_of ports = {
		"ports", 1, MG_MAX_PORTS, sizeof(struct mg_port_config), port_fields, check_port,
	};

	(void)f;
	return cfg_list(ld, s, path, &ports, CFG(ld)->ports, &CFG(ld)->n_ports);
}
