/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The hook spool is drained when the daemon starts and whenever the hook writes to it
 * (inotify on the state folder); the file goes only after its events are committed. */

#include "intake.h"

#include <errno.h>
#include <string.h>
#include <sys/inotify.h>

#include "events.h"
#include "macro.h"
#include "reconcile.h"
#include "spool.h"

int intake_record(Manager *m, GPtrArray *events, const char *origin, bool current, GError **error) {
        int r = events_record(m, events, origin, error);
        if (r < 0 || !current)
                return r;
        for (guint i = 0; i < events->len; i++)
                events_log(events->pdata[i], origin);
        for (guint i = 0; i < events->len; i++) {
                const MigHookEvent *e = events->pdata[i];
                reconcile_domain_event(m, e->domain, e->uuid, e->operation);
        }
        return r;
}

#define DRAIN_RETRY_USEC (100 * USEC_PER_MSEC)

static void drain_spool(Manager *m, bool current);

static int on_drain_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        drain_spool(userdata, true);
        (void) sd_event_source_set_floating(s, false); /* one shot: drop it */
        sd_event_source_disable_unref(s);
        return 0;
}

static void drain_later(Manager *m, bool current) {
        (void) current; /* a retry runs while the daemon runs: its events count as current ones */
        (void) sd_event_add_time_relative(m->event, NULL, CLOCK_MONOTONIC, DRAIN_RETRY_USEC, 0,
                                          on_drain_retry, m);
}

/* current: the daemon runs and the hook spooled because it did not answer in time (the events
 * are logged and reconciled one by one); at start they are history, which the start's
 * reconciliation pass covers at once. */
static void drain_spool(Manager *m, bool current) {
        g_autoptr(GError) err = NULL;
        g_autofree char *data = NULL;
        size_t len = 0;
        int r = mig_spool_take(m->state_dir, &data, &len, &err);
        if (r == -EAGAIN) /* a hook holds the lock right now: soon again */
                return drain_later(m, current);
        if (r < 0) {
                g_warning("%s", err->message);
                return;
        }
        unsigned lost = mig_spool_take_lost(m->state_dir);
        if (lost > 0) {
                g_warning("The hook spool was full: %u domain event(s) were not kept. The domains' state is "
                          "read from libvirt instead.",
                          lost);
                events_note(m, "*", "", "spool-full",
                            "The hook spool was full; some events of this node were not kept.");
        }
        if (!data)
                return;
        unsigned bad = 0;
        g_autoptr(GPtrArray) events = mig_hook_spool_parse(data, len, &bad);
        r = intake_record(m, events, "hook", current, &err);
        if (r < 0) {
                g_warning("Cannot record the spooled hook events (they stay spooled): %s", err->message);
                return;
        }
        g_message("Recorded %d new of %u domain event(s) the hook spooled%s.", r, events->len,
                  bad ? " (damaged lines skipped)" : "");
        (void) mig_spool_done(m->state_dir);
}

static int on_state_dir_change(sd_event_source *s, const struct inotify_event *ev, void *userdata) {
        if (ev->len > 0 &&
            (strcmp(ev->name, MIG_SPOOL_FILE) == 0 || strcmp(ev->name, MIG_SPOOL_LOST_FILE) == 0))
                drain_spool(userdata, true);
        return 0;
}

int intake_start(Manager *m) {
        int r = sd_event_add_inotify(m->event, &m->spool_watch, m->state_dir, IN_CLOSE_WRITE | IN_MOVED_TO,
                                     on_state_dir_change, m);
        if (r < 0)
                g_warning("Cannot watch %s for the hook spool (drained at start only): %s", m->state_dir,
                          strerror(-r));
        drain_spool(m, false);
        reconcile_refresh_views(m);
        return 0;
}
