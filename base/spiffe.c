/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SPIFFE ID syntax (spiffe.h): the checker the data path calls without copying,
 * the parsers that fill struct mg_spiffe_id, and pattern matching for rules.
 */
#include "spiffe.h"

#include <string.h>

/* Trust domain bytes: lower-case letters, digits, '.', '-', '_'. */
static bool td_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
	       c == '-' || c == '_';
}

/* Path segment bytes: letters of either case, digits, '.', '-', '_'. */
static bool seg_char(unsigned char c)
{
	return td_char(c) || (c >= 'A' && c <= 'Z');
}

/* Why a byte is refused, so the message helps the operator fix the ID. */
static const char *td_char_problem(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return "trust domain has an upper-case letter (lower case only)";
	if (c == ':')
		return "trust domain has a port (not allowed)";
	if (c == '@')
		return "trust domain has userinfo (not allowed)";
	if (c == '%')
		return "trust domain has percent-encoding (not allowed)";
	if (c == '?' || c == '#')
		return "query and fragment are not allowed";
	return "trust domain has a character outside [a-z0-9.-_]";
}

static const char *seg_char_problem(unsigned char c)
{
	if (c == '?' || c == '#')
		return "query and fragment are not allowed";
	if (c == '%')
		return "path has percent-encoding (not allowed)";
	return "path has a character outside [A-Za-z0-9.-_]";
}

/* The trust domain starts at s[0]; returns its length through *n or a problem. */
static const char *scan_td(const char *s, size_t len, size_t *n, size_t *at)
{
	size_t i = 0;

	while (i < len && s[i] != '/') {
		if (!td_char((unsigned char)s[i])) {
			*at = i;
			return td_char_problem((unsigned char)s[i]);
		}
		i++;
	}
	*at = 0;
	if (i == 0)
		return "trust domain is empty";
	if (i > MG_SPIFFE_TD_MAX)
		return "trust domain is longer than 255 bytes";
	*n = i;
	return NULL;
}

/* The path "" or "/seg/seg..." at s[0..len). */
static const char *scan_path(const char *s, size_t len, size_t *at)
{
	size_t i = 0;

	while (i < len) {
		size_t start = ++i; /* s[i - 1] is '/' */

		while (i < len && s[i] != '/') {
			if (!seg_char((unsigned char)s[i])) {
				*at = i;
				return seg_char_problem((unsigned char)s[i]);
			}
			i++;
		}
		*at = start;
		if (i == start)
			return i == len ? "path has a trailing slash"
					: "path has an empty segment";
		if ((i - start == 1 && s[start] == '.') ||
		    (i - start == 2 && s[start] == '.' && s[start + 1] == '.'))
			return "path has a \".\" or \"..\" segment";
	}
	return NULL;
}

static const char *check(const char *s, size_t len, size_t *td_len, size_t *at)
{
	const char *p;
	size_t n = 0, off = 0;

	*at = 0;
	if (len > MG_SPIFFE_MAX_LEN)
		return "longer than 2048 bytes";
	if (memchr(s, '\0', len) != NULL)
		return "has a NUL byte";
	if (len < MG_SPIFFE_SCHEME_LEN || memcmp(s, MG_SPIFFE_SCHEME, MG_SPIFFE_SCHEME_LEN))
		return "does not start with \"spiffe://\"";
	p = scan_td(s + MG_SPIFFE_SCHEME_LEN, len - MG_SPIFFE_SCHEME_LEN, &n, &off);
	if (p == NULL)
		p = scan_path(s + MG_SPIFFE_SCHEME_LEN + n,
			      len - MG_SPIFFE_SCHEME_LEN - n, &off);
	else
		n = 0;
	*at = MG_SPIFFE_SCHEME_LEN + n + off;
	if (p == NULL && td_len != NULL)
		*td_len = n;
	return p;
}

const char *mg_spiffe_check(const char *s, size_t len, size_t *td_len)
{
	size_t at;

	return check(s, len, td_len, &at);
}

const char *mg_spiffe_check_td(const char *s, size_t len)
{
	size_t n = 0, at;
	const char *p = scan_td(s, len, &n, &at);

	if (p == NULL && n != len)
		p = "trust domain has a character outside [a-z0-9.-_]";
	return p;
}

static void fill(const char *s, size_t len, size_t td_len, struct mg_spiffe_id *out)
{
	memcpy(out->id, s, len);
	out->id[len] = '\0';
	memcpy(out->td, s + MG_SPIFFE_SCHEME_LEN, td_len);
	out->td[td_len] = '\0';
	out->len = (uint16_t)len;
	out->td_len = (uint16_t)td_len;
	out->path_off = (uint16_t)(MG_SPIFFE_SCHEME_LEN + td_len);
	out->prefix = false;
}

MG_RESULT mg_spiffe_parse_n(const char *s, size_t len, struct mg_spiffe_id *out)
{
	size_t td_len = 0, at;
	const char *p = check(s, len, &td_len, &at);

	MG_ENSURE(p == NULL, PROTO_FORMAT, "SPIFFE ID: %s (byte %zu)", p, at);
	fill(s, len, td_len, out);
	return 0;
}

MG_RESULT mg_spiffe_parse(const char *s, struct mg_spiffe_id *out)
{
	return mg_spiffe_parse_n(s, strnlen(s, MG_SPIFFE_MAX_LEN + 1), out);
}

MG_RESULT mg_spiffe_parse_pattern(const char *s, struct mg_spiffe_id *out)
{
	size_t len = strnlen(s, MG_SPIFFE_MAX_LEN + 3);
	bool prefix = len >= 2 && s[len - 2] == '/' && s[len - 1] == '*';

	MG_ENSURE(len <= MG_SPIFFE_MAX_LEN + 2, PROTO_FORMAT, "SPIFFE ID: longer than 2048 bytes");
	/* "spiffe://td/\*" is the trust domain ID plus "/\*": parse it without. */
	MG_GUARD(mg_spiffe_parse_n(s, prefix ? len - 2 : len, out));
	if (!prefix) {
		MG_ENSURE(out->len > out->path_off, PROTO_FORMAT,
			  "SPIFFE ID: the path is empty, which names the trust domain, "
			  "not a workload (write \"%s/*\" for all of its workloads)",
			  out->id);
		return 0;
	}
	/* The stored form ends in '/' so it is a byte prefix of what it matches. */
	out->id[out->len++] = '/';
	out->id[out->len] = '\0';
	out->prefix = true;
	return 0;
}

bool mg_spiffe_match(const struct mg_spiffe_id *pat, const char *id, size_t len)
{
	if (!pat->prefix)
		return len == pat->len && memcmp(id, pat->id, len) == 0;
	/* Strictly beneath: at least one byte (a segment) after the prefix. */
	return len > pat->len && memcmp(id, pat->id, pat->len) == 0;
}
