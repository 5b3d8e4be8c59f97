/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer: the snapshot envelope parser, then what the loader does next
 * with what it accepts (digest, signature count against two fixed trusted
 * keys, time rule), and adding a signature to it. The keys are the test
 * keys in tests/data/keys, so the seed corpus holds really signed inputs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "snapshot.h"

/* tests/data/keys/ed25519.pub and p256.pub */
static const char ed25519_pub[] =
	"-----BEGIN PUBLIC KEY-----\n"
	"MCowBQYDK2VwAyEAHcJAa6IKV/R4GP7JeQdvkMaLbLaq+btdDNia2XkoiYE=\n"
	"-----END PUBLIC KEY-----\n";
static const char p256_pub[] =
	"-----BEGIN PUBLIC KEY-----\n"
	"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEJ8oQ7UpQCOdGoQ8/bKMaEna2iQKW\n"
	"1mgI+D6f2NIuCXIq+CoN7naAL8WJsVRLDO9lUZQ2I4WHtM0tgjKBMLGy4A==\n"
	"-----END PUBLIC KEY-----\n";

/* Small enough that the fuzzer reaches the cap check too. */
#define FUZZ_CAP (64 * 1024)

static struct mg_key *trusted[2];

static void load_keys(void)
{
	if (mg_key_from_pem(ed25519_pub, sizeof(ed25519_pub) - 1, false, &trusted[0]) < 0 ||
	    mg_key_from_pem(p256_pub, sizeof(p256_pub) - 1, false, &trusted[1]) < 0)
		abort();
}

/* What a successful parse promises: every pointer inside the buffer. */
static void check_view(const uint8_t *data, size_t size, const struct mg_snapshot_view *v)
{
	const uint8_t *end = data + size;

	if (v->bytes != data || v->len != size || v->signed_len > size ||
	    v->signed_len != MG_SNAPSHOT_HEADER_LEN + v->payload_len ||
	    v->n_sigs > MG_SNAPSHOT_MAX_SIGS || v->meta.expires <= v->meta.not_before ||
	    v->meta.version == 0)
		abort();
	for (unsigned i = 0; i < v->n_sigs; i++)
		if (v->sigs[i].bytes < data + v->signed_len || v->sigs[i].bytes > end ||
		    v->sigs[i].len > (size_t)(end - v->sigs[i].bytes))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mg_snapshot_verdict r;
	struct mg_snapshot_view v, nv;
	uint8_t d[MG_SNAPSHOT_DIGEST_LEN], id[MG_KEY_ID_LEN] = { 0xfe }, sig[64] = { 0 }, *b;
	size_t len;

	if (!trusted[0])
		load_keys();
	if (mg_snapshot_parse(data, size, FUZZ_CAP, &v) < 0)
		return 0;
	check_view(data, size, &v);
	if (mg_snapshot_digest(&v, d) < 0)
		abort();
	if (mg_snapshot_verify(&v, trusted, 2, 1, &r) == 0 && r.n_valid < 1)
		abort();
	if (r.n_valid > v.n_sigs || r.n_valid > 2)
		abort();
	(void)mg_snapshot_check_time(&v, 1800000000);
	/* Adding a signature keeps the envelope parseable with one entry more. */
	if (mg_snapshot_add_signature(&v, id, MG_KEY_ED25519, sig, sizeof(sig), &b, &len) == 0) {
		if (mg_snapshot_parse(b, len, FUZZ_CAP + 256, &nv) < 0 || nv.n_sigs != v.n_sigs + 1 ||
		    nv.signed_len != v.signed_len || memcmp(nv.bytes, v.bytes, v.signed_len))
			abort();
		free(b);
	}
	return 0;
}
