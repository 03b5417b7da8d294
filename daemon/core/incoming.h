/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A migration coming to this node, as the destination records it (role "destination"):
 * the record is the claim on memory, vCPUs and disk that Prepare makes (for either
 * engine), held until confirm, revert or abort. Each of the destination's steps is
 * idempotent, so a source that lost an answer can repeat it. The steps themselves live
 * with their phase (cold/finish.c, live/abort.c, ...); this is what they share. */

#include "answer.h"
#include "manager.h"

/* A Prepare call, as the source sent it. */
typedef struct MigIncoming {
        const char *kind; /* "cold" or "live" */
        const char *id;
        const char *name, *uuid;
        const char *source;
        uint64_t memory; /* bytes */
        unsigned vcpus;
        bool copy_disks;          /* live: a block migration copies the disks (they are not shared) */
        GPtrArray *disks;         /* MigDisk*, at the source's paths; Prepare maps them to this node's */
        char *const *backing;     /* those of disks that are backing files (source's paths), or NULL */
        const char *group;        /* the domain's server group (NULL, "": none) */
        const char *group_policy; /* its policy, checked again as the claim is granted */
        bool group_elsewhere;     /* members run on other nodes (affinity needs one here) */
} MigIncoming;

/* Claims what the domain needs (refused when this node holds the domain already or lacks
 * memory, vCPUs or disk), records it, precreates the disk volumes, and answers with each
 * disk's path on this node (result.strv). A repeated Prepare answers the same. */
int incoming_prepare(Manager *m, const MigIncoming *in, MigAnswer answer, sd_bus_error *error);

/* The file of a disk this node created for cold migration id, opened for writing (*ret_fd)
 * for the disk stream of the copy (disk-stream.h): only while the migration is prepared
 * here, only a disk it lists as created (not shared, not a backing file it had). */
int incoming_open_disk(Manager *m, const char *id, const char *path, int *ret_fd, sd_bus_error *error);

/* Before the disks this node created for migration id are deleted: its backing files that
 * another migration here lists too are kept (flagged shared in disks): that one found them
 * here, and its domain may use them. */
void incoming_keep_backing_in_use(Manager *m, const char *id, GPtrArray *disks);

/* One step on an incoming migration, run on the worker. */
typedef struct IncomingStep {
        Manager *m;
        MigAnswer answer;
        char *id;
        char *uuid;
        GPtrArray *disks;       /* MigDisk*: the ones this node created (what it may delete) */
        char *definition;       /* cold Finish: the domain's XML */
        bool start;             /* cold Finish: start the domain */
        char *final_status;     /* Abort, Revert: the status recorded once the copy is gone */
        bool delete_disks;      /* live Abort: delete the disks the record lists */
        GPtrArray *checksums;   /* cold Verify: char* */
        uint64_t downtime_msec; /* live Finish: libvirt's figures */
        uint64_t duration_msec;
        int result;
        MigVirtError err;
} IncomingStep;

/* A step on migration id; it takes answer. */
IncomingStep *incoming_step_new(Manager *m, const char *id, MigAnswer answer);
void incoming_step_free(void *step);
/* Answers with the step's error. */
void incoming_step_fail(IncomingStep *s);
/* The step's act is done: commits its final_status with message (unless the record is final
 * already) and answers; with the commit's error when the record cannot be written (the act
 * is idempotent: the source asks again). */
void incoming_step_end(IncomingStep *s, const char *message);

/* This node's record of incoming migration id, or NULL with NotFound. */
MigMigration *incoming_find(Manager *m, const char *id, sd_bus_error *error);
