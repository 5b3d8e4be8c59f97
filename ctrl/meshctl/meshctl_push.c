/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * meshctl push: hand one whole snapshot to a gateway's control socket and
 * print its verdict. The socket accepts nothing else.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "meshctl_telemetry.h"
#include "snapshot.h"

#define DEFAULT_SOCKET "/run/meshgw/control.sock"
#define PUSH_CAP (256u << 20) /* the gateway enforces its own, smaller cap */
#define REPLY_TIMEOUT_S 30

static const char usage[] =
"Usage: meshctl push FILE [--socket PATH]\n"
"Send the snapshot FILE to the gateway's control socket (default " DEFAULT_SOCKET
",\nor $MESHGW_CONTROL) and print its verdict:\n"
"  accepted version=N digest=HEX    now active        (exit 0)\n"
"  unchanged version=N digest=HEX   already active    (exit 0)\n"
"  refused reason=R detail=...      nothing changed   (exit 1)\n"
"Exit 3 when the file or the socket cannot be used.\n";

static int send_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int connect_control(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = REPLY_TIMEOUT_S };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -1;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int push(const char *path, const uint8_t *buf, size_t len)
{
	uint8_t head[MG_CONTROL_MAGIC_LEN + 8];
	char reply[MG_CONTROL_REPLY_MAX + 1];
	ssize_t n, got = 0;
	int fd = connect_control(path);

	if (fd < 0) {
		fprintf(stderr, "meshctl: cannot connect to %s: %s\n", path, strerror(errno));
		return MESHCTL_EXIT_IO;
	}
	memcpy(head, MG_CONTROL_MAGIC, MG_CONTROL_MAGIC_LEN);
	for (int i = 0; i < 8; i++)
		head[MG_CONTROL_MAGIC_LEN + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
	/* A refusal may arrive before the body is sent: the reply is read anyway. */
	if (send_all(fd, head, sizeof(head)) == 0)
		(void)send_all(fd, buf, len);
	while ((n = recv(fd, reply + got, sizeof(reply) - 1 - (size_t)got, 0)) > 0)
		got += n;
	close(fd);
	reply[got] = '\0';
	if (got == 0) {
		fprintf(stderr, "meshctl: no verdict from %s\n", path);
		return MESHCTL_EXIT_IO;
	}
	fputs(reply, stdout);
	return strncmp(reply, "accepted ", 9) == 0 || strncmp(reply, "unchanged ", 10) == 0
		       ? MESHCTL_EXIT_OK
		       : MESHCTL_EXIT_REFUSED;
}

int mg_meshctl_push(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *socket_path = getenv("MESHGW_CONTROL");
	uint8_t *buf = NULL;
	size_t len = 0;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "s:h", longopts, NULL)) != -1) {
		if (c == 's') {
			socket_path = optarg;
		} else if (c == 'h') {
			fputs(usage, stdout);
			return MESHCTL_EXIT_OK;
		} else {
			fputs(usage, stderr);
			return MESHCTL_EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		fputs(usage, stderr);
		return MESHCTL_EXIT_USAGE;
	}
	if (mg_snapshot_read_file(argv[optind], PUSH_CAP, &buf, &len) < 0) {
		fprintf(stderr, "meshctl: %s\n", mg_errmsg());
		return MESHCTL_EXIT_IO;
	}
	rc = push(socket_path && *socket_path ? socket_path : DEFAULT_SOCKET, buf, len);
	free(buf);
	return rc;
}
