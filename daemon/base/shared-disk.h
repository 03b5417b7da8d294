/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared storage, found per folder between the two daemons of a migration: the source
 * leaves an empty file named after the migration in the folder of each disk; a destination
 * that finds it at the path where it would keep the disk sees the same folder, so the disk
 * is one file for both and is neither copied nor ever deleted by the migration. A folder
 * the source cannot write to is taken as not shared. All of it blocks: workers only. */

#include <glib.h>
#include <stdbool.h>

#include "worker.h"

/* Leaves the marker of migration id in the folder of each disk (MigDisk*). Returns how
 * many folders have one (logging the folders that refused it). */
unsigned mig_shared_mark(GPtrArray *disks, const char *id);
/* Removes the markers mig_shared_mark left (a missing one is fine). */
void mig_shared_unmark(GPtrArray *disks, const char *id);
/* mig_shared_unmark on the worker, for a caller on the loop. */
void mig_shared_unmark_later(MigWorker *w, GPtrArray *disks, const char *id);
/* Source: a destination's Prepare reply, (as paths, ab shared), taken into disks (MigDisk*):
 * each disk's shared flag set, the paths returned (NULL when the reply is not one for
 * these disks), *what a sentence naming each disk shared or copied. */
char **mig_shared_take_reply(GPtrArray *disks, GVariant *reply, char **what);
/* Destination: does the folder of path hold the marker of migration id? */
bool mig_shared_seen(const char *path, const char *id);
