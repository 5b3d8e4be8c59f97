/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * gateway.conf loader: the valid samples parse to the values they say, and each
 * bad sample fails with its own error code at its own line and field.
 * Runs with workdir tests/unit, so samples are ../data/conf/<name>.conf.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config_fixture.h"

/* @where is "LINE: FIELD"; the message must start with "PATH:LINE: FIELD: ". */
static void expect_bad(const char *name, enum mg_err code, const char *where)
{
	struct mg_config *c = cfg_new();
	char path[256], prefix[512];

	snprintf(path, sizeof(path), DATA "bad-%s.conf", name);
	snprintf(prefix, sizeof(prefix), "%s:%s: ", path, where);
	mg_error_clear();
	assert_int_equal(mg_config_load(c, path), -1);
	if (mg_errno() != code || strncmp(mg_errmsg(), prefix, strlen(prefix)) != 0)
		fail_msg("%s: got %s \"%s\", want %s \"%s...\"", name,
			 mg_errname(mg_errno()), mg_errmsg(), mg_errname(code), prefix);
	free(c);
}

static void expect_string_bad(const char *text, enum mg_err code, const char *msg)
{
	struct mg_config *c = cfg_new();

	mg_error_clear();
	assert_int_equal(mg_config_load_string(c, text, "t.conf"), -1);
	if (mg_errno() != code || strncmp(mg_errmsg(), msg, strlen(msg)) != 0)
		fail_msg("got %s \"%s\", want %s \"%s...\"", mg_errname(mg_errno()),
			 mg_errmsg(), mg_errname(code), msg);
	free(c);
}

#define BASE "workers = { lcores = [ 1 ]; };\n" \
	     "ports = ( { name = \"p\"; device = \"net_null0\"; address = \"10.0.0.1/24\"; } );\n"

/* ---- valid files ------------------------------------------------------- */

static void minimal_gets_defaults(void **state)
{
	struct mg_config *c = load_ok(DATA "valid-minimal.conf");

	(void)state;
	assert_string_equal(c->path, DATA "valid-minimal.conf");
	assert_string_equal(c->node_name, "meshgw");
	assert_int_equal(c->n_workers, 1);
	assert_int_equal(c->worker_lcores[0], 1);
	assert_int_equal(c->n_ports, 1);
	assert_string_equal(c->ports[0].name, "fabric");
	assert_string_equal(c->ports[0].device, "net_af_packet0,iface=mg-gw-fab");
	assert_int_equal(c->ports[0].addr, IP(198, 18, 1, 1));
	assert_int_equal(c->ports[0].prefix_len, 24);
	assert_int_equal(c->ports[0].mtu, 1500);
	assert_false(c->ports[0].has_next_hop);
	assert_int_equal(c->ports[0].rx_desc, 1024);
	assert_int_equal(c->ports[0].tx_desc, 1024);
	assert_int_equal(c->mbufs_per_port, 8191);
	assert_string_equal(c->state_dir, "/var/lib/meshgw");
	assert_string_equal(c->audit_log, "/var/lib/meshgw/audit.log");
	assert_string_equal(c->node_key, "/var/lib/meshgw/node.key");
	assert_string_equal(c->control_socket, "/run/meshgw/control.sock");
	assert_int_equal(c->n_control_uids, 1);
	assert_int_equal(c->control_uids[0], 0);
	assert_true(c->telemetry_enabled);
	assert_int_equal(c->crypto_provider, MG_CRYPTO_DEFAULT);
	assert_int_equal(c->n_trust_keys, 0);
	assert_int_equal(c->snapshot_max_bytes, 16777216);
	assert_int_equal(c->neigh_timeout_s, 300);
	assert_int_equal(c->integrity_interval_s, 10);
	assert_int_equal(c->tcp_max_conns, 32768);
	assert_int_equal(c->tcp_buffer_kb, 256);
	assert_int_equal(c->tcp_rto_min_ms, 200);
	assert_int_equal(c->tcp_idle_timeout_s, 3600);
	assert_int_equal(c->tcp_handshake_timeout_s, 60);
	assert_int_equal(c->tcp_zero_window_timeout_s, 120);
	assert_int_equal(c->tcp_keepalive_s, 7200);
	assert_int_equal(c->n_svids, 0);
	assert_int_equal(c->tls_handshake_timeout_ms, 10000);
	assert_int_equal(c->tls_max_handshakes, 256);
	assert_int_equal(c->tls_peer_handshakes, 16);
	assert_int_equal(c->tls_handshake_threads, 1);
	assert_int_equal(c->tls_svid_expiry_warn_s, 86400);
	free(c);
}

static void full_sets_every_field(void **state)
{
	struct mg_config *c = load_ok(DATA "valid-full.conf");

	(void)state;
	assert_string_equal(c->node_name, "gw1.example");
	assert_int_equal(c->n_workers, 4);
	assert_int_equal(c->worker_lcores[3], 4);
	assert_int_equal(c->n_ports, 2);
	assert_string_equal(c->ports[0].device,
			    "net_af_xdp0,iface=ens1f0,start_queue=0,queue_count=4");
	assert_int_equal(c->ports[0].addr, IP(10, 20, 0, 10));
	assert_int_equal(c->ports[0].prefix_len, 16);
	assert_int_equal(c->ports[0].mtu, 9000);
	assert_true(c->ports[0].has_next_hop);
	assert_int_equal(c->ports[0].next_hop, IP(10, 20, 255, 254));
	assert_int_equal(c->ports[0].rx_desc, 2048);
	assert_int_equal(c->ports[0].tx_desc, 512);
	assert_string_equal(c->ports[1].name, "local");
	assert_int_equal(c->ports[1].addr, IP(192, 168, 50, 1));
	assert_int_equal(c->ports[1].rx_desc, 1024);
	assert_int_equal(c->mbufs_per_port, 65535);
	assert_string_equal(c->state_dir, "/srv/meshgw/");
	assert_string_equal(c->audit_log, "/var/log/meshgw/audit.log");
	assert_string_equal(c->node_key, "/etc/meshgw/node.key");
	assert_string_equal(c->control_socket, "/run/meshgw/ctl.sock");
	assert_int_equal(c->n_control_uids, 3);
	assert_int_equal(c->control_uids[2], 1000);
	assert_false(c->telemetry_enabled);
	assert_int_equal(c->crypto_provider, MG_CRYPTO_QAT_PROVIDER);
	assert_int_equal(c->n_trust_keys, 3);
	assert_string_equal(c->trust_keys[2], "/etc/meshgw/trust/ops-c.pub");
	assert_int_equal(c->trust_threshold, 2);
	assert_int_equal(c->snapshot_max_bytes, 268435456);
	assert_int_equal(c->neigh_timeout_s, 600);
	assert_int_equal(c->integrity_interval_s, 3600);
	assert_int_equal(c->tcp_max_conns, 100000);
	assert_int_equal(c->tcp_buffer_kb, 1024);
	assert_int_equal(c->tcp_rto_min_ms, 20);
	free(c);
}

static void two_ports_pci_and_devargs(void **state)
{
	struct mg_config *c = load_ok(DATA "valid-two-ports.conf");

	(void)state;
	assert_string_equal(c->node_name, "gw-two.ports_1");
	assert_int_equal(c->n_workers, 2);
	assert_int_equal(c->worker_lcores[0], 2);
	assert_int_equal(c->worker_lcores[1], 3);
	assert_int_equal(c->n_ports, 2);
	assert_string_equal(c->ports[0].device, "0000:3B:00.0");
	assert_int_equal(c->ports[0].next_hop, IP(198, 18, 1, 254));
	assert_string_equal(c->ports[1].device, "3b:00.1,rx_low_latency=1");
	assert_int_equal(c->ports[1].addr, IP(198, 18, 2, 1));
	assert_int_equal(c->ports[1].prefix_len, 30);
	assert_int_equal(c->ports[1].mtu, 1500);
	assert_int_equal(c->ports[1].rx_desc, 4096);
	assert_int_equal(c->ports[1].tx_desc, 64);
	free(c);
}

static void pinned_neighbours_per_port(void **state)
{
	struct mg_config *c = load_ok(DATA "valid-pinned-neighbours.conf");
	static const uint8_t gw[6] = { 2, 0, 0xc6, 0x12, 1, 0xfe };
	static const uint8_t client[6] = { 2, 0, 0xc6, 0x12, 1, 2 };
	static const uint8_t backend[6] = { 2, 0, 0xc6, 0x12, 2, 2 };

	(void)state;
	assert_int_equal(c->ports[0].n_pins, 2);
	assert_int_equal(c->ports[0].pins[0].ip, IP(198, 18, 1, 254));
	assert_memory_equal(c->ports[0].pins[0].mac, gw, 6);
	assert_int_equal(c->ports[0].pins[1].ip, IP(198, 18, 1, 2));
	assert_memory_equal(c->ports[0].pins[1].mac, client, 6); /* upper-case hex read */
	assert_int_equal(c->ports[1].n_pins, 1);
	assert_int_equal(c->ports[1].pins[0].ip, IP(198, 18, 2, 2));
	assert_memory_equal(c->ports[1].pins[0].mac, backend, 6);
	free(c);
	c = load_ok(DATA "valid-minimal.conf");
	assert_int_equal(c->ports[0].n_pins, 0);
	free(c);
}

/* Every refusal of a pin, word for word. */
static void pinned_neighbour_refusals(void **state)
{
	static const struct {
		const char *file;
		enum mg_err code;
		const char *msg;
	} bad[] = {
		{ "value-pin-mac", MG_ERR_CONFIG_VALUE, "8: ports[0].pinned_neighbours[0].mac: "
		  "expected a MAC address, like 02:00:c6:12:01:02" },
		{ "value-pin-mac-multicast", MG_ERR_CONFIG_VALUE, "8: ports[0].pinned_neighbours[0]"
		  ".mac: is a multicast or broadcast MAC: a neighbour has a unicast MAC" },
		{ "value-pin-mac-zero", MG_ERR_CONFIG_VALUE,
		  "8: ports[0].pinned_neighbours[0].mac: is the all-zero MAC" },
		{ "value-pin-ip", MG_ERR_CONFIG_VALUE, "8: ports[0].pinned_neighbours[0].ip: "
		  "expected an IPv4 address, like 198.18.1.2" },
		{ "value-pin-outside", MG_ERR_CONFIG_VALUE, "8: ports[0].pinned_neighbours[0].ip: "
		  "198.18.2.2 is outside the port's prefix /24" },
		{ "value-pin-own-address", MG_ERR_CONFIG_VALUE, "8: ports[0].pinned_neighbours[0]"
		  ".ip: 198.18.1.1 is the port's own address" },
		{ "value-pin-broadcast", MG_ERR_CONFIG_VALUE, "8: ports[0].pinned_neighbours[0].ip: "
		  "198.18.1.255 is the broadcast address of the port's prefix" },
		{ "value-pin-dup", MG_ERR_CONFIG_VALUE, "9: ports[0].pinned_neighbours[1].ip: "
		  "198.18.1.2 is pinned twice (also pinned_neighbours[0])" },
		{ "missing-pin-mac", MG_ERR_CONFIG_MISSING,
		  "8: ports[0].pinned_neighbours[0].mac: required field is missing" },
		{ "unknown-pin-field", MG_ERR_CONFIG_UNKNOWN_FIELD,
		  "8: ports[0].pinned_neighbours[0].port: unknown field" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct mg_config *c = cfg_new();
		char path[256], want[512];

		snprintf(path, sizeof(path), DATA "bad-%s.conf", bad[i].file);
		snprintf(want, sizeof(want), "%s:%s", path, bad[i].msg);
		mg_error_clear();
		assert_int_equal(mg_config_load(c, path), -1);
		if (mg_errno() != bad[i].code || strcmp(mg_errmsg(), want) != 0)
			fail_msg("got %s \"%s\", want %s \"%s\"", mg_errname(mg_errno()),
				 mg_errmsg(), mg_errname(bad[i].code), want);
		free(c);
	}
	expect_bad("type-pin-group", MG_ERR_CONFIG_TYPE, "9: ports[0].pinned_neighbours[0]");
}

static void paths_follow_state_dir(void **state)
{
	struct mg_config *c = load_ok(DATA "valid-derived-paths.conf");

	(void)state;
	assert_string_equal(c->audit_log, "/srv/gw/audit.log");
	assert_string_equal(c->node_key, "/srv/gw/node.key");
	assert_int_equal(c->n_control_uids, 2);
	assert_int_equal(c->control_uids[1], 4294967294u);
	assert_int_equal(c->snapshot_max_bytes, 4096);
	assert_int_equal(c->n_trust_keys, 1);
	assert_int_equal(c->trust_threshold, 1);
	assert_int_equal(c->ports[0].addr, IP(100, 64, 0, 1));
	free(c);
}

/* Every field of a port's fault group, and its defaults. */
static void fault_group_fields(void **state)
{
	struct mg_config *c = load_ok(DATA "valid-fault.conf");
	const struct mg_fault_config *f = &c->ports[0].fault;

	(void)state;
	assert_true(f->enabled);
	assert_int_equal(f->seed, 4294967295u);
	assert_true(f->rx.loss == 0.05);
	assert_true(f->rx.duplicate == 0.01);
	assert_true(f->rx.reorder == 0.02);
	assert_true(f->rx.corrupt == 0.001);
	assert_int_equal(f->rx.reorder_depth, 16);
	assert_int_equal(f->rx.delay_us, 1000000);
	assert_int_equal(f->rx.delay_slots, 4096);
	assert_true(f->tx.loss == 1.0); /* the integer 1 */
	assert_true(f->tx.duplicate == 0.0);
	assert_true(f->tx.reorder == 0.0);
	assert_true(f->tx.corrupt == 0.5); /* ".5" */
	assert_int_equal(f->tx.reorder_depth, 4);
	assert_int_equal(f->tx.delay_slots, 256);
	/* An empty group turns injection on with nothing to inject. */
	f = &c->ports[1].fault;
	assert_true(f->enabled);
	assert_int_equal(f->seed, 0);
	assert_true(f->rx.loss == 0.0 && f->tx.corrupt == 0.0);
	assert_int_equal(f->rx.delay_us, 0);
	assert_false(c->ports[2].fault.enabled);
	free(c);
}

/* "-0.0" is a valid probability and reads as plain 0. */
static void fault_negative_zero_is_zero(void **state)
{
	struct mg_config *c = cfg_new();
	const char *text = "workers = { lcores = [ 1 ]; };\n"
			   "ports = ( { name = \"p\"; device = \"net_null0\"; address = "
			   "\"10.0.0.1/24\"; fault = { rx = { loss = -0.0; }; }; } );\n";

	(void)state;
	assert_int_equal(mg_config_load_string(c, text, "t.conf"), 0);
	assert_false(signbit(c->ports[0].fault.rx.loss));
	free(c);
}

static void fault_probability_types(void **state)
{
	char text[512];
	static const struct {
		const char *value;
		enum mg_err code;
		const char *problem;
	} cases[] = {
		{ "true", MG_ERR_CONFIG_TYPE, "expected a probability (0.05, 0.0 or 1), found a boolean" },
		{ "0x1", MG_ERR_CONFIG_VALUE, "hexadecimal integers are not accepted" },
		{ "1e999", MG_ERR_CONFIG_RANGE, "inf is outside 0..1" },
		{ "1.0000001", MG_ERR_CONFIG_RANGE, "1.0000001 is outside 0..1" },
		{ "-1e-300", MG_ERR_CONFIG_RANGE, "-1e-300 is outside 0..1" },
		{ "99999999999", MG_ERR_CONFIG_RANGE, "99999999999 is outside 0..1" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char want[256];

		snprintf(text, sizeof(text), "workers = { lcores = [ 1 ]; };\n"
			 "ports = ( { name = \"p\"; device = \"net_null0\"; address = "
			 "\"10.0.0.1/24\";\n fault = { tx = { duplicate = %s; }; }; } );\n",
			 cases[i].value);
		snprintf(want, sizeof(want), "t.conf:3: ports[0].fault.tx.duplicate: %s",
			 cases[i].problem);
		expect_string_bad(text, cases[i].code, want);
	}
}

/* conf/gateway.conf is what operators copy: it must stay loadable. */
static void shipped_example_loads(void **state)
{
	struct mg_config *c = load_ok("../../conf/gateway.conf");

	(void)state;
	assert_int_equal(c->n_ports, 2);
	assert_int_equal(c->n_trust_keys, 3);
	free(c);
}

/* ---- bad files: one per rule, code + line + field ---------------------- */

/* Listeners: fields, defaults, and the ports read after them in the file. */
static void listeners_fields(void **state)
{
	struct mg_config *c = load_ok(DATA "valid-listeners.conf");

	(void)state;
	assert_int_equal(c->n_listeners, 2);
	assert_string_equal(c->listeners[0].name, "web");
	assert_int_equal(c->listeners[0].type, MG_LISTENER_TCP);
	assert_int_equal(c->listeners[0].listen_addr, IP(198, 18, 1, 1));
	assert_int_equal(c->listeners[0].listen_port, 8080);
	assert_int_equal(c->listeners[0].upstream_addr, IP(198, 18, 2, 2));
	assert_int_equal(c->listeners[0].upstream_port, 80);
	assert_int_equal(c->listeners[0].backlog, 512);
	assert_int_equal(c->listeners[1].backlog, 1024);
	assert_int_equal(c->listeners[1].upstream_port, 5201);
	free(c);
}

/* An upstream off every prefix is fine when a port has a next hop. */
static void listener_upstream_via_next_hop(void **state)
{
	struct mg_config *c = load_ok(DATA "valid-listener-next-hop.conf");

	(void)state;
	assert_int_equal(c->n_listeners, 1);
	assert_int_equal(c->listeners[0].upstream_addr, IP(10, 1, 2, 3));
	assert_int_equal(c->listeners[0].upstream_port, 8443);
	free(c);
}

#define BAD(fn, file, code, where)                              \
	static void fn(void **state)                            \
	{                                                       \
		(void)state;                                    \
		expect_bad(file, MG_ERR_##code, where);         \
	}

BAD(listener_listen_not_ours, "value-listen-not-ours", CONFIG_VALUE, "7: listeners[0].listen")
BAD(listener_listen_twice, "value-listen-dup", CONFIG_VALUE, "8: listeners[1].listen")
BAD(listener_name_twice, "value-listener-name-dup", CONFIG_VALUE, "8: listeners[1].name")
BAD(listener_port_zero, "range-listen-port", CONFIG_RANGE, "7: listeners[0].listen")
BAD(listener_port_too_big, "value-listen-port-big", CONFIG_VALUE, "7: listeners[0].listen")
BAD(listener_listen_without_port, "value-listen-syntax", CONFIG_VALUE, "7: listeners[0].listen")
BAD(listener_upstream_unroutable, "value-upstream-unroutable", CONFIG_VALUE, "7: listeners[0].upstream")
BAD(listener_upstream_is_ours, "value-upstream-self", CONFIG_VALUE, "7: listeners[0].upstream")
BAD(listener_type_unknown, "value-listener-type", CONFIG_VALUE, "7: listeners[0].type")
BAD(listener_upstream_missing, "missing-listener-upstream", CONFIG_MISSING, "7: listeners[0].upstream")
BAD(listener_backlog_zero, "range-listener-backlog", CONFIG_RANGE, "7: listeners[0].backlog")
BAD(listener_unknown_field, "unknown-listener-field", CONFIG_UNKNOWN_FIELD, "7: listeners[0].port")
BAD(listener_count, "range-listeners-count", CONFIG_RANGE, "6: listeners")
BAD(syntax_error_line, "syntax", CONFIG_SYNTAX, "7: (syntax)")
BAD(duplicate_setting, "syntax-duplicate", CONFIG_SYNTAX, "10: (syntax)")
BAD(mixed_array_hint, "syntax-mixed-array", CONFIG_SYNTAX, "10: (syntax)")
BAD(include_refused, "include", CONFIG_SYNTAX, "9: (file)")
BAD(empty_file, "empty", CONFIG_MISSING, "1: (file)")
BAD(nul_byte, "nul", CONFIG_SYNTAX, "9: (file)")
BAD(unknown_top_field, "unknown-top", CONFIG_UNKNOWN_FIELD, "9: prots")
BAD(unknown_port_field, "unknown-port-field", CONFIG_UNKNOWN_FIELD, "12: ports[1].speed")
BAD(unknown_group_field, "unknown-group-field", CONFIG_UNKNOWN_FIELD, "10: control.sokcet")
BAD(missing_workers, "missing-workers", CONFIG_MISSING, "1: workers")
BAD(missing_ports, "missing-ports", CONFIG_MISSING, "1: ports")
BAD(missing_lcores, "missing-lcores", CONFIG_MISSING, "2: workers.lcores")
BAD(missing_port_address, "missing-port-address", CONFIG_MISSING, "8: ports[1].address")
BAD(missing_threshold, "missing-threshold", CONFIG_MISSING, "10: trust.threshold")
BAD(missing_trust_keys, "missing-trust-keys", CONFIG_MISSING, "9: trust.keys")
BAD(type_string_for_int, "type-mtu-string", CONFIG_TYPE, "7: ports[0].mtu")
BAD(type_float_for_int, "type-mtu-float", CONFIG_TYPE, "7: ports[0].mtu")
BAD(type_group_for_list, "type-ports-group", CONFIG_TYPE, "2: ports")
BAD(type_list_for_array, "type-lcores-list", CONFIG_TYPE, "2: workers.lcores")
BAD(type_array_element, "type-lcore-elem", CONFIG_TYPE, "1: workers.lcores[0]")
BAD(type_int_for_bool, "type-telemetry", CONFIG_TYPE, "10: telemetry.enabled")
BAD(type_list_element, "type-port-elem", CONFIG_TYPE, "2: ports[0]")
BAD(type_array_for_string, "type-node", CONFIG_TYPE, "9: node")
BAD(range_mtu, "range-mtu", CONFIG_RANGE, "7: ports[0].mtu")
BAD(range_wide_literal_not_truncated, "range-mtu-wide", CONFIG_RANGE, "7: ports[0].mtu")
BAD(range_lcore_element_line, "range-lcore", CONFIG_RANGE, "4: workers.lcores[1]")
BAD(range_empty_array, "range-no-lcores", CONFIG_RANGE, "1: workers.lcores")
BAD(range_prefix, "range-prefix", CONFIG_RANGE, "6: ports[0].address")
BAD(range_string_length, "range-name-long", CONFIG_RANGE, "4: ports[0].name")
BAD(range_port_count, "range-ports-count", CONFIG_RANGE, "2: ports")
BAD(range_threshold_over_keys, "range-threshold", CONFIG_RANGE, "10: trust.threshold")
BAD(range_int64_field, "range-snapshot", CONFIG_RANGE, "9: limits.snapshot_max_bytes")
BAD(range_socket_path, "range-socket-long", CONFIG_RANGE, "10: control.socket")
BAD(range_uid, "range-uid", CONFIG_RANGE, "9: control.allowed_uids[0]")
BAD(range_mbufs, "range-mbufs", CONFIG_RANGE, "9: mbufs_per_port")
BAD(value_desc_power_of_two, "value-desc-pow2", CONFIG_VALUE, "7: ports[0].rx_desc")
BAD(value_cidr_without_prefix, "value-cidr", CONFIG_VALUE, "6: ports[0].address")
BAD(value_network_address, "value-network-addr", CONFIG_VALUE, "6: ports[0].address")
BAD(value_broadcast_address, "value-broadcast-addr", CONFIG_VALUE, "6: ports[0].address")
BAD(value_loopback, "value-loopback", CONFIG_VALUE, "6: ports[0].address")
BAD(value_octet_leading_zero, "value-leading-zero", CONFIG_VALUE, "6: ports[0].address")
BAD(value_duplicate_port_name, "value-dup-name", CONFIG_VALUE, "9: ports[1].name")
BAD(value_duplicate_pci_device, "value-dup-device", CONFIG_VALUE, "10: ports[1].device")
BAD(value_overlapping_prefixes, "value-overlap", CONFIG_VALUE, "11: ports[1].address")
BAD(value_next_hop_outside, "value-next-hop-outside", CONFIG_VALUE, "7: ports[0].next_hop")
BAD(value_next_hop_is_self, "value-next-hop-self", CONFIG_VALUE, "7: ports[0].next_hop")
BAD(value_relative_path, "value-relative-path", CONFIG_VALUE, "9: state_dir")
BAD(value_duplicate_lcore, "value-dup-lcore", CONFIG_VALUE, "2: workers.lcores[2]")
BAD(value_device_name, "value-device", CONFIG_VALUE, "5: ports[0].device")
BAD(value_devargs_space, "value-devargs-space", CONFIG_VALUE, "5: ports[0].device")
BAD(value_pci_function, "value-pci-function", CONFIG_VALUE, "5: ports[0].device")
BAD(value_provider, "value-provider", CONFIG_VALUE, "9: crypto.provider")
BAD(value_hex_refused, "value-hex", CONFIG_VALUE, "7: ports[0].mtu")
BAD(value_node_name, "value-node", CONFIG_VALUE, "1: node")
BAD(value_port_name, "value-port-name", CONFIG_VALUE, "4: ports[0].name")
BAD(value_port_name_dash, "value-port-name-dash", CONFIG_VALUE, "4: ports[0].name")
BAD(value_duplicate_trust_key, "value-dup-trust-key", CONFIG_VALUE, "11: trust.keys[1]")
BAD(value_same_file_twice, "value-same-paths", CONFIG_VALUE, "10: node_key")
BAD(value_key_is_directory, "value-key-dir", CONFIG_VALUE, "9: node_key")
BAD(fault_unknown_field, "unknown-fault-field", CONFIG_UNKNOWN_FIELD, "8: ports[0].fault.rx.los")
BAD(fault_unknown_group_field, "unknown-fault-group-field", CONFIG_UNKNOWN_FIELD,
    "7: ports[0].fault.rate")
BAD(fault_type_group, "type-fault-group", CONFIG_TYPE, "7: ports[0].fault")
BAD(fault_type_direction, "type-fault-dir", CONFIG_TYPE, "9: ports[0].fault.rx")
BAD(fault_type_probability_string, "type-fault-prob", CONFIG_TYPE, "7: ports[0].fault.rx.loss")
BAD(fault_type_depth_float, "type-fault-depth-float", CONFIG_TYPE,
    "7: ports[0].fault.rx.reorder_depth")
BAD(fault_range_probability, "range-fault-prob", CONFIG_RANGE, "9: ports[0].fault.rx.duplicate")
BAD(fault_range_probability_int, "range-fault-prob-int", CONFIG_RANGE,
    "7: ports[0].fault.tx.reorder")
BAD(fault_range_negative, "range-fault-negative", CONFIG_RANGE, "7: ports[0].fault.tx.corrupt")
BAD(fault_range_depth, "range-fault-depth", CONFIG_RANGE, "7: ports[0].fault.rx.reorder_depth")
BAD(fault_range_delay, "range-fault-delay", CONFIG_RANGE, "7: ports[0].fault.rx.delay_us")
BAD(fault_range_slots, "range-fault-slots", CONFIG_RANGE, "7: ports[0].fault.tx.delay_slots")
BAD(fault_value_slots_power_of_two, "value-fault-slots", CONFIG_VALUE,
    "7: ports[0].fault.rx.delay_slots")
BAD(fault_range_seed, "range-fault-seed", CONFIG_RANGE, "7: ports[0].fault.seed")
BAD(fault_range_second_port, "range-fault-second-port", CONFIG_RANGE, "6: ports[1].fault.tx.loss")

/* ---- loader edges ------------------------------------------------------ */

static void missing_file_is_io(void **state)
{
	(void)state;
	expect_bad("does-not-exist", MG_ERR_IO, "1: (file)");
}

static void directory_is_io(void **state)
{
	struct mg_config *c = cfg_new();

	(void)state;
	assert_int_equal(mg_config_load(c, DATA), -1);
	assert_int_equal(mg_errno(), MG_ERR_IO);
	assert_non_null(strstr(mg_errmsg(), "not a regular file"));
	free(c);
}

static void oversized_string_refused(void **state)
{
	size_t n = (1u << 20) + 1;
	char *text = malloc(n + 1);

	(void)state;
	assert_non_null(text);
	memset(text, '#', n);
	text[n] = '\0';
	expect_string_bad(text, MG_ERR_IO_TOO_BIG, "t.conf:1: (file): larger than");
	free(text);
}

static void failed_load_leaves_config_alone(void **state)
{
	struct mg_config *c = load_ok(DATA "valid-full.conf");

	(void)state;
	assert_int_equal(mg_config_load_string(c, BASE "mtu = 1;\n", "t.conf"), -1);
	assert_string_equal(c->node_name, "gw1.example");
	assert_int_equal(c->n_ports, 2);
	assert_string_equal(c->path, DATA "valid-full.conf");
	free(c);
}

static void string_name_in_messages(void **state)
{
	(void)state;
	expect_string_bad(BASE "node = 5;\n", MG_ERR_CONFIG_TYPE,
			  "t.conf:3: node: expected a string, found an integer");
}

/* The L-suffix pass must not touch digits inside strings or comments. */
static void wide_digits_in_strings_untouched(void **state)
{
	const char *text = BASE "node = \"12345678901\"; # 99999999999\n"
			   "/* 4294967296 */ limits = { snapshot_max_bytes = 8192L; };\n";
	struct mg_config *c = cfg_new();

	(void)state;
	assert_int_equal(mg_config_load_string(c, text, "t.conf"), 0);
	assert_string_equal(c->node_name, "12345678901");
	assert_int_equal(c->snapshot_max_bytes, 8192);
	free(c);
}

static void wide_negative_literal_in_range_check(void **state)
{
	(void)state;
	expect_string_bad(BASE "integrity = { interval_s = -4294967286; };\n",
			  MG_ERR_CONFIG_RANGE,
			  "t.conf:3: integrity.interval_s: -4294967286 is outside 1..3600");
}

/* An escaped quote must not end the string for the L-suffix pass either. */
static void escaped_quote_keeps_string(void **state)
{
	const char *text = BASE "trust = { keys = [ \"/k/\\\"12345678901\\\".pub\" ];"
			   " threshold = 1; };\n";
	struct mg_config *c = cfg_new();

	(void)state;
	assert_int_equal(mg_config_load_string(c, text, "t.conf"), 0);
	assert_string_equal(c->trust_keys[0], "/k/\"12345678901\".pub");
	free(c);
}

static void exponent_is_float(void **state)
{
	(void)state;
	expect_string_bad(BASE "mbufs_per_port = 1e4;\n", MG_ERR_CONFIG_TYPE,
			  "t.conf:3: mbufs_per_port: expected an integer, found a float");
}

static void multicast_address(void **state)
{
	(void)state;
	expect_string_bad("workers = { lcores = [ 1 ]; };\nports = ( { name = \"p\";\n"
			  "device = \"net_null0\"; address = \"224.0.0.1/24\"; } );\n",
			  MG_ERR_CONFIG_VALUE, "t.conf:3: ports[0].address: is a multicast");
}

static void control_char_in_path(void **state)
{
	(void)state;
	expect_string_bad(BASE "audit_log = \"/var/log/a\\nb\";\n", MG_ERR_CONFIG_VALUE,
			  "t.conf:3: audit_log: contains a control character");
}

static void literal_beyond_64_bits(void **state)
{
	(void)state;
	expect_string_bad(BASE "neighbour = { timeout_s = 99999999999999999999; };\n",
			  MG_ERR_CONFIG_RANGE,
			  "t.conf:3: neighbour.timeout_s: does not fit in 64 bits");
}

static void tcp_values_out_of_range(void **state)
{
	(void)state;
	expect_string_bad(BASE "tcp = { rto_min_ms = 0; };\n", MG_ERR_CONFIG_RANGE,
			  "t.conf:3: tcp.rto_min_ms: 0 is outside 1..1000");
	expect_string_bad(BASE "tcp = { buffer_kb = 16385; };\n", MG_ERR_CONFIG_RANGE,
			  "t.conf:3: tcp.buffer_kb: 16385 is outside 16..16384");
	expect_string_bad(BASE "tcp = { max_conns = 10; };\n", MG_ERR_CONFIG_RANGE,
			  "t.conf:3: tcp.max_conns: 10 is outside 1024..1048576");
	expect_string_bad(BASE "tcp = { rto = 5; };\n", MG_ERR_CONFIG_UNKNOWN_FIELD,
			  "t.conf:3: tcp.rto: unknown field");
	expect_string_bad(BASE "tcp = { handshake_timeout_s = 0; };\n", MG_ERR_CONFIG_RANGE,
			  "t.conf:3: tcp.handshake_timeout_s: 0 is outside 1..600");
	expect_string_bad(BASE "tcp = { zero_window_timeout_s = 3601; };\n",
			  MG_ERR_CONFIG_RANGE,
			  "t.conf:3: tcp.zero_window_timeout_s: 3601 is outside 0..3600");
	expect_string_bad(BASE "tcp = { idle_timeout_s = -1; };\n", MG_ERR_CONFIG_RANGE,
			  "t.conf:3: tcp.idle_timeout_s: -1 is outside 0..604800");
	expect_string_bad(BASE "tcp = { keepalive_s = 86401; };\n", MG_ERR_CONFIG_RANGE,
			  "t.conf:3: tcp.keepalive_s: 86401 is outside 0..86400");
}

static void long_unknown_name_cut(void **state)
{
	char text[512];

	(void)state;
	snprintf(text, sizeof(text), BASE "control = { %0200d = 1; };\n", 0);
	memset(text + strlen(BASE) + 12, 'x', 200); /* a 200-character field name */
	expect_string_bad(text, MG_ERR_CONFIG_UNKNOWN_FIELD, "t.conf:3: control.xxxxxxxx");
	assert_non_null(strstr(mg_errmsg(), "...: unknown field"));
}

static void include_inside_comment_tolerated_mid_line(void **state)
{
	struct mg_config *c = cfg_new();

	(void)state;
	assert_int_equal(mg_config_load_string(c, BASE "# see @include docs\n", "t.conf"), 0);
	free(c);
}

static void provider_names_round_trip(void **state)
{
	(void)state;
	assert_string_equal(mg_crypto_provider_name(MG_CRYPTO_DEFAULT), "default");
	assert_string_equal(mg_crypto_provider_name(MG_CRYPTO_QAT_PROVIDER), "qat-provider");
	assert_string_equal(mg_crypto_provider_name(MG_CRYPTO_QAT_ENGINE), "qat-engine");
	assert_string_equal(mg_crypto_provider_name((enum mg_crypto_provider)7), "unknown");
}

static void defaults_match_reference(void **state)
{
	struct mg_config *c = cfg_new();

	(void)state;
	mg_config_defaults(c);
	assert_string_equal(c->node_name, "meshgw");
	assert_int_equal(c->n_workers, 0);
	assert_int_equal(c->n_ports, 0);
	assert_int_equal(c->ports[3].mtu, 1500);
	assert_string_equal(c->audit_log, "/var/lib/meshgw/audit.log");
	assert_int_equal(c->n_control_uids, 1);
	assert_int_equal(c->n_svids, 0);
	assert_int_equal(c->tls_handshake_timeout_ms, 10000);
	assert_int_equal(c->tls_max_handshakes, 256);
	assert_int_equal(c->tls_peer_handshakes, 16);
	assert_int_equal(c->tls_handshake_threads, 1);
	assert_int_equal(c->tls_svid_expiry_warn_s, 86400);
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(minimal_gets_defaults),
		cmocka_unit_test(full_sets_every_field),
		cmocka_unit_test(two_ports_pci_and_devargs),
		cmocka_unit_test(pinned_neighbours_per_port),
		cmocka_unit_test(pinned_neighbour_refusals),
		cmocka_unit_test(listeners_fields),
		cmocka_unit_test(listener_upstream_via_next_hop),
		cmocka_unit_test(listener_listen_not_ours),
		cmocka_unit_test(listener_listen_twice),
		cmocka_unit_test(listener_name_twice),
		cmocka_unit_test(listener_port_zero),
		cmocka_unit_test(listener_port_too_big),
		cmocka_unit_test(listener_listen_without_port),
		cmocka_unit_test(listener_upstream_unroutable),
		cmocka_unit_test(listener_upstream_is_ours),
		cmocka_unit_test(listener_type_unknown),
		cmocka_unit_test(listener_upstream_missing),
		cmocka_unit_test(listener_backlog_zero),
		cmocka_unit_test(listener_unknown_field),
		cmocka_unit_test(listener_count),
		cmocka_unit_test(paths_follow_state_dir),
		cmocka_unit_test(shipped_example_loads),
		cmocka_unit_test(fault_group_fields),
		cmocka_unit_test(fault_negative_zero_is_zero),
		cmocka_unit_test(fault_probability_types),
		cmocka_unit_test(syntax_error_line),
		cmocka_unit_test(duplicate_setting),
		cmocka_unit_test(mixed_array_hint),
		cmocka_unit_test(include_refused),
		cmocka_unit_test(empty_file),
		cmocka_unit_test(nul_byte),
		cmocka_unit_test(unknown_top_field),
		cmocka_unit_test(unknown_port_field),
		cmocka_unit_test(unknown_group_field),
		cmocka_unit_test(missing_workers),
		cmocka_unit_test(missing_ports),
		cmocka_unit_test(missing_lcores),
		cmocka_unit_test(missing_port_address),
		cmocka_unit_test(missing_threshold),
		cmocka_unit_test(missing_trust_keys),
		cmocka_unit_test(type_string_for_int),
		cmocka_unit_test(type_float_for_int),
		cmocka_unit_test(type_group_for_list),
		cmocka_unit_test(type_list_for_array),
		cmocka_unit_test(type_array_element),
		cmocka_unit_test(type_int_for_bool),
		cmocka_unit_test(type_list_element),
		cmocka_unit_test(type_array_for_string),
		cmocka_unit_test(range_mtu),
		cmocka_unit_test(range_wide_literal_not_truncated),
		cmocka_unit_test(range_lcore_element_line),
		cmocka_unit_test(range_empty_array),
		cmocka_unit_test(range_prefix),
		cmocka_unit_test(range_string_length),
		cmocka_unit_test(range_port_count),
		cmocka_unit_test(range_threshold_over_keys),
		cmocka_unit_test(range_int64_field),
		cmocka_unit_test(range_socket_path),
		cmocka_unit_test(range_uid),
		cmocka_unit_test(range_mbufs),
		cmocka_unit_test(value_desc_power_of_two),
		cmocka_unit_test(value_cidr_without_prefix),
		cmocka_unit_test(value_network_address),
		cmocka_unit_test(value_broadcast_address),
		cmocka_unit_test(value_loopback),
		cmocka_unit_test(value_octet_leading_zero),
		cmocka_unit_test(value_duplicate_port_name),
		cmocka_unit_test(value_duplicate_pci_device),
		cmocka_unit_test(value_overlapping_prefixes),
		cmocka_unit_test(value_next_hop_outside),
		cmocka_unit_test(value_next_hop_is_self),
		cmocka_unit_test(value_relative_path),
		cmocka_unit_test(value_duplicate_lcore),
		cmocka_unit_test(value_device_name),
		cmocka_unit_test(value_devargs_space),
		cmocka_unit_test(value_pci_function),
		cmocka_unit_test(value_provider),
		cmocka_unit_test(value_hex_refused),
		cmocka_unit_test(value_node_name),
		cmocka_unit_test(value_port_name),
		cmocka_unit_test(value_port_name_dash),
		cmocka_unit_test(value_duplicate_trust_key),
		cmocka_unit_test(value_same_file_twice),
		cmocka_unit_test(value_key_is_directory),
		cmocka_unit_test(fault_unknown_field),
		cmocka_unit_test(fault_unknown_group_field),
		cmocka_unit_test(fault_type_group),
		cmocka_unit_test(fault_type_direction),
		cmocka_unit_test(fault_type_probability_string),
		cmocka_unit_test(fault_type_depth_float),
		cmocka_unit_test(fault_range_probability),
		cmocka_unit_test(fault_range_probability_int),
		cmocka_unit_test(fault_range_negative),
		cmocka_unit_test(fault_range_depth),
		cmocka_unit_test(fault_range_delay),
		cmocka_unit_test(fault_range_slots),
		cmocka_unit_test(fault_value_slots_power_of_two),
		cmocka_unit_test(fault_range_seed),
		cmocka_unit_test(fault_range_second_port),
		cmocka_unit_test(missing_file_is_io),
		cmocka_unit_test(directory_is_io),
		cmocka_unit_test(oversized_string_refused),
		cmocka_unit_test(failed_load_leaves_config_alone),
		cmocka_unit_test(string_name_in_messages),
		cmocka_unit_test(wide_digits_in_strings_untouched),
		cmocka_unit_test(wide_negative_literal_in_range_check),
		cmocka_unit_test(literal_beyond_64_bits),
		cmocka_unit_test(tcp_values_out_of_range),
		cmocka_unit_test(escaped_quote_keeps_string),
		cmocka_unit_test(exponent_is_float),
		cmocka_unit_test(multicast_address),
		cmocka_unit_test(control_char_in_path),
		cmocka_unit_test(long_unknown_name_cut),
		cmocka_unit_test(include_inside_comment_tolerated_mid_line),
		cmocka_unit_test(provider_names_round_trip),
		cmocka_unit_test(defaults_match_reference),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
