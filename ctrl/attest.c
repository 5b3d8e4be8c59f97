/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Attestation reports (attest.h): the canonical text of a report, its
 * signature with the node key and its check with the node's public key.
 */
#include "attest.h"

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

static const char *const field_names[MG_ATTEST__COUNT] = {
#define _(name, num) [MG_ATTEST_##name] = #name,
	foreach_mg_attest_field(_)
#undef _
};

static const int field_numeric[MG_ATTEST__COUNT] = {
#define _(name, num) [MG_ATTEST_##name] = num,
	foreach_mg_attest_field(_)
#undef _
};

const char *mg_attest_field_name(enum mg_attest_field f)
{
	return (unsigned)f < MG_ATTEST__COUNT ? field_names[f] : "unknown";
}

int mg_attest_field_is_number(enum mg_attest_field f)
{
	return (unsigned)f < MG_ATTEST__COUNT && field_numeric[f];
}

int mg_attest_canonical(const struct mg_attest_report *r, char *buf, size_t size)
{
	size_t n = 0;

	for (int f = 0; f < MG_ATTEST__COUNT; f++) {
		int w;

		/* A newline inside a value would let one field forge another. */
		if (strchr(r->value[f], '\n'))
			return -1;
		w = snprintf(buf + n, size - n, "%s=%s\n", field_names[f], r->value[f]);
		if (w < 0 || (size_t)w >= size - n)
			return -1;
		n += (size_t)w;
	}
	return (int)n;
}

int mg_attest_nonce_ok(const char *nonce)
{
	size_t n = strlen(nonce);

	return n >= MG_ATTEST_NONCE_MIN && n <= MG_ATTEST_NONCE_MAX &&
	       strspn(nonce, "0123456789abcdef") == n;
}

MG_RESULT mg_attest_sign(const struct mg_attest_report *r, const struct mg_key *key,
			 char *sig_b64, size_t size)
{
	char text[MG_ATTEST__COUNT * (MG_ATTEST_VALUE_MAX + 24)];
	uint8_t sig[MG_KEY_SIG_MAX];
	size_t sig_len = sizeof(sig);
	int n = mg_attest_canonical(r, text, sizeof(text));

	MG_ENSURE(n > 0, USAGE, "attestation report does not fit its canonical form");
	MG_GUARD(mg_key_sign(key, (const uint8_t *)text, (size_t)n, sig, &sig_len));
	MG_ENSURE(size >= 4 * ((sig_len + 2) / 3) + 1, USAGE, "signature buffer too small");
	EVP_EncodeBlock((unsigned char *)sig_b64, sig, (int)sig_len);
	return 0;
}

MG_RESULT mg_attest_verify(const struct mg_attest_report *r, const struct mg_key *pub,
			   const char *sig_b64)
{
	char text[MG_ATTEST__COUNT * (MG_ATTEST_VALUE_MAX + 24)];
	uint8_t sig[MG_KEY_SIG_MAX + 3];
	size_t b64_len = strlen(sig_b64);
	int n = mg_attest_canonical(r, text, sizeof(text)), sig_len;

	MG_ENSURE(n > 0, PROTO_FORMAT, "attestation report fields malformed");
	MG_ENSURE(b64_len > 0 && b64_len % 4 == 0 && b64_len / 4 * 3 <= sizeof(sig),
		  PROTO_FORMAT, "signature is not base64 of a plausible length");
	sig_len = EVP_DecodeBlock(sig, (const unsigned char *)sig_b64, (int)b64_len);
	MG_ENSURE(sig_len > 0, PROTO_FORMAT, "signature is not base64");
	/* DecodeBlock counts '=' padding as zero bytes: take them back off. */
	for (size_t i = b64_len; i > 0 && sig_b64[i - 1] == '='; i--)
		sig_len--;
	return mg_key_verify(pub, (const uint8_t *)text, (size_t)n, sig, (size_t)sig_len);
}
