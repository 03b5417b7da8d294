/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "peer-cache.h"

struct MigPeerCacheEntry {
        char *key;
        bool in_table;  /* found by its key (a detached call in flight is not) */
        bool in_flight; /* waiting for the peer; else an answer kept until expires */
        unsigned generation;
        GPtrArray *waiters; /* gpointer, while in flight */
        GVariant *answer;
        sd_bus_error error;
        uint64_t expires;
};

struct MigPeerCache {
        uint64_t ttl;
        unsigned max_entries;
        unsigned generation; /* one more on every invalidation */
        GHashTable *entries; /* key → MigPeerCacheEntry*, the entry owns the key */
        GHashTable *flying;  /* MigPeerCacheEntry* set: every call in flight */
};

static void entry_free(MigPeerCacheEntry *e) {
        g_free(e->key);
        if (e->waiters)
                g_ptr_array_unref(e->waiters);
        if (e->answer)
                g_variant_unref(e->answer);
        sd_bus_error_free(&e->error);
        g_free(e);
}

MigPeerCache *mig_peer_cache_new(uint64_t ttl_usec, unsigned max_entries) {
        MigPeerCache *c = g_new0(MigPeerCache, 1);
        c->ttl = ttl_usec;
        c->max_entries = max_entries;
        c->entries = g_hash_table_new(g_str_hash, g_str_equal);
        c->flying = g_hash_table_new(g_direct_hash, g_direct_equal);
        return c;
}

void mig_peer_cache_free(MigPeerCache *c, GDestroyNotify drop) {
        if (!c)
                return;
        GHashTableIter it;
        MigPeerCacheEntry *e;
        g_hash_table_iter_init(&it, c->entries);
        while (g_hash_table_iter_next(&it, NULL, (gpointer *) &e))
                if (!e->in_flight)
                        entry_free(e);
        g_hash_table_iter_init(&it, c->flying);
        while (g_hash_table_iter_next(&it, (gpointer *) &e, NULL)) {
                for (guint i = 0; drop && i < e->waiters->len; i++)
                        drop(e->waiters->pdata[i]);
                entry_free(e);
        }
        g_hash_table_unref(c->entries);
        g_hash_table_unref(c->flying);
        g_free(c);
}

static void drop_expired(MigPeerCache *c, uint64_t now) {
        GHashTableIter it;
        MigPeerCacheEntry *e;
        g_hash_table_iter_init(&it, c->entries);
        while (g_hash_table_iter_next(&it, NULL, (gpointer *) &e))
                if (!e->in_flight && e->expires <= now) {
                        g_hash_table_iter_remove(&it);
                        entry_free(e);
                }
}

MigPeerCacheLookup mig_peer_cache_lookup(MigPeerCache *c, const char *key, uint64_t now, gpointer waiter,
                                         MigPeerCacheEntry **ret_entry, GVariant **ret_answer,
                                         sd_bus_error *ret_error) {
        drop_expired(c, now);
        MigPeerCacheEntry *e = g_hash_table_lookup(c->entries, key);
        if (e && !e->in_flight) {
                if (e->answer)
                        *ret_answer = g_variant_ref(e->answer);
                else
                        (void) sd_bus_error_copy(ret_error, &e->error);
                return MIG_PEER_CACHE_HIT;
        }
        if (e) {
                g_ptr_array_add(e->waiters, waiter);
                return MIG_PEER_CACHE_JOINED;
        }
        if (g_hash_table_size(c->entries) >= c->max_entries)
                return MIG_PEER_CACHE_BYPASS;
        e = g_new0(MigPeerCacheEntry, 1);
        e->key = g_strdup(key);
        e->in_table = true;
        e->in_flight = true;
        e->generation = c->generation;
        e->waiters = g_ptr_array_new();
        g_ptr_array_add(e->waiters, waiter);
        g_hash_table_insert(c->entries, e->key, e);
        g_hash_table_add(c->flying, e);
        *ret_entry = e;
        return MIG_PEER_CACHE_ASK;
}

GPtrArray *mig_peer_cache_answer(MigPeerCache *c, MigPeerCacheEntry *e, GVariant *answer,
                                 const sd_bus_error *error, bool keep, uint64_t now) {
        g_hash_table_remove(c->flying, e);
        GPtrArray *waiters = g_steal_pointer(&e->waiters);
        e->in_flight = false;
        if (keep && c->ttl > 0 && e->in_table && e->generation == c->generation && (answer || error)) {
                if (answer)
                        e->answer = g_variant_ref(answer);
                else
                        (void) sd_bus_error_copy(&e->error, error);
                e->expires = now + c->ttl;
                return waiters;
        }
        if (e->in_table)
                g_hash_table_remove(c->entries, e->key);
        entry_free(e);
        return waiters;
}

void mig_peer_cache_invalidate(MigPeerCache *c) {
        c->generation++;
        GHashTableIter it;
        MigPeerCacheEntry *e;
        g_hash_table_iter_init(&it, c->entries);
        while (g_hash_table_iter_next(&it, NULL, (gpointer *) &e)) {
                g_hash_table_iter_remove(&it);
                if (e->in_flight)
                        e->in_table = false; /* its askers still get the answer; nobody new joins */
                else
                        entry_free(e);
        }
}

unsigned mig_peer_cache_size(const MigPeerCache *c) {
        return g_hash_table_size(c->entries);
}

unsigned mig_peer_cache_in_flight(const MigPeerCache *c) {
        return g_hash_table_size(c->flying);
}
