/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The back-off of an unreachable peer (base/peer-health.c) on a clock the test moves:
 * 1 s doubling to 30 s for the listings' questions, never for steps, reset by an answer,
 * and a change of state reported once each way. */

#include <glib.h>
#include <string.h>

#include "peer-health.h"

#define S USEC_PER_SEC
#define T0 (1000 * S)            /* CLOCK_MONOTONIC of the first failure */
#define WALL (1700000000ULL * S) /* CLOCK_REALTIME of the first failure */

static void test_up_never_waits(void) {
        MigPeerHealth h = {0};
        g_assert_cmpuint(mig_peer_health_wait(&h, MIG_PEER_USE_READ, T0), ==, 0);
        g_assert_cmpuint(mig_peer_health_wait(&h, MIG_PEER_USE_STEP, T0), ==, 0);
        g_assert_false(mig_peer_health_ok(&h)); /* up already: nothing to report */
        mig_peer_health_clear(&h);
}

static void test_backoff_doubles_to_the_cap(void) {
        MigPeerHealth h = {0};
        g_assert_true(mig_peer_health_failed(&h, T0, WALL, "ssh could not connect"));
        g_assert_true(h.down);
        g_assert_cmpuint(h.down_since, ==, WALL);
        g_assert_cmpuint(mig_peer_health_wait(&h, MIG_PEER_USE_READ, T0), ==, 1 * S);
        g_assert_cmpuint(mig_peer_health_wait(&h, MIG_PEER_USE_READ, T0 + S / 2), ==, S / 2);
        g_assert_cmpuint(mig_peer_health_wait(&h, MIG_PEER_USE_READ, T0 + S), ==, 0);

        /* Every further failed attempt doubles it, never reported again, up to 30 s. */
        uint64_t now = T0, want[] = {2, 4, 8, 16, 30, 30, 30};
        for (size_t i = 0; i < G_N_ELEMENTS(want); i++) {
                now += mig_peer_health_wait(&h, MIG_PEER_USE_READ, now) + 7; /* tried when allowed */
                g_assert_false(mig_peer_health_failed(&h, now, WALL + now - T0, "again"));
                g_assert_cmpuint(mig_peer_health_wait(&h, MIG_PEER_USE_READ, now), ==, want[i] * S);
                g_assert_cmpuint(h.down_since, ==, WALL); /* since the first failure */
        }
        g_assert_cmpuint(h.failures, ==, 1 + G_N_ELEMENTS(want));
        g_assert_cmpstr(h.why, ==, "again");

        /* An answer resets it: the next failure starts at 1 s again and is reported. */
        g_assert_true(mig_peer_health_ok(&h));
        g_assert_false(h.down);
        g_assert_cmpuint(mig_peer_health_wait(&h, MIG_PEER_USE_READ, now), ==, 0);
        g_assert_false(mig_peer_health_ok(&h));
        g_assert_true(mig_peer_health_failed(&h, now, WALL, "down again"));
        g_assert_cmpuint(mig_peer_health_wait(&h, MIG_PEER_USE_READ, now), ==, 1 * S);
        mig_peer_health_clear(&h);
}

/* A step (or another call of the daemon's own) is never held back: an operator's migrate
 * right after the peer came back, or the cold Finish asking again every 5 s, goes out; its
 * failures still lengthen the listings' back-off and are not reported again. */
static void test_steps_are_never_held_back(void) {
        MigPeerHealth h = {0};
        uint64_t now = T0;
        (void) mig_peer_health_failed(&h, now, WALL, "x");
        g_assert_cmpuint(mig_peer_health_wait(&h, MIG_PEER_USE_STEP, now), ==, 0);
        for (int i = 0; i < 10; i++) {
                now += 5 * S; /* the retry timer */
                g_assert_cmpuint(mig_peer_health_wait(&h, MIG_PEER_USE_STEP, now), ==, 0);
                g_assert_false(mig_peer_health_failed(&h, now, WALL, "x"));
        }
        g_assert_cmpuint(h.backoff, ==, MIG_PEER_BACKOFF_MAX_USEC);
        g_assert_cmpuint(mig_peer_health_wait(&h, MIG_PEER_USE_READ, now), ==, MIG_PEER_BACKOFF_MAX_USEC);
        g_autofree char *why = mig_peer_health_describe(&h, MIG_PEER_USE_STEP, now);
        g_assert_true(g_str_has_prefix(why, "unreachable since "));
        g_assert_null(strstr(why, "next try")); /* its caller decides when */
        mig_peer_health_clear(&h);
}

static void test_describe(void) {
        MigPeerHealth h = {0};
        (void) mig_peer_health_failed(&h, T0, WALL, "ssh could not connect");
        g_autofree char *since = mig_peer_health_clock(WALL);
        g_assert_cmpuint(strlen(since), ==, 8); /* HH:MM:SS */
        g_assert_true(g_ascii_isdigit(since[0]) && since[2] == ':' && since[5] == ':');
        g_autofree char *want =
                g_strdup_printf("unreachable since %s, next try in 1 s: ssh could not connect", since);
        g_autofree char *got = mig_peer_health_describe(&h, MIG_PEER_USE_READ, T0);
        g_assert_cmpstr(got, ==, want);
        g_autofree char *rounded = mig_peer_health_describe(&h, MIG_PEER_USE_READ, T0 + 1); /* 0.999999 s */
        g_assert_cmpstr(rounded, ==, want);
        g_autofree char *now = mig_peer_health_describe(&h, MIG_PEER_USE_READ, T0 + S);
        g_assert_true(strstr(now, "trying again now") != NULL);
        mig_peer_health_clear(&h);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/peer-health/up", test_up_never_waits);
        g_test_add_func("/peer-health/backoff", test_backoff_doubles_to_the_cap);
        g_test_add_func("/peer-health/steps", test_steps_are_never_held_back);
        g_test_add_func("/peer-health/describe", test_describe);
        return g_test_run();
}
