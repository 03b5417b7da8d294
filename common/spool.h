/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The hook spool: where the hook leaves an event the daemon could not take (daemon not
 * running, bus down, no answer in time), so that nothing is lost. The hook appends one
 * line under an exclusive flock and fsyncs it; the daemon takes the whole file by
 * renaming it (under the same lock) to hook-spool.draining, records every event, and
 * only then deletes it. A daemon killed while draining finds the .draining file on its
 * next start and records it again (events are recorded once by their id).
 *
 * The spool never grows beyond MIG_SPOOL_MAX_BYTES: an event that does not fit is
 * counted in hook-spool.lost instead, and the daemon reports the loss and re-reads the
 * domains' state from libvirt. */

#include <glib.h>
#include <stdint.h>

#define MIG_SPOOL_FILE "hook-spool"
#define MIG_SPOOL_DRAINING_FILE "hook-spool.draining"
#define MIG_SPOOL_LOST_FILE "hook-spool.lost"

/* Appends line to DIR/hook-spool, giving up at deadline_usec (CLOCK_MONOTONIC) when
 * the lock cannot be had. 0, -ENOSPC when the spool is full (the loss is counted), or
 * another negative errno. */
int mig_spool_append(const char *dir, const char *line, uint64_t deadline_usec);

/* What the daemon has to record: the contents of DIR/hook-spool.draining (taken from
 * DIR/hook-spool first when there is no such file). *data is NULL when there is
 * nothing. 0 or a negative errno with error set. */
int mig_spool_take(const char *dir, char **data, size_t *len, GError **error);
/* The taken events are recorded: deletes DIR/hook-spool.draining. */
int mig_spool_done(const char *dir);
/* How many events did not fit into the spool since the last call (and resets it). */
unsigned mig_spool_take_lost(const char *dir);
