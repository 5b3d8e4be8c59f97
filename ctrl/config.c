/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * gateway.conf loader.
 *
 * libconfig only tokenizes and builds the setting tree; every rule is ours. Each
 * group is walked in file order against a table of the fields it may hold, so an
 * unknown field, a wrong type or a bad value is reported at its own line and the
 * first problem ends the load. Cross-field rules (duplicates, overlaps, trust
 * threshold, derived paths) run once the group that holds both sides is read.
 *
 * The loader parses into a scratch copy and publishes it only on success, so a
 * failed load leaves the caller's struct as it was. It never touches the
 * filesystem beyond reading the one config file (@include is refused).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <libconfig.h>

#include "config_priv.h"

#define MAX_FILE_BYTES (1u << 20) /* a gateway.conf is a few KiB; cap reads */

#define DEFAULT_NODE "meshgw"
#define DEFAULT_STATE_DIR "/var/lib/meshgw"
#define DEFAULT_SOCKET "/run/meshgw/control.sock"
#define DEFAULT_MBUFS 8191
#define DEFAULT_MTU 1500
#define DEFAULT_DESC 1024
#define DEFAULT_SNAPSHOT_MAX (16ull << 20)
#define DEFAULT_NEIGH_TIMEOUT_S 300
#define DEFAULT_INTEGRITY_S 10
#define DEFAULT_TCP_MAX_CONNS 32768
#define DEFAULT_TCP_BUFFER_KB 256
#define DEFAULT_TCP_RTO_MIN_MS 200 /* Linux's floor */
/* Issue 11: nothing a peer holds may stay pinned for ever. */
#define DEFAULT_TCP_IDLE_TIMEOUT_S 3600      /* proxied pair moving no byte (Envoy's 1 h) */
#define DEFAULT_TCP_HANDSHAKE_TIMEOUT_S 60   /* half-open inbound (Linux's SYN-ACK retries: 63 s) */
#define DEFAULT_TCP_ZERO_WINDOW_TIMEOUT_S 120 /* peer's window shut while we have data */
#define DEFAULT_TCP_KEEPALIVE_S 7200         /* RFC 9293 MUST-28: no less than 2 h */
#define DEFAULT_REORDER_DEPTH 4
#define DEFAULT_DELAY_SLOTS 256
#define DEFAULT_BACKLOG 1024
#define DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS 10000 /* ClientHello to Finished */
#define DEFAULT_TLS_MAX_HANDSHAKES 256         /* in flight per worker */
#define DEFAULT_TLS_PEER_HANDSHAKES 16         /* of those, from one source address */
#define DEFAULT_TLS_HANDSHAKE_THREADS 1
#define DEFAULT_TLS_SVID_EXPIRY_WARN_S 86400   /* a day's notice before an SVID expires */

static const struct cr_style style = {
	.say_found = true,
	.refuse_hex = true,
	.mark_cut = true,
	.empty_code = MG_ERR_CONFIG_RANGE,
	.problem_max = 256,
};

/* Problems of the file as a whole point at "(file)" or "(syntax)", not a field. */
static int __attribute__((format(printf, 5, 6)))
fail_at(const char *file, unsigned line, const char *what, enum mg_err code,
	const char *fmt, ...)
{
	const struct cr_reader r = { .file = file, .style = &style };
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = cr_vfail_line(&r, line, what, code, fmt, ap);
	va_end(ap);
	return rc;
}

/*
 * libconfig types an array by its first element, and a decimal above
 * 2147483647 is 64-bit: [0, 4294967294] is a parse error. Say how to fix it.
 */
static const char *syntax_hint(const char *text)
{
	return strstr(text, "mismatched element type") ?
		       " (all elements of an array share one type; write every "
		       "element with an L suffix when one is above 2147483647)" : "";
}

/* ---- whole file -------------------------------------------------------- */

/* state_dir + "/" + leaf, without doubling a trailing slash. */
static bool derive(char *dst, const char *dir, const char *leaf)
{
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	return snprintf(dst, PATH_MAX, "%.*s%s%s", (int)n, dir, n > 1 ? "/" : "",
			leaf) < PATH_MAX;
}

/* A default that follows state_dir, unless the file names the path itself. */
static MG_RESULT derive_path(struct cr_reader *ld, const config_setting_t *root,
			     const char *name, char *dst, const char *leaf)
{
	const config_setting_t *dir = config_setting_get_member(root, "state_dir");

	if (config_setting_get_member(root, name))
		return 0;
	ENSURE_AT(derive(dst, CFG(ld)->state_dir, leaf), ld, dir ? dir : root,
		  "state_dir", CONFIG_RANGE, "too long to derive %s from it", name);
	return 0;
}

/* The audit log, node key and control socket must be three different files. */
static MG_RESULT check_distinct(struct cr_reader *ld, const config_setting_t *root)
{
	const struct mg_config *c = CFG(ld);
	const config_setting_t *k = config_setting_get_member(root, "node_key");
	const config_setting_t *ctl = config_setting_get_member(root, "control");

	ENSURE_AT(strcmp(c->node_key, c->audit_log) != 0, ld, k ? k : root, "node_key",
		  CONFIG_VALUE, "same file as audit_log");
	ENSURE_AT(strcmp(c->control_socket, c->audit_log) != 0 &&
			  strcmp(c->control_socket, c->node_key) != 0,
		  ld, ctl ? ctl : root, "control.socket", CONFIG_VALUE,
		  "same file as audit_log or node_key");
	return 0;
}

static MG_RESULT load_tree(struct cr_reader *ld, const config_setting_t *root)
{
	MG_GUARD(cr_walk(ld, root, "", cfg_top_fields));
	MG_GUARD(cfg_check_listeners(ld, root));
	MG_GUARD(derive_path(ld, root, "audit_log", CFG(ld)->audit_log, "audit.log"));
	MG_GUARD(derive_path(ld, root, "node_key", CFG(ld)->node_key, "node.key"));
	return check_distinct(ld, root);
}

/*
 * libconfig opens any file an "@include" line names. The loader reads one file
 * only, so refuse the directive wherever libconfig would see it (at the start
 * of a line, after blanks) and, being conservative, also inside a string or
 * comment that happens to look the same.
 */
static MG_RESULT refuse_include(const char *text, const char *file)
{
	unsigned line = 1;

	for (const char *p = text; *p; line++) {
		p += strspn(p, " \t");
		if (strncmp(p, "@include", 8) == 0)
			return fail_at(file, line, "(file)", MG_ERR_CONFIG_SYNTAX,
				       "@include is not allowed; gateway.conf is one file");
		p = strchr(p, '\n');
		if (!p)
			break;
		p++;
	}
	return 0;
}

/*
 * Debian's libconfig 1.5 reads a decimal literal with atoi-like truncation
 * (mtu = 4294968796 parses as 1500; upstream fixed it in commit add4314).
 * Before parsing, append the L suffix to every decimal literal outside the
 * 32-bit range, so libconfig stores the exact 64-bit value and the range
 * checks see what the file says. The tokenizer below agrees with libconfig's
 * scanner on strings, comments, names and numbers; a letter added never adds a
 * line, so reported lines stay exact.
 */
static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static const char *skip_string(const char *p)
{
	for (p++; *p && *p != '"'; p++)
		if (*p == '\\' && p[1])
			p++;
	return *p ? p + 1 : p;
}

static const char *skip_comment(const char *p)
{
	const char *end;

	if (p[0] != '/' || p[1] != '*')
		return p + strcspn(p, "\n");
	end = strstr(p + 2, "*/");
	return end ? end + 2 : p + strlen(p);
}

static const char *skip_digits(const char *p)
{
	while (is_digit(*p))
		p++;
	return p;
}

static const char *skip_suffix(const char *p)
{
	return p + (p[0] == 'L') + (p[0] == 'L' && p[1] == 'L');
}

/* Does the decimal literal [p, end) fit in an int? */
static bool fits_int(const char *p, const char *end)
{
	bool neg = *p == '-';
	long long v = 0;

	p += *p == '-' || *p == '+';
	while (p < end - 1 && *p == '0')
		p++;
	if (end - p > 10)
		return false;
	for (; p < end; p++)
		v = v * 10 + (*p - '0');
	return neg ? -v >= INT32_MIN : v <= INT32_MAX;
}

/* A number token (float, hex, int64 or int), the way libconfig's scanner ends it. */
static const char *scan_number(const char *p, bool *wide)
{
	const char *s = p + (*p == '-' || *p == '+'), *digits = s;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && cfg_hexval(s[2]) >= 0) {
		for (s += 2; cfg_hexval(*s) >= 0; s++)
			;
		return skip_suffix(s);
	}
	s = skip_digits(s);
	if (*s == '.' || ((*s == 'e' || *s == 'E') &&
			  (is_digit(s[1]) || ((s[1] == '-' || s[1] == '+') && is_digit(s[2]))))) {
		if (*s == '.')
			s = skip_digits(s + 1);
		if ((*s == 'e' || *s == 'E') &&
		    (is_digit(s[1]) || ((s[1] == '-' || s[1] == '+') && is_digit(s[2]))))
			s = skip_digits(s + 2);
		return s;
	}
	if (*s == 'L')
		return skip_suffix(s);
	*wide = s > digits && !fits_int(p, s);
	return s;
}

static const char *next_token(const char *p, bool *wide)
{
	*wide = false;
	if (*p == '"')
		return skip_string(p);
	if (*p == '#' || (p[0] == '/' && (p[1] == '/' || p[1] == '*')))
		return skip_comment(p);
	if (is_alpha(*p) || *p == '*') {
		for (p++; is_alpha(*p) || is_digit(*p) || *p == '-' || *p == '_' || *p == '*';)
			p++;
		return p;
	}
	if (is_digit(*p) || *p == '.' ||
	    ((*p == '-' || *p == '+') && (is_digit(p[1]) || p[1] == '.')))
		return scan_number(p, wide);
	return p + 1;
}

/* A copy of @text with L after each wide literal; each needs 10+ digits. */
static char *widen_ints(const char *text)
{
	size_t n = strlen(text);
	char *out = malloc(n + n / 2 + 1), *o = out;
	bool wide;

	if (!out)
		return NULL;
	for (const char *p = text, *end; *p; p = end) {
		end = next_token(p, &wide);
		memcpy(o, p, (size_t)(end - p));
		o += end - p;
		if (wide)
			*o++ = 'L';
	}
	*o = '\0';
	return out;
}

static MG_RESULT parse_text(struct cr_reader *ld, const char *text)
{
	char *wide = widen_ints(text);
	config_t lc;
	int rc = 0;

	MG_ENSURE(wide, NOMEM, "%s: no memory to parse the config", ld->file);
	config_init(&lc);
	config_set_auto_convert(&lc, CONFIG_FALSE); /* a type mismatch is an error */
	if (config_read_string(&lc, wide) != CONFIG_TRUE) {
		const char *why = config_error_text(&lc) ? config_error_text(&lc) : "parse error";

		rc = fail_at(ld->file, (unsigned)config_error_line(&lc), "(syntax)",
			     MG_ERR_CONFIG_SYNTAX, "%s%s", why, syntax_hint(why));
		goto out;
	}
	rc = load_tree(ld, config_root_setting(&lc));
out:
	config_destroy(&lc);
	free(wide);
	return rc;
}

void mg_config_defaults(struct mg_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->node_name, sizeof(cfg->node_name), "%s", DEFAULT_NODE);
	for (unsigned i = 0; i < MG_MAX_PORTS; i++) {
		cfg->ports[i].mtu = DEFAULT_MTU;
		cfg->ports[i].rx_desc = DEFAULT_DESC;
		cfg->ports[i].tx_desc = DEFAULT_DESC;
		cfg->ports[i].fault.rx.reorder_depth = DEFAULT_REORDER_DEPTH;
		cfg->ports[i].fault.rx.delay_slots = DEFAULT_DELAY_SLOTS;
		cfg->ports[i].fault.tx.reorder_depth = DEFAULT_REORDER_DEPTH;
		cfg->ports[i].fault.tx.delay_slots = DEFAULT_DELAY_SLOTS;
	}
	for (unsigned i = 0; i < MG_MAX_LISTENERS; i++)
		cfg->listeners[i].backlog = DEFAULT_BACKLOG;
	cfg->mbufs_per_port = DEFAULT_MBUFS;
	snprintf(cfg->state_dir, sizeof(cfg->state_dir), "%s", DEFAULT_STATE_DIR);
	(void)derive(cfg->audit_log, cfg->state_dir, "audit.log");
	(void)derive(cfg->node_key, cfg->state_dir, "node.key");
	snprintf(cfg->control_socket, sizeof(cfg->control_socket), "%s", DEFAULT_SOCKET);
	cfg->n_control_uids = 1; /* control_uids[0] = 0: root only */
	cfg->telemetry_enabled = true;
	cfg->crypto_provider = MG_CRYPTO_DEFAULT;
	cfg->snapshot_max_bytes = DEFAULT_SNAPSHOT_MAX;
	cfg->neigh_timeout_s = DEFAULT_NEIGH_TIMEOUT_S;
	cfg->integrity_interval_s = DEFAULT_INTEGRITY_S;
	cfg->tcp_max_conns = DEFAULT_TCP_MAX_CONNS;
	cfg->tcp_buffer_kb = DEFAULT_TCP_BUFFER_KB;
	cfg->tcp_rto_min_ms = DEFAULT_TCP_RTO_MIN_MS;
	cfg->tcp_idle_timeout_s = DEFAULT_TCP_IDLE_TIMEOUT_S;
	cfg->tcp_handshake_timeout_s = DEFAULT_TCP_HANDSHAKE_TIMEOUT_S;
	cfg->tcp_zero_window_timeout_s = DEFAULT_TCP_ZERO_WINDOW_TIMEOUT_S;
	cfg->tcp_keepalive_s = DEFAULT_TCP_KEEPALIVE_S;
	cfg->tls_handshake_timeout_ms = DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS;
	cfg->tls_max_handshakes = DEFAULT_TLS_MAX_HANDSHAKES;
	cfg->tls_peer_handshakes = DEFAULT_TLS_PEER_HANDSHAKES;
	cfg->tls_handshake_threads = DEFAULT_TLS_HANDSHAKE_THREADS;
	cfg->tls_svid_expiry_warn_s = DEFAULT_TLS_SVID_EXPIRY_WARN_S;
}

static MG_RESULT check_text(const char *text, const char *name)
{
	size_t n = strnlen(text, MAX_FILE_BYTES + 1);

	if (n == 0)
		return fail_at(name, 1, "(file)", MG_ERR_CONFIG_MISSING, "file is empty");
	if (n > MAX_FILE_BYTES)
		return fail_at(name, 1, "(file)", MG_ERR_IO_TOO_BIG,
			       "larger than %u bytes", MAX_FILE_BYTES);
	return refuse_include(text, name);
}

MG_RESULT mg_config_load_string(struct mg_config *cfg, const char *text,
				const char *name)
{
	struct cr_reader ld = { .file = name ? name : "<string>", .style = &style };
	struct mg_config *scratch;
	int rc = -1;

	MG_ENSURE(cfg && text, USAGE, "mg_config_load_string: no config or text");
	MG_ENSURE(strlen(ld.file) < sizeof(cfg->path), USAGE,
		  "config path longer than %zu characters", sizeof(cfg->path) - 1);
	MG_GUARD(check_text(text, ld.file));
	/* A scratch copy: a failed load must leave the caller's config untouched. */
	scratch = malloc(sizeof(*scratch));
	MG_ENSURE(scratch, NOMEM, "%s: no memory for the config", ld.file);
	mg_config_defaults(scratch);
	snprintf(scratch->path, sizeof(scratch->path), "%s", ld.file);
	ld.owner = ld.base = scratch;
	rc = parse_text(&ld, text);
	if (rc == 0)
		memcpy(cfg, scratch, sizeof(*cfg));
	free(scratch);
	return rc;
}

/* Read at most MAX_FILE_BYTES + 1 so a huge or endless file costs nothing. */
static MG_RESULT read_all(int fd, const char *path, char *buf, size_t *len)
{
	size_t n = 0;

	while (n <= MAX_FILE_BYTES) {
		ssize_t r = read(fd, buf + n, MAX_FILE_BYTES + 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return fail_at(path, 1, "(file)", MG_ERR_IO, "cannot read: %s",
				       strerror(errno));
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*len = n;
	return 0;
}

/* libconfig stops at a NUL byte; refuse it instead of reading half a file. */
static MG_RESULT refuse_nul(const char *buf, size_t len, const char *path)
{
	const char *nul = memchr(buf, '\0', len);
	unsigned line = 1;

	if (!nul)
		return 0;
	for (const char *p = buf; p < nul; p++)
		line += *p == '\n';
	return fail_at(path, line, "(file)", MG_ERR_CONFIG_SYNTAX, "contains a NUL byte");
}

static MG_RESULT read_config_file(const char *path, char *buf)
{
	struct stat st;
	size_t len = 0;
	int fd, rc = -1;

	/* O_NONBLOCK: a FIFO in the config's place must not hang the start. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return fail_at(path, 1, "(file)", MG_ERR_IO, "cannot open: %s",
			       strerror(errno));
	MG_ENSURE_GOTO(fstat(fd, &st) == 0 && S_ISREG(st.st_mode), out, IO,
		       "%s:1: (file): not a regular file", path);
	MG_ENSURE_GOTO(st.st_size <= MAX_FILE_BYTES, out, IO_TOO_BIG,
		       "%s:1: (file): larger than %u bytes", path, MAX_FILE_BYTES);
	MG_GUARD_GOTO(rc = read_all(fd, path, buf, &len), out);
	MG_ENSURE_GOTO(len <= MAX_FILE_BYTES, out, IO_TOO_BIG,
		       "%s:1: (file): larger than %u bytes", path, MAX_FILE_BYTES);
	buf[len] = '\0';
	rc = refuse_nul(buf, len, path);
out:
	close(fd);
	return rc;
}

MG_RESULT mg_config_load(struct mg_config *cfg, const char *path)
{
	char *buf;
	int rc;

	MG_ENSURE(cfg && path, USAGE, "mg_config_load: no config or path");
	buf = malloc(MAX_FILE_BYTES + 2);
	MG_ENSURE(buf, NOMEM, "%s: no memory to read the config", path);
	rc = read_config_file(path, buf);
	if (rc == 0)
		rc = mg_config_load_string(cfg, buf, path);
	free(buf);
	return rc;
}
