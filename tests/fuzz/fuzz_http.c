/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer: the HTTP/1.1 parser (dataplane/http.c) on whatever a peer sends.
 * Byte 0 picks how the stream is cut (pieces of 1 to 32 bytes), byte 1 the
 * limits (default or tiny), the methods of the requests the responses
 * answer (HEAD, CONNECT or GET) and whether a CONNECT or Upgrade request's
 * WAIT opens the tunnel or resumes parsing. The rest is fed as requests and as
 * responses, whole and in pieces: both must give the same events at the same
 * offsets with the same fields. The lent buffer is malloc'd at its exact size
 * and the input ends where libFuzzer's buffer does, so ASan sees any read or
 * write past either. Every origin path a request reports, and the input
 * itself, is normalized: the path never keeps "/../", "/./" or "%2F", and
 * normalizing again changes nothing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

#define MAX_EVENTS 512

struct event {
	uint64_t ev; /* no padding: traces compare with memcmp */
	uint64_t off;
	uint64_t fields; /* a hash of the HEAD's fields */
};

struct trace {
	struct event e[MAX_EVENTS];
	size_t n;
	uint8_t err;
};

static const struct mg_http_limits limits[2] = {
	MG_HTTP_LIMITS_DEFAULT,
	{ .max_request_line = 24, .max_headers = 3, .max_header_bytes = 96, .max_chunk_ext = 6 },
};
static char *bufs[2];

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

/* A reported string lies inside the lent buffer. */
static uint64_t str(uint64_t h, const char *s, uint16_t n, const char *buf, size_t cap)
{
	if (!s)
		return n ? (abort(), 0) : mix(h, "-", 1);
	if (s < buf || s + n > buf + cap)
		abort();
	return mix(mix(h, s, n), &n, sizeof(n));
}

static void check_path(const char *in, size_t len)
{
	/* Exactly len bytes: the output never outgrows the input, and ASan checks it. */
	char *out = malloc(len ? len : 1), *again = malloc(len ? len : 1);
	enum mg_http_path_error why;

	for (unsigned flags = 0; flags < 2; flags++) {
		size_t n = mg_http_normalize_path(in, len, out, len, flags, &why), m, p;

		if ((n == 0) != (why != MG_HTTP_PATH_OK) || n > len)
			abort();
		if (n == 0)
			continue;
		for (p = 0; p < n && out[p] != '?'; p++)
			;
		if (out[0] != '/' || memmem(out, p, "/../", 4) || memmem(out, p, "/./", 3) ||
		    memmem(out, p, "%2F", 3) || memmem(out, p, "%2f", 3) ||
		    (p >= 3 && memcmp(out + p - 3, "/..", 3) == 0) ||
		    (p >= 2 && memcmp(out + p - 2, "/.", 2) == 0) || memchr(out, '\\', p))
			abort();
		m = mg_http_normalize_path(out, n, again, n, flags, &why);
		if (m != n || memcmp(out, again, n) != 0)
			abort();
	}
	free(out);
	free(again);
}

static void note_head(struct trace *t, const struct mg_http_parser *p, size_t cap,
		      struct event *e)
{
	const struct mg_http_msg *m = &p->msg;
	uint64_t h = 0xcbf29ce484222325ULL;

	h = str(h, m->method, m->method_len, p->buf, cap);
	h = str(h, m->target, m->target_len, p->buf, cap);
	h = str(h, m->path, m->path_len, p->buf, cap);
	h = str(h, m->authority, m->authority_len, p->buf, cap);
	h = str(h, m->host, m->host_len, p->buf, cap);
	h = mix(h, &m->framing, sizeof(m->framing));
	h = mix(h, &m->content_length, sizeof(m->content_length));
	h = mix(h, &m->status, sizeof(m->status));
	h = mix(h, &m->keep_alive, sizeof(m->keep_alive));
	h = mix(h, &m->interim, sizeof(m->interim));
	e->fields = h;
	if (p->kind == MG_HTTP_REQUEST && m->form == MG_HTTP_FORM_ORIGIN)
		check_path(m->path, m->path_len);
	(void)t;
}

/*
 * Feed @p len bytes in pieces of @p piece (0: whole), then end the stream. A
 * WAIT (after CONNECT or Upgrade) opens the tunnel when @p tunnel, else resumes.
 */
static void run(struct mg_http_parser *p, const uint8_t *in, size_t len, size_t piece,
		size_t cap, bool tunnel, struct trace *t)
{
	size_t off = 0, end;
	enum mg_http_event ev = MG_HTTP_EV_NONE;

	t->n = 0;
	do {
		end = piece == 0 || off + piece > len ? len : off + piece;
		do {
			size_t used = mg_http_feed(p, in + off, end - off, &ev);

			if (used > end - off || (ev == MG_HTTP_EV_NONE && used != end - off))
				abort();
			off += used;
			if (ev == MG_HTTP_EV_NONE || t->n == MAX_EVENTS)
				break;
			t->e[t->n].ev = ev;
			t->e[t->n].off = off;
			t->e[t->n].fields = 0;
			if (ev == MG_HTTP_EV_HEAD)
				note_head(t, p, cap, &t->e[t->n]);
			t->n++;
			if (ev == MG_HTTP_EV_WAIT && tunnel)
				mg_http_set_tunnel(p);
			else if (ev == MG_HTTP_EV_WAIT)
				mg_http_resume(p);
		} while (ev != MG_HTTP_EV_ERROR);
	} while (ev != MG_HTTP_EV_ERROR && off < len && t->n < MAX_EVENTS);
	if (ev != MG_HTTP_EV_ERROR && t->n < MAX_EVENTS) {
		t->e[t->n].ev = mg_http_eof(p);
		t->e[t->n].off = off;
		t->e[t->n++].fields = 0;
	}
	t->err = p->err;
	if (p->err >= MG_HTTP_ERR__COUNT)
		abort();
}

static void both_ways(enum mg_http_kind kind, uint8_t sel, const uint8_t *in, size_t len,
		      size_t piece)
{
	static struct trace whole, split;
	const struct mg_http_limits *l = &limits[sel & 1];
	struct mg_http_parser p;

	for (int pass = 0; pass < 2; pass++) {
		mg_http_init(&p, kind, l, bufs[sel & 1]);
		/* Seven requests owed answers: bits 1..7 say HEAD, bit 7 also CONNECT. */
		for (int i = 1; kind == MG_HTTP_RESPONSE && i < 8; i++)
			mg_http_expect(&p, (sel >> i) & 1 ? (i == 7 ? MG_HTTP_M_CONNECT : MG_HTTP_M_HEAD)
							  : MG_HTTP_M_GET);
		run(&p, in, len, pass ? piece : 0, l->max_header_bytes, sel & 0x80,
		    pass ? &split : &whole);
	}
	if (whole.n != split.n || whole.err != split.err ||
	    memcmp(whole.e, split.e, whole.n * sizeof(whole.e[0])) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t piece;

	if (!bufs[0]) {
		bufs[0] = malloc(limits[0].max_header_bytes);
		bufs[1] = malloc(limits[1].max_header_bytes);
	}
	if (size < 2 || size > 65536)
		return 0;
	piece = 1 + data[0] % 32;
	both_ways(MG_HTTP_REQUEST, data[1], data + 2, size - 2, piece);
	both_ways(MG_HTTP_RESPONSE, data[1], data + 2, size - 2, piece);
	check_path((const char *)data + 2, size - 2);
	return 0;
}
