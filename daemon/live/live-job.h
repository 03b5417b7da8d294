/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the phases of a live migration share on the source (live.h lists them). A phase
 * calls only the phases after it, the roll back (abort.c) and the convergence steps. */

#include "attempts.h"
#include "disk.h"
#include "live.h"

#define PEER_STEP_TIMEOUT_USEC MIG_PEER_STEP_TIMEOUT_USEC

/* tune.c: what is known before the start, and what it chooses. */
typedef struct LiveTuneFigures {
        uint64_t dirty_rate; /* bytes/s, sampled; 0: unknown */
        uint64_t link_rate;  /* bytes/s, mig_store_get_link() of the destination; 0: none yet */
        uint64_t bandwidth;  /* bytes/s, the Bandwidth cap; 0: none */
        uint64_t memory;     /* the guest's, bytes */
        bool auto_converge;
        unsigned parallel;
        MigCompress compress;
        bool emulated;            /* a TCG domain */
        unsigned long hv_version; /* QEMU's, as virConnectGetVersion gives it; 0: unknown */
} LiveTuneFigures;

typedef struct LiveTune {
        uint64_t link;                                 /* bytes/s assumed */
        unsigned throttle_initial, throttle_increment; /* 0: QEMU's */
        uint64_t xbzrle_cache;                         /* bytes; 0: no XBZRLE */
} LiveTune;

void live_tune_plan(const LiveTuneFigures *f, LiveTune *t);
/* TCG on a QEMU that loses guest writes at each memory sync (see tune.c). */
bool live_tune_lossy_tcg(const LiveTuneFigures *f);
/* The event that says what was chosen and why. */
char *live_tune_describe(const LiveTuneFigures *f, const LiveTune *t, const char *peer);
/* The XBZRLE cache for a dirty set of that many bytes. */
uint64_t live_tune_cache_for(uint64_t dirty_set, uint64_t memory);

typedef struct LiveJob {
        Manager *m;
        char *id;
        char *domain;
        char *destination;
        MigLiveOptions opts;
        MigDomainInfo *info;
        GPtrArray *disks;
        MigAttempts tries;   /* the scheduler's plan and which of its destinations is tried */
        MigAnswer started;   /* Migrate: answered once recorded */
        MigAnswers *waiters; /* Abort calls */
        sd_event_source *stats_timer;
        bool stats_busy;
        bool cancel;
        bool migrating; /* libvirt's migration runs */
        uint64_t best_remaining;
        unsigned stalled_ticks; /* passes without progress */
        bool have_best;
        uint64_t last_iteration;
        uint64_t downtime_now; /* ms, as raised by the escalation */
        bool postcopy_started; /* the escalation or force-complete switched to post-copy */
        bool escalation_done;  /* nothing more is permitted */
        bool deadline_acted;   /* CompletionTimeout's action was taken */
        LiveTuneFigures figures;
        LiveTune tune;
        sd_event_source *sample_timer; /* waits for the dirty rate QEMU samples */
        uint64_t sample_deadline;
        uint64_t sampled_usec;       /* CLOCK_BOOTTIME the dirty rate's sampling started */
        bool first_pass_seen;        /* the link's rate was taken, the cache checked */
        unsigned throttle_shown;     /* the throttle last recorded as an event */
        uint64_t throttle_rose_usec; /* CLOCK_BOOTTIME of its last rise */
        uint64_t throttle_rose_pass; /* the memory pass of it */
        MigJobStats stats;
        int result;
        MigVirtError err;
        char *dest_uri, *migration_uri;
} LiveJob;

/* job.c: a job, kept in m->live_jobs under its id once it has one. */
LiveJob *live_job_new(Manager *m);
void live_job_free(LiveJob *j);
void live_job_keep(LiveJob *j);
LiveJob *live_job_find(Manager *m, const char *id);
MigMigration *live_job_mig(LiveJob *j);
/* The job is over: answer the waiters and forget it. */
void live_end(LiveJob *j, const sd_bus_error *error);
/* The destination confirmed it runs the domain (its Finish reply, "(tt)"): completed. */
void live_completed(LiveJob *j, GVariant *finish_reply);

/* converge.c */
typedef enum { STEP_DOWNTIME, STEP_POSTCOPY, STEP_PAUSE, STEP_ABORT, STEP_CACHE } StepKind;
/* Asks libvirt for a step on the running migration; note is the event recorded once taken. */
void live_take_step(LiveJob *j, StepKind kind, uint64_t value, char *note);
/* Judges a memory pass into the record's Convergence; true when it calls for the next
 * escalation step. */
bool live_judge(LiveJob *j, const MigJobStats *s);
void live_escalate(LiveJob *j);
/* An event for each change of auto-converge's throttle. */
void live_watch_throttle(LiveJob *j, const MigJobStats *s);
void live_check_deadline(LiveJob *j, const MigJobStats *s);

/* abort.c: the migration failed (name, message) or was cancelled: the destination drops
 * its claim, the record ends cancelled or failed. */
void live_fail(LiveJob *j, const char *name, const char *message);
/* recover.c: the outcome decided from both nodes' views, in a few seconds. */
void live_recover_after(Manager *m, const char *id, const char *uuid);
/* recover.c: the destination's answer to Finish (a MigPeerReply, userdata the job):
 * completed, or, without an answer, both nodes' views decide. */
void live_on_finished(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata);
/* The phases, each started by the one before it. */
void live_send_finish(LiveJob *j); /* finish.c */
void live_run_start(LiveJob *j);   /* run.c */
/* run.c, on the worker: QEMU samples the guest's dirty rate for a second (for tune.c). */
void live_sample_dirty_rate(LiveJob *j);
void live_prepare_start(LiveJob *j);  /* prepare.c */
void live_lease_register(Manager *m); /* abort.c: the destination's claims as leases */
