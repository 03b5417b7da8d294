/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The daemon's state: one Manager per process, owned by main(). */

#include <glib.h>
#include <stdbool.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "migration.h"
#include "peers.h"
#include "polkit.h"
#include "store.h"
#include "virt.h"
#include "worker.h"

typedef struct ManagerOptions {
        const char *config_path;
        const char *state_dir;
        uint64_t idle_usec; /* 0: never exit on idle; UINT64_MAX: IdleTimeout of the config */
        bool user_bus;      /* unit tests: the session bus instead of the system bus */
} ManagerOptions;

/* What happened to a migration record, for whoever shows it (the bus layer publishes its
 * object and emits PropertiesChanged; the live queue starts the next migration). */
typedef enum MigChange {
        MIG_CHANGE_ADDED,   /* a new record, committed */
        MIG_CHANGE_CHANGED, /* committed, or progress figures that are not stored */
        MIG_CHANGE_REMOVED, /* pruned from the history: gone once the watchers return */
} MigChange;

typedef struct Manager Manager;
typedef void (*ManagerWatch)(Manager *m, const MigMigration *mig, MigChange change, void *userdata);
/* An event recorded with a migration, as GetEvents lists it: its time and status are the
 * record's (updated_usec, status) as committed. */
typedef void (*ManagerEventWatch)(Manager *m, const MigMigration *mig, const char *message);

struct Manager {
        sd_event *event;
        sd_bus *bus;
        MigConfig *config;
        MigStore *store;
        MigWorker *worker;
        MigVirt *virt;
        MigPolkit *polkit;
        MigPeers *peers;
        GHashTable *migrations; /* id → MigMigration* */
        sd_event_source *idle_timer;
        sd_event_source *prune_timer;
        sd_event_source *spool_watch;
        GHashTable *conflicts; /* domain UUID → why it is in conflict (reconcile.c) */
        sd_event_source *conflict_timer;
        char *state_dir;
        char *host_uuid; /* libvirt's, read at start (identity.c); NULL until then */
        uint64_t idle_usec;
        uint64_t messages;             /* incoming bus messages, to detect idleness */
        uint64_t messages_seen;        /* the count at the previous idle check */
        GArray *watches;               /* ManagerWatcher: who hears of changed records */
        ManagerEventWatch event_watch; /* who hears of each event recorded (the bus layer) */
        /* the engines' work in flight, each table owned by its engine (value types and free
         * functions are theirs): migration id → job */
        GHashTable *cold_jobs;
        GHashTable *cold_confirm_timers; /* id → sd_event_source*: auto-confirm */
        GHashTable *live_jobs;
        GHashTable *mirrors;    /* the bus layer's: id → another node's migration followed here */
        GPtrArray *lease_kinds; /* const LeaseKind*, registered by the engines (lease.c) */
        /* evacuation.c's: id → MigEvacuation* (its free function), the engines' entry
         * points, who shows evacuations */
        GHashTable *evacuations;
        const struct MigMoveOps *move_ops;
        GPtrArray *evac_watches;
        GPtrArray *evac_kinds; /* const EvacKind*: the kinds besides "evacuate" (restore.c) */
};

int manager_new(const ManagerOptions *o, Manager **ret);
void manager_free(Manager *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Manager, manager_free)

/* Prunes the history (HistoryDays, HistoryMax) every hour; it was pruned at manager_new. */
int manager_start_pruning(Manager *m);
/* Runs the event loop until SIGTERM, SIGINT or an idle exit. */
int manager_run(Manager *m);

/* The one narrow call from the logic to whoever shows it: fn hears of every record added
 * or changed. */
void manager_watch(Manager *m, ManagerWatch fn, void *userdata);
/* fn hears of every event committed with a record: before the watchers of the change (after
 * them for a new record, whose object must exist first). */
void manager_watch_events(Manager *m, ManagerEventWatch fn);
/* Progress figures of mig changed (not stored): tells the watchers. */
void manager_publish(Manager *m, const MigMigration *mig);

const char *manager_node(const Manager *m);
MigMigration *manager_find_migration(Manager *m, const char *id);
/* The migration of this domain (name or UUID) that is not final, if any. */
MigMigration *manager_find_inflight(Manager *m, const char *domain);
/* The newest migration of a domain (name or UUID), final or not. */
MigMigration *manager_find_latest(Manager *m, const char *domain);
unsigned manager_inflight_count(Manager *m);
/* The migrations of kind this node plays role in whose status is one of statuses
 * (NULL-terminated): the engines' slot counts. */
unsigned manager_count(Manager *m, const char *kind, const char *role, const char *const *statuses);
/* Conflict when a migration of the domain is in flight already (the engines' common refusal). */
int manager_refuse_busy(Manager *m, const MigDomainInfo *d, sd_bus_error *error);
/* A cold migration made the destination the domain's home: this node's shut-off
 * definition is only kept for a revert, and is not listed as a domain of the cluster. */
bool manager_domain_moved_away(Manager *m, const char *uuid);
/* A live migration brings the domain here and has not ended: the source shows it
 * (MIGRATING, on the source, as oVirt's table has it), this node's incoming copy is not
 * listed. */
bool manager_domain_arriving(Manager *m, const char *uuid);

/* Commits a new migration (takes it), then publishes its object. */
int manager_add_migration(Manager *m, MigMigration *mig, const char *message, sd_bus_error *error);
/* Commits a change of mig (with an event when message is set), then emits PropertiesChanged. */
int manager_save_migration(Manager *m, MigMigration *mig, const char *message, sd_bus_error *error);

/* The only way to change a status: commits the status (and task, unless NULL; a final or
 * finished status ends the task, finished and completed count every byte) with an event,
 * and only then is it the record's in memory and published. A failed write changes
 * nothing and returns a negative errno: the step it names must not be taken. */
int manager_transition(Manager *m, MigMigration *mig, const char *status, const char *task,
                       const char *message);
/* The scheduler's choice, committed with message as an event of the migration (on failure
 * the destination stays as it was). */
int manager_set_destination(Manager *m, MigMigration *mig, const char *node, const char *message);
void manager_record_failure(MigMigration *mig, const char *name, const char *message);

/* The peer of node for mig's next step; NULL with PeerUnreachable when node is not a
 * configured peer, and an event on the record saying what cannot go on (once per status). */
MigPeer *manager_peer_of(Manager *m, MigMigration *mig, const char *node, sd_bus_error *error);

/* A transition that could not be committed, as the named error its caller answers with
 * (NoSpace for a full disk, else StoreError): what names the step that was not taken. */
int manager_commit_error(Manager *m, sd_bus_error *error, int r, const char *what);
/* Turns a store failure into a named bus error (NoSpace for a full disk). */
int manager_store_error(sd_bus_error *error, int r, const GError *e);
