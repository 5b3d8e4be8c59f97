/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Initial sequence numbers (RFC 6528), timestamp offsets and SYN cookies, all
 * from one keyed hash: SipHash-2-4 under the 128-bit secret given at init.
 * Each use hashes a distinct domain byte first, so values of one kind say
 * nothing about another.
 */
#include <string.h>

#include "tcp_priv.h"

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                              \
	do {                                                                  \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);     \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                        \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                        \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);     \
	} while (0)

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

uint64_t isn_siphash(const uint8_t key[16], const void *data, size_t len)
{
	const uint8_t *in = data;
	uint64_t k0 = le64(key), k1 = le64(key + 8);
	uint64_t v0 = k0 ^ 0x736f6d6570736575ULL, v1 = k1 ^ 0x646f72616e646f6dULL;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ULL, v3 = k1 ^ 0x7465646279746573ULL;
	uint64_t b = (uint64_t)len << 56;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t m = le64(in + i);

		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (size_t j = 0; i + j < len; j++)
		b |= (uint64_t)in[i + j] << (8 * j);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

struct hash_in {
	uint8_t domain;
	uint8_t mss_idx, ws, sack;
	uint32_t peer_seq;
	uint64_t counter;
	struct mg_tcp_key key;
};

static uint64_t keyed(const struct mg_tcp_stack *s, uint8_t domain,
		      const struct mg_tcp_key *k)
{
	struct hash_in h;

	memset(&h, 0, sizeof(h));
	h.domain = domain;
	h.key = *k;
	return isn_siphash(s->p.isn_secret, &h, sizeof(h));
}

/* RFC 6528: ISN = M + F(4-tuple, secret), M a 4 µs clock. */
uint32_t isn_generate(const struct mg_tcp_stack *s, const struct mg_tcp_key *k)
{
	return (uint32_t)keyed(s, 'I', k) + (uint32_t)(s->now / 4);
}

/* RFC 7323 section 7.1: a per-connection random offset for TSval. */
uint32_t isn_ts_offset(const struct mg_tcp_stack *s, const struct mg_tcp_key *k)
{
	return (uint32_t)keyed(s, 'T', k);
}

/*
 * Random numbers no peer can predict, for the stack's own choices (the
 * challenge-ACK budget): SipHash of a draw counter under the secret, in a
 * domain of its own. One hash per draw, no syscall.
 */
uint64_t isn_random(struct mg_tcp_stack *s)
{
	struct hash_in h;

	memset(&h, 0, sizeof(h));
	h.domain = 'R';
	h.counter = s->rnd_ctr++;
	return isn_siphash(s->p.isn_secret, &h, sizeof(h));
}

/*
 * SYN cookie layout (the ISN of our SYN-ACK):
 *   31..29 time counter (64 s units, mod 8)   28..26 MSS table index
 *   25..22 peer window shift (15: none)       21     SACK permitted
 *   20..0  MAC over tuple, peer ISN, full counter and the fields above
 * A cookie is good for two counter steps (64..192 s). Window scale and SACK
 * ride in the cookie itself so they survive without timestamps.
 */
static const uint16_t cookie_mss[8] = {536, 1220, 1300, 1380, 1420, 1440, 1452, 1460};
#define COOKIE_PERIOD_US (64ULL * 1000000)
#define COOKIE_MAX_AGE 2
#define COOKIE_MAC_MASK 0x1fffffu

static uint32_t cookie_mac(const struct mg_tcp_stack *s, const struct mg_tcp_key *k,
			   uint32_t peer_seq, uint64_t counter, uint8_t mss_idx,
			   uint8_t ws, bool sack)
{
	struct hash_in h;

	memset(&h, 0, sizeof(h));
	h.domain = 'C';
	h.mss_idx = mss_idx;
	h.ws = ws;
	h.sack = sack;
	h.peer_seq = peer_seq;
	h.counter = counter;
	h.key = *k;
	return (uint32_t)isn_siphash(s->p.isn_secret, &h, sizeof(h)) & COOKIE_MAC_MASK;
}

uint32_t cookie_make(const struct mg_tcp_stack *s, const struct mg_tcp_key *k,
		     uint32_t peer_seq, uint16_t mss, uint8_t ws, bool sack)
{
	uint64_t counter = s->now / COOKIE_PERIOD_US;
	uint8_t idx = 0;

	for (uint8_t i = 0; i < 8; i++)
		if (cookie_mss[i] <= mss)
			idx = i;
	if (ws > TCP_MAX_WSCALE)
		ws = 15;
	return (uint32_t)(counter & 7) << 29 | (uint32_t)idx << 26 | (uint32_t)ws << 22 |
	       (uint32_t)sack << 21 | cookie_mac(s, k, peer_seq, counter, idx, ws, sack);
}

bool cookie_check(const struct mg_tcp_stack *s, const struct mg_tcp_key *k,
		  uint32_t peer_seq, uint32_t cookie, uint16_t *mss, uint8_t *ws,
		  bool *sack)
{
	uint64_t cur = s->now / COOKIE_PERIOD_US;
	uint64_t age = (cur - (cookie >> 29)) & 7;
	uint8_t idx = (cookie >> 26) & 7, w = (cookie >> 22) & 15;
	bool sk = (cookie >> 21) & 1;

	if (age > COOKIE_MAX_AGE || age > cur)
		return false;
	if (w != 15 && w > TCP_MAX_WSCALE)
		return false;
	if (cookie_mac(s, k, peer_seq, cur - age, idx, w, sk) != (cookie & COOKIE_MAC_MASK))
		return false;
	*mss = cookie_mss[idx];
	*ws = w;
	*sack = sk;
	return true;
}

uint64_t mg_tcp_secret_hash(const struct mg_tcp_stack *s, const void *data, size_t len)
{
	return isn_siphash(s->p.isn_secret, data, len);
}
