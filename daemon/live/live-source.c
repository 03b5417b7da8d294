/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Live migration, source side: the state machine of live.h. libvirt's
 * virDomainMigrateToURI3() blocks for the whole migration, so it runs on the
 * worker while the loop reads job statistics every 500 ms (also on the worker)
 * and publishes them on the Migration object. */

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "bus-api.h"
#include "bus-variant.h"
#include "disk.h"
#include "errors.h"
#include "hook-event.h"
#include "id.h"
#include "live.h"
#include "macro.h"
#include "reconcile.h"
#include "scheduler.h"

#define PEER_STEP_TIMEOUT_USEC (60 * USEC_PER_SEC)
#define STATS_INTERVAL_USEC (500 * USEC_PER_MSEC)
#define STALL_PASSES 2 /* memory passes without the dirty set shrinking */

typedef struct LiveJob {
        Manager *m;
        char *id;
        char *domain;
        char *destination;
        MigLiveOptions opts;
        MigDomainInfo *info;
        GPtrArray *disks;
        sd_bus_message *request; /* Migrate, replied once recorded */
        GPtrArray *waiters;      /* Abort calls */
        sd_event_source *stats_timer;
        bool stats_busy;
        bool cancel;
        bool migrating; /* libvirt's migration runs */
        uint64_t best_remaining;
        unsigned stalled_ticks; /* passes without progress */
        bool have_best;
        uint64_t last_iteration;
        uint64_t downtime_now; /* ms, as raised by the escalation */
        bool postcopy_started; /* the escalation or force-complete switched to post-copy */
        bool escalation_done;  /* nothing more is permitted */
        bool deadline_acted;   /* CompletionTimeout's action was taken */
        MigJobStats stats;
        int result;
        MigVirtError err;
        char *dest_uri, *migration_uri;
} LiveJob;

static GHashTable *live_jobs; /* id → LiveJob* */

static void live_job_free(LiveJob *j) {
        if (!j)
                return;
        g_free(j->id);
        g_free(j->domain);
        g_free(j->destination);
        mig_domain_info_free(j->info);
        if (j->disks)
                g_ptr_array_unref(j->disks);
        sd_bus_message_unref(j->request);
        if (j->waiters)
                g_ptr_array_unref(j->waiters);
        sd_event_source_disable_unref(j->stats_timer);
        mig_virt_error_clear(&j->err);
        g_free(j->dest_uri);
        g_free(j->migration_uri);
        g_free(j);
}

static LiveJob *live_job_new(Manager *m) {
        LiveJob *j = g_new0(LiveJob, 1);
        j->m = m;
        j->waiters = bus_requests_new();
        if (!live_jobs)
                live_jobs =
                        g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify) live_job_free);
        return j;
}

static MigMigration *live_mig(LiveJob *j) {
        return manager_find_migration(j->m, j->id);
}

static void start_queued(Manager *m);

static void live_end(LiveJob *j, const sd_bus_error *error) {
        bus_reply_all(j->waiters, error);
        Manager *m = j->m;
        if (j->id && g_hash_table_lookup(live_jobs, j->id) == j)
                g_hash_table_remove(live_jobs, j->id);
        else
                live_job_free(j);
        start_queued(m);
}

/* --------------------------------------------------------------- the end */

static void on_dest_aborted(MigPeer *peer, GVariant *reply, const sd_bus_error *error,
                            void *userdata) {
        LiveJob *j = userdata;
        MigMigration *mig = live_mig(j);
        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
        if (error)
                g_warning("Migration %s: the destination did not drop its claim yet: %s", mig->id,
                          error->message);
        const char *status = j->cancel ? "cancelled" : "failed";
        mig_set_string(&mig->convergence, "");
        manager_transition(j->m, mig, status, "",
                           j->cancel ? "the domain runs on the source as before"
                                     : "the domain runs on the source as before");
        if (!j->cancel)
                sd_bus_error_set(&e, mig->error_name, mig->error_message);
        live_end(j, j->cancel ? NULL : &e);
}

static void live_fail(LiveJob *j, const char *name, const char *message) {
        MigMigration *mig = live_mig(j);
        j->stats_timer = sd_event_source_disable_unref(j->stats_timer);
        if (j->cancel)
                manager_record_failure(mig, MIG_ERROR_CONFLICT, "cancelled by an operator");
        else
                manager_record_failure(mig, name, message);
        MigPeer *peer = mig_peers_find(j->m->peers, mig->destination);
        if (!peer)
                return on_dest_aborted(NULL, NULL, NULL, j);
        mig_peer_call(peer, "AbortLiveMigration", PEER_STEP_TIMEOUT_USEC, on_dest_aborted, j, 
                      g_variant_new("(ss)", mig->id, j->cancel ? "cancelled" : "failed"));
}

/* A block migration's left-over source disks, deleted on the worker. */
typedef struct SourceDisks {
        MigVirt *virt;
        GPtrArray *disks;
} SourceDisks;

static void source_disks_delete(void *data) {
        SourceDisks *sd = data;
        mig_disks_delete(sd->virt, sd->disks, sd->disks->len);
}

static void source_disks_free(void *data) {
        SourceDisks *sd = data;
        g_ptr_array_unref(sd->disks);
        g_free(sd);
}

static void recover_after(Manager *m, const char *id, const char *uuid);

static void on_dest_finished(MigPeer *peer, GVariant *reply, const sd_bus_error *error,
                             void *userdata) {
        LiveJob *j = userdata;
        MigMigration *mig = live_mig(j);
        uint64_t downtime = 0, elapsed = 0;
        if (!reply) { /* completed only when both nodes agree: their views decide */
                g_warning("Migration %s: the destination did not confirm that it runs the domain (%s); "
                          "both nodes' views decide.",
                          mig->id, error->message);
                return recover_after(j->m, mig->id, mig->domain_uuid);
        }
        if (g_variant_is_of_type(reply, G_VARIANT_TYPE("(tt)")))
                g_variant_get(reply, "(tt)", &downtime, &elapsed);
        mig->downtime_msec = downtime;
        mig->bytes_remaining = 0;
        mig->bytes_processed = MAX(mig->bytes_processed, mig->bytes_total);
        mig->progress = 100.0;
        mig_set_string(&mig->convergence, "");
        g_autofree char *msg =
                g_strdup_printf("the domain runs on %s; %.1f s, downtime %" PRIu64 " ms", mig->destination,
                                (double) (mig_now_usec() - mig->created_usec) / 1e6, downtime);
        manager_transition(j->m, mig, "completed", "", msg);
        /* A block migration copied the disks: the source's files are left-overs now. */
        SourceDisks *sd = g_new0(SourceDisks, 1);
        *sd = (SourceDisks){j->m->virt, mig_disks_from_json(mig->disks_json)};
        if (sd->disks->len > 0)
                mig_worker_submit(j->m->worker, source_disks_delete, NULL, sd, source_disks_free);
        else
                source_disks_free(sd);
        live_end(j, NULL);
}

/* --------------------------------------------------------------- progress */

/* Judged once per memory pass, on what is left to send when the pass starts (the memory
 * the guest dirtied during the previous one): converging while that shrinks by a tenth or
 * more; stalled after STALL_PASSES passes without; diverging when it also grew past the best
 * seen by half. Either of the last two takes the next escalation step. */
static const char *convergence_of(LiveJob *j, const MigJobStats *s) {
        MigMigration *mig = live_mig(j);
        const char *now = mig && *mig->convergence ? mig->convergence : "converging";
        if (!s->memory_total || s->iteration < 1 || s->iteration == j->last_iteration)
                return now; /* the disks go first; within a pass nothing new is learnt */
        j->last_iteration = s->iteration;
        /* libvirt's expected downtime is what is left over the bandwidth: the better gauge when
         * it is there (the remaining bytes can read 0 right at a pass's start). */
        uint64_t dirty = s->expected_downtime_ms ? s->expected_downtime_ms : s->memory_remaining;
        if (!j->have_best || dirty < j->best_remaining - j->best_remaining / 10) {
                j->have_best = true;
                j->best_remaining = dirty;
                j->stalled_ticks = 0;
                return "converging";
        }
        if (++j->stalled_ticks < STALL_PASSES)
                return "converging";
        return dirty > j->best_remaining + j->best_remaining / 2 ? "diverging" : "stalled";
}

/* --------------------------------------------------------------- convergence */

typedef enum { STEP_DOWNTIME, STEP_POSTCOPY, STEP_PAUSE, STEP_ABORT } StepKind;

/* A step outlives nothing: it names its migration, and finds the job again when done. */
typedef struct Step {
        Manager *m;
        char *id, *uuid;
        StepKind kind;
        uint64_t value;
        char *note; /* the event recorded once the step is taken */
        int result;
        MigVirtError err;
} Step;

static void step_run(void *data) {
        Step *st = data;
        MigVirt *v = st->m->virt;
        const char *uuid = st->uuid;
        switch (st->kind) {
        case STEP_DOWNTIME:
                st->result = mig_virt_set_max_downtime(v, uuid, st->value, &st->err);
                break;
        case STEP_POSTCOPY:
        case STEP_PAUSE:
                st->result = mig_virt_force_complete(v, uuid, st->kind == STEP_POSTCOPY, &st->err);
                break;
        case STEP_ABORT:
                st->result = mig_virt_abort_job(v, uuid, &st->err);
                break;
        }
}

static void step_done(void *data) {
        Step *st = data;
        MigMigration *mig = manager_find_migration(st->m, st->id);
        LiveJob *j = live_jobs ? g_hash_table_lookup(live_jobs, st->id) : NULL;
        if (mig && j && j->migrating) {
                g_autofree char *msg = st->result < 0
                                               ? g_strdup_printf("%s failed: %s", st->note, st->err.message)
                                               : g_strdup(st->note);
                manager_transition(st->m, mig, mig->status, NULL, msg);
        }
        g_free(st->id);
        g_free(st->uuid);
        g_free(st->note);
        mig_virt_error_clear(&st->err);
        g_free(st);
}

static void take_step(LiveJob *j, StepKind kind, uint64_t value, char *note) {
        Step *st = g_new0(Step, 1);
        *st = (Step){j->m, g_strdup(j->id), g_strdup(j->info->uuid), kind, value, note, 0, {0}};
        j->stalled_ticks = 0;
        j->best_remaining = 0;
        j->have_best = false;
        mig_worker_submit(j->m->worker, step_run, step_done, st, NULL);
}

/* A stalled migration escalates one step at a time: a higher max downtime, doubling up to
 * MaxDowntimeCeiling (auto-converge throttles the guest from the start when enabled), then
 * post-copy where it is permitted. Each step is an event of the migration. */
static void escalate(LiveJob *j) {
        uint64_t ceiling = j->m->config->live.max_downtime_ceiling;
        if (!j->downtime_now)
                j->downtime_now = j->opts.max_downtime_ms ? j->opts.max_downtime_ms : 300;
        if (j->downtime_now < ceiling) {
                j->downtime_now = MIN(j->downtime_now * 2, ceiling);
                return take_step(
                        j, STEP_DOWNTIME, j->downtime_now,
                        g_strdup_printf("stalled: max downtime raised to %" PRIu64 " ms", j->downtime_now));
        }
        if (j->opts.postcopy && !j->postcopy_started) {
                j->postcopy_started = true;
                return take_step(j, STEP_POSTCOPY, 0,
                                 g_strdup("stalled at the downtime ceiling: switched to post-copy"));
        }
        if (!j->escalation_done) {
                j->escalation_done = true;
                MigMigration *mig = live_mig(j);
                manager_transition(j->m, mig, mig->status, NULL,
                                   "stalled at the downtime ceiling; post-copy is not permitted: "
                                   "force-complete or abort it, or let CompletionTimeout decide");
        }
}

/* CompletionTimeout seconds per GiB of memory and disk: then CompletionAction. */
static void check_deadline(LiveJob *j, const MigJobStats *s) {
        const MigLiveConfig *l = &j->m->config->live;
        uint64_t gib = MAX((uint64_t) 1, (s->total + (1ULL << 30) - 1) >> 30);
        if (!l->completion_timeout || j->deadline_acted ||
            s->elapsed_ms < l->completion_timeout * gib * 1000)
                return;
        j->deadline_acted = true;
        if (strcmp(l->completion_action, "abort") == 0) {
                j->cancel = true;
                return take_step(j, STEP_ABORT, 0, g_strdup("CompletionTimeout passed: aborting"));
        }
        take_step(j, j->opts.postcopy ? STEP_POSTCOPY : STEP_PAUSE, 0,
                  g_strdup(j->opts.postcopy ? "CompletionTimeout passed: switched to post-copy"
                                            : "CompletionTimeout passed: the domain is paused to finish"));
}

static void publish_stats(LiveJob *j, const MigJobStats *s) {
        MigMigration *mig = live_mig(j);
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
        uint64_t pass = j->last_iteration;
        mig_set_string(&mig->convergence, convergence_of(j, s));
        mig->updated_usec = mig_now_usec();
        bus_migration_emit_changed(j->m, mig);
        if (j->last_iteration != pass && strcmp(mig->convergence, "converging") != 0)
                escalate(j); /* once per judged pass */
        check_deadline(j, s);
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

/* --------------------------------------------------------------- migrate */

static void migrate_run(void *data) {
        LiveJob *j = data;
        MigLiveParams p = {
                .dest_uri = j->dest_uri,
                .migration_uri = j->migration_uri,
                .block = j->opts.block,
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
        MigMigration *mig = live_mig(j);
        MigPeer *dest = mig_peers_find(j->m->peers, mig->destination);
        if (j->result < 0 && !j->cancel && dest && g_strcmp0(j->err.name, MIG_ERROR_NOT_SUPPORTED) != 0)
                return (void) mig_peer_call(dest, "ListDomainEvents", PEER_STEP_TIMEOUT_USEC, on_dest_events, j,
                                            g_variant_new("(st)", mig->domain_uuid, (guint64) mig->created_usec));
        if (j->result < 0)
                return live_fail(j, j->err.name, j->err.message);
        MigPeer *peer = mig_peers_find(j->m->peers, mig->destination);
        mig_peer_call(peer, "FinishLiveMigration", PEER_STEP_TIMEOUT_USEC, on_dest_finished, j, 
                      g_variant_new("(s)", mig->id));
}

static void migrate_start(LiveJob *j) {
        MigMigration *mig = live_mig(j);
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
        mig_worker_submit(j->m->worker, migrate_run, migrate_done, j, NULL);
}

/* --------------------------------------------------------------- prepare */

static void on_prepared(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        LiveJob *j = userdata;
        if (error)
                return live_fail(j, error->name, error->message);
        migrate_start(j);
}

static void send_prepare(LiveJob *j) {
        MigMigration *mig = live_mig(j);
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
        MigMigration *mig = live_mig(j);
        if (!node)
                return live_fail(j, error->name, error->message);
        manager_set_destination(m, mig, node);
        send_prepare(j);
}

static void prepare_start(LiveJob *j) {
        MigMigration *mig = live_mig(j);
        if (manager_transition(j->m, mig, "preparing", "", "a slot is free: preparing the destination") < 0)
                return live_fail(j, MIG_ERROR_STORE, "cannot record the preparation");
        if (*mig->destination)
                return send_prepare(j);
        MigNeeds needs = {j->info->memory, j->info->vcpus,
                          j->opts.block ? mig_disks_data_bytes(j->disks) : 0};
        mig_scheduler_pick(j->m, &needs, on_scheduled, j);
}

/* --------------------------------------------------------------- the queue */

static unsigned running_count(Manager *m) {
        GHashTableIter it;
        MigMigration *mig;
        unsigned n = 0;
        g_hash_table_iter_init(&it, m->migrations);
        while (g_hash_table_iter_next(&it, NULL, (gpointer *) &mig))
                n += strcmp(mig->kind, "live") == 0 && strcmp(mig->role, "source") == 0 &&
                     (strcmp(mig->status, "preparing") == 0 || strcmp(mig->status, "running") == 0);
        return n;
}

/* Starts the oldest queued migrations while slots are free. */
static void start_queued(Manager *m) {
        while (live_jobs && running_count(m) < m->config->max_concurrent_migrations) {
                LiveJob *oldest = NULL;
                GHashTableIter it;
                LiveJob *j;
                g_hash_table_iter_init(&it, live_jobs);
                while (g_hash_table_iter_next(&it, NULL, (gpointer *) &j)) {
                        MigMigration *mig = live_mig(j);
                        if (mig && strcmp(mig->status, "queued") == 0 &&
                            (!oldest || mig->created_usec < live_mig(oldest)->created_usec))
                                oldest = j;
                }
                if (!oldest)
                        return;
                prepare_start(oldest);
        }
}

/* --------------------------------------------------------------- start */

static int measure_disks(LiveJob *j) {
        j->disks = g_ptr_array_ref(j->info->disks);
        for (guint i = 0; i < j->disks->len; i++) {
                MigDisk *d = j->disks->pdata[i];
                if (!mig_disk_path_allowed(d->path, j->m->config->image_directory) ||
                    !mig_disk_format_supported(d->format)) {
                        mig_virt_error_clear(&j->err);
                        j->err.name = MIG_ERROR_NOT_SUPPORTED;
                        j->err.message =
                                g_strdup_printf("Disk %s cannot be migrated: only raw and qcow2 files "
                                                "inside %s are.",
                                                d->path, j->m->config->image_directory);
                        return -EINVAL;
                }
                int r = mig_disk_measure(d, &j->err);
                if (r >= 0)
                        r = mig_virt_disk_capacity(j->m->virt, j->info->uuid, d->path, &d->size, &j->err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void inspect_run(void *data) {
        LiveJob *j = data;
        j->result = mig_virt_lookup(j->m->virt, j->domain, &j->info, &j->err);
        if (j->result == 0)
                j->result = measure_disks(j);
}

static MigMigration *new_record(LiveJob *j) {
        MigMigration *mig = mig_migration_new();
        mig->id = mig_id_new();
        mig->domain_name = g_strdup(j->info->name);
        mig->domain_uuid = g_strdup(j->info->uuid);
        mig->kind = g_strdup("live");
        mig->role = g_strdup("source");
        mig->source = g_strdup(manager_node(j->m));
        mig->destination = g_strdup(j->destination);
        mig_set_string(&mig->status, "queued");
        mig->was_running = true;
        /* Only a block migration's disks are recorded: they are deleted here once it completed
         * (shared disks are the destination's too and never touched). */
        if (j->opts.block) {
                g_free(mig->disks_json);
                mig->disks_json = mig_disks_to_json(j->disks);
        }
        mig->bytes_total = j->info->memory + (j->opts.block ? mig_disks_data_bytes(j->disks) : 0);
        mig->created_usec = mig->updated_usec = mig_now_usec();
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
                        g_hash_table_replace(live_jobs, j->id, j);
                        g_autofree char *path = bus_migration_path(j->id);
                        (void) sd_bus_reply_method_return(j->request, "o", path);
                        return start_queued(j->m);
                }
        }
        (void) sd_bus_reply_method_error(j->request, &e);
        live_job_free(j);
}

int live_source_start(Manager *m, sd_bus_message *request, const char *domain, const char *destination,
                      const MigLiveOptions *o, sd_bus_error *error) {
        LiveJob *j = live_job_new(m);
        j->request = sd_bus_message_ref(request);
        j->domain = g_strdup(domain);
        j->destination = g_strdup(destination);
        j->opts = *o;
        mig_worker_submit(m->worker, inspect_run, inspect_done, j, NULL);
        return 1;
}

/* --------------------------------------------------------------- abort, force-complete */

int live_source_abort(Manager *m, sd_bus_message *request, MigMigration *mig, sd_bus_error *error) {
        LiveJob *j = live_jobs ? g_hash_table_lookup(live_jobs, mig->id) : NULL;
        if (!j)
                return sd_bus_error_setf(error, MIG_ERROR_CONFLICT, "Migration %s is %s: nothing to abort.",
                                         mig->id, mig->status);
        j->cancel = true;
        g_ptr_array_add(j->waiters, sd_bus_message_ref(request));
        g_message("Migration %s: abort requested.", mig->id);
        if (j->migrating)
                take_step(j, STEP_ABORT, 0, g_strdup("abort requested by an operator"));
        else if (strcmp(mig->status, "queued") == 0)
                live_fail(j, NULL, NULL);
        return 1;
}

typedef struct ForceCall {
        Manager *m;
        char *id, *uuid;
        bool postcopy;
        sd_bus_message *request;
        int result;
        MigVirtError err;
} ForceCall;

static void force_run(void *data) {
        ForceCall *f = data;
        f->result = mig_virt_force_complete(f->m->virt, f->uuid, f->postcopy, &f->err);
}

static void force_done(void *data) {
        ForceCall *f = data;
        MigMigration *mig = manager_find_migration(f->m, f->id);
        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
        if (f->result < 0) {
                mig_virt_error_to_bus(&f->err, &e);
                (void) sd_bus_reply_method_error(f->request, &e);
        } else {
                if (mig)
                        manager_transition(f->m, mig, mig->status, NULL,
                                           f->postcopy ? "force-complete: switched to post-copy"
                                                       : "force-complete: the domain is paused to finish");
                (void) sd_bus_reply_method_return(f->request, NULL);
        }
        sd_bus_message_unref(f->request);
        mig_virt_error_clear(&f->err);
        g_free(f->id);
        g_free(f->uuid);
        g_free(f);
}

int live_source_force_complete(Manager *m, sd_bus_message *request, MigMigration *mig, sd_bus_error *error) {
        LiveJob *j = live_jobs ? g_hash_table_lookup(live_jobs, mig->id) : NULL;
        if (!j || !j->migrating)
                return sd_bus_error_setf(error, MIG_ERROR_CONFLICT, "Migration %s is not running.", mig->id);
        ForceCall *f = g_new0(ForceCall, 1);
        f->m = m;
        f->id = g_strdup(mig->id);
        f->uuid = g_strdup(j->info->uuid);
        f->postcopy = j->opts.postcopy && !j->postcopy_started;
        j->postcopy_started = j->postcopy_started || j->opts.postcopy;
        f->request = sd_bus_message_ref(request);
        mig_worker_submit(m->worker, force_run, force_done, f, NULL);
        return 1;
}

/* --------------------------------------------------------------- restart */

/* libvirt's peer-to-peer migration goes on inside libvirtd without us. After a restart,
 * or when the destination could not confirm the result, the outcome is decided from
 * both nodes' views of the domain by reconcile_live_outcome(); the record stays
 * "running" until they agree. */
#define RECOVER_RETRY_USEC (5 * USEC_PER_SEC)

typedef struct Recover {
        Manager *m;
        char *id;
        char *uuid;
        char *name;
        bool active_job;
        char *view;       /* this node's view */
        LiveOutcome what; /* the decision, acted on by recover_act_run */
        int result;
        MigVirtError err;
} Recover;

static void recover_free(Recover *r) {
        g_free(r->id);
        g_free(r->uuid);
        g_free(r->name);
        g_free(r->view);
        mig_virt_error_clear(&r->err);
        g_free(r);
}

static void recover_one(Manager *m, const char *id, const char *uuid);

static void recover_look_run(void *data) {
        Recover *r = data;
        MigDomainInfo *info = NULL;
        MigVirtError err = {0};
        bool here = mig_virt_lookup(r->m->virt, r->uuid, &info, &err) == 0;
        MigJobStats s = {0};
        r->active_job = here && mig_virt_job_stats(r->m->virt, r->uuid, &s, &err) == 0 && s.active;
        r->view = g_strdup(mig_domain_view(here ? info : NULL));
        mig_domain_info_free(info);
        mig_virt_error_clear(&err);
}

static int on_recover_again(sd_event_source *s, uint64_t usec, void *userdata) {
        Recover *r = userdata;
        recover_one(r->m, r->id, r->uuid);
        recover_free(r);
        return sd_event_source_set_enabled(s, SD_EVENT_OFF); /* floating: freed with the loop */
}

static void recover_later(Recover *r, uint64_t usec) {
        Recover *again = g_new0(Recover, 1);
        *again = (Recover){.m = r->m, .id = g_strdup(r->id), .uuid = g_strdup(r->uuid)};
        (void) sd_event_add_time_relative(r->m->event, NULL, CLOCK_MONOTONIC, usec, 0, on_recover_again,
                                          again);
}

/* The job that finishes the record (replies, queue) as a normal migration would. */
static LiveJob *recover_job(Recover *r) {
        LiveJob *j = live_jobs ? g_hash_table_lookup(live_jobs, r->id) : NULL;
        if (j)
                return j;
        j = live_job_new(r->m);
        j->id = g_strdup(r->id);
        j->info = g_new0(MigDomainInfo, 1);
        j->info->uuid = g_strdup(r->uuid);
        g_hash_table_replace(live_jobs, j->id, j);
        return j;
}

/* This node's part of the outcome, on the worker: drop the stale copy or resume ours. */
static void recover_act_run(void *data) {
        Recover *r = data;
        if (r->what == LIVE_COMPLETED_DROP_SOURCE)
                r->result = mig_virt_remove(r->m->virt, r->uuid, &r->err);
        else if (r->what == LIVE_ROLLBACK_RESUME)
                r->result = mig_virt_resume(r->m->virt, r->uuid, &r->err);
}

static void recover_act_done(void *data) {
        Recover *r = data;
        MigMigration *mig = manager_find_migration(r->m, r->id);
        if (!mig || mig_status_is_final(mig->status))
                return;
        if (r->result < 0) {
                g_warning("Migration %s: %s; trying again.", r->id, r->err.message);
                return recover_later(r, RECOVER_RETRY_USEC);
        }
        LiveJob *j = recover_job(r);
        MigPeer *peer = mig_peers_find(r->m->peers, mig->destination);
        switch (r->what) {
        case LIVE_COMPLETED:
        case LIVE_COMPLETED_DROP_SOURCE:
        case LIVE_COMPLETED_RESUME_DEST: /* the destination's Finish resumes a paused copy */
                mig_peer_call(peer, "FinishLiveMigration", PEER_STEP_TIMEOUT_USEC, on_dest_finished, j, 
                      g_variant_new("(s)", r->id));
                break;
        default:
                live_fail(j, MIG_ERROR_INTERNAL,
                          r->what == LIVE_ROLLBACK_RESUME
                                  ? "the migration did not complete; the source's paused copy was resumed"
                                  : "the migration did not complete");
        }
}

static void on_dest_view(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        Recover *r = userdata;
        MigMigration *mig = manager_find_migration(r->m, r->id);
        const char *dest_view = NULL, *why = NULL;
        if (reply && g_variant_is_of_type(reply, G_VARIANT_TYPE("(s)")))
                g_variant_get(reply, "(&s)", &dest_view);
        r->what = reconcile_live_outcome(r->view, dest_view, &why);
        if (mig && !mig_status_is_final(mig->status)) {
                reconcile_set_view(r->m, mig, "source", r->view);
                if (dest_view)
                        reconcile_set_view(r->m, mig, "destination", dest_view);
        }
        if (mig)
                g_message("Migration %s: source %s, destination %s: %s.", r->id, r->view,
                          dest_view ? dest_view : "unknown", why);
        if (!mig || mig_status_is_final(mig->status))
                return recover_free(r);
        if (r->what == LIVE_WAIT || r->what == LIVE_CONFLICT) {
                if (r->what == LIVE_CONFLICT)
                        reconcile_raise_conflict(r->m, mig->domain_name, r->uuid, why);
                recover_later(r, RECOVER_RETRY_USEC);
                return recover_free(r);
        }
        reconcile_clear_conflict(r->m, mig->domain_name, r->uuid, why);
        mig_worker_submit(r->m->worker, recover_act_run, recover_act_done, r, (GDestroyNotify) recover_free);
}

static void recover_look_done(void *data) {
        Recover *r = data;
        MigMigration *mig = manager_find_migration(r->m, r->id);
        if (!mig || mig_status_is_final(mig->status))
                return recover_free(r);
        if (r->active_job) /* libvirt still migrates: look again in a second */
                return recover_later(r, USEC_PER_SEC), recover_free(r);
        MigPeer *peer = mig_peers_find(r->m->peers, mig->destination);
        if (!peer || strcmp(mig->status, "queued") == 0) {
                r->what = LIVE_ROLLBACK; /* never reached libvirt, or the destination is gone */
                return mig_worker_submit(r->m->worker, recover_act_run, recover_act_done, r,
                                         (GDestroyNotify) recover_free);
        }
        mig_peer_call(peer, "GetDomainView", PEER_STEP_TIMEOUT_USEC, on_dest_view, r,
                      g_variant_new("(s)", r->uuid));
}

static void recover_after(Manager *m, const char *id, const char *uuid) {
        Recover r = {.m = m, .id = (char *) id, .uuid = (char *) uuid};
        recover_later(&r, RECOVER_RETRY_USEC);
}

static void recover_one(Manager *m, const char *id, const char *uuid) {
        Recover *r = g_new0(Recover, 1);
        *r = (Recover){.m = m, .id = g_strdup(id), .uuid = g_strdup(uuid)};
        mig_worker_submit(m->worker, recover_look_run, recover_look_done, r, NULL);
}

void live_source_resume_all(Manager *m) {
        GHashTableIter it;
        MigMigration *mig;
        g_autoptr(GPtrArray) todo = g_ptr_array_new();
        g_hash_table_iter_init(&it, m->migrations);
        while (g_hash_table_iter_next(&it, NULL, (gpointer *) &mig))
                if (strcmp(mig->kind, "live") == 0 && strcmp(mig->role, "source") == 0 &&
                    !mig_status_is_final(mig->status))
                        g_ptr_array_add(todo, mig);
        for (guint i = 0; i < todo->len; i++) {
                mig = todo->pdata[i];
                recover_one(m, mig->id, mig->domain_uuid);
        }
}

void live_source_free_jobs(Manager *m) {
        g_clear_pointer(&live_jobs, g_hash_table_unref);
}
