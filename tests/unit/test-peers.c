/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* base/peers.c against a peer that refuses every connection (a real ssh to a closed
 * port of 127.0.0.1), on a clock the test moves: calls made together share one ssh,
 * then the peer is in back-off and the listings' questions fail at once without starting
 * ssh, with one log line for the change; the back-off lets them try again after 1 s,
 * 2 s, ...; a step always tries (no new log line); every callback runs exactly once. */

#include <glib.h>
#include <string.h>

#include "config.h"
#include "errors.h"
#include "macro.h"
#include "peers.h"

#define S USEC_PER_SEC

typedef struct Clock {
        uint64_t mono, real;
} Clock;

static uint64_t fake_clock(clockid_t clock, void *userdata) {
        Clock *c = userdata;
        return clock == CLOCK_REALTIME ? c->real : c->mono;
}

typedef struct Answers {
        unsigned n, unreachable;
        char *last; /* the last error's message */
} Answers;

static void on_answer(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        Answers *a = userdata;
        a->n++;
        g_assert_null(reply);
        g_assert_nonnull(error);
        if (strcmp(error->name, MIG_ERROR_PEER_UNREACHABLE) == 0)
                a->unreachable++;
        g_free(a->last);
        a->last = g_strdup(error->message);
}

static void wait_for(sd_event *event, Answers *a, unsigned n) {
        gint64 end = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
        while (a->n < n && g_get_monotonic_time() < end)
                g_assert_cmpint(sd_event_run(event, 100 * USEC_PER_MSEC), >=, 0);
        g_assert_cmpuint(a->n, ==, n);
}

/* Runs the loop a little: nothing more may arrive (each callback once). */
static void settle(sd_event *event) {
        for (int i = 0; i < 5; i++)
                (void) sd_event_run(event, 20 * USEC_PER_MSEC);
}

static MigConfig *config_with_refusing_peer(void) {
        MigConfig *c = mig_config_new_defaults();
        MigPeerConfig *peer = g_new0(MigPeerConfig, 1);
        peer->name = g_strdup("far");
        peer->address = g_strdup("ssh://root@127.0.0.1:1"); /* nothing listens on port 1 */
        peer->migration_address = g_strdup("127.0.0.1");
        g_ptr_array_add(c->peers, peer);
        return c;
}

static void test_backoff(void) {
        g_autofree char *ssh = g_find_program_in_path("ssh");
        if (!ssh) {
                g_test_skip("needs ssh");
                return;
        }
        g_autoptr(sd_event) event = NULL;
        g_assert_cmpint(sd_event_new(&event), >=, 0);
        g_autoptr(MigConfig) config = config_with_refusing_peer();
        MigPeers *ps = mig_peers_new(event, config);
        Clock clock = {1000 * S, 1700000000ULL * S};
        mig_peers_set_clock(ps, fake_clock, &clock);
        MigPeer *p = mig_peers_find(ps, "far");
        g_assert_nonnull(p);
        g_assert_true(mig_peer_reachable(p));
        Answers a = {0};

        /* Together: one connection (one ssh) for all, the cached question asked once. */
        g_test_expect_message(NULL, G_LOG_LEVEL_WARNING,
                              "Peer far (ssh://root@127.0.0.1:1) is unreachable: *");
        for (int i = 0; i < 5; i++) {
                mig_peer_ask_cached(p, "GetCapacity", on_answer, &a, NULL);
                mig_peer_call(p, "Ping", MIG_PEER_TIMEOUT_USEC, on_answer, &a, NULL);
        }
        g_assert_cmpuint(a.n, ==, 0);
        g_assert_cmpuint(mig_peer_connections(p), ==, 1);
        wait_for(event, &a, 10);
        g_test_assert_expected_messages(); /* exactly one line for the change */
        g_assert_cmpuint(a.unreachable, ==, 10);
        g_assert_false(mig_peer_reachable(p));
        g_assert_nonnull(strstr(a.last, "unreachable since "));

        /* In back-off: 40 questions fail at once, no ssh, no log line (a warning would abort). */
        clock.mono += S / 2;
        for (int i = 0; i < 20; i++) {
                mig_peer_ask_cached(p, "ListDomains", on_answer, &a, NULL);
                g_autoptr(GVariant) args = g_variant_ref_sink(g_variant_new("(s)", "vm1"));
                mig_peer_ask_cached(p, "DescribeDomain", on_answer, &a, args);
        }
        g_assert_cmpuint(a.n, ==, 50); /* before returning */
        g_assert_cmpuint(mig_peer_connections(p), ==, 1);
        g_assert_nonnull(strstr(a.last, ", next try in 1 s: ssh could not connect"));
        settle(event);
        g_assert_cmpuint(a.n, ==, 50);

        /* After 1 s a read tries again (one more ssh); it fails: 2 s now. */
        clock.mono += S / 2;
        mig_peer_ask_cached(p, "ListDomains", on_answer, &a, NULL);
        g_assert_cmpuint(mig_peer_connections(p), ==, 2);
        wait_for(event, &a, 51);
        clock.mono += S;
        mig_peer_ask_cached(p, "ListDomains", on_answer, &a, NULL);
        g_assert_cmpuint(a.n, ==, 52);
        g_assert_nonnull(strstr(a.last, "next try in 1 s")); /* 2 s after the failure */
        g_assert_cmpuint(mig_peer_connections(p), ==, 2);

        /* Grow the back-off to 16 s: a read waits all of it, a step goes at once. */
        for (unsigned want = 3; want <= 5; want++) {
                clock.mono += 30 * S;
                mig_peer_ask_cached(p, "ListDomains", on_answer, &a, NULL);
                g_assert_cmpuint(mig_peer_connections(p), ==, want);
                wait_for(event, &a, a.n + 1);
        }
        clock.mono += 4 * S;
        mig_peer_ask_cached(p, "ListDomains", on_answer, &a, NULL);
        g_assert_nonnull(strstr(a.last, "next try in 12 s"));
        g_assert_cmpuint(mig_peer_connections(p), ==, 5);
        mig_peer_call(p, "FinishColdMigration", MIG_PEER_STEP_TIMEOUT_USEC, on_answer, &a, NULL);
        mig_peer_notify(p, "CheckDomain", g_variant_new("(s)", "00000000-0000-0000-0000-000000000000"));
        g_assert_cmpuint(mig_peer_connections(p), ==, 6); /* the step goes out, the notification with it */
        wait_for(event, &a, a.n + 1);
        g_assert_false(mig_peer_reachable(p));
        g_assert_nonnull(strstr(a.last, "unreachable since "));
        g_assert_null(strstr(a.last, "next try")); /* the step's caller decides when */
        /* The step's failure lengthened the listings' back-off: 30 s now. */
        mig_peer_ask_cached(p, "ListDomains", on_answer, &a, NULL);
        g_assert_nonnull(strstr(a.last, "next try in 30 s"));
        g_assert_cmpuint(mig_peer_connections(p), ==, 6);

        /* A peer that is not configured answers PeerUnreachable, once. */
        unsigned before = a.n;
        mig_peer_call(NULL, "Ping", MIG_PEER_TIMEOUT_USEC, on_answer, &a, NULL);
        mig_peer_ask_cached(NULL, "Ping", on_answer, &a, NULL);
        g_assert_cmpuint(a.n, ==, before + 2);
        g_assert_nonnull(strstr(a.last, "not a configured peer"));
        settle(event);
        g_assert_cmpuint(a.n, ==, before + 2);

        mig_peers_free(ps);
        g_free(a.last);
}

/* Every peer at once: done() runs once, after every peer answered (here at once). */
static unsigned each_n, done_n;
static void on_each(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        g_assert_cmpuint(each_n, ==, done_n); /* one peer: its answer, then done() */
        each_n++;
}
static void on_done(void *userdata) {
        done_n++;
}

static void test_ask_all_in_backoff(void) {
        g_autofree char *ssh = g_find_program_in_path("ssh");
        if (!ssh) {
                g_test_skip("needs ssh");
                return;
        }
        g_autoptr(sd_event) event = NULL;
        g_assert_cmpint(sd_event_new(&event), >=, 0);
        g_autoptr(MigConfig) config = config_with_refusing_peer();
        MigPeers *ps = mig_peers_new(event, config);
        Clock clock = {1000 * S, 1700000000ULL * S};
        mig_peers_set_clock(ps, fake_clock, &clock);
        Answers a = {0};
        g_test_expect_message(NULL, G_LOG_LEVEL_WARNING, "Peer far * is unreachable: *");
        mig_peer_call(mig_peers_find(ps, "far"), "Ping", MIG_PEER_TIMEOUT_USEC, on_answer, &a, NULL);
        wait_for(event, &a, 1);
        g_test_assert_expected_messages();
        mig_peers_ask_all_cached(ps, "ListDomains", on_each, on_done, NULL, NULL);
        g_assert_cmpuint(each_n, ==, 1);
        g_assert_cmpuint(done_n, ==, 1);
        g_assert_cmpuint(mig_peer_connections(mig_peers_find(ps, "far")), ==, 1);
        /* The daemon's own question (the scheduler's) tries: done() once it failed. */
        mig_peers_ask_all(ps, "GetCapacity", MIG_PEER_TIMEOUT_USEC, on_each, on_done, NULL, NULL);
        g_assert_cmpuint(mig_peer_connections(mig_peers_find(ps, "far")), ==, 2);
        gint64 end = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
        while (done_n < 2 && g_get_monotonic_time() < end)
                g_assert_cmpint(sd_event_run(event, 100 * USEC_PER_MSEC), >=, 0);
        g_assert_cmpuint(each_n, ==, 2);
        g_assert_cmpuint(done_n, ==, 2);
        mig_peers_free(ps);
        g_free(a.last);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/peers/backoff", test_backoff);
        g_test_add_func("/peers/ask-all", test_ask_all_in_backoff);
        return g_test_run();
}
