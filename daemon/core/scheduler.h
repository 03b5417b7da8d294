/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Picks a destination node: every peer is asked for its capacity; a node that is
 * disabled, unreachable, or short of memory, vCPUs or disk is left out, and the one
 * with the most free memory wins. (Server groups come with the full scheduler.) */

#include "manager.h"

typedef struct MigNeeds {
        uint64_t memory; /* bytes */
        unsigned vcpus;
        uint64_t disk; /* bytes of data to copy */
} MigNeeds;

/* cb gets the chosen node, or NULL with a NoValidHost error naming why each node was left out. */
typedef void (*MigSchedulerDone)(Manager *m, const char *node, const sd_bus_error *error, void *userdata);

void mig_scheduler_pick(Manager *m, const MigNeeds *needs, MigSchedulerDone cb, void *userdata);
