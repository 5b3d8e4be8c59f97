/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control socket (control.h): accept, check the peer's uid, read one whole
 * snapshot with a size cap and a deadline, hand it to the loader, reply.
 */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define ACCEPTS_PER_POLL 4 /* bound the work one control loop spends here */

static const char *const refusal_names[MG_CONTROL_REFUSED__COUNT] = {
#define _(sym, name, desc) [MG_CONTROL_REFUSED_##sym] = #name,
	foreach_mg_control_refusal(_)
#undef _
};

const char *mg_control_refusal_name(enum mg_control_refusal r)
{
	return (unsigned)r < MG_CONTROL_REFUSED__COUNT ? refusal_names[r] : "unknown";
}

/* Only a stale socket may be replaced: never unlink a regular file by mistake. */
static MG_RESULT remove_stale(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : mg_error_set(MG_ERR_IO, "%s: %s", path, strerror(errno));
	MG_ENSURE(S_ISSOCK(st.st_mode), IO, "%s exists and is not a socket", path);
	MG_ENSURE(unlink(path) == 0, IO, "%s: unlink: %s", path, strerror(errno));
	return 0;
}

MG_RESULT mg_control_open(struct mg_control *c, const char *path, uint64_t cap,
			  const uint32_t *uids, uint16_t n_uids)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	mode_t old_umask;
	int rc;

	memset(c, 0, sizeof(*c));
	c->listen_fd = -1;
	for (int i = 0; i < MG_CONTROL_MAX_CLIENTS; i++)
		c->clients[i].fd = -1;
	MG_ENSURE(strlen(path) < sizeof(sun.sun_path), IO, "%s: socket path too long", path);
	MG_ENSURE(n_uids <= 8, USAGE, "too many control uids");
	snprintf(c->path, sizeof(c->path), "%s", path);
	strcpy(sun.sun_path, path);
	c->cap = cap;
	c->n_uids = n_uids;
	memcpy(c->uids, uids, n_uids * sizeof(*uids));
	MG_GUARD(remove_stale(path));
	c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	MG_ENSURE(c->listen_fd >= 0, IO, "control socket: %s", strerror(errno));
	/* Created 0600 from the start: there is no window where others may connect. */
	old_umask = umask(0177);
	rc = bind(c->listen_fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old_umask);
	MG_ENSURE(rc == 0, IO, "%s: bind: %s", path, strerror(errno));
	MG_ENSURE(listen(c->listen_fd, MG_CONTROL_MAX_CLIENTS) == 0, IO, "%s: listen: %s",
		  path, strerror(errno));
	return 0;
}

static void client_close(struct mg_control_client *cl)
{
	if (cl->fd >= 0)
		close(cl->fd);
	free(cl->body);
	memset(cl, 0, sizeof(*cl));
	cl->fd = -1;
}

/* Best effort: the reply is short and the socket buffer empty, so it fits. */
static void reply_and_close(struct mg_control_client *cl, const char *line)
{
	ssize_t n = send(cl->fd, line, strlen(line), MSG_NOSIGNAL | MSG_DONTWAIT);

	(void)n;
	client_close(cl);
}

static void refuse(struct mg_control *c, struct mg_control_client *cl,
		   enum mg_control_refusal why, const struct mg_control_handler *h)
{
	char line[128];

	c->refusals[why]++;
	if (h->refused)
		h->refused(h->ctx, why, cl->uid);
	snprintf(line, sizeof(line), "refused reason=%s\n", mg_control_refusal_name(why));
	reply_and_close(cl, line);
}

static int uid_allowed(const struct mg_control *c, uid_t uid)
{
	for (uint16_t i = 0; i < c->n_uids; i++)
		if (c->uids[i] == uid)
			return 1;
	return 0;
}

static struct mg_control_client *free_slot(struct mg_control *c)
{
	for (int i = 0; i < MG_CONTROL_MAX_CLIENTS; i++)
		if (c->clients[i].fd < 0)
			return &c->clients[i];
	return NULL;
}

static void accept_one(struct mg_control *c, int fd, uint64_t now_ms,
		       const struct mg_control_handler *h)
{
	struct mg_control_client tmp = { .fd = fd }, *cl = free_slot(c);
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
		tmp.uid = cred.uid;
	else
		tmp.uid = (uid_t)-1;
	if (!cl) {
		refuse(c, &tmp, MG_CONTROL_REFUSED_BUSY, h);
		return;
	}
	if (tmp.uid == (uid_t)-1 || !uid_allowed(c, tmp.uid)) {
		refuse(c, &tmp, MG_CONTROL_REFUSED_UID, h);
		return;
	}
	*cl = tmp;
	cl->deadline_ms = now_ms + MG_CONTROL_DEADLINE_MS;
}

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* Header complete: check framing and the cap before allocating anything. */
static int start_body(struct mg_control *c, struct mg_control_client *cl,
		      const struct mg_control_handler *h)
{
	if (memcmp(cl->head, MG_CONTROL_MAGIC, MG_CONTROL_MAGIC_LEN) != 0) {
		refuse(c, cl, MG_CONTROL_REFUSED_MAGIC, h);
		return -1;
	}
	cl->body_len = be64(cl->head + MG_CONTROL_MAGIC_LEN);
	if (cl->body_len == 0 || cl->body_len > c->cap) {
		refuse(c, cl, MG_CONTROL_REFUSED_SIZE, h);
		return -1;
	}
	cl->body = malloc(cl->body_len);
	if (!cl->body) {
		refuse(c, cl, MG_CONTROL_REFUSED_SIZE, h);
		return -1;
	}
	return 0;
}

static void deliver(struct mg_control *c, struct mg_control_client *cl,
		    const struct mg_control_handler *h)
{
	char reply[MG_CONTROL_REPLY_MAX];

	c->pushes++;
	snprintf(reply, sizeof(reply), "refused reason=internal\n");
	h->snapshot(h->ctx, cl->body, cl->body_len, cl->uid, reply, sizeof(reply));
	reply_and_close(cl, reply);
}

/* Read what is there: 1 made progress, 0 would block, -1 the client is gone. */
static int read_some(struct mg_control *c, struct mg_control_client *cl,
		     const struct mg_control_handler *h)
{
	uint8_t *dst;
	size_t want;
	ssize_t n;

	if (cl->head_len < sizeof(cl->head)) {
		dst = cl->head + cl->head_len;
		want = sizeof(cl->head) - cl->head_len;
	} else {
		dst = cl->body + cl->body_got;
		want = cl->body_len - cl->body_got;
	}
	n = recv(cl->fd, dst, want, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	if (n <= 0) {
		refuse(c, cl, MG_CONTROL_REFUSED_EOF, h);
		return -1;
	}
	if (cl->head_len < sizeof(cl->head)) {
		cl->head_len += (size_t)n;
		if (cl->head_len == sizeof(cl->head) && start_body(c, cl, h) < 0)
			return -1;
		return 1;
	}
	cl->body_got += (uint64_t)n;
	if (cl->body_got == cl->body_len) {
		deliver(c, cl, h);
		return -1;
	}
	return 1;
}

void mg_control_poll(struct mg_control *c, uint64_t now_ms,
		     const struct mg_control_handler *h)
{
	for (int i = 0; i < ACCEPTS_PER_POLL && c->listen_fd >= 0; i++) {
		int fd = accept4(c->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			break;
		accept_one(c, fd, now_ms, h);
	}
	for (int i = 0; i < MG_CONTROL_MAX_CLIENTS; i++) {
		struct mg_control_client *cl = &c->clients[i];

		if (cl->fd < 0)
			continue;
		if (now_ms > cl->deadline_ms) {
			refuse(c, cl, MG_CONTROL_REFUSED_DEADLINE, h);
			continue;
		}
		/* Bounded reads per poll, so one fast client cannot hog the thread. */
		for (int k = 0; k < 16 && read_some(c, cl, h) == 1; k++)
			;
	}
}

void mg_control_close(struct mg_control *c)
{
	for (int i = 0; i < MG_CONTROL_MAX_CLIENTS; i++)
		client_close(&c->clients[i]);
	if (c->listen_fd >= 0) {
		close(c->listen_fd);
		unlink(c->path);
	}
	c->listen_fd = -1;
}
