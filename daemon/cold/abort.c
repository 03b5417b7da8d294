/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Cold migration: abort and roll back. Before Finish is sent the source's domain and disks
 * are untouched (only read), so any failure, an operator's abort, or a restart before
 * "post-migrating" ends the same way: the destination drops its claim and deletes its
 * partial disks (Peer.AbortColdMigration), the domain is started here again if it ran,
 * and "error" or "cancelled" is committed with the reason. From "post-migrating" on it is
 * too late to abort: the migration finishes and can be reverted.
 *
 * The destination's claim is a lease: a source that ended the migration, or has been
 * unreachable for longer than ClaimTimeout, can never finish it, so the claim lapses and
 * its partial disks go. */

#include <errno.h>
#include <string.h>

#include "cold-job.h"
#include "errors.h"
#include "lease.h"
#include "macro.h"
#include "validate.h"

/* --- source --- */

static void rollback_restart_run(void *data) {
        ColdJob *j = data;
        cold_unmark_shared(j);
        j->result = j->restart_source ? mig_virt_start(j->m->virt, j->info->uuid, &j->err) : 0;
}

static void rollback_done(void *data) {
        ColdJob *j = data;
        MigMigration *mig = cold_job_mig(j);
        const char *status = j->cancel ? "cancelled" : "error";
        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
        if (j->result < 0) {
                g_autofree char *msg =
                        g_strdup_printf("%s; and the domain could not be started again on %s: %s",
                                        mig->error_message, manager_node(j->m), j->err.message);
                manager_record_failure(mig, mig->error_name, msg);
        }
        mig_set_string(&mig->task_state, "");
        (void) manager_transition(j->m, mig, status, "",
                                  j->cancel ? "the domain is back on the source as it was"
                                            : "rolled back: the domain is back on the source as it was");
        if (!j->cancel)
                sd_bus_error_set(&e, mig->error_name, mig->error_message);
        cold_job_end(j, j->cancel ? NULL : &e);
}

static void on_dest_aborted(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        ColdJob *j = userdata;
        MigMigration *mig = cold_job_mig(j);
        if (error)
                g_warning("Migration %s: the destination could not drop its claim and partial disks yet "
                          "(%s); its record stays until it is asked again.",
                          j->id, error->message);
        /* The destination never got Finish, so it does not run the domain: start it here again. */
        j->restart_source = mig && mig->was_running;
        mig_worker_submit(j->m->worker, rollback_restart_run, rollback_done, j, NULL);
}

void cold_rollback(ColdJob *j, const char *name, const char *message) {
        MigMigration *mig = cold_job_mig(j);
        if (!j->cancel)
                manager_record_failure(mig, name, message);
        else
                manager_record_failure(mig, MIG_ERROR_CONFLICT, "cancelled by an operator");
        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
        MigPeer *peer = cold_job_peer(j, &e);
        if (!peer) /* nothing to ask: the domain never left this node */
                return on_dest_aborted(NULL, NULL, NULL, j);
        mig_peer_call(peer, "AbortColdMigration", PEER_STEP_TIMEOUT_USEC, on_dest_aborted, j,
                      g_variant_new("(ss)", mig->id, j->cancel ? "cancelled" : "error"));
}

void cold_rollback_from(ColdJob *j, const sd_bus_error *error) {
        cold_rollback(j, error->name, error->message);
}

int cold_abort(Manager *m, MigMigration *mig, MigAnswer answer, sd_bus_error *error) {
        ColdJob *j = cold_job_find(m, mig->id);
        if (!j || strcmp(mig->status, "post-migrating") == 0) {
                mig_answer_clear(&answer);
                return sd_bus_error_setf(
                        error, MIG_ERROR_CONFLICT,
                        "Migration %s is %s: too late to abort; wait for VERIFY_RESIZE and revert.", mig->id,
                        mig->status);
        }
        j->cancel = true;
        g_atomic_int_set(&j->progress.cancel, 1);
        mig_answers_add(j->waiters, answer);
        g_message("Migration %s: abort requested.", mig->id);
        if (j->waits_for_slot) { /* nothing runs that would see the cancel */
                j->waits_for_slot = false;
                cold_rollback(j, NULL, NULL);
        }
        return 1;
}

/* --- destination: remove this node's copy (Abort, Revert, a lapsed claim) --- */

static void remove_run(void *data) {
        IncomingStep *s = data;
        s->result = mig_virt_remove(s->m->virt, s->uuid, &s->err);
        if (s->result == 0)
                s->result = mig_disks_delete(s->m->virt, s->disks, s->disks->len, &s->err);
}

static void remove_done(void *data) {
        IncomingStep *s = data;
        if (s->result < 0)
                return incoming_step_fail(s);
        incoming_step_end(s, strcmp(s->final_status, "reverted") == 0
                                     ? "destroyed, undefined and deleted this node's copy"
                                     : "dropped the claim and deleted the partial disks");
}

int cold_remove_incoming(Manager *m, const char *id, const char *final_status, MigAnswer answer,
                         sd_bus_error *error) {
        bool revert = strcmp(final_status, "reverted") == 0;
        MigMigration *mig = mig_migration_id_valid(id) ? manager_find_migration(m, id) : NULL;
        if (!mig && !revert)
                return mig_answer(&answer, NULL, NULL), 1; /* never prepared here: nothing to undo */
        if (!(mig = incoming_find(m, id, error)))
                return mig_answer_clear(&answer), -ENOENT;
        if (revert && strcmp(mig->status, "finished") != 0 && strcmp(mig->status, "reverted") != 0) {
                mig_answer_clear(&answer);
                return sd_bus_error_setf(error, MIG_ERROR_CONFLICT,
                                         "Migration %s is %s here; cannot revert.", id, mig->status);
        }
        if (!revert && strcmp(mig->status, "finished") == 0) {
                mig_answer_clear(&answer);
                return sd_bus_error_setf(error, MIG_ERROR_CONFLICT,
                                         "Migration %s finished here; revert it instead of aborting.", id);
        }
        /* A revert destroys a defined (maybe running) domain: its intent is committed first. */
        int r = revert && strcmp(mig->status, "finished") == 0
                        ? manager_transition(m, mig, mig->status, "resize_reverting",
                                             "destroying and undefining this node's copy")
                        : 0;
        if (r < 0) {
                mig_answer_clear(&answer);
                return manager_commit_error(m, error, r, "the revert");
        }
        IncomingStep *s = incoming_step_new(m, id, answer);
        s->uuid = g_strdup(mig->domain_uuid);
        s->disks = mig_disks_from_json(mig->disks_json);
        incoming_keep_backing_in_use(m, id, s->disks);
        s->final_status = g_strdup(final_status);
        mig_worker_submit(m->worker, remove_run, remove_done, s, incoming_step_free);
        return 1;
}

int cold_abort_incoming(Manager *m, const char *id, const char *status, MigAnswer answer,
                        sd_bus_error *error) {
        if (strcmp(status, "cancelled") != 0 && strcmp(status, "error") != 0) {
                mig_answer_clear(&answer);
                return sd_bus_error_set(error, MIG_ERROR_INVALID_ARGUMENT,
                                        "Abort status is cancelled or error.");
        }
        return cold_remove_incoming(m, id, status, answer, error);
}

/* --- destination: the claim is a lease --- */

static const LeaseKind cold_lease = {
        .kind = "cold",
        .status = "pre-migrating",
        .lapse_unreachable = true,
        .release_run = remove_run,
        .final_status = "error",
};

void cold_lease_register(Manager *m) {
        lease_register(m, &cold_lease);
}
