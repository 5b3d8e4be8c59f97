/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The layout of the compiled policy arena, shared by policy_compile.c (which
 * builds and seals it) and policy_authz.c (which reads it on the per-connection
 * path). Not for other rooms: the arena is opaque outside ctrl/policy*.c.
 */
#ifndef MG_POLICY_ARENA_H
#define MG_POLICY_ARENA_H

#include <stdint.h>
#include <string.h>

#include <rte_hash_crc.h>

#include "policy.h"

#define POLICY_MAGIC 0x5943494c4f50474dULL /* "MGPOLICY" */
#define HASH_SEED 0x6d657368u               /* fixed: the arena is deterministic */
#define NONE UINT32_MAX
#define SVC_BIT 0x80000000u                 /* address slot refers to a service */

struct strref {
	uint32_t off, len; /* NUL-terminated string of len bytes at base + off */
};

struct listref {
	uint32_t off, n; /* n elements at base + off */
};

struct a_td {
	struct strref name, pem;
	uint32_t n_certs;
};

struct a_workload {
	struct strref name, id;
	struct listref ports;  /* uint16_t, sorted */
	struct listref images; /* uint8_t[32], sorted */
	struct listref addrs;  /* uint32_t */
};

struct a_svc_port {
	uint16_t port, target;
};

struct a_service {
	struct strref name;
	uint32_t addr, workload;
	struct listref ports; /* struct a_svc_port, sorted by port */
};

struct a_rule {
	struct strref name;
	uint32_t workload;
	uint8_t action, has_http;
	struct listref methods, paths, hosts; /* struct strref each */
};

struct a_sel {
	uint32_t hash;
	struct strref key;
	uint32_t workload;     /* the workload whose SPIFFE ID this is, or NONE */
	struct listref grants; /* struct a_grant, sorted by (workload, rule) */
};

/* Sorted by (workload, has_paths, rule): per request the grants without
 * path terms are walked, those with path terms binary-searched by rule. */
struct a_grant {
	uint64_t port_mask; /* bit i: the workload's i-th port */
	uint32_t workload, rule;
	uint8_t action, has_http, has_paths;
};

struct a_addr {
	uint32_t ip; /* 0: empty (0.0.0.0/8 is refused by the parser) */
	uint32_t ref; /* workload index, or SVC_BIT | service index */
};

struct mg_policy {
	uint64_t magic;
	uint64_t size; /* bytes mapped */
	uint64_t version, generation;
	uint8_t digest[MG_POLICY_DIGEST_LEN];
	uint8_t arena_sha256[32]; /* set by mg_policy_seal(), zero while hashing */
	uint32_t sealed, deny_all;
	uint32_t used; /* bytes of the arena in use */
	uint32_t prefix_levels; /* patterns go this many path segments deep (+1) */
	struct listref tds, workloads, services, rules, sels, grants;
	struct listref sel_slots;  /* uint32_t: selector index + 1, 0 empty */
	struct listref addr_slots; /* struct a_addr */
	uint16_t tls_min;
	struct strref tls_suites, tls_groups, tls_sigalgs;
	uint8_t l7_close_on_deny, l7_merge_slashes, l7_h2_downgrade; /* policy group l7 */
};

/*
 * policy_pool.c: an arena holding the @len bytes of @image (its size field
 * set to the bytes mapped), as the read-only policy pointer *@ro; @n bytes
 * written at @off of a policy not yet freed (through the file: there is no
 * writable mapping); back to the free list.
 */
MG_RESULT mg_policy_pool_get(const void *image, size_t len, struct mg_policy **ro);
MG_RESULT mg_policy_pool_write(const struct mg_policy *ro, size_t off, const void *buf, size_t n);
void mg_policy_pool_put(const struct mg_policy *ro);

#define CAT(p, off, type) ((const type *)((const uint8_t *)(p) + (off)))

/*
 * CRC32-C of a key (SSE4.2 crc32 through DPDK's primitives). Words are
 * loaded with memcpy: keys sit at any byte offset, and rte_hash_crc()'s own
 * loop casts them to uint64_t pointers, which is undefined when unaligned.
 */
/*
 * CRC32-C of @k (@len bytes) continued from @h. The 8-byte and the 1-byte
 * steps agree (the CRC of a stream), so a hash can be carried on over a
 * path one segment at a time: hash_more(hash_more(h, a), b) = hash of a||b.
 */
static inline uint32_t hash_more(uint32_t h, const char *k, uint32_t len)
{
	uint64_t w;

	for (; len >= 8; k += 8, len -= 8) {
		memcpy(&w, k, sizeof(w));
		h = rte_hash_crc_8byte(w, h);
	}
	while (len-- > 0)
		h = rte_hash_crc_1byte((uint8_t)*k++, h);
	return h;
}

static inline uint32_t hash_key(const char *k, uint32_t len)
{
	return hash_more(HASH_SEED, k, len);
}

static inline const char *sref(const struct mg_policy *p, struct strref s)
{
	return CAT(p, s.off, char);
}

/*
 * The L7 matcher (policy_l7.c builds it, policy_authz.c scans with it).
 * Exact and "/prefix/\*" paths are keys of one open-addressing table; only
 * "~regex" paths go to hyperscan, whose pattern ids are rule indexes.
 */
#define L7_MAX_HITS 64 /* rules listed per scan; more: stamps alone, walked */

struct hs_database;
struct hs_scratch;

/* One worker's part, written by that worker only (own cache lines). */
struct l7_worker {
	struct hs_scratch *scratch;
	uint32_t seq;           /* this request's stamp (never 0) */
	uint32_t n_hits;
	bool overflow;          /* more than L7_MAX_HITS rules matched */
	uint32_t hits[L7_MAX_HITS];
	uint32_t *stamp;        /* per rule: seq of the last request whose path it matched */
	uint64_t *ctr;          /* per rule: [2 * rule] allowed, [2 * rule + 1] denied */
} __attribute__((aligned(64)));

/* One key of the path table: an exact path, or a prefix (its bytes end in '/'). */
struct l7_slot {
	uint32_t hash;          /* CRC32-C of the key, masked by paths.hash_mask */
	uint32_t len;           /* key bytes; 0: an empty slot */
	uint32_t key;           /* offset in paths.keys */
	uint32_t ids, n_ids;    /* rule indexes, ascending: paths.ids[ids .. ids + n_ids) */
	uint32_t prefix;        /* 1: "key*", any path that starts with key */
};

struct l7_paths {
	struct l7_slot *slot;   /* [mask + 1]; NULL: no exact or prefix path */
	uint32_t mask;
	uint32_t hash_mask;     /* all ones but in tests (mg_policy_l7_test_hash_mask) */
	uint32_t prefix_depth;  /* most '/' in a prefix key: boundaries worth a lookup */
	uint32_t prefix_len;    /* longest prefix key */
	char *keys;
	uint32_t *ids;
};

struct mg_policy_l7 {
	struct l7_paths paths;  /* exact and prefix paths */
	struct hs_database *db; /* NULL: no rule has a regex path */
	size_t db_size;
	uint16_t n_workers;
	uint32_t n_rules;
	struct l7_worker *w;    /* [n_workers] */
	void *mem;              /* the stamps and counters of every worker */
};

#endif /* MG_POLICY_ARENA_H */
