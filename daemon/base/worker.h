/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Blocking work (every libvirt call, disk copies) runs in a thread pool; its
 * completion runs back on the sd-event loop, where all bus and store work
 * happens. The bus thread never blocks on libvirt. */

#include <glib.h>
#include <systemd/sd-event.h>

typedef struct MigWorker MigWorker;

/* run() executes in a worker thread; done() afterwards on the event loop; then
 * free_data(data). run() must not touch the bus, the store or the manager. */
typedef void (*MigJobFunc)(void *data);

int mig_worker_new(sd_event *event, unsigned max_threads, MigWorker **ret);
/* Waits for running jobs; their done() callbacks are not called. */
void mig_worker_free(MigWorker *w);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MigWorker, mig_worker_free)

void mig_worker_submit(MigWorker *w, MigJobFunc run, MigJobFunc done, void *data, GDestroyNotify free_data);
/* Jobs submitted and not yet completed on the loop. */
unsigned mig_worker_pending(const MigWorker *w);
