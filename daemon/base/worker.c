/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "worker.h"

#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "macro.h"

typedef struct Job {
        MigJobFunc run;
        MigJobFunc done;
        void *data;
        GDestroyNotify free_data;
} Job;

#define LANES 3

struct MigWorker {
        GThreadPool *pools[LANES]; /* by MigLane; the long lane has no limit: a thread per job */
        GAsyncQueue *finished;     /* Job*, filled by threads, drained on the loop */
        int efd;
        sd_event_source *source;
        unsigned pending;
};

static void job_free(Job *j) {
        if (j->free_data)
                j->free_data(j->data);
        g_free(j);
}

static void thread_run(gpointer item, gpointer user_data) {
        MigWorker *w = user_data;
        Job *j = item;
        j->run(j->data);
        g_async_queue_push(w->finished, j);
        uint64_t one = 1;
        if (write(w->efd, &one, sizeof(one)) < 0)
                g_warning("Could not wake the event loop: %s", g_strerror(errno));
}

static int on_finished(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        MigWorker *w = userdata;
        uint64_t n;
        if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
                return -errno;
        Job *j;
        while ((j = g_async_queue_try_pop(w->finished))) {
                w->pending--;
                if (j->done)
                        j->done(j->data);
                job_free(j);
        }
        return 0;
}

int mig_worker_new(sd_event *event, unsigned step_threads, unsigned read_threads, MigWorker **ret) {
        g_autoptr(MigWorker) w = g_new0(MigWorker, 1);
        w->efd = -1;
        w->finished = g_async_queue_new();
        w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (w->efd < 0)
                return -errno;
        int r = sd_event_add_io(event, &w->source, w->efd, EPOLLIN, on_finished, w);
        if (r < 0)
                return r;
        const gint sizes[LANES] = {(gint) step_threads, (gint) read_threads, -1};
        for (int i = 0; i < LANES; i++)
                w->pools[i] = g_thread_pool_new(thread_run, w, sizes[i], FALSE, NULL);
        *ret = g_steal_pointer(&w);
        return 0;
}

void mig_worker_free(MigWorker *w) {
        if (!w)
                return;
        for (int i = 0; i < LANES; i++)
                if (w->pools[i])
                        g_thread_pool_free(w->pools[i], FALSE, TRUE);
        Job *j;
        while ((j = g_async_queue_try_pop(w->finished)))
                job_free(j);
        g_async_queue_unref(w->finished);
        sd_event_source_disable_unref(w->source);
        if (w->efd >= 0)
                close(w->efd);
        g_free(w);
}

void mig_worker_submit_on(MigWorker *w, MigLane lane, MigJobFunc run, MigJobFunc done, void *data,
                          GDestroyNotify free_data) {
        Job *j = g_new0(Job, 1);
        *j = (Job){run, done, data, free_data};
        w->pending++;
        g_thread_pool_push(w->pools[lane], j, NULL);
}

void mig_worker_submit(MigWorker *w, MigJobFunc run, MigJobFunc done, void *data, GDestroyNotify free_data) {
        mig_worker_submit_on(w, MIG_LANE_STEP, run, done, data, free_data);
}

unsigned mig_worker_pending(const MigWorker *w) {
        return w->pending;
}
