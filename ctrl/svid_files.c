/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The node's own SVID files (svid_files.h): load a chain and key, check them as
 * an X509-SVID under the bundles in force, notice a rotation by the files'
 * identity on disk and accept it only for the same SPIFFE ID.
 */
#include "svid_files.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

static MG_RESULT read_chain(const char *path, X509 **leaf, STACK_OF(X509) **chain)
{
	FILE *f = fopen(path, "r");
	X509 *x;

	MG_ENSURE(f != NULL, IO, "%s: %s", path, strerror(errno));
	*leaf = PEM_read_X509(f, NULL, NULL, NULL);
	*chain = sk_X509_new_null();
	while (*leaf != NULL && *chain != NULL && (x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
		sk_X509_push(*chain, x);
	fclose(f);
	ERR_clear_error(); /* the end of the file reads as an error */
	MG_ENSURE(*leaf != NULL, PROTO_FORMAT, "%s: no PEM certificate", path);
	MG_ENSURE(*chain != NULL, NOMEM, "%s: out of memory", path);
	return 0;
}

static MG_RESULT read_key(const char *path, EVP_PKEY **key)
{
	FILE *f = fopen(path, "r");

	MG_ENSURE(f != NULL, IO, "%s: %s", path, strerror(errno));
	*key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	ERR_clear_error();
	MG_ENSURE(*key != NULL, PROTO_FORMAT, "%s: no unencrypted PEM private key", path);
	return 0;
}

MG_RESULT mg_svid_files_load(const struct mg_svid_source *src, const struct mg_svid_trust *trust,
			     time_t now, struct mg_svid_files *out)
{
	enum mg_svid_reason r;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	/* stat first: a rename between stat and open shows as a change next time. */
	MG_ENSURE(stat(src->cert_path, &out->cert_st) == 0 && stat(src->key_path, &out->key_st) == 0,
		  IO, "svid %s: %s: %s", src->name, src->cert_path, strerror(errno));
	MG_GUARD_GOTO(read_chain(src->cert_path, &out->leaf, &out->chain), fail);
	MG_GUARD_GOTO(read_key(src->key_path, &out->key), fail);
	MG_ENSURE_GOTO(X509_check_private_key(out->leaf, out->key) == 1, fail, PROTO_FORMAT,
		       "svid %s: %s does not hold the key of %s", src->name, src->key_path,
		       src->cert_path);
	r = mg_svid_verify(out->leaf, out->chain, trust, now, &out->id);
	MG_ENSURE_GOTO(r == MG_SVID_OK, fail, PROTO_FORMAT, "svid %s: %s: %s (%s)", src->name,
		       src->cert_path, mg_svid_reason_desc(r), mg_svid_reason_name(r));
	return 0;
fail:
	ERR_clear_error();
	mg_svid_files_free(out);
	return rc < 0 ? rc : -1;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

bool mg_svid_files_changed(const struct mg_svid_source *src, const struct mg_svid_files *f)
{
	struct stat c, k;

	if (stat(src->cert_path, &c) != 0 || stat(src->key_path, &k) != 0)
		return true; /* gone: a load will say so */
	return !same_file(&c, &f->cert_st) || !same_file(&k, &f->key_st);
}

MG_RESULT mg_svid_files_rotate(struct mg_svid_files *cur, const struct mg_svid_source *src,
			       const struct mg_svid_trust *trust, time_t now, bool *rotated)
{
	struct mg_svid_files next;

	*rotated = false;
	if (!mg_svid_files_changed(src, cur))
		return 0;
	MG_GUARD(mg_svid_files_load(src, trust, now, &next));
	if (strcmp(next.id.id, cur->id.id) != 0) {
		mg_error_set(MG_ERR_PROTO_FORMAT, "svid %s: rotation to %s refused: it is %s",
			     src->name, next.id.id, cur->id.id);
		mg_svid_files_free(&next);
		return -1;
	}
	mg_svid_files_free(cur);
	*cur = next;
	*rotated = true;
	return 0;
}

void mg_svid_files_free(struct mg_svid_files *f)
{
	X509_free(f->leaf);
	sk_X509_pop_free(f->chain, X509_free);
	EVP_PKEY_free(f->key);
	f->leaf = NULL;
	f->chain = NULL;
	f->key = NULL;
}
