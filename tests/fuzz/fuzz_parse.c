/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer: the per-packet parser and classifier on whatever a wire sends.
 * Byte 0 picks the NIC's checksum hints; the frame starts at byte 1, so it
 * sits at an odd address and ends where libFuzzer's buffer does (ASan sees
 * any read past len).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>

#include "parse.h"

static const struct mg_port_addrs us = {
	.mac = { 0x02, 0, 0, 0, 0, 0x01 },
	.ip = RTE_BE32(0xc6120101),      /* 198.18.1.1 */
	.netmask = RTE_BE32(0xffffff00), /* /24 */
};

/* What a passed frame promises the code after it. */
static void check_pkt(const struct mg_pkt *p, uint32_t len)
{
	if (p->frame_len > len || p->l3_off != 14)
		abort();
	if (p->l3 == MG_L3_ARP)
		return;
	if (p->l3 != MG_L3_IPV4 || p->l4_off != 34 ||
	    (uint32_t)p->l4_off + p->l4_len != p->frame_len ||
	    p->data_off < p->l4_off ||
	    (uint32_t)p->data_off + p->data_len != p->frame_len)
		abort();
}

/*
 * The burst path (its fast path for plain TCP and UDP) decides exactly what
 * mg_parse_frame() then mg_classify() decide: reason, action and mg_pkt.
 */
static void burst_agrees(const uint8_t *frame, uint32_t len, enum mg_csum_hint ip,
			 enum mg_csum_hint l4)
{
	struct mg_rx_frame in = { .data = frame, .len = len, .ip_csum = ip, .l4_csum = l4 };
	struct mg_pkt one, many;
	enum mg_action act = MG_ACT_DROP;
	enum mg_drop d = mg_parse_frame(frame, len, ip, l4, &one);
	uint8_t why = MG_DROP_NONE, a = 0xff;

	if (d == MG_DROP_NONE)
		d = mg_classify(&one, frame, &us, &act);
	mg_parse_burst(&in, 1, &us, &many, &a, &why);
	if (why != d || a != act || (d == MG_DROP_NONE && memcmp(&one, &many, sizeof(one)) != 0))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mg_pkt pkt, trusted;
	enum mg_csum_hint ip, l4;
	enum mg_action act;
	enum mg_drop d;

	if (size < 1 || size > UINT16_MAX)
		return 0;
	ip = (enum mg_csum_hint)(data[0] % 3);
	l4 = (enum mg_csum_hint)(data[0] / 3 % 3);
	burst_agrees(data + 1, (uint32_t)(size - 1), ip, l4);
	d = mg_parse_frame(data + 1, (uint32_t)(size - 1), ip, l4, &pkt);
	if ((unsigned)d >= MG_DROP__COUNT)
		abort();
	if (d != MG_DROP_NONE)
		return 0;
	check_pkt(&pkt, (uint32_t)(size - 1));
	/* A GOOD hint only skips sums: it never changes what a frame parses to. */
	if (mg_parse_frame(data + 1, (uint32_t)(size - 1), MG_CSUM_GOOD, MG_CSUM_GOOD,
			   &trusted) != MG_DROP_NONE ||
	    memcmp(&pkt, &trusted, sizeof(pkt)) != 0)
		abort();
	act = (enum mg_action)-1;
	d = mg_classify(&pkt, data + 1, &us, &act);
	if ((unsigned)d >= MG_DROP__COUNT || (d == MG_DROP_NONE) == (act == MG_ACT_DROP))
		abort();
	return 0;
}
