/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What one policy swap's memory calls cost a spinning worker on another core
 * (issue 13 item 5). A SCHED_FIFO thread on core 1 spins on rdtsc and counts
 * gaps; the main thread on core 0 does ROUNDS times, 5 ms apart, one of:
 *   none     nothing (the machine's own noise)
 *   old      mmap + write + mprotect(PROT_READ) + munmap of the previous arena
 *            (what a swap did before: 2 TLB shootdowns)
 *   pool     pwrite of the same bytes into a memfd mapped read-only once
 *            (what a swap does now)
 * and prints the spinner's gaps > 5 us / > 20 us / > 50 us and the worst,
 * within 1 ms of an operation and over the whole run. Run as root (FIFO,
 * mlockall) with the tests' lock, as bench/README.md "swap" shows:
 *   flock /run/meshgw-tests.lock taskset -c 0 build/bench/tlb_stall [BYTES [ROUNDS]]
 */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

static volatile int stop;
static volatile uint64_t op_start, op_end; /* tsc of the current operation */
static uint64_t g5, g20, g50, worst, in5, in20, in50, in_worst, hz;

static void pin(int cpu)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	pthread_setaffinity_np(pthread_self(), sizeof(s), &s);
}

static void *spin(void *arg)
{
	struct sched_param sp = { .sched_priority = 1 };
	uint64_t last, now, us5 = hz / 200000, us20 = hz / 50000, us50 = hz / 20000;
	int in;

	(void)arg;
	pin(1);
	pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
	last = __rdtsc();
	while (!stop) {
		uint64_t d;

		now = __rdtsc();
		d = now - last;
		last = now;
		if (d < us5)
			continue;
		/* the gap overlaps [op_start, op_end + 1 ms] */
		in = op_start && now >= op_start && now - d <= op_end + hz / 1000;
		g5++, g20 += d >= us20, g50 += d >= us50;
		if (d > worst)
			worst = d;
		if (in) {
			in5++, in20 += d >= us20, in50 += d >= us50;
			if (d > in_worst)
				in_worst = d;
		}
	}
	return NULL;
}

static uint64_t tsc_hz(void)
{
	struct timespec a, b;
	uint64_t t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &a);
	t0 = __rdtsc();
	usleep(200000);
	clock_gettime(CLOCK_MONOTONIC, &b);
	t1 = __rdtsc();
	return (uint64_t)((t1 - t0) / ((b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9));
}

int main(int argc, char **argv)
{
	size_t len = argc > 1 ? strtoul(argv[1], NULL, 0) : 1306624;
	int rounds = argc > 2 ? atoi(argv[2]) : 200;
	const char *modes[] = { "none", "old", "pool" };
	uint8_t *img = malloc(len);
	pthread_t t;

	memset(img, 0x5a, len);
	mlockall(MCL_CURRENT | MCL_FUTURE);
	pin(0);
	hz = tsc_hz();
	for (int m = 0; m < 3; m++) {
		int fd = memfd_create("arena", MFD_CLOEXEC);
		void *ro = NULL, *prev = NULL;

		if (ftruncate(fd, (off_t)len) != 0)
			return 1;
		ro = mmap(NULL, len, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
		g5 = g20 = g50 = worst = in5 = in20 = in50 = in_worst = 0;
		stop = 0;
		op_start = op_end = 0;
		pthread_create(&t, NULL, spin, NULL);
		usleep(100000);
		for (int i = 0; i < rounds; i++) {
			op_start = __rdtsc();
			op_end = UINT64_MAX;
			if (m == 1) {
				void *a = mmap(NULL, len, PROT_READ | PROT_WRITE,
					       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
				memcpy(a, img, len);
				mprotect(a, len, PROT_READ);
				if (prev)
					munmap(prev, len);
				prev = a;
			} else if (m == 2) {
				if (pwrite(fd, img, len, 0) != (ssize_t)len)
					return 1;
			}
			op_end = __rdtsc();
			usleep(5000);
		}
		stop = 1;
		pthread_join(t, NULL);
		if (prev)
			munmap(prev, len);
		munmap(ro, len);
		close(fd);
		printf("%-5s %d ops of %zu B: spinner gaps near an op >5/>20/>50 us %3lu/%3lu/%3lu worst %6.1f us"
		       " | whole run %3lu/%3lu/%3lu worst %6.1f us\n",
		       modes[m], rounds, len, in5, in20, in50, in_worst * 1e6 / hz, g5, g20, g50,
		       worst * 1e6 / hz);
	}
	return 0;
}
