/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * policy.conf parser internals shared by policy.c (entry points, pool, field
 * access), policy_validate.c, policy_bundle.c, policy_parse.c and
 * policy_normalize.c. Not for other rooms.
 */
#ifndef MG_POLICY_PRIV_H
#define MG_POLICY_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libconfig.h>

#include "confread.h"
#include "policy.h"

/* A key with where it was written, to report the later of two duplicates. */
struct keyrec {
	const char *s;
	uint64_t u;
	unsigned line;
	uint32_t a, b; /* indices to rebuild the field path */
};

struct ctx {
	struct cr_reader rd;  /* messages and lines (confread) */
	const char *name;     /* source name in messages */
	const char *base_dir; /* NULL: payload, no file reads */
	struct mg_policy_src *src;
	struct mg_policy_pool *pool;
	uint32_t n_from_total;
	struct keyrec *addrs; /* every address with its place, for one-owner checks */
	size_t n_addrs, cap_addrs;
};

#define fail_at(c, line, code, field, ...) \
	cr_fail_line(&(c)->rd, line, field, code, __VA_ARGS__)
#define fail(c, s, code, field, ...) \
	cr_fail(&(c)->rd, s, field, MG_ERR_##code, __VA_ARGS__)
#define NOMEM() mg_error_set(MG_ERR_NOMEM, "policy: out of memory")

/* A table entry that only names a field (the sections read in code order). */
#define FIELD(n) { .name = n }

/* ---- policy.c: the pool and field access ------------------------------- */

void *pol_alloc(struct mg_policy_pool *p, size_t n);
const char *pol_strndup(struct ctx *c, const char *s, size_t n);
void *pol_calloc(struct ctx *c, size_t n, size_t size);
config_setting_t *pol_member(const config_setting_t *g, const char *key);
int pol_want_group(const struct ctx *c, const config_setting_t *s, const char *field);
/* A string member; *out is NULL when it is absent and optional. */
int pol_get_str(struct ctx *c, const config_setting_t *g, const char *parent,
		const char *key, bool required, size_t max, const char **out);
/* A sequence member: [ a, b ] or ( a, b ). *out NULL when absent. */
int pol_get_seq(const struct ctx *c, const config_setting_t *g, const char *parent,
		const char *key, bool required, unsigned max,
		const config_setting_t **out, unsigned *n);
int pol_elem_str(const struct ctx *c, const config_setting_t *e, const char *f, size_t max,
		 const char **out);
int pol_get_int(const struct ctx *c, const config_setting_t *g, const char *parent,
		const char *key, long long min, long long max, long long *out);

/* ---- policy_validate.c: value syntax, duplicates, scalar lists ---------- */

/* Each check returns NULL or the problem. */
const char *pol_check_name(const char *s);
bool pol_parse_ipv4(const char *s, uint32_t *out);
const char *pol_check_unicast(uint32_t a);
void pol_format_ipv4(uint32_t a, char *buf, size_t n);
bool pol_parse_image(const char *s, uint8_t out[MG_POLICY_DIGEST_LEN]);
const char *pol_check_method(const char *s);
const char *pol_check_http_path(const char *s);
const char *pol_check_host(const char *s);
long pol_find_dup(struct keyrec *recs, size_t n);
int pol_name_dups(const struct ctx *c, struct keyrec *recs, unsigned n, const char *list,
		  const char *kind);
int pol_add_addr(struct ctx *c, uint32_t addr, unsigned line, uint32_t a, uint32_t b);
int pol_str_cmp(const void *a, const void *b);
int pol_u16_cmp(const void *a, const void *b);
int pol_u32_cmp(const void *a, const void *b);
int pol_digest_cmp(const void *a, const void *b);
int pol_get_strv(struct ctx *c, const config_setting_t *g, const char *parent,
		 const char *key, bool required, unsigned max, size_t maxlen,
		 const char *(*check)(const char *), bool keep_order,
		 struct mg_policy_strv *out);
int pol_get_ports(struct ctx *c, const config_setting_t *g, const char *parent,
		  const char *key, uint32_t *n_out, uint16_t **out, bool *present);

/* ---- policy_bundle.c ---------------------------------------------------- */

int pol_load_bundle(struct ctx *c, const config_setting_t *s, const char *field,
		    const char *pem, size_t len, struct mg_policy_td *td);
int pol_read_bundle_file(struct ctx *c, const config_setting_t *s, const char *field,
			 const char *file, char **text, size_t *len);

/* ---- policy_parse.c ----------------------------------------------------- */

int pol_parse_root(struct ctx *c, const config_setting_t *root);

#endif /* MG_POLICY_PRIV_H */
