/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The intake of domain events as they happen: from the hook (its bus call, or its spool
 * while this daemon was away or slow) and from libvirt's own event stream. Each is
 * recorded once, and what happens now (not history drained at start) is logged and handed
 * to the reconciliation. */

#include "hook-event.h"
#include "manager.h"

/* Drains the hook spool now and whenever the hook writes to it, then refreshes the views of
 * the migrations in flight. */
int intake_start(Manager *m);
/* Records events (MigHookEvent*); current: they happen now (logged and reconciled). The
 * count of new ones, or a negative errno with error set. */
int intake_record(Manager *m, GPtrArray *events, const char *origin, bool current, GError **error);
