/* SPDX-License-Identifier: BSD-3-Clause */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"

#define MAXT 64

static int parse(const char *s, struct mg_json_tok *t)
{
	return mg_json_parse(s, strlen(s), t, MAXT);
}

static void telemetry_reply_walks(void **state)
{
	const char *s = "{\"/meshgw/stats\": {\"port.fabric.rx_packets\": 12, "
			"\"a\": [1, 2, 3], \"s\": \"x\\\"y\\u0041\", \"b\": true}}";
	struct mg_json_tok t[MAXT];
	char buf[32];
	int body, v;

	(void)state;
	assert_int_equal(parse(s, t), 14);
	body = mg_json_get(s, t, 0, "/meshgw/stats");
	assert_int_equal(body, 2);
	assert_int_equal(t[body].type, MG_JSON_OBJECT);
	assert_int_equal(t[body].size, 4);
	v = mg_json_get(s, t, (uint32_t)body, "port.fabric.rx_packets");
	assert_int_equal(t[v].type, MG_JSON_NUMBER);
	assert_memory_equal(s + t[v].start, "12", 2);
	v = mg_json_get(s, t, (uint32_t)body, "a");
	assert_int_equal(t[v].type, MG_JSON_ARRAY);
	assert_int_equal(t[v].size, 3);
	v = mg_json_get(s, t, (uint32_t)body, "s");
	mg_json_string(s, &t[v], buf, sizeof(buf));
	assert_string_equal(buf, "x\"yA");
	v = mg_json_get(s, t, (uint32_t)body, "b");
	assert_int_equal(t[v].type, MG_JSON_TRUE);
	assert_int_equal(mg_json_get(s, t, (uint32_t)body, "missing"), -1);
}

static void null_command_value(void **state)
{
	const char *s = "{\"/meshgw/stats\": null}";
	struct mg_json_tok t[MAXT];
	int v;

	(void)state;
	assert_int_equal(parse(s, t), 3);
	v = mg_json_get(s, t, 0, "/meshgw/stats");
	assert_int_equal(t[v].type, MG_JSON_NULL);
}

static void malformed_refused(void **state)
{
	static const char *const bad[] = {
		"", "{", "}", "{\"a\" 1}", "{\"a\":}", "{\"a\":1,}", "[1,,2]", "{1:2}",
		"\"unterminated", "\"bad \\x escape\"", "tru", "nul", "{\"a\":1} x",
		"[\"ctl\x01\"]", "{\"a\":[1,2}",
	};
	struct mg_json_tok t[MAXT];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mg_error_clear();
		assert_int_equal(parse(bad[i], t), -1);
		assert_int_equal(mg_errno(), MG_ERR_PROTO_FORMAT);
	}
}

static void depth_bounded(void **state)
{
	char s[64];
	struct mg_json_tok t[MAXT];

	(void)state;
	memset(s, '[', 40);
	memset(s + 40, ']', 20);
	s[60] = '\0';
	assert_int_equal(parse(s, t), -1);
	assert_int_equal(mg_errno(), MG_ERR_PROTO_FORMAT);
	assert_non_null(strstr(mg_errmsg(), "nested"));
}

static void token_count_bounded(void **state)
{
	const char *s = "[1,2,3,4,5,6,7,8]";
	struct mg_json_tok t[4];

	(void)state;
	assert_int_equal(mg_json_parse(s, strlen(s), t, 4), -1);
	assert_int_equal(mg_errno(), MG_ERR_IO_TOO_BIG);
}

static void embedded_nul_refused(void **state)
{
	const char s[] = "{\"a\":1}\0junk";
	struct mg_json_tok t[MAXT];

	(void)state;
	assert_int_equal(mg_json_parse(s, sizeof(s) - 1, t, MAXT), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(telemetry_reply_walks),
		cmocka_unit_test(null_command_value),
		cmocka_unit_test(malformed_refused),
		cmocka_unit_test(depth_bounded),
		cmocka_unit_test(token_count_bounded),
		cmocka_unit_test(embedded_nul_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
