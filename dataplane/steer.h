/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Software flow steering: which worker owns a TCP four-tuple.
 *
 * Ports without RSS (af_packet, af_xdp on veth) hand a frame to whichever
 * worker polls the queue, and a proxied connection has two tuples (client and
 * upstream) that no RSS would put together anyway. So every segment's owner is
 * a symmetric hash of its tuple modulo the worker count: both directions of a
 * tuple agree, and the proxy picks upstream source ports whose tuple hashes to
 * the connecting worker, so a pair lives on one worker. A worker that receives
 * a segment it does not own passes it on through an SP/SC ring.
 */
#ifndef MG_STEER_H
#define MG_STEER_H

#include <stdint.h>

/* Symmetric in (a, b): xor folds the two ends, then a multiplicative mix. */
static inline uint32_t mg_steer_hash(uint32_t a_ip, uint32_t b_ip, uint16_t a_port,
				     uint16_t b_port)
{
	uint64_t x = (uint64_t)(a_ip ^ b_ip) << 16 | (uint16_t)(a_port ^ b_port);

	x *= 0x9e3779b97f4a7c15ull;
	return (uint32_t)(x >> 32);
}

static inline uint16_t mg_steer_owner(uint32_t a_ip, uint32_t b_ip, uint16_t a_port,
				      uint16_t b_port, uint16_t n_workers)
{
	if (n_workers <= 1)
		return 0;
	return (uint16_t)(mg_steer_hash(a_ip, b_ip, a_port, b_port) % n_workers);
}

#endif /* MG_STEER_H */
