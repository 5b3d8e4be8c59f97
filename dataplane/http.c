/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * HTTP/1.1 framing (RFC 9112) and path normalization (RFC 3986), see http.h.
 *
 * Head lines (start line, fields, chunk-size lines, trailers) are gathered in
 * the lent buffer one at a time, each byte checked as it arrives (CR, LF,
 * NUL, control bytes), then judged whole: a line split across feeds is judged
 * exactly as the same line fed at once. Body bytes are only counted.
 */
#include <string.h>

#include "http.h"

enum state {
	ST_START,       /* request or status line (empty lines before it skipped) */
	ST_FIELDS,      /* field lines up to the empty one */
	ST_END_PENDING, /* a message without body: END on the next call */
	ST_BODY,        /* Content-Length bytes */
	ST_CHUNK_SIZE,  /* chunk-size [ext] CRLF */
	ST_CHUNK_DATA,
	ST_CHUNK_CR,    /* the CRLF after chunk data */
	ST_CHUNK_LF,
	ST_TRAILER,     /* trailer fields up to the empty line */
	ST_UNTIL_CLOSE, /* responses without framing: mg_http_eof() ends it */
	ST_TUNNEL,      /* after CONNECT or 101: opaque */
	ST_WAIT,        /* after a CONNECT or Upgrade request: the response decides */
	ST_ERROR,
};

enum {
	SEEN_HOST = 1, SEEN_CL = 2, SEEN_TE = 4, SEEN_CLOSE = 8, SEEN_KEEPALIVE = 16,
	SEEN_UPGRADE = 32,
};

/* The size, hex digits and room for BWS before the extension. */
#define CHUNK_LINE_BASE 20
#define CHUNK_SIZE_DIGITS 16
#define BODY_MAX ((uint64_t)1 << 63)

static const char *const error_names[] = {
#define _(sym, name, status) #name,
	foreach_mg_http_error(_)
#undef _
};

static const uint16_t error_status[] = {
#define _(sym, name, status) status,
	foreach_mg_http_error(_)
#undef _
};

static const char *const path_error_names[] = {
#define _(sym, name) #name,
	foreach_mg_http_path_error(_)
#undef _
};

const char *mg_http_error_name(enum mg_http_error e)
{
	return (unsigned)e < MG_HTTP_ERR__COUNT ? error_names[e] : "unknown";
}

uint16_t mg_http_error_status(enum mg_http_error e)
{
	return (unsigned)e < MG_HTTP_ERR__COUNT ? error_status[e] : 400;
}

const char *mg_http_path_error_name(enum mg_http_path_error e)
{
	return (unsigned)e < MG_HTTP_PATH__COUNT ? path_error_names[e] : "unknown";
}

/* ---- character classes (RFC 9110 5.6.2, RFC 3986 2) ---- */

static bool is_alnum(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_tchar(uint8_t c)
{
	return is_alnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_unreserved(uint8_t c)
{
	return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static bool is_pchar(uint8_t c) /* without pct-encoded */
{
	return is_unreserved(c) || (c && strchr("!$&'()*+,;=:@", c));
}

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool ieq2(const char *a, size_t alen, const char *b, size_t blen)
{
	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++) {
		uint8_t x = (uint8_t)a[i], y = (uint8_t)b[i];

		if (x >= 'A' && x <= 'Z')
			x += 32;
		if (y >= 'A' && y <= 'Z')
			y += 32;
		if (x != y)
			return false;
	}
	return true;
}

static bool ieq(const char *a, size_t alen, const char *b)
{
	return ieq2(a, alen, b, strlen(b));
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static void trim(const char **s, size_t *n)
{
	while (*n && is_ows((*s)[0])) {
		(*s)++;
		(*n)--;
	}
	while (*n && is_ows((*s)[*n - 1]))
		(*n)--;
}

/*
 * host [":" port], the reg-name restricted to what DNS names and rules use
 * (ALPHA DIGIT - . _ ~), or an IP-literal; a port of 1 to 5 digits.
 */
static bool valid_authority(const char *s, size_t n, bool need_port)
{
	size_t i = 0;

	if (n && s[0] == '[') {
		for (i = 1; i < n && s[i] != ']'; i++)
			if (hexval((uint8_t)s[i]) < 0 && s[i] != ':' && s[i] != '.')
				return false;
		if (i >= n || i < 3)
			return false;
		i++;
	} else {
		while (i < n && is_unreserved((uint8_t)s[i]))
			i++;
		if (i == 0)
			return false;
	}
	if (i == n)
		return !need_port;
	if (s[i] != ':' || n - i - 1 < 1 || n - i - 1 > 5)
		return false;
	for (i++; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* ---- the line gatherer ---- */

static int fail(struct mg_http_parser *p, enum mg_http_error e)
{
	p->err = (uint8_t)e;
	p->state = ST_ERROR;
	return -1;
}

/* The byte budget of the current line's block, and the refusal past it. */
static uint32_t line_budget(const struct mg_http_parser *p, enum mg_http_error *e)
{
	uint32_t chunk = CHUNK_LINE_BASE + (uint32_t)p->lim->max_chunk_ext;

	*e = MG_HTTP_ERR_HEADERS_TOO_LARGE;
	if (p->state != ST_CHUNK_SIZE)
		return p->lim->max_header_bytes;
	*e = MG_HTTP_ERR_CHUNK_EXT_TOO_LONG;
	return chunk < p->lim->max_header_bytes ? chunk : p->lim->max_header_bytes;
}

/*
 * Gather bytes of @p in into the current line until its CRLF. 1: a line is
 * whole (buf + keep, line_len bytes, CRLF not stored), 0: all consumed, -1:
 * refused. *@p n is what was consumed. The budget counts CR and LF too, and
 * keep + line_len <= hdr_bytes <= max_header_bytes: the buffer's size.
 */
static int take_line(struct mg_http_parser *p, const uint8_t *in, size_t len, size_t *n)
{
	enum mg_http_error too_big;
	uint32_t budget = line_budget(p, &too_big);
	bool reqline = p->state == ST_START && p->kind == MG_HTTP_REQUEST;

	for (size_t i = 0; i < len; i++) {
		uint8_t c = in[i];

		*n = i + 1;
		if (++p->hdr_bytes > budget)
			return fail(p, too_big);
		if (p->cr) {
			p->cr = 0;
			return c == '\n' ? 1 : fail(p, MG_HTTP_ERR_BARE_CR);
		}
		if (c == '\r') {
			p->cr = 1;
			continue;
		}
		if (c == '\n')
			return fail(p, MG_HTTP_ERR_BARE_LF);
		if (c == 0)
			return fail(p, MG_HTTP_ERR_NUL_BYTE);
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return fail(p, MG_HTTP_ERR_CTL_BYTE);
		if (reqline && p->line_len >= p->lim->max_request_line)
			return fail(p, MG_HTTP_ERR_LINE_TOO_LONG);
		p->buf[p->keep + p->line_len++] = (char)c;
	}
	*n = len;
	return 0;
}

/* ---- start lines ---- */

static enum mg_http_method method_of(const char *m, size_t n)
{
	static const char *const names[] = {
		[MG_HTTP_M_GET] = "GET", [MG_HTTP_M_HEAD] = "HEAD",
		[MG_HTTP_M_POST] = "POST", [MG_HTTP_M_PUT] = "PUT",
		[MG_HTTP_M_DELETE] = "DELETE", [MG_HTTP_M_CONNECT] = "CONNECT",
		[MG_HTTP_M_OPTIONS] = "OPTIONS", [MG_HTTP_M_TRACE] = "TRACE",
		[MG_HTTP_M_PATCH] = "PATCH",
	};

	/* Methods are case-sensitive (RFC 9110 9.1): "get" is another token. */
	for (size_t i = 1; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == n && memcmp(names[i], m, n) == 0)
			return (enum mg_http_method)i;
	return MG_HTTP_M_OTHER;
}

static int version_of(const char *v, size_t n)
{
	if (n != 8 || memcmp(v, "HTTP/1.", 7) != 0 || (v[7] != '0' && v[7] != '1'))
		return -1;
	return v[7] - '0';
}

static bool origin_chars(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_pchar((uint8_t)s[i]) && s[i] != '/' && s[i] != '?' && s[i] != '%')
			return false;
	return true;
}

/* Absolute-form (RFC 9112 3.2.2): http or https, an authority without userinfo. */
static bool absolute_form(struct mg_http_msg *m)
{
	const char *t = m->target;
	size_t n = m->target_len, skip, a;

	if (n > 7 && ieq(t, 7, "http://"))
		skip = 7;
	else if (n > 8 && ieq(t, 8, "https://"))
		skip = 8;
	else
		return false;
	for (a = skip; a < n && t[a] != '/' && t[a] != '?'; a++)
		;
	if (!valid_authority(t + skip, a - skip, false) || !origin_chars(t + a, n - a))
		return false;
	m->form = MG_HTTP_FORM_ABSOLUTE;
	m->authority = t + skip;
	m->authority_len = (uint16_t)(a - skip);
	m->path = t + a;
	m->path_len = (uint16_t)(n - a);
	return true;
}

static bool target_form(struct mg_http_msg *m)
{
	const char *t = m->target;
	size_t n = m->target_len;

	if (n == 1 && t[0] == '*') {
		m->form = MG_HTTP_FORM_ASTERISK;
		m->path = t;
		m->path_len = 1;
		return m->meth == MG_HTTP_M_OPTIONS;
	}
	if (m->meth == MG_HTTP_M_CONNECT) {
		m->form = MG_HTTP_FORM_AUTHORITY;
		m->authority = t;
		m->authority_len = (uint16_t)n;
		return valid_authority(t, n, true);
	}
	if (t[0] == '/') {
		m->form = MG_HTTP_FORM_ORIGIN;
		m->path = t;
		m->path_len = (uint16_t)n;
		return origin_chars(t, n);
	}
	return absolute_form(m);
}

/* method SP request-target SP HTTP-version (RFC 9112 3). */
static int request_line(struct mg_http_parser *p)
{
	struct mg_http_msg *m = &p->msg;
	const char *l = p->buf;
	size_t n = p->line_len, i, j;
	int v;

	for (i = 0; i < n && l[i] != ' '; i++)
		if (!is_tchar((uint8_t)l[i]))
			return fail(p, MG_HTTP_ERR_BAD_METHOD);
	if (i == 0)
		return fail(p, MG_HTTP_ERR_BAD_METHOD);
	for (j = i + 1; j < n && l[j] != ' '; j++)
		;
	if (j >= n)
		return fail(p, MG_HTTP_ERR_BAD_REQUEST_LINE);
	if (j == i + 1)
		return fail(p, MG_HTTP_ERR_BAD_TARGET); /* "GET  /": an empty target */
	v = version_of(l + j + 1, n - j - 1);
	if (v < 0)
		return fail(p, MG_HTTP_ERR_BAD_VERSION);
	m->method = l;
	m->method_len = (uint16_t)i;
	m->meth = method_of(l, i);
	m->target = l + i + 1;
	m->target_len = (uint16_t)(j - i - 1);
	m->version_minor = (uint8_t)v;
	if (m->target_len == 0 || !target_form(m))
		return fail(p, MG_HTTP_ERR_BAD_TARGET);
	return 0;
}

/* HTTP-version SP 3DIGIT SP [reason-phrase] (RFC 9112 4). */
static int status_line(struct mg_http_parser *p)
{
	const char *l = p->buf;
	size_t n = p->line_len;
	int v = n >= 8 ? version_of(l, 8) : -1;

	if (v < 0)
		return fail(p, MG_HTTP_ERR_BAD_VERSION);
	if (n < 12 || l[8] != ' ' || (n > 12 && l[12] != ' '))
		return fail(p, MG_HTTP_ERR_BAD_STATUS_LINE);
	for (size_t i = 9; i < 12; i++)
		if (l[i] < '0' || l[i] > '9')
			return fail(p, MG_HTTP_ERR_BAD_STATUS_LINE);
	p->msg.status = (uint16_t)((l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0'));
	if (p->msg.status < 100 || p->msg.status > 599)
		return fail(p, MG_HTTP_ERR_BAD_STATUS_LINE);
	p->msg.version_minor = (uint8_t)v;
	return 0;
}

static int start_line(struct mg_http_parser *p)
{
	int r;

	memset(&p->msg, 0, sizeof(p->msg));
	r = p->kind == MG_HTTP_REQUEST ? request_line(p) : status_line(p);
	if (r == 0) {
		p->keep = p->line_len; /* the start line stays: msg points into it */
		p->line_len = 0;
		p->state = ST_FIELDS;
	}
	return r;
}

/* ---- fields ---- */

/* Content-Length: 1*DIGIT, or a list of them (all equal is still a duplicate). */
static int content_length(struct mg_http_parser *p, const char *v, size_t n)
{
	uint64_t first = 0;
	size_t count = 0, i = 0;

	while (i <= n) {
		size_t s = i, e;
		const char *el;
		uint64_t x = 0;

		while (i < n && v[i] != ',')
			i++;
		el = v + s;
		e = i - s;
		trim(&el, &e);
		if (e == 0 || e > 18)
			return fail(p, MG_HTTP_ERR_BAD_CL);
		for (size_t k = 0; k < e; k++) {
			if (el[k] < '0' || el[k] > '9')
				return fail(p, MG_HTTP_ERR_BAD_CL);
			x = x * 10 + (uint64_t)(el[k] - '0');
		}
		if (count++ == 0)
			first = x;
		else if (x != first)
			return fail(p, MG_HTTP_ERR_CONFLICTING_CL);
		i++;
	}
	if (p->seen & SEEN_CL)
		return fail(p, first == p->msg.content_length ? MG_HTTP_ERR_DUPLICATE_CL
							       : MG_HTTP_ERR_CONFLICTING_CL);
	if (count > 1)
		return fail(p, MG_HTTP_ERR_DUPLICATE_CL);
	p->seen |= SEEN_CL;
	p->msg.content_length = first;
	return 0;
}

static int host_field(struct mg_http_parser *p, const char *v, size_t n)
{
	if (p->seen & SEEN_HOST)
		return fail(p, MG_HTTP_ERR_DUPLICATE_HOST);
	if (!valid_authority(v, n, false))
		return fail(p, MG_HTTP_ERR_BAD_HOST);
	/* Keep the value beside the start line: the next lines reuse the rest. */
	memmove(p->buf + p->keep, v, n);
	p->host_off = p->keep;
	p->host_len = (uint16_t)n;
	p->keep = (uint16_t)(p->keep + n);
	p->seen |= SEEN_HOST;
	return 0;
}

static void connection_field(struct mg_http_parser *p, const char *v, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t s = i, e;
		const char *tok;

		while (i < n && v[i] != ',')
			i++;
		tok = v + s;
		e = i - s;
		trim(&tok, &e);
		if (ieq(tok, e, "close"))
			p->seen |= SEEN_CLOSE;
		else if (ieq(tok, e, "keep-alive"))
			p->seen |= SEEN_KEEPALIVE;
		i++;
	}
}

static int field_meaning(struct mg_http_parser *p, const char *name, size_t nl,
			 const char *v, size_t n)
{
	if (ieq(name, nl, "content-length"))
		return content_length(p, v, n);
	if (ieq(name, nl, "transfer-encoding")) {
		/* Only "chunked", once: anything else cannot be framed the same way twice. */
		if ((p->seen & SEEN_TE) || !ieq(v, n, "chunked"))
			return fail(p, MG_HTTP_ERR_BAD_TE);
		p->seen |= SEEN_TE;
		return 0;
	}
	if (ieq(name, nl, "host") && p->kind == MG_HTTP_REQUEST)
		return host_field(p, v, n);
	if (ieq(name, nl, "connection"))
		connection_field(p, v, n);
	if (ieq(name, nl, "upgrade"))
		p->seen |= SEEN_UPGRADE;
	return 0;
}

/* field-name ":" OWS field-value OWS (RFC 9112 5); trailers only checked. */
static int field_line(struct mg_http_parser *p, bool trailer)
{
	const char *l = p->buf + p->keep, *colon, *v;
	size_t n = p->line_len, nl, vl;
	int r = 0;

	if (is_ows(l[0]))
		return fail(p, MG_HTTP_ERR_OBS_FOLD);
	colon = memchr(l, ':', n);
	if (!colon)
		return fail(p, MG_HTTP_ERR_NO_COLON);
	nl = (size_t)(colon - l);
	if (nl == 0)
		return fail(p, MG_HTTP_ERR_BAD_HEADER_NAME);
	if (is_ows(l[nl - 1]))
		return fail(p, MG_HTTP_ERR_SPACE_BEFORE_COLON);
	for (size_t i = 0; i < nl; i++)
		if (!is_tchar((uint8_t)l[i]))
			return fail(p, MG_HTTP_ERR_BAD_HEADER_NAME);
	if (++p->msg.header_count > p->lim->max_headers)
		return fail(p, MG_HTTP_ERR_TOO_MANY_HEADERS);
	v = colon + 1;
	vl = n - nl - 1;
	trim(&v, &vl);
	if (!trailer)
		r = field_meaning(p, l, nl, v, vl);
	p->line_len = 0;
	return r;
}

/* ---- end of a header block: framing (RFC 9112 6.3) ---- */

static bool pop_expect(struct mg_http_parser *p, bool *connect)
{
	uint64_t bit = (uint64_t)1 << p->pend_first;
	bool head = (p->pend_head & bit) != 0;

	*connect = (p->pend_connect & bit) != 0;
	if (p->pend_n == 0)
		return false;
	p->pend_head &= ~bit;
	p->pend_connect &= ~bit;
	p->pend_first = (uint8_t)((p->pend_first + 1) % MG_HTTP_MAX_PENDING);
	p->pend_n--;
	return head;
}

static int request_head(struct mg_http_parser *p)
{
	struct mg_http_msg *m = &p->msg;

	if (!(p->seen & SEEN_HOST))
		return fail(p, MG_HTTP_ERR_MISSING_HOST);
	m->host = p->buf + p->host_off;
	m->host_len = p->host_len;
	if (m->authority) {
		/* RFC 9112 3.2.2: the target's authority is the host; Host must agree. */
		if (!ieq2(m->authority, m->authority_len, m->host, m->host_len))
			return fail(p, MG_HTTP_ERR_HOST_MISMATCH);
		m->host = m->authority;
		m->host_len = m->authority_len;
	}
	if ((p->seen & SEEN_TE) && m->version_minor == 0)
		return fail(p, MG_HTTP_ERR_BAD_TE); /* RFC 9112 6.1: faulty framing */
	/*
	 * A CONNECT or an Upgrade becomes a tunnel only if the response says so:
	 * a backend that refuses it reads what follows as requests, so we must
	 * too (or hold it): nothing passes as opaque before that answer.
	 */
	m->upgrade = m->meth == MG_HTTP_M_CONNECT || (p->seen & SEEN_UPGRADE);
	if (p->seen & SEEN_TE)
		m->framing = MG_HTTP_BODY_CHUNKED;
	else if (p->seen & SEEN_CL)
		m->framing = MG_HTTP_BODY_LENGTH;
	return 0;
}

static void response_head(struct mg_http_parser *p)
{
	struct mg_http_msg *m = &p->msg;
	bool connect = false, head = false;

	if (m->status >= 100 && m->status < 200 && m->status != 101) {
		m->interim = true; /* the request still awaits its final response */
		return;
	}
	head = pop_expect(p, &connect);
	if (m->status == 101 || (connect && m->status >= 200 && m->status < 300))
		m->framing = MG_HTTP_BODY_TUNNEL;
	else if (head || m->status == 204 || m->status == 304)
		m->framing = MG_HTTP_BODY_NONE;
	else if (p->seen & SEEN_TE)
		m->framing = MG_HTTP_BODY_CHUNKED;
	else if (p->seen & SEEN_CL)
		m->framing = MG_HTTP_BODY_LENGTH;
	else
		m->framing = MG_HTTP_BODY_UNTIL_CLOSE;
}

static int end_of_head(struct mg_http_parser *p)
{
	struct mg_http_msg *m = &p->msg;

	if ((p->seen & SEEN_TE) && (p->seen & SEEN_CL))
		return fail(p, MG_HTTP_ERR_CL_AND_TE);
	if (p->kind == MG_HTTP_REQUEST) {
		if (request_head(p) < 0)
			return -1;
	} else {
		response_head(p);
	}
	m->keep_alive = !(p->seen & SEEN_CLOSE) &&
			(m->version_minor == 1 || (p->seen & SEEN_KEEPALIVE)) &&
			m->framing != MG_HTTP_BODY_UNTIL_CLOSE;
	if (m->framing != MG_HTTP_BODY_LENGTH)
		m->content_length = 0;
	p->line_len = 0;
	p->hdr_bytes = 0;
	if (m->framing == MG_HTTP_BODY_LENGTH && m->content_length) {
		p->remaining = m->content_length;
		p->state = ST_BODY;
	} else if (m->framing == MG_HTTP_BODY_CHUNKED) {
		p->keep = 0;
		p->state = ST_CHUNK_SIZE;
	} else if (m->framing == MG_HTTP_BODY_UNTIL_CLOSE) {
		p->state = ST_UNTIL_CLOSE;
	} else {
		p->state = ST_END_PENDING;
	}
	return 1;
}

/* ---- chunks (RFC 9112 7.1) ---- */

static int chunk_size_line(struct mg_http_parser *p)
{
	const char *l = p->buf;
	size_t n = p->line_len, i, j;
	uint64_t v = 0;

	for (i = 0; i < n && hexval((uint8_t)l[i]) >= 0; i++)
		if (i < CHUNK_SIZE_DIGITS)
			v = v * 16 + (uint64_t)hexval((uint8_t)l[i]);
	if (i == 0)
		return fail(p, MG_HTTP_ERR_BAD_CHUNK_SIZE);
	if (i > CHUNK_SIZE_DIGITS)
		return fail(p, MG_HTTP_ERR_CHUNK_SIZE_TOO_LONG);
	if (v >= BODY_MAX)
		return fail(p, MG_HTTP_ERR_CHUNK_SIZE_OVERFLOW);
	for (j = i; j < n && is_ows(l[j]); j++)
		;
	if (j < n && l[j] != ';')
		return fail(p, MG_HTTP_ERR_BAD_CHUNK_SIZE);
	if (n - i > p->lim->max_chunk_ext)
		return fail(p, MG_HTTP_ERR_CHUNK_EXT_TOO_LONG);
	p->line_len = 0;
	p->hdr_bytes = 0;
	if (v == 0) {
		p->msg.header_count = 0; /* the trailer has its own field budget */
		p->state = ST_TRAILER;
	} else {
		p->remaining = v;
		p->state = ST_CHUNK_DATA;
	}
	return 0;
}

/* ---- the driver ---- */

void mg_http_init(struct mg_http_parser *p, enum mg_http_kind kind,
		  const struct mg_http_limits *lim, char *buf)
{
	memset(p, 0, sizeof(*p));
	p->lim = lim;
	p->buf = buf;
	p->kind = (uint8_t)kind;
	p->state = ST_START;
}

static void finish(struct mg_http_parser *p)
{
	p->state = p->msg.framing == MG_HTTP_BODY_TUNNEL ? ST_TUNNEL
		   : p->msg.upgrade ? ST_WAIT : ST_START;
	p->keep = 0;
	p->line_len = 0;
	p->hdr_bytes = 0;
	p->seen = 0;
	p->host_off = 0;
	p->host_len = 0;
}

/* A whole line in a line state: judge it. 1 = HEAD or END reported. */
static int line_done(struct mg_http_parser *p, enum mg_http_event *ev)
{
	switch (p->state) {
	case ST_START:
		if (p->line_len == 0)
			return 0; /* RFC 9112 2.2: empty lines before a start line */
		return start_line(p);
	case ST_FIELDS:
		if (p->line_len)
			return field_line(p, false);
		if (end_of_head(p) < 0)
			return -1;
		*ev = MG_HTTP_EV_HEAD;
		return 1;
	case ST_CHUNK_SIZE:
		return chunk_size_line(p);
	default: /* ST_TRAILER */
		if (p->line_len)
			return field_line(p, true);
		finish(p);
		*ev = MG_HTTP_EV_END;
		return 1;
	}
}

/* Skip body bytes; true when the count ran out. */
static bool skip(struct mg_http_parser *p, size_t *used, size_t len)
{
	uint64_t n = len - *used;

	if (n > p->remaining)
		n = p->remaining;
	*used += n;
	p->remaining -= n;
	return p->remaining == 0;
}

/* The two bytes after chunk data must be CRLF. */
static int chunk_crlf(struct mg_http_parser *p, uint8_t c)
{
	if (p->state == ST_CHUNK_CR) {
		if (c != '\r')
			return fail(p, c == '\n' ? MG_HTTP_ERR_BARE_LF : MG_HTTP_ERR_BAD_CHUNK_END);
		p->state = ST_CHUNK_LF;
		return 0;
	}
	if (c != '\n')
		return fail(p, MG_HTTP_ERR_BARE_CR);
	p->state = ST_CHUNK_SIZE;
	return 0;
}

size_t mg_http_feed(struct mg_http_parser *p, const uint8_t *in, size_t len,
		    enum mg_http_event *ev)
{
	size_t used = 0, n;
	int r;

	*ev = MG_HTTP_EV_NONE;
	for (;;) {
		switch (p->state) {
		case ST_ERROR:
			*ev = MG_HTTP_EV_ERROR;
			return used;
		case ST_END_PENDING:
			finish(p);
			*ev = MG_HTTP_EV_END;
			return used;
		case ST_TUNNEL:
		case ST_UNTIL_CLOSE:
			return len;
		case ST_WAIT:
			*ev = MG_HTTP_EV_WAIT;
			return used;
		case ST_BODY:
			if (skip(p, &used, len)) {
				finish(p);
				*ev = MG_HTTP_EV_END;
			}
			return used;
		case ST_CHUNK_DATA:
			if (!skip(p, &used, len))
				return used;
			p->state = ST_CHUNK_CR;
			continue;
		case ST_CHUNK_CR:
		case ST_CHUNK_LF:
			if (used == len)
				return used;
			chunk_crlf(p, in[used++]);
			continue;
		default:
			r = take_line(p, in + used, len - used, &n);
			used += n;
			if (r == 0)
				return used;
			if (r > 0 && line_done(p, ev) > 0)
				return used;
			continue; /* next line, or ST_ERROR reports */
		}
	}
}

size_t mg_http_unjudged(const struct mg_http_parser *p)
{
	switch (p->state) {
	case ST_CHUNK_SIZE:
	case ST_TRAILER:
		return (size_t)p->line_len + p->cr;
	case ST_CHUNK_LF:
		return 1;
	default:
		return 0;
	}
}

enum mg_http_event mg_http_eof(struct mg_http_parser *p)
{
	switch (p->state) {
	case ST_ERROR:
		return MG_HTTP_EV_ERROR;
	case ST_TUNNEL:
	case ST_WAIT:
		return MG_HTTP_EV_NONE;
	case ST_UNTIL_CLOSE:
	case ST_END_PENDING: /* a HEAD without body whose END was not asked for yet */
		finish(p);
		return MG_HTTP_EV_END;
	case ST_START:
		if (p->hdr_bytes == 0)
			return MG_HTTP_EV_NONE;
		/* fall through */
	default:
		fail(p, MG_HTTP_ERR_TRUNCATED);
		return MG_HTTP_EV_ERROR;
	}
}

bool mg_http_expect(struct mg_http_parser *resp, enum mg_http_method m)
{
	uint64_t bit;

	if (resp->pend_n >= MG_HTTP_MAX_PENDING)
		return false;
	bit = (uint64_t)1 << ((resp->pend_first + resp->pend_n) % MG_HTTP_MAX_PENDING);
	if (m == MG_HTTP_M_HEAD)
		resp->pend_head |= bit;
	if (m == MG_HTTP_M_CONNECT)
		resp->pend_connect |= bit;
	resp->pend_n++;
	return true;
}

void mg_http_set_tunnel(struct mg_http_parser *p)
{
	if (p->state != ST_ERROR)
		p->state = ST_TUNNEL;
}

void mg_http_resume(struct mg_http_parser *p)
{
	if (p->state == ST_WAIT)
		p->state = ST_START;
}

/* ---- path normalization (RFC 3986 6.2.2) ---- */

static const char hexdig[] = "0123456789ABCDEF";

/* Decode one segment s[0..n) into out[*w..cap): unreserved decoded, others kept. */
static enum mg_http_path_error decode_segment(const char *s, size_t n, char *out,
					      size_t cap, size_t *w)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)s[i];
		int hi, lo;

		if (c == '\\')
			return MG_HTTP_PATH_BACKSLASH;
		if (c != '%') {
			if (!is_pchar(c))
				return MG_HTTP_PATH_BAD_CHAR;
			if (*w + 1 > cap)
				return MG_HTTP_PATH_TOO_LONG;
			out[(*w)++] = (char)c;
			continue;
		}
		hi = i + 2 < n ? hexval((uint8_t)s[i + 1]) : -1;
		lo = i + 2 < n ? hexval((uint8_t)s[i + 2]) : -1;
		if (hi < 0 || lo < 0)
			return MG_HTTP_PATH_BAD_PERCENT;
		c = (uint8_t)(hi * 16 + lo);
		i += 2;
		if (c == 0)
			return MG_HTTP_PATH_ENCODED_NUL;
		if (c == '/')
			return MG_HTTP_PATH_ENCODED_SLASH;
		if (c == '\\')
			return MG_HTTP_PATH_ENCODED_BACKSLASH;
		if (*w + (is_unreserved(c) ? 1 : 3) > cap)
			return MG_HTTP_PATH_TOO_LONG;
		if (is_unreserved(c)) {
			out[(*w)++] = (char)c;
		} else {
			out[(*w)++] = '%';
			out[(*w)++] = hexdig[hi];
			out[(*w)++] = hexdig[lo];
		}
	}
	return MG_HTTP_PATH_OK;
}

/* out[0..o) is "/seg/seg": drop the last segment. */
static size_t pop_segment(const char *out, size_t o)
{
	while (o > 0 && out[o - 1] != '/')
		o--;
	return o > 0 ? o - 1 : 0;
}

size_t mg_http_normalize_path(const char *in, size_t len, char *out, size_t cap,
			      unsigned flags, enum mg_http_path_error *reason)
{
	const char *q = memchr(in, '?', len);
	size_t qpos = q ? (size_t)(q - in) : len, o = 0, i = 1;

	*reason = MG_HTTP_PATH_OK;
	if (len == 0 || in[0] != '/') {
		*reason = MG_HTTP_PATH_NOT_ABSOLUTE;
		return 0;
	}
	/* One pass over the segments; each is decoded first, so %2e%2e is "..". */
	for (;;) {
		size_t j = i, w = o + 1, s;
		bool last;

		while (j < qpos && in[j] != '/')
			j++;
		last = j >= qpos;
		if (o + 1 > cap) {
			*reason = MG_HTTP_PATH_TOO_LONG;
			return 0;
		}
		out[o] = '/';
		*reason = decode_segment(in + i, j - i, out, cap, &w);
		if (*reason != MG_HTTP_PATH_OK)
			return 0;
		s = w - o - 1;
		if (s == 1 && out[o + 1] == '.') {
			/* "." names the directory it is in */
		} else if (s == 2 && out[o + 1] == '.' && out[o + 2] == '.') {
			o = pop_segment(out, o);
		} else if (s == 0 && (flags & MG_HTTP_NORM_MERGE_SLASHES) && !last) {
			/* "//": merged */
		} else {
			o = w;
			if (last)
				break;
		}
		if (last) {
			out[o++] = '/'; /* "/a/." and "/a/b/.." name a directory */
			break;
		}
		i = j + 1;
	}
	if (o + (len - qpos) > cap) {
		*reason = MG_HTTP_PATH_TOO_LONG;
		return 0;
	}
	memcpy(out + o, in + qpos, len - qpos);
	return o + (len - qpos);
}
