/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Cold migration, source side: the state machine of cold.h. Blocking work
 * (libvirt, disk copies) runs on the worker; each step's status is committed to
 * the store before the step is taken, so a restart knows what to resume or undo. */

#include <errno.h>
#include <string.h>

#include "bus-api.h"
#include "bus-variant.h"
#include "cold.h"
#include "disk.h"
#include "errors.h"
#include "id.h"
#include "macro.h"
#include "scheduler.h"
#include "validate.h"

#define PEER_STEP_TIMEOUT_USEC (60 * USEC_PER_SEC)
#define VERIFY_TIMEOUT_USEC (30 * 60 * USEC_PER_SEC)
#define PROGRESS_INTERVAL_USEC (500 * USEC_PER_MSEC)
#define FINISH_RETRY_USEC (5 * USEC_PER_SEC)

typedef struct ColdJob ColdJob;
struct ColdJob {
        Manager *m;
        char *id;
        char *domain;      /* as the caller named it */
        char *destination; /* as the caller asked ("" = the scheduler picks) */
        char *definition;  /* the domain's persistent XML, read before the record is made */
        GPtrArray *disks;
        MigDomainInfo *info;
        char *dest_uri;    /* the destination's libvirt, for the disk streams */
        char **dest_paths; /* where the destination keeps each disk (its [Rewrite] applied) */
        MigCopyProgress progress;
        sd_event_source *progress_timer;
        sd_event_source *retry_timer;
        sd_bus_message *request; /* Migrate, replied once recorded */
        GPtrArray *waiters;      /* sd_bus_message*: Abort calls, replied at the end */
        bool cancel;
        GPtrArray *checksums; /* local, char* */
        int result;
        MigVirtError err;
};

static GHashTable *jobs; /* id → ColdJob*, one manager per process */

static void job_free(ColdJob *j) {
        if (!j)
                return;
        g_free(j->id);
        g_free(j->domain);
        g_free(j->destination);
        g_free(j->definition);
        if (j->disks)
                g_ptr_array_unref(j->disks);
        mig_domain_info_free(j->info);
        g_free(j->dest_uri);
        g_strfreev(j->dest_paths);
        sd_event_source_disable_unref(j->progress_timer);
        sd_event_source_disable_unref(j->retry_timer);
        sd_bus_message_unref(j->request);
        if (j->waiters)
                g_ptr_array_unref(j->waiters);
        if (j->checksums)
                g_ptr_array_unref(j->checksums);
        mig_virt_error_clear(&j->err);
        g_free(j);
}

static void unref_source(gpointer p) {
        sd_event_source_disable_unref(p);
}

static ColdJob *job_new(Manager *m, const char *id) {
        ColdJob *j = g_new0(ColdJob, 1);
        j->m = m;
        j->id = g_strdup(id);
        j->waiters = bus_requests_new();
        if (!jobs)
                jobs = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify) job_free);
        if (id)
                g_hash_table_replace(jobs, j->id, j);
        return j;
}

static MigMigration *job_mig(ColdJob *j) {
        return manager_find_migration(j->m, j->id);
}

/* The job is over: answer the waiters and forget it. */
static void job_end(ColdJob *j, const sd_bus_error *error) {
        bus_reply_all(j->waiters, error);
        if (jobs && j->id && g_hash_table_lookup(jobs, j->id) == j)
                g_hash_table_remove(jobs, j->id);
        else
                job_free(j);
}

static MigPeer *job_peer(ColdJob *j) {
        MigMigration *mig = job_mig(j);
        return mig ? mig_peers_find(j->m->peers, mig->destination) : NULL;
}

/* ---------------------------------------------------------------- roll back */

static void rollback_restart_run(void *data) {
        ColdJob *j = data;
        MigMigration *mig = job_mig(j);
        j->result = mig && mig->was_running ? mig_virt_start(j->m->virt, mig->domain_uuid, &j->err) : 0;
}

static void rollback_done(void *data) {
        ColdJob *j = data;
        MigMigration *mig = job_mig(j);
        const char *status = j->cancel ? "cancelled" : "error";
        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
        if (j->result < 0) {
                g_autofree char *msg =
                        g_strdup_printf("%s; and the domain could not be started again on %s: %s",
                                        mig->error_message, manager_node(j->m), j->err.message);
                manager_record_failure(mig, mig->error_name, msg);
        }
        mig_set_string(&mig->task_state, "");
        manager_transition(j->m, mig, status, "",
                           j->cancel ? "the domain is back on the source as it was"
                                     : "rolled back: the domain is back on the source as it was");
        if (!j->cancel)
                sd_bus_error_set(&e, mig->error_name, mig->error_message);
        job_end(j, j->cancel ? NULL : &e);
}

static void on_dest_aborted(MigPeer *peer, GVariant *reply, const sd_bus_error *error,
                            void *userdata) {
        ColdJob *j = userdata;
        MigMigration *mig = job_mig(j);
        if (error)
                g_warning("Migration %s: the destination could not drop its claim and partial disks yet "
                          "(%s); its "
                          "record stays until it is asked again.",
                          mig->id, error->message);
        /* The destination never got Finish, so it does not run the domain: start it here again. */
        mig_worker_submit(j->m->worker, rollback_restart_run, rollback_done, j, NULL);
}

/* Undoes a migration that failed or was cancelled before Finish was sent. */
static void rollback(ColdJob *j, const char *name, const char *message) {
        MigMigration *mig = job_mig(j);
        if (!j->cancel)
                manager_record_failure(mig, name, message);
        else
                manager_record_failure(mig, MIG_ERROR_CONFLICT, "cancelled by an operator");
        MigPeer *peer = job_peer(j);
        if (!peer)
                return on_dest_aborted(NULL, NULL, NULL, j);
        mig_peer_call(peer, "AbortColdMigration", PEER_STEP_TIMEOUT_USEC, on_dest_aborted, j, 
                      g_variant_new("(ss)", mig->id, j->cancel ? "cancelled" : "error"));
}

static void rollback_from(ColdJob *j, const sd_bus_error *error) {
        rollback(j, error->name, error->message);
}

/* ---------------------------------------------------------------- finish */

static void send_finish(ColdJob *j);

static int on_finish_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        ColdJob *j = userdata;
        j->retry_timer = sd_event_source_disable_unref(j->retry_timer);
        send_finish(j);
        return 0;
}

static void arm_auto_confirm(Manager *m, MigMigration *mig);

static void on_finished(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        ColdJob *j = userdata;
        MigMigration *mig = job_mig(j);
        if (error && strcmp(error->name, MIG_ERROR_PEER_UNREACHABLE) == 0) {
                /* The outcome is unknown: the destination may run the domain. Never start it here;
                 * ask again until the destination answers (Finish is idempotent). */
                g_warning("Migration %s: %s; asking again.", mig->id, error->message);
                (void) sd_event_add_time_relative(j->m->event, &j->retry_timer, CLOCK_MONOTONIC,
                                                  FINISH_RETRY_USEC, 0, on_finish_retry, j);
                return;
        }
        if (error)
                return rollback_from(j, error); /* refused: the destination removed what it defined */
        mig->bytes_processed = mig->bytes_total;
        mig->bytes_remaining = 0;
        mig->progress = 100.0;
        manager_transition(
                j->m, mig, "finished", "",
                mig->was_running
                        ? "the domain runs on the destination: VERIFY_RESIZE, confirm or revert"
                        : "the domain is defined on the destination: VERIFY_RESIZE, confirm or revert");
        arm_auto_confirm(j->m, mig);
        job_end(j, NULL);
}

static void send_finish(ColdJob *j) {
        MigMigration *mig = job_mig(j);
        MigPeer *peer = job_peer(j);
        if (!peer) {
                g_warning("Migration %s: destination %s is no longer configured.", mig->id,
                          mig->destination);
                return;
        }
        mig_peer_call(peer, "FinishColdMigration", PEER_STEP_TIMEOUT_USEC, on_finished, j, 
                      g_variant_new("(ssb)", mig->id, mig->domain_xml, (gboolean) mig->was_running));
}

/* ---------------------------------------------------------------- verify */

/* Both sides checksum at the same time: the destination its copy, this node the original. */
typedef struct VerifyStep {
        ColdJob *job;
        unsigned pending;
        char **remote;
        char *remote_error_name, *remote_error;
} VerifyStep;

static void verify_local_run(void *data) {
        ColdJob *j = ((VerifyStep *) data)->job;
        j->checksums = g_ptr_array_new_with_free_func(g_free);
        for (guint i = 0; j->result == 0 && i < j->disks->len; i++) {
                char *hex = NULL;
                j->result = mig_disk_checksum(((MigDisk *) j->disks->pdata[i])->path, &hex, &j->err);
                if (hex)
                        g_ptr_array_add(j->checksums, hex);
        }
}

static void verify_step_free(VerifyStep *v) {
        g_strfreev(v->remote);
        g_free(v->remote_error_name);
        g_free(v->remote_error);
        g_free(v);
}

/* Rolls back and returns false when the copies differ or a side failed. */
static bool verify_compare(VerifyStep *v) {
        ColdJob *j = v->job;
        if (v->remote_error)
                return rollback(j, v->remote_error_name, v->remote_error), false;
        if (j->result < 0)
                return rollback(j, j->err.name, j->err.message), false;
        for (guint i = 0; i < j->checksums->len; i++)
                if (!v->remote || g_strv_length(v->remote) != j->checksums->len ||
                    strcmp(v->remote[i], j->checksums->pdata[i]) != 0) {
                        g_autofree char *msg = g_strdup_printf("the copy of %s differs from the original",
                                                               ((MigDisk *) j->disks->pdata[i])->path);
                        return rollback(j, MIG_ERROR_INTERNAL, msg), false;
                }
        if (j->cancel)
                return rollback(j, NULL, NULL), false;
        return true;
}

static void verify_one_done(void *data) {
        VerifyStep *v = data;
        if (--v->pending > 0)
                return;
        ColdJob *j = v->job;
        bool same = verify_compare(v);
        verify_step_free(v);
        if (!same)
                return;
        /* From here on the domain belongs to the destination. */
        if (manager_transition(j->m, job_mig(j), "post-migrating", "resize_migrated",
                               "disks copied and verified") < 0)
                return rollback(j, MIG_ERROR_STORE, "cannot record the verified copy");
        send_finish(j);
}

static void on_verified(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        VerifyStep *v = userdata;
        if (error) {
                v->remote_error_name = g_strdup(error->name);
                v->remote_error = g_strdup(error->message);
        } else if (g_variant_is_of_type(reply, G_VARIANT_TYPE("(as)")))
                g_variant_get(reply, "(^as)", &v->remote);
        verify_one_done(v);
}

static void verify_start(ColdJob *j) {
        VerifyStep *v = g_new0(VerifyStep, 1);
        v->job = j;
        v->pending = 2;
        mig_worker_submit(j->m->worker, verify_local_run, verify_one_done, v, NULL);
        mig_peer_call(job_peer(j), "VerifyColdMigration", VERIFY_TIMEOUT_USEC, on_verified, v,
                      g_variant_new("(s)", j->id));
}

/* ---------------------------------------------------------------- copy */

static int on_progress(sd_event_source *s, uint64_t usec, void *userdata) {
        ColdJob *j = userdata;
        MigMigration *mig = job_mig(j);
        uint64_t done = (uint64_t) __atomic_load_n(&j->progress.bytes_done, __ATOMIC_RELAXED);
        if (mig && done != mig->bytes_processed) {
                mig->bytes_processed = MIN(done, mig->bytes_total);
                mig->bytes_remaining = mig->bytes_total - mig->bytes_processed;
                double p = mig->bytes_total
                                   ? 100.0 * (double) mig->bytes_processed / (double) mig->bytes_total
                                   : 0;
                mig->progress = MAX(mig->progress, MIN(p, 99.0)); /* 100 only when finished */
                mig->updated_usec = mig_now_usec();
                bus_migration_emit_changed(j->m, mig);
        }
        if (!s)
                return 0;
        /* A timer fires once: arm it again. */
        int r = sd_event_source_set_time_relative(s, PROGRESS_INTERVAL_USEC);
        return r < 0 ? r : sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

static char *libvirt_uri_of(const MigPeerConfig *peer) {
        return g_strdup_printf("qemu+ssh://%s/system?no_tty=1", peer->address);
}

static void copy_run(void *data) {
        ColdJob *j = data;
        j->result = mig_virt_shutdown(j->m->virt, j->info->uuid, j->m->config->shutdown_timeout, &j->err);
        if (j->result < 0 || g_atomic_int_get(&j->progress.cancel))
                return;
        const char *uri = j->dest_uri;
        virConnectPtr dconn = virConnectOpen(uri);
        if (!dconn) {
                j->result = -EIO;
                mig_virt_error_clear(&j->err);
                j->err.name = MIG_ERROR_PEER_UNREACHABLE;
                j->err.message = g_strdup_printf("Cannot reach libvirt at %s", uri);
                return;
        }
        for (guint i = 0; j->result == 0 && i < j->disks->len; i++)
                j->result =
                        mig_disk_upload(dconn, j->disks->pdata[i], j->dest_paths[i], &j->progress, &j->err);
        virConnectClose(dconn);
}

static void copy_done(void *data) {
        ColdJob *j = data;
        j->progress_timer = sd_event_source_disable_unref(j->progress_timer);
        on_progress(NULL, 0, j);
        if (j->cancel)
                return rollback(j, NULL, NULL);
        if (j->result < 0)
                return rollback(j, j->err.name, j->err.message);
        verify_start(j);
}

static void copy_start(ColdJob *j) {
        MigMigration *mig = job_mig(j);
        if (j->cancel)
                return rollback(j, NULL, NULL);
        if (manager_transition(j->m, mig, "migrating", "resize_migrating",
                               mig->was_running ? "shutting the domain down, then copying its disks"
                                                : "copying the disks of the shut-off domain") < 0)
                return rollback(j, MIG_ERROR_STORE, "cannot record the start of the copy");
        const MigPeerConfig *pc = mig_config_find_peer(j->m->config, mig->destination);
        g_free(j->dest_uri);
        j->dest_uri = libvirt_uri_of(pc);
        (void) sd_event_add_time_relative(j->m->event, &j->progress_timer, CLOCK_MONOTONIC,
                                          PROGRESS_INTERVAL_USEC, 0, on_progress, j);
        mig_worker_submit(j->m->worker, copy_run, copy_done, j, NULL);
}

/* ---------------------------------------------------------------- prepare */

static void on_prepared(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        ColdJob *j = userdata;
        if (error) /* the domain was not touched; the destination removes what it made */
                return rollback_from(j, error);
        g_auto(GStrv) paths = NULL;
        if (g_variant_is_of_type(reply, G_VARIANT_TYPE("(as)")))
                g_variant_get(reply, "(^as)", &paths);
        if (!paths || g_strv_length(paths) != j->disks->len)
                return rollback(j, MIG_ERROR_INTERNAL, "the destination did not say where the disks go");
        g_strfreev(j->dest_paths);
        j->dest_paths = g_steal_pointer(&paths);
        copy_start(j);
}

static void send_prepare(ColdJob *j) {
        MigMigration *mig = job_mig(j);
        MigPeer *peer = job_peer(j);
        if (!peer)
                return rollback(j, MIG_ERROR_INVALID_ARGUMENT, "the destination is not a configured peer");
        mig_peer_call(peer, "PrepareColdMigration", PEER_STEP_TIMEOUT_USEC, on_prepared, j,
                      g_variant_new("(sssstu@a(sstt))", mig->id, mig->domain_name, mig->domain_uuid,
                                    manager_node(j->m), (guint64) j->info->memory, (guint32) j->info->vcpus,
                                    mig_disks_to_specs(j->disks)));
}

/* ---------------------------------------------------------------- start */

static void on_scheduled(Manager *m, const char *node, const sd_bus_error *error, void *userdata) {
        ColdJob *j = userdata;
        MigMigration *mig = job_mig(j);
        if (!node)
                return rollback_from(j, error);
        manager_set_destination(m, mig, node);
        send_prepare(j);
}

static void choose_destination(ColdJob *j) {
        MigMigration *mig = job_mig(j);
        if (*mig->destination)
                return send_prepare(j);
        MigNeeds needs = {j->info->memory, j->info->vcpus, mig_disks_data_bytes(j->disks)};
        mig_scheduler_pick(j->m, &needs, on_scheduled, j);
}

static int check_disks(ColdJob *j) {
        for (guint i = 0; i < j->disks->len; i++) {
                MigDisk *d = j->disks->pdata[i];
                if (!mig_disk_path_allowed(d->path, j->m->config->image_directory) ||
                    !mig_disk_format_supported(d->format)) {
                        mig_virt_error_clear(&j->err);
                        j->err.name = MIG_ERROR_NOT_SUPPORTED;
                        j->err.message = g_strdup_printf(
                                "Disk %s cannot be migrated cold: only raw and qcow2 files inside %s are.",
                                d->path, j->m->config->image_directory);
                        return -EINVAL;
                }
                int r = mig_disk_measure(d, &j->err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void inspect_run(void *data) {
        ColdJob *j = data;
        j->result = mig_virt_lookup(j->m->virt, j->domain, &j->info, &j->err);
        if (j->result == 0)
                j->result = mig_virt_get_definition(j->m->virt, j->info->uuid, &j->definition, &j->err);
        if (j->result == 0) {
                j->disks = g_ptr_array_ref(j->info->disks);
                j->result = check_disks(j);
        }
}

static MigMigration *new_source_record(ColdJob *j, const char *destination) {
        MigMigration *mig = mig_migration_new();
        mig->id = mig_id_new();
        mig->domain_name = g_strdup(j->info->name);
        mig->domain_uuid = g_strdup(j->info->uuid);
        mig->kind = g_strdup("cold");
        mig->role = g_strdup("source");
        mig->source = g_strdup(manager_node(j->m));
        mig->destination = g_strdup(destination);
        mig_set_string(&mig->status, "pre-migrating");
        mig_set_string(&mig->task_state, "resize_prep");
        mig->was_running = j->info->active;
        mig_set_string(&mig->domain_xml, j->definition);
        g_free(mig->disks_json);
        mig->disks_json = mig_disks_to_json(j->disks);
        mig->bytes_total = mig->bytes_remaining = mig_disks_data_bytes(j->disks);
        mig->created_usec = mig->updated_usec = mig_now_usec();
        return mig;
}

static int refuse_state(ColdJob *j, sd_bus_error *e) {
        const char *state = mig_domain_state_name(j->info);
        if (strcmp(state, "ACTIVE") != 0 && strcmp(state, "SHUTOFF") != 0)
                return sd_bus_error_setf(e, MIG_ERROR_CONFLICT,
                                         "Domain %s is %s; a cold migration needs it ACTIVE or SHUTOFF.",
                                         j->info->name, state);
        if (!j->info->persistent)
                return sd_bus_error_setf(
                        e, MIG_ERROR_CONFLICT,
                        "Domain %s is transient; only defined domains can be migrated cold.", j->info->name);
        return manager_refuse_busy(j->m, j->info, e);
}

static void inspect_done(void *data) {
        ColdJob *j = data;
        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
        if (j->result < 0)
                mig_virt_error_to_bus(&j->err, &e);
        else if (refuse_state(j, &e) >= 0) {
                MigMigration *mig = new_source_record(j, j->destination);
                j->id = g_strdup(mig->id);
                if (manager_add_migration(j->m, mig, "requested", &e) >= 0) {
                        g_hash_table_replace(jobs, j->id, j);
                        g_autofree char *path = bus_migration_path(j->id);
                        (void) sd_bus_reply_method_return(j->request, "o", path);
                        return choose_destination(j);
                }
        }
        (void) sd_bus_reply_method_error(j->request, &e);
        job_free(j);
}

int cold_source_start(Manager *m, sd_bus_message *request, const char *domain, const char *destination,
                      sd_bus_error *error) {
        ColdJob *j = job_new(m, NULL);
        j->request = sd_bus_message_ref(request);
        j->domain = g_strdup(domain);
        j->destination = g_strdup(destination);
        mig_worker_submit(m->worker, inspect_run, inspect_done, j, NULL);
        return 1;
}

/* ---------------------------------------------------------------- confirm */

static void confirm_run(void *data) {
        ColdJob *j = data;
        j->result = mig_virt_undefine(j->m->virt, j->info->uuid, &j->err);
        virConnectPtr conn = j->result == 0 ? mig_virt_connection(j->m->virt, &j->err) : NULL;
        for (guint i = 0; conn && j->result == 0 && i < j->disks->len; i++)
                j->result = mig_disk_delete(conn, ((MigDisk *) j->disks->pdata[i])->path, &j->err);
        if (conn)
                virConnectClose(conn);
}

static void on_dest_confirmed(MigPeer *peer, GVariant *reply, const sd_bus_error *error,
                              void *userdata) {
        ColdJob *j = userdata;
        MigMigration *mig = job_mig(j);
        if (error)
                g_warning("Migration %s: the destination was not told of the confirm (%s).", mig->id,
                          error->message);
        manager_transition(j->m, mig, "confirmed", "", "the source's definition and disks are removed");
        job_end(j, NULL);
}

static void confirm_done(void *data) {
        ColdJob *j = data;
        MigMigration *mig = job_mig(j);
        if (j->result < 0) {
                g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
                g_autofree char *msg = g_strdup_printf("confirm failed: %s", j->err.message);
                manager_transition(j->m, mig, "finished", "", msg);
                mig_virt_error_to_bus(&j->err, &e);
                return job_end(j, &e);
        }
        mig_peer_call(job_peer(j), "ConfirmColdMigration", PEER_STEP_TIMEOUT_USEC, on_dest_confirmed, j, 
                      g_variant_new("(s)", mig->id));
}

/* A job for a step on a finished migration, from the record alone. */
static ColdJob *job_for_record(Manager *m, MigMigration *mig, sd_bus_message *request) {
        ColdJob *j = job_new(m, mig->id);
        j->info = g_new0(MigDomainInfo, 1);
        j->info->uuid = g_strdup(mig->domain_uuid);
        j->info->name = g_strdup(mig->domain_name);
        j->disks = mig_disks_from_json(mig->disks_json);
        if (request)
                g_ptr_array_add(j->waiters, sd_bus_message_ref(request));
        return j;
}

static void confirm_begin(Manager *m, MigMigration *mig, sd_bus_message *request, const char *why) {
        ColdJob *j = job_for_record(m, mig, request);
        manager_transition(m, mig, "confirming", "", why);
        mig_worker_submit(m->worker, confirm_run, confirm_done, j, NULL);
}

int cold_source_confirm(Manager *m, sd_bus_message *request, MigMigration *mig, sd_bus_error *error) {
        confirm_begin(m, mig, request, "confirmed by an operator");
        return 1;
}

/* ---------------------------------------------------------------- revert */

static void revert_start_run(void *data) {
        ColdJob *j = data;
        MigMigration *mig = job_mig(j);
        (void) mig;
        j->result = j->info->active ? mig_virt_start(j->m->virt, j->info->uuid, &j->err) : 0;
}

static void revert_done(void *data) {
        ColdJob *j = data;
        MigMigration *mig = job_mig(j);
        if (j->result < 0) {
                g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
                manager_record_failure(mig, j->err.name, j->err.message);
                manager_transition(j->m, mig, "error", "",
                                   "reverted, but the domain cannot start on the source");
                mig_virt_error_to_bus(&j->err, &e);
                return job_end(j, &e);
        }
        manager_transition(j->m, mig, "reverted", "", "the domain is back on the source as it was");
        job_end(j, NULL);
}

static void on_dest_reverted(MigPeer *peer, GVariant *reply, const sd_bus_error *error,
                             void *userdata) {
        ColdJob *j = userdata;
        MigMigration *mig = job_mig(j);
        if (error) {
                /* The destination's copy may still run: the source must stay off. */
                g_autofree char *msg = g_strdup_printf("revert failed, nothing changed: %s", error->message);
                manager_transition(j->m, mig, "finished", "", msg);
                return job_end(j, error);
        }
        j->info->active = mig->was_running;
        mig_worker_submit(j->m->worker, revert_start_run, revert_done, j, NULL);
}

static void revert_begin(Manager *m, MigMigration *mig, sd_bus_message *request, const char *why) {
        ColdJob *j = job_for_record(m, mig, request);
        manager_transition(m, mig, "reverting", "resize_reverting", why);
        mig_peer_call(job_peer(j), "RevertColdMigration", PEER_STEP_TIMEOUT_USEC, on_dest_reverted, j, 
                      g_variant_new("(s)", mig->id));
}

int cold_source_revert(Manager *m, sd_bus_message *request, MigMigration *mig, sd_bus_error *error) {
        revert_begin(m, mig, request, "reverted by an operator");
        return 1;
}

/* ---------------------------------------------------------------- abort */

int cold_source_abort(Manager *m, sd_bus_message *request, MigMigration *mig, sd_bus_error *error) {
        ColdJob *j = jobs ? g_hash_table_lookup(jobs, mig->id) : NULL;
        if (!j || strcmp(mig->status, "post-migrating") == 0)
                return sd_bus_error_setf(
                        error, MIG_ERROR_CONFLICT,
                        "Migration %s is %s: too late to abort; wait for VERIFY_RESIZE and revert.", mig->id,
                        mig->status);
        j->cancel = true;
        g_atomic_int_set(&j->progress.cancel, 1);
        g_ptr_array_add(j->waiters, sd_bus_message_ref(request));
        g_message("Migration %s: abort requested.", mig->id);
        return 1;
}

/* ---------------------------------------------------------------- auto-confirm */

static GHashTable *confirm_timers; /* id → sd_event_source* */

typedef struct HealthCheck {
        Manager *m;
        char *id;
} HealthCheck;

static bool reply_state_active(GVariant *reply) {
        return g_strcmp0(mig_dict_string(reply, "power-state"), "ACTIVE") == 0;
}

static void on_health(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        HealthCheck *h = userdata;
        MigMigration *mig = manager_find_migration(h->m, h->id);
        if (mig && strcmp(mig->status, "finished") == 0) {
                if (error && strcmp(error->name, MIG_ERROR_PEER_UNREACHABLE) == 0)
                        arm_auto_confirm(h->m, mig); /* ask again later */
                else if (!mig->was_running || (reply && reply_state_active(reply)))
                        confirm_begin(h->m, mig, NULL, "confirmed automatically after ResizeConfirmWindow");
                else
                        revert_begin(h->m, mig, NULL,
                                     "health check failed: the domain does not run on the destination; "
                                     "reverting");
        }
        g_free(h->id);
        g_free(h);
}

static int on_confirm_window(sd_event_source *s, uint64_t usec, void *userdata) {
        HealthCheck *h = userdata;
        MigMigration *mig = manager_find_migration(h->m, h->id);
        g_hash_table_remove(confirm_timers, h->id);
        MigPeer *peer = mig ? mig_peers_find(h->m->peers, mig->destination) : NULL;
        if (!peer || strcmp(mig->status, "finished") != 0)
                return on_health(NULL, NULL, NULL, h), 0;
        mig_peer_call(peer, "DescribeDomain", PEER_STEP_TIMEOUT_USEC, on_health, h,
                      g_variant_new("(s)", mig->domain_uuid));
        return 0;
}

static void arm_auto_confirm(Manager *m, MigMigration *mig) {
        if (m->config->resize_confirm_window == 0)
                return;
        if (!confirm_timers)
                confirm_timers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, unref_source);
        uint64_t due = mig->finished_usec + m->config->resize_confirm_window * USEC_PER_SEC;
        uint64_t now = mig_now_usec();
        HealthCheck *h = g_new0(HealthCheck, 1);
        *h = (HealthCheck){m, g_strdup(mig->id)};
        sd_event_source *s = NULL;
        if (sd_event_add_time(m->event, &s, CLOCK_REALTIME, MAX(due, now + USEC_PER_SEC), USEC_PER_SEC,
                              on_confirm_window, h) < 0) {
                g_free(h->id);
                g_free(h);
                return;
        }
        g_hash_table_replace(confirm_timers, g_strdup(mig->id), s);
}

/* ---------------------------------------------------------------- restart */

static void resume_one(Manager *m, MigMigration *mig) {
        const char *st = mig->status;
        if (strcmp(st, "finished") == 0)
                return arm_auto_confirm(m, mig);
        if (strcmp(st, "confirming") == 0)
                return confirm_begin(m, mig, NULL, "confirm resumed after a restart");
        if (strcmp(st, "reverting") == 0)
                return revert_begin(m, mig, NULL, "revert resumed after a restart");
        ColdJob *j = job_for_record(m, mig, NULL);
        if (strcmp(st, "post-migrating") == 0)
                return send_finish(j); /* the copy was verified: finish it */
        rollback(j, MIG_ERROR_INTERNAL,
                 strcmp(st, "pre-migrating") == 0
                         ? "migrated restarted before the copy began; the domain was not touched"
                         : "migrated restarted during the copy; rolled back");
}

void cold_source_resume_all(Manager *m) {
        g_autoptr(GPtrArray) todo = g_ptr_array_new();
        GHashTableIter it;
        MigMigration *mig;
        g_hash_table_iter_init(&it, m->migrations);
        while (g_hash_table_iter_next(&it, NULL, (gpointer *) &mig))
                if (strcmp(mig->kind, "cold") == 0 && strcmp(mig->role, "source") == 0 &&
                    !mig_status_is_final(mig->status))
                        g_ptr_array_add(todo, mig);
        for (guint i = 0; i < todo->len; i++)
                resume_one(m, todo->pdata[i]);
}

void cold_source_free_jobs(Manager *m) {
        g_clear_pointer(&jobs, g_hash_table_unref);
        g_clear_pointer(&confirm_timers, g_hash_table_unref);
}
