/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The daemon's bus objects. Every method handler has one shape (and one argument order:
 * the message, the manager, the arguments, the error):
 *   read arguments → validate (InvalidArgument) → polkit (bus_authorize; 0 means
 *   "asked, the message comes back") → change state, committed first → emit
 *   PropertiesChanged → reply.
 * Work that can block (libvirt) goes to the worker and replies from its done(). */

#include "answer.h"
#include "bus-variant.h"
#include "manager.h"

/* bus-start.c, the top of the layer: connects to the system bus (the user bus for tests),
 * publishes every object, takes the bus name, and exits when idle (idle_usec of the
 * manager; 0: never). The rest of bus-api.c's functions are helpers the objects share. */
int bus_start(Manager *m, bool user_bus);

/* Answers that reply to msg (referenced until answered): nothing, the migration's object
 * path (result.migration_id), a string list (result.strv), or libvirt's two figures
 * (result.downtime_msec, duration_msec). */
MigAnswer bus_answer_empty(sd_bus_message *msg);
MigAnswer bus_answer_path(sd_bus_message *msg);
MigAnswer bus_answer_strv(sd_bus_message *msg);
MigAnswer bus_answer_disks(sd_bus_message *msg); /* as paths, ab shared */

/* bus-receive.c: migrated --receive-disk ID PATH (the exit status). */
int bus_receive_disk(bool user_bus, const char *id, const char *path);
MigAnswer bus_answer_times(sd_bus_message *msg);
/* Sends reply to request, built when r >= 0; otherwise (or when sending fails) answers
 * request with Internal. For replies assembled piece by piece. */
void bus_send_or_fail(sd_bus_message *request, sd_bus_message *reply, int r);
/* Reads the next argument, an a{sv}, into specs (InvalidArgument naming what: "option",
 * "filter"); the dict itself in *ret when ret is not NULL. */
int bus_read_options(sd_bus_message *msg, const char *what, const MigDictSpec *specs, GVariant **ret,
                     sd_bus_error *error);
/* Appends the a{sv} entry key => as of the strings in list (char*), to an open a{sv}. */
int bus_append_strv_entry(sd_bus_message *m, const char *key, GPtrArray *list);
/* Reads a domain UUID argument; InvalidArgument when it is not one. */
int bus_read_uuid(sd_bus_message *msg, const char **uuid, sd_bus_error *error);
/* bouncer.c: the polkit action of the method msg calls, checked (read the arguments and
 * validate them first); domain, node and kind ("cold", "live"; NULL: none) are the call's
 * subject, passed to polkit as details of those names and written to the audit entry an
 * authorized call gets. 1: authorized; 0: polkit was asked and the message comes back with
 * its answer (the handler returns 1); negative: refused, with AccessDenied. */
int bus_authorize(Manager *m, sd_bus_message *msg, const char *domain, const char *node, const char *kind,
                  bool interactive, sd_bus_error *error);
/* 0 when the caller is root, else AccessDenied with why. */
int bus_require_root(sd_bus_message *msg, sd_bus_error *error, const char *why);

/* bus-manager.c */
extern const sd_bus_vtable bus_manager_vtable[];
/* Writes (name set) or clears a domain's group on the node that holds it; from_peer:
 * a peer forwarded the call, so answer for this node only. Replies to msg itself. */
int bus_set_group(sd_bus_message *msg, Manager *m, const char *domain, const char *name, const char *policy,
                  bool from_peer);

/* Runs confirm, revert, abort or force-complete on migration id (forwarded to its
 * source node when this node is the destination); replies to msg itself. */
int bus_run_verb(sd_bus_message *msg, Manager *m, const char *verb, const char *id, sd_bus_error *error);

/* bus-migration.c: /org/example/Migrate1/migration/<id> */
char *bus_migration_path(const char *id);
int bus_migration_register(Manager *m);

/* One ListMigrations entry. */
int bus_append_migration_entry(sd_bus_message *reply, const MigMigration *mig);
/* Every field of mig as an a{sv} (Peer.GetMigrationState), and PropertiesChanged for all that change. */
int bus_append_migration_state(sd_bus_message *reply, const MigMigration *mig);
void bus_migration_emit_changed(Manager *m, const MigMigration *mig);

/* bus-forward.c: a call made on a node that does not hold the domain goes to the node that
 * does. Its answer comes back to request; a migration it started there is followed here as
 * a mirror object at the same path (polled, read-only), so that watch and --wait work on
 * this node's bus as for one of its own. */
typedef enum BusForwardReply {
        BUS_FORWARD_RELAY,     /* the holder's reply, as it is */
        BUS_FORWARD_MIGRATION, /* an object path of the holder's migration: followed here */
} BusForwardReply;
/* Finds the node that holds domain (asking every peer) and calls Peer.method(args) there;
 * NotFound naming this node when none does. Takes args (floating or not). */
void bus_forward_to_holder(Manager *m, sd_bus_message *request, const char *domain, const char *method,
                           GVariant *args, BusForwardReply kind);
/* bus-manager.c: Peer.ForwardMigrate and Peer.ForwardDomainVerb, the holder's side: as the
 * Manager's calls, without polkit (the caller's node checked) and never forwarded again. */
int bus_peer_forward_migrate(sd_bus_message *msg, Manager *m, sd_bus_error *error);
int bus_peer_forward_domain_verb(sd_bus_message *msg, Manager *m, sd_bus_error *error);
int bus_peer_get_migration(sd_bus_message *msg, Manager *m, sd_bus_error *error);
/* bus-migration.c: the mirror of another node's migration id, or NULL; bus_mirror_start
 * follows migration id of node peer here (its object path, or NULL). */
MigMigration *bus_mirror_find(Manager *m, const char *id);
char *bus_mirror_start(Manager *m, const char *peer, const char *id);

/* bus-evacuation.c: /org/example/Migrate1/evacuation/<id> and the Manager's evacuation
 * methods; Peer.ForwardEvacuate, ForwardControlEvacuation, GetEvacuation, ListEvacuations:
 * the same for a peer (never forwarded again). */
int bus_evacuation_register(Manager *m);
int bus_method_evacuate(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int bus_method_control_evacuation(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int bus_method_get_evacuation(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int bus_method_list_evacuations(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int bus_peer_forward_evacuate(sd_bus_message *msg, Manager *m, sd_bus_error *error);
int bus_method_restore(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int bus_peer_forward_restore(sd_bus_message *msg, Manager *m, sd_bus_error *error);
int bus_peer_forward_control_evacuation(sd_bus_message *msg, Manager *m, sd_bus_error *error);
int bus_peer_get_evacuation(sd_bus_message *msg, Manager *m, sd_bus_error *error);
int bus_peer_list_evacuations(sd_bus_message *msg, Manager *m, sd_bus_error *error);
/* bus-api.c: a node of the config (this one or a peer); else InvalidArgument. */
int bus_check_node(Manager *m, const char *node, sd_bus_error *error);

/* bus-peer.c */
extern const sd_bus_vtable bus_peer_vtable[];

/* bus-cluster.c: domains, hosts, groups and domain events of the whole cluster (Manager),
 * and this node's part of each (bus_node_*: what the Peer methods answer). */
int bus_method_list_domains(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int bus_method_list_hosts(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int bus_method_list_groups(sd_bus_message *msg, void *userdata, sd_bus_error *error);
/* bus-plan.c: the scheduler's dry run, anyone's to call */
int bus_method_plan(sd_bus_message *msg, void *userdata, sd_bus_error *error);
/* Peer.Plan: the same for a node that does not hold the domain (never forwarded again). */
int bus_peer_plan(sd_bus_message *msg, Manager *m, sd_bus_error *error);
/* bus-manager.c: "" (the scheduler picks), or a configured peer that is not this node; else
 * InvalidArgument. */
int bus_check_destination(Manager *m, const char *destination, sd_bus_error *error);
int bus_method_describe_domain(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int bus_node_list_domains(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int bus_node_describe_domain(sd_bus_message *msg, void *userdata, sd_bus_error *error);
/* How this node sees a domain (mig_domain_view), for reconciling a migration. */
int bus_node_get_domain_view(sd_bus_message *msg, void *userdata, sd_bus_error *error);
int bus_node_get_capacity(sd_bus_message *msg, void *userdata, sd_bus_error *error);
/* Manager.ListDomainEvents: the domain's events of every node, oldest first. */
int bus_method_list_domain_events(sd_bus_message *msg, void *userdata, sd_bus_error *error);
/* Domain events (MigDomainEvent*) as an aa{sv}. */
int bus_append_events(sd_bus_message *reply, GPtrArray *events);
/* org.example.Migrate1.Hook (hook.c). */
extern const sd_bus_vtable bus_hook_vtable[];
/* This node's domain as an a{sv} (ListDomains entry; describe adds disks and migration). */
int bus_append_domain(sd_bus_message *reply, Manager *m, const MigDomainInfo *d, bool describe);
