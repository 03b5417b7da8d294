/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The destination's claims as leases (lease.h): found, asked about, handed to their engine. */

#include <string.h>

#include "disk.h"
#include "errors.h"
#include "lease.h"
#include "macro.h"

void lease_register(Manager *m, const LeaseKind *k) {
        g_ptr_array_add(m->lease_kinds, (gpointer) k);
}

static const LeaseKind *kind_of(const Manager *m, const MigMigration *mig) {
        for (guint i = 0; i < m->lease_kinds->len; i++) {
                const LeaseKind *k = m->lease_kinds->pdata[i];
                if (strcmp(k->kind, mig->kind) == 0 && strcmp(k->status, mig->status) == 0)
                        return k;
        }
        return NULL;
}

/* Every 30 s, or more often for a short ClaimTimeout. */
static uint64_t lease_check_usec(const Manager *m) {
        return MAX(USEC_PER_SEC, MIN(30 * USEC_PER_SEC, m->config->claim_timeout * USEC_PER_SEC / 2));
}

/* How long the claim has gone without a step, on the boot-time clock (a wall-clock step back
 * must not make it lapse at once, nor one forward keep it). */
static uint64_t claim_age(const MigMigration *mig) {
        uint64_t now = mig_boottime_usec();
        return now > mig->touched_boottime ? now - mig->touched_boottime : 0;
}

static void lapse_done(void *data) {
        IncomingStep *s = data;
        MigMigration *mig = manager_find_migration(s->m, s->id);
        if (s->result < 0) {
                g_warning("Migration %s: cannot release the claim yet: %s", s->id, s->err.message);
                return;
        }
        if (mig && !mig_status_is_final(mig->status))
                (void) manager_transition(s->m, mig, s->final_status, NULL, mig->error_message);
}

/* The record says why before the release runs; its status changes once it is done. */
static void lapse(Manager *m, const LeaseKind *k, MigMigration *mig, const char *why) {
        g_message("Migration %s: the claim lapses: %s.", mig->id, why);
        g_autofree char *msg = g_strdup_printf("claim released and partial disks deleted: %s", why);
        manager_record_failure(mig, MIG_ERROR_PEER_UNREACHABLE, msg);
        IncomingStep *s = incoming_step_new(m, mig->id, (MigAnswer){0});
        s->uuid = g_strdup(mig->domain_uuid);
        s->disks = mig_disks_from_json(mig->disks_json);
        incoming_keep_backing_in_use(m, mig->id, s->disks);
        s->delete_disks = k->delete_disks;
        s->final_status = g_strdup(k->final_status);
        mig_worker_submit(m->worker, k->release_run, lapse_done, s, incoming_step_free);
}

static bool lease_expired(const Manager *m, const MigMigration *mig) {
        return strcmp(mig->role, "destination") == 0 && kind_of(m, mig) &&
               claim_age(mig) >= m->config->claim_timeout * USEC_PER_SEC;
}

typedef struct LeaseCheck {
        Manager *m;
        char *id;
        bool no_peer; /* the source is not in the config any more */
} LeaseCheck;

static void on_source_status(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        LeaseCheck *lc = userdata;
        MigMigration *mig = manager_find_migration(lc->m, lc->id);
        const LeaseKind *k = mig ? kind_of(lc->m, mig) : NULL;
        const char *status = NULL;
        if (reply && g_variant_is_of_type(reply, G_VARIANT_TYPE("(s)")))
                g_variant_get(reply, "(&s)", &status);
        if (!k || !lease_expired(lc->m, mig))
                ; /* it moved on meanwhile */
        else if (lc->no_peer)
                lapse(lc->m, k, mig, "its source is not configured as a peer any more");
        else if (status && (!*status || mig_status_is_final(status)))
                lapse(lc->m, k, mig,
                      *status ? "the source ended the migration" : "the source has no such migration");
        else if (!reply && k->lapse_unreachable)
                lapse(lc->m, k, mig, "the source has been unreachable for longer than ClaimTimeout");
        g_free(lc->id);
        g_free(lc);
}

static void check_leases(Manager *m) {
        GHashTableIter it;
        MigMigration *mig;
        g_hash_table_iter_init(&it, m->migrations);
        while (g_hash_table_iter_next(&it, NULL, (gpointer *) &mig)) {
                if (!lease_expired(m, mig))
                        continue;
                MigPeer *peer = mig_peers_find(m->peers, mig->source);
                LeaseCheck *lc = g_new0(LeaseCheck, 1);
                *lc = (LeaseCheck){m, g_strdup(mig->id), !peer};
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

int lease_watch(Manager *m) {
        return sd_event_add_time_relative(m->event, NULL, CLOCK_MONOTONIC, USEC_PER_SEC, 0, on_lease_timer,
                                          m);
}
