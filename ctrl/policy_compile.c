/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The compiled policy: one arena per snapshot, built by the control thread,
 * sealed read-only with mprotect(), read by workers without locks.
 *
 * Why not rte_hash/rte_acl: they allocate from DPDK's heap, which cannot be
 * made read-only per snapshot. Everything a decision needs lives here
 * instead, in one mmap'ed range, addressed by 32-bit offsets from its start
 * (so the arena is position independent and its SHA-256 means something):
 *
 *   header (struct mg_policy) | strings and lists | trust domains | workloads
 *   | services | rules | selectors | grants | selector slots | address slots
 *
 * A selector is a key "td/path" (an exact SPIFFE ID without "spiffe://") or
 * "td/path/" (a pattern "spiffe://td/path/\*"; never a valid exact key since
 * an ID has no trailing slash), found through an open-addressing table
 * hashed with CRC32-C. Each selector owns the grants of the rules that name
 * it, sorted by (target workload, rule). A decision probes the exact ID and
 * each of its prefixes (only as deep as the deepest pattern in the policy),
 * binary-searches each selector's grants for the destination workload and
 * tests the port against the grant's 64-bit mask over the workload's sorted
 * ports. No allocation, no lock, no syscall.
 */
#include "policy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <rte_hash_crc.h>

#include "spiffe.h"

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

struct a_grant {
	uint64_t port_mask; /* bit i: the workload's i-th port */
	uint32_t workload, rule;
	uint8_t action, has_http;
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
};

#define CAT(p, off, type) ((const type *)((const uint8_t *)(p) + (off)))

/*
 * CRC32-C of a key (SSE4.2 crc32 through DPDK's primitives). Words are
 * loaded with memcpy: keys sit at any byte offset, and rte_hash_crc()'s own
 * loop casts them to uint64_t pointers, which is undefined when unaligned.
 */
static uint32_t hash_key(const char *k, uint32_t len)
{
	uint32_t h = HASH_SEED;
	uint64_t w;

	for (; len >= 8; k += 8, len -= 8) {
		memcpy(&w, k, sizeof(w));
		h = rte_hash_crc_8byte(w, h);
	}
	while (len-- > 0)
		h = rte_hash_crc_1byte((uint8_t)*k++, h);
	return h;
}

static const char *sref(const struct mg_policy *p, struct strref s)
{
	return CAT(p, s.off, char);
}

/* ---------------------------------------------------------------------- */
/* The builder: a growing heap buffer addressed by offsets, copied into the
 * mmap'ed arena at the end. Pointers into it are taken only after the last
 * allocation they could be invalidated by. */

struct builder {
	uint8_t *buf;
	size_t len, cap;
	bool failed;
};

static uint32_t b_alloc(struct builder *b, size_t n, size_t align)
{
	size_t off = (b->len + align - 1) & ~(align - 1);

	if (b->failed || off + n > UINT32_MAX) {
		b->failed = true;
		return 0;
	}
	if (off + n > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;
		uint8_t *nb;

		while (cap < off + n)
			cap *= 2;
		nb = realloc(b->buf, cap);
		if (nb == NULL) {
			b->failed = true;
			return 0;
		}
		memset(nb + b->cap, 0, cap - b->cap);
		b->buf = nb;
		b->cap = cap;
	}
	b->len = off + n;
	return (uint32_t)off;
}

static struct strref b_str(struct builder *b, const char *s, size_t n)
{
	struct strref r = { b_alloc(b, n + 1, 1), (uint32_t)n };

	if (!b->failed)
		memcpy(b->buf + r.off, s, n);
	return r;
}

static struct listref b_list(struct builder *b, uint32_t n, size_t size, size_t align)
{
	return (struct listref){ b_alloc(b, n * size, align), n };
}

#define B(b, off, type) ((type *)((b)->buf + (off)))

/* "A:B:C" for OpenSSL's list setters. */
static struct strref b_join(struct builder *b, const struct mg_policy_strv *v)
{
	size_t n = 0;
	struct strref r;
	char *d;

	for (uint32_t i = 0; i < v->n; i++)
		n += strlen(v->v[i]) + 1;
	r = (struct strref){ b_alloc(b, n ? n : 1, 1), (uint32_t)(n ? n - 1 : 0) };
	if (b->failed)
		return r;
	d = B(b, r.off, char);
	for (uint32_t i = 0; i < v->n; i++) {
		size_t k = strlen(v->v[i]);

		memcpy(d, v->v[i], k);
		d += k;
		*d++ = ':';
	}
	if (n)
		d[-1] = '\0';
	return r;
}

static struct listref b_strv(struct builder *b, const struct mg_policy_strv *v)
{
	struct listref l = b_list(b, v->n, sizeof(struct strref), 4);

	for (uint32_t i = 0; i < v->n && !b->failed; i++) {
		struct strref s = b_str(b, v->v[i], strlen(v->v[i]));

		B(b, l.off, struct strref)[i] = s;
	}
	return l;
}

/* ---------------------------------------------------------------------- */
/* Compilation, section by section. */

static void build_tds(struct builder *b, const struct mg_policy_src *src)
{
	struct listref l = b_list(b, src->n_tds, sizeof(struct a_td), 8);

	B(b, 0, struct mg_policy)->tds = l;
	for (uint32_t i = 0; i < src->n_tds && !b->failed; i++) {
		const struct mg_policy_td *t = &src->tds[i];
		struct a_td td = { .n_certs = t->n_certs };

		td.name = b_str(b, t->name, strlen(t->name));
		td.pem = b_str(b, t->bundle_pem, t->bundle_len);
		if (!b->failed)
			B(b, l.off, struct a_td)[i] = td;
	}
}

static void build_tls(struct builder *b, const struct mg_policy_src *src)
{
	struct strref s = b_join(b, &src->tls.ciphersuites);
	struct strref g = b_join(b, &src->tls.groups);
	struct strref a = b_join(b, &src->tls.sigalgs);
	struct mg_policy *h = B(b, 0, struct mg_policy);

	h->tls_min = src->tls.min_version;
	h->tls_suites = s;
	h->tls_groups = g;
	h->tls_sigalgs = a;
}

static void build_workloads(struct builder *b, const struct mg_policy_src *src)
{
	struct listref l = b_list(b, src->n_workloads, sizeof(struct a_workload), 8);

	B(b, 0, struct mg_policy)->workloads = l;
	for (uint32_t i = 0; i < src->n_workloads && !b->failed; i++) {
		const struct mg_policy_workload *w = &src->workloads[i];
		struct a_workload a;

		a.name = b_str(b, w->name, strlen(w->name));
		a.id = b_str(b, w->spiffe_id, strlen(w->spiffe_id));
		a.ports = b_list(b, w->n_ports, sizeof(uint16_t), 2);
		a.images = b_list(b, w->n_images, MG_POLICY_DIGEST_LEN, 8);
		a.addrs = b_list(b, w->n_addrs, sizeof(uint32_t), 4);
		if (b->failed)
			return;
		memcpy(b->buf + a.ports.off, w->ports, w->n_ports * sizeof(uint16_t));
		memcpy(b->buf + a.images.off, w->images, w->n_images * MG_POLICY_DIGEST_LEN);
		memcpy(b->buf + a.addrs.off, w->addrs, w->n_addrs * sizeof(uint32_t));
		B(b, l.off, struct a_workload)[i] = a;
	}
}

static void build_services(struct builder *b, const struct mg_policy_src *src)
{
	struct listref l = b_list(b, src->n_services, sizeof(struct a_service), 8);

	B(b, 0, struct mg_policy)->services = l;
	for (uint32_t i = 0; i < src->n_services && !b->failed; i++) {
		const struct mg_policy_service *s = &src->services[i];
		struct a_service a = { .addr = s->addr, .workload = s->workload_idx };

		a.name = b_str(b, s->name, strlen(s->name));
		a.ports = b_list(b, s->n_ports, sizeof(struct a_svc_port), 4);
		for (uint32_t k = 0; k < s->n_ports && !b->failed; k++)
			B(b, a.ports.off, struct a_svc_port)[k] =
				(struct a_svc_port){ s->ports[k].port, s->ports[k].target_port };
		if (!b->failed)
			B(b, l.off, struct a_service)[i] = a;
	}
}

static void build_rules(struct builder *b, const struct mg_policy_src *src)
{
	struct listref l = b_list(b, src->n_rules, sizeof(struct a_rule), 8);

	B(b, 0, struct mg_policy)->rules = l;
	for (uint32_t i = 0; i < src->n_rules && !b->failed; i++) {
		const struct mg_policy_rule *r = &src->rules[i];
		struct a_rule a = { .workload = r->to_idx, .action = (uint8_t)r->action,
				    .has_http = r->has_http };

		a.name = b_str(b, r->name, strlen(r->name));
		a.methods = b_strv(b, &r->methods);
		a.paths = b_strv(b, &r->paths);
		a.hosts = b_strv(b, &r->hosts);
		if (!b->failed)
			B(b, l.off, struct a_rule)[i] = a;
	}
}

/* The rule's ports as a mask over its workload's sorted ports (<= 64). */
static uint64_t port_mask(const struct mg_policy_src *src, const struct mg_policy_rule *r)
{
	const struct mg_policy_workload *w = &src->workloads[r->to_idx];
	uint64_t m = 0;

	for (uint32_t i = 0, k = 0; i < w->n_ports && k < r->n_ports; i++)
		if (w->ports[i] == r->ports[k]) {
			m |= 1ull << i;
			k++;
		}
	return m;
}

/* One (key, rule) pair, or a workload's own ID (rule NONE), before grouping. */
struct sel_src {
	const char *key; /* without "spiffe://"; patterns keep their trailing '/' */
	uint32_t len;
	uint32_t rule;     /* NONE: the key is workload @workload's ID */
	uint32_t workload; /* the rule's target, or the ID's owner */
};

static int sel_src_cmp(const void *x, const void *y)
{
	const struct sel_src *a = x, *b = y;
	uint32_t n = a->len < b->len ? a->len : b->len;
	int r = memcmp(a->key, b->key, n);

	if (r != 0 || a->len != b->len)
		return r != 0 ? r : (a->len < b->len ? -1 : 1);
	if (a->workload != b->workload)
		return a->workload < b->workload ? -1 : 1;
	return a->rule < b->rule ? -1 : a->rule > b->rule;
}

/* Keys of every pattern and workload ID, sorted so equal keys are adjacent. */
static struct sel_src *collect_keys(const struct mg_policy_src *src,
				    struct mg_spiffe_id *scratch, size_t *n_out)
{
	size_t n = src->n_workloads, k = 0;
	struct sel_src *v;

	for (uint32_t i = 0; i < src->n_rules; i++)
		n += src->rules[i].from.n;
	v = calloc(n ? n : 1, sizeof(*v));
	if (v == NULL)
		return NULL;
	for (uint32_t i = 0; i < src->n_workloads; i++)
		v[k++] = (struct sel_src){ src->workloads[i].spiffe_id + MG_SPIFFE_SCHEME_LEN,
					   (uint32_t)strlen(src->workloads[i].spiffe_id) -
						   MG_SPIFFE_SCHEME_LEN,
					   NONE, i };
	for (uint32_t i = 0; i < src->n_rules; i++)
		for (uint32_t j = 0; j < src->rules[i].from.n; j++) {
			const char *pat = src->rules[i].from.v[j];
			/* Pattern "<id>/\*" has key "<id>/"; the parser checked it. */
			size_t len = strlen(pat);

			if (mg_spiffe_parse_pattern(pat, scratch) == 0 && scratch->prefix)
				len--;
			v[k++] = (struct sel_src){ pat + MG_SPIFFE_SCHEME_LEN,
						   (uint32_t)(len - MG_SPIFFE_SCHEME_LEN),
						   i, src->rules[i].to_idx };
		}
	qsort(v, k, sizeof(*v), sel_src_cmp);
	*n_out = k;
	return v;
}

static bool same_key(const struct sel_src *a, const struct sel_src *b)
{
	return a->len == b->len && memcmp(a->key, b->key, a->len) == 0;
}

static uint32_t depth_of(const char *key, uint32_t len)
{
	uint32_t d = 0;

	for (uint32_t i = 0; i < len; i++)
		d += key[i] == '/';
	return d; /* "td/" is 1: a pattern at depth d needs d probes */
}

/* Selectors and their grants from the sorted keys. */
static void build_selectors(struct builder *b, const struct mg_policy_src *src,
			    const struct sel_src *v, size_t n)
{
	uint32_t n_sel = 0, n_grants = 0, levels = 0;
	struct listref sels, grants;

	for (size_t i = 0; i < n; i++) {
		n_sel += i == 0 || !same_key(&v[i - 1], &v[i]);
		n_grants += v[i].rule != NONE;
	}
	sels = b_list(b, n_sel, sizeof(struct a_sel), 8);
	grants = b_list(b, n_grants, sizeof(struct a_grant), 8);
	if (b->failed)
		return;
	B(b, 0, struct mg_policy)->sels = sels;
	B(b, 0, struct mg_policy)->grants = grants;
	for (size_t i = 0, s = 0, g = 0; i < n && !b->failed; s++) {
		struct a_sel a = { .workload = NONE };
		size_t j = i;

		a.key = b_str(b, v[i].key, v[i].len);
		a.hash = hash_key(v[i].key, v[i].len);
		a.grants.off = grants.off + (uint32_t)(g * sizeof(struct a_grant));
		for (; j < n && same_key(&v[i], &v[j]); j++) {
			const struct mg_policy_rule *r;

			if (v[j].rule == NONE) {
				a.workload = v[j].workload;
				continue;
			}
			r = &src->rules[v[j].rule];
			if (!b->failed)
				B(b, grants.off, struct a_grant)[g++] = (struct a_grant){
					port_mask(src, r), v[j].workload, v[j].rule,
					(uint8_t)r->action, r->has_http };
			a.grants.n++;
		}
		if (v[i].key[v[i].len - 1] == '/' && depth_of(v[i].key, v[i].len) > levels)
			levels = depth_of(v[i].key, v[i].len);
		if (!b->failed)
			B(b, sels.off, struct a_sel)[s] = a;
		i = j;
	}
	if (!b->failed)
		B(b, 0, struct mg_policy)->prefix_levels = levels;
}

static uint32_t slots_for(uint32_t n)
{
	uint32_t s = 16;

	while (s < 2 * n) /* at most half full: probes stay short and end */
		s *= 2;
	return s;
}

static void build_sel_slots(struct builder *b)
{
	uint32_t n = B(b, 0, struct mg_policy)->sels.n, size = slots_for(n);
	struct listref l = b_list(b, size, sizeof(uint32_t), 4);

	if (b->failed)
		return;
	B(b, 0, struct mg_policy)->sel_slots = l;
	for (uint32_t s = 0; s < n; s++) {
		const struct a_sel *a = &B(b, B(b, 0, struct mg_policy)->sels.off, struct a_sel)[s];
		uint32_t i = a->hash & (size - 1);

		while (B(b, l.off, uint32_t)[i] != 0)
			i = (i + 1) & (size - 1);
		B(b, l.off, uint32_t)[i] = s + 1;
	}
}

static void addr_insert(struct a_addr *slots, uint32_t size, uint32_t ip, uint32_t ref)
{
	uint32_t i = rte_hash_crc_4byte(ip, HASH_SEED) & (size - 1);

	while (slots[i].ip != 0)
		i = (i + 1) & (size - 1);
	slots[i] = (struct a_addr){ ip, ref };
}

static void build_addr_slots(struct builder *b, const struct mg_policy_src *src)
{
	uint32_t n = src->n_services, size;
	struct listref l;

	for (uint32_t i = 0; i < src->n_workloads; i++)
		n += src->workloads[i].n_addrs;
	size = slots_for(n);
	l = b_list(b, size, sizeof(struct a_addr), 8);
	if (b->failed)
		return;
	B(b, 0, struct mg_policy)->addr_slots = l;
	/* The parser guarantees one owner per address. */
	for (uint32_t i = 0; i < src->n_workloads; i++)
		for (uint32_t k = 0; k < src->workloads[i].n_addrs; k++)
			addr_insert(B(b, l.off, struct a_addr), size, src->workloads[i].addrs[k], i);
	for (uint32_t i = 0; i < src->n_services; i++)
		addr_insert(B(b, l.off, struct a_addr), size, src->services[i].addr, SVC_BIT | i);
}

/* Copy the built image into a fresh private anonymous mapping. */
static int map_arena(struct builder *b, struct mg_policy **out)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t size = (b->len + (size_t)page - 1) & ~((size_t)page - 1);
	void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	MG_ENSURE(m != MAP_FAILED, NOMEM, "policy: mmap of %zu bytes: %s", size, strerror(errno));
	memcpy(m, b->buf, b->len);
	*out = m;
	(*out)->size = size;
	(*out)->used = (uint32_t)b->len;
	return 0;
}

static int compile(const struct mg_policy_src *src, bool deny_all, struct mg_policy **out)
{
	struct builder b = { 0 };
	struct mg_spiffe_id *scratch = malloc(sizeof(*scratch));
	struct sel_src *keys = NULL;
	size_t n_keys = 0;
	int rc = -1;

	*out = NULL;
	b_alloc(&b, sizeof(struct mg_policy), 64);
	MG_ENSURE_GOTO(scratch != NULL && !b.failed, out, NOMEM, "policy: out of memory");
	B(&b, 0, struct mg_policy)->magic = POLICY_MAGIC;
	B(&b, 0, struct mg_policy)->deny_all = deny_all;
	if (src != NULL) {
		keys = collect_keys(src, scratch, &n_keys);
		MG_ENSURE_GOTO(keys != NULL, out, NOMEM, "policy: out of memory");
		build_tds(&b, src);
		build_tls(&b, src);
		build_workloads(&b, src);
		build_services(&b, src);
		build_rules(&b, src);
		build_selectors(&b, src, keys, n_keys);
		build_sel_slots(&b);
		build_addr_slots(&b, src);
	}
	MG_ENSURE_GOTO(!b.failed, out, NOMEM, "policy: the arena does not fit (%zu bytes)", b.len);
	rc = map_arena(&b, out);
out:
	free(keys);
	free(scratch);
	free(b.buf);
	return rc;
}

MG_RESULT mg_policy_compile(const struct mg_policy_src *src, struct mg_policy **out)
{
	MG_ENSURE(src != NULL, USAGE, "policy: nothing to compile");
	return compile(src, false, out);
}

MG_RESULT mg_policy_deny_all(struct mg_policy **out)
{
	return compile(NULL, true, out);
}

/* ---------------------------------------------------------------------- */
/* Sealing and integrity. */

MG_RESULT mg_policy_set_meta(struct mg_policy *p, uint64_t version,
			     const uint8_t digest[MG_POLICY_DIGEST_LEN], uint64_t generation)
{
	MG_ENSURE(!p->sealed, USAGE, "policy: the arena is sealed; its facts are fixed");
	p->version = version;
	p->generation = generation;
	memcpy(p->digest, digest, MG_POLICY_DIGEST_LEN);
	return 0;
}

/* SHA-256 of the arena with arena_sha256 read as zeros. */
static int arena_hash(const struct mg_policy *p, uint8_t out[32])
{
	static const uint8_t zero[32];
	size_t at = offsetof(struct mg_policy, arena_sha256);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) &&
		 EVP_DigestUpdate(md, p, at) && EVP_DigestUpdate(md, zero, sizeof(zero)) &&
		 EVP_DigestUpdate(md, (const uint8_t *)p + at + 32, p->used - at - 32) &&
		 EVP_DigestFinal_ex(md, out, NULL);

	EVP_MD_CTX_free(md);
	MG_ENSURE(ok, CRYPTO, "policy: SHA-256 of the arena failed");
	return 0;
}

MG_RESULT mg_policy_seal(struct mg_policy *p)
{
	uint8_t h[32];

	MG_ENSURE(p->magic == POLICY_MAGIC, USAGE, "policy: not a compiled policy");
	MG_ENSURE(!p->sealed, USAGE, "policy: already sealed");
	p->sealed = 1;
	MG_GUARD(arena_hash(p, h));
	memcpy(p->arena_sha256, h, sizeof(h));
	if (mprotect(p, p->size, PROT_READ) != 0) {
		p->sealed = 0;
		return mg_error_set(MG_ERR_INTERNAL, "policy: mprotect(PROT_READ): %s",
				    strerror(errno));
	}
	return 0;
}

/*
 * Every page of [p, p + size) mapped, none writable? /proc/self/maps lists
 * mappings in address order; adjacent ones with equal rights may be merged,
 * so walk them and require gapless read-only coverage of the range.
 */
bool mg_policy_is_sealed(const struct mg_policy *p)
{
	uintptr_t lo = (uintptr_t)p, hi = lo + (p ? p->size : 0);
	FILE *f = p && p->sealed ? fopen("/proc/self/maps", "re") : NULL;
	char *line = NULL;
	size_t cap = 0;
	bool ok = false;

	while (f != NULL && lo < hi && getline(&line, &cap, f) > 0) {
		unsigned long start, end;
		char perms[5];

		if (sscanf(line, "%lx-%lx %4s", &start, &end, perms) != 3 || end <= lo)
			continue;
		if (start > lo || perms[1] != '-')
			break;
		lo = end;
		ok = lo >= hi;
	}
	free(line);
	if (f != NULL)
		fclose(f);
	return ok;
}

MG_RESULT mg_policy_check(const struct mg_policy *p)
{
	uint8_t h[32];

	MG_ENSURE(p->magic == POLICY_MAGIC, INTERNAL, "policy: arena header overwritten");
	MG_ENSURE(mg_policy_is_sealed(p), INTERNAL,
		  "policy: the arena is not read-only (sealed flag %u)", p->sealed);
	MG_GUARD(arena_hash(p, h));
	MG_ENSURE(CRYPTO_memcmp(h, p->arena_sha256, sizeof(h)) == 0, INTERNAL,
		  "policy: the arena no longer hashes to its seal");
	return 0;
}

void mg_policy_free(struct mg_policy *p)
{
	if (p != NULL)
		munmap(p, p->size);
}

/* ---------------------------------------------------------------------- */
/* Facts. */

uint64_t mg_policy_version(const struct mg_policy *p) { return p->version; }
uint64_t mg_policy_generation(const struct mg_policy *p) { return p->generation; }
const uint8_t *mg_policy_digest(const struct mg_policy *p) { return p->digest; }
size_t mg_policy_arena_size(const struct mg_policy *p) { return p->size; }
bool mg_policy_is_deny_all(const struct mg_policy *p) { return p->deny_all != 0; }
uint32_t mg_policy_n_rules(const struct mg_policy *p) { return p->rules.n; }
uint32_t mg_policy_n_workloads(const struct mg_policy *p) { return p->workloads.n; }
uint32_t mg_policy_n_services(const struct mg_policy *p) { return p->services.n; }
uint32_t mg_policy_n_trust_domains(const struct mg_policy *p) { return p->tds.n; }

static const struct a_workload *workload(const struct mg_policy *p, uint32_t w)
{
	return &CAT(p, p->workloads.off, struct a_workload)[w];
}

const char *mg_policy_rule_name(const struct mg_policy *p, uint32_t id)
{
	if (id >= p->rules.n)
		return NULL;
	return sref(p, CAT(p, p->rules.off, struct a_rule)[id].name);
}

void mg_policy_tls(const struct mg_policy *p, struct mg_policy_tls_view *out)
{
	out->min_version = p->tls_min;
	out->ciphersuites = p->deny_all ? "" : sref(p, p->tls_suites);
	out->groups = p->deny_all ? "" : sref(p, p->tls_groups);
	out->sigalgs = p->deny_all ? "" : sref(p, p->tls_sigalgs);
}

const char *mg_policy_td_name(const struct mg_policy *p, uint32_t i)
{
	return i < p->tds.n ? sref(p, CAT(p, p->tds.off, struct a_td)[i].name) : NULL;
}

const char *mg_policy_td_bundle(const struct mg_policy *p, uint32_t i, size_t *len)
{
	const struct a_td *t;

	if (i >= p->tds.n)
		return NULL;
	t = &CAT(p, p->tds.off, struct a_td)[i];
	if (len != NULL)
		*len = t->pem.len;
	return sref(p, t->pem);
}

int32_t mg_policy_td_find(const struct mg_policy *p, const char *td, size_t len)
{
	const struct a_td *t = CAT(p, p->tds.off, struct a_td);
	uint32_t lo = 0, hi = p->tds.n;

	/* Sorted by strcmp(); compare the same way on the first len bytes. */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		size_t n = t[mid].name.len < len ? t[mid].name.len : len;
		int r = memcmp(sref(p, t[mid].name), td, n);

		if (r == 0)
			r = t[mid].name.len < len ? -1 : t[mid].name.len > len;
		if (r == 0)
			return (int32_t)mid;
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

const char *mg_policy_workload_name(const struct mg_policy *p, uint32_t w)
{
	return w < p->workloads.n ? sref(p, workload(p, w)->name) : NULL;
}

const char *mg_policy_workload_spiffe_id(const struct mg_policy *p, uint32_t w)
{
	return w < p->workloads.n ? sref(p, workload(p, w)->id) : NULL;
}

/* ---------------------------------------------------------------------- */
/* Lookups: the per-connection path. */

static uint32_t addr_find(const struct mg_policy *p, uint32_t ip)
{
	const struct a_addr *s = CAT(p, p->addr_slots.off, struct a_addr);
	uint32_t mask = p->addr_slots.n - 1, i;

	if (p->addr_slots.n == 0 || ip == 0)
		return NONE;
	for (i = rte_hash_crc_4byte(ip, HASH_SEED) & mask; s[i].ip != 0; i = (i + 1) & mask)
		if (s[i].ip == ip)
			return s[i].ref;
	return NONE;
}

int32_t mg_policy_workload_by_addr(const struct mg_policy *p, uint32_t ip)
{
	uint32_t ref = addr_find(p, ip);

	return ref == NONE || (ref & SVC_BIT) ? -1 : (int32_t)ref;
}

/* Index of @port among the workload's sorted ports, or -1. */
static int port_index(const struct mg_policy *p, const struct a_workload *w, uint16_t port)
{
	const uint16_t *v = CAT(p, w->ports.off, uint16_t);
	uint32_t lo = 0, hi = w->ports.n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (v[mid] == port)
			return (int)mid;
		if (v[mid] < port)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

enum mg_authz mg_policy_resolve(const struct mg_policy *p, uint32_t dst_ip, uint16_t dst_port,
				uint32_t *w, uint16_t *port)
{
	uint32_t ref = addr_find(p, dst_ip);

	if (ref == NONE)
		return MG_AUTHZ_DENY_UNKNOWN_WORKLOAD;
	if (ref & SVC_BIT) {
		const struct a_service *s = &CAT(p, p->services.off, struct a_service)[ref & ~SVC_BIT];
		const struct a_svc_port *sp = CAT(p, s->ports.off, struct a_svc_port);
		uint32_t k = 0;

		while (k < s->ports.n && sp[k].port != dst_port) /* <= 64 entries */
			k++;
		if (k == s->ports.n)
			return MG_AUTHZ_DENY_UNKNOWN_PORT;
		ref = s->workload;
		dst_port = sp[k].target;
	}
	if (port_index(p, workload(p, ref), dst_port) < 0)
		return MG_AUTHZ_DENY_UNKNOWN_PORT;
	*w = ref;
	*port = dst_port;
	return MG_AUTHZ_ALLOW;
}

static const struct a_sel *sel_find(const struct mg_policy *p, const char *key, uint32_t len)
{
	const uint32_t *slots = CAT(p, p->sel_slots.off, uint32_t);
	uint32_t mask = p->sel_slots.n - 1, h, i;

	if (p->sel_slots.n == 0)
		return NULL;
	h = hash_key(key, len);
	for (i = h & mask; slots[i] != 0; i = (i + 1) & mask) {
		const struct a_sel *s = &CAT(p, p->sels.off, struct a_sel)[slots[i] - 1];

		if (s->hash == h && s->key.len == len && memcmp(sref(p, s->key), key, len) == 0)
			return s;
	}
	return NULL;
}

static bool image_listed(const struct mg_policy *p, const struct a_workload *w, const char *img)
{
	const uint8_t *v = CAT(p, w->images.off, uint8_t); /* 32 bytes each */
	uint8_t d[MG_POLICY_DIGEST_LEN];
	uint32_t lo = 0, hi = w->images.n;

	if (img == NULL || strncmp(img, "sha256:", 7) != 0)
		return false;
	for (int i = 0; i < 2 * MG_POLICY_DIGEST_LEN; i++) {
		char c = img[7 + i];
		int x = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;

		if (x < 0)
			return false;
		d[i / 2] = (uint8_t)(i % 2 ? d[i / 2] | x : x << 4);
	}
	if (img[7 + 2 * MG_POLICY_DIGEST_LEN] != '\0')
		return false;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int r = memcmp(v + (size_t)mid * MG_POLICY_DIGEST_LEN, d, sizeof(d));

		if (r == 0)
			return true;
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* What the rules say about one connection or request, gathered over all matches. */
struct verdict {
	const struct mg_policy_http_req *req; /* NULL: connection (L4) decision */
	uint32_t deny, allow, allow_http;     /* lowest matching rule ids, NONE if none */
	bool deny_http;                       /* a deny rule with HTTP terms matched (L4) */
};

static size_t host_len(const char *h)
{
	size_t n = strcspn(h, ":");

	return n > 0 && h[n - 1] == '.' ? n - 1 : n; /* "web.example.org." is the same */
}

static bool host_match(const char *pat, const char *h, size_t n)
{
	size_t k = strlen(pat);

	if (pat[0] == '*') /* "*.example.org": any name strictly below */
		return n > k - 1 && strncasecmp(h + n - (k - 1), pat + 1, k - 1) == 0;
	return n == k && strncasecmp(h, pat, n) == 0;
}

static bool path_match(const char *pat, const char *path, size_t n)
{
	size_t k = strlen(pat);

	if (pat[k - 1] == '*')
		return n >= k - 1 && memcmp(path, pat, k - 1) == 0;
	return n == k && memcmp(path, pat, n) == 0;
}

static bool list_match(const struct mg_policy *p, struct listref l, const char *s, size_t n,
		       bool (*match)(const char *, const char *, size_t))
{
	const struct strref *v = CAT(p, l.off, struct strref);

	if (l.n == 0)
		return true;
	if (s == NULL)
		return false;
	for (uint32_t i = 0; i < l.n; i++)
		if (match(sref(p, v[i]), s, n))
			return true;
	return false;
}

static bool method_match(const char *pat, const char *m, size_t n)
{
	return strlen(pat) == n && memcmp(pat, m, n) == 0;
}

static bool http_match(const struct mg_policy *p, const struct a_rule *r,
		       const struct mg_policy_http_req *q)
{
	const char *path = q->path ? q->path : "";

	return list_match(p, r->methods, q->method, q->method ? strlen(q->method) : 0,
			  method_match) &&
	       list_match(p, r->hosts, q->host, q->host ? host_len(q->host) : 0, host_match) &&
	       list_match(p, r->paths, path, strcspn(path, "?#"), path_match);
}

static void min_rule(uint32_t *slot, uint32_t rule)
{
	if (rule < *slot)
		*slot = rule;
}

static void apply(const struct mg_policy *p, const struct a_grant *g, struct verdict *v)
{
	if (v->req != NULL) {
		/* Per request: a rule with HTTP terms counts only if they match. */
		if (g->has_http &&
		    !http_match(p, &CAT(p, p->rules.off, struct a_rule)[g->rule], v->req))
			return;
		min_rule(g->action == MG_POLICY_DENY ? &v->deny : &v->allow, g->rule);
		return;
	}
	if (g->action == MG_POLICY_DENY) {
		if (g->has_http)
			v->deny_http = true;
		else
			min_rule(&v->deny, g->rule);
	} else {
		min_rule(g->has_http ? &v->allow_http : &v->allow, g->rule);
	}
}

/* The grants of selector @s for workload @w whose ports include bit @bit. */
static void visit(const struct mg_policy *p, const struct a_sel *s, uint32_t w, uint64_t bit,
		  struct verdict *v)
{
	const struct a_grant *g = CAT(p, s->grants.off, struct a_grant);
	uint32_t lo = 0, hi = s->grants.n;

	while (lo < hi) { /* first grant for workload w */
		uint32_t mid = lo + (hi - lo) / 2;

		if (g[mid].workload < w)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < s->grants.n && g[lo].workload == w; lo++)
		if (g[lo].port_mask & bit)
			apply(p, &g[lo], v);
}

/*
 * Destination, identity, trust domain and image checks, then every selector
 * that matches @id: the exact key, then each prefix "td/", "td/a/", ... as
 * deep as the deepest pattern.
 */
static enum mg_authz decide(const struct mg_policy *p, const char *id, uint32_t dst_ip,
			    uint16_t dst_port, const char *image, struct verdict *v)
{
	const struct a_sel *s;
	const char *key;
	size_t len, td_len;
	uint32_t w, klen, depth = 0;
	uint16_t port;
	enum mg_authz r;

	if (p->deny_all)
		return MG_AUTHZ_DENY_ALL_POLICY;
	r = mg_policy_resolve(p, dst_ip, dst_port, &w, &port);
	if (r != MG_AUTHZ_ALLOW)
		return r;
	len = id ? strnlen(id, MG_SPIFFE_MAX_LEN + 1) : 0;
	if (id == NULL || mg_spiffe_check(id, len, &td_len) != NULL || len == td_len + 9)
		return MG_AUTHZ_DENY_BAD_IDENTITY;
	if (mg_policy_td_find(p, id + MG_SPIFFE_SCHEME_LEN, td_len) < 0)
		return MG_AUTHZ_DENY_UNTRUSTED_DOMAIN;
	key = id + MG_SPIFFE_SCHEME_LEN;
	klen = (uint32_t)(len - MG_SPIFFE_SCHEME_LEN);
	s = sel_find(p, key, klen);
	if (s != NULL && s->workload != NONE && workload(p, s->workload)->images.n > 0 &&
	    !image_listed(p, workload(p, s->workload), image))
		return MG_AUTHZ_IMAGE_NOT_ALLOWED;
	{
		uint64_t bit = 1ull << port_index(p, workload(p, w), port);

		if (s != NULL)
			visit(p, s, w, bit, v);
		for (uint32_t i = 0; i < klen && depth < p->prefix_levels; i++) {
			if (key[i] != '/')
				continue;
			depth++;
			s = sel_find(p, key, i + 1);
			if (s != NULL)
				visit(p, s, w, bit, v);
		}
	}
	return MG_AUTHZ_ALLOW;
}

static enum mg_authz result(enum mg_authz r, uint32_t rule, uint32_t *rule_id)
{
	if (rule_id != NULL)
		*rule_id = rule == NONE ? MG_POLICY_NO_RULE : rule;
	return r;
}

enum mg_authz mg_policy_authorize(const struct mg_policy *p, const char *peer_id,
				  uint32_t dst_ip, uint16_t dst_port,
				  const char *image_digest, uint32_t *rule_id)
{
	struct verdict v = { NULL, NONE, NONE, NONE, false };
	enum mg_authz r = decide(p, peer_id, dst_ip, dst_port, image_digest, &v);

	if (r != MG_AUTHZ_ALLOW)
		return result(r, NONE, rule_id);
	if (v.deny != NONE)
		return result(MG_AUTHZ_DENY_RULE, v.deny, rule_id);
	if (v.allow != NONE)
		return result(v.deny_http ? MG_AUTHZ_ALLOW_L7 : MG_AUTHZ_ALLOW, v.allow, rule_id);
	if (v.allow_http != NONE)
		return result(MG_AUTHZ_ALLOW_L7, v.allow_http, rule_id);
	return result(MG_AUTHZ_DENY_NO_RULE, NONE, rule_id);
}

enum mg_authz mg_policy_authorize_http(const struct mg_policy *p, const char *peer_id,
				       uint32_t dst_ip, uint16_t dst_port,
				       const char *image_digest,
				       const struct mg_policy_http_req *req, uint32_t *rule_id)
{
	static const struct mg_policy_http_req empty;
	struct verdict v = { req ? req : &empty, NONE, NONE, NONE, false };
	enum mg_authz r = decide(p, peer_id, dst_ip, dst_port, image_digest, &v);

	if (r != MG_AUTHZ_ALLOW)
		return result(r, NONE, rule_id);
	if (v.deny != NONE)
		return result(MG_AUTHZ_DENY_RULE, v.deny, rule_id);
	if (v.allow != NONE)
		return result(MG_AUTHZ_ALLOW, v.allow, rule_id);
	return result(MG_AUTHZ_DENY_NO_RULE, NONE, rule_id);
}

static const char *const authz_names[MG_AUTHZ__COUNT] = {
#define _(sym, str) [MG_AUTHZ_##sym] = str,
	foreach_mg_authz(_)
#undef _
};

const char *mg_authz_name(enum mg_authz a)
{
	return (unsigned)a < MG_AUTHZ__COUNT ? authz_names[a] : "unknown";
}
