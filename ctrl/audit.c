/* SPDX-License-Identifier: BSD-3-Clause */
/* The hash-chained audit log (audit.h): appending records, signed checkpoints,
 * opening an existing log, and the verifier behind `meshctl audit verify`. */
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "filehash.h"
#include "fsutil.h"
#include "snapshot.h"

#define HEX64 64
#define HASH_SUFFIX_LEN (6 + HEX64) /* " hash=" + hex */
#define TIME_LEN 20                 /* 2026-11-23T10:00:00Z */
#define GENESIS_FORMAT "mgaudit1"
#define CHECKPOINT_FILE_MAX 1024
#define STATEMENT_FMT "mgaudit checkpoint v1 log=%s index=%llu hash=%s"

struct mg_audit {
	int fd;
	bool failed;           /* an append failed: refuse more (see audit.h) */
	off_t size;            /* file size after the last whole record */
	uint64_t next;         /* index of the next record */
	uint8_t head[32];      /* hash of record next - 1 */
	uint8_t log_id[MG_AUDIT_LOG_ID_LEN];
	bool have_checkpoint;
	uint64_t last_checkpoint;
	struct mg_key *key;    /* node key, or NULL */
	char path[PATH_MAX];
};

const char *mg_audit_fault_name(enum mg_audit_fault f)
{
	static const char *const names[] = {
#define _(sym, name, desc) [MG_AUDIT_##sym] = #name,
		foreach_mg_audit_fault(_)
#undef _
	};

	return (unsigned)f < sizeof(names) / sizeof(names[0]) ? names[f] : "?";
}

/* ---- small text helpers ------------------------------------------------- */

struct tok {
	const char *p;
	size_t n;
};

static bool tok_is(const struct tok *t, const char *s)
{
	return t->n == strlen(s) && !memcmp(t->p, s, t->n);
}

/* Lower-case hex only: the writer's form is the only canonical one. */
static bool unhex(const char *s, size_t n_bytes, uint8_t *out)
{
	for (size_t i = 0; i < 2 * n_bytes; i++) {
		char c = s[i];
		int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;

		if (v < 0)
			return false;
		if (i & 1)
			out[i / 2] = (uint8_t)(out[i / 2] << 4 | v);
		else
			out[i / 2] = (uint8_t)v;
	}
	return true;
}

static bool hex_tok(const struct tok *t, size_t n_bytes, uint8_t *out)
{
	return t->n == 2 * n_bytes && unhex(t->p, n_bytes, out);
}

static bool name_ok(const char *s, size_t n)
{
	if (n == 0 || n > MG_AUDIT_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return false;
	return true;
}

/* Decimal without leading zeros, within u64. */
static bool dec_tok(const struct tok *t, uint64_t *out)
{
	uint64_t x = 0;

	if (t->n == 0 || t->n > 20 || (t->n > 1 && t->p[0] == '0'))
		return false;
	for (size_t i = 0; i < t->n; i++) {
		unsigned d = (unsigned)(t->p[i] - '0');

		if (d > 9 || x > (UINT64_MAX - d) / 10)
			return false;
		x = x * 10 + d;
	}
	*out = x;
	return true;
}

/* Next space-separated token: 1 token, 0 end, -1 empty token (two spaces). */
static int next_tok(const char **p, const char *end, struct tok *t)
{
	const char *s = *p, *e;

	if (s >= end)
		return 0;
	e = memchr(s, ' ', (size_t)(end - s));
	if (!e)
		e = end;
	t->p = s;
	t->n = (size_t)(e - s);
	*p = e < end ? e + 1 : end;
	return t->n ? 1 : -1;
}

static bool time_ok(const struct tok *t)
{
	static const char pat[] = "dddd-dd-ddTdd:dd:ddZ";

	if (t->n != TIME_LEN)
		return false;
	for (size_t i = 0; i < TIME_LEN; i++)
		if (pat[i] == 'd' ? (t->p[i] < '0' || t->p[i] > '9') : t->p[i] != pat[i])
			return false;
	return true;
}

static bool value_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x21 || c > 0x7e)
			return false;
		if (c == '%') {
			if (i + 2 >= n)
				return false;
			for (size_t k = 1; k <= 2; k++)
				if (!((s[i + k] >= '0' && s[i + k] <= '9') ||
				      (s[i + k] >= 'A' && s[i + k] <= 'F')))
					return false;
			i += 2;
		}
	}
	return true;
}

/* ---- one record --------------------------------------------------------- */

struct rec {
	struct tok index, time, type;
	uint64_t idx;
	uint8_t prev[32];
	uint8_t hash[32];
	const char *fields, *canon_end; /* the key=value part of the canonical bytes */
	size_t canon_len;
};

/*
 * Just enough to recompute the hash: the stored hash at the end and prev as
 * the fourth field. Everything else is checked only once the hash matches,
 * so a changed byte anywhere is reported as a changed record.
 */
static bool split_record(const char *line, size_t len, struct rec *r, char *why, size_t wn)
{
	const char *p = line, *end;
	struct tok prev;

	if (len <= HASH_SUFFIX_LEN || memcmp(line + len - HASH_SUFFIX_LEN, " hash=", 6) ||
	    !unhex(line + len - HEX64, 32, r->hash)) {
		snprintf(why, wn, "no hash=<64 hex> at the end of the line");
		return false;
	}
	r->canon_len = len - HASH_SUFFIX_LEN;
	end = line + r->canon_len;
	if (next_tok(&p, end, &r->index) != 1 || next_tok(&p, end, &r->time) != 1 ||
	    next_tok(&p, end, &r->type) != 1 || next_tok(&p, end, &prev) != 1 ||
	    prev.n != 5 + HEX64 || memcmp(prev.p, "prev=", 5) ||
	    !unhex(prev.p + 5, 32, r->prev)) {
		snprintf(why, wn, "no prev=<64 hex> as the fourth field");
		return false;
	}
	r->fields = p;
	r->canon_end = end;
	return true;
}

static bool check_record(const char *line, struct rec *r, char *why, size_t wn)
{
	const char *p = r->fields;
	unsigned n = 0;
	struct tok t;
	int k;

	if (!dec_tok(&r->index, &r->idx) || !time_ok(&r->time) ||
	    !name_ok(r->type.p, r->type.n)) {
		snprintf(why, wn, "bad index, time or type");
		return false;
	}
	if (line[r->canon_len - 1] == ' ') {
		snprintf(why, wn, "trailing space");
		return false;
	}
	while ((k = next_tok(&p, r->canon_end, &t)) == 1) {
		const char *eq = memchr(t.p, '=', t.n);
		size_t kn = eq ? (size_t)(eq - t.p) : 0;

		if (!eq || !name_ok(t.p, kn) || (kn == 4 && !memcmp(t.p, "prev", 4)) ||
		    (kn == 4 && !memcmp(t.p, "hash", 4)) ||
		    !value_ok(eq + 1, t.n - kn - 1) || ++n > MG_AUDIT_MAX_FIELDS) {
			snprintf(why, wn, "bad field '%.*s'", (int)(t.n > 40 ? 40 : t.n), t.p);
			return false;
		}
	}
	if (k < 0) {
		snprintf(why, wn, "two spaces in a row");
		return false;
	}
	return true;
}

/* The raw value of field @p key, if the record has it. */
static bool field(const struct rec *r, const char *key, struct tok *val)
{
	const char *p = r->fields;
	size_t kn = strlen(key);
	struct tok t;

	while (next_tok(&p, r->canon_end, &t) == 1)
		if (t.n > kn && t.p[kn] == '=' && !memcmp(t.p, key, kn)) {
			val->p = t.p + kn + 1;
			val->n = t.n - kn - 1;
			return true;
		}
	return false;
}

static MG_RESULT record_hash(const uint8_t prev[32], const char *canon, size_t n,
			     uint8_t out[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
		 EVP_DigestUpdate(ctx, prev, 32) && EVP_DigestUpdate(ctx, canon, n) &&
		 EVP_DigestFinal_ex(ctx, out, NULL);

	EVP_MD_CTX_free(ctx);
	MG_ENSURE(ok, CRYPTO, "sha256 failed");
	return 0;
}

/* ---- checkpoints -------------------------------------------------------- */

struct checkpoint {
	uint8_t log[MG_AUDIT_LOG_ID_LEN];
	uint64_t index;
	uint8_t hash[32];
	uint8_t key_id[MG_KEY_ID_LEN];
	enum mg_key_alg alg;
	uint8_t sig[MG_KEY_SIG_MAX];
	size_t sig_len;
};

static size_t statement(const struct checkpoint *c, char *buf, size_t size)
{
	char log[2 * MG_AUDIT_LOG_ID_LEN + 1], hash[HEX64 + 1];

	mg_hex(c->log, sizeof(c->log), log);
	mg_hex(c->hash, 32, hash);
	return (size_t)snprintf(buf, size, STATEMENT_FMT, log, (unsigned long long)c->index,
				hash);
}

static bool sig_tok(const struct tok *t, struct checkpoint *c)
{
	if (t->n == 0 || t->n % 2 || t->n / 2 > MG_KEY_SIG_MAX)
		return false;
	c->sig_len = t->n / 2;
	return unhex(t->p, c->sig_len, c->sig);
}

static bool alg_tok(const struct tok *t, enum mg_key_alg *alg)
{
	char name[16];

	if (t->n >= sizeof(name))
		return false;
	memcpy(name, t->p, t->n);
	name[t->n] = '\0';
	if (mg_key_alg_parse(name, alg) < 0) {
		mg_error_clear();
		return false;
	}
	return true;
}

/* Check @p c's signature with @p pub: 0, or -1 with a sentence in @p why. */
static int check_signature(const struct checkpoint *c, const struct mg_key *pub, char *why,
			   size_t wn)
{
	char text[256], id[HEX64 + 1];
	size_t n = statement(c, text, sizeof(text));

	if (memcmp(c->key_id, mg_key_id(pub), MG_KEY_ID_LEN)) {
		mg_hex(c->key_id, MG_KEY_ID_LEN, id);
		snprintf(why, wn, "signed by key %.16s..., not the given key", id);
		return -1;
	}
	if (c->alg != mg_key_get_alg(pub) ||
	    mg_key_verify(pub, (const uint8_t *)text, n, c->sig, c->sig_len) < 0) {
		mg_error_clear();
		snprintf(why, wn, "checkpoint signature does not verify");
		return -1;
	}
	return 0;
}

/* The checkpoint a "checkpoint" record states, its head being the record before. */
static bool checkpoint_of(const struct rec *r, struct checkpoint *c)
{
	struct tok log, head, key, alg, sig;

	if (!field(r, "log", &log) || !field(r, "head", &head) || !field(r, "key", &key) ||
	    !field(r, "alg", &alg) || !field(r, "sig", &sig))
		return false;
	memcpy(c->hash, r->prev, 32);
	return hex_tok(&log, MG_AUDIT_LOG_ID_LEN, c->log) && dec_tok(&head, &c->index) &&
	       hex_tok(&key, MG_KEY_ID_LEN, c->key_id) && alg_tok(&alg, &c->alg) &&
	       sig_tok(&sig, c);
}

static MG_RESULT read_checkpoint_file(const char *path, struct checkpoint *c)
{
	static const char *const keys[] = { "mgaudit-checkpoint", "log=", "index=",
					    "hash=", "key=", "alg=", "sig=" };
	struct tok t[7], v[7], extra;
	uint8_t *buf = NULL;
	const char *p, *end;
	size_t len;
	bool ok = true;

	MG_GUARD(mg_snapshot_read_file(path, CHECKPOINT_FILE_MAX, &buf, &len));
	p = (const char *)buf;
	end = p + len;
	if (len && end[-1] == '\n')
		end--;
	for (int i = 0; i < 7 && ok; i++) {
		size_t kn = strlen(keys[i]);

		ok = next_tok(&p, end, &t[i]) == 1 && t[i].n >= kn &&
		     !memcmp(t[i].p, keys[i], kn) && (i > 0 || t[i].n == kn);
		v[i].p = t[i].p + kn;
		v[i].n = ok ? t[i].n - kn : 0;
	}
	ok = ok && next_tok(&p, end, &extra) == 0 &&
	     hex_tok(&v[1], MG_AUDIT_LOG_ID_LEN, c->log) && dec_tok(&v[2], &c->index) &&
	     hex_tok(&v[3], 32, c->hash) && hex_tok(&v[4], MG_KEY_ID_LEN, c->key_id) &&
	     alg_tok(&v[5], &c->alg) && sig_tok(&v[6], c);
	free(buf);
	MG_ENSURE(ok, PROTO_FORMAT, "%s: not a checkpoint file (mgaudit-checkpoint log= "
		  "index= hash= key= alg= sig=)", path);
	return 0;
}

/* ---- reading the log ---------------------------------------------------- */

struct reader {
	int fd;
	bool eof;
	size_t start, end;
	char buf[2 * MG_AUDIT_LINE_MAX];
};

struct line {
	const char *p;
	size_t n;
	bool cut;      /* the file ended without a newline */
	bool too_long; /* longer than MG_AUDIT_LINE_MAX */
};

/* 1: a line; 0: end of file; -1: read error. */
static int next_line(struct reader *rd, struct line *l)
{
	for (;;) {
		size_t have = rd->end - rd->start;
		char *nl = memchr(rd->buf + rd->start, '\n', have);
		ssize_t n;

		l->p = rd->buf + rd->start;
		l->cut = l->too_long = false;
		if (nl) {
			l->n = (size_t)(nl - l->p);
			l->too_long = l->n + 1 > MG_AUDIT_LINE_MAX;
			rd->start += l->n + 1;
			return 1;
		}
		if (have >= MG_AUDIT_LINE_MAX || (rd->eof && have)) {
			/* No newline within the bound, or none before the end. */
			l->n = have;
			l->too_long = have >= MG_AUDIT_LINE_MAX;
			l->cut = !l->too_long;
			rd->start = rd->end;
			return 1;
		}
		if (rd->eof)
			return 0;
		memmove(rd->buf, rd->buf + rd->start, have);
		rd->start = 0;
		rd->end = have;
		do
			n = read(rd->fd, rd->buf + rd->end, sizeof(rd->buf) - rd->end);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return -1;
		rd->eof = n == 0;
		rd->end += (size_t)n;
	}
}

struct walk {
	struct mg_audit_report *r;
	const struct mg_key *pub;
	const struct checkpoint *ext; /* external checkpoint, or NULL */
	uint64_t e;                   /* the index the next record must have */
	uint8_t prev[32];             /* the hash it must chain to */
};

static int fault(struct walk *w, enum mg_audit_fault f, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fault(struct walk *w, enum mg_audit_fault f, const char *fmt, ...)
{
	va_list ap;

	w->r->fault = f;
	w->r->bad_index = w->e;
	va_start(ap, fmt);
	vsnprintf(w->r->why, sizeof(w->r->why), fmt, ap);
	va_end(ap);
	return -1;
}

/* Record @p idx sits where w->e belongs: is w->e further down (reorder) or gone? */
static int misplaced(struct walk *w, struct reader *rd, uint64_t idx)
{
	struct line l;
	struct tok t;
	uint64_t later;

	if (idx < w->e)
		return fault(w, MG_AUDIT_REORDER,
			     "record %llu appears where %llu belongs (out of order or repeated)",
			     (unsigned long long)idx, (unsigned long long)w->e);
	while (next_line(rd, &l) == 1 && !l.too_long) {
		const char *p = l.p;

		if (next_tok(&p, l.p + l.n, &t) == 1 && dec_tok(&t, &later) && later == w->e)
			return fault(w, MG_AUDIT_REORDER,
				     "record %llu appears before record %llu (out of order)",
				     (unsigned long long)idx, (unsigned long long)w->e);
	}
	if (idx == w->e + 1)
		return fault(w, MG_AUDIT_GAP, "record %llu is missing",
			     (unsigned long long)w->e);
	return fault(w, MG_AUDIT_GAP, "records %llu..%llu are missing",
		     (unsigned long long)w->e, (unsigned long long)idx - 1);
}

static int check_genesis(struct walk *w, const struct rec *rec)
{
	struct tok fmt, log;

	if (!tok_is(&rec->type, "genesis") || !field(rec, "format", &fmt) ||
	    !tok_is(&fmt, GENESIS_FORMAT) || !field(rec, "log", &log) ||
	    !hex_tok(&log, MG_AUDIT_LOG_ID_LEN, w->r->log_id))
		return fault(w, MG_AUDIT_MALFORMED,
			     "record 0 is not a genesis record (format=" GENESIS_FORMAT
			     " log=<32 hex>)");
	return 0;
}

static int check_checkpoint_record(struct walk *w, const struct rec *rec)
{
	struct checkpoint c;
	char why[128];

	if (!checkpoint_of(rec, &c))
		return fault(w, MG_AUDIT_MALFORMED, "checkpoint without log, head, key, alg, sig");
	if (memcmp(c.log, w->r->log_id, MG_AUDIT_LOG_ID_LEN) || c.index + 1 != w->e)
		return fault(w, MG_AUDIT_CHECKPOINT,
			     "checkpoint names another log or head %llu (must be %llu)",
			     (unsigned long long)c.index, (unsigned long long)w->e - 1);
	if (w->pub && check_signature(&c, w->pub, why, sizeof(why)) < 0)
		return fault(w, MG_AUDIT_CHECKPOINT, "%s", why);
	w->r->n_checkpoints++;
	w->r->last_checkpoint = w->e;
	return 0;
}

/* One line at index w->e: every check, in the order that names the first fault. */
static int check_line(struct walk *w, struct reader *rd, const struct line *l)
{
	uint8_t h[32];
	struct rec rec;
	char why[128];

	if (l->too_long)
		return fault(w, MG_AUDIT_MALFORMED, "line longer than %d bytes",
			     MG_AUDIT_LINE_MAX);
	if (l->cut)
		return fault(w, MG_AUDIT_TRUNCATED, "the last record is cut short (no newline)");
	if (!split_record(l->p, l->n, &rec, why, sizeof(why)))
		return fault(w, MG_AUDIT_MALFORMED, "%s", why);
	if (record_hash(rec.prev, l->p, rec.canon_len, h) < 0)
		return fault(w, MG_AUDIT_MALFORMED, "%s", mg_errmsg());
	if (CRYPTO_memcmp(h, rec.hash, 32))
		return fault(w, MG_AUDIT_ALTERED, "hash mismatch: the record's bytes were changed");
	if (!check_record(l->p, &rec, why, sizeof(why)))
		return fault(w, MG_AUDIT_MALFORMED, "%s", why);
	if (rec.idx != w->e)
		return misplaced(w, rd, rec.idx);
	if (memcmp(rec.prev, w->prev, 32) && w->e == 0)
		return fault(w, MG_AUDIT_BROKEN_LINK, "record 0 must chain to zeros");
	if (memcmp(rec.prev, w->prev, 32))
		return fault(w, MG_AUDIT_BROKEN_LINK, "prev is not the hash of record %llu",
			     (unsigned long long)w->e - 1);
	if (w->e == 0 && check_genesis(w, &rec) < 0)
		return -1;
	if (w->e == 0 && w->ext && memcmp(w->ext->log, w->r->log_id, MG_AUDIT_LOG_ID_LEN))
		return fault(w, MG_AUDIT_CHECKPOINT, "the checkpoint file is for another log");
	if (w->e > 0 && tok_is(&rec.type, "genesis"))
		return fault(w, MG_AUDIT_MALFORMED, "a second genesis record");
	if (tok_is(&rec.type, "checkpoint") && check_checkpoint_record(w, &rec) < 0)
		return -1;
	if (w->ext && w->ext->index == w->e && memcmp(w->ext->hash, rec.hash, 32))
		return fault(w, MG_AUDIT_ALTERED,
			     "record differs from the checkpoint file: the chain up to "
			     "here was rewritten");
	memcpy(w->prev, rec.hash, 32);
	memcpy(w->r->head_hash, rec.hash, 32);
	w->r->head_index = w->e;
	w->r->n_records++;
	w->e++;
	return 0;
}

static int walk_log(struct walk *w, int fd)
{
	struct reader *rd = calloc(1, sizeof(*rd));
	struct line l;
	int n, rc = 0;

	MG_ENSURE(rd, NOMEM, "out of memory");
	rd->fd = fd;
	while (rc == 0 && (n = next_line(rd, &l)) == 1)
		rc = check_line(w, rd, &l);
	if (rc == 0 && n < 0)
		rc = mg_error_set(MG_ERR_IO, "read: %s", strerror(errno));
	else if (rc == 0 && w->e == 0)
		rc = fault(w, MG_AUDIT_TRUNCATED, "empty log: no genesis record");
	else if (rc == 0 && w->ext && w->ext->index >= w->e)
		rc = fault(w, MG_AUDIT_TRUNCATED,
			   "the log ends at index %llu, the checkpoint covers index %llu",
			   (unsigned long long)w->e - 1, (unsigned long long)w->ext->index);
	free(rd);
	return rc;
}

static MG_RESULT ext_checkpoint(const char *path, const struct mg_key *pub,
				struct checkpoint *c, struct walk *w)
{
	char why[128];

	MG_GUARD(read_checkpoint_file(path, c));
	w->r->have_external = true;
	w->r->external_index = c->index;
	if (pub) {
		/* A fault here is about the checkpoint's head. */
		w->e = c->index;
		if (check_signature(c, pub, why, sizeof(why)) < 0)
			return fault(w, MG_AUDIT_CHECKPOINT, "%s: %s", path, why);
		w->r->external_signed = true;
		w->e = 0;
	}
	w->ext = c;
	return 0;
}

MG_RESULT mg_audit_verify(const char *path, const struct mg_key *pub,
			  const char *checkpoint_path, const struct mg_key *checkpoint_pub,
			  struct mg_audit_report *r)
{
	struct walk w = { .r = r, .pub = pub };
	struct checkpoint ext;
	int fd = -1, rc = 0;

	memset(r, 0, sizeof(*r));
	r->checkpoints_signed = pub != NULL;
	if (checkpoint_path)
		rc = ext_checkpoint(checkpoint_path, checkpoint_pub ? checkpoint_pub : pub,
				    &ext, &w);
	if (rc == 0) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		MG_ENSURE(fd >= 0, IO, "%s: %s", path, strerror(errno));
		rc = walk_log(&w, fd);
		close(fd);
	}
	if (rc == 0)
		return 0;
	if (r->fault == MG_AUDIT_OK) /* not the chain: i/o, memory, unreadable checkpoint */
		return -1;
	return mg_error_set(r->fault == MG_AUDIT_CHECKPOINT ? MG_ERR_PROTO_SIGNATURE
							    : MG_ERR_PROTO_FORMAT,
			    "%s: index %llu: %s: %s", path, (unsigned long long)r->bad_index,
			    mg_audit_fault_name(r->fault), r->why);
}

/* ---- writing ------------------------------------------------------------ */

struct sb {
	char *p;
	size_t n, cap;
	bool over;
};

static void put(struct sb *b, const char *s, size_t n)
{
	if (b->over || n > b->cap - b->n) {
		b->over = true;
		return;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
}

static void put_value(struct sb *b, const char *v)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *v; v++) {
		unsigned char c = (unsigned char)*v;
		char esc[3] = { '%', hex[c >> 4], hex[c & 15] };

		if (c < 0x21 || c > 0x7e || c == '%')
			put(b, esc, 3);
		else
			put(b, (const char *)&c, 1);
	}
}

static void now_rfc3339(char out[TIME_LEN + 1])
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, TIME_LEN + 1, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static MG_RESULT check_names(const char *type, const char *const *kv, size_t n, bool internal)
{
	MG_ENSURE(n <= MG_AUDIT_MAX_FIELDS, USAGE, "more than %d fields", MG_AUDIT_MAX_FIELDS);
	MG_ENSURE(name_ok(type, strlen(type)), USAGE, "bad record type '%s'", type);
	MG_ENSURE(internal || (strcmp(type, "genesis") && strcmp(type, "checkpoint")), USAGE,
		  "record type '%s' is reserved", type);
	for (size_t i = 0; i < n; i++) {
		const char *k = kv[2 * i];

		MG_ENSURE(k && kv[2 * i + 1] && name_ok(k, strlen(k)) && strcmp(k, "prev") &&
				  strcmp(k, "hash"),
			  USAGE, "bad field name '%s' in a %s record", k ? k : "(null)", type);
	}
	return 0;
}

/* The whole line for record @p index into @p b, and its hash into @p hash. */
static MG_RESULT format_record(struct sb *b, uint64_t index, const uint8_t prev[32],
			       const char *type, const char *const *kv, size_t n,
			       uint8_t hash[32])
{
	char head[64 + TIME_LEN], t[TIME_LEN + 1], hex[HEX64 + 1];

	now_rfc3339(t);
	put(b, head, (size_t)snprintf(head, sizeof(head), "%llu %s ",
				      (unsigned long long)index, t));
	put(b, type, strlen(type));
	mg_hex(prev, 32, hex);
	put(b, " prev=", 6);
	put(b, hex, HEX64);
	for (size_t i = 0; i < n; i++) {
		put(b, " ", 1);
		put(b, kv[2 * i], strlen(kv[2 * i]));
		put(b, "=", 1);
		put_value(b, kv[2 * i + 1]);
	}
	MG_ENSURE(!b->over && b->n + HASH_SUFFIX_LEN + 1 <= b->cap, USAGE,
		  "%s record longer than %d bytes", type, MG_AUDIT_LINE_MAX);
	MG_GUARD(record_hash(prev, b->p, b->n, hash));
	mg_hex(hash, 32, hex);
	put(b, " hash=", 6);
	put(b, hex, HEX64);
	put(b, "\n", 1);
	return 0;
}

static MG_RESULT append(struct mg_audit *log, const char *type, const char *const *kv,
			size_t n, bool internal)
{
	char line[MG_AUDIT_LINE_MAX];
	struct sb b = { .p = line, .cap = sizeof(line) };
	uint8_t hash[32];
	ssize_t w;

	MG_ENSURE(!log->failed, IO, "%s: an earlier append failed; the log is closed to "
		  "writes", log->path);
	MG_GUARD(check_names(type, kv, n, internal));
	MG_GUARD(format_record(&b, log->next, log->head, type, kv, n, hash));
	do
		w = write(log->fd, line, b.n);
	while (w < 0 && errno == EINTR);
	if (w != (ssize_t)b.n || fdatasync(log->fd) != 0) {
		int err = w < 0 ? errno : w != (ssize_t)b.n ? ENOSPC : errno;

		/* Cut a torn record off so the file still ends on a whole one. */
		if (w > 0 && w != (ssize_t)b.n && ftruncate(log->fd, log->size) == 0)
			(void)fdatasync(log->fd);
		log->failed = true;
		return mg_error_set(MG_ERR_IO, "%s: append: %s", log->path, strerror(err));
	}
	log->size += (off_t)b.n;
	memcpy(log->head, hash, 32);
	log->next++;
	return 0;
}

MG_RESULT mg_audit_appendv(struct mg_audit *log, const char *type, const char *const *kv,
			   size_t n_pairs)
{
	return append(log, type, kv, n_pairs, false);
}

MG_RESULT mg_audit_append(struct mg_audit *log, const char *type, ...)
{
	const char *kv[2 * MG_AUDIT_MAX_FIELDS + 2];
	size_t n = 0;
	const char *s;
	va_list ap;

	va_start(ap, type);
	while ((s = va_arg(ap, const char *)) && n < 2 * MG_AUDIT_MAX_FIELDS + 2)
		kv[n++] = s;
	va_end(ap);
	MG_ENSURE(n % 2 == 0, USAGE, "%s record: a key without a value", type);
	return append(log, type, kv, n / 2, false);
}

MG_RESULT mg_audit_checkpoint_path(const char *log_path, char *buf, size_t size)
{
	MG_ENSURE((size_t)snprintf(buf, size, "%s" MG_AUDIT_CHECKPOINT_SUFFIX, log_path) < size,
		  IO, "%s: path too long", log_path);
	return 0;
}

/* Sign @p c (log, index, hash set) with @p key. */
static MG_RESULT sign_checkpoint(struct checkpoint *c, const struct mg_key *key)
{
	char text[256];
	size_t n = statement(c, text, sizeof(text));

	memcpy(c->key_id, mg_key_id(key), MG_KEY_ID_LEN);
	c->alg = mg_key_get_alg(key);
	return mg_key_sign(key, (const uint8_t *)text, n, c->sig, &c->sig_len);
}

static MG_RESULT write_checkpoint_file(const char *path, const struct checkpoint *c)
{
	char log[2 * MG_AUDIT_LOG_ID_LEN + 1], hash[HEX64 + 1], key[HEX64 + 1];
	char sig[2 * MG_KEY_SIG_MAX + 1], text[CHECKPOINT_FILE_MAX];
	int n;

	mg_hex(c->log, sizeof(c->log), log);
	mg_hex(c->hash, 32, hash);
	mg_hex(c->key_id, MG_KEY_ID_LEN, key);
	mg_hex(c->sig, c->sig_len, sig);
	n = snprintf(text, sizeof(text),
		     "mgaudit-checkpoint log=%s index=%llu hash=%s key=%s alg=%s sig=%s\n", log,
		     (unsigned long long)c->index, hash, key, mg_key_alg_name(c->alg), sig);
	return mg_snapshot_write_file(path, (const uint8_t *)text, (size_t)n);
}

MG_RESULT mg_audit_checkpoint(struct mg_audit *log)
{
	char logx[2 * MG_AUDIT_LOG_ID_LEN + 1], head[24], key[HEX64 + 1];
	char sig[2 * MG_KEY_SIG_MAX + 1], path[PATH_MAX];
	const char *kv[10] = { "log", logx, "head", head, "key", key, "alg", NULL, "sig", sig };
	struct checkpoint c;

	MG_ENSURE(log->key, USAGE, "%s: checkpoints need the node key", log->path);
	memcpy(c.log, log->log_id, sizeof(c.log));
	c.index = log->next - 1;
	memcpy(c.hash, log->head, 32);
	MG_GUARD(sign_checkpoint(&c, log->key));
	mg_hex(c.log, sizeof(c.log), logx);
	snprintf(head, sizeof(head), "%llu", (unsigned long long)c.index);
	mg_hex(c.key_id, MG_KEY_ID_LEN, key);
	kv[7] = mg_key_alg_name(c.alg);
	mg_hex(c.sig, c.sig_len, sig);
	MG_GUARD(append(log, "checkpoint", kv, 5, true));
	log->have_checkpoint = true;
	log->last_checkpoint = log->next - 1;
	MG_GUARD(mg_audit_checkpoint_path(log->path, path, sizeof(path)));
	return write_checkpoint_file(path, &c);
}

void mg_audit_head(const struct mg_audit *log, uint64_t *index, uint8_t hash[32])
{
	*index = log->next - 1;
	memcpy(hash, log->head, 32);
}

bool mg_audit_last_checkpoint(const struct mg_audit *log, uint64_t *index)
{
	*index = log->last_checkpoint;
	return log->have_checkpoint;
}

MG_RESULT mg_audit_export_checkpoint(const char *log_path, const struct mg_key *key,
				     const char *out_path, struct mg_audit_report *r)
{
	struct checkpoint c;

	MG_GUARD(mg_audit_verify(log_path, NULL, NULL, NULL, r));
	memcpy(c.log, r->log_id, sizeof(c.log));
	c.index = r->head_index;
	memcpy(c.hash, r->head_hash, 32);
	MG_GUARD(sign_checkpoint(&c, key));
	return write_checkpoint_file(out_path, &c);
}

/* ---- opening ------------------------------------------------------------ */

/*
 * A new log appears whole or not at all: genesis is written to a temporary
 * file, synced, then linked to @p path (link never replaces, so two racing
 * creators cannot both win). A crash leaves no empty log behind.
 */
static MG_RESULT create_log(const char *path)
{
	struct mg_audit tmp = { .fd = -1 };
	char log[2 * MG_AUDIT_LOG_ID_LEN + 1];
	const char *kv[4] = { "format", GENESIS_FORMAT, "log", log };
	char tpath[PATH_MAX];
	int rc = 0;

	MG_ENSURE(snprintf(tpath, sizeof(tpath), "%s.tmp.XXXXXX", path) < (int)sizeof(tpath),
		  IO, "%s: path too long", path);
	MG_ENSURE(RAND_bytes(tmp.log_id, sizeof(tmp.log_id)) == 1, CRYPTO, "no randomness");
	mg_hex(tmp.log_id, sizeof(tmp.log_id), log);
	tmp.fd = mkostemp(tpath, O_APPEND | O_CLOEXEC);
	MG_ENSURE(tmp.fd >= 0, IO, "%s: %s", tpath, strerror(errno));
	snprintf(tmp.path, sizeof(tmp.path), "%s", tpath);
	MG_ENSURE_GOTO(fchmod(tmp.fd, 0640) == 0, out, IO, "%s: chmod: %s", tpath,
		       strerror(errno));
	MG_GUARD_GOTO(rc = append(&tmp, "genesis", kv, 2, true), out);
	if (link(tpath, path) != 0 && errno != EEXIST)
		rc = mg_error_set(MG_ERR_IO, "%s: link: %s", path, strerror(errno));
	else
		rc = mg_fsync_dir_of(path);
out:
	close(tmp.fd);
	unlink(tpath);
	return rc;
}

static MG_RESULT load_head(struct mg_audit *log)
{
	struct mg_audit_report r;
	char cp[PATH_MAX];
	struct stat st;

	MG_GUARD(mg_audit_checkpoint_path(log->path, cp, sizeof(cp)));
	MG_GUARD(mg_audit_verify(log->path, log->key, stat(cp, &st) == 0 ? cp : NULL, NULL,
				 &r));
	MG_ENSURE(fstat(log->fd, &st) == 0, IO, "%s: %s", log->path, strerror(errno));
	log->size = st.st_size;
	log->next = r.head_index + 1;
	memcpy(log->head, r.head_hash, 32);
	memcpy(log->log_id, r.log_id, sizeof(log->log_id));
	log->have_checkpoint = r.n_checkpoints > 0;
	log->last_checkpoint = r.last_checkpoint;
	return 0;
}

/*
 * A record is one write(2), but a power cut (or a full disk) can still leave
 * the start of one without its newline at the end of the file. That tail was
 * never a record: cut the file back to its last newline and say how many
 * bytes went, so the caller can record the repair. Whole records are never
 * cut: removing one is a truncation that checkpoints expose.
 */
static MG_RESULT cut_torn_tail(const struct mg_audit *log, off_t *cut)
{
	char buf[MG_AUDIT_LINE_MAX];
	struct stat st;
	off_t start;
	ssize_t n;
	int fd = -1, rc = 0;

	*cut = 0;
	MG_ENSURE(fstat(log->fd, &st) == 0, IO, "%s: %s", log->path, strerror(errno));
	if (st.st_size == 0)
		return 0;
	fd = open(log->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	MG_ENSURE_GOTO(fd >= 0, out, IO, "%s: %s", log->path, strerror(errno));
	start = st.st_size > (off_t)sizeof(buf) ? st.st_size - (off_t)sizeof(buf) : 0;
	n = pread(fd, buf, (size_t)(st.st_size - start), start);
	MG_ENSURE_GOTO(n == st.st_size - start, out, IO, "%s: read: %s", log->path,
		       strerror(errno));
	if (buf[n - 1] == '\n')
		goto out;
	for (ssize_t i = n - 1; i >= 0; i--) {
		if (buf[i] != '\n')
			continue;
		MG_ENSURE_GOTO(ftruncate(log->fd, start + i + 1) == 0 && fsync(log->fd) == 0, out,
			       IO, "%s: cutting a torn record: %s", log->path, strerror(errno));
		*cut = n - (i + 1);
		break;
	}
	/* No newline in the last line's reach: not a torn tail; verification says what. */
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

MG_RESULT mg_audit_open(const char *path, const char *node_key_path, struct mg_audit **out)
{
	off_t cut = 0;
	struct mg_audit *log = calloc(1, sizeof(*log));
	int rc = 0;

	MG_ENSURE(log, NOMEM, "out of memory");
	log->fd = -1;
	MG_ENSURE_GOTO(snprintf(log->path, sizeof(log->path), "%s", path) <
			       (int)sizeof(log->path),
		       out, IO, "%s: path too long", path);
	if (node_key_path)
		MG_GUARD_GOTO(rc = mg_key_load_private(node_key_path, &log->key), out);
	if (access(path, F_OK) != 0 && errno == ENOENT)
		MG_GUARD_GOTO(rc = create_log(path), out);
	log->fd = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
	MG_ENSURE_GOTO(log->fd >= 0, out, IO, "%s: %s", path, strerror(errno));
	/* One writer: a second one would chain from a head it does not know. */
	MG_ENSURE_GOTO(flock(log->fd, LOCK_EX | LOCK_NB) == 0, out, IO,
		       "%s: locked by another writer (%s)", path, strerror(errno));
	MG_GUARD_GOTO(rc = cut_torn_tail(log, &cut), out);
	MG_GUARD_GOTO(rc = load_head(log), out);
	if (cut > 0) {
		char bytes[24];

		snprintf(bytes, sizeof(bytes), "%lld", (long long)cut);
		MG_GUARD_GOTO(rc = mg_audit_append(log, "audit.torn_record_cut", "bytes", bytes,
						   NULL), out);
	}
	*out = log;
	log = NULL;
out:
	mg_audit_close(log);
	return rc;
}

void mg_audit_close(struct mg_audit *log)
{
	if (!log)
		return;
	if (log->fd >= 0)
		close(log->fd);
	mg_key_free(log->key);
	free(log);
}
