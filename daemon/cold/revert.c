/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Cold migration, phase 6: revert_resize + finish_revert_resize. "reverting"
 * (resize_reverting) is committed; the destination destroys, undefines and deletes its copy
 * (Peer.RevertColdMigration) and only then is the source's domain started again (if it ran
 * before): a domain never runs on two nodes. A destination that could not remove its copy
 * leaves the source off and the migration back in "finished", with the reason. A restart
 * in "reverting" reverts again (the destination's step is idempotent). */

#include <errno.h>
#include <string.h>

#include "cold-job.h"
#include "errors.h"
#include "macro.h"

/* --- source --- */

static void revert_start_run(void *data) {
        ColdJob *j = data;
        j->result = j->restart_source ? mig_virt_start(j->m->virt, j->info->uuid, &j->err) : 0;
}

static void revert_done(void *data) {
        ColdJob *j = data;
        MigMigration *mig = cold_job_mig(j);
        if (j->result < 0) {
                g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
                manager_record_failure(mig, j->err.name, j->err.message);
                (void) manager_transition(j->m, mig, "error", "",
                                          "reverted, but the domain cannot start on the source");
                mig_virt_error_to_bus(&j->err, &e);
                return cold_job_end(j, &e);
        }
        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
        if (manager_transition(j->m, mig, "reverted", "", "the domain is back on the source as it was") < 0)
                sd_bus_error_set(&e, MIG_ERROR_STORE,
                                 "The domain is back on the source, but the revert could not be recorded.");
        cold_job_end(j, &e);
}

static void on_dest_reverted(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        ColdJob *j = userdata;
        MigMigration *mig = cold_job_mig(j);
        if (error) {
                /* The destination's copy may still run: the source must stay off. */
                g_autofree char *msg = g_strdup_printf("revert failed, nothing changed: %s", error->message);
                (void) manager_transition(j->m, mig, "finished", "", msg);
                return cold_job_end(j, error);
        }
        j->restart_source = mig->was_running;
        mig_worker_submit(j->m->worker, revert_start_run, revert_done, j, NULL);
}

void cold_revert_begin(Manager *m, MigMigration *mig, MigAnswer answer, const char *why) {
        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
        if (manager_transition(m, mig, "reverting", "resize_reverting", why) < 0) {
                sd_bus_error_set(&e, MIG_ERROR_STORE, "Cannot record the revert; nothing was changed.");
                return mig_answer(&answer, NULL, &e);
        }
        ColdJob *j = cold_job_for_record(m, mig, answer);
        MigPeer *peer = cold_job_peer(j, &e);
        if (!peer)
                return on_dest_reverted(NULL, NULL, &e, j);
        mig_peer_call(peer, "RevertColdMigration", PEER_STEP_TIMEOUT_USEC, on_dest_reverted, j,
                      g_variant_new("(s)", mig->id));
}

int cold_revert(Manager *m, MigMigration *mig, MigAnswer answer, sd_bus_error *error) {
        cold_revert_begin(m, mig, answer, "reverted by an operator");
        return 1;
}

/* --- destination: its copy goes (abort.c removes it) --- */

int cold_revert_incoming(Manager *m, const char *id, MigAnswer answer, sd_bus_error *error) {
        return cold_remove_incoming(m, id, "reverted", answer, error);
}
