/* SPDX-License-Identifier: BSD-3-Clause */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "steer.h"

#define IP(a, b, c, d) RTE_BE32((uint32_t)(a) << 24 | (b) << 16 | (c) << 8 | (d))
#define PORT(p) rte_cpu_to_be_16(p)

/* The key and IPv4/TCP vectors of Microsoft's RSS verification suite. */
static const uint8_t ms_key[40] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67,
	0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
	0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
	0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

static void toeplitz_matches_the_reference_vectors(void **state)
{
	static const struct {
		uint32_t src, dst;
		uint16_t sport, dport;
		uint32_t hash;
	} v[] = {
		{ IP(66, 9, 149, 187), IP(161, 142, 100, 80), 2794, 1766, 0x51ccc178 },
		{ IP(199, 92, 111, 2), IP(65, 69, 140, 83), 14230, 4739, 0xc626b0ea },
		{ IP(24, 19, 198, 95), IP(12, 22, 207, 184), 12898, 38024, 0x5c2b394a },
		{ IP(38, 27, 205, 30), IP(209, 142, 163, 6), 48228, 2217, 0xafc7327f },
		{ IP(153, 39, 163, 191), IP(202, 188, 127, 2), 44251, 1303, 0x10e828a2 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		assert_int_equal(mg_steer_toeplitz(ms_key, v[i].src, v[i].dst, PORT(v[i].sport),
						   PORT(v[i].dport)),
				 v[i].hash);
}

static uint32_t rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(*s >> 32);
}

/* Both directions of a tuple hash alike under the symmetric key. */
static void both_directions_have_one_owner(void **state)
{
	uint64_t seed = 1;

	(void)state;
	for (int i = 0; i < 10000; i++) {
		uint32_t a = rnd(&seed), b = rnd(&seed), p = rnd(&seed);
		uint16_t ap = (uint16_t)p, bp = (uint16_t)(p >> 16);

		assert_int_equal(mg_steer_toeplitz(mg_steer_rss_key, a, b, ap, bp),
				 mg_steer_toeplitz(mg_steer_rss_key, b, a, bp, ap));
		for (uint16_t n = 1; n <= 8; n++)
			assert_int_equal(mg_steer_owner(a, b, ap, bp, n),
					 mg_steer_owner(b, a, bp, ap, n));
	}
}

/*
 * What the proxy does (dataplane/proxy.c pick_sport): walk source ports until
 * the upstream tuple belongs to the connecting worker. Every worker finds one
 * within a few tries, and the upstream's replies have the same owner.
 */
static void source_ports_exist_for_every_worker(void **state)
{
	const uint32_t lip = IP(198, 18, 2, 1), rip = IP(198, 18, 2, 2);
	const uint16_t rport = PORT(80);

	(void)state;
	for (uint16_t n = 2; n <= 8; n++) {
		for (uint16_t w = 0; w < n; w++) {
			unsigned tries = 0;
			uint16_t sport = 32768;

			while (mg_steer_owner(lip, rip, PORT(sport), rport, n) != w) {
				sport++;
				assert_true(++tries < 256);
			}
			assert_int_equal(mg_steer_owner(rip, lip, rport, PORT(sport), n), w);
		}
	}
}

/* The hash spreads tuples over workers roughly evenly (the table is i % n). */
static void owners_are_spread_evenly(void **state)
{
	unsigned count[4] = {0};
	uint64_t seed = 7;

	(void)state;
	for (int i = 0; i < 40000; i++) {
		uint32_t p = rnd(&seed);

		count[mg_steer_owner(IP(198, 18, 1, 2), IP(198, 18, 1, 1), (uint16_t)p,
				     PORT(8080), 4)]++;
	}
	for (int w = 0; w < 4; w++)
		assert_in_range(count[w], 9000, 11000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(toeplitz_matches_the_reference_vectors),
		cmocka_unit_test(both_directions_have_one_owner),
		cmocka_unit_test(source_ports_exist_for_every_worker),
		cmocka_unit_test(owners_are_spread_evenly),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
