/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * policy.conf: libconfig text → validated source model (struct mg_policy_src)
 * → canonical text. Compilation into the sealed arena is policy_compile.c.
 *
 * The parser walks the libconfig tree once, checks every field against its
 * table of known names (an unknown field is an error), validates each value,
 * then sorts the lists and resolves references. Every failure names its
 * place: "NAME:LINE: FIELD: PROBLEM".
 */
#include "policy.h"

#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "spiffe.h"

/* ---------------------------------------------------------------------- */
/* A bump allocator: the source model is built once and freed at once. */

struct pool_chunk {
	struct pool_chunk *next;
	size_t used, cap;
	max_align_t data[];
};

struct mg_policy_pool {
	struct pool_chunk *head;
};

#define POOL_CHUNK (64u << 10)

static void *palloc(struct mg_policy_pool *p, size_t n)
{
	size_t a = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	struct pool_chunk *c = p->head;

	if (c == NULL || c->cap - c->used < a) {
		size_t cap = a > POOL_CHUNK ? a : POOL_CHUNK;

		c = calloc(1, sizeof(*c) + cap);
		if (c == NULL)
			return NULL;
		c->cap = cap;
		c->next = p->head;
		p->head = c;
	}
	c->used += a;
	return (char *)c->data + c->used - a;
}

static void pool_free(struct mg_policy_pool *p)
{
	while (p != NULL && p->head != NULL) {
		struct pool_chunk *c = p->head;

		p->head = c->next;
		free(c);
	}
	free(p);
}

/* ---------------------------------------------------------------------- */
/* Parse context and messages. */

/* A key with where it was written, to report the later of two duplicates. */
struct keyrec {
	const char *s;
	uint64_t u;
	unsigned line;
	uint32_t a, b; /* indices to rebuild the field path */
};

struct ctx {
	const char *name;     /* source name in messages */
	const char *base_dir; /* NULL: payload, no file reads */
	struct mg_policy_src *src;
	struct mg_policy_pool *pool;
	uint32_t n_from_total;
	struct keyrec *addrs; /* every address with its place, for one-owner checks */
	size_t n_addrs, cap_addrs;
};

/*
 * libconfig 1.5 keeps a setting's line in an unsigned short. Every setting's
 * true line is rebuilt once, walking the tree in document order (a setting's
 * line is where it starts, so children follow their parent and siblings
 * follow each other) and assuming two consecutive settings are less than
 * 65536 lines apart; it is kept in the setting's hook.
 */
static void fix_lines(config_setting_t *s, unsigned *prev)
{
	uint16_t delta = (uint16_t)(config_setting_source_line(s) - *prev);
	int n = config_setting_is_aggregate(s) ? config_setting_length(s) : 0;

	*prev += delta;
	config_setting_set_hook(s, (void *)(uintptr_t)(*prev ? *prev : 1));
	for (int i = 0; i < n; i++)
		fix_lines(config_setting_get_elem(s, (unsigned)i), prev);
}

static unsigned line_of(const config_setting_t *s)
{
	return (unsigned)(uintptr_t)s->hook;
}

__attribute__((format(printf, 5, 6)))
static int fail_at(const struct ctx *c, unsigned line, enum mg_err code, const char *field,
		   const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return mg_error_set(code, "%s:%u: %s: %s", c->name, line, field, msg);
}

#define fail(c, s, code, field, ...) fail_at(c, line_of(s), MG_ERR_##code, field, __VA_ARGS__)

/* "parent.key", or "key" at the top. */
static const char *join(char *buf, size_t n, const char *parent, const char *key)
{
	snprintf(buf, n, "%s%s%s", parent, parent[0] ? "." : "", key);
	return buf;
}

static const char *elem_name(char *buf, size_t n, const char *list, unsigned i)
{
	snprintf(buf, n, "%s[%u]", list, i);
	return buf;
}

static const char *pstrndup(struct ctx *c, const char *s, size_t n)
{
	char *d = palloc(c->pool, n + 1);

	if (d != NULL) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

static void *pcalloc(struct ctx *c, size_t n, size_t size)
{
	return palloc(c->pool, n != 0 && size != 0 ? n * size : 1);
}

#define NOMEM() mg_error_set(MG_ERR_NOMEM, "policy: out of memory")

/* ---------------------------------------------------------------------- */
/* Generic field access: the type and presence checks every field shares. */

static config_setting_t *member(const config_setting_t *g, const char *key)
{
	return config_setting_get_member((config_setting_t *)g, key);
}

/* Refuse any member of group @g whose name is not in @known. */
static int check_members(const struct ctx *c, const config_setting_t *g, const char *field,
			 const char *const *known)
{
	char f[160], list[200];
	int n = config_setting_length(g);

	for (int i = 0; i < n; i++) {
		const config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
		size_t k = 0, used = 0;

		while (known[k] != NULL && strcmp(known[k], m->name) != 0)
			k++;
		if (known[k] != NULL)
			continue;
		list[0] = '\0';
		for (k = 0; known[k] != NULL && used < sizeof(list); k++)
			used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
						 k ? ", " : "", known[k]);
		return fail(c, m, CONFIG_UNKNOWN_FIELD, join(f, sizeof(f), field, m->name),
			    "unknown field (known here: %s)", list);
	}
	return 0;
}

static int want_group(const struct ctx *c, const config_setting_t *s, const char *field)
{
	if (!config_setting_is_group(s))
		return fail(c, s, CONFIG_TYPE, field, "expected a group { ... }");
	return 0;
}

/* A string member; *out is NULL when it is absent and optional. */
static int get_str(struct ctx *c, const config_setting_t *g, const char *parent,
		   const char *key, bool required, size_t max, const char **out)
{
	const config_setting_t *m = member(g, key);
	char f[160];
	const char *s;
	size_t len;

	*out = NULL;
	join(f, sizeof(f), parent, key);
	if (m == NULL) {
		if (required)
			return fail(c, g, CONFIG_MISSING, f, "required field is missing");
		return 0;
	}
	if (config_setting_type(m) != CONFIG_TYPE_STRING)
		return fail(c, m, CONFIG_TYPE, f, "expected a string");
	s = config_setting_get_string(m);
	len = strlen(s);
	if (len == 0)
		return fail(c, m, CONFIG_VALUE, f, "must not be empty");
	if (len > max)
		return fail(c, m, CONFIG_RANGE, f, "is %zu bytes long, at most %zu allowed",
			    len, max);
	*out = pstrndup(c, s, len);
	return *out == NULL ? NOMEM() : 0;
}

/* A sequence member: [ a, b ] or ( a, b ). *out NULL when absent. */
static int get_seq(const struct ctx *c, const config_setting_t *g, const char *parent,
		   const char *key, bool required, unsigned max,
		   const config_setting_t **out, unsigned *n)
{
	const config_setting_t *m = member(g, key);
	char f[160];

	*out = NULL;
	*n = 0;
	join(f, sizeof(f), parent, key);
	if (m == NULL) {
		if (required)
			return fail(c, g, CONFIG_MISSING, f, "required field is missing");
		return 0;
	}
	if (!config_setting_is_array(m) && !config_setting_is_list(m))
		return fail(c, m, CONFIG_TYPE, f, "expected a list [ ... ]");
	*n = (unsigned)config_setting_length(m);
	if (*n > max)
		return fail(c, m, CONFIG_RANGE, f, "has %u entries, at most %u allowed", *n, max);
	*out = m;
	return 0;
}

/* Element @i of a sequence as a string of 1..max bytes. */
static int elem_str(const struct ctx *c, const config_setting_t *e, const char *f, size_t max,
		    const char **out)
{
	size_t len;

	if (config_setting_type(e) != CONFIG_TYPE_STRING)
		return fail(c, e, CONFIG_TYPE, f, "expected a string");
	*out = config_setting_get_string(e);
	len = strlen(*out);
	if (len == 0)
		return fail(c, e, CONFIG_VALUE, f, "must not be empty");
	if (len > max)
		return fail(c, e, CONFIG_RANGE, f, "is %zu bytes long, at most %zu allowed",
			    len, max);
	return 0;
}

static int setting_int(const struct ctx *c, const config_setting_t *e, const char *f,
		       long long min, long long max, long long *out)
{
	int t = config_setting_type(e);

	if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
		return fail(c, e, CONFIG_TYPE, f, "expected an integer");
	*out = config_setting_get_int64(e);
	if (*out < min || *out > max)
		return fail(c, e, CONFIG_RANGE, f, "%lld is outside %lld..%lld", *out, min, max);
	return 0;
}

static int get_int(const struct ctx *c, const config_setting_t *g, const char *parent,
		   const char *key, long long min, long long max, long long *out)
{
	const config_setting_t *m = member(g, key);
	char f[160];

	join(f, sizeof(f), parent, key);
	if (m == NULL)
		return fail(c, g, CONFIG_MISSING, f, "required field is missing");
	return setting_int(c, m, f, min, max, out);
}

/* ---------------------------------------------------------------------- */
/* Value syntax. Each returns NULL or the problem. */

static const char *check_name(const char *s)
{
	size_t n = strlen(s);

	if (n > MG_POLICY_NAME_MAX)
		return "is longer than 63 bytes";
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
		return "must start with [a-z0-9]";
	for (size_t i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return "may only hold [a-z0-9._-]";
	return NULL;
}

/* Strict dotted quad: four decimal octets, no leading zeros, no extras. */
static bool parse_ipv4(const char *s, uint32_t *out)
{
	uint32_t v = 0;

	for (int part = 0; part < 4; part++) {
		unsigned oct = 0, digits = 0;

		while (*s >= '0' && *s <= '9') {
			if (digits == 1 && oct == 0)
				return false;
			oct = oct * 10 + (unsigned)(*s++ - '0');
			if (++digits > 3 || oct > 255)
				return false;
		}
		if (digits == 0 || *s != (part == 3 ? '\0' : '.'))
			return false;
		s++;
		v = v << 8 | oct;
	}
	*out = v;
	return true;
}

static const char *check_unicast(uint32_t a)
{
	if ((a >> 24) == 0)
		return "is in 0.0.0.0/8 (this network), not a workload address";
	if ((a >> 24) == 127)
		return "is a loopback address";
	if ((a >> 28) == 0xe)
		return "is a multicast address";
	if ((a >> 28) == 0xf)
		return "is reserved or broadcast";
	return NULL;
}

static void format_ipv4(uint32_t a, char *buf, size_t n)
{
	snprintf(buf, n, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

/* "sha256:" + 64 lower-case hex digits. */
static bool parse_image(const char *s, uint8_t out[MG_POLICY_DIGEST_LEN])
{
	if (strncmp(s, "sha256:", 7) != 0 || strlen(s) != 7 + 2 * MG_POLICY_DIGEST_LEN)
		return false;
	s += 7;
	for (int i = 0; i < MG_POLICY_DIGEST_LEN; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

static const char *check_method(const char *s)
{
	if (strlen(s) > MG_POLICY_METHOD_MAX)
		return "is longer than 20 bytes";
	for (; *s; s++)
		if (*s < 'A' || *s > 'Z')
			return "must be an upper-case method token [A-Z]+ (\"GET\")";
	return NULL;
}

/* Absolute path; RFC 3986 path bytes; '*' only as the last byte after '/'. */
static const char *check_http_path(const char *s)
{
	static const char ok[] = "-._~!$&'()+,;=:@/%";
	size_t n = strlen(s);

	if (s[0] != '/')
		return "must start with '/'";
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (ch == '*') {
			if (i != n - 1 || s[i - 1] != '/')
				return "'*' is only allowed as the last segment (\"/api/*\")";
			continue;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || (ch != '\0' && strchr(ok, ch))))
			return "has a byte that is not allowed in a path (no query or fragment)";
	}
	return NULL;
}

/* Lower-case DNS name, optionally "*." + name; labels 1..63 of [a-z0-9-]. */
static const char *check_host(const char *s)
{
	size_t label = 0;

	if (strncmp(s, "*.", 2) == 0)
		s += 2;
	if (*s == '\0')
		return "names no host";
	for (; *s; s++) {
		if (*s == '.') {
			if (label == 0)
				return "has an empty label";
			label = 0;
			continue;
		}
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
			return "must be a lower-case host name, no port (\"web.example.org\", "
			       "\"*.example.org\")";
		if (++label > 63)
			return "has a label longer than 63 bytes";
	}
	return label == 0 ? "ends with a dot" : NULL;
}

/* ---------------------------------------------------------------------- */
/* Sorting and duplicate detection. */

static int keyrec_cmp(const void *x, const void *y)
{
	const struct keyrec *p = x, *q = y;
	int r = (p->s && q->s) ? strcmp(p->s, q->s) : 0;

	if (r == 0 && p->u != q->u)
		r = p->u < q->u ? -1 : 1;
	if (r == 0 && p->line != q->line)
		r = p->line < q->line ? -1 : 1;
	return r;
}

/* Sort @recs; return the index of the first later duplicate, or -1. */
static long find_dup(struct keyrec *recs, size_t n)
{
	if (n < 2)
		return -1;
	qsort(recs, n, sizeof(*recs), keyrec_cmp);
	for (size_t i = 1; i < n; i++)
		if (((recs[i].s && strcmp(recs[i].s, recs[i - 1].s) == 0) || !recs[i].s) &&
		    recs[i].u == recs[i - 1].u)
			return (long)i;
	return -1;
}

/* A name declared twice in @p list ("rules"): fail at the later one, naming the first. */
static int name_dups(const struct ctx *c, struct keyrec *recs, unsigned n, const char *list,
		     const char *kind)
{
	long d = find_dup(recs, n);
	char f[64];

	if (d < 0)
		return 0;
	snprintf(f, sizeof(f), "%s[%u].name", list, recs[d].a);
	return fail_at(c, recs[d].line, MG_ERR_CONFIG_VALUE, f,
		       "%s \"%s\" is declared twice (also at line %u)", kind, recs[d].s,
		       recs[d - 1].line);
}

/* Remember an address and its place; duplicates are found once all are in. */
static int add_addr(struct ctx *c, uint32_t addr, unsigned line, uint32_t a, uint32_t b)
{
	if (c->n_addrs == c->cap_addrs) {
		size_t cap = c->cap_addrs ? 2 * c->cap_addrs : 1024;
		struct keyrec *n = realloc(c->addrs, cap * sizeof(*n));

		if (n == NULL)
			return NOMEM();
		c->addrs = n;
		c->cap_addrs = cap;
	}
	c->addrs[c->n_addrs++] = (struct keyrec){ .u = addr, .line = line, .a = a, .b = b };
	return 0;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int u16_cmp(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int digest_cmp(const void *a, const void *b)
{
	return memcmp(a, b, MG_POLICY_DIGEST_LEN);
}

/* ---------------------------------------------------------------------- */
/* Scalar lists with per-element checks and in-list duplicate refusal. */

/* A list of strings, each checked by @check (may be NULL), sorted unless @keep_order. */
static int get_strv(struct ctx *c, const config_setting_t *g, const char *parent,
		    const char *key, bool required, unsigned max, size_t maxlen,
		    const char *(*check)(const char *), bool keep_order,
		    struct mg_policy_strv *out)
{
	const config_setting_t *seq;
	struct keyrec *recs;
	char f[160], ef[176];
	unsigned n;
	long d;
	int rc = 0;

	MG_GUARD(get_seq(c, g, parent, key, required, max, &seq, &n));
	out->n = 0;
	if (seq == NULL)
		return 0;
	join(f, sizeof(f), parent, key);
	out->v = pcalloc(c, n, sizeof(*out->v));
	recs = calloc(n ? n : 1, sizeof(*recs));
	if (out->v == NULL || recs == NULL) {
		free(recs);
		return NOMEM();
	}
	for (unsigned i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(seq, i);
		const char *s, *problem;

		elem_name(ef, sizeof(ef), f, i);
		MG_GUARD_GOTO(rc = elem_str(c, e, ef, maxlen, &s), out);
		problem = check ? check(s) : NULL;
		MG_ENSURE_GOTO(problem == NULL, out, CONFIG_VALUE, "%s:%u: %s: \"%s\" %s",
			       c->name, line_of(e), ef, s, problem);
		out->v[i] = pstrndup(c, s, strlen(s));
		MG_ENSURE_GOTO(out->v[i] != NULL, out, NOMEM, "policy: out of memory");
		recs[i] = (struct keyrec){ .s = out->v[i], .line = line_of(e), .a = i };
	}
	d = find_dup(recs, n);
	if (d >= 0) {
		elem_name(ef, sizeof(ef), f, recs[d].a);
		rc = fail_at(c, recs[d].line, MG_ERR_CONFIG_VALUE, ef,
			     "\"%s\" is listed twice (also at line %u)", recs[d].s,
			     recs[d - 1].line);
		goto out;
	}
	out->n = n;
	if (!keep_order)
		qsort(out->v, n, sizeof(*out->v), str_cmp);
out:
	free(recs);
	return rc;
}

/* A list of ports 1..65535, no duplicates, sorted. */
static int get_ports(struct ctx *c, const config_setting_t *g, const char *parent,
		     const char *key, uint32_t *n_out, uint16_t **out, bool *present)
{
	const config_setting_t *seq;
	char f[160], ef[176];
	unsigned n;

	MG_GUARD(get_seq(c, g, parent, key, false, MG_POLICY_MAX_PORTS, &seq, &n));
	*present = seq != NULL;
	*n_out = 0;
	*out = pcalloc(c, n, sizeof(**out));
	if (*out == NULL)
		return NOMEM();
	join(f, sizeof(f), parent, key);
	for (unsigned i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(seq, i);
		long long v = 0;

		elem_name(ef, sizeof(ef), f, i);
		MG_GUARD(setting_int(c, e, ef, 1, 65535, &v));
		for (unsigned j = 0; j < i; j++)
			if ((*out)[j] == v)
				return fail(c, e, CONFIG_VALUE, ef, "port %lld is listed twice", v);
		(*out)[i] = (uint16_t)v;
	}
	qsort(*out, n, sizeof(**out), u16_cmp);
	*n_out = n;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Trust bundles: PEM text that holds only CA certificates. */

#define PEM_BEGIN "-----BEGIN "
#define PEM_CERT_BEGIN "-----BEGIN CERTIFICATE-----"
#define PEM_CERT_END "-----END CERTIFICATE-----"

struct der {
	uint8_t fp[32]; /* SHA-256 of the DER: sort key and duplicate test */
	unsigned char *data;
	long len;
	char subject[200]; /* RFC 2253, printable ASCII only */
	char not_after[24];
};

/* What the canonical text says about a CA in its comment. */
static void describe_cert(X509 *x, struct der *d)
{
	BIO *b = BIO_new(BIO_s_mem());
	struct tm tm;
	int len = 0;

	if (b != NULL && X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >= 0)
		len = BIO_read(b, d->subject, sizeof(d->subject) - 1);
	BIO_free(b);
	d->subject[len > 0 ? len : 0] = '\0';
	for (char *p = d->subject; *p; p++)
		if (*p < 0x20 || *p >= 0x7f)
			*p = '?';
	strcpy(d->not_after, "?");
	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm))
		strftime(d->not_after, sizeof(d->not_after), "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int der_cmp(const void *a, const void *b)
{
	return memcmp(((const struct der *)a)->fp, ((const struct der *)b)->fp, 32);
}

static const char *skip_space(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	return p;
}

/*
 * Decode one "-----BEGIN CERTIFICATE-----" block at @p (already checked to
 * start there) into @d; the DER must be one whole certificate with
 * basicConstraints CA:TRUE. Returns the end of the block or NULL with *why.
 */
static const char *decode_cert(const char *p, const char *end, struct der *d, const char **why)
{
	const char *stop = memmem(p, (size_t)(end - p), PEM_CERT_END, strlen(PEM_CERT_END));
	char *name = NULL, *header = NULL;
	const unsigned char *q;
	X509 *x = NULL;
	BIO *bio;

	d->data = NULL; /* freed by the caller whatever happens here */
	d->len = 0;
	*why = "the certificate block has no " PEM_CERT_END " line";
	if (stop == NULL)
		return NULL;
	stop += strlen(PEM_CERT_END);
	bio = BIO_new_mem_buf(p, (int)(stop - p));
	*why = "a certificate block is not valid PEM";
	if (bio == NULL || !PEM_read_bio(bio, &name, &header, &d->data, &d->len) ||
	    header[0] != '\0')
		goto out;
	q = d->data;
	x = d2i_X509(NULL, &q, d->len);
	*why = "a certificate does not parse (DER)";
	if (x == NULL || q != d->data + d->len)
		goto out;
	*why = "a certificate is not a CA (basicConstraints CA:TRUE missing)";
	if ((X509_get_extension_flags(x) & (EXFLAG_CA | EXFLAG_INVALID)) != EXFLAG_CA)
		goto out;
	*why = "SHA-256 failed";
	if (!EVP_Digest(d->data, (size_t)d->len, d->fp, NULL, EVP_sha256(), NULL))
		goto out;
	describe_cert(x, d);
	*why = NULL;
out:
	X509_free(x);
	BIO_free(bio);
	OPENSSL_free(name);
	OPENSSL_free(header);
	ERR_clear_error();
	return *why == NULL ? stop : NULL;
}

/* Split @pem into certificates; only whitespace may sit between blocks. */
static const char *split_bundle(const char *pem, size_t len, struct der *ders, uint32_t *n)
{
	const char *p = pem, *end = pem + len, *why;

	*n = 0;
	for (p = skip_space(p, end); p < end; p = skip_space(p, end)) {
		if ((size_t)(end - p) < strlen(PEM_CERT_BEGIN) ||
		    memcmp(p, PEM_CERT_BEGIN, strlen(PEM_CERT_BEGIN)) != 0)
			return (size_t)(end - p) >= strlen(PEM_BEGIN) &&
					       memcmp(p, PEM_BEGIN, strlen(PEM_BEGIN)) == 0
				       ? "holds a PEM block that is not a CERTIFICATE "
					 "(a private key has no place in a bundle)"
				       : "holds text outside the certificate blocks";
		if (*n == MG_POLICY_BUNDLE_CERTS)
			return "holds more than 64 certificates";
		p = decode_cert(p, end, &ders[*n], &why);
		(*n)++;
		if (p == NULL)
			return why;
	}
	return *n == 0 ? "holds no certificate" : NULL;
}

/* Two lines per CA: "CA i/n: subject" and "  sha256 <hex>, not after <time>". */
static const char *summarize(struct ctx *c, const struct der *ders, uint32_t n)
{
	size_t each = sizeof(ders->subject) + sizeof(ders->not_after) + 128;
	char *buf = palloc(c->pool, n * each + 1), *p = buf;

	for (uint32_t i = 0; buf != NULL && i < n; i++) {
		p += sprintf(p, "CA %u/%u: %s\n  sha256 ", i + 1, n, ders[i].subject);
		for (int k = 0; k < 32; k++)
			p += sprintf(p, "%02x", ders[i].fp[k]);
		p += sprintf(p, ", not after %s\n", ders[i].not_after);
	}
	return buf;
}

/* Canonical bundle text: each certificate re-encoded from its DER, sorted. */
static const char *encode_bundle(struct ctx *c, struct der *ders, uint32_t n,
				 struct mg_policy_td *td)
{
	BIO *out = BIO_new(BIO_s_mem());
	const char *why = "could not write PEM";
	char *text;
	long len;

	qsort(ders, n, sizeof(*ders), der_cmp);
	for (uint32_t i = 0; out != NULL && i < n; i++) {
		if (i > 0 && memcmp(ders[i].fp, ders[i - 1].fp, 32) == 0) {
			why = "holds the same certificate twice";
			goto out;
		}
		if (!PEM_write_bio(out, "CERTIFICATE", "", ders[i].data, ders[i].len))
			goto out;
	}
	len = out ? BIO_get_mem_data(out, &text) : 0;
	if (len <= 0)
		goto out;
	td->bundle_pem = pstrndup(c, text, (size_t)len);
	td->bundle_len = (size_t)len;
	td->n_certs = n;
	td->summary = summarize(c, ders, n);
	why = td->bundle_pem == NULL || td->summary == NULL ? "out of memory" : NULL;
out:
	BIO_free(out);
	return why;
}

static int load_bundle(struct ctx *c, const config_setting_t *s, const char *field,
		       const char *pem, size_t len, struct mg_policy_td *td)
{
	struct der ders[MG_POLICY_BUNDLE_CERTS] = { 0 };
	uint32_t n = 0;
	const char *why = split_bundle(pem, len, ders, &n);
	int rc = 0;

	if (why == NULL)
		why = encode_bundle(c, ders, n, td);
	if (why != NULL)
		rc = fail(c, s, CONFIG_VALUE, field, "the bundle %s", why);
	for (uint32_t i = 0; i < n; i++)
		OPENSSL_free(ders[i].data);
	return rc;
}

/* Read bundle_file (build time only), at most MG_POLICY_BUNDLE_MAX bytes. */
static int read_bundle_file(struct ctx *c, const config_setting_t *s, const char *field,
			    const char *file, char **text, size_t *len)
{
	char path[PATH_MAX];
	ssize_t r = 0;
	int fd, err;

	if (file[0] == '/')
		snprintf(path, sizeof(path), "%s", file);
	else
		snprintf(path, sizeof(path), "%s/%s", c->base_dir, file);
	*text = malloc(MG_POLICY_BUNDLE_MAX + 1);
	if (*text == NULL)
		return NOMEM();
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	while (fd >= 0 && *len <= MG_POLICY_BUNDLE_MAX &&
	       (r = read(fd, *text + *len, MG_POLICY_BUNDLE_MAX + 1 - *len)) > 0)
		*len += (size_t)r;
	err = errno;
	if (fd >= 0)
		close(fd);
	if (fd < 0 || r < 0)
		return fail(c, s, IO, field, "cannot read \"%s\": %s", path, strerror(err));
	if (*len > MG_POLICY_BUNDLE_MAX)
		return fail(c, s, CONFIG_RANGE, field, "\"%s\" is larger than %u bytes", path,
			    MG_POLICY_BUNDLE_MAX);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* trust_domains = ( { name; bundle_pem | bundle_file; }, ... ) */

static int parse_td(struct ctx *c, const config_setting_t *e, const char *f,
		    struct mg_policy_td *td)
{
	static const char *const known[] = { "name", "bundle_pem", "bundle_file", NULL };
	const config_setting_t *pem_s = member(e, "bundle_pem"), *file_s = member(e, "bundle_file");
	const char *pem, *file, *problem;
	char ff[176], *text = NULL;
	size_t len = 0;
	int rc;

	MG_GUARD(want_group(c, e, f));
	MG_GUARD(check_members(c, e, f, known));
	MG_GUARD(get_str(c, e, f, "name", true, MG_SPIFFE_TD_MAX, &td->name));
	problem = mg_spiffe_check_td(td->name, strlen(td->name));
	if (problem != NULL)
		return fail(c, member(e, "name"), CONFIG_VALUE, join(ff, sizeof(ff), f, "name"),
			    "\"%s\": %s", td->name, problem);
	td->line = line_of(e);
	if (pem_s != NULL && file_s != NULL)
		return fail(c, file_s, CONFIG_VALUE, join(ff, sizeof(ff), f, "bundle_file"),
			    "give bundle_pem or bundle_file, not both");
	if (pem_s == NULL && file_s == NULL)
		return fail(c, e, CONFIG_MISSING, join(ff, sizeof(ff), f, "bundle_pem"),
			    "required field is missing (a source file may say bundle_file)");
	if (pem_s != NULL) {
		MG_GUARD(get_str(c, e, f, "bundle_pem", true, MG_POLICY_BUNDLE_MAX, &pem));
		return load_bundle(c, pem_s, join(ff, sizeof(ff), f, "bundle_pem"), pem,
				   strlen(pem), td);
	}
	join(ff, sizeof(ff), f, "bundle_file");
	MG_GUARD(get_str(c, e, f, "bundle_file", true, PATH_MAX - 1, &file));
	if (c->base_dir == NULL)
		return fail(c, file_s, CONFIG_VALUE, ff,
			    "a snapshot payload is self-contained: bundle_file is only read by "
			    "`meshctl snapshot build`, which inlines it as bundle_pem");
	rc = read_bundle_file(c, file_s, ff, file, &text, &len);
	if (rc == 0)
		rc = load_bundle(c, file_s, ff, text, len, td);
	free(text);
	return rc;
}

static int td_cmp(const void *a, const void *b)
{
	return strcmp(((const struct mg_policy_td *)a)->name,
		      ((const struct mg_policy_td *)b)->name);
}

static int parse_tds(struct ctx *c, const config_setting_t *root)
{
	struct mg_policy_src *src = c->src;
	const config_setting_t *seq;
	struct keyrec recs[MG_POLICY_MAX_TRUST_DOMAINS];
	char f[64];
	unsigned n;

	MG_GUARD(get_seq(c, root, "", "trust_domains", true, MG_POLICY_MAX_TRUST_DOMAINS, &seq,
			 &n));
	if (n == 0)
		return fail(c, seq, CONFIG_VALUE, "trust_domains",
			    "names no trust domain: no peer could ever be verified");
	src->tds = pcalloc(c, n, sizeof(*src->tds));
	if (src->tds == NULL)
		return NOMEM();
	for (unsigned i = 0; i < n; i++) {
		MG_GUARD(parse_td(c, config_setting_get_elem(seq, i),
				  elem_name(f, sizeof(f), "trust_domains", i), &src->tds[i]));
		recs[i] = (struct keyrec){ .s = src->tds[i].name, .line = src->tds[i].line,
					   .a = i };
	}
	MG_GUARD(name_dups(c, recs, n, "trust_domains", "trust domain"));
	qsort(src->tds, n, sizeof(*src->tds), td_cmp);
	src->n_tds = n;
	return 0;
}

static bool td_declared(const struct mg_policy_src *src, const char *td)
{
	struct mg_policy_td key = { .name = td };

	return bsearch(&key, src->tds, src->n_tds, sizeof(key), td_cmp) != NULL;
}

/* ---------------------------------------------------------------------- */
/* tls = { min_version; ciphersuites; groups; signature_algorithms; } */

static const char *const tls_suites[] = {
	"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
	"TLS_AES_128_CCM_SHA256", NULL,
};
static const char *const tls_groups[] = { "X25519", "X448", "P-256", "P-384", "P-521", NULL };
static const char *const tls_sigalgs[] = {
	"ecdsa_secp256r1_sha256", "ecdsa_secp384r1_sha384", "ecdsa_secp521r1_sha512",
	"ed25519", "ed448", "rsa_pss_rsae_sha256", "rsa_pss_rsae_sha384",
	"rsa_pss_rsae_sha512", "rsa_pss_pss_sha256", "rsa_pss_pss_sha384",
	"rsa_pss_pss_sha512", NULL,
};
static const char *default_suites[] = { "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
					"TLS_CHACHA20_POLY1305_SHA256" };
static const char *default_groups[] = { "X25519", "P-256" };
static const char *default_sigalgs[] = { "ecdsa_secp256r1_sha256", "ecdsa_secp384r1_sha384",
					 "ed25519", "rsa_pss_rsae_sha256" };

static const char *in_table(const char *s, const char *const *table)
{
	for (size_t i = 0; table[i] != NULL; i++)
		if (strcmp(s, table[i]) == 0)
			return NULL;
	return "is not a known name here";
}

static const char *check_suite(const char *s)
{
	return in_table(s, tls_suites) ? "is not a TLS 1.3 cipher suite meshgw offers "
					 "(TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, "
					 "TLS_CHACHA20_POLY1305_SHA256, TLS_AES_128_CCM_SHA256)"
				       : NULL;
}

static const char *check_group(const char *s)
{
	return in_table(s, tls_groups) ? "is not a known group (X25519, X448, P-256, "
					 "P-384, P-521)"
				       : NULL;
}

static const char *check_sigalg(const char *s)
{
	return in_table(s, tls_sigalgs) ? "is not a known TLS 1.3 signature scheme "
					  "(ecdsa_secp256r1_sha256, ed25519, rsa_pss_rsae_sha256, "
					  "...)"
					: NULL;
}

static int tls_list(struct ctx *c, const config_setting_t *g, const char *key,
		    const char *(*check)(const char *), const char **dflt, uint32_t n_dflt,
		    struct mg_policy_strv *out)
{
	char f[64];

	out->v = dflt;
	out->n = n_dflt;
	if (g == NULL || member(g, key) == NULL)
		return 0;
	MG_GUARD(get_strv(c, g, "tls", key, false, MG_POLICY_MAX_TLS_LIST, 64, check, true, out));
	if (out->n == 0)
		return fail(c, member(g, key), CONFIG_VALUE, join(f, sizeof(f), "tls", key),
			    "must name at least one (leave it out for the defaults)");
	return 0;
}

static int parse_tls(struct ctx *c, const config_setting_t *root)
{
	static const char *const known[] = { "min_version", "ciphersuites", "groups",
					     "signature_algorithms", NULL };
	const config_setting_t *g = member(root, "tls");
	struct mg_policy_tls *tls = &c->src->tls;
	const char *v = NULL;

	tls->min_version = 0x0304;
	if (g != NULL) {
		MG_GUARD(want_group(c, g, "tls"));
		MG_GUARD(check_members(c, g, "tls", known));
		MG_GUARD(get_str(c, g, "tls", "min_version", false, 8, &v));
	}
	if (v != NULL && strcmp(v, "1.3") != 0)
		return fail(c, member(g, "min_version"), CONFIG_VALUE, "tls.min_version",
			    "\"%s\": only \"1.3\" is accepted (no renegotiation, no "
			    "post-handshake auth: TLS 1.3 everywhere)", v);
	MG_GUARD(tls_list(c, g, "ciphersuites", check_suite, default_suites, 3,
			  &tls->ciphersuites));
	MG_GUARD(tls_list(c, g, "groups", check_group, default_groups, 2, &tls->groups));
	return tls_list(c, g, "signature_algorithms", check_sigalg, default_sigalgs, 4,
			&tls->sigalgs);
}

/* ---------------------------------------------------------------------- */
/* workloads = ( { name; spiffe_id; addresses; ports; images; }, ... ) */

static int check_name_field(const struct ctx *c, const config_setting_t *g, const char *f,
			    const char *name)
{
	const char *problem = check_name(name);
	char ff[176];

	if (problem != NULL)
		return fail(c, member(g, "name"), CONFIG_VALUE, join(ff, sizeof(ff), f, "name"),
			    "\"%s\" %s", name, problem);
	return 0;
}

static int parse_addrs(struct ctx *c, const config_setting_t *e, const char *f,
		       uint32_t pos, struct mg_policy_workload *w)
{
	const config_setting_t *seq;
	char af[176], ef[192];
	unsigned n;

	MG_GUARD(get_seq(c, e, f, "addresses", false, MG_POLICY_MAX_ADDRESSES, &seq, &n));
	w->addrs = pcalloc(c, n, sizeof(*w->addrs));
	if (w->addrs == NULL)
		return NOMEM();
	join(af, sizeof(af), f, "addresses");
	for (unsigned i = 0; i < n; i++) {
		const config_setting_t *a = config_setting_get_elem(seq, i);
		const char *s, *problem;

		elem_name(ef, sizeof(ef), af, i);
		MG_GUARD(elem_str(c, a, ef, 15, &s));
		if (!parse_ipv4(s, &w->addrs[i]))
			return fail(c, a, CONFIG_VALUE, ef,
				    "\"%s\" is not an IPv4 address (dotted quad)", s);
		problem = check_unicast(w->addrs[i]);
		if (problem != NULL)
			return fail(c, a, CONFIG_VALUE, ef, "\"%s\" %s", s, problem);
		MG_GUARD(add_addr(c, w->addrs[i], line_of(a), pos, i));
	}
	qsort(w->addrs, n, sizeof(*w->addrs), u32_cmp);
	/* Duplicates within and across workloads are found together later. */
	w->n_addrs = n;
	return 0;
}

static int parse_images(struct ctx *c, const config_setting_t *e, const char *f,
			struct mg_policy_workload *w)
{
	const config_setting_t *seq;
	char imf[176], ef[192];
	unsigned n;

	MG_GUARD(get_seq(c, e, f, "images", false, MG_POLICY_MAX_IMAGES, &seq, &n));
	w->images = pcalloc(c, n, sizeof(*w->images));
	if (w->images == NULL)
		return NOMEM();
	join(imf, sizeof(imf), f, "images");
	for (unsigned i = 0; i < n; i++) {
		const config_setting_t *im = config_setting_get_elem(seq, i);
		const char *s;

		elem_name(ef, sizeof(ef), imf, i);
		MG_GUARD(elem_str(c, im, ef, 128, &s));
		if (!parse_image(s, w->images[i]))
			return fail(c, im, CONFIG_VALUE, ef,
				    "\"%s\" is not an image digest \"sha256:<64 lower-case hex>\"",
				    s);
		for (unsigned j = 0; j < i; j++)
			if (memcmp(w->images[j], w->images[i], MG_POLICY_DIGEST_LEN) == 0)
				return fail(c, im, CONFIG_VALUE, ef, "\"%s\" is listed twice",
					    s);
	}
	qsort(w->images, n, sizeof(*w->images), digest_cmp);
	w->n_images = n;
	return 0;
}

static int parse_workload_id(struct ctx *c, const config_setting_t *e, const char *f,
			     struct mg_policy_workload *w)
{
	struct mg_spiffe_id id;
	char ff[176];

	join(ff, sizeof(ff), f, "spiffe_id");
	MG_GUARD(get_str(c, e, f, "spiffe_id", true, MG_SPIFFE_MAX_LEN, &w->spiffe_id));
	if (mg_spiffe_parse(w->spiffe_id, &id) < 0)
		return fail(c, member(e, "spiffe_id"), CONFIG_VALUE, ff, "\"%s\": %s",
			    w->spiffe_id, mg_errmsg());
	if (id.len == id.path_off)
		return fail(c, member(e, "spiffe_id"), CONFIG_VALUE, ff,
			    "\"%s\" has an empty path, which names the trust domain, not a "
			    "workload", w->spiffe_id);
	if (!td_declared(c->src, id.td))
		return fail(c, member(e, "spiffe_id"), CONFIG_VALUE, ff,
			    "trust domain \"%s\" is not declared in trust_domains", id.td);
	return 0;
}

static int parse_workload(struct ctx *c, const config_setting_t *e, const char *f,
			  uint32_t pos, struct mg_policy_workload *w)
{
	static const char *const known[] = { "name", "spiffe_id", "addresses", "ports",
					     "images", NULL };
	bool present;

	MG_GUARD(want_group(c, e, f));
	MG_GUARD(check_members(c, e, f, known));
	w->line = line_of(e);
	MG_GUARD(get_str(c, e, f, "name", true, MG_POLICY_NAME_MAX, &w->name));
	MG_GUARD(check_name_field(c, e, f, w->name));
	MG_GUARD(parse_workload_id(c, e, f, w));
	MG_GUARD(parse_addrs(c, e, f, pos, w));
	MG_GUARD(get_ports(c, e, f, "ports", &w->n_ports, &w->ports, &present));
	return parse_images(c, e, f, w);
}

static int workload_cmp(const void *a, const void *b)
{
	return strcmp(((const struct mg_policy_workload *)a)->name,
		      ((const struct mg_policy_workload *)b)->name);
}

/* Names and SPIFFE IDs are unique among workloads. */
static int workload_dups(struct ctx *c, const config_setting_t *seq, unsigned n)
{
	struct mg_policy_workload *w = c->src->workloads;
	struct keyrec *recs = calloc(n ? n : 1, sizeof(*recs));
	const char *what[2] = { "name", "spiffe_id" };
	char f[64];
	int rc = 0;

	if (recs == NULL)
		return NOMEM();
	for (int k = 0; k < 2 && rc == 0; k++) {
		long d;

		for (unsigned i = 0; i < n; i++) {
			const config_setting_t *m = member(config_setting_get_elem(seq, i), what[k]);

			recs[i] = (struct keyrec){ .s = k ? w[i].spiffe_id : w[i].name,
						   .line = line_of(m), .a = i };
		}
		d = find_dup(recs, n);
		if (d < 0)
			continue;
		snprintf(f, sizeof(f), "workloads[%u].%s", recs[d].a, what[k]);
		rc = fail_at(c, recs[d].line, MG_ERR_CONFIG_VALUE, f,
			     "\"%s\" already belongs to another workload (line %u)", recs[d].s,
			     recs[d - 1].line);
	}
	free(recs);
	return rc;
}

static int parse_workloads(struct ctx *c, const config_setting_t *root)
{
	struct mg_policy_src *src = c->src;
	const config_setting_t *seq;
	char f[64];
	unsigned n;

	MG_GUARD(get_seq(c, root, "", "workloads", false, MG_POLICY_MAX_WORKLOADS, &seq, &n));
	src->workloads = pcalloc(c, n, sizeof(*src->workloads));
	if (src->workloads == NULL)
		return NOMEM();
	for (unsigned i = 0; i < n; i++)
		MG_GUARD(parse_workload(c, config_setting_get_elem(seq, i),
					elem_name(f, sizeof(f), "workloads", i), i,
					&src->workloads[i]));
	if (n > 0)
		MG_GUARD(workload_dups(c, seq, n));
	/* Addresses are checked with the services' (parse_services). */
	src->n_workloads = n;
	return 0;
}

static int find_workload(const struct mg_policy_src *src, const char *name, uint32_t *idx)
{
	struct mg_policy_workload key = { .name = name }, *w;

	w = bsearch(&key, src->workloads, src->n_workloads, sizeof(key), workload_cmp);
	if (w == NULL)
		return -1;
	*idx = (uint32_t)(w - src->workloads);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* services = ( { name; address; workload; ports = ( { port; target_port; } ); } ) */

static bool serves(const struct mg_policy_workload *w, uint16_t port)
{
	return bsearch(&port, w->ports, w->n_ports, sizeof(port), u16_cmp) != NULL;
}

static int svc_port_cmp(const void *a, const void *b)
{
	return u16_cmp(&((const struct mg_policy_svc_port *)a)->port,
		       &((const struct mg_policy_svc_port *)b)->port);
}

static int parse_svc_ports(struct ctx *c, const config_setting_t *e, const char *f,
			   struct mg_policy_service *s)
{
	static const char *const known[] = { "port", "target_port", NULL };
	const struct mg_policy_workload *w = &c->src->workloads[s->workload_idx];
	const config_setting_t *seq;
	char pf[176], ef[192], tf[208];
	unsigned n;

	MG_GUARD(get_seq(c, e, f, "ports", true, MG_POLICY_MAX_PORTS, &seq, &n));
	join(pf, sizeof(pf), f, "ports");
	if (n == 0)
		return fail(c, seq, CONFIG_VALUE, pf, "maps no port");
	s->ports = pcalloc(c, n, sizeof(*s->ports));
	if (s->ports == NULL)
		return NOMEM();
	for (unsigned i = 0; i < n; i++) {
		const config_setting_t *p = config_setting_get_elem(seq, i);
		long long port = 0, target = 0;

		elem_name(ef, sizeof(ef), pf, i);
		MG_GUARD(want_group(c, p, ef));
		MG_GUARD(check_members(c, p, ef, known));
		MG_GUARD(get_int(c, p, ef, "port", 1, 65535, &port));
		MG_GUARD(get_int(c, p, ef, "target_port", 1, 65535, &target));
		if (!serves(w, (uint16_t)target))
			return fail(c, member(p, "target_port"), CONFIG_VALUE,
				    join(tf, sizeof(tf), ef, "target_port"),
				    "workload \"%s\" does not serve port %lld", w->name, target);
		for (unsigned j = 0; j < i; j++)
			if (s->ports[j].port == port)
				return fail(c, member(p, "port"), CONFIG_VALUE,
					    join(tf, sizeof(tf), ef, "port"),
					    "port %lld is mapped twice", port);
		s->ports[i] = (struct mg_policy_svc_port){ (uint16_t)port, (uint16_t)target };
	}
	qsort(s->ports, n, sizeof(*s->ports), svc_port_cmp);
	s->n_ports = n;
	return 0;
}

static int parse_service(struct ctx *c, const config_setting_t *e, const char *f,
			 struct mg_policy_service *s)
{
	static const char *const known[] = { "name", "address", "workload", "ports", NULL };
	const char *addr, *problem;
	char ff[176];

	MG_GUARD(want_group(c, e, f));
	MG_GUARD(check_members(c, e, f, known));
	s->line = line_of(e);
	MG_GUARD(get_str(c, e, f, "name", true, MG_POLICY_NAME_MAX, &s->name));
	MG_GUARD(check_name_field(c, e, f, s->name));
	MG_GUARD(get_str(c, e, f, "address", true, 15, &addr));
	join(ff, sizeof(ff), f, "address");
	if (!parse_ipv4(addr, &s->addr))
		return fail(c, member(e, "address"), CONFIG_VALUE, ff,
			    "\"%s\" is not an IPv4 address (dotted quad)", addr);
	problem = check_unicast(s->addr);
	if (problem != NULL)
		return fail(c, member(e, "address"), CONFIG_VALUE, ff, "\"%s\" %s", addr, problem);
	MG_GUARD(get_str(c, e, f, "workload", true, MG_POLICY_NAME_MAX, &s->workload));
	if (find_workload(c->src, s->workload, &s->workload_idx) < 0)
		return fail(c, member(e, "workload"), CONFIG_VALUE,
			    join(ff, sizeof(ff), f, "workload"), "no workload is named \"%s\"",
			    s->workload);
	return parse_svc_ports(c, e, f, s);
}

static int service_cmp(const void *a, const void *b)
{
	return strcmp(((const struct mg_policy_service *)a)->name,
		      ((const struct mg_policy_service *)b)->name);
}

/* One address, one owner: a workload address or a service address, once. */
static int address_dups(struct ctx *c)
{
	long d = find_dup(c->addrs, c->n_addrs);
	const struct keyrec *r;
	char f[96], a[16];

	if (d < 0)
		return 0;
	r = &c->addrs[d];
	if (r->b == UINT32_MAX)
		snprintf(f, sizeof(f), "services[%u].address", r->a);
	else
		snprintf(f, sizeof(f), "workloads[%u].addresses[%u]", r->a, r->b);
	format_ipv4((uint32_t)r->u, a, sizeof(a));
	return fail_at(c, r->line, MG_ERR_CONFIG_VALUE, f,
		       "address %s is already used at line %u (an address has one owner)", a,
		       r[-1].line);
}

static int parse_services(struct ctx *c, const config_setting_t *root)
{
	struct mg_policy_src *src = c->src;
	const config_setting_t *seq;
	struct keyrec *recs;
	char f[64];
	unsigned n;
	int rc = 0;

	MG_GUARD(get_seq(c, root, "", "services", false, MG_POLICY_MAX_SERVICES, &seq, &n));
	src->services = pcalloc(c, n, sizeof(*src->services));
	recs = calloc(n ? n : 1, sizeof(*recs));
	MG_ENSURE_GOTO(src->services != NULL && recs != NULL, out, NOMEM,
		       "policy: out of memory");
	for (unsigned i = 0; i < n; i++) {
		MG_GUARD_GOTO(rc = parse_service(c, config_setting_get_elem(seq, i),
						 elem_name(f, sizeof(f), "services", i),
						 &src->services[i]),
			      out);
		MG_GUARD_GOTO(rc = add_addr(c, src->services[i].addr,
					    line_of(member(config_setting_get_elem(seq, i), "address")),
					    i, UINT32_MAX),
			      out);
		recs[i] = (struct keyrec){ .s = src->services[i].name,
					   .line = src->services[i].line, .a = i };
	}
	src->n_services = n;
	MG_GUARD_GOTO(rc = address_dups(c), out);
	MG_GUARD_GOTO(rc = name_dups(c, recs, n, "services", "service"), out);
	qsort(src->services, n, sizeof(*src->services), service_cmp);
out:
	free(recs);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* rules = ( { name; action; from; to = { workload; ports; }; http; }, ... ) */

static const char *check_pattern_syntax(const char *s)
{
	static __thread struct mg_spiffe_id id;
	static __thread char why[320];

	if (mg_spiffe_parse_pattern(s, &id) == 0)
		return NULL;
	snprintf(why, sizeof(why), "is not a SPIFFE ID or \"spiffe://td[/path]/*\" pattern: %s",
		 mg_errmsg());
	return why;
}

static int parse_from(struct ctx *c, const config_setting_t *e, const char *f,
		      struct mg_policy_rule *r)
{
	const config_setting_t *seq = member(e, "from");
	struct mg_spiffe_id id;
	char ff[176], ef[192];

	MG_GUARD(get_strv(c, e, f, "from", true, MG_POLICY_MAX_FROM, MG_SPIFFE_MAX_LEN + 2,
			  check_pattern_syntax, false, &r->from));
	join(ff, sizeof(ff), f, "from");
	if (r->from.n == 0)
		return fail(c, seq, CONFIG_VALUE, ff, "names no peer");
	c->n_from_total += r->from.n;
	if (c->n_from_total > MG_POLICY_MAX_FROM_TOTAL)
		return fail(c, seq, CONFIG_RANGE, ff,
			    "the rules name more than %u peers in all", MG_POLICY_MAX_FROM_TOTAL);
	/* Sorted now: find each one's setting again for its line. */
	for (unsigned i = 0; i < (unsigned)config_setting_length(seq); i++) {
		const config_setting_t *el = config_setting_get_elem(seq, i);

		if (mg_spiffe_parse_pattern(config_setting_get_string(el), &id) == 0 &&
		    !td_declared(c->src, id.td))
			return fail(c, el, CONFIG_VALUE, elem_name(ef, sizeof(ef), ff, i),
				    "trust domain \"%s\" is not declared in trust_domains",
				    id.td);
	}
	return 0;
}

/* to = { workload = "web"; ports = [ 8080 ]; }: ports default to all it serves. */
static int parse_to(struct ctx *c, const config_setting_t *e, const char *f,
		    struct mg_policy_rule *r)
{
	static const char *const known[] = { "workload", "ports", NULL };
	const config_setting_t *to = member(e, "to");
	const struct mg_policy_workload *w;
	char tf[176], ff[192], ef[208];
	bool present;

	join(tf, sizeof(tf), f, "to");
	if (to == NULL)
		return fail(c, e, CONFIG_MISSING, tf, "required field is missing");
	MG_GUARD(want_group(c, to, tf));
	MG_GUARD(check_members(c, to, tf, known));
	MG_GUARD(get_str(c, to, tf, "workload", true, MG_POLICY_NAME_MAX, &r->to_workload));
	if (find_workload(c->src, r->to_workload, &r->to_idx) < 0)
		return fail(c, member(to, "workload"), CONFIG_VALUE,
			    join(ff, sizeof(ff), tf, "workload"), "no workload is named \"%s\"",
			    r->to_workload);
	w = &c->src->workloads[r->to_idx];
	if (w->n_ports == 0)
		return fail(c, member(to, "workload"), CONFIG_VALUE,
			    join(ff, sizeof(ff), tf, "workload"),
			    "workload \"%s\" serves no port: no rule can reach it", w->name);
	MG_GUARD(get_ports(c, to, tf, "ports", &r->n_ports, &r->ports, &present));
	join(ff, sizeof(ff), tf, "ports");
	if (present && r->n_ports == 0)
		return fail(c, member(to, "ports"), CONFIG_VALUE, ff,
			    "names no port (leave it out for all of the workload's ports)");
	for (uint32_t i = 0; i < r->n_ports; i++)
		if (!serves(w, r->ports[i]))
			return fail(c, member(to, "ports"), CONFIG_VALUE,
				    elem_name(ef, sizeof(ef), ff, i),
				    "workload \"%s\" does not serve port %u", w->name,
				    r->ports[i]);
	if (!present) {
		r->ports = w->ports;
		r->n_ports = w->n_ports;
	}
	return 0;
}

static int parse_http(struct ctx *c, const config_setting_t *e, const char *f,
		      struct mg_policy_rule *r)
{
	static const char *const known[] = { "methods", "paths", "hosts", NULL };
	const config_setting_t *h = member(e, "http");
	char hf[176];

	if (h == NULL)
		return 0;
	join(hf, sizeof(hf), f, "http");
	MG_GUARD(want_group(c, h, hf));
	MG_GUARD(check_members(c, h, hf, known));
	MG_GUARD(get_strv(c, h, hf, "methods", false, MG_POLICY_MAX_METHODS, MG_POLICY_METHOD_MAX,
			  check_method, false, &r->methods));
	MG_GUARD(get_strv(c, h, hf, "paths", false, MG_POLICY_MAX_PATHS, MG_POLICY_HTTP_PATH_MAX,
			  check_http_path, false, &r->paths));
	MG_GUARD(get_strv(c, h, hf, "hosts", false, MG_POLICY_MAX_HOSTS, MG_POLICY_HOST_MAX,
			  check_host, false, &r->hosts));
	if (r->methods.n + r->paths.n + r->hosts.n == 0)
		return fail(c, h, CONFIG_VALUE, hf,
			    "names no method, path or host (leave http out to allow any request)");
	r->has_http = true;
	return 0;
}

static int parse_rule(struct ctx *c, const config_setting_t *e, const char *f,
		      struct mg_policy_rule *r)
{
	static const char *const known[] = { "name", "action", "from", "to", "http", NULL };
	const char *action;
	char ff[176];

	MG_GUARD(want_group(c, e, f));
	MG_GUARD(check_members(c, e, f, known));
	r->line = line_of(e);
	MG_GUARD(get_str(c, e, f, "name", true, MG_POLICY_NAME_MAX, &r->name));
	MG_GUARD(check_name_field(c, e, f, r->name));
	MG_GUARD(get_str(c, e, f, "action", true, 16, &action));
	if (strcmp(action, "allow") == 0)
		r->action = MG_POLICY_ALLOW;
	else if (strcmp(action, "deny") == 0)
		r->action = MG_POLICY_DENY;
	else
		return fail(c, member(e, "action"), CONFIG_VALUE, join(ff, sizeof(ff), f, "action"),
			    "\"%s\": expected \"allow\" or \"deny\"", action);
	MG_GUARD(parse_from(c, e, f, r));
	MG_GUARD(parse_to(c, e, f, r));
	return parse_http(c, e, f, r);
}

static int rule_cmp(const void *a, const void *b)
{
	return strcmp(((const struct mg_policy_rule *)a)->name,
		      ((const struct mg_policy_rule *)b)->name);
}

static int parse_rules(struct ctx *c, const config_setting_t *root)
{
	struct mg_policy_src *src = c->src;
	const config_setting_t *seq;
	struct keyrec *recs;
	char f[64];
	unsigned n;
	int rc = 0;

	MG_GUARD(get_seq(c, root, "", "rules", false, MG_POLICY_MAX_RULES, &seq, &n));
	src->rules = pcalloc(c, n, sizeof(*src->rules));
	recs = calloc(n ? n : 1, sizeof(*recs));
	MG_ENSURE_GOTO(src->rules != NULL && recs != NULL, out, NOMEM, "policy: out of memory");
	for (unsigned i = 0; i < n; i++) {
		MG_GUARD_GOTO(rc = parse_rule(c, config_setting_get_elem(seq, i),
					      elem_name(f, sizeof(f), "rules", i), &src->rules[i]),
			      out);
		recs[i] = (struct keyrec){ .s = src->rules[i].name, .line = src->rules[i].line,
					   .a = i };
	}
	MG_GUARD_GOTO(rc = name_dups(c, recs, n, "rules", "rule"), out);
	qsort(src->rules, n, sizeof(*src->rules), rule_cmp);
	src->n_rules = n;
out:
	free(recs);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* The whole file. */

static int parse_root(struct ctx *c, const config_setting_t *root)
{
	static const char *const known[] = { "default_action", "trust_domains", "tls",
					     "workloads", "services", "rules", NULL };
	const char *dflt;

	MG_GUARD(check_members(c, root, "", known));
	MG_GUARD(get_str(c, root, "", "default_action", false, 16, &dflt));
	if (dflt != NULL && strcmp(dflt, "deny") != 0)
		return fail(c, member(root, "default_action"), CONFIG_VALUE, "default_action",
			    "\"%s\": only \"deny\" is accepted (what no rule allows is denied)",
			    dflt);
	MG_GUARD(parse_tds(c, root));
	MG_GUARD(parse_tls(c, root));
	MG_GUARD(parse_workloads(c, root));
	/* Services and rules refer to workloads by name: sort them first. */
	qsort(c->src->workloads, c->src->n_workloads, sizeof(*c->src->workloads), workload_cmp);
	MG_GUARD(parse_services(c, root));
	return parse_rules(c, root);
}

/* libconfig would open "@include" files: a policy is self-contained. */
static int refuse_include(const struct ctx *c, const char *text, size_t len)
{
	unsigned line = 1;
	bool start = true;

	for (size_t i = 0; i < len; i++) {
		if (text[i] == '\n') {
			line++;
			start = true;
		} else if (text[i] == '@' && start) {
			return fail_at(c, line, MG_ERR_CONFIG_SYNTAX, "@include",
				       "directives are not allowed (a policy is self-contained)");
		} else if (text[i] != ' ' && text[i] != '\t' && text[i] != '\r') {
			start = false;
		}
	}
	return 0;
}

static int parse_text(struct ctx *c, const char *text, size_t len)
{
	const char *nul = memchr(text, '\0', len);
	char *copy = NULL;
	config_t cfg;
	unsigned prev = 0;
	int rc = -1;

	MG_ENSURE(len <= MG_POLICY_MAX_TEXT, IO_TOO_BIG, "%s: %zu bytes, at most %u allowed",
		  c->name, len, MG_POLICY_MAX_TEXT);
	MG_ENSURE(nul == NULL, CONFIG_SYNTAX, "%s: has a NUL byte at offset %zu", c->name,
		  (size_t)(nul - text));
	MG_GUARD(refuse_include(c, text, len));
	copy = malloc(len + 1);
	MG_ENSURE(copy != NULL, NOMEM, "policy: out of memory");
	memcpy(copy, text, len);
	copy[len] = '\0';
	config_init(&cfg);
	if (config_read_string(&cfg, copy) != CONFIG_TRUE) {
		rc = mg_error_set(MG_ERR_CONFIG_SYNTAX, "%s:%d: %s", c->name,
				  config_error_line(&cfg), config_error_text(&cfg));
		goto out;
	}
	fix_lines(config_root_setting(&cfg), &prev);
	rc = parse_root(c, config_root_setting(&cfg));
out:
	config_destroy(&cfg);
	free(copy);
	return rc;
}

MG_RESULT mg_policy_parse(const char *text, size_t len, const char *name,
			  const char *base_dir, struct mg_policy_src **out)
{
	struct ctx c = { .name = name ? name : "policy", .base_dir = base_dir };
	int rc = -1;

	*out = NULL;
	c.pool = calloc(1, sizeof(*c.pool));
	MG_ENSURE(c.pool != NULL, NOMEM, "policy: out of memory");
	c.src = palloc(c.pool, sizeof(*c.src));
	MG_ENSURE_GOTO(c.src != NULL, out, NOMEM, "policy: out of memory");
	c.src->pool = c.pool;
	MG_GUARD_GOTO(rc = parse_text(&c, text, len), out);
	*out = c.src;
out:
	free(c.addrs);
	if (rc < 0)
		pool_free(c.pool);
	return rc;
}

MG_RESULT mg_policy_parse_file(const char *path, struct mg_policy_src **out)
{
	char dir[PATH_MAX], *text = NULL, *slash;
	struct stat st;
	size_t len = 0;
	ssize_t r = 0;
	int fd, rc = -1;

	*out = NULL;
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else
		*(slash == dir ? slash + 1 : slash) = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	MG_ENSURE(fd >= 0, IO, "%s: %s", path, strerror(errno));
	MG_ENSURE_GOTO(fstat(fd, &st) == 0 && S_ISREG(st.st_mode), out, IO,
		       "%s: not a regular file", path);
	MG_ENSURE_GOTO(st.st_size <= MG_POLICY_MAX_TEXT, out, IO_TOO_BIG,
		       "%s: larger than %u bytes", path, MG_POLICY_MAX_TEXT);
	text = malloc((size_t)st.st_size + 1);
	MG_ENSURE_GOTO(text != NULL, out, NOMEM, "policy: out of memory");
	while (len < (size_t)st.st_size &&
	       (r = read(fd, text + len, (size_t)st.st_size - len)) > 0)
		len += (size_t)r;
	MG_ENSURE_GOTO(r >= 0, out, IO, "%s: %s", path, strerror(errno));
	rc = mg_policy_parse(text, len, path, dir, out);
out:
	free(text);
	close(fd);
	return rc;
}

void mg_policy_src_free(struct mg_policy_src *src)
{
	if (src != NULL)
		pool_free(src->pool);
}

const char *mg_policy_action_name(enum mg_policy_action a)
{
	return a == MG_POLICY_DENY ? "deny" : "allow";
}

/* ---------------------------------------------------------------------- */
/* The canonical text. */

/* Every string printed was validated; escape anyway so output always parses. */
static void put_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch == '\n')
			fputs("\\n", f);
		else if (ch < 0x20 || ch >= 0x7f)
			fprintf(f, "\\x%02x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static void put_strv(FILE *f, const char *ind, const char *key, const struct mg_policy_strv *v)
{
	fprintf(f, "%s%s = [", ind, key);
	if (v->n == 1) {
		fputc(' ', f);
		put_str(f, v->v[0]);
	}
	for (uint32_t i = 0; v->n > 1 && i < v->n; i++) {
		fprintf(f, "%s\n%s\t", i ? "," : "", ind);
		put_str(f, v->v[i]);
	}
	if (v->n > 1)
		fprintf(f, "\n%s];\n", ind);
	else
		fputs(" ];\n", f);
}

static void put_ports(FILE *f, const char *ind, const char *key, const uint16_t *p, uint32_t n)
{
	fprintf(f, "%s%s = [", ind, key);
	for (uint32_t i = 0; i < n; i++)
		fprintf(f, "%s %u", i ? "," : "", p[i]);
	fputs(" ];\n", f);
}

static void put_bundle(FILE *f, const struct mg_policy_td *td)
{
	const char *ind = "\t\t";
	const char *p = td->bundle_pem, *end = p + td->bundle_len, *line = td->summary;

	while (*line) { /* the summary as comment lines */
		size_t n = strcspn(line, "\n");

		fprintf(f, "%s# %.*s\n", ind, (int)n, line);
		line += n + (line[n] != '\0');
	}
	fprintf(f, "%sbundle_pem =", ind);
	/* One string per PEM line; libconfig joins adjacent strings. */
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		fprintf(f, "\n%s\t\"%.*s%s\"", ind, (int)n, p, nl ? "\\n" : "");
		p += n + (nl != NULL);
	}
	fputs(";\n", f);
}

static void put_tds(FILE *f, const struct mg_policy_src *src)
{
	fputs("trust_domains = (\n", f);
	for (uint32_t i = 0; i < src->n_tds; i++) {
		fputs("\t{\n\t\tname = ", f);
		put_str(f, src->tds[i].name);
		fputs(";\n", f);
		put_bundle(f, &src->tds[i]);
		fprintf(f, "\t}%s\n", i + 1 < src->n_tds ? "," : "");
	}
	fputs(");\n", f);
}

static void put_tls(FILE *f, const struct mg_policy_tls *tls)
{
	fputs("tls = {\n\tmin_version = \"1.3\";\n", f);
	put_strv(f, "\t", "ciphersuites", &tls->ciphersuites);
	put_strv(f, "\t", "groups", &tls->groups);
	put_strv(f, "\t", "signature_algorithms", &tls->sigalgs);
	fputs("};\n", f);
}

static void put_workload(FILE *f, const struct mg_policy_workload *w)
{
	char a[16];

	fputs("\t{\n\t\tname = ", f);
	put_str(f, w->name);
	fputs(";\n\t\tspiffe_id = ", f);
	put_str(f, w->spiffe_id);
	fputs(";\n\t\taddresses = [", f);
	for (uint32_t i = 0; i < w->n_addrs; i++) {
		format_ipv4(w->addrs[i], a, sizeof(a));
		fprintf(f, "%s \"%s\"", i ? "," : "", a);
	}
	fputs(" ];\n", f);
	put_ports(f, "\t\t", "ports", w->ports, w->n_ports);
	fputs("\t\timages = [", f);
	for (uint32_t i = 0; i < w->n_images; i++) {
		fprintf(f, "%s\n\t\t\t\"sha256:", i ? "," : "");
		for (int k = 0; k < MG_POLICY_DIGEST_LEN; k++)
			fprintf(f, "%02x", w->images[i][k]);
		fputc('"', f);
	}
	fputs(w->n_images ? "\n\t\t];\n" : " ];\n", f);
	fputs("\t}", f);
}

static void put_service(FILE *f, const struct mg_policy_service *s)
{
	char a[16];

	format_ipv4(s->addr, a, sizeof(a));
	fputs("\t{\n\t\tname = ", f);
	put_str(f, s->name);
	fprintf(f, ";\n\t\taddress = \"%s\";\n\t\tworkload = ", a);
	put_str(f, s->workload);
	fputs(";\n\t\tports = (", f);
	for (uint32_t i = 0; i < s->n_ports; i++)
		fprintf(f, "%s\n\t\t\t{ port = %u; target_port = %u; }", i ? "," : "",
			s->ports[i].port, s->ports[i].target_port);
	fputs("\n\t\t);\n\t}", f);
}

static void put_rule(FILE *f, const struct mg_policy_rule *r)
{
	fputs("\t{\n\t\tname = ", f);
	put_str(f, r->name);
	fprintf(f, ";\n\t\taction = \"%s\";\n", mg_policy_action_name(r->action));
	put_strv(f, "\t\t", "from", &r->from);
	fputs("\t\tto = {\n\t\t\tworkload = ", f);
	put_str(f, r->to_workload);
	fputs(";\n", f);
	put_ports(f, "\t\t\t", "ports", r->ports, r->n_ports);
	fputs("\t\t};\n", f);
	if (r->has_http) {
		fputs("\t\thttp = {\n", f);
		put_strv(f, "\t\t\t", "methods", &r->methods);
		put_strv(f, "\t\t\t", "paths", &r->paths);
		put_strv(f, "\t\t\t", "hosts", &r->hosts);
		fputs("\t\t};\n", f);
	}
	fputs("\t}", f);
}

MG_RESULT mg_policy_normalize(const struct mg_policy_src *src, FILE *f)
{
	fputs("# meshgw policy, normalized: lists sorted (TLS lists keep their preference\n"
	      "# order), defaults explicit, trust bundles inline.\n"
	      "default_action = \"deny\";\n", f);
	put_tds(f, src);
	put_tls(f, &src->tls);
	fputs("workloads = (", f);
	for (uint32_t i = 0; i < src->n_workloads; i++) {
		fputs(i ? ",\n" : "\n", f);
		put_workload(f, &src->workloads[i]);
	}
	fputs("\n);\nservices = (", f);
	for (uint32_t i = 0; i < src->n_services; i++) {
		fputs(i ? ",\n" : "\n", f);
		put_service(f, &src->services[i]);
	}
	fputs("\n);\nrules = (", f);
	for (uint32_t i = 0; i < src->n_rules; i++) {
		fputs(i ? ",\n" : "\n", f);
		put_rule(f, &src->rules[i]);
	}
	fputs("\n);\n", f);
	MG_ENSURE(!ferror(f), IO, "policy: writing the normalized text failed");
	return 0;
}

MG_RESULT mg_policy_normalize_buf(const struct mg_policy_src *src, char **out, size_t *out_len)
{
	FILE *f;
	int rc;

	*out = NULL;
	*out_len = 0;
	f = open_memstream(out, out_len);
	MG_ENSURE(f != NULL, NOMEM, "policy: out of memory");
	rc = mg_policy_normalize(src, f);
	if (fclose(f) != 0 && rc == 0)
		rc = mg_error_set(MG_ERR_NOMEM, "policy: out of memory");
	if (rc < 0) {
		free(*out);
		*out = NULL;
		*out_len = 0;
	}
	return rc;
}

MG_RESULT mg_policy_inline_files(const char *text, size_t len, const char *name,
				 const char *base_dir, char **out, size_t *out_len)
{
	struct mg_policy_src *src;
	int rc;

	*out = NULL;
	*out_len = 0;
	MG_GUARD(mg_policy_parse(text, len, name, base_dir ? base_dir : ".", &src));
	rc = mg_policy_normalize_buf(src, out, out_len);
	mg_policy_src_free(src);
	return rc;
}
