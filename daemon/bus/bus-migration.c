/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* /org/example/Migrate1/migration/<id>: this node's records, and mirrors of another node's
 * migration that a forwarded call started there (bus-forward.c): a mirror record at the same
 * object path, refreshed from Peer.GetMigrationState every half second until it is final,
 * then kept for ten minutes. */
#include <errno.h>
#include <string.h>

#include "bus-api.h"
#include "bus-variant.h"
#include "errors.h"
#include "macro.h"

/* The objects found by path are MigMigration records (their properties are read by
 * offset); their methods reach the manager through the userdata of the vtable's slot. */

/* --- mirrors: another node's migration followed here --- */

#define MIRROR_POLL_USEC (500 * USEC_PER_MSEC)
#define MIRROR_KEEP_USEC (10 * 60 * USEC_PER_SEC)

/* --- mirrors --- */

typedef struct Mirror {
        Manager *m;
        char *peer; /* the node whose migration it is */
        MigMigration *mig;
        sd_event_source *timer;
        bool asking;
        uint64_t final_since; /* CLOCK_BOOTTIME usec; 0 while in flight */
} Mirror;

static void mirror_free(gpointer data) {
        Mirror *mi = data;
        sd_event_source_disable_unref(mi->timer);
        mig_migration_free(mi->mig);
        g_free(mi->peer);
        g_free(mi);
}

MigMigration *bus_mirror_find(Manager *m, const char *id) {
        Mirror *mi = m->mirrors && id ? g_hash_table_lookup(m->mirrors, id) : NULL;
        return mi ? mi->mig : NULL;
}

static void set_field(char **field, GVariant *d, const char *key) {
        const char *v = mig_dict_string(d, key);
        if (v)
                mig_set_string(field, v);
}

/* The holder's state of the migration (Peer.GetMigrationState) into the mirror. */
static void mirror_update(MigMigration *mig, GVariant *d) {
        struct {
                char **field;
                const char *key;
        } strings[] = {{&mig->id, "id"},
                       {&mig->domain_name, "domain"},
                       {&mig->domain_uuid, "domain-uuid"},
                       {&mig->kind, "kind"},
                       {&mig->role, "role"},
                       {&mig->source, "source"},
                       {&mig->destination, "destination"},
                       {&mig->status, "status"},
                       {&mig->task_state, "task-state"},
                       {&mig->error_name, "error-name"},
                       {&mig->error_message, "error-message"},
                       {&mig->convergence, "convergence"},
                       {&mig->step, "step"},
                       {&mig->source_view, "source-view"},
                       {&mig->dest_view, "destination-view"}};
        for (size_t i = 0; i < G_N_ELEMENTS(strings); i++)
                set_field(strings[i].field, d, strings[i].key);
        struct {
                uint64_t *field;
                const char *key;
        } numbers[] = {{&mig->bytes_processed, "bytes-processed"},
                       {&mig->bytes_remaining, "bytes-remaining"},
                       {&mig->bytes_total, "bytes-total"},
                       {&mig->created_usec, "created-usec"},
                       {&mig->updated_usec, "updated-usec"},
                       {&mig->finished_usec, "finished-usec"},
                       {&mig->disk_processed, "disk-processed"},
                       {&mig->disk_total, "disk-total"},
                       {&mig->dirty_rate, "dirty-rate"},
                       {&mig->iteration, "iteration"},
                       {&mig->expected_downtime, "expected-downtime"},
                       {&mig->downtime_msec, "downtime-msec"},
                       {&mig->old_memory, "old-memory"},
                       {&mig->new_memory, "new-memory"}};
        for (size_t i = 0; i < G_N_ELEMENTS(numbers); i++)
                (void) mig_dict_uint64(d, numbers[i].key, numbers[i].field);
        uint64_t n = 0;
        if (mig_dict_uint64(d, "old-vcpus", &n))
                mig->old_vcpus = (unsigned) n;
        if (mig_dict_uint64(d, "new-vcpus", &n))
                mig->new_vcpus = (unsigned) n;
        if (mig_dict_uint64(d, "throttle", &n))
                mig->throttle = (uint32_t) n;
        (void) mig_dict_double(d, "progress", &mig->progress);
}

static void on_mirror_state(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        Mirror *mi = userdata;
        mi->asking = false;
        g_autoptr(GVariant) d = reply ? mig_dict_ref(reply) : NULL;
        if (!d)
                return; /* unreachable for now: the mirror shows the last state it saw */
        mirror_update(mi->mig, d);
        if (mig_status_is_final(mi->mig->status) && !mi->final_since)
                mi->final_since = mig_boottime_usec();
        bus_migration_emit_changed(mi->m, mi->mig);
}

static int on_mirror_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Mirror *mi = userdata;
        Manager *m = mi->m;
        if (mi->final_since && mig_boottime_usec() - mi->final_since > MIRROR_KEEP_USEC) {
                g_autofree char *path = bus_migration_path(mi->mig->id);
                g_hash_table_remove(m->mirrors, mi->mig->id); /* frees mi and its timer */
                if (path && m->bus)
                        (void) sd_bus_emit_object_removed(m->bus, path);
                return 0;
        }
        MigPeer *peer = mig_peers_find(m->peers, mi->peer);
        if (peer && !mi->asking && !mi->final_since) {
                mi->asking = true;
                mig_peer_call(peer, "GetMigrationState", MIG_PEER_TIMEOUT_USEC, on_mirror_state, mi,
                              g_variant_new("(s)", mi->mig->id));
        }
        int r = sd_event_source_set_time_relative(s, mi->final_since ? MIRROR_KEEP_USEC : MIRROR_POLL_USEC);
        return r < 0 ? r : sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

/* Follows migration id of node peer here; its path, or NULL. */
char *bus_mirror_start(Manager *m, const char *peer, const char *id) {
        if (!m->mirrors)
                m->mirrors = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, mirror_free);
        Mirror *mi = g_hash_table_lookup(m->mirrors, id);
        if (!mi) {
                mi = g_new0(Mirror, 1);
                mi->m = m;
                mi->peer = g_strdup(peer);
                mi->mig = mig_migration_new();
                mi->mig->id = g_strdup(id);
                mig_set_string(&mi->mig->source, peer);
                mig_set_string(&mi->mig->status, "preparing");
                g_hash_table_insert(m->mirrors, mi->mig->id, mi);
                (void) sd_event_add_time_relative(m->event, &mi->timer, CLOCK_MONOTONIC, 0, 0,
                                                  on_mirror_timer, mi);
        }
        return bus_migration_path(id);
}

/* --- the objects --- */

static int find_migration(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                          sd_bus_error *error) {
        Manager *m = userdata;
        g_autofree char *id = NULL;
        if (sd_bus_path_decode(path, MIG_MIGRATION_PREFIX, &id) <= 0)
                return 0;
        MigMigration *mig = manager_find_migration(m, id);
        if (!mig)
                mig = bus_mirror_find(m, id); /* a migration of another node, followed here */
        if (!mig)
                return 0;
        *found = mig;
        return 1;
}

static int enumerate_migrations(sd_bus *bus, const char *path, void *userdata, char ***nodes,
                                sd_bus_error *error) {
        Manager *m = userdata;
        g_autoptr(GPtrArray) paths = g_ptr_array_new();
        GHashTableIter it;
        const char *id;
        g_hash_table_iter_init(&it, m->migrations);
        while (g_hash_table_iter_next(&it, (gpointer *) &id, NULL)) {
                char *p = bus_migration_path(id);
                if (p)
                        g_ptr_array_add(paths, p);
        }
        g_ptr_array_add(paths, NULL);
        /* sd-bus frees the list with free(): copy into malloc'ed memory. */
        char **out = calloc(paths->len, sizeof(char *));
        if (!out)
                return -ENOMEM;
        for (guint i = 0; i < paths->len; i++)
                out[i] = g_ptr_array_index(paths, i);
        *nodes = out;
        return 0;
}

#define MIGRATION_STRING_PROPERTY(name, field)                                                              \
        static int property_##name(sd_bus *bus, const char *path, const char *interface,                    \
                                   const char *property, sd_bus_message *reply, void *userdata,             \
                                   sd_bus_error *error) {                                                   \
                const MigMigration *mig = userdata;                                                         \
                return sd_bus_message_append(reply, "s", mig->field ? mig->field : "");                     \
        }

MIGRATION_STRING_PROPERTY(id, id)
MIGRATION_STRING_PROPERTY(domain_name, domain_name)
MIGRATION_STRING_PROPERTY(domain_uuid, domain_uuid)
MIGRATION_STRING_PROPERTY(kind, kind)
MIGRATION_STRING_PROPERTY(source, source)
MIGRATION_STRING_PROPERTY(destination, destination)
MIGRATION_STRING_PROPERTY(status, status)
MIGRATION_STRING_PROPERTY(task_state, task_state)
MIGRATION_STRING_PROPERTY(error_name, error_name)
MIGRATION_STRING_PROPERTY(error_message, error_message)
MIGRATION_STRING_PROPERTY(convergence, convergence)
MIGRATION_STRING_PROPERTY(step, step)
MIGRATION_STRING_PROPERTY(source_view, source_view)
MIGRATION_STRING_PROPERTY(dest_view, dest_view)

static int method_get_events(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        MigMigration *mig = userdata;
        Manager *m = sd_bus_slot_get_userdata(sd_bus_get_current_slot(sd_bus_message_get_bus(msg)));
        g_autoptr(GPtrArray) events = NULL;
        g_autoptr(GError) e = NULL;
        int r = mig_store_load_events(m->store, mig->id, &events, &e);
        if (r < 0)
                return manager_store_error(error, r, e);
        g_autoptr(sd_bus_message) reply = NULL;
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(tss)");
        for (guint i = 0; r >= 0 && i < events->len; i++) {
                const MigEvent *ev = g_ptr_array_index(events, i);
                r = sd_bus_message_append(reply, "(tss)", ev->time_usec, ev->status, ev->message);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        return r < 0 ? r : sd_bus_send(NULL, reply, NULL);
}

#define P(name, sig, getter, offset)                                                                        \
        SD_BUS_PROPERTY(name, sig, getter, offset, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE)

static const sd_bus_vtable migration_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Id", "s", property_id, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("DomainName", "s", property_domain_name, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("DomainUUID", "s", property_domain_uuid, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Kind", "s", property_kind, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Source", "s", property_source, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Destination", "s", property_destination, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        P("Status", "s", property_status, 0),
        P("TaskState", "s", property_task_state, 0),
        P("BytesProcessed", "t", NULL, offsetof(MigMigration, bytes_processed)),
        P("BytesRemaining", "t", NULL, offsetof(MigMigration, bytes_remaining)),
        P("BytesTotal", "t", NULL, offsetof(MigMigration, bytes_total)),
        P("Progress", "d", NULL, offsetof(MigMigration, progress)),
        SD_BUS_PROPERTY("CreatedUSec", "t", NULL, offsetof(MigMigration, created_usec),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        P("UpdatedUSec", "t", NULL, offsetof(MigMigration, updated_usec)),
        P("FinishedUSec", "t", NULL, offsetof(MigMigration, finished_usec)),
        P("DiskBytesProcessed", "t", NULL, offsetof(MigMigration, disk_processed)),
        P("DiskBytesTotal", "t", NULL, offsetof(MigMigration, disk_total)),
        P("MemoryDirtyRate", "t", NULL, offsetof(MigMigration, dirty_rate)),
        P("Iteration", "t", NULL, offsetof(MigMigration, iteration)),
        P("ExpectedDowntimeMSec", "t", NULL, offsetof(MigMigration, expected_downtime)),
        P("Convergence", "s", property_convergence, 0),
        P("Throttle", "u", NULL, offsetof(MigMigration, throttle)),
        P("Step", "s", property_step, 0),
        P("DowntimeMSec", "t", NULL, offsetof(MigMigration, downtime_msec)),
        P("SourceView", "s", property_source_view, 0),
        P("DestinationView", "s", property_dest_view, 0),
        P("ErrorName", "s", property_error_name, 0),
        P("ErrorMessage", "s", property_error_message, 0),
        SD_BUS_PROPERTY("OldMemory", "t", NULL, offsetof(MigMigration, old_memory),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("NewMemory", "t", NULL, offsetof(MigMigration, new_memory),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("OldVCPUs", "u", NULL, offsetof(MigMigration, old_vcpus),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("NewVCPUs", "u", NULL, offsetof(MigMigration, new_vcpus),
                        SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_METHOD_WITH_ARGS("GetEvents", SD_BUS_NO_ARGS, SD_BUS_RESULT("a(tss)", events),
                                method_get_events, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("EventAdded", SD_BUS_ARGS("t", time_usec, "s", status, "s", message), 0),
        SD_BUS_VTABLE_END,
};

static void emit_added(Manager *m, const MigMigration *mig) {
        g_autofree char *path = bus_migration_path(mig->id);
        if (path && m->bus)
                (void) sd_bus_emit_object_added(m->bus, path);
}

void bus_migration_emit_changed(Manager *m, const MigMigration *mig) {
        g_autofree char *path = bus_migration_path(mig->id);
        if (path && m->bus)
                (void) sd_bus_emit_properties_changed(
                        m->bus, path, MIG_IFACE_MIGRATION, "Status", "TaskState", "BytesProcessed",
                        "BytesRemaining", "BytesTotal", "Progress", "UpdatedUSec", "FinishedUSec",
                        "DiskBytesProcessed", "DiskBytesTotal", "MemoryDirtyRate", "Iteration",
                        "ExpectedDowntimeMSec", "Convergence", "Throttle", "Step", "DowntimeMSec",
                        "SourceView", "DestinationView", "ErrorName", "ErrorMessage", NULL);
}

/* The manager's change notification, as InterfacesAdded and PropertiesChanged. */
static void on_change(Manager *m, const MigMigration *mig, MigChange change, void *userdata) {
        g_autofree char *path = NULL;
        if (change == MIG_CHANGE_ADDED)
                emit_added(m, mig);
        else if (change == MIG_CHANGE_CHANGED)
                bus_migration_emit_changed(m, mig);
        else if ((path = bus_migration_path(mig->id)) && m->bus) /* pruned from the history */
                (void) sd_bus_emit_object_removed(m->bus, path);
}

/* Each event as it is committed: the entry GetEvents would list last (a UI appends it). */
static void on_event(Manager *m, const MigMigration *mig, const char *message) {
        g_autofree char *path = bus_migration_path(mig->id);
        if (path && m->bus)
                (void) sd_bus_emit_signal(m->bus, path, MIG_IFACE_MIGRATION, "EventAdded", "tss",
                                          mig->updated_usec, mig->status, message);
}

int bus_migration_register(Manager *m) {
        manager_watch(m, on_change, NULL);
        manager_watch_events(m, on_event);
        int r = sd_bus_add_fallback_vtable(m->bus, NULL, MIG_MIGRATION_PREFIX, MIG_IFACE_MIGRATION,
                                           migration_vtable, find_migration, m);
        if (r < 0)
                return r;
        return sd_bus_add_node_enumerator(m->bus, NULL, MIG_MIGRATION_PREFIX, enumerate_migrations, m);
}

int bus_append_migration_entry(sd_bus_message *reply, const MigMigration *mig) {
        g_autofree char *path = bus_migration_path(mig->id);
        return sd_bus_message_append(
                reply, "a{sv}", 13, "id", "s", mig->id, "object", "o", path, "domain", "s", mig->domain_name,
                "domain-uuid", "s", mig->domain_uuid, "kind", "s", mig->kind, "source", "s", mig->source,
                "destination", "s", mig->destination, "status", "s", mig->status, "task-state", "s",
                mig->task_state, "progress", "d", mig->progress, "created-usec", "t", mig->created_usec,
                "updated-usec", "t", mig->updated_usec, "error", "s", mig->error_message);
}

/* Every field a Migration object shows, for a node that follows it (Peer.GetMigrationState). */
int bus_append_migration_state(sd_bus_message *reply, const MigMigration *mig) {
        int r = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (r >= 0)
                r = sd_bus_message_append(
                        reply, "{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}", "id", "s", mig->id,
                        "domain", "s", mig->domain_name, "domain-uuid", "s", mig->domain_uuid, "kind", "s",
                        mig->kind, "source", "s", mig->source, "destination", "s", mig->destination,
                        "status", "s", mig->status, "task-state", "s", mig->task_state, "error-name", "s",
                        mig->error_name, "error-message", "s", mig->error_message, "convergence", "s",
                        mig->convergence ? mig->convergence : "", "source-view", "s", mig->source_view,
                        "destination-view", "s", mig->dest_view);
        if (r >= 0)
                r = sd_bus_message_append(
                        reply, "{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}", "bytes-processed",
                        "t", mig->bytes_processed, "bytes-remaining", "t", mig->bytes_remaining,
                        "bytes-total", "t", mig->bytes_total, "progress", "d", mig->progress, "created-usec",
                        "t", mig->created_usec, "updated-usec", "t", mig->updated_usec, "finished-usec", "t",
                        mig->finished_usec, "disk-processed", "t", mig->disk_processed, "disk-total", "t",
                        mig->disk_total, "dirty-rate", "t", mig->dirty_rate, "iteration", "t",
                        mig->iteration, "expected-downtime", "t", mig->expected_downtime, "downtime-msec",
                        "t", mig->downtime_msec, "role", "s", mig->role);
        if (r >= 0)
                r = sd_bus_message_append(reply, "{sv}{sv}{sv}{sv}{sv}{sv}", "old-memory", "t",
                                          mig->old_memory, "new-memory", "t", mig->new_memory, "old-vcpus",
                                          "u", mig->old_vcpus, "new-vcpus", "u", mig->new_vcpus, "throttle",
                                          "u", mig->throttle, "step", "s", mig->step ? mig->step : "");
        return r < 0 ? r : sd_bus_message_close_container(reply);
}
