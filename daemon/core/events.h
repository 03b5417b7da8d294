/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Domain events of this node: what the libvirt hook and libvirt report about each domain,
 * and what the daemon itself found out (origin "migrated"), kept in the store (the newest
 * ones) and shown by DescribeDomain and ListDomainEvents. Recording knows nothing of what
 * follows from an event: that is intake.c's. */

#include "hook-event.h"
#include "manager.h"

/* How many of a domain's newest events a listing shows. */
#define EVENTS_LISTED_MAX 50

/* Records events (MigHookEvent*) once each (by id): the count of new ones, or a negative
 * errno with error set. */
int events_record(Manager *m, GPtrArray *events, const char *origin, GError **error);
/* One line in the log for an event as it happens. */
void events_log(const MigHookEvent *e, const char *origin);
/* Records and logs what the daemon itself found out about a domain (origin "migrated"). */
void events_note(Manager *m, const char *domain, const char *uuid, const char *operation,
                 const char *message);
/* The domain's newest events on this node (MigDomainEvent*), oldest first, those since
 * since_usec only. */
int events_load(Manager *m, const char *name, const char *uuid, uint64_t since_usec, GPtrArray **ret,
                GError **error);
