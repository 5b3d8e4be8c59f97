/* SPDX-License-Identifier: BSD-3-Clause */
#include "gateway.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "fault.h"
#include "filehash.h"
#include "keys.h"
#include "policy.h"
#include "slowpath.h"

#define IDLE_SLEEP_US 100        /* control thread nap when no exception packet */
#define HOUSEKEEPING_PERIOD_S 1  /* neighbour aging and expiry cadence */
#define CHECKPOINT_PERIOD_S 60   /* sign the audit head at most this often */

static MG_RESULT check_lcores(const struct mg_config *cfg)
{
	for (uint16_t i = 0; i < cfg->n_workers; i++) {
		unsigned l = cfg->worker_lcores[i];

		MG_ENSURE(l < RTE_MAX_LCORE && rte_lcore_is_enabled(l), USAGE,
			  "%s: workers.lcores[%u]: lcore %u is not enabled in EAL "
			  "(pass it with -l/--lcores)", cfg->path, i, l);
		MG_ENSURE(l != rte_get_main_lcore(), USAGE,
			  "%s: workers.lcores[%u]: lcore %u is the main lcore, which runs "
			  "the control thread", cfg->path, i, l);
	}
	return 0;
}

static MG_RESULT open_ports(struct mg_gateway *gw)
{
	for (uint16_t i = 0; i < gw->cfg.n_ports; i++) {
		if (mg_port_open(&gw->ports[i], &gw->cfg.ports[i], gw->n_workers,
				 gw->cfg.mbufs_per_port) < 0) {
			mg_port_close(&gw->ports[i]); /* release what the open attached */
			return -1;
		}
		gw->n_ports = i + 1;
	}
	return 0;
}

static void worker_port_init(struct mg_worker_port *wp, const struct mg_port *p,
			     uint16_t queue)
{
	uint8_t len = p->cfg->prefix_len;

	wp->port_id = p->port_id;
	wp->queue = queue;
	wp->csum_offload_ip = p->rx_csum_offloads & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
	wp->csum_offload_l4 = (p->rx_csum_offloads & RTE_ETH_RX_OFFLOAD_TCP_CKSUM) &&
			      (p->rx_csum_offloads & RTE_ETH_RX_OFFLOAD_UDP_CKSUM);
	wp->fault_tx = mg_fault_attached(p->port_id);
	memcpy(wp->addrs.mac, p->mac.addr_bytes, RTE_ETHER_ADDR_LEN);
	wp->addrs.ip = rte_cpu_to_be_32(p->cfg->addr);
	wp->addrs.netmask = rte_cpu_to_be_32(len ? ~0u << (32 - len) : 0);
}

static struct rte_ring *make_ring(const char *kind, uint16_t index, unsigned socket)
{
	char name[RTE_RING_NAMESIZE];

	snprintf(name, sizeof(name), "mg_%s_%u", kind, index);
	return rte_ring_create(name, MG_SLOWPATH_RING_SIZE, socket,
			       RING_F_SP_ENQ | RING_F_SC_DEQ);
}

static MG_RESULT make_worker(struct mg_gateway *gw, uint16_t index)
{
	unsigned lcore = gw->cfg.worker_lcores[index];
	unsigned socket = rte_lcore_to_socket_id(lcore);
	struct mg_worker *w;

	/* On the worker's own socket, cache aligned: nothing else writes here. */
	w = rte_zmalloc_socket("mg_worker", sizeof(*w), RTE_CACHE_LINE_SIZE, socket);
	MG_ENSURE(w != NULL, NOMEM, "worker %u: no memory", index);
	gw->workers[index] = w;
	w->lcore = lcore;
	w->index = index;
	w->quit = &gw->quit;
	w->pub = &gw->pub;
	w->n_ports = gw->n_ports;
	for (uint16_t p = 0; p < gw->n_ports; p++)
		worker_port_init(&w->ports[p], &gw->ports[p], index);
	w->to_ctrl = make_ring("to_ctrl", index, socket);
	w->from_ctrl = make_ring("from_ctrl", index, socket);
	MG_ENSURE(w->to_ctrl && w->from_ctrl, NOMEM, "worker %u: rings: %s", index,
		  rte_strerror(rte_errno));
	return 0;
}

/* mkdir -p, each new level 0700: the state directory holds the node key. */
static MG_RESULT ensure_dir(const char *path)
{
	char buf[PATH_MAX];

	MG_ENSURE(strlen(path) < sizeof(buf), IO, "%s: path too long", path);
	strcpy(buf, path);
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;

		*p = '\0';
		MG_ENSURE(mkdir(buf, 0700) == 0 || errno == EEXIST, IO, "%s: mkdir: %s", buf,
			  strerror(errno));
		*p = saved;
		if (saved == '\0')
			return 0;
	}
}

/* Like an SSH host key: made once, on first start, if the file is absent. */
static MG_RESULT ensure_node_key(const char *path, bool *created)
{
	char pub[PATH_MAX + 8];
	struct mg_key *k = NULL;
	int rc;

	*created = false;
	if (access(path, F_OK) == 0)
		return 0;
	snprintf(pub, sizeof(pub), "%s.pub", path);
	MG_GUARD(mg_key_generate(MG_KEY_ED25519, &k));
	rc = mg_key_write(k, path, pub);
	mg_key_free(k);
	*created = rc == 0;
	return rc;
}

static void free_policy(void *p)
{
	mg_policy_free(p);
}

static MG_RESULT open_audit(struct mg_gateway *gw)
{
	char cfg_hex[65], bin_hex[65];
	bool key_created;

	gw->exit_status = MG_EXIT_UNAVAILABLE;
	MG_GUARD(ensure_dir(gw->cfg.state_dir));
	MG_GUARD(ensure_node_key(gw->cfg.node_key, &key_created));
	MG_GUARD(mg_key_load_private(gw->cfg.node_key, &gw->node_key));
	if (mg_audit_open(gw->cfg.audit_log, gw->cfg.node_key, &gw->audit) < 0) {
		/* An existing chain that no longer verifies is drift, not a hiccup. */
		if (mg_errno() == MG_ERR_PROTO_FORMAT || mg_errno() == MG_ERR_PROTO_SIGNATURE)
			gw->exit_status = MG_EXIT_DRIFT;
		return -1;
	}
	mg_hex(gw->config_sha256, 32, cfg_hex);
	mg_hex(gw->binary_sha256, 32, bin_hex);
	MG_GUARD(mg_audit_append(gw->audit, "gateway.start", "version", MG_VERSION, "node",
				 gw->cfg.node_name, "config_sha256", cfg_hex, "binary_sha256",
				 bin_hex, NULL));
	if (key_created)
		MG_GUARD(mg_audit_append(gw->audit, "node_key.created", "path", gw->cfg.node_key,
					 NULL));
	return 0;
}

MG_RESULT mg_gateway_start(struct mg_gateway *gw)
{
	pthread_mutex_init(&gw->lock, NULL);
	gw->control.listen_fd = -1;
	gw->started_tsc = rte_rdtsc();
	gw->started_unix = (uint64_t)time(NULL);
	mg_neigh_init(&gw->neigh, gw->cfg.neigh_timeout_s);
	MG_GUARD(check_lcores(&gw->cfg));
	gw->n_workers = gw->cfg.n_workers;
	MG_GUARD(mg_integrity_init(&gw->integrity));
	MG_GUARD(open_audit(gw));
	gw->exit_status = MG_EXIT_UNAVAILABLE;
	MG_GUARD(open_ports(gw));
	MG_GUARD(mg_publish_init(&gw->pub, gw->n_workers, NULL, free_policy));
	MG_GUARD(mg_loader_init(&gw->loader, &gw->cfg, gw->audit, &gw->pub));
	/* The persisted snapshot (or deny-all) is published before any worker runs. */
	mg_loader_boot(&gw->loader, (uint64_t)time(NULL));
	MG_GUARD(mg_control_open(&gw->control, gw->cfg.control_socket,
				 gw->cfg.snapshot_max_bytes, gw->cfg.control_uids,
				 gw->cfg.n_control_uids));
	for (uint16_t i = 0; i < gw->n_workers; i++)
		MG_GUARD(make_worker(gw, i));
	for (uint16_t i = 0; i < gw->n_workers; i++) {
		int rc = rte_eal_remote_launch(mg_worker_main, gw->workers[i],
					       gw->workers[i]->lcore);

		MG_ENSURE(rc == 0, DPDK, "worker %u: launch on lcore %u: %s", i,
			  gw->workers[i]->lcore, rte_strerror(-rc));
	}
	gw->exit_status = MG_EXIT_OK;
	return 0;
}

uint64_t mg_gateway_uptime_s(const struct mg_gateway *gw)
{
	return (rte_rdtsc() - gw->started_tsc) / rte_get_tsc_hz();
}

static void on_snapshot(void *ctx, const uint8_t *bytes, size_t len, uid_t uid,
			char *reply, size_t reply_size)
{
	struct mg_gateway *gw = ctx;
	char source[32];

	snprintf(source, sizeof(source), "control:uid=%u", (unsigned)uid);
	pthread_mutex_lock(&gw->lock);
	mg_loader_load(&gw->loader, bytes, len, source, (uint64_t)time(NULL), reply, reply_size);
	pthread_mutex_unlock(&gw->lock);
}

static void audit_or_alarm(int rc)
{
	if (rc < 0)
		fprintf(stderr, "meshgw: ALARM: audit append failed: %s\n", mg_errmsg());
}

static void on_control_refused(void *ctx, enum mg_control_refusal why, uid_t uid)
{
	struct mg_gateway *gw = ctx;
	char uid_s[16];

	snprintf(uid_s, sizeof(uid_s), "%d", (int)uid);
	pthread_mutex_lock(&gw->lock);
	audit_or_alarm(mg_audit_append(gw->audit, "control.refused", "reason",
				       mg_control_refusal_name(why), "uid", uid_s, NULL));
	pthread_mutex_unlock(&gw->lock);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Sign the audit head now and then, when something was appended since. */
static void maybe_checkpoint(struct mg_gateway *gw)
{
	uint64_t head;
	uint8_t hash[32];

	pthread_mutex_lock(&gw->lock);
	mg_audit_head(gw->audit, &head, hash);
	if (head != gw->last_checkpoint_index) {
		audit_or_alarm(mg_audit_checkpoint(gw->audit));
		mg_audit_head(gw->audit, &gw->last_checkpoint_index, hash);
	}
	pthread_mutex_unlock(&gw->lock);
}

static void housekeeping(struct mg_gateway *gw, uint64_t now_s)
{
	mg_neigh_expire(&gw->neigh, now_s);
	pthread_mutex_lock(&gw->lock);
	mg_loader_tick(&gw->loader, (uint64_t)time(NULL));
	pthread_mutex_unlock(&gw->lock);
}

/* Drift: record it, then stop so the supervisor starts a clean instance. */
static void check_integrity(struct mg_gateway *gw)
{
	enum mg_drift what;

	pthread_mutex_lock(&gw->lock);
	if (mg_integrity_check(&gw->integrity, gw, &what) < 0) {
		fprintf(stderr, "meshgw: DRIFT: %s: %s\n", mg_drift_name(what), mg_errmsg());
		audit_or_alarm(mg_audit_append(gw->audit, "drift", "what", mg_drift_name(what),
					       "detail", mg_errmsg(), NULL));
		gw->exit_status = MG_EXIT_DRIFT;
		__atomic_store_n(&gw->quit, 1, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&gw->lock);
}

void mg_gateway_run(struct mg_gateway *gw)
{
	const struct mg_control_handler handler = { on_snapshot, on_control_refused, gw };
	uint64_t next_housekeeping = 0, next_checkpoint = 0, next_integrity = 0;

	mg_slowpath_announce(gw);
	while (!__atomic_load_n(&gw->quit, __ATOMIC_RELAXED)) {
		uint64_t now = mg_neigh_now();

		if (now >= next_housekeeping) {
			housekeeping(gw, now);
			next_housekeeping = now + HOUSEKEEPING_PERIOD_S;
		}
		if (now >= next_integrity) {
			check_integrity(gw);
			next_integrity = now + gw->cfg.integrity_interval_s;
		}
		if (now >= next_checkpoint) {
			maybe_checkpoint(gw);
			next_checkpoint = now + CHECKPOINT_PERIOD_S;
		}
		mg_control_poll(&gw->control, mono_ms(), &handler);
		/* The control thread may sleep; workers never wait for it. */
		if (mg_slowpath_poll(gw) == 0)
			rte_delay_us_sleep(IDLE_SLEEP_US);
	}
}

static void free_ring_contents(struct rte_ring *r)
{
	void *m;

	while (rte_ring_dequeue(r, &m) == 0)
		rte_pktmbuf_free(m);
}

void mg_gateway_stop(struct mg_gateway *gw)
{
	__atomic_store_n(&gw->quit, 1, __ATOMIC_RELAXED);
	rte_eal_mp_wait_lcore();
	/* The telemetry thread reads workers and ports under this lock. */
	pthread_mutex_lock(&gw->lock);
	gw->n_workers = 0;
	for (uint16_t i = 0; i < MG_MAX_WORKERS; i++) {
		struct mg_worker *w = gw->workers[i];

		if (!w)
			continue;
		if (w->to_ctrl)
			free_ring_contents(w->to_ctrl);
		if (w->from_ctrl)
			free_ring_contents(w->from_ctrl);
		rte_ring_free(w->to_ctrl);
		rte_ring_free(w->from_ctrl);
		rte_free(w);
		gw->workers[i] = NULL;
	}
	for (uint16_t i = 0; i < gw->n_ports; i++)
		mg_port_close(&gw->ports[i]);
	gw->n_ports = 0;
	if (gw->pub.qsv)
		mg_publish_fini(&gw->pub);
	mg_control_close(&gw->control);
	mg_loader_fini(&gw->loader);
	if (gw->audit) {
		audit_or_alarm(mg_audit_append(gw->audit, "gateway.stop", "reason",
					       gw->exit_status == MG_EXIT_DRIFT ? "drift"
					       : gw->exit_status ? "failure" : "signal", NULL));
		audit_or_alarm(mg_audit_checkpoint(gw->audit));
		mg_audit_close(gw->audit);
		gw->audit = NULL;
	}
	mg_key_free(gw->node_key);
	gw->node_key = NULL;
	pthread_mutex_unlock(&gw->lock);
}
