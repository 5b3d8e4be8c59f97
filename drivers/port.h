/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Ethernet port bring-up: attach a PCI device or vdev by its devargs, one RX and
 * one TX queue per worker, RSS when the device has it, one mempool per port on
 * the port's NUMA socket.
 */
#ifndef MG_PORT_H
#define MG_PORT_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_mempool.h>

#include "fault.h"
#include "mg_error.h"
#include "mg_limits.h"

/*
 * A neighbour pinned on a port (ports[].pinned_neighbours): its MAC is fixed
 * for the process lifetime; no ARP frame changes it. The control thread's
 * neighbour table (ctrl/neigh.c) reads it; the port itself does not.
 */
#define MG_MAX_PINNED_NEIGHBOURS 32 /* per port */

struct mg_neigh_pin_config {
	uint32_t ip;    /* host byte order, inside the port's prefix */
	uint8_t mac[6]; /* unicast, not zero */
};

/* One port as gateway.conf describes it; ctrl/config.c fills it in. */
struct mg_port_config {
	char name[MG_NAME_LEN];     /* "fabric", "local": [a-z0-9_-], unique */
	char device[MG_DEVICE_LEN]; /* PCI address or vdev devargs string */
	uint32_t addr;              /* IPv4, host byte order */
	uint8_t prefix_len;         /* 1..32 */
	uint16_t mtu;               /* 576..9000 */
	bool has_next_hop;
	uint32_t next_hop;          /* host byte order; must sit inside the prefix */
	uint16_t rx_desc, tx_desc;  /* ring sizes, power of two 64..4096 */
	struct mg_fault_config fault; /* optional group; off unless present */
	uint16_t n_pins;
	struct mg_neigh_pin_config pins[MG_MAX_PINNED_NEIGHBOURS];
};

struct mg_port {
	const struct mg_port_config *cfg;
	uint16_t port_id;
	uint16_t n_queues;
	bool rss;          /* RSS puts each TCP flow on its owner's queue (steer.h) */
	uint16_t reta_size; /* the device's redirection table, with rss */
	bool started;
	uint64_t rx_csum_offloads; /* RTE_ETH_RX_OFFLOAD_* checksum bits enabled */
	struct rte_ether_addr mac;
	struct rte_mempool *pool;
	char driver[32];
};

/**
 * Attach, configure and start a port with @p n_queues RX/TX queue pairs and a
 * mempool of cfg->mbufs_per_port mbufs sized for the port's MTU.
 */
MG_RESULT mg_port_open(struct mg_port *p, const struct mg_port_config *cfg,
		       uint16_t n_queues, uint32_t n_mbufs);

/** Stop and close the port and detach its device; safe on a half-opened port. */
void mg_port_close(struct mg_port *p);

/** Current link state without waiting. */
void mg_port_link(const struct mg_port *p, bool *up, uint32_t *speed_mbps);

/**
 * An mbuf pool (data room @p room bytes) whose buffers lie end to end, with no
 * gaps at page boundaries, for af_xdp ports: DPDK 22.11's af_xdp registers as
 * its UMEM only as much memory as such a pool takes (see drivers/port.c).
 * Objects may cross pages, so the pool is unfit for a device that DMAs.
 * @return NULL with rte_errno set on failure.
 */
struct rte_mempool *mg_port_packed_pool_create(const char *name, uint32_t n_mbufs,
					       uint32_t room, int socket);

/**
 * Whether every buffer of @p mp lies in the area DPDK 22.11's af_xdp would
 * register for it. @p registered and @p span (either may be NULL) get that
 * area's size and the size the buffers really span, both from the first
 * buffer's page.
 */
bool mg_port_pool_fits_umem(struct rte_mempool *mp, size_t *registered, size_t *span);

/** True if @p device names a PCI address rather than a vdev. */
bool mg_port_device_is_pci(const char *device);

#endif /* MG_PORT_H */
