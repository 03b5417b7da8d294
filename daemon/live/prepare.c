/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Live migration, phase 2: preparing. With a slot free, "preparing" is committed; the
 * scheduler picks a destination when the caller named none; the destination claims memory
 * and vCPUs and, for a block migration, precreates the disk images QEMU writes into
 * (core/incoming.c). A refusal rolls back (abort.c): nothing of the domain was touched. */

#include "errors.h"
#include "live-job.h"
#include "macro.h"
#include "shared-disk.h"

/* --- source: the destination's claim, on each destination the plan allows --- */

/* Which disks the destination sees as shared, recorded before libvirt is asked: a block
 * migration copies (and afterwards deletes here) only the others. */
static int record_shared(LiveJob *j, const char *what) {
        MigMigration *mig = live_job_mig(j);
        if (j->opts.block) {
                g_free(mig->disks_json);
                mig->disks_json = mig_disks_to_json(j->disks);
                mig->bytes_total = j->info->memory + mig_disks_data_bytes(j->disks);
        }
        g_autofree char *msg = g_strdup_printf("disks with %s: %s", mig->destination, what);
        return manager_transition(j->m, mig, mig->status, NULL, msg);
}

/* A block migration that leaves shared disks in place names the others to libvirt by their
 * target: one without a known target could not be named, and would neither be copied nor
 * be safe to delete here afterwards. The disk's path, or NULL. */
static const char *unnamed_local_disk(LiveJob *j) {
        if (!j->opts.block || !mig_disks_any_shared(j->disks))
                return NULL;
        for (guint i = 0; i < j->disks->len; i++) {
                const MigDisk *d = j->disks->pdata[i];
                if (!d->shared && !d->target)
                        return d->path;
        }
        return NULL;
}

static void on_prepared(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        LiveJob *j = userdata;
        if (mig_attempts_give_way(&j->tries, error))
                return; /* nothing moved yet */
        if (error)
                return live_fail(j, error->name, error->message);
        g_autofree char *what = NULL;
        g_auto(GStrv) paths = mig_shared_take_reply(j->disks, reply, &what);
        if (!paths)
                return live_fail(j, MIG_ERROR_INTERNAL,
                                 "the destination did not say which disks are shared");
        const char *unnamed = unnamed_local_disk(j);
        if (unnamed) {
                g_autofree char *msg = g_strdup_printf(
                        "disk %s has no target device in the domain's XML to name it to libvirt", unnamed);
                return live_fail(j, MIG_ERROR_NOT_SUPPORTED, msg);
        }
        if (record_shared(j, what) < 0)
                return live_fail(j, MIG_ERROR_STORE, "cannot record which disks are shared");
        live_run_start(j);
}

static void send_prepare(void *job) {
        LiveJob *j = job;
        MigMigration *mig = live_job_mig(j);
        MigPeer *peer = mig_peers_find(j->m->peers, mig->destination);
        if (!peer)
                return live_fail(j, MIG_ERROR_INVALID_ARGUMENT, "the destination is not a configured peer");
        mig_peer_call(peer, "PrepareLiveMigration", PEER_STEP_TIMEOUT_USEC, on_prepared, j,
                      g_variant_new("(sssstub@a(sstt)@a{sv})", mig->id, mig->domain_name, mig->domain_uuid,
                                    manager_node(j->m), (guint64) j->info->memory, (guint32) j->info->vcpus,
                                    (gboolean) j->opts.block, mig_disks_to_specs(j->disks),
                                    mig_plan_placement_args(j->tries.plan, j->info, j->disks)));
}

static MigMigration *job_mig(void *job) {
        return live_job_mig(job);
}

static bool job_cancelled(void *job) {
        return ((LiveJob *) job)->cancel;
}

static void job_fail(void *job, const sd_bus_error *error) {
        live_fail(job, error ? error->name : NULL, error ? error->message : NULL);
}

static const MigAttemptOps live_attempts = {
        .abort_method = "AbortLiveMigration",
        .abort_status = "failed",
        .mig = job_mig,
        .cancelled = job_cancelled,
        .send_prepare = send_prepare,
        .fail = job_fail,
};

/* A migration that waited in the queue samples the guest's dirty rate again. */
static void mark_run(void *data) {
        LiveJob *j = data;
        mig_shared_mark(j->disks, j->id);
        if (mig_boottime_usec() > j->sampled_usec + 5 * USEC_PER_SEC)
                live_sample_dirty_rate(j);
}

static void marked(void *data) {
        LiveJob *j = data;
        MigMigration *mig = live_job_mig(j);
        if (!mig)
                return;
        MigPlaceRequest req = mig_place_request(
                j->info, j->opts.block ? mig_disks_local_bytes(j->disks, j->m->config->image_directory) : 0,
                mig->destination);
        req.cpu = j->info->cpu; /* an operator-chosen model the destination must give */
        mig_attempts_clear(&j->tries);
        mig_attempts_init(&j->tries, j->m, &live_attempts, j);
        mig_attempts_start(&j->tries, &req);
}

/* The markers by which a destination finds shared folders are left first. */
void live_prepare_start(LiveJob *j) {
        MigMigration *mig = live_job_mig(j);
        if (manager_transition(j->m, mig, "preparing", "", "a slot is free: preparing the destination") < 0)
                return live_fail(j, MIG_ERROR_STORE, "cannot record the preparation");
        mig_worker_submit(j->m->worker, mark_run, marked, j, NULL);
}

/* --- destination: the claim --- */

int live_prepare_incoming(Manager *m, const MigIncoming *in, MigAnswer answer, sd_bus_error *error) {
        MigIncoming live = *in;
        live.kind = "live";
        return incoming_prepare(m, &live, answer, error);
}
