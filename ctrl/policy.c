/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * policy.conf: libconfig text → validated source model (struct mg_policy_src)
 * → canonical text. Compilation into the sealed arena is policy_compile.c.
 * This file owns the entry points, the pool the model lives in and the field
 * access every section shares (on confread).
 *
 * The parser walks the libconfig tree once, checks every field against its
 * table of known names (an unknown field is an error), validates each value,
 * then sorts the lists and resolves references (policy_parse.c, with value
 * syntax in policy_validate.c and trust bundles in policy_bundle.c). Every
 * failure names its place: "NAME:LINE: FIELD: PROBLEM".
 */
#include "policy_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* policy.conf's wording (confread.h): lines past 65535, the known fields listed. */
static const struct cr_style style = {
	.list_known = true,
	.fixed_lines = true,
	.len_in_bytes = true,
	.empty_code = MG_ERR_CONFIG_VALUE,
	.problem_max = 400,
};

/* ---------------------------------------------------------------------- */
/* A bump allocator: the source model is built once and freed at once. */

struct pool_chunk {
	struct pool_chunk *next;
	size_t used, cap;
	max_align_t data[];
};

struct mg_policy_pool {
	struct pool_chunk *head;
};

#define POOL_CHUNK (64u << 10)

void *pol_alloc(struct mg_policy_pool *p, size_t n)
{
	size_t a = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	struct pool_chunk *c = p->head;

	if (c == NULL || c->cap - c->used < a) {
		size_t cap = a > POOL_CHUNK ? a : POOL_CHUNK;

		c = calloc(1, sizeof(*c) + cap);
		if (c == NULL)
			return NULL;
		c->cap = cap;
		c->next = p->head;
		p->head = c;
	}
	c->used += a;
	return (char *)c->data + c->used - a;
}

static void pool_free(struct mg_policy_pool *p)
{
	while (p != NULL && p->head != NULL) {
		struct pool_chunk *c = p->head;

		p->head = c->next;
		free(c);
	}
	free(p);
}

const char *pol_strndup(struct ctx *c, const char *s, size_t n)
{
	char *d = pol_alloc(c->pool, n + 1);

	if (d != NULL) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

void *pol_calloc(struct ctx *c, size_t n, size_t size)
{
	return pol_alloc(c->pool, n != 0 && size != 0 ? n * size : 1);
}

/* ---------------------------------------------------------------------- */
/* Generic field access: the type and presence checks every field shares. */

config_setting_t *pol_member(const config_setting_t *g, const char *key)
{
	return config_setting_get_member((config_setting_t *)g, key);
}

int pol_want_group(const struct ctx *c, const config_setting_t *s, const char *field)
{
	return cr_want(&c->rd, s, field, CONFIG_TYPE_GROUP, "a group { ... }");
}

/* A string member; *out is NULL when it is absent and optional. */
int pol_get_str(struct ctx *c, const config_setting_t *g, const char *parent,
		const char *key, bool required, size_t max, const char **out)
{
	const config_setting_t *m = pol_member(g, key);
	char f[160];
	const char *s;
	size_t len;

	*out = NULL;
	cr_path(f, sizeof(f), parent, key);
	if (m == NULL) {
		if (required)
			return fail(c, g, CONFIG_MISSING, f, "required field is missing");
		return 0;
	}
	MG_GUARD(cr_str(&c->rd, m, f, max, &s, &len));
	*out = pol_strndup(c, s, len);
	return *out == NULL ? NOMEM() : 0;
}

/* A sequence member: [ a, b ] or ( a, b ). *out NULL when absent. */
int pol_get_seq(const struct ctx *c, const config_setting_t *g, const char *parent,
		const char *key, bool required, unsigned max,
		const config_setting_t **out, unsigned *n)
{
	const config_setting_t *m = pol_member(g, key);
	char f[160];

	*out = NULL;
	*n = 0;
	cr_path(f, sizeof(f), parent, key);
	if (m == NULL) {
		if (required)
			return fail(c, g, CONFIG_MISSING, f, "required field is missing");
		return 0;
	}
	if (!config_setting_is_array(m) && !config_setting_is_list(m))
		return fail(c, m, CONFIG_TYPE, f, "expected a list [ ... ]");
	*n = (unsigned)config_setting_length(m);
	if (*n > max)
		return fail(c, m, CONFIG_RANGE, f, "has %u entries, at most %u allowed", *n, max);
	*out = m;
	return 0;
}

/* Element @i of a sequence as a string of 1..max bytes. */
int pol_elem_str(const struct ctx *c, const config_setting_t *e, const char *f, size_t max,
		 const char **out)
{
	size_t len;

	return cr_str(&c->rd, e, f, max, out, &len);
}

int pol_get_int(const struct ctx *c, const config_setting_t *g, const char *parent,
		const char *key, long long min, long long max, long long *out)
{
	const config_setting_t *m = pol_member(g, key);
	char f[160];

	cr_path(f, sizeof(f), parent, key);
	if (m == NULL)
		return fail(c, g, CONFIG_MISSING, f, "required field is missing");
	return cr_int(&c->rd, m, f, min, max, out);
}

/* libconfig would open "@include" files: a policy is self-contained. */
static int refuse_include(const struct ctx *c, const char *text, size_t len)
{
	unsigned line = 1;
	bool start = true;

	for (size_t i = 0; i < len; i++) {
		if (text[i] == '\n') {
			line++;
			start = true;
		} else if (text[i] == '@' && start) {
			return fail_at(c, line, MG_ERR_CONFIG_SYNTAX, "@include",
				       "directives are not allowed (a policy is self-contained)");
		} else if (text[i] != ' ' && text[i] != '\t' && text[i] != '\r') {
			start = false;
		}
	}
	return 0;
}

static int parse_text(struct ctx *c, const char *text, size_t len)
{
	const char *nul = memchr(text, '\0', len);
	char *copy = NULL;
	config_t cfg;
	int rc = -1;

	MG_ENSURE(len <= MG_POLICY_MAX_TEXT, IO_TOO_BIG, "%s: %zu bytes, at most %u allowed",
		  c->name, len, MG_POLICY_MAX_TEXT);
	MG_ENSURE(nul == NULL, CONFIG_SYNTAX, "%s: has a NUL byte at offset %zu", c->name,
		  (size_t)(nul - text));
	MG_GUARD(refuse_include(c, text, len));
	copy = malloc(len + 1);
	MG_ENSURE(copy != NULL, NOMEM, "policy: out of memory");
	memcpy(copy, text, len);
	copy[len] = '\0';
	config_init(&cfg);
	if (config_read_string(&cfg, copy) != CONFIG_TRUE) {
		rc = mg_error_set(MG_ERR_CONFIG_SYNTAX, "%s:%d: %s", c->name,
				  config_error_line(&cfg), config_error_text(&cfg));
		goto out;
	}
	cr_fix_lines(config_root_setting(&cfg));
	rc = pol_parse_root(c, config_root_setting(&cfg));
out:
	config_destroy(&cfg);
	free(copy);
	return rc;
}

MG_RESULT mg_policy_parse(const char *text, size_t len, const char *name,
			  const char *base_dir, struct mg_policy_src **out)
{
	struct ctx c = { .name = name ? name : "policy", .base_dir = base_dir };
	int rc = -1;

	*out = NULL;
	c.rd = (struct cr_reader){ .file = c.name, .style = &style, .owner = &c };
	c.pool = calloc(1, sizeof(*c.pool));
	MG_ENSURE(c.pool != NULL, NOMEM, "policy: out of memory");
	c.src = pol_alloc(c.pool, sizeof(*c.src));
	MG_ENSURE_GOTO(c.src != NULL, out, NOMEM, "policy: out of memory");
	c.src->pool = c.pool;
	MG_GUARD_GOTO(rc = parse_text(&c, text, len), out);
	*out = c.src;
out:
	free(c.addrs);
	if (rc < 0)
		pool_free(c.pool);
	return rc;
}

MG_RESULT mg_policy_parse_file(const char *path, struct mg_policy_src **out)
{
	char dir[PATH_MAX], *text = NULL, *slash;
	struct stat st;
	size_t len = 0;
	ssize_t r = 0;
	int fd, rc = -1;

	*out = NULL;
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else
		*(slash == dir ? slash + 1 : slash) = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	MG_ENSURE(fd >= 0, IO, "%s: %s", path, strerror(errno));
	MG_ENSURE_GOTO(fstat(fd, &st) == 0 && S_ISREG(st.st_mode), out, IO,
		       "%s: not a regular file", path);
	MG_ENSURE_GOTO(st.st_size <= MG_POLICY_MAX_TEXT, out, IO_TOO_BIG,
		       "%s: larger than %u bytes", path, MG_POLICY_MAX_TEXT);
	text = malloc((size_t)st.st_size + 1);
	MG_ENSURE_GOTO(text != NULL, out, NOMEM, "policy: out of memory");
	while (len < (size_t)st.st_size &&
	       (r = read(fd, text + len, (size_t)st.st_size - len)) > 0)
		len += (size_t)r;
	MG_ENSURE_GOTO(r >= 0, out, IO, "%s: %s", path, strerror(errno));
	rc = mg_policy_parse(text, len, path, dir, out);
out:
	free(text);
	close(fd);
	return rc;
}

void mg_policy_src_free(struct mg_policy_src *src)
{
	if (src != NULL)
		pool_free(src->pool);
}

const char *mg_policy_action_name(enum mg_policy_action a)
{
	return a == MG_POLICY_DENY ? "deny" : "allow";
}
