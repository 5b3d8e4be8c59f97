/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Loss, windows and timers of the TCP stack over the simulated wire
 * (tcp_sim.h): retransmission, SACK and NewReno repair, reassembly, zero
 * windows and persist probes, memory and send-buffer bounds, delayed ACKs,
 * keepalive, ICMP fragmentation-needed.
 */
#include "tcp_sim.h"

/* ---- cases ---------------------------------------------------------------- */


/* Queue exactly what the send buffer takes: never refused, so never armed. */
static void fill_send_buffer(struct app *a)
{
	uint8_t buf[4096] = {0};
	uint32_t room;

	while ((room = mg_tcp_send_space(a->st, a->c)) > 0)
		assert_true(mg_tcp_send_copy(a->st, a->c, buf,
					     RTE_MIN(room, (uint32_t)sizeof(buf))) > 0);
	assert_int_equal(mg_tcp_send_room(a->c), 0);
}


/* Fill until the peer's window is closed too: then the buffer stays full. */
static void fill_until_stuck(struct app *a)
{
	for (int i = 0; i < 20; i++) {
		fill_send_buffer(a);
		run_for(N, 200000);
		if (mg_tcp_send_room(a->c) == 0)
			return;
	}
	fail_msg("the send buffer never stayed full");
}


static bool server_read_all(void)
{
	app_read(last_accepted);
	return mg_tcp_send_room(apps[0].c) == apps[0].c->sndbuf;
}


/* WRITABLE comes after mg_tcp_want_writable() once half the buffer is free,
 * and not for a sender that was never refused and did not ask. */
static void want_writable_reports_once_half_free(void **state)
{
	struct app *cl;

	(void)state;
	cl = open_pair(16);
	assert_true(mg_tcp_want_writable(cl->c)); /* empty: room now, no event */
	last_accepted->auto_read = false;
	fill_until_stuck(cl);
	cl->events = 0;
	assert_true(run_until(N, server_read_all, 5000000));
	assert_false(cl->events & MG_TCP_EV_WRITABLE);

	fill_until_stuck(cl);
	assert_false(mg_tcp_want_writable(cl->c));
	cl->events = 0;
	assert_true(run_until(N, server_read_all, 5000000));
	assert_true(cl->events & MG_TCP_EV_WRITABLE);
}


/* 1 MB from @p cl under the wire's loss, reordering and duplication (and
 * @p corrupt), all of it arriving intact. */
static void megabyte_under_faults(struct app *cl, unsigned corrupt)
{
	N->loss = 50;
	N->reorder = 50;
	N->dup = 50;
	N->corrupt = corrupt;
	cl->tx_total = 1 << 20;
	assert_true(run_until(N, server_got_all, 300000000));
	assert_int_equal(last_accepted->rx_bad, 0);
}

static void transfer_under_loss_reorder_dup_corrupt(void **state)
{
	(void)state;
	megabyte_under_faults(open_pair(16), 10);
	assert_true(N->lost > 0 && N->duped > 0 && N->bad_csum > 0);
	assert_true(CTR_OF(0, retransmits) > 0);
	assert_true(CTR_OF(1, ooo_segs) > 0);
	assert_true(CTR_OF(1, dup_bytes) > 0);
	print_message("lossy 1 MB: %.1f s simulated, sent %lu lost %lu dup %lu bad %lu, "
		      "rexmit %lu rto %lu fast %lu sack %lu\n",
		      (double)N->now / 1e6, N->sent, N->lost, N->duped, N->bad_csum,
		      CTR_OF(0, retransmits), CTR_OF(0, rto_fires), CTR_OF(0, fast_retransmits),
		      CTR_OF(0, sack_rexmits));
}


/* Payloads copied into their header mbufs (af_xdp), found in the send
 * queue from the last segment's place (sndq_hint) and from the head for
 * retransmissions, arrive intact under loss, reordering and duplication. */
static void copied_transfer_under_loss_sends_the_right_bytes(void **state)
{
	struct mg_tcp_params pa, pb;

	params_both(&pa, &pb);
	pa.tx_copy_max = pb.tx_copy_max = UINT16_MAX;
	restart(state, &pa, &pb);
	megabyte_under_faults(open_pair(16), 0);
	assert_int_equal(N->bad_csum, 0);
	assert_true(N->lost > 0);
	assert_true(CTR_OF(0, retransmits) > 0);
}


static bool probe_captured(void)
{
	for (unsigned i = 0; i < N->n_captured; i++)
		if (rte_pktmbuf_mtod_offset(N->captured[i], struct rte_ipv4_hdr *, 14)->src_addr ==
		    IP_A)
			return true;
	return false;
}


/*
 * Hold the wire until the client sends, and check that what it sends while
 * the window is zero is a probe (RFC 9293 3.8.6.1, MUST-35/36): one byte of
 * new data at SND.UNA. Then let the held frames go on.
 */
static void assert_next_is_a_probe(struct app *cl)
{
	uint32_t una = cl->c->snd_una;
	unsigned n;

	N->hold = true;
	N->n_captured = 0;
	assert_true(run_until(N, probe_captured, 130000000));
	N->hold = false;
	n = N->n_captured;
	N->n_captured = 0;
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = N->captured[i];
		const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
		const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(f + 14);
		const struct rte_tcp_hdr *th = (const struct rte_tcp_hdr *)(ip + 1);
		struct mg_pkt pkt;
		int to = ip->src_addr == IP_A ? 1 : 0;

		wire_pkt(&pkt, f, 20);
		if (!to) {
			wire_put(N, to, m, 0);
			continue;
		}
		assert_int_equal(cl->c->snd_wnd, 0);
		assert_int_equal(rte_be_to_cpu_32(th->sent_seq), una);
		assert_int_equal(pkt.data_len, 1);
		assert_int_equal(th->tcp_flags & (TH_SYN | TH_FIN | TH_RST), 0);
		wire_put(N, to, m, 0);
	}
}


static void zero_window_persists_then_resumes(void **state)
{
	struct app *cl, *sv;
	uint64_t probes;

	(void)state;
	cl = open_pair(16);
	sv = last_accepted;
	close_the_window(cl, sv, 300000);
	assert_int_equal(sv->c->rcvq_bytes, sv->c->rcvbuf);
	assert_int_equal(sv->c->rcv_adv, sv->c->rcv_nxt); /* window zero */
	assert_int_equal(cl->c->snd_wnd, 0);
	probes = CTR_OF(0, persist_probes);
	assert_next_is_a_probe(cl);
	assert_int_equal(CTR_OF(0, persist_probes), probes + 1);
	/* The probe's byte found no room: the window is still zero. */
	run_for(N, 10000);
	assert_int_equal(cl->c->snd_wnd, 0);
	assert_int_equal(sv->c->rcvq_bytes, sv->c->rcvbuf);
	sv->auto_read = true;
	app_read(sv);
	assert_true(run_until(N, server_got_all, 60000000));
	assert_int_equal(sv->rx_bad, 0);
}


/* The L4 proxy reads in pieces smaller than the update threshold; together
 * they must still reopen the window at once (regression: the update was only
 * sent when one call alone grew the window by min(rcvbuf/2, 2 MSS)). */
static void small_reads_reopen_a_zero_window(void **state)
{
	struct app *cl, *sv;
	struct rte_mbuf *m;
	uint32_t got = 0, n;

	(void)state;
	cl = open_pair(16);
	sv = last_accepted;
	close_the_window(cl, sv, 300000);
	assert_int_equal(sv->c->rcv_adv, sv->c->rcv_nxt); /* window zero */
	while (got < sv->c->rcvbuf / 2 + 4u * sv->c->mss) {
		n = mg_tcp_recv(&N->st[1], sv->c, 300, &m);
		assert_true(n > 0 && n <= 300);
		rte_pktmbuf_free(m);
		got += n;
	}
	/* The update waits for the end of the burst (one ACK, not one per
	 * read), and no clock advance is needed for it to go out. */
	assert_int_equal(sv->c->rcv_adv, sv->c->rcv_nxt);
	mg_tcp_flush(&N->st[1]);
	assert_true(SEQ_GT(sv->c->rcv_adv, sv->c->rcv_nxt));
}


static void memory_bound_is_counted(void **state)
{
	struct mg_tcp_params pa, pb;
	struct app *cl, *sv;

	params_both(&pa, &pb);
	pb.mem_max = 16 * 2176; /* sixteen buffers for the whole server stack */
	restart(state, &pa, &pb);
	cl = open_pair(16);
	sv = last_accepted;
	sv->auto_read = false;
	cl->tx_total = 200000;
	run_for(N, 2000000);
	assert_true(CTR_OF(1, mem_bound_hits) > 0);
	assert_true(N->st[1].st.mem_used <= pb.mem_max);
	sv->auto_read = true;
	app_read(sv);
	assert_true(run_until(N, server_got_all, 120000000));
	assert_int_equal(sv->rx_bad, 0);
}


static void send_buffer_bound_gives_backpressure(void **state)
{
	struct app *cl;
	uint8_t buf[1000];
	int64_t total = 0, r;

	(void)state;
	cl = open_pair(16);
	last_accepted->auto_read = false;
	memset(buf, 0, sizeof(buf));
	while ((r = mg_tcp_send_copy(&N->st[0], cl->c, buf, sizeof(buf))) > 0)
		total += r;
	assert_int_equal(total, 64 * 1024);
	assert_int_equal(mg_tcp_send_space(&N->st[0], cl->c), 0);
	assert_true(CTR_OF(0, sndbuf_bound_hits) > 0);
	last_accepted->auto_read = true;
	run_for(N, 100000);
	assert_true(cl->events & MG_TCP_EV_WRITABLE);
}


static void delayed_ack_fires(void **state)
{
	struct app *cl;

	(void)state;
	cl = open_pair(16);
	cl->tx_total = 100; /* one small segment: its ACK waits */
	run_for(N, 100000);
	assert_int_equal(CTR_OF(1, delayed_acks), 1);
	assert_int_equal(last_accepted->rx, 100);
}


static void keepalive_closes_a_dead_peer(void **state)
{
	struct mg_tcp_params pa, pb;
	struct app *cl;

	params_both(&pa, &pb);
	pa.keep_idle = 1000000;
	pa.keep_intvl = 100000;
	pa.keep_probes = 3;
	restart(state, &pa, &pb);
	cl = open_pair(16);
	run_for(N, 1500000);
	assert_true(CTR_OF(0, keepalive_probes) >= 1);
	assert_false(cl->closed); /* the peer answers probes */
	N->loss = 1000;           /* the peer vanishes */
	assert_true(run_until(N, all_closed, 10000000) || cl->closed);
	assert_int_equal(cl->close_reason, MG_TCP_CLOSE_KEEPALIVE);
}


static bool client_closed(void)
{
	return apps[0].closed;
}


static void retransmissions_give_up(void **state)
{
	struct app *cl;

	(void)state;
	cl = open_pair(16);
	N->loss = 1000;
	cl->tx_total = 10000;
	assert_true(run_until(N, client_closed, 2000000000));
	assert_int_equal(cl->close_reason, MG_TCP_CLOSE_TIMEOUT);
	assert_true(CTR_OF(0, rto_fires) > 10);
}


static void reassembly_trims_overlaps(void **state)
{
	struct app *sv;
	struct mg_tcp_conn *c;
	struct rte_mbuf *m;
	uint8_t o[12], got[64];
	uint32_t r;

	(void)state;
	open_pair(16);
	sv = last_accepted;
	sv->auto_read = false;
	c = sv->c;
	r = c->rcv_nxt;
	inject_base = r;
	inject(1, c, r + 10, c->snd_nxt, TH_ACK, o, ts_opt(c, o), 20); /* [10,30) */
	inject(1, c, r + 20, c->snd_nxt, TH_ACK, o, ts_opt(c, o), 30); /* [20,50) */
	inject(1, c, r + 12, c->snd_nxt, TH_ACK, o, ts_opt(c, o), 5);  /* inside: dup */
	inject(1, c, r + 5, c->snd_nxt, TH_ACK, o, ts_opt(c, o), 10);  /* [5,15) */
	inject(1, c, r + 8, c->snd_nxt, TH_ACK, o, ts_opt(c, o), 30);  /* [8,38): all held */
	inject(1, c, r + 8, c->snd_nxt, TH_ACK, o, ts_opt(c, o), 4);   /* [8,12): all held */
	assert_int_equal(c->rcv_nxt, r);
	assert_int_equal(c->ooo_bytes, 45); /* [5,50), each byte held once */
	for (struct rte_mbuf *x = c->ooo_head; x; x = x->next)
		assert_true(x->data_len > 0);
	assert_true(CTR_OF(1, dup_bytes) >= 5 + 10 + 5);
	inject(1, c, r, c->snd_nxt, TH_ACK, o, ts_opt(c, o), 8); /* [0,8): fills the hole */
	assert_int_equal(c->rcv_nxt, r + 50);
	assert_int_equal(c->ooo_segs, 0);
	assert_int_equal(mg_tcp_recv(&N->st[1], c, 64, &m), 50);
	assert_int_equal(rte_pktmbuf_read(m, 0, 50, got) == got ? 50 : 50, 50);
	memcpy(got, rte_pktmbuf_read(m, 0, 50, got), 50);
	for (int i = 0; i < 50; i++)
		assert_int_equal(got[i], (uint8_t)i);
	rte_pktmbuf_free(m);
	inject_base = 0;
}


static void sack_blocks_describe_the_queue(void **state)
{
	struct mg_tcp_conn *c;
	uint8_t o[12];
	uint32_t blk[4][2], r;

	(void)state;
	open_pair(16);
	last_accepted->auto_read = false;
	c = last_accepted->c;
	r = c->rcv_nxt;
	inject(1, c, r + 100, c->snd_nxt, TH_ACK, o, ts_opt(c, o), 100);
	inject(1, c, r + 300, c->snd_nxt, TH_ACK, o, ts_opt(c, o), 100);
	inject(1, c, r + 200, c->snd_nxt, TH_ACK, o, ts_opt(c, o), 50);
	/* The latest arrival's block first (RFC 2018 4), then the others. */
	assert_int_equal(reass_sack_blocks(c, blk, 4), 2);
	assert_int_equal(blk[0][0], r + 100);
	assert_int_equal(blk[0][1], r + 250);
	assert_int_equal(blk[1][0], r + 300);
	assert_int_equal(blk[1][1], r + 400);
}


static void out_of_order_fin_waits_for_the_hole(void **state)
{
	struct app *sv;
	struct mg_tcp_conn *c;
	uint8_t o[12];
	uint32_t r;

	(void)state;
	open_pair(16);
	sv = last_accepted;
	c = sv->c;
	r = c->rcv_nxt;
	inject_base = r;
	inject(1, c, r + 10, c->snd_nxt, TH_ACK | TH_FIN, o, ts_opt(c, o), 10);
	assert_int_equal(mg_tcp_state(c), MG_TCP_ESTABLISHED);
	assert_false(sv->peer_fin);
	inject(1, c, r, c->snd_nxt, TH_ACK, o, ts_opt(c, o), 10);
	assert_int_equal(mg_tcp_state(c), MG_TCP_CLOSE_WAIT);
	assert_true(sv->peer_fin);
	assert_int_equal(sv->rx, 20);
	assert_int_equal(c->rcv_nxt, r + 21);
	inject_base = 0;
}


static void lost_syn_ack_is_retransmitted(void **state)
{
	struct app *cl;

	(void)state;
	assert_true(mg_tcp_listen(&N->st[1], 0, PORT_SRV, 16, &ops, NULL) >= 0);
	cl = client_connect(40000);
	run_for(N, 600); /* the SYN arrives, the SYN-ACK is on the wire */
	wire_drop_to(0);
	assert_int_equal(mg_tcp_state(cl->c), MG_TCP_SYN_SENT);
	assert_true(run_until(N, both_up, 5000000));
	assert_true(CTR_OF(0, rto_fires) + CTR_OF(1, rto_fires) >= 1);
	assert_true(CTR_OF(0, retransmits) + CTR_OF(1, retransmits) >= 1);
	/* The client resent its SYN too: Karn forbids timing that exchange, and
	 * data transfer starts with the 3 s RTO of RFC 6298 (5.7). */
	assert_int_equal(CTR_OF(0, rto_fires), 1);
	assert_int_equal(cl->c->srtt, 0);
	assert_int_equal(cl->c->rto, 3000000);
}


static void orphan_fin_wait_2_times_out(void **state)
{
	struct mg_tcp_params pa, pb;
	struct app *cl;

	params_both(&pa, &pb);
	pa.fin_wait2 = 1000000;
	restart(state, &pa, &pb);
	cl = open_pair(16);
	mg_tcp_close(&N->st[0], cl->c); /* the server never closes its side */
	run_for(N, 10000);
	assert_int_equal(N->st[0].st.conns[MG_TCP_FIN_WAIT_2], 1);
	run_for(N, 1100000);
	assert_int_equal(N->st[0].st.conns[MG_TCP_FIN_WAIT_2], 0);
	assert_int_equal(N->st[0].st.closes[MG_TCP_CLOSE_FIN_WAIT2_TIMEOUT], 1);
}


static void newreno_without_sack_under_loss(void **state)
{
	struct mg_tcp_params pa, pb;
	struct app *cl;

	params_both(&pa, &pb);
	pa.cc = MG_TCP_CC_NEWRENO;
	pb.flags |= MG_TCP_F_NO_SACK;
	restart(state, &pa, &pb);
	cl = open_pair(16);
	assert_false(cl->c->flags & TF_SACK_OK);
	N->loss = 30;
	N->reorder = 20;
	cl->tx_total = 1 << 20;
	assert_true(run_until(N, server_got_all, 300000000));
	assert_int_equal(last_accepted->rx_bad, 0);
	assert_true(CTR_OF(0, fast_retransmits) > 0);
	print_message("newreno 1 MB: %.1f s simulated, rexmit %lu rto %lu fast %lu\n",
		      (double)N->now / 1e6, CTR_OF(0, retransmits), CTR_OF(0, rto_fires),
		      CTR_OF(0, fast_retransmits));
}


static void scaled_window_moves_4mb(void **state)
{
	struct mg_tcp_params pa, pb;
	struct app *cl;

	params_both(&pa, &pb);
	pa.sndbuf = pb.rcvbuf = 1 << 20;
	pb.mem_max = 64ull << 20;
	restart(state, &pa, &pb);
	N->latency = 5000; /* 10 ms RTT: the window, not the wire, sets the pace */
	cl = open_pair(16);
	assert_int_equal(last_accepted->c->rcv_wscale, 5); /* 2^20 >> 4 is 65536 */
	assert_int_equal(cl->c->snd_wscale, 5);
	N->loss = 10;
	cl->tx_total = 4 << 20;
	assert_true(run_until(N, server_got_all, 300000000));
	assert_int_equal(last_accepted->rx_bad, 0);
	assert_true(cl->c->max_sndwnd > 65535);
	print_message("4 MB at 10 ms RTT, 1%% loss: %.1f s simulated, rexmit %lu rto %lu tlp %lu\n",
		      (double)N->now / 1e6 - 1, CTR_OF(0, retransmits), CTR_OF(0, rto_fires),
		      CTR_OF(0, tlp_probes));
}


static void icmp_frag_needed_lowers_the_mss(void **state)
{
	struct app *cl;
	struct mg_tcp_conn *c;
	uint8_t q[40]; /* the quote is 28 bytes; room for the struct view */
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)q;
	struct rte_tcp_hdr *th = (struct rte_tcp_hdr *)(q + 20);

	(void)state;
	cl = open_pair(16);
	c = cl->c;
	last_accepted->auto_read = false;
	cl->tx_total = 20000;
	run_for(N, 200); /* segments in flight */
	assert_true(c->snd_max != c->snd_una);
	memset(q, 0, sizeof(q));
	ip->version_ihl = 0x45;
	ip->next_proto_id = IPPROTO_TCP;
	ip->src_addr = c->key.lip;
	ip->dst_addr = c->key.rip;
	th->src_port = c->key.lport;
	th->dst_port = c->key.rport;
	th->sent_seq = rte_cpu_to_be_32(c->snd_max + 100000); /* not ours: ignored */
	assert_false(mg_tcp_icmp_frag_needed(&N->st[0], q, 28, 1000, N->now));
	assert_int_equal(CTR_OF(0, icmp_ignored), 1);
	th->sent_seq = rte_cpu_to_be_32(c->snd_una);
	assert_true(mg_tcp_icmp_frag_needed(&N->st[0], q, 28, 1000, N->now));
	assert_int_equal(c->mss, 960);
	assert_int_equal(CTR_OF(0, pmtu_updates), 1);
	last_accepted->auto_read = true;
	assert_true(run_until(N, server_got_all, 10000000));
	assert_int_equal(last_accepted->rx_bad, 0);
}


static void acks_are_aggregated_per_burst(void **state)
{
	struct mg_tcp_conn *c;
	uint8_t o[12];
	uint32_t r;

	(void)state;
	open_pair(16);
	c = last_accepted->c;
	r = c->rcv_nxt;
	inject_burst = true;
	for (int i = 0; i < 6; i++)
		inject(1, c, r + 100 * i, c->snd_nxt, TH_ACK, o, ts_opt(c, o), 100);
	inject_burst = false;
	assert_int_equal(tx_pending(1), 0); /* nothing until the burst ends */
	mg_tcp_flush(&N->st[1]);
	assert_int_equal(tx_pending(1), 1); /* one ACK for six segments */
	assert_int_equal(c->rcv_nxt, r + 600);
	/* Out of order is answered at once, burst or not. */
	inject_burst = true;
	inject(1, c, r + 1000, c->snd_nxt, TH_ACK, o, ts_opt(c, o), 100);
	inject_burst = false;
	assert_int_equal(tx_pending(1), 2);
}

/* A burst of N full-sized segments gets one ACK at the end of the burst,
 * and it acknowledges all of them (RFC 5681 4.2: every second full segment
 * is acknowledged, here by the burst's last ACK). */
static void burst_of_full_segments_gets_one_ack_for_all(void **state)
{
	const int n = 8;
	struct mg_tcp_conn *c;
	const struct rte_tcp_hdr *th;
	struct rte_mbuf *ack;
	uint8_t o[12];
	uint32_t r;
	uint16_t mss;

	(void)state;
	open_pair(16);
	c = last_accepted->c;
	r = c->rcv_nxt;
	mss = tcp_eff_mss(c);
	assert_true(mss >= 1000);
	inject_burst = true;
	for (int i = 0; i < n; i++)
		inject(1, c, r + (uint32_t)mss * i, c->snd_nxt, TH_ACK, o, ts_opt(c, o), mss);
	inject_burst = false;
	assert_int_equal(tx_pending(1), 0);
	mg_tcp_flush(&N->st[1]);
	assert_int_equal(tx_pending(1), 1);
	ack = N->st[1].tx[N->st[1].tx_tail & (N->st[1].p.tx_ring_size - 1)];
	th = rte_pktmbuf_mtod_offset(ack, const struct rte_tcp_hdr *, 14 + 20);
	assert_int_equal(rte_be_to_cpu_32(th->recv_ack), r + (uint32_t)mss * n);
	assert_int_equal(th->tcp_flags & TH_ACK, TH_ACK);
	assert_int_equal(ack->pkt_len, 14 + 20 + 20 + 12); /* a pure ACK */
	assert_int_equal(c->last_ack_sent, r + (uint32_t)mss * n);
	assert_int_equal(c->unacked_segs, 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(want_writable_reports_once_half_free),
		T(transfer_under_loss_reorder_dup_corrupt),
		T(copied_transfer_under_loss_sends_the_right_bytes),
		T(zero_window_persists_then_resumes),
		T(small_reads_reopen_a_zero_window),
		T(memory_bound_is_counted),
		T(send_buffer_bound_gives_backpressure),
		T(delayed_ack_fires),
		T(keepalive_closes_a_dead_peer),
		T(retransmissions_give_up),
		T(reassembly_trims_overlaps),
		T(sack_blocks_describe_the_queue),
		T(out_of_order_fin_waits_for_the_hole),
		T(lost_syn_ack_is_retransmitted),
		T(orphan_fin_wait_2_times_out),
		T(newreno_without_sack_under_loss),
		T(scaled_window_moves_4mb),
		T(icmp_frag_needed_lowers_the_mss),
		T(acks_are_aggregated_per_burst),
		T(burst_of_full_segments_gets_one_ack_for_all),
#undef T
	};
	(void)argc;
	return WIRE_MAIN(tests, argv[0], "mgtest-tcprec", "tcprec_test", 16383, pool, pool_full);
}

