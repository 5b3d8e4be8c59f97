/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The dev PKI of conf/pki.sh for the mTLS tests (test_svid, test_tls_hs,
 * test_tls_svc, test_tls_gen): minted once per program into a fresh temporary
 * folder, read back as certificates, keys and trust bundles, removed at the end.
 * Programs run from tests/unit (meson's workdir), so the script is ../../conf.
 */
#ifndef MG_TEST_PKI_FIXTURE_H
#define MG_TEST_PKI_FIXTURE_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "svid.h"

static char pki[64];

/* Mint the PKI into /tmp/meshgw-test-<name>.XXXXXX; -1 if anything failed. */
static inline int pki_make(const char *name)
{
	char cmd[160];

	snprintf(pki, sizeof(pki), "/tmp/meshgw-test-%.20s.XXXXXX", name);
	if (mkdtemp(pki) == NULL)
		return -1;
	snprintf(cmd, sizeof(cmd), "../../conf/pki.sh %s >/dev/null", pki);
	return system(cmd) == 0 ? 0 : -1;
}

static inline int pki_remove(void)
{
	char cmd[96];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", pki);
	return system(cmd) == 0 ? 0 : -1;
}

/* PKI/rel as a certificate (the first in the file) or a private key; NULL if absent. */
static inline void *pki_read(const char *rel, bool key)
{
	char path[192];
	void *obj;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", pki, rel);
	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	obj = key ? (void *)PEM_read_PrivateKey(f, NULL, NULL, NULL)
		  : (void *)PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return obj;
}

/* The bundle of trust domain @p td (its CA, PKI/td/ca.pem) into @p b. */
static inline int pki_bundle(struct mg_svid_bundle *b, const char *td)
{
	char path[192], pem[16384];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/ca.pem", pki, td);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(pem, 1, sizeof(pem), f);
	fclose(f);
	return mg_svid_bundle_load(b, td, pem, n);
}

#endif /* MG_TEST_PKI_FIXTURE_H */
