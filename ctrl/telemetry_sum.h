/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Reading the workers' counters from the telemetry thread: each is written by
 * its worker alone (relaxed stores), read here with relaxed loads and summed.
 */
#ifndef MG_TELEMETRY_SUM_H
#define MG_TELEMETRY_SUM_H

#include <stdint.h>

#include "gateway.h"

static inline uint64_t rd(const uint64_t *v)
{
	return __atomic_load_n(v, __ATOMIC_RELAXED);
}

/* The sum of @p expr (over `w`, each worker with a TCP stack) over workers. */
#define SUM(gw, expr) ({                                             \
	uint64_t sum_ = 0;                                           \
	for (uint16_t i_ = 0; i_ < (gw)->n_workers; i_++) {          \
		const struct mg_worker *w = (gw)->workers[i_];       \
		if (w->tcp_on)                                       \
			sum_ += rd(&(expr));                         \
	}                                                            \
	sum_; })

#endif /* MG_TELEMETRY_SUM_H */
