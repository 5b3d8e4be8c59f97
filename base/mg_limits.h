/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Compile-time limits every floor sizes its arrays by. gateway.conf validates
 * against them (ctrl/config.c); drivers and workers size per-port and
 * per-worker state with them.
 */
#ifndef MG_LIMITS_H
#define MG_LIMITS_H

#define MG_MAX_PORTS 4      /* ports per gateway */
#define MG_MAX_WORKERS 16   /* worker lcores */
#define MG_MAX_LISTENERS 64 /* listeners in gateway.conf */
#define MG_MAX_SVIDS 16    /* the node's own SVIDs in gateway.conf */
#define MG_NAME_LEN 32      /* port and listener names, with the NUL */
#define MG_DEVICE_LEN 256   /* PCI address or vdev devargs, with the NUL */

#endif /* MG_LIMITS_H */
