/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Domains, hosts and groups of the whole cluster: this node's answer from
 * libvirt (on the worker) and each peer's answer over D-Bus-over-SSH, gathered
 * and sent as one reply. An unreachable peer does not fail the listing: hosts
 * show it as unreachable, domains and groups leave its domains out. The peers'
 * answers come through mig_peer_ask_cached(): these calls are anyone's to make, so
 * identical questions share one peer call and an answer serves for a moment (peers.h);
 * this node's own part is always asked anew. */

#include <errno.h>
#include <string.h>

#include "bus-api.h"
#include "bus-variant.h"
#include "errors.h"
#include "events.h"
#include "macro.h"
#include "placement.h"
#include "reconcile.h"
#include "validate.h"
#include "virt-call.h"

typedef struct ClusterGather ClusterGather;
typedef int (*ClusterFinish)(ClusterGather *g, sd_bus_message *reply);

struct ClusterGather {
        Manager *m;
        sd_bus_message *request;
        unsigned pending; /* the local answer and all the peers' */
        ClusterFinish finish;
        /* this node's answer, moved out of its VirtCall */
        int local_result;
        MigVirtError local_error;
        GPtrArray *list;
        MigCapacity capacity;
        /* per peer in config order; reply NULL when the peer failed */
        GVariant **peer_reply;
        char **peer_error;
};

static void gather_free(ClusterGather *g) {
        unsigned n = mig_peers_count(g->m->peers);
        for (unsigned i = 0; i < n; i++) {
                if (g->peer_reply[i])
                        g_variant_unref(g->peer_reply[i]);
                g_free(g->peer_error[i]);
        }
        g_free(g->peer_reply);
        g_free(g->peer_error);
        if (g->list)
                g_ptr_array_unref(g->list);
        mig_virt_error_clear(&g->local_error);
        sd_bus_message_unref(g->request);
        g_free(g);
}

static void gather_reply(ClusterGather *g) {
        g_autoptr(sd_bus_message) reply = NULL;
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        int r = sd_bus_message_new_method_return(g->request, &reply);
        if (r >= 0)
                r = g->finish(g, reply);
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        if (r < 0) {
                sd_bus_error_setf(&error, MIG_ERROR_INTERNAL, "Could not build the reply: %s", strerror(-r));
                (void) sd_bus_reply_method_error(g->request, &error);
        }
}

static void gather_one_done(void *userdata) {
        ClusterGather *g = userdata;
        if (--g->pending > 0)
                return;
        if (g->local_result < 0) {
                g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
                mig_virt_error_to_bus(&g->local_error, &error);
                (void) sd_bus_reply_method_error(g->request, &error);
        } else
                gather_reply(g);
        gather_free(g);
}

static void on_local(VirtCall *c) {
        ClusterGather *g = c->data;
        g->local_result = c->result;
        g->local_error = c->err;
        c->err = (MigVirtError){0};
        g->list = g_steal_pointer(&c->list);
        g->capacity = c->capacity;
        gather_one_done(g);
}

static void on_peer(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        ClusterGather *g = userdata;
        for (unsigned i = 0; i < mig_peers_count(g->m->peers); i++)
                if (mig_peers_get(g->m->peers, i) == peer) {
                        g->peer_reply[i] = reply ? g_variant_ref(reply) : NULL;
                        g->peer_error[i] = error ? g_strdup(error->message) : NULL;
                }
        if (error) /* peers.c logs a peer's changes of state, not every listing that saw one */
                g_debug("%s", error->message);
}

/* Asks libvirt (kind) and every peer (peer_method; an answer of the last
 * MIG_PEER_CACHE_TTL_USEC, or a question in flight, is shared), then finish() builds the
 * reply. */
static int gather_start(sd_bus_message *request, Manager *m, VirtCallKind kind, const char *peer_method,
                        ClusterFinish finish) {
        unsigned n = mig_peers_count(m->peers);
        ClusterGather *g = g_new0(ClusterGather, 1);
        g->m = m;
        g->request = sd_bus_message_ref(request);
        g->finish = finish;
        g->peer_reply = g_new0(GVariant *, n + 1);
        g->peer_error = g_new0(char *, n + 1);
        g->pending = 2; /* this node's answer, and the peers' */
        virt_call_submit(virt_call_new(m, kind, NULL, on_local, g));
        mig_peers_ask_all_cached(m->peers, peer_method, on_peer, gather_one_done, g, NULL);
        return 1;
}

static int append_describe_events(sd_bus_message *reply, Manager *m, const char *name, const char *uuid);

/* --- domains --- */

static const char *domain_state(Manager *m, const MigDomainInfo *d, const char **task) {
        MigMigration *mig = manager_find_inflight(m, d->uuid);
        *task = mig ? mig->task_state : "";
        if (reconcile_conflict(m, d->uuid))
                return "CONFLICT";
        if (!mig)
                return mig_domain_state_name(d);
        bool waits = strcmp(mig->kind, "live") != 0 && strcmp(mig->status, "finished") == 0;
        return waits ? "VERIFY_RESIZE" : "MIGRATING";
}

static int append_disks(sd_bus_message *reply, const MigDomainInfo *d) {
        int r = sd_bus_message_open_container(reply, 'e', "sv");
        if (r >= 0)
                r = sd_bus_message_append(reply, "s", "disks");
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'v', "as");
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "s");
        for (guint i = 0; r >= 0 && i < d->disks->len; i++)
                r = sd_bus_message_append(reply, "s", ((MigDisk *) g_ptr_array_index(d->disks, i))->path);
        for (int k = 0; r >= 0 && k < 3; k++)
                r = sd_bus_message_close_container(reply);
        return r;
}

static int append_describe_extras(sd_bus_message *reply, Manager *m, const MigDomainInfo *d) {
        MigMigration *latest = manager_find_latest(m, d->uuid);
        int r = append_disks(reply, d);
        if (r >= 0)
                r = sd_bus_message_append(reply, "{sv}{sv}", "persistent", "b", d->persistent,
                                          "migration-id", "s", latest ? latest->id : "");
        if (r >= 0)
                r = sd_bus_message_append(reply, "{sv}", "conflict", "s",
                                          reconcile_conflict(m, d->uuid) ? reconcile_conflict(m, d->uuid)
                                                                         : "");
        if (r >= 0)
                r = append_describe_events(reply, m, d->name, d->uuid);
        return r;
}

int bus_append_domain(sd_bus_message *reply, Manager *m, const MigDomainInfo *d, bool describe) {
        const char *task;
        const char *state = domain_state(m, d, &task);
        int r = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (r >= 0)
                r = sd_bus_message_append(reply, "{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}", "name", "s",
                                          d->name, "uuid", "s", d->uuid, "node", "s", manager_node(m),
                                          "state", "s", state, "task-state", "s", task, "memory", "t",
                                          d->memory, "vcpus", "u", d->vcpus, "group", "s", d->group,
                                          "group-policy", "s", d->group_policy);
        if (r >= 0) /* what libvirt says, without the migration's view */
                r = sd_bus_message_append(reply, "{sv}", "power-state", "s", mig_domain_state_name(d));
        if (r >= 0 && describe)
                r = append_describe_extras(reply, m, d);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        return r;
}

/* This node's domains (MigDomainInfo*), each an a{sv}, into the open array of reply; a
 * definition kept only for a revert is not listed. */
static int append_local_domains(sd_bus_message *reply, Manager *m, GPtrArray *list) {
        int r = 0;
        for (guint i = 0; r >= 0 && i < list->len; i++) {
                const MigDomainInfo *d = list->pdata[i];
                if (!manager_domain_moved_away(m, d->uuid) && !manager_domain_arriving(m, d->uuid))
                        r = bus_append_domain(reply, m, d, false);
        }
        return r;
}

/* The members of a peer's one-container reply ("(aa{sv})", "(a{sv})") into the open
 * container of reply. */
static int append_peer_members(sd_bus_message *reply, GVariant *peer_reply) {
        if (g_variant_n_children(peer_reply) != 1)
                return -EBADMSG;
        g_autoptr(GVariant) list = g_variant_get_child_value(peer_reply, 0);
        return mig_bus_append_members(reply, list);
}

static int finish_domains(ClusterGather *g, sd_bus_message *reply) {
        int r = sd_bus_message_open_container(reply, 'a', "a{sv}");
        if (r >= 0)
                r = append_local_domains(reply, g->m, g->list);
        for (unsigned i = 0; r >= 0 && i < mig_peers_count(g->m->peers); i++)
                if (g->peer_reply[i])
                        r = append_peer_members(reply, g->peer_reply[i]);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        return r;
}

int bus_method_list_domains(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return gather_start(msg, userdata, VIRT_LIST, "ListDomains", finish_domains);
}

/* --- groups: built from the same gathered domains --- */

typedef struct GroupRow {
        char *policy;
        GPtrArray *members; /* char* domain names */
        GPtrArray *nodes;   /* char* node of each member */
} GroupRow;

static void group_row_free(gpointer p) {
        GroupRow *row = p;
        g_free(row->policy);
        g_ptr_array_unref(row->members);
        g_ptr_array_unref(row->nodes);
        g_free(row);
}

static void add_member(GHashTable *groups, const char *group, const char *policy, const char *name,
                       const char *node) {
        if (!group || !*group)
                return;
        GroupRow *row = g_hash_table_lookup(groups, group);
        if (!row) {
                row = g_new0(GroupRow, 1);
                row->policy = g_strdup(policy);
                row->members = g_ptr_array_new_with_free_func(g_free);
                row->nodes = g_ptr_array_new_with_free_func(g_free);
                g_hash_table_insert(groups, g_strdup(group), row);
        }
        g_ptr_array_add(row->members, g_strdup(name));
        g_ptr_array_add(row->nodes, g_strdup(node));
}

static void collect_peer_groups(GVariant *peer_reply, GHashTable *groups) {
        if (!g_variant_is_of_type(peer_reply, G_VARIANT_TYPE("(aa{sv})")))
                return;
        g_autoptr(GVariant) list = g_variant_get_child_value(peer_reply, 0);
        for (gsize i = 0, n = g_variant_n_children(list); i < n; i++) {
                g_autoptr(GVariant) d = g_variant_get_child_value(list, i);
                add_member(groups, mig_dict_string(d, "group"), mig_dict_string(d, "group-policy"),
                           mig_dict_string(d, "name"), mig_dict_string(d, "node"));
        }
}

static int append_group(sd_bus_message *reply, const char *name, const GroupRow *row) {
        g_autofree char *broken = placement_group_broken(row->policy, row->members, row->nodes);
        int r = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (r >= 0)
                r = sd_bus_message_append(reply, "{sv}{sv}{sv}{sv}", "name", "s", name, "policy", "s",
                                          row->policy, "broken", "b", broken != NULL, "broken-reason", "s",
                                          broken ? broken : "");
        if (r >= 0)
                r = bus_append_strv_entry(reply, "members", row->members);
        if (r >= 0)
                r = bus_append_strv_entry(reply, "nodes", row->nodes);
        return r < 0 ? r : sd_bus_message_close_container(reply);
}

static int finish_groups(ClusterGather *g, sd_bus_message *reply) {
        g_autoptr(GHashTable) groups =
                g_hash_table_new_full(g_str_hash, g_str_equal, g_free, group_row_free);
        for (guint i = 0; i < g->list->len; i++) {
                const MigDomainInfo *d = g->list->pdata[i];
                if (manager_domain_moved_away(g->m, d->uuid))
                        continue;
                add_member(groups, d->group, d->group_policy, d->name, manager_node(g->m));
        }
        for (unsigned i = 0; i < mig_peers_count(g->m->peers); i++)
                if (g->peer_reply[i])
                        collect_peer_groups(g->peer_reply[i], groups);
        g_autoptr(GList) names = g_list_sort(g_hash_table_get_keys(groups), (GCompareFunc) strcmp);
        int r = sd_bus_message_open_container(reply, 'a', "a{sv}");
        for (GList *l = names; r >= 0 && l; l = l->next)
                r = append_group(reply, l->data, g_hash_table_lookup(groups, l->data));
        return r < 0 ? r : sd_bus_message_close_container(reply);
}

int bus_method_list_groups(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return gather_start(msg, userdata, VIRT_LIST, "ListDomains", finish_groups);
}

/* --- hosts --- */

static int append_capacity(sd_bus_message *reply, Manager *m, const MigCapacity *c) {
        bool enabled = true;
        g_autofree char *reason = NULL;
        g_autoptr(GError) e = NULL;
        if (mig_store_get_host_state(m->store, manager_node(m), &enabled, &reason, &e) < 0)
                g_warning("%s", e->message);
        return sd_bus_message_append(
                reply, "{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}{sv}", "node", "s", manager_node(m), "enabled",
                "b", enabled, "disabled-reason", "s", reason ? reason : "", "memory-total", "t",
                c->memory_total, "memory-free", "t", c->memory_free, "vcpus", "u", c->vcpus, "vcpus-used",
                "u", c->vcpus_used, "disk-free", "t", c->disk_free, "domains-running", "u",
                c->domains_running, "host-uuid", "s", m->host_uuid ? m->host_uuid : "");
}

static int append_peer_host(sd_bus_message *reply, MigPeer *peer, GVariant *capacity, const char *why) {
        int r = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (r >= 0)
                r = sd_bus_message_append(reply, "{sv}{sv}{sv}", "address", "s", mig_peer_address(peer),
                                          "local", "b", false, "reachable", "b", capacity != NULL);
        if (r >= 0 && capacity)
                r = append_peer_members(reply, capacity);
        else if (r >= 0)
                r = sd_bus_message_append(reply, "{sv}{sv}", "node", "s", mig_peer_name(peer), "error", "s",
                                          why ? why : "no answer");
        return r < 0 ? r : sd_bus_message_close_container(reply);
}

static int finish_hosts(ClusterGather *g, sd_bus_message *reply) {
        int r = sd_bus_message_open_container(reply, 'a', "a{sv}");
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (r >= 0)
                r = sd_bus_message_append(reply, "{sv}{sv}{sv}", "address", "s", "", "local", "b", true,
                                          "reachable", "b", true);
        if (r >= 0)
                r = append_capacity(reply, g->m, &g->capacity);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        for (unsigned i = 0; r >= 0 && i < mig_peers_count(g->m->peers); i++)
                r = append_peer_host(reply, mig_peers_get(g->m->peers, i), g->peer_reply[i],
                                     g->peer_error[i]);
        return r < 0 ? r : sd_bus_message_close_container(reply);
}

int bus_method_list_hosts(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return gather_start(msg, userdata, VIRT_CAPACITY, "GetCapacity", finish_hosts);
}

/* --- Peer side: this node only --- */

static void reply_virt_error(VirtCall *c) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        mig_virt_error_to_bus(&c->err, &error);
        (void) sd_bus_reply_method_error(c->request, &error);
}

/* This node's answer to a Peer question: one container (type, contents) that append fills. */
static void reply_node(VirtCall *c, char type, const char *contents,
                       int (*append)(sd_bus_message *, VirtCall *)) {
        g_autoptr(sd_bus_message) reply = NULL;
        if (c->result < 0)
                return reply_virt_error(c);
        int r = sd_bus_message_new_method_return(c->request, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, type, contents);
        if (r >= 0)
                r = append(reply, c);
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        bus_send_or_fail(c->request, reply, r);
}

static int append_node_domains(sd_bus_message *reply, VirtCall *c) {
        return append_local_domains(reply, c->m, c->list);
}

static void on_node_list(VirtCall *c) {
        reply_node(c, 'a', "a{sv}", append_node_domains);
}

int bus_node_list_domains(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        virt_call_submit(virt_call_new(userdata, VIRT_LIST, msg, on_node_list, NULL));
        return 1;
}

static int append_node_capacity(sd_bus_message *reply, VirtCall *c) {
        return append_capacity(reply, c->m, &c->capacity);
}

static void on_node_capacity(VirtCall *c) {
        reply_node(c, 'a', "{sv}", append_node_capacity);
}

int bus_node_get_capacity(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        virt_call_submit(virt_call_new(userdata, VIRT_CAPACITY, msg, on_node_capacity, NULL));
        return 1;
}

static void on_describe_local(VirtCall *c) {
        g_autoptr(sd_bus_message) reply = NULL;
        if (c->result < 0)
                return reply_virt_error(c);
        int r = sd_bus_message_new_method_return(c->request, &reply);
        if (r >= 0)
                r = bus_append_domain(reply, c->m, c->info, true);
        bus_send_or_fail(c->request, reply, r);
}

/* DescribeDomain of both interfaces: the domain named by msg looked up here, then done. */
static int describe_start(sd_bus_message *msg, Manager *m, VirtCallThen done, sd_bus_error *error) {
        const char *domain;
        int r = sd_bus_message_read(msg, "s", &domain);
        if (r < 0)
                return r;
        if (!mig_domain_name_valid(domain))
                return sd_bus_error_set(error, MIG_ERROR_INVALID_ARGUMENT,
                                        "Invalid domain: " MIG_DOMAIN_NAME_RULE ".");
        VirtCall *c = virt_call_new(m, VIRT_LOOKUP, msg, done, NULL);
        c->domain = g_strdup(domain);
        virt_call_submit(c);
        return 1;
}

int bus_node_describe_domain(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return describe_start(msg, userdata, on_describe_local, error);
}

static void on_domain_view(VirtCall *c) {
        bool absent = c->result < 0 && g_strcmp0(c->err.name, MIG_ERROR_NOT_FOUND) == 0;
        if (c->result < 0 && !absent)
                return reply_virt_error(c);
        (void) sd_bus_reply_method_return(c->request, "s", mig_domain_view(absent ? NULL : c->info));
}

int bus_node_get_domain_view(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        const char *uuid;
        int r = bus_read_uuid(msg, &uuid, error);
        if (r < 0)
                return r;
        VirtCall *c = virt_call_new(userdata, VIRT_LOOKUP, msg, on_domain_view, NULL);
        c->lane = MIG_LANE_STEP; /* a step of the peer's live recovery */
        c->domain = g_strdup(uuid);
        virt_call_submit(c);
        return 1;
}

/* --- DescribeDomain on the Manager: this node first, then every peer --- */

typedef struct Describe {
        Manager *m;
        sd_bus_message *request;
        char *domain;
        bool answered;
        GString *unreachable;
} Describe;

static void describe_free(Describe *d) {
        sd_bus_message_unref(d->request);
        g_free(d->domain);
        g_string_free(d->unreachable, TRUE);
        g_free(d);
}

static void describe_peer_done(void *userdata) {
        Describe *d = userdata;
        if (!d->answered)
                (void) sd_bus_reply_method_errorf(
                        d->request, MIG_ERROR_NOT_FOUND, "No domain '%s' on any node of the cluster%s%s.",
                        d->domain, d->unreachable->len ? "; unreachable: " : "", d->unreachable->str);
        describe_free(d);
}

static void on_describe_peer(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        Describe *d = userdata;
        if (reply && !d->answered) {
                g_autoptr(sd_bus_message) out = NULL;
                int r = sd_bus_message_new_method_return(d->request, &out);
                if (r >= 0)
                        r = mig_bus_append_tuple(out, reply);
                bus_send_or_fail(d->request, out, r);
                d->answered = true;
        } else if (error && strcmp(error->name, MIG_ERROR_NOT_FOUND) != 0)
                g_string_append_printf(d->unreachable, "%s%s", d->unreachable->len ? ", " : "",
                                       mig_peer_name(peer));
}

static void on_describe_manager(VirtCall *c) {
        if (c->result == 0 || g_strcmp0(c->err.name, MIG_ERROR_NOT_FOUND) != 0)
                return on_describe_local(c);
        Describe *d = g_new0(Describe, 1);
        *d = (Describe){c->m, sd_bus_message_ref(c->request), g_strdup(c->domain), false, g_string_new("")};
        mig_peers_ask_all_cached(c->m->peers, "DescribeDomain", on_describe_peer, describe_peer_done, d,
                                 g_variant_new("(s)", d->domain));
}

int bus_method_describe_domain(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return describe_start(msg, userdata, on_describe_manager, error);
}

/* --- domain events --- */

/* One event as an a{sv}; node NULL: this node's own listing, without the node. */
static int append_event(sd_bus_message *reply, const MigDomainEvent *e, const char *node) {
        int r = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (r >= 0)
                r = sd_bus_message_append(reply, "{sv}", "time-usec", "t", e->time_usec);
        if (r >= 0 && node)
                r = sd_bus_message_append(reply, "{sv}", "node", "s", node);
        if (r >= 0)
                r = sd_bus_message_append(reply, "{sv}{sv}{sv}{sv}", "origin", "s", e->origin, "operation",
                                          "s", e->operation, "sub-operation", "s", e->sub_operation,
                                          "message", "s", e->message);
        return r < 0 ? r : sd_bus_message_close_container(reply);
}

int bus_append_events(sd_bus_message *reply, GPtrArray *events) {
        int r = sd_bus_message_open_container(reply, 'a', "a{sv}");
        for (guint i = 0; r >= 0 && i < events->len; i++)
                r = append_event(reply, events->pdata[i], NULL);
        return r < 0 ? r : sd_bus_message_close_container(reply);
}

/* The "events" entry of a DescribeDomain reply: the domain's newest events. */
static int append_describe_events(sd_bus_message *reply, Manager *m, const char *name, const char *uuid) {
        g_autoptr(GPtrArray) list = NULL;
        g_autoptr(GError) err = NULL;
        if (events_load(m, name, uuid, 0, &list, &err) < 0) {
                g_warning("%s", err->message);
                list = g_ptr_array_new();
        }
        int r = sd_bus_message_open_container(reply, 'e', "sv");
        if (r >= 0)
                r = sd_bus_message_append(reply, "s", "events");
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'v', "aa{sv}");
        if (r >= 0)
                r = bus_append_events(reply, list);
        for (int k = 0; r >= 0 && k < 2; k++)
                r = sd_bus_message_close_container(reply);
        return r;
}

/* Manager.ListDomainEvents: the domain's events of every node, merged by time. */

typedef struct NodeEvent {
        char *node;
        MigDomainEvent *e;
} NodeEvent;

typedef struct EventsGather {
        sd_bus_message *request;
        GPtrArray *events; /* NodeEvent* */
} EventsGather;

static void node_event_free(NodeEvent *n) {
        g_free(n->node);
        mig_domain_event_free(n->e);
        g_free(n);
}

static void add_event(EventsGather *g, const char *node, MigDomainEvent *e) {
        NodeEvent *n = g_new0(NodeEvent, 1);
        *n = (NodeEvent){g_strdup(node), e};
        g_ptr_array_add(g->events, n);
}

/* One a{sv} of a peer's ListDomainEvents reply, or NULL when it is not an event. */
static MigDomainEvent *read_peer_event(GVariant *d) {
        const char *operation = mig_dict_string(d, "operation");
        const char *origin = mig_dict_string(d, "origin"), *sub = mig_dict_string(d, "sub-operation");
        const char *message = mig_dict_string(d, "message");
        uint64_t t = 0;
        if (!operation)
                return NULL;
        (void) mig_dict_uint64(d, "time-usec", &t);
        MigDomainEvent *e = g_new0(MigDomainEvent, 1);
        *e = (MigDomainEvent){t, g_strdup(origin ? origin : ""), g_strdup(operation),
                              g_strdup(sub ? sub : "-"), g_strdup(message ? message : "")};
        return e;
}

static void on_peer_events(MigPeer *peer, GVariant *reply, const sd_bus_error *error, void *userdata) {
        EventsGather *g = userdata;
        if (!reply || !g_variant_is_of_type(reply, G_VARIANT_TYPE("(aa{sv})")))
                return;
        g_autoptr(GVariant) list = g_variant_get_child_value(reply, 0);
        for (gsize i = 0, n = g_variant_n_children(list); i < n; i++) {
                g_autoptr(GVariant) d = g_variant_get_child_value(list, i);
                MigDomainEvent *e = read_peer_event(d);
                if (e)
                        add_event(g, mig_peer_name(peer), e);
        }
}

static gint by_time(gconstpointer a, gconstpointer b) {
        const NodeEvent *x = *(NodeEvent *const *) a, *y = *(NodeEvent *const *) b;
        return x->e->time_usec < y->e->time_usec ? -1 : x->e->time_usec > y->e->time_usec;
}

static void events_gathered(void *userdata) {
        EventsGather *g = userdata;
        g_ptr_array_sort(g->events, by_time);
        g_autoptr(sd_bus_message) reply = NULL;
        int r = sd_bus_message_new_method_return(g->request, &reply);
        if (r >= 0)
                r = sd_bus_message_open_container(reply, 'a', "a{sv}");
        for (guint i = 0; r >= 0 && i < g->events->len; i++) {
                const NodeEvent *n = g->events->pdata[i];
                r = append_event(reply, n->e, n->node);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(reply);
        bus_send_or_fail(g->request, reply, r);
        sd_bus_message_unref(g->request);
        g_ptr_array_unref(g->events);
        g_free(g);
}

int bus_method_list_domain_events(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *uuid;
        int r = bus_read_uuid(msg, &uuid, error);
        if (r < 0)
                return r;
        g_autoptr(GPtrArray) local = NULL;
        g_autoptr(GError) err = NULL;
        if (events_load(m, "", uuid, 0, &local, &err) < 0)
                return manager_store_error(error, -EIO, err);
        EventsGather *g = g_new0(EventsGather, 1);
        *g = (EventsGather){sd_bus_message_ref(msg),
                            g_ptr_array_new_with_free_func((GDestroyNotify) node_event_free)};
        for (guint i = 0; i < local->len; i++)
                add_event(g, manager_node(m), g_steal_pointer(&local->pdata[i]));
        g_ptr_array_set_free_func(local, NULL);
        mig_peers_ask_all_cached(m->peers, "ListDomainEvents", on_peer_events, events_gathered, g,
                                 g_variant_new("(st)", uuid, (guint64) 0));
        return 1;
}
