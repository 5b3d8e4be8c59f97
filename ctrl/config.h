/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * gateway.conf: the node's own facts, read once at start (libconfig syntax).
 *
 * Nothing here changes while meshgw runs; a changed file on disk is drift, not a
 * reload. Every field is validated; the first problem is reported as
 * "FILE:LINE: FIELD: PROBLEM" through mg_errmsg() with a specific mg_err code.
 */
#ifndef MG_CONFIG_H
#define MG_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "mg_error.h"

#define MG_MAX_PORTS 4
#define MG_MAX_WORKERS 16
#define MG_MAX_TRUST_KEYS 16
#define MG_MAX_CONTROL_UIDS 8
#define MG_NAME_LEN 32
#define MG_DEVICE_LEN 256

enum mg_crypto_provider {
	MG_CRYPTO_DEFAULT = 0, /* OpenSSL default provider (AES-NI/VAES) */
	MG_CRYPTO_QAT_PROVIDER,
	MG_CRYPTO_QAT_ENGINE,
};

/*
 * Fault injection on one direction of a port (tests and benchmarks; see
 * drivers/fault.h). Probabilities are per packet, 0..1.
 */
#define MG_FAULT_MAX_REORDER_DEPTH 16
#define MG_FAULT_MAX_DELAY_US 1000000

struct mg_fault_dir_config {
	double loss;            /* dropped */
	double duplicate;       /* sent twice (a copy follows the original) */
	double reorder;         /* held back behind 1..reorder_depth later packets */
	double corrupt;         /* one bit flipped past the Ethernet header */
	uint16_t reorder_depth; /* packets held for reordering at once, 1..16 */
	uint32_t delay_us;      /* every packet held this long, 0..1000000 */
	uint16_t delay_slots;   /* capacity of the hold ring, power of two 64..4096 */
};

struct mg_fault_config {
	bool enabled;  /* the port has a fault group */
	uint32_t seed; /* queue q's random stream derives from seed, q and direction */
	struct mg_fault_dir_config rx, tx;
};

/*
 * A neighbour pinned on a port (ports[].pinned_neighbours): its MAC is fixed
 * for the process lifetime; no ARP frame changes it (ctrl/neigh.h).
 */
#define MG_MAX_PINNED_NEIGHBOURS 32 /* per port */

struct mg_neigh_pin_config {
	uint32_t ip;    /* host byte order, inside the port's prefix */
	uint8_t mac[6]; /* unicast, not zero */
};

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

/*
 * An L4 listener: a TCP endpoint of ours spliced to an upstream endpoint
 * (dataplane/proxy.c). Only "tcp" for now; the mTLS types come later.
 */
#define MG_MAX_LISTENERS 64

enum mg_listener_type {
	MG_LISTENER_TCP = 0,
};

struct mg_listener_config {
	char name[MG_NAME_LEN];     /* [a-z0-9_], unique; part of telemetry keys */
	enum mg_listener_type type;
	uint32_t listen_addr;       /* host byte order: one of the ports' addresses */
	uint16_t listen_port;       /* 1..65535 */
	uint32_t upstream_addr;     /* host byte order */
	uint16_t upstream_port;     /* 1..65535 */
	uint32_t backlog;           /* handshakes in progress, 1..65535 (default 1024) */
};

struct mg_config {
	char path[PATH_MAX];
	char node_name[64];

	uint16_t n_workers;
	unsigned worker_lcores[MG_MAX_WORKERS]; /* distinct EAL lcore ids */

	uint16_t n_ports;
	struct mg_port_config ports[MG_MAX_PORTS];
	uint32_t mbufs_per_port; /* mempool size per port, 1024..1048576 */

	char state_dir[PATH_MAX];
	char audit_log[PATH_MAX];
	char node_key[PATH_MAX]; /* signs audit checkpoints and attestations */

	char control_socket[PATH_MAX];
	uint16_t n_control_uids;
	uint32_t control_uids[MG_MAX_CONTROL_UIDS];

	bool telemetry_enabled;
	enum mg_crypto_provider crypto_provider;

	uint16_t n_trust_keys;
	char trust_keys[MG_MAX_TRUST_KEYS][PATH_MAX]; /* PEM public keys */
	uint16_t trust_threshold;                     /* 1..n_trust_keys */

	uint64_t snapshot_max_bytes; /* 4096..268435456, default 16 MiB */
	uint32_t neigh_timeout_s;    /* ARP entry lifetime, 10..86400 */
	uint32_t integrity_interval_s;

	/* TCP stack of every worker (dataplane/tcp) */
	uint32_t tcp_max_conns;      /* per worker, 1024..1048576 (default 32768) */
	uint32_t tcp_buffer_kb;      /* send and receive buffer per connection, 16..16384 */
	uint32_t tcp_rto_min_ms;     /* retransmission timeout floor, 1..1000 (default 200) */

	uint16_t n_listeners;
	struct mg_listener_config listeners[MG_MAX_LISTENERS];
};

/** Fill @p cfg with defaults (used before loading; tests). */
void mg_config_defaults(struct mg_config *cfg);

/**
 * Load and validate @p path into @p cfg. On failure mg_errmsg() holds
 * "PATH:LINE: FIELD: PROBLEM" and mg_errno() the specific code.
 */
MG_RESULT mg_config_load(struct mg_config *cfg, const char *path);

/** The same from a string; @p name stands in for the path in messages. */
MG_RESULT mg_config_load_string(struct mg_config *cfg, const char *text,
				const char *name);

/** Name of a crypto provider as written in gateway.conf. */
const char *mg_crypto_provider_name(enum mg_crypto_provider p);

#endif /* MG_CONFIG_H */
