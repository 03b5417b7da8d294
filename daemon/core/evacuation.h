/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Host evacuation (evacuation.c), run by the daemon of the node that is emptied: the node is
 * disabled ("evacuating"), every domain on it gets an item, the whole plan is made (each
 * domain's destination as the scheduler would choose it, counting what the domains before it
 * in the plan take, their group members included), and then at most max_parallel moves run
 * at once, each scheduled anew as it starts (group constraints are re-evaluated per move;
 * the destinations' claim checks settle races). Cold moves are confirmed once finished
 * (under the positive-proof rule of confirm). The evacuation is one document in sqlite,
 * written before each step it names; a restart goes on where it was. The engines are reached
 * through MigMoveOps (main.c fills them in), so this layer does not include theirs. */

#include "answer.h"
#include "manager.h"

typedef struct MigMoveOps {
        /* a move of domain off this node, the scheduler choosing; answer gets the id */
        int (*migrate)(Manager *m, const char *domain, bool live, bool block, uint64_t bandwidth_mib,
                       MigAnswer answer, sd_bus_error *error);
        int (*confirm)(Manager *m, MigMigration *mig, MigAnswer answer, sd_bus_error *error);
        int (*abort)(Manager *m, MigMigration *mig, MigAnswer answer, sd_bus_error *error);
} MigMoveOps;

typedef struct MigEvacItem {
        char *domain, *uuid;
        char *source;       /* restore: the node that holds it and moves it back ("" here) */
        char *kind;         /* "cold" or "live" */
        bool block;         /* live: its disks go with it */
        char *planned;      /* the plan's destination ("" none) */
        char *destination;  /* where its move went ("" not yet) */
        char *status;       /* mig_evacuation_item_status_names */
        char *migration_id; /* "" until its move started */
        char *error;        /* why it failed or was not moved ("") */
        double progress;    /* of its migration, 0-100 (not stored) */
        bool confirming;    /* its cold move's confirm was asked (not stored) */
} MigEvacItem;

typedef struct MigEvacuation MigEvacuation;
typedef void (*EvacDone)(Manager *m, const MigEvacuation *e, const sd_bus_error *error, void *userdata);

struct MigEvacuation {
        char *id;
        char *node;
        char *kind;   /* "evacuate" or "restore" */
        char *status; /* mig_evacuation_status_names */
        char *message;
        bool live;
        bool dry_run; /* a plan only: never stored, never run */
        unsigned max_parallel;
        uint64_t bandwidth_mib; /* live moves: 0 [Live] Bandwidth */
        uint64_t created_usec, updated_usec;
        GPtrArray *items; /* MigEvacItem* in plan order */
        /* not stored */
        Manager *m;
        GPtrArray *infos;      /* while planning: each item's MigDomainInfo */
        unsigned planned_upto; /* items planned so far */
        GPtrArray *placed;     /* the plan's destinations so far (Placed*) */
        EvacDone done;         /* the caller of evacuation_start, until the plan is made */
        void *done_data;
        int list_result;
        MigVirtError list_err;
        GPtrArray *listed;
        unsigned checking;           /* restore: holders still to say they have the domain */
        sd_event_source *poll_timer; /* restore: its moves followed on their nodes */
        sd_event_source *tick;       /* the next look at its moves, outside anyone's step */
};

typedef struct MigEvacRequest {
        bool live;
        unsigned max_parallel; /* 0: MaxConcurrentMigrations */
        uint64_t bandwidth_mib;
        bool dry_run;
} MigEvacRequest;

/* Once at start (main.c): the engines, and the watch over their migrations. */
void evacuation_init(Manager *m, const MigMoveOps *ops);
/* After the engines resumed: the stored evacuations back, unfinished ones going on. */
void evacuation_resume_all(Manager *m);

/* Who shows evacuations (the bus layer) hears of each one added or changed. */
typedef void (*EvacWatch)(Manager *m, const MigEvacuation *e, bool added, void *userdata);
void evacuation_watch(Manager *m, EvacWatch fn, void *userdata);

/* Starts evacuating this node; done hears once the plan is made (e: the evacuation, running
 * or, for a dry run, only planned; NULL with error on failure). 1, or a negative errno with
 * error set (Conflict when an evacuation of this node is under way). */
int evacuation_start(Manager *m, const MigEvacRequest *req, EvacDone done, void *userdata,
                     sd_bus_error *error);
/* restore.c: registers the restore kind with the evacuations (after evacuation_init). */
void restore_init(Manager *m);
/* Moves back, to this node, the domains its last evacuation moved away and that are still
 * where it put them (each moved by the node that holds it, with this node as its explicit
 * destination; cold moves confirmed), after enabling this node again: an evacuation of kind
 * "restore". done as for evacuation_start. NotFound when no evacuation of this node ended;
 * Conflict while one is under way. */
int evacuation_restore(Manager *m, EvacDone done, void *userdata, sd_bus_error *error);
/* "pause", "resume" or "cancel" the latest evacuation of this node; Conflict when it is in
 * no state for it, NotFound when there is none. */
int evacuation_control(Manager *m, const char *action, sd_bus_error *error);

MigEvacuation *evacuation_find(Manager *m, const char *id);
/* This node's newest evacuation, or NULL. */
MigEvacuation *evacuation_latest(Manager *m);
/* Every evacuation (MigEvacuation*, borrowed), oldest first. */
GPtrArray *evacuation_list(Manager *m);
/* An evacuation of this node plans or moves (not paused, not ended): the daemon stays. */
bool evacuation_busy(Manager *m);
/* e as an a{sv} (floating): what the Evacuation object shows and what is stored. */
GVariant *evacuation_to_variant(const MigEvacuation *e);
