/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Cold migration (Nova's migrate/resize without a flavour change), driven by the
 * source node's daemon; the destination's daemon answers Peer calls.
 *
 * source record: pre-migrating (resize_prep) → migrating (resize_migrating: domain
 * shut down, disks copied sparse, copies verified) → post-migrating
 * (resize_migrated) → finished (the domain runs on the destination: VERIFY_RESIZE)
 * → confirming → confirmed, or reverting (resize_reverting) → reverted;
 * error or cancelled on failure, with the domain back on the source as it was.
 * Every status is committed before the step it names is taken. */

#include "manager.h"

/* Source side. Each replies to request itself (Migrate: as soon as the
 * migration is recorded; the others when done) and returns 1, or fails with error. */
int cold_source_start(Manager *m, sd_bus_message *request, const char *domain, const char *destination,
                      sd_bus_error *error);
int cold_source_confirm(Manager *m, sd_bus_message *request, MigMigration *mig, sd_bus_error *error);
int cold_source_revert(Manager *m, sd_bus_message *request, MigMigration *mig, sd_bus_error *error);
int cold_source_abort(Manager *m, sd_bus_message *request, MigMigration *mig, sd_bus_error *error);
/* After a start: resume or roll back every unfinished source migration. */
void cold_source_resume_all(Manager *m);
void cold_source_free_jobs(Manager *m);

/* Destination side: the Peer methods. */
int cold_dest_prepare(sd_bus_message *msg, Manager *m, sd_bus_error *error);
int cold_dest_verify(sd_bus_message *msg, Manager *m, sd_bus_error *error);
int cold_dest_finish(sd_bus_message *msg, Manager *m, sd_bus_error *error);
int cold_dest_confirm(sd_bus_message *msg, Manager *m, sd_bus_error *error);
int cold_dest_revert(sd_bus_message *msg, Manager *m, sd_bus_error *error);
int cold_dest_abort(sd_bus_message *msg, Manager *m, sd_bus_error *error);
/* Checks the claims this node holds every 30 s (at most half of ClaimTimeout): one whose source ended the
 * migration, or has been unreachable for longer than ClaimTimeout, is released and its partial disks deleted
 * (the source can never finish it: Finish needs the claim). */
int cold_dest_watch_leases(Manager *m);
