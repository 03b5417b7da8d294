/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The live migration's tuning before the start (tune.c): the throttle computed from the
 * sampled dirty rate and the link's rate, XBZRLE and its cache, and what the event says. */

#include <glib.h>
#include <string.h>

#include "live-job.h"

#define MIB (1024ULL * 1024)
#define GIB (1024ULL * MIB)

static LiveTuneFigures figures(uint64_t dirty_mib, uint64_t link_mib) {
        return (LiveTuneFigures){.dirty_rate = dirty_mib * MIB,
                                 .link_rate = link_mib * MIB,
                                 .memory = 512 * MIB,
                                 .auto_converge = true,
                                 .parallel = 1,
                                 .compress = MIG_COMPRESS_AUTO};
}

/* The bench's hot guest on a 512 Mbit/s link: XBZRLE's cache holds the whole guest, the
 * throttle goes in QEMU's steps; without XBZRLE it starts near the top. */
static void test_out_dirtied(void) {
        LiveTuneFigures f = figures(254, 58);
        LiveTune t;
        live_tune_plan(&f, &t);
        g_assert_cmpuint(t.link, ==, 58 * MIB);
        g_assert_cmpuint(t.throttle_initial, ==, 0);
        g_assert_cmpuint(t.xbzrle_cache, ==, 512 * MIB);
        g_autofree char *msg = live_tune_describe(&f, &t, "b");
        g_assert_cmpstr(msg, ==,
                        "the guest dirties 254 MiB/s, the link to b moved 58 MiB/s (the slowest of its last "
                        "5): XBZRLE with a "
                        "512 MiB cache, auto-converge in QEMU's steps");
        f.compress = MIG_COMPRESS_NEVER;
        live_tune_plan(&f, &t);
        g_assert_cmpuint(t.throttle_initial, ==, 89); /* 1 - 29/254 */
        g_assert_cmpuint(t.throttle_increment, ==, 10);
        g_assert_cmpuint(t.xbzrle_cache, ==, 0);
        g_autofree char *computed = live_tune_describe(&f, &t, "b");
        g_assert_cmpstr(computed, ==,
                        "the guest dirties 254 MiB/s, the link to b moved 58 MiB/s (the slowest of its last "
                        "5): auto-converge "
                        "starts at 89 % in steps of 10 %");
}

/* The hot guest over a fast link: no XBZRLE (it costs more than it saves there), and a
 * throttle of 1 - 240/254 is below QEMU's first step: QEMU's own steps. */
static void test_fast_link(void) {
        LiveTuneFigures f = figures(254, 480);
        LiveTune t;
        live_tune_plan(&f, &t);
        g_assert_cmpuint(t.xbzrle_cache, ==, 0);
        g_assert_cmpuint(t.throttle_initial, ==, 0);
        g_autofree char *msg = live_tune_describe(&f, &t, "b");
        g_assert_cmpstr(
                msg, ==,
                "the guest dirties 254 MiB/s, the link to b moved 480 MiB/s (the slowest of its last 5): "
                "QEMU's own steps");
}

/* A guest that dirties less than half the link needs nothing. */
static void test_enough_link(void) {
        LiveTuneFigures f = figures(20, 58);
        LiveTune t;
        live_tune_plan(&f, &t);
        g_assert_cmpuint(t.throttle_initial, ==, 0);
        g_assert_cmpuint(t.throttle_increment, ==, 0);
        g_assert_cmpuint(t.xbzrle_cache, ==, 0);
        g_autofree char *msg = live_tune_describe(&f, &t, "b");
        g_assert_cmpstr(msg, ==,
                        "the guest dirties 20 MiB/s, the link to b moved 58 MiB/s (the slowest of its last "
                        "5): half the link "
                        "is enough, QEMU's own steps");
}

/* Before the first migration to a peer, 1 Gbit/s is assumed; steps reach 99 % in two. */
static void test_unknown_link(void) {
        LiveTuneFigures f = figures(100, 0);
        f.compress = MIG_COMPRESS_NEVER;
        LiveTune t;
        live_tune_plan(&f, &t);
        g_assert_cmpuint(t.link, ==, 125000000);
        g_assert_cmpuint(t.throttle_initial, ==, 41);
        g_assert_cmpuint(t.throttle_increment, ==, 29);
        g_assert_cmpuint(t.throttle_initial + 2 * t.throttle_increment, >=, 99);
        g_autofree char *msg = live_tune_describe(&f, &t, "b");
        g_assert_nonnull(strstr(msg, "no link to b measured yet, 1 Gbit/s assumed"));
}

/* Bandwidth below the measured link is what the link is; no sample, no tuning. */
static void test_bandwidth_and_no_sample(void) {
        LiveTuneFigures f = figures(100, 500);
        f.compress = MIG_COMPRESS_NEVER;
        f.bandwidth = 50 * MIB;
        LiveTune t;
        live_tune_plan(&f, &t);
        g_assert_cmpuint(t.link, ==, 50 * MIB);
        g_assert_cmpuint(t.throttle_initial, ==, 75);
        g_autofree char *msg = live_tune_describe(&f, &t, "b");
        g_assert_nonnull(strstr(msg, "Bandwidth caps the link to b at 50 MiB/s"));

        f.dirty_rate = 0;
        live_tune_plan(&f, &t);
        g_assert_cmpuint(t.throttle_initial, ==, 0);
        g_assert_cmpuint(t.xbzrle_cache, ==, 0);
        g_autofree char *none = live_tune_describe(&f, &t, "b");
        g_assert_nonnull(strstr(none, "could not be sampled"));
}

/* AutoConverge=false: no throttle, XBZRLE still; parallel connections: no XBZRLE, so the
 * throttle is computed. */
static void test_options(void) {
        LiveTuneFigures f = figures(254, 58);
        f.auto_converge = false;
        LiveTune t;
        live_tune_plan(&f, &t);
        g_assert_cmpuint(t.throttle_initial, ==, 0);
        g_assert_cmpuint(t.xbzrle_cache, ==, 512 * MIB);
        f.compress = MIG_COMPRESS_NEVER;
        live_tune_plan(&f, &t);
        g_assert_cmpuint(t.throttle_initial, ==, 0);
        g_assert_cmpuint(t.xbzrle_cache, ==, 0);
        f = figures(254, 58);
        f.parallel = 4;
        live_tune_plan(&f, &t);
        g_assert_cmpuint(t.throttle_initial, ==, 89);
        g_assert_cmpuint(t.xbzrle_cache, ==, 0);
}

/* Compressed=false: never XBZRLE; true: always, even when half the link is enough. */
static void test_compress_modes(void) {
        LiveTuneFigures f = figures(254, 58);
        f.compress = MIG_COMPRESS_NEVER;
        LiveTune t;
        live_tune_plan(&f, &t);
        g_assert_cmpuint(t.throttle_initial, ==, 89);
        g_assert_cmpuint(t.xbzrle_cache, ==, 0);
        f = figures(4, 58);
        f.compress = MIG_COMPRESS_ALWAYS;
        live_tune_plan(&f, &t);
        g_assert_cmpuint(t.throttle_initial, ==, 0);
        g_assert_cmpuint(t.xbzrle_cache, ==, 64 * MIB);
        g_autofree char *msg = live_tune_describe(&f, &t, "b");
        g_assert_cmpstr(msg, ==,
                        "the guest dirties 4 MiB/s, the link to b moved 58 MiB/s (the slowest of its last "
                        "5): half the link is "
                        "enough, XBZRLE with a 64 MiB cache, auto-converge in QEMU's steps");
}

/* A TCG guest on QEMU 7.2 (or a QEMU not known): auto takes no XBZRLE and says why, the
 * throttle is computed instead; QEMU 9.0, KVM, and Compressed=true do take it. */
static void test_lossy_tcg(void) {
        LiveTuneFigures f = figures(254, 58);
        f.emulated = true;
        f.hv_version = 7002000;
        LiveTune t;
        live_tune_plan(&f, &t);
        g_assert_true(live_tune_lossy_tcg(&f));
        g_assert_cmpuint(t.xbzrle_cache, ==, 0);
        g_assert_cmpuint(t.throttle_initial, ==, 89);
        g_autofree char *msg = live_tune_describe(&f, &t, "b");
        g_assert_cmpstr(
                msg, ==,
                "the guest dirties 254 MiB/s, the link to b moved 58 MiB/s (the slowest of its last "
                "5): no XBZRLE (this TCG guest's QEMU, before 9.0, loses writes at each memory sync, "
                "and XBZRLE multiplies them), auto-converge starts at 89 % in steps of 10 %");
        f.hv_version = 0;
        live_tune_plan(&f, &t);
        g_assert_cmpuint(t.xbzrle_cache, ==, 0);
        f.hv_version = 9000000;
        live_tune_plan(&f, &t);
        g_assert_cmpuint(t.xbzrle_cache, ==, 512 * MIB);
        f.hv_version = 7002000;
        f.emulated = false;
        live_tune_plan(&f, &t);
        g_assert_cmpuint(t.xbzrle_cache, ==, 512 * MIB);
        f.emulated = true;
        f.compress = MIG_COMPRESS_ALWAYS;
        live_tune_plan(&f, &t);
        g_assert_cmpuint(t.xbzrle_cache, ==, 512 * MIB);
        /* no word about XBZRLE where auto would not have taken it anyway */
        f = figures(60, 58);
        f.emulated = true;
        live_tune_plan(&f, &t);
        g_autofree char *plain = live_tune_describe(&f, &t, "b");
        g_assert_null(strstr(plain, "XBZRLE"));
}

static void test_cache_size(void) {
        g_assert_cmpuint(live_tune_cache_for(1 * MIB, 512 * MIB), ==, 64 * MIB);
        g_assert_cmpuint(live_tune_cache_for(300 * MIB, 8 * GIB), ==, 512 * MIB);
        g_assert_cmpuint(live_tune_cache_for(256 * MIB, 8 * GIB), ==, 256 * MIB);
        g_assert_cmpuint(live_tune_cache_for(5 * GIB, 64 * GIB), ==, 2 * GIB);
        g_assert_cmpuint(live_tune_cache_for(900 * MIB, 768 * MIB), ==, 512 * MIB);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/tune/out-dirtied", test_out_dirtied);
        g_test_add_func("/tune/enough-link", test_enough_link);
        g_test_add_func("/tune/fast-link", test_fast_link);
        g_test_add_func("/tune/unknown-link", test_unknown_link);
        g_test_add_func("/tune/bandwidth-and-no-sample", test_bandwidth_and_no_sample);
        g_test_add_func("/tune/options", test_options);
        g_test_add_func("/tune/compress-modes", test_compress_modes);
        g_test_add_func("/tune/lossy-tcg", test_lossy_tcg);
        g_test_add_func("/tune/cache-size", test_cache_size);
        return g_test_run();
}
