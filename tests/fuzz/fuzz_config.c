/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer: the gateway.conf loader on arbitrary text. Beyond "no crash, no
 * leak, no UB", a config that loads must hold the invariants the rest of
 * meshgw relies on without re-checking.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/*
 * Debian's libconfig 1.5 leaks the string token that is the parser's lookahead
 * when a syntax error is found (upstream fix f2e951c, libconfig 1.7.3): `""`
 * alone leaks one byte. Token text is allocated in its scanner (strbuf_append,
 * or libconfig_yylex for an empty string) and nowhere else, so these two
 * frames hide that leak and nothing of ours (settings come from yyparse).
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:strbuf_append\nleak:libconfig_yylex\n";
}

static void check_port(const struct mg_port_config *p)
{
	uint32_t hostmask, host;

	if (p->prefix_len < 8 || p->prefix_len > 30)
		abort();
	hostmask = ~(~0u << (32 - p->prefix_len));
	host = p->addr & hostmask;
	if (host == 0 || host == hostmask)
		abort();
	if (p->mtu < 576 || p->mtu > 9000 || (p->rx_desc & (p->rx_desc - 1)) ||
	    (p->tx_desc & (p->tx_desc - 1)) || p->rx_desc < 64 || p->tx_desc > 4096)
		abort();
	if (!memchr(p->name, '\0', sizeof(p->name)) || !p->name[0] ||
	    !memchr(p->device, '\0', sizeof(p->device)))
		abort();
}

/* The mTLS side: what the workers and the SVID loader take as given. */
static void check_tls(const struct mg_config *c)
{
	if (c->n_svids > MG_MAX_SVIDS || c->tls_peer_handshakes > c->tls_max_handshakes ||
	    c->tls_peer_handshakes < 1 || c->tls_max_handshakes > 4096 ||
	    c->tls_handshake_threads < 1 || c->tls_handshake_threads > 8 ||
	    c->tls_handshake_timeout_ms < 100 || c->tls_handshake_timeout_ms > 60000)
		abort();
	for (unsigned i = 0; i < c->n_svids; i++) {
		const struct mg_svid_source *v = &c->svids[i];

		if (!v->name[0] || !memchr(v->name, '\0', sizeof(v->name)) ||
		    v->cert_path[0] != '/' || v->key_path[0] != '/' ||
		    strcmp(v->cert_path, v->key_path) == 0)
			abort();
	}
	for (unsigned i = 0; i < c->n_listeners; i++)
		if (c->listeners[i].type != MG_LISTENER_TCP && c->n_svids == 0)
			abort();
}

static void check(const struct mg_config *c)
{
	if (c->n_workers < 1 || c->n_workers > MG_MAX_WORKERS || c->n_ports < 1 ||
	    c->n_ports > MG_MAX_PORTS || c->n_control_uids < 1 ||
	    c->n_control_uids > MG_MAX_CONTROL_UIDS || c->n_trust_keys > MG_MAX_TRUST_KEYS)
		abort();
	if (c->n_trust_keys && (c->trust_threshold < 1 || c->trust_threshold > c->n_trust_keys))
		abort();
	if (c->state_dir[0] != '/' || c->audit_log[0] != '/' || c->node_key[0] != '/' ||
	    c->control_socket[0] != '/' || strlen(c->control_socket) > 107)
		abort();
	for (unsigned i = 0; i < c->n_workers; i++)
		if (c->worker_lcores[i] > 127)
			abort();
	for (unsigned i = 0; i < c->n_ports; i++)
		check_port(&c->ports[i]);
	check_tls(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mg_config cfg; /* ~90 KiB: keep it off the stack */
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (mg_config_load_string(&cfg, text, "fuzz.conf") == 0)
		check(&cfg);
	else if (strncmp(mg_errmsg(), "fuzz.conf:", 10) != 0)
		abort(); /* every refusal names the file and a line */
	free(text);
	return 0;
}
