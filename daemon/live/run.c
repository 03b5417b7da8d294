/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Live migration, phase 3: running. "running" is committed, then libvirt's
 * virDomainMigrateToURI3() (peer to peer, over qemu+ssh; QEMU's stream to the migration
 * address) blocks on the worker for the whole migration, while the loop reads job
 * statistics every 500 ms (also on the worker) and publishes them: progress that never
 * goes backwards, the disks' share, the dirty rate, the convergence (converge.c). When
 * libvirt returns, the destination is asked to finish (finish.c); a failure is looked up
 * in the destination's domain events first, since libvirt can lose the hook's refusal. */

#include <string.h>

#include "bus-variant.h"
#include "errors.h"
#include "hook-event.h"
#include "live-job.h"
#include "macro.h"
#include "shared-disk.h"

#define STATS_INTERVAL_USEC (500 * USEC_PER_MSEC)

/* --- statistics --- */

static void publish_stats(LiveJob *j, const MigJobStats *s) {
        MigMigration *mig = live_job_mig(j);
        if (!mig || !s->active)
                return;
        mig->bytes_processed = s->processed;
        mig->bytes_remaining = s->remaining;
        /* Memory is not counted until its copy starts (the disks go first): count it from the start,
         * or the progress would reach 99% with the disks and then stand still. */
        uint64_t memory = MAX(s->memory_total, j->info ? j->info->memory : 0);
        mig->bytes_total = MAX(MAX(s->total, s->processed + s->remaining), memory + s->disk_total);
        double p = mig->bytes_total ? 100.0 * (double) s->processed / (double) mig->bytes_total : 0;
        mig->progress = MAX(mig->progress, MIN(p, 99.0)); /* never backwards; 100 when completed */
        mig->disk_processed = s->disk_processed;
        mig->disk_total = s->disk_total;
        mig->dirty_rate = s->dirty_rate;
        mig->iteration = s->iteration;
        mig->expected_downtime = s->expected_downtime_ms;
        bool escalate = live_judge(j, s);
        mig->updated_usec = mig_now_usec();
        manager_publish(j->m, mig);
        if (escalate)
                live_escalate(j);
        live_check_deadline(j, s);
}

static void stats_run(void *data) {
        LiveJob *j = data;
        MigVirtError err = {0};
        if (mig_virt_job_stats(j->m->virt, j->info->uuid, &j->stats, &err) < 0)
                j->stats.active = false;
        mig_virt_error_clear(&err);
}

static void stats_done(void *data) {
        LiveJob *j = data;
        j->stats_busy = false;
        if (j->migrating)
                publish_stats(j, &j->stats);
}

static int on_stats_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        LiveJob *j = userdata;
        if (!j->stats_busy && j->migrating) {
                j->stats_busy = true;
                mig_worker_submit(j->m->worker, stats_run, stats_done, j, NULL);
        }
        int r = sd_event_source_set_time_relative(s, STATS_INTERVAL_USEC);
        return r < 0 ? r : sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

/* --- the migration --- */

/* A block migration with shared disks copies only the others (their targets, NULL-ended). */
static char **copy_targets(LiveJob *j) {
        if (!j->opts.block || !mig_disks_any_shared(j->disks))
                return NULL;
        g_autoptr(GPtrArray) t = g_ptr_array_new_with_free_func(g_free);
        for (guint i = 0; i < j->disks->len; i++) {
                const MigDisk *d = j->disks->pdata[i];
                if (!d->shared && d->target)
                        g_ptr_array_add(t, g_strdup(d->target));
        }
        g_ptr_array_add(t, NULL);
        return (char **) g_ptr_array_free(g_steal_pointer(&t), FALSE);
}

static void migrate_run(void *data) {
        LiveJob *j = data;
        mig_shared_unmark(j->disks, j->id);
        g_auto(GStrv) targets = copy_targets(j);
        MigLiveParams p = {
                .dest_uri = j->dest_uri,
                .migration_uri = j->migration_uri,
                .block = j->opts.block,
                .copy_targets = targets,
                /* without block every disk is shared (the destination refuses otherwise) */
                .shared_proven = mig_disks_any_shared(j->disks),
                .bandwidth_mib = j->opts.bandwidth_mib,
                .max_downtime_ms = j->opts.max_downtime_ms,
                .auto_converge = j->opts.auto_converge,
                .postcopy = j->opts.postcopy,
                .parallel = j->opts.parallel,
                .compressed = j->opts.compressed,
        };
        j->result = mig_virt_migrate_live(j->m->virt, j->info->uuid, &p, &j->err);
}

/* The destination's hook refusal of this migration, from its domain events, or NULL. */
static char *refusal_of(GVariant *reply) {
        const char *found = NULL;
        if (!reply || !g_variant_is_of_type(reply, G_VARIANT_TYPE("(aa{sv})")))
                return NULL;
        g_autoptr(GVariant) list = g_variant_get_child_value(reply, 0);
        for (gsize i = 0, n = g_variant_n_children(list); i < n; i++) {
                g_autoptr(GVariant) d = g_variant_get_child_value(list, i);
                const char *message = mig_dict_string(d, "message");
                if (g_strcmp0(mig_dict_string(d, "operation"), "migrate") == 0 && message &&
                    g_str_has_prefix(message, MIG_HOOK_REFUSAL))
                        found = message;
        }
        return g_strdup(found);
}

/* libvirt does not always pass the destination hook's refusal on (the connection's
 * end-of-file can overwrite it): the destination's record of it says why. */
static void on_dest_events(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        LiveJob *j = userdata;
        g_autofree char *refusal = refusal_of(reply);
        if (!refusal)
                return live_fail(j, j->err.name, j->err.message);
        g_autofree char *msg = g_strdup_printf("The live migration failed: %s", refusal);
        live_fail(j, MIG_ERROR_NOT_SUPPORTED, msg);
}

static void migrate_done(void *data) {
        LiveJob *j = data;
        j->migrating = false;
        j->stats_timer = sd_event_source_disable_unref(j->stats_timer);
        MigMigration *mig = live_job_mig(j);
        MigPeer *dest = mig_peers_find(j->m->peers, mig->destination);
        if (j->result < 0 && !j->cancel && dest && g_strcmp0(j->err.name, MIG_ERROR_NOT_SUPPORTED) != 0)
                return mig_peer_call(dest, "ListDomainEvents", PEER_STEP_TIMEOUT_USEC, on_dest_events, j,
                                     g_variant_new("(st)", mig->domain_uuid, (guint64) mig->created_usec));
        if (j->result < 0)
                return live_fail(j, j->err.name, j->err.message);
        live_send_finish(j);
}

void live_run_start(LiveJob *j) {
        MigMigration *mig = live_job_mig(j);
        const MigPeerConfig *pc = mig_config_find_peer(j->m->config, mig->destination);
        if (j->cancel)
                return live_fail(j, NULL, NULL);
        j->dest_uri = g_strdup_printf("qemu+ssh://%s/system?no_tty=1", pc->address);
        j->migration_uri =
                g_strdup_printf("tcp://%s", pc->migration_address      ? pc->migration_address
                                            : strchr(pc->address, '@') ? strchr(pc->address, '@') + 1
                                                                       : pc->address);
        if (manager_transition(j->m, mig, "running", "", "libvirt migrates the running domain") < 0)
                return live_fail(j, MIG_ERROR_STORE, "cannot record the start");
        j->migrating = true;
        (void) sd_event_add_time_relative(j->m->event, &j->stats_timer, CLOCK_MONOTONIC, STATS_INTERVAL_USEC,
                                          0, on_stats_timer, j);
        mig_worker_submit_on(j->m->worker, MIG_LANE_LONG, migrate_run, migrate_done, j, NULL);
}
