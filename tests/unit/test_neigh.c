/* SPDX-License-Identifier: BSD-3-Clause */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "neigh.h"

static struct mg_neigh_table table;

static struct rte_ether_addr mac(uint8_t last)
{
	struct rte_ether_addr m = { .addr_bytes = { 2, 0, 0, 0, 0, last } };
	return m;
}

static int setup(void **state)
{
	(void)state;
	mg_neigh_init(&table, 60);
	return 0;
}

static void learn_then_lookup(void **state)
{
	struct rte_ether_addr a = mac(1), got;

	(void)state;
	assert_true(mg_neigh_learn(&table, 0, 0x0201a8c6, &a, 100));
	assert_true(mg_neigh_lookup(&table, 0, 0x0201a8c6, &got, 110));
	assert_memory_equal(&got, &a, sizeof(a));
	/* Same IP on another port is another neighbour. */
	assert_false(mg_neigh_lookup(&table, 1, 0x0201a8c6, &got, 110));
	assert_int_equal(table.count, 1);
}

static void refresh_updates_mac_not_count(void **state)
{
	struct rte_ether_addr a = mac(1), b = mac(2), got;

	(void)state;
	assert_true(mg_neigh_learn(&table, 0, 7, &a, 100));
	assert_false(mg_neigh_learn(&table, 0, 7, &b, 120));
	assert_true(mg_neigh_lookup(&table, 0, 7, &got, 170));
	assert_memory_equal(&got, &b, sizeof(b));
	assert_int_equal(table.count, 1);
}

static void entries_expire(void **state)
{
	struct rte_ether_addr a = mac(1), got;

	(void)state;
	mg_neigh_learn(&table, 0, 7, &a, 100);
	mg_neigh_learn(&table, 0, 8, &a, 150);
	assert_false(mg_neigh_lookup(&table, 0, 7, &got, 160));
	assert_int_equal(mg_neigh_expire(&table, 160), 1);
	assert_int_equal(table.count, 1);
	assert_true(mg_neigh_lookup(&table, 0, 8, &got, 160));
}

static void full_table_evicts_oldest(void **state)
{
	struct rte_ether_addr a = mac(1), got;
	struct mg_neigh snap[8];

	(void)state;
	for (uint32_t i = 1; i <= MG_NEIGH_MAX; i++)
		mg_neigh_learn(&table, 0, i, &a, 1000 + i);
	assert_int_equal(table.count, MG_NEIGH_MAX);
	assert_true(mg_neigh_learn(&table, 0, 99999, &a, 5000));
	assert_int_equal(table.count, MG_NEIGH_MAX);
	assert_int_equal(table.evicted_full, 1);
	assert_false(mg_neigh_lookup(&table, 0, 1, &got, 1030)); /* the oldest went */
	assert_true(mg_neigh_lookup(&table, 0, 2, &got, 1030));
	assert_int_equal(mg_neigh_snapshot(&table, snap, 8), 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(learn_then_lookup, setup),
		cmocka_unit_test_setup(refresh_updates_mac_not_count, setup),
		cmocka_unit_test_setup(entries_expire, setup),
		cmocka_unit_test_setup(full_table_evicts_oldest, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
