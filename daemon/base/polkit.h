/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Asynchronous polkit checks for bus method handlers (the pattern of systemd's
 * bus-polkit): the first call asks polkit and returns 0; when polkit answers, the
 * same message is dispatched again and the handler's second call returns 1
 * (authorized) or a negative errno with AccessDenied set. A handler that gets 0
 * must return 1 (handled): sd-bus would answer UnknownMethod for a 0. Root is allowed without
 * asking. The subject is the caller's unique bus name, never a PID. polkit
 * unreachable means denied. A caller that disconnected meanwhile is not
 * re-dispatched: nothing changes on its behalf. */

#include <glib.h>
#include <stdbool.h>
#include <systemd/sd-bus.h>

typedef struct MigPolkit MigPolkit;

MigPolkit *mig_polkit_new(void);
void mig_polkit_free(MigPolkit *p);

int mig_polkit_check(MigPolkit *p, sd_bus_message *m, const char *action, bool interactive,
                     sd_bus_error *error);
/* Queries still waiting for polkit's answer. */
unsigned mig_polkit_pending(const MigPolkit *p);
