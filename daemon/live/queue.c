/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Live migration, phase 1: queued. The source reads the domain and measures its disks on
 * the worker, refuses what cannot be migrated live, and records the migration as "queued"
 * before it answers the caller. At most MaxConcurrentMigrations live migrations prepare or
 * run at once; the oldest queued one starts whenever a slot frees (the queue hears of every
 * record that ends through the manager's change notification). A restart rolls a queued
 * migration back (recover.c): it never reached libvirt. */

#include <errno.h>
#include <string.h>

#include "errors.h"
#include "live-job.h"
#include "macro.h"

static unsigned running_count(Manager *m) {
        static const char *const in_slot[] = {"preparing", "running", NULL};
        return manager_count(m, "live", "source", in_slot);
}

/* Starts the oldest queued migrations while slots are free. */
static void start_queued(Manager *m) {
        while (m->live_jobs && running_count(m) < m->config->max_concurrent_migrations) {
                LiveJob *oldest = NULL;
                GHashTableIter it;
                LiveJob *j;
                g_hash_table_iter_init(&it, m->live_jobs);
                while (g_hash_table_iter_next(&it, NULL, (gpointer *) &j)) {
                        MigMigration *mig = live_job_mig(j);
                        if (mig && strcmp(mig->status, "queued") == 0 &&
                            (!oldest || mig->created_usec < live_job_mig(oldest)->created_usec))
                                oldest = j;
                }
                if (!oldest)
                        return;
                live_prepare_start(oldest);
        }
}

/* A live source migration that ended frees its slot. */
static void on_change(Manager *m, const MigMigration *mig, MigChange change, void *userdata) {
        if (change == MIG_CHANGE_CHANGED && strcmp(mig->kind, "live") == 0 &&
            strcmp(mig->role, "source") == 0 && mig_status_is_final(mig->status))
                start_queued(m);
}

void live_init(Manager *m) {
        manager_watch(m, on_change, NULL);
        live_lease_register(m);
}

/* --- the request --- */

/* A block migration mirrors what the guest sees into one image: an overlay's chain would be
 * flattened. Refused (a cold migration moves the chain as it is). */
static int refuse_chains(LiveJob *j) {
        for (guint i = 0; i < j->disks->len; i++) {
                MigDisk *d = j->disks->pdata[i];
                g_autoptr(GPtrArray) chain = g_ptr_array_new();
                g_ptr_array_add(chain, d);
                int r = mig_disks_add_chains(chain, &j->err);
                g_autofree char *base =
                        chain->len > 1 ? g_strdup(((MigDisk *) chain->pdata[1])->path) : NULL;
                for (guint k = 1; k < chain->len; k++)
                        mig_disk_free(chain->pdata[k]);
                if (r < 0)
                        return r;
                if (!base)
                        continue;
                mig_virt_error_clear(&j->err);
                j->err.name = MIG_ERROR_NOT_SUPPORTED;
                j->err.message = g_strdup_printf(
                        "Disk %s of %s has a backing file (%s): a live block migration would flatten the "
                        "chain into one image. Migrate it cold (the chain moves as it is), or keep the "
                        "disks "
                        "on storage both nodes share and migrate without --block-migration.",
                        d->path, j->info->name, base);
                return -EINVAL;
        }
        return 0;
}

static int measure_disks(LiveJob *j) {
        j->disks = g_ptr_array_ref(j->info->disks);
        for (guint i = 0; i < j->disks->len; i++) {
                MigDisk *d = j->disks->pdata[i];
                int r = mig_disk_check_movable(d, "", &j->err);
                if (r >= 0)
                        r = mig_virt_disk_capacity(j->m->virt, j->info->uuid, d->path, &d->size, &j->err);
                if (r < 0)
                        return r;
        }
        return j->opts.block ? refuse_chains(j) : 0;
}

static void inspect_run(void *data) {
        LiveJob *j = data;
        j->result = mig_virt_lookup(j->m->virt, j->domain, &j->info, &j->err);
        if (j->result == 0)
                j->result = measure_disks(j);
        if (j->result == 0 && strcmp(mig_domain_state_name(j->info), "ACTIVE") == 0)
                live_sample_dirty_rate(j); /* run.c reads it: started early, it is ready sooner */
}

static MigMigration *new_record(LiveJob *j) {
        MigMigration *mig = mig_migration_new_source("live", j->info->name, j->info->uuid,
                                                     manager_node(j->m), j->destination, "queued");
        mig->was_running = true;
        /* Only a block migration's disks are recorded: they are deleted here once it completed
         * (shared disks are the destination's too and never touched). */
        if (j->opts.block) {
                g_free(mig->disks_json);
                mig->disks_json = mig_disks_to_json(j->disks);
        }
        mig->bytes_total = j->info->memory + (j->opts.block ? mig_disks_data_bytes(j->disks) : 0);
        return mig;
}

static int refuse(LiveJob *j, sd_bus_error *e) {
        if (strcmp(mig_domain_state_name(j->info), "ACTIVE") != 0)
                return sd_bus_error_setf(e, MIG_ERROR_CONFLICT,
                                         "Domain %s is %s; a live migration needs it ACTIVE.", j->info->name,
                                         mig_domain_state_name(j->info));
        return manager_refuse_busy(j->m, j->info, e);
}

static void inspect_done(void *data) {
        LiveJob *j = data;
        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
        if (j->result < 0)
                mig_virt_error_to_bus(&j->err, &e);
        else if (refuse(j, &e) >= 0) {
                MigMigration *mig = new_record(j);
                j->id = g_strdup(mig->id);
                if (manager_add_migration(j->m, mig, "requested; waits for a slot", &e) >= 0) {
                        live_job_keep(j);
                        mig_answer(&j->started, &(MigResult){.migration_id = j->id}, NULL);
                        return start_queued(j->m);
                }
        }
        mig_answer(&j->started, NULL, &e);
        live_job_free(j);
}

int live_migrate(Manager *m, const char *domain, const char *destination, const MigLiveOptions *o,
                 MigAnswer answer, sd_bus_error *error) {
        LiveJob *j = live_job_new(m);
        j->started = answer;
        j->domain = g_strdup(domain);
        j->destination = g_strdup(destination);
        j->opts = *o;
        mig_worker_submit(m->worker, inspect_run, inspect_done, j, NULL);
        return 1;
}
