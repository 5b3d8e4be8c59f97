/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The L7 matcher of a compiled policy (policy.h, struct mg_policy_l7): the
 * path terms of every rule in one hyperscan block-mode database, built on the
 * control thread, with each worker's scratch, match stamps and per-rule
 * counters allocated before publication. policy_authz.c scans with it.
 *
 * Exact paths and "/prefix/\*" become anchored literals (every byte but
 * [A-Za-z0-9] escaped as \xHH, "\z" for the end: "$" would also match before
 * a final newline), "~re" is the author's regex as written; every pattern's
 * id is its rule's index, so one scan says which rules' paths match.
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

/* "^<literal>" (prefix) or "^<literal>\z" (exact) into @p out (4 bytes per byte + 4). */
static void literal(const char *path, char *out)
{
	size_t k = strlen(path);
	bool prefix = k > 0 && path[k - 1] == '*';
	char *o = out;

	*o++ = '^';
	for (size_t i = 0; i < k - prefix; i++) {
		unsigned char ch = (unsigned char)path[i];

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
			*o++ = (char)ch;
		else
			o += sprintf(o, "\\x%02x", ch);
	}
	strcpy(o, prefix ? "" : "\\z");
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
	char *buf; /* the literals' regexes */
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
			v->n++;
			bytes += 4 * CAT(p, r[i].paths.off, struct strref)[j].len + 4;
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

			if (s[0] == '~') {
				regex(s + 1, b);
				v->expr[v->n] = b;
				b += strlen(b) + 1;
			} else {
				literal(s, b);
				v->expr[v->n] = b;
				b += strlen(b) + 1;
			}
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
	if (compile_db(p, l7) < 0 || alloc_scratch(l7) < 0 || alloc_tables(l7) < 0) {
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
