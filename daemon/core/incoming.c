/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "incoming.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "disk.h"
#include "errors.h"
#include "macro.h"
#include "placement.h"
#include "rewrite.h"
#include "shared-disk.h"
#include "validate.h"

IncomingStep *incoming_step_new(Manager *m, const char *id, MigAnswer answer) {
        IncomingStep *s = g_new0(IncomingStep, 1);
        s->m = m;
        s->answer = answer;
        s->id = g_strdup(id);
        return s;
}

void incoming_step_free(void *step) {
        IncomingStep *s = step;
        mig_answer_clear(&s->answer);
        g_free(s->id);
        g_free(s->uuid);
        g_free(s->definition);
        g_free(s->final_status);
        if (s->disks)
                g_ptr_array_unref(s->disks);
        if (s->checksums)
                g_ptr_array_unref(s->checksums);
        mig_virt_error_clear(&s->err);
        g_free(s);
}

void incoming_step_fail(IncomingStep *s) {
        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
        mig_virt_error_to_bus(&s->err, &e);
        mig_answer(&s->answer, NULL, &e);
}

void incoming_step_end(IncomingStep *s, const char *message) {
        MigMigration *mig = manager_find_migration(s->m, s->id);
        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
        int r = mig && !mig_status_is_final(mig->status)
                        ? manager_transition(s->m, mig, s->final_status, NULL, message)
                        : 0;
        if (r < 0)
                manager_commit_error(s->m, &e, r, s->final_status);
        mig_answer(&s->answer, NULL, &e);
}

MigMigration *incoming_find(Manager *m, const char *id, sd_bus_error *error) {
        MigMigration *mig = mig_migration_id_valid(id) ? manager_find_migration(m, id) : NULL;
        if (!mig || strcmp(mig->role, "destination") != 0) {
                sd_bus_error_setf(error, MIG_ERROR_NOT_FOUND, "Node %s has no incoming migration %s.",
                                  manager_node(m), id);
                return NULL;
        }
        return mig;
}

/* --- Prepare: the claim --- */

typedef struct Claim {
        Manager *m;
        MigAnswer answer;
        char *kind; /* "cold" or "live" */
        char *id, *name, *uuid, *source;
        char *group, *group_policy; /* "" none */
        bool group_elsewhere;
        uint64_t memory;
        unsigned vcpus;
        bool copy_disks;
        GPtrArray *disks;   /* MigDisk*, at this node's paths */
        GPtrArray *domains; /* what this node holds */
        MigCapacity capacity;
        int result;
        MigVirtError err;
} Claim;

static void claim_free(void *data) {
        Claim *c = data;
        mig_answer_clear(&c->answer);
        g_free(c->kind);
        g_free(c->id);
        g_free(c->name);
        g_free(c->uuid);
        g_free(c->source);
        g_free(c->group);
        g_free(c->group_policy);
        if (c->disks)
                g_ptr_array_unref(c->disks);
        if (c->domains)
                g_ptr_array_unref(c->domains);
        mig_virt_error_clear(&c->err);
        g_free(c);
}

static bool is_live(const Claim *c) {
        return strcmp(c->kind, "live") == 0;
}

static void claim_fail(Claim *c) {
        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
        mig_virt_error_to_bus(&c->err, &e);
        mig_answer(&c->answer, NULL, &e);
}

/* The answer: where this node keeps each disk, in the order of the call, and which are shared. */
static void answer_paths(MigAnswer *a, GPtrArray *disks) {
        g_autoptr(GPtrArray) paths = g_ptr_array_new();
        g_autofree bool *shared = g_new0(bool, disks->len + 1);
        for (guint i = 0; i < disks->len; i++) {
                g_ptr_array_add(paths, ((MigDisk *) disks->pdata[i])->path);
                shared[i] = ((MigDisk *) disks->pdata[i])->shared;
        }
        g_ptr_array_add(paths, NULL);
        mig_answer(a, &(MigResult){.strv = (char *const *) paths->pdata, .shared = shared}, NULL);
}

static int refuse_disk(Claim *c, const char *name, char *message) {
        mig_virt_error_clear(&c->err);
        c->err.name = name;
        c->err.message = message;
        return -EINVAL;
}

/* Which disks are shared (the source's marker is in their folder here); the others are
 * created here, so they must lie inside ImageDirectory, and a live migration without block
 * copy has none. */
static int find_shared(Claim *c) {
        const char *here = manager_node(c->m), *images = c->m->config->image_directory;
        for (guint i = 0; i < c->disks->len; i++) {
                MigDisk *d = c->disks->pdata[i];
                /* a backing file this node has already is kept as it is (the checksums of
                 * the verify step tell whether it is the same) */
                d->shared = mig_shared_seen(d->path, c->id) || (d->backing && access(d->path, F_OK) == 0);
                if (d->shared)
                        continue;
                if (is_live(c) && !c->copy_disks)
                        return refuse_disk(c, MIG_ERROR_INVALID_ARGUMENT,
                                           g_strdup_printf("Disk %s is not on storage shared with %s: "
                                                           "migrate it with --block-migration.",
                                                           d->path, here));
                if (!mig_disk_path_allowed(d->path, images))
                        return refuse_disk(c, MIG_ERROR_NOT_SUPPORTED,
                                           g_strdup_printf("Disk %s is outside %s and not on storage shared "
                                                           "with %s: it cannot be copied there.",
                                                           d->path, images, here));
        }
        return 0;
}

static void claim_inspect(void *data) {
        Claim *c = data;
        c->result = find_shared(c);
        if (c->result == 0)
                c->result = mig_virt_list_domains(c->m->virt, &c->domains, &c->err);
        if (c->result == 0)
                c->result =
                        mig_virt_capacity(c->m->virt, c->m->config->image_directory, &c->capacity, &c->err);
}

/* Refuses what this node cannot take: a domain it holds already, too little memory, vCPUs or
 * disk (counting the claims granted), or a hard policy of the domain's group broken (counting
 * members incoming as well as those here). It runs on the loop, right before the record is
 * added: two claims cannot both pass on the same free place. */
static int claim_check(Claim *c, sd_bus_error *error) {
        for (guint i = 0; i < c->domains->len; i++) {
                const MigDomainInfo *d = c->domains->pdata[i];
                if (strcmp(d->name, c->name) == 0 || g_ascii_strcasecmp(d->uuid, c->uuid) == 0)
                        return sd_bus_error_setf(error, MIG_ERROR_CONFLICT,
                                                 "Node %s already has a domain %s (%s).", manager_node(c->m),
                                                 d->name, d->uuid);
        }
        g_auto(MigPlacementFacts) f = {0};
        placement_facts_from(c->m, &c->capacity, c->domains, c->group, c->uuid, &f);
        const char *name = MIG_ERROR_NO_VALID_HOST;
        g_autofree char *why = placement_policy_refusal(c->group_policy, f.members, c->group_elsewhere);
        if (!why)
                why = placement_capacity_refusal(
                        &f, c->memory, c->vcpus,
                        !is_live(c) || c->copy_disks ? mig_disks_data_bytes(c->disks) : 0, &name);
        if (why)
                return sd_bus_error_setf(error, name, "Node %s refuses the claim: %s.", manager_node(c->m),
                                         why);
        return 0;
}

/* The volumes of the disks that are not shared. */
static void claim_volumes(void *data) {
        Claim *c = data;
        if (is_live(c) && !c->copy_disks)
                return; /* find_shared saw every disk shared */
        virConnectPtr conn = mig_virt_connection(c->m->virt, &c->err);
        c->result = conn ? 0 : -EIO;
        guint i;
        for (i = 0; c->result == 0 && i < c->disks->len; i++) {
                const MigDisk *d = c->disks->pdata[i];
                if (d->shared)
                        continue;
                /* cold: a byte copy of the file; live: QEMU writes into an image of the same format */
                c->result = mig_disk_create_volume(conn, d->path, d->size, is_live(c) ? d->format : "raw",
                                                   &c->err);
                if (c->result == -EEXIST && is_live(c)) {
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
                (void) mig_disks_delete(c->m->virt, c->disks, i - 1, NULL); /* logged */
}

static void claim_volumes_done(void *data) {
        Claim *c = data;
        MigMigration *mig = manager_find_migration(c->m, c->id);
        if (c->result < 0) {
                if (mig) {
                        /* claim_volumes removed what it created: nothing here is ours to delete later
                         * (a file that was here before must survive an abort). */
                        mig_set_string(&mig->disks_json, "[]");
                        mig_set_string(&mig->error_name, c->err.name);
                        mig_set_string(&mig->error_message, c->err.message);
                        (void) manager_transition(c->m, mig, is_live(c) ? "failed" : "error", NULL,
                                                  c->err.message);
                }
                return claim_fail(c);
        }
        answer_paths(&c->answer, c->disks);
}

static MigMigration *new_record(Claim *c) {
        MigMigration *mig = mig_migration_new();
        mig->id = g_strdup(c->id);
        mig->domain_name = g_strdup(c->name);
        mig->domain_uuid = g_strdup(c->uuid);
        mig->kind = g_strdup(c->kind);
        mig->role = g_strdup("destination");
        mig->source = g_strdup(c->source);
        mig->destination = g_strdup(manager_node(c->m));
        mig_set_string(&mig->status, is_live(c) ? "preparing" : "pre-migrating");
        mig_set_string(&mig->task_state, is_live(c) ? "" : "resize_prep");
        mig->was_running = is_live(c);
        mig->claim_memory = c->memory;
        mig->claim_vcpus = c->vcpus;
        mig_set_string(&mig->group_name, c->group);
        mig_set_string(&mig->group_policy, c->group_policy);
        mig->bytes_total = mig_disks_data_bytes(c->disks);
        /* The disks this node creates are the ones it may delete; the shared ones are recorded
         * as such (never deleted), so that a repeated Prepare answers the same. */
        g_free(mig->disks_json);
        mig->disks_json = mig_disks_to_json(c->disks);
        mig->created_usec = mig->updated_usec = mig_now_usec();
        return mig;
}

static void claim_inspected(void *data) {
        Claim *c = data;
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        if (c->result < 0)
                return claim_fail(c);
        if (claim_check(c, &error) < 0 ||
            manager_add_migration(c->m, new_record(c), "claimed memory, vCPUs and disk", &error) < 0)
                return mig_answer(&c->answer, NULL, &error);
        /* The call is handed on: the next step owns it. */
        Claim *next = g_new0(Claim, 1);
        *next = (Claim){.m = c->m,
                        .answer = c->answer,
                        .kind = g_strdup(c->kind),
                        .id = g_strdup(c->id),
                        .copy_disks = c->copy_disks,
                        .disks = g_ptr_array_ref(c->disks)};
        c->answer = (MigAnswer){0};
        mig_worker_submit(c->m->worker, claim_volumes, claim_volumes_done, next, claim_free);
}

/* Flags the backing files among disks (mapped from in->disks, in that order); a chain keeps
 * its paths (its files name each other), so a [Rewrite] rule may not move one. */
static int mark_backing(GPtrArray *disks, const MigIncoming *in, char **why) {
        for (guint i = 0; in->backing && i < disks->len; i++) {
                MigDisk *d = disks->pdata[i];
                const char *sent = ((MigDisk *) in->disks->pdata[i])->path;
                d->backing = g_strv_contains((const char *const *) in->backing, sent);
                if (d->backing && strcmp(sent, d->path) != 0) {
                        *why = g_strdup_printf("Backing file %s would be %s here: the files of a chain "
                                               "name each other and keep their paths.",
                                               sent, d->path);
                        return -EINVAL;
                }
        }
        return 0;
}

int incoming_open_disk(Manager *m, const char *id, const char *path, int *ret_fd, sd_bus_error *error) {
        MigMigration *mig = incoming_find(m, id, error);
        if (!mig)
                return -ENOENT;
        if (strcmp(mig->kind, "cold") != 0 || strcmp(mig->status, "pre-migrating") != 0)
                return sd_bus_error_setf(error, MIG_ERROR_CONFLICT,
                                         "Migration %s is %s %s here: no copy now.", id, mig->kind,
                                         mig->status);
        g_autoptr(GPtrArray) disks = mig_disks_from_json(mig->disks_json);
        for (guint i = 0; i < disks->len; i++) {
                const MigDisk *d = disks->pdata[i];
                if (strcmp(d->path, path) != 0 || d->shared)
                        continue;
                int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
                if (fd < 0)
                        return sd_bus_error_setf(error,
                                                 errno == ENOSPC ? MIG_ERROR_NO_SPACE : MIG_ERROR_INTERNAL,
                                                 "Cannot open %s for the copy: %s", path, g_strerror(errno));
                *ret_fd = fd;
                return 0;
        }
        return sd_bus_error_setf(error, MIG_ERROR_INVALID_ARGUMENT,
                                 "Migration %s created no disk %s here to copy into.", id, path);
}

void incoming_keep_backing_in_use(Manager *m, const char *id, GPtrArray *disks) {
        GHashTableIter it;
        MigMigration *other;
        for (guint i = 0; i < disks->len; i++) {
                MigDisk *d = disks->pdata[i];
                if (!d->backing || d->shared)
                        continue;
                g_hash_table_iter_init(&it, m->migrations);
                while (!d->shared && g_hash_table_iter_next(&it, NULL, (gpointer *) &other)) {
                        if (strcmp(other->id, id) == 0 || strcmp(other->role, "destination") != 0)
                                continue;
                        g_autoptr(GPtrArray) theirs = mig_disks_from_json(other->disks_json);
                        for (guint k = 0; k < theirs->len && !d->shared; k++)
                                d->shared = ((MigDisk *) theirs->pdata[k])->backing &&
                                            strcmp(((MigDisk *) theirs->pdata[k])->path, d->path) == 0;
                        if (d->shared)
                                g_message("Migration %s: backing file %s stays, migration %s uses it too.",
                                          id, d->path, other->id);
                }
        }
}

int incoming_prepare(Manager *m, const MigIncoming *in, MigAnswer answer, sd_bus_error *error) {
        if (!mig_migration_id_valid(in->id) || !mig_domain_name_valid(in->name) ||
            !mig_uuid_valid(in->uuid) || !mig_config_find_peer(m->config, in->source)) {
                mig_answer_clear(&answer);
                return sd_bus_error_set(error, MIG_ERROR_INVALID_ARGUMENT,
                                        "Invalid migration ID, domain, UUID or source node.");
        }
        /* The disks go where this node's [Rewrite] DiskPathPrefixes put them (the hook rewrites a
         * live migration's XML the same way, the cold Finish its definition). */
        g_autofree char *why = NULL;
        g_autoptr(GPtrArray) disks = mig_disks_map(in->disks, m->config->rewrite, &why);
        if (disks && mark_backing(disks, in, &why) < 0)
                g_clear_pointer(&disks, g_ptr_array_unref);
        if (!disks) {
                mig_answer_clear(&answer);
                return sd_bus_error_set(error, MIG_ERROR_INVALID_ARGUMENT, why);
        }
        MigMigration *known = manager_find_migration(m, in->id);
        if (known && strcmp(known->role, "destination") == 0 &&
            (strcmp(known->status, "pre-migrating") == 0 || strcmp(known->status, "preparing") == 0)) {
                g_autoptr(GPtrArray) kept = mig_disks_from_json(known->disks_json);
                answer_paths(&answer, kept->len == disks->len ? kept : disks); /* a repeated Prepare */
                return 1;
        }
        if (known) {
                mig_answer_clear(&answer);
                return sd_bus_error_setf(error, MIG_ERROR_CONFLICT, "Migration %s is already %s here.",
                                         in->id, known->status);
        }
        Claim *c = g_new0(Claim, 1);
        *c = (Claim){.m = m,
                     .answer = answer,
                     .kind = g_strdup(strcmp(in->kind, "live") == 0 ? "live" : "cold"),
                     .id = g_strdup(in->id),
                     .name = g_strdup(in->name),
                     .uuid = g_strdup(in->uuid),
                     .source = g_strdup(in->source),
                     .group = g_strdup(in->group ? in->group : ""),
                     .group_policy = g_strdup(in->group_policy ? in->group_policy : ""),
                     .group_elsewhere = in->group_elsewhere,
                     .memory = in->memory,
                     .vcpus = in->vcpus,
                     .copy_disks = in->copy_disks,
                     .disks = g_steal_pointer(&disks)};
        mig_worker_submit(m->worker, claim_inspect, claim_inspected, c, claim_free);
        return 1;
}
