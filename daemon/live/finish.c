/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Live migration, phase 4: finish. When libvirt's migration returned, the destination is
 * asked to confirm that it runs the domain (Peer.FinishLiveMigration: it resumes a copy
 * libvirt left paused after the switch-over, reads libvirt's downtime, and records the
 * domain as its own). Only then is "completed" committed here, and a block migration's
 * source disks deleted (job.c). A Finish that gets no answer leaves the record "running":
 * both nodes' views decide (recover.c, which takes Finish's answer: live_on_finished). */

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "live-job.h"
#include "macro.h"

/* --- source --- */

void live_send_finish(LiveJob *j) {
        MigMigration *mig = live_job_mig(j);
        MigPeer *peer = mig_peers_find(j->m->peers, mig->destination);
        mig_peer_call(peer, "FinishLiveMigration", PEER_STEP_TIMEOUT_USEC, live_on_finished, j,
                      g_variant_new("(s)", mig->id));
}

/* --- destination: the domain runs here --- */

/* A copy libvirt left paused after the switch-over is the live one when the source
 * asks to finish: libvirt expects a third party to resume it; we are that party. */
static void resume_if_left_paused(IncomingStep *s) {
        MigDomainInfo *info = NULL;
        MigVirtError err = {0};
        if (mig_virt_lookup(s->m->virt, s->uuid, &info, &err) == 0 &&
            strcmp(mig_domain_view(info), MIG_VIEW_PAUSED_MIGRATION) == 0 &&
            mig_virt_resume(s->m->virt, s->uuid, &err) == 0)
                g_message("Migration %s: resumed the domain libvirt left paused here.", s->id);
        mig_domain_info_free(info);
        mig_virt_error_clear(&err);
}

static void finish_run(void *data) {
        IncomingStep *s = data;
        resume_if_left_paused(s);
        s->result =
                mig_virt_job_completed(s->m->virt, s->uuid, &s->downtime_msec, &s->duration_msec, &s->err);
}

static void finish_done(void *data) {
        IncomingStep *s = data;
        MigMigration *mig = manager_find_migration(s->m, s->id);
        if (s->result < 0)
                return incoming_step_fail(s);
        if (mig && !mig_status_is_final(mig->status)) {
                mig->downtime_msec = s->downtime_msec;
                g_autofree char *msg =
                        g_strdup_printf("the domain runs here (downtime %" PRIu64 " ms)", s->downtime_msec);
                int r = manager_transition(s->m, mig, "completed", NULL, msg);
                if (r < 0) { /* the domain runs here; the source's views decide when it asks again */
                        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
                        manager_commit_error(s->m, &e, r, "the completed migration");
                        return mig_answer(&s->answer, NULL, &e);
                }
        }
        mig_answer(&s->answer,
                   &(MigResult){.downtime_msec = s->downtime_msec, .duration_msec = s->duration_msec}, NULL);
}

int live_finish_incoming(Manager *m, const char *id, MigAnswer answer, sd_bus_error *error) {
        MigMigration *mig = incoming_find(m, id, error);
        if (!mig)
                return mig_answer_clear(&answer), -ENOENT;
        IncomingStep *s = incoming_step_new(m, id, answer);
        s->uuid = g_strdup(mig->domain_uuid);
        mig_worker_submit(m->worker, finish_run, finish_done, s, incoming_step_free);
        return 1;
}
