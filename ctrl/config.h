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
#include "mg_limits.h"
#include "port.h"
#include "svid_files.h"

#define MG_MAX_TRUST_KEYS 16
#define MG_MAX_CONTROL_UIDS 8

enum mg_crypto_provider {
	MG_CRYPTO_DEFAULT = 0, /* OpenSSL default provider (AES-NI/VAES) */
	MG_CRYPTO_QAT_PROVIDER,
	MG_CRYPTO_QAT_ENGINE,
};

/*
 * A listener: a TCP endpoint of ours spliced to an upstream endpoint
 * (dataplane/proxy.c). "tcp" carries plaintext both ways; "inbound" ends
 * mTLS from the fabric and sends plaintext to the local workload at its
 * upstream, presenting that workload's SVID; "outbound" takes plaintext from
 * a local workload (known by its source address in the snapshot) and
 * originates mTLS to its upstream, presenting the client workload's SVID and
 * requiring the upstream workload's SPIFFE ID.
 */

enum mg_listener_type {
	MG_LISTENER_TCP = 0,
	MG_LISTENER_INBOUND,
	MG_LISTENER_OUTBOUND,
};

struct mg_listener_config {
	char name[MG_NAME_LEN];     /* [a-z0-9_], unique; part of telemetry keys */
	enum mg_listener_type type;
	uint32_t listen_addr;       /* host byte order: one of the ports' addresses */
	uint16_t listen_port;       /* 1..65535 */
	uint32_t upstream_addr;     /* host byte order */
	uint16_t upstream_port;     /* 1..65535 */
	uint32_t backlog;           /* handshakes in progress, 1..65535 (default 1024) */
	uint32_t service_addr;      /* outbound: the snapshot's service (or workload)     */
	uint16_t service_port;      /* the upstream leads to; 0: the upstream itself      */
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
	uint32_t tcp_idle_timeout_s; /* proxied pair moving no byte is reset, 0..604800, 0 never (3600) */
	uint32_t tcp_handshake_timeout_s;   /* half-open inbound handshake, 1..600 (60) */
	uint32_t tcp_zero_window_timeout_s; /* peer window shut, then RST, 0..3600, 0 never (120) */
	uint32_t tcp_keepalive_s;    /* idle before keepalive probes, 0..86400, 0 off (7200) */

	uint16_t n_listeners;
	struct mg_listener_config listeners[MG_MAX_LISTENERS];

	/* The node's own SVIDs (svids = ( { name; cert; key; } )), and TLS limits */
	uint16_t n_svids;
	struct mg_svid_source svids[MG_MAX_SVIDS];
	uint32_t tls_handshake_timeout_ms; /* ClientHello to Finished, 100..60000 (10000) */
	uint32_t tls_max_handshakes;       /* in flight per worker, 1..4096 (256) */
	uint32_t tls_peer_handshakes;      /* in flight per worker per source address, 1..4096 (16) */
	uint32_t tls_handshake_threads;    /* handshake threads, 1..8 (1) */
	uint32_t tls_svid_expiry_warn_s;   /* warn this long before an SVID expires, 0..31536000 (86400) */
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
