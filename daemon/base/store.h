/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The durable state of this node in one sqlite file: migrations, their events,
 * and this node's enabled/disabled state. WAL + synchronous=FULL: a record that a
 * call returned for is on disk. Every function returns 0 or a negative errno
 * (-ENOSPC for a full disk) with error set to a sentence. */

#include <glib.h>
#include <stdbool.h>

#include "hook-event.h"
#include "migration.h"

typedef struct MigStore MigStore;

#define MIG_STORE_SCHEMA_VERSION 10
#define MIG_STORE_DOMAIN_EVENTS_KEPT 20000

int mig_store_open(const char *path, MigStore **ret, GError **error);
void mig_store_close(MigStore *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MigStore, mig_store_close)

/* Inserts a new migration and its first event in one transaction. */
int mig_store_insert_migration(MigStore *s, const MigMigration *m, const char *message, GError **error);
/* Writes every mutable field of m; with message, also records an event (a status change). */
int mig_store_update_migration(MigStore *s, const MigMigration *m, const char *message, GError **error);
/* All migrations, oldest first. */
/* Removes the ended migrations (status in final, NULL-terminated) that ended before
 * cutoff_usec (0: none by age) and those beyond the newest keep (0: no limit), with their
 * events, in one transaction. The removed ids go into *ret (char*). */
int mig_store_prune_migrations(MigStore *s, const char *const *final, uint64_t cutoff_usec, unsigned keep,
                               GPtrArray **ret, GError **error);
int mig_store_load_migrations(MigStore *s, GPtrArray **ret, GError **error);
/* The events of one migration, oldest first (MigEvent*). */
int mig_store_load_events(MigStore *s, const char *migration_id, GPtrArray **ret, GError **error);

/* This node's state; a node never recorded is enabled. */
int mig_store_get_host_state(MigStore *s, const char *node, bool *enabled, char **reason, GError **error);
int mig_store_set_host_state(MigStore *s, const char *node, bool enabled, const char *reason,
                             GError **error);

/* Evacuations, each as one document (the text form of its GVariant, evacuation.c's to
 * read): written whole at every change, in one statement. */
int mig_store_save_evacuation(MigStore *s, const char *id, const char *node, uint64_t created_usec,
                              const char *document, GError **error);
/* Every evacuation's document, oldest first (char*). */
int mig_store_load_evacuations(MigStore *s, GPtrArray **ret, GError **error);

/* A domain event as recorded: who reported it (origin: "hook", "libvirt", "migrated")
 * and what libvirt's hook calls it. */
typedef struct MigDomainEvent {
        uint64_t time_usec;
        char *origin;
        char *operation;
        char *sub_operation;
        char *message;
} MigDomainEvent;
void mig_domain_event_free(MigDomainEvent *e);

/* Records events (MigHookEvent*) in one transaction; an id already recorded is skipped.
 * *added: how many were new. Only the newest MIG_STORE_DOMAIN_EVENTS_KEPT are kept. */
int mig_store_add_domain_events(MigStore *s, GPtrArray *events, const char *origin, unsigned *added,
                                GError **error);
/* The newest limit events of a domain (by UUID; by name for events without one), oldest
 * first (MigDomainEvent*). */
int mig_store_load_domain_events(MigStore *s, const char *name, const char *uuid, unsigned limit,
                                 GPtrArray **ret, GError **error);

/* Who this node was when it last ran: "node-name", "host-uuid". *value NULL: never recorded. */
int mig_store_get_identity(MigStore *s, const char *key, char **value, GError **error);
int mig_store_set_identity(MigStore *s, const char *key, const char *value, GError **error);

/* The lowest rate (bytes/s) the first memory passes of the last MIG_STORE_LINKS_KEPT live
 * migrations to peer reached (a link shared with other traffic is as fast as its busy
 * hours: the tuning errs towards helping); 0: none measured yet. */
#define MIG_STORE_LINKS_KEPT 5
int mig_store_get_link(MigStore *s, const char *peer, uint64_t *bytes_per_sec, GError **error);
int mig_store_set_link(MigStore *s, const char *peer, uint64_t bytes_per_sec, uint64_t now_usec,
                       GError **error);
