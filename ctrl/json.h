/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * A small, strict JSON tokenizer for what meshctl reads off the telemetry
 * socket. It fills a caller-provided token array (no allocation); each token
 * records its type, its byte range and, for containers, how many direct
 * children it has. Nesting depth and token count are bounded.
 */
#ifndef MG_JSON_H
#define MG_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "mg_error.h"

#define MG_JSON_MAX_DEPTH 16

enum mg_json_type {
	MG_JSON_OBJECT = 1,
	MG_JSON_ARRAY,
	MG_JSON_STRING, /* start/end exclude the quotes; escapes are left as is */
	MG_JSON_NUMBER,
	MG_JSON_TRUE,
	MG_JSON_FALSE,
	MG_JSON_NULL,
};

struct mg_json_tok {
	enum mg_json_type type;
	uint32_t start, end; /* byte range in the input */
	uint32_t size;       /* object: members; array: elements */
	uint32_t next;       /* index of the token after this one's subtree */
};

/**
 * Tokenize @p len bytes of @p s into at most @p max tokens.
 * @return the number of tokens, or -1 (MG_ERR_PROTO_FORMAT / IO_TOO_BIG).
 */
int mg_json_parse(const char *s, size_t len, struct mg_json_tok *toks, uint32_t max);

/** Index of the value for @p key in the object at token @p obj, or -1. */
int mg_json_get(const char *s, const struct mg_json_tok *toks, uint32_t obj,
		const char *key);

/** Copy a string token, decoding the escapes \" \\ \/ \n \t \r \b \f and \u00XX. */
size_t mg_json_string(const char *s, const struct mg_json_tok *t, char *out,
		      size_t size);

#endif /* MG_JSON_H */
