/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fault injection as ethdev RX/TX callbacks; the rules are in fault.h.
 *
 * Ownership on one burst: every input packet ends up exactly once in one of
 * (a) the packets that go on now, (b) the reorder buffer or the hold ring, or
 * (c) the dropped ones, gathered in the front of the caller's array, which the
 * loop has already read. RX frees (c); TX hands (c) back as the unsent tail.
 * Copies we make (duplicates, copies of shared buffers) are ours from the start.
 */
#include "fault.h"

#include <errno.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

/* Probabilities become thresholds on 53 random bits: 1.0 is exactly "always". */
#define CHANCE_BITS 53
#define CHANCE_ONE ((uint64_t)1 << CHANCE_BITS)

/* Single writer per queue: a relaxed store lets readers load without tearing. */
#define COUNT(fq, field, n) \
	__atomic_store_n(&(fq)->c.field, (fq)->c.field + (n), __ATOMIC_RELAXED)

struct hold {
	struct rte_mbuf *m;
	uint64_t due; /* TSC; non-decreasing from head to tail */
};

struct reorder_slot {
	struct rte_mbuf *m;
	uint64_t since; /* TSC when held */
	uint32_t left;  /* later packets still to pass it */
};

struct mg_fault_queue {
	/* Set at creation, read per packet. */
	uint64_t p_loss, p_dup, p_reorder, p_corrupt; /* in units of 2^-53 */
	uint64_t delay_tsc;
	uint64_t reorder_timeout_tsc;
	struct rte_mempool *pool; /* copies */
	uint32_t mask;            /* hold ring slots - 1 */
	uint16_t depth;           /* reorder buffer size in use */
	uint16_t queue;
	enum mg_fault_dir dir;
	bool bypass; /* mg_fault_tx_flush() is sending: the TX callback passes all */

	/* Written by the lcore that polls the queue. */
	uint64_t rng;
	uint32_t head, tail; /* free-running indices into ring[] */
	uint16_t n_reorder;
	struct reorder_slot reorder[MG_FAULT_MAX_REORDER_DEPTH];
	struct mg_fault_counters c __rte_cache_aligned;
	struct hold ring[];
} __rte_cache_aligned;

/* Queues of one port: slot[dir * n_queues + queue]. */
struct fault_slot {
	struct mg_fault_queue *fq;
	const struct rte_eth_rxtx_callback *cb;
};

struct fault_port {
	uint16_t n_queues;
	struct fault_slot slot[];
};

/*
 * Indexed by ethdev port id: the callbacks get their state as user_param, but
 * close, telemetry and mg_fault_tx_flush() start from a port id. Written only by
 * the control thread, before workers start and after they stop.
 */
static struct fault_port *attached[RTE_MAX_ETHPORTS];

static const char *const dir_names[MG_FAULT__DIRS] = { "rx", "tx" };

const char *mg_fault_dir_name(enum mg_fault_dir dir)
{
	return (unsigned)dir < MG_FAULT__DIRS ? dir_names[dir] : "unknown";
}

bool mg_fault_dir_active(const struct mg_fault_dir_config *cfg)
{
	return cfg->loss > 0 || cfg->duplicate > 0 || cfg->reorder > 0 ||
	       cfg->corrupt > 0 || cfg->delay_us > 0;
}

/* ---- randomness -------------------------------------------------------- */

/* splitmix64: one add and two multiplies per draw, good enough statistics. */
static inline uint64_t next_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A zero rate draws nothing, so enabling one kind never shifts another's stream. */
static inline bool chance(struct mg_fault_queue *fq, uint64_t p)
{
	return p != 0 && (next_rand(&fq->rng) >> (64 - CHANCE_BITS)) < p;
}

/* Uniform in 0..k-1 for small k (multiply-shift, no division). */
static inline uint32_t below(struct mg_fault_queue *fq, uint32_t k)
{
	return (uint32_t)(((next_rand(&fq->rng) >> 32) * k) >> 32);
}

static uint64_t threshold(double p)
{
	if (!(p > 0)) /* also NaN */
		return 0;
	if (p >= 1)
		return CHANCE_ONE;
	return (uint64_t)(p * (double)CHANCE_ONE);
}

/* Neighbouring seeds, queues and directions get unrelated streams. */
static uint64_t stream_seed(uint32_t seed, uint16_t queue, enum mg_fault_dir dir)
{
	uint64_t s = (uint64_t)seed << 32 | (uint64_t)queue << 1 | (uint64_t)dir;

	return next_rand(&s);
}

/* ---- the hold ring and the reorder buffer ------------------------------ */

static inline uint32_t ring_count(const struct mg_fault_queue *fq)
{
	return fq->tail - fq->head;
}

/* False if full: the caller drops @m. */
static bool ring_put(struct mg_fault_queue *fq, struct rte_mbuf *m, uint64_t now)
{
	struct hold *h;

	if (unlikely(ring_count(fq) > fq->mask)) {
		COUNT(fq, hold_full, 1);
		return false;
	}
	h = &fq->ring[fq->tail & fq->mask];
	h->m = m;
	h->due = now + fq->delay_tsc;
	fq->tail++;
	if (fq->delay_tsc)
		COUNT(fq, delayed, 1);
	return true;
}

/* How many packets at the head are due, at most @max. */
static uint16_t ring_due(const struct mg_fault_queue *fq, uint64_t now, uint16_t max)
{
	uint16_t k = 0;

	while (k < max && fq->head + k != fq->tail &&
	       fq->ring[(fq->head + k) & fq->mask].due <= now)
		k++;
	return k;
}

static void ring_pop(struct mg_fault_queue *fq, struct rte_mbuf **out, uint16_t k)
{
	for (uint16_t i = 0; i < k; i++)
		out[i] = fq->ring[(fq->head + i) & fq->mask].m;
	fq->head += k;
}

/* Slot @i goes on into the ring; the others keep their order. */
static void reorder_release(struct mg_fault_queue *fq, uint16_t i, uint64_t now)
{
	struct rte_mbuf *m = fq->reorder[i].m;

	memmove(&fq->reorder[i], &fq->reorder[i + 1],
		(size_t)(fq->n_reorder - i - 1) * sizeof(fq->reorder[0]));
	fq->n_reorder--;
	if (!ring_put(fq, m, now))
		rte_pktmbuf_free(m);
}

/* A packet went on: each held one is a step closer to following it. */
static void reorder_tick(struct mg_fault_queue *fq, uint64_t now)
{
	for (uint16_t i = 0; i < fq->n_reorder;) {
		if (--fq->reorder[i].left == 0)
			reorder_release(fq, i, now);
		else
			i++;
	}
}

/* Bound on holding: without later traffic a held packet still goes on. */
static void reorder_expire(struct mg_fault_queue *fq, uint64_t now)
{
	for (uint16_t i = 0; i < fq->n_reorder;) {
		if (now - fq->reorder[i].since >= fq->reorder_timeout_tsc)
			reorder_release(fq, i, now);
		else
			i++;
	}
}

static void update_held(struct mg_fault_queue *fq)
{
	__atomic_store_n(&fq->c.held, (uint64_t)ring_count(fq) + fq->n_reorder,
			 __ATOMIC_RELAXED);
}

/* ---- one packet -------------------------------------------------------- */

/* Find the segment holding byte @off of the packet; NULL past its end. */
static struct rte_mbuf *seg_at(struct rte_mbuf *m, uint32_t *off)
{
	while (m && *off >= m->data_len) {
		*off -= m->data_len;
		m = m->next;
	}
	return m;
}

/* Writing @seg must not show through another reference to the same bytes. */
static bool writable(const struct rte_mbuf *head, const struct rte_mbuf *seg)
{
	for (const struct rte_mbuf *s = head; s; s = s->next) {
		if (!RTE_MBUF_DIRECT(s) || rte_mbuf_refcnt_read(s) != 1)
			return false;
		if (s == seg)
			return true;
	}
	return false;
}

static struct rte_mbuf *corrupt(struct mg_fault_queue *fq, struct rte_mbuf *m)
{
	uint32_t len = rte_pktmbuf_pkt_len(m), at, off, bit;
	struct rte_mbuf *seg;

	if (len <= RTE_ETHER_HDR_LEN)
		return m;
	at = RTE_ETHER_HDR_LEN + below(fq, len - RTE_ETHER_HDR_LEN);
	bit = below(fq, 8);
	off = at;
	seg = seg_at(m, &off);
	if (seg && !writable(m, seg)) {
		struct rte_mbuf *c = rte_pktmbuf_copy(m, fq->pool, 0, UINT32_MAX);

		if (!c) {
			COUNT(fq, alloc_failed, 1);
			return m;
		}
		rte_pktmbuf_free(m);
		m = c;
		off = at;
		seg = seg_at(m, &off);
	}
	if (!seg) /* pkt_len larger than its segments: nothing to flip */
		return m;
	*rte_pktmbuf_mtod_offset(seg, uint8_t *, off) ^= (uint8_t)(1u << bit);
	COUNT(fq, corrupted, 1);
	return m;
}

/* Into the reorder buffer, or the hold ring; false if the ring was full. */
static bool admit(struct mg_fault_queue *fq, struct rte_mbuf *m, uint64_t now)
{
	bool ok;

	if (fq->n_reorder < fq->depth && chance(fq, fq->p_reorder)) {
		struct reorder_slot *r = &fq->reorder[fq->n_reorder++];

		r->m = m;
		r->since = now;
		r->left = 1 + below(fq, fq->depth);
		COUNT(fq, reordered, 1);
		return true;
	}
	ok = ring_put(fq, m, now);
	if (fq->n_reorder)
		reorder_tick(fq, now);
	return ok;
}

/* False if the packet (*mp, maybe replaced by a copy) is to be dropped. */
static bool inject(struct mg_fault_queue *fq, struct rte_mbuf **mp, uint64_t now)
{
	struct rte_mbuf *dup = NULL;
	bool kept;

	COUNT(fq, seen, 1);
	if (chance(fq, fq->p_loss)) {
		COUNT(fq, lost, 1);
		return false;
	}
	if (chance(fq, fq->p_corrupt))
		*mp = corrupt(fq, *mp);
	if (chance(fq, fq->p_dup)) {
		/* A real copy: the receiver may rewrite one in place (ARP replies). */
		dup = rte_pktmbuf_copy(*mp, fq->pool, 0, UINT32_MAX);
		if (dup)
			COUNT(fq, duplicated, 1);
		else
			COUNT(fq, alloc_failed, 1);
	}
	kept = admit(fq, *mp, now);
	if (dup && !admit(fq, dup, now))
		rte_pktmbuf_free(dup);
	return kept;
}

/*
 * Run pkts[0..n) through the faults. The dropped ones are gathered in
 * pkts[0..return): slot d is written only after pkts[d] has been read.
 */
static uint16_t ingest(struct mg_fault_queue *fq, struct rte_mbuf **pkts, uint16_t n,
		       uint64_t now)
{
	uint16_t d = 0;

	if (fq->n_reorder)
		reorder_expire(fq, now);
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];

		if (!inject(fq, &m, now))
			pkts[d++] = m;
	}
	return d;
}

/* ---- bursts ------------------------------------------------------------ */

uint16_t mg_fault_rx(struct mg_fault_queue *fq, struct rte_mbuf **pkts, uint16_t n,
		     uint16_t max, uint64_t now)
{
	uint16_t d, k;

	/* The common idle poll: nothing came, nothing is held. */
	if (n == 0 && fq->head == fq->tail && fq->n_reorder == 0)
		return 0;
	d = ingest(fq, pkts, n, now);
	if (d)
		rte_pktmbuf_free_bulk(pkts, d);
	k = ring_due(fq, now, max);
	ring_pop(fq, pkts, k);
	update_held(fq);
	return k;
}

/*
 * Fill @k tail slots with held packets, each with its reference count raised
 * by one on every segment: the caller's free of the unsent tail lowers it
 * back, and the packet stays ours. Newest first; the ring always holds enough
 * (see mg_fault_tx), the NULLs are a guard the caller's free skips.
 */
static void lend_held(struct mg_fault_queue *fq, struct rte_mbuf **slots, uint16_t k)
{
	uint32_t r = fq->tail;
	uint16_t o = fq->n_reorder;

	for (uint16_t i = 0; i < k; i++) {
		struct rte_mbuf *m = NULL;

		if (r != fq->head)
			m = fq->ring[--r & fq->mask].m;
		else if (o > 0)
			m = fq->reorder[--o].m;
		RTE_ASSERT(m != NULL);
		for (struct rte_mbuf *s = m; s; s = s->next)
			rte_mbuf_refcnt_update(s, 1);
		slots[i] = m;
	}
}

/*
 * Of the n input packets, d were dropped and the rest are sent now or held;
 * m packets go out now. The n - m tail slots take min(d, n - m) dropped ones
 * and, for the remainder, held ones: n - m - d <= (inputs held now), because
 * every input not dropped and not sent is held and m counts at least the
 * inputs sent.
 */
uint16_t mg_fault_tx(struct mg_fault_queue *fq, struct rte_mbuf **pkts, uint16_t n,
		     uint64_t now)
{
	uint16_t d, m, tail, from_drops;

	if (fq->bypass)
		return n;
	d = ingest(fq, pkts, n, now);
	m = ring_due(fq, now, n);
	tail = n - m;
	from_drops = d < tail ? d : tail;
	if (d > from_drops)
		rte_pktmbuf_free_bulk(pkts + from_drops, d - from_drops);
	memmove(pkts + n - from_drops, pkts, (size_t)from_drops * sizeof(*pkts));
	ring_pop(fq, pkts, m);
	lend_held(fq, pkts + m, tail - from_drops);
	update_held(fq);
	return m;
}

void mg_fault_queue_read(const struct mg_fault_queue *fq, struct mg_fault_counters *sum)
{
#define _(f) sum->f += __atomic_load_n(&fq->c.f, __ATOMIC_RELAXED);
	foreach_mg_fault_counter(_)
#undef _
	sum->held += __atomic_load_n(&fq->c.held, __ATOMIC_RELAXED);
}

/* ---- one queue's state ------------------------------------------------- */

static bool settings_ok(const struct mg_fault_dir_config *cfg)
{
	uint32_t slots = cfg->delay_slots;

	return slots >= 1 && (slots & (slots - 1)) == 0 && cfg->reorder_depth >= 1 &&
	       cfg->reorder_depth <= MG_FAULT_MAX_REORDER_DEPTH &&
	       cfg->delay_us <= MG_FAULT_MAX_DELAY_US;
}

struct mg_fault_queue *mg_fault_queue_create(const struct mg_fault_dir_config *cfg,
					     enum mg_fault_dir dir, uint32_t seed,
					     uint16_t queue, struct rte_mempool *pool,
					     int socket)
{
	uint64_t hz = rte_get_tsc_hz();
	struct mg_fault_queue *fq;

	if (!cfg || !pool || (unsigned)dir >= MG_FAULT__DIRS || !settings_ok(cfg)) {
		mg_error_set(MG_ERR_USAGE, "fault: queue %u: bad settings (delay_slots a "
			     "power of two, reorder_depth 1..%d, delay_us <= %d, a mempool)",
			     queue, MG_FAULT_MAX_REORDER_DEPTH, MG_FAULT_MAX_DELAY_US);
		return NULL;
	}
	fq = rte_zmalloc_socket("mg_fault_queue",
				sizeof(*fq) + cfg->delay_slots * sizeof(fq->ring[0]),
				RTE_CACHE_LINE_SIZE, socket);
	if (!fq) {
		mg_error_set(MG_ERR_NOMEM, "fault: %s queue %u: no memory for %u slots",
			     mg_fault_dir_name(dir), queue, cfg->delay_slots);
		return NULL;
	}
	fq->p_loss = threshold(cfg->loss);
	fq->p_dup = threshold(cfg->duplicate);
	fq->p_reorder = threshold(cfg->reorder);
	fq->p_corrupt = threshold(cfg->corrupt);
	fq->delay_tsc = (uint64_t)cfg->delay_us * hz / 1000000;
	fq->reorder_timeout_tsc = (uint64_t)MG_FAULT_REORDER_TIMEOUT_US * hz / 1000000;
	fq->pool = pool;
	fq->mask = cfg->delay_slots - 1u;
	fq->depth = cfg->reorder_depth;
	fq->queue = queue;
	fq->dir = dir;
	fq->rng = stream_seed(seed, queue, dir);
	return fq;
}

void mg_fault_queue_free(struct mg_fault_queue *fq)
{
	if (!fq)
		return;
	while (fq->head != fq->tail)
		rte_pktmbuf_free(fq->ring[fq->head++ & fq->mask].m);
	for (uint16_t i = 0; i < fq->n_reorder; i++)
		rte_pktmbuf_free(fq->reorder[i].m);
	rte_free(fq);
}

/* ---- ports ------------------------------------------------------------- */

static uint16_t rx_callback(uint16_t port_id, uint16_t queue, struct rte_mbuf *pkts[],
			    uint16_t n, uint16_t max, void *arg)
{
	(void)port_id;
	(void)queue;
	return mg_fault_rx(arg, pkts, n, max, rte_rdtsc());
}

static uint16_t tx_callback(uint16_t port_id, uint16_t queue, struct rte_mbuf *pkts[],
			    uint16_t n, void *arg)
{
	(void)port_id;
	(void)queue;
	return mg_fault_tx(arg, pkts, n, rte_rdtsc());
}

static struct fault_slot *slot_of(struct fault_port *fp, enum mg_fault_dir dir,
				  uint16_t queue)
{
	return &fp->slot[(size_t)dir * fp->n_queues + queue];
}

static struct fault_port *port_of(uint16_t port_id)
{
	return port_id < RTE_MAX_ETHPORTS ? attached[port_id] : NULL;
}

static MG_RESULT attach_queue(uint16_t port_id, struct fault_port *fp,
			      const struct mg_fault_config *cfg, enum mg_fault_dir dir,
			      uint16_t q, struct rte_mempool *pool, int socket)
{
	const struct mg_fault_dir_config *dc = dir == MG_FAULT_RX ? &cfg->rx : &cfg->tx;
	struct fault_slot *s = slot_of(fp, dir, q);

	s->fq = mg_fault_queue_create(dc, dir, cfg->seed, q, pool, socket);
	if (!s->fq)
		return -1;
	s->cb = dir == MG_FAULT_RX ? rte_eth_add_rx_callback(port_id, q, rx_callback, s->fq)
				   : rte_eth_add_tx_callback(port_id, q, tx_callback, s->fq);
	MG_ENSURE(s->cb != NULL, DPDK, "fault: port %u %s queue %u: cannot add the "
		  "callback: %s", port_id, mg_fault_dir_name(dir), q,
		  rte_strerror(rte_errno));
	return 0;
}

MG_RESULT mg_fault_attach(uint16_t port_id, const struct mg_fault_config *cfg,
			  uint16_t n_queues, struct rte_mempool *pool)
{
	struct fault_port *fp;
	int socket, rc = 0;

	if (!cfg->enabled)
		return 0;
	MG_ENSURE(rte_eth_dev_is_valid_port(port_id) && !attached[port_id], USAGE,
		  "fault: port %u: invalid or already has faults attached", port_id);
	socket = rte_eth_dev_socket_id(port_id);
	if (socket < 0)
		socket = (int)rte_socket_id();
	fp = rte_zmalloc_socket("mg_fault_port",
				sizeof(*fp) + 2u * n_queues * sizeof(fp->slot[0]),
				RTE_CACHE_LINE_SIZE, socket);
	MG_ENSURE(fp != NULL, NOMEM, "fault: port %u: no memory", port_id);
	fp->n_queues = n_queues;
	attached[port_id] = fp;
	for (int dir = 0; dir < MG_FAULT__DIRS; dir++) {
		if (!mg_fault_dir_active(dir == MG_FAULT_RX ? &cfg->rx : &cfg->tx))
			continue;
		for (uint16_t q = 0; q < n_queues; q++)
			MG_GUARD_GOTO(rc = attach_queue(port_id, fp, cfg, dir, q, pool,
							socket), fail);
	}
	return 0;
fail:
	mg_fault_detach(port_id);
	return rc;
}

static void detach_slot(uint16_t port_id, enum mg_fault_dir dir, uint16_t q,
			struct fault_slot *s)
{
	if (s->cb) {
		int rc = dir == MG_FAULT_RX ? rte_eth_remove_rx_callback(port_id, q, s->cb)
					    : rte_eth_remove_tx_callback(port_id, q, s->cb);

		/* The port is stopped, so no lcore is inside the callback any more. */
		if (rc == 0)
			rte_free((void *)(uintptr_t)s->cb);
		s->cb = NULL;
	}
	mg_fault_queue_free(s->fq);
	s->fq = NULL;
}

void mg_fault_detach(uint16_t port_id)
{
	struct fault_port *fp = port_of(port_id);

	if (!fp)
		return;
	for (int dir = 0; dir < MG_FAULT__DIRS; dir++)
		for (uint16_t q = 0; q < fp->n_queues; q++)
			detach_slot(port_id, dir, q, slot_of(fp, dir, q));
	attached[port_id] = NULL;
	rte_free(fp);
}

bool mg_fault_attached(uint16_t port_id)
{
	return port_of(port_id) != NULL;
}

bool mg_fault_read(uint16_t port_id, enum mg_fault_dir dir, struct mg_fault_counters *sum)
{
	struct fault_port *fp = port_of(port_id);

	memset(sum, 0, sizeof(*sum));
	if (!fp || (unsigned)dir >= MG_FAULT__DIRS)
		return false;
	for (uint16_t q = 0; q < fp->n_queues; q++) {
		const struct mg_fault_queue *fq = slot_of(fp, dir, q)->fq;

		if (fq)
			mg_fault_queue_read(fq, sum);
	}
	return true;
}

uint16_t mg_fault_tx_flush(uint16_t port_id, uint16_t queue)
{
	struct fault_port *fp = port_of(port_id);
	struct rte_mbuf *pkts[MG_FAULT_FLUSH_BURST];
	struct mg_fault_queue *fq;
	uint16_t k, sent;
	uint64_t now;

	if (likely(fp == NULL) || queue >= fp->n_queues)
		return 0;
	fq = slot_of(fp, MG_FAULT_TX, queue)->fq;
	if (!fq || (fq->head == fq->tail && fq->n_reorder == 0))
		return 0;
	now = rte_rdtsc();
	if (fq->n_reorder)
		reorder_expire(fq, now);
	k = ring_due(fq, now, MG_FAULT_FLUSH_BURST);
	for (uint16_t i = 0; i < k; i++)
		pkts[i] = fq->ring[(fq->head + i) & fq->mask].m;
	sent = 0;
	if (k) {
		/* Through the driver, not through the faults a second time. */
		fq->bypass = true;
		sent = rte_eth_tx_burst(port_id, queue, pkts, k);
		fq->bypass = false;
	}
	fq->head += sent; /* the refused ones stay at the head, still due */
	update_held(fq);
	return sent;
}
