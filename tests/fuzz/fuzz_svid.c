/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer: SVID extraction (dataplane/svid.c) on any DER a peer could send as
 * its leaf, and the SPIFFE ID checker (base/spiffe.c) on the same bytes as a URI.
 * Seeds: the dev PKI's good and bad leaves in DER (tests/fuzz/corpus/svid/).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "svid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	const unsigned char *p = data;
	struct mg_svid_peer peer;
	struct mg_svid_trust none = { 0 };
	size_t td_len = 0;
	X509 *x;

	if (!ready && mg_svid_init() == 0)
		ready = 1;
	if (mg_spiffe_check((const char *)data, size, &td_len) == NULL &&
	    (td_len == 0 || td_len > MG_SPIFFE_TD_MAX || td_len + MG_SPIFFE_SCHEME_LEN > size))
		abort(); /* a valid ID has a trust domain inside it */
	x = d2i_X509(NULL, &p, (long)size);
	if (x == NULL)
		return 0;
	(void)mg_svid_verify(x, NULL, &none, 1700000000, &peer);
	if (peer.id_len != 0) {
		/* An ID the leaf's checks took is well formed, whatever came after. */
		if (peer.id_len != strlen(peer.id) ||
		    mg_spiffe_check(peer.id, peer.id_len, NULL) != NULL)
			abort();
		if (peer.has_image && strlen(peer.image) != MG_SVID_IMAGE_LEN)
			abort();
	}
	X509_free(x);
	return 0;
}
