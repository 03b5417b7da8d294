/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "audit.h"

#include <stdio.h>
#include <string.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <glib.h>

/* journald's socket: where it is missing, stderr. */
static bool journal_runs(void) {
        static int runs = -1;
        if (runs < 0)
                runs = access("/run/systemd/journal/socket", W_OK) == 0;
        return runs;
}

/* One line "AUDIT key=value ...", values quoted where they hold a blank. */
static void print_fields(const char *const *kv) {
        g_autoptr(GString) s = g_string_new("AUDIT");
        for (size_t i = 0; kv[i]; i += 2) {
                const char *v = kv[i + 1] ? kv[i + 1] : "";
                if (strpbrk(v, " \t\"") || !*v) {
                        g_autofree char *q = g_strescape(v, NULL);
                        g_string_append_printf(s, " %s=\"%s\"", kv[i], q);
                } else
                        g_string_append_printf(s, " %s=%s", kv[i], v);
        }
        fprintf(stderr, "%s\n", s->str);
}

void mig_audit_transition(const MigMigration *mig, const char *node, const char *from, const char *message) {
        g_autofree char *text = g_strdup_printf("Migration %s of %s on %s: %s → %s%s%s", mig->id,
                                                mig->domain_name, node, from && *from ? from : "new",
                                                mig->status, message ? ": " : "", message ? message : "");
        if (journal_runs() &&
            sd_journal_send("MESSAGE_ID=" MIG_AUDIT_TRANSITION, "MESSAGE=%s", text, "PRIORITY=5", "NODE=%s",
                            node, "MIGRATION_ID=%s", mig->id, "DOMAIN_NAME=%s", mig->domain_name,
                            "DOMAIN_UUID=%s", mig->domain_uuid, "KIND=%s", mig->kind, "ROLE=%s", mig->role,
                            "SOURCE=%s", mig->source, "DESTINATION=%s", mig->destination, "STATUS=%s",
                            mig->status, "PREVIOUS_STATUS=%s", from ? from : "", NULL) >= 0)
                return;
        const char *kv[] = {"MESSAGE_ID",
                            MIG_AUDIT_TRANSITION,
                            "NODE",
                            node,
                            "MIGRATION_ID",
                            mig->id,
                            "DOMAIN_UUID",
                            mig->domain_uuid,
                            "DOMAIN_NAME",
                            mig->domain_name,
                            "KIND",
                            mig->kind,
                            "ROLE",
                            mig->role,
                            "SOURCE",
                            mig->source,
                            "DESTINATION",
                            mig->destination,
                            "STATUS",
                            mig->status,
                            "PREVIOUS_STATUS",
                            from,
                            "MESSAGE",
                            text,
                            NULL};
        print_fields(kv);
}

void mig_audit_call(const char *method, const char *action, uid_t uid, pid_t pid, const char *domain,
                    const char *node) {
        g_autofree char *who = g_strdup_printf("%u", (unsigned) uid),
                        *pid_s = g_strdup_printf("%d", (int) pid);
        g_autofree char *text =
                g_strdup_printf("%s authorized for uid %s (pid %s)%s%s%s%s", method, who, pid_s,
                                *domain ? ", domain " : "", domain, *node ? ", node " : "", node);
        if (journal_runs() &&
            sd_journal_send("MESSAGE_ID=" MIG_AUDIT_CALL, "MESSAGE=%s", text, "PRIORITY=5", "METHOD=%s",
                            method, "POLKIT_ACTION=%s", action, "CALLER_UID=%s", who, "CALLER_PID=%s", pid_s,
                            "DOMAIN_NAME=%s", domain, "TARGET_NODE=%s", node, NULL) >= 0)
                return;
        const char *kv[] = {"MESSAGE_ID",
                            MIG_AUDIT_CALL,
                            "METHOD",
                            method,
                            "POLKIT_ACTION",
                            action,
                            "CALLER_UID",
                            who,
                            "CALLER_PID",
                            pid_s,
                            "DOMAIN_NAME",
                            domain,
                            "TARGET_NODE",
                            node,
                            "MESSAGE",
                            text,
                            NULL};
        print_fields(kv);
}
