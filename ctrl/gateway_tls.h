/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The gateway's TLS side on the control thread (gateway_tls.c): SVID files,
 * the TLS state of each generation (the loader's attach hook), handshake
 * threads, rotation, and audit records of the workers' refusals.
 */
#ifndef MG_GATEWAY_TLS_H
#define MG_GATEWAY_TLS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "mg_error.h"
#include "proxy.h"
#include "svid_files.h"
#include "tls_svc.h"

#define MG_MAX_HS_THREADS 8

struct mg_gw_svid {
	bool loaded;            /* f holds the pair in use */
	char first_id[MG_SPIFFE_MAX_LEN + 1]; /* the ID it was first loaded with: never changes */
	bool expiring, expiry_audited;
	uint64_t last_try_s;    /* a pair never loaded is tried again every few seconds */
	char error[256];        /* why the files on disk are not in use ("" none) */
	struct mg_svid_files f;
};

struct mg_gw_tls {
	bool on;                /* inbound or outbound listeners: the service runs */
	struct mg_tls_svc svc;
	pthread_t threads[MG_MAX_HS_THREADS];
	uint32_t n_threads;
	struct mg_gw_svid svid[MG_MAX_SVIDS];
	uint64_t next_svid_check_s;
	uint64_t rotations, svid_refusals;
	uint64_t audit_window_s, suppressed_pending;
	uint32_t audit_in_window;
	uint64_t events_audited, events_suppressed;
};

struct mg_gateway;

/** True when gateway.conf has an inbound or outbound listener. */
bool mg_gw_tls_wanted(const struct mg_config *c);

/** Load crypto.provider's QAT provider or engine; absent is an error (before any port opens). */
MG_RESULT mg_gw_tls_load_provider(const struct mg_config *c);

/** Hook the loader (before its boot) and, with TLS listeners, start the handshake service. */
MG_RESULT mg_gw_tls_init(struct mg_gateway *gw);

/** What worker @p w's proxy needs of the service. */
void mg_gw_tls_worker_conf(struct mg_gateway *gw, uint16_t w, struct mg_proxy_tls_conf *out);

/** Control loop: audit the workers' events; once a second, look at the SVID files. */
void mg_gw_tls_tick(struct mg_gateway *gw, uint64_t now_s);

/**
 * Drift: each SVID in use is still the leaf that was loaded (its DER hash),
 * names the SPIFFE ID it was first loaded with, and is what the contexts in
 * force present. MG_ERR_INTEGRITY-style failure with what differs.
 */
MG_RESULT mg_gw_tls_check_identities(struct mg_gateway *gw);

/** Stop the handshake threads (before the workers' proxies are freed). */
void mg_gw_tls_stop_threads(struct mg_gateway *gw);

/** Free the service and the SVIDs (after the workers' proxies). */
void mg_gw_tls_free(struct mg_gateway *gw);

#endif /* MG_GATEWAY_TLS_H */
