/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Attestation reports: what this node runs, signed by the node key. The
 * gateway fills and signs a report when asked over telemetry with a fresh
 * nonce; meshctl rebuilds the canonical text from the reply and checks the
 * signature offline with the node's public key. The canonical text is one
 * "key=value\n" line per field, in the order of foreach_mg_attest_field.
 */
#ifndef MG_ATTEST_H
#define MG_ATTEST_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "mg_error.h"

#define MG_ATTEST_FORMAT "meshgw-attest-1"
#define MG_ATTEST_NONCE_MIN 16 /* hex digits */
#define MG_ATTEST_NONCE_MAX 64
#define MG_ATTEST_VALUE_MAX 1200 /* snapshot_signers: up to 16 key ids */

/* Field name, then whether telemetry carries it as a number. */
#define foreach_mg_attest_field(_) \
	_(format, 0)               \
	_(node, 0)                 \
	_(nonce, 0)                \
	_(time, 1)                 \
	_(uptime_s, 1)             \
	_(binary_sha256, 0)        \
	_(config_sha256, 0)        \
	_(policy, 0)               \
	_(snapshot_version, 1)     \
	_(snapshot_digest, 0)      \
	_(snapshot_signers, 0)     \
	_(node_key_id, 0)

enum mg_attest_field {
#define _(name, num) MG_ATTEST_##name,
	foreach_mg_attest_field(_)
#undef _
	MG_ATTEST__COUNT
};

struct mg_attest_report {
	char value[MG_ATTEST__COUNT][MG_ATTEST_VALUE_MAX];
};

/** Field name ("binary_sha256"). */
const char *mg_attest_field_name(enum mg_attest_field f);
/** True if telemetry carries the field as a number. */
int mg_attest_field_is_number(enum mg_attest_field f);
/** The canonical text that is signed; returns its length or -1 if too long. */
int mg_attest_canonical(const struct mg_attest_report *r, char *buf, size_t size);
/** True for 16..64 lower-case hex digits. */
int mg_attest_nonce_ok(const char *nonce);
/** Sign @p r with @p key into a base64 signature (NUL-terminated). */
MG_RESULT mg_attest_sign(const struct mg_attest_report *r, const struct mg_key *key,
			 char *sig_b64, size_t size);
/** Check a base64 signature over @p r with @p pub (MG_ERR_PROTO_SIGNATURE if bad). */
MG_RESULT mg_attest_verify(const struct mg_attest_report *r, const struct mg_key *pub,
			   const char *sig_b64);

#endif /* MG_ATTEST_H */
