/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Error codes and guard macros shared by every room.
 *
 * A function that can fail returns MG_RESULT (0 on success, -1 on failure) and,
 * on failure, records one code from the table below plus a human sentence in
 * thread-local storage (mg_errno(), mg_errmsg()). Callers chain MG_GUARD() so the
 * first failure propagates unchanged; the message is written once, where the
 * fault is known (file:line: field: problem for config errors).
 */
#ifndef MG_ERROR_H
#define MG_ERROR_H

#include <stdarg.h>

#define MG_RESULT __attribute__((warn_unused_result)) int

/* Codes grouped by kind: usage, config, io, proto (format/crypto), internal. */
#define foreach_mg_error(_)                                                   \
	_(OK, "ok")                                                           \
	_(USAGE, "usage error")                                               \
	_(CONFIG_SYNTAX, "config syntax error")                               \
	_(CONFIG_UNKNOWN_FIELD, "unknown config field")                       \
	_(CONFIG_TYPE, "config field has the wrong type")                     \
	_(CONFIG_RANGE, "config value out of range")                          \
	_(CONFIG_MISSING, "required config field missing")                    \
	_(CONFIG_VALUE, "invalid config value")                               \
	_(IO, "i/o error")                                                    \
	_(IO_TOO_BIG, "input exceeds its size cap")                           \
	_(PROTO_FORMAT, "malformed input")                                    \
	_(PROTO_SIGNATURE, "signature check failed")                          \
	_(PROTO_ROLLBACK, "version rollback")                                 \
	_(PROTO_EQUIVOCATION, "equivocation: same version, different digest") \
	_(PROTO_EXPIRED, "expired")                                           \
	_(PROTO_NOT_YET_VALID, "not yet valid")                               \
	_(CRYPTO, "crypto library error")                                     \
	_(NOMEM, "out of memory")                                             \
	_(DPDK, "DPDK call failed")                                           \
	_(INTERNAL, "internal error")

enum mg_err {
#define _(sym, str) MG_ERR_##sym,
	foreach_mg_error(_)
#undef _
	MG_ERR__COUNT
};

/** Record @p code and a printf-style message; always returns -1. */
int mg_error_set(enum mg_err code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/** The code of the last failure on this thread. */
enum mg_err mg_errno(void);
/** The message of the last failure on this thread ("" if none). */
const char *mg_errmsg(void);
/** The fixed description of @p code. */
const char *mg_strerror(enum mg_err code);
/** The symbolic name of @p code ("CONFIG_RANGE"). */
const char *mg_errname(enum mg_err code);
/** Forget the last failure (tests). */
void mg_error_clear(void);

/** Propagate a failure from a call returning MG_RESULT. */
#define MG_GUARD(x)                      \
	do {                             \
		if ((x) < 0)             \
			return -1;       \
	} while (0)

/** Fail with @p code and a message unless @p cond holds. */
#define MG_ENSURE(cond, code, ...)                                  \
	do {                                                        \
		if (!(cond))                                        \
			return mg_error_set(MG_ERR_##code, __VA_ARGS__); \
	} while (0)

/** Like MG_GUARD, but jump to @p label (for the single cleanup exit). */
#define MG_GUARD_GOTO(x, label)          \
	do {                             \
		if ((x) < 0)             \
			goto label;      \
	} while (0)

/** Like MG_ENSURE, but set rc = -1 and jump to @p label. */
#define MG_ENSURE_GOTO(cond, label, code, ...)                     \
	do {                                                       \
		if (!(cond)) {                                     \
			rc = mg_error_set(MG_ERR_##code, __VA_ARGS__); \
			goto label;                                \
		}                                                  \
	} while (0)

#endif /* MG_ERROR_H */
