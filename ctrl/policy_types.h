/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Types the data plane needs from the policy without its parser: the
 * authorization verdicts (one X-macro gives the enum, the names and, in the
 * data plane, the counters) and the opaque compiled policy.
 */
#ifndef MG_POLICY_TYPES_H
#define MG_POLICY_TYPES_H

#include <stdbool.h>
#include <stdint.h>

/** The compiled, immutable policy of one snapshot (ctrl/policy_compile.c). */
struct mg_policy;

/**
 * Every authorization verdict. The first two admit the connection; every
 * other one is a deny reason (its name is what audit records and counters say).
 */
#define foreach_mg_authz(_)                                                        \
	_(ALLOW, "allow")                   /* an allow rule without HTTP terms */  \
	_(ALLOW_L7, "allow_l7")             /* admitted; each request is checked */ \
	_(DENY_ALL_POLICY, "deny_all_policy") /* the built-in deny-all is active */ \
	_(DENY_UNKNOWN_WORKLOAD, "deny_unknown_workload") /* no workload/service there */ \
	_(DENY_UNKNOWN_PORT, "deny_unknown_port") /* it does not serve that port */ \
	_(DENY_BAD_IDENTITY, "deny_bad_identity") /* not a valid SPIFFE ID */        \
	_(DENY_UNTRUSTED_DOMAIN, "deny_untrusted_domain") /* trust domain unknown */ \
	_(IMAGE_NOT_ALLOWED, "image_not_allowed") /* peer runs no listed image */    \
	_(DENY_RULE, "deny_rule")           /* a deny rule matched */               \
	_(DENY_NO_RULE, "deny_no_rule")     /* default deny: no allow rule matched */

enum mg_authz {
#define _(sym, str) MG_AUTHZ_##sym,
	foreach_mg_authz(_)
#undef _
	MG_AUTHZ__COUNT
};

/** No rule decided (deny-all, unknown workload, bad identity, ...). */
#define MG_POLICY_NO_RULE UINT32_MAX

/** True for the verdicts that admit a connection or request. */
static inline bool mg_authz_allowed(enum mg_authz a)
{
	return a == MG_AUTHZ_ALLOW || a == MG_AUTHZ_ALLOW_L7;
}

/** The name of @p a ("deny_no_rule"). */
const char *mg_authz_name(enum mg_authz a);

#endif /* MG_POLICY_TYPES_H */
