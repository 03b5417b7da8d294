/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Destination side of cold and live migrations: the Peer methods the source daemon calls.
 * This node records its own view of the migration (role "destination"): the
 * record is the claim on memory, vCPUs and disk, held until confirm, revert or
 * abort. Each step is idempotent, so a source that lost an answer can repeat it. */

#include <errno.h>
#include <string.h>

#include "bus-api.h"
#include "cold.h"
#include "disk.h"
#include "errors.h"
#include "live.h"
#include "macro.h"
#include "rewrite.h"
#include "validate.h"

typedef struct DestCall {
        Manager *m;
        sd_bus_message *request;
        char *id;
        GPtrArray *disks; /* MigDisk* */
        char *definition;
        bool start;
        uint64_t memory;
        unsigned vcpus;
        char *name, *uuid, *source;
        const char *kind;                      /* "cold" or "live" */
        bool block;                            /* live: copy the disks (they are not shared) */
        uint64_t downtime_msec, duration_msec; /* live Finish: libvirt's figures */
        GPtrArray *domains;                    /* Prepare: what this node holds */
        MigCapacity capacity;
        GPtrArray *checksums; /* Verify: char* */
        int result;
        MigVirtError err;
} DestCall;

static void dest_call_free(void *data) {
        DestCall *c = data;
        sd_bus_message_unref(c->request);
        g_free(c->id);
        g_free(c->definition);
        g_free(c->name);
        g_free(c->uuid);
        g_free(c->source);
        if (c->disks)
                g_ptr_array_unref(c->disks);
        if (c->domains)
                g_ptr_array_unref(c->domains);
        if (c->checksums)
                g_ptr_array_unref(c->checksums);
        mig_virt_error_clear(&c->err);
        g_free(c);
}

static DestCall *dest_call_new(Manager *m, sd_bus_message *request, const char *id) {
        DestCall *c = g_new0(DestCall, 1);
        c->m = m;
        c->request = sd_bus_message_ref(request);
        c->id = g_strdup(id);
        return c;
}

static void reply_error(DestCall *c) {
        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
        mig_virt_error_to_bus(&c->err, &e);
        (void) sd_bus_reply_method_error(c->request, &e);
}

/* Sets status (and error) of this node's record and commits it, with an event. */
static int dest_transition(Manager *m, MigMigration *mig, const char *status, const char *message) {
        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
        mig_set_string(&mig->status, status);
        if (mig_status_is_final(status) || strcmp(status, "finished") == 0) {
                mig->finished_usec = mig_now_usec();
                mig_set_string(&mig->task_state, "");
        }
        if (strcmp(status, "finished") == 0) {
                mig->bytes_processed = mig->bytes_total;
                mig->bytes_remaining = 0;
                mig->progress = 100.0;
        }
        int r = manager_save_migration(m, mig, message, &e);
        if (r < 0)
                g_warning("Cannot record %s of migration %s: %s", status, mig->id, e.message);
        return r;
}

static MigMigration *find_dest(Manager *m, const char *id, sd_bus_error *error) {
        MigMigration *mig = mig_migration_id_valid(id) ? manager_find_migration(m, id) : NULL;
        if (!mig || strcmp(mig->role, "destination") != 0) {
                sd_bus_error_setf(error, MIG_ERROR_NOT_FOUND, "Node %s has no incoming migration %s.",
                                  manager_node(m), id);
                return NULL;
        }
        return mig;
}

/* --- Prepare --- */

/* The disk specs of a Prepare call. The disks go where this node's [Rewrite]
 * DiskPathPrefixes put them (the hook rewrites a live migration's XML the same way, the
 * cold Finish its definition); Prepare answers with those paths. */
static int read_disks(sd_bus_message *msg, Manager *m, GPtrArray *disks, sd_bus_error *error) {
        int r = sd_bus_message_enter_container(msg, 'a', "(sstt)");
        const char *spec, *format;
        uint64_t size, data;
        while (r > 0 && (r = sd_bus_message_read(msg, "(sstt)", &spec, &format, &size, &data)) > 0) {
                g_autofree char *mapped = mig_rewrite_path(m->config->rewrite, spec);
                const char *path = mapped ? mapped : spec;
                if (!mig_disk_path_allowed(path, m->config->image_directory) ||
                    !mig_disk_format_supported(format))
                        return sd_bus_error_setf(
                                error, MIG_ERROR_INVALID_ARGUMENT,
                                "Disk paths must be canonical files inside %s (raw or qcow2).",
                                m->config->image_directory);
                MigDisk *d = g_new0(MigDisk, 1);
                *d = (MigDisk){g_strdup(path), g_strdup(format), size, data};
                g_ptr_array_add(disks, d);
        }
        return r < 0 ? r : sd_bus_message_exit_container(msg);
}

static uint64_t claimed_memory(Manager *m) {
        GHashTableIter it;
        MigMigration *mig;
        uint64_t sum = 0;
        g_hash_table_iter_init(&it, m->migrations);
        while (g_hash_table_iter_next(&it, NULL, (gpointer *) &mig))
                if (strcmp(mig->role, "destination") == 0 &&
                    (strcmp(mig->status, "pre-migrating") == 0 || strcmp(mig->status, "preparing") == 0))
                        sum += mig->claim_memory;
        return sum;
}

static void prepare_inspect(void *data) {
        DestCall *c = data;
        c->result = mig_virt_list_domains(c->m->virt, &c->domains, &c->err);
        if (c->result == 0)
                c->result =
                        mig_virt_capacity(c->m->virt, c->m->config->image_directory, &c->capacity, &c->err);
}

/* Refuses what this node cannot take: a domain it holds already, too little memory or disk. */
static int prepare_check(DestCall *c, sd_bus_error *error) {
        for (guint i = 0; i < c->domains->len; i++) {
                const MigDomainInfo *d = c->domains->pdata[i];
                if (strcmp(d->name, c->name) == 0 || g_ascii_strcasecmp(d->uuid, c->uuid) == 0)
                        return sd_bus_error_setf(error, MIG_ERROR_CONFLICT,
                                                 "Node %s already has a domain %s (%s).", manager_node(c->m),
                                                 d->name, d->uuid);
        }
        uint64_t claimed = claimed_memory(c->m);
        uint64_t free_mem = c->capacity.memory_free > claimed ? c->capacity.memory_free - claimed : 0;
        if (free_mem < c->memory)
                return sd_bus_error_setf(error, MIG_ERROR_NO_VALID_HOST,
                                         "Node %s has %" PRIu64
                                         " MiB of memory free (after claims), the domain "
                                         "needs %" PRIu64 " MiB.",
                                         manager_node(c->m), free_mem >> 20, c->memory >> 20);
        uint64_t need = mig_disks_data_bytes(c->disks) + MIG_DISK_MARGIN_BYTES;
        if (c->capacity.disk_free < need)
                return sd_bus_error_setf(error, MIG_ERROR_NO_SPACE,
                                         "Node %s has %" PRIu64 " MiB free in %s, the disks need %" PRIu64
                                         " MiB.",
                                         manager_node(c->m), c->capacity.disk_free >> 20,
                                         c->m->config->image_directory, need >> 20);
        if (c->vcpus > c->capacity.vcpus)
                return sd_bus_error_setf(error, MIG_ERROR_NO_VALID_HOST,
                                         "Node %s has %u vCPUs, the domain needs %u.", manager_node(c->m),
                                         c->capacity.vcpus, c->vcpus);
        return 0;
}

/* A live migration without block copy needs the disks on shared storage: they must be here. */
static void check_shared(DestCall *c) {
        for (guint i = 0; c->result == 0 && i < c->disks->len; i++) {
                const MigDisk *d = c->disks->pdata[i];
                if (access(d->path, F_OK) == 0)
                        continue;
                mig_virt_error_clear(&c->err);
                c->err.name = MIG_ERROR_INVALID_ARGUMENT;
                c->err.message = g_strdup_printf("Disk %s is not on storage shared with %s: migrate it with "
                                                 "--block-migration.",
                                                 d->path, manager_node(c->m));
                c->result = -EINVAL;
        }
}

static void prepare_volumes(void *data) {
        DestCall *c = data;
        if (strcmp(c->kind, "live") == 0 && !c->block)
                return check_shared(c);
        virConnectPtr conn = mig_virt_connection(c->m->virt, &c->err);
        c->result = conn ? 0 : -EIO;
        guint i;
        for (i = 0; c->result == 0 && i < c->disks->len; i++) {
                const MigDisk *d = c->disks->pdata[i];
                /* cold: a byte copy of the file; live: QEMU writes into an image of the same format */
                bool cold = strcmp(c->kind, "cold") == 0;
                c->result =
                        mig_disk_create_volume(conn, d->path, d->size, cold ? "raw" : d->format, &c->err);
                if (c->result == -EEXIST && !cold) {
                        g_free(c->err.message);
                        c->err.message =
                                g_strdup_printf("Disk %s exists on %s: it looks shared; migrate without "
                                                "--block-migration.",
                                                d->path, manager_node(c->m));
                }
        }
        if (conn)
                virConnectClose(conn);
        /* Nothing half-done: remove the volumes this call created (i - 1 of them: the loop
         * counted the one that failed, which may have existed before). */
        if (c->result < 0 && i > 1)
                mig_disks_delete(c->m->virt, c->disks, i - 1);
}

/* Prepare's answer: where this node keeps each disk, in the order of the call. */
static void reply_paths(sd_bus_message *request, GPtrArray *disks) {
        g_autoptr(sd_bus_message) reply = NULL;
        int r = sd_bus_message_new_method_return(request, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "s");
        for (guint i = 0; r >= 0 && i < disks->len; i++)
                r = sd_bus_message_append(reply, "s", ((MigDisk *) disks->pdata[i])->path);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        bus_send_or_fail(request, reply, r);
}

static void prepare_volumes_done(void *data) {
        DestCall *c = data;
        MigMigration *mig = manager_find_migration(c->m, c->id);
        if (c->result < 0) {
                if (mig) {
                        /* prepare_volumes removed what it created: nothing here is ours to delete later
                         * (a file that was here before must survive an abort). */
                        mig_set_string(&mig->disks_json, "[]");
                        mig_set_string(&mig->error_name, c->err.name);
                        mig_set_string(&mig->error_message, c->err.message);
                        dest_transition(c->m, mig, strcmp(c->kind, "live") == 0 ? "failed" : "error",
                                        c->err.message);
                }
                return reply_error(c);
        }
        reply_paths(c->request, c->disks);
}

static MigMigration *new_dest_record(DestCall *c) {
        MigMigration *mig = mig_migration_new();
        mig->id = g_strdup(c->id);
        mig->domain_name = g_strdup(c->name);
        mig->domain_uuid = g_strdup(c->uuid);
        mig->kind = g_strdup(c->kind);
        mig->role = g_strdup("destination");
        mig->source = g_strdup(c->source);
        mig->destination = g_strdup(manager_node(c->m));
        bool cold = strcmp(c->kind, "cold") == 0;
        mig_set_string(&mig->status, cold ? "pre-migrating" : "preparing");
        mig_set_string(&mig->task_state, cold ? "resize_prep" : "");
        mig->was_running = !cold;
        mig->claim_memory = c->memory;
        mig->claim_vcpus = c->vcpus;
        mig->bytes_total = mig_disks_data_bytes(c->disks);
        /* Only disks this node creates are recorded: those are the ones it may delete. */
        if (cold || c->block) {
                g_free(mig->disks_json);
                mig->disks_json = mig_disks_to_json(c->disks);
        }
        mig->created_usec = mig->updated_usec = mig_now_usec();
        return mig;
}

static void prepare_inspected(void *data) {
        DestCall *c = data;
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        if (c->result < 0)
                return reply_error(c);
        if (prepare_check(c, &error) < 0 ||
            manager_add_migration(c->m, new_dest_record(c), "claimed memory, vCPUs and disk", &error) < 0) {
                (void) sd_bus_reply_method_error(c->request, &error);
                return;
        }
        /* The call is handed on: the next job owns it. */
        DestCall *next = dest_call_new(c->m, c->request, c->id);
        next->disks = g_ptr_array_ref(c->disks);
        next->kind = c->kind;
        next->block = c->block;
        mig_worker_submit(c->m->worker, prepare_volumes, prepare_volumes_done, next, dest_call_free);
}

static int dest_prepare(sd_bus_message *msg, Manager *m, const char *kind, sd_bus_error *error) {
        const char *id, *name, *uuid, *source;
        uint64_t memory;
        uint32_t vcpus;
        int block = false;
        int r = sd_bus_message_read(msg, "sssstu", &id, &name, &uuid, &source, &memory, &vcpus);
        if (r >= 0 && strcmp(kind, "live") == 0)
                r = sd_bus_message_read(msg, "b", &block);
        if (r < 0)
                return r;
        if (!mig_migration_id_valid(id) || !mig_domain_name_valid(name) || !mig_uuid_valid(uuid) ||
            !mig_config_find_peer(m->config, source))
                return sd_bus_error_set(error, MIG_ERROR_INVALID_ARGUMENT,
                                        "Invalid migration ID, domain, UUID or source node.");
        g_autoptr(GPtrArray) disks = g_ptr_array_new_with_free_func((GDestroyNotify) mig_disk_free);
        if ((r = read_disks(msg, m, disks, error)) < 0)
                return r;
        MigMigration *known = manager_find_migration(m, id);
        if (known && strcmp(known->role, "destination") == 0 &&
            (strcmp(known->status, "pre-migrating") == 0 || strcmp(known->status, "preparing") == 0)) {
                g_autoptr(GPtrArray) kept = mig_disks_from_json(known->disks_json);
                reply_paths(msg, kept->len == disks->len ? kept : disks); /* a repeated Prepare */
                return 1;
        }
        if (known)
                return sd_bus_error_setf(error, MIG_ERROR_CONFLICT, "Migration %s is already %s here.", id,
                                         known->status);
        DestCall *c = dest_call_new(m, msg, id);
        c->name = g_strdup(name);
        c->uuid = g_strdup(uuid);
        c->source = g_strdup(source);
        c->memory = memory;
        c->vcpus = vcpus;
        c->kind = strcmp(kind, "live") == 0 ? "live" : "cold";
        c->block = block;
        c->disks = g_steal_pointer(&disks);
        mig_worker_submit(m->worker, prepare_inspect, prepare_inspected, c, dest_call_free);
        return 1;
}

int cold_dest_prepare(sd_bus_message *msg, Manager *m, sd_bus_error *error) {
        return dest_prepare(msg, m, "cold", error);
}

int live_dest_prepare(sd_bus_message *msg, Manager *m, sd_bus_error *error) {
        return dest_prepare(msg, m, "live", error);
}

/* --- Verify --- */

static void verify_run(void *data) {
        DestCall *c = data;
        c->checksums = g_ptr_array_new_with_free_func(g_free);
        for (guint i = 0; c->result == 0 && i < c->disks->len; i++) {
                char *hex = NULL;
                c->result = mig_disk_checksum(((MigDisk *) c->disks->pdata[i])->path, &hex, &c->err);
                if (hex)
                        g_ptr_array_add(c->checksums, hex);
        }
}

static void verify_done(void *data) {
        DestCall *c = data;
        if (c->result < 0)
                return reply_error(c);
        g_ptr_array_add(c->checksums, NULL);
        g_autoptr(sd_bus_message) reply = NULL;
        int r = sd_bus_message_new_method_return(c->request, &reply);
        if (r >= 0)
                r = sd_bus_message_append_strv(reply, (char **) c->checksums->pdata);
        bus_send_or_fail(c->request, reply, r);
}

int cold_dest_verify(sd_bus_message *msg, Manager *m, sd_bus_error *error) {
        const char *id;
        int r = sd_bus_message_read(msg, "s", &id);
        if (r < 0)
                return r;
        MigMigration *mig = find_dest(m, id, error);
        if (!mig)
                return -ENOENT;
        DestCall *c = dest_call_new(m, msg, id);
        c->disks = mig_disks_from_json(mig->disks_json);
        mig_worker_submit(m->worker, verify_run, verify_done, c, dest_call_free);
        return 1;
}

/* --- Finish --- */

/* This node's [Rewrite] rules for the definition of a cold migration (its disks were copied
 * to the paths Prepare answered). A bridge this node lacks refuses it before anything is
 * defined. */
static int rewrite_definition(DestCall *c) {
        g_autoptr(GError) e = NULL;
        g_autofree char *out = NULL;
        int r = mig_rewrite_domain_xml(c->m->config->rewrite, c->definition, strlen(c->definition),
                                       MIG_REWRITE_CHECK_BRIDGES, NULL, &out, &e);
        if (r < 0) {
                mig_virt_error_clear(&c->err);
                c->err.name = MIG_ERROR_NOT_SUPPORTED;
                c->err.message =
                        g_strdup_printf("Node %s cannot run the domain: %s", manager_node(c->m), e->message);
                return r;
        }
        if (out) {
                g_free(c->definition);
                c->definition = g_steal_pointer(&out);
        }
        return 0;
}

static void finish_run(void *data) {
        DestCall *c = data;
        c->result = rewrite_definition(c);
        if (c->result == 0)
                c->result = mig_virt_define(c->m->virt, c->definition, c->uuid, c->start, &c->err);
}

static void finish_done(void *data) {
        DestCall *c = data;
        MigMigration *mig = manager_find_migration(c->m, c->id);
        if (c->result < 0)
                return reply_error(c);
        if (mig && strcmp(mig->status, "finished") != 0) {
                mig_set_string(&mig->domain_xml, c->definition);
                mig->was_running = c->start;
                mig_set_string(&mig->task_state, "");
                dest_transition(
                        c->m, mig, "finished",
                        c->start ? "defined and started; waits for confirm or revert"
                                 : "defined (shut off, as on the source); waits for confirm or revert");
        }
        (void) sd_bus_reply_method_return(c->request, NULL);
}

int cold_dest_finish(sd_bus_message *msg, Manager *m, sd_bus_error *error) {
        const char *id, *definition;
        int start;
        int r = sd_bus_message_read(msg, "ssb", &id, &definition, &start);
        if (r < 0)
                return r;
        MigMigration *mig = find_dest(m, id, error);
        if (!mig)
                return -ENOENT;
        if (strcmp(mig->status, "pre-migrating") != 0 && strcmp(mig->status, "finished") != 0)
                return sd_bus_error_setf(error, MIG_ERROR_CONFLICT,
                                         "Migration %s is %s here; it cannot finish.", id, mig->status);
        DestCall *c = dest_call_new(m, msg, id);
        c->definition = g_strdup(definition);
        c->uuid = g_strdup(mig->domain_uuid);
        c->start = start;
        mig_worker_submit(m->worker, finish_run, finish_done, c, dest_call_free);
        return 1;
}

/* --- Confirm --- */

int cold_dest_confirm(sd_bus_message *msg, Manager *m, sd_bus_error *error) {
        const char *id;
        int r = sd_bus_message_read(msg, "s", &id);
        if (r < 0)
                return r;
        MigMigration *mig = find_dest(m, id, error);
        if (!mig)
                return -ENOENT;
        if (strcmp(mig->status, "confirmed") == 0)
                return sd_bus_reply_method_return(msg, NULL);
        if (strcmp(mig->status, "finished") != 0)
                return sd_bus_error_setf(error, MIG_ERROR_CONFLICT, "Migration %s is %s here, not finished.",
                                         id, mig->status);
        dest_transition(m, mig, "confirmed",
                        "the source removed its copy; the claim is now the domain's usage");
        return sd_bus_reply_method_return(msg, NULL);
}

/* --- Revert and Abort: remove this node's copy --- */

static void remove_run(void *data) {
        DestCall *c = data;
        c->result = mig_virt_remove(c->m->virt, c->uuid, &c->err);
        if (c->result == 0)
                mig_disks_delete(c->m->virt, c->disks, c->disks->len);
}

static void remove_done(void *data) {
        DestCall *c = data;
        MigMigration *mig = manager_find_migration(c->m, c->id);
        if (c->result < 0)
                return reply_error(c);
        if (mig && !mig_status_is_final(mig->status))
                dest_transition(c->m, mig, c->definition,
                                strcmp(c->definition, "reverted") == 0
                                        ? "destroyed, undefined and deleted this node's copy"
                                        : "dropped the claim and deleted the partial disks");
        (void) sd_bus_reply_method_return(c->request, NULL);
}

static void lapse_done(void *data) {
        DestCall *c = data;
        MigMigration *mig = manager_find_migration(c->m, c->id);
        if (c->result < 0) {
                g_warning("Migration %s: cannot remove the partial copy yet: %s", c->id, c->err.message);
                return;
        }
        if (mig && !mig_status_is_final(mig->status)) {
                mig_set_string(&mig->error_name, MIG_ERROR_PEER_UNREACHABLE);
                dest_transition(c->m, mig, "error", mig->error_message);
        }
}

static void record_lapse(Manager *m, MigMigration *mig, const char *why) {
        g_autofree char *msg = g_strdup_printf("claim released and partial disks deleted: %s", why);
        mig_set_string(&mig->error_message, msg);
        DestCall *c = g_new0(DestCall, 1);
        c->m = m;
        c->id = g_strdup(mig->id);
        c->uuid = g_strdup(mig->domain_uuid);
        c->disks = mig_disks_from_json(mig->disks_json);
        mig_worker_submit(m->worker, remove_run, lapse_done, c, dest_call_free);
}

static int remove_copy(sd_bus_message *msg, Manager *m, const char *id, const char *final_status,
                       sd_bus_error *error) {
        MigMigration *mig = mig_migration_id_valid(id) ? manager_find_migration(m, id) : NULL;
        if (!mig && strcmp(final_status, "reverted") != 0)
                return sd_bus_reply_method_return(msg, NULL); /* never prepared here: nothing to undo */
        if (!(mig = find_dest(m, id, error)))
                return -ENOENT;
        if (strcmp(final_status, "reverted") == 0 && strcmp(mig->status, "finished") != 0 &&
            strcmp(mig->status, "reverted") != 0)
                return sd_bus_error_setf(error, MIG_ERROR_CONFLICT,
                                         "Migration %s is %s here; cannot revert.", id, mig->status);
        if (strcmp(final_status, "reverted") != 0 && strcmp(mig->status, "finished") == 0)
                return sd_bus_error_setf(error, MIG_ERROR_CONFLICT,
                                         "Migration %s finished here; revert it instead of aborting.", id);
        DestCall *c = dest_call_new(m, msg, id);
        c->uuid = g_strdup(mig->domain_uuid);
        c->disks = mig_disks_from_json(mig->disks_json);
        c->definition = g_strdup(final_status); /* the status to record */
        mig_worker_submit(m->worker, remove_run, remove_done, c, dest_call_free);
        return 1;
}

int cold_dest_revert(sd_bus_message *msg, Manager *m, sd_bus_error *error) {
        const char *id;
        int r = sd_bus_message_read(msg, "s", &id);
        return r < 0 ? r : remove_copy(msg, m, id, "reverted", error);
}

int cold_dest_abort(sd_bus_message *msg, Manager *m, sd_bus_error *error) {
        const char *id, *status;
        int r = sd_bus_message_read(msg, "ss", &id, &status);
        if (r < 0)
                return r;
        if (strcmp(status, "cancelled") != 0 && strcmp(status, "error") != 0)
                return sd_bus_error_set(error, MIG_ERROR_INVALID_ARGUMENT,
                                        "Abort status is cancelled or error.");
        return remove_copy(msg, m, id, status, error);
}

/* --- the claim is a lease: it lapses when the source no longer drives the migration --- */

/* Every 30 s, or more often for a short ClaimTimeout. */
static uint64_t lease_check_usec(const Manager *m) {
        return MAX(USEC_PER_SEC, MIN(30 * USEC_PER_SEC, m->config->claim_timeout * USEC_PER_SEC / 2));
}

typedef struct LeaseCheck {
        Manager *m;
        char *id;
} LeaseCheck;

static void lapse(Manager *m, MigMigration *mig, const char *why) {
        g_message("Migration %s: the claim lapses: %s.", mig->id, why);
        record_lapse(m, mig, why);
}

static void on_source_status(MigPeer *peer, GVariant *reply, const sd_bus_error *error,
                             void *userdata) {
        LeaseCheck *lc = userdata;
        MigMigration *mig = manager_find_migration(lc->m, lc->id);
        const char *status = NULL;
        uint64_t age = mig ? mig_now_usec() - mig->updated_usec : 0;
        if (!mig || strcmp(mig->status, "pre-migrating") != 0)
                ; /* it moved on meanwhile */
        else if (reply && g_variant_is_of_type(reply, G_VARIANT_TYPE("(s)")) &&
                 (g_variant_get(reply, "(&s)", &status), true) &&
                 (!*status || mig_status_is_final(status)))
                lapse(lc->m, mig,
                      *status ? "the source ended the migration" : "the source has no such migration");
        else if (!reply && age > lc->m->config->claim_timeout * USEC_PER_SEC)
                lapse(lc->m, mig, "the source has been unreachable for longer than ClaimTimeout");
        g_free(lc->id);
        g_free(lc);
}

static void check_leases(Manager *m) {
        GHashTableIter it;
        MigMigration *mig;
        g_hash_table_iter_init(&it, m->migrations);
        while (g_hash_table_iter_next(&it, NULL, (gpointer *) &mig)) {
                if (strcmp(mig->role, "destination") != 0 || strcmp(mig->status, "pre-migrating") != 0 ||
                    mig_now_usec() - mig->updated_usec < m->config->claim_timeout * USEC_PER_SEC)
                        continue;
                MigPeer *peer = mig_peers_find(m->peers, mig->source);
                LeaseCheck *lc = g_new0(LeaseCheck, 1);
                *lc = (LeaseCheck){m, g_strdup(mig->id)};
                if (peer)
                        mig_peer_call(peer, "GetMigrationStatus", 10 * USEC_PER_SEC, on_source_status, lc,
                                      g_variant_new("(s)", mig->id));
                else
                        on_source_status(NULL, NULL, NULL, lc);
        }
}

static int on_lease_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        check_leases(userdata);
        int r = sd_event_source_set_time_relative(s, lease_check_usec(userdata));
        return r < 0 ? r : sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

int cold_dest_watch_leases(Manager *m) {
        return sd_event_add_time_relative(m->event, NULL, CLOCK_MONOTONIC, USEC_PER_SEC, 0, on_lease_timer,
                                          m);
}

/* --- live: Finish and Abort --- */

/* A copy libvirt left paused after the switch-over is the live one when the source
 * asks to finish: libvirt expects a third party to resume it; we are that party. */
static void resume_if_left_paused(DestCall *c) {
        MigDomainInfo *info = NULL;
        MigVirtError err = {0};
        if (mig_virt_lookup(c->m->virt, c->uuid, &info, &err) == 0 &&
            strcmp(mig_domain_view(info), MIG_VIEW_PAUSED_MIGRATION) == 0 &&
            mig_virt_resume(c->m->virt, c->uuid, &err) == 0)
                g_message("Migration %s: resumed the domain libvirt left paused here.", c->id);
        mig_domain_info_free(info);
        mig_virt_error_clear(&err);
}

static void live_finish_run(void *data) {
        DestCall *c = data;
        resume_if_left_paused(c);
        c->result =
                mig_virt_job_completed(c->m->virt, c->uuid, &c->downtime_msec, &c->duration_msec, &c->err);
}

static void live_finish_done(void *data) {
        DestCall *c = data;
        MigMigration *mig = manager_find_migration(c->m, c->id);
        if (c->result < 0)
                return reply_error(c);
        if (mig && !mig_status_is_final(mig->status)) {
                mig->downtime_msec = c->downtime_msec;
                g_autofree char *msg =
                        g_strdup_printf("the domain runs here (downtime %" PRIu64 " ms)", c->downtime_msec);
                dest_transition(c->m, mig, "completed", msg);
        }
        (void) sd_bus_reply_method_return(c->request, "tt", c->downtime_msec, c->duration_msec);
}

int live_dest_finish(sd_bus_message *msg, Manager *m, sd_bus_error *error) {
        const char *id;
        int r = sd_bus_message_read(msg, "s", &id);
        if (r < 0)
                return r;
        MigMigration *mig = find_dest(m, id, error);
        if (!mig)
                return -ENOENT;
        DestCall *c = dest_call_new(m, msg, id);
        c->uuid = g_strdup(mig->domain_uuid);
        mig_worker_submit(m->worker, live_finish_run, live_finish_done, c, dest_call_free);
        return 1;
}

/* libvirt removes an incoming domain whose migration failed; only our volumes remain.
 * A paused incoming copy the source gave up on (its libvirtd restarted mid-migration) is
 * removed: the source's copy is the live one. A domain that runs here is never touched:
 * that is for reconciliation to decide. */
static bool stale_incoming(const MigDomainInfo *info) {
        const char *view = mig_domain_view(info);
        return strcmp(view, MIG_VIEW_PAUSED_MIGRATION) == 0 || strcmp(view, MIG_VIEW_PAUSED) == 0;
}

static void live_abort_run(void *data) {
        DestCall *c = data;
        MigDomainInfo *info = NULL;
        if (mig_virt_lookup(c->m->virt, c->uuid, &info, &c->err) == 0 && stale_incoming(info))
                c->result = mig_virt_remove(c->m->virt, c->uuid, &c->err);
        else if (info && info->active) {
                mig_virt_error_clear(&c->err);
                c->err.name = MIG_ERROR_CONFLICT;
                c->err.message = g_strdup_printf("Domain %s runs on %s: the migration did not fail here.",
                                                 info->name, manager_node(c->m));
                c->result = -EBUSY;
        }
        if (c->result == 0 && c->block)
                mig_disks_delete(c->m->virt, c->disks, c->disks->len);
        mig_domain_info_free(info);
        if (c->result == 0)
                mig_virt_error_clear(&c->err);
}

static void live_abort_done(void *data) {
        DestCall *c = data;
        MigMigration *mig = manager_find_migration(c->m, c->id);
        if (c->result < 0)
                return reply_error(c);
        if (mig && !mig_status_is_final(mig->status))
                dest_transition(c->m, mig, c->definition, "claim dropped, precreated disks deleted");
        (void) sd_bus_reply_method_return(c->request, NULL);
}

int live_dest_abort(sd_bus_message *msg, Manager *m, sd_bus_error *error) {
        const char *id, *status;
        int r = sd_bus_message_read(msg, "ss", &id, &status);
        if (r < 0)
                return r;
        if (strcmp(status, "cancelled") != 0 && strcmp(status, "failed") != 0)
                return sd_bus_error_set(error, MIG_ERROR_INVALID_ARGUMENT,
                                        "Abort status is cancelled or failed.");
        MigMigration *mig = mig_migration_id_valid(id) ? manager_find_migration(m, id) : NULL;
        if (!mig)
                return sd_bus_reply_method_return(msg, NULL); /* never prepared here */
        if (!(mig = find_dest(m, id, error)))
                return -ENOENT;
        DestCall *c = dest_call_new(m, msg, id);
        c->uuid = g_strdup(mig->domain_uuid);
        c->disks = mig_disks_from_json(mig->disks_json);
        c->block = true; /* delete what the record lists: only disks this node created */
        c->definition = g_strdup(status);
        mig_worker_submit(m->worker, live_abort_run, live_abort_done, c, dest_call_free);
        return 1;
}
