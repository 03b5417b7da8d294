/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Live migration: the tuning chosen before the start, from figures. QEMU takes
 * auto-converge's first throttle and its steps, and whether XBZRLE compresses, only when the
 * migration starts (libvirt offers no call to change them while it runs), so they come from
 * what is known then: the rate the guest dirties its memory, sampled for one second from the
 * request on, and the rate of the slowest first memory pass of the last five live
 * migrations to the same destination (kept in sqlite: a link is as fast as its busy hours,
 * and helping a guest that did not need it costs less than a migration that never ends;
 * the Bandwidth cap when lower; 1 Gbit/s assumed before the first one).
 *
 * The aim is a guest that dirties at most half of what the link moves, so that every pass
 * at least halves what is left. A guest that dirties more than that gets:
 *   - when it dirties more than one and a half times what the link moves, XBZRLE
 *     (Compressed=auto; not with parallel connections: QEMU 7.2's
 *     multifd does not use it), which sends a page the guest rewrote as its difference from
 *     the copy sent before. The throttle alone does not finish a guest that catches up on
 *     its work whenever its vCPU runs: on the bench, a guest dirtying 256 MiB as fast as it
 *     can still dirtied all of it in every pass at QEMU's 99 %. Its cache holds the pages the
 *     guest dirties during one full pass (a power of two, at most the guest's memory and
 *     2 GiB), and grows after the first pass to what the guest really dirtied (run.c).
 *     With XBZRLE the passes are short, so QEMU's own throttle steps (20 %, then 10 % more
 *     at most once a second) come quickly; a high first throttle measured no faster there
 *     and sometimes much slower (the hot capped cell of tests/bench/live-grid.sh, XBZRLE
 *     on: from 88 %: 15, 21, 44 and 57 s; from 20 %: 18, 19, 21 and 22 s). Closer to the
 *     link's rate it does not pay: its encoding costs more than the bytes it saves (the hot
 *     guest, 254 MiB/s, over the bench's unlimited link, 230-490 MiB/s: 9 to 74 s with
 *     XBZRLE, 4.5 s without; 100 MiB/s over 55 MiB/s, 1.8 times: 13.5 s with it, never
 *     without).
 *     Not for a TCG guest on a QEMU before 9.0 (Debian 12 has 7.2): its fast path of the
 *     dirty-bitmap sync clears the migration's dirty bits without making TCG's TLB trap the
 *     next write again, so writes through the TLB until the guest flushes it are lost (QEMU
 *     commit "system/physmem: Fix migration dirty bitmap coherency with TCG memory access",
 *     9.0). Every sync is such a window, and XBZRLE's passes are short: on the bench, 30
 *     and more syncs where the throttle alone takes 7, and about one XBZRLE migration of
 *     the hot TCG guest in ten came out corrupt (its init killed by SIGSEGV, the kernel's
 *     panic on the serial console). KVM tracks dirty pages in the kernel and is not
 *     affected. Compressed=true still means XBZRLE, for every guest.
 *   - Without XBZRLE, the throttle where it needs to be: 1 - (link / 2) / dirty rate when
 *     that is above QEMU's first 20 %, in steps that reach QEMU's 99 % within two more
 *     passes. */

#include <inttypes.h>

#include "live-job.h"
#include "macro.h"

#define ASSUMED_LINK (125ULL * 1000 * 1000) /* bytes/s: 1 Gbit/s, before a link was measured */
#define XBZRLE_CACHE_MAX (2ULL << 30)
#define XBZRLE_CACHE_MIN (64ULL << 20) /* QEMU's default */
#define THROTTLE_MIN 20                /* QEMU's default first step */
#define THROTTLE_MAX 99                /* QEMU's ceiling */

static uint64_t pow2_ceil(uint64_t v) {
        uint64_t p = 1;
        while (p < v && p < (1ULL << 62))
                p <<= 1;
        return p;
}

static uint64_t pow2_floor(uint64_t v) {
        uint64_t p = 1;
        while (p <= v / 2)
                p <<= 1;
        return p;
}

uint64_t live_tune_cache_for(uint64_t dirty_set, uint64_t memory) {
        uint64_t top = MIN(pow2_floor(MAX(memory, XBZRLE_CACHE_MIN)), XBZRLE_CACHE_MAX);
        return MIN(MAX(pow2_ceil(dirty_set), XBZRLE_CACHE_MIN), top);
}

static uint64_t assumed_link(const LiveTuneFigures *f) {
        uint64_t link = f->link_rate ? f->link_rate : ASSUMED_LINK;
        return f->bandwidth && f->bandwidth < link ? f->bandwidth : link;
}

#define QEMU_TCG_SYNC_FIXED 9000000UL /* 9.0.0, as virConnectGetVersion counts */

bool live_tune_lossy_tcg(const LiveTuneFigures *f) {
        return f->emulated && f->hv_version < QEMU_TCG_SYNC_FIXED;
}

/* Compressed=auto would take XBZRLE: one stream, past one and a half times the link. */
static bool auto_wants_xbzrle(const LiveTuneFigures *f, uint64_t link) {
        return f->compress == MIG_COMPRESS_AUTO && f->parallel <= 1 && f->dirty_rate > link + link / 2;
}

void live_tune_plan(const LiveTuneFigures *f, LiveTune *t) {
        *t = (LiveTune){.link = assumed_link(f)};
        bool out_dirtied = f->dirty_rate > t->link / 2;
        bool xbzrle = (f->compress == MIG_COMPRESS_ALWAYS && f->parallel <= 1) ||
                      (auto_wants_xbzrle(f, t->link) && !live_tune_lossy_tcg(f));
        if (xbzrle) {
                /* the pages dirtied during one pass over the memory at the link's rate */
                double pass_sec = (double) f->memory / (double) t->link;
                t->xbzrle_cache =
                        live_tune_cache_for((uint64_t) ((double) f->dirty_rate * pass_sec), f->memory);
        }
        unsigned need = out_dirtied ? (unsigned) (100 - (100 * (t->link / 2)) / f->dirty_rate) : 0;
        if (need > THROTTLE_MIN && f->auto_converge && !xbzrle) { /* else QEMU's own steps */
                t->throttle_initial = MIN(need, THROTTLE_MAX);
                t->throttle_increment = MAX(10u, (THROTTLE_MAX - t->throttle_initial + 1) / 2);
        }
}

static char *describe_link(const LiveTuneFigures *f, const LiveTune *t, const char *peer) {
        if (f->bandwidth && t->link == f->bandwidth)
                return g_strdup_printf("Bandwidth caps the link to %s at %" PRIu64 " MiB/s", peer,
                                       t->link >> 20);
        if (f->link_rate)
                return g_strdup_printf("the link to %s moved %" PRIu64 " MiB/s (the slowest of its last %d)",
                                       peer, t->link >> 20, MIG_STORE_LINKS_KEPT);
        return g_strdup_printf("no link to %s measured yet, 1 Gbit/s assumed", peer);
}

/* XBZRLE and a computed throttle never come together (live_tune_plan). */
static char *describe_choice(const LiveTuneFigures *f, const LiveTune *t) {
        if (t->xbzrle_cache)
                return g_strdup_printf(f->auto_converge ? "XBZRLE with a %" PRIu64
                                                          " MiB cache, auto-converge in QEMU's steps"
                                                        : "XBZRLE with a %" PRIu64 " MiB cache",
                                       t->xbzrle_cache >> 20);
        const char *why = auto_wants_xbzrle(f, t->link) && live_tune_lossy_tcg(f)
                                  ? "no XBZRLE (this TCG guest's QEMU, before 9.0, loses writes at each "
                                    "memory sync, and XBZRLE multiplies them), "
                                  : "";
        if (t->throttle_initial)
                return g_strdup_printf("%sauto-converge starts at %u %% in steps of %u %%", why,
                                       t->throttle_initial, t->throttle_increment);
        return g_strdup_printf("%sQEMU's own steps", why);
}

char *live_tune_describe(const LiveTuneFigures *f, const LiveTune *t, const char *peer) {
        g_autofree char *link = describe_link(f, t, peer);
        g_autofree char *choice = describe_choice(f, t);
        if (!f->dirty_rate)
                return g_strdup_printf("the guest's dirty rate could not be sampled; %s: %s", link, choice);
        const char *enough = f->dirty_rate > t->link / 2 ? "" : "half the link is enough, ";
        return g_strdup_printf("the guest dirties %" PRIu64 " MiB/s, %s: %s%s", f->dirty_rate >> 20, link,
                               enough, choice);
}
