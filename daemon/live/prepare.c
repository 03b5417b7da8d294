/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Live migration, phase 2: preparing. With a slot free, "preparing" is committed; the
 * scheduler picks a destination when the caller named none; the destination claims memory
 * and vCPUs and, for a block migration, precreates the disk images QEMU writes into
 * (core/incoming.c). A refusal rolls back (abort.c): nothing of the domain was touched. */

#include "errors.h"
#include "live-job.h"
#include "macro.h"
#include "scheduler.h"

/* --- source: the destination's claim, on each destination the plan allows --- */

static void try_destination(LiveJob *j, const char *why);

static void on_prepared(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        LiveJob *j = userdata;
        MigMigration *mig = live_job_mig(j);
        g_autofree char *why = NULL;
        if (!j->cancel &&
            mig_plan_give_way(j->m, j->plan, &j->attempt, mig, error, "AbortLiveMigration", "failed", &why))
                return try_destination(j, why); /* nothing moved yet */
        if (error)
                return live_fail(j, error->name, error->message);
        live_run_start(j);
}

static void send_prepare(LiveJob *j) {
        MigMigration *mig = live_job_mig(j);
        MigPeer *peer = mig_peers_find(j->m->peers, mig->destination);
        if (!peer)
                return live_fail(j, MIG_ERROR_INVALID_ARGUMENT, "the destination is not a configured peer");
        mig_peer_call(peer, "PrepareLiveMigration", PEER_STEP_TIMEOUT_USEC, on_prepared, j,
                      g_variant_new("(sssstub@a(sstt)@a{sv})", mig->id, mig->domain_name, mig->domain_uuid,
                                    manager_node(j->m), (guint64) j->info->memory, (guint32) j->info->vcpus,
                                    (gboolean) j->opts.block, mig_disks_to_specs(j->disks),
                                    mig_plan_placement_args(j->plan, j->info)));
}

static void try_destination(LiveJob *j, const char *why) {
        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
        if (j->cancel)
                return live_fail(j, NULL, NULL);
        if (mig_plan_choose(j->m, live_job_mig(j), j->plan, j->attempt, why, &e) < 0)
                return live_fail(j, e.name, e.message);
        send_prepare(j);
}

static void on_planned(Manager *m, MigPlan *plan, void *userdata) {
        LiveJob *j = userdata;
        mig_plan_free(j->plan);
        j->plan = plan;
        j->attempt = 0;
        try_destination(j, NULL);
}

void live_prepare_start(LiveJob *j) {
        MigMigration *mig = live_job_mig(j);
        if (manager_transition(j->m, mig, "preparing", "", "a slot is free: preparing the destination") < 0)
                return live_fail(j, MIG_ERROR_STORE, "cannot record the preparation");
        MigPlaceRequest req = mig_place_request(j->info, j->opts.block ? mig_disks_data_bytes(j->disks) : 0,
                                                mig->destination);
        req.cpu = j->info->cpu; /* an operator-chosen model the destination must give */
        mig_plan_make(j->m, &req, on_planned, j);
}

/* --- destination: the claim --- */

int live_prepare_incoming(Manager *m, const MigIncoming *in, MigAnswer answer, sd_bus_error *error) {
        MigIncoming live = *in;
        live.kind = "live";
        return incoming_prepare(m, &live, answer, error);
}
