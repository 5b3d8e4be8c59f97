/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Where a worker's busy cycles go. A poll-mode worker spins at 100 % whatever
 * the load, so its CPU time says nothing; what it spends in loop turns that
 * did work, split by stage, does. The clock charges the TSC cycles between
 * two switches to the stage that was running; a callee that switches to its
 * own stage switches back to its caller's when done, so nested stages (the
 * proxy inside TCP delivery, TCP output inside the proxy) are charged once.
 *
 * One rdtsc per switch (~25 cycles here): switches sit at burst and segment
 * granularity, never per byte. A clock pointer that is NULL (unit tests, a
 * stack without a worker) makes every switch a no-op.
 */
#ifndef MG_STAGE_H
#define MG_STAGE_H

#include <stdint.h>

#include <rte_common.h>
#include <rte_cycles.h>

#define foreach_mg_stage(_)                                                        \
	_(RX, rx, "receive bursts from the ports (the driver's ring work)")       \
	_(PARSE, parse, "parse, validate, classify; drops and slow-path hand-over") \
	_(TCP_IN, tcp_in, "TCP input: lookup, state machine, queues")              \
	_(PROXY, proxy, "proxy: accept, authorize, splice, L7 gate, timers")      \
	_(TLS, tls, "TLS records opened and sealed in the worker")                 \
	_(TCP_OUT, tcp_out, "TCP output: segments built, timers, the stack's TX ring") \
	_(TX, tx, "transmit bursts to the ports")                                  \
	_(OTHER, other, "RCU, steering and control rings, loop overhead")

enum mg_stage {
#define _(u, l, d) MG_STAGE_##u,
	foreach_mg_stage(_)
#undef _
	MG_STAGE__COUNT
};

struct mg_stage_clock {
	uint64_t last;                    /* TSC of the last switch */
	enum mg_stage cur;                /* the stage being charged */
	uint64_t loop[MG_STAGE__COUNT];   /* this loop turn's cycles per stage */
};

/** Charge the cycles since the last switch to the running stage; run @p to. */
static inline enum mg_stage mg_stage_switch(struct mg_stage_clock *c, enum mg_stage to)
{
	enum mg_stage from;
	uint64_t now;

	if (c == NULL)
		return to;
	now = rte_rdtsc();
	from = c->cur;
	c->loop[from] += now - c->last;
	c->last = now;
	c->cur = to;
	return from;
}

/** Start a loop turn at TSC @p now in stage @p first with nothing charged. */
static inline void mg_stage_loop_start(struct mg_stage_clock *c, uint64_t now,
				       enum mg_stage first)
{
	for (int i = 0; i < MG_STAGE__COUNT; i++)
		c->loop[i] = 0;
	c->last = now;
	c->cur = first;
}

/** Close a loop turn at TSC @p now: the running stage gets the rest. */
static inline void mg_stage_loop_end(struct mg_stage_clock *c, uint64_t now)
{
	c->loop[c->cur] += now - c->last;
	c->last = now;
}

const char *mg_stage_name(enum mg_stage s);

#endif /* MG_STAGE_H */
