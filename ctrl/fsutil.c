/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Durable file-system steps (fsutil.h): fsync of a file's directory after a
 * rename or link, so the change survives a crash.
 */
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

MG_RESULT mg_fsync_dir_of(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd, rc = 0;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	MG_ENSURE(fd >= 0, IO, "%s: %s", dir, strerror(errno));
	if (fsync(fd) != 0)
		rc = mg_error_set(MG_ERR_IO, "%s: fsync: %s", dir, strerror(errno));
	close(fd);
	return rc;
}
