/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Cold migration, phase 5: confirm_resize. "confirming" is committed, then, on the worker,
 * the source's definition and disks are removed; the destination is told (its record
 * becomes the domain's usage). A failed removal goes back to "finished" with the reason.
 * A restart in "confirming" confirms again.
 *
 * The automatic confirm: ResizeConfirmWindow seconds after "finished", the destination is
 * asked how the domain is; one that runs there (or was shut off here too) is confirmed,
 * otherwise the migration is reverted; an unreachable destination is asked again later. */

#include <errno.h>
#include <string.h>

#include "bus-variant.h"
#include "cold-job.h"
#include "errors.h"
#include "macro.h"

/* --- source --- */

static void confirm_run(void *data) {
        ColdJob *j = data;
        j->result = mig_virt_undefine(j->m->virt, j->info->uuid, &j->err);
        virConnectPtr conn = j->result == 0 ? mig_virt_connection(j->m->virt, &j->err) : NULL;
        for (guint i = 0; conn && j->result == 0 && i < j->disks->len; i++)
                j->result = mig_disk_delete(conn, ((MigDisk *) j->disks->pdata[i])->path, &j->err);
        if (conn)
                virConnectClose(conn);
}

static void on_dest_confirmed(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        ColdJob *j = userdata;
        MigMigration *mig = cold_job_mig(j);
        if (error)
                g_warning("Migration %s: the destination was not told of the confirm (%s).", mig->id,
                          error->message);
        manager_transition(j->m, mig, "confirmed", "", "the source's definition and disks are removed");
        cold_job_end(j, NULL);
}

static void confirm_done(void *data) {
        ColdJob *j = data;
        MigMigration *mig = cold_job_mig(j);
        if (j->result < 0) {
                g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
                g_autofree char *msg = g_strdup_printf("confirm failed: %s", j->err.message);
                manager_transition(j->m, mig, "finished", "", msg);
                mig_virt_error_to_bus(&j->err, &e);
                return cold_job_end(j, &e);
        }
        mig_peer_call(cold_job_peer(j), "ConfirmColdMigration", PEER_STEP_TIMEOUT_USEC, on_dest_confirmed, j,
                      g_variant_new("(s)", mig->id));
}

void cold_confirm_begin(Manager *m, MigMigration *mig, MigAnswer answer, const char *why) {
        ColdJob *j = cold_job_for_record(m, mig, answer);
        manager_transition(m, mig, "confirming", "", why);
        mig_worker_submit(m->worker, confirm_run, confirm_done, j, NULL);
}

int cold_confirm(Manager *m, MigMigration *mig, MigAnswer answer, sd_bus_error *error) {
        cold_confirm_begin(m, mig, answer, "confirmed by an operator");
        return 1;
}

/* --- source: the automatic confirm --- */

typedef struct HealthCheck {
        Manager *m;
        char *id;
} HealthCheck;

static void unref_source(gpointer p) {
        sd_event_source_disable_unref(p);
}

static void on_health(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        HealthCheck *h = userdata;
        MigMigration *mig = manager_find_migration(h->m, h->id);
        if (mig && strcmp(mig->status, "finished") == 0) {
                if (error && strcmp(error->name, MIG_ERROR_PEER_UNREACHABLE) == 0)
                        cold_arm_auto_confirm(h->m, mig); /* ask again later */
                else if (!mig->was_running ||
                         g_strcmp0(mig_dict_string(reply, "power-state"), "ACTIVE") == 0)
                        cold_confirm_begin(h->m, mig, (MigAnswer){0},
                                           "confirmed automatically after ResizeConfirmWindow");
                else
                        cold_revert_begin(h->m, mig, (MigAnswer){0},
                                          "health check failed: the domain does not run on the destination; "
                                          "reverting");
        }
        g_free(h->id);
        g_free(h);
}

static int on_confirm_window(sd_event_source *s, uint64_t usec, void *userdata) {
        HealthCheck *h = userdata;
        MigMigration *mig = manager_find_migration(h->m, h->id);
        g_hash_table_remove(h->m->cold_confirm_timers, h->id);
        MigPeer *peer = mig ? mig_peers_find(h->m->peers, mig->destination) : NULL;
        if (!peer || strcmp(mig->status, "finished") != 0)
                return on_health(NULL, NULL, NULL, h), 0;
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
        g_hash_table_replace(m->cold_confirm_timers, g_strdup(mig->id), s);
}

/* --- destination: the claim becomes the domain's usage --- */

int cold_confirm_incoming(Manager *m, const char *id, MigAnswer answer, sd_bus_error *error) {
        MigMigration *mig = incoming_find(m, id, error);
        if (!mig)
                return mig_answer_clear(&answer), -ENOENT;
        if (strcmp(mig->status, "confirmed") == 0)
                return mig_answer(&answer, NULL, NULL), 1;
        if (strcmp(mig->status, "finished") != 0) {
                mig_answer_clear(&answer);
                return sd_bus_error_setf(error, MIG_ERROR_CONFLICT, "Migration %s is %s here, not finished.",
                                         id, mig->status);
        }
        incoming_transition(m, mig, "confirmed",
                            "the source removed its copy; the claim is now the domain's usage");
        mig_answer(&answer, NULL, NULL);
        return 1;
}
