/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The L4 proxy moving bytes (proxy_sim.h has the three stacks): both ways in
 * full, half-closes and FINs while data is still being repaired or held,
 * TIME-WAIT beside unread data, backpressure from a slow client, the memory
 * bound, loss and reordering. How pairs are made and unmade is in
 * test_proxy_connect.c.
 */
#include "proxy_sim.h"

/* ---- cases ---------------------------------------------------------------- */


static void one_mb_each_way_then_fins(void **state)
{
	struct app *c, *s;

	(void)state;
	open_pairs(1, &c, &s);
	assert_int_equal(PX(accepted), 1);
	assert_int_equal(PX(upstream_connects), 1);
	assert_int_equal(PX(upstream_connected), 1);
	assert_int_equal(N->px.st.pairs_active, 1);
	assert_int_equal(proxy_conns(), 2);
	exchange_whole(c, s, MB, MB, 30000000);
	assert_int_equal(PX(closed_client_reset) + PX(closed_upstream_reset), 0);
	assert_proxy_empty();
	assert_int_equal(N->st[SP].st.closes[MG_TCP_CLOSE_NORMAL], 2);
	assert_int_equal(N->st[SP].st.ctr[MG_TCP_CTR_rst_sent], 0);
}


static bool upload_in(void)
{
	struct app *s = server_app(0);

	return s && s->rx == N->apps[0].tx_total && s->peer_fin;
}


static void half_close_keeps_the_other_direction(void **state)
{
	struct app *c, *s;

	(void)state;
	open_pairs(1, &c, &s);
	c->tx_total = 200000;
	c->shutdown_after_tx = true;
	assert_true(run_until(upload_in, 10000000));
	assert_false(c->peer_fin);
	assert_int_equal(mg_tcp_state(c->c), MG_TCP_FIN_WAIT_2);
	assert_int_equal(mg_tcp_state(s->c), MG_TCP_CLOSE_WAIT);
	run_for(100000); /* the half-closed pair stays */
	assert_int_equal(N->px.st.pairs_active, 1);
	s->tx_total = 100 * 1000;
	s->shutdown_after_tx = true;
	assert_true(run_until(all_done, 10000000));
	assert_exact(c, s, 200000, 100000);
	assert_int_equal(PX(closed_normal), 1);
	assert_int_equal(PX(bytes_down), 100000);
	assert_proxy_empty();
}


/*
 * The server half-closes while the client's upload is still being repaired
 * on a lossy wire: the proxy passes the FIN on, and the upload must still
 * arrive whole (issue 5: a FIN-WAIT-1 connection with a hole was seen stuck).
 */
static void server_fin_while_upload_is_repaired(void **state)
{
	struct app *c, *s;

	(void)state;
	open_pairs(1, &c, &s);
	N->loss = 50;
	N->reorder = 30;
	c->tx_total = MB;
	run_for(30000);
	mg_tcp_shutdown(&N->st[SS], s->c);
	c->shutdown_after_tx = true;
	if (!run_until(upload_in, 60000000))
		dump();
	assert_true(upload_in());
	assert_int_equal(s->rx_bad, 0);
}


/* The proxy's end of the client connection, in @p st, with unread bytes. */
static bool client_conn_holds_data_in(enum mg_tcp_state st)
{
	for (uint32_t i = 0; i < N->st[SP].p.max_conns; i++) {
		struct mg_tcp_conn *x = &N->st[SP].conns[i];

		if (x->key.lport == PORT_L && x->state == st && mg_tcp_recv_ready(x) > 0)
			return true;
	}
	return false;
}


/* The server reads again: the upload held back arrives whole, the pair ends. */
static void upload_arrives(struct app *c, struct app *s, uint64_t up)
{
	s->auto_read = true;
	assert_true(run_until(all_done, 10000000));
	assert_exact(c, s, up, 0);
	assert_int_equal(PX(bytes_up), up);
	assert_int_equal(PX(closed_normal), 1);
	assert_proxy_empty();
}


static bool proxy_has_client_fin(void)
{
	return client_conn_holds_data_in(MG_TCP_CLOSE_WAIT);
}


static bool client_conn_in_time_wait(void)
{
	return client_conn_holds_data_in(MG_TCP_TIME_WAIT);
}


/*
 * The client uploads and half-closes while the server does not read; the
 * server then half-closes its side before reading. The client's last bytes
 * still wait in the proxy's receive queue and must reach the server.
 */
static void server_fin_while_upload_waits_in_the_proxy(void **state)
{
	struct app *c, *s;

	(void)state;
	open_pairs(1, &c, &s);
	s->auto_read = false;
	c->tx_total = 180000; /* less than the buffers between: its FIN gets out */
	c->shutdown_after_tx = true;
	assert_true(run_until(proxy_has_client_fin, 10000000));
	s->shutdown_after_tx = true; /* FIN with nothing sent */
	run_for(200000);
	upload_arrives(c, s, 180000);
}


/*
 * The server half-closes first, then the client uploads and half-closes while
 * the server does not read: the proxy's end of the client connection goes
 * FIN-WAIT-2 -> TIME-WAIT still holding the client's last bytes, and they
 * must outlive TIME-WAIT until the server reads them.
 */
static void upload_outlives_time_wait_in_the_proxy(void **state)
{
	struct app *c, *s;

	(void)state;
	open_pairs(1, &c, &s);
	s->auto_read = false;
	s->shutdown_after_tx = true; /* FIN with nothing sent */
	run_for(20000);
	assert_true(c->peer_fin);
	c->tx_total = 180000;
	c->shutdown_after_tx = true;
	assert_true(run_until(client_conn_in_time_wait, 10000000));
	run_for(TIME_WAIT_US + 100000);
	upload_arrives(c, s, 180000);
}


static bool client_got_all(void)
{
	return N->apps[0].rx == N->apps[1].tx_total;
}


static void slow_client_closes_the_server_window(void **state)
{
	const uint64_t total = 4 * MB;
	/*
	 * The proxy may hold a send and a receive buffer per side, in mbufs of
	 * one MSS (1448 payload bytes with timestamps) in a 2176-byte buffer,
	 * plus 16 mbufs for split segments: 2 * 128 KiB * 2176 / 1448 + 34816.
	 */
	const uint64_t bound = 2 * (uint64_t)(BUF + BUF) * RTE_MBUF_DEFAULT_BUF_SIZE / 1448 +
			       16 * RTE_MBUF_DEFAULT_BUF_SIZE;
	struct app *c, *s;

	(void)state;
	open_pairs(1, &c, &s);
	N->mem_bound = bound;
	c->auto_read = false;
	s->tx_total = total;
	run_for(3000000);
	/* What the server could queue: the buffers of the four queues between. */
	assert_true(s->tx <= 4 * BUF + BUF / 2);
	assert_true(mg_tcp_recv_ready(c->c) > 0);
	assert_int_equal(c->rx, 0);
	c->auto_read = true;
	assert_true(run_until(client_got_all, 30000000));
	assert_int_equal(c->rx, total);
	assert_int_equal(c->rx_bad, 0);
	assert_int_equal(PX(bytes_down), total);
	print_message("backpressure: proxy mem_used peak %lu, bound %lu\n", N->mem_peak,
		      N->mem_bound);
}


static void two_pairs_under_a_small_memory_bound(void **state)
{
	const uint64_t n = 512 * 1024;
	struct app *c[2], *s[2];

	(void)state;
	restart(64 * 1024, 16, true);
	open_pairs(2, c, s);
	for (int k = 0; k < 2; k++)
		exchange(c[k], s[k], n, n);
	assert_true(run_until(all_done, 30000000));
	for (int k = 0; k < 2; k++)
		assert_exact(c[k], s[k], n, n);
	assert_int_equal(PX(closed_normal), 2);
	assert_int_equal(PX(bytes_up), 2 * n);
	assert_int_equal(PX(bytes_down), 2 * n);
	assert_true(N->st[SP].st.ctr[MG_TCP_CTR_mem_bound_hits] > 0);
	print_message("small memory: %.1f s simulated, mem_waits %lu, mem_bound_hits %lu, "
		      "peak %lu\n", (double)(N->now - 1000000) / 1e6, PX(mem_waits),
		      N->st[SP].st.ctr[MG_TCP_CTR_mem_bound_hits], N->mem_peak);
	assert_proxy_empty();
}


static void one_mb_each_way_under_loss_and_reordering(void **state)
{
	struct app *c, *s;

	(void)state;
	N->loss = 30;
	N->reorder = 30;
	open_pairs(1, &c, &s);
	exchange_whole(c, s, MB, MB, 300000000);
	assert_true(N->lost > 0);
	assert_true(N->st[SP].st.ctr[MG_TCP_CTR_retransmits] > 0);
	assert_true(N->st[SP].st.ctr[MG_TCP_CTR_ooo_segs] > 0);
	print_message("lossy: %.1f s simulated, %lu frames, %lu lost\n",
		      (double)(N->now - 1000000) / 1e6, N->sent, N->lost);
	assert_proxy_empty();
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(one_mb_each_way_then_fins),
		T(server_fin_while_upload_is_repaired),
		T(half_close_keeps_the_other_direction),
		T(server_fin_while_upload_waits_in_the_proxy),
		T(upload_outlives_time_wait_in_the_proxy),
		T(slow_client_closes_the_server_window),
		T(two_pairs_under_a_small_memory_bound),
		T(one_mb_each_way_under_loss_and_reordering),
#undef T
	};
	(void)argc;
	return WIRE_MAIN(tests, argv[0], "mgtest-proxy", "proxy_test", 16383, pool, pool_full);
}

