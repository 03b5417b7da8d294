/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Live (and block) migration, driven by the source node's daemon through libvirt's
 * peer-to-peer migration; the destination's daemon claims resources before (Prepare) and
 * records the domain as its own after (Finish). One file per phase, both sides in it:
 *
 *   queue.c     queued: the request, waiting for a MaxConcurrentMigrations slot
 *   prepare.c   preparing: destination chosen, claim made, disks precreated (block)
 *   run.c       running: libvirt migrates; job statistics every 500 ms
 *   converge.c  judging each memory pass, the escalation, CompletionTimeout
 *   finish.c    completed: the destination confirms it runs the domain
 *   abort.c     cancelled / failed with the domain running on the source as before
 *               (+ force-complete)
 *   recover.c   the outcome from both nodes' views, after a restart or an unconfirmed end
 */

#include "answer.h"
#include "incoming.h"
#include "manager.h"
#include "virt.h"

typedef struct MigLiveOptions {
        bool block;
        uint64_t bandwidth_mib;
        uint64_t max_downtime_ms;
        bool auto_converge;
        bool postcopy;
        unsigned parallel;
        MigCompress compressed;
} MigLiveOptions;

/* Once at start: the queue starts the next migration whenever a slot frees. */
void live_init(Manager *m);

/* The source's steps, asked by an operator; as in cold.h. */
int live_migrate(Manager *m, const char *domain, const char *destination, const MigLiveOptions *o,
                 MigAnswer answer, sd_bus_error *error);
int live_abort(Manager *m, MigMigration *mig, MigAnswer answer, sd_bus_error *error);
int live_force_complete(Manager *m, MigMigration *mig, MigAnswer answer, sd_bus_error *error);

/* The destination's steps, asked by the source's daemon. */
int live_prepare_incoming(Manager *m, const MigIncoming *in, MigAnswer answer, sd_bus_error *error);
/* Answers libvirt's figures (result.downtime_msec, duration_msec). */
int live_finish_incoming(Manager *m, const char *id, MigAnswer answer, sd_bus_error *error);
int live_abort_incoming(Manager *m, const char *id, const char *status, MigAnswer answer,
                        sd_bus_error *error);

/* After a start: decide every unfinished source migration from both nodes' views. */
void live_resume_all(Manager *m);
