/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * policy.conf: the canonical text of a source model (lists sorted, defaults
 * explicit, bundles inline), which is the snapshot payload, `meshctl snapshot
 * inspect` output and golden file alike; and the build-time inlining of files.
 */
#include "policy_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------- */
/* The canonical text. */

/* Every string printed was validated; escape anyway so output always parses. */
static void put_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch == '\n')
			fputs("\\n", f);
		else if (ch < 0x20 || ch >= 0x7f)
			fprintf(f, "\\x%02x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static void put_strv(FILE *f, const char *ind, const char *key, const struct mg_policy_strv *v)
{
	fprintf(f, "%s%s = [", ind, key);
	if (v->n == 1) {
		fputc(' ', f);
		put_str(f, v->v[0]);
	}
	for (uint32_t i = 0; v->n > 1 && i < v->n; i++) {
		fprintf(f, "%s\n%s\t", i ? "," : "", ind);
		put_str(f, v->v[i]);
	}
	if (v->n > 1)
		fprintf(f, "\n%s];\n", ind);
	else
		fputs(" ];\n", f);
}

static void put_ports(FILE *f, const char *ind, const char *key, const uint16_t *p, uint32_t n)
{
	fprintf(f, "%s%s = [", ind, key);
	for (uint32_t i = 0; i < n; i++)
		fprintf(f, "%s %u", i ? "," : "", p[i]);
	fputs(" ];\n", f);
}

static void put_bundle(FILE *f, const struct mg_policy_td *td)
{
	const char *ind = "\t\t";
	const char *p = td->bundle_pem, *end = p + td->bundle_len, *line = td->summary;

	while (*line) { /* the summary as comment lines */
		size_t n = strcspn(line, "\n");

		fprintf(f, "%s# %.*s\n", ind, (int)n, line);
		line += n + (line[n] != '\0');
	}
	fprintf(f, "%sbundle_pem =", ind);
	/* One string per PEM line; libconfig joins adjacent strings. */
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		fprintf(f, "\n%s\t\"%.*s%s\"", ind, (int)n, p, nl ? "\\n" : "");
		p += n + (nl != NULL);
	}
	fputs(";\n", f);
}

static void put_tds(FILE *f, const struct mg_policy_src *src)
{
	fputs("trust_domains = (\n", f);
	for (uint32_t i = 0; i < src->n_tds; i++) {
		fputs("\t{\n\t\tname = ", f);
		put_str(f, src->tds[i].name);
		fputs(";\n", f);
		put_bundle(f, &src->tds[i]);
		fprintf(f, "\t}%s\n", i + 1 < src->n_tds ? "," : "");
	}
	fputs(");\n", f);
}

static void put_tls(FILE *f, const struct mg_policy_tls *tls)
{
	fputs("tls = {\n\tmin_version = \"1.3\";\n", f);
	put_strv(f, "\t", "ciphersuites", &tls->ciphersuites);
	put_strv(f, "\t", "groups", &tls->groups);
	put_strv(f, "\t", "signature_algorithms", &tls->sigalgs);
	fputs("};\n", f);
}

static void put_l7(FILE *f, const struct mg_policy_l7_settings *l7)
{
	fprintf(f, "l7 = {\n\ton_deny = \"%s\";\n\tmerge_slashes = %s;\n\th2 = \"%s\";\n};\n",
		l7->close_on_deny ? "close" : "keep", l7->merge_slashes ? "true" : "false",
		l7->h2_downgrade ? "downgrade" : "refuse");
}

static void put_workload(FILE *f, const struct mg_policy_workload *w)
{
	char a[16];

	fputs("\t{\n\t\tname = ", f);
	put_str(f, w->name);
	fputs(";\n\t\tspiffe_id = ", f);
	put_str(f, w->spiffe_id);
	fputs(";\n\t\taddresses = [", f);
	for (uint32_t i = 0; i < w->n_addrs; i++) {
		pol_format_ipv4(w->addrs[i], a, sizeof(a));
		fprintf(f, "%s \"%s\"", i ? "," : "", a);
	}
	fputs(" ];\n", f);
	put_ports(f, "\t\t", "ports", w->ports, w->n_ports);
	fputs("\t\timages = [", f);
	for (uint32_t i = 0; i < w->n_images; i++) {
		fprintf(f, "%s\n\t\t\t\"sha256:", i ? "," : "");
		for (int k = 0; k < MG_POLICY_DIGEST_LEN; k++)
			fprintf(f, "%02x", w->images[i][k]);
		fputc('"', f);
	}
	fputs(w->n_images ? "\n\t\t];\n" : " ];\n", f);
	fputs("\t}", f);
}

static void put_service(FILE *f, const struct mg_policy_service *s)
{
	char a[16];

	pol_format_ipv4(s->addr, a, sizeof(a));
	fputs("\t{\n\t\tname = ", f);
	put_str(f, s->name);
	fprintf(f, ";\n\t\taddress = \"%s\";\n\t\tworkload = ", a);
	put_str(f, s->workload);
	fputs(";\n\t\tports = (", f);
	for (uint32_t i = 0; i < s->n_ports; i++)
		fprintf(f, "%s\n\t\t\t{ port = %u; target_port = %u; }", i ? "," : "",
			s->ports[i].port, s->ports[i].target_port);
	fputs("\n\t\t);\n\t}", f);
}

static void put_rule(FILE *f, const struct mg_policy_rule *r)
{
	fputs("\t{\n\t\tname = ", f);
	put_str(f, r->name);
	fprintf(f, ";\n\t\taction = \"%s\";\n", mg_policy_action_name(r->action));
	put_strv(f, "\t\t", "from", &r->from);
	fputs("\t\tto = {\n\t\t\tworkload = ", f);
	put_str(f, r->to_workload);
	fputs(";\n", f);
	put_ports(f, "\t\t\t", "ports", r->ports, r->n_ports);
	fputs("\t\t};\n", f);
	if (r->has_http) {
		fputs("\t\thttp = {\n", f);
		put_strv(f, "\t\t\t", "methods", &r->methods);
		put_strv(f, "\t\t\t", "paths", &r->paths);
		put_strv(f, "\t\t\t", "hosts", &r->hosts);
		fputs("\t\t};\n", f);
	}
	fputs("\t}", f);
}

MG_RESULT mg_policy_normalize(const struct mg_policy_src *src, FILE *f)
{
	fputs("# meshgw policy, normalized: lists sorted (TLS lists keep their preference\n"
	      "# order), defaults explicit, trust bundles inline.\n"
	      "default_action = \"deny\";\n", f);
	put_tds(f, src);
	put_tls(f, &src->tls);
	put_l7(f, &src->l7);
	fputs("workloads = (", f);
	for (uint32_t i = 0; i < src->n_workloads; i++) {
		fputs(i ? ",\n" : "\n", f);
		put_workload(f, &src->workloads[i]);
	}
	fputs("\n);\nservices = (", f);
	for (uint32_t i = 0; i < src->n_services; i++) {
		fputs(i ? ",\n" : "\n", f);
		put_service(f, &src->services[i]);
	}
	fputs("\n);\nrules = (", f);
	for (uint32_t i = 0; i < src->n_rules; i++) {
		fputs(i ? ",\n" : "\n", f);
		put_rule(f, &src->rules[i]);
	}
	fputs("\n);\n", f);
	MG_ENSURE(!ferror(f), IO, "policy: writing the normalized text failed");
	return 0;
}

MG_RESULT mg_policy_normalize_buf(const struct mg_policy_src *src, char **out, size_t *out_len)
{
	FILE *f;
	int rc;

	*out = NULL;
	*out_len = 0;
	f = open_memstream(out, out_len);
	MG_ENSURE(f != NULL, NOMEM, "policy: out of memory");
	rc = mg_policy_normalize(src, f);
	if (fclose(f) != 0 && rc == 0)
		rc = mg_error_set(MG_ERR_NOMEM, "policy: out of memory");
	if (rc < 0) {
		free(*out);
		*out = NULL;
		*out_len = 0;
	}
	return rc;
}

MG_RESULT mg_policy_inline_files(const char *text, size_t len, const char *name,
				 const char *base_dir, char **out, size_t *out_len)
{
	struct mg_policy_src *src;
	int rc;

	*out = NULL;
	*out_len = 0;
	MG_GUARD(mg_policy_parse(text, len, name, base_dir ? base_dir : ".", &src));
	rc = mg_policy_normalize_buf(src, out, out_len);
	mg_policy_src_free(src);
	return rc;
}
