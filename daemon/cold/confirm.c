/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Cold migration, phase 5: confirm_resize. The source's copy is deleted only on positive
 * proof that the destination holds the domain: "confirming" is committed, the destination
 * checks that it has the domain defined with the same UUID and every disk of its record
 * present (Peer.ConfirmColdMigration), commits "confirmed" and says so; only then, on the
 * worker, are the source's definition and disks removed and "confirmed" committed here.
 * Without the proof nothing is removed: the migration goes back to "finished" with the
 * reason, and an operator's confirm is refused with Conflict (revert brings the domain
 * back). A restart in "confirming" asks again.
 *
 * The automatic confirm: ResizeConfirmWindow seconds after "finished", the destination is
 * asked how the domain is. One that runs there (or was shut off here too) is confirmed as
 * above. One the destination does not hold, or that does not run there while it ran here,
 * is reverted: the source still has everything. An unreachable destination is asked again
 * later; one that is no longer configured is left waiting, with an event that says so. */

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "bus-variant.h"
#include "cold-job.h"
#include "errors.h"
#include "macro.h"

/* --- source --- */

static void confirm_run(void *data) {
        ColdJob *j = data;
        j->result = mig_virt_undefine(j->m->virt, j->info->uuid, &j->err);
        virConnectPtr conn = j->result == 0 ? mig_virt_connection(j->m->virt, &j->err) : NULL;
        /* a backing file stays: other domains of this node may be built on it */
        for (guint i = 0; conn && j->result == 0 && i < j->disks->len; i++)
                if (!((MigDisk *) j->disks->pdata[i])->backing)
                        j->result = mig_disk_delete(conn, j->disks->pdata[i], &j->err);
        if (conn)
                virConnectClose(conn);
}

static void confirm_done(void *data) {
        ColdJob *j = data;
        MigMigration *mig = cold_job_mig(j);
        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
        if (j->result < 0) {
                g_autofree char *msg = g_strdup_printf("confirm failed: %s", j->err.message);
                (void) manager_transition(j->m, mig, "finished", "", msg);
                mig_virt_error_to_bus(&j->err, &e);
                return cold_job_end(j, &e);
        }
        if (manager_transition(j->m, mig, "confirmed", "", "the source's definition and disks are removed") <
            0)
                sd_bus_error_set(&e, MIG_ERROR_STORE,
                                 "The source's copy is removed, but the confirm could not be recorded.");
        cold_job_end(j, &e);
}

/* No proof: nothing is removed. Back to VERIFY_RESIZE with the reason; an operator is told
 * to revert, the automatic confirm reverts (or asks again when the destination is away). */
static void no_proof(ColdJob *j, const sd_bus_error *error) {
        MigMigration *mig = cold_job_mig(j);
        /* Conflict or NotFound: the destination says it does not hold the domain. Anything else
         * (unreachable, its libvirt down, ...): it cannot tell now. */
        bool away = strcmp(error->name, MIG_ERROR_CONFLICT) != 0 &&
                    strcmp(error->name, MIG_ERROR_NOT_FOUND) != 0;
        g_autofree char *why = g_strdup_printf("not confirmed, nothing removed: %s", error->message);
        (void) manager_transition(j->m, mig, "finished", "", why);
        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
        if (away)
                sd_bus_error_setf(&e, error->name,
                                  "Cannot confirm migration %s now: %s Nothing was removed.", mig->id,
                                  error->message);
        else
                sd_bus_error_setf(&e, MIG_ERROR_CONFLICT,
                                  "Cannot confirm migration %s: %s The source still holds domain %s: revert "
                                  "it to run it here again.",
                                  mig->id, error->message, mig->domain_name);
        bool automatic = j->automatic;
        Manager *m = j->m;
        cold_job_end(j, &e);
        if (automatic && away)
                cold_arm_auto_confirm(m, mig);
        else if (automatic)
                cold_revert_begin(m, mig, (MigAnswer){0}, why);
}

static void on_dest_confirmed(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        ColdJob *j = userdata;
        if (error)
                return no_proof(j, error);
        /* The destination holds the domain and has recorded it as its own. */
        mig_worker_submit(j->m->worker, confirm_run, confirm_done, j, NULL);
}

void cold_confirm_begin(Manager *m, MigMigration *mig, MigAnswer answer, bool automatic, const char *why) {
        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
        if (manager_transition(m, mig, "confirming", "", why) < 0) {
                sd_bus_error_set(&e, MIG_ERROR_STORE, "Cannot record the confirm; nothing was changed.");
                return mig_answer(&answer, NULL, &e);
        }
        ColdJob *j = cold_job_for_record(m, mig, answer);
        j->automatic = automatic;
        MigPeer *peer = cold_job_peer(j, &e);
        if (!peer)
                return no_proof(j, &e);
        mig_peer_call(peer, "ConfirmColdMigration", PEER_STEP_TIMEOUT_USEC, on_dest_confirmed, j,
                      g_variant_new("(s)", mig->id));
}

int cold_confirm(Manager *m, MigMigration *mig, MigAnswer answer, sd_bus_error *error) {
        cold_confirm_begin(m, mig, answer, false, "confirmed by an operator");
        return 1;
}

/* --- source: the automatic confirm --- */

typedef struct HealthCheck {
        Manager *m;
        char *id;
} HealthCheck;

static void health_check_free(HealthCheck *h) {
        g_free(h->id);
        g_free(h);
}

static void unref_source(gpointer p) {
        sd_event_source_disable_unref(p);
}

static void on_health(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        HealthCheck *h = userdata;
        MigMigration *mig = manager_find_migration(h->m, h->id);
        if (!mig || strcmp(mig->status, "finished") != 0)
                return health_check_free(h);
        if (error && strcmp(error->name, MIG_ERROR_PEER_UNREACHABLE) == 0)
                cold_arm_auto_confirm(h->m, mig); /* ask again later */
        else if (error) {
                g_autofree char *why = g_strdup_printf("health check failed: %s; reverting", error->message);
                cold_revert_begin(h->m, mig, (MigAnswer){0}, why);
        } else if (mig->was_running && g_strcmp0(mig_dict_string(reply, "power-state"), "ACTIVE") != 0)
                cold_revert_begin(
                        h->m, mig, (MigAnswer){0},
                        "health check failed: the domain does not run on the destination; reverting");
        else
                cold_confirm_begin(h->m, mig, (MigAnswer){0}, true,
                                   "confirmed automatically after ResizeConfirmWindow");
        health_check_free(h);
}

static int on_confirm_window(sd_event_source *s, uint64_t usec, void *userdata) {
        HealthCheck *h = userdata;
        Manager *m = h->m;
        MigMigration *mig = manager_find_migration(m, h->id);
        g_hash_table_remove(m->cold_confirm_timers, h->id); /* frees s */
        if (!mig || strcmp(mig->status, "finished") != 0)
                return health_check_free(h), 0;
        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
        MigPeer *peer = manager_peer_of(m, mig, mig->destination, &e);
        if (!peer) /* not configured: waits, as the event on the record says, until it is again */
                return health_check_free(h), 0;
        mig_peer_call(peer, "DescribeDomain", PEER_STEP_TIMEOUT_USEC, on_health, h,
                      g_variant_new("(s)", mig->domain_uuid));
        return 0;
}

void cold_arm_auto_confirm(Manager *m, MigMigration *mig) {
        if (m->config->resize_confirm_window == 0)
                return;
        if (!m->cold_confirm_timers)
                m->cold_confirm_timers =
                        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, unref_source);
        /* The window counts from the finish (wall time, the only clock that outlives a restart);
         * the timer runs on the monotonic clock, so a clock step does not fire it early. */
        uint64_t window = m->config->resize_confirm_window * USEC_PER_SEC, now = mig_now_usec();
        uint64_t elapsed = now > mig->finished_usec ? now - mig->finished_usec : 0;
        uint64_t left = MAX(elapsed < window ? window - elapsed : 0, USEC_PER_SEC);
        HealthCheck *h = g_new0(HealthCheck, 1);
        *h = (HealthCheck){m, g_strdup(mig->id)};
        sd_event_source *s = NULL;
        if (sd_event_add_time_relative(m->event, &s, CLOCK_MONOTONIC, left, USEC_PER_SEC, on_confirm_window,
                                       h) < 0)
                return health_check_free(h);
        g_hash_table_replace(m->cold_confirm_timers, g_strdup(mig->id), s);
}

/* --- destination: the proof that this node holds the domain --- */

/* Every disk of the record is here, at least as large as it was copied (a qcow2 grows as
 * the domain writes), and what the copy wrote is on the device: the source deletes its copy
 * next. */
static int check_disks_here(IncomingStep *s) {
        for (guint i = 0; i < s->disks->len; i++) {
                const MigDisk *d = s->disks->pdata[i];
                struct stat st;
                if (stat(d->path, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t) st.st_size >= d->size) {
                        int r = mig_disk_flush(d, &s->err);
                        if (r < 0)
                                return r;
                        continue;
                }
                mig_virt_error_clear(&s->err);
                s->err.name = MIG_ERROR_CONFLICT;
                s->err.message = g_strdup_printf("node %s lacks disk %s of domain %s.", manager_node(s->m),
                                                 d->path, s->uuid);
                return -ENOENT;
        }
        return 0;
}

static void proof_run(void *data) {
        IncomingStep *s = data;
        MigDomainInfo *info = NULL;
        s->result = mig_virt_lookup(s->m->virt, s->uuid, &info, &s->err);
        if (s->result == 0 && (!info->persistent || g_ascii_strcasecmp(info->uuid, s->uuid) != 0)) {
                mig_virt_error_clear(&s->err);
                s->err.message = g_strdup_printf("node %s has domain %s, but not defined with UUID %s.",
                                                 manager_node(s->m), info->name, s->uuid);
                s->result = -ENOENT;
                s->err.name = MIG_ERROR_CONFLICT;
        } else if (s->result < 0 && g_strcmp0(s->err.name, MIG_ERROR_NOT_FOUND) == 0) {
                mig_virt_error_clear(&s->err);
                s->err.name = MIG_ERROR_CONFLICT;
                s->err.message =
                        g_strdup_printf("node %s does not hold domain %s.", manager_node(s->m), s->uuid);
        } else if (s->result < 0) {
                g_autofree char *why = g_steal_pointer(&s->err.message);
                s->err.message = g_strdup_printf("node %s cannot tell whether it holds the domain: %s",
                                                 manager_node(s->m), why);
        }
        if (s->result == 0)
                s->result = check_disks_here(s);
        mig_domain_info_free(info);
}

static void proof_done(void *data) {
        IncomingStep *s = data;
        MigMigration *mig = manager_find_migration(s->m, s->id);
        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
        if (s->result < 0)
                return incoming_step_fail(s);
        if (mig && strcmp(mig->status, "confirmed") != 0 &&
            manager_transition(
                    s->m, mig, "confirmed", NULL,
                    "the domain is here: the source removes its copy; the claim is the domain's usage") <
                    0) {
                sd_bus_error_set(&e, MIG_ERROR_STORE, "The destination could not record the confirm.");
                return mig_answer(&s->answer, NULL, &e);
        }
        mig_answer(&s->answer, NULL, NULL);
}

int cold_confirm_incoming(Manager *m, const char *id, MigAnswer answer, sd_bus_error *error) {
        MigMigration *mig = incoming_find(m, id, error);
        if (!mig)
                return mig_answer_clear(&answer), -ENOENT;
        if (strcmp(mig->status, "finished") != 0 && strcmp(mig->status, "confirmed") != 0) {
                mig_answer_clear(&answer);
                return sd_bus_error_setf(error, MIG_ERROR_CONFLICT, "Migration %s is %s here, not finished.",
                                         id, mig->status);
        }
        IncomingStep *s = incoming_step_new(m, id, answer);
        s->uuid = g_strdup(mig->domain_uuid);
        s->disks = mig_disks_from_json(mig->disks_json);
        mig_worker_submit(m->worker, proof_run, proof_done, s, incoming_step_free);
        return 1;
}
