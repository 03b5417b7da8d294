/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* One migration as this node records it. The store persists it; bus-migration.c
 * exposes it as /org/example/Migrate1/migration/<id>. */

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "status.h"

typedef struct MigMigration {
        char *id;
        char *domain_name;
        char *domain_uuid;
        char *kind; /* "cold" or "live" */
        char *role; /* "source" or "destination": which side this node plays */
        char *source;
        char *destination;
        char *status;
        char *task_state;
        char *error_name;
        char *error_message;
        uint64_t bytes_processed;
        uint64_t bytes_remaining;
        uint64_t bytes_total;
        double progress;
        uint64_t created_usec;
        uint64_t updated_usec;
        uint64_t finished_usec;
        uint64_t touched_boottime; /* CLOCK_BOOTTIME of the last commit (or of the load): for leases (not
                                      stored) */
        /* what the engines need to resume or roll back after a restart */
        char *domain_xml; /* the definition to restore (source) or define (destination) */
        bool was_running; /* the power state before the migration */
        char *disks_json; /* MigDisk list, see disk.h */
        /* destination side: the claim this node holds until the migration ends */
        uint64_t claim_memory; /* bytes */
        unsigned claim_vcpus;
        /* live migrations */
        uint64_t downtime_msec; /* measured by libvirt at completion */
        /* the reconciliation table: how each node last reported the domain (mig_domain_view
         * strings, "" before the first report) */
        char *source_view;
        char *dest_view;
        char *group_name; /* the domain's server group when it moved ("" none), and its policy */
        char *group_policy;
        /* a resize (cold): the size before and after (0: not a resize, or that part kept) */
        uint64_t old_memory, new_memory; /* bytes */
        unsigned old_vcpus, new_vcpus;
        uint64_t disk_processed; /* block migration: disk bytes copied / to copy (not stored) */
        uint64_t disk_total;
        uint64_t dirty_rate;        /* bytes/s, while running (not stored) */
        uint64_t iteration;         /* memory pass, while running (not stored) */
        uint64_t expected_downtime; /* ms, while running (not stored) */
        char *convergence;          /* converging, stalled, diverging, or "" (not stored) */
        uint32_t throttle;          /* % auto-converge holds the guest's CPU back (not stored) */
        char *step;                 /* the escalation reached: "" or a word of converge.c (not stored) */
        char *unconfigured_noted;   /* the status at which a missing peer was recorded (not stored) */
} MigMigration;

typedef struct MigEvent {
        uint64_t time_usec;
        char *status;
        char *message;
} MigEvent;

MigMigration *mig_migration_new(void);
/* The record of a migration this node starts (its source) of domain name/uuid: a new ID,
 * created now, status s. */
MigMigration *mig_migration_new_source(const char *kind, const char *name, const char *uuid,
                                       const char *source, const char *destination, const char *status);
void mig_migration_free(MigMigration *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MigMigration, mig_migration_free)
void mig_event_free(MigEvent *e);

/* Sets a string field and reports whether it changed. */
bool mig_set_string(char **field, const char *value);

/* Wall time, for what is shown and stored. */
uint64_t mig_now_usec(void);
/* CLOCK_BOOTTIME, for how long ago something happened: a clock step does not move it. */
uint64_t mig_boottime_usec(void);
