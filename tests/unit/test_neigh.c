/* SPDX-License-Identifier: BSD-3-Clause */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "neigh.h"

static struct mg_neigh_table table;

/* A unicast MAC per number: 02:00:00:xx:xx:xx. */
static struct rte_ether_addr mac(uint32_t n)
{
	struct rte_ether_addr m = {
		.addr_bytes = { 2, 0, 0, (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n }
	};
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
	assert_int_equal(mg_neigh_learn(&table, 0, 0x0201a8c6, &a, 100, MG_NEIGH_ASKED_US),
			 MG_NEIGH_NEW);
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
	assert_int_equal(mg_neigh_learn(&table, 0, 7, &a, 100, MG_NEIGH_ASKED_US), MG_NEIGH_NEW);
	assert_int_equal(mg_neigh_learn(&table, 0, 7, &a, 110, MG_NEIGH_ASKED_US),
			 MG_NEIGH_REFRESHED);
	assert_int_equal(mg_neigh_learn(&table, 0, 7, &b, 120, MG_NEIGH_ASKED_US),
			 MG_NEIGH_CHANGED);
	assert_true(mg_neigh_lookup(&table, 0, 7, &got, 170));
	assert_memory_equal(&got, &b, sizeof(b));
	assert_int_equal(table.count, 1);
}

static void entries_expire(void **state)
{
	struct rte_ether_addr a = mac(1), got;

	(void)state;
	mg_neigh_learn(&table, 0, 7, &a, 100, MG_NEIGH_ASKED_US);
	mg_neigh_learn(&table, 0, 8, &a, 150, MG_NEIGH_ASKED_US);
	assert_false(mg_neigh_lookup(&table, 0, 7, &got, 160));
	assert_int_equal(mg_neigh_expire(&table, 160), 1);
	assert_int_equal(table.count, 1);
	assert_true(mg_neigh_lookup(&table, 0, 8, &got, 160));
}

/* Gratuitous ARP and replies nobody asked for create nothing. */
static void unsolicited_frames_create_nothing(void **state)
{
	struct rte_ether_addr a = mac(1), got;
	uint64_t v = table.version;

	(void)state;
	assert_int_equal(mg_neigh_learn(&table, 0, 7, &a, 100, MG_NEIGH_OVERHEARD),
			 MG_NEIGH_REFUSED_UNSOLICITED);
	assert_int_equal(mg_neigh_learn(&table, 0, 7, &a, 100, MG_NEIGH_ANSWERED_US),
			 MG_NEIGH_REFUSED_UNSOLICITED);
	/* A request for another address does not make its reply solicited. */
	mg_neigh_solicit(&table, 0, 8, 100);
	assert_int_equal(mg_neigh_learn(&table, 0, 7, &a, 100, MG_NEIGH_ANSWERED_US),
			 MG_NEIGH_REFUSED_UNSOLICITED);
	/* Nor on another port. */
	mg_neigh_solicit(&table, 1, 7, 100);
	assert_int_equal(mg_neigh_learn(&table, 0, 7, &a, 100, MG_NEIGH_ANSWERED_US),
			 MG_NEIGH_REFUSED_UNSOLICITED);
	assert_int_equal(table.count, 0);
	assert_int_equal(table.version, v);
	assert_false(mg_neigh_lookup(&table, 0, 7, &got, 100));
}

static void reply_to_our_request_creates(void **state)
{
	struct rte_ether_addr a = mac(1), got;

	(void)state;
	mg_neigh_solicit(&table, 0, 7, 100);
	assert_int_equal(mg_neigh_learn(&table, 0, 7, &a, 101, MG_NEIGH_ANSWERED_US),
			 MG_NEIGH_NEW);
	assert_true(mg_neigh_lookup(&table, 0, 7, &got, 101));
	/* A request answered too late is unsolicited. */
	mg_neigh_solicit(&table, 0, 8, 100);
	assert_int_equal(mg_neigh_learn(&table, 0, 8, &a, 100 + MG_NEIGH_SOLICIT_S + 1,
					MG_NEIGH_ANSWERED_US),
			 MG_NEIGH_REFUSED_UNSOLICITED);
	/* One request, one creation: the second reply finds the pending slot used up. */
	mg_neigh_solicit(&table, 0, 9, 100);
	assert_int_equal(mg_neigh_learn(&table, 0, 9, &a, 100, MG_NEIGH_ANSWERED_US),
			 MG_NEIGH_NEW);
	assert_int_equal(mg_neigh_expire(&table, 101 + 60), 2);
	assert_int_equal(mg_neigh_learn(&table, 0, 9, &a, 161, MG_NEIGH_ANSWERED_US),
			 MG_NEIGH_REFUSED_UNSOLICITED);
}

/* What Linux does with arp_accept=0: an existing entry may still be refreshed. */
static void overheard_frame_refreshes_a_learned_entry(void **state)
{
	struct rte_ether_addr a = mac(1), b = mac(2), got;

	(void)state;
	mg_neigh_learn(&table, 0, 7, &a, 100, MG_NEIGH_ASKED_US);
	assert_int_equal(mg_neigh_learn(&table, 0, 7, &b, 110, MG_NEIGH_OVERHEARD),
			 MG_NEIGH_CHANGED);
	assert_true(mg_neigh_lookup(&table, 0, 7, &got, 110));
	assert_memory_equal(&got, &b, sizeof(b));
}

static void pinned_entry_never_changes(void **state)
{
	struct rte_ether_addr p = mac(0x10), x = mac(0x66), got;
	static const enum mg_neigh_how hows[] = { MG_NEIGH_ASKED_US, MG_NEIGH_ANSWERED_US,
						  MG_NEIGH_OVERHEARD };
	uint64_t v;

	(void)state;
	assert_int_equal(mg_neigh_pin(&table, 1, 0x0202a8c6, &p), 0);
	assert_int_equal(table.n_pinned, 1);
	v = table.version;
	for (size_t i = 0; i < sizeof(hows) / sizeof(hows[0]); i++) {
		mg_neigh_solicit(&table, 1, 0x0202a8c6, 100);
		assert_int_equal(mg_neigh_learn(&table, 1, 0x0202a8c6, &x, 100, hows[i]),
				 MG_NEIGH_REFUSED_PINNED);
		assert_int_equal(mg_neigh_learn(&table, 1, 0x0202a8c6, &p, 100, hows[i]),
				 MG_NEIGH_PINNED);
	}
	assert_int_equal(table.version, v);
	/* Never ages, whatever the clock says. */
	assert_int_equal(mg_neigh_expire(&table, 1u << 30), 0);
	assert_true(mg_neigh_lookup(&table, 1, 0x0202a8c6, &got, 1u << 30));
	assert_memory_equal(&got, &p, sizeof(p));
	assert_true(mg_neigh_pinned_mac(&table, 1, 0x0202a8c6, &got));
	assert_memory_equal(&got, &p, sizeof(p));
	/* Pinned once; a learned entry is not pinned. */
	assert_int_equal(mg_neigh_pin(&table, 1, 0x0202a8c6, &x), -1);
	mg_neigh_learn(&table, 0, 7, &x, 100, MG_NEIGH_ASKED_US);
	assert_false(mg_neigh_pinned_mac(&table, 0, 7, &got));
	assert_string_equal(mg_neigh_verdict_name(MG_NEIGH_REFUSED_PINNED), "refused_pinned");
}

/* One MAC claiming many IPs holds at most MG_NEIGH_PER_SENDER_MAX of them. */
static void one_sender_holds_a_bounded_share(void **state)
{
	struct rte_ether_addr x = mac(0x66), y = mac(0x77), got;

	(void)state;
	for (uint32_t ip = 1; ip <= MG_NEIGH_PER_SENDER_MAX; ip++)
		assert_int_equal(mg_neigh_learn(&table, 0, ip, &x, 100, MG_NEIGH_ASKED_US),
				 MG_NEIGH_NEW);
	assert_int_equal(mg_neigh_learn(&table, 0, 100, &x, 100, MG_NEIGH_ASKED_US),
			 MG_NEIGH_REFUSED_SENDER_CAP);
	/* Nor can it take over another sender's entry. */
	assert_int_equal(mg_neigh_learn(&table, 0, 200, &y, 100, MG_NEIGH_ASKED_US),
			 MG_NEIGH_NEW);
	assert_int_equal(mg_neigh_learn(&table, 0, 200, &x, 101, MG_NEIGH_OVERHEARD),
			 MG_NEIGH_REFUSED_SENDER_CAP);
	assert_true(mg_neigh_lookup(&table, 0, 200, &got, 101));
	assert_memory_equal(&got, &y, sizeof(y));
	/* The cap is per port. */
	assert_int_equal(mg_neigh_learn(&table, 1, 100, &x, 100, MG_NEIGH_ASKED_US),
			 MG_NEIGH_NEW);
	/* Its entries aged out, it may claim again. */
	assert_int_equal(mg_neigh_learn(&table, 0, 100, &x, 161, MG_NEIGH_ASKED_US),
			 MG_NEIGH_NEW);
}

/* A full table refuses newcomers; no live entry is ever evicted for one. */
static void full_table_evicts_nobody(void **state)
{
	struct rte_ether_addr p = mac(0xfffff), got;
	struct mg_neigh snap[8];

	(void)state;
	assert_int_equal(mg_neigh_pin(&table, 0, 0xffff, &p), 0);
	for (uint32_t i = 1; i < MG_NEIGH_MAX; i++) {
		struct rte_ether_addr a = mac(i);

		/* Entry 1 is the stalest. */
		assert_int_equal(mg_neigh_learn(&table, 0, i, &a, i == 1 ? 990 : 1000,
						MG_NEIGH_ASKED_US),
				 MG_NEIGH_NEW);
	}
	assert_int_equal(table.count, MG_NEIGH_MAX);
	got = mac(99999);
	assert_int_equal(mg_neigh_learn(&table, 0, 99999, &got, 1040, MG_NEIGH_ASKED_US),
			 MG_NEIGH_REFUSED_FULL);
	assert_int_equal(table.count, MG_NEIGH_MAX);
	assert_true(mg_neigh_lookup(&table, 0, 1, &got, 1040)); /* the oldest stays */
	assert_true(mg_neigh_lookup(&table, 0, 0xffff, &got, 1040));
	assert_int_equal(mg_neigh_snapshot(&table, snap, 8), 8);
	/* Once entry 1 is past its lifetime, its slot takes the newcomer. */
	got = mac(99999);
	assert_int_equal(mg_neigh_learn(&table, 0, 99999, &got, 1051, MG_NEIGH_ASKED_US),
			 MG_NEIGH_NEW);
	assert_false(mg_neigh_lookup(&table, 0, 1, &got, 1051));
	assert_true(mg_neigh_lookup(&table, 0, 2, &got, 1051));
	assert_int_equal(table.count, MG_NEIGH_MAX);
}

/* Workers see pinned entries like any other. */
static void snapshot_carries_pinned_entries(void **state)
{
	struct rte_ether_addr p = mac(0x10), a = mac(1);
	struct mg_neigh_snap *s;
	uint8_t m[6];

	(void)state;
	assert_int_equal(mg_neigh_pin(&table, 1, 0x0202a8c6, &p), 0);
	mg_neigh_learn(&table, 0, 7, &a, 100, MG_NEIGH_ASKED_US);
	s = mg_neigh_snap_build(&table);
	assert_non_null(s);
	assert_int_equal(s->n, 2);
	assert_true(mg_neigh_snap_find(s, 1, 0x0202a8c6, m));
	assert_memory_equal(m, p.addr_bytes, 6);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(learn_then_lookup, setup),
		cmocka_unit_test_setup(refresh_updates_mac_not_count, setup),
		cmocka_unit_test_setup(entries_expire, setup),
		cmocka_unit_test_setup(unsolicited_frames_create_nothing, setup),
		cmocka_unit_test_setup(reply_to_our_request_creates, setup),
		cmocka_unit_test_setup(overheard_frame_refreshes_a_learned_entry, setup),
		cmocka_unit_test_setup(pinned_entry_never_changes, setup),
		cmocka_unit_test_setup(one_sender_holds_a_bounded_share, setup),
		cmocka_unit_test_setup(full_table_evicts_nobody, setup),
		cmocka_unit_test_setup(snapshot_carries_pinned_entries, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
