/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A cold migration's job on the source: what one migration needs between its steps, kept
 * in m->cold_jobs under the migration's id. The record (MigMigration) is the durable part;
 * a job is rebuilt from it after a restart (resume.c). */

#include <string.h>

#include "cold-job.h"
#include "errors.h"
#include "shared-disk.h"

void cold_job_free(ColdJob *j) {
        if (!j)
                return;
        g_free(j->id);
        g_free(j->domain);
        g_free(j->destination);
        g_free(j->definition);
        if (j->disks)
                g_ptr_array_unref(j->disks);
        mig_domain_info_free(j->info);
        g_free(j->dest_address);
        g_strfreev(j->dest_paths);
        mig_attempts_clear(&j->tries);
        sd_event_source_disable_unref(j->progress_timer);
        sd_event_source_disable_unref(j->retry_timer);
        mig_answer_clear(&j->started);
        mig_answers_free(j->waiters);
        if (j->checksums)
                g_ptr_array_unref(j->checksums);
        mig_virt_error_clear(&j->err);
        g_free(j);
}

ColdJob *cold_job_new(Manager *m, const char *id) {
        ColdJob *j = g_new0(ColdJob, 1);
        j->m = m;
        j->id = g_strdup(id);
        j->waiters = mig_answers_new();
        if (id)
                cold_job_keep(j);
        return j;
}

void cold_job_keep(ColdJob *j) {
        Manager *m = j->m;
        if (!m->cold_jobs)
                m->cold_jobs =
                        g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify) cold_job_free);
        g_hash_table_replace(m->cold_jobs, j->id, j);
}

ColdJob *cold_job_find(Manager *m, const char *id) {
        return m->cold_jobs ? g_hash_table_lookup(m->cold_jobs, id) : NULL;
}

ColdJob *cold_job_for_record(Manager *m, MigMigration *mig, MigAnswer answer) {
        ColdJob *j = cold_job_new(m, mig->id);
        j->info = g_new0(MigDomainInfo, 1);
        j->info->uuid = g_strdup(mig->domain_uuid);
        j->info->name = g_strdup(mig->domain_name);
        j->disks = mig_disks_from_json(mig->disks_json);
        if (answer.fn)
                mig_answers_add(j->waiters, answer);
        return j;
}

MigMigration *cold_job_mig(ColdJob *j) {
        return manager_find_migration(j->m, j->id);
}

MigPeer *cold_job_peer(ColdJob *j, sd_bus_error *error) {
        MigMigration *mig = cold_job_mig(j);
        return mig ? manager_peer_of(j->m, mig, mig->destination, error) : NULL;
}

void cold_job_end(ColdJob *j, const sd_bus_error *error) {
        mig_answers_send(j->waiters, error);
        if (j->id && cold_job_find(j->m, j->id) == j)
                g_hash_table_remove(j->m->cold_jobs, j->id);
        else
                cold_job_free(j);
}

MigMigration *cold_source_record(ColdJob *j, const char *kind, const char *destination) {
        MigMigration *mig = mig_migration_new_source(kind, j->info->name, j->info->uuid, manager_node(j->m),
                                                     destination, "pre-migrating");
        mig_set_string(&mig->task_state, "resize_prep");
        mig->was_running = j->info->active;
        mig_set_string(&mig->domain_xml, j->definition);
        return mig;
}

void cold_unmark_shared(ColdJob *j) {
        mig_shared_unmark(j->disks, j->id);
}

int cold_refuse_state(const MigDomainInfo *d, const char *what, const char *done, sd_bus_error *e) {
        const char *state = mig_domain_state_name(d);
        if (strcmp(state, "ACTIVE") != 0 && strcmp(state, "SHUTOFF") != 0)
                return sd_bus_error_setf(e, MIG_ERROR_CONFLICT,
                                         "Domain %s is %s; %s needs it ACTIVE or SHUTOFF.", d->name, state,
                                         what);
        if (!d->persistent)
                return sd_bus_error_setf(e, MIG_ERROR_CONFLICT,
                                         "Domain %s is transient; only defined domains can be %s.", d->name,
                                         done);
        return 0;
}
