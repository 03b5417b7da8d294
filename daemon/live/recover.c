/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Live migration: the outcome from both nodes' views. libvirt's peer-to-peer migration goes
 * on inside libvirtd without us. After a restart, or when the destination could not confirm
 * the result, the outcome is decided from both nodes' views of the domain by
 * reconcile_live_outcome() (oVirt's state table); the record stays "running" until they
 * agree. This node drops its stale paused copy or resumes its own as the table says; the
 * destination's part goes with its Finish or Abort. */

#include <string.h>

#include "errors.h"
#include "live-job.h"
#include "macro.h"
#include "reconcile.h"

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
        sd_event_source *timer; /* a retry's own timer, dropped when it fires */
} Recover;

static void recover_free(Recover *r) {
        sd_event_source_disable_unref(r->timer);
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

/* The retry owns its timer (not a floating one, which the loop would keep until it ends);
 * sd-event allows a source to be unreferenced from its own callback. */
static int on_recover_again(sd_event_source *s, uint64_t usec, void *userdata) {
        Recover *r = userdata;
        recover_one(r->m, r->id, r->uuid);
        recover_free(r);
        return 0;
}

static void recover_later(Recover *r, uint64_t usec) {
        Recover *again = g_new0(Recover, 1);
        *again = (Recover){.m = r->m, .id = g_strdup(r->id), .uuid = g_strdup(r->uuid)};
        if (sd_event_add_time_relative(r->m->event, &again->timer, CLOCK_MONOTONIC, usec, 0,
                                       on_recover_again, again) < 0) {
                g_warning("Migration %s: cannot schedule the next look at its outcome; it stays until "
                          "the daemon restarts.",
                          r->id);
                recover_free(again);
        }
}

void live_recover_after(Manager *m, const char *id, const char *uuid) {
        Recover r = {.m = m, .id = (char *) id, .uuid = (char *) uuid};
        recover_later(&r, RECOVER_RETRY_USEC);
}

/* The job that finishes the record (answers, queue) as a normal migration would. */
static LiveJob *recover_job(Recover *r) {
        LiveJob *j = live_job_find(r->m, r->id);
        if (j)
                return j;
        j = live_job_new(r->m);
        j->id = g_strdup(r->id);
        j->info = g_new0(MigDomainInfo, 1);
        j->info->uuid = g_strdup(r->uuid);
        live_job_keep(j);
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

void live_on_finished(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        LiveJob *j = userdata;
        MigMigration *mig = live_job_mig(j);
        if (!reply) {
                g_warning("Migration %s: the destination did not confirm that it runs the domain (%s); "
                          "both nodes' views decide.",
                          mig->id, error->message);
                return live_recover_after(j->m, mig->id, mig->domain_uuid);
        }
        live_completed(j, reply);
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
                mig_peer_call(peer, "FinishLiveMigration", PEER_STEP_TIMEOUT_USEC, live_on_finished, j,
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

static void recover_one(Manager *m, const char *id, const char *uuid) {
        Recover *r = g_new0(Recover, 1);
        *r = (Recover){.m = m, .id = g_strdup(id), .uuid = g_strdup(uuid)};
        mig_worker_submit(m->worker, recover_look_run, recover_look_done, r, NULL);
}

void live_resume_all(Manager *m) {
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
