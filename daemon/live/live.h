/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Live (and block) migration, driven by the source node's daemon through
 * libvirt's peer-to-peer migration; the destination's daemon claims resources
 * before (Prepare) and records the domain as its own after (Finish).
 *
 * source record: queued (waits for a MaxConcurrentMigrations slot) → preparing
 * (destination chosen, claim made, disks precreated for a block migration) →
 * running (libvirt migrates; progress every 500 ms) → completed, or cancelled
 * (abort) / failed, with the domain running on the source as before. */

#include "manager.h"
#include "virt.h"

typedef struct MigLiveOptions {
        bool block;
        uint64_t bandwidth_mib;
        uint64_t max_downtime_ms;
        bool auto_converge;
        bool postcopy;
        unsigned parallel;
        bool compressed;
} MigLiveOptions;

int live_source_start(Manager *m, sd_bus_message *request, const char *domain, const char *destination,
                      const MigLiveOptions *o, sd_bus_error *error);
int live_source_abort(Manager *m, sd_bus_message *request, MigMigration *mig, sd_bus_error *error);
int live_source_force_complete(Manager *m, sd_bus_message *request, MigMigration *mig, sd_bus_error *error);
void live_source_resume_all(Manager *m);
void live_source_free_jobs(Manager *m);

int live_dest_prepare(sd_bus_message *msg, Manager *m, sd_bus_error *error);
int live_dest_finish(sd_bus_message *msg, Manager *m, sd_bus_error *error);
int live_dest_abort(sd_bus_message *msg, Manager *m, sd_bus_error *error);
