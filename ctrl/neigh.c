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

static struct mg_neigh *find(struct mg_neigh_table *t, uint16_t port, uint32_t ip)
{
	for (uint32_t i = 0; i < MG_NEIGH_MAX; i++)
		if (t->entries[i].ip == ip && t->entries[i].port == port)
			return &t->entries[i];
	return NULL;
}

/* A free slot, or the stalest entry when the table is full. */
static struct mg_neigh *slot_for_new(struct mg_neigh_table *t)
{
	struct mg_neigh *oldest = &t->entries[0];

	for (uint32_t i = 0; i < MG_NEIGH_MAX; i++) {
		if (t->entries[i].ip == 0)
			return &t->entries[i];
		if (t->entries[i].updated_s < oldest->updated_s)
			oldest = &t->entries[i];
	}
	t->evicted_full++;
	t->count--;
	return oldest;
}

bool mg_neigh_learn(struct mg_neigh_table *t, uint16_t port, uint32_t ip,
		    const struct rte_ether_addr *mac, uint64_t now_s)
{
	struct mg_neigh *e;
	bool fresh = false;

	pthread_mutex_lock(&t->lock);
	e = find(t, port, ip);
	if (!e) {
		e = slot_for_new(t);
		e->ip = ip;
		e->port = port;
		t->count++;
		fresh = true;
	}
	if (fresh || !rte_is_same_ether_addr(&e->mac, mac))
		t->version++;
	e->mac = *mac;
	e->updated_s = now_s;
	pthread_mutex_unlock(&t->lock);
	return fresh;
}

bool mg_neigh_lookup(struct mg_neigh_table *t, uint16_t port, uint32_t ip,
		     struct rte_ether_addr *mac, uint64_t now_s)
{
	struct mg_neigh *e;
	bool found = false;

	pthread_mutex_lock(&t->lock);
	e = find(t, port, ip);
	if (e && now_s - e->updated_s < t->timeout_s) {
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

		if (e->ip != 0 && now_s - e->updated_s >= t->timeout_s) {
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
