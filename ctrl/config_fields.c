/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * gateway.conf: the value readers every section uses (strings, paths,
 * integers into struct slots, booleans, probabilities, IPv4 text, groups,
 * lists of groups, arrays), built on confread's messages and walk.
 */
#include "config_priv.h"

#include <stdlib.h>
#include <string.h>

MG_RESULT cfg_read_string(const struct cr_reader *ld, const config_setting_t *s,
			  const char *path, char *dst, size_t size)
{
	const char *v;
	size_t n;

	MG_GUARD(cr_str(ld, s, path, size - 1, &v, &n));
	memcpy(dst, v, n + 1);
	return 0;
}

bool cfg_all_in(const char *s, const char *extra, bool upper)
{
	for (; *s; s++) {
		char c = *s;
		bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			  (upper && c >= 'A' && c <= 'Z') || strchr(extra, c);

		if (!ok)
			return false;
	}
	return true;
}

static bool has_control_char(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* Absolute and printable; @file additionally refuses a trailing '/'. */
MG_RESULT cfg_read_path(const struct cr_reader *ld, const config_setting_t *s,
			const char *path, char *dst, size_t size, bool file)
{
	size_t n;

	MG_GUARD(cfg_read_string(ld, s, path, dst, size));
	n = strlen(dst);
	ENSURE_AT(dst[0] == '/', ld, s, path, CONFIG_VALUE, "must be an absolute path");
	ENSURE_AT(!has_control_char(dst), ld, s, path, CONFIG_VALUE,
		  "contains a control character");
	ENSURE_AT(!file || dst[n - 1] != '/', ld, s, path, CONFIG_VALUE,
		  "names a directory; expected a file path");
	return 0;
}

static void store_uint(void *dst, size_t size, unsigned long long v)
{
	uint8_t u8 = (uint8_t)v;
	uint16_t u16 = (uint16_t)v;
	uint32_t u32 = (uint32_t)v;
	uint64_t u64 = v;

	memcpy(dst, size == 1 ? (void *)&u8 : size == 2 ? (void *)&u16 :
		    size == 4 ? (void *)&u32 : (void *)&u64, size);
}

void *cfg_dest(const struct cr_reader *ld, const struct cr_field *f)
{
	return (char *)ld->base + f->off;
}

MG_RESULT cfg_int(struct cr_reader *ld, const struct cr_field *f,
		  const config_setting_t *s, const char *path)
{
	long long v;

	MG_GUARD(cr_int(ld, s, path, f->min, f->max, &v));
	store_uint(cfg_dest(ld, f), f->size, (unsigned long long)v);
	return 0;
}

/* Ring sizes: DPDK drivers want a power of two. */
MG_RESULT cfg_desc(struct cr_reader *ld, const struct cr_field *f,
		   const config_setting_t *s, const char *path)
{
	long long v;

	MG_GUARD(cr_int(ld, s, path, f->min, f->max, &v));
	ENSURE_AT((v & (v - 1)) == 0, ld, s, path, CONFIG_VALUE,
		  "%lld is not a power of two", v);
	store_uint(cfg_dest(ld, f), f->size, (unsigned long long)v);
	return 0;
}

MG_RESULT cfg_bool(struct cr_reader *ld, const struct cr_field *f,
		   const config_setting_t *s, const char *path)
{
	bool v;

	MG_GUARD(cr_want(ld, s, path, CONFIG_TYPE_BOOL, "true or false"));
	v = config_setting_get_bool(s) != 0;
	memcpy(cfg_dest(ld, f), &v, sizeof(v));
	return 0;
}

/* The shortest text that reads back as @v: 1.0000001 must not print as "1". */
static const char *float_text(double v, char *buf, size_t size)
{
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	return buf;
}

/*
 * A probability: a float in 0..1, or the integer 0 or 1. libconfig types "0"
 * as an integer and "0.0" as a float; both mean the same here.
 */
MG_RESULT cfg_prob(struct cr_reader *ld, const struct cr_field *f,
		   const config_setting_t *s, const char *path)
{
	int t = config_setting_type(s);
	char text[32];
	long long i;
	double v;

	ENSURE_AT(t == CONFIG_TYPE_FLOAT || t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64,
		  ld, s, path, CONFIG_TYPE,
		  "expected a probability (0.05, 0.0 or 1), found %s", cr_type_name(s));
	if (t == CONFIG_TYPE_FLOAT) {
		v = config_setting_get_float(s);
		/* Written so that NaN fails too (libconfig has no NaN literal, but 1e999 is inf). */
		ENSURE_AT(v >= 0.0 && v <= 1.0, ld, s, path, CONFIG_RANGE,
			  "%s is outside 0..1", float_text(v, text, sizeof(text)));
		if (v == 0.0)
			v = 0.0; /* -0.0 would print as "-0" in telemetry */
	} else {
		MG_GUARD(cr_int(ld, s, path, 0, 1, &i));
		v = (double)i;
	}
	memcpy(cfg_dest(ld, f), &v, sizeof(v));
	return 0;
}

MG_RESULT cfg_dir(struct cr_reader *ld, const struct cr_field *f,
		  const config_setting_t *s, const char *path)
{
	return cfg_read_path(ld, s, path, cfg_dest(ld, f), f->size, false);
}

MG_RESULT cfg_file(struct cr_reader *ld, const struct cr_field *f,
		   const config_setting_t *s, const char *path)
{
	return cfg_read_path(ld, s, path, cfg_dest(ld, f), f->size, true);
}


/* ---- IPv4 -------------------------------------------------------------- */

/* Decimal without leading zeros ("010" is octal to inet_aton, so refuse it). */
bool cfg_dec(const char **p, unsigned max, unsigned *out)
{
	const char *s = *p;
	unsigned v = 0;
	int n = 0;

	while (s[n] >= '0' && s[n] <= '9' && n < 4)
		v = v * 10 + (unsigned)(s[n++] - '0');
	if (n == 0 || n > 3 || (n > 1 && s[0] == '0') || v > max)
		return false;
	*p = s + n;
	*out = v;
	return true;
}

/* Dotted quad; *p is left after it. */
bool cfg_quad(const char **p, uint32_t *addr)
{
	uint32_t a = 0;

	for (int i = 0; i < 4; i++) {
		unsigned octet;

		if ((i > 0 && *(*p)++ != '.') || !cfg_dec(p, 255, &octet))
			return false;
		a = a << 8 | octet;
	}
	*addr = a;
	return true;
}

uint32_t cfg_prefix_mask(unsigned len)
{
	return len ? ~0u << (32 - len) : 0;
}

void cfg_ip_text(uint32_t a, char *buf, size_t size)
{
	snprintf(buf, size, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff,
		 a & 0xff);
}

/* Why an address can never be a port's own address, or NULL. */
const char *cfg_unusable(uint32_t a)
{
	unsigned first = a >> 24;

	if (first == 0)
		return "is in 0.0.0.0/8 (this network)";
	if (first == 127)
		return "is in 127.0.0.0/8 (loopback)";
	if (first >= 224 && first <= 239)
		return "is a multicast address";
	if (a == 0xffffffffu)
		return "is the limited broadcast address";
	return NULL;
}

/* Network or broadcast address of a prefix, or NULL. */
const char *cfg_edge_of(uint32_t a, unsigned len)
{
	uint32_t host = a & ~cfg_prefix_mask(len);

	if (host == 0)
		return "network";
	if (host == ~cfg_prefix_mask(len))
		return "broadcast";
	return NULL;
}

int cfg_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}


/* ---- groups, arrays, lists --------------------------------------------- */

MG_RESULT cfg_list(struct cr_reader *ld, const config_setting_t *s, const char *path,
		   const struct list_of *l, void *first, uint16_t *count)
{
	char ep[FIELD_TEXT];
	int n;

	MG_GUARD(cr_want(ld, s, path, CONFIG_TYPE_LIST, "a list ( { ... }, ... )"));
	n = config_setting_length(s);
	ENSURE_AT(n >= l->min && n <= l->max, ld, s, path, CONFIG_RANGE,
		  "%d %s, expected %d..%d", n, l->what, l->min, l->max);
	for (int i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(s, i);

		cr_elem(ep, FIELD_TEXT, path, (unsigned)i);
		MG_GUARD(cr_want(ld, g, ep, CONFIG_TYPE_GROUP, "a group { ... }"));
		ld->base = (char *)first + (size_t)i * l->size;
		MG_GUARD(cr_walk(ld, g, ep, l->fields));
		ld->base = CFG(ld);
		if (l->check)
			MG_GUARD(l->check(ld, g, ep, i));
	}
	*count = (uint16_t)n;
	return 0;
}

MG_RESULT cfg_group(struct cr_reader *ld, const struct cr_field *f,
		    const config_setting_t *s, const char *path)
{
	MG_GUARD(cr_want(ld, s, path, CONFIG_TYPE_GROUP, "a group { ... }"));
	MG_GUARD(cr_walk(ld, s, path, f->sub));
	return f->check ? f->check(ld, s, path) : 0;
}

/*
 * A group whose fields live in a struct of their own (f->off inside the
 * current base): the walk fills that struct, then the outer base comes back.
 */
MG_RESULT cfg_nested(struct cr_reader *ld, const struct cr_field *f,
		     const config_setting_t *s, const char *path)
{
	void *outer = ld->base;
	int rc;

	MG_GUARD(cr_want(ld, s, path, CONFIG_TYPE_GROUP, "a group { ... }"));
	ld->base = cfg_dest(ld, f);
	rc = cr_walk(ld, s, path, f->sub);
	if (rc == 0 && f->check)
		rc = f->check(ld, s, path);
	ld->base = outer;
	return rc;
}

MG_RESULT cfg_array(const struct cr_reader *ld, const config_setting_t *s,
		    const char *path, int min, int max, int *n)
{
	MG_GUARD(cr_want(ld, s, path, CONFIG_TYPE_ARRAY, "an array [ ... ]"));
	*n = config_setting_length(s);
	ENSURE_AT(*n >= min && *n <= max, ld, s, path, CONFIG_RANGE,
		  "%d elements, expected %d..%d", *n, min, max);
	return 0;
}

/*
 * An array of 1..@p max distinct integers in [@p lo, @p hi] into @p v; a
 * repeat is named by @p what: "lcore 3 is listed twice (also lcores[0])".
 */
MG_RESULT cfg_distinct_ints(const struct cr_reader *ld, const config_setting_t *s,
			    const char *path, int max, long long lo, long long hi,
			    const char *what, long long *v, int *n)
{
	char ep[FIELD_TEXT];

	MG_GUARD(cfg_array(ld, s, path, 1, max, n));
	for (int i = 0; i < *n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, i);

		cr_elem(ep, FIELD_TEXT, path, (unsigned)i);
		MG_GUARD(cr_int(ld, e, ep, lo, hi, &v[i]));
		for (int j = 0; j < i; j++)
			ENSURE_AT(v[j] != v[i], ld, e, ep, CONFIG_VALUE,
				  "%s %lld is listed twice (also %s[%d])", what, v[i], path, j);
	}
	return 0;
}
