/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The L7 matcher of a compiled policy (policy.h, struct mg_policy_l7), built
 * on the control thread with each worker's scratch, match stamps and
 * per-rule counters allocated before publication; policy_authz.c matches
 * with it.
 *
 * Exact paths and "/prefix/\*" are keys of one open-addressing table (CRC32-C
 * of the key -> the ascending indexes of the rules that list it; a prefix's
 * key is its bytes without the '*', so it ends in '/'): a request costs one
 * lookup of its path and one per '/' of it, as deep as the deepest prefix,
 * whatever the number of rules. Only "~re" paths, the author's regex as
 * written, go into a hyperscan block-mode database (none without a regex),
 * each pattern's id its rule's index. Both say which rules' paths match.
 */
#include "policy_arena.h"

#include <stdio.h>
#include <stdlib.h>

#include <hs/hs.h>

/* One report per pattern is enough: a rule's paths match or do not. */
#define L7_HS_FLAGS HS_FLAG_SINGLEMATCH

const char *mg_policy_regex_check(const char *re)
{
	static __thread char why[256];
	hs_expr_info_t *info = NULL;
	hs_compile_error_t *err = NULL;

	if (hs_expression_info(re, L7_HS_FLAGS, &info, &err) != HS_SUCCESS) {
		snprintf(why, sizeof(why), "hyperscan refuses the regex: %s",
			 err ? err->message : "unknown error");
		hs_free_compile_error(err);
		return why;
	}
	snprintf(why, sizeof(why), "%s",
		 info->min_width == 0 ? "the regex matches an empty path: it would match "
					"nothing a request sends (paths start with '/')"
				      : "");
	free(info); /* hyperscan's default allocator is malloc */
	return why[0] ? why : NULL;
}

/*
 * The author's regex, a final "$" made "\z": paths hold no newline, and
 * hyperscan's "$" (also before a final newline, as in PCRE) costs twice the
 * scan time of "\z" with 1 000 such patterns. An escaped "\$" stays.
 */
static void regex(const char *re, char *out)
{
	size_t k = strlen(re), bs = 0;

	if (k == 0) {
		*out = '\0';
		return;
	}
	while (bs < k - 1 && re[k - 2 - bs] == '\\')
		bs++;
	if (k > 0 && re[k - 1] == '$' && bs % 2 == 0)
		sprintf(out, "%.*s\\z", (int)(k - 1), re);
	else
		strcpy(out, re);
}

struct patterns {
	uint32_t n;
	const char **expr;
	unsigned *flags, *ids;
	char *buf; /* the regexes, "$" made "\z" */
};

static void patterns_free(struct patterns *v)
{
	free(v->expr);
	free(v->flags);
	free(v->ids);
	free(v->buf);
}

static MG_RESULT patterns_make(const struct mg_policy *p, struct patterns *v)
{
	const struct a_rule *r = CAT(p, p->rules.off, struct a_rule);
	size_t bytes = 1;
	char *b;

	for (uint32_t i = 0; i < p->rules.n; i++)
		for (uint32_t j = 0; j < r[i].paths.n; j++) {
			const struct strref *ref = &CAT(p, r[i].paths.off, struct strref)[j];

			if (sref(p, *ref)[0] == '~') {
				v->n++;
				bytes += ref->len + 2;
			}
		}
	v->expr = calloc(v->n + 1, sizeof(*v->expr));
	v->flags = calloc(v->n + 1, sizeof(*v->flags));
	v->ids = calloc(v->n + 1, sizeof(*v->ids));
	v->buf = b = malloc(bytes);
	MG_ENSURE(v->expr && v->flags && v->ids && b, NOMEM, "policy: no memory for L7 patterns");
	v->n = 0;
	for (uint32_t i = 0; i < p->rules.n; i++)
		for (uint32_t j = 0; j < r[i].paths.n; j++) {
			const char *s = sref(p, CAT(p, r[i].paths.off, struct strref)[j]);

			if (s[0] != '~')
				continue;
			regex(s + 1, b);
			v->expr[v->n] = b;
			b += strlen(b) + 1;
			v->flags[v->n] = L7_HS_FLAGS;
			v->ids[v->n++] = i;
		}
	return 0;
}

static MG_RESULT compile_db(const struct mg_policy *p, struct mg_policy_l7 *l7)
{
	struct patterns v = { 0 };
	hs_compile_error_t *err = NULL;
	int rc = -1;

	MG_GUARD_GOTO(patterns_make(p, &v), out);
	rc = 0;
	if (v.n == 0)
		goto out;
	if (hs_compile_multi(v.expr, v.flags, v.ids, v.n, HS_MODE_BLOCK, NULL, &l7->db, &err) !=
	    HS_SUCCESS) {
		int e = err ? err->expression : -1;

		rc = mg_error_set(MG_ERR_CONFIG_VALUE,
				  "policy: rule \"%s\": path \"%s\": hyperscan refuses it: %s",
				  e >= 0 ? mg_policy_rule_name(p, v.ids[e]) : "(all)",
				  e >= 0 ? v.expr[e] : "", err ? err->message : "unknown error");
		hs_free_compile_error(err);
		l7->db = NULL;
		goto out;
	}
	hs_database_size(l7->db, &l7->db_size);
out:
	patterns_free(&v);
	return rc;
}

uint32_t mg_policy_l7_test_hash_mask = 0xffffffffu;

/* One exact or prefix path of one rule, before the table. */
struct path_ent {
	const char *key;
	uint32_t len, rule, prefix;
};

static int ent_cmp(const void *a, const void *b)
{
	const struct path_ent *x = a, *y = b;
	int r;

	if (x->prefix != y->prefix)
		return x->prefix < y->prefix ? -1 : 1;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	r = memcmp(x->key, y->key, x->len);
	if (r != 0)
		return r;
	return x->rule < y->rule ? -1 : x->rule > y->rule;
}

static bool same_key(const struct path_ent *x, const struct path_ent *y)
{
	return x->prefix == y->prefix && x->len == y->len && memcmp(x->key, y->key, x->len) == 0;
}

/* Every rule's exact and prefix paths, sorted by key then rule, into @p *out. */
static MG_RESULT path_ents(const struct mg_policy *p, struct path_ent **out, uint32_t *n_out)
{
	const struct a_rule *r = CAT(p, p->rules.off, struct a_rule);
	struct path_ent *e;
	uint32_t n = 0;

	for (uint32_t i = 0; i < p->rules.n; i++)
		for (uint32_t j = 0; j < r[i].paths.n; j++)
			n += sref(p, CAT(p, r[i].paths.off, struct strref)[j])[0] != '~';
	*out = e = calloc(n + 1, sizeof(*e));
	MG_ENSURE(e != NULL, NOMEM, "policy: no memory for L7 paths");
	n = 0;
	for (uint32_t i = 0; i < p->rules.n; i++)
		for (uint32_t j = 0; j < r[i].paths.n; j++) {
			struct strref ref = CAT(p, r[i].paths.off, struct strref)[j];
			const char *s = sref(p, ref);

			if (s[0] == '~')
				continue;
			e[n].key = s;
			e[n].prefix = ref.len > 0 && s[ref.len - 1] == '*';
			e[n].len = ref.len - e[n].prefix; /* "/api/\*": key "/api/" */
			e[n++].rule = i;
		}
	qsort(e, n, sizeof(*e), ent_cmp);
	*n_out = n;
	return 0;
}

/* The free slot for hash @h (the table is at most half full). */
static struct l7_slot *slot_free(struct l7_paths *t, uint32_t h)
{
	uint32_t i = h & t->mask;

	while (t->slot[i].len != 0)
		i = (i + 1) & t->mask;
	return &t->slot[i];
}

/* Entries @e[i..j) share one key: its slot, its rules once each. */
static void key_put(struct l7_paths *t, const struct path_ent *e, uint32_t i, uint32_t j,
		    uint32_t *key_off, uint32_t *n_ids)
{
	uint32_t h = hash_key(e[i].key, e[i].len) & t->hash_mask, depth = 0;
	struct l7_slot *s = slot_free(t, h);

	memcpy(t->keys + *key_off, e[i].key, e[i].len);
	*s = (struct l7_slot){ .hash = h, .len = e[i].len, .key = *key_off, .ids = *n_ids,
			       .prefix = e[i].prefix };
	*key_off += e[i].len;
	for (uint32_t k = i; k < j; k++)
		if (k == i || e[k].rule != e[k - 1].rule)
			t->ids[(*n_ids)++] = e[k].rule;
	s->n_ids = *n_ids - s->ids;
	if (!s->prefix)
		return;
	for (uint32_t k = 0; k < e[i].len; k++)
		depth += e[i].key[k] == '/';
	if (depth > t->prefix_depth)
		t->prefix_depth = depth;
	if (e[i].len > t->prefix_len)
		t->prefix_len = e[i].len;
}

/* The table of exact and prefix paths, sized for a load of at most 1/2. */
static MG_RESULT paths_build(const struct mg_policy *p, struct l7_paths *t)
{
	struct path_ent *e = NULL;
	uint32_t n = 0, keys = 0, key_off = 0, n_ids = 0;
	uint64_t size = 8, bytes = 1;
	int rc = -1;

	t->hash_mask = mg_policy_l7_test_hash_mask;
	MG_GUARD_GOTO(path_ents(p, &e, &n), out);
	for (uint32_t i = 0; i < n; i++)
		if (i == 0 || !same_key(&e[i - 1], &e[i])) {
			keys++;
			bytes += e[i].len;
		}
	rc = 0;
	if (keys == 0)
		goto out;
	while (size < 2 * (uint64_t)keys)
		size *= 2;
	t->slot = calloc(size, sizeof(*t->slot));
	t->keys = malloc(bytes);
	t->ids = calloc(n, sizeof(*t->ids));
	MG_ENSURE_GOTO(t->slot && t->keys && t->ids && size <= UINT32_MAX, out, NOMEM,
		       "policy: no memory for the L7 path table");
	t->mask = (uint32_t)size - 1;
	for (uint32_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && same_key(&e[i], &e[j]); j++)
			;
		key_put(t, e, i, j, &key_off, &n_ids);
	}
out:
	free(e);
	return rc;
}

/* Scratch for every worker: one allocated, the others its clones. */
static MG_RESULT alloc_scratch(struct mg_policy_l7 *l7)
{
	hs_scratch_t *proto = NULL;

	if (l7->db == NULL)
		return 0;
	MG_ENSURE(hs_alloc_scratch(l7->db, &proto) == HS_SUCCESS, NOMEM,
		  "policy: no memory for hyperscan scratch");
	l7->w[0].scratch = proto;
	for (uint16_t i = 1; i < l7->n_workers; i++)
		MG_ENSURE(hs_clone_scratch(proto, &l7->w[i].scratch) == HS_SUCCESS, NOMEM,
			  "policy: no memory for hyperscan scratch (worker %u)", i);
	return 0;
}

/* Per worker: stamps then counters, each worker's block on its own cache lines. */
static MG_RESULT alloc_tables(struct mg_policy_l7 *l7)
{
	size_t stamps = ((size_t)l7->n_rules * 4 + 63) & ~(size_t)63;
	size_t per = stamps + (((size_t)l7->n_rules * 16 + 63) & ~(size_t)63);
	uint8_t *m;

	if (posix_memalign(&l7->mem, 64, per * l7->n_workers + 64) != 0)
		l7->mem = NULL;
	MG_ENSURE(l7->mem != NULL, NOMEM, "policy: no memory for L7 counters");
	memset(l7->mem, 0, per * l7->n_workers + 64);
	m = l7->mem;
	for (uint16_t i = 0; i < l7->n_workers; i++, m += per) {
		l7->w[i].seq = 1;
		l7->w[i].stamp = (uint32_t *)(void *)m;
		l7->w[i].ctr = (uint64_t *)(void *)(m + stamps);
	}
	return 0;
}

MG_RESULT mg_policy_l7_build(const struct mg_policy *p, uint16_t workers,
			     struct mg_policy_l7 **out)
{
	struct mg_policy_l7 *l7;

	*out = NULL;
	MG_ENSURE(p != NULL && workers > 0, USAGE, "policy: L7 matcher for no policy or worker");
	l7 = calloc(1, sizeof(*l7));
	MG_ENSURE(l7 != NULL, NOMEM, "policy: no memory for the L7 matcher");
	l7->n_workers = workers;
	l7->n_rules = p->rules.n;
	if (posix_memalign((void **)&l7->w, 64, sizeof(*l7->w) * workers) != 0)
		l7->w = NULL;
	if (l7->w == NULL) {
		free(l7);
		return mg_error_set(MG_ERR_NOMEM, "policy: no memory for the L7 matcher");
	}
	memset(l7->w, 0, sizeof(*l7->w) * workers);
	if (paths_build(p, &l7->paths) < 0 || compile_db(p, l7) < 0 || alloc_scratch(l7) < 0 ||
	    alloc_tables(l7) < 0) {
		mg_policy_l7_free(l7);
		return -1;
	}
	*out = l7;
	return 0;
}

void mg_policy_l7_free(struct mg_policy_l7 *l7)
{
	if (l7 == NULL)
		return;
	for (uint16_t i = 0; l7->w && i < l7->n_workers; i++)
		hs_free_scratch(l7->w[i].scratch);
	hs_free_database(l7->db);
	free(l7->paths.slot);
	free(l7->paths.keys);
	free(l7->paths.ids);
	free(l7->mem);
	free(l7->w);
	free(l7);
}

uint16_t mg_policy_l7_workers(const struct mg_policy_l7 *l7)
{
	return l7 ? l7->n_workers : 0;
}

size_t mg_policy_l7_db_size(const struct mg_policy_l7 *l7)
{
	return l7 ? l7->db_size : 0;
}

void mg_policy_l7_rule_counts(const struct mg_policy_l7 *l7, uint32_t rule,
			      uint64_t *allowed, uint64_t *denied)
{
	*allowed = *denied = 0;
	if (l7 == NULL || rule >= l7->n_rules)
		return;
	for (uint16_t i = 0; i < l7->n_workers; i++) {
		*allowed += __atomic_load_n(&l7->w[i].ctr[2 * rule], __ATOMIC_RELAXED);
		*denied += __atomic_load_n(&l7->w[i].ctr[2 * rule + 1], __ATOMIC_RELAXED);
	}
}

void mg_policy_l7_get(const struct mg_policy *p, struct mg_policy_l7_settings *out)
{
	out->close_on_deny = p->l7_close_on_deny != 0;
	out->merge_slashes = p->l7_merge_slashes != 0;
	out->h2_downgrade = p->l7_h2_downgrade != 0;
}
