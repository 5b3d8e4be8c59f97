/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The HTTP/1.1 parser (dataplane/http.c): what each request and response
 * reports, every refusal with its own reason, pipelining, the same events
 * whatever the stream is cut into, and path normalization.
 *
 * A run is written down as a trace ("H GET|/a|/a||a|f0|cl0|ka1|s0@37;E@37;"):
 * events with their stream offsets and the fields of each HEAD, so two ways of
 * feeding the same bytes compare as strings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http.h"

#define TRACE_MAX 4096

static const struct mg_http_limits lim = MG_HTTP_LIMITS_DEFAULT;
static char hbuf[8192], hbuf2[8192];

static void cat(char *t, const char *fmt, ...)
{
	size_t n = strlen(t);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t + n, TRACE_MAX - n, fmt, ap);
	va_end(ap);
}

static void note_head(char *t, const struct mg_http_msg *m, size_t off)
{
	cat(t, "H %.*s|%.*s|%.*s|%.*s|%.*s|f%d|cl%llu|ka%d|s%u|i%d%s@%zu;",
	    (int)m->method_len, m->method ? m->method : "",
	    (int)m->target_len, m->target ? m->target : "",
	    (int)m->path_len, m->path ? m->path : "",
	    (int)m->authority_len, m->authority ? m->authority : "",
	    (int)m->host_len, m->host ? m->host : "", (int)m->framing,
	    (unsigned long long)m->content_length, m->keep_alive, m->status,
	    m->interim, m->upgrade ? "u" : "", off);
}

static void waited(struct mg_http_parser *p, char *t, size_t off)
{
	cat(t, "W@%zu;", off);
	mg_http_resume(p);
}

/*
 * Feed @p s to @p p in pieces: whole (cut == 0), cut in two at @p cut, or one
 * byte at a time (cut == SIZE_MAX); then end the stream when @p eof.
 */
static void run(struct mg_http_parser *p, const char *s, size_t len, size_t cut,
		bool eof, char *t)
{
	size_t off = 0, end;
	enum mg_http_event ev = MG_HTTP_EV_NONE;

	t[0] = 0;
	do {
		end = cut == 0 ? len : cut == SIZE_MAX ? off + 1 : off < cut ? cut : len;
		if (end > len)
			end = len;
		do {
			off += mg_http_feed(p, (const uint8_t *)s + off, end - off, &ev);
			if (ev == MG_HTTP_EV_HEAD)
				note_head(t, &p->msg, off);
			else if (ev == MG_HTTP_EV_END)
				cat(t, "E@%zu;", off);
			else if (ev == MG_HTTP_EV_WAIT)
				waited(p, t, off); /* the response refused the tunnel */
		} while (ev == MG_HTTP_EV_HEAD || ev == MG_HTTP_EV_END || ev == MG_HTTP_EV_WAIT);
	} while (ev != MG_HTTP_EV_ERROR && off < len);
	if (ev == MG_HTTP_EV_ERROR) {
		cat(t, "X %s@%zu;", mg_http_error_name(p->err), off);
		return;
	}
	if (eof)
		cat(t, "eof%d;", (int)mg_http_eof(p));
}

static void req(const char *s, char *t)
{
	struct mg_http_parser p;

	mg_http_init(&p, MG_HTTP_REQUEST, &lim, hbuf);
	run(&p, s, strlen(s), 0, false, t);
}

/* The error a request stream ends in, or "none". */
static const char *req_error(const char *s, size_t len, const struct mg_http_limits *l)
{
	static struct mg_http_parser p;
	enum mg_http_event ev;
	size_t off = 0;

	mg_http_init(&p, MG_HTTP_REQUEST, l, hbuf);
	do {
		off += mg_http_feed(&p, (const uint8_t *)s + off, len - off, &ev);
		if (ev == MG_HTTP_EV_WAIT)
			mg_http_resume(&p);
	} while (ev == MG_HTTP_EV_HEAD || ev == MG_HTTP_EV_END || ev == MG_HTTP_EV_WAIT);
	return ev == MG_HTTP_EV_ERROR ? mg_http_error_name(p.err) : "none";
}

#define ERR(s, l) req_error((s), strlen(s), (l))

static void state_is_small(void **st)
{
	(void)st;
	printf("sizeof(struct mg_http_parser) = %zu\n", sizeof(struct mg_http_parser));
	assert_true(sizeof(struct mg_http_parser) <= MG_HTTP_STATE_MAX);
}

static void get_origin_form(void **st)
{
	char t[TRACE_MAX];

	(void)st;
	req("GET /a/b?x=1 HTTP/1.1\r\nHost: example.com:8080\r\nAccept: */*\r\n\r\n", t);
	assert_string_equal(t, "H GET|/a/b?x=1|/a/b?x=1||example.com:8080|f0|cl0|ka1|s0|i0@62;"
			       "E@62;");
}

static void absolute_form_host_is_authority(void **st)
{
	char t[TRACE_MAX];

	(void)st;
	req("GET http://Ledger:80/v1?q HTTP/1.1\r\nHost: ledger:80\r\n\r\n", t);
	assert_string_equal(t, "H GET|http://Ledger:80/v1?q|/v1?q|Ledger:80|Ledger:80|f0|cl0|"
			       "ka1|s0|i0@55;E@55;");
	req("GET https://a HTTP/1.1\r\nHost: a\r\n\r\n", t);
	assert_string_equal(t, "H GET|https://a||a|a|f0|cl0|ka1|s0|i0@35;E@35;");
	req("GET http://a/x HTTP/1.1\r\nHost: b\r\n\r\n", t);
	assert_string_equal(t, "X host_mismatch@36;");
	req("GET http://a:80/x HTTP/1.1\r\nHost: a\r\n\r\n", t);
	assert_string_equal(t, "X host_mismatch@39;");
}

static void connect_and_options(void **st)
{
	char t[TRACE_MAX];

	(void)st;
	/* Refused CONNECT: what follows is parsed as the backend will read it. */
	req("CONNECT db:5432 HTTP/1.1\r\nHost: db:5432\r\n\r\nGET / HTTP/1.1\r\nHost: db:5432\r\n\r\n", t);
	assert_string_equal(t, "H CONNECT|db:5432||db:5432|db:5432|f0|cl0|ka1|s0|i0u@43;E@43;W@43;"
			       "H GET|/|/||db:5432|f0|cl0|ka1|s0|i0@76;E@76;");
	req("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", t);
	assert_string_equal(t, "H OPTIONS|*|*||a|f0|cl0|ka1|s0|i0@31;E@31;");
}

static void keep_alive_rules(void **st)
{
	char t[TRACE_MAX];

	(void)st;
	req("GET / HTTP/1.0\r\nHost: a\r\n\r\n", t);
	assert_string_equal(t, "H GET|/|/||a|f0|cl0|ka0|s0|i0@27;E@27;");
	req("GET / HTTP/1.0\r\nHost: a\r\nConnection: Keep-Alive\r\n\r\n", t);
	assert_string_equal(t, "H GET|/|/||a|f0|cl0|ka1|s0|i0@51;E@51;");
	req("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n", t);
	assert_string_equal(t, "H GET|/|/||a|f0|cl0|ka0|s0|i0@51;E@51;");
}

static void content_length_body(void **st)
{
	char t[TRACE_MAX];

	(void)st;
	req("POST /c HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", t);
	assert_string_equal(t, "H POST|/c|/c||a|f1|cl5|ka1|s0|i0@48;E@53;");
	req("POST /c HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", t);
	assert_string_equal(t, "H POST|/c|/c||a|f1|cl0|ka1|s0|i0@48;E@48;");
}

static void chunked_body_with_ext_and_trailer(void **st)
{
	char t[TRACE_MAX];

	(void)st;
	req("POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:  Chunked \r\n\r\n"
	    "5;name=val\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Sum: 1\r\n\r\n", t);
	assert_string_equal(t, "H POST|/c|/c||a|f2|cl0|ka1|s0|i0@59;E@108;");
}

static const char pipelined3[] =
	"POST /one HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
	"POST /two HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n0\r\n\r\n"
	"\r\nGET /three HTTP/1.1\r\nHost: b\r\n\r\n";

static void pipelined_two_and_three(void **st)
{
	char t[TRACE_MAX];

	(void)st;
	req("GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: b\r\n\r\n", t);
	assert_string_equal(t, "H GET|/1|/1||a|f0|cl0|ka1|s0|i0@28;E@28;"
			       "H GET|/2|/2||b|f0|cl0|ka1|s0|i0@56;E@56;");
	req(pipelined3, t);
	assert_string_equal(t, "H POST|/one|/one||a|f1|cl3|ka1|s0|i0@50;E@53;"
			       "H POST|/two|/two||a|f2|cl0|ka1|s0|i0@112;E@124;"
			       "H GET|/three|/three||b|f0|cl0|ka1|s0|i0@158;E@158;");
}

/* Each refused request and the reason it must be refused with. */
static const struct refusal {
	const char *in;
	const char *reason;
} refusals[] = {
	{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", "cl_and_te" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", "cl_and_te" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", "duplicate_content_length" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", "duplicate_content_length" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", "conflicting_content_length" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,6\r\n\r\n", "conflicting_content_length" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n", "bad_content_length" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", "bad_content_length" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", "bad_content_length" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", "bad_content_length" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", "bad_content_length" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 9999999999999999999\r\n\r\n", "bad_content_length" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", "bad_transfer_encoding" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "bad_transfer_encoding" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", "bad_transfer_encoding" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", "bad_transfer_encoding" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", "bad_transfer_encoding" },
	{ "GET / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", "bad_transfer_encoding" },
	{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad_chunk_size" },
	{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", "bad_chunk_size" },
	{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5 x\r\n", "bad_chunk_size" },
	{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\n", "bad_chunk_size" },
	{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000001\r\n", "chunk_size_too_long" },
	{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n8000000000000000\r\n", "chunk_size_overflow" },
	{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n", "chunk_size_overflow" },
	{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;a=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\r\n", "chunk_ext_too_long" },
	{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;a=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "chunk_ext_too_long" },
	{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY", "bad_chunk_end" },
	{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\n", "bare_lf" },
	{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r0", "bare_cr" },
	{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\nZ", "bare_lf" },
	{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n folded\r\n", "obs_fold" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n continued\r\n\r\n", "obs_fold" },
	{ "GET / HTTP/1.1\r\n\tHost: a\r\n\r\n", "obs_fold" },
	{ "GET / HTTP/1.1\nHost: a\r\n\r\n", "bare_lf" },
	{ "GET / HTTP/1.1\r\nHost: a\n\r\n", "bare_lf" },
	{ "GET / HTTP/1.1\r\nHost: a\r\n\n", "bare_lf" },
	{ "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", "bare_cr" },
	{ "GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n", "ctl_byte" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", "ctl_byte" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nX: a\x1b[0m\r\n\r\n", "ctl_byte" },
	{ "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", "bad_method" },
	{ "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", "bad_method" },
	{ " GET / HTTP/1.1\r\nHost: a\r\n\r\n", "bad_method" },
	{ "G\xc3\x89T / HTTP/1.1\r\nHost: a\r\n\r\n", "bad_method" },
	{ "GET\r\nHost: a\r\n\r\n", "bad_request_line" },
	{ "GET /\r\nHost: a\r\n\r\n", "bad_request_line" },
	{ "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", "bad_target" },
	{ "GET foo HTTP/1.1\r\nHost: a\r\n\r\n", "bad_target" },
	{ "GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n", "bad_target" },
	{ "GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n", "bad_target" },
	{ "GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", "bad_target" },
	{ "GET /a#frag HTTP/1.1\r\nHost: a\r\n\r\n", "bad_target" },
	{ "GET /\x80 HTTP/1.1\r\nHost: a\r\n\r\n", "bad_target" },
	{ "GET /a\\b HTTP/1.1\r\nHost: a\r\n\r\n", "bad_target" },
	{ "GET * HTTP/1.1\r\nHost: a\r\n\r\n", "bad_target" },
	{ "GET a:443 HTTP/1.1\r\nHost: a\r\n\r\n", "bad_target" },
	{ "CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n", "bad_target" },
	{ "CONNECT db HTTP/1.1\r\nHost: db\r\n\r\n", "bad_target" },
	{ "GET / HTTP/2.0\r\nHost: a\r\n\r\n", "bad_version" },
	{ "GET / HTTP/1.2\r\nHost: a\r\n\r\n", "bad_version" },
	{ "GET / http/1.1\r\nHost: a\r\n\r\n", "bad_version" },
	{ "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", "bad_version" },
	{ "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", "bad_version" },
	{ "GET / HTTP/1.1\r\nX: y\r\n\r\n", "missing_host" },
	{ "GET / HTTP/1.0\r\n\r\n", "missing_host" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", "duplicate_host" },
	{ "GET / HTTP/1.1\r\nHost: a\r\nhOST: b\r\n\r\n", "duplicate_host" },
	{ "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", "bad_host" },
	{ "GET / HTTP/1.1\r\nHost:\r\n\r\n", "bad_host" },
	{ "GET / HTTP/1.1\r\nHost: a:x\r\n\r\n", "bad_host" },
	{ "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", "bad_host" },
	{ "GET / HTTP/1.1\r\nHost: a:123456\r\n\r\n", "bad_host" },
	{ "GET http://a/ HTTP/1.1\r\nHost: b\r\n\r\n", "host_mismatch" },
	{ "CONNECT a:443 HTTP/1.1\r\nHost: b:443\r\n\r\n", "host_mismatch" },
	{ "GET / HTTP/1.1\r\nHost : a\r\n\r\n", "space_before_colon" },
	{ "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", "space_before_colon" },
	{ "GET / HTTP/1.1\r\nHo(st: a\r\n\r\n", "bad_header_name" },
	{ "GET / HTTP/1.1\r\nX Y: a\r\nHost: a\r\n\r\n", "bad_header_name" },
	{ "GET / HTTP/1.1\r\n: a\r\n\r\n", "bad_header_name" },
	{ "GET / HTTP/1.1\r\nHosta\r\n\r\n", "header_without_colon" },
};

static void every_refusal_has_its_reason(void **st)
{
	(void)st;
	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		const char *got = req_error(refusals[i].in, strlen(refusals[i].in), &lim);

		if (strcmp(got, refusals[i].reason) != 0)
			fail_msg("refusal %zu (%s): got %s, want %s", i, refusals[i].in, got, refusals[i].reason);
	}
}

/* NUL cannot sit in a C string literal's middle for strlen(): lengths given. */
static void nul_bytes_refused(void **st)
{
	static const char line[] = "GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n";
	static const char field[] = "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n";

	(void)st;
	assert_string_equal(req_error(line, sizeof(line) - 1, &lim), "nul_byte");
	assert_string_equal(req_error(field, sizeof(field) - 1, &lim), "nul_byte");
}

static void limits_and_their_statuses(void **st)
{
	struct mg_http_limits small = { .max_request_line = 16, .max_headers = 2,
					.max_header_bytes = 64, .max_chunk_ext = 4 };
	char big[9000];

	(void)st;
	assert_string_equal(ERR("GET /0123456789a HTTP/1.1\r\n", &small),
			    "request_line_too_long");
	assert_string_equal(ERR("GET /0123 HTTP/1.1\r\nHost: a\r\n\r\n", &small),
			    "request_line_too_long");
	assert_string_equal(ERR("GET /01 HTTP/1.1\r\nHost: a\r\nA: 1\r\n\r\n", &small), "none");
	assert_string_equal(ERR("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n", &small),
			    "too_many_headers");
	assert_string_equal(ERR("GET / HTTP/1.1\r\nHost: a\r\nA: 0123456789012345678901234567890123\r\n\r\n",
				&small), "headers_too_large");
	assert_string_equal(ERR("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;abc\r\n",
				&small), "none");
	assert_string_equal(ERR("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;abcd\r\n",
				&small), "chunk_ext_too_long");
	assert_int_equal(mg_http_error_status(MG_HTTP_ERR_LINE_TOO_LONG), 414);
	assert_int_equal(mg_http_error_status(MG_HTTP_ERR_TOO_MANY_HEADERS), 431);
	assert_int_equal(mg_http_error_status(MG_HTTP_ERR_HEADERS_TOO_LARGE), 431);
	assert_int_equal(mg_http_error_status(MG_HTTP_ERR_CL_AND_TE), 400);
	/* The defaults: a 4097-byte request line, 8193 header bytes. */
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /", 5);
	assert_string_equal(req_error(big, 4200, &lim), "request_line_too_long");
	memcpy(big, "GET / HTTP/1.1\r\nHost: a\r\nX: ", 28);
	assert_string_equal(req_error(big, sizeof(big), &lim), "headers_too_large");
	/* A request line of exactly 4096 bytes passes, 4097 do not. */
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /", 5);
	memcpy(big + 4096 - 9, " HTTP/1.1\r\nHost: a\r\n\r\n", 22);
	assert_string_equal(req_error(big, 4096 - 9 + 22, &lim), "none");
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /", 5);
	memcpy(big + 4097 - 9, " HTTP/1.1\r\nHost: a\r\n\r\n", 22);
	assert_string_equal(req_error(big, 4097 - 9 + 22, &lim), "request_line_too_long");
}

static void truncated_at_eof(void **st)
{
	struct mg_http_parser p;
	char t[TRACE_MAX];
	static const char s[] = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\n\r\nabc";

	(void)st;
	mg_http_init(&p, MG_HTTP_REQUEST, &lim, hbuf);
	run(&p, s, sizeof(s) - 1, 0, true, t);
	assert_string_equal(t, "H POST|/|/||a|f1|cl9|ka1|s0|i0@47;eof3;");
	assert_string_equal(mg_http_error_name(p.err), "truncated");
	mg_http_init(&p, MG_HTTP_REQUEST, &lim, hbuf);
	run(&p, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 27, 0, true, t);
	assert_string_equal(t, "H GET|/|/||a|f0|cl0|ka1|s0|i0@27;E@27;eof0;");
}

/* A HEAD whose END was not asked for, then the stream ends: a whole message. */
static void eof_right_after_a_bodiless_head(void **st)
{
	struct mg_http_parser p;
	enum mg_http_event ev;
	static const char s[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";

	(void)st;
	mg_http_init(&p, MG_HTTP_REQUEST, &lim, hbuf);
	assert_int_equal(mg_http_feed(&p, (const uint8_t *)s, sizeof(s) - 1, &ev), 27);
	assert_int_equal(ev, MG_HTTP_EV_HEAD);
	assert_int_equal(mg_http_eof(&p), MG_HTTP_EV_END);
	assert_int_equal(mg_http_eof(&p), MG_HTTP_EV_NONE);
}

/* After a CONNECT the request side waits; the 2xx opens the tunnel. */
static void connect_waits_for_the_response(void **st)
{
	struct mg_http_parser rq, rs;
	enum mg_http_event ev;
	static const char c[] = "CONNECT db:5432 HTTP/1.1\r\nHost: db:5432\r\n\r\n\x16\x03\x01";
	static const char ok[] = "HTTP/1.1 200 OK\r\n\r\n\x16\x03\x03";
	size_t head = sizeof(c) - 1 - 3;

	(void)st;
	mg_http_init(&rq, MG_HTTP_REQUEST, &lim, hbuf);
	mg_http_init(&rs, MG_HTTP_RESPONSE, &lim, hbuf2);
	assert_int_equal(mg_http_feed(&rq, (const uint8_t *)c, sizeof(c) - 1, &ev), head);
	assert_int_equal(ev, MG_HTTP_EV_HEAD);
	assert_true(rq.msg.upgrade);
	assert_true(mg_http_expect(&rs, rq.msg.meth));
	assert_int_equal(mg_http_feed(&rq, (const uint8_t *)c + head, 3, &ev), 0);
	assert_int_equal(ev, MG_HTTP_EV_END);
	assert_int_equal(mg_http_feed(&rq, (const uint8_t *)c + head, 3, &ev), 0);
	assert_int_equal(ev, MG_HTTP_EV_WAIT); /* the TLS bytes are held */
	assert_int_equal(mg_http_feed(&rs, (const uint8_t *)ok, sizeof(ok) - 1, &ev), 19);
	assert_int_equal(ev, MG_HTTP_EV_HEAD);
	assert_int_equal(rs.msg.framing, MG_HTTP_BODY_TUNNEL);
	mg_http_set_tunnel(&rq);
	assert_int_equal(mg_http_feed(&rq, (const uint8_t *)c + head, 3, &ev), 3);
	assert_int_equal(ev, MG_HTTP_EV_NONE);
	assert_int_equal(mg_http_eof(&rq), MG_HTTP_EV_NONE);
}

/* An Upgrade the backend ignores: the next request is parsed as usual. */
static void upgrade_refused_resumes(void **st)
{
	char t[TRACE_MAX];

	(void)st;
	req("GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n", t);
	assert_string_equal(t, "H GET|/ws|/ws||a|f0|cl0|ka1|s0|i0u@49;E@49;W@49;"
			       "H GET|/x|/x||a|f0|cl0|ka1|s0|i0@77;E@77;");
}

/* ---- every split gives the same events ---- */

static const char *const split_cases[] = {
	pipelined3,
	"GET http://a:1/p?q HTTP/1.1\r\nHost: A:1\r\nConnection: close\r\n\r\n",
	"POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
	"1f;e=1\r\n0123456789012345678901234567890\r\n0\r\nT: v\r\n\r\nGET / HTTP/1.0\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n z\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",
	"CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\n\r\nOPTIONS * HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\n\r\n"
	"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
};

static void assert_splits_agree(enum mg_http_kind kind, const char *s, bool head_first)
{
	struct mg_http_parser p;
	char whole[TRACE_MAX], part[TRACE_MAX];
	size_t len = strlen(s);

	mg_http_init(&p, kind, &lim, hbuf);
	if (head_first)
		assert_true(mg_http_expect(&p, MG_HTTP_M_HEAD));
	run(&p, s, len, 0, true, whole);
	for (size_t cut = 1; cut <= len; cut++) {
		size_t c = cut == len ? SIZE_MAX : cut; /* the last round: byte by byte */

		mg_http_init(&p, kind, &lim, hbuf);
		if (head_first)
			assert_true(mg_http_expect(&p, MG_HTTP_M_HEAD));
		run(&p, s, len, c, true, part);
		if (strcmp(whole, part) != 0)
			fail_msg("cut %zu of \"%s\":\n whole %s\n split %s", c, s, whole, part);
	}
}

static void every_split_parses_the_same(void **st)
{
	(void)st;
	for (size_t i = 0; i < sizeof(split_cases) / sizeof(split_cases[0]); i++)
		assert_splits_agree(MG_HTTP_REQUEST, split_cases[i], false);
}

/* ---- responses ---- */

static void resp(const char *s, enum mg_http_method m1, enum mg_http_method m2, bool eof,
		 char *t)
{
	struct mg_http_parser p;

	mg_http_init(&p, MG_HTTP_RESPONSE, &lim, hbuf);
	assert_true(mg_http_expect(&p, m1));
	assert_true(mg_http_expect(&p, m2));
	run(&p, s, strlen(s), 0, eof, t);
}

static void response_content_length_and_chunked(void **st)
{
	char t[TRACE_MAX];

	(void)st;
	resp("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	     "HTTP/1.1 201 \r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nEtag: x\r\n\r\n",
	     MG_HTTP_M_GET, MG_HTTP_M_POST, true, t);
	assert_string_equal(t, "H |||||f1|cl2|ka1|s200|i0@38;E@40;"
			       "H |||||f2|cl0|ka1|s201|i0@85;E@107;eof0;");
}

static void response_without_body(void **st)
{
	char t[TRACE_MAX];

	(void)st;
	/* 204, and a HEAD's answer whose Content-Length describes a GET's body. */
	resp("HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"
	     "HTTP/1.1 200 OK\r\n", MG_HTTP_M_DELETE, MG_HTTP_M_HEAD, false, t);
	assert_string_equal(t, "H |||||f0|cl0|ka1|s204|i0@27;E@27;H |||||f0|cl0|ka1|s200|i0@66;E@66;");
	resp("HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\nHTTP/1.0 200 OK\r\n\r\nrest",
	     MG_HTTP_M_GET, MG_HTTP_M_GET, true, t);
	assert_string_equal(t, "H |||||f0|cl0|ka1|s304|i0@49;E@49;"
			       "H |||||f3|cl0|ka0|s200|i0@68;eof2;");
}

static void response_interim_then_final(void **st)
{
	char t[TRACE_MAX];

	(void)st;
	/* The 100 and 103 owe no body and do not answer the HEAD: the 200 does. */
	resp("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s>\r\n\r\n"
	     "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
	     "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
	     MG_HTTP_M_HEAD, MG_HTTP_M_GET, false, t);
	assert_string_equal(t, "H |||||f0|cl0|ka1|s100|i1@25;E@25;"
			       "H |||||f0|cl0|ka1|s103|i1@65;E@65;"
			       "H |||||f0|cl0|ka1|s200|i0@103;E@103;"
			       "H |||||f1|cl1|ka1|s200|i0@141;E@142;");
}

static void response_until_close_and_tunnels(void **st)
{
	char t[TRACE_MAX];

	(void)st;
	resp("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it", MG_HTTP_M_GET,
	     MG_HTTP_M_GET, true, t);
	assert_string_equal(t, "H |||||f3|cl0|ka0|s200|i0@38;eof2;");
	resp("HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x01", MG_HTTP_M_CONNECT,
	     MG_HTTP_M_GET, true, t);
	assert_string_equal(t, "H |||||f4|cl0|ka1|s200|i0@39;E@39;eof0;");
	resp("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05", MG_HTTP_M_GET,
	     MG_HTTP_M_GET, true, t);
	assert_string_equal(t, "H |||||f4|cl0|ka1|s101|i0@56;E@56;eof0;");
	/* A CONNECT refused with a body: framed as usual. */
	resp("HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno", MG_HTTP_M_CONNECT,
	     MG_HTTP_M_GET, true, t);
	assert_string_equal(t, "H |||||f1|cl2|ka1|s403|i0@45;E@47;eof0;");
}

static void response_refusals(void **st)
{
	char t[TRACE_MAX];

	(void)st;
	resp("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n",
	     MG_HTTP_M_GET, MG_HTTP_M_GET, false, t);
	assert_string_equal(t, "X cl_and_te@66;");
	resp("HTTP/2 200 OK\r\n\r\n", MG_HTTP_M_GET, MG_HTTP_M_GET, false, t);
	assert_string_equal(t, "X bad_version@15;");
	resp("HTTP/1.1 2000 OK\r\n\r\n", MG_HTTP_M_GET, MG_HTTP_M_GET, false, t);
	assert_string_equal(t, "X bad_status_line@18;");
	resp("HTTP/1.1 099 X\r\n\r\n", MG_HTTP_M_GET, MG_HTTP_M_GET, false, t);
	assert_string_equal(t, "X bad_status_line@16;");
	resp("HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", MG_HTTP_M_GET, MG_HTTP_M_GET, false, t);
	assert_string_equal(t, "X bare_lf@16;");
	assert_int_equal(mg_http_error_status(MG_HTTP_ERR_BAD_STATUS_LINE), 502);
}

static void response_splits_agree(void **st)
{
	(void)st;
	assert_splits_agree(MG_HTTP_RESPONSE,
			    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"
			    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\nT: 1\r\n\r\n"
			    "HTTP/1.1 200 OK\r\n\r\ntail", true);
}

static void expect_queue_is_bounded(void **st)
{
	struct mg_http_parser p;

	(void)st;
	mg_http_init(&p, MG_HTTP_RESPONSE, &lim, hbuf);
	for (int i = 0; i < MG_HTTP_MAX_PENDING; i++)
		assert_true(mg_http_expect(&p, MG_HTTP_M_GET));
	assert_false(mg_http_expect(&p, MG_HTTP_M_GET));
}

/* ---- path normalization ---- */

static const struct norm {
	const char *in;
	unsigned flags;
	const char *out;    /* NULL: refused */
	const char *reason;
} norms[] = {
	{ "/", 0, "/", "ok" },
	{ "/a/b", 0, "/a/b", "ok" },
	{ "/a/./b", 0, "/a/b", "ok" },
	{ "/a/../b", 0, "/b", "ok" },
	{ "/../../a", 0, "/a", "ok" },
	{ "/a/b/..", 0, "/a/", "ok" },
	{ "/a/.", 0, "/a/", "ok" },
	{ "/a/b/", 0, "/a/b/", "ok" },
	{ "/a/%2e%2e/b", 0, "/b", "ok" },
	{ "/a/%2E%2e/b", 0, "/b", "ok" },
	{ "/a/.%2E", 0, "/", "ok" },
	{ "/%2e/a", 0, "/a", "ok" },
	{ "/admin/%2e%2e/%2e%2e/etc", 0, "/etc", "ok" },
	{ "/a//b", 0, "/a//b", "ok" },
	{ "/a//b", MG_HTTP_NORM_MERGE_SLASHES, "/a/b", "ok" },
	{ "//a/.//", MG_HTTP_NORM_MERGE_SLASHES, "/a/", "ok" },
	{ "/a//../b", 0, "/a/b", "ok" },
	{ "/a//../b", MG_HTTP_NORM_MERGE_SLASHES, "/b", "ok" },
	{ "/%41%62c%7e", 0, "/Abc~", "ok" },
	{ "/a%3ab%3A", 0, "/a%3Ab%3A", "ok" },
	{ "/a%20b%e2%82%ac", 0, "/a%20b%E2%82%AC", "ok" },
	{ "/a?x=/../%2F", 0, "/a?x=/../%2F", "ok" },
	{ "/a/./../?q=1", 0, "/?q=1", "ok" },
	{ "/a%2Fb", 0, NULL, "path_encoded_slash" },
	{ "/a%2fb", 0, NULL, "path_encoded_slash" },
	{ "/a%5Cb", 0, NULL, "path_encoded_backslash" },
	{ "/a%5cb", 0, NULL, "path_encoded_backslash" },
	{ "/a%00", 0, NULL, "path_encoded_nul" },
	{ "/a%zz", 0, NULL, "path_bad_percent" },
	{ "/a%2", 0, NULL, "path_bad_percent" },
	{ "/a%", 0, NULL, "path_bad_percent" },
	{ "/a%2/b", 0, NULL, "path_bad_percent" },
	{ "/a\\b", 0, NULL, "path_backslash" },
	{ "/a\\..\\b", 0, NULL, "path_backslash" },
	{ "a/b", 0, NULL, "path_not_absolute" },
	{ "", 0, NULL, "path_not_absolute" },
	{ "?a", 0, NULL, "path_not_absolute" },
	{ "/a b", 0, NULL, "path_bad_char" },
	{ "/a\x80", 0, NULL, "path_bad_char" },
	{ "/a#b", 0, NULL, "path_bad_char" },
};

static void normalization_table(void **st)
{
	char out[256];

	(void)st;
	for (size_t i = 0; i < sizeof(norms) / sizeof(norms[0]); i++) {
		const struct norm *n = &norms[i];
		enum mg_http_path_error why;
		size_t len = mg_http_normalize_path(n->in, strlen(n->in), out, sizeof(out),
						    n->flags, &why);

		if (strcmp(mg_http_path_error_name(why), n->reason) != 0 ||
		    (n->out && (len != strlen(n->out) || memcmp(out, n->out, len) != 0)) ||
		    (!n->out && len != 0))
			fail_msg("\"%s\": got \"%.*s\" (%s), want \"%s\" (%s)", n->in, (int)len,
				 out, mg_http_path_error_name(why), n->out ? n->out : "",
				 n->reason);
	}
}

static void normalization_respects_cap(void **st)
{
	char out[8];
	enum mg_http_path_error why;

	(void)st;
	/* The output never outgrows the input: a cap of len always suffices. */
	assert_int_equal(mg_http_normalize_path("/a%3a?q", 7, out, 7, 0, &why), 7);
	assert_memory_equal(out, "/a%3A?q", 7);
	assert_int_equal(mg_http_normalize_path("/abcdef", 7, out, 6, 0, &why), 0);
	assert_string_equal(mg_http_path_error_name(why), "path_too_long");
	assert_int_equal(mg_http_normalize_path("/a?query", 8, out, 7, 0, &why), 0);
	assert_string_equal(mg_http_path_error_name(why), "path_too_long");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(state_is_small),
		cmocka_unit_test(get_origin_form),
		cmocka_unit_test(absolute_form_host_is_authority),
		cmocka_unit_test(connect_and_options),
		cmocka_unit_test(keep_alive_rules),
		cmocka_unit_test(content_length_body),
		cmocka_unit_test(chunked_body_with_ext_and_trailer),
		cmocka_unit_test(pipelined_two_and_three),
		cmocka_unit_test(every_refusal_has_its_reason),
		cmocka_unit_test(nul_bytes_refused),
		cmocka_unit_test(limits_and_their_statuses),
		cmocka_unit_test(truncated_at_eof),
		cmocka_unit_test(eof_right_after_a_bodiless_head),
		cmocka_unit_test(connect_waits_for_the_response),
		cmocka_unit_test(upgrade_refused_resumes),
		cmocka_unit_test(every_split_parses_the_same),
		cmocka_unit_test(response_content_length_and_chunked),
		cmocka_unit_test(response_without_body),
		cmocka_unit_test(response_interim_then_final),
		cmocka_unit_test(response_until_close_and_tunnels),
		cmocka_unit_test(response_refusals),
		cmocka_unit_test(response_splits_agree),
		cmocka_unit_test(expect_queue_is_bounded),
		cmocka_unit_test(normalization_table),
		cmocka_unit_test(normalization_respects_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
