/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the TCP stack does with each segment that arrives (RFC 9293 3.10.7,
 * RFC 5961, RFC 7323): RSTs in and out of the window, challenge ACKs, PAWS,
 * bad options, SYN cookies, FIN in every state, TIME-WAIT reuse, over the
 * simulated wire (tcp_sim.h) with forged segments from a fake peer.
 */
#include "tcp_sim.h"

/* ---- cases ---------------------------------------------------------------- */


/* What inject() needs to forge a segment from a's port 5555 to b's @p lport,
 * for a connection that b does not hold. */
static void fake_peer(struct mg_tcp_conn *fake, uint16_t lport)
{
	memset(fake, 0, sizeof(*fake));
	fake->key.lip = IP_B;
	fake->key.rip = IP_A;
	fake->key.lport = lport;
	fake->key.rport = RTE_BE16(5555);
	memcpy(fake->our_mac, MAC_B, 6);
	memcpy(fake->peer_mac, MAC_A, 6);
}


static void rst_at_rcv_nxt_resets(void **state)
{
	struct app *sv;
	struct mg_tcp_conn *c;

	(void)state;
	open_pair(16);
	sv = last_accepted;
	c = sv->c;
	inject(1, c, c->rcv_nxt, 0, TH_RST, NULL, 0, 0);
	assert_true(sv->closed);
	assert_int_equal(sv->close_reason, MG_TCP_CLOSE_RESET);
	assert_int_equal(CTR_OF(1, rst_recv), 1);
	assert_int_equal(N->st[1].st.closes[MG_TCP_CLOSE_RESET], 1);
}


static void rst_out_of_window_is_ignored(void **state)
{
	struct app *sv;
	struct mg_tcp_conn *c;

	(void)state;
	open_pair(16);
	sv = last_accepted;
	c = sv->c;
	inject(1, c, c->rcv_nxt + 10 * 1024 * 1024, 0, TH_RST, NULL, 0, 0);
	inject(1, c, c->rcv_nxt - 1, 0, TH_RST, NULL, 0, 0);
	assert_false(sv->closed);
	assert_int_equal(mg_tcp_state(c), MG_TCP_ESTABLISHED);
	assert_int_equal(DROP_OF(1, NOT_ACCEPTABLE), 2);
	assert_int_equal(tx_pending(1), 0); /* no answer to an RST */
}


static void rst_in_window_not_exact_gets_challenge_ack(void **state)
{
	struct app *sv;
	struct mg_tcp_conn *c;

	(void)state;
	open_pair(16);
	sv = last_accepted;
	c = sv->c;
	inject(1, c, c->rcv_nxt + 100, 0, TH_RST, NULL, 0, 0);
	assert_false(sv->closed);
	assert_int_equal(CTR_OF(1, challenge_acks), 1);
	assert_int_equal(DROP_OF(1, RST_NOT_EXACT), 1);
	assert_int_equal(tx_pending(1), 1);
	run_for(N, 5000); /* the peer takes the challenge ACK in stride */
	assert_int_equal(mg_tcp_state(apps[0].c), MG_TCP_ESTABLISHED);
}


static void syn_in_synchronized_state_gets_challenge_ack(void **state)
{
	struct app *sv;
	struct mg_tcp_conn *c;
	uint8_t o[12];

	(void)state;
	open_pair(16);
	sv = last_accepted;
	c = sv->c;
	inject(1, c, c->rcv_nxt + 5, 0, TH_SYN, o, ts_opt(c, o), 0);
	assert_false(sv->closed);
	assert_int_equal(CTR_OF(1, challenge_acks), 1);
	assert_int_equal(DROP_OF(1, SYN_IN_WINDOW), 1);
	assert_int_equal(mg_tcp_state(c), MG_TCP_ESTABLISHED);
}


static void challenge_acks_are_rate_limited(void **state)
{
	struct mg_tcp_conn *c;

	(void)state;
	open_pair(16);
	c = last_accepted->c;
	for (int i = 0; i < 1100; i++)
		inject(1, c, c->rcv_nxt + 100, 0, TH_RST, NULL, 0, 0);
	/* One per connection per challenge_ack_gap (test_tcp_guard.c has the rest). */
	assert_int_equal(CTR_OF(1, challenge_acks), 1);
	assert_int_equal(CTR_OF(1, challenge_acks_conn_limited), 1099);
	assert_int_equal(CTR_OF(1, challenge_acks_global_limited), 0);
}


static void out_of_window_data_gets_ack(void **state)
{
	struct mg_tcp_conn *c;
	uint8_t o[12];

	(void)state;
	open_pair(16);
	c = last_accepted->c;
	inject(1, c, c->rcv_nxt + 1000000, c->snd_nxt, TH_ACK, o, ts_opt(c, o), 100);
	assert_int_equal(DROP_OF(1, NOT_ACCEPTABLE), 1);
	assert_int_equal(tx_pending(1), 1);
	assert_int_equal(last_accepted->rx, 0);
	/* An ACK for data never sent is answered with an ACK too. */
	inject(1, c, c->rcv_nxt, c->snd_nxt + 5000, TH_ACK, o, ts_opt(c, o), 0);
	assert_int_equal(DROP_OF(1, ACK_UNSENT), 1);
}


static void paws_drops_old_timestamps(void **state)
{
	struct mg_tcp_conn *c;
	uint8_t o[12];
	uint32_t old;

	(void)state;
	open_pair(16);
	c = last_accepted->c;
	ts_opt(c, o);
	old = rte_cpu_to_be_32(c->ts_recent - 1000);
	memcpy(o + 4, &old, 4);
	inject(1, c, c->rcv_nxt, c->snd_nxt, TH_ACK, o, 12, 100);
	assert_int_equal(DROP_OF(1, PAWS), 1);
	assert_int_equal(last_accepted->rx, 0);
	/* No timestamp at all on a timestamped connection: dropped too. */
	inject(1, c, c->rcv_nxt, c->snd_nxt, TH_ACK, NULL, 0, 100);
	assert_int_equal(DROP_OF(1, NO_TIMESTAMP), 1);
}


static void bad_option_lengths_are_dropped(void **state)
{
	struct mg_tcp_conn *c;
	uint8_t zero_len[4] = {8, 0, 1, 1};  /* kind 8, length 0 */
	uint8_t past_end[4] = {1, 1, 5, 12}; /* SACK running past the header */
	uint8_t mss_len[4] = {2, 3, 0, 0};   /* MSS with length 3 */

	(void)state;
	open_pair(16);
	c = last_accepted->c;
	inject(1, c, c->rcv_nxt, c->snd_nxt, TH_ACK, zero_len, 4, 10);
	inject(1, c, c->rcv_nxt, c->snd_nxt, TH_ACK, past_end, 4, 10);
	inject(1, c, c->rcv_nxt, c->snd_nxt, TH_ACK | TH_SYN, mss_len, 4, 0);
	assert_int_equal(DROP_OF(1, BAD_OPTIONS), 3);
	assert_int_equal(mg_tcp_state(c), MG_TCP_ESTABLISHED);
	assert_int_equal(last_accepted->rx, 0);
}


static void segment_to_closed_port_gets_rst(void **state)
{
	struct mg_tcp_conn fake;

	(void)state;
	fake_peer(&fake, RTE_BE16(9));
	inject(1, &fake, 1000, 0, TH_SYN, NULL, 0, 0);
	assert_int_equal(DROP_OF(1, NO_CONN), 1);
	assert_int_equal(CTR_OF(1, rst_sent), 1);
	inject(1, &fake, 1000, 0, TH_RST, NULL, 0, 0); /* never answer an RST */
	assert_int_equal(CTR_OF(1, rst_sent), 1);
}


static void syn_cookies_when_backlog_is_zero(void **state)
{
	struct app *cl;

	(void)state;
	cl = open_pair(0);
	assert_int_equal(CTR_OF(1, syncookies_sent), 1);
	assert_int_equal(CTR_OF(1, syncookies_validated), 1);
	assert_true(last_accepted->c->flags & TF_WS_OK);
	assert_true(last_accepted->c->flags & TF_SACK_OK);
	assert_true(last_accepted->c->flags & TF_TS_OK);
	cl->tx_total = 300000;
	last_accepted->tx_total = 100000;
	assert_true(run_until(N, server_got_all, 30000000));
	assert_true(run_until(N, client_got_all, 30000000));
	assert_int_equal(last_accepted->rx_bad + cl->rx_bad, 0);
}


static void forged_cookie_ack_gets_rst(void **state)
{
	struct mg_tcp_conn fake;

	(void)state;
	assert_true(mg_tcp_listen(&N->st[1], 0, PORT_SRV, 0, &ops, NULL) >= 0);
	fake_peer(&fake, PORT_SRV);
	/* Cookies are tried only after an overflow (test_tcp_guard.c): make one. */
	inject(1, &fake, 1000, 0, TH_SYN, NULL, 0, 0);
	assert_int_equal(CTR_OF(1, syncookies_sent), 1);
	inject(1, &fake, 1001, 0x12345678, TH_ACK, NULL, 0, 0);
	assert_int_equal(CTR_OF(1, syncookies_failed), 1);
	assert_int_equal(CTR_OF(1, rst_sent), 1);
	assert_int_equal(N->st[1].st.conns[MG_TCP_ESTABLISHED], 0);
}


static void time_wait_is_reused_by_a_newer_syn(void **state)
{
	struct app *cl, *sv, *cl2;

	(void)state;
	cl = open_pair(16);
	sv = last_accepted;
	cl->tx_total = 1000;
	run_for(N, 10000);
	mg_tcp_close(&N->st[1], sv->c); /* the server closes first: it holds TIME-WAIT */
	run_for(N, 10000);
	assert_true(cl->peer_fin);
	mg_tcp_close(&N->st[0], cl->c);
	run_for(N, 10000);
	assert_int_equal(N->st[1].st.conns[MG_TCP_TIME_WAIT], 1);
	assert_int_equal(N->st[0].st.conns[MG_TCP_LAST_ACK] + N->st[0].st.conns[MG_TCP_ESTABLISHED], 0);
	N->now += 1000000;
	last_accepted = NULL;
	cl2 = client_connect(40000); /* the same four-tuple */
	assert_true(run_until(N, both_up, 5000000));
	(void)cl2;
	assert_int_equal(CTR_OF(1, tw_recycled), 1);
	assert_int_equal(N->st[1].st.closes[MG_TCP_CLOSE_TW_RECYCLED], 1);
	assert_int_equal(mg_tcp_state(last_accepted->c), MG_TCP_ESTABLISHED);
}


static void fin_retransmitted_in_time_wait_is_acked(void **state)
{
	struct app *cl, *sv;
	struct mg_tcp_conn *c;
	uint8_t o[12];
	uint64_t t0;

	(void)state;
	cl = open_pair(16);
	sv = last_accepted;
	mg_tcp_shutdown(&N->st[0], cl->c);
	run_for(N, 10000);
	mg_tcp_shutdown(&N->st[1], sv->c);
	run_for(N, 10000);
	c = cl->c;
	assert_int_equal(mg_tcp_state(c), MG_TCP_TIME_WAIT);
	t0 = c->t_misc;
	N->now += 500000;
	mg_tcp_timers_run(&N->st[0], N->now);
	inject(0, c, c->rcv_nxt - 1, c->snd_nxt, TH_ACK | TH_FIN, o, ts_opt(c, o), 0);
	assert_int_equal(tx_pending(0), 1); /* the ACK again */
	assert_int_equal(mg_tcp_state(c), MG_TCP_TIME_WAIT);
	(void)t0;
}


static void close_with_unread_data_sends_rst(void **state)
{
	struct app *cl, *sv;

	(void)state;
	cl = open_pair(16);
	sv = last_accepted;
	sv->auto_read = false;
	cl->tx_total = 1000;
	run_for(N, 10000);
	assert_int_equal(mg_tcp_recv_ready(sv->c), 1000);
	mg_tcp_close(&N->st[1], sv->c);
	assert_int_equal(N->st[1].st.closes[MG_TCP_CLOSE_UNREAD_DATA], 1);
	run_for(N, 10000);
	assert_true(cl->closed);
	assert_int_equal(cl->close_reason, MG_TCP_CLOSE_RESET);
}


static void data_after_close_gets_rst(void **state)
{
	struct app *cl, *sv;

	(void)state;
	cl = open_pair(16);
	sv = last_accepted;
	mg_tcp_close(&N->st[1], sv->c); /* server closes; client keeps sending */
	run_for(N, 10000);
	assert_true(cl->peer_fin);
	cl->tx_total = 1000;
	run_for(N, 10000);
	assert_int_equal(DROP_OF(1, DATA_AFTER_CLOSE), 1);
	assert_int_equal(N->st[1].st.closes[MG_TCP_CLOSE_DATA_AFTER_CLOSE], 1);
	assert_true(cl->closed);
	assert_int_equal(cl->close_reason, MG_TCP_CLOSE_RESET);
}


static bool legit_up(void)
{
	return apps[0].connected && last_accepted;
}


static void syn_flood_does_not_stop_a_legitimate_client(void **state)
{
	struct mg_tcp_conn fake;
	struct app *cl;

	(void)state;
	assert_true(mg_tcp_listen(&N->st[1], 0, PORT_SRV, 8, &ops, NULL) >= 0);
	fake_peer(&fake, PORT_SRV);
	for (uint32_t i = 0; i < 500; i++) { /* spoofed sources never answer */
		fake.key.rip = rte_cpu_to_be_32(0x0a000000 + i);
		fake.key.rport = rte_cpu_to_be_16((uint16_t)(1024 + i));
		inject(1, &fake, i * 7919, 0, TH_SYN, NULL, 0, 0);
	}
	wire_drop_to(0);
	collect(N);
	wire_drop_to(0); /* the SYN-ACKs go nowhere */
	assert_int_equal(N->st[1].st.conns[MG_TCP_SYN_RCVD], 8);
	assert_int_equal(CTR_OF(1, syncookies_sent), 492);
	cl = client_connect(40000);
	assert_true(run_until(N, legit_up, 5000000));
	assert_int_equal(CTR_OF(1, syncookies_validated), 1);
	cl->tx_total = 10000;
	assert_true(run_until(N, server_got_all, 5000000));
	/* The half-open ones end: retransmitted SYN-ACKs reach a host that
	 * answers RST here; unanswered ones give up after their retries. */
	run_for(N, 200000000);
	assert_int_equal(N->st[1].st.conns[MG_TCP_SYN_RCVD], 0);
	assert_int_equal(N->st[1].st.closes[MG_TCP_CLOSE_SYN_TIMEOUT] +
			 N->st[1].st.closes[MG_TCP_CLOSE_RESET], 8);
}


/* FIN from the peer of the client connection, at RCV.NXT (or one before it
 * for a retransmitted FIN), acking @p ack; no wire traffic in between. */
static void fin_to_client(struct mg_tcp_conn *c, bool again, uint32_t ack)
{
	uint8_t o[12];

	inject(0, c, again ? c->rcv_nxt - 1 : c->rcv_nxt, ack, TH_FIN | TH_ACK, o,
	       ts_opt(c, o), 0);
}


static void ack_to_client(struct mg_tcp_conn *c, uint32_t ack)
{
	uint8_t o[12];

	inject(0, c, c->rcv_nxt, ack, TH_ACK, o, ts_opt(c, o), 0);
}


static void fin_in_established_goes_to_close_wait(void **state)
{
	struct app *cl;

	(void)state;
	cl = open_pair(16);
	fin_to_client(cl->c, false, cl->c->snd_una);
	assert_int_equal(mg_tcp_state(cl->c), MG_TCP_CLOSE_WAIT);
	assert_true(cl->peer_fin);
	fin_to_client(cl->c, true, cl->c->snd_una); /* again: only an ACK */
	assert_int_equal(mg_tcp_state(cl->c), MG_TCP_CLOSE_WAIT);
	assert_true(tx_pending(0) >= 2);
	mg_tcp_shutdown(&N->st[0], cl->c);
	assert_int_equal(mg_tcp_state(cl->c), MG_TCP_LAST_ACK);
	fin_to_client(cl->c, true, cl->c->snd_una); /* LAST-ACK: FIN again, no ACK of ours */
	assert_int_equal(mg_tcp_state(cl->c), MG_TCP_LAST_ACK);
	ack_to_client(cl->c, cl->c->snd_max); /* now it ACKs our FIN */
	assert_true(cl->closed);
	assert_int_equal(cl->close_reason, MG_TCP_CLOSE_NORMAL);
}


static void fin_in_fin_wait_1(void **state)
{
	struct app *cl;

	(void)state;
	cl = open_pair(16);
	mg_tcp_shutdown(&N->st[0], cl->c);
	fin_to_client(cl->c, false, cl->c->snd_una); /* our FIN not yet ACKed */
	assert_int_equal(mg_tcp_state(cl->c), MG_TCP_CLOSING);
	fin_to_client(cl->c, true, cl->c->snd_una);  /* CLOSING: FIN again */
	assert_int_equal(mg_tcp_state(cl->c), MG_TCP_CLOSING);
	ack_to_client(cl->c, cl->c->snd_max);  /* the ACK of our FIN */
	assert_int_equal(mg_tcp_state(cl->c), MG_TCP_TIME_WAIT);
}


static void fin_acking_our_fin_in_fin_wait_1_goes_to_time_wait(void **state)
{
	struct app *cl;

	(void)state;
	cl = open_pair(16);
	mg_tcp_shutdown(&N->st[0], cl->c);
	fin_to_client(cl->c, false, cl->c->snd_max);
	assert_int_equal(mg_tcp_state(cl->c), MG_TCP_TIME_WAIT);
}


static void fin_in_fin_wait_2_goes_to_time_wait(void **state)
{
	struct app *cl;

	(void)state;
	cl = open_pair(16);
	mg_tcp_shutdown(&N->st[0], cl->c);
	run_for(N, 5000);
	assert_int_equal(mg_tcp_state(cl->c), MG_TCP_FIN_WAIT_2);
	wire_drop_to(0);
	wire_drop_to(1);
	fin_to_client(cl->c, false, cl->c->snd_max);
	assert_int_equal(mg_tcp_state(cl->c), MG_TCP_TIME_WAIT);
}


static void fin_in_syn_sent_and_listen_is_dropped(void **state)
{
	struct app *cl;
	struct mg_tcp_conn fake;

	(void)state;
	cl = client_connect(40000); /* nobody listens yet; its SYN stays in the ring */
	inject(0, cl->c, 1000, cl->c->snd_nxt, TH_FIN | TH_ACK, NULL, 0, 0);
	assert_int_equal(DROP_OF(0, SYN_SENT_NO_SYN), 1);
	assert_int_equal(mg_tcp_state(cl->c), MG_TCP_SYN_SENT);
	assert_true(mg_tcp_listen(&N->st[1], 0, PORT_SRV, 16, &ops, NULL) >= 0);
	fake_peer(&fake, PORT_SRV);
	inject(1, &fake, 1000, 0, TH_FIN, NULL, 0, 0);
	assert_int_equal(DROP_OF(1, LISTEN_NOT_SYN), 1);
}


static void fin_with_the_handshake_ack_in_syn_rcvd(void **state)
{
	struct mg_tcp_conn fake, *c;
	uint8_t o[12];

	(void)state;
	assert_true(mg_tcp_listen(&N->st[1], 0, PORT_SRV, 16, &ops, NULL) >= 0);
	fake_peer(&fake, PORT_SRV);
	inject(1, &fake, 1000, 0, TH_SYN, NULL, 0, 0); /* no options at all */
	c = mg_tcp_lookup(&N->st[1], &fake.key);
	assert_non_null(c);
	assert_int_equal(mg_tcp_state(c), MG_TCP_SYN_RCVD);
	assert_int_equal(c->mss, 536); /* RFC 9293: no MSS option means 536 */
	assert_false(c->flags & (TF_TS_OK | TF_SACK_OK | TF_WS_OK));
	(void)o;
	inject(1, c, 1001, c->snd_nxt, TH_ACK | TH_FIN, NULL, 0, 0);
	assert_int_equal(mg_tcp_state(c), MG_TCP_CLOSE_WAIT);
	conn_deliver(&N->st[1]);
	assert_non_null(last_accepted);
	assert_true(last_accepted->peer_fin);
}


static void unaligned_options_are_parsed(void **state)
{
	struct mg_tcp_conn fake, *c;
	/* NOP, MSS 1280, NOP NOP NOP, WS 2, EOL: MSS and WS off 4-byte alignment. */
	uint8_t o[12] = {1, 2, 4, 0x05, 0x00, 1, 1, 1, 3, 3, 2, 0};

	(void)state;
	assert_true(mg_tcp_listen(&N->st[1], 0, PORT_SRV, 16, &ops, NULL) >= 0);
	fake_peer(&fake, PORT_SRV);
	inject(1, &fake, 1000, 0, TH_SYN, o, sizeof(o), 0);
	c = mg_tcp_lookup(&N->st[1], &fake.key);
	assert_non_null(c);
	assert_int_equal(c->mss, 1280);
	assert_true(c->flags & TF_WS_OK);
	assert_int_equal(c->snd_wscale, 2);
}


static void rst_is_taken_in_a_zero_window(void **state)
{
	struct app *cl, *sv;

	(void)state;
	cl = open_pair(16);
	sv = last_accepted;
	close_the_window(cl, sv, 200000);
	assert_int_equal(tcp_rcv_window(&N->st[1], sv->c), 0);
	inject(1, sv->c, sv->c->rcv_nxt, 0, TH_RST, NULL, 0, 0);
	assert_true(sv->closed);
	assert_int_equal(sv->close_reason, MG_TCP_CLOSE_RESET);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(rst_at_rcv_nxt_resets),
		T(rst_out_of_window_is_ignored),
		T(rst_in_window_not_exact_gets_challenge_ack),
		T(syn_in_synchronized_state_gets_challenge_ack),
		T(challenge_acks_are_rate_limited),
		T(out_of_window_data_gets_ack),
		T(paws_drops_old_timestamps),
		T(bad_option_lengths_are_dropped),
		T(segment_to_closed_port_gets_rst),
		T(syn_cookies_when_backlog_is_zero),
		T(forged_cookie_ack_gets_rst),
		T(time_wait_is_reused_by_a_newer_syn),
		T(fin_retransmitted_in_time_wait_is_acked),
		T(close_with_unread_data_sends_rst),
		T(data_after_close_gets_rst),
		T(syn_flood_does_not_stop_a_legitimate_client),
		T(fin_in_established_goes_to_close_wait),
		T(fin_in_fin_wait_1),
		T(fin_acking_our_fin_in_fin_wait_1_goes_to_time_wait),
		T(fin_in_fin_wait_2_goes_to_time_wait),
		T(fin_in_syn_sent_and_listen_is_dropped),
		T(fin_with_the_handshake_ack_in_syn_rcvd),
		T(unaligned_options_are_parsed),
		T(rst_is_taken_in_a_zero_window),
#undef T
	};
	(void)argc;
	return WIRE_MAIN(tests, argv[0], "mgtest-tcpin", "tcpin_test", 16383, pool, pool_full);
}

