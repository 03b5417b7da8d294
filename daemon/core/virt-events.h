/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* libvirt's domain lifecycle events, recorded as domain events (virt-events.c). */

#include "manager.h"

typedef struct MigVirtEvents MigVirtEvents;

/* Starts listening (a thread with libvirt's event loop and its own connection). */
int mig_virt_events_start(Manager *m, MigVirtEvents **ret);
/* Stops the thread (within a second) and frees everything. */
void mig_virt_events_free(MigVirtEvents *e);
