/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The compiled policy: authorize connections and HTTP requests against
 * tests/data/policy/authz.conf, compiled facts, the deny-all policy, sealing
 * and tamper detection, and a 10 000-rule / 1 000-workload policy.
 * Runs from tests/unit (meson workdir); needs no EAL.
 */
#include <fcntl.h>
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
/* Compiled decisions (tests/data/policy/authz.conf). */

#define FRONTEND "spiffe://example.org/ns/prod/sa/frontend"
#define WEB_ID "spiffe://example.org/ns/prod/sa/web"
#define JOB "spiffe://example.org/ns/prod/sa/job"
#define IMG_A "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define IMG_C "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

static struct mg_policy_l7 *authz_l7; /* the matcher of the policy in *state */

static int authz_setup(void **state)
{
	*state = compile_path(DATA "/authz.conf");
	return *state == NULL || mg_policy_l7_build(*state, 1, &authz_l7) != 0;
}

static int authz_teardown(void **state)
{
	mg_policy_l7_free(authz_l7);
	authz_l7 = NULL;
	mg_policy_free(*state);
	return 0;
}

static void expect(const struct mg_policy *p, const char *id, const char *dst, uint16_t port,
		   const char *image, enum mg_authz want, const char *rule)
{
	uint32_t rule_id = 12345;
	enum mg_authz got = mg_policy_authorize(p, id, ip(dst), port, image, &rule_id);

	if (got != want)
		fail_msg("%s -> %s:%u: %s, want %s", id, dst, port, mg_authz_name(got),
			 mg_authz_name(want));
	if (rule == NULL)
		assert_int_equal(rule_id, MG_POLICY_NO_RULE);
	else
		assert_string_equal(mg_policy_rule_name(p, rule_id), rule);
}

static void authz_exact_identity(void **state)
{
	const struct mg_policy *p = *state;

	expect(p, FRONTEND, "198.18.2.2", 8080, NULL, MG_AUTHZ_ALLOW, "frontend-web");
	expect(p, FRONTEND, "198.18.2.3", 8080, NULL, MG_AUTHZ_ALLOW, "frontend-web");
	expect(p, WEB_ID, "198.18.2.10", 5432, NULL, MG_AUTHZ_ALLOW, "web-db");
}

static void authz_wrong_port(void **state)
{
	expect(*state, FRONTEND, "198.18.2.2", 8443, NULL, MG_AUTHZ_DENY_NO_RULE, NULL);
}

static void authz_wrong_identity(void **state)
{
	expect(*state, FRONTEND, "198.18.2.10", 5432, NULL, MG_AUTHZ_DENY_NO_RULE, NULL);
	expect(*state, "spiffe://example.org/ns/prod/sa/web2", "198.18.2.10", 5432, NULL,
	       MG_AUTHZ_DENY_NO_RULE, NULL);
}

static void authz_path_prefix_wildcard(void **state)
{
	const struct mg_policy *p = *state;

	expect(p, WEB_ID, "198.18.2.2", 9090, NULL, MG_AUTHZ_ALLOW, "prod-metrics");
	expect(p, "spiffe://example.org/ns/prod/x/y/z", "198.18.2.2", 9090, NULL, MG_AUTHZ_ALLOW,
	       "prod-metrics");
	/* strictly beneath, on a segment boundary */
	expect(p, "spiffe://example.org/ns/prod", "198.18.2.2", 9090, NULL, MG_AUTHZ_DENY_NO_RULE,
	       NULL);
	expect(p, "spiffe://example.org/ns/production/x", "198.18.2.2", 9090, NULL,
	       MG_AUTHZ_DENY_NO_RULE, NULL);
	expect(p, "spiffe://example.org/ns/quarantine/x", "198.18.2.2", 9090, NULL,
	       MG_AUTHZ_DENY_RULE, "quarantine");
}

static void authz_deny_overrides_allow(void **state)
{
	/* prod-metrics (prefix) allows frontend, quarantine (exact) denies it */
	expect(*state, FRONTEND, "198.18.2.2", 9090, NULL, MG_AUTHZ_DENY_RULE, "quarantine");
}

static void authz_trust_domain_wildcard(void **state)
{
	const struct mg_policy *p = *state;

	/* partner-api has HTTP terms: admitted for per-request checks */
	expect(p, "spiffe://partner.org/ns/a/sa/b", "198.18.2.2", 8443, NULL, MG_AUTHZ_ALLOW_L7,
	       "partner-api");
	expect(p, "spiffe://partner.org/x", "198.18.2.2", 8080, NULL, MG_AUTHZ_DENY_NO_RULE, NULL);
	/* a plain allow, but a deny rule with HTTP terms also matches: L7 needed */
	expect(p, "spiffe://partner.org/ns/status/probe", "198.18.2.2", 8443, NULL,
	       MG_AUTHZ_ALLOW_L7, "partner-status");
}

static void authz_images(void **state)
{
	const struct mg_policy *p = *state;

	expect(p, JOB, "198.18.2.10", 5432, IMG_A, MG_AUTHZ_ALLOW, "job-db");
	expect(p, JOB, "198.18.2.10", 5432, IMG_C, MG_AUTHZ_IMAGE_NOT_ALLOWED, NULL);
	expect(p, JOB, "198.18.2.10", 5432, NULL, MG_AUTHZ_IMAGE_NOT_ALLOWED, NULL);
	expect(p, JOB, "198.18.2.10", 5432, "sha256:aaaa", MG_AUTHZ_IMAGE_NOT_ALLOWED, NULL);
	expect(p, JOB, "198.18.2.10", 5432, IMG_A "a", MG_AUTHZ_IMAGE_NOT_ALLOWED, NULL);
	/* workloads that list no image accept any (or none) */
	expect(p, WEB_ID, "198.18.2.10", 5432, IMG_C, MG_AUTHZ_ALLOW, "web-db");
}

static void authz_unknown_destination(void **state)
{
	const struct mg_policy *p = *state;

	expect(p, FRONTEND, "198.18.2.99", 8080, NULL, MG_AUTHZ_DENY_UNKNOWN_WORKLOAD, NULL);
	expect(p, FRONTEND, "198.18.2.2", 1, NULL, MG_AUTHZ_DENY_UNKNOWN_PORT, NULL);
	/* frontend's address: a workload that serves no port */
	expect(p, WEB_ID, "198.18.1.2", 8080, NULL, MG_AUTHZ_DENY_UNKNOWN_PORT, NULL);
}

static void authz_service_address(void **state)
{
	const struct mg_policy *p = *state;
	uint32_t w = 0;
	uint16_t port = 0;

	expect(p, WEB_ID, "198.18.10.10", 15432, NULL, MG_AUTHZ_ALLOW, "web-db");
	expect(p, WEB_ID, "198.18.10.10", 5432, NULL, MG_AUTHZ_ALLOW, "web-db");
	expect(p, WEB_ID, "198.18.10.10", 80, NULL, MG_AUTHZ_DENY_UNKNOWN_PORT, NULL);
	assert_int_equal(mg_policy_resolve(p, ip("198.18.10.10"), 15432, &w, &port),
			 MG_AUTHZ_ALLOW);
	assert_int_equal(port, 5432);
	assert_string_equal(mg_policy_workload_spiffe_id(p, w), "spiffe://example.org/ns/prod/sa/db");
	assert_int_equal(mg_policy_workload_by_addr(p, ip("198.18.10.10")), -1);
	assert_string_equal(mg_policy_workload_name(p, (uint32_t)mg_policy_workload_by_addr(
						       p, ip("198.18.2.3"))),
			    "web");
}

static void authz_bad_and_untrusted_identity(void **state)
{
	const struct mg_policy *p = *state;

	expect(p, "spiffe://Example.org/ns/prod/sa/frontend", "198.18.2.2", 8080, NULL,
	       MG_AUTHZ_DENY_BAD_IDENTITY, NULL);
	expect(p, "spiffe://example.org", "198.18.2.2", 8080, NULL, MG_AUTHZ_DENY_BAD_IDENTITY,
	       NULL);
	expect(p, NULL, "198.18.2.2", 8080, NULL, MG_AUTHZ_DENY_BAD_IDENTITY, NULL);
	expect(p, "spiffe://evil.org/ns/prod/sa/frontend", "198.18.2.2", 8080, NULL,
	       MG_AUTHZ_DENY_UNTRUSTED_DOMAIN, NULL);
	expect(p, "spiffe://example.orgx/ns/prod/sa/frontend", "198.18.2.2", 8080, NULL,
	       MG_AUTHZ_DENY_UNTRUSTED_DOMAIN, NULL);
}

static void http(const struct mg_policy *p, const char *id, const char *method, const char *host,
		 const char *path, enum mg_authz want, const char *rule)
{
	struct mg_policy_http_req req = { method, host, path, method ? strlen(method) : 0,
					  host ? strlen(host) : 0, path ? strlen(path) : 0 };
	uint32_t rule_id = 0;
	enum mg_authz got = mg_policy_authorize_http(p, authz_l7, 0, id, ip("198.18.2.2"), 8443,
						     NULL, &req, &rule_id);

	if (got != want)
		fail_msg("%s %s%s: %s, want %s", method, host, path, mg_authz_name(got),
			 mg_authz_name(want));
	if (rule == NULL)
		assert_int_equal(rule_id, MG_POLICY_NO_RULE);
	else
		assert_string_equal(mg_policy_rule_name(p, rule_id), rule);
}

static void authz_http_requests(void **state)
{
	const struct mg_policy *p = *state;
	const char *partner = "spiffe://partner.org/ns/a";

	http(p, partner, "GET", "web.example.org", "/api/v1/items", MG_AUTHZ_ALLOW, "partner-api");
	http(p, partner, "GET", "WEB.Example.ORG:8443", "/health?verbose=1", MG_AUTHZ_ALLOW,
	     "partner-api");
	http(p, partner, "POST", "web.example.org", "/api/v1/items", MG_AUTHZ_DENY_NO_RULE, NULL);
	http(p, partner, "GET", "web.example.org", "/healthz", MG_AUTHZ_DENY_NO_RULE, NULL);
	http(p, partner, "GET", "example.org", "/health", MG_AUTHZ_DENY_NO_RULE, NULL);
	http(p, partner, "GET", NULL, "/health", MG_AUTHZ_DENY_NO_RULE, NULL);
	http(p, partner, "GET", "web.example.org", "/api", MG_AUTHZ_DENY_NO_RULE, NULL);
	http(p, partner, "GET", "web.example.org", "/api/admin/users", MG_AUTHZ_DENY_RULE,
	     "partner-no-admin");
	/* the plain allow admits any request unless a deny rule's terms match */
	http(p, "spiffe://partner.org/ns/status/x", "DELETE", "x", "/anything", MG_AUTHZ_ALLOW,
	     "partner-status");
	http(p, "spiffe://partner.org/ns/status/x", "GET", "x", "/api/admin/", MG_AUTHZ_DENY_RULE,
	     "partner-no-admin");
}

static void authz_names(void **state)
{
	(void)state;
	assert_string_equal(mg_authz_name(MG_AUTHZ_ALLOW), "allow");
	assert_string_equal(mg_authz_name(MG_AUTHZ_IMAGE_NOT_ALLOWED), "image_not_allowed");
	assert_string_equal(mg_authz_name(MG_AUTHZ_DENY_NO_RULE), "deny_no_rule");
	assert_string_equal(mg_authz_name(MG_AUTHZ__COUNT), "unknown");
	assert_true(mg_authz_allowed(MG_AUTHZ_ALLOW_L7));
	assert_false(mg_authz_allowed(MG_AUTHZ_DENY_RULE));
}

static void compiled_facts(void **state)
{
	const struct mg_policy *p = *state;
	size_t len = 0;

	assert_int_equal(mg_policy_n_rules(p), 8);
	assert_int_equal(mg_policy_n_workloads(p), 4);
	assert_int_equal(mg_policy_n_services(p), 1);
	assert_int_equal(mg_policy_n_trust_domains(p), 2);
	assert_null(mg_policy_rule_name(p, 8));
	assert_string_equal(mg_policy_td_name(p, 1), "partner.org");
	assert_int_equal(mg_policy_td_find(p, "partner.org", 11), 1);
	assert_int_equal(mg_policy_td_find(p, "partner.orgx", 11), 1);
	assert_int_equal(mg_policy_td_find(p, "partner.or", 10), -1);
	assert_non_null(strstr(mg_policy_td_bundle(p, 0, &len), "-----BEGIN CERTIFICATE-----"));
	assert_true(len > 100);
	assert_false(mg_policy_is_deny_all(p));
	assert_int_equal(mg_policy_arena_size(p) % (size_t)sysconf(_SC_PAGESIZE), 0);
}

/* conf/policy.conf parses and decides as its comments say. */
static void shipped_example(void **state)
{
	struct mg_policy *p = compile_path("../../conf/policy.conf");
	const char *img = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

	(void)state;
	expect(p, "spiffe://example.org/ns/demo/sa/client", "198.18.2.2", 80, NULL, MG_AUTHZ_ALLOW,
	       "client-to-backend");
	expect(p, "spiffe://example.org/ns/demo/sa/client", "198.18.10.2", 80, NULL,
	       MG_AUTHZ_ALLOW, "client-to-backend");
	expect(p, "spiffe://example.org/ns/demo/sa/client2", "198.18.2.2", 80, img,
	       MG_AUTHZ_ALLOW_L7, "client2-reads-backend");
	expect(p, "spiffe://example.org/ns/demo/sa/client2", "198.18.2.2", 80, NULL,
	       MG_AUTHZ_IMAGE_NOT_ALLOWED, NULL);
	expect(p, "spiffe://example.org/ns/ci/sa/runner", "198.18.2.2", 80, NULL,
	       MG_AUTHZ_DENY_RULE, "no-ci");
	mg_policy_free(p);
}

/* ---------------------------------------------------------------------- */
/* Sealing. */

static void deny_all_denies(void **state)
{
	struct mg_policy *p = NULL;
	struct mg_policy_tls_view tls;
	uint32_t rule = 0;

	(void)state;
	assert_int_equal(mg_policy_deny_all(&p), 0);
	assert_true(mg_policy_is_deny_all(p));
	assert_int_equal(mg_policy_authorize(p, FRONTEND, ip("198.18.2.2"), 8080, NULL, &rule),
			 MG_AUTHZ_DENY_ALL_POLICY);
	assert_int_equal(rule, MG_POLICY_NO_RULE);
	assert_int_equal(mg_policy_n_rules(p), 0);
	mg_policy_tls(p, &tls);
	assert_string_equal(tls.ciphersuites, "");
	assert_int_equal(mg_policy_seal(p), 0);
	assert_int_equal(mg_policy_check(p), 0);
	mg_policy_free(p);
}

static void seal_makes_read_only(void **state)
{
	struct mg_policy *p = compile_path(DATA "/authz.conf");
	uint8_t digest[MG_POLICY_DIGEST_LEN] = { 1, 2, 3 };
	volatile uint8_t *bytes = (volatile uint8_t *)p;
	int status = 0;
	pid_t pid;

	(void)state;
	assert_false(mg_policy_is_sealed(p));
	assert_int_equal(mg_policy_check(p), -1);
	assert_int_equal(mg_policy_set_meta(p, 7, digest, 3), 0);
	assert_int_equal(mg_policy_seal(p), 0);
	assert_true(mg_policy_is_sealed(p));
	assert_int_equal(mg_policy_check(p), 0);
	assert_int_equal(mg_policy_version(p), 7);
	assert_int_equal(mg_policy_generation(p), 3);
	assert_memory_equal(mg_policy_digest(p), digest, sizeof(digest));
	assert_int_equal(mg_policy_set_meta(p, 8, digest, 4), -1);
	assert_int_equal(mg_errno(), MG_ERR_USAGE);
	assert_int_equal(mg_policy_seal(p), -1);
	/* decisions still work on the sealed arena */
	expect(p, FRONTEND, "198.18.2.2", 8080, NULL, MG_AUTHZ_ALLOW, "frontend-web");

	/* A write into the sealed arena kills the writer. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL); /* cmocka catches it otherwise */
		bytes[mg_policy_arena_size(p) / 2] ^= 1;
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSEGV);
	assert_true(mg_policy_is_sealed(p));
	mg_policy_free(p);
}

static void tampering_detected(void **state)
{
	struct mg_policy *p = compile_path(DATA "/authz.conf");
	uint8_t *bytes = (uint8_t *)p;
	size_t size = mg_policy_arena_size(p);

	(void)state;
	assert_int_equal(mg_policy_seal(p), 0);
	/* Made writable behind the policy's back: no longer sealed. */
	assert_int_equal(mprotect(p, size, PROT_READ | PROT_WRITE), 0);
	assert_false(mg_policy_is_sealed(p));
	assert_int_equal(mg_policy_check(p), -1);
	assert_int_equal(mg_errno(), MG_ERR_INTERNAL);
	assert_non_null(strstr(mg_errmsg(), "not read-only"));
	/* A byte changed and read-only again: the hash tells. */
	bytes[1024] ^= 0x40;
	assert_int_equal(mprotect(p, size, PROT_READ), 0);
	assert_true(mg_policy_is_sealed(p));
	assert_int_equal(mg_policy_check(p), -1);
	assert_non_null(strstr(mg_errmsg(), "no longer hashes"));
	/* Only one page turned writable is enough to fail. */
	assert_int_equal(mprotect(bytes + size - 4096, 4096, PROT_READ | PROT_WRITE), 0);
	assert_false(mg_policy_is_sealed(p));
	/* Back as the pool handed it out: the arena is reused by later cases. */
	assert_int_equal(mprotect(p, size, PROT_READ), 0);
	mg_policy_free(p);
}

/* ---------------------------------------------------------------------- */
/* The arena pool: a swap maps, unmaps and mprotects nothing once warm. */

/* Mappings of arenas in /proc/self/maps (one per arena). */
static int arena_views(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];
	int n = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL)
		n += strstr(line, "mg-policy-arena") != NULL;
	fclose(f);
	return n;
}

static struct mg_policy *compile_sealed(const char *path, uint64_t generation)
{
	static const uint8_t digest[MG_POLICY_DIGEST_LEN] = { 9 };
	struct mg_policy *p = compile_path(path);

	assert_int_equal(mg_policy_set_meta(p, generation, digest, generation), 0);
	assert_int_equal(mg_policy_seal(p), 0);
	return p;
}

/*
 * 100 swaps as the loader makes them (compile the next, seal, publish, free
 * the previous): after the first two no arena is mapped or unmapped, the
 * two arenas alternate, each sealed one stays read-only and passes the check,
 * and a small policy compiled into a big reused arena finds only zeros past
 * its own bytes.
 */
static void arenas_reused(void **state)
{
	struct mg_policy_arena_stats a0, a1;
	struct mg_policy *active = compile_sealed(DATA "/authz.conf", 1), *next;
	const uint8_t *tail;
	int views;

	(void)state;
	next = compile_sealed(DATA "/authz.conf", 2);
	mg_policy_free(active);
	active = next;
	mg_policy_arena_stats(&a0);
	views = arena_views();
	for (uint64_t g = 3; g < 103; g++) {
		next = compile_sealed(DATA "/authz.conf", g);
		assert_true(mg_policy_is_sealed(next));
		assert_int_equal(mg_policy_check(next), 0);
		assert_int_equal(mg_policy_generation(next), g);
		expect(next, FRONTEND, "198.18.2.2", 8080, NULL, MG_AUTHZ_ALLOW, "frontend-web");
		mg_policy_free(active);
		active = next;
	}
	mg_policy_arena_stats(&a1);
	assert_int_equal(a1.maps, a0.maps);
	assert_int_equal(a1.unmaps, a0.unmaps);
	assert_int_equal(a1.reuses - a0.reuses, 100);
	assert_int_equal(a1.in_use, a0.in_use);
	assert_int_equal(arena_views(), views);
	assert_true(views == (int)a1.mapped && a1.mapped <= 4);
	/* The deny-all policy into a reused arena: zeros past its header. */
	mg_policy_free(active);
	assert_int_equal(mg_policy_deny_all(&next), 0);
	assert_true(mg_policy_arena_size(next) > 4096);
	tail = (const uint8_t *)next + 4096;
	for (size_t i = 0; i < mg_policy_arena_size(next) - 4096; i++)
		if (tail[i] != 0)
			fail_msg("byte %zu of a reused arena not zeroed", 4096 + i);
	mg_policy_free(next);
}

/*
 * No writable mapping of any arena exists (the compiler writes through the
 * memfd), so a stray write through an address cannot reach a policy; a write
 * through the file, reopened from /proc/self/fd as code running in the
 * gateway could, leaves the policy read-only but fails the check's hash.
 */
static void arena_written_only_through_its_file(void **state)
{
	struct mg_policy *p = compile_sealed(DATA "/authz.conf", 1);
	char line[512], perms[5], path[64], target[256];
	unsigned long lo, hi;
	int fd = -1, views = 0;
	uint8_t byte;
	FILE *f = fopen("/proc/self/maps", "re");

	(void)state;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, "mg-policy-arena") != NULL) {
			assert_int_equal(sscanf(line, "%lx-%lx %4s", &lo, &hi, perms), 3);
			assert_string_equal(perms, "r--s");
			views += lo == (uintptr_t)p;
		}
	fclose(f);
	assert_int_equal(views, 1);
	/* Find the arena's memfd: the one whose first bytes are p's. */
	for (int i = 3; i < 1024 && fd < 0; i++) {
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", i);
		n = readlink(path, target, sizeof(target) - 1);
		if (n <= 0 || (target[n] = '\0', strstr(target, "mg-policy-arena") == NULL))
			continue;
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd >= 0 && (pread(fd, &byte, 1, 1024) != 1 || byte != ((uint8_t *)p)[1024] ||
				pread(fd, line, 64, 0) != 64 || memcmp(line, p, 64) != 0)) {
			close(fd);
			fd = -1;
		}
	}
	assert_true(fd >= 0);
	assert_int_equal(mg_policy_check(p), 0);
	byte ^= 0x40;
	assert_int_equal(pwrite(fd, &byte, 1, 1024), 1);
	assert_int_equal(((const uint8_t *)p)[1024], byte); /* the file's pages are the mapping's */
	assert_true(mg_policy_is_sealed(p));
	assert_int_equal(mg_policy_check(p), -1);
	assert_int_equal(mg_errno(), MG_ERR_INTERNAL);
	assert_non_null(strstr(mg_errmsg(), "no longer hashes"));
	byte ^= 0x40;
	assert_int_equal(pwrite(fd, &byte, 1, 1024), 1);
	assert_int_equal(mg_policy_check(p), 0);
	close(fd);
	mg_policy_free(p);
}

/* ---------------------------------------------------------------------- */
/* Scale: 10 000 rules over 1 000 workloads. */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static char *big_policy(size_t *len)
{
	size_t cap = 8u << 20;
	char *text = malloc(cap), *p = text;

	p += sprintf(p, TD2 "workloads = (\n");
	for (int w = 0; w < 1000; w++)
		p += sprintf(p,
			     "%s{ name = \"w%d\"; spiffe_id = \"spiffe://example.org/ns/n%d/sa/w%d\";"
			     " addresses = [\"10.%d.%d.1\"]; ports = [8080, %d]; }\n",
			     w ? "," : "", w, w % 50, w, w / 256, w % 256, 9000 + w % 7);
	p += sprintf(p, ");\nrules = (\n");
	for (int r = 0; r < 10000; r++) {
		int w = r % 1000;

		/* exact peers, namespace prefixes and a trust-domain wildcard mixed */
		p += sprintf(p,
			     "%s{ name = \"r%05d\"; action = \"%s\"; from = ["
			     "\"spiffe://example.org/ns/n%d/sa/w%d\", \"spiffe://example.org/ns/n%d/*\"%s];"
			     " to = { workload = \"w%d\"; ports = [%d]; }; }\n",
			     r ? "," : "", r, r % 97 == 0 ? "deny" : "allow", (r * 7) % 50,
			     (r * 13) % 1000, (r / 1000) % 50,
			     r % 1000 == 999 ? ", \"spiffe://partner.org/*\"" : "", w,
			     r / 1000 % 2 ? 8080 : 9000 + w % 7);
		assert_true((size_t)(p - text) < cap - 1024);
	}
	sprintf(p, ");\n");
	*len = strlen(text);
	return text;
}

static void ten_thousand_rules(void **state)
{
	size_t len;
	char *text = big_policy(&len);
	struct mg_policy_src *src = NULL;
	struct mg_policy *p = NULL;
	double t0, t1, t2, t3, t4;
	uint32_t rule;
	int allowed = 0;

	(void)state;
	t0 = now_ms();
	assert_int_equal(mg_policy_parse(text, len, "big", DATA, &src), 0);
	t1 = now_ms();
	assert_int_equal(mg_policy_compile(src, &p), 0);
	t2 = now_ms();
	assert_int_equal(mg_policy_seal(p), 0);
	t3 = now_ms();
	assert_int_equal(mg_policy_n_rules(p), 10000);
	assert_int_equal(mg_policy_n_workloads(p), 1000);
	/* r00001: from ns/n7/sa/w13 (exact) and ns/n0/\* to w1 (10.0.1.1) port 9001 */
	assert_int_equal(mg_policy_authorize(p, "spiffe://example.org/ns/n7/sa/w13",
					     ip("10.0.1.1"), 9000 + 1 % 7, NULL, &rule),
			 MG_AUTHZ_ALLOW);
	assert_string_equal(mg_policy_rule_name(p, rule), "r00001");
	for (int i = 0; i < 100000; i++) {
		char id[64];
		int w = i % 1000;

		snprintf(id, sizeof(id), "spiffe://example.org/ns/n%d/sa/w%d", (i * 7) % 50, i % 997);
		allowed += mg_authz_allowed(mg_policy_authorize(
			p, id, ip("10.0.0.1") + (uint32_t)((w / 256) << 16 | (w % 256) << 8),
			i % 2 ? 8080 : (uint16_t)(9000 + w % 7), NULL, &rule));
	}
	t4 = now_ms();
	print_message("10000 rules / 1000 workloads (%zu bytes of text): parse %.1f ms, "
		      "compile %.1f ms, seal %.1f ms, arena %zu KiB; 100000 decisions %.1f ms "
		      "(%d allowed)\n",
		      len, t1 - t0, t2 - t1, t3 - t2, mg_policy_arena_size(p) >> 10, t4 - t3,
		      allowed);
	assert_true(t2 - t0 < 10000); /* generous: sanitizers and a shared core */
	mg_policy_free(p);
	mg_policy_src_free(src);
	free(text);
}

/* ---------------------------------------------------------------------- */
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(authz_exact_identity, authz_setup, authz_teardown),
		cmocka_unit_test_setup_teardown(authz_wrong_port, authz_setup, authz_teardown),
		cmocka_unit_test_setup_teardown(authz_wrong_identity, authz_setup, authz_teardown),
		cmocka_unit_test_setup_teardown(authz_path_prefix_wildcard, authz_setup,
						authz_teardown),
		cmocka_unit_test_setup_teardown(authz_deny_overrides_allow, authz_setup,
						authz_teardown),
		cmocka_unit_test_setup_teardown(authz_trust_domain_wildcard, authz_setup,
						authz_teardown),
		cmocka_unit_test_setup_teardown(authz_images, authz_setup, authz_teardown),
		cmocka_unit_test_setup_teardown(authz_unknown_destination, authz_setup,
						authz_teardown),
		cmocka_unit_test_setup_teardown(authz_service_address, authz_setup, authz_teardown),
		cmocka_unit_test_setup_teardown(authz_bad_and_untrusted_identity, authz_setup,
						authz_teardown),
		cmocka_unit_test_setup_teardown(authz_http_requests, authz_setup, authz_teardown),
		cmocka_unit_test_setup_teardown(compiled_facts, authz_setup, authz_teardown),
		cmocka_unit_test(authz_names),
		cmocka_unit_test(shipped_example),
		cmocka_unit_test(deny_all_denies),
		cmocka_unit_test(seal_makes_read_only),
		cmocka_unit_test(tampering_detected),
		cmocka_unit_test(arenas_reused),
		cmocka_unit_test(arena_written_only_through_its_file),
		cmocka_unit_test(ten_thousand_rules),
	};

	return cmocka_run_group_tests_name("policy_authz", tests, NULL, NULL);
}
