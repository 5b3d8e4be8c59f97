/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * policy.conf: the sections (trust_domains, tls, workloads, services, rules)
 * read into the source model, each list sorted and every reference between
 * sections resolved; pol_parse_root() reads them in dependency order.
 */
#include "policy_priv.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "spiffe.h"

/* ---------------------------------------------------------------------- */
/* trust_domains = ( { name; bundle_pem | bundle_file; }, ... ) */

static int parse_td(struct ctx *c, const config_setting_t *e, const char *f,
		    struct mg_policy_td *td)
{
	static const struct cr_field known[] = {
		FIELD("name"), FIELD("bundle_pem"), FIELD("bundle_file"), { 0 },
	};
	const config_setting_t *pem_s = pol_member(e, "bundle_pem");
	const config_setting_t *file_s = pol_member(e, "bundle_file");
	const char *pem, *file, *problem;
	char ff[176], *text = NULL;
	size_t len = 0;
	int rc;

	MG_GUARD(pol_want_group(c, e, f));
	MG_GUARD(cr_known(&c->rd, e, f, known));
	MG_GUARD(pol_get_str(c, e, f, "name", true, MG_SPIFFE_TD_MAX, &td->name));
	problem = mg_spiffe_check_td(td->name, strlen(td->name));
	if (problem != NULL)
		return fail(c, pol_member(e, "name"), CONFIG_VALUE,
			    cr_path(ff, sizeof(ff), f, "name"),
			    "\"%s\": %s", td->name, problem);
	td->line = cr_line(&c->rd, e);
	if (pem_s != NULL && file_s != NULL)
		return fail(c, file_s, CONFIG_VALUE, cr_path(ff, sizeof(ff), f, "bundle_file"),
			    "give bundle_pem or bundle_file, not both");
	if (pem_s == NULL && file_s == NULL)
		return fail(c, e, CONFIG_MISSING, cr_path(ff, sizeof(ff), f, "bundle_pem"),
			    "required field is missing (a source file may say bundle_file)");
	if (pem_s != NULL) {
		MG_GUARD(pol_get_str(c, e, f, "bundle_pem", true, MG_POLICY_BUNDLE_MAX, &pem));
		return pol_load_bundle(c, pem_s, cr_path(ff, sizeof(ff), f, "bundle_pem"), pem,
				       strlen(pem), td);
	}
	cr_path(ff, sizeof(ff), f, "bundle_file");
	MG_GUARD(pol_get_str(c, e, f, "bundle_file", true, PATH_MAX - 1, &file));
	if (c->base_dir == NULL)
		return fail(c, file_s, CONFIG_VALUE, ff,
			    "a snapshot payload is self-contained: bundle_file is only read by "
			    "`meshctl snapshot build`, which inlines it as bundle_pem");
	rc = pol_read_bundle_file(c, file_s, ff, file, &text, &len);
	if (rc == 0)
		rc = pol_load_bundle(c, file_s, ff, text, len, td);
	free(text);
	return rc;
}

static int td_cmp(const void *a, const void *b)
{
	return strcmp(((const struct mg_policy_td *)a)->name,
		      ((const struct mg_policy_td *)b)->name);
}

static int parse_tds(struct ctx *c, const config_setting_t *root)
{
	struct mg_policy_src *src = c->src;
	const config_setting_t *seq;
	struct keyrec recs[MG_POLICY_MAX_TRUST_DOMAINS];
	char f[64];
	unsigned n;

	MG_GUARD(pol_get_seq(c, root, "", "trust_domains", true, MG_POLICY_MAX_TRUST_DOMAINS, &seq,
			     &n));
	if (n == 0)
		return fail(c, seq, CONFIG_VALUE, "trust_domains",
			    "names no trust domain: no peer could ever be verified");
	src->tds = pol_calloc(c, n, sizeof(*src->tds));
	if (src->tds == NULL)
		return NOMEM();
	for (unsigned i = 0; i < n; i++) {
		MG_GUARD(parse_td(c, config_setting_get_elem(seq, i),
				  cr_elem(f, sizeof(f), "trust_domains", i), &src->tds[i]));
		recs[i] = (struct keyrec){ .s = src->tds[i].name, .line = src->tds[i].line,
					   .a = i };
	}
	MG_GUARD(pol_name_dups(c, recs, n, "trust_domains", "trust domain"));
	qsort(src->tds, n, sizeof(*src->tds), td_cmp);
	src->n_tds = n;
	return 0;
}

static bool td_declared(const struct mg_policy_src *src, const char *td)
{
	struct mg_policy_td key = { .name = td };

	return bsearch(&key, src->tds, src->n_tds, sizeof(key), td_cmp) != NULL;
}

/* ---------------------------------------------------------------------- */
/* tls = { min_version; ciphersuites; groups; signature_algorithms; } */

static const char *const tls_suites[] = {
	"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
	"TLS_AES_128_CCM_SHA256", NULL,
};
static const char *const tls_groups[] = { "X25519", "X448", "P-256", "P-384", "P-521", NULL };
static const char *const tls_sigalgs[] = {
	"ecdsa_secp256r1_sha256", "ecdsa_secp384r1_sha384", "ecdsa_secp521r1_sha512",
	"ed25519", "ed448", "rsa_pss_rsae_sha256", "rsa_pss_rsae_sha384",
	"rsa_pss_rsae_sha512", "rsa_pss_pss_sha256", "rsa_pss_pss_sha384",
	"rsa_pss_pss_sha512", NULL,
};
static const char *default_suites[] = { "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
					"TLS_CHACHA20_POLY1305_SHA256" };
static const char *default_groups[] = { "X25519", "P-256" };
static const char *default_sigalgs[] = { "ecdsa_secp256r1_sha256", "ecdsa_secp384r1_sha384",
					 "ed25519", "rsa_pss_rsae_sha256" };

static const char *in_table(const char *s, const char *const *table)
{
	for (size_t i = 0; table[i] != NULL; i++)
		if (strcmp(s, table[i]) == 0)
			return NULL;
	return "is not a known name here";
}

static const char *check_suite(const char *s)
{
	return in_table(s, tls_suites) ? "is not a TLS 1.3 cipher suite meshgw offers "
					 "(TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, "
					 "TLS_CHACHA20_POLY1305_SHA256, TLS_AES_128_CCM_SHA256)"
				       : NULL;
}

static const char *check_group(const char *s)
{
	return in_table(s, tls_groups) ? "is not a known group (X25519, X448, P-256, "
					 "P-384, P-521)"
				       : NULL;
}

static const char *check_sigalg(const char *s)
{
	return in_table(s, tls_sigalgs) ? "is not a known TLS 1.3 signature scheme "
					  "(ecdsa_secp256r1_sha256, ed25519, rsa_pss_rsae_sha256, "
					  "...)"
					: NULL;
}

static int tls_list(struct ctx *c, const config_setting_t *g, const char *key,
		    const char *(*check)(const char *), const char **dflt, uint32_t n_dflt,
		    struct mg_policy_strv *out)
{
	char f[64];

	out->v = dflt;
	out->n = n_dflt;
	if (g == NULL || pol_member(g, key) == NULL)
		return 0;
	MG_GUARD(pol_get_strv(c, g, "tls", key, false, MG_POLICY_MAX_TLS_LIST, 64, check, true,
			      out));
	if (out->n == 0)
		return fail(c, pol_member(g, key), CONFIG_VALUE, cr_path(f, sizeof(f), "tls", key),
			    "must name at least one (leave it out for the defaults)");
	return 0;
}

static int parse_tls(struct ctx *c, const config_setting_t *root)
{
	static const struct cr_field known[] = {
		FIELD("min_version"), FIELD("ciphersuites"), FIELD("groups"),
		FIELD("signature_algorithms"), { 0 },
	};
	const config_setting_t *g = pol_member(root, "tls");
	struct mg_policy_tls *tls = &c->src->tls;
	const char *v = NULL;

	tls->min_version = 0x0304;
	if (g != NULL) {
		MG_GUARD(pol_want_group(c, g, "tls"));
		MG_GUARD(cr_known(&c->rd, g, "tls", known));
		MG_GUARD(pol_get_str(c, g, "tls", "min_version", false, 8, &v));
	}
	if (v != NULL && strcmp(v, "1.3") != 0)
		return fail(c, pol_member(g, "min_version"), CONFIG_VALUE, "tls.min_version",
			    "\"%s\": only \"1.3\" is accepted (no renegotiation, no "
			    "post-handshake auth: TLS 1.3 everywhere)", v);
	MG_GUARD(tls_list(c, g, "ciphersuites", check_suite, default_suites, 3,
			  &tls->ciphersuites));
	MG_GUARD(tls_list(c, g, "groups", check_group, default_groups, 2, &tls->groups));
	return tls_list(c, g, "signature_algorithms", check_sigalg, default_sigalgs, 4,
			&tls->sigalgs);
}

/* ---------------------------------------------------------------------- */
/* workloads = ( { name; spiffe_id; addresses; ports; images; }, ... ) */

static int check_name_field(const struct ctx *c, const config_setting_t *g, const char *f,
			    const char *name)
{
	const char *problem = pol_check_name(name);
	char ff[176];

	if (problem != NULL)
		return fail(c, pol_member(g, "name"), CONFIG_VALUE,
			    cr_path(ff, sizeof(ff), f, "name"),
			    "\"%s\" %s", name, problem);
	return 0;
}

static int parse_addrs(struct ctx *c, const config_setting_t *e, const char *f,
		       uint32_t pos, struct mg_policy_workload *w)
{
	const config_setting_t *seq;
	char af[176], ef[192];
	unsigned n;

	MG_GUARD(pol_get_seq(c, e, f, "addresses", false, MG_POLICY_MAX_ADDRESSES, &seq, &n));
	w->addrs = pol_calloc(c, n, sizeof(*w->addrs));
	if (w->addrs == NULL)
		return NOMEM();
	cr_path(af, sizeof(af), f, "addresses");
	for (unsigned i = 0; i < n; i++) {
		const config_setting_t *a = config_setting_get_elem(seq, i);
		const char *s, *problem;

		cr_elem(ef, sizeof(ef), af, i);
		MG_GUARD(pol_elem_str(c, a, ef, 15, &s));
		if (!pol_parse_ipv4(s, &w->addrs[i]))
			return fail(c, a, CONFIG_VALUE, ef,
				    "\"%s\" is not an IPv4 address (dotted quad)", s);
		problem = pol_check_unicast(w->addrs[i]);
		if (problem != NULL)
			return fail(c, a, CONFIG_VALUE, ef, "\"%s\" %s", s, problem);
		MG_GUARD(pol_add_addr(c, w->addrs[i], cr_line(&c->rd, a), pos, i));
	}
	qsort(w->addrs, n, sizeof(*w->addrs), pol_u32_cmp);
	/* Duplicates within and across workloads are found together later. */
	w->n_addrs = n;
	return 0;
}

static int parse_images(struct ctx *c, const config_setting_t *e, const char *f,
			struct mg_policy_workload *w)
{
	const config_setting_t *seq;
	char imf[176], ef[192];
	unsigned n;

	MG_GUARD(pol_get_seq(c, e, f, "images", false, MG_POLICY_MAX_IMAGES, &seq, &n));
	w->images = pol_calloc(c, n, sizeof(*w->images));
	if (w->images == NULL)
		return NOMEM();
	cr_path(imf, sizeof(imf), f, "images");
	for (unsigned i = 0; i < n; i++) {
		const config_setting_t *im = config_setting_get_elem(seq, i);
		const char *s;

		cr_elem(ef, sizeof(ef), imf, i);
		MG_GUARD(pol_elem_str(c, im, ef, 128, &s));
		if (!pol_parse_image(s, w->images[i]))
			return fail(c, im, CONFIG_VALUE, ef,
				    "\"%s\" is not an image digest \"sha256:<64 lower-case hex>\"",
				    s);
		for (unsigned j = 0; j < i; j++)
			if (memcmp(w->images[j], w->images[i], MG_POLICY_DIGEST_LEN) == 0)
				return fail(c, im, CONFIG_VALUE, ef, "\"%s\" is listed twice",
					    s);
	}
	qsort(w->images, n, sizeof(*w->images), pol_digest_cmp);
	w->n_images = n;
	return 0;
}

static int parse_workload_id(struct ctx *c, const config_setting_t *e, const char *f,
			     struct mg_policy_workload *w)
{
	struct mg_spiffe_id id;
	char ff[176];

	cr_path(ff, sizeof(ff), f, "spiffe_id");
	MG_GUARD(pol_get_str(c, e, f, "spiffe_id", true, MG_SPIFFE_MAX_LEN, &w->spiffe_id));
	if (mg_spiffe_parse(w->spiffe_id, &id) < 0)
		return fail(c, pol_member(e, "spiffe_id"), CONFIG_VALUE, ff, "\"%s\": %s",
			    w->spiffe_id, mg_errmsg());
	if (id.len == id.path_off)
		return fail(c, pol_member(e, "spiffe_id"), CONFIG_VALUE, ff,
			    "\"%s\" has an empty path, which names the trust domain, not a "
			    "workload", w->spiffe_id);
	if (!td_declared(c->src, id.td))
		return fail(c, pol_member(e, "spiffe_id"), CONFIG_VALUE, ff,
			    "trust domain \"%s\" is not declared in trust_domains", id.td);
	return 0;
}

static int parse_workload(struct ctx *c, const config_setting_t *e, const char *f,
			  uint32_t pos, struct mg_policy_workload *w)
{
	static const struct cr_field known[] = {
		FIELD("name"), FIELD("spiffe_id"), FIELD("addresses"), FIELD("ports"),
		FIELD("images"), { 0 },
	};
	bool present;

	MG_GUARD(pol_want_group(c, e, f));
	MG_GUARD(cr_known(&c->rd, e, f, known));
	w->line = cr_line(&c->rd, e);
	MG_GUARD(pol_get_str(c, e, f, "name", true, MG_POLICY_NAME_MAX, &w->name));
	MG_GUARD(check_name_field(c, e, f, w->name));
	MG_GUARD(parse_workload_id(c, e, f, w));
	MG_GUARD(parse_addrs(c, e, f, pos, w));
	MG_GUARD(pol_get_ports(c, e, f, "ports", &w->n_ports, &w->ports, &present));
	return parse_images(c, e, f, w);
}

static int workload_cmp(const void *a, const void *b)
{
	return strcmp(((const struct mg_policy_workload *)a)->name,
		      ((const struct mg_policy_workload *)b)->name);
}

/* Names and SPIFFE IDs are unique among workloads. */
static int workload_dups(struct ctx *c, const config_setting_t *seq, unsigned n)
{
	struct mg_policy_workload *w = c->src->workloads;
	struct keyrec *recs = calloc(n ? n : 1, sizeof(*recs));
	const char *what[2] = { "name", "spiffe_id" };
	char f[64];
	int rc = 0;

	if (recs == NULL)
		return NOMEM();
	for (int k = 0; k < 2 && rc == 0; k++) {
		long d;

		for (unsigned i = 0; i < n; i++) {
			const config_setting_t *m =
				pol_member(config_setting_get_elem(seq, i), what[k]);

			recs[i] = (struct keyrec){ .s = k ? w[i].spiffe_id : w[i].name,
						   .line = cr_line(&c->rd, m), .a = i };
		}
		d = pol_find_dup(recs, n);
		if (d < 0)
			continue;
		snprintf(f, sizeof(f), "workloads[%u].%s", recs[d].a, what[k]);
		rc = fail_at(c, recs[d].line, MG_ERR_CONFIG_VALUE, f,
			     "\"%s\" already belongs to another workload (line %u)", recs[d].s,
			     recs[d - 1].line);
	}
	free(recs);
	return rc;
}

static int parse_workloads(struct ctx *c, const config_setting_t *root)
{
	struct mg_policy_src *src = c->src;
	const config_setting_t *seq;
	char f[64];
	unsigned n;

	MG_GUARD(pol_get_seq(c, root, "", "workloads", false, MG_POLICY_MAX_WORKLOADS, &seq, &n));
	src->workloads = pol_calloc(c, n, sizeof(*src->workloads));
	if (src->workloads == NULL)
		return NOMEM();
	for (unsigned i = 0; i < n; i++)
		MG_GUARD(parse_workload(c, config_setting_get_elem(seq, i),
					cr_elem(f, sizeof(f), "workloads", i), i,
					&src->workloads[i]));
	if (n > 0)
		MG_GUARD(workload_dups(c, seq, n));
	/* Addresses are checked with the services' (parse_services). */
	src->n_workloads = n;
	return 0;
}

static int find_workload(const struct mg_policy_src *src, const char *name, uint32_t *idx)
{
	struct mg_policy_workload key = { .name = name }, *w;

	w = bsearch(&key, src->workloads, src->n_workloads, sizeof(key), workload_cmp);
	if (w == NULL)
		return -1;
	*idx = (uint32_t)(w - src->workloads);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* services = ( { name; address; workload; ports = ( { port; target_port; } ); } ) */

static bool serves(const struct mg_policy_workload *w, uint16_t port)
{
	return bsearch(&port, w->ports, w->n_ports, sizeof(port), pol_u16_cmp) != NULL;
}

static int svc_port_cmp(const void *a, const void *b)
{
	return pol_u16_cmp(&((const struct mg_policy_svc_port *)a)->port,
			   &((const struct mg_policy_svc_port *)b)->port);
}

static int parse_svc_ports(struct ctx *c, const config_setting_t *e, const char *f,
			   struct mg_policy_service *s)
{
	static const struct cr_field known[] = {
		FIELD("port"), FIELD("target_port"), { 0 },
	};
	const struct mg_policy_workload *w = &c->src->workloads[s->workload_idx];
	const config_setting_t *seq;
	char pf[176], ef[192], tf[208];
	unsigned n;

	MG_GUARD(pol_get_seq(c, e, f, "ports", true, MG_POLICY_MAX_PORTS, &seq, &n));
	cr_path(pf, sizeof(pf), f, "ports");
	if (n == 0)
		return fail(c, seq, CONFIG_VALUE, pf, "maps no port");
	s->ports = pol_calloc(c, n, sizeof(*s->ports));
	if (s->ports == NULL)
		return NOMEM();
	for (unsigned i = 0; i < n; i++) {
		const config_setting_t *p = config_setting_get_elem(seq, i);
		long long port = 0, target = 0;

		cr_elem(ef, sizeof(ef), pf, i);
		MG_GUARD(pol_want_group(c, p, ef));
		MG_GUARD(cr_known(&c->rd, p, ef, known));
		MG_GUARD(pol_get_int(c, p, ef, "port", 1, 65535, &port));
		MG_GUARD(pol_get_int(c, p, ef, "target_port", 1, 65535, &target));
		if (!serves(w, (uint16_t)target))
			return fail(c, pol_member(p, "target_port"), CONFIG_VALUE,
				    cr_path(tf, sizeof(tf), ef, "target_port"),
				    "workload \"%s\" does not serve port %lld", w->name, target);
		for (unsigned j = 0; j < i; j++)
			if (s->ports[j].port == port)
				return fail(c, pol_member(p, "port"), CONFIG_VALUE,
					    cr_path(tf, sizeof(tf), ef, "port"),
					    "port %lld is mapped twice", port);
		s->ports[i] = (struct mg_policy_svc_port){ (uint16_t)port, (uint16_t)target };
	}
	qsort(s->ports, n, sizeof(*s->ports), svc_port_cmp);
	s->n_ports = n;
	return 0;
}

static int parse_service(struct ctx *c, const config_setting_t *e, const char *f,
			 struct mg_policy_service *s)
{
	static const struct cr_field known[] = {
		FIELD("name"), FIELD("address"), FIELD("workload"), FIELD("ports"), { 0 },
	};
	const char *addr, *problem;
	char ff[176];

	MG_GUARD(pol_want_group(c, e, f));
	MG_GUARD(cr_known(&c->rd, e, f, known));
	s->line = cr_line(&c->rd, e);
	MG_GUARD(pol_get_str(c, e, f, "name", true, MG_POLICY_NAME_MAX, &s->name));
	MG_GUARD(check_name_field(c, e, f, s->name));
	MG_GUARD(pol_get_str(c, e, f, "address", true, 15, &addr));
	cr_path(ff, sizeof(ff), f, "address");
	if (!pol_parse_ipv4(addr, &s->addr))
		return fail(c, pol_member(e, "address"), CONFIG_VALUE, ff,
			    "\"%s\" is not an IPv4 address (dotted quad)", addr);
	problem = pol_check_unicast(s->addr);
	if (problem != NULL)
		return fail(c, pol_member(e, "address"), CONFIG_VALUE, ff, "\"%s\" %s", addr,
			    problem);
	MG_GUARD(pol_get_str(c, e, f, "workload", true, MG_POLICY_NAME_MAX, &s->workload));
	if (find_workload(c->src, s->workload, &s->workload_idx) < 0)
		return fail(c, pol_member(e, "workload"), CONFIG_VALUE,
			    cr_path(ff, sizeof(ff), f, "workload"), "no workload is named \"%s\"",
			    s->workload);
	return parse_svc_ports(c, e, f, s);
}

static int service_cmp(const void *a, const void *b)
{
	return strcmp(((const struct mg_policy_service *)a)->name,
		      ((const struct mg_policy_service *)b)->name);
}

/* One address, one owner: a workload address or a service address, once. */
static int address_dups(struct ctx *c)
{
	long d = pol_find_dup(c->addrs, c->n_addrs);
	const struct keyrec *r;
	char f[96], a[16];

	if (d < 0)
		return 0;
	r = &c->addrs[d];
	if (r->b == UINT32_MAX)
		snprintf(f, sizeof(f), "services[%u].address", r->a);
	else
		snprintf(f, sizeof(f), "workloads[%u].addresses[%u]", r->a, r->b);
	pol_format_ipv4((uint32_t)r->u, a, sizeof(a));
	return fail_at(c, r->line, MG_ERR_CONFIG_VALUE, f,
		       "address %s is already used at line %u (an address has one owner)", a,
		       r[-1].line);
}

static int parse_services(struct ctx *c, const config_setting_t *root)
{
	struct mg_policy_src *src = c->src;
	const config_setting_t *seq;
	struct keyrec *recs;
	char f[64];
	unsigned n;
	int rc = 0;

	MG_GUARD(pol_get_seq(c, root, "", "services", false, MG_POLICY_MAX_SERVICES, &seq, &n));
	src->services = pol_calloc(c, n, sizeof(*src->services));
	recs = calloc(n ? n : 1, sizeof(*recs));
	MG_ENSURE_GOTO(src->services != NULL && recs != NULL, out, NOMEM,
		       "policy: out of memory");
	for (unsigned i = 0; i < n; i++) {
		MG_GUARD_GOTO(rc = parse_service(c, config_setting_get_elem(seq, i),
						 cr_elem(f, sizeof(f), "services", i),
						 &src->services[i]),
			      out);
		MG_GUARD_GOTO(rc = pol_add_addr(c, src->services[i].addr,
						cr_line(&c->rd, pol_member(config_setting_get_elem(seq, i),
									   "address")),
						i, UINT32_MAX),
			      out);
		recs[i] = (struct keyrec){ .s = src->services[i].name,
					   .line = src->services[i].line, .a = i };
	}
	src->n_services = n;
	MG_GUARD_GOTO(rc = address_dups(c), out);
	MG_GUARD_GOTO(rc = pol_name_dups(c, recs, n, "services", "service"), out);
	qsort(src->services, n, sizeof(*src->services), service_cmp);
out:
	free(recs);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* rules = ( { name; action; from; to = { workload; ports; }; http; }, ... ) */

static const char *check_pattern_syntax(const char *s)
{
	static __thread struct mg_spiffe_id id;
	static __thread char why[320];

	if (mg_spiffe_parse_pattern(s, &id) == 0)
		return NULL;
	snprintf(why, sizeof(why), "is not a SPIFFE ID or \"spiffe://td[/path]/*\" pattern: %s",
		 mg_errmsg());
	return why;
}

static int parse_from(struct ctx *c, const config_setting_t *e, const char *f,
		      struct mg_policy_rule *r)
{
	const config_setting_t *seq = pol_member(e, "from");
	struct mg_spiffe_id id;
	char ff[176], ef[192];

	MG_GUARD(pol_get_strv(c, e, f, "from", true, MG_POLICY_MAX_FROM, MG_SPIFFE_MAX_LEN + 2,
			      check_pattern_syntax, false, &r->from));
	cr_path(ff, sizeof(ff), f, "from");
	if (r->from.n == 0)
		return fail(c, seq, CONFIG_VALUE, ff, "names no peer");
	c->n_from_total += r->from.n;
	if (c->n_from_total > MG_POLICY_MAX_FROM_TOTAL)
		return fail(c, seq, CONFIG_RANGE, ff,
			    "the rules name more than %u peers in all", MG_POLICY_MAX_FROM_TOTAL);
	/* Sorted now: find each one's setting again for its line. */
	for (unsigned i = 0; i < (unsigned)config_setting_length(seq); i++) {
		const config_setting_t *el = config_setting_get_elem(seq, i);

		if (mg_spiffe_parse_pattern(config_setting_get_string(el), &id) == 0 &&
		    !td_declared(c->src, id.td))
			return fail(c, el, CONFIG_VALUE, cr_elem(ef, sizeof(ef), ff, i),
				    "trust domain \"%s\" is not declared in trust_domains",
				    id.td);
	}
	return 0;
}

/* to = { workload = "web"; ports = [ 8080 ]; }: ports default to all it serves. */
static int parse_to(struct ctx *c, const config_setting_t *e, const char *f,
		    struct mg_policy_rule *r)
{
	static const struct cr_field known[] = {
		FIELD("workload"), FIELD("ports"), { 0 },
	};
	const config_setting_t *to = pol_member(e, "to");
	const struct mg_policy_workload *w;
	char tf[176], ff[192], ef[208];
	bool present;

	cr_path(tf, sizeof(tf), f, "to");
	if (to == NULL)
		return fail(c, e, CONFIG_MISSING, tf, "required field is missing");
	MG_GUARD(pol_want_group(c, to, tf));
	MG_GUARD(cr_known(&c->rd, to, tf, known));
	MG_GUARD(pol_get_str(c, to, tf, "workload", true, MG_POLICY_NAME_MAX, &r->to_workload));
	if (find_workload(c->src, r->to_workload, &r->to_idx) < 0)
		return fail(c, pol_member(to, "workload"), CONFIG_VALUE,
			    cr_path(ff, sizeof(ff), tf, "workload"), "no workload is named \"%s\"",
			    r->to_workload);
	w = &c->src->workloads[r->to_idx];
	if (w->n_ports == 0)
		return fail(c, pol_member(to, "workload"), CONFIG_VALUE,
			    cr_path(ff, sizeof(ff), tf, "workload"),
			    "workload \"%s\" serves no port: no rule can reach it", w->name);
	MG_GUARD(pol_get_ports(c, to, tf, "ports", &r->n_ports, &r->ports, &present));
	cr_path(ff, sizeof(ff), tf, "ports");
	if (present && r->n_ports == 0)
		return fail(c, pol_member(to, "ports"), CONFIG_VALUE, ff,
			    "names no port (leave it out for all of the workload's ports)");
	for (uint32_t i = 0; i < r->n_ports; i++)
		if (!serves(w, r->ports[i]))
			return fail(c, pol_member(to, "ports"), CONFIG_VALUE,
				    cr_elem(ef, sizeof(ef), ff, i),
				    "workload \"%s\" does not serve port %u", w->name,
				    r->ports[i]);
	if (!present) {
		r->ports = w->ports;
		r->n_ports = w->n_ports;
	}
	return 0;
}

/* Every "~regex" path as hyperscan will compile it (policy_l7.c), so a
 * pattern it refuses refuses the snapshot here, with the rule's name. */
static int check_regexes(struct ctx *c, const config_setting_t *h, const char *hf,
			 const struct mg_policy_rule *r)
{
	const config_setting_t *seq = pol_member(h, "paths");
	char pf[192], ef[208];

	cr_path(pf, sizeof(pf), hf, "paths");
	for (int i = 0; seq != NULL && i < config_setting_length(seq); i++) {
		const config_setting_t *el = config_setting_get_elem(seq, (unsigned)i);
		const char *s = config_setting_get_string(el), *why;

		if (s == NULL || s[0] != '~')
			continue;
		why = mg_policy_regex_check(s + 1);
		if (why != NULL)
			return fail(c, el, CONFIG_VALUE, cr_elem(ef, sizeof(ef), pf, (unsigned)i),
				    "rule \"%s\": \"%s\": %s", r->name, s, why);
	}
	return 0;
}

static int parse_http(struct ctx *c, const config_setting_t *e, const char *f,
		      struct mg_policy_rule *r)
{
	static const struct cr_field known[] = {
		FIELD("methods"), FIELD("paths"), FIELD("hosts"), { 0 },
	};
	const config_setting_t *h = pol_member(e, "http");
	char hf[176];

	if (h == NULL)
		return 0;
	cr_path(hf, sizeof(hf), f, "http");
	MG_GUARD(pol_want_group(c, h, hf));
	MG_GUARD(cr_known(&c->rd, h, hf, known));
	MG_GUARD(pol_get_strv(c, h, hf, "methods", false, MG_POLICY_MAX_METHODS,
			      MG_POLICY_METHOD_MAX,
			      pol_check_method, false, &r->methods));
	MG_GUARD(pol_get_strv(c, h, hf, "paths", false, MG_POLICY_MAX_PATHS,
			      MG_POLICY_HTTP_PATH_MAX,
			      pol_check_http_path, false, &r->paths));
	MG_GUARD(pol_get_strv(c, h, hf, "hosts", false, MG_POLICY_MAX_HOSTS, MG_POLICY_HOST_MAX,
			      pol_check_host, false, &r->hosts));
	if (r->methods.n + r->paths.n + r->hosts.n == 0)
		return fail(c, h, CONFIG_VALUE, hf,
			    "names no method, path or host (leave http out to allow any request)");
	r->has_http = true;
	return check_regexes(c, h, hf, r);
}

static int parse_rule(struct ctx *c, const config_setting_t *e, const char *f,
		      struct mg_policy_rule *r)
{
	static const struct cr_field known[] = {
		FIELD("name"), FIELD("action"), FIELD("from"), FIELD("to"), FIELD("http"),
		{ 0 },
	};
	const char *action;
	char ff[176];

	MG_GUARD(pol_want_group(c, e, f));
	MG_GUARD(cr_known(&c->rd, e, f, known));
	r->line = cr_line(&c->rd, e);
	MG_GUARD(pol_get_str(c, e, f, "name", true, MG_POLICY_NAME_MAX, &r->name));
	MG_GUARD(check_name_field(c, e, f, r->name));
	MG_GUARD(pol_get_str(c, e, f, "action", true, 16, &action));
	if (strcmp(action, "allow") == 0)
		r->action = MG_POLICY_ALLOW;
	else if (strcmp(action, "deny") == 0)
		r->action = MG_POLICY_DENY;
	else
		return fail(c, pol_member(e, "action"), CONFIG_VALUE,
			    cr_path(ff, sizeof(ff), f, "action"),
			    "\"%s\": expected \"allow\" or \"deny\"", action);
	MG_GUARD(parse_from(c, e, f, r));
	MG_GUARD(parse_to(c, e, f, r));
	return parse_http(c, e, f, r);
}

static int rule_cmp(const void *a, const void *b)
{
	return strcmp(((const struct mg_policy_rule *)a)->name,
		      ((const struct mg_policy_rule *)b)->name);
}

static int parse_rules(struct ctx *c, const config_setting_t *root)
{
	struct mg_policy_src *src = c->src;
	const config_setting_t *seq;
	struct keyrec *recs;
	char f[64];
	unsigned n;
	int rc = 0;

	MG_GUARD(pol_get_seq(c, root, "", "rules", false, MG_POLICY_MAX_RULES, &seq, &n));
	src->rules = pol_calloc(c, n, sizeof(*src->rules));
	recs = calloc(n ? n : 1, sizeof(*recs));
	MG_ENSURE_GOTO(src->rules != NULL && recs != NULL, out, NOMEM, "policy: out of memory");
	for (unsigned i = 0; i < n; i++) {
		MG_GUARD_GOTO(rc = parse_rule(c, config_setting_get_elem(seq, i),
					      cr_elem(f, sizeof(f), "rules", i), &src->rules[i]),
			      out);
		recs[i] = (struct keyrec){ .s = src->rules[i].name, .line = src->rules[i].line,
					   .a = i };
	}
	MG_GUARD_GOTO(rc = pol_name_dups(c, recs, n, "rules", "rule"), out);
	qsort(src->rules, n, sizeof(*src->rules), rule_cmp);
	src->n_rules = n;
out:
	free(recs);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* l7 = { on_deny = "keep" | "close"; merge_slashes; h2 = "refuse" | "downgrade"; } */

static int l7_choice(struct ctx *c, const config_setting_t *g, const char *key,
		     const char *no, const char *yes, bool *out)
{
	const char *v = NULL;
	char f[32];

	MG_GUARD(pol_get_str(c, g, "l7", key, false, 16, &v));
	if (v == NULL || strcmp(v, no) == 0)
		return 0;
	if (strcmp(v, yes) == 0) {
		*out = true;
		return 0;
	}
	return fail(c, pol_member(g, key), CONFIG_VALUE, cr_path(f, sizeof(f), "l7", key),
		    "\"%s\": expected \"%s\" or \"%s\"", v, no, yes);
}

static int parse_l7(struct ctx *c, const config_setting_t *root)
{
	static const struct cr_field known[] = {
		FIELD("on_deny"), FIELD("merge_slashes"), FIELD("h2"), { 0 },
	};
	const config_setting_t *g = pol_member(root, "l7");
	const config_setting_t *ms;
	struct mg_policy_l7_settings *l7 = &c->src->l7;

	if (g == NULL)
		return 0;
	MG_GUARD(pol_want_group(c, g, "l7"));
	MG_GUARD(cr_known(&c->rd, g, "l7", known));
	MG_GUARD(l7_choice(c, g, "on_deny", "keep", "close", &l7->close_on_deny));
	MG_GUARD(l7_choice(c, g, "h2", "refuse", "downgrade", &l7->h2_downgrade));
	ms = pol_member(g, "merge_slashes");
	if (ms == NULL)
		return 0;
	if (config_setting_type(ms) != CONFIG_TYPE_BOOL)
		return fail(c, ms, CONFIG_TYPE, "l7.merge_slashes", "expected true or false");
	l7->merge_slashes = config_setting_get_bool(ms) != 0;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* The whole file. */

int pol_parse_root(struct ctx *c, const config_setting_t *root)
{
	static const struct cr_field known[] = {
		FIELD("default_action"), FIELD("trust_domains"), FIELD("tls"),
		FIELD("workloads"), FIELD("services"), FIELD("rules"), FIELD("l7"), { 0 },
	};
	const char *dflt;

	MG_GUARD(cr_known(&c->rd, root, "", known));
	MG_GUARD(pol_get_str(c, root, "", "default_action", false, 16, &dflt));
	if (dflt != NULL && strcmp(dflt, "deny") != 0)
		return fail(c, pol_member(root, "default_action"), CONFIG_VALUE, "default_action",
			    "\"%s\": only \"deny\" is accepted (what no rule allows is denied)",
			    dflt);
	MG_GUARD(parse_tds(c, root));
	MG_GUARD(parse_tls(c, root));
	MG_GUARD(parse_l7(c, root));
	MG_GUARD(parse_workloads(c, root));
	/* Services and rules refer to workloads by name: sort them first. */
	qsort(c->src->workloads, c->src->n_workloads, sizeof(*c->src->workloads), workload_cmp);
	MG_GUARD(parse_services(c, root));
	return parse_rules(c, root);
}
