/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Live migration: does it converge? Judged once per memory pass, on what is left to send
 * when the pass starts (the memory the guest dirtied during the previous one): converging
 * while that shrinks by a tenth or more; stalled after STALL_PASSES passes without;
 * diverging when it also grew past the best seen by half. Either of the last two takes the
 * next escalation step, in this order:
 *   1. the throttle: auto-converge (QEMU raises it every other stalled pass, from where tune.c
 *      started it) is waited for while it still rises and is below 99 %;
 *   2. a higher max downtime, doubling up to MaxDowntimeCeiling;
 *   3. post-copy where it is permitted.
 * CompletionTimeout (seconds per GiB) then takes CompletionAction. Each step, and each
 * change of the throttle, is an event of the migration; the Migration's Step says which
 * was reached. */

#include <inttypes.h>
#include <string.h>

#include "live-job.h"
#include "macro.h"

#define STALL_PASSES 2                        /* memory passes without the dirty set shrinking */
#define THROTTLE_WAIT_USEC (3 * USEC_PER_SEC) /* a throttle that rose this recently goes first */
#define THROTTLE_WAIT_PASSES 2                /* ... or this few passes ago */

static const char *convergence_of(LiveJob *j, const MigJobStats *s) {
        MigMigration *mig = live_job_mig(j);
        const char *now = mig && *mig->convergence ? mig->convergence : "converging";
        if (!s->memory_total || s->iteration < 1 || s->iteration == j->last_iteration)
                return now; /* the disks go first; within a pass nothing new is learnt */
        j->last_iteration = s->iteration;
        /* libvirt's expected downtime is what is left over the bandwidth: the better gauge when
         * it is there (the remaining bytes can read 0 right at a pass's start). */
        uint64_t dirty = s->expected_downtime_ms ? s->expected_downtime_ms : s->memory_remaining;
        if (!j->have_best || dirty < j->best_remaining - j->best_remaining / 10) {
                j->have_best = true;
                j->best_remaining = dirty;
                j->stalled_ticks = 0;
                return "converging";
        }
        if (++j->stalled_ticks < STALL_PASSES)
                return "converging";
        return dirty > j->best_remaining + j->best_remaining / 2 ? "diverging" : "stalled";
}

bool live_judge(LiveJob *j, const MigJobStats *s) {
        MigMigration *mig = live_job_mig(j);
        uint64_t pass = j->last_iteration;
        mig_set_string(&mig->convergence, convergence_of(j, s));
        return j->last_iteration != pass && strcmp(mig->convergence, "converging") != 0; /* once per pass */
}

/* --- the steps --- */

/* A step outlives nothing: it names its migration, and finds the job again when done. */
typedef struct Step {
        Manager *m;
        char *id, *uuid;
        StepKind kind;
        uint64_t value;
        char *note; /* the event recorded once the step is taken */
        int result;
        MigVirtError err;
} Step;

static void step_run(void *data) {
        Step *st = data;
        MigVirt *v = st->m->virt;
        const char *uuid = st->uuid;
        switch (st->kind) {
        case STEP_DOWNTIME:
                st->result = mig_virt_set_max_downtime(v, uuid, st->value, &st->err);
                break;
        case STEP_POSTCOPY:
        case STEP_PAUSE:
                st->result = mig_virt_force_complete(v, uuid, st->kind == STEP_POSTCOPY, &st->err);
                break;
        case STEP_ABORT:
                st->result = mig_virt_abort_job(v, uuid, &st->err);
                break;
        case STEP_CACHE:
                st->result = mig_virt_set_xbzrle_cache(v, uuid, st->value, &st->err);
                break;
        }
}

static const char *const step_words[] = {
        [STEP_DOWNTIME] = "downtime", [STEP_POSTCOPY] = "post-copy", [STEP_PAUSE] = "pause",
        [STEP_ABORT] = "abort",       [STEP_CACHE] = NULL, /* a tuning, not an escalation */
};

static void step_done(void *data) {
        Step *st = data;
        MigMigration *mig = manager_find_migration(st->m, st->id);
        LiveJob *j = live_job_find(st->m, st->id);
        if (mig && j && j->migrating) {
                if (st->result >= 0 && step_words[st->kind])
                        mig_set_string(&mig->step, step_words[st->kind]);
                g_autofree char *msg = st->result < 0
                                               ? g_strdup_printf("%s failed: %s", st->note, st->err.message)
                                               : g_strdup(st->note);
                (void) manager_transition(st->m, mig, mig->status, NULL, msg);
        }
        g_free(st->id);
        g_free(st->uuid);
        g_free(st->note);
        mig_virt_error_clear(&st->err);
        g_free(st);
}

void live_take_step(LiveJob *j, StepKind kind, uint64_t value, char *note) {
        Step *st = g_new0(Step, 1);
        *st = (Step){j->m, g_strdup(j->id), g_strdup(j->info->uuid), kind, value, note, 0, {0}};
        j->stalled_ticks = 0;
        j->best_remaining = 0;
        j->have_best = false;
        mig_worker_submit(j->m->worker, step_run, step_done, st, NULL);
}

/* Each change of auto-converge's throttle is an event, with the figures behind it. */
void live_watch_throttle(LiveJob *j, const MigJobStats *s) {
        if (s->throttle == j->throttle_shown)
                return;
        MigMigration *mig = live_job_mig(j);
        g_autofree char *msg = g_strdup_printf("auto-converge throttle %u %% (pass %" PRIu64 ": %" PRIu64
                                               " MiB left, the guest dirties %" PRIu64
                                               " MiB/s, the link moves %" PRIu64 " MiB/s)",
                                               s->throttle, s->iteration, s->memory_remaining >> 20,
                                               s->dirty_rate >> 20, s->memory_bps >> 20);
        if (s->throttle > j->throttle_shown) {
                j->throttle_rose_usec = mig_boottime_usec();
                j->throttle_rose_pass = s->iteration;
        }
        j->throttle_shown = s->throttle;
        if (s->throttle && !*mig->step)
                mig_set_string(&mig->step, "throttle");
        (void) manager_transition(j->m, mig, mig->status, NULL, msg);
}

/* The throttle goes first: while QEMU still raises it, the max downtime waits. QEMU raises
 * it when a pass ends, on the second stalled pass in a row, at most once a second, and the
 * pass's number can be read before the new throttle: it still rises when it rose in one of
 * the last THROTTLE_WAIT_PASSES passes, or less than THROTTLE_WAIT_USEC ago (XBZRLE's passes
 * are short). */
static bool throttle_still_rising(LiveJob *j) {
        const MigJobStats *s = &j->stats;
        return j->opts.auto_converge && s->throttle && s->throttle < 99 &&
               (s->iteration <= j->throttle_rose_pass + THROTTLE_WAIT_PASSES ||
                mig_boottime_usec() < j->throttle_rose_usec + THROTTLE_WAIT_USEC);
}

void live_escalate(LiveJob *j) {
        uint64_t ceiling = j->m->config->live.max_downtime_ceiling;
        if (throttle_still_rising(j))
                return;
        if (!j->downtime_now)
                j->downtime_now = j->opts.max_downtime_ms ? j->opts.max_downtime_ms : 300;
        if (j->downtime_now < ceiling) {
                j->downtime_now = MIN(j->downtime_now * 2, ceiling);
                return live_take_step(
                        j, STEP_DOWNTIME, j->downtime_now,
                        g_strdup_printf("stalled: max downtime raised to %" PRIu64 " ms", j->downtime_now));
        }
        if (j->opts.postcopy && !j->postcopy_started) {
                j->postcopy_started = true;
                return live_take_step(j, STEP_POSTCOPY, 0,
                                      g_strdup("stalled at the downtime ceiling: switched to post-copy"));
        }
        if (!j->escalation_done) {
                j->escalation_done = true;
                MigMigration *mig = live_job_mig(j);
                (void) manager_transition(j->m, mig, mig->status, NULL,
                                          "stalled at the downtime ceiling; post-copy is not permitted: "
                                          "force-complete or abort it, or let CompletionTimeout decide");
        }
}

void live_check_deadline(LiveJob *j, const MigJobStats *s) {
        const MigLiveConfig *l = &j->m->config->live;
        uint64_t gib = MAX((uint64_t) 1, (s->total + (1ULL << 30) - 1) >> 30);
        if (!l->completion_timeout || j->deadline_acted ||
            s->elapsed_ms < l->completion_timeout * gib * 1000)
                return;
        j->deadline_acted = true;
        if (strcmp(l->completion_action, "abort") == 0) {
                j->cancel = true;
                return live_take_step(j, STEP_ABORT, 0, g_strdup("CompletionTimeout passed: aborting"));
        }
        live_take_step(j, j->opts.postcopy ? STEP_POSTCOPY : STEP_PAUSE, 0,
                       g_strdup(j->opts.postcopy
                                        ? "CompletionTimeout passed: switched to post-copy"
                                        : "CompletionTimeout passed: the domain is paused to finish"));
}
