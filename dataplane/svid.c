/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * X509-SVID verification (svid.h): the leaf's own rules first, cheapest first,
 * then the chain against the bundle of the leaf's trust domain. No allocation
 * that outlives a call; nothing global is written after mg_svid_init().
 */
#include "svid.h"

#include <string.h>

#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

/* 112 bits: NIST's floor since 2014; RSA-2048 and P-256 pass, RSA-1024 and SHA-1 fail. */
#define MIN_SECURITY_BITS 112

static ASN1_OBJECT *image_oid;

static const char *const reason_names[MG_SVID__COUNT] = {
#define _(sym, name, desc) [MG_SVID_##sym] = #name,
	foreach_mg_svid_reason(_)
#undef _
};

static const char *const reason_descs[MG_SVID__COUNT] = {
#define _(sym, name, desc) [MG_SVID_##sym] = desc,
	foreach_mg_svid_reason(_)
#undef _
};

const char *mg_svid_reason_name(enum mg_svid_reason r)
{
	return (unsigned)r < MG_SVID__COUNT ? reason_names[r] : "unknown";
}

const char *mg_svid_reason_desc(enum mg_svid_reason r)
{
	return (unsigned)r < MG_SVID__COUNT ? reason_descs[r] : "unknown reason";
}

MG_RESULT mg_svid_init(void)
{
	if (image_oid == NULL)
		image_oid = OBJ_txt2obj(MG_SVID_IMAGE_OID, 1);
	MG_ENSURE(image_oid != NULL, CRYPTO, "svid: cannot make OID %s", MG_SVID_IMAGE_OID);
	return 0;
}

/* The one URI SAN as a SPIFFE workload ID, copied into out->id. */
static enum mg_svid_reason take_uri_san(X509 *leaf, struct mg_svid_peer *out)
{
	int crit = -1;
	GENERAL_NAMES *names = X509_get_ext_d2i(leaf, NID_subject_alt_name, &crit, NULL);
	const ASN1_IA5STRING *uri = NULL;
	enum mg_svid_reason r = MG_SVID_OK;

	if (names == NULL) /* crit -2: the extension appears twice, each may hold a URI */
		return crit == -2 ? MG_SVID_MULTIPLE_URI_SANS : MG_SVID_NO_URI_SAN;
	for (int i = 0; i < sk_GENERAL_NAME_num(names) && r == MG_SVID_OK; i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);

		if (gn->type != GEN_URI)
			continue;
		if (uri != NULL)
			r = MG_SVID_MULTIPLE_URI_SANS;
		uri = gn->d.uniformResourceIdentifier;
	}
	if (r == MG_SVID_OK && uri == NULL)
		r = MG_SVID_NO_URI_SAN;
	if (r == MG_SVID_OK) {
		const char *s = (const char *)ASN1_STRING_get0_data(uri);
		size_t len = (size_t)ASN1_STRING_length(uri), td_len = 0;

		/* A trust domain's own ID (no path) never names a workload. */
		if (mg_spiffe_check(s, len, &td_len) != NULL ||
		    len <= MG_SPIFFE_SCHEME_LEN + td_len) {
			r = MG_SVID_BAD_SPIFFE_ID;
		} else {
			memcpy(out->id, s, len);
			out->id[len] = '\0';
			out->id_len = (uint16_t)len;
			out->td_len = (uint16_t)td_len;
		}
	}
	GENERAL_NAMES_free(names);
	return r;
}

static enum mg_svid_reason check_usage(X509 *leaf)
{
	uint32_t ku = X509_get_key_usage(leaf); /* UINT32_MAX when absent: no bit set */

	/* basicConstraints cA itself, whatever keyUsage says (X509_check_ca() would
	 * call a CA:TRUE leaf without keyCertSign "not a CA"). */
	if ((X509_get_extension_flags(leaf) & EXFLAG_CA) || X509_check_ca(leaf) != 0)
		return MG_SVID_LEAF_IS_CA;
	if (ku == UINT32_MAX || !(ku & KU_DIGITAL_SIGNATURE))
		return MG_SVID_NO_DIGITAL_SIGNATURE;
	if (ku & KU_KEY_CERT_SIGN)
		return MG_SVID_KEY_CERT_SIGN;
	if (ku & KU_CRL_SIGN)
		return MG_SVID_CRL_SIGN;
	return MG_SVID_OK;
}

static enum mg_svid_reason check_strength(X509 *leaf)
{
	EVP_PKEY *key = X509_get0_pubkey(leaf);
	int secbits = 0;

	if (key == NULL || EVP_PKEY_get_security_bits(key) < MIN_SECURITY_BITS)
		return MG_SVID_WEAK_KEY;
	if (!X509_get_signature_info(leaf, NULL, NULL, &secbits, NULL) ||
	    secbits < MIN_SECURITY_BITS)
		return MG_SVID_WEAK_SIGNATURE;
	return MG_SVID_OK;
}

static bool is_image_digest(const unsigned char *s, int len)
{
	if (len != MG_SVID_IMAGE_LEN || memcmp(s, "sha256:", 7) != 0)
		return false;
	for (int i = 7; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* The optional image extension: at most one, a UTF8String digest. */
static enum mg_svid_reason take_image(X509 *leaf, struct mg_svid_peer *out)
{
	int at = X509_get_ext_by_OBJ(leaf, image_oid, -1);
	const unsigned char *p;
	ASN1_UTF8STRING *s;
	ASN1_OCTET_STRING *v;
	bool ok;

	out->has_image = false;
	if (at < 0)
		return MG_SVID_OK;
	if (X509_get_ext_by_OBJ(leaf, image_oid, at) >= 0)
		return MG_SVID_BAD_IMAGE_DIGEST;
	v = X509_EXTENSION_get_data(X509_get_ext(leaf, at));
	p = ASN1_STRING_get0_data(v);
	s = d2i_ASN1_UTF8STRING(NULL, &p, ASN1_STRING_length(v));
	/* Exactly the string, nothing after it. */
	ok = s != NULL && p == ASN1_STRING_get0_data(v) + ASN1_STRING_length(v) &&
	     is_image_digest(ASN1_STRING_get0_data(s), ASN1_STRING_length(s));
	if (ok) {
		memcpy(out->image, ASN1_STRING_get0_data(s), MG_SVID_IMAGE_LEN);
		out->image[MG_SVID_IMAGE_LEN] = '\0';
		out->has_image = true;
	}
	ASN1_UTF8STRING_free(s);
	return ok ? MG_SVID_OK : MG_SVID_BAD_IMAGE_DIGEST;
}

static enum mg_svid_reason check_times(X509 *leaf, time_t now, struct mg_svid_peer *out)
{
	const ASN1_TIME *nb = X509_get0_notBefore(leaf), *na = X509_get0_notAfter(leaf);
	struct tm tm;

	if (X509_cmp_time(nb, &now) >= 0)
		return MG_SVID_NOT_YET_VALID;
	if (X509_cmp_time(na, &now) <= 0)
		return MG_SVID_EXPIRED;
	out->not_after = ASN1_TIME_to_tm(na, &tm) ? (int64_t)timegm(&tm) : 0;
	return MG_SVID_OK;
}

enum mg_svid_reason mg_svid_check_leaf(X509 *leaf, time_t now, struct mg_svid_peer *out)
{
	enum mg_svid_reason r;
	unsigned int n = 0;

	memset(out, 0, sizeof(*out));
	if (leaf == NULL)
		return MG_SVID_NO_CERT;
	if ((r = take_uri_san(leaf, out)) != MG_SVID_OK || (r = check_usage(leaf)) != MG_SVID_OK ||
	    (r = check_strength(leaf)) != MG_SVID_OK || (r = take_image(leaf, out)) != MG_SVID_OK ||
	    (r = check_times(leaf, now, out)) != MG_SVID_OK)
		return r;
	if (!X509_digest(leaf, EVP_sha256(), out->leaf_sha256, &n))
		return MG_SVID_UNTRUSTED_CHAIN;
	return MG_SVID_OK;
}

static const struct mg_svid_bundle *bundle_of(const struct mg_svid_trust *t,
					      const struct mg_svid_peer *p)
{
	const char *td = p->id + MG_SPIFFE_SCHEME_LEN;

	for (uint32_t i = 0; t != NULL && i < t->n; i++)
		if (strlen(t->b[i].td) == p->td_len && memcmp(t->b[i].td, td, p->td_len) == 0)
			return &t->b[i];
	return NULL;
}

/* X509_verify_cert's verdict as a reason; the leaf's own times were checked already. */
static enum mg_svid_reason chain_reason(int err)
{
	switch (err) {
	case X509_V_OK:
		return MG_SVID_OK;
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return MG_SVID_EXPIRED; /* an intermediate or the CA */
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return MG_SVID_NOT_YET_VALID;
	case X509_V_ERR_CA_KEY_TOO_SMALL:
	case X509_V_ERR_EE_KEY_TOO_SMALL:
		return MG_SVID_WEAK_KEY;
	case X509_V_ERR_CA_MD_TOO_WEAK:
		return MG_SVID_WEAK_SIGNATURE;
	default:
		return MG_SVID_UNTRUSTED_CHAIN;
	}
}

/* The earliest notAfter along a verified chain: how long its verdict holds. */
static int64_t chain_not_after(X509_STORE_CTX *ctx)
{
	STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
	int64_t min = INT64_MAX;
	struct tm tm;

	for (int i = 0; i < sk_X509_num(chain); i++) {
		int64_t t = ASN1_TIME_to_tm(X509_get0_notAfter(sk_X509_value(chain, i)), &tm)
				    ? (int64_t)timegm(&tm) : 0;

		if (t < min)
			min = t;
	}
	return min == INT64_MAX ? 0 : min;
}

/* Chain the leaf to its trust domain's bundle; *not_after: until when that holds. */
static enum mg_svid_reason verify_chain(X509 *leaf, STACK_OF(X509) *untrusted,
					const struct mg_svid_bundle *b, time_t now,
					int64_t *not_after)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	enum mg_svid_reason r = MG_SVID_UNTRUSTED_CHAIN;

	if (ctx != NULL && X509_STORE_CTX_init(ctx, b->store, leaf, untrusted)) {
		X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);

		X509_VERIFY_PARAM_set_time(param, now);
		X509_VERIFY_PARAM_set_auth_level(param, 2); /* 112 bits along the chain */
		X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT);
		r = X509_verify_cert(ctx) == 1 ? MG_SVID_OK
					       : chain_reason(X509_STORE_CTX_get_error(ctx));
		if (r == MG_SVID_OK)
			*not_after = chain_not_after(ctx);
	}
	X509_STORE_CTX_free(ctx);
	return r;
}

static struct mg_svid_cache_slot *cache_slot(struct mg_svid_cache *c, const uint8_t *sha)
{
	uint32_t h;

	memcpy(&h, sha, sizeof(h)); /* a SHA-256 is as uniform as hashes get */
	return &c->slot[h & (MG_SVID_CACHE_SLOTS - 1)];
}

enum mg_svid_reason mg_svid_verify_cached(X509 *leaf, STACK_OF(X509) *untrusted,
					  const struct mg_svid_trust *trust, time_t now,
					  struct mg_svid_peer *out, struct mg_svid_cache *cache)
{
	enum mg_svid_reason r = mg_svid_check_leaf(leaf, now, out);
	const struct mg_svid_bundle *b;
	struct mg_svid_cache_slot *s = NULL;
	int64_t until = 0;

	if (r != MG_SVID_OK)
		return r;
	if ((b = bundle_of(trust, out)) == NULL)
		return MG_SVID_UNKNOWN_TRUST_DOMAIN;
	if (cache != NULL) {
		s = cache_slot(cache, out->leaf_sha256);
		if (s->chain_not_after > (int64_t)now && s->generation == trust->generation &&
		    memcmp(s->leaf_sha256, out->leaf_sha256, 32) == 0) {
			cache->hits++;
			return MG_SVID_OK;
		}
		cache->misses++;
	}
	r = verify_chain(leaf, untrusted, b, now, &until);
	if (r == MG_SVID_OK && s != NULL) {
		memcpy(s->leaf_sha256, out->leaf_sha256, 32);
		s->generation = trust->generation;
		s->chain_not_after = until;
	}
	return r;
}

enum mg_svid_reason mg_svid_verify(X509 *leaf, STACK_OF(X509) *untrusted,
				   const struct mg_svid_trust *trust, time_t now,
				   struct mg_svid_peer *out)
{
	return mg_svid_verify_cached(leaf, untrusted, trust, now, out, NULL);
}

MG_RESULT mg_svid_bundle_load(struct mg_svid_bundle *b, const char *td, const char *pem,
			      size_t len)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	X509_STORE *store = X509_STORE_new();
	X509 *ca = NULL;
	int n = 0, rc = 0;

	memset(b, 0, sizeof(*b));
	MG_ENSURE_GOTO(bio != NULL && store != NULL, out, NOMEM, "bundle %s: out of memory", td);
	MG_ENSURE_GOTO(strlen(td) <= MG_SPIFFE_TD_MAX, out, PROTO_FORMAT,
		       "bundle %s: trust domain too long", td);
	while ((ca = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		MG_ENSURE_GOTO(X509_check_ca(ca) != 0, out, PROTO_FORMAT,
			       "bundle %s: certificate %d is not a CA", td, n + 1);
		MG_ENSURE_GOTO(X509_STORE_add_cert(store, ca) == 1, out, CRYPTO,
			       "bundle %s: cannot add certificate %d", td, n + 1);
		X509_free(ca);
		ca = NULL;
		n++;
	}
	MG_ENSURE_GOTO(n > 0, out, PROTO_FORMAT, "bundle %s: no certificate", td);
	strcpy(b->td, td);
	b->store = store;
	store = NULL;
out:
	ERR_clear_error(); /* the PEM reader's end-of-input leaves an entry */
	X509_free(ca);
	X509_STORE_free(store);
	BIO_free(bio);
	return rc;
}

void mg_svid_bundle_free(struct mg_svid_bundle *b)
{
	X509_STORE_free(b->store);
	b->store = NULL;
}
