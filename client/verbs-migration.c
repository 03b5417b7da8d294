/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* migrate, confirm, revert, abort, force-complete, migrations, show. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "bus.h"
#include "errors.h"
#include "log.h"
#include "output.h"
#include "resolve.h"
#include "status.h"
#include "validate.h"
#include "verbs.h"

static const char *const event_fields[] = {"usec", "status", "message", NULL};

/* ---- argument checks ---- */

static int check_status(const char *status) {
        if (mig_status_is_known(status))
                return 0;
        g_autofree char *known = g_strjoinv(" ", (char **) mig_status_names);
        return log_invalid_argument("Unknown migration status '%s'; known: %s.", status, known);
}

/* "Resize: 1 vCPU(s), 128.0M -> 2 vCPU(s), 256.0M" for a resize's record. */
static void print_resize(JsonObject *p) {
        uint64_t om = 0, nm = 0, ov = 0, nv = 0;
        (void) mig_json_uint(p, "OldMemory", &om);
        (void) mig_json_uint(p, "NewMemory", &nm);
        (void) mig_json_uint(p, "OldVCPUs", &ov);
        (void) mig_json_uint(p, "NewVCPUs", &nv);
        if (!nm && !nv)
                return;
        g_autofree char *before = mig_format_bytes(om), *after = mig_format_bytes(nm);
        mig_print_fieldf("Resize", "%" PRIu64 " vCPU(s), %s -> %" PRIu64 " vCPU(s), %s", ov, before, nv,
                         after);
}

/* ---- migrate ---- */

static void print_started(MigCtl *ctl, const char *domain, const char *path) {
        g_autofree char *id = mig_migration_id_from_path(path);

        if (ctl->json) {
                g_autoptr(JsonBuilder) b = json_builder_new();
                json_builder_begin_object(b);
                json_builder_set_member_name(b, "id");
                json_builder_add_string_value(b, id);
                json_builder_set_member_name(b, "object");
                json_builder_add_string_value(b, path);
                json_builder_end_object(b);
                g_autoptr(JsonNode) node = json_builder_get_root(b);
                mig_json_print(node, true);
                return;
        }

        g_autofree char *to = ctl->opt.host ? g_strdup_printf(" to %s", ctl->opt.host) : g_strdup("");
        g_autofree char *clean_id = mig_sanitize(id), *clean_path = mig_sanitize(path);
        bool resize = ctl->opt.memory || ctl->opt.vcpus;
        printf("Started %s of %s%s: %s (%s)\n",
               resize          ? "resize"
               : ctl->opt.live ? "live migration"
                               : "cold migration",
               domain, to, clean_id, clean_path);
        fflush(stdout);
}

/* Only the options given are sent: the daemon's [Live] defaults apply to the rest. */
static int append_migrate_options(MigCtl *ctl, sd_bus_message *m) {
        const MigVerbOptions *o = &ctl->opt;
        int r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0)
                r = sd_bus_message_append(m, "{sv}{sv}", "live", "b", (int) o->live, "block-migration", "b",
                                          (int) o->block_migration);
        if (r >= 0 && o->bandwidth)
                r = sd_bus_message_append(m, "{sv}", "bandwidth", "t", o->bandwidth);
        if (r >= 0 && o->max_downtime)
                r = sd_bus_message_append(m, "{sv}", "max-downtime", "t", o->max_downtime);
        if (r >= 0 && o->postcopy)
                r = sd_bus_message_append(m, "{sv}", "postcopy", "b", 1);
        if (r >= 0 && o->compressed >= 0)
                r = sd_bus_message_append(m, "{sv}", "compressed", "b", o->compressed);
        if (r >= 0 && o->no_auto_converge)
                r = sd_bus_message_append(m, "{sv}", "auto-converge", "b", 0);
        if (r >= 0 && o->memory)
                r = sd_bus_message_append(m, "{sv}", "memory", "t", o->memory);
        if (r >= 0 && o->vcpus)
                r = sd_bus_message_append(m, "{sv}", "vcpus", "u", (uint32_t) o->vcpus);
        return r < 0 ? r : sd_bus_message_close_container(m);
}

static int call_migrate(MigCtl *ctl, const char *domain, sd_bus_message **reply) {
        g_autoptr(sd_bus_message) m = NULL;
        int r = mig_message_new(ctl, NULL, MIG_IFACE_MANAGER, "Migrate", &m);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "ss", domain, ctl->opt.host ? ctl->opt.host : "");
        if (r >= 0)
                r = append_migrate_options(ctl, m);
        if (r >= 0)
                r = sd_bus_message_append(m, "b", (int) ctl->ask_password);
        if (r < 0)
                return log_error_errno(r, "Failed to build the Migrate call: %m");
        return mig_call_message(ctl, MIG_CALL_AUTH, m, reply);
}

int verb_migrate(MigCtl *ctl, int argc, char **argv) {
        g_autoptr(sd_bus_message) reply = NULL;
        const char *domain = argv[1], *path = NULL;
        int r;

        r = mig_check_domain(domain);
        if (r < 0)
                return r;
        if (ctl->opt.host) {
                r = mig_check_node(ctl->opt.host);
                if (r < 0)
                        return r;
        }

        if (strcmp(argv[0], "resize") == 0 && !ctl->opt.memory && !ctl->opt.vcpus)
                return log_usage_error("resize needs the new size: --vcpus=N and/or --memory=SIZE.");
        bool tuned = ctl->opt.bandwidth || ctl->opt.max_downtime || ctl->opt.postcopy ||
                     ctl->opt.no_auto_converge || ctl->opt.compressed >= 0;
        if (tuned && !ctl->opt.live)
                return log_usage_error("--bandwidth, --max-downtime, --postcopy, --no-auto-converge and "
                                       "--[no-]compressed need --live.");
        r = call_migrate(ctl, domain, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "o", &path);
        if (r < 0)
                return log_parse_error(r);

        if (!(ctl->json && ctl->opt.wait)) /* with --json --wait the watch lines say it all */
                print_started(ctl, domain, path);
        if (ctl->opt.wait)
                return mig_watch_migration(ctl, path);
        return 0;
}

/* ---- confirm, revert, abort, force-complete ---- */

int verb_domain_action(MigCtl *ctl, int argc, char **argv) {
        static const struct {
                const char *verb;
                const char *method;
        } actions[] = {
                {"confirm", "Confirm"},
                {"revert", "Revert"},
                {"abort", "Abort"},
                {"force-complete", "ForceComplete"},
        };
        const char *method = NULL;
        int r;

        for (size_t i = 0; i < G_N_ELEMENTS(actions); i++)
                if (strcmp(actions[i].verb, argv[0]) == 0)
                        method = actions[i].method;
        if (!method)
                return log_usage_error("Unknown verb '%s'.", argv[0]);

        r = mig_check_domain(argv[1]);
        if (r < 0)
                return r;
        return mig_call_manager(ctl, MIG_CALL_AUTH, method, NULL, "sb", argv[1], (int) ctl->ask_password);
}

/* ---- migrations ---- */

static int append_filter(sd_bus_message *m, const MigVerbOptions *opt) {
        int r;

        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        if (opt->domain) {
                r = sd_bus_message_append(m, "{sv}", "domain", "s", opt->domain);
                if (r < 0)
                        return r;
        }
        if (opt->status) {
                r = sd_bus_message_append(m, "{sv}", "status", "s", opt->status);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}

static void migrations_add_row(MigTable *t, JsonObject *o, bool full) {
        const char *id = mig_json_string(o, "id");
        uint64_t created = 0;
        double progress = 0;

        if (id && !full)
                mig_table_add_cellf(t, "%.8s", id);
        else
                mig_table_add_cell(t, id);
        mig_table_add_cell(t, mig_json_string(o, "domain"));
        mig_table_add_cell(t, mig_json_string(o, "kind"));
        mig_table_add_cell(t, mig_json_string(o, "source"));
        mig_table_add_cell(t, mig_json_string(o, "destination"));
        mig_table_add_cell(t, mig_json_string(o, "status"));
        mig_table_add_cell(t, mig_json_string(o, "task-state"));
        if (mig_json_double(o, "progress", &progress))
                mig_table_add_cellf(t, "%d%%", (int) progress);
        else
                mig_table_add_cell(t, NULL);
        g_autofree char *when =
                mig_json_uint(o, "created-usec", &created) ? mig_format_timestamp_short(created) : NULL;
        mig_table_add_cell(t, when);
}

int verb_migrations(MigCtl *ctl, int argc, char **argv) {
        g_autoptr(sd_bus_message) m = NULL;
        g_autoptr(JsonNode) list = NULL;
        int r;

        if (ctl->opt.domain && (r = mig_check_domain(ctl->opt.domain)) < 0)
                return r;
        if (ctl->opt.status && (r = check_status(ctl->opt.status)) < 0)
                return r;

        r = mig_message_new(ctl, NULL, MIG_IFACE_MANAGER, "ListMigrations", &m);
        if (r < 0)
                return r;
        r = append_filter(m, &ctl->opt);
        if (r < 0)
                return log_error_errno(r, "Failed to build ListMigrations call: %m");
        r = mig_call_to_json(ctl, MIG_CALL_READ, m, NULL, &list);
        if (r < 0)
                return r;
        if (!JSON_NODE_HOLDS_ARRAY(list))
                return log_parse_error(-EBADMSG);

        if (ctl->json) {
                mig_json_print(list, true);
                return 0;
        }

        g_autoptr(MigTable) t = mig_table_new("ID", "DOMAIN", "KIND", "SOURCE", "DESTINATION", "STATUS",
                                              "TASK", "PROGRESS", "CREATED", NULL);
        mig_table_set_right_aligned(t, 7, true);
        JsonArray *a = json_node_get_array(list);
        for (guint i = 0; i < json_array_get_length(a); i++) {
                JsonObject *o = mig_json_array_object(a, i);
                if (o)
                        migrations_add_row(t, o, ctl->opt.full);
        }
        mig_table_print(t, ctl->legend, "migration", "migrations");
        return 0;
}

/* ---- show ---- */

static void print_time_field(const char *key, JsonObject *o, const char *member) {
        uint64_t usec = 0;

        if (!mig_json_uint(o, member, &usec) || usec == 0) {
                mig_print_field(key, NULL);
                return;
        }
        g_autofree char *when = mig_format_timestamp(usec);
        g_autofree char *ago = mig_format_relative(usec, mig_now_usec());
        if (ago)
                mig_print_fieldf(key, "%s; %s", when, ago);
        else
                mig_print_field(key, when);
}

static void print_with_detail(const char *key, const char *value, const char *detail) {
        if (detail)
                mig_print_fieldf(key, "%s (%s)", value ? value : "-", detail);
        else
                mig_print_field(key, value);
}

static void print_progress(JsonObject *o) {
        double progress = 0;
        uint64_t done = 0, total = 0;

        if (!mig_json_double(o, "Progress", &progress)) {
                mig_print_field("Progress", NULL);
                return;
        }
        if (mig_json_uint(o, "BytesProcessed", &done) && mig_json_uint(o, "BytesTotal", &total) &&
            total > 0) {
                g_autofree char *d = mig_format_bytes(done), *t = mig_format_bytes(total);
                mig_print_fieldf("Progress", "%.1f%% (%s of %s)", progress, d, t);
        } else
                mig_print_fieldf("Progress", "%.1f%%", progress);
}

/* A table after a blank line (and a title), or the sentence saying it is empty. */
static void print_section(const char *title, MigTable *t, const char *empty, bool legend) {
        printf("\n%s%s", title ? title : "", title ? "\n" : "");
        if (mig_table_rows(t) == 0) {
                printf("%s\n", empty);
                return;
        }
        g_autofree char *text = mig_table_format(t, legend);
        fputs(text, stdout);
}

static void print_events(JsonNode *events, bool legend) {
        g_autoptr(MigTable) t = mig_table_new("TIME", "STATUS", "MESSAGE", NULL);
        JsonArray *a = events && JSON_NODE_HOLDS_ARRAY(events) ? json_node_get_array(events) : NULL;

        for (guint i = 0; a && i < json_array_get_length(a); i++) {
                JsonObject *e = mig_json_array_object(a, i);
                uint64_t usec = 0;
                if (!e)
                        continue;
                g_autofree char *when = mig_json_uint(e, "usec", &usec) ? mig_format_timestamp(usec) : NULL;
                mig_table_add_cell(t, when);
                mig_table_add_cell(t, mig_json_string(e, "status"));
                mig_table_add_cell(t, mig_json_string(e, "message"));
        }
        print_section(NULL, t, "No events.", legend);
}

/* Live migrations: convergence while running, the measured downtime once completed. */
static void print_live_fields(JsonObject *p) {
        const char *kind = mig_json_string(p, "Kind");
        if (!kind || strcmp(kind, "live") != 0)
                return;
        const char *convergence = mig_json_string(p, "Convergence");
        if (convergence && *convergence) {
                g_autofree char *rate = g_format_size(
                        (guint64) json_object_get_int_member_with_default(p, "MemoryDirtyRate", 0));
                g_autofree char *line = g_strdup_printf(
                        "%s, pass %" G_GINT64_FORMAT ", dirtying %s/s, expected downtime %" G_GINT64_FORMAT
                        " ms",
                        convergence, json_object_get_int_member_with_default(p, "Iteration", 0), rate,
                        json_object_get_int_member_with_default(p, "ExpectedDowntimeMSec", 0));
                mig_print_field("Convergence", line);
        }
        int64_t throttle = json_object_get_int_member_with_default(p, "Throttle", 0);
        const char *step = mig_json_string(p, "Step");
        if (throttle || (step && *step))
                mig_print_fieldf("Escalation", "throttle %" G_GINT64_FORMAT " %%, step %s", throttle,
                                 step && *step ? step : "none");
        const char *status = mig_json_string(p, "Status");
        if (status && strcmp(status, "completed") == 0) {
                g_autofree char *downtime =
                        g_strdup_printf("%" G_GINT64_FORMAT " ms",
                                        json_object_get_int_member_with_default(p, "DowntimeMSec", 0));
                mig_print_field("Downtime", downtime);
        }
}

static void print_migration(JsonObject *p, JsonNode *events, bool legend) {
        const char *error_name = mig_json_string(p, "ErrorName");
        const char *error_message = mig_json_string(p, "ErrorMessage");

        mig_print_field("Migration", mig_json_string(p, "Id"));
        print_with_detail("Domain", mig_json_string(p, "DomainName"), mig_json_string(p, "DomainUUID"));
        mig_print_field("Kind", mig_json_string(p, "Kind"));
        mig_print_field("Source", mig_json_string(p, "Source"));
        mig_print_field("Destination", mig_json_string(p, "Destination"));
        print_resize(p);
        print_with_detail("Status", mig_json_string(p, "Status"), mig_json_string(p, "TaskState"));
        print_progress(p);
        print_time_field("Created", p, "CreatedUSec");
        print_time_field("Updated", p, "UpdatedUSec");
        print_time_field("Finished", p, "FinishedUSec");
        print_live_fields(p);
        const char *sv = mig_json_string(p, "SourceView"), *dv = mig_json_string(p, "DestinationView");
        if ((sv && *sv) || (dv && *dv))
                mig_print_fieldf("Views", "source %s, destination %s", sv && *sv ? sv : "?",
                                 dv && *dv ? dv : "?");
        if (error_name || error_message)
                print_with_detail("Error", error_message ? error_message : error_name,
                                  error_message ? error_name : NULL);
        print_events(events, legend);
}

/* The domain's own events (DescribeDomain's "events"): what libvirt's hook, libvirt's
 * lifecycle events and the daemon reported on the node that holds it. */
static void print_domain_events(JsonObject *d, bool legend) {
        g_autoptr(MigTable) t = mig_table_new("TIME", "NODE", "ORIGIN", "EVENT", "MESSAGE", NULL);
        JsonNode *events = d ? json_object_get_member(d, "cluster-events") : NULL;
        if (!events || !JSON_NODE_HOLDS_ARRAY(events))
                events = d ? json_object_get_member(d, "events") : NULL;
        JsonArray *a = events && JSON_NODE_HOLDS_ARRAY(events) ? json_node_get_array(events) : NULL;

        for (guint i = 0; a && i < json_array_get_length(a); i++) {
                JsonObject *e = mig_json_array_object(a, i);
                uint64_t usec = 0;
                if (!e)
                        continue;
                const char *sub = mig_json_string(e, "sub-operation");
                g_autofree char *when =
                        mig_json_uint(e, "time-usec", &usec) ? mig_format_timestamp(usec) : NULL;
                g_autofree char *what = g_strdup_printf("%s%s%s", mig_json_string(e, "operation"),
                                                        sub && strcmp(sub, "-") ? " " : "",
                                                        sub && strcmp(sub, "-") ? sub : "");
                mig_table_add_cell(t, when);
                mig_table_add_cell(t, json_object_has_member(e, "node") ? mig_json_string(e, "node")
                                                                        : mig_json_string(d, "node"));
                mig_table_add_cell(t, mig_json_string(e, "origin"));
                mig_table_add_cell(t, what);
                mig_table_add_cell(t, mig_json_string(e, "message"));
        }
        print_section("Domain events:", t, "No domain events.", legend);
}

/* Adds "cluster-events" to a DescribeDomain object: the domain's events of every node
 * (Manager.ListDomainEvents); left out quietly when that fails. */
static void add_cluster_events(MigCtl *ctl, JsonObject *d) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        g_autoptr(sd_bus_message) reply = NULL;
        g_autoptr(JsonNode) node = NULL;
        const char *uuid = mig_json_string(d, "uuid");
        if (!uuid ||
            mig_call_manager_try(ctl, MIG_CALL_READ, &error, "ListDomainEvents", &reply, "s", uuid) < 0 ||
            mig_json_from_message(reply, NULL, &node) < 0 || !JSON_NODE_HOLDS_ARRAY(node))
                return;
        json_object_set_member(d, "cluster-events", g_steal_pointer(&node));
}

/* DescribeDomain as JSON, quietly: NULL when it fails (the domain may be gone). */
static JsonNode *describe_domain_quiet(MigCtl *ctl, const char *domain) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        g_autoptr(sd_bus_message) reply = NULL;
        g_autoptr(JsonNode) node = NULL;
        int r = mig_call_manager_try(ctl, MIG_CALL_READ, &error, "DescribeDomain", &reply, "s", domain);
        if (r < 0 || mig_json_from_message(reply, NULL, &node) < 0 || !JSON_NODE_HOLDS_OBJECT(node))
                return NULL;
        add_cluster_events(ctl, json_node_get_object(node));
        return g_steal_pointer(&node);
}

static int show_migration(MigCtl *ctl, const char *path, const char *domain) {
        g_autoptr(JsonObject) props = NULL;
        g_autoptr(sd_bus_message) m = NULL;
        g_autoptr(JsonNode) events = NULL;
        int r;

        r = mig_get_all_properties(ctl, path, MIG_IFACE_MIGRATION, &props);
        if (r < 0)
                return r;
        r = mig_message_new(ctl, path, MIG_IFACE_MIGRATION, "GetEvents", &m);
        if (r < 0)
                return r;
        r = mig_call_to_json(ctl, MIG_CALL_READ, m, event_fields, &events);
        if (r < 0)
                return r;

        /* Shown by domain: the domain's own events too. */
        g_autoptr(JsonNode) dom = domain ? describe_domain_quiet(ctl, domain) : NULL;
        JsonObject *d = dom ? json_node_get_object(dom) : NULL;
        if (ctl->json) {
                json_object_set_member(props, "Events", json_node_ref(events));
                const char *key =
                        d && json_object_has_member(d, "cluster-events") ? "cluster-events" : "events";
                if (d && json_object_has_member(d, key))
                        json_object_set_member(props, "DomainEvents", json_object_dup_member(d, key));
                g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), props);
                mig_json_print(node, true);
                return 0;
        }
        print_migration(props, events, ctl->legend);
        if (d)
                print_domain_events(d, ctl->legend);
        return 0;
}

static void print_domain(JsonObject *d) {
        const char *group = mig_json_string(d, "group");
        uint64_t memory = 0;
        int64_t vcpus = 0;

        mig_print_field("Domain", mig_json_string(d, "name"));
        mig_print_field("UUID", mig_json_string(d, "uuid"));
        mig_print_field("Node", mig_json_string(d, "node"));
        print_with_detail("State", mig_json_string(d, "state"), mig_json_string(d, "task-state"));
        g_autofree char *mem = mig_json_uint(d, "memory", &memory) ? mig_format_bytes(memory) : NULL;
        mig_print_field("Memory", mem);
        if (mig_json_int(d, "vcpus", &vcpus))
                mig_print_fieldf("VCPUs", "%" PRIi64, vcpus);
        else
                mig_print_field("VCPUs", NULL);
        print_with_detail("Group", group, group ? mig_json_string(d, "group-policy") : NULL);

        JsonNode *disks = json_object_get_member(d, "disks");
        JsonArray *a = disks && JSON_NODE_HOLDS_ARRAY(disks) ? json_node_get_array(disks) : NULL;
        guint n = a ? json_array_get_length(a) : 0;
        mig_print_field("Disks", n > 0 ? mig_json_array_string(a, 0) : NULL);
        for (guint i = 1; i < n; i++)
                mig_print_field_continued(mig_json_array_string(a, i));
        mig_print_field("Migration", mig_json_string(d, "migration-id"));
        const char *conflict = mig_json_string(d, "conflict");
        if (conflict && *conflict)
                mig_print_field("Conflict", conflict);
}

static int show_domain(MigCtl *ctl, const char *domain) {
        g_autoptr(sd_bus_message) m = NULL;
        g_autoptr(JsonNode) node = NULL;
        int r;

        r = mig_message_new(ctl, NULL, MIG_IFACE_MANAGER, "DescribeDomain", &m);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "s", domain);
        if (r < 0)
                return log_error_errno(r, "Failed to build DescribeDomain call: %m");
        r = mig_call_to_json(ctl, MIG_CALL_READ, m, NULL, &node);
        if (r < 0)
                return r;
        if (!JSON_NODE_HOLDS_OBJECT(node))
                return log_parse_error(-EBADMSG);
        add_cluster_events(ctl, json_node_get_object(node));

        if (ctl->json)
                mig_json_print(node, true);
        else {
                print_domain(json_node_get_object(node));
                print_domain_events(json_node_get_object(node), ctl->legend);
        }
        return 0;
}

int verb_show(MigCtl *ctl, int argc, char **argv) {
        g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
        g_autofree char *path = NULL;
        const char *ref = argv[1];
        int r;

        r = mig_check_migration_ref(ref);
        if (r < 0)
                return r;

        r = mig_resolve_migration(ctl, ref, &error, &path);
        if (r >= 0)
                return show_migration(ctl, path, mig_migration_id_valid(ref) ? NULL : ref);

        /* No migration by that name: maybe a domain that never migrated. */
        if (sd_bus_error_has_name(&error, MIG_ERROR_NOT_FOUND) && !mig_migration_id_valid(ref) &&
            (mig_domain_name_valid(ref) || mig_uuid_valid(ref)))
                return show_domain(ctl, ref);
        return mig_log_call_error(ctl, "GetMigration", &error, r);
}

/* ---- plan ---- */

static void plan_add_row(MigTable *t, JsonObject *o) {
        const char *verdict = mig_json_string(o, "verdict"), *reason = mig_json_string(o, "reason");
        uint64_t free_mem = 0;
        int64_t used = 0, vcpus = 0;
        mig_table_add_cell(t, mig_json_string(o, "node"));
        mig_table_add_cell(t, verdict);
        g_autofree char *mem =
                mig_json_uint(o, "memory-free", &free_mem) ? mig_format_bytes(free_mem) : NULL;
        mig_table_add_cell(t, mem);
        if (mig_json_int(o, "vcpus-used", &used) && mig_json_int(o, "vcpus", &vcpus))
                mig_table_add_cellf(t, "%" PRIi64 "/%" PRIi64, used, vcpus);
        else
                mig_table_add_cell(t, NULL);
        g_autofree char *members = mig_json_strv_join(o, "members", ",");
        mig_table_add_cell(t, members && *members ? members : NULL);
        mig_table_add_cell(t, reason && *reason ? reason : NULL);
}

/* The plan's nodes; exit 6 when none was chosen. */
static int print_plan(MigCtl *ctl, JsonNode *list) {
        JsonArray *a = json_node_get_array(list);
        bool chosen = false;
        g_autoptr(MigTable) t =
                mig_table_new("NODE", "VERDICT", "MEM FREE", "VCPUS", "MEMBERS", "REASON", NULL);
        mig_table_set_right_aligned(t, 2, true);
        for (guint i = 0; i < json_array_get_length(a); i++) {
                JsonObject *o = mig_json_array_object(a, i);
                if (!o)
                        continue;
                chosen = chosen || g_strcmp0(mig_json_string(o, "verdict"), "chosen") == 0;
                plan_add_row(t, o);
        }
        if (ctl->json)
                mig_json_print(list, true);
        else
                mig_table_print(t, ctl->legend, "node", "nodes");
        return chosen ? 0
                      : log_failure(MIG_EXIT_NO_VALID_HOST, "No node can take the domain now (see REASON).");
}

int verb_plan(MigCtl *ctl, int argc, char **argv) {
        g_autoptr(sd_bus_message) m = NULL;
        g_autoptr(JsonNode) list = NULL;
        const char *domain = argv[1];
        int r = mig_check_domain(domain);
        if (r >= 0 && ctl->opt.host)
                r = mig_check_node(ctl->opt.host);
        if (r < 0)
                return r;
        r = mig_message_new(ctl, NULL, MIG_IFACE_MANAGER, "Plan", &m);
        if (r >= 0)
                r = sd_bus_message_append(m, "ssa{sv}", domain, ctl->opt.host ? ctl->opt.host : "", 2,
                                          "live", "b", (int) ctl->opt.live, "block-migration", "b",
                                          (int) ctl->opt.block_migration);
        if (r < 0)
                return log_error_errno(r, "Failed to build the Plan call: %m");
        r = mig_call_to_json(ctl, MIG_CALL_READ, m, NULL, &list);
        if (r < 0)
                return r;
        if (!JSON_NODE_HOLDS_ARRAY(list))
                return log_parse_error(-EBADMSG);
        return print_plan(ctl, list);
}
