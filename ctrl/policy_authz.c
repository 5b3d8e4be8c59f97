/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The compiled policy, read side: facts for telemetry and the TLS layer, and
 * the per-connection and per-request decisions (mg_policy_authorize*()) that
 * workers make from the sealed arena without allocation, lock or syscall.
 */
#include "policy_arena.h"

#include <string.h>
#include <strings.h>

#include <hs/hs.h>

#include "spiffe.h"

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

bool mg_policy_rule_has_http(const struct mg_policy *p, uint32_t id)
{
	return id < p->rules.n && CAT(p, p->rules.off, struct a_rule)[id].has_http;
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
	/* per request: the matcher, the asking worker's part, the path to scan */
	const struct mg_policy_l7 *l7;
	struct l7_worker *w;
	const char *path;
	size_t path_len;
	bool scanned, scan_failed;
};

/* Bytes of @h (@n long) before ":port" and a final '.' ("web.example.org." is the same). */
static size_t host_len(const char *h, size_t n)
{
	const char *colon = memchr(h, ':', n);

	if (colon != NULL)
		n = (size_t)(colon - h);
	return n > 0 && h[n - 1] == '.' ? n - 1 : n;
}

static bool host_match(const char *pat, const char *h, size_t n)
{
	size_t k = strlen(pat);

	if (pat[0] == '*') /* "*.example.org": any name strictly below */
		return n > k - 1 && strncasecmp(h + n - (k - 1), pat + 1, k - 1) == 0;
	return n == k && strncasecmp(h, pat, n) == 0;
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

/* Methods and hosts; the paths were matched by the scan (or the rule has none). */
static bool http_match(const struct mg_policy *p, const struct a_rule *r,
		       const struct mg_policy_http_req *q)
{
	return list_match(p, r->methods, q->method, q->method_len, method_match) &&
	       list_match(p, r->hosts, q->host, q->host ? host_len(q->host, q->host_len) : 0,
			  host_match);
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

/* Rule @id's paths match this request: listed the first time only. */
static void hit(struct l7_worker *w, uint32_t id)
{
	if (w->stamp[id] == w->seq)
		return;
	w->stamp[id] = w->seq;
	if (w->n_hits < L7_MAX_HITS)
		w->hits[w->n_hits++] = id;
	else
		w->overflow = true;
}

/* hyperscan's report for a regex path. */
static int on_match(unsigned id, unsigned long long from, unsigned long long to,
		    unsigned flags, void *ctx)
{
	(void)from, (void)to, (void)flags;
	hit(ctx, id);
	return 0;
}

/* The rules of the key @k (@len bytes, hash @h carried from HASH_SEED) of kind @prefix. */
static void path_hits(const struct l7_paths *t, struct l7_worker *w, uint32_t h, const char *k,
		      uint32_t len, uint32_t prefix)
{
	h &= t->hash_mask;
	for (uint32_t i = h & t->mask; t->slot[i].len != 0; i = (i + 1) & t->mask) {
		const struct l7_slot *s = &t->slot[i];

		if (s->hash != h || s->len != len || s->prefix != prefix ||
		    memcmp(t->keys + s->key, k, len) != 0)
			continue;
		for (uint32_t j = 0; j < s->n_ids; j++)
			hit(w, t->ids[s->ids + j]);
		return;
	}
}

/*
 * Exact and prefix paths: a prefix key ends in '/', so only the path's bytes
 * up to each '/' can be one; one lookup per '/', no deeper and no longer
 * than the deepest and longest prefix key, then one for the whole path. The
 * hash is carried on from boundary to boundary: each byte is hashed once.
 */
static void match_paths(const struct l7_paths *t, struct l7_worker *w, const char *path,
			uint32_t len)
{
	uint32_t h = HASH_SEED, done = 0, depth = 0;

	if (t->slot == NULL)
		return;
	for (uint32_t i = 0; i < len && i < t->prefix_len && depth < t->prefix_depth; i++) {
		if (path[i] != '/')
			continue;
		h = hash_more(h, path + done, i + 1 - done);
		done = i + 1;
		depth++;
		path_hits(t, w, h, path, done, 1);
	}
	path_hits(t, w, hash_more(h, path + done, len - done), path, len, 0);
}

/* The request's one match, done when the first grant with path terms needs it. */
static bool scan(struct verdict *v)
{
	struct l7_worker *w = v->w;

	if (v->scanned)
		return !v->scan_failed;
	v->scanned = true;
	w->n_hits = 0;
	w->overflow = false;
	if (++w->seq == 0) { /* every 2^32 requests: no stale stamp may look fresh */
		memset(w->stamp, 0, (size_t)v->l7->n_rules * sizeof(*w->stamp));
		w->seq = 1;
	}
	match_paths(&v->l7->paths, w, v->path, (uint32_t)v->path_len);
	v->scan_failed = v->l7->db != NULL &&
			 hs_scan(v->l7->db, v->path, (unsigned)v->path_len, 0, w->scratch,
				 on_match, w) != HS_SUCCESS;
	return !v->scan_failed;
}

/* Index of @rule among grants @g[0..n) (sorted by rule), or n. */
static uint32_t grant_find(const struct a_grant *g, uint32_t n, uint32_t rule)
{
	uint32_t lo = 0, hi = n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (g[mid].rule < rule)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && g[lo].rule == rule ? lo : n;
}

/*
 * Grants @g[0..n) with path terms, for one request: those whose rule the
 * scan reported, found by binary search (or, past L7_MAX_HITS reports, by
 * walking them all and reading the stamps).
 */
static void visit_paths(const struct mg_policy *p, const struct a_grant *g, uint32_t n,
			uint64_t bit, struct verdict *v)
{
	const struct l7_worker *w = v->w;

	if (!scan(v))
		return;
	if (w->overflow) {
		for (uint32_t i = 0; i < n; i++)
			if ((g[i].port_mask & bit) && w->stamp[g[i].rule] == w->seq)
				apply(p, &g[i], v);
		return;
	}
	for (uint32_t h = 0; h < w->n_hits; h++) {
		uint32_t i = grant_find(g, n, w->hits[h]);

		if (i < n && (g[i].port_mask & bit))
			apply(p, &g[i], v);
	}
}

/* The grants of selector @s for workload @w whose ports include bit @bit. */
static void visit(const struct mg_policy *p, const struct a_sel *s, uint32_t w, uint64_t bit,
		  struct verdict *v)
{
	const struct a_grant *g = CAT(p, s->grants.off, struct a_grant);
	uint32_t lo = 0, hi = s->grants.n, end;

	while (lo < hi) { /* first grant for workload w */
		uint32_t mid = lo + (hi - lo) / 2;

		if (g[mid].workload < w)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (end = lo; end < s->grants.n && g[end].workload == w && !g[end].has_paths; end++)
		if (g[end].port_mask & bit)
			apply(p, &g[end], v);
	if (v->req == NULL) { /* a connection: path terms do not matter yet */
		for (; end < s->grants.n && g[end].workload == w; end++)
			if (g[end].port_mask & bit)
				apply(p, &g[end], v);
		return;
	}
	lo = end; /* the grants with path terms, sorted by rule: find their end */
	hi = s->grants.n;
	while (end < hi) {
		uint32_t mid = end + (hi - end) / 2;

		if (g[mid].workload == w)
			end = mid + 1;
		else
			hi = mid;
	}
	if (end > lo)
		visit_paths(p, g + lo, end - lo, bit, v);
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
	struct verdict v = { .deny = NONE, .allow = NONE, .allow_http = NONE };
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

/* One more request for @rule in worker @w's counters: only this worker writes them. */
static void count(struct l7_worker *w, uint32_t rule, bool denied)
{
	uint64_t *c = &w->ctr[2 * (size_t)rule + denied];

	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
}

enum mg_authz mg_policy_authorize_http(const struct mg_policy *p, struct mg_policy_l7 *l7,
				       uint16_t worker, const char *peer_id,
				       uint32_t dst_ip, uint16_t dst_port,
				       const char *image_digest,
				       const struct mg_policy_http_req *req, uint32_t *rule_id)
{
	static const struct mg_policy_http_req empty;
	struct verdict v = { .req = req ? req : &empty, .deny = NONE, .allow = NONE,
			     .allow_http = NONE, .l7 = l7, .path = "" };
	enum mg_authz r;

	if (l7 == NULL || worker >= l7->n_workers || l7->n_rules != p->rules.n)
		return result(MG_AUTHZ_DENY_ALL_POLICY, NONE, rule_id);
	v.w = &l7->w[worker];
	if (v.req->path != NULL) { /* matching stops at the query or fragment */
		const char *q = memchr(v.req->path, '?', v.req->path_len);
		const char *h = memchr(v.req->path, '#', q ? (size_t)(q - v.req->path)
							  : v.req->path_len);

		v.path = v.req->path;
		v.path_len = h ? (size_t)(h - v.path) : q ? (size_t)(q - v.path) : v.req->path_len;
	}
	r = decide(p, peer_id, dst_ip, dst_port, image_digest, &v);
	if (r != MG_AUTHZ_ALLOW)
		return result(r, NONE, rule_id);
	if (v.scan_failed) /* a deny rule might have matched: nothing is allowed */
		return result(MG_AUTHZ_DENY_ALL_POLICY, NONE, rule_id);
	if (v.deny != NONE) {
		count(v.w, v.deny, true);
		return result(MG_AUTHZ_DENY_RULE, v.deny, rule_id);
	}
	if (v.allow != NONE) {
		count(v.w, v.allow, false);
		return result(MG_AUTHZ_ALLOW, v.allow, rule_id);
	}
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
