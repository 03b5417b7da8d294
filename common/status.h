/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The one table of migration statuses (the Status property of org.example.Migrate1.Migration,
 * the "status" of ListMigrations and of every migration event), for daemon and client alike.
 *
 *   cold: pre-migrating → migrating → post-migrating → finished, then confirming → confirmed or
 *         reverting → reverted; error on failure, cancelled when aborted.
 *   live: queued → preparing → running → completed, or cancelled / failed.
 *
 * Each status has flags:
 *   final               nothing more happens to the migration;
 *   waits for operator  the migration stays where it is until an operator acts: "finished", the
 *                       cold migration's VERIFY_RESIZE, waiting for confirm or revert (in flight
 *                       for the daemon, but where watching ends);
 *   success             the migration got where it was asked to go: finished, confirmed,
 *                       completed (reverted, cancelled and the failures are not). */

#include <stdbool.h>

typedef enum MigStatus {
        /* cold */
        MIG_STATUS_PRE_MIGRATING,
        MIG_STATUS_MIGRATING,
        MIG_STATUS_POST_MIGRATING,
        MIG_STATUS_FINISHED,
        MIG_STATUS_CONFIRMING,
        MIG_STATUS_CONFIRMED,
        MIG_STATUS_REVERTING,
        MIG_STATUS_REVERTED,
        MIG_STATUS_ERROR,
        MIG_STATUS_CANCELLED, /* live too */
        /* live */
        MIG_STATUS_QUEUED,
        MIG_STATUS_PREPARING,
        MIG_STATUS_RUNNING,
        MIG_STATUS_COMPLETED,
        MIG_STATUS_FAILED,
        _MIG_STATUS_MAX,
        MIG_STATUS_INVALID = -1,
} MigStatus;

/* Every status name in table order, NULL-terminated (for --status checks and help). */
extern const char *const mig_status_names[];

/* MIG_STATUS_INVALID for NULL or a string that is no status. */
MigStatus mig_status_from_string(const char *s);
/* NULL for a value out of range. */
const char *mig_status_to_string(MigStatus status);

/* Each of these is false for NULL and for unknown strings. */

/* Nothing more happens: confirmed, reverted, error, cancelled, completed, failed. Not finished. */
bool mig_status_is_final(const char *status);
/* One of the table's statuses. */
bool mig_status_is_known(const char *status);
/* Waits for an operator to act (finished). */
bool mig_status_waits_for_operator(const char *status);
/* Where watching a migration ends: final, or waiting for an operator. */
bool mig_status_ends_watch(const char *status);
/* Ended well: finished, confirmed, completed. */
bool mig_status_is_success(const char *status);

/* Evacuations (the Status property of org.example.Migrate1.Evacuation):
 *   planning → running ⇄ paused → completed, or cancelling → cancelled, or failed.
 * Their items (one per domain): queued → migrating → done, or failed (with why: no valid
 * host, the move's error), or not-moved (cancelled before it started). */
extern const char *const mig_evacuation_status_names[];
extern const char *const mig_evacuation_item_status_names[];
/* Nothing more happens: completed, cancelled, failed. */
bool mig_evacuation_status_is_final(const char *status);
bool mig_evacuation_status_is_known(const char *status);
