/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Live migration: abort, failure and force-complete. An operator's abort of a running
 * migration asks libvirt to abort its job (libvirt's handshake keeps the domain running on
 * the source); a queued one ends at once. Either way, and on any failure, the destination
 * drops its claim and precreated disks (Peer.AbortLiveMigration) and "cancelled" or
 * "failed" is committed: the domain runs on the source as before. Force-complete makes a
 * running migration converge now: post-copy where permitted, else the domain is paused. */

#include <errno.h>
#include <string.h>

#include "errors.h"
#include "lease.h"
#include "live-job.h"
#include "macro.h"
#include "shared-disk.h"
#include "validate.h"

/* --- source --- */

static void on_dest_aborted(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        LiveJob *j = userdata;
        MigMigration *mig = live_job_mig(j);
        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
        if (error)
                g_warning("Migration %s: the destination did not drop its claim yet: %s", mig->id,
                          error->message);
        const char *status = j->cancel ? "cancelled" : "failed";
        mig_set_string(&mig->convergence, "");
        mig->throttle = 0; /* the guest runs at full speed again */
        (void) manager_transition(j->m, mig, status, "", "the domain runs on the source as before");
        if (!j->cancel)
                sd_bus_error_set(&e, mig->error_name, mig->error_message);
        live_end(j, j->cancel ? NULL : &e);
}

void live_fail(LiveJob *j, const char *name, const char *message) {
        MigMigration *mig = live_job_mig(j);
        j->stats_timer = sd_event_source_disable_unref(j->stats_timer);
        mig_shared_unmark_later(j->m->worker, j->disks, j->id);
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

int live_abort(Manager *m, MigMigration *mig, MigAnswer answer, sd_bus_error *error) {
        LiveJob *j = live_job_find(m, mig->id);
        if (!j) {
                mig_answer_clear(&answer);
                return sd_bus_error_setf(error, MIG_ERROR_CONFLICT, "Migration %s is %s: nothing to abort.",
                                         mig->id, mig->status);
        }
        j->cancel = true;
        mig_answers_add(j->waiters, answer);
        g_message("Migration %s: abort requested.", mig->id);
        if (j->migrating)
                live_take_step(j, STEP_ABORT, 0, g_strdup("abort requested by an operator"));
        else if (strcmp(mig->status, "queued") == 0)
                live_fail(j, NULL, NULL);
        return 1;
}

typedef struct ForceCall {
        Manager *m;
        char *id, *uuid;
        bool postcopy;
        MigAnswer answer;
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
                mig_answer(&f->answer, NULL, &e);
        } else {
                if (mig)
                        (void) manager_transition(
                                f->m, mig, mig->status, NULL,
                                f->postcopy ? "force-complete: switched to post-copy"
                                            : "force-complete: the domain is paused to finish");
                mig_answer(&f->answer, NULL, NULL);
        }
        mig_virt_error_clear(&f->err);
        g_free(f->id);
        g_free(f->uuid);
        g_free(f);
}

int live_force_complete(Manager *m, MigMigration *mig, MigAnswer answer, sd_bus_error *error) {
        LiveJob *j = live_job_find(m, mig->id);
        if (!j || !j->migrating) {
                mig_answer_clear(&answer);
                return sd_bus_error_setf(error, MIG_ERROR_CONFLICT, "Migration %s is not running.", mig->id);
        }
        ForceCall *f = g_new0(ForceCall, 1);
        f->m = m;
        f->id = g_strdup(mig->id);
        f->uuid = g_strdup(j->info->uuid);
        f->postcopy = j->opts.postcopy && !j->postcopy_started;
        j->postcopy_started = j->postcopy_started || j->opts.postcopy;
        f->answer = answer;
        mig_worker_submit(m->worker, force_run, force_done, f, NULL);
        return 1;
}

/* --- destination: drop the claim --- */

/* libvirt removes an incoming domain whose migration failed; only our volumes remain.
 * A paused incoming copy the source gave up on (its libvirtd restarted mid-migration) is
 * removed: the source's copy is the live one. A domain that runs here is never touched:
 * that is for reconciliation to decide. */
static bool stale_incoming(const MigDomainInfo *info) {
        const char *view = mig_domain_view(info);
        return strcmp(view, MIG_VIEW_PAUSED_MIGRATION) == 0 || strcmp(view, MIG_VIEW_PAUSED) == 0;
}

/* Fails, and the claim stays for a later try, when libvirt cannot say what is here or a
 * precreated disk cannot be deleted: "dropped" is committed only once it is true. */
static void abort_incoming_run(void *data) {
        IncomingStep *s = data;
        MigDomainInfo *info = NULL;
        s->result = mig_virt_lookup(s->m->virt, s->uuid, &info, &s->err);
        if (s->result < 0 && g_strcmp0(s->err.name, MIG_ERROR_NOT_FOUND) == 0) {
                mig_virt_error_clear(&s->err);
                s->result = 0; /* libvirt removed the incoming domain itself */
        } else if (s->result == 0 && stale_incoming(info))
                s->result = mig_virt_remove(s->m->virt, s->uuid, &s->err);
        else if (s->result == 0 && info->active) {
                s->err.name = MIG_ERROR_CONFLICT;
                s->err.message = g_strdup_printf("Domain %s runs on %s: the migration did not fail here.",
                                                 info->name, manager_node(s->m));
                s->result = -EBUSY;
        }
        if (s->result == 0 && s->delete_disks)
                s->result = mig_disks_delete(s->m->virt, s->disks, s->disks->len, &s->err);
        mig_domain_info_free(info);
}

static void abort_incoming_done(void *data) {
        IncomingStep *s = data;
        if (s->result < 0)
                return incoming_step_fail(s);
        incoming_step_end(s, "claim dropped, precreated disks deleted");
}

int live_abort_incoming(Manager *m, const char *id, const char *status, MigAnswer answer,
                        sd_bus_error *error) {
        if (strcmp(status, "cancelled") != 0 && strcmp(status, "failed") != 0) {
                mig_answer_clear(&answer);
                return sd_bus_error_set(error, MIG_ERROR_INVALID_ARGUMENT,
                                        "Abort status is cancelled or failed.");
        }
        MigMigration *mig = mig_migration_id_valid(id) ? manager_find_migration(m, id) : NULL;
        if (!mig)
                return mig_answer(&answer, NULL, NULL), 1; /* never prepared here */
        if (!(mig = incoming_find(m, id, error)))
                return mig_answer_clear(&answer), -ENOENT;
        IncomingStep *s = incoming_step_new(m, id, answer);
        s->uuid = g_strdup(mig->domain_uuid);
        s->disks = mig_disks_from_json(mig->disks_json);
        s->delete_disks = true; /* the record lists only disks this node created */
        s->final_status = g_strdup(status);
        mig_worker_submit(m->worker, abort_incoming_run, abort_incoming_done, s, incoming_step_free);
        return 1;
}

/* --- destination: the claim is a lease --- */

/* A claim whose source said it ended the migration (its Abort did not get through, or
 * failed here: libvirtd was down, a disk could not be deleted) is dropped as Abort drops it;
 * a failure leaves it for the next check. */
static const LeaseKind live_lease = {
        .kind = "live",
        .status = "preparing",
        .lapse_unreachable = false,
        .release_run = abort_incoming_run,
        .delete_disks = true,
        .final_status = "failed",
};

void live_lease_register(Manager *m) {
        lease_register(m, &live_lease);
}
