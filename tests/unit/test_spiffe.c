/* SPDX-License-Identifier: BSD-3-Clause */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "spiffe.h"

struct id_case {
	const char *id;
	const char *td;   /* expected trust domain if valid */
	const char *path; /* expected path if valid; NULL: invalid */
	const char *why;  /* part of the message if invalid */
};

static const struct id_case cases[] = {
	/* valid */
	{ "spiffe://example.org/ns/prod/sa/web", "example.org", "/ns/prod/sa/web", NULL },
	{ "spiffe://example.org", "example.org", "", NULL },
	{ "spiffe://example.org/a", "example.org", "/a", NULL },
	{ "spiffe://a/b", "a", "/b", NULL },
	{ "spiffe://my-td_1.example.com/Path.With-Mixed_Case09", "my-td_1.example.com",
	  "/Path.With-Mixed_Case09", NULL },
	{ "spiffe://example.org/.../x", "example.org", "/.../x", NULL },
	{ "spiffe://example.org/.a/a.", "example.org", "/.a/a.", NULL },
	{ "spiffe://1.2.3.4/x", "1.2.3.4", "/x", NULL },
	{ "spiffe://example.org/-/_", "example.org", "/-/_", NULL },
	/* invalid */
	{ "", NULL, NULL, "does not start with" },
	{ "spiffe:/example.org/x", NULL, NULL, "does not start with" },
	{ "SPIFFE://example.org/x", NULL, NULL, "does not start with" },
	{ "https://example.org/x", NULL, NULL, "does not start with" },
	{ "spiffe://", NULL, NULL, "trust domain is empty" },
	{ "spiffe:///path", NULL, NULL, "trust domain is empty" },
	{ "spiffe://Example.org/x", NULL, NULL, "upper-case" },
	{ "spiffe://example.org:8443/x", NULL, NULL, "port" },
	{ "spiffe://user@example.org/x", NULL, NULL, "userinfo" },
	{ "spiffe://exa%6dple.org/x", NULL, NULL, "percent-encoding" },
	{ "spiffe://example.org/", NULL, NULL, "trailing slash" },
	{ "spiffe://example.org/a/", NULL, NULL, "trailing slash" },
	{ "spiffe://example.org//a", NULL, NULL, "empty segment" },
	{ "spiffe://example.org/a//b", NULL, NULL, "empty segment" },
	{ "spiffe://example.org/./a", NULL, NULL, "\".\" or \"..\"" },
	{ "spiffe://example.org/a/..", NULL, NULL, "\".\" or \"..\"" },
	{ "spiffe://example.org/a?x=1", NULL, NULL, "query and fragment" },
	{ "spiffe://example.org/a#frag", NULL, NULL, "query and fragment" },
	{ "spiffe://example.org?x", NULL, NULL, "query and fragment" },
	{ "spiffe://example.org/a%20b", NULL, NULL, "percent-encoding" },
	{ "spiffe://example.org/a b", NULL, NULL, "outside [A-Za-z0-9.-_]" },
	{ "spiffe://example.org/a/*", NULL, NULL, "outside [A-Za-z0-9.-_]" },
	{ "spiffe://exa mple.org/a", NULL, NULL, "outside [a-z0-9.-_]" },
	{ "spiffe://example.org/\xc3\xa9", NULL, NULL, "outside [A-Za-z0-9.-_]" },
	{ " spiffe://example.org/a", NULL, NULL, "does not start with" },
};

static void id_table(void **state)
{
	struct mg_spiffe_id id;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct id_case *c = &cases[i];
		int rc;

		mg_error_clear();
		rc = mg_spiffe_parse(c->id, &id);
		if (c->path != NULL) {
			if (rc != 0)
				fail_msg("case %zu \"%s\": %s", i, c->id, mg_errmsg());
			assert_string_equal(id.id, c->id);
			assert_string_equal(id.td, c->td);
			assert_string_equal(mg_spiffe_path(&id), c->path);
			assert_int_equal(id.td_len, strlen(c->td));
			assert_null(mg_spiffe_check(c->id, strlen(c->id), NULL));
		} else {
			if (rc != -1)
				fail_msg("case %zu \"%s\" was accepted", i, c->id);
			assert_int_equal(mg_errno(), MG_ERR_PROTO_FORMAT);
			if (strstr(mg_errmsg(), c->why) == NULL)
				fail_msg("case %zu \"%s\": \"%s\" lacks \"%s\"", i, c->id,
					 mg_errmsg(), c->why);
			assert_non_null(mg_spiffe_check(c->id, strlen(c->id), NULL));
		}
	}
	assert_true(sizeof(cases) / sizeof(cases[0]) >= 30);
}

static void length_limits(void **state)
{
	static char s[MG_SPIFFE_MAX_LEN + 8];
	struct mg_spiffe_id id;
	size_t n;

	(void)state;
	/* exactly 2048 bytes: accepted */
	n = (size_t)snprintf(s, sizeof(s), "spiffe://example.org/");
	memset(s + n, 'a', MG_SPIFFE_MAX_LEN - n);
	s[MG_SPIFFE_MAX_LEN] = '\0';
	assert_int_equal(mg_spiffe_parse(s, &id), 0);
	assert_int_equal(id.len, MG_SPIFFE_MAX_LEN);
	/* 2049: refused */
	s[MG_SPIFFE_MAX_LEN] = 'a';
	s[MG_SPIFFE_MAX_LEN + 1] = '\0';
	assert_int_equal(mg_spiffe_parse(s, &id), -1);
	assert_non_null(strstr(mg_errmsg(), "longer than 2048"));
	/* a 255-byte trust domain is fine, 256 is not */
	n = (size_t)snprintf(s, sizeof(s), "spiffe://");
	memset(s + n, 'd', 255);
	strcpy(s + n + 255, "/x");
	assert_int_equal(mg_spiffe_parse(s, &id), 0);
	assert_int_equal(id.td_len, 255);
	memset(s + n, 'd', 256);
	strcpy(s + n + 256, "/x");
	assert_int_equal(mg_spiffe_parse(s, &id), -1);
	assert_non_null(strstr(mg_errmsg(), "longer than 255"));
}

static void long_patterns(void **state)
{
	static char s[MG_SPIFFE_MAX_LEN + 64];
	struct mg_spiffe_id p;
	size_t n;

	(void)state;
	/* a 2048-byte ID plus "/\*": the longest pattern */
	n = (size_t)snprintf(s, sizeof(s), "spiffe://example.org/");
	memset(s + n, 'a', MG_SPIFFE_MAX_LEN - n);
	strcpy(s + MG_SPIFFE_MAX_LEN, "/*");
	assert_int_equal(mg_spiffe_parse_pattern(s, &p), 0);
	assert_int_equal(p.len, MG_SPIFFE_MAX_LEN + 1);
	assert_int_equal(p.id[MG_SPIFFE_MAX_LEN], '/');
	/* "/\*" at bytes 2047..2048 of a longer string is not a pattern end */
	memset(s + n, 'a', sizeof(s) - n - 1);
	s[sizeof(s) - 1] = '\0';
	s[MG_SPIFFE_MAX_LEN - 1] = '/';
	s[MG_SPIFFE_MAX_LEN] = '*';
	assert_int_equal(mg_spiffe_parse_pattern(s, &p), -1);
	assert_non_null(strstr(mg_errmsg(), "longer than 2048"));
}

static void embedded_nul_refused(void **state)
{
	struct mg_spiffe_id id;

	(void)state;
	assert_int_equal(mg_spiffe_parse_n("spiffe://example.org/a\0b", 24, &id), -1);
	assert_non_null(strstr(mg_errmsg(), "NUL"));
	assert_int_equal(mg_spiffe_parse_n("spiffe://example.org/ab", 22, &id), 0);
	assert_string_equal(id.id, "spiffe://example.org/a");
}

static void error_names_the_byte(void **state)
{
	struct mg_spiffe_id id;

	(void)state;
	assert_int_equal(mg_spiffe_parse("spiffe://example.org/ok/b@d", &id), -1);
	assert_non_null(strstr(mg_errmsg(), "(byte 25)"));
	assert_int_equal(mg_spiffe_parse("spiffe://exAmple.org/x", &id), -1);
	assert_non_null(strstr(mg_errmsg(), "(byte 11)"));
}

static void patterns(void **state)
{
	struct mg_spiffe_id p;

	(void)state;
	assert_int_equal(mg_spiffe_parse_pattern("spiffe://example.org/*", &p), 0);
	assert_true(p.prefix);
	assert_string_equal(p.id, "spiffe://example.org/");
	assert_string_equal(p.td, "example.org");
	assert_int_equal(mg_spiffe_parse_pattern("spiffe://example.org/ns/prod/*", &p), 0);
	assert_true(p.prefix);
	assert_string_equal(p.id, "spiffe://example.org/ns/prod/");
	assert_int_equal(mg_spiffe_parse_pattern("spiffe://example.org/ns/web", &p), 0);
	assert_false(p.prefix);

	/* refused: trust domain ID as a peer, wildcards elsewhere, empty patterns */
	assert_int_equal(mg_spiffe_parse_pattern("spiffe://example.org", &p), -1);
	assert_non_null(strstr(mg_errmsg(), "spiffe://example.org/*"));
	assert_int_equal(mg_spiffe_parse_pattern("spiffe://example.org/a/*/b", &p), -1);
	assert_int_equal(mg_spiffe_parse_pattern("spiffe://example.org/a*", &p), -1);
	assert_int_equal(mg_spiffe_parse_pattern("spiffe://*", &p), -1);
	assert_int_equal(mg_spiffe_parse_pattern("spiffe://*.example.org/a", &p), -1);
	assert_int_equal(mg_spiffe_parse_pattern("spiffe://example.org//*", &p), -1);
	assert_int_equal(mg_spiffe_parse_pattern("spiffe://example.org/a/**", &p), -1);
	assert_int_equal(mg_spiffe_parse_pattern("*", &p), -1);
	assert_int_equal(mg_errno(), MG_ERR_PROTO_FORMAT);
}

static void pattern_matching(void **state)
{
	struct mg_spiffe_id td, ns, exact;
	const char *web = "spiffe://example.org/ns/prod/sa/web";

	(void)state;
	assert_int_equal(mg_spiffe_parse_pattern("spiffe://example.org/*", &td), 0);
	assert_int_equal(mg_spiffe_parse_pattern("spiffe://example.org/ns/prod/*", &ns), 0);
	assert_int_equal(mg_spiffe_parse_pattern(web, &exact), 0);

	assert_true(mg_spiffe_match(&td, web, strlen(web)));
	assert_true(mg_spiffe_match(&ns, web, strlen(web)));
	assert_true(mg_spiffe_match(&exact, web, strlen(web)));
	/* strictly beneath: the prefix itself is not matched */
	assert_false(mg_spiffe_match(&ns, "spiffe://example.org/ns/prod", 28));
	assert_false(mg_spiffe_match(&td, "spiffe://example.org", 20));
	/* segment boundary: /ns/production is not under /ns/prod/ */
	assert_false(mg_spiffe_match(&ns, "spiffe://example.org/ns/production/x", 36));
	/* another trust domain with a common prefix */
	assert_false(mg_spiffe_match(&td, "spiffe://example.org.evil/x", 27));
	assert_false(mg_spiffe_match(&exact, "spiffe://example.org/ns/prod/sa/web2", 36));
}

static void trust_domain_names(void **state)
{
	(void)state;
	assert_null(mg_spiffe_check_td("example.org", 11));
	assert_null(mg_spiffe_check_td("a-b_c.d0", 8));
	assert_non_null(mg_spiffe_check_td("", 0));
	assert_non_null(mg_spiffe_check_td("Example.org", 11));
	assert_non_null(mg_spiffe_check_td("example.org/x", 13));
	assert_non_null(mg_spiffe_check_td("example.org:443", 15));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(id_table),
		cmocka_unit_test(length_limits),
		cmocka_unit_test(long_patterns),
		cmocka_unit_test(embedded_nul_refused),
		cmocka_unit_test(error_names_the_byte),
		cmocka_unit_test(patterns),
		cmocka_unit_test(pattern_matching),
		cmocka_unit_test(trust_domain_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
