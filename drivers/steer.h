/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Flow affinity: which worker owns a TCP four-tuple.
 *
 * The owner is the queue a NIC with RSS would pick: the Toeplitz hash of the
 * tuple under the symmetric key (0x6d5a repeated, so both directions hash the
 * same), looked up in a redirection table of MG_STEER_RETA entries that
 * drivers/port.c programs as entry i -> i % workers. So:
 *  - on a port with RSS every segment already arrives at its owner's queue;
 *  - on a port without RSS (af_packet, af_xdp on veth) the worker computes
 *    the same function in software and passes a segment it does not own to
 *    its owner through an SP/SC ring;
 *  - the proxy picks upstream source ports whose tuple hashes to the
 *    connecting worker, so a connection and its upstream twin share a worker
 *    and the replies land on that worker's queue.
 */
#ifndef MG_STEER_H
#define MG_STEER_H

#include <stdint.h>

#include <rte_byteorder.h>
#include <rte_thash.h>

#define MG_STEER_RETA 128 /* entries used; a device's table must be a multiple */

/* The symmetric key, as the port is configured with it (40 bytes). */
static const uint8_t mg_steer_rss_key[40] = {
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
	0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
};

/*
 * Toeplitz hash of an IPv4 TCP tuple (network byte order) under @p key, with
 * the input a NIC uses: source address, destination address, source port,
 * destination port.
 */
static inline uint32_t mg_steer_toeplitz(const uint8_t *key, uint32_t src_ip, uint32_t dst_ip,
					 uint16_t src_port, uint16_t dst_port)
{
	uint32_t t[3] = {
		rte_be_to_cpu_32(src_ip), rte_be_to_cpu_32(dst_ip),
		(uint32_t)rte_be_to_cpu_16(src_port) << 16 | rte_be_to_cpu_16(dst_port),
	};

	return rte_softrss(t, 3, key);
}

/* The worker a hash goes to: the redirection table drivers/port.c programs. */
static inline uint16_t mg_steer_owner_of_hash(uint32_t hash, uint16_t n_workers)
{
	return n_workers <= 1 ? 0 : (uint16_t)(hash % MG_STEER_RETA % n_workers);
}

static inline uint16_t mg_steer_owner(uint32_t a_ip, uint32_t b_ip, uint16_t a_port,
				      uint16_t b_port, uint16_t n_workers)
{
	if (n_workers <= 1)
		return 0;
	return mg_steer_owner_of_hash(
		mg_steer_toeplitz(mg_steer_rss_key, a_ip, b_ip, a_port, b_port), n_workers);
}

#endif /* MG_STEER_H */
