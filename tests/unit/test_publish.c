/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * RCU publication under load: a reader lcore keeps loading the published
 * object and checking it is intact while the main lcore swaps it 1000 times
 * and poisons each retired object right after the grace period. A reader that
 * ever saw a poisoned object would mean a free before the grace period ended.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_eal.h>
#include <rte_launch.h>
#include <rte_lcore.h>

#include "publish.h"

#define LIVE 0x11u
#define DEAD 0xddu
#define SWAPS 1000

struct obj {
	uint32_t magic;
	uint64_t serial;
};

static struct mg_publish pub;
static volatile int stop;
static uint64_t reads, bad_reads, max_serial_seen;
static unsigned freed;

static void poison_free(void *p)
{
	struct obj *o = p;

	o->magic = DEAD; /* poison, then free: a late reader would see DEAD */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	free(o);
	freed++;
}

static int reader(void *arg)
{
	(void)arg;
	mg_publish_worker_online(&pub, 0);
	while (!stop) {
		const struct obj *o = mg_publish_read(&pub);

		for (int i = 0; i < 64; i++) /* hold the pointer for a while */
			if (__atomic_load_n(&o->magic, __ATOMIC_RELAXED) != LIVE)
				bad_reads++;
		if (o->serial > max_serial_seen)
			max_serial_seen = o->serial;
		reads++;
		mg_publish_quiescent(&pub, 0);
	}
	mg_publish_worker_offline(&pub, 0);
	return 0;
}

static struct obj *make(uint64_t serial)
{
	struct obj *o = malloc(sizeof(*o));

	o->magic = LIVE;
	o->serial = serial;
	return o;
}

static void swaps_never_free_under_a_reader(void **state)
{
	unsigned lcore = rte_get_next_lcore(-1, 1, 0);

	(void)state;
	assert_true(lcore < RTE_MAX_LCORE);
	assert_int_equal(mg_publish_init(&pub, 1, make(0), poison_free), 0);
	assert_int_equal(rte_eal_remote_launch(reader, NULL, lcore), 0);
	while (__atomic_load_n(&reads, __ATOMIC_RELAXED) == 0)
		usleep(100);
	for (uint64_t i = 1; i <= SWAPS; i++)
		mg_publish_swap(&pub, make(i));
	stop = 1;
	rte_eal_wait_lcore(lcore);
	assert_int_equal(bad_reads, 0);
	assert_int_equal(freed, SWAPS);
	assert_int_equal(pub.swaps, SWAPS);
	assert_int_equal(pub.generation, SWAPS);
	assert_true(max_serial_seen > 0);
	printf("# %d swaps, %lu reads, longest grace period %lu ns\n", SWAPS,
	       (unsigned long)reads, (unsigned long)pub.max_sync_ns);
	mg_publish_fini(&pub);
	assert_int_equal(freed, SWAPS + 1);
}

int main(void)
{
	/* No shared config, no telemetry socket: nothing left under /var/run/dpdk. */
	char *eal[] = { "test_publish", "--no-huge", "-m", "64", "--no-pci", "--no-shconf", "--no-telemetry",
			"--lcores=0@0,1@0", "--log-level=error", NULL };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(swaps_never_free_under_a_reader),
	};

	int failed;

	if (rte_eal_init(8, eal) < 0)
		return 1;
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	rte_eal_cleanup();
	return failed;
}
