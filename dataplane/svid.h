/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * X509-SVID rules: is this certificate chain a valid SPIFFE workload identity,
 * and which one? Used by the workers' TLS glue for every peer and by the
 * control thread for the node's own SVIDs (rotation).
 *
 * A leaf is an X509-SVID when (SPIFFE X509-SVID standard, in this order, each
 * refusal with its own reason):
 *  - it carries exactly one URI SAN, and that URI is a SPIFFE ID with a
 *    workload path (base/spiffe.h: lower-case trust domain, no empty, "." or
 *    ".." segment, no query, fragment, port or userinfo, length limits);
 *  - it is not a CA (basicConstraints), keyUsage has digitalSignature and
 *    neither keyCertSign nor cRLSign;
 *  - its key and signature give at least 112 bits of security (no RSA below
 *    2048, no SHA-1);
 *  - the optional image-digest extension, if present, is well formed;
 *  - it is inside its validity period and chains to the bundle of its own
 *    trust domain (several bundles = federation; a CA of one trust domain
 *    never vouches for an ID of another).
 *
 * The image digest ("what it runs on") rides in a private, non-critical
 * extension: OID MG_SVID_IMAGE_OID (a UUID OID under 2.25, ITU-T X.667), value
 * a DER UTF8String "sha256:<64 lower-case hex>". conf/pki.sh mints it.
 */
#ifndef MG_SVID_H
#define MG_SVID_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

#include "mg_error.h"
#include "spiffe.h"

#define MG_SVID_IMAGE_OID "2.25.56958436065876609818236111392702871039"
#define MG_SVID_IMAGE_LEN (7 + 64) /* "sha256:" + 64 hex */

/* Why a peer's certificate is not an acceptable SVID: enum, name, sentence. */
#define foreach_mg_svid_reason(_)                                                     \
	_(OK, ok, "a valid X509-SVID")                                                \
	_(NO_CERT, no_client_cert, "the peer presented no certificate")               \
	_(NO_URI_SAN, no_uri_san, "the leaf has no URI SAN")                          \
	_(MULTIPLE_URI_SANS, multiple_uri_sans, "the leaf has more than one URI SAN") \
	_(BAD_SPIFFE_ID, bad_spiffe_id, "the URI SAN is not a SPIFFE workload ID")    \
	_(LEAF_IS_CA, leaf_is_ca, "the leaf is a CA certificate")                     \
	_(NO_DIGITAL_SIGNATURE, no_digital_signature,                                 \
	  "the leaf's keyUsage lacks digitalSignature")                               \
	_(KEY_CERT_SIGN, key_cert_sign, "the leaf's keyUsage has keyCertSign")        \
	_(CRL_SIGN, crl_sign, "the leaf's keyUsage has cRLSign")                      \
	_(WEAK_KEY, weak_key, "the leaf's key is weaker than 112 bits (RSA < 2048)")  \
	_(WEAK_SIGNATURE, weak_signature, "the leaf is signed with SHA-1 or weaker")  \
	_(BAD_IMAGE_DIGEST, bad_image_digest, "the image-digest extension is malformed") \
	_(NOT_YET_VALID, not_yet_valid, "the leaf is not valid yet")                  \
	_(EXPIRED, expired, "the leaf has expired")                                   \
	_(UNKNOWN_TRUST_DOMAIN, unknown_trust_domain,                                 \
	  "no trust bundle for the ID's trust domain")                                \
	_(UNTRUSTED_CHAIN, untrusted_chain,                                           \
	  "the chain does not verify against the trust domain's bundle")

enum mg_svid_reason {
#define _(sym, name, desc) MG_SVID_##sym,
	foreach_mg_svid_reason(_)
#undef _
	MG_SVID__COUNT
};

/** What a valid SVID says about its holder. */
struct mg_svid_peer {
	char id[MG_SPIFFE_MAX_LEN + 1]; /* the SPIFFE ID, NUL-terminated */
	uint16_t id_len;
	uint16_t td_len;                /* the trust domain is id[9 .. 9 + td_len) */
	bool has_image;
	char image[MG_SVID_IMAGE_LEN + 1]; /* "sha256:<hex>" when has_image */
	int64_t not_after;              /* UTC seconds */
	uint8_t leaf_sha256[32];        /* of the leaf's DER: a cache key, a fingerprint */
};

/** One trust domain's bundle: its name and a store holding its CAs. */
struct mg_svid_bundle {
	char td[MG_SPIFFE_TD_MAX + 1];
	X509_STORE *store;
};

/** The bundles a verification may use; built by the control thread, read-only after. */
struct mg_svid_trust {
	uint64_t generation; /* the policy generation they came with: keys the cache */
	uint32_t n;
	struct mg_svid_bundle *b;
};

/*
 * Chains already verified, per verifying thread (never shared, so no lock):
 * the leaf's SHA-256 and the trust generation say the same chain meets the
 * same bundles, so only the leaf's own checks and the times run again. An
 * entry lasts until the earliest notAfter along its chain. Direct-mapped: a
 * new chain evicts whatever sat in its slot.
 */
#define MG_SVID_CACHE_SLOTS 1024 /* power of two; 48 bytes each */

struct mg_svid_cache_slot {
	uint8_t leaf_sha256[32];
	uint64_t generation;
	int64_t chain_not_after; /* 0: empty */
};

struct mg_svid_cache {
	uint64_t hits, misses;
	struct mg_svid_cache_slot slot[MG_SVID_CACHE_SLOTS];
};

/** Short name of a reason ("expired"), for counters and audit records. */
const char *mg_svid_reason_name(enum mg_svid_reason r);
/** The sentence for a reason. */
const char *mg_svid_reason_desc(enum mg_svid_reason r);

/**
 * Create the image-digest OID object. Call once on the main thread before any
 * worker verifies (OpenSSL's OBJ tables are not to be grown concurrently).
 */
MG_RESULT mg_svid_init(void);

/**
 * The checks that need the leaf alone (SAN, SPIFFE ID, CA, key usage, key and
 * signature strength, image extension, validity at @p now). Fills @p out.
 */
enum mg_svid_reason mg_svid_check_leaf(X509 *leaf, time_t now, struct mg_svid_peer *out);

/**
 * The whole X509-SVID verification: mg_svid_check_leaf(), then the chain from
 * @p leaf through @p untrusted (may be NULL) to the bundle of the leaf's own
 * trust domain in @p trust, at time @p now. Fills @p out on success.
 */
enum mg_svid_reason mg_svid_verify(X509 *leaf, STACK_OF(X509) *untrusted,
				   const struct mg_svid_trust *trust, time_t now,
				   struct mg_svid_peer *out);

/**
 * mg_svid_verify() with a cache of verified chains (@p cache may be NULL).
 * Only successes are cached; a refusal is judged in full every time.
 */
enum mg_svid_reason mg_svid_verify_cached(X509 *leaf, STACK_OF(X509) *untrusted,
					  const struct mg_svid_trust *trust, time_t now,
					  struct mg_svid_peer *out, struct mg_svid_cache *cache);

/**
 * Add the CAs of a PEM bundle (@p pem, @p len bytes) for trust domain @p td
 * to @p b: a new store. Refuses a bundle with no certificate or a non-CA.
 */
MG_RESULT mg_svid_bundle_load(struct mg_svid_bundle *b, const char *td, const char *pem,
			      size_t len);

/** Free a bundle's store. */
void mg_svid_bundle_free(struct mg_svid_bundle *b);

#endif /* MG_SVID_H */
