/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * /meshgw/l7: what the workers' HTTP gate did, summed over workers: the
 * proxy's l7_* counters, refused requests by parser reason (http_error/...)
 * and by path reason (path_error/...). Per-rule verdicts are the policy's.
 */
#include "telemetry_l7.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gateway.h"
#include "telemetry_sum.h"


int mg_tel_l7(struct mg_gateway *gw, const char *params, struct rte_tel_data *d)
{
	char key[96];

	if (params && *params)
		return -EINVAL;
	pthread_mutex_lock(&gw->lock);
	rte_tel_data_start_dict(d);
	for (unsigned c = 0; c < MG_PROXY_CTR__COUNT; c++) {
		const char *name = mg_proxy_counter_name((enum mg_proxy_counter)c);

		if (strncmp(name, "l7_", 3) != 0)
			continue;
		rte_tel_data_add_dict_u64(d, name + 3, SUM(gw, w->proxy.st.ctr[c]));
	}
	for (unsigned e = 1; e < MG_HTTP_ERR__COUNT; e++) { /* 0 is "ok" */
		snprintf(key, sizeof(key), "http_error/%s", mg_http_error_name((enum mg_http_error)e));
		rte_tel_data_add_dict_u64(d, key, SUM(gw, w->proxy.st.http_errors[e]));
	}
	for (unsigned e = 1; e < MG_HTTP_PATH__COUNT; e++) {
		snprintf(key, sizeof(key), "path_error/%s",
			 mg_http_path_error_name((enum mg_http_path_error)e));
		rte_tel_data_add_dict_u64(d, key, SUM(gw, w->proxy.st.path_errors[e]));
	}
	pthread_mutex_unlock(&gw->lock);
	return 0;
}
