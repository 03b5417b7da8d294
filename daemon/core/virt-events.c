/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libvirt's own domain lifecycle events (virConnectDomainEventRegisterAny): the second
 * source of domain events next to the hook. libvirt delivers them from its default
 * event loop, which runs in a thread of its own here on a connection of its own; each
 * event is queued and handed to the sd-event loop through an eventfd, where it is
 * recorded (origin "libvirt") like a hook event. The thread reconnects when libvirtd
 * restarts, and every (re)connection asks for a reconciliation pass: libvirtd may have
 * changed domains while we did not listen. */

#include "virt-events.h"

#include <errno.h>
#include <libvirt/libvirt.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "intake.h"
#include "reconcile.h"

#define RECONNECT_USEC (2 * G_USEC_PER_SEC)
#define CONNECTED_MARK ((gpointer) 1)

struct MigVirtEvents {
        Manager *m;
        char *uri;
        GThread *thread;
        gint stop;
        gint lost;          /* the connection closed: reconnect */
        GAsyncQueue *queue; /* MigHookEvent*, or CONNECTED_MARK */
        int efd;
        sd_event_source *source;
};

static const char *const event_names[] = {
        [VIR_DOMAIN_EVENT_DEFINED] = "defined",   [VIR_DOMAIN_EVENT_UNDEFINED] = "undefined",
        [VIR_DOMAIN_EVENT_STARTED] = "started",   [VIR_DOMAIN_EVENT_SUSPENDED] = "suspended",
        [VIR_DOMAIN_EVENT_RESUMED] = "resumed",   [VIR_DOMAIN_EVENT_STOPPED] = "stopped",
        [VIR_DOMAIN_EVENT_SHUTDOWN] = "shutdown", [VIR_DOMAIN_EVENT_PMSUSPENDED] = "pmsuspended",
        [VIR_DOMAIN_EVENT_CRASHED] = "crashed",
};

/* The detail of the events that matter for migrations and operators; others are "-". */
static const char *detail_name(int event, int detail) {
        static const char *const started[] = {"booted", "migrated", "restored", "from-snapshot", "wakeup"};
        static const char *const suspended[] = {"paused",    "migrated", "ioerror",
                                                "watchdog",  "restored", "from-snapshot",
                                                "api-error", "postcopy", "postcopy-failed"};
        static const char *const resumed[] = {"unpaused", "migrated", "from-snapshot", "postcopy",
                                              "postcopy-failed"};
        static const char *const stopped[] = {"shutdown", "destroyed", "crashed",      "migrated",
                                              "saved",    "failed",    "from-snapshot"};
        const char *const *names = NULL;
        size_t n = 0;
        switch (event) {
        case VIR_DOMAIN_EVENT_STARTED:
                names = started, n = G_N_ELEMENTS(started);
                break;
        case VIR_DOMAIN_EVENT_SUSPENDED:
                names = suspended, n = G_N_ELEMENTS(suspended);
                break;
        case VIR_DOMAIN_EVENT_RESUMED:
                names = resumed, n = G_N_ELEMENTS(resumed);
                break;
        case VIR_DOMAIN_EVENT_STOPPED:
                names = stopped, n = G_N_ELEMENTS(stopped);
                break;
        default:
                break;
        }
        return detail >= 0 && (size_t) detail < n ? names[detail] : "-";
}

static void wake_loop(MigVirtEvents *e) {
        uint64_t one = 1;
        (void) !write(e->efd, &one, sizeof(one));
}

/* libvirt's event thread */
static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque) {
        MigVirtEvents *e = opaque;
        char uuid[VIR_UUID_STRING_BUFLEN] = "";
        if (virDomainGetUUIDString(dom, uuid) < 0)
                uuid[0] = '\0';
        const char *name = event >= 0 && (size_t) event < G_N_ELEMENTS(event_names) && event_names[event]
                                   ? event_names[event]
                                   : "other";
        g_async_queue_push(e->queue, mig_hook_event_make(virDomainGetName(dom), uuid, name,
                                                         detail_name(event, detail), NULL));
        wake_loop(e);
        return 0;
}

static void on_close(virConnectPtr conn, int reason, void *opaque) {
        g_atomic_int_set(&((MigVirtEvents *) opaque)->lost, 1);
}

static void on_tick(int timer, void *opaque) {
}

static virConnectPtr connect_events(MigVirtEvents *e, int *callback) {
        virConnectPtr conn = virConnectOpen(e->uri);
        if (!conn)
                return NULL;
        *callback = virConnectDomainEventRegisterAny(conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                     VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), e, NULL);
        if (*callback < 0) {
                virConnectClose(conn);
                return NULL;
        }
        (void) virConnectRegisterCloseCallback(conn, on_close, e, NULL);
        g_atomic_int_set(&e->lost, 0);
        g_async_queue_push(e->queue, CONNECTED_MARK);
        wake_loop(e);
        return conn;
}

static void disconnect_events(virConnectPtr conn, int callback) {
        (void) virConnectDomainEventDeregisterAny(conn, callback);
        (void) virConnectUnregisterCloseCallback(conn, on_close);
        virConnectClose(conn);
}

static gpointer events_thread(gpointer data) {
        MigVirtEvents *e = data;
        virConnectPtr conn = NULL;
        int callback = -1;
        int64_t retry_at = 0;
        int tick = virEventAddTimeout(500, on_tick, NULL, NULL); /* wakes the loop to check stop */
        while (!g_atomic_int_get(&e->stop)) {
                if (conn && g_atomic_int_get(&e->lost)) {
                        g_message("libvirtd closed the event connection; reconnecting.");
                        disconnect_events(conn, callback);
                        conn = NULL;
                }
                if (!conn && g_get_monotonic_time() >= retry_at) {
                        conn = connect_events(e, &callback);
                        retry_at = g_get_monotonic_time() + RECONNECT_USEC;
                }
                if (virEventRunDefaultImpl() < 0)
                        g_usleep(100000);
        }
        if (conn)
                disconnect_events(conn, callback);
        if (tick >= 0)
                virEventRemoveTimeout(tick);
        return NULL;
}

/* the sd-event loop */
static int on_events_ready(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        MigVirtEvents *e = userdata;
        uint64_t n;
        (void) !read(fd, &n, sizeof(n));
        g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify) mig_hook_event_free);
        bool connected = false;
        gpointer item;
        while ((item = g_async_queue_try_pop(e->queue))) {
                if (item == CONNECTED_MARK)
                        connected = true;
                else
                        g_ptr_array_add(list, item);
        }
        g_autoptr(GError) err = NULL;
        if (list->len > 0 && intake_record(e->m, list, "libvirt", true, &err) < 0)
                g_warning("Cannot record libvirt's domain events: %s", err->message);
        if (connected)
                reconcile_all(e->m, "listening to libvirt's domain events");
        return 0;
}

int mig_virt_events_start(Manager *m, MigVirtEvents **ret) {
        static gsize registered = 0;
        if (g_once_init_enter(&registered)) {
                virEventRegisterDefaultImpl(); /* once per process, before the connection */
                g_once_init_leave(&registered, 1);
        }
        MigVirtEvents *e = g_new0(MigVirtEvents, 1);
        e->efd = -1;
        e->m = m;
        e->uri = g_strdup(m->config->libvirt_uri);
        e->queue = g_async_queue_new_full((GDestroyNotify) mig_hook_event_free);
        e->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        int r = e->efd < 0 ? -errno
                           : sd_event_add_io(m->event, &e->source, e->efd, EPOLLIN, on_events_ready, e);
        if (r < 0) {
                mig_virt_events_free(e);
                return r;
        }
        e->thread = g_thread_new("libvirt-events", events_thread, e);
        *ret = e;
        return 0;
}

void mig_virt_events_free(MigVirtEvents *e) {
        if (!e)
                return;
        g_atomic_int_set(&e->stop, 1);
        if (e->thread)
                g_thread_join(e->thread);
        sd_event_source_disable_unref(e->source);
        if (e->efd >= 0)
                close(e->efd);
        gpointer item;
        while ((item = g_async_queue_try_pop(e->queue)))
                if (item != CONNECTED_MARK)
                        mig_hook_event_free(item);
        g_async_queue_unref(e->queue);
        g_free(e->uri);
        g_free(e);
}
