/* SPDX-License-Identifier: BSD-3-Clause */
#include "telemetry.h"
#include "telemetry_cycles.h"
#include "telemetry_l7.h"
#include "telemetry_rules.h"
#include "telemetry_sum.h"
#include "telemetry_tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mempool.h>
#include <rte_telemetry.h>

#include "attest.h"
#include "fault.h"
#include "filehash.h"
#include "unmap_gate.h"

/*
 * DPDK's telemetry callbacks carry no user pointer; there is one gateway.
 * Key names may hold only [A-Za-z0-9_/] (DPDK refuses others silently), so
 * flat keys are "group/name/counter".
 */
static struct mg_gateway *tel_gw;

static void add_u64(struct rte_tel_data *d, const char *a, const char *b,
		    const char *c, uint64_t v)
{
	char key[RTE_TEL_MAX_STRING_LEN];

	snprintf(key, sizeof(key), "%s/%s/%s", a, b, c);
	rte_tel_data_add_dict_u64(d, key, v);
}

static void add_str(struct rte_tel_data *d, const char *a, const char *b,
		    const char *c, const char *v)
{
	char key[RTE_TEL_MAX_STRING_LEN];

	snprintf(key, sizeof(key), "%s/%s/%s", a, b, c);
	rte_tel_data_add_dict_string(d, key, v);
}

static void ip_str(uint32_t host_order_ip, char *buf, size_t size)
{
	snprintf(buf, size, "%u.%u.%u.%u", host_order_ip >> 24, (host_order_ip >> 16) & 255,
		 (host_order_ip >> 8) & 255, host_order_ip & 255);
}

static void status_port(struct rte_tel_data *d, const struct mg_port *p)
{
	const char *n = p->cfg->name;
	char buf[64], ip[16];
	bool up;
	uint32_t speed;

	mg_port_link(p, &up, &speed);
	add_str(d, "port", n, "device", p->cfg->device);
	add_str(d, "port", n, "driver", p->driver);
	rte_ether_format_addr(buf, sizeof(buf), &p->mac);
	add_str(d, "port", n, "mac", buf);
	ip_str(p->cfg->addr, ip, sizeof(ip));
	snprintf(buf, sizeof(buf), "%s/%u", ip, p->cfg->prefix_len);
	add_str(d, "port", n, "address", buf);
	add_str(d, "port", n, "link", up ? "up" : "down");
	add_u64(d, "port", n, "speed_mbps", speed);
	add_u64(d, "port", n, "mtu", p->cfg->mtu);
	add_u64(d, "port", n, "queues", p->n_queues);
	add_u64(d, "port", n, "rss", p->rss);
}

static void status_lcores(struct rte_tel_data *d, const struct mg_gateway *gw)
{
	struct rte_tel_data *lcores = rte_tel_data_alloc();

	if (!lcores)
		return;
	rte_tel_data_start_array(lcores, RTE_TEL_INT_VAL);
	for (uint16_t i = 0; i < gw->n_workers; i++)
		rte_tel_data_add_array_int(lcores, (int)gw->workers[i]->lcore);
	rte_tel_data_add_dict_container(d, "worker_lcores", lcores, 0);
}

static int cmd_status(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct mg_gateway *gw = tel_gw;
	char hex[65];

	(void)cmd;
	if (params && *params)
		return -EINVAL;
	pthread_mutex_lock(&gw->lock);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "version", MG_VERSION);
	rte_tel_data_add_dict_string(d, "node", gw->cfg.node_name);
	rte_tel_data_add_dict_string(d, "state", gw->n_workers ? "running" : "stopping");
	rte_tel_data_add_dict_u64(d, "pid", (uint64_t)getpid());
	rte_tel_data_add_dict_u64(d, "uptime_s", mg_gateway_uptime_s(gw));
	rte_tel_data_add_dict_u64(d, "started_unix", gw->started_unix);
	rte_tel_data_add_dict_u64(d, "tsc_hz", rte_get_tsc_hz());
	rte_tel_data_add_dict_u64(d, "main_lcore", rte_get_main_lcore());
	rte_tel_data_add_dict_u64(d, "workers", gw->n_workers);
	status_lcores(d, gw);
	rte_tel_data_add_dict_string(d, "config_path", gw->cfg.path);
	mg_hex(gw->config_sha256, 32, hex);
	rte_tel_data_add_dict_string(d, "config_sha256", hex);
	mg_hex(gw->binary_sha256, 32, hex);
	rte_tel_data_add_dict_string(d, "binary_sha256", hex);
	rte_tel_data_add_dict_string(d, "crypto_provider",
				     mg_crypto_provider_name(gw->cfg.crypto_provider));
	rte_tel_data_add_dict_u64(d, "integrity_checks", gw->integrity.checks);
	rte_tel_data_add_dict_u64(d, "integrity_last_check", gw->integrity.last_check_unix);
	rte_tel_data_add_dict_u64(d, "ports", gw->n_ports);
	for (uint16_t i = 0; i < gw->n_ports; i++)
		status_port(d, &gw->ports[i]);
	pthread_mutex_unlock(&gw->lock);
	return 0;
}

/* Sum one per-port counter over all workers. */
#define SUM_PORT(gw, pi, field, out)                                                \
	do {                                                                        \
		out = 0;                                                            \
		for (uint16_t w_ = 0; w_ < (gw)->n_workers; w_++)                   \
			out += mg_counter_read(&(gw)->workers[w_]->stats.port[pi].field); \
	} while (0)

static void stats_ports(struct rte_tel_data *d, const struct mg_gateway *gw,
			struct mg_port_counters *total)
{
	for (uint16_t pi = 0; pi < gw->n_ports; pi++) {
		const struct mg_port *p = &gw->ports[pi];
		struct rte_eth_stats es;
		uint64_t v;

#define _(f)                                                   \
	SUM_PORT(gw, pi, f, v);                                \
	total->f += v;                                         \
	add_u64(d, "port", p->cfg->name, #f, v);
		foreach_mg_port_counter(_)
#undef _
		memset(&es, 0, sizeof(es));
		rte_eth_stats_get(p->port_id, &es);
		/* The NIC's own drops: ring overflow and mbuf exhaustion. */
		add_u64(d, "port", p->cfg->name, "rx_missed", es.imissed);
		add_u64(d, "port", p->cfg->name, "rx_nombuf", es.rx_nombuf);
		add_u64(d, "port", p->cfg->name, "rx_errors", es.ierrors);
		add_u64(d, "port", p->cfg->name, "tx_errors", es.oerrors);
		/* Free buffers of the port's pool (a gauge): queued TCP data,
		 * held TX frames and the NIC's RX ring all draw on it. */
		add_u64(d, "port", p->cfg->name, "mbufs_free", rte_mempool_avail_count(p->pool));
	}
}

/* Loop durations, log2(cycles) buckets: the swap benchmark diffs two reads. */
static void loop_hist(struct rte_tel_data *d, const char *idx, const struct mg_worker *w)
{
	struct rte_tel_data *h = rte_tel_data_alloc();
	char key[RTE_TEL_MAX_STRING_LEN];

	if (!h)
		return;
	rte_tel_data_start_array(h, RTE_TEL_U64_VAL);
	for (int b = 0; b < MG_LOOP_HIST; b++)
		rte_tel_data_add_array_u64(h, mg_counter_read(&w->stats.loop_hist[b]));
	snprintf(key, sizeof(key), "worker/%s/loop_hist_log2", idx);
	rte_tel_data_add_dict_container(d, key, h, 0);
}

static void stats_workers(struct rte_tel_data *d, const struct mg_gateway *gw)
{
	for (uint16_t i = 0; i < gw->n_workers; i++) {
		const struct mg_worker *w = gw->workers[i];
		char idx[8];
		uint64_t rx = 0, tx = 0, drops = 0;

		snprintf(idx, sizeof(idx), "%u", i);
		for (uint16_t pi = 0; pi < gw->n_ports; pi++) {
			rx += mg_counter_read(&w->stats.port[pi].rx_packets);
			tx += mg_counter_read(&w->stats.port[pi].tx_packets);
			drops += mg_counter_read(&w->stats.port[pi].drops);
		}
		add_u64(d, "worker", idx, "rx_packets", rx);
		add_u64(d, "worker", idx, "tx_packets", tx);
		add_u64(d, "worker", idx, "drops", drops);
#define _(f) add_u64(d, "worker", idx, #f, mg_counter_read(&w->stats.f));
		foreach_mg_worker_counter(_)
#undef _
		for (int st = 0; st < MG_STAGE__COUNT; st++) {
			char name[32];

			snprintf(name, sizeof(name), "cycles_%s", mg_stage_name(st));
			add_u64(d, "worker", idx, name, mg_counter_read(&w->stats.cycles[st]));
		}
		loop_hist(d, idx, w);
	}
}

static int cmd_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct mg_gateway *gw = tel_gw;
	struct mg_port_counters total;
	struct mg_unmap_gate_stats gate;

	(void)cmd;
	if (params && *params)
		return -EINVAL;
	memset(&total, 0, sizeof(total));
	pthread_mutex_lock(&gw->lock);
	rte_tel_data_start_dict(d);
	stats_ports(d, gw, &total);
	stats_workers(d, gw);
#define _(f) rte_tel_data_add_dict_u64(d, "total/" #f, total.f);
	foreach_mg_port_counter(_)
#undef _
#define _(f) rte_tel_data_add_dict_u64(d, "slowpath/" #f, gw->slow.f);
	foreach_mg_slowpath_counter(_)
#undef _
	rte_tel_data_add_dict_u64(d, "neighbours/count", gw->neigh.count);
	rte_tel_data_add_dict_u64(d, "neighbours/pinned", gw->neigh.n_pinned);
	mg_unmap_gate_stats(&gate);
	rte_tel_data_add_dict_u64(d, "pmd/unmap_gate/waits", gate.waits);
	rte_tel_data_add_dict_u64(d, "pmd/unmap_gate/wait_us_max", gate.wait_ns_max / 1000);
	pthread_mutex_unlock(&gw->lock);
	return 0;
}

static int cmd_drops(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct mg_gateway *gw = tel_gw;

	(void)cmd;
	if (params && *params)
		return -EINVAL;
	pthread_mutex_lock(&gw->lock);
	rte_tel_data_start_dict(d);
	for (int r = MG_DROP_NONE + 1; r < MG_DROP__COUNT; r++) {
		uint64_t v = 0;

		for (uint16_t i = 0; i < gw->n_workers; i++)
			v += mg_counter_read(&gw->workers[i]->stats.drops[r]);
		rte_tel_data_add_dict_u64(d, mg_drop_name(r), v);
	}
	pthread_mutex_unlock(&gw->lock);
	return 0;
}

static int cmd_neighbours(const char *cmd, const char *params, struct rte_tel_data *d)
{
	static struct mg_neigh snap[MG_NEIGH_MAX]; /* telemetry runs on one thread */
	struct mg_gateway *gw = tel_gw;
	struct rte_tel_data *list;
	uint64_t now = mg_neigh_now();
	uint32_t n;

	(void)cmd;
	if (params && *params)
		return -EINVAL;
	list = rte_tel_data_alloc();
	if (!list)
		return -ENOMEM;
	rte_tel_data_start_array(list, RTE_TEL_STRING_VAL);
	n = mg_neigh_snapshot(&gw->neigh, snap, MG_NEIGH_MAX);
	for (uint32_t i = 0; i < n && i < RTE_TEL_MAX_ARRAY_ENTRIES; i++) {
		char line[RTE_TEL_MAX_STRING_LEN], ip[16], mac[RTE_ETHER_ADDR_FMT_SIZE];

		ip_str(rte_be_to_cpu_32(snap[i].ip), ip, sizeof(ip));
		rte_ether_format_addr(mac, sizeof(mac), &snap[i].mac);
		if (snap[i].pinned)
			snprintf(line, sizeof(line), "%s %s %s pinned", ip, mac,
				 gw->cfg.ports[snap[i].port].name);
		else
			snprintf(line, sizeof(line), "%s %s %s age=%lus", ip, mac,
				 gw->cfg.ports[snap[i].port].name,
				 (unsigned long)(now - snap[i].updated_s));
		rte_tel_data_add_array_string(list, line);
	}
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "count", n);
	rte_tel_data_add_dict_u64(d, "timeout_s", gw->neigh.timeout_s);
	rte_tel_data_add_dict_container(d, "entries", list, 0);
	return 0;
}

static const char *deny_cause_name(enum mg_deny_all_cause c)
{
	static const char *const names[] = { "none", "no_snapshot", "boot_refused", "expired" };

	return (unsigned)c < sizeof(names) / sizeof(names[0]) ? names[c] : "unknown";
}

static void policy_signers(struct rte_tel_data *d, const struct mg_loader *l)
{
	struct rte_tel_data *list = rte_tel_data_alloc();
	char hex[2 * MG_KEY_ID_LEN + 1];

	if (!list)
		return;
	rte_tel_data_start_array(list, RTE_TEL_STRING_VAL);
	for (unsigned i = 0; l->have_active && i < l->n_signers; i++) {
		mg_hex(l->signers[i], MG_KEY_ID_LEN, hex);
		rte_tel_data_add_array_string(list, hex);
	}
	rte_tel_data_add_dict_container(d, "signers", list, 0);
}

/* The compiled-policy arena pool: a swap maps and unmaps nothing once warm. */
static void policy_arenas(struct rte_tel_data *d)
{
	struct mg_policy_arena_stats a;

	mg_policy_arena_stats(&a);
	rte_tel_data_add_dict_u64(d, "arena_maps", a.maps);
	rte_tel_data_add_dict_u64(d, "arena_unmaps", a.unmaps);
	rte_tel_data_add_dict_u64(d, "arena_reuses", a.reuses);
	rte_tel_data_add_dict_u64(d, "arena_mapped", a.mapped);
	rte_tel_data_add_dict_u64(d, "arena_bytes", a.bytes);
}
static int cmd_policy(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct mg_gateway *gw = tel_gw;
	const struct mg_loader *l = &gw->loader;
	char hex[65];

	(void)cmd;
	if (params && *params)
		return -EINVAL;
	pthread_mutex_lock(&gw->lock);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "active", l->have_active ? "snapshot" : "deny_all");
	rte_tel_data_add_dict_string(d, "deny_all_cause", deny_cause_name(l->deny_cause));
	rte_tel_data_add_dict_u64(d, "version", l->have_active ? l->active.version : 0);
	mg_hex(l->active.digest, 32, hex);
	rte_tel_data_add_dict_string(d, "digest", l->have_active ? hex : "");
	policy_signers(d, l);
	rte_tel_data_add_dict_u64(d, "not_before", l->have_active ? l->meta.not_before : 0);
	rte_tel_data_add_dict_u64(d, "expires", l->have_active ? l->meta.expires : 0);
	rte_tel_data_add_dict_u64(d, "loaded_at", l->have_active ? l->loaded_at : 0);
	rte_tel_data_add_dict_u64(d, "generation", gw->pub.generation);
	rte_tel_data_add_dict_u64(d, "floor_version", l->floor.version);
	rte_tel_data_add_dict_u64(d, "swaps", gw->pub.swaps);
	rte_tel_data_add_dict_u64(d, "grace_last_ns", gw->pub.last_sync_ns);
	rte_tel_data_add_dict_u64(d, "grace_max_ns", gw->pub.max_sync_ns);
	policy_arenas(d);
	rte_tel_data_add_dict_u64(d, "accepted", l->accepted);
	rte_tel_data_add_dict_u64(d, "unchanged", l->unchanged);
	rte_tel_data_add_dict_u64(d, "alarms", l->alarms);
	for (int r = 0; r < MG_LOAD_REFUSED__COUNT; r++) {
		char key[64];

		snprintf(key, sizeof(key), "refused/%s", mg_load_refusal_name(r));
		rte_tel_data_add_dict_u64(d, key, l->refused[r]);
	}
	for (int r = 0; r < MG_CONTROL_REFUSED__COUNT; r++) {
		char key[64];

		snprintf(key, sizeof(key), "control_refused/%s", mg_control_refusal_name(r));
		rte_tel_data_add_dict_u64(d, key, gw->control.refusals[r]);
	}
	pthread_mutex_unlock(&gw->lock);
	return 0;
}

static int cmd_audit(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct mg_gateway *gw = tel_gw;
	uint64_t head = 0, checkpoint = 0;
	uint8_t hash[32] = { 0 };
	char hex[65];
	bool have_checkpoint = false;

	(void)cmd;
	if (params && *params)
		return -EINVAL;
	pthread_mutex_lock(&gw->lock);
	if (gw->audit) {
		mg_audit_head(gw->audit, &head, hash);
		have_checkpoint = mg_audit_last_checkpoint(gw->audit, &checkpoint);
	}
	pthread_mutex_unlock(&gw->lock);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "path", gw->cfg.audit_log);
	rte_tel_data_add_dict_u64(d, "head_index", head);
	mg_hex(hash, 32, hex);
	rte_tel_data_add_dict_string(d, "head_hash", hex);
	rte_tel_data_add_dict_string(d, "last_checkpoint", have_checkpoint ? "yes" : "no");
	rte_tel_data_add_dict_u64(d, "last_checkpoint_index", checkpoint);
	return 0;
}

static void attest_fill(struct mg_gateway *gw, const char *nonce, struct mg_attest_report *r)
{
	const struct mg_loader *l = &gw->loader;
	char hex[65];
	size_t n = 0;

	memset(r, 0, sizeof(*r));
#define SET(f, ...) snprintf(r->value[MG_ATTEST_##f], MG_ATTEST_VALUE_MAX, __VA_ARGS__)
	SET(format, "%s", MG_ATTEST_FORMAT);
	SET(node, "%s", gw->cfg.node_name);
	SET(nonce, "%s", nonce);
	SET(time, "%lu", (unsigned long)time(NULL));
	SET(uptime_s, "%lu", (unsigned long)mg_gateway_uptime_s(gw));
	mg_hex(gw->binary_sha256, 32, hex);
	SET(binary_sha256, "%s", hex);
	mg_hex(gw->config_sha256, 32, hex);
	SET(config_sha256, "%s", hex);
	SET(policy, "%s", l->have_active ? "snapshot" : "deny_all");
	SET(snapshot_version, "%lu", (unsigned long)(l->have_active ? l->active.version : 0));
	mg_hex(l->active.digest, 32, hex);
	SET(snapshot_digest, "%s", l->have_active ? hex : "");
	for (unsigned i = 0; l->have_active && i < l->n_signers; i++) {
		mg_hex(l->signers[i], MG_KEY_ID_LEN, hex);
		n += (size_t)snprintf(r->value[MG_ATTEST_snapshot_signers] + n,
				      MG_ATTEST_VALUE_MAX - n, "%s%s", i ? "," : "", hex);
	}
	mg_hex(mg_key_id(gw->node_key), MG_KEY_ID_LEN, hex);
	SET(node_key_id, "%s", hex);
#undef SET
}

/* Signers travel as an array: the joined list is longer than one telemetry string. */
static void attest_signers(struct rte_tel_data *d, const struct mg_gateway *gw)
{
	struct rte_tel_data *list = rte_tel_data_alloc();

	if (!list)
		return;
	rte_tel_data_start_array(list, RTE_TEL_STRING_VAL);
	for (unsigned i = 0; gw->loader.have_active && i < gw->loader.n_signers; i++) {
		char hex[65];

		mg_hex(gw->loader.signers[i], MG_KEY_ID_LEN, hex);
		rte_tel_data_add_array_string(list, hex);
	}
	rte_tel_data_add_dict_container(d, "snapshot_signers", list, 0);
}

/* ---- /meshgw/faults: fault injection settings and counters per port ---- */

static void fault_rate(struct rte_tel_data *d, const char *port, const char *dir,
		       const char *what, double v)
{
	char key[RTE_TEL_MAX_STRING_LEN], val[32];

	snprintf(key, sizeof(key), "port/%s/%s_%s_rate", port, dir, what);
	/* 22.11 telemetry has no doubles in dicts: the shortest text that reads back. */
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(val, sizeof(val), "%.*g", prec, v);
		if (strtod(val, NULL) == v)
			break;
	}
	rte_tel_data_add_dict_string(d, key, val);
}

static void fault_u64(struct rte_tel_data *d, const char *port, const char *dir,
		      const char *what, uint64_t v)
{
	char c[64];

	snprintf(c, sizeof(c), "%s_%s", dir, what);
	add_u64(d, "port", port, c, v);
}

static void faults_dir(struct rte_tel_data *d, const struct mg_port *p,
		       enum mg_fault_dir dir)
{
	const struct mg_fault_dir_config *fc = dir == MG_FAULT_RX ? &p->cfg->fault.rx
								  : &p->cfg->fault.tx;
	const char *n = p->cfg->name, *dn = mg_fault_dir_name(dir);
	struct mg_fault_counters c;

	fault_u64(d, n, dn, "active", mg_fault_dir_active(fc));
	fault_rate(d, n, dn, "loss", fc->loss);
	fault_rate(d, n, dn, "duplicate", fc->duplicate);
	fault_rate(d, n, dn, "reorder", fc->reorder);
	fault_rate(d, n, dn, "corrupt", fc->corrupt);
	fault_u64(d, n, dn, "reorder_depth", fc->reorder_depth);
	fault_u64(d, n, dn, "delay_us", fc->delay_us);
	fault_u64(d, n, dn, "delay_slots", fc->delay_slots);
	(void)mg_fault_read(p->port_id, dir, &c); /* zeros when the direction is idle */
#define _(f) fault_u64(d, n, dn, #f, c.f);
	foreach_mg_fault_counter(_)
#undef _
	fault_u64(d, n, dn, "held", c.held);
}

static int cmd_faults(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct mg_gateway *gw = tel_gw;

	(void)cmd;
	if (params && *params)
		return -EINVAL;
	/* Under the lock: shutdown frees the fault state with the ports. */
	pthread_mutex_lock(&gw->lock);
	rte_tel_data_start_dict(d);
	for (uint16_t i = 0; i < gw->n_ports; i++) {
		const struct mg_port *p = &gw->ports[i];

		add_u64(d, "port", p->cfg->name, "enabled", p->cfg->fault.enabled);
		if (!p->cfg->fault.enabled)
			continue;
		add_u64(d, "port", p->cfg->name, "seed", p->cfg->fault.seed);
		faults_dir(d, p, MG_FAULT_RX);
		faults_dir(d, p, MG_FAULT_TX);
	}
	pthread_mutex_unlock(&gw->lock);
	return 0;
}

/* ---- /meshgw/conns and /meshgw/tcp: the workers' TCP stacks and proxies ---- */

static const char *const state_keys[] = {
#define _(sym, name) #name,
	foreach_mg_tcp_state(_)
#undef _
};

static int cmd_conns(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct mg_gateway *gw = tel_gw;
	uint64_t total[MG_TCP_STATE__COUNT] = { 0 }, pairs = 0;

	(void)cmd;
	if (params && *params)
		return -EINVAL;
	pthread_mutex_lock(&gw->lock);
	rte_tel_data_start_dict(d);
	for (uint16_t i = 0; i < gw->n_workers; i++) {
		const struct mg_worker *w = gw->workers[i];
		char idx[8];

		if (!w->tcp_on)
			continue;
		snprintf(idx, sizeof(idx), "%u", i);
		for (int st = 0; st < MG_TCP_STATE__COUNT; st++) {
			uint64_t v = rd(&w->tcp.st.conns[st]);

			total[st] += v;
			add_u64(d, "worker", idx, state_keys[st], v);
		}
		add_u64(d, "worker", idx, "proxy_pairs", rd(&w->proxy.st.pairs_active));
		add_u64(d, "worker", idx, "mem_used", rd(&w->tcp.st.mem_used));
		add_u64(d, "worker", idx, "mem_max", w->tcp.p.mem_max);
		pairs += rd(&w->proxy.st.pairs_active);
	}
	for (int st = 0; st < MG_TCP_STATE__COUNT; st++) {
		char key[RTE_TEL_MAX_STRING_LEN];

		snprintf(key, sizeof(key), "total/%s", state_keys[st]);
		rte_tel_data_add_dict_u64(d, key, total[st]);
	}
	rte_tel_data_add_dict_u64(d, "total/proxy_pairs", pairs);
	pthread_mutex_unlock(&gw->lock);
	return 0;
}

/* Sum one array of per-worker counters into "GROUP/NAME" keys. */
#define SUM_WORKERS(expr) ({                                        \
	uint64_t sum_ = 0;                                          \
	for (uint16_t i_ = 0; i_ < gw->n_workers; i_++) {           \
		const struct mg_worker *w = gw->workers[i_];         \
		if (w->tcp_on)                                      \
			sum_ += rd(&(expr));                        \
	}                                                           \
	sum_; })

static int cmd_tcp(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct mg_gateway *gw = tel_gw;

	(void)cmd;
	if (params && *params)
		return -EINVAL;
	pthread_mutex_lock(&gw->lock);
	rte_tel_data_start_dict(d);
#define _(sym, desc) rte_tel_data_add_dict_u64(d, "counter/" #sym, \
		SUM_WORKERS(w->tcp.st.ctr[MG_TCP_CTR_##sym]));
	foreach_mg_tcp_counter(_)
#undef _
#define _(sym, name, desc) rte_tel_data_add_dict_u64(d, "drop/" #name, \
		SUM_WORKERS(w->tcp.st.drops[MG_TCP_DROP_##sym]));
	foreach_mg_tcp_drop(_)
#undef _
#define _(sym, name, desc) rte_tel_data_add_dict_u64(d, "close/" #name, \
		SUM_WORKERS(w->tcp.st.closes[MG_TCP_CLOSE_##sym]));
	foreach_mg_tcp_close(_)
#undef _
#define _(n, desc) rte_tel_data_add_dict_u64(d, "proxy/" #n, \
		SUM_WORKERS(w->proxy.st.ctr[MG_PROXY_CTR_##n]));
	foreach_mg_proxy_counter(_)
#undef _
	rte_tel_data_add_dict_u64(d, "mem_used", SUM_WORKERS(w->tcp.st.mem_used));
	/* The bound mem_used is checked against (per worker, summed like it). */
	rte_tel_data_add_dict_u64(d, "mem_max", SUM_WORKERS(w->tcp.p.mem_max));
	rte_tel_data_add_dict_u64(d, "ooo_mem", SUM_WORKERS(w->tcp.st.ooo_mem));
	rte_tel_data_add_dict_u64(d, "steering/steered_out", SUM_WORKERS(w->stats.steered_out));
	rte_tel_data_add_dict_u64(d, "steering/steered_in", SUM_WORKERS(w->stats.steered_in));
	rte_tel_data_add_dict_u64(d, "steering/ring_full", SUM_WORKERS(w->stats.steer_ring_full));
	rte_tel_data_add_dict_u64(d, "neigh/resolve_requests",
				  SUM_WORKERS(w->stats.resolve_requests));
	rte_tel_data_add_dict_u64(d, "neigh/resolve_ring_full",
				  SUM_WORKERS(w->stats.resolve_ring_full));
	rte_tel_data_add_dict_u64(d, "neigh/arp_requests_sent", gw->arp_requests_sent);
	rte_tel_data_add_dict_u64(d, "neigh/resolve_suppressed", gw->resolve_suppressed);
	rte_tel_data_add_dict_u64(d, "neigh/snapshots_published", gw->neigh_publishes);
	rte_tel_data_add_dict_u64(d, "icmp_frag_needed", SUM_WORKERS(w->stats.icmp_frag_needed));
	pthread_mutex_unlock(&gw->lock);
	return 0;
}

/* Reading with a nonce: signs a report, changes nothing. */
static int cmd_attest(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct mg_gateway *gw = tel_gw;
	struct mg_attest_report r;
	char sig[128];
	int rc = 0;

	(void)cmd;
	if (!params || !mg_attest_nonce_ok(params))
		return -EINVAL;
	pthread_mutex_lock(&gw->lock);
	attest_fill(gw, params, &r);
	if (!gw->node_key || mg_attest_sign(&r, gw->node_key, sig, sizeof(sig)) < 0)
		rc = -EIO;
	if (rc == 0) {
		rte_tel_data_start_dict(d);
		for (int f = 0; f < MG_ATTEST__COUNT; f++) {
			if (f == MG_ATTEST_snapshot_signers)
				attest_signers(d, gw);
			else if (mg_attest_field_is_number(f))
				rte_tel_data_add_dict_u64(d, mg_attest_field_name(f),
							  strtoull(r.value[f], NULL, 10));
			else
				rte_tel_data_add_dict_string(d, mg_attest_field_name(f), r.value[f]);
		}
		rte_tel_data_add_dict_string(d, "signature", sig);
	}
	pthread_mutex_unlock(&gw->lock);
	return rc;
}

static int cmd_tls(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	return mg_tel_tls(tel_gw, params, d);
}

static int cmd_l7(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	return mg_tel_l7(tel_gw, params, d);
}

static int cmd_cycles(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	return mg_tel_cycles(tel_gw, params, d);
}

static int cmd_peers(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	return mg_tel_peers(tel_gw, params, d);
}

static int cmd_l7_rules(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	return mg_tel_l7_rules(tel_gw, params, d);
}

MG_RESULT mg_telemetry_register(struct mg_gateway *gw)
{
	static const struct {
		const char *name;
		telemetry_cb fn;
		const char *help;
	} cmds[] = {
		{ "/meshgw/status", cmd_status,
		  "Gateway version, uptime, workers, ports and links, config and binary hashes. No parameters." },
		{ "/meshgw/stats", cmd_stats,
		  "Per-port, per-worker and total packet counters, slow-path counters. No parameters." },
		{ "/meshgw/drops", cmd_drops,
		  "Dropped packets by reason, summed over workers. No parameters." },
		{ "/meshgw/cycles", cmd_cycles,
		  "Workers' busy cycles by stage; per packet, KiB, connection, TLS handshake, HTTP request. No parameters." },
		{ "/meshgw/neighbours", cmd_neighbours,
		  "The ARP neighbour table. No parameters." },
		{ "/meshgw/policy", cmd_policy,
		  "Active snapshot: version, digest, signers, validity, generation, loader counters. No parameters." },
		{ "/meshgw/faults", cmd_faults,
		  "Fault injection per port: configured rates and injected packets by kind. No parameters." },
		{ "/meshgw/conns", cmd_conns,
		  "TCP connections by state per worker and in total, proxy pairs, buffer bytes. No parameters." },
		{ "/meshgw/tcp", cmd_tcp,
		  "TCP counters, drops and close reasons, proxy, steering and neighbour counters, summed over workers. No parameters." },
		{ "/meshgw/tls", cmd_tls,
		  "mTLS: handshakes, verdicts, SVID refusals and record errors by reason, the node's SVIDs. No parameters." },
		{ "/meshgw/peers", cmd_peers,
		  "Proxied connections: listener, client, peer SPIFFE ID, rule, generation, L7 requests. Parameter: how many to skip." },
		{ "/meshgw/l7", cmd_l7,
		  "HTTP gate: requests, verdicts, refusals by parser and path reason, summed over workers. No parameters." },
		{ "/meshgw/l7/rules", cmd_l7_rules,
		  /* help < RTE_TEL_MAX_STRING_LEN (128) or DPDK refuses the command */
		  "Per rule with HTTP terms: requests allowed, denied in this generation, 64 per reply. Parameter: how many to skip." },
		{ "/meshgw/audit", cmd_audit,
		  "Audit log head index and hash, last checkpoint. No parameters." },
		{ "/meshgw/attest", cmd_attest,
		  "Attestation report signed by the node key. Parameter: a nonce of 16-64 lower-case hex digits." },
	};

	tel_gw = gw;
	if (!gw->cfg.telemetry_enabled)
		return 0;
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		MG_ENSURE(rte_telemetry_register_cmd(cmds[i].name, cmds[i].fn, cmds[i].help) == 0,
			  DPDK, "cannot register telemetry command %s", cmds[i].name);
	return 0;
}
