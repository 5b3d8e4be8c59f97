/* SPDX-License-Identifier: BSD-3-Clause */
#include "port.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mbuf_pool_ops.h>
#include <rte_mempool.h>

#include "fault.h"
#include "steer.h"

#define MEMPOOL_CACHE 256
#define LINK_WAIT_MS 0


bool mg_port_device_is_pci(const char *device)
{
	/* DDDD:BB:DD.F or BB:DD.F; vdev names start with a letter. */
	return isxdigit((unsigned char)device[0]) && strchr(device, ':') &&
	       strncmp(device, "net_", 4) != 0;
}

/* The ethdev name a device gets: the vdev name, or the full PCI address. */
static void device_name(const char *device, char *name, size_t size)
{
	size_t n = strcspn(device, ",");

	if (mg_port_device_is_pci(device) && n == 7) /* BB:DD.F */
		snprintf(name, size, "0000:%.*s", (int)n, device);
	else
		snprintf(name, size, "%.*s", (int)(n < size ? n : size - 1), device);
}

static MG_RESULT attach(struct mg_port *p)
{
	char name[RTE_ETH_NAME_MAX_LEN];
	int rc;

	device_name(p->cfg->device, name, sizeof(name));
	/* -EEXIST: already probed by EAL's bus scan or an EAL --vdev. */
	rc = rte_dev_probe(p->cfg->device);
	MG_ENSURE(rc == 0 || rc == -EEXIST, DPDK,
		  "port %s: cannot attach device '%s': %s", p->cfg->name,
		  p->cfg->device, rte_strerror(-rc));
	MG_ENSURE(rte_eth_dev_get_port_by_name(name, &p->port_id) == 0, DPDK,
		  "port %s: device '%s' attached but no ethdev named '%s'",
		  p->cfg->name, p->cfg->device, name);
	return 0;
}

/*
 * RSS with the symmetric key of drivers/steer.h: both directions of a flow
 * hash alike, and with the redirection table of program_reta() a TCP segment
 * lands on the queue of the worker mg_steer_owner() names. A device that
 * cannot take that key, hash TCP ports or hold that table gets no RSS: its
 * frames all arrive on queue 0 and the workers steer them in software.
 */
static void rss_conf(struct mg_port *p, const struct rte_eth_dev_info *info,
		     struct rte_eth_conf *conf)
{
	uint64_t hf = (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP) &
		      info->flow_type_rss_offloads;

	p->rss = p->n_queues > 1 && (hf & RTE_ETH_RSS_NONFRAG_IPV4_TCP) &&
		 info->hash_key_size == sizeof(mg_steer_rss_key) && info->reta_size &&
		 info->reta_size % MG_STEER_RETA == 0;
	if (!p->rss)
		return;
	conf->rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
	conf->rxmode.offloads |= RTE_ETH_RX_OFFLOAD_RSS_HASH & info->rx_offload_capa;
	conf->rx_adv_conf.rss_conf.rss_hf = hf;
	conf->rx_adv_conf.rss_conf.rss_key = (uint8_t *)(uintptr_t)mg_steer_rss_key;
	conf->rx_adv_conf.rss_conf.rss_key_len = sizeof(mg_steer_rss_key);
	p->reta_size = info->reta_size;
}

/* Entry i -> queue (i % MG_STEER_RETA) % queues: mg_steer_owner_of_hash(). */
static MG_RESULT program_reta(struct mg_port *p)
{
	struct rte_eth_rss_reta_entry64 reta[RTE_ETH_RSS_RETA_SIZE_512 / RTE_ETH_RETA_GROUP_SIZE];
	int rc;

	if (!p->rss)
		return 0;
	MG_ENSURE(p->reta_size <= RTE_ETH_RSS_RETA_SIZE_512, DPDK,
		  "port %s: redirection table of %u entries", p->cfg->name, p->reta_size);
	memset(reta, 0, sizeof(reta));
	for (uint16_t i = 0; i < p->reta_size; i++) {
		reta[i / RTE_ETH_RETA_GROUP_SIZE].mask |= 1ull << (i % RTE_ETH_RETA_GROUP_SIZE);
		reta[i / RTE_ETH_RETA_GROUP_SIZE].reta[i % RTE_ETH_RETA_GROUP_SIZE] =
			(uint16_t)(i % MG_STEER_RETA % p->n_queues);
	}
	rc = rte_eth_dev_rss_reta_update(p->port_id, reta, p->reta_size);
	MG_ENSURE(rc == 0, DPDK, "port %s: RSS redirection table: %s", p->cfg->name,
		  rte_strerror(-rc));
	return 0;
}

static MG_RESULT configure(struct mg_port *p)
{
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf;
	uint64_t csum = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM |
			RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
	const uint64_t tx_csum = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
	int rc;

	memset(&conf, 0, sizeof(conf));
	rc = rte_eth_dev_info_get(p->port_id, &info);
	MG_ENSURE(rc == 0, DPDK, "port %s: dev_info: %s", p->cfg->name, rte_strerror(-rc));
	snprintf(p->driver, sizeof(p->driver), "%s", info.driver_name);
	MG_ENSURE(p->n_queues <= info.max_rx_queues && p->n_queues <= info.max_tx_queues,
		  DPDK, "port %s: %u workers need %u queue pairs, device has %u/%u",
		  p->cfg->name, p->n_queues, p->n_queues, info.max_rx_queues,
		  info.max_tx_queues);
	/* Checksums the NIC verifies are marked in ol_flags; the rest we verify. */
	p->rx_csum_offloads = info.rx_offload_capa & csum;
	conf.rxmode.offloads = p->rx_csum_offloads;
	/*
	 * TCP sends payload as indirect mbufs behind a header (multi-segment
	 * frames) and lets the NIC sum IPv4 and TCP when it can. Workers read
	 * back what was enabled (rte_eth_dev_conf_get) and adapt the stack.
	 */
	conf.txmode.offloads = info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	if ((info.tx_offload_capa & tx_csum) == tx_csum)
		conf.txmode.offloads |= tx_csum;
	rss_conf(p, &info, &conf);
	rc = rte_eth_dev_configure(p->port_id, p->n_queues, p->n_queues, &conf);
	MG_ENSURE(rc == 0, DPDK, "port %s: configure: %s", p->cfg->name, rte_strerror(-rc));
	rc = rte_eth_dev_set_mtu(p->port_id, p->cfg->mtu);
	/* Virtual devices often cannot change MTU; then the device's own applies. */
	MG_ENSURE(rc == 0 || rc == -ENOTSUP, DPDK, "port %s: set MTU %u: %s",
		  p->cfg->name, p->cfg->mtu, rte_strerror(-rc));
	return 0;
}

/*
 * DPDK 22.11's af_xdp registers as its UMEM only populated_size * object size
 * bytes from the pool's first page (fixed upstream in 24.07 by "net/af_xdp:
 * parse UMEM map info from mempool"). A pool laid out page by page has gaps
 * (4 KiB pages hold one 2.4 KiB mbuf each), so its later objects lie past
 * that end. The kernel refuses them: each one put in the fill ring is lost,
 * until the ring is empty and the port drops everything it receives (seen: the
 * L4 proxy stalled for good once a transfer first reached those buffers), and
 * each one sent is dropped as an invalid descriptor. Packed without gaps, the
 * pool lies inside the UMEM. There is no DMA on af_xdp, so objects may cross
 * pages.
 */
struct rte_mempool *mg_port_packed_pool_create(const char *name, uint32_t n_mbufs,
					       uint32_t room, int socket)
{
	struct rte_pktmbuf_pool_private priv = { .mbuf_data_room_size = (uint16_t)room };
	struct rte_mempool *mp;

	mp = rte_mempool_create_empty(name, n_mbufs, sizeof(struct rte_mbuf) + room,
				      MEMPOOL_CACHE, sizeof(priv), socket,
				      RTE_MEMPOOL_F_NO_IOVA_CONTIG);
	if (!mp)
		return NULL;
	if (rte_mempool_set_ops_byname(mp, rte_mbuf_best_mempool_ops(), NULL) != 0)
		goto fail;
	rte_pktmbuf_pool_init(mp, &priv);
	if (rte_mempool_populate_default(mp) < 0)
		goto fail;
	rte_mempool_obj_iter(mp, rte_pktmbuf_init, NULL);
	return mp;
fail:
	rte_mempool_free(mp);
	return NULL;
}

struct umem_span {
	size_t obj_size;  /* header + element + trailer: the UMEM's frame size */
	uintptr_t end;    /* the highest object end seen */
};

static void object_end(struct rte_mempool *mp, void *arg, void *obj, unsigned idx)
{
	struct umem_span *u = arg;
	uintptr_t end = (uintptr_t)obj - mp->header_size + u->obj_size;

	(void)idx;
	if (end > u->end)
		u->end = end;
}

bool mg_port_pool_fits_umem(struct rte_mempool *mp, size_t *registered, size_t *span)
{
	struct rte_mempool_memhdr *first = STAILQ_FIRST(&mp->mem_list);
	struct umem_span u = { 0 };
	uintptr_t base, limit;

	if (registered)
		*registered = 0;
	if (span)
		*span = 0;
	if (!first)
		return false;
	/* As the driver does: from the first chunk's page, populated_size frames. */
	base = (uintptr_t)first->addr & ~((uintptr_t)getpagesize() - 1);
	u.obj_size = rte_mempool_calc_obj_size(mp->elt_size, mp->flags, NULL);
	limit = (uintptr_t)first->addr + (uintptr_t)mp->populated_size * u.obj_size;
	rte_mempool_obj_iter(mp, object_end, &u);
	if (registered)
		*registered = limit - base;
	if (span)
		*span = u.end > base ? u.end - base : 0;
	return u.end <= limit;
}

/* Every object must lie inside the UMEM that af_xdp will register. */
static MG_RESULT check_umem_covers_pool(const struct mg_port *p)
{
	size_t registered, span;

	MG_ENSURE(mg_port_pool_fits_umem(p->pool, &registered, &span), DPDK,
		  "port %s: af_xdp would register %zu bytes of the mbuf pool but its "
		  "buffers span %zu (%u memory chunks); buffers past the end would be lost",
		  p->cfg->name, registered, span, p->pool->nb_mem_chunks);
	return 0;
}

static MG_RESULT create_pool(struct mg_port *p, uint32_t n_mbufs)
{
	char name[RTE_MEMPOOL_NAMESIZE];
	/* Room for a whole frame in one segment: we never chain on receive. */
	uint32_t room = RTE_PKTMBUF_HEADROOM + p->cfg->mtu + RTE_ETHER_HDR_LEN +
			RTE_ETHER_CRC_LEN + 2 * RTE_VLAN_HLEN;
	int socket = rte_eth_dev_socket_id(p->port_id);
	bool af_xdp = strcmp(p->driver, "net_af_xdp") == 0;

	if (room < RTE_MBUF_DEFAULT_BUF_SIZE)
		room = RTE_MBUF_DEFAULT_BUF_SIZE;
	if (socket < 0)
		socket = (int)rte_socket_id();
	snprintf(name, sizeof(name), "mg_pool_%u", p->port_id);
	if (af_xdp)
		p->pool = mg_port_packed_pool_create(name, n_mbufs, room, socket);
	else
		p->pool = rte_pktmbuf_pool_create(name, n_mbufs, MEMPOOL_CACHE, 0, room, socket);
	MG_ENSURE(p->pool != NULL, NOMEM, "port %s: mempool of %u mbufs: %s",
		  p->cfg->name, n_mbufs, rte_strerror(rte_errno));
	if (af_xdp)
		MG_GUARD(check_umem_covers_pool(p));
	return 0;
}

static MG_RESULT setup_queues(struct mg_port *p)
{
	uint16_t rxd = p->cfg->rx_desc, txd = p->cfg->tx_desc;
	int socket = rte_eth_dev_socket_id(p->port_id);
	int rc;

	rc = rte_eth_dev_adjust_nb_rx_tx_desc(p->port_id, &rxd, &txd);
	MG_ENSURE(rc == 0, DPDK, "port %s: descriptors: %s", p->cfg->name, rte_strerror(-rc));
	for (uint16_t q = 0; q < p->n_queues; q++) {
		rc = rte_eth_rx_queue_setup(p->port_id, q, rxd, socket, NULL, p->pool);
		MG_ENSURE(rc == 0, DPDK, "port %s: rx queue %u: %s", p->cfg->name, q,
			  rte_strerror(-rc));
		rc = rte_eth_tx_queue_setup(p->port_id, q, txd, socket, NULL);
		MG_ENSURE(rc == 0, DPDK, "port %s: tx queue %u: %s", p->cfg->name, q,
			  rte_strerror(-rc));
	}
	return 0;
}

MG_RESULT mg_port_open(struct mg_port *p, const struct mg_port_config *cfg,
		       uint16_t n_queues, uint32_t n_mbufs)
{
	int rc;

	memset(p, 0, sizeof(*p));
	p->cfg = cfg;
	p->port_id = RTE_MAX_ETHPORTS;
	p->n_queues = n_queues;
	MG_GUARD(attach(p));
	MG_GUARD(configure(p));
	MG_GUARD(create_pool(p, n_mbufs));
	MG_GUARD(setup_queues(p));
	/* Fault injection (tests): callbacks on the queues just set up, if configured. */
	MG_GUARD(mg_fault_attach(p->port_id, &cfg->fault, p->n_queues, p->pool));
	rc = rte_eth_macaddr_get(p->port_id, &p->mac);
	MG_ENSURE(rc == 0, DPDK, "port %s: MAC address: %s", cfg->name, rte_strerror(-rc));
	rc = rte_eth_dev_start(p->port_id);
	MG_ENSURE(rc == 0, DPDK, "port %s: start: %s", cfg->name, rte_strerror(-rc));
	p->started = true;
	MG_GUARD(program_reta(p));
	return 0;
}

void mg_port_close(struct mg_port *p)
{
	struct rte_eth_dev_info info;

	if (p->port_id >= RTE_MAX_ETHPORTS || !rte_eth_dev_is_valid_port(p->port_id))
		goto out;
	if (p->started)
		rte_eth_dev_stop(p->port_id);
	p->started = false;
	/* Fault injection holds mbufs of the pool: free them while it still exists. */
	mg_fault_detach(p->port_id);
	/* Close before detaching: the PMD releases its sockets/queues here. */
	if (rte_eth_dev_info_get(p->port_id, &info) == 0 && info.device) {
		rte_eth_dev_close(p->port_id);
		rte_dev_remove(info.device);
	}
out:
	if (p->pool)
		rte_mempool_free(p->pool);
	p->pool = NULL;
	p->port_id = RTE_MAX_ETHPORTS;
}

void mg_port_link(const struct mg_port *p, bool *up, uint32_t *speed_mbps)
{
	struct rte_eth_link link;

	memset(&link, 0, sizeof(link));
	if (p->started)
		rte_eth_link_get_nowait(p->port_id, &link);
	*up = link.link_status == RTE_ETH_LINK_UP;
	*speed_mbps = link.link_speed;
}
