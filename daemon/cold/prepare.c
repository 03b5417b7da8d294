/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Cold migration, phase 1: prep_resize. The source reads the domain and its disks on the
 * worker, refuses what cannot be moved cold, and records the migration (pre-migrating,
 * resize_prep) before it answers the caller; the scheduler picks a destination when the
 * caller named none; then the destination claims memory, vCPUs and disk and precreates
 * the volumes (core/incoming.c) and answers where each disk goes. Nothing of the domain
 * is touched yet: a failure or a restart here rolls back to "the domain was not touched". */

#include <errno.h>
#include <string.h>

#include "cold-job.h"
#include "errors.h"
#include "macro.h"
#include "rewrite.h"
#include "scheduler.h"
#include "shared-disk.h"

/* --- source: the destination's claim, on each destination the plan allows --- */

/* Which disks the destination sees as shared, recorded with the record's disks before
 * anything is copied (a confirm never deletes those), with an event that names them. */
static int record_shared(ColdJob *j, const char *what) {
        MigMigration *mig = cold_job_mig(j);
        g_free(mig->disks_json);
        mig->disks_json = mig_disks_to_json(j->disks);
        mig->bytes_total = mig->bytes_remaining = mig_disks_data_bytes(j->disks);
        g_autofree char *msg = g_strdup_printf("disks with %s: %s", mig->destination, what);
        return manager_transition(j->m, mig, mig->status, NULL, msg);
}

static void on_prepared(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        ColdJob *j = userdata;
        if (mig_attempts_give_way(&j->tries, error))
                return;
        if (error) /* the domain was not touched; the destination removes what it made */
                return cold_rollback_from(j, error);
        g_autofree char *what = NULL;
        char **paths = mig_shared_take_reply(j->disks, reply, &what);
        if (!paths)
                return cold_rollback(j, MIG_ERROR_INTERNAL,
                                     "the destination did not say where the disks go");
        g_strfreev(j->dest_paths);
        j->dest_paths = paths;
        if (record_shared(j, what) < 0)
                return cold_rollback(j, MIG_ERROR_STORE, "cannot record which disks are shared");
        cold_copy_start(j);
}

static void send_prepare(void *job) {
        ColdJob *j = job;
        MigMigration *mig = cold_job_mig(j);
        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
        MigPeer *peer = cold_job_peer(j, &e);
        if (!peer)
                return cold_rollback_from(j, &e);
        mig_peer_call(peer, "PrepareColdMigration", PEER_STEP_TIMEOUT_USEC, on_prepared, j,
                      g_variant_new("(sssstu@a(sstt)@a{sv})", mig->id, mig->domain_name, mig->domain_uuid,
                                    manager_node(j->m), (guint64) j->info->memory, (guint32) j->info->vcpus,
                                    mig_disks_to_specs(j->disks),
                                    mig_plan_placement_args(j->tries.plan, j->info, j->disks)));
}

static MigMigration *job_mig(void *job) {
        return cold_job_mig(job);
}

static bool job_cancelled(void *job) {
        return ((ColdJob *) job)->cancel;
}

static void job_fail(void *job, const sd_bus_error *error) {
        if (error)
                cold_rollback_from(job, error);
        else
                cold_rollback(job, NULL, NULL);
}

static const MigAttemptOps cold_attempts = {
        .abort_method = "AbortColdMigration",
        .abort_status = "error",
        .mig = job_mig,
        .cancelled = job_cancelled,
        .send_prepare = send_prepare,
        .fail = job_fail,
};

static void mark_run(void *data) {
        ColdJob *j = data;
        mig_shared_mark(j->disks, j->id);
}

static void marked(void *data) {
        ColdJob *j = data;
        MigMigration *mig = cold_job_mig(j);
        MigPlaceRequest req = mig_place_request(
                j->info, mig_disks_local_bytes(j->disks, j->m->config->image_directory), mig->destination);
        mig_attempts_clear(&j->tries);
        mig_attempts_init(&j->tries, j->m, &cold_attempts, j);
        mig_attempts_start(&j->tries, &req);
}

/* The markers by which a destination finds shared folders first (the record that names the
 * migration, and so the markers, exists already). */
void cold_choose_destination(ColdJob *j) {
        mig_worker_submit(j->m->worker, mark_run, marked, j, NULL);
}

/* --- source: the request --- */

static int check_disks(ColdJob *j) {
        for (guint i = 0; i < j->disks->len; i++) {
                int r = mig_disk_check_movable(j->disks->pdata[i], "cold", &j->err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* A resize: the definition and the sizes the scheduler and the claim count become the new
 * ones (the source's own definition keeps the old: a revert starts it as it was). */
static int apply_resize(ColdJob *j) {
        g_autofree char *resized = NULL;
        g_autoptr(GError) e = NULL;
        j->old_memory = j->info->memory;
        j->old_vcpus = j->info->vcpus;
        if (mig_resize_domain_xml(j->definition, j->resize.memory / 1024, j->resize.vcpus, &resized, &e) <
            0) {
                mig_virt_error_clear(&j->err);
                j->err.name = MIG_ERROR_INVALID_ARGUMENT;
                j->err.message = g_strdup_printf("Cannot resize %s: %s.", j->info->name, e->message);
                return -EINVAL;
        }
        g_free(j->definition);
        j->definition = g_steal_pointer(&resized);
        if (j->resize.memory)
                j->info->memory = j->resize.memory;
        if (j->resize.vcpus)
                j->info->vcpus = j->resize.vcpus;
        return 0;
}

static void inspect_run(void *data) {
        ColdJob *j = data;
        j->result = mig_virt_lookup(j->m->virt, j->domain, &j->info, &j->err);
        if (j->result == 0)
                j->result = mig_virt_get_definition(j->m->virt, j->info->uuid, &j->definition, &j->err);
        if (j->result == 0 && (j->resize.memory || j->resize.vcpus))
                j->result = apply_resize(j);
        if (j->result == 0) {
                j->disks = g_ptr_array_ref(j->info->disks);
                j->result = check_disks(j);
        }
        /* qcow2 overlays move with their backing files (each once; never flattened) */
        if (j->result == 0)
                j->result = mig_disks_add_chains(j->disks, &j->err);
}

static MigMigration *new_source_record(ColdJob *j, const char *destination) {
        MigMigration *mig = cold_source_record(j, "cold", destination);
        g_free(mig->disks_json);
        mig->disks_json = mig_disks_to_json(j->disks);
        mig->bytes_total = mig->bytes_remaining = mig_disks_data_bytes(j->disks);
        if (j->resize.memory || j->resize.vcpus) {
                mig->old_memory = j->old_memory;
                mig->old_vcpus = j->old_vcpus;
                mig->new_memory = j->info->memory;
                mig->new_vcpus = j->info->vcpus;
        }
        return mig;
}

static int refuse_state(ColdJob *j, sd_bus_error *e) {
        int r = cold_refuse_state(j->info, "a cold migration", "migrated cold", e);
        return r < 0 ? r : manager_refuse_busy(j->m, j->info, e);
}

static void inspect_done(void *data) {
        ColdJob *j = data;
        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
        if (j->result < 0)
                mig_virt_error_to_bus(&j->err, &e);
        else if (refuse_state(j, &e) >= 0) {
                MigMigration *mig = new_source_record(j, j->destination);
                j->id = g_strdup(mig->id);
                g_autofree char *what =
                        mig->new_memory ? g_strdup_printf("resize requested: %u vCPU(s), %" G_GUINT64_FORMAT
                                                          " MiB -> %u vCPU(s), %" G_GUINT64_FORMAT " MiB",
                                                          mig->old_vcpus, mig->old_memory >> 20,
                                                          mig->new_vcpus, mig->new_memory >> 20)
                                        : g_strdup("requested");
                if (manager_add_migration(j->m, mig, what, &e) >= 0) {
                        cold_job_keep(j);
                        mig_answer(&j->started, &(MigResult){.migration_id = j->id}, NULL);
                        return cold_choose_destination(j);
                }
        }
        mig_answer(&j->started, NULL, &e);
        cold_job_free(j);
}

int cold_migrate(Manager *m, const char *domain, const char *destination, const MigResize *resize,
                 MigAnswer answer, sd_bus_error *error) {
        if (resize && destination && strcmp(destination, manager_node(m)) == 0)
                return cold_resize_here(m, domain, resize, answer, error);
        ColdJob *j = cold_job_new(m, NULL);
        if (resize)
                j->resize = *resize;
        j->started = answer;
        j->domain = g_strdup(domain);
        j->destination = g_strdup(destination);
        mig_worker_submit(m->worker, inspect_run, inspect_done, j, NULL);
        return 1;
}

/* --- destination: the claim --- */

int cold_prepare_incoming(Manager *m, const MigIncoming *in, MigAnswer answer, sd_bus_error *error) {
        MigIncoming cold = *in;
        cold.kind = "cold";
        return incoming_prepare(m, &cold, answer, error);
}
