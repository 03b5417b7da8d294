/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The table that decides a live migration's outcome from both nodes' views
 * (reconcile_live_outcome): every pair of views, and the ones that must never
 * destroy or resume anything. */

#include <glib.h>

#include "reconcile.h"

typedef struct Row {
        const char *source, *dest;
        LiveOutcome want;
} Row;

static const Row rows[] = {
        {"absent", "running", LIVE_COMPLETED},
        {"shutoff", "running", LIVE_COMPLETED},
        {"paused-migration", "running", LIVE_COMPLETED_DROP_SOURCE},
        {"paused", "running", LIVE_COMPLETED_DROP_SOURCE},
        {"running", "running", LIVE_CONFLICT},
        {"absent", "paused-migration", LIVE_COMPLETED_RESUME_DEST},
        {"paused-migration", "paused-migration", LIVE_ROLLBACK_RESUME},
        {"running", "paused-migration", LIVE_ROLLBACK},
        {"running", "absent", LIVE_ROLLBACK},
        {"running", "shutoff", LIVE_ROLLBACK},
        {"paused-migration", "absent", LIVE_ROLLBACK_RESUME},
        {"absent", "absent", LIVE_CONFLICT},
        {"shutoff", "absent", LIVE_CONFLICT},
        {"postcopy", "postcopy", LIVE_CONFLICT},
        {"paused-migration", "postcopy", LIVE_CONFLICT},
        {"postcopy", "absent", LIVE_CONFLICT},
        {NULL, "running", LIVE_WAIT},
        {"running", NULL, LIVE_WAIT},
};

static void test_table(void) {
        for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
                const char *why = NULL;
                LiveOutcome got = reconcile_live_outcome(rows[i].source, rows[i].dest, &why);
                g_test_message("source %s, destination %s: %d (%s)", rows[i].source, rows[i].dest, got, why);
                g_assert_cmpint(got, ==, rows[i].want);
                g_assert_nonnull(why);
        }
}

/* Whatever the views, a destination that runs the domain is never rolled back and a
 * source that runs it is never dropped. */
static void test_never_destroys_a_runner(void) {
        static const char *const views[] = {"absent", "shutoff", "running", "paused", "paused-migration",
                                            "postcopy"};
        for (size_t s = 0; s < G_N_ELEMENTS(views); s++)
                for (size_t d = 0; d < G_N_ELEMENTS(views); d++) {
                        const char *why;
                        LiveOutcome o = reconcile_live_outcome(views[s], views[d], &why);
                        if (g_str_equal(views[d], "running"))
                                g_assert_true(o != LIVE_ROLLBACK && o != LIVE_ROLLBACK_RESUME);
                        if (g_str_equal(views[s], "running"))
                                g_assert_true(o != LIVE_COMPLETED_DROP_SOURCE && o != LIVE_COMPLETED);
                }
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/reconcile/live-outcome-table", test_table);
        g_test_add_func("/reconcile/never-destroys-a-runner", test_never_destroys_a_runner);
        return g_test_run();
}
