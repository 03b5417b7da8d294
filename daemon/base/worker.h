/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Blocking work (every libvirt call, disk copies) runs on worker threads; its
 * completion runs back on the sd-event loop, where all bus and store work
 * happens. The bus thread never blocks on libvirt.
 *
 * Three lanes, so that nothing an operator or a peer waits for queues behind work that
 * takes long or that anyone may ask for: steps (a migration's steps, an operator's abort,
 * a peer's Prepare or Finish: short calls) have their own threads; reads (unprivileged
 * listings, reconciliation scans) theirs; and a long job (a whole live migration, a disk
 * copy or checksum) gets a thread of its own for as long as it runs, never a pool
 * worker. */

#include <glib.h>
#include <systemd/sd-event.h>

typedef struct MigWorker MigWorker;

/* run() executes in a worker thread; done() afterwards on the event loop; then
 * free_data(data). run() must not touch the bus, the store or the manager. */
typedef void (*MigJobFunc)(void *data);

typedef enum MigLane {
        MIG_LANE_STEP, /* a migration's steps, an operator's or a peer's call */
        MIG_LANE_READ, /* listings, views, scans: what anyone may ask for */
        MIG_LANE_LONG, /* a whole migration, a disk copy or checksum: a thread of its own */
} MigLane;

/* step_threads and read_threads: the size of those lanes' pools. */
int mig_worker_new(sd_event *event, unsigned step_threads, unsigned read_threads, MigWorker **ret);
/* Waits for running jobs; their done() callbacks are not called. */
void mig_worker_free(MigWorker *w);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MigWorker, mig_worker_free)

/* On the step lane. */
void mig_worker_submit(MigWorker *w, MigJobFunc run, MigJobFunc done, void *data, GDestroyNotify free_data);
void mig_worker_submit_on(MigWorker *w, MigLane lane, MigJobFunc run, MigJobFunc done, void *data,
                          GDestroyNotify free_data);
/* Jobs submitted and not yet completed on the loop. */
unsigned mig_worker_pending(const MigWorker *w);
