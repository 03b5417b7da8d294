/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Asynchronous polkit checks for bus method handlers (the pattern of systemd's
 * bus-polkit): the first call asks polkit and returns 0; when polkit answers, the
 * same message is dispatched again and the handler's second call returns 1
 * (authorized) or a negative errno with AccessDenied set. A handler that gets 0
 * must return 1 (handled): sd-bus would answer UnknownMethod for a 0. Root is allowed without
 * asking. The subject is the caller's unique bus name, never a PID. polkit
 * unreachable means denied. A caller that disconnected meanwhile is not
 * re-dispatched: nothing changes on its behalf.
 *
 * Checks waiting for polkit are capped per caller (its unique bus name) and in total:
 * each is a call of ours waiting for polkit's reply (an interactive one for as long as
 * the caller's agent takes, up to 10 minutes), and the system bus allows a connection
 * only so many of those (128 by default) before it refuses every further call of ours,
 * to polkit or anyone. Beyond a cap the call fails at once with
 * org.freedesktop.DBus.Error.LimitsExceeded and a sentence; root is never capped (it is
 * never asked about). */

#include <glib.h>
#include <stdbool.h>
#include <systemd/sd-bus.h>

typedef struct MigPolkit MigPolkit;

#define MIG_POLKIT_MAX_PER_CALLER 8
#define MIG_POLKIT_MAX_TOTAL 64
#define MIG_POLKIT_ERROR_LIMITS "org.freedesktop.DBus.Error.LimitsExceeded"

MigPolkit *mig_polkit_new(void);
void mig_polkit_free(MigPolkit *p);

/* Asks polkit whether the sender of m may do action, with details (NULL, or key, value pairs
 * ending in NULL: polkit rules read them with action.lookup(key); empty values are left out).
 * 1 allowed (root always), 0 polkit was asked and m will be dispatched again with the answer,
 * or a negative errno with error set (denied, a challenge, the caps, no polkit). */
int mig_polkit_check(MigPolkit *p, sd_bus_message *m, const char *action, const char *const *details,
                     bool interactive, sd_bus_error *error);
/* Queries still waiting for polkit's answer (or for their handler to run again with it):
 * of every caller, and of one (its unique bus name). */
unsigned mig_polkit_pending(const MigPolkit *p);
unsigned mig_polkit_pending_for(const MigPolkit *p, const char *caller);
/* Other caps than MIG_POLKIT_MAX_PER_CALLER and MIG_POLKIT_MAX_TOTAL (for tests). */
void mig_polkit_set_limits(MigPolkit *p, unsigned per_caller, unsigned total);
