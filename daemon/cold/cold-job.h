/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the phases of a cold migration share on the source (cold.h lists them). A phase
 * calls only the phases after it and the roll back (abort.c). */

#include "attempts.h"
#include "cold.h"
#include "disk.h"

#define PEER_STEP_TIMEOUT_USEC MIG_PEER_STEP_TIMEOUT_USEC

typedef struct ColdJob {
        Manager *m;
        char *id;
        char *domain;      /* as the caller named it */
        char *destination; /* as the caller asked ("" = the scheduler picks) */
        char *definition;  /* the domain's persistent XML, read before the record is made (a
                            * resize's: with the new size) */
        MigResize resize;  /* 0, 0: not a resize */
        uint64_t old_memory;
        unsigned old_vcpus;
        uint64_t memory_free_here; /* a resize on this node: what it has free */
        GPtrArray *disks;
        MigDomainInfo *info;
        char *dest_address; /* the destination's ssh address, for the disk streams */
        char **dest_paths;  /* where the destination keeps each disk (its [Rewrite] applied) */
        MigAttempts tries;  /* the scheduler's plan and which of its destinations is tried */
        MigCopyProgress progress;
        sd_event_source *progress_timer;
        sd_event_source *retry_timer;
        MigAnswer started;   /* Migrate: answered once recorded */
        MigAnswers *waiters; /* Confirm, Revert, Abort: answered at the end */
        bool cancel;
        bool restart_source;  /* roll back: start the domain here again (it ran before) */
        bool automatic;       /* confirm: the automatic one (no proof: revert or ask again) */
        bool waits_for_slot;  /* prepared, waiting for one of MaxConcurrentMigrations copy slots */
        GPtrArray *checksums; /* local, char* */
        int result;
        MigVirtError err;
} ColdJob;

/* job.c: Conflict unless d is ACTIVE or SHUTOFF and persistent (what: "a cold
 * migration"; done: "migrated cold", as the sentence says them). */
int cold_refuse_state(const MigDomainInfo *d, const char *what, const char *done, sd_bus_error *e);

/* job.c: a job, kept in m->cold_jobs under its id once it has one. */
ColdJob *cold_job_new(Manager *m, const char *id);
void cold_job_free(ColdJob *j);
void cold_job_keep(ColdJob *j);
ColdJob *cold_job_find(Manager *m, const char *id);
/* A job for a step on a recorded migration, from the record alone (answer may be empty). */
ColdJob *cold_job_for_record(Manager *m, MigMigration *mig, MigAnswer answer);
MigMigration *cold_job_mig(ColdJob *j);
/* The destination of the job's migration, or NULL with PeerUnreachable when it is not a
 * configured peer (an event on the record says so). */
MigPeer *cold_job_peer(ColdJob *j, sd_bus_error *error);
/* The job is over: answer the waiters and forget it. */
void cold_job_end(ColdJob *j, const sd_bus_error *error);

/* job.c: the record of a move of the job's domain that this node starts: pre-migrating
 * (resize_prep), the job's definition, whether the domain runs. */
MigMigration *cold_source_record(ColdJob *j, const char *kind, const char *destination);
/* job.c, on a worker: removes the markers that let the destination find shared folders
 * (once it answered Prepare, or the migration rolls back). */
void cold_unmark_shared(ColdJob *j);

/* The phases, each started by the one before it. */
void cold_choose_destination(ColdJob *j);                  /* prepare.c */
void cold_copy_start(ColdJob *j);                          /* copy.c */
void cold_verify_start(ColdJob *j);                        /* verify.c */
void cold_send_finish(ColdJob *j);                         /* finish.c */
void cold_arm_auto_confirm(Manager *m, MigMigration *mig); /* confirm.c */
void cold_confirm_begin(Manager *m, MigMigration *mig, MigAnswer answer, bool automatic,
                        const char *why);                                                 /* confirm.c */
void cold_revert_begin(Manager *m, MigMigration *mig, MigAnswer answer, const char *why); /* revert.c */
/* abort.c: undoes a migration that failed (name, message) or was cancelled before Finish was
 * sent: the destination drops its claim, the domain is started here again if it ran. */
void cold_rollback(ColdJob *j, const char *name, const char *message);
void cold_rollback_from(ColdJob *j, const sd_bus_error *error);
/* abort.c: removes this node's copy of incoming migration id, then records final_status. */
int cold_remove_incoming(Manager *m, const char *id, const char *final_status, MigAnswer answer,
                         sd_bus_error *error);
/* abort.c: the destination's claims as leases (lease.h). */
void cold_lease_register(Manager *m);
