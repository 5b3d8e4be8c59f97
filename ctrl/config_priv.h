/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * gateway.conf parser internals shared by config.c (load), config_node.c,
 * config_ports.c, config_listeners.c, config_tls.c and config_fields.c. Not
 * for other rooms.
 */
#ifndef MG_CONFIG_PRIV_H
#define MG_CONFIG_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libconfig.h>

#include "confread.h"
#include "config.h"

#define FIELD_TEXT CR_PATH_MAX /* dotted field paths shown in messages */

/* The config a load fills (the reader's base moves into ports and listeners). */
#define CFG(ld) ((struct mg_config *)(ld)->owner)

#define ENSURE_AT(cond, ld, s, field, code, ...)                                   \
	do {                                                                       \
		if (!(cond))                                                       \
			return cr_fail(ld, s, field, MG_ERR_##code, __VA_ARGS__); \
	} while (0)

/* Table entries. */
#define FN(n, fn, req) { .name = n, .read = fn, .required = req }
#define SLOT(st, m) .off = offsetof(st, m), .size = sizeof(((st *)0)->m)
#define INT_AT(n, fn, st, m, lo, hi) \
	{ .name = n, .read = fn, SLOT(st, m), .min = lo, .max = hi }
#define CFG_INT(n, m, lo, hi) INT_AT(n, cfg_int, struct mg_config, m, lo, hi)
#define CFG_AT(n, fn, m) { .name = n, .read = fn, SLOT(struct mg_config, m) }
#define GROUP(n, table, chk, req) \
	{ .name = n, .read = cfg_group, .sub = table, .check = chk, .required = req }
#define NESTED(n, st, m, table, chk) \
	{ .name = n, .read = cfg_nested, SLOT(st, m), .sub = table, .check = chk }
#define PROB(n, m) { .name = n, .read = cfg_prob, SLOT(struct mg_fault_dir_config, m) }

typedef MG_RESULT (*elem_check_fn)(const struct cr_reader *ld, const config_setting_t *g,
				   const char *path, int i);

/* A list ( { ... }, ... ) whose i-th group fills the i-th struct of an array. */
struct list_of {
	const char *what;           /* "ports", in the count's message */
	int min, max;
	size_t size;                /* of one struct */
	const struct cr_field *fields;
	elem_check_fn check;        /* element i against those before it, or NULL */
};

/* ---- config_fields.c: value readers ------------------------------------ */

MG_RESULT cfg_read_string(const struct cr_reader *ld, const config_setting_t *s,
			  const char *path, char *dst, size_t size);
MG_RESULT cfg_read_path(const struct cr_reader *ld, const config_setting_t *s,
			const char *path, char *dst, size_t size, bool file);
bool cfg_all_in(const char *s, const char *extra, bool upper);
void *cfg_dest(const struct cr_reader *ld, const struct cr_field *f);
/* Field readers (cr_field_fn) into the slot f->off of the reader's base. */
MG_RESULT cfg_int(struct cr_reader *ld, const struct cr_field *f,
		  const config_setting_t *s, const char *path);
MG_RESULT cfg_desc(struct cr_reader *ld, const struct cr_field *f,
		   const config_setting_t *s, const char *path);
MG_RESULT cfg_bool(struct cr_reader *ld, const struct cr_field *f,
		   const config_setting_t *s, const char *path);
MG_RESULT cfg_prob(struct cr_reader *ld, const struct cr_field *f,
		   const config_setting_t *s, const char *path);
MG_RESULT cfg_dir(struct cr_reader *ld, const struct cr_field *f,
		  const config_setting_t *s, const char *path);
MG_RESULT cfg_file(struct cr_reader *ld, const struct cr_field *f,
		   const config_setting_t *s, const char *path);
MG_RESULT cfg_group(struct cr_reader *ld, const struct cr_field *f,
		    const config_setting_t *s, const char *path);
MG_RESULT cfg_nested(struct cr_reader *ld, const struct cr_field *f,
		     const config_setting_t *s, const char *path);
MG_RESULT cfg_list(struct cr_reader *ld, const config_setting_t *s, const char *path,
		   const struct list_of *l, void *first, uint16_t *count);
MG_RESULT cfg_array(const struct cr_reader *ld, const config_setting_t *s,
		    const char *path, int min, int max, int *n);
MG_RESULT cfg_distinct_ints(const struct cr_reader *ld, const config_setting_t *s,
			    const char *path, int max, long long lo, long long hi,
			    const char *what, long long *v, int *n);
/* IPv4 text and prefixes. */
bool cfg_dec(const char **p, unsigned max, unsigned *out);
bool cfg_quad(const char **p, uint32_t *addr);
uint32_t cfg_prefix_mask(unsigned len);
void cfg_ip_text(uint32_t a, char *buf, size_t size);
const char *cfg_unusable(uint32_t a);
const char *cfg_edge_of(uint32_t a, unsigned len);
int cfg_hexval(char c);

/* ---- the sections ------------------------------------------------------ */

extern const struct cr_field cfg_top_fields[];         /* config_node.c */
MG_RESULT cfg_ports(struct cr_reader *ld, const struct cr_field *f,
		    const config_setting_t *s, const char *path); /* config_ports.c */
MG_RESULT cfg_listeners(struct cr_reader *ld, const struct cr_field *f,
			const config_setting_t *s, const char *path);
/* Listeners against the ports, once the whole file is read (config_listeners.c). */
MG_RESULT cfg_check_listeners(const struct cr_reader *ld, const config_setting_t *root);
/* The node's SVIDs and the tls group (config_tls.c). */
MG_RESULT cfg_svids(struct cr_reader *ld, const struct cr_field *f,
		    const config_setting_t *s, const char *path);
extern const struct cr_field cfg_tls_fields[];
MG_RESULT cfg_check_tls(struct cr_reader *ld, const config_setting_t *g, const char *path);

#endif /* MG_CONFIG_PRIV_H */
