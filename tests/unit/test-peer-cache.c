/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The bookkeeping of the peers' answer cache (base/peer-cache.c) on a clock the test
 * moves: identical questions in flight share one call, an answer serves for the TTL,
 * refusals too, invalidation drops kept answers and detaches calls in flight, the table
 * never grows past its cap. */

#include <glib.h>

#include "errors.h"
#include "macro.h"
#include "peer-cache.h"

#define MS 1000ULL
#define TTL (2000 * MS)

static int w1, w2, w3, w4; /* waiters: only their addresses matter */

static void test_single_flight_then_hit(void) {
        MigPeerCache *c = mig_peer_cache_new(TTL, 16);
        MigPeerCacheEntry *e = NULL, *other = NULL;
        GVariant *answer = NULL;
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;

        g_assert_cmpint(mig_peer_cache_lookup(c, "ListDomains()", 0, &w1, &e, &answer, &error), ==,
                        MIG_PEER_CACHE_ASK);
        g_assert_nonnull(e);
        g_assert_cmpint(mig_peer_cache_lookup(c, "ListDomains()", 10 * MS, &w2, &other, &answer, &error), ==,
                        MIG_PEER_CACHE_JOINED);
        g_assert_cmpint(mig_peer_cache_lookup(c, "ListDomains()", 20 * MS, &w3, &other, &answer, &error), ==,
                        MIG_PEER_CACHE_JOINED);
        g_assert_null(other);
        /* Another question is another call. */
        g_assert_cmpint(mig_peer_cache_lookup(c, "GetCapacity()", 20 * MS, &w4, &other, &answer, &error), ==,
                        MIG_PEER_CACHE_ASK);
        g_assert_cmpuint(mig_peer_cache_in_flight(c), ==, 2);

        g_autoptr(GVariant) reply = g_variant_ref_sink(g_variant_new("(as)", NULL));
        g_autoptr(GPtrArray) waiters = mig_peer_cache_answer(c, e, reply, NULL, true, 100 * MS);
        g_assert_cmpuint(waiters->len, ==, 3);
        g_assert_true(waiters->pdata[0] == &w1 && waiters->pdata[1] == &w2 && waiters->pdata[2] == &w3);
        g_assert_cmpuint(mig_peer_cache_in_flight(c), ==, 1);

        /* Kept for the TTL from the answer, then asked again. */
        g_assert_cmpint(
                mig_peer_cache_lookup(c, "ListDomains()", 100 * MS + TTL - 1, &w1, &other, &answer, &error),
                ==, MIG_PEER_CACHE_HIT);
        g_assert_true(answer == reply);
        g_variant_unref(g_steal_pointer(&answer));
        other = NULL;
        g_assert_cmpint(
                mig_peer_cache_lookup(c, "ListDomains()", 100 * MS + TTL, &w1, &other, &answer, &error), ==,
                MIG_PEER_CACHE_ASK);
        g_assert_nonnull(other); /* a new call: the kept answer was too old */

        mig_peer_cache_free(c, NULL); /* two calls still in flight: freed with it */
}

static void test_refusal_is_kept_failure_is_not(void) {
        MigPeerCache *c = mig_peer_cache_new(TTL, 16);
        MigPeerCacheEntry *e = NULL;
        GVariant *answer = NULL;
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        const sd_bus_error not_found = SD_BUS_ERROR_MAKE_CONST(MIG_ERROR_NOT_FOUND, "No domain 'vm9' here.");

        g_assert_cmpint(mig_peer_cache_lookup(c, "DescribeDomain('vm9',)", 0, &w1, &e, &answer, &error), ==,
                        MIG_PEER_CACHE_ASK);
        g_autoptr(GPtrArray) a = mig_peer_cache_answer(c, e, NULL, &not_found, true, 0);
        g_assert_cmpint(mig_peer_cache_lookup(c, "DescribeDomain('vm9',)", MS, &w2, &e, &answer, &error), ==,
                        MIG_PEER_CACHE_HIT);
        g_assert_null(answer);
        g_assert_cmpstr(error.name, ==, MIG_ERROR_NOT_FOUND);
        g_assert_cmpstr(error.message, ==, "No domain 'vm9' here.");

        /* What the caller does not keep (a transport failure) is answered, not kept. */
        g_assert_cmpint(mig_peer_cache_lookup(c, "GetCapacity()", 0, &w1, &e, &answer, &error), ==,
                        MIG_PEER_CACHE_ASK);
        const sd_bus_error gone = SD_BUS_ERROR_MAKE_CONST(MIG_ERROR_PEER_UNREACHABLE, "gone");
        g_autoptr(GPtrArray) b = mig_peer_cache_answer(c, e, NULL, &gone, false, 0);
        g_assert_cmpuint(b->len, ==, 1);
        g_assert_cmpuint(mig_peer_cache_size(c), ==, 1);
        g_assert_cmpint(mig_peer_cache_lookup(c, "GetCapacity()", MS, &w2, &e, &answer, &error), ==,
                        MIG_PEER_CACHE_ASK);
        mig_peer_cache_free(c, NULL);
}

/* A call that may change the peer went out: what was kept goes, and a question asked
 * from now on does not join a call that started before it. */
static void test_invalidation(void) {
        MigPeerCache *c = mig_peer_cache_new(TTL, 16);
        MigPeerCacheEntry *kept = NULL, *flying = NULL, *fresh = NULL, *unused = NULL;
        GVariant *answer = NULL;
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        g_autoptr(GVariant) reply = g_variant_ref_sink(g_variant_new("(u)", 1));

        g_assert_cmpint(mig_peer_cache_lookup(c, "GetCapacity()", 0, &w1, &kept, &answer, &error), ==,
                        MIG_PEER_CACHE_ASK);
        g_autoptr(GPtrArray) a = mig_peer_cache_answer(c, kept, reply, NULL, true, 0);
        g_assert_cmpint(mig_peer_cache_lookup(c, "ListDomains()", 0, &w1, &flying, &answer, &error), ==,
                        MIG_PEER_CACHE_ASK);
        g_assert_cmpuint(mig_peer_cache_size(c), ==, 2);

        mig_peer_cache_invalidate(c); /* e.g. SetHostState to that peer */
        g_assert_cmpuint(mig_peer_cache_size(c), ==, 0);
        g_assert_cmpuint(mig_peer_cache_in_flight(c), ==, 1);
        g_assert_cmpint(mig_peer_cache_lookup(c, "GetCapacity()", MS, &w2, &unused, &answer, &error), ==,
                        MIG_PEER_CACHE_ASK);
        g_assert_cmpint(mig_peer_cache_lookup(c, "ListDomains()", MS, &w3, &fresh, &answer, &error), ==,
                        MIG_PEER_CACHE_ASK);
        g_assert_true(fresh != flying);

        /* The detached call still answers its own askers, and its answer is not kept. */
        g_autoptr(GPtrArray) old = mig_peer_cache_answer(c, flying, reply, NULL, true, 2 * MS);
        g_assert_cmpuint(old->len, ==, 1);
        g_assert_true(old->pdata[0] == &w1);
        g_assert_cmpint(mig_peer_cache_lookup(c, "ListDomains()", 3 * MS, &w4, &unused, &answer, &error), ==,
                        MIG_PEER_CACHE_JOINED); /* the fresh call, still in flight */
        g_autoptr(GPtrArray) now = mig_peer_cache_answer(c, fresh, reply, NULL, true, 4 * MS);
        g_assert_cmpuint(now->len, ==, 2);
        g_assert_cmpint(mig_peer_cache_lookup(c, "ListDomains()", 5 * MS, &w4, &unused, &answer, &error), ==,
                        MIG_PEER_CACHE_HIT);
        g_variant_unref(answer);
        mig_peer_cache_free(c, NULL);
}

static void test_cap(void) {
        MigPeerCache *c = mig_peer_cache_new(TTL, 4);
        MigPeerCacheEntry *e = NULL;
        GVariant *answer = NULL;
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        g_autoptr(GVariant) reply = g_variant_ref_sink(g_variant_new("()"));
        for (int i = 0; i < 4; i++) {
                g_autofree char *key = g_strdup_printf("DescribeDomain('vm%d',)", i);
                g_assert_cmpint(mig_peer_cache_lookup(c, key, 0, &w1, &e, &answer, &error), ==,
                                MIG_PEER_CACHE_ASK);
                g_autoptr(GPtrArray) w = mig_peer_cache_answer(c, e, reply, NULL, true, 0);
        }
        g_assert_cmpint(mig_peer_cache_lookup(c, "DescribeDomain('vm9',)", MS, &w1, &e, &answer, &error), ==,
                        MIG_PEER_CACHE_BYPASS);
        g_assert_cmpuint(mig_peer_cache_size(c), ==, 4);
        /* Expired answers make room. */
        g_assert_cmpint(mig_peer_cache_lookup(c, "DescribeDomain('vm9',)", TTL, &w1, &e, &answer, &error),
                        ==, MIG_PEER_CACHE_ASK);
        g_assert_cmpuint(mig_peer_cache_size(c), ==, 1);
        mig_peer_cache_free(c, NULL);
}

/* Freeing with calls in flight hands their waiters over, once each. */
static unsigned dropped;
static void drop(gpointer w) {
        g_assert_true(w == &w1 || w == &w2);
        dropped++;
}

static void test_free_drops_waiters(void) {
        MigPeerCache *c = mig_peer_cache_new(TTL, 4);
        MigPeerCacheEntry *e = NULL;
        GVariant *answer = NULL;
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        (void) mig_peer_cache_lookup(c, "ListDomains()", 0, &w1, &e, &answer, &error);
        (void) mig_peer_cache_lookup(c, "ListDomains()", 0, &w2, &e, &answer, &error);
        mig_peer_cache_invalidate(c); /* detached, still in flight */
        mig_peer_cache_free(c, drop);
        g_assert_cmpuint(dropped, ==, 2);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/peer-cache/single-flight", test_single_flight_then_hit);
        g_test_add_func("/peer-cache/refusal", test_refusal_is_kept_failure_is_not);
        g_test_add_func("/peer-cache/invalidation", test_invalidation);
        g_test_add_func("/peer-cache/cap", test_cap);
        g_test_add_func("/peer-cache/free", test_free_drops_waiters);
        return g_test_run();
}
