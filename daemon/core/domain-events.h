/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Domain events of this node (domain-events.c) and the reconciliation they feed
 * (reconcile.h). */

#include "hook-event.h"
#include "manager.h"

/* org.example.Migrate1.Hook on /org/example/Migrate1 (root only). */
extern const sd_bus_vtable bus_hook_vtable[];

/* Drains the hook spool now and whenever the hook writes to it. */
int domain_events_start(Manager *m);
/* Records events (MigHookEvent*) once each; current ones (not history drained at start) are
 * also logged and handed to the reconciliation. The count of new ones, or a negative errno
 * with error set. */
int domain_events_record(Manager *m, GPtrArray *events, const char *origin, bool current, GError **error);
/* Records what the daemon itself found out about a domain (origin "migrated"). */
void domain_events_note(Manager *m, const char *domain, const char *uuid, const char *operation,
                        const char *message);
/* Manager.ListDomainEvents(uuid): the domain's events of every node, oldest first. */
int bus_method_list_domain_events(sd_bus_message *msg, void *userdata, sd_bus_error *error);
/* Peer.ListDomainEvents(uuid, since_usec): the domain's events on this node. */
int bus_peer_list_domain_events(sd_bus_message *msg, Manager *m, sd_bus_error *error);
/* The "events" entry of a DescribeDomain reply: the domain's newest events. */
int domain_events_append(sd_bus_message *reply, Manager *m, const char *name, const char *uuid);
