/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * meshctl keygen and meshctl snapshot: offline tools over key and snapshot
 * files. Nothing here talks to a gateway; `push` does that.
 */
#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "filehash.h"
#include "keys.h"
#include "meshctl_cmds.h"
#include "meshctl_telemetry.h"
#include "policy.h"
#include "snapshot.h"

/* Files the tools read need not fit the gateway's cap (verify applies that). */
#define TOOL_CAP ((size_t)256 << 20)
#define SIG_FILE_MAX 1024
#define MAX_TRUST 32
#define DEFAULT_TTL (30 * 86400ULL)

static const char keygen_help[] =
"Usage: meshctl keygen [--type ed25519|p256] -o PREFIX\n"
"\n"
"Make a snapshot signing key pair: PREFIX.key (PKCS#8 PEM private key, created\n"
"0600, never overwritten) and PREFIX.pub (SPKI PEM public key, 0644). Prints the\n"
"key id, SHA-256 of the DER public key, as 64 hex digits on standard output.\n"
"\n"
"  -t, --type TYPE   ed25519 (default) or p256 (ECDSA P-256 with SHA-256)\n"
"  -o, --out PREFIX  where to write the two files\n"
"\n"
"Exit status: 0 ok; 2 usage; 3 i/o (a file exists already, cannot write).\n";

static const char snapshot_help[] =
"Usage: meshctl snapshot COMMAND ARGS\n"
"\n"
"  build POLICY --version N [--not-before T] [--expires T | --ttl D]\n"
"        [--max-size BYTES] -o FILE\n"
"      Check the policy, inline its bundle_file certificates (read relative to\n"
"      POLICY), normalize it and wrap it in an unsigned envelope. Deterministic: the same\n"
"      policy bytes, version and times give the same file. --not-before defaults\n"
"      to 0 (valid from the epoch; versions alone order snapshots); --ttl counts\n"
"      from --not-before and defaults to 30d when --not-before is given. With\n"
"      neither --expires nor --not-before, build refuses: a snapshot needs an end.\n"
"      The envelope must fit --max-size (default 16 MiB, the gateway's default\n"
"      cap) with room for 16 signatures.\n"
"  sign FILE --key PRIVATE [-o OUT]\n"
"      Add one signature by PRIVATE (in place unless -o). Refused if that key\n"
"      has signed already. k-of-n: each of the n signers runs this once.\n"
"  signed-bytes FILE -o OUT\n"
"      Write the bytes every signature covers (header || payload) for an\n"
"      external signer; OUT may be - for standard output.\n"
"  attach-sig FILE --pubkey PUBLIC --sig SIGFILE [-o OUT]\n"
"      Add a signature made elsewhere (raw 64 bytes for Ed25519, DER for\n"
"      P-256) after checking it over the signed bytes with PUBLIC.\n"
"  verify FILE --trust PUBLIC [--trust PUBLIC ...] --threshold K [--now T]\n"
"         [--max-size BYTES]\n"
"      The loader's checks that need no gateway state: size cap (default 16 MiB),\n"
"      framing, at least K valid signatures from distinct trusted keys, time.\n"
"  inspect FILE [--trust PUBLIC ...] [--no-payload]\n"
"      Header fields, digest, each signature (checked when --trust is given),\n"
"      then the payload as text.\n"
"  digest FILE\n"
"      SHA-256 of the signed bytes in hex: what the gateway reports as active.\n"
"\n"
"T is \"now\", UTC seconds, or RFC 3339 (2026-11-23T10:00:00Z); D is seconds or\n"
"a number with s, m, h, d or w (3600, 30m, 12h, 7d). FILE may be - to read\n"
"standard input where it is only read.\n"
"\n"
"Exit status: 0 ok; 1 refused (verification failed, a key signed twice, a bad\n"
"signature to attach, a malformed or oversized file); 2 usage; 3 i/o.\n";

/* ---- shared helpers (meshctl_cmds.h) ------------------------------------- */

int mg_meshctl_exit_for(enum mg_err e)
{
	switch (e) {
	case MG_ERR_USAGE:
	case MG_ERR_CONFIG_SYNTAX:
	case MG_ERR_CONFIG_UNKNOWN_FIELD:
	case MG_ERR_CONFIG_TYPE:
	case MG_ERR_CONFIG_RANGE:
	case MG_ERR_CONFIG_MISSING:
	case MG_ERR_CONFIG_VALUE:
		return MESHCTL_EXIT_USAGE;
	case MG_ERR_IO:
	case MG_ERR_NOMEM:
	case MG_ERR_CRYPTO:
	case MG_ERR_DPDK:
	case MG_ERR_INTERNAL:
		return MESHCTL_EXIT_IO;
	default:
		return MESHCTL_EXIT_REFUSED;
	}
}

int mg_meshctl_fail(const char *cmd)
{
	fprintf(stderr, "meshctl %s: %s\n", cmd,
		*mg_errmsg() ? mg_errmsg() : mg_strerror(mg_errno()));
	return mg_meshctl_exit_for(mg_errno());
}

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return n > 0;
}

static MG_RESULT parse_u64(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	MG_ENSURE(all_digits(s, strlen(s)) && strlen(s) <= 20, USAGE, "'%s' is not a number",
		  s);
	errno = 0;
	v = strtoull(s, &end, 10);
	MG_ENSURE(errno == 0 && *end == '\0', USAGE, "'%s' is out of range", s);
	*out = v;
	return 0;
}

static int num(const char *s, size_t n)
{
	int v = 0;

	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

/* "2026-11-23T10:00:00" then "Z" or "+hh:mm" / "-hh:mm". */
static MG_RESULT parse_rfc3339(const char *s, uint64_t *out)
{
	static const char pat[] = "dddd-dd-ddTdd:dd:dd";
	size_t n = strlen(s);
	struct tm tm = { 0 }, back;
	long off = 0;
	time_t t;

	MG_ENSURE(n == 20 || n == 25, USAGE, "bad time '%s'", s);
	for (size_t i = 0; i < 19; i++)
		MG_ENSURE(pat[i] == 'd' ? isdigit((unsigned char)s[i]) : s[i] == pat[i], USAGE,
			  "bad time '%s' (expected 2026-11-23T10:00:00Z)", s);
	if (n == 20) {
		MG_ENSURE(s[19] == 'Z', USAGE, "bad time zone in '%s'", s);
	} else {
		MG_ENSURE((s[19] == '+' || s[19] == '-') && all_digits(s + 20, 2) &&
				  s[22] == ':' && all_digits(s + 23, 2),
			  USAGE, "bad time zone in '%s'", s);
		off = (num(s + 20, 2) * 60L + num(s + 23, 2)) * 60L * (s[19] == '-' ? -1 : 1);
	}
	tm.tm_year = num(s, 4) - 1900;
	tm.tm_mon = num(s + 5, 2) - 1;
	tm.tm_mday = num(s + 8, 2);
	tm.tm_hour = num(s + 11, 2);
	tm.tm_min = num(s + 14, 2);
	tm.tm_sec = num(s + 17, 2);
	back = tm;
	t = timegm(&back);
	/* timegm normalizes 02-30 to 03-02: a changed field means a bad date. */
	MG_ENSURE(back.tm_mon == tm.tm_mon && back.tm_mday == tm.tm_mday &&
			  back.tm_hour == tm.tm_hour && back.tm_min == tm.tm_min &&
			  back.tm_sec == tm.tm_sec && t - off >= 0,
		  USAGE, "no such time '%s'", s);
	*out = (uint64_t)(t - off);
	return 0;
}

MG_RESULT mg_meshctl_parse_time(const char *s, uint64_t *out)
{
	if (!strcmp(s, "now")) {
		*out = (uint64_t)time(NULL);
		return 0;
	}
	if (all_digits(s, strlen(s)))
		return parse_u64(s, out);
	return parse_rfc3339(s, out);
}

MG_RESULT mg_meshctl_parse_duration(const char *s, uint64_t *out)
{
	static const struct {
		char c;
		uint64_t mul;
	} units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 'w', 604800 } };
	size_t n = strlen(s);
	uint64_t mul = 1, v;
	char digits[24];

	MG_ENSURE(n > 0 && n < sizeof(digits), USAGE, "bad duration '%s'", s);
	memcpy(digits, s, n + 1);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (n > 1 && s[n - 1] == units[i].c) {
			mul = units[i].mul;
			digits[--n] = '\0';
		}
	MG_ENSURE(all_digits(digits, n), USAGE,
		  "bad duration '%s' (expected 3600, 30m, 12h, 7d ...)", s);
	MG_GUARD(parse_u64(digits, &v));
	MG_ENSURE(v <= UINT64_MAX / mul, USAGE, "duration '%s' is too long", s);
	*out = v * mul;
	return 0;
}

void mg_meshctl_format_time(uint64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	/* Beyond 9999-12-31 RFC 3339 has no form: print the seconds. */
	if (t > 253402300799ULL || !gmtime_r(&tt, &tm))
		snprintf(buf, size, "%llu", (unsigned long long)t);
	else
		strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- options -------------------------------------------------------------- */

struct opts {
	const char *pos[2];
	unsigned n_pos;
	const char *out, *key, *pubkey, *sig, *type, *version, *not_before, *expires, *ttl;
	const char *threshold, *now, *max_size;
	const char *trust[MAX_TRUST];
	unsigned n_trust;
	bool no_payload, help;
};

/* Where option @p name keeps its value, and its canonical name. */
static const char **slot(struct opts *o, const char *name, const char **canon)
{
	static const struct {
		const char *name, *alias;
		size_t off;
	} tab[] = {
#define O(n, a, f) { n, a, offsetof(struct opts, f) }
		O("out", "-o", out), O("key", "-k", key), O("pubkey", NULL, pubkey),
		O("sig", NULL, sig), O("type", "-t", type), O("version", NULL, version),
		O("not-before", NULL, not_before), O("expires", NULL, expires),
		O("ttl", NULL, ttl), O("threshold", NULL, threshold), O("now", NULL, now),
		O("max-size", NULL, max_size),
#undef O
	};

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if ((name[0] == '-' && name[1] == '-' && !strcmp(name + 2, tab[i].name)) ||
		    (tab[i].alias && !strcmp(name, tab[i].alias))) {
			*canon = tab[i].name;
			return (const char **)((char *)o + tab[i].off);
		}
	if (!strcmp(name, "--trust")) {
		*canon = "trust";
		return o->n_trust < MAX_TRUST ? &o->trust[o->n_trust++] : NULL;
	}
	return NULL;
}

static bool allowed(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = strstr(list, name); p; p = strstr(p + 1, name))
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return true;
	return false;
}

/*
 * Parse argv[first..] into @p o: up to @p max_pos positional arguments and
 * the options named in @p list ("out key trust no-payload"), each "--opt V",
 * "--opt=V" or its short form "-o V".
 */
static MG_RESULT parse_opts(int argc, char **argv, int first, unsigned max_pos,
			    const char *list, struct opts *o)
{
	for (int i = first; i < argc; i++) {
		char name[32];
		const char *a = argv[i], *eq = strchr(a, '='), *canon = NULL, **v;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			o->help = true;
			continue;
		}
		if (a[0] != '-' || !strcmp(a, "-")) {
			MG_ENSURE(o->n_pos < max_pos, USAGE, "unexpected argument '%s'", a);
			o->pos[o->n_pos++] = a;
			continue;
		}
		if (!strcmp(a, "--no-payload") && allowed(list, "no-payload")) {
			o->no_payload = true;
			continue;
		}
		snprintf(name, sizeof(name), "%.*s", eq && a[1] == '-' ? (int)(eq - a) : 31, a);
		v = slot(o, name, &canon);
		MG_ENSURE(canon && allowed(list, canon), USAGE, "unknown option '%s'", name);
		MG_ENSURE(v, USAGE, "more than %d --trust keys", MAX_TRUST);
		if (eq && a[1] == '-') {
			*v = eq + 1;
		} else {
			MG_ENSURE(i + 1 < argc, USAGE, "option '%s' needs a value", a);
			*v = argv[++i];
		}
	}
	return 0;
}

/* ---- keygen ---------------------------------------------------------------- */

int mg_meshctl_keygen(int argc, char **argv)
{
	enum mg_key_alg alg = MG_KEY_ED25519;
	char priv[4096], pub[4096], id[2 * MG_KEY_ID_LEN + 1];
	struct mg_key *k = NULL;
	struct opts o = { 0 };
	int rc = MESHCTL_EXIT_OK;

	if (parse_opts(argc, argv, 1, 0, "out type", &o) < 0)
		goto usage;
	if (o.help) {
		fputs(keygen_help, stdout);
		return MESHCTL_EXIT_OK;
	}
	if (!o.out) {
		mg_error_set(MG_ERR_USAGE, "-o PREFIX is required");
		goto usage;
	}
	if (o.type && mg_key_alg_parse(o.type, &alg) < 0)
		goto usage;
	if ((size_t)snprintf(priv, sizeof(priv), "%s.key", o.out) >= sizeof(priv) ||
	    (size_t)snprintf(pub, sizeof(pub), "%s.pub", o.out) >= sizeof(pub)) {
		mg_error_set(MG_ERR_USAGE, "prefix too long");
		goto usage;
	}
	if (mg_key_generate(alg, &k) < 0 || mg_key_write(k, priv, pub) < 0) {
		rc = mg_meshctl_fail("keygen");
		goto out;
	}
	mg_hex(mg_key_id(k), MG_KEY_ID_LEN, id);
	fprintf(stderr, "meshctl keygen: wrote %s (private, 0600) and %s (%s)\n", priv, pub,
		mg_key_alg_name(alg));
	printf("%s\n", id);
out:
	mg_key_free(k);
	return rc;
usage:
	fprintf(stderr, "meshctl keygen: %s\n%s", mg_errmsg(), keygen_help);
	return MESHCTL_EXIT_USAGE;
}

/* ---- snapshot ---------------------------------------------------------------- */

/* A snapshot file, read and parsed. */
struct snap {
	uint8_t *buf;
	size_t len;
	struct mg_snapshot_view v;
};

static MG_RESULT snap_load(struct snap *s, const char *path, size_t cap)
{
	MG_GUARD(mg_snapshot_read_file(path, cap, &s->buf, &s->len));
	if (mg_snapshot_parse(s->buf, s->len, cap, &s->v) < 0) {
		char why[256];

		snprintf(why, sizeof(why), "%s", mg_errmsg());
		return mg_error_set(mg_errno(), "%s: %s", path, why);
	}
	return 0;
}

static MG_RESULT write_out(const char *path, const uint8_t *buf, size_t len)
{
	if (strcmp(path, "-"))
		return mg_snapshot_write_file(path, buf, len);
	MG_ENSURE(fwrite(buf, 1, len, stdout) == len && fflush(stdout) == 0, IO,
		  "standard output: %s", strerror(errno));
	return 0;
}

static MG_RESULT need(const char *value, const char *what)
{
	MG_ENSURE(value, USAGE, "%s is required", what);
	return 0;
}

static MG_RESULT build_meta(const struct opts *o, struct mg_snapshot_meta *m)
{
	uint64_t ttl = DEFAULT_TTL;

	MG_GUARD(need(o->version, "--version N"));
	MG_GUARD(parse_u64(o->version, &m->version));
	MG_ENSURE(m->version >= 1, USAGE, "--version must be at least 1");
	MG_ENSURE(!(o->expires && o->ttl), USAGE, "give --expires or --ttl, not both");
	MG_ENSURE(!o->ttl || o->not_before, USAGE,
		  "--ttl counts from --not-before: give --not-before too, or --expires");
	MG_ENSURE(o->expires || o->not_before, USAGE,
		  "a snapshot needs an end: give --expires, or --not-before "
		  "(then --ttl, default 30d)");
	m->not_before = 0;
	if (o->not_before)
		MG_GUARD(mg_meshctl_parse_time(o->not_before, &m->not_before));
	if (o->ttl)
		MG_GUARD(mg_meshctl_parse_duration(o->ttl, &ttl));
	if (o->expires) {
		MG_GUARD(mg_meshctl_parse_time(o->expires, &m->expires));
	} else {
		MG_ENSURE(ttl > 0 && m->not_before <= UINT64_MAX - ttl, USAGE,
			  "--ttl out of range");
		m->expires = m->not_before + ttl;
	}
	MG_ENSURE(m->expires > m->not_before, USAGE, "--expires must be after --not-before");
	return 0;
}

static MG_RESULT parse_cap(const char *s, size_t *cap)
{
	uint64_t v;

	if (!s)
		return 0;
	MG_GUARD(parse_u64(s, &v));
	MG_ENSURE(v >= MG_SNAPSHOT_OVERHEAD && v <= TOOL_CAP, USAGE,
		  "--max-size must be %d..%zu", MG_SNAPSHOT_OVERHEAD, TOOL_CAP);
	*cap = (size_t)v;
	return 0;
}

static void print_summary(const char *path, const struct mg_snapshot_view *v)
{
	uint8_t d[MG_SNAPSHOT_DIGEST_LEN];
	char hex[2 * MG_SNAPSHOT_DIGEST_LEN + 1], nb[32], ex[32];

	if (mg_snapshot_digest(v, d) < 0)
		memset(d, 0, sizeof(d));
	mg_hex(d, sizeof(d), hex);
	mg_meshctl_format_time(v->meta.not_before, nb, sizeof(nb));
	mg_meshctl_format_time(v->meta.expires, ex, sizeof(ex));
	printf("%s: version %llu, valid %s .. %s, payload %zu bytes, %u signature%s, "
	       "digest %s\n",
	       path, (unsigned long long)v->meta.version, nb, ex, v->payload_len, v->n_sigs,
	       v->n_sigs == 1 ? "" : "s", hex);
}

/*
 * The payload is the policy checked and normalized, with bundle_file contents
 * inlined (read relative to the policy file): self-contained, and the same
 * bytes for the same meaning whatever the source's layout or comments.
 */
static int canonical_payload(const char *path, uint8_t **policy, size_t *len)
{
	char dir[PATH_MAX], *canon = NULL;
	size_t canon_len = 0;

	snprintf(dir, sizeof(dir), "%s", path);
	MG_GUARD(mg_policy_inline_files((const char *)*policy, *len, path, dirname(dir), &canon,
					&canon_len));
	free(*policy);
	*policy = (uint8_t *)canon;
	*len = canon_len;
	return 0;
}

static int cmd_build(int argc, char **argv)
{
	struct mg_snapshot_meta m;
	struct mg_snapshot_view v;
	size_t cap = MG_SNAPSHOT_DEFAULT_CAP, plen = 0, len = 0;
	uint8_t *policy = NULL, *out = NULL;
	struct opts o = { 0 };
	int rc = MESHCTL_EXIT_OK;

	if (parse_opts(argc, argv, 2, 1, "out version not-before expires ttl max-size", &o) < 0 ||
	    need(o.pos[0], "POLICY") < 0 || need(o.out, "-o FILE") < 0 ||
	    parse_cap(o.max_size, &cap) < 0 || build_meta(&o, &m) < 0)
		return mg_meshctl_fail("snapshot build");
	/* Leave room for the most signatures the envelope can hold. */
	MG_ENSURE_GOTO(cap > MG_SNAPSHOT_OVERHEAD + MG_SNAPSHOT_MAX_SIGS * MG_SNAPSHOT_SIG_ENTRY_MAX,
		       fail, USAGE, "--max-size too small");
	if (mg_snapshot_read_file(o.pos[0], cap - MG_SNAPSHOT_OVERHEAD -
				  MG_SNAPSHOT_MAX_SIGS * MG_SNAPSHOT_SIG_ENTRY_MAX,
				  &policy, &plen) < 0 ||
	    canonical_payload(o.pos[0], &policy, &plen) < 0 ||
	    mg_snapshot_build(policy, plen, &m, &out, &len) < 0 ||
	    mg_snapshot_parse(out, len, len, &v) < 0 || write_out(o.out, out, len) < 0)
		goto fail;
	if (strcmp(o.out, "-"))
		print_summary(o.out, &v);
	goto out;
fail:
	rc = mg_meshctl_fail("snapshot build");
out:
	free(policy);
	free(out);
	return rc;
}

static int cmd_sign(int argc, char **argv)
{
	struct snap s = { 0 };
	struct mg_key *k = NULL;
	struct mg_snapshot_view nv;
	uint8_t *out = NULL;
	size_t len;
	struct opts o = { 0 };
	int rc = MESHCTL_EXIT_OK;

	if (parse_opts(argc, argv, 2, 1, "key out", &o) < 0 || need(o.pos[0], "FILE") < 0 ||
	    need(o.key, "--key PRIVATE") < 0)
		return mg_meshctl_fail("snapshot sign");
	if (snap_load(&s, o.pos[0], TOOL_CAP) < 0 || mg_key_load_private(o.key, &k) < 0 ||
	    mg_snapshot_sign(&s.v, k, &out, &len) < 0 ||
	    mg_snapshot_parse(out, len, TOOL_CAP, &nv) < 0 ||
	    write_out(o.out ? o.out : o.pos[0], out, len) < 0) {
		rc = mg_meshctl_fail("snapshot sign");
		goto out;
	}
	if (!o.out || strcmp(o.out, "-"))
		print_summary(o.out ? o.out : o.pos[0], &nv);
out:
	mg_key_free(k);
	free(s.buf);
	free(out);
	return rc;
}

static int cmd_signed_bytes(int argc, char **argv)
{
	struct snap s = { 0 };
	struct opts o = { 0 };
	int rc = MESHCTL_EXIT_OK;

	if (parse_opts(argc, argv, 2, 1, "out", &o) < 0 || need(o.pos[0], "FILE") < 0 ||
	    need(o.out, "-o OUT") < 0)
		return mg_meshctl_fail("snapshot signed-bytes");
	if (snap_load(&s, o.pos[0], TOOL_CAP) < 0 ||
	    write_out(o.out, s.v.bytes, s.v.signed_len) < 0)
		rc = mg_meshctl_fail("snapshot signed-bytes");
	free(s.buf);
	return rc;
}

static int cmd_attach(int argc, char **argv)
{
	struct snap s = { 0 };
	struct mg_key *k = NULL;
	struct mg_snapshot_view nv;
	uint8_t *sig = NULL, *out = NULL;
	size_t sig_len, len;
	struct opts o = { 0 };
	int rc = MESHCTL_EXIT_OK;

	if (parse_opts(argc, argv, 2, 1, "pubkey sig out", &o) < 0 ||
	    need(o.pos[0], "FILE") < 0 || need(o.pubkey, "--pubkey PUBLIC") < 0 ||
	    need(o.sig, "--sig SIGFILE") < 0)
		return mg_meshctl_fail("snapshot attach-sig");
	if (snap_load(&s, o.pos[0], TOOL_CAP) < 0 || mg_key_load_public(o.pubkey, &k) < 0 ||
	    mg_snapshot_read_file(o.sig, SIG_FILE_MAX, &sig, &sig_len) < 0 ||
	    mg_snapshot_attach(&s.v, k, sig, sig_len, &out, &len) < 0 ||
	    mg_snapshot_parse(out, len, TOOL_CAP, &nv) < 0 ||
	    write_out(o.out ? o.out : o.pos[0], out, len) < 0) {
		rc = mg_meshctl_fail("snapshot attach-sig");
		goto out;
	}
	if (!o.out || strcmp(o.out, "-"))
		print_summary(o.out ? o.out : o.pos[0], &nv);
out:
	mg_key_free(k);
	free(s.buf);
	free(sig);
	free(out);
	return rc;
}

/* The --trust keys; one key given twice (any encoding) would count twice: refused. */
static MG_RESULT load_trust(const struct opts *o, struct mg_key **keys)
{
	size_t a, b;

	for (unsigned i = 0; i < o->n_trust; i++)
		MG_GUARD(mg_key_load_public(o->trust[i], &keys[i]));
	MG_ENSURE(!mg_key_find_same(keys, o->n_trust, &a, &b), USAGE,
		  "--trust %s is the same key as --trust %s: one signer would count twice "
		  "toward the threshold; give each key once", o->trust[b], o->trust[a]);
	return 0;
}

static void free_trust(struct mg_key **keys, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		mg_key_free(keys[i]);
}

/* The --trust file whose key has @p id, for the reader's benefit. */
static const char *trust_name(const struct opts *o, struct mg_key *const *keys,
			      const uint8_t *id)
{
	for (unsigned i = 0; i < o->n_trust; i++)
		if (keys[i] && !memcmp(mg_key_id(keys[i]), id, MG_KEY_ID_LEN))
			return o->trust[i];
	return NULL;
}

static void print_sigs(const struct mg_snapshot_view *v, const struct opts *o,
		       struct mg_key *const *keys, const struct mg_snapshot_verdict *r)
{
	char id[2 * MG_KEY_ID_LEN + 1];

	for (unsigned i = 0; i < v->n_sigs; i++) {
		const char *name = trust_name(o, keys, v->sigs[i].key_id);

		mg_hex(v->sigs[i].key_id, MG_KEY_ID_LEN, id);
		printf("  signature %u: key %s %s, %u bytes", i, id,
		       mg_key_alg_name((enum mg_key_alg)v->sigs[i].alg), v->sigs[i].len);
		if (r)
			printf(": %s", mg_snapshot_sig_status_name(r->status[i]));
		if (name)
			printf(" (%s)", name);
		printf("\n");
	}
}

static int cmd_verify(int argc, char **argv)
{
	struct mg_key *keys[MAX_TRUST] = { 0 };
	struct mg_snapshot_verdict r = { 0 };
	size_t cap = MG_SNAPSHOT_DEFAULT_CAP;
	uint64_t threshold, now;
	struct snap s = { 0 };
	struct opts o = { 0 };
	bool sigs_checked = false;
	int rc = MESHCTL_EXIT_OK;

	if (parse_opts(argc, argv, 2, 1, "trust threshold now max-size", &o) < 0 ||
	    need(o.pos[0], "FILE") < 0 || need(o.n_trust ? "" : NULL, "--trust PUBLIC") < 0 ||
	    need(o.threshold, "--threshold K") < 0 || parse_u64(o.threshold, &threshold) < 0 ||
	    parse_cap(o.max_size, &cap) < 0 ||
	    mg_meshctl_parse_time(o.now ? o.now : "now", &now) < 0)
		return mg_meshctl_fail("snapshot verify");
	if (threshold < 1 || threshold > o.n_trust) {
		fprintf(stderr, "meshctl snapshot verify: --threshold must be 1..%u (the number "
			"of --trust keys)\n", o.n_trust);
		return MESHCTL_EXIT_USAGE;
	}
	if (load_trust(&o, keys) < 0) {
		rc = mg_meshctl_fail("snapshot verify");
		goto out;
	}
	/* The loader's order: cap and framing, signatures, then time. */
	if (mg_snapshot_read_file(o.pos[0], cap, &s.buf, &s.len) < 0) {
		if (mg_errno() == MG_ERR_IO_TOO_BIG)
			goto refused;
		rc = mg_meshctl_fail("snapshot verify");
		goto out;
	}
	if (mg_snapshot_parse(s.buf, s.len, cap, &s.v) < 0)
		goto refused;
	sigs_checked = true;
	if (mg_snapshot_verify(&s.v, keys, o.n_trust, (unsigned)threshold, &r) < 0 ||
	    mg_snapshot_check_time(&s.v, now) < 0)
		goto refused;
	print_summary(o.pos[0], &s.v);
	print_sigs(&s.v, &o, keys, &r);
	printf("%s: OK: %u of %u required signatures valid\n", o.pos[0], r.n_valid,
	       (unsigned)threshold);
	goto out;
refused:
	rc = mg_meshctl_exit_for(mg_errno());
	printf("%s: REFUSED (%s): %s\n", o.pos[0], mg_snapshot_refusal_name(mg_errno()),
		mg_errmsg());
	if (sigs_checked)
		print_sigs(&s.v, &o, keys, &r);
out:
	free_trust(keys, o.n_trust);
	free(s.buf);
	return rc;
}

/* The payload as text: control bytes other than newline and tab escaped. */
static void print_payload(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n' || p[i] == '\t' || (p[i] >= 0x20 && p[i] != 0x7f))
			putchar(p[i]);
		else
			printf("\\x%02x", p[i]);
	}
	if (n && p[n - 1] != '\n')
		putchar('\n');
}

static int cmd_inspect(int argc, char **argv)
{
	struct mg_key *keys[MAX_TRUST] = { 0 };
	struct mg_snapshot_verdict r;
	uint8_t d[MG_SNAPSHOT_DIGEST_LEN];
	char hex[2 * MG_SNAPSHOT_DIGEST_LEN + 1], nb[32], ex[32];
	struct snap s = { 0 };
	struct opts o = { 0 };
	int rc = MESHCTL_EXIT_OK;

	if (parse_opts(argc, argv, 2, 1, "trust no-payload", &o) < 0 ||
	    need(o.pos[0], "FILE") < 0)
		return mg_meshctl_fail("snapshot inspect");
	if (load_trust(&o, keys) < 0 || snap_load(&s, o.pos[0], TOOL_CAP) < 0 ||
	    mg_snapshot_digest(&s.v, d) < 0) {
		rc = mg_meshctl_fail("snapshot inspect");
		goto out;
	}
	/* Only the per-signature verdicts matter here, not the threshold. */
	if (o.n_trust && mg_snapshot_verify(&s.v, keys, o.n_trust, 1, &r) < 0)
		mg_error_clear();
	mg_meshctl_format_time(s.v.meta.not_before, nb, sizeof(nb));
	mg_meshctl_format_time(s.v.meta.expires, ex, sizeof(ex));
	printf("file:        %s\n", o.pos[0]);
	printf("format:      %d\n", MG_SNAPSHOT_FORMAT);
	printf("version:     %llu\n", (unsigned long long)s.v.meta.version);
	printf("not-before:  %s (%llu)\n", nb, (unsigned long long)s.v.meta.not_before);
	printf("expires:     %s (%llu)\n", ex, (unsigned long long)s.v.meta.expires);
	mg_hex(s.v.payload_sha256, 32, hex);
	printf("payload:     %zu bytes, sha256 %s\n", s.v.payload_len, hex);
	mg_hex(d, sizeof(d), hex);
	printf("digest:      %s\n", hex);
	printf("signatures:  %u\n", s.v.n_sigs);
	print_sigs(&s.v, &o, keys, o.n_trust ? &r : NULL);
	if (!o.no_payload) {
		printf("--- payload ---\n");
		print_payload(s.v.payload, s.v.payload_len);
	}
out:
	free_trust(keys, o.n_trust);
	free(s.buf);
	return rc;
}

static int cmd_digest(int argc, char **argv)
{
	uint8_t d[MG_SNAPSHOT_DIGEST_LEN];
	char hex[2 * MG_SNAPSHOT_DIGEST_LEN + 1];
	struct snap s = { 0 };
	struct opts o = { 0 };
	int rc = MESHCTL_EXIT_OK;

	if (parse_opts(argc, argv, 2, 1, "", &o) < 0 || need(o.pos[0], "FILE") < 0)
		return mg_meshctl_fail("snapshot digest");
	if (snap_load(&s, o.pos[0], TOOL_CAP) < 0 || mg_snapshot_digest(&s.v, d) < 0) {
		rc = mg_meshctl_fail("snapshot digest");
	} else {
		mg_hex(d, sizeof(d), hex);
		printf("%s\n", hex);
	}
	free(s.buf);
	return rc;
}

int mg_meshctl_snapshot(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int argc, char **argv);
	} cmds[] = {
		{ "build", cmd_build },		{ "sign", cmd_sign },
		{ "signed-bytes", cmd_signed_bytes }, { "attach-sig", cmd_attach },
		{ "verify", cmd_verify },	{ "inspect", cmd_inspect },
		{ "digest", cmd_digest },
	};

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(snapshot_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? MESHCTL_EXIT_USAGE : MESHCTL_EXIT_OK;
	}
	for (int i = 2; i < argc; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(snapshot_help, stdout);
			return MESHCTL_EXIT_OK;
		}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc, argv);
	fprintf(stderr, "meshctl snapshot: unknown command '%s'\n%s", argv[1], snapshot_help);
	return MESHCTL_EXIT_USAGE;
}
