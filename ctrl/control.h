/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The control socket: the only write path into a running gateway. A unix
 * stream socket, mode 0600, whose peers' uids are checked against gateway.conf.
 * Each connection carries exactly one whole snapshot:
 *
 *     "MGPUSH1\n" || u64 big-endian length || snapshot bytes
 *
 * and gets one reply line ("accepted ...", "unchanged ...", "refused reason=...").
 * Everything is non-blocking and polled from the control thread; a slow or
 * hostile client is cut off by the size cap and the read deadline, never waited for.
 */
#ifndef MG_CONTROL_H
#define MG_CONTROL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mg_error.h"

#define MG_CONTROL_MAGIC "MGPUSH1\n"
#define MG_CONTROL_MAGIC_LEN 8
#define MG_CONTROL_MAX_CLIENTS 8
#define MG_CONTROL_DEADLINE_MS 10000
#define MG_CONTROL_REPLY_MAX 512

/* Why a connection was refused before its snapshot reached the loader. */
#define foreach_mg_control_refusal(_)                          \
	_(UID, uid_not_allowed, "peer uid is not in control.allowed_uids") \
	_(BUSY, busy, "too many control connections at once")  \
	_(MAGIC, bad_framing, "connection did not start with the push header") \
	_(SIZE, size_cap, "announced snapshot length exceeds the size cap") \
	_(DEADLINE, deadline, "snapshot not received within the read deadline") \
	_(EOF, truncated, "connection closed before the whole snapshot arrived")

enum mg_control_refusal {
#define _(sym, name, desc) MG_CONTROL_REFUSED_##sym,
	foreach_mg_control_refusal(_)
#undef _
	MG_CONTROL_REFUSED__COUNT
};

struct mg_control_handler {
	/** A whole snapshot arrived from @p uid; write the reply line into @p reply. */
	void (*snapshot)(void *ctx, const uint8_t *bytes, size_t len, uid_t uid,
			 char *reply, size_t reply_size);
	/** A connection was refused before the loader saw anything (audited). */
	void (*refused)(void *ctx, enum mg_control_refusal why, uid_t uid);
	void *ctx;
};

struct mg_control_client {
	int fd;
	uid_t uid;
	uint64_t deadline_ms;
	uint8_t head[MG_CONTROL_MAGIC_LEN + 8];
	size_t head_len;
	uint8_t *body;
	uint64_t body_len, body_got;
};

struct mg_control {
	int listen_fd;
	char path[108];
	uint64_t cap;
	uint16_t n_uids;
	uint32_t uids[8];
	struct mg_control_client clients[MG_CONTROL_MAX_CLIENTS];
	uint64_t refusals[MG_CONTROL_REFUSED__COUNT];
	uint64_t pushes;
};

/** Create the socket at @p path (0600), replacing a stale socket there. */
MG_RESULT mg_control_open(struct mg_control *c, const char *path, uint64_t cap,
			  const uint32_t *uids, uint16_t n_uids);
/** Accept, read and dispatch what is ready; never blocks. */
void mg_control_poll(struct mg_control *c, uint64_t now_ms,
		     const struct mg_control_handler *h);
/** Close every connection and remove the socket file. */
void mg_control_close(struct mg_control *c);
/** Name of a refusal as written in audit records and replies. */
const char *mg_control_refusal_name(enum mg_control_refusal r);

#endif /* MG_CONTROL_H */
