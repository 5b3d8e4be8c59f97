/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * /meshgw/cycles: the workers' busy cycles (loop turns that moved frames),
 * summed over workers, by stage (dataplane/stage.h) with each stage's share
 * in per mille, and per unit of work since start: per received packet, per
 * KiB moved (received plus sent), per proxied connection, per completed TLS
 * handshake and per checked HTTP request. A poll-mode worker's CPU time is
 * its wall time; these are what its work costs. Benchmarks diff two reads.
 */
#include "telemetry_cycles.h"

#include <errno.h>
#include <stdio.h>

#include "gateway.h"
#include "telemetry_sum.h"

struct cycles_sum {
	uint64_t busy_loops, busy_cycles, busy_packets, bytes;
	uint64_t stage[MG_STAGE__COUNT];
};

static void add_worker(struct cycles_sum *t, const struct mg_worker *w, uint16_t n_ports)
{
	t->busy_loops += rd(&w->stats.busy_loops);
	t->busy_cycles += rd(&w->stats.busy_cycles);
	t->busy_packets += rd(&w->stats.busy_packets);
	for (uint16_t pi = 0; pi < n_ports; pi++)
		t->bytes += rd(&w->stats.port[pi].rx_bytes) + rd(&w->stats.port[pi].tx_bytes);
	for (int s = 0; s < MG_STAGE__COUNT; s++)
		t->stage[s] += rd(&w->stats.cycles[s]);
}

static void add_sum(struct cycles_sum *t, const struct cycles_sum *one)
{
	t->busy_loops += one->busy_loops;
	t->busy_cycles += one->busy_cycles;
	t->busy_packets += one->busy_packets;
	t->bytes += one->bytes;
	for (int s = 0; s < MG_STAGE__COUNT; s++)
		t->stage[s] += one->stage[s];
}

/* @p busy × @p scale / @p units without overflow (a day of cycles × 1000
 * passes 2^64), or 0 when nothing was counted yet. */
static uint64_t per(uint64_t busy, uint64_t scale, uint64_t units)
{
	return units ? (uint64_t)((unsigned __int128)busy * scale / units) : 0;
}

static void add_stages(struct rte_tel_data *d, const char *prefix, const struct cycles_sum *t)
{
	char key[64];

	for (int s = 0; s < MG_STAGE__COUNT; s++) {
		snprintf(key, sizeof(key), "%sstage/%s/cycles", prefix, mg_stage_name(s));
		rte_tel_data_add_dict_u64(d, key, t->stage[s]);
		snprintf(key, sizeof(key), "%sstage/%s/per_mille", prefix, mg_stage_name(s));
		rte_tel_data_add_dict_u64(d, key, per(t->stage[s], 1000, t->busy_cycles));
	}
}

int mg_tel_cycles(struct mg_gateway *gw, const char *params, struct rte_tel_data *d)
{
	struct cycles_sum all = { 0 };
	uint64_t conns, handshakes, requests;
	char prefix[32];

	if (params && *params)
		return -EINVAL;
	pthread_mutex_lock(&gw->lock);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "tsc_hz", rte_get_tsc_hz());
	for (uint16_t i = 0; i < gw->n_workers; i++) {
		struct cycles_sum one = { 0 };

		add_worker(&one, gw->workers[i], gw->n_ports);
		add_sum(&all, &one); /* one read per counter: the total is the workers' sum */
		snprintf(prefix, sizeof(prefix), "worker/%u/", i);
		add_stages(d, prefix, &one);
	}
	conns = SUM(gw, w->proxy.st.ctr[MG_PROXY_CTR_accepted]);
	handshakes = SUM(gw, w->proxy.st.ctr[MG_PROXY_CTR_tls_established]);
	requests = SUM(gw, w->proxy.st.ctr[MG_PROXY_CTR_l7_requests]);
	rte_tel_data_add_dict_u64(d, "busy_loops", all.busy_loops);
	rte_tel_data_add_dict_u64(d, "busy_cycles", all.busy_cycles);
	rte_tel_data_add_dict_u64(d, "busy_packets", all.busy_packets);
	rte_tel_data_add_dict_u64(d, "bytes", all.bytes);
	rte_tel_data_add_dict_u64(d, "connections", conns);
	rte_tel_data_add_dict_u64(d, "tls_handshakes", handshakes);
	rte_tel_data_add_dict_u64(d, "http_requests", requests);
	rte_tel_data_add_dict_u64(d, "per_packet", per(all.busy_cycles, 1, all.busy_packets));
	rte_tel_data_add_dict_u64(d, "per_kib", per(all.busy_cycles, 1024, all.bytes));
	rte_tel_data_add_dict_u64(d, "per_connection", per(all.busy_cycles, 1, conns));
	rte_tel_data_add_dict_u64(d, "per_tls_handshake", per(all.busy_cycles, 1, handshakes));
	rte_tel_data_add_dict_u64(d, "per_http_request", per(all.busy_cycles, 1, requests));
	add_stages(d, "", &all);
	pthread_mutex_unlock(&gw->lock);
	return 0;
}
