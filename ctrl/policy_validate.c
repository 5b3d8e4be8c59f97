/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * policy.conf: the syntax of values (names, IPv4, image digests, HTTP methods,
 * paths, hosts), duplicate detection and sorting, and the scalar lists
 * (strings, ports) that refuse a value listed twice.
 */
#include "policy_priv.h"

#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------- */
/* Value syntax. Each returns NULL or the problem. */

const char *pol_check_name(const char *s)
{
	size_t n = strlen(s);

	if (n > MG_POLICY_NAME_MAX)
		return "is longer than 63 bytes";
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
		return "must start with [a-z0-9]";
	for (size_t i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return "may only hold [a-z0-9._-]";
	return NULL;
}

/* Strict dotted quad: four decimal octets, no leading zeros, no extras. */
bool pol_parse_ipv4(const char *s, uint32_t *out)
{
	uint32_t v = 0;

	for (int part = 0; part < 4; part++) {
		unsigned oct = 0, digits = 0;

		while (*s >= '0' && *s <= '9') {
			if (digits == 1 && oct == 0)
				return false;
			oct = oct * 10 + (unsigned)(*s++ - '0');
			if (++digits > 3 || oct > 255)
				return false;
		}
		if (digits == 0 || *s != (part == 3 ? '\0' : '.'))
			return false;
		s++;
		v = v << 8 | oct;
	}
	*out = v;
	return true;
}

const char *pol_check_unicast(uint32_t a)
{
	if ((a >> 24) == 0)
		return "is in 0.0.0.0/8 (this network), not a workload address";
	if ((a >> 24) == 127)
		return "is a loopback address";
	if ((a >> 28) == 0xe)
		return "is a multicast address";
	if ((a >> 28) == 0xf)
		return "is reserved or broadcast";
	return NULL;
}

void pol_format_ipv4(uint32_t a, char *buf, size_t n)
{
	snprintf(buf, n, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* "sha256:" + 64 lower-case hex digits. */
bool pol_parse_image(const char *s, uint8_t out[MG_POLICY_DIGEST_LEN])
{
	if (strncmp(s, "sha256:", 7) != 0 || strlen(s) != 7 + 2 * MG_POLICY_DIGEST_LEN)
		return false;
	s += 7;
	for (int i = 0; i < MG_POLICY_DIGEST_LEN; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

const char *pol_check_method(const char *s)
{
	if (strlen(s) > MG_POLICY_METHOD_MAX)
		return "is longer than 20 bytes";
	for (; *s; s++)
		if (*s < 'A' || *s > 'Z')
			return "must be an upper-case method token [A-Z]+ (\"GET\")";
	return NULL;
}

/* Absolute path; RFC 3986 path bytes; '*' only as the last byte after '/'. */
const char *pol_check_http_path(const char *s)
{
	static const char ok[] = "-._~!$&'()+,;=:@/%";
	size_t n = strlen(s);

	if (s[0] == '~') { /* a regex: hyperscan judges it (parse_http), bytes first */
		if (s[1] == '\0')
			return "is an empty regex";
		for (size_t i = 1; i < n; i++)
			if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
				return "has a regex with a control or non-ASCII byte";
		return NULL;
	}
	if (s[0] != '/')
		return "must start with '/' (or '~' for a regex)";
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (ch == '*') {
			if (i != n - 1 || s[i - 1] != '/')
				return "'*' is only allowed as the last segment (\"/api/*\")";
			continue;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || (ch != '\0' && strchr(ok, ch))))
			return "has a byte that is not allowed in a path (no query or fragment)";
	}
	return NULL;
}

/* Lower-case DNS name, optionally "*." + name; labels 1..63 of [a-z0-9-]. */
const char *pol_check_host(const char *s)
{
	size_t label = 0;

	if (strncmp(s, "*.", 2) == 0)
		s += 2;
	if (*s == '\0')
		return "names no host";
	for (; *s; s++) {
		if (*s == '.') {
			if (label == 0)
				return "has an empty label";
			label = 0;
			continue;
		}
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
			return "must be a lower-case host name, no port (\"web.example.org\", "
			       "\"*.example.org\")";
		if (++label > 63)
			return "has a label longer than 63 bytes";
	}
	return label == 0 ? "ends with a dot" : NULL;
}

/* ---------------------------------------------------------------------- */
/* Sorting and duplicate detection. */

static int keyrec_cmp(const void *x, const void *y)
{
	const struct keyrec *p = x, *q = y;
	int r = (p->s && q->s) ? strcmp(p->s, q->s) : 0;

	if (r == 0 && p->u != q->u)
		r = p->u < q->u ? -1 : 1;
	if (r == 0 && p->line != q->line)
		r = p->line < q->line ? -1 : 1;
	return r;
}

/* Sort @recs; return the index of the first later duplicate, or -1. */
long pol_find_dup(struct keyrec *recs, size_t n)
{
	if (n < 2)
		return -1;
	qsort(recs, n, sizeof(*recs), keyrec_cmp);
	for (size_t i = 1; i < n; i++)
		if (((recs[i].s && strcmp(recs[i].s, recs[i - 1].s) == 0) || !recs[i].s) &&
		    recs[i].u == recs[i - 1].u)
			return (long)i;
	return -1;
}

/* A name declared twice in @p list ("rules"): fail at the later one, naming the first. */
int pol_name_dups(const struct ctx *c, struct keyrec *recs, unsigned n, const char *list,
		  const char *kind)
{
	long d = pol_find_dup(recs, n);
	char f[64];

	if (d < 0)
		return 0;
	snprintf(f, sizeof(f), "%s[%u].name", list, recs[d].a);
	return fail_at(c, recs[d].line, MG_ERR_CONFIG_VALUE, f,
		       "%s \"%s\" is declared twice (also at line %u)", kind, recs[d].s,
		       recs[d - 1].line);
}

/* Remember an address and its place; duplicates are found once all are in. */
int pol_add_addr(struct ctx *c, uint32_t addr, unsigned line, uint32_t a, uint32_t b)
{
	if (c->n_addrs == c->cap_addrs) {
		size_t cap = c->cap_addrs ? 2 * c->cap_addrs : 1024;
		struct keyrec *n = realloc(c->addrs, cap * sizeof(*n));

		if (n == NULL)
			return NOMEM();
		c->addrs = n;
		c->cap_addrs = cap;
	}
	c->addrs[c->n_addrs++] = (struct keyrec){ .u = addr, .line = line, .a = a, .b = b };
	return 0;
}

int pol_str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int pol_u16_cmp(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

int pol_u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int pol_digest_cmp(const void *a, const void *b)
{
	return memcmp(a, b, MG_POLICY_DIGEST_LEN);
}

/* ---------------------------------------------------------------------- */
/* Scalar lists with per-element checks and in-list duplicate refusal. */

/* A list of strings, each checked by @check (may be NULL), sorted unless @keep_order. */
int pol_get_strv(struct ctx *c, const config_setting_t *g, const char *parent,
		 const char *key, bool required, unsigned max, size_t maxlen,
		 const char *(*check)(const char *), bool keep_order,
		 struct mg_policy_strv *out)
{
	const config_setting_t *seq;
	struct keyrec *recs;
	char f[160], ef[176];
	unsigned n;
	long d;
	int rc = 0;

	MG_GUARD(pol_get_seq(c, g, parent, key, required, max, &seq, &n));
	out->n = 0;
	if (seq == NULL)
		return 0;
	cr_path(f, sizeof(f), parent, key);
	out->v = pol_calloc(c, n, sizeof(*out->v));
	recs = calloc(n ? n : 1, sizeof(*recs));
	if (out->v == NULL || recs == NULL) {
		free(recs);
		return NOMEM();
	}
	for (unsigned i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(seq, i);
		const char *s, *problem;

		cr_elem(ef, sizeof(ef), f, i);
		MG_GUARD_GOTO(rc = pol_elem_str(c, e, ef, maxlen, &s), out);
		problem = check ? check(s) : NULL;
		MG_ENSURE_GOTO(problem == NULL, out, CONFIG_VALUE, "%s:%u: %s: \"%s\" %s",
			       c->name, cr_line(&c->rd, e), ef, s, problem);
		out->v[i] = pol_strndup(c, s, strlen(s));
		MG_ENSURE_GOTO(out->v[i] != NULL, out, NOMEM, "policy: out of memory");
		recs[i] = (struct keyrec){ .s = out->v[i], .line = cr_line(&c->rd, e), .a = i };
	}
	d = pol_find_dup(recs, n);
	if (d >= 0) {
		cr_elem(ef, sizeof(ef), f, recs[d].a);
		rc = fail_at(c, recs[d].line, MG_ERR_CONFIG_VALUE, ef,
			     "\"%s\" is listed twice (also at line %u)", recs[d].s,
			     recs[d - 1].line);
		goto out;
	}
	out->n = n;
	if (!keep_order)
		qsort(out->v, n, sizeof(*out->v), pol_str_cmp);
out:
	free(recs);
	return rc;
}

/* A list of ports 1..65535, no duplicates, sorted. */
int pol_get_ports(struct ctx *c, const config_setting_t *g, const char *parent,
		  const char *key, uint32_t *n_out, uint16_t **out, bool *present)
{
	const config_setting_t *seq;
	char f[160], ef[176];
	unsigned n;

	MG_GUARD(pol_get_seq(c, g, parent, key, false, MG_POLICY_MAX_PORTS, &seq, &n));
	*present = seq != NULL;
	*n_out = 0;
	*out = pol_calloc(c, n, sizeof(**out));
	if (*out == NULL)
		return NOMEM();
	cr_path(f, sizeof(f), parent, key);
	for (unsigned i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(seq, i);
		long long v = 0;

		cr_elem(ef, sizeof(ef), f, i);
		MG_GUARD(cr_int(&c->rd, e, ef, 1, 65535, &v));
		for (unsigned j = 0; j < i; j++)
			if ((*out)[j] == v)
				return fail(c, e, CONFIG_VALUE, ef, "port %lld is listed twice", v);
		(*out)[i] = (uint16_t)v;
	}
	qsort(*out, n, sizeof(**out), pol_u16_cmp);
	*n_out = n;
	return 0;
}
