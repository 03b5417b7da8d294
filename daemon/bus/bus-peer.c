/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.example.Migrate1.Peer: what the other nodes' daemons call. They arrive over
 * SSH as root; the busconfig admits only root and every handler checks again. */

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "bus-api.h"
#include "bus-variant.h"
#include "cold.h"
#include "disk-spec.h"
#include "errors.h"
#include "events.h"
#include "incoming.h"
#include "live.h"
#include "macro.h"
#include "placement.h"
#include "reconcile.h"
#include "validate.h"

static int require_root(sd_bus_message *msg, sd_bus_error *error) {
        return bus_require_root(msg, error,
                                "The Peer interface is for migrated daemons on other nodes (root) only.");
}

static int peer_ping(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        int r = require_root(msg, error);
        return r < 0 ? r : sd_bus_reply_method_return(msg, "s", manager_node(userdata));
}

/* Handlers that only check the caller and hand over to the concern's own code. */
#define PEER_DELEGATE(fn, impl)                                                                             \
        static int peer_##fn(sd_bus_message *msg, void *userdata, sd_bus_error *error) {                    \
                int r = require_root(msg, error);                                                           \
                return r < 0 ? r : impl(msg, userdata, error);                                              \
        }

PEER_DELEGATE(get_capacity, bus_node_get_capacity)
PEER_DELEGATE(list_domains, bus_node_list_domains)
PEER_DELEGATE(describe_domain, bus_node_describe_domain)
PEER_DELEGATE(get_domain_view, bus_node_get_domain_view)

/* --- GetPlacement: this node's facts for the scheduler of another --- */

static int append_facts(sd_bus_message *reply, const MigPlacementFacts *f) {
        int r = sd_bus_message_open_container(reply, 'a', "{sv}");
        if (r >= 0)
                r = sd_bus_message_append(
                        reply, "{sv}{sv}{sv}{sv}{sv}{sv}{sv}", "enabled", "b", f->enabled, "disabled-reason",
                        "s", f->disabled_reason ? f->disabled_reason : "", "memory-free", "t",
                        f->memory_free, "disk-free", "t", f->disk_free, "vcpus", "u", f->vcpus, "vcpus-used",
                        "u", f->vcpus_used, "in-flight", "u", f->in_flight);
        if (r >= 0)
                r = bus_append_strv_entry(reply, "members", f->members);
        if (r >= 0)
                r = sd_bus_message_append(reply, "{sv}", "cpu-refusal", "s",
                                          f->cpu_refusal ? f->cpu_refusal : "");
        return r < 0 ? r : sd_bus_message_close_container(reply);
}

static void on_placement(Manager *m, const MigPlacementFacts *facts, const MigVirtError *error,
                         void *userdata) {
        g_autoptr(sd_bus_message) request = userdata;
        g_autoptr(sd_bus_message) reply = NULL;
        if (!facts) {
                g_auto(sd_bus_error) e = SD_BUS_ERROR_NULL;
                mig_virt_error_to_bus(error, &e);
                (void) sd_bus_reply_method_error(request, &e);
                return;
        }
        int r = sd_bus_message_new_method_return(request, &reply);
        if (r >= 0)
                r = append_facts(reply, facts);
        bus_send_or_fail(request, reply, r);
}

static int peer_get_placement(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        GVariant *read = NULL;
        int r = require_root(msg, error);
        if (r >= 0)
                r = mig_bus_read_value(msg, &read);
        if (r < 0)
                return r;
        g_autoptr(GVariant) request = read ? g_variant_ref_sink(read) : NULL;
        const char *group = request ? mig_dict_string(request, "group") : NULL;
        const char *uuid = request ? mig_dict_string(request, "uuid") : NULL;
        const char *cpu = request ? mig_dict_string(request, "cpu") : NULL;
        if (!group || (*group && !mig_group_name_valid(group)) || !uuid || !mig_uuid_valid(uuid))
                return sd_bus_error_set(
                        error, MIG_ERROR_INVALID_ARGUMENT,
                        "GetPlacement needs a domain UUID and a group name (\"\" for none).");
        /* a step of another node's migration (or its dry run, which that node keeps cached): the
         * step lane, so that local readers cannot hold it up */
        placement_facts(userdata, group, uuid, cpu && *cpu ? cpu : NULL, MIG_LANE_STEP, on_placement,
                        sd_bus_message_ref(msg));
        return 1;
}

/* --- the holder's side of calls made on another node (bus-forward.c) --- */

PEER_DELEGATE(forward_migrate, bus_peer_forward_migrate)
PEER_DELEGATE(forward_domain_verb, bus_peer_forward_domain_verb)
PEER_DELEGATE(plan, bus_peer_plan)
PEER_DELEGATE(forward_evacuate, bus_peer_forward_evacuate)
PEER_DELEGATE(forward_restore, bus_peer_forward_restore)
PEER_DELEGATE(forward_control_evacuation, bus_peer_forward_control_evacuation)
PEER_DELEGATE(get_evacuation, bus_peer_get_evacuation)
PEER_DELEGATE(list_evacuations, bus_peer_list_evacuations)
PEER_DELEGATE(get_migration, bus_peer_get_migration)

static int peer_get_migration_state(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        const char *id;
        int r = require_root(msg, error);
        if (r >= 0)
                r = sd_bus_message_read(msg, "s", &id);
        if (r < 0)
                return r;
        MigMigration *mig = mig_migration_id_valid(id) ? manager_find_migration(userdata, id) : NULL;
        if (!mig)
                return sd_bus_error_setf(error, MIG_ERROR_NOT_FOUND, "No migration %s on node %s.", id,
                                         manager_node(userdata));
        g_autoptr(sd_bus_message) reply = NULL;
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r >= 0)
                r = bus_append_migration_state(reply, mig);
        return r < 0 ? r : sd_bus_send(NULL, reply, NULL);
}

/* The domain's events on this node, since a time. */
static int peer_list_domain_events(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        const char *uuid;
        uint64_t since;
        int r = require_root(msg, error);
        if (r >= 0)
                r = bus_read_uuid(msg, &uuid, error);
        if (r >= 0)
                r = sd_bus_message_read(msg, "t", &since);
        if (r < 0)
                return r;
        g_autoptr(GPtrArray) list = NULL;
        g_autoptr(GError) err = NULL;
        if (events_load(userdata, "", uuid, since, &list, &err) < 0) {
                g_warning("%s", err->message);
                list = g_ptr_array_new();
        }
        g_autoptr(sd_bus_message) reply = NULL;
        r = sd_bus_message_new_method_return(msg, &reply);
        if (r >= 0)
                r = bus_append_events(reply, list);
        return r < 0 ? r : sd_bus_send(NULL, reply, NULL);
}

/* A peer found the domain active on two nodes: answered at once, this node looks after. */
static int peer_check_domain(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        const char *uuid;
        int r = require_root(msg, error);
        if (r >= 0)
                r = bus_read_uuid(msg, &uuid, error);
        if (r < 0)
                return r;
        reconcile_check_local(userdata, uuid);
        return sd_bus_reply_method_return(msg, NULL);
}

/* The other node's view of a migration's domain. */
static int peer_report_view(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        const char *id, *side, *view;
        int r = require_root(msg, error);
        if (r >= 0)
                r = sd_bus_message_read(msg, "sss", &id, &side, &view);
        if (r < 0)
                return r;
        if (!mig_migration_id_valid(id) || (strcmp(side, "source") && strcmp(side, "destination")) ||
            !reconcile_view_known(view))
                return sd_bus_error_set(error, MIG_ERROR_INVALID_ARGUMENT,
                                        "Expected a migration ID, source or destination, and a view.");
        reconcile_report_view(userdata, id, side, view);
        return sd_bus_reply_method_return(msg, NULL);
}

static int peer_set_host_state(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        int enabled;
        const char *reason;
        int r = require_root(msg, error);
        if (r < 0 || (r = sd_bus_message_read(msg, "bs", &enabled, &reason)) < 0)
                return r;
        if (!enabled && !mig_reason_valid(reason))
                return sd_bus_error_set(error, MIG_ERROR_INVALID_ARGUMENT,
                                        "Invalid reason: " MIG_REASON_RULE ".");
        g_autoptr(GError) e = NULL;
        r = mig_store_set_host_state(m->store, manager_node(m), enabled, enabled ? "" : reason, &e);
        if (r < 0)
                return manager_store_error(error, r, e);
        g_message("Node %s %s by a peer%s%s.", manager_node(m), enabled ? "enabled" : "disabled",
                  enabled ? "" : ": ", enabled ? "" : reason);
        return sd_bus_reply_method_return(msg, NULL);
}

static int peer_set_group(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        const char *domain, *name, *policy;
        int r = require_root(msg, error);
        if (r < 0 || (r = sd_bus_message_read(msg, "sss", &domain, &name, &policy)) < 0)
                return r;
        bool clear = !*name;
        if (!mig_domain_name_valid(domain) || (!clear && !mig_group_name_valid(name)) ||
            (!clear && !mig_group_policy_valid(policy)))
                return sd_bus_error_set(error, MIG_ERROR_INVALID_ARGUMENT,
                                        "Invalid domain, group or policy.");
        return bus_set_group(msg, userdata, domain, clear ? NULL : name, clear ? NULL : policy, true);
}

/* --- the engines' destination steps: arguments read here, the step is the engine's --- */

/* The a(sstt) disk specs of a Prepare call: path, format, size, bytes of data. */
static int read_disk_specs(sd_bus_message *msg, GPtrArray **ret) {
        GVariant *read = NULL;
        int r = mig_bus_read_value(msg, &read);
        if (r <= 0)
                return r < 0 ? r : -EBADMSG;
        g_autoptr(GVariant) specs = g_variant_ref_sink(read);
        *ret = mig_disks_from_specs(specs);
        return *ret ? 0 : -EBADMSG;
}

typedef int (*PrepareStep)(Manager *m, const MigIncoming *in, MigAnswer answer, sd_bus_error *error);

static int peer_prepare(sd_bus_message *msg, Manager *m, bool live, PrepareStep step, sd_bus_error *error) {
        MigIncoming in = {.kind = live ? "live" : "cold"};
        uint32_t vcpus;
        int copy_disks = false;
        int r = require_root(msg, error);
        if (r >= 0)
                r = sd_bus_message_read(msg, "sssstu", &in.id, &in.name, &in.uuid, &in.source, &in.memory,
                                        &vcpus);
        if (r >= 0 && live)
                r = sd_bus_message_read(msg, "b", &copy_disks);
        g_autoptr(GPtrArray) disks = NULL;
        if (r >= 0)
                r = read_disk_specs(msg, &disks);
        GVariant *read = NULL;
        if (r >= 0)
                r = mig_bus_read_value(msg, &read);
        if (r < 0)
                return r;
        g_autoptr(GVariant) placement = read ? g_variant_ref_sink(read) : NULL;
        in.group = placement ? mig_dict_string(placement, "group") : NULL;
        in.group_policy = placement ? mig_dict_string(placement, "group-policy") : NULL;
        g_auto(GStrv) backing = placement ? mig_dict_strv(placement, "backing-files") : NULL;
        in.backing = backing;
        if (placement)
                (void) mig_dict_bool(placement, "group-elsewhere", &in.group_elsewhere);
        in.vcpus = vcpus;
        in.copy_disks = copy_disks;
        in.disks = disks;
        return step(m, &in, bus_answer_disks(msg), error);
}

static int peer_cold_prepare(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return peer_prepare(msg, userdata, false, cold_prepare_incoming, error);
}

static int peer_live_prepare(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return peer_prepare(msg, userdata, true, live_prepare_incoming, error);
}

/* Steps that take the migration's id only. */
typedef int (*IdStep)(Manager *m, const char *id, MigAnswer answer, sd_bus_error *error);

static int peer_id_step(sd_bus_message *msg, Manager *m, IdStep step, MigAnswer (*answer)(sd_bus_message *),
                        sd_bus_error *error) {
        const char *id;
        int r = require_root(msg, error);
        if (r >= 0)
                r = sd_bus_message_read(msg, "s", &id);
        return r < 0 ? r : step(m, id, answer(msg), error);
}

static int peer_cold_verify(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return peer_id_step(msg, userdata, cold_verify_incoming, bus_answer_strv, error);
}

static int peer_cold_confirm(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return peer_id_step(msg, userdata, cold_confirm_incoming, bus_answer_empty, error);
}

static int peer_cold_revert(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return peer_id_step(msg, userdata, cold_revert_incoming, bus_answer_empty, error);
}

static int peer_live_finish(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return peer_id_step(msg, userdata, live_finish_incoming, bus_answer_times, error);
}

static int peer_cold_finish(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        const char *id, *definition;
        int start;
        int r = require_root(msg, error);
        if (r >= 0)
                r = sd_bus_message_read(msg, "ssb", &id, &definition, &start);
        return r < 0 ? r
                     : cold_finish_incoming(userdata, id, definition, start, bus_answer_empty(msg), error);
}

/* Abort(id, status): the status the destination records once its part is undone. */
typedef int (*AbortStep)(Manager *m, const char *id, const char *status, MigAnswer answer,
                         sd_bus_error *error);

static int peer_abort(sd_bus_message *msg, Manager *m, AbortStep step, sd_bus_error *error) {
        const char *id, *status;
        int r = require_root(msg, error);
        if (r >= 0)
                r = sd_bus_message_read(msg, "ss", &id, &status);
        return r < 0 ? r : step(m, id, status, bus_answer_empty(msg), error);
}

static int peer_cold_abort(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return peer_abort(msg, userdata, cold_abort_incoming, error);
}

static int peer_live_abort(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        return peer_abort(msg, userdata, live_abort_incoming, error);
}

static int peer_get_migration_status(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        const char *id;
        int r = require_root(msg, error);
        if (r < 0 || (r = sd_bus_message_read(msg, "s", &id)) < 0)
                return r;
        MigMigration *mig = mig_migration_id_valid(id) ? manager_find_migration(userdata, id) : NULL;
        return sd_bus_reply_method_return(msg, "s", mig ? mig->status : "");
}

/* For the receiving end of a cold copy's disk stream (migrated --receive-disk, started over
 * ssh by the source): the volume to write into. */
static int peer_open_incoming_disk(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        const char *id, *path;
        int fd = -1;
        int r = require_root(msg, error);
        if (r < 0 || (r = sd_bus_message_read(msg, "ss", &id, &path)) < 0)
                return r;
        if (!mig_migration_id_valid(id) || !mig_disk_path_canonical(path))
                return sd_bus_error_set(error, MIG_ERROR_INVALID_ARGUMENT,
                                        "Invalid migration ID or disk path.");
        if ((r = incoming_open_disk(userdata, id, path, &fd, error)) < 0)
                return r;
        r = sd_bus_reply_method_return(msg, "h", fd);
        close(fd);
        return r;
}

static int peer_forward_verb(sd_bus_message *msg, void *userdata, sd_bus_error *error) {
        const char *verb, *id;
        int r = require_root(msg, error);
        if (r < 0 || (r = sd_bus_message_read(msg, "ss", &verb, &id)) < 0)
                return r;
        return bus_run_verb(msg, userdata, verb, id, error);
}

const sd_bus_vtable bus_peer_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_ARGS("Ping", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", node), peer_ping, 0),
        SD_BUS_METHOD_WITH_ARGS("GetCapacity", SD_BUS_NO_ARGS, SD_BUS_RESULT("a{sv}", capacity),
                                peer_get_capacity, 0),
        SD_BUS_METHOD_WITH_ARGS("GetPlacement", SD_BUS_ARGS("a{sv}", request), SD_BUS_RESULT("a{sv}", facts),
                                peer_get_placement, 0),
        SD_BUS_METHOD_WITH_ARGS("ListDomains", SD_BUS_NO_ARGS, SD_BUS_RESULT("aa{sv}", domains),
                                peer_list_domains, 0),
        SD_BUS_METHOD_WITH_ARGS("DescribeDomain", SD_BUS_ARGS("s", domain),
                                SD_BUS_RESULT("a{sv}", description), peer_describe_domain, 0),
        SD_BUS_METHOD_WITH_ARGS("GetDomainView", SD_BUS_ARGS("s", uuid), SD_BUS_RESULT("s", view),
                                peer_get_domain_view, 0),
        SD_BUS_METHOD_WITH_ARGS("ListDomainEvents", SD_BUS_ARGS("s", uuid, "t", since_usec),
                                SD_BUS_RESULT("aa{sv}", events), peer_list_domain_events, 0),
        SD_BUS_METHOD_WITH_ARGS("CheckDomain", SD_BUS_ARGS("s", uuid), SD_BUS_NO_RESULT, peer_check_domain,
                                0),
        SD_BUS_METHOD_WITH_ARGS("ReportView", SD_BUS_ARGS("s", id, "s", side, "s", view), SD_BUS_NO_RESULT,
                                peer_report_view, 0),
        SD_BUS_METHOD_WITH_ARGS("SetHostState", SD_BUS_ARGS("b", enabled, "s", reason), SD_BUS_NO_RESULT,
                                peer_set_host_state, 0),
        SD_BUS_METHOD_WITH_ARGS("SetGroup", SD_BUS_ARGS("s", domain, "s", name, "s", policy),
                                SD_BUS_NO_RESULT, peer_set_group, 0),
        SD_BUS_METHOD_WITH_ARGS("PrepareColdMigration",
                                SD_BUS_ARGS("s", id, "s", domain_name, "s", domain_uuid, "s", source, "t",
                                            memory, "u", vcpus, "a(sstt)", disks, "a{sv}", placement),
                                SD_BUS_RESULT("as", paths, "ab", shared), peer_cold_prepare, 0),
        SD_BUS_METHOD_WITH_ARGS("VerifyColdMigration", SD_BUS_ARGS("s", id), SD_BUS_RESULT("as", checksums),
                                peer_cold_verify, 0),
        SD_BUS_METHOD_WITH_ARGS("FinishColdMigration", SD_BUS_ARGS("s", id, "s", definition, "b", start),
                                SD_BUS_NO_RESULT, peer_cold_finish, 0),
        SD_BUS_METHOD_WITH_ARGS("ConfirmColdMigration", SD_BUS_ARGS("s", id), SD_BUS_NO_RESULT,
                                peer_cold_confirm, 0),
        SD_BUS_METHOD_WITH_ARGS("RevertColdMigration", SD_BUS_ARGS("s", id), SD_BUS_NO_RESULT,
                                peer_cold_revert, 0),
        SD_BUS_METHOD_WITH_ARGS("AbortColdMigration", SD_BUS_ARGS("s", id, "s", status), SD_BUS_NO_RESULT,
                                peer_cold_abort, 0),
        SD_BUS_METHOD_WITH_ARGS("PrepareLiveMigration",
                                SD_BUS_ARGS("s", id, "s", domain_name, "s", domain_uuid, "s", source, "t",
                                            memory, "u", vcpus, "b", block, "a(sstt)", disks, "a{sv}",
                                            placement),
                                SD_BUS_RESULT("as", paths, "ab", shared), peer_live_prepare, 0),
        SD_BUS_METHOD_WITH_ARGS("FinishLiveMigration", SD_BUS_ARGS("s", id),
                                SD_BUS_RESULT("t", downtime_msec, "t", duration_msec), peer_live_finish, 0),
        SD_BUS_METHOD_WITH_ARGS("AbortLiveMigration", SD_BUS_ARGS("s", id, "s", status), SD_BUS_NO_RESULT,
                                peer_live_abort, 0),
        SD_BUS_METHOD_WITH_ARGS("OpenIncomingDisk", SD_BUS_ARGS("s", id, "s", path), SD_BUS_RESULT("h", fd),
                                peer_open_incoming_disk, 0),
        SD_BUS_METHOD_WITH_ARGS("GetMigrationStatus", SD_BUS_ARGS("s", id), SD_BUS_RESULT("s", status),
                                peer_get_migration_status, 0),
        SD_BUS_METHOD_WITH_ARGS("ForwardVerb", SD_BUS_ARGS("s", verb, "s", id), SD_BUS_NO_RESULT,
                                peer_forward_verb, 0),
        SD_BUS_METHOD_WITH_ARGS("ForwardMigrate",
                                SD_BUS_ARGS("s", domain, "s", destination, "a{sv}", options),
                                SD_BUS_RESULT("o", migration), peer_forward_migrate, 0),
        SD_BUS_METHOD_WITH_ARGS("ForwardDomainVerb", SD_BUS_ARGS("s", verb, "s", domain), SD_BUS_NO_RESULT,
                                peer_forward_domain_verb, 0),
        SD_BUS_METHOD_WITH_ARGS("Plan", SD_BUS_ARGS("s", domain, "s", destination, "a{sv}", options),
                                SD_BUS_RESULT("aa{sv}", nodes), peer_plan, 0),
        SD_BUS_METHOD_WITH_ARGS("GetMigration", SD_BUS_ARGS("s", id_or_domain),
                                SD_BUS_RESULT("o", migration), peer_get_migration, 0),
        SD_BUS_METHOD_WITH_ARGS("GetMigrationState", SD_BUS_ARGS("s", id), SD_BUS_RESULT("a{sv}", state),
                                peer_get_migration_state, 0),
        SD_BUS_METHOD_WITH_ARGS("ForwardEvacuate", SD_BUS_ARGS("a{sv}", options),
                                SD_BUS_RESULT("a{sv}", evacuation), peer_forward_evacuate, 0),
        SD_BUS_METHOD_WITH_ARGS("ForwardRestore", SD_BUS_NO_ARGS, SD_BUS_RESULT("a{sv}", evacuation),
                                peer_forward_restore, 0),
        SD_BUS_METHOD_WITH_ARGS("ForwardControlEvacuation", SD_BUS_ARGS("s", action), SD_BUS_NO_RESULT,
                                peer_forward_control_evacuation, 0),
        SD_BUS_METHOD_WITH_ARGS("GetEvacuation", SD_BUS_NO_ARGS, SD_BUS_RESULT("a{sv}", evacuation),
                                peer_get_evacuation, 0),
        SD_BUS_METHOD_WITH_ARGS("ListEvacuations", SD_BUS_NO_ARGS, SD_BUS_RESULT("aa{sv}", evacuations),
                                peer_list_evacuations, 0),
        SD_BUS_VTABLE_END,
};
