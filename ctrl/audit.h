/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The hash-chained audit log: an append-only text file, one record a line.
 *
 *     <index> <time> <type> prev=<hex64>[ <key>=<value>]... hash=<hex64>\n
 *
 * index is decimal from 0 without leading zeros; time is UTC RFC 3339
 * ("2026-11-23T10:00:00Z"); type and keys are [a-z0-9_.-]{1,32}; a value is
 * its bytes with every byte outside 0x21..0x7e, and '%' itself, written as
 * %XX (upper-case hex), so a value never holds a space or a newline.
 * The canonical bytes of a record are its line up to, not including,
 * " hash="; hash = SHA-256(prev || canonical bytes), prev being the 32 raw
 * bytes of the previous record's hash (zeros for record 0).
 *
 * Record 0 is "genesis" with format=mgaudit1 and a random 128-bit log id
 * (log=<hex32>). A "checkpoint" record signs the head before it with the
 * node key: fields log, head (index), key (key id hex), alg, sig (hex) over
 * the statement
 *
 *     "mgaudit checkpoint v1 log=<hex32> index=<n> hash=<hex64>"
 *
 * whose hash is the checkpoint record's own prev. The same statement,
 * kept outside the log, is a checkpoint file (one line):
 *
 *     mgaudit-checkpoint log=<hex32> index=<n> hash=<hex64> key=<hex64> alg=<alg> sig=<hex>
 *
 * mg_audit_checkpoint() writes it beside the log as <log>.checkpoint; it is
 * what reveals a truncated tail, which the chain alone cannot.
 *
 * Used from one thread (the control thread); an exclusive flock keeps a
 * second writer off the file.
 */
#ifndef MG_AUDIT_H
#define MG_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "mg_error.h"

#define MG_AUDIT_LINE_MAX 4096 /* longest record, newline included */
#define MG_AUDIT_MAX_FIELDS 32
#define MG_AUDIT_NAME_MAX 32   /* longest type or key */
#define MG_AUDIT_LOG_ID_LEN 16
#define MG_AUDIT_CHECKPOINT_SUFFIX ".checkpoint"

/** What is wrong with a log, at report.bad_index. */
#define foreach_mg_audit_fault(_)                                              \
	_(OK, ok, "the chain verifies")                                        \
	_(MALFORMED, malformed, "a line that is not a well-formed record")     \
	_(ALTERED, altered, "hash mismatch: the record's bytes were changed")  \
	_(BROKEN_LINK, broken_link, "prev is not the previous record's hash")  \
	_(GAP, gap, "records missing")                                         \
	_(REORDER, reorder, "a record out of order or repeated")               \
	_(TRUNCATED, truncated, "the log ends early")                          \
	_(CHECKPOINT, checkpoint, "a checkpoint that does not verify")

enum mg_audit_fault {
#define _(sym, name, desc) MG_AUDIT_##sym,
	foreach_mg_audit_fault(_)
#undef _
};

struct mg_audit_report {
	enum mg_audit_fault fault;
	uint64_t bad_index;          /* first bad index (fault != OK) */
	char why[256];               /* one sentence about it */
	uint64_t n_records;          /* records verified good, from index 0 */
	uint64_t head_index;         /* last good record (n_records > 0) */
	uint8_t head_hash[32];
	uint8_t log_id[MG_AUDIT_LOG_ID_LEN];
	uint64_t n_checkpoints;      /* checkpoint records among the good ones */
	uint64_t last_checkpoint;    /* index of the last of them */
	bool checkpoints_signed;     /* a key was given: their signatures were checked */
	bool have_external;          /* an external checkpoint file was used */
	uint64_t external_index;     /* the head it covers */
	bool external_signed;        /* and its signature was checked */
};

struct mg_audit;

/**
 * Open the log at @p path for appending. A missing file is created (0640)
 * with its genesis record, atomically (written beside it, then linked into
 * place). An existing file is verified whole, against <path>.checkpoint if
 * there is one, and appending continues from its head. A torn final
 * record (bytes after the last newline, as a power cut can leave) is cut off
 * first and the cut is recorded as an "audit.torn_record_cut" record. @p node_key_path
 * (may be NULL: no checkpoints) is the private key that signs checkpoints;
 * it also checks the existing ones. A broken existing chain fails with
 * MG_ERR_PROTO_FORMAT (MG_ERR_PROTO_SIGNATURE for a checkpoint) and a
 * "index N: why" message; the caller treats it as drift.
 */
MG_RESULT mg_audit_open(const char *path, const char *node_key_path, struct mg_audit **out);

/** Close @p log (NULL is fine). */
void mg_audit_close(struct mg_audit *log);

/**
 * Append one record of @p type with key/value string pairs ending in NULL:
 * mg_audit_append(log, "snapshot.refused", "reason", "rollback", NULL).
 * The record is one write(2) on an O_APPEND descriptor, then fdatasync. A
 * failed write is cut back off the file; after any failure the log refuses
 * further appends (MG_ERR_IO) so no record is chained over a lost one.
 * Bad names, a reserved type (genesis, checkpoint) or key (prev, hash), or
 * a record longer than MG_AUDIT_LINE_MAX fail with MG_ERR_USAGE.
 */
MG_RESULT mg_audit_append(struct mg_audit *log, const char *type, ...)
	__attribute__((sentinel));

/** The same with @p n_pairs pairs in @p kv (kv[2i] key, kv[2i+1] value). */
MG_RESULT mg_audit_appendv(struct mg_audit *log, const char *type, const char *const *kv,
			   size_t n_pairs);

/**
 * Append a checkpoint record signing the current head with the node key and
 * replace <path>.checkpoint with the same signed head (atomically). Needs a
 * node key (MG_ERR_USAGE otherwise).
 */
MG_RESULT mg_audit_checkpoint(struct mg_audit *log);

/** The last record written: its index and hash. */
void mg_audit_head(const struct mg_audit *log, uint64_t *index, uint8_t hash[32]);

/** The index of the last checkpoint record, if there is one. */
bool mg_audit_last_checkpoint(const struct mg_audit *log, uint64_t *index);

/**
 * Verify the log at @p path; @p r is filled either way. With @p pub (the
 * node key), every checkpoint record's signature (and the key id it names)
 * is checked. With @p checkpoint_path, the log must reach that checkpoint's
 * head with the same hash, else MG_AUDIT_TRUNCATED (bad_index: the first
 * missing record) or MG_AUDIT_ALTERED; its signature is checked with
 * @p checkpoint_pub, or @p pub when that is NULL (the gateway's own
 * <log>.checkpoint is signed by the node key). Returns 0 if all verifies; otherwise -1 with
 * MG_ERR_PROTO_FORMAT (chain faults), MG_ERR_PROTO_SIGNATURE (checkpoint
 * faults) or MG_ERR_IO (cannot read).
 */
MG_RESULT mg_audit_verify(const char *path, const struct mg_key *pub,
			  const char *checkpoint_path, const struct mg_key *checkpoint_pub,
			  struct mg_audit_report *r);

/**
 * Verify the log at @p log_path (no key, no external checkpoint), then sign
 * its head with @p key into the checkpoint file @p out_path (atomically).
 * For an operator keeping a signed head off the box; never writes the log.
 */
MG_RESULT mg_audit_export_checkpoint(const char *log_path, const struct mg_key *key,
				     const char *out_path, struct mg_audit_report *r);

/** "<log_path>.checkpoint" into @p buf. */
MG_RESULT mg_audit_checkpoint_path(const char *log_path, char *buf, size_t size);

/** Name of a fault as printed ("gap"). */
const char *mg_audit_fault_name(enum mg_audit_fault f);

#endif /* MG_AUDIT_H */
