/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Live migration, phase 3: running. The dirty rate QEMU sampled since the request (queue.c,
 * again after a wait in the queue: prepare.c) is read (up to SAMPLE_WAIT_USEC more), the tuning chosen from
 * it (tune.c) is committed with "running", then libvirt's virDomainMigrateToURI3() (peer to peer, over
 * qemu+ssh; QEMU's stream to the migration address) blocks on the worker for the whole migration, while the
 * loop reads job statistics every 500 ms (also on the worker) and publishes them: progress that never goes
 * backwards, the disks' share, the dirty rate, the convergence (converge.c). When libvirt returns, the
 * destination is asked to finish (finish.c); a failure is looked up in the destination's domain events
 * first, since libvirt can lose the hook's refusal. */

#include <string.h>

#include "bus-variant.h"
#include "errors.h"
#include "hook-event.h"
#include "live-job.h"
#include "macro.h"
#include "shared-disk.h"

#define STATS_INTERVAL_USEC (500 * USEC_PER_MSEC)
#define SAMPLE_INTERVAL_USEC (100 * USEC_PER_MSEC)
#define SAMPLE_WAIT_USEC (1500 * USEC_PER_MSEC)

/* --- statistics --- */

/* The first memory pass is over: what the link moved is this peer's figure for the next
 * migration's tuning, and the XBZRLE cache grows to what the guest really dirtied. */
static void first_pass_done(LiveJob *j, const MigJobStats *s) {
        MigMigration *mig = live_job_mig(j);
        j->first_pass_seen = true;
        g_autoptr(GError) e = NULL;
        if (s->memory_bps && !j->opts.bandwidth_mib &&
            mig_store_set_link(j->m->store, mig->destination, s->memory_bps, mig_now_usec(), &e) < 0)
                g_warning("Migration %s: cannot keep the rate of the link to %s: %s", mig->id,
                          mig->destination, e->message);
        uint64_t cache =
                live_tune_cache_for(s->memory_remaining + s->memory_remaining / 4, j->figures.memory);
        if (!j->tune.xbzrle_cache || cache <= j->tune.xbzrle_cache)
                return;
        g_autofree char *note =
                g_strdup_printf("first pass: the guest dirtied %" PRIu64 " MiB while the link moved %" PRIu64
                                " MiB/s: XBZRLE cache resized to %" PRIu64 " MiB",
                                s->memory_remaining >> 20, s->memory_bps >> 20, cache >> 20);
        j->tune.xbzrle_cache = cache;
        live_take_step(j, STEP_CACHE, cache, g_steal_pointer(&note));
}

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
        mig->throttle = s->throttle;
        live_watch_throttle(j, s);
        if (!j->first_pass_seen && s->iteration >= 2)
                first_pass_done(j, s);
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

/* --- the tuning --- */

typedef struct Sample {
        Manager *m;
        char *id, *uuid;
        uint64_t rate;
        bool measured;
} Sample;

static void sample_free(void *data) {
        Sample *sa = data;
        g_free(sa->id);
        g_free(sa->uuid);
        g_free(sa);
}

static void sample_run(void *data) {
        Sample *sa = data;
        MigVirtError err = {0};
        if (mig_virt_dirty_rate_read(sa->m->virt, sa->uuid, &sa->rate, &sa->measured, &err) < 0)
                sa->measured = false;
        mig_virt_error_clear(&err);
}

static void migrate_start(LiveJob *j);

static void sample_done(void *data) {
        Sample *sa = data;
        LiveJob *j = live_job_find(sa->m, sa->id);
        if (!j || j->migrating)
                return;
        if (sa->measured || j->cancel || mig_boottime_usec() >= j->sample_deadline) {
                j->figures.dirty_rate = sa->measured ? sa->rate : 0;
                return migrate_start(j);
        }
        (void) sd_event_source_set_enabled(j->sample_timer, SD_EVENT_ONESHOT);
}

static int on_sample_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        LiveJob *j = userdata;
        Sample *sa = g_new0(Sample, 1);
        *sa = (Sample){j->m, g_strdup(j->id), g_strdup(j->info->uuid), 0, false};
        mig_worker_submit(j->m->worker, sample_run, sample_done, sa, sample_free);
        return sd_event_source_set_time_relative(s, SAMPLE_INTERVAL_USEC);
}

void live_sample_dirty_rate(LiveJob *j) {
        MigVirtError err = {0};
        j->sampled_usec = mig_boottime_usec();
        if (mig_virt_dirty_rate_start(j->m->virt, j->info->uuid, &err) < 0)
                g_message("Migration of %s: %s; the tuning goes without it.", j->info->name, err.message);
        mig_virt_error_clear(&err);
}

/* The figures tune.c weighs, the sampled dirty rate aside. */
static void gather_figures(LiveJob *j, const char *destination) {
        uint64_t link = 0;
        g_autoptr(GError) e = NULL;
        if (mig_store_get_link(j->m->store, destination, &link, &e) < 0)
                g_warning("Migration %s: cannot read the rate of the link to %s: %s", j->id, destination,
                          e->message);
        j->figures = (LiveTuneFigures){
                .link_rate = link,
                .bandwidth = j->opts.bandwidth_mib << 20,
                .memory = j->info->memory,
                .auto_converge = j->opts.auto_converge,
                .parallel = j->opts.parallel,
                .compress = j->opts.compressed,
                .emulated = j->info->emulated,
                .hv_version = j->info->hv_version,
        };
}

/* --- the migration --- */

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
                .compressed = j->opts.compressed == MIG_COMPRESS_ALWAYS,
                .throttle_initial = j->tune.throttle_initial,
                .throttle_increment = j->tune.throttle_increment,
                .xbzrle_cache = j->tune.xbzrle_cache,
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
        gather_figures(j, mig->destination);
        j->sample_deadline = mig_boottime_usec() + SAMPLE_WAIT_USEC;
        if (sd_event_add_time_relative(j->m->event, &j->sample_timer, CLOCK_MONOTONIC, 0, 0, on_sample_timer,
                                       j) < 0)
                migrate_start(j);
}

/* The tuning is committed with "running", then libvirt is asked. */
static void migrate_start(LiveJob *j) {
        MigMigration *mig = live_job_mig(j);
        j->sample_timer = sd_event_source_disable_unref(j->sample_timer);
        if (j->cancel)
                return live_fail(j, NULL, NULL);
        live_tune_plan(&j->figures, &j->tune);
        g_autofree char *tuned = live_tune_describe(&j->figures, &j->tune, mig->destination);
        g_autofree char *msg = g_strdup_printf("libvirt migrates the running domain; %s", tuned);
        if (manager_transition(j->m, mig, "running", "", msg) < 0)
                return live_fail(j, MIG_ERROR_STORE, "cannot record the start");
        j->migrating = true;
        (void) sd_event_add_time_relative(j->m->event, &j->stats_timer, CLOCK_MONOTONIC, STATS_INTERVAL_USEC,
                                          0, on_stats_timer, j);
        mig_worker_submit_on(j->m->worker, MIG_LANE_LONG, migrate_run, migrate_done, j, NULL);
}
