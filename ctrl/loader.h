/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The one loader every snapshot source feeds (control socket, boot, later a
 * watched directory or an HTTP(S) origin). The channel is never trusted, only
 * the signatures. In this order, and any failure keeps the active policy and
 * writes an audit record with the reason:
 *   1. size cap and exact framing;
 *   2. at least `threshold` valid signatures from distinct trusted keys;
 *   3. version: rollback refused, same version and digest is a no-op, same
 *      version with another digest is equivocation (refused and alarmed);
 *   4. time: not before not-before, not after expires (one clock read);
 *   5. only now parse and compile the payload;
 *   6. stage the snapshot beside the active one (written to a temporary
 *      file, fsynced, renamed, directory fsynced), append the audit record,
 *      commit by replacing the anti-rollback state the same way, rename the
 *      staged snapshot into place, then publish. A failure before the commit
 *      removes the staged file: disk and memory keep the old snapshot; a
 *      change the audit log cannot record is refused.
 * A crash at any point leaves the old or the new snapshot active: boot
 * finishes the rename of a staged snapshot that matches the state, discards
 * one that does not, accepts a persisted snapshot newer than the state and
 * refuses one older (rollback on disk).
 */
#ifndef MG_LOADER_H
#define MG_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "audit.h"
#include "gen.h"
#include "config.h"
#include "keys.h"
#include "publish.h"
#include "snapshot.h"

#define foreach_mg_load_refusal(_)                                             \
	_(SIZE, size_cap, "larger than limits.snapshot_max_bytes")             \
	_(FRAMING, framing, "not an exactly framed snapshot envelope")         \
	_(SIGNATURES, signatures, "fewer valid signatures from distinct trusted keys than the threshold") \
	_(ROLLBACK, rollback, "version lower than the active one")             \
	_(EQUIVOCATION, equivocation, "same version as the active one, different digest") \
	_(NOT_YET_VALID, not_yet_valid, "before its not-before time")          \
	_(EXPIRED, expired, "after its expiry time")                           \
	_(POLICY, policy_invalid, "payload is not a valid policy")             \
	_(COMPILE, compile, "policy could not be compiled")                    \
	_(TLS, tls, "a local SVID would not verify under its trust domains, or no TLS contexts") \
	_(PERSIST, persist, "could not be written durably to the state directory") \
	_(AUDIT, audit, "the audit log could not record the change")

enum mg_load_refusal {
#define _(sym, name, desc) MG_LOAD_REFUSED_##sym,
	foreach_mg_load_refusal(_)
#undef _
	MG_LOAD_REFUSED__COUNT
};

enum mg_load_result { MG_LOAD_ACCEPTED, MG_LOAD_UNCHANGED, MG_LOAD_REFUSED };

/* Why the built-in deny-all policy is active, if it is. */
enum mg_deny_all_cause { MG_DENY_NONE, MG_DENY_NO_SNAPSHOT, MG_DENY_BOOT_REFUSED, MG_DENY_EXPIRED };

struct mg_loader {
	const struct mg_config *cfg;
	struct mg_audit *audit;
	struct mg_publish *pub;
	struct mg_key *trusted[MG_MAX_TRUST_KEYS];
	size_t n_trusted;
	char snapshot_path[PATH_MAX];
	char state_path[PATH_MAX];

	/* The active snapshot (have_active false: the built-in deny-all). */
	bool have_active;
	struct mg_snapshot_state active;
	struct mg_snapshot_meta meta;
	unsigned n_signers;
	uint8_t signers[MG_SNAPSHOT_MAX_SIGS][MG_KEY_ID_LEN];
	uint64_t loaded_at;      /* UTC seconds */
	enum mg_deny_all_cause deny_cause;
	/* Highest version ever accepted (anti-rollback), persisted with its digest. */
	struct mg_snapshot_state floor;

	/* Called with each generation before it is published (NULL: none): the
	 * gateway builds its TLS state there; failing refuses the snapshot. */
	MG_RESULT (*attach)(void *ctx, struct mg_gen *g);
	void *attach_ctx;
	/* Workers that read the generations: each gets an L7 scratch (0 counts as 1). */
	uint16_t workers;

	uint64_t accepted, unchanged, alarms;
	uint64_t refused[MG_LOAD_REFUSED__COUNT];
};

/** Load the trusted keys named in @p cfg and remember where state lives. */
MG_RESULT mg_loader_init(struct mg_loader *l, const struct mg_config *cfg,
			 struct mg_audit *audit, struct mg_publish *pub);
void mg_loader_fini(struct mg_loader *l);

/**
 * Run the loader on @p bytes from @p source ("control", "directory", ...).
 * Writes a one-line reply for the pusher ("accepted version=N digest=H",
 * "unchanged ...", "refused reason=R detail=...").
 */
enum mg_load_result mg_loader_load(struct mg_loader *l, const uint8_t *bytes, size_t len,
				   const char *source, uint64_t now, char *reply,
				   size_t reply_size);

/** At start: re-verify the persisted snapshot against the persisted state. */
void mg_loader_boot(struct mg_loader *l, uint64_t now);

/** Once a second: swap in deny-all (and alarm) if the active snapshot expired. */
void mg_loader_tick(struct mg_loader *l, uint64_t now);

const char *mg_load_refusal_name(enum mg_load_refusal r);

#endif /* MG_LOADER_H */
