/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The per-connection objects meshgw allocates up front (at start, for
 * tcp.max_conns), for bench/mtls.sh: they are in the process's RSS before the
 * first connection, so an RSS delta does not show them; the bench adds them to
 * its per-connection figure. Prints one JSON object.
 */
#include <stdio.h>

#include "proxy_priv.h"
#include "tcp/tcp_types.h"

int main(void)
{
	printf("{\"proxy_pair\": %zu, \"tcp_conn\": %zu, \"tls_dir\": %zu}\n",
	       sizeof(struct mg_proxy_pair), sizeof(struct mg_tcp_conn),
	       sizeof(struct mg_tls_dir));
	return 0;
}
