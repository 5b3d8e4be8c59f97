/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * How the L4 proxy makes and unmakes pairs (proxy_sim.h has the three stacks):
 * parameters, upstream source ports (RFC 6056, TIME-WAIT take-over,
 * exhaustion), neighbours resolved late or never, a full pool, resets either
 * way, refused upstreams, the idle timeout.
 */
#include "proxy_sim.h"

/* ---- cases ---------------------------------------------------------------- */


static void init_rejects_bad_parameters(void **state)
{
	struct mg_proxy px;
	struct mg_proxy_env env = {.resolve = NULL};
	struct mg_proxy_listener_conf l[MG_PROXY_MAX_LISTENERS + 1];
	const struct mg_proxy_env ok = {.resolve = resolve, .ctx = N};

	(void)state;
	memset(l, 0, sizeof(l));
	assert_int_equal(mg_proxy_init(&px, &N->st[SP], l, MG_PROXY_MAX_LISTENERS + 1, 4,
				       SOCKET_ID_ANY, &env, NULL), -1);
	assert_int_equal(mg_errno(), MG_ERR_USAGE);
	assert_non_null(strstr(mg_errmsg(), "at most 16"));
	assert_int_equal(mg_proxy_init(&px, &N->st[SP], l, 1, 4, SOCKET_ID_ANY, &env, NULL), -1);
	assert_int_equal(mg_errno(), MG_ERR_USAGE);
	assert_non_null(strstr(mg_errmsg(), "bad parameters"));
	/* The fixture's proxy already listens there. */
	l[0] = N->px.listeners[0];
	assert_int_equal(mg_proxy_init(&px, &N->st[SP], l, 1, 4, SOCKET_ID_ANY, &ok, NULL), -1);
	assert_int_equal(mg_errno(), MG_ERR_USAGE);
	assert_string_equal(mg_errmsg(), "listener 0: tcp: listen: port 443 already has a listener");
	mg_proxy_free(&px);
	assert_string_equal(mg_proxy_counter_name(MG_PROXY_CTR_mem_waits), "mem_waits");
	assert_string_equal(mg_proxy_counter_name(MG_PROXY_CTR__COUNT), "unknown");
}


/* The source port of the proxy's (one) live upstream connection. */
static uint16_t upstream_sport(void)
{
	const struct mg_tcp_stack *p = &N->st[SP];

	for (uint32_t i = 0; i < p->p.max_conns; i++)
		if (p->conns[i].state != MG_TCP_CLOSED && p->conns[i].key.rip == IP_S)
			return rte_be_to_cpu_16(p->conns[i].key.lport);
	fail_msg("no upstream connection");
	return 0;
}


/* A fresh proxy whose secret starts with @p b: where its first port lies. */
static uint16_t first_sport_with(uint8_t b, struct app **c, struct app **s)
{
	sp_secret0 = b;
	restart(0, 16, true);
	sp_secret0 = 0;
	open_pairs(1, c, s);
	return upstream_sport();
}


/* The source ports to a destination start where the boot's secret says (RFC
 * 6056 algorithm 4), so a restarted gateway does not meet its predecessor's
 * tuples at the upstream, and go on from there one by one. */
static void source_ports_start_from_the_secret(void **state)
{
	uint16_t seen[32], start;
	unsigned distinct = 0;
	struct app *c, *s;

	(void)state;
	for (unsigned i = 0; i < 32; i++) {
		seen[i] = first_sport_with((uint8_t)(i + 1), &c, &s);
		assert_in_range(seen[i], 32768, 60999);
		distinct++;
		for (unsigned j = 0; j < i; j++)
			if (seen[j] == seen[i]) {
				distinct--;
				break;
			}
	}
	assert_true(distinct >= 30); /* 32 draws from 28232 ports */
	start = first_sport_with(5, &c, &s);
	assert_int_equal(start, seen[4]);
	assert_int_equal(PX(source_port_probes), 1);
	exchange_whole(c, s, 1000, 1000, 30000000);
	/* The next connection to the destination takes the next port. */
	open_pairs_from(1, 1, &c, &s);
	assert_int_equal(upstream_sport(), start == 60999 ? 32768 : start + 1);
	assert_int_equal(PX(source_port_probes), 2);
	c->ignore = s->ignore = true;
}


/* TIME-WAIT records, made as a closed connection leaves them (timestamps on),
 * on every source port toward the upstream, then on other tuples up to
 * @p total. */
static void fill_time_wait(uint32_t total)
{
	struct mg_tcp_stack *sp = &N->st[SP];
	struct mg_tcp_conn fake;

	memset(&fake, 0, sizeof(fake));
	fake.flags = TF_TS_OK;
	sp->now = N->now;
	for (uint32_t port = 32768; port <= 60999; port++) {
		fake.key = (struct mg_tcp_key){IP_P1, IP_S, rte_cpu_to_be_16((uint16_t)port),
					       PORT_S};
		if (!tw_lookup(sp, &fake.key) && !mg_tcp_lookup(sp, &fake.key))
			assert_true(tw_add(sp, &fake));
	}
	for (uint32_t i = 0; sp->tw_count < total; i++) {
		fake.key = (struct mg_tcp_key){IP_P1, RTE_BE32(0x0a000000 + i / 60000),
					       rte_cpu_to_be_16((uint16_t)(1024 + i % 60000)),
					       PORT_S};
		assert_true(tw_add(sp, &fake));
	}
}


/*
 * Setting up an upstream connection costs one source-port probe with no
 * TIME-WAIT tuple and with 100 000 of them, every port toward the upstream
 * among them: the next port of the destination is the one used longest ago,
 * and its TIME-WAIT tuple is taken over (RFC 6191) once a second old.
 */
static void source_port_probes_stay_flat_with_100000_time_wait(void **state)
{
	struct app *c, *s;
	uint16_t first;

	(void)state;
	sp_time_wait = 60000000;
	restart(0, 16, true);
	sp_time_wait = 0;
	open_pairs(1, &c, &s);
	assert_int_equal(PX(source_port_probes), 1);
	first = upstream_sport();
	exchange_whole(c, s, 1000, 1000, 30000000);
	fill_time_wait(100000);
	assert_int_equal(N->st[SP].tw_count, 100000);
	run_for(1100000);
	open_pairs_from(1, 1, &c, &s);
	assert_int_equal(PX(source_port_probes), 2);
	assert_int_equal(upstream_sport(), first == 60999 ? 32768 : first + 1);
	assert_int_equal(N->st[SP].st.ctr[MG_TCP_CTR_tw_recycled], 1);
	assert_int_equal(PX(no_source_port), 0);
	c->ignore = s->ignore = true;
}


static bool client_closed_0(void)
{
	return N->apps[0].closed;
}


/* Every port toward the upstream in a TIME-WAIT too young to take over: the
 * client is reset, counted, after a bounded number of probes. */
static void exhausted_source_ports_reset_the_client(void **state)
{
	struct app *c;

	(void)state;
	sp_time_wait = 60000000;
	restart(0, 16, true);
	sp_time_wait = 0;
	fill_time_wait(0);
	c = client_connect(0);
	assert_true(run_until(client_closed_0, 1000000));
	assert_true(c->connected); /* accepted first, then reset */
	assert_int_equal(c->close_reason, MG_TCP_CLOSE_RESET);
	assert_int_equal(PX(accepted), 1);
	assert_int_equal(PX(no_source_port), 1);
	assert_int_equal(PX(source_port_probes), MG_PROXY_PORT_TRIES);
	assert_int_equal(PX(upstream_connects), 0);
	assert_int_equal(N->px.st.pairs_active, 0);
	assert_int_equal(N->st[SP].tw_count, 28232);
}


static bool client_closed(void)
{
	return N->apps[0].closed;
}


/* One pair 50 ms into a megabyte each way. */
static void open_busy_pair(struct app **c, struct app **s)
{
	open_pairs(1, c, s);
	(*s)->tx_total = MB;
	(*c)->tx_total = MB;
	run_for(50000);
}


/* A pair that moves no byte for the listener's idle_timeout is reset both
 * ways (a peer sending only out-of-order data, or holding its window shut,
 * moves nothing); one that keeps moving bytes is not. */
static void idle_pair_is_reset_after_idle_timeout(void **state)
{
	struct app *c[2], *s[2];

	(void)state;
	N->px.listeners[0].idle_timeout_us = 2000000;
	open_pairs(2, c, s);
	c[0]->tx_total = 1000;
	s[0]->tx_total = 1000;
	run_for(1500000);
	assert_int_equal(c[0]->rx + s[0]->rx, 2000);
	/* Pair 1 keeps trickling: 100 bytes every 0.5 s, past the timeout. */
	for (int i = 1; i <= 6; i++) {
		c[1]->tx_total = 100u * i;
		run_for(500000);
	}
	assert_true(c[0]->closed && s[0]->closed);
	assert_int_equal(c[0]->close_reason, MG_TCP_CLOSE_RESET);
	assert_int_equal(s[0]->close_reason, MG_TCP_CLOSE_RESET);
	assert_int_equal(PX(closed_idle), 1);
	assert_false(c[1]->closed || s[1]->closed);
	assert_int_equal(s[1]->rx, 600);
	assert_int_equal(N->px.st.pairs_active, 1);
}


static void server_reset_resets_the_client(void **state)
{
	struct app *c, *s;

	(void)state;
	open_busy_pair(&c, &s);
	assert_true(c->rx > 0 && s->rx > 0);
	mg_tcp_abort(&N->st[SS], s->c);
	s->c = NULL; /* no event follows an abort */
	assert_true(run_until(client_closed, 1000000));
	assert_int_equal(c->close_reason, MG_TCP_CLOSE_RESET);
	assert_int_equal(PX(closed_upstream_reset), 1);
	assert_int_equal(PX(closed_client_reset) + PX(closed_normal), 0);
	assert_no_pairs();
	assert_int_equal(c->rx_bad + s->rx_bad, 0);
}


static bool server_closed(void)
{
	return N->apps[1].closed;
}


static void client_reset_resets_the_server(void **state)
{
	struct app *c, *s;

	(void)state;
	open_busy_pair(&c, &s);
	mg_tcp_abort(&N->st[SC], c->c);
	c->c = NULL;
	assert_true(run_until(server_closed, 1000000));
	assert_int_equal(s->close_reason, MG_TCP_CLOSE_RESET);
	assert_int_equal(PX(closed_client_reset), 1);
	assert_int_equal(PX(closed_upstream_reset) + PX(closed_normal), 0);
	assert_no_pairs();
}


static void refused_upstream_resets_the_client(void **state)
{
	struct app *c;

	(void)state;
	restart(0, 16, false);
	c = client_connect(0);
	assert_true(run_until(client_closed, 1000000));
	assert_true(c->connected); /* accepted first, then reset */
	assert_int_equal(c->close_reason, MG_TCP_CLOSE_RESET);
	assert_int_equal(PX(accepted), 1);
	assert_int_equal(PX(upstream_connects), 1);
	assert_int_equal(PX(upstream_refused), 1);
	assert_int_equal(PX(upstream_connected), 0);
	assert_no_pairs();
	assert_int_equal(N->st[SS].st.drops[MG_TCP_DROP_NO_CONN], 1);
}


static void neighbour_resolved_late_still_connects(void **state)
{
	struct app *c, *s;

	(void)state;
	N->resolve_fails = 3;
	c = client_connect(0);
	c->tx_total = 50000; /* sent while the upstream waits: held, not lost */
	want_pairs = 1;
	assert_true(run_until(pairs_up, 2000000));
	s = server_app(0);
	/* Three misses, each retried MG_PROXY_RETRY_US later. */
	assert_true(N->now - 1000000 >= 3 * MG_PROXY_RETRY_US);
	assert_int_equal(PX(neigh_requests), 3);
	assert_int_equal(N->resolve_calls, 4);
	assert_int_equal(PX(upstream_connects), 1);
	exchange_whole(c, s, 50000, 100000, 10000000);
	assert_int_equal(PX(neigh_unresolved), 0);
}


static void neighbour_never_resolved_resets_the_client(void **state)
{
	struct app *c;

	(void)state;
	N->resolve_fails = UINT32_MAX;
	c = client_connect(0);
	assert_true(run_until(client_closed, 5000000));
	assert_true(c->connected);
	assert_int_equal(c->close_reason, MG_TCP_CLOSE_RESET);
	assert_true(N->now - 1000000 >= MG_PROXY_CONNECT_TRIES * MG_PROXY_RETRY_US);
	assert_int_equal(PX(neigh_requests), MG_PROXY_CONNECT_TRIES + 1);
	assert_int_equal(PX(neigh_unresolved), 1);
	assert_int_equal(PX(upstream_connects), 0);
	assert_no_pairs();
	assert_null(N->px.waiting);
}


static bool third_closed(void)
{
	return N->apps[N->n_apps - 1].closed;
}


static void full_pool_resets_the_third_client(void **state)
{
	struct app *c[2], *s[2], *third;

	(void)state;
	restart(0, 2, true);
	open_pairs(2, c, s);
	third = client_connect(2);
	assert_true(run_until(third_closed, 1000000));
	assert_int_equal(third->close_reason, MG_TCP_CLOSE_RESET);
	assert_int_equal(PX(pool_full), 1);
	assert_int_equal(PX(accepted), 2);
	assert_int_equal(N->n_srv, 2);
	third->ignore = true;
	for (int k = 0; k < 2; k++)
		exchange(c[k], s[k], 100000, 100000);
	assert_true(run_until(all_done, 10000000));
	for (int k = 0; k < 2; k++)
		assert_exact(c[k], s[k], 100000, 100000);
	assert_int_equal(PX(closed_normal), 2);
	assert_int_equal(N->px.st.pairs_active, 0);
	/* The pairs went back to the pool: a new client is served. */
	open_pairs_from(2, 1, c, s);
	exchange(c[0], s[0], 10000, 10000);
	assert_true(run_until(all_done, 10000000));
	assert_exact(c[0], s[0], 10000, 10000);
	assert_int_equal(PX(accepted), 3);
	assert_int_equal(PX(pool_full), 1);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(init_rejects_bad_parameters),
		T(source_ports_start_from_the_secret),
		T(source_port_probes_stay_flat_with_100000_time_wait),
		T(exhausted_source_ports_reset_the_client),
		T(server_reset_resets_the_client),
		T(client_reset_resets_the_server),
		T(refused_upstream_resets_the_client),
		T(idle_pair_is_reset_after_idle_timeout),
		T(neighbour_resolved_late_still_connects),
		T(neighbour_never_resolved_resets_the_client),
		T(full_pool_resets_the_third_client),
#undef T
	};
	(void)argc;
	return WIRE_MAIN(tests, argv[0], "mgtest-proxyc", "proxyc_test", 16383, pool, pool_full);
}

