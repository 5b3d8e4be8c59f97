/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * policy.conf: parse (valid and >= 25 invalid cases, each with its exact code,
 * line and field) and normalize (golden files in tests/golden/policy/; set
 * MG_UPDATE_GOLDEN=1 to rewrite them after a deliberate change). Compiled
 * decisions, sealing and scale are test_policy_authz.c.
 * Runs from tests/unit (meson workdir); needs no EAL.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/ssl.h>

#include "policy_files.h"

/* ---------------------------------------------------------------------- */
/* Valid policies. */

static void basic_structure(void **state)
{
	struct mg_policy_src *s = parse_path(DATA "/basic.conf");
	const struct mg_policy_workload *web;
	const struct mg_policy_rule *r;

	(void)state;
	assert_int_equal(s->n_tds, 2);
	assert_string_equal(s->tds[0].name, "example.org"); /* sorted */
	assert_int_equal(s->tds[0].n_certs, 2);
	assert_string_equal(s->tds[1].name, "partner.org");
	assert_int_equal(s->tds[1].n_certs, 1);
	assert_non_null(strstr(s->tds[1].bundle_pem, "-----BEGIN CERTIFICATE-----"));

	assert_int_equal(s->tls.min_version, 0x0304);
	assert_int_equal(s->tls.ciphersuites.n, 3); /* defaults */
	assert_string_equal(s->tls.groups.v[0], "X25519");

	assert_int_equal(s->n_workloads, 2);
	assert_string_equal(s->workloads[0].name, "frontend");
	web = &s->workloads[1];
	assert_string_equal(web->name, "web");
	assert_string_equal(web->spiffe_id, "spiffe://example.org/ns/prod/sa/web");
	assert_int_equal(web->n_addrs, 1);
	assert_int_equal(web->addrs[0], ip("198.18.2.2"));
	assert_int_equal(web->n_ports, 2);
	assert_int_equal(web->ports[0], 8080); /* sorted */
	assert_int_equal(web->ports[1], 8443);
	assert_int_equal(web->n_images, 1);
	assert_int_equal(web->images[0][0], 0x2c);

	assert_int_equal(s->n_services, 1);
	assert_int_equal(s->services[0].addr, ip("198.18.10.1"));
	assert_int_equal(s->services[0].workload_idx, 1);
	assert_int_equal(s->services[0].ports[0].port, 80);
	assert_int_equal(s->services[0].ports[0].target_port, 8080);

	assert_int_equal(s->n_rules, 3);
	r = &s->rules[0];
	assert_string_equal(r->name, "frontend-to-web");
	assert_int_equal(r->action, MG_POLICY_ALLOW);
	assert_int_equal(r->to_idx, 1);
	assert_int_equal(r->n_ports, 1);
	assert_false(r->has_http);
	r = &s->rules[1];
	assert_string_equal(r->name, "no-batch");
	assert_int_equal(r->action, MG_POLICY_DENY);
	assert_int_equal(r->n_ports, 2); /* omitted: all of the workload's ports */
	r = &s->rules[2];
	assert_string_equal(r->name, "partners-read-api");
	assert_true(r->has_http);
	assert_int_equal(r->methods.n, 2);
	assert_string_equal(r->methods.v[0], "GET");
	assert_string_equal(r->paths.v[0], "/api/*");
	assert_string_equal(r->hosts.v[0], "web.example.org");
	mg_policy_src_free(s);
}

static void tls_keeps_preference_order(void **state)
{
	struct mg_policy_src *s = parse_path(DATA "/authz.conf");

	(void)state;
	assert_int_equal(s->tls.ciphersuites.n, 2);
	assert_string_equal(s->tls.ciphersuites.v[0], "TLS_AES_256_GCM_SHA384");
	assert_string_equal(s->tls.ciphersuites.v[1], "TLS_AES_128_GCM_SHA256");
	assert_int_equal(s->tls.groups.n, 1);
	assert_int_equal(s->tls.sigalgs.n, 4); /* default */
	mg_policy_src_free(s);
}

/* Every TLS name the language accepts is one OpenSSL accepts too. */
static void tls_names_known_to_openssl(void **state)
{
	const char *text =
		"trust_domains = ( { name = \"example.org\"; bundle_file = \"example.org.pem\"; } );\n"
		"tls = { ciphersuites = [\"TLS_AES_128_GCM_SHA256\", \"TLS_AES_256_GCM_SHA384\",\n"
		"  \"TLS_CHACHA20_POLY1305_SHA256\", \"TLS_AES_128_CCM_SHA256\"];\n"
		"  groups = [\"X25519\", \"X448\", \"P-256\", \"P-384\", \"P-521\"];\n"
		"  signature_algorithms = [\"ecdsa_secp256r1_sha256\", \"ecdsa_secp384r1_sha384\",\n"
		"  \"ecdsa_secp521r1_sha512\", \"ed25519\", \"ed448\", \"rsa_pss_rsae_sha256\",\n"
		"  \"rsa_pss_rsae_sha384\", \"rsa_pss_rsae_sha512\", \"rsa_pss_pss_sha256\",\n"
		"  \"rsa_pss_pss_sha384\", \"rsa_pss_pss_sha512\"]; };\n";
	struct mg_policy_src *s = parse_ok(text, DATA);
	struct mg_policy_tls_view tls;
	struct mg_policy *p = NULL;
	SSL_CTX *ctx = SSL_CTX_new(TLS_method());

	(void)state;
	assert_int_equal(mg_policy_compile(s, &p), 0);
	mg_policy_tls(p, &tls);
	assert_int_equal(tls.min_version, TLS1_3_VERSION);
	assert_int_equal(SSL_CTX_set_ciphersuites(ctx, tls.ciphersuites), 1);
	assert_int_equal(SSL_CTX_set1_groups_list(ctx, tls.groups), 1);
	assert_int_equal(SSL_CTX_set1_sigalgs_list(ctx, tls.sigalgs), 1);
	assert_string_equal(tls.groups, "X25519:X448:P-256:P-384:P-521");
	SSL_CTX_free(ctx);
	mg_policy_free(p);
	mg_policy_src_free(s);
}

/* The payload form: PEM inline, no files; comments, order and layout differ. */
static void payload_is_self_contained_and_canonical(void **state)
{
	size_t len, out1_len, out2_len;
	char *text = slurp(DATA "/basic.conf", &len), *out1, *out2;
	const char *reordered =
		"rules = (\n"
		"  { action = \"deny\"; name = \"no-batch\"; to = { workload = \"web\"; };\n"
		"    from = [\"spiffe://example.org/ns/batch/*\"]; },\n"
		"  { name = \"partners-read-api\"; action = \"allow\"; from = [\"spiffe://partner.org/*\"];\n"
		"    to = { workload = \"web\"; ports = [8443, 8080]; };\n"
		"    http = { hosts = [\"web.example.org\"]; methods = [\"HEAD\", \"GET\"]; paths = [\"/api/*\"]; }; },\n"
		"  { name = \"frontend-to-web\"; action = \"allow\"; to = { ports = [8080]; workload = \"web\"; };\n"
		"    from = (\"spiffe://example.org/ns/prod/sa/frontend\"); }\n"
		");\n"
		"default_action = \"deny\";\n"
		"services = ( { name = \"web\"; workload = \"web\"; address = \"198.18.10.1\";\n"
		"  ports = ( { target_port = 8080; port = 80; } ); } );\n"
		"workloads = ( { name = \"frontend\"; spiffe_id = \"spiffe://example.org/ns/prod/sa/frontend\";\n"
		"  addresses = (\"198.18.1.2\"); ports = []; images = []; },\n"
		" { name = \"web\"; spiffe_id = \"spiffe://example.org/ns/prod/sa/web\"; ports = [8080, 8443];\n"
		"  images = [\"sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae\"];\n"
		"  addresses = [\"198.18.2.2\"]; } );\n"
		"trust_domains = ( { bundle_file = \"partner.org.pem\"; name = \"partner.org\"; },\n"
		"  { name = \"example.org\"; bundle_file = \"example.org-bundle.pem\"; } );\n";
	struct mg_policy_src *s;

	(void)state;
	assert_int_equal(mg_policy_inline_files(text, len, "basic.conf", DATA, &out1, &out1_len), 0);
	assert_int_equal(mg_policy_inline_files(reordered, strlen(reordered), "r", DATA, &out2,
						&out2_len),
			 0);
	assert_int_equal(out1_len, out2_len);
	assert_memory_equal(out1, out2, out1_len);
	assert_null(strstr(out1, "bundle_file"));
	/* The payload parses with no directory at all and normalizes to itself. */
	s = parse_ok(out1, NULL);
	free(out2);
	assert_int_equal(mg_policy_normalize_buf(s, &out2, &out2_len), 0);
	assert_int_equal(out1_len, out2_len);
	assert_memory_equal(out1, out2, out1_len);
	mg_policy_src_free(s);
	free(out1);
	free(out2);
	free(text);
}

/* libconfig keeps lines in 16 bits; messages must still name the true line. */
static void line_numbers_beyond_65535(void **state)
{
	const char *head = "trust_domains = ( { name = \"example.org\"; bundle_file = \"example.org.pem\"; } );\n";
	size_t n = strlen(head) + 70000 * 2 + 64;
	char *text = malloc(n), *p = text;
	struct mg_policy_src *s = NULL;

	(void)state;
	/* Settings at most 60000 lines apart, the last one past line 65535. */
	p += sprintf(p, "%s", head);
	for (int i = 0; i < 60000; i++)
		p += sprintf(p, "\n");
	p += sprintf(p, "workloads = ();\n");
	for (int i = 0; i < 10000; i++)
		p += sprintf(p, "\n");
	sprintf(p, "bogus = 1;\n");
	assert_int_equal(mg_policy_parse(text, strlen(text), "big", DATA, &s), -1);
	assert_int_equal(mg_errno(), MG_ERR_CONFIG_UNKNOWN_FIELD);
	assert_non_null(strstr(mg_errmsg(), "big:70003: bogus: "));
	free(text);
}

/* ---------------------------------------------------------------------- */
/* Invalid policies: the exact code, line and field of each. */

#define WEB                                                                          \
	"workloads = ( { name = \"web\"; spiffe_id = \"spiffe://example.org/sa/web\";\n"   \
	"  addresses = [\"198.18.2.2\"]; ports = [8080]; } );\n"

struct bad {
	const char *name;
	const char *text;
	bool payload;       /* parse as a snapshot payload: no files */
	enum mg_err code;
	unsigned line;
	const char *field;  /* "" to skip the field check */
	const char *says;   /* part of the problem sentence */
};

static const struct bad bad_cases[] = {
	{ "unknown_top_field", TD2 "version = 3;\n", false, MG_ERR_CONFIG_UNKNOWN_FIELD, 3,
	  "version", "unknown field (known here: default_action, trust_domains" },
	{ "unknown_workload_field", TD2
	  "workloads = ( { name = \"web\"; spiffe_id = \"spiffe://example.org/a\";\n"
	  "  portz = [1]; } );\n", false, MG_ERR_CONFIG_UNKNOWN_FIELD, 4, "workloads[0].portz",
	  "unknown field" },
	{ "unknown_rule_to_field", TD2 WEB
	  "rules = ( { name = \"r\"; action = \"allow\"; from = [\"spiffe://example.org/*\"];\n"
	  "  to = { workload = \"web\";\n  port = 8080; }; } );\n", false,
	  MG_ERR_CONFIG_UNKNOWN_FIELD, 7, "rules[0].to.port", "known here: workload, ports" },
	{ "default_allow_refused", TD2 "default_action = \"allow\";\n", false,
	  MG_ERR_CONFIG_VALUE, 3, "default_action", "only \"deny\" is accepted" },
	{ "trust_domains_missing", "rules = ();\n", false, MG_ERR_CONFIG_MISSING, 1,
	  "trust_domains", "required field is missing" },
	{ "trust_domains_empty", "trust_domains = ();\n", false, MG_ERR_CONFIG_VALUE, 1,
	  "trust_domains", "names no trust domain" },
	{ "trust_domain_upper_case",
	  "trust_domains = ( { name = \"Example.org\"; bundle_file = \"example.org.pem\"; } );\n",
	  false, MG_ERR_CONFIG_VALUE, 1, "trust_domains[0].name", "upper-case" },
	{ "trust_domain_twice",
	  "trust_domains = ( { name = \"example.org\"; bundle_file = \"example.org.pem\"; },\n"
	  "  { name = \"example.org\"; bundle_file = \"example.org-bundle.pem\"; } );\n",
	  false, MG_ERR_CONFIG_VALUE, 2, "trust_domains[1].name", "declared twice (also at line 1)" },
	{ "bundle_pem_and_file",
	  "trust_domains = ( { name = \"example.org\"; bundle_file = \"example.org.pem\";\n"
	  "  bundle_pem = \"x\"; } );\n", false, MG_ERR_CONFIG_VALUE, 1,
	  "trust_domains[0].bundle_file", "not both" },
	{ "bundle_missing", "trust_domains = ( { name = \"example.org\"; } );\n", false,
	  MG_ERR_CONFIG_MISSING, 1, "trust_domains[0].bundle_pem", "required field is missing" },
	{ "bundle_not_a_ca",
	  "trust_domains = ( { name = \"example.org\";\n  bundle_file = \"leaf.pem\"; } );\n",
	  false, MG_ERR_CONFIG_VALUE, 2, "trust_domains[0].bundle_file", "not a CA" },
	{ "bundle_file_in_payload",
	  "trust_domains = ( { name = \"example.org\";\n  bundle_file = \"example.org.pem\"; } );\n",
	  true, MG_ERR_CONFIG_VALUE, 2, "trust_domains[0].bundle_file", "self-contained" },
	{ "bundle_file_missing_file",
	  "trust_domains = ( { name = \"example.org\"; bundle_file = \"nope.pem\"; } );\n", false,
	  MG_ERR_IO, 1, "trust_domains[0].bundle_file", "cannot read" },
	{ "bundle_garbage",
	  "trust_domains = ( { name = \"example.org\";\n  bundle_pem = \"hello\"; } );\n", true,
	  MG_ERR_CONFIG_VALUE, 2, "trust_domains[0].bundle_pem", "text outside the certificate" },
	{ "bundle_private_key",
	  "trust_domains = ( { name = \"example.org\"; bundle_pem =\n"
	  "  \"-----BEGIN PRIVATE KEY-----\\nMC4CAQAwBQYDK2VwBCIEIA==\\n-----END PRIVATE KEY-----\\n\"; } );\n",
	  true, MG_ERR_CONFIG_VALUE, 1, "trust_domains[0].bundle_pem", "private key" },
	{ "bundle_bad_base64",
	  "trust_domains = ( { name = \"example.org\"; bundle_pem =\n"
	  "  \"-----BEGIN CERTIFICATE-----\\n!!!!\\n-----END CERTIFICATE-----\\n\"; } );\n",
	  true, MG_ERR_CONFIG_VALUE, 1, "trust_domains[0].bundle_pem", "not valid PEM" },
	{ "tls_min_version_12", TD2 "tls = {\n  min_version = \"1.2\"; };\n", false,
	  MG_ERR_CONFIG_VALUE, 4, "tls.min_version", "only \"1.3\"" },
	{ "tls_unknown_suite", TD2
	  "tls = { ciphersuites = [\"TLS_AES_128_GCM_SHA256\",\n \"TLS_RSA_WITH_RC4_128_MD5\"]; };\n",
	  false, MG_ERR_CONFIG_VALUE, 4, "tls.ciphersuites[1]", "not a TLS 1.3 cipher suite" },
	{ "tls_group_twice", TD2 "tls = { groups = [\"X25519\", \"X25519\"]; };\n", false,
	  MG_ERR_CONFIG_VALUE, 3, "tls.groups[1]", "listed twice" },
	{ "tls_empty_sigalgs", TD2 "tls = { signature_algorithms = []; };\n", false,
	  MG_ERR_CONFIG_VALUE, 3, "tls.signature_algorithms", "at least one" },
	{ "tls_not_a_group", TD2 "tls = \"1.3\";\n", false, MG_ERR_CONFIG_TYPE, 3, "tls",
	  "expected a group" },
	{ "workloads_not_a_list", TD2 "workloads = { name = \"web\"; };\n", false,
	  MG_ERR_CONFIG_TYPE, 3, "workloads", "expected a list" },
	{ "workload_bad_name", TD2
	  "workloads = ( { name = \"Web\"; spiffe_id = \"spiffe://example.org/a\"; } );\n", false,
	  MG_ERR_CONFIG_VALUE, 3, "workloads[0].name", "must start with [a-z0-9]" },
	{ "workload_name_too_long", TD2
	  "workloads = ( { name = \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\";\n"
	  "  spiffe_id = \"spiffe://example.org/a\"; } );\n", false, MG_ERR_CONFIG_RANGE, 3,
	  "workloads[0].name", "at most 63" },
	{ "workload_bad_spiffe_id", TD2
	  "workloads = ( { name = \"web\";\n  spiffe_id = \"spiffe://example.org/a//b\"; } );\n",
	  false, MG_ERR_CONFIG_VALUE, 4, "workloads[0].spiffe_id", "empty segment" },
	{ "workload_spiffe_id_empty_path", TD2
	  "workloads = ( { name = \"web\"; spiffe_id = \"spiffe://example.org\"; } );\n", false,
	  MG_ERR_CONFIG_VALUE, 3, "workloads[0].spiffe_id", "names the trust domain" },
	{ "workload_undeclared_domain", TD2
	  "workloads = ( { name = \"web\"; spiffe_id = \"spiffe://other.org/a\"; } );\n", false,
	  MG_ERR_CONFIG_VALUE, 3, "workloads[0].spiffe_id", "not declared in trust_domains" },
	{ "workload_spiffe_id_missing", TD2 "workloads = ( { name = \"web\"; } );\n", false,
	  MG_ERR_CONFIG_MISSING, 3, "workloads[0].spiffe_id", "required field is missing" },
	{ "workload_bad_address", TD2
	  "workloads = ( { name = \"web\"; spiffe_id = \"spiffe://example.org/a\";\n"
	  "  addresses = [\"198.18.2.1\",\n \"198.18.2.256\"]; } );\n", false,
	  MG_ERR_CONFIG_VALUE, 5, "workloads[0].addresses[1]", "not an IPv4 address" },
	{ "workload_address_leading_zero", TD2
	  "workloads = ( { name = \"web\"; spiffe_id = \"spiffe://example.org/a\";\n"
	  "  addresses = [\"198.018.2.1\"]; } );\n", false, MG_ERR_CONFIG_VALUE, 4,
	  "workloads[0].addresses[0]", "not an IPv4 address" },
	{ "workload_loopback", TD2
	  "workloads = ( { name = \"web\"; spiffe_id = \"spiffe://example.org/a\";\n"
	  "  addresses = [\"127.0.0.1\"]; } );\n", false, MG_ERR_CONFIG_VALUE, 4,
	  "workloads[0].addresses[0]", "loopback" },
	{ "address_two_owners", TD2
	  "workloads = ( { name = \"a\"; spiffe_id = \"spiffe://example.org/a\";\n"
	  "  addresses = [\"198.18.2.2\"]; },\n"
	  "  { name = \"b\"; spiffe_id = \"spiffe://example.org/b\";\n"
	  "  addresses = [\"198.18.2.3\", \"198.18.2.2\"]; } );\n", false, MG_ERR_CONFIG_VALUE, 6,
	  "workloads[1].addresses[1]", "already used at line 4" },
	{ "port_zero", TD2
	  "workloads = ( { name = \"web\"; spiffe_id = \"spiffe://example.org/a\";\n"
	  "  ports = [0]; } );\n", false, MG_ERR_CONFIG_RANGE, 4, "workloads[0].ports[0]",
	  "outside 1..65535" },
	{ "port_too_big", TD2
	  "workloads = ( { name = \"web\"; spiffe_id = \"spiffe://example.org/a\";\n"
	  "  ports = [80, 70000]; } );\n", false, MG_ERR_CONFIG_RANGE, 4, "workloads[0].ports[1]",
	  "70000 is outside" },
	{ "port_is_a_string", TD2
	  "workloads = ( { name = \"web\"; spiffe_id = \"spiffe://example.org/a\";\n"
	  "  ports = [\"80\"]; } );\n", false, MG_ERR_CONFIG_TYPE, 4, "workloads[0].ports[0]",
	  "expected an integer" },
	{ "port_is_a_float", TD2
	  "workloads = ( { name = \"web\"; spiffe_id = \"spiffe://example.org/a\";\n"
	  "  ports = [80.0]; } );\n", false, MG_ERR_CONFIG_TYPE, 4, "workloads[0].ports[0]",
	  "expected an integer" },
	{ "port_twice", TD2
	  "workloads = ( { name = \"web\"; spiffe_id = \"spiffe://example.org/a\";\n"
	  "  ports = [80, 443, 80]; } );\n", false, MG_ERR_CONFIG_VALUE, 4, "workloads[0].ports[2]",
	  "listed twice" },
	{ "image_bad_digest", TD2
	  "workloads = ( { name = \"web\"; spiffe_id = \"spiffe://example.org/a\";\n"
	  "  images = [\"sha256:ABCD\"]; } );\n", false, MG_ERR_CONFIG_VALUE, 4,
	  "workloads[0].images[0]", "not an image digest" },
	{ "workload_name_twice", TD2
	  "workloads = ( { name = \"web\"; spiffe_id = \"spiffe://example.org/a\"; },\n"
	  "  { name = \"web\"; spiffe_id = \"spiffe://example.org/b\"; } );\n", false,
	  MG_ERR_CONFIG_VALUE, 4, "workloads[1].name", "another workload (line 3)" },
	{ "spiffe_id_twice", TD2
	  "workloads = ( { name = \"a\"; spiffe_id = \"spiffe://example.org/a\"; },\n"
	  "  { name = \"b\";\n spiffe_id = \"spiffe://example.org/a\"; } );\n", false,
	  MG_ERR_CONFIG_VALUE, 5, "workloads[1].spiffe_id", "another workload" },
	{ "service_unknown_workload", TD2 WEB
	  "services = ( { name = \"s\"; address = \"198.18.10.1\";\n  workload = \"webb\";\n"
	  "  ports = ( { port = 80; target_port = 8080; } ); } );\n", false, MG_ERR_CONFIG_VALUE,
	  6, "services[0].workload", "no workload is named \"webb\"" },
	{ "service_target_not_served", TD2 WEB
	  "services = ( { name = \"s\"; address = \"198.18.10.1\"; workload = \"web\";\n"
	  "  ports = ( { port = 80;\n target_port = 8081; } ); } );\n", false, MG_ERR_CONFIG_VALUE,
	  7, "services[0].ports[0].target_port", "does not serve port 8081" },
	{ "service_address_is_a_workloads", TD2 WEB
	  "services = ( { name = \"s\";\n address = \"198.18.2.2\"; workload = \"web\";\n"
	  "  ports = ( { port = 80; target_port = 8080; } ); } );\n", false, MG_ERR_CONFIG_VALUE,
	  6, "services[0].address", "already used at line 4" },
	{ "service_ports_missing", TD2 WEB
	  "services = ( { name = \"s\"; address = \"198.18.10.1\"; workload = \"web\"; } );\n",
	  false, MG_ERR_CONFIG_MISSING, 5, "services[0].ports", "required field is missing" },
	{ "rule_from_missing", TD2 WEB
	  "rules = ( { name = \"r\"; action = \"allow\"; to = { workload = \"web\"; }; } );\n",
	  false, MG_ERR_CONFIG_MISSING, 5, "rules[0].from", "required field is missing" },
	{ "rule_from_bad_pattern", TD2 WEB
	  "rules = ( { name = \"r\"; action = \"allow\";\n"
	  "  from = [\"spiffe://example.org/a\",\n \"spiffe://example.org/*/b\"];\n"
	  "  to = { workload = \"web\"; }; } );\n", false, MG_ERR_CONFIG_VALUE, 7,
	  "rules[0].from[1]", "not a SPIFFE ID or" },
	{ "rule_from_trust_domain_id", TD2 WEB
	  "rules = ( { name = \"r\"; action = \"allow\"; from = [\"spiffe://example.org\"];\n"
	  "  to = { workload = \"web\"; }; } );\n", false, MG_ERR_CONFIG_VALUE, 5,
	  "rules[0].from[0]", "spiffe://example.org/*" },
	{ "rule_from_undeclared_domain", TD2 WEB
	  "rules = ( { name = \"r\"; action = \"allow\";\n"
	  "  from = [\"spiffe://example.org/a\", \"spiffe://evil.org/*\"];\n"
	  "  to = { workload = \"web\"; }; } );\n", false, MG_ERR_CONFIG_VALUE, 6,
	  "rules[0].from[1]", "\"evil.org\" is not declared" },
	{ "rule_from_twice", TD2 WEB
	  "rules = ( { name = \"r\"; action = \"allow\";\n"
	  "  from = [\"spiffe://example.org/a\",\n \"spiffe://example.org/a\"];\n"
	  "  to = { workload = \"web\"; }; } );\n", false, MG_ERR_CONFIG_VALUE, 7,
	  "rules[0].from[1]", "listed twice (also at line 6)" },
	{ "rule_unknown_workload", TD2 WEB
	  "rules = ( { name = \"r\"; action = \"allow\"; from = [\"spiffe://example.org/*\"];\n"
	  "  to = { workload = \"db\"; }; } );\n", false, MG_ERR_CONFIG_VALUE, 6,
	  "rules[0].to.workload", "no workload is named \"db\"" },
	{ "rule_port_not_served", TD2 WEB
	  "rules = ( { name = \"r\"; action = \"allow\"; from = [\"spiffe://example.org/*\"];\n"
	  "  to = { workload = \"web\";\n  ports = [8080, 9090]; }; } );\n", false,
	  MG_ERR_CONFIG_VALUE, 7, "rules[0].to.ports[1]", "does not serve port 9090" },
	{ "rule_to_portless_workload", TD2
	  "workloads = ( { name = \"cli\"; spiffe_id = \"spiffe://example.org/cli\"; } );\n"
	  "rules = ( { name = \"r\"; action = \"allow\"; from = [\"spiffe://example.org/*\"];\n"
	  "  to = { workload = \"cli\"; }; } );\n", false, MG_ERR_CONFIG_VALUE, 5,
	  "rules[0].to.workload", "serves no port" },
	{ "rule_bad_action", TD2 WEB
	  "rules = ( { name = \"r\";\n  action = \"permit\"; from = [\"spiffe://example.org/*\"];\n"
	  "  to = { workload = \"web\"; }; } );\n", false, MG_ERR_CONFIG_VALUE, 6,
	  "rules[0].action", "expected \"allow\" or \"deny\"" },
	{ "rule_name_twice", TD2 WEB
	  "rules = ( { name = \"r\"; action = \"allow\"; from = [\"spiffe://example.org/*\"];\n"
	  "  to = { workload = \"web\"; }; },\n"
	  "  { name = \"r\"; action = \"deny\"; from = [\"spiffe://partner.org/*\"];\n"
	  "  to = { workload = \"web\"; }; } );\n", false, MG_ERR_CONFIG_VALUE, 7,
	  "rules[1].name", "declared twice (also at line 5)" },
	{ "rule_http_empty", TD2 WEB
	  "rules = ( { name = \"r\"; action = \"allow\"; from = [\"spiffe://example.org/*\"];\n"
	  "  to = { workload = \"web\"; };\n  http = { methods = []; }; } );\n", false,
	  MG_ERR_CONFIG_VALUE, 7, "rules[0].http", "names no method, path or host" },
	{ "rule_http_lower_case_method", TD2 WEB
	  "rules = ( { name = \"r\"; action = \"allow\"; from = [\"spiffe://example.org/*\"];\n"
	  "  to = { workload = \"web\"; }; http = { methods = [\"get\"]; }; } );\n", false,
	  MG_ERR_CONFIG_VALUE, 6, "rules[0].http.methods[0]", "upper-case method" },
	{ "rule_http_path_query", TD2 WEB
	  "rules = ( { name = \"r\"; action = \"allow\"; from = [\"spiffe://example.org/*\"];\n"
	  "  to = { workload = \"web\"; }; http = { paths = [\"/a?b=1\"]; }; } );\n", false,
	  MG_ERR_CONFIG_VALUE, 6, "rules[0].http.paths[0]", "no query or fragment" },
	{ "rule_http_path_inner_star", TD2 WEB
	  "rules = ( { name = \"r\"; action = \"allow\"; from = [\"spiffe://example.org/*\"];\n"
	  "  to = { workload = \"web\"; }; http = { paths = [\"/a/*/b\"]; }; } );\n", false,
	  MG_ERR_CONFIG_VALUE, 6, "rules[0].http.paths[0]", "last segment" },
	{ "rule_http_host_port", TD2 WEB
	  "rules = ( { name = \"r\"; action = \"allow\"; from = [\"spiffe://example.org/*\"];\n"
	  "  to = { workload = \"web\"; }; http = { hosts = [\"web.example.org:8080\"]; }; } );\n",
	  false, MG_ERR_CONFIG_VALUE, 6, "rules[0].http.hosts[0]", "no port" },
	{ "syntax_error", TD2 "rules = ( { name = \"r\" } ;\n", false, MG_ERR_CONFIG_SYNTAX, 3,
	  "", "syntax error" },
	{ "include_refused", TD2 "  @include \"/etc/passwd\"\n", false, MG_ERR_CONFIG_SYNTAX, 3,
	  "@include", "not allowed" },
	{ "duplicate_setting", TD2 "rules = ();\nrules = ();\n", false, MG_ERR_CONFIG_SYNTAX, 4,
	  "", "duplicate setting" },
};

static void invalid_case(void **state)
{
	const struct bad *b = *state;
	struct mg_policy_src *src = NULL;
	char want[160];

	mg_error_clear();
	assert_int_equal(mg_policy_parse(b->text, strlen(b->text), "policy",
					 b->payload ? NULL : DATA, &src),
			 -1);
	assert_null(src);
	if (mg_errno() != b->code)
		fail_msg("%s: got %s (%s), want %s", b->name, mg_errname(mg_errno()), mg_errmsg(),
			 mg_errname(b->code));
	if (b->field[0])
		snprintf(want, sizeof(want), "policy:%u: %s: ", b->line, b->field);
	else
		snprintf(want, sizeof(want), "policy:%u: ", b->line);
	if (strncmp(mg_errmsg(), want, strlen(want)) != 0 || !strstr(mg_errmsg(), b->says))
		fail_msg("%s: message \"%s\", want \"%s...%s...\"", b->name, mg_errmsg(), want,
			 b->says);
}

static void nul_byte_refused(void **state)
{
	const char text[] = TD2 "rules = ();\0\n";
	struct mg_policy_src *src = NULL;

	(void)state;
	assert_int_equal(mg_policy_parse(text, sizeof(text) - 1, "policy", DATA, &src), -1);
	assert_int_equal(mg_errno(), MG_ERR_CONFIG_SYNTAX);
	assert_non_null(strstr(mg_errmsg(), "NUL byte at offset"));
}

static void too_many_froms(void **state)
{
	char *text = malloc(16384), *p = text;
	struct mg_policy_src *src = NULL;

	(void)state;
	p += sprintf(p, TD2 WEB "rules = ( { name = \"r\"; action = \"allow\";\n  from = [");
	for (int i = 0; i < MG_POLICY_MAX_FROM + 1; i++)
		p += sprintf(p, "%s\"spiffe://example.org/p%d\"", i ? ", " : "", i);
	sprintf(p, "]; to = { workload = \"web\"; }; } );\n");
	assert_int_equal(mg_policy_parse(text, strlen(text), "policy", DATA, &src), -1);
	assert_int_equal(mg_errno(), MG_ERR_CONFIG_RANGE);
	assert_non_null(strstr(mg_errmsg(), "policy:6: rules[0].from: has 65 entries, at most 64"));
	free(text);
}

static void text_size_capped(void **state)
{
	size_t n = MG_POLICY_MAX_TEXT + 1;
	char *text = malloc(n);
	struct mg_policy_src *src = NULL;

	(void)state;
	memset(text, ' ', n);
	assert_int_equal(mg_policy_parse(text, n, "policy", DATA, &src), -1);
	assert_int_equal(mg_errno(), MG_ERR_IO_TOO_BIG);
	free(text);
}

/* ---------------------------------------------------------------------- */
/* Golden normalized text. */

static void golden(const char *name)
{
	char conf[256], gold[256], *out = NULL, *want;
	struct mg_policy_src *s;
	size_t len = 0, want_len = 0;

	snprintf(conf, sizeof(conf), DATA "/%s.conf", name);
	snprintf(gold, sizeof(gold), GOLDEN "/%s.txt", name);
	s = parse_path(conf);
	assert_int_equal(mg_policy_normalize_buf(s, &out, &len), 0);
	mg_policy_src_free(s);
	if (getenv("MG_UPDATE_GOLDEN") != NULL) {
		FILE *f = fopen(gold, "w");

		assert_non_null(f);
		assert_int_equal(fwrite(out, 1, len, f), len);
		fclose(f);
	}
	want = slurp(gold, &want_len);
	if (want_len != len || memcmp(want, out, len) != 0)
		fail_msg("%s differs from the normalized %s (diff them; MG_UPDATE_GOLDEN=1 "
			 "rewrites it)", gold, conf);
	/* The golden text is a payload: it parses alone and is a fixed point. */
	free(out);
	s = parse_ok(want, NULL);
	assert_int_equal(mg_policy_normalize_buf(s, &out, &len), 0);
	assert_int_equal(len, want_len);
	assert_memory_equal(out, want, len);
	mg_policy_src_free(s);
	free(out);
	free(want);
}

static void golden_basic(void **state)
{
	(void)state;
	golden("basic");
}

static void golden_authz(void **state)
{
	(void)state;
	golden("authz");
}

static void golden_minimal(void **state)
{
	(void)state;
	golden("minimal");
}

/* ---------------------------------------------------------------------- */

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(basic_structure),
		cmocka_unit_test(tls_keeps_preference_order),
		cmocka_unit_test(tls_names_known_to_openssl),
		cmocka_unit_test(payload_is_self_contained_and_canonical),
		cmocka_unit_test(line_numbers_beyond_65535),
		cmocka_unit_test(nul_byte_refused),
		cmocka_unit_test(too_many_froms),
		cmocka_unit_test(text_size_capped),
		cmocka_unit_test(golden_basic),
		cmocka_unit_test(golden_authz),
		cmocka_unit_test(golden_minimal),
	};
	size_t n_bad = sizeof(bad_cases) / sizeof(bad_cases[0]);
	struct CMUnitTest *bad = calloc(n_bad, sizeof(*bad));
	int failed;

	/* One named cmocka case per invalid policy. */
	for (size_t i = 0; i < n_bad; i++)
		bad[i] = (struct CMUnitTest){ .name = bad_cases[i].name, .test_func = invalid_case,
					      .initial_state = (void *)&bad_cases[i] };
	failed = cmocka_run_group_tests_name("policy", tests, NULL, NULL);
	failed += _cmocka_run_group_tests("policy_invalid", bad, n_bad, NULL, NULL);
	free(bad);
	return failed;
}
