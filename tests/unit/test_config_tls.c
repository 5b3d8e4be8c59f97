/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * gateway.conf, the mTLS seam (ctrl/config_tls.c and the listener types):
 * inbound and outbound listeners, the node's SVIDs ( { name; cert; key; } )
 * and the tls group; every field, range edge, default and refusal, with the
 * whole message. The rest of the loader is test_config.c.
 * Runs with workdir tests/unit, so samples are ../data/conf/<name>.conf.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config_fixture.h"

#define BASE "workers = { lcores = [ 1 ]; };\n" \
	     "ports = ( { name = \"p\"; device = \"net_null0\"; address = \"10.0.0.1/24\"; } );\n"

/* The whole message, word for word. */
static void expect_exact(const char *text, enum mg_err code, const char *msg)
{
	struct mg_config *c = cfg_new();

	mg_error_clear();
	assert_int_equal(mg_config_load_string(c, text, "t.conf"), -1);
	if (mg_errno() != code || strcmp(mg_errmsg(), msg) != 0)
		fail_msg("got %s \"%s\", want %s \"%s\"", mg_errname(mg_errno()), mg_errmsg(),
			 mg_errname(code), msg);
	free(c);
}

static struct mg_config *string_ok(const char *text)
{
	struct mg_config *c = cfg_new();

	mg_error_clear();
	if (mg_config_load_string(c, text, "t.conf") < 0)
		fail_msg("%s", mg_errmsg());
	return c;
}

#define SV(n, c, k) "{ name = \"" n "\"; cert = \"" c "\"; key = \"" k "\"; }"
#define WEB SV("web", "/s/web.pem", "/s/web.key")
/* Two ports; listeners written after it start on line 5. */
#define TWO_PORTS "workers = { lcores = [ 1 ]; };\nports = (\n" \
	"{ name = \"fabric\"; device = \"net_null0\"; address = \"198.18.1.1/24\"; },\n" \
	"{ name = \"local\"; device = \"net_null1\"; address = \"198.18.2.1/24\"; } );\n"
#define LSN(n, t, l, u) "{ name = \"" n "\"; type = \"" t "\"; listen = \"" l \
	"\"; upstream = \"" u "\"; }"
#define INBOUND LSN("in", "inbound", "198.18.1.1:8443", "198.18.2.2:80")
#define OUTBOUND LSN("out", "outbound", "198.18.2.1:15001", "198.18.1.3:8443")

/* A whole node: two SVIDs, inbound, outbound and tcp listeners, every tls field. */
static void mtls_whole_config(void **state)
{
	struct mg_config *c = load_ok(DATA "valid-mtls.conf");

	(void)state;
	assert_int_equal(c->n_listeners, 3);
	assert_int_equal(c->listeners[0].type, MG_LISTENER_INBOUND);
	assert_int_equal(c->listeners[0].upstream_addr, IP(198, 18, 2, 2));
	assert_int_equal(c->listeners[1].type, MG_LISTENER_OUTBOUND);
	assert_int_equal(c->listeners[1].listen_addr, IP(198, 18, 2, 1));
	assert_int_equal(c->listeners[1].upstream_port, 8443);
	assert_int_equal(c->listeners[2].type, MG_LISTENER_TCP);
	assert_int_equal(c->n_svids, 2);
	assert_string_equal(c->svids[0].name, "web");
	assert_string_equal(c->svids[0].cert_path, "/nonexistent/meshgw/svid/web.pem");
	assert_string_equal(c->svids[0].key_path, "/nonexistent/meshgw/svid/web.key");
	assert_string_equal(c->svids[1].name, "api_client_2");
	assert_string_equal(c->svids[1].cert_path, "/nonexistent/meshgw/svid/api.pem");
	assert_string_equal(c->svids[1].key_path, "/nonexistent/meshgw/svid/api.key");
	/* The loader only names the files; meshgw --check must pass without them. */
	assert_int_not_equal(access(c->svids[0].cert_path, F_OK), 0);
	assert_int_equal(c->tls_handshake_timeout_ms, 2500);
	assert_int_equal(c->tls_max_handshakes, 1024);
	assert_int_equal(c->tls_peer_handshakes, 1024);
	assert_int_equal(c->tls_handshake_threads, 2);
	assert_int_equal(c->tls_svid_expiry_warn_s, 0);
	free(c);
}

/* Types are case-sensitive words; anything else is refused with the list. */
static void listener_type_refusals(void **state)
{
	static const char *const bad[] = { "mtls", "TCP", "inbound ", "", "tls" };
	char text[1024];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), TWO_PORTS "listeners = ( { name = \"w\"; type = "
			 "\"%s\"; listen = \"198.18.1.1:1\"; upstream = \"198.18.2.2:1\"; } );\n",
			 bad[i]);
		expect_exact(text, MG_ERR_CONFIG_VALUE, "t.conf:5: listeners[0].type: unknown "
			     "listener type; expected \"tcp\", \"inbound\" or \"outbound\"");
	}
	expect_exact(TWO_PORTS "listeners = ( { name = \"w\"; type = 1; } );\n",
		     MG_ERR_CONFIG_TYPE,
		     "t.conf:5: listeners[0].type: expected a string, found an integer");
}

/* An mTLS listener presents one of the node's SVIDs: none is a refusal. */
static void mtls_listener_needs_svids(void **state)
{
	struct mg_config *c;

	(void)state;
	expect_exact(TWO_PORTS "listeners = ( " INBOUND " );\n", MG_ERR_CONFIG_MISSING,
		     "t.conf:5: listeners[0].type: an inbound listener needs the node's "
		     "SVIDs: add svids = ( { name; cert; key; } )");
	expect_exact(TWO_PORTS "svids = ( );\nlisteners = (\n"
		     LSN("t", "tcp", "198.18.1.1:1", "198.18.2.2:1") ",\n" OUTBOUND " );\n",
		     MG_ERR_CONFIG_MISSING,
		     "t.conf:8: listeners[1].type: an outbound listener needs the node's "
		     "SVIDs: add svids = ( { name; cert; key; } )");
	/* tcp needs none; svids after the listeners count. */
	c = string_ok(TWO_PORTS "listeners = ( " LSN("t", "tcp", "198.18.1.1:1",
						       "198.18.2.2:1") " );\n");
	assert_int_equal(c->n_svids, 0);
	free(c);
	c = string_ok(TWO_PORTS "listeners = ( " INBOUND ", " OUTBOUND " );\n"
		      "svids = ( " WEB " );\n");
	assert_int_equal(c->n_svids, 1);
	assert_int_equal(c->listeners[1].type, MG_LISTENER_OUTBOUND);
	free(c);
}

static void svid_refusals(void **state)
{
	static const struct {
		const char *svids;
		enum mg_err code;
		const char *msg;
	} bad[] = {
		{ SV("", "/s/a.pem", "/s/a.key"), MG_ERR_CONFIG_RANGE,
		  "3: svids[0].name: must not be empty" },
		{ SV("abcdefghijklmnopqrstuvwxyz012345", "/s/a.pem", "/s/a.key"),
		  MG_ERR_CONFIG_RANGE,
		  "3: svids[0].name: 32 characters, longer than the limit of 31" },
		{ SV("Web", "/s/a.pem", "/s/a.key"), MG_ERR_CONFIG_VALUE,
		  "3: svids[0].name: may hold only a-z 0-9 _" },
		{ SV("web-1", "/s/a.pem", "/s/a.key"), MG_ERR_CONFIG_VALUE,
		  "3: svids[0].name: may hold only a-z 0-9 _" },
		{ SV("web", "s/a.pem", "/s/a.key"), MG_ERR_CONFIG_VALUE,
		  "3: svids[0].cert: must be an absolute path" },
		{ SV("web", "/s/a.pem", "a.key"), MG_ERR_CONFIG_VALUE,
		  "3: svids[0].key: must be an absolute path" },
		{ SV("web", "/s/", "/s/a.key"), MG_ERR_CONFIG_VALUE,
		  "3: svids[0].cert: names a directory; expected a file path" },
		{ SV("web", "/s/a.pem", "/s/\\t.key"), MG_ERR_CONFIG_VALUE,
		  "3: svids[0].key: contains a control character" },
		{ SV("web", "/s/a.pem", "/s/a.pem"), MG_ERR_CONFIG_VALUE,
		  "3: svids[0].key: same file as cert" },
		{ WEB ",\n" SV("web", "/s/b.pem", "/s/b.key"), MG_ERR_CONFIG_VALUE,
		  "4: svids[1].name: svid name \"web\" is used twice (also svids[0])" },
		{ WEB ",\n" SV("api", "/s/web.pem", "/s/b.key"), MG_ERR_CONFIG_VALUE,
		  "4: svids[1].cert: same file as svids[0].cert (web)" },
		{ WEB ",\n" SV("api", "/s/web.key", "/s/b.key"), MG_ERR_CONFIG_VALUE,
		  "4: svids[1].cert: same file as svids[0].key (web)" },
		{ WEB ",\n" SV("api", "/s/b.pem", "/s/web.pem"), MG_ERR_CONFIG_VALUE,
		  "4: svids[1].key: same file as svids[0].cert (web)" },
		{ "{ cert = \"/s/a.pem\"; key = \"/s/a.key\"; }", MG_ERR_CONFIG_MISSING,
		  "3: svids[0].name: required field is missing" },
		{ "{ name = \"web\"; key = \"/s/a.key\"; }", MG_ERR_CONFIG_MISSING,
		  "3: svids[0].cert: required field is missing" },
		{ "{ name = \"web\"; cert = \"/s/a.pem\"; }", MG_ERR_CONFIG_MISSING,
		  "3: svids[0].key: required field is missing" },
		{ "{ name = \"web\"; cert = \"/s/a.pem\"; key = \"/s/a.key\"; spiffe_id = \"x\"; }",
		  MG_ERR_CONFIG_UNKNOWN_FIELD, "3: svids[0].spiffe_id: unknown field" },
		{ "{ name = \"web\"; cert = 1; key = \"/s/a.key\"; }", MG_ERR_CONFIG_TYPE,
		  "3: svids[0].cert: expected a string, found an integer" },
		{ "\"/s/a.pem\"", MG_ERR_CONFIG_TYPE,
		  "3: svids[0]: expected a group { ... }, found a string" },
	};
	char text[1024], want[512];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), BASE "svids = ( %s );\n", bad[i].svids);
		snprintf(want, sizeof(want), "t.conf:%s", bad[i].msg);
		expect_exact(text, bad[i].code, want);
	}
	expect_exact(BASE "svids = " WEB ";\n", MG_ERR_CONFIG_TYPE,
		     "t.conf:3: svids: expected a list ( { ... }, ... ), found a group { }");
}

/* Edges that pass: a 31-character name, a shared key, an empty list. */
static void svid_edges_accepted(void **state)
{
	struct mg_config *c;

	(void)state;
	c = string_ok(BASE "svids = ( " SV("abcdefghijklmnopqrstuvwxyz01234", "/s/a.pem",
					   "/s/k.key") ",\n" SV("b", "/s/b.pem", "/s/k.key") " );\n");
	assert_int_equal(c->n_svids, 2);
	assert_string_equal(c->svids[0].name, "abcdefghijklmnopqrstuvwxyz01234");
	assert_string_equal(c->svids[1].key_path, "/s/k.key");
	free(c);
	c = string_ok(BASE "svids = ( );\n");
	assert_int_equal(c->n_svids, 0);
	free(c);
}

/* Paths up to PATH_MAX - 1 characters; 16 SVIDs at most. */
static void svid_path_length_and_count(void **state)
{
	size_t size = 2 * PATH_MAX + 16 * 96 + 256;
	char *text = malloc(size), *long_path = malloc(PATH_MAX + 1), want[128];
	struct mg_config *c;
	int n = 0;

	(void)state;
	assert_non_null(text);
	assert_non_null(long_path);
	long_path[0] = '/';
	memset(long_path + 1, 'a', PATH_MAX - 1);
	long_path[PATH_MAX] = '\0'; /* PATH_MAX characters: one too many */
	snprintf(text, size, BASE "svids = ( { name = \"w\"; cert = \"%s\"; key = \"/k\"; } );\n",
		 long_path);
	snprintf(want, sizeof(want), "t.conf:3: svids[0].cert: %d characters, longer than "
		 "the limit of %d", PATH_MAX, PATH_MAX - 1);
	expect_exact(text, MG_ERR_CONFIG_RANGE, want);
	long_path[PATH_MAX - 1] = '\0';
	snprintf(text, size, BASE "svids = ( { name = \"w\"; cert = \"/c\"; key = \"%s\"; } );\n",
		 long_path);
	c = string_ok(text);
	assert_int_equal(strlen(c->svids[0].key_path), PATH_MAX - 1);
	free(c);
	for (int count = 16; count <= 17; count++) {
		n = snprintf(text, size, BASE "svids = (");
		for (int i = 0; i < count; i++)
			n += snprintf(text + n, size - (size_t)n, "%s{ name = \"s%d\"; cert = "
				      "\"/s/%d.pem\"; key = \"/s/%d.key\"; }", i ? ", " : " ",
				      i, i, i);
		snprintf(text + n, size - (size_t)n, " );\n");
		if (count == 16) {
			c = string_ok(text);
			assert_int_equal(c->n_svids, 16);
			assert_string_equal(c->svids[15].cert_path, "/s/15.pem");
			free(c);
		}
	}
	expect_exact(text, MG_ERR_CONFIG_RANGE, "t.conf:3: svids: 17 svids, expected 0..16");
	free(long_path);
	free(text);
}

/* Without a tls group or svids: the defaults, from the loader and from mg_config_defaults(). */
static void tls_defaults(void **state)
{
	struct mg_config *c = string_ok(BASE);
	struct mg_config *d = cfg_new();

	(void)state;
	mg_config_defaults(d);
	for (int i = 0; i < 2; i++, c = d) {
		assert_int_equal(c->n_svids, 0);
		assert_int_equal(c->tls_handshake_timeout_ms, 10000);
		assert_int_equal(c->tls_max_handshakes, 256);
		assert_int_equal(c->tls_peer_handshakes, 16);
		assert_int_equal(c->tls_handshake_threads, 1);
		assert_int_equal(c->tls_svid_expiry_warn_s, 86400);
		free(c);
	}
}

static void tls_range_edges(void **state)
{
	static const struct {
		const char *group;
		const char *msg;
	} bad[] = {
		{ "handshake_timeout_ms = 99", "handshake_timeout_ms: 99 is outside 100..60000" },
		{ "handshake_timeout_ms = 60001",
		  "handshake_timeout_ms: 60001 is outside 100..60000" },
		{ "max_handshakes = 0", "max_handshakes: 0 is outside 1..4096" },
		{ "max_handshakes = 4097", "max_handshakes: 4097 is outside 1..4096" },
		{ "peer_handshakes = 0", "peer_handshakes: 0 is outside 1..4096" },
		{ "peer_handshakes = 4097", "peer_handshakes: 4097 is outside 1..4096" },
		{ "handshake_threads = 0", "handshake_threads: 0 is outside 1..8" },
		{ "handshake_threads = 9", "handshake_threads: 9 is outside 1..8" },
		{ "svid_expiry_warn_s = -1", "svid_expiry_warn_s: -1 is outside 0..31536000" },
		{ "svid_expiry_warn_s = 31536001",
		  "svid_expiry_warn_s: 31536001 is outside 0..31536000" },
	};
	char text[512], want[256];
	struct mg_config *c;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), BASE "tls = { %s; };\n", bad[i].group);
		snprintf(want, sizeof(want), "t.conf:3: tls.%s", bad[i].msg);
		expect_exact(text, MG_ERR_CONFIG_RANGE, want);
	}
	c = string_ok(BASE "tls = { handshake_timeout_ms = 100; max_handshakes = 1; "
		      "peer_handshakes = 1; handshake_threads = 1; svid_expiry_warn_s = 0; };\n");
	assert_int_equal(c->tls_handshake_timeout_ms, 100);
	assert_int_equal(c->tls_max_handshakes, 1);
	assert_int_equal(c->tls_peer_handshakes, 1);
	assert_int_equal(c->tls_handshake_threads, 1);
	assert_int_equal(c->tls_svid_expiry_warn_s, 0);
	free(c);
	c = string_ok(BASE "tls = { handshake_timeout_ms = 60000; max_handshakes = 4096; "
		      "peer_handshakes = 4096; handshake_threads = 8; "
		      "svid_expiry_warn_s = 31536000; };\n");
	assert_int_equal(c->tls_handshake_timeout_ms, 60000);
	assert_int_equal(c->tls_max_handshakes, 4096);
	assert_int_equal(c->tls_peer_handshakes, 4096);
	assert_int_equal(c->tls_handshake_threads, 8);
	assert_int_equal(c->tls_svid_expiry_warn_s, 31536000);
	free(c);
}

/* peer_handshakes <= max_handshakes, blamed on the field the file set. */
static void tls_peer_within_max(void **state)
{
	struct mg_config *c;

	(void)state;
	expect_exact(BASE "tls = { max_handshakes = 8;\n peer_handshakes = 9; };\n",
		     MG_ERR_CONFIG_RANGE,
		     "t.conf:4: tls.peer_handshakes: 9 is more than max_handshakes (8)");
	expect_exact(BASE "tls = { peer_handshakes = 257; };\n", MG_ERR_CONFIG_RANGE,
		     "t.conf:3: tls.peer_handshakes: 257 is more than max_handshakes (256)");
	expect_exact(BASE "tls = {\n max_handshakes = 15; };\n", MG_ERR_CONFIG_RANGE,
		     "t.conf:4: tls.max_handshakes: 15 is less than peer_handshakes "
		     "(default 16); set peer_handshakes to at most 15");
	c = string_ok(BASE "tls = { max_handshakes = 16; };\n");
	assert_int_equal(c->tls_max_handshakes, 16);
	assert_int_equal(c->tls_peer_handshakes, 16);
	assert_int_equal(c->tls_handshake_timeout_ms, 10000); /* the rest at defaults */
	free(c);
	c = string_ok(BASE "tls = { };\n");
	assert_int_equal(c->tls_max_handshakes, 256);
	free(c);
}

static void tls_types_and_fields(void **state)
{
	(void)state;
	expect_exact(BASE "tls = { handshake_threads = \"2\"; };\n", MG_ERR_CONFIG_TYPE,
		     "t.conf:3: tls.handshake_threads: expected an integer, found a string");
	expect_exact(BASE "tls = { handshake_timeout_s = 10; };\n",
		     MG_ERR_CONFIG_UNKNOWN_FIELD,
		     "t.conf:3: tls.handshake_timeout_s: unknown field");
	expect_exact(BASE "tls = 5;\n", MG_ERR_CONFIG_TYPE,
		     "t.conf:3: tls: expected a group { ... }, found an integer");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(mtls_whole_config),
		cmocka_unit_test(listener_type_refusals),
		cmocka_unit_test(mtls_listener_needs_svids),
		cmocka_unit_test(svid_refusals),
		cmocka_unit_test(svid_edges_accepted),
		cmocka_unit_test(svid_path_length_and_count),
		cmocka_unit_test(tls_defaults),
		cmocka_unit_test(tls_range_edges),
		cmocka_unit_test(tls_peer_within_max),
		cmocka_unit_test(tls_types_and_fields),
	};

	return cmocka_run_group_tests_name("config_tls", tests, NULL, NULL);
}
