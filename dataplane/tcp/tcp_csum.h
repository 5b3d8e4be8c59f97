/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Copy and one's-complement sum in one pass over the bytes. Without TX
 * checksum offload and without multi-segment TX (af_xdp on DPDK 22.11) every
 * payload is copied into its header mbuf and then summed: two passes over
 * the same bytes, the second one after the first has evicted them from L1
 * for large segments. Here each 32-bit word is loaded once, stored, and
 * added into a 64-bit accumulator (no carry can be lost before 2^32 words);
 * the loop has no dependency but the sum, so the compiler vectorizes it.
 */
#ifndef MG_TCP_CSUM_H
#define MG_TCP_CSUM_H

#include <stdint.h>
#include <string.h>

/* Fold a 64-bit sum of 32-bit words to the 16-bit one's-complement sum. */
static inline uint16_t mg_csum_fold64(uint64_t sum)
{
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/*
 * Copy @p len bytes from @p src to @p dst (not overlapping, any alignment)
 * and return their unreduced one's-complement sum, the value rte_raw_cksum()
 * would give for @p src (native byte order; an odd last byte counts as the
 * first byte of a zero-padded 16-bit word).
 */
static inline uint16_t mg_csum_copy(void *restrict dst, const void *restrict src,
				    uint32_t len)
{
	uint8_t *d = dst;
	const uint8_t *s = src;
	uint64_t sum = 0;
	uint32_t n = len / 4, w, tail = 0;

	for (uint32_t i = 0; i < n; i++) {
		memcpy(&w, s + 4 * i, 4);
		memcpy(d + 4 * i, &w, 4);
		sum += w;
	}
	len -= 4 * n;
	if (len) {
		memcpy(&tail, s + 4 * n, len);
		memcpy(d + 4 * n, s + 4 * n, len);
		sum += tail;
	}
	return mg_csum_fold64(sum);
}

#endif
