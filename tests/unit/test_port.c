/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Port mempools for af_xdp (drivers/port.c): DPDK 22.11's af_xdp registers as
 * its UMEM only populated_size frames from the pool's first page, so a pool's
 * buffers must lie end to end. Under --no-huge (4 KiB pages) a pool made the
 * usual way puts one 2.4 KiB buffer in each page and does not fit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include "port.h"

#define N_MBUFS 1023
#define ROOM (RTE_PKTMBUF_HEADROOM + 1500 + 14 + 4 + 8) /* as for MTU 1500 */

static void page_by_page_pool_does_not_fit(void **state)
{
	struct rte_mempool *mp = rte_pktmbuf_pool_create("pp_gapped", N_MBUFS, 256, 0,
							 RTE_MBUF_DEFAULT_BUF_SIZE,
							 (int)rte_socket_id());
	size_t registered = 0, span = 0;

	(void)state;
	assert_non_null(mp);
	assert_false(mg_port_pool_fits_umem(mp, &registered, &span));
	assert_true(span > registered);
	rte_mempool_free(mp);
}

static void packed_pool_fits(void **state)
{
	static const uint32_t rooms[] = { RTE_MBUF_DEFAULT_BUF_SIZE, ROOM, 3000,
					  RTE_PKTMBUF_HEADROOM + 9000 + 26 };
	char name[32];

	(void)state;
	for (size_t i = 0; i < RTE_DIM(rooms); i++) {
		struct rte_mempool *mp;
		size_t registered = 0, span = 0;

		snprintf(name, sizeof(name), "pp_packed_%zu", i);
		mp = mg_port_packed_pool_create(name, N_MBUFS, rooms[i], (int)rte_socket_id());
		assert_non_null(mp);
		assert_int_equal(mp->populated_size, N_MBUFS);
		assert_true(mg_port_pool_fits_umem(mp, &registered, &span));
		assert_true(span <= registered);
		assert_true(span > 0);
		rte_mempool_free(mp);
	}
}

/* The packed pool is a normal pktmbuf pool: every buffer has its room. */
static void packed_pool_gives_working_mbufs(void **state)
{
	struct rte_mempool *mp = mg_port_packed_pool_create("pp_use", N_MBUFS, ROOM,
							    (int)rte_socket_id());
	struct rte_mbuf *m[N_MBUFS];

	(void)state;
	assert_non_null(mp);
	assert_int_equal(rte_pktmbuf_data_room_size(mp), ROOM);
	assert_int_equal(rte_pktmbuf_alloc_bulk(mp, m, N_MBUFS), 0);
	for (unsigned i = 0; i < N_MBUFS; i++) {
		char *p = rte_pktmbuf_append(m[i], 1514);

		assert_non_null(p);
		assert_int_equal(rte_pktmbuf_headroom(m[i]), RTE_PKTMBUF_HEADROOM);
		memset(p, (int)i, 1514); /* writes past a buffer would trip ASan's neighbours */
		assert_ptr_equal(m[i]->pool, mp);
	}
	assert_null(rte_pktmbuf_alloc(mp));
	rte_pktmbuf_free_bulk(m, N_MBUFS);
	assert_int_equal(rte_mempool_avail_count(mp), N_MBUFS);
	rte_mempool_free(mp);
}

static void empty_pool_does_not_fit(void **state)
{
	struct rte_mempool *mp = rte_mempool_create_empty("pp_empty", 63, 2048, 0, 0,
							  (int)rte_socket_id(), 0);
	size_t registered = 1, span = 1;

	(void)state;
	assert_non_null(mp);
	assert_false(mg_port_pool_fits_umem(mp, &registered, &span));
	assert_int_equal(registered, 0);
	assert_int_equal(span, 0);
	rte_mempool_free(mp);
}

int main(void)
{
	char *eal[] = { "test_port", "--no-huge", "-m", "128", "--no-pci", "--no-shconf",
			"--no-telemetry", "--lcores=0@0", "--log-level=error", NULL };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(page_by_page_pool_does_not_fit),
		cmocka_unit_test(packed_pool_fits),
		cmocka_unit_test(packed_pool_gives_working_mbufs),
		cmocka_unit_test(empty_pool_does_not_fit),
	};
	int failed;

	if (rte_eal_init(9, eal) < 0)
		return 1;
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	rte_eal_cleanup();
	return failed;
}
