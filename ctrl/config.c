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

#define MAX_FILE_BYTES (1u << 20) /* a gateway.conf is a few KiB; cap reads */
#define FIELD_TEXT 128            /* dotted field paths shown in messages */
#define SUN_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

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
#define DEFAULT_REORDER_DEPTH 4
#define DEFAULT_DELAY_SLOTS 256
#define DEFAULT_BACKLOG 1024

/* One load: where messages point and which struct the current group fills. */
struct load {
	const char *file;
	struct mg_config *cfg;
	void *base; /* cfg, or the port being read */
};

struct field;
typedef MG_RESULT (*field_fn)(struct load *ld, const struct field *f,
			      const config_setting_t *s, const char *path);
typedef MG_RESULT (*check_fn)(struct load *ld, const config_setting_t *s,
			      const char *path);

/* A field a group may hold; a table ends with a NULL name. */
struct field {
	const char *name;
	field_fn parse;
	bool required;
	size_t off, size;      /* destination inside ld->base */
	long long min, max;    /* integers */
	const struct field *sub; /* groups */
	check_fn check;        /* groups: cross-field rules after the walk */
};

static const char *const provider_names[] = {
	[MG_CRYPTO_DEFAULT] = "default",
	[MG_CRYPTO_QAT_PROVIDER] = "qat-provider",
	[MG_CRYPTO_QAT_ENGINE] = "qat-engine",
};

const char *mg_crypto_provider_name(enum mg_crypto_provider p)
{
	return (unsigned)p < sizeof(provider_names) / sizeof(provider_names[0]) ?
		       provider_names[p] : "unknown";
}

/* ---- messages ---------------------------------------------------------- */

/* The root has no line of its own; a missing top-level field points at line 1. */
static unsigned line_of(const config_setting_t *s)
{
	unsigned line = config_setting_source_line(s);

	return line ? line : 1;
}

static int fail_line(const char *file, unsigned line, const char *field,
		     enum mg_err code, const char *fmt, va_list ap)
{
	char problem[256];

	vsnprintf(problem, sizeof(problem), fmt, ap);
	return mg_error_set(code, "%s:%u: %s: %s", file, line, field, problem);
}

static int __attribute__((format(printf, 5, 6)))
fail(const struct load *ld, const config_setting_t *s, const char *field,
     enum mg_err code, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = fail_line(ld->file, line_of(s), field, code, fmt, ap);
	va_end(ap);
	return rc;
}

/* Problems of the file as a whole point at "(file)" or "(syntax)", not a field. */
static int __attribute__((format(printf, 5, 6)))
fail_at(const char *file, unsigned line, const char *what, enum mg_err code,
	const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = fail_line(file, line, what, code, fmt, ap);
	va_end(ap);
	return rc;
}

#define ENSURE_AT(cond, ld, s, field, code, ...)                                \
	do {                                                                    \
		if (!(cond))                                                    \
			return fail(ld, s, field, MG_ERR_##code, __VA_ARGS__); \
	} while (0)

/* An unknown field's name can be long; cut it visibly, the line still points at it. */
static void join(char *dst, const char *parent, const char *name)
{
	if (snprintf(dst, FIELD_TEXT, "%s%s%s", parent, *parent ? "." : "", name) >=
	    FIELD_TEXT)
		memcpy(dst + FIELD_TEXT - 4, "...", 4);
}

static void elem(char *dst, const char *parent, int i)
{
	snprintf(dst, FIELD_TEXT, "%s[%d]", parent, i);
}

static const char *type_name(const config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_GROUP: return "a group { }";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64: return "an integer";
	case CONFIG_TYPE_FLOAT: return "a float";
	case CONFIG_TYPE_STRING: return "a string";
	case CONFIG_TYPE_BOOL: return "a boolean";
	case CONFIG_TYPE_ARRAY: return "an array [ ]";
	case CONFIG_TYPE_LIST: return "a list ( )";
	default: return "nothing";
	}
}

static MG_RESULT want_type(const struct load *ld, const config_setting_t *s,
			   const char *path, int type, const char *what)
{
	ENSURE_AT(config_setting_type(s) == type, ld, s, path, CONFIG_TYPE,
		  "expected %s, found %s", what, type_name(s));
	return 0;
}

/* ---- scalars ----------------------------------------------------------- */

/*
 * libconfig 1.5 reads a plain hex literal with strtoul into an int, so
 * 0x1000005DC silently becomes 1500; refuse hex rather than trust its value.
 */
static MG_RESULT read_int(const struct load *ld, const config_setting_t *s,
			  const char *path, long long min, long long max, long long *v)
{
	int t = config_setting_type(s);

	ENSURE_AT(t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64, ld, s, path,
		  CONFIG_TYPE, "expected an integer, found %s", type_name(s));
	ENSURE_AT(config_setting_get_format(s) != CONFIG_FORMAT_HEX, ld, s, path,
		  CONFIG_VALUE, "hexadecimal integers are not accepted; write it in decimal");
	*v = config_setting_get_int64(s);
	/* libconfig saturates a literal beyond 64 bits; do not print the clamp. */
	ENSURE_AT(*v != LLONG_MAX && *v != LLONG_MIN, ld, s, path, CONFIG_RANGE,
		  "does not fit in 64 bits; expected %lld..%lld", min, max);
	ENSURE_AT(*v >= min && *v <= max, ld, s, path, CONFIG_RANGE,
		  "%lld is outside %lld..%lld", *v, min, max);
	return 0;
}

static MG_RESULT read_string(const struct load *ld, const config_setting_t *s,
			     const char *path, char *dst, size_t size)
{
	const char *v;
	size_t n;

	MG_GUARD(want_type(ld, s, path, CONFIG_TYPE_STRING, "a string"));
	v = config_setting_get_string(s);
	n = strlen(v);
	ENSURE_AT(n > 0, ld, s, path, CONFIG_RANGE, "must not be empty");
	ENSURE_AT(n < size, ld, s, path, CONFIG_RANGE,
		  "%zu characters, longer than the limit of %zu", n, size - 1);
	memcpy(dst, v, n + 1);
	return 0;
}

static bool all_in(const char *s, const char *extra, bool upper)
{
	for (; *s; s++) {
		char c = *s;
		bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			  (upper && c >= 'A' && c <= 'Z') || strchr(extra, c);

		if (!ok)
			return false;
	}
	return true;
}

static bool has_control_char(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* Absolute and printable; @file additionally refuses a trailing '/'. */
static MG_RESULT read_path(const struct load *ld, const config_setting_t *s,
			   const char *path, char *dst, size_t size, bool file)
{
	size_t n;

	MG_GUARD(read_string(ld, s, path, dst, size));
	n = strlen(dst);
	ENSURE_AT(dst[0] == '/', ld, s, path, CONFIG_VALUE, "must be an absolute path");
	ENSURE_AT(!has_control_char(dst), ld, s, path, CONFIG_VALUE,
		  "contains a control character");
	ENSURE_AT(!file || dst[n - 1] != '/', ld, s, path, CONFIG_VALUE,
		  "names a directory; expected a file path");
	return 0;
}

static void store_uint(void *dst, size_t size, unsigned long long v)
{
	uint8_t u8 = (uint8_t)v;
	uint16_t u16 = (uint16_t)v;
	uint32_t u32 = (uint32_t)v;
	uint64_t u64 = v;

	memcpy(dst, size == 1 ? (void *)&u8 : size == 2 ? (void *)&u16 :
		    size == 4 ? (void *)&u32 : (void *)&u64, size);
}

static void *dest(const struct load *ld, const struct field *f)
{
	return (char *)ld->base + f->off;
}

static MG_RESULT parse_int(struct load *ld, const struct field *f,
			   const config_setting_t *s, const char *path)
{
	long long v;

	MG_GUARD(read_int(ld, s, path, f->min, f->max, &v));
	store_uint(dest(ld, f), f->size, (unsigned long long)v);
	return 0;
}

/* Ring sizes: DPDK drivers want a power of two. */
static MG_RESULT parse_desc(struct load *ld, const struct field *f,
			    const config_setting_t *s, const char *path)
{
	long long v;

	MG_GUARD(read_int(ld, s, path, f->min, f->max, &v));
	ENSURE_AT((v & (v - 1)) == 0, ld, s, path, CONFIG_VALUE,
		  "%lld is not a power of two", v);
	store_uint(dest(ld, f), f->size, (unsigned long long)v);
	return 0;
}

static MG_RESULT parse_bool(struct load *ld, const struct field *f,
			    const config_setting_t *s, const char *path)
{
	bool v;

	MG_GUARD(want_type(ld, s, path, CONFIG_TYPE_BOOL, "true or false"));
	v = config_setting_get_bool(s) != 0;
	memcpy(dest(ld, f), &v, sizeof(v));
	return 0;
}

/* The shortest text that reads back as @v: 1.0000001 must not print as "1". */
static const char *float_text(double v, char *buf, size_t size)
{
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	return buf;
}

/*
 * A probability: a float in 0..1, or the integer 0 or 1. libconfig types "0"
 * as an integer and "0.0" as a float; both mean the same here.
 */
static MG_RESULT parse_prob(struct load *ld, const struct field *f,
			    const config_setting_t *s, const char *path)
{
	int t = config_setting_type(s);
	char text[32];
	long long i;
	double v;

	ENSURE_AT(t == CONFIG_TYPE_FLOAT || t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64,
		  ld, s, path, CONFIG_TYPE,
		  "expected a probability (0.05, 0.0 or 1), found %s", type_name(s));
	if (t == CONFIG_TYPE_FLOAT) {
		v = config_setting_get_float(s);
		/* Written so that NaN fails too (libconfig has no NaN literal, but 1e999 is inf). */
		ENSURE_AT(v >= 0.0 && v <= 1.0, ld, s, path, CONFIG_RANGE,
			  "%s is outside 0..1", float_text(v, text, sizeof(text)));
		if (v == 0.0)
			v = 0.0; /* -0.0 would print as "-0" in telemetry */
	} else {
		MG_GUARD(read_int(ld, s, path, 0, 1, &i));
		v = (double)i;
	}
	memcpy(dest(ld, f), &v, sizeof(v));
	return 0;
}

static MG_RESULT parse_dir(struct load *ld, const struct field *f,
			   const config_setting_t *s, const char *path)
{
	return read_path(ld, s, path, dest(ld, f), f->size, false);
}

static MG_RESULT parse_file(struct load *ld, const struct field *f,
			    const config_setting_t *s, const char *path)
{
	return read_path(ld, s, path, dest(ld, f), f->size, true);
}

/* bind() takes at most sun_path's size; say so here rather than at start-up. */
static MG_RESULT parse_socket(struct load *ld, const struct field *f,
			      const config_setting_t *s, const char *path)
{
	MG_GUARD(parse_file(ld, f, s, path));
	ENSURE_AT(strlen(ld->cfg->control_socket) <= SUN_PATH_MAX, ld, s, path,
		  CONFIG_RANGE, "longer than %zu characters, the limit of a unix "
		  "socket address", SUN_PATH_MAX);
	return 0;
}

static MG_RESULT parse_node(struct load *ld, const struct field *f,
			    const config_setting_t *s, const char *path)
{
	(void)f;
	MG_GUARD(read_string(ld, s, path, ld->cfg->node_name, sizeof(ld->cfg->node_name)));
	ENSURE_AT(all_in(ld->cfg->node_name, "._-", true), ld, s, path, CONFIG_VALUE,
		  "may hold only A-Z a-z 0-9 . _ -");
	return 0;
}

static MG_RESULT parse_provider(struct load *ld, const struct field *f,
				const config_setting_t *s, const char *path)
{
	const size_t n = sizeof(provider_names) / sizeof(provider_names[0]);
	const char *v;

	(void)f;
	MG_GUARD(want_type(ld, s, path, CONFIG_TYPE_STRING, "a string"));
	v = config_setting_get_string(s);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v, provider_names[i]) == 0) {
			ld->cfg->crypto_provider = (enum mg_crypto_provider)i;
			return 0;
		}
	}
	return fail(ld, s, path, MG_ERR_CONFIG_VALUE,
		    "unknown provider; expected \"default\", \"qat-provider\" or \"qat-engine\"");
}

/* ---- IPv4 -------------------------------------------------------------- */

/* Decimal without leading zeros ("010" is octal to inet_aton, so refuse it). */
static bool parse_dec(const char **p, unsigned max, unsigned *out)
{
	const char *s = *p;
	unsigned v = 0;
	int n = 0;

	while (s[n] >= '0' && s[n] <= '9' && n < 4)
		v = v * 10 + (unsigned)(s[n++] - '0');
	if (n == 0 || n > 3 || (n > 1 && s[0] == '0') || v > max)
		return false;
	*p = s + n;
	*out = v;
	return true;
}

/* Dotted quad; *p is left after it. */
static bool parse_quad(const char **p, uint32_t *addr)
{
	uint32_t a = 0;

	for (int i = 0; i < 4; i++) {
		unsigned octet;

		if ((i > 0 && *(*p)++ != '.') || !parse_dec(p, 255, &octet))
			return false;
		a = a << 8 | octet;
	}
	*addr = a;
	return true;
}

static uint32_t prefix_mask(unsigned len)
{
	return len ? ~0u << (32 - len) : 0;
}

static void ip_text(uint32_t a, char *buf, size_t size)
{
	snprintf(buf, size, "%u.%u.%u.%u", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff,
		 a & 0xff);
}

/* Why an address can never be a port's own address, or NULL. */
static const char *unusable(uint32_t a)
{
	unsigned first = a >> 24;

	if (first == 0)
		return "is in 0.0.0.0/8 (this network)";
	if (first == 127)
		return "is in 127.0.0.0/8 (loopback)";
	if (first >= 224 && first <= 239)
		return "is a multicast address";
	if (a == 0xffffffffu)
		return "is the limited broadcast address";
	return NULL;
}

/* Network or broadcast address of a prefix, or NULL. */
static const char *edge_of(uint32_t a, unsigned len)
{
	uint32_t host = a & ~prefix_mask(len);

	if (host == 0)
		return "network";
	if (host == ~prefix_mask(len))
		return "broadcast";
	return NULL;
}

static MG_RESULT parse_address(struct load *ld, const struct field *f,
			       const config_setting_t *s, const char *path)
{
	struct mg_port_config *port = ld->base;
	const char *p, *why;
	unsigned len;
	uint32_t a;

	(void)f;
	MG_GUARD(want_type(ld, s, path, CONFIG_TYPE_STRING, "a string"));
	p = config_setting_get_string(s);
	ENSURE_AT(parse_quad(&p, &a) && *p++ == '/' && parse_dec(&p, 99, &len) && !*p,
		  ld, s, path, CONFIG_VALUE, "expected an IPv4 address with a prefix "
		  "length, like 198.18.1.1/24");
	ENSURE_AT(len >= 8 && len <= 30, ld, s, path, CONFIG_RANGE,
		  "prefix length /%u is outside 8..30", len);
	why = unusable(a);
	ENSURE_AT(!why, ld, s, path, CONFIG_VALUE, "%s", why);
	why = edge_of(a, len);
	ENSURE_AT(!why, ld, s, path, CONFIG_VALUE, "is the %s address of its /%u", why, len);
	port->addr = a;
	port->prefix_len = (uint8_t)len;
	return 0;
}

static MG_RESULT parse_next_hop(struct load *ld, const struct field *f,
				const config_setting_t *s, const char *path)
{
	struct mg_port_config *port = ld->base;
	const char *p;

	(void)f;
	MG_GUARD(want_type(ld, s, path, CONFIG_TYPE_STRING, "a string"));
	p = config_setting_get_string(s);
	ENSURE_AT(parse_quad(&p, &port->next_hop) && !*p, ld, s, path, CONFIG_VALUE,
		  "expected an IPv4 address, like 198.18.1.254");
	port->has_next_hop = true;
	return 0;
}

/* ---- devices ----------------------------------------------------------- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* n hex digits at s, or -1. */
static long hexn(const char *s, int n)
{
	long v = 0;

	for (int i = 0; i < n; i++) {
		int d = hexval(s[i]);

		if (d < 0)
			return -1;
		v = v << 4 | d;
	}
	return v;
}

/* DDDD:BB:DD.F or BB:DD.F, in the first @n bytes; device <= 0x1f, function <= 7. */
static bool is_pci(const char *s, size_t n)
{
	if (n == 12) {
		if (hexn(s, 4) < 0 || s[4] != ':')
			return false;
		s += 5;
	} else if (n != 7) {
		return false;
	}
	return hexn(s, 2) >= 0 && s[2] == ':' && hexn(s + 3, 2) >= 0 &&
	       hexn(s + 3, 2) <= 0x1f && s[5] == '.' && s[6] >= '0' && s[6] <= '7';
}

static bool is_vdev(const char *s, size_t n)
{
	if (n <= 4 || strncmp(s, "net_", 4) != 0)
		return false;
	for (size_t i = 4; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '_'))
			return false;
	return true;
}

/* ",key=value" pairs: key [A-Za-z0-9_-]+, value printable without space or comma. */
static bool devargs_ok(const char *s)
{
	while (*s == ',') {
		size_t k = strspn(++s, "abcdefghijklmnopqrstuvwxyz"
					"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");
		size_t v = 0;

		if (k == 0 || s[k] != '=')
			return false;
		s += k + 1;
		while (s[v] > ' ' && s[v] < 0x7f && s[v] != ',')
			v++;
		if (v == 0)
			return false;
		s += v;
	}
	return *s == '\0';
}

/* What makes two devices the same: the vdev name, or the full lower-case PCI address. */
static void device_key(const char *dev, char *key, size_t size)
{
	size_t n = strcspn(dev, ",");

	if (is_pci(dev, n))
		snprintf(key, size, "%s%.*s", n == 7 ? "0000:" : "", (int)n, dev);
	else
		snprintf(key, size, "%.*s", (int)n, dev);
	for (char *k = key; *k; k++)
		if (*k >= 'A' && *k <= 'Z')
			*k = (char)(*k | 0x20);
}

static MG_RESULT parse_device(struct load *ld, const struct field *f,
			      const config_setting_t *s, const char *path)
{
	struct mg_port_config *port = ld->base;
	size_t n;

	(void)f;
	MG_GUARD(read_string(ld, s, path, port->device, sizeof(port->device)));
	n = strcspn(port->device, ",");
	ENSURE_AT(is_pci(port->device, n) || is_vdev(port->device, n), ld, s, path,
		  CONFIG_VALUE, "expected a PCI address (0000:3b:00.0) or a vdev "
		  "(net_af_packet0,iface=eth0)");
	ENSURE_AT(devargs_ok(port->device + n), ld, s, path, CONFIG_VALUE,
		  "device arguments must be ,key=value pairs without spaces");
	return 0;
}

static MG_RESULT parse_port_name(struct load *ld, const struct field *f,
				 const config_setting_t *s, const char *path)
{
	struct mg_port_config *port = ld->base;

	(void)f;
	MG_GUARD(read_string(ld, s, path, port->name, sizeof(port->name)));
	/* The name becomes part of telemetry keys, which allow [A-Za-z0-9_/] only. */
	ENSURE_AT(all_in(port->name, "_", false), ld, s, path, CONFIG_VALUE,
		  "may hold only a-z 0-9 _");
	return 0;
}

/* ---- groups, arrays, lists --------------------------------------------- */

static const struct field *find(const struct field *table, const char *name)
{
	for (; table->name; table++)
		if (strcmp(table->name, name) == 0)
			return table;
	return NULL;
}

/* Every member in file order, then the required ones that were absent. */
static MG_RESULT walk(struct load *ld, const config_setting_t *g, const char *path,
		      const struct field *table)
{
	char child[FIELD_TEXT];

	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *s = config_setting_get_elem(g, i);
		const struct field *f = find(table, config_setting_name(s));

		join(child, path, config_setting_name(s));
		ENSURE_AT(f, ld, s, child, CONFIG_UNKNOWN_FIELD, "unknown field");
		MG_GUARD(f->parse(ld, f, s, child));
	}
	for (; table->name; table++) {
		join(child, path, table->name);
		ENSURE_AT(!table->required || config_setting_get_member(g, table->name),
			  ld, g, child, CONFIG_MISSING, "required field is missing");
	}
	return 0;
}

typedef MG_RESULT (*elem_check_fn)(const struct load *ld, const config_setting_t *g,
				   const char *path, int i);

/* A list ( { ... }, ... ) whose i-th group fills the i-th struct of an array. */
struct list_of {
	const char *what;           /* "ports", in the count's message */
	int min, max;
	size_t size;                /* of one struct */
	const struct field *fields;
	elem_check_fn check;        /* element i against those before it, or NULL */
};

static MG_RESULT walk_list(struct load *ld, const config_setting_t *s, const char *path,
			   const struct list_of *l, void *first, uint16_t *count)
{
	char ep[FIELD_TEXT];
	int n;

	MG_GUARD(want_type(ld, s, path, CONFIG_TYPE_LIST, "a list ( { ... }, ... )"));
	n = config_setting_length(s);
	ENSURE_AT(n >= l->min && n <= l->max, ld, s, path, CONFIG_RANGE,
		  "%d %s, expected %d..%d", n, l->what, l->min, l->max);
	for (int i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(s, i);

		elem(ep, path, i);
		MG_GUARD(want_type(ld, g, ep, CONFIG_TYPE_GROUP, "a group { ... }"));
		ld->base = (char *)first + (size_t)i * l->size;
		MG_GUARD(walk(ld, g, ep, l->fields));
		ld->base = ld->cfg;
		if (l->check)
			MG_GUARD(l->check(ld, g, ep, i));
	}
	*count = (uint16_t)n;
	return 0;
}

static MG_RESULT parse_group(struct load *ld, const struct field *f,
			     const config_setting_t *s, const char *path)
{
	MG_GUARD(want_type(ld, s, path, CONFIG_TYPE_GROUP, "a group { ... }"));
	MG_GUARD(walk(ld, s, path, f->sub));
	return f->check ? f->check(ld, s, path) : 0;
}

/*
 * A group whose fields live in a struct of their own (f->off inside the
 * current base): the walk fills that struct, then the outer base comes back.
 */
static MG_RESULT parse_nested(struct load *ld, const struct field *f,
			      const config_setting_t *s, const char *path)
{
	void *outer = ld->base;
	int rc;

	MG_GUARD(want_type(ld, s, path, CONFIG_TYPE_GROUP, "a group { ... }"));
	ld->base = dest(ld, f);
	rc = walk(ld, s, path, f->sub);
	if (rc == 0 && f->check)
		rc = f->check(ld, s, path);
	ld->base = outer;
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

static MG_RESULT want_array(const struct load *ld, const config_setting_t *s,
			    const char *path, int min, int max, int *n)
{
	MG_GUARD(want_type(ld, s, path, CONFIG_TYPE_ARRAY, "an array [ ... ]"));
	*n = config_setting_length(s);
	ENSURE_AT(*n >= min && *n <= max, ld, s, path, CONFIG_RANGE,
		  "%d elements, expected %d..%d", *n, min, max);
	return 0;
}

/*
 * An array of 1..@p max distinct integers in [@p lo, @p hi] into @p v; a
 * repeat is named by @p what: "lcore 3 is listed twice (also lcores[0])".
 */
static MG_RESULT read_distinct_ints(const struct load *ld, const config_setting_t *s,
				    const char *path, int max, long long lo, long long hi,
				    const char *what, long long *v, int *n)
{
	char ep[FIELD_TEXT];

	MG_GUARD(want_array(ld, s, path, 1, max, n));
	for (int i = 0; i < *n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, i);

		elem(ep, path, i);
		MG_GUARD(read_int(ld, e, ep, lo, hi, &v[i]));
		for (int j = 0; j < i; j++)
			ENSURE_AT(v[j] != v[i], ld, e, ep, CONFIG_VALUE,
				  "%s %lld is listed twice (also %s[%d])", what, v[i], path, j);
	}
	return 0;
}

static MG_RESULT parse_lcores(struct load *ld, const struct field *f,
			      const config_setting_t *s, const char *path)
{
	struct mg_config *cfg = ld->cfg;
	long long v[MG_MAX_WORKERS];
	int n;

	(void)f;
	MG_GUARD(read_distinct_ints(ld, s, path, MG_MAX_WORKERS, 0, 127, "lcore", v, &n));
	for (int i = 0; i < n; i++)
		cfg->worker_lcores[i] = (unsigned)v[i];
	cfg->n_workers = (uint16_t)n;
	return 0;
}

static MG_RESULT parse_uids(struct load *ld, const struct field *f,
			    const config_setting_t *s, const char *path)
{
	struct mg_config *cfg = ld->cfg;
	long long v[MG_MAX_CONTROL_UIDS];
	int n;

	(void)f;
	/* (uid_t)-1 means "no change" to chown and friends: never a peer. */
	MG_GUARD(read_distinct_ints(ld, s, path, MG_MAX_CONTROL_UIDS, 0, 4294967294LL, "uid",
				    v, &n));
	for (int i = 0; i < n; i++)
		cfg->control_uids[i] = (uint32_t)v[i];
	cfg->n_control_uids = (uint16_t)n;
	return 0;
}

static MG_RESULT parse_trust_keys(struct load *ld, const struct field *f,
				  const config_setting_t *s, const char *path)
{
	struct mg_config *cfg = ld->cfg;
	char ep[FIELD_TEXT];
	int n;

	(void)f;
	MG_GUARD(want_array(ld, s, path, 1, MG_MAX_TRUST_KEYS, &n));
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, i);

		elem(ep, path, i);
		MG_GUARD(read_path(ld, e, ep, cfg->trust_keys[i], PATH_MAX, true));
		for (int j = 0; j < i; j++)
			ENSURE_AT(strcmp(cfg->trust_keys[j], cfg->trust_keys[i]) != 0, ld,
				  e, ep, CONFIG_VALUE, "key file is listed twice (also %s[%d])",
				  path, j);
	}
	cfg->n_trust_keys = (uint16_t)n;
	return 0;
}

/* The threshold can only be judged against the keys once both are read. */
static MG_RESULT check_trust(struct load *ld, const config_setting_t *g,
			     const char *path)
{
	const config_setting_t *t = config_setting_get_member(g, "threshold");
	char field[FIELD_TEXT];

	join(field, path, "threshold");
	ENSURE_AT(t, ld, g, field, CONFIG_MISSING,
		  "required when keys are given (how many must sign a snapshot)");
	ENSURE_AT(ld->cfg->trust_threshold <= ld->cfg->n_trust_keys, ld, t, field,
		  CONFIG_RANGE, "%u is more than the %u key(s) listed",
		  ld->cfg->trust_threshold, ld->cfg->n_trust_keys);
	return 0;
}

/* ---- ports ------------------------------------------------------------- */

static MG_RESULT check_next_hop(const struct load *ld, const config_setting_t *g,
				const char *path, const struct mg_port_config *p)
{
	const config_setting_t *s = config_setting_get_member(g, "next_hop");
	uint32_t mask = prefix_mask(p->prefix_len);
	char field[FIELD_TEXT];

	if (!p->has_next_hop)
		return 0;
	join(field, path, "next_hop");
	ENSURE_AT((p->next_hop & mask) == (p->addr & mask), ld, s, field, CONFIG_VALUE,
		  "is outside the port's prefix /%u", p->prefix_len);
	ENSURE_AT(p->next_hop != p->addr, ld, s, field, CONFIG_VALUE,
		  "is the port's own address");
	ENSURE_AT(!edge_of(p->next_hop, p->prefix_len), ld, s, field, CONFIG_VALUE,
		  "is the %s address of the port's prefix",
		  edge_of(p->next_hop, p->prefix_len));
	return 0;
}

/* Port @i against the ports before it: names, devices and prefixes are disjoint. */
static MG_RESULT check_unique(const struct load *ld, const config_setting_t *g,
			      const char *path, int i)
{
	const struct mg_port_config *ports = ld->cfg->ports, *p = &ports[i];
	char field[FIELD_TEXT], key[MG_DEVICE_LEN + 8], other[MG_DEVICE_LEN + 8], ip[16];

	device_key(p->device, key, sizeof(key));
	for (int j = 0; j < i; j++) {
		unsigned shorter = p->prefix_len < ports[j].prefix_len ?
					   p->prefix_len : ports[j].prefix_len;
		uint32_t mask = prefix_mask(shorter);

		join(field, path, "name");
		ENSURE_AT(strcmp(p->name, ports[j].name) != 0, ld,
			  config_setting_get_member(g, "name"), field, CONFIG_VALUE,
			  "port name \"%s\" is used twice (also ports[%d])", p->name, j);
		device_key(ports[j].device, other, sizeof(other));
		join(field, path, "device");
		ENSURE_AT(strcmp(key, other) != 0, ld, config_setting_get_member(g, "device"),
			  field, CONFIG_VALUE, "same device as ports[%d] (%s)", j,
			  ports[j].name);
		join(field, path, "address");
		ip_text(ports[j].addr & prefix_mask(ports[j].prefix_len), ip, sizeof(ip));
		ENSURE_AT((p->addr & mask) != (ports[j].addr & mask), ld,
			  config_setting_get_member(g, "address"), field, CONFIG_VALUE,
			  "prefix overlaps ports[%d] (%s, %s/%u)", j, ports[j].name, ip,
			  ports[j].prefix_len);
	}
	return 0;
}

#define FN(n, fn, req) { .name = n, .parse = fn, .required = req }
#define SLOT(st, m) .off = offsetof(st, m), .size = sizeof(((st *)0)->m)
#define INT_AT(n, fn, st, m, lo, hi) \
	{ .name = n, .parse = fn, SLOT(st, m), .min = lo, .max = hi }
#define CFG_INT(n, m, lo, hi) INT_AT(n, parse_int, struct mg_config, m, lo, hi)
#define CFG_AT(n, fn, m) { .name = n, .parse = fn, SLOT(struct mg_config, m) }
#define GROUP(n, table, chk, req) \
	{ .name = n, .parse = parse_group, .sub = table, .check = chk, .required = req }


#define NESTED(n, st, m, table, chk) \
	{ .name = n, .parse = parse_nested, SLOT(st, m), .sub = table, .check = chk }
#define PROB(n, m) { .name = n, .parse = parse_prob, SLOT(struct mg_fault_dir_config, m) }

/* ports[].fault.rx and .tx: what happens to each packet in that direction. */
static const struct field fault_dir_fields[] = {
	PROB("loss", loss),
	PROB("duplicate", duplicate),
	PROB("reorder", reorder),
	PROB("corrupt", corrupt),
	INT_AT("reorder_depth", parse_int, struct mg_fault_dir_config, reorder_depth, 1,
	       MG_FAULT_MAX_REORDER_DEPTH),
	INT_AT("delay_us", parse_int, struct mg_fault_dir_config, delay_us, 0,
	       MG_FAULT_MAX_DELAY_US),
	INT_AT("delay_slots", parse_desc, struct mg_fault_dir_config, delay_slots, 64, 4096),
	{ 0 },
};

/* The group's presence turns injection on for the port, even with all rates 0. */
static MG_RESULT check_fault(struct load *ld, const config_setting_t *g,
			     const char *path)
{
	struct mg_fault_config *fc = ld->base;

	(void)g;
	(void)path;
	fc->enabled = true;
	return 0;
}

static const struct field fault_fields[] = {
	INT_AT("seed", parse_int, struct mg_fault_config, seed, 0, 4294967295LL),
	NESTED("rx", struct mg_fault_config, rx, fault_dir_fields, NULL),
	NESTED("tx", struct mg_fault_config, tx, fault_dir_fields, NULL),
	{ 0 },
};

/* ---- pinned neighbours (ports[].pinned_neighbours) ---------------------- */

static MG_RESULT parse_pin_ip(struct load *ld, const struct field *f,
			      const config_setting_t *s, const char *path)
{
	struct mg_neigh_pin_config *pin = ld->base;
	const char *p;

	(void)f;
	MG_GUARD(want_type(ld, s, path, CONFIG_TYPE_STRING, "a string"));
	p = config_setting_get_string(s);
	ENSURE_AT(parse_quad(&p, &pin->ip) && !*p, ld, s, path, CONFIG_VALUE,
		  "expected an IPv4 address, like 198.18.1.2");
	return 0;
}

/* "02:00:c6:12:01:02": six pairs of hex digits, unicast, not all zero. */
static MG_RESULT parse_pin_mac(struct load *ld, const struct field *f,
			       const config_setting_t *s, const char *path)
{
	struct mg_neigh_pin_config *pin = ld->base;
	const char *p;
	bool ok, zero = true;

	(void)f;
	MG_GUARD(want_type(ld, s, path, CONFIG_TYPE_STRING, "a string"));
	p = config_setting_get_string(s);
	ok = strlen(p) == 17;
	for (int i = 0; ok && i < 6; i++) {
		long b = hexn(p + 3 * i, 2);

		ok = b >= 0 && (i == 5 || p[3 * i + 2] == ':');
		pin->mac[i] = (uint8_t)b;
		zero = zero && b == 0;
	}
	ENSURE_AT(ok, ld, s, path, CONFIG_VALUE,
		  "expected a MAC address, like 02:00:c6:12:01:02");
	ENSURE_AT(!(pin->mac[0] & 1), ld, s, path, CONFIG_VALUE,
		  "is a multicast or broadcast MAC: a neighbour has a unicast MAC");
	ENSURE_AT(!zero, ld, s, path, CONFIG_VALUE, "is the all-zero MAC");
	return 0;
}

static const struct field pin_fields[] = {
	FN("ip", parse_pin_ip, true),
	FN("mac", parse_pin_mac, true),
	{ 0 },
};

/* walk_list() would hand the base back to the config, not to the port: walk here. */
static MG_RESULT parse_pins(struct load *ld, const struct field *f,
			    const config_setting_t *s, const char *path)
{
	struct mg_port_config *port = ld->base;
	char ep[FIELD_TEXT];
	int n, rc = 0;

	(void)f;
	MG_GUARD(want_type(ld, s, path, CONFIG_TYPE_LIST, "a list ( { ... }, ... )"));
	n = config_setting_length(s);
	ENSURE_AT(n <= MG_MAX_PINNED_NEIGHBOURS, ld, s, path, CONFIG_RANGE,
		  "%d pinned neighbours, expected at most %d", n, MG_MAX_PINNED_NEIGHBOURS);
	for (int i = 0; i < n && rc == 0; i++) {
		const config_setting_t *g = config_setting_get_elem(s, i);

		elem(ep, path, i);
		MG_GUARD(want_type(ld, g, ep, CONFIG_TYPE_GROUP, "a group { ... }"));
		ld->base = &port->pins[i];
		rc = walk(ld, g, ep, pin_fields);
		ld->base = port;
	}
	port->n_pins = (uint16_t)n;
	return rc;
}

/* Once the port's address is known: each pin on-link, a host, and pinned once. */
static MG_RESULT check_pins(const struct load *ld, const config_setting_t *g,
			    const char *path, const struct mg_port_config *p)
{
	const config_setting_t *list = config_setting_get_member(g, "pinned_neighbours");
	uint32_t mask = prefix_mask(p->prefix_len);
	char field[FIELD_TEXT], ip[16];

	for (uint16_t i = 0; i < p->n_pins; i++) {
		const config_setting_t *e =
			config_setting_get_member(config_setting_get_elem(list, i), "ip");
		uint32_t a = p->pins[i].ip;

		snprintf(field, sizeof(field), "%.80s.pinned_neighbours[%u].ip", path, i);
		ip_text(a, ip, sizeof(ip));
		ENSURE_AT((a & mask) == (p->addr & mask), ld, e, field, CONFIG_VALUE,
			  "%s is outside the port's prefix /%u", ip, p->prefix_len);
		ENSURE_AT(a != p->addr, ld, e, field, CONFIG_VALUE,
			  "%s is the port's own address", ip);
		ENSURE_AT(!edge_of(a, p->prefix_len), ld, e, field, CONFIG_VALUE,
			  "%s is the %s address of the port's prefix", ip,
			  edge_of(a, p->prefix_len));
		for (uint16_t j = 0; j < i; j++)
			ENSURE_AT(p->pins[j].ip != a, ld, e, field, CONFIG_VALUE,
				  "%s is pinned twice (also pinned_neighbours[%u])", ip, j);
	}
	return 0;
}

static const struct field port_fields[] = {
	FN("name", parse_port_name, true),
	FN("device", parse_device, true),
	FN("address", parse_address, true),
	INT_AT("mtu", parse_int, struct mg_port_config, mtu, 576, 9000),
	FN("next_hop", parse_next_hop, false),
	INT_AT("rx_desc", parse_desc, struct mg_port_config, rx_desc, 64, 4096),
	INT_AT("tx_desc", parse_desc, struct mg_port_config, tx_desc, 64, 4096),
	NESTED("fault", struct mg_port_config, fault, fault_fields, check_fault),
	FN("pinned_neighbours", parse_pins, false),
	{ 0 },
};

static MG_RESULT check_port(const struct load *ld, const config_setting_t *g,
			    const char *path, int i)
{
	MG_GUARD(check_next_hop(ld, g, path, &ld->cfg->ports[i]));
	MG_GUARD(check_pins(ld, g, path, &ld->cfg->ports[i]));
	return check_unique(ld, g, path, i);
}

static MG_RESULT parse_ports(struct load *ld, const struct field *f,
			     const config_setting_t *s, const char *path)
{
	static const struct list_of ports = {
		"ports", 1, MG_MAX_PORTS, sizeof(struct mg_port_config), port_fields, check_port,
	};

	(void)f;
	return walk_list(ld, s, path, &ports, ld->cfg->ports, &ld->cfg->n_ports);
}

/* ---- listeners --------------------------------------------------------- */

static MG_RESULT parse_listener_name(struct load *ld, const struct field *f,
				     const config_setting_t *s, const char *path)
{
	struct mg_listener_config *l = ld->base;

	(void)f;
	MG_GUARD(read_string(ld, s, path, l->name, sizeof(l->name)));
	ENSURE_AT(l->name[0] && all_in(l->name, "_", false), ld, s, path, CONFIG_VALUE,
		  "may hold only a-z 0-9 _");
	return 0;
}

static MG_RESULT parse_listener_type(struct load *ld, const struct field *f,
				     const config_setting_t *s, const char *path)
{
	struct mg_listener_config *l = ld->base;

	(void)f;
	MG_GUARD(want_type(ld, s, path, CONFIG_TYPE_STRING, "a string"));
	ENSURE_AT(strcmp(config_setting_get_string(s), "tcp") == 0, ld, s, path,
		  CONFIG_VALUE, "unknown listener type; expected \"tcp\"");
	l->type = MG_LISTENER_TCP;
	return 0;
}

/* "A.B.C.D:PORT", port 1..65535 in decimal without leading zeros. */
static bool parse_endpoint(const char *p, uint32_t *addr, uint16_t *port)
{
	unsigned v = 0;
	int n = 0;

	if (!parse_quad(&p, addr) || *p++ != ':')
		return false;
	while (p[n] >= '0' && p[n] <= '9' && n < 6)
		v = v * 10 + (unsigned)(p[n++] - '0');
	if (n == 0 || p[n] || (n > 1 && p[0] == '0'))
		return false;
	*port = (uint16_t)(v <= 65535 ? v : 0);
	return v <= 65535;
}

static MG_RESULT read_endpoint(struct load *ld, const config_setting_t *s,
			       const char *path, uint32_t *addr, uint16_t *port)
{
	MG_GUARD(want_type(ld, s, path, CONFIG_TYPE_STRING, "a string"));
	ENSURE_AT(parse_endpoint(config_setting_get_string(s), addr, port), ld, s, path,
		  CONFIG_VALUE, "expected an IPv4 address and a port, like 198.18.1.1:8080");
	ENSURE_AT(*port != 0, ld, s, path, CONFIG_RANGE, "port 0 is outside 1..65535");
	ENSURE_AT(!unusable(*addr), ld, s, path, CONFIG_VALUE, "%s", unusable(*addr));
	return 0;
}

static MG_RESULT parse_listen(struct load *ld, const struct field *f,
			      const config_setting_t *s, const char *path)
{
	struct mg_listener_config *l = ld->base;

	(void)f;
	return read_endpoint(ld, s, path, &l->listen_addr, &l->listen_port);
}

static MG_RESULT parse_upstream(struct load *ld, const struct field *f,
				const config_setting_t *s, const char *path)
{
	struct mg_listener_config *l = ld->base;

	(void)f;
	return read_endpoint(ld, s, path, &l->upstream_addr, &l->upstream_port);
}

static const struct field listener_fields[] = {
	FN("name", parse_listener_name, true),
	FN("type", parse_listener_type, true),
	FN("listen", parse_listen, true),
	FN("upstream", parse_upstream, true),
	INT_AT("backlog", parse_int, struct mg_listener_config, backlog, 1, 65535),
	{ 0 },
};

static MG_RESULT parse_listeners(struct load *ld, const struct field *f,
				 const config_setting_t *s, const char *path)
{
	static const struct list_of listeners = {
		"listeners", 0, MG_MAX_LISTENERS, sizeof(struct mg_listener_config),
		listener_fields, NULL,
	};

	(void)f;
	return walk_list(ld, s, path, &listeners, ld->cfg->listeners, &ld->cfg->n_listeners);
}

/* The port whose prefix holds @a, else the first port with a next hop, else -1. */
static int route_port(const struct mg_config *c, uint32_t a, bool on_link_only)
{
	for (uint16_t i = 0; i < c->n_ports; i++) {
		uint32_t mask = prefix_mask(c->ports[i].prefix_len);

		if ((a & mask) == (c->ports[i].addr & mask))
			return i;
	}
	for (uint16_t i = 0; i < c->n_ports && !on_link_only; i++)
		if (c->ports[i].has_next_hop)
			return i;
	return -1;
}

/* Listener @i against the ports (read by now, whatever the file order) and listeners before it. */
static MG_RESULT check_listener(const struct load *ld, const config_setting_t *g,
				const char *path, int i)
{
	const struct mg_config *c = ld->cfg;
	const struct mg_listener_config *l = &c->listeners[i];
	char field[FIELD_TEXT];
	bool ours = false;

	for (uint16_t p = 0; p < c->n_ports; p++)
		ours |= c->ports[p].addr == l->listen_addr;
	join(field, path, "listen");
	ENSURE_AT(ours, ld, config_setting_get_member(g, "listen"), field, CONFIG_VALUE,
		  "is not the address of any port");
	for (int j = 0; j < i; j++) {
		ENSURE_AT(l->listen_addr != c->listeners[j].listen_addr ||
				  l->listen_port != c->listeners[j].listen_port,
			  ld, config_setting_get_member(g, "listen"), field, CONFIG_VALUE,
			  "same endpoint as listeners[%d] (%s)", j, c->listeners[j].name);
		join(field, path, "name");
		ENSURE_AT(strcmp(l->name, c->listeners[j].name) != 0, ld,
			  config_setting_get_member(g, "name"), field, CONFIG_VALUE,
			  "listener name \"%s\" is used twice (also listeners[%d])", l->name, j);
		join(field, path, "listen");
	}
	join(field, path, "upstream");
	for (uint16_t p = 0; p < c->n_ports; p++)
		ENSURE_AT(c->ports[p].addr != l->upstream_addr, ld,
			  config_setting_get_member(g, "upstream"), field, CONFIG_VALUE,
			  "is the address of port %s", c->ports[p].name);
	ENSURE_AT(route_port(c, l->upstream_addr, false) >= 0, ld,
		  config_setting_get_member(g, "upstream"), field, CONFIG_VALUE,
		  "is on no port's prefix and no port has a next_hop");
	if (route_port(c, l->upstream_addr, true) >= 0) {
		const struct mg_port_config *pc = &c->ports[route_port(c, l->upstream_addr, true)];

		ENSURE_AT(!edge_of(l->upstream_addr, pc->prefix_len), ld,
			  config_setting_get_member(g, "upstream"), field, CONFIG_VALUE,
			  "is the %s address of port %s's prefix",
			  edge_of(l->upstream_addr, pc->prefix_len), pc->name);
	}
	return 0;
}

static MG_RESULT check_listeners(const struct load *ld, const config_setting_t *root)
{
	const config_setting_t *s = config_setting_get_member(root, "listeners");
	char ep[FIELD_TEXT];

	for (int i = 0; s && i < ld->cfg->n_listeners; i++) {
		elem(ep, "listeners", i);
		MG_GUARD(check_listener(ld, config_setting_get_elem(s, i), ep, i));
	}
	return 0;
}

/* ---- the schema -------------------------------------------------------- */

static const struct field workers_fields[] = {
	FN("lcores", parse_lcores, true),
	{ 0 },
};

static const struct field control_fields[] = {
	CFG_AT("socket", parse_socket, control_socket),
	FN("allowed_uids", parse_uids, false),
	{ 0 },
};

static const struct field telemetry_fields[] = {
	CFG_AT("enabled", parse_bool, telemetry_enabled),
	{ 0 },
};

static const struct field crypto_fields[] = {
	FN("provider", parse_provider, false),
	{ 0 },
};

static const struct field trust_fields[] = {
	FN("keys", parse_trust_keys, true),
	CFG_INT("threshold", trust_threshold, 1, MG_MAX_TRUST_KEYS),
	{ 0 },
};

static const struct field limits_fields[] = {
	CFG_INT("snapshot_max_bytes", snapshot_max_bytes, 4096, 268435456),
	{ 0 },
};

static const struct field neighbour_fields[] = {
	CFG_INT("timeout_s", neigh_timeout_s, 10, 86400),
	{ 0 },
};

static const struct field integrity_fields[] = {
	CFG_INT("interval_s", integrity_interval_s, 1, 3600),
	{ 0 },
};

static const struct field tcp_fields[] = {
	CFG_INT("max_conns", tcp_max_conns, 1024, 1048576),
	CFG_INT("buffer_kb", tcp_buffer_kb, 16, 16384),
	CFG_INT("rto_min_ms", tcp_rto_min_ms, 1, 1000),
	{ 0 },
};

static const struct field top_fields[] = {
	FN("node", parse_node, false),
	GROUP("workers", workers_fields, NULL, true),
	FN("ports", parse_ports, true),
	CFG_INT("mbufs_per_port", mbufs_per_port, 1024, 1048576),
	CFG_AT("state_dir", parse_dir, state_dir),
	CFG_AT("audit_log", parse_file, audit_log),
	CFG_AT("node_key", parse_file, node_key),
	GROUP("control", control_fields, NULL, false),
	GROUP("telemetry", telemetry_fields, NULL, false),
	GROUP("crypto", crypto_fields, NULL, false),
	GROUP("trust", trust_fields, check_trust, false),
	GROUP("limits", limits_fields, NULL, false),
	GROUP("neighbour", neighbour_fields, NULL, false),
	GROUP("integrity", integrity_fields, NULL, false),
	GROUP("tcp", tcp_fields, NULL, false),
	FN("listeners", parse_listeners, false),
	{ 0 },
};

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
static MG_RESULT derive_path(struct load *ld, const config_setting_t *root,
			     const char *name, char *dst, const char *leaf)
{
	const config_setting_t *dir = config_setting_get_member(root, "state_dir");

	if (config_setting_get_member(root, name))
		return 0;
	ENSURE_AT(derive(dst, ld->cfg->state_dir, leaf), ld, dir ? dir : root,
		  "state_dir", CONFIG_RANGE, "too long to derive %s from it", name);
	return 0;
}

/* The audit log, node key and control socket must be three different files. */
static MG_RESULT check_distinct(struct load *ld, const config_setting_t *root)
{
	const struct mg_config *c = ld->cfg;
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

static MG_RESULT load_tree(struct load *ld, const config_setting_t *root)
{
	MG_GUARD(walk(ld, root, "", top_fields));
	MG_GUARD(check_listeners(ld, root));
	MG_GUARD(derive_path(ld, root, "audit_log", ld->cfg->audit_log, "audit.log"));
	MG_GUARD(derive_path(ld, root, "node_key", ld->cfg->node_key, "node.key"));
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

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && hexval(s[2]) >= 0) {
		for (s += 2; hexval(*s) >= 0; s++)
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

static MG_RESULT parse_text(struct load *ld, const char *text)
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
	struct load ld = { .file = name ? name : "<string>" };
	int rc = -1;

	MG_ENSURE(cfg && text, USAGE, "mg_config_load_string: no config or text");
	MG_ENSURE(strlen(ld.file) < sizeof(cfg->path), USAGE,
		  "config path longer than %zu characters", sizeof(cfg->path) - 1);
	MG_GUARD(check_text(text, ld.file));
	/* A scratch copy: a failed load must leave the caller's config untouched. */
	ld.cfg = malloc(sizeof(*ld.cfg));
	MG_ENSURE(ld.cfg, NOMEM, "%s: no memory for the config", ld.file);
	mg_config_defaults(ld.cfg);
	snprintf(ld.cfg->path, sizeof(ld.cfg->path), "%s", ld.file);
	ld.base = ld.cfg;
	rc = parse_text(&ld, text);
	if (rc == 0)
		memcpy(cfg, ld.cfg, sizeof(*cfg));
	free(ld.cfg);
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
