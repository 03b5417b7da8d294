/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* hosts, host-disable, host-enable, domains, groups, group-set, group-clear. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "bus.h"
#include "log.h"
#include "output.h"
#include "resolve.h"
#include "validate.h"
#include "verbs.h"

/* Prints a list verb's reply: the JSON array as it came, or a table built row by row. */
typedef void (*AddRow)(MigTable *t, JsonObject *o);

static int print_list(MigCtl *ctl, JsonNode *list, MigTable *t, AddRow add_row, const char *singular,
                      const char *plural) {
        if (ctl->json) {
                mig_json_print(list, true);
                return 0;
        }

        JsonArray *a = json_node_get_array(list);
        for (guint i = 0; i < json_array_get_length(a); i++) {
                JsonObject *o = mig_json_array_object(a, i);
                if (o)
                        add_row(t, o);
        }
        mig_table_print(t, ctl->legend, singular, plural);
        return 0;
}

static void add_bytes_cell(MigTable *t, JsonObject *o, const char *key) {
        uint64_t v = 0;
        g_autofree char *text = mig_json_uint(o, key, &v) ? mig_format_bytes(v) : NULL;
        mig_table_add_cell(t, text);
}

static void add_int_cell(MigTable *t, JsonObject *o, const char *key) {
        int64_t v = 0;
        if (mig_json_int(o, key, &v))
                mig_table_add_cellf(t, "%" PRIi64, v);
        else
                mig_table_add_cell(t, NULL);
}

/* ---- hosts ---- */

static void hosts_add_row(MigTable *t, JsonObject *o) {
        bool reachable = true, enabled = true, has_enabled;
        uint64_t free_mem = 0, total_mem = 0;
        int64_t used = 0, vcpus = 0;
        const char *state, *reason;

        (void) mig_json_bool(o, "reachable", &reachable);
        has_enabled = mig_json_bool(o, "enabled", &enabled);
        state = !reachable ? "unreachable" : !has_enabled ? NULL : enabled ? "enabled" : "disabled";
        reason = mig_json_string(o, "disabled-reason");
        if (!reason && !reachable)
                reason = mig_json_string(o, "error");

        mig_table_add_cell(t, mig_json_string(o, "node"));
        mig_table_add_cell(t, state);
        mig_table_add_cell(t, reason);
        if (mig_json_uint(o, "memory-free", &free_mem) && mig_json_uint(o, "memory-total", &total_mem)) {
                g_autofree char *f = mig_format_bytes(free_mem), *tot = mig_format_bytes(total_mem);
                mig_table_add_cellf(t, "%s/%s", f, tot);
        } else
                mig_table_add_cell(t, NULL);
        if (mig_json_int(o, "vcpus-used", &used) && mig_json_int(o, "vcpus", &vcpus))
                mig_table_add_cellf(t, "%" PRIi64 "/%" PRIi64, used, vcpus);
        else
                mig_table_add_cell(t, NULL);
        add_bytes_cell(t, o, "disk-free");
        add_int_cell(t, o, "domains-running");
}

int verb_hosts(MigCtl *ctl, int argc, char **argv) {
        g_autoptr(JsonNode) list = NULL;
        int r;

        r = mig_call_list(ctl, "ListHosts", &list);
        if (r < 0)
                return r;

        g_autoptr(MigTable) t = mig_table_new("NODE", "STATE", "REASON", "MEM FREE/TOTAL", "VCPUS",
                                              "DISK FREE", "DOMAINS", NULL);
        for (size_t c = 3; c <= 6; c++)
                mig_table_set_right_aligned(t, c, true);
        return print_list(ctl, list, t, hosts_add_row, "host", "hosts");
}

/* ---- host-disable, host-enable ---- */

int verb_host_disable(MigCtl *ctl, int argc, char **argv) {
        const char *node = argv[1], *reason = ctl->opt.reason;
        int r;

        if (!reason)
                return log_usage_error("host-disable needs a reason: %s host-disable %s --reason=TEXT",
                                       MIG_PROGRAM, node);
        r = mig_check_node(node);
        if (r < 0)
                return r;
        if (!mig_reason_valid(reason))
                return log_invalid_argument("Invalid reason: expected 1 to %d printable characters.",
                                            MIG_REASON_MAX);

        return mig_call_manager(ctl, MIG_CALL_AUTH, "DisableHost", NULL, "ssb", node, reason,
                                (int) ctl->ask_password);
}

int verb_host_enable(MigCtl *ctl, int argc, char **argv) {
        const char *node = argv[1];
        int r;

        r = mig_check_node(node);
        if (r < 0)
                return r;
        return mig_call_manager(ctl, MIG_CALL_AUTH, "EnableHost", NULL, "sb", node, (int) ctl->ask_password);
}

/* ---- domains ---- */

static void domains_add_row(MigTable *t, JsonObject *o) {
        mig_table_add_cell(t, mig_json_string(o, "name"));
        mig_table_add_cell(t, mig_json_string(o, "node"));
        mig_table_add_cell(t, mig_json_string(o, "state"));
        mig_table_add_cell(t, mig_json_string(o, "task-state"));
        add_bytes_cell(t, o, "memory");
        add_int_cell(t, o, "vcpus");
        mig_table_add_cell(t, mig_json_string(o, "group"));
}

int verb_domains(MigCtl *ctl, int argc, char **argv) {
        g_autoptr(JsonNode) list = NULL;
        int r;

        r = mig_call_list(ctl, "ListDomains", &list);
        if (r < 0)
                return r;

        g_autoptr(MigTable) t =
                mig_table_new("NAME", "NODE", "STATE", "TASK", "MEMORY", "VCPUS", "GROUP", NULL);
        mig_table_set_right_aligned(t, 4, true);
        mig_table_set_right_aligned(t, 5, true);
        return print_list(ctl, list, t, domains_add_row, "domain", "domains");
}

/* ---- groups ---- */

/* "vm1@nodea, vm2@nodeb": each member with its node */
static char *members_at_nodes(JsonObject *o) {
        JsonArray *names =
                json_object_has_member(o, "members") ? json_object_get_array_member(o, "members") : NULL;
        JsonArray *nodes =
                json_object_has_member(o, "nodes") ? json_object_get_array_member(o, "nodes") : NULL;
        GString *s = g_string_new("");
        for (guint i = 0; names && i < json_array_get_length(names); i++) {
                const char *node = nodes ? mig_json_array_string(nodes, i) : NULL;
                g_autofree char *name = mig_sanitize(mig_json_array_string(names, i));
                g_autofree char *at = mig_sanitize(node);
                g_string_append_printf(s, "%s%s%s%s", i ? ", " : "", name ? name : "?", at ? "@" : "",
                                       at ? at : "");
        }
        return g_string_free(s, FALSE);
}

static void groups_add_row(MigTable *t, JsonObject *o) {
        g_autofree char *members = members_at_nodes(o);
        bool broken = false;
        (void) mig_json_bool(o, "broken", &broken);

        mig_table_add_cell(t, mig_json_string(o, "name"));
        mig_table_add_cell(t, mig_json_string(o, "policy"));
        mig_table_add_cell(t, members);
        mig_table_add_cell(t, broken ? mig_json_string(o, "broken-reason") : "ok");
}

int verb_groups(MigCtl *ctl, int argc, char **argv) {
        g_autoptr(JsonNode) list = NULL;
        int r;

        r = mig_call_list(ctl, "ListGroups", &list);
        if (r < 0)
                return r;

        g_autoptr(MigTable) t = mig_table_new("GROUP", "POLICY", "MEMBERS", "STATE", NULL);
        return print_list(ctl, list, t, groups_add_row, "group", "groups");
}

/* ---- group-set, group-clear ---- */

int verb_group_set(MigCtl *ctl, int argc, char **argv) {
        const char *domain = argv[1], *name = argv[2], *policy = argv[3];
        int r;

        r = mig_check_domain(domain);
        if (r < 0)
                return r;
        if (!mig_group_name_valid(name))
                return log_invalid_argument(
                        "Invalid group name '%s': expected at most %d letters, digits, '.', "
                        "'-' and '_', starting with a letter or digit.",
                        name, MIG_GROUP_NAME_MAX);
        if (!mig_group_policy_valid(policy))
                return log_invalid_argument("Invalid group policy '%s': expected affinity, anti-affinity, "
                                            "soft-affinity or soft-anti-affinity.",
                                            policy);

        return mig_call_manager(ctl, MIG_CALL_AUTH, "SetGroup", NULL, "sssb", domain, name, policy,
                                (int) ctl->ask_password);
}

int verb_group_clear(MigCtl *ctl, int argc, char **argv) {
        const char *domain = argv[1];
        int r;

        r = mig_check_domain(domain);
        if (r < 0)
                return r;
        return mig_call_manager(ctl, MIG_CALL_AUTH, "ClearGroup", NULL, "sb", domain,
                                (int) ctl->ask_password);
}
