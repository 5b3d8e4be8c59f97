/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The error record of mg_error.h: one per thread (code + sentence), and the
 * strings of the code table.
 */
#include "mg_error.h"

#include <stdio.h>
#include <string.h>

/* Thread-local so the control thread and meshctl never see a worker's error. */
static __thread enum mg_err last_code;
static __thread char last_msg[512];

static const char *const err_text[MG_ERR__COUNT] = {
#define _(sym, str) [MG_ERR_##sym] = str,
	foreach_mg_error(_)
#undef _
};

static const char *const err_name[MG_ERR__COUNT] = {
#define _(sym, str) [MG_ERR_##sym] = #sym,
	foreach_mg_error(_)
#undef _
};

int mg_error_set(enum mg_err code, const char *fmt, ...)
{
	va_list ap;

	last_code = code;
	va_start(ap, fmt);
	vsnprintf(last_msg, sizeof(last_msg), fmt, ap);
	va_end(ap);
	return -1;
}

enum mg_err mg_errno(void)
{
	return last_code;
}

const char *mg_errmsg(void)
{
	return last_msg;
}

const char *mg_strerror(enum mg_err code)
{
	return (unsigned)code < MG_ERR__COUNT ? err_text[code] : "unknown error";
}

const char *mg_errname(enum mg_err code)
{
	return (unsigned)code < MG_ERR__COUNT ? err_name[code] : "UNKNOWN";
}

void mg_error_clear(void)
{
	last_code = MG_ERR_OK;
	last_msg[0] = '\0';
}
