/* SPDX-License-Identifier: BSD-3-Clause */
#include "snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "filehash.h"
#include "fsutil.h"

/* Header field offsets (snapshot.h has the table). */
enum {
	OFF_MAGIC = 0,
	OFF_FORMAT = 8,
	OFF_HLEN = 10,
	OFF_FLAGS = 12,
	OFF_VERSION = 16,
	OFF_NOT_BEFORE = 24,
	OFF_EXPIRES = 32,
	OFF_PAYLOAD_LEN = 40,
	OFF_PAYLOAD_SHA = 48,
};

/* Per signature entry, before the signature bytes: key id, algorithm, length. */
#define ENTRY_HEAD (MG_KEY_ID_LEN + 1 + 2)

static uint64_t get_be(const uint8_t *p, unsigned n)
{
	uint64_t x = 0;

	for (unsigned i = 0; i < n; i++)
		x = x << 8 | p[i];
	return x;
}

static void put_be(uint8_t *p, uint64_t x, unsigned n)
{
	for (unsigned i = n; i-- > 0; x >>= 8)
		p[i] = (uint8_t)x;
}

static MG_RESULT sha256(const uint8_t *p, size_t n, uint8_t out[32])
{
	MG_ENSURE(EVP_Digest(p, n, out, NULL, EVP_sha256(), NULL) == 1, CRYPTO,
		  "sha256 failed");
	return 0;
}

/* A signature length the algorithm can produce (DER ECDSA P-256: 8..72). */
static MG_RESULT check_sig_shape(uint8_t alg, size_t len)
{
	if (alg == MG_KEY_ED25519)
		MG_ENSURE(len == 64, PROTO_FORMAT,
			  "ed25519 signature of %zu bytes (must be 64)", len);
	else if (alg == MG_KEY_P256)
		MG_ENSURE(len >= 8 && len <= MG_KEY_SIG_MAX, PROTO_FORMAT,
			  "p256 signature of %zu bytes (must be 8..%d)", len, MG_KEY_SIG_MAX);
	else
		return mg_error_set(MG_ERR_PROTO_FORMAT, "unknown signature algorithm %u",
				    alg);
	return 0;
}

MG_RESULT mg_snapshot_build(const uint8_t *payload, size_t payload_len,
			    const struct mg_snapshot_meta *meta, uint8_t **out, size_t *out_len)
{
	size_t len;
	uint8_t *b;

	MG_ENSURE(meta->version >= 1, USAGE, "policy version must be at least 1");
	MG_ENSURE(meta->expires > meta->not_before, USAGE,
		  "expires (%llu) must be later than not-before (%llu)",
		  (unsigned long long)meta->expires, (unsigned long long)meta->not_before);
	MG_ENSURE(payload_len <= SIZE_MAX - MG_SNAPSHOT_OVERHEAD, IO_TOO_BIG,
		  "payload too large");
	len = MG_SNAPSHOT_OVERHEAD + payload_len;
	b = calloc(1, len);
	MG_ENSURE(b, NOMEM, "out of memory for a %zu-byte snapshot", len);
	memcpy(b + OFF_MAGIC, MG_SNAPSHOT_MAGIC, 8);
	put_be(b + OFF_FORMAT, MG_SNAPSHOT_FORMAT, 2);
	put_be(b + OFF_HLEN, MG_SNAPSHOT_HEADER_LEN, 2);
	put_be(b + OFF_VERSION, meta->version, 8);
	put_be(b + OFF_NOT_BEFORE, meta->not_before, 8);
	put_be(b + OFF_EXPIRES, meta->expires, 8);
	put_be(b + OFF_PAYLOAD_LEN, payload_len, 8);
	if (payload_len)
		memcpy(b + MG_SNAPSHOT_HEADER_LEN, payload, payload_len);
	if (sha256(payload_len ? payload : b, payload_len, b + OFF_PAYLOAD_SHA) < 0) {
		free(b);
		return -1;
	}
	/* The signature count (last two bytes) stays 0: built unsigned. */
	*out = b;
	*out_len = len;
	return 0;
}

static MG_RESULT parse_header(const uint8_t *b, size_t len, struct mg_snapshot_view *v)
{
	uint64_t plen;

	MG_ENSURE(len >= 8, PROTO_FORMAT, "truncated: %zu bytes, no room for the magic", len);
	MG_ENSURE(!memcmp(b + OFF_MAGIC, MG_SNAPSHOT_MAGIC, 8), PROTO_FORMAT,
		  "bad magic: not a meshgw snapshot");
	MG_ENSURE(len >= MG_SNAPSHOT_HEADER_LEN, PROTO_FORMAT,
		  "truncated header: %zu of %d bytes", len, MG_SNAPSHOT_HEADER_LEN);
	MG_ENSURE(get_be(b + OFF_FORMAT, 2) == MG_SNAPSHOT_FORMAT, PROTO_FORMAT,
		  "unsupported format version %u (this build reads %d)",
		  (unsigned)get_be(b + OFF_FORMAT, 2), MG_SNAPSHOT_FORMAT);
	MG_ENSURE(get_be(b + OFF_HLEN, 2) == MG_SNAPSHOT_HEADER_LEN, PROTO_FORMAT,
		  "header length %u (must be %d)", (unsigned)get_be(b + OFF_HLEN, 2),
		  MG_SNAPSHOT_HEADER_LEN);
	MG_ENSURE(get_be(b + OFF_FLAGS, 4) == 0, PROTO_FORMAT,
		  "reserved flags 0x%08x set", (unsigned)get_be(b + OFF_FLAGS, 4));
	v->meta.version = get_be(b + OFF_VERSION, 8);
	v->meta.not_before = get_be(b + OFF_NOT_BEFORE, 8);
	v->meta.expires = get_be(b + OFF_EXPIRES, 8);
	MG_ENSURE(v->meta.version >= 1, PROTO_FORMAT, "policy version 0");
	MG_ENSURE(v->meta.expires > v->meta.not_before, PROTO_FORMAT,
		  "expires (%llu) not after not-before (%llu)",
		  (unsigned long long)v->meta.expires, (unsigned long long)v->meta.not_before);
	plen = get_be(b + OFF_PAYLOAD_LEN, 8);
	/* Compare without adding, so a huge announced length cannot wrap. */
	MG_ENSURE(plen <= len - MG_SNAPSHOT_HEADER_LEN, PROTO_FORMAT,
		  "truncated payload: header announces %llu bytes, %zu follow",
		  (unsigned long long)plen, len - MG_SNAPSHOT_HEADER_LEN);
	v->payload = b + MG_SNAPSHOT_HEADER_LEN;
	v->payload_len = (size_t)plen;
	v->payload_sha256 = b + OFF_PAYLOAD_SHA;
	v->signed_len = MG_SNAPSHOT_HEADER_LEN + (size_t)plen;
	return 0;
}

static MG_RESULT parse_sigs(const uint8_t *b, size_t len, struct mg_snapshot_view *v)
{
	size_t off = v->signed_len;
	unsigned count;

	MG_ENSURE(len - off >= 2, PROTO_FORMAT, "truncated: no signature count");
	count = (unsigned)get_be(b + off, 2);
	off += 2;
	MG_ENSURE(count <= MG_SNAPSHOT_MAX_SIGS, PROTO_FORMAT,
		  "%u signatures (at most %d)", count, MG_SNAPSHOT_MAX_SIGS);
	for (unsigned i = 0; i < count; i++) {
		struct mg_snapshot_sig *s = &v->sigs[i];

		MG_ENSURE(len - off >= ENTRY_HEAD, PROTO_FORMAT,
			  "truncated signature entry %u", i);
		memcpy(s->key_id, b + off, MG_KEY_ID_LEN);
		s->alg = b[off + MG_KEY_ID_LEN];
		s->len = (uint16_t)get_be(b + off + MG_KEY_ID_LEN + 1, 2);
		off += ENTRY_HEAD;
		if (check_sig_shape(s->alg, s->len) < 0) {
			char why[128];

			snprintf(why, sizeof(why), "%s", mg_errmsg());
			return mg_error_set(MG_ERR_PROTO_FORMAT, "signature entry %u: %s", i,
					    why);
		}
		MG_ENSURE(len - off >= s->len, PROTO_FORMAT,
			  "truncated signature %u: %u bytes announced, %zu follow", i,
			  (unsigned)s->len, len - off);
		s->bytes = b + off;
		off += s->len;
	}
	MG_ENSURE(off == len, PROTO_FORMAT, "%zu trailing bytes after the signatures",
		  len - off);
	v->n_sigs = count;
	return 0;
}

MG_RESULT mg_snapshot_parse(const uint8_t *buf, size_t len, size_t cap,
			    struct mg_snapshot_view *v)
{
	uint8_t digest[32];

	/* The cap comes first: nothing of an oversized input is looked at. */
	MG_ENSURE(len <= cap, IO_TOO_BIG, "snapshot of %zu bytes exceeds the cap of %zu",
		  len, cap);
	memset(v, 0, sizeof(*v));
	MG_GUARD(parse_header(buf, len, v));
	MG_GUARD(parse_sigs(buf, len, v));
	/* Hash only once the framing is known to be exact. */
	MG_GUARD(sha256(v->payload, v->payload_len, digest));
	MG_ENSURE(!CRYPTO_memcmp(digest, v->payload_sha256, 32), PROTO_FORMAT,
		  "payload SHA-256 does not match the header");
	v->bytes = buf;
	v->len = len;
	return 0;
}

MG_RESULT mg_snapshot_digest(const struct mg_snapshot_view *v,
			     uint8_t out[MG_SNAPSHOT_DIGEST_LEN])
{
	return sha256(v->bytes, v->signed_len, out);
}

MG_RESULT mg_snapshot_add_signature(const struct mg_snapshot_view *v,
				    const uint8_t key_id[MG_KEY_ID_LEN], uint8_t alg,
				    const uint8_t *sig, size_t sig_len,
				    uint8_t **out, size_t *out_len)
{
	size_t rest = v->len - v->signed_len - 2, len;
	char hex[2 * MG_KEY_ID_LEN + 1];
	uint8_t *b, *p;

	mg_hex(key_id, MG_KEY_ID_LEN, hex);
	for (unsigned i = 0; i < v->n_sigs; i++)
		MG_ENSURE(memcmp(v->sigs[i].key_id, key_id, MG_KEY_ID_LEN), PROTO_SIGNATURE,
			  "key %s has signed this snapshot already (one key has one id "
			  "however its file encodes it)", hex);
	MG_ENSURE(v->n_sigs < MG_SNAPSHOT_MAX_SIGS, PROTO_SIGNATURE,
		  "the snapshot has %d signatures, the most it can hold",
		  MG_SNAPSHOT_MAX_SIGS);
	MG_GUARD(check_sig_shape(alg, sig_len));
	len = v->len + ENTRY_HEAD + sig_len;
	b = malloc(len);
	MG_ENSURE(b, NOMEM, "out of memory");
	/* signed bytes, count + 1, the old entries unchanged, then the new one. */
	memcpy(b, v->bytes, v->signed_len);
	put_be(b + v->signed_len, v->n_sigs + 1, 2);
	memcpy(b + v->signed_len + 2, v->bytes + v->signed_len + 2, rest);
	p = b + v->signed_len + 2 + rest;
	memcpy(p, key_id, MG_KEY_ID_LEN);
	p[MG_KEY_ID_LEN] = alg;
	put_be(p + MG_KEY_ID_LEN + 1, sig_len, 2);
	memcpy(p + ENTRY_HEAD, sig, sig_len);
	*out = b;
	*out_len = len;
	return 0;
}

MG_RESULT mg_snapshot_sign(const struct mg_snapshot_view *v, const struct mg_key *k,
			   uint8_t **out, size_t *out_len)
{
	uint8_t sig[MG_KEY_SIG_MAX];
	size_t sig_len;
	char hex[2 * MG_KEY_ID_LEN + 1];

	/* Refuse before signing: a second signature by one key counts for nothing. */
	mg_hex(mg_key_id(k), MG_KEY_ID_LEN, hex);
	for (unsigned i = 0; i < v->n_sigs; i++)
		MG_ENSURE(memcmp(v->sigs[i].key_id, mg_key_id(k), MG_KEY_ID_LEN),
			  PROTO_SIGNATURE,
			  "key %s has signed this snapshot already (one key has one id "
			  "however its file encodes it)", hex);
	MG_GUARD(mg_key_sign(k, v->bytes, v->signed_len, sig, &sig_len));
	return mg_snapshot_add_signature(v, mg_key_id(k), (uint8_t)mg_key_get_alg(k), sig,
					 sig_len, out, out_len);
}

MG_RESULT mg_snapshot_attach(const struct mg_snapshot_view *v, const struct mg_key *pub,
			     const uint8_t *sig, size_t sig_len, uint8_t **out, size_t *out_len)
{
	MG_GUARD(check_sig_shape((uint8_t)mg_key_get_alg(pub), sig_len));
	if (mg_key_verify(pub, v->bytes, v->signed_len, sig, sig_len) < 0)
		return mg_error_set(MG_ERR_PROTO_SIGNATURE,
				    "the %s signature does not verify over the signed bytes "
				    "with this public key",
				    mg_key_alg_name(mg_key_get_alg(pub)));
	return mg_snapshot_add_signature(v, mg_key_id(pub), (uint8_t)mg_key_get_alg(pub), sig,
					 sig_len, out, out_len);
}

const char *mg_snapshot_refusal_name(enum mg_err code)
{
	switch (code) {
	case MG_ERR_IO_TOO_BIG:
		return "size_cap";
	case MG_ERR_PROTO_FORMAT:
		return "format";
	case MG_ERR_PROTO_SIGNATURE:
		return "signature";
	case MG_ERR_PROTO_ROLLBACK:
		return "rollback";
	case MG_ERR_PROTO_EQUIVOCATION:
		return "equivocation";
	case MG_ERR_PROTO_EXPIRED:
		return "expired";
	case MG_ERR_PROTO_NOT_YET_VALID:
		return "not_yet_valid";
	default:
		return "internal";
	}
}

const char *mg_snapshot_sig_status_name(enum mg_snapshot_sig_status s)
{
	switch (s) {
	case MG_SNAPSHOT_SIG_VALID:
		return "valid";
	case MG_SNAPSHOT_SIG_UNKNOWN_KEY:
		return "unknown_key";
	case MG_SNAPSHOT_SIG_DUPLICATE:
		return "duplicate";
	case MG_SNAPSHOT_SIG_BAD:
		return "bad";
	}
	return "?";
}

static const struct mg_key *find_key(struct mg_key *const *keys, size_t n,
				     const uint8_t id[MG_KEY_ID_LEN])
{
	for (size_t i = 0; i < n; i++)
		if (!memcmp(mg_key_id(keys[i]), id, MG_KEY_ID_LEN))
			return keys[i];
	return NULL;
}

static bool counted(const struct mg_snapshot_verdict *r, const uint8_t id[MG_KEY_ID_LEN])
{
	for (unsigned i = 0; i < r->n_valid; i++)
		if (!memcmp(r->signers[i], id, MG_KEY_ID_LEN))
			return true;
	return false;
}

static enum mg_snapshot_sig_status judge(const struct mg_snapshot_view *v,
					 const struct mg_snapshot_sig *s,
					 struct mg_key *const *trusted, size_t n_trusted,
					 const struct mg_snapshot_verdict *r)
{
	const struct mg_key *k;

	if (counted(r, s->key_id))
		return MG_SNAPSHOT_SIG_DUPLICATE;
	k = find_key(trusted, n_trusted, s->key_id);
	if (!k)
		return MG_SNAPSHOT_SIG_UNKNOWN_KEY;
	/* Any failure to verify, even our own (memory), counts as bad: fail closed. */
	if (s->alg != mg_key_get_alg(k) ||
	    mg_key_verify(k, v->bytes, v->signed_len, s->bytes, s->len) < 0)
		return MG_SNAPSHOT_SIG_BAD;
	return MG_SNAPSHOT_SIG_VALID;
}

MG_RESULT mg_snapshot_verify(const struct mg_snapshot_view *v, struct mg_key *const *trusted,
			     size_t n_trusted, unsigned threshold,
			     struct mg_snapshot_verdict *verdict)
{
	struct mg_snapshot_verdict r;
	unsigned tally[4] = { 0 };

	MG_ENSURE(threshold >= 1, USAGE, "signature threshold must be at least 1");
	memset(&r, 0, sizeof(r));
	for (unsigned i = 0; i < v->n_sigs; i++) {
		r.status[i] = judge(v, &v->sigs[i], trusted, n_trusted, &r);
		tally[r.status[i]]++;
		if (r.status[i] == MG_SNAPSHOT_SIG_VALID)
			memcpy(r.signers[r.n_valid++], v->sigs[i].key_id, MG_KEY_ID_LEN);
	}
	if (verdict)
		*verdict = r;
	MG_ENSURE(r.n_valid >= threshold, PROTO_SIGNATURE,
		  "%u valid signature%s from distinct trusted keys, %u required "
		  "(%u unknown key, %u duplicate, %u bad)",
		  r.n_valid, r.n_valid == 1 ? "" : "s", threshold,
		  tally[MG_SNAPSHOT_SIG_UNKNOWN_KEY], tally[MG_SNAPSHOT_SIG_DUPLICATE],
		  tally[MG_SNAPSHOT_SIG_BAD]);
	mg_error_clear();
	return 0;
}

MG_RESULT mg_snapshot_check_time(const struct mg_snapshot_view *v, uint64_t now)
{
	MG_ENSURE(now >= v->meta.not_before, PROTO_NOT_YET_VALID,
		  "not valid before %llu (now %llu)",
		  (unsigned long long)v->meta.not_before, (unsigned long long)now);
	MG_ENSURE(now < v->meta.expires, PROTO_EXPIRED, "expired at %llu (now %llu)",
		  (unsigned long long)v->meta.expires, (unsigned long long)now);
	return 0;
}

MG_RESULT mg_snapshot_check_version(const struct mg_snapshot_state *active,
				    const struct mg_snapshot_state *candidate,
				    enum mg_snapshot_decision *decision)
{
	bool same;

	if (!active || candidate->version > active->version) {
		*decision = MG_SNAPSHOT_ACCEPT;
		return 0;
	}
	MG_ENSURE(candidate->version == active->version, PROTO_ROLLBACK,
		  "version %llu is older than the active version %llu",
		  (unsigned long long)candidate->version, (unsigned long long)active->version);
	same = !CRYPTO_memcmp(candidate->digest, active->digest, MG_SNAPSHOT_DIGEST_LEN);
	MG_ENSURE(same, PROTO_EQUIVOCATION,
		  "version %llu is active with another digest",
		  (unsigned long long)active->version);
	*decision = MG_SNAPSHOT_NOOP;
	return 0;
}

/* Read at most cap + 1 bytes from @p fd, growing the buffer as data arrives. */
static MG_RESULT read_bounded(int fd, const char *path, size_t cap, size_t hint,
			      uint8_t **buf, size_t *len)
{
	size_t size = hint < cap ? hint + 1 : cap + 1, got = 0;
	uint8_t *b = malloc(size ? size : 1), *nb;
	ssize_t n;
	int rc = 0;

	MG_ENSURE(b, NOMEM, "out of memory");
	for (;;) {
		if (got == size) {
			if (size > cap)
				break;
			size = size > cap / 2 ? cap + 1 : size * 2;
			nb = realloc(b, size);
			MG_ENSURE_GOTO(nb, out, NOMEM, "out of memory");
			b = nb;
		}
		n = read(fd, b + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		MG_ENSURE_GOTO(n >= 0, out, IO, "%s: read: %s", path, strerror(errno));
		if (n == 0)
			break;
		got += (size_t)n;
	}
	MG_ENSURE_GOTO(got <= cap, out, IO_TOO_BIG, "%s: more than the cap of %zu bytes",
		       path, cap);
	*buf = b;
	*len = got;
	b = NULL;
out:
	free(b);
	return rc;
}

MG_RESULT mg_snapshot_read_file(const char *path, size_t cap, uint8_t **buf, size_t *len)
{
	bool in = !strcmp(path, "-");
	int fd = in ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	size_t hint = 65536;
	struct stat st;
	int rc = 0;

	MG_ENSURE(fd >= 0, IO, "%s: %s", path, strerror(errno));
	MG_ENSURE_GOTO(fstat(fd, &st) == 0, out, IO, "%s: %s", path, strerror(errno));
	MG_ENSURE_GOTO(!S_ISDIR(st.st_mode), out, IO, "%s: is a directory", path);
	if (S_ISREG(st.st_mode)) {
		MG_ENSURE_GOTO((uint64_t)st.st_size <= cap, out, IO_TOO_BIG,
			       "%s: %lld bytes exceed the cap of %zu", path,
			       (long long)st.st_size, cap);
		hint = (size_t)st.st_size;
	}
	rc = read_bounded(fd, path, cap, hint, buf, len);
out:
	if (!in)
		close(fd);
	return rc;
}

static MG_RESULT write_all(int fd, const char *path, const uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		MG_ENSURE(n > 0, IO, "%s: write: %s", path, strerror(errno));
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

MG_RESULT mg_snapshot_write_file(const char *path, const uint8_t *buf, size_t len)
{
	char tmp[PATH_MAX];
	int fd, rc = 0;

	MG_ENSURE(snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) < (int)sizeof(tmp), IO,
		  "%s: path too long", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	MG_ENSURE(fd >= 0, IO, "%s: %s", tmp, strerror(errno));
	MG_ENSURE_GOTO(fchmod(fd, 0644) == 0, out, IO, "%s: chmod: %s", tmp, strerror(errno));
	MG_GUARD_GOTO(rc = write_all(fd, tmp, buf, len), out);
	MG_ENSURE_GOTO(fsync(fd) == 0, out, IO, "%s: fsync: %s", tmp, strerror(errno));
	MG_ENSURE_GOTO(close(fd) == 0, out_closed, IO, "%s: close: %s", tmp, strerror(errno));
	fd = -1;
	MG_ENSURE_GOTO(rename(tmp, path) == 0, out, IO, "%s: rename: %s", path,
		       strerror(errno));
	tmp[0] = '\0';
	rc = mg_fsync_dir_of(path);
out:
	if (fd >= 0)
		close(fd);
out_closed:
	if (tmp[0])
		unlink(tmp);
	return rc;
}
