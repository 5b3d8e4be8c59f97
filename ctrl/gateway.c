/* SPDX-License-Identifier: BSD-3-Clause */
#include "gateway.h"

#include "dp_policy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
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
#include "unmap_gate.h"

/*
 * The control thread naps when the slow path is idle, longer each idle round
 * up to IDLE_NAP_MAX_US; any exception packet brings it back to the shortest.
 * A fixed 100 us nap woke it 10 000 times a second: on a core it shares with
 * other processes that cost them about a quarter of the core, and a client's
 * request waited behind it (L4 benchmark p50 500 us; see bench/README.md).
 */
#define IDLE_NAP_MIN_US 100u
#define IDLE_NAP_MAX_US 1000u
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
	wp->rss = p->rss;
	memcpy(wp->addrs.mac, p->mac.addr_bytes, RTE_ETHER_ADDR_LEN);
	wp->addrs.ip = rte_cpu_to_be_32(p->cfg->addr);
	wp->addrs.netmask = rte_cpu_to_be_32(len ? ~0u << (32 - len) : 0);
}

static struct rte_ring *make_ring_sized(const char *kind, uint16_t index, unsigned socket,
				       unsigned size)
{
	char name[RTE_RING_NAMESIZE];

	snprintf(name, sizeof(name), "mg_%s_%u", kind, index);
	return rte_ring_create(name, size, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
}

static struct rte_ring *make_ring(const char *kind, uint16_t index, unsigned socket)
{
	return make_ring_sized(kind, index, socket, MG_SLOWPATH_RING_SIZE);
}

/* Which port reaches @p a (host order) and whose MAC the frames go to. */
static bool route(const struct mg_config *c, uint32_t a, uint8_t *port, uint32_t *hop)
{
	for (uint16_t i = 0; i < c->n_ports; i++) {
		uint32_t len = c->ports[i].prefix_len;
		uint32_t mask = len ? ~0u << (32 - len) : 0;

		if ((a & mask) == (c->ports[i].addr & mask)) {
			*port = (uint8_t)i;
			*hop = a;
			return true;
		}
	}
	for (uint16_t i = 0; i < c->n_ports; i++) {
		if (c->ports[i].has_next_hop) {
			*port = (uint8_t)i;
			*hop = c->ports[i].next_hop;
			return true;
		}
	}
	return false;
}

/* gateway.conf listeners as the proxy wants them: network order, route resolved. */
static MG_RESULT proxy_listeners(struct mg_gateway *gw)
{
	const struct mg_config *c = &gw->cfg;

	for (uint16_t i = 0; i < c->n_listeners; i++) {
		const struct mg_listener_config *lc = &c->listeners[i];
		struct mg_proxy_listener_conf *l = &gw->proxy_listeners[i];
		uint32_t hop;

		MG_ENSURE(route(c, lc->upstream_addr, &l->up_port, &hop), CONFIG_VALUE,
			  "%s: listeners[%u].upstream: no route", c->path, i);
		l->listen_ip = rte_cpu_to_be_32(lc->listen_addr);
		l->listen_port = rte_cpu_to_be_16(lc->listen_port);
		l->upstream_ip = rte_cpu_to_be_32(lc->upstream_addr);
		l->upstream_port = rte_cpu_to_be_16(lc->upstream_port);
		l->backlog = lc->backlog;
		l->next_hop = rte_cpu_to_be_32(hop);
		l->idle_timeout_us = (uint64_t)c->tcp_idle_timeout_s * 1000000;
		l->kind = lc->type == MG_LISTENER_INBOUND    ? MG_PROXY_INBOUND
			  : lc->type == MG_LISTENER_OUTBOUND ? MG_PROXY_OUTBOUND
							     : MG_PROXY_PLAIN;
		/* The policy is asked about the upstream, or for outbound the service. */
		l->dst_ip = lc->type == MG_LISTENER_OUTBOUND && lc->service_addr
				    ? rte_cpu_to_be_32(lc->service_addr) : l->upstream_ip;
		l->dst_port = lc->type == MG_LISTENER_OUTBOUND && lc->service_addr
				      ? rte_cpu_to_be_16(lc->service_port) : l->upstream_port;
	}
	gw->n_proxy_listeners = c->n_listeners;
	return 0;
}

/* The stack's parameters from the ports: addresses, MTUs, offloads enabled. */
static void tcp_params(struct mg_gateway *gw, struct mg_tcp_params *p, const uint8_t secret[16])
{
	uint64_t pool_bytes = 0;

	mg_tcp_params_default(p);
	p->n_ports = gw->n_ports;
	p->pool = gw->ports[0].pool;
	p->max_conns = gw->cfg.tcp_max_conns;
	p->sndbuf = p->rcvbuf = gw->cfg.tcp_buffer_kb * 1024;
	p->rto_min = gw->cfg.tcp_rto_min_ms * 1000;
	p->handshake_timeout = gw->cfg.tcp_handshake_timeout_s * 1000000;
	p->zero_window_timeout = gw->cfg.tcp_zero_window_timeout_s * 1000000;
	p->keep_idle = (uint64_t)gw->cfg.tcp_keepalive_s * 1000000;
	memcpy(p->isn_secret, secret, sizeof(p->isn_secret));
	p->flags |= MG_TCP_F_CSUM_OFFLOAD;
	for (uint16_t i = 0; i < gw->n_ports; i++) {
		struct rte_eth_dev_info info;
		const uint64_t csum = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM;

		memcpy(p->ports[i].mac, gw->ports[i].mac.addr_bytes, 6);
		p->ports[i].ip = rte_cpu_to_be_32(gw->cfg.ports[i].addr);
		p->ports[i].mtu = gw->cfg.ports[i].mtu;
		p->ports[i].tx_pool = gw->ports[i].pool;
		pool_bytes += (uint64_t)gw->ports[i].pool->size * gw->ports[i].pool->elt_size;
		/* drivers/port.c enables exactly these when the device has them. */
		if (rte_eth_dev_info_get(gw->ports[i].port_id, &info) != 0)
			info.tx_offload_capa = 0;
		if ((info.tx_offload_capa & csum) != csum)
			p->flags &= ~MG_TCP_F_CSUM_OFFLOAD;
		/* No multi-segment TX: every payload is copied into its header mbuf. */
		if (!(info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS))
			p->tx_copy_max = UINT16_MAX;
	}
	/* Queued data may hold half the port mbufs, shared by the workers. */
	p->mem_max = pool_bytes / 2 / (gw->n_workers ? gw->n_workers : 1);
}

static MG_RESULT start_tcp(struct mg_gateway *gw)
{
	uint8_t secret[16];
	struct mg_tcp_params p;
	struct mg_neigh_snap *empty = calloc(1, sizeof(*empty));
	int rc = -1;

	MG_ENSURE(empty, NOMEM, "neighbour snapshot: no memory");
	if (mg_publish_init(&gw->neigh_pub, gw->n_workers, empty, free) < 0) {
		free(empty);
		return -1;
	}
	MG_GUARD(proxy_listeners(gw));
	/* One secret per boot for every worker: ISNs and cookies stay unguessable. */
	MG_ENSURE(getrandom(secret, sizeof(secret), 0) == sizeof(secret), IO,
		  "getrandom: %s", strerror(errno));
	tcp_params(gw, &p, secret);
	for (uint16_t i = 0; i < gw->n_workers; i++) {
		struct mg_worker *w = gw->workers[i];

		snprintf(w->tcp_name, sizeof(w->tcp_name), "mg_tcp_%u", i);
		p.name = w->tcp_name;
		p.socket_id = (int)rte_lcore_to_socket_id(w->lcore);
		struct mg_proxy_tls_conf tls;

		w->neigh_pub = &gw->neigh_pub;
		mg_gw_tls_worker_conf(gw, i, &tls);
		rc = mg_worker_tcp_init(w, &p, gw->proxy_listeners, gw->n_proxy_listeners,
					&mg_dp_policy_env, &tls);
		if (rc < 0)
			break;
	}
	memset(secret, 0, sizeof(secret));
	memset(p.isn_secret, 0, sizeof(p.isn_secret));
	return rc;
}

/* Steering rings: one SP/SC ring per ordered pair of distinct workers. */
static MG_RESULT make_steer_rings(struct mg_gateway *gw)
{
	for (uint16_t from = 0; from < gw->n_workers; from++) {
		for (uint16_t to = 0; to < gw->n_workers; to++) {
			struct rte_ring *r;

			if (from == to)
				continue;
			r = make_ring_sized("steer", (uint16_t)(from * MG_MAX_WORKERS + to),
					    rte_lcore_to_socket_id(gw->workers[to]->lcore),
					    MG_STEER_RING_SIZE);
			MG_ENSURE(r, NOMEM, "steering ring %u->%u: %s", from, to,
				  rte_strerror(rte_errno));
			gw->workers[from]->steer_out[to] = r;
			gw->workers[to]->steer_in[from] = r;
		}
	}
	return 0;
}

static struct rte_ring *make_event_ring(uint16_t index, unsigned socket)
{
	char name[RTE_RING_NAMESIZE];

	snprintf(name, sizeof(name), "mg_events_%u", index);
	return rte_ring_create_elem(name, sizeof(struct mg_proxy_event), MG_EVENT_RING_SIZE,
				    (int)socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
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
	w->n_workers = gw->n_workers;
	w->to_ctrl = make_ring("to_ctrl", index, socket);
	w->from_ctrl = make_ring("from_ctrl", index, socket);
	w->resolve = make_ring_sized("resolve", index, socket, MG_RESOLVE_RING_SIZE);
	w->events = make_event_ring(index, socket);
	MG_ENSURE(w->to_ctrl && w->from_ctrl && w->resolve && w->events, NOMEM,
		  "worker %u: rings: %s", index, rte_strerror(rte_errno));
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

/* gateway.conf's pinned neighbours, before any ARP frame is read. */
static MG_RESULT pin_neighbours(struct mg_gateway *gw)
{
	for (uint16_t pi = 0; pi < gw->cfg.n_ports; pi++) {
		const struct mg_port_config *p = &gw->cfg.ports[pi];

		for (uint16_t i = 0; i < p->n_pins; i++) {
			struct rte_ether_addr mac;

			memcpy(mac.addr_bytes, p->pins[i].mac, RTE_ETHER_ADDR_LEN);
			MG_ENSURE(mg_neigh_pin(&gw->neigh, pi, rte_cpu_to_be_32(p->pins[i].ip),
					       &mac) == 0,
				  INTERNAL, "ports[%u].pinned_neighbours[%u]: cannot pin", pi, i);
		}
	}
	return 0;
}

MG_RESULT mg_gateway_start(struct mg_gateway *gw)
{
	pthread_mutex_init(&gw->lock, NULL);
	gw->control.listen_fd = -1;
	gw->started_tsc = rte_rdtsc();
	gw->started_unix = (uint64_t)time(NULL);
	mg_neigh_init(&gw->neigh, gw->cfg.neigh_timeout_s);
	MG_GUARD(pin_neighbours(gw));
	MG_GUARD(check_lcores(&gw->cfg));
	gw->n_workers = gw->cfg.n_workers;
	MG_GUARD(mg_integrity_init(&gw->integrity));
	MG_GUARD(open_audit(gw));
	gw->exit_status = MG_EXIT_UNAVAILABLE;
	MG_GUARD(mg_gw_tls_load_provider(&gw->cfg));
	MG_GUARD(open_ports(gw));
	MG_GUARD(mg_publish_init(&gw->pub, gw->n_workers, NULL, mg_gen_free));
	MG_GUARD(mg_loader_init(&gw->loader, &gw->cfg, gw->audit, &gw->pub));
	gw->loader.workers = gw->n_workers; /* each gets its own L7 scratch */
	/* Before the boot load: each generation is published with its TLS state. */
	MG_GUARD(mg_gw_tls_init(gw));
	/* The persisted snapshot (or deny-all) is published before any worker runs. */
	mg_loader_boot(&gw->loader, (uint64_t)time(NULL));
	MG_GUARD(mg_control_open(&gw->control, gw->cfg.control_socket,
				 gw->cfg.snapshot_max_bytes, gw->cfg.control_uids,
				 gw->cfg.n_control_uids));
	for (uint16_t i = 0; i < gw->n_workers; i++)
		MG_GUARD(make_worker(gw, i));
	if (gw->cfg.n_listeners > 0) {
		gw->exit_status = MG_EXIT_UNAVAILABLE;
		MG_GUARD(make_steer_rings(gw));
		MG_GUARD(start_tcp(gw));
	}
	/*
	 * Before the workers poll: a PMD that unmaps queue memory on the
	 * interrupt thread (memif, when its peer goes away) waits for them to
	 * leave their bursts first. They report on the policy's QSBR every loop.
	 */
	MG_GUARD(mg_unmap_gate_arm(gw->pub.qsv));
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
	mg_slowpath_tick(gw, now_s);
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

/*
 * Neighbours for the proxy: ARP for every listener's next hop at start and
 * again well before the entries expire, answer the workers' resolve requests,
 * and publish a new snapshot when the table changed.
 */
static void neigh_tick(struct mg_gateway *gw, uint64_t now_s)
{
	if (now_s >= gw->next_arp_refresh_s) {
		for (uint16_t i = 0; i < gw->n_proxy_listeners; i++)
			mg_slowpath_arp_request(gw, gw->proxy_listeners[i].up_port,
						gw->proxy_listeners[i].next_hop);
		gw->next_arp_refresh_s = now_s + (gw->cfg.neigh_timeout_s / 3 ?
						  gw->cfg.neigh_timeout_s / 3 : 1);
	}
	mg_slowpath_resolve_poll(gw);
	if (__atomic_load_n(&gw->neigh.version, __ATOMIC_RELAXED) !=
	    gw->neigh_published_version) {
		struct mg_neigh_snap *s = mg_neigh_snap_build(&gw->neigh);

		if (s) {
			gw->neigh_published_version = s->version;
			mg_publish_swap(&gw->neigh_pub, s);
			gw->neigh_publishes++;
		}
	}
}

void mg_gateway_run(struct mg_gateway *gw)
{
	const struct mg_control_handler handler = { on_snapshot, on_control_refused, gw };
	uint64_t next_housekeeping = 0, next_checkpoint = 0, next_integrity = 0;
	uint32_t nap_us = IDLE_NAP_MIN_US;

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
		mg_gw_tls_tick(gw, now);
		if (gw->neigh_pub.qsv)
			neigh_tick(gw, now);
		/* The control thread may sleep; workers never wait for it. */
		if (mg_slowpath_poll(gw) > 0) {
			nap_us = IDLE_NAP_MIN_US;
			continue;
		}
		rte_delay_us_sleep(nap_us);
		nap_us = RTE_MIN(2 * nap_us, IDLE_NAP_MAX_US);
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
	mg_gw_tls_stop_threads(gw);
	/* No worker polls now; the QSBR variable the gate waits on is freed below. */
	mg_unmap_gate_disarm();
	/* The telemetry thread reads workers and ports under this lock. */
	pthread_mutex_lock(&gw->lock);
	gw->n_workers = 0;
	for (uint16_t i = 0; i < MG_MAX_WORKERS; i++) {
		struct mg_worker *w = gw->workers[i];

		if (!w)
			continue;
		mg_worker_tcp_free(w);
		for (uint16_t k = 0; k < MG_MAX_WORKERS; k++) {
			if (w->steer_out[k]) {
				free_ring_contents(w->steer_out[k]);
				rte_ring_free(w->steer_out[k]);
			}
		}
		rte_ring_free(w->resolve);
		rte_ring_free(w->events);
		if (w->to_ctrl)
			free_ring_contents(w->to_ctrl);
		if (w->from_ctrl)
			free_ring_contents(w->from_ctrl);
		rte_ring_free(w->to_ctrl);
		rte_ring_free(w->from_ctrl);
		rte_free(w);
		gw->workers[i] = NULL;
	}
	mg_gw_tls_free(gw);
	for (uint16_t i = 0; i < gw->n_ports; i++)
		mg_port_close(&gw->ports[i]);
	gw->n_ports = 0;
	if (gw->pub.qsv)
		mg_publish_fini(&gw->pub);
	if (gw->neigh_pub.qsv)
		mg_publish_fini(&gw->neigh_pub);
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
