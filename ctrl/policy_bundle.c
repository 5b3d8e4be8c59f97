/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * policy.conf: trust bundles. PEM text that holds only CA certificates is
 * split, checked, re-encoded in a canonical order and summarized; bundle_file
 * is read here (build time only).
 */
#include "policy_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

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
	char *buf = pol_alloc(c->pool, n * each + 1), *p = buf;

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
	td->bundle_pem = pol_strndup(c, text, (size_t)len);
	td->bundle_len = (size_t)len;
	td->n_certs = n;
	td->summary = summarize(c, ders, n);
	why = td->bundle_pem == NULL || td->summary == NULL ? "out of memory" : NULL;
out:
	BIO_free(out);
	return why;
}

int pol_load_bundle(struct ctx *c, const config_setting_t *s, const char *field,
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
int pol_read_bundle_file(struct ctx *c, const config_setting_t *s, const char *field,
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
