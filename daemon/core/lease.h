/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A destination's claim is a lease (lease.c). A claim that has gone ClaimTimeout without a
 * step is checked with its source every 30 s (at most half of ClaimTimeout): when the
 * source says it ended the migration, or has no such migration, the source can never finish
 * it, and the engine that owns the claim releases it. Each engine registers the status its
 * claims wait in and what releasing one means. */

#include <stdbool.h>

#include "incoming.h"
#include "manager.h"

typedef struct LeaseKind {
        const char *kind;   /* MigMigration.kind: "cold", "live" */
        const char *status; /* a claim of this kind waits in this status */
        /* Also released when the source has been unreachable for longer than ClaimTimeout
         * (cold: nothing moves without the source). Live claims are not: libvirt may still
         * carry the domain over, so only the source's word releases them. */
        bool lapse_unreachable;
        /* Releases the claim, on the worker: an IncomingStep (incoming.h) with the record's
         * domain UUID and disks; result < 0 (with err) leaves the claim for the next check. */
        void (*release_run)(void *step);
        bool delete_disks;        /* passed to release_run in the step */
        const char *final_status; /* committed once released: "error", "failed" */
} LeaseKind;

/* Once at start, per engine: k must outlive the manager (a static). */
void lease_register(Manager *m, const LeaseKind *k);
/* Starts the checks of every registered kind. */
int lease_watch(Manager *m);
