/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The load client of bench/l7.sh: HTTP/1.1 requests over kept-alive mTLS
 * connections, one request in flight per connection (no pipelining), the
 * latency of every request measured from the write of its first byte to the
 * last byte of its response. One thread, epoll, OpenSSL.
 *
 * Why a C client: the servers under test require a client certificate and
 * neither wrk (no client certificates, even from Lua) nor h2load (nghttp2 1.52:
 * no client-certificate option) can present one; Python's ssl saturates its
 * core at a few thousand requests/s, far below what one proxy core serves.
 *
 * Usage: l7_client --to IP:PORT --cert PEM --key PEM [--conns N] [--secs S]
 *          [--warmup S] [--requests N] [--path P] [--host H] [--method M]
 * Prints one JSON object: requests completed in the window, req/s, latency
 * percentiles (1 µs buckets), responses per status code, errors, reconnects,
 * the client's own CPU seconds. Exit 0 when it measured, 1 when it could not
 * (no connection, a stall, a malformed response), 64 on bad usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define MAX_CONNS 1024
#define RBUF 16384
#define HIST_US 1000000 /* 1 µs buckets up to 1 s; slower requests count in the last */
#define STALL_NS 5000000000LL /* no response on any connection for 5 s: give up */
#define MAX_RECONNECTS 100000 /* bounds the loop when a server closes every time */

struct conn {
	SSL *ssl;
	int fd;
	bool busy;           /* a request is in flight */
	int64_t sent_ns;     /* when its first byte went out */
	size_t rlen;         /* bytes in rbuf */
	char rbuf[RBUF];
};

static struct {
	const char *to, *cert, *key, *path, *host, *method;
	int conns;
	double secs, warmup;
	long max_requests;   /* 0: until the window ends */
} opt = { .path = "/", .host = "backend", .method = "GET", .conns = 16, .secs = 10,
	  .warmup = 2 };

static struct sockaddr_in dst;
static SSL_CTX *ctx;
static struct conn *conns;
static char req[2048];
static int req_len, ep;
static uint32_t *hist;
static long counted, errors, reconnects, status_n[600];
static int64_t win_start, win_end, last_progress, max_ns;
static char first_error[256];

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void fail_note(const char *what)
{
	errors++;
	if (!first_error[0])
		snprintf(first_error, sizeof(first_error), "%s", what);
}

static void usage(void)
{
	fprintf(stderr, "usage: l7_client --to IP:PORT --cert PEM --key PEM [--conns N] "
			"[--secs S] [--warmup S] [--requests N] [--path P] [--host H] [--method M]\n");
	exit(64);
}

static void parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "to", 1, 0, 't' },	 { "cert", 1, 0, 'c' },	  { "key", 1, 0, 'k' },
		{ "conns", 1, 0, 'n' },	 { "secs", 1, 0, 's' },	  { "warmup", 1, 0, 'w' },
		{ "requests", 1, 0, 'r' }, { "path", 1, 0, 'p' }, { "host", 1, 0, 'H' },
		{ "method", 1, 0, 'm' }, { 0, 0, 0, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 't': opt.to = optarg; break;
		case 'c': opt.cert = optarg; break;
		case 'k': opt.key = optarg; break;
		case 'n': opt.conns = atoi(optarg); break;
		case 's': opt.secs = atof(optarg); break;
		case 'w': opt.warmup = atof(optarg); break;
		case 'r': opt.max_requests = atol(optarg); break;
		case 'p': opt.path = optarg; break;
		case 'H': opt.host = optarg; break;
		case 'm': opt.method = optarg; break;
		default: usage();
		}
	}
	if (!opt.to || !opt.cert || !opt.key || opt.conns < 1 || opt.conns > MAX_CONNS ||
	    opt.secs <= 0 || opt.warmup < 0 || opt.secs + opt.warmup > 3600)
		usage();
}

static void setup(void)
{
	char ip[64];
	const char *colon = strrchr(opt.to, ':');

	if (!colon || (size_t)(colon - opt.to) >= sizeof(ip))
		usage();
	memcpy(ip, opt.to, (size_t)(colon - opt.to));
	ip[colon - opt.to] = 0;
	dst.sin_family = AF_INET;
	dst.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, ip, &dst.sin_addr) != 1)
		usage();
	req_len = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: l7_client\r\n"
			   "Accept: */*\r\n\r\n", opt.method, opt.path, opt.host);
	if (req_len <= 0 || (size_t)req_len >= sizeof(req))
		usage();
	/* The same TLS as bench/mtls.sh's servers; the server is not verified
	 * (spares the client's core; the servers verify the client). */
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256") ||
	    !SSL_CTX_set1_groups_list(ctx, "X25519") ||
	    SSL_CTX_use_certificate_file(ctx, opt.cert, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, opt.key, SSL_FILETYPE_PEM) != 1) {
		ERR_print_errors_fp(stderr);
		exit(1);
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	conns = calloc((size_t)opt.conns, sizeof(*conns));
	hist = calloc(HIST_US + 1, sizeof(*hist));
	ep = epoll_create1(0);
	if (!conns || !hist || ep < 0)
		exit(1);
}

/* Blocking connect and handshake (5 s timeouts), then non-blocking for the loop. */
static bool conn_open(struct conn *c)
{
	struct timeval tv = { .tv_sec = 5 };
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
	int one = 1;

	errno = 0;
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0)
		return false;
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->ssl = SSL_new(ctx);
	if (connect(c->fd, (struct sockaddr *)&dst, sizeof(dst)) != 0 || !c->ssl ||
	    !SSL_set_fd(c->ssl, c->fd) || SSL_connect(c->ssl) != 1) {
		fail_note(errno ? strerror(errno) : "TLS handshake failed");
		return false;
	}
	fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
	c->rlen = 0;
	c->busy = false;
	return epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) == 0;
}

static void conn_close(struct conn *c)
{
	if (c->ssl)
		SSL_free(c->ssl);
	if (c->fd >= 0)
		close(c->fd);
	c->ssl = NULL;
	c->fd = -1;
}

/* The request is small: one record, written whole or (rarely) retried later. */
static bool conn_send(struct conn *c)
{
	int n;

	c->sent_ns = now_ns();
	n = SSL_write(c->ssl, req, req_len);
	if (n == req_len) {
		c->busy = true;
		return true;
	}
	fail_note("SSL_write did not take the request at once");
	return false;
}

/* Length of the chunked body at p (n bytes), 0 if incomplete, -1 if malformed. */
static long chunked_len(const char *p, size_t n)
{
	size_t off = 0;

	for (int i = 0; i < 4096; i++) { /* bounded: a real body here has a few chunks */
		const char *eol = memmem(p + off, n - off, "\r\n", 2);
		char *end;
		unsigned long sz;

		if (!eol)
			return 0;
		sz = strtoul(p + off, &end, 16);
		if (end == p + off)
			return -1;
		off = (size_t)(eol - p) + 2;
		if (sz == 0) { /* trailers end with an empty line */
			const char *t = memmem(p + off - 2, n - off + 2, "\r\n\r\n", 4);
			return t ? (long)(t - p) + 4 : 0;
		}
		if (n - off < sz + 2)
			return 0;
		off += sz + 2;
	}
	return -1;
}

/* One complete response at the start of rbuf: its length, its status and
 * whether it closes the connection; 0 if incomplete, -1 if malformed. */
static long response_len(const struct conn *c, int *status, bool *closes)
{
	const char *b = c->rbuf, *hend = memmem(b, c->rlen, "\r\n\r\n", 4);
	long hlen, body = 0;
	bool chunked = false;

	if (!hend)
		return c->rlen >= RBUF ? -1 : 0;
	hlen = hend - b + 4;
	if (c->rlen < 12 || memcmp(b, "HTTP/1.", 7) != 0)
		return -1;
	*status = atoi(b + 9);
	*closes = false;
	for (const char *l = memchr(b, '\n', (size_t)hlen); l && l < hend; l = memchr(l, '\n', (size_t)(hend - l))) {
		l++;
		if (strncasecmp(l, "content-length:", 15) == 0)
			body = atol(l + 15);
		else if (strncasecmp(l, "transfer-encoding:", 18) == 0)
			chunked = true;
		else if (strncasecmp(l, "connection:", 11) == 0)
			*closes = strncasecmp(l + 11 + strspn(l + 11, " "), "close", 5) == 0;
	}
	if (chunked) {
		body = chunked_len(b + hlen, c->rlen - (size_t)hlen);
		return body <= 0 ? body : hlen + body;
	}
	if (body < 0 || hlen + body > RBUF)
		return -1;
	return (size_t)(hlen + body) <= c->rlen ? hlen + body : 0;
}

static void record(struct conn *c, int status, int64_t t)
{
	int64_t lat = t - c->sent_ns;

	c->busy = false;
	last_progress = t;
	if (t < win_start || t > win_end)
		return;
	counted++;
	status_n[status > 0 && status < 600 ? status : 0]++;
	hist[lat / 1000 < HIST_US ? lat / 1000 : HIST_US]++;
	if (lat > max_ns)
		max_ns = lat;
}

/* Everything readable on c; each complete response recorded and the next
 * request sent. False when the connection is gone (closed, error, malformed). */
static bool conn_read(struct conn *c)
{
	for (;;) {
		int n = SSL_read(c->ssl, c->rbuf + c->rlen, (int)(RBUF - c->rlen)), status = 0;
		bool closes = false;
		long len;

		if (n <= 0) {
			int e = SSL_get_error(c->ssl, n);

			if (e == SSL_ERROR_WANT_READ)
				return true;
			if (c->busy)
				fail_note("the server closed a connection with a request in flight");
			return false;
		}
		c->rlen += (size_t)n;
		len = response_len(c, &status, &closes);
		if (len < 0) {
			fail_note("malformed or oversized response");
			return false;
		}
		if (len == 0)
			continue;
		if (!c->busy) {
			fail_note("a response nobody asked for");
			return false;
		}
		record(c, status, now_ns());
		memmove(c->rbuf, c->rbuf + len, c->rlen - (size_t)len);
		c->rlen -= (size_t)len;
		if (closes || (opt.max_requests && counted >= opt.max_requests))
			return !closes;
		if (now_ns() >= win_end)
			return true;
		if (!conn_send(c))
			return false; /* closed under us: reconnect */
	}
}

static bool start(struct conn *c)
{
	return conn_open(c) && conn_send(c);
}

static void run(void)
{
	struct epoll_event evs[64];
	int64_t t0 = now_ns();

	win_start = t0 + (int64_t)(opt.warmup * 1e9);
	win_end = win_start + (int64_t)(opt.secs * 1e9);
	last_progress = t0;
	for (int i = 0; i < opt.conns; i++)
		if (!start(&conns[i])) {
			conn_close(&conns[i]);
			return; /* a server that refuses the first connections: nothing to measure */
		}
	for (;;) {
		int64_t t = now_ns();
		int n;

		if (t >= win_end || (opt.max_requests && counted >= opt.max_requests))
			return;
		if (t - last_progress > STALL_NS) {
			fail_note("no response on any connection for 5 s");
			return;
		}
		n = epoll_wait(ep, evs, 64, 10);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (conn_read(c))
				continue;
			conn_close(c);
			if (opt.max_requests && errors)
				return; /* a probe: the first failure is the answer */
			if (++reconnects > MAX_RECONNECTS || now_ns() >= win_end || !start(c)) {
				fail_note("could not reconnect");
				return;
			}
		}
	}
}

static double percentile(double q)
{
	long want = (long)(q * (double)counted + 0.999999), seen = 0;

	for (long i = 0; i <= HIST_US && counted > 0; i++) {
		seen += hist[i];
		if (seen >= want)
			return (double)i + 0.5; /* the bucket's middle, µs */
	}
	return 0;
}

static void report(void)
{
	struct rusage ru;
	bool first = true;

	getrusage(RUSAGE_SELF, &ru);
	printf("{\"to\": \"%s\", \"path\": \"%s\", \"conns\": %d, \"secs\": %.3f, "
	       "\"requests\": %ld, \"rps\": %.1f, \"p50_us\": %.1f, \"p90_us\": %.1f, "
	       "\"p99_us\": %.1f, \"p999_us\": %.1f, \"max_us\": %.1f, \"status\": {",
	       opt.to, opt.path, opt.conns, opt.secs, counted, (double)counted / opt.secs,
	       percentile(0.50), percentile(0.90), percentile(0.99), percentile(0.999),
	       (double)max_ns / 1e3);
	for (int s = 0; s < 600; s++)
		if (status_n[s]) {
			printf("%s\"%d\": %ld", first ? "" : ", ", s, status_n[s]);
			first = false;
		}
	printf("}, \"errors\": %ld, \"reconnects\": %ld, \"first_error\": \"%s\", "
	       "\"client_cpu_s\": %.3f}\n", errors, reconnects, first_error,
	       (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
		       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN); /* a server's close is an error to count, not our end */
	parse_args(argc, argv);
	setup();
	for (int i = 0; i < opt.conns; i++)
		conns[i].fd = -1;
	run();
	if (opt.max_requests)
		opt.secs = (double)(now_ns() - win_start) / 1e9; /* a probe: its own length */
	report();
	return counted > 0 && !errors ? 0 : 1;
}
