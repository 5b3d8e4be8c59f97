/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The compiled policy: one arena per snapshot, built by the control thread,
 * sealed (hashed; its pointer is a read-only view from the start, see
 * policy_pool.c), read by workers without locks. This file builds, seals and
 * checks it; policy_authz.c answers questions from it.
 *
 * Why not rte_hash/rte_acl: they allocate from DPDK's heap, which cannot be
 * made read-only per snapshot. Everything a decision needs lives here
 * instead, in one mapped range, addressed by 32-bit offsets from its start
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
#include "policy_arena.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "spiffe.h"

/* ---------------------------------------------------------------------- */
/* The builder: a growing heap buffer addressed by offsets, copied into the
 * arena at the end. Pointers into it are taken only after the last
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
	h->l7_close_on_deny = src->l7.close_on_deny;
	h->l7_merge_slashes = src->l7.merge_slashes;
	h->l7_h2_downgrade = src->l7.h2_downgrade;
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
	uint32_t paths;    /* the rule has path terms: its grants sort last (a_grant) */
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
	if (a->paths != b->paths)
		return a->paths < b->paths ? -1 : 1;
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
					   NONE, i, 0 };
	for (uint32_t i = 0; i < src->n_rules; i++)
		for (uint32_t j = 0; j < src->rules[i].from.n; j++) {
			const char *pat = src->rules[i].from.v[j];
			/* Pattern "<id>/\*" has key "<id>/"; the parser checked it. */
			size_t len = strlen(pat);

			if (mg_spiffe_parse_pattern(pat, scratch) == 0 && scratch->prefix)
				len--;
			v[k++] = (struct sel_src){ pat + MG_SPIFFE_SCHEME_LEN,
						   (uint32_t)(len - MG_SPIFFE_SCHEME_LEN),
						   i, src->rules[i].to_idx,
						   src->rules[i].paths.n > 0 };
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
					(uint8_t)r->action, r->has_http, r->paths.n > 0 };
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

/* Write the built image into an arena of the pool. */
static int map_arena(struct builder *b, struct mg_policy **out)
{
	B(b, 0, struct mg_policy)->used = (uint32_t)b->len;
	return mg_policy_pool_get(b->buf, b->len, out);
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

/* The header rewritten through the pool: the policy itself is read-only. */
static int put_header(const struct mg_policy *p, const struct mg_policy *h)
{
	return mg_policy_pool_write(p, 0, h, sizeof(*h));
}

MG_RESULT mg_policy_set_meta(struct mg_policy *p, uint64_t version,
			     const uint8_t digest[MG_POLICY_DIGEST_LEN], uint64_t generation)
{
	struct mg_policy h = *p;

	MG_ENSURE(!p->sealed, USAGE, "policy: the arena is sealed; its facts are fixed");
	h.version = version;
	h.generation = generation;
	memcpy(h.digest, digest, MG_POLICY_DIGEST_LEN);
	return put_header(p, &h);
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

/*
 * No mprotect(): the policy pointer has been a read-only mapping since the
 * arena was mapped, so sealing is the hash alone and no worker's TLB is
 * flushed. Nothing writes the arena again until mg_policy_free().
 */
MG_RESULT mg_policy_seal(struct mg_policy *p)
{
	struct mg_policy h = *p;
	uint8_t sum[32];

	MG_ENSURE(p->magic == POLICY_MAGIC, USAGE, "policy: not a compiled policy");
	MG_ENSURE(!p->sealed, USAGE, "policy: already sealed");
	h.sealed = 1; /* hashed as sealed: a check recomputes it so */
	MG_GUARD(put_header(p, &h));
	if (arena_hash(p, sum) < 0) {
		h.sealed = 0;
		(void)put_header(p, &h);
		return -1;
	}
	memcpy(h.arena_sha256, sum, sizeof(sum));
	return put_header(p, &h);
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
		mg_policy_pool_put(p);
}
