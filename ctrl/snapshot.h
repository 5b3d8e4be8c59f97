/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The signed snapshot envelope: header || payload || signature block.
 *
 * All integers are big-endian. The header is fixed at 80 bytes:
 *
 *     off len field
 *       0   8 magic "MGSNAP\r\n" (4d 47 53 4e 41 50 0d 0a)
 *       8   2 format version, 1
 *      10   2 header length, 80
 *      12   4 flags, reserved: must be 0
 *      16   8 policy version, >= 1, strictly increasing between snapshots
 *      24   8 not-before, UTC seconds (valid when not_before <= now < expires)
 *      32   8 expires, UTC seconds, > not-before
 *      40   8 payload length
 *      48  32 SHA-256 of the payload
 *
 * then the payload (the policy source bytes), then the signature block:
 *
 *     2 bytes count (0..MG_SNAPSHOT_MAX_SIGS), then count entries of
 *     32 key id || 1 algorithm (1 Ed25519, 2 ECDSA P-256) || 2 length || signature
 *
 * Every signature covers the "signed bytes", header || payload; adding a
 * signature never changes them, so the digest (SHA-256 of the signed bytes)
 * names a snapshot's content whoever signed it. The parser checks the size
 * cap first, then exact framing: no trailing bytes, no field past the end.
 */
#ifndef MG_SNAPSHOT_H
#define MG_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "mg_error.h"

#define MG_SNAPSHOT_MAGIC "MGSNAP\r\n"
#define MG_SNAPSHOT_FORMAT 1
#define MG_SNAPSHOT_HEADER_LEN 80
#define MG_SNAPSHOT_MAX_SIGS 16
#define MG_SNAPSHOT_DIGEST_LEN 32
/** The loader's default size cap (gateway.conf may set another). */
#define MG_SNAPSHOT_DEFAULT_CAP (16u << 20)
/** Bytes of envelope around a payload with no signatures. */
#define MG_SNAPSHOT_OVERHEAD (MG_SNAPSHOT_HEADER_LEN + 2)
/** Bytes one signature entry adds at most. */
#define MG_SNAPSHOT_SIG_ENTRY_MAX (MG_KEY_ID_LEN + 3 + MG_KEY_SIG_MAX)

/** What the header says besides the payload. */
struct mg_snapshot_meta {
	uint64_t version;
	uint64_t not_before;
	uint64_t expires;
};

struct mg_snapshot_sig {
	uint8_t key_id[MG_KEY_ID_LEN];
	uint8_t alg; /* enum mg_key_alg */
	uint16_t len;
	const uint8_t *bytes; /* into the parsed buffer */
};

/** A parsed envelope. Points into the caller's buffer, which must outlive it. */
struct mg_snapshot_view {
	const uint8_t *bytes;
	size_t len;        /* whole envelope */
	size_t signed_len; /* header || payload */
	struct mg_snapshot_meta meta;
	const uint8_t *payload;
	size_t payload_len;
	const uint8_t *payload_sha256;
	unsigned n_sigs;
	struct mg_snapshot_sig sigs[MG_SNAPSHOT_MAX_SIGS];
};

/** Why a signature entry did or did not count towards the threshold. */
enum mg_snapshot_sig_status {
	MG_SNAPSHOT_SIG_VALID,
	MG_SNAPSHOT_SIG_UNKNOWN_KEY, /* key id not among the trusted keys */
	MG_SNAPSHOT_SIG_DUPLICATE,   /* its key already counted once */
	MG_SNAPSHOT_SIG_BAD,         /* does not verify (or algorithm mismatch) */
};

struct mg_snapshot_verdict {
	unsigned n_valid; /* distinct trusted keys with a valid signature */
	uint8_t signers[MG_SNAPSHOT_MAX_SIGS][MG_KEY_ID_LEN]; /* n_valid of them */
	enum mg_snapshot_sig_status status[MG_SNAPSHOT_MAX_SIGS]; /* per view->sigs[] */
};

/** The loader's anti-rollback state: what is active. */
struct mg_snapshot_state {
	uint64_t version;
	uint8_t digest[MG_SNAPSHOT_DIGEST_LEN];
};

enum mg_snapshot_decision {
	MG_SNAPSHOT_ACCEPT, /* newer: load it */
	MG_SNAPSHOT_NOOP,   /* the active snapshot again: nothing to do */
};

/**
 * Build an unsigned envelope around @p payload. Deterministic: the same
 * payload and meta give the same bytes. *@p out is malloc'ed (caller frees).
 * Fails with MG_ERR_USAGE if version is 0 or expires <= not_before.
 */
MG_RESULT mg_snapshot_build(const uint8_t *payload, size_t payload_len,
			    const struct mg_snapshot_meta *meta, uint8_t **out, size_t *out_len);

/**
 * Parse @p len bytes at @p buf into @p v. More than @p cap bytes fail with
 * MG_ERR_IO_TOO_BIG before anything is read; any framing fault, a header
 * field out of range or a payload whose SHA-256 differs from the header's
 * fails with MG_ERR_PROTO_FORMAT. Signatures are not checked here.
 */
MG_RESULT mg_snapshot_parse(const uint8_t *buf, size_t len, size_t cap,
			    struct mg_snapshot_view *v);

/** SHA-256 over the signed bytes (header || payload). */
MG_RESULT mg_snapshot_digest(const struct mg_snapshot_view *v,
			     uint8_t out[MG_SNAPSHOT_DIGEST_LEN]);

/**
 * A new envelope: @p v plus one signature entry (not checked here, see
 * mg_snapshot_attach()). Refused (MG_ERR_PROTO_SIGNATURE) if @p key_id has
 * signed already or the block is full; MG_ERR_PROTO_FORMAT if the algorithm is
 * unknown or the length impossible for it. *@p out is malloc'ed.
 */
MG_RESULT mg_snapshot_add_signature(const struct mg_snapshot_view *v,
				    const uint8_t key_id[MG_KEY_ID_LEN], uint8_t alg,
				    const uint8_t *sig, size_t sig_len,
				    uint8_t **out, size_t *out_len);

/** Sign @p v's signed bytes with private key @p k and add the signature. */
MG_RESULT mg_snapshot_sign(const struct mg_snapshot_view *v, const struct mg_key *k,
			   uint8_t **out, size_t *out_len);

/**
 * Add an externally made signature by public key @p pub after checking it
 * over the signed bytes (a bad one: MG_ERR_PROTO_SIGNATURE, nothing added).
 */
MG_RESULT mg_snapshot_attach(const struct mg_snapshot_view *v, const struct mg_key *pub,
			     const uint8_t *sig, size_t sig_len, uint8_t **out, size_t *out_len);

/**
 * Count the valid signatures of distinct keys among @p trusted (a key id
 * that signs twice counts once; unknown key ids count nothing). Succeeds if
 * at least @p threshold (>= 1) count; otherwise MG_ERR_PROTO_SIGNATURE.
 * @p verdict (may be NULL) is filled either way. At most
 * MG_SNAPSHOT_MAX_SIGS signature checks are made.
 */
MG_RESULT mg_snapshot_verify(const struct mg_snapshot_view *v, struct mg_key *const *trusted,
			     size_t n_trusted, unsigned threshold,
			     struct mg_snapshot_verdict *verdict);

/**
 * The time rule: MG_ERR_PROTO_NOT_YET_VALID if @p now < not_before,
 * MG_ERR_PROTO_EXPIRED if @p now >= expires. The caller reads the clock once
 * per load and passes it here.
 */
MG_RESULT mg_snapshot_check_time(const struct mg_snapshot_view *v, uint64_t now);

/**
 * The version rule. @p active is NULL when nothing (or only the built-in
 * deny-all policy) is active. A higher version is MG_SNAPSHOT_ACCEPT; the
 * same version and digest is MG_SNAPSHOT_NOOP; a lower version fails with
 * MG_ERR_PROTO_ROLLBACK; the same version with another digest fails with
 * MG_ERR_PROTO_EQUIVOCATION.
 */
MG_RESULT mg_snapshot_check_version(const struct mg_snapshot_state *active,
				    const struct mg_snapshot_state *candidate,
				    enum mg_snapshot_decision *decision);

/**
 * The loader's short reason for a refusal of kind @p code, as written in
 * audit records and push replies: "size_cap", "format", "signature",
 * "rollback", "equivocation", "expired", "not_yet_valid"; "internal" for
 * anything else.
 */
const char *mg_snapshot_refusal_name(enum mg_err code);

/** Name of a signature status ("valid", "unknown_key", "duplicate", "bad"). */
const char *mg_snapshot_sig_status_name(enum mg_snapshot_sig_status s);

/**
 * Read a whole file ("-" is standard input) of at most @p cap bytes: a
 * larger regular file fails with MG_ERR_IO_TOO_BIG before any read, and
 * reading stops at cap + 1 bytes whatever the file claims. *@p buf is
 * malloc'ed (caller frees).
 */
MG_RESULT mg_snapshot_read_file(const char *path, size_t cap, uint8_t **buf, size_t *len);

/**
 * Replace @p path atomically and durably: write a temporary file beside it,
 * fsync, rename over @p path, fsync the directory. A crash leaves the old or
 * the new content, never a mix. Mode 0644.
 */
MG_RESULT mg_snapshot_write_file(const char *path, const uint8_t *buf, size_t len);

#endif /* MG_SNAPSHOT_H */
