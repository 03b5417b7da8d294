/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A live migration's job on the source, kept in m->live_jobs under the migration's id, and
 * its two ends: completed (here), cancelled or failed (abort.c). */

#include <inttypes.h>

#include "live-job.h"
#include "macro.h"

void live_job_free(LiveJob *j) {
        if (!j)
                return;
        g_free(j->id);
        g_free(j->domain);
        g_free(j->destination);
        mig_attempts_clear(&j->tries);
        mig_domain_info_free(j->info);
        if (j->disks)
                g_ptr_array_unref(j->disks);
        mig_answer_clear(&j->started);
        mig_answers_free(j->waiters);
        sd_event_source_disable_unref(j->stats_timer);
        sd_event_source_disable_unref(j->sample_timer);
        mig_virt_error_clear(&j->err);
        g_free(j->dest_uri);
        g_free(j->migration_uri);
        g_free(j);
}

LiveJob *live_job_new(Manager *m) {
        LiveJob *j = g_new0(LiveJob, 1);
        j->m = m;
        j->waiters = mig_answers_new();
        return j;
}

void live_job_keep(LiveJob *j) {
        Manager *m = j->m;
        if (!m->live_jobs)
                m->live_jobs =
                        g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify) live_job_free);
        g_hash_table_replace(m->live_jobs, j->id, j);
}

LiveJob *live_job_find(Manager *m, const char *id) {
        return m->live_jobs ? g_hash_table_lookup(m->live_jobs, id) : NULL;
}

MigMigration *live_job_mig(LiveJob *j) {
        return manager_find_migration(j->m, j->id);
}

void live_end(LiveJob *j, const sd_bus_error *error) {
        mig_answers_send(j->waiters, error);
        if (j->id && live_job_find(j->m, j->id) == j)
                g_hash_table_remove(j->m->live_jobs, j->id);
        else
                live_job_free(j);
}

/* A block migration's left-over source disks, deleted on the worker. */
typedef struct SourceDisks {
        MigVirt *virt;
        GPtrArray *disks;
} SourceDisks;

static void source_disks_delete(void *data) {
        SourceDisks *sd = data;
        (void) mig_disks_delete(sd->virt, sd->disks, sd->disks->len, NULL); /* logged */
}

static void source_disks_free(void *data) {
        SourceDisks *sd = data;
        g_ptr_array_unref(sd->disks);
        g_free(sd);
}

void live_completed(LiveJob *j, GVariant *finish_reply) {
        MigMigration *mig = live_job_mig(j);
        uint64_t downtime = 0, elapsed = 0;
        if (g_variant_is_of_type(finish_reply, G_VARIANT_TYPE("(tt)")))
                g_variant_get(finish_reply, "(tt)", &downtime, &elapsed);
        mig->downtime_msec = downtime;
        mig->bytes_remaining = 0;
        mig->bytes_processed = MAX(mig->bytes_processed, mig->bytes_total);
        mig->progress = 100.0;
        mig_set_string(&mig->convergence, "");
        mig->throttle = 0; /* the guest runs at full speed again */
        g_autofree char *msg =
                g_strdup_printf("the domain runs on %s; %.1f s, downtime %" PRIu64 " ms", mig->destination,
                                (double) (mig_now_usec() - mig->created_usec) / 1e6, downtime);
        int r = manager_transition(j->m, mig, "completed", "", msg);
        if (r < 0) { /* nothing deleted: a restart decides from both nodes' views again */
                g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
                manager_commit_error(j->m, &e, r, "the completed migration");
                return live_end(j, &e);
        }
        /* A block migration copied the disks: the source's files are left-overs now. */
        SourceDisks *sd = g_new0(SourceDisks, 1);
        *sd = (SourceDisks){j->m->virt, mig_disks_from_json(mig->disks_json)};
        if (sd->disks->len > 0)
                mig_worker_submit(j->m->worker, source_disks_delete, NULL, sd, source_disks_free);
        else
                source_disks_free(sd);
        live_end(j, NULL);
}
