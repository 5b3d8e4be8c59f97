/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * HTTP/1.1 message framing over a decrypted byte stream (RFC 9112), for the
 * L7 check of the workers. One parser per direction of a connection: requests
 * from the client, responses from the backend.
 *
 * The stream arrives in arbitrary pieces. mg_http_feed() consumes bytes up to
 * the next event: HEAD (a header block ended: the message's fields are in
 * p->msg), END (the message, body included, ended: the next one starts), or
 * ERROR (p->err; a request answers mg_http_error_status() and closes, a
 * response closes). Bodies are never copied: the parser counts Content-Length
 * bytes and walks chunk framing, so the caller relays them as they are.
 *
 * Tunnels: after a CONNECT or Upgrade request the request parser WAITs (it
 * consumes nothing) until the response parser reports its answer: a 2xx to
 * CONNECT or a 101 (msg.framing TUNNEL) -> mg_http_set_tunnel() on the
 * request side; anything else -> mg_http_resume(). So no byte passes as
 * opaque that a backend refusing the tunnel would read as a request.
 *
 * Memory: the fixed state (struct mg_http_parser) is small (see
 * MG_HTTP_STATE_MAX; sizeof is checked by the tests). While a header block is
 * in progress the parser keeps the start line, the Host value and the current
 * line in a buffer the caller lends at init, of limits->max_header_bytes
 * bytes (default 8 KiB): lines and header bytes past the limits are refused,
 * so the buffer never overflows. p->msg points into it, valid until the next
 * mg_http_feed(). Outside header blocks (bodies, between messages) the
 * buffer holds nothing the parser needs later, except chunk-size and trailer
 * lines while they are split across feeds.
 *
 * Smuggling is refused, not repaired: every refusal has its own reason in
 * foreach_mg_http_error, and a refused stream stays refused (sticky).
 */
#ifndef MG_HTTP_H
#define MG_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Why a message was refused: symbol, telemetry name, status a request gets. */
#define foreach_mg_http_error(_)                                                \
	_(OK, ok, 200)                                                          \
	_(LINE_TOO_LONG, request_line_too_long, 414)                            \
	_(TOO_MANY_HEADERS, too_many_headers, 431)                              \
	_(HEADERS_TOO_LARGE, headers_too_large, 431)                            \
	_(BAD_REQUEST_LINE, bad_request_line, 400) /* not method SP target SP version */ \
	_(BAD_METHOD, bad_method, 400)             /* method is not a token */  \
	_(BAD_TARGET, bad_target, 400)             /* form or bytes of the target */ \
	_(BAD_VERSION, bad_version, 400)           /* not HTTP/1.0 or HTTP/1.1 */ \
	_(BAD_STATUS_LINE, bad_status_line, 502)   /* responses only */         \
	_(NUL_BYTE, nul_byte, 400)                                              \
	_(CTL_BYTE, ctl_byte, 400)                 /* control byte other than HTAB */ \
	_(BARE_LF, bare_lf, 400)                   /* LF without CR before it */ \
	_(BARE_CR, bare_cr, 400)                   /* CR not followed by LF */  \
	_(OBS_FOLD, obs_fold, 400)                 /* field line starting with SP/HTAB */ \
	_(SPACE_BEFORE_COLON, space_before_colon, 400)                          \
	_(BAD_HEADER_NAME, bad_header_name, 400)                                \
	_(NO_COLON, header_without_colon, 400)                                  \
	_(MISSING_HOST, missing_host, 400)                                      \
	_(DUPLICATE_HOST, duplicate_host, 400)                                  \
	_(BAD_HOST, bad_host, 400)                                              \
	_(HOST_MISMATCH, host_mismatch, 400)       /* absolute-form authority != Host */ \
	_(CL_AND_TE, cl_and_te, 400)                                            \
	_(DUPLICATE_CL, duplicate_content_length, 400) /* twice, same value */   \
	_(CONFLICTING_CL, conflicting_content_length, 400)                      \
	_(BAD_CL, bad_content_length, 400)                                      \
	_(BAD_TE, bad_transfer_encoding, 400)      /* not exactly one "chunked" */ \
	_(BAD_CHUNK_SIZE, bad_chunk_size, 400)     /* empty or not hex */       \
	_(CHUNK_SIZE_TOO_LONG, chunk_size_too_long, 400) /* over 16 digits */   \
	_(CHUNK_SIZE_OVERFLOW, chunk_size_overflow, 400) /* >= 2^63 */           \
	_(CHUNK_EXT_TOO_LONG, chunk_ext_too_long, 400)                          \
	_(BAD_CHUNK_END, bad_chunk_end, 400)       /* chunk data not followed by CRLF */ \
	_(TRUNCATED, truncated, 400)               /* stream ended inside a message */

enum mg_http_error {
#define _(sym, name, status) MG_HTTP_ERR_##sym,
	foreach_mg_http_error(_)
#undef _
	MG_HTTP_ERR__COUNT
};

/* Why mg_http_normalize_path() refused a path. */
#define foreach_mg_http_path_error(_)                                           \
	_(OK, ok)                                                               \
	_(NOT_ABSOLUTE, path_not_absolute)     /* does not start with '/' */    \
	_(BAD_CHAR, path_bad_char)             /* byte outside RFC 3986 pchar */ \
	_(BAD_PERCENT, path_bad_percent)       /* '%' not followed by two hex digits */ \
	_(ENCODED_SLASH, path_encoded_slash)   /* %2F */                        \
	_(ENCODED_BACKSLASH, path_encoded_backslash) /* %5C */                  \
	_(ENCODED_NUL, path_encoded_nul)       /* %00 */                        \
	_(BACKSLASH, path_backslash)                                            \
	_(TOO_LONG, path_too_long)             /* out of room in the output */

enum mg_http_path_error {
#define _(sym, name) MG_HTTP_PATH_##sym,
	foreach_mg_http_path_error(_)
#undef _
	MG_HTTP_PATH__COUNT
};

enum mg_http_kind { MG_HTTP_REQUEST, MG_HTTP_RESPONSE };

enum mg_http_event {
	MG_HTTP_EV_NONE,  /* everything fed was consumed; feed more */
	MG_HTTP_EV_HEAD,  /* a header block ended: p->msg */
	MG_HTTP_EV_END,   /* the message ended (after its HEAD and body) */
	MG_HTTP_EV_ERROR, /* p->err: close (a request first answers the status) */
	MG_HTTP_EV_WAIT,  /* after a CONNECT or Upgrade request: nothing consumed
			   * until mg_http_set_tunnel() or mg_http_resume() */
};

enum mg_http_method {
	MG_HTTP_M_OTHER = 0, /* a valid token we do not name */
	MG_HTTP_M_GET, MG_HTTP_M_HEAD, MG_HTTP_M_POST, MG_HTTP_M_PUT,
	MG_HTTP_M_DELETE, MG_HTTP_M_CONNECT, MG_HTTP_M_OPTIONS, MG_HTTP_M_TRACE,
	MG_HTTP_M_PATCH,
};

enum mg_http_form {
	MG_HTTP_FORM_ORIGIN,    /* /path?query */
	MG_HTTP_FORM_ABSOLUTE,  /* http(s)://authority/path?query */
	MG_HTTP_FORM_AUTHORITY, /* host:port, CONNECT only */
	MG_HTTP_FORM_ASTERISK,  /* *, OPTIONS only */
};

enum mg_http_framing {
	MG_HTTP_BODY_NONE,
	MG_HTTP_BODY_LENGTH,      /* msg.content_length bytes */
	MG_HTTP_BODY_CHUNKED,     /* chunks, then trailer fields */
	MG_HTTP_BODY_UNTIL_CLOSE, /* responses only: mg_http_eof() ends it */
	MG_HTTP_BODY_TUNNEL,      /* responses: 101, or 2xx to CONNECT: opaque after END */
};

/** The limits, read-only, shared by the parsers of a worker. */
struct mg_http_limits {
	uint16_t max_request_line; /* bytes without CRLF (default 4096) -> 414 */
	uint16_t max_headers;      /* field lines per header block or trailer (100) -> 431 */
	uint16_t max_header_bytes; /* start line + fields + CRLFs (8192) -> 431; the buffer size */
	uint16_t max_chunk_ext;    /* bytes after the chunk size on its line (128) */
};

#define MG_HTTP_LIMITS_DEFAULT                                                  \
	{ .max_request_line = 4096, .max_headers = 100,                         \
	  .max_header_bytes = 8192, .max_chunk_ext = 128 }

/**
 * What the last HEAD event reported. Strings are not NUL-terminated and point
 * into the lent buffer. path: origin-form's whole target; absolute-form's
 * part after the authority (may be empty or start with '?': the path is then
 * "/"); "*" for asterisk-form; NULL for CONNECT. authority: absolute-form's
 * or CONNECT's, else NULL. host: what rules match, the authority when there is
 * one (RFC 9112 3.2.2), else the Host value; NULL in responses.
 */
struct mg_http_msg {
	const char *method, *target, *path, *authority, *host;
	uint16_t method_len, target_len, path_len, authority_len, host_len;
	enum mg_http_method meth;
	enum mg_http_form form;
	enum mg_http_framing framing;
	uint64_t content_length; /* MG_HTTP_BODY_LENGTH */
	uint16_t status;         /* responses */
	uint16_t header_count;
	uint8_t version_minor;   /* 0 or 1 */
	bool keep_alive;         /* the connection may carry another message */
	bool interim;            /* 1xx other than 101: a final response follows */
	bool upgrade;            /* requests: CONNECT or Upgrade, WAIT follows END */
};

/** The per-connection, per-direction state. */
struct mg_http_parser {
	const struct mg_http_limits *lim;
	char *buf;              /* lent by the caller: lim->max_header_bytes bytes */
	struct mg_http_msg msg;
	uint64_t remaining;     /* body or chunk bytes still to skip */
	uint64_t pend_head, pend_connect; /* responses: FIFO of requests awaiting one */
	uint32_t hdr_bytes;     /* bytes of the current header block or trailer */
	uint16_t line_len;      /* bytes of the current line in buf + keep */
	uint16_t keep;          /* bytes of buf kept: start line, Host value */
	uint16_t host_off, host_len;
	uint8_t pend_n, pend_first;
	uint8_t kind, state, err, cr;
	uint8_t seen;           /* MG_HTTP_SEEN_* bits of the header block */
	uint8_t pad[3];
};

#define MG_HTTP_STATE_MAX 256 /* sizeof(struct mg_http_parser) stays below */
#define MG_HTTP_MAX_PENDING 64

/** Start a parser of @p kind over @p buf (lim->max_header_bytes bytes). */
void mg_http_init(struct mg_http_parser *p, enum mg_http_kind kind,
		  const struct mg_http_limits *lim, char *buf);

/**
 * Consume bytes of @p in up to the next event (at most @p len). Returns how
 * many were consumed; the event is in *@p ev. NONE means all @p len were
 * consumed. After HEAD or END call again with the rest. Bounded work: one pass
 * over the bytes consumed.
 */
size_t mg_http_feed(struct mg_http_parser *p, const uint8_t *in, size_t len,
		    enum mg_http_event *ev);

/**
 * The stream ended (FIN or close_notify). MG_HTTP_EV_END if that ends an
 * until-close body, NONE between messages or in a tunnel, ERROR (truncated)
 * inside a message.
 */
enum mg_http_event mg_http_eof(struct mg_http_parser *p);

/**
 * Responses: a request of method @p m was sent on the connection, so one
 * final response is owed for it (HEAD's has no body, CONNECT's 2xx opens a
 * tunnel). Call it at each request's HEAD, in order. False when
 * MG_HTTP_MAX_PENDING requests already wait: stop reading requests.
 */
bool mg_http_expect(struct mg_http_parser *resp, enum mg_http_method m);

/**
 * The response accepted the tunnel (its msg.framing is MG_HTTP_BODY_TUNNEL):
 * the request side's bytes are opaque from now on.
 */
void mg_http_set_tunnel(struct mg_http_parser *p);

/** The response refused the CONNECT or Upgrade: parse requests again. */
void mg_http_resume(struct mg_http_parser *p);

/**
 * Bytes already consumed of a body's framing line not judged yet: a chunk-size
 * or trailer line still open, or the CR after chunk data. A gate that relays
 * bodies holds that many bytes back until the line is judged, so that a
 * malformed chunk line never reaches the upstream.
 */
size_t mg_http_unjudged(const struct mg_http_parser *p);

/** Telemetry name of a refusal ("cl_and_te"). */
const char *mg_http_error_name(enum mg_http_error e);

/** Status a refused request is answered with (400, 414, 431). */
uint16_t mg_http_error_status(enum mg_http_error e);

const char *mg_http_path_error_name(enum mg_http_path_error e);

/* Flags of mg_http_normalize_path(). */
#define MG_HTTP_NORM_MERGE_SLASHES 1u /* "//" counts as "/" */

/**
 * The path as the backend will read it (RFC 3986 6.2.2): percent-encoded
 * unreserved bytes decoded, other escapes kept with upper-case hex, dot
 * segments removed (after decoding, so %2e%2e is ".."), slashes merged when
 * @p flags asks. @p in is an origin-form target (path, optionally '?' and a
 * query); the query is copied unchanged after the path, so the normalized
 * path ends at the first '?' of @p out. Ambiguous paths are refused: %2F,
 * %5C, %00, '\\', invalid escapes. The output is never longer than the input.
 * @return bytes written to @p out (>= 1), or 0 with *@p reason set.
 */
size_t mg_http_normalize_path(const char *in, size_t len, char *out, size_t cap,
			      unsigned flags, enum mg_http_path_error *reason);

#endif /* MG_HTTP_H */
