/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Cold migration, phase 2: resize_instance. "migrating" (resize_migrating) is committed
 * first; then, on the worker, the domain is shut down (ACPI, destroyed after
 * ShutdownTimeout) and each disk is streamed sparse into the volume the destination
 * precreated at Prepare: one ssh per disk, all at once, runs `migrated --receive-disk` on the
 * destination, which writes into that volume (its daemon hands it over) and hashes what it
 * writes while this side hashes what it reads (disk-stream.h): equal checksums prove each
 * copy, so neither file is read again. Progress is published every 500 ms and never goes backwards. A
 * failure, an abort, or a restart during the copy rolls back: the source's disks were only
 * read, so the domain is started here again as it was. */

#include <errno.h>
#include <string.h>

#include "buildconfig.h"
#include "cold-job.h"
#include "disk-stream.h"
#include "errors.h"
#include "macro.h"

#define PROGRESS_INTERVAL_USEC (500 * USEC_PER_MSEC)

static int on_progress(sd_event_source *s, uint64_t usec, void *userdata) {
        ColdJob *j = userdata;
        MigMigration *mig = cold_job_mig(j);
        uint64_t done = (uint64_t) __atomic_load_n(&j->progress.bytes_done, __ATOMIC_RELAXED);
        if (mig && done != mig->bytes_processed) {
                mig->bytes_processed = MIN(done, mig->bytes_total);
                mig->bytes_remaining = mig->bytes_total - mig->bytes_processed;
                double p = mig->bytes_total
                                   ? 100.0 * (double) mig->bytes_processed / (double) mig->bytes_total
                                   : 0;
                mig->progress = MAX(mig->progress, MIN(p, 99.0)); /* 100 only when finished */
                mig->updated_usec = mig_now_usec();
                manager_publish(j->m, mig);
        }
        if (!s)
                return 0;
        /* A timer fires once: arm it again. */
        int r = sd_event_source_set_time_relative(s, PROGRESS_INTERVAL_USEC);
        return r < 0 ? r : sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

/* --- the disk streams: one ssh each, the disks at the same time --- */

typedef struct DiskCopy {
        ColdJob *job;
        guint index;
        int result;
        MigVirtError err;
} DiskCopy;

static gpointer disk_copy_run(gpointer data) {
        DiskCopy *c = data;
        ColdJob *j = c->job;
        g_autofree char *quoted = g_shell_quote(j->dest_paths[c->index]);
        g_autofree char *command =
                g_strdup_printf("%s/migrated --receive-disk %s %s", MIGRATED_LIBEXECDIR, j->id, quoted);
        g_auto(GStrv) argv = mig_peer_ssh_argv(j->dest_address, command);
        c->result = mig_disk_send_remote(argv, ((MigDisk *) j->disks->pdata[c->index])->path, &j->progress,
                                         &c->err);
        return NULL;
}

/* The first failure (the copies are independent: one failing does not stop the others, the
 * roll back deletes what they wrote). */
static void take_result(ColdJob *j, GPtrArray *copies) {
        for (guint i = 0; i < copies->len; i++) {
                DiskCopy *c = copies->pdata[i];
                if (c->result < 0 && j->result == 0) {
                        mig_virt_error_clear(&j->err);
                        j->err = c->err;
                        c->err = (MigVirtError){0};
                        j->result = c->result;
                }
                mig_virt_error_clear(&c->err);
        }
}

static void copy_disks(ColdJob *j) {
        g_autoptr(GPtrArray) copies = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GPtrArray) threads = g_ptr_array_new();
        for (guint i = 0; i < j->disks->len; i++) {
                if (((MigDisk *) j->disks->pdata[i])->shared)
                        continue;
                DiskCopy *c = g_new0(DiskCopy, 1);
                *c = (DiskCopy){.job = j, .index = i};
                g_ptr_array_add(copies, c);
                g_ptr_array_add(threads, g_thread_new("disk-copy", disk_copy_run, c));
        }
        for (guint i = 0; i < threads->len; i++)
                g_thread_join(threads->pdata[i]);
        take_result(j, copies);
}

static void copy_run(void *data) {
        ColdJob *j = data;
        cold_unmark_shared(j);
        j->result = mig_virt_shutdown(j->m->virt, j->info->uuid, j->m->config->shutdown_timeout, &j->err);
        if (j->result < 0 || g_atomic_int_get(&j->progress.cancel))
                return;
        copy_disks(j);
}

static void copy_done(void *data) {
        ColdJob *j = data;
        j->progress_timer = sd_event_source_disable_unref(j->progress_timer);
        on_progress(NULL, 0, j);
        if (j->cancel)
                return cold_rollback(j, NULL, NULL);
        if (j->result < 0)
                return cold_rollback(j, j->err.name, j->err.message);
        cold_verify_start(j);
}

static void copy_go(ColdJob *j) {
        MigMigration *mig = cold_job_mig(j);
        j->waits_for_slot = false;
        if (j->cancel)
                return cold_rollback(j, NULL, NULL);
        if (manager_transition(j->m, mig, "migrating", "resize_migrating",
                               mig->was_running ? "shutting the domain down, then copying its disks"
                                                : "copying the disks of the shut-off domain") < 0)
                return cold_rollback(j, MIG_ERROR_STORE, "cannot record the start of the copy");
        const MigPeerConfig *pc = mig_config_find_peer(j->m->config, mig->destination);
        g_free(j->dest_address);
        j->dest_address = g_strdup(pc->address);
        (void) sd_event_add_time_relative(j->m->event, &j->progress_timer, CLOCK_MONOTONIC,
                                          PROGRESS_INTERVAL_USEC, 0, on_progress, j);
        mig_worker_submit_on(j->m->worker, MIG_LANE_LONG, copy_run, copy_done, j, NULL);
}

/* --- the copy slots: at most MaxConcurrentMigrations cold copies at once --- */

static unsigned copies_running(Manager *m) {
        static const char *const copying[] = {"migrating", NULL};
        return manager_count(m, "cold", "source", copying);
}

/* The oldest prepared migration that waits for a slot, or NULL. */
static ColdJob *oldest_waiting(Manager *m) {
        ColdJob *oldest = NULL, *j;
        GHashTableIter it;
        if (!m->cold_jobs)
                return NULL;
        g_hash_table_iter_init(&it, m->cold_jobs);
        while (g_hash_table_iter_next(&it, NULL, (gpointer *) &j))
                if (j->waits_for_slot && cold_job_mig(j) &&
                    (!oldest || cold_job_mig(j)->created_usec < cold_job_mig(oldest)->created_usec))
                        oldest = j;
        return oldest;
}

static void start_waiting(Manager *m) {
        ColdJob *j;
        while (copies_running(m) < m->config->max_concurrent_migrations && (j = oldest_waiting(m)))
                copy_go(j);
}

/* A copy that ended (verified, failed, cancelled) frees its slot. */
static void on_change(Manager *m, const MigMigration *mig, MigChange change, void *userdata) {
        if (change == MIG_CHANGE_CHANGED && strcmp(mig->kind, "cold") == 0 &&
            strcmp(mig->role, "source") == 0 && strcmp(mig->status, "migrating") != 0 &&
            strcmp(mig->status, "pre-migrating") != 0)
                start_waiting(m);
}

void cold_init(Manager *m) {
        manager_watch(m, on_change, NULL);
        cold_lease_register(m);
}

void cold_copy_start(ColdJob *j) {
        if (j->cancel || copies_running(j->m) < j->m->config->max_concurrent_migrations)
                return copy_go(j);
        j->waits_for_slot = true;
        (void) manager_transition(j->m, cold_job_mig(j), "pre-migrating", NULL,
                                  "prepared; waits for one of MaxConcurrentMigrations copy slots");
}
