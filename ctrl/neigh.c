/* SPDX-License-Identifier: BSD-3-Clause */
#include "neigh.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * A flat array scanned linearly: at most MG_NEIGH_MAX entries, touched only by
 * ARP traffic on the control thread and by telemetry reads, so simplicity beats
 * a hash here.
 */

void mg_neigh_init(struct mg_neigh_table *t, uint32_t timeout_s)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
	t->timeout_s = timeout_s;
}

uint64_t mg_neigh_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

static const char *const verdict_names[MG_NEIGH__VERDICTS] = {
#define _(sym, name, desc) [MG_NEIGH_##sym] = #name,
	foreach_mg_neigh_verdict(_)
#undef _
};

const char *mg_neigh_verdict_name(enum mg_neigh_verdict v)
{
	return (unsigned)v < MG_NEIGH__VERDICTS ? verdict_names[v] : "unknown";
}

static struct mg_neigh *find(struct mg_neigh_table *t, uint16_t port, uint32_t ip)
{
	for (uint32_t i = 0; i < MG_NEIGH_MAX; i++)
		if (t->entries[i].ip == ip && t->entries[i].port == port)
			return &t->entries[i];
	return NULL;
}

static bool expired(const struct mg_neigh_table *t, const struct mg_neigh *e, uint64_t now_s)
{
	return !e->pinned && now_s - e->updated_s >= t->timeout_s;
}

/*
 * A free slot, or a learned entry past its lifetime (housekeeping would
 * remove it within the second anyway). Never a live entry: a newcomer
 * evicting the stalest neighbour is how one sender flushes everyone else.
 */
static struct mg_neigh *free_slot(struct mg_neigh_table *t, uint64_t now_s)
{
	for (uint32_t i = 0; i < MG_NEIGH_MAX; i++)
		if (t->entries[i].ip == 0)
			return &t->entries[i];
	for (uint32_t i = 0; i < MG_NEIGH_MAX; i++)
		if (expired(t, &t->entries[i], now_s)) {
			t->count--;
			return &t->entries[i];
		}
	return NULL;
}

/* Learned, live entries of @p mac on @p port, other than @p skip. */
static unsigned held_by(struct mg_neigh_table *t, uint16_t port,
			const struct rte_ether_addr *mac, const struct mg_neigh *skip,
			uint64_t now_s)
{
	unsigned n = 0;

	for (uint32_t i = 0; i < MG_NEIGH_MAX; i++) {
		const struct mg_neigh *e = &t->entries[i];

		if (e != skip && e->ip != 0 && !e->pinned && e->port == port &&
		    !expired(t, e, now_s) && rte_is_same_ether_addr(&e->mac, mac))
			n++;
	}
	return n;
}

/* Consume our request for @p ip on @p port if it is recent enough. */
static bool take_solicited(struct mg_neigh_table *t, uint16_t port, uint32_t ip,
			   uint64_t now_s)
{
	for (unsigned i = 0; i < MG_NEIGH_PENDING; i++) {
		struct mg_neigh_pending *p = &t->pending[i];

		if (p->ip == ip && p->port == port) {
			bool fresh = now_s - p->sent_s <= MG_NEIGH_SOLICIT_S;

			memset(p, 0, sizeof(*p));
			return fresh;
		}
	}
	return false;
}

void mg_neigh_solicit(struct mg_neigh_table *t, uint16_t port, uint32_t ip, uint64_t now_s)
{
	struct mg_neigh_pending *slot = &t->pending[0];

	pthread_mutex_lock(&t->lock);
	for (unsigned i = 0; i < MG_NEIGH_PENDING; i++) {
		struct mg_neigh_pending *p = &t->pending[i];

		if ((p->ip == ip && p->port == port) || p->ip == 0) {
			slot = p;
			break;
		}
		if (p->sent_s < slot->sent_s)
			slot = p;
	}
	slot->ip = ip;
	slot->port = port;
	slot->sent_s = now_s;
	pthread_mutex_unlock(&t->lock);
}

int mg_neigh_pin(struct mg_neigh_table *t, uint16_t port, uint32_t ip,
		 const struct rte_ether_addr *mac)
{
	struct mg_neigh *e;
	int rc = -1;

	pthread_mutex_lock(&t->lock);
	/* At start, before any ARP: the first free slot, never a learned entry. */
	for (uint32_t i = 0; ip != 0 && !find(t, port, ip) && i < MG_NEIGH_MAX; i++) {
		e = &t->entries[i];
		if (e->ip != 0)
			continue;
		*e = (struct mg_neigh){ .ip = ip, .port = port, .pinned = true, .mac = *mac };
		t->count++;
		t->n_pinned++;
		t->version++;
		rc = 0;
		break;
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

/* An existing entry and a claim about it. */
static enum mg_neigh_verdict update(struct mg_neigh_table *t, struct mg_neigh *e,
				    const struct rte_ether_addr *mac, uint64_t now_s)
{
	if (rte_is_same_ether_addr(&e->mac, mac)) {
		if (e->pinned)
			return MG_NEIGH_PINNED;
		e->updated_s = now_s;
		return MG_NEIGH_REFRESHED;
	}
	if (e->pinned)
		return MG_NEIGH_REFUSED_PINNED;
	if (held_by(t, e->port, mac, e, now_s) >= MG_NEIGH_PER_SENDER_MAX)
		return MG_NEIGH_REFUSED_SENDER_CAP;
	e->mac = *mac;
	e->updated_s = now_s;
	t->version++;
	return MG_NEIGH_CHANGED;
}

static enum mg_neigh_verdict create(struct mg_neigh_table *t, uint16_t port, uint32_t ip,
				    const struct rte_ether_addr *mac, uint64_t now_s,
				    enum mg_neigh_how how)
{
	struct mg_neigh *e;

	if (how == MG_NEIGH_OVERHEARD ||
	    (how == MG_NEIGH_ANSWERED_US && !take_solicited(t, port, ip, now_s)))
		return MG_NEIGH_REFUSED_UNSOLICITED;
	if (held_by(t, port, mac, NULL, now_s) >= MG_NEIGH_PER_SENDER_MAX)
		return MG_NEIGH_REFUSED_SENDER_CAP;
	e = free_slot(t, now_s);
	if (!e)
		return MG_NEIGH_REFUSED_FULL;
	*e = (struct mg_neigh){ .ip = ip, .port = port, .mac = *mac, .updated_s = now_s };
	t->count++;
	t->version++;
	return MG_NEIGH_NEW;
}

enum mg_neigh_verdict mg_neigh_learn(struct mg_neigh_table *t, uint16_t port, uint32_t ip,
				     const struct rte_ether_addr *mac, uint64_t now_s,
				     enum mg_neigh_how how)
{
	enum mg_neigh_verdict v;
	struct mg_neigh *e;

	pthread_mutex_lock(&t->lock);
	e = find(t, port, ip);
	v = e ? update(t, e, mac, now_s) : create(t, port, ip, mac, now_s, how);
	pthread_mutex_unlock(&t->lock);
	return v;
}

bool mg_neigh_pinned_mac(struct mg_neigh_table *t, uint16_t port, uint32_t ip,
			 struct rte_ether_addr *mac)
{
	struct mg_neigh *e;
	bool pinned = false;

	pthread_mutex_lock(&t->lock);
	e = find(t, port, ip);
	if (e && e->pinned) {
		*mac = e->mac;
		pinned = true;
	}
	pthread_mutex_unlock(&t->lock);
	return pinned;
}

bool mg_neigh_lookup(struct mg_neigh_table *t, uint16_t port, uint32_t ip,
		     struct rte_ether_addr *mac, uint64_t now_s)
{
	struct mg_neigh *e;
	bool found = false;

	pthread_mutex_lock(&t->lock);
	e = find(t, port, ip);
	if (e && !expired(t, e, now_s)) {
		*mac = e->mac;
		found = true;
	}
	pthread_mutex_unlock(&t->lock);
	return found;
}

uint32_t mg_neigh_expire(struct mg_neigh_table *t, uint64_t now_s)
{
	uint32_t gone = 0;

	pthread_mutex_lock(&t->lock);
	for (uint32_t i = 0; i < MG_NEIGH_MAX; i++) {
		struct mg_neigh *e = &t->entries[i];

		if (e->ip != 0 && expired(t, e, now_s)) {
			memset(e, 0, sizeof(*e));
			gone++;
		}
	}
	t->count -= gone;
	if (gone)
		t->version++;
	pthread_mutex_unlock(&t->lock);
	return gone;
}

uint32_t mg_neigh_snapshot(struct mg_neigh_table *t, struct mg_neigh *out,
			   uint32_t max)
{
	uint32_t n = 0;

	pthread_mutex_lock(&t->lock);
	for (uint32_t i = 0; i < MG_NEIGH_MAX && n < max; i++)
		if (t->entries[i].ip != 0)
			out[n++] = t->entries[i];
	pthread_mutex_unlock(&t->lock);
	return n;
}

struct mg_neigh_snap *mg_neigh_snap_build(struct mg_neigh_table *t)
{
	struct mg_neigh_snap *s;

	pthread_mutex_lock(&t->lock);
	s = malloc(sizeof(*s) + t->count * sizeof(s->e[0]));
	if (s) {
		s->version = t->version;
		s->n = 0;
		for (uint32_t i = 0; i < MG_NEIGH_MAX && s->n < t->count; i++) {
			const struct mg_neigh *e = &t->entries[i];

			if (e->ip == 0)
				continue;
			s->e[s->n].ip = e->ip;
			s->e[s->n].port = e->port;
			memcpy(s->e[s->n].mac, e->mac.addr_bytes, 6);
			s->n++;
		}
	}
	pthread_mutex_unlock(&t->lock);
	return s;
}
