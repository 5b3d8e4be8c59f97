/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * confread: messages, field paths, scalar readers and the table walk shared by
 * the gateway.conf and policy.conf parsers. See confread.h for why each parser
 * brings its own struct cr_style.
 */
#include "confread.h"

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define KNOWN_TEXT 200 /* "(known here: ...)" list, cut beyond this */
#define PROBLEM_TEXT 512

/* ---- lines and messages ------------------------------------------------- */

/*
 * libconfig 1.5 keeps a setting's line in an unsigned short. Every setting's
 * true line is rebuilt once, walking the tree in document order (a setting's
 * line is where it starts, so children follow their parent and siblings
 * follow each other) and assuming two consecutive settings are less than
 * 65536 lines apart; it is kept in the setting's hook.
 */
static void fix_lines(config_setting_t *s, unsigned *prev)
{
	uint16_t delta = (uint16_t)(config_setting_source_line(s) - *prev);
	int n = config_setting_is_aggregate(s) ? config_setting_length(s) : 0;

	*prev += delta;
	config_setting_set_hook(s, (void *)(uintptr_t)(*prev ? *prev : 1));
	for (int i = 0; i < n; i++)
		fix_lines(config_setting_get_elem(s, (unsigned)i), prev);
}

void cr_fix_lines(config_setting_t *root)
{
	unsigned prev = 0;

	fix_lines(root, &prev);
}

unsigned cr_line(const struct cr_reader *r, const config_setting_t *s)
{
	unsigned line;

	if (r->style->fixed_lines)
		return (unsigned)(uintptr_t)s->hook;
	line = config_setting_source_line(s);
	return line ? line : 1;
}

int cr_vfail_line(const struct cr_reader *r, unsigned line, const char *field,
		  enum mg_err code, const char *fmt, va_list ap)
{
	char problem[PROBLEM_TEXT];
	size_t n = r->style->problem_max;

	vsnprintf(problem, n && n < sizeof(problem) ? n : sizeof(problem), fmt, ap);
	return mg_error_set(code, "%s:%u: %s: %s", r->file, line, field, problem);
}

int cr_fail_line(const struct cr_reader *r, unsigned line, const char *field,
		 enum mg_err code, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = cr_vfail_line(r, line, field, code, fmt, ap);
	va_end(ap);
	return rc;
}

int cr_fail(const struct cr_reader *r, const config_setting_t *s, const char *field,
	    enum mg_err code, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = cr_vfail_line(r, cr_line(r, s), field, code, fmt, ap);
	va_end(ap);
	return rc;
}

const char *cr_path(char *dst, size_t n, const char *parent, const char *name)
{
	snprintf(dst, n, "%s%s%s", parent, *parent ? "." : "", name);
	return dst;
}

/* An unknown field's name can be long; where the style says so, cut it visibly. */
const char *cr_join(const struct cr_reader *r, char *dst, size_t n, const char *parent,
		    const char *name)
{
	size_t full = strlen(parent) + (*parent ? 1 : 0) + strlen(name);

	cr_path(dst, n, parent, name);
	if (full >= n && r->style->mark_cut && n >= 4)
		memcpy(dst + n - 4, "...", 4);
	return dst;
}

const char *cr_elem(char *dst, size_t n, const char *parent, unsigned i)
{
	snprintf(dst, n, "%s[%u]", parent, i);
	return dst;
}

/* ---- types and scalars ------------------------------------------------- */

const char *cr_type_name(const config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_GROUP: return "a group { }";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64: return "an integer";
	case CONFIG_TYPE_FLOAT: return "a float";
	case CONFIG_TYPE_STRING: return "a string";
	case CONFIG_TYPE_BOOL: return "a boolean";
	case CONFIG_TYPE_ARRAY: return "an array [ ]";
	case CONFIG_TYPE_LIST: return "a list ( )";
	default: return "nothing";
	}
}

static int wrong_type(const struct cr_reader *r, const config_setting_t *s,
		      const char *path, const char *what)
{
	if (r->style->say_found)
		return cr_fail(r, s, path, MG_ERR_CONFIG_TYPE, "expected %s, found %s", what,
			       cr_type_name(s));
	return cr_fail(r, s, path, MG_ERR_CONFIG_TYPE, "expected %s", what);
}

MG_RESULT cr_want(const struct cr_reader *r, const config_setting_t *s, const char *path,
		  int type, const char *what)
{
	return config_setting_type(s) == type ? 0 : wrong_type(r, s, path, what);
}

/*
 * libconfig 1.5 reads a plain hex literal with strtoul into an int, so
 * 0x1000005DC silently becomes 1500; gateway.conf refuses hex rather than
 * trust its value, and a literal beyond 64 bits, which libconfig saturates.
 */
static MG_RESULT strict_int(const struct cr_reader *r, const config_setting_t *s,
			    const char *path, long long min, long long max, long long v)
{
	if (config_setting_get_format(s) == CONFIG_FORMAT_HEX)
		return cr_fail(r, s, path, MG_ERR_CONFIG_VALUE,
			       "hexadecimal integers are not accepted; write it in decimal");
	if (v == LLONG_MAX || v == LLONG_MIN) /* do not print the clamp */
		return cr_fail(r, s, path, MG_ERR_CONFIG_RANGE,
			       "does not fit in 64 bits; expected %lld..%lld", min, max);
	return 0;
}

MG_RESULT cr_int(const struct cr_reader *r, const config_setting_t *s, const char *path,
		 long long min, long long max, long long *v)
{
	int t = config_setting_type(s);

	if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
		return wrong_type(r, s, path, "an integer");
	*v = config_setting_get_int64(s);
	if (r->style->refuse_hex)
		MG_GUARD(strict_int(r, s, path, min, max, *v));
	if (*v < min || *v > max)
		return cr_fail(r, s, path, MG_ERR_CONFIG_RANGE, "%lld is outside %lld..%lld", *v,
			       min, max);
	return 0;
}

MG_RESULT cr_str(const struct cr_reader *r, const config_setting_t *s, const char *path,
		 size_t max, const char **v, size_t *n)
{
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return wrong_type(r, s, path, "a string");
	*v = config_setting_get_string(s);
	*n = strlen(*v);
	if (*n == 0)
		return cr_fail(r, s, path, r->style->empty_code, "must not be empty");
	if (*n > max && r->style->len_in_bytes)
		return cr_fail(r, s, path, MG_ERR_CONFIG_RANGE,
			       "is %zu bytes long, at most %zu allowed", *n, max);
	if (*n > max)
		return cr_fail(r, s, path, MG_ERR_CONFIG_RANGE,
			       "%zu characters, longer than the limit of %zu", *n, max);
	return 0;
}

/* ---- the table --------------------------------------------------------- */

int cr_missing(const struct cr_reader *r, const config_setting_t *g, const char *path)
{
	return cr_fail(r, g, path, MG_ERR_CONFIG_MISSING, "required field is missing");
}

const struct cr_field *cr_find(const struct cr_field *table, const char *name)
{
	for (; table->name; table++)
		if (strcmp(table->name, name) == 0)
			return table;
	return NULL;
}

static int unknown(const struct cr_reader *r, const config_setting_t *m, const char *path,
		   const struct cr_field *table)
{
	char list[KNOWN_TEXT];
	size_t used = 0;

	if (!r->style->list_known)
		return cr_fail(r, m, path, MG_ERR_CONFIG_UNKNOWN_FIELD, "unknown field");
	list[0] = '\0';
	for (size_t k = 0; table[k].name && used < sizeof(list); k++)
		used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", k ? ", " : "",
					 table[k].name);
	return cr_fail(r, m, path, MG_ERR_CONFIG_UNKNOWN_FIELD, "unknown field (known here: %s)",
		       list);
}

MG_RESULT cr_known(const struct cr_reader *r, const config_setting_t *g, const char *path,
		   const struct cr_field *table)
{
	char f[160];

	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *m = config_setting_get_elem(g, (unsigned)i);

		if (!cr_find(table, config_setting_name(m)))
			return unknown(r, m, cr_join(r, f, sizeof(f), path, config_setting_name(m)),
				       table);
	}
	return 0;
}

MG_RESULT cr_walk(struct cr_reader *r, const config_setting_t *g, const char *path,
		  const struct cr_field *table)
{
	char child[CR_PATH_MAX];

	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const struct cr_field *f = cr_find(table, config_setting_name(s));

		cr_join(r, child, sizeof(child), path, config_setting_name(s));
		if (!f)
			return unknown(r, s, child, table);
		MG_GUARD(f->read(r, f, s, child));
	}
	for (; table->name; table++) {
		cr_join(r, child, sizeof(child), path, table->name);
		if (table->required && !config_setting_get_member(g, table->name))
			return cr_missing(r, g, child);
	}
	return 0;
}
