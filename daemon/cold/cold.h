/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Cold migration (Nova's migrate, and its resize: the same with a new size), driven by the
 * source node's daemon; the destination's daemon answers Peer calls. One file per
 * phase, both sides of the phase in it (and resize.c: a resize on the same node):
 *
 *   prepare.c  pre-migrating (resize_prep): the request, the scheduler's choice, the claim
 *   copy.c     migrating (resize_migrating): the domain shut down, its disks copied sparse
 *   verify.c   the copies checksummed on both nodes
 *   finish.c   post-migrating (resize_migrated) → finished: the destination defines and
 *              starts the domain (VERIFY_RESIZE)
 *   confirm.c  confirming → confirmed (+ the automatic confirm after ResizeConfirmWindow)
 *   revert.c   reverting (resize_reverting) → reverted: the destination's copy goes, the
 *              source's starts again
 *   abort.c    error or cancelled with the domain back on the source as it was (+ the
 *              destination's claim lapsing when its source is gone)
 *   resume.c   what a restart does at each status
 *
 * Every status is committed before the step it names is taken. */

#include "answer.h"
#include "incoming.h"
#include "manager.h"

/* The source's steps, asked by an operator. Each takes answer: Migrate's answers as soon as
 * the migration is recorded (result.migration_id), the others when done. 1, or a negative
 * errno with error set (answer dropped). */
/* A resize: the new memory (bytes) and vCPUs; 0 keeps that part. */
typedef struct MigResize {
        uint64_t memory;
        unsigned vcpus;
} MigResize;
/* resize NULL: a migration that keeps the size. A resize schedules and claims the new size,
 * the destination defines the domain with it; revert starts the source's own definition,
 * which keeps the old size. */
int cold_migrate(Manager *m, const char *domain, const char *destination, const MigResize *resize,
                 MigAnswer answer, sd_bus_error *error);
/* resize.c: a resize on this node (kind "resize"; cold_migrate hands one over when the
 * destination is this node): no copy; confirm keeps it, revert defines the old size again. */
int cold_resize_here(Manager *m, const char *domain, const MigResize *resize, MigAnswer answer,
                     sd_bus_error *error);
int cold_resize_confirm(Manager *m, MigMigration *mig, MigAnswer answer, sd_bus_error *error);
int cold_resize_revert(Manager *m, MigMigration *mig, MigAnswer answer, sd_bus_error *error);
/* After a restart: the step under way is done again (pre-migrating: cancelled). */
void cold_resize_resume(Manager *m, MigMigration *mig);
int cold_confirm(Manager *m, MigMigration *mig, MigAnswer answer, sd_bus_error *error);
int cold_revert(Manager *m, MigMigration *mig, MigAnswer answer, sd_bus_error *error);
int cold_abort(Manager *m, MigMigration *mig, MigAnswer answer, sd_bus_error *error);

/* The destination's steps, asked by the source's daemon. */
int cold_prepare_incoming(Manager *m, const MigIncoming *in, MigAnswer answer, sd_bus_error *error);
int cold_verify_incoming(Manager *m, const char *id, MigAnswer answer, sd_bus_error *error);
int cold_finish_incoming(Manager *m, const char *id, const char *definition, bool start, MigAnswer answer,
                         sd_bus_error *error);
int cold_confirm_incoming(Manager *m, const char *id, MigAnswer answer, sd_bus_error *error);
int cold_revert_incoming(Manager *m, const char *id, MigAnswer answer, sd_bus_error *error);
int cold_abort_incoming(Manager *m, const char *id, const char *status, MigAnswer answer,
                        sd_bus_error *error);

/* Once at start: the copy slots (a copy that ends starts the next prepared one) and the
 * destination's claims as leases (lease.h: released when the source ended the migration or
 * has been unreachable for longer than ClaimTimeout). */
void cold_init(Manager *m);
/* After a start: resume or roll back every unfinished source migration. */
void cold_resume_all(Manager *m);
