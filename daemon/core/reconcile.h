/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Reconciliation: what both nodes report about a domain, brought together (reconcile.c).
 *
 * The two-copies invariant: a domain active on this node must not be active on another
 * one (unless a migration of it is in flight). It is checked when this node starts or
 * resumes a domain (hook or libvirt event), when libvirt's event connection is made (the
 * daemon's start, libvirtd's restart), and every few seconds while a conflict stands. A
 * domain found on two nodes is reported loudly: a warning in the log, a "conflict" domain
 * event, and the state CONFLICT in ListDomains/DescribeDomain. Nothing is destroyed:
 * which copy lives is the operator's call.
 *
 * The outcome of a live migration whose source daemon restarted (or whose libvirt left
 * the domain paused) follows one table of both nodes' views (reconcile_live_outcome). */

#include "manager.h"

/* A recorded domain event (operation of domain) may change what a node must check. */
void reconcile_domain_event(Manager *m, const char *domain, const char *uuid, const char *operation);
/* Checks every active domain of this node against the peers (why: for the log). */
void reconcile_all(Manager *m, const char *why);
/* Checks one domain of this node against the peers. */
void reconcile_check_domain(Manager *m, const char *name, const char *uuid);
/* A peer found the domain active on two nodes (Peer.CheckDomain): this node checks its own
 * copy too, in the background. */
void reconcile_check_local(Manager *m, const char *uuid);
/* Every migration in flight: this node's view into its table, and to the other node. */
void reconcile_refresh_views(Manager *m);
/* The other node's view of a migration's domain (Peer.ReportView). */
void reconcile_report_view(Manager *m, const char *id, const char *side, const char *view);
/* A mig_domain_view() string. */
bool reconcile_view_known(const char *view);
/* Records side's ("source" or "destination") view in the migration's table. */
void reconcile_set_view(Manager *m, MigMigration *mig, const char *side, const char *view);
/* Marks a domain in conflict (a migration cannot tell which copy lives) or clears it. */
void reconcile_raise_conflict(Manager *m, const char *name, const char *uuid, const char *why);
void reconcile_clear_conflict(Manager *m, const char *name, const char *uuid, const char *why);
/* Why the domain is in conflict, or NULL. */
const char *reconcile_conflict(Manager *m, const char *uuid);

typedef enum LiveOutcome {
        LIVE_WAIT,                  /* a view is unknown (peer unreachable): ask again later */
        LIVE_COMPLETED,             /* the destination runs it; nothing left here */
        LIVE_COMPLETED_DROP_SOURCE, /* the destination runs it; this node's stale paused copy goes */
        LIVE_COMPLETED_RESUME_DEST, /* only the destination's paused copy is left: resume it there */
        LIVE_ROLLBACK,              /* the source runs it; the destination's leftovers go */
        LIVE_ROLLBACK_RESUME,       /* the source's paused copy is the live one: resume it */
        LIVE_CONFLICT,              /* two live copies, post-copy split, or none: the operator decides */
} LiveOutcome;

/* The oVirt-style table: the outcome from the source's and the destination's views
 * (mig_domain_view() strings, NULL: unknown), with a sentence saying why. */
LiveOutcome reconcile_live_outcome(const char *source_view, const char *dest_view, const char **why);
