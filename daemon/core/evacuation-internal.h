/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What evacuation.c shares with restore.c (a restore is an evacuation's kind whose moves are
 * started and followed on the nodes that hold the domains). */

#include "evacuation.h"

MigEvacuation *evac_new(Manager *m);
void evac_free(MigEvacuation *e);
/* A new one of kind for this node, planning. */
MigEvacuation *evac_begin(Manager *m, const char *kind);
/* Commits the new e and makes it the manager's (on failure the caller frees it). */
int evac_insert(MigEvacuation *e, const char *message, sd_bus_error *error);
/* Conflict while an evacuation or restore of this node is under way. */
int evac_refuse_busy(Manager *m, sd_bus_error *error);
MigEvacItem *evac_item_new(const char *domain, const char *uuid, const char *kind);
unsigned evac_count(const MigEvacuation *e, const char *status);
bool evac_item_active(const MigEvacItem *it);
/* Shows e to the watchers (added: a new one). */
void evac_publish(MigEvacuation *e, bool added);
/* Commits e (message: what happens now, also logged), then shows it; negative on failure. */
int evac_save(MigEvacuation *e, const char *message);
/* e failed (why), answering its starter if it still waits. */
void evac_fail(MigEvacuation *e, const char *why);
/* The item's move ended (status "done" or "failed", why: the error); the next ones start. */
void evac_item_ended(MigEvacuation *e, MigEvacItem *it, const char *status, const char *why);
/* Looks at e's moves and starts the next ones on a turn of the loop of their own. */
void evac_kick(MigEvacuation *e);
/* The item's move, in status (with its error message), ended: done when it got there, failed
 * with why otherwise (evac_item_ended). false while it is not final. */
bool evac_item_outcome(MigEvacuation *e, MigEvacItem *it, const char *status, const char *message);
/* Starts queued items while fewer than max_parallel move, and ends e when nothing is left. */
void evac_pump(MigEvacuation *e);
/* The plan is made: e runs (or, cancelled meanwhile, ends) and its starter gets it. */
void evac_planned(MigEvacuation *e);
void evac_cancel_item(MigEvacuation *e, MigEvacItem *it);

/* An item named across an asynchronous step (the evacuation may be gone by then). */
typedef struct ItemRef {
        Manager *m;
        char *evacuation;
        guint index;
} ItemRef;
ItemRef *evac_item_ref(MigEvacuation *e, guint index);
void evac_item_ref_free(void *data);
MigAnswer evac_item_answer(MigEvacuation *e, guint index, MigAnswerFn fn);
MigEvacItem *evac_item_of(const ItemRef *ref, MigEvacuation **ret);

/* How an evacuation of another kind than "evacuate" moves its items (restore.c registers
 * "restore"): evacuation.c knows them only by name, so that restore.c sits on top of it. */
typedef struct EvacKind {
        const char *name;
        void (*start_item)(MigEvacuation *e, guint index);      /* its status committed "migrating" */
        void (*cancel_item)(MigEvacuation *e, MigEvacItem *it); /* one that has started */
        void (*resume)(MigEvacuation *e); /* after a restart: follows its moves again */
} EvacKind;
/* k must outlive the manager (a static). */
void evac_register_kind(Manager *m, const EvacKind *k);
