/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Domain events: what the libvirt hook reports (org.example.Migrate1.Hook.ReportEvent,
 * or its spool when this daemon was away), recorded per domain in the store and shown
 * by DescribeDomain. The spool is drained when the daemon starts and whenever the
 * hook writes to it (inotify on the state folder). */

#include <errno.h>
#include <string.h>
#include <sys/inotify.h>

#include "bus-api.h"
#include "domain-events.h"
#include "errors.h"
#include "macro.h"
#include "reconcile.h"
#include "spool.h"
#include "validate.h"

#define DESCRIBE_EVENTS_MAX 50
#define PEER_TIMEOUT_USEC (15 * USEC_PER_SEC)

static void log_event(const MigHookEvent *e, const char *origin) {
        g_message("Domain %s: %s %s%s%s (%s)", e->domain, e->operation, e->sub_operation,
                  e->message[0] ? ": " : "", e->message, origin);
}

int domain_events_record(Manager *m, GPtrArray *events, const char *origin, bool current, GError **error) {
        unsigned added = 0;
        int r = mig_store_add_domain_events(m->store, events, origin, &added, error);
        if (r < 0 || !current)
                return r < 0 ? r : (int) added;
        for (guint i = 0; i < events->len; i++)
                log_event(events->pdata[i], origin);
        for (guint i = 0; i < events->len; i++)
                reconcile_domain_event(m, events->pdata[i]);
        return (int) added;
}

void domain_events_note(Manager *m, const char *domain, const char *uuid, const char *operation,
                        const char *message) {
        g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify) mig_hook_event_free);
        MigHookEvent *e = mig_hook_event_make(domain, uuid, operation, "-", message);
        g_ptr_array_add(list, e);
        g_autoptr(GError) err = NULL;
        if (domain_events_record(m, list, "migrated", true, &err) < 0)
                g_warning("Cannot record '%s' of %s: %s", operation, domain, err->message);
}

/* --- org.example.Migrate1.Hook --- */

static int read_event(sd_bus_message *msg, MigHookEvent *e) {
        const char *f[7];
        uint64_t t;
        int r = sd_bus_message_read(msg, "stssssss", &f[0], &t, &f[1], &f[2], &f[3], &f[4], &f[5], &f[6]);
        if (r < 0)
                return r;
        *e = (MigHookEvent){g_strdup(f[0]), t,
                            g_strdup(f[1]), g_strdup(f[2]),
                            g_strdup(f[3]), g_strdup(f[4]),
                            g_strdup(f[5]), g_strdup(f[6])};
        return 0;
}

static int hook_report_event(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        int r = bus_require_root(msg, error,
                                 "The Hook interface is for migrated's libvirt hook (root) only.");
        if (r < 0)
                return r;
        g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func((GDestroyNotify) mig_hook_event_free);
        MigHookEvent *e = g_new0(MigHookEvent, 1);
        g_ptr_array_add(list, e);
        r = read_event(msg, e);
        if (r < 0)
                return r;
        if (!mig_hook_event_valid(e))
                return sd_bus_error_set(
                        error, MIG_ERROR_INVALID_ARGUMENT,
                        "Not a hook event: a 32-hex-digit id, a time, a domain name, a UUID or "
                        "\"\", an operation of lower-case letters, and short text fields.");
        g_autoptr(GError) err = NULL;
        r = domain_events_record(m, list, "hook", true, &err);
        if (r < 0) /* the hook keeps the event in its spool */
                return manager_store_error(error, r, err);
        return sd_bus_reply_method_return(msg, NULL);
}

const sd_bus_vtable bus_hook_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("ReportEvent",
                                SD_BUS_ARGS("s", id, "t", time_usec, "s", domain, "s", uuid, "s", operation,
                                            "s", sub_operation, "s", extra, "s", message),
                                SD_BUS_NO_RESULT, hook_report_event, 0),
        SD_BUS_VTABLE_END,
};

/* --- the spool --- */

/* current: the daemon runs and the hook spooled because it did not answer in time (the events
 * are logged and reconciled one by one); at start they are history, which the start's
 * reconciliation pass covers at once. */
static void drain_spool(Manager *m, bool current) {
        g_autoptr(GError) err = NULL;
        g_autofree char *data = NULL;
        size_t len = 0;
        int r = mig_spool_take(m->state_dir, &data, &len, &err);
        if (r < 0) {
                g_warning("%s", err->message);
                return;
        }
        unsigned lost = mig_spool_take_lost(m->state_dir);
        if (lost > 0) {
                g_warning("The hook spool was full: %u domain event(s) were not kept. The domains' state is "
                          "read from libvirt instead.",
                          lost);
                domain_events_note(m, "*", "", "spool-full",
                                   "The hook spool was full; some events of this node were not kept.");
        }
        if (!data)
                return;
        unsigned bad = 0;
        g_autoptr(GPtrArray) events = mig_hook_spool_parse(data, len, &bad);
        r = domain_events_record(m, events, "hook", current, &err);
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

int domain_events_start(Manager *m) {
        int r = sd_event_add_inotify(m->event, &m->spool_watch, m->state_dir, IN_CLOSE_WRITE | IN_MOVED_TO,
                                     on_state_dir_change, m);
        if (r < 0)
                g_warning("Cannot watch %s for the hook spool (drained at start only): %s", m->state_dir,
                          strerror(-r));
        drain_spool(m, false);
        reconcile_refresh_views(m);
        return 0;
}

/* --- DescribeDomain --- */

static int append_event(sd_bus_message *reply, const MigDomainEvent *e) {
        return sd_bus_message_append(reply, "a{sv}", 5, "time-usec", "t", e->time_usec, "origin", "s",
                                     e->origin, "operation", "s", e->operation, "sub-operation", "s",
                                     e->sub_operation, "message", "s", e->message);
}

/* The domain's newest events as an aa{sv}, those since since_usec only. */
static int append_events(sd_bus_message *reply, Manager *m, const char *name, const char *uuid,
                         uint64_t since_usec) {
        g_autoptr(GPtrArray) list = NULL;
        g_autoptr(GError) err = NULL;
        if (mig_store_load_domain_events(m->store, name, uuid, DESCRIBE_EVENTS_MAX, &list, &err) < 0) {
                g_warning("%s", err->message);
                list = g_ptr_array_new();
        }
        int r = sd_bus_message_open_container(reply, 'a', "a{sv}");
        for (guint i = 0; r >= 0 && i < list->len; i++)
                if (((MigDomainEvent *) list->pdata[i])->time_usec >= since_usec)
                        r = append_event(reply, list->pdata[i]);
        return r < 0 ? r : sd_bus_message_close_container(reply);
}

int domain_events_append(sd_bus_message *reply, Manager *m, const char *name, const char *uuid) {
        int r = sd_bus_message_open_container(reply, 'e', "sv");
        if (r >= 0)
                r = sd_bus_message_append(reply, "s", "events");
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'v', "aa{sv}");
        if (r >= 0)
                r = append_events(reply, m, name, uuid, 0);
        for (int k = 0; r >= 0 && k < 2; k++)
                r = sd_bus_message_close_container(reply);
        return r;
}

int bus_peer_list_domain_events(sd_bus_message *msg, Manager *m, sd_bus_error *error) {
        const char *uuid;
        uint64_t since;
        g_autoptr(sd_bus_message) reply = NULL;
        int r = bus_read_uuid(msg, &uuid, error);
        if (r >= 0)
                r = sd_bus_message_read(msg, "t", &since);
        if (r < 0)
                return r;
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r >= 0)
                r = append_events(reply, m, "", uuid, since);
        return r < 0 ? r : sd_bus_send(NULL, reply, NULL);
}

/* --- Manager.ListDomainEvents: the domain's events of every node, merged --- */

typedef struct NodeEvent {
        char *node;
        MigDomainEvent *e;
} NodeEvent;

typedef struct Gather {
        Manager *m;
        sd_bus_message *request;
        GPtrArray *events; /* NodeEvent* */
        unsigned pending;
} Gather;

static void node_event_free(NodeEvent *n) {
        g_free(n->node);
        mig_domain_event_free(n->e);
        g_free(n);
}

static void add_event(Gather *g, const char *node, MigDomainEvent *e) {
        NodeEvent *n = g_new0(NodeEvent, 1);
        *n = (NodeEvent){g_strdup(node), e};
        g_ptr_array_add(g->events, n);
}

/* One a{sv} of a peer's ListDomainEvents reply; 0 at the end of the array. */
static int read_peer_event(sd_bus_message *reply, MigDomainEvent **ret) {
        static const char *const keys[] = {"origin", "operation", "sub-operation", "message", NULL};
        char *v[4] = {NULL, NULL, NULL, NULL};
        uint64_t t = 0;
        int r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        const char *k;
        while (r > 0 && (r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                r = sd_bus_message_read(reply, "s", &k);
                const char *s;
                int i = -1;
                for (int j = 0; r >= 0 && keys[j]; j++)
                        if (strcmp(k, keys[j]) == 0)
                                i = j;
                if (r >= 0 && i >= 0 && (r = sd_bus_message_read(reply, "v", "s", &s)) >= 0)
                        g_free(v[i]), v[i] = g_strdup(s);
                else if (r >= 0 && strcmp(k, "time-usec") == 0)
                        r = sd_bus_message_read(reply, "v", "t", &t);
                else if (r >= 0)
                        r = sd_bus_message_skip(reply, "v");
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
        }
        bool ok = r == 0 && v[1];
        if (ok) {
                MigDomainEvent *e = g_new0(MigDomainEvent, 1);
                *e = (MigDomainEvent){t, v[0] ? v[0] : g_strdup(""), v[1], v[2] ? v[2] : g_strdup("-"),
                                      v[3] ? v[3] : g_strdup("")};
                *ret = e;
                (void) sd_bus_message_exit_container(reply);
                return 1;
        }
        for (int j = 0; j < 4; j++)
                g_free(v[j]);
        return 0;
}

static gint by_time(gconstpointer a, gconstpointer b) {
        const NodeEvent *x = *(NodeEvent *const *) a, *y = *(NodeEvent *const *) b;
        return x->e->time_usec < y->e->time_usec ? -1 : x->e->time_usec > y->e->time_usec;
}

static int append_node_event(sd_bus_message *reply, const NodeEvent *n) {
        const MigDomainEvent *e = n->e;
        return sd_bus_message_append(reply, "a{sv}", 6, "time-usec", "t", e->time_usec, "node", "s", n->node,
                                     "origin", "s", e->origin, "operation", "s", e->operation,
                                     "sub-operation", "s", e->sub_operation, "message", "s", e->message);
}

static void gather_done(Gather *g) {
        if (--g->pending > 0)
                return;
        g_ptr_array_sort(g->events, by_time);
        g_autoptr(sd_bus_message) reply = NULL;
        int r = sd_bus_message_new_method_return(g->request, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "a{sv}");
        for (guint i = 0; r >= 0 && i < g->events->len; i++)
                r = append_node_event(reply, g->events->pdata[i]);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        bus_send_or_fail(g->request, reply, r);
        sd_bus_message_unref(g->request);
        g_ptr_array_unref(g->events);
        g_free(g);
}

static void on_peer_events(MigPeer *peer, sd_bus_message *reply, const sd_bus_error *error, void *userdata) {
        Gather *g = userdata;
        MigDomainEvent *e = NULL;
        if (reply && sd_bus_message_enter_container(reply, 'a', "a{sv}") > 0)
                while (read_peer_event(reply, &e) > 0)
                        add_event(g, mig_peer_name(peer), e);
        gather_done(g);
}

int bus_method_list_domain_events(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *uuid;
        int r = bus_read_uuid(msg, &uuid, error);
        if (r < 0)
                return r;
        g_autoptr(GPtrArray) local = NULL;
        g_autoptr(GError) err = NULL;
        if (mig_store_load_domain_events(m->store, "", uuid, DESCRIBE_EVENTS_MAX, &local, &err) < 0)
                return manager_store_error(error, -EIO, err);
        unsigned n = mig_peers_count(m->peers);
        Gather *g = g_new0(Gather, 1);
        *g = (Gather){m, sd_bus_message_ref(msg),
                      g_ptr_array_new_with_free_func((GDestroyNotify) node_event_free), n + 1};
        for (guint i = 0; i < local->len; i++)
                add_event(g, manager_node(m), g_steal_pointer(&local->pdata[i]));
        g_ptr_array_set_free_func(local, NULL);
        for (unsigned i = 0; i < n; i++)
                mig_peer_call(mig_peers_get(m->peers, i), "ListDomainEvents", PEER_TIMEOUT_USEC,
                              on_peer_events, g, "st", uuid, (uint64_t) 0);
        gather_done(g);
        return 1;
}
