/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Reading, parsing and compiling policy files for test_policy and
 * test_policy_authz (run from tests/unit, the meson workdir).
 */
#ifndef MG_TESTS_POLICY_FILES_H
#define MG_TESTS_POLICY_FILES_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy.h"

#define DATA "../data/policy"
#define GOLDEN "../golden/policy"

/* Two trust domains, their bundles read from DATA. */
#define TD2                                                                         \
	"trust_domains = ( { name = \"example.org\"; bundle_file = \"example.org.pem\"; },\n" \
	"  { name = \"partner.org\"; bundle_file = \"partner.org.pem\"; } );\n"

static inline char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		fail_msg("cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len != NULL)
		*len = (size_t)n;
	return buf;
}

static inline struct mg_policy_src *parse_ok(const char *text, const char *base)
{
	struct mg_policy_src *src = NULL;

	mg_error_clear();
	if (mg_policy_parse(text, strlen(text), "policy", base, &src) != 0)
		fail_msg("parse failed: %s: %s", mg_errname(mg_errno()), mg_errmsg());
	return src;
}

static inline struct mg_policy_src *parse_path(const char *path)
{
	struct mg_policy_src *src = NULL;

	if (mg_policy_parse_file(path, &src) != 0)
		fail_msg("%s: %s", path, mg_errmsg());
	return src;
}

static inline struct mg_policy *compile_path(const char *path)
{
	struct mg_policy_src *src = parse_path(path);
	struct mg_policy *p = NULL;

	assert_int_equal(mg_policy_compile(src, &p), 0);
	mg_policy_src_free(src);
	return p;
}

static inline uint32_t ip(const char *s)
{
	unsigned a, b, c, d;

	assert_int_equal(sscanf(s, "%u.%u.%u.%u", &a, &b, &c, &d), 4);
	return a << 24 | b << 16 | c << 8 | d;
}

#endif /* MG_TESTS_POLICY_FILES_H */
