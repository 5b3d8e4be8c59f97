/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * drivers/unmap_gate.c: an unmap on the EAL interrupt thread waits until the
 * online workers have passed a quiescent state; other threads, offline workers
 * and a disarmed gate never wait. The test's own thread plays the worker; an
 * EAL alarm callback (which runs on the interrupt thread) plays the PMD.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <rte_alarm.h>
#include <rte_eal.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "unmap_gate.h"

#define WORKER 0
#define HOLD_MS 100   /* how long the worker stays inside its "burst" */
#define DONE_WAIT_MS 5000

struct unmap_job {
	void *addr;
	size_t len;
	int rc;
	int done;
};

static struct rte_rcu_qsbr *qsv;

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* The PMD's part: unmap on the interrupt thread. */
static void unmap_on_intr_thread(void *arg)
{
	struct unmap_job *job = arg;

	job->rc = munmap(job->addr, job->len);
	__atomic_store_n(&job->done, 1, __ATOMIC_RELEASE);
}

static int job_done(struct unmap_job *job)
{
	return __atomic_load_n(&job->done, __ATOMIC_ACQUIRE);
}

/* A page with a known byte in it, and an alarm that unmaps it in 1 ms. */
static void start_job(struct unmap_job *job)
{
	job->len = (size_t)getpagesize();
	job->addr = mmap(NULL, job->len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(job->addr != MAP_FAILED);
	*(volatile uint8_t *)job->addr = 0x5a;
	job->done = 0;
	job->rc = -2;
	assert_int_equal(rte_eal_alarm_set(1000, unmap_on_intr_thread, job), 0);
}

static void wait_done(struct unmap_job *job)
{
	for (unsigned ms = 0; ms < DONE_WAIT_MS && !job_done(job); ms++)
		sleep_ms(1);
	assert_true(job_done(job));
	assert_int_equal(job->rc, 0);
}

static int setup(void **state)
{
	size_t sz = rte_rcu_qsbr_get_memsize(1);

	(void)state;
	qsv = rte_zmalloc("test_qsv", sz, RTE_CACHE_LINE_SIZE);
	if (!qsv || rte_rcu_qsbr_init(qsv, 1) != 0 ||
	    rte_rcu_qsbr_thread_register(qsv, WORKER) != 0)
		return -1;
	return mg_unmap_gate_arm(qsv) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	mg_unmap_gate_disarm();
	rte_rcu_qsbr_thread_unregister(qsv, WORKER);
	rte_free(qsv);
	qsv = NULL;
	return 0;
}

static void intr_thread_unmap_waits_for_an_online_worker(void **state)
{
	struct unmap_job job;
	struct mg_unmap_gate_stats before, after;

	(void)state;
	mg_unmap_gate_stats(&before);
	rte_rcu_qsbr_thread_online(qsv, WORKER);
	start_job(&job);
	/* The "worker" is inside its burst: the page must stay mapped. */
	for (unsigned ms = 0; ms < HOLD_MS; ms++) {
		assert_false(job_done(&job));
		assert_int_equal(*(volatile uint8_t *)job.addr, 0x5a);
		sleep_ms(1);
	}
	rte_rcu_qsbr_quiescent(qsv, WORKER);
	wait_done(&job);
	rte_rcu_qsbr_thread_offline(qsv, WORKER);
	mg_unmap_gate_stats(&after);
	assert_int_equal(after.waits, before.waits + 1);
	assert_true(after.wait_ns_max >= (uint64_t)HOLD_MS * 1000000 / 2);
}

static void other_threads_unmap_at_once(void **state)
{
	size_t len = (size_t)getpagesize();
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct mg_unmap_gate_stats before, after;

	(void)state;
	assert_true(p != MAP_FAILED);
	mg_unmap_gate_stats(&before);
	/* An online worker that never reports would block a waiting caller forever. */
	rte_rcu_qsbr_thread_online(qsv, WORKER);
	assert_int_equal(munmap(p, len), 0);
	rte_rcu_qsbr_thread_offline(qsv, WORKER);
	mg_unmap_gate_stats(&after);
	assert_int_equal(after.waits, before.waits);
}

static void offline_worker_is_not_waited_for(void **state)
{
	struct unmap_job job;

	(void)state;
	start_job(&job);
	wait_done(&job);
}

static void disarmed_gate_does_not_wait(void **state)
{
	struct unmap_job job;
	struct mg_unmap_gate_stats before, after;

	(void)state;
	mg_unmap_gate_stats(&before);
	mg_unmap_gate_disarm();
	rte_rcu_qsbr_thread_online(qsv, WORKER);
	start_job(&job);
	wait_done(&job);
	rte_rcu_qsbr_thread_offline(qsv, WORKER);
	assert_int_equal(mg_unmap_gate_arm(qsv), 0);
	mg_unmap_gate_stats(&after);
	assert_int_equal(after.waits, before.waits);
}

int main(void)
{
	char *eal[] = { "test_unmap_gate", "--no-huge", "-m", "128", "--no-pci", "--no-shconf",
			"--no-telemetry", "--lcores=0@0", "--log-level=error", NULL };
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(intr_thread_unmap_waits_for_an_online_worker),
		cmocka_unit_test(other_threads_unmap_at_once),
		cmocka_unit_test(offline_worker_is_not_waited_for),
		cmocka_unit_test(disarmed_gate_does_not_wait),
	};
	int failed;

	if (rte_eal_init(9, eal) < 0)
		return 1;
	failed = cmocka_run_group_tests(tests, setup, teardown);
	rte_eal_cleanup();
	return failed;
}
