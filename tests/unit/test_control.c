/* SPDX-License-Identifier: BSD-3-Clause */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "control.h"

struct seen {
	int snapshots, refusals;
	enum mg_control_refusal last_refusal;
	size_t last_len;
	uint8_t first_byte;
};

static char dir[64], path[128];

static void on_snapshot(void *ctx, const uint8_t *bytes, size_t len, uid_t uid,
			char *reply, size_t size)
{
	struct seen *s = ctx;

	(void)uid;
	s->snapshots++;
	s->last_len = len;
	s->first_byte = bytes[0];
	snprintf(reply, size, "accepted len=%zu\n", len);
}

static void on_refused(void *ctx, enum mg_control_refusal why, uid_t uid)
{
	struct seen *s = ctx;

	(void)uid;
	s->refusals++;
	s->last_refusal = why;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int client(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 5 }; /* a test never waits without bound */
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	strcpy(sun.sun_path, path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

static void send_header(int fd, const char *magic, uint64_t len)
{
	uint8_t h[16];

	memcpy(h, magic, 8);
	for (int i = 0; i < 8; i++)
		h[8 + i] = (uint8_t)(len >> (56 - 8 * i));
	assert_int_equal(send(fd, h, sizeof(h), 0), (ssize_t)sizeof(h));
}

/* Poll until the handler saw something or 2 s passed (bounded). */
static void pump(struct mg_control *c, struct seen *s, uint64_t at_ms)
{
	struct mg_control_handler h = { on_snapshot, on_refused, s };
	uint64_t end = now_ms() + 2000;

	while (s->snapshots + s->refusals == 0 && now_ms() < end) {
		mg_control_poll(c, at_ms ? at_ms : now_ms(), &h);
		usleep(1000);
	}
}

static void read_reply(int fd, char *buf, size_t size)
{
	ssize_t n = recv(fd, buf, size - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	close(fd);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/mg-test-control-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/control.sock", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	rmdir(dir);
	return 0;
}

static void whole_snapshot_delivered(void **state)
{
	struct mg_control c;
	struct seen s = { 0 };
	uint32_t root = 0;
	char reply[128];
	struct stat st;
	int fd;

	(void)state;
	assert_int_equal(mg_control_open(&c, path, 4096, &root, 1), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	fd = client();
	send_header(fd, MG_CONTROL_MAGIC, 3);
	assert_int_equal(send(fd, "xyz", 3, 0), 3);
	pump(&c, &s, 0);
	read_reply(fd, reply, sizeof(reply));
	assert_int_equal(s.snapshots, 1);
	assert_int_equal(s.last_len, 3);
	assert_int_equal(s.first_byte, 'x');
	assert_string_equal(reply, "accepted len=3\n");
	mg_control_close(&c);
}

static void expect_refusal(uint32_t allowed_uid, const char *magic, uint64_t len,
			   uint64_t advance_ms, enum mg_control_refusal want, int close_early)
{
	struct mg_control c;
	struct seen s = { 0 };
	char reply[128], expect[128];
	int fd;

	assert_int_equal(mg_control_open(&c, path, 4096, &allowed_uid, 1), 0);
	fd = client();
	if (magic)
		send_header(fd, magic, len);
	if (close_early)
		shutdown(fd, SHUT_WR);
	pump(&c, &s, 0);
	/* Poll "in the future", relative to now: the client was accepted before it. */
	if (advance_ms && s.refusals == 0)
		pump(&c, &s, now_ms() + advance_ms);
	read_reply(fd, reply, sizeof(reply));
	assert_int_equal(s.snapshots, 0);
	assert_int_equal(s.refusals, 1);
	assert_int_equal(s.last_refusal, want);
	assert_int_equal(c.refusals[want], 1);
	snprintf(expect, sizeof(expect), "refused reason=%s\n", mg_control_refusal_name(want));
	assert_string_equal(reply, expect);
	mg_control_close(&c);
}

static void uid_not_allowed_refused(void **state)
{
	(void)state;
	expect_refusal(12345, MG_CONTROL_MAGIC, 3, 0, MG_CONTROL_REFUSED_UID, 0);
}

static void bad_magic_refused(void **state)
{
	(void)state;
	expect_refusal(0, "GET / HT", 3, 0, MG_CONTROL_REFUSED_MAGIC, 0);
}

static void over_cap_refused_before_reading(void **state)
{
	(void)state;
	expect_refusal(0, MG_CONTROL_MAGIC, 100ull << 20, 0, MG_CONTROL_REFUSED_SIZE, 0);
}

static void zero_length_refused(void **state)
{
	(void)state;
	expect_refusal(0, MG_CONTROL_MAGIC, 0, 0, MG_CONTROL_REFUSED_SIZE, 0);
}

static void truncated_refused(void **state)
{
	(void)state;
	expect_refusal(0, MG_CONTROL_MAGIC, 100, 0, MG_CONTROL_REFUSED_EOF, 1);
}

static void slow_client_cut_at_deadline(void **state)
{
	(void)state;
	/* Polling "in the future" makes the deadline pass without sleeping 10 s. */
	expect_refusal(0, MG_CONTROL_MAGIC, 100, MG_CONTROL_DEADLINE_MS + 1,
		       MG_CONTROL_REFUSED_DEADLINE, 0);
}

static void regular_file_not_replaced(void **state)
{
	struct mg_control c;
	uint32_t root = 0;
	FILE *f = fopen(path, "w");

	(void)state;
	fclose(f);
	assert_int_equal(mg_control_open(&c, path, 4096, &root, 1), -1);
	assert_int_equal(mg_errno(), MG_ERR_IO);
	assert_non_null(strstr(mg_errmsg(), "not a socket"));
	mg_control_close(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(whole_snapshot_delivered, setup, teardown),
		cmocka_unit_test_setup_teardown(uid_not_allowed_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_magic_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(over_cap_refused_before_reading, setup, teardown),
		cmocka_unit_test_setup_teardown(zero_length_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(truncated_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(slow_client_cut_at_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(regular_file_not_replaced, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
