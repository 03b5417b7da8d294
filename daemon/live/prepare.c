/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Live migration, phase 2: preparing. With a slot free, "preparing" is committed; the
 * scheduler picks a destination when the caller named none; the destination claims memory
 * and vCPUs and, for a block migration, precreates the disk images QEMU writes into
 * (core/incoming.c). A refusal rolls back (abort.c): nothing of the domain was touched. */

#include "errors.h"
#include "live-job.h"
#include "macro.h"
#include "scheduler.h"

/* --- source --- */

static void on_prepared(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        LiveJob *j = userdata;
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
                      g_variant_new("(sssstub@a(sstt))", mig->id, mig->domain_name, mig->domain_uuid,
                                    manager_node(j->m), (guint64) j->info->memory, (guint32) j->info->vcpus,
                                    (gboolean) j->opts.block, mig_disks_to_specs(j->disks)));
}

static void on_scheduled(Manager *m, const char *node, const sd_bus_error *error, void *userdata) {
        LiveJob *j = userdata;
        MigMigration *mig = live_job_mig(j);
        if (!node)
                return live_fail(j, error->name, error->message);
        if (manager_set_destination(m, mig, node) < 0)
                return live_fail(j, MIG_ERROR_STORE, "cannot record the chosen destination");
        send_prepare(j);
}

void live_prepare_start(LiveJob *j) {
        MigMigration *mig = live_job_mig(j);
        if (manager_transition(j->m, mig, "preparing", "", "a slot is free: preparing the destination") < 0)
                return live_fail(j, MIG_ERROR_STORE, "cannot record the preparation");
        if (*mig->destination)
                return send_prepare(j);
        MigNeeds needs = {j->info->memory, j->info->vcpus,
                          j->opts.block ? mig_disks_data_bytes(j->disks) : 0};
        mig_scheduler_pick(j->m, &needs, on_scheduled, j);
}

/* --- destination: the claim --- */

int live_prepare_incoming(Manager *m, const MigIncoming *in, MigAnswer answer, sd_bus_error *error) {
        MigIncoming live = *in;
        live.kind = "live";
        return incoming_prepare(m, &live, answer, error);
}
