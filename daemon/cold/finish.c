/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Cold migration, phase 4: finish_resize. With "post-migrating" committed, the source asks
 * the destination to define the domain (its [Rewrite] rules applied; a bridge it lacks
 * refuses it before anything is defined) and to start it if it ran here. The outcome of a
 * Finish that got no answer is unknown: the source never starts the domain then, and asks
 * again until the destination answers (Finish is idempotent). Once it has, "finished" is
 * committed: VERIFY_RESIZE, waiting for confirm or revert (or the automatic confirm). */

#include <errno.h>
#include <string.h>

#include "cold-job.h"
#include "errors.h"
#include "macro.h"
#include "rewrite.h"

#define FINISH_RETRY_USEC (5 * USEC_PER_SEC)

/* --- source --- */

static int on_finish_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        ColdJob *j = userdata;
        j->retry_timer = sd_event_source_disable_unref(j->retry_timer);
        cold_send_finish(j);
        return 0;
}

static void on_finished(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        ColdJob *j = userdata;
        MigMigration *mig = cold_job_mig(j);
        if (error && strcmp(error->name, MIG_ERROR_PEER_UNREACHABLE) == 0) {
                /* The outcome is unknown: the destination may run the domain. Never start it here;
                 * ask again until the destination answers (Finish is idempotent). */
                g_warning("Migration %s: %s; asking again.", mig->id, error->message);
                (void) sd_event_add_time_relative(j->m->event, &j->retry_timer, CLOCK_MONOTONIC,
                                                  FINISH_RETRY_USEC, 0, on_finish_retry, j);
                return;
        }
        if (error)
                return cold_rollback_from(j, error); /* refused: the destination removed what it defined */
        int r = manager_transition(
                j->m, mig, "finished", "",
                mig->was_running
                        ? "the domain runs on the destination: VERIFY_RESIZE, confirm or revert"
                        : "the domain is defined on the destination: VERIFY_RESIZE, confirm or revert");
        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
        if (r < 0) /* stays post-migrating: a restart sends Finish again */
                manager_commit_error(j->m, &e, r, "the finished migration");
        else
                cold_arm_auto_confirm(j->m, mig);
        cold_job_end(j, &e);
}

void cold_send_finish(ColdJob *j) {
        MigMigration *mig = cold_job_mig(j);
        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
        MigPeer *peer = cold_job_peer(j, &e);
        if (!peer) /* the destination may run the domain: never start it here; the event says why it waits */
                return;
        mig_peer_call(peer, "FinishColdMigration", PEER_STEP_TIMEOUT_USEC, on_finished, j,
                      g_variant_new("(ssb)", mig->id, mig->domain_xml, (gboolean) mig->was_running));
}

/* --- destination: define (and start) the domain --- */

/* This node's [Rewrite] rules for the definition of a cold migration (its disks were copied
 * to the paths Prepare answered). A bridge this node lacks refuses it before anything is
 * defined. */
static int rewrite_definition(IncomingStep *s) {
        g_autoptr(GError) e = NULL;
        g_autofree char *out = NULL;
        int r = mig_rewrite_domain_xml(s->m->config->rewrite, s->definition, strlen(s->definition),
                                       MIG_REWRITE_CHECK_BRIDGES, NULL, &out, &e);
        if (r < 0) {
                mig_virt_error_clear(&s->err);
                s->err.name = MIG_ERROR_NOT_SUPPORTED;
                s->err.message =
                        g_strdup_printf("Node %s cannot run the domain: %s", manager_node(s->m), e->message);
                return r;
        }
        if (out) {
                g_free(s->definition);
                s->definition = g_steal_pointer(&out);
        }
        return 0;
}

static void finish_run(void *data) {
        IncomingStep *s = data;
        s->result = rewrite_definition(s);
        if (s->result == 0)
                s->result = mig_virt_define(s->m->virt, s->definition, s->uuid, s->start, &s->err);
}

static void finish_done(void *data) {
        IncomingStep *s = data;
        MigMigration *mig = manager_find_migration(s->m, s->id);
        g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
        if (s->result < 0) {
                /* Nothing was defined: back to the claim, which its lease covers again. */
                if (mig && strcmp(mig->status, "post-migrating") == 0) {
                        g_autofree char *why =
                                g_strdup_printf("the domain could not be defined: %s", s->err.message);
                        (void) manager_transition(s->m, mig, "pre-migrating", "resize_prep", why);
                }
                return incoming_step_fail(s);
        }
        if (mig && strcmp(mig->status, "finished") != 0) {
                mig_set_string(&mig->domain_xml, s->definition);
                mig->was_running = s->start;
                int r = manager_transition(
                        s->m, mig, "finished", NULL,
                        s->start ? "defined and started; waits for confirm or revert"
                                 : "defined (shut off, as on the source); waits for confirm or revert");
                if (r < 0) { /* the source rolls back: its Abort removes what was defined */
                        manager_commit_error(s->m, &e, r, "the finished migration");
                        return mig_answer(&s->answer, NULL, &e);
                }
        }
        mig_answer(&s->answer, NULL, NULL);
}

/* Finish is idempotent: pre-migrating (the claim) commits post-migrating before anything is
 * defined, so a restart in between leaves a record whose lease does not lapse (the running
 * domain is never destroyed by it) and that the source's next Finish completes. */
int cold_finish_incoming(Manager *m, const char *id, const char *definition, bool start, MigAnswer answer,
                         sd_bus_error *error) {
        static const char *const may_finish[] = {"pre-migrating", "post-migrating", "finished", NULL};
        MigMigration *mig = incoming_find(m, id, error);
        if (!mig)
                return mig_answer_clear(&answer), -ENOENT;
        if (!g_strv_contains(may_finish, mig->status)) {
                mig_answer_clear(&answer);
                return sd_bus_error_setf(error, MIG_ERROR_CONFLICT,
                                         "Migration %s is %s here; it cannot finish.", id, mig->status);
        }
        int r = strcmp(mig->status, "pre-migrating") == 0
                        ? manager_transition(m, mig, "post-migrating", "resize_finish",
                                             "defining the domain here")
                        : 0;
        if (r < 0) {
                mig_answer_clear(&answer);
                return manager_commit_error(m, error, r, "the start of the finish");
        }
        IncomingStep *s = incoming_step_new(m, id, answer);
        s->definition = g_strdup(definition);
        s->uuid = g_strdup(mig->domain_uuid);
        s->start = start;
        mig_worker_submit(m->worker, finish_run, finish_done, s, incoming_step_free);
        return 1;
}
