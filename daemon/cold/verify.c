/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Cold migration, phase 3: verify. Each copied disk was proven by its stream (copy.c: the
 * checksum of what the destination wrote is the one of what was read here). What is left
 * are the backing files the destination had already: both nodes checksum those at the same
 * time, on their workers (Peer.VerifyColdMigration on the destination). Only when every
 * checksum matches is "post-migrating" (resize_migrated) committed: from then on the domain
 * belongs to the destination and a restart finishes rather than rolls back. A difference,
 * or a failure on either side, rolls back. */

#include <errno.h>
#include <string.h>

#include "cold-job.h"
#include "errors.h"
#include "macro.h"

#define VERIFY_TIMEOUT_USEC (30 * 60 * USEC_PER_SEC)

/* --- source --- */

typedef struct VerifyStep {
        ColdJob *job;
        unsigned pending;
        char **remote;
        char *remote_error_name, *remote_error;
} VerifyStep;

/* Both nodes: the checksums of the disks the verify step compares, in their order. */
static int checksums_of(GPtrArray *disks, GPtrArray **ret, MigVirtError *err) {
        *ret = g_ptr_array_new_with_free_func(g_free);
        for (guint i = 0; i < disks->len; i++) {
                char *hex = NULL;
                if (!mig_disk_needs_checksum(disks->pdata[i]))
                        continue;
                int r = mig_disk_checksum(((MigDisk *) disks->pdata[i])->path, &hex, err);
                if (r < 0)
                        return r;
                g_ptr_array_add(*ret, hex);
        }
        return 0;
}

static void verify_local_run(void *data) {
        ColdJob *j = ((VerifyStep *) data)->job;
        j->result = checksums_of(j->disks, &j->checksums, &j->err);
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
                return cold_rollback(j, v->remote_error_name, v->remote_error), false;
        if (j->result < 0)
                return cold_rollback(j, j->err.name, j->err.message), false;
        if (!v->remote || g_strv_length(v->remote) != j->checksums->len)
                return cold_rollback(j, MIG_ERROR_INTERNAL, "the destination checksummed other disks"),
                       false;
        for (guint i = 0, k = 0; i < j->disks->len; i++) {
                const MigDisk *d = j->disks->pdata[i];
                if (!mig_disk_needs_checksum(d))
                        continue;
                if (strcmp(v->remote[k], j->checksums->pdata[k]) != 0 && d->shared) {
                        g_autofree char *msg = g_strdup_printf(
                                "%s on %s is another file than the backing file the domain is built on "
                                "(their contents differ): move or remove it there first",
                                d->path, cold_job_mig(j)->destination);
                        return cold_rollback(j, MIG_ERROR_CONFLICT, msg), false;
                }
                if (strcmp(v->remote[k], j->checksums->pdata[k]) != 0) {
                        g_autofree char *msg =
                                g_strdup_printf("the copy of %s differs from the original", d->path);
                        return cold_rollback(j, MIG_ERROR_INTERNAL, msg), false;
                }
                k++;
        }
        if (j->cancel)
                return cold_rollback(j, NULL, NULL), false;
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
        if (manager_transition(j->m, cold_job_mig(j), "post-migrating", "resize_migrated",
                               "disks copied and verified") < 0)
                return cold_rollback(j, MIG_ERROR_STORE, "cannot record the verified copy");
        cold_send_finish(j);
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

void cold_verify_start(ColdJob *j) {
        VerifyStep *v = g_new0(VerifyStep, 1);
        v->job = j;
        v->pending = 2;
        mig_worker_submit_on(j->m->worker, MIG_LANE_LONG, verify_local_run, verify_one_done, v, NULL);
        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
        MigPeer *peer = cold_job_peer(j, &e);
        if (!peer)
                return on_verified(NULL, NULL, &e, v);
        mig_peer_call(peer, "VerifyColdMigration", VERIFY_TIMEOUT_USEC, on_verified, v,
                      g_variant_new("(s)", j->id));
}

/* --- destination: the copies' checksums --- */

static void verify_incoming_run(void *data) {
        IncomingStep *s = data;
        s->result = checksums_of(s->disks, &s->checksums, &s->err);
}

static void verify_incoming_done(void *data) {
        IncomingStep *s = data;
        if (s->result < 0)
                return incoming_step_fail(s);
        g_ptr_array_add(s->checksums, NULL);
        mig_answer(&s->answer, &(MigResult){.strv = (char *const *) s->checksums->pdata}, NULL);
}

int cold_verify_incoming(Manager *m, const char *id, MigAnswer answer, sd_bus_error *error) {
        MigMigration *mig = incoming_find(m, id, error);
        if (!mig)
                return mig_answer_clear(&answer), -ENOENT;
        IncomingStep *s = incoming_step_new(m, id, answer);
        s->disks = mig_disks_from_json(mig->disks_json);
        mig_worker_submit_on(m->worker, MIG_LANE_LONG, verify_incoming_run, verify_incoming_done, s,
                             incoming_step_free);
        return 1;
}
