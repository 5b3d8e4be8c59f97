/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * confread: the one field reader under gateway.conf (config*.c) and policy.conf
 * (policy*.c). It owns "FILE:LINE: FIELD: PROBLEM" messages, field paths, the
 * field table and its walk (unknown fields refused), and the scalar readers.
 *
 * The two files were written with slightly different wording ("expected a
 * string, found an integer" against "expected a string"); tests and operators'
 * scripts match those messages byte for byte, so each parser passes its own
 * struct cr_style and the reader writes what that parser always wrote.
 */
#ifndef MG_CONFREAD_H
#define MG_CONFREAD_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <libconfig.h>

#include "mg_error.h"

/* How one parser words its messages and numbers its lines. */
struct cr_style {
	bool say_found;         /* "expected X, found Y" rather than "expected X" */
	bool refuse_hex;        /* integers: refuse 0x literals and 64-bit overflow */
	bool list_known;        /* unknown field: "(known here: a, b, ...)" */
	bool fixed_lines;       /* lines from cr_fix_lines(), not libconfig's 16 bits */
	bool len_in_bytes;      /* "is N bytes long, at most M allowed" */
	bool mark_cut;          /* a path cut at its buffer ends in "..." */
	enum mg_err empty_code; /* the code of "must not be empty" */
	size_t problem_max;     /* bytes of the PROBLEM part, NUL included */
};

/*
 * One read of one file. @base is the struct the current table fills (field
 * offsets are inside it); @owner is the caller's own context.
 */
struct cr_reader {
	const char *file; /* FILE in messages */
	const struct cr_style *style;
	void *base;
	void *owner;
};

struct cr_field;
typedef MG_RESULT (*cr_field_fn)(struct cr_reader *r, const struct cr_field *f,
				 const config_setting_t *s, const char *path);
typedef MG_RESULT (*cr_check_fn)(struct cr_reader *r, const config_setting_t *g,
				 const char *path);

/* A field a group may hold; a table ends with a NULL name. */
struct cr_field {
	const char *name;
	cr_field_fn read;        /* NULL: the caller reads it itself (names only) */
	bool required;
	size_t off, size;        /* destination inside r->base */
	long long min, max;      /* integers */
	const struct cr_field *sub; /* groups */
	cr_check_fn check;       /* groups: cross-field rules after the walk */
};

#define CR_PATH_MAX 128 /* field paths of the walk ("ports[1].fault.rx.loss") */

/** Rebuild every setting's true line into its hook (libconfig keeps 16 bits). */
void cr_fix_lines(config_setting_t *root);

/** The line a message about @p s points at (the root has none: 1). */
unsigned cr_line(const struct cr_reader *r, const config_setting_t *s);

/** "FILE:LINE: FIELD: PROBLEM" with @p code; always -1. */
int cr_fail_line(const struct cr_reader *r, unsigned line, const char *field,
		 enum mg_err code, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/** cr_fail_line() with a va_list. */
int cr_vfail_line(const struct cr_reader *r, unsigned line, const char *field,
		  enum mg_err code, const char *fmt, va_list ap);

/** The same at the line of @p s. */
int cr_fail(const struct cr_reader *r, const config_setting_t *s, const char *field,
	    enum mg_err code, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/** "parent.name" (or "name" at the top) into @p dst of @p n bytes. */
const char *cr_path(char *dst, size_t n, const char *parent, const char *name);

/** cr_path(), and where the style says so a cut path ends in "...". */
const char *cr_join(const struct cr_reader *r, char *dst, size_t n, const char *parent,
		    const char *name);

/** "parent[i]" into @p dst of @p n bytes. */
const char *cr_elem(char *dst, size_t n, const char *parent, unsigned i);

/** What a setting is, for messages: "an integer", "a group { }". */
const char *cr_type_name(const config_setting_t *s);

/** @p s must be of libconfig @p type; @p what names it ("a string"). */
MG_RESULT cr_want(const struct cr_reader *r, const config_setting_t *s, const char *path,
		  int type, const char *what);

/** An integer in @p min..@p max. */
MG_RESULT cr_int(const struct cr_reader *r, const config_setting_t *s, const char *path,
		 long long min, long long max, long long *v);

/**
 * A string of 1..@p max bytes; *@p v points into libconfig's tree (valid
 * until it is destroyed), *@p n is its length.
 */
MG_RESULT cr_str(const struct cr_reader *r, const config_setting_t *s, const char *path,
		 size_t max, const char **v, size_t *n);

/** "required field is missing", at the group @p g that lacks it. */
int cr_missing(const struct cr_reader *r, const config_setting_t *g, const char *path);

/** The entry of @p table named @p name, or NULL. */
const struct cr_field *cr_find(const struct cr_field *table, const char *name);

/** Refuse the first member of group @p g that @p table does not name. */
MG_RESULT cr_known(const struct cr_reader *r, const config_setting_t *g, const char *path,
		   const struct cr_field *table);

/**
 * Read group @p g against @p table: each member in file order through its
 * entry's reader (an unknown one is refused at its line), then the required
 * entries that were absent, in table order.
 */
MG_RESULT cr_walk(struct cr_reader *r, const config_setting_t *g, const char *path,
		  const struct cr_field *table);

#endif /* MG_CONFREAD_H */
