/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A resize on the same node (Nova's allow_resize_to_same_host): no copy, no peer. The record
 * is of kind "resize", this node its source and its destination; it keeps the old
 * definition for a revert.
 *
 *   pre-migrating (resize_prep)        the request; this node's free memory checked
 *   migrating (resize_migrating)       the domain shut down, defined with the new size,
 *                                      started again if it ran
 *   finished                           VERIFY_RESIZE: confirm keeps it (nothing to delete),
 *                                      revert (resize_reverting) defines the old size again
 *
 * Each status is committed before its step; the steps are idempotent, so a restart redoes
 * the one that was under way. */

#include <errno.h>
#include <string.h>

#include "cold-job.h"
#include "errors.h"
#include "macro.h"
#include "rewrite.h"

typedef struct ResizeStep {
        Manager *m;
        char *id, *uuid, *xml;
        bool was_running, start;
        MigAnswer answer;
        char *failure; /* a failed resize: why, while the old size is put back */
        int result;
        MigVirtError err;
} ResizeStep;

static void step_free(void *data) {
        ResizeStep *s = data;
        g_free(s->id);
        g_free(s->uuid);
        g_free(s->xml);
        g_free(s->failure);
        mig_answer_clear(&s->answer);
        mig_virt_error_clear(&s->err);
        g_free(s);
}

static ResizeStep *step_new(Manager *m, const MigMigration *mig, MigAnswer answer) {
        ResizeStep *s = g_new0(ResizeStep, 1);
        *s = (ResizeStep){.m = m,
                          .id = g_strdup(mig->id),
                          .uuid = g_strdup(mig->domain_uuid),
                          .was_running = mig->was_running,
                          .answer = answer};
        return s;
}

/* Shut off, defined as xml, started again when it ran: the same for resizing and reverting. */
static void redefine_run(void *data) {
        ResizeStep *s = data;
        s->result = mig_virt_shutdown(s->m->virt, s->uuid, s->m->config->shutdown_timeout, &s->err);
        if (s->result == 0)
                s->result = mig_virt_redefine(s->m->virt, s->xml, s->uuid, &s->err);
        if (s->result == 0 && s->was_running)
                s->result = mig_virt_start(s->m->virt, s->uuid, &s->err);
}

static char *resized_xml(const MigMigration *mig, MigVirtError *err) {
        char *out = NULL;
        g_autoptr(GError) e = NULL;
        if (mig_resize_domain_xml(mig->domain_xml, mig->new_memory / 1024, mig->new_vcpus, &out, &e) < 0) {
                err->name = MIG_ERROR_INVALID_ARGUMENT;
                err->message = g_strdup_printf("Cannot resize it: %s.", e->message);
        }
        return out;
}

/* --- resizing --- */

/* The old size is back after a failed resize (or could not be put back): "error". */
static void put_back(void *data) {
        ResizeStep *s = data;
        MigMigration *mig = manager_find_migration(s->m, s->id);
        if (!mig)
                return;
        g_autofree char *msg = s->result < 0
                                       ? g_strdup_printf("%s; the old size could not be put back either: %s",
                                                         s->failure, s->err.message)
                                       : g_strdup_printf("%s; the domain has its old size", s->failure);
        (void) manager_transition(s->m, mig, "error", "", msg);
}

static void resized(void *data) {
        ResizeStep *s = data;
        MigMigration *mig = manager_find_migration(s->m, s->id);
        if (!mig)
                return;
        if (s->result < 0) {
                manager_record_failure(mig, s->err.name, s->err.message);
                if (manager_transition(s->m, mig, "reverting", "resize_reverting",
                                       "the resize failed: the old size is defined again") < 0)
                        return;
                ResizeStep *back = step_new(s->m, mig, (MigAnswer){0});
                back->xml = g_strdup(mig->domain_xml);
                back->failure = g_strdup(s->err.message ? s->err.message : "the resize failed");
                return mig_worker_submit(s->m->worker, redefine_run, put_back, back, step_free);
        }
        (void) manager_transition(s->m, mig, "finished", "",
                                  "resized on this node: VERIFY_RESIZE, confirm or revert");
}

static void resize_start(Manager *m, MigMigration *mig) {
        if (manager_transition(m, mig, "migrating", "resize_migrating",
                               "resizing on this node: the domain is shut down and defined anew") < 0)
                return;
        ResizeStep *s = step_new(m, mig, (MigAnswer){0});
        s->xml = resized_xml(mig, &s->err);
        if (!s->xml) {
                s->result = -EINVAL;
                resized(s);
                return step_free(s);
        }
        mig_worker_submit(m->worker, redefine_run, resized, s, step_free);
}

/* --- the request --- */

static void inspect_run(void *data) {
        ColdJob *j = data;
        j->result = mig_virt_lookup(j->m->virt, j->domain, &j->info, &j->err);
        if (j->result == 0)
                j->result = mig_virt_get_definition(j->m->virt, j->info->uuid, &j->definition, &j->err);
        MigCapacity cap = {0};
        if (j->result == 0)
                j->result = mig_virt_capacity(j->m->virt, j->m->config->image_directory, &cap, &j->err);
        j->memory_free_here = cap.memory_free;
}

/* NoValidHost when this node cannot give the new memory (its free memory and what the
 * domain holds now, when it runs). */
static int refuse(ColdJob *j, sd_bus_error *e) {
        int r = cold_refuse_state(j->info, "a resize", "resized", e);
        if (r < 0)
                return r;
        uint64_t have = j->memory_free_here + (j->info->active ? j->info->memory : 0);
        if (j->resize.memory > have)
                return sd_bus_error_setf(e, MIG_ERROR_NO_VALID_HOST,
                                         "No valid host for %s: %s: memory: %" G_GUINT64_FORMAT
                                         " MiB asked, %" G_GUINT64_FORMAT " MiB free.",
                                         j->info->name, manager_node(j->m), j->resize.memory >> 20,
                                         have >> 20);
        return manager_refuse_busy(j->m, j->info, e);
}

static MigMigration *new_record(ColdJob *j) {
        /* its definition: the old size, for a revert */
        MigMigration *mig = cold_source_record(j, "resize", manager_node(j->m));
        mig->old_memory = j->info->memory;
        mig->old_vcpus = j->info->vcpus;
        mig->new_memory = j->resize.memory ? j->resize.memory : j->info->memory;
        mig->new_vcpus = j->resize.vcpus ? j->resize.vcpus : j->info->vcpus;
        return mig;
}

static void inspect_done(void *data) {
        ColdJob *j = data;
        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
        if (j->result < 0)
                mig_virt_error_to_bus(&j->err, &e);
        else if (refuse(j, &e) >= 0) {
                MigMigration *mig = new_record(j);
                g_autofree char *id = g_strdup(mig->id);
                g_autofree char *what = g_strdup_printf(
                        "resize on this node requested: %u vCPU(s), %" G_GUINT64_FORMAT
                        " MiB -> %u vCPU(s), %" G_GUINT64_FORMAT " MiB",
                        mig->old_vcpus, mig->old_memory >> 20, mig->new_vcpus, mig->new_memory >> 20);
                if (manager_add_migration(j->m, mig, what, &e) >= 0) {
                        mig_answer(&j->started, &(MigResult){.migration_id = id}, NULL);
                        resize_start(j->m, manager_find_migration(j->m, id));
                        return cold_job_free(j);
                }
        }
        mig_answer(&j->started, NULL, &e);
        cold_job_free(j);
}

int cold_resize_here(Manager *m, const char *domain, const MigResize *resize, MigAnswer answer,
                     sd_bus_error *error) {
        ColdJob *j = cold_job_new(m, NULL);
        j->started = answer;
        j->domain = g_strdup(domain);
        j->resize = *resize;
        mig_worker_submit(m->worker, inspect_run, inspect_done, j, NULL);
        return 1;
}

/* --- confirm, revert --- */

int cold_resize_confirm(Manager *m, MigMigration *mig, MigAnswer answer, sd_bus_error *error) {
        int r = manager_transition(m, mig, "confirming", "", "confirmed by an operator");
        if (r >= 0)
                r = manager_transition(m, mig, "confirmed", "", "the new size stays; nothing to remove");
        if (r < 0) {
                mig_answer_clear(&answer);
                return manager_commit_error(m, error, r, "the confirm");
        }
        mig_answer(&answer, NULL, NULL);
        return 1;
}

static void reverted(void *data) {
        ResizeStep *s = data;
        MigMigration *mig = manager_find_migration(s->m, s->id);
        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
        if (!mig)
                return;
        if (s->result < 0) {
                (void) manager_transition(s->m, mig, "finished", "", s->err.message);
                mig_virt_error_to_bus(&s->err, &e);
                return mig_answer(&s->answer, NULL, &e);
        }
        (void) manager_transition(s->m, mig, "reverted", "", "the old size is back");
        mig_answer(&s->answer, NULL, NULL);
}

static void revert_start(Manager *m, MigMigration *mig, MigAnswer answer) {
        ResizeStep *s = step_new(m, mig, answer);
        s->xml = g_strdup(mig->domain_xml);
        mig_worker_submit(m->worker, redefine_run, reverted, s, step_free);
}

int cold_resize_revert(Manager *m, MigMigration *mig, MigAnswer answer, sd_bus_error *error) {
        int r = manager_transition(m, mig, "reverting", "resize_reverting", "reverted by an operator");
        if (r < 0) {
                mig_answer_clear(&answer);
                return manager_commit_error(m, error, r, "the revert");
        }
        revert_start(m, mig, answer);
        return 1;
}

/* --- a restart --- */

void cold_resize_resume(Manager *m, MigMigration *mig) {
        if (strcmp(mig->status, "pre-migrating") == 0)
                (void) manager_transition(m, mig, "cancelled", "",
                                          "the daemon stopped before the resize began");
        else if (strcmp(mig->status, "migrating") == 0) {
                ResizeStep *s = step_new(m, mig, (MigAnswer){0});
                s->xml = resized_xml(mig, &s->err);
                g_message("Migration %s: the resize of %s is done again after a restart.", mig->id,
                          mig->domain_name);
                if (s->xml)
                        return mig_worker_submit(m->worker, redefine_run, resized, s, step_free);
                s->result = -EINVAL;
                resized(s);
                step_free(s);
        } else if (strcmp(mig->status, "confirming") == 0)
                (void) manager_transition(m, mig, "confirmed", "", "the new size stays; nothing to remove");
        else if (strcmp(mig->status, "reverting") == 0)
                revert_start(m, mig, (MigAnswer){0});
}
