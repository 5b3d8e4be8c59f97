/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The policy: policy.conf (libconfig) → source model → normalized text and
 * compiled, sealed arena.
 *
 * The language is described in docs/policy.conf.md; in short:
 * trust_domains (name + CA bundle), tls, workloads (SPIFFE ID, addresses,
 * ports, image digests), services (a virtual address whose ports map to a
 * workload's ports), rules (from SPIFFE IDs or "spiffe://td[/path]/\*"
 * patterns, to a workload and some of its ports, optional HTTP terms,
 * action allow or deny) and default_action, which can only be "deny".
 *
 * Life of a policy:
 *   meshctl snapshot build: mg_policy_inline_files() → canonical payload
 *   loader:   mg_policy_parse() → mg_policy_compile() → mg_policy_set_meta()
 *             → mg_policy_seal() → publish (RCU) → mg_policy_free() after
 *             the grace period
 *   workers:  mg_policy_authorize() / mg_policy_authorize_http() (no
 *             allocation, no lock, no syscall)
 *   integrity: mg_policy_is_sealed(), mg_policy_check()
 *
 * Every parse failure is one mg_err code (MG_ERR_CONFIG_*) and a sentence
 * "NAME:LINE: FIELD: PROBLEM", FIELD being the path of the setting
 * ("rules[3].to.ports[1]").
 */
#ifndef MG_POLICY_H
#define MG_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mg_error.h"
#include "policy_types.h"

/* Limits: every count and length is bounded, so is the cost of a payload. */
#define MG_POLICY_MAX_TEXT (16u << 20)      /* source bytes */
#define MG_POLICY_MAX_TRUST_DOMAINS 64
#define MG_POLICY_MAX_WORKLOADS 16384
#define MG_POLICY_MAX_SERVICES 16384
#define MG_POLICY_MAX_RULES 65536
#define MG_POLICY_MAX_FROM 64               /* patterns per rule */
#define MG_POLICY_MAX_FROM_TOTAL 262144     /* patterns over all rules */
#define MG_POLICY_MAX_ADDRESSES 64          /* per workload */
#define MG_POLICY_MAX_PORTS 64              /* per workload, service, rule */
#define MG_POLICY_MAX_IMAGES 64             /* per workload */
#define MG_POLICY_MAX_METHODS 16            /* per rule */
#define MG_POLICY_MAX_PATHS 64              /* per rule */
#define MG_POLICY_MAX_HOSTS 64              /* per rule */
#define MG_POLICY_MAX_TLS_LIST 16           /* ciphersuites, groups, sigalgs */
#define MG_POLICY_NAME_MAX 63               /* [a-z0-9][a-z0-9._-]* */
#define MG_POLICY_METHOD_MAX 20             /* [A-Z]+ */
#define MG_POLICY_HTTP_PATH_MAX 1024      /* also a regex path, "~" included */
#define MG_POLICY_HOST_MAX 253
#define MG_POLICY_BUNDLE_MAX (256u << 10)   /* PEM bytes per trust domain */
#define MG_POLICY_BUNDLE_CERTS 64           /* certificates per trust domain */
#define MG_POLICY_DIGEST_LEN 32             /* SHA-256 */

/* ---------------------------------------------------------------------- */
/* Source model: what policy.conf says, validated, sorted, defaults explicit. */

struct mg_policy_strv {
	uint32_t n;
	const char **v;
};

struct mg_policy_td {
	const char *name;
	const char *bundle_pem; /* canonical: each CA re-encoded, sorted by SHA-256 */
	size_t bundle_len;
	uint32_t n_certs;
	const char *summary; /* per CA: "CA i/n: subject\n  sha256 <hex>, not after <time>\n" */
	unsigned line;
};

struct mg_policy_tls {
	uint16_t min_version;               /* 0x0304 (TLS 1.3), the only one */
	struct mg_policy_strv ciphersuites; /* preference order, as written */
	struct mg_policy_strv groups;
	struct mg_policy_strv sigalgs;
};

struct mg_policy_workload {
	const char *name;
	const char *spiffe_id;
	uint32_t n_addrs;
	uint32_t *addrs; /* IPv4, host byte order, sorted */
	uint32_t n_ports;
	uint16_t *ports; /* sorted */
	uint32_t n_images;
	uint8_t (*images)[MG_POLICY_DIGEST_LEN]; /* sha256 digests, sorted */
	unsigned line;
};

struct mg_policy_svc_port {
	uint16_t port;        /* on the service address */
	uint16_t target_port; /* on the workload */
};

struct mg_policy_service {
	const char *name;
	uint32_t addr;         /* IPv4, host byte order */
	const char *workload;
	uint32_t workload_idx; /* into mg_policy_src.workloads */
	uint32_t n_ports;
	struct mg_policy_svc_port *ports; /* sorted by port */
	unsigned line;
};

enum mg_policy_action {
	MG_POLICY_ALLOW,
	MG_POLICY_DENY,
};

struct mg_policy_rule {
	const char *name;
	enum mg_policy_action action;
	struct mg_policy_strv from; /* patterns, sorted */
	const char *to_workload;
	uint32_t to_idx;            /* into mg_policy_src.workloads */
	uint32_t n_ports;
	uint16_t *ports;            /* sorted; all the workload's ports if omitted */
	bool has_http;
	struct mg_policy_strv methods, paths, hosts; /* sorted; empty = any */
	unsigned line;
};

/* l7 = { on_deny; merge_slashes; h2; }: how the workers treat HTTP on
 * ALLOW_L7 connections. Defaults: keep, false, refuse. */
struct mg_policy_l7_settings {
	bool close_on_deny; /* on_deny = "close" */
	bool merge_slashes; /* "//" reads as "/" before matching and forwarding */
	bool h2_downgrade;  /* h2 = "downgrade": ALPN picks http/1.1 or none; else refused */
};

/** A parsed policy. Arrays are sorted by name; indices refer to them. */
struct mg_policy_src {
	uint32_t n_tds;
	struct mg_policy_td *tds;
	struct mg_policy_tls tls;
	uint32_t n_workloads;
	struct mg_policy_workload *workloads;
	uint32_t n_services;
	struct mg_policy_service *services;
	uint32_t n_rules;
	struct mg_policy_rule *rules;
	struct mg_policy_l7_settings l7;
	struct mg_policy_pool *pool; /* owns everything above */
};

/**
 * Parse @p len bytes at @p text (need not be NUL-terminated; an embedded NUL
 * is refused). @p name stands for the source in messages ("policy.conf",
 * "payload"). @p base_dir NULL means a snapshot payload, which must be
 * self-contained: bundle_file is refused. Otherwise bundle_file names are
 * read relative to @p base_dir. *@p out is freed with mg_policy_src_free().
 */
MG_RESULT mg_policy_parse(const char *text, size_t len, const char *name,
			  const char *base_dir, struct mg_policy_src **out);

/** Read and parse a policy file; bundle_file is relative to its directory. */
MG_RESULT mg_policy_parse_file(const char *path, struct mg_policy_src **out);

void mg_policy_src_free(struct mg_policy_src *src);

/**
 * Print the canonical text of @p src: every list sorted (TLS preference
 * lists keep their order), every default explicit, bundles inlined as
 * bundle_pem with a comment per certificate. The text is itself a valid,
 * self-contained policy.conf that parses back to the same model, so it
 * serves as snapshot payload, `meshctl snapshot inspect` output and golden
 * file alike.
 */
MG_RESULT mg_policy_normalize(const struct mg_policy_src *src, FILE *out);

/** The same into a malloc'ed, NUL-terminated buffer (caller frees). */
MG_RESULT mg_policy_normalize_buf(const struct mg_policy_src *src, char **out,
				  size_t *out_len);

/**
 * What `meshctl snapshot build` puts in a payload: parse @p text with
 * bundle files read relative to @p base_dir and return the canonical text
 * (mg_policy_normalize()). Deterministic: the same source and files give the
 * same bytes, whatever the comments, layout or order of the source.
 */
MG_RESULT mg_policy_inline_files(const char *text, size_t len, const char *name,
				 const char *base_dir, char **out, size_t *out_len);

/** The text of an action ("allow", "deny"). */
const char *mg_policy_action_name(enum mg_policy_action a);

/* ---------------------------------------------------------------------- */
/* Compiled policy: one mmap'ed arena, sealed read-only before publication. */

/**
 * Compile @p src into a fresh arena (writable until mg_policy_seal()).
 * Lookups live inside the arena (open-addressing hashes, sorted arrays), so
 * sealing covers all of them.
 */
MG_RESULT mg_policy_compile(const struct mg_policy_src *src, struct mg_policy **out);

/** The built-in policy that denies everything (unsealed, like a compiled one). */
MG_RESULT mg_policy_deny_all(struct mg_policy **out);

/**
 * Record what the loader knows before sealing: the snapshot's policy
 * version and digest (SHA-256 of its signed bytes) and the publication
 * generation. MG_ERR_USAGE once sealed.
 */
MG_RESULT mg_policy_set_meta(struct mg_policy *p, uint64_t version,
			     const uint8_t digest[MG_POLICY_DIGEST_LEN], uint64_t generation);

/**
 * Record the arena's SHA-256. The arena is read-only from the start: the
 * struct mg_policy * is its only mapping, PROT_READ, written through its
 * memfd (policy_pool.c), so sealing changes no page protection and flushes
 * no worker's TLB.
 */
MG_RESULT mg_policy_seal(struct mg_policy *p);

/**
 * True only if the arena was sealed and the kernel still maps every page of
 * it without write permission (read from /proc/self/maps: control thread
 * only, it allocates).
 */
bool mg_policy_is_sealed(const struct mg_policy *p);

/**
 * The integrity check: sealed (as above) and the arena still hashes to what
 * it hashed to at seal time. MG_ERR_INTERNAL with the reason otherwise.
 */
MG_RESULT mg_policy_check(const struct mg_policy *p);

/**
 * Give the arena back to the pool (after the RCU grace period): it stays
 * mapped for the next compile, no munmap while workers run. NULL is fine.
 */
void mg_policy_free(struct mg_policy *p);

/** The arena pool (policy_pool.c): what it mapped, reused and keeps. */
struct mg_policy_arena_stats {
	uint64_t maps;    /* arenas mapped since start */
	uint64_t unmaps;  /* arenas unmapped (more than two free at once) */
	uint64_t reuses;  /* compiles into an arena already mapped */
	uint64_t mapped;  /* arenas mapped now, in use or free */
	uint64_t in_use;  /* arenas holding a policy now */
	uint64_t bytes;   /* bytes mapped now (each arena counted once) */
};

void mg_policy_arena_stats(struct mg_policy_arena_stats *out);

/* Facts for telemetry, audit and the TLS layer (all O(1)). */
uint64_t mg_policy_version(const struct mg_policy *p);
uint64_t mg_policy_generation(const struct mg_policy *p);
const uint8_t *mg_policy_digest(const struct mg_policy *p);
size_t mg_policy_arena_size(const struct mg_policy *p);
bool mg_policy_is_deny_all(const struct mg_policy *p);
uint32_t mg_policy_n_rules(const struct mg_policy *p);
uint32_t mg_policy_n_workloads(const struct mg_policy *p);
uint32_t mg_policy_n_services(const struct mg_policy *p);
uint32_t mg_policy_n_trust_domains(const struct mg_policy *p);

/** Does rule @p id have HTTP terms (methods, paths or hosts)? False if out of range. */
bool mg_policy_rule_has_http(const struct mg_policy *p, uint32_t id);

/** Name of rule @p id (from mg_policy_authorize()), NULL if out of range. */
const char *mg_policy_rule_name(const struct mg_policy *p, uint32_t id);

/** TLS settings as OpenSSL lists ("A:B:C") for SSL_CTX_set_ciphersuites() etc. */
struct mg_policy_tls_view {
	uint16_t min_version;
	const char *ciphersuites;
	const char *groups;
	const char *sigalgs;
};
void mg_policy_tls(const struct mg_policy *p, struct mg_policy_tls_view *out);

/** Trust domain @p i: name and its CA bundle (PEM). */
const char *mg_policy_td_name(const struct mg_policy *p, uint32_t i);
const char *mg_policy_td_bundle(const struct mg_policy *p, uint32_t i, size_t *len);
/** Index of trust domain @p td (@p len bytes), or -1. */
int32_t mg_policy_td_find(const struct mg_policy *p, const char *td, size_t len);

/** The workload at address @p ip (host order), or -1 (services excluded). */
int32_t mg_policy_workload_by_addr(const struct mg_policy *p, uint32_t ip);
const char *mg_policy_workload_name(const struct mg_policy *p, uint32_t w);
const char *mg_policy_workload_spiffe_id(const struct mg_policy *p, uint32_t w);

/**
 * Resolve a destination: a workload address and one of its ports, or a
 * service address and one of its ports (mapped to the workload's target
 * port). Returns MG_AUTHZ_ALLOW and fills *@p w / *@p port, or
 * MG_AUTHZ_DENY_UNKNOWN_WORKLOAD / MG_AUTHZ_DENY_UNKNOWN_PORT. The outbound
 * path uses it to learn the upstream's expected SPIFFE ID.
 */
enum mg_authz mg_policy_resolve(const struct mg_policy *p, uint32_t dst_ip, uint16_t dst_port,
				uint32_t *w, uint16_t *port);

/**
 * May the peer @p peer_id (NUL-terminated SPIFFE ID from its verified SVID)
 * connect to @p dst_ip:@p dst_port (host order; a workload or a service)?
 * @p image_digest is the SVID's image digest ("sha256:<64 hex>") or NULL.
 *
 * Order: destination (unknown workload/port), identity syntax, trust
 * domain, image (when the peer's own workload entry lists images), then
 * rules: a matching deny rule without HTTP terms denies; else a matching
 * allow rule without HTTP terms allows (ALLOW_L7 if a deny rule with HTTP
 * terms also matches); else a matching allow rule with HTTP terms admits
 * the connection for per-request checks (ALLOW_L7); else DENY_NO_RULE.
 * *@p rule_id (may be NULL) is the deciding rule (the lowest id among
 * equals) or MG_POLICY_NO_RULE. No allocation; cost O(path depth x log n).
 */
enum mg_authz mg_policy_authorize(const struct mg_policy *p, const char *peer_id,
				  uint32_t dst_ip, uint16_t dst_port,
				  const char *image_digest, uint32_t *rule_id);

/** One HTTP request for mg_policy_authorize_http() (strings need no NUL). */
struct mg_policy_http_req {
	const char *method; /* "GET"; NULL: none */
	const char *host;   /* Host / :authority; a ":port" suffix is ignored; NULL: none */
	const char *path;   /* normalized; matching stops at '?' or '#'; NULL: "" */
	uint32_t method_len, host_len, path_len;
};

/**
 * The L7 matcher of one compiled policy (policy_l7.c): the exact and
 * "/prefix/\*" paths of every rule in one hash table (path -> rules), the
 * "~regex" paths in one hyperscan block-mode database, a scratch and a match
 * table per worker, and the per-rule allow/deny counters per worker. Built on
 * the control thread before publication, freed with its generation.
 */
struct mg_policy_l7;

/**
 * Build @p p's path terms into the table (exact, "/prefix/\*") and the
 * database (regex "~...") and allocate what @p workers workers need (>= 1).
 * A regex hyperscan refuses fails with MG_ERR_CONFIG_VALUE naming the rule.
 * A policy with no regex path gets a matcher without database.
 */
MG_RESULT mg_policy_l7_build(const struct mg_policy *p, uint16_t workers,
			     struct mg_policy_l7 **out);

/**
 * NULL if hyperscan compiles regex @p re (without the "~") as
 * mg_policy_l7_build() will, else why not (a static or thread-local sentence).
 */
const char *mg_policy_regex_check(const char *re);

/** Free a matcher (after the RCU grace period). NULL is fine. */
void mg_policy_l7_free(struct mg_policy_l7 *l7);

/**
 * Tests only: the matchers built while this is not all ones keep only these
 * bits of each path key's hash, so that keys collide (default 0xffffffff).
 */
extern uint32_t mg_policy_l7_test_hash_mask;

/** Workers the matcher was built for; bytes of its database (0: none). */
uint16_t mg_policy_l7_workers(const struct mg_policy_l7 *l7);
size_t mg_policy_l7_db_size(const struct mg_policy_l7 *l7);

/** Requests rule @p rule allowed and denied, summed over the workers (any thread). */
void mg_policy_l7_rule_counts(const struct mg_policy_l7 *l7, uint32_t rule,
			      uint64_t *allowed, uint64_t *denied);

/** The policy's `l7` group. */
void mg_policy_l7_get(const struct mg_policy *p, struct mg_policy_l7_settings *out);

/**
 * Decide one request on a connection admitted with ALLOW_L7: the same
 * matching as mg_policy_authorize(), with each rule's HTTP terms applied to
 * @p req (a rule matches if every list it has contains a match). A matching
 * deny rule denies (DENY_RULE), else a matching allow rule allows (ALLOW),
 * else DENY_NO_RULE. Methods compare exactly; hosts case-insensitively,
 * "*.example.org" matching any name below example.org; paths through
 * @p l7: exact byte for byte and "/api/\*" any path starting with "/api/"
 * (hash lookups of the path and of its prefixes up to each '/'), "~re" where
 * the regex matches (hyperscan, only if the policy has a regex path). Callers normalize the path
 * (percent-decoding, dot segments) before asking.
 *
 * Runs on worker @p worker (< mg_policy_l7_workers()) with its scratch and
 * counts the deciding rule in its counters: one hs_scan at most, no
 * allocation, lock or syscall. @p l7 NULL or @p worker out of range: DENY_ALL_POLICY.
 */
enum mg_authz mg_policy_authorize_http(const struct mg_policy *p, struct mg_policy_l7 *l7,
				       uint16_t worker, const char *peer_id,
				       uint32_t dst_ip, uint16_t dst_port,
				       const char *image_digest,
				       const struct mg_policy_http_req *req, uint32_t *rule_id);

#endif /* MG_POLICY_H */
