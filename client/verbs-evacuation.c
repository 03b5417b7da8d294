/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* evacuate, restore, evacuations, evacuation-pause|resume|cancel, and watch NODE. Each call names the
 * node; the daemon asked forwards it to that node's daemon. Following an evacuation polls
 * GetEvacuation (it works from any node); a UI on the node itself can use the Evacuation
 * object's PropertiesChanged instead. */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bus.h"
#include "errors.h"
#include "log.h"
#include "output.h"
#include "resolve.h"
#include "status.h"
#include "verbs.h"

#define POLL_USEC (500 * 1000)

/* ---- printing ---- */

static void items_table(JsonObject *evac, bool legend) {
        g_autoptr(MigTable) t = mig_table_new("DOMAIN", "KIND", "PLANNED", "DESTINATION", "STATUS",
                                              "PROGRESS", "REASON", NULL);
        JsonArray *items =
                json_object_has_member(evac, "items") ? json_object_get_array_member(evac, "items") : NULL;
        for (guint i = 0; items && i < json_array_get_length(items); i++) {
                JsonObject *it = mig_json_array_object(items, i);
                if (!it)
                        continue;
                const char *kind = mig_json_string(it, "kind");
                bool block = false;
                (void) mig_json_bool(it, "block", &block);
                double progress = 0;
                (void) mig_json_double(it, "progress", &progress);
                const char *planned = mig_json_string(it, "planned"),
                           *dest = mig_json_string(it, "destination");
                const char *error = mig_json_string(it, "error");
                mig_table_add_cell(t, mig_json_string(it, "domain"));
                mig_table_add_cellf(t, "%s%s", kind ? kind : "-", block ? "+disks" : "");
                mig_table_add_cell(t, planned && *planned ? planned : "-");
                mig_table_add_cell(t, dest && *dest ? dest : "-");
                mig_table_add_cell(t, mig_json_string(it, "status"));
                mig_table_add_cellf(t, "%.0f%%", progress);
                mig_table_add_cell(t, error && *error ? error : "-");
        }
        mig_table_print(t, legend, "domain", "domains");
}

static void print_evacuation(MigCtl *ctl, JsonNode *node) {
        if (ctl->json) {
                mig_json_print(node, true);
                return;
        }
        JsonObject *o = json_node_get_object(node);
        bool dry_run = false;
        (void) mig_json_bool(o, "dry-run", &dry_run);
        g_autofree char *clean_node = mig_sanitize(mig_json_string(o, "node"));
        g_autofree char *id = mig_sanitize(mig_json_string(o, "id"));
        g_autofree char *status = mig_sanitize(mig_json_string(o, "status"));
        g_autofree char *message = mig_sanitize(mig_json_string(o, "message"));
        bool restore = g_strcmp0(mig_json_string(o, "kind"), "restore") == 0;
        if (dry_run)
                printf("Plan to evacuate %s (a dry run: nothing was changed):\n", clean_node);
        else
                printf("%s %s of %s: %s (%s)\n", restore ? "Restore" : "Evacuation", id, clean_node, status,
                       message);
        items_table(o, ctl->legend);
}

/* ---- following ---- */

static int get_evacuation(MigCtl *ctl, const char *node, sd_bus_error *error, JsonNode **ret) {
        g_autoptr(sd_bus_message) reply = NULL;
        int r = mig_call_manager_try(ctl, MIG_CALL_READ, error, "GetEvacuation", &reply, "s", node);
        if (r < 0)
                return r;
        r = mig_json_from_message(reply, NULL, ret);
        return r < 0 || !JSON_NODE_HOLDS_OBJECT(*ret) ? log_parse_error(r < 0 ? r : -EBADMSG) : 0;
}

/* One line per item whose status, destination or progress (in tens) changed. */
static void print_changes(JsonObject *evac, GHashTable *seen) {
        JsonArray *items =
                json_object_has_member(evac, "items") ? json_object_get_array_member(evac, "items") : NULL;
        for (guint i = 0; items && i < json_array_get_length(items); i++) {
                JsonObject *it = mig_json_array_object(items, i);
                const char *domain = it ? mig_json_string(it, "domain") : NULL;
                if (!domain)
                        continue;
                double progress = 0;
                (void) mig_json_double(it, "progress", &progress);
                const char *dest = mig_json_string(it, "destination"), *error = mig_json_string(it, "error");
                g_autofree char *line = g_strdup_printf(
                        "%-20s %-10s %-12s %3.0f%%%s%s", domain, mig_json_string(it, "status"),
                        dest && *dest ? dest : "-", (double) ((int) progress / 10 * 10),
                        error && *error ? "  " : "", error ? error : "");
                const char *before = g_hash_table_lookup(seen, domain);
                if (g_strcmp0(before, line) == 0)
                        continue;
                g_autofree char *clean = mig_sanitize(line);
                printf("%s\n", clean);
                fflush(stdout);
                g_hash_table_replace(seen, g_strdup(domain), g_steal_pointer(&line));
        }
}

/* 0 when it completed with every domain moved; else the failure's exit status. */
static int evacuation_result(JsonObject *o) {
        const char *status = mig_json_string(o, "status");
        uint64_t failed = 0, total = 0, done = 0;
        (void) mig_json_uint(o, "failed", &failed);
        (void) mig_json_uint(o, "total", &total);
        (void) mig_json_uint(o, "done", &done);
        if (g_strcmp0(status, "completed") == 0 && failed == 0)
                return 0;
        return log_failure(g_strcmp0(status, "cancelled") == 0 ? MIG_EXIT_CONFLICT : MIG_EXIT_FAILURE,
                           "The evacuation of %s ended %s: %" PRIu64 " of %" PRIu64
                           " domain(s) moved, %" PRIu64 " failed.",
                           mig_json_string(o, "node"), status, done, total, failed);
}

int mig_watch_evacuation(MigCtl *ctl, const char *node) {
        g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        g_autofree char *last_status = NULL;
        for (;;) {
                g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
                g_autoptr(JsonNode) node_json = NULL;
                int r = get_evacuation(ctl, node, &error, &node_json);
                if (r < 0)
                        return mig_log_call_error(ctl, "GetEvacuation", &error, r);
                JsonObject *o = json_node_get_object(node_json);
                const char *status = mig_json_string(o, "status");
                if (!ctl->json && g_strcmp0(status, last_status) != 0) {
                        g_autofree char *clean = mig_sanitize(mig_json_string(o, "message"));
                        printf("[%s] %s\n", status ? status : "?", clean ? clean : "");
                        g_free(last_status);
                        last_status = g_strdup(status);
                }
                if (!ctl->json)
                        print_changes(o, seen);
                if (mig_evacuation_status_is_final(status) || !mig_evacuation_status_is_known(status)) {
                        if (ctl->json)
                                mig_json_print(node_json, true);
                        return evacuation_result(o);
                }
                g_usleep(POLL_USEC);
        }
}

/* ---- verbs ---- */

/* Sends Evacuate or Restore (m), prints the plan it answers and, with follow, follows it. */
static int start_and_follow(MigCtl *ctl, MigCallFlags flags, sd_bus_message *m, const char *node,
                            bool follow) {
        g_autoptr(JsonNode) reply = NULL;
        int r = mig_call_to_json(ctl, flags, m, NULL, &reply);
        if (r < 0)
                return r;
        if (!JSON_NODE_HOLDS_OBJECT(reply))
                return log_parse_error(-EBADMSG);
        if (!ctl->json || !follow)
                print_evacuation(ctl, reply);
        return follow ? mig_watch_evacuation(ctl, node) : 0;
}

int verb_evacuate(MigCtl *ctl, int argc, char **argv) {
        const char *node = argv[1];
        g_autoptr(sd_bus_message) m = NULL;
        int r = mig_check_node(node);
        if (r < 0)
                return r;
        if (ctl->opt.bandwidth && !ctl->opt.live)
                return log_invalid_argument("--bandwidth applies to live evacuations (--live) only.");
        r = mig_message_new(ctl, NULL, MIG_IFACE_MANAGER, "Evacuate", &m);
        if (r >= 0)
                r = sd_bus_message_append(m, "s", node);
        if (r >= 0)
                r = sd_bus_message_append(m, "a{sv}", 4, "live", "b", (int) ctl->opt.live, "dry-run", "b",
                                          (int) ctl->opt.dry_run, "max-parallel", "u",
                                          (uint32_t) ctl->opt.max_parallel, "bandwidth", "t",
                                          ctl->opt.bandwidth);
        if (r >= 0)
                r = sd_bus_message_append(m, "b", (int) ctl->ask_password);
        if (r < 0)
                return log_error_errno(r, "Failed to build Evacuate call: %m");
        return start_and_follow(ctl, ctl->opt.dry_run ? MIG_CALL_READ : MIG_CALL_AUTH, m, node,
                                ctl->opt.wait && !ctl->opt.dry_run);
}

int verb_restore(MigCtl *ctl, int argc, char **argv) {
        const char *node = argv[1];
        g_autoptr(sd_bus_message) m = NULL;
        int r = mig_check_node(node);
        if (r < 0)
                return r;
        r = mig_message_new(ctl, NULL, MIG_IFACE_MANAGER, "Restore", &m);
        if (r >= 0)
                r = sd_bus_message_append(m, "sa{sv}b", node, 0, (int) ctl->ask_password);
        if (r < 0)
                return log_error_errno(r, "Failed to build Restore call: %m");
        return start_and_follow(ctl, MIG_CALL_AUTH, m, node, ctl->opt.wait);
}

int verb_evacuations(MigCtl *ctl, int argc, char **argv) {
        g_autoptr(JsonNode) list = NULL;
        int r = mig_call_list(ctl, "ListEvacuations", &list);
        if (r < 0)
                return r;
        if (ctl->json) {
                mig_json_print(list, true);
                return 0;
        }
        g_autoptr(MigTable) t = mig_table_new("NODE", "ID", "KIND", "STATUS", "LIVE", "MOVED", "FAILED",
                                              "UPDATED", "MESSAGE", NULL);
        JsonArray *a = json_node_get_array(list);
        for (guint i = 0; i < json_array_get_length(a); i++) {
                JsonObject *o = mig_json_array_object(a, i);
                if (!o)
                        continue;
                bool live = false;
                uint64_t done = 0, total = 0, failed = 0, updated = 0;
                (void) mig_json_bool(o, "live", &live);
                (void) mig_json_uint(o, "done", &done);
                (void) mig_json_uint(o, "total", &total);
                (void) mig_json_uint(o, "failed", &failed);
                (void) mig_json_uint(o, "updated-usec", &updated);
                g_autofree char *when = mig_format_timestamp_short(updated);
                const char *id = mig_json_string(o, "id");
                mig_table_add_cell(t, mig_json_string(o, "node"));
                mig_table_add_cellf(t, "%.8s", id ? id : "-");
                mig_table_add_cell(t, mig_json_string(o, "kind"));
                mig_table_add_cell(t, mig_json_string(o, "status"));
                mig_table_add_cell(t, live ? "yes" : "no");
                mig_table_add_cellf(t, "%" PRIu64 "/%" PRIu64, done, total);
                mig_table_add_cellf(t, "%" PRIu64, failed);
                mig_table_add_cell(t, when);
                mig_table_add_cell(t, mig_json_string(o, "message"));
        }
        mig_table_print(t, ctl->legend, "evacuation", "evacuations");
        return 0;
}

int verb_evacuation_control(MigCtl *ctl, int argc, char **argv) {
        const char *node = argv[1];
        const char *action = strchr(argv[0], '-') + 1; /* evacuation-pause → pause */
        int r = mig_check_node(node);
        if (r < 0)
                return r;
        r = mig_call_manager(ctl, MIG_CALL_AUTH, "ControlEvacuation", NULL, "ssb", node, action,
                             (int) ctl->ask_password);
        if (r >= 0 && ctl->legend && !ctl->json)
                printf("Evacuation of %s: %s asked.\n", node, action);
        return r;
}
