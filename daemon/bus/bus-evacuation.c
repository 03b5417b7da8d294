/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Evacuations on the bus: /org/example/Migrate1/evacuation/<id> (org.example.Migrate1.
 * Evacuation: its properties with PropertiesChanged, Pause, Resume, Cancel), and the
 * Manager's Evacuate, ControlEvacuation, GetEvacuation and ListEvacuations, each done by
 * the daemon of the node it names (Peer.Forward*, Peer.GetEvacuation) when called elsewhere. */

#include <errno.h>
#include <string.h>

#include "bus-api.h"
#include "errors.h"
#include "evacuation.h"
#include "macro.h"
#include "validate.h"

#define EVACUATION_PREFIX MIG_BUS_PATH "/evacuation"
#define FORWARD_TIMEOUT_USEC (2 * 60 * USEC_PER_SEC)

static char *evacuation_path(const char *id) {
        char *path = NULL;
        return sd_bus_path_encode(EVACUATION_PREFIX, id, &path) < 0 ? NULL : path;
}

/* --- the objects --- */

static int find_evacuation(sd_bus *bus, const char *path, const char *interface, void *userdata,
                           void **found, sd_bus_error *error) {
        g_autofree char *id = NULL;
        if (sd_bus_path_decode(path, EVACUATION_PREFIX, &id) <= 0)
                return 0;
        MigEvacuation *e = evacuation_find(userdata, id);
        if (!e)
                return 0;
        *found = e;
        return 1;
}

static int enumerate_evacuations(sd_bus *bus, const char *path, void *userdata, char ***nodes,
                                 sd_bus_error *error) {
        g_autoptr(GPtrArray) list = evacuation_list(userdata);
        char **out = calloc(list->len + 1, sizeof(char *)); /* sd-bus frees it with free() */
        if (!out)
                return -ENOMEM;
        for (guint i = 0; i < list->len; i++)
                out[i] = evacuation_path(((MigEvacuation *) list->pdata[i])->id);
        *nodes = out;
        return 0;
}

/* Each property is a key of the evacuation's a{sv} (evacuation_to_variant). */
static const char *const property_keys[][2] = {
        {"Id", "id"},
        {"Node", "node"},
        {"Kind", "kind"},
        {"Status", "status"},
        {"Message", "message"},
        {"Live", "live"},
        {"MaxParallel", "max-parallel"},
        {"Total", "total"},
        {"Done", "done"},
        {"Failed", "failed"},
        {"CreatedUSec", "created-usec"},
        {"UpdatedUSec", "updated-usec"},
        {"Items", "items"},
};

static int property_get(sd_bus *bus, const char *path, const char *interface, const char *property,
                        sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        g_autoptr(GVariant) d = g_variant_ref_sink(evacuation_to_variant(userdata));
        for (size_t i = 0; i < G_N_ELEMENTS(property_keys); i++)
                if (strcmp(property_keys[i][0], property) == 0) {
                        g_autoptr(GVariant) v = g_variant_lookup_value(d, property_keys[i][1], NULL);
                        return v ? mig_bus_append_value(reply, v) : -ENOENT;
                }
        return -ENOENT;
}

static int control(sd_bus_message *msg, Manager *m, const char *action, const char *node, bool interactive,
                   sd_bus_error *error);

static int object_control(sd_bus_message *msg, void *userdata, const char *action, sd_bus_error *error) {
        MigEvacuation *e = userdata;
        Manager *m = sd_bus_slot_get_userdata(sd_bus_get_current_slot(sd_bus_message_get_bus(msg)));
        int interactive;
        int r = sd_bus_message_read(msg, "b", &interactive);
        if (r < 0)
                return r;
        if (e != evacuation_latest(m))
                return sd_bus_error_setf(error, MIG_ERROR_CONFLICT,
                                         "Evacuation %s is not the latest of %s: it cannot %s.", e->id,
                                         e->node, action);
        return control(msg, m, action, e->node, interactive, error);
}

static int method_pause(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return object_control(msg, userdata, "pause", error);
}

static int method_resume(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return object_control(msg, userdata, "resume", error);
}

static int method_cancel(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return object_control(msg, userdata, "cancel", error);
}

#define EP(name, sig) SD_BUS_PROPERTY(name, sig, property_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE)
#define EC(name, sig) SD_BUS_PROPERTY(name, sig, property_get, 0, SD_BUS_VTABLE_PROPERTY_CONST)

static const sd_bus_vtable evacuation_vtable[] = {
        SD_BUS_VTABLE_START(0),
        EC("Id", "s"),
        EC("Node", "s"),
        EC("Kind", "s"),
        EP("Status", "s"),
        EP("Message", "s"),
        EC("Live", "b"),
        EC("MaxParallel", "u"),
        EP("Total", "u"),
        EP("Done", "u"),
        EP("Failed", "u"),
        EC("CreatedUSec", "t"),
        EP("UpdatedUSec", "t"),
        EP("Items", "aa{sv}"),
        SD_BUS_METHOD_WITH_ARGS("Pause", SD_BUS_ARGS("b", interactive), SD_BUS_NO_RESULT, method_pause,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Resume", SD_BUS_ARGS("b", interactive), SD_BUS_NO_RESULT, method_resume,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Cancel", SD_BUS_ARGS("b", interactive), SD_BUS_NO_RESULT, method_cancel,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

static void on_evacuation(Manager *m, const MigEvacuation *e, bool added, void *userdata) {
        g_autofree char *path = evacuation_path(e->id);
        if (!path || !m->bus)
                return;
        if (added)
                (void) sd_bus_emit_object_added(m->bus, path);
        else
                (void) sd_bus_emit_properties_changed(m->bus, path, MIG_IFACE_EVACUATION, "Status",
                                                      "Message", "Total", "Done", "Failed", "UpdatedUSec",
                                                      "Items", NULL);
}

int bus_evacuation_register(Manager *m) {
        evacuation_watch(m, on_evacuation, NULL);
        int r = sd_bus_add_fallback_vtable(m->bus, NULL, EVACUATION_PREFIX, MIG_IFACE_EVACUATION,
                                           evacuation_vtable, find_evacuation, m);
        if (r < 0)
                return r;
        return sd_bus_add_node_enumerator(m->bus, NULL, EVACUATION_PREFIX, enumerate_evacuations, m);
}

/* --- replies --- */

static int reply_dict(sd_bus_message *msg, GVariant *d) {
        g_autoptr(sd_bus_message) reply = NULL;
        g_autoptr(GVariant) owned = g_variant_ref_sink(d);
        int r = sd_bus_message_new_method_return(msg, &reply);
        if (r >= 0)
                r = mig_bus_append_value(reply, owned);
        bus_send_or_fail(msg, reply, r);
        return 1;
}

/* The evacuation with its object path (for the caller to follow). */
static GVariant *with_path(const MigEvacuation *e) {
        g_autoptr(GVariant) d = g_variant_ref_sink(evacuation_to_variant(e));
        GVariantBuilder b;
        g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
        GVariantIter it;
        const char *key;
        GVariant *value;
        g_variant_iter_init(&it, d);
        while (g_variant_iter_next(&it, "{&sv}", &key, &value)) {
                g_variant_builder_add(&b, "{sv}", key, value);
                g_variant_unref(value);
        }
        g_autofree char *path = evacuation_path(e->id);
        if (path && !e->dry_run)
                g_variant_builder_add(&b, "{sv}", "object", g_variant_new_object_path(path));
        return g_variant_builder_end(&b);
}

static void on_relayed(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        g_autoptr(sd_bus_message) request = userdata;
        if (error) {
                (void) sd_bus_reply_method_error(request, error);
                return;
        }
        g_autoptr(sd_bus_message) out = NULL;
        int r = sd_bus_message_new_method_return(request, &out);
        if (r >= 0)
                r = mig_bus_append_tuple(out, reply);
        bus_send_or_fail(request, out, r);
}

/* The call, done by node's daemon: its answer is the caller's. */
static int forward(sd_bus_message *msg, Manager *m, const char *node, const char *method, GVariant *args) {
        g_message("%s for %s: forwarded to %s.", sd_bus_message_get_member(msg), node, node);
        mig_peer_call(mig_peers_find(m->peers, node), method, FORWARD_TIMEOUT_USEC, on_relayed,
                      sd_bus_message_ref(msg), args);
        return 1;
}

static bool is_here(Manager *m, const char *node) {
        return strcmp(node, manager_node(m)) == 0;
}

/* --- Evacuate --- */

typedef struct EvacArgs {
        int live, dry_run;
        uint32_t max_parallel;
        uint64_t bandwidth;
} EvacArgs;

static int read_evac_options(sd_bus_message *msg, EvacArgs *a, GVariant **ret, sd_bus_error *error) {
        const MigDictSpec specs[] = {{"live", 'b', &a->live},
                                     {"dry-run", 'b', &a->dry_run},
                                     {"max-parallel", 'u', &a->max_parallel},
                                     {"bandwidth", 't', &a->bandwidth},
                                     {NULL}};
        int r = bus_read_options(msg, "option", specs, ret, error);
        if (r < 0)
                return r;
        if (a->max_parallel > 64 || a->bandwidth > 1000000)
                return sd_bus_error_set(error, MIG_ERROR_INVALID_ARGUMENT,
                                        "max-parallel is at most 64, bandwidth at most 1000000 MiB/s.");
        if (a->bandwidth && !a->live)
                return sd_bus_error_set(error, MIG_ERROR_INVALID_ARGUMENT,
                                        "bandwidth applies to live evacuations only.");
        return 0;
}

static void on_planned(Manager *m, const MigEvacuation *e, const sd_bus_error *error, void *userdata) {
        g_autoptr(sd_bus_message) request = userdata;
        if (error)
                (void) sd_bus_reply_method_error(request, error);
        else
                reply_dict(request, with_path(e));
}

static int evacuate_here(sd_bus_message *msg, Manager *m, const EvacArgs *a, sd_bus_error *error) {
        MigEvacRequest req = {.live = a->live,
                              .max_parallel = a->max_parallel,
                              .bandwidth_mib = a->bandwidth,
                              .dry_run = a->dry_run};
        sd_bus_message_ref(msg);
        int r = evacuation_start(m, &req, on_planned, msg, error);
        if (r < 0)
                sd_bus_message_unref(msg);
        return r;
}

int bus_method_evacuate(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *node;
        int interactive;
        EvacArgs a = {0};
        g_autoptr(GVariant) options = NULL;
        int r = sd_bus_message_read(msg, "s", &node);
        if (r < 0 || (r = read_evac_options(msg, &a, &options, error)) < 0 ||
            (r = sd_bus_message_read(msg, "b", &interactive)) < 0)
                return r;
        if ((r = bus_check_node(m, node, error)) < 0)
                return r;
        if (!a.dry_run &&
            (r = bus_authorize(m, msg, NULL, node, a.live ? "live" : "cold", interactive, error)) <= 0)
                return r < 0 ? r : 1; /* 0: polkit was asked; the call comes back with its answer */
        if (!is_here(m, node))
                return forward(msg, m, node, "ForwardEvacuate", g_variant_new("(@a{sv})", options));
        return evacuate_here(msg, m, &a, error);
}

int bus_peer_forward_evacuate(sd_bus_message *msg, Manager *m, sd_bus_error *error) {
        EvacArgs a = {0};
        int r = read_evac_options(msg, &a, NULL, error);
        return r < 0 ? r : evacuate_here(msg, m, &a, error);
}

/* --- Restore --- */

static int restore_here(sd_bus_message *msg, Manager *m, sd_bus_error *error) {
        sd_bus_message_ref(msg);
        int r = evacuation_restore(m, on_planned, msg, error);
        if (r < 0)
                sd_bus_message_unref(msg);
        return r;
}

int bus_method_restore(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *node;
        int interactive;
        int r = sd_bus_message_read(msg, "s", &node);
        if (r < 0 || (r = bus_read_options(msg, "option", (const MigDictSpec[]){{NULL}}, NULL, error)) < 0 ||
            (r = sd_bus_message_read(msg, "b", &interactive)) < 0)
                return r;
        if ((r = bus_check_node(m, node, error)) < 0)
                return r;
        if ((r = bus_authorize(m, msg, NULL, node, NULL, interactive, error)) <= 0)
                return r < 0 ? r : 1; /* 0: polkit was asked; the call comes back with its answer */
        if (!is_here(m, node))
                return forward(msg, m, node, "ForwardRestore", NULL);
        return restore_here(msg, m, error);
}

int bus_peer_forward_restore(sd_bus_message *msg, Manager *m, sd_bus_error *error) {
        return restore_here(msg, m, error);
}

/* --- Pause, Resume, Cancel --- */

static int control(sd_bus_message *msg, Manager *m, const char *action, const char *node, bool interactive,
                   sd_bus_error *error) {
        int r = bus_authorize(m, msg, NULL, node, NULL, interactive, error);
        if (r <= 0)
                return r < 0 ? r : 1; /* 0: polkit was asked; the call comes back with its answer */
        if (!is_here(m, node))
                return forward(msg, m, node, "ForwardControlEvacuation", g_variant_new("(s)", action));
        r = evacuation_control(m, action, error);
        return r < 0 ? r : sd_bus_reply_method_return(msg, NULL);
}

static bool action_valid(const char *action) {
        return strcmp(action, "pause") == 0 || strcmp(action, "resume") == 0 ||
               strcmp(action, "cancel") == 0;
}

int bus_method_control_evacuation(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *node, *action;
        int interactive;
        int r = sd_bus_message_read(msg, "ssb", &node, &action, &interactive);
        if (r < 0 || (r = bus_check_node(m, node, error)) < 0)
                return r;
        if (!action_valid(action))
                return sd_bus_error_set(error, MIG_ERROR_INVALID_ARGUMENT,
                                        "The action is one of pause, resume, cancel.");
        return control(msg, m, action, node, interactive, error);
}

int bus_peer_forward_control_evacuation(sd_bus_message *msg, Manager *m, sd_bus_error *error) {
        const char *action;
        int r = sd_bus_message_read(msg, "s", &action);
        if (r < 0)
                return r;
        if (!action_valid(action))
                return sd_bus_error_set(error, MIG_ERROR_INVALID_ARGUMENT,
                                        "The action is one of pause, resume, cancel.");
        r = evacuation_control(m, action, error);
        return r < 0 ? r : sd_bus_reply_method_return(msg, NULL);
}

/* --- GetEvacuation, ListEvacuations --- */

static int latest_here(sd_bus_message *msg, Manager *m, sd_bus_error *error) {
        MigEvacuation *e = evacuation_latest(m);
        if (!e)
                return sd_bus_error_setf(error, MIG_ERROR_NOT_FOUND, "No evacuation of %s is recorded.",
                                         manager_node(m));
        return reply_dict(msg, with_path(e));
}

int bus_method_get_evacuation(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *node;
        int r = sd_bus_message_read(msg, "s", &node);
        if (r < 0 || (r = bus_check_node(m, node, error)) < 0)
                return r;
        if (!is_here(m, node))
                return forward(msg, m, node, "GetEvacuation", NULL);
        return latest_here(msg, m, error);
}

int bus_peer_get_evacuation(sd_bus_message *msg, Manager *m, sd_bus_error *error) {
        return latest_here(msg, m, error);
}

static GVariant *list_here(Manager *m) {
        g_autoptr(GPtrArray) list = evacuation_list(m);
        GVariantBuilder b;
        g_variant_builder_init(&b, G_VARIANT_TYPE("aa{sv}"));
        for (guint i = 0; i < list->len; i++)
                g_variant_builder_add_value(&b, with_path(list->pdata[i]));
        return g_variant_builder_end(&b);
}

int bus_peer_list_evacuations(sd_bus_message *msg, Manager *m, sd_bus_error *error) {
        return reply_dict(msg, list_here(m));
}

typedef struct ListAll {
        sd_bus_message *request;
        GVariantBuilder entries;
} ListAll;

static void on_peer_list(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        ListAll *l = userdata;
        g_autoptr(GVariant) list = NULL;
        if (reply && g_variant_is_of_type(reply, G_VARIANT_TYPE("(aa{sv})")))
                list = g_variant_get_child_value(reply, 0);
        for (gsize i = 0; list && i < g_variant_n_children(list); i++) {
                g_autoptr(GVariant) entry = g_variant_get_child_value(list, i);
                g_variant_builder_add_value(&l->entries, entry);
        }
}

static void on_list_done(void *userdata) {
        ListAll *l = userdata;
        reply_dict(l->request, g_variant_builder_end(&l->entries));
        sd_bus_message_unref(l->request);
        g_free(l);
}

/* Every node's evacuations: this node's, then each peer's (a peer that does not answer is
 * left out). */
int bus_method_list_evacuations(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        ListAll *l = g_new0(ListAll, 1);
        l->request = sd_bus_message_ref(msg);
        g_variant_builder_init(&l->entries, G_VARIANT_TYPE("aa{sv}"));
        g_autoptr(GVariant) here = g_variant_ref_sink(list_here(m));
        for (gsize i = 0; i < g_variant_n_children(here); i++) {
                g_autoptr(GVariant) entry = g_variant_get_child_value(here, i);
                g_variant_builder_add_value(&l->entries, entry);
        }
        mig_peers_ask_all(m->peers, "ListEvacuations", MIG_PEER_TIMEOUT_USEC, on_peer_list, on_list_done, l,
                          NULL);
        return 1;
}
