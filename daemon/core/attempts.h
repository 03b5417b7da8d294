/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The source's tries at a destination, the same for both engines: the scheduler's plan is
 * made, its first node recorded as the destination and asked to Prepare; when that node
 * refuses or fails before any data moved, the next one the plan allows takes over (up to
 * MigrationAttempts, never for an explicit host), each try an event in the record. */

#include "scheduler.h"

typedef struct MigAttemptOps {
        const char *abort_method; /* what a node given up on is told to drop what it made */
        const char *abort_status;
        MigMigration *(*mig)(void *job);
        bool (*cancelled)(void *job);
        void (*send_prepare)(void *job);                    /* to mig's destination */
        void (*fail)(void *job, const sd_bus_error *error); /* NULL error: cancelled */
} MigAttemptOps;

typedef struct MigAttempts {
        Manager *m;
        const MigAttemptOps *ops;
        void *job;
        MigPlan *plan;    /* NULL until made, and after a restart */
        unsigned attempt; /* which of the plan's destinations is tried (0: the first) */
} MigAttempts;

void mig_attempts_init(MigAttempts *a, Manager *m, const MigAttemptOps *ops, void *job);
void mig_attempts_clear(MigAttempts *a);
/* Makes the plan for req and tries its first destination. */
void mig_attempts_start(MigAttempts *a, const MigPlaceRequest *req);
/* The destination's Prepare failed with error: whether the next destination is being
 * tried (the caller then does nothing more with this answer). */
bool mig_attempts_give_way(MigAttempts *a, const sd_bus_error *error);
