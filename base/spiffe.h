/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * SPIFFE IDs: spiffe://<trust-domain><path>, checked to the letter of the
 * SPIFFE ID specification.
 *
 * - scheme "spiffe://" in lower case;
 * - trust domain: 1..255 bytes of [a-z0-9.-_] (lower case only; no port,
 *   no userinfo, no percent-encoding);
 * - path: empty, or one or more "/segment" with segment 1+ bytes of
 *   [A-Za-z0-9.-_], never "." or ".."; no trailing slash, no query, no
 *   fragment;
 * - at most 2048 bytes in all.
 *
 * An ID with an empty path names a trust domain itself, never a workload:
 * the policy refuses it where a workload is meant.
 *
 * Patterns (policy rules only, never an ID on the wire) add one form: an ID
 * followed by "/\*" matches every ID strictly beneath it, so
 * "spiffe://example.org/\*" is every workload of example.org and
 * "spiffe://example.org/ns/prod/\*" matches ".../ns/prod/sa/web" but not
 * ".../ns/prod" itself.
 */
#ifndef MG_SPIFFE_H
#define MG_SPIFFE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mg_error.h"

#define MG_SPIFFE_SCHEME "spiffe://"
#define MG_SPIFFE_SCHEME_LEN 9
#define MG_SPIFFE_MAX_LEN 2048 /* whole ID, bytes */
#define MG_SPIFFE_TD_MAX 255   /* trust domain, bytes */

/** A parsed ID (or pattern): the whole text plus where its parts are. */
struct mg_spiffe_id {
	char id[MG_SPIFFE_MAX_LEN + 2];   /* the whole ID (a pattern adds '/'), NUL-terminated */
	char td[MG_SPIFFE_TD_MAX + 1];    /* the trust domain, NUL-terminated */
	uint16_t len;                     /* strlen(id) */
	uint16_t td_len;                  /* strlen(td) */
	uint16_t path_off;                /* the path is id + path_off ("" or "/a/b") */
	bool prefix;                      /* pattern "<id>/\*": id holds "<id>/" */
};

/** The path of @p s ("" when the ID names the trust domain). */
static inline const char *mg_spiffe_path(const struct mg_spiffe_id *s)
{
	return s->id + s->path_off;
}

/**
 * Check @p len bytes at @p s for SPIFFE ID syntax without copying or setting
 * the thread's error (cheap enough for the data path). Returns NULL when the
 * ID is valid and stores the trust domain's length in *@p td_len (may be
 * NULL); otherwise a fixed sentence naming the problem.
 */
const char *mg_spiffe_check(const char *s, size_t len, size_t *td_len);

/**
 * Parse the NUL-terminated ID @p s into @p out. On failure: MG_ERR_PROTO_FORMAT
 * and mg_errmsg() says what is wrong and at which byte.
 */
MG_RESULT mg_spiffe_parse(const char *s, struct mg_spiffe_id *out);

/** The same for @p len bytes (no NUL needed; an embedded NUL is refused). */
MG_RESULT mg_spiffe_parse_n(const char *s, size_t len, struct mg_spiffe_id *out);

/**
 * Parse a policy pattern: an ID, or an ID followed by "/\*" (out->prefix set,
 * out->id ends in "/"). A pattern must name a workload or a set of them: an
 * exact ID with an empty path is refused (write "spiffe://td/\*" instead).
 */
MG_RESULT mg_spiffe_parse_pattern(const char *s, struct mg_spiffe_id *out);

/** Check a bare trust domain name (as in trust_domains); NULL if valid. */
const char *mg_spiffe_check_td(const char *s, size_t len);

/** True if pattern @p pat (from mg_spiffe_parse_pattern) matches ID @p id. */
bool mg_spiffe_match(const struct mg_spiffe_id *pat, const char *id, size_t len);

#endif /* MG_SPIFFE_H */
