/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The scheduler of the node that starts a move (scheduler.c). Every peer is asked at once
 * for its placement facts (placement.h); this node gives its own. Filters, in the order a
 * refusal names them: unreachable, disabled, a hard group policy, memory, vCPUs, disk (each
 * counting the claims a node has granted). Weighers: the soft group policy first, then the
 * most free memory, then the fewest migrations in flight. The result is a plan: every node
 * with its verdict, the possible ones best first, so that a destination that refuses or
 * fails before any data moved can give way to the next. An explicit host goes through the
 * same filters: it is validated, not a bypass. */

#include "placement.h"

typedef struct MigPlaceRequest {
        const char *name, *uuid; /* the domain */
        uint64_t memory;         /* bytes */
        unsigned vcpus;
        uint64_t disk;      /* bytes of data to copy (0: shared storage) */
        const char *group;  /* "" none */
        const char *policy; /* the group's policy */
        const char *host;   /* the operator's destination, or NULL/"": the scheduler picks */
        bool cached;        /* a dry run: the peers' answers may come from the listings' cache */
        const char *cpu;    /* live moves: the domain's <cpu> element each node must provide, or NULL */
} MigPlaceRequest;

typedef struct MigCandidate {
        char *node;
        bool source;   /* the node the domain is on: listed, never chosen */
        char *failure; /* no answer (unreachable, unreadable), or NULL */
        MigPlacementFacts facts;
        char *refusal;            /* why it cannot take the domain; NULL: possible */
        const char *refusal_name; /* the error an explicit host gets: NoValidHost, NoSpace, ... */
} MigCandidate;

typedef struct MigPlan {
        char *domain;
        char *host;            /* the operator's destination, or NULL */
        GPtrArray *candidates; /* MigCandidate*: the possible ones best first, then the refused */
        unsigned possible;     /* how many of the first are possible */
} MigPlan;

MigPlan *mig_plan_new(const MigPlaceRequest *req);
void mig_plan_free(MigPlan *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MigPlan, mig_plan_free)
/* Adds a node's answer (facts NULL: failure says why there is none); takes facts' contents. */
MigCandidate *mig_plan_add(MigPlan *p, const char *node, bool source, MigPlacementFacts *facts,
                           const char *failure);
/* Filters and weighs the candidates added: sets each refusal and orders them. */
void mig_plan_rank(MigPlan *p, const MigPlaceRequest *req);
/* The destination of the attempt-th try (0: the first choice), or NULL when none is left;
 * with an explicit host only that node, and only once. */
const char *mig_plan_pick(const MigPlan *p, unsigned attempt);
/* NoValidHost, naming every node with its reason. */
int mig_plan_no_valid_host(const MigPlan *p, sd_bus_error *error);
/* "node: reason; node: reason" of the refused nodes. */
char *mig_plan_reasons(const MigPlan *p);

/* Records the destination of the attempt-th try as mig's, with an event (why: what became
 * of the one before). NoValidHost (PeerUnreachable for an unreachable explicit host) when no
 * node is left, or a store error. */
int mig_plan_choose(Manager *m, MigMigration *mig, const MigPlan *plan, unsigned attempt, const char *why,
                    sd_bus_error *error);
/* After the destination's Prepare failed with error on the *attempt-th try: whether the
 * plan's next node takes over (then *attempt is the next one, *ret_why says what became of
 * this one, and the node given up on is told abort_method(id, abort_status) to drop what
 * it may have made). Not for an explicit host, nor for an error any node would give, nor
 * past MigrationAttempts. */
bool mig_plan_give_way(Manager *m, const MigPlan *plan, unsigned *attempt, const MigMigration *mig,
                       const sd_bus_error *error, const char *abort_method, const char *abort_status,
                       char **ret_why);

/* The placement argument of a Prepare call for domain d: its group, the policy, whether
 * the plan saw members anywhere (so that the destination checks affinity too), and which of
 * disks (MigDisk*) are backing files ("backing-files", as). plan may be NULL (a migration
 * resumed after a restart). */
GVariant *mig_plan_placement_args(const MigPlan *plan, const MigDomainInfo *d, GPtrArray *disks);
/* The request for domain d (needs: memory, vCPUs; disk, the bytes to copy) to host (NULL:
 * the scheduler picks). Borrows d's strings. */
MigPlaceRequest mig_place_request(const MigDomainInfo *d, uint64_t disk, const char *host);

/* done gets the plan (its own: free it) once every node has answered or timed out. */
typedef void (*MigPlanDone)(Manager *m, MigPlan *plan, void *userdata);
void mig_plan_make(Manager *m, const MigPlaceRequest *req, MigPlanDone done, void *userdata);
