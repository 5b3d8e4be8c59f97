/* SPDX-License-Identifier: BSD-3-Clause */
/** @file meshctl's file commands: keygen, snapshot, audit. */
#ifndef MG_MESHCTL_CMDS_H
#define MG_MESHCTL_CMDS_H

#include <stddef.h>
#include <stdint.h>

#include "mg_error.h"

/** `meshctl keygen ...` (argv[0] == "keygen"); returns the exit status. */
int mg_meshctl_keygen(int argc, char **argv);
/** `meshctl snapshot build|sign|signed-bytes|attach-sig|verify|inspect|digest ...`. */
int mg_meshctl_snapshot(int argc, char **argv);
/** `meshctl audit verify|checkpoint ...`. */
int mg_meshctl_audit(int argc, char **argv);

/* Shared by the file commands (meshctl_snapshot.c). */

/** The exit status for a failure of kind @p e: 1 refused, 2 usage, 3 i/o. */
int mg_meshctl_exit_for(enum mg_err e);
/** Print "meshctl CMD: <message>" for the last failure and return its exit status. */
int mg_meshctl_fail(const char *cmd);
/**
 * A point in time: "now", UTC seconds, or RFC 3339 with seconds and a zone
 * ("2026-11-23T10:00:00Z", "2026-11-23T11:00:00+01:00"). MG_ERR_USAGE otherwise.
 */
MG_RESULT mg_meshctl_parse_time(const char *s, uint64_t *out);
/** A duration: seconds, or a number with s, m, h, d or w ("3600", "30m", "7d"). */
MG_RESULT mg_meshctl_parse_duration(const char *s, uint64_t *out);
/** UTC seconds as RFC 3339 into @p buf (at least 32 bytes). */
void mg_meshctl_format_time(uint64_t t, char *buf, size_t size);

#endif /* MG_MESHCTL_CMDS_H */
