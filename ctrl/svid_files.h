/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The node's own SVIDs: certificate chain and key PEM files named in
 * gateway.conf, written by the node's SVID issuer (a SPIRE agent,
 * spiffe-helper) and replaced by rename. The control thread loads them at
 * start and picks up rotations; secrets never travel in a snapshot.
 *
 * A pair is accepted only when the key matches the leaf and the leaf is a
 * valid X509-SVID under the trust bundles in force (svid.h). A rotation is
 * accepted only for the same SPIFFE ID; another ID, a chain to no bundle, an
 * expired or not-yet-valid leaf is refused and the running pair stays.
 */
#ifndef MG_SVID_FILES_H
#define MG_SVID_FILES_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/x509.h>

#include "mg_error.h"
#include "mg_limits.h"
#include "svid.h"

/** One SVID as gateway.conf names it. */
struct mg_svid_source {
	char name[MG_NAME_LEN];   /* how listeners refer to it */
	char cert_path[PATH_MAX]; /* PEM: the leaf, then its intermediates */
	char key_path[PATH_MAX];  /* PEM private key */
};

/** A loaded, checked pair and what identifies the files it came from. */
struct mg_svid_files {
	X509 *leaf;
	STACK_OF(X509) *chain; /* intermediates, maybe empty */
	EVP_PKEY *key;
	struct mg_svid_peer id; /* its SPIFFE ID, image, notAfter, fingerprint */
	struct stat cert_st, key_st;
};

/**
 * Load @p src and check it against @p trust at @p now. On failure mg_errmsg()
 * says which file and why ("...: the leaf has expired").
 */
MG_RESULT mg_svid_files_load(const struct mg_svid_source *src, const struct mg_svid_trust *trust,
			     time_t now, struct mg_svid_files *out);

/** True when either file on disk is not the one @p f was loaded from. */
bool mg_svid_files_changed(const struct mg_svid_source *src, const struct mg_svid_files *f);

/**
 * Pick up a rotation: if the files changed, load them and, when the new pair
 * names the same SPIFFE ID as @p cur, replace @p cur (*@p rotated = true).
 * A refused rotation leaves @p cur as it was and fails with the reason.
 */
MG_RESULT mg_svid_files_rotate(struct mg_svid_files *cur, const struct mg_svid_source *src,
			       const struct mg_svid_trust *trust, time_t now, bool *rotated);

void mg_svid_files_free(struct mg_svid_files *f);

#endif /* MG_SVID_FILES_H */
