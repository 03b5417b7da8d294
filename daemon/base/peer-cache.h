/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The short cache of one peer's answers to read questions, with single-flight: the
 * bookkeeping only (used by peers.c, which makes the calls; the caller passes the time,
 * so the unit test drives it).
 *
 * A question is a key (method and arguments). The first asker of a key gets ASK and
 * makes the one peer call; whoever asks the same while it is in flight JOINs it; the
 * answer is handed to mig_peer_cache_answer(), which gives back every waiter to answer
 * and keeps the answer for ttl (a HIT until then). Invalidation (a call that may change
 * the peer's state went out or came back) drops the kept answers and detaches the calls
 * in flight: their askers still get their answer, but it is not kept, and a new question
 * starts a new call. At most max_entries keys are held; beyond that a question BYPASSes
 * the cache (asked on its own). */

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

typedef struct MigPeerCache MigPeerCache;
typedef struct MigPeerCacheEntry MigPeerCacheEntry;

typedef enum MigPeerCacheLookup {
        MIG_PEER_CACHE_HIT,    /* *ret_answer (a new reference) or ret_error filled */
        MIG_PEER_CACHE_JOINED, /* waiter added to the call in flight */
        MIG_PEER_CACHE_ASK,    /* a new call in flight (*ret_entry) holds waiter: make the call */
        MIG_PEER_CACHE_BYPASS, /* full: make the call for waiter alone, nothing kept */
} MigPeerCacheLookup;

MigPeerCache *mig_peer_cache_new(uint64_t ttl_usec, unsigned max_entries);
/* Frees the kept answers and the calls in flight; their waiters are given to drop (may be NULL). */
void mig_peer_cache_free(MigPeerCache *c, GDestroyNotify drop);

MigPeerCacheLookup mig_peer_cache_lookup(MigPeerCache *c, const char *key, uint64_t now, gpointer waiter,
                                         MigPeerCacheEntry **ret_entry, GVariant **ret_answer,
                                         sd_bus_error *ret_error);

/* The answer (a reply, or an error) of the call of e, at now. Kept until now + ttl when
 * keep is true and nothing invalidated the cache since the call started. Returns the
 * waiters (gpointer, in the order they asked) for the caller to answer; e is gone. */
GPtrArray *mig_peer_cache_answer(MigPeerCache *c, MigPeerCacheEntry *e, GVariant *answer,
                                 const sd_bus_error *error, bool keep, uint64_t now);

void mig_peer_cache_invalidate(MigPeerCache *c);

/* Keys held: kept answers (expired ones included until the next lookup) and calls in flight. */
unsigned mig_peer_cache_size(const MigPeerCache *c);
/* Calls in flight, detached ones included. */
unsigned mig_peer_cache_in_flight(const MigPeerCache *c);
