/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <glib.h>
#include <string.h>

#include "status.h"

static void test_round_trip(void) {
        guint n = 0;

        for (int i = 0; i < _MIG_STATUS_MAX; i++) {
                const char *name = mig_status_to_string((MigStatus) i);
                g_assert_nonnull(name);
                g_assert_cmpstr(name, ==, mig_status_names[i]);
                g_assert_cmpint(mig_status_from_string(name), ==, i);
                g_assert_true(mig_status_is_known(name));
                n++;
        }
        g_assert_null(mig_status_names[_MIG_STATUS_MAX]);
        g_assert_cmpuint(g_strv_length((char **) mig_status_names), ==, n);
        g_assert_cmpuint(n, ==, 15);
        g_assert_null(mig_status_to_string(MIG_STATUS_INVALID));
        g_assert_null(mig_status_to_string(_MIG_STATUS_MAX));
}

static void test_unknown(void) {
        static const char *const bad[] = {"",       "Finished", "FINISHED",   "finished ",     "done",
                                          "paused", "planning", "cancelling", "VERIFY_RESIZE", "resize_prep",
                                          NULL};

        g_assert_cmpint(mig_status_from_string(NULL), ==, MIG_STATUS_INVALID);
        g_assert_false(mig_status_is_known(NULL));
        g_assert_false(mig_status_is_final(NULL));
        g_assert_false(mig_status_ends_watch(NULL));
        g_assert_false(mig_status_is_success(NULL));
        g_assert_false(mig_status_waits_for_operator(NULL));
        for (size_t i = 0; bad[i]; i++) {
                g_assert_cmpint(mig_status_from_string(bad[i]), ==, MIG_STATUS_INVALID);
                g_assert_false(mig_status_is_known(bad[i]));
                g_assert_false(mig_status_is_final(bad[i]));
                g_assert_false(mig_status_ends_watch(bad[i]));
                g_assert_false(mig_status_is_success(bad[i]));
        }
}

/* finished (VERIFY_RESIZE) is in flight for the daemon, but a watch ends there. */
static void test_finished(void) {
        g_assert_false(mig_status_is_final("finished"));
        g_assert_true(mig_status_waits_for_operator("finished"));
        g_assert_true(mig_status_ends_watch("finished"));
        g_assert_true(mig_status_is_success("finished"));
}

static void test_flags(void) {
        static const char *const final[] = {"confirmed", "reverted", "error", "cancelled",
                                            "completed", "failed",   NULL};
        static const char *const in_flight[] = {"pre-migrating", "migrating", "post-migrating", "finished",
                                                "confirming",    "reverting", "queued",         "preparing",
                                                "running",       NULL};
        static const char *const success[] = {"finished", "confirmed", "completed", NULL};

        for (size_t i = 0; final[i]; i++) {
                g_assert_true(mig_status_is_final(final[i]));
                g_assert_true(mig_status_ends_watch(final[i]));
                g_assert_false(mig_status_waits_for_operator(final[i]));
        }
        for (size_t i = 0; in_flight[i]; i++)
                g_assert_false(mig_status_is_final(in_flight[i]));
        /* Every status is final or in flight, never both. */
        g_assert_cmpuint(g_strv_length((char **) final) + g_strv_length((char **) in_flight), ==,
                         _MIG_STATUS_MAX);
        for (int i = 0; i < _MIG_STATUS_MAX; i++) {
                const char *name = mig_status_names[i];
                g_assert_true(g_strv_contains(final, name) != g_strv_contains(in_flight, name));
                g_assert_cmpint(mig_status_is_success(name), ==, g_strv_contains(success, name));
                g_assert_cmpint(mig_status_ends_watch(name), ==,
                                mig_status_is_final(name) || strcmp(name, "finished") == 0);
        }
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/status/round-trip", test_round_trip);
        g_test_add_func("/status/unknown", test_unknown);
        g_test_add_func("/status/finished", test_finished);
        g_test_add_func("/status/flags", test_flags);
        return g_test_run();
}
