/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The strict JSON tokenizer meshctl runs on telemetry replies (json.h): no
 * allocation, bounded depth and token count.
 */
#include "json.h"

#include <stdio.h>
#include <string.h>

struct parser {
	const char *s;
	size_t len, pos;
	struct mg_json_tok *toks;
	uint32_t n, max;
};

static int value(struct parser *p, unsigned depth);

static void skip_ws(struct parser *p)
{
	while (p->pos < p->len && strchr(" \t\r\n", p->s[p->pos]) && p->s[p->pos])
		p->pos++;
}

static int fail(const struct parser *p, const char *what)
{
	return mg_error_set(MG_ERR_PROTO_FORMAT, "JSON offset %zu: %s", p->pos, what);
}

static int new_tok(struct parser *p, enum mg_json_type type)
{
	if (p->n == p->max)
		return mg_error_set(MG_ERR_IO_TOO_BIG, "JSON: more than %u tokens", p->max);
	p->toks[p->n] = (struct mg_json_tok){ .type = type, .start = (uint32_t)p->pos };
	return (int)p->n++;
}

static int string(struct parser *p)
{
	int t;

	p->pos++; /* opening quote */
	t = new_tok(p, MG_JSON_STRING);
	MG_GUARD(t);
	while (p->pos < p->len && p->s[p->pos] != '"') {
		unsigned char c = (unsigned char)p->s[p->pos];

		if (c < 0x20)
			return fail(p, "control character in string");
		if (c == '\\') {
			if (p->pos + 1 >= p->len || !strchr("\"\\/bfnrtu", p->s[p->pos + 1]) ||
			    !p->s[p->pos + 1])
				return fail(p, "bad escape");
			p->pos++;
		}
		p->pos++;
	}
	if (p->pos >= p->len)
		return fail(p, "unterminated string");
	p->toks[t].end = (uint32_t)p->pos++;
	p->toks[t].next = p->n;
	return t;
}

static int literal(struct parser *p, const char *word, enum mg_json_type type)
{
	size_t n = strlen(word);
	int t;

	if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
		return fail(p, "unexpected character");
	t = new_tok(p, type);
	MG_GUARD(t);
	p->pos += n;
	p->toks[t].end = (uint32_t)p->pos;
	p->toks[t].next = p->n;
	return t;
}

static int number(struct parser *p)
{
	size_t start = p->pos;
	int t;

	while (p->pos < p->len && p->s[p->pos] && strchr("+-0123456789.eE", p->s[p->pos]))
		p->pos++;
	if (p->pos == start)
		return fail(p, "unexpected character");
	p->pos = start;
	t = new_tok(p, MG_JSON_NUMBER);
	MG_GUARD(t);
	while (p->pos < p->len && p->s[p->pos] && strchr("+-0123456789.eE", p->s[p->pos]))
		p->pos++;
	p->toks[t].end = (uint32_t)p->pos;
	p->toks[t].next = p->n;
	return t;
}

/* Members of an object or elements of an array, after the opening bracket. */
static int container(struct parser *p, unsigned depth, int is_object)
{
	char close = is_object ? '}' : ']';
	int t = new_tok(p, is_object ? MG_JSON_OBJECT : MG_JSON_ARRAY);

	MG_GUARD(t);
	p->pos++;
	skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == close)
		goto done;
	for (;;) {
		skip_ws(p);
		if (is_object) {
			if (p->pos >= p->len || p->s[p->pos] != '"')
				return fail(p, "object key must be a string");
			MG_GUARD(string(p));
			skip_ws(p);
			if (p->pos >= p->len || p->s[p->pos] != ':')
				return fail(p, "expected ':'");
			p->pos++;
		}
		MG_GUARD(value(p, depth + 1));
		p->toks[t].size++;
		skip_ws(p);
		if (p->pos < p->len && p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->pos < p->len && p->s[p->pos] == close)
			break;
		return fail(p, "expected ',' or closing bracket");
	}
done:
	p->pos++;
	p->toks[t].end = (uint32_t)p->pos;
	p->toks[t].next = p->n;
	return t;
}

static int value(struct parser *p, unsigned depth)
{
	if (depth > MG_JSON_MAX_DEPTH)
		return fail(p, "nested too deeply");
	skip_ws(p);
	if (p->pos >= p->len)
		return fail(p, "unexpected end");
	switch (p->s[p->pos]) {
	case '{':
		return container(p, depth, 1);
	case '[':
		return container(p, depth, 0);
	case '"':
		return string(p);
	case 't':
		return literal(p, "true", MG_JSON_TRUE);
	case 'f':
		return literal(p, "false", MG_JSON_FALSE);
	case 'n':
		return literal(p, "null", MG_JSON_NULL);
	default:
		return number(p);
	}
}

int mg_json_parse(const char *s, size_t len, struct mg_json_tok *toks, uint32_t max)
{
	struct parser p = { .s = s, .len = len, .toks = toks, .max = max };

	MG_ENSURE(len < UINT32_MAX, IO_TOO_BIG, "JSON: input too large");
	MG_GUARD(value(&p, 0));
	skip_ws(&p);
	if (p.pos != p.len)
		return fail(&p, "trailing bytes");
	return (int)p.n;
}

int mg_json_get(const char *s, const struct mg_json_tok *toks, uint32_t obj,
		const char *key)
{
	size_t klen = strlen(key);
	uint32_t i = obj + 1;

	if (toks[obj].type != MG_JSON_OBJECT)
		return -1;
	for (uint32_t m = 0; m < toks[obj].size; m++) {
		const struct mg_json_tok *k = &toks[i];

		if (k->end - k->start == klen && memcmp(s + k->start, key, klen) == 0)
			return (int)(i + 1);
		i = toks[i + 1].next; /* skip the key and the value's subtree */
	}
	return -1;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* \u00XX becomes byte XX; other code points become '?' (telemetry is ASCII). */
static char unicode_escape(const char *s, uint32_t *i, uint32_t end)
{
	int v = 0;

	for (int k = 0; k < 4; k++) {
		int h = *i + 1 < end ? hexval(s[*i + 1]) : -1;

		if (h < 0)
			return '?';
		v = v * 16 + h;
		(*i)++;
	}
	return v < 0x80 ? (char)v : '?';
}

size_t mg_json_string(const char *s, const struct mg_json_tok *t, char *out,
		      size_t size)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	size_t n = 0;

	for (uint32_t i = t->start; i < t->end && n + 1 < size; i++) {
		char c = s[i];

		if (c == '\\' && i + 1 < t->end) {
			c = s[++i];
			const char *k = strchr(from, c);

			if (c == 'u')
				c = unicode_escape(s, &i, t->end);
			else
				c = k && c ? to[k - from] : '?';
		}
		out[n++] = c;
	}
	if (size)
		out[n] = '\0';
	return n;
}
